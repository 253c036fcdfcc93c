"""``telemetry dbt`` and ``telemetry publish``: the warehouse."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..alerts.outbox import HOOK_COMMANDS, send_after_build
from ..warehouse.dbt import run_dbt
from ..warehouse.publish import marts_path, publish_marts
from .options import data_dir_option


RESOURCE_TYPE_OPTIONS = ("--resource-type", "--resource-types", "--exclude-resource-type",
                         "--exclude-resource-types")
"""dbt options that choose resource types; when one is given, `telemetry dbt build` passes the choice on as is."""


def daily_build_args(args: list[str]) -> list[str]:
    """``args`` for dbt, with ``--exclude-resource-type unit_test`` added to a ``build`` that chooses no resource
    types: unit tests check model logic on fixed inputs, which does not change with the data, so they run in
    development and CI (`make test`, or `telemetry dbt build --resource-type unit_test`), not in every build
    (docs/warehouse.md "The daily build")."""
    subcommand = next((a for a in args if not a.startswith("-")), None)
    if subcommand != "build" or any(a.split("=", 1)[0] in RESOURCE_TYPE_OPTIONS for a in args):
        return args
    return [*args, "--exclude-resource-type", "unit_test"]


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@data_dir_option
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt(data_dir: Path, dbt_args: tuple[str, ...]) -> None:
    """Run dbt on this data directory's warehouse, e.g. `telemetry dbt build` (same as `dbt build
    --exclude-resource-type unit_test` from the repository root with TELEMETRY_DATA_DIR set: the daily build
    leaves dbt's unit tests to development and CI; any `--resource-type` or `--exclude-resource-type` option is
    passed on as given instead).

    After `build`, `run` and `test`, new alerts are sent when TELEMETRY_ALERTS_FILE is set (docs/alerts.md); a
    delivery problem is reported and never changes dbt's exit code.
    """
    args = daily_build_args(list(dbt_args) or ["build"])
    run = run_dbt(args, data_dir, check=False)
    click.echo(run.summary(), err=True)
    if next((a for a in args if not a.startswith("-")), None) in HOOK_COMMANDS:
        line = send_after_build(data_dir)
        if line:
            click.echo(line, err=True)
    sys.exit(run.returncode)


@click.command("publish")
@data_dir_option
def publish(data_dir: Path) -> None:
    """Write every mart to <data-dir>/marts/<mart>.parquet (temp file + rename) for notebooks and reports.

    `telemetry dbt build` does this after every successful build; run it after a plain `dbt build`.
    Fails (exit 2) without a warehouse, and (exit 3) while a build holds the warehouse lock.
    """
    published = publish_marts(data_dir)
    for item in published:
        click.echo(f"{item.mart.name:<36} {item.rows:>10} rows  {item.path}")
    click.echo(f"published {len(published)} mart(s) to {marts_path(data_dir)}")
