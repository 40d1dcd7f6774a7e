"""Reading any GeoTIFF band onto a regular grid: the window of the study area, tiles, warp, footprint.

:func:`read_onto_grid` reads the source pixels under the output grid (plus a margin of two pixels), cleans them
by the rules of :mod:`dgcoverage.inputs.raster_checks` and warps them, as people per m² (average resampling),
onto the grid in the analysis CRS, conserving the people of the source pixels inside it.  A window of more than
:data:`TILE_PX` ² source pixels is read tile by tile into a temporary density GeoTIFF that GDAL warps from, in
memory bounded by a tile and the output grid, with the same cells; an output grid over
:data:`MEMORY_BUDGET_BYTES` is refused.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from ..errors import EmptyInputError, InputFileError
from .raster_checks import FillScan, clean_band, zero_negative, zero_nonfinite

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


def read_onto_grid(
    src: Any,
    path: Path,
    band: int,
    dst_crs: CRS,
    resolution_m: float,
    bounds: tuple[float, float, float, float] | None,
    counts: dict[str, int],
    meta: dict[str, Any],
) -> tuple[np.ndarray, Affine, shapely.Geometry, np.dtype, dict[float, int]]:
    """Read band ``band`` of the open raster ``src`` (which has a CRS) onto the grid of ``dst_crs``.

    The raster is read as is when it is already in ``dst_crs`` at ``resolution_m`` and no ``bounds`` are given;
    otherwise the window under the grid is read and warped (see the module docstring).  Repairs are counted in
    ``counts``; ``meta`` gets ``read_window`` (and ``tiles_read``, ``resampled_from``, ``source_total``).

    Returns
    -------
    array, transform, footprint, dtype, fills
        People per cell and the grid's transform, the source extent read (in ``dst_crs``), the band's dtype
        and the undeclared fill values zeroed -> cells holding each.
    """
    src_crs = CRS.from_user_input(src.crs)
    src_transform = src.transform
    same = (
        src_crs == dst_crs
        and np.isclose(abs(src_transform.a), resolution_m, rtol=0.01)
        and np.isclose(abs(src_transform.e), resolution_m, rtol=0.01)
    )
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
        array, transform, fills = _read_by_tiles(
            src, band, window, areas_m2, dtype, path, dst_crs, dst_transform, shape, counts, meta
        )
    else:
        data = src.read(band, window=window, masked=True)
        arr, fills = clean_band(data, dtype, float(areas_m2.max()) / 1e6, path, counts)
        if dst_transform is None:
            array, transform = arr, src_transform
        else:
            array = _warp(arr, areas_m2, win_transform, src_crs, dst_crs, dst_transform, shape, meta)
            transform = dst_transform
    return array, transform, footprint, dtype, fills


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
    """float64 values of one tile, nodata as 0 (like :func:`clean_band`); None if it holds only zeros and nodata."""
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
) -> tuple[np.ndarray, Affine, dict[float, int]]:
    """Read, clean and (if ``dst_transform``) warp a large window tile by tile; memory bounded by a tile."""
    src_crs = CRS.from_user_input(src.crs)
    tiles = _tiles(int(window.height), int(window.width))
    meta["tiles_read"] = len(tiles)
    area_km2 = float(areas_m2.max()) / 1e6
    with rasterio.Env(GDAL_CACHEMAX=_cache_bytes()):
        if dst_transform is None or shape is None:
            grid_sink = _GridSink((int(window.height), int(window.width)))
            fills = _clean_tiles(src, band, window, tiles, dtype, area_km2, path, counts, grid_sink)
            return grid_sink.array, src.transform, fills
        with tempfile.TemporaryDirectory(prefix="dgcoverage-pop-") as tmp:
            sink = _WarpSink(tmp, src, window, areas_m2, src_crs, dst_crs, dst_transform, shape)
            try:
                fills = _clean_tiles(src, band, window, tiles, dtype, area_km2, path, counts, sink)
            finally:
                sink.ds.close()
            out, src_total = sink.warp()
    return _conserve(out, src_total, src_crs, dst_transform, meta), dst_transform, fills


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
    scan = FillScan(dtype, area_km2, path, cap=_MAX_MARKER_VALUES)
    for i, tile in enumerate(tiles):
        arr = _read_tile(src, band, window, tile)
        if arr is None:
            scan.add_zeros()
            continue
        zero_nonfinite(arr, counts)
        hit = scan.add(arr, i)
        if hit is not None:  # every fill-like value, until the whole window is seen
            arr[hit] = 0.0
        zero_negative(arr, counts)
        sink.put(tile, arr)
    fills = scan.decide()
    for i in sorted(scan.restored_blocks(fills)):  # weak markers that turned out to be people: read those tiles again
        arr = _read_tile(src, band, window, tiles[i])
        if arr is None:  # pragma: no cover - the tile held the marker when first read
            continue
        zero_nonfinite(arr, None)
        if fills:
            arr[np.isin(arr, list(fills))] = 0.0
        zero_negative(arr, None)
        sink.put(tiles[i], arr)
    return fills


def _warp(
    arr: np.ndarray,
    areas_m2: np.ndarray,
    src_transform: Affine,
    src_crs: CRS,
    dst_crs: CRS,
    dst_transform: Affine,
    shape: tuple[int, int],
    meta: dict[str, Any],
) -> np.ndarray:
    """Warp people per pixel ``arr`` onto the output grid as people per cell (see :func:`_conserve`)."""
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
    return _conserve(out, src_total, src_crs, dst_transform, meta)


def _conserve(
    out: np.ndarray,
    src_total: float,
    src_crs: CRS,
    dst_transform: Affine,
    meta: dict[str, Any],
) -> np.ndarray:
    """Turn averaged people per m² into people per cell, conserving those of the source pixels inside the grid."""
    out *= abs(dst_transform.a * dst_transform.e)
    if out.sum() > 0 and src_total > 0:
        out *= src_total / out.sum()
    meta.update(resampled_from=src_crs.to_string(), source_total=src_total)
    return out


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


__all__ = ["MEMORY_BUDGET_BYTES", "TILE_PX", "read_onto_grid"]
