"""Inputs a hostile tester tried that the first edge checks missed (issue #10): each is refused with the right
blame, or counted, never a silent change of figures."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgcoverage.cli.main import main
from dgcoverage.core.roadnet import RoadNetwork, load_network, reverse_edge_share, save_network
from dgcoverage.errors import ColumnError, DataMismatchError, InputFileError, NetworkError
from dgcoverage.inputs.facilities import facilities_from_file
from dgcoverage.inputs.network import network_from_file
from dgcoverage.inputs.villages import (
    attach_villages_to_list,
    dongguan_towns,
    dongguan_villages,
    village_points_from_file,
)

HELSINKI = Path(__file__).parent / "input_data" / "Helsinki.osm.pbf"


def _rows():
    return [("东城文化广场", 113.7512, 23.0203), ("旗峰公园健身站", 113.7650, 23.0310)]


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    return out, [str(w.message) for w in caught]


# ------------------------------------------------------------------ workbooks and encodings


def test_hidden_sheet_is_not_read_silently(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表仅供参考"])
    ws = wb.create_sheet("附表")
    ws.append(["名称", "经度", "纬度"])
    for r in _rows():
        ws.append(list(r))
    ws.sheet_state = "hidden"
    p = tmp_path / "f.xlsx"
    wb.save(p)
    with pytest.raises(ColumnError, match=r"\['附表'\]\) are hidden.*--sheet '附表'"):
        facilities_from_file(p, "wgs84")
    assert len(facilities_from_file(p, "wgs84", sheet="附表")) == 2  # chosen on purpose: read


def test_formulas_without_saved_values_are_named(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度"])
    ws.append(["a", "=113.75+0", "=23.02+0"])  # written by a program: no cached value
    p = tmp_path / "f.xlsx"
    wb.save(p)
    with pytest.raises(InputFileError, match="2 formula cells with no saved value.*open and save it in Excel"):
        facilities_from_file(p, "wgs84")


def test_big5_csv_is_read_not_blamed_on_headers(tmp_path):
    text = "名稱,經度,緯度\n東城體育館,113.7512,23.0203\n"
    p = tmp_path / "f.csv"
    p.write_bytes(text.encode("big5"))
    g = facilities_from_file(p, "wgs84")
    assert len(g) == 1 and abs(g.geometry.x.iloc[0] - 113.7512) < 1e-9  # traditional headers 經度/緯度 too


# ------------------------------------------------------------------ village codes and points


def _vfile(tmp_path, rows, header="代码,经度,纬度"):
    p = tmp_path / "v.csv"
    p.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return p


def test_all_codes_in_scientific_notation_blame_the_format(tmp_path):
    p = _vfile(tmp_path, [("4.419E+11", 113.75, 23.02), ("4.419E+11", 113.76, 23.03)])
    with pytest.raises(DataMismatchError, match=r"no village code is a 12-digit NBS code.*format the code column"):
        _quiet(attach_villages_to_list, village_points_from_file(p, "wgs84"), dongguan_villages(), p)


def test_town_codes_instead_of_village_codes_blame_the_codes(tmp_path):
    p = _vfile(tmp_path, [("441900003", 113.75, 23.02), ("441900003", 113.76, 23.03)])
    with pytest.raises(DataMismatchError, match="not a town code|12-digit"):
        _quiet(attach_villages_to_list, village_points_from_file(p, "wgs84"), dongguan_villages(), p)


def test_villages_sharing_one_point_lose_their_location_with_a_reason(tmp_path):
    towns = dongguan_towns()
    c = towns.loc[towns["town_code"] == "441900006", "geometry"].iloc[0].representative_point()
    rows = [("441900006001", c.x, c.y), ("441900006002", c.x, c.y), ("441900006003", c.x + 0.01, c.y)]
    (merged, counts), msgs = _quiet(
        attach_villages_to_list,
        village_points_from_file(_vfile(tmp_path, rows), "wgs84"),
        dongguan_villages(),
        "v.csv",
        towns=towns,
    )
    m = merged.set_index("code")
    assert counts["village_points_shared"] == 2
    assert (
        m.loc["441900006001", "geometry"] is None
        and "same as that of 1 other" in m.loc["441900006001", "location_note"]
    )
    assert m.loc["441900006003", "geometry"] is not None
    assert any("share their point" in x for x in msgs)


def test_full_names_without_codes_say_what_is_expected(tmp_path):
    p = _vfile(tmp_path, [("岗贝社区居民委员会", "东城街道", 113.75, 23.02)], header="名称,镇街,经度,纬度")
    with pytest.raises(DataMismatchError, match=r"town and short name.*not 岗贝社区居民委员会") as e:
        attach_villages_to_list(village_points_from_file(p, "wgs84"), dongguan_villages(), p)
    assert "_k" not in str(e.value)


def test_village_feature_without_geometry_is_named(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "441900003001"},
                "geometry": {"type": "Point", "coordinates": [113.75, 23.02]},
            },
            {"type": "Feature", "properties": {"code": "441900003002"}, "geometry": None},
        ],
    }
    p = tmp_path / "v.geojson"
    p.write_text(json.dumps(fc), encoding="utf-8")
    g, msgs = _quiet(village_points_from_file, p)
    assert len(g) == 1 and g.attrs["warnings"]["village_rows_no_geometry"] == 1
    assert any("features [1]" in m for m in msgs)


# ------------------------------------------------------------------ networks


def _line_net(both_ways: bool, n: int = 200) -> RoadNetwork:
    lon = 113.75 + np.arange(n) * 0.001
    lat = np.full(n, 23.0)
    u, v = np.arange(n - 1), np.arange(1, n)
    if both_ways:
        u, v = np.concatenate([u, v]), np.concatenate([v, u])
    from dgcoverage.core.roadnet import haversine_m

    return RoadNetwork(np.arange(n), lon, lat, u, v, haversine_m(lon[u], lat[u], lon[v], lat[v]))


def test_streets_stored_once_are_flagged(tmp_path):
    assert reverse_edge_share(np.array([0, 1]), np.array([1, 0])) == 1.0
    p = save_network(_line_net(False), tmp_path / "once.npz")
    assert load_network(p).meta["edges_with_reverse_share"] == 0.0
    q = save_network(_line_net(True), tmp_path / "twice.npz")
    assert "edges_with_reverse_share" not in load_network(q).meta
    small = save_network(_line_net(False, n=5), tmp_path / "hand.npz")  # a tiny hand-made graph: not judged
    assert "edges_with_reverse_share" not in load_network(small).meta


def test_pbf_renamed_npz_is_named_and_no_unsafe_advice(tmp_path):
    p = tmp_path / "roads.npz"
    p.write_bytes(HELSINKI.read_bytes())
    with pytest.raises(InputFileError, match="looks like an OSM PBF file") as e:
        network_from_file(p)
    assert "allow_pickle" not in str(e.value)


def test_network_problems_name_the_file(tmp_path):
    p = tmp_path / "empty.osm"
    p.write_text('<?xml version="1.0"?><osm version="0.6"></osm>', encoding="utf-8")
    with pytest.raises((NetworkError, InputFileError), match="empty.osm"):
        network_from_file(p, use_cache=False)


# ------------------------------------------------------------------ command line


def test_data_dir_with_user_files_is_never_rebuilt_over(small_city, tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "network.npz").write_bytes(b"my own network")
    rc = main(["run", "--circle", "fitness_15", "--data-dir", str(d), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a complete embedded default" in err
    assert (d / "network.npz").read_bytes() == b"my own network"


@pytest.mark.parametrize(
    "opt,match",
    [
        (["--facilities-crs", "mars"], "unknown coordinate system 'mars'"),
        (["--villages-crs", "WGS-85"], "unknown coordinate system"),
        (["--band", "0"], "--band must be >= 1"),
        (["--lon-col", "x"], "go together"),
    ],
)
def test_options_are_checked_even_when_unused(small_city, tmp_path, capsys, opt, match):
    rc = main(["run", "--circle", "fitness_15", *opt, "--data-dir", str(small_city), "--out", str(tmp_path / "o")])
    cap = capsys.readouterr()
    assert rc == 2 and match in cap.err and "loading network" not in cap.out


@pytest.mark.parametrize(
    "opt,match",
    [
        (["--time-limit", "-1"], "--time-limit must be a positive number"),
        (["--min-spacing", "-5"], "--min-spacing must be a positive number"),
    ],
)
def test_site_options_checked(small_city, tmp_path, capsys, opt, match):
    rc = main(["site", "--circle", "fitness_15", *opt, "--data-dir", str(small_city), "--out", str(tmp_path / "o")])
    assert rc == 2 and match in capsys.readouterr().err


# ------------------------------------------------------------------ coordinate systems read wrongly


@pytest.mark.parametrize(
    "truth,read_as", [("wgs84", "gcj02"), ("bd09", "gcj02"), ("gcj02", "wgs84"), ("wgs84", "bd09")]
)
def test_datum_suspicion_in_every_direction(truth, read_as):
    """Points digitised on the roads but read in the wrong system are flagged with the system that fits."""
    from dgcoverage.inputs.coords import from_wgs84, to_wgs84
    from dgcoverage.inputs.quality import datum_suspicion

    from ._tiny import facilities_at, make_study

    nodes = [(x * 150.0, y * 150.0) for y in range(8) for x in range(8)]
    edges = [(i, i + 1) for i in range(64) if i % 8 != 7] + [(i, i + 8) for i in range(56)]
    study = make_study(nodes, edges, [(10.0, 10.0)], [1.0], [(-100, -100, 1200, 1200)])
    on = facilities_at([nodes[i] for i in (9, 20, 27, 34, 45, 50)])
    lon, lat = on.geometry.x.to_numpy(), on.geometry.y.to_numpy()
    file_lon, file_lat = from_wgs84(lon, lat, truth)  # the values a file in `truth` holds
    used_lon, used_lat = to_wgs84(file_lon, file_lat, read_as)  # what reading it as `read_as` gives
    r = datum_suspicion(study.graph, used_lon, used_lat, read_as, 500.0)
    assert r["suspect"] is True and r["best_alternative"] == truth and r["median_snap_if_alternative_m"] < 1.0
    right = datum_suspicion(study.graph, lon, lat, truth, 500.0)
    assert right["suspect"] is False and right["median_snap_m"] < 1.0


# ------------------------------------------------------------------ facilities


def test_multipoint_features_become_one_facility_per_part(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "五站"},
                "geometry": {"type": "MultiPoint", "coordinates": [[113.75 + i * 0.003, 23.02] for i in range(5)]},
            }
        ],
    }
    p = tmp_path / "f.geojson"
    p.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    g, msgs = _quiet(facilities_from_file, p)
    assert len(g) == 5 and g.attrs["warnings"]["facility_multipoints_split"] == 1
    assert any("split into 5 facilities" in m for m in msgs)


def test_repeated_ids_and_invisible_characters_are_counted(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text(
        "编号,名称,经度,纬度\nA1,东城\u202e馆,113.7512,23.0203\nA1,旗峰\x01站,113.7650,23.0310\n", encoding="utf-8"
    )
    g, _ = _quiet(facilities_from_file, p, "wgs84")
    assert g.attrs["warnings"]["facility_ids_repeated"] == 2
    assert g.attrs["warnings"]["facility_text_control_characters_removed"] == 2
    assert g["name"].tolist() == ["东城馆", "旗峰站"]


def test_village_list_passed_as_facilities_is_said(small_city, tmp_path):
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.facilities import load_facilities
    from dgcoverage.pipeline.load import load_study

    study = load_study(data_dir=small_city)
    v = pd.read_csv(small_city / "village_points_gcj02.csv", dtype=str, encoding="utf-8-sig")
    p = tmp_path / "v_as_f.csv"
    v.rename(columns={"代码": "编号"}).to_csv(p, index=False, encoding="utf-8-sig")
    g, msgs = _quiet(load_facilities, study, load_config()[0]["fitness_15"], p, "gcj02")
    assert g.attrs["warnings"]["facilities_look_like_village_list"] == 1 and any("village list" in m for m in msgs)


def test_xlsx_rows_are_called_sheet_rows(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["名称", "经度", "纬度"])
    wb.active.append(["a", "abc", 23.02])
    wb.active.append(["b", 113.75, 23.02])
    p = tmp_path / "f.xlsx"
    wb.save(p)
    _, msgs = _quiet(facilities_from_file, p, "wgs84")
    assert any("sheet row numbers" in m and "[2]" in m for m in msgs)


@pytest.mark.parametrize(
    "setting,match",
    [("report_cap_minutes = 5", "report_cap_minutes \\(5\\) is below"), ("max_snap_m = 0.001", "max_snap_m")],
)
def test_settings_that_cannot_work_blame_the_setting(small_city, tmp_path, capsys, setting, match):
    from dgcoverage.inputs.config import default_config_path

    cfg = tmp_path / "c.toml"
    text = default_config_path().read_text(encoding="utf-8")
    key = setting.split(" = ")[0]
    text = "\n".join(line for line in text.splitlines() if not line.startswith(key + " ")) + f"\n{setting}\n"
    cfg.write_text(text, encoding="utf-8")
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--config",
            str(cfg),
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path / "o"),
            "--no-maps",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and re.search(match, err), err
