"""Where alerts go: the destinations file, the payload of each destination type, one HTTP delivery.

The destinations file is JSON, outside the repository (``TELEMETRY_ALERTS_FILE`` or ``--config``): its URLs
hold secrets (a Slack incoming-webhook URL is its own credential), so a URL is only ever shown masked
(:func:`mask_url`: scheme and host, the rest as ``***``). Format and payloads: docs/alerts.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError
from .sources import SOURCES, Alert

ALERTS_FILE_ENV = "TELEMETRY_ALERTS_FILE"
KINDS = ("webhook", "slack")
"""Destination types: a generic JSON webhook and a Slack-compatible incoming webhook."""
PAYLOAD_VERSION = 1
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP answers retried with backoff (every other 4xx is final for the run)."""


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/***``: the scheme and host only (no user, path, query or fragment)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    return f"{parts.scheme or '?'}://{host}{port}/***"


@dataclass(frozen=True)
class Destination:
    """One configured destination.

    Attributes:
        name: stable name; delivery state is kept per name (renaming a destination resends its alerts).
        kind: ``webhook`` or ``slack``.
        url: the endpoint (a secret: print :attr:`masked` instead).
        sources: the alert sources it receives (default every source).
        headers: extra request headers (e.g. ``Authorization``; secrets too, never printed).
    """

    name: str
    kind: str
    url: str = field(repr=False)
    sources: tuple[str, ...] = SOURCES
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def masked(self) -> str:
        return mask_url(self.url)

    def wants(self, alert: Alert) -> bool:
        return alert.source in self.sources


@dataclass(frozen=True)
class AlertsConfig:
    """The destinations file.

    Attributes:
        path: the file read.
        destinations: in file order.
        max_attempts: attempts per alert and destination in one run (then it stays pending for the next run).
        timeout_seconds: per HTTP request (connect, read and write each).
        backoff_seconds: delay before the second attempt; doubled before each further one (with jitter).
        max_backoff_seconds: cap of one delay.
        deadline_seconds: a run stops starting deliveries after this long (what is left stays pending).
    """

    path: Path
    destinations: tuple[Destination, ...]
    max_attempts: int = 4
    timeout_seconds: float = 10.0
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    deadline_seconds: float = 120.0


_SETTINGS = {"max_attempts": int, "timeout_seconds": float, "backoff_seconds": float, "max_backoff_seconds": float,
             "deadline_seconds": float}


def alerts_file(path: Path | str | None = None) -> Path | None:
    """The destinations file: ``path``, else ``$TELEMETRY_ALERTS_FILE``, else None (alerts not configured)."""
    value = path or os.environ.get(ALERTS_FILE_ENV)
    return Path(value).expanduser() if value else None


def load_config(path: Path | str) -> AlertsConfig:
    """Read and check the destinations file.

    Raises:
        ConfigError: missing, unreadable or malformed file (the message never quotes a URL).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"alerts file {path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        raise ConfigError(f"alerts file {path}: not valid JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("destinations"), list):
        raise ConfigError(f"alerts file {path}: expected an object with a 'destinations' list")
    unknown = set(document) - {"destinations", *_SETTINGS}
    if unknown:
        raise ConfigError(f"alerts file {path}: unknown setting(s) {', '.join(sorted(unknown))}")
    settings = {}
    for name, kind in _SETTINGS.items():
        if name in document:
            value = document[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"alerts file {path}: {name} must be a positive number")
            settings[name] = kind(value)
    destinations, names = [], set()
    for index, item in enumerate(document["destinations"]):
        where = f"alerts file {path}: destination {index + 1}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected an object")
        name, kind, url = item.get("name"), item.get("type"), item.get("url")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: 'name' is required")
        if name in names:
            raise ConfigError(f"{where}: the name {name!r} is used twice")
        if kind not in KINDS:
            raise ConfigError(f"{where} ({name}): 'type' must be one of {', '.join(KINDS)}")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigError(f"{where} ({name}): 'url' must be an http(s) URL")
        sources = item.get("sources", list(SOURCES))
        if not isinstance(sources, list) or not sources or set(sources) - set(SOURCES):
            raise ConfigError(f"{where} ({name}): 'sources' must list some of {', '.join(SOURCES)}")
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(f"{where} ({name}): 'headers' must map names to strings")
        extra = set(item) - {"name", "type", "url", "sources", "headers"}
        if extra:
            raise ConfigError(f"{where} ({name}): unknown key(s) {', '.join(sorted(extra))}")
        names.add(name)
        destinations.append(Destination(name, kind, url, tuple(s for s in SOURCES if s in sources), dict(headers)))
    return AlertsConfig(path, tuple(destinations), **settings)


def json_payload(alert: Alert, detected_at: str) -> dict[str, Any]:
    """The generic webhook's body (docs/alerts.md): the alert, its idempotency key and when it was detected."""
    return {
        "version": PAYLOAD_VERSION,
        "idempotency_key": alert.alert_id,
        "source": alert.source,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "key": alert.key,
        "details": alert.details,
        "detected_at": detected_at,
    }


_SEVERITY_MARK = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


def slack_payload(alert: Alert, detected_at: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification line) and Block Kit ``blocks``."""
    line = f"[{alert.severity}] {alert.title}"
    return {
        "text": line,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": f"{_SEVERITY_MARK.get(alert.severity, '')} *{alert.title}*\n{alert.text}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text":
                f"{alert.source} · {alert.severity} · detected {detected_at} · id `{alert.alert_id}`"}]},
        ],
    }


def payload(destination: Destination, alert: Alert, detected_at: str) -> dict[str, Any]:
    """The body sent to ``destination`` for ``alert``."""
    return (slack_payload if destination.kind == "slack" else json_payload)(alert, detected_at)


@dataclass(frozen=True)
class Attempt:
    """The outcome of one HTTP request.

    Attributes:
        ok: the destination accepted it (2xx).
        transient: worth retrying (timeout, connection refused, 408/425/429/5xx).
        detail: ``HTTP 503``, ``timeout``, … (never the URL).
        retry_after: seconds the destination asked to wait (``Retry-After``), else None.
    """

    ok: bool
    transient: bool
    detail: str
    retry_after: float | None = None


def post(client: httpx.Client, destination: Destination, body: dict[str, Any], idempotency_key: str) -> Attempt:
    """POST ``body`` as JSON to the destination once, with an ``Idempotency-Key`` header."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
               "User-Agent": "telemetry-alerts/1", **destination.headers}
    try:
        response = client.post(destination.url, content=json.dumps(body, sort_keys=True).encode("utf-8"),
                               headers=headers)
    except httpx.TimeoutException:
        return Attempt(False, True, "timeout")
    except httpx.TransportError as error:  # connection refused or reset, DNS, TLS
        return Attempt(False, True, f"connection error ({type(error).__name__})")
    if 200 <= response.status_code < 300:
        return Attempt(True, False, f"HTTP {response.status_code}")
    retry_after = None
    try:
        retry_after = float(response.headers.get("Retry-After", ""))
    except ValueError:
        pass
    return Attempt(False, response.status_code in TRANSIENT_STATUS, f"HTTP {response.status_code}", retry_after)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
