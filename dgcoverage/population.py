"""Population: demand cells from any GeoTIFF, read with rasterio.

The raster is brought onto a regular grid in the analysis CRS (metres) with
rasterio's warp: resampled as a *density* and rescaled so the people inside
the area are conserved.  Populated pixels become demand cells with projected
centre coordinates.

A raster is never read partially or wrongly and then called whole:

* a raster with several bands needs an explicit ``band`` (``--band N``);
  one out of range is an error;
* RGB/RGBA/YCbCr, palette and multispectral imagery is refused: it is a
  picture, not people per pixel;
* fill values the file does not declare as nodata are zeroed, counted
  (``population_fill_cells_zeroed``) and warned about, by the rule below;
* with ``bounds``, only the window of the study area (plus a margin of two
  source pixels) is read, so memory does not grow with the file; the result
  equals a whole-band read;
* a window of more than one tile (:data:`TILE_PX` × :data:`TILE_PX` source
  pixels, e.g. a 1 m raster under a town) is read tile by tile, so memory
  does not grow with the window either: each tile is cleaned by the rules
  below, written as people per m² to a temporary compressed GeoTIFF, and GDAL
  warps from that file in its own chunks (with a 64 MiB block cache), which
  gives the same cells as warping the window held in memory.  Peak memory is
  one tile, GDAL's buffers and the output grid; an output grid over
  :data:`MEMORY_BUDGET_BYTES` raises :class:`~dgcoverage.errors.InputFileError`
  naming the raster and the fix, instead of running out of memory;
* the grid keeps the raster's :attr:`PopulationGrid.footprint`, so a caller
  can tell "the raster does not cover this place" (:func:`share_outside`)
  from "nobody lives here".

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

import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from .errors import CRSError, DgCoverageWarning, EmptyInputError, InputFileError, InputNotFoundError

#: people per km² of a pixel's area above which a value cannot be people (two per m² of ground)
IMPLAUSIBLE_DENSITY_KM2 = 2_000_000.0
#: people per km² above which a weak fill marker (9999, 255 in uint8, ...) is taken as fill
WEAK_MARKER_DENSITY_KM2 = 100_000.0
_HUGE = 1e30
_INT_MAXIMA = (32767.0, 65535.0, 2147483647.0, 4294967295.0)
_WINDOW_MARGIN_PX = 2
#: source windows of more than TILE_PX² pixels are read, cleaned and warped tile by tile
TILE_PX = 2048
#: an output grid needing more than this (``_BYTES_PER_CELL`` per cell) is refused with a clear error
MEMORY_BUDGET_BYTES = 1 << 30
_BYTES_PER_CELL = 16  # the float64 grid and one working copy of it
_GDAL_CACHE_BYTES = 64 << 20  # GDAL block cache while reading tiles (its default is 5 % of RAM)
_TEMP_BLOCK_PX = 512  # block size of the temporary density GeoTIFF (TILE_PX is a multiple of it)
_MAX_MARKER_VALUES = 100_000  # distinct fill-like values tracked across tiles before the band is refused
_FOOTPRINT_EDGE_POINTS = 101  # points per raster edge when the footprint is reprojected
_EARTH_RADIUS_M = 6_371_008.8

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


@dataclass
class PopulationGrid:
    """Population on a regular grid in a projected CRS.

    Attributes
    ----------
    array
        float64 people per cell, shape ``(rows, cols)``; 0 where empty/nodata.
    transform
        Affine transform of the grid (metres).
    crs
        Projected CRS.
    source
        The file read, if any.
    warnings
        Counted repairs (e.g. negative values set to 0), name -> count.
    meta
        Facts about the read: ``band`` (1-based band read), ``source_shape``
        (rows, cols of the file), ``read_window`` (col_off, row_off, width,
        height of the source pixels read), ``fill_values`` (undeclared fill
        value -> cells zeroed), and after a warp ``resampled_from`` and
        ``source_total``.
    footprint
        Polygon (or MultiPolygon) in ``crs`` of the area the source raster
        covers; outside it the grid's zeros mean "no data", not "nobody".
        For a raster read with ``bounds`` it is the raster's extent within the
        window read (the study bounds plus a margin).  Defaults to the grid's
        own extent for grids built in memory.
    """

    array: np.ndarray
    transform: Affine
    crs: CRS
    source: str = ""
    warnings: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    footprint: shapely.Geometry | None = None

    def __post_init__(self) -> None:
        """Give a grid built in memory its own extent as footprint."""
        if self.footprint is None:
            h, w = self.array.shape[:2]
            t, cols, rows = self.transform, np.array([0, w, w, 0]), np.array([0, 0, h, h])
            xs, ys = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
            self.footprint = shapely.box(float(np.min(xs)), float(np.min(ys)), float(np.max(xs)), float(np.max(ys)))

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell, m²."""
        return abs(self.transform.a * self.transform.e)

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the populated cells.

        Returns
        -------
        row, col, x, y, pop
            Grid indices, projected centre coordinates (metres) and people,
            for every cell with population > 0, in row-major order.
        """
        row, col = np.nonzero(self.array > 0)
        x, y = rasterio.transform.xy(self.transform, row, col, offset="center")
        return row, col, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), self.array[row, col]

    @property
    def total(self) -> float:
        """Total population on the grid."""
        return float(self.array.sum())


def share_outside(footprint: shapely.Geometry, polygons: Any) -> np.ndarray:
    """Share of each geometry lying outside a raster's footprint.

    Parameters
    ----------
    footprint
        Area covered by the raster (:attr:`PopulationGrid.footprint`), in the
        CRS of ``polygons``.
    polygons
        Sequence, array or GeoSeries of shapely geometries (or one geometry).

    Returns
    -------
    numpy.ndarray
        float64 in [0, 1], one per geometry: for polygons the share of the
        area outside the footprint; for lines the share of the length; for
        points 0 if covered, else 1.  0 for missing or empty geometries.

    Raises
    ------
    ValueError
        If ``footprint`` is None (coverage unknown).
    """
    if footprint is None:
        raise ValueError("footprint is None: the raster's coverage is unknown, so no share outside it can be given")
    if isinstance(polygons, shapely.Geometry):
        polygons = [polygons]
    geoms = np.asarray(polygons if isinstance(polygons, np.ndarray) else list(polygons), dtype=object).reshape(-1)
    out = np.zeros(len(geoms), dtype=np.float64)
    if len(geoms) == 0:
        return out
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    area = np.where(present, shapely.area(geoms), 0.0)
    length = np.where(present, shapely.length(geoms), 0.0)
    poly = present & (area > 0)
    line = present & ~poly & (length > 0)
    point = present & ~poly & ~line
    shapely.prepare(footprint)
    if poly.any():
        out[poly] = shapely.area(shapely.difference(geoms[poly], footprint)) / area[poly]
    if line.any():
        out[line] = shapely.length(shapely.difference(geoms[line], footprint)) / length[line]
    if point.any():
        out[point] = np.where(shapely.covered_by(geoms[point], footprint), 0.0, 1.0)
    return np.clip(out, 0.0, 1.0)


def population_from_raster(
    path: str | Path,
    dst_crs: CRS | str,
    *,
    resolution_m: float = 100.0,
    bounds: tuple[float, float, float, float] | None = None,
    band: int | None = None,
) -> PopulationGrid:
    """Read a population GeoTIFF onto a grid in ``dst_crs``.

    If the raster is already in ``dst_crs`` at ``resolution_m`` and no
    ``bounds`` are given it is read as is; otherwise the window of the grid
    is read and warped as people per m² (average resampling) and rescaled so
    that the people in the covered area are conserved.  A window of more
    than :data:`TILE_PX` ² source pixels is read tile by tile, in memory
    bounded by a tile and the output grid, with the same result.  See the
    module docstring for the band, imagery and fill-value rules.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads) of people per pixel.
    dst_crs
        Projected analysis CRS (metres).
    resolution_m
        Target cell size in metres.
    bounds
        Optional ``(xmin, ymin, xmax, ymax)`` in ``dst_crs`` to clip to; only
        the source pixels under them (plus two pixels) are read.
    band
        1-based band holding people per pixel.  Required when the raster has
        more than one band.

    Returns
    -------
    PopulationGrid
        With ``meta["band"]`` and ``footprint`` set.

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputFileError
        Unreadable; several bands and none chosen; band out of range;
        imagery rather than population; impossible densities (wrong units);
        an output grid over :data:`MEMORY_BUDGET_BYTES` (pass ``bounds``).
    CRSError
        ``dst_crs`` is not projected or the raster has no CRS.
    EmptyInputError
        No population inside the study area.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "population raster")
    dst_crs = CRS.from_user_input(dst_crs)
    if not dst_crs.is_projected:
        raise CRSError(f"analysis CRS must be projected (metres), got {dst_crs.to_string()}")
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(
            path, f"cannot be read as a raster ({exc}).", "pass a GeoTIFF of people per pixel."
        ) from exc
    counts: dict[str, int] = {}
    with src:
        _refuse_imagery(src, path)
        band = _choose_band(src, path, band)
        if src.crs is None:
            raise CRSError(
                f"{path}: the raster has no CRS. Fix: assign one, e.g. "
                f"`gdal_edit.py -a_srs EPSG:4326 {path.name}`, then rerun."
            )
        src_crs = CRS.from_user_input(src.crs)
        src_transform = src.transform
        same = (
            src_crs == dst_crs
            and np.isclose(abs(src_transform.a), resolution_m, rtol=0.01)
            and np.isclose(abs(src_transform.e), resolution_m, rtol=0.01)
        )
        meta: dict[str, Any] = {"band": band, "source_shape": (src.height, src.width)}
        whole = Window(0, 0, src.width, src.height)
        if same and bounds is None:
            window, dst_transform, shape = whole, None, None
        else:
            dst_transform, shape = _target_grid(src.bounds, src_crs, dst_crs, resolution_m, bounds, str(path))
            window = whole if bounds is None else _source_window(src, src_crs, dst_crs, dst_transform, shape, str(path))
        _check_memory(src, path, band, window, shape)
        meta["read_window"] = (int(window.col_off), int(window.row_off), int(window.width), int(window.height))
        win_transform = src.window_transform(window)
        areas_m2 = _pixel_areas_m2(win_transform, src_crs, int(window.height))
        dtype = np.dtype(src.dtypes[band - 1])
        footprint = _footprint(src.window_bounds(window), src_crs, dst_crs)
        if window.width * window.height > TILE_PX * TILE_PX:
            grid, fills = _read_by_tiles(
                src, band, window, areas_m2, dtype, path, dst_crs, dst_transform, shape, counts, meta, footprint
            )
        else:
            data = src.read(band, window=window, masked=True)
            arr, fills = _clean(data, dtype, float(areas_m2.max()) / 1e6, path, counts)
            if dst_transform is None:
                grid = PopulationGrid(arr, src_transform, dst_crs, str(path), counts, meta, footprint)
            else:
                grid = _warp(
                    arr,
                    areas_m2,
                    win_transform,
                    src_crs,
                    dst_crs,
                    dst_transform,
                    shape,
                    str(path),
                    counts,
                    meta,
                    footprint,
                )
        _report_repairs(path, dtype, fills, counts, meta)
    if grid.total <= 0:
        raise EmptyInputError(
            f"{path}: no population inside the study area (all cells are 0, nodata, or the raster "
            "does not overlap the city). Fix: check the raster covers the area and its CRS."
        )
    return grid


