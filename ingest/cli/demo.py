"""``telemetry demo``: what ``make demo`` runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..demo import run_demo
from .options import data_dir_option


@click.command()
@data_dir_option
@click.option("--recsys-only", is_flag=True, help="Only the Open Bandit sample (skip generated and SC2/WAVES data).")
def demo(data_dir: Path, recsys_only: bool) -> None:
    """Every family end to end (generated players, SC2 replays, WAVES, the Open Bandit sample): import →
    ingest → one dbt build → a few marts, CTR per day per bucket, data-quality report and dashboard."""
    run_demo(data_dir, echo=click.echo, families=not recsys_only)
