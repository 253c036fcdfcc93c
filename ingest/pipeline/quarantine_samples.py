"""Quarantined events of one type, opened for review (``telemetry schemas draft --from-quarantine``): events of an
unknown type (``unknown_event_type``), or events of a known type that did not fit it (``schema_violation``)."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow.parquet as pq

from ..lake.layout import Lake
from ..privacy.keys import Keyring
from ..privacy.quarantine_crypto import QuarantineCipher, open_raw
from ..registry.schema import Registry


def unknown_type_samples(registry: Registry, lake: Lake, keyring: Keyring, event_type: str,
                         limit: int = 1000) -> list[dict[str, Any]]:
    """Up to ``limit`` wire events quarantined as ``unknown_event_type`` whose type (read with each family's route,
    case-insensitively) is ``event_type``. Rows sealed under a key missing from ``keyring`` are skipped.
    """
    wanted = event_type.lower()
    cipher = QuarantineCipher(keyring)
    samples: list[dict[str, Any]] = []
    for path in sorted(lake.quarantine.glob("*.parquet")):
        if path.name.startswith("_"):
            continue
        for row in pq.read_table(path).to_pylist():
            if row["reason"] != "unknown_event_type":
                continue
            try:
                event = orjson.loads(open_raw(cipher, row))
            except Exception:  # noqa: BLE001 - unreadable or sealed under a destroyed key: not a sample
                continue
            if not isinstance(event, dict):
                continue
            names = {family.event_type_of(event) for family in registry.families.values()}
            if any(isinstance(n, str) and n.lower() == wanted for n in names):
                samples.append(event)
                if len(samples) >= limit:
                    return samples
    return samples


def misfit_samples(lake: Lake, keyring: Keyring, qualified_type: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Up to ``limit`` wire events of the lake event type ``qualified_type`` (e.g. ``gameplay_ability_cast``)
    quarantined as ``schema_violation``. Rows sealed under a key missing from ``keyring`` are skipped."""
    cipher = QuarantineCipher(keyring)
    samples: list[dict[str, Any]] = []
    for path in sorted(lake.quarantine.glob("*.parquet")):
        if path.name.startswith("_"):
            continue
        for row in pq.read_table(path).to_pylist():
            if row["reason"] != "schema_violation" or row["event_type"] != qualified_type:
                continue
            try:
                event = orjson.loads(open_raw(cipher, row))
            except Exception:  # noqa: BLE001 - unreadable or sealed under a destroyed key: not a sample
                continue
            if isinstance(event, dict):
                samples.append(event)
                if len(samples) >= limit:
                    return samples
    return samples
