"""Fixtures for the alert tests: a local HTTP receiver, a local SMTP receiver, a data directory holding every
alert source (helpers in ``alerts_support``)."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alerts_support import (
    TEST_ERROR, TEST_FAIL, TEST_PASS, TEST_WARN, write_ability_alerts, write_experiment_results, write_gameplay_dq,
    write_run_results,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class Receiver:
    """A local HTTP server recording every POST; ``script[path]`` lists the status codes to answer in turn
    (then 200), ``retry_after[path]`` a Retry-After header to send with non-2xx answers."""

    base: str
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    retry_after: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver():
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            target: Receiver = state["receiver"]
            target.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            queue = target.script.get(self.path, [])
            status = queue.pop(0) if queue else 200
            self.send_response(status)
            if status >= 300 and self.path in target.retry_after:
                self.send_header("Retry-After", target.retry_after[self.path])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


@dataclass
class MailReceiver:
    """A local SMTP server (plain, no STARTTLS, no auth) keeping every accepted message; ``script`` lists the
    replies to give to DATA in turn (then 250)."""

    host: str
    port: int
    messages: list[email.message.Message] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    data_replies: int = 0


@pytest.fixture
def mail_receiver():
    state: dict = {}

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, text: str) -> None:
            self.wfile.write(text.encode("ascii") + b"\r\n")

        def handle(self):
            target: MailReceiver = state["receiver"]
            self.reply("220 localhost ESMTP test")
            in_data, lines = False, []
            while line := self.rfile.readline():
                if in_data:
                    if line.rstrip(b"\r\n") == b".":
                        in_data = False
                        target.data_replies += 1
                        code = target.script.pop(0) if target.script else 250
                        if code == 250:
                            target.messages.append(email.message_from_bytes(b"".join(lines)))
                        self.reply(f"{code} {'ok' if code == 250 else 'not now'}")
                        lines = []
                    else:
                        lines.append(line[1:] if line.startswith(b"..") else line)
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    self.reply("250-localhost")
                    self.reply("250 8BITMIME")
                elif verb == b"DATA":
                    in_data = True
                    self.reply("354 go ahead")
                elif verb == b"QUIT":
                    self.reply("221 bye")
                    return
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = MailReceiver("127.0.0.1", server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data directory with every alert source published: 2 ability, 1 session-variance, 1 SRM, 1 guardrail,
    and dbt results with a warn, a fail, an error and a pass (3 DQ alerts) — 8 alerts in all."""
    folder = tmp_path / "data"
    write_ability_alerts(folder)
    write_gameplay_dq(folder)
    write_experiment_results(folder)
    write_run_results(folder, {TEST_WARN: "warn", TEST_FAIL: "fail", TEST_ERROR: "error", TEST_PASS: "pass"})
    return folder
