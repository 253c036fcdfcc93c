"""Crash safety (docs/requirements/design.md#exactly-once): SIGKILL mid-batch, re-run, every event landed exactly once;
concurrent ingests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.generate.synthetic import recsys_events

TELEMETRY = str(Path(sys.executable).with_name("telemetry"))
START_MS = 1_732_406_400_000 - 2 * 86_400_000  # 2024-11-22, inside the window of as-of 2024-11-24


def write_events(path: Path, requests: int, seed: int) -> int:
    count = 0
    with open(path, "wb") as handle:
        for event in recsys_events(requests, seed=seed, start_ms=START_MS, span_days=2):
            handle.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def ingest_command(data: Path, *paths: Path) -> list[str]:
    return [TELEMETRY, "ingest", *map(str, paths), "--data-dir", str(data), "--as-of", "2024-11-24T12:00:00Z",
            "--workers", "1", "--rows-per-file", "1500"]


def lake_state(data: Path) -> tuple[int, int, list[tuple]]:
    lake = data / "lake"
    rows, distinct = duckdb.sql(f"select count(*), count(distinct event_id) from read_parquet('{lake}/events/*/*/*.parquet')").fetchall()[0]
    ledger = duckdb.sql(f"select batch_id, records_read, landed, quarantined, duplicates, dropped "
                        f"from read_parquet('{lake}/_ledger/*.parquet') order by batch_id").fetchall()
    return rows, distinct, ledger


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "events.jsonl"
    return path, write_events(path, 21000, seed=11)  # 3 columnar chunks: still running after 12 files


@pytest.mark.parametrize("kill_after_files", [1, 5, 12])
@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_lands_everything_exactly_once(tmp_path, big_file, hash_key, kill_after_files):
    path, expected = big_file
    data = tmp_path / "data"
    process = subprocess.Popen(ingest_command(data, path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    pending = data / "lake" / "_pending"
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(pending.glob("*+events+*.parquet"))) >= kill_after_files:
            break
        time.sleep(0.005)
    assert process.poll() is None, "ingest finished before it could be killed: make the file bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list((data / "lake" / "_ledger").glob("[!_]*.parquet")), "killed before the ledger row"
    partial = len(list(pending.glob("*+events+*.parquet")))
    assert partial >= kill_after_files  # a half-written batch was really there
    assert not list((data / "lake" / "events").glob("*/*/*.parquet")), "nothing of it visible to readers"

    rerun = subprocess.run(ingest_command(data, path), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    rows, distinct, ledger = lake_state(data)
    assert rows == distinct == expected
    [(batch_id, read, landed, quarantined, duplicates, dropped)] = ledger
    assert (read, landed, quarantined, duplicates, dropped) == (expected, expected, 0, 0, 0)
    assert not list((data / "lake").rglob(".*.tmp")), "no temporary files left visible"
    assert not list(pending.iterdir()), "the interrupted batch's pending files are gone"
    assert sorted(p.name for p in (data / "lake" / "_locks").iterdir()) == ["lake.lock"], "no batch lock left"


@pytest.mark.slow  # two ingest processes started at once: seconds of interpreter start-up
def test_two_ingests_at_once_on_different_files(tmp_path, hash_key):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    expected = write_events(first, 1500, seed=21) + write_events(second, 1500, seed=22)
    data = tmp_path / "data"
    processes = [subprocess.Popen(ingest_command(data, p), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for p in (first, second)]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    rows, distinct, ledger = lake_state(data)
    assert rows == distinct == expected
    assert len(ledger) == 2 and sum(entry[2] for entry in ledger) == expected


@pytest.mark.slow  # two ingest processes started at once: seconds of interpreter start-up
def test_the_same_file_twice_at_once_lands_once(tmp_path, hash_key):
    path = tmp_path / "a.jsonl"
    expected = write_events(path, 1000, seed=31)
    data = tmp_path / "data"
    processes = [subprocess.Popen(ingest_command(data, path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=120) == 0
    rows, distinct, ledger = lake_state(data)
    assert rows == distinct == expected and len(ledger) == 1
