"""Offline conversion between WGS84, GCJ-02 and BD-09 longitude/latitude.

Chinese web maps do not publish coordinates in WGS84:

* **GCJ-02** (国测局坐标, the "Mars" datum) is used by Gaode/AMap, Tencent and
  Google's China tiles.  It is WGS84 plus a deliberate, smooth, non-linear
  offset of a few hundred metres (about 600 m around Dongguan).
* **BD-09** (百度坐标, ``bd09ll``) is used by Baidu Maps.  It is GCJ-02 plus a
  further small rotation/scaling about a fixed offset (another ~1 km).

The forward formulas (WGS84 → GCJ-02 → BD-09) are the widely published ones
(Krasovsky ellipsoid parameters, the ``x_pi`` rotation and the 0.0065/0.006
offsets), as used by e.g. wandergis/coordtransform.  GCJ-02 has no closed-form
inverse: :func:`gcj02_to_wgs84` iterates until the forward transform reproduces
its input to ``tol_deg`` (the usual one-step ``2 * gcj - forward(gcj)`` shortcut
is off by about 2 m around Dongguan).  :func:`bd09_to_gcj02` is the standard
published one-step inverse; a BD-09 round trip is good to about 1e-6 degrees
(~0.1 m), far below the accuracy of any map data it is used with.

Outside the usual rough bounding box of China (longitude 72.004-137.8347,
latitude 0.8293-55.8271) GCJ-02 equals WGS84, decided per element.  The BD-09
step is applied everywhere, as Baidu and the reference implementations do.

Every function accepts scalars or array-likes (broadcast against each other),
in degrees, longitude first.  Scalars in give Python floats out; arrays in
give float64 arrays of the broadcast shape out.  NaN propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import CRSError

__all__ = [
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "canonical_crs",
    "convert",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Canonical names of the supported coordinate systems.
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 obfuscation.
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's rotation constant.
_X_PI = np.pi * 3000.0 / 180.0
# Rough bounding box of China outside which GCJ-02 == WGS84.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

FloatOrArray = float | npt.NDArray[np.float64]
Coords = tuple[FloatOrArray, FloatOrArray]
_FloatArray = npt.NDArray[np.float64]
_ArrayPair = tuple[_FloatArray, _FloatArray]


# --------------------------------------------------------------------------- helpers


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[_FloatArray, _FloatArray, bool]:
    """Broadcast ``lon``/``lat`` to float64 arrays; also say whether both were scalars."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    # Fresh, writable arrays: results never alias (or are read-only views of) the input.
    lon_b, lat_b = (np.array(a) for a in np.broadcast_arrays(lon_a, lat_a))
    return lon_b, lat_b, scalar


