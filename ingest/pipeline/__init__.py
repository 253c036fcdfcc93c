"""The ingest pipeline: read lines, parse, route to a schema, validate, normalize, hash, deduplicate, land.

Each input file is one batch with a ledger row: read = landed + quarantined + duplicates + dropped.
:func:`ingest_files` is the entry point every caller uses.
"""

from .batch import BatchIngest, BatchResult, BatchWriter, IngestSettings, LineProcessor
from .reader import Line, LineReader
from .replay import ReplayResult, replay_quarantine
from .service import IngestReport, accounting, batch_summary, ingest_files, ingest_settings, input_files

__all__ = ["BatchIngest", "BatchResult", "BatchWriter", "IngestReport", "IngestSettings", "Line", "LineProcessor",
           "LineReader", "ReplayResult", "accounting", "batch_summary", "ingest_files", "ingest_settings",
           "input_files", "replay_quarantine"]
