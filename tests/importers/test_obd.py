"""Tests of the OBD importer (ingest/importers/obd.py; mapping in docs/importers/obd.md).

Expected numbers are computed here with polars straight from the CSVs (../shared/data/README.md rule), never
copied from the importer's output. Tests on the real sample skip when ../shared/data/obd is missing; the
download fallback is tested with a fake wheel and never touches the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import fastjsonschema
import polars as pl
import pytest
from jsonschema import Draft202012Validator

from ingest.errors import DownloadFailed, SourceFileError, TelemetryError
from ingest.importers import obd
from ingest.importers.obd import (
    OBD_NAMESPACE,
    import_obd,
    locate_obd_sample,
    timestamp_to_ms,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "recsys"
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_OBD = SHARED_DATA / "obd"
POLICIES = ("random", "bts")
EVENT_TYPES = ("request", "ranking", "impression", "click")

# Every key each event type may carry: the importer emits exactly these (anything else would be invented).
EXPECTED_KEYS = {
    "request": {"event_type", "schema_version", "timestamp_ms", "request_id", "experiment_id", "bucket", "k"},
    "ranking": {"event_type", "schema_version", "timestamp_ms", "request_id", "experiment_id", "bucket",
                "catalog_size", "algorithm", "items"},
    "impression": {"event_type", "schema_version", "timestamp_ms", "request_id", "experiment_id", "bucket",
                   "canonical_id", "position"},
    "click": {"event_type", "schema_version", "timestamp_ms", "request_id", "experiment_id", "bucket",
              "canonical_id", "position", "engagement_type"},
}
# Fields the OBD does not have: they must never appear.
ABSENT = {"event_id", "user_id", "session_id", "latency_ms", "coverage", "alpha", "dwell_ms", "visible_ms",
          "device_type", "surface", "filters", "region", "locale", "message"}

needs_sample = pytest.mark.skipif(not (SHARED_OBD / "random" / "all" / "all.csv").is_file(),
                                  reason="../shared/data/obd not present")


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows_of(events: list[dict]) -> list[list[dict]]:
    """Split an output stream into per-row groups: each ``request`` starts a new group."""
    groups: list[list[dict]] = []
    for event in events:
        if event["event_type"] == "request":
            groups.append([])
        groups[-1].append(event)
    return groups


def expected_frame(policy: str) -> pl.DataFrame:
    """The CSV as the importer should see it, computed independently with polars."""
    frame = pl.read_csv(SHARED_OBD / policy / "all" / "all.csv",
                        columns=["", "timestamp", "item_id", "position", "click"])
    return frame.rename({"": "row_index"}).with_columns(
        (pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S%.f%:z", time_unit="us").dt.epoch("us") // 1000)
        .alias("timestamp_ms"),
    )


@pytest.fixture(scope="module")
def validators() -> dict[str, tuple[Callable, Draft202012Validator]]:
    """event type → (fastjsonschema's validator, jsonschema's): the first checks each of the ≈ 100k lines, the
    second lists the errors of a line that fails."""
    result = {}
    for event_type in ("request", "ranking", "impression", "click", "error"):
        schema = json.loads((SCHEMAS / event_type / "1.0.json").read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        result[event_type] = (fastjsonschema.compile(schema), Draft202012Validator(schema))
    return result


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    if not (SHARED_OBD / "random" / "all" / "all.csv").is_file():
        pytest.skip("../shared/data/obd not present")
    out = tmp_path_factory.mktemp("obd_out")
    inputs = [SHARED_OBD / policy / "all" / "all.csv" for policy in POLICIES]
    return import_obd(inputs, out), out


# real sample ---------------------------------------------------------------------------------------------
@needs_sample
def test_every_line_validates_against_its_schema(imported, validators) -> None:
    result, out = imported
    assert sorted(p.name for p in out.iterdir()) == ["obd_bts_all.jsonl", "obd_random_all.jsonl"]
    for path in result.files_written:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            event = json.loads(line)
            fast, validator = validators[event["event_type"]]
            try:
                fast(event)
            except fastjsonschema.JsonSchemaValueException as error:
                errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(event)]
                pytest.fail(f"{path.name}:{number}: {errors or error.message}")


@needs_sample
@pytest.mark.parametrize("policy", POLICIES)
def test_counts_match_the_csv(imported, policy: str) -> None:
    result, out = imported
    frame = expected_frame(policy)
    rows, clicks = frame.height, int(frame["click"].sum())
    catalog = pl.read_csv(SHARED_OBD / policy / "all" / "item_context.csv")["item_id"].n_unique()
    events = read_events(out / f"obd_{policy}_all.jsonl")
    counted = {kind: sum(e["event_type"] == kind for e in events) for kind in EVENT_TYPES}
    assert counted == {"request": rows, "ranking": rows, "impression": rows, "click": clicks}
    (per_file,) = [f for f in result.per_file if f.policy == policy]
    assert per_file.rows == rows and per_file.events == counted and per_file.catalog_size == catalog
    assert per_file.output == out / f"obd_{policy}_all.jsonl" and per_file.campaign == "all"
    assert len({e["request_id"] for e in events}) == rows
    assert {e["catalog_size"] for e in events if e["event_type"] == "ranking"} == {catalog}


@needs_sample
def test_result_totals(imported) -> None:
    result, out = imported
    frames = [expected_frame(policy) for policy in POLICIES]
    rows = sum(f.height for f in frames)
    clicks = sum(int(f["click"].sum()) for f in frames)
    assert result.rows_read == rows
    assert result.events == {"request": rows, "ranking": rows, "impression": rows, "click": clicks}
    assert result.files_written == [out / "obd_random_all.jsonl", out / "obd_bts_all.jsonl"]
    assert f"total: {rows} rows" in str(result)


@needs_sample
@pytest.mark.parametrize("policy", POLICIES)
def test_each_row_maps_field_by_field(imported, policy: str) -> None:
    _, out = imported
    frame = expected_frame(policy)
    groups = rows_of(read_events(out / f"obd_{policy}_all.jsonl"))
    assert len(groups) == frame.height
    for group, row in zip(groups, frame.iter_rows(named=True)):
        clicked = row["click"] == 1
        assert [e["event_type"] for e in group] == list(EVENT_TYPES if clicked else EVENT_TYPES[:3])
        request, ranking, impression = group[:3]
        item = f"item-{row['item_id']}"
        expected_id = str(uuid.uuid5(OBD_NAMESPACE, f"{policy}/all/{row['row_index']}"))
        for event in group:
            assert event["timestamp_ms"] == row["timestamp_ms"]
            assert event["request_id"] == expected_id
            assert (event["experiment_id"], event["bucket"]) == ("obd-all", policy)
        assert request["k"] == 1
        assert ranking["algorithm"] == policy
        assert ranking["items"] == [{"canonical_id": item, "position": row["position"]}]
        assert (impression["canonical_id"], impression["position"]) == (item, row["position"])
        if clicked:
            assert (group[3]["canonical_id"], group[3]["position"], group[3]["engagement_type"]) == (
                item, row["position"], "click")


@needs_sample
def test_absent_fields_stay_absent(imported) -> None:
    result, _ = imported
    for path in result.files_written:
        for event in read_events(path):
            assert set(event) == EXPECTED_KEYS[event["event_type"]]
            assert not ABSENT & set(event)
            for item in event.get("items", []):
                assert set(item) == {"canonical_id", "position"}  # no score: propensity is not a ranker score


@needs_sample
def test_output_is_byte_identical_across_runs(imported, tmp_path: Path) -> None:
    result, out = imported
    inputs = [SHARED_OBD / policy / "all" / "all.csv" for policy in POLICIES]
    again = import_obd(inputs, tmp_path)
    for first, second in zip(result.files_written, again.files_written):
        assert first.read_bytes() == second.read_bytes()
    rerun = import_obd(inputs, tmp_path)  # into the same folder: replaced, identical, no temporary leftovers
    assert [p.read_bytes() for p in rerun.files_written] == [p.read_bytes() for p in result.files_written]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obd_bts_all.jsonl", "obd_random_all.jsonl"]


@needs_sample
def test_locate_prefers_the_shared_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(obd, "_download_wheel", lambda cache_dir: pytest.fail("must not download"))
    assert locate_obd_sample(SHARED_DATA, tmp_path / "cache") == SHARED_OBD
    assert not (tmp_path / "cache").exists()


# small synthetic inputs -------------------------------------------------------------------------------------
HEADER = ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0\n"


def write_campaign(root: Path, policy: str = "random", campaign: str = "all", rows: list[str] | None = None,
                   catalog: tuple[int, ...] = (0, 1, 2), header: str = HEADER) -> Path:
    folder = root / policy / campaign
    folder.mkdir(parents=True, exist_ok=True)
    if rows is None:
        rows = ["0,2019-11-24 00:00:34.762830+00:00,1,3,0,0.0125,abc,0.0",
                "1,2019-11-24 00:00:35.000999+00:00,2,1,1,0.0125,abc,0.0"]
    path = folder / f"{campaign}.csv"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    (folder / "item_context.csv").write_text(
        ",item_id,item_feature_0\n" + "".join(f"{i},{i},0.5\n" for i in catalog), encoding="utf-8")
    return path


def test_small_input_maps_exactly(tmp_path: Path, validators) -> None:
    source = write_campaign(tmp_path / "in", policy="bts", campaign="men", catalog=(0, 1, 2, 3))
    result = import_obd([source], tmp_path / "out" / "nested")
    (output,) = result.files_written
    assert output == tmp_path / "out" / "nested" / "obd_bts_men.jsonl"
    events = read_events(output)
    rid0 = str(uuid.uuid5(OBD_NAMESPACE, "bts/men/0"))
    rid1 = str(uuid.uuid5(OBD_NAMESPACE, "bts/men/1"))
    common0 = {"schema_version": "1.0", "timestamp_ms": 1574553634762, "request_id": rid0,
               "experiment_id": "obd-men", "bucket": "bts"}
    common1 = {**common0, "timestamp_ms": 1574553635000, "request_id": rid1}
    assert events == [
        {"event_type": "request", **common0, "k": 1},
        {"event_type": "ranking", **common0, "catalog_size": 4, "algorithm": "bts",
         "items": [{"canonical_id": "item-1", "position": 3}]},
        {"event_type": "impression", **common0, "canonical_id": "item-1", "position": 3},
        {"event_type": "request", **common1, "k": 1},
        {"event_type": "ranking", **common1, "catalog_size": 4, "algorithm": "bts",
         "items": [{"canonical_id": "item-2", "position": 1}]},
        {"event_type": "impression", **common1, "canonical_id": "item-2", "position": 1},
        {"event_type": "click", **common1, "canonical_id": "item-2", "position": 1, "engagement_type": "click"},
    ]
    for event in events:
        validators[event["event_type"]][1].validate(event)  # jsonschema: the reference validator
    assert result.rows_read == 2
    assert result.events == {"request": 2, "ranking": 2, "impression": 2, "click": 1}
    assert output.read_bytes().endswith(b"}\n") and b" " not in output.read_bytes()


def test_empty_csv_writes_an_empty_file(tmp_path: Path) -> None:
    result = import_obd([write_campaign(tmp_path, rows=[])], tmp_path / "out")
    assert result.files_written[0].read_bytes() == b""
    assert result.rows_read == 0 and result.events == dict.fromkeys(EVENT_TYPES, 0)


@pytest.mark.parametrize(("value", "expected"), [
    ("2019-11-24 00:00:34.762830+00:00", 1574553634762),
    ("2019-11-24 00:00:34.762999+00:00", 1574553634762),  # floored, not rounded
    ("2019-11-24 00:00:34+00:00", 1574553634000),
    ("2019-11-24 09:00:34.762830+09:00", 1574553634762),  # other offsets convert to UTC
    ("1970-01-01 00:00:00.000999+00:00", 0),
])
def test_timestamp_to_ms(value: str, expected: int) -> None:
    assert timestamp_to_ms(value) == expected


@pytest.mark.parametrize("value", ["2019-11-24 00:00:34.762830", "yesterday", "1969-12-31 23:59:59.999+00:00"])
def test_timestamp_to_ms_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        timestamp_to_ms(value)


@pytest.mark.parametrize(("row", "message"), [
    ("1,2019-11-24 00:00:36+00:00,9,1,0,0.0125,abc,0.0", "item_id 9 not in item_context.csv"),
    ("1,2019-11-24 00:00:36+00:00,1,4,0,0.0125,abc,0.0", "position 4 out of range (1..3)"),
    ("1,2019-11-24 00:00:36+00:00,1,0,0,0.0125,abc,0.0", "position 0 out of range (1..3)"),
    ("1,2019-11-24 00:00:36+00:00,1,1,2,0.0125,abc,0.0", "click '2' is not 0 or 1"),
    ("1,2019-11-24 00:00:36,1,1,0,0.0125,abc,0.0", "has no UTC offset"),
    ("1,not a time,1,1,0,0.0125,abc,0.0", "timestamp:"),
    ("x,2019-11-24 00:00:36+00:00,1,1,0,0.0125,abc,0.0", "row index 'x' is not an integer"),
    ("0,2019-11-24 00:00:36+00:00,1,1,0,0.0125,abc,0.0", "duplicate row index 0"),
    ("1,2019-11-24 00:00:36+00:00,1.5,1,0,0.0125,abc,0.0", "item_id '1.5' is not an integer"),
    ("1,2019-11-24 00:00:36+00:00", "row has 2 columns, needs 5"),
])
def test_bad_row_is_refused_with_path_and_line(tmp_path: Path, row: str, message: str) -> None:
    source = write_campaign(tmp_path / "in", rows=["0,2019-11-24 00:00:35+00:00,1,1,0,0.0125,abc,0.0", row])
    out = tmp_path / "out"
    with pytest.raises(SourceFileError) as caught:
        import_obd([source], out)
    error = caught.value
    assert (error.path, error.line) == (str(source), 3)
    assert message in error.message
    assert str(error).startswith(f"{source}:3: ")
    assert isinstance(error, TelemetryError)
    assert list(out.iterdir()) == []  # neither the output nor a temporary file is left behind


def test_layout_errors(tmp_path: Path) -> None:
    good = write_campaign(tmp_path / "in")
    wrong_policy = write_campaign(tmp_path / "in", policy="greedy")
    wrong_campaign = write_campaign(tmp_path / "in", campaign="kids")
    for source, message in ((wrong_policy, "found policy folder 'greedy'"),
                            (wrong_campaign, "found campaign folder 'kids'")):
        with pytest.raises(SourceFileError, match=message) as caught:
            import_obd([good, source], tmp_path / "out")
        assert caught.value.line is None
    assert not (tmp_path / "out").exists()  # every path is checked before anything is written

    (good.parent / "item_context.csv").unlink()
    with pytest.raises(SourceFileError, match="item catalog item_context.csv missing") as caught:
        import_obd([good], tmp_path / "out")
    assert caught.value.path == str(good.parent / "item_context.csv")

    with pytest.raises(SourceFileError, match="no such file"):
        import_obd([tmp_path / "in" / "bts" / "all" / "all.csv"], tmp_path / "out")


def test_missing_column_and_duplicate_outputs(tmp_path: Path) -> None:
    source = write_campaign(tmp_path / "a", header=",timestamp,item_id,click\n",
                            rows=["0,2019-11-24 00:00:35+00:00,1,0"])
    with pytest.raises(SourceFileError, match="missing column\\(s\\): position") as caught:
        import_obd([source], tmp_path / "out")
    assert caught.value.line == 1

    first, second = write_campaign(tmp_path / "b"), write_campaign(tmp_path / "c")
    with pytest.raises(SourceFileError, match="both would write obd_random_all.jsonl"):
        import_obd([first, second], tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_bad_catalog(tmp_path: Path) -> None:
    source = write_campaign(tmp_path, catalog=(0, 1, 1))
    with pytest.raises(SourceFileError, match="duplicate item_id 1") as caught:
        import_obd([source], tmp_path / "out")
    assert caught.value.line == 4
    write_campaign(tmp_path, catalog=())
    with pytest.raises(SourceFileError, match="item catalog is empty"):
        import_obd([source], tmp_path / "out")


# locate_obd_sample: download fallback with a fake wheel (no network) ------------------------------------
SAMPLE_CSV = HEADER + "0,2019-11-24 00:00:34.762830+00:00,1,3,1,0.0125,abc,0.0\n"
CATALOG_CSV = ",item_id,item_feature_0\n0,0,0.5\n1,1,0.5\n"


def build_fake_wheel(folder: Path, members: dict[str, str] | None = None) -> Path:
    """A tiny stand-in for obp-0.4.1-py3-none-any.whl: the obd tree, a junk dot file, code, a licence."""
    if members is None:
        members = {"obp/__init__.py": "", "obp/dataset/__init__.py": "", "obp/dataset/obd/.DS_Store": "junk",
                   "obp-0.4.1.dist-info/LICENSE": "Apache License 2.0\n"}
        for policy in POLICIES:
            for campaign in ("all", "men"):
                members[f"obp/dataset/obd/{policy}/{campaign}/{campaign}.csv"] = SAMPLE_CSV
                members[f"obp/dataset/obd/{policy}/{campaign}/item_context.csv"] = CATALOG_CSV
                members[f"obp/dataset/obd/{policy}/{campaign}/.DS_Store"] = "junk"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "obp-0.4.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("obp/dataset/obd/", "")  # a directory entry, as some wheels carry
        for name, text in members.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture
def fake_download(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the pip step with one that drops a fake wheel; the list records each call's cache folder."""
    calls: list[Path] = []

    def download(cache_dir: Path) -> Path:
        calls.append(cache_dir)
        return build_fake_wheel(cache_dir)

    monkeypatch.setattr(obd, "_download_wheel", download)
    return calls


