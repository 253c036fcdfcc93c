"""``telemetry quarantine``: inspect and replay rejected lines."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from ..lake.layout import Lake
from ..pipeline.replay import replay_quarantine
from ..pipeline.service import accounting, ingest_settings
from .options import data_dir_option, key_options, keyring, load_registry, schemas_option


@click.group()
def quarantine() -> None:
    """Inspect and replay the quarantine (lake/quarantine)."""


@quarantine.command("replay")
@data_dir_option
@schemas_option
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only lines received on or after this UTC date.")
@key_options
@click.option("--backfill", is_flag=True, help="Accept events older than the late window of their arrival.")
def quarantine_replay(data_dir: Path, schemas_dir: Path, since: datetime | None, hash_key_file: Path | None,
                      demo_key: bool, backfill: bool) -> None:
    """Re-validate quarantined lines against today's registry; land those that now pass, keep the rest with
    their current reason. Each line is judged by the clock of its original arrival. Idempotent."""
    registry = load_registry(schemas_dir)
    settings = ingest_settings(data_dir, registry, keyring(demo_key, hash_key_file), datetime.now(timezone.utc),
                               backfill=backfill)
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    result = replay_quarantine(registry, lake, settings, since.date() if since else None)
    if result.batch is None:
        click.echo("nothing to replay")
        return
    b = result.batch
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(b.quarantined_by_reason.items()))
    line = accounting(result.replayed, b.landed, b.quarantined, b.duplicates, b.dropped, verb="replayed")
    click.echo(f"replay {b.batch_id}: {line} (still quarantined{': ' + reasons if reasons else ''})")
