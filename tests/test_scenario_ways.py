"""Streets closed by OSM way id: way ids kept by every network reader, the cache and the scenario; drawn on the page.

The tiny OSM file is the street of ``tests.test_sensitivity._line`` (nodes every 100 m along y = 0, ids 1000 +
i, a centre at x = 0) cut into ways: 501 west (x = 0..500), 502 the bridge (500..600), 503 east (600..1,200), and
504, a second way over 0..100 that the parallel-edge merge folds into 501's edge.
"""

from __future__ import annotations

import json
from dataclasses import replace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.compute.access import access_graph_from_network, snap_points
from dgcoverage.core.roadnet import RoadNetwork, load_network, save_network
from dgcoverage.errors import ConfigError, InputFileError
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.scenario import read_scenario, way_id_list
from tests._tiny import facilities_at, lonlat
from tests.test_sensitivity import _line

ELDERLY = "elderly_care_15"  # 15 min walked at 3.6 km/h: 900 m
WAYS = {501: (0, 5, "西街"), 502: (5, 6, "<桥&>"), 503: (6, 12, "东街"), 504: (0, 1, "")}


def _osm(path):
    lon, lat = lonlat([100.0 * i for i in range(13)], [0.0] * 13)
    nodes = "".join(f'<node id="{1000 + i}" version="1" lat="{lat[i]:.7f}" lon="{lon[i]:.7f}"/>\n' for i in range(13))
    ways = ""
    for wid, (a, b, name) in WAYS.items():
        nds = "".join(f'<nd ref="{1000 + i}"/>' for i in range(a, b + 1))
        kind = "service" if wid == 504 else "residential"
        tag = f'<tag k="name" v="{name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}"/>'
        ways += f'<way id="{wid}" version="1">{nds}<tag k="highway" v="{kind}"/>{tag if name else ""}</way>\n'
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n{nodes}{ways}</osm>\n", "utf-8")
    return path


def _osm_study(tmp_path):
    """``_line()`` on the network read from the tiny OSM file (cells and centres snapped to it)."""
    from dgcoverage.inputs.network import network_from_file
    from dgcoverage.pipeline.load import _snap_centres

    study = replace(_line(), settings=replace(_line().settings, elderly_share=0.25))
    net = network_from_file(_osm(tmp_path / "line.osm"), "walk", use_cache=False)
    graph = access_graph_from_network(net, 1.0, crs=study.graph.crs)
    cell_node, cell_snap = snap_points(graph, study.cell_x, study.cell_y, 500.0)
    centre_node, centre_snap = _snap_centres(study.villages, graph, 500.0)
    return replace(
        study,
        net=net,
        graph=graph,
        cell_node=cell_node,
        cell_snap_m=cell_snap,
        centre_node=centre_node,
        centre_snap_m=centre_snap,
    )


def test_the_osm_reader_keeps_each_edges_way(tmp_path):
    study = _osm_study(tmp_path)
    net = study.net
    assert net.n_nodes == 13 and net.n_edges == 24  # 12 segments both ways; 504's 0-1 merged into 501's
    pairs = {(int(net.node_id[a]), int(net.node_id[b])): int(w) for a, b, w in zip(net.u, net.v, net.way_id)}
    assert pairs[(1000, 1001)] == pairs[(1001, 1000)] == 501  # same length: the first in file order is kept
    assert pairs[(1004, 1005)] == 501 and pairs[(1005, 1006)] == pairs[(1006, 1005)] == 502
    assert pairs[(1011, 1012)] == 503
    assert net.known_way_ids().tolist() == [501, 502, 503]
    assert net.edges_of_ways([502]).sum() == 2 and net.edges_of_ways([503]).sum() == 12


