"""Reading the published marts from Python: a mart as a polars DataFrame, SQL over all of them.

They never touch ``warehouse.duckdb``, so they work while a ``dbt build`` holds its lock::

    from ingest import warehouse
    daily = warehouse.read("agg_recsys_daily")
    warehouse.sql("select bucket, sum(clicks) / sum(impressions) from agg_recsys_daily where position = 0 group by 1")
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


def describe(name: str, data_dir: Path | str | None = None) -> str:
    """A mart's grain, row count and columns (type — description), from ``marts/_catalog.json``.

    Raises:
        MartNotFound: the mart is not published.
    """
    folder = marts_path(data_dir)
    try:
        entry = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8"))["marts"][name]
    except (OSError, ValueError, KeyError):
        raise MartNotFound(name, str(folder), marts(data_dir)) from None
    lines = [f"{name} ({entry['domain'] or 'marts'}): {entry['rows']} rows", entry["grain"] or "(no description)"]
    lines += [f"  {c['name']:<28} {c['type']:<12} {' '.join(c['description'].split())}".rstrip()
              for c in entry["columns"]]
    return "\n".join(lines)


def read(name: str, data_dir: Path | str | None = None, *, columns: list[str] | None = None) -> pl.DataFrame:
    """A published mart as a polars DataFrame (works while ``dbt build`` holds the warehouse lock).

    Every mart of the dbt project is published (see :func:`marts`, and :func:`describe` for one mart's
    columns). The recsys, ingest-quality and gameplay designer-slice marts, by grain (DESIGN table, seeds 003, 002):

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
    - ``agg_gameplay_combat_daily``: one row per (event_date, encounter_tier, character_class, region,
      playstyle): engaged_players, engagements, wins, combat_success_rate (wins ÷ engagements), and the
      sample-reweighted engagements_estimated, wins_estimated, combat_success_rate_estimated.
    - ``agg_gameplay_xp_velocity_daily``: one row per (event_date, character_class, region, playstyle), over
      the sessions started that day: active_players, sessions, xp_gained, xp_gained_estimated, active_hours
      (Σ session length, hours), xp_per_active_hour, xp_per_active_hour_estimated (null without hours).
      The slices of both are the player's first session's (as in ``agg_gameplay_cohorts``); see
      docs/families/gameplay.md.

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
                      "from agg_recsys_daily where position = 0 group by all order by all")

    Returns:
        The result as a polars DataFrame.

    Raises:
        duckdb.Error: the query is invalid (e.g. names a mart that is not published).
    """
    with connect(data_dir) as con:
        return con.sql(query, params=params).pl()
