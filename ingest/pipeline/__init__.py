"""The ingest pipeline: read lines, parse, route to a schema, validate, normalize, hash, deduplicate, land.

Each input file is one batch with a ledger row: read = landed + quarantined + duplicates + dropped.
"""

from .batch import BatchIngest, BatchResult, BatchWriter, IngestSettings, LineProcessor
from .reader import Line, LineReader
from .replay import ReplayResult, replay_quarantine

__all__ = ["BatchIngest", "BatchResult", "BatchWriter", "IngestSettings", "Line", "LineProcessor", "LineReader",
           "ReplayResult", "replay_quarantine"]
