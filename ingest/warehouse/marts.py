"""Running dbt on the warehouse from Python: same project, same data directory, no network.

``dbt`` is run as a subprocess from the repository root so that it finds ``dbt_project.yml`` and
``profiles.yml``, with ``TELEMETRY_DATA_DIR`` set to an absolute path (the profile and the lake sources read it).

Readers (DESIGN §10, docs/readers.md): after a successful ``build``/``run`` the marts are published as Parquet
under ``<data_dir>/marts/``; :func:`read` and :func:`sql` give them to Python as polars DataFrames::

    from ingest import warehouse
    daily = warehouse.read("agg_recsys_daily")
    warehouse.sql("select bucket, sum(clicks) / sum(impressions) from agg_recsys_daily where position = 0 group by 1")
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from ..config import PROJECT_ROOT, default_data_dir
from ..errors import TelemetryError



class DbtError(TelemetryError):
    """``dbt`` exited with a non-zero code."""

    def __init__(self, args: list[str], returncode: int):
        super().__init__(f"dbt {' '.join(args)} failed with exit code {returncode}")
        self.args_ = args
        self.returncode = returncode


def dbt_environment(data_dir: Path) -> dict[str, str]:
    """Environment for dbt: absolute ``TELEMETRY_DATA_DIR``, no anonymous usage tracking."""
    env = dict(os.environ)
    env["TELEMETRY_DATA_DIR"] = str(Path(data_dir).resolve())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str], data_dir: Path, *, check: bool = True, quiet: bool = False) -> int:
    """Run ``dbt <args>`` for the warehouse in ``data_dir``; target and logs go under ``data_dir``.

    After a successful ``dbt build`` or ``dbt run`` the marts are published to ``<data_dir>/marts/``
    (:func:`publish_marts`); a failed build publishes nothing, so readers keep the last good state.

    Raises:
        DbtError: dbt failed and ``check`` is true.
        PublishError: the build succeeded but publishing failed.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", *args]
    if args and args[0] not in ("deps", "clean", "--version"):
        command += ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                    "--target-path", str(data_dir / "dbt" / "target"), "--log-path", str(data_dir / "dbt" / "logs")]
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=dbt_environment(data_dir),
                               stdout=subprocess.DEVNULL if quiet else None)
    if check and completed.returncode != 0:
        raise DbtError(args, completed.returncode)
    subcommand = next((a for a in args if not a.startswith("-")), None)
    if completed.returncode == 0 and subcommand in PUBLISHING_COMMANDS:
        publish_marts(data_dir)
    return completed.returncode


# --- published marts (DESIGN §10) ---------------------------------------------------------------------------
# After a build the marts are copied, one Parquet file each, to <data_dir>/marts/ so that notebooks, the DQ
# report and the dashboard read them while a later `dbt build` holds DuckDB's single-writer lock on
# warehouse.duckdb (a second process cannot even open the file read-only then).
#
# Why a Python step after dbt rather than a dbt post-hook: a post-hook runs inside the build, on the writer's
# connection, so a mart would be published before its data tests ran and a failed build would still publish;
# and a hook cannot rename the file it is writing. Publishing after a successful build from one read-only
# connection gives every file from the same, tested state of the warehouse; each file is written under a
# temporary name in marts/ and renamed, so a reader sees the old file or the new one, never half of one.

MARTS_FOLDER = "marts"
CATALOG_FILE = "_catalog.json"
MART_PREFIXES = ("fct_", "dim_", "agg_", "dq_", "kpi_", "alert_", "alerts_", "ftr_", "features_")
"""Name prefixes of mart tables, used only when no dbt manifest is found (STYLE: marts naming)."""
PUBLISHING_COMMANDS = ("build", "run")
"""dbt sub-commands after which :func:`run_dbt` publishes the marts."""


class PublishError(TelemetryError):
    """The marts could not be published (no warehouse yet, or it is locked by a running build)."""


class MartNotFound(TelemetryError):
    """No published Parquet file for the requested mart.

    Attributes:
        name: the mart asked for.
        available: names that are published.
    """

    def __init__(self, name: str, marts_path: Path, available: list[str]):
        shown = ", ".join(available) if available else "none yet (run `telemetry dbt build` or `telemetry publish`)"
        super().__init__(f"mart {name!r} is not published under {marts_path}; published: {shown}")
        self.name = name
        self.available = available


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
        database = data_dir / "warehouse.duckdb"
        if not database.exists():
            return []
        with duckdb.connect(str(database), read_only=True) as own:
            names = own.execute(query).fetchall()
    return [Mart(name) for (name,) in names if name.startswith(MART_PREFIXES)]


