"""End to end: the CLI on a small generated city, and the real-data paths on the same city."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

from dgcoverage.cli.main import main
from dgcoverage.core.roadnet import load_network
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.coords import from_wgs84, to_wgs84
from dgcoverage.inputs.embedded import DemoPaths
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

REPO = Path(__file__).resolve().parents[1]
SMALL_POP = 597_192 + 173_957  # 2020 census: 东城街道 + 莞城街道


def _read(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"  # UTF-8 BOM for Excel
    df = pd.read_csv(path, encoding="utf-8-sig", dtype={"code 代码": str, "town_code 镇街代码": str})
    df.columns = [c.split(" ")[0] for c in df.columns]
    return df


@pytest.fixture(scope="module")
def cli_run(small_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    assert main(["run", "--all", "--data-dir", str(small_city), "--out", str(out)]) == 0
    return out


def test_cli_all_circles(cli_run):
    circles, _ = load_config()
    for cid in circles:
        d = cli_run / cid
        v = _read(d / "villages.csv")
        t = _read(d / "towns.csv")
        s = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        assert len(v) == 34 and set(v["town_code"]) == {"441900003", "441900006"}
        assert v["population"].sum() == pytest.approx(SMALL_POP)
        assert set(v["status"]) <= {"covered", "partial", "gap", "unreachable", "no_data"}
        assert v["synthetic"].all() and s["synthetic"] is True and "SYNTHETIC" in s["note"]
        city = t.set_index("town_code").loc["441900"]
        assert city["population"] == pytest.approx(SMALL_POP)
        assert city["covered_population"] == pytest.approx(s["results"]["covered_population"])
        assert 0 < s["results"]["covered_share"] < 1, cid  # neither all nor nothing
        # covered share in the table equals covered/population per village
        ok = v["population"] > 0
        # people are written as whole numbers and shares with 6 decimals
        pop, cov = v.loc[ok, "population"], v.loc[ok, "covered_population"]
        assert (np.abs(v.loc[ok, "covered_share"] - cov / pop) <= 1e-6 + 1.0 / pop).all()
        curve = s["coverage_curve"]["population_share"]
        assert curve == sorted(curve) and curve[int(s["circle"]["minutes"])] == pytest.approx(
            s["results"]["covered_share"], abs=1e-6
        )
        assert s["inputs"]["network"]["sha256"] and s["sizes"]["nodes"] > 1000
    eld = json.loads((cli_run / "elderly_care_15" / "summary.json").read_text(encoding="utf-8"))
    assert "policy_every_village" in eld and eld["policy_every_village"]["villages_with_data"] == 34


def test_more_minutes_never_lower_coverage(small_city, tmp_path):
    out = tmp_path / "o"
    assert (
        main(["run", "--circle", "fitness_15", "--minutes", "30", "--data-dir", str(small_city), "--out", str(out)])
        == 0
    )
    s30 = json.loads((out / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    assert s30["circle"]["minutes"] == 30
    s15 = s30["coverage_curve"]["population_share"][15]
    assert s30["results"]["covered_share"] >= s15


def _osm_xml_from_network(net, path: Path) -> None:
    """Write a network as OSM XML (one two-node footway per edge pair)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lo, la) in enumerate(zip(net.lon, net.lat)):
        lines.append(f'<node id="{i + 1}" version="1" lat="{la:.8f}" lon="{lo:.8f}"/>')
    pairs = {(min(a, b), max(a, b)) for a, b in zip(net.u.tolist(), net.v.tolist())}
    for k, (a, b) in enumerate(sorted(pairs)):
        lines.append(
            f'<way id="{k + 1}" version="1"><nd ref="{a + 1}"/><nd ref="{b + 1}"/><tag k="highway" v="footway"/></way>'
        )
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")


