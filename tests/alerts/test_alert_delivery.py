"""Delivery of alerts to a local HTTP receiver: every source, payload shapes, retry, de-duplication, crashes,
and that no raw identifier leaves."""

from __future__ import annotations

import json

import pytest
from alerts_support import PLAYER_KEY, RAW_ID, TEST_ERROR, TEST_FAIL, TEST_PASS, TEST_WARN, config_file, write_run_results

from ingest.alerts import load_config, send_alerts
from ingest.alerts.outbox import Outbox

# The alerts the fixture marts hold, by hand from tests/alerts/conftest.py: (source, key)
EXPECTED = {
    ("ability_anomaly", (("entry", "ability.cleave"), ("event_date", "2024-01-01"), ("rule_id", "high_damage_per_cast"), ("tier", 1))),
    ("ability_anomaly", (("entry", "contract.soul_tithe"), ("event_date", "2024-01-02"), ("rule_id", "inefficient_sustain"), ("tier", 3))),
    ("gameplay_session_variance", (("session_date", "2024-01-02"),)),
    ("experiment_srm", (("experiment_id", "exp_a"), ("period_grain", "week"), ("week_start", "2024-01-01"))),
    ("experiment_guardrail", (("experiment_id", "exp_a"), ("metric", "latency_p95_ms"), ("period_grain", "week"),
                              ("treatment_bucket", "treatment"), ("week_start", "2024-01-01"))),
    ("dq_test", (("episode", 1), ("status", "warn"), ("test", TEST_WARN))),
    ("dq_test", (("episode", 1), ("status", "fail"), ("test", TEST_FAIL))),
    ("dq_test", (("episode", 1), ("status", "error"), ("test", TEST_ERROR))),
}


