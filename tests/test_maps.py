"""Service areas, gap areas, offline maps (checked in headless Chromium) and the town report."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from dgcoverage.compute.access import REACHED
from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.areas import gap_areas, service_area, tapered_capsules, write_areas
from dgcoverage.outputs.maps import write_maps
from dgcoverage.outputs.report import write_report
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._browser import chromium_base

ARTIFACTS = Path(__file__).parent / "artifacts"
EVIL = "<img src=x onerror=alert(1)>"
EVIL2 = "<img src=y onerror=document.body.setAttribute('data-pwned','1')>"


# ---------------------------------------------------------------- service area geometry


def _line_graph(L: float):
    x = np.array([0.0, L, 2 * L])
    y = np.zeros(3)
    u = np.array([0, 1, 1, 2])
    v = np.array([1, 0, 2, 1])
    return x, y, u, v, np.full(4, L)


def test_service_area_is_a_stadium_along_the_street():
    L, r, speed = 400.0, 60.0, 1.0
    x, y, u, v, length = _line_graph(L)
    t = np.array([0.0, L, 2 * L]) / speed  # facility at node 0
    limit = 1.5 * L / speed  # reaches halfway along the second edge
    geom = service_area(x, y, u, v, length, t, limit, speed, 1.0, 500.0, access_m=r)
    expected = 2 * r * 1.5 * L + np.pi * r**2
    assert geom.area == pytest.approx(expected, rel=0.01)
    assert geom.bounds == pytest.approx((-r, -r, 1.5 * L + r, r), abs=0.5)
    assert not geom.contains(Point(1.5 * L + r + 5, 0)) and geom.contains(Point(1.5 * L, r - 1))


def test_service_area_default_buffer_is_the_access_leg():
    """Budget to spare everywhere: every piece is widened by max_snap_m -> a stadium over the whole line."""
    L, cap = 400.0, 50.0
    x, y, u, v, length = _line_graph(L)
    t = np.array([0.0, L, 2 * L])
    geom = service_area(x, y, u, v, length, t, 10 * L, 1.0, 1.0, cap)
    assert geom.area == pytest.approx(2 * cap * 2 * L + np.pi * cap**2, rel=0.01)
    # with nothing to spare the buffer tapers to the tip: area strictly smaller than the constant stadium
    tight = service_area(x, y, u, v, length, t, 1.5 * L, 1.0, 1.0, cap)
    assert tight.area < 2 * cap * 1.5 * L + np.pi * cap**2
    assert tight.bounds[2] == pytest.approx(1.5 * L, abs=1.0)  # nothing left to walk at the cut point


def test_tapered_capsules_match_hull_of_discs():
    rng = np.random.default_rng(3)
    xa, ya, xb, yb = rng.uniform(0, 100, (4, 300))
    ra, rb = rng.uniform(0.5, 60, (2, 300))
    got = tapered_capsules(xa, ya, ra, xb, yb, rb)
    ref = shapely.convex_hull(
        shapely.union(
            shapely.buffer(shapely.points(xa, ya), ra, quad_segs=128),
            shapely.buffer(shapely.points(xb, yb), rb, quad_segs=128),
        )
    )
    np.testing.assert_allclose(shapely.area(got), shapely.area(ref), rtol=0.01)
    assert shapely.is_valid(got).all()


# ---------------------------------------------------------------- a small city run with a malicious facility


@pytest.fixture(scope="module")
def city(small_city, tmp_path_factory):
    circles, settings = load_config()
    circle = circles["fitness_15"]
    study = load_study(data_dir=small_city, settings=settings)
    fac = load_facilities(study, circle, data_dir=small_city)
    p0 = fac.geometry.iloc[0]
    evil = gpd.GeoDataFrame(
        {
            "facility_id": ["evil-1", "evil-2"],
            "name": [EVIL, EVIL2],
            "kind": ["x", "y"],
            "source": ["<script>alert(2)</script>.csv"] * 2,
        },
        geometry=[Point(p0.x + 0.001, p0.y), Point(p0.x, p0.y + 0.001)],
        crs=4326,
    )
    fac = gpd.GeoDataFrame(gpd.pd.concat([evil, fac], ignore_index=True), crs=4326)
    study.villages.loc[0, "name"] = "<b onmouseover=alert(3)>村"
    res = run_circle(study, circle, fac)
    out = tmp_path_factory.mktemp("maps_out")
    sa, gp = write_areas(study, res, out)
    maps = write_maps(study, [res], {circle.id: (sa, gp)}, out / "maps")
    write_report([res], out)
    return study, res, sa, gp, out, maps


def test_gap_population_equals_beyond_limit_population(city):
    study, res, sa, gp, out, _ = city
    beyond = float(study.cell_pop[res.cell_class != REACHED].sum())
    assert beyond > 0
    assert gp["population"].sum() == pytest.approx(beyond, rel=1e-6)
    assert set(gp["code"]) - {""} <= set(study.villages["code"])
    on_disk = gpd.read_file(out / "fitness_15" / "gaps.geojson")
    assert len(on_disk) == len(gp) and on_disk.crs.to_epsg() == 4326
    assert on_disk["population"].sum() == pytest.approx(beyond, rel=1e-4)
    # gap cells are outside the service area, reached cells mostly inside it
    sa_p = gpd.GeoSeries(sa.geometry, crs=4326).to_crs(study.graph.crs).iloc[0]
    gap_p = gp.to_crs(study.graph.crs).union_all()
    reached = res.cell_class == REACHED
    inside = shapely.contains_xy(sa_p, study.cell_x[reached], study.cell_y[reached])
    assert inside.mean() > 0.9
    assert (out / "fitness_15" / "service_area.geojson").exists() and sa_p.area < gap_p.area * 100


def test_gap_areas_follow_the_grid(city):
    study, res, _, gp, _, _ = city
    cell = float(abs(study.grid.transform.a))
    area = gp.to_crs(study.graph.crs).area.sum()
    n_cells = int((res.cell_class != REACHED).sum())
    assert area == pytest.approx(n_cells * cell * cell, rel=1e-6)
    assert gap_areas(study, res)["cells"].sum() == n_cells


def test_map_html_escapes_user_strings_and_is_offline(city):
    *_, maps = city
    page = maps[0].read_text(encoding="utf-8")
    for raw in (EVIL, EVIL2, "<script>alert(2)</script>", "<b onmouseover=alert(3)>"):
        assert raw not in page
    assert html.escape(EVIL) in page
    assert "SYNTHETIC" in page and "合成数据" in page
    # no CDN: every src/href is inline or relative; tile URLs only appear as optional layer templates
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", page)
    for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "fontawesome"):
        assert cdn not in page
    assert len(page) < 15e6
    idx = (maps[0].parent / "index.html").read_text(encoding="utf-8")
    assert "镇街人口覆盖率" in idx and EVIL not in idx


# ---------------------------------------------------------------- headless Chromium


def _run_chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = [
        *chromium_base(tmp_path),
        "--virtual-time-budget=5000",
        # block every network request: all assets must be in the file
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300)


def test_map_in_headless_chromium(city, tmp_path):
    study, res, sa, gp, out, maps = city
    page = maps[0]
    r = _run_chromium(["--dump-dom", page.resolve().as_uri() + "#dg-open"], tmp_path)
    dom = r.stdout
    assert "leaflet-container" in dom, r.stderr[-2000:]
    m = re.search(r'<div id="dg-counts"[^>]*>', dom)
    assert m, "map script did not run"
    attrs = dict(re.findall(r'data-([a-z_0-9]+)="([^"]*)"', m.group(0)))
    assert attrs["ready"] == "1" and attrs["opened"] == "1" and attrs["crs"] == "wgs84"
    assert int(attrs["villages"]) == int(study.villages["has_area"].sum())
    assert int(attrs["facilities"]) == len(res.facilities)
    assert int(attrs["gaps"]) == len(gp) and int(attrs["service"]) == 1
    assert dom.count("<path") >= int(attrs["villages"])  # hidden layers (gap areas) are drawn when first shown
    # the malicious names are shown as text in tooltips/popups and ran nothing
    assert html.escape(EVIL, quote=False) in dom
    assert html.escape(EVIL2, quote=False) in dom
    assert not re.search(r"<body[^>]*data-pwned", dom)
    assert not re.search(r"<img[^>]*onerror", dom)
    assert 'src="x"' not in dom and 'src="y"' not in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "map_small_city_fitness_15.png"
    shot.unlink(missing_ok=True)
    _run_chromium([f"--screenshot={shot}", "--window-size=1200,900", page.resolve().as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    idx = _run_chromium(["--dump-dom", (page.parent / "index.html").resolve().as_uri()], tmp_path).stdout
    m = re.search(r'<div id="dg-counts"[^>]*>', idx)
    assert (
        m
        and 'data-ready="1"' in m.group(0)
        and f'data-towns_fitness_15="{int(study.towns["has_polygon"].sum())}"' in m.group(0)
    )


def test_gcj02_switch_matches_python(city, tmp_path):
    """Choosing the Gaode base layer redraws overlays in GCJ-02 with the same formula as dgcoverage.inputs.coords."""
    from dgcoverage.inputs.coords import from_wgs84

    *_, maps = city
    probe = tmp_path / "probe.html"
    src = maps[0].read_text(encoding="utf-8")
    hook = (
        "<script>window.addEventListener('load',function(){var g=window.dgWgs2Gcj(113.75,23.02);"
        "document.body.setAttribute('data-gcj',g[0].toFixed(8)+','+g[1].toFixed(8));});</script></body>"
    )
    probe.write_text(src.replace("</body>", hook), encoding="utf-8")
    dom = _run_chromium(["--dump-dom", probe.resolve().as_uri()], tmp_path).stdout
    m = re.search(r'data-gcj="([0-9.]+),([0-9.]+)"', dom)
    assert m, "GCJ-02 helper missing"
    lon, lat = from_wgs84(113.75, 23.02, "gcj02")
    assert float(m.group(1)) == pytest.approx(lon, abs=1e-7) and float(m.group(2)) == pytest.approx(lat, abs=1e-7)
    assert json.loads(json.dumps([lon, lat]))


def test_candidates_layer_in_browser(city, tmp_path):
    """Ranked sites from `dgcoverage site` show as their own layer, escaped, with the right count."""
    from dgcoverage.outputs.maps import circle_map_html, read_candidates

    study, res, sa, gp, out, _ = city
    cdir = out / res.circle.id
    lon, lat = study.net.lon[:3], study.net.lat[:3]
    pd.DataFrame(
        {
            "rank 排名": [1, 2, 3],
            "site_id 候选点编号": ["a", "b", "c"],
            "lon 经度(WGS84)": lon,
            "lat 纬度(WGS84)": lat,
            "lon_gcj02 经度(GCJ-02高德)": lon + 0.005,
            "lat_gcj02 纬度(GCJ-02高德)": lat - 0.003,
            "town_name 镇街": [EVIL, "东城街道", "莞城街道"],
            "new_population 新增覆盖人口": [300.0, 200.0, 100.0],
            "cum_covered_share 累计覆盖率": [0.5, 0.6, 0.65],
        }
    ).to_csv(cdir / "candidates.csv", index=False, encoding="utf-8-sig")
    cands = read_candidates(out, res.circle.id)
    assert list(cands["rank"]) == ["1", "2", "3"]
    page = tmp_path / "cand.html"
    page.write_text(circle_map_html(study, res, sa, gp, cands), encoding="utf-8")
    assert EVIL not in page.read_text(encoding="utf-8")
    dom = _run_chromium(["--dump-dom", page.resolve().as_uri()], tmp_path).stdout
    m = re.search(r'<div id="dg-counts"[^>]*>', dom)
    assert m and 'data-candidates="3"' in m.group(0) and 'data-ready="1"' in m.group(0)
    (cdir / "candidates.csv").unlink()
