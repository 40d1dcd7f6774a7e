"""Tests for dgcoverage.inputs.coords (WGS84 / GCJ-02 / BD-09 conversion).

Reference values and where they come from:

* wandergis/coordtransform (MIT), README "result" block: the four conversions
  of (116.404, 39.915).  The gcj02->wgs84 value there is the one-step
  approximation ``2 * gcj - wgs84_to_gcj02(gcj)``.
* googollee/eviltransform (MIT), python/test.py ``TESTS``: WGS84 -> GCJ-02
  for points in Shanghai, Shenzhen and Beijing.
* Alibaba Cloud address-purification API reference, TransferCoord response
  example: GCJ02 (120.026268, 30.279164) -> BD09 (120.032768, 30.285238) and
  WGS84 (120.021519, 30.281543), rounded to 6 decimals.  Its WGS84 value is
  again the one-step approximation.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from dgcoverage.errors import CRSError
from dgcoverage.inputs import coords
from dgcoverage.inputs.coords import (
    CRS_NAMES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    canonical_crs,
    convert,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    transform_geometry,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

# Dongguan's extent (degrees).
DG_LON = (113.5, 114.3)
DG_LAT = (22.6, 23.2)

README_POINT = (116.404, 39.915)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between (arrays of) points."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
        (gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
        (wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
    ],
    ids=["bd09_to_gcj02", "gcj02_to_bd09", "wgs84_to_gcj02"],
)
def test_coordtransform_readme_forward(func, expected):
    assert func(*README_POINT) == pytest.approx(expected, abs=1e-9)


def test_gcj02_to_wgs84_is_exact_inverse_near_readme_one_step_value():
    one_step = (116.39775550083061, 39.91359571849836)  # coordtransform README
    lon, lat = gcj02_to_wgs84(*README_POINT)
    assert (lon, lat) == pytest.approx(one_step, abs=1e-5)
    # ... but it is not the one-step value: it reproduces its input exactly.
    assert wgs84_to_gcj02(lon, lat) == pytest.approx(README_POINT, abs=1e-9)
    residual_one_step = metres(*wgs84_to_gcj02(*one_step), *README_POINT)
    assert residual_one_step > 0.01
    assert metres(lon, lat, *one_step) > 0.01


def test_gcj02_to_wgs84_single_iteration_is_the_one_step_formula():
    one_step = (116.39775550083061, 39.91359571849836)  # coordtransform README
    assert gcj02_to_wgs84(*README_POINT, max_iter=1) == pytest.approx(one_step, abs=1e-12)


@pytest.mark.parametrize(
    ("wgs", "gcj"),
    [
        ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
        ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
        ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ],
    ids=["shanghai", "shenzhen", "beijing"],
)
def test_eviltransform_wgs84_to_gcj02(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-9)


def test_aliyun_transfercoord_example():
    gcj = (120.026268, 30.279164)
    # Published BD09, rounded to 6 decimals.
    assert gcj02_to_bd09(*gcj) == pytest.approx((120.032768, 30.285238), abs=5.1e-7)
    # Published WGS84 is the one-step approximation (to 6 decimals) ...
    one_step = 2 * np.array(gcj) - np.array(wgs84_to_gcj02(*gcj))
    assert tuple(one_step) == pytest.approx((120.021519, 30.281543), abs=5.1e-7)
    # ... which misses by ~1.7 m; the exact inverse reproduces the input.
    wgs = gcj02_to_wgs84(*gcj)
    assert 1.0 < metres(*wgs, 120.021519, 30.281543) < 3.0
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


# --------------------------------------------------------------------------- Dongguan


def test_dongguan_shift_magnitude():
    lon, lat = 113.75, 23.02
    glon, glat = wgs84_to_gcj02(lon, lat)
    dlon, dlat = glon - lon, glat - lat
    assert 0.0049 <= dlon <= 0.0052
    assert -0.0029 <= dlat <= -0.0027
    shift_m = float(metres(lon, lat, glon, glat))
    assert 500.0 <= shift_m <= 700.0
    # BD-09 adds a further ~0.0065/0.006 deg offset on top.
    blon, blat = wgs84_to_bd09(lon, lat)
    assert 1000.0 <= float(metres(lon, lat, blon, blat)) <= 1800.0


def _dongguan_grid() -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.linspace(*DG_LON, 41), np.linspace(*DG_LAT, 31))


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trip_over_dongguan_grid(crs):
    lon, lat = _dongguan_grid()
    # WGS84 -> crs -> WGS84
    back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    assert back[0].shape == lon.shape
    assert metres(lon, lat, *back).max() < 1.0
    # crs -> WGS84 -> crs
    back = from_wgs84(*to_wgs84(lon, lat, crs), crs)
    assert metres(lon, lat, *back).max() < 1.0


def test_gcj02_round_trip_is_far_below_a_millimetre():
    lon, lat = _dongguan_grid()
    assert metres(lon, lat, *wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))).max() < 1e-3
    assert metres(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))).max() < 1e-3


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(*DG_LON, allow_nan=False),
    lat=st.floats(*DG_LAT, allow_nan=False),
    crs=st.sampled_from(["gcj02", "bd09"]),
)
def test_round_trip_property(lon, lat, crs):
    back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    assert float(metres(lon, lat, *back)) < 1.0
    back = from_wgs84(*to_wgs84(lon, lat, crs), crs)
    assert float(metres(lon, lat, *back)) < 1.0


# --------------------------------------------------------------------------- outside China


def test_outside_china_gcj02_is_identity():
    helsinki = (24.94, 60.17)
    assert wgs84_to_gcj02(*helsinki) == helsinki
    assert gcj02_to_wgs84(*helsinki) == helsinki
    assert coords.out_of_china(*helsinki) is True
    assert coords.out_of_china(113.75, 23.02) is False


def test_out_of_china_applied_per_element():
    lon = np.array([24.94, 113.75, -74.0])
    lat = np.array([60.17, 23.02, 40.7])
    glon, glat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(glon[[0, 2]], lon[[0, 2]])
    np.testing.assert_array_equal(glat[[0, 2]], lat[[0, 2]])
    assert (glon[1], glat[1]) == wgs84_to_gcj02(113.75, 23.02)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(wlon, lon, atol=1e-9)
    np.testing.assert_allclose(wlat, lat, atol=1e-9)


def test_nan_propagates():
    lon, lat = gcj02_to_wgs84(np.array([np.nan, 113.75]), np.array([23.0, 23.02]))
    assert np.isnan(lon[0]) and np.isnan(lat[0])  # half a coordinate is no location: NaN in both outputs
    assert np.isfinite(lon[1]) and np.isfinite(lat[1])
    assert all(np.isnan(v) for v in wgs84_to_bd09(np.nan, np.nan))


# --------------------------------------------------------------------------- CRS names


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("gcj", "gcj02"),
        ("AMap", "gcj02"),
        ("gaode", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("Baidu", "bd09"),
        (" bd09 ", "bd09"),
    ],
)
def test_crs_aliases(name, canonical):
    assert canonical_crs(name) == canonical
    assert canonical in CRS_NAMES


def test_crs_names():
    assert CRS_NAMES == ("wgs84", "gcj02", "bd09")


@pytest.mark.parametrize("bad", ["utm50n", "epsg:3857", "", None, 4326])
def test_unknown_crs_raises(bad):
    with pytest.raises(CRSError, match="accepted values: wgs84, gcj02, bd09"):
        to_wgs84(113.75, 23.02, bad)
    with pytest.raises(ValueError):
        from_wgs84(113.75, 23.02, bad)
    with pytest.raises(CRSError):
        transform_geometry(Point(113.75, 23.02), "wgs84", bad)


def test_dispatchers_match_named_functions():
    p = (113.75, 23.02)
    assert from_wgs84(*p, "gaode") == wgs84_to_gcj02(*p)
    assert from_wgs84(*p, "baidu") == wgs84_to_bd09(*p)
    assert from_wgs84(*p, "wgs84") == p
    assert to_wgs84(*p, "gcj02") == gcj02_to_wgs84(*p)
    assert to_wgs84(*p, "bd09") == bd09_to_wgs84(*p)
    assert to_wgs84(*p, "epsg:4326") == p
    assert convert(*p, "gcj02", "bd09") == gcj02_to_bd09(*p)
    assert convert(*p, "bd09", "gcj02") == bd09_to_gcj02(*p)
    assert convert(*p, "bd09", "wgs84") == bd09_to_wgs84(*p)


def test_bad_iteration_parameters():
    with pytest.raises(ValueError):
        gcj02_to_wgs84(113.75, 23.02, tol_deg=0.0)
    with pytest.raises(ValueError):
        bd09_to_wgs84(113.75, 23.02, max_iter=0)


# --------------------------------------------------------------------------- geometry


def test_transform_geometry_polygon_matches_point_function():
    ring = [(113.70, 22.90), (113.80, 22.90), (113.80, 23.00), (113.70, 23.00), (113.70, 22.90)]
    poly = Polygon(ring)
    out = transform_geometry(poly, "wgs84", "gcj02")
    assert out.geom_type == "Polygon"
    got = np.asarray(out.exterior.coords)
    exp_lon, exp_lat = wgs84_to_gcj02(*np.array(ring).T)
    np.testing.assert_allclose(got[:, 0], exp_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], exp_lat, rtol=0, atol=1e-12)
    # Every vertex moves by the local shift (~600 m), so the shape barely changes.
    assert out.area == pytest.approx(poly.area, rel=1e-3)
    back = transform_geometry(out, "gcj02", "wgs84")
    np.testing.assert_allclose(np.asarray(back.exterior.coords), ring, rtol=0, atol=1e-9)


def test_transform_geometry_other_types():
    pt = Point(113.75, 23.02, 12.5)
    out = transform_geometry(pt, "wgs84", "bd09")
    assert out.has_z and out.z == 12.5
    assert (out.x, out.y) == pytest.approx(wgs84_to_bd09(113.75, 23.02), abs=1e-12)
    line = LineString([(113.6, 22.7), (114.2, 23.1)])
    assert not transform_geometry(line, "bd09", "gcj02").has_z
    geoms = np.array([pt, None, Polygon()], dtype=object)
    res = transform_geometry(geoms, "gcj02", "wgs84")
    assert res[1] is None and res[2].is_empty
    assert transform_geometry(line, "GCJ-02", "gaode") is line
    assert shapely.get_num_coordinates(transform_geometry(line, "wgs84", "gcj02")) == 2


# --------------------------------------------------------------------------- types/shapes


def test_scalar_in_float_out():
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02,
                 wgs84_to_bd09, bd09_to_wgs84):  # fmt: skip
        out = func(113.75, 23.02)
        assert isinstance(out, tuple) and len(out) == 2
        assert all(type(v) is float for v in out), func.__name__
        out = func(np.float64(113.75), np.array(23.02))
        assert all(type(v) is float for v in out), func.__name__
    assert all(type(v) is float for v in to_wgs84(113.75, 23.02, "wgs84"))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3)])
def test_array_shape_preserved(shape):
    rng = np.random.default_rng(0)
    lon = rng.uniform(*DG_LON, size=shape)
    lat = rng.uniform(*DG_LAT, size=shape)
    lon0, lat0 = lon.copy(), lat.copy()
    for crs in CRS_NAMES:
        for out in (to_wgs84(lon, lat, crs), from_wgs84(lon, lat, crs)):
            assert out[0].shape == shape and out[1].shape == shape
            assert out[0].dtype == np.float64
            assert out[0] is not lon
    np.testing.assert_array_equal(lon, lon0)  # inputs untouched
    np.testing.assert_array_equal(lat, lat0)


def test_lists_and_broadcasting():
    lon, lat = wgs84_to_gcj02([113.6, 113.9, 114.2], 23.0)
    assert lon.shape == lat.shape == (3,)
    assert (lon[1], lat[1]) == wgs84_to_gcj02(113.9, 23.0)
    empty = gcj02_to_wgs84(np.array([]), np.array([]))
    assert empty[0].shape == (0,)
