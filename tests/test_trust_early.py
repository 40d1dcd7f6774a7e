"""Issue 19, part 5: the right reason, early (files, place names, metre clips, two header rows, resampling spill)
and the datum check of candidates and villages, both ways, saying when it cannot tell."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from shapely.geometry import box

from dgcoverage.cli.main import main
from dgcoverage.errors import (
    ColumnError,
    DataMismatchError,
    DgCoverageError,
    DgCoverageWarning,
    InputFileError,
    InputNotFoundError,
    NetworkError,
)
from dgcoverage.inputs.preflight import check_input_files

REPO = Path(__file__).resolve().parents[1]


def _cli_in_fresh_process(argv: list[str]) -> tuple[int, str, set[str]]:
    """Run the CLI in a new interpreter: exit code, stderr, and which heavy modules it imported."""
    code = (
        "import sys, json; from dgcoverage.cli.main import main; rc = main(json.loads(sys.argv[1])); "
        "heavy = [m for m in ('dgcoverage.pipeline.load', 'dgcoverage.pipeline.run', 'geopandas', "
        "'dgcoverage.outputs.gpkg') if m in sys.modules]; print(json.dumps([rc, heavy]))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    rc, heavy = json.loads(p.stdout.strip().splitlines()[-1])
    return rc, p.stderr, set(heavy)


# --- every named file is checked before anything is loaded -------------------------------------------------------


def test_check_input_files_names_the_option_and_the_path(tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text("a,b\n1,2\n", encoding="utf-8")
    check_input_files({"--facilities": ok, "--villages": None})  # fine, None skipped
    with pytest.raises(InputNotFoundError, match=r"nope\.csv: facility file \(--facilities\) not found"):
        check_input_files({"--villages": ok, "--facilities": tmp_path / "nope.csv"})
    with pytest.raises(InputFileError, match=r"--candidates names a folder, not a file"):
        check_input_files({"--candidates": tmp_path})
    check_input_files({"--region": tmp_path})  # a region may be a folder
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.csv: --add file is empty \(0 bytes\)"):
        check_input_files({"--add": empty})


def test_a_missing_facilities_file_is_said_before_any_loading(small_city, tmp_path):
    t0 = time.perf_counter()
    rc, err, heavy = _cli_in_fresh_process(
        ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--facilities", str(tmp_path / "no.csv")]
        + ["--out", str(tmp_path / "o")]
    )
    took = time.perf_counter() - t0
    assert rc == 2 and f"{tmp_path / 'no.csv'}: facility file (--facilities) not found" in err
    assert heavy == set(), heavy  # refused before the network, the raster and the writers were even imported
    assert took < 5.0  # the interpreter included (< 1 s on an idle machine; was 6.5 s)
    assert not (tmp_path / "o").exists()


def test_site_capacity_for_a_circle_without_a_standard_is_refused_before_loading(small_city, tmp_path):
    rc, err, heavy = _cli_in_fresh_process(
        ["site", "--circle", "legal_aid_30", "--site-capacity", "100", "--data-dir", str(small_city)]
        + ["--out", str(tmp_path / "o")]
    )
    assert rc == 2 and "--site-capacity: circle legal_aid_30 has no supply standard" in err
    assert heavy == set(), heavy


@pytest.mark.parametrize(
    "body, said",
    [
        (
            'towns = "towns.geojson"\nvillages = "nope.geojson"\n',
            "nope.geojson: the villages file named in {toml} (villages = 'nope.geojson') not found. Fix: correct "
            "villages in {toml} (a path relative to its folder",
        ),
        (
            'towns = "towns.geojson"\nvillages = "towns.geojson"\npopulation = "empty.tif"\n',
            "empty.tif: population (in region.toml) file is empty (0 bytes).",
        ),
        (
            'towns = "towns.geojson"\nvillages = "towns.geojson"\n[facilities]\nfitness_15 = "f/x.csv"\n',
            "x.csv: the facilities.fitness_15 file named in {toml} (facilities.fitness_15 = 'f/x.csv') not found.",
        ),
    ],
)
def test_files_named_in_a_region_toml_are_checked_before_any_loading(tmp_path, body, said):
    """A region TOML naming a missing villages file was found only while loading (after the towns were read)."""
    reg = tmp_path / "reg"
    reg.mkdir()
    (reg / "towns.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    (reg / "empty.tif").write_bytes(b"")
    (reg / "region.toml").write_text(body, encoding="utf-8")
    t0 = time.perf_counter()
    rc, err, heavy = _cli_in_fresh_process(
        ["run", "--region", str(reg), "--circle", "fitness_15", "--out", str(tmp_path / "o"), "--no-maps"]
    )
    assert rc == 2 and said.format(toml=reg / "region.toml") in err, err
    assert heavy == set(), heavy  # refused before the network, the raster and the writers were even imported
    assert time.perf_counter() - t0 < 5.0 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("place", ["", "   "])
def test_an_empty_place_name_is_refused_not_the_synthetic_roads(small_city, tmp_path, capsys, place):
    rc = main(
        ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--network-place", place, "--no-maps"]
        + ["--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "--network-place" in err and "names no place" in err and "--network FILE" in err
    assert not (tmp_path / "o").exists()


def test_offline_place_download_says_so_in_one_line(monkeypatch):
    import osmnx as ox
    import requests
    import urllib3

    from dgcoverage.inputs import network as netmod

    def offline(*a, **k):
        cause = urllib3.exceptions.NameResolutionError("nominatim.openstreetmap.org", None, "no DNS")
        raise requests.exceptions.ConnectionError(cause)

    monkeypatch.setattr(ox, "geocode_to_gdf", offline)
    with pytest.raises(NetworkError) as e:
        netmod.network_from_place("东莞市")
    msg = str(e.value)
    assert "--network-place '东莞市': cannot download" in msg and "(no internet connection?): use --network FILE" in msg
    assert "NameResolutionError" not in msg and "HTTPSConnectionPool" not in msg
    # the download itself (after the boundary came from the cache) is said the same way
    monkeypatch.setattr(netmod, "place_polygon", lambda q, b=0.0: box(113.7, 23.0, 113.8, 23.1))
    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    with pytest.raises(NetworkError, match=r"cannot download its roads .*no internet connection"):
        netmod.network_from_place("东莞市")
    # any other failure keeps its own reason
    monkeypatch.setattr(ox, "graph_from_polygon", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad polygon")))
    with pytest.raises(NetworkError, match=r"could not download the network \(bad polygon\)"):
        netmod.network_from_place("东莞市")


def test_a_clip_polygon_in_metres_is_told_as_metres(tmp_path, small_city, capsys):
    from dgcoverage.inputs.clip import clip_polygon_file

    metres = tmp_path / "clip_m.geojson"  # Web Mercator metres, but GeoJSON is read as WGS84 degrees
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": box(12629501, 2630000, 12650000, 2650000).__geo_interface__,
    }
    metres.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    with pytest.raises(DgCoverageError, match=r"clip polygon's coordinates look like metres \(x 12,629,501"):
        clip_polygon_file(metres)
    # declared in its CRS (GeoPackage with EPSG:3857) it is read and turned into degrees
    gpkg = tmp_path / "clip.gpkg"
    gpd.GeoDataFrame(geometry=[box(12629501, 2630000, 12650000, 2650000)], crs=3857).to_file(gpkg)
    assert clip_polygon_file(gpkg).bounds[0] == pytest.approx(113.4527, abs=1e-3)
    rc = main(
        ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--network", str(small_city / "network.npz")]
        + ["--clip", str(metres), "--no-maps", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "look like metres" in err and "no road edge" not in err


# --- a two-row header is told as such ----------------------------------------------------------------------------


def _two_row_xlsx(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "坐标(高德)", None, "床位"])
    ws.append([None, "经度", "纬度", None])
    for cells in ("B1:C1", "A1:A2", "D1:D2"):
        ws.merge_cells(cells)
    for i in range(8):
        ws.append([f"养老院{i}", 113.75 + i * 0.01, 23.02 + i * 0.005, 50])
    wb.save(path)
    return path


def test_two_header_rows_are_told_with_the_fix(tmp_path):
    from dgcoverage.inputs.tables import read_coordinate_table

    path = _two_row_xlsx(tmp_path / "养老机构.xlsx")
    with pytest.raises(ColumnError) as e:
        read_coordinate_table(path, "gcj02", what="facility", crs_option="--facilities-crs")
    msg = str(e.value)
    assert "has two header rows (rows 1 and 2)" in msg and "'坐标(高德)'" in msg
    assert "['名称', '经度(高德)', '纬度(高德)', '床位']" in msg and "delimiter" not in msg
    # a title row over a complete header is still a title: skipped and said, the table read
    ok = tmp_path / "titled.csv"
    ok.write_text("东莞市养老机构名录\n名称,经度,纬度\n" + "".join(f"院{i},113.7{i},23.0{i}\n" for i in range(6)))
    with pytest.warns(DgCoverageWarning, match="header found on line 2"):
        df, coords, _ = read_coordinate_table(ok, "gcj02", what="facility", crs_option="--facilities-crs")
    assert len(df) == 6 and coords["lon"] == "经度"


# --- resampling spill of an elderly raster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def port_city(tmp_path_factory):
    """The embedded default restricted to 沙田镇 + 东莞港 (a town with almost nobody)."""
    from dgcoverage.demo.synthetic import build_demo

    root = tmp_path_factory.mktemp("port_city")
    build_demo(root, town_codes=["441900402", "441900123"])
    return root


def _elderly_in_degrees(src_path: Path, dst_path: Path, factor: float) -> Path:
    """``factor`` x the people, reprojected to EPSG:4326 on WorldPop's 3" grid (people kept: sum resampling)."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(src_path) as src:
        data = np.where(src.read(1) > 0, src.read(1) * factor, 0).astype("float64")
        t, w, h = calculate_default_transform(
            src.crs, "EPSG:4326", src.width, src.height, *src.bounds, resolution=(1 / 1200, 1 / 1200)
        )
        out = np.zeros((h, w))
        reproject(data, out, src_transform=src.transform, src_crs=src.crs, dst_transform=t, dst_crs="EPSG:4326",
                  resampling=Resampling.sum)  # fmt: skip
    prof = {"driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": "float32", "crs": "EPSG:4326",
            "transform": t, "nodata": -1}  # fmt: skip
    with rasterio.open(dst_path, "w", **prof) as dst:
        dst.write(out.astype("float32"), 1)
    assert out.sum() == pytest.approx(data.sum(), rel=1e-6)
    return dst_path


