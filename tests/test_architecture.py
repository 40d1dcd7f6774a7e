"""The module structure of docs/architecture.md: layers as folders, no cycles, no upward imports, one-way flow.

The package's folders are its layers, from the ground up::

    errors, _version        the exception vocabulary and the version
    core/                   the road-network type, safe writing, the output-set transaction, forked jobs
    compute/                numbers: access (CSR Dijkstra), coverage classes and tables, supply/2SFCA, siting
    inputs/                 read and checked at the boundary
    pipeline/               the orchestrator's steps and the core types (pipeline.study) the writers read
    outputs/, demo/         writers of every output set; the embedded default's generator
    cli/                    the command line
    __init__                the public names

A module may import modules of a lower layer, or of its own folder without a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "dgcoverage"

#: Layer of every folder (and of the root modules); docs/architecture.md draws the same.
LAYERS = {
    "errors": 0,
    "_version": 0,
    "core": 1,
    "compute": 2,
    "inputs": 3,
    "pipeline": 4,
    "outputs": 5,
    "demo": 5,
    "cli": 6,
    "__init__": 7,
    "__main__": 8,
}

#: What the writers (outputs/) may read of the orchestrator: its data types, never its steps.
PIPELINE_TYPES = {"pipeline.study"}

MAX_MODULE_BYTES = 40_000


def _name(path: Path) -> str:
    """Dotted module name relative to the package: ``inputs.tables``, ``errors``, ``cli`` (a package)."""
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in PKG.rglob("*.py") if "vendor" not in p.parts}


def _resolve(me: str, is_pkg: bool, level: int, module: str | None) -> str:
    base = me.split(".") if is_pkg else me.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *(module.split(".") if module else [])]) or "__init__"


def _imports(path: Path, me: str, known: set[str]) -> set[str]:
    """Package modules imported anywhere in a file (module level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def add(target: str, names: list[str]) -> None:
        for n in names:
            if f"{target}.{n}".lstrip(".") in known:
                out.add(f"{target}.{n}".lstrip("."))
            elif target in known:
                out.add(target)
            elif not target:
                out.add("__init__")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                target = _resolve(me, is_pkg, node.level, node.module)
                add("" if target == "__init__" else target, names)
            elif node.module and (node.module == "dgcoverage" or node.module.startswith("dgcoverage.")):
                add(node.module[len("dgcoverage.") :] if "." in node.module else "", names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "dgcoverage":
                    out.add("__init__")
                elif a.name.startswith("dgcoverage."):
                    out.add(a.name[len("dgcoverage.") :])
    return out - {me}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, m, set(mods)) for m, p in mods.items()}


def _layer(m: str) -> int:
    return LAYERS[m.split(".")[0]]


def _folder(m: str) -> str:
    return m.split(".")[0]


def test_every_module_has_a_layer():
    missing = sorted(m for m in _modules() if m.split(".")[0] not in LAYERS)
    assert not missing, f"add these folders/modules to LAYERS and docs/architecture.md: {missing}"


def test_no_upward_imports():
    bad = []
    for m, deps in _graph().items():
        for d in deps:
            if d == _folder(m):  # a subpackage's own __init__
                continue
            same_folder = _folder(d) == _folder(m) and "." in m and "." in d
            if not same_folder and _layer(d) >= _layer(m):
                bad.append((m, d))
    assert not bad, f"imports that do not go down a layer: {bad}"


def test_no_cycles():
    g = _graph()
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in g.get(m, ()):
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
    users = sorted(m for m, deps in g.items() if any(d.startswith("demo") for d in deps) and _folder(m) != "demo")
    assert all(_folder(u) == "cli" for u in users), users


def test_writers_read_the_types_not_the_steps_of_the_orchestrator():
    g = _graph()
    bad = [
        (m, d)
        for m, deps in g.items()
        if _folder(m) in ("outputs", "demo")
        for d in deps
        if _folder(d) == "pipeline" and d not in PIPELINE_TYPES
    ]
    assert not bad, bad


def test_no_module_over_40_kb_and_no_browser_code_in_python():
    big = {m: p.stat().st_size for m, p in _modules().items() if p.stat().st_size > MAX_MODULE_BYTES}
    assert not big, f"modules over 40 KB (split them by what they do): {big}"
    for m, p in _modules().items():
        text = p.read_text(encoding="utf-8")
        for marker in ("function(", "function (", "addEventListener(", "document.getElementById("):
            assert marker not in text, f"{m}: JavaScript in a Python module ({marker!r}); it belongs in a .js file"


def test_no_benchmark_code_in_the_package():
    assert not [p for p in PKG.rglob("*.py") if p.stem.startswith("bench")]
    assert (ROOT / "benchmarks" / "bench.py").exists() or list((ROOT / "benchmarks").glob("*.py"))


def test_checker_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "def f():\n    from ..pipeline.run import run_circle\n    from ..compute import siting\n"
        "    from .. import __version__\n    from .tables import x\n",
        encoding="utf-8",
    )
    known = {"pipeline.run", "compute.siting", "compute", "inputs.tables", "inputs.facilities"}
    assert _imports(f, "inputs.facilities", known) == {"pipeline.run", "compute.siting", "__init__", "inputs.tables"}


def test_checker_finds_an_upward_import(tmp_path, monkeypatch):
    """The layer rule would catch an input reader that calls the orchestrator."""
    known = {"inputs.tables", "pipeline.run"}
    f = tmp_path / "tables.py"
    f.write_text("from ..pipeline.run import run_circle\n", encoding="utf-8")
    deps = _imports(f, "inputs.tables", known)
    assert deps == {"pipeline.run"} and _layer("pipeline.run") > _layer("inputs.tables")


def test_the_orchestrators_steps_fit_on_one_screen():
    """``load_study`` and ``run_circle`` stay a short list of steps (each step's work lives in its own layer)."""
    for rel, name in (("pipeline/load.py", "load_study"), ("pipeline/run.py", "run_circle")):
        tree = ast.parse((PKG / rel).read_text(encoding="utf-8"))
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
        assert fn.end_lineno - fn.lineno + 1 <= 60, f"{name}: {fn.end_lineno - fn.lineno + 1} lines (at most 60)"
