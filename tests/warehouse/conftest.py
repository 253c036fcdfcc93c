"""Fixtures for the warehouse (dbt) tests: a tiny recsys lake written exactly per docs/lake.md, and dbt runs.

The lake writer here is a test double of the real one (``ingest.lake``): it writes the same layout and columns
from hand-made events, so the expected marts can be computed independently in the tests. dbt is run as a
subprocess with ``TELEMETRY_DATA_DIR`` pointing at a temporary folder and its target/log paths inside it, so
parallel runs never share state.

Session fixtures, one lake, four dbt invocations (each costs seconds; the project is parsed once):
``empty_lake`` (pass 0: only the zero-row schema files, models and seeds), ``built_lake`` (pass 1: two
batches, ``dbt build --full-refresh``), ``incremental_lake`` (pass 2: a late batch, ``dbt build``),
``refused_full_refresh`` (pass 3: partitions expired, ``dbt run --full-refresh`` must refuse).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest.warehouse.dbt import invoke_dbt

REPO = Path(__file__).resolve().parents[2]
ENVELOPE = [
    ("event_id", pa.string()),
    ("schema_version", pa.string()),
    ("occurred_at", pa.timestamp("us")),
    ("received_at", pa.timestamp("us")),
    ("batch_id", pa.string()),
    ("player_key", pa.string()),
    ("hash_key_id", pa.string()),
    ("session_id", pa.string()),
    ("sample_rate", pa.float64()),
    ("occurred_at_source", pa.string()),
    ("schema_version_source", pa.string()),
]
ITEM = pa.struct([("canonical_id", pa.string()), ("position", pa.int64()), ("score", pa.float64())])
PAYLOAD = {
    "request": [("request_id", pa.string()), ("experiment_id", pa.string()), ("bucket", pa.string()),
                ("filters", pa.string()), ("k", pa.int64()), ("region", pa.string()), ("locale", pa.string())],
    "ranking": [("request_id", pa.string()), ("experiment_id", pa.string()), ("bucket", pa.string()),
                ("latency_ms", pa.float64()), ("coverage", pa.float64()), ("catalog_size", pa.int64()),
                ("algorithm", pa.string()), ("alpha", pa.float64()), ("items", pa.list_(ITEM))],
    "impression": [("request_id", pa.string()), ("experiment_id", pa.string()), ("bucket", pa.string()),
                   ("canonical_id", pa.string()), ("position", pa.int64()), ("visible_ms", pa.int64()),
                   ("surface", pa.string()), ("device_type", pa.string())],
    "click": [("request_id", pa.string()), ("experiment_id", pa.string()), ("bucket", pa.string()),
              ("canonical_id", pa.string()), ("position", pa.int64()), ("engagement_type", pa.string()),
              ("dwell_ms", pa.int64()), ("device_type", pa.string())],
    "error": [("request_id", pa.string()), ("experiment_id", pa.string()), ("bucket", pa.string()),
              ("component", pa.string()), ("severity", pa.string()), ("error_code", pa.string()),
              ("message_length", pa.int64())],
}
EVENT_SCHEMAS = {t: pa.schema(ENVELOPE + cols) for t, cols in PAYLOAD.items()}
QUARANTINE_SCHEMA = pa.schema([
    ("batch_id", pa.string()), ("source_file", pa.string()), ("line_number", pa.int64()),
    ("record_index", pa.int64()), ("received_at", pa.timestamp("us")), ("received_date", pa.date32()),
    ("reason", pa.string()),
    ("event_type", pa.string()), ("schema_id", pa.string()), ("event_date", pa.date32()),
    ("errors", pa.list_(pa.struct([("pointer", pa.string()), ("keyword", pa.string()), ("message", pa.string())]))),
    ("raw_bytes", pa.binary()),
    ("raw_key_id", pa.string()),
    ("errors_sealed", pa.binary()),
])
PARTITION = pa.struct([("event_type", pa.string()), ("event_date", pa.date32()), ("landed", pa.int64()),
                       ("duplicates", pa.int64())])
SESSION_CLOSE_SCHEMA = pa.schema([  # sessions closed by the docs/requirements/learning.md#apis close call (lake/_closes/)
    ("session_id", pa.string()), ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")),
    ("events", pa.int64()), ("closed_at", pa.timestamp("us")),
])
LEDGER_SCHEMA = pa.schema([
    ("batch_id", pa.string()), ("kind", pa.string()), ("source_file", pa.string()), ("source_sha256", pa.string()),
    ("source_bytes", pa.int64()), ("as_of", pa.timestamp("us")), ("started_at", pa.timestamp("us")),
    ("finished_at", pa.timestamp("us")), ("backfill", pa.bool_()), ("lines_read", pa.int64()),
    ("records_read", pa.int64()), ("landed", pa.int64()), ("quarantined", pa.int64()), ("duplicates", pa.int64()), ("dropped", pa.int64()),
    ("partitions", pa.list_(PARTITION)),
    ("server_filled", pa.int64()),
])
NAMESPACE = uuid.UUID("6f1c1c52-9a0e-4d0c-8a53-3b1b4b8f0e01")


def request_uuid(name: str) -> str:
    """Deterministic request UUID for a short test name (``r1`` …)."""
    return str(uuid.uuid5(NAMESPACE, name))


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TinyLake:
    """Writes a lake under ``<data_dir>/lake`` with the layout and columns of docs/lake.md.

    Args:
        data_dir: the ``TELEMETRY_DATA_DIR`` folder.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "lake"
        self.events: list[dict[str, Any]] = []  # every landed row, envelope filled in (for expected values)
        self.quarantine: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []

    def write_layout(self) -> None:
        """The zero-row ``_schema.parquet`` files that keep every source readable before data lands.

        recsys from this module's schemas; the other families' from the registry, as the real ingest does, so
        that their lake sources are readable too (a full ``dbt build`` works on this lake).
        """
        schemas = {f"recsys_{event_type}": schema for event_type, schema in EVENT_SCHEMAS.items()}
        try:
            from ingest.registry import Registry

            for qualified, event_schema in Registry.load(REPO / "schemas").lake_types().items():
                schemas.setdefault(qualified, event_schema.arrow_schema)
        except Exception as error:  # the registry is someone else's work in progress: recsys still works
            warnings.warn(f"other families' schema files not written: {error}", stacklevel=2)
        for qualified, schema in schemas.items():
            path = self.root / "_schemas" / f"event_type={qualified}" / "event_date=1970-01-01" / "_schema.parquet"
            self._write(schema.empty_table(), path)
        self._write(QUARANTINE_SCHEMA.empty_table(), self.root / "quarantine" / "_schema.parquet")
        self._write(LEDGER_SCHEMA.empty_table(), self.root / "_ledger" / "_schema.parquet")
        self._write(SESSION_CLOSE_SCHEMA.empty_table(), self.root / "_closes" / "_schema.parquet")
        (self.root / "events").mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _write(table: pa.Table, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    def write_batch(self, batch_id: str, events: list[dict[str, Any]], received_at: datetime,
                    finished_at: datetime, quarantine: list[dict[str, Any]] = (), duplicates: int = 0) -> None:
        """Land one batch: event files per partition, its quarantine file, then its ledger row (last).

        Args:
            batch_id: ledger key (16 hex digits in real life; any string here).
            events: dicts with ``type`` (request, ranking, …), ``event_id``, ``occurred_at`` and payload fields;
                ``received_at`` may be given per event (defaults to the batch's).
            received_at: the batch's --as-of clock.
            finished_at: the ledger row's finished_at (the marts' watermark).
            quarantine: dicts with ``reason``, ``event_type`` (qualified or None), ``event_date`` (or None).
            duplicates: count reported in the ledger (events skipped by the ingest's own dedup).
        """
        parts: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            kind = event["type"]
            row = {name: None for name, _ in ENVELOPE + PAYLOAD[kind]}
            row.update({
                "schema_version": "1.0",
                "received_at": received_at,
                "batch_id": batch_id,
                "player_key": _hex("user-" + event.get("user", "u1")),
                "hash_key_id": "demo",
                "session_id": _hex("session-" + event.get("user", "u1")),
                "sample_rate": 1.0,
            })
            row.update({k: v for k, v in event.items() if k in row})
            parts[(kind, row["occurred_at"].date())].append(row)
            self.events.append({**row, "event_type": f"recsys_{kind}", "event_date": row["occurred_at"].date()})
        partitions = []
        for (kind, event_date), rows in sorted(parts.items()):
            qualified = f"recsys_{kind}"
            path = (self.root / "events" / f"event_type={qualified}" / f"event_date={event_date.isoformat()}"
                    / f"{batch_id}-0000.parquet")
            self._write(pa.Table.from_pylist(rows, schema=EVENT_SCHEMAS[kind]), path)
            partitions.append({"event_type": qualified, "event_date": event_date, "landed": len(rows), "duplicates": 0})
        q_rows = []
        for n, line in enumerate(quarantine, start=1):
            q_rows.append({
                "batch_id": batch_id, "source_file": f"{batch_id}.jsonl", "line_number": 100 + n,
                "record_index": None, "received_at": received_at, "received_date": received_at.date(), "reason": line["reason"],
                "event_type": line.get("event_type"), "schema_id": None, "event_date": line.get("event_date"),
                "errors": [{"pointer": "/x", "keyword": "type", "message": "bad"}], "raw_bytes": b"{bad",
            })
        if q_rows:
            self._write(pa.Table.from_pylist(q_rows, schema=QUARANTINE_SCHEMA),
                        self.root / "quarantine" / f"{batch_id}-0000.parquet")
            self.quarantine.extend(q_rows)
        ledger_row = {
            "batch_id": batch_id, "kind": "ingest", "source_file": f"{batch_id}.jsonl",
            "source_sha256": _hex(batch_id), "source_bytes": 1000, "as_of": received_at, "started_at": received_at,
            "finished_at": finished_at, "backfill": False, "lines_read": len(events) + len(q_rows) + duplicates,
            "records_read": len(events) + len(q_rows) + duplicates, "landed": len(events),
            "quarantined": len(q_rows), "duplicates": duplicates, "dropped": 0, "partitions": partitions,
        }
        self._write(pa.Table.from_pylist([ledger_row], schema=LEDGER_SCHEMA), self.root / "_ledger" / f"{batch_id}.parquet")
        self.ledger.append(ledger_row)


# --- the scenario -----------------------------------------------------------------------------------------
def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Chain:
    """Builds the events of one request → ranking → impressions → clicks chain."""

    name: str
    bucket: str
    at: datetime
    latency_ms: float
    catalog_size: int
    items: list[str]
    shown: list[str] | None = None  # items impressed (default: all ranked)
    clicks: dict[str, int | None] = field(default_factory=dict)  # item → dwell_ms
    click_at: dict[str, datetime] = field(default_factory=dict)
    experiment_id: str = "exp-home"

    def events(self) -> list[dict[str, Any]]:
        rid = request_uuid(self.name)
        common = {"request_id": rid, "experiment_id": self.experiment_id, "bucket": self.bucket, "user": self.name}
        out = [
            {"type": "request", "event_id": f"{self.name}-req", "occurred_at": self.at, **common, "k": len(self.items),
             "filters": '{"category":"shoes"}', "region": "eu", "locale": "en-GB"},
            {"type": "ranking", "event_id": f"{self.name}-rank", "occurred_at": self.at + timedelta(milliseconds=40),
             **common, "latency_ms": self.latency_ms, "coverage": 0.5, "catalog_size": self.catalog_size,
             "algorithm": "bts", "alpha": 0.1,
             "items": [{"canonical_id": item, "position": n, "score": 1.0 / n} for n, item in enumerate(self.items, 1)]},
        ]
        for item in self.shown if self.shown is not None else self.items:
            position = self.items.index(item) + 1
            out.append({"type": "impression", "event_id": f"{self.name}-imp-{item}",
                        "occurred_at": self.at + timedelta(seconds=1), **common, "canonical_id": item,
                        "position": position, "visible_ms": 1000 * position, "surface": "home",
                        "device_type": "mobile"})
        for item, dwell in self.clicks.items():
            out.append(self.click(item, dwell, self.click_at.get(item, self.at + timedelta(seconds=5))))
        return out

    def click(self, item: str, dwell: int | None, at: datetime) -> dict[str, Any]:
        return {"type": "click", "event_id": f"{self.name}-click-{item}", "occurred_at": at,
                "request_id": request_uuid(self.name), "experiment_id": self.experiment_id, "bucket": self.bucket,
                "user": self.name, "canonical_id": item, "position": self.items.index(item) + 1,
                "engagement_type": "click", "dwell_ms": dwell, "device_type": "mobile"}


def error(name: str, at: datetime, request: str | None, bucket: str | None,
          experiment_id: str | None = "exp-home") -> dict[str, Any]:
    return {"type": "error", "event_id": name, "occurred_at": at,
            "request_id": request_uuid(request) if request else None,
            "experiment_id": experiment_id, "bucket": bucket, "component": "ranker", "severity": "error",
            "error_code": "RANKER_TIMEOUT", "message_length": 30}


R1 = Chain("r1", "control", ts("2024-01-01 10:00:00"), 40.0, 20, ["i1", "i2", "i3"], clicks={"i2": 3000})
R2 = Chain("r2", "control", ts("2024-01-01 23:59:50"), 60.0, 20, ["i1", "i4"], clicks={"i1": 1000},
           click_at={"i1": ts("2024-01-02 00:00:10")})  # clicked after midnight: still the 01-01 request's
R3 = Chain("r3", "treatment", ts("2024-01-01 12:00:00"), 80.0, 25, ["i5", "i6", "i7"], shown=["i5", "i6"])
R4 = Chain("r4", "treatment", ts("2024-01-02 09:00:00"), 20.0, 25, ["i5", "i8"], clicks={"i8": 5000, "i5": None})
R5 = Chain("r5", "control", ts("2024-01-02 10:00:00"), 100.0, 20, ["i2"])
R6 = Chain("r6", "control", ts("2024-01-08 08:00:00"), 30.0, 20, ["i3"], clicks={"i3": 2000})
R7 = Chain("r7", "treatment", ts("2024-02-01 18:00:00"), 50.0, 30, ["i9", "i10"], clicks={"i10": 700})
R8 = Chain("r8", "control", ts("2024-01-02 15:00:00"), 70.0, 22, ["i11", "i12"], clicks={"i12": 4000})
R9 = Chain("r9", "treatment", ts("2024-03-05 12:00:00"), 90.0, 30, ["i9", "i13"], clicks={"i13": 900})


def batch_one() -> list[dict[str, Any]]:
    return [*R1.events(), *R2.events(), *R3.events(), *R4.events(), *R5.events(),
            error("e1", ts("2024-01-01 12:00:01"), "r3", "treatment"),
            error("e2", ts("2024-01-01 13:00:00"), None, None, experiment_id=None)]


def batch_two() -> list[dict[str, Any]]:
    duplicate = dict(R1.events()[1])  # r1's ranking again, same event_id: staging keeps batch one's copy
    duplicate["latency_ms"] = 999.0
    return [*R6.events(), *R7.events(), *R9.events(), error("e3", ts("2024-01-08 08:00:01"), "r6", "control"),
            duplicate]


def batch_late() -> list[dict[str, Any]]:
    late_click = R1.click("i1", 1500, ts("2024-01-02 00:00:30"))  # lands in 01-02, belongs to 01-01's r1
    return [*R8.events(), late_click, error("e4", ts("2024-01-02 10:00:01"), "r5", "control")]


B1, B2, B3 = "b1aaaaaaaaaaaaaa", "b2bbbbbbbbbbbbbb", "b3cccccccccccccc"


def land_initial(lake: TinyLake) -> None:
    lake.write_batch(B1, batch_one(), ts("2024-01-03 00:30:00"), ts("2024-01-03 00:31:00"), quarantine=[
        {"reason": "schema_violation", "event_type": "recsys_impression", "event_date": date(2024, 1, 1)},
        {"reason": "invalid_json", "event_type": None, "event_date": None},
    ])
    lake.write_batch(B2, batch_two(), ts("2024-03-06 00:30:00"), ts("2024-03-06 00:31:00"), quarantine=[
        {"reason": "too_late", "event_type": "recsys_click", "event_date": date(2024, 1, 8)},
    ], duplicates=1)


def land_late(lake: TinyLake) -> None:
    # received after b2 but about older dates (a backfill-like late batch)
    lake.write_batch(B3, batch_late(), ts("2024-03-07 00:30:00"), ts("2024-03-07 00:31:00"), quarantine=[
        {"reason": "schema_violation", "event_type": "recsys_request", "event_date": date(2024, 1, 2)},
    ])


# --- dbt ----------------------------------------------------------------------------------------------------
# The warehouse part these tests cover (the recsys family and the ingest's own tables); other families'
# models share the project but have their own tests. Tests on these models (and tests/dbt) come with them.
SELECT = ("staging.recsys", "staging.ops", "intermediate.recsys", "marts.recsys", "marts.ops", "quarantine_reasons",
          "recsys_experiments")


def run_dbt(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dbt <args>`` on the repository's project with the lake in ``data_dir``; fails the test on error
    unless ``check`` is false."""
    result = invoke_dbt(list(args), data_dir, target_path=data_dir / "target", log_path=data_dir / "logs",
                        capture=True, env={"DO_NOT_TRACK": "1"})
    if check and result.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}")
    return result


def read_table(data_dir: Path, name: str) -> pl.DataFrame:
    """A warehouse table as a polars DataFrame (read-only connection)."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f"select * from main.{name}").pl()


@dataclass
class Snapshot:
    """A built lake and copies of its marts after one dbt pass."""

    data_dir: Path
    events: list[dict[str, Any]]  # the landed rows this pass saw
    quarantine: list[dict[str, Any]]
    result: subprocess.CompletedProcess
    tables: dict[str, pl.DataFrame]


MARTS = ("agg_recsys_daily", "agg_recsys_positions_daily", "agg_recsys_weekly", "agg_recsys_monthly", "fct_recsys_requests",
         "fct_recsys_impressions", "dq_ingest_daily", "dq_recsys_daily", "fct_recsys_experiment_results",
         "incremental_manifest")


def _snapshot(lake: TinyLake, result: subprocess.CompletedProcess) -> Snapshot:
    tables = {name: read_table(lake.data_dir, name) for name in MARTS}
    return Snapshot(lake.data_dir, list(lake.events), list(lake.quarantine), result, tables)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "dbt: runs dbt against a tiny lake (slow: a few dbt invocations)")


@pytest.fixture(scope="session")
def tiny_lake_schemas() -> dict[str, Any]:
    """The Arrow schemas the tiny lake is written with: events (by recsys type), quarantine, ledger."""
    return {"events": EVENT_SCHEMAS, "quarantine": QUARANTINE_SCHEMA, "ledger": LEDGER_SCHEMA}


@pytest.fixture(name="request_uuid", scope="session")
def request_uuid_fixture():
    """The function naming the scenario's requests: ``request_uuid("r1")`` → its request_id."""
    return request_uuid


@pytest.fixture(scope="session")
def tiny_lake(tmp_path_factory) -> TinyLake:
    return TinyLake(tmp_path_factory.mktemp("warehouse"))


# Every pass runs with the same vars, so dbt parses the project fully only once (partial parsing after).
VARS = ("--vars", "{lookback_days: 7}")


@pytest.fixture(scope="session")
def empty_lake(tiny_lake: TinyLake) -> Snapshot:
    """Pass 0: only the zero-row schema files; every source must be readable (models and seeds, no tests)."""
    tiny_lake.write_layout()
    result = run_dbt(tiny_lake.data_dir, "build", "--select", *SELECT, *VARS,
                     "--exclude", "resource_type:test", "resource_type:unit_test")
    return _snapshot(tiny_lake, result)


@pytest.fixture(scope="session")
def built_lake(tiny_lake: TinyLake, empty_lake: Snapshot) -> Snapshot:
    """Pass 1: batches b1 and b2 landed, `dbt build --full-refresh` (from scratch; nothing expired yet, so
    guard_full_refresh lets it through)."""
    land_initial(tiny_lake)
    return _snapshot(tiny_lake, run_dbt(tiny_lake.data_dir, "build", "--full-refresh", "--select", *SELECT, *VARS))


@pytest.fixture(scope="session")
def incremental_lake(tiny_lake: TinyLake, built_lake: Snapshot) -> Snapshot:
    """Pass 2: late batch b3 (about older dates) landed on top, `dbt build` (incremental, lookback 7 days)."""
    land_late(tiny_lake)
    return _snapshot(tiny_lake, run_dbt(tiny_lake.data_dir, "build", "--select", *SELECT, *VARS))


@pytest.fixture(scope="session")
def refused_full_refresh(tiny_lake: TinyLake, incremental_lake: Snapshot) -> Snapshot:
    """Pass 3: retention drops the 2024-01-01 partitions, then `dbt run --full-refresh` of agg_recsys_daily,
    which must refuse (and leave the table as it was)."""
    for partition in (tiny_lake.root / "events").glob("event_type=recsys_*/event_date=2024-01-01"):
        shutil.rmtree(partition)
    result = run_dbt(tiny_lake.data_dir, "run", "--full-refresh", "--select", "agg_recsys_daily", *VARS, check=False)
    return _snapshot(tiny_lake, result)
