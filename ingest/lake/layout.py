"""The Parquet lake under ``<data-dir>/lake`` (layout and columns: ``docs/lake.md``).

Every write is atomic: a file is written under a temporary name in its target folder, then renamed. A batch
commits in three steps (docs/lake.md, "Batch commit"): its files are written as ``lake/_pending/<batch_id>+…``
(no reader's glob reaches them), its ledger row is renamed into ``_ledger/`` (the commit point), then its files
are renamed into ``events/`` and ``quarantine/`` (publish). A batch without a ledger row is never visible and
is removed; a batch with one whose files are still pending is published by the next run (:meth:`Lake.recover`).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..registry.schema import Registry
from .atomic import write_parquet_atomic

SCHEMA_SENTINEL_DATE = "1970-01-01"
PENDING_FOLDER = "_pending"
"""``lake/_pending/``: batches' files before they are committed and published (readers never look). One flat
folder: ``<batch_id>+events+event_type=T+event_date=D+<batch_id>-0000.parquet`` is the pending copy of
``events/event_type=T/event_date=D/<batch_id>-0000.parquet`` (no folder made or removed per batch)."""
PENDING_SEPARATOR = "+"
PENDING_LEDGER = "_ledger.parquet"
"""``_pending/<batch_id>+_ledger.parquet``: the ledger row, renamed to ``_ledger/<batch_id>.parquet`` to commit."""
SESSION_CLOSE_SCHEMA = pa.schema([
    ("session_id", pa.string()),
    ("started_at", pa.timestamp("us")),
    ("ended_at", pa.timestamp("us")),
    ("events", pa.int64()),
    ("closed_at", pa.timestamp("us")),
])
"""``lake/_closes/<session_id>.parquet``: a session a producer closed (the docs/requirements/learning.md#apis close call); ids hashed."""
QUARANTINE_SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("source_file", pa.string()),
    ("line_number", pa.int64()),
    ("record_index", pa.int64()),
    ("received_at", pa.timestamp("us")),
    ("received_date", pa.date32()),
    ("reason", pa.string()),
    ("event_type", pa.string()),
    ("schema_id", pa.string()),
    ("event_date", pa.date32()),
    ("errors", pa.list_(pa.struct([("pointer", pa.string()), ("keyword", pa.string()), ("message", pa.string())]))),
    ("raw_bytes", pa.binary()),
    ("raw_key_id", pa.string()),
    ("errors_sealed", pa.binary()),
])
"""Quarantine columns. ``raw_bytes`` is the input line sealed with AES-GCM
(docs/requirements/design.md#privacy-at-rest, key ``raw_key_id``);
``errors[].message`` says where and which rule without the value; the full messages are ``errors_sealed``."""
PARTITION_STRUCT = pa.struct([
    ("event_type", pa.string()), ("event_date", pa.date32()), ("landed", pa.int64()), ("duplicates", pa.int64()),
])
LEDGER_KINDS = ("ingest", "replay", "erasure")
LEDGER_SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("kind", pa.string()),
    ("source_file", pa.string()),
    ("source_sha256", pa.string()),
    ("source_bytes", pa.int64()),
    ("as_of", pa.timestamp("us")),
    ("started_at", pa.timestamp("us")),
    ("finished_at", pa.timestamp("us")),
    ("backfill", pa.bool_()),
    ("lines_read", pa.int64()),
    ("records_read", pa.int64()),
    ("landed", pa.int64()),
    ("quarantined", pa.int64()),
    ("duplicates", pa.int64()),
    ("dropped", pa.int64()),
    ("partitions", pa.list_(PARTITION_STRUCT)),
    ("server_filled", pa.int64()),
])


@dataclass(frozen=True)
class PartitionCount:
    """What a batch did to one partition: events landed and duplicates dropped."""

    event_type: str
    event_date: date
    landed: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    """One row of ``lake/_ledger/<batch_id>.parquet``: a completed batch (columns: :data:`LEDGER_SCHEMA`).

    ``records_read = landed + quarantined + duplicates + dropped`` for ``ingest`` and ``replay`` batches; an
    ``erasure`` batch reads nothing and lists the partitions it rewrote. Timestamps are naive UTC.
    """

    batch_id: str
    kind: str
    source_file: str
    source_sha256: str
    source_bytes: int
    as_of: datetime
    started_at: datetime
    finished_at: datetime
    backfill: bool
    lines_read: int
    records_read: int
    landed: int
    quarantined: int
    duplicates: int
    dropped: int
    partitions: tuple[PartitionCount, ...] = ()
    server_filled: int = 0
    """Landed events with a value the server filled as the family declares (docs/requirements/design.md#server-fills)."""

    def __post_init__(self) -> None:
        if self.kind not in LEDGER_KINDS:
            raise ValueError(f"{self.kind!r} is not a ledger kind ({', '.join(LEDGER_KINDS)})")

    def to_row(self) -> dict:
        row = {name: getattr(self, name) for name in self.__dataclass_fields__}
        row["partitions"] = [vars(p) for p in self.partitions]
        return row

    @classmethod
    def from_row(cls, row: dict) -> LedgerEntry:
        fields = {k: row[k] for k in cls.__dataclass_fields__ if k in row}
        fields["partitions"] = tuple(PartitionCount(**p) for p in row.get("partitions") or ())
        return cls(**fields)


