"""Game-telemetry warehouse: the registry, the ingest pipeline and the lake.

Public API::

    from ingest import Registry, Lake, BatchIngest, IdentityHasher
"""

from .errors import ConfigError, InputError, RegistryError, Rejection, TelemetryError
from .privacy.keys import IdentityHasher
from .lake.layout import Lake
from .pipeline.batch import BatchIngest, BatchResult
from .registry.schema import Registry, check_registry

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
