"""The ``telemetry`` command line: parses arguments, calls the library, prints, sets the exit code.

Exit codes: 0 ok; 1 data rejected while ``--strict`` (or a registry check failed); 2 usage, configuration
or I/O error.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from ..config import PROJECT_ROOT
from ..errors import ConfigError, InputError, RegistryError, TelemetryError
from ..privacy.keys import IdentityHasher, Keyring
from ..lake.layout import Lake
from ..registry.schema import Registry, check_registry



def data_dir_option(function):
    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="TELEMETRY_DATA_DIR",
        default=Path("data"), show_default=True, show_envvar=True,
        help="Data directory holding lake/, warehouse.duckdb and marts/.")(function)


def schemas_option(function):
    return click.option(
        "--schemas", "schemas_dir", type=click.Path(file_okay=False, path_type=Path), envvar="TELEMETRY_SCHEMAS_DIR",
        default=PROJECT_ROOT / "schemas", show_default=True, help="Schema registry folder.")(function)


def load_registry(schemas_dir: Path) -> Registry:
    return Registry.load(schemas_dir)


def parse_as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or timestamp") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class TelemetryGroup(click.Group):
    """Turns library errors into one-line messages and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ConfigError, InputError, RegistryError) as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)
        except TelemetryError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)


@click.group(cls=TelemetryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="game-telemetry-warehouse")
def main() -> None:
    """Game-telemetry warehouse: registry, ingest to the Parquet lake, importers.

    Build the warehouse afterwards with `dbt build` from the repository root (same TELEMETRY_DATA_DIR).
    """


# schemas ------------------------------------------------------------------------------------------------
@main.group()
def schemas() -> None:
    """Inspect and check the JSON Schema registry (schemas/)."""


@schemas.command("list")
@schemas_option
def schemas_list(schemas_dir: Path) -> None:
    """List every family, event type and version with its lake table and column count."""
    registry = load_registry(schemas_dir)
    click.echo(f"{'family':<10} {'event type':<28} {'version':<8} {'lake event_type':<36} columns")
    for schema in sorted(registry.schemas(), key=lambda s: (s.family, s.event_type, s.version)):
        click.echo(f"{schema.family:<10} {schema.event_type:<28} {schema.version:<8} {schema.qualified_type:<36} "
                   f"{len(schema.arrow_schema)}")


@schemas.command("check")
@schemas_option
@click.option("--against", "revision", metavar="REV",
              help="Also classify every schema changed since git revision REV (minor/major) and fail a wrong bump.")
def schemas_check(schemas_dir: Path, revision: str | None) -> None:
    """Check the registry: valid draft 2020-12, strict, unique $id, examples validate, mappings point at
    real fields. With --against REV, schema evolution too (added optional field = minor bump, anything else =
    major; published versions are never edited in place). Exit 1 when anything is wrong."""
    registry = load_registry(schemas_dir)
    problems = check_registry(registry)
    if revision is not None:
        from ..registry.evolution import check_evolution

        for finding in check_evolution(registry, revision):
            click.echo(str(finding))
            if not finding.ok:
                problems.append(str(finding))
    for problem in problems:
        click.echo(problem, err=True)
    count = len(registry.schemas())
    if problems:
        click.echo(f"{len(problems)} problem(s) in {count} schemas", err=True)
        sys.exit(1)
    click.echo(f"ok: {count} schemas in {len(registry.families)} families")


@schemas.command("sources")
@schemas_option
@click.option("--check", is_flag=True, help="Only report stale files (exit 1), write nothing.")
def schemas_sources(schemas_dir: Path, check: bool) -> None:
    """Generate the dbt source files models/staging/<family>/_<family>__sources.yml from the registry."""
    from ..registry.dbt_sources import stale_files, write_source_files

    registry = load_registry(schemas_dir)
    if check:
        stale = stale_files(registry, PROJECT_ROOT)
        for path in stale:
            click.echo(f"stale: {path.relative_to(PROJECT_ROOT)} (run `telemetry schemas sources`)", err=True)
        sys.exit(1 if stale else 0)
    for path in write_source_files(registry, PROJECT_ROOT):
        click.echo(f"wrote {path.relative_to(PROJECT_ROOT)}")


