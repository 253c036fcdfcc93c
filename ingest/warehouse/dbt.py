"""Running dbt on the warehouse from Python: same project, same data directory, no network.

``dbt`` runs as a subprocess on the project folder (:data:`ingest.config.PROJECT_ROOT`: the checkout, or the
copy an installed wheel carries), where it finds ``dbt_project.yml`` and ``profiles.yml``. It runs *in* the data
directory with ``TELEMETRY_DATA_DIR`` absolute (the lake sources read it) and the profile's database path
relative (``TELEMETRY_WAREHOUSE``), so the rendered profile does not depend on which data directory it serves:
dbt's saved parse of one data directory holds for every other but the few files that embed the lake's path,
and :data:`ingest.config.DBT_PARSE_CACHE_ENV` shares it (docs/parameters.md). Target and logs go under
``<data_dir>/dbt/``, so the project folder may be read-only. dbt's node-by-node log is
``<data_dir>/dbt/logs/dbt.log``; :meth:`DbtRun.summary` is the one line a person reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DATA_DIR_ENV, DBT_PARSE_CACHE_ENV, PROJECT_ROOT, WAREHOUSE_ENV, WAREHOUSE_FILE
from ..errors import CheckFailed
from ..extras import require
from ..lake.atomic import atomic_path
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
    """Environment for dbt run in ``data_dir``: absolute ``TELEMETRY_DATA_DIR`` (the lake sources' paths, which
    readers of the views resolve from anywhere), ``TELEMETRY_WAREHOUSE=warehouse.duckdb`` (the profile's database
    path, relative to ``data_dir``), no anonymous usage tracking."""
    env = dict(os.environ)
    env[DATA_DIR_ENV] = str(Path(data_dir).resolve())
    env[WAREHOUSE_ENV] = WAREHOUSE_FILE
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _dbt_option(args: list[str], name: str) -> str:
    """The value of ``--name VALUE`` / ``--name=VALUE`` in dbt arguments, else ''."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return ""


def dbt_target(args: list[str]) -> str | None:
    """The profile target named by ``--target NAME`` / ``-t NAME`` / ``--target=NAME`` in dbt arguments, else None."""
    return _dbt_option(args, "--target") or _dbt_option(args, "-t") or None


_PARSE_FILE = "partial_parse.msgpack"


def _parse_cache_file(args: list[str], env: dict[str, str]) -> Path | None:
    """Where the shared parse for these arguments is kept (``$TELEMETRY_DBT_PARSE_CACHE``), else None.

    One file per project folder, target and ``--vars``: dbt discards a partial parse made with other values of
    these, so keying by them keeps runs with different values from evicting each other's parse.
    """
    folder = env.get(DBT_PARSE_CACHE_ENV)
    if not folder:
        return None
    key = json.dumps([str(PROJECT_ROOT), dbt_target(args) or "", _dbt_option(args, "--vars")])
    return Path(folder) / f"partial_parse-{hashlib.sha256(key.encode()).hexdigest()[:16]}.msgpack"


def invoke_dbt(args: list[str], data_dir: Path, *, target_path: Path | None = None, log_path: Path | None = None,
               capture: bool = False, quiet: bool = False, env: dict[str, str] | None = None,
               timeout: float | None = None) -> subprocess.CompletedProcess:
    """``dbt <args>`` on the project for the warehouse in ``data_dir``, as a subprocess run in ``data_dir``.

    The one way this project starts dbt. Nothing is published (:func:`run_dbt` does that after a build).

    Args:
        args: dbt's own arguments.
        data_dir: the data directory (created if missing).
        target_path, log_path: dbt's target and log folders (default ``<data_dir>/dbt/target`` and ``…/logs``).
        capture: capture stdout and stderr as text (default: inherit them).
        quiet: discard stdout (when not capturing).
        env: extra environment variables for dbt.
        timeout: seconds before dbt is killed (``subprocess.TimeoutExpired``); default none.

    With ``$TELEMETRY_DBT_PARSE_CACHE`` set, a target folder without a parse starts from the cached one, and a
    successful run stores its parse there (dbt still checks every file: a stale cache costs a full parse).
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    target = Path(target_path) if target_path else data_dir / "dbt" / "target"
    logs = Path(log_path) if log_path else data_dir / "dbt" / "logs"
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", *args]
    if args and args[0] not in ("deps", "clean", "--version"):
        command += ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                    "--target-path", str(target), "--log-path", str(logs)]
    environment = {**dbt_environment(data_dir), **(env or {})}
    cached = _parse_cache_file(args, environment)
    if cached is not None and cached.is_file() and not (target / _PARSE_FILE).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target / _PARSE_FILE)
    output = {"capture_output": True, "text": True} if capture else {"stdout": subprocess.DEVNULL if quiet else None}
    completed = subprocess.run(command, cwd=data_dir, env=environment, timeout=timeout, **output)
    if cached is not None and completed.returncode == 0 and (target / _PARSE_FILE).is_file():
        with atomic_path(cached) as tmp:
            shutil.copyfile(target / _PARSE_FILE, tmp)
    return completed


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
    target, logs = data_dir / "dbt" / "target", data_dir / "dbt" / "logs"
    started = time.time()
    completed = invoke_dbt(args, data_dir, quiet=quiet)
    run = DbtRun(list(args), completed.returncode, time.time() - started, logs / "dbt.log", _statuses(target, started))
    if check and not run.ok:
        raise CheckFailed(f"dbt {' '.join(args)}", f"exit code {run.returncode}; see {run.log_file}")
    subcommand = next((a for a in args if not a.startswith("-")), None)
    if run.ok and subcommand in PUBLISHING_COMMANDS:
        publish_marts(data_dir)
    return run
