"""The run manifest (docs/warehouse.md "Incremental models"): what each incremental model processed, and the
one-off upgrade of a warehouse whose tables still carry the per-row watermark it replaced."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.cli.main import main
from ingest.warehouse import run_dbt
from ingest.warehouse.dbt import invoke_dbt

pytestmark = [pytest.mark.dbt]
BUILD = ["build", "--select", "+fct_politics_player_days", "--exclude-resource-type", "test",
         "--exclude-resource-type", "unit_test"]


def vote(user: str, created_at: str) -> str:
    return json.dumps({"type": "BILL_VOTE", "metaVersion": 1, "createdAt": created_at, "userId": user,
                       "companyId": "co-1", "billId": "HB-1001", "stance": "YEA", "seatWeight": 1.5})


def ingest_vote(data: Path, tmp: Path, user: str, day: str) -> datetime:
    """Land one vote of ``day`` (ISO date); returns its batch's ledger ``finished_at``."""
    path = tmp / f"{user}.jsonl"
    path.write_text(vote(user, f"{day}T10:00:00Z") + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(data), "--as-of", f"{day}T12:00:00Z",
                                       "--workers", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [pq.read_table(p).to_pylist()[0] for p in (data / "lake" / "_ledger").glob("*.parquet")
            if not p.name.startswith("_")]
    return max(row["finished_at"] for row in rows)


def newest_run(con: duckdb.DuckDBPyConnection, model: str) -> tuple[bool, list[str] | None]:
    full, keys = con.execute("select full_build, reprocess_keys from incremental_manifest where model = ? "
                             "order by run_started_at desc limit 1", [model]).fetchall()[0]
    return full, (json.loads(keys) if keys is not None else None)


def test_an_old_per_row_watermark_moves_into_the_manifest(tmp_path):
    data = tmp_path / "d"
    old_watermark = ingest_vote(data, tmp_path, "u-1", "2025-03-02")
    run_dbt(BUILD, data, quiet=True)
    # the warehouse as the per-row-watermark engine left it: the column on every incremental table, stamped with
    # the batch it processed, and no manifest
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        tables = [model for (model,) in con.sql("select distinct model from incremental_manifest").fetchall()]
        assert "fct_politics_player_days" in tables
        for table in tables:
            con.execute(f"alter table {table} add column _ledger_finished_at_max timestamp")
            con.execute(f"update {table} set _ledger_finished_at_max = ?", [old_watermark])
        con.execute("drop table incremental_manifest")

    result = invoke_dbt(["run-operation", "adopt_run_manifest"], data, capture=True)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table in tables:
            columns = {c for (c,) in con.execute("select column_name from information_schema.columns "
                                                  "where table_name = ?", [table]).fetchall()}
            assert "_ledger_finished_at_max" not in columns, table
        adopted = dict(con.sql("select model, watermark from incremental_manifest").fetchall())
    # a table with rows adopts its maximum; an empty one has none (its next run redoes what the ledger holds)
    assert adopted["fct_politics_player_days"] == old_watermark

    # the next build is incremental from the adopted watermark: only the new day is recomputed
    ingest_vote(data, tmp_path, "u-2", "2025-03-04")
    run_dbt(BUILD, data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        assert newest_run(con, "fct_politics_player_days") == (False, ["2025-03-04"])
        days = con.sql("select event_date, count(*) from fct_politics_player_days group by 1 order by 1").fetchall()
    assert [str(day) for day, _ in days] == ["2025-03-02", "2025-03-04"]
