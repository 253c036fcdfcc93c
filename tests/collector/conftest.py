"""Fixtures for the collector: a tokens file, an in-process client, a real `telemetry serve` on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from collector_support import TELEMETRY, Server, Tokens, free_port, serve_env
from support import ROOT


@pytest.fixture
def tokens(tmp_path) -> Tokens:
    from ingest.collector.tokens import TokenStore

    store = TokenStore.load(tmp_path / "secrets" / "tokens.json", missing_ok=True)
    return Tokens(store.path,
                  engineer=store.create("eng", ("ingest", "read"), "engineer"),
                  analyst=store.create("ana", ("read",), "analyst"),
                  viewer=store.create("view", ("read",), "viewer"),
                  ingest_only=store.create("game", ("ingest",), "viewer"),
                  read_only=store.create("dash", ("read",), "engineer"),
                  company_a=store.create("tenant-a", ("read",), "engineer", company="co-a"))


@pytest.fixture
def make_client(tmp_path, tokens):
    """An in-process client over a fresh data directory (lander off: tests land explicitly)."""
    from fastapi.testclient import TestClient

    from ingest.collector.app import create_app
    from ingest.collector.config import CollectorConfig

    clients = []

    def make(**options) -> TestClient:
        config = CollectorConfig(data_dir=tmp_path / "data", tokens_file=tokens.path, land_every=0, **options)
        client = TestClient(create_app(config), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def start_server(tmp_path, tokens):
    """Start `telemetry serve` on a free loopback port; every server still running at the end is killed."""
    started: list[Server] = []

    def start(*args: str, data_dir: Path | None = None) -> Server:
        data_dir = data_dir or tmp_path / "data"
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        process = subprocess.Popen([str(TELEMETRY), "serve", "--port", str(port), *args],
                                   env=serve_env(tokens, data_dir), cwd=ROOT, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(f"http://127.0.0.1:{port}", process, data_dir, log)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start: {log.read_text()}")

    yield start
    for server in started:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)

