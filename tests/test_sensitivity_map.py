"""The speed sensitivity layer of a circle page (a run with ``--speeds``), in headless Chromium.

The layer is one more exclusive village fill (radio buttons with the share covered and the 2SFCA supply); its
villages are coloured robust / fragile / not covered and the popup gives the class and the share at each speed.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.maps import write_maps
from dgcoverage.outputs.maps.common import SENS_COLOURS
from dgcoverage.outputs.maps.layers import sensitivity_layer
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._browser import chromium_base

pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
SPEEDS = (2.9, 3.6, 4.3)


@pytest.fixture(scope="module")
def pages(small_city, tmp_path_factory):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    out = tmp_path_factory.mktemp("sens") / "out"
    c = circles["elderly_care_15"]
    with_speeds = run_circle(study, c, load_facilities(study, c, data_dir=small_city), speeds=SPEEDS)
    f = circles["fitness_15"]
    without = run_circle(study, f, load_facilities(study, f, data_dir=small_city))
    areas = {r.circle.id: write_areas(study, r, out) for r in (with_speeds, without)}
    write_maps(study, [with_speeds, without], areas, out.parent / "maps", out_dir=out)
    return study, with_speeds, without, out.parent / "maps"


def _data(page: Path) -> dict:
    m = re.search(r"<script type=\"application/json\" id=\"dg-data\">(.*?)</script>", page.read_text(encoding="utf-8"))
    if m is None:
        m = re.search(r"id=['\"]dg-data['\"][^>]*>(.*?)</script>", page.read_text(encoding="utf-8"), re.S)
    return json.loads(m.group(1))


def test_layer_carries_each_villages_class_and_shares(pages):
    study, res, without, maps = pages
    fc = sensitivity_layer(study, res)
    vt = res.sensitivity.villages
    assert [f["properties"]["c"] for f in fc["features"]] == vt["speed_class"].tolist()
    k = int(vt.index[vt["speed_class"] == "fragile"][0]) if (vt["speed_class"] == "fragile").any() else 0
    got = fc["features"][k]["properties"]["s"]
    for j, s in enumerate(SPEEDS):
        want = vt[f"covered_share_{s:g}kmh"].iloc[k]
        assert got[j] == pytest.approx(want, abs=1e-4) and got[j] <= want + 1e-12  # cut, never rounded up
    assert sensitivity_layer(study, without) is None
    d = _data(maps / "elderly_care_15.html")
    assert d["sens"]["speeds"] == list(SPEEDS) and d["sens"]["colours"] == SENS_COLOURS
    assert [s["key"] for s in d["layers"]][:3] == ["villages", "supply", "sensitivity"]
    plain = _data(maps / "fitness_15.html")  # a circle run without --speeds: no layer, no key
    assert "sens" not in plain and "sensitivity" not in [s["key"] for s in plain["layers"]]
    assert "速度稳健性 speed sensitivity" in (maps / "elderly_care_15.html").read_text(encoding="utf-8")


def _probe(page: Path, script: str, tmp_path: Path) -> dict:
    probe = page.parent / f"probe_{tmp_path.name}_{page.name}"
    hook = (
        "<script>window.addEventListener('load',function(){var R={};function out(k,v){R[k]=v;}"
        f"try{{ {script} }}catch(err){{R.error=String(err)+' '+err.stack;}}"
        "document.body.setAttribute('data-probe',JSON.stringify(R));});</script></body>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", hook), encoding="utf-8")
    block = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
    args = [*chromium_base(tmp_path), *block, "--virtual-time-budget=5000", "--window-size=1300,900"]
    try:
        dom = subprocess.run([*args, "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True).stdout
    finally:
        probe.unlink()
    m = re.search(r"<body[^>]*data-probe=\"([^\"]*)\"", dom)
    assert m, "probe did not run:\n" + dom[-2000:]
    res = json.loads(html.unescape(m.group(1)))
    assert "error" not in res, res["error"]
    return res


def test_layer_switches_and_a_village_popup_shows_its_class(pages, tmp_path):
    study, res, _, maps = pages
    vt = res.sensitivity.villages
    k = int(vt.index[vt["speed_class"] != "no_data"][0])
    script = (
        "function n(){return document.querySelectorAll('.leaflet-dgFill-pane path').length;}"
        "var radios=document.querySelectorAll('.dg-fills input[type=radio]');out('radios',radios.length);"
        "var lab=Array.prototype.filter.call(document.querySelectorAll('.dg-fills label'),function(l){"
        "return l.textContent.indexOf('速度稳健性')>=0;})[0];out('n0',n());lab.querySelector('input').click();"
        "out('n1',n());var G=dgApi.groups;out('sens',dgMap.hasLayer(G.sensitivity));"
        "out('villages',dgMap.hasLayer(G.villages));out('supply',dgMap.hasLayer(G.supply));"
        "out('fills',Array.prototype.map.call(document.querySelectorAll('.leaflet-dgFill-pane path'),"
        "function(p){return p.getAttribute('fill');}));"
        f"G.sensitivity.eachLayer(function(g){{g.eachLayer(function(l){{if(l.feature.properties.i==={k})"
        "l.fire('click',{latlng:l.getBounds().getCenter()},true);});});"
        "var pop=document.querySelector('.leaflet-popup-content');out('popup',pop?pop.innerHTML:'');"
        "dgMap.closePopup();dgApi.focusVillage(0);out('sens2',dgMap.hasLayer(G.sensitivity));"
    )
    r = _probe(maps / "elderly_care_15.html", script, tmp_path)
    assert r["radios"] == 3  # share covered, 2SFCA supply, speed sensitivity: one choice
    assert r["sens"] is True and r["villages"] is False and r["supply"] is False
    assert r["n0"] == r["n1"] > 0  # never two fills stacked
    want = {SENS_COLOURS[c] for c in vt["speed_class"][study.villages["has_area"].to_numpy()] if c in SENS_COLOURS}
    assert want and want <= set(r["fills"])
    cls = vt["speed_class"].iloc[k]
    assert f'data-class="{cls}"' in r["popup"] or f"data-class='{cls}'" in r["popup"], r["popup"]
    text = html.unescape(re.sub(r"<[^>]+>", "", r["popup"]))
    assert {"robust": "稳健达标 robust", "fragile": "脆弱达标 fragile", "not_covered": "未达标 not covered"}[
        cls
    ] in text
    for s in SPEEDS:
        assert f"at {s:g} km/h" in text
    share = vt[f"covered_share_{SPEEDS[0]:g}kmh"].iloc[k]
    assert f"{int(share * 1000 + 1e-6) / 10:.1f}%" in text
    assert r["sens2"] is False  # a search for a village brings back the share covered


def _links(page: Path) -> list[str]:
    return re.findall(r"<a class='dg-scen' href='([^']*)'>([^<]*)</a>", page.read_text(encoding="utf-8"))


def test_scenario_page_is_linked_only_when_it_is_there(pages, tmp_path):
    """The circle page and the overview link ``scenario_<circle>.html`` when it is in the maps folder."""
    study, res, without, maps = pages
    assert not any(_links(p) for p in maps.glob("*.html"))  # no scenario page: no link (never a broken one)
    d = tmp_path / "maps"
    d.mkdir()
    (d / "scenario_elderly_care_15.html").write_text("<html><body>scenario</body></html>", encoding="utf-8")
    areas = {r.circle.id: write_areas(study, r, tmp_path / "out") for r in (res, without)}
    write_maps(study, [res, without], areas, d, out_dir=tmp_path / "out")
    assert _links(d / "elderly_care_15.html") == [("./scenario_elderly_care_15.html", "情景 scenario ›")]
    assert _links(d / "fitness_15.html") == []
    over = _links(d / "index.html")
    assert over == [("./scenario_elderly_care_15.html", "情景 scenario 15分钟居家养老服务圈 ›")]
    assert all((d / href).exists() for href, _ in over)
    # `dgcoverage site` (index=False) links the circle pages already there, never a scenario page as a circle
    write_maps(study, [without], {"fitness_15": areas["fitness_15"]}, d, out_dir=tmp_path / "out", index=False)
    nav = (d / "fitness_15.html").read_text(encoding="utf-8")
    assert "href='./elderly_care_15.html'" in nav and ">scenario_elderly_care_15</a>" not in nav
