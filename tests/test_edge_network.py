"""Trust at the edges: saved networks are checked on load, and reachability follows one-way streets."""

from __future__ import annotations

import dataclasses
import json
import warnings

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
    nodes_reaching_facility,
    point_times,
    times_to_nearest_facility,
)
from dgcoverage.core.roadnet import (
    RoadNetwork,
    check_network_covers,
    edge_length_check,
    haversine_m,
    load_network,
    save_network,
)
from dgcoverage.errors import InputFileError, NetworkError
from dgcoverage.inputs.network import network_from_file
from dgcoverage.inputs.quality import component_summary

from ._tiny import facilities_at, lonlat, make_study

# ------------------------------------------------------------------ saved networks


def grid_network(k: int = 5, step_m: float = 120.0, circuity: float = 1.0) -> RoadNetwork:
    """A k x k two-way street grid in Dongguan; lengths = straight line x ``circuity``."""
    xy = np.array([(x * step_m, y * step_m) for y in range(k) for x in range(k)], dtype=float)
    lon, lat = lonlat(xy[:, 0], xy[:, 1])
    e = np.array([(i, i + 1) for i in range(k * k) if i % k != k - 1] + [(i, i + k) for i in range(k * (k - 1))])
    u = np.concatenate([e[:, 0], e[:, 1]])
    v = np.concatenate([e[:, 1], e[:, 0]])
    length = np.round(haversine_m(lon[u], lat[u], lon[v], lat[v]) * circuity, 2)
    names = np.array([f"路{i % 7}" for i in range(len(u))])
    return RoadNetwork(
        np.arange(k * k) + 500,
        lon,
        lat,
        u,
        v,
        length,
        names,
        np.full(len(u), "residential"),
        meta={"source": "test grid", "synthetic": False},
    )


def arrays(net: RoadNetwork) -> dict[str, np.ndarray]:
    return {
        "node_id": net.node_id,
        "lon": net.lon.copy(),
        "lat": net.lat.copy(),
        "u": net.u.copy(),
        "v": net.v.copy(),
        "length_m": net.length_m.copy(),
        "meta_json": np.array(json.dumps(net.meta)),
    }


def write(tmp_path, data: dict[str, np.ndarray], name: str = "net.npz"):
    p = tmp_path / name
    np.savez_compressed(p, **data)
    return p


def test_valid_network_round_trips(tmp_path):
    net = grid_network()
    back = load_network(save_network(net, tmp_path / "n.npz"))
    for a in ("node_id", "lon", "lat", "u", "v", "length_m", "name", "highway"):
        np.testing.assert_array_equal(getattr(back, a), getattr(net, a))
    assert back.meta == net.meta  # nothing added when every edge is at least its chord
    assert back.fingerprint() == net.fingerprint()
    assert network_from_file(tmp_path / "n.npz").fingerprint() == net.fingerprint()


def test_winding_roads_still_load(tmp_path):
    # every edge 1.8x its chord: a very winding network, but plausible in metres
    back = load_network(save_network(grid_network(circuity=1.8), tmp_path / "n.npz"))
    assert back.n_edges == grid_network().n_edges


@pytest.mark.parametrize("drop", [["length_m"], ["u", "v"], ["lat"]])
def test_missing_arrays_are_named(tmp_path, drop):
    data = arrays(grid_network())
    for k in drop:
        del data[k]
    with pytest.raises(InputFileError, match="lacks the array") as exc:
        load_network(write(tmp_path, data))
    assert ", ".join(drop) in str(exc.value) and "net.npz" in str(exc.value) and "Fix:" in str(exc.value)


def test_mismatched_edge_lengths(tmp_path):
    data = arrays(grid_network())
    data["v"] = data["v"][:-3]
    with pytest.raises(InputFileError, match=r"edge arrays have different lengths: u=80, v=77, length_m=80"):
        load_network(write(tmp_path, data))


def test_mismatched_node_lengths(tmp_path):
    data = arrays(grid_network())
    data["lat"] = data["lat"][:-1]
    with pytest.raises(InputFileError, match="node arrays have different lengths"):
        load_network(write(tmp_path, data))


def test_edge_end_out_of_range(tmp_path):
    data = arrays(grid_network())
    data["u"][4] = 25  # n_nodes = 25: positions are 0..24
    with pytest.raises(InputFileError, match=r"1 edge end\(s\) in 'u' are not node positions in \[0, 25\) \(e.g. 25\)"):
        load_network(write(tmp_path, data))
    data = arrays(grid_network())
    data["v"][0] = -1
    with pytest.raises(InputFileError, match="'v' are not node positions"):
        load_network(write(tmp_path, data))


def test_float_edge_ends_rejected(tmp_path):
    data = arrays(grid_network())
    data["u"] = data["u"].astype(float) + 0.5
    with pytest.raises(InputFileError, match="'u' must hold integer node positions, got dtype float64"):
        load_network(write(tmp_path, data))


