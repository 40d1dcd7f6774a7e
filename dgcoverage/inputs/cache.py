"""A content-addressed cache of road networks parsed from OSM files.

Parsing a city-sized ``.osm.pbf`` takes far longer than loading the arrays it
yields, so :func:`dgcoverage.inputs.network.network_from_file` keeps the parsed
:class:`~dgcoverage.core.roadnet.RoadNetwork` as a ``.npz`` (written by
:func:`~dgcoverage.core.roadnet.save_network`: plain arrays, no pickles).

The cache key is the SHA-256 of

* the input file's bytes,
* the network type (``walk``, ``drive``, ...),
* the clip, if any (:func:`dgcoverage.inputs.network.clip_description`: a bbox, or the
  SHA-256 of a polygon), so a clipped network never stands for an unclipped one,
* the dgcoverage version (a new version may parse differently),
* a cache format number.

so a changed input (or option, or package version) gets a new key and an old
entry can never be read for it.  The key is also stored inside the entry and
checked on load; an unreadable or mismatching entry is ignored and rebuilt.

Location: ``$DGCOVERAGE_CACHE`` if set, else ``.cache/dgcoverage/`` under the
current directory.  ``DGCOVERAGE_CACHE=off`` (or ``0``, ``none``) disables it.
Deleting the folder is always safe.

An entry is written in a private staging folder ``.tmp-<pid>-<random>-<host>/``
inside the cache and then renamed into place, so a reader never sees half an
entry.  A writer killed half way leaves that folder behind; every read or write
of the cache sweeps staging folders whose process is gone (same host) or that
are older than an hour (:func:`sweep_temp_files`), so they never accumulate.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from ..core.roadnet import RoadNetwork

#: Bump when the stored layout or the parser's output changes without a version bump.
#: 2: entries carry the OSM way id of every edge (``way_id``); format-1 entries are never read again (new key).
CACHE_FORMAT = 2
ENV_VAR = "DGCOVERAGE_CACHE"
DEFAULT_DIR = Path(".cache") / "dgcoverage"
_DISABLED = {"off", "0", "none", "false", "no", ""}
#: Staging folders of writers: ``.tmp-<pid>-<random hex>-<host>``.
TMP_PREFIX = ".tmp-"
_TMP_RE = re.compile(r"^\.tmp-(\d+)-([0-9a-f]+)-(.*)$")
#: Temporary files of :func:`dgcoverage.core.io.atomic_path` written straight into the cache by older versions.
_LEGACY_TMP_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
#: Temporary files and folders older than this are removed whoever wrote them (seconds).
TMP_MAX_AGE_S = 3600.0


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9._]", "_", socket.gethostname()) or "host"


def cache_dir() -> Path | None:
    """Return the cache folder, or ``None`` when caching is disabled (``DGCOVERAGE_CACHE=off``)."""
    env = os.environ.get(ENV_VAR)
    if env is None:
        return DEFAULT_DIR
    if env.strip().lower() in _DISABLED:
        return None
    return Path(env)


def network_cache_key(path: str | Path, network_type: str, way_filter: str = "", *, clip: str = "") -> str:
    """SHA-256 (hex) of the file's bytes + network type + way filter + clip + package version + cache format.

    ``way_filter`` is the OSM filter the network type stands for (it follows
    ``osmnx.settings.default_access``), so a changed setting never reads a network
    parsed under the old one.  ``clip`` describes the clipping area
    (:func:`dgcoverage.inputs.network.clip_description`; ``""`` for the whole file).
    """
    h = hashlib.sha256()
    h.update(f"dgcoverage-network-cache/{CACHE_FORMAT}\0{__version__}\0{network_type}\0{way_filter}\0".encode())
    if clip:
        h.update(f"clip\0{clip}\0".encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_path_for(key: str, directory: Path) -> Path:
    """Where the entry of ``key`` lives."""
    return Path(directory) / f"network-{key}.npz"


def _newest_mtime(path: Path) -> float:
    """Latest modification time of ``path`` and (for a folder) anything directly or deeper inside it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
    return newest


def sweep_temp_files(directory: str | Path, max_age_s: float = TMP_MAX_AGE_S) -> list[Path]:
    """Remove orphaned temporary files and staging folders from the cache folder.

    Removed: staging folders ``.tmp-<pid>-...-<host>`` whose process is no
    longer running on this host; any staging folder or temporary file
    (including ``atomic_path``'s ``.<name>.XXXXXXXX.tmp``) not modified for
    ``max_age_s`` seconds.  Never raises: a cache that cannot be cleaned is
    left as it is.

    Parameters
    ----------
    directory
        The cache folder.
    max_age_s
        Age (seconds since the last modification) beyond which any temporary
        file or folder counts as orphaned.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    from ..core.outputset import pid_alive

    removed: list[Path] = []
    now = time.time()
    host = _host_tag()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        p = Path(entry.path)
        m = _TMP_RE.match(entry.name)
        if m is None and not _LEGACY_TMP_RE.match(entry.name):
            continue
        try:
            dead = m is not None and m.group(3) == host and not pid_alive(int(m.group(1)))
            if not dead and now - _newest_mtime(p) < max_age_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:  # gone meanwhile (another sweeper), or not ours to remove
            continue
    return removed


def load_cached_network(key: str, directory: Path) -> RoadNetwork | None:
    """Return the cached network for ``key``, or ``None`` when absent, unreadable or not for this key.

    Also sweeps orphaned temporary files from the cache (:func:`sweep_temp_files`).
    """
    from ..core.roadnet import load_network
    from ..errors import DgCoverageError

    sweep_temp_files(directory)
    p = cache_path_for(key, directory)
    if not p.exists():
        return None
    try:
        net = load_network(p)
    except (DgCoverageError, ValueError, OSError, KeyError):
        return None
    if net.meta.pop("cache_key", None) != key:
        return None
    return net


def store_cached_network(net: RoadNetwork, key: str, directory: Path) -> Path | None:
    """Save ``net`` under ``key`` (atomically); a cache that cannot be written is skipped silently.

    The entry is written in this process's staging folder ``.tmp-<pid>-<random>-<host>/``
    and renamed into place; orphaned temporary files are swept first.
    """
    from ..core.roadnet import RoadNetwork, save_network

    copy = RoadNetwork(
        net.node_id,
        net.lon,
        net.lat,
        net.u,
        net.v,
        net.length_m,
        net.name,
        net.highway,
        {**net.meta, "cache_key": key},
        net.way_id,
        net.way_extra,
    )
    directory = Path(directory)
    target = cache_path_for(key, directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        sweep_temp_files(directory)
        staging = directory / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{_host_tag()}"
        staging.mkdir()
        try:
            os.replace(save_network(copy, staging / target.name), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target
    except OSError:
        return None
