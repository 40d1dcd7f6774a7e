"""Issue 19, class 2: every point file declares its datum (WGS84, GCJ-02, BD-09); a table saying none is refused.

The datum comes from the option (``--facilities-crs`` ...), the column names (``lon_gcj02``, ``经度(高德)``), the
file name (``设施_gcj02.csv``), or the project's default (``[settings] default_point_crs``), in that order; the
system used is recorded in every summary (``siting_summary.json`` → ``inputs.candidates.crs``).
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from dgcoverage.cli.main import main
from dgcoverage.errors import ConfigError, CRSError
from dgcoverage.inputs.candidates import read_candidate_file
from dgcoverage.inputs.config import Settings, load_config
from dgcoverage.inputs.coords import from_wgs84
from dgcoverage.inputs.facilities import facilities_from_file
from dgcoverage.inputs.villages import village_points_from_file
from dgcoverage.pipeline.facilities import load_facilities

from ._tiny import lonlat, make_study

ROWS = "甲,113.7500000,23.0200000\n乙,113.7600000,23.0300000\n"


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _table(path, header="名称,经度,纬度"):
    path.write_text(header + "\n" + ROWS, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "reader, option",
    [
        (facilities_from_file, "--facilities-crs"),
        (read_candidate_file, "--candidates-crs"),
        (village_points_from_file, "--villages-crs"),
    ],
)
def test_a_table_stating_no_datum_is_refused_with_the_fix(tmp_path, reader, option):
    p = _table(tmp_path / "points.csv")
    with pytest.raises(CRSError) as exc:
        _quiet(reader, p)
    msg = str(exc.value)
    assert str(p) in msg and "does not say which coordinate system its columns 经度/纬度 are in" in msg
    assert f"{option} gcj02" in msg and 'default_point_crs = "gcj02"' in msg


def test_the_datum_said_by_option_columns_file_name_or_project_default(tmp_path):
    def rec(p, *a, **kw):
        return _quiet(facilities_from_file, p, *a, **kw).attrs["input"]

    p = _table(tmp_path / "points.csv")
    assert (rec(p, "bd09")["crs"], rec(p, "bd09")["crs_source"]) == ("bd09", "declared")
    r = rec(p, default_crs="gcj02")
    assert (r["crs"], r["crs_source"]) == ("gcj02", "project default ([settings] default_point_crs)")
    r = rec(_table(tmp_path / "c.csv", "名称,经度(高德),纬度(高德)"), default_crs="wgs84")
    assert (r["crs"], r["crs_source"]) == ("gcj02", "column names")  # the columns outrank the default
    r = rec(_table(tmp_path / "设施_WGS84.csv"))
    assert (r["crs"], r["crs_source"]) == ("wgs84", "file name")
    assert rec(_table(tmp_path / "百度点位.csv"))["crs"] == "bd09"
    # the same points read in GCJ-02 lie about 0.5 km away: a different figure, so never guessed
    a = _quiet(facilities_from_file, p, "wgs84").geometry
    b = _quiet(facilities_from_file, p, "gcj02").geometry
    assert float(np.hypot(a.x - b.x, a.y - b.y).min()) > 0.004
    # a name stating two systems states none; a name contradicting the option or the columns is refused
    with pytest.raises(CRSError, match="does not say"):
        _quiet(facilities_from_file, _table(tmp_path / "wgs84_to_gcj02.csv"))
    with pytest.raises(CRSError, match=r"file's name says gcj02 but --facilities-crs wgs84 was given"):
        _quiet(facilities_from_file, _table(tmp_path / "f_gcj02.csv"), "EPSG:4326")
    with pytest.raises(CRSError, match=r"file's name says wgs84 but the columns lon_gcj02/lat_gcj02 say gcj02"):
        _quiet(facilities_from_file, _table(tmp_path / "f_wgs84.csv", "名称,lon_gcj02,lat_gcj02"))


def test_default_point_crs_setting_typed_and_used_by_the_pipeline(tmp_path):
    cfg = tmp_path / "c.toml"
    base = '[circles.x]\nname_zh = "x"\nname_en = "x"\nminutes = 15\nmode = "walk"\nspeed_kmh = 4.0\n[settings]\n'
    cfg.write_text(base + 'default_point_crs = "Gaode"\n', encoding="utf-8")
    assert load_config(cfg)[1].default_point_crs == "gcj02"
    cfg.write_text(base + 'default_point_crs = "utm50"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[settings\] default_point_crs: unknown coordinate system 'utm50'"):
        load_config(cfg)
    st = make_study([(0, 0), (100, 0)], [(0, 1)], [(0, 0)], [100.0], [(-50, -50, 150, 50)])
    lon, lat = from_wgs84(*lonlat([0.0, 100.0], [0.0, 0.0]), "gcj02")
    p = tmp_path / "fac.csv"
    pd.DataFrame({"名称": ["a", "b"], "经度": lon, "纬度": lat}).to_csv(p, index=False)
    circle = dataclasses.replace(load_config()[0]["legal_aid_30"])
    with pytest.raises(CRSError, match="--facilities-crs gcj02"):
        _quiet(load_facilities, st, circle, p)
    st.settings = Settings(default_point_crs="gcj02")
    g = _quiet(load_facilities, st, circle, p)
    assert g.attrs["input_record"]["crs"] == "gcj02"
    assert g.attrs["input_record"]["crs_source"] == "project default ([settings] default_point_crs)"
    np.testing.assert_allclose(g.geometry.x, lonlat([0.0, 100.0], [0.0, 0.0])[0], atol=1e-6)


def test_siting_summary_records_the_candidates_datum(small_city, tmp_path, capsys):
    from dgcoverage.pipeline.load import load_study

    study = _quiet(load_study, data_dir=small_city)
    i = np.random.default_rng(3).choice(study.net.n_nodes, 6, replace=False)
    glon, glat = from_wgs84(study.net.lon[i], study.net.lat[i], "gcj02")
    f = tmp_path / "sites.csv"
    pd.DataFrame({"名称": "", "lon_gcj02": glon, "lat_gcj02": glat}).to_csv(f, index=False)
    out = tmp_path / "o"
    args = ["site", "--circle", "legal_aid_30", "--k", "2", "--data-dir", str(small_city), "--no-maps"]
    assert main([*args, "--candidates", str(f), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"candidates: {f}, read as gcj02 (column names)" in printed
    s = json.loads((out / "legal_aid_30" / "siting_summary.json").read_text(encoding="utf-8"))
    assert s["inputs"]["candidates"]["crs"] == "gcj02"
    assert s["inputs"]["candidates"]["crs_source"] == "column names"
    g = tmp_path / "plain.csv"
    pd.DataFrame({"名称": "", "经度": glon, "纬度": glat}).to_csv(g, index=False)
    assert main([*args, "--candidates", str(g), "--out", str(tmp_path / "p")]) == 2
    assert "--candidates-crs gcj02" in capsys.readouterr().err
