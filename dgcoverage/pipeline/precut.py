"""A batch's first stage: the regions' road windows cut from their shared OSM file in ONE read.

When several regions of a batch take their roads from the same OSM file (a province ``.osm.pbf``), each region
task would read the whole file once per network type only to keep its window. :func:`precut_networks` reads the
file once instead (:func:`dgcoverage.inputs.osm_cut.networks_from_osm_file`, with every network type the
regions need) and saves each ``(region, network type)`` network, clipped exactly as the task clips it
(:func:`clip_polygon`), as ``<out>/.precut/network-<key>.npz``. The key is the SHA-256 of the file's SHA-256,
the network type and its way filter, the clip polygon and the package version, so a rerun reuses the cut
networks and a changed file (or clip, filter, version) is cut again. Region tasks load their ``.npz``
(:func:`load_precut`); a region whose window cannot be cut here (its towns file is refused, no road lies inside
its window, the file is corrupt) is left to its task, which reads the file as before and reports its error.

A region with its own road file (no other region shares it) is read by its task as before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..inputs.batch import BatchRegion, HashCache
from ..inputs.config import Circle

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

    from ..core.roadnet import RoadNetwork

#: Road files read through the clipped OSM reader (the others, .npz/.graphml, are taken whole, as ``run`` does).
OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".gz", ".xml")
#: Folder of the cut networks, inside the batch's output folder (a dot folder: never a region's id).
PRECUT_DIR = ".precut"
#: Bump when the cut networks' content changes without a version bump.
PRECUT_FORMAT = 1
#: Meta keys that :func:`~dgcoverage.core.roadnet.load_network` derives from the arrays on loading; a network built
#: from the OSM file has neither, so they are dropped from a loaded cut network to give the same network.
_LOAD_DERIVED = ("edges_shorter_than_chord", "edges_with_reverse_share")


def clip_polygon(region: BatchRegion, circles: Sequence[Circle]) -> tuple[BaseGeometry, dict[str, Any]]:
    """Return the region's clip (its towns buffered by the longest reach, WGS84) and its record for the manifest."""
    from ..inputs.clip import buffered_towns, circle_reach_m
    from ..inputs.network import clip_description
    from ..inputs.region import read_units

    reach = circle_reach_m(circles)
    towns = read_units(region.towns or "", "towns").to_crs(4326).assign(has_polygon=True)
    polygon = buffered_towns(towns, reach)
    clip = {
        "mode": "auto",
        "towns": int(len(towns)),
        "reach_m": round(reach, 1),
        "bounds": [round(float(c), 6) for c in polygon.bounds],
        "key": clip_description(None, polygon),
    }
    return polygon, clip


