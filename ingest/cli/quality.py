"""``telemetry dq``: the data-quality report."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from ..quality.gx import run_dq
from .options import data_dir_option


@click.group("dq")
def dq() -> None:
    """Data-quality report: a Great Expectations checkpoint over the lake and the published marts."""


@dq.command("run")
@data_dir_option
def dq_run(data_dir: Path) -> None:
    """Validate the latest landed batch of each family, the ledger and the published marts.

    Expectations come from the registry (required fields, enums, ranges, lengths, patterns, references to
    seeds), the seed tables, the ledger (row counts) and the dbt tests of the marts. Writes Data Docs
    (readable offline) and dq/summary.json under the data directory. Exit 1 when an expectation fails.
    """
    result = run_dq(data_dir)
    stats = result.summary["statistics"]
    for validation in result.summary["validations"]:
        failed = [r for r in validation["results"] if not r["success"]]
        state = "ok  " if validation["success"] else "FAIL"
        click.echo(f"{state} {validation['asset']:<36} {validation['rows']:>8} rows  "
                   f"{len(validation['results']) - len(failed)}/{len(validation['results'])} expectations")
        for item in failed:
            detail = item["exception"] or (f"{item['unexpected_count']} unexpected" if item["unexpected_count"]
                                           else f"observed {item['observed_value']}")
            click.echo(f"       ✗ {item['expectation']} {item['column'] or ''}: {detail}")
    for skip in result.summary["skipped"]:
        click.echo(f"skip {skip['family']}: {skip['reason']}")
    click.echo(f"{stats['successful_expectations']} of {stats['evaluated_expectations']} expectations met in "
               f"{stats['validations']} validations\nData Docs: {result.data_docs}\nsummary:   {result.summary_path}")
    if not result.success:
        raise CheckFailed("data quality", f"{len(result.failed)} expectation(s) failed; see {result.data_docs}")
