"""Arrival order does not matter, for every family: generated players' events arrive in shuffled batches twice
a day (noon and midnight), some a day late (inside the T+2 window), older ones after newer, one file is sent
twice and some events again in a new file; `dbt run` runs after every third batch and `dbt build` (the models
and their data tests) after the last. Gameplay sessions that
start late in the evening run past midnight, and noon builds see learning sessions open that later close by
time alone. Every `agg_` and `fct_` mart then equals, row for row (floats to 1e-9 relative),
one clean build over the same events landed at once. The clean build is the independent expectation: it
never runs an incremental step.

Also: a lookback longer than raw retention deletes nothing it cannot rebuild, and a full refresh is refused
when any family a model reads lost partitions.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from ingest.config import PROJECT_ROOT
from ingest.generate import GenerateConfig, generate
from ingest.pipeline.service import ingest_files, ingest_settings
from ingest.privacy import IdentityHasher, Keyring
from ingest.registry import Registry
from ingest.warehouse.dbt import invoke_dbt

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

FAMILIES = ("recsys", "politics", "ability", "gameplay", "learning")
START = date(2024, 11, 4)
DAYS = 6
PLAYERS = 8
SEEDS = (11, 12)  # two generator seeds, landed together: two populations of players


def dbt(args: list[str], data_dir: Path, check: bool = True, unit_tests: bool = False) -> subprocess.CompletedProcess:
    """`dbt <args>` on the warehouse of `data_dir` (a private target path; nothing published); with `unit_tests`,
    dbt's unit tests run too (the suite leaves them out elsewhere, tests/conftest.py)."""
    # an empty value lifts the suite's DBT_EXCLUDE_RESOURCE_TYPES (tests/conftest.py)
    run = invoke_dbt(args, data_dir, target_path=data_dir / "target", log_path=data_dir / "logs", capture=True,
                     env={"DBT_EXCLUDE_RESOURCE_TYPES": ""} if unit_tests else None)
    if check and run.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{run.stdout[-4000:]}")
    return run


def land(data_dir: Path, files: list[Path], as_of: datetime, backfill: bool = False):
    registry = Registry.load(PROJECT_ROOT / "schemas")
    keyring = Keyring.single(IdentityHasher.demo())  # the generator samples with the demo key too
    settings = ingest_settings(data_dir, registry, keyring, as_of, backfill=backfill)
    return ingest_files(files, settings, data_dir, registry=registry)


def mart_models(data_dir: Path) -> dict[str, list[str]]:
    """family folder → the agg_/fct_ marts dbt knows there (from the manifest of the clean build)."""
    manifest = json.loads((data_dir / "target" / "manifest.json").read_text())
    out: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["fqn"][1] == "marts" and node["name"].startswith(("agg_", "fct_")):
            out.setdefault(node["fqn"][2], []).append(node["name"])
    return {family: sorted(names) for family, names in out.items()}


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[tuple]]:
    described = con.sql(f"describe {table}").fetchall()
    columns = [(name, kind) for name, kind, *_ in described if not name.startswith("_")]
    floats = {name for name, kind in columns if kind in ("DOUBLE", "FLOAT") or kind.startswith("DECIMAL")}
    names = [name for name, _ in columns]
    rows = con.sql(f"select {', '.join(names)} from {table}").fetchall()

    def order(row: tuple) -> tuple:
        return tuple((1, "") if v is None else (0, f"{v:.6g}" if n in floats else str(v)) for n, v in zip(names, row))

    return names, sorted(rows, key=order)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def assert_marts_equal(got_dir: Path, expected_dir: Path, marts: list[str]) -> None:
    with duckdb.connect(str(got_dir / "warehouse.duckdb"), read_only=True) as got, \
            duckdb.connect(str(expected_dir / "warehouse.duckdb"), read_only=True) as expected:
        for mart in marts:
            names, want = table_rows(expected, mart)
            _, have = table_rows(got, mart)
            assert len(have) == len(want), f"{mart}: {len(have)} rows after the incremental passes, {len(want)} clean"
            for have_row, want_row in zip(have, want):
                bad = [n for n, a, b in zip(names, have_row, want_row) if not same(a, b)]
                assert not bad, f"{mart}: columns {bad} differ:\n incremental {have_row}\n clean       {want_row}"


def event_time(record: dict) -> datetime | None:
    """The event time of a wire record of any family (a batch envelope: its newest event)."""
    if isinstance(record.get("events"), list):
        times = [t for t in map(event_time, record["events"]) if t is not None]
        return max(times, default=None)
    for key, per_second in (("ts_ms", 1000), ("timestamp_ms", 1000), ("ts", 1)):
        if isinstance(record.get(key), (int, float)):
            return datetime.fromtimestamp(record[key] / per_second, tz=timezone.utc)
    for key in ("createdAt", "timestamp"):
        if isinstance(record.get(key), str):
            return datetime.fromisoformat(record[key].replace("Z", "+00:00"))
    return None


