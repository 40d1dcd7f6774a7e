"""Pages used as a planner does, in headless Chromium with the network blocked (round 2 of the page review).

Each test pins a defect found by loading, clicking and printing the pages (tests/_cdp.py drives Chromium over
the DevTools pipe): the printed circle page's sidebar must hold its whole layer key, and the notebook map's
legend (with the SYNTHETIC note) must not sit under Leaflet's scale bar.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.maps import write_maps
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._cdp import Page

pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
SPEEDS = (2.9, 3.6, 4.3)
EVIL_TOWN = "<b>x</b>&\"' Town"


@pytest.fixture(scope="module")
def circle(small_city, tmp_path_factory):
    """An elderly-care circle with --speeds (supply and sensitivity layers): its page and its result."""
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    out = tmp_path_factory.mktemp("round2") / "out"
    c = circles["elderly_care_15"]
    res = run_circle(study, c, load_facilities(study, c, data_dir=small_city), speeds=SPEEDS)
    write_maps(study, [res], {c.id: write_areas(study, res, out)}, out.parent / "maps", out_dir=out)
    return study, res, out.parent / "maps"


SIDE = (
    "(function(){var s=document.getElementById('dg-side'),b=s.getBoundingClientRect(),k=document.getElementById("
    "'dg-layerkey'),r=k?k.getBoundingClientRect():b;return {scroll:s.scrollHeight,client:s.clientHeight,"
    "bottom:b.bottom,key:r.bottom,font:s.style.fontSize};})()"
)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_printed_circle_page_keeps_its_whole_layer_key(circle, tmp_path, size):
    """The print layout's sidebar is one page tall (overflow hidden): the layer key at its foot was cut off."""
    _, _, maps = circle
    with Page(tmp_path, *size) as p:
        p.open(maps / "elderly_care_15.html")
        assert p.problems() == []
        p.js("dgApi.printLayout()")
        r = p.js(SIDE)
        assert r["scroll"] <= r["client"] + 1 and r["key"] <= r["bottom"] + 1, r
        pdf = p.pdf(tmp_path / "circle.pdf")
        p.js("dgApi.screenLayout()")
        assert p.js("document.getElementById('dg-side').style.fontSize") == ""  # the screen view comes back
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "841.92 x 594.96" in info
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout)
    for words in ("速度稳健性speedsensitivity", "镇街边界townboundary", "SYNTHETICDATA", "未达标notcovered"):
        assert words in text, words


@pytest.fixture(scope="module")
def explore_page(circle, tmp_path_factory):
    _, res, _ = circle
    page = tmp_path_factory.mktemp("explore") / "explore.html"
    res.explore().save(str(page))
    return page


def test_notebook_map_legend_clears_the_scale_bar(explore_page, tmp_path):
    """``result.explore()``: the legend (with its SYNTHETIC note) sat under Leaflet's scale bar, bottom left."""
    with Page(tmp_path, 1366, 768) as p:
        p.open(explore_page)
        assert p.problems() == []
        r = p.js(
            "(function(){var l=document.querySelector('.dg-legend').getBoundingClientRect(),"
            "s=document.querySelector('.leaflet-control-scale').getBoundingClientRect();"
            "return {lb:l.bottom,lt:l.top,st:s.top,sb:s.bottom,vh:innerHeight};})()"
        )
    assert r["lb"] <= r["st"] and r["lt"] >= 0 and r["sb"] <= r["vh"], r


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_notebook_map_prints_on_one_a4_landscape_page_with_every_village(explore_page, tmp_path, size):
    """``result.explore()`` saved to HTML printed on a Letter/A4 portrait page with the map cut at its right."""
    with Page(tmp_path, *size) as p:
        p.open(explore_page)
        pdf = p.pdf(tmp_path / "explore.pdf")
        assert p.js("document.documentElement.classList.contains('dg-print')") is False  # the screen view is back
        assert p.problems() == []
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "841.92 x 594.96" in info, info
    png = tmp_path / "explore"
    subprocess.run(["pdftoppm", "-r", "20", "-gray", "-png", str(pdf), str(png)], check=True)
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(f"{png}-1.png"))  # 234 x 165 px; the map's grey background is 244
    drawn = np.argwhere(img < 235)  # village fills, outlines and the legend
    assert drawn[:, 1].max() < img.shape[1] - 4 and drawn[:, 1].min() > 2  # nothing cut at the page's edges
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout)
    assert "SYNTHETIC" in text and "服务盲区" in text and "Donotusethefiguresforplanning" in text


@pytest.fixture(scope="module")
def region_maps(tmp_path_factory):
    """A small region (two towns of the Helsinki test area, fitted beyond zoom 12.5); one town's name is HTML."""
    import geopandas as gpd

    from dgcoverage.cli.main import main

    from ._region_data import PBF
    from .test_batch import make_batch

    root = make_batch(tmp_path_factory.mktemp("region_r2"), n=1)
    towns = root / "regions" / "r1" / "towns.geojson"
    g = gpd.read_file(towns)
    g.loc[0, "name"] = EVIL_TOWN
    g.to_file(towns, driver="GeoJSON")
    out = root / "out"
    args = ["run", "--circle", "fitness_15", "--region", str(root / "regions" / "r1"), "--network", str(PBF)]
    assert main([*args, "--population", str(root / "population.tif"), "--out", str(out)]) == 0
    return out / "maps", [EVIL_TOWN, *g["name"].tolist()[1:]]


@pytest.mark.parametrize("name", ["index.html", "fitness_15.html"])
def test_small_region_pages_name_their_towns_on_screen_and_in_print(region_maps, tmp_path, name):
    """Town labels showed only at zoom <= 12.5: a small region's pages (fitted at ~16) named no town at all."""
    maps, towns = region_maps
    with Page(tmp_path, 1366, 768) as p:
        p.open(maps / name)
        assert p.problems() == []
        labels = "Array.prototype.map.call(document.querySelectorAll('.dg-lbl-t'),function(e){return e.textContent;})"
        assert sorted(p.js(labels)) == sorted(towns)  # as text: the HTML name is not markup
        pdf = p.pdf(tmp_path / "region.pdf")
        assert sorted(p.js(labels)) == sorted(towns)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "841.92 x 594.96" in info
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout)
    for town in towns:
        assert re.sub(r"\s+", "", town) in text, town
