"""Values the lake cannot hold: every typed integer/number in the registry declares bounds its column type holds,
so JSON Schema rejects a value like 1e30 in an int64 column with every error; a value the writer still cannot
convert (a registry without bounds) is quarantined as unconvertible_value, never a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conformance_support import fixture_text, ingest_lines, landed, quarantine, run_cli
from ingest.registry.schema import storage_bound_problems

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2025-12-01T12:30:00Z"


def click(**changes) -> str:
    event = json.loads(fixture_text("seed003_key_fields.jsonl").splitlines()[3])
    return json.dumps({**event, **changes})


def test_every_integer_and_number_of_the_registry_declares_storage_bounds(registry):
    problems = [p for s in registry.schemas() for name, prop in s.document["properties"].items()
                for p in storage_bound_problems(prop, "/" + name)]
    assert problems == []
    assert storage_bound_problems({"type": "integer", "minimum": 0}, "/x") == [
        "/x: integer needs a maximum the lake column can hold (<= 9223372036854775807)"]


def test_a_huge_integer_is_quarantined_with_every_error_and_the_rest_of_the_file_lands(tmp_path):
    lines = [click(event_id="ok-1"), click(event_id="big", dwell_ms=1000000000000000000000000000000, position=10**30),
             click(event_id="ok-2")]
    # the literal integer as a producer would send it, not Python's float repr
    lines[1] = lines[1].replace("1e+30", "1000000000000000000000000000000")
    row = ingest_lines(tmp_path / "d", tmp_path, "big.jsonl", lines, AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"]) == (3, 2, 1), row["output"]
    [bad] = quarantine(tmp_path / "d")
    assert bad["reason"] == "schema_violation"
    assert {(e["pointer"], e["keyword"]) for e in bad["errors"]} == {("/dwell_ms", "maximum"), ("/position", "maximum")}
    assert sorted(r["event_id"] for r in landed(tmp_path / "d", "recsys_click")) == ["ok-1", "ok-2"]


def test_a_value_the_writer_cannot_convert_is_quarantined_with_a_reason_code(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    path = schemas / "recsys" / "click" / "1.0.json"
    document = json.loads(path.read_text())
    del document["properties"]["dwell_ms"]["maximum"]  # a registry without the storage bound
    path.write_text(json.dumps(document))
    lines = [click(event_id="ok-1"), click(event_id="big", dwell_ms=10**30), click(event_id="ok-2")]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli("ingest", str(source), "--data-dir", str(tmp_path / "d"), "--schemas", str(schemas),
                     "--as-of", AS_OF, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "landed 2 + quarantined 1" in result.output and "unconvertible_value 1" in result.output
    [bad] = quarantine(tmp_path / "d")
    assert (bad["reason"], bad["event_type"]) == ("unconvertible_value", "recsys_click")
    assert check_fails_without_bounds(schemas)


def check_fails_without_bounds(schemas: Path) -> bool:
    result = run_cli("schemas", "check", "--schemas", str(schemas))
    return result.exit_code != 0 and "/dwell_ms: integer needs a maximum" in result.output
