"""Erasure and retention on the lake (the warehouse side is tested with dbt in tests/warehouse)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from click.testing import CliRunner

from ingest.cli import main
from ingest.privacy import IdentityHasher

T0 = 1732406400000  # 2024-11-24
DAY = 86_400_000
KEY = b"test-key-0123456789abcdef-0123456789"


def request(user: str, n: int, ts: int) -> dict:
    return {"event_type": "request", "schema_version": "1.0", "timestamp_ms": ts, "user_id": user,
            "request_id": f"00000000-0000-4000-8000-{n:012d}", "experiment_id": "e", "bucket": "a", "k": 1}


def ingest(tmp_path: Path, name: str, lines: list, *extra: str) -> None:
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--backfill",
                                       "--as-of", "2024-11-30T00:00:00Z", *extra])
    assert result.exit_code == 0, result.output


def test_erase_removes_the_player_everywhere_in_the_lake_and_rewrites_only_affected_files(tmp_path):
    ingest(tmp_path, "a.jsonl", [request("alice", 1, T0), request("bob", 2, T0), request("bob", 3, T0 + DAY),
                                 '{"event_type": "request", "user_id": "alice", "oops": '])
    ingest(tmp_path, "b.jsonl", [request("carol", 4, T0 - DAY)])
    lake = tmp_path / "d" / "lake"
    untouched = {p: p.stat().st_mtime_ns for p in lake.glob("events/*/*/*.parquet")}
    alice = IdentityHasher(KEY, "x").hash("alice")

    result = CliRunner().invoke(main, ["erase", "--player", "alice", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "lake: 1 row(s) in 1 partition(s), 1 file(s) rewritten" in result.output
    assert "quarantine: 1 line(s) removed" in result.output
    for path in lake.rglob("*.parquet"):
        assert alice.encode() not in path.read_bytes() and b"alice" not in path.read_bytes(), path
    keys = duckdb.sql(f"select player_key from read_parquet('{lake}/events/*/*/*.parquet')").fetchall()
    assert len(keys) == 3 and (alice,) not in keys
    changed = [p for p, mtime in untouched.items() if not p.exists() or p.stat().st_mtime_ns != mtime]
    assert [p.parent.name for p in changed] == ["event_date=2024-11-24"]
    ledger = duckdb.sql(f"select kind, len(partitions) from read_parquet('{lake}/_ledger/*.parquet') where kind = 'erasure'").fetchall()
    assert ledger == [("erasure", 1)]


def test_erase_finds_rows_under_every_rotated_key(tmp_path, monkeypatch):
    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps({"keys": [{"id": "old", "from": "1970-01-01", "secret": KEY.decode()},
                                            {"id": "new", "from": "2024-11-24", "secret": "another-secret-0123456789abcdefghij"}]}))
    monkeypatch.setenv("TELEMETRY_HASH_KEYRING", str(keyring))
    ingest(tmp_path, "a.jsonl", [request("alice", 1, T0 - DAY), request("alice", 2, T0), request("bob", 3, T0)])
    result = CliRunner().invoke(main, ["erase", "--player", "alice", "--data-dir", str(tmp_path / "d")])
    assert "lake: 2 row(s) in 2 partition(s)" in result.output
    assert duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/d/lake/events/*/*/*.parquet')").fetchall() == [(1,)]


def test_erase_dry_run_changes_nothing(tmp_path):
    ingest(tmp_path, "a.jsonl", [request("alice", 1, T0)])
    before = sorted((p, p.read_bytes()) for p in (tmp_path / "d" / "lake").rglob("*.parquet"))
    result = CliRunner().invoke(main, ["erase", "--player", "alice", "--dry-run", "--data-dir", str(tmp_path / "d")])
    assert "1 file(s) to rewrite" in result.output and "dry run" in result.output
    assert sorted((p, p.read_bytes()) for p in (tmp_path / "d" / "lake").rglob("*.parquet")) == before


def test_retention_drops_expired_partitions_and_logs_them(tmp_path):
    # recsys: raw 90 days, errors 30 days (docs/requirements/recsys.md#retention)
    error = {"event_type": "error", "schema_version": "1.0", "timestamp_ms": T0 - 40 * DAY, "component": "ranker",
             "severity": "error", "error_code": "E"}
    ingest(tmp_path, "a.jsonl", [request("a", 1, T0 - 100 * DAY), request("b", 2, T0 - 80 * DAY), error])
    lake = tmp_path / "d" / "lake"
    args = ["retention", "apply", "--data-dir", str(tmp_path / "d"), "--as-of", "2024-11-24"]
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.output.count("would drop raw") == 2 and "3 drop(s) planned" not in dry.output
    assert len(list(lake.glob("events/*/*"))) == 3
    applied = CliRunner().invoke(main, args)
    assert applied.exit_code == 0, applied.output
    remaining = sorted(p.parent.name + "/" + p.name for p in lake.glob("events/*/*"))
    assert remaining == ["event_type=recsys_request/event_date=2024-09-05"]
    log = [json.loads(line) for line in (lake / "_maintenance" / "retention.jsonl").read_text().splitlines()]
    assert sorted(Path(entry["target"]).name for entry in log) == ["event_date=2024-08-16", "event_date=2024-10-15"]
    assert CliRunner().invoke(main, args).output.strip().endswith("0 drop(s)")