def test_closing_the_bridge_by_way_id_cuts_the_east_off_like_the_polygon(tmp_path):
    from dgcoverage.outputs.ledger import write_ledger
    from dgcoverage.pipeline.scenario import run_scenario

    # way 502 is the only street between x = 500 and x = 600: closed, village 2's homes (x = 700, 800; trips of
    # 720 and 820 m, covered) and village 3's (1,120 and 1,220 m, a gap) are on a piece with no centre ->
    # unreachable; village 1 (x = 0..400) keeps its trips.  The polygon around the node at x = 500 (which closes
    # 400-500 and 500-600) cuts the same villages off: the same ledger.
    study, circle = _osm_study(tmp_path), load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    by_way = run_scenario(study, circle, fac, close_ways=[502])
    (a, c), (b, d) = lonlat([450, 550], [-10, 10])
    box = gpd.GeoDataFrame(geometry=[shapely.box(a, b, c, d)], crs=4326)
    by_polygon = run_scenario(study, circle, fac, closures=box)
    assert by_way.villages["code"].tolist() == ["441900003002", "441900003003"]
    v2, v3 = by_way.villages.iloc[0], by_way.villages.iloc[1]
    assert (v2["status_before"], v2["status_after"], v2["change"]) == ("covered", "unreachable", "no_longer_covered")
    assert (v3["status_before"], v3["status_after"], v3["change"]) == ("gap", "unreachable", "worse")
    assert (v2["covered_population_before"], v2["covered_population_after"]) == (200.0, 0.0)
    pd.testing.assert_frame_equal(by_way.villages, by_polygon.villages)
    pd.testing.assert_frame_equal(by_way.towns, by_polygon.towns)
    assert by_way.summary["city"] == by_polygon.summary["city"]
    roads = by_way.summary["edits"]["roads"]
    assert (roads["closed_ways"], roads["directed_edges_closed_by_way"], roads["directed_edges_removed"]) == (
        [502],
        2,
        2,
    )
    assert by_polygon.summary["edits"]["roads"]["directed_edges_removed"] == 4
    (closed,) = by_way.road_lines["closed"]  # both directions: one line
    assert closed["way_id"] == 502 and closed["name"] == "<桥&>"
    write_ledger(by_way.villages, by_way.towns, by_way.summary, tmp_path / "out")
    s = json.loads((tmp_path / "out" / "scenario.json").read_text(encoding="utf-8"))
    assert s["edits"]["roads"]["closed_ways"] == [502] and s["edits"]["roads"]["directed_edges_closed_by_way"] == 2
    assert "closed_edges" not in s["edits"]["roads"]


def test_close_ways_refused_for_an_unknown_id_and_for_a_network_without_way_ids(tmp_path):
    from dgcoverage.pipeline.scenario import run_scenario

    study, circle = _osm_study(tmp_path), load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    with pytest.raises(ConfigError, match=r"\[999\] are not in the road network \(3 way ids known"):
        run_scenario(study, circle, fac, close_ways=[502, 999])
    with pytest.raises(ConfigError, match=r"\[504\] are not in the road network"):  # merged into 501's edge
        run_scenario(study, circle, fac, close_ways=[504])
    hand_made = _line()  # a network built from arrays, as the synthetic demo roads are: no way ids
    assert hand_made.net.way_id is None and not hand_made.net.has_way_ids
    with pytest.raises(ConfigError, match=r"no OSM way ids .*Fix: close the streets by polygon"):
        run_scenario(hand_made, circle, fac, close_ways=[502])


def test_the_scenario_file_reads_close_ways(tmp_path):
    (tmp_path / "ways.csv").write_text("way_id,note\n503,东街\n502,dup\n", encoding="utf-8")
    (tmp_path / "plan.toml").write_text('[roads]\nclose_ways = [502, 501]\nclose_ways_file = "ways.csv"\n', "utf-8")
    spec = read_scenario(tmp_path / "plan.toml")
    assert spec.close_ways == [502, 501, 503] and spec.sources()["close_ways"] == [502, 501, 503]
    assert way_id_list("502, way/7") == [502, 7]
    for bad in ([], [1.5], ["abc"], [0], [True]):
        with pytest.raises(ConfigError, match="OSM way id"):
            way_id_list(bad, "[roads] close_ways")
    (tmp_path / "bad.csv").write_text("osm,x\n1,2\n", encoding="utf-8")
    (tmp_path / "bad.toml").write_text('[roads]\nclose_ways_file = "bad.csv"\n', "utf-8")
    with pytest.raises(InputFileError, match="no way_id column"):
        read_scenario(tmp_path / "bad.toml")


