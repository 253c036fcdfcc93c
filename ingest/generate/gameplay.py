"""Gameplay events (docs/requirements/gameplay.md): session lifecycle, combat loop, progression & economy, social, heartbeat.

Play model: a session opens with ``session_start`` (build, platform, shard, region, class, playstyle, mode) and
closes with ``session_end`` (3 % crash instead, 2 % see a ``reconnect``). In between, encounters (normal, elite,
boss) each give an ``engage_enemy`` with its outcome, a few ``ability_cast`` / ``damage_dealt`` /
``damage_taken``, a ``death`` on most losses, and on wins ``xp_gain`` and often a ``loot_drop``; crossing an XP
threshold gives a ``skill_rank_up``. Inventory moves, crafting, party, emote, friend-invite and chat events are
sprinkled by playstyle, and a ``client_tick`` heartbeat (with an economy snapshot), ``aoi_population`` and
``snapshot_size`` come about once a minute. Each player has one ``client_guid`` and a ``seq`` that grows by one
per event across all sessions, so ``(player_id, client_guid, seq)`` — the docs/requirements/gameplay.md#dedup dedup key — is unique.
Ingest samples several types per player (schema ``sample_rate``); the writer predicts which are kept.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any
from collections.abc import Iterator

from .base import Emitted, FamilyGenerator
from .players import Player, Population, US_PER_DAY, day_start_us, poisson, session_starts

FAMILY = "gameplay"
CLASSES = ("warrior", "mage", "rogue", "cleric", "ranger")
REGIONS = ("eu", "na", "apac", "sa")
PLAYSTYLES = ("pve", "pvp", "social", "explorer")
PLATFORMS = ("pc", "console", "mobile")
MODES = ("campaign", "arena", "raid")
BUILD = "0.9.3"
ENEMIES = ("wolf", "bandit", "golem", "wraith", "drake")
ITEMS = ("iron_ore", "herb", "leather", "crystal", "potion", "scroll")
RARITY = ("common", "uncommon", "rare", "epic", "legendary")
XP_PER_RANK = 1500


class Generator(FamilyGenerator):
    """Gameplay family generator (see module docstring)."""

    name = FAMILY

    def __init__(self, population: Population, seed: int):
        super().__init__(population, seed)
        self._ids = [f"pl-{p.index:06d}" for p in population]
        self._guids = []
        for p in population:
            h = hashlib.blake2b(f"{seed}:guid:{p.index}".encode(), digest_size=16).hexdigest()
            self._guids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}")
        self._seq = [0] * len(population)
        self._xp = [0] * len(population)

    def player_id(self, player: Player) -> str:
        return self._ids[player.index]

    def _profile(self, player: Player) -> tuple[str, str, str, str]:
        i = player.index
        return CLASSES[i % 5], REGIONS[(i // 5) % 4], PLAYSTYLES[(i * 7 + self.seed) % 4], PLATFORMS[(i // 3) % 3]

    def _event(self, kind: str, player: Player, at_ms: int, session: str, **payload: Any) -> Emitted:
        index = player.index
        seq = self._seq[index]
        self._seq[index] = seq + 1
        event = {"event_type": kind, "schema_version": "1.0", "player_id": self._ids[index],
                 "client_guid": self._guids[index], "seq": seq, "ts_ms": at_ms, "session_id": session,
                 "build": BUILD, **payload}
        return Emitted(event, self._ids[index], f"gameplay_{kind}", at_ms * 1000)

    def session(self, rng: random.Random, player: Player, start_ms: int, end_ms: int, session: str) -> Iterator[Emitted]:
        """Events of one session from ``start_ms``; stops before ``end_ms``."""
        klass, region, style, platform = self._profile(player)
        t = start_ms
        yield self._event("session_start", player, t, session, platform=platform, shard=player.shard, region=region,
                          character_class=klass, playstyle=style, game_mode=rng.choice(MODES))
        next_tick = t + 60_000
        tick = 0
        encounters = 1 + poisson(rng, 3.0 * min(player.intensity, 4.0))
        for n in range(encounters):
            t += 5_000 + int(rng.expovariate(1 / 40_000))
            if t >= end_ms - 120_000:
                break
            tier = rng.choices(("normal", "elite", "boss"), weights=(80, 15, 5))[0]
            win_p = {"normal": 0.8, "elite": 0.55, "boss": 0.35}[tier]
            outcome = "win" if rng.random() < win_p else rng.choice(("loss", "loss", "escape"))
            pvp = style == "pvp" and rng.random() < 0.5
            enemy = "player" if pvp else "npc"
            yield self._event("engage_enemy", player, t, session, encounter_id=f"enc-{session}-{n}",
                              encounter_tier=tier, enemy_type=rng.choice(ENEMIES), enemy_controller=enemy,
                              outcome=outcome)
            for _ in range(1 + poisson(rng, 2.0)):
                t += rng.randint(300, 4000)
                yield self._event("ability_cast", player, t, session, ability_id=f"ab-{rng.randrange(12)}",
                                  encounter_tier=tier, target_kind=rng.choice(("unit", "point", "self")),
                                  resource_cost=round(rng.uniform(5, 40), 1))
                t += rng.randint(50, 400)
                yield self._event("damage_dealt", player, t, session, amount=round(rng.lognormvariate(4.0, 0.8), 1),
                                  encounter_tier=tier, target_type=rng.choice(ENEMIES),
                                  is_critical=rng.random() < 0.15)
                if rng.random() < 0.6:
                    t += rng.randint(50, 900)
                    yield self._event("damage_taken", player, t, session, amount=round(rng.lognormvariate(3.5, 0.9), 1),
                                      encounter_tier=tier, source_type=rng.choice(ENEMIES))
            t += rng.randint(500, 3000)
            if outcome == "loss" and rng.random() < 0.8:
                payload: dict[str, Any] = {"encounter_tier": tier, "unit_type": klass,
                                           "killer_controller": "player" if pvp else "npc"}
                if pvp:
                    payload["killer_player_id"] = self._ids[rng.randrange(len(self._ids))]
                else:
                    payload["killer_type"] = rng.choice(ENEMIES)
                yield self._event("death", player, t, session, **payload)
            elif outcome == "win":
                amount = int(rng.lognormvariate(4.5, 0.6)) * (1 + ("elite", "boss").count(tier) * 3)
                before = self._xp[player.index]
                self._xp[player.index] = before + amount
                yield self._event("xp_gain", player, t, session, amount=amount, source="combat",
                                  total_xp=before + amount)
                if before // XP_PER_RANK != (before + amount) // XP_PER_RANK:
                    t += rng.randint(10, 200)
                    yield self._event("skill_rank_up", player, t, session, skill_id=f"sk-{klass}",
                                      new_rank=1 + (before + amount) // XP_PER_RANK)
                if rng.random() < 0.6:
                    t += rng.randint(100, 1500)
                    yield self._event("loot_drop", player, t, session, item_id=rng.choice(ITEMS),
                                      quantity=1 + poisson(rng, 1.0),
                                      rarity=rng.choices(RARITY, weights=(60, 25, 10, 4, 1))[0], source="enemy",
                                      encounter_tier=tier)
            if rng.random() < 0.25:
                t += rng.randint(1000, 8000)
                yield self._event("inventory_move", player, t, session, item_id=rng.choice(ITEMS),
                                  quantity=1 + poisson(rng, 2.0), from_container="bag", to_container="bank")
            if rng.random() < 0.1:
                t += rng.randint(2000, 10000)
                yield self._event("craft_result", player, t, session, recipe_id=f"rc-{rng.randrange(20)}",
                                  is_success=rng.random() < 0.7, output_item_id=rng.choice(ITEMS), quantity=1)
            social = 0.4 if style == "social" else 0.08
            if rng.random() < social:
                t += rng.randint(500, 5000)
                kind = rng.choice(("emote_played", "chat_message", "party_join", "friend_invite", "party_create"))
                if kind == "emote_played":
                    yield self._event(kind, player, t, session, emote_id=f"em-{rng.randrange(10)}", target_kind="player")
                elif kind == "chat_message":
                    yield self._event(kind, player, t, session, channel=rng.choice(("all", "allies", "party")),
                                      text="gg " * rng.randint(1, 5))
                elif kind == "party_join":
                    yield self._event(kind, player, t, session, party_id=f"party-{rng.randrange(500)}",
                                      party_size=rng.randint(2, 5))
                elif kind == "party_create":
                    yield self._event(kind, player, t, session, party_id=f"party-{player.index}-{n}", max_size=5)
                else:
                    yield self._event(kind, player, t, session,
                                      invitee_player_id=self._ids[rng.randrange(len(self._ids))], channel="match")
            while next_tick <= t:
                tick += 1
                yield self._event("client_tick", player, next_tick, session, tick=tick * 600,
                                  fps=round(rng.uniform(30, 144), 1), rtt_ms=round(rng.lognormvariate(3.8, 0.4), 1),
                                  economy={"resources_current": round(rng.uniform(0, 2000), 1),
                                           "workers": rng.randint(4, 40),
                                           "army_value": round(rng.uniform(0, 5000), 1)})
                if rng.random() < 0.5:
                    yield self._event("aoi_population", player, next_tick + 1, session,
                                      entities=rng.randint(5, 300), players=rng.randint(1, 40), zone_id=f"z-{rng.randrange(30)}")
                if rng.random() < 0.3:
                    yield self._event("snapshot_size", player, next_tick + 2, session,
                                      bytes=int(rng.lognormvariate(9.0, 0.5)), entities=rng.randint(5, 300))
                next_tick += 60_000
            t = max(t, next_tick - 60_000 + 3)
            if rng.random() < 0.02:
                t += rng.randint(1000, 5000)
                yield self._event("reconnect", player, t, session, downtime_ms=rng.randint(500, 20000), attempt=1)
        t += rng.randint(1000, 30_000)
        if rng.random() < 0.03:
            yield self._event("session_crash", player, t, session, crash_code=f"E{rng.randrange(100, 999)}",
                              scene="world")
        else:
            yield self._event("session_end", player, t, session,
                              end_reason=rng.choice(("logout", "match_end", "left", "idle_timeout")),
                              match_result=rng.choice(("win", "loss", "undecided")), client_duration_ms=t - start_ms)

    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted]:
        day_ms = day_start_us(day) // 1000
        end_ms = day_ms + US_PER_DAY // 1000
        for player in self.population.active(FAMILY, day_index, day.weekday(), rng):
            t = day_ms
            for n, start in enumerate(session_starts(rng, player, day_ms * 1000)):
                t = max(t + 1000, start // 1000)
                if t >= end_ms - 300_000:
                    break
                last = t
                for emitted in self.session(rng, player, t, end_ms - 1000, f"gs-{player.index}-{day_index}-{n}"):
                    last = emitted.occurred_us // 1000
                    yield emitted
                t = last + 1000

    # --- fault hooks ------------------------------------------------------------------------------------------
    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        return {"event_type": "reconnect", "schema_version": "1.0", "player_id": self._ids[player.index],
                "client_guid": self._guids[player.index], "seq": 10**9 + rng.randrange(10**9),
                "ts_ms": at_us // 1000, "session_id": f"gs-fault-{player.index}", "downtime_ms": 1200, "attempt": 1}

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        return {**event, "ts_ms": at_us // 1000}

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "schema_version": "9.0"}

    def with_unknown_type(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "event_type": "purchase"}
