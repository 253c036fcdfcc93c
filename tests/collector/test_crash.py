"""`telemetry serve` as a process: SIGTERM finishes, lands and exits 0; kill -9 under load loses no acknowledged
event and lands none twice once `telemetry ingest --spool` has run."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from collector_support import TELEMETRY, bearer, lake_counts, landed_event_ids, learning_event, serve_env

pytestmark = pytest.mark.slow


class Load:
    """Threads posting batches of fresh events; remembers the event ids of every acknowledged request."""

    def __init__(self, url: str, token: str, threads: int = 4, batch: int = 20):
        self.url, self.token, self.batch = url, token, batch
        self.acked: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True) for t in range(threads)]

    def run(self, thread: int) -> None:
        with httpx.Client(timeout=5) as http:
            n = 0
            while not self.stop.is_set():
                events = [learning_event(thread * 1_000_000 + n + i, session=f"s{thread}") for i in range(self.batch)]
                n += self.batch
                with self.lock:
                    self.sent += len(events)
                try:
                    response = http.post(self.url + "/v1/events", json=events, headers=bearer(self.token))
                except httpx.HTTPError:
                    continue  # the server is gone: not acknowledged
                if response.status_code == 200 and response.json()["accepted"] == len(events):
                    with self.lock:
                        self.acked += [e["event_id"] for e in events]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_sigterm_finishes_lands_the_spool_and_exits_0(start_server, tokens):
    server = start_server("--land-every", "0")  # nothing lands before the signal
    with Load(server.url, tokens.engineer, threads=2) as load:
        time.sleep(1.0)
        assert server.stop(signal.SIGTERM) == 0
    assert load.acked, "no request was acknowledged"
    ids = landed_event_ids(server.data_dir)
    assert len(ids) == len(set(ids))
    assert set(load.acked) <= set(ids)
    assert not list((server.data_dir / "spool").glob("*.jsonl*"))  # everything landed, nothing left behind
    counts = lake_counts(server.data_dir)
    assert counts["records"] == counts["landed"] + counts["quarantined"] + counts["duplicates"] + counts["dropped"]


def test_kill_9_under_load_loses_no_acknowledged_event_and_lands_none_twice(start_server, tokens):
    server = start_server("--land-every", "0.2", "--spool-seconds", "0.2")  # landing runs during the load
    with Load(server.url, tokens.engineer, threads=4) as load:
        deadline = time.monotonic() + 60
        while lake_counts(server.data_dir)["batches"] == 0:  # kill while landing is under way
            assert time.monotonic() < deadline, "nothing landed under load"
            time.sleep(0.2)
        time.sleep(0.5)
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    acked = list(load.acked)
    assert len(acked) > 200, "too little load to mean anything"
    landed_before = lake_counts(server.data_dir)["landed"]
    leftovers = list((server.data_dir / "spool").glob("*.jsonl*"))
    result = subprocess.run([str(TELEMETRY), "ingest", "--spool"], env=serve_env(tokens, server.data_dir),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ids = landed_event_ids(server.data_dir)
    twice = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert twice == []
    missing = set(acked) - set(ids)
    assert missing == set()
    assert landed_before > 0 and leftovers, "the kill should land some and leave some (else it proves less)"
    assert not list((server.data_dir / "spool").glob("*.jsonl*"))
    again = subprocess.run([str(TELEMETRY), "ingest", "--spool"], env=serve_env(tokens, server.data_dir),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and sorted(landed_event_ids(server.data_dir)) == sorted(ids)


def test_two_workers_answer_fast_and_land_everything_on_sigterm(start_server, tokens):
    server = start_server("--workers", "2")
    with httpx.Client(timeout=5) as http:
        http.get(server.url + "/health")
        started = time.perf_counter()
        for _ in range(20):
            assert http.get(server.url + "/health").status_code == 200
        per_request = (time.perf_counter() - started) / 20
        responses = [http.post(server.url + "/v1/events", json=[learning_event(100 * r + i) for i in range(10)],
                               headers=bearer(tokens.engineer)) for r in range(20)]
    assert all(r.status_code == 200 and r.json()["accepted"] == 10 for r in responses)
    assert per_request < 0.03  # no delayed-ACK stall (≈ 45 ms a request without TCP_NODELAY)
    assert server.stop(signal.SIGTERM) == 0
    ids = landed_event_ids(server.data_dir)
    assert sorted(ids) == sorted(f"evt-{100 * r + i}" for r in range(20) for i in range(10))
