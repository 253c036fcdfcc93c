"""The dbt warehouse from Python: run dbt, publish the marts as Parquet, read them.

Readers (docs/readers.md)::

    from ingest import warehouse
    daily = warehouse.read("agg_recsys_daily")
    warehouse.sql("select bucket, sum(clicks) / sum(impressions) from agg_recsys_daily group by 1")
"""

from ..config import PROJECT_ROOT, default_data_dir
from ..errors import MartNotFound, MissingInput, ResourceBusy
from .dbt import DbtRun, run_dbt
from .publish import CATALOG_FILE, Mart, PublishedMart, discover_marts, marts_path, publish_marts
from .read import connect, describe, marts, read, sql

__all__ = ["CATALOG_FILE", "PROJECT_ROOT", "DbtRun", "Mart", "MartNotFound", "MissingInput", "PublishedMart",
           "ResourceBusy", "connect", "default_data_dir", "describe", "discover_marts", "marts", "marts_path",
           "publish_marts", "read", "run_dbt", "sql"]
