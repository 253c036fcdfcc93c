"""Erasing one player end to end: the lake and quarantine (:mod:`ingest.privacy.erasure`), then the warehouse.

The warehouse re-aggregates exactly the dates the erasure touched (its ``erasure`` ledger row), then the
DuckDB file is rewritten so the erased rows' bytes are gone from disk too.
"""

from __future__ import annotations

from pathlib import Path

from ..config import WAREHOUSE_FILE
from ..lake.layout import Lake
from ..privacy.erasure import ErasureReport, erase_player
from ..privacy.keys import Keyring
from ..warehouse.dbt import run_dbt


def erase_and_rebuild(data_dir: Path, keyring: Keyring, player_id: str, *, dry_run: bool = False,
                      build: bool = True) -> tuple[ErasureReport, dict[str, int], dict[str, int]]:
    """Erase ``player_id`` (a raw id) from ``data_dir``: lake, quarantine, then the warehouse (``build``).

    Returns:
        The erasure report and the warehouse rows holding the player per table, before and after (equal on a
        dry run).

    Raises:
        CheckFailed: the rebuilding ``dbt build`` failed.
    """
    lake = Lake(Path(data_dir) / "lake")
    database = Path(data_dir) / WAREHOUSE_FILE
    report = erase_player(lake, keyring, player_id, dry_run=True)
    before = warehouse_rows(database, report.player_keys)
    if dry_run:
        return report, before, before
    with lake.maintenance_lock():  # no batch or compaction rewrites a partition meanwhile
        report = erase_player(lake, keyring, player_id)
    if build and database.exists():
        run_dbt(["build"], data_dir, quiet=True)
        compact_warehouse(database)  # freed DuckDB blocks would still hold the erased rows' bytes
    return report, before, warehouse_rows(database, report.player_keys)


def warehouse_rows(database: Path, player_keys: list[str]) -> dict[str, int]:
    """Rows per warehouse table or view (with a ``player_key`` column) that hold one of ``player_keys``."""
    import duckdb

    if not Path(database).exists():
        return {}
    counts: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.sql("select table_schema, table_name from information_schema.columns "
                         "where column_name = 'player_key' order by 1, 2").fetchall()
        for schema, table in tables:
            try:
                n = con.execute(f'select count(*) from "{schema}"."{table}" where player_key in (select unnest(?))',
                                [player_keys]).fetchall()[0][0]
            except duckdb.Error:
                continue  # a view over lake files that no longer exist
            counts[f"{schema}.{table}"] = n
    return counts


def compact_warehouse(database: Path) -> None:
    """Rewrite the DuckDB file so that deleted rows are gone from disk too.

    DuckDB reuses freed blocks without scrubbing them, so an erased player's key can survive in free space
    after the marts are rebuilt. Copying the database into a fresh file and swapping it in removes it.
    """
    import os

    import duckdb

    database = Path(database)
    if not database.exists():
        return
    fresh = database.with_name(database.name + ".compact")
    if fresh.exists():
        fresh.unlink()
    with duckdb.connect() as con:
        con.execute(f"attach '{database}' as old (read_only)")
        con.execute(f"attach '{fresh}' as fresh")
        con.execute("copy from database old to fresh")
        con.execute("detach old")
        con.execute("detach fresh")
    os.replace(fresh, database)
