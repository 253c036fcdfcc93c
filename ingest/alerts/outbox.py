"""The outbox: every alert ever detected, and what was delivered where, under ``<data_dir>/alerts/``.

Two files, each written whole under a temporary name and renamed (:mod:`ingest.lake.atomic`):

- ``outbox.jsonl``: one line per alert (``alert_id``, source, key, severity, title, text, details,
  ``detected_at``), appended to by each run that detects new alerts.
- ``state.json``: per alert and destination name, ``sent`` (with the time and attempts) or ``pending`` (with the
  last error); and the episode of each dbt test (docs/alerts.md).

Delivery is at-least-once: the state is written after each accepted delivery, so a crash between a
destination's acceptance and that write sends that alert again on the next run, with the same
``idempotency_key`` (the ``alert_id``) for the receiver to drop. One run at a time per data directory
(``alerts/.lock``).
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import httpx

from ..errors import ResourceBusy, TelemetryError
from ..lake.atomic import write_text_atomic
from .destinations import AlertsConfig, Destination, alerts_file, deliver, load_config, now_iso
from .sources import Alert, Detection, detect

ALERTS_FOLDER = "alerts"
OUTBOX_FILE = "outbox.jsonl"
STATE_FILE = "state.json"


def alerts_path(data_dir: Path | str) -> Path:
    """``<data_dir>/alerts``: the outbox and its delivery state."""
    return Path(data_dir) / ALERTS_FOLDER


@dataclass
class Outbox:
    """The outbox of one data directory, in memory.

    Attributes:
        folder: ``<data_dir>/alerts``.
        records: alert_id → outbox record (the alert and ``detected_at``), in detection order.
        deliveries: alert_id → destination name → ``{"status", "attempts", "at", "last_error"}``.
        dq_episodes: dbt test unique_id → ``{"episode", "open"}``.
    """

    folder: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    dq_episodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path | str) -> Outbox:
        """Read the outbox (empty when there is none yet). A torn or unreadable line is skipped: its alert is
        detected again from its source."""
        folder = alerts_path(data_dir)
        outbox = cls(folder)
        try:
            lines = (folder / OUTBOX_FILE).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
                outbox.records[record["alert_id"]] = record
            except (ValueError, KeyError, TypeError):
                continue
        try:
            state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            state = {}
        outbox.deliveries = state.get("deliveries", {})
        outbox.dq_episodes = state.get("dq_episodes", {})
        return outbox

    def add(self, detection: Detection, detected_at: str) -> list[Alert]:
        """Record the alerts not seen before; returns them."""
        new = []
        for alert in detection.alerts:
            if alert.alert_id not in self.records:
                self.records[alert.alert_id] = {**alert.to_record(), "detected_at": detected_at}
                new.append(alert)
        self.dq_episodes = detection.dq_episodes
        return new

    def save_records(self) -> None:
        lines = (json.dumps(r, sort_keys=True, separators=(",", ":")) for r in self.records.values())
        write_text_atomic(self.folder / OUTBOX_FILE, "".join(line + "\n" for line in lines))

    def save_state(self) -> None:
        state = {"version": 1, "deliveries": self.deliveries, "dq_episodes": self.dq_episodes}
        write_text_atomic(self.folder / STATE_FILE, json.dumps(state, sort_keys=True, indent=1))

    def status(self, alert_id: str, destination: str) -> str:
        return self.deliveries.get(alert_id, {}).get(destination, {}).get("status", "pending")

    def pending(self, destination: Destination) -> list[tuple[Alert, str]]:
        """(alert, detected_at) of every alert the destination takes and has not accepted, oldest first."""
        return [(Alert.from_record(r), r.get("detected_at", "")) for r in self.records.values()
                if self.status(r["alert_id"], destination.name) != "sent" and r["source"] in destination.sources]

    def record(self, alert_id: str, destination: str, status: str, attempts: int, detail: str | None) -> None:
        entry = self.deliveries.setdefault(alert_id, {}).setdefault(destination, {"attempts": 0})
        entry.update(status=status, attempts=entry.get("attempts", 0) + attempts, at=now_iso())
        if status == "sent":
            entry.pop("last_error", None)
        else:
            entry["last_error"] = detail


@contextmanager
def _run_lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResourceBusy(str(folder / ".lock"), "another `telemetry alerts send` is running") from None
        yield
    finally:
        os.close(fd)


@dataclass
class DestinationReport:
    """What one run delivered to one destination.

    Attributes:
        name, masked_url: the destination (URL masked).
        sent: alerts accepted in this run.
        pending: alerts left for the next run (not attempted, retries exhausted, refused or past the deadline).
        retries: extra attempts after a transient error.
        errors: last error per alert left pending (``HTTP 400``, ``timeout``, …), at most a few kept.
    """

    name: str
    masked_url: str
    sent: int = 0
    pending: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class SendReport:
    """What one ``send_alerts`` run did.

    Attributes:
        detected: alerts the sources hold now; new: of which first seen in this run.
        skipped: source → why it was not read.
        destinations: per destination, in configuration order.
        dry_run: nothing was sent or written.
        planned: for a dry run, (destination name, alert) that would be sent.
    """

    detected: int
    new: int
    skipped: dict[str, str]
    destinations: list[DestinationReport]
    dry_run: bool = False
    planned: list[tuple[str, Alert]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return sum(d.pending for d in self.destinations)

    def summary(self) -> str:
        """One line: ``alerts: 12 detected (3 new); ops-webhook https://host/*** 3 sent, 0 pending; …``."""
        verb = "would send" if self.dry_run else "sent"
        parts = [f"{d.name} {d.masked_url} {d.sent} {verb}, {d.pending} pending"
                 + (f" ({'; '.join(d.errors[:3])})" if d.errors else "") for d in self.destinations]
        return f"alerts: {self.detected} detected ({self.new} new); " + ("; ".join(parts) or "no destinations")


