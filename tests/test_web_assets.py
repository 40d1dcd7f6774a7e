"""The browser code of the map pages (dgcoverage/data/web): valid JavaScript, inlined verbatim into every page."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.population import PopulationGrid
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.maps import web_asset, write_maps
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at, make_study

WEB = Path(str(resources.files("dgcoverage") / "data" / "web"))
JS_FILES = sorted(WEB.glob("*.js"))
ASSETS = sorted(p.name for p in WEB.iterdir() if p.suffix in (".js", ".css"))


def test_assets_are_packaged():
    assert "maps.js" in ASSETS
    assert "maps.css" in ASSETS
    for name in ASSETS:
        assert web_asset(name) == (WEB / name).read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("path", JS_FILES, ids=[p.name for p in JS_FILES])
def test_javascript_syntax(path):
    proc = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Path]:
    """The pages write_maps writes for a tiny study: one circle page and the overview."""
    nodes = [(100.0 * i, 0.0) for i in range(11)]
    edges = [(i, i + 1) for i in range(10)]
    cells = [(100.0 * i + 10, 20.0) for i in range(11)]
    pop = [100.0 + i for i in range(11)]
    boxes = [(500.0 * k - 50, -300, 500.0 * k + 450, 300) for k in range(2)]
    study = make_study(nodes, edges, cells, pop, boxes)
    x0, y0 = float(study.cell_x[0]) - 50.0, float(study.cell_y[0]) + 50.0
    grid = PopulationGrid(np.asarray([pop], dtype=float), Affine(100, 0, x0, 0, -100, y0), study.graph.crs)
    study = dataclasses.replace(study, grid=grid)
    circle = load_config()[0]["fitness_15"]
    res = run_circle(study, circle, facilities_at([(0.0, 0.0)]))
    out = tmp_path_factory.mktemp("web_assets")
    sa, gp = write_areas(study, res, out)
    return write_maps(study, [res], {circle.id: (sa, gp)}, out / "maps")


def test_pages_inline_the_assets_verbatim(pages):
    assert [p.name for p in pages] == ["fitness_15.html", "index.html"]
    js, css = web_asset("maps.js"), web_asset("maps.css")
    for p in pages:
        page = p.read_text(encoding="utf-8")
        assert f"<script>\n{js}</script>\n</body>" in page
        assert f"<style>\n{css}</style>" in page
