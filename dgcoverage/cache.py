"""A content-addressed cache of road networks parsed from OSM files.

Parsing a city-sized ``.osm.pbf`` takes far longer than loading the arrays it
yields, so :func:`dgcoverage.network.network_from_file` keeps the parsed
:class:`~dgcoverage.network.RoadNetwork` as a ``.npz`` (written by
:func:`~dgcoverage.network.save_network`: plain arrays, no pickles).

The cache key is the SHA-256 of

* the input file's bytes,
* the network type (``walk``, ``drive``, ...),
* the dgcoverage version (a new version may parse differently),
* a cache format number.

so a changed input (or option, or package version) gets a new key and an old
entry can never be read for it.  The key is also stored inside the entry and
checked on load; an unreadable or mismatching entry is ignored and rebuilt.

Location: ``$DGCOVERAGE_CACHE`` if set, else ``.cache/dgcoverage/`` under the
current directory.  ``DGCOVERAGE_CACHE=off`` (or ``0``, ``none``) disables it.
Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .network import RoadNetwork

#: Bump when the stored layout or the parser's output changes without a version bump.
CACHE_FORMAT = 1
ENV_VAR = "DGCOVERAGE_CACHE"
DEFAULT_DIR = Path(".cache") / "dgcoverage"
_DISABLED = {"off", "0", "none", "false", "no", ""}


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when caching is disabled (``DGCOVERAGE_CACHE=off``)."""
    env = os.environ.get(ENV_VAR)
    if env is None:
        return DEFAULT_DIR
    if env.strip().lower() in _DISABLED:
        return None
    return Path(env)


def network_cache_key(path: str | Path, network_type: str) -> str:
    """SHA-256 (hex) of the file's bytes + network type + package version + cache format."""
    h = hashlib.sha256()
    h.update(f"dgcoverage-network-cache/{CACHE_FORMAT}\0{__version__}\0{network_type}\0".encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_path_for(key: str, directory: Path) -> Path:
    """Where the entry of ``key`` lives."""
    return Path(directory) / f"network-{key}.npz"


def load_cached_network(key: str, directory: Path) -> RoadNetwork | None:
    """The cached network for ``key``, or ``None`` when absent, unreadable or not for this key."""
    from .errors import DgCoverageError
    from .network import load_network

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
    """Save ``net`` under ``key`` (atomically); a cache that cannot be written is skipped silently."""
    from .network import RoadNetwork, save_network

    copy = RoadNetwork(net.node_id, net.lon, net.lat, net.u, net.v, net.length_m, net.name, net.highway,
                       {**net.meta, "cache_key": key})
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        return save_network(copy, cache_path_for(key, directory))
    except OSError:
        return None