# ------------------------------------------------------------------ what is read


def _describe_bands(src: Any, limit: int = 8) -> str:
    parts = []
    for i in range(min(src.count, limit)):
        desc = src.descriptions[i]
        ci = src.colorinterp[i].name
        parts.append(f"band {i + 1}" + (f" {desc!r}" if desc else "") + f" ({ci})")
    if src.count > limit:
        parts.append(f"... {src.count - limit} more")
    return ", ".join(parts)


def _choose_band(src: Any, path: Path, band: int | None) -> int:
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


def _refuse_imagery(src: Any, path: Path) -> None:
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


def _target_grid(
    src_bounds: Any,
    src_crs: CRS,
    dst_crs: CRS,
    res: float,
    bounds: tuple[float, float, float, float] | None,
    source: str,
) -> tuple[Affine, tuple[int, int]]:
    """Lay out the output grid: the raster's extent in ``dst_crs`` (within ``bounds``), snapped to ``res``."""
    left, bottom, right, top = src_bounds
    if bounds is None:
        full = transform_bounds(src_crs, dst_crs, left, bottom, right, top, densify_pts=21)
    else:
        # clip the raster to the study area in the source CRS first: a global raster never leaves its own CRS whole
        sb = transform_bounds(dst_crs, src_crs, *bounds, densify_pts=21)
        if not np.all(np.isfinite(sb)):
            sb = (left, bottom, right, top)
        clip = (max(sb[0], left), max(sb[1], bottom), min(sb[2], right), min(sb[3], top))
        if clip[0] >= clip[2] or clip[1] >= clip[3]:
            raise EmptyInputError(
                f"{source}: the raster does not overlap the study area. Fix: use a raster "
                "that covers the city (check its CRS)."
            )
        t = transform_bounds(src_crs, dst_crs, *clip, densify_pts=21)
        full = (max(t[0], bounds[0]), max(t[1], bounds[1]), min(t[2], bounds[2]), min(t[3], bounds[3]))
    if not np.all(np.isfinite(full)) or full[0] >= full[2] or full[1] >= full[3]:
        raise EmptyInputError(
            f"{source}: the raster does not overlap the study area. Fix: use a raster "
            "that covers the city (check its CRS)."
        )
    xmin = np.floor(full[0] / res) * res
    ymax = np.ceil(full[3] / res) * res
    cols = int(np.ceil((full[2] - xmin) / res))
    nrows = int(np.ceil((ymax - full[1]) / res))
    return Affine(res, 0, xmin, 0, -res, ymax), (nrows, cols)


