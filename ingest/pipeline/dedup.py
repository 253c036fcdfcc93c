"""Event ids already landed in one partition, in bounded memory (docs/requirements/design.md#exactly-once).

A batch deduplicates by ``event_id`` within itself and against the partitions it touches. Keeping every id as a
Python string costs ≈ 110 bytes an id (10M events: over 1 GB); :class:`SeenIds` keeps a 128-bit BLAKE2b
digest of each id in sorted numpy runs instead: 16 bytes an id, looked up with binary search. Two different ids
share a digest with probability ≈ n² / 2¹²⁹ (10¹⁰ ids: 10⁻¹⁹), which is what "the same id" means here.
"""

from __future__ import annotations

import os
from hashlib import blake2b
from typing import TYPE_CHECKING
from collections.abc import Iterable

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from ..lake.layout import Lake


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


class LandedIds:
    """Event ids landed per partition, kept across the batches of one run so each published file is read at
    most once: a batch reads only the files published since the previous batch looked, and lists a partition
    only when its folder changed since (its modification time), other than by this run's own publishing; so a
    run of many small files stays linear. Partitions the last batch did not touch are forgotten (memory stays
    what one batch needs).

    Attributes:
        files_read: Parquet files read so far (each at most once per run).
        listings: partition folders listed so far.
    """

    def __init__(self, lake: Lake):
        self.lake = lake
        self.files_read = 0
        self.listings = 0
        self._ids: dict[tuple[str, str], SeenIds] = {}
        self._listed: dict[tuple[str, str], int] = {}
        self._read: dict[tuple[str, str], set[str]] = {}
        self._touched: set[tuple[str, str]] = set()

    def partition(self, key: tuple[str, str]) -> SeenIds:
        """The ids landed in partition ``key`` (``(event_type, event_date)``), brought up to date. The caller
        adds the ids it lands to the returned set."""
        import pyarrow.parquet as pq

        seen = self._ids.setdefault(key, SeenIds())
        read = self._read.setdefault(key, set())
        self._touched.add(key)
        fresh: list[str] = []
        folder = self.lake.partition_dir(*key)
        changed = _mtime_ns(folder)
        if changed is not None and self._listed.get(key) == changed:
            return seen
        self.listings += 1
        self._listed[key] = changed if changed is not None else -1
        for name in self.lake.partition_names(*key):
            if name not in read:
                fresh += pq.read_table(folder / name, columns=["event_id"]).column(0).to_pylist()
                read.add(name)
                self.files_read += 1
        if fresh:
            high, low = digests(fresh)
            unseen = ~seen.contains(high, low)
            if unseen.any():
                high, low = high[unseen], low[unseen]
                order = np.unique(np.stack([high, low], axis=1), axis=0, return_index=True)[1]
                seen.add(high[order], low[order])
        return seen

    def published(self, paths: Iterable[Path]) -> None:
        """Files a batch of this run published: their ids are already in the sets, no need to read them."""
        for path in paths:
            key = (path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1])
            if key in self._read:
                self._read[key].add(path.name)
                self._listed[key] = _mtime_ns(path.parent) or -1

    def end_batch(self) -> None:
        """Forget partitions the batch that just committed did not touch."""
        for key in [k for k in self._ids if k not in self._touched]:
            del self._ids[key], self._read[key]
            self._listed.pop(key, None)
        self._touched = set()

    def forget(self) -> None:
        """Drop everything (after a batch that did not commit: its ids never landed)."""
        self._ids, self._read, self._listed, self._touched = {}, {}, {}, set()


def _mtime_ns(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except FileNotFoundError:
        return None
