"""Helpers for the seed conformance suite: feed lines to ``telemetry ingest`` as a user would, read what landed.

Expected values in these tests are computed here, independently of the ingest code (plain ``hmac`` over the
raw ids, hand-counted fixtures), never by calling the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from ingest.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_KEY = b"test-key-0123456789abcdef-0123456789"  # the key tests/conftest.py puts in TELEMETRY_HASH_KEY


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def as_json_line(printed: str) -> str:
    """A payload printed over several lines in a seed, as the one JSON line a producer sends (values unchanged)."""
    return json.dumps(json.loads(printed), ensure_ascii=False)


def keyed_hash(value: str, key: bytes = TEST_KEY) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def run_cli(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(main, [*args], env=env, catch_exceptions=False)
    return result


def ingest(data_dir: Path, path: Path, as_of: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``telemetry ingest`` on one file; return its ledger row (the printed output under ``"output"``)."""
    result = run_cli("ingest", str(path), "--data-dir", str(data_dir), "--as-of", as_of, "--workers", "1",
                     *extra, env=env)
    assert result.exit_code == 0, result.output
    rows = ledger(data_dir)
    assert rows, result.output
    row = max(rows, key=lambda r: r["finished_at"])
    row["output"] = result.output
    return row


def ingest_lines(data_dir: Path, tmp: Path, name: str, lines: list[str], as_of: str, *extra: str,
                 env: dict[str, str] | None = None) -> dict[str, Any]:
    path = tmp / name
    path.write_text("".join(line.rstrip("\n") + "\n" for line in lines), encoding="utf-8")
    return ingest(data_dir, path, as_of, *extra, env=env)


def ledger(data_dir: Path) -> list[dict[str, Any]]:
    folder = data_dir / "lake" / "_ledger"
    return [pq.read_table(p).to_pylist()[0] for p in sorted(folder.glob("*.parquet")) if not p.name.startswith("_")]


def landed(data_dir: Path, lake_type: str) -> list[dict[str, Any]]:
    """Every landed row of one lake event type (all dates), as dicts."""
    files = sorted((data_dir / "lake" / "events" / f"event_type={lake_type}").glob("event_date=*/*.parquet"))
    if not files:
        return []
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    return table.to_pylist()


def quarantine(data_dir: Path) -> list[dict[str, Any]]:
    files = [p for p in sorted((data_dir / "lake" / "quarantine").glob("*.parquet")) if not p.name.startswith("_")]
    return [row for p in files for row in pq.read_table(p).to_pylist()]


def balanced(row: dict[str, Any]) -> bool:
    return row["records_read"] == row["landed"] + row["quarantined"] + row["duplicates"] + row["dropped"]
