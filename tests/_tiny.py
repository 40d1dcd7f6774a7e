"""Hand-built tiny studies in Dongguan (metres east/north of 113.75E 23.0N) for exact pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from dgcoverage.compute.access import access_graph_from_network, project_lonlat, snap_points
from dgcoverage.core.roadnet import RoadNetwork, haversine_m
from dgcoverage.inputs.config import Settings
from dgcoverage.inputs.population import PopulationGrid
from dgcoverage.inputs.villages import DONGGUAN_UTM
from dgcoverage.pipeline.study import Study

LON0, LAT0 = 113.75, 23.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(LAT0))
TOWN = ("441900003", "东城街道")


def lonlat(x_m, y_m):
    """Local metres -> WGS84 degrees (flat approximation; fine over a few km)."""
    return LON0 + np.asarray(x_m, float) / M_PER_DEG_LON, LAT0 + np.asarray(y_m, float) / M_PER_DEG_LAT


def make_study(
    nodes_m: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    cells_m: Sequence[tuple[float, float]],
    cell_pop: Sequence[float],
    village_boxes_m: Sequence[tuple[float, float, float, float]],
    max_snap_m: float = 500.0,
) -> Study:
    """A Study with two-way ``edges`` between ``nodes_m``, demand ``cells_m`` and box-shaped villages.

    Villages get codes ``441900003001``, ``...002`` in box order, all in one town.
    """
    xy = np.asarray(nodes_m, dtype=float)
    lon, lat = lonlat(xy[:, 0], xy[:, 1])
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    u = np.concatenate([e[:, 0], e[:, 1]])
    v = np.concatenate([e[:, 1], e[:, 0]])
    length = haversine_m(lon[u], lat[u], lon[v], lat[v])
    net = RoadNetwork(np.arange(len(xy)) + 1000, lon, lat, u, v, length, meta={"source": "tiny", "synthetic": False})
    graph = access_graph_from_network(net, 1.0, crs=DONGGUAN_UTM)
    polys = []
    for x0, y0, x1, y1 in village_boxes_m:
        (a, b), (c, d) = lonlat([x0, x1], [y0, y1])
        polys.append(shapely.box(a, c, b, d))
    town_geom = shapely.union_all(polys)
    towns = gpd.GeoDataFrame(
        {"town_code": [TOWN[0]], "town_name": [TOWN[1]], "has_polygon": [True]}, geometry=[town_geom], crs=4326
    )
    n = len(polys)
    villages = gpd.GeoDataFrame(
        {
            "code": [f"{TOWN[0]}{i + 1:03d}" for i in range(n)],
            "name": [f"村{i + 1}" for i in range(n)],
            "full_name": [f"村{i + 1}村民委员会" for i in range(n)],
            "town_code": TOWN[0],
            "town_name": TOWN[1],
            "type": "村委会",
            "has_area": True,
        },
        geometry=polys,
        crs=4326,
    )
    villages["centre"] = gpd.GeoSeries([p.representative_point() for p in polys], crs=4326)
    cxy = np.asarray(cells_m, dtype=float).reshape(-1, 2)
    clon, clat = lonlat(cxy[:, 0], cxy[:, 1])
    cx, cy = project_lonlat(clon, clat, graph.crs)
    pop = np.asarray(cell_pop, dtype=float)
    cell_village = np.full(len(cx), -1, dtype=np.int64)
    pts = shapely.points(clon, clat)
    for i, p in enumerate(polys):
        hit = shapely.contains(p, pts) & (cell_village < 0)
        cell_village[hit] = i
    cell_node, cell_snap = snap_points(graph, cx, cy, max_snap_m)
    cen = villages["centre"].to_crs(graph.crs)
    centre_node, centre_snap = snap_points(graph, cen.x.to_numpy(), cen.y.to_numpy(), max_snap_m)
    grid = PopulationGrid(np.ones((1, 1)), Affine(100, 0, 0, 0, -100, 0), graph.crs)
    return Study(
        net,
        graph,
        grid,
        towns,
        villages,
        cx,
        cy,
        pop,
        cell_village,
        cell_node,
        cell_snap,
        centre_node,
        centre_snap,
        False,
        {},
        {},
        Settings(max_snap_m=max_snap_m),
    )


def facilities_at(points_m: Sequence[tuple[float, float]], declared_crs: str | None = "wgs84") -> gpd.GeoDataFrame:
    """Facility GeoDataFrame at local-metre positions."""
    xy = np.asarray(points_m, dtype=float).reshape(-1, 2)
    lon, lat = lonlat(xy[:, 0], xy[:, 1])
    gdf = gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i:03d}" for i in range(len(xy))],
            "name": [f"设施{i}" for i in range(len(xy))],
            "kind": "",
            "address": "",
            "source": "tiny",
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    gdf.attrs["warnings"] = {}
    if declared_crs:
        gdf.attrs["declared_crs"] = declared_crs
    return gdf


def two_islands() -> Study:
    """Two road lines 2 km apart with no link: west (nodes 0-4) and east (nodes 5-9); a village on each."""
    west = [(0.0, 100.0 * i) for i in range(5)]
    east = [(2000.0, 100.0 * i) for i in range(5)]
    edges = [(i, i + 1) for i in range(4)] + [(5 + i, 6 + i) for i in range(4)]
    cells = [(20.0, 100.0 * i) for i in range(5)] + [(2020.0, 100.0 * i) for i in range(5)]
    return make_study(west + east, edges, cells, [100.0] * 10, [(-500, -500, 1000, 900), (1000, -500, 2500, 900)])
