"""Data quality: a Great Expectations checkpoint over the latest batches, the ledger and the marts."""

from .gx import DqResult, build_targets, run_dq

__all__ = ["DqResult", "build_targets", "run_dq"]
