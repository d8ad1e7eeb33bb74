"""The package's shape: every import runs down the layers, no module imports itself round a cycle,
nothing imports streamlit, and the package stays small enough to read (module count and length)."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "mnist_small"
# Lowest first. A unit (a top-level module or a sub-package) imports only from lower layers, and
# from itself; the data flows MNIST files -> tensors -> training -> checkpoints -> answers -> figures.
LAYERS = [
    {"settings", "records", "models", "published", "data"},
    {"registry"},
    {"checkpoints", "preprocess"},
    {"inference", "handwriting", "plots"},
    {"classset"},  # the store, its folder format, the leaderboard: below training, which reads a class's folder
    {"training"},
    {"classroom"},  # the class fine-tune, its job and command line: above training
    {"cards"},
    {"summary"},
    {"__main__"},
]
MAX_TOP_LEVEL = 14
MAX_LINES = 350
LONG_BY_DATA = {"registry.py"}  # the zoo's recipes: data, one entry per model


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The mnist_small modules ``path`` imports, anywhere in it (inside functions too)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:  # `from . import x` names a module; `from .x import y` names a thing in x
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def unit(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit(module) in units)


def test_every_module_has_a_layer():
    assert {unit(m) for m in MODULES} - {""} <= set().union(*LAYERS)


def test_imports_run_down_the_layers_and_never_import_streamlit():
    upward = []
    for module, path in MODULES.items():
        found = imports_of(path)
        assert not any(name.split(".")[0] == "streamlit" for name in found), f"{module} imports streamlit"
        for target in (t for t in found if t in MODULES and t != "mnist_small" and module != "mnist_small"):
            if unit(target) != unit(module) and layer(target) >= layer(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that do not run down the layers: " + "; ".join(upward)


def test_no_import_cycle():
    graph = {m: {t for t in imports_of(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_package_stays_small_enough_to_read():
    top_level = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL, top_level
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= LONG_BY_DATA, long


def test_benchmarks_stay_readable_and_never_import_the_tests():
    for path in (ROOT / "benchmarks").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name
        assert not any(name.split(".")[0] == "tests" for name in imports_of_anything(path)), f"{path.name} imports from tests/"


def imports_of_anything(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found
