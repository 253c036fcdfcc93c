"""Deterministic synthetic players for all five families, with known injected faults (``telemetry generate``).

Public API::

    from ingest.generate import GenerateConfig, generate

See ``docs/generate.md`` for the play model, the output layout, the fault kinds and their reason codes.
"""

from __future__ import annotations

from .core import DEFAULT_START, GenerateConfig, GenerateResult, available_families, generate
from .players import FAMILIES

__all__ = ["DEFAULT_START", "FAMILIES", "GenerateConfig", "GenerateResult", "available_families", "generate"]
