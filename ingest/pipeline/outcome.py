"""What ingesting produces: a chunk's outcome (rows to land, quarantine rows, drops) and a batch's accounting.

A batch is one input file landed with one ledger row (docs/lake.md); chunks of its lines are classified by a
chunk processor and merged in order by :class:`~ingest.pipeline.writer.BatchWriter`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass
class Dropped:
    """An event dropped by policy (not an error): ``opted_out``, ``sampled_out`` or ``blank_line``; ``rate`` is
    the sample rate that dropped a ``sampled_out`` event."""

    reason: str
    rate: float | None = None


@dataclass
class BatchResult:
    """What one batch did. ``records_read == landed + quarantined + duplicates + dropped`` always holds;
    ``records_read == lines_read`` unless the input holds batch envelopes (docs/requirements/learning.md#batch: one record per event).

    Attributes:
        partitions: ``(event_type, event_date)`` → ``[landed, duplicates]``.
        damage: ``truncated_input`` / ``corrupt_input`` when the file was cut short, else None.
    """

    batch_id: str
    source_file: str
    source_sha256: str
    skipped: bool = False
    lines_read: int = 0
    records_read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    dropped: int = 0
    server_filled: int = 0
    quarantined_by_reason: Counter = field(default_factory=Counter)
    dropped_by_reason: Counter = field(default_factory=Counter)
    partitions: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    damage: str | None = None
    damage_message: str | None = None

    @property
    def balanced(self) -> bool:
        return self.records_read == self.landed + self.quarantined + self.duplicates + self.dropped


@dataclass
class RateCandidate:
    """An event of a rate-limited type (docs/requirements/politics.md#anti-abuse), decided in input order by the batch writer."""

    event_id: str
    player_key: str | None
    occurred_us: int
    quarantine_row: dict[str, Any]


@dataclass
class ChunkOutcome:
    """What one chunk of lines became (built in a worker, merged in input order by the batch writer).

    Attributes:
        landed: ``(event_type, event_date)`` → (event ids, their rows as one Arrow record batch), before dedup.
        quarantine: quarantine rows (docs/lake.md columns).
        dropped: reason → count.
        lines: number of lines in the chunk.
        records: number of accounting units: one per line, but one per event for a batch-envelope line.
        rate_limited: ``(event_type, event_date)`` → candidates aligned with that key's event ids, for types
            with a rate limit; the writer quarantines the ones over the limit as ``rate_limited``.
    """

    landed: dict[tuple[str, str], tuple[list[str], pa.RecordBatch]]
    quarantine: list[dict[str, Any]]
    dropped: Counter
    lines: int
    records: int
    rate_limited: dict[tuple[str, str], list[RateCandidate]] = field(default_factory=dict)


def concat_rows(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    """The rows of ``parts`` in order as one Arrow record batch, its columns the union of theirs (schema versions
    of one event type share a partition; a column a part lacks is null in its rows)."""
    if len(parts) == 1:
        return parts[0]
    if all(p.schema == parts[0].schema for p in parts):
        return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
    tables = [pa.Table.from_batches([p]) for p in parts]
    return pa.concat_tables(tables, promote_options="default").combine_chunks().to_batches()[0]
