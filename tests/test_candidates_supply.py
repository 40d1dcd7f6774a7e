"""Siting aware of supply, readable names, villages reached and candidate-file wording, on a hand-made city.

The tiny city (``_city``): one road along y = 0, nodes every 100 m from x = 0 to 3,000 m, one cell on each node.

* village 村1 (x < 1,450, town 东城街道 441900003): 15 cells of 100 people (1,500);
* village 村2 (x >= 1,450, town 莞城街道 441900006): 16 cells of 200 people (3,200).

Circle: fitness_15 shortened to 5 minutes at 4 km/h (reach 333 m, so a site covers the nodes within 300 m), target
3.2 m² per resident.  One existing facility at x = 0 (town A) with 10 m² covers x = 0..300.

Deficits by hand: A needs 3.2 x 1,500 = 4,800 m², has 10: 4,790; B needs 3.2 x 3,200 = 10,240, has 0: 10,240;
city 15,040 - 10 = 15,030.
"""

from __future__ import annotations

import csv
import dataclasses
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.errors import ConfigError, DgCoverageWarning, EmptyInputError
from dgcoverage.inputs.candidates import candidate_wording
from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.sites import write_sites
from dgcoverage.pipeline.ranking import deficit_closure, site_names
from dgcoverage.pipeline.run import run_circle
from dgcoverage.pipeline.sites import build_candidates, plan_sites

from ._tiny import facilities_at, lonlat, make_study

TOWN_A, TOWN_B = "441900003", "441900006"


def _city():
    nodes = [(100.0 * i, 0.0) for i in range(31)]
    edges = [(i, i + 1) for i in range(30)]
    cells = [(100.0 * i, 0.0) for i in range(31)]
    pop = [100.0] * 15 + [200.0] * 16
    st = make_study(nodes, edges, cells, pop, [(-50, -100, 1450, 100), (1450, -100, 3050, 100)])
    st.villages.loc[1, ["town_code", "town_name", "code"]] = [TOWN_B, "莞城街道", f"{TOWN_B}001"]
    (wa, ea), (s0, n0) = lonlat([-50, 1450], [-100, 100])
    (wb, eb), _ = lonlat([1450, 3050], [-100, 100])
    st.towns = gpd.GeoDataFrame(
        {"town_code": [TOWN_A, TOWN_B], "town_name": ["东城街道", "莞城街道"], "has_polygon": [True, True]},
        geometry=[shapely.box(wa, s0, ea, n0), shapely.box(wb, s0, eb, n0)],
        crs=4326,
    )
    return st


def _circle(cid: str = "fitness_15"):
    circles, _ = load_config()
    return dataclasses.replace(circles[cid], minutes=5)


@pytest.fixture(scope="module")
def city():
    st = _city()
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity_m2"] = [10.0]  # unit stated: a unit-less median under 50 m² is taken for 亩/公顷
    base = run_circle(st, _circle(), fac)
    return st, base


def _site_file(tmp_path, rows, name="sites.csv", encoding="utf-8-sig"):
    """A candidate CSV in WGS84 at local x positions (metres) with extra columns per row."""
    xs = [r.pop("x") for r in rows]
    lon, lat = lonlat(xs, [0.0] * len(xs))
    df = pd.DataFrame(rows)
    df.insert(0, "lon_wgs84", lon)
    df.insert(1, "lat_wgs84", lat)
    p = tmp_path / name
    df.to_csv(p, index=False, encoding=encoding)
    return p


def test_base_deficits_are_the_hand_numbers(city):
    _, base = city
    t = base.towns.set_index("town_code")
    np.testing.assert_allclose(t.loc[[TOWN_A, TOWN_B, "441900"], "deficit"], [4790.0, 10240.0, 15030.0])
    assert t.loc[TOWN_B, "supply_status"] == "fail"


