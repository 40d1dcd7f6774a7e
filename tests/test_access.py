"""Access engine: exact times on hand-drawn graphs, cross-check with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from dgcoverage.compute.access import (
    BEYOND_LIMIT,
    OFF_NETWORK,
    REACHED,
    UNREACHABLE,
    access_graph_from_network,
    classify_points,
    point_times,
    snap_points,
    times_at_speed,
    times_to_nearest_facility,
)
from dgcoverage.core.roadnet import RoadNetwork, haversine_m
from dgcoverage.errors import EmptyInputError, NetworkError


def line_network(n: int = 4, step_m: float = 100.0) -> RoadNetwork:
    """Nodes on a north-south line at 113.75E in Dongguan, ``step_m`` apart, two-way edges."""
    lat0 = 23.0
    dlat = step_m / 111_194.93  # metres per degree of latitude on the mean sphere
    lat = lat0 + np.arange(n) * dlat
    lon = np.full(n, 113.75)
    u = np.concatenate([np.arange(n - 1), np.arange(1, n)])
    v = np.concatenate([np.arange(1, n), np.arange(n - 1)])
    return RoadNetwork(np.arange(n), lon, lat, u, v, np.full(2 * (n - 1), step_m))


def test_multi_source_times_exact_with_access_legs():
    g = access_graph_from_network(line_network(), speed_mps=1.0)
    # facility A sits 10 m off node 0 (leg 10 s), facility B exactly on node 3
    t = times_to_nearest_facility(g, np.array([0, 3]), np.array([10.0, 0.0]))
    np.testing.assert_allclose(t, [10.0, 110.0, 100.0, 0.0])


def test_speed_scales_times():
    g = access_graph_from_network(line_network(), speed_mps=2.0)
    t = times_to_nearest_facility(g, np.array([0]), np.array([0.0]))
    np.testing.assert_allclose(t, [0.0, 50.0, 100.0, 150.0])


def test_limit_boundary_is_inclusive_and_cap_cuts():
    g = access_graph_from_network(line_network(), 1.0)
    t = times_to_nearest_facility(g, np.array([0]), np.array([0.0]), cap_s=200.0)
    np.testing.assert_allclose(t[:3], [0.0, 100.0, 200.0])
    assert np.isinf(t[3])
    node = np.array([2, 3])
    cls = classify_points(g, node, point_times(t, node, np.zeros(2)), 200.0, np.array([0]))
    assert cls.tolist() == [REACHED, BEYOND_LIMIT]


def test_several_facilities_on_one_node_keep_shortest_leg():
    g = access_graph_from_network(line_network(), 1.0)
    t = times_to_nearest_facility(g, np.array([1, 1]), np.array([30.0, 5.0]))
    np.testing.assert_allclose(t, [105.0, 5.0, 105.0, 205.0])


def test_parallel_edges_keep_shortest_and_one_way_direction():
    lon = np.full(3, 113.75)
    lat = 23.0 + np.arange(3) * 0.001
    # 0->1 twice (300 m, 100 m), 1->2 one way 50 m; no way back from 2
    net = RoadNetwork(np.arange(3), lon, lat, [0, 0, 1, 1], [1, 1, 2, 0], [300.0, 100.0, 50.0, 100.0])
    g = access_graph_from_network(net, 1.0)
    # time TO the facility at node 2: 0 ->1 ->2 = 150; from node 2 it is 0
    t = times_to_nearest_facility(g, np.array([2]), np.array([0.0]))
    np.testing.assert_allclose(t, [150.0, 50.0, 0.0])
    # facility at 0: node 2 cannot reach it (one-way), node 1 reaches via the 100 m edge
    t0 = times_to_nearest_facility(g, np.array([0]), np.array([0.0]))
    assert t0[1] == pytest.approx(100.0) and np.isinf(t0[2])


def test_snap_distance_and_off_network():
    g = access_graph_from_network(line_network(), 1.0)
    x0, y0 = g.x[1], g.y[1]
    node, dist = snap_points(g, np.array([x0 + 30.0, x0 + 800.0]), np.array([y0, y0]), max_snap_m=500.0)
    assert node.tolist() == [1, -1]
    assert dist[0] == pytest.approx(30.0, abs=1e-6) and np.isinf(dist[1])
    t = times_to_nearest_facility(g, np.array([0]), np.array([0.0]))
    pt = point_times(t, node, dist / 1.0)
    assert pt[0] == pytest.approx(130.0, abs=1e-6)
    cls = classify_points(g, node, pt, 1e9, np.array([0]))
    assert cls.tolist() == [REACHED, OFF_NETWORK]


def test_component_without_facility_is_unreachable_not_gap():
    lon = np.full(4, 113.75)
    lat = 23.0 + np.arange(4) * 0.001
    net = RoadNetwork(np.arange(4), lon, lat, [0, 1, 2, 3], [1, 0, 3, 2], [100.0] * 4)  # {0,1} and {2,3}
    g = access_graph_from_network(net, 1.0)
    t = times_to_nearest_facility(g, np.array([0]), np.array([0.0]), cap_s=50.0)
    node = np.array([1, 2])
    cls = classify_points(g, node, point_times(t, node, np.zeros(2)), 50.0, np.array([0]))
    assert cls.tolist() == [BEYOND_LIMIT, UNREACHABLE]


def test_agrees_with_networkx_multi_source_dijkstra():
    rng = np.random.default_rng(7)
    n, m = 400, 1600
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    keep = u != v
    u, v = u[keep], v[keep]
    w = rng.uniform(1.0, 500.0, len(u))
    lon = 113.7 + rng.uniform(0, 0.05, n)
    lat = 23.0 + rng.uniform(0, 0.05, n)
    net = RoadNetwork(np.arange(n), lon, lat, u, v, w)
    g = access_graph_from_network(net, 1.0)
    sources = rng.choice(n, 12, replace=False)
    ours = times_to_nearest_facility(g, sources, np.zeros(len(sources)))
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for a, b, ww in zip(u, v, w):
        if not G.has_edge(b, a) or G[b][a]["weight"] > ww:
            G.add_edge(b, a, weight=ww)  # reversed: distance to the sources
    ref = nx.multi_source_dijkstra_path_length(G, set(sources.tolist()), weight="weight")
    expected = np.array([ref.get(i, np.inf) for i in range(n)])
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    assert np.isfinite(expected).sum() > n // 2  # the comparison is not vacuous


def test_errors():
    g = access_graph_from_network(line_network(), 1.0)
    with pytest.raises(EmptyInputError):
        times_to_nearest_facility(g, np.array([-1]), np.array([0.0]))
    with pytest.raises(NetworkError):
        access_graph_from_network(RoadNetwork([], [], [], [], [], []), 1.0)
    with pytest.raises(NetworkError):
        RoadNetwork([0, 1], [113.0, 113.1], [23.0, 23.0], [0], [5], [1.0])


def test_haversine_one_degree_of_latitude():
    assert haversine_m(113.0, 23.0, 113.0, 24.0) == pytest.approx(111_194.93, abs=0.5)


def test_times_at_speed_equals_a_graph_built_at_that_speed():
    """One graph at 1 m/s answers any speed exactly like a graph built at that speed."""
    g1 = access_graph_from_network(line_network(), 1.0)
    g3 = access_graph_from_network(line_network(), 3.0)
    fac, legs = np.array([0, 3]), np.array([12.0, 0.0])  # real seconds
    a = times_at_speed(g1, fac, legs, 400.0, 3.0)
    b = times_to_nearest_facility(g3, fac, legs, 400.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert times_at_speed(g3, fac, legs, 400.0, 3.0).tolist() == b.tolist()
    with pytest.raises(NetworkError):
        times_at_speed(g1, fac, legs, 400.0, 0.0)
