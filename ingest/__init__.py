"""Game-telemetry warehouse: the registry, the ingest pipeline and the lake.

Public API::

    from ingest import Registry, Lake, BatchIngest, IdentityHasher
"""

from .errors import ConfigError, InputError, RegistryError, Rejection, TelemetryError
from .identity import IdentityHasher
from .lake import Lake
from .pipeline import BatchIngest, BatchResult
from .registry import Registry, check_registry

__all__ = [
    "BatchIngest",
    "BatchResult",
    "ConfigError",
    "IdentityHasher",
    "InputError",
    "Lake",
    "Registry",
    "RegistryError",
    "Rejection",
    "TelemetryError",
    "check_registry",
]