def test_deficit_closure_by_hand():
    # A: deficit 1,000; B: 0 (passes); C: unknown.  Sites in rank order:
    towns = ["A", "B", "A", "A", "C", "A"]
    cap = [600.0, 300.0, 600.0, np.nan, 100.0, 200.0]
    before = [1000.0, 0.0, 1000.0, 1000.0, np.nan, 1000.0]
    d = deficit_closure(towns, cap, before)
    # A: 600 closes 600 (60 %); the next 600 only the 400 left (40 %, cum 1,000 = 100 %); unknown size: empty;
    # the last 200 closes nothing.  B has no deficit: closes 0, share empty.  C unknown: all empty.
    np.testing.assert_allclose(d["deficit_closed"], [600, 0, 400, np.nan, np.nan, 0])
    np.testing.assert_allclose(d["deficit_closed_share"], [0.6, np.nan, 0.4, np.nan, np.nan, 0.0])
    np.testing.assert_allclose(d["town_deficit_closed_cum"], [600, 0, 1000, np.nan, np.nan, 1000])
    np.testing.assert_allclose(d["town_deficit_closed_cum_share"], [0.6, np.nan, 1.0, np.nan, np.nan, 1.0])
    np.testing.assert_allclose(d["town_deficit_after"], [0, 0, 0, 0, np.nan, 0])
    # no size at all: nothing closed, nothing after
    e = deficit_closure(["A", "A"], [np.nan, np.nan], [1000.0, 1000.0])
    assert e.isna().all().all()


def test_file_sizes_close_town_deficits_by_hand(city, tmp_path):
    st, base = city
    # sites: x = 2,000 (B, covers 1,700..2,300: 7 x 200 = 1,400 people), x = 2,800 (B, 2,500..3,000: 6 x 200
    # = 1,200), x = 1,000 (A, 700..1,300: 7 x 100 = 700).  Greedy order by new people: 2000, 2800, 1000.
    f = _site_file(
        tmp_path,
        [
            {"x": 1000.0, "名称": "", "场地面积(平方米)": "6,000"},
            {"x": 2000.0, "名称": "新体育公园", "场地面积(平方米)": "4000㎡"},
            {"x": 2800.0, "名称": "", "场地面积(平方米)": 2000},
        ],
    )
    cs = build_candidates(st, base, gaps=False, path=f, crs="wgs84")
    assert cs.capacity["column"] == "场地面积(平方米)"
    res = plan_sites(st, base, cs, k=3)
    t = res.table
    assert t["new_population"].tolist() == pytest.approx([1400, 1200, 700])
    assert t["town_code"].tolist() == [TOWN_B, TOWN_B, TOWN_A]
    np.testing.assert_allclose(t["capacity"], [4000, 2000, 6000])
    assert t["capacity_unit"].tolist() == ["m2"] * 3 and t["capacity_source"].tolist() == ["file"] * 3
    np.testing.assert_allclose(t["town_deficit_before"], [10240, 10240, 4790])
    # B: 4,000 then 2,000 of 10,240 (39.0625 %, 19.53125 %; cum 58.59375 %), 4,240 left;
    # A: 6,000 against 4,790: closes 4,790 (100 %), 0 left
    np.testing.assert_allclose(t["deficit_closed"], [4000, 2000, 4790])
    np.testing.assert_allclose(t["deficit_closed_share"], [0.390625, 0.1953125, 1.0])
    np.testing.assert_allclose(t["town_deficit_closed_cum"], [4000, 6000, 4790])
    np.testing.assert_allclose(t["town_deficit_closed_cum_share"], [0.390625, 0.5859375, 1.0])
    np.testing.assert_allclose(t["town_deficit_after"], [4240, 4240, 0])
    s = res.summary["supply"]
    assert s["capacity"] == "given" and s["unit"] == "m2" and s["sites_with_capacity"] == 3
    assert s["deficit_closed_total"] == pytest.approx(10790)
    # the city nets: 15,030 - 12,000 added = 3,030
    assert s["city"] == {"deficit_before": 15030.0, "capacity_added": 12000.0, "deficit_after": 3030.0}
    towns = {r["town_code"]: r for r in s["towns"]}
    assert towns[TOWN_B]["deficit_after"] == pytest.approx(4240) and towns[TOWN_A]["deficit_after"] == 0
    # names: the file's name, else village + rank (no road names on this network)
    assert t["name"].tolist() == ["新体育公园", "莞城街道村2 附近 #2", "东城街道村1 附近 #3"]
    # villages reached, with their newly covered people, and the machine column
    assert t["villages_reached_names"].tolist() == ["村2 1,400 人", "村2 1,200 人", "村1 700 人"]
    assert t["villages_reached"].tolist() == [f"{TOWN_B}001:1400.0", f"{TOWN_B}001:1200.0", f"{TOWN_A}001:700.0"]
    # write and read back: amounts with 2 decimals, shares as fractions, no "nan" anywhere
    d = write_sites(res, "fitness_15", tmp_path / "out")
    c = pd.read_csv(d / "candidates.csv", encoding="utf-8-sig")
    c.columns = [x.split(" ")[0] for x in c.columns]
    assert c["deficit_closed"].tolist() == [4000, 2000, 4790] and c["town_deficit_after"].tolist() == [4240, 4240, 0]
    assert "deficit_closed 本点填补缺口" in pd.read_csv(d / "candidates.csv", encoding="utf-8-sig", nrows=0).columns


