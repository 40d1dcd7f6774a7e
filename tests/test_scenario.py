"""Scenarios: the ledger on a street known by hand, and adding site's top-k reproduces its newly covered people."""

from __future__ import annotations

import geopandas as gpd
import pytest

from dgcoverage.errors import ConfigError
from dgcoverage.inputs.config import load_config
from tests._tiny import facilities_at, lonlat
from tests.test_sensitivity import _line


def _points(xs):
    lon, lat = lonlat([x for x in xs], [0.0] * len(xs))
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)


def test_adding_a_centre_at_the_far_end():
    from dgcoverage.pipeline.scenario import run_scenario

    # homes 20 m off a street at x = 0..400 (village 1), 700, 800 (village 2), 1,100, 1,200 (village 3); 900 m
    # in 15 minutes at 3.6 km/h; a centre at x = 0 covers villages 1 and 2; one added at x = 1,200 covers 3
    circle = load_config()[0]["elderly_care_15"]
    sc = run_scenario(_line(), circle, facilities_at([(0.0, 0.0)]), add=_points([1200.0]))
    assert sc.villages["code"].tolist() == ["441900003003"]
    row = sc.villages.iloc[0]
    assert (row["status_before"], row["status_after"], row["change"]) == ("gap", "covered", "newly_covered")
    assert (row["covered_population_before"], row["covered_population_after"]) == (0.0, 200.0)
    assert sc.summary["city"]["newly_covered_population"] == 200.0
    assert sc.summary["method"].startswith("one search")
    city = sc.towns.iloc[-1]
    assert (city["villages_covered_before"], city["villages_covered_after"], city["villages_newly_covered"]) == (
        2,
        3,
        1,
    )


def test_moving_the_centre_to_the_far_end():
    from dgcoverage.pipeline.scenario import run_scenario

    # the centre at x = 0 closes and one opens at 1,200: village 1's homes are now 820..1,220 m away (one of five
    # within 900 m: 20 %), village 2 stays covered (520, 420 m: unchanged, not listed), village 3 becomes covered
    circle = load_config()[0]["elderly_care_15"]
    sc = run_scenario(_line(), circle, facilities_at([(0.0, 0.0)]), add=_points([1200.0]), remove=["f000"])
    v = sc.villages.set_index("code")
    assert v.index.tolist() == ["441900003001", "441900003003"]
    assert v.loc["441900003001", "change"] == "no_longer_covered"
    assert v.loc["441900003001", "covered_share_after"] == pytest.approx(0.2)
    assert v.loc["441900003001", "covered_population_change"] == -400.0
    assert v.loc["441900003003", "change"] == "newly_covered"
    assert sc.summary["city"]["no_longer_covered_population"] == 400.0
    assert sc.summary["edits"]["removed"] == ["f000"] and sc.summary["method"].startswith("full run")
    with pytest.raises(ConfigError, match="not among"):
        run_scenario(_line(), circle, facilities_at([(0.0, 0.0)]), remove=["nope"])


def test_adding_sites_top_k_reproduces_its_cumulative_newly_covered_people(small_city):
    import dgcoverage as dg
    from dgcoverage.pipeline.scenario import run_scenario

    study = dg.load_study(data_dir=small_city)
    circle = load_config()[0]["fitness_15"]
    fac = dg.load_facilities(study, circle, data_dir=small_city)
    base = dg.run_circle(study, circle, fac)
    ranked = dg.plan_sites(study, base, k=4).table
    add = gpd.GeoDataFrame(geometry=gpd.points_from_xy(ranked["lon"], ranked["lat"]), crs=4326)
    sc = run_scenario(study, circle, fac, add=add, before=base)
    assert len(ranked) == 4 and ranked["cum_new_population"].iloc[-1] > 0
    assert sc.summary["city"]["newly_covered_population"] == pytest.approx(
        float(ranked["cum_new_population"].iloc[-1]), abs=1e-6
    )
    # and the full run of the edited facilities agrees with the one-search path
    full = dg.run_circle(study, circle, gpd.GeoDataFrame(pd_concat(fac, add), crs=4326), supply=False)
    assert sc.summary["city"]["covered_population_after"] == pytest.approx(
        full.summary.results["covered_population"], abs=0.1
    )


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a[["geometry"]], b], ignore_index=True)


def test_ledger_files(tmp_path):
    import json

    import pandas as pd

    from dgcoverage.outputs.ledger import write_ledger
    from dgcoverage.pipeline.scenario import run_scenario

    circle = load_config()[0]["elderly_care_15"]
    sc = run_scenario(_line(), circle, facilities_at([(0.0, 0.0)]), add=_points([1200.0]), sources={"add": "x.csv"})
    d = write_ledger(sc.villages, sc.towns, sc.summary, tmp_path / "elderly_care_15")
    v = pd.read_csv(d / "changes.csv", encoding="utf-8-sig", dtype=str)
    assert v[["status_before 状态(现状)", "status_zh_after 状态(中文)(情景)", "change 变化"]].values.tolist() == [
        ["gap", "达标", "newly_covered"]
    ]
    assert v["covered_share_after 覆盖率(情景)"].tolist() == ["1.000000"]
    t = pd.read_csv(d / "changes_towns.csv", encoding="utf-8-sig", dtype=str)
    assert t["covered_population_change 覆盖人口变化"].tolist() == ["200", "200"]
    s = json.loads((d / "scenario.json").read_text(encoding="utf-8"))
    assert s["edits"] == {"added": 1, "removed": [], "sources": {"add": "x.csv"}} and "seconds" not in s