def test_nan_longitude(tmp_path):
    data = arrays(grid_network())
    data["lon"][[3, 7]] = np.nan
    with pytest.raises(InputFileError, match="2 of 25 nodes have non-finite"):
        load_network(write(tmp_path, data))


def test_latitude_out_of_range(tmp_path):
    data = arrays(grid_network())
    data["lat"][0] = 95.0
    with pytest.raises(InputFileError, match=r"1 of 25 nodes have coordinates outside WGS84 degree ranges.*lat=95"):
        load_network(write(tmp_path, data))


def test_projected_coordinates_rejected(tmp_path):
    data = arrays(grid_network())
    data["lon"], data["lat"] = data["lon"] * 0 + 780_000.0 + np.arange(25), data["lat"] * 0 + 2_545_000.0
    with pytest.raises(InputFileError, match="25 of 25 nodes have coordinates outside WGS84"):
        load_network(write(tmp_path, data))


def test_negative_length(tmp_path):
    data = arrays(grid_network())
    data["length_m"][5] = -3.0
    with pytest.raises(InputFileError, match="1 of 80 edge lengths are negative or not finite"):
        load_network(write(tmp_path, data))


def test_lengths_in_kilometres(tmp_path):
    data = arrays(grid_network())
    data["length_m"] = data["length_m"] / 1000.0
    with pytest.raises(
        InputFileError, match=r"look like kilometres.*median length/straight-line = 0\.001 .*Fix: store metres"
    ):
        load_network(write(tmp_path, data))


def test_lengths_in_degrees(tmp_path):
    net = grid_network()
    data = arrays(net)
    # planar degrees, as a GIS computes them on unprojected data
    data["length_m"] = np.hypot(net.lon[net.u] - net.lon[net.v], net.lat[net.u] - net.lat[net.v])
    with pytest.raises(
        InputFileError, match=r"look like degrees.*median length/straight-line = [0-9.]+e-06.*not in degrees"
    ):
        load_network(write(tmp_path, data))


def test_lengths_in_feet(tmp_path):
    data = arrays(grid_network())
    data["length_m"] = data["length_m"] / 0.3048
    with pytest.raises(InputFileError, match=r"look like feet.*median length/straight-line = 3\.28"):
        load_network(write(tmp_path, data))


def test_shuffled_nodes_are_caught_without_unit_guess(tmp_path):
    # lengths right, but u/v point at other nodes: lengths are far shorter than the straight lines
    k = 12
    net = grid_network(k=k)
    data = arrays(net)
    perm = np.random.default_rng(3).permutation(k * k)
    data["lon"], data["lat"] = data["lon"][perm], data["lat"][perm]
    with pytest.raises(InputFileError, match="shorter than the straight line between their ends"):
        load_network(write(tmp_path, data))


def test_a_few_short_edges_are_counted_not_fatal(tmp_path):
    data = arrays(grid_network())
    data["length_m"][[0, 1, 2]] = 50.0  # chord 120 m
    data["length_m"][3] = data["length_m"][3] - 0.3  # rounding: not counted
    net = load_network(write(tmp_path, data))
    assert net.meta["edges_shorter_than_chord"] == 3
    # re-saved and loaded again: recounted, not accumulated
    assert load_network(save_network(net, tmp_path / "again.npz")).meta["edges_shorter_than_chord"] == 3


def test_coincident_nodes_are_not_compared():
    lon = np.array([113.75, 113.75, 113.751])
    lat = np.array([23.0, 23.0, 23.0])
    out = edge_length_check(lon, lat, np.array([0, 1, 0]), np.array([1, 0, 0]), np.array([0.0, 0.0, 30.0]))
    assert out["edges_compared"] == 0 and out["median_ratio"] is None


def test_unreadable_meta(tmp_path):
    data = arrays(grid_network())
    data["meta_json"] = np.array("{not json")
    with pytest.raises(InputFileError, match="meta_json"):
        load_network(write(tmp_path, data))