def _source_window(
    src: Any, src_crs: CRS, dst_crs: CRS, dst_transform: Affine, shape: tuple[int, int], source: str
) -> Window:
    """Source pixels under the output grid, plus a margin of two pixels, intersected with the raster."""
    west, south, east, north = rasterio.transform.array_bounds(shape[0], shape[1], dst_transform)
    sb = transform_bounds(dst_crs, src_crs, west, south, east, north, densify_pts=21)
    if not np.all(np.isfinite(sb)):
        return Window(0, 0, src.width, src.height)
    win = from_bounds(*sb, transform=src.transform)
    m = _WINDOW_MARGIN_PX
    c0 = max(math.floor(win.col_off) - m, 0)
    r0 = max(math.floor(win.row_off) - m, 0)
    c1 = min(math.ceil(win.col_off + win.width) + m, src.width)
    r1 = min(math.ceil(win.row_off + win.height) + m, src.height)
    if c1 <= c0 or r1 <= r0:
        raise EmptyInputError(
            f"{source}: the raster does not overlap the study area. Fix: use a raster "
            "that covers the city (check its CRS)."
        )
    return Window(c0, r0, c1 - c0, r1 - r0)


def _pixel_areas_m2(transform: Affine, crs: CRS, nrows: int) -> np.ndarray:
    """Area of the pixels of each row, m² (spherical on geographic grids)."""
    if crs.is_geographic:
        lat = transform.f + (np.arange(nrows) + 0.5) * transform.e
        a = _EARTH_RADIUS_M
        return (np.radians(abs(transform.a)) * a * np.cos(np.radians(lat))) * (np.radians(abs(transform.e)) * a)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full(nrows, abs(transform.a * transform.e) * unit * unit)


