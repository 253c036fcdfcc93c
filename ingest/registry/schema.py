"""The event registry: one JSON Schema (draft 2020-12) per event type and version under ``schemas/``.

Layout: ``schemas/<family>/_family.json`` (how a wire line is routed to the family, its type and version;
late window; retention) and ``schemas/<family>/<event_type>/<MAJOR.MINOR>.json`` (the schema). Each schema
carries the annotation keyword ``x-telemetry`` (docs/requirements/design.md#registry):

.. code-block:: json

    {"family": "recsys", "event_type": "click", "version": "1.0",
     "envelope": {"occurred_at": {"field": "/timestamp_ms", "unit": "epoch_ms"},
                  "event_id": "/event_id", "player_id": "/user_id", "session_id": "/session_id",
                  "event_id_from": ["/user_id", "/seq"]},
     "personal": {"/message": "length"}, "identifiers": {"/item_id": "content"}, "sample_rate": 1.0}

``envelope`` maps wire fields (JSON pointers) onto the lake envelope (``docs/lake.md``); ``personal`` marks
fields that are hashed (``hash``), dropped (``drop``) or reduced to their length (``length``); player and
session ids are always hashed. ``identifiers`` names what an id-like field identifies (:data:`IDENTIFIER_KINDS`),
which decides what each read tier sees of it (``docs/read-api.md``). ``event_id_from`` (optional) lists the
fields a missing event id is derived from (docs/requirements/gameplay.md#dedup: player, client_guid, seq); otherwise the whole canonical
event is used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from collections.abc import Callable

import fastjsonschema
import jsonschema
import pyarrow as pa

from ..errors import RegistryError, Rejection

ANNOTATION = "x-telemetry"
TIME_UNITS = ("epoch_ms", "epoch_s", "iso8601")
PERSONAL_ACTIONS = ("hash", "hash_each", "drop", "length")
SERVER_FILL_SOURCES = ("received_at", "default_version")
IDENTIFIER_KINDS = ("player", "session", "company", "content")
"""What an id-like field identifies (``x-telemetry.identifiers``): a person (``player``: never lands raw, so its
``personal`` action must be ``hash``, ``hash_each`` or ``drop``), a session, an organisation (``company``), or
game content such as a bill or a poll (``content``). The envelope's player and session ids are ``player`` and
``session`` without saying so; a ``hash``/``hash_each`` field with no kind is a ``player`` identifier."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT64_MAX = 1.7976931348623157e308
STORAGE_LIMITS = {"integer": (INT64_MIN, INT64_MAX), "number": (-FLOAT64_MAX, FLOAT64_MAX)}
"""What a lake column of each JSON type can hold (int64, float64): every typed integer and number declares
bounds inside these (``schemas check``), so a value the lake cannot store is rejected by the schema itself."""
ENVELOPE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("event_id", pa.string()),
    ("schema_version", pa.string()),
    ("occurred_at", pa.timestamp("us")),
    ("received_at", pa.timestamp("us")),
    ("batch_id", pa.string()),
    ("player_key", pa.string()),
    ("hash_key_id", pa.string()),
    ("session_id", pa.string()),
    ("sample_rate", pa.float64()),
    ("occurred_at_source", pa.string()),
    ("schema_version_source", pa.string()),
]
"""Envelope columns. ``occurred_at_source`` / ``schema_version_source``: ``event`` when the producer sent the
value, ``server`` when ingest filled it as the family declares (``server_fills``, docs/requirements/design.md#server-fills)."""
_MISSING = object()
_VERSION = re.compile(r"^[1-9][0-9]*\.(0|[1-9][0-9]*)$")


def snake_case(name: str) -> str:
    """``billId`` → ``bill_id``, ``HTTPCode`` → ``http_code``; already-snake names are unchanged."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.replace("-", "_").replace(".", "_").lower()


def resolve_pointer(document: Any, pointer: str) -> Any:
    """Value at RFC 6901 ``pointer`` in ``document``, or the module's missing sentinel."""
    if pointer == "":
        return document
    if pointer.count("/") == 1 and "~" not in pointer and isinstance(document, dict):
        return document.get(pointer[1:], _MISSING)
    node = document
    for token in pointer.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def is_missing(value: Any) -> bool:
    return value is _MISSING


