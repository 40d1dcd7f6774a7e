"""A batch's first stage: the shared OSM file read ONCE, its way arrays saved for the region tasks to cut.

When several regions of a batch take their roads from the same OSM file (a province ``.osm.pbf``), each region
task would read the whole file once per network type only to keep its window. :func:`precut_networks` reads the
file once instead (:func:`dgcoverage.inputs.osm_cut.read_all_ways`, with every network type the regions need)
and saves its way arrays uncompressed in ``<out>/.precut/ways-<key>/`` (one ``.npy`` per array; the key is the
SHA-256 of the file's SHA-256, the network types and their way filters and the package version, so a rerun
reuses them and a changed file is read again). Each region task then builds its own windows from the
memory-mapped arrays (:func:`load_precut`) with the building code of the single read
(:func:`~dgcoverage.inputs.osm_cut.networks_from_osm_file`, clipped exactly as the task clips,
:func:`clip_polygon`), so the builds run in parallel, and keeps each as ``<out>/.precut/network-<key>.npz`` (key:
file hash, network type and filter, clip polygon, version), which a rerun loads instead of building. A region
whose window cannot be had this way (its towns file is refused, no road lies inside its window, the file is
corrupt) reads the file in its task as before and reports its error.

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


def ways_key(file_sha256: str, types: Sequence[str]) -> str:
    """SHA-256 naming one file's saved way arrays: file hash, the network types read and their filters, version."""
    from ..inputs.osm import network_filter

    types = sorted(types)
    text = "\0".join(
        ["dgcoverage-ways", str(PRECUT_FORMAT), __version__, file_sha256, *types, *map(network_filter, types)]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def precut_networks(
    regions: Sequence[tuple[BatchRegion, Sequence[str]]],
    circles: Sequence[Circle],
    out: str | Path,
    hashes: HashCache | None = None,
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, Any]]:
    """Read once each OSM file that two or more of ``regions`` share and save its way arrays for the tasks.

    Parameters
    ----------
    regions
        ``(region, network types it needs)`` pairs: the regions about to run.
    circles
        The batch's circles (their longest reach sizes the windows, as in the task).
    out
        The batch's output folder; the way arrays and the windows go to ``<out>/.precut/``.
    hashes
        The batch's file hashes (each file hashed once).

    Returns
    -------
    tuple
        ``{region id: {network type: record}}`` for the regions whose window is cut from the saved ways (a record
        holds ``obtained`` ``"precut"``, the window's ``file`` and ``key``, whether it was ``reused`` from an
        earlier run, and, when not, the ``ways`` folder, ``source`` file and clip ``polygon`` (WKB) its task builds
        it from, see :func:`load_precut`), and the stage's figures (``files`` read, windows ``cut`` (handed to
        the tasks to build), ``reused`` and ``left_to_task``, ``ways_reused`` (way arrays of an earlier run),
        ``read_s`` (the one read), ``save_s`` (saving the way arrays), ``build_s`` (0.0: the tasks build),
        ``clip_s`` (the regions' clip polygons), ``seconds`` (all of it, imports included) and ``ways_mb``).
    """
    import shapely

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
    stats.update(ways_mb=0.0, clip_s=0.0, save_s=0.0, ways_reused=0)
    for path, group in by_file.items():
        if len(group) < 2 or not path.is_file():  # its own file (or a missing one): the task reads it as before
            continue
        sha = hashes.sha256(path)
        wanted: list[tuple[str, str]] = []
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
                    stats["reused"] += 1
                else:
                    record.update(reused=False, network_type=network_type, source=str(path))
                    record["polygon"] = shapely.to_wkb(polygon)
                    wanted.append((region.id, network_type))
                done.setdefault(region.id, {})[network_type] = record
        if wanted:
            folder = _saved_ways(path, sha, sorted({t for _, t in wanted}), out, stats)
            for region_id, network_type in wanted:
                if folder is None:  # a corrupt file: every task reads it and reports the error itself
                    del done[region_id][network_type]
                    stats["left_to_task"] += 1
                else:
                    done[region_id][network_type]["ways"] = str(folder)
                    stats["cut"] += 1
    stats["seconds"] = time.perf_counter() - t0
    return {r: t for r, t in done.items() if t}, stats


def _saved_ways(path: Path, sha: str, types: list[str], out: Path, stats: dict[str, Any]) -> Path | None:
    """Return the folder of ``path``'s way arrays for ``types`` (read and saved now, or reused); ``None``: unread."""
    import shutil

    from ..inputs.osm_cut import read_all_ways, save_ways

    folder = out / PRECUT_DIR / f"ways-{ways_key(sha, types)}"
    if (folder / "types.json").is_file():  # written last: a complete set
        stats["ways_reused"] += 1
        return folder
    t1 = time.perf_counter()
    try:
        ways = read_all_ways(path, types)
    except Exception:  # noqa: BLE001 - the tasks read the file and report the error
        return None
    stats["files"] += 1
    stats["read_s"] += time.perf_counter() - t1
    stats["ways_mb"] = max(stats["ways_mb"], ways.nbytes() / 2**20)
    t1 = time.perf_counter()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_ways(ways, tmp)  # uncompressed: the tasks memory-map the arrays
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except OSError:  # e.g. a full disk: the tasks read the file themselves
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    finally:
        stats["save_s"] += time.perf_counter() - t1
    return folder


def _build(record: dict[str, Any]) -> RoadNetwork | None:
    """Build the record's window from the saved ways (memory-mapped) and keep it as its ``.npz``; ``None``: failed."""
    import os

    import shapely

    from ..core.roadnet import save_network
    from ..inputs.network import clip_description
    from ..inputs.osm_cut import load_ways, networks_from_osm_file

    try:
        ways = load_ways(record["ways"], record["source"])
        polygon = shapely.from_wkb(record["polygon"])
        key = record["network_type"]
        nets = networks_from_osm_file(record["source"], {key: (key, polygon)}, on_error=lambda k, e: None, ways=ways)
    except (OSError, ValueError, KeyError):  # the ways are gone or damaged: read the file instead
        return None
    net = nets.get(key)
    if net is None:  # e.g. no road in the window: the task reads the file and reports the same error
        return None
    net.meta["clip"] = clip_description(None, polygon)  # as network_from_file records it
    path = Path(record["file"])
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    try:  # a rerun of the region loads it instead of building
        path.parent.mkdir(parents=True, exist_ok=True)
        save_network(net, tmp)  # compressed: a window's street names as fixed-width text are ~100 MB stored
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
    return net


def load_precut(record: dict[str, Any]) -> RoadNetwork | None:
    """Return the window of a :func:`precut_networks` record (``None`` when it cannot be had: read the file instead).

    A window saved as ``.npz`` (by an earlier task or run) is loaded; otherwise the task builds it from the file's
    memory-mapped way arrays with the building code of the single read and saves it for reruns.
    """
    from ..core.roadnet import load_network
    from ..errors import DgCoverageError

    if not Path(record["file"]).is_file() and record.get("ways"):
        return _build(record)
    try:
        net = load_network(record["file"])
    except (DgCoverageError, OSError, ValueError, KeyError):
        return None
    for k in _LOAD_DERIVED:
        net.meta.pop(k, None)
    return net
