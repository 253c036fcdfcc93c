"""The data-quality report (docs/requirements/design.md#data-quality, second layer): a Great Expectations checkpoint
over the lake and marts.

``telemetry dq run`` validates

- per family, the **latest landed batch** (the newest ingest or replay ledger row that landed its events):
  one asset per event type, with expectations derived from the registry schema — envelope columns and the
  schema's ``required`` fields not null, ``enum``/``const`` as accepted values, ``minimum``/``maximum`` (and
  the exclusive forms) as ranges, ``minLength``/``maxLength`` as length ranges, ``pattern`` as a regex,
  ``references`` as accepted values read from the seed CSV, ``schema_version`` among the registry's versions,
  ``event_id`` unique — and a **row count equal to what the ledger says** the batch landed for that type (at
  most that, when a later erasure rewrote one of its partitions);
  plus the batch's quarantine rows: reasons from the ``quarantine_reasons`` seed, count equal to the ledger's
  (at most, after an erasure: it drops quarantined lines that mention the player);
- the **ledger**: batch ids unique, ``records_read = landed + quarantined + duplicates + dropped`` and
  ``landed`` = the sum over its partitions, for every batch;
- the **published marts** (``<data_dir>/marts/*.parquet``, so it runs while a build holds the warehouse lock):
  the dbt tests the manifest declares on them (``not_null``, ``not_null_columns``, ``unique``, ``accepted_values``,
  ``unique_combination``) as GX expectations, conventional ranges from column names (:data:`NAME_RANGES`), a
  non-empty table for a family's ``agg_``/``fct_`` marts once the family has landed events, and for
  ``dq_ingest_daily`` the total landed equal to the ledger's.

GX 1.x validates pandas DataFrames (its SQLAlchemy path fails on DuckDB: GX issues #10738, #11579), so every
asset is a Parquet file read by a ``pandas_filesystem`` data source: lake batches are first staged, one file per
asset, under ``<data_dir>/dq/batches/``. The GX project lives in ``<data_dir>/dq/gx`` (analytics off); one
checkpoint, ``telemetry``, holds every validation, and its ``UpdateDataDocsAction`` writes Data Docs to
``<data_dir>/dq/gx/uncommitted/data_docs/local_site/index.html``. Data Docs pages load jQuery, Bootstrap and
friends from CDNs; :func:`make_data_docs_offline` rewrites them to use a small inline stylesheet and script of
ours instead, so the report reads the same with no network. A machine-readable summary goes to
``<data_dir>/dq/summary.json``.

Great Expectations is imported only inside :func:`run_dq` (it takes seconds to import).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from ..errors import MissingInput
from ..extras import import_optional, require
from ..lake.atomic import atomic_path, write_text_atomic
from ..lake.layout import Lake, SCHEMA_SENTINEL_DATE
from ..registry.schema import EventSchema, Registry
from ..config import SCHEMAS_DIR, SEEDS_DIR, default_data_dir
from ..warehouse.publish import CATALOG_FILE, marts_path

CHECKPOINT = "telemetry"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ENVELOPE_NOT_NULL = ("event_id", "schema_version", "occurred_at", "received_at", "batch_id", "event_date",
                     "sample_rate")
NAME_RANGES: dict[str, tuple[float | None, float | None]] = {
    "ctr": (0.0, 1.0), "coverage": (0.0, 1.0), "validity_rate": (0.0, 1.0), "sample_rate": (0.0, 1.0),
    "*_ratio": (0.0, None), "*_rate": (0.0, None), "*_ms": (0.0, None), "*_seconds": (0.0, None),
}
"""Value ranges implied by a mart column's name (STYLE: units and rates in the name); exact names win over
``*_suffix`` patterns. ``error_rate`` is per request and may exceed 1, hence no upper bound for ``*_rate``."""
ADDITIVE_FAMILY_MART_PREFIXES = ("agg_", "fct_")


@dataclass
class Target:
    """One GX asset to validate: a Parquet file and the expectations (GX class name, kwargs) for it.

    Attributes:
        asset: asset and suite name, stable across runs (``lake.recsys_click``, ``mart.agg_recsys_daily``).
        kind: ``batch``, ``quarantine``, ``ledger`` or ``mart``.
        path: the Parquet file.
        expectations: ``(class name in great_expectations.expectations, kwargs)`` pairs.
        family: event family, when there is one.
        batch_id: the ledger batch validated, for lake assets.
    """

    asset: str
    kind: str
    path: Path
    expectations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    family: str | None = None
    batch_id: str | None = None

    def expect(self, name: str, **kwargs: Any) -> None:
        self.expectations.append((name, kwargs))


@dataclass
class DqResult:
    """Outcome of one run: the summary document (also written to ``summary.json``) and where things are."""

    summary: dict[str, Any]
    summary_path: Path
    data_docs: Path

    @property
    def success(self) -> bool:
        return bool(self.summary["success"])

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Every failed expectation, with its asset: ``{"asset", "expectation", "column", …}``."""
        return [{"asset": v["asset"], **r} for v in self.summary["validations"] for r in v["results"]
                if not r["success"]]