def _delay(config: AlertsConfig, retry: int, retry_after: float | None) -> float:
    """Seconds before retry number ``retry`` (1-based): backoff × 2^(retry−1), jittered to 50–100 %, capped; a
    destination's ``Retry-After`` is honoured up to the cap."""
    base = min(config.max_backoff_seconds, config.backoff_seconds * 2 ** (retry - 1))
    delay = base * (0.5 + random.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, config.max_backoff_seconds))
    return delay


def send_alerts(data_dir: Path | str, config: AlertsConfig, *, dry_run: bool = False, mark_sent: bool = False,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                transport: httpx.BaseTransport | None = None) -> SendReport:
    """Detect alerts, record the new ones in the outbox, deliver every pending alert to its destinations.

    Per alert and destination at most ``config.max_attempts`` attempts in this run, with exponential backoff
    on transient errors (timeouts, refused connections, 408/425/429/5xx); any other answer is final for this
    run. A destination that exhausts its attempts is not tried again in this run. What is not delivered stays
    pending for the next run. Never raises for a delivery problem: the report says what is pending.

    Args:
        data_dir: the data directory.
        config: the destinations (:func:`ingest.alerts.destinations.load_config`).
        dry_run: detect and report what would be sent; send nothing, write nothing.
        mark_sent: record every pending alert as delivered without sending it (a destination starts from now,
            not with the history the marts hold); reported as sent.
        sleep, clock, transport: injectable for tests (``transport`` is an httpx transport).

    Raises:
        ResourceBusy: another run holds ``alerts/.lock``.
    """
    outbox = Outbox.load(data_dir)
    if dry_run:
        detection = detect(data_dir, outbox.dq_episodes)
        new = outbox.add(detection, now_iso())
        report = SendReport(len(detection.alerts), len(new), detection.skipped, [], dry_run=True)
        for destination in config.destinations:
            pending = outbox.pending(destination)
            report.destinations.append(DestinationReport(destination.name, destination.masked, sent=len(pending)))
            report.planned += [(destination.name, alert) for alert, _ in pending]
        return report
    with _run_lock(outbox.folder):
        outbox = Outbox.load(data_dir)
        detection = detect(data_dir, outbox.dq_episodes)
        new = outbox.add(detection, now_iso())
        if new:
            outbox.save_records()
        outbox.save_state()
        report = SendReport(len(detection.alerts), len(new), detection.skipped, [])
        if mark_sent:
            for destination in config.destinations:
                pending = outbox.pending(destination)
                for alert, _ in pending:
                    outbox.record(alert.alert_id, destination.name, "sent", 0, None)
                    outbox.deliveries[alert.alert_id][destination.name]["marked"] = True
                report.destinations.append(DestinationReport(destination.name, destination.masked, sent=len(pending)))
            outbox.save_state()
            return report
        started = clock()
        timeout = httpx.Timeout(config.timeout_seconds)
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            for destination in config.destinations:
                report.destinations.append(
                    _deliver(client, outbox, destination, config, sleep, lambda: clock() - started))
    return report


