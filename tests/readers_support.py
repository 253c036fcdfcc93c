"""Shared by the reader tests (a module of its own: every test folder has a ``conftest`` module, so importing
from ``conftest`` would depend on collection order)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from support import WarehouseSpec

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2024, 12, 1, tzinfo=timezone.utc)
KEY = b"readers-test-key-0123456789"
SELECT = "+agg_recsys_daily +agg_recsys_positions_daily +fct_recsys_impressions +dq_ingest_daily"
"""The marts the readers need (with their seeds); built without dbt tests, which tests/warehouse/ covers."""
NO_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
BUILT_MARTS = ("agg_recsys_daily", "dq_ingest_daily", "fct_recsys_impressions", "fct_recsys_requests")


@dataclass(frozen=True)
class Built:
    """The session's warehouse: its data directory and the two batches (older first)."""

    data_dir: Path
    batch_ids: tuple[str, str]
    quarantined: int


def write_lines(path: Path, events, extra: list[str] = ()) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
        for line in extra:
            handle.write(line + "\n")
    return path


def copy_data_dir(built: Built, target: Path) -> Path:
    """A copy of the built data directory without the warehouse (lake, marts, dbt manifest)."""
    for name in ("lake", "marts"):
        shutil.copytree(built.data_dir / name, target / name)
    manifest = built.data_dir / "dbt" / "target" / "manifest.json"
    (target / "dbt" / "target").mkdir(parents=True)
    shutil.copy2(manifest, target / "dbt" / "target" / "manifest.json")
    return target


def land_readers(data_dir: Path) -> tuple[tuple[str, str], int]:
    """Two synthetic recsys batches (``ingest.generate.synthetic``; the second has two bad lines) ingested with the
    real pipeline; returns their batch ids (older first) and the lines quarantined."""
    from ingest.generate.synthetic import recsys_events
    from ingest.pipeline import IngestSettings, ingest_files
    from ingest.registry import Registry

    inputs = data_dir.with_name(f"{data_dir.name}-inputs")
    inputs.mkdir(parents=True)
    registry = Registry.load(ROOT / "schemas")
    first = write_lines(inputs / "a.jsonl", recsys_events(120, seed=1, span_days=2))
    second = write_lines(inputs / "b.jsonl", recsys_events(60, seed=2, start_ms=1_732_579_200_000, span_days=2),
                         extra=["{not json", '{"event_type": "click", "schema_version": "9.9"}'])
    settings = IngestSettings(registry.root, KEY, "k-test", AS_OF, backfill=True)
    results = ingest_files([first, second], settings, data_dir, registry=registry).batches
    assert all(r.landed > 0 for r in results)
    return (results[0].batch_id, results[1].batch_id), sum(r.quarantined for r in results)


READERS = WarehouseSpec("readers", land_readers, (("build", "--select", SELECT, *NO_TESTS),))
"""The readers' warehouse: the recsys marts and ``dq_ingest_daily``, built without dbt tests and published."""
