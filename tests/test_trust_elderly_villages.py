"""Property (issue 19, part 6, continued): elderly rasters and village tables under the damage invariant.

"Refused (a :class:`~dgcoverage.errors.DgCoverageError` naming the file), or the same figures, or a counted
warning, and then no verdict rests on the doubted figure (``unknown``)": never a silently changed figure.

1. **Elderly rasters** in the wrong units or scale (shares instead of counts, per-km² densities, thousands),
   with their fill value declared in other ways (-9999, NaN, 0, undeclared), in another CRS, on a coarser grid,
   all zero, or with more older people than people.  The people aged 60+ per town must equal the clean
   raster's (``share`` x the town's people; resampling within the spill tolerance), or the load is refused, or
   a counted warning doubts the figure and every supply verdict of the elderly circle is ``unknown``.
2. **Village tables** (``--villages``): points or polygons, with duplicate codes, missing town codes, in
   another datum, lon/lat swapped, codes written as numbers (``4.41900003001E+11``, ``441900003001.0``).  The
   villages' people and statuses must equal the clean table's, or the load is refused, or a counted warning says
   what was repaired.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dgcoverage.errors import DgCoverageError, DgCoverageWarning
from dgcoverage.inputs.config import Settings, load_config
from dgcoverage.pipeline.doubt import DOUBTS
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from .test_damage_properties import _n

HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
PROJECT = Settings(default_point_crs="gcj02")  # the demo's tables are GCJ-02 (as in test_damage_properties)
CID = "elderly_care_15"  # beds per 1,000 people aged 60+: every verdict rests on the elderly figure


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    return out, [str(w.message) for w in caught if issubclass(w.category, DgCoverageWarning)]


class Eld:
    """The study's people per town and the elderly circle's facilities (not a dataclass: hypothesis prints it)."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out, self.k = root, out, 0
        self.circle = load_config()[0][CID]
        with rasterio.open(root / "population_100m.tif") as src:
            self.profile, self.people = src.profile, src.read(1).astype("float64")
        ref, _ = _quiet(load_study, data_dir=root, settings=PROJECT, elderly=self.write(self.people, "ones"))
        self.town_people = dict(zip(ref.towns["town_code"], ref.towns["elderly_raster"]))  # 1 x the people
        self.fac, _ = _quiet(load_facilities, ref, self.circle, root / "facilities" / f"{CID}_gcj02.csv")

    def __repr__(self) -> str:
        return f"Eld({self.root})"

    def write(self, data: np.ndarray, stem: str, **profile) -> Path:
        self.k += 1
        path = self.out / f"{stem}{self.k}.tif"
        prof = {**self.profile, "dtype": "float32", **profile}
        with rasterio.open(path, "w", **prof) as dst:
            dst.write(data.astype("float32"), 1)
        return path


