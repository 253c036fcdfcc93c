"""Recommendation-experiment events (docs/requirements/recsys.md#events): request → ranking → impressions → clicks chains, a few errors.

Extends the fixed stream of :mod:`ingest.synthetic` to players and days: each session issues requests; the
ranker's latency is log-normal, items follow a skewed popularity over a 500-item catalog, the click probability
decays with position and is 15 % higher in the ``treatment`` bucket. About one request in 60 produces an error
event (no user id: it is emitted by the service).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any
from collections.abc import Iterator

from .base import Emitted, FamilyGenerator
from .players import Player, Population, US_PER_DAY, day_start_us, poisson, session_starts

FAMILY = "recsys"
EXPERIMENT = "exp-home"
CATALOG = 500
K = 5
DEVICES = ("mobile", "mobile", "desktop", "tablet", "tv")


def request_uuid(seed: int, player: int, at_ms: int) -> str:
    """Deterministic UUID-shaped request id (version nibble 4)."""
    h = hashlib.blake2b(f"{seed}-{player}-{at_ms}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


class Generator(FamilyGenerator):
    """Recsys family generator (see module docstring)."""

    name = FAMILY

    def __init__(self, population: Population, seed: int):
        super().__init__(population, seed)
        self._ids = [f"user-{p.index}" for p in population]

    def player_id(self, player: Player) -> str:
        return self._ids[player.index]

    def chain(self, rng: random.Random, player: Player, at_ms: int, session: str) -> Iterator[Emitted]:
        """One request's events from ``at_ms``; the last event's time is at most ``at_ms + 70 s``."""
        uid = self._ids[player.index]
        rid = request_uuid(self.seed, player.index, at_ms)
        common = {"schema_version": "1.0", "request_id": rid, "user_id": uid}
        bucket = player.bucket
        yield Emitted({"event_type": "request", "timestamp_ms": at_ms, **common, "session_id": session,
                       "experiment_id": EXPERIMENT, "bucket": bucket, "k": K,
                       "filters": {"surface": "home"}}, uid, "recsys_request", at_ms * 1000)
        latency = round(rng.lognormvariate(3.2, 0.5), 3)
        items = []
        while len(items) < K:
            item = int(CATALOG * rng.random() ** 2)
            if item not in items:
                items.append(item)
        ranked_ms = at_ms + int(latency) + 1
        yield Emitted({"event_type": "ranking", "timestamp_ms": ranked_ms, **common, "experiment_id": EXPERIMENT,
                       "bucket": bucket, "latency_ms": latency, "catalog_size": CATALOG,
                       "algorithm": "bts" if bucket == "treatment" else "random",
                       "items": [{"canonical_id": f"item-{i}", "position": p + 1, "score": round(rng.random(), 6)}
                                 for p, i in enumerate(items)]}, uid, "recsys_ranking", ranked_ms * 1000)
        shown_ms = ranked_ms + 100
        device = rng.choice(DEVICES)
        lift = 1.15 if bucket == "treatment" else 1.0
        clicks = []
        for position, item in enumerate(items, start=1):
            yield Emitted({"event_type": "impression", "timestamp_ms": shown_ms, **common, "session_id": session,
                           "experiment_id": EXPERIMENT, "bucket": bucket, "canonical_id": f"item-{item}",
                           "position": position, "visible_ms": rng.randrange(200, 5000), "surface": "home",
                           "device_type": device}, uid, "recsys_impression", shown_ms * 1000)
            if rng.random() < 0.12 * lift / position ** 0.7:
                clicks.append((position, item))
        for n, (position, item) in enumerate(clicks):
            click_ms = shown_ms + 2000 + 1000 * n + rng.randrange(1000)
            yield Emitted({"event_type": "click", "timestamp_ms": click_ms, **common, "session_id": session,
                           "experiment_id": EXPERIMENT, "bucket": bucket, "canonical_id": f"item-{item}",
                           "position": position, "engagement_type": rng.choices(("click", "add_to_cart", "save"), (8, 1, 1))[0],
                           "dwell_ms": int(rng.lognormvariate(9.0, 1.0)), "device_type": device},
                          uid, "recsys_click", click_ms * 1000)
        if rng.random() < 1 / 60:
            yield Emitted({"event_type": "error", "timestamp_ms": ranked_ms, "schema_version": "1.0",
                           "request_id": rid, "experiment_id": EXPERIMENT, "bucket": bucket, "component": "ranker",
                           "severity": "error", "error_code": "RANKER_TIMEOUT",
                           "message": f"ranker exceeded its {int(latency)} ms budget"}, None, "recsys_error",
                          ranked_ms * 1000)

    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted]:
        day_ms = day_start_us(day) // 1000
        end_ms = day_ms + US_PER_DAY // 1000 - 80_000  # a chain never spills over midnight
        for player in self.population.active(FAMILY, day_index, day.weekday(), rng):
            t = day_ms
            for n, start in enumerate(session_starts(rng, player, day_ms * 1000, mean_sessions=1.0)):
                t = max(t + 1000, start // 1000)
                session = f"s-{player.index}-{day_index}-{n}"
                for _ in range(1 + poisson(rng, 2.0 * min(player.intensity, 5.0))):
                    if t >= end_ms:
                        break
                    yield from self.chain(rng, player, t, session)
                    t += 80_000 + int(rng.expovariate(1 / 60_000))

    # --- fault hooks ------------------------------------------------------------------------------------------
    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        at_ms = at_us // 1000
        return {"event_type": "request", "timestamp_ms": at_ms, "schema_version": "1.0",
                "request_id": request_uuid(self.seed + 1, player.index, at_ms), "user_id": self._ids[player.index],
                "experiment_id": EXPERIMENT, "bucket": player.bucket, "k": K}

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        return {**event, "timestamp_ms": at_us // 1000}

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "schema_version": "9.0"}

    def with_unknown_type(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "event_type": "purchase"}
