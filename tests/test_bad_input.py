"""Bad-input catalogue (issue #7): every loader rejects what it cannot use with a named error, and
repairs or drops what it can with a counted warning that reaches summary.json.

Each case writes a small bad file in tmp_path.  The table in the issue report maps input -> behaviour.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, Polygon

from dgcoverage.cli.main import main
from dgcoverage.errors import (
    ColumnError,
    ConfigError,
    CRSError,
    DataMismatchError,
    DgCoverageError,
    EmptyInputError,
    InputFileError,
    InputNotFoundError,
)
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.coords import from_wgs84
from dgcoverage.inputs.embedded import DemoPaths
from dgcoverage.inputs.facilities import facilities_from_file
from dgcoverage.inputs.network import network_from_file
from dgcoverage.inputs.population import population_from_raster
from dgcoverage.inputs.quality import gcj02_suspicion
from dgcoverage.inputs.villages import village_points_from_file
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at, make_study, two_islands

UTM = "EPSG:32649"
DG_BOUNDS = (113.5, 22.6, 114.3, 23.2)  # Dongguan, WGS84 (west, south, east, north)
HELSINKI_PBF = Path(__file__).parent / "input_data" / "Helsinki.osm.pbf"


def _csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    return out, [str(w.message) for w in caught]


# ------------------------------------------------------------------ missing / empty / wrong type


@pytest.mark.parametrize("loader", ["facilities", "villages", "population", "roads", "config"])
def test_missing_file_names_the_file(tmp_path, loader):
    p = tmp_path / f"nope_{loader}.csv"
    call = {
        "facilities": lambda: facilities_from_file(p),
        "villages": lambda: village_points_from_file(p),
        "population": lambda: population_from_raster(p.with_suffix(".tif"), UTM),
        "roads": lambda: network_from_file(p.with_suffix(".osm.pbf")),
        "config": lambda: load_config(p.with_suffix(".toml")),
    }[loader]
    with pytest.raises(InputNotFoundError, match="nope_") as exc:
        call()
    assert "not found" in str(exc.value) and "Fix:" in str(exc.value)
    assert isinstance(exc.value, FileNotFoundError)  # natural built-in is still caught


@pytest.mark.parametrize(
    "name,loader",
    [
        ("f.csv", facilities_from_file),
        ("f.geojson", facilities_from_file),
        ("v.csv", village_points_from_file),
        ("n.osm.pbf", network_from_file),
        ("p.tif", lambda p: population_from_raster(p, UTM)),
    ],
)
def test_empty_file(tmp_path, name, loader):
    p = tmp_path / name
    p.write_bytes(b"")
    with pytest.raises(InputFileError, match=name.replace(".", r"\.")):
        loader(p)


def test_header_only_table(tmp_path):
    p = _csv(tmp_path / "h.csv", "名称,经度,纬度\n")
    with pytest.raises(InputFileError, match="no data rows"):
        facilities_from_file(p)


@pytest.mark.parametrize(
    "name,loader",
    [
        ("f.docx", facilities_from_file),
        ("v.pdf", village_points_from_file),
        ("n.shp", network_from_file),
    ],
)
def test_wrong_extension(tmp_path, name, loader):
    p = tmp_path / name
    p.write_bytes(b"not really")
    with pytest.raises(InputFileError, match=r"unsupported"):
        loader(p)


# ------------------------------------------------------------------ encodings and headers


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_read_not_rejected(tmp_path, encoding):
    name = "莞城文化广场" + ("䶮" if encoding == "gb18030" else "")  # U+4DAE exists in GB18030 but not in GBK
    p = _csv(tmp_path / "f.csv", f"名称,经度,纬度,地址,类型\n{name},113.75,23.02,莞城区市桥路1号,文化广场\n", encoding)
    g = facilities_from_file(p, "wgs84")
    assert g["name"].tolist() == [name]
    assert g["address"].tolist() == ["莞城区市桥路1号"] and g["kind"].tolist() == ["文化广场"]


def test_chinese_aliases_mapped_for_both_loaders(tmp_path):
    f = _csv(tmp_path / "f.csv", "序号,名称,地址,类型,经度,纬度\n7,东城体育公园,东城大道,公园,113.76,23.03\n")
    g = facilities_from_file(f, "wgs84")
    assert g.iloc[0][["facility_id", "name", "address", "kind"]].tolist() == ["7", "东城体育公园", "东城大道", "公园"]
    assert (g.geometry.x.iloc[0], g.geometry.y.iloc[0]) == pytest.approx((113.76, 23.03))
    v = _csv(tmp_path / "v.csv", "代码,名称,镇街,经度,纬度\n441900003001,岗贝社区,东城街道,113.76,23.03\n")
    gv = village_points_from_file(v, "wgs84")
    assert gv.iloc[0][["code", "name", "town_name"]].tolist() == ["441900003001", "岗贝社区", "东城街道"]


def test_missing_coordinate_columns(tmp_path):
    p = _csv(tmp_path / "f.csv", "名称,地址\nA,somewhere\n")
    with pytest.raises(ColumnError, match=r"no longitude/latitude column pair.*名称") as exc:
        facilities_from_file(p)
    assert "经度" in str(exc.value)  # the fix lists the accepted headers


# ------------------------------------------------------------------ bad coordinates


def test_non_numeric_and_nan_coordinates_dropped_and_reported(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,113.75,23.02\nB,abc,23.0\nC,,23.0\nD,113.76,NaN\nE,113.77,23.04\n")
    g, msgs = _quiet(facilities_from_file, p, "wgs84")
    assert g["name"].tolist() == ["A", "E"]
    assert g.attrs["warnings"] == {"facility_rows_bad_coordinates": 3}
    assert any("rows [3, 4, 5]" in m and "f.csv" in m for m in msgs)


def test_village_bad_coordinate_rows_dropped_and_counted(tmp_path):
    p = _csv(tmp_path / "v.csv", "code,lon,lat\n441900003001,113.75,23.02\n441900003002,x,23.0\n")
    g, msgs = _quiet(village_points_from_file, p, "wgs84")
    assert g["code"].tolist() == ["441900003001"]
    assert g.attrs["warnings"] == {"village_rows_bad_coordinates": 1}
    assert any("rows [3]" in m for m in msgs)


def test_all_coordinates_bad_is_an_error(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,abc,\nB,NaN,NaN\n")
    with pytest.raises(ColumnError, match=r"no facility row has usable coordinates.*rows \[2, 3\]"):
        facilities_from_file(p, "wgs84")


def test_projected_metres_are_not_degrees(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,x,y\nA,113.75,23.02\nB,399000,2545000\n")
    g, _ = _quiet(facilities_from_file, p, "wgs84")
    assert g["name"].tolist() == ["A"] and g.attrs["warnings"] == {"facility_rows_bad_coordinates": 1}


def test_swapped_lat_lon_fixed_by_study_extent(tmp_path):
    # row 2 swapped; with the study extent both are recognisable
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,113.75,23.02\nB,23.03,113.76\n")
    g, msgs = _quiet(facilities_from_file, p, "wgs84", expected_bounds=DG_BOUNDS)
    assert g.geometry.x.round(6).tolist() == [113.75, 113.76] and g.geometry.y.round(6).tolist() == [23.02, 23.03]
    assert g.attrs["warnings"] == {"facility_rows_lonlat_swapped": 1}
    assert any("swapped" in m and "rows [3]" in m for m in msgs)


def test_swapped_columns_in_gcj02_village_file(tmp_path):
    # the whole file has the columns the wrong way round (lat values under 经度)
    p = _csv(tmp_path / "v.csv", "代码,经度,纬度\n441900003001,23.02,113.75\n441900003002,23.03,113.76\n")
    g, _ = _quiet(village_points_from_file, p, "gcj02", expected_bounds=DG_BOUNDS)
    assert g.attrs["warnings"] == {"village_rows_lonlat_swapped": 2}
    assert g.geometry.x.min() > 113.7 and g.geometry.y.max() < 23.1


def test_swap_without_bounds_only_when_latitude_is_impossible(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,23.02,113.75\nB,60.17,24.94\n")  # B: plausible (Russia)
    g, _ = _quiet(facilities_from_file, p, "wgs84")
    assert g.attrs["warnings"] == {"facility_rows_lonlat_swapped": 1}
    assert g.geometry.x.round(2).tolist() == [113.75, 60.17]


def test_unknown_crs(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,113.75,23.02\n")
    with pytest.raises(CRSError, match="accepted values"):
        facilities_from_file(p, "utm50")
    with pytest.raises(CRSError):
        village_points_from_file(p, "EPSG:3857")


def test_outside_dongguan_counted_and_dropped(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,113.75,23.02\nHelsinki,24.94,60.17\nShenzhen,114.06,22.30\n")
    g, msgs = _quiet(facilities_from_file, p, "wgs84", bounds=DG_BOUNDS)
    assert g["name"].tolist() == ["A"]
    assert g.attrs["warnings"] == {"facilities_outside_area": 2}
    assert any("outside the study area" in m for m in msgs)


def test_duplicates_removed_and_counted(tmp_path):
    p = _csv(tmp_path / "f.csv", "name,lon,lat\nA,113.75,23.02\nA,113.75,23.02\nA,113.751,23.02\nB,113.75,23.02\n")
    g, msgs = _quiet(facilities_from_file, p, "wgs84")
    assert len(g) == 3 and g.attrs["warnings"] == {"facility_duplicates_removed": 1}
    assert any("duplicate" in m for m in msgs)


# ------------------------------------------------------------------ GeoJSON geometry


def test_geojson_mixed_geometry_facilities(tmp_path):
    p = tmp_path / "f.geojson"
    sq = Polygon([(113.75, 23.0), (113.76, 23.0), (113.76, 23.01), (113.75, 23.01)])
    gpd.GeoDataFrame(
        {"name": ["pt", "area", "line", "none"]},
        geometry=[Point(113.7, 23.0), sq, LineString([(113.8, 23.0), (113.81, 23.0)]), None],
        crs=4326,
    ).to_file(p, driver="GeoJSON")
    g, msgs = _quiet(facilities_from_file, p, "wgs84")
    assert g["name"].tolist() == ["pt", "area", "line"]
    assert g.attrs["warnings"] == {"facility_rows_no_geometry": 1, "facility_areas_as_points": 2}
    assert sq.contains(g.geometry.iloc[1]) and (g.geom_type == "Point").all()
    assert any("mixed geometry types" in m for m in msgs)


def test_geojson_mixed_geometry_villages_rejected(tmp_path):
    p = tmp_path / "v.geojson"
    gpd.GeoDataFrame(
        {"code": ["441900003001", "441900003002"]},
        geometry=[Point(113.75, 23.0), Polygon([(113.7, 23), (113.71, 23), (113.71, 23.01)])],
        crs=4326,
    ).to_file(p, driver="GeoJSON")
    with pytest.raises(InputFileError, match=r"mixes points.*Polygon"):
        village_points_from_file(p)


# ------------------------------------------------------------------ rasters


def _raster(path, crs, transform, arr, nodata=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(arr.astype("float32"), 1)
    return path


def test_raster_without_crs(tmp_path):
    p = _raster(tmp_path / "nocrs.tif", None, Affine(100, 0, 0, 0, -100, 200), np.ones((2, 2)))
    with pytest.raises(CRSError, match=r"no CRS.*gdal_edit"):
        population_from_raster(p, UTM)


def test_raster_in_another_crs_is_warped_and_conserved(tmp_path):
    # Web Mercator, 500 m pixels over Dongguan
    arr = np.array([[100.0, 200.0], [300.0, 400.0]])
    p = _raster(tmp_path / "merc.tif", "EPSG:3857", Affine(500, 0, 12_662_000, 0, -500, 2_634_000), arr)
    g = population_from_raster(p, UTM)
    assert g.total == pytest.approx(1000.0, rel=1e-9) and g.meta["resampled_from"] == "EPSG:3857"


def test_raster_nodata_counts_as_nobody(tmp_path):
    arr = np.array([[-9999.0, 100.0], [np.nan, 50.0]])
    p = _raster(tmp_path / "nd.tif", "EPSG:4326", Affine(0.01, 0, 113.7, 0, -0.01, 23.05), arr, nodata=-9999.0)
    g = population_from_raster(p, UTM)
    assert g.total == pytest.approx(150.0)
    assert g.warnings == {"population_nonfinite_cells_zeroed": 1}


def test_raster_not_overlapping_city(tmp_path):
    p = _raster(tmp_path / "far.tif", "EPSG:4326", Affine(0.01, 0, 24.9, 0, -0.01, 60.2), np.ones((2, 2)))
    with pytest.raises(EmptyInputError, match="does not overlap"):
        population_from_raster(p, UTM, bounds=(300_000, 2_500_000, 400_000, 2_600_000))


# ------------------------------------------------------------------ circle config


@pytest.mark.parametrize(
    "body,match",
    [
        ("minutes = -5", "minutes must be > 0"),
        ("minutes = 0", "minutes must be > 0"),
        ("minutes = 15\nradius_m = 800", r"unknown key\(s\) \['radius_m'\]"),
        ('minutes = "15"', "must be a number"),
    ],
)
def test_bad_circle_config(tmp_path, body, match):
    p = tmp_path / "c.toml"
    p.write_text(
        f'[circles.x]\nname_zh = "圈"\nname_en = "c"\nmode = "walk"\nspeed_kmh = 4.0\n{body}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_cli_negative_minutes_exit_2(small_city, tmp_path, capsys):
    rc = main(
        ["run", "--circle", "fitness_15", "--minutes", "-5", "--data-dir", str(small_city), "--out", str(tmp_path)]
    )
    assert rc == 2 and "minutes must be > 0" in capsys.readouterr().err


# ------------------------------------------------------------------ CLI error model


def test_cli_error_without_traceback_and_debug_with(small_city, tmp_path, capsys):
    args = [
        "run",
        "--circle",
        "fitness_15",
        "--facilities",
        str(tmp_path / "missing.csv"),
        "--data-dir",
        str(small_city),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("dgcoverage: error: ") and "missing.csv" in err and "Fix:" in err
    assert "Traceback" not in err
    with pytest.raises(InputNotFoundError, match="missing.csv"):
        main(args + ["--debug"])


# ------------------------------------------------------------------ network files, components


def test_truncated_pbf_through_pipeline(small_city, tmp_path, capsys):
    bad = tmp_path / "cut.osm.pbf"
    bad.write_bytes(HELSINKI_PBF.read_bytes()[: HELSINKI_PBF.stat().st_size // 2])
    with pytest.raises(InputFileError, match=r"cut\.osm\.pbf.*corrupt or truncated"):
        load_study(network=bad, data_dir=small_city)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--network",
            str(junk),
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "junk.osm.pbf" in err and "Fix:" in err and not (tmp_path / "o" / "fitness_15").exists()


def test_two_components_unreachable_not_gap():
    circles, _ = load_config()
    study = two_islands()
    res = run_circle(study, circles["fitness_15"], facilities_at([(0.0, 0.0)]))
    v = res.villages.set_index("code")
    assert v.loc["441900003001", "status"] == "covered"
    assert v.loc["441900003002", "status"] == "unreachable"  # an island with no facility is not a "gap"
    assert v.loc["441900003002", "unreachable_share"] == 1.0
    assert v.loc["441900003002", "reason"].startswith("no facility can be reached along its streets")
    comp = res.summary["components"]
    assert comp["count"] == 2 and comp["with_facility"] == 1
    assert comp["population_on_components_without_facility"] == 500.0
    west = int(study.graph.component[0])
    assert res.facilities["component"].tolist() == [west] and res.facilities["component_nodes"].tolist() == [5]
    assert res.summary["results"]["population_by_reach"]["unreachable"] == 500.0
    # a facility on the east island too: the east village is now reachable
    res2 = run_circle(study, circles["fitness_15"], facilities_at([(0.0, 0.0), (2000.0, 400.0)]))
    assert set(res2.villages["status"]) == {"covered"}
    assert sorted(res2.facilities["component"]) == sorted({west, int(study.graph.component[5])})


def test_two_components_beyond_limit_is_gap():
    # same islands but the limit is too short for the far end of the west line: "gap"/"partial", never unreachable
    circles, _ = load_config()
    study = make_study([(0.0, 0.0), (0.0, 3000.0)], [(0, 1)], [(0.0, 3000.0)], [10.0], [(-500, 2500, 500, 3500)])
    res = run_circle(study, circles["fitness_15"], facilities_at([(0.0, 0.0)]))
    assert res.villages["status"].tolist() == ["gap"]


# ------------------------------------------------------------------ GCJ-02 declared as WGS84


def test_gcj02_heuristic_on_tiny_grid():
    nodes = [(x * 150.0, y * 150.0) for y in range(8) for x in range(8)]
    edges = [(i, i + 1) for i in range(64) if i % 8 != 7] + [(i, i + 8) for i in range(56)]
    study = make_study(nodes, edges, [(10.0, 10.0)], [1.0], [(-100, -100, 1200, 1200)])
    on_nodes = facilities_at([nodes[i] for i in (9, 20, 27, 34, 45, 50)])
    lon, lat = on_nodes.geometry.x.to_numpy(), on_nodes.geometry.y.to_numpy()
    ok = gcj02_suspicion(study.graph, lon, lat, 500.0)
    assert ok["suspect"] is False and ok["median_snap_m"] < 1.0
    glon, glat = from_wgs84(lon, lat, "gcj02")  # what Gaode would give for the same places
    bad = gcj02_suspicion(study.graph, glon, glat, 500.0)
    assert bad["suspect"] is True and bad["median_snap_if_gcj02_m"] < 1.0 < bad["median_snap_m"]
    assert gcj02_suspicion(study.graph, glon[:3], glat[:3], 500.0) is None  # too few to judge


def test_gcj02_declared_wgs84_counted_in_summary(small_city, tmp_path):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    rng = np.random.default_rng(7)
    idx = rng.choice(study.net.n_nodes, 40, replace=False)
    glon, glat = from_wgs84(study.net.lon[idx], study.net.lat[idx], "gcj02")
    p = tmp_path / "gaode.csv"
    pd.DataFrame({"名称": [f"站{i}" for i in range(40)], "经度": glon, "纬度": glat}).to_csv(p, index=False)
    fac = load_facilities(study, circles["fitness_15"], p, "wgs84")  # wrongly declared
    res, msgs = _quiet(run_circle, study, circles["fitness_15"], fac)
    assert res.summary["warnings"]["facilities_maybe_gcj02"] == 40
    # one datum check (quality.datum_fit) gives the verdict and the warning; the old key is retired
    assert res.summary["checks"]["datum"]["facilities"].startswith("suspect: facilities read as wgs84 stand a median")
    assert "gcj02_suspicion" not in res.summary["checks"] and "datum_suspicion" not in res.summary["checks"]
    said = [m for m in msgs if "fit the road network far better read as gcj02 (Gaode/Tencent)" in m]
    assert len(said) == 1 and "facilities read as wgs84" in said[0] and "--facilities-crs gcj02" in said[0]
    fac2 = load_facilities(study, circles["fitness_15"], p, "gcj02")  # correctly declared: no check
    res2 = run_circle(study, circles["fitness_15"], fac2)
    assert "facilities_maybe_gcj02" not in res2.summary["warnings"]


# ------------------------------------------------------------------ villages vs boundaries


def test_village_towns_do_not_match_boundaries(small_city, tmp_path):
    p = _csv(
        tmp_path / "v.csv", "名称,镇街,经度,纬度\n岗贝社区,朝阳区,113.82,23.08\n花园新村社区,海淀区,113.80,23.08\n"
    )
    with pytest.raises(DataMismatchError, match=r"v\.csv.*none of the village rows match"):
        load_study(villages=p, villages_crs="gcj02", data_dir=small_city)


def test_village_rows_warnings_reach_the_study(small_city, tmp_path):
    src = pd.read_csv(DemoPaths(small_city).villages, encoding="utf-8-sig", dtype=str)
    src.loc[0, ["经度", "纬度"]] = src.loc[0, ["纬度", "经度"]].to_numpy()  # swapped
    src.loc[1, "经度"] = "未知"  # unusable
    src.loc[2, "镇街"] = "朝阳区"  # a town that is not the code's town (nor in the boundaries)
    p = tmp_path / "v.csv"
    src.to_csv(p, index=False, encoding="gbk")
    study, _ = _quiet(load_study, villages=p, villages_crs="gcj02", data_dir=small_city)
    w = study.warnings
    assert w["village_rows_lonlat_swapped"] == 1 and w["village_rows_bad_coordinates"] == 1
    assert w["village_rows_town_mismatch"] == 1  # the code wins, the clash is counted
    assert w["village_rows_not_in_list"] == 0 and w["villages_without_location"] == 1


# ------------------------------------------------------------------ warnings reach summary.json


def test_every_facility_repair_is_counted_in_summary_json(small_city, tmp_path):
    fac = pd.read_csv(DemoPaths(small_city).facilities("fitness_15"), encoding="utf-8-sig", dtype=str)
    n = len(fac)
    extra = pd.DataFrame(
        {
            "编号": ["x1", "x2", "x3", "x4"],
            "名称": ["坏", "远", "重复", "反"],
            "经度": ["abc", "24.94", fac.loc[0, "经度"], fac.loc[1, "纬度"]],
            "纬度": ["23.0", "60.17", fac.loc[0, "纬度"], fac.loc[1, "经度"]],
            "类型": "",
        }
    )
    dup = fac.iloc[[0]].assign(编号="dup")
    p = tmp_path / "f.csv"
    pd.concat([fac, extra, dup], ignore_index=True).to_csv(p, index=False, encoding="gb18030")
    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--facilities",
            str(p),
            "--facilities-crs",
            "gcj02",
            "--data-dir",
            str(small_city),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    s = json.loads((out / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    w = s["warnings"]
    assert w["facility_rows_bad_coordinates"] == 1
    assert w["facilities_outside_area"] == 1
    assert w["facility_rows_lonlat_swapped"] == 1
    assert w["facility_duplicates_removed"] == 1
    assert s["sizes"]["facilities"] == n + 2  # n + 重复 (other name) + 反 (fixed)
    table = pd.read_csv(out / "fitness_15" / "facilities.csv", encoding="utf-8-sig", dtype=str)
    table.columns = [c.split()[0] for c in table.columns]  # bilingual headers
    assert len(table) == n + 2 and {"component", "on_network", "village_code"} <= set(table.columns)


def test_dgcoverage_error_is_the_base_of_all(tmp_path):
    for cls in (
        ColumnError,
        ConfigError,
        CRSError,
        DataMismatchError,
        EmptyInputError,
        InputFileError,
        InputNotFoundError,
    ):
        assert issubclass(cls, DgCoverageError) and issubclass(cls, ValueError)