def _pixel_sizes_m(transform: Affine, crs: CRS) -> tuple[float, float]:
    """Rough width and height of a pixel in metres (at the equator for geographic grids)."""
    if crs.is_geographic:
        k = math.radians(1.0) * _EARTH_RADIUS_M
        return abs(transform.a) * k, abs(transform.e) * k
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return abs(transform.a) * unit, abs(transform.e) * unit


def _footprint(window_bounds: tuple[float, float, float, float], src_crs: CRS, dst_crs: CRS) -> shapely.Geometry:
    """Return the source extent read, in ``dst_crs``, its edges densified so curved reprojections stay exact."""
    left, bottom, right, top = window_bounds
    if src_crs == dst_crs:
        return shapely.box(left, bottom, right, top)
    t = np.linspace(0.0, 1.0, _FOOTPRINT_EDGE_POINTS)[:-1]
    xs = np.concatenate(
        [left + (right - left) * t, np.full(t.size, right), right - (right - left) * t, np.full(t.size, left)]
    )
    ys = np.concatenate(
        [np.full(t.size, bottom), bottom + (top - bottom) * t, np.full(t.size, top), top - (top - bottom) * t]
    )
    tx, ty = Transformer.from_crs(src_crs, dst_crs, always_xy=True).transform(xs, ys)
    tx, ty = np.asarray(tx), np.asarray(ty)
    ok = np.isfinite(tx) & np.isfinite(ty)
    poly = shapely.Polygon(np.column_stack([tx[ok], ty[ok]]))
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


