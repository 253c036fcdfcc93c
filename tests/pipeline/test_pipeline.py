"""The ingest contract on every kind of bad input: nothing crashes, nothing is lost, every line accounted for.

Expected counts are written by hand from the fixture lines each test builds.
"""

from __future__ import annotations

import copy
import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from ingest.privacy import IdentityHasher
from ingest.privacy.keys import Keyring
from ingest.lake import Lake
from ingest.pipeline import BatchIngest, IngestSettings

AS_OF = datetime(2024, 11, 24, 12, 0, tzinfo=timezone.utc)
T0 = 1732406400000  # 2024-11-24T00:00:00Z, the schema examples' time
KEY = b"test-key-0123456789abcdef-0123456789"


def example(registry, kind: str, **changes) -> dict:
    event = copy.deepcopy(registry.families["recsys"].latest(kind).document["examples"][0])
    for name, value in changes.items():
        if value is DROP:
            event.pop(name, None)
        else:
            event[name] = value
    return event


DROP = object()


def write_lines(path: Path, lines: list[bytes | dict | str]) -> Path:
    data = b"".join((json.dumps(x).encode() if isinstance(x, dict) else x.encode() if isinstance(x, str) else x) + b"\n"
                    for x in lines)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def ingest(registry, lake_root: Path, *paths: Path, backfill: bool = False, workers: int = 1, opted_out=frozenset(),
           max_line_bytes: int = 1 << 20):
    lake = Lake(lake_root)
    lake.ensure_layout(registry)
    settings = IngestSettings(registry.root, KEY, "k1", AS_OF, backfill=backfill, opted_out=opted_out,
                              max_line_bytes=max_line_bytes)
    with BatchIngest(registry, lake, settings, workers=workers) as runner:
        return [runner.run(p) for p in paths]


def quarantine(lake_root: Path) -> list[dict]:
    """Quarantine rows with the sealed line and messages opened (they are encrypted at rest,
    docs/requirements/design.md#privacy-at-rest)."""
    query = f"select * from read_parquet('{lake_root}/quarantine/*.parquet') order by source_file, line_number"
    rows = duckdb.sql(query).to_arrow_table().to_pylist()
    return [opened(row) for row in rows]


def opened(row: dict, key: bytes = b"test-key-0123456789abcdef-0123456789") -> dict:
    from ingest.pipeline.replay import open_messages, open_raw
    from ingest.privacy.quarantine_crypto import QuarantineCipher

    cipher = QuarantineCipher(Keyring.single(IdentityHasher(key, row["raw_key_id"])))
    messages = open_messages(cipher, row)
    errors = [{**e, "message": m} for e, m in zip(row["errors"], messages)]
    return {**row, "raw_bytes": open_raw(cipher, row), "errors": errors}


def landed(lake_root: Path, event_type: str = "*") -> list[dict]:
    return duckdb.sql(f"select * from read_parquet('{lake_root}/events/event_type={event_type}/*/*.parquet', "
                      "hive_partitioning = true, union_by_name = true) order by occurred_at, event_id").to_arrow_table().to_pylist()


def assert_balanced(result) -> None:
    assert result.lines_read == result.records_read == result.landed + result.quarantined + result.duplicates + result.dropped


def test_valid_examples_land_with_envelope_and_hashed_ids(registry, tmp_path):
    events = [example(registry, t) for t in ("request", "ranking", "impression", "click", "error")]
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", events))
    assert (result.lines_read, result.landed, result.quarantined) == (5, 5, 0)
    requests = landed(tmp_path / "lake", "recsys_request")
    assert len(requests) == 1
    row = requests[0]
    assert row["event_date"].isoformat() == "2024-11-24"
    assert row["occurred_at"] == datetime(2024, 11, 24, 0, 0)
    assert row["player_key"] == IdentityHasher(KEY, "k1").hash("u-1842") != "u-1842"
    assert row["hash_key_id"] == "k1"
    assert row["filters"] == '{"category":"shoes"}'
    assert "user_id" not in row and "timestamp_ms" not in row
    ranking = landed(tmp_path / "lake", "recsys_ranking")[0]
    assert ranking["items"][0] == {"canonical_id": "item-14", "position": 1, "score": 0.92}
    error = landed(tmp_path / "lake", "recsys_error")[0]
    assert error["message_length"] == len("ranker exceeded 200 ms budget") and "message" not in error
    # the raw id appears in no landed file
    for path in (tmp_path / "lake" / "events").rglob("*.parquet"):
        assert b"u-1842" not in path.read_bytes()


