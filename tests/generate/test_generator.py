"""The synthetic-player generator (ingest/generate/): determinism, validity, fault bookkeeping, play shape, memory.

Validity is checked with jsonschema straight from the schema files (not through the ingest code); the ingest's
own counts are compared with expected.json in tests/e2e/test_politics_ability.py.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from ingest.cli import main
from ingest.generate import GenerateConfig, generate
from ingest.generate.players import WEEKDAY_FACTOR, Population

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
FAMILIES = ("politics", "ability", "recsys", "gameplay", "learning")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "out"
    generate(GenerateConfig(players=20, days=3, seed=5, out=out, faults=True))
    return out


def validators() -> dict[tuple[str, str], Draft202012Validator]:
    found = {}
    for path in SCHEMAS.glob("*/*/1.0.json"):
        found[(path.parts[-3], path.parts[-2])] = Draft202012Validator(json.loads(path.read_text()))
    return found


def type_of(family: str, event: dict) -> str:
    if family == "politics":
        return event["type"].lower()
    if family == "ability":
        return "metric_summary"
    return event["event_type"]


def fault_lines(out: Path) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in (out / "faults.jsonl").read_text().splitlines()]
    return {(r["file"], r["line"]): r for r in rows}


def test_same_seed_gives_byte_identical_output(tmp_path):
    config = dict(players=25, days=2, faults=True, families=("politics", "ability", "learning"))
    generate(GenerateConfig(seed=3, out=tmp_path / "a", **config))
    generate(GenerateConfig(seed=3, out=tmp_path / "b", **config))
    generate(GenerateConfig(seed=4, out=tmp_path / "c", **config))
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert len(files_a) == 3 * 2 + 3  # family-day files + expected.json, faults.jsonl, opt_out.txt
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / "politics" / "2024-11-04.jsonl").read_bytes() != \
        (tmp_path / "c" / "politics" / "2024-11-04.jsonl").read_bytes()


def test_every_family_is_generated(dataset):
    expected = json.loads((dataset / "expected.json").read_text())
    assert expected["generator"]["families"] == list(FAMILIES)
    assert {f["family"] for f in expected["files"]} == set(FAMILIES)
    for family in FAMILIES:
        assert any(t.startswith(family + "_") for t in expected["landed_by_event_type"])


def test_valid_lines_validate_and_fault_lines_are_what_they_claim(dataset):
    """Every line not listed in faults.jsonl validates against its schema (batch envelopes: each event, after
    inheriting the batch's schema_version); every listed line is broken the way its kind says."""
    checks = validators()
    faults = fault_lines(dataset)
    expected = json.loads((dataset / "expected.json").read_text())
    seen_kinds: Counter = Counter()
    for file in expected["files"]:
        family = file["family"]
        as_of = datetime.fromisoformat(file["as_of"])
        day = date.fromisoformat(Path(file["path"]).stem)
        for number, raw in enumerate((dataset / file["path"]).read_bytes().splitlines(), start=1):
            fault = faults.get((file["path"], number))
            if fault is not None and fault["kind"] == "invalid_json":
                with pytest.raises(ValueError):
                    json.loads(raw)
                seen_kinds["invalid_json"] += 1
                continue
            line = json.loads(raw)
            if family == "learning" and "events" in line:
                if fault is not None:
                    assert fault["kind"] == "batch_too_large" and len(line["events"]) > 1000
                    seen_kinds["batch_too_large"] += 1
                    continue
                events = [{**e, "schema_version": e.get("schema_version", line["schema_version"])} for e in line["events"]]
            else:
                events = [line]
            for event in events:
                kind = fault["kind"] if fault else None
                if kind == "unknown_event_type":
                    assert (family, type_of(family, event)) not in checks
                elif kind == "unknown_schema_version":
                    version = event.get("metaVersion", event.get("v", event.get("schema_version")))
                    assert version not in (1, "1.0")
                elif kind in ("unknown_field", "seat_weight_not_positive", "unknown_metric_key", "unknown_namespace"):
                    errors = list(checks[(family, type_of(family, event))].iter_errors(event))
                    assert errors, (file["path"], number, kind)
                    keyword = {"unknown_field": "additionalProperties", "seat_weight_not_positive": "exclusiveMinimum",
                               "unknown_metric_key": "additionalProperties", "unknown_namespace": "pattern"}[kind]
                    assert keyword in {e.validator for e in errors}
                else:
                    checks[(family, type_of(family, event))].validate(event)
                    at = event_time(family, event)
                    if kind == "future_timestamp":
                        assert at > as_of + timedelta(minutes=5)
                    elif kind == "too_late":
                        assert at.date() < day - timedelta(days=2)
                    elif kind == "unknown_bill":
                        assert event["billId"] not in bills()
                    else:  # valid, landed / dropped / duplicate: dated the file's day or (late) the day before
                        assert day - timedelta(days=1) <= at.date() <= day and at < as_of
                        if family == "politics" and event["type"] == "BILL_VOTE":
                            assert event["billId"] in bills() and event["seatWeight"] > 0
                if kind:
                    seen_kinds[kind] += 1
    assert seen_kinds == Counter(expected["faults_by_kind"])


def bills() -> set[str]:
    return {line.split(",")[0] for line in (ROOT / "seeds" / "politics_bills.csv").read_text().splitlines()[1:]}


def event_time(family: str, event: dict) -> datetime:
    if family == "politics":
        return datetime.fromisoformat(event["createdAt"])
    if family == "ability":
        return datetime.fromtimestamp(event["ts"], timezone.utc)
    if family == "learning":
        return datetime.fromisoformat(event["timestamp"])
    return datetime.fromtimestamp((event.get("timestamp_ms") or event.get("ts_ms")) / 1000, timezone.utc)


def test_each_file_has_every_fault_kind_of_its_family(dataset):
    expected = json.loads((dataset / "expected.json").read_text())
    kinds = {"politics": {"seat_weight_not_positive", "unknown_bill", "unknown_event_type"},
             "ability": {"unknown_metric_key", "unknown_namespace"},
             "learning": {"batch_too_large", "unknown_event_type"},
             "recsys": {"unknown_event_type"}, "gameplay": {"unknown_event_type"}}
    generic = {"invalid_json", "unknown_field", "unknown_schema_version", "future_timestamp", "too_late", "duplicate"}
    for file in expected["files"]:
        assert set(file["faults_by_kind"]) == generic | kinds[file["family"]], file["path"]
        assert file["records"] == file["landed"] + file["quarantined"] + file["duplicates"] + file["dropped"]
    assert expected["dropped_by_reason"]["opted_out"] > 0
    assert expected["dropped_by_reason"]["sampled_out"] > 0  # gameplay heartbeats etc. (docs/requirements/gameplay.md#sampling)


def test_opt_out_list_names_players_that_play(dataset):
    ids = [line for line in (dataset / "opt_out.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert ids
    text = b"".join(p.read_bytes() for p in dataset.glob("*/*.jsonl"))
    assert all(f'"{i}"'.encode() in text for i in ids)


def test_play_shape_weekly_rhythm_churn_and_heavy_tail():
    population = Population(3000, 28, seed=1)
    intensities = sorted(p.intensity for p in population)
    assert intensities[-1] / intensities[len(intensities) // 2] > 5  # heavy right tail
    import random

    active = []
    for day in range(28):
        rng = random.Random(day)
        active.append(sum(1 for _ in population.active("politics", day, day % 7, rng)))
    weekend = sum(active[d] for d in range(28) if d % 7 in (5, 6)) / 8
    midweek = sum(active[d] for d in range(28) if d % 7 in (1, 2)) / 8
    assert weekend > 1.15 * midweek and WEEKDAY_FACTOR[5] > WEEKDAY_FACTOR[1]
    assert active[-1] < active[0]  # churn outpaces late joiners


def test_bursts_of_high_volume_politics_types(dataset):
    """BILL_VOTE, POLL_INTERVAL and LOBBY_ATTEMPT come in runs of the same type by one user; others mostly alone."""
    runs: dict[str, list[int]] = {}
    previous, length = None, 0
    for raw in (dataset / "politics" / "2024-11-04.jsonl").read_bytes().splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        key = (event.get("userId"), event.get("type"))
        if key == previous:
            length += 1
            continue
        if previous is not None:
            runs.setdefault(previous[1], []).append(length)
        previous, length = key, 1
    mean = {t: sum(v) / len(v) for t, v in runs.items()}
    assert min(mean["BILL_VOTE"], mean["POLL_INTERVAL"]) > 2.0
    assert mean["ENDORSEMENT"] < 1.5


def test_memory_does_not_grow_with_the_number_of_days(tmp_path):
    """Streaming: a run 4× longer (≈ 3× the events, churn included) peaks at about the same memory."""
    def peak(days: int) -> int:
        tracemalloc.start()
        generate(GenerateConfig(players=30, days=days, seed=2, out=tmp_path / f"d{days}",
                                families=("politics", "ability")))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(2), peak(8)
    lines = sum(1 for p in (tmp_path / "d8").glob("*/*.jsonl") for _ in p.open("rb"))
    assert lines > 2.5 * sum(1 for p in (tmp_path / "d2").glob("*/*.jsonl") for _ in p.open("rb"))
    assert long < 1.5 * short + (2 << 20), (short, long)


def test_cli_generate(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--players", "5", "--days", "1", "--seed", "9", "--out",
                                       str(tmp_path / "o"), "--families", "politics,ability"])
    assert result.exit_code == 0, result.output
    assert re.search(r"generated \d+ lines in 2 files", result.output)
    assert (tmp_path / "o" / "expected.json").exists() and not (tmp_path / "o" / "faults.jsonl").exists()
    bad = CliRunner().invoke(main, ["generate", "--players", "5", "--days", "1", "--out", str(tmp_path / "p"),
                                    "--families", "chess"])
    assert bad.exit_code == 2 and "unknown families" in bad.output