def test_way_ids_survive_the_npz_cache_and_older_archives_load(tmp_path, monkeypatch):
    from dgcoverage.inputs import cache as cache_mod
    from dgcoverage.inputs.network import network_from_file
    from dgcoverage.inputs.osm import network_filter

    osm = _osm(tmp_path / "line.osm")
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(tmp_path / "cache"))
    first = network_from_file(osm, "walk")
    key = cache_mod.network_cache_key(osm, "walk", network_filter("walk"))
    cached = cache_mod.load_cached_network(key, tmp_path / "cache")
    assert cached is not None and np.array_equal(cached.way_id, first.way_id)
    assert np.array_equal(network_from_file(osm, "walk").way_id, first.way_id)
    assert cache_mod.CACHE_FORMAT >= 2  # entries of format 1 (no way ids) get another key: parsed again
    # an archive written before way ids (no way_id array) still loads, with none
    old = RoadNetwork(first.node_id, first.lon, first.lat, first.u, first.v, first.length_m, first.name)
    net = load_network(save_network(old, tmp_path / "old.npz"))
    assert net.way_id is None and not net.has_way_ids and net.known_way_ids().size == 0
    # a way_id of the wrong length is refused naming it
    with open(tmp_path / "bad.npz", "wb") as fh:
        arrays = {k: getattr(first, k) for k in ("node_id", "lon", "lat", "u", "v", "length_m")}
        np.savez(fh, **arrays, way_id=first.way_id[:3])
    with pytest.raises(InputFileError, match="'way_id' must hold one integer per edge"):
        load_network(tmp_path / "bad.npz")


def _graph():
    """Three nodes; way 9 is 2-3; OSMnx simplified ways 7 and 8 into the edge 1-2 (``osmid`` a list), stored after."""
    G = nx.MultiDiGraph(crs="epsg:4326")
    (x0, x1, x2), (y0, y1, y2) = lonlat([0.0, 300.0, 600.0], [0.0, 0.0, 0.0])
    for n, x, y in ((1, x0, y0), (2, x1, y1), (3, x2, y2)):
        G.add_node(n, x=float(x), y=float(y), street_count=2)
    for a, b, osmid, length in ((2, 3, 9, 300.0), (3, 2, 9, 300.0), (1, 2, [7, 8], 300.0), (2, 1, [7, 8], 300.0)):
        G.add_edge(a, b, osmid=osmid, length=length, highway="residential", name="路", oneway=False, reversed=False)
    return G


def test_way_ids_from_an_osmnx_graph_and_graphml(tmp_path):
    import osmnx as ox

    from dgcoverage.inputs.network import network_from_file, network_from_graph

    net = network_from_graph(_graph())
    assert sorted(net.way_id.tolist()) == [7, 7, 9, 9]
    is_7 = (net.way_id == 7).tolist()
    assert sorted(net.way_extra.tolist()) == [[i, 8] for i, x in enumerate(is_7) if x]
    assert net.known_way_ids().tolist() == [7, 8, 9]
    # closing either way of the simplified edge closes the whole edge, both directions
    assert net.edges_of_ways([8]).tolist() == is_7 and net.edges_of_ways([7]).tolist() == is_7
    ox.save_graphml(_graph(), tmp_path / "g.graphml")
    back = network_from_file(tmp_path / "g.graphml")
    assert sorted(back.way_id.tolist()) == [7, 7, 9, 9] and back.edges_of_ways([8]).sum() == 2
    # the .npz keeps the extra pairs; a clip renumbers them (here: only 2-3 left, no pair)
    again = load_network(save_network(net, tmp_path / "g.npz"))
    assert again.way_extra.tolist() == net.way_extra.tolist()
    (a, c), (b, d) = lonlat([250.0, 650.0], [-10.0, 10.0])
    clipped = network_from_file(tmp_path / "g.npz", bbox=(a, b, c, d))
    assert clipped.way_id.tolist() == [9, 9] and clipped.way_extra is None
    (a, c), (b, d) = lonlat([-50.0, 350.0], [-10.0, 10.0])
    west = network_from_file(tmp_path / "g.npz", bbox=(a, b, c, d))
    assert west.way_id.tolist() == [7, 7] and west.way_extra.tolist() == [[0, 8], [1, 8]]  # renumbered


