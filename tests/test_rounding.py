"""One rounding rule: a share is shown cut (floored), never rounded up across the 达标 threshold, in every output.

The same figure is compared across the CSV, the workbook's displayed text (computed from the stored value and
its number format, as Excel shows it), the map page's data as its script shows it, the GeoPackage, report.html
and the terminal.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import Workbook, load_workbook

from dgcoverage.cli.main import main
from dgcoverage.core.io import cut_shares, percent_decimals, style_table_sheet
from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.gpkg import write_layers
from dgcoverage.outputs.maps import write_maps
from dgcoverage.outputs.report import write_report
from dgcoverage.outputs.tables import write_circle
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

CIRCLE = "fitness_15"
pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
#: Village shares on and around the rule (0.9): (covered share, status, status_zh, the text every output must show).
NEAR_RULE = [
    (0.899665, "partial", "部分覆盖", "89.9%"),  # 官桥滘社区 of the demo: Excel's 0.0% showed 90.0 %
    (0.8999996, "partial", "部分覆盖", "89.9%"),  # a 6-decimal CSV rounded this to 0.900000
    (0.9, "covered", "达标", "90.0%"),
    (0.29, "gap", "服务盲区", "29.0%"),  # 0.29 * 1000 is 289.99999999999994 in floating point
]


def cut_text(v: float) -> str:
    """The one rule: a share cut to 0.1 %."""
    return f"{math.floor(v * 1000 + 1e-9) / 10:.1f}%"


def excel_text(cell) -> str:
    """What Excel shows for a numeric cell with a percent format (it rounds half away from zero)."""
    d = percent_decimals(cell.number_format)
    assert d is not None, cell.number_format
    scaled = abs(cell.value) * 10 ** (d)
    shown = math.floor(scaled + 0.5) / 10 ** (d - 2)
    return f"{'-' if cell.value < 0 else ''}{shown:.{d - 2}f}%"


def page_text(v: float | None) -> str:
    """What the page script's ``pct`` shows (dgcoverage/data/web/maps.js)."""
    if v is None:
        return "\u2014"
    if 0 < v < 0.001:
        return "< 0.1%"
    return f"{math.floor(v * 1000 + 1e-6) / 10:.1f}%"


def test_cut_shares_never_above_the_value():
    vals = np.array([0.899665, 0.8999996, 0.9, 0.29, 0.0, 1.0, 0.123456789, np.nan])
    for d in (3, 4, 6):
        cut = cut_shares(vals, d)
        ok = np.isfinite(vals)
        assert (cut[ok] <= vals[ok] + 1e-12).all() and (vals[ok] - cut[ok] < 10.0**-d).all()
        assert np.isnan(cut[~ok]).all()
    assert cut_shares(0.899665, 3) == 0.899 and cut_shares(0.29, 3) == 0.29 and cut_shares(0.9, 3) == 0.9


def test_workbook_percent_cells_show_the_cut_value():
    wb = Workbook()
    ws = wb.active
    ws.append(["covered_share 覆盖率", "pass_rate 达标率", "population 人口"])
    for v, *_ in NEAR_RULE:
        ws.append([v, v, 1234])
    style_table_sheet(ws, formats={"pass_rate": "0.00%"})
    for i, (v, _, _, text) in enumerate(NEAR_RULE, start=2):
        assert ws.cell(row=i, column=1).number_format == "0.0%"
        assert excel_text(ws.cell(row=i, column=1)) == text
        two = ws.cell(row=i, column=2)
        assert excel_text(two) == f"{math.floor(v * 10000 + 1e-9) / 100:.2f}%"  # cut at the shown 2 decimals
        assert ws.cell(row=i, column=3).value == 1234  # other numbers untouched


@pytest.fixture(scope="module")
def near_rule(small_city, tmp_path_factory):
    """The fitness circle on the small city with four villages set on and around the rule, every output written."""
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    c = circles[CIRCLE]
    res = run_circle(study, c, load_facilities(study, c, data_dir=small_city))
    for i, (share, status, status_zh, _) in enumerate(NEAR_RULE):
        res.villages.loc[i, ["covered_share", "status", "status_zh"]] = [share, status, status_zh]
    out, maps = tmp_path_factory.mktemp("round_out"), tmp_path_factory.mktemp("round_maps")
    write_circle(res, out)
    areas = write_areas(study, res, out)
    write_layers(study, res, out, areas=areas)
    write_report([res], out, maps_href="../maps")
    write_maps(study, [res], {CIRCLE: areas}, maps, out_dir=out)
    return res, out, maps


def _page_data(path) -> dict:
    html = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="dg-data">(.*?)</script>', html, re.S).group(1))


def _village_sheet(wb):
    ws = next(ws for ws in wb.worksheets if ws.title.endswith("村社区"))
    head = [c.value for c in ws[2]]
    return ws, head


