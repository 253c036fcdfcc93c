"""docs/requirements/learning.md (learning) as producers write it: the single event and the two-event batch of "API Usage
Examples", which carry no schema version, land under the family's declared default version; features 7 and 8
count what the seed names."""

from __future__ import annotations

import json

import duckdb
import pytest

from conformance_support import as_json_line, fixture_text, ingest_lines, keyed_hash, landed, quarantine
from ingest.warehouse import run_dbt

AS_OF = "2025-11-13T12:05:00Z"


def test_api_usage_single_event_lands_as_printed(tmp_path):
    line = as_json_line(fixture_text("seed004_single_event.txt"))
    row = ingest_lines(tmp_path / "d", tmp_path, "single.jsonl", [line], AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"], row["dropped"]) == (1, 1, 0, 0), row["output"]
    assert row["server_filled"] == 1
    [event] = landed(tmp_path / "d", "learning_mission_start")
    assert event["event_id"] == "evt-123"
    assert event["schema_version_source"] == "server"
    assert event["player_key"] == keyed_hash("student-456")
    assert event["session_id"] == keyed_hash("session-789")
    assert event["mission_id"] == "mission-alpha"
    assert json.loads(event["data"]) == {"mission": "alpha", "difficulty": "medium"}


def test_api_usage_batch_lands_as_printed(tmp_path):
    line = as_json_line(fixture_text("seed004_batch.txt"))
    row = ingest_lines(tmp_path / "d", tmp_path, "batch.jsonl", [line], AS_OF)
    # one line, two records (docs/requirements/learning.md#batch: one accounting unit per event)
    assert (row["lines_read"], row["records_read"], row["landed"], row["quarantined"]) == (1, 2, 2, 0), row["output"]
    assert row["server_filled"] == 2
    [start] = landed(tmp_path / "d", "learning_mission_start")
    [choice] = landed(tmp_path / "d", "learning_choice_made")
    assert (start["event_id"], choice["event_id"]) == ("evt-1", "evt-2")
    assert start["client_version"] == choice["client_version"] == "1.0.0"  # inherited from the batch
    assert start["mission_id"] is None  # the seed's batch event names no mission
    assert json.loads(choice["data"]) == {"choice": "help_friend"}


def test_single_event_and_batch_together_count_every_event_once(tmp_path):
    lines = [as_json_line(fixture_text("seed004_single_event.txt")), as_json_line(fixture_text("seed004_batch.txt"))]
    row = ingest_lines(tmp_path / "d", tmp_path, "both.jsonl", lines, AS_OF)
    assert (row["lines_read"], row["records_read"], row["landed"]) == (2, 3, 3), row["output"]


def test_a_schema_version_that_is_sent_and_unknown_is_still_unknown_schema_version(tmp_path):
    event = {**json.loads(fixture_text("seed004_single_event.txt")), "schema_version": "9.0"}
    row = ingest_lines(tmp_path / "d", tmp_path, "v9.jsonl", [json.dumps(event)], AS_OF)
    assert row["quarantined"] == 1
    assert quarantine(tmp_path / "d")[0]["reason"] == "unknown_schema_version"


def test_every_event_type_of_the_seed_is_in_the_registry(registry):
    seed_types = ("mission_start mission_complete task_start task_complete choice_made retry restart failure mistake "
                  "recovery success_after_failure distraction pause collaboration help_given help_received leadership "
                  "initiative decision_made").split()
    assert len(seed_types) == 19
    assert set(seed_types) == set(registry.families["learning"].event_types())


def social_session(session: str, counts: dict[str, int]) -> list[str]:
    """One student's session: a mission_start at 12:00:00, then each type of ``counts`` that many times, one
    event per second."""
    types = ["mission_start"] + [kind for kind, n in counts.items() for _ in range(n)]
    return [json.dumps({"event_id": f"{session}-{i}", "student_id": "student-456", "event_type": kind,
                        "schema_version": "1.0", "timestamp": f"2025-11-13T12:00:{i:02d}Z", "data": {},
                        "session_id": session, "mission_id": "mission-alpha"})
            for i, kind in enumerate(types)]


@pytest.mark.dbt
def test_features_7_and_8_count_collaboration_and_leadership_events_and_the_broader_counts_stay_apart(tmp_path):
    data = tmp_path / "d"
    lines = social_session("social", {"collaboration": 3, "help_given": 2, "help_received": 1, "leadership": 2,
                                      "initiative": 4, "decision_made": 1})
    lines += social_session("helper-only", {"help_given": 2, "initiative": 1})
    row = ingest_lines(data, tmp_path, "social.jsonl", lines, "2025-11-13T13:00:00Z")
    assert row["landed"] == 14 + 4, row["output"]
    # closed by inactivity: the last event (12:00:13) is more than 30 minutes older than the ingest clock (13:00)
    run_dbt(["build", "--select", "+fct_learning_session_features", "--exclude-resource-type", "test",
             "--exclude-resource-type", "unit_test"], data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        got = dict(con.execute(
            "select session_id, [events, collaboration_indicators, leadership_indicators, "
            "collaboration_and_help_events, leadership_and_initiative_events] from fct_learning_session_features"
        ).fetchall())
    # by hand: "social" has 1 + 3 + 2 + 1 + 2 + 4 + 1 = 14 events; feature 7 = 3 collaboration, feature 8 =
    # 2 leadership; with help given/received 3 + 2 + 1 = 6, with initiative 2 + 4 = 6
    assert got == {keyed_hash("social"): [14, 3, 2, 6, 6], keyed_hash("helper-only"): [4, 0, 0, 2, 1]}
