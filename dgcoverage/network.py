"""Road networks from their sources: ``network_from_graph | _place | _file``.

Every function returns a :class:`~dgcoverage.roadnet.RoadNetwork`: from an
OSMnx ``MultiDiGraph`` (:func:`network_from_graph`), downloaded by place name
through OSMnx (:func:`network_from_place`, needs internet), or from a file
(:func:`network_from_file`: a saved ``.npz``, or a local ``.osm``/``.osm.pbf``
parsed by :mod:`dgcoverage.osm` and kept in the :mod:`dgcoverage.cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputFileError, InputNotFoundError, NetworkError
from .roadnet import RoadNetwork, haversine_m, load_network

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


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
    for a, b, data in G.edges(data=True):
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
    return RoadNetwork(
        ids, lon, lat, u_arr, v_arr, length_arr, np.array(name, dtype=str), np.array(hw, dtype=str), dict(meta or {})
    )


def _first_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def network_from_place(query: str, network_type: str = "walk") -> RoadNetwork:
    """Download a road network by place name through OSMnx (needs internet).

    Parameters
    ----------
    query
        A geocodable place name, e.g. ``"Dongguan, Guangdong, China"`` or
        ``"东莞市"``.
    network_type
        OSMnx network type (``"walk"``, ``"bike"``, ``"drive"``, ``"all"``).

    Returns
    -------
    RoadNetwork
    """
    import osmnx as ox

    G = ox.graph_from_place(query, network_type=network_type, simplify=True, retain_all=True)
    return network_from_graph(G, meta={"source": f"osmnx:{query}", "network_type": network_type, "synthetic": False})


def network_from_file(path: str | Path, network_type: str = "walk", *, use_cache: bool = True) -> RoadNetwork:
    """Load a network from ``.npz`` (saved), ``.osm``, ``.osm.pbf``/``.pbf`` or ``.osm.bz2``.

    Parameters
    ----------
    path
        The file.
    network_type
        OSMnx network type used to filter OSM ways (ignored for ``.npz``).
    use_cache
        For OSM files, reuse the network parsed earlier from the same bytes
        (see :mod:`dgcoverage.cache`: keyed by SHA-256 of the file + network
        type + package version, stored under ``.cache/dgcoverage/`` or
        ``$DGCOVERAGE_CACHE``).

    Returns
    -------
    RoadNetwork
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "road network file")
    try:
        return _network_from_file(path, network_type, use_cache)
    except NetworkError as exc:  # name the file in every network problem
        if str(path) in str(exc):
            raise
        raise NetworkError(f"{path}: {exc}") from exc


def _network_from_file(path: Path, network_type: str, use_cache: bool) -> RoadNetwork:
    name = path.name.lower()
    if name.endswith(".npz"):
        return load_network(path)
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz", ".xml")):
        from .cache import cache_dir, load_cached_network, network_cache_key, store_cached_network
        from .osm import network_filter, network_from_osm_file

        directory = cache_dir() if use_cache else None
        if directory is None:
            return network_from_osm_file(path, network_type=network_type)
        key = network_cache_key(path, network_type, network_filter(network_type))
        cached = load_cached_network(key, directory)
        if cached is not None:
            cached.meta["source"] = str(path)
            return cached
        net = network_from_osm_file(path, network_type=network_type)
        store_cached_network(net, key, directory)
        return net
    raise InputFileError(
        path, "unsupported road network file type.", "use .osm, .osm.pbf or a .npz saved by dgcoverage."
    )
