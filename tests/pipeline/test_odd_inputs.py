"""What ``telemetry ingest`` does with odd inputs: many tiny files (linear work, no lock files left), FIFOs and
other non-regular files (refused, never waited on), unreadable files and folders (reported, the rest landed,
exit 2), and files appended to while read (the ledger describes exactly the bytes read)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import ingest.pipeline.reader as reader_module
from ingest.cli import main
from ingest.lake import Lake
from ingest.pipeline import IngestSettings, ingest_files
from support import ROOT

KEY = b"test-key-0123456789abcdef"
AS_OF = datetime(2030, 1, 1, tzinfo=timezone.utc)
AS_OF_TEXT = "2030-01-01T00:00:00Z"
TELEMETRY = str(Path(sys.executable).with_name("telemetry"))


def vote(registry, n: int) -> bytes:
    event = copy.deepcopy(registry.families["politics"].latest("bill_vote").document["examples"][0])
    event["eventId"], event["userId"] = f"evt-{n}", f"user-{n}"
    return json.dumps(event).encode() + b"\n"


def settings() -> IngestSettings:
    return IngestSettings(ROOT / "schemas", KEY, "k1", AS_OF, backfill=True)


def landed_ids(data_dir: Path) -> list[str]:
    files = list((data_dir / "lake" / "events").rglob("*.parquet"))
    return sorted(i for p in files for i in pq.read_table(p, columns=["event_id"]).column(0).to_pylist())


def cli(*args: str):
    return CliRunner().invoke(main, ["ingest", *args, "--as-of", AS_OF_TEXT, "--backfill"])


@pytest.mark.slow
def test_many_tiny_files_each_published_file_is_read_at_most_once(registry, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for n in range(3):  # three batches already in the lake, all in the partition the tiny files land in
        (earlier / f"{n}.jsonl").write_bytes(vote(registry, 10_000 + n))
    ingest_files(sorted(earlier.iterdir()), settings(), data_dir, compaction=None)  # three files stay three

    folder = tmp_path / "tiny"
    folder.mkdir()
    count = 300
    for n in range(count):
        (folder / f"{n:04d}.jsonl").write_bytes(vote(registry, n))
    reads: list[str] = []
    real = pq.read_table

    def counted(source, *args, **options):
        reads.append(str(source))
        return real(source, *args, **options)

    monkeypatch.setattr(pq, "read_table", counted)
    # the batches' own reads only: the compaction after the run reads each file once more, by design
    report = ingest_files(sorted(folder.iterdir()), settings(), data_dir, compaction=None)
    monkeypatch.setattr(pq, "read_table", real)

    event_reads = [r for r in reads if "/events/" in r]
    assert len(event_reads) == 3  # the earlier batches' files, once each: not once per tiny file
    assert len(reads) - len(event_reads) <= 3  # and no ledger file is read per batch
    assert (report.landed, len(report.batches)) == (count, count)
    assert landed_ids(data_dir) == sorted([f"evt-{n}" for n in range(count)] + [f"evt-{10_000 + n}" for n in range(3)])
    assert sorted(p.name for p in (data_dir / "lake" / "_locks").iterdir()) == ["lake.lock"]
    entries = {e.source_file: e for e in Lake(data_dir / "lake").ledger_entries()}
    for path in folder.iterdir():  # one ledger row per file, describing that file
        data = path.read_bytes()
        entry = entries[str(path)]
        assert (entry.source_sha256, entry.source_bytes, entry.lines_read, entry.landed) == \
            (hashlib.sha256(data).hexdigest(), len(data), 1, 1)


def test_tiny_files_still_deduplicate_across_batches_of_one_run(registry, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for n in range(6):  # the same event in every other file
        (folder / f"{n}.jsonl").write_bytes(vote(registry, n % 2) + (b"\n" * n))  # distinct bytes, same events
    report = ingest_files(sorted(folder.iterdir()), settings(), tmp_path / "data")
    assert (report.landed, report.duplicates) == (2, 4)
    assert landed_ids(tmp_path / "data") == ["evt-0", "evt-1"]


@pytest.mark.slow
def test_a_fifo_is_refused_without_waiting_and_the_rest_lands(registry, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(vote(registry, 1))
    os.mkfifo(folder / "pipe.jsonl")  # inside a folder
    named = tmp_path / "named.jsonl"
    os.mkfifo(named)  # and named on the command line
    run = subprocess.run([TELEMETRY, "ingest", str(folder), str(named), "--data-dir", str(tmp_path / "data"),
                          "--as-of", AS_OF_TEXT, "--backfill"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert f"{folder / 'pipe.jsonl'}: a FIFO, not a regular file" in run.stderr
    assert f"{named}: a FIFO, not a regular file" in run.stderr
    assert landed_ids(tmp_path / "data") == ["evt-1"]


def test_unreadable_files_and_folders_are_reported_and_the_rest_lands(registry, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "hidden.jsonl").write_bytes(vote(registry, 9))
    (folder / "a.jsonl").write_bytes(vote(registry, 1))
    (folder / "b.jsonl").write_bytes(vote(registry, 2))
    (folder / "c.jsonl").write_bytes(vote(registry, 3))
    denied_file, denied_folder = folder / "b.jsonl", folder / "locked"
    real_open, real_scandir = os.open, os.scandir

    def open_(path, *args, **kwargs):  # as for a mode-000 file when not root
        if not isinstance(path, int) and Path(path) == denied_file:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def scandir(path="."):
        if not isinstance(path, int) and Path(path) == denied_folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "scandir", scandir)
    result = cli(str(folder), "--data-dir", str(tmp_path / "data"))
    assert result.exit_code == 2, result.output
    assert f"refused {denied_file}: Permission denied" in result.output
    assert f"refused {denied_folder}: cannot list this folder: Permission denied" in result.output
    assert "2 input(s) not ingested" in result.output
    assert landed_ids(tmp_path / "data") == ["evt-1", "evt-3"]


def test_a_file_appended_to_while_read_is_described_by_what_was_read(registry, tmp_path, monkeypatch):
    path = tmp_path / "growing.jsonl"
    original = vote(registry, 1) + vote(registry, 2)
    path.write_bytes(original)
    real = reader_module.read_extent

    def appending(handle, size, chunk=reader_module.CHUNK_BYTES):
        for data in real(handle, size, chunk):
            with open(path, "ab") as more:  # a producer appends while the batch reads
                more.write(vote(registry, 3))
            yield data

    monkeypatch.setattr(reader_module, "read_extent", appending)
    [batch] = ingest_files([path], settings(), tmp_path / "data").batches
    monkeypatch.setattr(reader_module, "read_extent", real)
    [entry] = Lake(tmp_path / "data" / "lake").ledger_entries()
    assert (entry.source_sha256, entry.source_bytes) == (hashlib.sha256(original).hexdigest(), len(original))
    assert (entry.lines_read, entry.landed) == (2, 2)
    assert landed_ids(tmp_path / "data") == ["evt-1", "evt-2"]

    [later] = ingest_files([path], settings(), tmp_path / "data").batches  # the grown file is a new batch
    grown = path.read_bytes()
    assert later.source_sha256 == hashlib.sha256(grown).hexdigest()
    assert (later.lines_read, later.landed, later.duplicates) == (grown.count(b"\n"), 1, 2)


def test_a_file_rewritten_while_read_lands_nothing(registry, tmp_path, monkeypatch):
    path = tmp_path / "rewritten.jsonl"
    path.write_bytes(vote(registry, 1) + vote(registry, 2))
    real = reader_module.read_extent

    def rewriting(handle, size, chunk=reader_module.CHUNK_BYTES):
        path.write_bytes(vote(registry, 7) + vote(registry, 8))  # same length, other bytes
        yield from real(handle, size, chunk)

    monkeypatch.setattr(reader_module, "read_extent", rewriting)
    report = ingest_files([path], settings(), tmp_path / "data", keep_going=True)
    assert report.batches == [] and "changed while it was read" in report.refused[0][1]
    assert landed_ids(tmp_path / "data") == [] and Lake(tmp_path / "data" / "lake").ledger_entries() == []
