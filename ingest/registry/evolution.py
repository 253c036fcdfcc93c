"""Schema evolution check: classify every schema changed since a git revision (SchemaVer-style,
docs/requirements/gameplay.md#schema-evolution).

An added optional property is a **minor** bump (``1.0`` → ``1.1``); any other change is **major**
(``1.1`` → ``2.0``). A published version is never edited in place (only descriptions, titles and examples may
change, and storage bounds may be declared, see below), and never deleted.

**Storage bounds are not a semantic change.** A ``minimum``/``maximum`` equal to the limit of the field's lake
column type (int64 for integers, float64 for numbers: :data:`~ingest.registry.schema.STORAGE_LIMITS`) only
states what the lake could always hold: a value beyond it could never land (the writer failed on it), so
declaring the bound accepts and rejects exactly the events that could and could not land before. Such bounds
are ignored when comparing versions, so declaring them in place is allowed (``storage-bounds``).

**Privacy actions of added fields are part of the addition.** ``x-telemetry.personal`` entries for properties
added in the new version, and a ``drop`` that becomes ``hash_each``/``hash``/``length`` (a new hashed column, the
wire contract unchanged), keep a change minor. The classification compares the two documents and also validates every example
of the previous version against the new one: a minor version must accept all old events.

**A required property may become conditionally required.** A minor version may move required properties into
one ``if``/``then`` whose ``then`` only requires some of them (gameplay 1.1: ``client_guid`` and ``seq`` are
required when ``event_id`` is absent, docs/sdks.md): every event the previous version accepted has them all, so
the new version accepts it too. Making a required property simply optional stays major.

**Envelope roles of added fields are part of the addition.** An ``x-telemetry.envelope`` role the previous
version lacked (e.g. ``event_id``) that names a property added in the new version keeps a change minor.

**Identifier kinds only steer reads.** ``x-telemetry.identifiers`` changes neither what is accepted nor what lands
(it decides what each read tier is shown, ``docs/read-api.md``), so it is left out of every comparison and may
be declared on a published version in place (``identifiers``) — but a field once declared an identifier stays
one: dropping or weakening its kind in place is refused, as it would show it to more readers.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ConfigError
from .schema import STORAGE_LIMITS, Registry, version_key

COSMETIC = {"description", "title", "examples", "$comment"}
READ_ONLY_ANNOTATIONS = ("identifiers",)  # x-telemetry keys that change what readers see, not what lands
IDENTIFIER_STRENGTH = {"content": 0, "company": 1, "session": 2, "player": 2}  # how much each kind hides
WIDENING_ACTIONS = {"hash", "hash_each", "length"}  # what a dropped field may become in a minor version


def _without_storage_bounds(node: Any) -> Any:
    """The document without bounds that equal their column type's storage limits (see the module docstring)."""
    if isinstance(node, list):
        return [_without_storage_bounds(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_storage_bounds(v) for k, v in node.items()}
    kind = node.get("type")
    if isinstance(kind, list):
        non_null = [t for t in kind if t != "null"]
        kind = non_null[0] if len(non_null) == 1 else None
    if isinstance(kind, str) and kind in STORAGE_LIMITS:
        low, high = STORAGE_LIMITS[kind]
        if out.get("minimum") == low and not isinstance(out.get("minimum"), bool):
            out.pop("minimum")
        if out.get("maximum") == high and not isinstance(out.get("maximum"), bool):
            out.pop("maximum")
    return out


def _strip(node: Any) -> Any:
    """The document without cosmetic keywords (descriptions, titles, examples), recursively."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in COSMETIC}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _without_identity(document: dict[str, Any]) -> dict[str, Any]:
    stripped = _strip(_without_storage_bounds(document))
    stripped.pop("$id", None)
    note = dict(stripped.get("x-telemetry", {}))
    note.pop("version", None)
    for key in READ_ONLY_ANNOTATIONS:
        note.pop(key, None)
    stripped["x-telemetry"] = note
    for name in ("schema_version", "metaVersion", "v"):  # the version's own const may move with the version
        prop = stripped.get("properties", {}).get(name)
        if isinstance(prop, dict) and "const" in prop:
            stripped["properties"][name] = {k: v for k, v in prop.items() if k != "const"}
    return stripped


def _without_read_annotations(document: dict[str, Any]) -> dict[str, Any]:
    note = {k: v for k, v in document.get("x-telemetry", {}).items() if k not in READ_ONLY_ANNOTATIONS}
    return {**document, "x-telemetry": note}


def weakened_identifiers(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Identifier annotations of ``previous`` that ``current`` drops or gives a kind that hides less."""
    old = previous.get("x-telemetry", {}).get("identifiers", {})
    new = current.get("x-telemetry", {}).get("identifiers", {})
    out = []
    for pointer, kind in sorted(old.items()):
        now = new.get(pointer)
        if now is None or IDENTIFIER_STRENGTH.get(now, 0) < IDENTIFIER_STRENGTH.get(kind, 0) \
                or (now != kind and IDENTIFIER_STRENGTH.get(now) == IDENTIFIER_STRENGTH.get(kind)):
            out.append(f"{pointer}: {kind} → {now or 'not an identifier'}")
    return out


def classify(previous: dict[str, Any], current: dict[str, Any]) -> tuple[str, list[str]]:
    """``("minor" | "major", reasons)`` for the step from ``previous`` to ``current``.

    Minor when the only differences are added properties that are not required, and every example of
    ``previous`` validates against ``current``.
    """
    old, new = _without_identity(previous), _without_identity(current)
    reasons: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_personal = dict(old.get("x-telemetry", {}).get("personal", {}))
    new_personal = dict(new.get("x-telemetry", {}).get("personal", {}))
    for pointer, action in list(new_personal.items()):
        added_field = pointer[1:] in new_props and pointer[1:] not in old_props
        widened = old_personal.get(pointer) == "drop" and action in WIDENING_ACTIONS
        if added_field or widened:
            new_personal.pop(pointer)
            old_personal.pop(pointer, None)
    old["x-telemetry"] = {**old.get("x-telemetry", {}), "personal": old_personal}
    new["x-telemetry"] = {**new.get("x-telemetry", {}), "personal": new_personal}
    old_envelope = old["x-telemetry"].get("envelope", {})
    new_envelope = dict(new["x-telemetry"].get("envelope", {}))
    for role, pointer in list(new_envelope.items()):
        if role not in old_envelope and isinstance(pointer, str) and pointer[1:] in new_props \
                and pointer[1:] not in old_props:
            new_envelope.pop(role)
    if "envelope" in new["x-telemetry"]:
        new["x-telemetry"]["envelope"] = new_envelope
    relaxed = set(old.get("required", [])) - set(new.get("required", []))
    conditional = _conditionally_required(old, new)
    if conditional is not None and conditional <= relaxed:
        new = {k: v for k, v in new.items() if k not in ("if", "then")}
        new["required"] = sorted(set(new.get("required", [])) | conditional)
        old = {**old, "required": sorted(old.get("required", []))}
        reasons_minor = [f"{', '.join(sorted(conditional))} required only under a condition"]
    else:
        reasons_minor = []
    for name, prop in old_props.items():
        if name not in new_props:
            reasons.append(f"property {name!r} removed")
        elif new_props[name] != prop:
            reasons.append(f"property {name!r} changed")
    added = sorted(set(new_props) - set(old_props))
    newly_required = sorted(set(new.get("required", [])) - set(old.get("required", [])))
    if newly_required:
        reasons.append(f"newly required: {', '.join(newly_required)}")
    if set(old.get("required", [])) - set(new.get("required", [])):
        reasons.append("a required property became optional")
    for keyword in sorted((set(old) | set(new)) - {"properties", "required"}):
        if old.get(keyword) != new.get(keyword):
            reasons.append(f"keyword {keyword!r} changed")
    validator = jsonschema.Draft202012Validator(current)
    for index, example in enumerate(previous.get("examples", [])):
        adjusted = dict(example)
        for name in ("schema_version", "metaVersion", "v"):
            current_prop = current.get("properties", {}).get(name)
            const = current_prop.get("const") if isinstance(current_prop, dict) else None
            if name in adjusted and const is not None:
                adjusted[name] = const
        errors = list(validator.iter_errors(adjusted))
        if errors:
            reasons.append(f"previous examples[{index}] is rejected: {errors[0].message}")
    if reasons:
        return "major", reasons
    notes = ([f"added optional {', '.join(added)}"] if added else []) + reasons_minor
    return "minor", notes or ["no structural change"]


def _conditionally_required(old: dict[str, Any], new: dict[str, Any]) -> set[str] | None:
    """The properties ``new`` requires only through an added ``if``/``then`` (``then`` = ``{"required": [...]}``,
    no ``else``), or None when ``new`` has no such conditional."""
    if "if" in old or "then" in old or "else" in new or "if" not in new:
        return None
    then = new.get("then")
    if not isinstance(then, dict) or set(then) != {"required"} or not isinstance(then["required"], list):
        return None
    return set(then["required"])


@dataclass
class Finding:
    """One changed schema: what changed and whether its version bump is right."""

    path: str
    kind: str  # new-type | minor | major | edited-in-place | removed | cosmetic | storage-bounds | identifiers
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.path}: {self.kind}: {self.message}"


