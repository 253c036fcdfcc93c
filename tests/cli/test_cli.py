"""The ``telemetry`` command end to end in a temporary data directory: help, exit codes, printed accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main

ROOT = Path(__file__).resolve().parents[2]


def example(registry, kind: str) -> dict:
    return registry.families["recsys"].latest(kind).document["examples"][0]


@pytest.mark.parametrize("command", [[], ["ingest"], ["schemas"], ["schemas", "list"], ["schemas", "check"],
                                     ["schemas", "sources"], ["import"], ["import", "obd"], ["dbt"], ["demo"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.slow
def test_ingest_end_to_end_as_a_subprocess(registry, tmp_path):
    """The installed console script, a real process, a temp data dir given by the environment variable."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(example(registry, "request")) + "\n{oops\n")
    env = {**os.environ, "TELEMETRY_DATA_DIR": str(tmp_path / "d")}
    telemetry = Path(sys.executable).with_name("telemetry")
    run = subprocess.run([str(telemetry), "ingest", str(path), "--as-of", "2024-11-24T12:00:00Z"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "read 2 = landed 1 + quarantined 1 + duplicates 0 + dropped 0" in run.stderr + run.stdout
    assert list((tmp_path / "d" / "lake" / "events" / "event_type=recsys_request").glob("*/*.parquet"))
    strict = subprocess.run([str(telemetry), "ingest", str(path), "--strict", "--data-dir", str(tmp_path / "e"),
                             "--as-of", "2024-11-24T12:00:00Z"], env=env, capture_output=True, text=True)
    assert strict.returncode == 1


def test_missing_hash_key_is_a_clear_usage_error(registry, tmp_path, monkeypatch):
    monkeypatch.delenv("TELEMETRY_HASH_KEY")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(example(registry, "request")) + "\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "TELEMETRY_HASH_KEY" in result.output
    assert not (tmp_path / "d" / "lake" / "events").exists()


def test_key_file_and_short_key(registry, tmp_path, monkeypatch):
    monkeypatch.delenv("TELEMETRY_HASH_KEY")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(example(registry, "request")) + "\n")
    short = tmp_path / "short.key"
    short.write_text("tiny")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--hash-key-file", str(short)])
    assert result.exit_code == 2 and "at least 32 bytes are required" in result.output
    good = tmp_path / "good.key"
    good.write_text("a-long-enough-secret-key-0123456789\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--hash-key-file", str(good),
                                       "--as-of", "2024-11-24T12:00:00Z"])
    assert result.exit_code == 0, result.output


def test_missing_input_is_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "nope.jsonl"), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_bad_as_of_is_exit_2(registry, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("{}\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--data-dir", str(tmp_path / "d"), "--as-of", "yesterday"])
    assert result.exit_code == 2


def test_folder_input_and_rerun_is_idempotent(registry, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(example(registry, "request")) + "\n")
    (folder / "b.jsonl").write_text(json.dumps(example(registry, "click")) + "\n")
    (folder / "notes.txt").write_text("not telemetry")
    args = ["ingest", str(folder), "--data-dir", str(tmp_path / "d"), "--as-of", "2024-11-24T12:00:00Z"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and "total: read 2 = landed 2" in first.output
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and "total: read 0 = landed 0" in second.output
    assert second.output.count("already in the ledger") == 2


def test_schemas_check_and_list():
    result = CliRunner().invoke(main, ["schemas", "check"])
    assert result.exit_code == 0 and "ok: " in result.output
    listing = CliRunner().invoke(main, ["schemas", "list"])
    assert "recsys_impression" in listing.output


def test_schemas_check_fails_on_a_broken_registry(tmp_path):
    import shutil

    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    target = tmp_path / "schemas" / "recsys" / "click" / "1.0.json"
    document = json.loads(target.read_text())
    document["examples"][0]["engagement_type"] = "stare"
    target.write_text(json.dumps(document))
    result = CliRunner().invoke(main, ["schemas", "check", "--schemas", str(tmp_path / "schemas")])
    assert result.exit_code == 1 and "examples[0] does not validate" in result.output


@pytest.mark.parametrize(("args", "expected"), [
    (["build"], ["build", "--exclude-resource-type", "unit_test"]),
    (["build", "--select", "+agg_recsys_daily"], ["build", "--select", "+agg_recsys_daily", "--exclude-resource-type", "unit_test"]),
    (["build", "--resource-type", "unit_test"], ["build", "--resource-type", "unit_test"]),
    (["build", "--exclude-resource-types=test"], ["build", "--exclude-resource-types=test"]),
    (["test"], ["test"]),
    (["run", "--select", "build"], ["run", "--select", "build"]),
])
def test_the_daily_build_leaves_unit_tests_to_development(args, expected):
    from ingest.cli.warehouse import daily_build_args

    assert daily_build_args(args) == expected
