"""Service areas that follow the streets, and populated gap areas.

*Service area* of a circle: the part of the road network from which a
facility is reached within the limit — every fully reached edge plus the
reachable end of every partly reached edge — widened by the walking access
leg.  It is built from the network, never as a convex hull of reached nodes.

*Gap areas*: populated 100 m cells that are beyond the limit, unreachable or
off the network, polygonised on the population grid and dissolved per
village, with their population.

All geometry work is done with vectorised shapely 2 operations in the
projected analysis CRS; results are returned/written in WGS84.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely

from .access import BEYOND_LIMIT, OFF_NETWORK, REACHED, UNREACHABLE
from .io import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from .study import CircleResult, Study

#: Segments per quarter circle for buffers (areas within 0.7 % of true circles).
QUAD_SEGS = 8
#: Vertices per arc of a tapered buffer (two arcs per piece).
ARC_POINTS = 12
#: Smallest buffer radius (m), so that pieces reached with no time to spare still show as a thin band.
MIN_RADIUS_M = 0.5


def reached_pieces(
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    node_time_s: np.ndarray,
    limit_s: float,
    speed_mps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the reached part of each directed edge.

    A traveller on edge ``u -> v`` heads for ``v`` (two-way streets are two
    directed edges, so both ends are handled).  With ``t_v`` the time from
    ``v`` to its nearest facility, the part within ``(limit - t_v) * speed``
    metres of ``v`` is reached.

    Parameters
    ----------
    x, y
        Projected node coordinates (m).
    u, v, length_m
        Directed edges (positional node indices) and their network lengths (m).
    node_time_s
        Seconds from each node to its nearest facility (``inf`` = not reached).
    limit_s
        The circle's limit in seconds.
    speed_mps
        Travel speed on the network (m/s).

    Returns
    -------
    x0, y0, x1, y1, rem0_s, rem1_s
        For each reached piece: its start (farthest reached point from ``v``)
        and end (``v``), and the seconds of budget left at each end.
    """
    t_v = node_time_s[v]
    ok = np.isfinite(t_v) & (t_v <= limit_s + 1e-9)
    u, v, L, t_v = u[ok], v[ok], length_m[ok], t_v[ok]
    rem1 = np.maximum(limit_s - t_v, 0.0)
    reach_m = np.minimum(rem1 * speed_mps, L)
    with np.errstate(invalid="ignore", divide="ignore"):
        f0 = np.where(L > 0, 1.0 - reach_m / np.where(L > 0, L, 1.0), 1.0)
    x1, y1 = x[v], y[v]
    x0 = x1 + (x[u] - x1) * (1.0 - f0)
    y0 = y1 + (y[u] - y1) * (1.0 - f0)
    rem0 = np.maximum(rem1 - reach_m / speed_mps, 0.0)
    return x0, y0, x1, y1, rem0, rem1


