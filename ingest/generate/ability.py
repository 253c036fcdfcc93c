"""Ability-metric summaries (docs/requirements/ability.md#wire-format): ``{v, ts, shard, player, entry, metrics{}, meta{}}`` lines.

Play model: each player has a loadout of 4–6 entries from :data:`ENTRIES` (the six namespaces of docs/requirements/ability.md#namespaces)
and, per session, emits a summary every few seconds to minutes for one of them. Per-cast damage is log-normal
around the tier baseline of seed ``ability_tier_baselines`` times the entry's factor; healing efficiency,
diminishing returns, silence durations and resource efficiency are drawn around per-entry targets. A few
entries are tuned to trip the docs/requirements/ability.md#alerts alerts (``ability.cleave`` hits hard, ``contract.soul_tithe``
overheals, ``ability.hex_lock`` stacks silences, ``event.eclipse_field`` is mostly shortened by DR,
``contract.frenzy_bargain`` overflows resources).

Sampling (docs/requirements/ability.md#sampling): reflect_count, pull_events and clone_count are thinned at the source (binomially) at
the registry's default rate, except on shard ``world-2`` whose config lowers reflect_count to 0.25; the rate
that applied is written to ``meta.sample_rates`` whenever it differs from the default, and on half of the other
lines too.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from ..config import SEEDS_DIR
from .base import Emitted, FamilyGenerator
from .players import Player, Population, day_start_us, poisson, session_starts

FAMILY = "ability"
SHARD_RATES = {"world-2": {"reflect_count": 0.25}}
"""Per-shard source sampling config that differs from the registry defaults."""


@dataclass(frozen=True)
class Entry:
    """One ability-like entry and its tuning targets.

    Attributes:
        entry: ``namespace.entryId``.
        tier: base power tier (a quarter of players run it one tier higher).
        kinds: behaviours that decide which metrics it reports.
        tags: ``meta.tags``.
        damage_factor: mean damage per cast ÷ tier baseline (0 = no damage).
        heal_efficiency: mean healing ÷ (healing + overheal) for sustain entries.
        full_share: share of CC instances not shortened by diminishing returns.
        silence_seconds: mean silence duration.
        resource_efficiency: mean resource spent ÷ generated.
    """

    entry: str
    tier: int
    kinds: frozenset[str]
    tags: tuple[str, ...] = ()
    damage_factor: float = 0.0
    heal_efficiency: float = 0.7
    full_share: float = 0.62
    silence_seconds: float = 1.8
    resource_efficiency: float = 0.85


def _entry(entry: str, tier: int, kinds: str, tags: tuple[str, ...] = (), **tuning: float) -> Entry:
    return Entry(entry, tier, frozenset(kinds.split()), tags, **tuning)


ENTRIES: tuple[Entry, ...] = (
    _entry("ability.fireball", 2, "damage", ("burst",), damage_factor=0.95),
    _entry("ability.cleave", 2, "damage", ("melee",), damage_factor=1.45),
    _entry("ability.frost_nova", 2, "damage cc", ("control",), damage_factor=0.4),
    _entry("ability.silence_bolt", 3, "damage cc silence", ("control",), damage_factor=0.5),
    _entry("ability.hex_lock", 3, "cc silence", ("control",), silence_seconds=2.7),
    _entry("ability.whirl", 2, "damage pull", ("melee",), damage_factor=0.8),
    _entry("ability.mirror_shield", 1, "reflect", ("defense",)),
    _entry("ability.shadow_clone", 3, "clone damage", ("trickery",), damage_factor=0.6),
    _entry("ability.meteor_storm", 4, "meteor damage", ("burst",), damage_factor=1.0),
    _entry("ability.blink_dash", 1, "mobility", ("mobility",)),
    _entry("contract.blood_pact", 1, "sustain leech", ("sustain_leech",), heal_efficiency=0.72),
    _entry("contract.soul_tithe", 3, "sustain", ("sustain_drain",), heal_efficiency=0.36),
    _entry("contract.ember_oath", 2, "resource damage", ("economy",), damage_factor=0.7, resource_efficiency=0.85),
    _entry("contract.frenzy_bargain", 3, "resource", ("economy",), resource_efficiency=0.45),
    _entry("event.solstice_aura", 2, "aura", ("aura",)),
    _entry("event.eclipse_field", 4, "aura cc", ("aura", "control"), full_share=0.25),
    _entry("mythic.executioner_edge", 5, "damage execute", ("lethality",), damage_factor=1.0),
    _entry("mythic.phoenix_rebirth", 5, "revive sustain", ("sustain_revive",), heal_efficiency=0.65),
    _entry("mythic.starfall", 5, "meteor damage", ("burst",), damage_factor=1.1),
    _entry("resonance.harmonic_field", 3, "aura sustain", ("sustain_resonance",), heal_efficiency=0.6),
    _entry("resonance.echo_chamber", 3, "reflect cc silence", ("control",), silence_seconds=1.6),
    _entry("system.summon_wolves", 2, "summon damage", ("summon",), damage_factor=0.5),
    _entry("system.respawn_ward", 1, "sustain", ("sustain_ward",), heal_efficiency=0.8),
    _entry("system.icd_proc", 1, "icd damage", ("proc",), damage_factor=0.3),
)


def load_registry(seeds_dir: Path = SEEDS_DIR) -> dict[str, float]:
    """Metric key → default sample rate, from the dbt seed ``ability_metric_registry``
    (docs/requirements/ability.md#metric-keys, docs/requirements/ability.md#sampling)."""
    with open(seeds_dir / "ability_metric_registry.csv", newline="", encoding="utf-8") as handle:
        return {row["metric_key"]: float(row["default_sample_rate"]) for row in csv.DictReader(handle)}


def load_baselines(seeds_dir: Path = SEEDS_DIR) -> dict[int, float]:
    """Tier → dmg_per_cast baseline, from the dbt seed ``ability_tier_baselines`` (docs/requirements/ability.md#alerts)."""
    with open(seeds_dir / "ability_tier_baselines.csv", newline="", encoding="utf-8") as handle:
        return {int(row["tier"]): float(row["baseline_value"]) for row in csv.DictReader(handle)
                if row["kpi"] == "dmg_per_cast"}


def _thin(rng: random.Random, count: int, rate: float) -> int:
    """Binomial(count, rate): events kept by source sampling."""
    return count if rate >= 1.0 else sum(1 for _ in range(count) if rng.random() < rate)


class Generator(FamilyGenerator):
    """Ability-metrics family generator (see module docstring)."""

    name = FAMILY
    has_wire_type = False  # one constant type: there is no wire type to get wrong
    extra_faults = {"unknown_metric_key": "schema_violation", "unknown_namespace": "schema_violation"}

    def __init__(self, population: Population, seed: int):
        super().__init__(population, seed)
        self.defaults = load_registry()
        self.baselines = load_baselines()
        self._ids = ["h:" + hashlib.blake2b(f"{seed}:{p.index}".encode(), digest_size=8).hexdigest()
                     for p in population]
        rng = random.Random(seed * 7919 + 11)
        self.loadouts = [tuple(rng.sample(range(len(ENTRIES)), rng.randint(4, 6))) for _ in population]

    def player_id(self, player: Player) -> str:
        return self._ids[player.index]

    def _tier(self, player: Player, index: int) -> int:
        entry = ENTRIES[index]
        return min(5, entry.tier + 1) if (player.index + index) % 4 == 0 else entry.tier

    def summary(self, rng: random.Random, player: Player, index: int, ts: int, window: float) -> dict[str, Any]:
        """One valid summary line of entry ``ENTRIES[index]`` at epoch second ``ts``."""
        entry = ENTRIES[index]
        tier = self._tier(player, index)
        kinds = entry.kinds
        casts = 1 if "aura" in kinds else 1 + poisson(rng, 1.5)
        metrics: dict[str, Any] = {"casts": casts}
        rates: dict[str, float] = {}
        shard_rates = SHARD_RATES.get(player.shard, {})

        def sampled(key: str, true_count: int) -> None:
            rate = shard_rates.get(key, self.defaults[key])
            metrics[key] = _thin(rng, true_count, rate)
            if rate != self.defaults[key] or rng.random() < 0.5:
                rates[key] = rate

        if "damage" in kinds:
            sigma = 0.35
            mean = self.baselines[tier] * entry.damage_factor
            total = sum(mean * rng.lognormvariate(-sigma * sigma / 2, sigma) for _ in range(casts))
            metrics["damage_total"] = round(total, 1)
            if "execute" in kinds or rng.random() < 0.3:
                metrics["damage_true_total"] = round(total * rng.uniform(0.05, 0.2), 1)
        if "sustain" in kinds:
            raw = self.baselines[tier] * 0.8 * casts * rng.lognormvariate(0.0, 0.4)
            efficiency = max(0.02, min(0.99, rng.gauss(entry.heal_efficiency, 0.08)))
            metrics["healing_total"] = round(raw * efficiency, 1)
            metrics["overheal_total"] = round(raw * (1 - efficiency), 1)
            if "leech" in kinds:
                metrics["lifesteal_heal"] = round(raw * efficiency * rng.uniform(0.3, 0.6), 1)
        if "cc" in kinds or "silence" in kinds:
            applied = 1 + poisson(rng, 1.2 * casts)
            durations = [max(0.1, rng.lognormvariate(math.log(1.4), 0.4)) for _ in range(applied)]
            if "silence" in kinds:
                silences = 1 + poisson(rng, 0.5 * casts)
                silence_durations = [max(0.2, rng.gauss(entry.silence_seconds, 0.4)) for _ in range(silences)]
                metrics["silence_applied_count"] = silences
                metrics["silence_duration_seconds"] = round(sum(silence_durations), 3)
                applied += silences
                durations += silence_durations
            metrics["cc_applied_count"] = applied
            metrics["cc_full_duration_count"] = sum(1 for _ in range(applied) if rng.random() < entry.full_share)
            metrics["cc_applied_duration_seconds"] = round(sum(durations), 3)
        if "resource" in kinds:
            generated = casts * rng.uniform(20.0, 60.0)
            metrics["resource_generated"] = round(generated, 2)
            metrics["resource_spent"] = round(generated * max(0.0, rng.gauss(entry.resource_efficiency, 0.1)), 2)
        if "aura" in kinds:
            metrics["window_seconds"] = round(window, 1)
            metrics["uptime_seconds"] = round(window * rng.uniform(0.4, 0.95), 1)
            metrics["participants"] = rng.randint(1, 6)
        if "execute" in kinds:
            metrics["execution_count"] = sum(1 for _ in range(casts) if rng.random() < 0.3)
        if "revive" in kinds:
            metrics["revive_count"] = 1 if rng.random() < 0.6 else 0
        if "summon" in kinds:
            metrics["entity_spawns"] = 2 * casts
        if "meteor" in kinds:
            metrics["meteor_count"] = casts * rng.randint(3, 7)
        if "mobility" in kinds:
            metrics["dash_distance_total"] = round(casts * rng.uniform(5.0, 15.0), 2)
        if "icd" in kinds:
            metrics["internal_cooldown_hits"] = poisson(rng, 1.0)
        if "clone" in kinds:
            sampled("clone_count", casts * rng.randint(1, 3))
        if "pull" in kinds:
            sampled("pull_events", poisson(rng, 3.0 * casts))
        if "reflect" in kinds:
            sampled("reflect_count", poisson(rng, 2.0 * casts))
        meta: dict[str, Any] = {"tier": tier}
        if entry.tags:
            meta["tags"] = list(entry.tags)
        if rates:
            meta["sample_rates"] = rates
        return {"v": 1, "ts": ts, "shard": player.shard, "player": self._ids[player.index], "entry": entry.entry,
                "metrics": metrics, "meta": meta}

    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted]:
        day_s = day_start_us(day) // 1_000_000
        end_s = day_s + 86_400
        for player in self.population.active(FAMILY, day_index, day.weekday(), rng):
            pid = self._ids[player.index]
            loadout = self.loadouts[player.index]
            t = day_s
            for start in session_starts(rng, player, day_s * 1_000_000):
                t = max(t + 1, start // 1_000_000)
                for _ in range(1 + poisson(rng, 6.0 * min(player.intensity, 5.0))):
                    if t >= end_s:
                        break
                    gap = 5 + int(rng.expovariate(1 / 40.0))
                    index = loadout[min(len(loadout) - 1, int(rng.expovariate(0.6)))]
                    yield Emitted(self.summary(rng, player, index, t, float(gap)), pid, "ability_metric_summary",
                                  t * 1_000_000)
                    t += gap

    # --- fault hooks ------------------------------------------------------------------------------------------
    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        return self.summary(rng, player, 0, at_us // 1_000_000, 30.0)

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        return {**event, "ts": at_us // 1_000_000}

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "v": 2}

    def extra_fault(self, kind: str, rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
        if kind == "unknown_metric_key":
            return {**event, "metrics": {**event["metrics"], "crit_count": rng.randint(1, 5)}}
        if kind == "unknown_namespace":
            return {**event, "entry": "weapon." + event["entry"].split(".", 1)[1]}
        raise KeyError(kind)
