"""``dgcoverage batch --maps`` and ``batch.html``: each region's maps and report, and the overview of all regions.

Two regions of the Helsinki test area (tests/test_batch.py ``make_batch``; region 2's name is hostile HTML) run
first without maps, then with ``--maps``: the rerun must make the maps (the manifest records them), each region's
map pages and report must equal those of ``dgcoverage run --region`` with maps, and a third run without maps reuses
the regions (their maps were made from the same tables). ``batch.html`` is checked in headless Chromium with the
network blocked: it loads, its table lists every region, a real click on a region opens that region's popup, and
printing gives one A4-landscape page with the legend.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from dgcoverage.cli.main import main

from ._region_data import PBF
from .test_batch import _block_network, batch_args, make_batch  # noqa: F401 - the fixture blocks the network
from .test_maps_click_print import CLICK, _chromium, _probe

NASTY = 'Region 2 <script>alert(1)</script> & "q"'
PAGES = ("report.html", "maps/index.html", "maps/fitness_15.html", "maps/outlines.js")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """Two regions: a batch without maps, the same batch with --maps, and region 1 run alone with maps."""
    root = make_batch(tmp_path_factory.mktemp("batch_maps"), n=2)
    toml = root / "regions" / "r2" / "region.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('name = "Region 2"', f"name = {json.dumps(NASTY)}"))
    out = root / "out"
    assert main(batch_args(root, out, "--workers", "2")) == 0
    plain = {p.name for p in (out / "r1").iterdir()}
    assert main(batch_args(root, out, "--workers", "2", "--maps")) == 0
    single = root / "single"
    region = str(root / "regions" / "r1")
    pop = str(root / "population.tif")
    args = ["run", "--circle", "fitness_15", "--region", region, "--network", str(PBF.resolve())]
    assert main([*args, "--population", pop, "--out", str(single)]) == 0
    return root, out, single, plain


def test_a_rerun_with_maps_makes_each_regions_maps_and_report(runs, capsys):
    root, out, single, plain = runs
    assert plain == {"batch_manifest.json", "fitness_15"}  # maps are off by default
    for rid in ("r1", "r2"):
        for name in PAGES:
            assert (out / rid / name).is_file(), (rid, name)
        assert json.loads((out / rid / "batch_manifest.json").read_text(encoding="utf-8"))["inputs"]["maps"] is True
    for name in (*PAGES, "fitness_15/villages.csv", "fitness_15/service_area.geojson", "fitness_15/gaps.geojson"):
        assert (out / "r1" / name).read_bytes() == (single / name).read_bytes(), name
    # without maps again: the regions are reused and keep their maps (made from the same tables)
    capsys.readouterr()
    assert main(batch_args(root, out, "--workers", "2")) == 0
    assert "0 done, 2 reused" in capsys.readouterr().out
    assert all((out / rid / name).is_file() for rid in ("r1", "r2") for name in PAGES)
    # the page links each region's own pages, and escapes the hostile name
    page = (out / "batch.html").read_text(encoding="utf-8")
    assert "href='r1/maps/index.html'" in page and "href='r2/report.html'" in page
    assert "<script>alert" not in page and html.escape(NASTY) in page


def test_maps_wanted_but_missing_run_the_region_again(runs):
    from dgcoverage.inputs.batch import MANIFEST_NAME
    from dgcoverage.pipeline.batch import reusable

    _, out, _, _ = runs
    manifest = json.loads((out / "r1" / MANIFEST_NAME).read_text(encoding="utf-8"))["inputs"]
    assert reusable(out / "r1", manifest) is not None
    assert reusable(out / "r1", {k: v for k, v in manifest.items() if k != "maps"}) is not None
    moved = out / "r1" / "maps" / "fitness_15.html"
    keep = moved.read_bytes()
    moved.unlink()
    try:
        assert reusable(out / "r1", manifest) is None  # a page of the maps is gone: run it again
    finally:
        moved.write_bytes(keep)


def test_batch_page_in_a_browser_lists_clicks_and_prints(runs, tmp_path):
    _, out, _, _ = runs
    page = out / "batch.html"
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig", dtype=str)
    names = table.iloc[:, 1].tolist()
    assert names[1] == NASTY
    script = (
        CLICK + "var D=JSON.parse(document.getElementById('dg-batch').textContent),H=[];"
        "out('rows',Array.prototype.map.call(document.querySelectorAll('#dg-table tbody tr'),"
        "function(tr){return tr.cells[0].textContent;}));"
        "out('paths',document.querySelectorAll('.leaflet-overlay-pane path').length);"
        "D.regions.forEach(function(r,i){var b=dgBatch.layers[i].getBounds(),c=b.getCenter();"
        "dgMap.fitBounds(b,{animate:false});"
        "H.push(clickAt(c.lng,c.lat));});out('clicks',H);"
        "function fills(){return D.regions.map(function(r,i){"
        "return dgBatch.layers[i].getLayers()[0].options.fillColor;});}"
        "out('fills',fills());document.querySelector('input[name=dg-figure][value=p]').click();out('fillsP',fills());"
        "out('legend',document.getElementById('dg-legend-what').textContent);out('scripts',document.scripts.length);"
    )
    r = _probe(page, script, tmp_path)
    assert len(r["rows"]) == 2 and "r1" in r["rows"][0] and NASTY in r["rows"][1]
    assert r["paths"] == 2
    for name, hit in zip(names, r["clicks"]):
        assert hit["tag"] == "path" and hit["popup"].startswith(name), hit
    # hand-checked: village pass rates 3/6 = 50 % (r1) and 2/6 = 33.3 % (r2): the 30-60 % class of YlGnBu 4; people
    # covered 82.0 % and 80.3 %: the 60-90 % class (the switch recolours the regions and renames the legend)
    assert r["fills"] == ["#a1dab4", "#a1dab4"] and r["fillsP"] == ["#41b6c4", "#41b6c4"]
    assert r["legend"] == "人口覆盖率 share of people covered"
    assert [f"{float(x):.4f}" for x in table.iloc[:, 8]] == ["0.5000", "0.3333"]
    assert r["scripts"] == 4  # Leaflet, the data, batch.js, the probe: no script of a region name
    if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdfinfo, pdftotext) not installed")
    for size in ((1366, 768), (800, 1200)):
        pdf = tmp_path / f"batch_{size[0]}.pdf"
        _chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri()], tmp_path, size)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Pages:\s+1\n", info), (size, info)
        w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
        assert abs(w - 841.9) < 1 and abs(h - 595.0) < 1, info  # A4 landscape
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "legend" in text and "village pass rate" in text and "Region 1" in text, text


def test_batch_page_marks_synthetic_regions_and_failed_ones(tmp_path):
    from dgcoverage.outputs.batch import batch_table
    from dgcoverage.outputs.maps.batch import batch_map_html

    box = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    row = {"region": "a", "region_name": "A <i>", "circle": "fitness_15", "status": "done", "population": 10.0,
           "covered_population": 9.0, "pass_rate_population": 0.9, "pass_rate_villages": 0.899999,
           "villages": 3, "supply_status": "", "synthetic": True, "error": ""}  # fmt: skip
    bad = {"region": "b", "region_name": "B", "circle": "fitness_15", "status": "failed", "error": "b.toml: <bad>"}
    table = batch_table([{"rows": [row]}, {"rows": [bad]}])
    page = batch_map_html(table, {"a": box, "b": None}, None, {"fitness_15": "15分钟健身圈"})
    assert "合成数据 SYNTHETIC DATA" in page and "A &lt;i&gt;" in page and "b.toml: &lt;bad&gt;" in page
    assert "<td class='dg-c0'>89.9%</td><td class='dg-c0'>90.0%</td>" in page  # cut, never rounded up to 90 %
    data = json.loads(re.search(r'id="dg-batch">(.*?)</script>', page, re.S).group(1))
    assert [r["v"] for r in data["regions"]] == [[0.899999], [None]] and data["regions"][1]["outline"] is None
    no_syn = batch_map_html(table.assign(synthetic="no"), {"a": box}, None)
    assert "SYNTHETIC" not in no_syn
    assert (
        not re.search(r"<(script|link|img)[^>]*(src|href)=", no_syn) and "openstreetmap.org/{z}" not in no_syn
    )  # offline


def test_explore_batch_gives_an_offline_folium_map_of_the_regions():
    from dgcoverage.outputs.maps.batch_explore import explore_batch

    box = {"type": "Polygon", "coordinates": [[[24.93, 60.16], [24.95, 60.16], [24.95, 60.18], [24.93, 60.16]]]}
    row = {"region": "a", "region_name": "A <i>", "circle": "fitness_15", "status": "done", "population": 10.0,
           "covered_population": 9.0, "pass_rate_population": 0.9, "pass_rate_villages": 0.599999,
           "villages": 3, "supply_status": "", "synthetic": True, "error": ""}  # fmt: skip
    bad = {"region": "b", "region_name": "B", "circle": "fitness_15", "status": "failed", "error": "x"}
    m = explore_batch([{"region": "a", "rows": [row], "outline": box}, {"region": "b", "rows": [bad], "outline": None}])
    page = m.get_root().render()
    assert "A &lt;i&gt;" in page and "A <i>" not in page and "SYNTHETIC DATA" in page
    assert '"fillColor": "#a1dab4"' in page  # 59.9999 % cut: the 30-60 % class, not the 60-90 % one
    assert "59.9%" in page and "90.0%" in page
    assert not re.search(r"<(script|link)[^>]*(src|href)=[\"']?https?:", page)  # offline: no CDN
