"""``telemetry alerts``: send new alerts to the configured destinations, list the outbox."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..alerts import ALERTS_FILE_ENV, alerts_file, list_alerts, load_config, send_alerts
from ..errors import AlertsPending, ConfigError
from .options import data_dir_option


def _config_option(function):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        envvar=ALERTS_FILE_ENV, show_envvar=True,
                        help="Destinations file (JSON with secret URLs: keep it outside the repository).")(function)


@click.group()
def alerts() -> None:
    """Alerts (ability anomalies, session variance, failing dbt tests, experiment SRM and guardrails) delivered
    once to webhooks and Slack; see docs/alerts.md."""


@alerts.command("send")
@data_dir_option
@_config_option
@click.option("--dry-run", is_flag=True, help="Show what would be sent where; send and write nothing.")
@click.option("--mark-sent", is_flag=True,
              help="Record every pending alert as delivered without sending it (start a destination from now).")
def send(data_dir: Path, config_path: Path | None, dry_run: bool, mark_sent: bool) -> None:
    """Detect alerts in the published marts and dbt's last results, record new ones in <data-dir>/alerts/, and
    post every pending one to its destinations (retried with backoff; at-least-once, with an idempotency key).

    `telemetry dbt build` runs this after each build when TELEMETRY_ALERTS_FILE is set.
    Exit 3 when some deliveries stay pending (the next run retries them), 2 for a bad destinations file.
    """
    path = alerts_file(config_path)
    if path is None:
        raise ConfigError(f"no destinations file: set {ALERTS_FILE_ENV} or pass --config (docs/alerts.md)")
    config = load_config(path)
    if dry_run and mark_sent:
        raise click.UsageError("--dry-run and --mark-sent exclude each other")
    report = send_alerts(data_dir, config, dry_run=dry_run, mark_sent=mark_sent)
    for name, alert in report.planned:
        click.echo(f"{name:<20} {alert.alert_id[:12]}  {alert.severity:<8} {alert.source:<26} {alert.title}")
    for source, why in report.skipped.items():
        click.echo(f"note: {source} not read: {why}", err=True)
    click.echo(report.summary(), err=True)
    if report.pending:
        raise AlertsPending(report.pending, [d.name for d in report.destinations if d.pending])


@alerts.command("list")
@data_dir_option
@_config_option
@click.option("--pending", "only_pending", is_flag=True, help="Only alerts some destination has not accepted.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def list_command(data_dir: Path, config_path: Path | None, only_pending: bool, as_json: bool) -> None:
    """List the alerts (recorded ones and new ones not sent yet) with their delivery status per destination.

    Reads only: nothing is recorded or sent.
    """
    path = alerts_file(config_path)
    destinations = load_config(path).destinations if path is not None else ()
    rows = list_alerts(data_dir, destinations)
    if only_pending:
        rows = [r for r in rows if r["detected_at"] is None or any(s != "sent" for s in r["deliveries"].values())]
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, sort_keys=True))
            continue
        status = ", ".join(f"{name}: {state}" for name, state in row["deliveries"].items()) or "no destination"
        when = row["detected_at"] or "new"
        click.echo(f"{row['alert_id'][:12]}  {when:<25} {row['severity']:<8} {row['source']:<26} {row['title']}"
                   f"  [{status}]")
    if not as_json:
        click.echo(f"{len(rows)} alert(s)", err=True)
