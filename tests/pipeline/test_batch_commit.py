"""The batch commit protocol: a batch is invisible to every reader until its ledger row exists, an interrupted
batch is removed (no ledger row) or published (ledger row, files pending) by the next run, and a full disk is
a transient error that leaves nothing visible."""

from __future__ import annotations

import copy
import errno
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from ingest.cli import main
from ingest.collector.read_api import Reader
from ingest.lake import Lake
from ingest.pipeline import IngestSettings, ingest_files
from support import ROOT

KEY = b"test-key-0123456789abcdef"
AS_OF = datetime(2030, 1, 1, tzinfo=timezone.utc)
AS_OF_TEXT = "2030-01-01T00:00:00Z"


def politics_events(registry, n: int, offset: int = 0) -> list[dict]:
    """``n`` distinct valid politics events (bill votes from the schema's example, one player each)."""
    base = registry.families["politics"].latest("bill_vote").document["examples"][0]
    events = []
    for i in range(offset, offset + n):
        event = copy.deepcopy(base)
        event["eventId"] = f"evt-{i}"
        event["userId"] = f"user-{i}"
        events.append(event)
    return events


def write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def settings() -> IngestSettings:
    return IngestSettings(ROOT / "schemas", KEY, "k1", AS_OF, backfill=True)


def source_rows(data_dir: Path) -> int:
    """Rows the dbt source of bill votes reads, through its own ``external_location``."""
    document = yaml.safe_load((ROOT / "models" / "staging" / "politics" / "_politics__sources.yml").read_text())
    [location] = [t["config"]["external_location"] for s in document["sources"] for t in s["tables"]
                  if t["name"] == "bill_vote"]
    query = re.sub(r"\{\{.*?\}\}", str(data_dir), location)
    return duckdb.sql(f"select count(*) from {query} where event_date <> date '1970-01-01'").fetchall()[0][0]


def read_api_rows(data_dir: Path) -> int:
    """Rows the read API serves from the lake (``GET /v1/events``' query, without HTTP)."""
    from ingest.registry import Registry

    reader = Reader(SimpleNamespace(data_dir=data_dir, registry=Registry.load(ROOT / "schemas")))
    return reader.events(None, None, None, None, None, 1, 1000)[1]


def ledger_rows(data_dir: Path) -> list:
    return Lake(data_dir / "lake").ledger_entries()


def test_a_batch_killed_before_its_ledger_row_is_never_seen_and_lands_once_on_rerun(registry, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    path = write(tmp_path / "a.jsonl", politics_events(registry, 5))

    def killed(self, entry):
        raise KeyboardInterrupt  # a kill after the Parquet files were written, before the ledger row

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Lake, "commit", killed)
        patch.setattr(Lake, "discard", lambda self, batch_id: None)  # a killed process cleans nothing up
        ingest_files([path], settings(), data_dir)
    written = list((data_dir / "lake" / "_pending").rglob("*.parquet"))
    assert sum(pq.read_metadata(p).num_rows for p in written if "+events+" in p.name) == 5  # the rows exist
    assert source_rows(data_dir) == 0 and read_api_rows(data_dir) == 0 and ledger_rows(data_dir) == []

    [again] = ingest_files([path], settings(), data_dir).batches
    assert (again.landed, again.duplicates) == (5, 0)
    assert source_rows(data_dir) == read_api_rows(data_dir) == 5
    assert [e.landed for e in ledger_rows(data_dir)] == [5]
    assert not any((data_dir / "lake" / "_pending").iterdir())


def test_a_batch_killed_after_its_ledger_row_is_published_by_the_next_run(registry, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    first = write(tmp_path / "a.jsonl", politics_events(registry, 4))
    second = write(tmp_path / "b.jsonl", politics_events(registry, 3, offset=100))

    def killed(self, batch_id):
        raise KeyboardInterrupt  # a kill after the ledger row, before the files were renamed into place

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Lake, "publish", killed)
        ingest_files([first], settings(), data_dir)
    assert [e.landed for e in ledger_rows(data_dir)] == [4]  # committed
    assert read_api_rows(data_dir) == 0  # not yet published

    report = ingest_files([second, first], settings(), data_dir)  # another file: the run rolls the batch forward
    assert [(b.landed, b.skipped) for b in report.batches] == [(3, False), (0, True)]
    assert source_rows(data_dir) == read_api_rows(data_dir) == 7
    assert sorted(e.landed for e in ledger_rows(data_dir)) == [3, 4]


def test_a_full_disk_is_transient_and_leaves_nothing_visible(registry, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    path = write(tmp_path / "a.jsonl", politics_events(registry, 5))
    real = pq.write_table

    def full(table, where, **options):
        if "_pending" in str(where):
            real(table, where, **options)  # the file is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, **options)

    monkeypatch.setattr(pq, "write_table", full)
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(data_dir), "--as-of", AS_OF_TEXT,
                                       "--backfill"])
    assert result.exit_code == 3, result.output
    assert "No space left on device" in result.output and "not committed" in result.output
    assert source_rows(data_dir) == read_api_rows(data_dir) == 0 and ledger_rows(data_dir) == []
    assert not list((data_dir / "lake").rglob("*.tmp")) and not any((data_dir / "lake" / "_pending").iterdir())

    monkeypatch.setattr(pq, "write_table", real)
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(data_dir), "--as-of", AS_OF_TEXT,
                                       "--backfill"])
    assert result.exit_code == 0, result.output
    assert source_rows(data_dir) == read_api_rows(data_dir) == 5


def test_an_enospc_outside_a_batch_is_transient_too(registry, tmp_path, monkeypatch):
    path = write(tmp_path / "a.jsonl", politics_events(registry, 1))

    def full(*args, **options):
        raise OSError(errno.ENOSPC, "No space left on device", "somewhere")

    monkeypatch.setattr(pq, "write_table", full)  # the first write of a fresh lake: its zero-row schema files
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--as-of", AS_OF_TEXT])
    assert result.exit_code == 3, result.output
    assert "internal error" not in result.output


def test_batch_locks_do_not_accumulate(registry, tmp_path):
    data_dir = tmp_path / "data"
    paths = [write(tmp_path / f"{n}.jsonl", politics_events(registry, 1, offset=n)) for n in range(5)]
    ingest_files(paths, settings(), data_dir)
    assert sorted(p.name for p in (data_dir / "lake" / "_locks").iterdir()) == ["lake.lock"]


def test_a_running_batch_is_not_removed_by_another_runs_recovery(registry, tmp_path):
    lake = Lake(tmp_path / "lake")
    pending = lake.pending_path("0123456789abcdef", lake.partition_dir("politics_bill_vote", "2024-01-01") / "x.parquet")
    pending.parent.mkdir(parents=True)
    pending.write_bytes(b"")
    with lake.batch_lock("0123456789abcdef"):  # another process writing this batch right now
        assert lake.recover() == ([], [])
        assert pending.exists()
    assert lake.recover() == ([], ["0123456789abcdef"])  # no ledger row and nobody writing: removed
    assert not pending.exists()