# ingest -------------------------------------------------------------------------------------------------
def _input_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and (p.name.endswith(".jsonl") or p.name.endswith(".jsonl.gz")))
        elif path.exists():
            files.append(path)
        else:
            raise InputError(str(path), "no such file or folder")
    return files


def _keyring(demo_key: bool, hash_key_file: Path | None) -> Keyring:
    """The keys to hash ids with: the public demo key (said aloud), else the configured keyring or key."""
    if demo_key:
        click.echo("note: using the public demo hash key 'demo' — fine for demos, never for real players", err=True)
        return Keyring.single(IdentityHasher.demo())
    return Keyring.from_environment(hash_key_file)


def _opted_out(data_dir: Path, keyring: Keyring) -> frozenset[str]:
    """Player keys (under every key of the keyring) of the raw ids listed in ``privacy/opt_out.txt``."""
    path = data_dir / "privacy" / "opt_out.txt"
    if not path.exists():
        return frozenset()
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return frozenset(h.hash(i) for i in ids if i and not i.startswith("#") for h in keyring.all())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@data_dir_option
@schemas_option
@click.option("--as-of", "as_of", metavar="T", help="The run's clock, ISO 8601 (default: now, UTC).")
@click.option("--backfill", is_flag=True, help="Load history: accept events older than the late window.")
@click.option("--strict", is_flag=True, help="Exit 1 when any line was quarantined or an input was damaged.")
@click.option("--hash-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the HMAC key (else TELEMETRY_HASH_KEYRING, else TELEMETRY_HASH_KEY).")
@click.option("--demo-key", is_flag=True, help="Use the public demo hash key (demos only: ids are NOT protected).")
@click.option("--max-line-bytes", type=click.IntRange(min=64), default=1 << 20, show_default=True,
              help="Longer lines are quarantined as line_too_long.")
@click.option("--workers", type=click.IntRange(min=1), default=min(os.cpu_count() or 1, 4), show_default=True,
              help="Processes that parse and validate (1 = in process).")
@click.option("--rows-per-file", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Rows per Parquet file within a partition (memory is bounded by about twice this).")
def ingest(paths: tuple[Path, ...], data_dir: Path, schemas_dir: Path, as_of: str | None, backfill: bool,
           strict: bool, hash_key_file: Path | None, demo_key: bool, max_line_bytes: int, workers: int,
           rows_per_file: int) -> None:
    """Validate JSON-lines files (.jsonl, .jsonl.gz, or folders of them) and land them in the lake.

    Each file is one batch: valid events land as Parquet under lake/events/event_type=…/event_date=…,
    rejected lines go to lake/quarantine with a reason, duplicates (by event_id) are dropped, and a ledger row
    records read = landed + quarantined + duplicates + dropped. A file already in the ledger is skipped.
    """
    from tqdm import tqdm

    from ..pipeline.batch import BatchIngest, IngestSettings

    registry = load_registry(schemas_dir)
    keyring = _keyring(demo_key, hash_key_file)
    files = _input_files(paths)
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    clock = parse_as_of(as_of)
    total = sum(f.stat().st_size for f in files)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="ingest", disable=not sys.stderr.isatty(), leave=False)
    done_bytes = 0

    def progress(consumed: int) -> None:
        bar.n = done_bytes + consumed
        bar.refresh()

    settings = IngestSettings.with_keyring(registry.root, keyring, clock, backfill=backfill,
                                           opted_out=_opted_out(data_dir, keyring), max_line_bytes=max_line_bytes)
    runner = BatchIngest(registry, lake, settings, workers=workers, progress=progress, rows_per_file=rows_per_file)
    rejected = damaged = False
    totals = [0, 0, 0, 0, 0]
    say = click.echo if bar.disable else (lambda text, err=True: bar.write(text, file=sys.stderr))
    with runner:
        for path in files:
            result = runner.run(path)
            done_bytes += path.stat().st_size
            if result.skipped:
                say(f"skip   {path}: batch {result.batch_id} is already in the ledger", err=True)
                continue
            read = f"{result.records_read}" + (f" records in {result.lines_read} lines" if result.records_read != result.lines_read else "")
            line = (f"batch  {result.batch_id} {path}: read {read} = landed {result.landed} + "
                    f"quarantined {result.quarantined} + duplicates {result.duplicates} + dropped {result.dropped}")
            reasons = ", ".join(f"{k} {v}" for k, v in sorted((result.quarantined_by_reason + result.dropped_by_reason).items()))
            say(line + (f" ({reasons})" if reasons else ""), err=True)
            if result.damage:
                say(f"warning: {path}: {result.damage}: {result.damage_message}", err=True)
                damaged = True
            rejected |= result.quarantined > 0
            for i, n in enumerate((result.records_read, result.landed, result.quarantined, result.duplicates, result.dropped)):
                totals[i] += n
    bar.close()
    click.echo(f"total: read {totals[0]} = landed {totals[1]} + quarantined {totals[2]} + duplicates {totals[3]} "
               f"+ dropped {totals[4]} ({len(files)} file(s)); lake: {lake.root}")
    if strict and (rejected or damaged):
        sys.exit(1)


