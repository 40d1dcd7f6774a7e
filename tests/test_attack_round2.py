"""Inputs a hostile tester tried on the inputs added in round 2 (scenario files, --gpkg-crs, --speeds, the Python
API with GeoDataFrames, the supply's equity columns): each is refused with the right blame, or its figure is
withheld, never a silently changed figure or a crash."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest

from dgcoverage.cli.main import main
from dgcoverage.errors import ConfigError, CRSError, DataMismatchError
from dgcoverage.inputs.facilities import facilities_from_frame
from dgcoverage.outputs.gpkg import layer_crs
from dgcoverage.pipeline.sensitivity import check_speeds

from .test_candidates_supply import TOWN_A, TOWN_B
from .test_trust_doubt import _city, _run

DONGGUAN = (113.5, 22.6, 114.3, 23.2)

# ------------------------------------------------------------------ --gpkg-crs: no guessed datum


@pytest.mark.parametrize(
    "value, datum",
    [
        ("EPSG:2383", "Xian 1980"),  # Xian 1980 / 3-degree GK CM 114E: planning offices' old grid
        ("EPSG:4610", "Xian 1980"),
        ("EPSG:4214", "Beijing 1954"),  # PROJ would use the Tarim basin's parameters in Dongguan
        ("EPSG:4555", "New Beijing"),
        ("+proj=tmerc +lon_0=114 +ellps=krass +units=m", "Krassovsky"),  # an ellipsoid, no datum
        ("+proj=longlat +R=1", "unknown"),  # a unit sphere
    ],
)
def test_gpkg_crs_on_another_datum_is_refused_not_shifted_by_a_guess(value, datum):
    with pytest.raises(CRSError, match=rf"on the datum '[^']*{datum}[^']*', not WGS84 or CGCS2000.*七参数"):
        layer_crs(value, DONGGUAN)


@pytest.mark.parametrize(
    "value",
    ["EPSG:4326", "EPSG:4490", "EPSG:4526", "EPSG:4547", "EPSG:32649", "EPSG:3857", "+proj=utm +zone=49 +ellps=WGS84"],
)
def test_gpkg_crs_on_wgs84_or_cgcs2000_is_still_written(value):
    assert layer_crs(value, DONGGUAN) is not None


def test_gpkg_crs_xian80_is_refused_before_anything_is_loaded(capsys, tmp_path):
    code = main(["run", "--circle", "fitness_15", "--gpkg-crs", "EPSG:2383", "--out", str(tmp_path / "o"), "--no-maps"])
    err = capsys.readouterr().err
    assert code == 2 and "Xian 1980" in err and "loading" not in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ --speeds that print alike


def test_speeds_that_name_the_same_column_are_refused_not_a_crash(capsys, tmp_path):
    code = main(["run", "--circle", "elderly_care_15", "--speeds", "3.6,3.6000001", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert "speeds [3.6, 3.6000001] differ by less than the 6 significant digits" in err
    assert not (tmp_path / "o").exists()


def test_check_speeds_refuses_speeds_of_one_label():
    with pytest.raises(ConfigError, match=r"\[3.6, 3.6000001\] would name the same column \(3.6kmh\)"):
        check_speeds([3.6, 3.6000001, 4.3])
    assert check_speeds([4.3, 3.6, 3.6]) == (3.6, 4.3)  # the same speed twice is one speed


# ------------------------------------------------------------------ the share of people 达标 on a doubted supply


def test_access_meets_target_share_is_withheld_like_below_standard_when_the_supply_is_doubted():
    st = _city()
    sure = _run(st, [10.0, 4_000.0])
    t = sure.towns.set_index("town_code")
    assert np.isfinite(t.loc[[TOWN_A, TOWN_B], "access_meets_target_share"]).all()
    assert np.isfinite(sure.villages["access_meets_target_share"]).all()
    st.warnings = {**st.warnings, "population_total_far_from_census": 1}
    doubted = _run(st, [10.0, 4_000.0])
    t = doubted.towns.set_index("town_code")
    assert t.loc[[TOWN_A, TOWN_B, "441900"], "supply_status"].tolist() == ["unknown"] * 3
    # FGT0 (people below the standard) was withheld; its complement, the share meeting it, must be too
    assert t["below_standard_headcount"].isna().all()
    assert t["access_meets_target_share"].isna().all()
    assert doubted.villages["access_meets_target_share"].isna().all()
    assert doubted.summary["supply"]["access"]["population_share_meeting_target"] is None
    np.testing.assert_allclose(t["access_supply"], sure.towns.set_index("town_code")["access_supply"])  # stays


def test_access_meets_target_share_is_withheld_when_no_capacity_is_known():
    res = _run(_city(), [np.nan, np.nan])
    assert res.towns["access_meets_target_share"].isna().all()  # was 0.0: "nobody meets it" on no known bed


# ------------------------------------------------------------------ the Python API with GeoDataFrames


def _frame(xs, ys, crs=4326):
    return gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=gpd.points_from_xy(xs, ys), crs=crs)


def test_a_frame_of_facilities_with_lon_lat_swapped_is_refused_not_dropped_to_nothing():
    bounds = (24.93, 60.16, 24.96, 60.18)
    with pytest.raises(
        DataMismatchError,
        match=r"none of its 2 facilities lies in the study area.*with x and y swapped.*longitude first",
    ):
        facilities_from_frame(_frame([60.17, 60.171], [24.94, 24.945]), bounds=bounds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one = facilities_from_frame(_frame([24.94, 60.171], [60.17, 24.945]), bounds=bounds)
    assert len(one) == 1 and any("1 facilities outside the study area dropped" in str(w.message) for w in caught)


def test_load_facilities_with_a_circle_id_instead_of_a_circle_says_so():
    from dgcoverage.pipeline.facilities import load_facilities

    with pytest.raises(ConfigError, match=r"circle must be a Circle, got str 'fitness_15'.*load_config"):
        load_facilities(_city(), "fitness_15", _frame([0.0, 0.001], [0.0, 0.001]))


@pytest.mark.parametrize("value", ["", " , "])
def test_an_empty_speeds_value_is_refused_not_taken_for_no_option(capsys, value, tmp_path):
    with pytest.raises(SystemExit) as exc:  # argparse: exit 2 with the usage
        main(["run", "--circle", "elderly_care_15", "--speeds", value, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "argument --speeds: no speed in" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ [settings] elderly tables checked like the raster


def _towns():
    import pandas as pd

    return pd.DataFrame(
        {"town_code": ["A", "B", "441900"], "population": [1000.0, 5000.0, 6000.0], "elderly": [1200.0, 500.0, 1700.0]}
    )


def test_settings_with_more_older_people_than_people_are_refused():
    from dgcoverage.pipeline.supply import _settings_elderly_plausible

    with pytest.raises(DataMismatchError, match=r"elderly_population: more people aged 60\+ .*'A' = 1,200 > 1,000"):
        _settings_elderly_plausible(_towns(), None, "settings_town_counts", "441900", {})


def test_settings_shares_beyond_1_to_40_percent_are_counted_and_withhold_the_verdicts():
    from dgcoverage.errors import DgCoverageWarning
    from dgcoverage.pipeline.doubt import doubted_figures
    from dgcoverage.pipeline.supply import _settings_elderly_plausible

    warn: dict[str, int] = {}
    with pytest.warns(DgCoverageWarning, match=r"under 1 % or over 40 % .* 1 town\(s\) \(A 90.0%\)"):
        _settings_elderly_plausible(_towns(), {"A": 0.9, "B": 0.15}, "settings_town_shares", "441900", warn)
    assert warn == {"elderly_share_settings_implausible": 1}
    doubts = doubted_figures({}, warn, elderly_raster=False, population_from_raster=False)
    assert list(doubts) == ["elderly_share_settings_implausible"]
    fine: dict[str, int] = {}
    _settings_elderly_plausible(_towns().assign(elderly=[150.0, 500.0, 650.0]), None, "settings_town_counts", "441900",
                                fine)  # fmt: skip
    _settings_elderly_plausible(_towns(), 0.15, "settings_share", "441900", fine)
    assert fine == {}