# --- reading the lake ----------------------------------------------------------------------------------------
def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ledger_rows(con: duckdb.DuckDBPyConnection, lake: Lake) -> list[dict[str, Any]]:
    files = [p for p in lake.ledger.glob("*.parquet")]
    if not files:
        return []
    listing = ", ".join(_sql_path(p) for p in files)
    table = con.sql(f"select * from read_parquet([{listing}], union_by_name = true)").to_arrow_table()
    return table.to_pylist()


def _latest_batch(ledger: list[dict[str, Any]], family: str) -> dict[str, Any] | None:
    """Newest ledger row (by finished_at, then batch id) that landed events of ``family`` (an ingest or a
    replay; erasure rows land nothing)."""
    prefix = f"{family}_"
    landing = [row for row in ledger if row.get("kind") != "erasure" and any(
        (p["event_type"] or "").startswith(prefix) and int(p["landed"] or 0) > 0 for p in row["partitions"] or [])]
    return max(landing, key=lambda r: (r["finished_at"], r["batch_id"]), default=None)


def _erased_since(ledger: list[dict[str, Any]], batch: dict[str, Any]) -> set[tuple[str, Any]]:
    """(event_type, event_date) partitions an erasure rewrote after ``batch`` finished: rows may be gone."""
    return {(p["event_type"], p["event_date"]) for row in ledger
            if row.get("kind") == "erasure" and row["finished_at"] >= batch["finished_at"]
            for p in row["partitions"] or []}


