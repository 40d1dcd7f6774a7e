"""Facilities across the region's border: read within the circle's reach and used, unless the circle is bound.

The east strip of the Helsinki test area is the region; of the three gyms one lies inside it (gym SE) and two in
the strips west of it. The people covered only thanks to those two are recomputed here by running the circle with
the inside gym alone.
"""

from __future__ import annotations

import dataclasses
import warnings

import geopandas as gpd
import numpy as np
import pytest

import dgcoverage as dg
from dgcoverage.errors import DgCoverageWarning
from dgcoverage.pipeline.crossborder import facility_bounds

from ._region_data import BOX, FACILITIES, PBF, towns_and_villages, write_population


@pytest.fixture(scope="module")
def east(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("crossborder")
    write_population(root / "population.tif", BOX)
    xs = np.linspace(BOX[0], BOX[2], 4)
    towns, villages = towns_and_villages((xs[2], BOX[1], xs[3], BOX[3]), 2, "E")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = dg.load_study(network=PBF, population=root / "population.tif", towns=towns, villages=villages)
    fac = gpd.GeoDataFrame(
        {"name": [f[0] for f in FACILITIES]},
        geometry=gpd.points_from_xy([f[1] for f in FACILITIES], [f[2] for f in FACILITIES]),
        crs=4326,
    )
    return study, fac


def _run(study, circle, fac):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.run_circle(study, circle, dg.load_facilities(study, circle, fac))


def test_legal_aid_is_bound_to_its_region_by_default():
    circles, _ = dg.load_config()
    assert {c.id: c.bound_to_region for c in circles.values()} == {
        "elderly_care_15": False,
        "fitness_15": False,
        "legal_aid_30": True,
        "culture_sports_10": False,
    }


def test_people_covered_only_by_facilities_across_the_border(east):
    study, fac = east
    circle = dg.load_config()[0]["fitness_15"]
    res = _run(study, circle, fac)
    cb = res.summary["results"]["cross_border"]
    assert cb["bound_to_region"] is False and cb["facilities_outside_region_used"] == 2  # gym NW and gym mid
    inside_only = _run(study, circle, fac[fac["name"] == "gym SE"])
    assert inside_only.summary["results"]["cross_border"]["facilities_outside_region_used"] == 0
    city = res.towns.iloc[-1]
    city_inside = inside_only.towns.iloc[-1]
    assert city["covered_population"] > city_inside["covered_population"]  # the neighbours' gyms do help
    assert cb["people_covered_only_by_outside"] == pytest.approx(
        city["covered_population"] - city_inside["covered_population"], abs=0.05
    )


def test_a_bound_circle_drops_the_facilities_outside_its_region(east):
    study, fac = east
    bound = dataclasses.replace(dg.load_config()[0]["fitness_15"], bound_to_region=True)
    with pytest.warns(DgCoverageWarning, match="2 facilities lie outside the region"):
        used = dg.load_facilities(study, bound, fac)
    assert used["name"].tolist() == ["gym SE"]
    res = dg.run_circle(study, bound, used)
    cb = res.summary["results"]["cross_border"]
    assert cb == {
        "bound_to_region": True,
        "facilities_outside_region_used": 0,
        "facilities_outside_region_dropped": 2,
        "people_covered_only_by_outside": 0.0,
    }
    assert res.summary["warnings"]["facilities_outside_region_dropped"] == 2
    inside_only = _run(study, dg.load_config()[0]["fitness_15"], fac[fac["name"] == "gym SE"])
    assert res.towns["covered_population"].tolist() == inside_only.towns["covered_population"].tolist()


def test_facilities_are_read_within_the_reach_of_an_unbound_circle(east):
    study, _ = east
    long = dataclasses.replace(dg.load_config()[0]["legal_aid_30"], bound_to_region=False)  # 30 min at 12 km/h
    w, s, e, n = facility_bounds(study, long)
    t = study.towns.total_bounds
    assert (t[1] - s) * 111_320 == pytest.approx(6000, rel=1e-6)  # 6 km beyond the towns, not the 2 km pad
    assert facility_bounds(study, dg.load_config()[0]["legal_aid_30"]) == study.bounds_wgs84
    far = gpd.GeoDataFrame({"name": ["across, 4 km south"]}, geometry=gpd.points_from_xy([24.945], [t[1] - 0.036]),
                           crs=4326)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(dg.load_facilities(study, long, far)) == 1
        assert len(dg.load_facilities(study, dg.load_config()[0]["fitness_15"], far)) == 0  # beyond 2 km / 1 km