@pytest.mark.parametrize("raw, reason", [
    (b'{"event_type": "click", "timestamp_ms": ', "invalid_json"),
    (b"\x00\x01\x02\xff\xfe garbage \x8f", "encoding_error"),
    (b'{"event_type": "click", "name": "caf\xe9"}', "encoding_error"),
    (b"[1, 2, 3]", "not_an_object"),
    (b"42", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"null", "not_an_object"),
])
def test_unparseable_lines_are_quarantined_verbatim(registry, tmp_path, raw, reason):
    good = example(registry, "request")
    other = good | {"request_id": "11111111-2222-4333-8444-555555555555"}
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", [good, raw, other]))
    assert (result.lines_read, result.landed, result.quarantined) == (3, 2, 1)
    [row] = quarantine(tmp_path / "lake")
    assert (row["reason"], row["line_number"], row["raw_bytes"]) == (reason, 2, raw)
    assert row["errors"] and row["errors"][0]["message"]


def test_binary_garbage_file(registry, tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(bytes(range(256)) * 40)  # contains one b"\n" per 256 bytes → 40 lines + tail
    [result] = ingest(registry, tmp_path / "lake", path)
    assert_balanced(result)
    assert result.landed == 0 and result.quarantined == result.lines_read == 41
    assert set(result.quarantined_by_reason) <= {"encoding_error", "invalid_json"}
    assert b"".join(r["raw_bytes"] + b"\n" for r in quarantine(tmp_path / "lake"))[:-1] == path.read_bytes()


@pytest.mark.parametrize("change, reason, keyword", [
    ({"k": "three"}, "schema_violation", "type"),
    ({"timestamp_ms": "2024-11-24"}, "schema_violation", "type"),
    ({"request_id": DROP}, "schema_violation", "required"),
    ({"favourite_colour": "blue"}, "schema_violation", "additionalProperties"),
    ({"event_type": "purchase"}, "unknown_event_type", "enum"),
    ({"schema_version": "9.0"}, "unknown_schema_version", "const"),
    ({"schema_version": DROP}, "unknown_schema_version", "const"),
])
def test_invalid_events_get_reason_and_every_error(registry, tmp_path, change, reason, keyword):
    bad = example(registry, "request", **change)
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", [bad]))
    assert (result.landed, result.quarantined, result.quarantined_by_reason[reason]) == (0, 1, 1)
    [row] = quarantine(tmp_path / "lake")
    assert row["reason"] == reason
    assert keyword in [e["keyword"] for e in row["errors"]]


def test_all_errors_are_collected_not_just_the_first(registry, tmp_path):
    bad = example(registry, "request", k=0, bucket=7, request_id=DROP, extra=1)
    ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", [bad]))
    [row] = quarantine(tmp_path / "lake")
    found = {(e["pointer"], e["keyword"]) for e in row["errors"]}
    # a missing and an extra member are pointed at themselves, not at the object that holds them
    assert {("/k", "minimum"), ("/bucket", "type"), ("/request_id", "required"), ("/extra", "additionalProperties")} <= found
    assert row["schema_id"].endswith("/recsys/request/1.0.json")
    assert row["event_type"] == "recsys_request" and row["event_date"].isoformat() == "2024-11-24"


def test_unknown_family(registry, tmp_path):
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", [{"hello": "world"}]))
    assert result.quarantined_by_reason == {"unknown_event_type": 1}


def test_future_and_too_late_against_as_of(registry, tmp_path):
    minute = 60_000
    as_of_ms = int(AS_OF.timestamp() * 1000)
    lines = [
        # inside tolerance
        example(registry, "request", timestamp_ms=as_of_ms + 4 * minute, request_id="00000000-0000-4000-8000-000000000001"),
        example(registry, "request", timestamp_ms=as_of_ms + 6 * minute, request_id="00000000-0000-4000-8000-000000000002"),   # future
        # 2024-11-22: T+2 ok
        example(registry, "request", timestamp_ms=T0 - 2 * 86_400_000, request_id="00000000-0000-4000-8000-000000000003"),
        # 2024-11-21: late
        example(registry, "request", timestamp_ms=T0 - 2 * 86_400_000 - 1, request_id="00000000-0000-4000-8000-000000000004"),
    ]
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", lines))
    assert result.landed == 2
    assert result.quarantined_by_reason == {"future_timestamp": 1, "too_late": 1}
    assert [r["line_number"] for r in quarantine(tmp_path / "lake")] == [2, 4]
    [again] = ingest(registry, tmp_path / "lake2", write_lines(tmp_path / "b.jsonl", lines), backfill=True)
    assert again.landed == 3 and again.quarantined_by_reason == {"future_timestamp": 1}


def test_duplicates_within_and_across_files(registry, tmp_path):
    a = example(registry, "click")
    b = example(registry, "click", canonical_id="item-3", position=2)
    with_id = example(registry, "click", event_id="evt-1", canonical_id="item-5")
    same_id_other_body = example(registry, "click", event_id="evt-1", canonical_id="item-6")
    first = write_lines(tmp_path / "one.jsonl", [a, b, a, with_id, same_id_other_body])
    second = write_lines(tmp_path / "two.jsonl", [b, example(registry, "click", canonical_id="item-9"), with_id])
    r1, r2 = ingest(registry, tmp_path / "lake", first, second)
    assert (r1.landed, r1.duplicates) == (3, 2)
    assert (r2.landed, r2.duplicates) == (1, 2)
    rows = landed(tmp_path / "lake", "recsys_click")
    assert len(rows) == 4 == len({r["event_id"] for r in rows})
    assert {r["canonical_id"] for r in rows if r["event_id"] == "evt-1"} == {"item-5"}


def test_same_file_twice_is_skipped_by_the_ledger(registry, tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [example(registry, "request")])
    first, second = ingest(registry, tmp_path / "lake", path, path)
    assert not first.skipped and second.skipped and second.batch_id == first.batch_id
    assert len(landed(tmp_path / "lake")) == 1
    assert [e.landed for e in Lake(tmp_path / "lake").ledger_entries()] == [1]


def test_empty_file(registry, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    [result] = ingest(registry, tmp_path / "lake", path)
    assert (result.lines_read, result.landed, result.quarantined) == (0, 0, 0)
    assert Lake(tmp_path / "lake").ledger_entry(result.batch_id) is not None


def test_blank_lines_are_counted_as_dropped(registry, tmp_path):
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", [example(registry, "request"), b"", b"   "]))
    assert (result.lines_read, result.landed, result.dropped, result.dropped_by_reason["blank_line"]) == (3, 1, 2, 2)


def test_truncated_gzip_lands_what_it_can_and_quarantines_the_cut_line(registry, tmp_path):
    events = [example(registry, "impression", canonical_id=f"item-{i}", position=1) for i in range(2000)]
    whole = write_lines(tmp_path / "whole.jsonl.gz", events).read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    [result] = ingest(registry, tmp_path / "lake", cut)
    assert_balanced(result)
    assert result.damage == "truncated_input"
    assert 0 < result.landed < 2000
    assert result.quarantined_by_reason == {"truncated_input": 1}
    decoded = gzip.GzipFile(fileobj=__import__("io").BytesIO(cut.read_bytes()))
    try:
        readable = decoded.read()
    except EOFError:
        readable = None
    if readable is not None:  # stdlib could decode it: then our line count must match the newlines
        assert result.lines_read == readable.count(b"\n") + (0 if readable.endswith(b"\n") else 1)


def test_gzip_that_is_not_gzip(registry, tmp_path):
    path = tmp_path / "fake.jsonl.gz"
    path.write_bytes(b'{"not": "compressed"}\n')
    [result] = ingest(registry, tmp_path / "lake", path)
    assert result.damage == "corrupt_input" and result.lines_read == 0


def test_ten_megabyte_line(registry, tmp_path):
    huge = example(registry, "request", region="x" * (10 << 20))
    path = write_lines(tmp_path / "a.jsonl", [example(registry, "request", request_id="00000000-0000-4000-8000-00000000000a"), huge,
                                              example(registry, "request", request_id="00000000-0000-4000-8000-00000000000b")])
    [result] = ingest(registry, tmp_path / "lake", path)
    assert (result.landed, result.quarantined_by_reason) == (2, {"line_too_long": 1})
    [row] = quarantine(tmp_path / "lake")
    assert row["line_number"] == 2 and len(row["raw_bytes"]) == len(json.dumps(huge))


def test_opted_out_players_are_dropped_and_counted(registry, tmp_path):
    hasher = IdentityHasher(KEY, "k1")
    lines = [example(registry, "request"), example(registry, "request", user_id="u-2", request_id="00000000-0000-4000-8000-000000000009")]
    [result] = ingest(registry, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", lines), opted_out=frozenset({hasher.hash("u-1842")}))
    assert (result.landed, result.dropped, dict(result.dropped_by_reason)) == (1, 1, {"opted_out": 1})


def test_interrupted_batch_is_redone_exactly_once(registry, tmp_path, monkeypatch):
    """A batch killed before its ledger row leaves only its pending folder; the re-run lands it once."""
    path = write_lines(tmp_path / "a.jsonl", [example(registry, "request"), example(registry, "click")])

    def killed(self, entry):
        raise KeyboardInterrupt  # stands for a kill between the files and the ledger row

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Lake, "commit", killed)
        patch.setattr(Lake, "discard", lambda self, batch_id: None)  # a killed process cleans nothing up
        ingest(registry, tmp_path / "lake", path)
    assert list((tmp_path / "lake" / "_pending").rglob("*.parquet"))  # it got as far as writing its files
    assert not list((tmp_path / "lake" / "events").rglob("*.parquet"))
    [again] = ingest(registry, tmp_path / "lake", path)
    assert (again.landed, again.duplicates) == (2, 0)
    assert len(landed(tmp_path / "lake")) == 2
    assert not (tmp_path / "lake" / "_pending").exists() or not any((tmp_path / "lake" / "_pending").iterdir())


@pytest.mark.slow
def test_workers_do_not_change_the_result(registry, tmp_path):
    from ingest.generate.synthetic import recsys_events

    events = list(recsys_events(1200, start_ms=T0 - 86_400_000, span_days=1))
    events.insert(500, b"{broken")
    events.insert(900, events[10])
    path = write_lines(tmp_path / "a.jsonl", events)
    [one] = ingest(registry, tmp_path / "lake1", path, workers=1)
    [two] = ingest(registry, tmp_path / "lake2", path, workers=2)
    for r in (one, two):
        assert (r.lines_read, r.quarantined, r.duplicates) == (len(events), 1, 1)
        assert r.landed == len(events) - 2
    rows1, rows2 = landed(tmp_path / "lake1"), landed(tmp_path / "lake2")
    assert rows1 == rows2


def toy_registry(tmp_path: Path):
    """A registry with one extra family that uses the generic hooks: upper-case wire types, integer versions,
    ISO times, a reference table, and a batch envelope of at most 3 events."""
    from ingest.registry import Registry

    root = tmp_path / "project"
    (root / "seeds").mkdir(parents=True)
    (root / "seeds" / "toy_bills.csv").write_text("bill_id,title\nB-1,Budget\nB-2,Roads\n")
    family = root / "schemas" / "toy"
    (family / "vote").mkdir(parents=True)
    (family / "_family.json").write_text(json.dumps({
        "family": "toy", "route": {"requires": ["kind", "createdAt"], "event_type": "/kind", "event_type_case": "lower",
                                   "schema_version": "/metaVersion"},
        "batch": {"requires": ["batch_id", "events"], "events": "/events", "max_events": 3,
                  "inherit": {"/client_version": "clientVersion"}}}))
    (family / "vote" / "1.0.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.test/toy/vote/1.0.json",
        "type": "object", "additionalProperties": False, "required": ["kind", "metaVersion", "createdAt", "billId"],
        "properties": {"kind": {"const": "VOTE"}, "metaVersion": {"const": 1}, "createdAt": {"type": "string"},
                       "userId": {"type": "string"}, "billId": {"type": "string"},
                       "seatWeight": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e6}, "clientVersion": {"type": "string"}},
        "examples": [{"kind": "VOTE", "metaVersion": 1, "createdAt": "2024-11-24T10:00:00Z", "billId": "B-1"}],
        "x-telemetry": {"family": "toy", "event_type": "vote", "version": "1.0",
                        "envelope": {"occurred_at": {"field": "/createdAt", "unit": "iso8601"}, "player_id": "/userId"},
                        "references": {"/billId": {"seed": "toy_bills", "column": "bill_id"}}}}))
    return Registry.load(root / "schemas")