def cross_midnight(gameplay: list[bytes]) -> list[bytes]:
    """Sessions that start after 22:00 keep going two more hours: their later events move past midnight, so a
    session dated D has events landing in partition D + 1 (what `spill_before` is for)."""
    records = [json.loads(line) for line in gameplay]
    late_starts = {r["session_id"] for r in records
                   if r.get("event_type") == "session_start" and event_time(r).hour >= 22}
    for record in records:
        if record.get("session_id") in late_starts and record.get("event_type") != "session_start":
            record["ts_ms"] += 2 * 3_600_000
    return [json.dumps(r, separators=(",", ":")).encode() for r in records]


def slot_clock(slot: int) -> datetime:
    """Arrival slots: two a day, landing at 11:59:59 and 23:59:59."""
    day, half = divmod(slot, 2)
    return datetime.combine(START + timedelta(days=day), time(11, 59, 59) if half == 0 else time(23, 59, 59),
                            tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def arrival(tmp_path_factory) -> dict:
    """Generated events landed two ways: K shuffled, late, resent batches with a build after every few
    (`incremental`), and all at once with one build (`clean`)."""
    root = tmp_path_factory.mktemp("arrival")
    lines: dict[tuple[str, int], list[bytes]] = {}  # (family, event day) → lines
    opt_out: list[str] = []
    for seed in SEEDS:
        out = root / f"generated-{seed}"
        generate(GenerateConfig(players=PLAYERS, days=DAYS, seed=seed, out=out, start=START))
        opt_out += (out / "opt_out.txt").read_text().splitlines() if (out / "opt_out.txt").exists() else []
        for family in FAMILIES:
            family_lines = [line for path in sorted((out / family).glob("*.jsonl"))
                            for line in path.read_bytes().splitlines() if line.strip()]
            if family == "gameplay":
                family_lines = cross_midnight(family_lines)
            for line in family_lines:
                day = (event_time(json.loads(line)).date() - START).days
                lines.setdefault((family, day), []).append(line)

    rng = random.Random(2024)
    arrivals: dict[int, dict[str, list[bytes]]] = {}
    for (family, day), day_lines in sorted(lines.items()):
        for line in day_lines:
            # on time (the noon batch when it happened before noon), or a day late (inside the T+2 window, even
            # for a session that began the day before); a noon batch leaves sessions open that close by time
            if rng.random() < 0.7:
                slot = 2 * day + (0 if event_time(json.loads(line)).hour < 12 else 1)
            else:
                slot = 2 * (day + 1) + rng.choice((0, 1))
            arrivals.setdefault(slot, {}).setdefault(family, []).append(line)
    batches: list[tuple[int, list[Path]]] = []
    for slot, by_family in sorted(arrivals.items()):
        paths = []
        for family, group in sorted(by_family.items()):
            rng.shuffle(group)
            path = root / "batches" / f"{family}-arrival-{slot}.jsonl"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"\n".join(group) + b"\n")
            paths.append(path)
        batches.append((slot, paths))
    assert len(batches) >= 12

    incremental, clean = root / "incremental", root / "clean"
    for data_dir in (incremental, clean):
        (data_dir / "privacy").mkdir(parents=True)
        (data_dir / "privacy" / "opt_out.txt").write_text("\n".join(opt_out) + "\n")

    order = batches[:2] + [batches[4], batches[3], batches[2]] + batches[5:]  # older data lands after newer
    dbt(["seed"], incremental)  # `dbt run` builds models only
    builds = 0
    for index, (slot, paths) in enumerate(order):
        report = land(incremental, paths, slot_clock(slot))
        assert all(b.quarantined == 0 for b in report.batches), [b.quarantined_by_reason for b in report.batches]
        if index % 3 == 2:  # an incremental pass after every third arrival (the models; the last pass tests too)
            dbt(["run"], incremental)
            builds += 1
    last = slot_clock(max(slot for slot, _ in batches))
    resent = land(incremental, batches[1][1], last)  # the same files again: skipped
    assert all(b.skipped for b in resent.batches)
    again = root / "batches" / "resent-events.jsonl"  # some events again, in a new file: deduplicated
    again.write_bytes(b"".join(p.read_bytes() for p in batches[-3][1]))
    assert sum(b.duplicates for b in land(incremental, [again], last).batches) > 0
    dbt(["build"], incremental)
    builds += 1
    assert builds >= 4

    everything = []
    for family in FAMILIES:
        path = root / "batches" / f"{family}-all.jsonl"
        path.write_bytes(b"".join(b"\n".join(group) + b"\n" for (f, _), group in sorted(lines.items()) if f == family))
        everything.append(path)
    land(clean, everything, last, backfill=True)
    dbt(["build"], clean, unit_tests=True)  # the one build of the suite that runs every dbt unit test
    unit_results = {r["unique_id"]: r["status"] for r in json.loads((clean / "target" / "run_results.json").read_text())["results"]
                    if r["unique_id"].startswith("unit_test.")}
    return {"incremental": incremental, "clean": clean, "marts": mart_models(clean), "root": root,
            "unit_results": unit_results}


