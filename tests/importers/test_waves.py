"""Tests of the WAVES importer (ingest/importers/waves.py; mapping in docs/importers/waves.md).

Expected numbers are computed here with polars from the TSV (../shared/data/README.md rule), with the mapping
rules the docs state, never read back from the importer. Includes the docs/requirements/learning.md#batch batch limit through the real
ingest: a batch of 1,001 events is quarantined whole.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import orjson
import polars as pl
import pytest

from support import require_shared_data

SAMPLE = "WAVES_20230201_to_20230228_events_sample.tsv.gz"


@pytest.fixture(scope="module")
def tsv() -> Path:
    return require_shared_data("waves") / SAMPLE


@pytest.fixture(scope="module")
def raw(tsv) -> pl.DataFrame:
    """The TSV with the fields the mapping reads, parsed with polars (independently of the importer)."""
    frame = pl.read_csv(tsv, separator="\t", infer_schema_length=0)
    data = [json.loads(text) for text in frame["event_data"]]
    return frame.with_columns(
        pl.col("index").cast(pl.Int64),
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_zone="UTC"),
        pl.col("event_name").str.split(".").list.first().alias("kind"),
        pl.Series("custom", [d.get("event_custom") for d in data]),
        pl.Series("level", [d.get("level") for d in data], dtype=pl.Int64),
        pl.Series("student", [d.get("persistent_session_id") for d in data]),
    ).sort("session_id", "index")


@pytest.fixture(scope="module")
def imported(tsv, tmp_path_factory):
    from ingest.importers.waves import import_waves

    out = tmp_path_factory.mktemp("waves")
    return import_waves(tsv, out)


def events_of(result) -> list[dict]:
    out = []
    for line in result.output.read_text(encoding="utf-8").splitlines():
        batch = json.loads(line)
        out += [{**e, "_batch": batch["batch_id"], "_client_version": batch["client_version"]} for e in batch["events"]]
    return out


def derived_counts(raw: pl.DataFrame) -> dict[str, int]:
    """retry (BEGIN of a level the session already began), distraction (≥ 60 s since the latest earlier event of
    the session) and SUCCEED rows that follow a FAIL of the same level attempt, from the rows in index order."""
    retries = distractions = succeed_after_fail = 0
    for _, rows in raw.group_by("session_id"):
        begun, failed, latest = set(), {}, None
        for row in rows.sort("index").iter_rows(named=True):
            if latest is not None and (row["timestamp"] - latest).total_seconds() >= 60:
                distractions += 1
            latest = row["timestamp"] if latest is None else max(latest, row["timestamp"])
            if row["kind"] == "BEGIN":
                retries += row["level"] in begun
                begun.add(row["level"])
                failed[row["level"]] = False
            elif row["kind"] == "FAIL":
                failed[row["level"]] = True
            elif row["kind"] == "SUCCEED" and failed.get(row["level"]):
                succeed_after_fail += 1
                failed[row["level"]] = False
    return {"retry": retries, "distraction": distractions, "success_after_failure": succeed_after_fail}


def test_event_counts_follow_the_documented_mapping(imported, raw):
    kinds = raw.group_by("kind", "custom").len()
    def rows(kind, custom=None):
        hit = kinds.filter((pl.col("kind") == kind) & (pl.col("custom") == custom if custom else pl.lit(True)))
        return int(hit["len"].sum())
    derived = derived_counts(raw)
    want = {
        "task_start": rows("BEGIN"),
        "task_complete": rows("COMPLETE"),
        "failure": rows("FAIL"),
        "success_after_failure": derived["success_after_failure"],
        "decision_made": rows("CUSTOM", "SLIDER_MOVE_RELEASE") + rows("CUSTOM", "ARROW_MOVE_RELEASE") + rows("CUSTOM", "SKIP_BUTTON"),
        "choice_made": rows("CUSTOM", "QUESTION_ANSWER"),
        "restart": rows("CUSTOM", "RESET_BTN_PRESS"),
        "pause": rows("CUSTOM", "MENU_BUTTON") + rows("CUSTOM", "DISMISS_MENU_BUTTON"),
        "retry": derived["retry"],
        "distraction": derived["distraction"],
    }
    assert imported.events == {k: v for k, v in want.items() if v}
    assert imported.unmapped == {"succeed_without_failure": rows("SUCCEED") - derived["success_after_failure"]}
    assert (imported.rows, imported.sessions) == (raw.height, raw["session_id"].n_unique())
    assert imported.students == raw["student"].n_unique()
    counted = {}
    for event in events_of(imported):
        counted[event["event_type"]] = counted.get(event["event_type"], 0) + 1
    assert counted == imported.events


def test_batches_are_per_session_and_at_most_1000_events(imported, raw):
    sizes = raw.group_by("session_id").len()
    want_batches = sum(-(-n // 1000) for n in sizes["len"])  # a session never shrinks below its rows here
    lines = imported.output.read_text(encoding="utf-8").splitlines()
    batches = [json.loads(line) for line in lines]
    assert all(len(b["events"]) <= 1000 for b in batches)
    assert len(batches) == imported.batches >= want_batches
    assert {b["client_version"] for b in batches} == {"waves-log4"}
    assert all(b["schema_version"] == "1.0" and all("schema_version" not in e for e in b["events"]) for b in batches)
    longest = sizes.sort("len")["session_id"][-1]
    assert sum(b["batch_id"].startswith(f"waves-{longest}-") for b in batches) == 2


def test_no_ip_or_user_agent_leaves_the_importer(imported, raw):
    text = imported.output.read_text(encoding="utf-8")
    assert "203.0.113." not in text
    assert "Mozilla" not in text and "http_user_agent" not in text and "remote_addr" not in text
    assert "server_time" not in text


def test_timestamps_are_utc_and_order_is_the_log_index(imported, raw):
    by_id = {e["event_id"]: e for e in events_of(imported)}
    for row in raw.head(200).iter_rows(named=True):
        event = by_id.get(f"waves-{row['session_id']}-{row['index']}")
        if event is None:  # an unmapped SUCCEED
            continue
        assert datetime.fromisoformat(event["timestamp"]) == row["timestamp"].astimezone(timezone.utc)
        assert event["sequence"] == row["index"] and event["session_id"] == row["session_id"]
        assert event["student_id"] == row["student"]
        if row["level"] is not None:
            assert event["task_id"] == f"level-{row['level']}"
    low, high = imported.server_offset_seconds
    assert -6.1 * 3600 < low <= high < -5.9 * 3600


def test_every_event_validates_after_the_batch_envelope_is_applied(imported, registry):
    family = registry.families["learning"]
    for event in events_of(imported):
        body = {k: v for k, v in event.items() if not k.startswith("_")}
        body.update(client_version=event["_client_version"], schema_version="1.0")
        schema = registry.resolve(body)
        assert schema.family == "learning" and schema.rejection(body) is None, body
    assert family.batch["max_events"] == 1000


def test_ingest_lands_the_batches_and_rejects_an_oversized_batch_whole(imported, registry, tmp_path):
    import pyarrow.parquet as pq

    from ingest.lake import Lake
    from ingest.pipeline import IngestSettings, ingest_files

    lines = imported.output.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    template = dict(first["events"][0])
    big = {"batch_id": "too-big", "client_version": "waves-log4", "schema_version": "1.0",
           "events": [{**template, "event_id": f"big-{n}"} for n in range(1001)]}
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join([lines[0].encode(), orjson.dumps(big)]) + b"\n")
    lake = Lake(tmp_path / "lake")
    settings = IngestSettings(registry.root, b"test-key-0123456789abcdef-0123456789", "test", datetime.now(timezone.utc),
                              backfill=True)
    [result] = ingest_files([path], settings, tmp_path, registry=registry).batches
    assert result.lines_read == 2
    assert result.records_read == len(first["events"]) + 1
    assert (result.landed, result.quarantined) == (len(first["events"]), 1)
    assert result.quarantined_by_reason == {"batch_too_large": 1}
    rows = [r for f in lake.quarantine.glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert [(r["reason"], r["line_number"], r["record_index"]) for r in rows] == [("batch_too_large", 2, None)]
    from ingest.pipeline.replay import open_messages
    from ingest.privacy.keys import IdentityHasher, Keyring
    from ingest.privacy.quarantine_crypto import QuarantineCipher

    assert rows[0]["errors"][0]["keyword"] == "maxItems"  # the clear message names the rule, never values
    cipher = QuarantineCipher(Keyring.single(IdentityHasher(b"test-key-0123456789abcdef-0123456789", "test")))
    assert "1001 events" in open_messages(cipher, rows[0])[0]


def test_rerun_is_byte_identical_and_cli_works(imported, tsv, tmp_path):
    from click.testing import CliRunner

    from ingest.cli import main

    result = CliRunner().invoke(main, ["import", "waves", str(tsv), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / imported.output.name).read_bytes() == imported.output.read_bytes()


def test_bad_input_is_refused(tmp_path):
    from ingest.errors import SourceFileError
    from ingest.importers.waves import import_waves

    bad = tmp_path / "bad.tsv"
    bad.write_text("session_id\ttimestamp\n1\t2023-01-01\n")
    with pytest.raises(SourceFileError, match="missing column"):
        import_waves(bad, tmp_path / "out")
    header = "\tsession_id\tapp_id\ttimestamp\tevent_name\tevent_data\tevent_source\tapp_version\tlog_version\tindex\n"
    skewed = tmp_path / "skewed.tsv"
    data = '"{""level"": 0, ""server_time"": ""2023-02-01T16:16:46""}"'
    skewed.write_text(header + f"0\t1\tWAVES\t2023-02-01 16:16:44.5\tBEGIN.0\t{data}\tGAME\t0\t4\t0\n")
    with pytest.raises(SourceFileError, match="expected -21600"):
        import_waves(skewed, tmp_path / "out")
