"""Compaction merges small files without changing what any reader sees: the dbt sources' rows, the ledger,
deduplication, erasure and the cleanup of interrupted batches."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from ingest.cli import main
from ingest.generate.synthetic import recsys_events
from ingest.lake import Lake
from ingest.lake.compaction import compact
from ingest.pipeline import IngestSettings, ingest_files
from ingest.privacy import IdentityHasher, Keyring, erase_player
from support import ROOT

KEY = b"compaction-test-key-0123456789"
AS_OF = datetime(2024, 11, 27, 12, tzinfo=timezone.utc)
START_MS = 1_732_406_400_000  # 2024-11-24
DAY_MS = 86_400_000


def source_queries(data_dir: Path) -> dict[str, str]:
    """The dbt sources' own ``external_location`` of every recsys table, rendered for ``data_dir``."""
    document = yaml.safe_load((ROOT / "models" / "staging" / "recsys" / "_recsys__sources.yml").read_text())
    queries = {}
    for source in document["sources"]:
        for table in source["tables"]:
            location = table["config"]["external_location"]
            queries[table["name"]] = re.sub(r"\{\{.*?\}\}", str(data_dir), location)
    return queries


def snapshot(data_dir: Path) -> dict[str, list[tuple]]:
    """Every row every recsys source reads, sorted (a multiset per table)."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        return {name: sorted(con.sql(f"select * from {query}").fetchall(), key=repr)
                for name, query in source_queries(data_dir).items()}


def data_files(lake: Lake) -> list[Path]:
    return sorted(lake.events.glob("event_type=*/event_date=*/*.parquet"))


@pytest.fixture(scope="module")
def _ingested(tmp_path_factory):
    """Five batches over the same three days, ingested once per module: every partition holds five small files."""
    root = tmp_path_factory.mktemp("compaction")
    files = []
    for n in range(5):
        path = root / "in" / f"part{n}.jsonl"
        path.parent.mkdir(exist_ok=True)
        events = recsys_events(30, seed=n + 1, start_ms=START_MS, span_days=3)
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        files.append(path)
    settings = IngestSettings(ROOT / "schemas", KEY, "k1", AS_OF, backfill=True)
    report = ingest_files(files, settings, root / "data")
    assert report.landed > 0 and report.quarantined == 0
    return root / "data", report


@pytest.fixture()
def lake_of_small_files(_ingested, tmp_path: Path):
    """A private copy of the module's lake of small files (each test compacts, erases or breaks its own)."""
    ingested, report = _ingested
    data_dir = tmp_path / "data"
    shutil.copytree(ingested, data_dir)
    return data_dir, Lake(data_dir / "lake"), report


def test_the_sources_read_the_same_rows_from_fewer_files(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    before_rows, before_files = snapshot(data_dir), data_files(lake)
    ledger_before = lake.ledger_entries()
    partitions = {p.parent for p in before_files}
    assert len(before_files) == 5 * len(partitions)

    report = compact(lake)

    after_files = data_files(lake)
    assert len(after_files) == len(partitions)  # one file per partition: everything here is small
    assert all(p.name.startswith("compact-") for p in after_files)
    assert (report.files_before, report.files_after) == (len(before_files), len(partitions))
    assert snapshot(data_dir) == before_rows
    assert lake.ledger_entries() == ledger_before
    assert compact(lake).partitions == []  # nothing left to merge: idempotent


def test_dry_run_changes_nothing(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    before = data_files(lake)
    report = compact(lake, dry_run=True)
    assert report.files_after < report.files_before
    assert data_files(lake) == before


def test_dedup_and_resends_still_hold_after_compaction(lake_of_small_files, tmp_path):
    data_dir, lake, report = lake_of_small_files
    compact(lake)
    settings = IngestSettings(ROOT / "schemas", KEY, "k1", AS_OF, backfill=True)
    again = ingest_files([Path(b.source_file) for b in report.batches], settings, data_dir)
    assert all(b.skipped for b in again.batches)  # the ledger still knows every file
    resent = tmp_path / "resent.jsonl"
    resent.write_bytes(Path(report.batches[0].source_file).read_bytes() + b"\n")  # same events, another file
    [batch] = ingest_files([resent], settings, data_dir).batches
    assert (batch.landed, batch.duplicates) == (0, report.batches[0].landed)


def test_files_of_an_interrupted_batch_are_never_merged(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    partition = data_files(lake)[0].parent
    orphan = partition / "0123456789abcdef-0000.parquet"  # a file with no ledger row in the events tree
    shutil.copyfile(data_files(lake)[0], orphan)
    compact(lake)
    assert orphan.exists()


def test_compaction_settles_pending_batches_first(lake_of_small_files):
    """A batch killed before its ledger row is removed; one killed after it is published, then merged."""
    data_dir, lake, report = lake_of_small_files
    committed, uncommitted = report.batches[0].batch_id, "0123456789abcdef"
    source = next(p for p in data_files(lake) if p.name.startswith(committed))
    moved = lake.pending_path(committed, source)  # as if killed before publishing this file
    moved.parent.mkdir(parents=True, exist_ok=True)
    source.rename(moved)
    stray = lake.pending_path(uncommitted, source.parent / f"{uncommitted}-0000.parquet")
    shutil.copyfile(moved, stray)
    compact(lake)
    assert not lake.pending.exists() or not any(lake.pending.iterdir())
    rows = duckdb.sql(f"select batch_id, count(*) from read_parquet('{source.parent}/*.parquet') group by 1").fetchall()
    assert uncommitted not in dict(rows) and committed in dict(rows)
    assert len(data_files(lake)) == len({p.parent for p in data_files(lake)})  # one merged file each


def test_erasure_works_on_compacted_files(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    compact(lake)
    keyring = Keyring.single(IdentityHasher(KEY, "k1"))
    key = keyring.base.hash("user-1")
    before = sum(pq.read_table(p, columns=["player_key"]).column(0).to_pylist().count(key) for p in data_files(lake))
    assert before > 0
    erased = erase_player(lake, keyring, "user-1")
    assert erased.rows_removed == before
    assert all(key not in pq.read_table(p, columns=["player_key"]).column(0).to_pylist() for p in data_files(lake))


def test_a_killed_run_leaves_nothing_a_reader_sees(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    before = snapshot(data_dir)
    staging = lake.root / "_compaction" / "event_type=recsys_click__event_date=2024-11-24"
    staging.mkdir(parents=True)
    shutil.copyfile(data_files(lake)[0], staging / "compact-0000000000000000-0000.parquet")
    assert snapshot(data_dir) == before  # outside the events tree: no source glob reaches it
    compact(lake)
    assert not staging.exists()
    assert snapshot(data_dir) == before


def test_compact_command_by_family(lake_of_small_files):
    data_dir, lake, _ = lake_of_small_files
    before = len(data_files(lake))
    other = CliRunner().invoke(main, ["compact", "--data-dir", str(data_dir), "--family", "politics"])
    assert other.exit_code == 0, other.output
    assert len(data_files(lake)) == before and "0 partition(s)" in other.output
    unknown = CliRunner().invoke(main, ["compact", "--data-dir", str(data_dir), "--family", "nope"])
    assert unknown.exit_code == 2 and "unknown family nope" in unknown.output
    done = CliRunner().invoke(main, ["compact", "--data-dir", str(data_dir), "--family", "recsys"])
    assert done.exit_code == 0, done.output
    assert len(data_files(lake)) < before
