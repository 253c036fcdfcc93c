"""Unknown SDK event names: quarantined unknown_event_type, a drafted schema (genson) accepts the samples, and
replay with the draft in the registry lands them."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import jsonschema
from click.testing import CliRunner

from collector_support import bearer, quarantine_reasons
from support import ROOT


def test_draft_from_quarantine_then_replay_lands(client, tokens, tmp_path):
    from ingest.cli.main import main

    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    batch = {"batch": [{"type": "track", "event": "Level Up", "userId": f"user-{i}", "messageId": f"m-{i}",
                        "timestamp": now, "properties": {"level": i + 2, "zone": "north", **({"boss": True} if i else {})}}
                       for i in range(3)]}
    assert client.post("/v1/batch", json=batch, headers=bearer(tokens.ingest_only)).status_code == 200
    client.app.state.collector.land_own(rotate=True)
    data_dir = tmp_path / "data"
    assert quarantine_reasons(data_dir) == ["unknown_event_type"] * 3

    result = CliRunner().invoke(main, ["schemas", "draft", "--from-quarantine", "level_up", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    draft = json.loads(result.stdout)
    assert draft["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert draft["x-telemetry"]["family"] == "politics" and draft["x-telemetry"]["event_type"] == "level_up"
    assert draft["additionalProperties"] is False
    assert draft["x-telemetry"]["identifiers"] == {}  # the sibling's kinds name fields the samples do not have
    assert draft["properties"]["level"] == {"type": "integer"} and draft["properties"]["boss"] == {"type": "boolean"}
    assert {"type", "metaVersion", "level", "zone", "userId"} <= set(draft["required"])
    assert "boss" not in draft["required"]  # absent from one sample
    assert "user-0" not in json.dumps(draft)  # no real id in the example
    for item in batch["batch"]:
        wire = {"type": "LEVEL_UP", "metaVersion": "1.0", "createdAt": now, "userId": item["userId"],
                "eventId": item["messageId"], **item["properties"]}
        jsonschema.validate(wire, draft)
    assert CliRunner().invoke(main, ["schemas", "draft", "--from-quarantine", "nothing_here",
                                     "--data-dir", str(data_dir)]).exit_code == 2

    registry_copy = tmp_path / "registry"
    shutil.copytree(ROOT / "schemas", registry_copy / "schemas")
    (registry_copy / "seeds").symlink_to(ROOT / "seeds")
    target = registry_copy / "schemas" / "politics" / "level_up" / "1.0.json"
    target.parent.mkdir()
    target.write_text(result.stdout)
    replay = CliRunner().invoke(main, ["quarantine", "replay", "--data-dir", str(data_dir),
                                       "--schemas", str(registry_copy / "schemas")])
    assert replay.exit_code == 0, replay.output
    assert "landed 3" in replay.output
    assert quarantine_reasons(data_dir) == []


def test_draft_of_a_registry_type_is_its_next_minor_version_from_misfit_samples(client, tokens, tmp_path):
    """SDK events of a known type with properties it lacks are quarantined schema_violation; the draft is the
    type's next minor version with those properties optional (a minor bump by the evolution rules), and it lists
    what a minor version cannot fix."""
    from ingest.cli.main import main
    from ingest.registry import Registry
    from ingest.registry.evolution import classify
    from ingest.registry.schema import check_registry

    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    base = {"session_id": "s-1", "ability_id": "fireball", "encounter_tier": "boss"}
    sent = [{**base, "combo": 3, "stance": "aggressive"}, {**base, "combo": 5}, {"session_id": "s-1", "combo": 1}]
    batch = {"batch": [{"type": "track", "event": "ability_cast", "userId": "user-1", "messageId": f"m-{i}",
                        "timestamp": now, "properties": properties} for i, properties in enumerate(sent)]}
    assert client.post("/v1/batch", json=batch, headers=bearer(tokens.ingest_only)).status_code == 200
    client.app.state.collector.land_own(rotate=True)
    data_dir = tmp_path / "data"
    assert quarantine_reasons(data_dir) == ["schema_violation"] * 3

    result = CliRunner().invoke(main, ["schemas", "draft", "--from-quarantine", "ability_cast",
                                       "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    draft = json.loads(result.stdout)
    assert draft["x-telemetry"]["version"] == "1.2" and draft["properties"]["schema_version"]["const"] == "1.2"
    assert draft["$id"].endswith("/gameplay/ability_cast/1.2.json")
    assert draft["properties"]["combo"]["type"] == "integer" and draft["properties"]["stance"]["type"] == "string"
    assert "combo" not in draft["required"] and "stance" not in draft["required"]
    assert "not fixable in a minor version: required at /ability_id in 1 sample(s)" in result.stderr
    assert "schemas/gameplay/ability_cast/1.2.json" in result.stderr
    previous = json.loads((ROOT / "schemas/gameplay/ability_cast/1.1.json").read_text())
    assert classify(previous, draft)[0] == "minor"
    registry_copy = tmp_path / "registry"
    shutil.copytree(ROOT / "schemas", registry_copy / "schemas")
    (registry_copy / "seeds").symlink_to(ROOT / "seeds")
    (registry_copy / "schemas/gameplay/ability_cast/1.2.json").write_text(result.stdout)
    assert check_registry(Registry.load(registry_copy / "schemas")) == []
    for properties in sent[:2]:
        wire = {"event_type": "ability_cast", "schema_version": "1.2", "player_id": "user-1", "event_id": "m",
                "ts_ms": 1, **properties}
        jsonschema.validate(wire, draft)