def test_generic_hooks_case_references_and_batches(tmp_path):
    from ingest.registry import check_registry

    toy = toy_registry(tmp_path)
    assert check_registry(toy) == []
    vote = {"kind": "VOTE", "metaVersion": 1, "createdAt": "2024-11-24T10:00:00Z", "billId": "B-1", "userId": "p1"}
    lines = [
        vote,                                                                  # lands (bill_id column)
        {**vote, "billId": "B-404", "userId": "p2"},                           # unknown_reference
        {**vote, "seatWeight": 0, "userId": "p3"},                             # schema_violation (exclusiveMinimum)
        {"batch_id": "b1", "client_version": "2.1", "events": [               # 3 records: 2 land, 1 rejected
            {**vote, "userId": "p4"}, {**vote, "userId": "p5", "createdAt": "2024-11-24T11:00:00"},
            {**vote, "userId": "p6", "kind": "NOPE"}]},
        {"batch_id": "b2", "events": [vote, vote, vote, vote]},                # batch_too_large: 1 record
    ]
    [result] = ingest(toy, tmp_path / "lake", write_lines(tmp_path / "a.jsonl", lines))
    assert (result.lines_read, result.records_read) == (5, 7)
    assert (result.landed, result.quarantined, result.duplicates, result.dropped) == (3, 4, 0, 0)
    assert result.quarantined_by_reason == {"unknown_reference": 1, "schema_violation": 1, "unknown_event_type": 1,
                                            "batch_too_large": 1}
    rows = landed(tmp_path / "lake", "toy_vote")
    assert [r["bill_id"] for r in rows] == ["B-1", "B-1", "B-1"]
    assert sorted(r["client_version"] or "" for r in rows) == ["", "2.1", "2.1"]
    assert rows[2]["occurred_at"] == datetime(2024, 11, 24, 11, 0)  # naive ISO time read as UTC
    rejected = {r["reason"]: r for r in quarantine(tmp_path / "lake")}
    assert rejected["unknown_event_type"]["record_index"] == 2
    assert json.loads(rejected["unknown_event_type"]["raw_bytes"])["userId"] == "p6"
    assert rejected["batch_too_large"]["record_index"] is None and rejected["batch_too_large"]["line_number"] == 5