def _out(lon: _FloatArray, lat: _FloatArray, scalar: bool) -> Coords:
    """Return Python floats for scalar input, arrays otherwise.

    A point with a NaN in either coordinate is NaN in both outputs: half a
    coordinate is no location, and passing the other half through unshifted
    would put a number where there is none.
    """
    nan = np.isnan(lon) | np.isnan(lat)
    if np.any(nan):
        lon = np.where(nan, np.nan, lon)
        lat = np.where(nan, np.nan, lat)
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def out_of_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> bool | npt.NDArray[np.bool_]:
    """Tell whether points lie outside the rough bounding box of China.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees.

    Returns
    -------
    bool or numpy.ndarray of bool
        True where GCJ-02 is taken to equal WGS84 (outside longitude
        72.004-137.8347 or latitude 0.8293-55.8271, or NaN).
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    mask = _out_of_china(lon_a, lat_a)
    return bool(mask) if scalar else mask


def _out_of_china(lon: _FloatArray, lat: _FloatArray) -> npt.NDArray[np.bool_]:
    inside = (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1])
        & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )  # fmt: skip
    return ~inside


def _transform_lat(x: _FloatArray, y: _FloatArray) -> _FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: _FloatArray, y: _FloatArray) -> _FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lon: _FloatArray, lat: _FloatArray) -> _ArrayPair:
    """GCJ-02 minus WGS84 (degrees) at WGS84 point(s); zero outside China."""
    with np.errstate(invalid="ignore"):  # +-inf input: outside China, result discarded
        dlat = _transform_lat(lon - 105.0, lat - 35.0)
        dlon = _transform_lon(lon - 105.0, lat - 35.0)
        radlat = lat / 180.0 * np.pi
        magic = 1.0 - _EE * np.sin(radlat) ** 2
        sqrtmagic = np.sqrt(magic)
        dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
        dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _wgs_to_gcj(lon: _FloatArray, lat: _FloatArray) -> _ArrayPair:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_wgs(lon: _FloatArray, lat: _FloatArray, tol_deg: float, max_iter: int) -> _ArrayPair:
    # Fixed-point iteration w <- w - (f(w) - g): the offset varies so slowly
    # (|d offset / d position| ~ 1e-3) that each step gains ~3 digits.
    lon, lat = np.asarray(lon), np.asarray(lat)  # ufuncs turn 0-d arrays into scalars
    wlon, wlat = lon.copy(), lat.copy()
    active = ~_out_of_china(lon, lat)
    for _ in range(max_iter):
        if not active.any():
            break
        glon, glat = _wgs_to_gcj(wlon[active], wlat[active])
        rlon = glon - lon[active]
        rlat = glat - lat[active]
        wlon[active] -= rlon
        wlat[active] -= rlat
        done = (np.abs(rlon) <= tol_deg) & (np.abs(rlat) <= tol_deg)
        idx = np.flatnonzero(active)
        active.flat[idx[done]] = False
    return wlon, wlat


def _check_iteration(tol_deg: float, max_iter: int) -> None:
    if not tol_deg > 0:
        raise ValueError(f"tol_deg must be positive, got {tol_deg!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter!r}")


def _gcj_to_bd(lon: _FloatArray, lat: _FloatArray) -> _ArrayPair:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj(lon: _FloatArray, lat: _FloatArray) -> _ArrayPair:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


# --------------------------------------------------------------------------- public API


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """Convert WGS84 coordinates to GCJ-02 (Gaode/AMap, Tencent).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude in degrees.  Points outside China are
        returned unchanged.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_wgs_to_gcj(lon_a, lat_a), scalar)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30) -> Coords:
    """Convert GCJ-02 coordinates to WGS84 by iterating the forward transform.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; broadcast against each other.
    tol_deg : float, default 1e-10
        Stop once ``wgs84_to_gcj02`` of the estimate reproduces the input to
        within this many degrees (1e-10 deg is about 10 micrometres).
    max_iter : int, default 30
        Upper bound on iterations; typically 3-5 are needed.  Points that
        have not converged by then (possible only right at the edge of the
        China bounding box) keep their last estimate.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude in degrees.  Points outside China are
        returned unchanged.
    """
    _check_iteration(tol_deg, max_iter)
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_wgs(lon_a, lat_a, tol_deg, max_iter), scalar)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """Convert GCJ-02 coordinates to BD-09 (Baidu ``bd09ll``).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude in degrees.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_bd(lon_a, lat_a), scalar)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """Convert BD-09 (Baidu ``bd09ll``) coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude in degrees.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_bd_to_gcj(lon_a, lat_a), scalar)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Coords:
    """Convert WGS84 coordinates to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude in degrees.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_bd(*_wgs_to_gcj(lon_a, lat_a)), scalar)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30) -> Coords:
    """Convert BD-09 coordinates to WGS84 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees; broadcast against each other.
    tol_deg, max_iter
        Passed to :func:`gcj02_to_wgs84`.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude in degrees.
    """
    _check_iteration(tol_deg, max_iter)
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_wgs(*_bd_to_gcj(lon_a, lat_a), tol_deg, max_iter), scalar)


def canonical_crs(crs: str) -> str:
    """Return the canonical name (one of :data:`CRS_NAMES`) for a CRS name or alias.

    Parameters
    ----------
    crs : str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``, case-insensitive, or an alias:
        ``"epsg:4326"``/``"wgs-84"`` (WGS84); ``"gcj-02"``, ``"gcj"``, ``"amap"``,
        ``"gaode"`` (GCJ-02); ``"bd-09"``, ``"bd09ll"``, ``"baidu"`` (BD-09).

    Returns
    -------
    str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``.

    Raises
    ------
    dgcoverage.errors.CRSError
        If ``crs`` is not a recognised name.
    """
    key = crs.strip().lower() if isinstance(crs, str) else None
    if key is None or key not in _ALIASES:
        accepted = ", ".join(CRS_NAMES)
        aliases = ", ".join(k for k in _ALIASES if k not in CRS_NAMES)
        raise CRSError(
            f"unknown coordinate system {crs!r}; accepted values: {accepted} (case-insensitive; aliases: {aliases})."
        )
    return _ALIASES[key]


_TO_WGS: dict[str, Callable[..., Coords]] = {
    "wgs84": lambda lon, lat: _out(*_as_arrays(lon, lat)),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS: dict[str, Callable[..., Coords]] = {
    "wgs84": lambda lon, lat: _out(*_as_arrays(lon, lat)),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}
_DIRECT: dict[tuple[str, str], Callable[..., Coords]] = {
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
}


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> Coords:
    """Convert coordinates in ``crs`` to WGS84.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees, in ``crs``.
    crs : str
        Source system: ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` or an alias
        (see :func:`canonical_crs`).

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude in degrees.

    Raises
    ------
    dgcoverage.errors.CRSError
        If ``crs`` is not recognised.
    """
    return _TO_WGS[canonical_crs(crs)](lon, lat)


def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> Coords:
    """Convert WGS84 coordinates to ``crs``.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees.
    crs : str
        Target system: ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` or an alias
        (see :func:`canonical_crs`).

    Returns
    -------
    lon, lat : float or numpy.ndarray
        Longitude and latitude in degrees, in ``crs``.

    Raises
    ------
    dgcoverage.errors.CRSError
        If ``crs`` is not recognised.
    """
    return _FROM_WGS[canonical_crs(crs)](lon, lat)


def convert(lon: npt.ArrayLike, lat: npt.ArrayLike, src: str, dst: str) -> Coords:
    """Convert coordinates from ``src`` to ``dst``.

    GCJ-02 <-> BD-09 is done directly; every other pair goes through WGS84.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees, in ``src``.
    src, dst : str
        Source and target systems (names or aliases, see :func:`canonical_crs`).

    Returns
    -------
    lon, lat : float or numpy.ndarray
        Longitude and latitude in degrees, in ``dst``.

    Raises
    ------
    dgcoverage.errors.CRSError
        If ``src`` or ``dst`` is not recognised.
    """
    src_c, dst_c = canonical_crs(src), canonical_crs(dst)
    if src_c == dst_c:
        return _out(*_as_arrays(lon, lat))
    direct = _DIRECT.get((src_c, dst_c))
    if direct is not None:
        return direct(lon, lat)
    return _FROM_WGS[dst_c](*_TO_WGS[src_c](lon, lat))


def transform_geometry(geom: Any, src: str, dst: str) -> Any:
    """Convert every vertex of a shapely geometry from ``src`` to ``dst``.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        Geometry (or array of geometries, ``None`` allowed) with longitude as
        x and latitude as y, in degrees.  Z values, if any, are kept.
    src, dst : str
        Source and target systems (names or aliases, see :func:`canonical_crs`).

    Returns
    -------
    shapely.Geometry or numpy.ndarray of shapely.Geometry
        A new geometry of the same type and vertex count.  If ``src`` and
        ``dst`` name the same system, ``geom`` is returned as is.

    Raises
    ------
    dgcoverage.errors.CRSError
        If ``src`` or ``dst`` is not recognised.
    """
    import shapely

    src_c, dst_c = canonical_crs(src), canonical_crs(dst)
    if src_c == dst_c:
        return geom

    def _func(coords: _FloatArray) -> _FloatArray:
        out: _FloatArray = coords.copy()
        if len(out):
            out[:, 0], out[:, 1] = convert(coords[:, 0], coords[:, 1], src_c, dst_c)
        return out

    # include_z=True keeps each geometry's dimensionality (2D stays 2D).
    return shapely.transform(geom, _func, include_z=True)
