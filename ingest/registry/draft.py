"""Draft a schema from samples (genson), for a person to review before it joins the registry.

Used by ``telemetry schemas draft --from-quarantine EVENT_TYPE``: events quarantined as ``unknown_event_type``
are the samples; the draft follows the registry's conventions (draft 2020-12, strict objects, the family's
type and version constants, an ``x-telemetry`` annotation copied from a sibling schema of the family) so that,
once saved as ``schemas/<family>/<event_type>/1.0.json``, ``telemetry quarantine replay`` lands the samples.

For a known type whose events were quarantined as ``schema_violation`` (an SDK sending properties the type lacks),
:func:`draft_minor_version` proposes the next minor version: the newest version plus every extra top-level field
of the samples as an optional property (the only change a minor version may make, ``registry.evolution``). What a
minor version cannot fix (a missing required field, a wrong type) is listed for the producer to fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from genson import SchemaBuilder

from ..errors import RegistryError
from .schema import ANNOTATION, STORAGE_LIMITS, EventSchema, Family, Registry, version_key

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FIRST_VERSION = "1.0"


def _each_object(node: Any, visit: Callable[[dict[str, Any]], None]) -> Any:
    """Call ``visit`` on every dict inside ``node`` (a JSON Schema), depth first, parents before children."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _each_object(value, visit)
    elif isinstance(node, list):
        for value in node:
            _each_object(value, visit)
    return node


def _strict(node: Any) -> None:
    """``additionalProperties: false`` on every object node (the registry's rule), in place."""
    def close(schema: dict[str, Any]) -> None:
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    _each_object(node, close)


def _example(sample: dict[str, Any], annotation: dict[str, Any]) -> dict[str, Any]:
    """The first sample with its player and session ids replaced (a draft must not carry a real person's id)."""
    example = dict(sample)
    for role in ("player_id", "session_id"):
        pointer = annotation.get("envelope", {}).get(role)
        if isinstance(pointer, str) and pointer[1:] in example:
            example[pointer[1:]] = f"example-{role.split('_')[0]}"
    return example


def family_of_samples(registry: Registry, samples: list[dict[str, Any]]) -> Family:
    """The family whose route claims the first sample (families in name order).

    Raises:
        RegistryError: no family claims it.
    """
    for name in sorted(registry.families):
        family = registry.families[name]
        if samples and family.claims(samples[0]):
            return family
    raise RegistryError(str(registry.root), "no family's route claims the samples: pass --family")


def draft_schema(registry: Registry, event_type: str, samples: list[dict[str, Any]],
                 family: Family | None = None) -> dict[str, Any]:
    """A draft schema for ``event_type`` inferred from ``samples`` (wire events as producers sent them).

    Fields present in every sample are required; the family's type field becomes a constant and its version
    field the constant ``1.0`` (required, as in every registry schema; the server fills it when the family says
    so). The annotation is copied from the family's first schema: review its envelope and personal fields (and
    the identifier kinds kept for the fields the samples share with it).

    Raises:
        RegistryError: no samples, or no family for them.
    """
    if not samples:
        raise RegistryError(str(registry.root), f"no quarantined samples of {event_type!r}")
    family = family or family_of_samples(registry, samples)
    builder = SchemaBuilder(schema_uri=DRAFT_2020_12)
    for sample in samples:
        builder.add_object(sample)
    inferred = builder.to_schema()
    _strict(inferred)
    properties: dict[str, Any] = inferred.setdefault("properties", {})
    required: list[str] = inferred.setdefault("required", [])
    type_pointer, version_pointer = family.route["event_type"], family.route["schema_version"]
    if isinstance(type_pointer, str):
        wire_type = next((s.get(type_pointer[1:]) for s in samples if isinstance(s.get(type_pointer[1:]), str)),
                         event_type)
        properties[type_pointer[1:]] = {"const": wire_type, "description": f"Discriminator: {event_type}."}
    properties[version_pointer[1:]] = {"const": FIRST_VERSION, "description": "Registry version MAJOR.MINOR."}
    for pointer in (type_pointer, version_pointer):
        if isinstance(pointer, str) and pointer[1:] not in required:
            required.append(pointer[1:])
    sibling = family.schemas[sorted(family.schemas)[0]]
    annotation = copy.deepcopy(sibling.document[ANNOTATION])
    annotation.update({"family": family.name, "event_type": event_type, "version": FIRST_VERSION, "personal": {}})
    for key in ("references", "sample_rate_note", "category"):
        annotation.pop(key, None)
    annotation["identifiers"] = {pointer: kind for pointer, kind in annotation.get("identifiers", {}).items()
                                 if pointer[1:] in properties and kind not in ("player", "session")}
    annotation["sample_rate"] = 1.0
    document = {
        "$schema": DRAFT_2020_12,
        "$id": sibling.document.get("$id", "").rsplit("/", 3)[0] + f"/{event_type}/{FIRST_VERSION}.json",
        "title": f"{family.name} {event_type} {FIRST_VERSION}",
        "description": (f"DRAFT inferred from {len(samples)} quarantined sample(s): review types, required fields, "
                        "descriptions and personal data before adding it to the registry."),
        **{k: v for k, v in inferred.items() if k != "$schema"},
        "examples": [_example(samples[0], annotation)],
        ANNOTATION: annotation,
    }
    return document


