"""Ingest scales out as one process per input file (docs/scale-out.md): N `telemetry ingest` processes started
at once on disjoint files, into one shared lake, land every event exactly once — the same events and ledger
totals as one process landing the files one after another. Running every task again at once (a scheduler's
retry, a speculative duplicate) lands nothing new."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.generate import GenerateConfig, generate

pytestmark = pytest.mark.slow

TELEMETRY = str(Path(sys.executable).with_name("telemetry"))
AS_OF = "2024-11-07T23:59:59Z"


def ingest_command(data: Path, *paths: Path) -> list[str]:
    return [TELEMETRY, "ingest", *map(str, paths), "--data-dir", str(data), "--as-of", AS_OF, "--backfill",
            "--workers", "1"]


def run_at_once(data: Path, files: list[Path]) -> None:
    processes = [subprocess.Popen(ingest_command(data, path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for path in files]
    for process in processes:
        assert process.wait(timeout=180) == 0, process.stderr.read().decode()


def lake_state(data: Path) -> tuple[int, list[str], dict[str, tuple]]:
    lake = data / "lake"
    with duckdb.connect() as con:
        rows = con.sql(f"select count(*) from read_parquet('{lake}/events/*/*/*.parquet')").fetchall()[0][0]
        ids = [r[0] for r in con.sql(f"select event_id from read_parquet('{lake}/events/*/*/*.parquet') "
                                     "order by event_id").fetchall()]
        ledger = {r[0]: r[1:] for r in con.sql(
            f"select source_sha256, records_read, landed, quarantined, duplicates, dropped "
            f"from read_parquet('{lake}/_ledger/*.parquet')").fetchall()}
    return rows, ids, ledger


@pytest.fixture(scope="module")
def input_files(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("parallel") / "generated"
    generate(GenerateConfig(players=12, days=3, seed=5, out=out, start=date(2024, 11, 5),
                            families=("recsys", "politics")))
    files = sorted(out.glob("*/*.jsonl"))
    assert len(files) == 6
    return files


def test_parallel_ingests_on_disjoint_files_land_exactly_once(tmp_path, hash_key, input_files):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    for path in input_files:  # the reference: one process, one file after another
        done = subprocess.run(ingest_command(serial, path), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
    run_at_once(parallel, input_files)  # one process per file, all at once, one shared lake

    rows, ids, ledger = lake_state(parallel)
    want_rows, want_ids, want_ledger = lake_state(serial)
    assert rows == len(set(ids)) == want_rows > 0, "an event landed twice or not at all"
    assert ids == want_ids
    assert ledger == want_ledger and len(ledger) == len(input_files)
    assert sum(entry[1] for entry in ledger.values()) == rows

    run_at_once(parallel, input_files)  # every task again, at once: each file is already in the ledger
    assert lake_state(parallel) == (rows, ids, ledger)
