"""Event ids already landed in one partition, in bounded memory (DESIGN §4, issue 12).

A batch deduplicates by ``event_id`` within itself and against the partitions it touches. Keeping every id as a
Python string costs ≈ 110 bytes an id (10M events: over 1 GB); :class:`SeenIds` keeps a 128-bit BLAKE2b
digest of each id in sorted numpy runs instead: 16 bytes an id, looked up with binary search. Two different ids
share a digest with probability ≈ n² / 2¹²⁹ (10¹⁰ ids: 10⁻¹⁹), which is what "the same id" means here.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Iterable

import numpy as np


def digests(ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) 64-bit halves of the 16-byte BLAKE2b digest of each id."""
    raw = b"".join(blake2b(i.encode("utf-8", "surrogatepass"), digest_size=16).digest() for i in ids)
    both = np.frombuffer(raw, dtype="<u8").reshape(-1, 2)
    return both[:, 0].copy(), both[:, 1].copy()


class SeenIds:
    """A set of event-id digests: sorted runs merged like a log-structured tree (amortised O(log n) runs)."""

    def __init__(self, ids: Iterable[str] = ()):
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        ids = list(ids)
        if ids:
            self.add(*digests(ids))

    def __len__(self) -> int:
        return sum(len(high) for high, _ in self._runs)

    def contains(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Boolean mask: which (high, low) digests are in the set."""
        found = np.zeros(len(high), dtype=bool)
        for run_high, run_low in self._runs:
            left = np.searchsorted(run_high, high, side="left")
            right = np.searchsorted(run_high, high, side="right")
            span = right - left
            one = span == 1
            found[one] |= run_low[left[one]] == low[one]
            for index in np.nonzero(span > 1)[0]:  # a shared high half: compare the low halves of the range
                found[index] |= bool((run_low[left[index]:right[index]] == low[index]).any())
        return found

    def add(self, high: np.ndarray, low: np.ndarray) -> None:
        """Add digests (not already present; the caller checks)."""
        if len(high) == 0:
            return
        order = np.lexsort((low, high))
        self._runs.append((high[order], low[order]))
        while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
            # merge the two newest runs; drop each array as soon as it is copied (peak ≈ 32 bytes an id, not 56)
            newer, older = self._runs.pop(), self._runs.pop()
            high_m = np.concatenate([older[0], newer[0]])
            low_m = np.concatenate([older[1], newer[1]])
            del newer, older
            order = np.lexsort((low_m, high_m))
            high_m = high_m[order]
            low_m = low_m[order]
            del order
            self._runs.append((high_m, low_m))
