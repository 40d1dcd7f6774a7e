"""Many clipped road networks from ONE read of a local OSM file (the windows of a batch's regions).

:func:`networks_from_osm_file` reads the file once, keeping every way that passes the filter of ANY of the
wanted network types (with, per way, which types it passes and its one-way mode under each), and then builds
each wanted ``(network type, clip)`` network from those arrays exactly as
:func:`~dgcoverage.inputs.osm.network_from_osm_file` would from its own clipped read: the ways of the type with
a node in the clip's box, in file order, through the same building code
(:func:`~dgcoverage.inputs.osm.build_network`). So each network equals the clipped single read node for node and
edge for edge, with the same ``meta`` (ways kept, ways outside the clip box, missing node refs).

The read holds the whole file's passing ways as flat arrays (node refs and 1e-7 degree locations, way lengths,
ids, type bits, modes, and street names and highway classes as codes of their distinct values), not Python
objects per way, so a province of millions of ways stays within a few hundred MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.roadnet import RoadNetwork
from .osm import (
    _check_path,
    _clip_geometry,
    _is_one_way,
    _is_reversed,
    _network_clauses,
    _osmium_file,
    _read_error,
    build_network,
    clip_box,
    way_passes,
)

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

__all__ = ["networks_from_osm_file", "read_all_ways", "cut_ways", "save_ways", "load_ways"]


class AllWays:
    """The ways of a whole OSM file passing any of several network filters, as flat arrays (see module doc)."""

    def __init__(self, path: Path, types: list[str]) -> None:
        self.path = path
        self.types = types
        self.refs = array("q")
        self.xs = array("i")
        self.ys = array("i")
        self.way_len = array("q")
        self.way_osm_id = array("q")
        self.type_bits = array("B")  # bit k: the way passes types[k]'s filter
        self.modes: dict[str, Any] = {
            t: array("b") for t in types
        }  # per type: 0 both ways, 1 forward only, 2 reverse only
        self.name_code = array("i")
        self.highway_code = array("i")
        self.names: list[str] = []
        self.highways: list[str] = []

    def nbytes(self) -> int:
        """Bytes held by the arrays (the string tables left out)."""
        arrays = [self.refs, self.xs, self.ys, self.way_len, self.way_osm_id, self.type_bits, self.name_code]
        arrays += [self.highway_code, *self.modes.values()]
        return sum(a.itemsize * len(a) for a in arrays)


def read_all_ways(path: str | Path, types: list[str]) -> AllWays:
    """Read the whole file once: every way passing the filter of any of ``types`` (OSMnx network types).

    Raises
    ------
    InputNotFoundError, InputFileError
        The file is missing, empty, corrupt or of an unknown type (as :func:`network_from_osm_file`).
    NetworkError
        An unknown network type.
    """
    import osmium
    import osmnx as ox

    path = _check_path(path, "OSM file")
    types = list(dict.fromkeys(types))
    clauses = [_network_clauses(t) for t in types]
    bidi = [t in ox.settings.bidirectional_network_types for t in types]
    all_oneway = bool(ox.settings.all_oneway)
    ways = AllWays(path, types)
    processor = osmium.FileProcessor(_osmium_file(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    required = [[c.key for c in cl if c.op in ("has", "~", "=")] for cl in clauses]
    if all(required):  # a way passing a type has that type's first required key: drop the others in libosmium
        processor.with_filter(osmium.filter.KeyFilter(*dict.fromkeys(r[0] for r in required)))
    processor.with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    keys = tuple(dict.fromkeys(c.key for cl in clauses for c in cl))
    passes: dict[tuple[str | None, ...], int] = {}
    name_index: dict[str, int] = {}
    highway_index: dict[str, int] = {}
    refs, xs, ys, way_len, way_osm_id = ways.refs, ways.xs, ways.ys, ways.way_len, ways.way_osm_id
    modes = [ways.modes[t] for t in types]
    try:
        for way in processor:
            tags = way.tags
            sig = tuple(tags.get(k) for k in keys)
            bits = passes.get(sig)
            if bits is None:
                bits = passes[sig] = sum(1 << k for k, cl in enumerate(clauses) if way_passes(tags, cl))
            if not bits:
                continue
            n_before = len(refs)
            for nd in way.nodes:
                loc = nd.location
                refs.append(nd.ref)
                xs.append(loc.x)
                ys.append(loc.y)
            way_len.append(len(refs) - n_before)
            way_osm_id.append(way.id)
            ways.type_bits.append(bits)
            for k, mode in enumerate(modes):
                if _is_one_way(tags, bidi[k], all_oneway):
                    mode.append(2 if _is_reversed(tags) else 1)
                else:
                    mode.append(0)
            name = tags.get("name", "")
            code = name_index.get(name)
            if code is None:
                code = name_index[name] = len(ways.names)
                ways.names.append(name)
            ways.name_code.append(code)
            highway = tags.get("highway", "")
            code = highway_index.get(highway)
            if code is None:
                code = highway_index[highway] = len(ways.highways)
                ways.highways.append(highway)
            ways.highway_code.append(code)
    except RuntimeError as exc:
        raise _read_error(path, exc) from exc
    return ways


#: The way arrays saved by :func:`save_ways` (one ``.npy`` each) and their dtypes; modes go to ``mode-<type>.npy``.
_ARRAYS = {
    "refs": np.int64,
    "xs": np.int32,
    "ys": np.int32,
    "way_len": np.int64,
    "way_osm_id": np.int64,
    "type_bits": np.uint8,
    "name_code": np.int32,
    "highway_code": np.int32,
}


def _np(a: Any, dtype: Any) -> np.ndarray:
    """Return an ``array.array`` of a fresh read or a (memory-mapped) numpy array of :func:`load_ways`, as numpy."""
    return np.frombuffer(a, dtype=dtype) if isinstance(a, array) else np.asarray(a, dtype=dtype)


def _table_arrays(table: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return a string table as UTF-8 bytes and offsets (exact for any text, unlike fixed-width numpy strings)."""
    encoded = [t.encode("utf-8") for t in table]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _table(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    return [data[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def save_ways(ways: AllWays, folder: str | Path) -> None:
    """Save ``ways`` to ``folder`` as uncompressed ``.npy`` files (one per array), for :func:`load_ways`."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, dtype in _ARRAYS.items():
        np.save(folder / f"{name}.npy", _np(getattr(ways, name), dtype))
    for k, t in enumerate(ways.types):
        np.save(folder / f"mode-{k}.npy", _np(ways.modes[t], np.int8))
    for name in ("names", "highways"):
        blob, offsets = _table_arrays(getattr(ways, name))
        np.save(folder / f"{name}-utf8.npy", blob)
        np.save(folder / f"{name}-offsets.npy", offsets)
    (folder / "types.json").write_text(json.dumps(ways.types), encoding="utf-8")


def load_ways(folder: str | Path, path: str | Path) -> AllWays:
    """Load the ways saved by :func:`save_ways` (arrays memory-mapped, read-only) as a read of ``path``."""
    import json

    folder = Path(folder)
    types = json.loads((folder / "types.json").read_text(encoding="utf-8"))
    ways = AllWays(Path(path), types)
    for name in _ARRAYS:
        setattr(ways, name, np.load(folder / f"{name}.npy", mmap_mode="r"))
    ways.modes = {t: np.load(folder / f"mode-{k}.npy", mmap_mode="r") for k, t in enumerate(types)}
    for name in ("names", "highways"):
        blob = np.load(folder / f"{name}-utf8.npy")
        setattr(ways, name, _table(blob, np.load(folder / f"{name}-offsets.npy")))
    return ways


def cut_ways(ways: AllWays, network_type: str, box: tuple[int, int, int, int] | None) -> tuple[Any, ...]:
    """Return what ``osm._read_ways`` would have read for ``network_type`` and ``box``, cut from ``ways``.

    The ways of the type with at least one node in the box (undefined locations are never in it), in file
    order; the count of the type's ways with none is the ``n_outside_box`` value.
    """
    k = ways.types.index(network_type)
    way_len = _np(ways.way_len, np.int64)
    of_type = (_np(ways.type_bits, np.uint8) & (1 << k)) != 0
    n_outside = 0
    if box is not None:
        x = _np(ways.xs, np.int32)
        y = _np(ways.ys, np.int32)
        bx0, by0, bx1, by1 = box
        in_box = (x >= bx0) & (x <= bx1) & (y >= by0) & (y <= by1)
        counts = np.concatenate([[0], np.cumsum(in_box, dtype=np.int64)])
        ends = np.cumsum(way_len)
        any_in = (counts[ends] - counts[ends - way_len]) > 0
        n_outside = int((of_type & ~any_in).sum())
        keep = of_type & any_in
    else:
        keep = of_type
    node_keep = np.repeat(keep, way_len)
    names = [ways.names[c] for c in _np(ways.name_code, np.int32)[keep]]
    highways = [ways.highways[c] for c in _np(ways.highway_code, np.int32)[keep]]
    return (
        _np(ways.refs, np.int64)[node_keep],
        _np(ways.xs, np.int32)[node_keep],
        _np(ways.ys, np.int32)[node_keep],
        way_len[keep],
        _np(ways.modes[network_type], np.int8)[keep],
        names,
        highways,
        n_outside,
        _np(ways.way_osm_id, np.int64)[keep],
    )


def networks_from_osm_file(
    path: str | Path,
    wanted: Mapping[Hashable, tuple[str, BaseGeometry | None]],
    *,
    on_error: Callable[[Hashable, Exception], None] | None = None,
    ways: AllWays | None = None,
) -> dict[Hashable, RoadNetwork]:
    """Read an OSM file ONCE and build many clipped networks: ``{key: (network_type, polygon or None)}``.

    Each network equals ``network_from_osm_file(path, network_type, polygon=polygon)`` node for node and edge for
    edge (same arrays, names, highway classes, way ids and ``meta``), the default ``bidirectional`` of its type.

    Parameters
    ----------
    path
        An ``.osm`` / ``.osm.pbf`` / ``.osm.bz2`` / ``.osm.gz`` file.
    wanted
        The networks to build, by any hashable key (e.g. ``(region, network_type)``).
    on_error
        Called with ``(key, error)`` for a network that cannot be built (e.g. no road edge inside its clip);
        that key is then left out. Without it the first error is raised.
    ways
        An earlier :func:`read_all_ways` of the same file with every type needed (not read again).

    Returns
    -------
    dict
        The networks by key.
    """
    if ways is None:
        ways = read_all_ways(path, [t for t, _ in wanted.values()])
    out: dict[Hashable, RoadNetwork] = {}
    for key, (network_type, polygon) in wanted.items():
        try:
            import osmnx as ox

            clip = _clip_geometry(None, polygon)
            bidirectional = network_type in ox.settings.bidirectional_network_types
            cut = cut_ways(ways, network_type, clip_box(clip))
            out[key] = build_network(ways.path, network_type, bidirectional, clip, cut)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(key, exc)
    return out
