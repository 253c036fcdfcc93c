"""``telemetry generate``: synthetic players with known faults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ..generate import DEFAULT_START, FAMILIES, GenerateConfig, generate


def _families(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise click.BadParameter(f"unknown families {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    return names


@click.command("generate")
@click.option("--players", type=click.IntRange(min=1), required=True, help="Number of synthetic players.")
@click.option("--days", type=click.IntRange(min=1), required=True, help="Number of days of play.")
@click.option("--seed", type=int, default=0, show_default=True, help="Master seed: same seed → byte-identical output.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (one <family>/<date>.jsonl per family and day, expected.json, faults.jsonl).")
@click.option("--faults", is_flag=True, help="Inject a known number of each bad-input kind, duplicates and opted-out players.")
@click.option("--start", "start", type=click.DateTime(formats=["%Y-%m-%d"]), default=DEFAULT_START.isoformat(),
              show_default=True, help="First day (UTC).")
@click.option("--families", "families", metavar="LIST", default=None,
              help=f"Comma-separated families (default: every available one of {', '.join(FAMILIES)}).")
def generate_command(players: int, days: int, seed: int, out_dir: Path, faults: bool, start, families: str | None) -> None:
    """Generate synthetic telemetry for players × days into OUT as JSON-lines, one file per family and day.

    Each file is one ingest batch, to be ingested with the `as_of` that expected.json lists for it (the next
    day 00:10 UTC) and <out>/opt_out.txt copied to <data-dir>/privacy/opt_out.txt; ingest's counts then equal
    expected.json's. Streams: 10M events never sit in memory.
    """
    config = GenerateConfig(players=players, days=days, seed=seed, out=out_dir, faults=faults,
                            start=start.date() if hasattr(start, "date") else date.fromisoformat(str(start)),
                            families=_families(families))
    try:
        result = generate(config)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    click.echo(str(result))
