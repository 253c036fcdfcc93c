"""Helpers of the collector tests (imported by name: `tests/` is not a package, and conftest modules share one
name across folders)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

TELEMETRY = Path(sys.executable).with_name("telemetry")
HASH_KEY = "test-key-0123456789abcdef-0123456789"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def learning_event(n: int, session: str = "sess-1", student: str = "student-1", **extra) -> dict:
    """A valid docs/requirements/learning.md#fields event (choice_made 1.0) with a unique event id."""
    return {"event_id": f"evt-{n}", "student_id": student, "event_type": "choice_made", "schema_version": "1.0",
            "timestamp": now_iso(), "data": {"choice": "help_friend", "n": n}, "session_id": session, **extra}


@dataclass
class Tokens:
    path: Path
    engineer: str
    analyst: str
    viewer: str
    ingest_only: str
    read_only: str
    company_a: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def lake_counts(data_dir: Path) -> dict[str, int]:
    """Ledger totals over every batch (independent of the collector: read from the lake's ledger)."""
    from ingest.lake.layout import Lake

    totals = {"records": 0, "landed": 0, "quarantined": 0, "duplicates": 0, "dropped": 0, "batches": 0}
    for entry in Lake(Path(data_dir) / "lake").ledger_entries():
        totals["batches"] += 1
        totals["records"] += entry.records_read
        totals["landed"] += entry.landed
        totals["quarantined"] += entry.quarantined
        totals["duplicates"] += entry.duplicates
        totals["dropped"] += entry.dropped
    return totals


def landed_event_ids(data_dir: Path) -> list[str]:
    """Every event id in the lake, duplicates kept (so a test can see an event landed twice)."""
    import duckdb

    files = list((Path(data_dir) / "lake" / "events").glob("event_type=*/event_date=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    try:
        return [r[0] for r in con.execute("select event_id from read_parquet(?, union_by_name=true)",
                                          [[str(f) for f in files]]).fetchall()]
    finally:
        con.close()


def quarantine_reasons(data_dir: Path) -> list[str]:
    import pyarrow.parquet as pq

    out = []
    for path in sorted((Path(data_dir) / "lake" / "quarantine").glob("*.parquet")):
        if not path.name.startswith("_"):
            out += pq.read_table(path, columns=["reason"]).column("reason").to_pylist()
    return out


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    data_dir: Path
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def serve_env(tokens: Tokens, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMETRY_")}
    env.update(TELEMETRY_HASH_KEY=HASH_KEY, TELEMETRY_DATA_DIR=str(data_dir), TELEMETRY_TOKENS_FILE=str(tokens.path))
    return env
