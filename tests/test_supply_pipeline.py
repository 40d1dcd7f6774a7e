"""Supply standards through the pipeline: capacities read, ratios and deficits by hand, 2SFCA, outputs, config."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.cli.main import main
from dgcoverage.compute import supply, twostep
from dgcoverage.demo.synthetic import CAPACITY_NOTE, CAPACITY_NOTE_COLUMN, CAPACITY_PLAN, synthetic_capacities
from dgcoverage.errors import ConfigError, DataMismatchError
from dgcoverage.inputs import capacity
from dgcoverage.inputs.config import CAPACITY_KINDS, FCA_DECAYS, Settings, load_config, validate_settings
from dgcoverage.outputs.tables import write_circle
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at, lonlat, make_study

TOWN_A, TOWN_B = "441900003", "441900006"


def _two_towns(settings: Settings | None = None):
    """Nodes every 100 m along y = 0 from x = 0 to 1000; cells 20 m north of each node.

    Village 1 (x < 450, town 东城 441900003): cells x = 0..400, 200 people each (1,000).
    Village 2 (x >= 450, town 莞城 441900006): cells x = 500..1000, 500 people each (3,000).
    """
    nodes = [(100.0 * i, 0.0) for i in range(11)]
    edges = [(i, i + 1) for i in range(10)]
    cells = [(100.0 * i, 20.0) for i in range(11)]
    pop = [200.0] * 5 + [500.0] * 6
    st = make_study(nodes, edges, cells, pop, [(-50, -100, 450, 100), (450, -100, 1100, 100)])
    st.villages.loc[1, ["town_code", "town_name"]] = [TOWN_B, "莞城街道"]
    st.villages.loc[1, "code"] = f"{TOWN_B}001"
    (a0, b0), (a1, b1) = lonlat([-50, 450], [-100, 100])
    (c0, d0), (c1, d1) = lonlat([450, 1100], [-100, 100])
    st.towns = gpd.GeoDataFrame(
        {"town_code": [TOWN_A, TOWN_B], "town_name": ["东城街道", "莞城街道"], "has_polygon": [True, True]},
        geometry=[shapely.box(a0, b0, a1, b1), shapely.box(c0, d0, c1, d1)],
        crs=4326,
    )
    if settings is not None:
        st.settings = settings
    return st


def _circles():
    circles, _ = load_config()
    return circles


# facilities: F0 at x = 0 (town A), F1 at x = 1000 (town B), F2 at x = 600 (town B)
FAC_XY = [(0.0, 0.0), (1000.0, 0.0), (600.0, 0.0)]


def _towns(res) -> pd.DataFrame:
    return res.towns.set_index("town_code")


# ---------------------------------------------------------------- ratios and deficits by hand
def test_area_ratios_deficits_and_2sfca_by_hand_through_the_pipeline(tmp_path):
    st = _two_towns()
    fit = _circles()["fitness_15"]  # 3.2 m² per resident, 15 min at 4 km/h = 1,000 m
    fac = facilities_at(FAC_XY)
    fac["场地面积(平方米)"] = ["2,000", "不详", "5000㎡"]
    with pytest.warns(UserWarning, match="1 facilities have no capacity"):
        res = run_circle(st, fit, fac)
    t = _towns(res)
    # A: 2000 m² for 1000 people, all known: 2.0 < 3.2 -> fail, deficit 3200 - 2000 = 1200
    # B: 5000 m² known + F1 unknown for 3000 people: 1.667 < 3.2 -> unknown, deficit <= 9600 - 5000 = 4600
    # city: 7000 / 4000 = 1.75 -> unknown, deficit 12800 - 7000 = 5800
    assert t["facilities"].tolist() == [1, 2, 3]
    assert t["facilities_capacity_unknown"].tolist() == [0, 1, 1]
    np.testing.assert_allclose(t["supply"], [2000, 5000, 7000])
    np.testing.assert_allclose(t["population"], [1000, 3000, 4000])
    np.testing.assert_allclose(t["supply_ratio"], [2.0, 5000 / 3000, 1.75])
    np.testing.assert_allclose(t["required_supply"], [3200, 9600, 12800])
    np.testing.assert_allclose(t["deficit"], [1200, 4600, 5800])
    assert t["supply_status"].tolist() == ["fail", "unknown", "unknown"]
    assert t["supply_status_zh"].tolist()[0] == "未达标"
    assert (t["target_ratio"] == 3.2).all() and (t["ratio_unit"] == "m2 per resident").all()
    # 2SFCA (no decay): within 1,000 m along the line (legs of ~20 m): F0 reaches x <= 900, F2 everyone,
    # F1 (unknown) x >= 100.  R0 = 2000 / (1000 + 5 x 500), R2 = 5000 / 4000.
    r0, r2 = 2000 / 3500, 5000 / 4000
    v1 = r0 + r2
    v2 = (5 * (r0 + r2) + r2) / 6
    np.testing.assert_allclose(res.villages["access_supply"], [v1, v2], rtol=1e-12)
    np.testing.assert_allclose(res.villages["access_unknown_share"], [0.8, 1.0])  # F1 reaches x >= 100
    np.testing.assert_allclose(res.villages["access_meets_target_share"], [0.0, 0.0])
    np.testing.assert_allclose(t["access_supply"], [v1, v2, 1.75], rtol=1e-12)  # conservation city-wide
    assert res.cell_access_supply is not None and len(res.cell_access_supply) == 11
    # summary.json: the standard, its source, the city figures; unknown capacity counted in warnings
    s = res.summary.to_dict()
    sup = s["supply"]
    assert sup["indicator"] == "人均体育场地设施面积" and sup["source"] == "东府办〔2020〕46号"
    assert sup["target"] == 3.2 and sup["per"] == 1 and sup["base"] == "residents"
    assert sup["capacity"] == "area_m2" and sup["capacity_column"] == "场地面积(平方米)"
    assert sup["city"] == {
        "population": 4000,
        "supply": 7000.0,
        "supply_ratio": 1.75,
        "target_ratio": 3.2,
        "required_supply": 12800.0,
        "deficit": 5800.0,
        "status": "unknown",
        "status_zh": "待核实(部分设施容量未知)",
        "reason": sup["city"]["reason"],
    }
    assert sup["facilities"] == {"total": 3, "capacity_known": 2, "capacity_unknown": 1, "outside_towns": 0}
    assert sup["towns_by_status"] == {"pass": 0, "fail": 1, "unknown": 1, "no_data": 0}
    assert sup["towns_deficit_sum"] == 5800.0
    assert "study population" in sup["population_base"]
    assert sup["access"]["city_access_supply"] == 1.75 and sup["access"]["decay"] == "none"
    assert s["warnings"]["facilities_capacity_unknown"] == 1 and s["warnings"]["facilities_capacity_missing"] == 1
    # never imputed: the unknown facility stays NaN, and its cell in facilities.csv is empty
    assert np.isnan(res.facilities["capacity"][1]) and res.facilities["capacity"][[0, 2]].tolist() == [2000, 5000]
    d = write_circle(res, tmp_path)
    f = pd.read_csv(d / "facilities.csv", encoding="utf-8-sig", keep_default_na=False)
    f.columns = [c.split()[0] for c in f.columns]  # bilingual headers
    assert f["capacity"].tolist() == ["2000.00", "", "5000.00"] and set(f["capacity_unit"]) == {"m2"}
    assert f["fca_ratio"].tolist()[1] == ""
    towns_csv = pd.read_csv(d / "towns.csv", encoding="utf-8-sig", dtype=str)
    assert "deficit 供给缺口" in towns_csv.columns and "supply_status 供给状态" in towns_csv.columns
    assert towns_csv["deficit 供给缺口"].tolist() == ["1200.00", "4600.00", "5800.00"]
    villages_csv = pd.read_csv(d / "villages.csv", encoding="utf-8-sig")
    assert "access_supply 可达供给(2SFCA)" in villages_csv.columns
    written = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    assert written["supply"]["city"]["deficit"] == 5800.0


def test_beds_per_1000_elderly_with_town_shares_by_hand():
    st = _two_towns(Settings(elderly_share={TOWN_A: 0.1, TOWN_B: 0.2}))
    eld = _circles()["elderly_care_15"]  # 35 beds per 1,000 aged 60+, 15 min at 3.6 km/h = 900 m
    fac = facilities_at(FAC_XY)
    fac["床位"] = [5, "8张", "10"]
    res = run_circle(st, eld, fac)
    t = _towns(res)
    # elderly: A 1000 x 0.1 = 100, B 3000 x 0.2 = 600; beds A 5, B 18
    np.testing.assert_allclose(t["elderly"], [100, 600, 700])
    np.testing.assert_allclose(t["supply_ratio"], [50.0, 30.0, 23 / 0.7])
    np.testing.assert_allclose(t["required_supply"], [3.5, 21.0, 24.5])
    np.testing.assert_allclose(t["deficit"], [0.0, 3.0, 1.5])
    assert t["supply_status"].tolist() == ["pass", "fail", "fail"]
    assert (t["ratio_unit"] == "beds per 1,000 elderly (60+)").all()
    assert (t["elderly_basis"] == "settings_town_shares").all()
    assert (res.villages["elderly_basis"] == "settings_town_shares").all()
    # 2SFCA on older people: cells of A hold 20, of B 100; within 900 m: F0 x <= 800, F2 all, F1 x >= 200
    d = np.array([20.0] * 5 + [100.0] * 6)
    x = np.arange(11) * 100.0
    w0, w1, w2 = x <= 800, x >= 200, np.ones(11, bool)
    r0, r1, r2 = 5 / d[w0].sum(), 8 / d[w1].sum(), 10 / d[w2].sum()
    cell = 1000 * (w0 * r0 + w1 * r1 + w2 * r2)
    np.testing.assert_allclose(res.cell_access_supply, cell, rtol=1e-12)
    np.testing.assert_allclose(
        res.villages["access_supply"], [np.average(cell[:5], weights=d[:5]), np.average(cell[5:], weights=d[5:])]
    )
    np.testing.assert_allclose(res.villages["access_meets_target_share"], [0.6, 4 / 6])  # cells 2-8 reach 3
    assert ((cell >= 35) == (w0 & w1)).all()
    # every bed serves someone: the city's access-weighted supply equals its ratio
    assert t.loc["441900", "access_supply"] == pytest.approx(23 / 0.7, rel=1e-12)
    e = res.summary.supply["elderly"]
    assert e["basis"] == "settings_town_shares" and e["city_share"] == pytest.approx(700 / 4000)
    assert res.summary.supply["access"]["weights"] == "older people (60+)"


def test_elderly_default_share_one_share_and_counts_and_missing_towns():
    eld = _circles()["elderly_care_15"]
    fac = facilities_at(FAC_XY)
    fac["beds"] = [5.0, 8.0, 10.0]
    res = run_circle(_two_towns(), eld, fac)
    e = res.summary.supply["elderly"]
    assert e["basis"] == "default_share" and e["source"] == supply.ELDERLY_SHARE_SOURCE and "ASSUMPTION" in e["source"]
    np.testing.assert_allclose(_towns(res)["elderly"], np.array([1000, 3000, 4000]) * supply.ELDERLY_SHARE_DEFAULT)
    res = run_circle(_two_towns(Settings(elderly_share=0.25)), eld, fac)
    np.testing.assert_allclose(_towns(res)["elderly"], [250, 750, 1000])
    assert res.summary.supply["elderly"]["basis"] == "settings_share"
    res = run_circle(_two_towns(Settings(elderly_population={TOWN_A: 150.0, TOWN_B: 450.0})), eld, fac)
    t = _towns(res)
    np.testing.assert_allclose(t["elderly"], [150, 450, 600])
    np.testing.assert_allclose(t["supply_ratio"], [5 / 0.15, 18 / 0.45, 23 / 0.6])
    assert (t["elderly_basis"] == "settings_town_counts").all()
    with pytest.raises(ConfigError, match=r"elderly_population lacks 1 town.*441900006"):
        run_circle(_two_towns(Settings(elderly_population={TOWN_A: 150.0})), eld, fac)
    with pytest.raises(ConfigError, match="elderly_share lacks"):
        run_circle(_two_towns(Settings(elderly_share={TOWN_B: 0.1})), eld, fac)


def test_decay_options_keep_the_city_total_and_are_recorded():
    st = _two_towns()
    base = _circles()["fitness_15"]
    fac = facilities_at(FAC_XY)
    fac["area_m2"] = [2000.0, 1000.0, 5000.0]
    ref = run_circle(st, base, fac)
    seen = []
    for kw in (
        {"fca_decay": "gaussian"},
        {"fca_decay": "gaussian", "fca_sigma_minutes": 3.0},
        {"fca_decay": "stepwise"},
    ):
        c = dataclasses.replace(base, **kw)
        res = run_circle(st, c, fac)
        a = res.summary.supply["access"]
        assert a["decay"] == kw["fca_decay"] and a["method"].startswith("2SFCA with")
        if kw["fca_decay"] == "gaussian":
            assert a["sigma_minutes"] == kw.get("fca_sigma_minutes", 7.5)
        # Σ people x access = Σ capacity of facilities serving someone, whatever the weights
        assert _towns(res).loc["441900", "access_supply"] == pytest.approx(8000 / 4000, rel=1e-12)
        assert not np.allclose(res.cell_access_supply, ref.cell_access_supply)
        seen.append(res.cell_access_supply)
    assert not np.allclose(seen[0], seen[1])
    # stepwise zones of 5 minutes (333 m at 4 km/h) weighted 1, 0.68, 0.22, by hand for F2 at x = 600 only
    c = dataclasses.replace(base, fca_decay="stepwise", fca_steps=((5.0, 1.0), (10.0, 0.5), (15.0, 0.25)))
    res = run_circle(st, c, facilities_at([(600.0, 0.0)]).assign(area_m2=[4000.0]))
    x = np.arange(11) * 100.0
    dist = np.abs(x - 600) + 20  # metres walked at 4 km/h = 66.67 m/min (the leg is ~20 m)
    w = np.where(dist <= 333.4, 1.0, np.where(dist <= 666.7, 0.5, 0.25))
    p = np.array([200.0] * 5 + [500.0] * 6)
    np.testing.assert_allclose(res.cell_access_supply, w * 4000 / (w * p).sum(), rtol=1e-9)
    assert res.summary.supply["access"]["steps_minutes"] == [[5.0, 1.0], [10.0, 0.5], [15.0, 0.25]]


def test_circle_without_target_has_no_supply_outputs(tmp_path):
    st = _two_towns()
    legal = _circles()["legal_aid_30"]
    assert not legal.has_supply
    res = run_circle(st, legal, facilities_at(FAC_XY))
    assert "supply" not in res.summary.to_dict() and res.summary.supply is None
    assert "supply_ratio" not in res.towns.columns and "access_supply" not in res.villages.columns
    assert res.cell_access_supply is None
    d = write_circle(res, tmp_path)
    assert "capacity" not in [c.split()[0] for c in pd.read_csv(d / "facilities.csv", encoding="utf-8-sig").columns]
    # supply=False: coverage only, also for a circle with a target
    res = run_circle(st, _circles()["fitness_15"], facilities_at(FAC_XY), supply=False)
    assert res.summary.supply is None and "deficit" not in res.towns.columns


def test_facility_outside_every_village_is_left_out_and_counted():
    st = _two_towns()
    fac = facilities_at([*FAC_XY, (1300.0, 0.0)])  # beyond the last village, still within the study bounds
    fac["area_m2"] = [2000.0, 1000.0, 5000.0, 900.0]
    with pytest.warns(UserWarning, match="1 facilities lie in no town"):
        res = run_circle(st, _circles()["fitness_15"], fac)
    assert res.summary.supply["facilities"]["outside_towns"] == 1
    assert res.summary.warnings["facilities_left_out_of_supply"] == 1
    assert _towns(res).loc["441900", "supply"] == 8000


# ---------------------------------------------------------------- capacity columns through load_facilities
def _fac_table(headers: dict[str, list[str]]) -> pd.DataFrame:
    lon, lat = lonlat([x for x, _ in FAC_XY], [y for _, y in FAC_XY])
    return pd.DataFrame({"名称": ["甲", "乙", "丙"], "经度": lon, "纬度": lat, **headers})


@pytest.mark.parametrize(
    "circle_id, header, cells, encoding, expected, counted",
    [
        ("fitness_15", "场地面积(平方米)", ["1,200", "", "2亩"], "gbk", [1200, np.nan, 20_000 / 15], "missing"),
        ("culture_sports_10", "建筑面积", ["约800", "不详", "1200㎡"], "utf-8-sig", [800, np.nan, 1200], "missing"),
        ("culture_sports_10", "floor_area_m2", ["800", "-5", "1200"], "utf-8", [800, np.nan, 1200], "nonpositive"),
        ("fitness_15", "Site_Area (ha)", ["1.5", "<2", "0.5"], "utf-8", [15_000, np.nan, 5_000], "upper_bound"),
        ("elderly_care_15", "床位数(张)", ["120", "80余", "无"], "gb18030", [120, 80, np.nan], "missing"),
        ("elderly_care_15", "beds", ["30", "300平方米", "45"], "utf-8", [30, np.nan, 45], "wrong_unit"),
    ],
)
def test_capacity_columns_chinese_english_gbk_through_load_facilities(
    tmp_path, circle_id, header, cells, encoding, expected, counted
):
    st = _two_towns()
    circle = _circles()[circle_id]
    p = tmp_path / "fac.csv"
    _fac_table({header: cells}).to_csv(p, index=False, encoding=encoding)
    with pytest.warns(UserWarning, match="capacity unknown"):
        fac = load_facilities(st, circle, p, "wgs84")
    np.testing.assert_allclose(fac["capacity"], expected, equal_nan=True)
    w = fac.attrs["warnings"]
    assert w["facilities_capacity_unknown"] == 1 and w[f"facilities_capacity_{counted}"] == 1
    assert fac.attrs["capacity"] == {"kind": circle.capacity, "column": header, "known": 2, "unknown": 1}
    assert fac.attrs["input_record"]["capacity"]["column"] == header
    assert not any(str(c).startswith("raw:") for c in fac.columns)
    res = run_circle(st, circle, fac)
    assert res.summary.warnings["facilities_capacity_unknown"] == 1  # in summary.json -> warnings
    assert res.summary.supply["facilities"]["capacity_unknown"] == 1
    assert res.summary.supply["capacity_column"] == header
    # never imputed: the known capacities are the supply, the unknown one adds nothing
    assert res.towns.set_index("town_code").loc["441900", "supply"] == pytest.approx(np.nansum(expected))


def test_file_lines_named_for_unknown_capacities(tmp_path):
    st = _two_towns()
    p = tmp_path / "fac.csv"
    body = _fac_table({"床位": ["10", "", "20"]}).to_csv(index=False)
    p.write_text("养老机构名录\n" + body, encoding="utf-8")  # a title row: the data start on file line 3
    with pytest.warns(UserWarning) as rec:
        fac = load_facilities(st, _circles()["elderly_care_15"], p, "wgs84")
    assert any("file lines [4]" in str(r.message) and "no capacity" in str(r.message) for r in rec)
    assert np.isnan(fac["capacity"][1])


def test_capacity_column_missing_every_facility_unknown_never_zero(tmp_path):
    st = _two_towns()
    p = tmp_path / "fac.csv"
    _fac_table({}).to_csv(p, index=False)
    fit = _circles()["fitness_15"]
    with pytest.warns(UserWarning, match="capacity of all 3 facilities is unknown"):
        fac = load_facilities(st, fit, p, "wgs84")
    assert fac["capacity"].isna().all()
    assert fac.attrs["warnings"]["facilities_capacity_column_missing"] == 1
    res = run_circle(st, fit, fac)
    t = _towns(res)
    assert t["supply"].tolist() == [0.0, 0.0, 0.0] and t["supply_status"].tolist() == ["unknown"] * 3
    np.testing.assert_allclose(t["deficit"], t["required_supply"])  # an upper bound, said by the status
    assert res.summary.warnings["facilities_capacity_unknown"] == 3
    # the time circle still counts every facility
    assert res.summary.sizes["facilities"] == 3


def test_capacity_column_from_config_and_from_a_geodataframe(tmp_path):
    st = _two_towns()
    fit = dataclasses.replace(_circles()["fitness_15"], capacity_column="运动场地")
    p = tmp_path / "fac.csv"
    _fac_table({"运动场地": ["100", "200", "300"], "面积": ["9", "9", "9"]}).to_csv(p, index=False)
    fac = load_facilities(st, fit, p, "wgs84")
    assert fac["capacity"].tolist() == [100.0, 200.0, 300.0]
    with pytest.raises(DataMismatchError, match="capacity column '运动场地' not found"):
        load_facilities(st, fit, facilities_at(FAC_XY))
    # a GeoDataFrame with a Chinese bed column goes through facilities_from_frame
    g = facilities_at(FAC_XY).assign(养老床位=[12, np.nan, 30])
    with pytest.warns(UserWarning, match="no capacity"):
        fac = load_facilities(st, _circles()["elderly_care_15"], g)
    np.testing.assert_allclose(fac["capacity"], [12, np.nan, 30], equal_nan=True)
    # facilities loaded for one kind are not silently used for another
    with pytest.raises(DataMismatchError, match="carry beds capacities"):
        run_circle(st, _circles()["fitness_15"], fac)


# ---------------------------------------------------------------- config
def test_packaged_standards_match_the_supply_module():
    c = _circles()
    s = supply.SUPPLY_STANDARDS
    for cid, key in (
        ("culture_sports_10", "culture_indoor_area"),
        ("fitness_15", "sports_ground_area"),
        ("elderly_care_15", "elderly_care_beds"),
    ):
        std = s[key]
        assert c[cid].has_supply
        assert (c[cid].capacity, c[cid].supply_target, c[cid].supply_per, c[cid].supply_base) == (
            std.kind,
            std.target,
            std.per,
            std.base,
        )
        assert c[cid].supply_source == std.source and c[cid].supply_indicator == std.name_zh
    assert not c["legal_aid_30"].has_supply and c["legal_aid_30"].supply_target is None
    assert tuple(capacity.CAPACITY_ALIASES) == CAPACITY_KINDS and twostep.DECAYS == FCA_DECAYS


BASE = '[circles.x]\nname_zh = "测试"\nname_en = "t"\nmode = "walk"\nspeed_kmh = 4.0\nminutes = 15\n'
OK_SUPPLY = 'capacity = "area_m2"\nsupply_target = 3.2\n'


@pytest.mark.parametrize(
    "extra, match",
    [
        ('capacity = "volume"\nsupply_target = 1\n', "capacity must be one of"),
        ('capacity = "beds"\n', "needs supply_target"),
        ("supply_target = 3.2\n", r"need capacity"),
        ('capacity_column = "面积"\n', r"need capacity"),
        ('capacity = "area_m2"\nsupply_target = "3.2"\n', "supply_target must be a number"),
        ('capacity = "area_m2"\nsupply_target = true\n', "supply_target must be a number"),
        ('capacity = "area_m2"\nsupply_target = nan\n', "supply_target must be a finite number"),
        ('capacity = "area_m2"\nsupply_target = 0\n', "supply_target must be a finite number > 0"),
        (OK_SUPPLY + "supply_per = 100\n", "supply_per must be 1"),
        (OK_SUPPLY + 'supply_per = "1000"\n', "supply_per must be a number"),
        (OK_SUPPLY + 'supply_base = "old"\n', "supply_base must be one of"),
        (OK_SUPPLY + 'fca_decay = "linear"\n', "fca_decay must be one of"),
        (OK_SUPPLY + "fca_sigma_minutes = 5\n", "applies to fca_decay"),
        (OK_SUPPLY + 'fca_decay = "gaussian"\nfca_sigma_minutes = -1\n', "fca_sigma_minutes must be"),
        (OK_SUPPLY + 'fca_decay = "gaussian"\nfca_sigma_minutes = inf\n', "finite"),
        (OK_SUPPLY + "fca_steps = [[5, 1.0]]\n", "applies to fca_decay"),
        (OK_SUPPLY + 'fca_decay = "stepwise"\nfca_steps = [[10, 1.0], [5, 0.5]]\n', "increasing"),
        (OK_SUPPLY + 'fca_decay = "stepwise"\nfca_steps = [[5, -1.0]]\n', "weights >= 0"),
        (OK_SUPPLY + 'fca_decay = "stepwise"\nfca_steps = [5, 10]\n', "list of \\[minutes, weight\\] pairs"),
        (OK_SUPPLY + 'fca_decay = "stepwise"\nfca_steps = [["5", 1.0]]\n', "must be a number"),
        (OK_SUPPLY + 'supply_source = "a\u202eb"\n', "text-direction"),
    ],
)
def test_bad_supply_keys_are_refused_naming_the_key(tmp_path, extra, match):
    p = tmp_path / "c.toml"
    p.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(p)


@pytest.mark.parametrize(
    "settings, match",
    [
        ("elderly_share = 1.5\n", "elderly_share must be a finite number in \\[0, 1\\]"),
        ('elderly_share = "5%"\n', "elderly_share must be a number"),
        ("elderly_share = true\n", "elderly_share must be a number"),
        ("elderly_share = nan\n", "finite"),
        ('[settings.elderly_share]\n"4419003" = 0.1\n', "not a 9-digit Dongguan town code"),
        ('[settings.elderly_share]\n"441900003" = "0.1"\n', "must be a number"),
        ('[settings.elderly_share]\n"441900003" = -0.1\n', "elderly_share\\['441900003'\\]"),
        ("elderly_population = 5000\n", "elderly_population must be a table"),
        ('[settings.elderly_population]\n"441900003" = inf\n', "finite"),
        ('elderly_share = 0.1\n[settings.elderly_population]\n"441900003" = 10\n', "not both"),
        ("[settings.elderly_share]\n", "empty table"),
    ],
)
def test_bad_elderly_settings_are_refused_naming_the_key(tmp_path, settings, match):
    p = tmp_path / "c.toml"
    p.write_text(BASE + OK_SUPPLY + "[settings]\n" + settings, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_supply_keys_and_elderly_settings_read(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        BASE
        + 'capacity = "beds"\ncapacity_column = "核定床位"\nsupply_target = 35\nsupply_per = 1000\n'
        + 'supply_base = "elderly"\nfca_decay = "stepwise"\nfca_steps = [[5, 1], [15, 0.5]]\n'
        + '[settings]\n[settings.elderly_share]\n"441900003" = 0.06\n"441900006" = 0.07\n',
        encoding="utf-8",
    )
    circles, settings = load_config(p)
    c = circles["x"]
    assert (c.capacity, c.capacity_column, c.supply_target, c.supply_per, c.supply_base) == (
        "beds",
        "核定床位",
        35.0,
        1000,
        "elderly",
    )
    assert c.fca_steps == ((5.0, 1.0), (15.0, 0.5)) and c.has_supply
    assert settings.elderly_share == {"441900003": 0.06, "441900006": 0.07}
    assert c.with_overrides(minutes=20).supply_target == 35.0
    # settings built in Python are checked where they are used (load_study -> validate_settings)
    for bad in (Settings(elderly_share=2.0), Settings(elderly_share={" x": 0.1}), Settings(elderly_population={})):
        with pytest.raises(ConfigError):
            validate_settings(bad)


# ---------------------------------------------------------------- the demo: synthetic capacities, every output
def test_synthetic_capacities_are_deterministic_plausible_and_labelled():
    for cid, (header, low, high, _) in CAPACITY_PLAN.items():
        a = synthetic_capacities(cid, 2000)
        assert a.equals(synthetic_capacities(cid, 2000)) and list(a.columns) == [header, CAPACITY_NOTE_COLUMN]
        assert (a[CAPACITY_NOTE_COLUMN] == CAPACITY_NOTE).all() and "SYNTHETIC" in CAPACITY_NOTE
        known = pd.to_numeric(a[header].replace("", np.nan))
        assert 0.02 < known.isna().mean() < 0.1
        assert known.min() >= low * 0.9 and known.max() <= high * 1.1
        assert not synthetic_capacities(cid, 50, seed=1).equals(synthetic_capacities(cid, 50))
    assert synthetic_capacities("legal_aid_30", 3).shape == (3, 0)


def test_demo_run_writes_supply_for_every_circle_with_a_target(small_city, tmp_path):
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(["run", "--all", "--data-dir", str(small_city), "--out", str(out), "--no-maps"]) == 0
    circles = _circles()
    for cid, c in circles.items():
        d = out / cid
        s = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        t = pd.read_csv(d / "towns.csv", encoding="utf-8-sig", dtype={"town_code 镇街代码": str})
        t.columns = [x.split(" ")[0] for x in t.columns]
        v = pd.read_csv(d / "villages.csv", encoding="utf-8-sig")
        v.columns = [x.split(" ")[0] for x in v.columns]
        f = pd.read_csv(d / "facilities.csv", encoding="utf-8-sig")
        f.columns = [c.split()[0] for c in f.columns]  # bilingual headers
        if not c.has_supply:
            assert "supply" not in s and "supply_ratio" not in t and "capacity" not in f
            continue
        sup = s["supply"]
        assert sup["capacity_synthetic"] is True and s["inputs"]["facilities"]["capacity"]["synthetic"] is True
        assert sup["source"] == c.supply_source and sup["target"] == c.supply_target
        city = t.set_index("town_code").loc["441900"]
        assert city["supply_ratio"] == pytest.approx(sup["city"]["supply_ratio"], abs=1e-6)
        assert city["deficit"] == pytest.approx(sup["city"]["deficit"], abs=0.01)
        assert {"supply", "target_ratio", "deficit", "supply_status", "access_supply"} <= set(t.columns)
        assert {"access_supply", "access_meets_target_share", "access_unknown_share"} <= set(v.columns)
        assert f["capacity"].notna().sum() > 0 and f["capacity"].isna().sum() == sup["facilities"]["capacity_unknown"]
        assert s["warnings"]["facilities_capacity_unknown"] == sup["facilities"]["capacity_unknown"] > 0
        if c.supply_base == "elderly":
            assert sup["elderly"]["basis"] == "default_share" and (t["elderly_basis"] == "default_share").all()
            assert (v["elderly_basis"] == "default_share").all()
    # the report: supply columns on the sheets of circles with a target, and a line naming the standard
    assert (
        main(["run", "--all", "--data-dir", str(small_city), "--out", str(out), "--maps-dir", str(tmp_path / "m")]) == 0
    )
    from openpyxl import load_workbook

    wb = load_workbook(out / "report.xlsx")
    header = [cell.value for cell in wb["15分钟健身圈 镇街"][2]]  # each circle's town sheet
    assert "deficit 供给缺口" in header and "supply_status_zh 供给状态(中文)" in header
    assert "access_supply 可达供给(2SFCA)" in header
    assert "deficit 供给缺口" not in [cell.value for cell in wb["半小时法律援助服务圈 镇街"][2]]
    assert "elderly 老年人口(60岁及以上)" in [cell.value for cell in wb["15分钟居家养老服务圈 镇街"][2]]
    about = " ".join(str(r[0].value) for r in wb["说明 About"].iter_rows())
    assert "东府办〔2020〕46号" in about and "ASSUMPTION" in about and "SYNTHETIC" in about
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "供给标准 supply standard" in html and "每千名老年人拥有养老床位" in html


def test_capacity_from_an_xlsx_with_numeric_cells_and_fullwidth_header(tmp_path):
    from openpyxl import Workbook

    st = _two_towns()
    lon, lat = lonlat([x for x, _ in FAC_XY], [y for _, y in FAC_XY])
    wb = Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度", "建筑面积（㎡）"])
    for name, x, y, area in zip(["甲", "乙", "丙"], lon, lat, [850, None, 1200.5]):
        ws.append([name, float(x), float(y), area])
    p = tmp_path / "culture.xlsx"
    wb.save(p)
    with pytest.warns(UserWarning, match="no capacity"):
        fac = load_facilities(st, _circles()["culture_sports_10"], p, "wgs84")
    np.testing.assert_allclose(fac["capacity"], [850, np.nan, 1200.5], equal_nan=True)
    assert fac.attrs["capacity"]["column"] == "建筑面积（㎡）"
    res = run_circle(st, _circles()["culture_sports_10"], fac)
    t = _towns(res)
    # culture: 0.24 m² per resident; A 850 / 1000 = 0.85 pass; B 1200.5 / 3000 (+1 unknown) = 0.40 pass
    np.testing.assert_allclose(t["supply_ratio"], [0.85, 1200.5 / 3000, 2050.5 / 4000])
    assert t["supply_status"].tolist() == ["pass", "pass", "pass"] and (t["deficit"] == 0).all()


def test_circle_map_draws_the_supply_layer_only_with_a_standard(small_city):
    """The 2SFCA layer: villages coloured by access-weighted supply as a share of the standard, off by default."""
    import json as _json
    import re as _re

    from dgcoverage.inputs.config import load_config
    from dgcoverage.outputs.areas import circle_service_area, gap_areas
    from dgcoverage.outputs.maps import circle_map_html
    from dgcoverage.pipeline.facilities import load_facilities
    from dgcoverage.pipeline.load import load_study
    from dgcoverage.pipeline.run import run_circle

    study = load_study(data_dir=small_city)
    circles, _ = load_config()
    for cid, expect in (("fitness_15", True), ("legal_aid_30", False)):
        res = run_circle(study, circles[cid], load_facilities(study, circles[cid], data_dir=small_city))
        page = circle_map_html(study, res, circle_service_area(study, res), gap_areas(study, res))
        data = _json.loads(
            _re.search(r'<script type="application/json" id="dg-data">(.*?)</script>', page, _re.S)
            .group(1)
            .replace("\\u003c", "<")
        )
        layer = [lyr for lyr in data["layers"] if lyr["key"] == "supply"]
        assert bool(layer) is expect, cid
        if expect:
            assert layer[0]["show"] is False and "2SFCA" in layer[0]["label"]
            rates = [f["properties"]["rate"] for f in layer[0]["data"]["features"]]
            target = res.summary.supply["target"]
            drawn = res.villages[res.villages.geometry.notna() & ~res.villages.geometry.is_empty]
            # cut (never rounded up across a class break) to 4 decimals, as every share on the pages
            expected = [
                None if a != a else math.floor(min(a / target, 1.0) * 1e4 + 1e-9) / 1e4 for a in drawn["access_supply"]
            ]
            assert rates == expected and any(r is not None and 0 < r < 1 for r in rates)
