"""``telemetry dq run``: a GX checkpoint whose expectations come from the registry, the seeds, the ledger and the
dbt manifest. On a copy of the built data directory with three deliberate faults, exactly those three fail."""

from __future__ import annotations

import csv
import json
import re

import duckdb
import pyarrow.parquet as pq
import pytest

from chromium import Chromium, page_url
from readers_support import ROOT, copy_data_dir
from ingest.registry import Registry

pytestmark = [pytest.mark.dbt]

EXPECTED_FAILURES = {
    ("lake.recsys_click", "expect_column_values_to_be_between", "position"),  # 5000 > the schema's maximum 1000
    ("lake.recsys_click", "expect_table_row_count_to_equal", None),  # a landed row went missing: ledger says more
    ("mart.agg_recsys_daily", "expect_column_values_to_be_between", "ctr"),  # a CTR of 1.5
}


@pytest.fixture(scope="module")
def dq_run(built, tmp_path_factory):
    from ingest.quality import run_dq

    data_dir = copy_data_dir(built, tmp_path_factory.mktemp("dq") / "data")
    newest = built.batch_ids[1]
    clicks = sorted(data_dir.glob(f"lake/events/event_type=recsys_click/event_date=*/{newest}-*.parquet"))
    table = pq.read_table(clicks[0])
    positions = table.column("position").to_pylist()
    positions[0] = 5000
    table = table.set_column(table.schema.get_field_index("position"), "position", [positions]).slice(0, table.num_rows - 1)
    pq.write_table(table, clicks[0])
    daily_path = data_dir / "marts" / "agg_recsys_daily.parquet"
    daily = pq.read_table(daily_path)
    ctr = daily.column("ctr").to_pylist()
    ctr[0] = 1.5
    pq.write_table(daily.set_column(daily.schema.get_field_index("ctr"), "ctr", [ctr]), daily_path)
    return data_dir, run_dq(data_dir)


def test_exactly_the_broken_expectations_fail(dq_run):
    _, result = dq_run
    failed = {(f["asset"], f["expectation"], f["column"]) for f in result.failed}
    assert failed == EXPECTED_FAILURES
    assert not result.success
    statistics = result.summary["statistics"]
    assert statistics["unsuccessful_expectations"] == 3
    assert statistics["evaluated_expectations"] > 100
    click = next(v for v in result.summary["validations"] if v["asset"] == "lake.recsys_click")
    count = next(r for r in click["results"] if r["expectation"] == "expect_table_row_count_to_equal")
    assert count["observed_value"] == count["kwargs"]["value"] - 1
    position = next(r for r in click["results"] if r["column"] == "position")
    assert position["unexpected_count"] == 1 and position["partial_unexpected_list"] == [5000]


def test_summary_is_written_and_machine_readable(dq_run):
    data_dir, result = dq_run
    on_disk = json.loads((data_dir / "dq" / "summary.json").read_text())
    assert on_disk == result.summary
    assert on_disk["checkpoint"] == "telemetry"
    assert {v["kind"] for v in on_disk["validations"]} == {"batch", "quarantine", "ledger", "mart"}


def test_each_family_is_checked_on_its_latest_batch(dq_run, built, registry):
    _, result = dq_run
    lake = [v for v in result.summary["validations"] if v["kind"] in ("batch", "quarantine")]
    assert {v["batch_id"] for v in lake} == {built.batch_ids[1]}, "the newer of the two batches"
    assert {v["asset"] for v in lake if v["kind"] == "batch"} == {
        f"lake.recsys_{t}" for t in ("request", "ranking", "impression", "click", "error")}
    skipped = {s["family"] for s in result.summary["skipped"]}
    assert skipped == set(registry.families) - {"recsys"}, "families with nothing landed are reported, not failed"


