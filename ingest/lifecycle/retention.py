"""Retention (docs/requirements/design.md#retention): each family's windows from its seed, per layer, applied as of a date.

- raw: whole ``event_date`` partitions older than the window are dropped (per event type overrides, e.g.
  recsys errors 30 days, docs/requirements/recsys.md#retention); ``raw_by_value`` keeps some rows of a type longer (recsys errors of
  severity ``critical`` 90 days, docs/requirements/recsys.md#retention): between the two windows a partition is rewritten with only those
  rows (``raw_rows``), past the longer one it is dropped;
- quarantine: batch files received before the window are deleted;
- aggregates: rows older than the window are deleted from every aggregate model that declares, in its dbt
  ``meta``, its ``family``, ``grain`` (daily, weekly, monthly) and ``retention_key`` (the date column the window
  applies to); the models are read from the dbt manifest, so a new rollup is covered without a name pattern;
- staging: a warehouse table that copies raw events (``meta``: ``family``, ``retention: raw``, ``retention_key``;
  the staging tables) loses the rows of each event type older than the type's raw window, so the warehouse holds
  no raw event the lake has expired (a type kept longer by value keeps all its rows there until the longer window:
  no staging table copies such a type today).

Raw data expires before its aggregates, so the rollups keep their history: retention writes no ledger row
(the incremental models never revisit a dropped date), and the marts refuse a full refresh that would lose
history the lake no longer holds (``macros/incremental/guard_full_refresh.sql``). Every drop is appended to
``lake/_maintenance/retention.jsonl`` and returned.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..lake.layout import Lake
from ..registry.schema import Registry

GRAINS = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class AggregateModel:
    """A warehouse table retention applies to, from its dbt model ``meta``: family, grain, retention key; grain
    ``raw`` for a copy of raw events (``retention: raw``), which follows the raw window."""

    table: str
    family: str
    grain: str
    retention_key: str


def aggregate_models(data_dir: Path) -> list[AggregateModel]:
    """The models whose ``meta`` declares ``family``, ``retention_key`` and ``grain`` (or ``retention: raw``),
    from the newest dbt manifest describing this project (``<data_dir>/dbt/target`` or the repository's
    ``target/``). Empty without a manifest: dbt has not run, so there are no warehouse tables either."""
    from ..config import PROJECT_ROOT

    candidates = [Path(data_dir) / "dbt" / "target" / "manifest.json", PROJECT_ROOT / "target" / "manifest.json"]
    found = sorted((p for p in candidates if p.exists()), key=lambda p: p.stat().st_mtime, reverse=True)
    if not found:
        return []
    manifest = json.loads(found[0].read_text(encoding="utf-8"))
    models = []
    for node in manifest.get("nodes", {}).values():
        meta = node.get("config", {}).get("meta") or node.get("meta") or {}
        if node.get("resource_type") != "model" or not {"family", "retention_key"} <= meta.keys():
            continue
        grain = "raw" if meta.get("retention") == "raw" else meta.get("grain")
        if grain is None:
            continue
        if grain not in GRAINS + ("raw",):
            raise ValueError(f"model {node['name']}: meta.grain {grain!r} is not one of {GRAINS}")
        models.append(AggregateModel(node.get("alias") or node["name"], meta["family"], grain, meta["retention_key"]))
    return sorted(models, key=lambda m: m.table)


@dataclass
class Drop:
    """One retention action: ``layer`` raw|raw_rows|quarantine|aggregate|staging, what, the cutoff (kept: dates ≥
    cutoff); for an aggregate or staging table, ``column`` is the date column the cutoff applies to (the model's
    retention key); for a staging table, ``event_type`` the type whose rows go."""

    layer: str
    family: str
    target: str
    cutoff: str
    rows: int | None = None
    column: str | None = None
    event_type: str | None = None


def _window(retention: dict, layer: str, grain: str | None = None) -> int | None:
    value = retention.get(layer)
    if isinstance(value, dict):
        value = value.get(grain) if grain else None
    return int(value) if value is not None else None


def plan(registry: Registry, lake: Lake, as_of: date, database: Path | None = None) -> list[Drop]:
    """Everything retention would drop as of ``as_of`` (nothing is changed)."""
    drops: list[Drop] = []
    for family in registry.families.values():
        retention = family.retention_days
        raw_days = _window(retention, "raw")
        overrides = retention.get("raw_by_event_type", {})
        by_value = retention.get("raw_by_value", {})
        for event_type in family.event_types():
            days = overrides.get(event_type, raw_days)
            if days is None:
                continue
            cutoff = as_of - timedelta(days=int(days))
            keep = by_value.get(event_type)
            long_cutoff = as_of - timedelta(days=int(keep["days"])) if keep else cutoff
            folder = lake.events / f"event_type={family.name}_{event_type}"
            for partition in sorted(folder.glob("event_date=*")):
                day = date.fromisoformat(partition.name.split("=", 1)[1])
                if day < min(cutoff, long_cutoff):
                    drops.append(Drop("raw", family.name, str(partition), min(cutoff, long_cutoff).isoformat()))
                elif keep and day < cutoff:
                    column = keep["field"]
                    expired = sum(1 for f in sorted(partition.glob("*.parquet"))
                                  for x in pq.read_table(f, columns=[column]).column(0).to_pylist()
                                  if x not in keep["values"])
                    if expired:
                        drops.append(Drop("raw_rows", family.name, str(partition), cutoff.isoformat(), expired,
                                          f"{column} in {','.join(keep['values'])}"))
    quarantine_days = min((d for d in (_window(f.retention_days, "quarantine") for f in registry.families.values())
                           if d is not None), default=None)
    if quarantine_days is not None:
        cutoff = as_of - timedelta(days=quarantine_days)
        for path in sorted(lake.quarantine.glob("*.parquet")):
            if path.name.startswith("_"):
                continue
            received = pq.read_table(path, columns=["received_date"]).column(0).to_pylist()
            if received and max(received) < cutoff:
                drops.append(Drop("quarantine", "*", str(path), cutoff.isoformat(), len(received)))
    if database is not None and Path(database).exists():
        import duckdb

        with duckdb.connect(str(database), read_only=True) as con:
            tables = {name for (name,) in con.sql("select table_name from information_schema.tables "
                                                   "where table_type = 'BASE TABLE'").fetchall()}
            for model in aggregate_models(Path(database).parent):
                family = registry.families.get(model.family)
                if family is None or model.table not in tables:
                    continue
                if model.grain == "raw":
                    drops.extend(_staging_drops(con, model, family, as_of))
                    continue
                days = _window(family.retention_days, "aggregates", model.grain)
                if days is None and isinstance(family.retention_days.get("aggregates"), (int, float)):
                    days = int(family.retention_days["aggregates"])
                if days is None:
                    continue
                cutoff = as_of - timedelta(days=days)
                n = con.execute(f"select count(*) from {model.table} where {model.retention_key} < ?",
                                [cutoff]).fetchall()[0][0]
                if n:
                    drops.append(Drop("aggregate", family.name, model.table, cutoff.isoformat(), n,
                                      model.retention_key))
    return drops


def _raw_cutoff(retention: dict, event_type: str, as_of: date) -> date | None:
    """The date before which the lake holds no row of ``event_type`` (None: kept forever): the raw window, or the
    type's own; for a type kept longer by value (``raw_by_value``), the longer window."""
    days = retention.get("raw_by_event_type", {}).get(event_type, _window(retention, "raw"))
    if days is None:
        return None
    keep = retention.get("raw_by_value", {}).get(event_type)
    return as_of - timedelta(days=max(int(days), int(keep["days"]) if keep else 0))


