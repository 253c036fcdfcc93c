"""``telemetry report``: the static dashboard."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.dashboard import build_report
from .options import data_dir_option


@click.command("report")
@data_dir_option
def report(data_dir: Path) -> None:
    """Render the dashboard to <data-dir>/report/index.html: per family volume by event type, DAU, CTR by
    bucket, KPI alerts and quarantine rate by reason, from the published marts. Static, works offline."""
    result = build_report(data_dir)
    drawn = sum(c.rendered for c in result.charts)
    empty = [s.family for s in result.sections if not any(c.rendered for c in s.charts)]
    click.echo(f"{drawn} chart(s) drawn" + (f"; no data yet for {', '.join(empty)}" if empty else ""))
    click.echo(f"report: {result.path}")
