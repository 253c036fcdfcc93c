"""Benchmark `telemetry serve` on loopback: events/s accepted and request latency p50/p95/p99.

Runs, for each worker count: batches of 100 as fast as CONCURRENCY keep-alive connections go (closed loop),
batches of 1 the same way, and batches of 1 at a fixed rate (open loop, default 200 requests/s) for the
latency target. Every run is bounded by --seconds and by the events prepared for it. The load generator is a
small asyncio HTTP/1.1 client (pre-encoded requests), so most of the CPU goes to the server — but it shares the
same 2 cores, as the server's landing thread does. After the runs the server is stopped with SIGTERM and the
lake is checked: every acknowledged event landed exactly once.

    .venv/bin/python bench/serve.py                       # workers 1 and 2, 5 s per run
    .venv/bin/python bench/serve.py --workers 1 --seconds 3 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
TELEMETRY = Path(sys.executable).with_name("telemetry")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def requests_for(batch: int, count: int, token: str, port: int, run: str) -> list[bytes]:
    """``count`` pre-encoded POST /v1/events requests of ``batch`` fresh learning events each."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for r in range(count):
        events = [{"event_id": f"{run}-{r}-{i}", "student_id": f"student-{(r * batch + i) % 5000}",
                   "event_type": "choice_made", "schema_version": "1.0", "timestamp": now,
                   "session_id": f"session-{r % 500}", "data": {"choice": "help_friend"}} for i in range(batch)]
        body = orjson.dumps(events)
        out.append(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                   % (port, token.encode(), len(body), body))
    return out


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(port: int, requests: list[bytes], concurrency: int, seconds: float) -> tuple[list[float], int, int]:
    """Each connection sends its next request as soon as the previous is answered."""
    latencies: list[float] = []
    ok = failed = 0
    queue = iter(requests)
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal ok, failed
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                if time.perf_counter() > deadline:
                    break
                start = time.perf_counter()
                status = await exchange(reader, writer, request)
                latencies.append(time.perf_counter() - start)
                ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, ok, failed


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float, connections: int = 16
                    ) -> tuple[list[float], int, int]:
    """Requests start on a fixed schedule (``rate`` per second), whatever the answers do; latency counts from
    the scheduled start, so queueing shows."""
    latencies: list[float] = []
    ok = failed = 0
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    start = time.perf_counter()
    total = min(len(requests), int(rate * seconds))

    async def one(index: int) -> None:
        nonlocal ok, failed
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        reader, writer = await pool.get()
        try:
            status = await exchange(reader, writer, requests[index])
        finally:
            pool.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - scheduled)
        ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)

    await asyncio.gather(*(one(i) for i in range(total)))
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, ok, failed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else (values or [0])[0]


def summary(name: str, workers: int, batch: int, latencies: list[float], ok: int, failed: int, elapsed: float) -> dict:
    return {"run": name, "workers": workers, "batch": batch, "requests": ok, "failed": failed,
            "events_per_s": round(ok * batch / elapsed), "requests_per_s": round(ok / elapsed),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2), "p95_ms": round(percentile(latencies, 95) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2)}


def run_workers(workers: int, args: argparse.Namespace, folder: Path) -> list[dict]:
    data_dir = folder / f"data-w{workers}"
    tokens_file = folder / "tokens.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TELEMETRY_")},
           "TELEMETRY_HASH_KEY": "bench-key-0123456789abcdef0123456789", "TELEMETRY_TOKENS_FILE": str(tokens_file)}
    if not tokens_file.exists():
        created = subprocess.run([str(TELEMETRY), "tokens", "create", "bench", "--scope", "ingest"], env=env,
                                 capture_output=True, text=True, check=True)
        (folder / "token").write_text(created.stdout.strip().splitlines()[-1])
    token = (folder / "token").read_text()
    port = free_port()
    log = (folder / f"serve-w{workers}.log").open("wb")
    server = subprocess.Popen([str(TELEMETRY), "serve", "--port", str(port), "--workers", str(workers),
                               "--data-dir", str(data_dir)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    results: list[dict] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"server did not start: {(folder / f'serve-w{workers}.log').read_text()}") from None
                time.sleep(0.2)
        time.sleep(0.5 * workers)  # let every worker finish its start-up
        acked = 0
        plans = [("throughput", 100, "closed", int(args.seconds * 600)),
                 ("throughput", 1, "closed", int(args.seconds * 8000)),
                 (f"latency@{int(args.rate)}/s", 1, "open", int(args.seconds * args.rate))]
        for name, batch, mode, count in plans:
            requests = requests_for(batch, count, token, port, f"w{workers}-{name}-{batch}-{uuid.uuid4().hex[:6]}")
            started = time.perf_counter()
            if mode == "closed":
                latencies, ok, failed = asyncio.run(closed_loop(port, requests, args.concurrency, args.seconds))
            else:
                latencies, ok, failed = asyncio.run(open_loop(port, requests, args.rate, args.seconds))
            elapsed = time.perf_counter() - started
            results.append(summary(name, workers, batch, latencies, ok, failed, elapsed))
            acked += ok * batch
            print(json.dumps(results[-1]), file=sys.stderr)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=300)
        landed = landed_count(data_dir)
        results.append({"run": "check", "workers": workers, "exit_code": code, "acknowledged_events": acked,
                        "landed_events": landed, "exactly_once": landed == acked})
        print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return results


def landed_count(data_dir: Path) -> int:
    import duckdb

    files = [str(p) for p in (data_dir / "lake" / "events").glob("event_type=*/event_date=*/*.parquet")]
    if not files:
        return 0
    con = duckdb.connect()
    try:
        return con.execute("select count(distinct event_id) from read_parquet(?, union_by_name=true)", [files]).fetchone()[0]
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=5.0, help="Bound of each run.")
    parser.add_argument("--concurrency", type=int, default=8, help="Connections of the closed-loop runs.")
    parser.add_argument("--rate", type=float, default=200.0, help="Requests per second of the latency run.")
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of a table.")
    parser.add_argument("--keep", action="store_true", help="Keep the data directories and server logs.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="telemetry-serve-bench-"))
    results = [r for w in args.workers for r in run_workers(w, args, folder)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'run':<16} {'workers':>7} {'batch':>5} {'events/s':>9} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7} {'failed':>6}")
        for r in results:
            if r["run"] == "check":
                print(f"check: workers {r['workers']}: exit {r['exit_code']}, acknowledged {r['acknowledged_events']},"
                      f" landed {r['landed_events']} (exactly once: {r['exactly_once']})")
            else:
                print(f"{r['run']:<16} {r['workers']:>7} {r['batch']:>5} {r['events_per_s']:>9} {r['requests_per_s']:>7} "
                      f"{r['p50_ms']:>7} {r['p95_ms']:>7} {r['p99_ms']:>7} {r['failed']:>6}")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept {folder}", file=sys.stderr)
    return 0 if all(r.get("exactly_once", True) and not r.get("failed") for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