def test_key_rotation_takes_effect_from_its_date(registry, tmp_path, monkeypatch):
    """Events before the rotation date keep the old key; from that date on, the new key and its id."""
    from click.testing import CliRunner

    from ingest.cli import main

    new_secret = tmp_path / "k2.secret"
    new_secret.write_text("second-secret-0123456789abcdefghij\n")
    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps({"keys": [
        {"id": "k2", "from": "2024-11-24", "secret_file": str(new_secret)},
        {"id": "k1", "from": "1970-01-01", "secret": KEY.decode()},
    ]}))
    monkeypatch.setenv("TELEMETRY_HASH_KEYRING", str(keyring))
    before = example(registry, "request", timestamp_ms=T0 - 3_600_000, request_id="00000000-0000-4000-8000-0000000000b1")
    after = example(registry, "request", request_id="00000000-0000-4000-8000-0000000000a1")
    path = write_lines(tmp_path / "a.jsonl", [before, after])
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    rows = {r["request_id"][-2:]: r for r in landed(tmp_path / "d" / "lake", "recsys_request")}
    assert (rows["b1"]["hash_key_id"], rows["a1"]["hash_key_id"]) == ("k1", "k2")
    assert rows["b1"]["player_key"] == IdentityHasher(KEY, "k1").hash("u-1842")
    assert rows["a1"]["player_key"] == IdentityHasher(b"second-secret-0123456789abcdefghij", "k2").hash("u-1842")
    assert rows["a1"]["session_id"] == IdentityHasher(b"second-secret-0123456789abcdefghij", "k2").hash("s-77")