class Lake:
    """Paths and file operations of one lake.

    Args:
        root: the ``lake`` folder (``<data-dir>/lake``).
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.events = self.root / "events"
        self.quarantine = self.root / "quarantine"
        self.ledger = self.root / "_ledger"
        self.schemas = self.root / "_schemas"
        self.closes = self.root / "_closes"
        self.pending = self.root / PENDING_FOLDER

    def partition_dir(self, event_type: str, event_date: str) -> Path:
        return self.events / f"event_type={event_type}" / f"event_date={event_date}"

    def ensure_layout(self, registry: Registry) -> None:
        """Create folders and the zero-row ``_schema.parquet`` files that keep every source readable.

        Sentinels are rewritten only when the registry's columns for a type changed.
        """
        for qualified, schema in registry.lake_types().items():
            path = self.schemas / f"event_type={qualified}" / f"event_date={SCHEMA_SENTINEL_DATE}" / "_schema.parquet"
            self._ensure_sentinel(path, schema.arrow_schema)
        self._ensure_sentinel(self.quarantine / "_schema.parquet", QUARANTINE_SCHEMA)
        self._ensure_sentinel(self.ledger / "_schema.parquet", LEDGER_SCHEMA)
        self._ensure_sentinel(self.closes / "_schema.parquet", SESSION_CLOSE_SCHEMA)
        self.events.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _ensure_sentinel(path: Path, schema: pa.Schema) -> None:
        if path.exists():
            try:
                if pq.read_schema(path).remove_metadata().equals(schema):
                    return
            except (OSError, pa.ArrowInvalid):
                pass
        write_parquet_atomic(schema.empty_table(), path)

    # session closes ---------------------------------------------------------------------------------------
    def session_close(self, session_ids: list[str]) -> dict | None:
        """The recorded close of the first of ``session_ids`` (hashed ids, one per key) that has one."""
        for session_id in session_ids:
            path = self.closes / f"{session_id}.parquet"
            if path.exists():
                return pq.read_table(path).to_pylist()[0]
        return None

    def record_session_close(self, row: dict) -> None:
        """Write one close (columns of :data:`SESSION_CLOSE_SCHEMA`, naive UTC times) atomically."""
        table = pa.Table.from_pylist([row], schema=SESSION_CLOSE_SCHEMA)
        write_parquet_atomic(table, self.closes / f"{row['session_id']}.parquet")

    # ledger -----------------------------------------------------------------------------------------------
    def ledger_entry(self, batch_id: str) -> LedgerEntry | None:
        """The ledger row of ``batch_id``, or None when the batch never completed."""
        path = self.ledger / f"{batch_id}.parquet"
        if not path.exists():
            return None
        return LedgerEntry.from_row(pq.read_table(path).to_pylist()[0])

    def ledger_entries(self) -> list[LedgerEntry]:
        return [e for p in sorted(self.ledger.glob("*.parquet")) if not p.name.startswith("_")
                for e in [self.ledger_entry(p.stem)] if e is not None]

    def write_ledger(self, entry: LedgerEntry) -> None:
        """Write one ledger row (a batch whose rows need no publishing: an erasure)."""
        table = pa.Table.from_pylist([entry.to_row()], schema=LEDGER_SCHEMA)
        write_parquet_atomic(table, self.ledger / f"{entry.batch_id}.parquet")

    @contextmanager
    def batch_lock(self, batch_id: str) -> Iterator[None]:
        """Exclusive lock on one batch id across processes (two ingests of the same file at once: the second
        waits, then finds the ledger row and skips), inside a shared hold of :meth:`maintenance_lock` (batches
        run side by side; compaction waits for them). The lock file is removed on release."""
        with self.maintenance_lock(exclusive=False), self._batch_flock(batch_id, blocking=True):
            yield

    @contextmanager
    def maintenance_lock(self, *, exclusive: bool = True, wait: bool = True) -> Iterator[None]:
        """The lake-wide lock: ingest batches hold it shared; compaction, erasure and retention hold it
        exclusive, so files are never rewritten while a batch is still writing into the same partitions. An
        exclusive holder first settles every pending batch (:meth:`recover`), so what it rewrites is complete.

        Raises:
            BlockingIOError: ``wait`` is False and another process holds the lock in a conflicting mode.
        """
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        with self._flock("lake.lock", mode if wait else mode | fcntl.LOCK_NB):
            if exclusive:
                self._recover()
            yield

    @contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        locks = self.root / "_locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / name, "a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _batch_flock(self, batch_id: str, *, blocking: bool) -> Iterator[bool]:
        """Hold ``_locks/<batch_id>.lock`` exclusively and remove it on release; yields False when
        ``blocking`` is off and another process holds it.

        The file is unlinked while held; a waiter that then wins the lock of the unlinked file sees that the
        path no longer names its file and locks afresh, so two holders never coexist.
        """
        locks = self.root / "_locks"
        locks.mkdir(parents=True, exist_ok=True)
        path = locks / f"{batch_id}.lock"
        while True:
            handle = open(path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                handle.close()
                yield False
                return
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()  # the previous holder removed this file after we opened it: lock the new one
        try:
            yield True
        finally:
            path.unlink(missing_ok=True)
            handle.close()

    # batch commit -----------------------------------------------------------------------------------------
    def pending_path(self, batch_id: str, target: Path) -> Path:
        """Where a batch writes ``target`` (a path in the lake) before it commits: ``_pending/<batch_id>+<the
        target's parts joined by +>``."""
        relative = Path(target).relative_to(self.root).parts
        return self.pending / PENDING_SEPARATOR.join((batch_id, *relative))

    def pending_files(self, batch_id: str) -> list[Path]:
        """Every pending file of ``batch_id``, temporary files of a killed write included."""
        try:
            names = os.listdir(self.pending)
        except FileNotFoundError:
            return []
        prefix = batch_id + PENDING_SEPARATOR
        return [self.pending / n for n in sorted(names) if n.startswith(prefix) or n.startswith("." + prefix)]

    def commit(self, entry: LedgerEntry) -> list[Path]:
        """Commit and publish a batch whose files are pending: write its ledger row as a pending file, rename
        it into ``_ledger/`` (from then on the batch exists), then publish its files; returns the published
        paths.

        Raises:
            OSError: a write or rename failed; before the ledger rename the batch stays invisible.
        """
        pending = self.pending / PENDING_SEPARATOR.join((entry.batch_id, PENDING_LEDGER))
        table = pa.Table.from_pylist([entry.to_row()], schema=LEDGER_SCHEMA)
        write_parquet_atomic(table, pending)
        self.ledger.mkdir(parents=True, exist_ok=True)
        os.replace(pending, self.ledger / f"{entry.batch_id}.parquet")
        return self.publish(entry.batch_id)

    def publish(self, batch_id: str) -> list[Path]:
        """Rename every pending file of a committed batch to its place in the lake and drop its temporary
        files; returns the published paths. Idempotent: a crash half-way is finished by the next call."""
        published: list[Path] = []
        for path in self.pending_files(batch_id):
            parts = path.name.split(PENDING_SEPARATOR)[1:]
            if path.name.startswith(".") or parts == [PENDING_LEDGER]:
                path.unlink(missing_ok=True)  # a killed write's temporary file, or a ledger row never renamed
                continue
            target = self.root.joinpath(*parts)
            try:
                os.replace(path, target)
            except FileNotFoundError:
                if not path.exists():
                    raise
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
            published.append(target)
        return published

    def discard(self, batch_id: str) -> None:
        """Remove the pending files of a batch that did not commit (nothing of it was ever visible)."""
        for path in self.pending_files(batch_id):
            path.unlink(missing_ok=True)

    def settle(self, batch_id: str) -> bool:
        """Finish what an earlier run of ``batch_id`` left (the caller holds its batch lock): publish it when
        its ledger row exists, else discard it. Returns whether the batch is committed."""
        committed = (self.ledger / f"{batch_id}.parquet").exists()
        if self.pending_files(batch_id):
            if committed:
                self.publish(batch_id)
            else:
                self.discard(batch_id)
        return committed

    def recover(self) -> tuple[list[str], list[str]]:
        """Settle every pending batch no running process is writing: returns (published, discarded) batch ids.

        Called by every ingest run before its first batch (inside a shared hold of :meth:`maintenance_lock`,
        so nothing is published into a partition compaction is swapping) and, by the lock itself, for every
        exclusive holder.
        """
        with self.maintenance_lock(exclusive=False):
            return self._recover()

    def _recover(self) -> tuple[list[str], list[str]]:
        published: list[str] = []
        discarded: list[str] = []
        try:
            names = os.listdir(self.pending)
        except FileNotFoundError:
            return published, discarded
        for batch_id in sorted({n.lstrip(".").split(PENDING_SEPARATOR, 1)[0] for n in names
                                if PENDING_SEPARATOR in n}):
            with self._batch_flock(batch_id, blocking=False) as held:
                if held and self.pending_files(batch_id):
                    (published if self.settle(batch_id) else discarded).append(batch_id)
        return published, discarded

    def partition_names(self, event_type: str, event_date: str) -> list[str]:
        """Names of the published Parquet files of one partition (what every reader sees), in no order."""
        try:
            names = os.listdir(self.partition_dir(event_type, event_date))
        except FileNotFoundError:
            return []
        return [n for n in names if n.endswith(".parquet") and not n.startswith(".")]

    def write_quarantine(self, batch_id: str, part: int, rows: Iterable[dict]) -> None:
        """Write one part of a pending batch's quarantine: ``quarantine/<batch_id>-<part>.parquet`` once
        published."""
        table = pa.Table.from_pylist(list(rows), schema=QUARANTINE_SCHEMA)
        write_parquet_atomic(table, self.pending_path(batch_id, self.quarantine / f"{batch_id}-{part:04d}.parquet"))