def _deliver(client: httpx.Client, outbox: Outbox, destination: Destination, config: AlertsConfig,
             sleep: Callable[[float], None], elapsed: Callable[[], float]) -> DestinationReport:
    result = DestinationReport(destination.name, destination.masked)
    pending = outbox.pending(destination)
    down = False
    for index, (alert, detected_at) in enumerate(pending):
        if down or elapsed() > config.deadline_seconds:
            result.pending += len(pending) - index
            if not down:
                result.errors.append(f"run deadline of {config.deadline_seconds:g} s reached")
            break
        attempts = 0
        while True:
            attempts += 1
            attempt = deliver(client, destination, alert, detected_at, config.timeout_seconds)
            if attempt.ok or not attempt.transient or attempts >= config.max_attempts \
                    or elapsed() > config.deadline_seconds:
                break
            result.retries += 1
            sleep(_delay(config, attempts, attempt.retry_after))
        if attempt.ok:
            outbox.record(alert.alert_id, destination.name, "sent", attempts, None)
            result.sent += 1
        else:
            outbox.record(alert.alert_id, destination.name, "pending", attempts, attempt.detail)
            result.pending += 1
            result.errors.append(f"{alert.alert_id[:8]}: {attempt.detail} after {attempts} attempt(s)")
            down = attempt.transient  # retries exhausted: the destination is down for this run
        outbox.save_state()
    return result


def list_alerts(data_dir: Path | str, destinations: tuple[Destination, ...] = ()) -> list[dict[str, Any]]:
    """Every alert of the outbox plus those the sources hold now and the outbox has not recorded yet.

    Returns:
        One dict per alert: the outbox record (``alert_id``, source, key, severity, title, text, details,
        ``detected_at``: None for one not recorded yet) and ``deliveries``: destination name → status
        (``sent``, ``pending``). Reads only; writes nothing.
    """
    outbox = Outbox.load(data_dir)
    detection = detect(data_dir, outbox.dq_episodes)
    rows = [dict(r) for r in outbox.records.values()]
    known = set(outbox.records)
    rows += [{**a.to_record(), "detected_at": None} for a in detection.alerts if a.alert_id not in known]
    if destinations:
        takes = {d.name: set(d.sources) for d in destinations}
    else:
        takes = {name: None for name in sorted({n for by_name in outbox.deliveries.values() for n in by_name})}
    for row in rows:
        row["deliveries"] = {name: outbox.status(row["alert_id"], name) for name, sources in takes.items()
                             if sources is None or row["source"] in sources}
    return rows


HOOK_COMMANDS = ("build", "run", "test")
"""dbt sub-commands after which ``telemetry dbt`` sends alerts (tests give DQ alerts, builds and runs marts)."""


def send_after_build(data_dir: Path | str, config_path: Path | str | None = None) -> str | None:
    """Send alerts after a dbt command, never raising: returns the line to show, or None when no destinations
    file is configured (``TELEMETRY_ALERTS_FILE``). Bounded by the file's ``deadline_seconds``."""
    path = alerts_file(config_path)
    if path is None:
        return None
    try:
        report = send_alerts(data_dir, load_config(path))
    except TelemetryError as error:  # messages of our own errors never hold a secret
        return f"alerts: not sent ({error}); run `telemetry alerts send` later"
    except Exception as error:  # whatever happens here, the build's outcome stands; a foreign message may quote
        return (f"alerts: not sent (internal error {type(error).__name__}); "  # a URL, so it is not shown
                "`telemetry --debug alerts send` shows it")
    return report.summary()
