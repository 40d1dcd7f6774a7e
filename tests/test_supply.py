"""Supply standards: capacity parsing, policy ratios per town, 2SFCA by hand and against PySAL ``access``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from dgcoverage.compute import supply, twostep
from dgcoverage.compute.access import access_graph_from_network
from dgcoverage.core.roadnet import RoadNetwork
from dgcoverage.errors import ConfigError, DataMismatchError
from dgcoverage.inputs import capacity
from dgcoverage.inputs.tables import read_table


# ---------------------------------------------------------------- capacity parsing
def test_capacity_cells_parsed_and_counted_never_imputed():
    cells = [
        "1,200",  # thousands separator
        "1200㎡",
        "1200平方米",
        "约800",  # approximate: used, counted
        "800余",  # lower bound: used, counted
        "800-1000",  # range: lower end, counted
        "<800",  # upper bound: unknown
        "",  # missing
        "不详",  # missing
        "0",  # non-positive
        "-5",  # non-positive
        "大",  # not a number
        "2亩",  # converted: 2 x 666.67 m²
        "1.2万平方米",  # converted: 12,000 m²
        "120张",  # beds in an area column: unknown
        "１２００",  # full-width digits
    ]
    df = pd.DataFrame({"名称": [f"f{i}" for i in range(len(cells))], "建筑面积": cells})
    with pytest.warns(UserWarning) as rec:
        values, counts = capacity.capacity_from_table(df, "area_m2", "x.csv")
    expected = [1200, 1200, 1200, 800, 800, 800, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    expected += [2 * 10_000 / 15, 12_000, np.nan, 1200]
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9, equal_nan=True)
    assert counts == {
        "capacity_known": 9,
        "capacity_unknown": 7,
        "capacity_approximate": 1,
        "capacity_lower_bound": 1,
        "capacity_range": 1,
        "capacity_upper_bound": 1,
        "capacity_missing": 2,
        "capacity_nonpositive": 2,
        "capacity_unparsed": 1,
        "capacity_unit_converted": 2,
        "capacity_wrong_unit": 1,
    }
    text = " ".join(str(w.message) for w in rec)
    assert "rows from 0 [9, 10]" in text  # the zero and the negative, listed by row
    assert "x.csv" in text and "'建筑面积'" in text


def test_capacity_headers_chinese_english_units_and_choice():
    # English header with a unit; numeric cells (e.g. from Excel or a GeoDataFrame)
    df = pd.DataFrame({"name": ["a", "b", "c"], "Area (m²)": [150.0, np.nan, -1.0]})
    with pytest.warns(UserWarning, match="capacity unknown"):
        v, c = capacity.capacity_from_table(df, "area_m2")
    np.testing.assert_array_equal(v, [150.0, np.nan, np.nan])
    assert c["capacity_known"] == 1 and c["capacity_missing"] == 1 and c["capacity_nonpositive"] == 1
    # a unit in the header applies to cells without their own: 用地面积(公顷)
    df = pd.DataFrame({"用地面积（公顷）": ["1.5", "2000平方米"]})
    with pytest.warns(UserWarning, match="converted"):
        v, c = capacity.capacity_from_table(df, "area_m2")
    np.testing.assert_allclose(v, [15_000.0, 2_000.0])
    assert c["capacity_unit_converted"] == 1
    # beds: 床位数(张), bilingual "beds 床位" and 养老床位 (a name, not "养老" + unit 床位)
    for header in ("床位数(张)", "beds 床位", "养老床位", "BEDS"):
        v, c = capacity.capacity_from_table(pd.DataFrame({header: ["120", "80张"]}), "beds")
        np.testing.assert_array_equal(v, [120.0, 80.0])
        assert c == {"capacity_known": 2, "capacity_unknown": 0}
    # m² in a beds column is unknown, not 1 bed per m²
    with pytest.warns(UserWarning, match="unit of another kind"):
        v, _ = capacity.capacity_from_table(pd.DataFrame({"床位": ["300平方米"]}), "beds")
    assert np.isnan(v[0])
    # a header stating the wrong kind of unit is refused
    with pytest.raises(DataMismatchError, match="states a unit of area_m2"):
        capacity.capacity_from_table(pd.DataFrame({"床位(平方米)": ["3"]}), "beds")
    # several area columns with different values: not guessed, refused naming both and the config key
    df = pd.DataFrame({"用地面积": ["5000"], "建筑面积": ["800"]})
    with pytest.raises(DataMismatchError, match=r"several area_m2 columns \['建筑面积', '用地面积'\].*capacity_column"):
        capacity.capacity_from_table(df, "area_m2")
    v, _ = capacity.capacity_from_table(df, "area_m2", column="用地面积")
    assert v.tolist() == [5000.0]
    with pytest.raises(DataMismatchError, match="not found"):
        capacity.capacity_column(df, "area_m2", column="场地面积")
    with pytest.raises(ConfigError):
        capacity.capacity_column(df, "volume")


def test_capacity_column_missing_every_facility_unknown():
    df = pd.DataFrame({"名称": ["a", "b", "c"]})
    with pytest.warns(UserWarning, match="capacity of all 3 facilities is unknown"):
        v, c = capacity.capacity_from_table(df, "beds", "f.csv")
    assert np.isnan(v).all() and v.shape == (3,)
    assert c == {"capacity_known": 0, "capacity_unknown": 3, "capacity_column_missing": 1}


def test_capacity_from_gbk_csv_through_read_table(tmp_path):
    p = tmp_path / "养老机构.csv"
    text = (
        "名称,经度,纬度,床位数(张),建筑面积(平方米)\n"
        '甲养老院,113.75,23.02,120,"1,500"\n'
        "乙站,113.76,23.03,,约600\n"
        "丙院,113.77,23.04,80余,0\n"
    )
    p.write_bytes(text.encode("gbk"))
    df = read_table(p)
    assert df.attrs["encoding"] == "gb18030"
    with pytest.warns(UserWarning) as rec:
        beds, cb = capacity.capacity_from_table(df, "beds", str(p))
    np.testing.assert_array_equal(beds, [120.0, np.nan, 80.0])
    assert cb == {"capacity_known": 2, "capacity_unknown": 1, "capacity_missing": 1, "capacity_lower_bound": 1}
    msgs = [str(w.message) for w in rec]
    assert any("file lines [3]" in m and "no capacity" in m for m in msgs)  # 乙站 is on line 3 of the file
    assert any("file lines [4]" in m and "lower bound" in m for m in msgs)
    with pytest.warns(UserWarning) as rec:
        area, ca = capacity.capacity_from_table(df, "area_m2", str(p))
    msgs = [str(w.message) for w in rec]
    assert any("file lines [3]" in m and "approximate" in m for m in msgs)
    assert any("file lines [4]" in m and "zero or less" in m for m in msgs)
    np.testing.assert_array_equal(area, [1500.0, 600.0, np.nan])
    assert ca["capacity_approximate"] == 1 and ca["capacity_nonpositive"] == 1


# ---------------------------------------------------------------- policy ratios
def _towns() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "town_code": ["A", "B", "C", "D", "E", "441900"],
            "town_name": ["甲", "乙", "丙", "丁", "戊", "东莞市(全市)"],
            "population": [10_000.0, 5_000.0, 0.0, 2_000.0, 1_000.0, 18_000.0],
        }
    )


def test_supply_ratios_by_hand_with_unknown_capacities_and_a_town_without_people():
    # A: 1500 + 1000 = 2500 m² >= 0.24 x 10000 = 2400 -> pass
    # B: 500 known + 1 unknown, needs 1200 -> unknown (could pass), deficit 700 (an upper bound)
    # C: no people -> no_data (its 300 m² still count city-wide)
    # D: 100 m², every capacity known, needs 480 -> fail, deficit 380
    # E: no facility at all, needs 240 -> fail, deficit 240
    # one facility in no town, one in a town not in the table: left out, counted
    town = ["A", "A", "B", "B", "C", "D", None, "Z"]
    cap = [1500.0, 1000.0, 500.0, np.nan, 300.0, 100.0, 999.0, 999.0]
    with pytest.warns(UserWarning, match="2 facilities lie in no town"):
        t = supply.supply_ratios(town, cap, _towns(), target_per_capita=0.24)
    t = t.set_index("town_code")
    assert t.index.tolist() == ["A", "B", "C", "D", "E", "441900"]
    assert t["status"].tolist() == ["pass", "unknown", "no_data", "fail", "fail", "unknown"]
    assert t["facilities"].tolist() == [2, 2, 1, 1, 0, 6]
    assert t["facilities_capacity_known"].tolist() == [2, 1, 1, 1, 0, 5]
    assert t["facilities_capacity_unknown"].tolist() == [0, 1, 0, 0, 0, 1]
    np.testing.assert_allclose(t["capacity_unknown_share"], [0, 0.5, 0, 0, np.nan, 1 / 6], equal_nan=True)
    np.testing.assert_allclose(t["supply"], [2500, 500, 300, 100, 0, 3400])
    np.testing.assert_allclose(t["supply_ratio"], [0.25, 0.1, np.nan, 0.05, 0.0, 3400 / 18_000], equal_nan=True)
    np.testing.assert_allclose(t["required_supply"], [2400, 1200, 0, 480, 240, 4320])
    # city: 0.24 x 18000 - 3400 = 920 (surplus of A nets against the others: less than 700 + 380 + 240)
    np.testing.assert_allclose(t["deficit"], [0, 700, np.nan, 380, 240, 920], equal_nan=True)
    assert (t["target_ratio"] == 0.24).all() and (t["ratio_unit"] == "m2 per resident").all()
    assert t.loc["A", "status_zh"] == "达标" and t.loc["D", "status_zh"] == "未达标"
    assert "1 facilities of unknown capacity could close the gap" in t.loc["B", "reason"]
    assert t.loc["E", "reason"] == "no facility with capacity"
    assert t.loc["441900", "town_name"] == "东莞市(全市)" and t.loc["441900", "population"] == 18_000
    assert t.attrs["facilities_outside_towns"] == 2 and t.attrs["base"] == "residents"
    # unknown capacities are never zero nor averaged: pinning the unknown one to its possible values flips B
    filled = list(cap)
    filled[3] = 700.0
    with pytest.warns(UserWarning):
        t2 = supply.supply_ratios(town, filled, _towns(), target_per_capita=0.24).set_index("town_code")
    assert t2.loc["B", "status"] == "pass" and t2.loc["B", "deficit"] == 0
    filled[3] = 699.0
    with pytest.warns(UserWarning):
        t3 = supply.supply_ratios(town, filled, _towns(), target_per_capita=0.24).set_index("town_code")
    assert t3.loc["B", "status"] == "fail" and t3.loc["B", "deficit"] == pytest.approx(1.0)


def test_supply_ratios_known_supply_passing_is_certain_despite_unknowns():
    towns = pd.DataFrame({"town_code": ["A"], "population": [1000.0]})
    t = supply.supply_ratios(["A", "A"], [3200.0, np.nan], towns, target_per_capita=3.2)
    assert t["status"].tolist() == ["pass", "pass"]
    assert "1 facilities of unknown capacity only add" in t["reason"][0]
    assert t["town_name"].tolist() == ["", "东莞市(全市)"]


def test_supply_ratios_beds_per_1000_elderly():
    towns = pd.DataFrame({"town_code": ["A", "B"], "town_name": ["甲", "乙"], "population": [100_000.0, 50_000.0]})
    fac_town, beds = ["A", "B", "B"], [200.0, 50.0, 40.0]
    # default share (an assumption, said in attrs): A elderly 5470, needs 35 x 5.47 = 191.45 beds
    t = supply.supply_ratios(fac_town, beds, towns, target_per_1000=35, elderly=True, supply_unit="beds")
    assert supply.ELDERLY_SHARE_DEFAULT == 0.0547
    assert t.attrs["elderly_source"] == supply.ELDERLY_SHARE_SOURCE and "ASSUMPTION" in t.attrs["elderly_source"]
    np.testing.assert_allclose(t["elderly"], [5470, 2735, 8205])
    np.testing.assert_allclose(t["supply_ratio"], [200 / 5.47, 90 / 2.735, 290 / 8.205])
    np.testing.assert_allclose(t["required_supply"], [191.45, 95.725, 287.175])
    np.testing.assert_allclose(t["deficit"], [0, 5.725, 0], atol=1e-9)
    assert t["status"].tolist() == ["pass", "fail", "pass"]
    assert t["ratio_unit"][0] == "beds per 1,000 elderly (60+)"
    # a per-town table of older people wins over the default share
    t = supply.supply_ratios(fac_town, beds, towns.assign(elderly=[4000.0, 3000.0]), target_per_1000=35, elderly=True)
    np.testing.assert_allclose(t["supply_ratio"], [50.0, 30.0, 290 / 7])
    assert t["status"].tolist() == ["pass", "fail", "pass"]
    # per-town shares: a town without a share has no elderly figure (no_data), and so has the city
    t = supply.supply_ratios(fac_town, beds, towns, target_per_1000=35, elderly=True, elderly_share={"A": 0.1})
    assert t["status"].tolist() == ["fail", "no_data", "no_data"]  # A: 200 beds < 35 x 10 = 350
    np.testing.assert_allclose(t["elderly"], [10_000, np.nan, np.nan], equal_nan=True)
    assert np.isnan(t["deficit"][1])
    with pytest.raises(ConfigError, match="exactly one"):
        supply.supply_ratios(fac_town, beds, towns, target_per_capita=1, target_per_1000=35)
    with pytest.raises(ConfigError, match="> 0"):
        supply.supply_ratios(fac_town, beds, towns, target_per_capita=0)
    with pytest.raises(DataMismatchError, match="capacities"):
        supply.supply_ratios(fac_town, [1.0, -2.0, 3.0], towns, target_per_capita=1)
    with pytest.raises(DataMismatchError, match="2 capacities for 3"):
        supply.supply_ratios(fac_town, [1.0, 2.0], towns, target_per_capita=1)


def test_standards_are_the_policy_targets():
    s = supply.SUPPLY_STANDARDS
    assert (s["culture_indoor_area"].target, s["culture_indoor_area"].per) == (0.24, 1)
    assert (s["sports_ground_area"].target, s["sports_ground_area"].source) == (3.2, "东府办〔2020〕46号")
    e = s["elderly_care_beds"]
    assert (e.kind, e.target, e.per, e.base, e.source) == ("beds", 35.0, 1000, "elderly", "东府〔2020〕1号")


# ---------------------------------------------------------------- 2SFCA against PySAL access
# 5 demand points (d1..d5), 3 facilities (s1..s3); costs in minutes; catchment 30.
_COSTS = [
    ("d1", "s1", 0.0),  # a zero cost is a pair, not "no pair"
    ("d1", "s2", 25.0),
    ("d2", "s1", 12.0),
    ("d2", "s2", 8.0),
    ("d2", "s3", 29.0),
    ("d3", "s2", 17.5),
    ("d3", "s3", 10.0),
    ("d3", "s1", 31.0),  # beyond the catchment
    ("d4", "s3", 20.0),
    ("d4", "s1", 30.0),  # exactly at it: in
    ("d5", "s1", 45.0),  # d5 reaches nothing within 30
]
_POP = {"d1": 120.0, "d2": 300.0, "d3": 80.0, "d4": 500.0, "d5": 60.0}
_CAP = {"s1": 10.0, "s2": 4.0, "s3": 7.5}
_STEPS = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}


def _pysal(kind: str) -> pd.Series:
    access = pytest.importorskip("access")
    dem = pd.DataFrame({"geoid": list(_POP), "pop": list(_POP.values())})
    sup = pd.DataFrame({"geoid": list(_CAP), "cap": list(_CAP.values())})
    cost = pd.DataFrame(_COSTS, columns=["origin", "dest", "cost"])
    with warnings.catch_warnings():  # PySAL's own pandas deprecations (set_index(inplace=)) are not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        a = access.Access(
            demand_df=dem,
            demand_index="geoid",
            demand_value="pop",
            supply_df=sup,
            supply_index="geoid",
            supply_value="cap",
            cost_df=cost,
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )
        if kind == "none":
            out = a.two_stage_fca(name="x", max_cost=30)
        elif kind == "gaussian":
            out = a.enhanced_two_stage_fca(name="x", max_cost=30, weight_fn=access.weights.gaussian(12.0))
        else:
            out = a.enhanced_two_stage_fca(name="x", max_cost=30, weight_fn=access.weights.step_fn(_STEPS))
    return out["x_cap"]


def _ours(kind: str, capacity: list[float] | None = None) -> twostep.TwoStepResult:
    dem, fac = list(_POP), list(_CAP)
    rows = [fac.index(s) for _, s, _ in _COSTS]
    cols = [dem.index(d) for d, _, _ in _COSTS]
    T = csr_array(([c for _, _, c in _COSTS], (rows, cols)), shape=(len(fac), len(dem)))
    cap = list(_CAP.values()) if capacity is None else capacity
    return twostep.two_step_fca_from_times(
        T, cap, list(_POP.values()), 30.0, kind, sigma_s=12.0, steps=sorted(_STEPS.items())
    )


@pytest.mark.parametrize("kind", ["none", "gaussian", "stepwise"])
def test_2sfca_equals_pysal_access(kind):
    ref = _pysal(kind)
    ours = _ours(kind)
    assert ours.pairs == 9 and ours.decay == kind
    for i, d in enumerate(_POP):
        if d == "d5":  # no facility within the catchment: PySAL NaN, here 0
            assert np.isnan(ref.get(d, np.nan)) and ours.access[i] == 0.0
        else:
            assert ours.access[i] == pytest.approx(ref[d], rel=1e-9, abs=1e-9)
    # conservation: people-weighted access adds up to the supply of the facilities serving someone
    assert float(np.dot(list(_POP.values()), ours.access)) == pytest.approx(sum(_CAP.values()), rel=1e-12)


def test_2sfca_by_hand_on_the_matrix_no_decay():
    r = _ours("none")
    # R_s1 = 10 / (120 + 300 + 500) (d3 is at 31 > 30), R_s2 = 4 / (120 + 300 + 80), R_s3 = 7.5 / (300 + 80 + 500)
    R = [10 / 920, 4 / 500, 7.5 / 880]
    np.testing.assert_allclose(r.facility_ratio, R, rtol=1e-15)
    np.testing.assert_allclose(r.facility_demand, [920, 500, 880])
    np.testing.assert_allclose(
        r.access, [R[0] + R[1], R[0] + R[1] + R[2], R[1] + R[2], R[0] + R[2], 0.0], rtol=1e-15, atol=0
    )
    assert r.facilities_within.tolist() == [2, 3, 2, 2, 0]


def test_decay_definitions_match_pysal_weights():
    access = pytest.importorskip("access")
    t = np.array([0.0, 5.0, 10.0, 10.000001, 19.9, 20.0, 25.0, 30.0])
    g = access.weights.gaussian(12.0)
    np.testing.assert_allclose(twostep.decay_weights(t, "gaussian", 30.0, sigma_s=12.0), [g(x) for x in t], rtol=1e-15)
    f = access.weights.step_fn(_STEPS)
    np.testing.assert_array_equal(
        twostep.decay_weights(t, "stepwise", 30.0, steps=sorted(_STEPS.items())), [f(x) for x in t]
    )
    # defaults: sigma = limit / 2; E2SFCA zones are the thirds of the limit (1, 0.68, 0.22)
    assert twostep.decay_weights([30.0], "gaussian", 30.0)[0] == pytest.approx(np.exp(-2.0))
    np.testing.assert_array_equal(
        twostep.decay_weights([10.0, 10.5, 20.5, 30.0], "stepwise", 30.0), [1, 0.68, 0.22, 0.22]
    )
    np.testing.assert_array_equal(twostep.decay_weights([3.0], lambda x: 1.0 / (1.0 + x), 30.0), [0.25])
    with pytest.raises(ConfigError):
        twostep.decay_weights([1.0], "linear", 30.0)
    with pytest.raises(ConfigError):
        twostep.decay_weights([1.0], "stepwise", 30.0, steps=[(20.0, 1.0), (10.0, 0.5)])


def test_2sfca_unknown_capacity_left_out_and_counted_not_zeroed():
    full = _ours("none")
    r = _ours("none", [10.0, np.nan, 7.5])
    # s2's ratio is unknown; the others are unchanged (their demand does not depend on s2)
    assert np.isnan(r.facility_ratio[1])
    np.testing.assert_allclose(r.facility_ratio[[0, 2]], full.facility_ratio[[0, 2]])
    # access is a lower bound: what s2 would add is missing where s2 is in reach, flagged there
    np.testing.assert_allclose(r.access, full.access - np.array([1, 1, 1, 0, 0]) * full.facility_ratio[1])
    assert r.unknown_within.tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(DataMismatchError):
        twostep.two_step_fca_from_times(csr_array((3, 5)), [1.0, 2.0], np.ones(5), 30.0)
    with pytest.raises(DataMismatchError):
        twostep.two_step_fca_from_times(csr_array((3, 5)), [1.0, 2.0, np.inf], np.ones(5), 30.0)


# ---------------------------------------------------------------- 2SFCA on a hand graph
def _hand_graph():
    # 0 -100- 1 -100- 2 -100- 3 two-way, a ONE-WAY shortcut 0 -> 2 of 40 m, node 4 isolated (a loop 4 -> 4).
    edges = [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (0, 2), (4, 4)]
    length = [100, 100, 100, 100, 100, 100, 40, 10]
    lon = 113.70 + 0.001 * np.arange(5)
    lat = np.full(5, 23.0)
    net = RoadNetwork(
        np.arange(5),
        lon,
        lat,
        np.array([e[0] for e in edges]),
        np.array([e[1] for e in edges]),
        np.array(length, float),
    )
    return access_graph_from_network(net, 1.0)  # weights in metres; searched at 2 m/s below


def test_2sfca_on_a_hand_graph_checked_by_hand():
    g = _hand_graph()
    # facilities: F0 at node 0 (leg 10 s, 100 m²), F1 at node 3 (leg 0, 50 m²), F2 on the island, F3 off network
    fac_node, fac_leg = np.array([0, 3, 4, -1]), np.array([10.0, 0.0, 0.0, 0.0])
    cap = np.array([100.0, 50.0, 30.0, 20.0])
    # cells: c0 at node 0, c1 at node 1 (leg 5 s), c2 at node 2, c3 at node 3 (leg 20 s), c4 off network
    cell_node, cell_leg = np.array([0, 1, 2, 3, -1]), np.array([0.0, 5.0, 0.0, 20.0, 0.0])
    pop = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    # at 2 m/s an edge of 100 m takes 50 s; limit 100 s.  Cell -> facility along the edges:
    #   F0 (node 0): c0 0+0+10 = 10; c1 5+50+10 = 65; c2 0+100+10 = 110 > 100 (the 0 -> 2 shortcut is one-way)
    #   F1 (node 3): c3 20+0 = 20; c2 0+50 = 50; c0 0+(20 shortcut + 50) = 70; c1 5+100 = 105 > 100
    T = twostep.catchment_times(g, fac_node, fac_leg, cell_node, cell_leg, 100.0, 2.0, chunk=1)
    assert T.shape == (4, 5)
    c = T.tocoo()
    pairs = {(int(i), int(j)): float(x) for i, j, x in zip(c.row, c.col, c.data)}
    assert pairs == {(0, 0): 10, (0, 1): 65, (1, 0): 70, (1, 2): 50, (1, 3): 20}
    r = twostep.two_step_fca(g, fac_node, fac_leg, cap, cell_node, cell_leg, pop, 100.0, 2.0)
    R0, R1 = 100 / 30, 50 / 80  # F0 serves c0 + c1 = 30 people, F1 serves c0 + c2 + c3 = 80
    np.testing.assert_allclose(r.facility_ratio, [R0, R1, np.nan, np.nan], rtol=1e-15, equal_nan=True)
    np.testing.assert_allclose(r.access, [R0 + R1, R0, R1, R1, 0.0], rtol=1e-15)
    assert r.pairs == 5 and r.facilities_within.tolist() == [2, 1, 1, 1, 0]
    # stepwise (E2SFCA, zones of 33.3 / 66.7 / 100 s weighted 1 / 0.68 / 0.22)
    r = twostep.two_step_fca(g, fac_node, fac_leg, cap, cell_node, cell_leg, pop, 100.0, 2.0, "stepwise")
    R0, R1 = 100 / (10 + 0.68 * 20), 50 / (40 + 0.68 * 30 + 0.22 * 10)
    np.testing.assert_allclose(r.access, [R0 + 0.22 * R1, 0.68 * R0, 0.68 * R1, R1, 0.0], rtol=1e-14)
    # village and town means, people-weighted: villages [c0, c1], [c2, c3], none; c4 in no village
    r = twostep.two_step_fca(g, fac_node, fac_leg, cap, cell_node, cell_leg, pop, 100.0, 2.0)
    v = twostep.village_accessibility([0, 0, 1, 1, -1], pop, r.access, 3)
    np.testing.assert_allclose(v, [(10 * (100 / 30 + 0.625) + 20 * 100 / 30) / 30, 0.625, np.nan], equal_nan=True)
    towns = pd.DataFrame({"town_code": ["T1", "T2", "T3"], "town_name": ["一", "二", "三"]})
    t = twostep.town_accessibility(["T1", "T2", "T2"], [30.0, 70.0, 0.0], v, towns)
    assert t["town_code"].tolist() == ["T1", "T2", "T3", "441900"]
    # city: (30 v0 + 70 v1) / 100 = (100 + 50) / 100 -- all the supply, over the people in villages
    np.testing.assert_allclose(t["access"], [v[0], 0.625, np.nan, 1.5], equal_nan=True)
    np.testing.assert_allclose(t["population"], [30, 70, 0, 100])


def test_catchment_times_equal_brute_force_on_a_random_graph():
    rng = np.random.default_rng(7)
    n, m, nc = 120, 23, 300
    u = rng.integers(0, n, 500)
    v = rng.integers(0, n, 500)
    net = RoadNetwork(
        np.arange(n), 113.7 + rng.random(n) * 0.05, 23.0 + rng.random(n) * 0.05, u, v, rng.uniform(5, 200, 500)
    )
    g = access_graph_from_network(net, 1.0)
    fnode = rng.integers(-1, n, m)
    fleg = rng.uniform(0, 60, m)
    cnode = rng.integers(-1, n, nc)
    cleg = rng.uniform(0, 60, nc)
    limit, speed = 300.0, 1.3
    T = twostep.catchment_times(g, fnode, fleg, cnode, cleg, limit, speed, chunk=4)
    # batches of any size, and a batch split by the dense budget, give the very same matrix (bit for bit)
    for kw in ({"chunk": 1}, {"chunk": 64}, {"chunk": 5, "dense_budget": 7}):
        other = twostep.catchment_times(g, fnode, fleg, cnode, cleg, limit, speed, **kw)
        assert (other.indptr.tolist(), other.indices.tolist()) == (T.indptr.tolist(), T.indices.tolist())
        assert other.data.tolist() == T.data.tolist()
    full = dijkstra(g.rev, directed=True)  # metres from node b to node a, row a
    expect = np.full((m, nc), np.inf)
    for j in range(m):
        for i in range(nc):
            if fnode[j] >= 0 and cnode[i] >= 0:
                expect[j, i] = fleg[j] + full[fnode[j], cnode[i]] / speed + cleg[i]
    dense = np.full((m, nc), np.inf)
    c = T.tocoo()  # explicit zeros included
    dense[c.row, c.col] = c.data
    within = expect <= limit + 1e-9
    assert within.sum() > 50 and T.nnz == within.sum()
    np.testing.assert_allclose(dense[within], expect[within], rtol=1e-12)
