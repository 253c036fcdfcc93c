"""The event registry: one JSON Schema (draft 2020-12) per event type and version under ``schemas/``.

Loads and checks the schemas and family manifests, classifies schema changes between git revisions, and
generates the dbt sources from the registry.
"""

from .schema import EventSchema, Family, PayloadColumn, Registry, check_registry, snake_case

__all__ = ["EventSchema", "Family", "PayloadColumn", "Registry", "check_registry", "snake_case"]
