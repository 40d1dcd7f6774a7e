"""Road networks from their sources: ``network_from_graph | _place | _file``.

Every function returns a :class:`~dgcoverage.core.roadnet.RoadNetwork`: from an
OSMnx ``MultiDiGraph`` (:func:`network_from_graph`), downloaded by place name
through OSMnx (:func:`network_from_place`, needs internet), or from a file
(:func:`network_from_file`: a saved ``.npz``, or a local ``.osm``/``.osm.pbf``
parsed by :mod:`dgcoverage.inputs.osm` and kept in the :mod:`dgcoverage.inputs.cache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.roadnet import RoadNetwork, haversine_m, load_network
from ..errors import InputFileError, InputNotFoundError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from shapely.geometry.base import BaseGeometry


def network_from_graph(G: nx.MultiDiGraph, meta: dict[str, Any] | None = None) -> RoadNetwork:
    """Convert an OSMnx-style ``MultiDiGraph`` into a :class:`RoadNetwork`.

    Parameters
    ----------
    G
        Graph whose nodes carry ``x`` (lon) and ``y`` (lat) in WGS84 and whose
        edges carry ``length`` in metres (as OSMnx graphs do).  Edges without a
        ``length`` get the straight-line distance between their ends.
    meta
        Provenance to attach.

    Returns
    -------
    RoadNetwork
        ``way_id`` is each edge's ``osmid`` (OSM way id).  Where OSMnx simplified several ways into one edge
        (``osmid`` a list) the first is ``way_id`` and the others go to ``way_extra``, so closing any of those
        ways closes the whole edge (it cannot be cut part way).  A graph without ``osmid`` gets ``way_id=None``.
    """
    nodes = list(G.nodes)
    if not nodes:
        raise NetworkError("the graph has no nodes")
    index = {n: i for i, n in enumerate(nodes)}
    try:
        lon = np.array([G.nodes[n]["x"] for n in nodes], dtype=np.float64)
        lat = np.array([G.nodes[n]["y"] for n in nodes], dtype=np.float64)
    except KeyError as exc:  # pragma: no cover - depends on caller's graph
        raise NetworkError("every graph node needs 'x' (lon) and 'y' (lat) attributes") from exc
    crs = str(G.graph.get("crs", "epsg:4326")).lower()
    if crs not in ("epsg:4326", "wgs84", "crs84", "ogc:crs84"):
        raise NetworkError(f"graph CRS is {crs}; project it back to EPSG:4326 (ox.project_graph(G, to_latlong=True))")
    u, v, length, name, hw = [], [], [], [], []
    way, extra = [], []  # way id per edge (first of a list); further (edge, way) pairs of simplified edges
    for a, b, data in G.edges(data=True):
        ids = _way_ids(data.get("osmid"))
        if len(ids) > 1:
            extra += [(len(u), w) for w in ids[1:]]
        way.append(ids[0] if ids else -1)
        u.append(index[a])
        v.append(index[b])
        length.append(data.get("length", np.nan))
        name.append(_first_str(data.get("name")))
        hw.append(_first_str(data.get("highway")))
    u_arr = np.array(u, dtype=np.int64)
    v_arr = np.array(v, dtype=np.int64)
    length_arr = np.array(length, dtype=np.float64)
    missing = ~np.isfinite(length_arr)
    if missing.any():
        length_arr[missing] = haversine_m(
            lon[u_arr[missing]], lat[u_arr[missing]], lon[v_arr[missing]], lat[v_arr[missing]]
        )
    ids = np.array([n if isinstance(n, (int, np.integer)) else i for i, n in enumerate(nodes)], dtype=np.int64)
    way_id = np.array(way, dtype=np.int64)
    return RoadNetwork(
        ids,
        lon,
        lat,
        u_arr,
        v_arr,
        length_arr,
        np.array(name, dtype=str),
        np.array(hw, dtype=str),
        dict(meta or {}),
        way_id if (way_id >= 0).any() else None,
        np.array(extra, dtype=np.int64).reshape(-1, 2) if extra and (way_id >= 0).any() else None,
    )


def _way_ids(value: Any) -> list[int]:
    """Return the OSM way ids of an edge's ``osmid`` (``[]`` when there is none).

    ``osmid`` is an int, a list of ints after OSMnx simplified several ways, or a string of them (GraphML).
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = value.strip().strip("[]").split(",") if value.strip() else []
    vals = value if isinstance(value, (list, tuple, set)) else [value]
    out = []
    for x in vals:
        try:
            out.append(int(str(x).strip()) if not isinstance(x, (int, np.integer)) else int(x))
        except ValueError:
            continue
    return sorted(set(out), key=out.index)