def _staging_drops(con, model: AggregateModel, family, as_of: date) -> list[Drop]:
    """The rows of a copy of raw events (``model``) older than their type's raw cutoff, one drop per type."""
    drops = []
    for event_type in family.event_types():
        cutoff = _raw_cutoff(family.retention_days, event_type, as_of)
        if cutoff is None:
            continue
        n = con.execute(f"select count(*) from {model.table} where event_type = ? and {model.retention_key} < ?",
                        [event_type, cutoff]).fetchall()[0][0]
        if n:
            drops.append(Drop("staging", family.name, model.table, cutoff.isoformat(), n, model.retention_key,
                              event_type))
    return drops


def apply(registry: Registry, lake: Lake, as_of: date, database: Path | None = None, *, dry_run: bool = False) -> list[Drop]:
    """Plan, then (unless ``dry_run``) carry out and log every drop."""
    drops = plan(registry, lake, as_of, database)
    if dry_run or not drops:
        return drops
    with lake.maintenance_lock():  # no batch or compaction writes into a partition being dropped
        _carry_out(drops, lake, database, as_of)
    return drops


def _carry_out(drops: list[Drop], lake: Lake, database: Path | None, as_of: date) -> None:
    """Drop, rewrite and delete what :func:`plan` listed, then log every drop."""
    log = lake.root / "_maintenance" / "retention.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    aggregate_drops = [d for d in drops if d.layer in ("aggregate", "staging")]
    for drop in drops:
        if drop.layer == "raw":
            partition = Path(drop.target)
            trash = partition.with_name(f".{partition.name}.{uuid.uuid4().hex}.expired")
            os.replace(partition, trash)  # readers stop seeing the partition at once
            shutil.rmtree(trash)
        elif drop.layer == "quarantine":
            Path(drop.target).unlink()
        elif drop.layer == "raw_rows":  # keep only the rows the longer window covers (column: "<field> in <values>")
            import pyarrow.compute as pc

            from ..lake.atomic import write_parquet_atomic

            field_name, values = drop.column.split(" in ", 1)
            for path in sorted(Path(drop.target).glob("*.parquet")):
                table = pq.read_table(path)
                kept = table.filter(pc.fill_null(pc.is_in(table.column(field_name), value_set=pa.array(values.split(","))), False))
                if kept.num_rows == table.num_rows:
                    continue
                if kept.num_rows:
                    write_parquet_atomic(kept, path)
                else:
                    path.unlink()
            if not any(Path(drop.target).glob("*.parquet")):
                shutil.rmtree(drop.target)  # nothing of the partition is kept: it is gone, as a raw drop
    if aggregate_drops:
        import duckdb

        with duckdb.connect(str(database)) as con:
            for drop in aggregate_drops:
                of_type = "" if drop.event_type is None else " and event_type = ?"
                con.execute(f"delete from {drop.target} where {drop.column} < ?{of_type}",
                            [date.fromisoformat(drop.cutoff), *([] if drop.event_type is None else [drop.event_type])])
    now = datetime.now(timezone.utc).isoformat()
    with open(log, "a", encoding="utf-8") as handle:
        for drop in drops:
            handle.write(json.dumps({"applied_at": now, "as_of": as_of.isoformat(), **asdict(drop)}) + "\n")
