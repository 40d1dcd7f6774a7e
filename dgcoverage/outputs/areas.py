"""Service areas that follow the streets, and populated gap areas.

*Service area* of a circle: the part of the road network from which a
facility is reached within the limit — every fully reached edge plus the
reachable end of every partly reached edge — widened by the walking access
leg.  It is built from the network, never as a convex hull of reached nodes.
Each reached piece is widened by the access leg still affordable at its two
ends (the hull of two discs); the area is the union of these polygons.

How the union is drawn (:func:`service_area`):

* ``method="raster"`` (the default, used by :func:`circle_service_area` and
  :func:`write_areas`): the boundary of the union is traced on a grid of
  :data:`~dgcoverage.compute.reach.CELL_M` = 30 m (finer, at most 1/16 of the largest buffer, when the
  buffers are small; coarser only beyond :data:`~dgcoverage.compute.reach.MAX_GRID_NODES`).  Time and
  memory grow with the grid and the boundary, not with the number of pieces:
  about 0.6 s a circle for the full demo and 1-2 s at ``build-demo --scale 3``
  (550,000 nodes), against 13-27 s and 110-190 s / 3-5 GB for the exact union.
* ``method="exact"``: the vector union of every piece's polygon, each drawn
  with ``arc_points`` (12) points per arc; the reference, kept for checks.

**Tolerance of the raster method.**  Every boundary vertex is put on the exact
boundary, where it crosses a grid edge (to within millimetres, at most about
0.2 m where a third piece shapes the corner); between vertices (at most 1.42
cells apart) the boundary is straight, so a convex arc of radius r is cut by at
most cell² / (4 r): 0.45 m for r = 500 m, 2.3 m for r = 100 m.  Features
narrower than a cell may be lost or filled: gaps and holes between buffers
smaller than a cell, and slivers such as the 1 m wide tips of streets reached
with no time to spare (a piece's polygon that sticks out of another that holds
the rest by at most 1 mm, or 0.5 m at such a tip, is dropped).  Measured
agreement (area intersection over union) with the exact method: 0.988-0.999
on the four demo circles (at scale 1 and 3) and 0.978-0.999 on small
hand-drawn graphs; most of the difference is the exact method's own 12-point
arcs, which stick out up to 0.7 % of a radius: against the same definition
drawn with 48-point arcs the raster area scores 0.999 on two demo circles and >= 0.998
on the hand-drawn graphs.  The output is deterministic (same input, same
geometry and bytes).

*Gap areas*: populated 100 m cells that are beyond the limit, unreachable or
off the network, polygonised on the population grid and dissolved per
village, with their population.

All geometry work is done in the projected analysis CRS; results are
returned/written in WGS84.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from rasterio.transform import Affine

from ..compute.access import BEYOND_LIMIT, OFF_NETWORK, REACHED, UNREACHABLE
from ..compute.reach import MIN_RADIUS_M, Capsules, Field, capsules, crossings, inside_mask, reached_pieces, score_field
from ..core.io import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline.study import CircleResult, Study

#: Segments per quarter circle for buffers (areas within 0.7 % of true circles).
QUAD_SEGS = 8
#: Vertices per arc of a tapered buffer (two arcs per piece).
ARC_POINTS = 12


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
    method: str = "raster",
    cell_m: float | None = None,
    arc_points: int = ARC_POINTS,
) -> shapely.Geometry:
    """Area reachable within the limit, following the streets (projected CRS).

    Each reached piece of road (see :func:`reached_pieces`) is widened by the
    walking access leg still affordable at each of its ends,
    ``min(remaining seconds * access speed, max_snap_m)``, varying linearly
    between its ends (the hull of the two end discs — a local tapered buffer,
    not a hull of the network; see :func:`tapered_capsules`).  Reached nodes
    that end no reached piece get a disc.
    With ``access_m`` every piece is buffered by that fixed distance instead.

    Parameters
    ----------
    x, y, u, v, length_m, node_time_s, limit_s, speed_mps
        As for :func:`reached_pieces`.
    access_speed_mps, max_snap_m
        Walking speed of the access leg and its longest allowed length (m).
    access_m
        Fixed buffer distance (m) instead of the affordable access leg.
    method
        ``"raster"`` (default): the boundary of the same union traced on a
        grid of ``cell_m`` (see the module docstring for its tolerance), in
        time and memory that grow with the grid and the boundary, not with the
        number of pieces.  ``"exact"``: the vector union of every piece's
        polygon (the reference; slow and memory-hungry on city-size networks).
    cell_m
        Grid spacing (m) of the raster method; default :data:`~dgcoverage.compute.reach.CELL_M`, finer
        when the buffers are small (at most 1/16 of the largest radius).
    arc_points
        Vertices per arc of each piece's polygon in the exact method.

    Returns
    -------
    shapely.Geometry
        (Multi)polygon in the CRS of ``x``/``y``; empty when nothing is reached.
    """
    if method == "exact":
        return _service_area_exact(
            x, y, u, v, length_m, node_time_s, limit_s, speed_mps, access_speed_mps, max_snap_m, access_m, arc_points
        )
    if method != "raster":
        raise ValueError(f"unknown service area method {method!r} (raster or exact)")
    caps = capsules(x, y, u, v, length_m, node_time_s, limit_s, speed_mps, access_speed_mps, max_snap_m, access_m)
    if caps is None:
        return shapely.Polygon()
    return _raster_area(caps, cell_m)


def _service_area_exact(
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
    access_m: float | None,
    arc_points: int = ARC_POINTS,
) -> shapely.Geometry:
    """Build the service area as the vector union of every piece's polygon (the reference definition)."""
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
    caps = tapered_capsules(x0, y0, ra, x1, y1, rb, arc_points)
    lone = np.setdiff1d(nodes, v[np.isin(v, nodes)])  # reached nodes that end no reached piece (e.g. isolated)
    rn = np.clip(np.minimum((limit_s - tn[lone]) * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
    discs = tapered_capsules(x[lone], y[lone], rn, x[lone], y[lone], rn, arc_points)
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


def _raster_area(caps: Capsules, cell_m: float | None) -> shapely.Geometry:
    """Trace the union of the capsules on a grid (see :mod:`dgcoverage.compute.reach`)."""
    return _contour(score_field(caps, cell_m), caps)


def _contour(field: Field, caps: Capsules) -> shapely.Geometry:
    """Polygonise the inside nodes and move every vertex to the boundary's crossing of its grid edge.

    GDAL traces the outline of the inside nodes (as pixels) along pixel edges; each unit pixel edge
    separates an inside node from an outside neighbour, i.e. it stands for the grid edge between them.
    The vertex put on that grid edge is where the score is zero, so the rings keep GDAL's topology
    (4-connected, holes included) but follow the true boundary.
    """
    mask = inside_mask(field)
    polys: list[list[np.ndarray]] = []
    shapes = rasterio.features.shapes(mask.astype(np.uint8), mask=mask, connectivity=4, transform=Affine.identity())
    for geom, _ in shapes:
        polys.append([np.asarray(r, dtype=np.float64) for r in geom["coordinates"]])
    if not polys:
        return shapely.Polygon()
    rings = iter(crossings(field, caps, [r for p in polys for r in p]))
    out = []
    for p in polys:
        shell = next(rings)
        out.append(shapely.Polygon(shell, [next(rings) for _ in p[1:]]))
    return out[0] if len(out) == 1 else shapely.MultiPolygon(out)


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
        rings = geom["coordinates"]
        geoms.append(shapely.Polygon(rings[0], rings[1:]))
        vals.append(int(val) - 1)
    # one (multi)polygon per village: GDAL already merged edge-adjacent cells of a village, so its parts
    # meet at corners at most and need no union
    order = np.argsort(np.asarray(vals), kind="stable")
    vi, first = np.unique(np.asarray(vals)[order], return_index=True)
    groups = np.split(np.asarray(geoms, dtype=object)[order], first[1:])
    dissolved = [g[0] if len(g) == 1 else shapely.MultiPolygon(list(g)) for g in groups]
    pop = study.cell_pop

    def by(mask: np.ndarray) -> np.ndarray:
        return np.bincount(vill[mask], weights=pop[mask], minlength=nv + 1)

    tot = by(gap)
    beyond, unreach, off = by(cls == BEYOND_LIMIT), by(cls == UNREACHABLE), by(cls == OFF_NETWORK)
    ncell = np.bincount(vill[gap], minlength=nv + 1)
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
        geometry=dissolved,
        crs=grid.crs,
    )
    out = out.sort_values(["population", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return out.to_crs(4326)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path, precision: float = 1e-6) -> Path:
    """Write a WGS84 GeoDataFrame as GeoJSON (coordinates on a ``precision``-degree grid), atomically.

    Coordinates are rounded point by point; a geometry that rounding would make invalid is snapped with
    its topology kept instead.  Properties are written in column order, NaN as ``null``.
    """
    path = Path(path)
    geoms = gdf.geometry.to_numpy()
    if len(geoms):
        rounded = shapely.set_precision(geoms, precision, mode="pointwise")
        bad = np.nonzero(~shapely.is_valid(rounded) & ~shapely.is_missing(rounded))[0]
        rounded[bad] = shapely.set_precision(geoms[bad], precision)
        geoms = rounded
    records = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).to_dict(orient="records")
    feats = [
        '{"type": "Feature", "properties": '
        + json.dumps({k: None if isinstance(x, float) and x != x else x for k, x in rec.items()}, ensure_ascii=False)
        + ', "geometry": '
        + (shapely.to_geojson(g) if g is not None else "null")
        + "}"
        for rec, g in zip(records, geoms)
    ]
    with atomic_path(path) as tmp:
        tmp.write_text('{"type": "FeatureCollection", "features": [' + ", ".join(feats) + "]}", encoding="utf-8")
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
