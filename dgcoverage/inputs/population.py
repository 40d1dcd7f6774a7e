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
  (``population_fill_cells_zeroed``) and warned about, by the rule of
  :mod:`dgcoverage.inputs.raster_checks`;
* with ``bounds``, only the window of the study area (plus a margin of two
  source pixels) is read, so memory does not grow with the file; the result
  equals a whole-band read;
* a window of more than one tile (:data:`~dgcoverage.inputs.raster.TILE_PX` ² source
  pixels, e.g. a 1 m raster under a town) is read tile by tile, so memory
  does not grow with the window either: each tile is cleaned by the rules
  of :mod:`~dgcoverage.inputs.raster_checks`, written as people per m² to a temporary compressed GeoTIFF, and GDAL
  warps from that file in its own chunks (with a 64 MiB block cache), which
  gives the same cells as warping the window held in memory.  Peak memory is
  one tile, GDAL's buffers and the output grid; an output grid over
  :data:`~dgcoverage.inputs.raster.MEMORY_BUDGET_BYTES` raises :class:`~dgcoverage.errors.InputFileError`
  naming the raster and the fix, instead of running out of memory;
* the grid keeps the raster's :attr:`PopulationGrid.footprint`, so a caller
  can tell "the raster does not cover this place" (:func:`share_outside`)
  from "nobody lives here".

The reading is in :mod:`dgcoverage.inputs.raster`, the checks of the values in
:mod:`dgcoverage.inputs.raster_checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioIOError

from ..errors import CRSError, EmptyInputError, InputFileError, InputNotFoundError
from .raster import read_onto_grid
from .raster_checks import choose_band, refuse_imagery, report_repairs


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
    than :data:`~dgcoverage.inputs.raster.TILE_PX` ² source pixels is read tile by tile, in memory
    bounded by a tile and the output grid, with the same result.  See the
    module docstring and :mod:`dgcoverage.inputs.raster_checks` for the band, imagery and
    fill-value rules.

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
        an output grid over :data:`~dgcoverage.inputs.raster.MEMORY_BUDGET_BYTES` (pass ``bounds``).
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
        refuse_imagery(src, path)
        band = choose_band(src, path, band)
        if src.crs is None:
            raise CRSError(
                f"{path}: the raster has no CRS. Fix: assign one, e.g. "
                f"`gdal_edit.py -a_srs EPSG:4326 {path.name}`, then rerun."
            )
        meta: dict[str, Any] = {"band": band, "source_shape": (src.height, src.width)}
        array, transform, footprint, dtype, fills = read_onto_grid(
            src, path, band, dst_crs, resolution_m, bounds, counts, meta
        )
        grid = PopulationGrid(array, transform, dst_crs, str(path), counts, meta, footprint)
        report_repairs(path, dtype, fills, counts, meta)
    if grid.total <= 0:
        raise EmptyInputError(
            f"{path}: no population inside the study area (all cells are 0, nodata, or the raster "
            "does not overlap the city). Fix: check the raster covers the area and its CRS."
        )
    return grid


def write_population_raster(
    array: np.ndarray, transform: Affine, crs: CRS | str, path: str | Path, tags: dict[str, str] | None = None
) -> Path:
    """Write a float32 population GeoTIFF (deflate-compressed, nodata none), atomically."""
    from ..core.io import atomic_path

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


__all__ = ["PopulationGrid", "population_from_raster", "share_outside", "write_population_raster"]
