"""Rasters far larger or finer than the study grid: read by window, tile by tile, in bounded memory.

A window of more than ``TILE_PX``² source pixels is cleaned tile by tile, written as people per m² to a temporary
GeoTIFF and warped from it by GDAL. These tests check it against a reference computed here and against the
whole-window read (forced by a huge ``TILE_PX``), that the fill-value and nodata rules still hold across tiles,
that memory stays low on big sparse rasters (measured in a subprocess), and that an output grid too big for
memory is refused with a clear error. Every raster is written into tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.windows import Window

import dgcoverage.inputs.raster as raster
from dgcoverage.errors import InputFileError
from dgcoverage.inputs.population import population_from_raster

UTM = CRS.from_epsg(32649)
TO_UTM = Transformer.from_crs(4326, UTM, always_xy=True)
BLOCK = 512


def _write_sparse(path, width, height, crs, transform, blocks, nodata=-9999.0, dtype="float32"):
    """Tiled (512), deflate, sparse GeoTIFF: only ``blocks`` ({(block_row, block_col): array}) are written.

    Blocks never written read back as ``nodata``, so the file is mostly nodata, like a 1 m building raster.
    """
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype=dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=BLOCK,
        blockysize=BLOCK,
        compress="deflate",
        sparse_ok=True,
        bigtiff="IF_SAFER",
    ) as dst:
        for (br, bc), arr in blocks.items():
            dst.write(arr.astype(dtype), 1, window=Window(bc * BLOCK, br * BLOCK, arr.shape[1], arr.shape[0]))
    return path


def _scatter(width, height, pixels, nodata=-9999.0, rng=None):
    """Blocks of zeros holding ``pixels`` ({(row, col): people}), with a few declared-nodata cells in each."""
    blocks: dict[tuple[int, int], np.ndarray] = {}
    for (r, c), v in pixels.items():
        key = (r // BLOCK, c // BLOCK)
        if key not in blocks:
            h, w = min(BLOCK, height - key[0] * BLOCK), min(BLOCK, width - key[1] * BLOCK)
            blocks[key] = np.zeros((h, w), dtype=np.float32)
            if rng is not None:
                blocks[key][rng.random((h, w)) < 0.05] = nodata
        blocks[key][r % BLOCK, c % BLOCK] = v
    return blocks


def _quiet_read(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = population_from_raster(*args, **kwargs)
    return grid, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _whole_window_read(monkeypatch, *args, **kwargs):
    """The read as before tiles: the whole window in memory, cleaned and warped at once."""
    with monkeypatch.context() as m:
        m.setattr(raster, "TILE_PX", 1 << 20)
        grid, msgs = _quiet_read(*args, **kwargs)
    assert "tiles_read" not in grid.meta
    return grid, msgs


def _tiled_read(monkeypatch, tile, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(raster, "TILE_PX", tile)
        grid, msgs = _quiet_read(*args, **kwargs)
    assert grid.meta["tiles_read"] > 1
    return grid, msgs


def _same_grid(a, b, rtol=1e-9):
    assert a.transform == b.transform and a.array.shape == b.array.shape
    np.testing.assert_allclose(a.array, b.array, rtol=rtol, atol=rtol * max(a.array.max(), 1e-12))
    assert a.warnings == b.warnings
    assert a.meta["fill_values"] == b.meta["fill_values"] and a.meta["read_window"] == b.meta["read_window"]
    if "source_total" in b.meta:
        assert a.meta["source_total"] == pytest.approx(b.meta["source_total"], rel=1e-12)
    else:
        assert "source_total" not in a.meta
    assert a.footprint.equals(b.footprint)


# ------------------------------------------------------------------ fine rasters: per cell against a reference


def _spy_chunks(monkeypatch):
    """Record the output chunks each warp from the temporary file used."""
    seen: list[list[tuple[int, int, int, int]]] = []
    real = raster._WarpSink._chunks

    def chunks(self):
        seen.append(real(self))
        return seen[-1]

    monkeypatch.setattr(raster._WarpSink, "_chunks", chunks)
    return seen


@pytest.mark.parametrize("layout", ["spread", "clustered"])
def test_fine_utm_raster_gives_each_cell_its_pixels(tmp_path, monkeypatch, layout):
    # 1 m pixels on a 100 m-aligned origin: every 100 m cell is exactly 100 x 100 source pixels; spread over the
    # whole window (one warp) or in a few clusters (only the output chunks near people are warped)
    size, origin = 6000, (400_000.0, 2_556_000.0)
    tr = Affine(1.0, 0, origin[0], 0, -1.0, origin[1])
    rng = np.random.default_rng(11)
    if layout == "spread":
        rows, cols = rng.integers(0, size, 4000), rng.integers(0, size, 4000)
    else:
        centres = rng.integers(1500, 2600, (3, 2))  # the window's north-west
        rows, cols = (
            np.clip(centres[rng.integers(0, 3, 4000), k] + rng.integers(-200, 200, 4000), 0, size - 1) for k in (0, 1)
        )
    pixels = {(int(r), int(c)): float(rng.uniform(0.05, 1.9)) for r, c in zip(rows, cols)}  # < 2 people per m²
    chunks = _spy_chunks(monkeypatch)
    p = _write_sparse(tmp_path / "fine_utm.tif", size, size, UTM, tr, _scatter(size, size, pixels, rng=rng))
    bounds = (400_950.3, 2_550_870.2, 405_020.7, 2_555_130.9)
    g, msgs = _quiet_read(p, UTM, bounds=bounds)
    assert msgs == [] and g.meta["tiles_read"] > 1
    c0, r0, w, h = g.meta["read_window"]
    assert w * h > raster.TILE_PX**2  # read tile by tile
    # reference: each pixel's people in the 100 m cell holding its centre
    xmin, ymax = g.transform.c, g.transform.f
    assert (xmin, ymax) == (400_900.0, 2_555_200.0)
    ref = np.zeros(g.array.shape)
    for (r, c), v in pixels.items():
        x, y = origin[0] + c + 0.5, origin[1] - r - 0.5
        i, j = int((ymax - y) // 100), int((x - xmin) // 100)
        if 0 <= i < ref.shape[0] and 0 <= j < ref.shape[1]:
            ref[i, j] += np.float32(v)
    np.testing.assert_allclose(g.array, ref, rtol=1e-9, atol=1e-9)
    assert g.total == pytest.approx(ref.sum(), rel=1e-12) and g.meta["source_total"] == pytest.approx(ref.sum())
    # and the whole-window read, as before, gives the same cells
    whole, _ = _whole_window_read(monkeypatch, p, UTM, bounds=bounds)
    _same_grid(g, whole)
    (used,) = chunks
    n_cells = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in used)
    assert (n_cells == g.array.size) if layout == "spread" else (0 < n_cells < 0.6 * g.array.size)


def test_sparse_unaligned_raster_warped_by_chunks_equals_whole_read(tmp_path, monkeypatch):
    # 3 m pixels whose edges miss the 100 m grid's; people in a few clusters, so the warp skips empty chunks
    size = 3000
    tr = Affine(3.0, 0, 400_001.3, 0, -3.0, 2_559_998.6)
    rng = np.random.default_rng(9)
    centres = rng.integers(300, 2700, (3, 2))
    pick = rng.integers(0, 3, 3000)
    rows = np.clip(centres[pick, 0] + rng.integers(-150, 150, 3000), 0, size - 1)
    cols = np.clip(centres[pick, 1] + rng.integers(-150, 150, 3000), 0, size - 1)
    pixels = {(int(r), int(c)): float(rng.uniform(1.0, 15.0)) for r, c in zip(rows, cols)}
    p = _write_sparse(tmp_path / "fine3m.tif", size, size, UTM, tr, _scatter(size, size, pixels, rng=rng))
    bounds = (400_200.0, 2_551_300.0, 408_700.0, 2_559_600.0)
    chunks = _spy_chunks(monkeypatch)
    tiled, _ = _tiled_read(monkeypatch, 512, p, UTM, bounds=bounds)
    whole, _ = _whole_window_read(monkeypatch, p, UTM, bounds=bounds)
    _same_grid(tiled, whole)
    (used,) = chunks
    assert len(used) > 1 and sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in used) < 0.6 * tiled.array.size


def test_fine_wgs84_raster_matches_reference_and_whole_read(tmp_path, monkeypatch):
    # 1e-5 degree pixels (about 1 m) over 113.70-113.76E, 23.00-23.06N; people at the pixel under cell centres
    size = 6000
    tr = Affine(1e-5, 0, 113.70, 0, -1e-5, 23.06)
    lo, hi = TO_UTM.transform(113.713, 23.012), TO_UTM.transform(113.747, 23.048)
    bounds = (lo[0], lo[1], hi[0], hi[1])
    grid_t = Affine(100, 0, np.floor(bounds[0] / 100) * 100, 0, -100, np.ceil(bounds[3] / 100) * 100)
    rng = np.random.default_rng(5)
    inv = ~tr
    pixels, ref_cells = {}, {}
    to_wgs = Transformer.from_crs(UTM, 4326, always_xy=True)
    nrows, ncols = int(np.ceil((grid_t.f - bounds[1]) / 100)), int(np.ceil((bounds[2] - grid_t.c) / 100))
    for i, j in zip(rng.integers(1, nrows - 1, 300), rng.integers(1, ncols - 1, 300)):
        x, y = grid_t * (j + 0.5, i + 0.5)
        col, row = inv * to_wgs.transform(x, y)
        v = float(np.float32(rng.uniform(0.1, 1.9)))
        key = (int(row), int(col))
        if key not in pixels:
            pixels[key] = v
            ref_cells[(int(i), int(j))] = ref_cells.get((int(i), int(j)), 0.0) + v
    p = _write_sparse(tmp_path / "fine_wgs.tif", size, size, "EPSG:4326", tr, _scatter(size, size, pixels, rng=rng))
    g, msgs = _quiet_read(p, UTM, bounds=bounds)
    assert msgs == [] and g.meta["tiles_read"] > 1 and g.transform == grid_t
    ref = np.zeros(g.array.shape)
    for (i, j), v in ref_cells.items():
        ref[i, j] = v
    # people conserved exactly; each populated cell holds its pixel's people (GDAL averages the density over the
    # cell's footprint in degrees, whose size varies a little from cell to cell: some parts in 100,000)
    assert g.total == pytest.approx(ref.sum(), rel=1e-12)
    assert set(zip(*np.nonzero(g.array > 1e-9 * g.array.max()))) == set(ref_cells)
    np.testing.assert_allclose(g.array, ref, rtol=2e-4, atol=1e-9)
    whole, _ = _whole_window_read(monkeypatch, p, UTM, bounds=bounds)
    _same_grid(g, whole)


@pytest.mark.parametrize("crs", ["utm", "wgs84"])
def test_tiles_equal_whole_window_on_a_dense_raster(tmp_path, monkeypatch, crs):
    # every pixel populated (random, with nodata and zeros), small tiles: the tiled read equals the whole read
    rng = np.random.default_rng(3)
    h, w = 700, 900
    arr = rng.uniform(0.0, 8.0, (h, w))
    arr[rng.random((h, w)) < 0.1] = 0.0
    arr[rng.random((h, w)) < 0.05] = -9999.0
    if crs == "utm":
        tr = Affine(5.0, 0, 400_003.0, 0, -5.0, 2_550_002.0)  # 5 m pixels, not aligned with the 100 m grid
        bounds = (400_500.0, 2_547_100.0, 404_000.0, 2_549_500.0)
    else:
        tr = Affine(5e-5, 0, 113.70, 0, -5e-5, 23.05)
        lo, hi = TO_UTM.transform(113.705, 23.02), TO_UTM.transform(113.74, 23.045)
        bounds = (lo[0], lo[1], hi[0], hi[1])
    p = _write_sparse(
        tmp_path / "dense.tif",
        w,
        h,
        UTM if crs == "utm" else "EPSG:4326",
        tr,
        {(br, bc): arr[br * BLOCK : (br + 1) * BLOCK, bc * BLOCK : (bc + 1) * BLOCK] for br in (0, 1) for bc in (0, 1)},
    )
    whole, _ = _whole_window_read(monkeypatch, p, UTM, bounds=bounds)
    tiled, _ = _tiled_read(monkeypatch, 128, p, UTM, bounds=bounds)
    _same_grid(tiled, whole)
    assert tiled.total == pytest.approx(whole.meta["source_total"], rel=1e-12)
    # and with no bounds at all (the raster's whole extent)
    _same_grid(_tiled_read(monkeypatch, 256, p, UTM)[0], _whole_window_read(monkeypatch, p, UTM)[0])


def test_tiled_read_on_the_rasters_own_grid(tmp_path, monkeypatch):
    # same CRS and resolution, no bounds: the raster is the grid; tiles fill it in place
    rng = np.random.default_rng(8)
    arr = rng.uniform(0.0, 300.0, (37, 53))
    arr[3, 4] = np.nan
    p = tmp_path / "own.tif"
    with rasterio.open(
        p, "w", driver="GTiff", height=37, width=53, count=1, dtype="float32", crs=UTM,
        transform=Affine(100, 0, 400_000, 0, -100, 2_550_000),
    ) as dst:  # fmt: skip
        dst.write(arr.astype("float32"), 1)
    whole, _ = _whole_window_read(monkeypatch, p, UTM)
    tiled, _ = _tiled_read(monkeypatch, 8, p, UTM)
    _same_grid(tiled, whole, rtol=0.0)
    assert tiled.warnings == {"population_nonfinite_cells_zeroed": 1}


# ------------------------------------------------------------------ fill values and nodata, tile by tile


def _small(path, arr, dtype="float32", nodata=None, crs=UTM, transform=None):
    arr = np.asarray(arr)
    tr = transform or Affine(100, 0, 400_000, 0, -100, 2_550_000)
    with rasterio.open(
        path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1, dtype=dtype, crs=crs,
        transform=tr, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(arr.astype(dtype), 1)
    return path


WGS_TR = Affine(0.001, 0, 113.70, 0, -0.001, 23.10)


@pytest.mark.parametrize("warped", [False, True], ids=["own_grid", "warped"])
def test_fill_value_in_one_tile_only_is_counted_once(tmp_path, monkeypatch, warped):
    # 8 x 8 uint16, tiles of 4 x 4: 65535 (undeclared fill) in three cells of the top-left tile only
    arr = np.full((8, 8), 20)
    arr[0, 0] = arr[1, 2] = arr[3, 3] = 65535
    arr[6, 6] = 0
    kw = {"crs": "EPSG:4326", "transform": WGS_TR} if warped else {}
    p = _small(tmp_path / "fill1.tif", arr, dtype="uint16", **kw)
    tiled, msgs = _tiled_read(monkeypatch, 4, p, UTM)
    whole, whole_msgs = _whole_window_read(monkeypatch, p, UTM)
    _same_grid(tiled, whole)
    assert msgs == whole_msgs
    assert tiled.warnings == {"population_fill_cells_zeroed": 3} and tiled.meta["fill_values"] == {"65535": 3}
    (msg,) = msgs
    assert "65535 (3 cells)" in msg and "gdal_edit.py -a_nodata 65535 fill1.tif" in msg
    assert tiled.total == pytest.approx(20.0 * 60, rel=1e-9)


def test_fills_and_negatives_spread_over_tiles_count_like_a_whole_read(tmp_path, monkeypatch):
    arr = np.array(
        [
            [12.0, -9999.0, 0.0, 5.0, -3.0, 7.0],
            [-3.4e38, 40.0, -9999.0, 1.0, 2.0, np.nan],
            [3.0, np.nan, 4.0, -9999.0, 600.0, -1.0],
            [-200.0, 8.0, 9.0, -3.4e38, 0.0, 1e7],
        ]
    )
    p = _small(tmp_path / "mix.tif", arr, nodata=1.0)  # 1.0 declared: masked, nobody
    tiled, msgs = _tiled_read(monkeypatch, 2, p, UTM)
    whole, whole_msgs = _whole_window_read(monkeypatch, p, UTM)
    _same_grid(tiled, whole, rtol=0.0)
    assert msgs == whole_msgs and len(msgs) == 2
    assert tiled.meta["fill_values"] == {"-9999": 3, "-3.4e+38": 2, "10000000": 1}
    assert tiled.warnings == {
        "population_nonfinite_cells_zeroed": 2,
        "population_fill_cells_zeroed": 6,
        "population_negative_cells_zeroed": 3,
    }
    assert tiled.total == 12 + 5 + 7 + 40 + 2 + 3 + 4 + 600 + 8 + 9


def test_weak_marker_kept_when_another_tile_holds_data_near_it(tmp_path, monkeypatch):
    # 255 in uint8 is fill only if it stands apart from the data; the data near it lie in other tiles
    real = np.zeros((6, 6), dtype=int)
    real[0, 0], real[5, 5], real[4, 1] = 250, 255, 255  # 250 in the first tile, 255 in two others
    real[2, 3] = 30
    tiled, msgs = _tiled_read(monkeypatch, 3, _small(tmp_path / "real.tif", real, dtype="uint8"), UTM)
    assert tiled.total == 250 + 255 + 255 + 30 and tiled.warnings == {} and msgs == []
    assert tiled.array[5, 5] == 255.0 and tiled.array[4, 1] == 255.0
    whole, _ = _whole_window_read(monkeypatch, tmp_path / "real.tif", UTM)
    _same_grid(tiled, whole, rtol=0.0)
    # the same 255s amid counts of at most 40: fill, counted once each across the tiles
    fill = real.copy()
    fill[0, 0] = 40
    tiled, msgs = _tiled_read(monkeypatch, 3, _small(tmp_path / "fill.tif", fill, dtype="uint8"), UTM)
    assert tiled.total == 70 and tiled.warnings == {"population_fill_cells_zeroed": 2} and "255 (2 cells)" in msgs[0]
    # warped, the kept 255s go through the temporary file a second time: still the whole read's cells
    p = _small(tmp_path / "realw.tif", real, dtype="uint8", crs="EPSG:4326", transform=WGS_TR)
    _same_grid(_tiled_read(monkeypatch, 3, p, UTM)[0], _whole_window_read(monkeypatch, p, UTM)[0])


def test_wrong_units_seen_across_tiles_are_refused_with_the_windows_count(tmp_path, monkeypatch):
    arr = np.full((6, 6), 20.0)
    arr[0, 0], arr[5, 5], arr[0, 5], arr[5, 0] = 25_000.0, 31_000.0, 48_000.0, 48_000.0  # one per tile
    p = _small(tmp_path / "density.tif", arr)
    with monkeypatch.context() as m:
        m.setattr(raster, "TILE_PX", 3)
        with pytest.raises(InputFileError, match=r"4 pixels hold more than 2,000,000 people per km² \(3 distinct"):
            population_from_raster(p, UTM)


def test_declared_nodata_masked_in_every_tile(tmp_path, monkeypatch):
    arr = np.full((5, 7), 3.0)
    arr[::2, ::3] = -99999.0  # declared: nobody, no warning
    p = _small(tmp_path / "nd.tif", arr, nodata=-99999.0, crs="EPSG:4326", transform=WGS_TR)
    tiled, msgs = _tiled_read(monkeypatch, 2, p, UTM)
    assert msgs == [] and tiled.warnings == {} and tiled.meta["fill_values"] == {}
    assert tiled.total == pytest.approx(3.0 * (35 - 9), rel=1e-9)
    _same_grid(tiled, _whole_window_read(monkeypatch, p, UTM)[0])


def test_tiled_read_leaves_no_temporary_file_and_restores_the_gdal_cache(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
    p = _small(tmp_path / "w.tif", np.full((6, 6), 4.0), crs="EPSG:4326", transform=WGS_TR)
    g, _ = _tiled_read(monkeypatch, 2, p, UTM)
    assert g.total == pytest.approx(144.0, rel=1e-9)
    with monkeypatch.context() as m:  # also when the read fails half way
        m.setattr(raster, "TILE_PX", 2)
        bad = np.full((6, 6), 4.0)
        bad[0, 0], bad[3, 3], bad[5, 5] = 1e7, 2e7, 3e7
        with pytest.raises(InputFileError, match="3 pixels hold"):
            population_from_raster(_small(tmp_path / "bad.tif", bad, crs="EPSG:4326", transform=WGS_TR), UTM)
    assert list(scratch.iterdir()) == []
    assert rasterio.env.get_gdal_config("GDAL_CACHEMAX") == before


# ------------------------------------------------------------------ memory


def _measure(tmp_path, script):
    """Run ``script`` in a fresh interpreter; return its JSON line (with its peak resident memory)."""
    code = textwrap.dedent(
        """
        import json, resource, time, warnings
        from dgcoverage.inputs.population import population_from_raster

        def peak_mib():  # this process's own peak (ru_maxrss may carry the forking parent's over exec)
            try:
                with open("/proc/self/status") as f:
                    return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
            except (OSError, StopIteration):
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            {body}
        out = dict(seconds=time.perf_counter() - t0, total=g.total, shape=list(g.array.shape),
                   window=list(g.meta["read_window"]), tiles=g.meta.get("tiles_read", 0),
                   peak_mib=peak_mib())
        print(json.dumps(out))
        """
    ).replace("{body}", script)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # the checkout, not an install
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_large_sparse_fine_raster_reads_in_little_memory(tmp_path):
    # 40,000 x 40,000 px of 1 m (1.6 billion pixels, mostly nodata); the study window is 10 km x 10 km, i.e.
    # 100 million source pixels: held whole as float64 (several copies) it took gigabytes
    size = 40_000
    tr = Affine(1.0, 0, 760_000.0, 0, -1.0, 2_570_000.0)
    rng = np.random.default_rng(2)
    corners = rng.integers(0, size // BLOCK, (60, 2)) * BLOCK  # people in 60 of the 6,241 blocks
    pixels = {
        (int(r0 + r), int(c0 + c)): 0.5
        for r0, c0 in corners
        for r, c in zip(rng.integers(0, BLOCK, 50), rng.integers(0, BLOCK, 50))
        if r0 + r < size and c0 + c < size
    }
    p = _write_sparse(tmp_path / "fine40k.tif", size, size, UTM, tr, _scatter(size, size, pixels, rng=rng))
    bounds = (775_000.0, 2_545_000.0, 785_000.0, 2_555_000.0)
    inside = sum(
        np.float32(v) for (r, c), v in pixels.items() if 775_000 <= 760_000 + c < 785_000 and 15_000 <= r < 25_000
    )
    out = _measure(tmp_path, f"g = population_from_raster({str(p)!r}, 'EPSG:32649', bounds={bounds!r})")
    assert out["shape"] == [100, 100] and out["window"][2] * out["window"][3] >= 100_000_000 and out["tiles"] > 1
    assert out["total"] == pytest.approx(float(inside), rel=1e-9)
    assert out["peak_mib"] < 600, out  # a tile, GDAL's 64 MiB cache and warp buffers, the libraries


def test_china_size_raster_gives_the_dongguan_window_fast(tmp_path):
    # 3-arc-second (~100 m) raster over 73-135E x 18-54N: 74,400 x 43,200 = 3.2 billion pixels, tiled, deflate
    res = 1 / 1200
    tr = Affine(res, 0, 73.0, 0, -res, 54.0)
    col, row = ~tr * (113.7, 23.1)
    rng = np.random.default_rng(4)
    br, bc = int(row) // BLOCK, int(col) // BLOCK
    blocks = {(br + i, bc + j): rng.uniform(0, 150, (BLOCK, BLOCK)) for i in (0, 1) for j in (0, 1)}
    p = _write_sparse(tmp_path / "china.tif", 74_400, 43_200, "EPSG:4326", tr, blocks, nodata=-99999.0)
    lo, hi = TO_UTM.transform(113.7, 22.95), TO_UTM.transform(113.85, 23.1)
    out = _measure(tmp_path, f"g = population_from_raster({str(p)!r}, 'EPSG:32649', bounds={(*lo, *hi)!r})")
    assert out["total"] > 0 and out["window"][2] * out["window"][3] < 100_000
    assert out["seconds"] < 20 and out["peak_mib"] < 1024, out


# ------------------------------------------------------------------ too big for memory: a clear error


@pytest.mark.parametrize("crs", ["utm", "wgs84"])
def test_grid_too_big_for_memory_is_refused_with_the_fix(tmp_path, crs):
    # read without bounds, a national raster would be a grid of billions of cells
    if crs == "utm":
        p = _write_sparse(tmp_path / "nat.tif", 30_000, 30_000, UTM, Affine(100, 0, 0, 0, -100, 4_000_000), {})
    else:
        tr = Affine(1 / 1200, 0, 100.0, 0, -1 / 1200, 30.0)
        p = _write_sparse(tmp_path / "nat.tif", 30_000, 12_000, "EPSG:4326", tr, {})
    with pytest.raises(InputFileError) as exc:
        population_from_raster(p, UTM)
    msg = str(exc.value)
    assert exc.value.path == p and ("30,000 × 30,000 pixels" in msg or "30,000 × 12,000 pixels" in msg)
    assert "GiB" in msg and "budget" in msg and "bounds" in exc.value.fix and "gdalwarp -te" in exc.value.fix