def _bounded(node: Any) -> Any:
    """Storage bounds on every inferred integer and number (``schemas check`` asks for them), in place."""
    def bound(schema: dict[str, Any]) -> None:
        kind = schema.get("type")
        if isinstance(kind, str) and kind in STORAGE_LIMITS:
            low, high = STORAGE_LIMITS[kind]
            schema.setdefault("minimum", low)
            schema.setdefault("maximum", high)
    return _each_object(node, bound)


def draft_minor_version(schema: EventSchema, samples: list[dict[str, Any]]
                        ) -> tuple[dict[str, Any], list[tuple[str, str, int]]]:
    """The next minor version of ``schema`` (the type's newest version) accepting the samples' extra fields.

    Every top-level key of a sample that ``schema`` does not declare becomes an optional property, its type
    inferred from the samples (genson; integers and numbers bounded as the lake stores them). The version
    constant, ``$id``, title and annotation move to the new version; a sample that validates becomes an example.

    Returns:
        The draft, and what it still rejects: ``(pointer, keyword, samples)`` per problem a minor version cannot
        fix (a missing required field, a wrong type), for the producer to fix.

    Raises:
        RegistryError: no samples.
    """
    if not samples:
        raise RegistryError(str(schema.path), f"no samples of {schema.qualified_type} quarantined as schema_violation")
    major, minor = version_key(schema.version)
    new_version = f"{major}.{minor + 1}"
    document = copy.deepcopy(schema.document)
    properties: dict[str, Any] = document.setdefault("properties", {})
    extra = sorted({key for sample in samples for key in sample if key not in properties})
    for key in extra:
        builder = SchemaBuilder(schema_uri=DRAFT_2020_12)
        for sample in samples:
            if key in sample:
                builder.add_object(sample[key])
        inferred = {k: v for k, v in builder.to_schema().items() if k != "$schema"}
        _strict(inferred)
        properties[key] = _bounded({**inferred, "description": f"DRAFT: inferred from {len(samples)} sample(s)."})
    version_key_name = schema.family_route["schema_version"][1:]
    old_const = properties.get(version_key_name, {}).get("const")
    if old_const is not None:
        properties[version_key_name]["const"] = (float(new_version) if isinstance(old_const, (int, float))
                                                 else new_version)
    document["$id"] = document["$id"].rsplit("/", 1)[0] + f"/{new_version}.json"
    document["title"] = f"{schema.family} {schema.event_type} {new_version}"
    document["description"] = (document.get("description", "").rstrip() + f" DRAFT {new_version}: adds optional "
                               f"{', '.join(extra) or 'nothing'} (inferred from {len(samples)} quarantined "
                               "sample(s)): review types, descriptions and personal data.").strip()
    document[ANNOTATION] = {**document[ANNOTATION], "version": new_version}
    examples = []
    for example in document.get("examples", []):
        if version_key_name in example and old_const is not None:
            example = {**example, version_key_name: properties[version_key_name]["const"]}
        examples.append(example)
    draft = EventSchema(schema.family, schema.event_type, new_version, schema.path, document,
                        family_route=schema.family_route)
    left: dict[tuple[str, str], int] = {}
    for sample in samples:
        adjusted = {**sample, version_key_name: properties[version_key_name]["const"]} \
            if old_const is not None and version_key_name in sample else sample
        rejection = draft.rejection(adjusted)
        if rejection is None:
            if len(examples) == len(document.get("examples", [])):
                examples.append(_example(adjusted, document[ANNOTATION]))
            continue
        for pointer, keyword, _ in rejection.errors:
            left[(pointer, keyword)] = left.get((pointer, keyword), 0) + 1
    document["examples"] = examples
    return document, [(pointer, keyword, count) for (pointer, keyword), count in sorted(left.items())]
