"""Published marts (docs/requirements/design.md#readers): every built mart is copied to ``marts/<mart>.parquet`` row for row, empty marts
publish as zero-row files with their columns, and a notebook can read them while ``dbt build`` holds the lock."""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from readers_support import BUILT_MARTS, NO_TESTS, ROOT
from ingest import warehouse

pytestmark = [pytest.mark.dbt]


def _table(data_dir: Path, name: str) -> pl.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f"select * from main.{name}").pl()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_build_publishes_each_built_mart_row_for_row(built):
    published = warehouse.marts(built.data_dir)
    assert set(BUILT_MARTS) <= set(published)
    with duckdb.connect(str(built.data_dir / "warehouse.duckdb"), read_only=True) as con:
        tables = {n for (n,) in con.execute("select table_name from information_schema.tables").fetchall()}
    assert set(published) <= tables, "only marts that exist in the warehouse are published"
    assert not any(name.startswith(("stg_", "int_")) for name in published), "staging/intermediate are not marts"
    for name in published:
        parquet, table = warehouse.read(name, built.data_dir), _table(built.data_dir, name)
        assert parquet.height == table.height > 0, name
        assert_frame_equal(_sorted(parquet), _sorted(table), check_dtypes=True)
    catalog = json.loads((built.data_dir / "marts" / "_catalog.json").read_text())["marts"]
    daily = catalog["agg_recsys_daily"]
    assert daily["domain"] == "recsys"
    assert daily["grain"].startswith("Grain: one row per (event_date, experiment_id, bucket)")
    assert daily["rows"] == warehouse.read("agg_recsys_daily", built.data_dir).height
    assert [c["name"] for c in daily["columns"]] == warehouse.read("agg_recsys_daily", built.data_dir).columns
    assert not list((built.data_dir / "marts").glob(".*.tmp")), "no temporary files left behind"


def test_empty_mart_publishes_a_zero_row_file_with_its_columns(tmp_path):
    # No dbt manifest here: marts are found in the DuckDB catalog by their prefixes.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create table agg_things_daily (event_date date, bucket varchar, clicks bigint, ctr double)")
        con.execute("create table fct_things as select 1::bigint as thing_id, 'a' as label")
        con.execute("create table stg_things as select 1 as x")
    published = {p.mart.name: p for p in warehouse.publish_marts(tmp_path)}
    assert set(published) == {"agg_things_daily", "fct_things"}
    empty = warehouse.read("agg_things_daily", tmp_path)
    assert empty.height == 0 and published["agg_things_daily"].rows == 0
    assert empty.schema == pl.Schema({"event_date": pl.Date, "bucket": pl.String, "clicks": pl.Int64,
                                      "ctr": pl.Float64})
    assert warehouse.read("fct_things", tmp_path).rows() == [(1, "a")]


def test_publish_replaces_stale_files_and_drops_marts_the_project_lost(built, tmp_path):
    data_dir = tmp_path
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        con.execute("create table agg_things_daily as select 1 as n")
    (data_dir / "marts").mkdir()
    (data_dir / "marts" / "agg_gone_daily.parquet").write_bytes(b"stale")
    warehouse.publish_marts(data_dir)
    assert warehouse.marts(data_dir) == ["agg_things_daily"]


def _writer_lock_holder(database: Path) -> int | None:
    """Pid of the process holding DuckDB's write lock on ``database``, or None — asked with F_GETLK, which
    tests a lock without taking one. (Probing with a read-only connection would itself take a shared lock and
    make a starting `dbt build` fail to get its write lock.)"""
    try:
        fd = os.open(database, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = struct.pack("@hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack("@hhqqi4x", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    finally:
        os.close(fd)
    return pid if kind == fcntl.F_WRLCK else None


def test_publish_fails_cleanly_while_another_process_writes(built, tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create table agg_things_daily as select 1 as n")
    writer = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"con = duckdb.connect({str(database)!r})\nprint('open', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        with pytest.raises(warehouse.ResourceBusy, match="is a dbt build running"):
            warehouse.publish_marts(tmp_path)
    finally:
        writer.kill()
        writer.wait()
    assert not (tmp_path / "marts" / "agg_things_daily.parquet").exists()


def test_a_notebook_reads_marts_while_dbt_build_holds_the_lock(built):
    """Start `telemetry dbt build` in a subprocess; while DuckDB refuses even a read-only connection, this
    (second) process reads a published mart with polars and SQL; after the build the marts are republished."""
    database = built.data_dir / "warehouse.duckdb"
    expected = _table(built.data_dir, "agg_recsys_daily")
    before = (built.data_dir / "marts" / "agg_recsys_daily.parquet").stat().st_mtime_ns
    env = {**os.environ, "TELEMETRY_DATA_DIR": str(built.data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    build = subprocess.Popen([str(Path(sys.executable).with_name("telemetry")), "dbt", "build", "--select",
                              "+dq_ingest_daily", *NO_TESTS], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    seen_lock = read_during_lock = False
    try:
        deadline = time.monotonic() + 120
        while build.poll() is None and time.monotonic() < deadline:
            holder = _writer_lock_holder(database)
            if holder is not None:
                seen_lock = True
                assert holder != os.getpid()
                # (no duckdb.connect(read_only=True) probe here: dbt-duckdb releases and retakes the lock between
                # phases, and a reader's shared lock taken in such a gap makes the build fail — the reason to
                # publish Parquet at all)
                frame = warehouse.read("agg_recsys_daily", built.data_dir)
                ctr = warehouse.sql("select sum(clicks) / sum(impressions) as ctr from agg_recsys_daily",
                                    built.data_dir)
                if _writer_lock_holder(database) == holder:  # still held after the reads
                    read_during_lock = True
                    assert_frame_equal(_sorted(frame), _sorted(expected))
                    assert 0 < ctr["ctr"][0] < 1
                    break
            time.sleep(0.02)
        output, _ = build.communicate(timeout=120)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == 0, output[-3000:]
    assert seen_lock, "never saw dbt hold the warehouse lock: the test proved nothing"
    assert read_during_lock
    assert (built.data_dir / "marts" / "agg_recsys_daily.parquet").stat().st_mtime_ns > before, "republished"
    assert_frame_equal(_sorted(warehouse.read("dq_ingest_daily", built.data_dir)),
                       _sorted(_table(built.data_dir, "dq_ingest_daily")))
