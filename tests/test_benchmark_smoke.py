"""Smoke test of scripts/benchmark.py --quick: the table is produced and every agreement check passes.

No timing assertions (CI machines are shared and noisy); two towns at scale 1, about a minute.  The
script is a thin command line over ``benchmarks/bench.py``, outside the installed package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, Path]:
    work = tmp_path_factory.mktemp("bench")
    doc, js = work / "benchmarks.md", work / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "benchmark.py"),
            "--quick",
            "--work",
            str(work),
            "--doc",
            str(doc),
            "--json",
            str(js),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, doc, js


def test_quick_benchmark_runs_and_agrees(quick_run):
    proc, doc, js = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    R = json.loads(js.read_text(encoding="utf-8"))
    assert R["agreement"], "no agreement checks were run"
    assert all(R["agreement"].values()), R["agreement"]
    for key in ("scipy", "networkx"):
        for cid, c in R[key]["circles"].items():
            assert c["max_abs_diff_s"] <= 1e-6 and c["reach_mismatches"] == 0, (key, cid, c)
    assert all(c["ego_reach_mismatches"] == 0 for c in R["networkx"]["circles"].values())
    assert R["pbf_read"]["same_nodes"] and R["pbf_read"]["same_edges"]
    assert len(R["dgcoverage"]["circles"]) == 4
    assert all(r["peak_rss_mb"] > 0 for r in (R["dgcoverage"], R["scipy"], R["networkx"]))


def test_quick_benchmark_has_the_maps_raster_and_big_pbf_rows(quick_run):
    """The issue-12 rows ran and their checks hold (no timing assertions)."""
    proc, doc, js = quick_run
    assert proc.returncode == 0
    R = json.loads(js.read_text(encoding="utf-8"))
    fu = R["full"]  # run --all with service areas, gap areas, maps and report
    assert not fu.get("timed_out") and fu["outputs_missing"] == [], fu
    assert fu["same_tables"] and fu["tables_compared"] == 8  # villages.csv + towns.csv of 4 circles
    assert set(fu["pages"]) == {"index.html", *(f"{c}.html" for c in fu["circles"])}
    assert len(fu["circles"]) == 4 and all(v > 0 for v in fu["pages"].values())
    assert fu["largest_page_mb"] == max(fu["pages"].values()) / 1e6
    assert fu["peak_rss_mb"] > 0 and set(fu["phases"]) == set(bench.FULL_PHASES) and fu["phases"]["maps"] > 0
    assert R["agreement"]["full"]
    ml = R["map_load"]
    if ml["available"]:
        assert set(ml["pages"]) == set(fu["pages"]) and R["agreement"]["map_load"]
        assert all(np.isfinite(p["ms"]) and p["ready"] is not False for p in ml["pages"].values())
    rw, rr = R["raster_write"], R["raster_read"]
    assert rw["pixels"] == rw["width"] * rw["height"] >= 2_000_000_000
    assert rw["blocks_written"] < rw["blocks"] / 100 and rw["bytes"] < 50e6  # sparse: empty blocks not stored
    assert rw["city_people_written"] == pytest.approx(rw["city_people_source"], rel=1e-6)  # float32 of the sums
    assert rr["people_written"] == rw["city_people_written"] and rr["same_people"] and R["agreement"]["raster"]
    assert rr["people_read"] == pytest.approx(rr["people_written"], rel=bench.RASTER_REL_TOL)
    assert rr["read_window"][2] * rr["read_window"][3] < 1e6  # a window, not the national band
    pw, pc = R["pbf_big_write"], R["pbf_clip"]
    assert pw["copies"] == 10 and pw["nodes"] == 10 * R["sizes"]["nodes"]
    assert pw["undirected_edges"] == 10 * R["sizes"]["directed_edges"] // 2
    assert 0 < pw["cut_edges_from_copies"] < pw["cut_edges"]  # the clip takes parts of the neighbours too
    assert pc["same_nodes"] and pc["same_edges"] and R["agreement"]["pbf_clip"]
    assert pc["nodes"] == pw["cut_nodes"] and pc["directed_edges"] == 2 * pw["cut_edges"]
    assert pc["nodes"] < pw["nodes"] / 2
    text = doc.read_text(encoding="utf-8")
    for row in ("| run --all with maps, scale 1 |", "| map pages, scale 1 |", "| population, China-size raster |"):
        assert row in text
    assert "| roads, 10-city .osm.pbf clipped |" in text and "### Maps and report" in text
    targets = [t[0] for t in R["targets"]]
    for want in ("scale 3: ≤ 30 s", "demo scale", "≤ 5 MB", "China-size", "ten times Dongguan", "≤ 1.2×"):
        assert any(want in t for t in targets), want


def test_auto_clip_polygon_is_the_command_lines(quick_run):
    """The benchmark restates --clip auto's polygon (it sits below cli); both give the same shape."""
    import geopandas as gpd

    from dgcoverage.inputs.clip import buffered_towns, circle_reach_m
    from dgcoverage.inputs.config import load_config

    proc, doc, js = quick_run
    assert proc.returncode == 0
    root = js.parent / "q-scale1"  # the quick city (run_benchmark: <work>/q-scale<scale>)
    circles, _ = load_config(None)
    want = buffered_towns(gpd.read_file(root / "towns_wgs84.geojson"), circle_reach_m(list(circles.values())))
    got = bench._auto_clip_polygon(root)
    assert got.equals(want)
    assert circle_reach_m(list(circles.values())) == 6000.0  # legal aid: 30 min at 12 km/h


def test_quick_benchmark_writes_table(quick_run):
    proc, doc, js = quick_run
    assert proc.returncode == 0
    text = doc.read_text(encoding="utf-8")
    assert "| **dgcoverage** |" in text and "| scipy floor |" in text and "networkx ego_graph recipe" in text
    assert "## Targets" in text and "## How cost grows" in text and "Guangdong" in text
    for cid in ("elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10"):
        assert f"| {cid} |" in text


def test_from_json_rerenders_the_same_page(quick_run, tmp_path):
    proc, doc, js = quick_run
    assert proc.returncode == 0
    again = tmp_path / "again.md"
    rerun = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--from-json", str(js), "--doc", str(again)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert again.read_text(encoding="utf-8") == doc.read_text(encoding="utf-8")


def test_bench_returns_data_and_lives_outside_the_package(quick_run, capsys):
    proc, doc, js = quick_run
    assert proc.returncode == 0
    R = json.loads(js.read_text(encoding="utf-8"))
    assert bench.agreement_ok(R) == R["agreement"]
    assert [list(t) for t in bench.targets(R)] == R["targets"]
    assert bench.render(R) == doc.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""  # the library never prints
    # the installed package holds no benchmark code and never reaches for the harness
    assert not list((ROOT / "dgcoverage").rglob("bench*.py"))
    for f in (ROOT / "dgcoverage").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "benchmarks" not in text.replace("docs/benchmarks.md", ""), f
