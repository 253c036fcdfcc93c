"""Deterministic synthetic recsys events (docs/requirements/recsys.md#events shapes), for tests and benchmarks.

Not a model of real behaviour (the OBD importer brings real data): a fixed-seed stream of complete
request → ranking → impressions → clicks chains, with a few error events, that validates against the registry.
"""

from __future__ import annotations

import random
import uuid
from typing import Any
from collections.abc import Iterator

NAMESPACE = uuid.UUID("0b7e4c52-2f0c-4b8e-9d7a-5c1e3f2a9b10")


def recsys_events(requests: int, *, seed: int = 7, start_ms: int = 1_732_406_400_000, span_days: int = 3,
                  experiment_id: str = "exp-home", buckets: tuple[str, ...] = ("control", "treatment"),
                  catalog_size: int = 200, k: int = 5) -> Iterator[dict[str, Any]]:
    """Yield wire events for ``requests`` requests spread evenly over ``span_days`` days from ``start_ms``.

    Each request has one ranking of ``k`` items, ``k`` impressions, a click on about 1 in 8 impressions
    (with dwell), and every 50th request an error. Same arguments → same events.
    """
    rng = random.Random(seed)
    step = span_days * 86_400_000 // max(requests, 1)
    for n in range(requests):
        ts = start_ms + n * step
        request_id = str(uuid.uuid5(NAMESPACE, f"{seed}-{n}"))
        user = f"user-{rng.randrange(requests // 4 + 1)}"
        bucket = buckets[n % len(buckets)]
        base = {"schema_version": "1.0", "request_id": request_id, "user_id": user}
        yield {"event_type": "request", "timestamp_ms": ts, **base, "session_id": f"s-{user}",
               "experiment_id": experiment_id, "bucket": bucket, "k": k, "filters": {"surface": "home"}}
        items = rng.sample(range(catalog_size), k)
        yield {"event_type": "ranking", "timestamp_ms": ts + 20, **base, "experiment_id": experiment_id,
               "bucket": bucket, "latency_ms": round(rng.lognormvariate(3.0, 0.5), 3), "catalog_size": catalog_size,
               "algorithm": "bts" if bucket == "treatment" else "random",
               "items": [{"canonical_id": f"item-{i}", "position": p + 1, "score": round(rng.random(), 6)}
                         for p, i in enumerate(items)]}
        for position, item in enumerate(items, start=1):
            yield {"event_type": "impression", "timestamp_ms": ts + 100, **base, "session_id": f"s-{user}",
                   "canonical_id": f"item-{item}", "position": position, "visible_ms": rng.randrange(200, 5000),
                   "surface": "home", "device_type": rng.choice(["mobile", "desktop"])}
            if rng.random() < 0.125:
                yield {"event_type": "click", "timestamp_ms": ts + 2000, **base, "session_id": f"s-{user}",
                       "canonical_id": f"item-{item}", "position": position, "engagement_type": "click",
                       "dwell_ms": rng.randrange(1000, 60000)}
        if n % 50 == 49:
            yield {"event_type": "error", "timestamp_ms": ts + 30, "schema_version": "1.0", "request_id": request_id,
                   "component": "ranker", "severity": "error", "error_code": "RANKER_TIMEOUT",
                   "message": "ranker exceeded its latency budget"}
