"""Scenario edits on tiny networks where the ledger is known by hand: a new link, a closure, a capacity change."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.errors import ConfigError, InputFileError
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.scenario import links_frame, read_capacity_edits, read_scenario
from tests._tiny import facilities_at, lonlat, two_islands
from tests.test_sensitivity import _line

ELDERLY = "elderly_care_15"  # 15 min walked at 3.6 km/h (1 m/s: 900 m), 90 % of a village's people to pass


def _with_share(study, share):
    return replace(study, settings=replace(study.settings, elderly_share=share))


def _link(x0, y0, x1, y1, **kw):
    (a, c), (b, d) = lonlat([x0, x1], [y0, y1])
    return links_frame([{"from_lon": a, "from_lat": b, "to_lon": c, "to_lat": d, **kw}])


def _box(x0, y0, x1, y1):
    (a, c), (b, d) = lonlat([x0, x1], [y0, y1])
    return gpd.GeoDataFrame(geometry=[shapely.box(a, b, c, d)], crs=4326)


def test_a_link_joins_the_disconnected_village():
    from dgcoverage.pipeline.scenario import run_scenario

    # two streets 2 km apart (x = 0 and x = 2,000, nodes every 100 m up to y = 400), homes 20 m east of each
    # node, 100 people each; a centre at (0, 0).  A link from (0, 400) to (2,000, 400) taking 2 minutes:
    # the east node at y is 400 + 120 + (400 - y) s away, its home 20 s more: 540, 640, 740, 840, 940 s; four
    # of five within 900 s -> 80 % (partial, 90 % to pass), 400 people, 80 older people at a share of 0.2
    study = _with_share(two_islands(), 0.2)
    circle = load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    sc = run_scenario(study, circle, fac, links=_link(0, 400, 2000, 400, minutes=2.0, name="桥"))
    assert sc.villages["code"].tolist() == ["441900003002"]
    row = sc.villages.iloc[0]
    assert (row["status_before"], row["status_after"], row["change"]) == ("unreachable", "partial", "improved")
    assert row["covered_share_after"] == pytest.approx(0.8)
    assert (row["covered_population_before"], row["covered_population_after"]) == (0.0, 400.0)
    assert (row["elderly_covered_before"], row["elderly_covered_after"]) == pytest.approx((0.0, 80.0))
    city = sc.towns.iloc[-1]
    assert (city["elderly_covered_before"], city["elderly_covered_after"]) == pytest.approx((100.0, 180.0))
    assert city["elderly_covered_change"] == pytest.approx(80.0)
    s = sc.summary
    assert s["recomputed_in_full"] and s["method"].startswith("full run on the edited network")
    (link,) = s["edits"]["roads"]["links"]
    assert (link["from_node_id"], link["to_node_id"], link["minutes"], link["name"]) == (1004, 1009, 2.0, "桥")
    assert s["city"]["newly_covered_population"] == 400.0
    # at 36 km/h the 2,000 m link takes 200 s: 620, 720, 820 s within 900 s, 920 and 1,020 s not -> 60 %
    fast = run_scenario(study, circle, fac, links=_link(0, 400, 2000, 400, speed_kmh=36.0))
    assert fast.villages.iloc[0]["covered_share_after"] == pytest.approx(0.6)
    # a link serving only bicycles changes nothing for a walked circle
    bike = run_scenario(study, circle, fac, links=_link(0, 400, 2000, 400, minutes=5.0, mode="bicycle"))
    assert len(bike.villages) == 0 and bike.summary["edits"]["roads"]["links_not_serving_mode"] == 1


def test_older_people_from_an_elderly_raster_per_cell():
    from dataclasses import fields

    from dgcoverage.pipeline.scenario import run_scenario
    from dgcoverage.pipeline.study import Study

    if "cell_elderly" not in {f.name for f in fields(Study)}:
        pytest.skip("this Study has no cell_elderly")
    # the link of the test above (2 minutes): east homes at y = 100..400 become reached, y = 0 not; older people
    # per home 5, 10, 15, 20, 25 (east, y = 0..400) and 10 each (west): 10 + 15 + 20 + 25 = 70 gained
    study = replace(two_islands(), cell_elderly=np.array([10.0] * 5 + [5.0, 10.0, 15.0, 20.0, 25.0]))
    circle = load_config()[0][ELDERLY]
    sc = run_scenario(study, circle, facilities_at([(0.0, 0.0)]), links=_link(0, 400, 2000, 400, minutes=2.0))
    row = sc.villages.iloc[0]
    assert (row["elderly_covered_before"], row["elderly_covered_after"]) == (0.0, 70.0)
    city = sc.towns.iloc[-1]
    assert (city["elderly_covered_before"], city["elderly_covered_after"]) == (50.0, 120.0)
    assert sc.summary["elderly_basis"].startswith("elderly raster")


def test_a_link_end_off_the_streets_is_refused_naming_the_point():
    from dgcoverage.pipeline.scenario import run_scenario

    circle = load_config()[0][ELDERLY]
    with pytest.raises(ConfigError, match=r"link 1 \(远桥\): its to point .* from the nearest open street node"):
        run_scenario(two_islands(), circle, facilities_at([(0.0, 0.0)]), links=_link(0, 400, 2000, 3000, name="远桥"))
    with pytest.raises(ConfigError, match="speed_kmh or minutes, not both"):
        _link(0, 0, 1, 1, speed_kmh=4.0, minutes=1.0)
    with pytest.raises(ConfigError, match="mode must be one of"):
        _link(0, 0, 1, 1, mode="boat")


def test_a_closure_cuts_a_village_off():
    from dgcoverage.pipeline.scenario import run_scenario

    # the street y = 0, nodes every 100 m to 1,200 m, the centre at x = 0 (test_sensitivity._line); closing the
    # polygon around the node at x = 500 removes the edges 400-500 and 500-600 (both ways): village 2's homes
    # (720, 820 m, covered) and village 3's (a gap: 1,120, 1,220 m) are cut off from every centre -> unreachable
    study = _with_share(_line(), 0.25)
    circle = load_config()[0][ELDERLY]
    sc = run_scenario(study, circle, facilities_at([(0.0, 0.0)]), closures=_box(450, -10, 550, 10))
    assert sc.villages["code"].tolist() == ["441900003002", "441900003003"]
    row, v3 = sc.villages.iloc[0], sc.villages.iloc[1]
    assert (row["status_before"], row["status_after"], row["change"]) == ("covered", "unreachable", "no_longer_covered")
    assert (v3["status_before"], v3["status_after"], v3["change"]) == ("gap", "unreachable", "worse")
    assert v3["covered_population_change"] == 0.0
    assert (row["covered_population_before"], row["covered_population_after"]) == (200.0, 0.0)
    assert (row["elderly_covered_before"], row["elderly_covered_after"]) == pytest.approx((50.0, 0.0))
    roads = sc.summary["edits"]["roads"]
    assert (roads["nodes_inside_closures"], roads["directed_edges_removed"]) == (1, 4)
    assert sc.summary["city"]["no_longer_covered_population"] == 200.0
    assert sc.summary["city"]["villages_covered_after"] == 1


def test_a_capacity_change_with_a_hand_computed_2sfca(tmp_path):
    from dgcoverage.pipeline.scenario import run_scenario

    # one centre at x = 0 with 3 beds; older people = 10 % of 100 per home.  Homes within 900 m: village 1 (5)
    # and village 2 (2): 70 older people in the catchment, so every one of them reaches 3/70 beds per older
    # person = 42.857 per 1,000; 4 beds: 57.143.  Town: 90 older people, 3 beds = 33.3 per 1,000 (< 35: fail),
    # 4 beds = 44.4 (pass).  Coverage does not change; village 3 (beyond 900 m) reaches none either way.
    study = _with_share(_line(), 0.1)
    circle = load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity"] = [3.0]
    fac.attrs["capacity"] = {"kind": "beds", "column": "capacity"}
    edits = tmp_path / "beds.csv"
    edits.write_text("facility_id,床位(张)\nf000,4张\n", encoding="utf-8")
    cap = read_capacity_edits(edits, "beds")
    assert cap[["facility_id", "capacity"]].values.tolist() == [["f000", 4.0]]
    sc = run_scenario(study, circle, fac, capacity=cap)
    v = sc.villages.set_index("code")
    assert v.index.tolist() == ["441900003001", "441900003002"]
    assert v["access_supply_before"].tolist() == pytest.approx([3 / 70 * 1000] * 2)
    assert v["access_supply_after"].tolist() == pytest.approx([4 / 70 * 1000] * 2)
    assert (v["change"] == "improved").all() and (v["status_before"] == v["status_after"]).all()
    city = sc.towns.iloc[-1]
    assert (city["supply_ratio_before"], city["supply_ratio_after"]) == pytest.approx((3 / 90 * 1000, 4 / 90 * 1000))
    assert (city["supply_status_before"], city["supply_status_after"]) == ("fail", "pass")
    assert (city["supply_before"], city["supply_after"]) == (3.0, 4.0)
    s = sc.summary
    assert s["edits"]["capacity"] == [{"facility_id": "f000", "before": 3.0, "after": 4.0}]
    assert s["towns_supply_status_changed"] == 1 and s["method"].startswith("coverage unchanged")
    with pytest.raises(ConfigError, match=r"\['nope'\] are not among"):
        run_scenario(study, circle, fac, capacity=pd.DataFrame({"facility_id": ["nope"], "capacity": [1.0]}))
    with pytest.raises(ConfigError, match="no supply standard"):
        run_scenario(study, load_config()[0]["legal_aid_30"], fac, capacity=cap)


def test_capacity_file_rows_are_checked(tmp_path):
    p = tmp_path / "area.csv"
    p.write_text("facility_id,场地面积(亩)\na,3\nb,不详\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"row 3 \('不详'\)"):
        read_capacity_edits(p, "area_m2")
    p.write_text("facility_id,场地面积(亩)\na,3\n", encoding="utf-8")
    assert read_capacity_edits(p, "area_m2")["capacity"].tolist() == pytest.approx([2000.0])  # 3 亩


def test_scenario_file(tmp_path):
    (tmp_path / "closing.csv").write_text("facility_id\nf002\n", encoding="utf-8")
    (tmp_path / "area.geojson").write_text(
        gpd.GeoDataFrame(geometry=[shapely.box(113.75, 23.0, 113.76, 23.01)], crs=4326).to_json(), encoding="utf-8"
    )
    toml = tmp_path / "plan.toml"
    toml.write_text(
        'name = "2027"\n[facilities]\nremove = ["f001"]\nremove_file = "closing.csv"\n'
        '[roads]\nclose = "area.geojson"\n[[roads.link]]\nfrom = [113.75, 23.0]\nto = [113.76, 23.0]\n'
        'crs = "gcj02"\nminutes = 3\nname = "桥"\n',
        encoding="utf-8",
    )
    spec = read_scenario(toml)
    assert spec.remove == ["f001", "f002"] and spec.close == tmp_path / "area.geojson"
    link = spec.links.iloc[0]
    assert link["minutes"] == 3.0 and np.isnan(link["speed_kmh"]) and link["mode"] == "all"
    assert 113.744 < link["from_lon"] < 113.746  # GCJ-02 -> WGS84 moves Dongguan ~0.005 deg west
    assert spec.sources()["remove"] == ["f001", "f002"] and spec.sources()["links"] == 1
    toml.write_text('[roads]\nshut = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[roads\]: unknown key\(s\) \['shut'\]"):
        read_scenario(toml)
    toml.write_text('[facilities]\ncapacity = "missing.csv"\n', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"missing.csv: not found \(.*plan.toml \[facilities\] capacity\)"):
        read_scenario(toml)


def test_the_ledger_files_carry_older_people_and_supply(tmp_path):
    from openpyxl import load_workbook

    from dgcoverage.outputs.ledger import write_ledger
    from dgcoverage.pipeline.run import run_circle
    from dgcoverage.pipeline.scenario import run_scenario

    # the capacity scenario above (3 -> 4 beds, older people 10 %), the baseline measured with its supply: the
    # ledger reuses the baseline's figures and equals the one measured afresh
    study = _with_share(_line(), 0.1)
    circle = load_config()[0][ELDERLY]
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity"] = [3.0]
    fac.attrs["capacity"] = {"kind": "beds", "column": "capacity"}
    cap = pd.DataFrame({"facility_id": ["f000"], "capacity": [4.0]})
    before = run_circle(study, circle, fac, speeds=())
    sc = run_scenario(study, circle, fac, capacity=cap, before=before)
    fresh = run_scenario(study, circle, fac, capacity=cap)
    pd.testing.assert_frame_equal(sc.towns, fresh.towns)
    d = write_ledger(sc.villages, sc.towns, sc.summary, tmp_path / ELDERLY)
    t = pd.read_csv(d / "changes_towns.csv", encoding="utf-8-sig", dtype=str)
    city = t.iloc[-1]
    assert (city["supply_status_before 供给状态(现状)"], city["supply_status_zh_after 供给状态(中文)(情景)"]) == (
        "fail",
        "达标",
    )
    assert city["elderly_covered_after 限时内老年人口(情景)"] == "70"  # 700 people within 900 m x 10 %
    assert city["supply_ratio_after 人均(每千人)供给(情景)"] == "44.444444"
    wb = load_workbook(d / "changes.xlsx")
    ws = wb["变化 镇街 towns"]
    head = [c.value for c in ws[1]]
    row = dict(zip(head, list(ws.iter_rows(min_row=2, values_only=True))[-1], strict=True))
    assert row["供给状态(现状) supply_status_before"] == "未达标 fail"
    assert row["供给状态(情景) supply_status_after"] == "达标 pass"
    assert row["限时内老年人口(现状) elderly_covered_before"] == 70
    about = {r[0]: r[1] for r in wb["说明 about"].iter_rows(min_row=2, values_only=True)}
    assert about["容量变化 capacity: f000"] == "3.0 -> 4.0"


def test_command_line_scenario_file(small_city, tmp_path, capsys):
    import json

    from dgcoverage.cli.main import main
    from dgcoverage.core.roadnet import load_network
    from dgcoverage.inputs.coords import from_wgs84

    net = load_network(small_city / "network.npz")
    fac = pd.read_csv(small_city / "facilities" / "elderly_care_15_gcj02.csv", encoding="utf-8-sig", dtype=str)
    i, j = 0, net.n_nodes // 2  # a link between two street nodes, written in GCJ-02 as a Gaode user would
    (a, c), (b, d) = from_wgs84(net.lon[[i, j]], net.lat[[i, j]], "gcj02")
    k = net.n_nodes // 3
    box = shapely.box(net.lon[k] - 3e-4, net.lat[k] - 3e-4, net.lon[k] + 3e-4, net.lat[k] + 3e-4)
    (tmp_path / "closure.geojson").write_text(gpd.GeoDataFrame(geometry=[box], crs=4326).to_json(), encoding="utf-8")
    (tmp_path / "beds.csv").write_text(f"facility_id,床位数(张)\n{fac.iloc[1, 0]},80\n", encoding="utf-8")
    (tmp_path / "plan.toml").write_text(
        f'name = "plan"\ncircle = "elderly_care_15"\n[facilities]\nremove = ["{fac.iloc[0, 0]}"]\n'
        f'capacity = "beds.csv"\n[roads]\nclose = "closure.geojson"\n[[roads.link]]\nfrom = [{a}, {b}]\n'
        f'to = [{c}, {d}]\ncrs = "gcj02"\nminutes = 15\nname = "桥"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["scenario", "--circle", "elderly_care_15", "--data-dir", str(small_city), "--scenario"]
    argv += [str(tmp_path / "plan.toml")]
    assert main([*argv, "--out", str(out), "--maps-dir", str(tmp_path / "maps")]) == 0
    said = capsys.readouterr().out
    assert "recomputed in full" in said and "supply ratio" in said
    s = json.loads((out / "scenario" / "elderly_care_15" / "scenario.json").read_text(encoding="utf-8"))
    assert s["recomputed_in_full"] and s["edits"]["removed"] == [fac.iloc[0, 0]]
    assert s["edits"]["capacity"][0]["after"] == 80.0
    (link,) = s["edits"]["roads"]["links"]
    assert link["from_snap_m"] < 1.0 and link["to_snap_m"] < 1.0 and link["name"] == "桥"  # GCJ-02 read back
    assert s["edits"]["roads"]["nodes_inside_closures"] >= 1
    assert s["edits"]["sources"]["scenario_file"].endswith("plan.toml")
    page = (tmp_path / "maps" / "scenario_elderly_care_15.html").read_text(encoding="utf-8")
    assert "新增连接 new links (1: 桥)" in page and "容量变化 capacity edits: 1" in page
    data = json.loads(page.split('id="dg-data">', 1)[1].split("</script>", 1)[0])
    drawn = {
        x["key"]: [f["properties"]["k"] for f in x["data"]["features"]]
        for x in data["layers"]
        if x["style"] == "roadedit"
    }
    assert drawn["roadlinks"] == ["link"] and "closed" in drawn["roadclosed"] and "area" in drawn["roadclosed"]


def test_the_example_scenario_file_reads():
    from pathlib import Path

    spec = read_scenario(Path(__file__).parents[1] / "docs" / "examples" / "scenario" / "plan.toml")
    assert (spec.circle, spec.add_crs, spec.remove) == ("elderly_care_15", "gcj02", ["elderly_care_15-0003"])
    assert len(spec.links) == 1 and spec.links.iloc[0]["mode"] == "walk" and spec.close.name == "closure.geojson"
    assert read_capacity_edits(spec.capacity, "beds")["capacity"].tolist() == [60.0, 45.0]