def service_area(
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    node_time_s: np.ndarray,
    limit_s: float,
    speed_mps: float,
    access_speed_mps: float,
    max_snap_m: float,
    access_m: float | None = None,
) -> shapely.Geometry:
    """Area reachable within the limit, following the streets (projected CRS).

    Each reached piece of road (see :func:`reached_pieces`) is widened by the
    walking access leg still affordable at each of its ends,
    ``min(remaining seconds * access speed, max_snap_m)``, varying linearly
    between its ends (the hull of the two end discs — a local tapered buffer,
    not a hull of the network; see :func:`tapered_capsules`).  Reached nodes
    that end no reached piece get a disc.
    With ``access_m`` every piece is buffered by that fixed distance instead.

    Returns
    -------
    shapely.Geometry
        (Multi)polygon in the CRS of ``x``/``y``; empty when nothing is reached.
    """
    x0, y0, x1, y1, rem0, rem1 = reached_pieces(x, y, u, v, length_m, node_time_s, limit_s, speed_mps)
    tn = node_time_s
    nodes = np.nonzero(np.isfinite(tn) & (tn <= limit_s + 1e-9))[0]
    if nodes.size == 0:
        return shapely.Polygon()
    if access_m is not None:
        r = max(float(access_m), MIN_RADIUS_M)
        lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
        lines = lines[shapely.length(lines) > 0]
        parts = [shapely.buffer(shapely.union_all(lines), r, quad_segs=QUAD_SEGS)] if lines.size else []
        parts.append(shapely.buffer(shapely.multipoints(np.column_stack([x[nodes], y[nodes]])), r, quad_segs=QUAD_SEGS))
        return shapely.union_all(parts)
    ra = np.clip(np.minimum(rem0 * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
    rb = np.clip(np.minimum(rem1 * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
    caps = tapered_capsules(x0, y0, ra, x1, y1, rb)
    lone = np.setdiff1d(nodes, v[np.isin(v, nodes)])  # reached nodes that end no reached piece (e.g. isolated)
    rn = np.clip(np.minimum((limit_s - tn[lone]) * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
    discs = tapered_capsules(x[lone], y[lone], rn, x[lone], y[lone], rn)
    return _union(np.concatenate([caps, discs]))


def _union(polys: np.ndarray) -> shapely.Geometry:
    """Union of many overlapping polygons; retried on a 1 cm grid if GEOS hits a robustness failure."""
    try:
        return shapely.union_all(polys)
    except shapely.errors.GEOSException:
        return shapely.union_all(polys, grid_size=0.01)


def tapered_capsules(
    xa: np.ndarray,
    ya: np.ndarray,
    ra: np.ndarray,
    xb: np.ndarray,
    yb: np.ndarray,
    rb: np.ndarray,
    arc_points: int = ARC_POINTS,
) -> np.ndarray:
    """Convex hulls of disc pairs ``(A, ra)``, ``(B, rb)`` as polygons, computed in closed form (vectorised).

    The boundary is the arc of ``B`` between the two outer tangent points, then
    the arc of ``A`` on the far side; when one disc holds the other it is the
    larger disc.  Every polygon has ``2 * arc_points`` vertices, so the whole
    array is built with one :func:`shapely.polygons` call.
    """
    xa, ya, ra, xb, yb, rb = (np.asarray(a, dtype=np.float64) for a in (xa, ya, ra, xb, yb, rb))
    if xa.size == 0:
        return np.empty(0, dtype=object)
    dx, dy = xb - xa, yb - ya
    d = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    nested = d <= np.abs(ra - rb) + 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.arccos(np.clip((ra - rb) / np.where(d > 0, d, 1.0), -1.0, 1.0))
    # one disc inside the other: draw the larger one as two half arcs
    big_a = nested & (ra >= rb)
    phi = np.where(nested, np.pi / 2, phi)
    cx_b, cy_b, r_b = np.where(big_a, xa, xb), np.where(big_a, ya, yb), np.where(nested, np.maximum(ra, rb), rb)
    cx_a, cy_a, r_a = (
        np.where(nested & ~big_a, xb, xa),
        np.where(nested & ~big_a, yb, ya),
        np.where(nested, np.maximum(ra, rb), ra),
    )
    t = np.linspace(0.0, 1.0, arc_points)[None, :]
    ang_b = (theta - phi)[:, None] + (2 * phi)[:, None] * t  # front arc on B
    ang_a = (theta + phi)[:, None] + (2 * np.pi - 2 * phi)[:, None] * t  # back arc on A
    # scale each arc's radius so its chords enclose the same area as the true arc (sector area ∝ r² sin(step))
    step_b, step_a = 2 * phi / (arc_points - 1), (2 * np.pi - 2 * phi) / (arc_points - 1)
    r_b = r_b * np.sqrt(np.where(step_b > 1e-9, step_b / np.sin(np.maximum(step_b, 1e-9)), 1.0))
    r_a = r_a * np.sqrt(np.where(step_a > 1e-9, step_a / np.sin(np.maximum(step_a, 1e-9)), 1.0))
    px = np.concatenate([cx_b[:, None] + r_b[:, None] * np.cos(ang_b), cx_a[:, None] + r_a[:, None] * np.cos(ang_a)], 1)
    py = np.concatenate([cy_b[:, None] + r_b[:, None] * np.sin(ang_b), cy_a[:, None] + r_a[:, None] * np.sin(ang_a)], 1)
    # the area-corrected arcs can cross where they meet: the hull of the vertices is the valid, convex result
    return shapely.convex_hull(shapely.polygons(np.stack([px, py], axis=-1)))


def circle_service_area(study: Study, result: CircleResult) -> gpd.GeoDataFrame:
    """Build a circle's service area as a one-row GeoDataFrame (WGS84) with its area in km²."""
    c = result.circle
    g = study.graph
    geom = service_area(
        g.x,
        g.y,
        study.net.u,
        study.net.v,
        study.net.length_m,
        result.node_time_s,
        c.limit_s,
        c.speed_mps,
        c.access_speed_mps,
        study.settings.max_snap_m,
    )
    area_km2 = float(shapely.area(geom)) / 1e6
    out = gpd.GeoDataFrame(
        {
            "circle": [c.id],
            "name_zh": [c.name_zh],
            "minutes": [c.minutes],
            "area_km2": [round(area_km2, 3)],
            "synthetic": [bool(result.summary.get("synthetic"))],
        },
        geometry=[geom],
        crs=g.crs,
    )
    return out.to_crs(4326)


def gap_areas(study: Study, result: CircleResult) -> gpd.GeoDataFrame:
    """Dissolve the populated cells beyond the limit (or unreachable / off network) per village.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code, name, town_code, town_name, population, population_beyond_limit,
        population_unreachable, population_off_network, cells, geometry`` (WGS84),
        one row per village with such cells (``code`` empty for cells in no
        village); sorted by population, largest first.
    """
    grid = study.grid
    row, col, _, _, _ = grid.cells()
    cls = result.cell_class
    gap = cls != REACHED
    nv = len(study.villages)
    vill = np.where(study.cell_village >= 0, study.cell_village, nv)
    label = np.zeros(grid.array.shape, dtype=np.int32)
    label[row[gap], col[gap]] = vill[gap] + 1
    cols = [
        "code",
        "name",
        "town_code",
        "town_name",
        "population",
        "population_beyond_limit",
        "population_unreachable",
        "population_off_network",
        "cells",
    ]
    if not gap.any():
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=4326)
    geoms, vals = [], []
    for geom, val in rasterio.features.shapes(label, mask=label > 0, transform=grid.transform, connectivity=4):
        geoms.append(shapely.geometry.shape(geom))
        vals.append(int(val) - 1)
    parts = gpd.GeoDataFrame({"vi": vals}, geometry=geoms, crs=grid.crs)
    dissolved = parts.dissolve("vi")
    pop = study.cell_pop

    def by(mask: np.ndarray) -> np.ndarray:
        return np.bincount(vill[mask], weights=pop[mask], minlength=nv + 1)

    tot = by(gap)
    beyond, unreach, off = by(cls == BEYOND_LIMIT), by(cls == UNREACHABLE), by(cls == OFF_NETWORK)
    ncell = np.bincount(vill[gap], minlength=nv + 1)
    vi = dissolved.index.to_numpy()
    vdf = study.villages
    inside = vi < nv
    take = np.where(inside, vi, 0)

    def attr(col_name: str) -> np.ndarray:
        return np.where(inside, vdf[col_name].astype(str).to_numpy()[take], "")

    out = gpd.GeoDataFrame(
        {
            "code": attr("code"),
            "name": np.where(inside, attr("name"), "(不在任何村/社区内 outside villages)"),
            "town_code": attr("town_code"),
            "town_name": attr("town_name"),
            "population": np.round(tot[vi], 1),
            "population_beyond_limit": np.round(beyond[vi], 1),
            "population_unreachable": np.round(unreach[vi], 1),
            "population_off_network": np.round(off[vi], 1),
            "cells": ncell[vi].astype(int),
        },
        geometry=dissolved.geometry.to_numpy(),
        crs=grid.crs,
    )
    out = out.sort_values(["population", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return out.to_crs(4326)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path, precision: float = 1e-6) -> Path:
    """Write a WGS84 GeoDataFrame as GeoJSON (coordinates on a ``precision``-degree grid), atomically."""
    path = Path(path)
    g = gdf.copy()
    if len(g):
        g = g.set_geometry(shapely.set_precision(g.geometry.to_numpy(), precision))
    with atomic_path(path) as tmp:
        tmp.write_text(g.to_json(drop_id=True, ensure_ascii=False), encoding="utf-8")
    return path


def write_areas(study: Study, result: CircleResult, out_dir: str | Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Write ``<out_dir>/<circle>/service_area.geojson`` and ``gaps.geojson``; return both layers."""
    d = Path(out_dir) / result.circle.id
    d.mkdir(parents=True, exist_ok=True)
    sa = circle_service_area(study, result)
    gp = gap_areas(study, result)
    gp_out = gp.copy()
    gp_out["synthetic"] = bool(result.summary.get("synthetic"))
    write_geojson(sa, d / "service_area.geojson")
    write_geojson(gp_out, d / "gaps.geojson")
    return sa, gp


__all__ = ["reached_pieces", "service_area", "circle_service_area", "gap_areas", "write_geojson", "write_areas"]
