"""Coverage tables: statuses, weighted percentiles, town pass rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dgcoverage.compute.access import BEYOND_LIMIT, OFF_NETWORK, REACHED, UNREACHABLE
from dgcoverage.compute.coverage import bilingual, town_table, village_table, weighted_quantile


def test_weighted_quantile_hand_values():
    v = np.array([5.0, 1.0, 3.0, np.inf])
    w = np.array([1.0, 1.0, 1.0, 1.0])
    assert weighted_quantile(v, w, 0.5) == 3.0  # 1,3 | 5,inf: half the weight is at <= 3
    assert weighted_quantile(v, w, 0.9) == np.inf
    assert weighted_quantile(np.array([10.0, 20.0]), np.array([9.0, 1.0]), 0.9) == 10.0
    assert weighted_quantile(np.array([10.0, 20.0]), np.array([8.0, 2.0]), 0.9) == 20.0
    assert np.isnan(weighted_quantile(np.array([1.0]), np.array([0.0]), 0.5))


def _villages(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": [f"v{i}" for i in range(n)],
            "name": [f"村{i}" for i in range(n)],
            "town_code": ["t1"] * 3 + ["t2"] * (n - 3),
            "town_name": ["甲镇"] * 3 + ["乙镇"] * (n - 3),
            "type": "村委会",
        }
    )


def test_statuses_and_town_rates():
    vl = _villages(6)
    # village 0: all covered; 1: 50 % covered; 2: none within the limit; 3: unreachable island;
    # 4: no population; 5: no area at all
    cell_v = np.array([0, 0, 1, 1, 2, 3, 3])
    pop = np.array([10.0, 30.0, 20.0, 20.0, 5.0, 7.0, 3.0])
    t = np.array([60.0, 120.0, 100.0, 2000.0, 5000.0, np.inf, np.inf])
    cls = np.array([REACHED, REACHED, REACHED, BEYOND_LIMIT, BEYOND_LIMIT, UNREACHABLE, OFF_NETWORK], dtype=np.int8)
    vt = village_table(
        vl,
        cell_v,
        pop,
        t,
        cls,
        np.array([60.0, 100.0, np.inf, np.inf, np.nan, np.nan]),
        np.array([1, 0, 0, 0, 0, 0]),
        0.9,
        np.array([True] * 5 + [False]),
    )
    assert vt["status"].tolist() == ["covered", "partial", "gap", "unreachable", "no_data", "no_data"]
    assert vt["covered_share"].iloc[1] == pytest.approx(0.5)
    assert vt["population"].tolist()[:4] == [40.0, 40.0, 5.0, 10.0]
    assert vt["median_time_min"].iloc[0] == pytest.approx(2.0)  # 30 of 40 people at 120 s
    assert vt["median_time_min"].iloc[1] == pytest.approx(100 / 60)
    assert vt["unreachable_share"].iloc[3] == pytest.approx(0.7)
    assert vt["off_network_share"].iloc[3] == pytest.approx(0.3)
    assert vt["reason"].iloc[3].startswith("no facility can be reached along its streets")
    assert np.isnan(vt["centre_time_min"].iloc[2])
    towns = pd.DataFrame({"town_code": ["t1", "t2"], "town_name": ["甲镇", "乙镇"]})
    tt = town_table(vt, towns).set_index("town_code")
    assert tt.loc["t1", "pass_rate_villages"] == pytest.approx(1 / 3)
    assert tt.loc["t1", "pass_rate_population"] == pytest.approx((40 + 20) / 85)
    assert tt.loc["t2", "villages_with_data"] == 1 and tt.loc["t2", "villages_no_data"] == 2
    assert tt.loc["441900", "villages"] == 6
    assert tt.loc["441900", "pass_rate_population"] == pytest.approx(60 / 95)
    assert tt.loc["t1", "facility_in_every_village"] == "no"


def test_covered_threshold_is_inclusive():
    vl = _villages(4).iloc[:1]
    vt = village_table(
        vl,
        np.array([0, 0]),
        np.array([9.0, 1.0]),
        np.array([1.0, 1e9]),
        np.array([REACHED, BEYOND_LIMIT], dtype=np.int8),
        np.array([1.0]),
        np.array([0]),
        0.9,
        np.array([True]),
    )
    assert vt["status"].iloc[0] == "covered"


def test_bilingual_headers_keep_ids_first():
    df = bilingual(pd.DataFrame({"code": [1], "status": ["gap"], "custom": [0]}))
    assert list(df.columns) == ["code 代码", "status 状态", "custom"]
