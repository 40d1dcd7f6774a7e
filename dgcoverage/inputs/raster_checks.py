"""Checks of a population raster's values: bands, imagery, fill values, impossible densities, repairs.

What is refused (several bands and none chosen, a band out of range, RGB/palette/multispectral imagery,
impossible densities that mean wrong units) raises :class:`~dgcoverage.errors.InputFileError` naming the file
and the fix; what is repaired (declared nodata, non-finite, undeclared fill and negative values set to 0) is
counted and warned about.  The reading itself is in :mod:`dgcoverage.inputs.raster`.

Undeclared fill values
----------------------
Values equal to the band's declared nodata are masked and count as nobody.
Of the other values found in the cells read, a value ``v`` is an undeclared
fill marker (its cells set to 0) when any of these holds:

1. **type extreme** -- ``|v| >= 1e30`` (float32/float64 lowest and highest,
   -3.4e38, 1e30, netCDF's 9.97e36 ...), or the maximum of an integer dtype
   of 16 bits or more (65535 in uint16, 32767 in int16, 2147483647 ...), or
   the minimum of a signed integer dtype (-32768 in int16 ...);
2. **negative nines** -- -999, -9999, -99999, ...;
3. **weak marker that looks like fill** -- a positive "nines" value of 9999
   or more, the maximum of an 8-bit dtype (255 in uint8, 127 in int8), or an
   integer-type maximum stored in another dtype (65535 in float32 ...); it is
   fill only if its cells would hold more than
   :data:`WEAK_MARKER_DENSITY_KM2` (100,000) people per km² of the pixel's
   area, or it stands apart from the data: more than twice the largest
   value in the window that is no marker.  255 in a uint8 raster whose real
   counts reach 250 is therefore kept;
4. **physically impossible density** -- more than
   :data:`IMPLAUSIBLE_DENSITY_KM2` (2,000,000) people per km² of the
   pixel's area (two people per m² of ground, above the densest block ever
   recorded, Kowloon Walled City at about 1.3 million/km²), when at most two
   distinct values do so.  More distinct impossible values are not fill but
   wrong units (a density raster in people/km², ...) and raise
   :class:`~dgcoverage.errors.InputFileError`.

A real 0, and real dense cells (60,000/km² is 600 people in a 100 m pixel),
are never touched.  Negative values that are no marker keep their own count
(``population_negative_cells_zeroed``).  Pixel areas are those of the source
pixels (spherical areas for geographic rasters).  All counts refer to the
cells read (the window of ``bounds`` when given); a window read tile by tile
follows the same rule over the whole window (values, counts and maxima are
gathered across tiles, and a weak marker found to be real data is restored in
the tiles holding it), so each count is the window's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DgCoverageWarning, InputFileError

#: people per km² of a pixel's area above which a value cannot be people (two per m² of ground)
IMPLAUSIBLE_DENSITY_KM2 = 2_000_000.0
#: people per km² above which a weak fill marker (9999, 255 in uint8, ...) is taken as fill
WEAK_MARKER_DENSITY_KM2 = 100_000.0
_HUGE = 1e30
_INT_MAXIMA = (32767.0, 65535.0, 2147483647.0, 4294967295.0)

_COLOUR_INTERP = {
    "red",
    "green",
    "blue",
    "alpha",
    "palette",
    "hue",
    "saturation",
    "lightness",
    "cyan",
    "magenta",
    "yellow",
    "black",
    "Y",
    "Cb",
    "Cr",
}
_SENSOR_INTERP = {"pan", "coastal", "rededge", "nir", "swir", "mwir", "lwir", "tir", "other_ir"}
_IMAGERY_PHOTOMETRIC = {"rgb", "ycbcr", "cmyk", "cielab", "icclab", "itulab"}


def _describe_bands(src: Any, limit: int = 8) -> str:
    parts = []
    for i in range(min(src.count, limit)):
        desc = src.descriptions[i]
        ci = src.colorinterp[i].name
        parts.append(f"band {i + 1}" + (f" {desc!r}" if desc else "") + f" ({ci})")
    if src.count > limit:
        parts.append(f"... {src.count - limit} more")
    return ", ".join(parts)


def choose_band(src: Any, path: Path, band: int | None) -> int:
    """Return the 1-based band holding people: the only one, or ``band`` checked to be in range."""
    n = src.count
    if n == 0:
        raise InputFileError(path, "has no bands.", "pass a GeoTIFF of people per pixel.")
    if band is None:
        if n == 1:
            return 1
        raise InputFileError(
            path,
            f"has {n} bands ({_describe_bands(src)}) and none was chosen, so which one holds "
            "people per pixel is unknown.",
            f"choose one with --band N (N from 1 to {n}).",
        )
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or not 1 <= int(band) <= n:
        raise InputFileError(
            path,
            f"band {band!r} is out of range: the raster has {n} band{'s' if n > 1 else ''} ({_describe_bands(src)}).",
            f"choose one with --band N (N from 1 to {n}).",
        )
    return int(band)


def refuse_imagery(src: Any, path: Path) -> None:
    """Refuse RGB/RGBA/YCbCr, palette and multispectral imagery: a picture, not people per pixel."""
    names = [ci.name for ci in src.colorinterp]
    photometric = src.photometric.name.lower() if src.photometric is not None else ""
    colour = [c for c in names if c in _COLOUR_INTERP]
    sensor = [c for c in names if c in _SENSOR_INTERP or c.startswith("sar_")]
    if "palette" in names:
        kind = "palette (colour-mapped) imagery"
    elif "alpha" in names or (src.count == 4 and not sensor):
        kind = "RGBA imagery"
    elif sensor and not colour:
        kind = "multispectral or radar imagery"
    else:
        kind = "RGB imagery"
    if photometric in _IMAGERY_PHOTOMETRIC:
        reason = f"its photometric interpretation is {src.photometric.name.upper()}"
    elif colour or sensor:
        reason = "its bands' colour interpretation is " + ", ".join(names)
    elif src.count in (3, 4) and all(np.dtype(d) == np.uint8 for d in src.dtypes):
        reason = f"it has {src.count} bands of 8-bit values"
    else:
        return
    raise InputFileError(
        path,
        f"is not a population raster: it looks like {kind} ({reason}).",
        "pass a raster of people per pixel (e.g. WorldPop, GHS-POP, LandScan), not a picture or a "
        "rendered map; no band of an image holds people.",
    )


def _fmt(v: float, dtype: np.dtype) -> str:
    """Format a value as GDAL's -a_nodata should be given it."""
    if float(v).is_integer() and abs(v) < 1e16:
        return str(int(v))
    if dtype == np.float32:
        return str(np.float32(v))
    return repr(float(v))


def _nines(v: float) -> bool:
    """-999, 9999, -99999, ...: three or more nines."""
    if not float(v).is_integer() or abs(v) >= 1e16:
        return False
    digits = str(abs(int(v)))
    return len(digits) >= 3 and set(digits) == {"9"}


def _marker_kind(v: float, info: Any, impossible: float) -> str:
    """Kind of fill marker ``v`` is (module docstring rule): "strong", "weak", "dense", or "" for none."""
    if (
        abs(v) >= _HUGE
        or (v < 0 and _nines(v))
        or (info is not None and ((info.bits >= 16 and v == info.max) or (info.min < 0 and v == info.min)))
    ):
        return "strong"
    if v > 0 and (
        (v >= 9999 and _nines(v)) or (info is not None and info.bits == 8 and v == info.max) or v in _INT_MAXIMA
    ):
        return "weak"
    return "dense" if v > impossible else ""


class FillScan:
    """The undeclared-fill rule (module docstring) gathered over one array or over the tiles of a window.

    :meth:`add` takes each block (cleaned of non-finite values) and returns the
    cells holding a fill-like value; :meth:`decide` applies the rule to what
    was gathered, exactly as to the whole window at once.
    """

    def __init__(self, dtype: np.dtype, area_km2: float, path: Path, cap: int | None = None) -> None:
        """Start an empty scan of a band of ``dtype`` whose largest pixel covers ``area_km2``."""
        self.area_km2, self.path, self.cap = area_km2, path, cap
        self.impossible = IMPLAUSIBLE_DENSITY_KM2 * area_km2  # people in one pixel
        self.info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
        self.kind: dict[float, str] = {}  # fill-like value -> its kind
        self.count: dict[float, int] = {}  # fill-like value -> cells holding it
        self.blocks: dict[float, set[int]] = {}  # weak marker -> blocks holding it
        self.below_max: float | None = None  # largest value that is no candidate
        self.rest_max: float | None = None  # largest candidate that is no marker

    def add_zeros(self) -> None:
        """Count a block holding nothing but zeros and nodata."""
        self.below_max = 0.0 if self.below_max is None else max(self.below_max, 0.0)

    def add(self, arr: np.ndarray, block: int = 0) -> np.ndarray | None:
        """Gather one block's values; return the mask of its cells holding fill-like values (None if none)."""
        cand = (arr <= -128.0) | (arr >= min(127.0, self.impossible))
        n_cand = int(np.count_nonzero(cand))
        if n_cand < arr.size:
            top = float(np.max(arr, where=~cand, initial=-np.inf))
            self.below_max = top if self.below_max is None else max(self.below_max, top)
        if n_cand == 0:
            return None
        vals, cnts = np.unique(arr[cand], return_counts=True)
        markers = []
        for v, n in zip(vals.tolist(), cnts.tolist()):
            kind = self.kind.get(v) or _marker_kind(v, self.info, self.impossible)
            if not kind:
                self.rest_max = v if self.rest_max is None else max(self.rest_max, v)
                continue
            self._note(v, kind, n, block)
            markers.append(v)
        return np.isin(arr, markers) if markers else None

    def _note(self, v: float, kind: str, n: int, block: int) -> None:
        if v not in self.kind:
            if self.cap is not None and len(self.kind) >= self.cap:
                raise InputFileError(
                    self.path,
                    f"holds more than {self.cap:,} distinct fill-like values (at most -128, or above "
                    f"{min(127.0, self.impossible):.6g} people in one {self.area_km2:.4g} km² pixel, as fill markers "
                    "or impossible densities): these are not people per pixel.",
                    "pass a raster of people per pixel, or declare its fill value as nodata: "
                    "gdal_edit.py -a_nodata V file.",
                )
            self.kind[v], self.count[v] = kind, 0
        self.count[v] += n
        if kind == "weak":
            self.blocks.setdefault(v, set()).add(block)

    def decide(self) -> dict[float, int]:
        """Return the undeclared fill values -> cells holding each, in value order.

        Raises
        ------
        InputFileError
            More than two distinct physically impossible values: wrong units.
        """
        by_kind: dict[str, list[float]] = {"strong": [], "weak": [], "dense": []}
        for v in sorted(self.kind):
            by_kind[self.kind[v]].append(v)
        data_max = max(
            0.0 if self.below_max is None else self.below_max, 0.0 if self.rest_max is None else self.rest_max
        )  # largest value that is no marker
        fill = by_kind["strong"] + [
            v for v in by_kind["weak"] if v > WEAK_MARKER_DENSITY_KM2 * self.area_km2 or v > 2.0 * data_max
        ]
        dense = by_kind["dense"]
        if len(dense) > 2:
            n = sum(self.count[v] for v in dense)
            raise InputFileError(
                self.path,
                f"{n} pixels hold more than {IMPLAUSIBLE_DENSITY_KM2:,.0f} people per km² "
                f"({len(dense)} distinct values, up to {max(dense):.6g} people in one "
                f"{self.area_km2:.4g} km² pixel), which no place reaches: these are not people per pixel.",
                "pass a raster of people per pixel (multiply a density in people/km² by the pixel "
                "area in km²), or declare its fill value as nodata: gdal_edit.py -a_nodata V file.",
            )
        return {v: self.count[v] for v in sorted(fill + dense)}

    def restored_blocks(self, fills: dict[float, int]) -> set[int]:
        """Blocks holding a weak marker that :meth:`decide` kept as real people."""
        return {b for v, blocks in self.blocks.items() if v not in fills for b in blocks}


