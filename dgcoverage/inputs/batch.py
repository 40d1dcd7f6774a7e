"""The regions of a batch run: a folder of region TOMLs, each checked, and the hashes of what each one reads.

A batch folder holds one region per ``<name>.toml`` file, or per sub-folder ``<name>/region.toml`` (the format of
``dgcoverage run --region``: :func:`~dgcoverage.inputs.region.read_region_toml`). ``<name>`` is the region's id
and the name of its output folder. Inputs a region does not name (network, population, facilities) come from the
batch's shared ones; a region's own file wins. A region whose TOML cannot be read is kept with its error, so the
batch reports it and runs the others.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DgCoverageError, InputNotFoundError

#: A region's manifest (inside its output folder): what its outputs were made from, and its rows of batch.csv.
MANIFEST_NAME = "batch_manifest.json"
#: A region id: a folder name on every system.
REGION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class BatchRegion:
    """One region of a batch: its id (output folder), its files and labels, or the error that stops it.

    ``facilities`` maps circle ids to files (the region's own, then the batch's shared ``*`` file).
    """

    id: str
    toml: Path | None = None
    towns: Path | None = None
    villages: Path | None = None
    network: Path | None = None
    population: Path | None = None
    facilities: dict[str, Path] = field(default_factory=dict)
    code: str | None = None
    city_name: str | None = None
    name: str = ""
    error: str | None = None

    def facility_file(self, circle_id: str, n_circles: int) -> Path | None:
        """Return the facility file of a circle (``None``: there is none).

        The region's file for this circle, its only file when one circle runs (as ``run --region`` takes it),
        else the batch's shared file (``*``).
        """
        own = {k: v for k, v in self.facilities.items() if k != "*"}
        if circle_id in own:
            return own[circle_id]
        if len(own) == 1 and n_circles == 1:
            return next(iter(own.values()))
        return self.facilities.get("*")


def _one_region(rid: str, toml: Path) -> BatchRegion:
    from .region import read_region_toml

    try:
        reg = read_region_toml(toml)
    except DgCoverageError as exc:
        return BatchRegion(rid, toml, error=str(exc))
    return BatchRegion(
        rid,
        reg["path"],
        reg["towns"],
        reg["villages"],
        reg.get("network"),
        reg.get("population"),
        dict(reg["facilities"]),
        reg["code"],
        reg["city_name"],
        reg["name"],
    )


def regions_from_folder(
    folder: str | Path,
    network: str | Path | None = None,
    population: str | Path | None = None,
    facilities: str | Path | None = None,
    only: list[str] | None = None,
) -> list[BatchRegion]:
    """Read the regions of a batch folder (sorted by id), the shared inputs filling what a region leaves out.

    Parameters
    ----------
    folder
        Holds ``<id>.toml`` files and/or ``<id>/region.toml`` folders.
    network, population, facilities
        The batch's shared inputs (a region's own files win).
    only
        Keep only these region ids (refused when one is not in the folder).

    Raises
    ------
    DgCoverageError
        The folder is missing or holds no region, two regions share an id, an id is no folder name, or
        ``only`` names an unknown region.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputNotFoundError(root, "batch folder of region TOMLs")
    found: dict[str, list[Path]] = {}
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix.lower() == ".toml":
            found.setdefault(p.stem, []).append(p)
        elif p.is_dir() and (p / "region.toml").is_file():
            found.setdefault(p.name, []).append(p / "region.toml")
    if not found:
        raise ConfigError(
            f"{root}: holds no region (no <id>.toml file and no <id>/region.toml). Fix: write one region TOML per "
            'region (towns = "...", villages = "...", see dgcoverage run --region).'
        )
    twice = {k: [str(x) for x in v] for k, v in found.items() if len(v) > 1}
    if twice:
        raise ConfigError(f"{root}: region ids given twice: {twice}. Fix: keep one TOML per region id.")
    bad = [k for k in found if not REGION_ID.match(k)]
    if bad:
        raise ConfigError(
            f"{root}: region ids {bad} are not plain folder names. Fix: rename them to letters, digits, '_', '-', '.'."
        )
    clash = {k: [str(x) for x in found[k]] for k in found if k.lower() in ("batch.csv", "batch.xlsx", "batch.html")}
    if clash:
        raise ConfigError(
            f"{root}: region ids {sorted(clash)} ({clash}) are the names of the batch's own outputs (batch.csv, "
            "batch.xlsx, batch.html): its folder would take the file's place. Fix: rename the region (e.g. batch_csv)."
        )
    if only:
        unknown = [k for k in only if k not in found]
        if unknown:
            raise ConfigError(f"--only {unknown}: no such region in {root} (regions: {sorted(found)[:12]}).")
        found = {k: v for k, v in found.items() if k in only}
    shared = {"network": network, "population": population}
    out = []
    for rid, (toml,) in sorted(found.items()):
        r = _one_region(rid, toml)
        if r.error is None:
            fill = {k: Path(v).resolve() for k, v in shared.items() if v is not None and getattr(r, k) is None}
            fac = dict(r.facilities)
            if facilities is not None:
                fac["*"] = Path(facilities).resolve()
            r = replace(r, facilities=fac, **fill)
            missing = [k for k in ("network", "population") if getattr(r, k) is None]
            if missing:
                r = replace(
                    r,
                    error=f"{toml}: names no {' and no '.join(missing)}, and the batch gives none. Fix: add "
                    f'{missing[0]} = "..." to the region TOML, or pass --{missing[0]} to dgcoverage batch.',
                )
        out.append(r)
    return out


class HashCache:
    """SHA-256 of files, each read once per batch (the shared province files are hashed once, not per region)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], str] = {}

    def sha256(self, path: Path) -> str:
        """Return the file's SHA-256 (a missing file hashes as ``missing``: the region then fails when run)."""
        from ..core.io import file_sha256

        try:
            st = path.stat()
        except OSError:
            return "missing"
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._seen:
            self._seen[key] = file_sha256(path)
        return self._seen[key]


def region_inputs(region: BatchRegion, circle_ids: list[str], config: Any, hashes: HashCache) -> dict[str, Any]:
    """Return what a region's outputs are made from: every file it reads (with its SHA-256) and the configuration.

    ``config`` is anything whose ``repr`` says the circles and settings (the typed, overridden config); the
    region's outputs are reused by a rerun only when this record is equal.
    """
    files: dict[str, Any] = {}
    for key in ("toml", "towns", "villages", "network", "population"):
        p = getattr(region, key)
        if p is not None:
            files[key] = {"path": str(p), "sha256": hashes.sha256(Path(p))}
    for cid in circle_ids:
        p = region.facility_file(cid, len(circle_ids))
        if p is not None:
            files[f"facilities.{cid}"] = {"path": str(p), "sha256": hashes.sha256(Path(p))}
    from .._version import __version__

    return {
        "region": region.id,
        "circles": list(circle_ids),
        "files": files,
        "config_sha256": hashlib.sha256(repr(config).encode("utf-8")).hexdigest(),
        "dgcoverage_version": __version__,
    }
