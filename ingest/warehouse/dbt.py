"""Running dbt on the warehouse from Python: same project, same data directory, no network.

``dbt`` runs as a subprocess from the project folder (:data:`ingest.config.PROJECT_ROOT`: the checkout, or the
copy an installed wheel carries) so that it finds ``dbt_project.yml`` and ``profiles.yml``, with
``TELEMETRY_DATA_DIR`` set to an absolute path (the profile and the lake sources read it). Target and logs go
under ``<data_dir>/dbt/``, so the project folder may be read-only. dbt's node-by-node log is
``<data_dir>/dbt/logs/dbt.log``; :meth:`DbtRun.summary` is the one line a person reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DATA_DIR_ENV, PROJECT_ROOT
from ..errors import CheckFailed
from ..extras import require
from .publish import publish_marts

PUBLISHING_COMMANDS = ("build",)
"""dbt sub-commands after which :func:`run_dbt` publishes the marts: only ``build``, which runs the data tests
(``run`` builds models without testing them, and publishing promises the tested state)."""
_RESOURCE_NAMES = {"model": "models", "test": "tests", "unit_test": "unit tests", "seed": "seeds", "snapshot": "snapshots"}


@dataclass(frozen=True)
class DbtRun:
    """What one dbt invocation did.

    Attributes:
        args: the dbt arguments, e.g. ``["build", "--select", "+agg_recsys_daily"]``.
        returncode: dbt's exit code (0 ok, 1 a node failed, 2 dbt could not run).
        seconds: wall-clock duration.
        log_file: dbt's node-by-node log.
        statuses: ``(resource type, status)`` → nodes, from ``run_results.json``
            (e.g. ``("model", "success")``, ``("test", "pass")``, ``("test", "warn")``).
    """

    args: list[str]
    returncode: int
    seconds: float
    log_file: Path
    statuses: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary(self) -> str:
        """One line: ``dbt build: 57 models, 120 tests (118 pass, 2 warn, 0 fail) in 34.2 s; log: …``."""
        parts = []
        for kind, label in _RESOURCE_NAMES.items():
            counts = {status: n for (k, status), n in self.statuses.items() if k == kind}
            if not counts:
                continue
            detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            parts.append(f"{sum(counts.values())} {label} ({detail})")
        subcommand = next((a for a in self.args if not a.startswith("-")), "")
        outcome = "ok" if self.ok else f"FAILED (exit {self.returncode})"
        return (f"dbt {subcommand}: {', '.join(parts) or 'nothing run'} in {self.seconds:.1f} s, {outcome}; "
                f"log: {self.log_file}")


def dbt_environment(data_dir: Path) -> dict[str, str]:
    """Environment for dbt: absolute ``TELEMETRY_DATA_DIR``, no anonymous usage tracking."""
    env = dict(os.environ)
    env[DATA_DIR_ENV] = str(Path(data_dir).resolve())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def dbt_target(args: list[str]) -> str | None:
    """The profile target named by ``--target NAME`` / ``-t NAME`` / ``--target=NAME`` in dbt arguments, else None."""
    for i, arg in enumerate(args):
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
        if arg in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
    return None


def _statuses(target: Path, since: float) -> Counter:
    """Node statuses from ``run_results.json`` when it was written by this run, else empty."""
    path = target / "run_results.json"
    try:
        if path.stat().st_mtime < since:
            return Counter()
        results = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    except (OSError, ValueError):
        return Counter()
    return Counter((r.get("unique_id", "").split(".", 1)[0], r.get("status", "")) for r in results)


def run_dbt(args: list[str], data_dir: Path, *, check: bool = True, quiet: bool = False) -> DbtRun:
    """Run ``dbt <args>`` for the warehouse in ``data_dir``; target and logs go under ``data_dir/dbt``.

    After a successful ``dbt build`` (models and their data tests) the marts are published to ``<data_dir>/marts/``
    (:func:`ingest.warehouse.publish.publish_marts`); a failed build publishes nothing, so readers keep the
    last good state. ``dbt run`` tests nothing, so it publishes nothing (run ``telemetry publish`` deliberately).

    Args:
        args: dbt's own arguments.
        data_dir: the data directory.
        check: raise when dbt fails.
        quiet: keep dbt's node lines off the terminal (they are in the log file either way).

    Raises:
        CheckFailed: dbt failed and ``check`` is true.
        MissingExtra: ``--target spark`` without the ``spark`` extra.
        MissingInput, ResourceBusy: the build succeeded but publishing failed.
    """
    if dbt_target(args) == "spark":
        require("spark")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    target, logs = data_dir / "dbt" / "target", data_dir / "dbt" / "logs"
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", *args]
    if args and args[0] not in ("deps", "clean", "--version"):
        command += ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                    "--target-path", str(target), "--log-path", str(logs)]
    started = time.time()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=dbt_environment(data_dir),
                               stdout=subprocess.DEVNULL if quiet else None)
    run = DbtRun(list(args), completed.returncode, time.time() - started, logs / "dbt.log", _statuses(target, started))
    if check and not run.ok:
        raise CheckFailed(f"dbt {' '.join(args)}", f"exit code {run.returncode}; see {run.log_file}")
    subcommand = next((a for a in args if not a.startswith("-")), None)
    if run.ok and subcommand in PUBLISHING_COMMANDS:
        publish_marts(data_dir)
    return run