def _flat_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Select list for ``relation`` with nested columns (lists, structs, blobs) turned into JSON text."""
    out = []
    for name, kind, *_ in con.execute(f"describe {relation}").fetchall():
        nested = kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION")) or kind == "BLOB"
        out.append(f'cast(to_json("{name}") as varchar) as "{name}"' if nested and kind != "BLOB"
                   else f'hex("{name}") as "{name}"' if kind == "BLOB" else f'"{name}"')
    return out


def _stage(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Write ``query`` to ``target`` (temp file + rename) for GX to read with pandas; nested columns become
    JSON text (pandas cannot hash lists, and only their presence is checked)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"create or replace temp view staged as {query}")
    columns = ", ".join(_flat_columns(con, "staged"))
    with atomic_path(target) as tmp:
        con.execute(f"copy (select {columns} from staged) to {_sql_path(tmp)} (format parquet)")


def _seed_values(seeds_dir: Path, seed: str, column: str) -> list[str]:
    path = seeds_dir / f"{seed}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return sorted({row[column] for row in csv.DictReader(handle) if row.get(column) not in (None, "")})


# --- expectations from the registry --------------------------------------------------------------------------
def registry_expectations(schema: EventSchema, versions: list[str], seeds_dir: Path) -> list[tuple[str, dict]]:
    """Expectations a landed batch of ``schema``'s type must meet, derived from the schema (see module doc).

    Args:
        schema: the type's newest schema (its columns are the lake table's).
        versions: every registry version of the type (accepted ``schema_version`` values).
        seeds_dir: folder of the dbt seed CSVs, for ``references``.
    """
    out: list[tuple[str, dict]] = []
    for column in ENVELOPE_NOT_NULL:
        out.append(("ExpectColumnValuesToNotBeNull", {"column": column}))
    out.append(("ExpectColumnValuesToBeUnique", {"column": "event_id"}))
    out.append(("ExpectColumnValuesToBeInSet", {"column": "schema_version", "value_set": sorted(versions)}))
    out.append(("ExpectColumnValuesToBeBetween", {"column": "sample_rate", "min_value": 0.0, "max_value": 1.0,
                                                  "strict_min": True}))
    envelope = schema.envelope
    envelope_column = {envelope["occurred_at"]["field"]: "occurred_at"}
    for key, column in (("event_id", "event_id"), ("player_id", "player_key"), ("session_id", "session_id")):
        if key in envelope:
            envelope_column[envelope[key]] = column
    payload = {c.pointer: c for c in schema.payload_columns}
    properties = schema.document.get("properties", {})
    for name in schema.document.get("required", []):
        pointer = "/" + name
        column = envelope_column.get(pointer) or (payload[pointer].name if pointer in payload else None)
        if column and column not in ENVELOPE_NOT_NULL:
            out.append(("ExpectColumnValuesToNotBeNull", {"column": column}))
    for pointer, column in payload.items():
        prop = properties.get(pointer[1:], {})
        if column.action == "length":
            bounds = (prop.get("minLength"), prop.get("maxLength"))
            if bounds != (None, None):
                out.append(("ExpectColumnValuesToBeBetween", {"column": column.name, "min_value": bounds[0],
                                                              "max_value": bounds[1]}))
            continue
        if column.action != "copy":
            continue
        values = prop.get("enum", [prop["const"]] if "const" in prop else None)
        if values and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            out.append(("ExpectColumnValuesToBeInSet", {"column": column.name, "value_set": list(values)}))
        low = prop.get("minimum", prop.get("exclusiveMinimum"))
        high = prop.get("maximum", prop.get("exclusiveMaximum"))
        if (low is not None or high is not None) and str(column.arrow_type) in ("int64", "double"):
            out.append(("ExpectColumnValuesToBeBetween", {
                "column": column.name, "min_value": low, "max_value": high,
                "strict_min": "exclusiveMinimum" in prop and "minimum" not in prop,
                "strict_max": "exclusiveMaximum" in prop and "maximum" not in prop}))
        if str(column.arrow_type) == "string":
            if prop.get("minLength") is not None or prop.get("maxLength") is not None:
                out.append(("ExpectColumnValueLengthsToBeBetween", {
                    "column": column.name, "min_value": prop.get("minLength"), "max_value": prop.get("maxLength")}))
            pattern = prop.get("pattern")
            if pattern and _python_regex(pattern):
                out.append(("ExpectColumnValuesToMatchRegex", {"column": column.name, "regex": pattern}))
    for pointer, reference in schema.references.items():
        if pointer in payload and (seeds_dir / f"{reference['seed']}.csv").exists():
            out.append(("ExpectColumnValuesToBeInSet", {
                "column": payload[pointer].name,
                "value_set": _seed_values(seeds_dir, reference["seed"], reference["column"])}))
    return out


def _python_regex(pattern: str) -> bool:
    """True when an ECMA-262 pattern means the same in Python's ``re`` (no ``\\p{…}``, compiles)."""
    if "\\p{" in pattern or "\\P{" in pattern:
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


