"""Every command in the README runs as written, so none can fail for a newcomer who copies it.

The shell commands of the README's ``bash`` blocks are taken one by one (continuation lines joined, comments
dropped) and, by what they need:

* ``dgcoverage`` commands on the embedded default are **run** in this process against a small city (two towns)
  in a temporary folder: ``--data-dir`` points at it, ``--out``/``--maps-dir`` are moved under ``tmp_path``,
  ``--no-maps`` is added where the command gives no maps folder and ``--time-limit`` is capped at 5 s (speed);
* ``dgcoverage`` commands that name files of your own (``roads.osm.pbf``, ``gyms.xlsx``) or download
  (``--network-place``) are **parsed** by the real parser (every option and value must be accepted);
* ``.venv/bin/python scripts/...`` commands are run with this interpreter (the one of ``.venv``) the same way;
* ``make`` commands are checked to be targets of the Makefile (``make demo`` and ``make test`` are what the
  whole suite and CI run).

The README's Python example runs too, on the small city, from a folder laid out like the repository.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dgcoverage.cli.main import main
from dgcoverage.cli.options import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: Options whose value is a file the user brings.
FILE_OPTIONS = (
    "--network",
    "--facilities",
    "--population",
    "--elderly-population",
    "--villages",
    "--candidates",
    "--config",
    "--add",
    "--towns",
    "--region",
)


def readme_commands() -> list[str]:
    """Every shell command in the README's ``bash`` blocks, continuation lines joined, comments removed."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


COMMANDS = readme_commands()


def _value(tokens: list[str], opt: str) -> str | None:
    return tokens[tokens.index(opt) + 1] if opt in tokens else None


def _set(tokens: list[str], opt: str, value: str) -> list[str]:
    if opt in tokens:
        i = tokens.index(opt)
        return [*tokens[: i + 1], value, *tokens[i + 2 :]]
    return [*tokens, opt, value]


def needs_own_files(tokens: list[str]) -> bool:
    """Whether the command names files that are not in the repository, or downloads."""
    if "--network-place" in tokens:
        return True
    # a file in data/processed is the output of an earlier command (absent from a clean checkout): yours too
    return any(
        (v := _value(tokens, o)) is not None and (not (REPO / v).exists() or v.startswith("data/processed"))
        for o in FILE_OPTIONS
    )


def for_the_small_city(tokens: list[str], small_city: Path, tmp: Path) -> list[str]:
    """The command pointed at the small city, its outputs moved under ``tmp``, exact solves capped at 20 s."""
    tokens = _set(tokens, "--data-dir", str(small_city))
    tokens = _set(tokens, "--out", str(tmp / (_value(tokens, "--out") or "out").strip("/").replace("/", "_")))
    if "--maps-dir" in tokens:
        tokens = _set(tokens, "--maps-dir", str(tmp / _value(tokens, "--maps-dir").strip("/").replace("/", "_")))
    elif "--no-maps" not in tokens and tokens[0] in ("run", "site"):
        tokens.append("--no-maps")
    if "--time-limit" in tokens:
        tokens = _set(tokens, "--time-limit", str(min(5.0, float(_value(tokens, "--time-limit")))))
    return tokens


def test_the_readme_has_commands_and_starts_with_the_two():
    assert COMMANDS[:2] == ["make demo", "make test"]
    assert len([c for c in COMMANDS if "dgcoverage " in c]) >= 10
    # every command is one of the kinds this test knows how to check
    kinds = ("make ", ".venv/bin/dgcoverage ", ".venv/bin/python scripts/")
    assert [c for c in COMMANDS if not c.startswith(kinds)] == []


def test_make_commands_are_targets():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for c in COMMANDS:
        if c.startswith("make "):
            for target in c.split()[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), c


def test_python_commands_use_the_venv():
    """``python scripts/...`` fails on a fresh clone (the package is only in .venv): say .venv/bin/python."""
    text = README.read_text(encoding="utf-8")
    assert not re.findall(r"(?<![/\w])python3? scripts/", text)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(".venv/bin/dgcoverage ")])
def test_dgcoverage_command(command, small_city, tmp_path, capsys):
    tokens = shlex.split(command)[1:]
    if {"--help", "-h", "--version"} & set(tokens):
        with pytest.raises(SystemExit) as e:
            main(tokens)
        assert e.value.code == 0 and capsys.readouterr().out.strip()
        return
    if needs_own_files(tokens):  # files of the reader's own, or the internet: the options must parse
        args = build_parser().parse_args(tokens)
        assert args.command == tokens[0]
        return
    argv = for_the_small_city(tokens, small_city, tmp_path)
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == 0, f"{command}\n-> {' '.join(argv)}\n{out.err}"
    out_dir = Path(_value(argv, "--out"))
    wrote = "scenario.json" if tokens[0] == "scenario" else "summary.json"  # a scenario writes its ledger
    assert list(out_dir.rglob(wrote)), "the command wrote no tables"
    if "--no-maps" in argv:
        assert not list(out_dir.rglob("*.html")) and "--maps-dir" not in argv


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(".venv/bin/python scripts/")])
def test_script_command(command, small_city, tmp_path):
    tokens = shlex.split(command)
    script = REPO / tokens[1]
    assert script.exists(), command
    argv = for_the_small_city([tokens[0], *tokens[2:]], small_city, tmp_path)[1:]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(
        [sys.executable, str(script), *argv, "--no-maps"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr


def test_python_example_runs(small_city, tmp_path, monkeypatch, capsys):
    """The README's Python example, as written, from a folder laid out like the repository (small city)."""
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert m, "README lost its marked Python example"
    shutil.copytree(small_city, tmp_path / "data" / "raw")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(m.group(1), "README.md", "exec"), ns)  # noqa: S102 - the documented example, run as written
    assert len(ns["villages"]) == 34 and len(ns["sites"].table) == 5  # the small city's villages (莞城 + 东城)
    assert (tmp_path / "data" / "processed" / "fitness_15" / "villages.csv").exists()
    assert "34 EPSG:4326" in capsys.readouterr().out