def _undeclared_fill(arr: np.ndarray, dtype: np.dtype, area_km2: float, path: Path) -> dict[float, int]:
    """Undeclared fill values among ``arr``'s finite values (module docstring rule) -> cells holding each."""
    scan = FillScan(dtype, area_km2, path)
    scan.add(arr)
    return scan.decide()


def zero_nonfinite(arr: np.ndarray, counts: dict[str, int] | None) -> None:
    """Set NaN and infinite values to 0 in place, counting them in ``counts`` (if given)."""
    bad = ~np.isfinite(arr)
    n = int(np.count_nonzero(bad))
    if n:
        if counts is not None:
            counts["population_nonfinite_cells_zeroed"] = counts.get("population_nonfinite_cells_zeroed", 0) + n
        arr[bad] = 0.0


def zero_negative(arr: np.ndarray, counts: dict[str, int] | None) -> None:
    """Set negative values to 0 in place, counting them in ``counts`` (if given)."""
    neg = arr < 0
    n = int(np.count_nonzero(neg))
    if n:
        if counts is not None:
            counts["population_negative_cells_zeroed"] = counts.get("population_negative_cells_zeroed", 0) + n
        arr[neg] = 0.0


def clean_band(
    data: np.ma.MaskedArray, dtype: np.dtype, area_km2: float, path: Path, counts: dict[str, int]
) -> tuple[np.ndarray, dict[float, int]]:
    """People per pixel: declared nodata, non-finite, undeclared fill and negative values set to 0 and counted."""
    arr = np.ma.asarray(data).astype(np.float64).filled(0.0)
    zero_nonfinite(arr, counts)
    fills = _undeclared_fill(arr, dtype, area_km2, path)
    if fills:
        arr[np.isin(arr, list(fills))] = 0.0
    zero_negative(arr, counts)
    return arr, fills