def _copy_atomic(con: duckdb.DuckDBPyConnection, relation: str, target: Path) -> None:
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        con.execute(f"copy (select * from {relation}) to '{tmp}' (format parquet, compression zstd)")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


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
        PublishError: no warehouse yet, or a running ``dbt build`` holds its lock.
    """
    data_dir = Path(data_dir if data_dir is not None else default_data_dir()).resolve()
    database = data_dir / "warehouse.duckdb"
    if not database.exists():
        raise PublishError(f"{database} does not exist: run `telemetry dbt build` first")
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as error:
        raise PublishError(f"cannot open {database} read-only (is a dbt build running?): {error}") from error
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
    tmp = target_dir / f".{CATALOG_FILE}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target_dir / CATALOG_FILE)
    return published


def marts(data_dir: Path | str | None = None) -> list[str]:
    """Names of the published marts (``marts/*.parquet``), sorted."""
    folder = marts_path(data_dir)
    return sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []


def describe(name: str, data_dir: Path | str | None = None) -> str:
    """A mart's grain, row count and columns (type — description), from ``marts/_catalog.json``.

    Raises:
        MartNotFound: the mart is not published.
    """
    folder = marts_path(data_dir)
    try:
        entry = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8"))["marts"][name]
    except (OSError, ValueError, KeyError):
        raise MartNotFound(name, folder, marts(data_dir)) from None
    lines = [f"{name} ({entry['domain'] or 'marts'}): {entry['rows']} rows", entry["grain"] or "(no description)"]
    lines += [f"  {c['name']:<28} {c['type']:<12} {' '.join(c['description'].split())}".rstrip()
              for c in entry["columns"]]
    return "\n".join(lines)


def read(name: str, data_dir: Path | str | None = None, *, columns: list[str] | None = None) -> pl.DataFrame:
    """A published mart as a polars DataFrame (works while ``dbt build`` holds the warehouse lock).

    Every mart of the dbt project is published (see :func:`marts`, and :func:`describe` for one mart's
    columns). The recsys and ingest-quality marts, by grain (DESIGN table, seed 003):

    - ``agg_recsys_daily``: one row per (event_date, experiment_id, bucket, position); ``position = 0`` is the
      all-positions row to read for daily KPIs. Columns: requests, impressions, clicks, ctr, items_shown,
      catalog_items, coverage, latency_p50_ms, latency_p95_ms, latency_p99_ms, errors, error_rate,
      impressions_per_request, mean_dwell_ms.
    - ``agg_recsys_weekly`` / ``agg_recsys_monthly``: one row per (week_start | month_start, experiment_id,
      bucket), the same measures.
    - ``fct_recsys_requests``: one row per request_id (event_date, experiment_id, bucket, player_key,
      latency_ms, impressions, clicks, errors, …); ``fct_recsys_impressions``: one row per impression_key.
    - ``dq_ingest_daily``: one row per (event_type, event_date), all families: landed, duplicates,
      quarantined, ``quarantined_<reason>`` per reason code, quarantined_invalid, validity_rate.

    Dates are UTC days (DATE), timestamps UTC (naive TIMESTAMP).

    Args:
        name: mart name, e.g. ``"agg_recsys_daily"``.
        data_dir: data directory (default :func:`default_data_dir`).
        columns: read only these columns.

    Raises:
        MartNotFound: the mart is not published (lists the ones that are).
    """
    path = marts_path(data_dir) / f"{name}.parquet"
    if not path.exists():
        raise MartNotFound(name, marts_path(data_dir), marts(data_dir))
    return pl.read_parquet(path, columns=columns)


def connect(data_dir: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection (TimeZone UTC) with one view per published mart, named after it.

    Never touches ``warehouse.duckdb``, so it works during a build. Close it when done.
    """
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    folder = marts_path(data_dir)
    for name in marts(data_dir):
        path = str((folder / f"{name}.parquet").resolve()).replace("'", "''")
        con.execute(f"create view \"{name}\" as select * from read_parquet('{path}')")
    return con


def sql(query: str, data_dir: Path | str | None = None, params: list | dict | None = None) -> pl.DataFrame:
    """Run a DuckDB SQL ``query`` over the published marts (each is a view named after the mart).

    Example::

        warehouse.sql("select event_date, bucket, sum(clicks) / sum(impressions) as ctr "
                      "from agg_recsys_daily where position = 0 group by all order by all")

    Returns:
        The result as a polars DataFrame.

    Raises:
        duckdb.Error: the query is invalid (e.g. names a mart that is not published).
    """
    with connect(data_dir) as con:
        return con.sql(query, params=params).pl()


# --- command line (registered in cli.py) ---------------------------------------------------------------------
def data_dir_option(function):
    """``--data-dir`` as every telemetry command has it (defined here too: cli.py imports this module)."""
    import click

    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="TELEMETRY_DATA_DIR",
        default=Path("data"), show_default=True, show_envvar=True,
        help="Data directory holding lake/, warehouse.duckdb and marts/.")(function)


def _publish_command():
    import click

    @click.command("publish")
    @data_dir_option
    def publish_command(data_dir: Path) -> None:
        """Write every mart to <data-dir>/marts/<mart>.parquet (temp file + rename) for notebooks and reports.

        `telemetry dbt build` does this after every successful build; run it after a plain `dbt build`.
        Fails (exit 2) while a build holds the warehouse lock.
        """
        published = publish_marts(data_dir)
        for item in published:
            click.echo(f"{item.mart.name:<36} {item.rows:>10} rows  {item.path}")
        click.echo(f"published {len(published)} mart(s) to {marts_path(data_dir)}")

    return publish_command


publish_command = _publish_command()
