"""The test suite leaves the checkout alone: every command-line call of a test writes into a temporary folder.

Three checks: no test calls the command line without an output folder (read from the tests' source); a run and a
site call made from the checkout's folder leave ``git status`` and the checkout's ``data/processed`` and ``maps``
as they were, lock files included; and ``.ci/run`` asserts the same of the whole ``make test``.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
#: Folders of the checkout that a command-line call without --out/--maps-dir would write.
DEFAULT_OUTPUTS = ("data/processed", "maps")
#: Arguments that make a call write nothing (help, version; argparse errors are caught as SystemExit).
HARMLESS = ("--help", "-h", "--version")
#: Helpers of the tests that put --out under a temporary folder (test_cli_output_set, test_readme).
OUT_HELPERS = ("_run_args(", "_cli(", "for_the_small_city(", "batch_args(")  # helpers that always set --out


def _cli_calls(tree: ast.Module, source: str) -> list[tuple[int, str]]:
    """Return (line, source) of every ``main([...])`` call and ``python -m dgcoverage`` list, with their lists.

    A call's source includes the assignments of the names it uses in the same function (``args = [...]``; then
    ``main(args)``), so an ``--out`` given there counts.
    """
    found: list[tuple[int, str]] = []
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        assigned: dict[str, list[str]] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        assigned.setdefault(t.id, []).append(ast.get_source_segment(source, node) or "")
        under_system_exit: set[int] = set()
        for node in ast.walk(fn):  # calls inside `with pytest.raises(SystemExit)`: argparse refused, nothing written
            if isinstance(node, ast.With) and any(
                "SystemExit" in (ast.get_source_segment(source, item.context_expr) or "") for item in node.items
            ):
                under_system_exit |= {id(n) for n in ast.walk(node)}
        params = {a.arg for a in fn.args.args} | ({fn.args.vararg.arg} if fn.args.vararg else set())
        for node in ast.walk(fn):
            if id(node) in under_system_exit:
                continue
            is_main = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "main" and node.args
            is_module = isinstance(node, ast.List) and {"-m", "dgcoverage"} <= {
                e.value for e in node.elts if isinstance(e, ast.Constant)
            }
            if not (is_main or is_module):
                continue
            # main(argv) or [..., *args] in a helper: the caller's arguments passed on (.ci/run's check sees them)
            passed_on = [node.args[0]] if is_main else [e.value for e in node.elts if isinstance(e, ast.Starred)]
            if any(isinstance(e, ast.Name | ast.Call) and _names(e) & params for e in passed_on):
                continue  # a wrapper passing its caller's arguments on (the whole-suite check in .ci/run sees it)
            text = ast.get_source_segment(source, node) or ""
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            text += "\n".join(s for name in names for s in assigned.get(name, []))
            found.append((node.lineno, text))
    return found


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def test_no_test_calls_the_command_line_without_an_output_folder():
    offenders = []
    for f in sorted(TESTS.glob("test_*.py")):
        source = f.read_text(encoding="utf-8")
        if "dgcoverage" not in source:
            continue
        for line, text in _cli_calls(ast.parse(source), source):
            if any(h in text for h in HARMLESS) or '"--out"' in text or "'--out'" in text:
                continue
            if any(h in text for h in OUT_HELPERS):
                continue
            offenders.append(f"{f.name}:{line}")
    assert not offenders, (
        "these command-line calls write into the checkout's data/processed and maps (no --out): "
        + ", ".join(offenders)
        + ". Fix: give them --out (and --maps-dir) under tmp_path."
    )


def _snapshot() -> tuple[str, dict[str, int]]:
    """``git status`` of the default output folders (ignored files too) and every file's mtime there."""
    status = ""
    if shutil.which("git") and (REPO / ".git").exists():
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--ignored", "--", *DEFAULT_OUTPUTS],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    stamps = {}
    for d in DEFAULT_OUTPUTS:
        for p in sorted((REPO / d).rglob("*")) if (REPO / d).is_dir() else ():
            stamps[str(p.relative_to(REPO))] = p.stat().st_mtime_ns
    return status, stamps


def test_runs_from_the_checkout_with_out_leave_it_alone(small_city, tmp_path):
    """The CLI called from the checkout's folder, as the tests do, touches nothing of the checkout."""
    before = _snapshot()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out, maps = tmp_path / "out", tmp_path / "maps"
    for args in (
        ["run", "--circle", "legal_aid_30", "--no-maps"],
        ["site", "--circle", "legal_aid_30", "--k", "2"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "dgcoverage", *args, "--data-dir", str(small_city), "--out", str(out)]
            + ["--maps-dir", str(maps)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
    assert _snapshot() == before
    # and the run cleaned up after itself: no lock file, journal or staging folder left in its own folders
    left = [p.name for p in (*out.rglob(".dgcoverage*"), *maps.rglob(".dgcoverage*"))]
    assert left == [] and (maps / "legal_aid_30.html").exists()


def test_ci_asserts_make_test_leaves_the_checkout_unchanged():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    i_before, i_test, i_after = (ci.find(s) for s in ("status_before=", "\nmake test", "status_after="))
    assert -1 < i_before < i_test < i_after, "the git status check must surround `make test` in .ci/run"
    assert "git status --porcelain" in ci and "diff" in ci[i_after:]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_ci_check_fails_with_the_diff_when_the_checkout_changes(tmp_path):
    """The snippet of .ci/run, run in a scratch repository where `make test` writes a file, fails and shows it."""
    if not shutil.which("git"):
        pytest.skip("needs git")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    snippet = ci[ci.find("# the checkout is left as it was") :]
    repo = tmp_path / "r"
    (repo / "data" / "processed").mkdir(parents=True)
    (repo / "maps").mkdir()
    (repo / "Makefile").write_text("test:\n\techo new > stray.txt\n\ttouch maps/.dgcoverage.lock\n", encoding="utf-8")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "Makefile"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + snippet], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 1
    assert "make test changed the checkout" in r.stderr and "stray.txt" in r.stderr
    assert "maps/.dgcoverage.lock" in r.stderr
