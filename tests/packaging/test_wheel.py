"""`pip install .`: the wheel carries the registry and the dbt project, and its `telemetry` works from any folder
with nothing of the checkout on its path.

The wheel is installed into a fresh virtual environment without system site-packages and without its
dependencies (`--no-deps --no-index`); those come from this environment's site-packages, added as a plain path,
so its `.pth` files (among them the editable install's, which puts the checkout on the path) are not run.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.registry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.dbt]

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PARTS = ("schemas", "models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")
"""What the wheel carries under ingest/_project/ (pyproject.toml, force-include)."""
AS_OF = "2024-11-24T12:00:00Z"


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
    return run


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(out)])
    (path,) = out.glob("game_telemetry_warehouse-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh environment with the wheel installed and this environment's dependencies on its path."""
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    python = root / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)])
    (own,) = root.glob("lib/python*/site-packages")
    (own / "_dependencies.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    # dbt's console script, as installing dbt-core into this environment would have written it
    dbt = Path(sys.executable).with_name("dbt")
    script = dbt.read_text().splitlines(keepends=True)
    (root / "bin" / "dbt").write_text(f"#!{python}\n" + "".join(script[1:]))
    (root / "bin" / "dbt").chmod(0o755)
    return root


@pytest.fixture
def outside(tmp_path, venv) -> dict[str, str]:
    """Environment for a command run from a folder outside the checkout: the venv first on PATH, no project or
    schema folder set."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEMETRY_PROJECT_DIR", "TELEMETRY_SCHEMAS_DIR", "TELEMETRY_DATA_DIR", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_carries_the_registry_the_dbt_project_and_the_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    project = [p for part in PROJECT_PARTS for p in ([ROOT / part] if (ROOT / part).is_file()
                                                      else (ROOT / part).rglob("*"))
               if p.is_file() and "__pycache__" not in p.parts]
    assert len(project) > 100
    missing = [str(p.relative_to(ROOT)) for p in project if f"ingest/_project/{p.relative_to(ROOT).as_posix()}" not in names]
    assert missing == []
    templates = [p.relative_to(ROOT).as_posix() for p in (ROOT / "ingest").glob("*/templates/*")]
    assert templates and set(templates) <= names
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", "bi", "docs", "notebooks", "data")]


def test_the_installed_package_is_the_wheel_and_finds_its_own_project(venv, outside, tmp_path):
    probe = ("import json, sys, ingest, ingest.config as c; "
             "print(json.dumps([ingest.__file__, str(c.PROJECT_ROOT), sys.path]))")
    run = _run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=outside)
    module, project, path = json.loads(run.stdout)
    assert Path(module).is_relative_to(venv)
    assert Path(project) == Path(module).parent / "_project"
    assert str(ROOT) not in path and str(ROOT / "ingest") not in path


def test_schemas_check_and_ingest_from_another_folder(venv, outside, tmp_path):
    registry = Registry.load(ROOT / "schemas")
    schemas = len(list((ROOT / "schemas").glob("*/*/*.json")))
    families = len(list((ROOT / "schemas").glob("*/_family.json")))
    check = _run(["telemetry", "schemas", "check"], cwd=tmp_path, env=outside)
    assert f"ok: {schemas} schemas in {families} families" in check.stdout

    recsys = registry.families["recsys"]
    valid = [json.dumps(recsys.latest(kind).document["examples"][0]) for kind in recsys.event_types()]
    (tmp_path / "in.jsonl").write_text("".join(f"{line}\n" for line in valid) + "{not json\n")
    ingest = _run(["telemetry", "ingest", "in.jsonl", "--data-dir", "data", "--as-of", AS_OF], cwd=tmp_path,
                  env=outside)
    assert (f"read {len(valid) + 1} = landed {len(valid)} + quarantined 1 + duplicates 0 + dropped 0"
            in ingest.stderr + ingest.stdout)
    events = list((tmp_path / "data" / "lake" / "events").glob("event_type=*/*/*.parquet"))
    assert sum(pq.read_metadata(p).num_rows for p in events) == len(valid)
    assert {p.parent.parent.name for p in events} == {f"event_type=recsys_{kind}" for kind in recsys.event_types()}


def test_dbt_runs_on_the_packaged_project_and_writes_only_under_the_data_directory(venv, outside, tmp_path):
    (project,) = venv.glob("lib/python*/site-packages/ingest/_project")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    run = _run(["telemetry", "dbt", "parse", "--data-dir", "data"], cwd=tmp_path, env=outside)
    manifest = json.loads((tmp_path / "data" / "dbt" / "target" / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models == {p.stem for p in (ROOT / "models").rglob("*.sql")}, run.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