# quarantine ---------------------------------------------------------------------------------------------
@main.group()
def quarantine() -> None:
    """Inspect and replay the quarantine (lake/quarantine)."""


@quarantine.command("replay")
@data_dir_option
@schemas_option
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only lines received on or after this UTC date.")
@click.option("--hash-key-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the HMAC key.")
@click.option("--demo-key", is_flag=True, help="Use the public demo hash key (demos only).")
@click.option("--backfill", is_flag=True, help="Accept events older than the late window of their arrival.")
def quarantine_replay(data_dir: Path, schemas_dir: Path, since: datetime | None, hash_key_file: Path | None,
                      demo_key: bool, backfill: bool) -> None:
    """Re-validate quarantined lines against today's registry; land those that now pass, keep the rest with
    their current reason. Each line is judged by the clock of its original arrival. Idempotent."""
    from ..pipeline.batch import IngestSettings
    from ..pipeline.replay import replay_quarantine

    registry = load_registry(schemas_dir)
    keyring = _keyring(demo_key, hash_key_file)
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    settings = IngestSettings.with_keyring(registry.root, keyring, datetime.now(timezone.utc), backfill=backfill,
                                           opted_out=_opted_out(data_dir, keyring))
    result = replay_quarantine(registry, lake, settings, since.date() if since else None)
    if result.batch is None:
        click.echo("nothing to replay")
        return
    b = result.batch
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(b.quarantined_by_reason.items()))
    click.echo(f"replay {b.batch_id}: replayed {result.replayed} = landed {b.landed} + still quarantined "
               f"{b.quarantined}{f' ({reasons})' if reasons else ''} + duplicates {b.duplicates} + dropped {b.dropped}")


# lifecycle ----------------------------------------------------------------------------------------------
@main.group()
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
    from ..lifecycle import retention as policy

    registry = load_registry(schemas_dir)
    drops = policy.apply(registry, Lake(data_dir / "lake"), parse_as_of(as_of).date(), data_dir / "warehouse.duckdb",
                         dry_run=dry_run)
    verb = "would drop" if dry_run else "dropped"
    for drop in drops:
        rows = f" ({drop.rows} rows)" if drop.rows is not None else ""
        click.echo(f"{verb} {drop.layer:<10} {drop.target}{rows}  [{drop.family}, kept from {drop.cutoff}]")
    click.echo(f"{len(drops)} drop(s){' planned' if dry_run else ''}")