def test_locate_downloads_and_extracts_once(tmp_path: Path, fake_download: list[Path]) -> None:
    cache = tmp_path / "cache"
    found = locate_obd_sample(tmp_path / "no-shared-data", cache)
    assert found == cache / "obd" and fake_download == [cache]
    extracted = sorted(str(p.relative_to(found)) for p in found.rglob("*") if p.is_file())
    assert extracted == ["LICENSE"] + sorted(f"{policy}/{campaign}/{name}" for policy in POLICIES
                                             for campaign in ("all", "men")
                                             for name in (f"{campaign}.csv", "item_context.csv"))
    assert (found / "random" / "all" / "all.csv").read_text(encoding="utf-8") == SAMPLE_CSV
    assert (found / "LICENSE").read_text(encoding="utf-8").startswith("Apache")
    stamp = (found / "bts" / "all" / "all.csv").stat().st_mtime_ns

    assert locate_obd_sample(None, cache) == found  # idempotent: no second download, nothing rewritten
    assert fake_download == [cache]
    assert (found / "bts" / "all" / "all.csv").stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no temporary folder left

    result = import_obd([found / policy / "all" / "all.csv" for policy in POLICIES], tmp_path / "out")
    assert result.events == {"request": 2, "ranking": 2, "impression": 2, "click": 2}