def test_bad_keyring_is_a_usage_error(registry, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ingest.cli import main

    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps({"keys": [{"id": "k1", "from": "1970-01-01", "secret": "short"}]}))
    monkeypatch.setenv("TELEMETRY_HASH_KEYRING", str(keyring))
    path = write_lines(tmp_path / "a.jsonl", [example(registry, "request")])
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "at least 32 bytes are required" in result.output


@pytest.mark.parametrize("columnar", [False, True], ids=["reference", "columnar"])
@pytest.mark.parametrize("chunk_lines", [5_000, 1], ids=["one-chunk", "chunk-per-line"])
def test_two_versions_of_one_type_in_one_partition_each_land_as_themselves(registry, tmp_path, columnar,
                                                                           chunk_lines):
    """A batch holding DEBATE_RESULT 1.0 and 1.1 on one day lands each row under its own version and columns,
    in one partition file whose columns are the union of both versions'."""
    versions = {v: registry.families["politics"].schemas[("debate_result", v)].document["examples"][0]
                for v in ("1.0", "1.1")}
    events = [dict(versions[v], eventId=f"evt-{n}") for n, v in enumerate(["1.0", "1.1", "1.0", "1.1"])]
    path = write_lines(tmp_path / "mixed.jsonl", events)
    lake = Lake(tmp_path / "lake")
    lake.ensure_layout(registry)
    settings = IngestSettings(registry.root, KEY, "k1", AS_OF)
    with BatchIngest(registry, lake, settings, columnar=columnar) as runner:
        runner.processor.chunk_lines = chunk_lines
        result = runner.run(path)
    assert_balanced(result)
    assert (result.landed, result.quarantined) == (4, 0)
    rows = {row["event_id"]: row for row in landed(tmp_path / "lake", "politics_debate_result")}
    assert {e: rows[e]["schema_version"] for e in rows} == {"evt-0": "1.0", "evt-1": "1.1", "evt-2": "1.0",
                                                             "evt-3": "1.1"}
    for event_id in ("evt-1", "evt-3"):  # 1.1 carries participants (hashed each), 1.0 participant_ids
        assert rows[event_id]["participants"] is not None and len(rows[event_id]["participants"]) == 2
    for event_id in ("evt-0", "evt-2"):
        assert rows[event_id]["participants"] is None
