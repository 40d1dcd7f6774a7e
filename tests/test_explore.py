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
