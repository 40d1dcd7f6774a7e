"""GIS layers: ``<out>/<circle>/layers.gpkg`` read back with pyogrio (and ogrinfo when installed), styles as QML."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from dgcoverage.cli.main import main
from dgcoverage.outputs.gpkg import LAYERS_GPKG, village_ranges
from dgcoverage.outputs.maps.common import YLGNBU

CIRCLE = "fitness_15"
pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")


@pytest.fixture(scope="module")
def out(small_city, tmp_path_factory):
    """``dgcoverage run`` (with maps, so with the areas) on the small city, then ``site`` for the candidates."""
    out = tmp_path_factory.mktemp("gpkg_out")
    maps = tmp_path_factory.mktemp("gpkg_maps")
    common = ["--data-dir", str(small_city), "--out", str(out), "--maps-dir", str(maps)]
    assert main(["run", "--circle", CIRCLE, *common]) == 0
    layers = pyogrio.list_layers(out / CIRCLE / LAYERS_GPKG)
    assert main(["site", "--circle", CIRCLE, "--k", "3", *common]) == 0
    return out, {str(n) for n in layers[:, 0]}


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _layer(out: Path, name: str):
    return pyogrio.read_dataframe(out / CIRCLE / LAYERS_GPKG, layer=name)


def _as_csv_text(layer_values, csv_values) -> list[str]:
    """Layer numbers written with the decimals the CSV shows (its text has them), for an exact comparison."""
    out = []
    for v, t in zip(layer_values, csv_values):
        if t == "":
            out.append("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        elif re.fullmatch(r"-?\d+\.\d+", t):
            out.append(f"{float(v):.{len(t.split('.')[1])}f}")
        elif re.fullmatch(r"-?\d+", t):
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


def test_villages_layer_is_villages_csv_with_polygons(out):
    out, _ = out
    csv = _csv(out / CIRCLE / "villages.csv")
    lay = _layer(out, "villages")
    assert lay.crs.to_epsg() == 4326
    assert list(lay.columns[:-1]) == list(csv.columns)  # every column, the same bilingual names, in order
    assert len(lay) == len(csv) == 34  # every village of the small city (莞城 + 东城)
    for col in (
        "code 代码",
        "status 状态",
        "status_zh 状态(中文)",
        "covered_share 覆盖率",
        "lon 经度(WGS84)",
        "lat 纬度(WGS84)",
        "population 人口",
        "p90_time_min 90分位时间(分钟)",
    ):
        assert _as_csv_text(lay[col].tolist(), csv[col].tolist()) == csv[col].tolist(), col
    assert all(len(t.split(".")[1]) == 7 for t in csv["lon 经度(WGS84)"])  # the village point, 7 decimals
    geom = lay.geometry
    assert geom.geom_type.eq("MultiPolygon").all() and geom.is_valid.all()
    pts = shapely.points(lay["lon 经度(WGS84)"].to_numpy(float), lay["lat 纬度(WGS84)"].to_numpy(float))
    assert shapely.covers(geom.to_numpy(), pts).all()  # each village's point lies in its own polygon


def test_other_layers_match_their_files(out):
    out, before_site = out
    d = out / CIRCLE
    assert before_site == {"villages", "towns", "service_area", "gap_areas", "facilities", "layer_styles"}
    names = set(pyogrio.list_layers(d / LAYERS_GPKG)[:, 0])
    assert names == before_site | {"candidates"}
    towns = _layer(out, "towns")
    tcsv = _csv(d / "towns.csv")
    assert sorted(towns["town_code 镇街代码"]) == sorted(set(tcsv["town_code 镇街代码"]) - {"441900"})
    assert towns.geometry.notna().all() and (shapely.area(towns.geometry.to_numpy()) > 0).all()
    fac = _layer(out, "facilities")
    fcsv = _csv(d / "facilities.csv")
    assert len(fac) == len(fcsv)
    assert _as_csv_text(fac["lon 经度(WGS84)"], fcsv["lon 经度(WGS84)"]) == fcsv["lon 经度(WGS84)"].tolist()
    assert shapely.equals_exact(
        fac.geometry.to_numpy(), shapely.points(fac["lon 经度(WGS84)"], fac["lat 纬度(WGS84)"]), 0
    ).all()
    sa = _layer(out, "service_area")
    assert len(sa) == 1 and shapely.area(sa.geometry.iloc[0]) > 0 and sa["circle 服务圈"].iloc[0] == CIRCLE
    gaps = pyogrio.read_dataframe(d / "gaps.geojson")
    assert len(_layer(out, "gap_areas")) == len(gaps)
    cand = _layer(out, "candidates")
    ccsv = _csv(d / "candidates.csv")
    assert list(cand.columns[:-1]) == list(ccsv.columns)
    assert cand["site_id 候选点编号"].tolist() == ccsv["site_id 候选点编号"].tolist() and len(cand) == 3
    con = sqlite3.connect(d / LAYERS_GPKG)
    try:
        desc = dict(con.execute("select table_name, description from gpkg_contents").fetchall())
    finally:
        con.close()
    assert all("SYNTHETIC" in desc[n] for n in names - {"layer_styles"})  # every layer says so


def _qml(out: Path) -> dict[str, ET.Element]:
    con = sqlite3.connect(out / CIRCLE / LAYERS_GPKG)
    try:
        rows = con.execute(
            "select f_table_name, f_geometry_column, styleQML, useAsDefault from layer_styles"
        ).fetchall()
    finally:
        con.close()
    assert all(geom == "geom" and default == 1 for _, geom, _, default in rows)
    return {name: ET.fromstring(qml) for name, _, qml, _ in rows}


def test_styles_are_qml_in_the_maps_classes(out):
    out, _ = out
    styles = _qml(out)
    assert set(styles) == {"villages", "towns", "service_area", "gap_areas", "facilities", "candidates"}
    r = styles["villages"].find("renderer-v2")
    assert r.get("type") == "graduatedSymbol" and r.get("attr") == "covered_share 覆盖率"
    ranges = r.findall("ranges/range")
    assert [float(x.get("lower")) for x in ranges] == [0.0, 0.3, 0.6, 0.9]
    assert [float(x.get("upper")) for x in ranges] == [0.299999, 0.599999, 0.899999, 1.0]
    assert [x.get("label") for x in ranges][-1] == "≥ 90 % = 达标 covered"
    colours = {s.get("name"): s.find(".//Option[@name='color']").get("value") for s in r.findall("symbols/symbol")}
    hexes = ["#" + "".join(f"{int(c):02x}" for c in colours[x.get("symbol")].split(",")[:3]) for x in ranges]
    assert hexes == list(YLGNBU[4])
    # every village falls in exactly one class, and in the top one exactly when it is 达标
    lay = _layer(out, "villages")
    for share, status in zip(lay["covered_share 覆盖率"], lay["status 状态"]):
        hit = [k for k, x in enumerate(ranges) if float(x.get("lower")) <= share <= float(x.get("upper"))]
        assert len(hit) == 1 and (hit[0] == 3) == (status == "covered"), (share, status)


def test_village_classes_follow_the_rule():
    assert [(lo, hi) for lo, hi, _, _ in village_ranges(0.5)] == [(0.0, 0.299999), (0.3, 0.499999), (0.5, 1.0)]
    assert village_ranges(0.9)[-1][2] == YLGNBU[4][-1]


def test_no_maps_run_writes_the_layers_without_areas(small_city, tmp_path):
    args = ["--data-dir", str(small_city), "--out", str(tmp_path), "--no-maps"]
    assert main(["run", "--circle", CIRCLE, *args]) == 0
    names = set(pyogrio.list_layers(tmp_path / CIRCLE / LAYERS_GPKG)[:, 0])
    assert names == {"villages", "towns", "facilities", "layer_styles"}
    assert not list((tmp_path / CIRCLE).glob(".*gpkg*"))  # no temporary file left beside it


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (gdal-bin) not installed")
def test_ogrinfo_opens_every_layer(out):
    out, _ = out
    path = out / CIRCLE / LAYERS_GPKG
    text = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True)
    counts = dict(re.findall(r"Layer name: (\w+).*?Feature Count: (\d+)", text.stdout, flags=re.S))
    for name in pyogrio.list_layers(path)[:, 0]:
        assert int(counts[name]) == len(pyogrio.read_dataframe(path, layer=name, read_geometry=False)), name
    assert 'EPSG",4326' in text.stdout or "WGS 84" in text.stdout
