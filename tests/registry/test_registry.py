"""The registry loads, checks itself, routes events, and keeps the generated dbt sources in step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.registry.dbt_sources import stale_files
from ingest.errors import RegistryError, Rejection
from ingest.registry import Registry, check_registry, snake_case

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_registry_is_healthy(registry):
    assert check_registry(registry) == []
    assert {s.qualified_type for s in registry.schemas()} >= {
        "recsys_request", "recsys_ranking", "recsys_impression", "recsys_click", "recsys_error"}


def test_generated_dbt_sources_are_not_stale(registry):
    assert stale_files(registry, ROOT) == [], "run `telemetry schemas sources` and commit the result"


def copy_registry(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", target)
    return target


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update(additionalProperties=True), "must be strict"),
    (lambda d: d["examples"][0].update(k=0), "examples[0] does not validate"),
    (lambda d: d["x-telemetry"]["envelope"].update(player_id="/uid"), "envelope.player_id points at '/uid'"),
    (lambda d: d["x-telemetry"]["personal"].update({"/nope": "hash"}), "personal /nope points at '/nope'"),
    (lambda d: d.update(properties={**d["properties"], "k": {"type": "banana"}}), "not a valid draft 2020-12 schema"),
    (lambda d: d.update(examples=[]), "has no examples"),
    (lambda d: d["x-telemetry"].update(identifiers={"/nope": "content"}), "identifiers /nope points at '/nope'"),
    (lambda d: d["x-telemetry"].update(identifiers={"/request_id": "banana"}), "kind must be one of"),
    (lambda d: d["x-telemetry"].update(identifiers={"/request_id": "player"}), "a raw one would land"),
])
def test_check_reports_each_kind_of_problem(tmp_path, change, expected):
    root = copy_registry(tmp_path)
    edit(root / "recsys" / "request" / "1.0.json", change)
    problems = check_registry(Registry.load(root))
    assert any(expected in p for p in problems), problems


def test_duplicate_ids_are_reported(tmp_path):
    root = copy_registry(tmp_path)
    click_id = json.loads((root / "recsys" / "click" / "1.0.json").read_text())["$id"]
    edit(root / "recsys" / "request" / "1.0.json", lambda d: d.update({"$id": click_id}))
    assert any("already used" in p for p in check_registry(Registry.load(root)))


def test_path_and_annotation_must_agree(tmp_path):
    root = copy_registry(tmp_path)
    edit(root / "recsys" / "request" / "1.0.json", lambda d: d["x-telemetry"].update(version="2.0"))
    with pytest.raises(RegistryError, match="must match the path"):
        Registry.load(root)


def test_routing_never_guesses_a_version(registry):
    event = dict(registry.families["recsys"].latest("click").document["examples"][0])
    assert registry.resolve(event).schema_id.endswith("click/1.0.json")
    with pytest.raises(Rejection) as caught:
        registry.resolve({**event, "schema_version": "1.1"})
    assert caught.value.reason == "unknown_schema_version"


def test_lake_columns_follow_the_type_mapping(registry):
    ranking = registry.families["recsys"].latest("ranking").arrow_schema
    assert ranking.field("latency_ms").type == pa.float64()
    assert ranking.field("catalog_size").type == pa.int64()
    item = pa.struct([("canonical_id", pa.string()), ("position", pa.int64()), ("score", pa.float64())])
    assert ranking.field("items").type == pa.list_(item)
    assert ranking.field("occurred_at").type == pa.timestamp("us")
    request = registry.families["recsys"].latest("request").arrow_schema
    assert request.field("filters").type == pa.string()  # free-form object → JSON text
    assert "user_id" not in request.names and "player_key" in request.names


@pytest.mark.parametrize("wire, lake", [("billId", "bill_id"), ("seatWeight", "seat_weight"), ("request_id", "request_id"),
                                        ("HTTPCode", "http_code"), ("phaseFrom", "phase_from")])
def test_snake_case(wire, lake):
    assert snake_case(wire) == lake
