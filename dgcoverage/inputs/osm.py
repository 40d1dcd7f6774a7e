"""Read road networks and facilities straight from local OSM files.

Both readers stream ``.osm`` / ``.osm.pbf`` / ``.osm.bz2`` / ``.osm.gz`` files
with pyosmium, so no Overpass server and no internet is needed.

:func:`network_from_osm_file`
    Keeps the ways that pass OSMnx's Overpass filter for the requested
    network type (:data:`NETWORK_FILTERS`, a copy of OSMnx's table checked
    against OSMnx by the tests, evaluated here, so the way selection equals
    OSMnx's) and builds an *unsimplified*
    :class:`~dgcoverage.core.roadnet.RoadNetwork`: one directed edge per pair of
    consecutive way nodes, oneway tags handled like OSMnx does.
:func:`facilities_from_osm_file`
    Collects nodes, ways and multipolygon/boundary relations by tag or by a
    keyword in their name, as points.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.roadnet import RoadNetwork, haversine_m
from ..errors import ConfigError, EmptyInputError, InputFileError, InputNotFoundError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "NETWORK_FILTERS",
    "network_filter",
    "network_from_osm_file",
    "facilities_from_osm_file",
    "parse_overpass_filter",
    "way_passes",
]

#: libosmium's marker for an undefined coordinate (node missing from the extract).
_UNDEFINED_COORD = 2_147_483_647
#: OSM relation types that OSMnx's ``features`` module turns into (multi)polygons.
_RELATION_TYPES = frozenset({"multipolygon", "boundary"})
#: Values of ``oneway`` that OSMnx treats as one-way / as reversed (osmnx.graph._add_paths).
_ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
_REVERSED_VALUES = frozenset({"-1", "reverse", "T"})
_FACILITY_COLUMNS = ["facility_id", "name", "osm_tag", "source"]
_REEXPORT_FIX = (
    "re-download or re-export the extract (e.g. `osmium cat in.osm.pbf -o out.osm.pbf`) "
    "and check that the copy is complete."
)


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class _Clause:
    """One ``[...]`` condition of an Overpass tag filter."""

    key: str
    op: str  # "has", "not_has", "=", "!=", "~", "!~"
    value: str | None = None
    regex: re.Pattern[str] | None = None

    def test(self, tags: Any) -> bool:
        """Return whether an object with ``tags`` (anything with ``.get``) satisfies the clause."""
        val = tags.get(self.key)
        op = self.op
        if op == "!~":
            return val is None or self.regex.search(val) is None  # type: ignore[union-attr]
        if op == "has":
            return val is not None
        if op == "~":
            return val is not None and self.regex.search(val) is not None  # type: ignore[union-attr]
        if op == "=":
            return val == self.value
        if op == "!=":
            return val != self.value
        return val is None  # not_has


_CLAUSE_RE = re.compile(
    r"""\[\s*
        (?P<neg>!)?\s*"(?P<key>(?:[^"\\]|\\.)*)"\s*
        (?:(?P<op>!=|!~|=|~)\s*"(?P<val>(?:[^"\\]|\\.)*)"\s*(?P<flag>,\s*i)?\s*)?
        \]""",
    re.VERBOSE,
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_overpass_filter(filter_string: str) -> list[_Clause]:
    """Parse an Overpass QL tag filter such as OSMnx's network filters.

    Parameters
    ----------
    filter_string
        Concatenated conditions, e.g. ``'["highway"]["area"!~"yes"]'``.
        Supported forms: ``["k"]`` (key present), ``[!"k"]`` (key absent),
        ``["k"="v"]``, ``["k"!="v"]`` (true when the key is absent),
        ``["k"~"re"]`` (key present and its value matches), ``["k"!~"re"]``
        (key absent or value does not match) and the ``,i`` case-insensitive
        flag.  Regular expressions are unanchored searches, as in Overpass.

    Returns
    -------
    list
        The clauses, all of which must hold for an object to pass.

    Raises
    ------
    ConfigError
        When part of the string is not a recognised condition.
    """
    clauses: list[_Clause] = []
    pos = 0
    text = filter_string.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _CLAUSE_RE.match(text, pos)
        if m is None:
            raise ConfigError(
                f"cannot parse Overpass filter {filter_string!r} at position {pos}: {text[pos : pos + 40]!r}"
            )
        key = _unescape(m["key"])
        op = m["op"]
        if op is None:
            clauses.append(_Clause(key, "not_has" if m["neg"] else "has"))
        else:
            if m["neg"]:
                raise ConfigError(f"unsupported Overpass condition {m.group(0)!r} in {filter_string!r}")
            val = _unescape(m["val"])
            flags = re.IGNORECASE if m["flag"] else 0
            if op in ("~", "!~"):
                clauses.append(_Clause(key, op, val, re.compile(val, flags)))
            elif flags:
                clauses.append(
                    _Clause(key, "~" if op == "=" else "!~", val, re.compile("^" + re.escape(val) + "$", flags))
                )
            else:
                clauses.append(_Clause(key, op, val))
        pos = m.end()
    return clauses


def way_passes(tags: Any, clauses: Sequence[_Clause]) -> bool:
    """Return whether an object's tags satisfy every clause of a parsed filter.

    Parameters
    ----------
    tags
        A mapping (or pyosmium ``TagList``) with a ``get`` method.
    clauses
        Output of :func:`parse_overpass_filter`.

    Returns
    -------
    bool
    """
    return all(clause.test(tags) for clause in clauses)


#: OSMnx's default ``settings.default_access`` (OSMnx 2.1.1): the access clause
#: that every network type except ``"all"`` carries.  :func:`network_filter`
#: swaps in the current ``osmnx.settings.default_access`` in its place.
DEFAULT_ACCESS = '["access"!~"private"]'

#: Overpass way filters per network type, as data.  A copy of the table built
#: in ``osmnx._overpass._get_network_filter`` of OSMnx 2.1.1 (a private
#: function, so it is not imported), with ``settings.default_access`` at its
#: default :data:`DEFAULT_ACCESS`.  tests/test_network_filter.py checks that
#: every entry equals the installed OSMnx's string, and that networks built
#: from the Helsinki extract are identical with either source.
NETWORK_FILTERS: dict[str, str] = {
    # public drivable streets: no service roads, no motor=no, no non-service roads providing services
    "drive": (
        '["highway"]["area"!~"yes"]'
        + DEFAULT_ACCESS
        + '["highway"!~"abandoned|bridleway|bus_guideway|construction|corridor|'
        "cycleway|elevator|escalator|footway|no|path|pedestrian|planned|platform|"
        'proposed|raceway|razed|rest_area|service|services|steps|track"]'
        '["motor_vehicle"!~"no"]["motorcar"!~"no"]'
        '["service"!~"alley|driveway|emergency_access|parking|parking_aisle|private"]'
    ),
    # drive plus service roads, except some kinds of service
    "drive_service": (
        '["highway"]["area"!~"yes"]'
        + DEFAULT_ACCESS
        + '["highway"!~"abandoned|bridleway|bus_guideway|construction|corridor|'
        "cycleway|elevator|escalator|footway|no|path|pedestrian|planned|platform|"
        'proposed|raceway|razed|rest_area|services|steps|track"]'
        '["motor_vehicle"!~"no"]["motorcar"!~"no"]'
        '["service"!~"emergency_access|parking|parking_aisle|private"]'
    ),
    # public walkable ways: no cycleways, motorways, foot=no or ways drawn separately as sidewalks
    "walk": (
        '["highway"]["area"!~"yes"]'
        + DEFAULT_ACCESS
        + '["highway"!~"abandoned|bus_guideway|construction|cycleway|motor|no|planned|'
        'platform|proposed|raceway|razed|rest_area|services"]'
        '["foot"!~"no"]["service"!~"private"]'
        '["sidewalk"!~"separate"]["sidewalk:both"!~"separate"]'
        '["sidewalk:left"!~"separate"]["sidewalk:right"!~"separate"]'
    ),
    # public bikeable ways: no footways, motorways or bicycle=no
    "bike": (
        '["highway"]["area"!~"yes"]'
        + DEFAULT_ACCESS
        + '["highway"!~"abandoned|bus_guideway|construction|corridor|elevator|'
        "escalator|footway|motor|no|planned|platform|proposed|raceway|razed|"
        'rest_area|services|steps"]'
        '["bicycle"!~"no"]["service"!~"private"]'
    ),
    # every public way in use
    "all_public": (
        '["highway"]["area"!~"yes"]'
        + DEFAULT_ACCESS
        + '["highway"!~"abandoned|construction|no|planned|platform|proposed|raceway|'
        'razed|rest_area|services"]'
        '["service"!~"private"]'
    ),
    # every way in use, private ones included (no access clause at all)
    "all": (
        '["highway"]["area"!~"yes"]["highway"!~"abandoned|construction|no|planned|'
        'platform|proposed|raceway|razed|rest_area|services"]'
    ),
}


def network_filter(network_type: str) -> str:
    """Return the Overpass way filter that OSMnx uses for ``network_type``.

    Taken from :data:`NETWORK_FILTERS`; for every type but ``"all"`` the
    :data:`DEFAULT_ACCESS` clause is replaced by the current (public)
    ``osmnx.settings.default_access``, as OSMnx does.

    Parameters
    ----------
    network_type
        ``"walk"``, ``"bike"``, ``"drive"``, ``"drive_service"``, ``"all"``
        or ``"all_public"``.

    Returns
    -------
    str
        E.g. ``'["highway"]["area"!~"yes"]["access"!~"private"]...'``.

    Raises
    ------
    NetworkError
        For any other network type.
    """
    try:
        filter_string = NETWORK_FILTERS[network_type]
    except (KeyError, TypeError):
        raise NetworkError(
            f"unknown network_type {network_type!r}; use one of 'walk', 'bike', "
            "'drive', 'drive_service', 'all', 'all_public'."
        ) from None
    if network_type == "all":
        return filter_string
    import osmnx as ox

    access = ox.settings.default_access
    if access == DEFAULT_ACCESS:
        return filter_string
    return filter_string.replace(DEFAULT_ACCESS, access, 1)


def _network_clauses(network_type: str) -> list[_Clause]:
    return parse_overpass_filter(network_filter(network_type))


# --------------------------------------------------------------------------- file access


def _check_path(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, what)
    if path.is_dir():
        raise InputFileError(path, f"{what} is a directory, not a file.", "pass an .osm or .osm.pbf file.")
    if path.stat().st_size == 0:
        raise InputFileError(path, f"{what} is empty (0 bytes).", _REEXPORT_FIX)
    return path


def _osmium_file(path: Path) -> Any:
    import osmium

    name = path.name.lower()
    for suffix, fmt in ((".xml", "osm"), (".xml.gz", "osm.gz"), (".xml.bz2", "osm.bz2")):
        if name.endswith(suffix):
            return osmium.io.File(str(path), fmt)
    return osmium.io.File(str(path))


def _read_error(path: Path, exc: BaseException) -> InputFileError:
    msg = str(exc).strip() or type(exc).__name__
    if "detect file format" in msg:
        return InputFileError(
            path, f"unknown OSM file type ({msg}).", "use a .osm, .osm.pbf, .osm.bz2 or .osm.gz file."
        )
    return InputFileError(path, f"cannot read this OSM file; it looks corrupt or truncated ({msg}).", _REEXPORT_FIX)


def _clip_geometry(bbox: Sequence[float] | None, polygon: BaseGeometry | None) -> BaseGeometry | None:
    if bbox is not None and polygon is not None:
        raise ConfigError("give either bbox or polygon, not both")
    if bbox is not None:
        from shapely.geometry import box

        try:
            west, south, east, north = (float(c) for c in bbox)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}") from exc
        if not (west < east and south < north):
            raise ConfigError(f"bbox must be (west, south, east, north) with west<east and south<north, got {bbox!r}")
        return box(west, south, east, north)
    if polygon is not None:
        if polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
            raise ConfigError("polygon must be a non-empty shapely Polygon or MultiPolygon in WGS84 lon/lat")
        return polygon
    return None


def _inside(geom: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    import shapely

    shapely.prepare(geom)
    return np.asarray(shapely.intersects_xy(geom, lon, lat), dtype=bool)


# --------------------------------------------------------------------------- network


def _is_one_way(tags: Any, bidirectional: bool, all_oneway: bool) -> bool:
    """Mirror ``osmnx.graph._is_path_one_way``."""
    if all_oneway:
        return True
    if bidirectional:
        return False
    oneway = tags.get("oneway")
    if oneway is not None and oneway in _ONEWAY_VALUES:
        return True
    return tags.get("junction") == "roundabout"


def _is_reversed(tags: Any) -> bool:
    """Mirror ``osmnx.graph._is_path_reversed``."""
    oneway = tags.get("oneway")
    return oneway is not None and oneway in _REVERSED_VALUES


def _read_ways(
    path: Path, clauses: list[Any], bidirectional: bool, all_oneway: bool, box: tuple[int, int, int, int] | None
) -> tuple[array, array, array, array, array, list[str], list[str], int, array]:
    """Read the ways passing the filter: node refs and 1e-7 degree locations, ways' lengths, modes, names.

    With ``box`` (1e-7 degree integers), a way none of whose nodes lies in it is forgotten as soon as it is
    read (it cannot give an edge with both ends inside), so memory follows the clipped area, not the file;
    the last value returned counts those ways.
    """
    import osmium

    refs = array("q")
    xs = array("i")
    ys = array("i")
    way_len = array("q")
    way_osm_id = array("q")  # the OSM id of each way kept
    way_mode = array("b")  # 0 both ways, 1 forward only, 2 reverse only
    way_name: list[str] = []
    way_highway: list[str] = []
    n_outside_box = 0
    processor = osmium.FileProcessor(_osmium_file(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    required = [c.key for c in clauses if c.op in ("has", "~", "=")]
    if required:  # let libosmium drop irrelevant ways before they reach Python
        processor.with_filter(osmium.filter.KeyFilter(required[0]))
    processor.with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    # The filter depends only on the values of the clauses' keys: decide each distinct combination once.
    keys = tuple(dict.fromkeys(c.key for c in clauses))
    passes: dict[tuple[str | None, ...], bool] = {}
    bx0, by0, bx1, by1 = box if box is not None else (0, 0, 0, 0)
    try:
        for way in processor:
            tags = way.tags
            sig = tuple(tags.get(k) for k in keys)
            ok = passes.get(sig)
            if ok is None:
                ok = passes[sig] = way_passes(tags, clauses)
            if not ok:
                continue
            nodes = way.nodes
            if box is not None:  # look for one node in the box before keeping any (most ways of a big file miss it)
                for nd in nodes:
                    loc = nd.location
                    if bx0 <= loc.x <= bx1 and by0 <= loc.y <= by1:
                        break
                else:
                    n_outside_box += 1
                    continue
            n_before = len(refs)
            for nd in nodes:
                loc = nd.location
                refs.append(nd.ref)
                xs.append(loc.x)
                ys.append(loc.y)
            way_len.append(len(refs) - n_before)
            way_osm_id.append(way.id)
            if _is_one_way(tags, bidirectional, all_oneway):
                way_mode.append(2 if _is_reversed(tags) else 1)
            else:
                way_mode.append(0)
            way_name.append(tags.get("name", ""))
            way_highway.append(tags.get("highway", ""))
    except RuntimeError as exc:
        raise _read_error(path, exc) from exc
    return refs, xs, ys, way_len, way_mode, way_name, way_highway, n_outside_box, way_osm_id


def network_from_osm_file(
    path: str | Path,
    network_type: str = "walk",
    bidirectional: bool | None = None,
    *,
    bbox: Sequence[float] | None = None,
    polygon: BaseGeometry | None = None,
) -> RoadNetwork:
    """Build a road network from a local OSM file, filtered like OSMnx.

    Parameters
    ----------
    path
        An ``.osm`` (XML), ``.osm.pbf``, ``.osm.bz2`` or ``.osm.gz`` file.
    network_type
        OSMnx network type: ``"walk"``, ``"bike"``, ``"drive"``,
        ``"drive_service"``, ``"all"`` or ``"all_public"``.  Ways are kept
        exactly when they pass :func:`network_filter` (OSMnx's filter for
        that type, including ``osmnx.settings.default_access``).
    bidirectional
        If True every edge is added in both directions.  If None (default),
        follow OSMnx: True for the types in
        ``osmnx.settings.bidirectional_network_types`` (``"walk"``).  When
        False, ``oneway=yes/true/1/F`` ways get forward edges only,
        ``oneway=-1/reverse/T`` ways reverse edges only and
        ``junction=roundabout`` ways are one-way by default.
    bbox
        Optional ``(west, south, east, north)`` in degrees; only edges with
        both ends inside (or on the border) are kept.
    polygon
        Optional shapely (Multi)Polygon in WGS84 lon/lat, used like ``bbox``.

    Returns
    -------
    RoadNetwork
        Nodes are the OSM nodes that end at least one kept edge, sorted by
        OSM id; edges are sorted by ``(u, v)``.  The network is not
        simplified: every consecutive pair of way nodes is an edge whose
        length is the great-circle distance.  Parallel edges between the
        same two nodes are merged (the shortest, then the first, is kept).
        Way nodes missing from the extract (ways clipped at its edge) are
        dropped and the way is split there; ``meta["missing_node_refs"]``
        counts them.  ``way_id`` is the OSM id of the way each edge comes
        from (of the kept edge, where parallel edges were merged).

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputFileError
        The file is empty, corrupt, truncated or of an unknown type.
    NetworkError
        No way passes the filter, or no edge is left (e.g. after clipping).
    """
    import osmnx as ox

    path = _check_path(path, "OSM file")
    clip = _clip_geometry(bbox, polygon)
    clauses = _network_clauses(network_type)
    if bidirectional is None:
        bidirectional = network_type in ox.settings.bidirectional_network_types
    all_oneway = bool(ox.settings.all_oneway)

    ways = _read_ways(path, clauses, bidirectional, all_oneway, clip_box(clip))
    return build_network(path, network_type, bidirectional, clip, ways)


def clip_box(clip: BaseGeometry | None) -> tuple[int, int, int, int] | None:
    """Return the clip's bounds as libosmium's 1e-7 degree integers (west, south, east, north), or None."""
    if clip is None:
        return None
    bx0, by0 = (int(np.floor(c * 1e7)) for c in clip.bounds[:2])
    bx1, by1 = (int(np.ceil(c * 1e7)) for c in clip.bounds[2:])
    return (bx0, by0, bx1, by1)


def build_network(
    path: Path, network_type: str, bidirectional: bool, clip: BaseGeometry | None, ways: tuple[Any, ...]
) -> RoadNetwork:
    """Build the network of :func:`network_from_osm_file` from the ways read (the building part).

    ``ways`` is what :func:`_read_ways` returns for the clip's box (its arrays may also be NumPy arrays:
    :mod:`dgcoverage.inputs.osm_cut` cuts them out of one read of the whole file).
    """
    refs, xs, ys, way_len, way_mode, way_name, way_highway, n_outside_box, way_osm_id = ways

    n_ways = len(way_len)
    if n_ways == 0 and n_outside_box:
        raise NetworkError(f"{path}: no road edge lies inside the clipping area {tuple(clip.bounds)}.")  # type: ignore[union-attr]
    if n_ways == 0:
        raise NetworkError(
            f"{path}: no OSM way passes the OSMnx {network_type!r} filter; is this an OSM "
            "extract with roads (highway=*) in it?"
        )

    ref = np.frombuffer(refs, dtype=np.int64)
    x = np.frombuffer(xs, dtype=np.int32)
    y = np.frombuffer(ys, dtype=np.int32)
    valid = (x != _UNDEFINED_COORD) & (y != _UNDEFINED_COORD)
    wid = np.repeat(np.arange(n_ways, dtype=np.int64), np.frombuffer(way_len, dtype=np.int64))
    mode = np.frombuffer(way_mode, dtype=np.int8)

    # consecutive pairs inside one way, both ends present, no zero-length repeats
    pair = (wid[:-1] == wid[1:]) & valid[:-1] & valid[1:] & (ref[:-1] != ref[1:])
    i = np.flatnonzero(pair)
    a, b, w = ref[i], ref[i + 1], wid[i]
    fwd = mode[w] != 2
    bwd = mode[w] != 1
    eu = np.concatenate([a[fwd], b[bwd]])
    ev = np.concatenate([b[fwd], a[bwd]])
    ew = np.concatenate([w[fwd], w[bwd]])
    eseq = np.concatenate([i[fwd] * 2, i[bwd] * 2 + 1])  # file order, for stable tie-breaks
    if eu.size == 0:
        raise NetworkError(
            f"{path}: the ways passing the {network_type!r} filter have no usable segments "
            "(their nodes are missing from the extract)."
        )

    # coordinates of every present node (a node has one location, whichever way it came from)
    uniq_ref, first = np.unique(ref[valid], return_index=True)
    ulon = x[valid][first] / 1e7
    ulat = y[valid][first] / 1e7

    meta: dict[str, Any] = {
        "source": str(path),
        "network_type": network_type,
        "synthetic": False,
        "ways_kept": int(n_ways),
        "missing_node_refs": int((~valid).sum()),
        "bidirectional": bool(bidirectional),
        "simplified": False,
    }
    if clip is not None:
        inside = _inside(clip, ulon, ulat)
        keep = inside[np.searchsorted(uniq_ref, eu)] & inside[np.searchsorted(uniq_ref, ev)]
        eu, ev, ew, eseq = eu[keep], ev[keep], ew[keep], eseq[keep]
        meta["clip_bounds"] = [float(c) for c in clip.bounds]
        meta["ways_outside_clip_box"] = int(n_outside_box)  # dropped while reading; not in ways_kept
        if eu.size == 0:
            raise NetworkError(f"{path}: no road edge lies inside the clipping area {tuple(clip.bounds)}.")

    node_id = np.unique(np.concatenate([eu, ev]))
    pos = np.searchsorted(uniq_ref, node_id)
    lon, lat = ulon[pos], ulat[pos]
    u = np.searchsorted(node_id, eu)
    v = np.searchsorted(node_id, ev)
    length = haversine_m(lon[u], lat[u], lon[v], lat[v])

    # merge parallel edges: keep the shortest, then the first in file order
    order = np.lexsort((eseq, length, v, u))
    u, v, length, ew = u[order], v[order], length[order], ew[order]
    first_of_pair = np.ones(u.size, dtype=bool)
    first_of_pair[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, length, ew = u[first_of_pair], v[first_of_pair], length[first_of_pair], ew[first_of_pair]
    meta["parallel_edges_dropped"] = int((~first_of_pair).sum())

    names = np.asarray(way_name, dtype=str)[ew]
    highways = np.asarray(way_highway, dtype=str)[ew]
    way_ids = np.frombuffer(way_osm_id, dtype=np.int64)[ew]  # the kept edge's way
    return RoadNetwork(node_id, lon, lat, u, v, length, names, highways, meta, way_ids)


# --------------------------------------------------------------------------- facilities


def _normalise_tags(tags: Mapping[str, bool | str | list[str]] | None) -> dict[str, bool | frozenset[str]]:
    out: dict[str, bool | frozenset[str]] = {}
    for key, spec in (tags or {}).items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"OSM tag keys must be non-empty strings, got {key!r}")
        if isinstance(spec, bool):
            out[key] = spec
        elif isinstance(spec, str):
            out[key] = frozenset([spec])
        elif isinstance(spec, (list, tuple, set, frozenset)) and all(isinstance(s, str) for s in spec):
            out[key] = frozenset(spec)
        else:
            raise ConfigError(f"value for OSM tag {key!r} must be True, a string or a list of strings, got {spec!r}")
    return out


def _match(tags: Any, spec: dict[str, bool | frozenset[str]], keywords: Sequence[str]) -> str | None:
    """Return the matching ``key=value`` (or ``"name"``) or None."""
    for key, allowed in spec.items():
        val = tags.get(key)
        if val is None or allowed is False:
            continue
        if allowed is True or val in allowed:  # type: ignore[operator]
            return f"{key}={val}"
    if keywords:
        for key in ("name", "name:zh"):
            val = tags.get(key)
            if val:
                folded = val.casefold()
                if any(k in folded for k in keywords):
                    return "name"
    return None


def _display_name(tags: Any) -> str:
    return tags.get("name") or tags.get("name:zh") or ""


def _way_point(coords: list[tuple[float, float]], closed: bool, complete: bool) -> BaseGeometry | None:
    """Centroid of a way: area centroid for complete closed rings, else line centroid."""
    from shapely.geometry import LineString, Point, Polygon

    if not coords:
        return None
    if closed and complete and len(coords) >= 4:
        poly = Polygon(coords)
        if poly.is_valid and poly.area > 0:
            return poly.centroid
    distinct = list(dict.fromkeys(coords))
    if len(distinct) == 1:
        return Point(distinct[0])
    line = LineString(coords)
    if line.length > 0:
        return line.centroid
    return Point(np.mean(np.asarray(distinct), axis=0))  # pragma: no cover - degenerate


def _relation_point(
    members: list[tuple[int, str]], way_coords: dict[int, list[tuple[float, float]]]
) -> BaseGeometry | None:
    """Centroid of a multipolygon relation from its member ways (outer minus inner rings)."""
    import shapely
    from shapely.geometry import LineString, MultiPoint

    outer, inner, points = [], [], []
    for way_id, role in members:
        coords = way_coords.get(way_id)
        if not coords:
            continue
        points.extend(coords)
        if len(coords) >= 2:
            (inner if role == "inner" else outer).append(LineString(coords))
    if not points:
        return None
    if outer:
        area = shapely.union_all(shapely.get_parts(shapely.polygonize(outer)))
        if inner and not area.is_empty:
            area = area.difference(shapely.union_all(shapely.get_parts(shapely.polygonize(inner))))
        if not area.is_empty and area.area > 0:
            return area.centroid
    return MultiPoint(points).centroid


def _matching_relations(
    src: Any, filter_keys: list[str], spec: dict[str, Any], keywords: list[str]
) -> tuple[list[tuple[int, str, str, list[tuple[int, str]]]], set[int]]:
    """Find the matching multipolygon/boundary relations and the ways they are made of."""
    import osmium

    relations: list[tuple[int, str, str, list[tuple[int, str]]]] = []
    member_ways: set[int] = set()
    for rel in osmium.FileProcessor(src, osmium.osm.RELATION).with_filter(osmium.filter.KeyFilter(*filter_keys)):
        rtags = rel.tags
        if rtags.get("type") not in _RELATION_TYPES:
            continue
        hit = _match(rtags, spec, keywords)
        if hit is None:
            continue
        members = [(m.ref, m.role) for m in rel.members if m.type == "w"]
        relations.append((rel.id, _display_name(rtags), hit, members))
        member_ways.update(ref for ref, _ in members)
    return relations, member_ways


def _way_coords_and_point(way: Any) -> tuple[list[tuple[float, float]], Any]:
    """Return a way's known node coordinates and the point standing for it (``None`` when it has none)."""
    coords = []
    node_refs = []
    for nd in way.nodes:
        node_refs.append(nd.ref)
        loc = nd.location
        if loc.valid():
            coords.append((loc.lon, loc.lat))
    closed = len(node_refs) > 1 and node_refs[0] == node_refs[-1]
    return coords, _way_point(coords, closed, len(coords) == len(node_refs))