class Sleeps(list):
    """Records the backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _key(body: dict) -> tuple:
    return body["source"], tuple(sorted(body["key"].items()))


def _config(tmp_path, receiver, *kinds, **settings):
    destinations = [{"name": f"{kind}-dest", "type": kind, "url": receiver.url(f"/{kind}")} for kind in kinds]
    return load_config(config_file(tmp_path, destinations, **settings))


def test_every_source_is_delivered_once_as_json(tmp_path, receiver, data_dir):
    report = send_alerts(data_dir, _config(tmp_path, receiver, "webhook"), sleep=Sleeps())
    bodies = [r.body for r in receiver.on("/webhook")]
    assert sorted(map(_key, bodies)) == sorted(EXPECTED)
    assert (report.detected, report.new, report.pending) == (8, 8, 0)
    assert report.destinations[0].sent == 8
    ability = next(b for b in bodies if b["key"].get("entry") == "ability.cleave")
    assert ability["severity"] == "warning" and ability["version"] == 1
    assert ability["details"]["observed_value"] == 160.0 and ability["details"]["limit_value"] == 125.0
    assert "160" in ability["text"] and "125" in ability["text"]
    variance = next(b for b in bodies if b["source"] == "gameplay_session_variance")
    assert variance["details"]["variance_rate"] == 0.1 and "10.0%" in variance["text"]
    for request in receiver.on("/webhook"):  # the idempotency key is stable, in body and header
        assert request.headers["idempotency-key"] == request.body["idempotency_key"]
        assert request.headers["content-type"] == "application/json"
    assert len({b["idempotency_key"] for b in bodies}) == 8


def test_slack_payload_is_an_incoming_webhook_message(tmp_path, receiver, data_dir):
    send_alerts(data_dir, _config(tmp_path, receiver, "slack"), sleep=Sleeps())
    bodies = [r.body for r in receiver.on("/slack")]
    assert len(bodies) == 8
    for body in bodies:
        assert set(body) == {"text", "blocks"}
        assert body["text"].startswith(("[warning] ", "[critical] "))
        assert [block["type"] for block in body["blocks"]] == ["section", "context"]
        assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    srm = next(b for b in bodies if "Sample ratio mismatch in exp_a" in b["text"])
    assert srm["text"].startswith("[critical] ")


def test_a_destination_gets_only_its_sources(tmp_path, receiver, data_dir):
    config = load_config(config_file(tmp_path, [
        {"name": "balance", "type": "slack", "url": receiver.url("/balance"), "sources": ["ability_anomaly"]}]))
    send_alerts(data_dir, config, sleep=Sleeps())
    assert {r.body["text"].split(": ")[0] for r in receiver.on("/balance")} == \
        {"[warning] High damage anomaly", "[warning] Inefficient sustain"}


def test_transient_errors_are_retried_with_backoff_then_succeed(tmp_path, receiver, data_dir):
    receiver.script["/webhook"] = [503, 503]
    sleeps = Sleeps()
    report = send_alerts(data_dir, _config(tmp_path, receiver, "webhook", backoff_seconds=1.0), sleep=sleeps)
    first, second, third = receiver.on("/webhook")[:3]
    assert first.body["idempotency_key"] == second.body["idempotency_key"] == third.body["idempotency_key"]
    assert len(receiver.on("/webhook")) == 8 + 2
    assert report.pending == 0 and report.destinations[0].retries == 2
    # 1 s then 2 s, each jittered to 50–100 %
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    state = Outbox.load(data_dir).deliveries[first.body["idempotency_key"]]["webhook-dest"]
    assert state["status"] == "sent" and state["attempts"] == 3


def test_retry_after_is_honoured(tmp_path, receiver, data_dir):
    receiver.script["/webhook"] = [429]
    receiver.retry_after["/webhook"] = "7"
    sleeps = Sleeps()
    report = send_alerts(data_dir, _config(tmp_path, receiver, "webhook", backoff_seconds=0.01), sleep=sleeps)
    assert sleeps == [7.0] and report.pending == 0


def test_a_client_error_is_not_retried_and_stays_pending(tmp_path, receiver, data_dir):
    receiver.script["/webhook"] = [400]
    sleeps = Sleeps()
    config = _config(tmp_path, receiver, "webhook")
    report = send_alerts(data_dir, config, sleep=sleeps)
    assert sleeps == [] and len(receiver.on("/webhook")) == 8  # the 400 once, then the 7 others
    assert report.pending == 1 and report.destinations[0].sent == 7
    assert "HTTP 400 after 1 attempt(s)" in report.summary()
    refused = receiver.requests[0].body["idempotency_key"]
    again = send_alerts(data_dir, config, sleep=sleeps)  # the next run tries it again, and only it
    assert [r.body["idempotency_key"] for r in receiver.requests[8:]] == [refused]
    assert again.pending == 0 and again.new == 0


def test_exhausted_retries_leave_the_destination_for_the_next_run(tmp_path, receiver, data_dir):
    receiver.script["/webhook"] = [503] * 3
    config = _config(tmp_path, receiver, "webhook", max_attempts=3)
    report = send_alerts(data_dir, config, sleep=Sleeps())
    assert len(receiver.on("/webhook")) == 3  # three attempts at the first alert, then the destination is down
    assert report.pending == 8 and report.destinations[0].sent == 0
    report = send_alerts(data_dir, config, sleep=Sleeps())
    assert report.pending == 0 and report.destinations[0].sent == 8
    assert sorted(_key(r.body) for r in receiver.requests[3:]) == sorted(EXPECTED)


def test_connection_refused_is_transient(tmp_path, data_dir):
    config = load_config(config_file(tmp_path, [{"name": "down", "type": "webhook", "url": "http://127.0.0.1:9/x"}],
                                     max_attempts=2))
    sleeps = Sleeps()
    report = send_alerts(data_dir, config, sleep=sleeps)
    assert report.pending == 8 and len(sleeps) == 1
    assert "connection error" in report.summary()


def test_alerts_are_sent_once_across_runs(tmp_path, receiver, data_dir):
    config = _config(tmp_path, receiver, "webhook", "slack")
    send_alerts(data_dir, config, sleep=Sleeps())
    second = send_alerts(data_dir, config, sleep=Sleeps())
    assert len(receiver.on("/webhook")) == 8 and len(receiver.on("/slack")) == 8
    assert (second.detected, second.new, second.pending) == (8, 0, 0)
    assert [d.sent for d in second.destinations] == [0, 0]
    lines = (data_dir / "alerts" / "outbox.jsonl").read_text().splitlines()
    assert len(lines) == 8 and len({json.loads(line)["alert_id"] for line in lines}) == 8


def test_a_new_destination_gets_what_it_has_not_received(tmp_path, receiver, data_dir):
    send_alerts(data_dir, _config(tmp_path, receiver, "webhook"), sleep=Sleeps())
    send_alerts(data_dir, _config(tmp_path, receiver, "webhook", "slack"), sleep=Sleeps())
    assert len(receiver.on("/webhook")) == 8 and len(receiver.on("/slack")) == 8


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


def test_a_crash_between_send_and_record_resends_at_most_that_alert(tmp_path, receiver, data_dir, monkeypatch):
    config = _config(tmp_path, receiver, "webhook")
    original = Outbox.record
    calls = []

    def crash_on_third(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 3:  # the receiver accepted the third alert; the process dies before recording it
            raise Crash()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Outbox, "record", crash_on_third)
    with pytest.raises(Crash):
        send_alerts(data_dir, config, sleep=Sleeps())
    monkeypatch.setattr(Outbox, "record", original)
    send_alerts(data_dir, config, sleep=Sleeps())
    keys = [r.body["idempotency_key"] for r in receiver.on("/webhook")]
    assert len(keys) == 9 and len(set(keys)) == 8
    third = keys[2]
    assert keys.count(third) == 2  # the resend carries the same idempotency key
    assert send_alerts(data_dir, config, sleep=Sleeps()).destinations[0].sent == 0


def test_dbt_test_alerts_follow_episodes(tmp_path, receiver, data_dir):
    config = _config(tmp_path, receiver, "webhook")
    send_alerts(data_dir, config, sleep=Sleeps())
    # the same failures in the next build: nothing new
    assert send_alerts(data_dir, config, sleep=Sleeps()).new == 0
    # the failing test passes, then fails again: a new alert (episode 2); the warning still warns: nothing
    write_run_results(data_dir, {TEST_WARN: "warn", TEST_FAIL: "pass", TEST_ERROR: "error", TEST_PASS: "pass"})
    assert send_alerts(data_dir, config, sleep=Sleeps()).new == 0
    write_run_results(data_dir, {TEST_WARN: "warn", TEST_FAIL: "fail", TEST_ERROR: "error", TEST_PASS: "pass"})
    report = send_alerts(data_dir, config, sleep=Sleeps())
    assert report.new == 1
    last = receiver.on("/webhook")[-1].body
    assert last["key"] == {"test": TEST_FAIL, "status": "fail", "episode": 2}
    # a warning that turns into a failure is a new alert too
    write_run_results(data_dir, {TEST_WARN: "fail", TEST_FAIL: "fail", TEST_ERROR: "error", TEST_PASS: "pass"})
    assert send_alerts(data_dir, config, sleep=Sleeps()).new == 1
    assert receiver.on("/webhook")[-1].body["key"] == {"test": TEST_WARN, "status": "fail", "episode": 1}


def test_no_raw_identifier_in_any_payload(tmp_path, receiver, data_dir):
    send_alerts(data_dir, _config(tmp_path, receiver, "webhook", "slack"), sleep=Sleeps())
    assert len(receiver.requests) == 16
    for request in receiver.requests:
        raw = json.dumps(request.body)
        assert RAW_ID not in raw and PLAYER_KEY not in raw
        assert "player" not in raw  # no player column of any kind is sent
    outbox = (data_dir / "alerts" / "outbox.jsonl").read_text()
    assert RAW_ID not in outbox and PLAYER_KEY not in outbox
    error = next(r.body for r in receiver.on("/webhook") if r.body["key"].get("status") == "error")
    assert error["text"] == "the test could not run (see the dbt log)"  # a database error may quote data


def test_dry_run_sends_and_writes_nothing(tmp_path, receiver, data_dir):
    report = send_alerts(data_dir, _config(tmp_path, receiver, "webhook"), dry_run=True)
    assert receiver.requests == [] and not (data_dir / "alerts").exists()
    assert len(report.planned) == 8 and report.destinations[0].sent == 8


def test_missing_marts_are_skipped_not_errors(tmp_path, receiver):
    empty = tmp_path / "empty"
    report = send_alerts(empty, _config(tmp_path, receiver, "webhook"), sleep=Sleeps())
    assert report.detected == 0 and receiver.requests == []
    assert set(report.skipped) == {"ability_anomaly", "gameplay_session_variance", "dq_test", "experiment_srm",
                                   "experiment_guardrail"}


def _mail_config(tmp_path, mail_receiver, **settings):
    return load_config(config_file(tmp_path, [{
        "name": "oncall", "type": "email", "url": f"smtp://{mail_receiver.host}:{mail_receiver.port}",
        "from": "alerts@example.org", "to": ["oncall@example.org", "data@example.org"]}], **settings))


def test_email_is_sent_once_per_alert(tmp_path, mail_receiver, data_dir):
    config = _mail_config(tmp_path, mail_receiver)
    report = send_alerts(data_dir, config, sleep=Sleeps())
    assert report.pending == 0 and len(mail_receiver.messages) == 8
    message = next(m for m in mail_receiver.messages if "ability.cleave" in m["Subject"])
    assert message["Subject"] == "[warning] High damage anomaly: ability.cleave (tier 1) on 2024-01-01"
    assert message["To"] == "oncall@example.org, data@example.org"
    key = message["X-Idempotency-Key"]
    assert message["Message-ID"] == f"<{key}@telemetry-alerts>"
    body = message.get_payload(decode=True).decode()
    assert "dmg_per_cast = 160 > limit 125" in body and RAW_ID not in body and PLAYER_KEY not in body
    assert send_alerts(data_dir, config, sleep=Sleeps()).destinations[0].sent == 0


def test_email_retries_a_4xx_reply_but_not_a_5xx(tmp_path, mail_receiver, data_dir):
    mail_receiver.script = [451, 550]
    sleeps = Sleeps()
    report = send_alerts(data_dir, _mail_config(tmp_path, mail_receiver), sleep=sleeps)
    # 451 then 550 on the first alert: retried once, then given up for this run; the 7 others go through
    assert len(sleeps) == 1 and mail_receiver.data_replies == 2 + 7
    assert report.pending == 1 and "SMTP 550 after 2 attempt(s)" in report.summary()
