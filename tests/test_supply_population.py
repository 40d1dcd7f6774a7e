"""Population basis of the supply ratios (raster or 2020 census) and the elderly source said in every output."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from dgcoverage.compute import supply
from dgcoverage.errors import ConfigError
from dgcoverage.inputs.config import Settings, load_config
from dgcoverage.outputs.tables import write_circle
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at
from .test_supply_pipeline import FAC_XY, TOWN_A, TOWN_B, _circles, _towns, _two_towns

# 2020 census (embedded town_population_2020.csv): 东城街道 597,192; 莞城街道 173,957
CENSUS_A, CENSUS_B = 597_192, 173_957


def _fac(col: str, values: list[float]):
    fac = facilities_at(FAC_XY)  # F0 in town A; F1, F2 in town B
    fac[col] = values
    return fac


def test_census_basis_ratios_by_hand_and_recorded(tmp_path):
    fit = _circles()["fitness_15"]
    fac = _fac("area_m2", [2000.0, 1000.0, 5000.0])
    ref = run_circle(_two_towns(), fit, fac)
    res = run_circle(_two_towns(Settings(supply_population="census")), fit, fac)
    t = _towns(res)
    # supply A 2,000 m², B 6,000 m²; measured against the census, not the raster's 1,000 / 3,000 people
    np.testing.assert_allclose(t["supply_population"], [CENSUS_A, CENSUS_B, CENSUS_A + CENSUS_B])
    np.testing.assert_allclose(t["population"], [1000, 3000, 4000])  # the time circle's people are unchanged
    np.testing.assert_allclose(t["supply_ratio"], [2000 / 597_192, 6000 / 173_957, 8000 / 771_149], rtol=1e-12)
    np.testing.assert_allclose(t["required_supply"], [1_911_014.4, 556_662.4, 2_467_676.8], rtol=1e-12)
    np.testing.assert_allclose(t["deficit"], [1_909_014.4, 550_662.4, 2_459_676.8], rtol=1e-12)
    assert (t["population_basis"] == "census 2020").all()
    assert (_towns(ref)["population_basis"] == "raster").all()
    np.testing.assert_allclose(_towns(ref)["supply_population"], [1000, 3000, 4000])
    sup = res.summary.supply
    assert sup["population_basis"] == "census" and "2020 census" in sup["population_base"]
    assert sup["city"]["population"] == 771_149 and sup["city"]["deficit"] == 2_459_676.8
    assert ref.summary.supply["population_basis"] == "raster"
    # 2SFCA spreads demand as the raster does: the same scores on either basis
    np.testing.assert_array_equal(res.cell_access_supply, ref.cell_access_supply)
    d = write_circle(res, tmp_path)
    towns_csv = pd.read_csv(d / "towns.csv", encoding="utf-8-sig", dtype=str)
    towns_csv.columns = [c.split()[0] for c in towns_csv.columns]
    assert towns_csv["population_basis"].tolist() == ["census 2020"] * 3


def test_census_basis_elderly_share_by_hand():
    eld = _circles()["elderly_care_15"]
    res = run_circle(_two_towns(Settings(supply_population="census", elderly_share=0.1)), eld, _fac("beds", [5, 8, 10]))
    t = _towns(res)
    np.testing.assert_allclose(t["elderly"], [59_719.2, 17_395.7, 77_114.9], rtol=1e-12)
    np.testing.assert_allclose(t["supply_ratio"], [5 / 59.7192, 18 / 17.3957, 23 / 77.1149], rtol=1e-12)
    np.testing.assert_allclose(t["deficit"], [35 * 59.7192 - 5, 35 * 17.3957 - 18, 35 * 77.1149 - 23], rtol=1e-12)


def test_town_without_a_census_row_is_no_data_counted_and_said():
    st = _two_towns(Settings(supply_population="census"))
    st.villages.loc[1, "town_code"] = "441900402"  # 东莞港: the census counts its residents in other towns
    st.towns["town_code"] = [TOWN_A, "441900402"]
    with pytest.warns(UserWarning, match=r"1 town\(s\) with people have no 2020 census figure"):
        res = run_circle(st, _circles()["fitness_15"], _fac("area_m2", [2000.0, 1000.0, 5000.0]))
    t = _towns(res)
    assert t.loc["441900402", "supply_status"] == "no_data" and np.isnan(t.loc["441900402", "supply_ratio"])
    assert t.loc["441900", "supply_population"] == CENSUS_A  # the city row sums the towns with a figure
    assert res.summary.warnings["supply_towns_without_census"] == 1


def test_every_output_says_which_elderly_figure_was_used(tmp_path):
    eld = _circles()["elderly_care_15"]
    fac = _fac("beds", [5, 8, 10])
    res = run_circle(_two_towns(), eld, fac)
    t = _towns(res)
    assert (t["elderly_basis"] == "default_share").all()
    assert (t["elderly_source"] == supply.ELDERLY_SHARE_SOURCE).all() and "5.47%" in supply.ELDERLY_SHARE_SOURCE
    np.testing.assert_allclose(res.villages["elderly_share"], [0.0547, 0.0547])
    d = write_circle(res, tmp_path)
    towns_csv = pd.read_csv(d / "towns.csv", encoding="utf-8-sig", dtype=str)
    towns_csv.columns = [c.split()[0] for c in towns_csv.columns]
    assert towns_csv["elderly_source"].str.contains("ASSUMPTION").all()
    # a share from the settings: the share and where it comes from (or that nobody said)
    res = run_circle(_two_towns(Settings(elderly_share=0.25, elderly_source="某统计年鉴 2021")), eld, fac)
    src = res.summary.supply["elderly"]["source"]
    assert "0.25" in src and "source: 某统计年鉴 2021" in src
    assert (_towns(res)["elderly_source"] == src).all()
    np.testing.assert_allclose(res.villages["elderly_share"], [0.25, 0.25])
    res = run_circle(_two_towns(Settings(elderly_population={TOWN_A: 150.0, TOWN_B: 450.0})), eld, fac)
    assert "not given" in res.summary.supply["elderly"]["source"]
    np.testing.assert_allclose(res.villages["elderly_share"], [0.15, 0.15])


def test_settings_keys_typed_and_checked(tmp_path):
    base = '[circles.x]\nname_zh = "测试"\nname_en = "t"\nmode = "walk"\nspeed_kmh = 4.0\nminutes = 10\n'
    p = tmp_path / "c.toml"
    p.write_text(base + '[settings]\nsupply_population = "census"\nelderly_share = 0.06\nelderly_source = "X"\n')
    _, s = load_config(p)
    assert (s.supply_population, s.elderly_share, s.elderly_source) == ("census", 0.06, "X")
    assert load_config()[1].supply_population == "raster"
    for body, match in (
        ('supply_population = "cencus"\n', r"supply_population must be one of \['raster', 'census'\]"),
        ("supply_population = 1\n", "must be a string"),
        ('elderly_source = "X"\n', "elderly_source says where"),
    ):
        p.write_text(base + "[settings]\n" + body)
        with pytest.raises(ConfigError, match=match):
            load_config(p)


def test_elderly_share_source_note_is_packaged_and_honest():
    note = (resources.files("dgcoverage") / "data" / "dongguan" / "ELDERLY_SHARE_SOURCE.md").read_text("utf-8")
    assert "ASSUMPTION" in note and "5.47 %" in note and "2.85 %" in note  # the figure and the one that disagrees
    assert "ELDERLY_SHARE_SOURCE.md" in supply.ELDERLY_SHARE_SOURCE
    assert supply.ELDERLY_SHARE_DEFAULT == 0.0547
