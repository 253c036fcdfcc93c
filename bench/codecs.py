"""Parquet codecs on a generated lake: bytes on disk, write and read seconds for Snappy, Gzip and zstd.

    .venv/bin/python bench/codecs.py --requests 20000

Ingests ``--requests`` generated recsys requests (each with its ranking, five impressions, clicks, errors) into a
temporary data directory with the real pipeline (no compaction), then rewrites every event type's rows, all
days together, as one Parquet file per codec and times: the write (pyarrow), a full read (pyarrow) and a scan
query (DuckDB: rows and a sum per day). Prints one row per codec, with the size relative to Snappy — the
numbers behind the codec choice in docs/lake.md ("Storage tiers and codecs").
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this folder's ingest.py would shadow the ingest package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

CODECS = ("snappy", "gzip", "zstd")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="Generated requests (default 20,000).")
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many timings (default 3).")
    args = parser.parse_args(argv)

    import duckdb
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.generate.synthetic import recsys_events
    from ingest.pipeline import IngestSettings, ingest_files

    work = Path(tempfile.mkdtemp(prefix="telemetry-codecs-"))
    try:
        source = work / "events.jsonl"
        source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in recsys_events(args.requests, span_days=7)))
        settings = IngestSettings(ROOT / "schemas", b"bench-key-0123456789abcdef012345", "k1",
                                  datetime(2024, 12, 1, tzinfo=timezone.utc), backfill=True)
        report = ingest_files([source], settings, work / "data", compaction=None)
        events = work / "data" / "lake" / "events"
        tables = {folder.name.split("=", 1)[1]: pa.concat_tables([pq.read_table(p) for p in
                                                                  sorted(folder.glob("event_date=*/*.parquet"))])
                  for folder in sorted(events.glob("event_type=*"))}
        print(f"{report.landed} events landed from {source.stat().st_size / 1e6:.1f} MB of JSON lines; "
              f"{len(tables)} event types")
        results = {}
        for codec in CODECS:
            folder = work / codec
            folder.mkdir()
            size = write = read = scan = 0.0
            for name, table in tables.items():
                path = folder / f"{name}.parquet"
                write += min(_timed(lambda t=table, p=path, c=codec: pq.write_table(t, p, compression=c))
                             for _ in range(args.repeat))
                read += min(_timed(lambda p=path: pq.read_table(p)) for _ in range(args.repeat))
                query = (f"select cast(occurred_at as date), count(*), sum(length(event_id)) "
                         f"from read_parquet('{path}') group by 1")
                with duckdb.connect() as con:
                    scan += min(_timed(lambda q=query, c=con: c.execute(q).fetchall()) for _ in range(args.repeat))
                size += path.stat().st_size
            results[codec] = (size, write, read, scan)
        base = results["snappy"][0]
        print(f"{'codec':<8} {'MB':>8} {'vs snappy':>10} {'write s':>9} {'read s':>8} {'scan s':>8}")
        for codec, (size, write, read, scan) in results.items():
            print(f"{codec:<8} {size / 1e6:>8.2f} {size / base:>10.2f} {write:>9.3f} {read:>8.3f} {scan:>8.3f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