def test_real_data_paths_agree_with_embedded(small_city, tmp_path):
    """Same city through the user-file loaders: OSM XML network, BD-09 facilities, WGS84 raster, village polygons."""
    circles, settings = load_config()
    circle = circles["culture_sports_10"]
    base = load_study(data_dir=small_city, settings=settings)
    fac = load_facilities(base, circle, data_dir=small_city)
    ref = run_circle(base, circle, fac)
    paths = DemoPaths(small_city)
    # network as .osm XML
    osm = tmp_path / "city.osm"
    _osm_xml_from_network(load_network(paths.network), osm)
    # facilities re-expressed in BD-09 (Baidu) with English headers
    g = pd.read_csv(paths.facilities(circle.id), encoding="utf-8-sig")
    wlon, wlat = to_wgs84(g["经度"].to_numpy(), g["纬度"].to_numpy(), "gcj02")
    blon, blat = from_wgs84(wlon, wlat, "bd09")
    fcsv = tmp_path / "fac_bd09.csv"
    pd.DataFrame({"name": g["名称"], "lng": blon, "lat": blat}).to_csv(fcsv, index=False)
    # population raster warped to WGS84 (people conserved by the loader)
    wtif = tmp_path / "pop_wgs84.tif"
    with rasterio.open(paths.population) as src:
        tr, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        dens = src.read(1)
        out = np.zeros((h, w), dtype="float32")
        reproject(
            dens,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=tr,
            dst_crs="EPSG:4326",
            resampling=Resampling.nearest,
        )
        with rasterio.open(
            wtif, "w", driver="GTiff", height=h, width=w, count=1, dtype="float32", crs="EPSG:4326", transform=tr
        ) as dst:
            dst.write(out, 1)
    # village polygons as GeoJSON (official 村界 stand-in), WGS84
    vgj = tmp_path / "villages.geojson"
    gpd.GeoDataFrame(
        {"code": base.villages["code"], "name": base.villages["name"]}, geometry=base.villages.geometry, crs=4326
    ).to_file(vgj, driver="GeoJSON")
    study = load_study(osm, wtif, vgj, villages_crs="wgs84", data_dir=small_city, settings=settings)
    assert study.net.n_nodes == base.net.n_nodes and study.net.n_edges == base.net.n_edges
    assert study.cell_pop.sum() == pytest.approx(float(out.sum()), rel=1e-6)  # the loader conserves the file's people
    f2 = load_facilities(study, circle, fcsv, "bd09")
    assert not f2.attrs["synthetic"] and len(f2) == len(fac)
    np.testing.assert_allclose(f2.geometry.x, fac.geometry.x, atol=2e-6)
    res = run_circle(study, circle, f2)
    # the raster went through two resamplings, so shares agree closely but not exactly
    assert res.summary["results"]["covered_share"] == pytest.approx(ref.summary["results"]["covered_share"], abs=0.02)
    assert res.summary["inputs"]["facilities"]["crs"] == "bd09"


def test_facilities_from_osm_file_through_pipeline(small_city, tmp_path):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    osm = tmp_path / "pois.osm"
    lon, lat = float(np.median(study.net.lon)), float(np.median(study.net.lat))
    osm.write_text(
        f'<?xml version="1.0"?><osm version="0.6"><node id="1" version="1" lat="{lat}" lon="{lon}">'
        '<tag k="amenity" v="library"/><tag k="name" v="&lt;b&gt;图书馆"/></node>'
        f'<node id="2" version="1" lat="{lat + 0.01}" lon="{lon}"><tag k="name" v="东城文化广场"/></node>'
        f'<node id="3" version="1" lat="{lat}" lon="{lon + 0.01}"><tag k="shop" v="bakery"/></node></osm>',
        encoding="utf-8",
    )
    fac = load_facilities(study, circles["culture_sports_10"], osm)
    assert sorted(fac["facility_id"]) == ["node/1", "node/2"] and not fac.attrs["synthetic"]
    res = run_circle(study, circles["culture_sports_10"], fac)
    assert res.summary["synthetic"] is True  # roads and people are still the synthetic ones
    assert 0 < res.summary["results"]["covered_share"] < 0.5


def test_bad_inputs_give_clear_errors(small_city, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("名称,经度,纬度\n", encoding="utf-8")
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--facilities",
            str(empty),
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2 and "empty.csv" in capsys.readouterr().err
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--population",
            str(tmp_path / "nope.tif"),
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path / "out"),  # tests write only into temporary folders, never the checkout's data/processed
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "nope.tif" in err and "not found" in err
    far = tmp_path / "far.csv"
    far.write_text("name,lon,lat\nA,24.94,60.17\n", encoding="utf-8")  # Helsinki
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--facilities",
            str(far),
            "--facilities-crs",
            "wgs84",
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2 and "no fitness_15 facilities" in capsys.readouterr().err
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--facilities",
            str(far),
            "--facilities-crs",
            "utm50",
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2 and "unknown coordinate system" in capsys.readouterr().err
    assert not (tmp_path / "fitness_15").exists()  # nothing half-written


def test_module_and_script_entry_points(small_city, tmp_path):
    r = subprocess.run([sys.executable, "-m", "dgcoverage", "--help"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "build-demo" in r.stdout
    r = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "legal_aid_30min.py"),
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path),
            "--mode",
            "walk",
            "--speed",
            "4",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "legal_aid_30" / "summary.json").read_text(encoding="utf-8"))
    assert s["circle"]["mode"] == "walk" and s["circle"]["speed_kmh"] == 4.0