# --- expectations from the dbt manifest and conventions ------------------------------------------------------
def _manifest_tests(data_dir: Path) -> dict[str, list[tuple[str, dict]]]:
    """Mart name → GX expectations mirroring the dbt generic tests declared on it (newest manifest)."""
    from ..warehouse.publish import _manifest_paths

    out: dict[str, list[tuple[str, dict]]] = {}
    for path in _manifest_paths(data_dir):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        nodes = manifest.get("nodes", {})
        for node in nodes.values():
            meta = node.get("test_metadata") or {}
            attached = nodes.get(node.get("attached_node") or "", {})
            if node.get("resource_type") != "test" or not attached.get("original_file_path", "").startswith("models/marts/"):
                continue
            mart = attached.get("alias") or attached.get("name")
            kwargs = meta.get("kwargs", {})
            column = node.get("column_name") or kwargs.get("column_name")
            name = meta.get("name")
            if name == "not_null" and column:
                out.setdefault(mart, []).append(("ExpectColumnValuesToNotBeNull", {"column": column}))
            elif name == "not_null_columns" and isinstance(kwargs.get("columns"), list):
                out.setdefault(mart, []).extend(("ExpectColumnValuesToNotBeNull", {"column": c})
                                                for c in kwargs["columns"])
            elif name == "unique" and column:
                out.setdefault(mart, []).append(("ExpectColumnValuesToBeUnique", {"column": column}))
            elif name == "accepted_values" and column and isinstance(kwargs.get("values"), list):
                out.setdefault(mart, []).append(("ExpectColumnValuesToBeInSet",
                                                 {"column": column, "value_set": kwargs["values"]}))
            elif name == "unique_combination" and isinstance(kwargs.get("columns"), list):
                out.setdefault(mart, []).append(("ExpectCompoundColumnsToBeUnique",
                                                 {"column_list": kwargs["columns"]}))
        break
    return out


def name_range(column: str) -> tuple[float | None, float | None] | None:
    """The conventional range of a column from its name (:data:`NAME_RANGES`), or None."""
    if column in NAME_RANGES:
        return NAME_RANGES[column]
    for pattern, bounds in NAME_RANGES.items():
        if pattern.startswith("*") and column.endswith(pattern[1:]):
            return bounds
    return None