@pytest.fixture(scope="module")
def eld(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Eld:
    return Eld(small_city, tmp_path_factory.mktemp("e19"))


def _reprojected(e: Eld, data: np.ndarray, crs: str, res: float | None) -> Path:
    """``data`` (people per cell) on another grid: EPSG:4326 at WorldPop's 3" or the same CRS at ``res`` m (sum)."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src_t, src_crs = e.profile["transform"], e.profile["crs"]
    h0, w0 = data.shape
    west, south, east, north = rasterio.transform.array_bounds(h0, w0, src_t)
    t, w, h = calculate_default_transform(src_crs, crs, w0, h0, west, south, east, north, resolution=res)
    out = np.zeros((h, w))
    reproject(data, out, src_transform=src_t, src_crs=src_crs, dst_transform=t, dst_crs=crs,
              resampling=Resampling.sum)  # fmt: skip
    return e.write(out, "grid", crs=crs, transform=t, width=w, height=h, nodata=-1)


#: Damage to an elderly raster of ``share`` x the people per cell: name -> what is written.
ELDERLY_OPS = (
    "clean",
    "shares",  # the share aged 60+ in every populated cell, not the count
    "per_km2",  # people aged 60+ per km² (a 100 m cell is 0.01 km²)
    "thousands",  # in thousands of people
    "nodata_-9999",  # empty cells -9999, declared
    "nodata_nan",  # empty cells NaN, declared
    "nodata_zero",  # nodata = 0 declared
    "nodata_undeclared",  # empty cells -9999, no nodata in the file
    "epsg4326",  # reprojected to WGS84 degrees on WorldPop's 3" grid (sum resampling)
    "coarse_200m",  # summed onto a 200 m grid
    "all_zero",
    "more_than_people",  # 2.5 x the people
    "people_as_elderly",  # the population raster passed as the elderly raster
    "no_crs",  # the file declares no CRS
    "top_half",  # the raster covers the northern half of the area only
)


def _elderly_raster(e: Eld, op: str, share: float) -> Path:
    pop = e.people
    data = np.where(pop > 0, pop * share, 0.0)
    if op == "shares":
        return e.write(np.where(pop > 0, share, 0.0), op)
    if op == "per_km2":
        return e.write(data / 0.01, op)
    if op == "thousands":
        return e.write(data / 1000.0, op)
    if op == "nodata_-9999":
        return e.write(np.where(pop > 0, data, -9999.0), op, nodata=-9999)
    if op == "nodata_nan":
        return e.write(np.where(pop > 0, data, np.nan), op, nodata=float("nan"))
    if op == "nodata_zero":
        return e.write(data, op, nodata=0)
    if op == "nodata_undeclared":
        return e.write(np.where(pop > 0, data, -9999.0), op, nodata=None)
    if op == "epsg4326":
        return _reprojected(e, data, "EPSG:4326", 1 / 1200)
    if op == "coarse_200m":
        return _reprojected(e, data, str(e.profile["crs"]), 200.0)
    if op == "all_zero":
        return e.write(np.zeros_like(data), op)
    if op == "more_than_people":
        return e.write(pop * 2.5, op)
    if op == "people_as_elderly":
        return e.write(pop, op)
    if op == "no_crs":
        return e.write(data, op, crs=None)
    if op == "top_half":
        h = data.shape[0] // 2
        return e.write(data[:h], op, height=h)
    return e.write(data, op)


def _verdicts(res) -> list[str]:
    col = next(c for c in res.towns.columns if str(c).split(" ")[0] == "supply_status")
    return res.towns[col].astype(str).tolist()


def _damage_elderly(e: Eld, op: str, share: float) -> str:
    path = _elderly_raster(e, op, share)
    try:
        study, said = _quiet(load_study, data_dir=e.root, settings=PROJECT, elderly=path)
    except DgCoverageError as exc:
        msg = str(exc)
        named = str(path) in msg and "elderly" in msg.replace(str(path), "")
        assert named, f"{op}: refused without naming the file and the elderly raster: {msg}"
        assert "Fix:" in msg or "fix" in msg.lower(), f"{op}: refused without the fix: {msg}"
        return "refused"
    got = dict(zip(study.towns["town_code"], study.towns["elderly_raster"]))
    same = all(
        math.isclose(got[c], share * p, rel_tol=0.02, abs_tol=50.0) for c, p in e.town_people.items() if c in got
    )
    res, _ = _quiet(run_circle, study, e.circle, e.fac)
    if same:
        return "same"
    doubted = [k for k in study.warnings if k in DOUBTS and study.warnings[k] > 0]
    want = {c: round(share * p) for c, p in e.town_people.items()}
    assert doubted, (
        f"{op}: the people aged 60+ per town changed without a doubting warning: "
        f"{ {c: round(v) for c, v in got.items()} } instead of {want}; counted: {study.warnings}; said: {said}"
    )
    decided = [v for v in _verdicts(res) if v in ("pass", "fail")]
    assert not decided, f"{op}: a doubted elderly figure still gets verdicts {decided} ({doubted})"
    return "warned"


#: The cases that must end in a given way (hand-checked): the same figures, refused or doubted.
ELDERLY_EXAMPLES = (
    ({"op": "clean", "share": 0.12}, "same"),
    ({"op": "nodata_-9999", "share": 0.12}, "same"),
    ({"op": "nodata_nan", "share": 0.12}, "same"),
    ({"op": "nodata_zero", "share": 0.12}, "same"),
    ({"op": "epsg4326", "share": 0.12}, "same"),
    ({"op": "coarse_200m", "share": 0.12}, "same"),
    ({"op": "per_km2", "share": 0.12}, "refused"),
    ({"op": "more_than_people", "share": 0.12}, "refused"),
    ({"op": "shares", "share": 0.12}, "warned"),
    ({"op": "thousands", "share": 0.12}, "warned"),
    ({"op": "all_zero", "share": 0.12}, "refused"),
    ({"op": "people_as_elderly", "share": 0.12}, "warned"),
    ({"op": "no_crs", "share": 0.12}, "refused"),
    ({"op": "top_half", "share": 0.12}, "warned"),
    ({"op": "nodata_undeclared", "share": 0.12}, "same"),
)


@given(op=st.sampled_from(ELDERLY_OPS), share=st.floats(0.05, 0.35))
@settings(max_examples=_n(8), deadline=None, suppress_health_check=HEALTH, derandomize=True)
@example(op="nodata_undeclared", share=0.12)
@example(op="shares", share=0.3)
def test_damaged_elderly_raster_is_refused_same_or_doubted(eld, op, share):
    event(_damage_elderly(eld, op, share))


@pytest.mark.parametrize("kw, outcome", ELDERLY_EXAMPLES, ids=[k["op"] for k, _ in ELDERLY_EXAMPLES])
def test_the_elderly_examples_end_as_described(eld, kw, outcome):
    assert _damage_elderly(eld, **kw) == outcome


# ============================================================ 2. village tables


class Vil:
    """The clean village points and the clean run of a residents' circle (fitness_15)."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out, self.k = root, out, 0
        self.circle = load_config()[0]["fitness_15"]
        self.points = pd.read_csv(root / "village_points_gcj02.csv", dtype=str, encoding="utf-8-sig")
        study, _ = _quiet(load_study, data_dir=root, settings=PROJECT)
        self.fac, _ = _quiet(load_facilities, study, self.circle, root / "facilities" / "fitness_15_gcj02.csv")
        self.areas = study.villages  # the points' areas (WGS84), for the polygon files
        self.clean = _village_figures(_quiet(run_circle, study, self.circle, self.fac)[0])

    def __repr__(self) -> str:
        return f"Vil({self.root})"

    def path(self, suffix: str) -> Path:
        self.k += 1
        return self.out / f"villages{self.k}{suffix}"


@pytest.fixture(scope="module")
def vil(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Vil:
    return Vil(small_city, tmp_path_factory.mktemp("villages19"))


def _village_figures(res) -> dict[str, tuple]:
    v = res.villages
    return {
        str(c): (round(float(p), 3), str(s))
        for c, p, s in zip(v["code"], v["population"], v["status"])
        if str(s) != "no_data" or float(p) > 0
    }


#: Damage to a village table: name -> what is written (points CSV unless said).
VILLAGE_OPS = (
    "clean",
    "code_float",  # 441900003001.0: a spreadsheet's number
    "code_scientific",  # 4.41900003001E+11: a spreadsheet's rounded number
    "code_short",  # 3001: the code as a number without the town's part and its leading zeros
    "dup_same_place",  # one row twice
    "dup_other_place",  # one code at two places
    "no_town_column",  # no 镇街 column (the code says the town)
    "town_blank",  # some 镇街 cells empty
    "swapped",  # 经度 and 纬度 swapped
    "town_wrong",  # one row's 镇街 names the other town
    "name_only",  # no code column: matched by town + name
    "metres",  # coordinates in metres (EPSG:3857) under 经度/纬度
    "wgs84_declared",  # GCJ-02 values declared WGS84
    "polygons",  # the points' areas as 村界 polygons (GeoJSON, WGS84)
    "polygons_3857",  # the same polygons in EPSG:3857 (the file declares it)
    "polygons_dup_code",  # two polygons with one code
)


def _polygon_file(v: Vil, op: str, r: int) -> Path:
    """The points' areas as 村界 polygons (GeoJSON in WGS84, or GeoPackage in EPSG:3857), damaged as ``op`` says."""
    import geopandas as gpd

    g = gpd.GeoDataFrame(
        {"code": v.areas["code"].astype(str), "name": v.areas["full_name"].astype(str)},
        geometry=v.areas.geometry.to_numpy(),
        crs=4326,
    )
    g = g[g.geometry.notna()].reset_index(drop=True)
    if op == "polygons_3857":
        g = g.to_crs(3857)
    if op == "polygons_dup_code":
        g.loc[(r + 1) % len(g), "code"] = g.loc[r % len(g), "code"]
    path = v.path(".gpkg" if op == "polygons_3857" else ".geojson")
    g.to_file(path)
    return path


def _village_file(v: Vil, op: str, row: int) -> tuple[Path, str | None]:
    """The damaged file and the --villages-crs it is passed with."""
    t = v.points.copy()
    r = row % len(t)
    if op.startswith("polygons"):
        return _polygon_file(v, op, r), None
    crs: str | None = "gcj02"
    if op == "code_float":
        t["代码"] = t["代码"] + ".0"
    elif op == "code_scientific":
        t["代码"] = [f"{float(c):.11E}" for c in t["代码"]]
    elif op == "code_short":
        t["代码"] = [str(int(c[6:])) for c in t["代码"]]
    elif op == "dup_same_place":
        t = pd.concat([t, t.iloc[[r]]], ignore_index=True)
    elif op == "dup_other_place":
        t.loc[(r + 1) % len(t), "代码"] = t.loc[r, "代码"]
    elif op == "no_town_column":
        t = t.drop(columns="镇街")
    elif op == "town_blank":
        t.loc[r, "镇街"] = ""
    elif op == "town_wrong":
        other = sorted(set(t["镇街"]) - {t.loc[r, "镇街"]})
        t.loc[r, "镇街"] = other[0]
    elif op == "name_only":
        t = t.drop(columns="代码")
    elif op == "metres":
        from pyproj import Transformer

        x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(
            t["经度"].astype(float).to_numpy(), t["纬度"].astype(float).to_numpy()
        )
        t["经度"], t["纬度"] = [f"{a:.1f}" for a in x], [f"{b:.1f}" for b in y]
    elif op == "swapped":
        t = t.rename(columns={"经度": "纬度", "纬度": "经度"})
    elif op == "wgs84_declared":
        crs = "wgs84"
    path = v.path(".csv")
    t.to_csv(path, index=False, encoding="utf-8-sig")
    return path, crs


def _damage_villages(v: Vil, op: str, row: int) -> str:
    path, crs = _village_file(v, op, row)
    try:
        study, said = _quiet(load_study, data_dir=v.root, settings=PROJECT, villages=path, villages_crs=crs)
    except DgCoverageError as exc:
        msg = str(exc)
        assert str(path) in msg and "Fix:" in msg, f"{op}: refused without the file or the fix: {msg}"
        return "refused"
    res, run_said = _quiet(run_circle, study, v.circle, v.fac)
    got = _village_figures(res)
    if got == v.clean:
        return "same"
    changed = sorted(c for c in set(got) | set(v.clean) if got.get(c) != v.clean.get(c))
    counted = {k: n for k, n in study.warnings.items() if n and k.startswith("village")}
    check = study.inputs["villages"].get("datum_check", "")
    if op == "wgs84_declared" and not counted:
        # the user's word (--villages-crs) against the roads: these points stand ~50-70 m from the nearest road
        # node in every system, where a ~500 m datum mistake does not show; summary.json -> checks.datum.villages
        # says so plainly (and the CLI prints it): the one case the datum check cannot settle
        assert check.startswith("cannot tell: village points read as wgs84"), check
        return "cannot tell"
    assert counted, (
        f"{op}: {len(changed)} villages changed without a counted warning, e.g. "
        f"{[(c, v.clean.get(c), got.get(c)) for c in changed[:3]]}; counted: {study.warnings}; said: {said}"
    )
    return "warned"


VILLAGE_EXAMPLES = (
    ({"op": "clean", "row": 0}, "same"),
    ({"op": "code_float", "row": 0}, "same"),
    ({"op": "code_scientific", "row": 0}, "refused"),
    ({"op": "code_short", "row": 0}, "refused"),
    ({"op": "dup_same_place", "row": 3}, "same"),  # counted (village_rows_duplicate), the figures unchanged
    ({"op": "dup_other_place", "row": 3}, "refused"),
    ({"op": "no_town_column", "row": 0}, "same"),
    ({"op": "town_blank", "row": 3}, "same"),
    ({"op": "swapped", "row": 0}, "same"),  # the columns are told apart by their values
    ({"op": "name_only", "row": 0}, "same"),
    ({"op": "metres", "row": 0}, "refused"),
    ({"op": "polygons", "row": 0}, "same"),
    ({"op": "polygons_3857", "row": 0}, "same"),
    ({"op": "polygons_dup_code", "row": 0}, "refused"),
)


@given(op=st.sampled_from(VILLAGE_OPS), row=st.integers(0, 40))
@settings(max_examples=_n(10), deadline=None, suppress_health_check=HEALTH, derandomize=True)
@example(op="wgs84_declared", row=0)
def test_damaged_village_table_is_refused_same_or_said(vil, op, row):
    event(_damage_villages(vil, op, row))


@pytest.mark.parametrize("kw, outcome", VILLAGE_EXAMPLES, ids=[k["op"] for k, _ in VILLAGE_EXAMPLES])
def test_the_village_examples_end_as_described(vil, kw, outcome):
    assert _damage_villages(vil, **kw) == outcome
