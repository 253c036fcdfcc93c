"""Quarantined events of one type, opened for review (``telemetry schemas draft --from-quarantine``): events of an
unknown type (``unknown_event_type``), or events of a known type that did not fit it (``schema_violation``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.parquet as pq

from ..lake.layout import Lake
from ..privacy.keys import Keyring
from ..privacy.quarantine_crypto import QuarantineCipher, open_raw
from ..registry.schema import Registry


def _quarantined_events(lake: Lake, keyring: Keyring, reason: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(quarantine row, wire event)`` for every quarantined JSON object with ``reason``, oldest file first.
    Rows that do not open (sealed under a key missing from ``keyring``) or do not parse to an object are skipped."""
    cipher = QuarantineCipher(keyring)
    for path in sorted(lake.quarantine.glob("*.parquet")):
        if path.name.startswith("_"):
            continue
        for row in pq.read_table(path).to_pylist():
            if row["reason"] != reason:
                continue
            try:
                event = orjson.loads(open_raw(cipher, row))
            except Exception:  # noqa: BLE001 - unreadable or sealed under a destroyed key: not a sample
                continue
            if isinstance(event, dict):
                yield row, event


def unknown_type_samples(registry: Registry, lake: Lake, keyring: Keyring, event_type: str,
                         limit: int = 1000) -> list[dict[str, Any]]:
    """Up to ``limit`` wire events quarantined as ``unknown_event_type`` whose type (read with each family's route,
    case-insensitively) is ``event_type``. Rows sealed under a key missing from ``keyring`` are skipped.
    """
    wanted = event_type.lower()
    samples: list[dict[str, Any]] = []
    for _row, event in _quarantined_events(lake, keyring, "unknown_event_type"):
        names = {family.event_type_of(event) for family in registry.families.values()}
        if any(isinstance(n, str) and n.lower() == wanted for n in names):
            samples.append(event)
            if len(samples) >= limit:
                break
    return samples


def misfit_samples(lake: Lake, keyring: Keyring, qualified_type: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Up to ``limit`` wire events of the lake event type ``qualified_type`` (e.g. ``gameplay_ability_cast``)
    quarantined as ``schema_violation``. Rows sealed under a key missing from ``keyring`` are skipped."""
    samples: list[dict[str, Any]] = []
    for row, event in _quarantined_events(lake, keyring, "schema_violation"):
        if row["event_type"] == qualified_type:
            samples.append(event)
            if len(samples) >= limit:
                break
    return samples