def _git(cwd: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise ConfigError(f"git {' '.join(args)} failed: {detail.strip()}") from error


def documents_at(schemas_root: Path, revision: str) -> dict[str, dict[str, Any]]:
    """Schema documents at ``revision``: path relative to ``schemas_root`` → JSON.

    Raises:
        ConfigError: not a git checkout, or an unknown revision.
    """
    top = Path(_git(schemas_root, "rev-parse", "--show-toplevel").strip())
    prefix = Path(schemas_root).resolve().relative_to(top.resolve()).as_posix()
    _git(top, "rev-parse", "--verify", f"{revision}^{{commit}}")
    names = _git(top, "ls-tree", "-r", "--name-only", revision, "--", prefix).splitlines()
    out = {}
    for name in names:
        rel = name[len(prefix) + 1:]
        if rel.count("/") == 2 and rel.endswith(".json"):
            out[rel] = json.loads(_git(top, "show", f"{revision}:{name}"))
    return out


def check_evolution(registry: Registry, revision: str) -> list[Finding]:
    """Classify every schema added, changed or removed since ``revision``; ``ok`` is False for a wrong bump."""
    before = documents_at(registry.root, revision)
    now = {f"{s.family}/{s.event_type}/{s.version}.json": s for s in registry.schemas()}
    findings: list[Finding] = []
    for rel in sorted(set(before) - set(now)):
        findings.append(Finding(rel, "removed", False, "a published version was deleted"))
    for rel, schema in sorted(now.items()):
        if rel in before:
            if before[rel] == schema.document:
                continue
            if _strip(before[rel]) == _strip(schema.document):
                findings.append(Finding(rel, "cosmetic", True, "descriptions/examples only"))
            elif _strip(_without_read_annotations(before[rel])) == _strip(_without_read_annotations(schema.document)):
                weakened = weakened_identifiers(before[rel], schema.document)
                findings.append(Finding(rel, "identifiers", not weakened,
                                        "declares identifier kinds (what readers are shown; nothing lands differently)"
                                        if not weakened else "an identifier annotation was weakened in place: "
                                        + "; ".join(weakened)))
            elif _strip(_without_storage_bounds(before[rel])) == _strip(_without_storage_bounds(schema.document)):
                findings.append(Finding(rel, "storage-bounds", True,
                                        "declares bounds equal to its column types' storage limits (no semantic change)"))
            else:
                findings.append(Finding(rel, "edited-in-place", False,
                                        "a published version changed; publish a new version instead"))
            continue
        family = registry.families[schema.family]
        older = [s for (t, v), s in family.schemas.items() if t == schema.event_type
                 and version_key(v) < version_key(schema.version)]
        if not older:
            findings.append(Finding(rel, "new-type", True, "first version of a new event type"))
            continue
        previous = max(older, key=lambda s: version_key(s.version))
        kind, reasons = classify(previous.document, schema.document)
        major, minor = version_key(previous.version)
        expected = f"{major}.{minor + 1}" if kind == "minor" else f"{major + 1}.0"
        ok = schema.version == expected
        message = f"from {previous.version}: {'; '.join(reasons)}; expected version {expected}"
        findings.append(Finding(rel, kind, ok, message if ok else message + f", got {schema.version}"))
    return findings
