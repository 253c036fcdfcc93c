"""``telemetry retention`` and ``telemetry erase``: the data lifecycle."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import WAREHOUSE_FILE
from ..lake.layout import Lake
from ..lifecycle import retention as policy
from ..lake.storage import (DEFAULT_MIN_SMALL_FILES, DEFAULT_TARGET_BYTES, MAX_FILE_BYTES, MIB, MIN_FILE_BYTES,
                            StoragePolicy)
from ..lake.compaction import compact
from ..lifecycle.erasure import erase_and_rebuild
from .options import data_dir_option, key_options, keyring, load_registry, parse_as_of, schemas_option


@click.group()
def retention() -> None:
    """Retention windows per family and layer (from each family's seed)."""


@retention.command("apply")
@data_dir_option
@schemas_option
@click.option("--as-of", "as_of", metavar="T", help="Apply the windows as of this date (default: today, UTC).")
@click.option("--dry-run", is_flag=True, help="Print what would be dropped; change nothing.")
def retention_apply(data_dir: Path, schemas_dir: Path, as_of: str | None, dry_run: bool) -> None:
    """Drop raw partitions, quarantine files and aggregate rows older than their family's windows. Every drop
    is printed and logged to lake/_maintenance/retention.jsonl. Rollups keep their own (longer) history."""
    registry = load_registry(schemas_dir)
    drops = policy.apply(registry, Lake(data_dir / "lake"), parse_as_of(as_of).date(), data_dir / WAREHOUSE_FILE,
                         dry_run=dry_run)
    verb = "would drop" if dry_run else "dropped"
    for drop in drops:
        rows = f" ({drop.rows} rows)" if drop.rows is not None else ""
        click.echo(f"{verb} {drop.layer:<10} {drop.target}{rows}  [{drop.family}, kept from {drop.cutoff}]")
    click.echo(f"{len(drops)} drop(s){' planned' if dry_run else ''}")


@click.command("compact")
@data_dir_option
@schemas_option
@click.option("--family", "families", multiple=True, metavar="F", help="Only this family (repeatable; default: all).")
@click.option("--as-of", "as_of", metavar="T", help="Measure partition ages (tiers) from this date (default: today, UTC).")
@click.option("--target-mb", type=click.IntRange(MIN_FILE_BYTES // MIB, MAX_FILE_BYTES // MIB),
              default=DEFAULT_TARGET_BYTES // MIB, show_default=True,
              help="Hot and warm tiers: largest file to write; files under half of it count as small.")
@click.option("--cold-target-mb", type=click.IntRange(MIN_FILE_BYTES // MIB, MAX_FILE_BYTES // MIB),
              default=MAX_FILE_BYTES // MIB, show_default=True, help="Cold tier: largest file to write.")
@click.option("--min-files", type=click.IntRange(min=2), default=DEFAULT_MIN_SMALL_FILES, show_default=True,
              help="Hot tier: small files of one compaction level that make a partition compacted.")
@click.option("--dry-run", is_flag=True, help="Print what would be merged; change nothing.")
def compact_command(data_dir: Path, schemas_dir: Path, families: tuple[str, ...], as_of: str | None, target_mb: int,
                    cold_target_mb: int, min_files: int, dry_run: bool) -> None:
    """Merge each partition's small Parquet files into files of about the target size, as the partition's
    storage tier asks (docs/requirements/recsys.md#partitioning: 128 MB–1 GB; #retention: hot/warm/cold):
    hot (up to 30 days old) once it holds --min-files small files of one level, warm (31–90 days) and cold
    (older) fully, cold to --cold-target-mb. `telemetry ingest` does the same after landing.

    Readers see the old partition or the new one (an atomic folder swap); rows, batch ids, the ledger and
    deduplication are unchanged. Waits for running ingest batches to finish.
    """
    registry = load_registry(schemas_dir)
    event_types = None
    if families:
        unknown = sorted(set(families) - set(registry.families))
        if unknown:
            raise click.BadParameter(f"unknown family {', '.join(unknown)}; known: {', '.join(sorted(registry.families))}",
                                     param_hint="--family")
        event_types = [t for t, s in registry.lake_types().items() if s.family in families]
    try:
        policy = StoragePolicy(target_mb * MIB, cold_target_mb * MIB, min_files)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cold-target-mb") from None
    report = compact(Lake(data_dir / "lake"), event_types=event_types, policy=policy,
                     as_of=parse_as_of(as_of).date(), registry=registry, dry_run=dry_run)
    for result in report.partitions:
        click.echo(f"{result.path.parent.name}/{result.path.name}: {result.tier.name}, {result.files_before} → "
                   f"{result.files_after} file(s)")
    click.echo(report.summary())


@click.command()
@click.option("--player", "player_id", required=True, help="The player's raw id, as producers send it.")
@data_dir_option
@key_options
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option("--no-build", is_flag=True, help="Skip the dbt build that re-aggregates the affected dates.")
def erase(player_id: str, data_dir: Path, hash_key_file: Path | None, demo_key: bool, dry_run: bool, no_build: bool) -> None:
    """Erase one player: remove their rows from every lake partition (rewriting only affected files) and the
    quarantine, re-aggregate the affected dates with dbt, and print a before/after report."""
    report, before, after = erase_and_rebuild(data_dir, keyring(demo_key, hash_key_file), player_id,
                                              dry_run=dry_run, build=not no_build)
    click.echo(f"player keys: {', '.join(k[:12] + '…' for k in report.player_keys)}")
    click.echo(f"lake: {report.rows_removed} row(s) in {len(report.partitions)} partition(s), "
               f"{report.files_rewritten} file(s) {'to rewrite' if dry_run else 'rewritten'}")
    for (event_type, event_date), n in sorted(report.partitions.items()):
        click.echo(f"  {event_type}/{event_date}: -{n}")
    click.echo(f"quarantine: {report.quarantine_removed} line(s) {'to remove' if dry_run else 'removed'}")
    click.echo("warehouse (rows holding the player, before → after):")
    for table in sorted(set(before) | set(after)):
        if before.get(table) or after.get(table):
            click.echo(f"  {table}: {before.get(table, 0)} → {after.get(table, 0)}")
    if dry_run:
        click.echo("dry run: nothing changed")
