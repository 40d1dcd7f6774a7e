"""The command line's habits: --version, "did you mean", help with examples, flags that do what they say."""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from pathlib import Path

import pytest

from dgcoverage._version import __version__
from dgcoverage.cli.habits import did_you_mean, share, ticking
from dgcoverage.cli.main import main
from dgcoverage.cli.options import build_parser
from dgcoverage.core.outputset import LOCK_NAME
from dgcoverage.inputs.config import load_config

CIRCLES = list(load_config()[0])


def _exit(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_version(capsys):
    code, out, _ = _exit(["--version"], capsys)
    assert code == 0 and out.strip() == f"dgcoverage {__version__}"


def test_mistyped_option_is_named_with_the_closest_one(capsys):
    code, _, err = _exit(["run", "--facilites", "x"], capsys)
    # before "one of --circle --all is required": the typo is the first thing to fix
    assert code == 2 and "usage: dgcoverage run" in err
    assert err.strip().endswith("error: unrecognized option --facilites (did you mean --facilities?)")
    code, _, err = _exit(["site", "--circle", "fitness_15", "--time-limt", "5"], capsys)
    assert code == 2 and "did you mean --time-limit?" in err and "usage: dgcoverage site" in err
    code, _, err = _exit(["run", "--all", "--xyzzy"], capsys)
    assert code == 2 and err.strip().endswith("unrecognized option --xyzzy")  # nothing close: no guess
    # abbreviations argparse accepts stay accepted; negative numbers stay values (refused later with a reason)
    args = build_parser().parse_args(["site", "--circle", "fitness_15", "--time-lim", "5", "--k", "-1"])
    assert args.time_limit == 5 and args.k == -1


def test_mistyped_subcommand_and_choice(capsys):
    code, _, err = _exit(["rn", "--all"], capsys)
    assert code == 2 and "invalid choice: 'rn'" in err and err.strip().endswith("did you mean run?")
    code, _, err = _exit(["run", "--all", "--mode", "bycicle"], capsys)
    assert code == 2 and err.strip().endswith("did you mean bicycle?")


def test_mistyped_circle_id(capsys, tmp_path):
    rc = main(["run", "--circle", "legal_aid30", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "circle legal_aid30 is not in the config" in err and "(did you mean legal_aid_30?)" in err
    assert "known: " + ", ".join(CIRCLES) in err
    assert not (tmp_path / "o").exists()  # refused before any folder is made
    assert did_you_mean("zzz", CIRCLES) == ""


def _subparsers(ap: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_subcommand_explains_itself_and_every_option():
    subs = _subparsers(build_parser())
    assert set(subs) >= {"build-demo", "run", "site"}
    for name, p in subs.items():
        assert p.description and len(p.description) > 40, name
        assert p.epilog and "examples:" in p.epilog, name
        examples = [ln for ln in p.epilog.splitlines() if ln.strip().startswith("dgcoverage ")]
        assert len(examples) >= 2, name
        for a in p._actions:
            if a.option_strings and a.dest != "help":
                assert a.help and len(a.help) >= 12, f"{name} {a.option_strings} has no help"
        helptext = p.format_help()
        if name in ("run", "site"):
            assert "circle ids (packaged circles.toml): " + ", ".join(CIRCLES) in helptext
    run = {a.dest: a.help for a in subs["run"]._actions}
    for fmt in (".osm", ".osm.pbf", ".osm.bz2", ".npz"):
        assert fmt in run["network"]
    for fmt in ("CSV", "XLSX", "GeoJSON", ".gpkg", ".shp", ".osm.pbf"):
        assert fmt in run["facilities"]
    assert "does NOT change the speed" in run["mode"]
    bd = {a.dest: a.help for a in subs["build-demo"]._actions}
    assert bd["out"] and bd["seed"] and bd["debug"]


def test_run_help_lists_the_circles_of_the_config_given(tmp_path, capsys):
    cfg = tmp_path / "mine.toml"
    packaged = Path(__import__("dgcoverage").__file__).parent / "data" / "circles.toml"
    cfg.write_text(
        packaged.read_text(encoding="utf-8").replace("[circles.fitness_15", "[circles.my_parks_12"),
        encoding="utf-8",
    )
    code, out, _ = _exit(["run", "--config", str(cfg), "--help"], capsys)
    assert code == 0 and f"circle ids (config {cfg}): elderly_care_15, my_parks_12, legal_aid_30" in out


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--k", "0"], "--k must be >= 1, got 0"),
        (["--k", "-3"], "--k must be >= 1, got -3"),
        (["--time-limit", "0"], "--time-limit must be a positive number, got 0.0"),
        (["--time-limit", "-5"], "--time-limit must be a positive number, got -5.0"),
    ],
)
def test_pointless_values_are_refused_before_computing(extra, said, tmp_path, capsys):
    t0 = time.perf_counter()
    rc = main(["site", "--circle", "fitness_15", *extra, "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert rc == 2 and out.err.strip() == f"dgcoverage: error: {said}"
    assert "loading" not in out.out and not (tmp_path / "d").exists() and time.perf_counter() - t0 < 5


def test_shares_are_cut_like_the_pages():
    assert share(0.928684) == "92.8%"  # the demo's legal aid: rounding would say 92.9 %
    assert share(0.8996) == "89.9%" and share(0.9) == "90.0%" and share(1.0) == "100.0%"
    assert share(0.0000001, 4) == "< 0.0001%" and share(0.0) == "0.0%"


def test_ticking_prints_the_elapsed_time():
    buf = io.StringIO()
    with ticking("solving", 0.05, buf):
        time.sleep(0.18)
    lines = buf.getvalue().splitlines()
    assert len(lines) >= 2 and all(ln.startswith("  solving ... ") and ln.endswith(" s") for ln in lines)
    n = len(lines)
    time.sleep(0.12)
    assert len(buf.getvalue().splitlines()) == n  # stopped with the block


def _no_lock_left(*roots: Path) -> None:
    for r in roots:
        assert not list(r.rglob(LOCK_NAME)), f"lock file left in {r}"


def test_run_prints_cut_shares_and_leaves_no_lock(small_city, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", "--circle", "legal_aid_30", "--data-dir", str(small_city), "--out", str(out), "--no-maps"]) == 0
    printed = capsys.readouterr().out
    r = json.loads((out / "legal_aid_30" / "summary.json").read_text(encoding="utf-8"))["results"]
    cut = math.floor(r["covered_share"] * 1000 + 1e-6) / 10
    assert r["covered_share"] == 0.986682 and f"{r['covered_share']:.1%}" == "98.7%"  # hand-checked: rounding differs
    assert f"population covered {cut:.1f}%" in printed and "population covered 98.6%," in printed
    _no_lock_left(out)


def test_site_no_maps_writes_no_map_and_lscp_solves_no_mclp(small_city, tmp_path, capsys):
    out, maps = tmp_path / "o", tmp_path / "m"
    base = [
        "site",
        "--circle",
        "legal_aid_30",
        "--data-dir",
        str(small_city),
        "--out",
        str(out),
        "--maps-dir",
        str(maps),
    ]
    assert main([*base, "--no-maps", "--lscp"]) == 0
    printed = capsys.readouterr().out
    assert not maps.exists() and not (out / "maps").exists()
    assert not list(out.rglob("*.html")) and not list(out.rglob("outlines.js"))
    assert "--no-maps: no map written" in printed
    s = json.loads((out / "legal_aid_30" / "siting_summary.json").read_text(encoding="utf-8"))
    assert set(s["solutions"]) == {"lscp_greedy"} and s["listed_solution"] == "lscp_greedy"
    # human-readable counts, no Python reprs
    line = next(ln for ln in printed.splitlines() if "candidate sites" in ln)
    assert "{" not in line and "from gap clusters" in line and "rejected: " in line
    _no_lock_left(out)
    # a map made before shows other candidates now: --no-maps removes it rather than leave it wrong
    assert main(base) == 0
    assert (maps / "legal_aid_30.html").exists()
    capsys.readouterr()
    assert main([*base, "--no-maps"]) == 0
    printed = capsys.readouterr().out
    assert not (maps / "legal_aid_30.html").exists() and "no map written; removed" in printed
    _no_lock_left(out, maps)