def test_ledger_workbook(tmp_path):
    from openpyxl import load_workbook

    from dgcoverage.outputs.ledger import write_ledger
    from dgcoverage.pipeline.scenario import run_scenario

    # the centre at x = 0 closes, one opens at x = 1,200 (test_moving_the_centre_to_the_far_end): village 1 falls
    # to 20 % (partial), village 3 becomes covered; a source named "=cmd()" stays text, never a formula
    circle = load_config()[0]["elderly_care_15"]
    sc = run_scenario(
        _line(), circle, facilities_at([(0.0, 0.0)]), add=_points([1200.0]), remove=["f000"], sources={"add": "=cmd()"}
    )
    d = write_ledger(sc.villages, sc.towns, sc.summary, tmp_path / "elderly_care_15")
    wb = load_workbook(d / "changes.xlsx")
    assert wb.sheetnames == ["变化 村(社区) villages", "变化 镇街 towns", "说明 about"]
    ws = wb["变化 村(社区) villages"]
    head = [c.value for c in ws[1]]
    rows = {r[head.index("代码 code")]: dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"441900003001", "441900003003"}  # codes stay text
    v1, v3 = rows["441900003001"], rows["441900003003"]
    assert (v1["状态(现状) status_before"], v1["状态(情景) status_after"]) == ("达标 covered", "部分覆盖 partial")
    assert (v1["覆盖率(现状) covered_share_before"], v1["覆盖率(情景) covered_share_after"]) == (1.0, 0.2)
    assert (v1["覆盖人口变化 covered_population_change"], v1["变化 change"]) == (-400, "不再达标 no longer covered")
    assert (v3["覆盖人口(现状) covered_population_before"], v3["覆盖人口(情景) covered_population_after"]) == (0, 200)
    assert v3["变化 change"] == "新增达标 newly covered" and v3["合成数据 synthetic"] in ("是 yes", "否 no")
    pct = ws.cell(row=2, column=head.index("覆盖率(情景) covered_share_after") + 1).number_format
    assert pct == "0.0%"
    t = wb["变化 镇街 towns"]
    th = [c.value for c in t[1]]
    city = dict(zip(th, list(t.iter_rows(min_row=2, values_only=True))[-1]))
    newly, lost = (
        city["新增达标村(社区)数 villages_newly_covered"],
        city["不再达标村(社区)数 villages_no_longer_covered"],
    )
    assert (newly, lost) == (1, 1)
    about = {r[0]: r[1] for r in wb["说明 about"].iter_rows(min_row=2, values_only=True)}
    assert about["关闭设施 facilities removed"] == "f000" and about["来源 source: add"] == "=cmd()"
    for s in wb.worksheets:
        for row in s.iter_rows():
            assert all(c.data_type != "f" for c in row)


def test_scenario_page_shows_the_change_before_and_after(tmp_path):
    from dgcoverage.outputs.maps.scenario import scenario_map_html, scenario_page_name
    from dgcoverage.pipeline.run import run_circle
    from dgcoverage.pipeline.scenario import run_scenario
    from tests.test_maps_ui import _counts, _probe

    # the centre at x = 0 closes, one opens at x = 1,200: village 1 covered -> partial (no longer covered),
    # village 2 unchanged, village 3 gap -> covered (newly covered)
    study, circle = _line(), load_config()[0]["elderly_care_15"]
    fac = facilities_at([(0.0, 0.0)])
    before = run_circle(study, circle, fac, supply=False)
    add = _points([1200.0])
    sc = run_scenario(study, circle, fac, add=add, remove=["f000"], before=before)
    page = tmp_path / scenario_page_name(circle.id)
    page.write_text(
        scenario_map_html(study, before, sc.villages, sc.after_villages, sc.summary, add, ["f000"]), encoding="utf-8"
    )
    assert page.name == "scenario_elderly_care_15.html"
    codes = study.villages["code"].astype(str).tolist()
    script = (
        "var lg=document.getElementById('dg-legend').textContent;out('legend',lg);"
        "out('popup1',dgApi.villagePopup(" + str(codes.index("441900003001")) + "));"
        "dgApi.focusVillage(" + str(codes.index("441900003003")) + ");"
        "var p=document.querySelector('.leaflet-popup-content');out('popup3',p?p.textContent:'');"
        "out('marks',document.querySelectorAll('.dg-cand').length);"
        "out('green',document.querySelectorAll('path[fill=\"#1b7837\"]').length);"
    )
    r = _probe(page, script, tmp_path)
    assert _counts(r["_dom"])["ready"] == "1" and _counts(r["_dom"])["villages"] == "3"
    for label in ("新增达标 newly covered (1)", "不再达标 no longer covered (1)", "不变 unchanged (1)", "改善"):
        assert label in r["legend"]
    assert "合成数据 SYNTHETIC" in r["legend"] or "synthetic = false" in r["_dom"]
    assert "服务盲区 gap → 达标 covered" in r["popup3"] and "0.0% → 100.0%" in r["popup3"]
    assert "达标 covered → 部分覆盖 partial" in r["popup1"] and "100.0% → 20.0%" in r["popup1"]
    assert r["marks"] >= 2  # the added (+) and the removed (×) facility
    assert r["green"] == 1  # village 3 filled as newly covered
