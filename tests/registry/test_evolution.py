"""Schema evolution (`telemetry schemas check --against REV`): minor vs major, and wrong bumps fail."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.registry.evolution import check_evolution
from ingest.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def repo(tmp_path):
    """A git repository holding a copy of the registry, committed once."""
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    return tmp_path


def new_version(repo: Path, version: str, change) -> Path:
    base = repo / "schemas" / "recsys" / "click" / "1.0.json"
    document = json.loads(base.read_text())
    document["$id"] = document["$id"].replace("/1.0.json", f"/{version}.json")
    document["x-telemetry"]["version"] = version
    document["properties"]["schema_version"]["const"] = version
    for example in document["examples"]:
        example["schema_version"] = version
    change(document)
    target = base.with_name(f"{version}.json")
    target.write_text(json.dumps(document, indent=2))
    return target


def add_optional(document):
    document["properties"]["referrer"] = {"type": "string", "description": "Where the click came from."}


def add_required(document):
    add_optional(document)
    document["required"].append("referrer")
    document["examples"][0]["referrer"] = "home"


def findings(repo: Path):
    return {f.path: f for f in check_evolution(Registry.load(repo / "schemas"), "HEAD")}


def test_added_optional_field_is_a_minor_bump(repo):
    new_version(repo, "1.1", add_optional)
    finding = findings(repo)["recsys/click/1.1.json"]
    assert (finding.kind, finding.ok) == ("minor", True)


def test_minor_labelled_as_major_fails(repo):
    new_version(repo, "2.0", add_optional)
    finding = findings(repo)["recsys/click/2.0.json"]
    assert (finding.kind, finding.ok) == ("minor", False) and "expected version 1.1" in finding.message


def test_new_required_field_is_major(repo):
    new_version(repo, "1.1", add_required)
    finding = findings(repo)["recsys/click/1.1.json"]
    assert (finding.kind, finding.ok) == ("major", False) and "expected version 2.0" in finding.message
    shutil.move(repo / "schemas/recsys/click/1.1.json", repo / "schemas/recsys/click/2.0.json")
    doc = json.loads((repo / "schemas/recsys/click/2.0.json").read_text())
    doc["$id"] = doc["$id"].replace("1.1", "2.0")
    doc["x-telemetry"]["version"] = doc["properties"]["schema_version"]["const"] = doc["examples"][0]["schema_version"] = "2.0"
    (repo / "schemas/recsys/click/2.0.json").write_text(json.dumps(doc))
    assert findings(repo)["recsys/click/2.0.json"].ok


def test_narrowed_type_is_major_because_old_examples_fail(repo):
    def narrow(document):
        document["properties"]["engagement_type"] = {"enum": ["purchase"]}
    new_version(repo, "1.1", narrow)
    finding = findings(repo)["recsys/click/1.1.json"]
    assert finding.kind == "major" and "previous examples[0] is rejected" in finding.message


def test_editing_a_published_version_in_place_fails_but_descriptions_may_change(repo):
    path = repo / "schemas" / "recsys" / "click" / "1.0.json"
    document = json.loads(path.read_text())
    document["description"] = "Reworded."
    path.write_text(json.dumps(document))
    assert findings(repo)["recsys/click/1.0.json"].ok
    document["properties"]["dwell_ms"]["minimum"] = 10
    path.write_text(json.dumps(document))
    assert findings(repo)["recsys/click/1.0.json"].kind == "edited-in-place"
    assert not findings(repo)["recsys/click/1.0.json"].ok


def test_identifier_kinds_may_be_declared_in_place_but_not_weakened(repo):
    path = repo / "schemas" / "recsys" / "click" / "1.0.json"
    document = json.loads(path.read_text())
    document["x-telemetry"]["identifiers"] = {"/canonical_id": "company"}
    path.write_text(json.dumps(document))
    assert (findings(repo)["recsys/click/1.0.json"].kind, findings(repo)["recsys/click/1.0.json"].ok) == \
        ("identifiers", True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "kinds"], cwd=repo,
                   check=True)
    for weaker in ({"/canonical_id": "content"}, {}):
        document["x-telemetry"]["identifiers"] = weaker
        path.write_text(json.dumps(document))
        finding = findings(repo)["recsys/click/1.0.json"]
        assert (finding.kind, finding.ok) == ("identifiers", False) and "/canonical_id: company" in finding.message


def test_identifier_kinds_do_not_make_a_minor_version_major(repo):
    def declare(document):
        add_optional(document)
        document["x-telemetry"]["identifiers"] = {"/canonical_id": "content"}
    new_version(repo, "1.1", declare)
    assert (findings(repo)["recsys/click/1.1.json"].kind, findings(repo)["recsys/click/1.1.json"].ok) == ("minor", True)


def test_cli_fails_a_wrong_bump(repo):
    new_version(repo, "1.1", add_required)
    result = CliRunner().invoke(main, ["schemas", "check", "--schemas", str(repo / "schemas"), "--against", "HEAD"])
    assert result.exit_code == 1 and "FAIL recsys/click/1.1.json: major" in result.output


def test_minor_version_lands_in_the_same_partition_and_old_rows_read_null(repo, tmp_path):
    """A 1.1 event and a 1.0 event share `event_type=recsys_click`; the 1.0 row reads null for the new column."""
    import duckdb

    from datetime import datetime, timezone
    from ingest.lake import Lake
    from ingest.pipeline import IngestSettings, ingest_files

    schemas = repo / "schemas"
    old_registry = Registry.load(schemas)
    old_event = copy.deepcopy(old_registry.families["recsys"].latest("click").document["examples"][0])
    as_of = datetime(2024, 11, 24, 12, tzinfo=timezone.utc)
    lake = Lake(tmp_path / "lake")

    def run(registry, event, name):
        (tmp_path / name).write_text(json.dumps(event) + "\n")
        settings = IngestSettings(registry.root, b"k" * 16, "k", as_of)
        return ingest_files([tmp_path / name], settings, tmp_path, registry=registry).batches[0]

    assert run(old_registry, old_event, "old.jsonl").landed == 1
    new_version(repo, "1.1", add_optional)
    new_registry = Registry.load(schemas)
    new_event = {**old_event, "schema_version": "1.1", "referrer": "newsletter", "canonical_id": "item-99"}
    assert run(new_registry, new_event, "new.jsonl").landed == 1
    rows = duckdb.sql(f"select schema_version, referrer from read_parquet('{lake.root}/*/event_type=recsys_click/*/*.parquet', "
                      "hive_partitioning = true, union_by_name = true) order by schema_version").fetchall()
    assert rows == [("1.0", None), ("1.1", "newsletter")]
    assert len(list((lake.events / "event_type=recsys_click").glob("event_date=*"))) == 1


def require_canonical_id_only_without_event_id(document):
    document["required"].remove("canonical_id")
    document["if"] = {"not": {"required": ["event_id"]}}
    document["then"] = {"required": ["canonical_id"]}


def test_a_required_field_becoming_conditionally_required_is_a_minor_bump(repo):
    """Every event the previous version accepted has the field, so it satisfies the condition's `then` too."""
    new_version(repo, "1.1", require_canonical_id_only_without_event_id)
    finding = findings(repo)["recsys/click/1.1.json"]
    assert (finding.kind, finding.ok) == ("minor", True), finding.message