# --- building the targets ------------------------------------------------------------------------------------
def build_targets(data_dir: Path, registry: Registry, seeds_dir: Path | None = None) -> tuple[list[Target], list[dict]]:
    """Stage the latest batch of each family and list every asset with its expectations.

    Returns:
        The targets, and the families skipped (``{"family", "reason"}``) because nothing landed yet.
    """
    seeds_dir = seeds_dir or SEEDS_DIR
    lake = Lake(data_dir / "lake")
    staged = data_dir / "dq" / "batches"
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    targets: list[Target] = []
    skipped: list[dict] = []
    reasons = _seed_values(seeds_dir, "quarantine_reasons", "reason") if (seeds_dir / "quarantine_reasons.csv").exists() else []
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        ledger = _ledger_rows(con, lake)
        lake_types = registry.lake_types()
        for family_name, family in sorted(registry.families.items()):
            batch = _latest_batch(ledger, family_name)
            if batch is None:
                skipped.append({"family": family_name, "reason": "no batch has landed events of this family yet"})
                continue
            batch_id = batch["batch_id"]
            landed: dict[str, int] = {}
            erased = _erased_since(ledger, batch)
            touched_by_erasure: set[str] = set()
            for part in batch["partitions"] or []:
                if (part["event_type"] or "").startswith(f"{family_name}_"):
                    landed[part["event_type"]] = landed.get(part["event_type"], 0) + int(part["landed"] or 0)
                    if (part["event_type"], part["event_date"]) in erased:
                        touched_by_erasure.add(part["event_type"])
            for qualified in sorted(landed):
                schema = lake_types.get(qualified)
                if schema is None:
                    skipped.append({"family": family_name, "reason": f"{qualified} is not in the registry"})
                    continue
                sentinel = lake.schemas / f"event_type={qualified}" / f"event_date={SCHEMA_SENTINEL_DATE}" / "_schema.parquet"
                files = [sentinel, *sorted(lake.events.glob(f"event_type={qualified}/event_date=*/{batch_id}-*.parquet"))]
                listing = ", ".join(_sql_path(p) for p in files if p.exists())
                target = Target(f"lake.{qualified}", "batch", staged / f"{qualified}.parquet", family=family_name,
                                batch_id=batch_id)
                _stage(con, f"select * from read_parquet([{listing}], hive_partitioning = true, union_by_name = true)"
                            f" where event_date <> date '{SCHEMA_SENTINEL_DATE}'", target.path)
                versions = [v for (t, v) in family.schemas if t == schema.event_type]
                target.expectations = registry_expectations(schema, versions, seeds_dir)
                if qualified in touched_by_erasure:  # a later erasure removed a player's rows: at most
                    target.expect("ExpectTableRowCountToBeBetween", min_value=0, max_value=landed[qualified])
                else:
                    target.expect("ExpectTableRowCountToEqual", value=landed[qualified])
                targets.append(target)
            quarantine_files = [lake.quarantine / "_schema.parquet",
                                *sorted(lake.quarantine.glob(f"{batch_id}-*.parquet"))]
            listing = ", ".join(_sql_path(p) for p in quarantine_files if p.exists())
            if listing:
                target = Target(f"lake.{family_name}.quarantine", "quarantine", staged / f"{family_name}.quarantine.parquet",
                                family=family_name, batch_id=batch_id)
                _stage(con, f"select * from read_parquet([{listing}], union_by_name = true)", target.path)
                for column in ("batch_id", "reason", "line_number", "received_at"):
                    target.expect("ExpectColumnValuesToNotBeNull", column=column)
                if reasons:
                    target.expect("ExpectColumnValuesToBeInSet", column="reason", value_set=reasons)
                if any(r.get("kind") == "erasure" and r["finished_at"] >= batch["finished_at"] for r in ledger):
                    target.expect("ExpectTableRowCountToBeBetween", min_value=0, max_value=int(batch["quarantined"] or 0))
                else:
                    target.expect("ExpectTableRowCountToEqual", value=int(batch["quarantined"] or 0))
                targets.append(target)
        if ledger:
            target = Target("lake.ledger", "ledger", staged / "ledger.parquet")
            listing = ", ".join(_sql_path(p) for p in lake.ledger.glob("*.parquet"))
            _stage(con, f"""
                select
                    *,
                    coalesce(records_read, lines_read) - (landed + quarantined + duplicates + dropped) as unaccounted,
                    landed - coalesce(list_sum(list_transform(partitions, lambda p: p.landed)), 0) as landed_not_in_partitions
                from read_parquet([{listing}], union_by_name = true)""", target.path)
            for column in ("batch_id", "source_sha256", "finished_at"):
                target.expect("ExpectColumnValuesToNotBeNull", column=column)
            target.expect("ExpectColumnValuesToBeUnique", column="batch_id")
            target.expect("ExpectColumnValuesToBeBetween", column="unaccounted", min_value=0, max_value=0)
            target.expect("ExpectColumnValuesToBeBetween", column="landed_not_in_partitions", min_value=0, max_value=0)
            targets.append(target)
    targets += _mart_targets(data_dir, registry, ledger)
    return targets, skipped


