"""Notebook maps: ``result.explore()`` is a folium.Map with the pages' classes, a legend and village popups."""

from __future__ import annotations

import json
import re

import folium
import pytest

from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.maps.common import YLGNBU
from dgcoverage.outputs.maps.explore import POPUP_FIELDS
from dgcoverage.outputs.maps.layers import village_columns
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
EVIL = "<img src=x onerror=alert(1)>村"


@pytest.fixture(scope="module")
def city(small_city):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    c = circles["fitness_15"]
    res = run_circle(study, c, load_facilities(study, c, data_dir=small_city))
    res.villages.loc[0, ["covered_share", "status", "status_zh"]] = [0.899665, "partial", "部分覆盖"]
    res.villages.loc[1, "name"] = EVIL
    return study, res


def _features(html: str) -> list[dict]:
    """The village features embedded in the rendered map (the GeoJSON layer with the popup properties)."""
    for m in re.finditer(r"geo_json_\w+_add\((\{.*?\})\);", html, re.S):
        data = json.loads(m.group(1))
        if data.get("features") and "share" in data["features"][0]["properties"]:
            return data["features"]
    raise AssertionError("no village layer in the rendered map")


def test_explore_returns_a_map_with_the_pages_classes(city):
    study, res = city
    m = res.explore()
    assert isinstance(m, folium.Map)
    html = m.get_root().render()
    feats = _features(html)
    assert len(feats) == 34
    page = village_columns(study, res)  # the circle page's classes, by village
    want = dict(zip(page["code"], page["cls"]))
    assert {f["properties"]["code"]: f["properties"]["cls"] for f in feats} == want
    colours = list(YLGNBU[4])
    for f in feats:
        p = f["properties"]
        assert p["fill"] == (colours[p["cls"]] if p["cls"] >= 0 else "#d9d9d9")
    assert {f["properties"]["cls"] for f in feats} >= {0, 1}  # the small city has more than one class
    assert "L.tileLayer" not in html  # offline: no tiles unless asked


def test_popups_carry_the_village_numbers_cut(city):
    _, res = city
    html = res.explore().get_root().render()
    props = {f["properties"]["code"]: f["properties"] for f in _features(html)}
    v0 = res.villages.iloc[0]
    p = props[str(v0["code"])]
    assert p["share"] == "89.9%"  # cut: never 90.0 % beside 部分覆盖
    assert p["status"] == "部分覆盖 partial" and p["town"] == v0["town_name"] and p["name"] == v0["name"]
    assert p["p90"] == f"{v0['p90_time_min']:.1f} min"
    aliases = re.findall(r"let aliases = (\[.*?\]);", html)
    assert list(POPUP_FIELDS.values()) in [json.loads(a) for a in aliases]  # the popup's field labels
    assert props[str(res.villages.iloc[1]["code"])]["name"] == "&lt;img src=x onerror=alert(1)&gt;村"
    assert "<img src=x" not in html  # names escaped before they reach the popup's HTML


def test_legend_and_synthetic_note(city):
    _, res = city
    html = res.explore().get_root().render()
    legend = html[html.index("dg-legend") :]
    for colour in YLGNBU[4]:
        assert colour in legend
    assert "≥ 90 % = 达标 covered" in legend and "&lt; 30 %" in legend
    assert "合成数据" in legend and "SYNTHETIC DATA" in legend


def test_extendable_with_folium_layers(city):
    _, res = city
    m = res.explore(tiles="OpenStreetMap", width=800, height=600)
    folium.Marker([23.02, 113.75], tooltip="新站点 new site").add_to(m)
    html = m.get_root().render()
    assert "tile.openstreetmap.org" in html and "新站点 new site" in html
    assert "设施 facilities" in html  # the facilities group is in the layer control
    base = folium.Map(location=[23.0, 113.75], tiles=None)
    assert res.explore(m=base) is base  # drawn onto a map the user made


# ---- offline: the rendered map loads nothing from the network, and draws in Chromium with the network blocked

BLOCK = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
# errors (a script or style that failed to load, an exception) are collected from the first moment of the page
_ERRORS = (
    "<script>window.dgErr=[];window.addEventListener('error',function(e){var t=e.target||{};"
    "window.dgErr.push(String(e.message||t.src||t.href));},true);</script>"
)
_PROBE = (
    "<script>window.addEventListener('load',function(){var q=function(s){return document.querySelectorAll(s);};"
    "var R={errors:window.dgErr,leaflet:typeof L,containers:q('.leaflet-container').length,"
    "paths:q('.leaflet-overlay-pane path.leaflet-interactive').length,"
    "fills:[].map.call(q('.leaflet-overlay-pane path.leaflet-interactive'),"
    "function(p){return p.getAttribute('fill');}),"
    "icons:[].map.call(q('img.leaflet-marker-icon'),function(i){return i.naturalWidth;}),"
    "radios:q('.leaflet-control-layers-base input').length,"
    "legends:[].map.call(q('.dg-legend'),function(l){return getComputedStyle(l).display;})};"
    "var r=q('.leaflet-control-layers-base input');if(r.length>1){r[1].click();"
    "R.after=[].map.call(q('.dg-legend'),function(l){return getComputedStyle(l).display;});"
    "R.paths_after=q('.leaflet-overlay-pane path.leaflet-interactive').length;}"
    "document.body.setAttribute('data-probe',JSON.stringify(R));});</script></body>"
)


