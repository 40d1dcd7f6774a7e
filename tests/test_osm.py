"""Tests for dgcoverage.inputs.osm: networks and facilities from local OSM files.

The Helsinki extract (tests/input_data/Helsinki.osm.pbf, (c) OpenStreetMap
contributors, ODbL) is cross-checked against OSMnx itself: the pbf is
converted to OSM XML with pyosmium and loaded with ``osmnx.graph_from_xml``
and ``osmnx.features_from_xml``.
"""

from __future__ import annotations

import bz2
import math
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
from shapely.geometry import Point, box

from dgcoverage.errors import (
    ConfigError,
    DgCoverageError,
    EmptyInputError,
    InputFileError,
    InputNotFoundError,
    NetworkError,
)
from dgcoverage.inputs.osm import facilities_from_osm_file, network_from_osm_file, parse_overpass_filter, way_passes

HELSINKI = Path(__file__).parent / "input_data" / "Helsinki.osm.pbf"

# Values established with this implementation and confirmed against OSMnx below.
WALK_NODES, WALK_EDGES, WALK_KM = 5583, 12798, 167.37365
DRIVE_NODES, DRIVE_EDGES, DRIVE_KM = 1875, 2976, 33.30921

# Ways' tags that the OSMnx network filters look at (OSMnx keeps only
# settings.useful_tags_way on edges, so the cross-check must widen that list).
FILTER_KEYS = [
    "highway",
    "area",
    "access",
    "service",
    "foot",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "motor_vehicle",
    "motorcar",
    "oneway",
    "junction",
    "name",
]


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def helsinki_xml(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Convert the pbf to three XML files.

    ``raw``: everything, unchanged.  ``nw``: nodes and ways only (OSMnx's
    feature builder crashes on relations whose member ways are clipped).
    ``split``: nodes, and every way cut at node refs missing from the extract
    into separate ways (OSMnx's graph builder cannot handle edges to nodes
    without coordinates; we split ways there, so this is the equivalent input).
    """
    d = tmp_path_factory.mktemp("helsinki_xml")
    paths = {"raw": d / "raw.osm", "nw": d / "nw.osm", "split": d / "split.osm"}
    with osmium.SimpleWriter(str(paths["raw"])) as w:
        for o in osmium.FileProcessor(str(HELSINKI)):
            if o.is_node():
                w.add_node(o)
            elif o.is_way():
                w.add_way(o)
            else:
                w.add_relation(o)
    with osmium.SimpleWriter(str(paths["nw"])) as w:
        for o in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE | osmium.osm.WAY):
            w.add_node(o) if o.is_node() else w.add_way(o)
    new_id = 10**12
    with osmium.SimpleWriter(str(paths["split"])) as w:
        for o in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE | osmium.osm.WAY).with_locations():
            if o.is_node():
                w.add_node(o)
                continue
            runs: list[list[int]] = [[]]
            for nd in o.nodes:
                if nd.location.valid():
                    runs[-1].append(nd.ref)
                else:
                    runs.append([])
            for run in runs:
                if len(run) >= 2:
                    new_id += 1
                    w.add_way(osmium.osm.mutable.Way(id=new_id, nodes=run, tags=dict(o.tags)))
    return paths


@pytest.fixture(scope="module")
def walk() -> object:
    return network_from_osm_file(HELSINKI, "walk")


def _edge_dict(net) -> dict[tuple[int, int], float]:
    return {(int(net.node_id[a]), int(net.node_id[b])): float(le) for a, b, le in zip(net.u, net.v, net.length_m)}


def _osmnx_edges(xml: Path, bidirectional: bool, keep, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[int, int], float]:
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "useful_tags_way", sorted(set(ox.settings.useful_tags_way) | set(FILTER_KEYS)))
    G = ox.graph_from_xml(xml, bidirectional=bidirectional, simplify=False, retain_all=True)
    out: dict[tuple[int, int], float] = {}
    for u, v, data in G.edges(data=True):
        if keep(data):
            out[(u, v)] = min(out.get((u, v), math.inf), data["length"])
    return out


def _bad(data: dict, key: str, pattern: str) -> bool:
    return data.get(key) is not None and re.search(pattern, data[key]) is not None


def _walk_ok(d: dict) -> bool:
    """OSMnx 2.1 'walk' filter, written out by hand (independent of our parser)."""
    return "highway" in d and not (
        _bad(d, "area", "yes")
        or _bad(d, "access", "private")
        or _bad(
            d,
            "highway",
            "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
            "proposed|raceway|razed|rest_area|services",
        )
        or _bad(d, "foot", "no")
        or _bad(d, "service", "private")
        or any(_bad(d, k, "separate") for k in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right"))
    )


def _drive_ok(d: dict) -> bool:
    """OSMnx 2.1 'drive' filter, written out by hand."""
    return "highway" in d and not (
        _bad(d, "area", "yes")
        or _bad(d, "access", "private")
        or _bad(
            d,
            "highway",
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
            "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
            "rest_area|service|services|steps|track",
        )
        or _bad(d, "motor_vehicle", "no")
        or _bad(d, "motorcar", "no")
        or _bad(d, "service", "alley|driveway|emergency_access|parking|parking_aisle|private")
    )


# ----------------------------------------------------------------- Helsinki network


def test_helsinki_walk_counts(walk) -> None:
    assert walk.n_nodes == WALK_NODES
    assert walk.n_edges == WALK_EDGES
    assert walk.length_m.sum() / 1000 == pytest.approx(WALK_KM, abs=1e-3)
    assert walk.meta == {
        "source": str(HELSINKI),
        "network_type": "walk",
        "synthetic": False,
        "ways_kept": 2397,
        "missing_node_refs": 583,
        "bidirectional": True,
        "simplified": False,
        "parallel_edges_dropped": 2,
    }
    # nodes sorted unique OSM ids; every node touches an edge; no self loops or parallel edges
    assert np.all(np.diff(walk.node_id) > 0)
    assert np.array_equal(np.unique(np.concatenate([walk.u, walk.v])), np.arange(walk.n_nodes))
    assert np.all(walk.u != walk.v)
    pairs = walk.u * walk.n_nodes + walk.v
    assert np.unique(pairs).size == walk.n_edges
    # walking: every edge has its reverse, with the same length
    edges = _edge_dict(walk)
    assert all(edges[(b, a)] == le for (a, b), le in edges.items())
    # inside the extract's bounding box
    assert walk.lon.min() >= 24.93 and walk.lon.max() <= 24.96
    assert walk.lat.min() >= 60.16 and walk.lat.max() <= 60.18
    assert set(walk.highway) >= {"footway", "residential", "primary", "steps"}
    assert "cycleway" not in set(walk.highway)
    assert (walk.name != "").sum() == 3418


def test_helsinki_walk_matches_osmnx(helsinki_xml, walk, monkeypatch) -> None:
    ox_edges = _osmnx_edges(helsinki_xml["split"], True, _walk_ok, monkeypatch)
    ours = _edge_dict(walk)
    assert set(ox_edges) == set(ours)
    assert len({n for e in ox_edges for n in e}) == WALK_NODES
    assert max(abs(ox_edges[k] - ours[k]) for k in ours) < 1e-3  # metres
    assert sum(ours.values()) == pytest.approx(sum(ox_edges.values()), rel=1e-6)


def test_helsinki_drive_oneway_matches_osmnx(helsinki_xml, monkeypatch) -> None:
    drive = network_from_osm_file(HELSINKI, "drive")
    assert (drive.n_nodes, drive.n_edges) == (DRIVE_NODES, DRIVE_EDGES)
    assert drive.length_m.sum() / 1000 == pytest.approx(DRIVE_KM, abs=1e-3)
    ours = _edge_dict(drive)
    one_way = [e for e in ours if (e[1], e[0]) not in ours]
    assert len(one_way) > 100  # the oneway handling is really exercised
    ox_edges = _osmnx_edges(helsinki_xml["split"], False, _drive_ok, monkeypatch)
    assert set(ox_edges) == set(ours)
    assert max(abs(ox_edges[k] - ours[k]) for k in ours) < 1e-3
    # bidirectional=True makes every drive edge two-way
    both = _edge_dict(network_from_osm_file(HELSINKI, "drive", bidirectional=True))
    assert set(both) == set(ours) | {(b, a) for a, b in ours}


def test_helsinki_xml_and_bz2_equal_pbf(helsinki_xml, walk, tmp_path) -> None:
    from_xml = network_from_osm_file(helsinki_xml["raw"], "walk")
    bz = tmp_path / "helsinki.osm.bz2"
    bz.write_bytes(bz2.compress(helsinki_xml["raw"].read_bytes(), compresslevel=1))
    from_bz2 = network_from_osm_file(bz, "walk")
    for other in (from_xml, from_bz2):
        assert other.fingerprint() == walk.fingerprint()
        assert np.array_equal(other.name, walk.name)
        assert np.array_equal(other.highway, walk.highway)
        assert {k: v for k, v in other.meta.items() if k != "source"} == {
            k: v for k, v in walk.meta.items() if k != "source"
        }
    assert from_xml.meta["source"] == str(helsinki_xml["raw"])


def test_helsinki_edge_lengths(walk) -> None:
    i = int(np.argmax(walk.length_m))
    lon1, lat1, lon2, lat2 = (
        math.radians(c) for c in (walk.lon[walk.u[i]], walk.lat[walk.u[i]], walk.lon[walk.v[i]], walk.lat[walk.v[i]])
    )
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    expected = 2 * 6_371_008.8 * math.asin(math.sqrt(h))
    assert walk.length_m[i] == pytest.approx(expected, rel=1e-12)
    # and it agrees with the WGS84 ellipsoid to well under 1 %
    from pyproj import Geod

    _, _, geodesic = Geod(ellps="WGS84").inv(
        walk.lon[walk.u[i]], walk.lat[walk.u[i]], walk.lon[walk.v[i]], walk.lat[walk.v[i]]
    )
    assert walk.length_m[i] == pytest.approx(geodesic, rel=5e-3)
    assert 50 < walk.length_m[i] < 2000
    assert walk.length_m.min() > 0
    assert np.median(walk.length_m) < 30  # unsimplified: short segments


def test_helsinki_clip_bbox_and_polygon(walk) -> None:
    bbox = (24.940, 60.168, 24.948, 60.174)
    clipped = network_from_osm_file(HELSINKI, "walk", bbox=bbox)
    same = network_from_osm_file(HELSINKI, "walk", polygon=box(*bbox))
    assert clipped.fingerprint() == same.fingerprint()
    assert 0 < clipped.n_edges < walk.n_edges
    assert clipped.lon.min() >= bbox[0] and clipped.lon.max() <= bbox[2]
    assert clipped.lat.min() >= bbox[1] and clipped.lat.max() <= bbox[3]
    full = _edge_dict(walk)
    sub = _edge_dict(clipped)
    assert all(full[k] == le for k, le in sub.items())
    inside = {
        int(n)
        for n, x, y in zip(walk.node_id, walk.lon, walk.lat)
        if bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]
    }
    assert set(sub) == {e for e in full if e[0] in inside and e[1] in inside}
    assert clipped.meta["clip_bounds"] == list(bbox)
    with pytest.raises(NetworkError, match="inside the clipping area"):
        network_from_osm_file(HELSINKI, "walk", bbox=(0.0, 0.0, 1.0, 1.0))
    with pytest.raises(ConfigError):
        network_from_osm_file(HELSINKI, "walk", bbox=(24.95, 60.0, 24.94, 61.0))


# ----------------------------------------------------------------- Helsinki facilities


@pytest.mark.parametrize(
    ("tags", "n_nodes", "n_ways"),
    [
        ({"leisure": ["fitness_centre", "fitness_station"]}, 5, 2),
        ({"office": ["lawyer"], "amenity": ["courthouse"]}, 6, 1),
        ({"amenity": ["library"]}, 5, 2),
        ({"amenity": "social_facility"}, 2, 0),
        ({"leisure": "pitch"}, 0, 6),
    ],
)
def test_helsinki_facility_counts(tags, n_nodes, n_ways) -> None:
    gdf = facilities_from_osm_file(HELSINKI, tags)
    kinds = gdf["facility_id"].str.split("/").str[0]
    assert (kinds == "node").sum() == n_nodes
    assert (kinds == "way").sum() == n_ways
    assert len(gdf) == n_nodes + n_ways
    allowed = {f"{k}={v}" for k, vals in tags.items() for v in ([vals] if isinstance(vals, str) else vals)}
    assert set(gdf["osm_tag"]) <= allowed


@pytest.mark.parametrize(
    "tags",
    [
        {"leisure": ["fitness_centre", "fitness_station"]},
        {"office": ["lawyer"], "amenity": ["courthouse"]},
        {"amenity": ["library"]},
    ],
)
def test_helsinki_facilities_match_osmnx(helsinki_xml, tags) -> None:
    import osmnx as ox

    theirs = ox.features_from_xml(helsinki_xml["nw"], tags=tags)
    ours = facilities_from_osm_file(HELSINKI, tags)
    assert len(ours) == len(theirs) == 7
    assert list(ours["facility_id"]) == sorted(f"{kind}/{osm_id}" for kind, osm_id in theirs.index)
    centroids = {f"{kind}/{osm_id}": g.centroid for (kind, osm_id), g in theirs.geometry.items()}
    for fid, point in zip(ours["facility_id"], ours.geometry):
        assert point.distance(centroids[fid]) < 1e-9
    their_names = {
        f"{kind}/{osm_id}": (name if isinstance(name, str) else "") for (kind, osm_id), name in theirs["name"].items()
    }
    assert dict(zip(ours["facility_id"], ours["name"])) == their_names


def test_helsinki_facility_frame_shape() -> None:
    gdf = facilities_from_osm_file(HELSINKI, {"amenity": ["library"]})
    assert list(gdf.columns) == ["facility_id", "name", "osm_tag", "source", "geometry"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["synthetic"] is False
    assert list(gdf["facility_id"]) == sorted(gdf["facility_id"])
    assert set(gdf["source"]) == {str(HELSINKI)}
    assert set(gdf.geometry.geom_type) == {"Point"}
    row = gdf.set_index("facility_id").loc["way/596937289"]
    assert row["name"] == "Helsingin keskustakirjasto Oodi"
    assert row["osm_tag"] == "amenity=library"
    assert row.geometry.distance(Point(24.938, 60.1738)) < 0.002  # Oodi, next to Kansalaistori


def test_helsinki_name_keywords() -> None:
    libraries = facilities_from_osm_file(HELSINKI, {"amenity": ["library"]})
    by_name = facilities_from_osm_file(HELSINKI, {}, name_keywords=["kirjasto"])
    # every library but "Topelia" has "kirjasto" (library) in its name
    assert list(by_name["facility_id"]) == [f for f in libraries["facility_id"] if f != "node/1007994731"]
    assert len(by_name) == 6
    assert set(by_name["osm_tag"]) == {"name"}
    stock = facilities_from_osm_file(HELSINKI, {}, name_keywords=["STOCKMANN"])
    assert list(stock["facility_id"]) == [
        "node/1244282835",
        "node/5779372562",
        "node/6049453017",
        "node/6241421796",
        "way/122595241",
    ]
    both = facilities_from_osm_file(HELSINKI, {"amenity": ["library"]}, name_keywords=["Stockmann"])
    assert len(both) == 12
    assert (both["osm_tag"] == "amenity=library").sum() == 7
    assert (both["osm_tag"] == "name").sum() == 5


def test_helsinki_no_match_is_empty_frame() -> None:
    gdf = facilities_from_osm_file(HELSINKI, {"amenity": ["nursing_home"]})
    assert len(gdf) == 0
    assert list(gdf.columns) == ["facility_id", "name", "osm_tag", "source", "geometry"]
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.attrs["synthetic"] is False
    with pytest.raises(EmptyInputError):
        facilities_from_osm_file(HELSINKI, {})


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "func", [lambda p: network_from_osm_file(p), lambda p: facilities_from_osm_file(p, {"amenity": True})]
)
def test_missing_and_corrupt_files(tmp_path, func) -> None:
    missing = tmp_path / "nope.osm.pbf"
    with pytest.raises(InputNotFoundError) as info:
        func(missing)
    assert isinstance(info.value, FileNotFoundError)

    truncated = tmp_path / "truncated.osm.pbf"
    truncated.write_bytes(HELSINKI.read_bytes()[:10_240])
    with pytest.raises(InputFileError, match="re-download") as info:
        func(truncated)
    assert "truncated.osm.pbf" in str(info.value)

    text = tmp_path / "notes.osm.pbf"
    text.write_text("this is a text file, not a PBF\n" * 20)
    with pytest.raises(InputFileError, match="corrupt or truncated") as info:
        func(text)
    assert "notes.osm.pbf" in str(info.value)

    empty = tmp_path / "empty.osm"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        func(empty)

    broken_xml = tmp_path / "broken.osm"
    broken_xml.write_text("<osm version='0.6'><node id='1' lat='60' lon=")
    with pytest.raises(InputFileError, match="broken.osm"):
        func(broken_xml)

    odd = tmp_path / "data.txt"
    shutil.copy(HELSINKI, odd)
    with pytest.raises(InputFileError, match="unknown OSM file type"):
        func(odd)


def test_unknown_network_type() -> None:
    with pytest.raises(NetworkError, match="unknown network_type"):
        network_from_osm_file(HELSINKI, "boat")


# ----------------------------------------------------------------- hand-written XML

TINY = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="60.0000" lon="24.0000"/>
  <node id="2" lat="60.0010" lon="24.0000"/>
  <node id="3" lat="60.0020" lon="24.0000"/>
  <node id="4" lat="60.0020" lon="24.0020"/>
  <node id="5" lat="60.0010" lon="24.0020"/>
  <node id="6" lat="60.0030" lon="24.0000"/>
  <node id="7" lat="60.0040" lon="24.0010"/>
  <node id="8" lat="60.0030" lon="24.0010"/>
  <node id="20" lat="60.0100" lon="24.0100">
    <tag k="amenity" v="library"/><tag k="name" v="Central Library"/>
  </node>
  <node id="21" lat="60.0110" lon="24.0110">
    <tag k="amenity" v="clinic"/><tag k="name:zh" v="东城社区卫生服务站"/>
  </node>
  <node id="31" lat="60.0200" lon="24.0200"/>
  <node id="32" lat="60.0200" lon="24.0240"/>
  <node id="33" lat="60.0240" lon="24.0240"/>
  <node id="34" lat="60.0240" lon="24.0200"/>
  <node id="41" lat="60.0210" lon="24.0210"/>
  <node id="42" lat="60.0210" lon="24.0220"/>
  <node id="43" lat="60.0220" lon="24.0220"/>
  <node id="44" lat="60.0220" lon="24.0210"/>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/><tag k="name" v="Main Street"/></way>
  <way id="101"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="footway"/><tag k="foot" v="no"/></way>
  <way id="102"><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="103"><nd ref="3"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="104"><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="6"/>
    <tag k="highway" v="tertiary"/><tag k="junction" v="roundabout"/></way>
  <way id="105"><nd ref="8"/><nd ref="99"/><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="residential"/></way>
  <way id="106"><nd ref="1"/><nd ref="4"/>
    <tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
  <way id="107"><nd ref="1"/><nd ref="2"/><nd ref="5"/><nd ref="1"/><tag k="building" v="yes"/></way>
  <way id="108"><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="service"/><tag k="access" v="private"/></way>
  <way id="110"><nd ref="31"/><nd ref="32"/><nd ref="33"/></way>
  <way id="111"><nd ref="33"/><nd ref="34"/><nd ref="31"/></way>
  <way id="112"><nd ref="41"/><nd ref="42"/><nd ref="43"/><nd ref="44"/><nd ref="41"/></way>
  <way id="113"><nd ref="1"/><nd ref="2"/><nd ref="5"/><nd ref="4"/><nd ref="1"/>
    <tag k="amenity" v="library"/><tag k="name" v="Square Library"/></way>
  <relation id="200">
    <member type="way" ref="110" role="outer"/><member type="way" ref="111" role="outer"/>
    <member type="way" ref="112" role="inner"/>
    <tag k="type" v="multipolygon"/><tag k="amenity" v="community_centre"/><tag k="name" v="Hall"/>
  </relation>
</osm>
"""


@pytest.fixture()
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.osm"
    p.write_text(TINY, encoding="utf-8")
    return p


def test_tiny_drive_vs_walk_edges(tiny) -> None:
    drive = network_from_osm_file(tiny, "drive")
    assert set(_edge_dict(drive)) == {
        (1, 2),
        (2, 3),  # oneway=yes: forward only
        (6, 3),  # oneway=-1: reverse only
        (6, 7),
        (7, 8),
        (8, 6),  # roundabout: one-way by default
        (4, 5),
        (5, 4),  # way 105 after the missing node 99 (8-99 dropped)
    }
    assert drive.n_edges == 8
    assert drive.meta["ways_kept"] == 4 and drive.meta["missing_node_refs"] == 1
    walk = network_from_osm_file(tiny, "walk")
    undirected = {(1, 2), (2, 3), (3, 6), (6, 7), (7, 8), (6, 8), (4, 5)}  # no foot=no, area, private
    assert set(_edge_dict(walk)) == undirected | {(b, a) for a, b in undirected}
    assert walk.n_nodes == 8 and list(walk.node_id) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert walk.meta["parallel_edges_dropped"] == 2  # 4-5 from ways 102 and 105
    hw = {(int(walk.node_id[a]), int(walk.node_id[b])): h for a, b, h in zip(walk.u, walk.v, walk.highway)}
    assert hw[(4, 5)] == "footway"  # first way in file order wins a tie
    names = {(int(drive.node_id[a]), int(drive.node_id[b])): n for a, b, n in zip(drive.u, drive.v, drive.name)}
    assert names[(1, 2)] == "Main Street" and names[(6, 7)] == ""
    # a walk network that honours oneway tags
    walk_oneway = network_from_osm_file(tiny, "walk", bidirectional=False)
    e = set(_edge_dict(walk_oneway))
    assert (1, 2) in e and (2, 1) not in e and (6, 3) in e and (3, 6) not in e
    assert {(4, 5), (5, 4)} <= e
    lengths = _edge_dict(drive)
    assert lengths[(1, 2)] == pytest.approx(111.195, abs=0.01)  # 0.001 deg of latitude


def test_tiny_no_roads(tmp_path) -> None:
    p = tmp_path / "buildings.osm"
    p.write_text("""<?xml version="1.0"?><osm version="0.6">
      <node id="1" lat="60" lon="24"/><node id="2" lat="60.001" lon="24"/><node id="3" lat="60" lon="24.001"/>
      <way id="9"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/></way>
      <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="cycleway"/></way>
    </osm>""")
    with pytest.raises(NetworkError, match="no OSM way passes"):
        network_from_osm_file(p, "walk")
    assert network_from_osm_file(p, "bike").n_edges == 2
    assert issubclass(NetworkError, DgCoverageError)


def test_tiny_facilities(tiny) -> None:
    gdf = facilities_from_osm_file(tiny, {"amenity": ["library", "community_centre"]}, name_keywords=["卫生服务"])
    assert list(gdf["facility_id"]) == ["node/20", "node/21", "relation/200", "way/113"]
    assert list(gdf["osm_tag"]) == ["amenity=library", "name", "amenity=community_centre", "amenity=library"]
    assert list(gdf["name"]) == ["Central Library", "东城社区卫生服务站", "Hall", "Square Library"]
    pts = dict(zip(gdf["facility_id"], gdf.geometry))
    assert pts["node/20"].equals(Point(24.01, 60.01))
    # way 113 is the square 24.000-24.002 x 60.000-60.002 -> its centre
    assert pts["way/113"].distance(Point(24.001, 60.001)) < 1e-9
    # relation: 4x4 outer square (0.001 deg units) minus a 1x1 hole at (1..2, 1..2)
    cx = 24.02 + 0.001 * (16 * 2 - 1 * 1.5) / 15
    cy = 60.02 + 0.001 * (16 * 2 - 1 * 1.5) / 15
    assert pts["relation/200"].distance(Point(cx, cy)) < 1e-9
    # True = any value; bbox clipping
    any_amenity = facilities_from_osm_file(tiny, {"amenity": True})
    assert len(any_amenity) == 4
    assert "amenity=clinic" in set(any_amenity["osm_tag"])
    clipped = facilities_from_osm_file(tiny, {"amenity": True}, bbox=(24.005, 60.005, 24.015, 60.015))
    assert list(clipped["facility_id"]) == ["node/20", "node/21"]
    with pytest.raises(ConfigError):
        facilities_from_osm_file(tiny, {"amenity": 3})


def test_overpass_filter_parser() -> None:
    clauses = parse_overpass_filter('["highway"]["area"!~"yes"]["access"!="no"]["name"~"^Main",i][!"foot"]["x"="1"]')
    assert [c.op for c in clauses] == ["has", "!~", "!=", "~", "not_has", "="]
    ok = {"highway": "residential", "name": "main street", "x": "1"}
    assert way_passes(ok, clauses)
    assert not way_passes({**ok, "area": "yes"}, clauses)
    assert not way_passes({**ok, "access": "no"}, clauses)
    assert not way_passes({**ok, "name": "Side street"}, clauses)
    assert not way_passes({**ok, "foot": "yes"}, clauses)
    assert not way_passes({**ok, "x": "2"}, clauses)
    assert not way_passes({k: v for k, v in ok.items() if k != "highway"}, clauses)
    with pytest.raises(ConfigError):
        parse_overpass_filter('["highway"](around:5)')


def test_road_class_candidates_and_road_names_on_real_osm():
    """Siting candidates from OSM road classes, and street names for the planner list, on the Helsinki extract."""
    from types import SimpleNamespace

    from dgcoverage.compute.access import access_graph_from_network
    from dgcoverage.pipeline.ranking import node_road_names
    from dgcoverage.pipeline.sites import road_class_candidates

    net = network_from_osm_file(HELSINKI, "walk")
    study = SimpleNamespace(net=net, graph=access_graph_from_network(net, 1.0))
    df = road_class_candidates(study, ["primary"])
    primary = net.highway == "primary"
    ends = set(net.u[primary].tolist()) | set(net.v[primary].tolist())
    assert set(df["node"].tolist()) == ends and len(df) == 259
    assert df["site_id"].str.startswith("road:").all()
    names = node_road_names(net, df["node"].to_numpy())
    assert (names != "").all() and "Mannerheimintie" in set(names)
    # a node's name is the name of an edge that really touches it
    i = int(df["node"].iloc[0])
    touching = set(net.name[(net.u == i) | (net.v == i)].tolist())
    assert names[0] in touching
