"""layers.gpkg: the candidate layer a later ``run`` keeps, and the layers in CGCS2000 or a projected CRS."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import CRS, Transformer

from dgcoverage.cli.main import main
from dgcoverage.errors import CRSError
from dgcoverage.outputs.gpkg import LAYERS_GPKG, crs_label, layer_crs

CIRCLE = "fitness_15"
pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
DONGGUAN = (113.5, 22.6, 114.3, 23.2)


def _run_args(small_city, out, maps=None) -> list[str]:
    tail = ["--maps-dir", str(maps)] if maps is not None else ["--no-maps"]
    return ["--circle", CIRCLE, "--data-dir", str(small_city), "--out", str(out), *tail]


def _candidates(out) -> pd.DataFrame:
    return pyogrio.read_dataframe(out / CIRCLE / LAYERS_GPKG, layer="candidates")


def _layers(out) -> set[str]:
    return {str(n) for n in pyogrio.list_layers(out / CIRCLE / LAYERS_GPKG)[:, 0]}


def _settings(out) -> dict:
    return json.loads((out / CIRCLE / "summary.json").read_text(encoding="utf-8"))["settings"]


def test_the_candidate_layer_survives_a_later_run(small_city, tmp_path):
    out, maps = tmp_path / "out", tmp_path / "maps"
    assert main(["site", *_run_args(small_city, out, maps), "--k", "3"]) == 0
    sited = _candidates(out)
    assert len(sited) == 3 and sited.crs.to_epsg() == 4326
    assert main(["run", *_run_args(small_city, out, maps)]) == 0  # with maps: layers written with the areas
    assert "candidates" in _layers(out)
    pd.testing.assert_frame_equal(_candidates(out), sited)  # the same rows, fields and points
    assert (out / CIRCLE / "candidates.csv").is_file()  # the sites the report picks up are the same ones
    assert main(["run", *_run_args(small_city, out)]) == 0  # --no-maps: layers written with the tables
    pd.testing.assert_frame_equal(_candidates(out), sited)
    assert main(["run", *_run_args(small_city, out), "--speed", "3"]) == 0  # another measurement: the sites are stale
    assert "candidates" not in _layers(out) and not (out / CIRCLE / "candidates.csv").exists()


def test_layers_in_a_projected_crs(small_city, tmp_path):
    """CGCS2000 / 3-degree Gauss-Kruger zone 38 (EPSG:4526): every layer carries it, points transformed right."""
    out = tmp_path / "out"
    assert main(["site", *_run_args(small_city, out), "--k", "2", "--gpkg-crs", "EPSG:4526"]) == 0
    path = out / CIRCLE / LAYERS_GPKG
    for name in _layers(out) - {"layer_styles"}:
        assert pyogrio.read_info(path, layer=name)["crs"] == "EPSG:4526", name
    assert _settings(out)["gpkg_crs"] == "EPSG:4526"
    fac = pyogrio.read_dataframe(path, layer="facilities")
    lon, lat = fac["lon 经度(WGS84)"].iloc[0], fac["lat 纬度(WGS84)"].iloc[0]  # the lon/lat fields stay WGS84
    x, y = Transformer.from_crs(4326, 4526, always_xy=True).transform(lon, lat)
    assert abs(fac.geometry.x.iloc[0] - x) < 1e-3 and abs(fac.geometry.y.iloc[0] - y) < 1e-3
    assert 38_400_000 < x < 38_600_000 and 2_490_000 < y < 2_580_000  # zone 38 prefix; ~22.5-23.3 N
    villages = pyogrio.read_dataframe(path, layer="villages")
    assert villages.geometry.is_valid.all() and villages.total_bounds[0] > 38_000_000
    cand = _candidates(out)
    x, y = Transformer.from_crs(4326, 4526, always_xy=True).transform(cand["lon 经度(WGS84)"], cand["lat 纬度(WGS84)"])
    assert np.allclose(cand.geometry.x, x, atol=1e-3) and np.allclose(cand.geometry.y, y, atol=1e-3)
    con = sqlite3.connect(path)
    try:
        srs = {r[0] for r in con.execute("select srs_id from gpkg_geometry_columns")}
    finally:
        con.close()
    assert srs == {4526}
    if shutil.which("ogrinfo"):
        text = subprocess.run(["ogrinfo", "-ro", "-so", str(path), "candidates"], capture_output=True, text=True)
        assert 'PROJCRS["CGCS2000 / 3-degree Gauss-Kruger zone 38"' in text.stdout and "Feature Count: 2" in text.stdout
    # a later run in WGS84 keeps the sites (the layers' CRS is no measurement), reprojected back
    assert main(["run", *_run_args(small_city, out)]) == 0
    assert _settings(out)["gpkg_crs"] == "EPSG:4326"
    back = _candidates(out)
    assert back.crs.to_epsg() == 4326 and len(back) == 2
    assert np.allclose(back.geometry.x, cand["lon 经度(WGS84)"], atol=1e-7)
    assert np.allclose(back.geometry.y, cand["lat 纬度(WGS84)"], atol=1e-7)


def test_layers_in_cgcs2000(small_city, tmp_path):
    out = tmp_path / "out"
    assert main(["run", *_run_args(small_city, out), "--gpkg-crs", "4490"]) == 0
    path = out / CIRCLE / LAYERS_GPKG
    fac = pyogrio.read_dataframe(path, layer="facilities")
    assert fac.crs.to_epsg() == 4490 and _settings(out)["gpkg_crs"] == "EPSG:4490"
    x, y = Transformer.from_crs(4326, 4490, always_xy=True).transform(fac["lon 经度(WGS84)"], fac["lat 纬度(WGS84)"])
    assert np.allclose(fac.geometry.x, x, atol=1e-9) and np.allclose(fac.geometry.y, y, atol=1e-9)
    if shutil.which("ogrinfo"):  # GDAL's own reader says the same
        text = subprocess.run(["ogrinfo", "-ro", "-so", str(path), "villages"], capture_output=True, text=True)
        assert text.returncode == 0
        assert 'GEOGCRS["China Geodetic Coordinate System 2000"' in text.stdout and 'ID["EPSG",4490]' in text.stdout


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("GCJ-02", "not coordinate reference systems"),
        ("bd09", "not coordinate reference systems"),
        ("EPSG:99999", "not a coordinate reference system PROJ knows"),
        ("EPSG:4978", "geocentric, vertical, compound or 3D"),
        ("EPSG:5773", "geocentric, vertical, compound or 3D"),
    ],
)
def test_an_unsuitable_crs_is_refused_before_anything_is_computed(small_city, tmp_path, capsys, value, words):
    out = tmp_path / "out"
    assert main(["run", *_run_args(small_city, out), "--gpkg-crs", value]) == 2
    err = capsys.readouterr().err
    assert words in err and "EPSG:4490" in err  # and what to give instead
    assert not (out / CIRCLE).exists()  # refused with the options: nothing loaded, nothing written


def test_a_crs_for_elsewhere_is_refused_with_the_study():
    assert layer_crs("EPSG:32649", DONGGUAN).to_epsg() == 32649  # the study's UTM
    assert layer_crs("EPSG:4526", DONGGUAN).to_epsg() == 4526
    with pytest.raises(CRSError, match=r"12\.\.18 E.*113\.90 E, 22\.90 N"):
        layer_crs("EPSG:32633", DONGGUAN)
    with pytest.raises(CRSError, match="outside"):
        layer_crs("EPSG:4527", DONGGUAN)  # CGCS2000 Gauss-Kruger zone 39 (115.5-118.5 E)
    assert crs_label(layer_crs()) == "EPSG:4326" and crs_label(layer_crs(CRS(4490))) == "EPSG:4490"