# ------------------------------------------------------------------ values


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


class _FillScan:
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
    scan = _FillScan(dtype, area_km2, path)
    scan.add(arr)
    return scan.decide()


def _zero_nonfinite(arr: np.ndarray, counts: dict[str, int] | None) -> None:
    bad = ~np.isfinite(arr)
    n = int(np.count_nonzero(bad))
    if n:
        if counts is not None:
            counts["population_nonfinite_cells_zeroed"] = counts.get("population_nonfinite_cells_zeroed", 0) + n
        arr[bad] = 0.0


def _zero_negative(arr: np.ndarray, counts: dict[str, int] | None) -> None:
    neg = arr < 0
    n = int(np.count_nonzero(neg))
    if n:
        if counts is not None:
            counts["population_negative_cells_zeroed"] = counts.get("population_negative_cells_zeroed", 0) + n
        arr[neg] = 0.0


def _clean(
    data: np.ma.MaskedArray, dtype: np.dtype, area_km2: float, path: Path, counts: dict[str, int]
) -> tuple[np.ndarray, dict[float, int]]:
    """People per pixel: declared nodata, non-finite, undeclared fill and negative values set to 0 and counted."""
    arr = np.ma.asarray(data).astype(np.float64).filled(0.0)
    _zero_nonfinite(arr, counts)
    fills = _undeclared_fill(arr, dtype, area_km2, path)
    if fills:
        arr[np.isin(arr, list(fills))] = 0.0
    _zero_negative(arr, counts)
    return arr, fills