def version_key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _to_int(value: Any) -> Any:
    """JSON integers may arrive as ``1.0`` or ``1e3``: hand pyarrow a Python int (out-of-range values still fail
    there, and the batch quarantines them as ``unconvertible_value``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def wire_version(value: Any) -> Any:
    """The registry version a wire version names: a number is read as ``major.minor`` (``1`` → ``"1.0"``,
    ``1.1`` → ``"1.1"``); anything else is returned as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{int(value)}.0" if float(value).is_integer() else str(value)
    return value


def json_type(prop: dict[str, Any]) -> str | None:
    """The one JSON type a property holds (``string``, ``integer``, ``number``, ``boolean``, ``object``,
    ``array``): its ``type`` (a nullable ``[T, "null"]`` counts as ``T``), else what its ``const`` or ``enum``
    values are; None for a union or an untyped property."""
    types = prop.get("type")
    if types is None and "const" in prop:
        types = {str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(prop["const"]))
    if types is None and "enum" in prop:
        kinds = {type(v) for v in prop["enum"]}
        types = "string" if kinds == {str} else ("integer" if kinds == {int} else None)
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        types = non_null[0] if len(non_null) == 1 else None
    return types


def _arrow_type(prop: dict[str, Any]) -> tuple[pa.DataType, Callable[[Any], Any] | None]:
    """Arrow type for a JSON Schema property and a converter for its JSON value (None = as is).

    Mapping (docs/lake.md): string→string, integer→int64, number→float64, boolean→bool, object with
    ``properties``→struct (snake_case fields), array→list, anything else (free-form object, unions)→JSON text.
    """
    types = json_type(prop)
    if types == "string":
        return pa.string(), None
    if types == "integer":
        return pa.int64(), _to_int
    if types == "number":
        return pa.float64(), float
    if types == "boolean":
        return pa.bool_(), None
    if types == "array" and isinstance(prop.get("items"), dict):
        item_type, item_conv = _arrow_type(prop["items"])
        if item_conv is None:
            return pa.list_(item_type), None
        return pa.list_(item_type), lambda values: [None if v is None else item_conv(v) for v in values]
    if types == "object" and prop.get("properties"):
        fields, convs = [], {}
        for name, sub in prop["properties"].items():
            sub_type, sub_conv = _arrow_type(sub)
            fields.append(pa.field(snake_case(name), sub_type))
            convs[name] = (snake_case(name), sub_conv)

        def to_struct(value: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for key, (col, conv) in convs.items():
                v = value.get(key)
                out[col] = v if (v is None or conv is None) else conv(v)
            return out

        return pa.struct(fields), to_struct
    return pa.string(), lambda value: json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PayloadColumn:
    """One typed payload column of a lake table.

    Attributes:
        name: lake column name (snake_case).
        pointer: JSON pointer of the wire field it comes from.
        arrow_type: Parquet/Arrow type.
        action: ``copy``, ``hash`` (keyed hash of the value) or ``length`` (length of a string).
        convert: value converter or None.
        description: from the schema, for dbt docs.
    """

    name: str
    pointer: str
    arrow_type: pa.DataType
    action: str
    convert: Callable[[Any], Any] | None
    description: str


@dataclass
class EventSchema:
    """One event type at one version, loaded from ``schemas/<family>/<type>/<version>.json``."""

    family: str
    event_type: str
    version: str
    path: Path
    document: dict[str, Any]
    family_route: dict[str, Any] = field(default_factory=dict)

    @property
    def schema_id(self) -> str:
        return self.document["$id"]

    @property
    def qualified_type(self) -> str:
        """Lake event type: ``<family>_<event_type>`` (docs/lake.md)."""
        return f"{self.family}_{self.event_type}"

    @property
    def annotation(self) -> dict[str, Any]:
        return self.document[ANNOTATION]

    @property
    def envelope(self) -> dict[str, Any]:
        return self.annotation["envelope"]

    @property
    def personal(self) -> dict[str, str]:
        return self.annotation.get("personal", {})

    @property
    def identifiers(self) -> dict[str, str]:
        """Pointer → kind (:data:`IDENTIFIER_KINDS`) as annotated in ``x-telemetry.identifiers``."""
        return self.annotation.get("identifiers", {})

    @cached_property
    def identifier_columns(self) -> dict[str, str]:
        """Lake column → identifier kind, for every column of this type that holds an identifier: the envelope's
        ``player_key`` and ``session_id``, annotated payload columns, and unannotated hashed ones (``player``)."""
        out = {"player_key": "player", "session_id": "session"}
        for column in self.payload_columns:
            kind = self.identifiers.get(column.pointer)
            if kind is None and column.action in ("hash", "hash_each"):
                kind = "player"
            if kind is not None:
                out[column.name] = kind
        return out

    @property
    def references(self) -> dict[str, dict[str, str]]:
        """Pointer → ``{"seed": <dbt seed name>, "column": <column>}``: the value must be one of the seed's
        values (e.g. politics ``/billId`` in the bills seed, docs/requirements/politics.md#anti-abuse); else ``unknown_reference``."""
        return self.annotation.get("references", {})

    @property
    def sample_rate(self) -> float:
        return float(self.annotation.get("sample_rate", 1.0))

    @cached_property
    def fast_validate(self) -> Callable[[Any], Any]:
        """fastjsonschema validator: raises on the first error (the fast path)."""
        return _compiled_validator(json.dumps(self.document, sort_keys=True))

    @cached_property
    def full_validator(self) -> jsonschema.Draft202012Validator:
        """jsonschema validator: used only on failure, to collect every error (slow path)."""
        return jsonschema.Draft202012Validator(self.document, format_checker=None)

    def rejection(self, instance: Any) -> Rejection | None:
        """Validate ``instance``; None when valid, else a ``schema_violation`` with every error."""
        try:
            self.fast_validate(instance)
            return None
        except fastjsonschema.JsonSchemaValueException as fast_error:
            errors = []
            for e in sorted(self.full_validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
                errors += _located(e)
            if not errors:  # the two validators disagree: trust the stricter one, keep its message
                errors = [("/" + "/".join(fast_error.path[1:]), str(fast_error.rule), fast_error.message)]
            return Rejection("schema_violation", errors, self.qualified_type, self.schema_id)

    @cached_property
    def envelope_pointers(self) -> set[str]:
        env = self.envelope
        pointers = {env["occurred_at"]["field"]}
        for key in ("event_id", "player_id", "session_id"):
            if key in env:
                pointers.add(env[key])
        return pointers

    @cached_property
    def payload_columns(self) -> list[PayloadColumn]:
        """Typed payload columns in schema property order, after routing and envelope fields."""
        columns = []
        routing = set()
        for pointer in (self.family_route.get("event_type"), self.family_route.get("schema_version")):
            if isinstance(pointer, str) and pointer.startswith("/"):
                routing.add(pointer)
        for name, prop in self.document.get("properties", {}).items():
            pointer = "/" + name
            if pointer in self.envelope_pointers or pointer in routing:
                continue
            action = self.personal.get(pointer, "copy")
            if action == "drop":
                continue
            description = prop.get("description", "")
            if action == "length":
                columns.append(PayloadColumn(snake_case(name) + "_length", pointer, pa.int64(), "length", None,
                                             f"Length in characters of `{name}` (the text itself never lands)."))
                continue
            arrow_type, convert = _arrow_type(prop)
            if action == "hash":
                arrow_type, convert = pa.string(), None
                description = f"{description} Keyed HMAC-SHA256 hash; raw value never lands.".strip()
            elif action == "hash_each":
                arrow_type, convert = pa.list_(pa.string()), None
                description = f"{description} Each element a keyed HMAC-SHA256 hash; raw values never land.".strip()
            columns.append(PayloadColumn(snake_case(name), pointer, arrow_type, action, convert, description))
        return columns

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """Columns of this type's Parquet files: the envelope, then the payload (docs/lake.md)."""
        fields = [pa.field(n, t) for n, t in ENVELOPE_FIELDS]
        fields += [pa.field(c.name, c.arrow_type) for c in self.payload_columns]
        return pa.schema(fields)


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _located(error: jsonschema.ValidationError) -> list[tuple[str, str, str]]:
    """``(pointer, keyword, message)`` rows of one validation error. A ``required`` error points at the missing
    member (``/ability_id``) and an ``additionalProperties`` error at each extra member (``/foo``), not at the
    object that holds them, so the quarantine says what is missing and what is extra (docs/sdks.md)."""
    where = _pointer(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        missing = [name for name in error.validator_value if isinstance(name, str) and name not in instance]
        if missing:  # jsonschema reports each missing member once; this error's own is named in its message
            name = next((n for n in missing if error.message.startswith(repr(n))), missing[0])
            return [(f"{where}/{_pointer([name])[1:]}", "required", error.message)]
    if error.validator == "additionalProperties" and error.validator_value is False and isinstance(instance, dict) \
            and isinstance(schema, dict) and not schema.get("patternProperties"):
        declared = schema.get("properties", {})
        extra = [name for name in instance if name not in declared]
        if extra:
            return [(f"{where}/{_pointer([name])[1:]}", "additionalProperties",
                     f"{name!r} is not a property of this schema (additionalProperties: false)") for name in extra]
    return [(where or "/", str(error.validator), error.message)]


@dataclass
class Family:
    """A family manifest (``_family.json``) and its schemas.

    Attributes:
        name: family name, e.g. ``recsys``.
        route: ``requires`` (keys a wire object must have to belong here: one list, or a list of alternative
            lists, any of which claims the object), ``event_type`` (pointer, or ``{"const": name}``) and
            ``schema_version`` (pointer).
        late_window_days: events older than as-of date minus this many days are ``too_late`` (docs/requirements/recsys.md#partitioning: 2).
        retention_days: retention per layer, from the family's seed.
        schemas: ``(event_type, version)`` → schema.
    """

    name: str
    manifest: dict[str, Any]
    schemas: dict[tuple[str, str], EventSchema] = field(default_factory=dict)

    @property
    def route(self) -> dict[str, Any]:
        return self.manifest["route"]

    @property
    def batch(self) -> dict[str, Any] | None:
        """Batch envelope rule (docs/requirements/learning.md#batch), or None: ``requires`` (keys that mark a batch line), ``events``
        (pointer to the array of events), ``max_events`` (larger batches are rejected whole as
        ``batch_too_large``), ``inherit`` (batch-level pointer → event key copied into each event that lacks it).
        """
        return self.manifest.get("batch")

    @property
    def late_window_days(self) -> int:
        return int(self.manifest.get("late_window_days", 2))

    @property
    def retention_days(self) -> dict[str, Any]:
        return self.manifest.get("retention_days", {})

    @cached_property
    def key_sets(self) -> tuple[frozenset[str], ...]:
        """The key sets that claim a wire object for this family (``route.requires``: one list of keys, or a list
        of alternative lists; e.g. gameplay: the docs/requirements/gameplay.md#dedup
        ``player_id``/``client_guid``/``seq``, or an SDK event's
        ``event_type``/``schema_version``/``ts_ms``, docs/sdks.md)."""
        requires = self.route.get("requires", [])
        if requires and all(isinstance(r, list) for r in requires):
            return tuple(frozenset(r) for r in requires)
        return (frozenset(requires),)

    @cached_property
    def _batch_requires(self) -> frozenset[str] | None:
        return frozenset(self.batch.get("requires", [])) if self.batch else None

    @property
    def server_fills(self) -> dict[str, str]:
        """Wire pointer → what the server fills there when the producer leaves it out (docs/requirements/design.md#server-fills):
        ``received_at`` (the event's arrival time, ISO 8601 UTC; docs/requirements/politics.md#ingestion "add createdAt") or
        ``default_version`` (the version constant of the type's :meth:`default_version` schema; docs/requirements/politics.md#ingestion
        "add metaVersion", docs/requirements/ability.md#wire-format and docs/requirements/learning.md#wire-format lines
        that carry no version)."""
        return self.manifest.get("server_fills", {})

    def default_version(self, event_type: str) -> str | None:
        """Version a line of ``event_type`` without a version is read as: ``default_version`` of the manifest,
        a string for every type or ``{"*": "1.0", "<type>": "2.0"}``; None when the family declares none."""
        declared = self.manifest.get("default_version")
        if isinstance(declared, dict):
            return declared.get(event_type, declared.get("*"))
        return declared

    @property
    def opt_out_field(self) -> str | None:
        """Top-level wire field that carries the producer's opt-out flag (docs/requirements/gameplay.md#privacy
        ``analytics_opt_out``): taken
        off the event before validation; ``true`` drops the event by policy (``opted_out``)."""
        rule = self.manifest.get("opt_out")
        return rule.get("field") if isinstance(rule, dict) else None

    @property
    def opt_out_keeps_counters(self) -> bool:
        """docs/requirements/ability.md#privacy: an opted-out player's summaries land without any player identity (``player_key`` and
        ``hash_key_id`` null), so per-player rows disappear while the per-entry numerator/denominator counters keep
        counting; other families drop the events (``opted_out``)."""
        rule = self.manifest.get("opt_out")
        return isinstance(rule, dict) and rule.get("per_player_rows") == "anonymize"

    @property
    def geoip_field(self) -> str | None:
        """Top-level wire pointer the collector fills with the country of the client's IP address when the producer
        leaves it out and the event's schema has it (``"geoip": {"field": "/region"}``; docs/requirements/gameplay.md "Store
        region/country derived from IP via GeoIP, but drop the original IP"); the address itself is never kept."""
        rule = self.manifest.get("geoip")
        return rule.get("field") if isinstance(rule, dict) else None

    @property
    def backpressure(self) -> dict[str, Any] | None:
        """What the collector degrades first under backpressure (docs/requirements/ability.md#registry): ``values`` (pointer to the metrics
        object), ``rates`` (pointer to the per-metric sample rates) and ``optional`` (a dbt seed, its key
        column, its boolean ``flag`` column and its ``default_rate`` column); None when the family declares none."""
        rule = self.manifest.get("backpressure")
        return rule if isinstance(rule, dict) else None

    @property
    def rate_limits(self) -> dict[str, dict[str, Any]]:
        """Event type → ``{"max_events": n, "window_seconds": s, "per": "player"}`` (docs/requirements/politics.md#anti-abuse)."""
        return self.manifest.get("rate_limits", {})

    def event_type_of(self, event: dict[str, Any]) -> str | None:
        """The registry event type a wire event names (None when missing or not a string)."""
        type_rule = self.route["event_type"]
        event_type = type_rule["const"] if isinstance(type_rule, dict) else resolve_pointer(event, type_rule)
        if not isinstance(event_type, str):
            return None
        return event_type.lower() if self.route.get("event_type_case") == "lower" else event_type

    def fill(self, event: dict[str, Any], received_iso: str) -> tuple[str, ...]:
        """Fill the declared server fields ``event`` lacks, in place; return the pointers filled.

        A value the producer sent is never replaced (an unknown version stays ``unknown_schema_version``).
        """
        filled = []
        for pointer, source in self.server_fills.items():
            key = pointer[1:]
            if key in event:
                continue
            if source == "received_at":
                event[key] = received_iso
            elif source == "default_version":
                event_type = self.event_type_of(event)
                schema = self.schemas.get((event_type, self.default_version(event_type) or "")) if event_type else None
                if schema is None:
                    continue  # resolve() rejects the line with the precise reason
                event[key] = schema.document["properties"][key]["const"]
            else:  # pragma: no cover - schemas check rejects unknown sources
                continue
            filled.append(pointer)
        return tuple(filled)

    def claims(self, event: dict[str, Any]) -> bool:
        keys = event.keys()
        return any(keys >= required for required in self.key_sets)

    def event_types(self) -> list[str]:
        return sorted({t for t, _ in self.schemas})

    def latest(self, event_type: str) -> EventSchema:
        """Newest version of ``event_type``: its columns are the lake table's columns."""
        versions = [s for (t, _), s in self.schemas.items() if t == event_type]
        return max(versions, key=lambda s: version_key(s.version))

    def resolve(self, event: dict[str, Any]) -> EventSchema:
        """Schema for a wire event of this family.

        Raises:
            Rejection: ``unknown_event_type`` or ``unknown_schema_version`` (never guessed, docs/requirements/design.md#registry).
        """
        type_rule = self.route["event_type"]
        event_type = type_rule["const"] if isinstance(type_rule, dict) else resolve_pointer(event, type_rule)
        if isinstance(event_type, str) and self.route.get("event_type_case") == "lower":
            event_type = event_type.lower()  # e.g. politics BILL_VOTE on the wire → bill_vote in the registry
        if not isinstance(event_type, str) or not any(t == event_type for t, _ in self.schemas):
            shown = "missing" if is_missing(event_type) else repr(event_type)
            raise Rejection("unknown_event_type",
                            [(type_rule if isinstance(type_rule, str) else "", "enum",
                              f"event type {shown} is not in the {self.name} registry")])
        version = wire_version(resolve_pointer(event, self.route["schema_version"]))
        schema = self.schemas.get((event_type, version)) if isinstance(version, str) else None
        if schema is None:
            shown = "missing" if is_missing(version) else repr(version)
            raise Rejection("unknown_schema_version",
                            [(self.route["schema_version"], "const",
                              f"{self.name} {event_type} has no version {shown} in the registry "
                              f"(known: {', '.join(sorted(v for t, v in self.schemas if t == event_type))})")],
                            event_type=f"{self.name}_{event_type}")
        return schema


class Registry:
    """All families under a ``schemas/`` root.

    Raises:
        RegistryError: on load, for an unreadable file, a missing annotation or a path/annotation mismatch.
    """

    def __init__(self, families: dict[str, Family], root: Path):
        self.families = families
        self.root = root

    @property
    def seeds_dir(self) -> Path:
        """Reference tables a schema's ``references`` name (``<seed>.csv``): the dbt ``seeds/`` folder beside
        the registry, so the warehouse and ingest check against the same lists."""
        return self.root.parent / "seeds"

    @classmethod
    def load(cls, root: Path) -> Registry:
        root = Path(root)
        if not root.is_dir():
            raise RegistryError(str(root), "schema registry folder not found")
        families: dict[str, Family] = {}
        for manifest_path in sorted(root.glob("*/_family.json")):
            manifest = _read_json(manifest_path)
            family = Family(manifest_path.parent.name, manifest)
            if manifest.get("family") != family.name:
                raise RegistryError(str(manifest_path), "'family' must equal the folder name")
            for path in sorted(manifest_path.parent.glob("*/*.json")):
                document = _read_json(path)
                note = document.get(ANNOTATION)
                if not isinstance(note, dict):
                    raise RegistryError(str(path), f"missing the '{ANNOTATION}' annotation")
                event_type, version = path.parent.name, path.stem
                if (note.get("family"), note.get("event_type"), note.get("version")) != (family.name, event_type, version):
                    raise RegistryError(str(path), f"'{ANNOTATION}' family/event_type/version must match the path")
                if not _VERSION.match(version):
                    raise RegistryError(str(path), "version must be MAJOR.MINOR, e.g. 1.0")
                family.schemas[(event_type, version)] = EventSchema(
                    family.name, event_type, version, path, document, family_route=manifest["route"])
            families[family.name] = family
        return cls(families, root)

    def schemas(self) -> list[EventSchema]:
        return [s for f in self.families.values() for s in f.schemas.values()]

    def batch_family(self, line: dict[str, Any]) -> Family | None:
        """The family whose batch envelope this wire object is, or None for a single event."""
        for family in self.families.values():
            required = family._batch_requires
            if required is not None and line.keys() >= required:
                return family
        return None

    def family_of(self, event: dict[str, Any]) -> Family:
        """First family (in name order) whose route claims ``event``.

        Raises:
            Rejection: ``unknown_event_type`` when no family claims it.
        """
        for family in self.families.values():
            if family.claims(event):
                return family
        raise Rejection("unknown_event_type", [("", "required", "no registered family matches this event's keys")])

    def resolve(self, event: dict[str, Any]) -> EventSchema:
        return self.family_of(event).resolve(event)

    def lake_types(self) -> dict[str, EventSchema]:
        """Qualified lake event type → newest schema (whose columns the lake table has)."""
        return {f"{f.name}_{t}": f.latest(t) for f in self.families.values() for t in f.event_types()}

    def rate_limits(self) -> dict[str, dict[str, Any]]:
        """Qualified lake event type → its per-player rate-limit rule (``max_events``, ``window_seconds``,
        ``per``), for the types a family manifest limits (docs/requirements/politics.md#anti-abuse)."""
        return {f"{f.name}_{t}": rule for f in self.families.values() for t, rule in f.rate_limits.items()}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RegistryError(str(path), f"cannot read JSON: {error}") from error
    if not isinstance(data, dict):
        raise RegistryError(str(path), "must hold a JSON object")
    return data


@lru_cache(maxsize=1024)
def _compiled_validator(document_json: str) -> Callable[[Any], Any]:
    """fastjsonschema's validator for one schema document (given as sorted JSON text), compiled once per
    process: compiling the 85 schemas takes ≈ 2 s, and every ``Registry.load`` of the same files reuses them."""
    return fastjsonschema.compile(json.loads(document_json))


@lru_cache(maxsize=1024)
def _metaschema_error(document_json: str) -> str | None:
    """The first draft 2020-12 metaschema error of one schema document (sorted JSON text), else None; checked
    once per process per document (≈ 40 ms each: the metaschema's ``$dynamicRef`` walk)."""
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(document_json))
    except jsonschema.SchemaError as error:
        return error.message
    return None


def check_registry(registry: Registry) -> list[str]:
    """Every problem in the registry, as ``<path>: <message>`` lines (empty = healthy).

    Checks: each schema is valid draft 2020-12 and strict (``additionalProperties: false``); ``$id`` values
    are unique; every example validates under both validators and routes back to its own schema; every
    envelope, routing, personal-data and identifier pointer names a real property; time units, actions and
    identifier kinds are known; a player or session identifier never lands raw.
    """
    problems: list[str] = []
    seen_ids: dict[str, Path] = {}
    for schema in registry.schemas():
        where = str(schema.path)
        doc = schema.document
        metaschema_error = _metaschema_error(json.dumps(doc, sort_keys=True))
        if metaschema_error is not None:
            problems.append(f"{where}: not a valid draft 2020-12 schema: {metaschema_error}")
            continue
        if doc.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problems.append(f"{where}: $schema must be https://json-schema.org/draft/2020-12/schema")
        if doc.get("additionalProperties") is not False:
            problems.append(f"{where}: must be strict (additionalProperties: false)")
        if "$id" not in doc:
            problems.append(f"{where}: missing $id")
        elif doc["$id"] in seen_ids:
            problems.append(f"{where}: $id {doc['$id']} already used by {seen_ids[doc['$id']]}")
        else:
            seen_ids[doc["$id"]] = schema.path
        properties = doc.get("properties", {})
        env = schema.envelope
        occurred = env.get("occurred_at", {})
        pointers = [("envelope.occurred_at", occurred.get("field"))]
        pointers += [(f"envelope.{k}", env[k]) for k in ("event_id", "player_id", "session_id") if k in env]
        pointers += [("envelope.event_id_from", p) for p in env.get("event_id_from", [])]
        pointers += [(f"personal {p}", p) for p in schema.personal]
        pointers += [(f"references {p}", p) for p in schema.references]
        pointers += [(f"identifiers {p}", p) for p in schema.identifiers]
        route = schema.family_route
        pointers += [(f"route.{k}", route[k]) for k in ("event_type", "schema_version") if isinstance(route.get(k), str)]
        for label, pointer in pointers:
            if not isinstance(pointer, str) or pointer.count("/") != 1 or pointer[1:] not in properties:
                problems.append(f"{where}: {label} points at {pointer!r}, which is not a top-level property")
        if occurred.get("unit") not in TIME_UNITS:
            problems.append(f"{where}: envelope.occurred_at.unit must be one of {', '.join(TIME_UNITS)}")
        for pointer, kind in schema.identifiers.items():
            if kind not in IDENTIFIER_KINDS:
                problems.append(f"{where}: identifiers {pointer} kind must be one of {', '.join(IDENTIFIER_KINDS)}")
            elif kind in ("player", "session") and pointer not in schema.envelope_pointers \
                    and schema.personal.get(pointer) not in ("hash", "hash_each", "drop"):
                problems.append(f"{where}: identifiers {pointer} is a {kind} id: its personal action must be hash, "
                                "hash_each or drop (a raw one would land)")
        for pointer, action in schema.personal.items():
            if action not in PERSONAL_ACTIONS:
                problems.append(f"{where}: personal {pointer} action must be one of {', '.join(PERSONAL_ACTIONS)}")
        for pointer, action in schema.personal.items():
            prop = properties.get(pointer[1:], {}) if isinstance(pointer, str) else {}
            if action == "hash_each" and not (prop.get("type") == "array" and isinstance(prop.get("items"), dict)
                                              and prop["items"].get("type") == "string"):
                problems.append(f"{where}: personal {pointer} hash_each needs an array of strings")
        for name, prop in properties.items():
            problems += [f"{where}: {message}" for message in storage_bound_problems(prop, "/" + name)]
        examples = doc.get("examples", [])
        if not examples:
            problems.append(f"{where}: has no examples")
        for index, example in enumerate(examples):
            rejection = schema.rejection(example)
            if rejection is not None:
                problems.append(f"{where}: examples[{index}] does not validate: {rejection}")
                continue
            try:
                resolved = registry.resolve(example)
            except Rejection as error:
                problems.append(f"{where}: examples[{index}] does not route: {error}")
                continue
            if resolved is not schema:
                problems.append(f"{where}: examples[{index}] routes to {resolved.path}")
    for family in registry.families.values():
        problems += family_problems(registry, family)
    return problems


def storage_bound_problems(prop: Any, pointer: str) -> list[str]:
    """Typed integers and numbers (top level, in objects with ``properties``, in array ``items``) without bounds
    the lake column can hold (int64 / float64, :data:`STORAGE_LIMITS`). Free-form objects land as JSON text and
    need none; ``const``/``enum`` values are bounded by themselves."""
    if not isinstance(prop, dict):
        return []
    problems = []
    kind = json_type(prop)
    if kind in STORAGE_LIMITS and "const" not in prop and "enum" not in prop:
        low, high = STORAGE_LIMITS[kind]
        lower = prop.get("minimum", prop.get("exclusiveMinimum"))
        upper = prop.get("maximum", prop.get("exclusiveMaximum"))
        if not isinstance(lower, (int, float)) or isinstance(lower, bool) or lower < low:
            problems.append(f"{pointer}: {kind} needs a minimum the lake column can hold (>= {low})")
        if not isinstance(upper, (int, float)) or isinstance(upper, bool) or upper > high:
            problems.append(f"{pointer}: {kind} needs a maximum the lake column can hold (<= {high})")
    if kind == "object" and isinstance(prop.get("properties"), dict):
        for name, sub in prop["properties"].items():
            problems += storage_bound_problems(sub, f"{pointer}/{name}")
    if kind == "array" and isinstance(prop.get("items"), dict):
        problems += storage_bound_problems(prop["items"], f"{pointer}/items")
    return problems


def family_problems(registry: Registry, family: Family) -> list[str]:
    """Checks of one family manifest: declared defaults name real schemas, server-filled pointers are fields of
    every schema, rate limits name real types, the sampling file is valid (``registry.sampling``)."""
    where = str(registry.root / family.name / "_family.json")
    problems = []
    declared = family.manifest.get("default_version")
    if declared is not None:
        if not isinstance(declared, (str, dict)):
            problems.append(f"{where}: default_version must be a version or a map of event type to version")
        elif isinstance(declared, dict):
            for event_type in declared:
                if event_type != "*" and event_type not in family.event_types():
                    problems.append(f"{where}: default_version names unknown event type {event_type!r}")
        if isinstance(declared, (str, dict)):
            for event_type in family.event_types():
                version = family.default_version(event_type)
                if version is None or (event_type, version) not in family.schemas:
                    problems.append(f"{where}: default_version of {event_type} is {version!r}, "
                                    f"which is not a schema in the registry")
    for pointer, source in family.server_fills.items():
        if source not in SERVER_FILL_SOURCES:
            problems.append(f"{where}: server_fills {pointer} source must be one of {', '.join(SERVER_FILL_SOURCES)}")
            continue
        if source == "default_version" and declared is None:
            problems.append(f"{where}: server_fills {pointer} uses default_version, which is not declared")
        if source == "default_version" and pointer != family.route.get("schema_version"):
            problems.append(f"{where}: server_fills {pointer}: default_version fills the route's schema_version field")
        for schema in family.schemas.values():
            prop = schema.document.get("properties", {}).get(pointer[1:] if isinstance(pointer, str) else "")
            if not isinstance(prop, dict):
                problems.append(f"{where}: server_fills {pointer} is not a property of {schema.path.name} of {schema.event_type}")
            elif source == "default_version" and "const" not in prop:
                problems.append(f"{where}: server_fills {pointer}: {schema.event_type} {schema.version} has no version const")
    geoip = family.manifest.get("geoip")
    if geoip is not None:
        field_ = geoip.get("field") if isinstance(geoip, dict) else None
        if not isinstance(field_, str) or field_.count("/") != 1:
            problems.append(f"{where}: geoip needs a top-level `field` pointer")
        elif not any(field_[1:] in s.document.get("properties", {}) for s in family.schemas.values()):
            problems.append(f"{where}: geoip field {field_} is a property of no schema of the family")
    if family.manifest.get("backpressure") is not None:
        from .sampling import optional_metrics

        try:
            optional_metrics(registry.seeds_dir, family)
        except RegistryError as error:
            problems.append(f"{where}: backpressure: {error}")
    opt_out = family.opt_out_field
    if opt_out is not None and any(opt_out in s.document.get("properties", {}) for s in family.schemas.values()):
        problems.append(f"{where}: opt_out field {opt_out!r} is consumed at the door and must not be a schema property")
    for event_type, rule in family.rate_limits.items():
        if event_type not in family.event_types():
            problems.append(f"{where}: rate_limits names unknown event type {event_type!r}")
        if not (isinstance(rule.get("max_events"), int) and rule["max_events"] > 0
                and isinstance(rule.get("window_seconds"), (int, float)) and rule["window_seconds"] > 0
                and rule.get("per", "player") == "player"):
            problems.append(f"{where}: rate_limits {event_type} needs max_events > 0, window_seconds > 0, per: player")
    if family.manifest.get("sampling") is not None:
        from .sampling import sampling_problems

        problems += sampling_problems(registry, family)
    return problems
