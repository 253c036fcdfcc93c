"""docs/requirements/recsys.md (recsys): every key field the seed lists per event lands; user and session ids are hashed; the
sanitized error message lands as its length only. Storage: the raw lake is Snappy and published rollups Gzip,
ingest compacts small files to 128 MB–1 GB targets, and each partition gets its hot/warm/cold tier's treatment."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conformance_support import FIXTURES, TEST_KEY, balanced, ingest, keyed_hash, landed, ledger, run_cli
from ingest.collector.spool import land_all, spool_dir
from ingest.generate.synthetic import recsys_events
from ingest.lake import Lake
from ingest.lake.compaction import compact
from ingest.pipeline import IngestSettings
from ingest.registry import Registry
from ingest.warehouse.publish import publish_marts
from support import ROOT

AS_OF = "2025-12-01T12:30:00Z"
KEY_FIELDS = {  # "Event Schema Highlights": key fields per event
    "request": ["request_id", "user_id", "experiment_id", "bucket", "filters", "k"],
    "ranking": ["request_id", "latency_ms", "coverage", "algorithm", "alpha", "items"],
    "impression": ["request_id", "canonical_id", "position", "visible_ms", "surface"],
    "click": ["request_id", "canonical_id", "engagement_type", "dwell_ms"],
    "error": ["timestamp_ms", "component", "severity", "error_code", "message"],
}
PII_FIELDS = {"request": ["user_id"], "ranking": ["user_id"], "impression": ["user_id", "session_id", "device_type"],
              "click": ["user_id", "session_id", "device_type"], "error": []}


def test_key_fields_and_pii_fields_are_in_the_registry(registry):
    for event_type, fields in KEY_FIELDS.items():
        properties = registry.families["recsys"].latest(event_type).document["properties"]
        assert set(fields) | set(PII_FIELDS[event_type]) <= set(properties), event_type


def test_one_event_per_type_with_its_key_fields_lands(tmp_path):
    row = ingest(tmp_path / "d", FIXTURES / "seed003_key_fields.jsonl", AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"], row["dropped"]) == (5, 5, 0, 0), row["output"]
    [request] = landed(tmp_path / "d", "recsys_request")
    assert request["player_key"] == keyed_hash("u-seed003-frank")
    assert request["session_id"] == keyed_hash("s-seed003-frank-1")
    [ranking] = landed(tmp_path / "d", "recsys_ranking")
    assert (ranking["latency_ms"], ranking["coverage"], ranking["algorithm"]) == (38.5, 0.42, "bts")
    [error] = landed(tmp_path / "d", "recsys_error")
    assert error["message_length"] == len("ranker exceeded 200 ms budget") and "message" not in error
    assert error["severity"] == "critical"


# --- storage: codecs per layer, compaction to 128 MB–1 GB files after ingest, hot/warm/cold tiers ------------
# docs/requirements/recsys.md#partitioning "Snappy for raw events, Gzip for rollups", "128MB-1GB optimal file
# sizes", "Automated small file and partition compaction"; #retention "Hot (30d), Warm (90d), Cold (400d)".
DAY_MS = 86_400_000
STORAGE_DAY = date(2025, 6, 1)
STORAGE_DAY_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z


def recsys_files(folder: Path, count: int, day_ms: int, *, requests: int = 6, first_seed: int = 1) -> list[Path]:
    """``count`` JSON-lines files of generated recsys events, all within the UTC day starting at ``day_ms``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"part-{first_seed + n:02d}.jsonl"
        events = recsys_events(requests, seed=first_seed + n, start_ms=day_ms, span_days=1)
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        paths.append(path)
    return paths


def expected_counts(paths: list[Path]) -> Counter:
    """(lake type, event date) → lines, counted from the input files themselves."""
    counts: Counter = Counter()
    for path in paths:
        for line in path.read_bytes().splitlines():
            event = orjson.loads(line)
            day = datetime.fromtimestamp(event["timestamp_ms"] / 1000, timezone.utc).date().isoformat()
            counts[(f"recsys_{event['event_type']}", day)] += 1
    return counts


def partition_files(data_dir: Path, lake_type: str, day: date) -> list[Path]:
    folder = data_dir / "lake" / "events" / f"event_type={lake_type}" / f"event_date={day.isoformat()}"
    return sorted(folder.glob("*.parquet"))


def rows_of(files: list[Path]) -> list[tuple]:
    """Every row of ``files`` as a sorted multiset of tuples (pyarrow, columns by name)."""
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    columns = sorted(table.column_names)
    return sorted(tuple(repr(row[c]) for c in columns) for row in table.select(columns).to_pylist())


