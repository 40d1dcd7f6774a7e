"""Bad scenario inputs are refused (file, key or row, and the fix) or counted: never a silently changed figure."""

from __future__ import annotations

import json
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dgcoverage.errors import ConfigError, CRSError, InputFileError
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.scenario import links_frame, read_capacity_edits, read_scenario
from tests._tiny import facilities_at, lonlat, two_islands
from tests.test_sensitivity import _line

ELDERLY = "elderly_care_15"  # beds; 15 min walked


def _link(x0, y0, x1, y1, **kw):
    (a, c), (b, d) = lonlat([x0, x1], [y0, y1])
    return {"from_lon": a, "from_lat": b, "to_lon": c, "to_lat": d, **kw}


def _box(x0, y0, x1, y1, crs=4326):
    (a, c), (b, d) = lonlat([x0, x1], [y0, y1])
    return gpd.GeoDataFrame(geometry=[shapely.box(a, b, c, d)], crs=crs)


def _beds_study():
    fac = facilities_at([(0.0, 0.0)])
    fac["capacity"] = [3.0]
    fac.attrs["capacity"] = {"kind": "beds", "column": "capacity"}
    return replace(_line(), settings=replace(_line().settings, elderly_share=0.1)), fac


def test_u1_capacity_edits_get_the_plausibility_rules_of_facility_files(tmp_path):
    p = tmp_path / "cap.csv"
    p.write_text("facility_id,床位数(张)\nf000,60000\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"cap.csv.*row 2 \('60000'\).*over 10,000 beds.*mistake"):
        read_capacity_edits(p, "beds")
    p.write_text("facility_id,面积(平方米)\nf000,2000000\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"row 2 \('2000000'\).*over 1,000,000 m²"):
        read_capacity_edits(p, "area_m2")
    p.write_text("facility_id,场地面积\nf000,3\nf001,2.5\n", encoding="utf-8")  # 亩 or ha written without a unit
    with pytest.raises(InputFileError, match=r"row 2 \('3'\), row 3 \('2.5'\).*median capacity.*hectares or 亩"):
        read_capacity_edits(p, "area_m2")
    p.write_text("facility_id,场地面积(亩)\nf000,3\n", encoding="utf-8")  # the unit said: 3 亩 = 2,000 m²
    assert read_capacity_edits(p, "area_m2")["capacity"].tolist() == pytest.approx([2000.0])
    with pytest.raises(InputFileError, match="need a circle with a supply standard"):
        read_capacity_edits(p, None)


def test_u2_u12_counted_warnings_in_scenario_json_and_capacity_frames_checked(tmp_path):
    from dgcoverage.pipeline.scenario import run_scenario

    study, fac = _beds_study()
    circle = load_config()[0][ELDERLY]
    p = tmp_path / "beds.csv"
    p.write_text("facility_id,床位数(张)\nf000,约4\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="approximate"):
        cap = read_capacity_edits(p, "beds")
    sc = run_scenario(study, circle, fac, capacity=cap)
    assert sc.summary["warnings"] == {"capacity_edits_approximate": 1}
    assert sc.summary["edits"]["capacity"] == [{"facility_id": "f000", "before": 3.0, "after": 4.0}]
    # a frame gets the file's rules: "45张" read, NaN / <= 0 / too many / twice refused
    sc = run_scenario(study, circle, fac, capacity=pd.DataFrame({"facility_id": ["f000"], "床位": ["45张"]}))
    assert sc.summary["edits"]["capacity"][0]["after"] == 45.0
    for bad, what in (
        ([np.nan], r"no usable capacity in row 0"),
        ([-2.0], r"no usable capacity in row 0 \(-2.0\)"),
        ([60000.0], r"row 0 \(60000.0\).*over 10,000 beds"),
    ):
        with pytest.raises(ConfigError, match=what):
            run_scenario(study, circle, fac, capacity=pd.DataFrame({"facility_id": ["f000"], "capacity": bad}))
    with pytest.raises(ConfigError, match=r"\['f000'\] listed twice"):
        run_scenario(study, circle, fac, capacity=pd.DataFrame({"facility_id": ["f000"] * 2, "capacity": [4.0, 5.0]}))
    with pytest.raises(ConfigError, match="no supply standard"):
        run_scenario(study, load_config()[0]["legal_aid_30"], fac, capacity=cap)


def test_u3_a_link_whose_ends_snap_to_one_node_is_refused():
    from dgcoverage.pipeline.scenario import run_scenario

    circle = load_config()[0][ELDERLY]
    links = links_frame([_link(0, 0, 30, 10, minutes=1.0, name="短桥")])  # both ends nearest node 0 (0, 0)
    with pytest.raises(ConfigError, match=r"link 1 \(短桥\): both its ends snap to the same street node 1000"):
        run_scenario(two_islands(), circle, facilities_at([(0.0, 0.0)]), links=links)


def _plan(tmp_path, text):
    p = tmp_path / "plan.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_u4_u6_booleans_are_no_coordinates_and_crs_errors_name_the_key(tmp_path):
    p = _plan(tmp_path, "[[roads.link]]\nfrom = [true, false]\nto = [113.76, 23.0]\n")
    with pytest.raises(ConfigError, match=r"plan.toml \[\[roads.link\]\] #1 from: must be \[lon, lat\]"):
        read_scenario(p)
    p = _plan(tmp_path, '[[roads.link]]\nfrom = [113.75, 23.0]\nto = [113.76, 23.0]\ncrs = "gcj2"\n')
    with pytest.raises(CRSError, match=r"plan.toml \[\[roads.link\]\] #1 crs: unknown coordinate system 'gcj2'"):
        read_scenario(p)
    (tmp_path / "a.csv").write_text("lon,lat\n113.75,23.0\n", encoding="utf-8")
    p = _plan(tmp_path, '[facilities]\nadd = "a.csv"\nadd_crs = "amap2"\n')
    with pytest.raises(CRSError, match=r"plan.toml \[facilities\] add_crs: unknown coordinate system 'amap2'"):
        read_scenario(p)
    p = _plan(tmp_path, '[roads]\nclose_crs = "baidu9"\n')
    with pytest.raises(CRSError, match=r"plan.toml \[roads\] close_crs: unknown coordinate system 'baidu9'"):
        read_scenario(p)


def test_u5_link_speeds_and_minutes_are_checked_against_the_mode(tmp_path):
    with pytest.raises(ConfigError, match=r"links row 1: speed_kmh = 5000 is over the hard limit of 150 km/h"):
        links_frame([_link(0, 0, 1000, 0, speed_kmh=5000.0)])
    with pytest.raises(ConfigError, match=r"speed_kmh = 5000 is over the hard limit"):
        links_frame([_link(0, 0, 1000, 0, speed_kmh=5000.0)], allow_unusual_settings=True)
    with pytest.raises(ConfigError, match=r"speed_kmh = 40 is outside the plausible 2-7 km/h for mode 'walk'"):
        links_frame([_link(0, 0, 1000, 0, speed_kmh=40.0, mode="walk")])
    assert links_frame([_link(0, 0, 1000, 0, speed_kmh=40.0, mode="walk")], allow_unusual_settings=True).shape[0] == 1
    # 62.7 km east (flat metres; 62.63 km by haversine) in 1 minute: 3,758 km/h
    with pytest.raises(ConfigError, match=r"minutes = 1 over the 62.63 km .* means 3,758 km/h, over the hard limit"):
        links_frame([_link(0, 0, 62_700, 0, minutes=1.0)])
    # 2 km in 2 minutes by bicycle: 60 km/h, over the plausible 30
    with pytest.raises(ConfigError, match=r"means 60 km/h, over the plausible 30 km/h of mode 'bicycle'"):
        links_frame([_link(0, 0, 2000, 0, minutes=2.0, mode="bicycle")])
    p = _plan(tmp_path, "[[roads.link]]\nfrom = [113.75, 23.0]\nto = [113.76, 23.0]\nspeed_kmh = 300\n")
    with pytest.raises(ConfigError, match=r"plan.toml \[\[roads.link\]\] #1: speed_kmh = 300 is over the hard"):
        read_scenario(p)
    p = _plan(tmp_path, "allow_unusual_settings = true\n[[roads.link]]\nfrom = [113.75, 23.0]\nto = [113.76, 23.0]\n"
              'mode = "walk"\nspeed_kmh = 12\n')  # fmt: skip
    assert read_scenario(p).links["speed_kmh"].tolist() == [12.0]


def test_u7_a_closure_that_closes_no_street_is_refused_with_the_likely_cause():
    from dgcoverage.pipeline.scenario import run_scenario

    circle = load_config()[0][ELDERLY]
    study, fac = _line(), facilities_at([(0.0, 0.0)])
    (a, c), (b, d) = lonlat([450, 550], [-10, 10])
    swapped = gpd.GeoDataFrame(geometry=[shapely.box(b, a, d, c)], crs=4326)  # lat/lon swapped
    with pytest.raises(ConfigError, match=r"polygon 1 closes no street: .*longitude and latitude are swapped"):
        run_scenario(study, circle, fac, closures=swapped)
    between = pd.concat([_box(450, -10, 550, 10), _box(420, -10, 480, 10)], ignore_index=True)  # 2nd: no node
    with pytest.raises(ConfigError, match=r"polygon 2 closes no street: no street node lies inside it.*datum"):
        run_scenario(study, circle, fac, closures=between)


def test_u10_u11_api_frames_get_the_readers_checks():
    from dgcoverage.pipeline.scenario import run_scenario

    circle = load_config()[0][ELDERLY]
    study, fac = _line(), facilities_at([(0.0, 0.0)])
    with pytest.raises(CRSError, match="closures: the closure polygons have no CRS"):
        run_scenario(study, circle, fac, closures=_box(450, -10, 550, 10).set_crs(None, allow_override=True))
    far = facilities_at([(1200.0, 0.0)]).drop(columns="facility_id")
    with pytest.raises(CRSError, match="add: the facilities to add have no CRS"):
        run_scenario(study, circle, fac, add=far.set_crs(None, allow_override=True))
    (lon,), (lat,) = lonlat([1200.0], [0.0])
    swapped = gpd.GeoDataFrame(geometry=[shapely.Point(lat, lon)], crs=4326)
    with pytest.raises(Exception, match="x and y swapped"):
        run_scenario(study, circle, fac, add=swapped)
    away = pd.concat([far, facilities_at([(200_000.0, 0.0)]).drop(columns="facility_id")], ignore_index=True)
    sc = run_scenario(study, circle, fac, add=gpd.GeoDataFrame(away, crs=4326))
    assert sc.summary["edits"]["added"] == 1
    assert {k: v for k, v in sc.summary["warnings"].items() if "outside" in k} == {"added_facilities_outside_area": 1}
    # links given as a plain frame go through links_frame
    with pytest.raises(ConfigError, match="speed_kmh = 5000 is over the hard limit"):
        run_scenario(study, circle, fac, links=pd.DataFrame([_link(0, 0, 1200, 0, speed_kmh=5000.0)]))
    # remove = "f000" is one id, not the characters f, 0, 0, 0
    two = facilities_at([(0.0, 0.0), (1200.0, 0.0)])
    sc = run_scenario(study, circle, two, remove="f000")
    assert sc.summary["edits"]["removed"] == ["f000"]


def test_u8_u2_the_command_prints_links_for_another_mode_and_counted_warnings(small_city, tmp_path, capsys):
    from dgcoverage.cli.main import main
    from dgcoverage.core.roadnet import load_network

    net = load_network(small_city / "network.npz")
    fac = pd.read_csv(small_city / "facilities" / "elderly_care_15_gcj02.csv", encoding="utf-8-sig", dtype=str)
    (tmp_path / "beds.csv").write_text(f"facility_id,床位数(张)\n{fac.iloc[1, 0]},约80\n", encoding="utf-8")
    (tmp_path / "plan.toml").write_text(
        f'[facilities]\ncapacity = "beds.csv"\n[[roads.link]]\nfrom = [{net.lon[0]}, {net.lat[0]}]\n'
        f'to = [{net.lon[1]}, {net.lat[1]}]\nmode = "drive"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["scenario", "--circle", ELDERLY, "--data-dir", str(small_city), "--scenario", str(tmp_path / "plan.toml")]
    assert main([*argv, "--out", str(out), "--no-maps"]) == 0
    said = capsys.readouterr()
    assert "1 road link(s) serve another mode than elderly_care_15's (walk) and change nothing here" in said.out
    assert "counted warnings (scenario.json -> warnings): capacity_edits_approximate 1" in said.err
    s = json.loads((out / "scenario" / ELDERLY / "scenario.json").read_text(encoding="utf-8"))
    assert s["warnings"] == {"capacity_edits_approximate": 1}


@pytest.mark.parametrize("name", ["batch.csv.toml", "Batch.XLSX.toml", "batch.html/region.toml"])
def test_u9_region_ids_named_like_the_batch_outputs_are_refused(tmp_path, name):
    from dgcoverage.inputs.batch import regions_from_folder

    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('towns = "t"\nvillages = "v"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"region ids \['(batch|Batch)\.(csv|XLSX|html)'\] .* the batch's own outputs"
    ):
        regions_from_folder(tmp_path)
