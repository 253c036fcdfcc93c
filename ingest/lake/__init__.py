"""The Parquet lake: hive-partitioned events, the quarantine, the batch ledger, atomic writes, storage rules."""

from .atomic import atomic_path, write_lines_atomic, write_parquet_atomic, write_text_atomic
from .layout import LEDGER_SCHEMA, QUARANTINE_SCHEMA, Lake, LedgerEntry, PartitionCount
from .storage import CODECS, StoragePolicy, Tier, tier_name

__all__ = ["CODECS", "LEDGER_SCHEMA", "QUARANTINE_SCHEMA", "Lake", "LedgerEntry", "PartitionCount", "StoragePolicy",
           "Tier", "atomic_path", "tier_name",
           "write_lines_atomic", "write_parquet_atomic", "write_text_atomic"]
