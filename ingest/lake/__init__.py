"""The Parquet lake: hive-partitioned events, the quarantine, the batch ledger, atomic writes."""

from .atomic import atomic_path, write_lines_atomic, write_parquet_atomic, write_text_atomic
from .layout import LEDGER_SCHEMA, QUARANTINE_SCHEMA, Lake, LedgerEntry, PartitionCount

__all__ = ["LEDGER_SCHEMA", "QUARANTINE_SCHEMA", "Lake", "LedgerEntry", "PartitionCount", "atomic_path",
           "write_lines_atomic", "write_parquet_atomic", "write_text_atomic"]