@pytest.mark.parametrize("family", [*FAMILIES, "core"])
def test_incremental_passes_equal_one_clean_build(arrival, family):
    marts = arrival["marts"][family]
    assert marts, family
    with duckdb.connect(str(arrival["clean"] / "warehouse.duckdb"), read_only=True) as con:
        assert any(con.sql(f"select count(*) from {m}").fetchall()[0][0] > 0 for m in marts), f"{family}: empty marts"
    assert_marts_equal(arrival["incremental"], arrival["clean"], marts)


@pytest.mark.parametrize("table", ["stg_gameplay__events", "stg_learning__events"])
def test_staging_tables_built_pass_by_pass_equal_one_clean_build(arrival, table):
    """The staging tables, appended date by date from the partitions each pass redid, hold the events the clean
    build holds (the batches differ between the two lakes, so batch_id and received_at are left out)."""
    columns = "event_id, event_type, event_date, player_key, session_id, occurred_at"
    rows = {}
    for name in ("incremental", "clean"):
        with duckdb.connect(str(arrival[name] / "warehouse.duckdb"), read_only=True) as con:
            rows[name] = sorted(con.sql(f"select {columns} from {table}").fetchall(), key=repr)
    assert len(rows["clean"]) > 100
    assert rows["incremental"] == rows["clean"]


def test_ledger_table_appended_pass_by_pass_holds_every_ledger_file(arrival):
    """stg_ops__ledger appends only new batches' files; after every pass it holds each committed batch once, with
    the counts its ledger file has (read with pyarrow)."""
    import pyarrow.parquet as pq

    files = [p for p in sorted((arrival["incremental"] / "lake" / "_ledger").glob("*.parquet")) if not p.name.startswith("_")]
    expected = sorted((row["batch_id"], row["kind"], row["landed"], row["quarantined"], row["duplicates"])
                      for path in files for row in pq.read_table(path).to_pylist())
    assert len(expected) >= 12
    with duckdb.connect(str(arrival["incremental"] / "warehouse.duckdb"), read_only=True) as con:
        got = sorted(con.sql("select batch_id, kind, landed, quarantined, duplicates from stg_ops__ledger").fetchall())
    assert got == expected


def test_clean_build_ran_every_dbt_unit_test(arrival):
    """The suite's builds leave dbt's unit tests out; the clean build runs each one the manifest declares."""
    manifest = json.loads((arrival["clean"] / "target" / "manifest.json").read_text())
    declared = set(manifest.get("unit_tests", {}))
    assert len(declared) >= 20, sorted(declared)
    assert set(arrival["unit_results"]) == declared
    assert set(arrival["unit_results"].values()) == {"pass"}, arrival["unit_results"]


def test_incremental_passes_kept_rows_of_earlier_passes(arrival):
    """The passes were incremental: after the first build, every pass recomputed some keys, not all (run manifest)."""
    with duckdb.connect(str(arrival["incremental"] / "warehouse.duckdb"), read_only=True) as con:
        for mart, key in (("agg_recsys_daily", "event_date"), ("agg_politics_daily", "event_date"),
                          ("agg_ability_metrics_daily", "event_date"), ("agg_gameplay_daily", "event_date"),
                          ("fct_learning_sessions", "session_id"), ("fct_player_daily_activity", "activity_date")):
            runs = con.execute("select full_build, reprocess_keys from incremental_manifest where model = ? "
                               "order by run_started_at", [mart]).fetchall()
            assert len(runs) >= 2 and runs[0][0], f"{mart}: no first build followed by incremental passes"
            assert not any(full for full, _ in runs[1:]), f"{mart}: a later pass was a full build"
            held = con.sql(f"select count(distinct {key}) from {mart}").fetchall()[0][0]
            assert any(len(json.loads(keys)) < held for _, keys in runs[1:]), f"{mart}: every pass redid every key"


def test_lookback_beyond_raw_retention_deletes_nothing_it_cannot_rebuild(arrival, tmp_path):
    """Raw partitions of the two oldest days expire (politics and recsys, as retention drops them); a build with
    a 30-day lookback then redoes only the dates the lake still fully holds: the expired days keep their rows,
    the others still equal the clean build. A full refresh of a model reading those families is refused."""
    data = tmp_path / "expired"
    shutil.copytree(arrival["clean"], data)
    old_days = [(START + timedelta(days=d)).isoformat() for d in (0, 1)]
    for family in ("politics", "recsys"):
        for partition in (data / "lake").glob(f"*/event_type={family}_*/event_date=*"):
            if partition.name.split("=", 1)[1] in old_days:
                shutil.rmtree(partition)
    marts = [m for f in ("politics", "recsys", "core") for m in arrival["marts"][f]]
    dbt(["build", "--vars", "{lookback_days: 30}", "--select", *marts], data)
    assert_marts_equal(data, arrival["clean"], marts)

    refused = dbt(["run", "--full-refresh", "--select", "fct_player_daily_activity"], data, check=False)
    assert refused.returncode != 0 and "would lose history" in refused.stdout
    assert "recsys" in refused.stdout
