"""Reference tables: the values an event field must hold, read from a dbt seed (``x-telemetry.references``)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import RegistryError

_REFERENCE_CACHE: dict[tuple[Path, str, str], frozenset[str]] = {}


def reference_values(seeds_dir: Path, rule: dict[str, str]) -> frozenset[str]:
    """Values of ``rule["column"]`` in the dbt seed ``seeds/<rule["seed"]>.csv`` (cached per process).

    Raises:
        RegistryError: the seed file or column does not exist.
    """
    key = (seeds_dir, rule["seed"], rule["column"])
    if key not in _REFERENCE_CACHE:
        path = seeds_dir / f"{rule['seed']}.csv"
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                _REFERENCE_CACHE[key] = frozenset(row[rule["column"]] for row in csv.DictReader(handle))
        except (OSError, KeyError) as error:
            raise RegistryError(str(path), f"reference table unreadable or without column {rule['column']!r}: {error}") from error
    return _REFERENCE_CACHE[key]
