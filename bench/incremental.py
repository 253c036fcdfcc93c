"""Cost follows new data: time the incremental `dbt build` that adds one day, after N days of history.

For each N (default 5, 90 and 365) in a fresh data folder: generate N + 1 days of synthetic players (every
family), ingest the first N days (each file with the clock the generator lists for it), time one full
`dbt build`, then ingest day N + 1 and time the `dbt build` that follows (the one-day, incremental build), then
`--repeat - 1` builds with nothing new (the floor). Each build is what `telemetry dbt build` runs: `dbt build
--exclude-resource-type unit_test` (`--unit-tests` times them too). Targets: the one-day build after the most days ≤ 1.2 × the
one after the fewest, and ≤ 0.25 × the full build of the most days: a build reads the new day, not the history.
With `--demo`, also time the full `dbt build` over the demo's generated data (same players, days and seed as
`telemetry demo`).

    .venv/bin/python bench/incremental.py --days 5 90 365 --players 200      # the recorded run
    .venv/bin/python bench/incremental.py --days 5 30 --players 40 --repeat 3 --demo --json

Prints one line per N and the ratios; exit code 1 when a build failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.cli.warehouse import daily_build_args  # noqa: E402
from ingest.generate import GenerateConfig, generate  # noqa: E402
from ingest.pipeline.service import ingest_files, ingest_settings  # noqa: E402
from ingest.privacy import IdentityHasher, Keyring  # noqa: E402
from ingest.registry import Registry  # noqa: E402
from ingest.warehouse.dbt import invoke_dbt  # noqa: E402


def node_seconds(data_dir: Path) -> dict:
    """Where the last build spent its time (target/run_results.json): seconds per resource type (summed over
    dbt's threads: model, test, unit_test, seed), and the five slowest nodes."""
    results = json.loads((data_dir / "target" / "run_results.json").read_text())["results"]
    by_type: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + r["execution_time"], 2)
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:5]
    return {"seconds_by_type": by_type,
            "slowest": [[r["unique_id"].split(".")[-1], round(r["execution_time"], 2)] for r in slowest]}


BUILD_ARGS = ["build"]
"""The dbt arguments of every timed build: `daily_build_args` makes them what `telemetry dbt build` runs (no
unit tests) unless `--unit-tests`."""


def dbt_build(data_dir: Path, label: str) -> float:
    """Seconds of one `dbt build` on `data_dir` (its own target and log folders; the run's run_results.json is
    kept as `run_results-<label>.json`); raises when it fails."""
    started = time.perf_counter()
    run = invoke_dbt(BUILD_ARGS, data_dir, target_path=data_dir / "target", log_path=data_dir / "logs", capture=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"dbt build failed in {data_dir}:\n{run.stdout[-3000:]}")
    shutil.copy(data_dir / "target" / "run_results.json", data_dir / f"run_results-{label}.json")
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


def ingested_history(folder: Path, history_days: int, players: int, seed: int) -> dict:
    """Generate N + 1 days into `folder`/generated and ingest the first N into `folder`/data (once: a folder
    holding `history.json` is reused). Returns history.json: events landed, the new day's files, every clock."""
    manifest = folder / "history.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    data = folder / "data"
    (data / "privacy").mkdir(parents=True, exist_ok=True)
    days, clocks = generated(folder / "generated", players, history_days + 1, seed)
    opt_out = folder / "generated" / "opt_out.txt"
    if opt_out.exists():
        (data / "privacy" / "opt_out.txt").write_text(opt_out.read_text())
    history = {"history_events": land(data, [p for day in days[:-1] for p in day], clocks),
               "new_day": [str(p) for p in days[-1]], "clocks": {k: v.isoformat() for k, v in clocks.items()}}
    manifest.write_text(json.dumps(history))
    return history


def bench_incremental(root: Path, history_days: int, players: int, seed: int, repeat: int,
                      cache_dir: Path | None = None) -> dict:
    folder = (cache_dir or root) / f"history-{history_days}-players-{players}-seed-{seed}"
    history = ingested_history(folder, history_days, players, seed)
    data = root / f"history-{history_days}"
    shutil.copytree(folder / "data", data)  # the cached history stays as ingested
    clocks = {k: datetime.fromisoformat(v) for k, v in history["clocks"].items()}
    history_events = history["history_events"]
    load_before = os.getloadavg()
    full_seconds = dbt_build(data, "full")
    full_nodes = node_seconds(data)
    new_events = land(data, [Path(p) for p in history["new_day"]], clocks)
    seconds = [dbt_build(data, "one-day")]
    where = node_seconds(data)
    floor_nodes = None
    for _ in range(repeat - 1):  # builds with nothing new: the floor (dbt start-up, views, unit tests)
        seconds.append(dbt_build(data, f"nothing-new-{len(seconds)}"))
        floor_nodes = node_seconds(data)
    return {"history_days": history_days, "players": players, "history_events": history_events,
            "new_day_events": new_events, "full_build_s": round(full_seconds, 2),
            "incremental_build_s": round(seconds[0], 2),
            "nothing_new_build_s": round(min(seconds[1:]), 2) if len(seconds) > 1 else None,
            "load_average": [load_before, os.getloadavg()],
            "full_build_nodes": full_nodes, "incremental_build_nodes": where, "nothing_new_build_nodes": floor_nodes}


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
            "demo_full_build_s": round(dbt_build(data, "demo"), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[5, 90, 365],
                        help="days of history before the new day")
    parser.add_argument("--players", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2,
                        help="builds after the new day lands: the first is the one-day build, the rest have nothing new")
    parser.add_argument("--demo", action="store_true", help="also time the full build of the demo's generated data")
    parser.add_argument("--unit-tests", action="store_true",
                        help="time `dbt build` with dbt's unit tests (default: without, as `telemetry dbt build`)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build in this new folder and keep it (each build's target/run_results.json)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="keep the generated and ingested history here and reuse it in later runs")
    args = parser.parse_args()
    BUILD_ARGS[:] = ["build"] if args.unit_tests else daily_build_args(["build"])
    results: dict = {"runs": [], "load_average": os.getloadavg(), "dbt_args": BUILD_ARGS}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
    with tempfile.TemporaryDirectory(prefix="telemetry-bench-incremental-") as scratch:
        tmp = str(args.keep or scratch)
        try:
            for n in args.days:
                results["runs"].append(bench_incremental(Path(tmp), n, args.players, args.seed, args.repeat,
                                                         args.cache_dir))
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
    if runs:
        results["one_day_to_full"] = round(runs[-1]["incremental_build_s"] / runs[-1]["full_build_s"], 3)
    results["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key in ("ratio", "one_day_to_full", "load_average", "load_average_after", "demo_full_build_s", "demo_events"):
            if key in results:
                print(f"{key}: {results[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