def facilities_from_osm_file(
    path: str | Path,
    tags: Mapping[str, bool | str | list[str]],
    name_keywords: list[str] | None = None,
    *,
    bbox: Sequence[float] | None = None,
    polygon: BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """Collect facilities (as points) from a local OSM file by tag or name.

    Parameters
    ----------
    path
        An ``.osm`` (XML), ``.osm.pbf``, ``.osm.bz2`` or ``.osm.gz`` file.
    tags
        OSMnx-style tag query: an object matches when, for ANY key, its value
        is listed (a string or list of strings) or, for ``True``, the key is
        present with any value.  ``False`` entries are ignored.
    name_keywords
        Optional substrings; an object also matches when its ``name`` or
        ``name:zh`` contains any of them (case-insensitive).
    bbox
        Optional ``(west, south, east, north)``; keep only points inside.
    polygon
        Optional shapely (Multi)Polygon in WGS84, used like ``bbox``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``facility_id`` (``"node/1"``, ``"way/2"``, ``"relation/3"``),
        ``name`` (``name``, else ``name:zh``, else ``""``), ``osm_tag`` (the
        first matching ``key=value`` in ``tags`` order, or ``"name"`` when
        only a keyword matched), ``source`` and ``geometry`` (Point,
        EPSG:4326), sorted by ``facility_id``; ``attrs["synthetic"]`` is
        False.  Nodes are used as they are; ways become the centroid of their
        polygon (closed, complete rings) or line; ``multipolygon`` and
        ``boundary`` relations become the centroid of their assembled outer
        rings minus inner rings (or of their member nodes if the rings do not
        close, e.g. clipped at the extract edge).  Objects whose nodes are all
        missing from the extract are skipped.  No match gives an empty frame.

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputFileError
        The file is empty, corrupt, truncated or of an unknown type.
    EmptyInputError
        Neither ``tags`` nor ``name_keywords`` were given.
    """
    import geopandas as gpd
    import osmium
    from shapely.geometry import Point

    path = _check_path(path, "OSM file")
    clip = _clip_geometry(bbox, polygon)
    spec = _normalise_tags(tags)
    keywords = [str(k).casefold() for k in (name_keywords or []) if str(k).strip()]
    if not any(v is not False for v in spec.values()) and not keywords:
        raise EmptyInputError("facilities_from_osm_file needs at least one OSM tag or name keyword to look for")
    filter_keys = [k for k, v in spec.items() if v is not False] + (["name", "name:zh"] if keywords else [])

    ids: list[str] = []
    names: list[str] = []
    osm_tags: list[str] = []
    geoms: list[Any] = []
    src = _osmium_file(path)

    try:
        relations, member_ways = _matching_relations(src, filter_keys, spec, keywords)  # pass 1

        # pass 2: nodes and ways (untagged member ways must reach Python too)
        key_filter = osmium.filter.KeyFilter(*filter_keys)
        key_filter.enable_for(osmium.osm.NODE if member_ways else osmium.osm.NODE | osmium.osm.WAY)
        processor = osmium.FileProcessor(src, osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(key_filter)
        way_coords: dict[int, list[tuple[float, float]]] = {}
        for obj in processor:
            if obj.is_node():
                hit = _match(obj.tags, spec, keywords)
                if hit is None or not obj.location.valid():
                    continue
                ids.append(f"node/{obj.id}")
                names.append(_display_name(obj.tags))
                osm_tags.append(hit)
                geoms.append(Point(obj.location.lon, obj.location.lat))
                continue
            hit = _match(obj.tags, spec, keywords)
            if hit is None and obj.id not in member_ways:
                continue
            coords, geom = _way_coords_and_point(obj)
            if obj.id in member_ways:
                way_coords[obj.id] = coords
            if hit is None or geom is None:
                continue
            ids.append(f"way/{obj.id}")
            names.append(_display_name(obj.tags))
            osm_tags.append(hit)
            geoms.append(geom)
    except RuntimeError as exc:
        raise _read_error(path, exc) from exc

    for rel_id, rel_name, hit, members in relations:
        geom = _relation_point(members, way_coords)
        if geom is None:
            continue
        ids.append(f"relation/{rel_id}")
        names.append(rel_name)
        osm_tags.append(hit)
        geoms.append(geom)

    gdf = gpd.GeoDataFrame(
        {"facility_id": ids, "name": names, "osm_tag": osm_tags, "source": [str(path)] * len(ids)},
        geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    for col in _FACILITY_COLUMNS:
        gdf[col] = gdf[col].astype(object)
    if clip is not None and len(gdf):
        gdf = gdf[_inside(clip, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())]
    gdf = gdf.sort_values("facility_id", kind="stable").reset_index(drop=True)
    gdf.attrs["synthetic"] = False
    return gdf
