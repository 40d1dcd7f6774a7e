"""Input-quality checks and provenance that need the network: GCJ-02 suspicion, components, versions.

Numbers only; the pipeline puts them into ``summary.json`` (``warnings``,
``components``, ``versions``) and ``facilities.csv``.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from ..compute.access import AccessGraph, nodes_reaching_facility, project_lonlat, snap_points

#: Packages whose versions can change results; recorded in every summary.json.
VERSIONED_PACKAGES = (
    "dgcoverage",
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "rasterio",
    "osmnx",
    "osmium",
    "networkx",
)

#: GCJ-02 suspicion thresholds (see :func:`gcj02_suspicion`).
GCJ02_MIN_FACILITIES = 5
GCJ02_MIN_BEFORE_M = 15.0
GCJ02_MAX_RATIO = 0.5


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the results (``None`` when not installed)."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def gcj02_suspicion(graph: AccessGraph, lon: np.ndarray, lat: np.ndarray, max_snap_m: float) -> dict[str, Any] | None:
    """Tell whether coordinates declared WGS84 look like GCJ-02 (Gaode/Tencent) ones.

    Telling the two apart from the points alone is impossible in general: the
    GCJ-02 offset in Dongguan is a smooth shift of roughly 500-600 m, and a
    shifted city looks like a city.  What *can* be seen is the fit to an
    independent WGS84 layer, the road network: if the facilities sit on or
    near roads, shifting them by the GCJ-02 -> WGS84 correction brings them
    much closer to the network nodes.

    The heuristic: with at least ``GCJ02_MIN_FACILITIES`` facilities snapped
    both before and after the correction, the median snap distance before is
    at least ``GCJ02_MIN_BEFORE_M`` metres and falls to at most
    ``GCJ02_MAX_RATIO`` of itself after it.  It is only a warning (the
    coordinates are never changed): it fires reliably when facilities are
    digitised on the road network (OSM-like data, nodes), and may stay silent
    for building-level points in a dense street grid, where any 600 m shift
    lands about as close to some node.  A silent check proves nothing.

    Parameters
    ----------
    graph
        The access graph (projected nodes, KD-tree).
    lon, lat
        Facility coordinates as read, treated as WGS84.
    max_snap_m
        Snap distance limit.

    Returns
    -------
    dict or None
        ``{"median_snap_m", "median_snap_if_gcj02_m", "facilities_compared", "suspect"}``,
        or ``None`` when too few facilities can be compared.
    """
    from .coords import gcj02_to_wgs84

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.size < GCJ02_MIN_FACILITIES:
        return None
    d0 = _snap_distances(graph, lon, lat, max_snap_m)
    fit = _median_fit(d0, _snap_distances(graph, *gcj02_to_wgs84(lon, lat), max_snap_m))
    if fit is None:
        return None
    before, after, n = fit
    return {
        "median_snap_m": round(before, 1),
        "median_snap_if_gcj02_m": round(after, 1),
        "facilities_compared": n,
        "suspect": _suspect(before, after),
    }


def _snap_distances(graph: AccessGraph, lon: np.ndarray, lat: np.ndarray, radius_m: float) -> np.ndarray:
    """Distance (m) from each WGS84 point to its nearest node, ``inf`` beyond ``radius_m``."""
    x, y = project_lonlat(lon, lat, graph.crs)
    return snap_points(graph, x, y, radius_m)[1]


def _median_fit(d0: np.ndarray, d1: np.ndarray) -> tuple[float, float, int] | None:
    """Median snap distance as used and as the alternative, over points snapped both ways (``None``: too few)."""
    both = np.isfinite(d0) & np.isfinite(d1)
    if int(both.sum()) < GCJ02_MIN_FACILITIES:
        return None
    return float(np.median(d0[both])), float(np.median(d1[both])), int(both.sum())


def _suspect(before: float, after: float) -> bool:
    """Apply the rule of both checks: far from the roads as used, at most half as far in another system."""
    return bool(before >= GCJ02_MIN_BEFORE_M and after <= GCJ02_MAX_RATIO * before)


def datum_suspicion(
    graph: AccessGraph, lon: np.ndarray, lat: np.ndarray, declared: str, max_snap_m: float
) -> dict[str, Any] | None:
    """Tell whether facilities read in one coordinate system fit the roads far better in another.

    The generalisation of :func:`gcj02_suspicion` to every system a table can
    be read in: the points as used (WGS84 after the conversion from
    ``declared``) are compared with the same file values read as each other
    system (``wgs84``, ``gcj02``, ``bd09``).  An alternative is suspect when the
    median snap distance as used is at least ``GCJ02_MIN_BEFORE_M`` and the
    alternative's is at most ``GCJ02_MAX_RATIO`` of it.  One-sided like its
    model: silence proves nothing.

    Parameters
    ----------
    graph
        The access graph.
    lon, lat
        Facility coordinates as used (WGS84).
    declared
        The system they were read in (canonical name).
    max_snap_m
        Snap distance limit (distances are compared up to at least 3 km).

    Returns
    -------
    dict or None
        ``median_snap_m``, ``best_alternative``, ``median_snap_if_alternative_m``,
        ``facilities_compared`` and ``suspect``, or ``None`` when too few
        facilities can be compared.
    """
    from .coords import from_wgs84, to_wgs84

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.size < GCJ02_MIN_FACILITIES:
        return None
    raw_lon, raw_lat = from_wgs84(lon, lat, declared)  # the values in the file
    radius = max(max_snap_m, 3000.0)  # BD-09 is up to ~1 km from WGS84: compare beyond the snap limit
    d0 = _snap_distances(graph, lon, lat, radius)
    best = None
    for alt in ("wgs84", "gcj02", "bd09"):
        if alt == declared:
            continue
        fit = _median_fit(d0, _snap_distances(graph, *to_wgs84(raw_lon, raw_lat, alt), radius))
        if fit is not None and (best is None or fit[1] < best[2]):
            best = (alt, *fit)
    if best is None:
        return None
    alt, before, after, n = best
    return {
        "read_as": declared,
        "median_snap_m": round(before, 1),
        "best_alternative": alt,
        "median_snap_if_alternative_m": round(after, 1),
        "facilities_compared": n,
        "suspect": _suspect(before, after),
    }


def facility_report(
    graph: AccessGraph, node_id: np.ndarray, fnode: np.ndarray, fdist: np.ndarray, village_code: np.ndarray
) -> pd.DataFrame:
    """Per facility (same row order as the input): snap, node, network component and village.

    ``component`` is the weakly connected component of the facility's node
    (``-1`` when off network); ``component_nodes`` its size.  Demand on a
    component with no facility is "unreachable", not a "gap" (and so is demand
    that one-way streets keep from every facility of its component, see
    :func:`component_summary`).
    """
    comp = graph.component
    sizes = np.bincount(comp)
    on = np.asarray(fnode) >= 0
    safe = np.where(on, fnode, 0)
    fc = np.where(on, comp[safe], -1).astype(np.int64)
    return pd.DataFrame(
        {
            "on_network": on,
            "snap_m": np.where(on, np.round(np.where(on, fdist, 0.0), 1), np.nan),
            "node_id": np.where(on, np.asarray(node_id)[safe], -1).astype(np.int64),
            "component": fc,
            "component_nodes": np.where(on, sizes[np.where(on, fc, 0)], 0).astype(np.int64),
            "village_code": np.asarray(village_code, dtype=object),
        }
    )


def component_summary(
    graph: AccessGraph, fnode: np.ndarray, cell_node: np.ndarray, cell_pop: np.ndarray
) -> dict[str, Any]:
    """Components of the network: how many, which hold facilities, how many people live on the others.

    Components are weakly connected (direction ignored).  Along directed edges
    fewer people may reach a facility: one-way streets can lead only away from
    every facility of a component.  The ``*_cannot_reach_facility`` keys count
    them (:func:`dgcoverage.compute.access.nodes_reaching_facility`); their population
    equals the ``unreachable`` population of the circle.

    Parameters
    ----------
    graph
        The access graph.
    fnode
        Node per facility (``-1`` = off network).
    cell_node, cell_pop
        Node (``-1`` = off network) and population per demand cell.

    Returns
    -------
    dict
        ``count``, ``with_facility``, ``facilities_by_component``,
        ``population_on_components_without_facility``,
        ``components_without_facility_with_people`` (weak components);
        ``nodes_cannot_reach_facility``, ``population_cannot_reach_facility``
        (on-network people who cannot reach any facility along directed edges)
        and ``population_cannot_reach_facility_one_way`` (those of them on a
        component that has a facility: cut off by one-way streets only).
    """
    fnode = np.asarray(fnode, dtype=np.int64)
    cell_node = np.asarray(cell_node, dtype=np.int64)
    cell_pop = np.asarray(cell_pop, dtype=np.float64)
    comp = graph.component
    n = int(comp.max()) + 1
    fc = comp[fnode[fnode >= 0]]
    served = np.zeros(n, dtype=bool)
    served[fc] = True
    on = cell_node >= 0
    cc = comp[cell_node[on]]
    pop_by = np.bincount(cc, weights=cell_pop[on], minlength=n)
    counts = np.bincount(fc, minlength=n)
    reach = nodes_reaching_facility(graph, fnode)
    stuck = ~reach[cell_node[on]]
    pop_on = cell_pop[on]
    return {
        "count": n,
        "with_facility": int(served.sum()),
        "facilities_by_component": {str(int(c)): int(counts[c]) for c in np.nonzero(counts)[0]},
        "population_on_components_without_facility": round(float(pop_by[~served].sum()), 1),
        "components_without_facility_with_people": int(((pop_by > 0) & ~served).sum()),
        "nodes_cannot_reach_facility": int((~reach).sum()),
        "population_cannot_reach_facility": round(float(pop_on[stuck].sum()), 1),
        "population_cannot_reach_facility_one_way": round(float(pop_on[stuck & served[cc]].sum()), 1),
    }


def facility_table(facilities: pd.DataFrame) -> pd.DataFrame:
    """Build the ``facilities.csv`` table: fixed 7-decimal coordinates, rows sorted by id (byte-stable)."""
    geom = facilities.geometry
    out = pd.DataFrame(
        {
            c: facilities[c].astype(str).to_numpy() if c in facilities else ""
            for c in ("facility_id", "name", "kind", "address")
        }
    )
    out["lon"] = [f"{v:.7f}" for v in geom.x.to_numpy()]
    out["lat"] = [f"{v:.7f}" for v in geom.y.to_numpy()]
    for c in ("on_network", "snap_m", "node_id", "component", "component_nodes", "village_code"):
        if c in facilities:
            out[c] = facilities[c].to_numpy()
    return out.sort_values(["facility_id", "name", "lon", "lat"], kind="stable").reset_index(drop=True)


#: The datum check tells only when the points stand this close to the roads read as the best system; farther, a
#: ~500 m datum shift lands about as near some road (a dense street grid) and it cannot tell.
DATUM_FIT_MAX_M = 60.0


def datum_fit(
    graph: AccessGraph, lon: np.ndarray, lat: np.ndarray, declared: str, max_snap_m: float, what: str = "points"
) -> dict[str, Any]:
    """Compare points read in ``declared`` with the same file values read in every other system, both ways.

    Like :func:`datum_suspicion` (WGS84 is checked against GCJ-02 and BD-09 as well as the Chinese systems
    against the others), but it always gives a verdict, said in ``text`` for ``summary.json``
    (``checks.datum``):

    * ``"suspect"``: the declared system fits the roads clearly worse than another (the median distance to
      the nearest road node as read is at least 15 m and another system's is at most half of it): warn and
      count it;
    * ``"fits"``: the declared system fits clearly best (every other system's median is at least twice its
      own, which is at most :data:`DATUM_FIT_MAX_M`);
    * ``"cannot tell"``: too few points, or they stand so far from the roads (~70 m: building entrances in a
      dense grid) that a datum shift lands about as near some road.

    Parameters
    ----------
    graph
        The access graph.
    lon, lat
        The points as used (WGS84, after the conversion from ``declared``).
    declared
        The system they were read in (``wgs84``, ``gcj02``, ``bd09``).
    max_snap_m
        Snap distance limit (distances are compared up to at least 3 km).
    what
        How the text names the points (``"candidate sites"``).

    Returns
    -------
    dict
        ``read_as``, ``verdict``, ``text``, ``points``; with enough points also ``median_snap_m``,
        ``median_snap_if_m`` (system -> median), ``best_alternative`` and ``points_compared``.
    """
    from .coords import from_wgs84, to_wgs84

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    out: dict[str, Any] = {"read_as": declared, "points": int(lon.size)}
    few = (
        f"cannot tell: {lon.size} {what} within reach of the roads, fewer than the {GCJ02_MIN_FACILITIES} needed "
        f"to compare {declared} with the other systems; check a few of them on a map"
    )
    if lon.size < GCJ02_MIN_FACILITIES:
        return {**out, "verdict": "cannot tell", "text": few}
    raw_lon, raw_lat = from_wgs84(lon, lat, declared)
    radius = max(max_snap_m, 3000.0)
    d0 = _snap_distances(graph, lon, lat, radius)
    alts = {
        alt: _snap_distances(graph, *to_wgs84(raw_lon, raw_lat, alt), radius)
        for alt in ("wgs84", "gcj02", "bd09")
        if alt != declared
    }
    both = np.isfinite(d0) & np.logical_and.reduce([np.isfinite(d) for d in alts.values()])
    if int(both.sum()) < GCJ02_MIN_FACILITIES:
        return {**out, "verdict": "cannot tell", "text": few.replace(f"{lon.size} {what}", f"{int(both.sum())} {what}")}
    before = float(np.median(d0[both]))
    medians = {alt: round(float(np.median(d[both])), 1) for alt, d in alts.items()}
    best = min(medians, key=lambda a: medians[a])
    out.update(
        median_snap_m=round(before, 1), median_snap_if_m=medians, best_alternative=best, points_compared=int(both.sum())
    )
    others = ", ".join(f"{m:g} m read as {a}" for a, m in medians.items())
    if _suspect(before, medians[best]):
        text = (
            f"suspect: {what} read as {declared} stand a median {before:.1f} m from the road nodes, {others}: "
            f"they fit the roads far better read as {best}"
        )
        return {**out, "verdict": "suspect", "text": text}
    if before <= DATUM_FIT_MAX_M and all(m >= 2 * before for m in medians.values()):
        return {**out, "verdict": "fits", "text": f"fits: {what} read as {declared} stand a median {before:.1f} m "
                f"from the road nodes, {others}"}  # fmt: skip
    return {
        **out,
        "verdict": "cannot tell",
        "text": f"cannot tell: {what} read as {declared} stand a median {before:.1f} m from the road nodes, {others}: "
        f"no system fits clearly better, so a datum mistake (~500 m) would not show; check a few of them on a map",
    }
