"""The optional parts (ingest/extras.py): reading marts and the command line load none of them, and each one
used without its extra fails with the pip command that installs it. Run in subprocesses, where the optional
modules can be made missing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ingest.extras import DISTRIBUTION, EXTRAS

OPTIONAL_MODULES = sorted({m.split(".")[0] for extra in EXTRAS.values() for m in extra.modules if m != "dbt.adapters.spark"}
                          | {"starlette", "h11"})
"""Top-level modules only an extra brings (starlette and h11 come with fastapi and uvicorn)."""
OPTIONAL_PACKAGES = ("ingest.collector", "ingest.quality", "ingest.importers")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


def test_reading_marts_loads_no_optional_module():
    run = _python("""
        import json, sys
        from ingest import warehouse
        print(json.dumps(sorted(sys.modules)))
    """)
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout)
    assert "ingest.warehouse" in loaded
    assert sorted({m.split(".")[0] for m in loaded} & set(OPTIONAL_MODULES)) == []
    assert [m for m in loaded if m.startswith(OPTIONAL_PACKAGES)] == []


BLOCKED = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    class Missing(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r} or name.startswith("dbt.adapters.spark"):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
""")
"""Code that makes the optional modules missing: ``{blocked}`` is the list of top-level names."""


def test_without_the_extras_the_core_works_and_each_optional_part_names_its_extra(tmp_path):
    run = _python(BLOCKED.format(blocked=OPTIONAL_MODULES) + textwrap.dedent(f"""
        import json
        from pathlib import Path

        from click.testing import CliRunner

        from ingest import warehouse
        from ingest.cli import main
        from ingest.errors import MissingExtra

        data = Path({str(tmp_path)!r})
        (data / "lake").mkdir()
        found = {{}}

        def attempt(extra, call):
            try:
                call()
            except MissingExtra as error:
                found[extra] = [error.extra, str(error)]

        def collector_app():
            import ingest.collector.app  # noqa: F401

        def quality():
            from ingest.quality import run_dq
            run_dq(data)

        def importers():
            from ingest.importers.sc2 import load_replay
            load_replay(data / "x.SC2Replay")

        attempt("collector", collector_app)
        attempt("quality", quality)
        attempt("importers", importers)
        attempt("spark", lambda: warehouse.run_dbt(["build", "--target", "spark"], data))
        help_run = CliRunner().invoke(main, ["--help"])
        serve_run = CliRunner().invoke(main, ["serve", "--data-dir", str(data)])
        print(json.dumps({{"found": found, "help": help_run.exit_code, "serve": [serve_run.exit_code, serve_run.output]}}))
    """))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert sorted(result["found"]) == ["collector", "importers", "quality", "spark"]
    for extra, (named, message) in result["found"].items():
        assert named == extra
        assert f"pip install '{DISTRIBUTION}[{extra}]'" in message
    assert result["help"] == 0
    code, output = result["serve"]
    assert code == 2 and f"pip install '{DISTRIBUTION}[collector]'" in output
    assert not (tmp_path / "dq").exists()  # the checkpoint refused before writing anything
