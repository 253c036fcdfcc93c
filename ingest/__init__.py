"""Game-telemetry warehouse: the registry, the ingest pipeline, the lake and the warehouse readers.

Public API::

    from ingest import Registry, ingest_files, ingest_settings, warehouse

One subpackage per stage (docs/architecture.md): ``registry`` → ``lake`` / ``privacy`` → ``pipeline`` →
``warehouse`` → ``lifecycle`` / ``quality`` / ``report`` / ``alerts``; ``importers`` and ``generate`` make input
files; ``demo`` and ``cli`` sit on top.
"""

from .errors import (
    ConfigError, DataError, InputError, RegistryError, Rejection, TelemetryError, TransientError, UsageError,
)
from .lake import Lake
from .pipeline import BatchResult, IngestReport, IngestSettings, ingest_files, ingest_settings
from .privacy import IdentityHasher, Keyring
from .registry import Registry, check_registry

__all__ = [
    "BatchResult",
    "ConfigError",
    "DataError",
    "IdentityHasher",
    "IngestReport",
    "IngestSettings",
    "InputError",
    "Keyring",
    "Lake",
    "Registry",
    "RegistryError",
    "Rejection",
    "TelemetryError",
    "TransientError",
    "UsageError",
    "check_registry",
    "ingest_files",
    "ingest_settings",
]
