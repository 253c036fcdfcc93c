"""Data lifecycle: retention windows per family and layer, compaction of small files, erasure end to end."""

from ..lake.compaction import CompactionReport, compact
from .erasure import compact_warehouse, erase_and_rebuild, warehouse_rows
from .retention import Drop, apply, plan

__all__ = ["CompactionReport", "Drop", "apply", "compact", "compact_warehouse", "erase_and_rebuild", "plan", "warehouse_rows"]
