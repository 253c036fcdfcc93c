"""Deterministic sampling from the shared sampling file (seed 002 "Event Taxonomy and Sampling Strategy").

A family's manifest points at the file (``"sampling": "sampling.yml"``, relative to ``schemas/``); the file
holds, per family and event type, a base ``rate`` and optional value-dependent ``when`` rules::

    families:
      gameplay:
        damage_dealt:
          rate: 0.5
          when:
            - {field: /encounter_tier, in: [boss, elite], rate: 1.0}

Keep/drop: HMAC-SHA256 under the **sampling secret** of ``"<raw player id>|<event type>"``, read as a 64-bit
fraction, below the rate (events without a player id use their event id). The sampling secret does not rotate
with the id-hashing keyring, so a player's cohort survives key rotation (seed 002: "the same players remain in
sampled cohorts for longitudinal studies").
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import RegistryError


@dataclass(frozen=True)
class ValueRule:
    """``rate`` applies when the value at ``pointer`` is one of ``values``."""

    pointer: str
    values: frozenset
    rate: float


@dataclass(frozen=True)
class TypeRule:
    """Sampling of one event type: base rate and value rules (first match wins)."""

    rate: float
    when: tuple[ValueRule, ...] = ()

    def rate_for(self, event: dict[str, Any]) -> float:
        for rule in self.when:
            value = event.get(rule.pointer[1:]) if rule.pointer.count("/") == 1 else None
            if isinstance(value, (str, int, float, bool)) and value in rule.values:
                return rule.rate
        return self.rate


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RegistryError(str(path), f"cannot read the sampling file: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("families"), dict):
        raise RegistryError(str(path), "the sampling file must hold a mapping with a `families` mapping")
    return data


@lru_cache(maxsize=16)
def _load_rules(path: Path, mtime_ns: int) -> dict[str, dict[str, TypeRule]]:
    data = _load_yaml(path)
    out: dict[str, dict[str, TypeRule]] = {}
    for family, types in data["families"].items():
        out[family] = {}
        for event_type, spec in (types or {}).items():
            when = tuple(ValueRule(str(w["field"]), frozenset(w["in"]), float(w["rate"])) for w in spec.get("when", []) or [])
            out[family][event_type] = TypeRule(float(spec["rate"]), when)
    return out


def sampling_rules(schemas_root: Path, family: str, relative: str | None) -> dict[str, TypeRule]:
    """Event type → rule for ``family`` from its sampling file (empty when the family names none).

    Raises:
        RegistryError: the file is missing or malformed.
    """
    if not relative:
        return {}
    path = (Path(schemas_root) / relative).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise RegistryError(str(path), f"sampling file not found: {error.strerror}") from error
    try:
        return _load_rules(path, mtime).get(family, {})
    except (KeyError, TypeError, ValueError) as error:
        raise RegistryError(str(path), f"malformed sampling rule: {error!r}") from error


def sampling_problems(registry: Any, family: Any) -> list[str]:
    """``schemas check`` of a family's sampling file: readable; known event types; rates in (0, 1]; ``when``
    fields that are top-level properties of the type's newest schema; base rates equal to the schemas'
    ``x-telemetry.sample_rate`` (one truth, no drift)."""
    relative = family.manifest["sampling"]
    path = Path(registry.root) / relative
    where = str(path)
    try:
        data = _load_yaml(path)
    except RegistryError as error:
        return [str(error)]
    types = data["families"].get(family.name)
    if not isinstance(types, dict):
        return [f"{where}: no rules for family {family.name!r}"]
    problems = []
    for event_type, spec in types.items():
        if event_type not in family.event_types():
            problems.append(f"{where}: {family.name}.{event_type} is not an event type of the registry")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where}: {family.name}.{event_type} must be a mapping with a rate")
            continue
        schema = family.latest(event_type)
        rates = [spec.get("rate")] + [w.get("rate") for w in spec.get("when", []) or [] if isinstance(w, dict)]
        for rate in rates:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
                problems.append(f"{where}: {family.name}.{event_type}: rate {rate!r} must be in (0, 1]")
        for rule in spec.get("when", []) or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("in"), list) or not rule.get("in"):
                problems.append(f"{where}: {family.name}.{event_type}: each `when` needs field, in (a list), rate")
                continue
            field = rule.get("field")
            if not isinstance(field, str) or field.count("/") != 1 or field[1:] not in schema.document.get("properties", {}):
                problems.append(f"{where}: {family.name}.{event_type}: when field {field!r} is not a top-level property")
        for version_schema in (s for (t, _), s in family.schemas.items() if t == event_type):
            if isinstance(spec.get("rate"), (int, float)) and version_schema.sample_rate != float(spec["rate"]):
                problems.append(f"{where}: {family.name}.{event_type}: rate {spec['rate']} differs from "
                                f"{version_schema.path.name}'s x-telemetry.sample_rate {version_schema.sample_rate}")
    return problems


def sampled_in(secret: bytes, subject: str, event_type: str, rate: float) -> bool:
    """Keep when HMAC-SHA256(secret, ``"<subject>|<event_type>"``) read as a 64-bit fraction is below ``rate``.

    ``subject`` is the raw player id (or the event id for events without one).
    """
    if rate >= 1.0:
        return True
    digest = hmac.new(secret, f"{subject}|{event_type}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate
