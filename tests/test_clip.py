"""Clipping a road network on the way in: ``network_from_file(bbox=, polygon=)`` and ``--clip`` / ``--network-place``.

The clipping rule (that of :func:`dgcoverage.inputs.osm.network_from_osm_file`): an edge is kept when both of its
ends lie inside the area (or on its border); the nodes kept are those ending a kept edge.  On the real
Helsinki extract this equals parsing a file pre-cut with pyosmium to the nodes inside the box (ways are
written whole; the parser drops the node references missing from the file and splits the ways there).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import osmium
import pytest
from shapely.geometry import box

from dgcoverage.cli.main import main
from dgcoverage.core.roadnet import save_network
from dgcoverage.errors import DgCoverageError, NetworkError
from dgcoverage.inputs import cache as cache_mod
from dgcoverage.inputs.clip import buffered_towns, circle_reach_m, parse_clip
from dgcoverage.inputs.network import clip_description, network_from_file
from dgcoverage.inputs.osm import network_filter

BBOX = (24.940, 60.167, 24.948, 60.174)  # W, S, E, N: the middle of the Helsinki extract


def _arrays(net):
    return (net.node_id, net.lon, net.lat, net.u, net.v, net.length_m, net.name, net.highway)


def _assert_same(a, b):
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _precut(src: Path, dst: Path, bbox) -> None:
    """Write the nodes inside ``bbox`` and every way (whole) to ``dst``, with pyosmium."""
    w, s, e, n = bbox
    writer = osmium.SimpleWriter(str(dst))
    try:
        for obj in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY):
            if obj.is_node():
                if w <= obj.location.lon <= e and s <= obj.location.lat <= n:
                    writer.add_node(obj)
            else:
                writer.add_way(obj)
    finally:
        writer.close()


def test_bbox_clip_equals_a_precut_file(helsinki_pbf, tmp_path):
    cut = tmp_path / "cut.osm.pbf"
    _precut(helsinki_pbf, cut, BBOX)
    clipped = network_from_file(helsinki_pbf, "walk", bbox=BBOX)
    whole = network_from_file(helsinki_pbf, "walk")
    from_cut = network_from_file(cut, "walk", use_cache=False)
    assert 0 < clipped.n_edges < whole.n_edges
    assert from_cut.meta["missing_node_refs"] > 0  # ways really were cut at the box
    _assert_same(clipped, from_cut)
    assert clipped.meta["clip"] == clip_description(bbox=BBOX)
    # ways with no node in the box were dropped while reading (memory follows the clip, not the file)
    assert clipped.meta["ways_outside_clip_box"] > 0
    assert clipped.meta["ways_kept"] + clipped.meta["ways_outside_clip_box"] == whole.meta["ways_kept"]
    # the same clip as a polygon, and a saved .npz clipped afterwards, give the same network
    _assert_same(clipped, network_from_file(helsinki_pbf, "walk", polygon=box(*BBOX)))
    saved = save_network(whole, tmp_path / "whole.npz")
    _assert_same(clipped, network_from_file(saved, bbox=BBOX))


def test_clip_is_part_of_the_cache_key(helsinki_pbf, tmp_path, monkeypatch):
    f = network_filter("walk")
    plain = cache_mod.network_cache_key(helsinki_pbf, "walk", f)
    bbox_key = cache_mod.network_cache_key(helsinki_pbf, "walk", f, clip=clip_description(bbox=BBOX))
    poly_key = cache_mod.network_cache_key(helsinki_pbf, "walk", f, clip=clip_description(polygon=box(*BBOX)))
    assert len({plain, bbox_key, poly_key}) == 3
    other = (BBOX[0], BBOX[1], BBOX[2], BBOX[3] + 0.001)
    assert bbox_key != cache_mod.network_cache_key(helsinki_pbf, "walk", f, clip=clip_description(bbox=other))
    # through the cache: clipped, then whole, then clipped again are never confused
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(tmp_path / "cache"))
    a = network_from_file(helsinki_pbf, "walk", bbox=BBOX)
    b = network_from_file(helsinki_pbf, "walk")
    c = network_from_file(helsinki_pbf, "walk", bbox=BBOX)
    assert len(list((tmp_path / "cache").glob("network-*.npz"))) == 2
    assert a.n_edges == c.n_edges < b.n_edges
    assert "clip" not in b.meta


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ("auto", None)), ("none", ("none", None)), (" AUTO ", ("auto", None)), ("1,2,3,4", ("bbox", (1, 2, 3, 4)))],
)
def test_parse_clip(value, expected):
    assert parse_clip(value) == expected


@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "3,2,1,4", "1,2,3,95", "nowhere.geojson"])
def test_bad_clip_is_one_line_exit_2(value, tmp_path, capsys):
    with pytest.raises(DgCoverageError):
        parse_clip(value)
    rc = main(["run", "--circle", "fitness_15", "--clip", value, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("dgcoverage: error: --clip") and "\n" not in err


def test_network_and_place_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--circle", "fitness_15", "--network", "x.osm.pbf", "--network-place", "东莞市"])
    assert exc.value.code == 2


def test_auto_reach_and_buffer():
    from dgcoverage.inputs.villages import dongguan_towns

    assert circle_reach_m([SimpleNamespace(minutes=30, speed_kmh=12.0)]) == pytest.approx(6000.0)
    assert circle_reach_m(
        [SimpleNamespace(minutes=15, speed_kmh=4.0), SimpleNamespace(minutes=30, speed_kmh=12.0)]
    ) == pytest.approx(6000.0)
    towns = dongguan_towns()
    towns = towns[towns["has_polygon"]].iloc[:3]
    area = buffered_towns(towns, 6000.0)
    assert area.geom_type in ("Polygon", "MultiPolygon")
    import geopandas as gpd

    utm = towns.estimate_utm_crs()
    union = towns.to_crs(utm).geometry.union_all()
    projected = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(utm).iloc[0]
    assert projected.buffer(1.0).contains(union.buffer(6000.0))  # every point within 6 km is inside
    assert union.buffer(6300.0).contains(projected)  # and nothing much farther


def test_cli_records_the_clip(small_city, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--out", str(out), "--no-maps"]
    rc = main([*argv, "--network", str(small_city / "network.npz"), "--clip", "auto"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "clip: auto: 2 study towns buffered by" in printed
    rec = json.loads((out / "fitness_15" / "summary.json").read_text())["inputs"]["network"]
    assert rec["path"] == str(small_city / "network.npz") and len(rec["sha256"]) == 64
    assert rec["clip"]["mode"] == "auto" and rec["clip"]["towns"] == 2
    assert rec["clip"]["key"].startswith("polygon:") and rec["fingerprint"]


@pytest.mark.network
def test_network_place_downloads_and_clips(tmp_path):
    from dgcoverage.cli.common import network_from_args

    args = SimpleNamespace(network=None, network_place="Kamppi, Helsinki, Finland", clip=",".join(map(str, BBOX)))
    net, record = network_from_args(args, "walk", [])
    assert net.n_edges > 10
    assert np.all((net.lon >= BBOX[0]) & (net.lon <= BBOX[2]) & (net.lat >= BBOX[1]) & (net.lat <= BBOX[3]))
    assert record["place"] == "Kamppi, Helsinki, Finland" and record["clip"]["mode"] == "bbox"


def test_clip_outside_the_file_says_so(helsinki_pbf):
    with pytest.raises(NetworkError, match="no road edge lies inside the clipping area"):
        network_from_file(helsinki_pbf, "walk", bbox=(113.7, 23.0, 113.8, 23.1), use_cache=False)
