"""Draft a schema from samples (genson), for a person to review before it joins the registry.

Used by ``telemetry schemas draft --from-quarantine EVENT_TYPE``: events quarantined as ``unknown_event_type``
are the samples; the draft follows the registry's conventions (draft 2020-12, strict objects, the family's
type and version constants, an ``x-telemetry`` annotation copied from a sibling schema of the family) so that,
once saved as ``schemas/<family>/<event_type>/1.0.json``, ``telemetry quarantine replay`` lands the samples.
"""

from __future__ import annotations

import copy
from typing import Any

from genson import SchemaBuilder

from ..errors import RegistryError
from .schema import ANNOTATION, Family, Registry

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FIRST_VERSION = "1.0"


def _strict(node: Any) -> None:
    """``additionalProperties: false`` on every object node (the registry's rule), in place."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


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
