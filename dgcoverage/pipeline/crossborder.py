"""Facilities across the region's border: read within the circle's reach and used, unless the circle is bound.

People near a border use the park or care centre across it, so a circle's facilities are read within its reach
of the region's towns (minutes x speed; at least the ~2 km pad of the study's bounds) and the ones outside every
town count like the others. A circle whose service is bound to the jurisdiction (``bound_to_region = true`` in
circles.toml: legal aid, whose 法律援助 is given by the county's own office) keeps only the facilities inside the
region's towns; the others are dropped and counted. ``summary.json`` → ``results.cross_border`` says how many
facilities lie outside and how many people of the region's villages are covered only thanks to them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..compute.access import REACHED, classify_points, point_times, times_at_speed
from ..errors import DgCoverageWarning
from ..inputs.config import Circle
from .study import Study

#: Metres per degree of latitude (the reach is turned into a padding of the bounds in degrees).
M_PER_DEG = 111_320.0


def facility_bounds(study: Study, circle: Circle) -> tuple[float, float, float, float]:
    """Return the WGS84 bounds a circle's facilities are read within.

    The study's padded bounds; for a circle not bound to its region, grown to the towns' bounds plus the
    circle's reach (minutes x speed), so a facility across the border that people inside can reach is read.
    """
    b = study.bounds_wgs84
    if circle.bound_to_region:
        return b
    t = study.towns[study.towns["has_polygon"]].total_bounds
    reach = float(circle.minutes) * float(circle.speed_kmh) * 1000.0 / 60.0
    dlat = reach / M_PER_DEG
    dlon = reach / (M_PER_DEG * max(0.05, math.cos(math.radians(max(abs(t[1]), abs(t[3]))))))
    return (min(b[0], t[0] - dlon), min(b[1], t[1] - dlat), max(b[2], t[2] + dlon), max(b[3], t[3] + dlat))


def outside_region(study: Study, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Tell which points (WGS84) lie in none of the region's towns (a point on a border is inside)."""
    towns = study.towns[study.towns["has_polygon"]]
    if not len(lon) or not len(towns):
        return np.zeros(len(lon), dtype=bool)
    area = towns.geometry.union_all()
    return ~shapely.intersects_xy(area, np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def keep_to_region(study: Study, circle: Circle, facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the facilities outside the region's towns when the circle is bound to its region (counted, warned)."""
    if not circle.bound_to_region or not len(facilities):
        return facilities
    out = outside_region(study, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    if not out.any():
        return facilities
    kept = facilities[~out].reset_index(drop=True)
    kept.attrs = {**facilities.attrs, "warnings": dict(facilities.attrs.get("warnings", {}))}
    kept.attrs["warnings"]["facilities_outside_region_dropped"] = int(out.sum())
    warnings.warn(
        f"{circle.id}: {int(out.sum())} facilities lie outside the region's towns and are not used: the circle is "
        "bound to its region (bound_to_region = true in circles.toml; set it false to use them)",
        DgCoverageWarning,
        stacklevel=3,
    )
    return kept


def cross_border(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    cell_cls: np.ndarray,
) -> dict[str, Any]:
    """Return ``results.cross_border``: the facilities outside the region and the people covered only by them.

    ``people_covered_only_by_outside`` counts the people of the region's villages within the limit of a facility
    outside the towns and of none inside (one more network search, made only when such facilities are used).
    """
    out = outside_region(study, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    dropped = int(facilities.attrs.get("warnings", {}).get("facilities_outside_region_dropped", 0))
    record: dict[str, Any] = {
        "bound_to_region": bool(circle.bound_to_region),
        "facilities_outside_region_used": int(out.sum()),
        "facilities_outside_region_dropped": dropped,
        "people_covered_only_by_outside": 0.0,
    }
    if not out.any():
        return record
    g = study.graph
    a_mps = circle.access_speed_mps
    keep = ~out
    only = (cell_cls == REACHED) & (study.cell_village >= 0)
    if (fnode[keep] >= 0).any():  # else no facility inside is on the network: every covered person is theirs
        node_t = times_at_speed(g, fnode[keep], fdist[keep] / a_mps, circle.limit_s, circle.speed_mps)
        cell_t = point_times(node_t, study.cell_node, study.cell_snap_m / a_mps)
        only &= classify_points(g, study.cell_node, cell_t, circle.limit_s, fnode[keep]) != REACHED
    record["people_covered_only_by_outside"] = round(float(study.cell_pop[only].sum()), 1)
    return record