def codecs_of(path: Path) -> set[str]:
    metadata = pq.ParquetFile(path).metadata
    return {metadata.row_group(g).column(c).compression
            for g in range(metadata.num_row_groups) for c in range(metadata.num_columns)}


def said_compacted(output: str) -> bool:
    return any(line.startswith("compacted ") for line in output.splitlines())


def ingest_many(data_dir: Path, paths: list[Path], as_of: str, *extra: str):
    result = run_cli("ingest", *map(str, paths), "--data-dir", str(data_dir), "--as-of", as_of, "--workers", "1",
                     *extra)
    assert result.exit_code == 0, result.output
    return result


def test_the_raw_lake_is_written_snappy(tmp_path):
    ingest(tmp_path / "d", FIXTURES / "seed003_key_fields.jsonl", AS_OF)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_type": "click"}\nnot json\n', encoding="utf-8")
    ingest(tmp_path / "d", bad, AS_OF)
    files = [p for p in (tmp_path / "d" / "lake").rglob("*.parquet") if p.stat().st_size]
    assert {"events", "quarantine", "_ledger", "_schemas"} <= {p.relative_to(tmp_path / "d" / "lake").parts[0]
                                                                for p in files}
    assert {path.name: codecs_of(path) for path in files} == {path.name: {"SNAPPY"} for path in files}


def test_published_rollups_are_written_gzip(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create table agg_recsys_daily as select date '2025-06-01' + i::int as event_date, "
                    "i as impressions from range(3) t(i)")
    [published] = [p for p in publish_marts(tmp_path) if p.mart.name == "agg_recsys_daily"]
    assert codecs_of(published.path) == {"GZIP"}
    assert pq.read_table(published.path).num_rows == 3


def test_a_lake_holding_files_of_other_codecs_reads_whole_and_compacts_to_snappy(tmp_path):
    paths = recsys_files(tmp_path / "in", 3, STORAGE_DAY_MS)
    data_dir = tmp_path / "d"
    ingest_many(data_dir, paths, "2025-06-02T12:00:00Z", "--no-compact")
    files = partition_files(data_dir, "recsys_impression", STORAGE_DAY)
    assert len(files) == 3
    before = rows_of(files)
    for path, codec in zip(files[:2], ("zstd", "gzip")):  # as an earlier release (zstd) or another tool wrote them
        pq.write_table(pq.read_table(path), path, compression=codec)
    assert [codecs_of(p) for p in files] == [{"ZSTD"}, {"GZIP"}, {"SNAPPY"}]
    folder = files[0].parent
    with duckdb.connect() as con:  # the way the dbt sources read the lake
        query = f"select count(*) from read_parquet('{folder}/*.parquet', union_by_name = true)"
        assert con.execute(query).fetchall() == [(len(before),)]
    assert rows_of(files) == before
    report = compact(Lake(data_dir / "lake"), as_of=date(2025, 9, 1))  # 92 days old: cold, fully merged
    [merged] = partition_files(data_dir, "recsys_impression", STORAGE_DAY)
    assert [r.tier.name for r in report.partitions if r.path == folder] == ["cold"]
    assert codecs_of(merged) == {"SNAPPY"} and rows_of([merged]) == before


@pytest.mark.slow
def test_ingest_compacts_a_hot_partition_once_it_holds_eight_small_files(tmp_path):
    as_of = "2025-06-02T12:00:00Z"  # one day after the events: hot
    paths = recsys_files(tmp_path / "in", 8, STORAGE_DAY_MS)
    plain, compacted = tmp_path / "plain", tmp_path / "compacted"
    ingest_many(plain, paths[:7], as_of)
    assert len(partition_files(plain, "recsys_impression", STORAGE_DAY)) == 7  # seven: below the threshold
    ingest_many(plain, paths[7:], as_of, "--no-compact")
    assert len(partition_files(plain, "recsys_impression", STORAGE_DAY)) == 8  # --no-compact leaves them
    result = ingest_many(compacted, paths, as_of)
    assert said_compacted(result.output)

    expected = expected_counts(paths)
    for (lake_type, day), lines in expected.items():
        merged = partition_files(compacted, lake_type, date.fromisoformat(day))
        assert [p.name.split("-")[:2] for p in merged] == [["compact", "1"]], lake_type  # eight → one, level 1
        assert rows_of(merged) == rows_of(partition_files(plain, lake_type, date.fromisoformat(day)))
        assert pq.read_metadata(merged[0]).num_rows == lines
    rows = ledger(compacted)
    assert all(balanced(row) for row in rows) and len(rows) == 8
    landed_by_partition = Counter()
    for row in rows:
        for part in row["partitions"]:
            landed_by_partition[(part["event_type"], part["event_date"].isoformat())] += part["landed"]
    assert landed_by_partition == expected  # the ledger still accounts for every row the files hold

    before = {p: p.stat().st_mtime_ns for p in (compacted / "lake" / "events").rglob("*.parquet")}
    again = ingest_many(compacted, paths, as_of)  # every file is in the ledger: nothing lands, nothing is merged
    assert not said_compacted(again.output)
    dry = run_cli("compact", "--data-dir", str(compacted), "--as-of", "2025-06-02", "--dry-run")
    assert dry.exit_code == 0 and "would compact 0 partition(s)" in dry.output
    assert {p: p.stat().st_mtime_ns for p in (compacted / "lake" / "events").rglob("*.parquet")} == before


