"""Road edits of a scenario: streets closed inside polygons, new links between two points; the study rebuilt.

A road edit changes the network, so a scenario with one is measured again in full: the edited network is turned
into a new search graph, the demand cells and village centres are snapped to it again, and the circle is run
on that study (:func:`study_with_road_edits`).  Closing: every directed edge with an end inside a closure
polygon is removed, and nodes left without an edge are dropped (people near them snap to the nearest open
street within ``max_snap_m``, or are off the network).  A link joins the nodes nearest its two ends (each within
``max_snap_m``, else refused naming the point) in both directions; it is travelled at its own speed or in its own
minutes, expressed for the search as the length the circle's speed covers in that time (so a speed-sensitivity
run at another speed scales it too).  Closing by OSM way id removes every directed edge of those ways (both
directions, every part; an edge OSMnx simplified out of several ways goes when any of them closes): a network read
from OSM data knows each edge's way (``RoadNetwork.way_id``); the synthetic demo roads have none, and closing by way
id there is refused with the fix (close by polygon).  An id not in the network is refused, naming it.  A link
whose two ends snap to one node, and a closure polygon with no street node inside (swapped lon/lat, another place,
another datum), change nothing and are refused, naming them and the likely cause.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from ..compute.access import access_graph_from_network, project_lonlat, snap_points
from ..core.roadnet import RoadNetwork, haversine_m
from ..errors import ConfigError, NetworkError
from ..inputs.config import Circle
from .load import _snap_centres
from .study import Study


def _closed_nodes(net: RoadNetwork, closures: gpd.GeoDataFrame | None) -> np.ndarray:
    """Mask of the nodes inside any closure polygon (WGS84); a polygon with no street node inside is refused."""
    if closures is None or not len(closures):
        return np.zeros(net.n_nodes, dtype=bool)
    polys = closures.to_crs(4326).geometry.to_numpy()
    inside = np.zeros(net.n_nodes, dtype=bool)
    for i, g in enumerate(polys):
        if g is None or g.is_empty:
            raise ConfigError(f"[roads] close: polygon {i + 1} is empty. Fix: draw the closed area, or drop the row")
        hit = np.asarray(shapely.contains_xy(g, net.lon, net.lat), dtype=bool)
        if not hit.any():
            raise ConfigError(f"[roads] close: polygon {i + 1} closes no street: {_why_nothing(net, g)}")
        inside |= hit
    return inside


def _why_nothing(net: RoadNetwork, poly: Any) -> str:
    """Return the likely cause of a closure polygon with no street node inside, and the fix."""
    x0, y0, x1, y1 = poly.bounds
    lo0, la0, lo1, la1 = float(net.lon.min()), float(net.lat.min()), float(net.lon.max()), float(net.lat.max())
    where = f"its bounds ({x0:.5f}, {y0:.5f})-({x1:.5f}, {y1:.5f}), "
    where += f"the network's ({lo0:.5f}, {la0:.5f})-({lo1:.5f}, {la1:.5f})"
    if x1 < lo0 or x0 > lo1 or y1 < la0 or y0 > la1:
        if not (y1 < lo0 or y0 > lo1 or x1 < la0 or x0 > la1):
            return f"{where}: longitude and latitude are swapped. Fix: write the coordinates as [lon, lat]"
        return (
            f"{where}: it lies outside the road network (another place, or coordinates not in degrees). Fix: draw "
            "it over the streets to close, in WGS84 degrees, or name its datum (close_crs = gcj02 | bd09)"
        )
    return (
        f"no street node lies inside it ({where}); a street closes when an end of it is inside, and a polygon "
        "drawn in the wrong datum (GCJ-02/BD-09 read as WGS84: 300-700 m off) misses it. Fix: check the datum "
        "(close_crs = wgs84 | gcj02 | bd09), or draw the polygon around the street's junctions"
    )


def _closed_way_edges(net: RoadNetwork, close_ways: list[int] | None) -> np.ndarray:
    """Mask of the directed edges of the OSM ways ``close_ways``; refuse ids the network does not know."""
    ids = [int(w) for w in (close_ways or [])]
    if not ids:
        return np.zeros(net.n_edges, dtype=bool)
    if not net.has_way_ids:
        raise ConfigError(
            f"[roads] close_ways {ids[:5]}: this road network has no OSM way ids "
            f"({'synthetic demo roads' if net.meta.get('synthetic') else 'its source does not carry them'}). "
            "Fix: close the streets by polygon ([roads] close = FILE), or use a network read from an OSM file "
            "(.osm/.osm.pbf), an OSMnx graph or .graphml"
        )
    known = net.known_way_ids()
    missing = [w for w in ids if not known.size or known[min(np.searchsorted(known, w), known.size - 1)] != w]
    if missing:
        raise ConfigError(
            f"[roads] close_ways: OSM way id(s) {missing[:10]} are not in the road network ({known.size:,} way ids "
            "known; a way outside the clip, filtered out by the network type, or merged into a parallel edge of "
            "another way is not). Fix: check the ids (osm.org/way/ID), or close the street by polygon"
        )
    return net.edges_of_ways(ids)


def _edge_lines(net: RoadNetwork, mask: np.ndarray) -> list[dict[str, Any]]:
    """Return the streets of the edges in ``mask`` for the map, once per pair of nodes (both ways: one line)."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return []
    a, b = np.minimum(net.u[idx], net.v[idx]), np.maximum(net.u[idx], net.v[idx])
    _, first = np.unique(a * net.n_nodes + b, return_index=True)
    out = []
    for k in idx[np.sort(first)]:
        i, j = int(net.u[k]), int(net.v[k])
        out.append(
            {
                "coords": [[round(float(net.lon[i]), 6), round(float(net.lat[i]), 6)],
                           [round(float(net.lon[j]), 6), round(float(net.lat[j]), 6)]],
                "name": "" if net.name is None else str(net.name[k]),
                "way_id": -1 if net.way_id is None else int(net.way_id[k]),
            }
        )  # fmt: skip
    return out


