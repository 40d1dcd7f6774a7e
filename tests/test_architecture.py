"""The module structure of docs/architecture.md: layers, no cycles, no upward imports, one-way data flow."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dgcoverage"

#: Layer of every module (docs/architecture.md); a module may import only modules on lower layers.
LAYERS = {
    "_version": 1,
    "errors": 1,
    "io": 1,
    "parallel": 1,
    "siting": 1,
    "roadnet": 2,
    "population": 2,
    "coords": 2,
    "config": 2,
    "embedded": 2,
    "outputs": 2,
    "tables": 3,
    "access": 3,
    "osm": 3,
    "cache": 3,
    "study": 4,
    "villages": 4,
    "facilities": 4,
    "coverage": 4,
    "quality": 4,
    "network": 4,
    "supply": 4,
    "pipeline": 5,
    "gaps": 5,
    "maps": 5,
    "report": 5,
    "synthetic": 5,
    "candidates": 6,
    "bench": 6,
    "cli": 7,
    "__init__": 7,
    "__main__": 8,
}


def _imports(path: Path) -> set[str]:
    """dgcoverage modules imported anywhere in a file (module level or inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1:  # "from . import x": a module, or a name of the package's __init__
                out.update(a.name if a.name in LAYERS else "__init__" for a in node.names)
            elif node.module and node.module.startswith("dgcoverage."):
                out.add(node.module.split(".")[1])
            elif node.module == "dgcoverage":
                out.update(a.name if a.name in LAYERS else "__init__" for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "dgcoverage":
                    out.add("__init__")
                elif a.name.startswith("dgcoverage."):
                    out.add(a.name.split(".")[1])
    return out


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) & set(LAYERS) for p in PKG.glob("*.py")}


def test_every_module_has_a_layer():
    assert set(_graph()) == set(LAYERS), "add new modules to LAYERS and docs/architecture.md"


def test_no_upward_or_sideways_imports():
    bad = [(m, d) for m, deps in _graph().items() for d in deps if LAYERS[d] >= LAYERS[m]]
    assert not bad, f"imports that do not go down a layer: {bad}"


def test_no_cycles():
    g = _graph()
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in g[m]:
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack + [m, d])}")
            if d not in state:
                visit(d, stack + [m])
        state[m] = 2

    for m in g:
        if m not in state:
            visit(m, [])


def test_real_data_path_never_imports_the_generator():
    g = _graph()
    users = sorted(m for m, deps in g.items() if "synthetic" in deps)
    assert users == ["bench", "cli"], users


def test_only_the_top_imports_the_orchestrator():
    g = _graph()
    users = sorted(m for m, deps in g.items() if "pipeline" in deps)
    assert set(users) <= {"__init__", "bench", "cli"}, users


def test_checker_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "def f():\n    from .pipeline import run_circle\n    from . import siting, __version__\n", encoding="utf-8"
    )
    assert _imports(f) == {"pipeline", "siting", "__init__"}
