"""Many tiny files: seconds per file of `telemetry ingest` over a folder of one-line files, from the first file
to the last (it must stay flat: per-file work may not grow with what already landed).

    .venv/bin/python bench/small_files.py --files 3000

Writes ``--files`` one-line politics files into a temporary folder, ingests the folder into a fresh data
directory in this process (the columnar default, one worker) and prints the mean seconds per file of each
tenth of the run, the total, and what was left behind in ``lake/_locks`` and ``lake/_pending``. Exit code 1
when a line did not land or a lock or pending file was left.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this folder's ingest.py would shadow the ingest package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000, help="One-line files to ingest (default 3,000).")
    args = parser.parse_args(argv)

    from ingest.pipeline import IngestSettings, ingest_files, input_files
    from ingest.registry import Registry

    registry = Registry.load(ROOT / "schemas")
    base = registry.families["politics"].latest("bill_vote").document["examples"][0]
    work = Path(tempfile.mkdtemp(prefix="telemetry-small-files-"))
    try:
        folder = work / "in"
        folder.mkdir()
        for n in range(args.files):
            event = copy.deepcopy(base)
            event["eventId"], event["userId"] = f"evt-{n}", f"user-{n}"
            (folder / f"{n:06d}.jsonl").write_text(json.dumps(event) + "\n")
        settings = IngestSettings(ROOT / "schemas", b"bench-key-0123456789abcdef012345", "k1",
                                  datetime(2030, 1, 1, tzinfo=timezone.utc), backfill=True)
        times: list[float] = []
        last = [time.perf_counter()]

        def on_batch(_result) -> None:
            now = time.perf_counter()
            times.append(now - last[0])
            last[0] = now

        started = time.perf_counter()
        report = ingest_files(input_files([folder]), settings, work / "data", registry=registry, on_batch=on_batch)
        total = time.perf_counter() - started
        tenth = max(1, len(times) // 10)
        deciles = [sum(times[i:i + tenth]) / len(times[i:i + tenth]) for i in range(0, len(times), tenth)]
        locks = sorted(p.name for p in (work / "data" / "lake" / "_locks").iterdir())
        pending = list((work / "data" / "lake" / "_pending").iterdir())
        print(f"{args.files} files: {total:.1f} s, {args.files / total:.0f} files/s; landed {report.landed}")
        print("seconds per file by tenth of the run: " + " ".join(f"{d:.4f}" for d in deciles))
        print(f"lake/_locks: {locks}; lake/_pending: {len(pending)} file(s)")
        return 0 if report.landed == args.files and locks == ["lake.lock"] and not pending else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