def test_expectations_come_from_the_registry_seeds_and_ledger(dq_run, built):
    _, result = dq_run
    schema = Registry.load(ROOT / "schemas").families["recsys"].latest("click").document
    by_asset = {v["asset"]: v for v in result.summary["validations"]}
    click = by_asset["lake.recsys_click"]["results"]
    in_set = {r["column"]: r["kwargs"]["value_set"] for r in click if r["expectation"] == "expect_column_values_to_be_in_set"}
    assert in_set["engagement_type"] == schema["properties"]["engagement_type"]["enum"]
    assert in_set["device_type"] == schema["properties"]["device_type"]["enum"]
    not_null = {r["column"] for r in click if r["expectation"] == "expect_column_values_to_not_be_null"}
    assert {"request_id", "canonical_id", "engagement_type", "occurred_at", "event_id"} <= not_null
    assert any(r["expectation"] == "expect_column_values_to_match_regex" and r["column"] == "request_id" for r in click)
    with (ROOT / "seeds" / "quarantine_reasons.csv").open() as handle:
        reasons = sorted(row["reason"] for row in csv.DictReader(handle))
    quarantine = by_asset["lake.recsys.quarantine"]
    assert quarantine["rows"] == 2
    assert any(r["kwargs"].get("value_set") == reasons for r in quarantine["results"])
    ledger = by_asset["lake.ledger"]
    assert ledger["rows"] == 2 and ledger["success"]
    mart = by_asset["mart.dq_ingest_daily"]["results"]
    landed = next(r for r in mart if r["expectation"] == "expect_column_sum_to_be_between")
    with duckdb.connect() as con:
        total = con.execute(f"select sum(landed) from read_parquet('{built.data_dir}/lake/_ledger/*.parquet')").fetchone()[0]
    assert landed["kwargs"]["min_value"] == landed["observed_value"] == total
    unique = {tuple(r["column"]) for r in by_asset["mart.agg_recsys_positions_daily"]["results"]
              if r["expectation"] == "expect_compound_columns_to_be_unique"}
    assert ("event_date", "experiment_id", "bucket", "position") in unique, "from the dbt manifest's tests"


def test_data_docs_load_nothing_from_the_network(dq_run):
    _, result = dq_run
    assert result.data_docs.name == "index.html" and result.data_docs.exists()
    pages = list(result.data_docs.parent.rglob("*.html"))
    assert len(pages) > 10
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']https?://""", re.IGNORECASE)
    for page in pages:
        assert not remote.search(page.read_text()), page


def test_data_docs_render_offline_in_chromium(dq_run, chromium_path):
    _, result = dq_run
    with Chromium(chromium_path) as browser:
        browser.open(page_url(result.data_docs))
        rows = browser.evaluate("Array.from(document.querySelectorAll('table.telemetry-table tbody tr'))"
                                ".map(r => r.innerText)")
        failed_icons = browser.evaluate("document.querySelectorAll('.fa-times').length")
    validations = len(result.summary["validations"])
    assert len([r for r in rows if "lake." in r or "mart." in r]) >= validations, "index tables rendered"
    assert any("lake.recsys_click" in r for r in rows)
    assert failed_icons >= 2


def test_dq_command_prints_failures_and_exits_1(dq_run, monkeypatch):
    import ingest.quality.gx
    from click.testing import CliRunner

    from ingest.cli import main

    data_dir, result = dq_run
    monkeypatch.setattr(ingest.quality.gx, "run_dq", lambda data_dir: result)  # the checkpoint itself ran in the fixture
    output = CliRunner().invoke(main, ["dq", "run", "--data-dir", str(data_dir)])
    assert output.exit_code == 1, output.output
    assert "FAIL lake.recsys_click" in output.output and "FAIL mart.agg_recsys_daily" in output.output
    assert "ok   lake.ledger" in output.output
    assert f"Data Docs: {result.data_docs}" in output.output


def test_a_later_erasure_turns_exact_counts_into_upper_bounds(built, registry, tmp_path):
    from datetime import datetime

    from ingest.quality import build_targets
    from ingest.lake import Lake, LedgerEntry, PartitionCount

    data_dir = copy_data_dir(built, tmp_path / "data")
    lake = Lake(data_dir / "lake")
    newest = pq.read_table(data_dir / "lake" / "_ledger" / f"{built.batch_ids[1]}.parquet").to_pylist()[0]
    click_part = next(p for p in newest["partitions"] if p["event_type"] == "recsys_click")
    later = datetime(2030, 1, 1)
    lake.write_ledger(LedgerEntry(
        batch_id="erasure-000000000001", kind="erasure", source_file="erasure", source_sha256="", source_bytes=0,
        as_of=later, started_at=later, finished_at=later, backfill=False, lines_read=0, records_read=0, landed=0,
        quarantined=0, duplicates=0, dropped=0,
        partitions=(PartitionCount(click_part["event_type"], click_part["event_date"]),)))
    targets, _ = build_targets(data_dir, registry)
    by_asset = {t.asset: t for t in targets}
    assert by_asset["lake.recsys_click"].batch_id == built.batch_ids[1], "an erasure row is not a landed batch"
    counts = {t.asset: [e for e in t.expectations if e[0].startswith("ExpectTableRowCount")] for t in targets}
    landed = sum(p["landed"] for p in newest["partitions"] if p["event_type"] == "recsys_click")
    assert counts["lake.recsys_click"] == [("ExpectTableRowCountToBeBetween", {"min_value": 0, "max_value": landed})]
    assert counts["lake.recsys_request"][0][0] == "ExpectTableRowCountToEqual", "partitions the erasure did not touch"
    assert counts["lake.recsys.quarantine"][0][0] == "ExpectTableRowCountToBeBetween"
