"""Privacy at rest (docs/requirements/gameplay.md#privacy "Privacy and Anonymization",
docs/requirements/recsys.md#privacy, docs/requirements/politics.md#privacy, docs/requirements/ability.md#privacy):
nothing under the data directory holds a raw player id, session id or chat text that was sent, in valid or
invalid lines; the quarantine is encrypted but replayable, erasable and readable by whoever holds the key;
secrets never show in output, reprs or tracebacks."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conformance_support import as_json_line, fixture_text, ingest_lines, quarantine, run_cli
from ingest.cli import main

AS_OF = "2025-12-01T12:30:00Z"
TS_MS = 1764590400000  # 2025-12-01T12:00:00Z
SECRETS = ["keyring-secret-one-0123456789abcdef", "keyring-secret-two-9876543210abcdef", "sampling-secret-abcdef012345"]


def sensitive_lines() -> tuple[list[str], list[str]]:
    """Valid and invalid lines of every family that carry raw ids and chat text; and the values to look for."""
    chat = "RAWCHAT please meet me behind the castle"
    lines = []
    gameplay = {"event_type": "chat_message", "schema_version": "1.0", "player_id": "RAWPLAYER-g1", "client_guid": "cg-1",
                "seq": 1, "ts_ms": TS_MS, "session_id": "RAWSESSION-g1", "channel": "all", "text": chat,
                "event_id": "chat-1"}
    for i in range(6):  # some survive sampling, some are sampled out
        lines.append(json.dumps({**gameplay, "seq": i, "event_id": f"chat-{i}"}))
    lines.append(json.dumps({**gameplay, "channel": 17}))  # schema_violation, carrying every raw value
    lines.append(json.dumps({**gameplay, "player_id": "RAWPLAYER-toolong" + "x" * 300}))  # message would quote it
    lines.append(json.dumps({**gameplay, "ts_ms": TS_MS - 30 * 86_400_000}))  # too_late
    lines.append(json.dumps({**gameplay, "event_type": "made_up"}))  # unknown_event_type
    lines.append(json.dumps({**gameplay, "analytics_opt_out": True}))  # dropped by policy
    lines.append('{"player_id": "RAWPLAYER-broken", "session_id": "RAWSESSION-broken", "text": "RAWCHAT broken')
    lines.append(json.dumps({"event_type": "click", "schema_version": "1.0", "timestamp_ms": TS_MS,
                             "request_id": "9b2f3c1e-6a4d-4f8e-9c2b-1d5e7f9a0b3c", "user_id": "RAWPLAYER-r1",
                             "session_id": "RAWSESSION-r1", "canonical_id": "item-1", "engagement_type": "click",
                             "dwell_ms": 1e30}))  # a value no column can hold
    lines.append(json.dumps({"type": "DEBATE_RESULT", "userId": "RAWPLAYER-p1", "debateId": "d-1",
                             "persuasionScore": 50, "participants": ["RAWPLAYER-p2", "RAWPLAYER-p3"]}))
    lines.append(json.dumps({"type": "DEBATE_RESULT", "userId": "RAWPLAYER-p4", "debateId": "d-1",
                             "persuasionScore": 500, "participants": ["RAWPLAYER-p5"]}))  # out of range
    batch = json.loads(as_json_line(fixture_text("seed004_batch.txt")))
    for event in batch["events"]:
        event["student_id"], event["session_id"] = "RAWPLAYER-l1", "RAWSESSION-l1"
        event["timestamp"] = "2025-12-01T12:00:00Z"
    batch["events"].append({"event_id": "evt-3", "student_id": "RAWPLAYER-l2", "event_type": "task_start",
                            "timestamp": "2025-12-01T12:01:00Z", "session_id": "RAWSESSION-l2"})  # no task_id
    lines.append(json.dumps(batch))
    return lines, ["RAWPLAYER", "RAWSESSION", "RAWCHAT", "behind the castle"]


def scan(data_dir: Path, needles: list[str]) -> list[str]:
    """Every place under ``data_dir`` where a needle shows: Parquet through DuckDB (every column as text), any
    other file as bytes."""
    hits = []
    con = duckdb.connect()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            columns = [r[0] for r in con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()]
            for column in columns:
                values = con.execute(f'select cast("{column}" as varchar) from read_parquet(?)', [str(path)]).fetchall()
                for (value,) in values:
                    for needle in needles:
                        if value is not None and needle in value:
                            hits.append(f"{path.relative_to(data_dir)} column {column}: {needle}")
        else:
            content = path.read_bytes()
            hits += [f"{path.relative_to(data_dir)}: {n}" for n in needles if n.encode() in content]
    return hits


@pytest.fixture
def keyring(tmp_path, monkeypatch):
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({"keys": [{"id": "k1", "from": "1970-01-01", "secret": SECRETS[0]},
                                         {"id": "k2", "from": "2025-11-15", "secret": SECRETS[1]}],
                                "sampling_secret": SECRETS[2]}))
    monkeypatch.setenv("TELEMETRY_HASH_KEYRING", str(path))
    monkeypatch.delenv("TELEMETRY_HASH_KEY")
    return path


@pytest.mark.slow
def test_scan_of_every_file_under_the_data_directory_finds_no_raw_id_session_id_or_chat_text(tmp_path, keyring):
    data = tmp_path / "d"
    lines, needles = sensitive_lines()
    row = ingest_lines(data, tmp_path, "mixed.jsonl", lines, AS_OF)
    assert row["quarantined"] >= 7 and row["landed"] >= 4 and row["dropped"] >= 1, row["output"]
    assert run_cli("quarantine", "replay", "--data-dir", str(data)).exit_code == 0
    assert scan(data, needles) == []
    assert scan(data, SECRETS) == []
    # the scan does find what it looks for: the quarantine, decrypted, still holds the lines verbatim
    shown = run_cli("quarantine", "show", "--data-dir", str(data))
    assert shown.exit_code == 0, shown.output
    assert "RAWCHAT please meet me behind the castle" in shown.output and "RAWPLAYER-broken" in shown.output


def test_quarantine_show_prints_lines_for_the_key_holder_only(tmp_path, keyring, monkeypatch):
    data = tmp_path / "d"
    bad = '{"oops": "RAWPLAYER-z"'
    ingest_lines(data, tmp_path, "bad.jsonl", [bad], AS_OF)
    [row] = quarantine(data)
    assert b"RAWPLAYER" not in row["raw_bytes"] and row["raw_key_id"]
    shown = run_cli("quarantine", "show", "--data-dir", str(data))
    assert shown.exit_code == 0 and bad in shown.output and "invalid_json" in shown.output
    other = tmp_path / "other-keyring.json"
    other.write_text(json.dumps({"keys": [{"id": "k1", "from": "1970-01-01", "secret": "a-different-secret-0000000000000000"}]}))
    monkeypatch.setenv("TELEMETRY_HASH_KEYRING", str(other))
    denied = run_cli("quarantine", "show", "--data-dir", str(data))
    assert denied.exit_code == 2 and "RAWPLAYER" not in denied.output


def test_erase_removes_the_players_encrypted_quarantine_lines(tmp_path, keyring):
    data = tmp_path / "d"
    lines = ['{"player_id": "RAWPLAYER-erase-me", "broken": ', '{"player_id": "RAWPLAYER-keep", "broken": ']
    ingest_lines(data, tmp_path, "bad.jsonl", lines, AS_OF)
    assert len(quarantine(data)) == 2
    result = run_cli("erase", "--player", "RAWPLAYER-erase-me", "--data-dir", str(data), "--no-build")
    assert result.exit_code == 0, result.output
    shown = run_cli("quarantine", "show", "--data-dir", str(data)).output
    assert "RAWPLAYER-keep" in shown and "RAWPLAYER-erase-me" not in shown


def test_secrets_never_appear_in_output_reprs_or_a_traceback_with_locals(tmp_path, keyring, monkeypatch):
    from ingest.pipeline.columnar import ColumnarProcessor
    from ingest.pipeline.row import LineProcessor

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure in the middle of a batch")

    for processor in (LineProcessor, ColumnarProcessor):  # whichever path the line takes
        monkeypatch.setattr(processor, "process_chunk", explode)
    source = tmp_path / "in.jsonl"
    source.write_text(sensitive_lines()[0][0] + "\n")
    result = CliRunner().invoke(main, ["ingest", str(source), "--data-dir", str(tmp_path / "d"), "--as-of", AS_OF,
                                       "--workers", "1"])
    assert result.exit_code != 0
    assert result.exc_info is not None
    text = result.output + "".join(traceback.TracebackException(*result.exc_info, capture_locals=True).format())
    assert "simulated failure" in text
    for secret in SECRETS:
        assert secret not in text
        assert secret.encode().hex() not in text
