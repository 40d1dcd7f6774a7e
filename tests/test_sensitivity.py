"""Speed sensitivity: robust / fragile / not covered villages, one search for every speed, equal to full runs."""

from __future__ import annotations

import numpy as np
import pytest

from dgcoverage.compute.sensitivity import covered_by_speed, speed_classes, times_from_metres
from dgcoverage.errors import ConfigError
from dgcoverage.inputs.config import load_config
from dgcoverage.pipeline.run import run_circle
from dgcoverage.pipeline.sensitivity import check_speeds, speed_sensitivity
from tests._tiny import facilities_at, make_study

SPEEDS = (2.9, 3.6, 4.3)


def _line():
    """A street along y = 0 (nodes every 100 m to 1,200 m), homes 20 m off it, a facility at x = 0.

    Village 1: homes at x = 0..400 (trips of 20..420 m); village 2: x = 700, 800 (720 and 820 m); village 3:
    x = 1,100 and 1,200 (1,120 and 1,220 m).  In 15 minutes one walks 725 m at 2.9 km/h, 900 m at 3.6 and
    1,075 m at 4.3.
    """
    nodes = [(100.0 * i, 0.0) for i in range(13)]
    edges = [(i, i + 1) for i in range(12)]
    xs = [0, 1, 2, 3, 4, 7, 8, 11, 12]
    cells = [(100.0 * i, 20.0) for i in xs]
    boxes = [(-50, -50, 450, 100), (650, -50, 850, 100), (1050, -50, 1250, 100)]
    return make_study(nodes, edges, cells, [100.0] * len(cells), boxes)


def test_classes_by_hand():
    study = _line()
    circle = load_config()[0]["elderly_care_15"]  # 15 min, walked at 3.6 km/h (legs too), 90 % to pass
    sens = speed_sensitivity(study, circle, facilities_at([(0.0, 0.0)]), [4.3, 2.9, 3.6])
    v = sens.villages
    assert sens.speeds_kmh == SPEEDS
    assert v["speed_class"].tolist() == ["robust", "fragile", "not_covered"]
    assert v["covered_share_2.9kmh"].tolist() == [1.0, 0.5, 0.0]  # 820 m > 725 m at 2.9 km/h
    assert v["covered_share_3.6kmh"].tolist() == [1.0, 1.0, 0.0]
    assert v["covered_share_4.3kmh"].tolist() == [1.0, 1.0, 0.0]  # 1,120 m > 1,075 m
    assert v["speed_class_zh"].tolist() == ["稳健达标", "脆弱达标", "未达标"]
    town = sens.towns.set_index("town_code").loc["441900003"]
    assert (town["villages_robust"], town["villages_fragile"], town["villages_not_covered"]) == (1, 1, 1)
    assert town["covered_share_2.9kmh"] == pytest.approx(600 / 900)
    city = sens.towns.iloc[-1]
    assert city["villages_covered_3.6kmh"] == 2 and city["villages"] == 3
    assert sens.summary["searches"] == 1 and sens.summary["villages_by_class"]["fragile"] == 1


def test_one_search_equals_a_full_run_at_each_speed():
    study = _line()
    circle = load_config()[0]["elderly_care_15"]
    fac = facilities_at([(0.0, 0.0), (1250.0, 0.0)])
    sens = speed_sensitivity(study, circle, fac, SPEEDS)
    for s in SPEEDS:
        full = run_circle(study, circle.with_overrides(speed_kmh=s, access_speed_kmh=s), fac, supply=False)
        np.testing.assert_allclose(
            sens.villages[f"covered_share_{s:g}kmh"].to_numpy(), full.villages["covered_share"].to_numpy()
        )
        assert (sens.villages[f"covered_{s:g}kmh"] == (full.villages["status"] == "covered")).all()


def test_bicycle_circle_searches_each_speed_with_walked_legs():
    study = _line()
    circle = load_config()[0]["legal_aid_30"]  # cycled at 12 km/h, legs walked
    assert circle.access_speed_kmh != circle.speed_kmh
    fac = facilities_at([(0.0, 0.0)])
    sens = speed_sensitivity(study, circle, fac, [8.0, 12.0])
    assert sens.summary["searches"] == 2
    full = run_circle(study, circle.with_overrides(speed_kmh=8.0), fac, supply=False)
    np.testing.assert_allclose(sens.villages["covered_share_8kmh"].to_numpy(), full.villages["covered_share"])


def test_numbers_only_parts_and_refusals():
    t = times_from_metres([900.0, np.inf], [1.0, 2.0])
    assert t.tolist() == [[900.0, 450.0], [np.inf, np.inf]]
    pop, cov = covered_by_speed([0, 0, 1, -1], [10.0, 10.0, 5.0, 99.0], t[[0, 1, 0, 0]], 450.0, 2)
    assert pop.tolist() == [20.0, 5.0] and cov.tolist() == [[0.0, 10.0], [0.0, 5.0]]
    share, passes, cls = speed_classes(np.append(pop, 0.0), np.vstack([cov, [0.0, 0.0]]), 0.9, [True, True, True])
    assert cls.tolist() == ["not_covered", "fragile", "no_data"]
    assert np.isnan(share[2]).all() and not passes[2].any()
    with pytest.raises(ConfigError, match="between"):
        check_speeds([0.0, 3.6])
    with pytest.raises(ConfigError, match="numbers"):
        check_speeds(["fast"])


def test_run_with_speeds_writes_the_tables_and_summary(tmp_path):
    import json

    import pandas as pd

    from dgcoverage.outputs.tables import write_circle

    study = _line()
    circle = load_config()[0]["elderly_care_15"]
    res = run_circle(study, circle, facilities_at([(0.0, 0.0)]), supply=False, speeds=[2.9, 3.6, 4.3])
    d = write_circle(res, tmp_path)
    v = pd.read_csv(d / "sensitivity.csv", encoding="utf-8-sig", dtype=str)
    assert list(v.columns[5:8]) == [
        "covered_share_2.9kmh 覆盖率(2.9km/h)",
        "covered_share_3.6kmh 覆盖率(3.6km/h)",
        "covered_share_4.3kmh 覆盖率(4.3km/h)",
    ]
    assert v["speed_class 速度稳健性"].tolist() == ["robust", "fragile", "not_covered"]
    assert v["covered_share_2.9kmh 覆盖率(2.9km/h)"].tolist() == ["1.000000", "0.500000", "0.000000"]
    t = pd.read_csv(d / "sensitivity_towns.csv", encoding="utf-8-sig", dtype=str)
    assert t["villages_fragile 脆弱达标村(社区)数"].tolist() == ["1", "1"]  # the town and the city
    assert t["covered_share_2.9kmh 覆盖率(2.9km/h)"].tolist() == ["0.666666", "0.666666"]  # 600 / 900, cut
    s = json.loads((d / "summary.json").read_text(encoding="utf-8"))["results"]["speed_sensitivity"]
    assert s["villages_by_class"] == {"robust": 1, "fragile": 1, "not_covered": 1, "no_data": 0}
    assert s["speeds_kmh"] == [2.9, 3.6, 4.3] and "seconds" not in s
    # the circle's own speeds = [...] in circles.toml do the same
    res2 = run_circle(study, circle.with_overrides(speeds=(2.9, 4.3)), facilities_at([(0.0, 0.0)]), supply=False)
    assert res2.sensitivity.speeds_kmh == (2.9, 4.3)
