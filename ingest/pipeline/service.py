"""The one way in: land files in a data directory's lake and account for every record.

The command line, the demo, the importers' demos and the HTTP collector all call :func:`ingest_files`; the
accounting line people read is formatted in one place, :func:`accounting`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from collections.abc import Callable, Iterable

from ..errors import InputError
from ..lake.layout import Lake
from ..lake.storage import DEFAULT_POLICY, StoragePolicy
from ..lake.compaction import CompactionReport, compact
from ..privacy.keys import Keyring
from ..privacy.opt_out import opted_out_keys
from ..registry.schema import Registry
from .outcome import BatchResult
from .runner import BatchIngest
from .settings import IngestSettings
from .writer import ROWS_PER_FILE
from .reader import not_regular

INPUT_SUFFIXES = (".jsonl", ".jsonl.gz")


def accounting(read: int | str, landed: int, quarantined: int, duplicates: int, dropped: int, *, verb: str = "read") -> str:
    """``read N = landed L + quarantined Q + duplicates D + dropped P``: the ingest contract as people read it."""
    return f"{verb} {read} = landed {landed} + quarantined {quarantined} + duplicates {duplicates} + dropped {dropped}"


def batch_summary(result: BatchResult) -> str:
    """One line per batch: id, file, the accounting and the reasons (``batch 3f… a.jsonl: read 10 = …``)."""
    if result.skipped:
        return f"skip   {result.source_file}: batch {result.batch_id} is already in the ledger"
    read = f"{result.records_read}" + (f" records in {result.lines_read} lines"
                                       if result.records_read != result.lines_read else "")
    line = (f"batch  {result.batch_id} {result.source_file}: "
            + accounting(read, result.landed, result.quarantined, result.duplicates, result.dropped))
    reasons = ", ".join(f"{k} {v}" for k, v in sorted((result.quarantined_by_reason + result.dropped_by_reason).items()))
    return line + (f" ({reasons})" if reasons else "")


@dataclass
class IngestReport:
    """What one call of :func:`ingest_files` did: every batch, in input order.

    Attributes:
        batches: one result per input file (skipped files included, with ``skipped`` set).
        lake_root: the lake the batches landed in.
        refused: ``(path, why)`` of each input left out (with ``keep_going``): unreadable, not a regular
            file, changed while read.
        compaction: what the compaction after landing did (None when it was off or nothing landed).
    """

    batches: list[BatchResult] = field(default_factory=list)
    lake_root: Path | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    compaction: CompactionReport | None = None

    def _total(self, name: str) -> int:
        return sum(getattr(b, name) for b in self.batches if not b.skipped)

    @property
    def records_read(self) -> int:
        return self._total("records_read")

    @property
    def landed(self) -> int:
        return self._total("landed")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")

    @property
    def duplicates(self) -> int:
        return self._total("duplicates")

    @property
    def dropped(self) -> int:
        return self._total("dropped")

    @property
    def damaged(self) -> list[BatchResult]:
        """Batches whose input was cut short or corrupt (every line before the damage landed)."""
        return [b for b in self.batches if b.damage]

    @property
    def balanced(self) -> bool:
        return all(b.balanced for b in self.batches if not b.skipped)

    def summary(self) -> str:
        """``total: read N = landed … (F file(s), S skipped); lake: …``."""
        skipped = sum(b.skipped for b in self.batches)
        refused = f", {len(self.refused)} refused" if self.refused else ""
        return (f"total: {accounting(self.records_read, self.landed, self.quarantined, self.duplicates, self.dropped)}"
                f" ({len(self.batches)} file(s){f', {skipped} skipped' if skipped else ''}{refused})"
                + (f"; lake: {self.lake_root}" if self.lake_root else ""))


def input_files(paths: Iterable[Path], refused: list[tuple[str, str]] | None = None) -> list[Path]:
    """Expand folders into their ``.jsonl``/``.jsonl.gz`` regular files (sorted); files are taken as given.

    Args:
        refused: when given, what cannot be ingested is appended here as ``(path, why)`` and left out: a
            folder that cannot be listed, an input-named entry that is not a regular file (FIFO, socket,
            device) or cannot be examined. When None, the first such problem raises.

    Raises:
        InputError: a path does not exist (always), or a problem above when ``refused`` is None.
    """
    problems: list[tuple[str, str]] = []
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found: list[Path] = []

            def unlisted(error: OSError) -> None:
                problems.append((str(error.filename or path),  # noqa: B023 (called within this iteration's walk)
                                 f"cannot list this folder: {error.strerror or error}"))

            for folder, _, names in os.walk(path, onerror=unlisted):
                for name in names:
                    if not name.endswith(INPUT_SUFFIXES):
                        continue
                    entry = Path(folder) / name
                    try:
                        kind = not_regular(entry.stat().st_mode)
                    except OSError as error:
                        problems.append((str(entry), error.strerror or str(error)))
                        continue
                    if kind is None:
                        found.append(entry)
                    else:
                        problems.append((str(entry), f"{kind}, not a regular file"))
            files += sorted(found)
        elif path.exists():
            files.append(path)  # checked when opened (a named FIFO is refused then, without blocking)
        else:
            raise InputError(str(path), "no such file or folder")
    if problems and refused is None:
        raise InputError(*problems[0])
    if refused is not None:
        refused += problems
    return files


def ingest_settings(data_dir: Path, registry: Registry, keyring: Keyring, as_of: datetime,
                    **options: object) -> IngestSettings:
    """Settings for ingesting into ``data_dir``: the keyring, the run's clock and the data directory's opt-out
    list (``privacy/opt_out.txt``); ``options`` as :class:`IngestSettings` (``backfill``, ``max_line_bytes``)."""
    return IngestSettings.with_keyring(registry.root, keyring, as_of, opted_out=opted_out_keys(data_dir, keyring),
                                       **options)


def ingest_files(paths: Iterable[Path], settings: IngestSettings, data_dir: Path, *,
                 registry: Registry | None = None, workers: int = 1, rows_per_file: int = ROWS_PER_FILE,
                 as_of: Callable[[Path], datetime] | None = None, progress: Callable[[int], None] | None = None,
                 on_batch: Callable[[BatchResult], None] | None = None, columnar: bool = True,
                 keep_going: bool = False, on_refused: Callable[[str, str], None] | None = None,
                 compaction: StoragePolicy | None = DEFAULT_POLICY) -> IngestReport:
    """Ingest each file as one batch into ``<data_dir>/lake`` (docs/requirements/design.md#nothing-lost,
    docs/requirements/design.md#exactly-once, docs/requirements/design.md#time, docs/requirements/design.md#privacy).

    Args:
        paths: input files (``.jsonl`` / ``.jsonl.gz``) in the order to land them.
        settings: keys, clock, backfill, opt-out, line limit (see :func:`ingest_settings`).
        data_dir: the data directory; its lake is created when missing.
        registry: the loaded registry (default: loaded from ``settings.schemas_root``).
        workers: processes that parse and validate; the result does not depend on it.
        rows_per_file: rows per Parquet file within a partition.
        as_of: a clock per file (a generator's expected arrival time), overriding ``settings.as_of``.
        progress: called with the bytes consumed of the current file.
        on_batch: called after each batch (to print it as it lands).
        columnar: the columnar path (default; docs/requirements/design.md#columnar-ingest) — events it proves identical are validated and
            normalised in DuckDB, the rest take the row path. False = the row path alone (the reference,
            on ``workers`` processes).
        keep_going: a file that cannot be ingested (unreadable, not a regular file, rewritten while read) is
            recorded in ``report.refused`` and the run goes on; False = the error is raised.
        on_refused: called with ``(path, why)`` for each file refused with ``keep_going``.
        compaction: after the last batch, when anything landed, compact the lake's partitions as their tier
            asks (:func:`ingest.lake.compaction.compact`: hot partitions once they hold 8 small files,
            warm and cold ones fully), ages measured from the run's clock (the latest per-file clock with
            ``as_of``); it does not wait for other processes' batches (skipped while they run; the next
            run catches up). None = no compaction (``telemetry ingest --no-compact``).

    Returns:
        The report; ``report.balanced`` always holds.

    Raises:
        InputError: a file cannot be read at all (unless ``keep_going``).
        LakeWriteFailed: the lake cannot be written (a full disk); the batch being written is not visible.
        RegistryError: the registry is unusable.
    """
    registry = registry or Registry.load(settings.schemas_root)
    lake = Lake(Path(data_dir) / "lake")
    lake.ensure_layout(registry)
    lake.recover()  # batches an interrupted run left: publish the committed ones, remove the rest
    report = IngestReport(lake_root=lake.root)
    runner: BatchIngest | None = None
    clocks = [settings.received_at()] if as_of is None else []
    try:
        for path in paths:
            if runner is None or as_of is not None:
                if runner is not None:
                    runner.close()
                file_settings = settings if as_of is None else replace(settings, as_of=as_of(Path(path)))
                clocks.append(file_settings.received_at())
                runner = BatchIngest(registry, lake, file_settings, workers=workers, progress=progress,
                                     rows_per_file=rows_per_file, columnar=columnar)
            try:
                result = runner.run(Path(path))
            except InputError as error:
                if not keep_going:
                    raise
                report.refused.append((error.path, error.message))
                if on_refused is not None:
                    on_refused(error.path, error.message)
                continue
            report.batches.append(result)
            if on_batch is not None:
                on_batch(result)
    finally:
        if runner is not None:
            runner.close()
    if compaction is not None and report.landed:
        report.compaction = compact(lake, policy=compaction, as_of=max(clocks).date(), registry=registry,
                                    wait=False)
    return report