def _mart_targets(data_dir: Path, registry: Registry, ledger: list[dict]) -> list[Target]:
    folder = marts_path(data_dir)
    tests = _manifest_tests(data_dir)
    families_with_events = {part["event_type"].split("_", 1)[0] for row in ledger for part in row["partitions"] or []
                            if (part["event_type"] or "") and int(part["landed"] or 0) > 0}
    ledger_landed = sum(int(row["landed"] or 0) for row in ledger)
    try:  # the published catalog, not discover_marts(): never open warehouse.duckdb (a build may hold it)
        catalog = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8"))["marts"]
    except (OSError, ValueError, KeyError):
        catalog = {}
    targets = []
    for path in sorted(folder.glob("*.parquet")) if folder.exists() else []:
        name = path.stem
        domain = catalog.get(name, {}).get("domain", "")
        target = Target(f"mart.{name}", "mart", path, family=domain if domain in registry.families else None)
        target.expectations = list(tests.get(name, []))
        with duckdb.connect() as con:
            columns = [c for c, *_ in con.execute(f"describe select * from read_parquet({_sql_path(path)})").fetchall()]
        for column in columns:
            bounds = name_range(column)
            if bounds:
                target.expect("ExpectColumnValuesToBeBetween", column=column, min_value=bounds[0], max_value=bounds[1])
        if target.family in families_with_events and name.startswith(ADDITIVE_FAMILY_MART_PREFIXES):
            target.expect("ExpectTableRowCountToBeBetween", min_value=1)
        if name == "dq_ingest_daily" and "landed" in columns:
            target.expect("ExpectColumnSumToBeBetween", column="landed", min_value=ledger_landed, max_value=ledger_landed)
        targets.append(target)
    return targets


# --- running GX ----------------------------------------------------------------------------------------------
def _context(root: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx = import_optional("great_expectations", "quality")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.config.analytics_enabled = False
    context.variables.save()
    return context


def _reset(context) -> None:
    """Forget the previous run's checkpoint, definitions, suites and data sources (results stay: history)."""
    for checkpoint in list(context.checkpoints.all()):
        context.checkpoints.delete(checkpoint.name)
    for definition in list(context.validation_definitions.all()):
        context.validation_definitions.delete(definition.name)
    for suite in list(context.suites.all()):
        context.suites.delete(suite.name)
    for name in list(context.data_sources.all()):
        context.data_sources.delete(name)


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars as Python numbers, dates as ISO text, anything else as text."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_plain))


def run_dq(data_dir: Path | str | None = None, *, registry: Registry | None = None,
           seeds_dir: Path | None = None) -> DqResult:
    """Validate the latest batch of each family, the ledger and the published marts; write Data Docs and summary.

    Args:
        data_dir: data directory (default ``$TELEMETRY_DATA_DIR``).
        registry: the registry (default ``<repo>/schemas``).
        seeds_dir: seed CSVs (default ``<repo>/seeds``).

    Returns:
        The summary (``success`` false when any expectation failed) and the paths written.

    Raises:
        MissingInput: there is no lake under ``data_dir``.
        MissingExtra: Great Expectations is not installed (the ``quality`` extra).
    """
    require("quality")
    data_dir = Path(data_dir if data_dir is not None else default_data_dir()).resolve()
    if not (data_dir / "lake").is_dir():
        raise MissingInput(f"the lake {data_dir / 'lake'}", "ingest something first")
    registry = registry or Registry.load(SCHEMAS_DIR)
    targets, skipped = build_targets(data_dir, registry, seeds_dir)

    gx = import_optional("great_expectations", "quality")
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    context = _context(data_dir / "dq")
    _reset(context)
    sources = {}
    definitions = []
    for target in targets:
        base = target.path.parent
        source = sources.get(base)
        if source is None:
            source = sources[base] = context.data_sources.add_pandas_filesystem(
                "marts" if base == marts_path(data_dir) else "lake_batches", base_directory=base)
        asset = source.add_parquet_asset(target.asset)
        batch = asset.add_batch_definition_path(target.asset, path=target.path.name)
        suite = context.suites.add(gx.ExpectationSuite(
            name=target.asset, expectations=[getattr(gxe, name)(**kwargs) for name, kwargs in target.expectations],
            meta={"kind": target.kind, "family": target.family, "batch_id": target.batch_id}))
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=target.asset, data=batch, suite=suite)))
    # No UpdateDataDocsAction: it rebuilds the site index once per validation (13 validations ≈ 13 s here);
    # the docs for this run's results and suites are built once, below.
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=CHECKPOINT, validation_definitions=definitions, actions=[],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5}))
    result = checkpoint.run()
    by_asset = {validation.suite_name: validation for validation in result.run_results.values()}
    context.build_data_docs(resource_identifiers=[
        *result.run_results.keys(), *(ExpectationSuiteIdentifier(name=t.asset) for t in targets)])
    site = Path(context.get_docs_sites_urls()[0]["site_url"].removeprefix("file://"))
    make_data_docs_offline(site.parent)
    validations = []
    for target in targets:
        validation = by_asset[target.asset]
        results = []
        for item in validation.results:
            config = item.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
            info = item.exception_info or {}
            raised = info.get("raised_exception") if isinstance(info, dict) else False
            details = item.result or {}
            results.append(_jsonable({
                "expectation": config.type, "column": kwargs.get("column") or kwargs.get("column_list"),
                "kwargs": kwargs, "success": bool(item.success),
                "observed_value": details.get("observed_value"), "unexpected_count": details.get("unexpected_count"),
                "partial_unexpected_list": details.get("partial_unexpected_list"),
                "exception": info.get("exception_message") if raised else None}))
        rows = None
        with duckdb.connect() as con:
            rows = con.execute(f"select count(*) from read_parquet({_sql_path(target.path)})").fetchone()[0]
        validations.append({"asset": target.asset, "kind": target.kind, "family": target.family,
                            "batch_id": target.batch_id, "path": str(target.path), "rows": rows,
                            "success": bool(validation.success), "results": results})
    evaluated = sum(len(v["results"]) for v in validations)
    failed = sum(1 for v in validations for r in v["results"] if not r["success"])
    summary = {
        "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "checkpoint": CHECKPOINT,
        "success": failed == 0,
        "statistics": {"validations": len(validations), "evaluated_expectations": evaluated,
                       "successful_expectations": evaluated - failed, "unsuccessful_expectations": failed},
        "data_docs": str(site),
        "skipped": skipped,
        "validations": validations,
    }
    summary_path = data_dir / "dq" / "summary.json"
    write_text_atomic(summary_path, json.dumps(summary, indent=2))
    return DqResult(summary, summary_path, site)


