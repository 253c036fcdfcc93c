"""Quarantine replay (docs/requirements/design.md#nothing-lost): re-validate quarantined lines against today's registry.

Lines that now pass land in a new batch (ledger source ``quarantine-replay``); the rest stay in quarantine
with their *current* reason. Each line is judged with the clock of its original arrival (its ``received_at``),
so a replay never turns an on-time event into ``too_late``. Replaying twice lands nothing new: replayed lines
leave the quarantine, and event-id dedup guards a replay interrupted between the two writes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..lake.atomic import write_parquet_atomic
from ..lake.layout import QUARANTINE_SCHEMA, Lake
from .outcome import BatchResult, ChunkOutcome
from .row import LineProcessor
from .settings import IngestSettings
from .writer import BatchWriter
from ..privacy.quarantine_crypto import QuarantineCipher, open_messages, open_raw  # noqa: F401 (re-exported)
from .reader import Line
from ..registry.schema import Registry

NOT_REPLAYABLE = {"truncated_input", "corrupt_input"}  # the bytes after the damage are gone


@dataclass
class ReplayResult:
    """Accounting of one replay: ``replayed = landed + still_quarantined + duplicates + dropped``."""

    batch: BatchResult | None
    replayed: int
    files_rewritten: int

    @property
    def landed(self) -> int:
        return self.batch.landed if self.batch else 0


def replay_quarantine(registry: Registry, lake: Lake, settings: IngestSettings, since: date | None = None) -> ReplayResult:
    """Replay quarantined rows received on or after ``since`` (all when None).

    Args:
        settings: keys, opt-out and line limit for re-processing; its clock is replaced per row by the row's
            original ``received_at`` and backfill is kept as given.
    """
    files = sorted(p for p in lake.quarantine.glob("*.parquet") if not p.name.startswith("_"))
    selected: list[tuple[Path, int, dict]] = []
    tables: dict[Path, list[dict]] = {}
    for path in files:
        rows = pq.read_table(path).to_pylist()
        tables[path] = rows
        for index, row in enumerate(rows):
            if row["reason"] in NOT_REPLAYABLE:
                continue
            if since is not None and row["received_date"] < since:
                continue
            selected.append((path, index, row))
    if not selected:
        return ReplayResult(None, 0, 0)
    basis = "\n".join(f"{row['batch_id']}:{row['line_number']}:{row['record_index']}" for _, _, row in selected)
    batch_id = "replay-" + hashlib.sha256(basis.encode()).hexdigest()[:12]
    with lake.batch_lock(batch_id):  # its pending files are not another run's to settle
        writer = BatchWriter(lake, BatchResult(batch_id, "quarantine-replay", hashlib.sha256(basis.encode()).hexdigest()),
                             write_quarantine=False, rate_rules=registry.rate_limits())
        cipher = QuarantineCipher(settings.keyring())
        by_clock: dict[datetime, list[tuple[Path, int, dict]]] = defaultdict(list)
        for item in selected:
            by_clock[item[2]["received_at"]].append(item)
        still: dict[tuple[Path, int], dict] = {}
        for received_at, items in sorted(by_clock.items()):
            clock = received_at.replace(tzinfo=timezone.utc)
            processor = LineProcessor(registry, replace(settings, as_of=clock))
            for path, index, row in items:
                raw = open_raw(cipher, row)
                line = Line(row["line_number"], raw, len(raw))
                outcome: ChunkOutcome = processor.process_chunk([line], row["batch_id"], row["source_file"])
                if outcome.quarantine:
                    # still rejected: keep the original row, with today's reason and errors
                    fresh = outcome.quarantine[0]
                    still[(path, index)] = {**row, "reason": fresh["reason"], "errors": fresh["errors"],
                                            "errors_sealed": fresh["errors_sealed"], "raw_key_id": fresh["raw_key_id"],
                                            "raw_bytes": fresh["raw_bytes"],
                                            "event_type": fresh["event_type"], "schema_id": fresh["schema_id"],
                                            "event_date": fresh["event_date"]}
                    outcome = ChunkOutcome({}, [dict(fresh)], outcome.dropped, 1, 1)
                else:
                    outcome.landed = {key: (ids, _rebatch(batch, batch_id)) for key, (ids, batch) in outcome.landed.items()}
                writer.add(outcome)
        result = writer.finish(source_bytes=0, as_of=datetime.now(timezone.utc).replace(tzinfo=None),
                               backfill=settings.backfill, kind="replay")
        # only now, with the replayed events and the ledger row written, shrink the quarantine
        rewritten = 0
        chosen = {(path, index) for path, index, _ in selected}
        for path, rows in tables.items():
            if not any((path, i) in chosen for i in range(len(rows))):
                continue
            kept = [still.get((path, i), row) for i, row in enumerate(rows) if (path, i) not in chosen or (path, i) in still]
            if kept == rows:
                continue
            if kept:
                write_parquet_atomic(pa.Table.from_pylist(kept, schema=QUARANTINE_SCHEMA), path)
            else:
                path.unlink()
            rewritten += 1
    return ReplayResult(result, len(selected), rewritten)


def _rebatch(batch: pa.RecordBatch, batch_id: str) -> pa.RecordBatch:
    """The same rows with ``batch_id`` set to the replay batch (they land as part of it)."""
    column = batch.schema.get_field_index("batch_id")
    return batch.set_column(column, "batch_id", pa.array([batch_id] * batch.num_rows, pa.string()))
