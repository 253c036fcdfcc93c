"""The batch writer: merges a batch's chunk outcomes in order (dedup, rate limits, buffered Parquet files,
quarantine) and commits them with the ledger row (docs/lake.md, "Batch commit").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import LakeWriteFailed
from ..lake.atomic import write_parquet_atomic
from ..lake.layout import Lake, LedgerEntry, PartitionCount
from .dedup import LandedIds, SeenIds, digests
from .outcome import BatchResult, ChunkOutcome, RateCandidate, concat_rows


ROWS_PER_FILE = 200_000
MAX_BUFFERED_ROWS = 400_000
QUARANTINE_ROWS_PER_FILE = 50_000


def _server_filled(rows: pa.RecordBatch) -> int:
    """Rows with a value the server filled (docs/requirements/design.md#server-fills)."""
    import pyarrow.compute as pc

    filled = pc.or_(pc.equal(rows.column("occurred_at_source"), "server"),
                    pc.equal(rows.column("schema_version_source"), "server"))
    return int(pc.sum(pc.cast(filled, pa.int64())).as_py() or 0)


class BatchWriter:
    """Merges chunk outcomes of one batch in order: dedup by event id, buffered Parquet writes, quarantine,
    and the ledger row last (docs/requirements/design.md#exactly-once).

    Files are written as pending files (:meth:`Lake.pending_path`) and published by
    :meth:`finish` after the ledger row. Creating a writer removes what an interrupted, uncommitted earlier run
    of the same batch left there, so a re-run lands each event exactly once. Write failures raise
    :class:`~ingest.errors.LakeWriteFailed`.

    Args:
        landed_ids: the run's cache of landed event ids (default: a fresh one, reading touched partitions).
    """

    def __init__(self, lake: Lake, result: BatchResult, *, write_quarantine: bool = True,
                 rows_per_file: int = ROWS_PER_FILE, rate_rules: dict[str, dict[str, Any]] | None = None,
                 landed_ids: LandedIds | None = None):
        self.lake = lake
        self.result = result
        self.rows_per_file = rows_per_file
        self.write_quarantine = write_quarantine
        self.started = datetime.now(timezone.utc)
        self.buffers: dict[tuple[str, str], list[pa.RecordBatch]] = defaultdict(list)
        self.buffered: Counter = Counter()
        self.seen: dict[tuple[str, str], SeenIds] = {}
        self.parts: Counter = Counter()
        self.quarantine: list[dict[str, Any]] = []
        self.quarantine_part = 0
        self._rate_rules: dict[str, dict[str, Any]] = dict(rate_rules or {})
        self._rate_times: dict[tuple[str, str], list[int]] = {}
        self.landed_ids = landed_ids if landed_ids is not None else LandedIds(lake)
        lake.discard(result.batch_id)


    def _flush(self, key: tuple[str, str]) -> None:
        if self.buffers[key]:
            table = pa.Table.from_batches([concat_rows(self.buffers[key])])
            name = f"{self.result.batch_id}-{self.parts[key]:04d}.parquet"
            target = self.lake.pending_path(self.result.batch_id, self.lake.partition_dir(*key) / name)
            try:
                write_parquet_atomic(table, target)
            except OSError as error:
                raise LakeWriteFailed(str(target), error.strerror or str(error)) from error
            self.parts[key] += 1
        self.buffers[key] = []
        self.buffered[key] = 0

    def _flush_quarantine(self) -> None:
        if self.quarantine and self.write_quarantine:
            try:
                self.lake.write_quarantine(self.result.batch_id, self.quarantine_part, self.quarantine)
            except OSError as error:
                raise LakeWriteFailed(str(self.lake.pending),
                                      error.strerror or str(error)) from error
            self.quarantine_part += 1
        self.quarantine = []

    def add(self, outcome: ChunkOutcome) -> None:
        """Account for one chunk and buffer its new events (first occurrence of an event id wins)."""
        result = self.result
        result.lines_read += outcome.lines
        result.records_read += outcome.records
        for row in outcome.quarantine:
            result.quarantined_by_reason[row["reason"]] += 1
        result.quarantined += len(outcome.quarantine)
        self.quarantine += outcome.quarantine
        if len(self.quarantine) >= QUARANTINE_ROWS_PER_FILE:
            self._flush_quarantine()
        result.dropped_by_reason.update(outcome.dropped)
        result.dropped += sum(outcome.dropped.values())
        for key, (ids, rows) in outcome.landed.items():
            known = self.seen.get(key)
            if known is None:
                known = self.seen[key] = self.landed_ids.partition(key)
            candidates = outcome.rate_limited.get(key)
            keep = []
            duplicates = 0
            high, low = digests(ids)
            landed_before = known.contains(high, low)
            in_chunk: set[str] = set()
            for index, event_id in enumerate(ids):
                fresh = not landed_before[index] and event_id not in in_chunk
                if fresh and candidates is not None and not self._within_rate(key[0], candidates[index]):
                    fresh = False
                    self.quarantine.append(candidates[index].quarantine_row)
                    result.quarantined_by_reason["rate_limited"] += 1
                    result.quarantined += 1
                elif fresh:
                    in_chunk.add(event_id)
                else:
                    duplicates += 1
                keep.append(fresh)
            if in_chunk:
                mask = np.array(keep, dtype=bool)
                known.add(high[mask], low[mask])
            kept = sum(keep)
            stats = result.partitions.setdefault(key, [0, 0])
            stats[0] += kept
            stats[1] += duplicates
            result.landed += kept
            result.duplicates += duplicates
            if kept:
                fresh_rows = rows if kept == len(ids) else rows.filter(pa.array(keep))
                result.server_filled += _server_filled(fresh_rows)
                self.buffers[key].append(fresh_rows)
                self.buffered[key] += kept
            if self.buffered[key] >= self.rows_per_file:
                self._flush(key)
        if sum(self.buffered.values()) >= MAX_BUFFERED_ROWS:
            for key in list(self.buffers):
                self._flush(key)

    def _within_rate(self, lake_type: str, candidate: RateCandidate) -> bool:
        """docs/requirements/politics.md#anti-abuse per-player rate limit, decided in input order: an event is over the
        limit when the player
        already has ``max_events`` accepted events of this type in this batch within ``(t − window, t]`` of its
        event time ``t``. Accepted events count towards later ones; rejected ones do not."""
        rule = self._rate_rules.get(lake_type)
        if rule is None or candidate.player_key is None:
            return True
        window_us = int(rule["window_seconds"] * 1_000_000)
        times = self._rate_times.setdefault((lake_type, candidate.player_key), [])
        t = candidate.occurred_us
        if sum(1 for other in times if t - window_us < other <= t) >= int(rule["max_events"]):
            return False
        times.append(t)
        return True

    def finish(self, *, source_bytes: int, as_of: datetime, backfill: bool, kind: str = "ingest") -> BatchResult:
        """Write what is buffered, then commit: the ledger row, then publish the files (docs/lake.md).

        Raises:
            LakeWriteFailed: a write or rename failed (before the ledger row: nothing is visible; after it: the
                next run publishes the rest).
        """
        for key in list(self.buffers):
            self._flush(key)
        self._flush_quarantine()
        result = self.result
        entry = LedgerEntry(
            batch_id=result.batch_id, kind=kind, source_file=result.source_file, source_sha256=result.source_sha256,
            source_bytes=source_bytes, as_of=as_of.replace(tzinfo=None), started_at=self.started.replace(tzinfo=None),
            finished_at=datetime.now(timezone.utc).replace(tzinfo=None), backfill=backfill,
            lines_read=result.lines_read, records_read=result.records_read, landed=result.landed,
            quarantined=result.quarantined, duplicates=result.duplicates, dropped=result.dropped,
            server_filled=result.server_filled,
            partitions=tuple(PartitionCount(t, date.fromisoformat(d), n, dup)
                             for (t, d), (n, dup) in sorted(result.partitions.items())))
        try:
            published = self.lake.commit(entry)
        except OSError as error:
            raise LakeWriteFailed(str(self.lake.root), error.strerror or str(error)) from error
        self.landed_ids.published(p for p in published if self.lake.events in p.parents)
        return result