def test_resampling_spill_is_tolerated_capped_and_said(port_city, tmp_path):
    from dgcoverage.pipeline.load import load_study

    old = _elderly_in_degrees(port_city / "population_100m.tif", tmp_path / "elderly_4326.tif", 0.15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = load_study(data_dir=port_city, elderly=old)
    said = [str(w.message) for w in caught if issubclass(w.category, DgCoverageWarning)]
    spill = [m for m in said if "resampling spill" in m]
    assert len(spill) == 1 and "东莞港 52 > 0" in spill[0], said  # 52 people aged 60+ where nobody lives
    assert study.warnings["elderly_resampling_spill"] == 1
    by = dict(zip(study.towns["town_name"], study.towns["elderly_raster"]))
    assert by["东莞港"] == 0.0  # capped at its people
    assert by["沙田镇"] == pytest.approx(31382.66, abs=0.5)  # the rest of the 31,526 (0.15 x the people)


def test_a_larger_excess_is_still_refused(port_city, tmp_path):
    from dgcoverage.pipeline.load import load_study

    double = _elderly_in_degrees(port_city / "population_100m.tif", tmp_path / "elderly_x2.tif", 2.0)
    with (
        pytest.raises(DataMismatchError, match=r"holds people in 1 town\(s\) \(沙田镇 "),
        pytest.warns(DgCoverageWarning, match="resampling spill"),  # 东莞港's part is spill; 沙田镇's not
    ):
        load_study(data_dir=port_city, elderly=double)


# --- the datum of candidates and villages against the roads, both ways -------------------------------------------


@pytest.fixture(scope="module")
def city_study(small_city):
    from dgcoverage.pipeline.load import load_study

    return load_study(data_dir=small_city)


def test_datum_fit_both_ways_and_cannot_tell(city_study):
    from dgcoverage.inputs.coords import from_wgs84, to_wgs84
    from dgcoverage.inputs.quality import datum_fit

    s = city_study
    i = np.random.default_rng(3).choice(s.net.n_nodes, 40, replace=False)
    lon, lat = s.net.lon[i], s.net.lat[i]  # on the roads in WGS84
    fit = datum_fit(s.graph, lon, lat, "wgs84", 250.0, "sites")
    assert fit["verdict"] == "fits" and fit["median_snap_m"] == 0.0 and fit["text"].startswith("fits: sites read as")
    # WGS84 values read as GCJ-02: the values as used lie ~500 m off; read as WGS84 they sit on the roads
    glon, glat = to_wgs84(lon, lat, "gcj02")
    fit = datum_fit(s.graph, glon, glat, "gcj02", 250.0, "sites")
    assert fit["verdict"] == "suspect" and fit["best_alternative"] == "wgs84"
    assert fit["median_snap_if_m"]["wgs84"] == 0.0 and fit["median_snap_m"] > 30  # a dense grid: ~50 m
    # the other direction: GCJ-02 values declared WGS84
    wlon, wlat = from_wgs84(lon, lat, "gcj02")
    fit = datum_fit(s.graph, wlon, wlat, "wgs84", 250.0)
    assert fit["verdict"] == "suspect" and fit["best_alternative"] == "gcj02"
    # too few points, or every system as far from the roads: said plainly
    assert datum_fit(s.graph, lon[:3], lat[:3], "wgs84", 250.0, "sites")["text"].startswith(
        "cannot tell: 3 sites within reach"
    )
    far = datum_fit(s.graph, np.full(8, 113.0), np.full(8, 22.0), "wgs84", 250.0)
    assert far["verdict"] == "cannot tell"


def test_candidates_in_the_wrong_datum_are_warned_counted_and_recorded(small_city, city_study, tmp_path, capsys):
    s = city_study
    i = np.random.default_rng(5).choice(s.net.n_nodes, 30, replace=False)
    path = tmp_path / "sites.csv"  # WGS84 values (on the roads) passed as GCJ-02
    pd.DataFrame({"名称": [f"候选{k}" for k in range(30)], "经度": s.net.lon[i], "纬度": s.net.lat[i]}).to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    out = tmp_path / "o"
    base = ["site", "--circle", "fitness_15", "--k", "3", "--data-dir", str(small_city), "--no-maps", "--out", str(out)]
    assert main([*base, "--candidates", str(path), "--candidates-crs", "gcj02"]) == 0
    err = capsys.readouterr().err
    assert "candidate sites read as gcj02 fit the road network far better read as wgs84" in err
    assert "--candidates-crs wgs84" in err
    sj = json.loads((out / "fitness_15" / "siting_summary.json").read_text(encoding="utf-8"))
    assert sj["checks"]["datum"]["candidates"].startswith("suspect: candidate sites read as gcj02")
    assert list(sj["warnings"]) == ["candidates_maybe_wgs84"] and sj["warnings"]["candidates_maybe_wgs84"] >= 5
    # declared right: it fits, no warning
    assert main([*base, "--candidates", str(path), "--candidates-crs", "wgs84"]) == 0
    assert "fit the road network far better" not in capsys.readouterr().err
    sj = json.loads((out / "fitness_15" / "siting_summary.json").read_text(encoding="utf-8"))
    assert sj["checks"]["datum"]["candidates"].startswith("fits: ") and "warnings" not in sj
    # the circle's summary says what the facility check found: the synthetic facilities (GCJ-02) stand ~60-70 m
    # from the roads in every system, where a datum mistake would not show (issue 19's "cannot tell" case)
    cs = json.loads((out / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    assert cs["checks"]["datum"]["facilities"].startswith(
        "cannot tell: facilities read as gcj02 stand a median 63.0 m from the road nodes, 70.5 m read as wgs84"
    )


def test_facilities_too_few_to_tell_are_said_in_summary(small_city, city_study, tmp_path):
    s = city_study
    i = np.random.default_rng(7).choice(s.net.n_nodes, 3, replace=False)
    path = tmp_path / "fac.csv"
    pd.DataFrame({"名称": ["a", "b", "c"], "经度": s.net.lon[i], "纬度": s.net.lat[i]}).to_csv(path, index=False)
    out = tmp_path / "o"
    rc = main(
        ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--facilities", str(path)]
        + ["--facilities-crs", "wgs84", "--no-maps", "--out", str(out)]
    )
    assert rc == 0
    cs = json.loads((out / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    assert cs["checks"]["datum"]["facilities"].startswith("cannot tell: 3 facilities within reach")


def test_village_points_in_the_wrong_datum_are_warned_and_counted(city_study):
    from dgcoverage.inputs.coords import to_wgs84
    from dgcoverage.pipeline.load import _villages_datum

    s = city_study
    i = np.random.default_rng(9).choice(s.net.n_nodes, 25, replace=False)
    lon, lat = to_wgs84(s.net.lon[i], s.net.lat[i], "gcj02")  # WGS84 values read as GCJ-02
    vgdf = gpd.GeoDataFrame({"centre": gpd.points_from_xy(lon, lat, crs=4326)}, geometry=[None] * 25, crs=4326)
    record: dict = {"crs": "gcj02", "path": "v.csv"}
    counts: dict = {}
    with pytest.warns(DgCoverageWarning, match=r"v\.csv: village points read as gcj02 fit .* read as wgs84"):
        _villages_datum(vgdf, s.graph, record, counts, 250.0)
    assert counts == {"villages_maybe_wgs84": 25} and record["datum_check"].startswith("suspect: ")
    # polygons (村界) are not checked
    poly = {"crs": "gcj02", "coordinates": "polygons"}
    _villages_datum(vgdf, s.graph, poly, counts, 250.0)
    assert "datum_check" not in poly


def test_warnings_while_reading_candidates_are_counted_recorded_and_printed(small_city, city_study, tmp_path, capsys):
    """Rows dropped or sizes unread in a --candidates file were said once and then lost: now counted."""
    s = city_study
    i = np.random.default_rng(5).choice(s.net.n_nodes, 30, replace=False)
    lon, lat = s.net.lon[i].astype(object), s.net.lat[i].astype(object)
    lon[[3, 17]] = ""  # two rows without a longitude: dropped
    area = np.full(30, "800", dtype=object)
    area[[5, 6, 7]] = "不详"  # three sizes unknown
    path = tmp_path / "sites.csv"
    pd.DataFrame({"名称": [f"候选{k}" for k in range(30)], "经度": lon, "纬度": lat, "场地面积(平方米)": area}).to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    out = tmp_path / "o"
    base = ["site", "--circle", "fitness_15", "--k", "3", "--data-dir", str(small_city), "--no-maps", "--out", str(out)]
    assert main([*base, "--candidates", str(path), "--candidates-crs", "wgs84"]) == 0
    err = capsys.readouterr().err
    sj = json.loads((out / "fitness_15" / "siting_summary.json").read_text(encoding="utf-8"))
    counted = {"candidates_rows_bad_coordinates": 2, "candidates_capacity_missing": 3, "candidates_capacity_unknown": 3}
    assert sj["warnings"] == counted  # lines 5 and 19; lines 7, 8, 9 (the header is line 1)
    assert "sites.csv: 2 candidate site rows with missing, non-numeric or out-of-range coordinates dropped" in err
    assert (
        "counted warnings (siting_summary.json -> warnings): candidates_capacity_missing 3, "
        "candidates_capacity_unknown 3, candidates_rows_bad_coordinates 2" in err
    )


def test_the_config_is_parsed_once_per_command(small_city, tmp_path, monkeypatch):
    """Preflight's parse of the config is handed on to the command (it was parsed again for the run)."""
    from dgcoverage.cli import common

    calls = []
    real = common.load_config
    monkeypatch.setattr(common, "load_config", lambda path=None: calls.append(path) or real(path))
    out = tmp_path / "o"
    argv = ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--no-maps", "--out", str(out)]
    assert main(argv) == 0 and (out / "fitness_15" / "summary.json").exists()
    assert calls == [None]  # the packaged circles.toml, once (preflight), not again for circles_to_run
