"""Ingest one input file as one batch: parse → resolve → validate → normalize → privacy → dedup → land.

Contract (docs/requirements/design.md#nothing-lost, docs/requirements/design.md#exactly-once,
docs/requirements/design.md#time, docs/requirements/design.md#privacy, docs/lake.md): for every batch
``records_read = landed + quarantined + duplicates + dropped`` (a record is a line, or one event of a batch
envelope), recorded in the ledger and returned. A file
whose sha256 is already in the ledger is skipped. A batch writes under ``lake/_pending/``, commits by
renaming its ledger row into ``_ledger/`` and then publishes its files (docs/lake.md, "Batch commit"): readers
never see a batch without its ledger row, and a re-run lands every event exactly once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from pathlib import Path
from collections.abc import Callable, Iterator

from ..errors import InputError
from ..lake.layout import Lake
from ..registry.schema import Registry
from .dedup import LandedIds
from .outcome import BatchResult, ChunkOutcome
from .processor import ChunkProcessor, chunk_processor
from .reader import Line, LineReader, open_input, read_extent
from .settings import IngestSettings
from .writer import ROWS_PER_FILE, BatchWriter


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a regular file as it was when opened (bytes appended meanwhile are not
    covered).

    Raises:
        InputError: the file cannot be read, or is not a regular file (a FIFO, socket or device).
    """
    digest, size = hashlib.sha256(), 0
    handle, extent = open_input(path)
    try:
        with handle:
            for chunk in read_extent(handle, extent):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise InputError(str(path), error.strerror or str(error)) from error
    return digest.hexdigest(), size


_WORKER: ChunkProcessor | None = None


def _worker_init(settings: IngestSettings, columnar: bool = False) -> None:
    global _WORKER
    _WORKER = chunk_processor(Registry.load(settings.schemas_root), settings, columnar=columnar, threads=1)


def _worker_chunk(task: tuple[list[tuple[int, bytes, int, str | None]], str, str]) -> ChunkOutcome:
    raw_lines, batch_id, source = task
    assert _WORKER is not None
    return _WORKER.process_chunk([Line(*t) for t in raw_lines], batch_id, source)


class BatchIngest:
    """Runs batches (one input file each) through the pipeline, on ``workers`` processes.

    Args:
        registry: the loaded schema registry (``registry.root`` is reloaded in worker processes).
        lake: the target lake.
        settings: clock, key, late/backfill, opt-out, line limit.
        workers: processes that parse and validate (1 = in this process). Merging, dedup and writing stay
            in this process, in input order, so the result does not depend on ``workers``.
        progress: called now and then with the number of input bytes consumed in the current file.
        rows_per_file: a partition's buffer is written out as a Parquet file at this many rows.
        columnar: validate and normalise in DuckDB where proven identical (``pipeline/columnar.py``), handing
            every other line to the row path. False = the row path only (the reference).

    Attributes:
        processor: the one :class:`~ingest.pipeline.processor.ChunkProcessor` of this process (worker
            processes build the same kind); its ``chunk_lines`` sets the chunk size.
    """

    def __init__(self, registry: Registry, lake: Lake, settings: IngestSettings, *, workers: int = 1,
                 progress: Callable[[int], None] | None = None, rows_per_file: int = ROWS_PER_FILE,
                 columnar: bool = False):
        self.registry = registry
        self.lake = lake
        self.settings = settings
        self.workers = max(1, workers)
        self.progress = progress
        self.rows_per_file = rows_per_file
        self.landed_ids = LandedIds(lake)
        self.columnar = columnar
        self.processor: ChunkProcessor = chunk_processor(registry, settings, columnar=columnar,
                                                         threads=1 if self.workers > 1 else None)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> BatchIngest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _outcomes(self, reader: LineReader, batch_id: str, source: str) -> Iterator[ChunkOutcome]:
        size = self.processor.chunk_lines

        def chunks() -> Iterator[list[Line]]:
            chunk: list[Line] = []
            for line in reader:
                chunk.append(line)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        if self.workers == 1:
            for chunk in chunks():
                yield self.processor.process_chunk(chunk, batch_id, source)
            return
        if self._pool is None:
            context = multiprocessing.get_context("forkserver" if os.name != "nt" else "spawn")
            self._pool = context.Pool(self.workers, initializer=_worker_init,
                                      initargs=(self.settings, self.columnar))
        # a bounded window of chunks in flight (Pool.imap would read the whole input ahead: memory grows with it)
        pending: deque = deque()
        for chunk in chunks():
            task = ([(line.number, line.data, line.length, line.damaged) for line in chunk], batch_id, source)
            pending.append(self._pool.apply_async(_worker_chunk, (task,)))
            if len(pending) > self.workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def run(self, path: Path) -> BatchResult:
        """Ingest ``path`` as one batch and return its accounting; only the bytes the file held when it was
        opened are read (its sha256, byte count and lines describe the same extent).

        Raises:
            InputError: the file cannot be read, is not a regular file, or was rewritten while being read
                (nothing of it lands).
            LakeWriteFailed: writing the lake failed (a full disk); nothing of the batch is visible.
        """
        path = Path(path)
        sha, size = file_sha256(path)
        batch_id = sha[:16]
        with self.lake.batch_lock(batch_id):
            if self.lake.settle(batch_id):  # committed (by an earlier run, perhaps not yet published)
                return BatchResult(batch_id, str(path), sha, skipped=True)
            try:
                writer = BatchWriter(self.lake, BatchResult(batch_id, str(path), sha),
                                     rows_per_file=self.rows_per_file, rate_rules=self.registry.rate_limits(),
                                     landed_ids=self.landed_ids)
                reader = LineReader(path, store_cap=max(self.settings.max_line_bytes, 64 << 20), size=size)
                for outcome in self._outcomes(reader, batch_id, str(path)):
                    writer.add(outcome)
                    if self.progress is not None:
                        self.progress(reader.bytes_consumed)
                if not reader.read_failed and (reader.bytes_consumed, reader.sha256) != (size, sha):
                    raise InputError(str(path), "it changed while it was read (rewritten, not appended to): "
                                                "nothing of it landed; ingest it again once it is complete")
                writer.result.damage, writer.result.damage_message = reader.damage, reader.damage_message
                result = writer.finish(source_bytes=size, as_of=self.settings.received_at(),
                                       backfill=self.settings.backfill)
            except BaseException:
                self.landed_ids.forget()
                if not (self.lake.ledger / f"{batch_id}.parquet").exists():
                    self.lake.discard(batch_id)
                raise
            self.landed_ids.end_batch()
            return result
