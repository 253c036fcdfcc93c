"""The package's layers (docs/architecture.md): no module imports a stage above its own, and the command line
is the only place that knows click."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ingest"
LAYERS = {
    "config": 0, "errors": 0,
    "registry": 1,
    "lake": 2, "privacy": 2, "importers": 2,
    "pipeline": 3, "generate": 3,
    "warehouse": 4,
    "lifecycle": 5, "quality": 5, "report": 5, "alerts": 5,
    "demo": 6, "collector": 6,
    "cli": 7,
}


def _imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module under ``ingest``, line) of every intra-package import of one file."""
    relative = path.relative_to(PACKAGE).with_suffix("").parts
    package = list(relative[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[:len(package) - (node.level - 1)]
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found += [(".".join([*base, *name.split(".")]), node.lineno) for name in names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ingest."):
            found.append((node.module.removeprefix("ingest."), node.lineno))
    return found


def test_every_stage_has_a_layer():
    stages = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
              if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert stages == set(LAYERS)


def test_no_stage_imports_a_stage_above_it():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        stage = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if stage == "__init__":
            continue  # the package's public facade re-exports every stage
        for module, line in _imports(path):
            target = module.split(".")[0]
            if target != stage and LAYERS[target] > LAYERS[stage]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert upward == []


def test_only_the_command_line_uses_click():
    users = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if p.relative_to(PACKAGE).parts[0] != "cli" and "import click" in p.read_text(encoding="utf-8")]
    assert users == []
