"""RoadNetwork conversions: from an OSMnx graph, save/load round trip."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from dgcoverage.core.roadnet import RoadNetwork, haversine_m, load_network, save_network
from dgcoverage.errors import InputFileError, InputNotFoundError, NetworkError
from dgcoverage.inputs.network import network_from_file, network_from_graph


def _graph() -> nx.MultiDiGraph:
    G = nx.MultiDiGraph(crs="epsg:4326")
    G.add_node(10, x=113.75, y=23.0)
    G.add_node(20, x=113.751, y=23.0)
    G.add_node(30, x=113.751, y=23.001)
    G.add_edge(10, 20, length=102.5, name="东纵大道", highway="primary")
    G.add_edge(20, 30, name=["A路", "B路"], highway=["residential"])  # no length: computed
    return G


def test_network_from_graph():
    net = network_from_graph(_graph())
    assert net.node_id.tolist() == [10, 20, 30]
    assert net.u.tolist() == [0, 1] and net.v.tolist() == [1, 2]
    assert net.length_m[0] == 102.5
    assert net.length_m[1] == pytest.approx(haversine_m(113.751, 23.0, 113.751, 23.001))
    assert net.name.tolist() == ["东纵大道", "A路"] and net.highway.tolist() == ["primary", "residential"]
    G = _graph()
    G.graph["crs"] = "epsg:32649"
    with pytest.raises(NetworkError, match="project it back"):
        network_from_graph(G)


def test_save_load_round_trip(tmp_path):
    net = network_from_graph(_graph(), meta={"source": "test", "synthetic": False})
    p = save_network(net, tmp_path / "n.npz")
    back = load_network(p)
    for a in ("node_id", "lon", "lat", "u", "v", "length_m", "name", "highway"):
        np.testing.assert_array_equal(getattr(back, a), getattr(net, a))
    assert back.meta == {"source": "test", "synthetic": False}
    assert back.fingerprint() == net.fingerprint()


def test_bad_network_files(tmp_path):
    with pytest.raises(InputNotFoundError):
        network_from_file(tmp_path / "missing.osm.pbf")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="bad.npz"):
        load_network(bad)
    other = tmp_path / "roads.shp"
    other.write_bytes(b"x")
    with pytest.raises(InputFileError, match="unsupported"):
        network_from_file(other)
    with pytest.raises(NetworkError):
        RoadNetwork([1], [113.0], [23.0], [0], [0], [-5.0])