def test_site_capacity_fills_generated_and_unsized_file_sites(city, tmp_path):
    st, base = city
    f = _site_file(tmp_path, [{"x": 2000.0, "建筑面积(平方米)": ""}, {"x": 1000.0, "建筑面积(平方米)": "3000"}])
    with pytest.warns(DgCoverageWarning) as rec:
        cs = build_candidates(st, base, gaps=False, path=f, crs="wgs84", site_capacity=5000)
    # the empty cell is reported as a candidate site's, naming the file, never as a "facility"
    msgs = [str(w.message) for w in rec if issubclass(w.category, DgCoverageWarning)]
    assert any("1 candidate sites have no capacity" in m for m in msgs), msgs
    assert all(str(f) in m and "facilit" not in m for m in msgs), msgs
    res = plan_sites(st, base, cs, k=2)
    t = res.table
    assert t["site_id"].str.startswith("sites:").all()
    np.testing.assert_allclose(t["capacity"], [5000, 3000])
    assert t["capacity_source"].tolist() == ["site_capacity", "file"]
    np.testing.assert_allclose(t["deficit_closed"], [5000, 3000])
    np.testing.assert_allclose(t["town_deficit_after"], [5240, 1790])
    assert res.summary["supply"]["site_capacity"] == 5000.0


def test_without_sizes_columns_are_empty_and_the_summary_says_so(city, tmp_path):
    st, base = city
    res = plan_sites(st, base, build_candidates(st, base), k=2)
    t = res.table
    assert len(t) == 2 and t["capacity"].isna().all() and t["deficit_closed"].isna().all()
    assert t["town_deficit_after"].isna().all() and (t["capacity_source"] == "").all()
    assert t["town_deficit_before"].notna().all()  # the town's deficit is known even without a size
    s = res.summary["supply"]
    assert s["capacity"] == "capacity not given" and "capacity not given" in s["note"]
    assert s["deficit_closed_total"] is None and s["city"]["deficit_after"] is None
    d = write_sites(res, "fitness_15", tmp_path)
    with open(d / "candidates.csv", encoding="utf-8-sig", newline="") as fh:
        header, row = list(csv.reader(fh))[:2]
    assert row[header.index("capacity 规模(容量)")] == "" and row[header.index("deficit_closed 本点填补缺口")] == ""
    for name in ("candidates.csv", "candidates.geojson", "siting_summary.json"):
        text = (d / name).read_text(encoding="utf-8-sig")
        for bad in ("nan", "NaN", "None"):
            assert bad not in text, (name, bad)


