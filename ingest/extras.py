"""The optional parts of the package and the extras that install their dependencies.

The core (registry, ingest, the dbt build, reading marts) needs only the dependencies of ``pyproject.toml``
``[project] dependencies``. Each optional part names its extra here; a module of it asks :func:`require` or
:func:`import_optional`, which raise :class:`~ingest.errors.MissingExtra` with the pip command instead of a bare
``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from .errors import MissingExtra

DISTRIBUTION = "game-telemetry-warehouse"
"""The distribution name on the package index (``pip install game-telemetry-warehouse``)."""


@dataclass(frozen=True)
class Extra:
    """One extra of ``pyproject.toml`` ``[project.optional-dependencies]``.

    Attributes:
        feature: what it enables, as a user names it (e.g. ``the HTTP collector (telemetry serve)``).
        modules: the top-level modules its distributions provide, checked by :func:`require`.
    """

    feature: str
    modules: tuple[str, ...]


EXTRAS = {
    "collector": Extra("the HTTP collector (telemetry serve)", ("fastapi", "uvicorn", "iptocc")),
    "quality": Extra("the data-quality checkpoint (telemetry dq)", ("great_expectations",)),
    "importers": Extra("the StarCraft II importer (telemetry import sc2)", ("sc2reader",)),
    "spark": Extra("the Spark target (dbt --target spark)", ("pyspark", "dbt.adapters.spark")),
}
"""Extra name → what it enables and the modules it brings."""


def missing(extra: str, module: str) -> MissingExtra:
    """The error for ``module`` of ``extra`` not being installed."""
    return MissingExtra(EXTRAS[extra].feature, module, extra, f"pip install '{DISTRIBUTION}[{extra}]'")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package of a dotted name is missing
        return False


def require(extra: str) -> None:
    """Check that every module of ``extra`` is installed (found, not imported).

    Raises:
        MissingExtra: one is not; the message names the pip command.
    """
    for module in EXTRAS[extra].modules:
        if not _installed(module):
            raise missing(extra, module)


def import_optional(module: str, extra: str) -> ModuleType:
    """``importlib.import_module(module)``, or :class:`MissingExtra` naming ``extra`` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise missing(extra, error.name or module) from error
