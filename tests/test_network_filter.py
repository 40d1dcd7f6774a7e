"""Our copy of OSMnx's network-type filters (dgcoverage.inputs.osm.NETWORK_FILTERS).

dgcoverage no longer calls OSMnx's private ``_overpass._get_network_filter``;
these tests are the cross-check that the copy still says what the installed
OSMnx says: the filter strings, their parsed clauses, the ways each one keeps
in the Helsinki extract (tests/input_data/Helsinki.osm.pbf, (c) OpenStreetMap
contributors, ODbL) and the networks built from it.  Only this file touches
the private function; when OSMnx drops it, the cross-checks skip.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import osmium
import osmnx as ox
import pytest

import dgcoverage.inputs.osm as osm
from dgcoverage.errors import NetworkError
from dgcoverage.inputs.osm import (
    DEFAULT_ACCESS,
    NETWORK_FILTERS,
    network_filter,
    network_from_osm_file,
    parse_overpass_filter,
    way_passes,
)

HELSINKI = Path(__file__).parent / "input_data" / "Helsinki.osm.pbf"
TYPES = ["walk", "bike", "drive", "drive_service", "all", "all_public"]

# (nodes, edges, ways kept) of the unsimplified Helsinki network per type;
# identical with our table and with OSMnx's function (checked below).
HELSINKI_COUNTS = {
    "walk": (5583, 12798, 2397),
    "bike": (3162, 5494, 1278),
    "drive": (1875, 2976, 913),
    "drive_service": (2352, 3798, 1098),
    "all": (6067, 13104, 2538),
    "all_public": (6034, 13024, 2521),
}
# a stricter access clause than OSMnx's default, to exercise the default_access substitution
STRICT_ACCESS = '["access"!~"private|no|customers|delivery"]'


@pytest.fixture(scope="module")
def ox_filter():
    """OSMnx's private ``_get_network_filter``; the cross-checks skip if OSMnx removed it."""
    overpass = pytest.importorskip(
        "osmnx._overpass", reason="OSMnx no longer has the private module osmnx._overpass to cross-check against"
    )
    fn = getattr(overpass, "_get_network_filter", None)
    if fn is None:
        pytest.skip(
            "OSMnx no longer has osmnx._overpass._get_network_filter; NETWORK_FILTERS cannot be "
            "cross-checked (it stays the copy of OSMnx 2.1.1's table)"
        )
    return fn


@pytest.fixture(scope="module")
def helsinki_way_tags() -> list[dict[str, str]]:
    return [dict(w.tags) for w in osmium.FileProcessor(str(HELSINKI), osmium.osm.WAY)]


def _clause_tuples(filter_string: str) -> list[tuple]:
    return [
        (c.key, c.op, c.value, None if c.regex is None else (c.regex.pattern, c.regex.flags))
        for c in parse_overpass_filter(filter_string)
    ]


# ----------------------------------------------------------------- the strings


def test_table_covers_exactly_osmnx_types(ox_filter) -> None:
    osmnx_types = set(re.findall(r'filters\["(\w+)"\]\s*=', inspect.getsource(ox_filter)))
    assert osmnx_types == set(TYPES) == set(NETWORK_FILTERS)
    with pytest.raises(ValueError):
        ox_filter("tram")


@pytest.mark.parametrize("nt", TYPES)
def test_filter_string_equals_osmnx(ox_filter, nt: str) -> None:
    ours = network_filter(nt)
    assert ours == NETWORK_FILTERS[nt] == ox_filter(nt)
    assert _clause_tuples(ours) == _clause_tuples(ox_filter(nt))
    clauses = _clause_tuples(ours)
    assert clauses[0] == ("highway", "has", None, None)
    assert clauses[1] == ("area", "!~", "yes", ("yes", re.UNICODE))
    # the access clause appears once, right after the area clause, except for "all"
    if nt == "all":
        assert DEFAULT_ACCESS not in ours and all(c[0] != "access" for c in clauses)
    else:
        assert ours.count(DEFAULT_ACCESS) == 1
        assert clauses[2] == ("access", "!~", "private", ("private", re.UNICODE))


def test_clause_counts() -> None:
    counts = {nt: len(parse_overpass_filter(network_filter(nt))) for nt in TYPES}
    assert counts == {"walk": 10, "bike": 6, "drive": 7, "drive_service": 7, "all": 3, "all_public": 5}


def test_default_access_is_osmnx_default() -> None:
    assert DEFAULT_ACCESS == '["access"!~"private"]'
    assert (
        ox.settings.default_access == DEFAULT_ACCESS
    )  # OSMnx's shipped default (no test changes it outside monkeypatch)


@pytest.mark.parametrize("access", [STRICT_ACCESS, "", '["access"!="private"]'])
def test_changed_default_access_follows_osmnx(ox_filter, monkeypatch, access: str) -> None:
    monkeypatch.setattr(ox.settings, "default_access", access)
    for nt in TYPES:
        assert network_filter(nt) == ox_filter(nt)
        assert _clause_tuples(network_filter(nt)) == _clause_tuples(ox_filter(nt))
    assert network_filter("all") == NETWORK_FILTERS["all"]
    if access == "":
        assert "access" not in network_filter("walk")