@pytest.mark.slow
def test_a_hot_partition_merges_per_level_without_rewriting_what_it_merged(tmp_path):
    as_of = "2025-06-02T12:00:00Z"
    data_dir = tmp_path / "d"
    ingest_many(data_dir, recsys_files(tmp_path / "a", 8, STORAGE_DAY_MS), as_of)
    [first] = partition_files(data_dir, "recsys_request", STORAGE_DAY)
    stamp = first.stat().st_mtime_ns
    ingest_many(data_dir, recsys_files(tmp_path / "b", 8, STORAGE_DAY_MS, first_seed=20), as_of)
    files = partition_files(data_dir, "recsys_request", STORAGE_DAY)
    assert len(files) == 2 and first in files and first.stat().st_mtime_ns == stamp  # the level-1 file stayed
    assert sorted(p.name.split("-")[1] for p in files) == ["1", "1"]


@pytest.mark.slow
def test_each_tier_gets_its_treatment_by_partition_age(tmp_path):
    """Three small files in a partition 10 days old (hot: kept, under 8), 60 days (warm: merged to 256 MiB
    files) and 200 days (cold: merged to 1 GiB files), as of 2025-06-01; ingest compacts them itself."""
    as_of = STORAGE_DAY
    ages = {"hot": 10, "warm": 60, "cold": 200}
    data_dir = tmp_path / "d"
    inputs = []
    for tier, age in ages.items():
        inputs += recsys_files(tmp_path / tier, 3, STORAGE_DAY_MS - age * DAY_MS)
    plain = tmp_path / "plain"
    ingest_many(plain, inputs, f"{as_of.isoformat()}T12:00:00Z", "--backfill", "--no-compact")
    result = ingest_many(data_dir, inputs, f"{as_of.isoformat()}T12:00:00Z", "--backfill")
    assert said_compacted(result.output)
    for tier, age in ages.items():
        day = as_of - timedelta(days=age)
        files = partition_files(data_dir, "recsys_impression", day)
        assert len(files) == (3 if tier == "hot" else 1), tier
        assert rows_of(files) == rows_of(partition_files(plain, "recsys_impression", day)), tier

    report = compact(Lake(plain / "lake"), as_of=as_of, registry=Registry.load(ROOT / "schemas"), dry_run=True)
    targets = {r.path.name: (r.tier.name, r.tier.target_bytes) for r in report.partitions
               if r.path.parent.name == "event_type=recsys_impression"}
    assert targets == {f"event_date={as_of - timedelta(days=60)}": ("warm", 256 * 1024 * 1024),
                       f"event_date={as_of - timedelta(days=200)}": ("cold", 1024 * 1024 * 1024)}


def test_compaction_targets_outside_128_mb_to_1_gb_are_refused(tmp_path):
    for option, mb in (("--target-mb", "64"), ("--cold-target-mb", "2048")):
        result = run_cli("compact", "--data-dir", str(tmp_path), option, mb)
        assert result.exit_code == 2 and "range" in result.output, result.output


def test_the_collectors_spool_lander_compacts_too(tmp_path):
    data_dir = tmp_path / "d"
    spool = spool_dir(data_dir)
    for path in recsys_files(tmp_path / "in", 2, STORAGE_DAY_MS):  # landed with today's clock: cold partitions
        spool.mkdir(parents=True, exist_ok=True)
        path.rename(spool / f"20250601T000000000000-1-{path.stem}.jsonl")
    settings = IngestSettings(ROOT / "schemas", TEST_KEY, "k1", datetime.now(timezone.utc), backfill=True)
    report = land_all(data_dir, settings, Registry.load(ROOT / "schemas"))
    assert report.landed and report.compaction is not None and report.compaction.partitions
    assert len(partition_files(data_dir, "recsys_impression", STORAGE_DAY)) == 1
