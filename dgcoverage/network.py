"""Road networks: one light, array-backed representation for every source.

A :class:`RoadNetwork` holds node coordinates (WGS84 lon/lat) and directed
edges with their length in metres.  It is built from an OSMnx graph
(:func:`network_from_graph`, :func:`network_from_place`), from a local
``.osm``/``.osm.pbf`` file (:func:`dgcoverage.osm.network_from_osm_file`) or by
the synthetic generator, and saved/loaded as a NumPy ``.npz`` archive without
pickles (:func:`save_network`, :func:`load_network`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputFileError, InputNotFoundError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

EARTH_RADIUS_M = 6_371_008.8


@dataclass
class RoadNetwork:
    """A directed road network stored as arrays.

    Attributes
    ----------
    node_id
        int64 identifiers (OSM ids for OSM data), shape ``(n,)``.
    lon, lat
        float64 WGS84 coordinates of the nodes, degrees.
    u, v
        int64 *positional* indices (0..n-1) of each directed edge's ends.
    length_m
        float64 edge lengths in metres.  Two-way streets appear twice.
    name
        Optional street name per edge ("" when unknown).
    highway
        Optional OSM ``highway`` class per edge ("" when unknown).
    meta
        Free-form provenance (source, synthetic flag, ...), JSON-serialisable.
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    name: np.ndarray | None = None
    highway: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.node_id = np.asarray(self.node_id, dtype=np.int64)
        self.lon = np.asarray(self.lon, dtype=np.float64)
        self.lat = np.asarray(self.lat, dtype=np.float64)
        self.u = np.asarray(self.u, dtype=np.int64)
        self.v = np.asarray(self.v, dtype=np.int64)
        self.length_m = np.asarray(self.length_m, dtype=np.float64)
        n = self.node_id.shape[0]
        if not (self.lon.shape == self.lat.shape == (n,)):
            raise NetworkError("node arrays node_id/lon/lat must have the same length")
        m = self.u.shape[0]
        if not (self.v.shape == self.length_m.shape == (m,)):
            raise NetworkError("edge arrays u/v/length_m must have the same length")
        if m and (self.u.min() < 0 or self.v.min() < 0 or max(self.u.max(), self.v.max()) >= n):
            raise NetworkError("edge endpoints must be positional node indices in 0..n-1")
        if m and (not np.all(np.isfinite(self.length_m)) or self.length_m.min() < 0):
            raise NetworkError("edge lengths must be finite and non-negative metres")
        for attr in ("name", "highway"):
            arr = getattr(self, attr)
            if arr is not None:
                arr = np.asarray(arr, dtype=str)
                if arr.shape != (m,):
                    raise NetworkError(f"edge attribute {attr!r} must have one value per edge")
                setattr(self, attr, arr)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.u.shape[0])

    def fingerprint(self) -> str:
        """Return a SHA-256 hex digest of the geometry and topology."""
        h = hashlib.sha256()
        for arr in (self.node_id, self.lon, self.lat, self.u, self.v, self.length_m):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between WGS84 points (vectorised).

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Coordinates in degrees; broadcastable arrays.

    Returns
    -------
    numpy.ndarray
        Distances in metres (same mean Earth radius as OSMnx).
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def network_from_graph(G: "nx.MultiDiGraph", meta: dict[str, Any] | None = None) -> RoadNetwork:
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
        length_arr[missing] = haversine_m(lon[u_arr[missing]], lat[u_arr[missing]], lon[v_arr[missing]], lat[v_arr[missing]])
    ids = np.array([n if isinstance(n, (int, np.integer)) else i for i, n in enumerate(nodes)], dtype=np.int64)
    return RoadNetwork(ids, lon, lat, u_arr, v_arr, length_arr, np.array(name, dtype=str), np.array(hw, dtype=str), dict(meta or {}))


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


def save_network(net: RoadNetwork, path: str | Path) -> Path:
    """Save a network as a compressed ``.npz`` (no pickled objects).

    Parameters
    ----------
    net
        The network.
    path
        Destination; written atomically (temporary file, then rename).

    Returns
    -------
    pathlib.Path
    """
    import json

    from .io import atomic_path

    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "node_id": net.node_id, "lon": net.lon, "lat": net.lat,
        "u": net.u, "v": net.v, "length_m": net.length_m,
        "meta_json": np.array(json.dumps(net.meta, ensure_ascii=False, sort_keys=True)),
    }
    if net.name is not None:
        arrays["name"] = net.name
    if net.highway is not None:
        arrays["highway"] = net.highway
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return path


def load_network(path: str | Path) -> RoadNetwork:
    """Load a network written by :func:`save_network`.

    Parameters
    ----------
    path
        A ``.npz`` file.

    Returns
    -------
    RoadNetwork
    """
    import json

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "network file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:
        raise InputFileError(path, f"not a readable dgcoverage network archive ({exc}).",
                             "rebuild it with `dgcoverage build-demo` or pass an .osm/.osm.pbf file.") from exc
    meta = json.loads(str(data.pop("meta_json"))) if "meta_json" in data else {}
    return RoadNetwork(meta=meta, **data)


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
    name = path.name.lower()
    if name.endswith(".npz"):
        return load_network(path)
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz", ".xml")):
        from .cache import cache_dir, load_cached_network, network_cache_key, store_cached_network
        from .osm import network_from_osm_file

        directory = cache_dir() if use_cache else None
        if directory is None:
            return network_from_osm_file(path, network_type=network_type)
        key = network_cache_key(path, network_type)
        cached = load_cached_network(key, directory)
        if cached is not None:
            cached.meta["source"] = str(path)
            return cached
        net = network_from_osm_file(path, network_type=network_type)
        store_cached_network(net, key, directory)
        return net
    raise InputFileError(path, "unsupported road network file type.",
                         "use .osm, .osm.pbf or a .npz saved by dgcoverage.")
