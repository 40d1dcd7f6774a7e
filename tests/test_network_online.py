"""Online paths (skipped unless --run-network): OSMnx download by place name."""

from __future__ import annotations

import numpy as np
import pytest

from dgcoverage.inputs.network import network_from_place


@pytest.mark.network
def test_network_from_place_downloads_a_walk_network():
    net = network_from_place("莞城街道, 东莞市, 广东省, 中国", network_type="walk")
    assert net.n_nodes > 500 and net.n_edges > net.n_nodes
    assert 113.70 < float(net.lon.mean()) < 113.80 and 23.00 < float(net.lat.mean()) < 23.07
    assert net.meta["synthetic"] is False


# ---------------------------------------------------------------- the same path offline, OSMnx's two calls faked


def _graph_of(net, keep):
    """An OSMnx-style MultiDiGraph of the edges of ``net`` with both ends in ``keep``."""
    import networkx as nx

    G = nx.MultiDiGraph(crs="epsg:4326")
    for i in np.nonzero(keep)[0]:
        G.add_node(int(net.node_id[i]), x=float(net.lon[i]), y=float(net.lat[i]))
    for a, b, length in zip(net.u, net.v, net.length_m):
        if keep[a] and keep[b]:
            G.add_edge(int(net.node_id[a]), int(net.node_id[b]), length=float(length))
    return G


@pytest.fixture
def fake_osmnx(small_city, monkeypatch, tmp_path):
    """geocode_to_gdf answers the real boundary of the small city's towns; graph_from_polygon the city's roads."""
    import geopandas as gpd
    import osmnx as ox
    import shapely

    from dgcoverage.core.roadnet import load_network

    towns = gpd.read_file(small_city / "towns_wgs84.geojson")
    net = load_network(small_city / "network.npz")
    calls: dict = {}

    def geocode_to_gdf(query, **kw):
        calls["query"] = query
        calls["cache"] = (ox.settings.use_cache, ox.settings.cache_folder)
        return gpd.GeoDataFrame(geometry=[towns.geometry.union_all()], crs=4326)

    def graph_from_polygon(polygon, network_type, **kw):
        calls.update(polygon=polygon, network_type=network_type, **kw)
        keep = shapely.contains_xy(polygon, net.lon, net.lat)
        return _graph_of(net, keep)

    monkeypatch.setattr(ox, "geocode_to_gdf", geocode_to_gdf)
    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(tmp_path / "cache"))
    return calls, towns, net


def test_network_from_place_grows_the_place_and_uses_our_cache(fake_osmnx, tmp_path):
    import geopandas as gpd
    import osmnx as ox
    import shapely

    calls, towns, net = fake_osmnx
    before = (ox.settings.use_cache, ox.settings.cache_folder)
    got = network_from_place("莞城街道", network_type="walk", buffer_m=2000.0)
    assert calls["query"] == "莞城街道" and calls["network_type"] == "walk"
    assert calls["cache"] == (True, str(tmp_path / "cache" / "osmnx"))
    assert (ox.settings.use_cache, ox.settings.cache_folder) == before  # restored
    assert calls["truncate_by_edge"] and calls["retain_all"]
    # the downloaded area is the towns grown by 2 km: it holds them, and its border lies 2 km from them
    utm = "EPSG:32649"
    t = gpd.GeoSeries([towns.geometry.union_all()], crs=4326).to_crs(utm).iloc[0]
    area = gpd.GeoSeries([calls["polygon"]], crs=4326).to_crs(utm).iloc[0]
    assert area.buffer(1.0).contains(t)
    border = shapely.get_coordinates(area.boundary)
    d = shapely.distance(shapely.points(border), t)
    assert d.min() == pytest.approx(2000.0, abs=5.0) and d.max() == pytest.approx(2000.0, abs=5.0)
    assert got.meta["source"] == "osmnx:莞城街道" and got.meta["buffer_m"] == 2000.0
    assert got.n_nodes == net.n_nodes and got.n_edges == net.n_edges  # every road lies within 2 km of the towns


def test_network_from_place_refuses_a_place_outside_the_clip(fake_osmnx):
    from shapely.geometry import box

    from dgcoverage.errors import NetworkError

    with pytest.raises(NetworkError, match="does not overlap the clipping area"):
        network_from_place("莞城街道", within=box(0, 0, 1, 1))


def test_cli_network_place_gives_the_figures_of_the_same_roads_from_a_file(fake_osmnx, small_city, tmp_path):
    import json

    from dgcoverage.cli.main import main

    calls, _, net = fake_osmnx
    base = ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--no-maps"]
    assert main([*base, "--network-place", "东莞市", "--out", str(tmp_path / "place")]) == 0
    assert calls["query"] == "东莞市" and calls["network_type"] == "walk"
    assert main([*base, "--out", str(tmp_path / "file")]) == 0
    a = json.loads((tmp_path / "place" / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "file" / "fitness_15" / "summary.json").read_text(encoding="utf-8"))
    assert a["inputs"]["network"]["place"] == "东莞市"
    assert a["inputs"]["network"]["clip"]["mode"] == "auto"
    assert a["results"] == b["results"] and a["supply"] == b["supply"]
    villages_a = (tmp_path / "place" / "fitness_15" / "villages.csv").read_text(encoding="utf-8-sig")
    villages_b = (tmp_path / "file" / "fitness_15" / "villages.csv").read_text(encoding="utf-8-sig")
    assert villages_a == villages_b
