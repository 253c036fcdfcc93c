"""Ingest benchmark (run on demand, not a test): events/s and peak memory of ``telemetry ingest``.

Generates N deterministic synthetic recsys events (``ingest.generate.synthetic.recsys_events``) once into a cached
JSONL file, then times, each as a subprocess on the same file:

* ``telemetry ingest --backfill --workers W`` into a fresh data dir (full pipeline: parse, route, validate,
  normalise, hash, dedup, land), for each W in ``--workers``;
* the ceiling: DuckDB ``read_json`` → ``COPY … (FORMAT parquet, PARTITION_BY (event_type, event_date))`` with
  no validation (docs/requirements/design.md#measured-facts).

Peak memory is the peak of the summed VmRSS of the process and all its descendants, sampled from ``/proc``
every 0.1 s (forkserver workers are grandchildren, so the child's own rusage misses them). The kernel's
``ru_maxrss`` of the child, from ``os.wait4`` (largest single process among it and the descendants it reaped),
is reported beside it, with the tree's CPU seconds (events per CPU-second is the figure that survives a busy
machine; wall-clock events/s does not). The ingest must land exactly N events (its summary line and a DuckDB count of the
lake agree), else the benchmark exits 1: it cannot silently time a failure.

Usage (from the repository root)::

    .venv/bin/python bench/ingest.py --events 1000000             # ingest with 1 and 2 workers + ceiling
    .venv/bin/python bench/ingest.py --events 300000 --workers 2 --json
    .venv/bin/python bench/ingest.py --events 300000 --profile 100000   # cProfile of process_chunk only

See bench/README.md for what is measured and the recorded results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# This file is named ingest.py: when run as a script its folder is sys.path[0] and would shadow the
# ``ingest`` package. Put the repository root there instead.
BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(PROJECT_ROOT))

DUMMY_HASH_KEY = "bench-dummy-hash-key-0123456789a"  # 32 characters; not a secret, never for real data
POLL_SECONDS = 0.1
TARGET_EVENTS_PER_SECOND = 50_000
SEED = 7
CHUNK_LINES = 5_000  # as ingest.pipeline.LineProcessor.chunk_lines

# Union of the recsys 1.0 wire fields (schemas/recsys/*/1.0.json), typed as the registry types them.
CEILING_COLUMNS: dict[str, str] = {
    "event_type": "VARCHAR",
    "schema_version": "VARCHAR",
    "event_id": "VARCHAR",
    "timestamp_ms": "BIGINT",
    "request_id": "VARCHAR",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "experiment_id": "VARCHAR",
    "bucket": "VARCHAR",
    "filters": "JSON",
    "k": "BIGINT",
    "region": "VARCHAR",
    "locale": "VARCHAR",
    "latency_ms": "DOUBLE",
    "coverage": "DOUBLE",
    "catalog_size": "BIGINT",
    "algorithm": "VARCHAR",
    "alpha": "DOUBLE",
    "items": "STRUCT(canonical_id VARCHAR, position BIGINT, score DOUBLE)[]",
    "canonical_id": "VARCHAR",
    "position": "BIGINT",
    "visible_ms": "BIGINT",
    "surface": "VARCHAR",
    "device_type": "VARCHAR",
    "engagement_type": "VARCHAR",
    "dwell_ms": "BIGINT",
    "component": "VARCHAR",
    "severity": "VARCHAR",
    "error_code": "VARCHAR",
    "message": "VARCHAR",
}


# input --------------------------------------------------------------------------------------------------
def input_file(events: int, seed: int, cache_dir: Path) -> Path:
    """The JSONL of the first ``events`` synthetic recsys events; generated once, reused when present.

    Written under a temporary name and renamed, so an interrupted generation is never reused.
    """
    from itertools import islice

    import orjson

    from ingest.generate.synthetic import recsys_events

    path = cache_dir / f"recsys-{events}-seed{seed}.jsonl"
    if path.exists():
        say(f"input: reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    started = time.perf_counter()
    written = 0
    # Every request yields at least 7 events (request, ranking, 5 impressions), so this is enough requests.
    stream = islice(recsys_events(events // 7 + 1, seed=seed), events)
    with open(tmp, "wb") as handle:
        block: list[bytes] = []
        for event in stream:
            block.append(orjson.dumps(event))
            written += 1
            if len(block) == 10_000:
                handle.write(b"\n".join(block) + b"\n")
                block = []
        if block:
            handle.write(b"\n".join(block) + b"\n")
    if written != events:
        tmp.unlink()
        raise SystemExit(f"generator produced {written} events, expected {events}")
    os.replace(tmp, path)
    say(f"input: wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    return path


# measuring a process tree -------------------------------------------------------------------------------
def _process_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """(ppid → pids, pid → CPU clock ticks used so far), from /proc/<pid>/stat.

    Fields after the comm (which may hold spaces and parentheses): ppid is field 4, utime and stime 14 and 15.
    """
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    return children, ticks


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0  # gone, or a zombie (no VmRSS line)


def sample_tree(root: int) -> tuple[int, dict[int, int]]:
    """(summed VmRSS in bytes, pid → CPU ticks) of ``root`` and all its descendants.

    Shared pages (e.g. a forked worker's copy-on-write image) count once per process, so the sum is an upper
    bound of what the tree really holds at that instant.
    """
    children, ticks = _process_table()
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack += children.get(pid, [])
    return sum(_rss_bytes(p) for p in pids), {p: ticks.get(p, 0) for p in pids}


@dataclass
class Measurement:
    """One subprocess run: wall seconds, memory, CPU, exit status, load average before and after.

    Attributes:
        peak_tree_rss: highest sampled sum of VmRSS over the process tree, bytes.
        max_process_rss: ``ru_maxrss`` from ``os.wait4``: the largest single process among the child and the
            descendants reaped under it, bytes.
        cpu_seconds: user + system CPU of the tree: the larger of ``os.wait4``'s (child + reaped descendants)
            and the sum of each process's last sampled CPU (misses at most 0.1 s per process).
        max_processes: most processes seen in the tree at once.
    """

    seconds: float
    peak_tree_rss: int
    max_process_rss: int
    cpu_seconds: float
    max_processes: int
    returncode: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def run_measured(command: list[str], env: dict[str, str], log_dir: Path) -> Measurement:
    """Run ``command``; sample its process tree from /proc every 0.1 s on a thread while this one waits.

    stdout/stderr go to ``log_dir``. The child is reaped with ``os.wait4``, which returns the same accounting
    as ``getrusage(RUSAGE_CHILDREN)`` but for this child alone (RUSAGE_CHILDREN is a running maximum over
    every child this benchmark has reaped, so it cannot separate runs).
    """
    load_before = os.getloadavg()
    peak_rss, peak_count = [0], [0]
    last_ticks: dict[int, int] = {}
    stop = threading.Event()
    with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)

        def sample() -> None:
            while not stop.is_set():
                rss, ticks = sample_tree(process.pid)
                peak_rss[0], peak_count[0] = max(peak_rss[0], rss), max(peak_count[0], len(ticks))
                for pid, used in ticks.items():
                    last_ticks[pid] = max(last_ticks.get(pid, 0), used)
                stop.wait(POLL_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        stop.set()
        sampler.join()
    sampled_cpu = sum(last_ticks.values()) / os.sysconf("SC_CLK_TCK")
    cpu = max(usage.ru_utime + usage.ru_stime, sampled_cpu)
    return Measurement(seconds, peak_rss[0], usage.ru_maxrss * 1024, cpu, peak_count[0], process.returncode,
                       load_before, os.getloadavg())


# the runs -----------------------------------------------------------------------------------------------
@dataclass
class Result:
    """One row of the report."""

    tool: str
    workers: int | None
    events: int
    landed: int
    seconds: float
    events_per_second: float
    peak_rss_mb: float  # max(sampled peak of the tree's summed VmRSS, max_process_rss_mb)
    max_process_rss_mb: float
    cpu_seconds: float
    events_per_cpu_second: float
    max_processes: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    ratio_to_ceiling: float | None = None
    ok: bool = True
    problems: list[str] = field(default_factory=list)


def _result(tool: str, workers: int | None, events: int, landed: int, run: Measurement, problems: list[str]) -> Result:
    # The sampler can miss a peak shorter than 0.1 s; the kernel's largest single process is a lower bound too.
    peak = max(run.peak_tree_rss, run.max_process_rss)
    return Result(tool, workers, events, landed, run.seconds, events / run.seconds, peak / 2**20,
                  run.max_process_rss / 2**20, run.cpu_seconds, events / max(run.cpu_seconds, 1e-9), run.max_processes,
                  run.load_before, run.load_after,
                  ok=not problems, problems=problems)


def count_rows(pattern: str) -> int:
    import duckdb

    query = f"select count(*) from read_parquet('{pattern}', hive_partitioning = false)"
    return duckdb.connect().execute(query).fetchone()[0]


def _summary_counts(text: str) -> dict[str, int] | None:
    """Counts from the CLI's last line: ``total: read R = landed L + quarantined Q + duplicates D + dropped P``."""
    for line in reversed(text.splitlines()):
        if line.startswith("total: read "):
            words = line.split()
            return {"read": int(words[2]), "landed": int(words[5]), "quarantined": int(words[8]),
                    "duplicates": int(words[11]), "dropped": int(words[14])}
    return None


def run_ingest(jsonl: Path, events: int, workers: int, workdir: Path, reference: bool = False) -> Result:
    """``telemetry ingest --backfill --workers W [--reference]`` into a fresh data dir; checks that exactly N events
    landed. Without ``--reference`` this is the default columnar path."""
    telemetry = Path(sys.executable).parent / "telemetry"
    if not telemetry.exists():
        telemetry = Path(shutil.which("telemetry") or "telemetry")
    run_dir = workdir / f"ingest-{'reference' if reference else 'columnar'}-w{workers}"
    run_dir.mkdir()
    data_dir = run_dir / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEMETRY_HASH_KEY_FILE", "TELEMETRY_HASH_KEY_ID", "TELEMETRY_DATA_DIR")}
    env["TELEMETRY_HASH_KEY"] = DUMMY_HASH_KEY
    flags = ["--reference"] if reference else []
    say(f"run: telemetry ingest --backfill --workers {workers} {' '.join(flags)} ({events} events) …")
    run = run_measured([str(telemetry), "ingest", str(jsonl), "--data-dir", str(data_dir), "--backfill",
                        "--workers", str(workers), *flags], env, run_dir)
    problems: list[str] = []
    output = (run_dir / "stderr.txt").read_text(errors="replace") + (run_dir / "stdout.txt").read_text(errors="replace")
    if run.returncode != 0:
        problems.append(f"exit code {run.returncode}: {output.strip()[-500:]}")
    counts = _summary_counts(output)
    expected = {"read": events, "landed": events, "quarantined": 0, "duplicates": 0, "dropped": 0}
    if counts != expected:
        problems.append(f"summary line {counts} != {expected}")
    landed = count_rows(str(data_dir / "lake" / "events" / "*" / "*" / "*.parquet")) if (data_dir / "lake" / "events").exists() else 0
    if landed != events:
        problems.append(f"the lake holds {landed} events, expected {events}")
    return _result("telemetry ingest --reference" if reference else "telemetry ingest", workers, events, landed,
                   run, problems)


def ceiling_sql(source: Path, target: Path) -> str:
    """The no-validation reference: DuckDB read_json → partitioned Parquet (the lake's raw codec, Snappy)."""
    from ingest.lake.storage import CODECS

    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in CEILING_COLUMNS.items()) + "}"
    source_text, target_text = str(source).replace("'", "''"), str(target).replace("'", "''")
    return f"""
        copy (
            select
                * exclude (event_type),
                'recsys_' || event_type as event_type,
                cast(epoch_ms(timestamp_ms) as date) as event_date,
            from read_json('{source_text}', format = 'newline_delimited', columns = {columns})
        ) to '{target_text}' (format parquet, partition_by (event_type, event_date), compression {CODECS['raw']})
    """


