"""The registry rules behind the seed conformance: declared server-filled defaults name real schemas, the
sampling file is validated, storage bounds are enforced and are not a semantic change for the evolution check."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from conformance_support import run_cli
from ingest.registry.evolution import classify

ROOT = Path(__file__).resolve().parents[2]


def copy_registry(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    return schemas


def check(schemas: Path):
    return run_cli("schemas", "check", "--schemas", str(schemas))


def test_a_declared_default_version_must_name_a_real_schema(tmp_path):
    schemas = copy_registry(tmp_path)
    manifest = schemas / "learning" / "_family.json"
    document = json.loads(manifest.read_text())
    document["default_version"] = {"*": "1.0", "mission_start": "9.9"}
    manifest.write_text(json.dumps(document))
    result = check(schemas)
    assert result.exit_code != 0
    assert "default_version of mission_start is '9.9', which is not a schema in the registry" in result.output


def test_the_sampling_file_is_validated(tmp_path):
    schemas = copy_registry(tmp_path)
    path = schemas / "sampling.yml"
    text = path.read_text()
    path.write_text(text.replace("xp_gain: {rate: 0.3}", "xp_gain: {rate: 1.5}")
                    .replace("field: /encounter_tier, in: [boss, elite]", "field: /no_such_field, in: [boss]", 1))
    result = check(schemas)
    assert result.exit_code != 0
    assert "gameplay.xp_gain: rate 1.5 must be in (0, 1]" in result.output
    assert "when field '/no_such_field' is not a top-level property" in result.output


def test_storage_bounds_equal_to_the_column_limits_are_not_a_semantic_change(registry):
    current = registry.families["recsys"].latest("click").document
    assert current["properties"]["dwell_ms"]["maximum"] == 2**63 - 1
    previous = copy.deepcopy(current)
    del previous["properties"]["dwell_ms"]["maximum"]  # the published version before bounds were declared
    assert classify(previous, current) == ("minor", ["no structural change"])
    tighter = copy.deepcopy(current)
    tighter["properties"]["dwell_ms"]["maximum"] = 10_000  # a real constraint: major
    assert classify(previous, tighter)[0] == "major"


def test_a_dropped_field_that_becomes_hashed_and_an_added_hashed_field_are_minor(registry):
    family = registry.families["politics"]
    old, new = family.schemas[("debate_result", "1.0")].document, family.schemas[("debate_result", "1.1")].document
    kind, reasons = classify(old, new)
    assert (kind, reasons) == ("minor", ["added optional participants"])
