"""Compile registry schemas into DuckDB SQL checks over JSON text snippets (docs/requirements/design.md#columnar-ingest), and the
registry into the columnar plan the columnar ingest executes (:func:`columnar_plan`).

The columnar ingest extracts each top-level field of a line as a snippet of JSON text (DuckDB
``json_extract(line, [paths])::VARCHAR[]``: SQL NULL when the key is absent) and checks the snippets with
plain string and number functions, so each line is parsed once. A compiled check is a boolean SQL expression
that is **true only when the reference validator accepts the value** for the keywords the registry uses. It
may be stricter than the schema (the row then goes through the row-at-a-time path, which decides), never
looser:

- ``integer`` accepts integer literals that fit int64 (``2.0`` goes to the row path); ``number`` accepts
  those and finite decimal literals;
- bounds compare exactly: a float bound against an integer value, or an integer bound past 2**53 against a
  float value, is only trusted where both sides are exact doubles;
- ``pattern`` runs on RE2 (``regexp_matches``, a search like ``re.search``) and only for patterns whose
  syntax means the same in both engines on ASCII text (RE2's ``$`` is stricter than Python's);
- string lengths are byte lengths: the columnar path takes only ASCII lines without ``\\u`` escapes.

Object keywords of the top level (``required``, ``additionalProperties``) are decided per distinct key set in
Python by the columnar path; duplicate keys never reach these checks (the columnar path sends such lines to
the row path). A keyword outside :data:`SUPPORTED` raises :class:`Unsupported`; the schema is then not
compiled and all its events take the row path.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from dataclasses import dataclass
from typing import Any

import fastjsonschema

from ..errors import RegistryError
from .references import reference_values
from .schema import EventSchema, Family, Registry, json_type, snake_case

SUPPORTED = frozenset({
    "type", "const", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    "minProperties", "maxProperties",
    # annotations (no effect on validity; ``format`` is absent on purpose: fastjsonschema asserts it)
    "description", "title", "examples", "$schema", "$id", "x-telemetry", "default", "deprecated",
})
_SAFE_PATTERN = re.compile(r"^[\^\$A-Za-z0-9_\[\]\-\{\}\(\)\|\.\\?+*, :]*$")
EXACT = 2 ** 53
INT_RE = "^-?(0|[1-9][0-9]*)$"
NUMBER_RE = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?$"


class Unsupported(Exception):
    """A schema construct the compiler does not translate (its events take the row path)."""


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_path(key: str) -> str:
    """DuckDB JSON path of one object key (quoted, so any key name works)."""
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_int(e: str) -> str:
    """A JSON integer literal that fits int64. A snippet is one JSON value, so a number literal is the only
    kind ``try_cast`` reads as a BIGINT; one with a fraction or exponent is refused (the row path decides)."""
    return f"(try_cast({e} as BIGINT) is not null and not contains({e}, '.') and not contains({e}, 'e') and not contains({e}, 'E'))"


def is_number(e: str) -> str:
    """A finite JSON number (a string snippet starts with a quote, which ``try_cast`` refuses)."""
    return f"coalesce(isfinite(try_cast({e} as DOUBLE)), false)"


def is_string(e: str) -> str:
    return f"prefix({e}, '\"')"


def string_value(e: str) -> str:
    """The decoded string of a JSON string snippet."""
    return f"json_extract_string({e}, '$')"


_TYPES = {
    "string": is_string,
    "integer": is_int,
    "number": is_number,
    "boolean": lambda e: f"({e} in ('true', 'false'))",
    "object": lambda e: f"prefix({e}, '{{')",
    "array": lambda e: f"prefix({e}, '[')",
    "null": lambda e: f"({e} = 'null')",
}


def _literal(bound: float | int) -> str:
    return repr(float(bound)) if isinstance(bound, float) else str(int(bound))


def _size_checks(node: dict[str, Any], noun: str, size: str) -> list[str]:
    """``size >= minNoun`` and ``size <= maxNoun`` for the keywords of ``node`` present (``noun``: ``Length`` or
    ``Items``; ``size``: the SQL length of the value)."""
    return [f"{size} {op} {int(node[keyword])}"
            for keyword, op in ((f"min{noun}", ">="), (f"max{noun}", "<=")) if keyword in node]


def _bound_check(e: str, op: str, bound: Any) -> str:
    """``value <op> bound`` for a JSON number snippet ``e`` (already known to be a number), exact or false."""
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or (isinstance(bound, float) and not math.isfinite(bound)):
        raise Unsupported(f"bound {bound!r}")
    if isinstance(bound, int) or bound.is_integer():
        as_int = int(bound)
        if -(2 ** 63) <= as_int < 2 ** 63:
            int_check = f"(try_cast({e} as BIGINT) {op} {as_int})"
        else:  # beyond int64: every BIGINT compares the same way
            int_check = "true" if (op in ("<", "<=")) == (as_int > 0) else "false"
    else:
        int_check = f"(abs(try_cast({e} as BIGINT)) < {EXACT} and try_cast({e} as DOUBLE) {op} {_literal(bound)})"
    if isinstance(bound, float) or abs(bound) <= EXACT:
        double_check = f"(try_cast({e} as DOUBLE) {op} {_literal(float(bound))})"
    else:
        double_check = f"(abs(try_cast({e} as DOUBLE)) < {EXACT} and try_cast({e} as DOUBLE) {op} {_literal(float(bound))})"
    return f"coalesce(case when {is_int(e)} then {int_check} else {double_check} end, false)"


def compile_check(node: Any, e: str, depth: int = 0) -> str:
    """SQL boolean: the JSON snippet ``e`` (VARCHAR, never SQL NULL) satisfies ``node``.

    Raises:
        Unsupported: a keyword or value the compiler does not translate exactly.
    """
    if node is True or node == {}:
        return "true"
    if not isinstance(node, dict):
        raise Unsupported(f"schema node {node!r}")
    unknown = set(node) - SUPPORTED
    if unknown:
        raise Unsupported(f"keywords {sorted(unknown)}")
    parts: list[str] = []
    types = node.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if any(t not in _TYPES for t in names):
            raise Unsupported(f"type {types!r}")
        parts.append("(" + " or ".join(_TYPES[t](e) for t in names) + ")")
    if "const" in node:
        parts.append(_equals_any(e, [node["const"]]))
    if "enum" in node:
        parts.append(_equals_any(e, list(node["enum"])))
    string_parts = _size_checks(node, "Length", f"length({string_value(e)})")
    if "pattern" in node:
        pattern = node["pattern"]
        if not _SAFE_PATTERN.match(pattern) or re.search(r"\\[^.\-\[\]()|{}+*?^$\\]", pattern):
            raise Unsupported(f"pattern {pattern!r}")
        string_parts.append(f"regexp_matches({string_value(e)}, {sql_string(pattern)})")
    if string_parts:
        parts.append(f"(not {is_string(e)} or ({' and '.join(string_parts)}))")
    number_parts = [_bound_check(e, op, node[keyword])
                    for keyword, op in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"),
                                        ("exclusiveMaximum", "<")) if keyword in node]
    if number_parts:
        parts.append(f"(not {is_number(e)} or ({' and '.join(number_parts)}))")
    array_parts = _size_checks(node, "Items", f"json_array_length({e})")
    if "items" in node:
        if depth > 0:
            raise Unsupported("nested arrays")
        array_parts.append(_items_check(node["items"], e))
    if array_parts:
        parts.append(f"(not prefix({e}, '[') or ({' and '.join(array_parts)}))")
    object_keywords = {"properties", "required", "additionalProperties", "minProperties", "maxProperties"}
    if object_keywords & set(node):
        if depth > 0 or node.get("properties"):
            raise Unsupported("nested object with properties outside an array")
        parts.append(f"(not prefix({e}, '{{') or ({_free_object_check(node, e)}))")
    return "(" + (" and ".join(parts) if parts else "true") + ")"


def _all(values: str, node: dict[str, Any], var: str) -> str:
    """Every snippet of the VARCHAR[] ``values`` satisfies the scalar ``node``."""
    inner = compile_check(node, var, depth=1)
    return f"coalesce(list_bool_and(list_transform({values}, lambda {var}: {inner})), true)"


def _items_check(items: Any, e: str) -> str:
    """Every element of the JSON array snippet ``e`` satisfies ``items`` (scalars, or flat objects)."""
    if not isinstance(items, dict):
        raise Unsupported("items")
    if items.get("type") != "object":
        return _all(f"json_extract({e}, '$[*]')::VARCHAR[]", items, "i1")
    if set(items) - {"type", "properties", "required", "additionalProperties", "description", "title"}:
        raise Unsupported(f"item keywords {sorted(items)}")
    props: dict[str, Any] = items.get("properties", {})
    count = f"json_array_length({e})"
    parts = [f"coalesce(list_bool_and(list_transform(json_extract({e}, '$[*]')::VARCHAR[], lambda o: prefix(o, '{{'))), true)"]
    per_key = {}
    for name, sub in props.items():
        values = f"json_extract({e}, {sql_string('$[*].' + json_path(name)[2:])})::VARCHAR[]"
        per_key[name] = values
        if not isinstance(sub, dict) or sub.get("type") in ("object", "array") or "items" in sub or "properties" in sub:
            raise Unsupported("nested item property")
        check = _all(values, sub, "i1")
        if check != "coalesce(list_bool_and(list_transform(" + values + ", lambda i1: true)), true)":
            parts.append(check)
    for name in items.get("required", []):
        if name not in per_key:
            raise Unsupported("required item key without a property")
        parts.append(f"len({per_key[name]}) = {count}")
    extra = items.get("additionalProperties", True)
    if extra is False:
        total = " + ".join(f"len({v})" for v in per_key.values()) or "0"
        parts.append(f"len(json_extract({e}, '$[*].*')::VARCHAR[]) = {total}")
    elif extra is not True and extra != {}:
        raise Unsupported("item additionalProperties schema")
    return "(" + " and ".join(parts) + ")"


def _free_object_check(node: dict[str, Any], e: str) -> str:
    """A free-form object (no ``properties``): value types and key counts."""
    parts = []
    keys = f"json_keys({e})"
    if "minProperties" in node:
        parts.append(f"len({keys}) >= {int(node['minProperties'])}")
    if "maxProperties" in node:
        parts.append(f"len({keys}) <= {int(node['maxProperties'])}")
    if node.get("required"):
        raise Unsupported("required on a free-form object")
    extra = node.get("additionalProperties", True)
    if extra is False:
        parts.append(f"len({keys}) = 0")
    elif extra is not True and extra != {}:
        if not isinstance(extra, dict) or set(extra) - {"type", "description"}:
            raise Unsupported("additionalProperties schema")
        parts.append(_all(f"json_extract({e}, '$.*')::VARCHAR[]", extra, "v1"))
    return " and ".join(parts) or "true"


def _equals_any(e: str, allowed: list[Any]) -> str:
    """Snippet ``e`` equals one of ``allowed`` (strings, booleans, null, numbers below 2**53 in magnitude)."""
    options = []
    strings = [v for v in allowed if isinstance(v, str)]
    if strings:
        options.append(f"({is_string(e)} and {string_value(e)} in ({', '.join(sql_string(s) for s in strings)}))")
    for value in allowed:
        if isinstance(value, bool):
            options.append(f"({e} = '{str(value).lower()}')")
        elif value is None:
            options.append(f"({e} = 'null')")
        elif isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < EXACT:
            # both sides exact doubles: an integer literal only below 2**53 (beyond, Python compares exactly and
            # a double would not); a decimal literal parses to the same double in DuckDB and in the reference
            options.append(f"({is_number(e)} and (not {is_int(e)} or abs(try_cast({e} as BIGINT)) < {EXACT})"
                           f" and try_cast({e} as DOUBLE) = {_literal(float(value))})")
        elif not isinstance(value, str):
            raise Unsupported(f"const/enum value {value!r}")
    return "(" + (" or ".join(options) if options else "false") + ")"


TIME_TYPES = {"epoch_ms": ("integer",), "epoch_s": ("integer", "number"), "iso8601": ("string",)}
"""The JSON type an event time of each unit must be declared as for the columnar path to compile it."""
ISO_RE = ("^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
          "([.][0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
"""ISO 8601 times the columnar path reads itself: a subset ``datetime.fromisoformat`` reads the same way."""
MAX_REFERENCE_VALUES = 10_000
"""Reference tables up to this many values are inlined in the compiled check; larger ones take the row path."""
_MAX_EPOCH_S = 9_000_000_000_000  # seconds: times 10**6 still fits int64


def time_us_sql(unit: str, e: str) -> str:
    """SQL BIGINT: the event time in epoch microseconds of the snippet ``e``, exactly as the reference computes
    it (``int(value * 1000)`` for ``epoch_ms``, ``int(round(value * 10**6))`` for ``epoch_s``,
    ``datetime.fromisoformat`` for ``iso8601``), or NULL where that is not proven (the row path decides)."""
    if unit == "epoch_ms":
        return f"(case when {is_int(e)} and abs(try_cast({e} as BIGINT)) < {_MAX_EPOCH_S * 1000} then try_cast({e} as BIGINT) * 1000 end)"
    if unit == "epoch_s":
        # float × 10**6 in IEEE doubles, then round half to even: Python's round() on a float
        return (f"(case when {is_int(e)} then (case when abs(try_cast({e} as BIGINT)) < {_MAX_EPOCH_S} "
                f"then try_cast({e} as BIGINT) * 1000000 end) "
                f"when {is_number(e)} and abs(try_cast({e} as DOUBLE)) < {_MAX_EPOCH_S}.0 "
                f"then try_cast(round_even(try_cast({e} as DOUBLE) * 1000000.0, 0) as BIGINT) end)")
    if unit == "iso8601":
        s = string_value(e)
        # the wall time (an impossible date is NULL), the fraction padded to microseconds, minus the offset
        wall = f"epoch_us(try_cast(replace(substr({s}, 1, 19), 'T', ' ') as TIMESTAMP))"
        fraction = f"cast(rpad(regexp_extract({s}, '[.]([0-9]+)', 1), 6, '0') as BIGINT)"
        sign = f"(case substr({s}, -6, 1) when '+' then 1 when '-' then -1 else 0 end)"
        offset = (f"({sign} * (cast(substr({s}, -5, 2) as BIGINT) * 60 + cast(substr({s}, -2, 2) as BIGINT))"
                  " * 60000000)")
        return (f"(case when {is_string(e)} and regexp_full_match({s}, {sql_string(ISO_RE)}) "
                f"and not prefix({s}, '0000') then {wall} + {fraction} - (case when suffix({s}, 'Z') then 0 "
                f"else {offset} end) end)")
    raise Unsupported(f"time unit {unit}")


def column_sql(prop: dict[str, Any], e: str) -> str | None:
    """SQL for the lake column of a property from its snippet ``e`` (docs/lake.md mapping), or None for a
    JSON-text column (free-form object, unions), which the columnar path builds in Python."""
    types = json_type(prop)
    scalar = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}
    if types == "string":
        return f"(case when {is_string(e)} then {string_value(e)} end)"
    if types in scalar:
        return f"(case when {e} <> 'null' then try_cast({e} as {scalar[types]}) end)"
    if types == "array" and isinstance(prop.get("items"), dict):
        return f"from_json({e}, {sql_string('[' + _json_type(prop['items']) + ']')})"
    if types == "object" and prop.get("properties"):
        # struct fields land snake_cased (one level renamed here; deeper levels must already be snake case)
        parsed = f"from_json({e}, {sql_string(_json_type(prop))})"
        fields = []
        for name, sub in prop["properties"].items():
            _same_names(sub)
            fields.append(f"{_identifier(snake_case(name))} := struct_extract({parsed}, {sql_string(name)})")
        return f"(case when prefix({e}, '{{') then struct_pack({', '.join(fields)}) end)"
    return None


def _id_basis_part(e: str) -> str:
    """The JSON text orjson writes for the value of snippet ``e`` (NULL when absent: ``null``), or NULL."""
    return (f"(case when {e} is null or {e} = 'null' then 'null' "
            f"when ({is_string(e)} and not contains({e}, '\\')) or regexp_full_match({e}, '0|-?[1-9][0-9]*') "
            f"or {e} in ('true', 'false') then {e} end)")


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise Unsupported(f"struct field {name!r}")
    return f'"{name}"'


def _plain_keywords(node: Any) -> None:
    """Every keyword of ``node`` and its sub-schemas is one :data:`SUPPORTED` lists (no ``$ref``, ``format``,
    combinators), so fastjsonschema on the value decides exactly like the reference's validator."""
    if node is True or node == {}:
        return
    if not isinstance(node, dict) or set(node) - SUPPORTED:
        raise Unsupported(f"schema node {node!r}")
    for sub in node.get("properties", {}).values():
        _plain_keywords(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _plain_keywords(node[key])


def _json_type(prop: dict[str, Any]) -> str:
    types = prop.get("type")
    scalar = {"string": '"VARCHAR"', "integer": '"BIGINT"', "number": '"DOUBLE"', "boolean": '"BOOLEAN"'}
    if types in scalar:
        return scalar[types]
    if types == "array" and isinstance(prop.get("items"), dict):
        return "[" + _json_type(prop["items"]) + "]"
    if types == "object" and prop.get("properties"):
        return "{" + ", ".join(f'"{name}": {_json_type(sub)}' for name, sub in prop["properties"].items()) + "}"
    raise Unsupported(f"column type {types!r}")


@dataclass
class _Column:
    name: str
    kind: str  # typed | json_text | hash | hash_each | length
    sql: str


@dataclass
class CompiledSchema:
    """One schema the columnar path handles: the keys it extracts, its check and output expressions."""

    schema: EventSchema
    index: int
    paths: list[str]
    check: str
    event_id: str | None
    time_us: str
    """SQL of the event time in epoch microseconds, NULL where the columnar path cannot prove the reference's value."""
    player: str | None
    session: str | None
    columns: list[_Column]
    late_window_days: int
    required: frozenset[str]
    declared: frozenset[str]
    nested: list[tuple[str, Any]]
    either: tuple[frozenset[str], frozenset[str]] | None
    """``if: {not: {required: A}}, then: {required: B}``: a key set must hold all of A or all of B."""
    rate_limited: bool
    """A type with a per-player rate limit: the batch writer decides its events in input order."""
    id_basis: str | None
    """SQL of the text a derived event id hashes (``event_id_from``), NULL where it cannot match the reference's."""
    geoip: str | None
    """The top-level key the collector fills with the client's country when the event leaves it out."""


def _top(pointer: Any) -> str:
    if not isinstance(pointer, str) or not pointer.startswith("/") or pointer.count("/") != 1 or "~" in pointer:
        raise Unsupported(f"pointer {pointer!r}")
    return pointer[1:]


@dataclass
class FamilyRoute:
    name: str
    requires: tuple[frozenset[str], ...]
    type_const: str | None
    type_key: str | None
    lower: bool
    version_key: str
    fill_keys: frozenset[str]
    opt_out: str | None


class ColumnarPlan:
    """The registry compiled once: how a key set routes to a family and one compiled plan per schema (build it
    with :func:`columnar_plan`; the columnar ingest executes it).

    Attributes:
        schemas: the compiled schemas, ``index`` = position.
        by_route: ``(family, event_type, version)`` → its compiled schema.
        skipped: family name or schema id → why it is not compiled (its events take the row path).
    """

    def __init__(self, registry: Registry):
        self.schemas: list[CompiledSchema] = []
        self.by_route: dict[tuple[str, str, str], CompiledSchema] = {}
        self.skipped: dict[str, str] = {}
        self.seeds_dir = registry.seeds_dir
        self.envelope_requires = [frozenset(f._batch_requires or ()) for f in registry.families.values() if f.batch]
        self.families: list[FamilyRoute | None] = []
        self.family_requires: list[tuple[frozenset[str], ...]] = []
        rate_limited = set(registry.rate_limits())
        for family in registry.families.values():
            self.family_requires.append(family.key_sets)
            try:
                route = family.route
                type_rule = route["event_type"]
                self.families.append(FamilyRoute(
                    family.name, family.key_sets,
                    type_rule["const"] if isinstance(type_rule, dict) else None,
                    None if isinstance(type_rule, dict) else _top(type_rule),
                    route.get("event_type_case") == "lower", _top(route["schema_version"]),
                    frozenset(_top(p) for p in family.server_fills), family.opt_out_field))
            except Unsupported as why:
                self.families.append(None)
                self.skipped[family.name] = str(why)
                continue
            for schema in family.schemas.values():
                try:
                    compiled = self._compile(schema, family, rate_limited, len(self.schemas))
                except Unsupported as why:
                    self.skipped[schema.schema_id] = str(why)
                    continue
                self.schemas.append(compiled)
                self.by_route[(family.name, schema.event_type, schema.version)] = compiled

    def _compile(self, schema: EventSchema, family: Family, rate_limited: set[str], index: int) -> CompiledSchema:
        doc = schema.document
        if set(doc) - SUPPORTED - {"if", "then"} or doc.get("additionalProperties", True) is not False \
                or doc.get("type") != "object":
            raise Unsupported("top level must be a closed object")
        either = None
        if "if" in doc or "then" in doc:
            # only "without these keys, require those" (an id given, or the fields it derives from)
            unless, then = doc.get("if"), doc.get("then")
            if not (isinstance(unless, dict) and set(unless) == {"not"} and isinstance(unless["not"], dict)
                    and set(unless["not"]) == {"required"} and isinstance(then, dict) and set(then) == {"required"}):
                raise Unsupported("if/then")
            either = (frozenset(unless["not"]["required"]), frozenset(then["required"]))
        if set(doc) & {"minProperties", "maxProperties"}:
            raise Unsupported("top-level property counts")
        env = schema.envelope
        props = doc["properties"]
        time_key = _top(env["occurred_at"]["field"])
        unit = env["occurred_at"]["unit"]
        if props.get(time_key, {}).get("type") not in TIME_TYPES.get(unit, ()):
            raise Unsupported(f"event time of type {props.get(time_key, {}).get('type')!r} in {unit}")
        paths = list(props)
        value = {name: f"f{position + 1}" for position, name in enumerate(paths)}
        checks = []
        nested = []
        for name, sub in props.items():
            if isinstance(sub, dict) and (sub.get("type") in ("object", "array") or {"items", "properties"} & set(sub)):
                # arrays and objects: the reference's own validator on the parsed value (list lambdas in SQL
                # cost more than this); the value is a single property, so it decides exactly like the reference
                if sub.get("properties"):
                    _plain_keywords(sub)  # a struct column: column_sql below decides what it can carry
                else:
                    compile_check(sub, value[name])  # raises Unsupported for constructs the columns cannot carry
                nested.append((name, fastjsonschema.compile(sub)))
                continue
            check = compile_check(sub, value[name])
            if check != "(true)":
                checks.append(f"({value[name]} is null or {check})")
        for pointer, rule in schema.references.items():
            # a string in the seed's column, or absent or null (a number the reference compares as text: row path)
            try:
                allowed = sorted(reference_values(self.seeds_dir, rule))
            except RegistryError as error:  # the row path reports it, if such an event ever arrives
                raise Unsupported(f"reference table: {error}") from error
            if len(allowed) > MAX_REFERENCE_VALUES:
                raise Unsupported("reference table too large to inline")
            x = value[_top(pointer)]
            listed = ", ".join(sql_string(v) for v in allowed) or "null"
            checks.append(f"({x} is null or {x} = 'null' or ({is_string(x)} and {string_value(x)} in ({listed})))")
        columns = []
        for column in schema.payload_columns:
            x = value[_top(column.pointer)]
            if column.action == "hash":
                columns.append(_Column(column.name, "hash", x))
            elif column.action == "hash_each":  # a list of strings (the registry checks), each hashed
                columns.append(_Column(column.name, "hash_each", f"from_json({x}, '[\"VARCHAR\"]')"))
            elif column.action == "length":
                columns.append(_Column(column.name, "length", f"(case when {is_string(x)} then length({string_value(x)}) end)"))
            else:
                sql = column_sql(props[_top(column.pointer)], x)
                columns.append(_Column(column.name, "json_text", x) if sql is None else _Column(column.name, "typed", sql))
                if sql is not None and "from_json" in sql and json_type(props[_top(column.pointer)]) == "array":
                    _same_names(props[_top(column.pointer)])
        event_id = _top(env["event_id"]) if env.get("event_id") else None
        id_basis = None
        if env.get("event_id_from"):
            # the reference's derivation basis, orjson.dumps([family, [values]]), as text: strings without escapes,
            # integer literals orjson writes back the same, booleans, null or absent; else NULL (the row path)
            parts = [_id_basis_part(value[_top(pointer)]) for pointer in env["event_id_from"]]
            joined = " || ',' || ".join(parts)
            id_basis = f"({sql_string('[' + json.dumps(family.name) + ',[')} || {joined} || ']]')"
        return CompiledSchema(
            schema, index, paths, " and ".join(checks) or "true", value[event_id] if event_id else None,
            time_us_sql(unit, value[time_key]), value[_top(env["player_id"])] if env.get("player_id") else None,
            value[_top(env["session_id"])] if env.get("session_id") else None,
            columns, family.late_window_days, frozenset(doc.get("required", ())), frozenset(props), nested,
            either, schema.qualified_type in rate_limited, id_basis,
            _top(family.geoip_field) if family.geoip_field and _top(family.geoip_field) in props else None)

    def family_for(self, keys: frozenset[str]) -> FamilyRoute | None:
        """The family the reference routes an object with these keys to, when the columnar path can take it."""
        if any(keys >= required for required in self.envelope_requires):
            return None
        for key_sets, family in zip(self.family_requires, self.families):
            if any(keys >= required for required in key_sets):
                if family is None or (family.opt_out is not None and family.opt_out in keys) or not keys >= family.fill_keys:
                    return None
                return family
        return None


def _same_names(prop: dict[str, Any]) -> None:
    """Struct fields land snake_cased; the columnar path takes only those already in snake case."""
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        _same_names(prop["items"])
    for name, sub in prop.get("properties", {}).items():
        if snake_case(name) != name:
            raise Unsupported(f"struct field {name!r} renamed")
        _same_names(sub)


_PLANS: weakref.WeakKeyDictionary[Registry, ColumnarPlan] = weakref.WeakKeyDictionary()


def columnar_plan(registry: Registry) -> ColumnarPlan:
    """The columnar plan of ``registry``, compiled once per loaded registry (every later call returns it)."""
    plan = _PLANS.get(registry)
    if plan is None:
        plan = _PLANS[registry] = ColumnarPlan(registry)
    return plan