def report_repairs(
    path: Path, dtype: np.dtype, fills: dict[float, int], counts: dict[str, int], meta: dict[str, Any]
) -> None:
    """Record the fill values zeroed and warn (at the caller of :func:`population_from_raster`) of every repair."""
    meta["fill_values"] = {_fmt(v, dtype): n for v, n in fills.items()}
    if fills:
        n = sum(fills.values())
        counts["population_fill_cells_zeroed"] = n
        ranked = sorted(fills.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"{_fmt(v, dtype)} ({c} cell{'s' if c > 1 else ''})" for v, c in ranked)
        more = " (GDAL keeps one nodata value per band; the others are still caught here)" if len(fills) > 1 else ""
        warnings.warn(
            f"{path}: {n} cells hold undeclared fill value(s) {listed}, not people; set to 0. "
            f"Fix: declare it as nodata: gdal_edit.py -a_nodata {_fmt(ranked[0][0], dtype)} {path.name}"
            f"{more}",
            DgCoverageWarning,
            stacklevel=3,
        )
    neg = counts.get("population_negative_cells_zeroed", 0)
    if neg:
        warnings.warn(
            f"{path}: {neg} negative population cells set to 0 (undeclared nodata?)", DgCoverageWarning, stacklevel=3
        )


__all__ = [
    "IMPLAUSIBLE_DENSITY_KM2",
    "WEAK_MARKER_DENSITY_KM2",
    "FillScan",
    "choose_band",
    "clean_band",
    "refuse_imagery",
    "report_repairs",
    "zero_negative",
    "zero_nonfinite",
]
