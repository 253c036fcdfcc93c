"""``telemetry import``: real data sets → telemetry JSON-lines."""

from __future__ import annotations

from pathlib import Path

import click

from ..importers.obd import import_obd
from ..importers.sc2 import import_sc2
from ..importers.waves import MAX_BATCH_EVENTS, import_waves


@click.group(name="import")
def import_() -> None:
    """Convert real data sets into telemetry JSON-lines."""


def _out_option(help_text: str):
    return click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help=help_text)


@import_.command("obd")
@click.argument("csv_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out_option("Folder for the JSON-lines files.")
def import_obd_command(csv_files: tuple[Path, ...], out_dir: Path) -> None:
    """Open Bandit Dataset CSVs (<policy>/<campaign>/<campaign>.csv) → recsys JSON-lines (docs/requirements/recsys.md).

    The mapping is documented in docs/importers/obd.md.
    """
    click.echo(str(import_obd(list(csv_files), out_dir)))


@import_.command("sc2")
@click.argument("replays", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_out_option("Folder for the JSON-lines files.")
@click.option("--no-ability-summaries", is_flag=True, help="Write only the gameplay events (no ability summaries).")
def import_sc2_command(replays: tuple[Path, ...], out_dir: Path, no_ability_summaries: bool) -> None:
    """StarCraft II replays (files or folders) → gameplay JSON-lines (docs/requirements/gameplay.md) + ability
    summaries (docs/requirements/ability.md#wire-format).

    Per human player: session start/end, ability casts, kills (engage_enemy) and deaths, PlayerStats economy
    ticks and chat (length only after ingest). Game loops become wall-clock time at 22.4 loops per real second
    (Faster speed), anchored on the replay's UTC end time. Ingest the output with --backfill. Mapping:
    docs/importers/sc2.md.
    """
    click.echo(str(import_sc2(list(replays), out_dir, summaries=not no_ability_summaries)))


@import_.command("waves")
@click.argument("tsv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out_option("Folder for the JSON-lines file.")
@click.option("--batch-events", type=click.IntRange(1, MAX_BATCH_EVENTS), default=MAX_BATCH_EVENTS,
              show_default=True, help="Largest batch envelope (docs/requirements/learning.md#batch: at most 1,000 events).")
def import_waves_command(tsv: Path, out_dir: Path, batch_events: int) -> None:
    """Field Day Lab WAVES export (TSV.gz) → learning JSON-lines in docs/requirements/learning.md#batch batch envelopes.

    BEGIN/COMPLETE → task_start/task_complete, FAIL → failure, SUCCEED after a FAIL → success_after_failure,
    CUSTOM actions → decision_made / choice_made / restart / pause, ≥ 60 s idle → distraction. IP addresses and
    user agents are dropped. Timestamps are read as UTC. Mapping: docs/importers/waves.md.
    """
    click.echo(str(import_waves(tsv, out_dir, batch_events=batch_events)))
