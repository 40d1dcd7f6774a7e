"""Population: demand cells from any GeoTIFF, read with rasterio.

The raster is brought onto a regular grid in the analysis CRS (metres) with
rasterio's warp: resampled as a *density* and rescaled so the people inside
the area are conserved.  Populated pixels become demand cells with projected
centre coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject, transform_bounds

from .errors import CRSError, EmptyInputError, InputFileError, InputNotFoundError


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
    warnings
        Counted repairs (e.g. negative values set to 0), name -> count.
    """

    array: np.ndarray
    transform: Affine
    crs: CRS
    source: str = ""
    warnings: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell, m²."""
        return abs(self.transform.a * self.transform.e)

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Populated cells.

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


def population_from_raster(path: str | Path, dst_crs: CRS | str, *, resolution_m: float = 100.0,
                           bounds: tuple[float, float, float, float] | None = None) -> PopulationGrid:
    """Read a population GeoTIFF onto a grid in ``dst_crs``.

    If the raster is already in ``dst_crs`` at ``resolution_m`` it is read
    as is; otherwise it is warped as people per m² (average resampling) and
    rescaled so that the people in the covered area are conserved.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads) of people per pixel.
    dst_crs
        Projected analysis CRS (metres).
    resolution_m
        Target cell size in metres.
    bounds
        Optional ``(xmin, ymin, xmax, ymax)`` in ``dst_crs`` to clip to.

    Returns
    -------
    PopulationGrid
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
        raise InputFileError(path, f"cannot be read as a raster ({exc}).", "pass a GeoTIFF of people per pixel.") from exc
    counts: dict[str, int] = {}
    with src:
        if src.crs is None:
            raise CRSError(f"{path}: the raster has no CRS. Fix: assign one, e.g. "
                           f"`gdal_edit.py -a_srs EPSG:4326 {path.name}`, then rerun.")
        data = src.read(1, masked=True).astype(np.float64)
        arr = data.filled(0.0)
        bad = ~np.isfinite(arr)
        if bad.any():
            counts["population_nonfinite_cells_zeroed"] = int(bad.sum())
            arr[bad] = 0.0
        neg = arr < 0
        if neg.any():
            counts["population_negative_cells_zeroed"] = int(neg.sum())
            warnings.warn(f"{path}: {int(neg.sum())} negative population cells set to 0 (undeclared nodata?)", stacklevel=2)
            arr[neg] = 0.0
        src_crs, src_transform = src.crs, src.transform
        same = CRS.from_user_input(src_crs) == dst_crs and np.isclose(abs(src_transform.a), resolution_m, rtol=0.01) \
            and np.isclose(abs(src_transform.e), resolution_m, rtol=0.01)
        if same and bounds is None:
            grid = PopulationGrid(arr, src_transform, dst_crs, str(path), counts)
        else:
            grid = _warp(arr, src_transform, src_crs, src.width, src.height, dst_crs, resolution_m, bounds, str(path), counts)
    if grid.total <= 0:
        raise EmptyInputError(f"{path}: no population inside the study area (all cells are 0, nodata, or the raster "
                              "does not overlap the city). Fix: check the raster covers the area and its CRS.")
    return grid


def _warp(arr: np.ndarray, src_transform: Affine, src_crs: Any, width: int, height: int, dst_crs: CRS,
          res: float, bounds: tuple[float, float, float, float] | None, source: str, counts: dict[str, int]) -> PopulationGrid:
    src_crs = CRS.from_user_input(src_crs)
    # people per m² on the source grid (pixel area varies with latitude on geographic grids)
    if src_crs.is_geographic:
        rows = np.arange(height)
        lat = src_transform.f + (rows + 0.5) * src_transform.e
        a = 6_371_008.8
        px_area = (np.radians(abs(src_transform.a)) * a * np.cos(np.radians(lat))) * (np.radians(abs(src_transform.e)) * a)
        density = arr / px_area[:, None]
    else:
        density = arr / abs(src_transform.a * src_transform.e)
    sb = rasterio.transform.array_bounds(height, width, src_transform)
    full = transform_bounds(src_crs, dst_crs, sb[0], sb[1], sb[2], sb[3])
    if bounds is not None:
        full = (max(full[0], bounds[0]), max(full[1], bounds[1]), min(full[2], bounds[2]), min(full[3], bounds[3]))
        if full[0] >= full[2] or full[1] >= full[3]:
            raise EmptyInputError(f"{source}: the raster does not overlap the study area. Fix: use a raster "
                                  "that covers the city (check its CRS).")
    xmin = np.floor(full[0] / res) * res
    ymax = np.ceil(full[3] / res) * res
    cols = int(np.ceil((full[2] - xmin) / res))
    nrows = int(np.ceil((ymax - full[1]) / res))
    dst_transform = Affine(res, 0, xmin, 0, -res, ymax)
    out = np.zeros((nrows, cols), dtype=np.float64)
    reproject(density, out, src_transform=src_transform, src_crs=src_crs, dst_transform=dst_transform,
              dst_crs=dst_crs, resampling=Resampling.average, src_nodata=None, dst_nodata=0.0)
    out *= res * res
    # conserve the people of the source pixels whose centres fall in the output grid
    src_total = _people_inside(arr, src_transform, src_crs, dst_crs, dst_transform, out.shape)
    if out.sum() > 0 and src_total > 0:
        out *= src_total / out.sum()
    return PopulationGrid(out, dst_transform, dst_crs, source, counts,
                          meta={"resampled_from": src_crs.to_string(), "source_total": src_total})


def _people_inside(arr: np.ndarray, src_transform: Affine, src_crs: CRS, dst_crs: CRS, dst_transform: Affine,
                   shape: tuple[int, int]) -> float:
    from pyproj import Transformer

    r, c = np.nonzero(arr > 0)
    if r.size == 0:
        return 0.0
    xs, ys = rasterio.transform.xy(src_transform, r, c, offset="center")
    tx, ty = Transformer.from_crs(src_crs, dst_crs, always_xy=True).transform(np.asarray(xs), np.asarray(ys))
    col = (np.asarray(tx) - dst_transform.c) / dst_transform.a
    row = (np.asarray(ty) - dst_transform.f) / dst_transform.e
    inside = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    return float(arr[r[inside], c[inside]].sum())


def write_population_raster(array: np.ndarray, transform: Affine, crs: CRS | str, path: str | Path,
                            tags: dict[str, str] | None = None) -> Path:
    """Write a float32 population GeoTIFF (deflate-compressed, nodata none), atomically."""
    from .io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", driver="GTiff", height=array.shape[0], width=array.shape[1], count=1,
                           dtype="float32", crs=CRS.from_user_input(crs).to_wkt(), transform=transform,
                           compress="deflate", predictor=3, tiled=True, blockxsize=256, blockysize=256) as dst:
            dst.write(array.astype(np.float32), 1)
            if tags:
                dst.update_tags(**tags)
    return path