@main.command()
@click.option("--player", "player_id", required=True, help="The player's raw id, as producers send it.")
@data_dir_option
@click.option("--hash-key-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the HMAC key.")
@click.option("--demo-key", is_flag=True, help="Use the public demo hash key (demos only).")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option("--no-build", is_flag=True, help="Skip the dbt build that re-aggregates the affected dates.")
def erase(player_id: str, data_dir: Path, hash_key_file: Path | None, demo_key: bool, dry_run: bool, no_build: bool) -> None:
    """Erase one player: remove their rows from every lake partition (rewriting only affected files) and the
    quarantine, re-aggregate the affected dates with dbt, and print a before/after report."""
    from ..privacy.erasure import compact_warehouse, erase_player, warehouse_rows
    from ..warehouse.marts import run_dbt

    keyring = _keyring(demo_key, hash_key_file)
    lake = Lake(data_dir / "lake")
    database = data_dir / "warehouse.duckdb"
    report = erase_player(lake, keyring, player_id, dry_run=True)
    before = warehouse_rows(database, report.player_keys)
    if not dry_run:
        report = erase_player(lake, keyring, player_id)
        if not no_build and database.exists():
            run_dbt(["build"], data_dir, quiet=True)
            compact_warehouse(database)  # freed DuckDB blocks would still hold the erased rows' bytes
    after = before if dry_run else warehouse_rows(database, report.player_keys)
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


# warehouse ----------------------------------------------------------------------------------------------
@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@data_dir_option
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt(data_dir: Path, dbt_args: tuple[str, ...]) -> None:
    """Run dbt on this data directory's warehouse, e.g. `telemetry dbt build` (same as `dbt build` from the
    repository root with TELEMETRY_DATA_DIR set)."""
    from ..warehouse.marts import run_dbt

    sys.exit(run_dbt(list(dbt_args) or ["build"], data_dir, check=False))


@main.command()
@data_dir_option
@click.option("--recsys-only", is_flag=True, help="Only the Open Bandit sample (skip generated and SC2/WAVES data).")
def demo(data_dir: Path, recsys_only: bool) -> None:
    """Every family end to end (generated players, SC2 replays, WAVES), then the Open Bandit sample: import →
    ingest --backfill → dbt build → CTR per day per bucket, data-quality report and dashboard."""
    from ..demo.recsys import run_demo

    run_demo(data_dir, echo=click.echo, families=not recsys_only)


# importers ----------------------------------------------------------------------------------------------
@main.group(name="import")
def import_() -> None:
    """Convert real data sets into telemetry JSON-lines."""


@import_.command("obd")
@click.argument("csv_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the JSON-lines files.")
def import_obd(csv_files: tuple[Path, ...], out_dir: Path) -> None:
    """Open Bandit Dataset CSVs (<policy>/<campaign>/<campaign>.csv) → recsys JSON-lines (seed 003).

    The mapping is documented in docs/importers/obd.md.
    """
    from ..importers.obd import import_obd as run

    result = run(list(csv_files), out_dir)
    click.echo(str(result))


# Commands defined in their own modules are registered here, one line each (keep the list sorted).
# <registered-commands>
from ..importers.sc2 import sc2_command; import_.add_command(sc2_command, "sc2")  # noqa: E402,E702
from ..importers.waves import waves_command; import_.add_command(waves_command, "waves")  # noqa: E402,E702
from ..quality.gx import dq_group; main.add_command(dq_group, "dq")  # noqa: E402,E702
from ..generate import generate_command; main.add_command(generate_command, "generate")  # noqa: E402,E702
from ..report.dashboard import report_command; main.add_command(report_command, "report")  # noqa: E402,E702
from ..warehouse.marts import publish_command; main.add_command(publish_command, "publish")  # noqa: E402,E702
# </registered-commands>


if __name__ == "__main__":  # pragma: no cover
    main()
