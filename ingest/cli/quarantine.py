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


@quarantine.command("show")
@data_dir_option
@click.option("--reason", help="Only lines quarantined with this reason code.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many lines.")
@key_options
def quarantine_show(data_dir: Path, reason: str | None, limit: int, hash_key_file: Path | None, demo_key: bool) -> None:
    """Print quarantined lines as they arrived, with their reason and every error message. Lines are stored
    encrypted; this needs the keyring they were sealed with (exit 2 when a line's key is not in it)."""
    import pyarrow.parquet as pq

    from ..privacy.quarantine_crypto import QuarantineCipher, open_messages, open_raw

    cipher = QuarantineCipher(keyring(demo_key, hash_key_file))
    folder = data_dir / "lake" / "quarantine"
    shown = 0
    for path in sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("_")):
        for row in pq.read_table(path).to_pylist():
            if reason and row["reason"] != reason:
                continue
            if shown >= limit:
                return
            raw = open_raw(cipher, row)
            messages = open_messages(cipher, row)
            index = f"[{row['record_index']}]" if row["record_index"] is not None else ""
            click.echo(f"{row['reason']}  {row['source_file']}:{row['line_number']}{index}  batch {row['batch_id']}  "
                       f"key {row.get('raw_key_id') or '-'}")
            for error, message in zip(row["errors"] or [], messages):
                click.echo(f"  {error['pointer'] or '/'} [{error['keyword']}] {message}")
            click.echo("  " + raw.decode("utf-8", errors="backslashreplace"))
            shown += 1
    if not shown:
        click.echo(f"no quarantined line with reason {reason}" if reason else "the quarantine is empty")
