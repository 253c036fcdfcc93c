"""The chunk processor: what turns a chunk of one batch's lines into a :class:`ChunkOutcome`.

Two implement it: :class:`~ingest.pipeline.row.LineProcessor` (one event at a time, the reference) and
:class:`~ingest.pipeline.columnar.ColumnarProcessor` (the default: DuckDB where proven identical, the rest handed
to the reference). :func:`chunk_processor` is the one place that builds either (docs/architecture.md).
"""

from __future__ import annotations

from typing import Protocol

from ..registry.schema import Registry
from .outcome import ChunkOutcome
from .reader import Line
from .row import LineProcessor
from .settings import IngestSettings


class ChunkProcessor(Protocol):
    """Classifies chunks of lines of one batch, in input order, with the same result whatever the chunking.

    Attributes:
        chunk_lines: lines per chunk the runner hands to :meth:`process_chunk`.
    """

    chunk_lines: int

    def process_chunk(self, lines: list[Line], batch_id: str, source: str) -> ChunkOutcome:
        """What ``lines`` (of the input file ``source``, landing as batch ``batch_id``) become: rows to land per
        ``(event_type, event_date)`` before dedup, quarantine rows, drops and the accounting counts."""
        ...


def chunk_processor(registry: Registry, settings: IngestSettings, *, columnar: bool = True,
                    threads: int | None = None) -> ChunkProcessor:
    """The processor an ingest runs: by default the columnar one over the row path; ``columnar=False`` the row
    path alone (the reference).

    Args:
        threads: DuckDB threads of the columnar processor (default: DuckDB's, the number of cores).
    """
    reference = LineProcessor(registry, settings)
    if not columnar:
        return reference
    from .columnar import ColumnarProcessor  # here, so DuckDB loads only for a columnar run

    return ColumnarProcessor(registry, reference, threads=threads)
