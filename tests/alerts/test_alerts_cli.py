"""``telemetry alerts send|list`` and the send after ``telemetry dbt build``: exit codes, masked secrets, and a
build whose outcome never depends on delivery."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from alerts_support import config_file

from ingest.cli import warehouse as warehouse_cli
from ingest.cli.main import main
from ingest.warehouse.dbt import DbtRun

SECRET = "T000/B000/XXXXsecretXXXX"


def _run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_send_delivers_and_never_prints_the_secret(tmp_path, receiver, data_dir):
    path = config_file(tmp_path, [{"name": "team", "type": "slack", "url": receiver.url(f"/services/{SECRET}?token=abc")}])
    result = _run(["alerts", "send", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": str(path)})
    assert result.exit_code == 0, result.output
    assert len(receiver.requests) == 8
    assert SECRET not in result.output and "token=abc" not in result.output
    assert f"team {receiver.base}/*** 8 sent, 0 pending" in result.output
    assert "alerts: 8 detected (8 new)" in result.output


def test_dry_run_lists_what_would_be_sent(tmp_path, receiver, data_dir):
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
    result = _run(["alerts", "send", "--dry-run", "--config", str(path), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert receiver.requests == []
    assert sum(line.startswith("ops ") for line in result.output.splitlines()) == 8
    assert "8 would send" in result.output


def test_pending_deliveries_exit_3(tmp_path, data_dir):
    path = config_file(tmp_path, [{"name": "down", "type": "webhook", "url": "http://127.0.0.1:9/hook"}], max_attempts=1)
    result = _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)])
    assert result.exit_code == 3
    assert "8 alert deliver(ies) pending for down" in result.output


@pytest.mark.parametrize("document, message", [
    ({"destinations": [{"name": "x", "type": "pager", "url": "https://h/p"}]}, "'type' must be one of webhook, slack, email"),
    ({"destinations": [{"name": "x", "type": "email", "url": "smtp://u:pw@h"}]}, "e-mail needs 'from'"),
    ({"destinations": [{"name": "x", "type": "email", "url": f"https://h/{SECRET}", "from": "a@b", "to": ["c@d"]}]},
     "'url' must be a smtp or smtps URL"),
    ({"destinations": [{"name": "x", "type": "slack", "url": f"ftp://h/{SECRET}"}]}, "'url' must be a http or https URL"),
    ({"destinations": [{"name": "x", "type": "slack", "url": "https://h/p", "sources": ["nope"]}]}, "'sources'"),
    ({"destinations": [], "max_attempts": 0}, "max_attempts must be a positive number"),
    ({"destination": []}, "expected an object with a 'destinations' list"),
])
def test_a_bad_destinations_file_is_a_usage_error(tmp_path, data_dir, document, message):
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps(document))
    result = _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and message in result.output
    assert SECRET not in result.output


def test_send_without_a_destinations_file_is_a_usage_error(data_dir):
    result = _run(["alerts", "send", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": ""})
    assert result.exit_code == 2 and "TELEMETRY_ALERTS_FILE" in result.output


def test_list_shows_delivery_status(tmp_path, receiver, data_dir):
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
    before = _run(["alerts", "list", "--config", str(path), "--data-dir", str(data_dir)])
    assert before.exit_code == 0 and "8 alert(s)" in before.output
    assert before.output.count("[ops: pending]") == 8 and receiver.requests == []
    receiver.script["/hook"] = [400]
    _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)])
    rows = [json.loads(line) for line in _run(["alerts", "list", "--json", "--config", str(path),
                                                "--data-dir", str(data_dir)]).output.splitlines()]
    assert Counter(r["deliveries"]["ops"] for r in rows) == {"sent": 7, "pending": 1}
    pending = _run(["alerts", "list", "--pending", "--config", str(path), "--data-dir", str(data_dir)])
    assert "1 alert(s)" in pending.output


def _fake_build(monkeypatch, returncode: int) -> list:
    calls = []

    def run_dbt(args, data_dir, check=True, quiet=False):
        calls.append(args)
        return DbtRun(list(args), returncode, 0.1, Path(data_dir) / "dbt" / "logs" / "dbt.log")

    monkeypatch.setattr(warehouse_cli, "run_dbt", run_dbt)
    return calls


@pytest.mark.parametrize("returncode", [0, 1])
def test_a_build_sends_new_alerts_after_it(tmp_path, receiver, data_dir, monkeypatch, returncode):
    _fake_build(monkeypatch, returncode)
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
    result = _run(["dbt", "build", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": str(path)})
    assert result.exit_code == returncode  # a failed build still tells about its failing tests
    assert len(receiver.requests) == 8 and "8 sent, 0 pending" in result.output


@pytest.mark.parametrize("returncode", [0, 1])
@pytest.mark.parametrize("problem", ["unreachable", "refused", "broken file", "missing file", "internal"])
def test_delivery_problems_never_change_the_build_outcome(tmp_path, receiver, data_dir, monkeypatch, returncode,
                                                          problem):
    _fake_build(monkeypatch, returncode)
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
                       max_attempts=2)
    if problem == "refused":
        path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
        receiver.script["/hook"] = [400] * 8
    elif problem == "broken file":
        path.write_text("{not json")
    elif problem == "missing file":
        path = tmp_path / "nowhere.json"
    elif problem == "internal":
        def explode(*args, **kwargs):
            raise RuntimeError("boom")
        monkeypatch.setattr("ingest.alerts.outbox.detect", explode)
    result = _run(["dbt", "build", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": str(path)})
    assert result.exit_code == returncode
    assert "alerts: " in result.output
    expected = {"unreachable": "8 pending", "refused": "8 pending", "broken file": "not sent",
                "missing file": "not sent", "internal": "not sent"}[problem]
    assert expected in result.output


def test_without_destinations_a_build_sends_nothing(data_dir, monkeypatch):
    _fake_build(monkeypatch, 0)
    result = _run(["dbt", "build", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": ""})
    assert result.exit_code == 0 and "alerts" not in result.output
    assert not (data_dir / "alerts").exists()


def test_other_dbt_commands_send_nothing(tmp_path, receiver, data_dir, monkeypatch):
    _fake_build(monkeypatch, 0)
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
    result = _run(["dbt", "compile", "--data-dir", str(data_dir)], env={"TELEMETRY_ALERTS_FILE": str(path)})
    assert result.exit_code == 0 and receiver.requests == []


def test_mark_sent_starts_a_destination_from_now(tmp_path, receiver, data_dir):
    path = config_file(tmp_path, [{"name": "ops", "type": "webhook", "url": receiver.url("/hook")}])
    marked = _run(["alerts", "send", "--mark-sent", "--config", str(path), "--data-dir", str(data_dir)])
    assert marked.exit_code == 0 and receiver.requests == []
    assert _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)]).exit_code == 0
    assert receiver.requests == []
    with_new = json.loads((data_dir / "dbt" / "target" / "run_results.json").read_text())
    with_new["results"].append({"unique_id": "test.game_telemetry.brand_new.1", "status": "fail", "failures": 1,
                                "message": "Got 1 result, configured to fail if != 0"})
    (data_dir / "dbt" / "target" / "run_results.json").write_text(json.dumps(with_new))
    assert _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)]).exit_code == 0
    assert [r.body["key"]["test"] for r in receiver.requests] == ["test.game_telemetry.brand_new.1"]


def test_an_unusable_url_is_refused_without_quoting_it(tmp_path, data_dir):
    path = config_file(tmp_path, [{"name": "odd", "type": "webhook", "url": f"http://127.0.0.1:99999/{SECRET}"}])
    result = _run(["alerts", "send", "--config", str(path), "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "(odd): 'url' must be a http or https URL" in result.output
    assert SECRET not in result.output and "99999" not in result.output
