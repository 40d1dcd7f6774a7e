"""Demand cells placed in towns and villages, and the population raster checked against them.

Points go into polygons through one STRtree of the points queried by each prepared polygon; the raster's
footprint is compared with the study area and its total with the census (counted warnings).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import (
    DgCoverageWarning,
)
from .population import PopulationGrid

if TYPE_CHECKING:  # pragma: no cover
    pass


#: A population total further than this from the census total of the study's towns is warned and recorded.
CENSUS_TOLERANCE = 0.30


def people_in_towns(
    towns: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, pop: np.ndarray, crs: Any, tree: Any = None
) -> float:
    """People of the cells whose centre lies in a town polygon (``tree``: the cells' STRtree, if built)."""
    polys = towns[towns["has_polygon"]].to_crs(crs).geometry.to_numpy()
    if len(polys) == 0 or len(x) == 0:
        return 0.0
    pi, _ = points_in_polygons(polys, x, y, tree)
    return float(pop[np.unique(pi)].sum())


def points_in_polygons(
    polys: np.ndarray, x: np.ndarray, y: np.ndarray, tree: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point index, polygon index) of points inside or on the boundary of polygons.

    The tree holds the points and each polygon queries it with ``covers``, so every polygon is prepared
    once; the reverse (a tree of polygons queried by every point) tests unprepared polygons and is ~15x
    slower for town outlines with thousands of vertices.  Same pairs as ``point.intersects(polygon)``.
    ``tree`` is ``STRtree(points(x, y))`` when the caller already built it (the study's cells).
    """
    tree = shapely.STRtree(shapely.points(x, y)) if tree is None else tree
    poly_i, point_i = tree.query(polys, predicate="covers")
    return point_i, poly_i


def population_checks(
    grid: PopulationGrid, towns: gpd.GeoDataFrame, crs: Any, path: Path, counts: dict[str, int], people_in_towns: float
) -> dict[str, Any]:
    """Measure what the raster misses of the study area and how its total compares with the census."""
    from .population import share_outside

    out: dict[str, Any] = {}
    poly = towns[towns["has_polygon"]]
    if len(poly) and getattr(grid, "footprint", None) is not None:
        geoms = poly.to_crs(crs).geometry.to_numpy()
        miss = np.asarray(share_outside(grid.footprint, geoms), dtype=float)
        area = shapely.area(geoms)
        area_share = float((miss * area).sum() / area.sum()) if area.sum() > 0 else 0.0
        out["study_area_share_outside_raster"] = round(area_share, 6)
        if "census_2020" in poly:
            census = pd.to_numeric(poly["census_2020"], errors="coerce").fillna(0).to_numpy(dtype=float)
            out["census_people_in_area_outside_raster"] = int(round(float((miss * census).sum())))
        if area_share > 0.001:
            counts["population_raster_misses_area"] = 1
            worst = poly.assign(_m=miss).sort_values("_m", ascending=False).head(5)
            ex = ", ".join(f"{n} {m:.0%}" for n, m in zip(worst["town_name"], worst["_m"]) if m > 0)
            warnings.warn(
                f"{path}: the population raster does not cover {area_share:.1%} of the study area"
                + (
                    f" (≈{out['census_people_in_area_outside_raster']:,} census people if spread evenly "
                    "within each town)"
                    if "census_people_in_area_outside_raster" in out
                    else ""
                )
                + f"; towns missing most: {ex}. Villages outside it get status no_data. Fix: use a raster "
                "that covers the whole study area",
                DgCoverageWarning,
                stacklevel=4,
            )
    if "census_2020" in poly:
        census_total = float(pd.to_numeric(towns["census_2020"], errors="coerce").fillna(0).sum())
        if census_total > 0:
            ratio = people_in_towns / census_total
            out["census_2020_total_of_towns"] = int(round(census_total))
            out["ratio_to_census"] = round(ratio, 4)
            if abs(ratio - 1) > CENSUS_TOLERANCE:
                counts["population_total_far_from_census"] = 1
                warnings.warn(
                    f"{path}: the raster holds {people_in_towns:,.0f} people in the study's towns, {ratio:.0%} of "
                    f"the 2020 census total of its towns ({census_total:,.0f}); beyond ±"
                    f"{CENSUS_TOLERANCE:.0%}. Check the raster's units (people per pixel, not per km²), "
                    "its year and that it covers the whole area",
                    DgCoverageWarning,
                    stacklevel=4,
                )
    return out


def mark_outside_raster(vgdf: gpd.GeoDataFrame, grid: PopulationGrid, crs: Any, counts: dict[str, int]) -> None:
    """Villages (almost) wholly outside the raster lose their area, with the reason; partial ones are said."""
    from .population import share_outside

    if getattr(grid, "footprint", None) is None:
        return
    has = vgdf["has_area"].to_numpy()
    if not has.any():
        return
    geoms = vgdf.geometry.to_crs(crs).to_numpy()
    miss = np.zeros(len(vgdf))
    miss[has] = np.asarray(share_outside(grid.footprint, geoms[has]), dtype=float)
    vgdf["share_outside_raster"] = np.round(miss, 4)
    out = has & (miss >= 0.99)
    part = has & (miss > 0.01) & ~out
    if out.any():
        counts["villages_outside_population_raster"] = int(out.sum())
        vgdf.loc[out, "location_note"] = "outside the population raster"
        vgdf.loc[out, "has_area"] = False
        warnings.warn(
            f"{int(out.sum())} villages lie outside the population raster (e.g. "
            f"{vgdf.loc[out, 'name'].head(5).tolist()}): status no_data",
            DgCoverageWarning,
            stacklevel=3,
        )
    if part.any():
        counts["villages_partly_outside_population_raster"] = int(part.sum())
        warnings.warn(
            f"{int(part.sum())} villages lie partly outside the population raster (e.g. "
            f"{vgdf.loc[part, 'name'].head(5).tolist()}); their figures count only the people inside it "
            "(share_outside_raster in villages.csv)",
            DgCoverageWarning,
            stacklevel=3,
        )


def assign_points(
    vgdf: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, crs: Any, tree: Any = None
) -> tuple[np.ndarray, int]:
    """Village index of each projected point (``-1`` if in none); points in several villages take the first."""
    polys = vgdf.geometry.to_crs(crs).to_numpy()
    valid = np.array([p is not None and not p.is_empty for p in polys])
    idx = np.nonzero(valid)[0]
    pi, gi = points_in_polygons(polys[valid], x, y, tree)
    out = np.full(len(x), -1, dtype=np.int64)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = idx[gi[first]]
    return out, int((~first).sum())
