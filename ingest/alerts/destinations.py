"""Where alerts go: the destinations file, the payload of each destination type, one HTTP delivery.

The destinations file is JSON, outside the repository (``TELEMETRY_ALERTS_FILE`` or ``--config``): its URLs
hold secrets (a Slack incoming-webhook URL is its own credential), so a URL is only ever shown masked
(:func:`mask_url`: scheme and host, the rest as ``***``). Format and payloads: docs/alerts.md.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import httpx

from ..errors import ConfigError
from .sources import SOURCES, Alert

ALERTS_FILE_ENV = "TELEMETRY_ALERTS_FILE"
KINDS = ("webhook", "slack", "email")
"""Destination types: a generic JSON webhook, a Slack-compatible incoming webhook, e-mail over SMTP."""
URL_SCHEMES = {"webhook": ("http", "https"), "slack": ("http", "https"), "email": ("smtp", "smtps")}
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
        kind: ``webhook``, ``slack`` or ``email``.
        url: the endpoint (a secret: print :attr:`masked` instead); for e-mail ``smtp://[user:password@]host[:port]``
            (STARTTLS when the server offers it; credentials are only ever sent over TLS) or ``smtps://…``
            (TLS from the start).
        sources: the alert sources it receives (default every source).
        headers: extra request headers (e.g. ``Authorization``; secrets too, never printed).
        sender, recipients: e-mail only: the From address and the To addresses.
    """

    name: str
    kind: str
    url: str = field(repr=False)
    sources: tuple[str, ...] = SOURCES
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    sender: str = ""
    recipients: tuple[str, ...] = ()

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


def _valid_url(url: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError when out of range)
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname)


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
        schemes = URL_SCHEMES[kind]
        if not isinstance(url, str) or not _valid_url(url, schemes):
            raise ConfigError(f"{where} ({name}): 'url' must be a {' or '.join(schemes)} URL")
        sender, recipients = item.get("from", ""), item.get("to", [])
        if kind == "email" and (not isinstance(sender, str) or "@" not in sender or not isinstance(recipients, list)
                                or not recipients or not all(isinstance(r, str) and "@" in r for r in recipients)):
            raise ConfigError(f"{where} ({name}): e-mail needs 'from' (an address) and 'to' (a list of addresses)")
        sources = item.get("sources", list(SOURCES))
        if not isinstance(sources, list) or not sources or set(sources) - set(SOURCES):
            raise ConfigError(f"{where} ({name}): 'sources' must list some of {', '.join(SOURCES)}")
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(f"{where} ({name}): 'headers' must map names to strings")
        allowed = {"name", "type", "url", "sources", "headers"} | ({"from", "to"} if kind == "email" else set())
        extra = set(item) - allowed
        if extra:
            raise ConfigError(f"{where} ({name}): unknown key(s) {', '.join(sorted(extra))}")
        names.add(name)
        is_email = kind == "email"
        destinations.append(Destination(name, kind, url, tuple(s for s in SOURCES if s in sources), dict(headers),
                                        sender if is_email else "", tuple(recipients) if is_email else ()))
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
    headline = f"{_SEVERITY_MARK.get(alert.severity, '')} *{alert.title}*\n{alert.text}"
    return {
        "text": line,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text":
                f"{alert.source} · {alert.severity} · detected {detected_at} · id `{alert.alert_id}`"}]},
        ],
    }


def email_message(destination: Destination, alert: Alert, detected_at: str) -> EmailMessage:
    """A plain-text e-mail: subject ``[severity] title``; ``Message-ID`` built from the alert id (mail systems
    drop a second copy with the same one) and the idempotency key in ``X-Idempotency-Key``."""
    message = EmailMessage()
    message["Subject"] = f"[{alert.severity}] {alert.title}"
    message["From"] = destination.sender
    message["To"] = ", ".join(destination.recipients)
    message["Message-ID"] = f"<{alert.alert_id}@telemetry-alerts>"
    message["X-Idempotency-Key"] = alert.alert_id
    body = json_payload(alert, detected_at)
    lines = [alert.text, "", f"source: {alert.source}", f"severity: {alert.severity}", f"detected: {detected_at}",
             f"key: {json.dumps(alert.key, sort_keys=True)}", f"details: {json.dumps(alert.details, sort_keys=True)}",
             f"idempotency key: {alert.alert_id}", "", json.dumps(body, sort_keys=True)]
    message.set_content("\n".join(lines))
    return message


def payload(destination: Destination, alert: Alert, detected_at: str) -> dict[str, Any]:
    """The JSON body sent to a webhook or Slack ``destination`` for ``alert``."""
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
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:  # its message may quote the URL: not kept
        return Attempt(False, False, f"request error ({type(error).__name__})")
    if 200 <= response.status_code < 300:
        return Attempt(True, False, f"HTTP {response.status_code}")
    retry_after = None
    try:
        retry_after = float(response.headers.get("Retry-After", ""))
    except ValueError:
        pass
    return Attempt(False, response.status_code in TRANSIENT_STATUS, f"HTTP {response.status_code}", retry_after)


def send_email(destination: Destination, message: EmailMessage, timeout: float) -> Attempt:
    """Send ``message`` over SMTP once: 4xx replies, timeouts and lost connections are transient, 5xx final."""
    parts = urlsplit(destination.url)
    host, user, password = parts.hostname or "", unquote(parts.username or ""), unquote(parts.password or "")
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
        with server:
            server.ehlo()
            if parts.scheme == "smtp" and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if user:
                if parts.scheme == "smtp" and not isinstance(server.sock, ssl.SSLSocket):
                    return Attempt(False, False, "the server offers no TLS: credentials not sent")
                server.login(user, password)
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        return Attempt(False, all(400 <= c < 500 for c in codes), f"SMTP {max(codes)} (recipients refused)")
    except smtplib.SMTPResponseException as error:
        return Attempt(False, 400 <= error.smtp_code < 500, f"SMTP {error.smtp_code}")
    except smtplib.SMTPServerDisconnected:
        return Attempt(False, True, "connection lost")
    except smtplib.SMTPException as error:  # before OSError, its base class
        return Attempt(False, False, f"SMTP error ({type(error).__name__})")
    except OSError as error:  # refused, reset, timed out, TLS
        return Attempt(False, True, f"connection error ({type(error).__name__})")
    return Attempt(True, False, "SMTP 250")


def deliver(client: httpx.Client, destination: Destination, alert: Alert, detected_at: str, timeout: float) -> Attempt:
    """One delivery attempt of ``alert`` to ``destination`` (HTTP POST, or SMTP for e-mail)."""
    if destination.kind == "email":
        return send_email(destination, email_message(destination, alert, detected_at), timeout)
    return post(client, destination, payload(destination, alert, detected_at), alert.alert_id)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
