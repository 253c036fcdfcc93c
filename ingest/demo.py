"""``make demo``: every family end to end in one data directory, then one warehouse build.

1. generated players for all five families (with known faults), each family-day file ingested as a batch with
   the clock the generator lists for it; ingest's accounting is checked against the generator's;
2. the real data sets beside the clone (``../shared/data``): StarCraft II replays → gameplay and ability
   metrics, WAVES → learning (skipped with a message when absent, SC2 also without the ``importers`` extra),
   ingested as history;
3. the Open Bandit sample → recsys (from ``../shared/data/obd``, else from the ``obp`` wheel on PyPI);
4. one ``dbt build`` (its node log goes to a file; one summary line here), then a few marts, the
   data-quality report (skipped with a message without the ``quality`` extra) and the dashboard.

Ids are hashed with the public demo key, and the demo says so: never use it for real players.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable

import duckdb

from .config import SCHEMAS_DIR, SHARED_DATA_DIR, WAREHOUSE_FILE
from .errors import CheckFailed, MissingExtra
from .generate import GenerateConfig, generate
from .importers.obd import import_obd, locate_obd_sample
from .importers.sc2 import import_sc2
from .importers.waves import import_waves
from .pipeline.service import IngestReport, ingest_files, ingest_settings
from .privacy.keys import IdentityHasher, Keyring
from .privacy.opt_out import OPT_OUT_FILE
from .registry.schema import Registry
from .warehouse.dbt import run_dbt

DEMO_PLAYERS = 200
DEMO_DAYS = 14
DEMO_SEED = 7


@dataclass(frozen=True)
class Showcase:
    """A mart shown at the end of the demo: a title and the query that prints it."""

    title: str
    query: str


FAMILY_SHOWCASES = (
    Showcase("agg_politics_daily, scope all, last day (docs/requirements/politics.md#aggregates)", """
        select event_type, events, distinct_players, round(success_rate, 3) as success_rate,
               round(value_avg, 2) as value_avg, round(value_min, 2) as value_min, round(value_max, 2) as value_max
        from agg_politics_daily
        where scope = 'all' and event_date = (select max(event_date) from agg_politics_daily)
        order by events desc"""),
    Showcase("fct_politics_abuse_flags (docs/requirements/politics.md#anti-abuse)", """
        select rule_id, count(*) as flagged_events, count(distinct player_key) as users
        from fct_politics_abuse_flags group by rule_id order by rule_id"""),
    Showcase("fct_ability_alerts (docs/requirements/ability.md#retention)", """
        select rule_id, count(*) as alerts, count(distinct entry) as entries, min(event_date) as first_date,
               max(event_date) as last_date
        from fct_ability_alerts group by rule_id order by rule_id"""),
    Showcase("agg_gameplay_daily, latest days (docs/requirements/gameplay.md)", """
        select event_date, distinct_players as dau, sessions, round(session_seconds_p50, 1) as session_p50_s, combat_events,
               round(combat_events_estimated, 1) as combat_est, deaths, kills
        from agg_gameplay_daily order by event_date desc limit 5"""),
    Showcase("fct_learning_session_features, first sessions (docs/requirements/learning.md#features)", """
        select session_date, round(task_completion_rate, 3) as completion, round(time_efficiency, 3) as efficiency,
               retry_count, round(recovery_rate, 3) as recovery, round(focus_duration_minutes, 1) as focus_min
        from fct_learning_session_features order by started_at limit 5"""),
)

OBD_SHOWCASES = (
    Showcase("CTR per day per bucket, Open Bandit sample (agg_recsys_daily, docs/requirements/recsys.md#rollups)", """
        select event_date, bucket, sum(impressions) as impressions, sum(clicks) as clicks,
               round(sum(clicks) / nullif(sum(impressions), 0), 5) as ctr
        from agg_recsys_daily
        where experiment_id = 'obd-all'
        group by event_date, bucket order by event_date, bucket"""),
    Showcase("Experiment readout, Open Bandit sample, whole sample (fct_recsys_experiment_results): did bts beat "
             "random?", """
        unpivot (
            select treatment_bucket || ' vs ' || control_bucket as "comparison",
                   control_units || ' / ' || treatment_units as "units (requests), control / treatment",
                   printf('%.5f / %.5f', control_value, treatment_value) as "CTR, control / treatment",
                   printf('%+.5f (%+.1f %%)', absolute_lift, 100 * relative_lift) as "lift (relative)",
                   printf('[%.5f, %.5f]', ci_low, ci_high) as "95 % CI of the lift",
                   printf('%.4f (%s)', p_value, case when is_significant then 'significant' else 'not significant at 0.05' end)
                       as "p-value, delta-method z-test",
                   printf('%.4f (%s)', srm_p_value, case when is_srm_flagged
                       then 'SRM: split broken, do not trust the lift' else 'split as declared' end)
                       as "SRM p-value (flag < 0.001)"
            from fct_recsys_experiment_results
            where experiment_id = 'obd-all' and metric = 'ctr' and period_grain = 'cumulative'
                and week_start = (select max(week_start) from fct_recsys_experiment_results where experiment_id = 'obd-all')
        ) on columns(*) into name statistic value value"""),
)
SHOWCASES = FAMILY_SHOWCASES + OBD_SHOWCASES


def _generated(data_dir: Path, registry: Registry, keyring: Keyring, echo: Callable[[str], None]) -> IngestReport:
    """Generate players with faults, ingest each file at its expected clock, check the accounting.

    Raises:
        CheckFailed: a batch's counts differ from the generator's expected ones.
    """
    out = data_dir / "generated"
    if out.exists():
        shutil.rmtree(out)
    generate(GenerateConfig(players=DEMO_PLAYERS, days=DEMO_DAYS, seed=DEMO_SEED, out=out, faults=True))
    echo(f"generated: {DEMO_PLAYERS} players × {DEMO_DAYS} days, seed {DEMO_SEED}, with known faults → {out}")
    expected = {file["path"]: file for file in json.loads((out / "expected.json").read_text(encoding="utf-8"))["files"]}
    opt_out = data_dir / OPT_OUT_FILE
    opt_out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "opt_out.txt", opt_out)
    settings = ingest_settings(data_dir, registry, keyring, datetime.now(timezone.utc))
    paths = [out / name for name in expected]
    report = ingest_files(paths, settings, data_dir, registry=registry,
                          as_of=lambda path: datetime.fromisoformat(expected[path.relative_to(out).as_posix()]["as_of"]))
    mismatches = []
    for path, batch in zip(paths, report.batches):
        want = expected[path.relative_to(out).as_posix()]
        got = (batch.landed, batch.quarantined, batch.duplicates, batch.dropped)
        if not batch.skipped and got != (want["landed"], want["quarantined"], want["duplicates"], want["dropped"]):
            mismatches.append(f"{want['path']}: ingest {got}")
    echo(f"ingested generated data: {report.summary()}")
    if mismatches:
        raise CheckFailed("generated accounting", f"{len(mismatches)} batch(es) differ from expected.json: "
                          + "; ".join(mismatches[:3]))
    echo(f"    every one of {len(paths)} batches matches the generator's expected accounting")
    return report


def _real(data_dir: Path, echo: Callable[[str], None]) -> list[Path]:
    """Import the StarCraft II replays and the WAVES sample found beside the clone."""
    files: list[Path] = []
    replays = SHARED_DATA_DIR / "sc2" / "replays"
    if replays.is_dir() and any(replays.glob("*.SC2Replay")):
        try:
            result = import_sc2([replays], data_dir / "import" / "sc2")
        except MissingExtra as error:
            echo(f"skipped StarCraft II: {error}")
        else:
            echo(f"imported StarCraft II replays: {str(result).splitlines()[-1]}")
            files += result.files_written
    else:
        echo(f"skipped StarCraft II: no replays in {replays}")
    waves = sorted((SHARED_DATA_DIR / "waves").glob("*.tsv.gz"))
    for path in waves:
        result = import_waves(path, data_dir / "import" / "waves")
        echo(f"imported WAVES: {result}")
        files.append(result.output)
    if not waves:
        echo(f"skipped WAVES: no sample in {SHARED_DATA_DIR / 'waves'}")
    return files


def _obd(data_dir: Path, echo: Callable[[str], None]) -> list[Path]:
    sample = locate_obd_sample(SHARED_DATA_DIR, data_dir / "_cache")
    result = import_obd(sorted(sample.glob("*/all/all.csv")), data_dir / "import" / "obd")
    echo(f"imported Open Bandit sample from {sample}: {str(result).splitlines()[-1]}")
    return result.files_written


def run_demo(data_dir: Path, echo: Callable[[str], None] = print, *, families: bool = True) -> None:
    """Run the demo into ``data_dir`` and print what landed where.

    Args:
        data_dir: the data directory (created when missing).
        echo: prints one line.
        families: include the generated players and the real SC2/WAVES data (else only the Open Bandit sample).

    Raises:
        TelemetryError: a step failed (sample not found, accounting mismatch, dbt failed, …).
    """
    from .quality.gx import run_dq
    from .report.dashboard import build_report
    from .warehouse.publish import marts_path

    data_dir = Path(data_dir).resolve()
    registry = Registry.load(SCHEMAS_DIR)
    keyring = Keyring.single(IdentityHasher.demo())
    echo("note: ids are hashed with the public demo key — fine for a demo, never for real players")
    if families:
        _generated(data_dir, registry, keyring, echo)
        history = _real(data_dir, echo)
    else:
        history = []
    history += _obd(data_dir, echo)
    settings = ingest_settings(data_dir, registry, keyring, datetime.now(timezone.utc), backfill=True)
    report = ingest_files(history, settings, data_dir, registry=registry)
    echo(f"ingested real data as history: {report.summary()}")
    build = run_dbt(["build"], data_dir, quiet=True)
    echo(build.summary())
    with duckdb.connect(str(data_dir / WAREHOUSE_FILE), read_only=True) as con:
        for showcase in SHOWCASES if families else OBD_SHOWCASES:
            echo(f"\n{showcase.title}:")
            echo(str(con.sql(showcase.query)))
    try:
        quality = run_dq(data_dir, registry=registry)
    except MissingExtra as error:
        echo(f"skipped data quality: {error}")
        data_docs = "none (data quality skipped)"
    else:
        stats = quality.summary["statistics"]
        echo(f"data quality: {stats['successful_expectations']} of {stats['evaluated_expectations']} expectations met"
             + ("" if quality.success else f"; failed: {', '.join(sorted({f['asset'] for f in quality.failed}))}"))
        data_docs = quality.data_docs
    echo(f"lake:            {data_dir / 'lake'}  (quarantine and ledger beside the events)\n"
         f"warehouse:       {data_dir / WAREHOUSE_FILE}\n"
         f"published marts: {marts_path(data_dir)}  (read them with `from ingest import warehouse`)\n"
         f"Data Docs:       {data_docs}\n"
         f"dashboard:       {build_report(data_dir, registry).path}")
