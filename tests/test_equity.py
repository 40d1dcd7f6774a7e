"""Equity of access: Gini, Theil T, Palma and FGT access poverty, by hand and against PySAL ``inequality``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dgcoverage.compute.equity import (
    capped_times,
    equity_by_group,
    equity_figures,
    fgt,
    fgt_below,
    gini,
    lorenz,
    palma,
    score_figures,
    theil_t,
)

# two towns: A has people at 10 and 30 minutes (one each), B at 5 minutes (weights 1, 2, 1); the line is 20
X = np.array([10.0, 30.0, 5.0, 5.0, 5.0])
W = np.array([1.0, 1.0, 1.0, 2.0, 1.0])
TOWN = np.array([0, 0, 1, 1, 1])


def test_two_towns_by_hand():
    fig = equity_by_group(TOWN, 2, X, W, 20.0)
    # A: |10-30| over both ordered pairs = 40; / (2 * 2^2 * mean 20) = 0.25
    assert fig["gini"][0] == pytest.approx(0.25, abs=1e-12)
    assert fig["theil_t"][0] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), abs=1e-12)
    # Lorenz of A: 0.8 people at 10 min -> 8/40 = 0.2; 1.8 people -> (10 + 0.8*30)/40 = 0.85; (1-0.85)/0.2
    assert fig["palma"][0] == pytest.approx(0.75, abs=1e-12)
    # one of two people beyond 20 min, by (30-20)/20 = 0.5 of the line
    assert (fig["fgt0"][0], fig["fgt1"][0], fig["fgt2"][0]) == pytest.approx((0.5, 0.25, 0.125), abs=1e-12)
    # B: everybody at 5 minutes: no inequality, nobody beyond the line; Palma = 0.1 / 0.4
    assert fig["gini"][1] == 0.0 and fig["theil_t"][1] == 0.0
    assert fig["palma"][1] == pytest.approx(0.25, abs=1e-12)
    assert (fig["fgt0"][1], fig["fgt1"][1], fig["fgt2"][1]) == (0.0, 0.0, 0.0)
    city = equity_figures(X, W, 20.0)
    # people at 5,5,5,5,10,30: sum |xi-xj| = 2*(4*5 + 4*25 + 20) = 280; / (2 * 36 * 10) = 7/18
    assert city["gini"] == pytest.approx(7 / 18, abs=1e-12)
    assert city["theil_t"] == pytest.approx((2 * math.log(0.5) + 3 * math.log(3.0)) / 6, abs=1e-12)
    # L(0.4) = 2.4*5/60 = 0.2; L(0.9) = (20 + 10 + 0.4*30)/60 = 0.7
    assert city["palma"] == pytest.approx(1.5, abs=1e-12)
    assert (city["fgt0"], city["fgt1"], city["fgt2"]) == pytest.approx((1 / 6, 1 / 12, 1 / 24), abs=1e-12)


def test_edge_cases_and_cap():
    assert capped_times([1.0, np.inf, 5000.0, np.nan], 3600.0).tolist() == [1.0, 3600.0, 3600.0, 3600.0]
    assert math.isnan(gini([1.0, 2.0], [0.0, 0.0]))
    assert math.isnan(theil_t([0.0, 0.0], [1.0, 1.0]))
    assert math.isnan(palma([0.0, 0.0, 10.0], [1.0, 1.0, 1.0]))  # the quickest 40 % have no minutes at all
    assert fgt([20.0], [1.0], 20.0, 0) == 0.0  # exactly at the limit is within it
    assert gini([3.0, 7.0, 100.0], [2.0, 1.0, 0.0]) == gini([3.0, 7.0], [2.0, 1.0])  # zero weight drops out
    with pytest.raises(ValueError, match="cap the times"):
        gini([1.0, np.inf], [1.0, 1.0])
    np.testing.assert_allclose(lorenz(X, W, [0.0, 1.0]), [0.0, 1.0])


def test_matches_pysal_inequality_on_repeated_values():
    ineq = pytest.importorskip("inequality")
    rng = np.random.default_rng(21)
    for _ in range(5):
        x = np.round(rng.uniform(0.0, 60.0, 40), 3)
        x[rng.integers(0, 40, 3)] = 60.0  # a few at the cap
        x[0] = 0.0  # a cell at a facility's door
        w = rng.integers(1, 9, 40).astype(float)
        rep = np.repeat(x, w.astype(int))
        assert gini(x, w) == pytest.approx(ineq.gini.Gini(rep).g, abs=1e-9)
        assert theil_t(x, w) == pytest.approx(float(ineq.theil.Theil(rep).T), abs=1e-9)
        # Palma and FGT on the repeated values, counted person by person
        n = rep.size
        srt = np.sort(rep)
        if n % 10 == 0:
            assert palma(x, w) == pytest.approx(srt[n * 9 // 10 :].sum() / srt[: n * 4 // 10].sum(), abs=1e-9)
        assert fgt(x, w, 15.0, 2) == pytest.approx(np.mean(np.where(rep > 15, (rep - 15) / 15, 0.0) ** 2), abs=1e-9)


def test_palma_on_expanded_values_when_boundaries_fall_between_people():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    w = np.full(10, 3.0)
    rep = np.sort(np.repeat(x, 3))
    assert palma(x, w) == pytest.approx(rep[27:].sum() / rep[:12].sum(), abs=1e-12)


def test_run_circle_writes_town_and_city_equity():
    """Two road islands: the west (five cells, 20-420 s from a facility) and the east (unreachable: the cap)."""
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle
    from tests._tiny import facilities_at, two_islands

    circles, _ = load_config()
    circle = circles["elderly_care_15"]  # 3.6 km/h = 1 m/s on the network and the legs; 15 min
    res = run_circle(two_islands(), circle, facilities_at([(0.0, 0.0)]), supply=False)
    eq = res.summary.results["equity"]
    assert eq["cap_minutes"] == 60.0 and eq["poverty_line_minutes"] == 15
    town = res.towns.set_index("town_code").loc["441900003"]
    # half the people unreachable = the 60-minute cap: (60 - 15) / 15 = 3 over the line
    assert (town["poverty_headcount"], town["poverty_gap"], town["poverty_severity"]) == pytest.approx((0.5, 1.5, 4.5))
    # times about 20, 120, 220, 320, 420 s and 5 x 3600 s: ordered pair differences 2*(2000 + 84500) over
    # 2 * 10^2 * 1910 (the network metres are haversine lengths, within 0.1 % of the grid's 100 m)
    assert town["time_gini"] == pytest.approx(173000 / 382000, rel=1e-3)
    assert eq["city"]["time_gini"] == pytest.approx(round(town["time_gini"], 6))
    assert eq["city"]["poverty_headcount"] == 0.5
    assert "city_elderly" not in eq  # no elderly share or raster given


def test_older_people_weighted_by_their_towns_share():
    """West and east islands as two towns; 50 % aged 60+ in the west, 10 % in the east (settings shares)."""
    import dataclasses

    import geopandas as gpd
    import pandas as pd

    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle
    from tests._tiny import facilities_at, two_islands

    study = two_islands()
    study.villages.loc[1, ["town_code", "town_name"]] = ["441900005", "乙镇"]
    extra = gpd.GeoDataFrame(
        {"town_code": ["441900005"], "town_name": ["乙镇"], "has_polygon": [True]},
        geometry=[study.villages.geometry.iloc[1]],
        crs=4326,
    )
    study.towns = gpd.GeoDataFrame(pd.concat([study.towns, extra], ignore_index=True), crs=4326)
    study.settings = dataclasses.replace(study.settings, elderly_share={"441900003": 0.5, "441900005": 0.1})
    circles, _ = load_config()
    res = run_circle(study, circles["elderly_care_15"], facilities_at([(0.0, 0.0)]), supply=False)
    t = res.towns.set_index("town_code")
    assert t.loc["441900003", "poverty_headcount"] == 0.0 and t.loc["441900005", "poverty_headcount"] == 1.0
    assert t.loc["441900005", "time_gini"] == 0.0  # everybody in the east at the cap
    eq = res.summary.results["equity"]
    assert eq["city"]["poverty_headcount"] == 0.5
    # older people: 5 x 50 in the west, 5 x 10 in the east at the cap: 50 / 300 beyond the line, 3 over it
    assert eq["city_elderly"]["poverty_headcount"] == pytest.approx(round(1 / 6, 6))
    assert eq["city_elderly"]["poverty_gap"] == pytest.approx(0.5)
    assert "elderly_share per town" in eq["elderly_weights"]


def _two_towns_study(west_share: float | None = None, east_share: float | None = None):
    """:func:`tests._tiny.two_islands` with the east island as a second town (乙镇)."""
    import dataclasses

    import geopandas as gpd
    import pandas as pd

    from tests._tiny import two_islands

    study = two_islands()
    study.villages.loc[1, ["town_code", "town_name"]] = ["441900005", "乙镇"]
    extra = gpd.GeoDataFrame(
        {"town_code": ["441900005"], "town_name": ["乙镇"], "has_polygon": [True]},
        geometry=[study.villages.geometry.iloc[1]],
        crs=4326,
    )
    study.towns = gpd.GeoDataFrame(pd.concat([study.towns, extra], ignore_index=True), crs=4326)
    if west_share is not None:
        shares = {"441900003": west_share, "441900005": east_share}
        study.settings = dataclasses.replace(study.settings, elderly_share=shares)
    return study


def test_score_figures_two_towns_by_hand():
    """2SFCA scores: town A 1 and 3 (one person each), town B 5 (weights 1, 2, 1); the standard is 2."""
    s = np.array([1.0, 3.0, 5.0, 5.0, 5.0])
    fig = equity_by_group(TOWN, 2, s, W, 2.0, below=True)
    # A: the same shape as the times 10 and 30 (every figure is scale-free)
    assert fig["gini"][0] == pytest.approx(0.25, abs=1e-12)
    assert fig["theil_t"][0] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), abs=1e-12)
    assert fig["palma"][0] == pytest.approx(0.75, abs=1e-12)
    # one of two short of the standard 2, by (2 - 1) / 2 = 0.5 of it; 3 is above it
    assert (fig["fgt0"][0], fig["fgt1"][0], fig["fgt2"][0]) == pytest.approx((0.5, 0.25, 0.125), abs=1e-12)
    assert (fig["fgt0"][1], fig["fgt1"][1], fig["fgt2"][1]) == (0.0, 0.0, 0.0)
    city = score_figures(s, W, 2.0)
    # people at 1, 3, 5, 5, 5, 5: sum |xi-xj| = 2*(2 + 4*4 + 4*2) = 52; / (2 * 36 * 4) = 13/72
    assert city["gini"] == pytest.approx(13 / 72, abs=1e-12)
    # L(0.4) = (1 + 3 + 0.4*5)/24 = 0.25; L(0.9) = (1 + 3 + 3.4*5)/24 = 0.875: 0.125 / 0.25
    assert city["palma"] == pytest.approx(0.5, abs=1e-12)
    assert (city["fgt0"], city["fgt1"], city["fgt2"]) == pytest.approx((1 / 6, 1 / 12, 1 / 24), abs=1e-12)
    assert fgt_below([2.0], [1.0], 2.0, 0) == 0.0  # exactly at the standard meets it
    assert fgt_below([0.0, 4.0], [1.0, 1.0], 2.0, 2) == 0.5  # nobody's supply: the whole standard short


def test_score_figures_match_pysal_inequality():
    ineq = pytest.importorskip("inequality")
    rng = np.random.default_rng(2121)
    for _ in range(5):
        x = np.round(rng.gamma(2.0, 1.5, 50), 4)
        x[rng.integers(0, 50, 4)] = 0.0  # cells no facility reaches: no supply
        w = rng.integers(1, 7, 50).astype(float)
        rep = np.repeat(x, w.astype(int))
        fig = score_figures(x, w, 3.2)
        assert fig["gini"] == pytest.approx(ineq.gini.Gini(rep).g, abs=1e-9)
        assert fig["theil_t"] == pytest.approx(float(ineq.theil.Theil(rep).T), abs=1e-9)
        for a in (0, 1, 2):
            by_person = np.mean(np.where(rep < 3.2, (3.2 - rep) / 3.2, 0.0) ** a * (rep < 3.2))
            assert fig[f"fgt{a}"] == pytest.approx(by_person, abs=1e-9)


def test_run_circle_writes_2sfca_equity_per_town():
    """Fitness (3.2 m² per resident): 4,000 m² in the west reaches its 500 people (8 m² each), none in the east."""
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle
    from tests._tiny import facilities_at

    circles, _ = load_config()
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity_m2"] = [4000.0]
    res = run_circle(_two_towns_study(), circles["fitness_15"], fac)
    t = res.towns.set_index("town_code")
    west, east = t.loc["441900003"], t.loc["441900005"]
    assert west["access_supply"] == pytest.approx(8.0)
    assert (west["access_supply_gini"], west["below_standard_headcount"], west["below_standard_gap"]) == (0, 0, 0)
    assert west["access_supply_palma"] == pytest.approx(0.25)  # everybody alike: 10 % / 40 %
    # nobody in the east has any supply: the whole standard short; Gini undefined (no supply at all)
    assert (east["below_standard_headcount"], east["below_standard_gap"], east["below_standard_severity"]) == (1, 1, 1)
    assert math.isnan(east["access_supply_gini"])
    city = t.loc["441900"]
    assert city["access_supply_gini"] == pytest.approx(0.5)  # half at 8, half at 0
    assert city["access_supply_theil_t"] == pytest.approx(math.log(2.0))
    assert math.isnan(city["access_supply_palma"])  # the worst-served 40 % have no supply at all
    assert (city["below_standard_headcount"], city["below_standard_gap"]) == (0.5, 0.5)
    eq = res.summary.results["equity"]["access_supply"]
    assert eq["standard"] == 3.2 and eq["weights"] == "people"
    assert eq["city"]["access_supply_gini"] == 0.5 and eq["city"]["below_standard_severity"] == 0.5
    assert (
        "access_supply"
        not in run_circle(_two_towns_study(), circles["fitness_15"], fac, supply=False).summary["results"]["equity"]
    )


def test_older_people_per_town_from_the_elderly_raster_cell_by_cell():
    """West: older people only in the nearest and the farthest cell (100 each); east: 10 per cell, at the cap."""
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle
    from tests._tiny import facilities_at

    study = _two_towns_study(0.5, 0.1)  # the settings' shares give way to the raster's cells
    study.cell_elderly = np.array([100.0, 0.0, 0.0, 0.0, 100.0] + [10.0] * 5)
    circles, _ = load_config()
    res = run_circle(study, circles["elderly_care_15"], facilities_at([(0.0, 0.0)]), supply=False)
    t = res.towns.set_index("town_code")
    west, east, city = t.loc["441900003"], t.loc["441900005"], t.loc["441900"]
    # about 20 s and 420 s, 100 people each: |420 - 20| / (2 * (20 + 420)) = 5/11
    assert west["elderly_time_gini"] == pytest.approx(5 / 11, rel=1e-3)
    # all people, 20..420 s one each: ordered pairs 2 * 100 * (4*1 + 3*2 + 2*3 + 1*4) = 4000 over 2 * 5^2 * 220
    assert west["time_gini"] == pytest.approx(4 / 11, rel=1e-3)
    assert west["elderly_poverty_headcount"] == 0.0
    assert (east["elderly_time_gini"], east["elderly_poverty_headcount"], east["elderly_poverty_gap"]) == (0, 1, 3)
    assert city["elderly_poverty_headcount"] == pytest.approx(50 / 250)
    eq = res.summary.results["equity"]
    assert eq["city_elderly"]["poverty_headcount"] == pytest.approx(0.2)
    assert "cell by cell" in eq["elderly_weights"] and "own" in eq["elderly_towns"]


def test_town_shares_give_each_town_its_all_people_figures():
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.run import run_circle
    from tests._tiny import facilities_at

    circles, _ = load_config()
    res = run_circle(_two_towns_study(0.5, 0.1), circles["elderly_care_15"], facilities_at([(0.0, 0.0)]), supply=False)
    t = res.towns.set_index("town_code").drop(index="441900")
    for k in ("time_gini", "time_palma", "poverty_headcount", "poverty_gap"):
        np.testing.assert_allclose(t[f"elderly_{k}"], t[k], rtol=1e-12)  # one share per town: scale-free figures
    assert res.towns.set_index("town_code").loc["441900", "elderly_poverty_headcount"] == pytest.approx(1 / 6)


def test_elderly_raster_goes_to_the_cells(small_city, tmp_path):
    import rasterio

    from dgcoverage.pipeline.load import load_study

    with rasterio.open(small_city / "population_100m.tif") as src:
        prof, data = src.profile, src.read(1).astype("float32")
    with rasterio.open(tmp_path / "old.tif", "w", **{**prof, "dtype": "float32"}) as dst:
        dst.write(np.where(data > 0, data * 0.1, data).astype("float32"), 1)
    study = load_study(data_dir=small_city, elderly=tmp_path / "old.tif")
    np.testing.assert_allclose(study.cell_elderly, 0.1 * study.cell_pop, rtol=1e-5)
    assert load_study(data_dir=small_city).cell_elderly is None