def test_locate_reuses_a_cached_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_fake_wheel(tmp_path)
    monkeypatch.setattr(obd, "_download_wheel", lambda cache_dir: pytest.fail("must not download"))
    assert (locate_obd_sample(None, tmp_path) / "bts" / "men" / "men.csv").is_file()


def test_download_runs_pip_and_reports_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def failing_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="ERROR: Could not find a version\n")

    monkeypatch.setattr(obd.subprocess, "run", failing_run)
    with pytest.raises(DownloadFailed, match="failed \\(exit 1\\): ERROR: Could not find a version") as caught:
        locate_obd_sample(None, tmp_path / "cache")
    assert caught.value.retryable and caught.value.exit_code == 3  # a download may succeed later
    assert seen == [[sys.executable, "-m", "pip", "download", "--no-deps", "obp==0.4.1", "-d",
                     str(tmp_path / "cache")]]
    assert not (tmp_path / "cache" / "obd").exists()


def test_download_without_wheel_or_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(obd.subprocess, "run",
                        lambda command, **kwargs: subprocess.CompletedProcess(command, 0, stdout="", stderr=""))
    with pytest.raises(DownloadFailed, match="left no obp-0.4.1 wheel"):
        locate_obd_sample(None, tmp_path / "a")

    def no_python(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(obd.subprocess, "run", no_python)
    with pytest.raises(DownloadFailed, match="cannot run pip"):
        locate_obd_sample(None, tmp_path / "b")


@pytest.mark.parametrize(("members", "message"), [
    ({"obp/__init__.py": ""}, "no OBD sample"),
    ({"obp/dataset/obd/random/all/all.csv": SAMPLE_CSV}, "no OBD sample"),
    ({"obp/dataset/obd/../../evil.txt": "x"}, "unsafe member path"),
])
def test_bad_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: dict[str, str], message: str) -> None:
    monkeypatch.setattr(obd, "_download_wheel", lambda cache_dir: build_fake_wheel(cache_dir, members))
    with pytest.raises(DownloadFailed, match=message):
        locate_obd_sample(None, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obp-0.4.1-py3-none-any.whl"]
    assert not (tmp_path.parent / "evil.txt").exists()


def test_not_a_zip_and_incomplete_cache(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "obp-0.4.1-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(DownloadFailed, match="not a wheel"):
        locate_obd_sample(None, tmp_path / "a")

    (tmp_path / "b" / "obd" / "random").mkdir(parents=True)
    with pytest.raises(DownloadFailed, match="remove it and retry"):
        locate_obd_sample(None, tmp_path / "b")