def test_network_covers_study_area():
    net = grid_network()
    inside = (
        float(net.lon.min()) - 0.01,
        float(net.lat.min()) - 0.01,
        float(net.lon.max()) + 0.01,
        float(net.lat.max()) + 0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check_network_covers(net, inside, min_area_share=0.0)
    assert out["nodes_inside"] == 25 and out["node_share_inside"] == 1.0
    with pytest.raises(NetworkError, match="no node of the road network lies in the study area"):
        check_network_covers(net, (116.2, 39.8, 116.6, 40.1))  # Beijing
    with pytest.raises(NetworkError, match="bounds must be"):
        check_network_covers(net, (114.0, 23.0, 113.0, 24.0))
    # the network covers a small corner of a large study area
    with pytest.warns(UserWarning, match="covers only"):
        out = check_network_covers(net, (113.7, 22.9, 114.3, 23.2))
    assert out["area_share_covered"] < 0.01
    # most of the network outside a tiny study area
    with pytest.warns(UserWarning, match="lie in the study area"):
        check_network_covers(
            net,
            (float(net.lon[0]) - 1e-5, float(net.lat[0]) - 1e-5, float(net.lon[0]) + 1e-5, float(net.lat[0]) + 1e-5),
            min_node_share=0.1,
            min_area_share=0.0,
        )


# ------------------------------------------------------------------ directed reachability


def directed_network(nodes_m, edges, lengths=None) -> RoadNetwork:
    """A network of one-way ``edges`` (u, v) between local-metre nodes; lengths = chord unless given."""
    xy = np.asarray(nodes_m, dtype=float)
    lon, lat = lonlat(xy[:, 0], xy[:, 1])
    e = np.asarray(edges, dtype=np.int64)
    u, v = e[:, 0], e[:, 1]
    length = haversine_m(lon[u], lat[u], lon[v], lat[v]) if lengths is None else np.asarray(lengths, float)
    return RoadNetwork(np.arange(len(xy)), lon, lat, u, v, length)


def test_one_way_trap_is_unreachable_and_two_way_twin_is_not():
    # F=0 facility; A=1 is entered from F by a one-way street and leaves only by a one-way street into the
    # dead end D=2; B=3 is A's two-way twin (same distance from F).
    nodes = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (-100.0, 0.0)]
    net = directed_network(nodes, [(0, 1), (1, 2), (0, 3), (3, 0)], [100.0, 100.0, 100.0, 100.0])
    g = access_graph_from_network(net, 1.0)
    assert len(set(g.component.tolist())) == 1  # one weak component: the old rule called A "beyond limit"
    fac = np.array([0])
    node = np.array([1, 2, 3, 0])
    for limit, b_class in ((150.0, REACHED), (50.0, BEYOND_LIMIT)):
        t = point_times(times_to_nearest_facility(g, fac, np.zeros(1)), node, np.zeros(4))
        cls = classify_points(g, node, t, limit, fac)
        assert cls.tolist() == [UNREACHABLE, UNREACHABLE, b_class, REACHED]
    np.testing.assert_allclose(t, [np.inf, np.inf, 100.0, 0.0])
    # with a search cap shorter than B's time, B is beyond the limit (a gap), A still unreachable
    t = point_times(times_to_nearest_facility(g, fac, np.zeros(1), cap_s=50.0), node, np.zeros(4))
    assert classify_points(g, node, t, 50.0, fac).tolist() == [UNREACHABLE, UNREACHABLE, BEYOND_LIMIT, REACHED]
    # off-network points stay off network
    assert classify_points(g, np.array([-1]), np.array([np.inf]), 50.0, fac).tolist() == [OFF_NETWORK]
    # people: weak components say nobody is cut off, directed edges say A's and D's cells are
    summ = component_summary(g, fac, np.array([1, 2, 3, -1]), np.array([10.0, 5.0, 7.0, 3.0]))
    assert summ["count"] == 1 and summ["population_on_components_without_facility"] == 0.0
    assert summ["nodes_cannot_reach_facility"] == 2
    assert summ["population_cannot_reach_facility"] == 15.0
    assert summ["population_cannot_reach_facility_one_way"] == 15.0


def test_one_way_loop_reaches_facility_with_exact_time():
    # square loop 0 -> 1 -> 2 -> 3 -> 0, one way, facility at 0; plus an island {4, 5} without facility
    nodes = [(0.0, 0.0), (100.0, 0.0), (100.0, 200.0), (0.0, 200.0), (900.0, 0.0), (900.0, 100.0)]
    net = directed_network(
        nodes, [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 4)], [100.0, 200.0, 300.0, 400.0, 80.0, 80.0]
    )
    g = access_graph_from_network(net, 2.0)  # 2 m/s
    fac = np.array([0])
    nt = times_to_nearest_facility(g, fac, np.array([5.0]))  # 5 s from node 0 to the door
    # node 1: 200 + 300 + 400 = 900 m -> 450 s (+5); node 2: 700 m -> 350 s; node 3: 400 m -> 200 s
    np.testing.assert_allclose(nt, [5.0, 455.0, 355.0, 205.0, np.inf, np.inf])
    assert nodes_reaching_facility(g, fac).tolist() == [True, True, True, True, False, False]
    node = np.arange(6)
    t = point_times(nt, node, np.full(6, 10.0))  # each point 10 s from its node
    assert t[1] == pytest.approx(465.0)
    assert classify_points(g, node, t, 400.0, fac).tolist() == [
        REACHED,
        BEYOND_LIMIT,
        REACHED,
        REACHED,
        UNREACHABLE,
        UNREACHABLE,
    ]
    summ = component_summary(g, np.array([0, -1]), node, np.ones(6))
    assert summ["population_on_components_without_facility"] == 2.0
    assert summ["population_cannot_reach_facility"] == 2.0 and summ["population_cannot_reach_facility_one_way"] == 0.0


