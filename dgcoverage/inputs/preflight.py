"""The right reason, early: checks that run before anything is loaded, or before a misleading failure.

* :func:`check_input_files`: every file named on the command line exists, is a file and opens for reading
  (a missing ``--facilities`` file is said in milliseconds, not after the network and raster were loaded);
* :func:`check_region_files`: every file a ``--region`` TOML names, the same way (read with :mod:`tomllib` only);
* :func:`check_place_name`: ``--network-place`` names something (an empty name never falls back to the
  embedded default);
* :func:`check_site_capacity`: ``--site-capacity`` only for a circle with a supply standard;
* :func:`check_degrees`: a polygon (the ``--clip`` file) whose coordinates are metres, not degrees;
* :func:`check_two_header_rows`: a table whose header spans two rows (a merged ``坐标(高德)`` over
  ``经度``/``纬度``) is told as such, not blamed on the delimiter.

Each raises a :class:`~dgcoverage.errors.DgCoverageError` naming the option or file and the fix.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomllib

from ..errors import ColumnError, ConfigError, DgCoverageError, InputFileError, InputNotFoundError

#: How a message names what an option gives (default ``"<option> file"``).
WHAT = {
    "--network": "road network (--network)",
    "--population": "population raster (--population)",
    "--elderly-population": "elderly raster (--elderly-population)",
    "--facilities": "facility file (--facilities)",
    "--villages": "village file (--villages)",
    "--candidates": "candidate file (--candidates)",
    "--config": "circle config (--config)",
    "--add": "facilities to add (--add)",
    "--clip": "clip polygon file (--clip)",
}

#: Options whose value may be a folder (a region folder with region.toml; a vector dataset such as a .gdb).
FOLDER_OPTIONS = ("--region", "--towns", "--villages")


def check_input_files(named: Mapping[str, str | Path | None], folders_ok: Iterable[str] = FOLDER_OPTIONS) -> None:
    """Refuse a named input that is missing, a folder, unreadable or empty, before any loading.

    Parameters
    ----------
    named
        Option -> path as given (``{"--facilities": Path("f.csv"), ...}``); ``None`` values (options not
        given) are skipped.
    folders_ok
        Options that may name a folder.

    Raises
    ------
    InputNotFoundError
        The path does not exist (the message names the option and the path).
    InputFileError
        The path is a folder where a file is needed, cannot be opened for reading, or is empty.
    """
    folders = set(folders_ok)
    for option, value in named.items():
        if value is None:
            continue
        path = Path(value)
        if not path.exists():
            raise InputNotFoundError(path, WHAT.get(option, f"{option} file"))
        if path.is_dir():
            if option in folders:
                if not os.access(path, os.R_OK | os.X_OK):
                    raise InputFileError(
                        path, f"{option} names a folder that cannot be read.", "check its permissions."
                    )
                continue
            raise InputFileError(path, f"{option} names a folder, not a file.", f"give {option} the file itself.")
        if not path.is_file():
            raise InputFileError(path, f"{option} names no regular file (a device or pipe?).", "give a file.")
        try:
            with path.open("rb") as fh:
                first = fh.read(1)
        except OSError as exc:
            raise InputFileError(
                path,
                f"{option} file cannot be opened for reading ({exc.strerror or exc}).",
                "check its permissions (and that no other program locks it).",
            ) from None
        if not first:
            raise InputFileError(path, f"{option} file is empty (0 bytes).", "pick the right file, or save it again.")


#: Keys of a region TOML that name one file each (``facilities`` is a table circle id -> file).
REGION_FILE_KEYS = ("towns", "villages", "network", "population")
#: Region keys whose file may be a folder (a vector dataset such as a .gdb).
FOLDER_KEYS = ("towns", "villages")


def check_region_files(region: str | Path | None) -> None:
    """Refuse a ``--region`` TOML naming a file that is missing, a folder, unreadable or empty, before any loading.

    Paths are resolved against the TOML's folder, as :func:`~dgcoverage.inputs.region.read_region_toml` does;
    anything else wrong with the TOML (a missing key, a key of the wrong type) is left to it.

    Raises
    ------
    ConfigError
        The TOML is not valid TOML.
    InputFileError
        A named file does not exist (the message names the TOML, the key, the value and the path), or is
        a folder, unreadable or empty.
    """
    if region is None:
        return
    toml = Path(region) / "region.toml" if Path(region).is_dir() else Path(region)
    if not toml.is_file():
        return  # check_input_files (or the reader) says so
    try:
        raw = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{toml}: is not valid TOML ({exc}). Fix: correct the file.") from exc
    named = [(key, raw.get(key)) for key in REGION_FILE_KEYS]
    fac = raw.get("facilities")
    named += [(f"facilities.{k}", v) for k, v in fac.items()] if isinstance(fac, dict) else []
    for key, value in named:
        if not isinstance(value, str):
            continue
        path = (toml.parent / value).resolve()
        if not path.exists():
            raise InputFileError(
                path,
                f"the {key} file named in {toml} ({key} = {value!r}) not found.",
                f"correct {key} in {toml} (a path relative to its folder {toml.parent}), or put the file there.",
            )
        if path.is_dir() and not key.startswith(("towns", "villages")):
            raise InputFileError(path, f"{toml} names a folder for {key}, not a file.", f"name the file in {key}.")
        check_input_files({f"{key} (in {toml.name})": path}, folders_ok=[f"{k} (in {toml.name})" for k in FOLDER_KEYS])


def check_place_name(place: str | None) -> None:
    """Refuse an empty or blank ``--network-place`` (``None``: not given, nothing to check)."""
    if place is not None and not place.strip():
        raise DgCoverageError(
            f"--network-place {place!r} names no place. Fix: name an administrative area (e.g. 东莞市, or "
            "'Dongguan, Guangdong, China'), or give --network FILE, or leave both out for the embedded default"
        )


def check_site_capacity(circle: Any, site_capacity: float | None) -> None:
    """Refuse ``--site-capacity`` for a circle without a supply standard (before anything is loaded)."""
    if site_capacity is None:
        return
    if not getattr(circle, "has_supply", False):
        raise ConfigError(
            f"--site-capacity: circle {circle.id} has no supply standard (no capacity/supply_target in its config), "
            "so a site's size closes no deficit. Fix: drop --site-capacity, or choose a circle with one."
        )
    if not (math.isfinite(float(site_capacity)) and float(site_capacity) > 0):
        raise ConfigError(f"--site-capacity must be a number > 0 ({circle.capacity}), got {site_capacity!r}")


def check_degrees(bounds: Iterable[float], what: str) -> None:
    """Refuse coordinates that cannot be degrees (``|x| > 180`` or ``|y| > 90``): metres of a projected CRS.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` as read.
    what
        How the message names the input, e.g. ``"--clip clip.geojson: the clip polygon"``.
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
        raise DgCoverageError(
            f"{what}'s coordinates look like metres (x {minx:,.0f} .. {maxx:,.0f}, y {miny:,.0f} .. {maxy:,.0f}), "
            "not degrees. Fix: give it in WGS84 degrees or declare its CRS (e.g. save it as GeoPackage/shapefile "
            "with its .prj, or convert it: ogr2ogr -s_srs EPSG:3857 -t_srs EPSG:4326 clip_wgs84.geojson clip.geojson)"
        )


def check_two_header_rows(rows: list[tuple[int, list[str]]], h: int, path: Path, where: str, unit: str) -> None:
    """Refuse a header spread over two rows: names above empty cells of the header row found at ``h``.

    A merged cell ``坐标(高德)`` over ``经度``/``纬度`` leaves the header row with empty cells under the names of
    the row above (名称, 床位 merged down); read as one row, the data rows look shifted.  Title rows (one title
    over a complete header) do not trigger it.

    Parameters
    ----------
    rows
        ``(line or row number, cells)`` of the table.
    h
        Index of the row found as the header.
    path, where, unit
        For the message (file, ``"sheet 'X' "`` or ``""``, ``"row"`` or ``"line"``).
    """
    if h < 1:
        return
    upper = [c.strip() for c in rows[h - 1][1]]
    lower = [c.strip() for c in rows[h][1]]
    n = max([len(lower)] + [len(cells) for _, cells in rows[h + 1 : h + 50]])  # the data rows' width too
    lower += [""] * (n - len(lower))
    over = [(i, c) for i, c in enumerate(upper[:n]) if c and not lower[i]]
    groups = [c for i, c in enumerate(upper[:n]) if c and lower[i]]  # a merged cell's name stands at its left
    if not over or not groups:  # a title alone above the header, or a complete second row: not two header rows
        return
    one, above = [], ""
    for i in range(n):
        above = upper[i] if i < len(upper) and upper[i] else above
        qualifier = re.search(r"[(（][^()（）]+[)）]", above) if lower[i] else None
        one.append(
            lower[i] + (qualifier.group(0) if qualifier else "") if lower[i] else upper[i] if i < len(upper) else ""
        )
    raise ColumnError(
        path,
        f"{where}has two header rows ({unit}s {rows[h - 1][0]} and {rows[h][0]}): {[c for _, c in over]} stand "
        f"above empty cells of the second (a merged cell such as {groups[0] if groups else over[0][1]!r} over "
        f"{[c for c in lower if c][:3]}), so the columns cannot be told apart.",
        "make one header row: unmerge the cells, give every column its own name (with the coordinate system in "
        f"the coordinate columns' names), e.g. {[c for c in one if c][:6]}, and delete the other header row.",
    )
