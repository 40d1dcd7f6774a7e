"""The road network type: one light, array-backed representation for every source.

A :class:`RoadNetwork` holds node coordinates (WGS84 lon/lat) and directed
edges with their length in metres.  This module defines it, saves and loads
it as a NumPy ``.npz`` archive without pickles (:func:`save_network`,
:func:`load_network`, which checks what it reads) and checks that a network
fits a study area (:func:`check_network_covers`).  Networks are *built* in
:mod:`dgcoverage.inputs.network` (``network_from_*``), :mod:`dgcoverage.inputs.osm` and
:mod:`dgcoverage.demo.synthetic`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DgCoverageWarning, InputFileError, InputNotFoundError, NetworkError

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
    way_id
        Optional int64 OSM way id per edge: the way the edge comes from (``-1`` when unknown; ``None`` when the
        source has no ways at all, e.g. the synthetic demo roads).  After parallel edges are merged it is the kept
        edge's way.  An OSMnx-simplified edge made of several ways carries the first of them here.
    way_extra
        Optional int64 array of shape ``(k, 2)``: further ``(edge, way id)`` pairs, for edges an OSMnx graph
        simplified out of several ways (``osmid`` a list); closing any of those ways closes the edge
        (:meth:`edges_of_ways`).
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
    way_id: np.ndarray | None = None
    way_extra: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Check that the arrays fit together."""
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
        if self.way_id is not None:
            self.way_id = np.asarray(self.way_id, dtype=np.int64)
            if self.way_id.shape != (m,):
                raise NetworkError("edge attribute 'way_id' must have one value per edge")
        if self.way_extra is not None:
            self.way_extra = np.asarray(self.way_extra, dtype=np.int64).reshape(-1, 2)
            if self.way_id is None:
                raise NetworkError("way_extra needs way_id")
            e = self.way_extra[:, 0]
            if e.size and (e.min() < 0 or e.max() >= m):
                raise NetworkError("way_extra edges must be positional edge indices in 0..m-1")
            if not self.way_extra.size:
                self.way_extra = None

    @property
    def has_way_ids(self) -> bool:
        """Whether any edge knows the OSM way it comes from."""
        return self.way_id is not None and bool(np.any(self.way_id >= 0))

    def known_way_ids(self) -> np.ndarray:
        """Sorted distinct OSM way ids of the network's edges (``way_id`` and ``way_extra``; -1 left out)."""
        if self.way_id is None:
            return np.zeros(0, dtype=np.int64)
        ids = self.way_id if self.way_extra is None else np.concatenate([self.way_id, self.way_extra[:, 1]])
        ids = np.unique(ids)
        return ids[ids >= 0]

    def edges_of_ways(self, ids: Any) -> np.ndarray:
        """Mask of the directed edges that come from any of the OSM ways ``ids`` (both directions, every part)."""
        ids = np.asarray(list(ids), dtype=np.int64)
        mask = np.zeros(self.n_edges, dtype=bool)
        if self.way_id is None or not ids.size:
            return mask
        mask |= np.isin(self.way_id, ids)
        if self.way_extra is not None:
            mask[self.way_extra[np.isin(self.way_extra[:, 1], ids), 0]] = True
        return mask

    def way_ids_of_edges(self, keep: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(way_id, way_extra)`` of the edges kept by the boolean mask ``keep``, renumbered for the subset."""
        if self.way_id is None:
            return None, None
        keep = np.asarray(keep, dtype=bool)
        extra = None
        if self.way_extra is not None:
            new_edge = np.cumsum(keep) - 1
            x = self.way_extra[keep[self.way_extra[:, 0]]]
            extra = np.column_stack([new_edge[x[:, 0]], x[:, 1]]) if len(x) else None
        return self.way_id[keep], extra

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
        "node_id": net.node_id,
        "lon": net.lon,
        "lat": net.lat,
        "u": net.u,
        "v": net.v,
        "length_m": net.length_m,
        "meta_json": np.array(json.dumps(net.meta, ensure_ascii=False, sort_keys=True)),
    }
    if net.name is not None:
        arrays["name"] = net.name
    if net.highway is not None:
        arrays["highway"] = net.highway
    if net.way_id is not None:
        arrays["way_id"] = net.way_id
    if net.way_extra is not None:
        arrays["way_extra"] = net.way_extra
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


#: Arrays every saved network must hold.
REQUIRED_ARRAYS = ("node_id", "lon", "lat", "u", "v", "length_m")
#: Edges whose ends are closer than this (metres) are left out of the length/straight-line comparison:
#: coincident nodes and self-loops say nothing about the unit.
MIN_CHORD_M = 1.0
#: Bounds on the *median* of ``length_m / straight-line distance`` over a network's edges (see
#: :func:`edge_length_check`).
MIN_MEDIAN_LENGTH_RATIO = 0.98
MAX_MEDIAN_LENGTH_RATIO = 2.5
#: A single edge counts as shorter than its chord when ``length < (1 - SHORT_EDGE_REL) * chord - SHORT_EDGE_ABS_M``.
SHORT_EDGE_REL = 0.02
SHORT_EDGE_ABS_M = 0.5
#: Length units a wrong network is recognised in: metres per unit is 1 / factor.
_UNIT_FACTORS = {
    "kilometres": 1e-3,
    "miles": 1 / 1609.344,
    "degrees": 1 / (EARTH_RADIUS_M * np.pi / 180),
    "radians": 1 / EARTH_RADIUS_M,
    "feet": 1 / 0.3048,
    "centimetres": 100.0,
    "millimetres": 1000.0,
}


def edge_length_check(
    lon: np.ndarray, lat: np.ndarray, u: np.ndarray, v: np.ndarray, length_m: np.ndarray
) -> dict[str, Any]:
    """Compare edge lengths with the straight-line (great-circle) distance between their ends.

    A road between two points is never shorter than the straight line between
    them, and in a street network it is rarely much longer: OSMnx-simplified
    edges follow the street, and street-network circuity measured edge by edge
    is typically 1.0-1.1 (winding hill roads pull single edges far above that,
    not the median).  So the *median* ratio ``length_m / chord`` of a network
    whose lengths are metres lies in roughly [1, 1.3], while lengths stored in
    another unit shift it by the unit's factor: kilometres 0.001, miles
    0.00062, degrees 9e-6, feet 3.28, centimetres 100.

    :func:`load_network` requires the median within
    [``MIN_MEDIAN_LENGTH_RATIO``, ``MAX_MEDIAN_LENGTH_RATIO``] = [0.98, 2.5].
    The lower bound allows for rounding and for lengths measured on the
    ellipsoid (up to ~0.5 % shorter north-south than on the mean sphere used
    here).  The upper bound 2.5 is a choice: it leaves a wide margin above any
    real network's median circuity yet catches feet (3.28), the largest
    plausible unit mix-up; yards (1.09) cannot be told from metres this way.
    Single edges shorter than their chord are only counted, never fatal.

    Parameters
    ----------
    lon, lat
        Node coordinates, WGS84 degrees.
    u, v
        Edge ends (positional node indices).
    length_m
        Edge lengths as stored.

    Returns
    -------
    dict
        ``edges_compared`` (edges whose ends are more than ``MIN_CHORD_M``
        apart), ``median_ratio`` (``None`` when no edge was compared),
        ``edges_shorter_than_chord`` and ``unit_guess`` (name of the length
        unit the median points to, ``"metres"`` when it looks right, ``None``
        when it fits no known unit).
    """
    chord = haversine_m(lon[u], lat[u], lon[v], lat[v])
    use = chord > MIN_CHORD_M
    out: dict[str, Any] = {
        "edges_compared": int(use.sum()),
        "median_ratio": None,
        "edges_shorter_than_chord": 0,
        "unit_guess": None,
    }
    if not use.any():
        return out
    length, chord = length_m[use], chord[use]
    ratio = float(np.median(length / chord))
    out["median_ratio"] = ratio
    out["edges_shorter_than_chord"] = int((length < (1.0 - SHORT_EDGE_REL) * chord - SHORT_EDGE_ABS_M).sum())
    if MIN_MEDIAN_LENGTH_RATIO <= ratio <= MAX_MEDIAN_LENGTH_RATIO:
        out["unit_guess"] = "metres"
    elif ratio > 0:
        # the unit whose factor is nearest the median (in log scale), if within a factor of 1.5 (circuity, rounding)
        name, factor = min(_UNIT_FACTORS.items(), key=lambda kv: abs(np.log(ratio / kv[1])))
        if abs(np.log(ratio / factor)) <= np.log(1.5):
            out["unit_guess"] = name
    return out


def _archive_error(path: Path, problem: str, fix: str | None = None) -> InputFileError:
    return InputFileError(
        path,
        problem,
        fix
        or "rebuild the file with dgcoverage (save_network, `dgcoverage build-demo`) "
        "or pass the .osm/.osm.pbf file instead.",
    )


def _check_archive(path: Path, data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Raise :class:`InputFileError` for an archive that is not a usable network; return the length check."""
    n, m = _check_shapes(path, data)
    _check_way_arrays(path, data, m)
    return _check_values(path, data, n, m)


def _check_shapes(path: Path, data: dict[str, np.ndarray]) -> tuple[int, int]:
    """Check the archive's arrays are present, typed and sized alike; return the node and edge counts."""
    missing = [k for k in REQUIRED_ARRAYS if k not in data]
    if missing:
        raise _archive_error(
            path,
            f"network archive lacks the array(s) {', '.join(missing)} (found: {', '.join(sorted(data)) or 'none'}).",
        )
    for k in REQUIRED_ARRAYS:
        if data[k].ndim != 1:
            raise _archive_error(path, f"network array {k!r} must be one-dimensional, got shape {data[k].shape}.")
    for k, kinds, what in (
        ("node_id", "iu", "integers"),
        ("u", "iu", "integer node positions"),
        ("v", "iu", "integer node positions"),
        ("lon", "iuf", "numbers"),
        ("lat", "iuf", "numbers"),
        ("length_m", "iuf", "numbers"),
    ):
        if data[k].dtype.kind not in kinds:
            raise _archive_error(path, f"network array {k!r} must hold {what}, got dtype {data[k].dtype}.")
    n = data["node_id"].shape[0]
    bad = [k for k in ("lon", "lat") if data[k].shape[0] != n]
    if bad:
        raise _archive_error(
            path,
            "node arrays have different lengths: "
            + ", ".join(f"{k}={data[k].shape[0]}" for k in ("node_id", "lon", "lat"))
            + ".",
        )
    m = data["u"].shape[0]
    if data["v"].shape[0] != m or data["length_m"].shape[0] != m:
        raise _archive_error(
            path,
            "edge arrays have different lengths: "
            + ", ".join(f"{k}={data[k].shape[0]}" for k in ("u", "v", "length_m"))
            + ".",
        )
    for k in ("name", "highway"):
        if k in data and (data[k].shape != (m,) or data[k].dtype.kind != "U"):
            raise _archive_error(
                path,
                f"edge attribute {k!r} must hold one string per edge ({m}), "
                f"got shape {data[k].shape} dtype {data[k].dtype}.",
            )
    for k in ("u", "v"):
        idx = data[k]
        out = (idx < 0) | (idx >= n)
        if out.any():
            raise _archive_error(
                path,
                f"{int(out.sum())} edge end(s) in {k!r} are not node positions in [0, {n}) "
                f"(e.g. {int(idx[out][0])}); u/v must index the node arrays, not hold OSM ids.",
            )
    return n, m


def _check_way_arrays(path: Path, data: dict[str, np.ndarray], m: int) -> None:
    """Check the optional OSM way ids of the edges (``way_id``, ``way_extra``)."""
    if "way_id" in data and (data["way_id"].shape != (m,) or data["way_id"].dtype.kind not in "iu"):
        raise _archive_error(
            path,
            f"edge attribute 'way_id' must hold one integer per edge ({m}), "
            f"got shape {data['way_id'].shape} dtype {data['way_id'].dtype}.",
        )
    if "way_extra" in data:
        x = data["way_extra"]
        if "way_id" not in data or x.ndim != 2 or x.shape[1] != 2 or x.dtype.kind not in "iu":
            raise _archive_error(
                path, f"'way_extra' must be (edge, way id) integer pairs beside way_id, got shape {x.shape}."
            )
        if x.size and (x[:, 0].min() < 0 or x[:, 0].max() >= m):
            raise _archive_error(path, f"'way_extra' names edges outside [0, {m}).")


def _check_values(path: Path, data: dict[str, np.ndarray], n: int, m: int) -> dict[str, Any]:
    """Check coordinates, lengths and their unit; return the length check."""
    lon, lat = data["lon"].astype(np.float64), data["lat"].astype(np.float64)
    nonfinite = ~(np.isfinite(lon) & np.isfinite(lat))
    if nonfinite.any():
        raise _archive_error(path, f"{int(nonfinite.sum())} of {n} nodes have non-finite (NaN/inf) coordinates.")
    out_of_range = (np.abs(lon) > 180.0) | (np.abs(lat) > 90.0)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise _archive_error(
            path,
            f"{int(out_of_range.sum())} of {n} nodes have coordinates outside WGS84 degree ranges "
            f"(|lon| <= 180, |lat| <= 90), e.g. lon={lon[i]:.6g}, lat={lat[i]:.6g}.",
            "store WGS84 lon/lat in degrees (not projected metres; lon before lat).",
        )
    length = data["length_m"].astype(np.float64)
    bad_len = ~np.isfinite(length) | (length < 0)
    if bad_len.any():
        raise _archive_error(
            path,
            f"{int(bad_len.sum())} of {m} edge lengths are negative or not finite.",
            "store each edge's length in metres (>= 0).",
        )
    check = edge_length_check(lon, lat, data["u"].astype(np.int64), data["v"].astype(np.int64), length)
    ratio, unit = check["median_ratio"], check["unit_guess"]
    if ratio is not None and unit != "metres":
        stats = f"median length/straight-line = {ratio:.3g} over {check['edges_compared']} edges"
        if unit is not None:
            problem = f"edge lengths look like {unit}, not metres ({stats})."
            if unit in ("degrees", "radians"):
                fix = (
                    "store metres in length_m: measure the lengths on the ground (great-circle or projected), "
                    "not in degrees."
                )
            else:
                fix = f"store metres in length_m (multiply the lengths by {1.0 / _UNIT_FACTORS[unit]:.6g})."
        elif ratio < MIN_MEDIAN_LENGTH_RATIO:
            problem = (
                f"edge lengths are shorter than the straight line between their ends ({stats}, expected >= "
                f"{MIN_MEDIAN_LENGTH_RATIO}); a road is never shorter than its chord."
            )
            fix = "store metres in length_m and check that u/v index the same node order as lon/lat."
        else:
            problem = (
                f"edge lengths are far longer than the straight line between their ends ({stats}, expected <= "
                f"{MAX_MEDIAN_LENGTH_RATIO})."
            )
            fix = "store metres in length_m and check that u/v index the same node order as lon/lat."
        raise _archive_error(path, problem, fix)
    return check


#: Below this share of edges with a reverse twin, a network looks stored "one row per street" (undirected).
MIN_REVERSE_SHARE = 0.05
#: ... judged only on networks of at least this many edges (a hand-made graph may be one-way on purpose).
MIN_EDGES_FOR_REVERSE_CHECK = 100


def reverse_edge_share(u: np.ndarray, v: np.ndarray) -> float:
    """Share of directed edges ``u -> v`` whose reverse ``v -> u`` also exists.

    Street networks are mostly two-way, so real walk networks are near 1 and
    drive networks well above :data:`MIN_REVERSE_SHARE`; a share near 0 means
    each street was stored once, in one direction, and every street would be
    one-way.
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    if u.size == 0:
        return 1.0
    n = int(max(u.max(), v.max())) + 1
    fwd = np.sort(u * n + v)  # sort + searchsorted: ~30x faster than np.unique + np.isin (hash) at 2M edges
    rev = v * n + u
    i = np.searchsorted(fwd, rev)
    i[i == fwd.size] = 0
    return float((fwd[i] == rev).mean())


def load_network(path: str | Path) -> RoadNetwork:
    """Load and check a network written by :func:`save_network`.

    The archive must hold the arrays ``node_id, lon, lat, u, v, length_m``
    (optional ``name``, ``highway``, ``way_id``, ``way_extra``, ``meta_json``; other arrays are ignored;
    an older archive without ``way_id`` loads with ``way_id=None``)
    with consistent lengths and types; ``u``/``v`` must be node positions in
    ``[0, n_nodes)``; coordinates finite WGS84 degrees; lengths finite,
    non-negative and in metres, judged by :func:`edge_length_check` (median
    length over straight-line distance within [0.98, 2.5]).  Whether the
    network covers the study area is checked separately
    (:func:`check_network_covers`).

    Parameters
    ----------
    path
        A ``.npz`` file.

    Returns
    -------
    RoadNetwork
        ``meta["edges_shorter_than_chord"]`` is set to the number of single
        edges shorter than the straight line between their ends (beyond
        rounding) when there are any; such edges are kept.

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputFileError
        The file is unreadable or fails a check above; the message names the
        array or values at fault.
    """
    import json

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "network file")
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head.startswith(b"PK"):  # an .npz is a zip archive
        kind = (
            "an OSM PBF file"
            if b"OSMHeader" in head
            else "OSM XML"
            if b"<osm" in head or b"<?xml" in head
            else "not a NumPy archive"
        )
        raise InputFileError(
            path,
            f"is not a dgcoverage network archive (.npz): it looks like {kind}.",
            "give OSM files their own extension (.osm.pbf / .osm), or save a network with dgcoverage.save_network.",
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any failure to read is the same problem for the user
        why = "it holds Python objects, which are never loaded" if "pickle" in str(exc) else str(exc)
        raise InputFileError(
            path,
            f"is not a readable dgcoverage network archive ({why}).",
            "rebuild it with `dgcoverage build-demo`, save it with dgcoverage.save_network, or pass an .osm/.osm.pbf "
            "file.",
        ) from exc
    meta: dict[str, Any] = {}
    if "meta_json" in data:
        try:
            meta = json.loads(str(data["meta_json"]))
        except ValueError as exc:
            raise _archive_error(path, f"network archive has unreadable metadata (meta_json: {exc}).") from exc
        if not isinstance(meta, dict):
            raise _archive_error(path, "network archive metadata (meta_json) is not a JSON object.")
    check = _check_archive(path, data)
    meta.pop("edges_shorter_than_chord", None)
    if check["edges_shorter_than_chord"]:
        meta["edges_shorter_than_chord"] = check["edges_shorter_than_chord"]
    meta.pop("edges_with_reverse_share", None)
    share = reverse_edge_share(data["u"], data["v"])
    if data["u"].shape[0] >= MIN_EDGES_FOR_REVERSE_CHECK and share < MIN_REVERSE_SHARE:
        meta["edges_with_reverse_share"] = round(share, 4)
    fields = {k: data[k] for k in (*REQUIRED_ARRAYS, "name", "highway", "way_id", "way_extra") if k in data}
    try:
        return RoadNetwork(meta=meta, **fields)
    except NetworkError as exc:  # pragma: no cover - _check_archive catches what RoadNetwork rejects
        raise _archive_error(path, str(exc)) from exc


def check_network_covers(
    net: RoadNetwork,
    bounds_wgs84: tuple[float, float, float, float],
    *,
    min_node_share: float = 0.01,
    min_area_share: float = 0.5,
) -> dict[str, float]:
    """Check that a network lies over the study area (given by its WGS84 bounds).

    :func:`load_network` cannot know the study area; call this once both are
    known.  A network of another city, or one whose coordinates are in
    another datum shifted far away, raises; a network that covers the area
    only partly, or that lies mostly elsewhere, warns.

    Parameters
    ----------
    net
        The network (lon/lat in WGS84 degrees).
    bounds_wgs84
        ``(min_lon, min_lat, max_lon, max_lat)`` of the study area.
    min_node_share
        Warn when fewer than this share of the nodes lie inside the bounds
        (a network mostly outside the study area: slow, maybe the wrong
        extract).  The default 1 % stays silent for a province-wide extract
        around a city the size of Dongguan.
    min_area_share
        Warn when the bounding box of the nodes covers less than this share
        of the bounds' area (part of the study area has no roads at all).

    Returns
    -------
    dict
        ``nodes_inside`` (count), ``node_share_inside`` and
        ``area_share_covered`` (share of the bounds inside the nodes'
        bounding box).

    Raises
    ------
    NetworkError
        The bounds are malformed, the network has no node, or none of its
        nodes lies inside the bounds.
    """
    import warnings

    try:
        x0, y0, x1, y1 = (float(b) for b in bounds_wgs84)
    except (TypeError, ValueError) as exc:
        raise NetworkError(f"bounds must be (min_lon, min_lat, max_lon, max_lat), got {bounds_wgs84!r}") from exc
    if not (
        np.isfinite([x0, y0, x1, y1]).all()
        and x0 <= x1
        and y0 <= y1
        and x0 >= -180
        and x1 <= 180
        and y0 >= -90
        and y1 <= 90
    ):
        raise NetworkError(f"bounds must be WGS84 degrees (min_lon, min_lat, max_lon, max_lat), got {bounds_wgs84!r}")
    if net.n_nodes == 0:
        raise NetworkError("the road network has no nodes")
    inside = (net.lon >= x0) & (net.lon <= x1) & (net.lat >= y0) & (net.lat <= y1)
    k = int(inside.sum())
    nb = (float(net.lon.min()), float(net.lat.min()), float(net.lon.max()), float(net.lat.max()))
    if k == 0:
        raise NetworkError(
            f"no node of the road network lies in the study area: network lon {nb[0]:.4f}..{nb[2]:.4f}, lat "
            f"{nb[1]:.4f}..{nb[3]:.4f}; "
            f"study area lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f}. Fix: pass a network of the study area with "
            "WGS84 "
            "lon/lat coordinates."
        )
    area = (x1 - x0) * (y1 - y0)
    if area > 0:
        ix = max(0.0, min(x1, nb[2]) - max(x0, nb[0]))
        iy = max(0.0, min(y1, nb[3]) - max(y0, nb[1]))
        area_share = ix * iy / area
    else:
        area_share = 1.0
    share = k / net.n_nodes
    if share < min_node_share:
        warnings.warn(
            f"only {k} of {net.n_nodes} road network nodes ({share:.1%}) lie in the study area; "
            "the rest only slow the searches down (clip the network to the study area)",
            DgCoverageWarning,
            stacklevel=2,
        )
    if area_share < min_area_share:
        warnings.warn(
            f"the road network covers only {area_share:.0%} of the study area's bounding box "
            f"(network lon {nb[0]:.4f}..{nb[2]:.4f}, lat {nb[1]:.4f}..{nb[3]:.4f}); demand outside it "
            "will be off the network",
            DgCoverageWarning,
            stacklevel=2,
        )
    return {"nodes_inside": k, "node_share_inside": round(share, 6), "area_share_covered": round(area_share, 6)}
