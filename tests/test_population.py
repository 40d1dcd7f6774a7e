"""Population rasters: direct reads, reprojection with conserved totals, bad rasters."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from dgcoverage.errors import CRSError, EmptyInputError, InputNotFoundError
from dgcoverage.inputs.population import population_from_raster, write_population_raster

UTM = CRS.from_epsg(32649)


def test_direct_read_keeps_cells_and_centres(tmp_path):
    arr = np.zeros((3, 4))
    arr[0, 0], arr[2, 3] = 12, 30
    tr = Affine(100, 0, 400_000, 0, -100, 2_550_000)
    p = write_population_raster(arr, tr, UTM, tmp_path / "p.tif")
    g = population_from_raster(p, UTM)
    row, col, x, y, pop = g.cells()
    assert row.tolist() == [0, 2] and col.tolist() == [0, 3]
    np.testing.assert_allclose(x, [400_050, 400_350])
    np.testing.assert_allclose(y, [2_549_950, 2_549_750])
    assert pop.tolist() == [12, 30] and g.total == 42


def _wgs_raster(tmp_path, nodata=None, crs="EPSG:4326", values=None):
    # 1 km-ish pixels (0.01 deg) over part of Dongguan
    arr = np.array([[100.0, 200.0, 0.0], [50.0, 400.0, 250.0]]) if values is None else values
    tr = Affine(0.01, 0, 113.70, 0, -0.01, 23.05)
    p = tmp_path / "wgs.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=tr,
        nodata=nodata,
    ) as dst:
        dst.write(arr.astype("float32"), 1)
    return p


def test_reprojection_conserves_people(tmp_path):
    g = population_from_raster(_wgs_raster(tmp_path), UTM, resolution_m=100)
    assert abs(g.transform.a) == 100
    assert g.total == pytest.approx(1000.0, rel=1e-9)
    # people stay where they were: the 400-people pixel's footprint holds about 400
    from pyproj import Transformer

    t = Transformer.from_crs(4326, UTM, always_xy=True)
    x0, y0 = t.transform(113.71, 23.04)
    x1, y1 = t.transform(113.72, 23.03)
    c0, r0 = int((x0 - g.transform.c) / 100), int((g.transform.f - y0) / 100)
    c1, r1 = int((x1 - g.transform.c) / 100), int((g.transform.f - y1) / 100)
    inner = g.array[r0 + 1 : r1 - 1, c0 + 1 : c1 - 1]
    assert inner.sum() == pytest.approx(400.0 * inner.size / ((r1 - r0) * (c1 - c0)), rel=0.1)


def test_nodata_is_zero_not_people(tmp_path):
    vals = np.array([[-9999.0, 100.0, 0.0], [0.0, 0.0, 0.0]])
    g = population_from_raster(_wgs_raster(tmp_path, nodata=-9999.0, values=vals), UTM)
    assert g.total == pytest.approx(100.0)


def test_bad_rasters(tmp_path):
    with pytest.raises(InputNotFoundError):
        population_from_raster(tmp_path / "missing.tif", UTM)
    p = tmp_path / "nocrs.tif"
    with rasterio.open(
        p, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32", transform=Affine(100, 0, 0, 0, -100, 200)
    ) as dst:
        dst.write(np.ones((2, 2), dtype="float32"), 1)
    with pytest.raises(CRSError, match="no CRS"):
        population_from_raster(p, UTM)
    with pytest.raises(EmptyInputError, match="does not overlap"):
        population_from_raster(_wgs_raster(tmp_path), UTM, bounds=(0, 0, 1000, 1000))
    with pytest.raises(CRSError):
        population_from_raster(_wgs_raster(tmp_path), "EPSG:4326")
