"""`dgcoverage site` end to end on the small city: sizes, deficits closed, names, villages reached, the workbook."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from dgcoverage.cli.main import main
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.coords import from_wgs84
from dgcoverage.pipeline.load import load_study

BAD_TEXT = ("nan", "NaN", "None", "<NA>")


def _read(path):
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df.columns = [c.split(" ")[0] for c in df.columns]
    return df


def _num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s.replace("", np.nan)).to_numpy(dtype=float)


def _assert_no_nan_text(d):
    """No cell of any planner file reads "nan"/"None" (csv, geojson, summary, and every xlsx string)."""
    for name in ("candidates.csv", "candidates.geojson", "siting_summary.json"):
        text = (d / name).read_text(encoding="utf-8-sig")
        for bad in BAD_TEXT:
            assert bad not in text, (name, bad)
    with zipfile.ZipFile(d / "candidates.xlsx") as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    for bad in (">nan<", ">None<", ">NaN<"):
        assert bad not in xml, bad


@pytest.fixture(scope="module")
def sized_run(small_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("sized")
    args = ["site", "--circle", "fitness_15", "--k", "5", "--site-capacity", "150000"]
    assert main([*args, "--data-dir", str(small_city), "--out", str(out), "--no-maps"]) == 0
    return out / "fitness_15"


def test_site_capacity_end_to_end(sized_run):
    d = sized_run
    t = _read(d / "candidates.csv")
    s = json.loads((d / "siting_summary.json").read_text(encoding="utf-8"))
    assert len(t) == 5 and (t["capacity"].astype(float) == 150000).all()
    assert (t["capacity_unit"] == "m2").all() and (t["capacity_source"] == "site_capacity").all()
    before, cap = _num(t["town_deficit_before"]), _num(t["capacity"])
    closed, cum = _num(t["deficit_closed"]), _num(t["town_deficit_closed_cum"])
    # per town, walking the ranks: each site closes min(capacity, what is left); after = before - all closed
    for town, g in t.groupby("town_code"):
        idx = g.index.to_numpy()
        left = before[idx[0]]
        for i in idx:
            assert closed[i] == pytest.approx(min(cap[i], left), abs=0.01)
            left -= closed[i]
            assert cum[i] == pytest.approx(before[idx[0]] - left, abs=0.01)
        assert _num(g["town_deficit_after"]) == pytest.approx(np.full(len(g), left), abs=0.01)
        row = next(r for r in s["supply"]["towns"] if r["town_code"] == town)
        assert row["deficit_after"] == pytest.approx(left, abs=0.01) and row["sites"] == len(g)
    assert s["supply"]["capacity"] == "given" and s["supply"]["site_capacity"] == 150000
    assert s["supply"]["deficit_closed_total"] == pytest.approx(np.nansum(closed), abs=0.05)
    # the base run's towns.csv is where the deficits come from
    towns = _read(d / "towns.csv").set_index("town_code")
    for code, b in zip(t["town_code"], before, strict=True):
        assert b == pytest.approx(float(towns.loc[code, "deficit"]), abs=0.01)
    _assert_no_nan_text(d)


def test_names_and_villages_reached(sized_run, small_city):
    t = _read(sized_run / "candidates.csv")
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    names = dict(zip(study.villages["code"].astype(str), study.villages["name"], strict=True))
    towns = set(study.villages["town_name"])
    vtown = dict(zip(study.villages["code"].astype(str), study.villages["town_name"], strict=True))
    assert t["name"].str.len().gt(0).all() and t["name"].is_unique
    for _, r in t.iterrows():
        # no road names on the synthetic network: "<镇街><村> 附近 #rank", the village the site lies in
        assert r["name"] == f"{vtown[r['village_code']]}{r['village_name']} 附近 #{r['rank']}"
        assert r["road_name"] == "" and r["village_name"] == names[r["village_code"]]
        assert any(r["name"].startswith(x) for x in towns)
        pairs = [p.split(":") for p in r["villages_reached"].split(";")]
        people = [float(p) for _, p in pairs]
        assert people == sorted(people, reverse=True)
        shown = "；".join(
            f"{names[c]} {float(p):,.0f} 人" if float(p) >= 0.5 else f"{names[c]} <1 人" for c, p in pairs
        )
        assert r["villages_reached_names"] == shown
        # cells outside every village are not listed, so the villages hold at most the site's new people
        assert sum(people) <= float(r["new_population"]) + 0.5 + 0.05 * len(people)
        assert sum(people) >= 0.95 * float(r["new_population"])


def test_workbook_is_readable(sized_run):
    wb = load_workbook(sized_run / "candidates.xlsx")
    assert wb.sheetnames == ["候选点 candidates", "说明 about"]
    ws = wb["候选点 candidates"]
    header = [c.value for c in ws[1]]
    # Chinese first, units in the header; the rank and the name lead (ids and coordinates at the end)
    assert header[:4] == ["排名 rank", "名称 name", "镇街 town", "所在(最近)村(社区) village"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}6"
    # A4 landscape, and no printed letter under 8 pt: fit to the width where that keeps 8 pt, else pages wide at
    # a scale that does, with the rank/id/name columns repeated (it printed at about 1 pt fitted to the width)
    from dgcoverage.core.xlsx_print import printable_px, sheet_px, smallest_font

    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"  # 9 = A4
    if ws.sheet_properties.pageSetUpPr.fitToPage:
        scale = min(1.0, printable_px() / sheet_px(ws))
    else:
        scale = ws.page_setup.scale / 100
        assert ws.print_title_cols
    assert smallest_font(ws, 1) * scale >= 8.0 - 1e-9

    def fmt(col: str) -> str:
        return ws.cell(row=2, column=header.index(col) + 1).number_format

    assert fmt("新增覆盖人口(人) people newly covered") == "#,##0"
    assert fmt("累计覆盖人口(人) cumulative people covered") == "#,##0"
    assert fmt("累计覆盖率 cumulative share covered") == "0.0%"
    assert fmt("本点填补缺口占比 share of the town's deficit") == "0.0%"
    assert fmt("经度(WGS84) lon") == "0.0000000" and fmt("纬度(GCJ-02高德) lat_gcj02") == "0.0000000"
    assert fmt("本点填补缺口(m²) deficit closed by the site") == "#,##0.00"
    assert fmt("镇街剩余缺口(全部选址后,m²) town deficit left") == "#,##0.00"
    share = ws.cell(row=2, column=header.index("累计覆盖率 cumulative share covered") + 1).value
    assert 0 < share < 1  # a fraction shown as %, not a percentage number
    width = ws.column_dimensions[
        ws.cell(1, header.index("惠及村(社区)及新增人口 villages reached (people)") + 1).column_letter
    ]
    assert width.width >= 20
    about = {r[0]: r[1] for r in wb["说明 about"].iter_rows(min_row=2, values_only=True)}
    assert about["synthetic 合成数据"] == "yes 是" and "SYNTHETIC" in about["note 说明"].upper()
    assert about["site capacity 规模"] == "given"


def test_candidate_files_with_and_without_a_capacity_column(small_city, tmp_path, capsys):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    rng = np.random.default_rng(5)
    i = rng.choice(study.net.n_nodes, 30, replace=False)
    glon, glat = from_wgs84(study.net.lon[i], study.net.lat[i], "gcj02")
    area = [f"{a:,}" for a in rng.integers(500, 3000, 30)]
    area[0] = "不详"  # unknown size: counted, named as a candidate site, its deficit columns empty
    with_cap = tmp_path / "有面积.csv"
    pd.DataFrame({"名称": "", "经度": glon, "纬度": glat, "建筑面积(平方米)": area}).to_csv(
        with_cap, index=False, encoding="gbk"
    )
    out = tmp_path / "o"
    base = ["site", "--circle", "culture_sports_10", "--k", "8", "--data-dir", str(small_city), "--no-maps"]
    base += ["--candidates-crs", "gcj02"]  # the files' columns 经度/纬度 state no datum (issue 19)
    assert main([*base, "--candidates", str(with_cap), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{with_cap}: 1 candidate sites have no capacity" in err
    assert not any("facilit" in line and str(with_cap) in line for line in err.splitlines())
    d = out / "culture_sports_10"
    t = _read(d / "candidates.csv")
    s = json.loads((d / "siting_summary.json").read_text(encoding="utf-8"))
    assert s["supply"]["candidate_file_capacity_column"] == "建筑面积(平方米)"
    by_node = dict(zip(i.tolist(), area, strict=True))
    for _, r in t.iterrows():
        want = by_node[int(r["node"])]
        if want == "不详":
            assert r["capacity"] == "" and r["deficit_closed"] == "" and r["capacity_source"] == ""
        else:
            assert float(r["capacity"]) == float(want.replace(",", "")) and r["capacity_source"] == "file"
            assert r["capacity_unit"] == "m2" and r["deficit_closed"] != ""
    assert t["name"].str.contains("附近 #").all()  # no names in the file: village + rank
    _assert_no_nan_text(d)
    # the same sites without a capacity column: sizes not given, columns empty, the summary says so
    without = tmp_path / "no_size.csv"
    pd.DataFrame({"名称": [f"候选{k}" for k in range(30)], "经度": glon, "纬度": glat}).to_csv(
        without, index=False, encoding="utf-8-sig"
    )
    assert main([*base, "--candidates", str(without), "--out", str(out)]) == 0
    t2 = _read(d / "candidates.csv")
    s2 = json.loads((d / "siting_summary.json").read_text(encoding="utf-8"))
    assert s2["supply"]["capacity"] == "capacity not given" and "capacity not given" in s2["supply"]["note"]
    assert (t2["capacity"] == "").all() and (t2["town_deficit_after"] == "").all()
    assert (t2["town_deficit_before"] != "").all() and t2["name"].str.startswith("候选").all()
    _assert_no_nan_text(d)


def test_capacity_the_file_cannot_give_is_said(small_city, tmp_path, capsys):
    """A column of the other kind is ignored with a word; unread cells taking --site-capacity are said."""
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    rng = np.random.default_rng(6)
    i = rng.choice(study.net.n_nodes, 12, replace=False)
    glon, glat = from_wgs84(study.net.lon[i], study.net.lat[i], "gcj02")
    base = ["site", "--circle", "culture_sports_10", "--k", "4", "--data-dir", str(small_city), "--no-maps"]
    base += ["--candidates-crs", "gcj02"]  # the files' columns 经度/纬度 state no datum (issue 19)
    beds = tmp_path / "beds.csv"
    pd.DataFrame({"名称": "", "经度": glon, "纬度": glat, "床位数": 30}).to_csv(beds, index=False, encoding="utf-8-sig")
    assert main([*base, "--candidates", str(beds), "--out", str(tmp_path / "a")]) == 0
    assert "column '床位数' holds beds, but this circle's capacity is area (m²): ignored" in capsys.readouterr().err
    area = ["0", "-3", "50000000"] + ["800"] * 9
    sized = tmp_path / "sized.csv"
    pd.DataFrame({"名称": "", "经度": glon, "纬度": glat, "建筑面积(平方米)": area}).to_csv(
        sized, index=False, encoding="utf-8-sig"
    )
    assert main([*base, "--candidates", str(sized), "--site-capacity", "500", "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "have a capacity over 1,000,000 m² in column '建筑面积(平方米)' (file lines [4])" in err  # a typing mistake
    assert (
        "3 candidate site(s) without a readable capacity in column '建筑面积(平方米)' take --site-capacity = 500" in err
    )
