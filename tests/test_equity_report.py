"""The report's equity part: the section of report.html (printed in headless Chromium) and the equity sheet."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.report import write_report
from dgcoverage.outputs.report.equity import EQUITY_NOTES, LEAST_EQUAL_N, equity_rows
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._browser import chromium_base

pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
CIRCLES = ("elderly_care_15", "fitness_15")


@pytest.fixture(scope="module")
def rep(small_city, tmp_path_factory):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    results = [run_circle(study, circles[c], load_facilities(study, circles[c], data_dir=small_city)) for c in CIRCLES]
    out = tmp_path_factory.mktemp("equity_report")
    xlsx, page = write_report(results, out)
    return results, xlsx, page


def test_rows_are_the_city_then_the_least_equal_towns():
    import pandas as pd

    class R:  # the few attributes equity_rows reads
        city_code = "441900"
        towns = pd.DataFrame(
            {
                "town_code": ["441900003", "441900004", "441900005", "441900006", "441900"],
                "town_name": ["甲", "乙", "丙", "丁", "东莞市"],
                "population": [10.0, 10.0, 0.0, 10.0, 30.0],
                "time_gini": [0.2, 0.4, 0.9, 0.2, 0.3],
                "time_palma": [1.0, 2.0, 3.0, 1.5, 1.2],
                "poverty_headcount": [0.1, 0.2, 0.3, 0.4, 0.2],
            }
        )

    rows = equity_rows(R(), n=2)
    # the city first; 丙 has nobody (left out); 乙 the highest Gini, then 丁 (the same Gini as 甲, higher Palma)
    assert rows["town_name"].tolist() == ["东莞市", "乙", "丁"]
    assert list(rows.columns) == [
        "town_code",
        "town_name",
        "population",
        "time_gini",
        "time_palma",
        "poverty_headcount",
    ]


def test_section_shows_each_circles_city_and_towns_with_the_cap(rep):
    results, _, page = rep
    doc = page.read_text(encoding="utf-8")
    sec = doc[doc.index("<section id='equity'>") :]
    sec = sec[: sec.index("</section>")]
    assert "<li><a href='#equity'>" in doc  # in the contents
    for zh, _en in EQUITY_NOTES:
        assert zh in sec
    for r in results:
        table = sec[sec.index(f"data-circle='{r.circle.id}'") :]
        table = table[: table.index("</table>")]
        rows = re.findall(r"<tr(?: class=city)?><td class='t'>([^<]*)</td>(.*?)</tr>", table)
        want = equity_rows(r)
        assert [n for n, _ in rows] == want["town_name"].tolist()
        assert len(rows) == min(LEAST_EQUAL_N, (r.towns["town_code"] != r.city_code).sum()) + 1
        cells = re.findall(r"<td class='n'>([^<]*)</td>", rows[0][1])
        city = want.iloc[0]
        assert cells[0] == f"{city['time_gini']:.3f}" and cells[1] == f"{city['time_palma']:.3f}"
        assert cells[2] == f"{math.floor(city['poverty_headcount'] * 1000) / 10:.1f}%"  # cut, never rounded up
        if r.circle.has_supply:
            assert len(cells) == 6 and cells[3] == f"{city['access_supply_gini']:.3f}"
        cap = r.summary["results"]["equity"]["cap_minutes"]
        assert f"times capped at {cap:g} min" in sec and "count at the cap" in sec


def test_equity_sheet_is_the_rows_and_prints_a4_at_8pt(rep):
    results, xlsx, _ = rep
    ws = load_workbook(xlsx)["公平性 equity"]
    head = [c.value for c in ws[2]]
    # the circle and the town's name first: repeated on every page when the sheet prints pages wide
    assert head[:5] == [
        "circle 服务圈",
        "town_name 镇街",
        "town_code 镇街代码",
        "limit_min 时限(分钟)",
        "cap_min 封顶(分钟)",
    ]
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=3, max_row=ws.max_row) if row[0].value in CIRCLES]
    n = 0
    for r in results:
        want = equity_rows(r)
        mine = [g for g in got if g[0] == r.circle.id]
        assert [g[2] for g in mine] == want["town_code"].astype(str).tolist()
        gi = head.index("time_gini 出行时间基尼系数")
        assert [g[gi] for g in mine] == pytest.approx(want["time_gini"].tolist(), abs=1e-12)
        n += len(mine)
    assert n == len(got)
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    if ws.sheet_properties.pageSetUpPr.fitToPage:
        assert ws.page_setup.fitToWidth == 1
    else:
        assert ws.page_setup.scale >= 73  # 8 pt of the 11 pt body
        assert ws.print_title_cols == "$A:$B"
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref.startswith("A2:")


def test_section_prints_in_headless_chromium(rep, tmp_path):
    if not (shutil.which("pdftotext")):
        pytest.skip("pdftotext missing")
    results, _, page = rep
    pdf = tmp_path / "report.pdf"
    base = [*chromium_base(tmp_path), "--virtual-time-budget=5000", "--no-pdf-header-footer"]
    r = subprocess.run([*base, f"--print-to-pdf={pdf}", page.resolve().as_uri()], capture_output=True, timeout=300)
    assert pdf.exists(), r.stderr[-2000:]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = [p for p in text.split("\f") if "公平性 equity: who is left behind" in p]
    assert len(pages) == 1
    lines = [ln.strip() for ln in pages[0].splitlines() if ln.strip() and "SYNTHETIC" not in ln]
    assert lines[0].startswith("公平性 equity")  # the section starts a page of its own (break-before) ...
    for r in results:  # ... and the notes and every circle's table fit it
        city = equity_rows(r).iloc[0]
        assert r.circle.name_en in pages[0] and f"{city['time_gini']:.3f}" in pages[0]
    assert "higher is worse" in pages[0]
