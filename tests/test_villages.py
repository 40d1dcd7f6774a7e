"""Towns and villages: real Dongguan layers, overlap partition, Voronoi areas, user point files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.errors import ColumnError, CRSError, DataMismatchError
from dgcoverage.inputs.villages import (
    DONGGUAN_UTM,
    attach_villages_to_list,
    dongguan_towns,
    dongguan_villages,
    village_areas_from_points,
    village_points_from_file,
)


@pytest.fixture(scope="module")
def towns():
    return dongguan_towns()


def test_official_lists():
    v = dongguan_villages()
    assert len(v) == 609 and v["code"].is_unique
    assert (v["type"] == "村委会").sum() == 350 and (v["type"] == "居委会").sum() == 247
    assert v["town_code"].nunique() == 36


def test_towns_partition(towns):
    assert len(towns) == 36
    assert towns["has_polygon"].sum() == 35
    assert towns.loc[~towns["has_polygon"], "town_name"].tolist() == ["东莞滨海湾新区"]
    proj = towns[towns["has_polygon"]].to_crs(DONGGUAN_UTM)
    # overlaps removed: areas add up to the union (2464 km2 per the source's own check)
    assert proj.area.sum() / 1e6 == pytest.approx(shapely.union_all(proj.geometry.to_numpy()).area / 1e6, abs=0.05)
    assert proj.area.sum() / 1e6 == pytest.approx(2464.2, abs=3)
    removed = towns.set_index("town_name")["overlap_removed_km2"]
    assert removed["东莞港"] == pytest.approx(4.46, abs=0.05)  # loses its overlap with 麻涌
    assert removed["莞城街道"] == pytest.approx(1.16, abs=0.1)
    assert removed["东城街道"] == 0.0 and removed["麻涌镇"] == 0.0
    assert towns["census_2020"].sum() == 10_466_625


def test_towns_are_converted_from_gcj02(towns):
    from dgcoverage.inputs.villages import data_dir

    raw = gpd.read_file(data_dir() / "dongguan_towns_geoatlas_gcj02.geojson").set_index("name")
    # 东城街道 kept all its land, so only the datum shift moves it: GCJ-02 -> WGS84 here is
    # about -0.0052 deg lon and +0.0027 deg lat (~600 m)
    before = np.array(raw.geometry["东城街道"].bounds)
    after = np.array(towns.set_index("town_name").geometry["东城街道"].bounds)
    d = after - before
    assert np.all((d[[0, 2]] > -0.0054) & (d[[0, 2]] < -0.0049))
    assert np.all((d[[1, 3]] > 0.0025) & (d[[1, 3]] < 0.0030))


def test_voronoi_areas_partition_the_town(towns):
    t = towns[towns["town_code"] == "441900006"]  # 莞城街道
    g = t.to_crs(DONGGUAN_UTM).geometry.iloc[0]
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = g.bounds
    pts = []
    while len(pts) < 8:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if g.contains(shapely.Point(x, y)):
            pts.append(shapely.Point(x, y))
    p = gpd.GeoDataFrame(
        {"code": [f"c{i}" for i in range(8)], "town_code": "441900006"},
        geometry=gpd.GeoSeries(pts, crs=DONGGUAN_UTM).to_crs(4326),
    )
    areas = village_areas_from_points(p, towns).to_crs(DONGGUAN_UTM)
    assert areas.area.sum() == pytest.approx(g.area, rel=1e-6)
    for i in range(8):  # each area holds its own point
        assert areas.geometry.iloc[i].contains(p.to_crs(DONGGUAN_UTM).geometry.iloc[i])


def test_point_file_gcj02_with_chinese_headers_gbk(tmp_path):
    f = tmp_path / "v.csv"
    pd.DataFrame({"代码": ["441900006001"], "名称": ["西隅社区"], "经度": [113.7580], "纬度": [23.0460]}).to_csv(
        f, index=False, encoding="gbk"
    )
    g = village_points_from_file(f, "gcj02")
    assert g["code"].iloc[0] == "441900006001"
    assert g.geometry.x.iloc[0] == pytest.approx(113.7580 - 0.00519, abs=3e-4)
    with pytest.raises(CRSError):
        village_points_from_file(f, "utm")


def test_point_file_errors(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("name,x\nA,1\n", encoding="utf-8")
    with pytest.raises(ColumnError, match="lat"):
        village_points_from_file(f)
    f.write_text("code,lon,lat\n1,abc,23\n", encoding="utf-8")
    with pytest.raises(ColumnError, match="rows \\[2\\]"):
        village_points_from_file(f, "wgs84")


def test_attach_to_official_list():
    off = dongguan_villages()
    pts = gpd.GeoDataFrame(
        {"code": ["441900006001", "999"]}, geometry=gpd.points_from_xy([113.75, 113.7], [23.04, 23.0]), crs=4326
    )
    merged, counts = attach_villages_to_list(pts, off)
    assert len(merged) == 609 and counts == {
        "villages_without_location": 608,
        "village_rows_not_in_list": 0,
        "village_codes_malformed": 1,
    }
    with pytest.raises(DataMismatchError):
        attach_villages_to_list(pts.iloc[1:], off)


def test_analysis_crs_keeps_dongguan_in_utm49_across_114e():
    from dgcoverage.inputs.villages import analysis_crs

    # eastern towns only (median east of 114E, UTM zone 50) still use Dongguan's UTM 49N
    assert analysis_crs(np.array([114.05, 114.2]), np.array([22.8, 22.9])).to_epsg() == 32649
    assert analysis_crs(np.array([24.93, 24.95]), np.array([60.16, 60.18])).to_epsg() == 32635  # Helsinki
