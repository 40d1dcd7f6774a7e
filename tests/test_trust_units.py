"""Issue 19, class 1: one unit reader for every quantity a person types (facilities, candidates, settings).

Units stand wherever people write them: in brackets, after a space, after a colon or a slash (full-width too),
on a row of their own under the header, or in the config (``capacity_unit``).  A column of hectares with no unit
(median under 50 m²) is never read as m²; a unit word we do not know is refused with the fix.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from dgcoverage.errors import ConfigError, DataMismatchError
from dgcoverage.inputs import capacity
from dgcoverage.inputs.candidates import read_candidate_file
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.tables import read_table
from dgcoverage.pipeline.facilities import read_capacity

MU = 10_000 / 15  # 1 亩 = 666.666... m²


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(r.message) for r in rec]


@pytest.mark.parametrize(
    "header, m2_of_2",
    [
        ("场地面积 公顷", 20_000.0),  # unit after a space
        ("用地面积 亩", 2 * MU),
        ("建筑面积 万平方米", 20_000.0),
        ("场地面积：公顷", 20_000.0),  # full-width colon
        ("场地面积／公顷", 20_000.0),  # full-width slash
        ("场地面积:ha", 20_000.0),
        ("Site area: ha", 20_000.0),
        ("Site area ha", 20_000.0),
        ("占地面积 km²", 2_000_000.0),
        ("建筑面积 ㎡", 2.0 * 1),
        ("建筑面积 千平方米", 2_000.0),
        ("床位数 张", 2.0),
    ],
)
def test_units_wherever_they_stand_give_exact_m2(header, m2_of_2):
    kind = "beds" if header.startswith("床") else "area_m2"
    (v, c), _ = _quiet(capacity.capacity_from_table, pd.DataFrame({header: ["2", 2.0]}), kind, "f.csv")
    assert v.tolist() == [m2_of_2, m2_of_2]
    assert c["capacity_known"] == 2


def test_candidate_file_hectares_after_a_space_close_200000_m2(tmp_path):
    # the issue: `场地面积 公顷` = 2 was read as 2 m², so ten sites "closed" 20 m² instead of 200,000 m²
    p = tmp_path / "sites.csv"
    rows = [f"候选{i},{113.70 + i / 100:.2f},23.02,2" for i in range(10)]
    p.write_text("名称,lon_wgs84,lat_wgs84,场地面积 公顷\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out, _ = _quiet(read_candidate_file, p, capacity_kind="area_m2")
    assert out["capacity"].tolist() == [20_000.0] * 10
    assert out["capacity"].sum() == 200_000.0
    assert out.attrs["capacity_column"] == "场地面积 公顷"


def test_unit_row_under_the_header_csv_and_xlsx(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("名称,经度,纬度,场地面积\n,度,度,公顷\n甲,113.75,23.02,1.2\n乙,113.76,23.03,2\n", encoding="utf-8")
    df, msgs = _quiet(read_table, p, header_names=("经度", "纬度"), what="facility")
    assert list(df.columns) == ["名称", "经度", "纬度", "场地面积 [公顷]"]
    assert df.attrs["line"].tolist() == [3, 4] and df.attrs["warnings"] == {"facility_unit_row_read": 1}
    assert any("line 2 under the header holds units only" in m for m in msgs)
    (v, _), _ = _quiet(capacity.capacity_from_table, df, "area_m2", str(p))
    assert v.tolist() == [12_000.0, 20_000.0]
    x = tmp_path / "f.xlsx"
    pd.DataFrame([["名称", "lon", "lat", "用地面积"], ["", "°", "°", "亩"], ["甲", 113.75, 23.02, 3]]).to_excel(
        x, index=False, header=False
    )
    df, _ = _quiet(read_table, x, header_names=("lon", "lat"))
    # the config's capacity_column names the header as written; the unit row still applies
    (v, _), _ = _quiet(capacity.capacity_from_table, df, "area_m2", str(x), column="用地面积")
    assert v.tolist() == [2_000.0]


def test_capacity_unit_setting_applies_and_is_checked(tmp_path):
    circles, _ = load_config()
    fit = dataclasses.replace(circles["fitness_15"], capacity_column="规模", capacity_unit="ha")
    (v, c, col), _ = _quiet(read_capacity, pd.DataFrame({"规模": ["1.4", "2"]}), fit, "f.csv")
    assert v.tolist() == [14_000.0, 20_000.0] and col == "规模"
    # a header that says m² contradicts the setting: refused, never one of them by guess
    with pytest.raises(DataMismatchError, match=r"capacity_unit = 'ha' says 10000 m²"):
        read_capacity(pd.DataFrame({"场地面积(平方米)": ["1"]}), dataclasses.replace(fit, capacity_column=""), "f.csv")
    cfg = tmp_path / "c.toml"
    text = (
        '[circles.fit]\nname_zh = "健身"\nname_en = "fit"\nminutes = 15\nmode = "walk"\nspeed_kmh = 4.0\n'
        'capacity = "area_m2"\nsupply_target = 3.2\ncapacity_unit = "{}"\n'
    )
    cfg.write_text(text.format("公顷"), encoding="utf-8")
    assert load_config(cfg)[0]["fit"].capacity_unit == "公顷"
    for bad, msg in (("beds", "is a unit of beds, but capacity is 'area_m2'"), ("furlong", "is not a unit we know")):
        cfg.write_text(text.format(bad), encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"\[circles\.fit\]: capacity_unit = '{bad}' {msg}.*Fix: .*\"ha\""):
            load_config(cfg)


def test_small_median_without_unit_is_unknown_counted_and_said():
    # hectares with no unit (median 1.4) were passed as m²
    df = pd.DataFrame({"场地面积": ["1.4", "0.8", "2.5"]})
    (v, c), msgs = _quiet(capacity.capacity_from_table, df, "area_m2", "f.csv", check_plausible=True)
    assert np.isnan(v).all()
    assert c["capacity_median_implausible"] == 1 and c["capacity_known"] == 0 and c["capacity_unknown"] == 3
    text = " ".join(msgs)
    assert "column '场地面积'" in text and "median capacity" in text and " is 1.4," in text
    assert 'capacity_unit = "ha"' in text
    # with the unit said, the same figures are read exactly
    (v, c), _ = _quiet(capacity.capacity_from_table, df, "area_m2", "f.csv", check_plausible=True, unit="ha")
    assert v.tolist() == [14_000.0, 8_000.0, 25_000.0] and "capacity_median_implausible" not in c
    # a stated m² header is the user's word: kept (small stations exist)
    (v, c), _ = _quiet(
        capacity.capacity_from_table, pd.DataFrame({"场地面积(平方米)": ["4", "6"]}), "area_m2", check_plausible=True
    )
    assert v.tolist() == [4.0, 6.0]


@pytest.mark.parametrize("header", ["场地面积 英里", "场地面积(含架空层)", "场地面积：合计"])
def test_unknown_unit_word_alone_refused_with_the_fix(header):
    with pytest.raises(DataMismatchError) as exc:
        capacity.capacity_from_table(pd.DataFrame({header: ["2"]}), "area_m2", "f.csv")
    msg = str(exc.value)
    assert msg.startswith(f"f.csv: capacity column {header!r}") and 'capacity_unit = "m2"' in msg
