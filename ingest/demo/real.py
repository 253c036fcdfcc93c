"""``make demo``, real-data part: StarCraft II replays (gameplay + ability summaries) and the WAVES sample
(learning) through import → ingest --backfill → dbt build → a few lines of the gameplay and learning marts.

The data sets are read from ``../shared/data`` beside the repository (``sc2/replays/*.SC2Replay`` and
``waves/*.tsv.gz``); each is skipped with a message when absent. The lead calls :func:`run_real_demo` from the
demo after (or instead of) the Open Bandit part; it shares the data directory, the lake and the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..privacy.keys import IdentityHasher
from ..lake.layout import Lake
from ..pipeline.batch import BatchIngest, IngestSettings
from ..registry.schema import Registry
from ..config import PROJECT_ROOT
from ..warehouse.marts import run_dbt
from ..importers.sc2 import import_sc2
from ..importers.waves import import_waves

__all__ = ["SHARED_DATA", "run_real_demo"]

#: Where the real data sets live (``../shared/data`` beside the repository).
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

GAMEPLAY_DAILY = """
select
    event_date,
    dau,
    sessions,
    round(session_seconds_p50, 1) as session_p50_s,
    round(session_seconds_p90, 1) as session_p90_s,
    combat_events,
    round(combat_events_estimated, 1) as combat_est,
    deaths,
    kills
from agg_gameplay_daily
order by event_date desc
limit 8
"""

LEARNING_FEATURES = """
select
    session_date,
    round(task_completion_rate, 3) as completion,
    round(time_efficiency, 3) as efficiency,
    retry_count,
    round(recovery_rate, 3) as recovery,
    round(distraction_resistance, 3) as resistance,
    round(focus_duration_minutes, 1) as focus_min,
    collaboration_indicators as collab,
    leadership_indicators as lead
from fct_learning_session_features
order by started_at
limit 8
"""

GAMEPLAY_MARTS = ("fct_gameplay_sessions", "fct_player_daily_activity", "agg_gameplay_daily", "agg_gameplay_weekly",
                  "agg_gameplay_monthly", "agg_gameplay_retention", "agg_onboarding_funnel", "agg_gameplay_cohorts",
                  "dq_gameplay_sessions_daily")
LEARNING_MARTS = ("fct_learning_sessions", "fct_learning_session_features")


def run_real_demo(data_dir: Path, echo: Callable[[str], None] = print, *, shared_data: Path = SHARED_DATA,
                  build: bool = True) -> list[Path]:
    """Import, ingest (``--backfill``, public demo hash key) and build the gameplay and learning families.

    Args:
        data_dir: the data directory (lake, warehouse); created when missing.
        echo: prints one line.
        shared_data: folder holding ``sc2/`` and ``waves/``.
        build: run ``dbt build`` for the two families' marts (and their parents) and print them.

    Returns:
        The JSON-lines files ingested (empty when both data sets are absent).

    Raises:
        TelemetryError: an import, the ingest or dbt failed.
    """
    data_dir = Path(data_dir).resolve()
    import_dir = data_dir / "import"
    files: list[Path] = []
    replays = shared_data / "sc2" / "replays"
    if replays.is_dir() and any(replays.glob("*.SC2Replay")):
        echo(f"real data 1/4 import: StarCraft II replays from {replays} (gameplay, seed 002 + ability summaries, seed 001)")
        result = import_sc2([replays], import_dir / "sc2")
        echo(str(result).splitlines()[-1])
        files += result.files_written
    else:
        echo(f"skip: no StarCraft II replays in {replays} (the real data sets live in ../shared/data)")
    waves = sorted((shared_data / "waves").glob("*.tsv.gz")) if (shared_data / "waves").is_dir() else []
    if waves:
        echo(f"real data 1/4 import: WAVES sample {waves[0].name} (learning, seed 004 batch envelopes)")
        for path in waves:
            result = import_waves(path, import_dir / "waves")
            echo(str(result))
            files.append(result.output)
    else:
        echo(f"skip: no WAVES sample in {shared_data / 'waves'}")
    if not files:
        return files
    echo("real data 2/4 ingest --backfill with the public DEMO hash key (ids in this lake are not protected)")
    registry = Registry.load(PROJECT_ROOT / "schemas")
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    hasher = IdentityHasher.demo()
    settings = IngestSettings(registry.root, hasher.key, hasher.key_id, datetime.now(timezone.utc), backfill=True)
    totals = [0, 0, 0, 0, 0]
    with BatchIngest(registry, lake, settings, workers=1) as runner:
        for path in files:
            batch = runner.run(path)
            if batch.skipped:
                continue
            for i, n in enumerate((batch.records_read, batch.landed, batch.quarantined, batch.duplicates, batch.dropped)):
                totals[i] += n
    echo(f"    read {totals[0]} = landed {totals[1]} + quarantined {totals[2]} + duplicates {totals[3]} + dropped "
         f"{totals[4]} (sampled out per seed 002 rates) in {len(files)} file(s); already-ingested files skipped")
    if not build:
        return files
    echo("real data 3/4 dbt build (gameplay + learning marts and their parents)")
    run_dbt(["build", "--select", *(f"+{m}" for m in GAMEPLAY_MARTS + LEARNING_MARTS),
             "--indirect-selection", "cautious"], data_dir)
    echo("real data 4/4 agg_gameplay_daily (latest days) and fct_learning_session_features (first sessions)")
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        echo(str(con.sql(GAMEPLAY_DAILY)))
        echo(str(con.sql(LEARNING_FEATURES)))
    return files
