"""Where the project folder is found (ingest/config.py): TELEMETRY_PROJECT_DIR over the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import json, ingest.config as c; print(json.dumps([str(c.PROJECT_ROOT), str(c.SCHEMAS_DIR), str(c.SEEDS_DIR)]))"


def _config(env: dict[str, str], cwd: Path) -> list[str]:
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_the_checkout_is_the_project_folder_of_an_editable_install(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEMETRY_PROJECT_DIR"}
    assert _config(env, tmp_path) == [str(ROOT), str(ROOT / "schemas"), str(ROOT / "seeds")]


def test_the_project_dir_setting_wins_and_the_commands_use_it(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "schemas" / "recsys", project / "schemas" / "recsys")
    env = {**os.environ, "TELEMETRY_PROJECT_DIR": str(project)}
    assert _config(env, tmp_path) == [str(project), str(project / "schemas"), str(project / "seeds")]
    schemas = len(list((project / "schemas").glob("*/*/*.json")))
    run = subprocess.run([str(Path(sys.executable).with_name("telemetry")), "schemas", "check"], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"ok: {schemas} schemas in 1 families" in run.stdout
    assert schemas < len(list((ROOT / "schemas").glob("*/*/*.json")))
