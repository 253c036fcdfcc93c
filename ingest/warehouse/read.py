"""Reading the published marts from Python: a mart as a polars DataFrame, SQL over all of them.

They never touch ``warehouse.duckdb``, so they work while a ``dbt build`` holds its lock::

    from ingest import warehouse
    daily = warehouse.read("agg_recsys_daily")
    warehouse.sql("select bucket, sum(clicks) / sum(impressions) from agg_recsys_daily group by 1")
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from ..errors import MartNotFound
from .publish import CATALOG_FILE, marts_path


def marts(data_dir: Path | str | None = None) -> list[str]:
    """Names of the published marts (``marts/*.parquet``), sorted."""
    folder = marts_path(data_dir)
    return sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []


def _shown_type(kind: str) -> str:
    """A zone-less TIMESTAMP of a mart holds a UTC instant: say so where a person reads the type."""
    return "TIMESTAMP UTC" if kind == "TIMESTAMP" else kind


def describe(name: str, data_dir: Path | str | None = None) -> str:
    """A mart's grain, row count and columns (type — description), from ``marts/_catalog.json``.

    A zone-less ``TIMESTAMP`` column is shown as ``TIMESTAMP UTC``: every timestamp of the marts is UTC.

    Raises:
        MartNotFound: the mart is not published.
    """
    folder = marts_path(data_dir)
    try:
        entry = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8"))["marts"][name]
    except (OSError, ValueError, KeyError):
        raise MartNotFound(name, str(folder), marts(data_dir)) from None
    lines = [f"{name} ({entry['domain'] or 'marts'}): {entry['rows']} rows", entry["grain"] or "(no description)"]
    lines += [f"  {c['name']:<28} {_shown_type(c['type']):<13} {' '.join(c['description'].split())}".rstrip()
              for c in entry["columns"]]
    return "\n".join(lines)


def read(name: str, data_dir: Path | str | None = None, *, columns: list[str] | None = None) -> pl.DataFrame:
    """A published mart as a polars DataFrame (works while ``dbt build`` holds the warehouse lock).

    Every mart of the dbt project is published, whatever its family: :func:`marts` lists them and
    :func:`describe` gives one mart's grain and columns (type and description, from the dbt docs). Names say
    the kind: ``fct_`` facts (one row per event or process), ``agg_`` aggregates (grain in the name: ``_daily``,
    ``_weekly``, ``_monthly``), ``dq_`` data-quality results, ``dim_`` dimensions; e.g. ``agg_recsys_daily``,
    ``fct_gameplay_sessions``, ``agg_politics_weekly``, ``agg_ability_metrics_daily``, ``fct_learning_sessions``,
    ``dq_ingest_daily``.

    Dates are UTC days (DATE). Timestamps are UTC instants stored as DuckDB ``TIMESTAMP`` without a zone (polars
    ``Datetime`` with no time zone): read them as UTC.

    Args:
        name: mart name, e.g. ``"agg_recsys_daily"``.
        data_dir: data directory (default :func:`default_data_dir`).
        columns: read only these columns.

    Raises:
        MartNotFound: the mart is not published (lists the ones that are).
    """
    path = marts_path(data_dir) / f"{name}.parquet"
    if not path.exists():
        raise MartNotFound(name, str(marts_path(data_dir)), marts(data_dir))
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
                      "from agg_recsys_daily group by all order by all")

    Returns:
        The result as a polars DataFrame.

    Raises:
        duckdb.Error: the query is invalid (e.g. names a mart that is not published).
    """
    with connect(data_dir) as con:
        return con.sql(query, params=params).pl()
