"""The ingest pipeline: read lines, parse, route to a schema, validate, normalize, hash, deduplicate, land.

Each input file is one batch with a ledger row: read = landed + quarantined + duplicates + dropped.
:func:`ingest_files` is the entry point every caller uses.
"""

from .outcome import BatchResult, ChunkOutcome
from .processor import ChunkProcessor, chunk_processor
from .reader import Line, LineReader
from .replay import ReplayResult, replay_quarantine
from .row import LineProcessor
from .runner import BatchIngest
from .service import IngestReport, accounting, batch_summary, ingest_files, ingest_settings, input_files
from .settings import IngestSettings
from .writer import BatchWriter

__all__ = ["BatchIngest", "BatchResult", "BatchWriter", "ChunkOutcome", "ChunkProcessor", "IngestReport",
           "IngestSettings", "Line", "LineProcessor", "LineReader", "ReplayResult", "accounting", "batch_summary",
           "chunk_processor", "ingest_files", "ingest_settings", "input_files", "replay_quarantine"]