def test_site_capacity_refused_where_it_means_nothing(city):
    st, base = city
    with pytest.raises(ConfigError, match="must be a number > 0"):
        build_candidates(st, base, site_capacity=0)
    legal = dataclasses.replace(load_config()[0]["legal_aid_30"], minutes=5)
    base_l = run_circle(st, legal, facilities_at([(0.0, 0.0)]))
    with pytest.raises(ConfigError, match="legal_aid_30 has no supply standard"):
        build_candidates(st, base_l, site_capacity=100)
    # no standard: no supply columns, and the summary says why
    res = plan_sites(st, base_l, build_candidates(st, base_l), k=1)
    assert "capacity" not in res.table.columns and res.summary["supply"]["standard"] is None


def test_elderly_beds_deficit_closed(tmp_path):
    st = _city()
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity"] = [1.0]
    base = run_circle(st, _circle("elderly_care_15"), fac)
    t = base.towns.set_index("town_code")
    # 35 beds per 1,000 aged 60+ at the default share: B needs 35 x 3,200 x share / 1,000
    share = float(t.loc[TOWN_B, "elderly"]) / 3200.0
    need_b = 35 * 3200 * share / 1000
    assert float(t.loc[TOWN_B, "deficit"]) == pytest.approx(need_b)
    f = _site_file(tmp_path, [{"x": 2000.0, "床位数(张)": "5张"}])
    res = plan_sites(st, base, build_candidates(st, base, gaps=False, path=f, crs="wgs84"), k=1)
    r = res.table.iloc[0]
    assert r["capacity"] == 5 and r["capacity_unit"] == "beds"
    assert r["deficit_closed"] == pytest.approx(5.0) and r["town_deficit_after"] == pytest.approx(need_b - 5)
    assert r["deficit_closed_share"] == pytest.approx(5 / need_b)


def test_candidate_file_errors_and_warnings_say_candidate_sites(city, tmp_path):
    st, base = city
    lon, lat = lonlat([1000.0, 2000.0], [0.0, 0.0])
    f = tmp_path / "cands.csv"
    pd.DataFrame({"名称": ["甲", "乙", "丙"], "经度": [lon[0], lon[1], "x"], "纬度": [lat[0], lat[1], ""]}).to_csv(
        f, index=False, encoding="gbk"
    )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cs = build_candidates(st, base, gaps=False, path=f, crs="wgs84")
    msgs = [str(w.message) for w in rec if issubclass(w.category, DgCoverageWarning)]
    assert any("1 candidate site rows" in m for m in msgs), msgs
    assert all("facilit" not in m and str(f) in m for m in msgs), msgs
    assert cs.table["name"].tolist() == ["甲", "乙"] and cs.table["capacity"].isna().all()
    # every site outside the study area: the error names the file and candidate sites
    far = tmp_path / "far.csv"
    pd.DataFrame({"name": ["a"], "lon": [24.94], "lat": [60.17]}).to_csv(far, index=False)
    with (
        pytest.warns(DgCoverageWarning, match="far.csv: 1 candidate sites outside the study area dropped"),
        pytest.raises(EmptyInputError, match="far.csv.*candidate site") as ei,
    ):
        build_candidates(st, base, gaps=False, path=far, crs="wgs84")
    assert "facilit" not in str(ei.value)
    assert candidate_wording("3 facilities outside the study area (--facilities-crs)") == (
        "3 candidate sites outside the study area (--candidates-crs)"
    )


