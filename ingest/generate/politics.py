"""Politics events (docs/requirements/politics.md): the 9 types with camelCase fields, ``type`` upper case and ``metaVersion`` 1.

Play model: a session is a sequence of actions; BILL_VOTE, POLL_INTERVAL and LOBBY_ATTEMPT come in bursts
(docs/requirements/politics.md#high-volume high-volume types), the other types as single events. Values are heavy-tailed (lobby spend is
Pareto, seat weights and boosts log-normal). Companies share state across their players: each company runs one
poll a week whose margin random-walks with every snapshot, and has a momentum that MOMENTUM_SHIFT events move,
usually right after a polling burst (so most shifts are backed by a margin change, docs/requirements/politics.md#anti-abuse). About 2 % of
players are lobby abusers whose bursts exceed the per-user rate (docs/requirements/politics.md#anti-abuse). 80 % of events carry an
``eventId``; the rest rely on the derived id.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from ..config import SEEDS_DIR
from .base import Emitted, FamilyGenerator
from .players import Player, Population, US_PER_DAY, day_start_us, iso_ms, poisson, session_starts

FAMILY = "politics"
ACTIONS: tuple[tuple[str, float], ...] = (
    ("BILL_VOTE", 0.28), ("POLL_INTERVAL", 0.24), ("LOBBY_ATTEMPT", 0.20), ("DEBATE_RESULT", 0.07),
    ("MOMENTUM_SHIFT", 0.06), ("ENDORSEMENT", 0.05), ("SYSTEM_BALANCE_APPLIED", 0.04), ("POLICY_ENACTED", 0.03),
    ("CAMPAIGN_PHASE_CHANGE", 0.03),
)
PHASES = ("ANNOUNCEMENT", "PRIMARY", "GENERAL", "RUNOFF", "ELECTION_DAY", "TRANSITION")
EFFECTS = ("TAX", "SUBSIDY", "REGULATION", "TARIFF", "WELFARE", "DEFENSE", "INFRASTRUCTURE")
STATES = ("OH", "PA", "MI", "WI", "AZ", "GA", "NV", "NC", "FL", "TX")
MS = 1000
SECOND = 1_000_000


def load_bills(seeds_dir: Path = SEEDS_DIR) -> list[str]:
    """Bill ids of the dbt seed ``politics_bills`` (the reference table BILL_VOTE.billId is checked against)."""
    with open(seeds_dir / "politics_bills.csv", newline="", encoding="utf-8") as handle:
        return [row["bill_id"] for row in csv.DictReader(handle)]


class Generator(FamilyGenerator):
    """Politics family generator (see module docstring)."""

    name = FAMILY
    extra_faults = {"seat_weight_not_positive": "schema_violation", "unknown_bill": "unknown_reference"}

    def __init__(self, population: Population, seed: int):
        super().__init__(population, seed)
        self.bills = load_bills()
        self.margin: dict[str, float] = {}
        self.momentum: dict[int, float] = {}
        self._names = [f"u-{p.index:06d}" for p in population]

    def player_id(self, player: Player) -> str:
        return self._names[player.index]

    # --- one event --------------------------------------------------------------------------------------------
    def _envelope(self, wire: str, player: Player, at_us: int, rng: random.Random) -> dict[str, Any]:
        event: dict[str, Any] = {"type": wire, "metaVersion": 1}
        if rng.random() < 0.8:
            event["eventId"] = f"pe-{self.seed}-{player.index}-{at_us // MS}"
        event["createdAt"] = iso_ms(at_us)
        event["userId"] = self._names[player.index]
        if player.company is not None:
            event["companyId"] = f"co-{player.company}"
        return event

    def _poll_id(self, player: Player, at_us: int) -> str:
        week = at_us // (7 * US_PER_DAY)
        owner = f"{player.company}" if player.company is not None else f"ind{player.index % 7}"
        return f"poll-{owner}-{week}"

    def event(self, wire: str, player: Player, at_us: int, rng: random.Random) -> dict[str, Any]:
        """One valid event of wire type ``wire`` by ``player`` at ``at_us`` (moves company state)."""
        event = self._envelope(wire, player, at_us, rng)
        if wire == "BILL_VOTE":
            event["billId"] = rng.choice(self.bills)
            event["stance"] = rng.choices(("YEA", "NAY", "ABSTAIN"), weights=(5, 4, 1))[0]
            event["seatWeight"] = round(max(0.001, rng.lognormvariate(0.0, 0.6)), 3)
            if rng.random() < 0.8:
                event["lobbyPaymentsCount"] = poisson(rng, 0.4)
        elif wire == "POLL_INTERVAL":
            poll = self._poll_id(player, at_us)
            state = self.margin.get(poll, rng.gauss(0.0, 6.0))
            state = max(-60.0, min(60.0, state + rng.gauss(0.0, 0.8)))
            self.margin[poll] = state
            owner = player.company if player.company is not None else player.index
            event["pollId"] = poll
            event["leadingCandidate"] = f"cand-{(owner * 2 + (0 if state >= 0 else 1)) % 97}"
            event["margin"] = round(abs(state), 2)
            event["moe"] = round(rng.uniform(1.5, 4.0), 1)
        elif wire == "LOBBY_ATTEMPT":
            tier = rng.choices((1, 2, 3, 4, 5), weights=(3, 4, 4, 2, 1))[0]
            spend = round(min(1e7, 500.0 * rng.paretovariate(1.3)), 2)
            base = 0.85 - 0.13 * tier
            spend_mod = min(0.3, 0.06 * math.log10(1.0 + spend / 500.0))
            reputation = rng.gauss(0.0, 0.05)
            final = max(0.01, min(0.99, base + spend_mod + reputation))
            event["difficultyTier"] = tier
            event["success"] = rng.random() < final
            event["spend"] = spend
            if rng.random() < 0.9:
                event["breakdown"] = {"baseProbability": round(base, 4), "spendModifier": round(spend_mod, 4),
                                      "reputationModifier": round(reputation, 4), "finalProbability": round(final, 4)}
        elif wire == "DEBATE_RESULT":
            event["debateId"] = f"deb-{at_us // US_PER_DAY}-{rng.randrange(500)}"
            event["persuasionScore"] = round(100.0 * rng.betavariate(2.0 + min(player.intensity, 4.0), 2.5), 1)
            if rng.random() < 0.7:
                event["participantIds"] = [self._names[rng.randrange(len(self._names))] for _ in range(rng.randint(2, 4))]
        elif wire == "MOMENTUM_SHIFT":
            company = player.company if player.company is not None else -1
            before = self.momentum.get(company, round(rng.uniform(-20.0, 20.0), 2))
            after = round(max(-100.0, min(100.0, before + rng.gauss(0.0, 4.0))), 2)
            self.momentum[company] = after
            if rng.random() < 0.6:
                event["stateCode"] = rng.choice(STATES)
            event["momentumFrom"] = before
            event["momentumTo"] = after
        elif wire == "ENDORSEMENT":
            companies = self.population.companies
            source = player.company if player.company is not None else rng.randrange(companies)
            target = (source + 1 + rng.randrange(max(1, companies - 1))) % max(2, companies)
            event["fromCompanyId"] = f"co-{source}"
            event["toCompanyId"] = f"co-{target}"
            event["boost"] = round(rng.lognormvariate(1.0, 0.7), 2)
            if rng.random() < 0.7:
                event["credibilityImpact"] = round(rng.gauss(0.0, 1.0), 2)
        elif wire == "SYSTEM_BALANCE_APPLIED":
            event["pollId"] = self._poll_id(player, at_us)
            event["underdogBuff"] = round(rng.expovariate(2.0), 3)
            event["frontrunnerPenalty"] = round(rng.expovariate(3.0), 3)
            event["capCompressed"] = rng.random() < 0.1
        elif wire == "POLICY_ENACTED":
            event["policyId"] = f"pol-{rng.randrange(60)}"
            event["effectTypes"] = rng.sample(EFFECTS, rng.randint(1, 3))
            event["scope"] = rng.choice(("LOCAL", "STATE", "NATIONAL"))
        elif wire == "CAMPAIGN_PHASE_CHANGE":
            step = rng.randrange(len(PHASES) - 1)
            event["campaignId"] = f"camp-{player.company if player.company is not None else 'ind'}-{player.index % 5}"
            event["phaseFrom"] = PHASES[step]
            event["phaseTo"] = PHASES[step + 1]
        else:  # pragma: no cover - ACTIONS lists every type
            raise ValueError(wire)
        return event

    # --- a day ------------------------------------------------------------------------------------------------
    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted]:
        day_us = day_start_us(day)
        end_us = day_us + US_PER_DAY
        names = [name for name, _ in ACTIONS]
        cumulative = list(itertools.accumulate(weight for _, weight in ACTIONS))
        for player in self.population.active(FAMILY, day_index, day.weekday(), rng):
            uid = self._names[player.index]
            t = day_us
            for start in session_starts(rng, player, day_us):
                t = max(t + SECOND, start)
                for _ in range(1 + poisson(rng, 3.0 * min(player.intensity, 5.0))):
                    wire = rng.choices(names, cum_weights=cumulative)[0]
                    if wire == "MOMENTUM_SHIFT" and player.company is None:
                        wire = "DEBATE_RESULT"  # independents have no company momentum
                    if wire == "MOMENTUM_SHIFT" and rng.random() < 0.85:
                        # a legitimate shift follows fresh polling (docs/requirements/politics.md#anti-abuse); the rest are unbacked
                        for _ in range(2 + poisson(rng, 1.0)):
                            if t >= end_us:
                                break
                            yield Emitted(self.event("POLL_INTERVAL", player, t, rng), uid, "politics_poll_interval", t)
                            t += rng.randint(5, 30) * SECOND + rng.randrange(1, 1000) * MS
                    if wire == "BILL_VOTE":
                        count, gap = 2 + poisson(rng, 2.5), (1, 8)
                    elif wire == "POLL_INTERVAL":
                        count, gap = 2 + poisson(rng, 1.5), (5, 30)
                    elif wire == "LOBBY_ATTEMPT" and player.is_abuser and rng.random() < 0.4:
                        count, gap = rng.randint(7, 14), (1, 6)
                    elif wire == "LOBBY_ATTEMPT":
                        count, gap = rng.randint(1, 4), (15, 40)
                    else:
                        count, gap = 1, (1, 1)
                    for _ in range(count):
                        if t >= end_us:
                            break
                        yield Emitted(self.event(wire, player, t, rng), uid, f"politics_{wire.lower()}", t)
                        t += rng.randint(*gap) * SECOND + rng.randrange(1, 1000) * MS
                    t += int(rng.expovariate(1 / 90.0) * SECOND) + MS
                    if t >= end_us:
                        break

    # --- fault hooks ------------------------------------------------------------------------------------------
    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        event = self._envelope("BILL_VOTE", player, at_us, rng)
        event.pop("eventId", None)
        event.update({"billId": rng.choice(self.bills), "stance": "YEA",
                      "seatWeight": round(max(0.001, rng.lognormvariate(0.0, 0.6)), 3)})
        return event

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        return {**event, "createdAt": iso_ms(at_us)}

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "metaVersion": 2}

    def with_unknown_type(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "type": "CAMPAIGN_DONATION"}

    def extra_fault(self, kind: str, rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
        if kind == "seat_weight_not_positive":
            return {**event, "seatWeight": rng.choice((0, -1.5))}
        if kind == "unknown_bill":
            return {**event, "billId": "HB-9999"}
        raise KeyError(kind)
