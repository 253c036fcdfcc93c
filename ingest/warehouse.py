"""Running dbt on the warehouse from Python: same project, same data directory, no network.

``dbt`` is run as a subprocess from the repository root so that it finds ``dbt_project.yml`` and
``profiles.yml``, with ``TELEMETRY_DATA_DIR`` set to an absolute path (the profile and the lake sources read it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import TelemetryError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DbtError(TelemetryError):
    """``dbt`` exited with a non-zero code."""

    def __init__(self, args: list[str], returncode: int):
        super().__init__(f"dbt {' '.join(args)} failed with exit code {returncode}")
        self.args_ = args
        self.returncode = returncode


def dbt_environment(data_dir: Path) -> dict[str, str]:
    """Environment for dbt: absolute ``TELEMETRY_DATA_DIR``, no anonymous usage tracking."""
    env = dict(os.environ)
    env["TELEMETRY_DATA_DIR"] = str(Path(data_dir).resolve())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str], data_dir: Path, *, check: bool = True, quiet: bool = False) -> int:
    """Run ``dbt <args>`` for the warehouse in ``data_dir``; target and logs go under ``data_dir``.

    Raises:
        DbtError: dbt failed and ``check`` is true.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", *args]
    if args and args[0] not in ("deps", "clean", "--version"):
        command += ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
                    "--target-path", str(data_dir / "dbt" / "target"), "--log-path", str(data_dir / "dbt" / "logs")]
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=dbt_environment(data_dir),
                               stdout=subprocess.DEVNULL if quiet else None)
    if check and completed.returncode != 0:
        raise DbtError(args, completed.returncode)
    return completed.returncode
