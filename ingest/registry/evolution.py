"""Schema evolution check: classify every schema changed since a git revision (SchemaVer-style, seed 002).

An added optional property is a **minor** bump (``1.0`` → ``1.1``); any other change is **major**
(``1.1`` → ``2.0``). A published version is never edited in place (only descriptions, titles and examples may
change), and never deleted. The classification compares the two documents and also validates every example
of the previous version against the new one: a minor version must accept all old events.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ConfigError
from .schema import Registry, version_key

COSMETIC = {"description", "title", "examples", "$comment"}


def _strip(node: Any) -> Any:
    """The document without cosmetic keywords (descriptions, titles, examples), recursively."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in COSMETIC}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _without_identity(document: dict[str, Any]) -> dict[str, Any]:
    stripped = _strip(document)
    stripped.pop("$id", None)
    note = dict(stripped.get("x-telemetry", {}))
    note.pop("version", None)
    stripped["x-telemetry"] = note
    for name in ("schema_version", "metaVersion", "v"):  # the version's own const may move with the version
        prop = stripped.get("properties", {}).get(name)
        if isinstance(prop, dict) and "const" in prop:
            stripped["properties"][name] = {k: v for k, v in prop.items() if k != "const"}
    return stripped


def classify(previous: dict[str, Any], current: dict[str, Any]) -> tuple[str, list[str]]:
    """``("minor" | "major", reasons)`` for the step from ``previous`` to ``current``.

    Minor when the only differences are added properties that are not required, and every example of
    ``previous`` validates against ``current``.
    """
    old, new = _without_identity(previous), _without_identity(current)
    reasons: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
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
            const = current.get("properties", {}).get(name, {}).get("const") if isinstance(current.get("properties", {}).get(name), dict) else None
            if name in adjusted and const is not None:
                adjusted[name] = const
        errors = list(validator.iter_errors(adjusted))
        if errors:
            reasons.append(f"previous examples[{index}] is rejected: {errors[0].message}")
    if reasons:
        return "major", reasons
    return "minor", [f"added optional {', '.join(added)}"] if added else ["no structural change"]


@dataclass
class Finding:
    """One changed schema: what changed and whether its version bump is right."""

    path: str
    kind: str  # new-type | minor | major | edited-in-place | removed | cosmetic
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
