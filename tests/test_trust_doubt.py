"""Issue 19, class 4: no verdict on a doubted figure.

A counted warning saying a figure is probably wrong (elderly raster share, capacity median, population far from
the census) turns the ``pass``/``fail`` resting on it into ``unknown`` with the reason (towns.csv
``supply_status``/``supply_reason``, summary.json ``supply.doubted``).  On the tiny city of
``test_candidates_supply`` (A: 1,500 residents, B: 3,200; target 3.2 m² each): facilities of 10 m² (A) and
1,000,000 m² (B) give A ``fail`` (short 4,790) and B ``pass`` -- but their median, 500,005 m², is no facility's.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from dgcoverage.pipeline.doubt import DOUBTED_ZH, doubted_figures, withhold_verdicts
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at
from .test_candidates_supply import TOWN_A, TOWN_B, _circle, _city


def _run(st, caps):
    fac = facilities_at([(0.0, 0.0), (1500.0, 0.0)])
    fac["capacity"] = caps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_circle(st, _circle(), fac)


def test_a_doubted_capacity_median_withholds_the_verdicts():
    st = _city()
    sure = _run(st, [10.0, 4_000.0]).towns.set_index("town_code")  # median 2,005: no doubt
    assert sure.loc[[TOWN_A, TOWN_B], "supply_status"].tolist() == ["fail", "fail"]
    res = _run(st, [10.0, 1_000_000.0])
    t = res.towns.set_index("town_code")
    np.testing.assert_allclose(t.loc[[TOWN_A, TOWN_B], "deficit"], [4790.0, 0.0])  # the figures stay
    assert t.loc[[TOWN_A, TOWN_B, "441900"], "supply_status"].tolist() == ["unknown"] * 3  # was fail, pass, pass
    assert t.loc[TOWN_A, "supply_status_zh"] == DOUBTED_ZH
    assert t.loc[TOWN_A, "supply_reason"].startswith("no verdict on a doubted figure: the facilities' median capacity")
    d = res.summary["supply"]["doubted"]
    assert d["verdicts_withheld"] == 3 and list(d["figures"]) == ["facilities_capacity_median_implausible"]
    assert res.summary["supply"]["city"]["status"] == "unknown"
    assert res.summary["warnings"]["facilities_capacity_median_implausible"] == 1


def test_a_population_far_from_the_census_withholds_every_verdict():
    st = _city()
    st.warnings = {**st.warnings, "population_total_far_from_census": 1}
    t = _run(st, [10.0, 4_000.0]).towns.set_index("town_code")
    assert t.loc[[TOWN_A, TOWN_B, "441900"], "supply_status"].tolist() == ["unknown"] * 3
    assert "population raster's total is far from the 2020 census" in t.loc[TOWN_B, "supply_reason"]
    # measured against the census instead, the raster's total is no longer what the verdict rests on
    assert doubted_figures(st.warnings, {}, elderly_raster=False, population_from_raster=False) == {}


def test_which_warnings_doubt_which_verdicts():
    sw = {"elderly_share_above_40pct": 2, "elderly_share_below_1pct": 0}
    assert list(doubted_figures(sw, {}, elderly_raster=True, population_from_raster=False)) == [
        "elderly_share_above_40pct"
    ]
    assert doubted_figures(sw, {}, elderly_raster=False, population_from_raster=True) == {}  # a residents' circle
    st = pd.DataFrame(
        {
            "town_code": ["a", "b", "c", "441900"],
            "facilities": [1, 0, 2, 3],
            "status": ["pass", "fail", "no_data", "fail"],
            "status_zh": ["达标", "未达标", "无数据", "未达标"],
            "reason": ["", "no capacity", "no people", ""],
        }
    )
    cap = withhold_verdicts(st, {"facilities_capacity_median_implausible": "m"}, "441900")
    assert cap["status"].tolist() == ["unknown", "fail", "no_data", "unknown"]  # b has no facility: still fails
    assert cap.attrs["verdicts_withheld"] == 2
    pop = withhold_verdicts(st, {"population_total_far_from_census": "p"}, "441900")
    assert pop["status"].tolist() == ["unknown", "unknown", "no_data", "unknown"]
    assert pop["reason"].tolist()[1] == "no verdict on a doubted figure: p (no capacity)"


@pytest.mark.parametrize("key", ["elderly_share_above_40pct", "elderly_share_below_1pct"])
def test_an_elderly_raster_doubt_reaches_the_elderly_circle(key):
    st = _city()
    st.warnings = {**st.warnings, key: 1}
    circle = dataclasses.replace(_circle(), supply_base="residents")
    d = doubted_figures(st.warnings, {}, elderly_raster=circle.supply_base == "elderly", population_from_raster=False)
    assert d == {}  # a residents' circle does not rest on the elderly raster
    assert list(doubted_figures(st.warnings, {}, elderly_raster=True, population_from_raster=False)) == [key]
