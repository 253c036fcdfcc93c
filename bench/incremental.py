"""Cost follows new data: time the incremental `dbt build` that adds one day, after N days of history.

For each N (default 5 and 60) in a fresh data folder: generate N + 1 days of synthetic players (every family),
ingest the first N days (each file with the clock the generator lists for it), run one full `dbt build`,
then ingest day N + 1 and time the `dbt build` that follows (the incremental one). The target is that the
60-day figure stays within 1.2 × the 5-day figure: an incremental run reads the new day, not the history.
With `--demo`, also time the full `dbt build` over the demo's generated data (same players, days and seed as
`telemetry demo`).

    .venv/bin/python bench/incremental.py                    # N = 5 and 60, 20 players
    .venv/bin/python bench/incremental.py --days 5 60 --players 40 --repeat 3 --demo --json

Prints one line per N and the ratio; exit code 1 when a build failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.generate import GenerateConfig, generate  # noqa: E402
from ingest.pipeline.service import ingest_files, ingest_settings  # noqa: E402
from ingest.privacy import IdentityHasher, Keyring  # noqa: E402
from ingest.registry import Registry  # noqa: E402


def node_seconds(data_dir: Path) -> dict:
    """Where the last build spent its time (target/run_results.json): seconds per resource type, and the five
    slowest nodes."""
    results = json.loads((data_dir / "target" / "run_results.json").read_text())["results"]
    by_type: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + r["execution_time"], 2)
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:5]
    return {"seconds_by_type": by_type,
            "slowest": [[r["unique_id"].split(".")[-1], round(r["execution_time"], 2)] for r in slowest]}


def dbt_build(data_dir: Path) -> float:
    """Seconds of one `dbt build` on `data_dir` (its own target and log folders); raises when it fails."""
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), "build", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT),
               "--target-path", str(data_dir / "target"), "--log-path", str(data_dir / "logs")]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env={**os.environ, "TELEMETRY_DATA_DIR": str(data_dir)},
                         capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"dbt build failed in {data_dir}:\n{run.stdout[-3000:]}")
    return seconds


def land(data_dir: Path, files: list[Path], clocks: dict[str, datetime]) -> int:
    registry = Registry.load(ROOT / "schemas")
    keyring = Keyring.single(IdentityHasher.demo())
    settings = ingest_settings(data_dir, registry, keyring, max(clocks.values()), backfill=True)
    report = ingest_files(files, settings, data_dir, registry=registry, as_of=lambda p: clocks[str(p)])
    return sum(b.landed for b in report.batches)


def generated(out: Path, players: int, days: int, seed: int, faults: bool = False) -> tuple[list[list[Path]], dict]:
    """Generate; returns the files per day (in day order) and each file's ingest clock."""
    generate(GenerateConfig(players=players, days=days, seed=seed, out=out, faults=faults))
    expected = json.loads((out / "expected.json").read_text())
    clocks = {str(Path(f["path"]) if Path(f["path"]).is_absolute() else out / f["path"]):
              datetime.fromisoformat(f["as_of"].replace("Z", "+00:00")) for f in expected["files"]}
    by_day: dict[str, list[Path]] = {}
    for path in clocks:
        by_day.setdefault(Path(path).stem, []).append(Path(path))
    return [sorted(by_day[day]) for day in sorted(by_day)], clocks


def bench_incremental(root: Path, history_days: int, players: int, seed: int, repeat: int) -> dict:
    data = root / f"history-{history_days}"
    (data / "privacy").mkdir(parents=True)
    days, clocks = generated(root / f"generated-{history_days}", players, history_days + 1, seed)
    opt_out = root / f"generated-{history_days}" / "opt_out.txt"
    if opt_out.exists():
        (data / "privacy" / "opt_out.txt").write_text(opt_out.read_text())
    history_events = land(data, [p for day in days[:-1] for p in day], clocks)
    full_seconds = dbt_build(data)
    new_events = land(data, days[-1], clocks)
    seconds = [dbt_build(data)]
    where = node_seconds(data)
    for _ in range(repeat - 1):  # builds with nothing new: the floor (dbt start-up, views, tests)
        seconds.append(dbt_build(data))
    return {"history_days": history_days, "players": players, "history_events": history_events,
            "new_day_events": new_events, "full_build_s": round(full_seconds, 2),
            "incremental_build_s": round(seconds[0], 2),
            "nothing_new_build_s": round(min(seconds[1:]), 2) if len(seconds) > 1 else None,
            "incremental_build_nodes": where}


def bench_demo(root: Path) -> dict:
    from ingest.demo import DEMO_DAYS, DEMO_PLAYERS, DEMO_SEED

    data = root / "demo"
    (data / "privacy").mkdir(parents=True)
    days, clocks = generated(root / "generated-demo", DEMO_PLAYERS, DEMO_DAYS, DEMO_SEED, faults=True)
    opt_out = root / "generated-demo" / "opt_out.txt"
    if opt_out.exists():
        (data / "privacy" / "opt_out.txt").write_text(opt_out.read_text())
    events = land(data, [p for day in days for p in day], clocks)
    return {"demo_players": DEMO_PLAYERS, "demo_days": DEMO_DAYS, "demo_events": events,
            "demo_full_build_s": round(dbt_build(data), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[5, 60], help="days of history before the new day")
    parser.add_argument("--players", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="extra builds with nothing new, to show the floor")
    parser.add_argument("--demo", action="store_true", help="also time the full build of the demo's generated data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {"runs": [], "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="telemetry-bench-incremental-") as tmp:
        try:
            for n in args.days:
                results["runs"].append(bench_incremental(Path(tmp), n, args.players, args.seed, args.repeat))
                if not args.json:
                    print(results["runs"][-1], flush=True)
            if args.demo:
                results.update(bench_demo(Path(tmp)))
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
    runs = results["runs"]
    if len(runs) >= 2:
        results["ratio"] = round(runs[-1]["incremental_build_s"] / runs[0]["incremental_build_s"], 3)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key in ("ratio", "demo_full_build_s", "demo_events"):
            if key in results:
                print(f"{key}: {results[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