def _external(html: str) -> list[str]:
    """URLs a page loads: every <script src> and <link href> that is not inline or a data: URI."""
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    urls = [m.group(2) for t in tags for m in [re.search(r"\b(src|href)\s*=\s*[\"']?([^\"' >]+)", t)] if m]
    return [u for u in urls if not u.startswith("data:")]


def _in_chromium(html: str, tmp_path) -> tuple[dict, str]:
    """Open the map in headless Chromium (network blocked); return the probe's findings and the console log."""
    import html as h
    import subprocess

    from ._browser import chromium_base

    page = tmp_path / "map.html"
    page.write_text(html.replace("<head>", "<head>" + _ERRORS, 1).replace("</body>", _PROBE), encoding="utf-8")
    args = [*chromium_base(tmp_path), *BLOCK, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    run = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    m = re.search(r"<body[^>]*data-probe=\"([^\"]*)\"", run.stdout)
    assert m, "the probe did not run: " + run.stdout[-1000:] + run.stderr[-2000:]
    console = "\n".join(line for line in run.stderr.splitlines() if ":CONSOLE" in line)
    return json.loads(h.unescape(m.group(1))), console


def test_the_map_loads_nothing_from_the_network(city):
    _, res = city
    html = res.explore().get_root().render()
    assert _external(html) == []  # Leaflet inline, no jQuery/Bootstrap/awesome-markers links
    assert "https://cdn" not in html and "L.tileLayer" not in html
    from dgcoverage.outputs.maps.page import VENDOR

    assert (VENDOR / "leaflet.js").read_text(encoding="utf-8") in html  # the package's copy (the pages' one)
    online = res.explore(offline=False).get_root().render()  # the CDN option keeps folium's links
    assert any(u.startswith("https://cdn.jsdelivr.net/npm/leaflet@") for u in _external(online))
    assert folium.Map.default_js[0][0] == "leaflet"  # folium's own defaults untouched for other maps
    assert _external(folium.Map(tiles=None).get_root().render())


def test_the_offline_map_draws_with_the_network_blocked(city, tmp_path):
    _, res = city
    m = res.explore()
    folium.Marker([23.02, 113.75], tooltip="新站点 new site").add_to(m)  # a user's marker: the default icon
    found, console = _in_chromium(m.get_root().render(), tmp_path)
    assert found["errors"] == [] and console == "", (found["errors"], console)
    assert found["leaflet"] == "object" and found["containers"] == 1
    n_villages = sum(1 for g in res.villages.geometry if g is not None and not g.is_empty)
    assert found["paths"] == n_villages + len(res.facilities) == 34 + len(res.facilities)
    assert set(found["fills"]) >= set(YLGNBU[4][:2])  # the villages drawn in their classes' colours
    assert found["icons"] == [25]  # Leaflet's marker icon, from a data: URI (25 px wide)


def test_the_cdn_map_does_not_draw_offline(city, tmp_path):
    """The check above can fail: folium's CDN map, with the network blocked, draws nothing and says so."""
    _, res = city
    found, console = _in_chromium(res.explore(offline=False).get_root().render(), tmp_path)
    assert found["containers"] == 0 and found["leaflet"] == "undefined"
    assert any("leaflet" in e for e in found["errors"]) and "L is not defined" in console


def test_overview_switches_circles_and_their_legends(small_city, city, tmp_path):
    import dgcoverage as dg

    study, res = city
    circles, _ = load_config()
    c = circles["elderly_care_15"]
    other = run_circle(study, c, load_facilities(study, c, data_dir=small_city))
    m = study.explore([res, other])
    assert m is not None and dg.explore_overview is not None
    html = m.get_root().render()
    assert _external(html) == []
    found, console = _in_chromium(html, tmp_path)
    assert found["errors"] == [] and console == "", (found["errors"], console)
    assert found["radios"] == 2  # one base layer per circle: one choropleth at a time
    assert found["paths"] == 34 and found["paths_after"] == 34  # the villages of the circle switched on only
    assert found["legends"] == ["block", "none"] and found["after"] == ["none", "block"]
    assert "15分钟健身圈 15-minute fitness circle" in html and "15分钟居家养老服务圈" in html
    with pytest.raises(ValueError, match="one distinct name"):
        dg.explore_overview([res, other], names=["a", "a"])
    named = dg.explore_overview([res], names=["松山湖 — 健身"], tiles="OpenStreetMap").get_root().render()
    assert "松山湖 — 健身" in named and "tile.openstreetmap.org" in named
