"""The registry is the only list of event types: the dbt macros the models iterate are generated from it, and
the stale check (`telemetry schemas sources --check`) notices when they fall behind."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ingest.registry import Registry
from ingest.registry.dbt_sources import stale_files

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "macros" / "generated" / "registry.sql"


def test_generated_macros_list_every_schema_with_its_category():
    """Read the schema files directly (not through the generator) and find each type and category in the file."""
    text = GENERATED.read_text()
    for path in sorted((ROOT / "schemas").glob("*/*/*.json")):
        annotation = json.loads(path.read_text())["x-telemetry"]
        family_block = re.search(r"'" + annotation["family"] + r"': \{(.*?)\n        \}", text, re.S)
        assert family_block, annotation["family"]
        category = annotation.get("category")
        expected = f"'{annotation['event_type']}': " + ("none" if category is None else f"'{category}'")
        assert expected in family_block.group(1), (path, expected)


def test_a_new_category_makes_the_generated_macros_stale(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    # the newest version's category is the type's (macros follow the lake table's schema)
    path = max((schemas / "gameplay" / "session_start").glob("*.json"),
               key=lambda p: tuple(int(n) for n in p.stem.split(".")))
    document = json.loads(path.read_text())
    document["x-telemetry"]["category"] = "onboarding"
    path.write_text(json.dumps(document))
    assert GENERATED in stale_files(Registry.load(schemas), ROOT)
    assert stale_files(Registry.load(ROOT / "schemas"), ROOT) == []


def test_no_model_or_macro_lists_event_types_by_hand():
    """Outside the generated file, no SQL names a list of two or more qualified lake types."""
    types = {f"{p.parts[-3]}_{p.parts[-2]}" for p in (ROOT / "schemas").glob("*/*/*.json")}
    for path in [*ROOT.glob("models/**/*.sql"), *ROOT.glob("macros/**/*.sql"), *ROOT.glob("tests/dbt/*.sql")]:
        if path == GENERATED:
            continue
        named = {t for t in types if re.search(r"['\"]" + t + r"['\"]", path.read_text())}
        assert len(named) < 2, (path, sorted(named))
