"""Data tests follow the ledger without losing their power: a one-day build tests only the keys it redoes, and a
violation inside the new day still fails — once in a staging view's test and once in an incremental mart's.

Generated players (every family) over three days: the first two are landed and built once, then the third
lands together with extra gameplay combat events of that day whose sample rate is out of range (1000: each
counts as 1/1000 of an event; a third of them without a session id). `stg_gameplay__events`' sample-rate test,
its not-null test (one query for all its columns: only `session_id` may be reported) and `agg_gameplay_daily`'s
"reweighted total never below the observed count" test must all fail in the build that follows, with the ledger
filter on (TELEMETRY_FULL_TESTS=false) — and the filter must be what each test ran with (the compiled SQL names the
new day's dates, not the whole table).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingest.config import PROJECT_ROOT as ROOT
from ingest.generate import GenerateConfig, generate
from ingest.pipeline.service import ingest_files, ingest_settings
from ingest.privacy import IdentityHasher, Keyring
from ingest.registry import Registry
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

COMBAT = ("gameplay_engage_enemy", "gameplay_damage_dealt", "gameplay_damage_taken", "gameplay_death")
STAGING_TEST = "pass_ratio_stg_gameplay__events_sample_rate__sample_rate_0_and_sample_rate_1__1_0"
NOT_NULL_TEST = "not_null_columns_stg_gameplay__events_"
MART_TEST = "pass_ratio_agg_gameplay_daily_combat_events_estimated__combat_events_estimated_combat_events__1_0"


def only(selector: str) -> list[str]:
    """dbt arguments that build ``selector`` with the data tests of those models alone. The lake fixture built
    every model once, so the filters still see every incremental reader of the family (a view's filter names the
    dates some reader has not processed yet)."""
    return ["--select", selector, "--indirect-selection", "cautious"]


def results(data_dir: Path) -> dict[str, dict]:
    """test name → its run result (status, …) in the last invocation."""
    run = json.loads((data_dir / "dbt" / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[2]: r for r in run if r["unique_id"].startswith("test.")}


def compiled(data_dir: Path, name: str) -> str:
    """The SQL the test ran in the last invocation."""
    return results(data_dir)[name]["compiled_code"]


def land(data_dir: Path, files: list[Path], clocks: dict[str, datetime]) -> None:
    registry = Registry.load(ROOT / "schemas")
    keyring = Keyring.single(IdentityHasher.demo())  # the generator samples with the demo key
    settings = ingest_settings(data_dir, registry, keyring, max(clocks.values()), backfill=True)
    ingest_files(files, settings, data_dir, registry=registry, as_of=lambda p: clocks[str(p)])


@pytest.fixture(scope="module")
def lake(tmp_path_factory, monkeypatch_module) -> dict:
    root = tmp_path_factory.mktemp("ledger-tests")
    monkeypatch_module.setenv("TELEMETRY_FULL_TESTS", "false")
    generate(GenerateConfig(players=4, days=3, seed=3, out=root / "generated"))
    expected = json.loads((root / "generated" / "expected.json").read_text())
    clocks = {str(root / "generated" / f["path"]) if not Path(f["path"]).is_absolute() else f["path"]:
              datetime.fromisoformat(f["as_of"].replace("Z", "+00:00")) for f in expected["files"]}
    by_day: dict[str, list[Path]] = {}
    for path in clocks:
        by_day.setdefault(Path(path).stem, []).append(Path(path))
    days = sorted(by_day)
    data = root / "data"
    (data / "privacy").mkdir(parents=True)
    land(data, [p for day in days[:-1] for p in sorted(by_day[day])], clocks)
    run_dbt(["build"], data, quiet=True)
    land(data, sorted(by_day[days[-1]]), clocks)
    new_day = max(p.name.split("=")[1] for p in (data / "lake" / "events").glob("event_type=gameplay_*/event_date=*"))
    # three copies of every combat event of the new day, each a new event with sample rate 1000; the third
    # copy without a session id
    with duckdb.connect() as con:
        for event_type in COMBAT:
            folder = data / "lake" / "events" / f"event_type={event_type}" / f"event_date={new_day}"
            files = sorted(folder.glob("*.parquet"))
            if not files:
                continue
            con.execute(
                f"copy (select * replace (event_id || '-copy' || copy as event_id, seq + 1000000 * copy as seq,"
                f" 1000.0 as sample_rate, case when copy < 3 then session_id end as session_id)"
                f" from read_parquet({[str(f) for f in files]}), range(1, 4) as t(copy))"
                f" to '{folder / 'injected-0000.parquet'}' (format parquet)")
    return {"data": data, "new_day": new_day}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_staging_violation_inside_the_new_day_fails(lake):
    run = run_dbt(["build", *only("+stg_gameplay__events")], lake["data"], check=False, quiet=True)
    assert run.returncode != 0
    staging = results(lake["data"])[STAGING_TEST]
    assert staging["status"] == "fail", staging["status"]
    sql = compiled(lake["data"], STAGING_TEST)
    assert f"event_date in (cast('{lake['new_day']}' as date)" in sql  # the ledger filter, not the whole view
    (not_null,) = [r for name, r in results(lake["data"]).items() if name.startswith(NOT_NULL_TEST)]
    assert not_null["status"] == "fail" and not_null["failures"] == 1, (not_null["status"], not_null["failures"])
    assert f"event_date in (cast('{lake['new_day']}' as date)" in not_null["compiled_code"]


def test_a_mart_violation_inside_the_new_day_fails(lake):
    run = run_dbt(["build", *only("+agg_gameplay_daily"), "--exclude", STAGING_TEST], lake["data"], check=False,
                  quiet=True)
    assert run.returncode != 0
    mart = results(lake["data"])[MART_TEST]
    assert mart["status"] == "fail", mart["status"]
    sql = compiled(lake["data"], MART_TEST)
    assert "agg_gameplay_daily\" where event_date in (" in sql and f"cast('{lake['new_day']}' as date)" in sql
