"""``telemetry ingest``: land JSON-lines files in the lake."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import InputsRefused, RejectedInput
from ..pipeline.settings import DEFAULT_MAX_LINE_BYTES
from ..pipeline.service import IngestReport, batch_summary, ingest_files, ingest_settings, input_files
from ..pipeline.writer import ROWS_PER_FILE
from ..lake.storage import DEFAULT_MIN_SMALL_FILES, StoragePolicy
from .options import data_dir_option, key_options, keyring, load_registry, parse_as_of, schemas_option


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@data_dir_option
@schemas_option
@click.option("--as-of", "as_of", metavar="T", help="The run's clock, ISO 8601 (default: now, UTC).")
@click.option("--backfill", is_flag=True, help="Load history: accept events older than the late window.")
@click.option("--strict", is_flag=True, help="Exit 1 when any line was quarantined or an input was damaged.")
@key_options
@click.option("--max-line-bytes", type=click.IntRange(min=64), default=DEFAULT_MAX_LINE_BYTES, show_default=True,
              help="Longer lines are quarantined as line_too_long.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes that parse and validate (1 = in process). Default: 1 (the columnar path runs "
                   "DuckDB on every core), with --reference the number of cores up to 4.")
@click.option("--reference", is_flag=True,
              help="Validate row by row only (the reference path the columnar default is tested against).")
@click.option("--rows-per-file", type=click.IntRange(min=1), default=ROWS_PER_FILE, show_default=True,
              help="Rows per Parquet file within a partition (memory is bounded by about twice this).")
@click.option("--no-compact", "no_compact", is_flag=True,
              help="Do not compact after landing (by default partitions are compacted as their storage tier asks: "
                   "a hot one, up to 30 days old, once it holds --compact-min-files small files; warm and cold "
                   "ones fully). Skipped, not waited for, while another process is ingesting.")
@click.option("--compact-min-files", type=click.IntRange(min=2), default=DEFAULT_MIN_SMALL_FILES, show_default=True,
              help="Small files (under 128 MiB) of one compaction level that make a hot partition compacted.")
@click.option("--spool", is_flag=True,
              help="Land the collector's spool (DATA_DIR/spool) instead of PATHS: what a stopped or killed "
                   "`telemetry serve` left, each spool file one batch, exactly once.")
def ingest(paths: tuple[Path, ...], data_dir: Path, schemas_dir: Path, as_of: str | None, backfill: bool,
           strict: bool, hash_key_file: Path | None, demo_key: bool, max_line_bytes: int, workers: int | None,
           reference: bool, rows_per_file: int, no_compact: bool, compact_min_files: int, spool: bool) -> None:
    """Validate JSON-lines files (.jsonl, .jsonl.gz, or folders of them) and land them in the lake.

    Each file is one batch: valid events land as Parquet under lake/events/event_type=…/event_date=…,
    rejected lines go to lake/quarantine with a reason, duplicates (by event_id) are dropped, and a ledger row
    records read = landed + quarantined + duplicates + dropped. A file already in the ledger is skipped.
    When anything landed, partitions are then compacted as their storage tier asks (docs/lake.md).
    A file that cannot be read, a FIFO, socket or device, or a folder that cannot be listed is reported and
    left out; the rest is ingested and the run exits 2. A file growing meanwhile is read as it was when opened.
    """
    from tqdm import tqdm

    if bool(spool) == bool(paths):
        raise click.UsageError("give PATHS or --spool (not both)")
    compaction = None if no_compact else StoragePolicy(min_small_files=compact_min_files)
    registry = load_registry(schemas_dir)
    keys = keyring(demo_key, hash_key_file)
    if spool:
        from ..collector.spool import land_all

        report = land_all(data_dir, ingest_settings(data_dir, registry, keys, parse_as_of(as_of), backfill=backfill,
                                                    max_line_bytes=max_line_bytes), registry,
                          on_batch=lambda result: click.echo(batch_summary(result), err=True), compaction=compaction)
        _say_compaction(report)
        click.echo(report.summary())
        if strict and (report.quarantined or report.damaged):
            raise RejectedInput(report.quarantined, len(report.damaged))
        return
    refused: list[tuple[str, str]] = []
    files = input_files(paths, refused)
    settings = ingest_settings(data_dir, registry, keys, parse_as_of(as_of), backfill=backfill,
                               max_line_bytes=max_line_bytes)
    bar = tqdm(total=sum(f.stat().st_size for f in files), unit="B", unit_scale=True, desc="ingest",
               disable=not sys.stderr.isatty(), leave=False)
    done = {"bytes": 0}

    def progress(consumed: int) -> None:
        bar.n = done["bytes"] + consumed
        bar.refresh()

    def say(text: str) -> None:
        if bar.disable:
            click.echo(text, err=True)
        else:
            bar.write(text, file=sys.stderr)

    def on_batch(result) -> None:
        done["bytes"] += Path(result.source_file).stat().st_size
        say(batch_summary(result))
        if result.damage:
            say(f"warning: {result.source_file}: {result.damage}: {result.damage_message}")

    def on_refused(path: str, why: str) -> None:
        say(f"refused {path}: {why}")

    for path, why in refused:
        on_refused(path, why)
    try:
        if workers is None:
            workers = min(os.cpu_count() or 1, 4) if reference else 1
        report = ingest_files(files, settings, data_dir, registry=registry, workers=workers,
                              rows_per_file=rows_per_file, progress=progress, on_batch=on_batch,
                              columnar=not reference, keep_going=True, on_refused=on_refused,
                              compaction=compaction)
    finally:
        bar.close()
    _say_compaction(report)
    report.refused[:0] = refused
    click.echo(report.summary())
    if report.refused:
        raise InputsRefused(report.refused)
    if strict and (report.quarantined or report.damaged):
        raise RejectedInput(report.quarantined, len(report.damaged))


def _say_compaction(report: IngestReport) -> None:
    """One stderr line when the compaction after landing merged anything or was skipped."""
    if report.compaction is not None and (report.compaction.partitions or report.compaction.busy):
        click.echo(report.compaction.summary(), err=True)
