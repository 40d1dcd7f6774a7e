"""An elderly (60+) raster as the basis of beds per 1,000 elderly: summed per town, checked, recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from dgcoverage.cli.main import main
from dgcoverage.errors import DataMismatchError
from dgcoverage.pipeline.load import load_study


def _scaled(src_path, dst_path, factor):
    with rasterio.open(src_path) as src:
        prof = src.profile
        data = src.read(1).astype("float32")
    data = np.where(data > 0, data * factor, data).astype("float32")
    with rasterio.open(dst_path, "w", **prof) as dst:
        dst.write(data, 1)
    return dst_path


def test_elderly_raster_is_summed_per_town_and_used_for_beds(small_city, tmp_path):
    old = _scaled(small_city / "population_100m.tif", tmp_path / "elderly.tif", 0.1)
    out = tmp_path / "o"
    rc = main(
        ["run", "--circle", "elderly_care_15", "--data-dir", str(small_city), "--no-maps", "--out", str(out)]
        + ["--elderly-population", str(old)]
    )
    assert rc == 0
    s = json.loads((out / "elderly_care_15" / "summary.json").read_text(encoding="utf-8"))
    people_in_towns = s["inputs"]["population"]["people_in_towns"]
    assert s["inputs"]["elderly"]["path"] == str(old)
    # a tenth of every cell's people, summed over the town polygons: a tenth of the people in the towns
    assert s["inputs"]["elderly"]["total"] == pytest.approx(0.1 * s["inputs"]["population"]["total"], rel=1e-6)
    sup = s["supply"]
    assert "elderly raster" in sup["elderly"]["source"] and str(old) in sup["elderly"]["source"]
    # the city's people aged 60+: a tenth of the raster's people inside the town polygons
    assert sup["city"]["elderly"] == pytest.approx(0.1 * people_in_towns, rel=1e-6)
    # and the beds per 1,000 elderly follow from it
    assert sup["city"]["supply_ratio"] == pytest.approx(1000 * sup["city"]["supply"] / sup["city"]["elderly"], rel=1e-5)


def test_elderly_raster_with_more_old_people_than_people_is_refused(small_city, tmp_path):
    old = _scaled(small_city / "population_100m.tif", tmp_path / "elderly_x2.tif", 2.0)
    with pytest.raises(DataMismatchError, match=r"elderly raster holds more people aged 60\+ than the population"):
        load_study(data_dir=small_city, elderly=old)


def test_elderly_raster_missing_towns_or_in_thousands_is_said(small_city, tmp_path):
    import warnings

    from dgcoverage.errors import DgCoverageWarning

    # the top half only: the towns of the lower half lose their old people -> said and counted
    with rasterio.open(small_city / "population_100m.tif") as src:
        prof, data = src.profile, src.read(1).astype("float32")
    half = np.where(data > 0, data * 0.1, data).astype("float32")[: data.shape[0] // 2]
    prof.update(height=half.shape[0])
    with rasterio.open(tmp_path / "half.tif", "w", **prof) as dst:
        dst.write(half, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = load_study(data_dir=small_city, elderly=tmp_path / "half.tif")
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, DgCoverageWarning))
    assert "does not cover" in said and study.warnings["elderly_raster_misses_area"] == 1
    # figures in thousands: under 1 % of the people in every town
    tiny = _scaled(small_city / "population_100m.tif", tmp_path / "tiny.tif", 0.0001)
    with pytest.warns(DgCoverageWarning, match="under 1 % of the people"):
        study = load_study(data_dir=small_city, elderly=tiny)
    assert study.warnings["elderly_share_below_1pct"] == 2


def test_elderly_options_name_themselves(small_city, tmp_path, capsys):
    base = ["run", "--circle", "elderly_care_15", "--data-dir", str(small_city), "--no-maps", "--out", str(tmp_path)]
    assert main([*base, "--elderly-band", "2"]) == 2
    assert "--elderly-band applies to --elderly-population" in capsys.readouterr().err
    assert main([*base, "--elderly-population", str(tmp_path / "nope.tif")]) == 2
    assert "elderly raster (--elderly-population)" in capsys.readouterr().err
