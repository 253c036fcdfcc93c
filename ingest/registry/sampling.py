"""Deterministic sampling from the shared sampling file (docs/requirements/gameplay.md#sampling "Event Taxonomy and Sampling Strategy").

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
with the id-hashing keyring, so a player's cohort survives key rotation (docs/requirements/gameplay.md#goals: "the same players remain in
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
    """Sampling of one event type: base rate and value rules (first match wins); ``adaptive`` types have their
    rate multiplied while the collector's load is high (:class:`LoadPolicy`)."""

    rate: float
    when: tuple[ValueRule, ...] = ()
    adaptive: bool = False

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
            out[family][event_type] = TypeRule(float(spec["rate"]), when, spec.get("adaptive") is True)
    return out


@dataclass(frozen=True)
class LoadPolicy:
    """How the collector reacts to its own load (the ``load``, ``adaptive`` and ``backpressure`` sections of the
    sampling file; docs/collector.md "Load").

    Load is the collector's spool lag: events it has acknowledged and not yet landed, as a share of
    ``capacity_events``. ``adaptive``: while load stays above ``adaptive_above`` for ``adaptive_seconds``, the rate
    of ``adaptive`` types is multiplied by ``adaptive_factor`` (capped at 1.0), and it falls back once load has
    stayed at or below it as long. ``backpressure``: while load stays above ``backpressure_above`` for
    ``backpressure_seconds``, optional metrics are kept in ``optional_factor`` of the summaries (their rate
    multiplied by it).
    """

    capacity_events: int = 5000
    adaptive_above: float = 0.85
    adaptive_seconds: float = 120.0
    adaptive_factor: float = 2.0
    backpressure_above: float = 0.8
    backpressure_seconds: float = 30.0
    optional_factor: float = 0.5


_POLICY_FIELDS = {
    "load": {"capacity_events": "capacity_events"},
    "adaptive": {"above": "adaptive_above", "for_seconds": "adaptive_seconds", "factor": "adaptive_factor"},
    "backpressure": {"above": "backpressure_above", "for_seconds": "backpressure_seconds",
                     "optional_factor": "optional_factor"},
}


def _policy_of(data: dict[str, Any]) -> tuple[LoadPolicy, list[str]]:
    """The load policy a sampling file declares (defaults for what it leaves out) and what is wrong with it."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for section, names in _POLICY_FIELDS.items():
        spec = data.get(section)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            problems.append(f"`{section}` must be a mapping")
            continue
        for key in sorted(set(spec) - set(names)):
            problems.append(f"`{section}.{key}` is not a setting (known: {', '.join(names)})")
        for key, attribute in names.items():
            if key not in spec:
                continue
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"`{section}.{key}` must be a number, not {value!r}")
                continue
            if key == "capacity_events" and (not isinstance(value, int) or value < 1):
                problems.append(f"`{section}.{key}` must be a positive integer")
            elif key == "above" and not 0 < value < 1:
                problems.append(f"`{section}.{key}` is a share of the capacity, in (0, 1)")
            elif key == "for_seconds" and value < 0:
                problems.append(f"`{section}.{key}` must be ≥ 0")
            elif key == "factor" and value < 1:
                problems.append(f"`{section}.{key}` multiplies a rate while load is high: ≥ 1")
            elif key == "optional_factor" and not 0 < value <= 1:
                problems.append(f"`{section}.{key}` must be in (0, 1]")
            else:
                values[attribute] = value
    return LoadPolicy(**values), problems


@lru_cache(maxsize=16)
def _load_policy(path: Path, mtime_ns: int) -> LoadPolicy:
    policy, problems = _policy_of(_load_yaml(path))
    if problems:
        raise RegistryError(str(path), "; ".join(problems))
    return policy


def load_policy(schemas_root: Path, relative: str = "sampling.yml") -> LoadPolicy:
    """The collector's load policy from the shared sampling file (defaults when the file has no such sections or
    does not exist). Re-read when the file changes (cached by modification time).

    Raises:
        RegistryError: the file is malformed.
    """
    path = (Path(schemas_root) / relative).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return LoadPolicy()
    return _load_policy(path, mtime)


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


@dataclass(frozen=True)
class OptionalMetrics:
    """A family's metrics that degrade first under backpressure (docs/requirements/ability.md#registry): the pointers of the metrics
    object and of the per-metric rates, and each optional key with its default rate."""

    values: str
    rates: str
    default_rates: dict[str, float]


def optional_metrics(seeds_dir: Path, family: Any) -> OptionalMetrics | None:
    """The optional metrics ``family.backpressure`` names, read from its dbt seed (``is_optional`` true).

    Raises:
        RegistryError: the rule is malformed, or the seed or a column is missing.
    """
    rule = family.backpressure
    if rule is None:
        return None
    source = rule.get("optional")
    if not isinstance(source, dict) or not all(isinstance(rule.get(k), str) for k in ("values", "rates")) \
            or not all(isinstance(source.get(k), str) for k in ("seed", "key", "flag", "default_rate")):
        raise RegistryError(family.name, "backpressure needs `values`, `rates` and `optional: {seed, key, flag, "
                                         "default_rate}`")
    import csv

    path = Path(seeds_dir) / f"{source['seed']}.csv"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        optional = {row[source["key"]]: float(row[source["default_rate"]])
                    for row in rows if row[source["flag"]].strip().lower() == "true"}
    except (OSError, KeyError, ValueError) as error:
        raise RegistryError(str(path), f"optional metrics unreadable: {error!r}") from error
    return OptionalMetrics(rule["values"], rule["rates"], optional)


def degrade_optional(event: dict[str, Any], rule: OptionalMetrics, factor: float, secret: bytes,
                     event_id: str) -> dict[str, Any]:
    """``event`` with its optional metrics reduced to ``factor`` of the summaries: each optional metric present is
    kept when HMAC-SHA256(secret, ``"<event_id>|<metric>"``) read as a 64-bit fraction is below ``factor`` —
    its stated rate (or the registry default) multiplied by ``factor`` — and removed otherwise (with its rate).
    A summary that holds nothing but optional metrics is left whole (it must keep one metric). Returns a copy;
    ``event`` is not changed."""
    values = event.get(rule.values[1:])
    if factor >= 1.0 or not isinstance(values, dict) or not rule.default_rates.keys() & values.keys() \
            or values.keys() <= rule.default_rates.keys():
        return event
    path = [p for p in rule.rates.split("/")[1:]]
    out = dict(event)
    out[rule.values[1:]] = kept = dict(values)
    holder: Any = out
    for name in path[:-1]:  # copy the objects down to the rates object
        inner = holder.get(name)
        holder[name] = inner = dict(inner) if isinstance(inner, dict) else {}
        holder = inner
    rates = holder.get(path[-1])
    holder[path[-1]] = rates = dict(rates) if isinstance(rates, dict) else {}
    for key, default in rule.default_rates.items():
        if key not in kept:
            continue
        if sampled_in(secret, event_id, key, factor):
            stated = rates.get(key, default)
            rates[key] = float(stated) * factor
        else:
            del kept[key]
            rates.pop(key, None)
    if not rates:
        del holder[path[-1]]
    return out


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
    problems = [f"{where}: {problem}" for problem in _policy_of(data)[1]]
    for event_type, spec in types.items():
        if event_type not in family.event_types():
            problems.append(f"{where}: {family.name}.{event_type} is not an event type of the registry")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where}: {family.name}.{event_type} must be a mapping with a rate")
            continue
        if "adaptive" in spec and not isinstance(spec["adaptive"], bool):
            problems.append(f"{where}: {family.name}.{event_type}: adaptive must be true or false")
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
