"""The package's layers (docs/architecture.md): no module imports a stage above its own, no modules import each
other in a cycle, and the command line is the only place that knows click."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ingest"
LAYERS = {
    "config": 0, "errors": 0, "extras": 0,
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


def _module_name(path: Path, root: Path) -> str:
    """``pipeline.row`` for ``ingest/pipeline/row.py``, ``pipeline`` for ``ingest/pipeline/__init__.py``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """Module → {imported module: line} over every module of the package, counting imports inside functions and
    ``TYPE_CHECKING`` blocks; ``from .x import y`` names the module ``x.y`` when ``y`` is one, else ``x``."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py") if p != root / "__init__.py"}
    graph: dict[str, dict[str, int]] = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("ingest.")):
                if node.level > 0:
                    base = package[:len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
                else:
                    base = node.module.split(".")[1:]
                for alias in node.names:
                    submodule = ".".join([*base, alias.name])
                    target = submodule if submodule in paths else ".".join(base)
                    if target in paths and target != name:
                        edges.setdefault(target, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    target = alias.name.removeprefix("ingest.")
                    if alias.name.startswith("ingest.") and target in paths and target != name:
                        edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    (package / "stage").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "stage" / "__init__.py").write_text("from .a import A\n")
    (package / "stage" / "a.py").write_text("from .b import B\n\nclass A:\n    pass\n")
    (package / "stage" / "b.py").write_text("class B:\n    def run(self):\n        from . import a\n")
    (package / "other.py").write_text("from .stage.a import A\n")
    graph = _import_graph(package)
    assert graph == {"stage": {"stage.a": 1}, "stage.a": {"stage.b": 1}, "stage.b": {"stage.a": 3},
                     "other": {"stage.a": 1}}
    assert _cycles(graph) == [["stage.a", "stage.b"]]
    assert _cycles({"a": {"b": 1}, "b": {}, "c": {"a": 2, "b": 3}}) == []


def test_no_modules_import_each_other_in_a_cycle():
    graph = _import_graph()
    cycles = ["; ".join(f"{m}:{line} imports {target}" for m in component
                        for target, line in sorted(graph[m].items()) if target in component)
              for component in _cycles(graph)]
    assert cycles == []


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