def test_no_facility_on_network_reaches_nothing():
    net = directed_network([(0.0, 0.0), (100.0, 0.0)], [(0, 1), (1, 0)])
    g = access_graph_from_network(net, 1.0)
    assert not nodes_reaching_facility(g, np.array([-1, -1])).any()
    assert classify_points(g, np.array([0, 1]), np.full(2, np.inf), 10.0, np.array([-1])).tolist() == [UNREACHABLE] * 2


def test_reachability_agrees_with_networkx_has_path():
    rng = np.random.default_rng(20240611)
    n, m = 200, 330  # sparse enough that many nodes cannot reach a facility, dense enough that many can
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    keep = u != v
    u, v = u[keep], v[keep]
    lon = 113.7 + rng.uniform(0, 0.05, n)
    lat = 23.0 + rng.uniform(0, 0.05, n)
    net = RoadNetwork(np.arange(n), lon, lat, u, v, rng.uniform(1.0, 500.0, len(u)))
    g = access_graph_from_network(net, 1.0)
    fac = np.concatenate([rng.choice(n, 6, replace=False), [-1]])
    ours = nodes_reaching_facility(g, fac)
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(u.tolist(), v.tolist()))
    targets = [int(f) for f in fac if f >= 0]
    expected = np.array([any(nx.has_path(G, i, f) for f in targets) for i in range(n)])
    np.testing.assert_array_equal(ours, expected)
    assert 0.1 * n < expected.sum() < 0.9 * n  # not vacuous either way
    # same set as the nodes an uncapped search gives a finite time
    np.testing.assert_array_equal(ours, np.isfinite(times_to_nearest_facility(g, fac, np.zeros(len(fac)))))
    # and strictly finer than weak components here: some node shares a component with a facility yet cannot reach it
    served = np.isin(g.component, g.component[fac[fac >= 0]])
    assert (served & ~ours).any()
    cls = classify_points(g, np.arange(n), np.full(n, np.inf), 60.0, fac)
    np.testing.assert_array_equal(cls == UNREACHABLE, ~expected)


def test_pipeline_calls_a_one_way_dead_end_unreachable():
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle

    circles, _ = load_config()
    # a north-south street 0..4 (100 m steps); village 2 sits at its north end, node 4
    nodes = [(0.0, 100.0 * i) for i in range(5)]
    study = make_study(
        nodes,
        [(i, i + 1) for i in range(4)],
        [(20.0, 100.0 * i) for i in range(5)],
        [100.0] * 5,
        [(-500, -500, 500, 350), (-500, 350, 500, 900)],
    )
    # make the last block one way northwards: from node 4 there is no way back
    net = study.net
    keep = ~((net.u == 4) & (net.v == 3))
    one_way = RoadNetwork(net.node_id, net.lon, net.lat, net.u[keep], net.v[keep], net.length_m[keep], meta=net.meta)
    study = dataclasses.replace(study, net=one_way, graph=access_graph_from_network(one_way, 1.0, crs=study.graph.crs))
    res = run_circle(study, circles["fitness_15"], facilities_at([(0.0, 0.0)]))
    v = res.villages.set_index("code")
    assert v.loc["441900003001", "status"] == "covered"
    assert v.loc["441900003002", "status"] == "unreachable"  # not a "gap": no distance would help
    assert res.summary["results"]["population_by_reach"]["unreachable"] == 100.0
    comp = res.summary["components"]
    assert comp["count"] == 1 and comp["population_on_components_without_facility"] == 0.0
    assert comp["population_cannot_reach_facility"] == 100.0 == comp["population_cannot_reach_facility_one_way"]


def test_reverse_edge_share_matches_the_set_definition():
    from dgcoverage.core.roadnet import reverse_edge_share

    rng = np.random.default_rng(7)
    for n in (3, 50, 2000):
        u = rng.integers(0, n, 5 * n)
        v = rng.integers(0, n, 5 * n)
        keep = rng.random(u.size) < 0.5  # half of the edges get their twin
        u2, v2 = np.r_[u, v[keep]], np.r_[v, u[keep]]
        pairs = set(zip(u2.tolist(), v2.tolist()))
        expect = np.mean([(b, a) in pairs for a, b in zip(u2.tolist(), v2.tolist())])
        assert reverse_edge_share(u2, v2) == pytest.approx(expect, abs=1e-12)
    # the largest node id is the last position of the encoding
    assert reverse_edge_share(np.array([0, 1, 1, 2]), np.array([1, 0, 2, 3])) == 0.5