def test_site_names_never_nan():
    got = site_names(
        ["体育公园", np.nan, "nan", None, "", ""],
        ["", "莞太路", "", "", "", float("nan")],
        ["东城街道", "东城街道", "东城街道", "", "莞城街道", ""],
        ["温塘社区", "温塘社区", "", "", "", ""],
        [1, 2, 3, 4, 5, 6],
    )
    assert got == [
        "体育公园",
        "莞太路 旁（东城街道温塘社区）",
        "东城街道 附近 #3",
        "候选点 site #4",
        "莞城街道 附近 #5",
        "候选点 site #6",
    ]


def test_deficit_weighted_objective_by_hand(tmp_path):
    """MCLP weighted by the towns' shortfall picks the site in the short town; the columns stay people.

    A 1,000,000 m² park at x = 1,500 (town B) covers 1,200..1,800, so B passes; A keeps its 10 m² at x = 0 and is
    short by 4,790 of 4,800.  Candidates: x = 1,000 in A newly covers 700..1,100 (5 x 100 = 500 people);
    x = 3,000 in B covers 2,700..3,000 (4 x 200 = 800).  People only: B.  Weight 1: A counts
    500 x (1 + 4,790 / 4,800) = 998.958 > 800 x (1 + 0): A.
    """
    st = _city()
    fac = facilities_at([(0.0, 0.0), (1500.0, 0.0)])
    fac["capacity"] = [10.0, 1_000_000.0]
    base = run_circle(st, _circle(), fac)
    t = base.towns.set_index("town_code")
    assert t.loc[TOWN_B, "deficit"] == 0 and t.loc[TOWN_A, "deficit"] == pytest.approx(4790)
    f = _site_file(tmp_path, [{"x": 1000.0}, {"x": 3000.0}])
    cs = build_candidates(st, base, gaps=False, path=f, crs="wgs84")
    plain = plan_sites(st, base, cs, k=1)
    assert plain.table["town_code"].tolist() == [TOWN_B] and plain.table["new_population"].tolist() == [800]
    assert plain.summary["objective"]["deficit_weight"] == 0
    weighted = plan_sites(st, base, cs, k=1, deficit_weight=1.0, exact=True)
    assert weighted.table["town_code"].tolist() == [TOWN_A] and weighted.table["new_population"].tolist() == [500]
    obj = weighted.summary["objective"]
    assert obj["town_factor"] == {TOWN_A: pytest.approx(1 + 4790 / 4800), TOWN_B: 1.0}
    for key in ("mclp_greedy", "mclp_exact"):
        rec = weighted.summary["solutions"][key]
        assert rec["covered_population"] == 500 and rec["objective"] == pytest.approx(998.96, abs=0.05)
    # both sites: the order follows the weighted gains, the people stay people
    both = plan_sites(st, base, cs, k=2, deficit_weight=1.0)
    assert both.table["new_population"].tolist() == [500, 800]
    assert both.summary["solutions"]["mclp_greedy"]["covered_population"] == 1300
    with pytest.raises(ConfigError, match=">= 0"):
        plan_sites(st, base, cs, k=1, deficit_weight=-1)


def test_named_roads_name_the_sites(city, tmp_path):
    st, base = city
    # edges starting east of the town border (x = 1,450 m) are 莞太路, the western ones have no name
    border = lonlat([1450.0], [0.0])[0][0]
    names = np.array(["莞太路" if st.net.lon[u] > border else "" for u in st.net.u], dtype=object)
    named = dataclasses.replace(st, net=dataclasses.replace(st.net, name=names))
    f = _site_file(tmp_path, [{"x": 1000.0}, {"x": 2000.0}])
    res = plan_sites(named, base, build_candidates(named, base, gaps=False, path=f, crs="wgs84"), k=2)
    t = res.table.set_index("town_code")
    assert t.loc[TOWN_B, "road_name"] == "莞太路" and t.loc[TOWN_B, "name"] == "莞太路 旁（莞城街道村2）"
    assert t.loc[TOWN_A, "road_name"] == "" and t.loc[TOWN_A, "name"] == f"东城街道村1 附近 #{t.loc[TOWN_A, 'rank']}"