# --- Data Docs without network ------------------------------------------------------------------------------
_REMOTE_TAG = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script>)?""",
                         re.IGNORECASE)
_REMOTE_IMG = re.compile(r"""(<img\b[^>]*\bsrc\s*=\s*["'])https?://[^"']*?/([\w.-]+\.(?:png|svg|gif))(?:\?[^"']*)?(["'])""",
                         re.IGNORECASE)
_OFFLINE_MARK = "<!-- telemetry: offline assets -->"


def make_data_docs_offline(site: Path) -> int:
    """Make every page of a Data Docs site readable with no network; returns the number of pages changed.

    Removes ``<script>``/``<link>`` tags that load from the web (jQuery, Bootstrap, bootstrap-table, Vega,
    Font Awesome), points the remote logo at the site's own ``static/images`` copy (the remote one also carries
    the context id), and inlines ``templates/datadocs_offline.css`` and ``.js``: a stylesheet for the tables,
    status icons and layout, and a tiny jQuery stand-in that renders the index tables (which GX fills from
    JavaScript) and the "failed only" filter. Idempotent.
    """
    css = (TEMPLATES / "datadocs_offline.css").read_text(encoding="utf-8")
    script = (TEMPLATES / "datadocs_offline.js").read_text(encoding="utf-8")
    changed = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _OFFLINE_MARK in text:
            continue
        depth = len(page.relative_to(site).parts) - 1
        static = "../" * depth + "static/images/"
        text = _REMOTE_TAG.sub("", text)
        text = _REMOTE_IMG.sub(lambda m: f"{m.group(1)}{static}{m.group(2)}{m.group(3)}", text)  # noqa: B023
        head = f"{_OFFLINE_MARK}\n<style>\n{css}\n</style>\n<script>\n{script}\n</script>\n"
        text = re.sub(r"<head>", "<head>\n" + head.replace("\\", "\\\\"), text, count=1, flags=re.IGNORECASE)
        page.write_text(text, encoding="utf-8")
        changed += 1
    return changed
