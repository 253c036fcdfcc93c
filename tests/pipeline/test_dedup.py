"""Bounded dedup state: event-id digests in sorted runs behave as a set of the ids."""

from __future__ import annotations

import random

import numpy as np

from ingest.pipeline.dedup import SeenIds, digests


def test_seen_ids_is_a_set_of_the_ids():
    rng = random.Random(5)
    seen, reference = SeenIds(["a", "b"]), {"a", "b"}
    for _ in range(40):  # many adds: runs are merged along the way
        batch = [f"id-{rng.randrange(3000)}" for _ in range(rng.randrange(1, 200))]
        high, low = digests(batch)
        assert list(seen.contains(high, low)) == [i in reference for i in batch]
        fresh = sorted({i for i in batch if i not in reference})
        seen.add(*digests(fresh))
        reference.update(fresh)
    assert len(seen) == len(reference)
    assert len(seen._runs) <= 12


def test_shared_high_half_compares_the_low_half():
    seen = SeenIds()
    seen.add(np.array([7, 7, 9], dtype=np.uint64), np.array([1, 2, 3], dtype=np.uint64))
    found = seen.contains(np.array([7, 7, 7, 9, 9], dtype=np.uint64), np.array([1, 2, 3, 3, 1], dtype=np.uint64))
    assert list(found) == [True, True, False, True, False]