def _link_length(row: pd.Series, length_m: float, circle: Circle) -> tuple[float, float]:
    """Search length (metres at the circle's speed) and minutes of one link."""
    if np.isfinite(row["minutes"]):
        minutes = float(row["minutes"])
    elif np.isfinite(row["speed_kmh"]):
        minutes = length_m / (float(row["speed_kmh"]) / 3.6) / 60.0
    else:
        minutes = length_m / circle.speed_mps / 60.0
    return minutes * 60.0 * circle.speed_mps, minutes


def study_with_road_edits(
    study: Study,
    circle: Circle,
    links: pd.DataFrame | None = None,
    closures: gpd.GeoDataFrame | None = None,
    close_ways: list[int] | None = None,
) -> tuple[Study, dict[str, Any]]:
    """Return the study on the edited network (new graph, cells and centres snapped again) and the edits' record.

    Parameters
    ----------
    study, circle
        The baseline study and the circle (its mode picks the links that serve it, its speed turns a link's
        time into the search's length).
    links
        New links (:func:`dgcoverage.inputs.scenario.links_frame`: ``from_lon``, ``from_lat``, ``to_lon``,
        ``to_lat`` in WGS84, ``mode``, ``speed_kmh`` or ``minutes``, ``name``).
    closures
        Polygons (EPSG:4326): streets with an end inside are closed.
    close_ways
        OSM way ids: every directed edge of these ways is closed.

    Returns
    -------
    Study, dict
        The edited study, and the record (``scenario.json`` → ``edits.roads``) plus ``closed_edges``: each closed
        street once (``coords``, ``name``, ``way_id``) for the map, which :func:`~.scenario.run_scenario` moves to
        ``Scenario.road_lines``.
    """
    net, max_snap = study.net, study.settings.max_snap_m
    inside = _closed_nodes(net, closures)
    way_closed = _closed_way_edges(net, close_ways)
    keep_edge = ~(inside[net.u] | inside[net.v] | way_closed)
    has_edge = np.zeros(net.n_nodes, dtype=bool)
    has_edge[net.u[keep_edge]] = has_edge[net.v[keep_edge]] = True
    new_index = np.full(net.n_nodes, -1, dtype=np.int64)
    new_index[has_edge] = np.arange(int(has_edge.sum()))
    kept = np.nonzero(has_edge)[0]
    u, v, length = new_index[net.u[keep_edge]], new_index[net.v[keep_edge]], net.length_m[keep_edge]
    names = None if net.name is None else list(net.name[keep_edge])
    highway = None if net.highway is None else list(net.highway[keep_edge])
    way_id, way_extra = net.way_ids_of_edges(keep_edge)
    record: dict[str, Any] = {
        "closures": 0 if closures is None else len(closures),
        "nodes_inside_closures": int(inside.sum()),
        "directed_edges_removed": int((~keep_edge).sum()),
        "links": [],
        "links_not_serving_mode": 0,
    }
    if close_ways:
        record["closed_ways"] = [int(w) for w in close_ways]
        record["directed_edges_closed_by_way"] = int(way_closed.sum())
    record["closed_edges"] = _edge_lines(net, ~keep_edge)
    add_u: list[int] = []
    add_v: list[int] = []
    add_len: list[float] = []
    if links is not None and len(links):
        if not len(kept):
            raise NetworkError("the closures leave no street: nothing to link to. Fix: draw smaller closure polygons")
        tree = cKDTree(np.column_stack([study.graph.x[kept], study.graph.y[kept]]))
        for i, r in links.reset_index(drop=True).iterrows():
            if r["mode"] not in ("all", circle.mode):
                record["links_not_serving_mode"] += 1
                continue
            ends = []
            for end in ("from", "to"):
                x, y = project_lonlat(np.array([r[f"{end}_lon"]]), np.array([r[f"{end}_lat"]]), study.graph.crs)
                d, j = tree.query([float(x[0]), float(y[0])])
                if not d <= max_snap:
                    label = f"link {int(str(i)) + 1}" + (f" ({r['name']})" if r["name"] else "")
                    raise ConfigError(
                        f"{label}: its {end} point ({r[f'{end}_lon']:.6f}, {r[f'{end}_lat']:.6f}) is {d:,.0f} m from "
                        f"the nearest open street node (> max_snap_m {max_snap:g} m). Fix: put the point on a "
                        "street, check its datum (crs = wgs84 | gcj02 | bd09), or raise [settings] max_snap_m"
                    )
                ends.append((int(j), float(d)))
            (a, da), (b, db) = ends
            na, nb = kept[a], kept[b]
            geo = float(haversine_m(net.lon[na], net.lat[na], net.lon[nb], net.lat[nb]))
            search_len, minutes = _link_length(r, geo, circle)
            if a == b:
                label = f"link {int(str(i)) + 1}" + (f" ({r['name']})" if r["name"] else "")
                raise ConfigError(
                    f"{label}: both its ends snap to the same street node {int(net.node_id[na])} "
                    f"({da:,.0f} m and {db:,.0f} m from it), so it would change nothing. Fix: put its two points on "
                    "the two streets it joins (check the datum: crs = wgs84 | gcj02 | bd09), or drop the link"
                )
            add_u += [a, b]
            add_v += [b, a]
            add_len += [search_len, search_len]
            record["links"].append(
                {
                    "name": r["name"],
                    "from_node_id": int(net.node_id[na]),
                    "to_node_id": int(net.node_id[nb]),
                    "from_snap_m": round(da, 1),
                    "to_snap_m": round(db, 1),
                    "length_m": round(geo, 1),
                    "minutes": round(minutes, 3),
                    "mode": r["mode"],
                    "from_lonlat": [round(float(net.lon[na]), 6), round(float(net.lat[na]), 6)],
                    "to_lonlat": [round(float(net.lon[nb]), 6), round(float(net.lat[nb]), 6)],
                }
            )
    if add_u:
        u = np.concatenate([u, np.asarray(add_u, dtype=np.int64)])
        v = np.concatenate([v, np.asarray(add_v, dtype=np.int64)])
        length = np.concatenate([length, np.asarray(add_len)])
        names = None if names is None else names + ["scenario link"] * len(add_u)
        highway = None if highway is None else highway + ["scenario_link"] * len(add_u)
        way_id = None if way_id is None else np.concatenate([way_id, np.full(len(add_u), -1, dtype=np.int64)])
    if not len(u):
        raise NetworkError("the closures remove every street. Fix: draw smaller closure polygons")
    meta = {**net.meta, "scenario_road_edits": True}
    edited = RoadNetwork(
        net.node_id[kept], net.lon[kept], net.lat[kept], u, v, length, names, highway, meta, way_id, way_extra
    )
    graph = access_graph_from_network(edited, study.graph.speed_mps, crs=study.graph.crs)
    cell_node, cell_snap = snap_points(graph, study.cell_x, study.cell_y, max_snap)
    centre_node, centre_snap = _snap_centres(study.villages, graph, max_snap)
    warn = {**study.warnings, "cells_off_network": int((cell_node < 0).sum())}
    record["cells_off_network_before"] = int((study.cell_node < 0).sum())
    record["cells_off_network_after"] = int((cell_node < 0).sum())
    out = replace(
        study,
        net=edited,
        graph=graph,
        cell_node=cell_node,
        cell_snap_m=cell_snap,
        centre_node=centre_node,
        centre_snap_m=centre_snap,
        warnings=warn,
    )
    return out, record
