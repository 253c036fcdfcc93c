"""Data lifecycle: retention windows per family and layer, erasure of one player end to end."""

from .erasure import compact_warehouse, erase_and_rebuild, warehouse_rows
from .retention import Drop, apply, plan

__all__ = ["Drop", "apply", "compact_warehouse", "erase_and_rebuild", "plan", "warehouse_rows"]
