"""``make demo`` for the generated families: generate → ingest (nightly batches) → dbt build → a few marts.

200 synthetic players over 14 days with faults: every family-day file is ingested as its own batch with the
``as_of`` clock ``expected.json`` lists for it (the next day 00:10 UTC) and the generator's opt-out list, under
the public demo hash key; ingest's counts are checked against the generator's expected accounting; then the
politics and ability models (and their parents) are built and a few rows of agg_politics_daily and
fct_ability_alerts are printed.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb

from ..privacy.keys import IdentityHasher
from ..lake.layout import Lake
from ..pipeline.batch import BatchIngest, IngestSettings
from ..registry.schema import Registry
from ..config import PROJECT_ROOT
from ..warehouse.marts import run_dbt
from ..generate.core import GenerateConfig, generate

DEMO_PLAYERS = 200
DEMO_DAYS = 14
DEMO_SEED = 7
DBT_SELECTION = [
    "+agg_politics_weekly", "+fct_politics_abuse_flags", "+fct_politics_achievement_progress",
    "+agg_ability_metrics_weekly", "+agg_ability_metric_totals_daily", "+fct_ability_alerts", "politics_bills",
]

POLITICS_DAILY = """
select event_date, event_type, event_count, distinct_users, round(success_rate, 3) as success_rate,
       round(value_avg, 2) as value_avg, round(value_stddev, 2) as value_stddev, value_min, value_max
from agg_politics_daily
where scope = 'all' and event_date = (select max(event_date) from agg_politics_daily)
order by event_count desc
"""

ABILITY_ALERTS = """
select rule_id, count(*) as alerts, count(distinct entry) as entries, min(event_date) as first_date,
       max(event_date) as last_date, string_agg(distinct entry, ', ' order by entry) as entries_flagged
from fct_ability_alerts
group by rule_id
order by rule_id
"""

ABUSE_FLAGS = """
select rule_id, count(*) as flagged_events, count(distinct player_key) as users
from fct_politics_abuse_flags
group by rule_id
order by rule_id
"""


def run_generated_demo(data_dir: Path, echo: Callable[[str], None] = print, *, workers: int = 1) -> None:
    """Generate, ingest and build the generated-families demo into ``data_dir`` and print what came out.

    Raises:
        TelemetryError: ingest or dbt failed.
        AssertionError: ingest's accounting differs from the generator's expected counts.
    """
    data_dir = Path(data_dir).resolve()
    out = data_dir / "generated"
    echo(f"1/4 generate: {DEMO_PLAYERS} players × {DEMO_DAYS} days, seed {DEMO_SEED}, with faults → {out}")
    if out.exists():
        shutil.rmtree(out)
    result = generate(GenerateConfig(players=DEMO_PLAYERS, days=DEMO_DAYS, seed=DEMO_SEED, out=out, faults=True))
    echo("    " + str(result).replace("\n", "\n    "))
    expected = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    privacy = data_dir / "privacy"
    privacy.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "opt_out.txt", privacy / "opt_out.txt")

    echo("2/4 ingest: one batch per family and day, as of the next day 00:10 UTC (public DEMO hash key)")
    registry = Registry.load(PROJECT_ROOT / "schemas")
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    hasher = IdentityHasher.demo()
    ids = [line.strip() for line in (out / "opt_out.txt").read_text(encoding="utf-8").splitlines()]
    opted_out = frozenset(hasher.hash(i) for i in ids if i and not i.startswith("#"))
    mismatches = 0
    totals = [0, 0, 0, 0, 0]
    for file in expected["files"]:
        settings = IngestSettings(registry.root, hasher.key, hasher.key_id, datetime.fromisoformat(file["as_of"]),
                                  opted_out=opted_out)
        with BatchIngest(registry, lake, settings, workers=workers) as runner:
            batch = runner.run(out / file["path"])
        if batch.skipped:
            continue
        got = (batch.landed, batch.quarantined, batch.duplicates, batch.dropped)
        want = (file["landed"], file["quarantined"], file["duplicates"], file["dropped"])
        if got != want:
            mismatches += 1
            echo(f"    MISMATCH {file['path']}: ingest {got} vs expected {want}")
        for i, n in enumerate((batch.records_read, *got)):
            totals[i] += n
    echo(f"    read {totals[0]} = landed {totals[1]} + quarantined {totals[2]} + duplicates {totals[3]} + dropped "
         f"{totals[4]}; {'every batch matches' if not mismatches else f'{mismatches} batch(es) differ from'} "
         "the generator's expected accounting")
    if mismatches:
        raise AssertionError(f"{mismatches} batch(es) differ from expected.json")

    echo("3/4 dbt build (politics and ability models and their parents)")
    run_dbt(["build", "--indirect-selection", "cautious", "--select", *DBT_SELECTION], data_dir)

    echo("4/4 marts")
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        echo("agg_politics_daily (scope all, last day):")
        echo(str(con.sql(POLITICS_DAILY)))
        echo("fct_politics_abuse_flags:")
        echo(str(con.sql(ABUSE_FLAGS)))
        echo("fct_ability_alerts:")
        echo(str(con.sql(ABILITY_ALERTS)))
