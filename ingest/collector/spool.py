"""The collector's durable spool (docs/requirements/design.md#collector): a request is acknowledged only after its lines are on disk.

Each serving process appends to its own open file ``<data>/spool/<stamp>-<pid>-<n>.jsonl.part`` and holds an
exclusive ``flock`` on it. Appends are group-committed: concurrent requests hand their bytes to whichever thread
is writing, which writes them together and calls ``fsync`` once; each caller returns only when its bytes are
durable. When the write or the ``fsync`` fails (a full disk), the file is cut back to the length it had after the
last acknowledged group, so the refused requests leave no byte behind and the acknowledged ones keep theirs. A
file rotates by size or age: it is closed and renamed to ``….jsonl`` (sealed). Sealed files are
batches for :func:`ingest.pipeline.service.ingest_files`, landed exactly once by file sha256 in the ledger, then
removed. A ``.part`` file whose lock nobody holds was left by a killed server: :func:`recover` cuts it after its
last complete line (a torn tail belongs to a request that was never acknowledged) and seals it.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable

from ..errors import InputError, SpoolWriteFailed
from ..lake.storage import DEFAULT_POLICY, StoragePolicy
from ..pipeline.settings import IngestSettings
from ..pipeline.service import IngestReport, ingest_files
from ..registry.schema import Registry

PART_SUFFIX = ".jsonl.part"
SEALED_SUFFIX = ".jsonl"
DEFAULT_MAX_BYTES = 8 << 20
DEFAULT_MAX_SECONDS = 2.0
_COUNTER = itertools.count()
log = logging.getLogger("telemetry.collector")


def spool_dir(data_dir: Path) -> Path:
    """``<data_dir>/spool``: where the collector keeps received lines until they land."""
    return Path(data_dir) / "spool"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Open:
    path: Path
    fd: int
    opened: float
    size: int = 0
    """Bytes acknowledged (written and fsync'ed): the file is cut back to this length after a failed write."""
    torn: bool = False
    """A failed write could not be cut back yet: nothing more is written until it is."""


@dataclass
class Spool:
    """One process's append-only spool writer (thread-safe, group commit).

    Args:
        root: the spool folder (created when missing).
        max_bytes: rotate the open file once it holds this many bytes.
        max_seconds: rotate the open file once it is this old (checked on append and by :meth:`rotate_if_due`).
    """

    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    max_seconds: float = DEFAULT_MAX_SECONDS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cond: threading.Condition = field(init=False, repr=False)
    _pending: list[bytes] = field(default_factory=list, repr=False)
    _queued: int = 0
    _durable: int = 0
    _failed: dict[int, str] = field(default_factory=dict, repr=False)
    _writing: bool = False
    _open: _Open | None = None
    _closed: bool = False
    appended_bytes: int = 0
    fsyncs: int = 0
    _lines: dict[str, int] = field(default_factory=dict, repr=False)
    """Lines acknowledged per file (by name without suffix), for :meth:`lag`."""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition(self._lock)

    # --- writing -----------------------------------------------------------------------------------------------
    def _new_file(self) -> _Open:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.root / f"{stamp}-{os.getpid()}-{next(_COUNTER):06d}{PART_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _fsync_dir(self.root)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return _Open(path, fd, time.monotonic())

    def _seal_locked(self) -> Path | None:
        """Close and rename the open file (caller holds the writer role). Returns the sealed path."""
        current = self._open
        if current is None:
            return None
        self._repair(current)  # raises while a refused request's bytes cannot be cut away: the file stays open
        if current.size == 0:
            self._open = None
            os.close(current.fd)
            current.path.unlink(missing_ok=True)
            return None
        os.fsync(current.fd)
        sealed = current.path.with_name(current.path.name[: -len(PART_SUFFIX)] + SEALED_SUFFIX)
        os.rename(current.path, sealed)
        self._open = None
        try:
            _fsync_dir(self.root)
        finally:
            os.close(current.fd)  # releases the flock after the rename: recovery never sees a half-sealed file
        return sealed

    def append(self, data: bytes) -> None:
        """Append ``data`` (complete lines, each ending in a newline) and return once it is fsync'ed.

        Raises:
            SpoolWriteFailed: the bytes could not be made durable (the request must not be acknowledged).
        """
        if not data:
            return
        with self._cond:
            if self._closed:
                raise SpoolWriteFailed(str(self.root), "the spool is closed (the server is shutting down)")
            self._pending.append(data)
            self._queued += 1
            mine = self._queued
            while self._durable < mine:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                chunk, self._pending = b"".join(self._pending), []
                upto = self._queued
                self._cond.release()
                error = None
                try:
                    self._write(chunk)
                except OSError as failure:
                    error = failure.strerror or str(failure)
                finally:
                    self._cond.acquire()
                    self._writing = False
                if error is not None:
                    for seq in range(self._durable + 1, upto + 1):
                        self._failed[seq] = error
                self._durable = upto
                self._cond.notify_all()
            failure = self._failed.pop(mine, None)
            if failure is not None:
                raise SpoolWriteFailed(str(self.root), failure)

    def _write(self, chunk: bytes) -> None:
        """Write and fsync one group of requests (the acknowledgement point); on any failure cut the file back to
        its last acknowledged length, so a refused request leaves no byte behind (raises the OSError)."""
        if self._open is None:
            self._open = self._new_file()
        current = self._open
        self._repair(current)
        try:
            view = memoryview(chunk)
            while view:
                written = os.write(current.fd, view)
                view = view[written:]
            os.fsync(current.fd)
        except OSError:
            current.torn = True
            try:
                self._repair(current)
            except OSError:
                log.error("could not cut %s back to %d bytes after a failed write; retrying before the next one",
                          current.path, current.size)
            raise
        current.size += len(chunk)
        stem = current.path.name[: -len(PART_SUFFIX)]
        self._lines[stem] = self._lines.get(stem, 0) + chunk.count(b"\n")
        self.appended_bytes += len(chunk)
        self.fsyncs += 1
        if current.size >= self.max_bytes or time.monotonic() - current.opened >= self.max_seconds:
            try:
                self._seal_locked()
            except OSError:  # the bytes are durable and acknowledged; sealing is retried by rotate_if_due
                log.exception("sealing %s failed; will retry", current.path)

    @staticmethod
    def _repair(current: _Open) -> None:
        """Cut a file left torn by a failed write back to its acknowledged length (raises OSError if it cannot)."""
        if current.torn:
            os.ftruncate(current.fd, current.size)
            os.fsync(current.fd)
            current.torn = False

    def _as_writer(self, action: Callable[[], object]) -> object:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._writing = True
        try:
            return action()
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def rotate(self) -> Path | None:
        """Seal the open file now (nothing to do when none is open)."""
        return self._as_writer(self._seal_locked)  # type: ignore[return-value]

    def rotate_if_due(self) -> Path | None:
        """Seal the open file when it is older than ``max_seconds``."""
        def due() -> Path | None:
            if self._open is not None and time.monotonic() - self._open.opened >= self.max_seconds:
                return self._seal_locked()
            return None
        return self._as_writer(due)  # type: ignore[return-value]

    def close(self) -> Path | None:
        """Refuse further appends and seal the open file."""
        with self._cond:
            self._closed = True
        return self.rotate()

    def lag(self) -> int:
        """Lines this process acknowledged that are not landed yet (its files still in the spool folder): the
        collector's load signal (docs/collector.md "Load")."""
        known = list(self._lines)  # before listing the folder: each of these files existed before it
        present = {p.name.split(".", 1)[0] for p in self.root.glob(f"*-{os.getpid()}-*")}
        for stem in known:
            if stem not in present:
                self._lines.pop(stem, None)  # landed and removed
        return sum(list(self._lines.values()))

    def own_sealed(self) -> list[Path]:
        """Sealed files this process wrote, oldest first."""
        return sorted(self.root.glob(f"*-{os.getpid()}-*{SEALED_SUFFIX}"))


def recover(root: Path) -> list[Path]:
    """Seal every ``.part`` file no live writer holds (a killed server's), cut after its last complete line.

    Returns:
        The files sealed.
    """
    sealed: list[Path] = []
    root = Path(root)
    if not root.is_dir():
        return sealed
    for part in sorted(root.glob(f"*{PART_SUFFIX}")):
        try:
            fd = os.open(part, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live server is writing it
            size = os.fstat(fd).st_size
            keep = _complete_prefix(fd, size)
            if keep != size:
                os.ftruncate(fd, keep)
            os.fsync(fd)
            if keep == 0:
                part.unlink(missing_ok=True)
                continue
            target = part.with_name(part.name[: -len(PART_SUFFIX)] + SEALED_SUFFIX)
            os.rename(part, target)
            _fsync_dir(root)
            sealed.append(target)
        finally:
            os.close(fd)
    return sealed


def _complete_prefix(fd: int, size: int) -> int:
    """Length of the file up to and including its last newline."""
    position, block = size, 1 << 16
    while position > 0:
        start = max(0, position - block)
        data = os.pread(fd, position - start, start)
        index = data.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        position = start
    return 0


def sealed_files(root: Path) -> list[Path]:
    """Every sealed spool file, oldest first (the name starts with its UTC creation time)."""
    root = Path(root)
    return sorted(root.glob(f"*{SEALED_SUFFIX}")) if root.is_dir() else []


def land(files: list[Path], settings: IngestSettings, data_dir: Path, registry: Registry,
         on_batch: Callable | None = None, compaction: StoragePolicy | None = DEFAULT_POLICY) -> IngestReport:
    """Land sealed spool files through the one ingest path, then remove them.

    Each file is one batch, judged with the clock of its last append (its modification time), which is within
    one rotation interval of when its requests were answered. A file already in the ledger is skipped (its
    events landed before a crash between landing and removal) and removed too. After each file the lake is
    compacted as :func:`ingest.pipeline.service.ingest_files` does (``compaction``; None = off).
    """
    report = IngestReport(lake_root=Path(data_dir) / "lake")
    for path in files:
        try:
            clock = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            # one call per file: another lander (the server's, or `ingest --spool`) may take a file meanwhile
            part = ingest_files([path], replace(settings, as_of=clock, collector_notes=True), data_dir,
                                registry=registry, workers=1, on_batch=on_batch, compaction=compaction)
        except (FileNotFoundError, InputError):
            if path.exists():
                raise
            continue  # landed and removed by the other lander
        report.batches += part.batches
        if part.compaction is not None:
            if report.compaction is None:
                report.compaction = part.compaction
            else:
                report.compaction.partitions += part.compaction.partitions
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    return report


def land_all(data_dir: Path, settings: IngestSettings, registry: Registry,
             on_batch: Callable | None = None, compaction: StoragePolicy | None = DEFAULT_POLICY) -> IngestReport:
    """What ``telemetry ingest --spool`` does: recover a killed server's open files, then land every sealed
    file of the spool."""
    root = spool_dir(data_dir)
    recover(root)
    return land(sealed_files(root), settings, data_dir, registry, on_batch=on_batch, compaction=compaction)
