"""Smoke test of scripts/benchmark.py --quick: the table is produced and every agreement check passes.

No timing assertions (CI machines are shared and noisy); two towns at scale 1, well under a minute.  The
script is a thin command line over ``dgcoverage.bench``, which no other module imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_bench_library_returns_data_and_is_a_top_layer(quick_run, capsys):
    from dgcoverage import bench

    proc, doc, js = quick_run
    assert proc.returncode == 0
    R = json.loads(js.read_text(encoding="utf-8"))
    assert bench.agreement_ok(R) == R["agreement"]
    assert [list(t) for t in bench.targets(R)] == R["targets"]
    assert bench.render(R) == doc.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""  # the library never prints
    for f in (ROOT / "dgcoverage").rglob("*.py"):
        if f.name != "bench.py":
            text = f.read_text(encoding="utf-8")
            assert "from .bench" not in text and "dgcoverage.bench" not in text and "from . import bench" not in text, f
