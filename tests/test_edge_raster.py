"""Edge rasters: the population raster is never read partially or wrongly and called whole.

Bands must be chosen, imagery is refused, undeclared fill values are zeroed and counted (real people untouched),
only the study window is read (and equals a whole read), and the grid knows the raster's footprint.
Every raster is a tiny GeoTIFF written into tmp_path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.windows import Window

import dgcoverage.inputs.raster as raster
from dgcoverage.errors import InputFileError
from dgcoverage.inputs.population import PopulationGrid, population_from_raster, share_outside

UTM = CRS.from_epsg(32649)
UTM_TR = Affine(100, 0, 400_000, 0, -100, 2_550_000)  # 100 m pixels, already on the analysis grid
WGS_TR = Affine(0.001, 0, 113.70, 0, -0.001, 23.10)  # ~100 m pixels over Dongguan


def _write(path, bands, dtype="float32", crs=UTM, transform=UTM_TR, nodata=None, **kw):
    bands = np.asarray(bands)
    if bands.ndim == 2:
        bands = bands[None]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=bands.shape[1],
        width=bands.shape[2],
        count=bands.shape[0],
        dtype=dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **kw,
    ) as dst:
        dst.write(bands.astype(dtype))
    return path


def _read(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = population_from_raster(*args, **kwargs)
    return grid, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]  # not rasterio's notices


# ------------------------------------------------------------------ band choice


def test_two_bands_without_choice_names_the_bands_and_the_fix(tmp_path):
    p = tmp_path / "two.tif"
    with rasterio.open(
        p, "w", driver="GTiff", height=2, width=2, count=2, dtype="float32", crs=UTM, transform=UTM_TR
    ) as dst:
        dst.write(np.stack([np.full((2, 2), 10.0), np.full((2, 2), 20.0)]).astype("float32"))
        dst.set_band_description(1, "pop 2020")
        dst.set_band_description(2, "pop 2030")
    with pytest.raises(InputFileError, match=r"has 2 bands .*'pop 2020'.*'pop 2030'.*--band N") as exc:
        population_from_raster(p, UTM)
    assert exc.value.path == p and "from 1 to 2" in exc.value.fix


def test_chosen_band_gives_that_bands_people(tmp_path):
    p = _write(tmp_path / "two.tif", [[[10.0, 0.0], [5.0, 1.0]], [[100.0, 200.0], [0.0, 300.0]]])
    g1 = population_from_raster(p, UTM, band=1)
    g2 = population_from_raster(p, UTM, band=2)
    assert g1.total == 16.0 and g1.meta["band"] == 1
    assert g2.total == 600.0 and g2.meta["band"] == 2
    assert g2.array.tolist() == [[100.0, 200.0], [0.0, 300.0]]


@pytest.mark.parametrize("band", [0, 3, -1])
def test_band_out_of_range(tmp_path, band):
    p = _write(tmp_path / "two.tif", np.ones((2, 2, 2)))
    with pytest.raises(InputFileError, match=rf"band {band} is out of range: the raster has 2 bands.*--band N"):
        population_from_raster(p, UTM, band=band)


def test_single_band_needs_no_choice_but_is_checked(tmp_path):
    p = _write(tmp_path / "one.tif", [[7.0, 3.0]])
    g = population_from_raster(p, UTM)
    assert g.total == 10.0 and g.meta["band"] == 1
    assert population_from_raster(p, UTM, band=1).total == 10.0
    with pytest.raises(InputFileError, match="band 2 is out of range: the raster has 1 band "):
        population_from_raster(p, UTM, band=2)


# ------------------------------------------------------------------ imagery is not population


def _palette(path):
    with rasterio.open(
        path, "w", driver="GTiff", height=2, width=2, count=1, dtype="uint8", crs=UTM, transform=UTM_TR
    ) as dst:
        dst.write(np.array([[1, 2], [3, 1]], dtype="uint8"), 1)
        dst.write_colormap(1, {1: (255, 0, 0, 255), 2: (0, 255, 0, 255), 3: (0, 0, 255, 255)})
    return path


@pytest.mark.parametrize(
    "case,kind",
    [
        ("rgb", "RGB imagery"),
        ("rgba", "RGBA imagery"),
        ("palette", "palette"),
        ("uint8x3_minisblack", "RGB imagery"),
        ("float_rgb_interp", "RGB imagery"),
    ],
)
@pytest.mark.parametrize("band", [None, 1])
def test_imagery_refused_even_with_a_band(tmp_path, case, kind, band):
    img = np.full((3, 2, 2), 40)
    if case == "rgb":
        p = _write(tmp_path / "rgb.tif", img, dtype="uint8", photometric="RGB")
    elif case == "rgba":
        p = _write(tmp_path / "rgba.tif", np.full((4, 2, 2), 40), dtype="uint8", photometric="RGB", alpha="YES")
    elif case == "palette":
        p = _palette(tmp_path / "pal.tif")
    elif case == "uint8x3_minisblack":
        p = _write(tmp_path / "u8.tif", img, dtype="uint8", photometric="MINISBLACK")
    else:
        p = _write(tmp_path / "f.tif", img)
        with rasterio.open(p, "r+") as dst:
            dst.colorinterp = [
                rasterio.enums.ColorInterp.red,
                rasterio.enums.ColorInterp.green,
                rasterio.enums.ColorInterp.blue,
            ]
    with pytest.raises(InputFileError, match=rf"is not a population raster: it looks like {kind}") as exc:
        population_from_raster(p, UTM, band=band)
    assert "people per pixel" in exc.value.fix


def test_three_band_float_population_is_not_imagery(tmp_path):
    p = _write(tmp_path / "years.tif", np.stack([np.full((2, 2), v) for v in (1.0, 2.0, 3.0)]))
    with pytest.raises(InputFileError, match="has 3 bands"):
        population_from_raster(p, UTM)
    assert population_from_raster(p, UTM, band=3).total == 12.0


# ------------------------------------------------------------------ undeclared fill values

REAL = np.array([[12.0, 0.0, 30.0], [5.0, 0.0, 600.0]])  # 600 people in a 100 m pixel = 60,000/km²: real, dense


@pytest.mark.parametrize(
    "dtype,fill,shown",
    [
        ("uint16", 65535, "65535"),
        ("int16", -9999, "-9999"),
        ("float32", -9999, "-9999"),
        ("int16", 32767, "32767"),
        ("int32", 2147483647, "2147483647"),
        ("float32", float(np.finfo(np.float32).min), "-3.4028235e+38"),
        ("float32", -3.4e38, "-3.4e+38"),
        ("float64", float(np.finfo(np.float64).min), "-1.7976931348623157e+308"),
        ("float32", -99999, "-99999"),
    ],
)
def test_undeclared_fill_zeroed_counted_and_named(tmp_path, dtype, fill, shown):
    arr = np.vstack([REAL, [fill, fill, 1.0]])  # 2 fill cells
    p = _write(tmp_path / "fill.tif", arr, dtype=dtype)
    g, msgs = _read(p, UTM)
    assert g.total == REAL.sum() + 1.0
    assert g.array[:2].tolist() == REAL.tolist() and g.array[2].tolist() == [0.0, 0.0, 1.0]
    assert g.warnings == {"population_fill_cells_zeroed": 2}
    assert g.meta["fill_values"] == {shown: 2}
    (msg,) = msgs
    assert str(p) in msg and f"{shown} (2 cells)" in msg and f"gdal_edit.py -a_nodata {shown} fill.tif" in msg


def test_declared_nodata_is_not_fill(tmp_path):
    arr = np.vstack([REAL, [65535, 65535, 1]])
    g, msgs = _read(_write(tmp_path / "nd.tif", arr, dtype="uint16", nodata=65535), UTM)
    assert g.total == REAL.sum() + 1.0
    assert g.warnings == {} and g.meta["fill_values"] == {} and msgs == []


def test_several_fill_values_and_plain_negatives_counted_apart(tmp_path):
    arr = np.array([[12.0, -9999.0, -3.0], [-3.4e38, -9999.0, 40.0]])
    g, msgs = _read(_write(tmp_path / "mix.tif", arr), UTM)
    assert g.total == 52.0
    assert g.warnings == {"population_fill_cells_zeroed": 3, "population_negative_cells_zeroed": 1}
    assert g.meta["fill_values"] == {"-9999": 2, "-3.4e+38": 1}
    assert any("gdal_edit.py -a_nodata -9999 " in m for m in msgs)  # the most frequent value first
    assert any("1 negative population cells" in m for m in msgs)


def test_uint8_255_is_fill_only_when_it_stands_apart(tmp_path):
    fill = _write(tmp_path / "u8fill.tif", [[12, 255, 40], [0, 255, 3]], dtype="uint8")
    g, msgs = _read(fill, UTM)
    assert g.total == 55.0 and g.warnings == {"population_fill_cells_zeroed": 2} and "255 (2 cells)" in msgs[0]
    # counts running up to 250 people per 100 m pixel: 255 is the top of the data, not a fill marker
    real = _write(tmp_path / "u8real.tif", [[120, 255, 250], [0, 200, 3]], dtype="uint8")
    g, msgs = _read(real, UTM)
    assert g.total == 828.0 and g.warnings == {} and msgs == []


def test_positive_nines_fill_only_when_implausible_or_apart(tmp_path):
    # 9999 in a 100 m pixel is ~1,000,000 people/km²: fill
    g, _ = _read(_write(tmp_path / "n100.tif", [[9999.0, 600.0], [0.0, 20.0]]), UTM)
    assert g.total == 620.0 and g.meta["fill_values"] == {"9999": 1}
    # 9999 in a 1 km pixel amid values up to 8000 is ordinary: kept
    km = Affine(1000, 0, 400_000, 0, -1000, 2_550_000)
    g, msgs = _read(_write(tmp_path / "n1k.tif", [[9999.0, 8000.0], [0.0, 20.0]], transform=km), UTM, resolution_m=1000)
    assert g.total == 18019.0 and g.warnings == {} and msgs == []


def test_real_high_density_untouched(tmp_path):
    # 60,000/km² on 100 m pixels, 1 km uint16 pixels (60,000 people) and 30 m pixels (54 people)
    g, msgs = _read(_write(tmp_path / "dense.tif", REAL), UTM)
    assert g.total == REAL.sum() and g.warnings == {} and msgs == []
    km = Affine(1000, 0, 400_000, 0, -1000, 2_550_000)
    g, msgs = _read(
        _write(tmp_path / "km.tif", [[60_000, 0], [45_000, 7]], dtype="uint16", transform=km), UTM, resolution_m=1000
    )
    assert g.total == 105_007.0 and g.warnings == {} and msgs == []
    m30 = Affine(30, 0, 400_000, 0, -30, 2_550_000)
    g, msgs = _read(_write(tmp_path / "m30.tif", [[54.0, 0.0], [1.0, 2.0]], transform=m30), UTM, resolution_m=30)
    assert g.total == 57.0 and g.warnings == {} and msgs == []


def test_impossible_density_single_value_is_fill_many_values_are_wrong_units(tmp_path):
    g, msgs = _read(_write(tmp_path / "big.tif", [[1e7, 600.0], [1e7, 20.0]]), UTM)
    assert g.total == 620.0 and g.warnings == {"population_fill_cells_zeroed": 2} and "10000000" in msgs[0]
    # people per km² stored as if per 100 m pixel: 25,000 .. 48,000 "people" per hectare
    dens = _write(tmp_path / "density.tif", [[25_000.0, 31_000.0], [48_000.0, 20.0]])
    with pytest.raises(InputFileError, match=r"3 pixels hold more than 2,000,000 people per km²"):
        population_from_raster(dens, UTM)


def test_fill_in_a_warped_raster(tmp_path):
    arr = np.array([[100.0, -9999.0, 0.0], [50.0, 400.0, -9999.0]])
    g, msgs = _read(
        _write(tmp_path / "wf.tif", arr, crs="EPSG:4326", transform=Affine(0.01, 0, 113.7, 0, -0.01, 23.05)), UTM
    )
    assert g.total == pytest.approx(550.0, rel=1e-9)
    assert g.warnings == {"population_fill_cells_zeroed": 2} and "-9999 (2 cells)" in msgs[0]


# ------------------------------------------------------------------ window read == whole read


def _whole_read(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(raster, "_source_window", lambda src, *a: Window(0, 0, src.width, src.height))
        return population_from_raster(*args, **kwargs)


@pytest.mark.parametrize("case", ["same_crs", "same_crs_edge", "warped", "warped_edge"])
def test_window_read_equals_whole_read(tmp_path, monkeypatch, case):
    rng = np.random.default_rng(7)
    arr = rng.uniform(0.0, 50.0, (120, 150))
    arr[rng.random(arr.shape) < 0.2] = 0.0
    if case.startswith("same"):
        p = _write(tmp_path / "utm.tif", arr)
        # unaligned bounds well inside the raster / running past its east and south edges
        b = (
            (402_030.0, 2_541_070.0, 407_480.0, 2_546_920.0)
            if case == "same_crs"
            else (409_050.0, 2_536_010.0, 420_000.0, 2_541_000.0)
        )
    else:
        p = _write(tmp_path / "wgs.tif", arr, crs="EPSG:4326", transform=WGS_TR)
        t = Transformer.from_crs(4326, UTM, always_xy=True)
        lo, hi = ((113.73, 23.03), (113.78, 23.07)) if case == "warped" else ((113.80, 22.95), (113.90, 23.02))
        b = (*t.transform(*lo), *t.transform(*hi))
    win = population_from_raster(p, UTM, bounds=b)
    whole = _whole_read(monkeypatch, p, UTM, bounds=b)
    assert whole.meta["read_window"] == (0, 0, 150, 120)
    c0, r0, w, h = win.meta["read_window"]
    assert w * h < 0.5 * arr.size  # memory follows the study area, not the file
    assert win.transform == whole.transform and win.array.shape == whole.array.shape
    np.testing.assert_allclose(win.array, whole.array, rtol=1e-9, atol=1e-9 * whole.array.max())
    assert win.total == pytest.approx(whole.total, rel=1e-12)
    assert win.meta["source_total"] == pytest.approx(whole.meta["source_total"], rel=1e-12)
    if case == "same_crs":  # the grid (x from 402,000, y from 2,547,000) is the raster's own pixels from col 20, row 30
        assert win.transform.c == 402_000 and win.transform.f == 2_547_000
        rows, cols = win.array.shape
        np.testing.assert_allclose(win.array, arr[30 : 30 + rows, 20 : 20 + cols].astype(np.float32), rtol=1e-9)


def test_no_bounds_reads_the_whole_band(tmp_path):
    arr = np.arange(12.0).reshape(3, 4)
    g = population_from_raster(_write(tmp_path / "w.tif", arr), UTM)
    assert g.meta["read_window"] == (0, 0, 4, 3) and g.meta["source_shape"] == (3, 4)
    assert g.array.tolist() == arr.tolist()


# ------------------------------------------------------------------ footprint


def test_footprint_covering_half_a_study_polygon(tmp_path):
    # raster: x 400,000..401,000; study polygon: x 400,500..401,500 -> half of it lies outside
    p = _write(tmp_path / "half.tif", np.full((10, 10), 3.0))
    study = shapely.box(400_500, 2_549_200, 401_500, 2_549_800)
    inside = shapely.box(400_100, 2_549_100, 400_300, 2_549_300)
    outside = shapely.box(402_000, 2_549_100, 402_300, 2_549_300)
    for bounds in (None, (400_300.0, 2_549_000.0, 401_700.0, 2_550_000.0)):
        g = population_from_raster(p, UTM, bounds=bounds)
        assert g.footprint.bounds[2] == 401_000.0
        assert g.footprint.contains(inside) and not g.footprint.intersects(outside)
        got = share_outside(
            g.footprint,
            [
                study,
                inside,
                outside,
                shapely.Polygon(),
                None,
                shapely.Point(400_200, 2_549_500),
                shapely.Point(405_000, 2_549_500),
                shapely.LineString([(400_800, 2_549_500), (401_200, 2_549_500)]),
            ],
        )
        np.testing.assert_array_equal(got, [0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.5])
    assert share_outside(g.footprint, []).shape == (0,)
    assert share_outside(g.footprint, study).tolist() == [0.5]
    import geopandas as gpd

    assert share_outside(g.footprint, gpd.GeoSeries([study, None, outside], crs=UTM)).tolist() == [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="footprint is None"):
        share_outside(None, [study])


def test_footprint_of_a_geographic_raster_in_utm(tmp_path):
    p = _write(tmp_path / "wgs.tif", np.full((120, 150), 2.0), crs="EPSG:4326", transform=WGS_TR)  # 113.70..113.85
    t = Transformer.from_crs(4326, UTM, always_xy=True)
    g = population_from_raster(p, UTM)
    # reference: the raster's outline sampled every 1/4000 of an edge, transformed
    s = np.linspace(0.0, 1.0, 4001)[:-1]
    lon = np.concatenate([113.70 + 0.15 * s, np.full(s.size, 113.85), 113.85 - 0.15 * s, np.full(s.size, 113.70)])
    lat = np.concatenate([np.full(s.size, 22.98), 22.98 + 0.12 * s, np.full(s.size, 23.10), 23.10 - 0.12 * s])
    ref = shapely.Polygon(np.column_stack(t.transform(lon, lat)))
    corners = shapely.Polygon(
        [t.transform(x, y) for x, y in [(113.70, 22.98), (113.85, 22.98), (113.85, 23.10), (113.70, 23.10)]]
    )
    assert g.footprint.is_valid and g.footprint.area == pytest.approx(ref.area, rel=1e-9)
    chord_error = corners.symmetric_difference(ref).area
    assert chord_error > 10_000  # the parallels are curved in UTM: four corners would be wrong by > 1 ha ...
    assert g.footprint.symmetric_difference(ref).area < 1e-3 * chord_error  # ... the densified edges are not
    # a study polygon straddling the raster's east edge (113.85 E), in UTM
    x, y = t.transform(113.85, 23.04)
    study = shapely.box(x - 3000, y - 2000, x + 1000, y + 2000)
    expected = study.difference(ref).area / study.area
    assert 0.2 < expected < 0.3
    assert share_outside(g.footprint, [study])[0] == pytest.approx(expected, rel=1e-6)
    # read with bounds: the footprint is the raster within the window read, the east edge still exact
    gb = population_from_raster(p, UTM, bounds=study.bounds)
    assert share_outside(gb.footprint, [study])[0] == pytest.approx(expected, rel=1e-6)
    assert gb.footprint.area < 0.3 * g.footprint.area


def test_grid_built_in_memory_has_its_own_extent_as_footprint():
    g = PopulationGrid(np.ones((2, 3)), Affine(100, 0, 1000, 0, -100, 5000), UTM)
    assert g.footprint.equals(shapely.box(1000, 4800, 1300, 5000))