def test_the_scenario_page_draws_the_link_and_the_closure(tmp_path):
    """In headless Chromium (network blocked): the new link, the street closed by way id and the streets and area
    closed by a polygon are drawn, and a click on each line opens its popup (the street's name escaped)."""
    from dgcoverage.outputs.maps.scenario import scenario_map_html, scenario_page_name
    from dgcoverage.pipeline.run import run_circle
    from dgcoverage.pipeline.scenario import run_scenario
    from tests.test_maps_click_print import CLICK, _probe
    from tests.test_scenario_edits import _box, _link

    study, circle = _osm_study(tmp_path), load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    before = run_circle(study, circle, fac, supply=False, speeds=())
    sc = run_scenario(
        study,
        circle,
        fac,
        close_ways=[502],
        closures=_box(1050, -10, 1150, 10),  # the node at x = 1,100: 1,000-1,100 and 1,100-1,200 close
        links=_link(0, 0, 300, 0, minutes=1.0, name="新桥<b>"),
        before=before,
    )
    page = tmp_path / "maps" / scenario_page_name(circle.id)
    page.parent.mkdir()
    html = scenario_map_html(study, before, sc.villages, sc.after_villages, sc.summary, road_lines=sc.road_lines)
    page.write_text(html, encoding="utf-8")
    assert "新桥<b>" not in html and "新桥&lt;b&gt;" in html
    pts = [lonlat([x], [y]) for x, y in ((150.0, 0.0), (550.0, 0.0), (1025.0, 0.0), (1050.0, 8.0))]
    script = (
        # no fade: a closed popup leaves the page at once (CLICK reads the first popup on the page)
        CLICK
        + "dgMap._fadeAnimated=false;var H=[];"
        + "".join(
            f"dgMap.setView([{float(la[0])},{float(lo[0])}],17,{{animate:false}});H.push(clickAt({float(lo[0])},"
            f"{float(la[0])}));"
            for lo, la in pts
        )
        + "out('hits',H);out('lines',document.querySelectorAll('.leaflet-dgLine-pane path.leaflet-interactive')"
        ".length);out('legend',document.getElementById('dg-road-legend').parentNode.textContent);"
        "out('colours',Array.prototype.map.call(document.querySelectorAll('.leaflet-dgLine-pane path'),"
        "function(p){return p.getAttribute('stroke');}));"
    )
    r = _probe(page, script, tmp_path)
    link, bridge, east, area = r["hits"]
    assert "新增连接 new link" in link["popup"] and "新桥<b>" in link["popup"] and "1.00 分钟 min" in link["popup"]
    assert "leaflet-dgLine-pane" in link["pane"] and link["tag"] == "path"
    assert "封闭路段 closed street" in bridge["popup"] and "<桥&>" in bridge["popup"] and "502" in bridge["popup"]
    assert "封闭路段 closed street" in east["popup"] and "东街" in east["popup"]
    assert "封闭区域 closure area" in area["popup"]  # its outline (the inside is left to the village)
    # 1 link + 3 closed streets (502, and 1,000-1,100, 1,100-1,200 by the polygon) + the polygon's outline
    assert r["colours"].count("#2166ac") == 1 and r["colours"].count("#1a1a1a") == 4
    assert "新增连接 new links (1: 新桥<b>)" in r["legend"] and "OSM ways 502" in r["legend"]
    assert "封闭区域 closure areas (1)" in r["legend"]