def test_a_required_field_becoming_optional_or_a_condition_requiring_a_new_field_is_major(repo):
    new_version(repo, "1.1", lambda d: d["required"].remove("canonical_id"))
    assert findings(repo)["recsys/click/1.1.json"].kind == "major"

    def requires_more(document):
        require_canonical_id_only_without_event_id(document)
        document["then"] = {"required": ["canonical_id", "position"]}  # position was optional before

    new_version(repo, "1.1", requires_more)
    assert findings(repo)["recsys/click/1.1.json"].kind == "major"


def test_an_envelope_role_naming_an_added_field_is_part_of_the_addition(repo):
    def add_trace_id(document):
        document["properties"]["trace_id"] = {"type": "string", "description": "Producer's trace id."}
        document["x-telemetry"]["envelope"]["trace"] = "/trace_id"

    new_version(repo, "1.1", add_trace_id)
    assert (findings(repo)["recsys/click/1.1.json"].kind, findings(repo)["recsys/click/1.1.json"].ok) == ("minor", True)

    def reuse_old_field(document):
        document["x-telemetry"]["envelope"]["trace"] = "/request_id"  # a field the previous version had

    new_version(repo, "1.1", reuse_old_field)
    assert findings(repo)["recsys/click/1.1.json"].kind == "major"