def ceiling_child(source: Path, target: Path) -> None:
    """Runs inside the measured subprocess (``--ceiling-child``)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    target.mkdir(parents=True, exist_ok=True)  # COPY … PARTITION_BY does not create parent folders
    connection.execute(ceiling_sql(source, target))
    threads = connection.execute("select current_setting('threads')").fetchone()[0]
    print(f"duckdb {duckdb.__version__} threads={threads}")


def run_ceiling(jsonl: Path, events: int, workdir: Path) -> Result:
    run_dir = workdir / "ceiling"
    run_dir.mkdir()
    target = run_dir / "out"
    say(f"run: ceiling (DuckDB read_json → COPY PARTITION_BY, no validation; {events} events) …")
    run = run_measured([sys.executable, str(Path(__file__).resolve()), "--ceiling-child", str(jsonl), str(target)],
                       dict(os.environ), run_dir)
    problems: list[str] = []
    if run.returncode != 0:
        problems.append(f"exit code {run.returncode}: {(run_dir / 'stderr.txt').read_text(errors='replace')[-500:]}")
    landed = count_rows(str(target / "*" / "*" / "*.parquet")) if target.exists() else 0
    if landed != events:
        problems.append(f"the output holds {landed} rows, expected {events}")
    return _result("duckdb ceiling", None, events, landed, run, problems)


def dlt_child(source: Path, target: Path) -> None:
    """Runs inside the measured subprocess (``--dlt-child``): what a user would pick instead of this ingest — a dlt
    pipeline from the JSON-lines file to Parquet on the local filesystem (dlt's schema inference and nested-table
    normalisation, no registry validation, no hashing)."""
    import dlt
    import orjson

    @dlt.resource(name="events", write_disposition="append")
    def events():
        with open(source, "rb") as handle:
            block = []
            for line in handle:
                block.append(orjson.loads(line))
                if len(block) == 10_000:
                    yield block
                    block = []
            if block:
                yield block

    pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.filesystem(str(target / "lake")),
                            dataset_name="recsys", pipelines_dir=str(target / "pipelines"))
    info = pipeline.run(events(), loader_file_format="parquet")
    print(f"dlt {dlt.__version__}: {info}")


def run_dlt(jsonl: Path, events: int, workdir: Path) -> Result:
    run_dir = workdir / "dlt"
    run_dir.mkdir()
    target = run_dir / "out"
    say(f"run: dlt (filesystem destination, Parquet; {events} events) …")
    env = dict(os.environ, RUNTIME__LOG_LEVEL="WARNING", DLT_DATA_DIR=str(run_dir / "dlt-data"))
    run = run_measured([sys.executable, str(Path(__file__).resolve()), "--dlt-child", str(jsonl), str(target)],
                       env, run_dir)
    problems: list[str] = []
    if run.returncode != 0:
        problems.append(f"exit code {run.returncode}: {(run_dir / 'stderr.txt').read_text(errors='replace')[-500:]}")
    root = target / "lake" / "recsys" / "events"
    landed = count_rows(str(root / "*.parquet")) if root.exists() else 0
    if landed != events:
        problems.append(f"the output holds {landed} rows, expected {events}")
    return _result("dlt", None, events, landed, run, problems)


# profile ------------------------------------------------------------------------------------------------
def profile(jsonl: Path, lines: int, top: int = 15) -> dict[str, Any]:
    """cProfile of ``LineProcessor.process_chunk`` in this process over the first ``lines`` lines.

    The lines are read first (not profiled), then classified in chunks of 5,000 as a worker would: once
    unprofiled for the wall time, once under cProfile. Prints the top ``top`` functions by tottime.
    """
    import cProfile
    import io
    import pstats
    from itertools import islice

    from ingest.privacy import IdentityHasher
    from ingest.pipeline import IngestSettings, LineProcessor
    from ingest.pipeline import LineReader
    from ingest.registry import Registry

    registry = Registry.load(PROJECT_ROOT / "schemas")
    hasher = IdentityHasher(DUMMY_HASH_KEY.encode(), "bench")
    settings = IngestSettings(registry.root, hasher.key, hasher.key_id, datetime.now(timezone.utc), backfill=True)
    all_lines = list(islice(LineReader(jsonl), lines))
    chunks = [all_lines[i:i + CHUNK_LINES] for i in range(0, len(all_lines), CHUNK_LINES)]

    def classify() -> tuple[float, float]:
        processor = LineProcessor(registry, settings)  # fresh: empty hash memo, like a new worker
        started, started_cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            processor.process_chunk(chunk, "bench", str(jsonl))
        return time.perf_counter() - started, time.process_time() - started_cpu

    classify()  # warm-up: compiles the fastjsonschema validators
    wall, cpu = classify()
    profiler = cProfile.Profile()
    profiler.enable()
    profiled_wall, _ = classify()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return {"lines": len(all_lines), "seconds": wall, "cpu_seconds": cpu, "lines_per_second": len(all_lines) / wall,
            "lines_per_cpu_second": len(all_lines) / cpu, "profiled_seconds": profiled_wall,
            "top_by_tottime": text.getvalue()}


# report -------------------------------------------------------------------------------------------------
def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def table(results: list[Result]) -> str:
    header = ("tool", "workers", "events", "seconds", "events/s", "peak RSS MB", "ratio", "max 1-proc MB", "CPU s",
              "events/CPU-s", "procs", "ok")
    rows = [header]
    for r in results:
        rows.append((r.tool, "-" if r.workers is None else str(r.workers), f"{r.events:,}", f"{r.seconds:.1f}",
                     f"{r.events_per_second:,.0f}", f"{r.peak_rss_mb:,.0f}",
                     "-" if r.ratio_to_ceiling is None else f"{r.ratio_to_ceiling:.2f}", f"{r.max_process_rss_mb:,.0f}",
                     f"{r.cpu_seconds:.1f}", f"{r.events_per_cpu_second:,.0f}", str(r.max_processes),
                     "yes" if r.ok else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Synthetic events to ingest (default 1,000,000).")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], metavar="W",
                        help="Worker counts to try for the default (columnar) ingest (default: 1).")
    parser.add_argument("--reference-workers", type=int, nargs="*", default=[2], metavar="W",
                        help="Worker counts for `telemetry ingest --reference`, the row path (default: 2; none to skip).")
    parser.add_argument("--no-dlt", action="store_true", help="Skip the dlt run (dlt is a bench-only dependency).")
    parser.add_argument("--keep", action="store_true", help="Keep the run folders (data dirs, logs).")
    parser.add_argument("--json", action="store_true", help="Print machine-readable JSON on stdout.")
    parser.add_argument("--no-ceiling", action="store_true", help="Skip the DuckDB ceiling run.")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "telemetry-bench",
                        help="Where the generated JSONL is kept and reused (default: $TMPDIR/telemetry-bench).")
    parser.add_argument("--profile", type=int, metavar="LINES",
                        help="Instead of the timed runs, cProfile LineProcessor.process_chunk over LINES lines.")
    parser.add_argument("--ceiling-child", nargs=2, type=Path, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    parser.add_argument("--dlt-child", nargs=2, type=Path, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.ceiling_child:
        ceiling_child(*args.ceiling_child)
        return 0
    if args.dlt_child:
        dlt_child(*args.dlt_child)
        return 0
    if args.events < 1 or any(w < 1 for w in args.workers):
        parser.error("--events and --workers must be at least 1")

    jsonl = input_file(args.events, SEED, args.cache_dir)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform,
               "ingest_code": ingest_code_digest()}
    if args.profile:
        report = profile(jsonl, min(args.profile, args.events))
        report.update(load_average=os.getloadavg(), machine=machine)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"process_chunk, unprofiled: {report['lines']:,} lines in {report['seconds']:.2f} s wall "
                  f"({report['lines_per_second']:,.0f} lines/s), {report['cpu_seconds']:.2f} CPU s "
                  f"({report['lines_per_cpu_second']:,.0f} lines per CPU-second); ingest code {machine['ingest_code']}; "
                  f"load average {_load(report['load_average'])}")
            print(report["top_by_tottime"])
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="telemetry-bench-run-"))
    results: list[Result] = []
    try:
        ceiling = None if args.no_ceiling else run_ceiling(jsonl, args.events, workdir)
        for workers in args.workers:
            results.append(run_ingest(jsonl, args.events, workers, workdir))
        for workers in args.reference_workers:
            results.append(run_ingest(jsonl, args.events, workers, workdir, reference=True))
        if not args.no_dlt:
            import importlib.util

            if importlib.util.find_spec("dlt") is None:
                say("dlt is not installed (a bench-only dependency: .venv/bin/pip install dlt); skipping its run")
            else:
                results.append(run_dlt(jsonl, args.events, workdir))
        if ceiling is not None:
            ceiling.ratio_to_ceiling = 1.0
            for result in results:
                result.ratio_to_ceiling = result.events_per_second / ceiling.events_per_second
            results.append(ceiling)
    finally:
        if args.keep:
            say(f"kept run folders under {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if ingest_code_digest() != machine["ingest_code"]:
        say("warning: ingest/ changed while the benchmark ran; the runs may have measured different code")
        machine["ingest_code"] += " (changed during the run)"
    ingests = [r for r in results if r.tool == "telemetry ingest" and r.ok]
    dlt_runs = [r for r in results if r.tool == "dlt" and r.ok]
    best = max(ingests, key=lambda r: r.events_per_second, default=None)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "input": {"path": str(jsonl), "bytes": jsonl.stat().st_size, "events": args.events, "seed": SEED},
        "load_average_end": os.getloadavg(),
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "target_met": best is not None and best.events_per_second >= TARGET_EVENTS_PER_SECOND,
        "results": [asdict(r) for r in results],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['date']}  {machine['cpus']} cpus  input {args.events:,} events "
              f"({report['input']['bytes'] / 1e6:.0f} MB JSONL)  ingest code {machine['ingest_code']}")
        print(table(results))
        for r in results:
            print(f"load average (1/5/15 min) {r.tool} w={r.workers}: before {_load(r.load_before)}, "
                  f"after {_load(r.load_after)}")
        if best is not None and dlt_runs:
            print(f"columnar ingest / dlt: {best.events_per_second / dlt_runs[0].events_per_second:.1f}× events/s, "
                  f"{best.events_per_cpu_second / dlt_runs[0].events_per_cpu_second:.1f}× events per CPU-second "
                  f"(target ≥ 10×)")
        if best is not None:
            print(f"target ≥ {TARGET_EVENTS_PER_SECOND:,} events/s with full validation: "
                  f"{'met' if report['target_met'] else 'NOT met'} (best {best.events_per_second:,.0f}/s, "
                  f"workers={best.workers})")
    failed = [r for r in results if not r.ok]
    for r in failed:
        say(f"FAILED: {r.tool} workers={r.workers}: " + "; ".join(r.problems))
    return 1 if failed else 0


def ingest_code_digest() -> str:
    """First 12 hex of a sha256 over ingest/**/*.py (the package is edited often; ties numbers to code)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "ingest").rglob("*.py")):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