def _report_repairs(
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


# ------------------------------------------------------------------ large windows, tile by tile


def _check_memory(src: Any, path: Path, band: int, window: Window, shape: tuple[int, int] | None) -> None:
    """Refuse, with the fix, an output grid that would not fit :data:`MEMORY_BUDGET_BYTES`."""
    rows, cols = (int(window.height), int(window.width)) if shape is None else shape
    need = rows * cols * _BYTES_PER_CELL
    if need <= MEMORY_BUDGET_BYTES:
        return
    what = "the raster's own grid" if shape is None else "the output grid"
    raise InputFileError(
        path,
        f"is {src.width:,} × {src.height:,} pixels ({src.dtypes[band - 1]}); {what} to build from it is {rows:,} × "
        f"{cols:,} cells, about {need / 2**30:.1f} GiB in memory, over the {MEMORY_BUDGET_BYTES / 2**30:.3g} GiB "
        "budget for a population grid.",
        "pass the study area's bounds (bounds=..., as `dgcoverage run` does) so only its window is read, or clip "
        "the raster to the study area first, e.g. `gdalwarp -te XMIN YMIN XMAX YMAX -te_srs EPSG:4326 "
        f"{path.name} clipped.tif`, and read the clipped file.",
    )


def _tiles(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """(row, col, height, width) of the TILE_PX tiles covering a window, row by row."""
    t = TILE_PX
    return [(r, c, min(t, height - r), min(t, width - c)) for r in range(0, height, t) for c in range(0, width, t)]


def _read_tile(src: Any, band: int, window: Window, tile: tuple[int, int, int, int]) -> np.ndarray | None:
    """float64 values of one tile, nodata as 0 (like :func:`_clean`); None if it holds only zeros and nodata."""
    r, c, h, w = tile
    data = src.read(band, window=Window(int(window.col_off) + c, int(window.row_off) + r, w, h), masked=True)
    raw = np.ma.asarray(data).filled(0)
    if not raw.any():
        return None
    return raw.astype(np.float64)


class _GridSink:
    """Cleaned tiles placed straight onto the raster's own grid (no warp)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.array = np.zeros(shape, dtype=np.float64)

    def put(self, tile: tuple[int, int, int, int], arr: np.ndarray) -> None:
        r, c, h, w = tile
        self.array[r : r + h, c : c + w] = arr


class _WarpSink:
    """Cleaned tiles as people per m² in a temporary GeoTIFF, warped from it by GDAL in its own chunks."""

    def __init__(
        self,
        folder: str,
        src: Any,
        window: Window,
        areas_m2: np.ndarray,
        src_crs: CRS,
        dst_crs: CRS,
        dst_transform: Affine,
        shape: tuple[int, int],
    ) -> None:
        self.path = Path(folder) / "density.tif"
        self.transform, self.areas_m2 = src.window_transform(window), areas_m2
        self.src_crs, self.dst_crs, self.dst_transform, self.shape = src_crs, dst_crs, dst_transform, shape
        self.to_dst = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
        self.inside: dict[tuple[int, int], float] = {}  # tile -> people whose pixel centres fall in the grid
        b = _TEMP_BLOCK_PX
        self.written = np.zeros((-(-int(window.height) // b), -(-int(window.width) // b)), dtype=bool)  # file blocks
        # sparse: tiles never written read back as 0; zstd level 1 keeps writing cheap
        self.ds = rasterio.open(
            self.path,
            "w",
            driver="GTiff",
            height=int(window.height),
            width=int(window.width),
            count=1,
            dtype="float64",
            crs=src.crs,
            transform=self.transform,
            tiled=True,
            blockxsize=_TEMP_BLOCK_PX,
            blockysize=_TEMP_BLOCK_PX,
            compress="zstd",
            zstd_level=1,
            sparse_ok=True,
            bigtiff="IF_SAFER",
        )

    def put(self, tile: tuple[int, int, int, int], arr: np.ndarray) -> None:
        r, c, h, w = tile
        if self._well_inside(r, c, h, w):  # every pixel centre falls in the grid: no need to test them one by one
            self.inside[(r, c)] = float(arr.sum())
        else:
            self.inside[(r, c)] = _people_inside(arr, self.transform, self.to_dst, self.dst_transform, self.shape, r, c)
        b = _TEMP_BLOCK_PX
        for i in range(0, h, b):  # only the file's blocks holding people are written (the file is sparse)
            for j in range(0, w, b):
                part = arr[i : i + b, j : j + b]
                if part.any():
                    (ph, pw), r0, c0 = part.shape, r + i, c + j
                    self.ds.write(part / self.areas_m2[r0 : r0 + ph, None], 1, window=Window(c0, r0, pw, ph))
                    self.written[r0 // b : (r0 + ph - 1) // b + 1, c0 // b : (c0 + pw - 1) // b + 1] = True

    def _well_inside(self, r: int, c: int, h: int, w: int) -> bool:
        """Whether the tile's footprint (reprojected, edges densified) lies in the output grid, 1 m from its edge."""
        t = self.transform * Affine.translation(c, r)
        west, south, east, north = rasterio.transform.array_bounds(h, w, t)
        x0, y0, x1, y1 = transform_bounds(self.src_crs, self.dst_crs, west, south, east, north, densify_pts=21)
        g = self.dst_transform
        gx0, gy1 = g.c, g.f
        gx1, gy0 = gx0 + self.shape[1] * g.a, gy1 + self.shape[0] * g.e
        return (
            bool(np.all(np.isfinite((x0, y0, x1, y1))))
            and gx0 + 1 < x0
            and x1 < gx1 - 1
            and gy0 + 1 < y0
            and y1 < gy1 - 1
        )

    def warp(self) -> tuple[np.ndarray, float]:
        """Return people per m² averaged onto the output grid, and the people inside it (after closing).

        Between grids of one CRS, when people fill under half of the file's blocks, the grid is warped in
        chunks of about a tile and the chunks over empty blocks only are left 0 (which is what GDAL gives
        them): the same cells as one warp, as each cell averages exactly the source pixels under it.  Across
        CRSs GDAL's average depends on how it chunks the source at the edges of its chunks, so the grid is
        warped in one call, which GDAL chunks as it chunks the window held in memory (same cells, to the bit).
        """
        out = np.zeros(self.shape, dtype=np.float64)
        if not self.written.any():
            return out, math.fsum(self.inside.values())
        with rasterio.open(self.path) as density:
            for r0, r1, c0, c1 in self._chunks():
                part = np.zeros((r1 - r0, c1 - c0), dtype=np.float64)
                # as _warp: average of the density, exact transformer
                reproject(
                    rasterio.band(density, 1),
                    part,
                    dst_transform=self.dst_transform * Affine.translation(c0, r0),
                    dst_crs=self.dst_crs,
                    resampling=Resampling.average,
                    src_nodata=None,
                    dst_nodata=0.0,
                    tolerance=0.0,
                )
                out[r0:r1, c0:c1] = part
        return out, math.fsum(self.inside.values())

    def _chunks(self) -> list[tuple[int, int, int, int]]:
        """(row0, row1, col0, col1) of the parts of the output grid to warp: all of it, or the chunks near people."""
        rows, cols = self.shape
        if self.src_crs != self.dst_crs or self.written.mean() > 0.5:
            return [(0, rows, 0, cols)]
        b, res = _TEMP_BLOCK_PX, abs(self.dst_transform.a)
        src_px = min(abs(p) for p in _pixel_sizes_m(self.transform, self.src_crs))
        k = max(8, int(TILE_PX * src_px / res))  # output cells per chunk side: about a tile of source pixels
        inv, margin = ~self.transform, _WINDOW_MARGIN_PX + 1
        keep = []
        for r0 in range(0, rows, k):
            for c0 in range(0, cols, k):
                r1, c1 = min(r0 + k, rows), min(c0 + k, cols)
                west, south, east, north = rasterio.transform.array_bounds(
                    r1 - r0, c1 - c0, self.dst_transform * Affine.translation(c0, r0)
                )
                sb = transform_bounds(self.dst_crs, self.src_crs, west, south, east, north, densify_pts=21)
                if not np.all(np.isfinite(sb)):
                    keep.append((r0, r1, c0, c1))
                    continue
                x, y = np.array([sb[0], sb[2], sb[2], sb[0]]), np.array([sb[1], sb[1], sb[3], sb[3]])
                xs, ys = inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f  # source pixel coordinates
                i0, i1 = max(int(np.floor(ys.min())) - margin, 0) // b, max(int(np.ceil(ys.max())) + margin, -1)
                j0, j1 = max(int(np.floor(xs.min())) - margin, 0) // b, max(int(np.ceil(xs.max())) + margin, -1)
                if self.written[i0 : i1 // b + 1, j0 : j1 // b + 1].any():  # blocks under the chunk, with a margin
                    keep.append((r0, r1, c0, c1))
        return keep


def _cache_bytes() -> int:
    """GDAL block cache for tile reads: :data:`_GDAL_CACHE_BYTES`, or less if the caller set less."""
    try:
        current = int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))
    except (TypeError, ValueError):
        return _GDAL_CACHE_BYTES
    return min(current, _GDAL_CACHE_BYTES) if current > 0 else _GDAL_CACHE_BYTES


def _read_by_tiles(
    src: Any,
    band: int,
    window: Window,
    areas_m2: np.ndarray,
    dtype: np.dtype,
    path: Path,
    dst_crs: CRS,
    dst_transform: Affine | None,
    shape: tuple[int, int] | None,
    counts: dict[str, int],
    meta: dict[str, Any],
    footprint: shapely.Geometry,
) -> tuple[PopulationGrid, dict[float, int]]:
    """Read, clean and (if ``dst_transform``) warp a large window tile by tile; memory bounded by a tile."""
    src_crs = CRS.from_user_input(src.crs)
    tiles = _tiles(int(window.height), int(window.width))
    meta["tiles_read"] = len(tiles)
    area_km2 = float(areas_m2.max()) / 1e6
    with rasterio.Env(GDAL_CACHEMAX=_cache_bytes()):
        if dst_transform is None or shape is None:
            grid_sink = _GridSink((int(window.height), int(window.width)))
            fills = _clean_tiles(src, band, window, tiles, dtype, area_km2, path, counts, grid_sink)
            return PopulationGrid(grid_sink.array, src.transform, dst_crs, str(path), counts, meta, footprint), fills
        with tempfile.TemporaryDirectory(prefix="dgcoverage-pop-") as tmp:
            sink = _WarpSink(tmp, src, window, areas_m2, src_crs, dst_crs, dst_transform, shape)
            try:
                fills = _clean_tiles(src, band, window, tiles, dtype, area_km2, path, counts, sink)
            finally:
                sink.ds.close()
            out, src_total = sink.warp()
    return _conserve(out, src_total, src_crs, dst_crs, dst_transform, str(path), counts, meta, footprint), fills


def _clean_tiles(
    src: Any,
    band: int,
    window: Window,
    tiles: list[tuple[int, int, int, int]],
    dtype: np.dtype,
    area_km2: float,
    path: Path,
    counts: dict[str, int],
    sink: Any,
) -> dict[float, int]:
    """Clean every tile into ``sink`` by the window-wide fill rule; return the fill values zeroed."""
    scan = _FillScan(dtype, area_km2, path, cap=_MAX_MARKER_VALUES)
    for i, tile in enumerate(tiles):
        arr = _read_tile(src, band, window, tile)
        if arr is None:
            scan.add_zeros()
            continue
        _zero_nonfinite(arr, counts)
        hit = scan.add(arr, i)
        if hit is not None:  # every fill-like value, until the whole window is seen
            arr[hit] = 0.0
        _zero_negative(arr, counts)
        sink.put(tile, arr)
    fills = scan.decide()
    for i in sorted(scan.restored_blocks(fills)):  # weak markers that turned out to be people: read those tiles again
        arr = _read_tile(src, band, window, tiles[i])
        if arr is None:  # pragma: no cover - the tile held the marker when first read
            continue
        _zero_nonfinite(arr, None)
        if fills:
            arr[np.isin(arr, list(fills))] = 0.0
        _zero_negative(arr, None)
        sink.put(tiles[i], arr)
    return fills


# ------------------------------------------------------------------ warp


def _warp(
    arr: np.ndarray,
    areas_m2: np.ndarray,
    src_transform: Affine,
    src_crs: CRS,
    dst_crs: CRS,
    dst_transform: Affine,
    shape: tuple[int, int],
    source: str,
    counts: dict[str, int],
    meta: dict[str, Any],
    footprint: shapely.Geometry,
) -> PopulationGrid:
    # people per m² on the source grid (pixel area varies with latitude on geographic grids)
    density = arr / areas_m2[:, None]
    out = np.zeros(shape, dtype=np.float64)
    # tolerance=0: the exact transformer.  Across CRSs GDAL's average still depends on how GDAL chunks the source
    # (at the edges of its chunks), so a large window goes through _WarpSink, which GDAL chunks the same way
    reproject(
        density,
        out,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        resampling=Resampling.average,
        src_nodata=None,
        dst_nodata=0.0,
        tolerance=0.0,
    )
    del density
    to_dst = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    src_total = _people_inside(arr, src_transform, to_dst, dst_transform, out.shape)
    return _conserve(out, src_total, src_crs, dst_crs, dst_transform, source, counts, meta, footprint)


def _conserve(
    out: np.ndarray,
    src_total: float,
    src_crs: CRS,
    dst_crs: CRS,
    dst_transform: Affine,
    source: str,
    counts: dict[str, int],
    meta: dict[str, Any],
    footprint: shapely.Geometry,
) -> PopulationGrid:
    """Turn averaged people per m² into people per cell, conserving those of the source pixels inside the grid."""
    out *= abs(dst_transform.a * dst_transform.e)
    if out.sum() > 0 and src_total > 0:
        out *= src_total / out.sum()
    meta.update(resampled_from=src_crs.to_string(), source_total=src_total)
    return PopulationGrid(out, dst_transform, dst_crs, source, counts, meta=meta, footprint=footprint)


def _people_inside(
    arr: np.ndarray,
    src_transform: Affine,
    to_dst: Transformer,
    dst_transform: Affine,
    shape: tuple[int, int],
    row_off: int = 0,
    col_off: int = 0,
) -> float:
    """People of the pixels (``arr`` placed at ``row_off``, ``col_off``) whose centres fall in the output grid."""
    r, c = np.nonzero(arr > 0)
    if r.size == 0:
        return 0.0
    xs, ys = rasterio.transform.xy(src_transform, r + row_off, c + col_off, offset="center")
    tx, ty = to_dst.transform(np.asarray(xs), np.asarray(ys))
    col = (np.asarray(tx) - dst_transform.c) / dst_transform.a
    row = (np.asarray(ty) - dst_transform.f) / dst_transform.e
    inside = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    return float(arr[r[inside], c[inside]].sum())


def write_population_raster(
    array: np.ndarray, transform: Affine, crs: CRS | str, path: str | Path, tags: dict[str, str] | None = None
) -> Path:
    """Write a float32 population GeoTIFF (deflate-compressed, nodata none), atomically."""
    from .io import atomic_path

    path = Path(path)
    with (
        atomic_path(path) as tmp,
        rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            height=array.shape[0],
            width=array.shape[1],
            count=1,
            dtype="float32",
            crs=CRS.from_user_input(crs).to_wkt(),
            transform=transform,
            compress="deflate",
            predictor=3,
            tiled=True,
            blockxsize=256,
            blockysize=256,
        ) as dst,
    ):
        dst.write(array.astype(np.float32), 1)
        if tags:
            dst.update_tags(**tags)
    return path