def precut_key(file_sha256: str, network_type: str, clip_key: str) -> str:
    """SHA-256 naming one cut network: file hash, network type, its way filter, clip, version, format."""
    from ..inputs.osm import network_filter

    text = "\0".join(
        ["dgcoverage-precut", str(PRECUT_FORMAT), __version__, file_sha256, network_type]
        + [network_filter(network_type), clip_key]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def precut_path(out: Path, key: str) -> Path:
    """Where the cut network of ``key`` lives."""
    return Path(out) / PRECUT_DIR / f"network-{key}.npz"


def precut_networks(
    regions: Sequence[tuple[BatchRegion, Sequence[str]]],
    circles: Sequence[Circle],
    out: str | Path,
    hashes: HashCache | None = None,
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, Any]]:
    """Cut every region's windows from the OSM files that two or more of ``regions`` share, one read per file.

    Parameters
    ----------
    regions
        ``(region, network types it needs)`` pairs: the regions about to run.
    circles
        The batch's circles (their longest reach sizes the windows, as in the task).
    out
        The batch's output folder; the networks go to ``<out>/.precut/``.
    hashes
        The batch's file hashes (each file hashed once).

    Returns
    -------
    tuple
        ``{region id: {network type: record}}`` for the regions given a cut network (a record holds ``obtained``
        ``"precut"``, the ``file`` and ``key``, and whether it was ``reused`` from an earlier run), and the stage's
        figures (``files`` read, networks ``cut``, ``reused`` and ``left_to_task``, ``read_s`` (the one read),
        ``build_s`` (building and saving the windows), ``clip_s`` (the regions' clip polygons, handed to the tasks),
        ``seconds`` (all of it, imports included) and ``ways_mb`` held by the one read).
    """
    from ..inputs.network import clip_description

    t0 = time.perf_counter()
    hashes = hashes or HashCache()
    out = Path(out)
    by_file: dict[Path, list[tuple[BatchRegion, Sequence[str]]]] = {}
    for region, types in regions:
        if region.error is None and region.network and str(region.network).lower().endswith(OSM_SUFFIXES):
            by_file.setdefault(Path(region.network).resolve(), []).append((region, types))
    done: dict[str, dict[str, dict[str, Any]]] = {}
    stats: dict[str, Any] = {"files": 0, "cut": 0, "reused": 0, "left_to_task": 0, "read_s": 0.0, "build_s": 0.0}
    stats.update(ways_mb=0.0, clip_s=0.0)
    for path, group in by_file.items():
        if len(group) < 2 or not path.is_file():  # its own file (or a missing one): the task reads it as before
            continue
        sha = hashes.sha256(path)
        wanted: dict[tuple[str, str], tuple[str, Any]] = {}
        for region, types in group:
            t1 = time.perf_counter()
            try:
                polygon, clip = clip_polygon(region, circles)
            except Exception:  # noqa: BLE001 - the task reads the towns again and reports the problem
                stats["left_to_task"] += len(types)
                continue
            finally:
                stats["clip_s"] += time.perf_counter() - t1
            for network_type in types:
                key = precut_key(sha, network_type, clip_description(None, polygon))
                record = {"obtained": "precut", "file": str(precut_path(out, key)), "key": key, "reused": True}
                record.update(source_sha256=sha, clip=clip)  # the task's clip record: not computed again there
                if precut_path(out, key).is_file():
                    done.setdefault(region.id, {})[network_type] = record
                    stats["reused"] += 1
                else:
                    wanted[(region.id, network_type)] = (network_type, polygon)
                    done.setdefault(region.id, {})[network_type] = {**record, "reused": False}
        if not wanted:
            continue

        _cut_file(path, wanted, done, stats)
    stats["seconds"] = time.perf_counter() - t0
    return {r: t for r, t in done.items() if t}, stats


def _cut_file(
    path: Path,
    wanted: dict[tuple[str, str], tuple[str, Any]],
    done: dict[str, dict[str, dict[str, Any]]],
    stats: dict[str, Any],
) -> None:
    """Read ``path`` once and build and save each wanted ``(region, network type)`` window; what fails is left out."""
    from ..core.roadnet import save_network
    from ..inputs.network import clip_description
    from ..inputs.osm_cut import networks_from_osm_file, read_all_ways

    def left(key: Any, exc: Exception) -> None:
        del done[key[0]][key[1]]
        stats["left_to_task"] += 1

    t1 = time.perf_counter()
    try:
        ways = read_all_ways(path, sorted({t for t, _ in wanted.values()}))
    except Exception:  # noqa: BLE001 - a corrupt file: every task reads it and reports the error itself
        for key in wanted:
            left(key, None)  # type: ignore[arg-type]
        return
    stats["files"] += 1
    stats["read_s"] += time.perf_counter() - t1
    stats["ways_mb"] = max(stats["ways_mb"], ways.nbytes() / 2**20)
    t1 = time.perf_counter()
    for key in wanted:  # one network at a time: built, saved, let go
        nets = networks_from_osm_file(path, {key: wanted[key]}, on_error=left, ways=ways)
        if key in nets:
            nets[key].meta["clip"] = clip_description(None, wanted[key][1])  # as network_from_file records it
            try:
                _save(save_network, nets[key], Path(done[key[0]][key[1]]["file"]))
            except OSError as exc:  # e.g. a full disk: that task reads the file itself
                left(key, exc)
                continue
            stats["cut"] += 1
    stats["build_s"] += time.perf_counter() - t1
    del ways


def _save(save: Any, net: RoadNetwork, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save(net, path)  # compressed: a window's street names as fixed-width text are ~100 MB stored


def load_precut(record: dict[str, Any]) -> RoadNetwork | None:
    """Load a cut network saved by :func:`precut_networks` (``None`` when it is gone or unreadable: read instead)."""
    from ..core.roadnet import load_network
    from ..errors import DgCoverageError

    try:
        net = load_network(record["file"])
    except (DgCoverageError, OSError, ValueError, KeyError):
        return None
    for k in _LOAD_DERIVED:
        net.meta.pop(k, None)
    return net
