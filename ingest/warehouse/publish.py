"""Publishing the marts as Parquet under ``<data_dir>/marts/`` (docs/requirements/design.md#readers).

After a build the marts are copied, one Parquet file each (Gzip, the rollup layer's codec:
:data:`ingest.lake.storage.CODECS`), to <data_dir>/marts/ so that notebooks, the DQ
report and the dashboard read them while a later `dbt build` holds DuckDB's single-writer lock on
warehouse.duckdb (a second process cannot even open the file read-only then).

Why a Python step after dbt rather than a dbt post-hook: a post-hook runs inside the build, on the writer's
connection, so a mart would be published before its data tests ran and a failed build would still publish;
and a hook cannot rename the file it is writing. Publishing after a successful build from one read-only
connection gives every file from the same, tested state of the warehouse; each file is written under a
temporary name in marts/ and renamed, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..config import PROJECT_ROOT, WAREHOUSE_FILE, default_data_dir
from ..errors import MissingInput, ResourceBusy
from ..lake.atomic import atomic_path, write_text_atomic
from ..lake.storage import CODECS

MARTS_FOLDER = "marts"
CATALOG_FILE = "_catalog.json"
MART_PREFIXES = ("fct_", "dim_", "agg_", "dq_")
"""Name prefixes of mart tables (docs/warehouse.md naming), used only when no dbt manifest is found."""


@dataclass(frozen=True)
class Mart:
    """A mart model of the dbt project.

    Attributes:
        name: table name in the warehouse and file stem under ``marts/``.
        domain: folder under ``models/marts/`` (``recsys``, ``ops``, … usually the family).
        description: the model's description; its first line states the grain (STYLE).
        columns: column name → description, as documented in the model's YAML.
    """

    name: str
    domain: str = ""
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def grain(self) -> str:
        """First sentence of the description (``Grain: one row per …``), or ''."""
        first = self.description.strip().split("\n", 1)[0]
        return first.split(". ", 1)[0].rstrip(".") if first else ""


@dataclass(frozen=True)
class PublishedMart:
    """One published file: mart, rows, Parquet path."""

    mart: Mart
    rows: int
    path: Path


def marts_path(data_dir: Path | str | None = None) -> Path:
    """Folder of the published marts: ``<data_dir>/marts``."""
    return Path(data_dir if data_dir is not None else default_data_dir()) / MARTS_FOLDER


def _manifest_paths(data_dir: Path) -> list[Path]:
    """dbt manifests that describe this project, newest first: ours, then a plain `dbt build`'s ``target/``."""
    candidates = [data_dir / "dbt" / "target" / "manifest.json", PROJECT_ROOT / "target" / "manifest.json"]
    return sorted((p for p in candidates if p.exists()), key=lambda p: p.stat().st_mtime, reverse=True)


def discover_marts(data_dir: Path | str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> list[Mart]:
    """The project's marts: every model under ``models/marts/`` in the newest dbt manifest.

    Generic on purpose: a family's marts appear here as soon as its models exist, with no list to edit.
    Without a manifest (nobody ran dbt through this package or from the repository root yet), tables of the
    warehouse named like marts (:data:`MART_PREFIXES`) are used instead, without descriptions (read through
    ``con`` when given, else through a read-only connection of its own).
    """
    data_dir = Path(data_dir if data_dir is not None else default_data_dir())
    for path in _manifest_paths(data_dir):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        marts = []
        for node in manifest.get("nodes", {}).values():
            source_path = node.get("original_file_path", "").replace("\\", "/")
            if node.get("resource_type") != "model" or not source_path.startswith("models/marts/"):
                continue
            if node.get("config", {}).get("materialized") == "ephemeral":
                continue
            parts = source_path.split("/")
            marts.append(Mart(
                name=node.get("alias") or node["name"],
                domain=parts[2] if len(parts) > 3 else "",
                description=node.get("description") or "",
                columns={c: (v.get("description") or "") for c, v in node.get("columns", {}).items()},
            ))
        return sorted(marts, key=lambda m: m.name)
    query = "select table_name from information_schema.tables where table_schema = 'main' order by table_name"
    if con is not None:
        names = con.execute(query).fetchall()
    else:
        database = data_dir / WAREHOUSE_FILE
        if not database.exists():
            return []
        with duckdb.connect(str(database), read_only=True) as own:
            names = own.execute(query).fetchall()
    return [Mart(name) for (name,) in names if name.startswith(MART_PREFIXES)]


def _copy_atomic(con: duckdb.DuckDBPyConnection, relation: str, target: Path) -> None:
    with atomic_path(target) as tmp:
        con.execute(f"copy (select * from {relation}) to '{tmp}' (format parquet, compression {CODECS['rollup']})")


def publish_marts(data_dir: Path | str | None = None) -> list[PublishedMart]:
    """Write every mart of the warehouse to ``<data_dir>/marts/<mart>.parquet`` (temp file + rename).

    Reads ``warehouse.duckdb`` through one read-only connection, so all files come from the same state.
    An empty mart is published as a zero-row file with the mart's columns. Marts that the manifest knows
    but the warehouse does not have yet (not built) are left as they are; files of marts the project no longer
    has are removed. Also writes ``marts/_catalog.json``: per mart its domain, grain, description, row count
    and columns (name, DuckDB type, description) — what :func:`describe` prints.

    Returns:
        The published marts, in name order.

    Raises:
        MissingInput: no warehouse yet.
        ResourceBusy: a running ``dbt build`` holds its lock.
    """
    data_dir = Path(data_dir if data_dir is not None else default_data_dir()).resolve()
    database = data_dir / WAREHOUSE_FILE
    if not database.exists():
        raise MissingInput(f"the warehouse {database}", "run `telemetry dbt build` first")
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as error:
        raise ResourceBusy(str(database), str(error)) from error
    target_dir = marts_path(data_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    published: list[PublishedMart] = []
    catalog: dict[str, dict] = {}
    with con:
        marts = discover_marts(data_dir, con)
        con.execute("set TimeZone = 'UTC'")
        tables = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        for mart in marts:
            if mart.name not in tables:
                continue
            relation = f'main."{mart.name}"'
            target = target_dir / f"{mart.name}.parquet"
            _copy_atomic(con, relation, target)
            rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
            types = con.execute(f"describe {relation}").fetchall()
            published.append(PublishedMart(mart, rows, target))
            catalog[mart.name] = {
                "domain": mart.domain, "grain": mart.grain, "description": mart.description.strip(), "rows": rows,
                "columns": [{"name": name, "type": kind, "description": mart.columns.get(name, "")}
                            for name, kind, *_ in types],
            }
    known = {m.name for m in marts}
    for stale in target_dir.glob("*.parquet"):
        if known and stale.stem not in known:
            stale.unlink()
    document = {"published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "warehouse": str(database), "marts": catalog}
    write_text_atomic(target_dir / CATALOG_FILE, json.dumps(document, indent=2, sort_keys=True))
    return published