def _first_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def place_polygon(query: str, buffer_m: float = 0.0) -> BaseGeometry:
    """Geocode a place name to its boundary through OSMnx/Nominatim (needs internet), optionally buffered.

    Parameters
    ----------
    query
        A geocodable place name, e.g. ``"东莞市"`` or ``"Dongguan, Guangdong, China"``.
    buffer_m
        Grow the boundary by this many metres (in its UTM zone), e.g. the longest circle's reach, so that
        roads just outside the place that people inside use are kept.

    Returns
    -------
    shapely (Multi)Polygon
        In WGS84 lon/lat.

    Raises
    ------
    NetworkError
        The place was not found or is not an area.
    """
    import geopandas as gpd
    import osmnx as ox

    from .preflight import check_place_name

    check_place_name(query)
    with _OsmnxCache():
        try:
            gdf = ox.geocode_to_gdf(query)
        except Exception as exc:  # osmnx raises InsufficientResponseError/ValueError/requests errors
            _raise_if_offline(exc, query, "its boundary from Nominatim")
            raise NetworkError(f"--network-place {query!r}: OSMnx could not geocode it ({exc})") from exc
    gdf = gdf[gdf.geometry.notna() & gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        raise NetworkError(
            f"--network-place {query!r}: the geocoder returned no area (a point or nothing). Fix: name an "
            "administrative area (e.g. 东莞市, or 'Dongguan, Guangdong, China'), or pass --network FILE"
        )
    gdf = gdf.set_crs(4326, allow_override=gdf.crs is None)
    if buffer_m > 0:
        utm = gdf.estimate_utm_crs()
        grown = gdf.to_crs(utm).geometry.union_all().buffer(float(buffer_m))
        return gpd.GeoSeries([grown], crs=utm).to_crs(4326).iloc[0]
    return gdf.to_crs(4326).geometry.union_all()


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a failed connection: DNS, refused, timed out."""
    import socket

    kinds: list[type[BaseException]] = [socket.gaierror, ConnectionError, TimeoutError]
    try:
        import requests.exceptions as rq

        kinds += [rq.ConnectionError, rq.Timeout]
    except ImportError:  # pragma: no cover - requests comes with osmnx
        pass
    try:
        import urllib3.exceptions as u3

        kinds += [u3.NewConnectionError, u3.MaxRetryError, u3.ConnectTimeoutError, u3.ProtocolError]
    except ImportError:  # pragma: no cover
        pass
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, tuple(kinds)):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _raise_if_offline(exc: BaseException, query: str, what: str) -> None:
    """Say a failed connection in one line with the fix (a road file), instead of the library's error."""
    if is_connection_error(exc):
        raise NetworkError(
            f"--network-place {query!r}: cannot download {what} (no internet connection?): use --network FILE "
            "(an .osm.pbf of the area, e.g. guangdong-latest.osm.pbf from download.geofabrik.de, or a saved .npz)"
        ) from None


class _OsmnxCache:
    """Point OSMnx's HTTP cache at ``<dgcoverage cache>/osmnx`` (or switch it off with the cache) for a block."""

    def __enter__(self) -> None:
        import osmnx as ox

        from .cache import cache_dir

        self._saved = (ox.settings.use_cache, ox.settings.cache_folder)
        d = cache_dir()
        ox.settings.use_cache = d is not None
        if d is not None:
            ox.settings.cache_folder = str(Path(d) / "osmnx")

    def __exit__(self, *exc: object) -> None:
        import osmnx as ox

        ox.settings.use_cache, ox.settings.cache_folder = self._saved


def network_from_place(
    query: str, network_type: str = "walk", *, buffer_m: float = 0.0, within: BaseGeometry | None = None
) -> RoadNetwork:
    """Download a road network by place name through OSMnx (needs internet), with OSMnx's HTTP cache.

    The place is geocoded to its boundary (:func:`place_polygon`), grown by ``buffer_m``, and the network
    inside it is downloaded with ``osmnx.graph_from_polygon`` (simplified, every component kept, edges
    crossing the border kept whole).  Responses are cached under ``<cache>/osmnx`` (:mod:`dgcoverage.inputs.cache`;
    ``DGCOVERAGE_CACHE=off`` turns it off), so a second run does not download again.

    Parameters
    ----------
    query
        A geocodable place name, e.g. ``"Dongguan, Guangdong, China"`` or ``"东莞市"``.
    network_type
        OSMnx network type (``"walk"``, ``"bike"``, ``"drive"``, ``"all"``).
    buffer_m
        Grow the place by this many metres before downloading (e.g. the longest circle's reach).
    within
        Download only the part of the (grown) place inside this WGS84 (Multi)Polygon, e.g. the study area's
        clip, so that naming a province does not download the whole province.

    Returns
    -------
    RoadNetwork
        With ``meta`` recording the query, network type, buffer and the downloaded area's bounds.
    """
    import osmnx as ox

    area = place_polygon(query, buffer_m)
    if within is not None:
        area = area.intersection(within)
        if area.is_empty:
            raise NetworkError(
                f"--network-place {query!r} does not overlap the clipping area {tuple(within.bounds)}. Fix: name "
                "a place that holds the study's towns, or --clip none"
            )
    with _OsmnxCache():
        try:
            G = ox.graph_from_polygon(
                area, network_type=network_type, simplify=True, retain_all=True, truncate_by_edge=True
            )
        except Exception as exc:
            _raise_if_offline(exc, query, "its roads from the Overpass API")
            raise NetworkError(f"--network-place {query!r}: OSMnx could not download the network ({exc})") from exc
    meta = {
        "source": f"osmnx:{query}",
        "network_type": network_type,
        "buffer_m": float(buffer_m),
        "area_bounds": [round(float(c), 6) for c in area.bounds],
        "synthetic": False,
    }
    return network_from_graph(G, meta=meta)


def network_from_file(
    path: str | Path,
    network_type: str = "walk",
    *,
    use_cache: bool = True,
    bbox: Sequence[float] | None = None,
    polygon: BaseGeometry | None = None,
) -> RoadNetwork:
    """Load a network from ``.npz`` (saved), ``.osm``, ``.osm.pbf``/``.pbf``, ``.osm.bz2`` or OSMnx ``.graphml``.

    Optionally clipped.

    Parameters
    ----------
    path
        The file.
    network_type
        OSMnx network type used to filter OSM ways (ignored for ``.npz``).
    use_cache
        For OSM files, reuse the network parsed earlier from the same bytes
        (see :mod:`dgcoverage.inputs.cache`: keyed by SHA-256 of the file + network
        type + clip + package version, stored under ``.cache/dgcoverage/`` or
        ``$DGCOVERAGE_CACHE``).
    bbox
        Optional ``(west, south, east, north)`` in WGS84 degrees.
    polygon
        Optional shapely (Multi)Polygon in WGS84 lon/lat (not with ``bbox``).

    Returns
    -------
    RoadNetwork
        With a clip, only the edges whose two ends lie inside the area (or on
        its border) are kept, and the nodes ending at least one of them (the
        rule of :func:`dgcoverage.inputs.osm.network_from_osm_file`; a saved ``.npz``
        is clipped by the same rule).  ``meta["clip"]`` describes the clip.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "road network file")
    try:
        return _network_from_file(path, network_type, use_cache, bbox, polygon)
    except NetworkError as exc:  # name the file in every network problem
        if str(path) in str(exc):
            raise
        raise NetworkError(f"{path}: {exc}") from exc


def clip_description(bbox: Sequence[float] | None = None, polygon: BaseGeometry | None = None) -> str:
    """Describe a clip as a stable string: ``""``, ``"bbox:W,S,E,N"`` or ``"polygon:<sha256 of its WKB>"``.

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees, or None.
    polygon
        A shapely (Multi)Polygon in WGS84, or None.

    Returns
    -------
    str
        Part of the network cache key, so clipped and unclipped networks never share an entry.
    """
    from .osm import _clip_geometry

    _clip_geometry(bbox, polygon)  # validates (ConfigError)
    if bbox is not None:
        return "bbox:" + ",".join(repr(float(c)) for c in bbox)
    if polygon is not None:
        import shapely

        wkb = shapely.to_wkb(shapely.normalize(polygon), hex=False, output_dimension=2)
        return "polygon:" + hashlib.sha256(wkb).hexdigest()
    return ""


def clip_network(
    net: RoadNetwork, bbox: Sequence[float] | None = None, polygon: BaseGeometry | None = None
) -> RoadNetwork:
    """Keep the edges whose two ends lie inside the clip (or on its border), and the nodes they end.

    Parameters
    ----------
    net
        The network.
    bbox, polygon
        The clip, as for :func:`network_from_file`.

    Returns
    -------
    RoadNetwork
        The clipped network (``net`` itself when there is no clip).

    Raises
    ------
    NetworkError
        No edge is left.
    """
    from .osm import _clip_geometry, _inside

    geom = _clip_geometry(bbox, polygon)
    if geom is None:
        return net
    inside = _inside(geom, net.lon, net.lat)
    keep = inside[net.u] & inside[net.v]
    if not keep.any():
        raise NetworkError(f"no road edge lies inside the clipping area {tuple(geom.bounds)}.")
    used = np.zeros(net.n_nodes, dtype=bool)
    used[net.u[keep]] = True
    used[net.v[keep]] = True
    new_index = np.cumsum(used) - 1
    meta = {**net.meta, "clip": clip_description(bbox, polygon), "clip_bounds": [float(c) for c in geom.bounds]}
    way_id, way_extra = net.way_ids_of_edges(keep)
    return RoadNetwork(
        net.node_id[used],
        net.lon[used],
        net.lat[used],
        new_index[net.u[keep]],
        new_index[net.v[keep]],
        net.length_m[keep],
        None if net.name is None else net.name[keep],
        None if net.highway is None else net.highway[keep],
        meta,
        way_id,
        way_extra,
    )


def _network_from_file(
    path: Path,
    network_type: str,
    use_cache: bool,
    bbox: Sequence[float] | None = None,
    polygon: BaseGeometry | None = None,
) -> RoadNetwork:
    name = path.name.lower()
    clip = clip_description(bbox, polygon)
    if name.endswith(".npz"):
        return clip_network(load_network(path), bbox, polygon)
    if name.endswith(".graphml"):
        return clip_network(_network_from_graphml(path), bbox, polygon)
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz", ".xml")):
        from .cache import cache_dir, load_cached_network, network_cache_key, store_cached_network
        from .osm import network_filter, network_from_osm_file

        directory = cache_dir() if use_cache else None
        if directory is None:
            return _parse_osm(network_from_osm_file, path, network_type, bbox, polygon, clip)
        key = network_cache_key(path, network_type, network_filter(network_type), clip=clip)
        cached = load_cached_network(key, directory)
        if cached is not None:
            cached.meta["source"] = str(path)
            return cached
        net = _parse_osm(network_from_osm_file, path, network_type, bbox, polygon, clip)
        store_cached_network(net, key, directory)
        return net
    raise InputFileError(
        path,
        "unsupported road network file type.",
        "use .osm, .osm.pbf, a .graphml saved by OSMnx (ox.save_graphml) or a .npz saved by dgcoverage.",
    )


def _network_from_graphml(path: Path) -> RoadNetwork:
    """Read an OSMnx ``.graphml`` (``osmnx.save_graphml``): nodes ``x``/``y`` in WGS84, edge ``length`` in m."""
    import osmnx as ox

    try:
        G = ox.load_graphml(path)
    except Exception as exc:
        raise InputFileError(
            path, f"cannot be read as an OSMnx GraphML file ({exc}).", "save the graph with osmnx.save_graphml."
        ) from exc
    crs = str(G.graph.get("crs", "epsg:4326")).lower()
    if crs not in ("epsg:4326", "+init=epsg:4326"):
        raise InputFileError(
            path,
            f"holds a projected graph (crs {crs}); lon/lat (EPSG:4326) are needed.",
            "save the unprojected graph (before ox.project_graph), or ox.project_graph(G, to_latlong=True).",
        )
    return network_from_graph(G, meta={"source": str(path), "synthetic": False, "format": "graphml"})


def _parse_osm(
    parse: Any, path: Path, network_type: str, bbox: Sequence[float] | None, polygon: BaseGeometry | None, clip: str
) -> RoadNetwork:
    net = parse(path, network_type=network_type, bbox=bbox, polygon=polygon)
    if clip:
        net.meta["clip"] = clip
    return net