def test_village_shares_agree_across_outputs(near_rule):
    res, out, maps = near_rule
    codes = res.villages["code"].astype(str).tolist()
    csv = pd.read_csv(out / CIRCLE / "villages.csv", dtype=str, encoding="utf-8-sig").set_index("code 代码")
    ws, head = _village_sheet(load_workbook(out / "report.xlsx"))
    j, jc = head.index("covered_share 覆盖率"), head.index("code 代码")
    sheet = {str(r[jc].value): r[j] for r in ws.iter_rows(min_row=3)}
    v = _page_data(maps / f"{CIRCLE}.html")["v"]
    page = dict(zip(v["code"], v["share"]))
    lay = pyogrio.read_dataframe(out / CIRCLE / "layers.gpkg", layer="villages", read_geometry=False)
    gpkg = dict(zip(lay["code 代码"], lay["covered_share 覆盖率"]))
    for code, (_, _, _, text) in zip(codes, NEAR_RULE):
        assert cut_text(float(csv.loc[code, "covered_share 覆盖率"])) == text, code
        assert excel_text(sheet[code]) == text, code
        assert page_text(page[code]) == text, code
        assert cut_text(gpkg[code]) == text, code
    assert csv.loc[codes[1], "covered_share 覆盖率"] == "0.899999"  # cut, not rounded to 0.900000


def test_no_workbook_cell_shows_the_rule_for_a_village_below_it(near_rule):
    _, out, _ = near_rule
    ws, head = _village_sheet(load_workbook(out / "report.xlsx"))
    j, js = head.index("covered_share 覆盖率"), head.index("status_zh 状态(中文)")
    rows = [(r[j], r[js].value) for r in ws.iter_rows(min_row=3) if isinstance(r[j].value, (int, float))]
    assert len(rows) == 34
    for cell, status in rows:
        if float(excel_text(cell)[:-1]) >= 90.0:
            assert status == "达标", (cell.value, status)
    notes = " ".join(str(c.value) for row in load_workbook(out / "report.xlsx").worksheets[0].iter_rows() for c in row)
    assert "截断" in notes and "never rounded up" in notes  # the about sheet says so


def test_city_and_town_figures_agree_across_outputs(small_city, tmp_path, capsys):
    """A real run: the terminal, towns.csv, the workbook, report.html and both pages show the same cut figure."""
    out, maps = tmp_path / "o", tmp_path / "m"
    assert main(["run", "--all", "--data-dir", str(small_city), "--out", str(out), "--maps-dir", str(maps)]) == 0
    terminal = capsys.readouterr().out
    report = (out / "report.html").read_text(encoding="utf-8")
    wb = load_workbook(out / "report.xlsx")
    compare = next(ws for ws in wb.worksheets if ws.title.startswith("镇街对比"))
    overview = _page_data(maps / "index.html")
    checked = 0
    for cid in ("elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10"):
        share = json.loads((out / cid / "summary.json").read_text(encoding="utf-8"))["results"]["covered_share"]
        text = cut_text(share)
        towns = pd.read_csv(out / cid / "towns.csv", dtype=str, encoding="utf-8-sig").set_index("town_code 镇街代码")
        assert cut_text(float(towns.loc["441900", "pass_rate_population 人口覆盖率"])) == text
        assert re.search(rf"{cid}\s.*population covered {re.escape(text)}", terminal), (cid, text)
        assert f"population covered {text}" in report
        page = (maps / f"{cid}.html").read_text(encoding="utf-8")
        assert f"population covered <b>{text}</b>" in page, cid
        # every town: towns.csv, the town sheet and the overview's data as the page script shows it
        ws = next(w for w in wb.worksheets if w.title.endswith("镇街") and w["A1"].value.startswith(_name_zh(cid)))
        head = [c.value for c in ws[2]]
        j, jc = head.index("pass_rate_population 人口覆盖率"), head.index("town_code 镇街代码")
        for row in ws.iter_rows(min_row=3):
            if row[jc].value is None or not isinstance(row[j].value, (int, float)):
                continue
            want = cut_text(float(towns.loc[str(row[jc].value), "pass_rate_population 人口覆盖率"]))
            assert excel_text(row[j]) == want
            checked += 1
        t = overview["t"]
        c = t["c"][[x["id"] for x in overview["circles"]].index(cid)]
        for code, v in zip(t["code"], c["share"]):
            if code in towns.index:
                assert page_text(v) == cut_text(float(towns.loc[code, "pass_rate_population 人口覆盖率"])), code
                checked += 1
        assert page_text(c["city"]["share"]) == text, cid  # the overview's city figure
    head = [c.value for c in compare[3]]
    city = next(r for r in compare.iter_rows(min_row=4) if str(r[0].value) == "441900")
    for k, h in enumerate(head):
        if h and str(h).startswith("pop_share"):
            assert excel_text(city[k]) in terminal  # each circle's city figure, as printed
    assert checked >= 2 * 4 * 2  # 2 towns (+ the city row) in the town sheet and the overview, 4 circles


def _name_zh(cid: str) -> str:
    circles, _ = load_config()
    return circles[cid].name_zh
