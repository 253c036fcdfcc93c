"""The Parquet lake: hive-partitioned events, the quarantine, the batch ledger, atomic writes."""

from .layout import LEDGER_SCHEMA, QUARANTINE_SCHEMA, Lake, LedgerEntry, write_parquet_atomic

__all__ = ["LEDGER_SCHEMA", "QUARANTINE_SCHEMA", "Lake", "LedgerEntry", "write_parquet_atomic"]