@pytest.mark.parametrize("bad", ["tram", "Walk", "", None, ["walk"]])
def test_unknown_type_names_the_allowed_ones(bad) -> None:
    with pytest.raises(NetworkError, match="unknown network_type") as info:
        network_filter(bad)
    for nt in TYPES:
        assert repr(nt) in str(info.value)
    with pytest.raises(NetworkError, match="unknown network_type"):
        network_from_osm_file(HELSINKI, bad)


def test_osm_module_uses_no_private_osmnx_api() -> None:
    tree = ast.parse(Path(osm.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(not a.name.startswith("osmnx._") for a in node.names), ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("osmnx._"), ast.dump(node)
            if node.module == "osmnx":
                assert all(not a.name.startswith("_") for a in node.names), ast.dump(node)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("ox", "osmnx"):
            assert not node.attr.startswith("_"), f"private OSMnx attribute ox.{node.attr} at line {node.lineno}"


# ----------------------------------------------------------------- way level


@pytest.mark.parametrize("nt", TYPES)
def test_every_excluded_value_is_excluded_like_osmnx(ox_filter, nt: str) -> None:
    """Tags built to trip each clause (every alternative of every ``!~`` regex) fail both filters."""
    ours, theirs = parse_overpass_filter(network_filter(nt)), parse_overpass_filter(ox_filter(nt))
    base = {"highway": "residential"}
    assert way_passes(base, ours) and way_passes(base, theirs)
    assert not way_passes({}, ours) and not way_passes({}, theirs)
    assert not way_passes({"name": "x"}, ours) and not way_passes({"name": "x"}, theirs)
    n_tripped = 0
    for clause in ours:
        if clause.op != "!~":
            continue
        for alt in clause.value.split("|"):
            tags = {**base, clause.key: alt}
            assert not way_passes(tags, ours) and not way_passes(tags, theirs), tags
            # the regex is an unanchored search, as in Overpass: a value containing it also fails
            tags = {**base, clause.key: f"x{alt}x"}
            assert way_passes(tags, ours) is way_passes(tags, theirs) is False, tags
            n_tripped += 1
    assert n_tripped == {"walk": 21, "bike": 21, "drive": 32, "drive_service": 29, "all": 11, "all_public": 13}[nt]


@pytest.mark.parametrize("access", [None, STRICT_ACCESS])
def test_helsinki_way_passes_agrees(ox_filter, helsinki_way_tags, monkeypatch, access) -> None:
    if access is not None:
        monkeypatch.setattr(ox.settings, "default_access", access)
    assert len(helsinki_way_tags) == 5130
    kept = {}
    for nt in TYPES:
        ours, theirs = parse_overpass_filter(network_filter(nt)), parse_overpass_filter(ox_filter(nt))
        mine = [way_passes(t, ours) for t in helsinki_way_tags]
        ref = [way_passes(t, theirs) for t in helsinki_way_tags]
        assert mine == ref, nt
        kept[nt] = sum(mine)
    if access is None:
        assert kept == {nt: c[2] for nt, c in HELSINKI_COUNTS.items()}
    else:  # the stricter access clause really removes ways (access=no), except from "all" (no access clause)
        assert kept == {
            "walk": 2384,
            "bike": 1266,
            "drive": 913,
            "drive_service": 1086,
            "all": 2538,
            "all_public": 2508,
        }


# ----------------------------------------------------------------- networks


def _assert_same_network(a, b) -> None:
    assert np.array_equal(a.node_id, b.node_id)
    assert np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.lon, b.lon) and np.array_equal(a.lat, b.lat)
    np.testing.assert_allclose(a.length_m, b.length_m, rtol=0, atol=1e-9)
    assert np.array_equal(a.name, b.name) and np.array_equal(a.highway, b.highway)
    assert a.meta == b.meta


@pytest.mark.parametrize("nt", TYPES)
def test_helsinki_network_equals_osmnx_filter(ox_filter, monkeypatch, nt: str) -> None:
    ours = network_from_osm_file(HELSINKI, network_type=nt)
    with monkeypatch.context() as m:
        m.setattr(osm, "network_filter", ox_filter)  # the reference: OSMnx's own filter string
        ref = network_from_osm_file(HELSINKI, network_type=nt)
    _assert_same_network(ours, ref)
    assert (ours.n_nodes, ours.n_edges, ours.meta["ways_kept"]) == HELSINKI_COUNTS[nt]
    assert ours.meta["network_type"] == nt
    assert ours.meta["bidirectional"] is (nt == "walk")
    edges = {(int(ours.node_id[a]), int(ours.node_id[b])) for a, b in zip(ours.u, ours.v)}
    ref_edges = {(int(ref.node_id[a]), int(ref.node_id[b])) for a, b in zip(ref.u, ref.v)}
    assert edges == ref_edges and len(edges) == HELSINKI_COUNTS[nt][1]


def test_helsinki_network_with_changed_access_equals_osmnx_filter(ox_filter, monkeypatch) -> None:
    monkeypatch.setattr(ox.settings, "default_access", STRICT_ACCESS)
    ours = network_from_osm_file(HELSINKI, network_type="walk")
    with monkeypatch.context() as m:
        m.setattr(osm, "network_filter", ox_filter)
        ref = network_from_osm_file(HELSINKI, network_type="walk")
    _assert_same_network(ours, ref)
    assert (ours.n_nodes, ours.n_edges, ours.meta["ways_kept"]) == (5559, 12724, 2384)
