"""The town report: report.xlsx (openpyxl checks) and report.html (atlas, comparison, escaping, print)."""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from dgcoverage.core.io import cut_shares, text_width
from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.report import CLASS_COLOURS, compare_table, report_html, share_class, write_report
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._browser import chromium_base

ARTIFACTS = Path(__file__).parent / "artifacts"
EVIL = "<img src=x onerror=alert(1)>村"
FORMULA = "=1+2"
CIRCLES = ("elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10")
pytestmark = pytest.mark.filterwarnings("ignore::dgcoverage.errors.DgCoverageWarning")
NAME_ZH = {
    "elderly_care_15": "15分钟居家养老服务圈",
    "fitness_15": "15分钟健身圈",
    "legal_aid_30": "半小时法律援助服务圈",
    "culture_sports_10": "10分钟公共文体服务圈",
}


def _cut(v: float, digits: int = 1) -> str:
    """A share as the report shows it: cut to ``digits``, never rounded up across a class break or the rule."""
    unit = 10.0 ** (digits + 2)
    return f"{math.floor(v * unit + 1e-6) / unit:.{digits}%}"


def _candidates_csv(path: Path) -> None:
    """Three ranked sites as `dgcoverage site` writes them (bilingual headers, UTF-8 with BOM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "rank 排名": [1, 2, 3],
            "site_id 候选点编号": ["gap:101", "gap:202", "gap:303"],
            "name 名称": ["东城大道 旁", "", EVIL],
            "lon 经度(WGS84)": [113.76, 113.77, 113.75],
            "lat 纬度(WGS84)": [23.03, 23.02, 23.01],
            "town_code 镇街代码": ["441900003", "441900003", "441900006"],
            "town_name 镇街": ["东城街道", "东城街道", "莞城街道"],
            "new_population 新增覆盖人口": [12345, 6789, 1011],
            "cum_covered_share 累计覆盖率": [0.512345, 0.55, 0.6],
            "villages_reached_names 新增覆盖人口所在村(社区)": ["岗贝社区 12,345", "", "莞城 1,011"],
        }
    ).to_csv(path, index=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def rep(small_city, tmp_path_factory):
    """The four circles on the small city (莞城 + 东城), a hostile and a formula-like village name."""
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    study.villages.loc[0, "name"] = EVIL
    study.villages.loc[1, "name"] = FORMULA
    results = [run_circle(study, circles[c], load_facilities(study, circles[c], data_dir=small_city)) for c in CIRCLES]
    out = tmp_path_factory.mktemp("report_out")
    _candidates_csv(out / "fitness_15" / "candidates.csv")
    xlsx, page = write_report(results, out, maps_href="../maps")
    return study, results, out, xlsx, page


def _table_sheets(wb):
    """(sheet, header row) of every table sheet."""
    for ws in wb.worksheets[1:]:
        yield ws, 3 if ws.title.startswith("镇街对比") else 2


# ---------------------------------------------------------------- workbook


def test_sheet_names_are_chinese_first_and_short(rep):
    *_, xlsx, _ = rep
    names = load_workbook(xlsx).sheetnames
    expected = ["说明 About", "镇街对比 compare", "覆盖曲线 curves", "公平性 equity"]
    for c in CIRCLES:
        expected += [f"{NAME_ZH[c]} 镇街", f"{NAME_ZH[c]} 村社区"]
        if c == "fitness_15":
            expected.append(f"{NAME_ZH[c]} 候选点")  # only the circle with a candidates.csv
    assert names == expected
    assert all(len(n) <= 31 for n in names)


def test_every_table_sheet_has_frozen_header_filter_widths_and_print_setup(rep):
    from openpyxl.utils import get_column_letter

    *_, xlsx, _ = rep
    wb = load_workbook(xlsx)
    for ws, hr in _table_sheets(wb):
        assert ws.freeze_panes == f"A{hr + 1}", ws.title
        assert ws.auto_filter.ref.startswith(f"A{hr}:"), ws.title
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, ws.title  # A4
        if ws.sheet_properties.pageSetUpPr.fitToPage:  # fitted to the width only where it keeps 8 pt ...
            assert ws.page_setup.fitToWidth == 1, ws.title
        else:  # ... else pages wide at >= 8/11 scale, code and name repeated (tests/test_maps_click_print.py)
            assert ws.page_setup.scale >= 73 and ws.print_title_cols.startswith("$A:"), ws.title
        for j in range(1, ws.max_column + 1):
            cell = ws.cell(row=hr, column=j)
            if cell.value is None:
                continue
            width = ws.column_dimensions[get_column_letter(j)].width
            need = text_width(cell.value)
            if width < need + 1:  # a capped column: the header wraps onto a row tall enough for it
                assert cell.alignment.wrap_text, (ws.title, cell.value, width)
                assert ws.row_dimensions[hr].height >= 15 * math.ceil(need / (width - 1)), (ws.title, cell.value)
            assert width >= min(48, need), (ws.title, cell.value, width)


def test_village_sheet_has_every_village_with_formats(rep):
    study, results, _, xlsx, _ = rep
    wb = load_workbook(xlsx)
    res = results[1]  # fitness_15
    ws = wb["15分钟健身圈 村社区"]
    assert "SYNTHETIC" in ws["A1"].value
    heads = [c.value for c in ws[2]]
    assert heads[:4] == ["code 代码", "name 名称", "town_code 镇街代码", "town_name 镇街"]
    col = {h.split()[0]: j for j, h in enumerate(heads, start=1)}
    assert ws.max_row - 2 == len(study.villages) == 34  # 东城 26 + 莞城 8
    # covered share coloured by the map classes (conditional formats: they follow sorting and filtering)
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(col["covered_share"])
    (cf,) = [c for c in ws.conditional_formatting if str(c.sqref) == f"{letter}3:{letter}{ws.max_row}"]
    assert [r.formula[0].rsplit(">=", 1)[1][:-1] for r in cf.rules] == ["0.9", "0.6", "0.3", "0.0"]
    assert [r.dxf.fill.fgColor.rgb[-6:].lower() for r in cf.rules] == [c[1:] for c in CLASS_COLOURS[::-1]]
    vt = res.villages.set_index("code")
    for i in range(3, ws.max_row + 1):
        code = ws.cell(row=i, column=col["code"]).value
        assert isinstance(code, str)  # a code stays text
        pop = ws.cell(row=i, column=col["population"])
        assert pop.value == round(float(vt.at[code, "population"])) and pop.number_format == "#,##0"
        share = ws.cell(row=i, column=col["covered_share"])
        if pd.isna(vt.at[code, "covered_share"]):
            assert share.value is None  # empty, never the text "nan"
        else:
            # stored cut to the 0.1 % it shows (0.899665 -> 0.899): never shown above the value
            assert share.value == pytest.approx(cut_shares(vt.at[code, "covered_share"], 3))
            assert share.number_format == "0.0%"
        t = ws.cell(row=i, column=col["median_time_min"])
        assert t.value is None or t.number_format == "0.0"
        assert ws.cell(row=i, column=col["status_zh"]).value == vt.at[code, "status_zh"]


def test_town_sheet_ids_first_with_percent_and_thousands(rep):
    _, results, _, xlsx, _ = rep
    ws = load_workbook(xlsx)["15分钟健身圈 镇街"]
    heads = [c.value for c in ws[2]]
    assert heads[:3] == ["town_code 镇街代码", "town_name 镇街", "villages 村(社区)数"]
    col = {h.split()[0]: j for j, h in enumerate(heads, start=1)}
    assert list(col)[-1] == "worst"
    codes = [ws.cell(row=i, column=1).value for i in range(3, ws.max_row + 1)]
    assert codes[:3] == ["441900003", "441900006", "441900"]  # towns, then the city row
    towns = results[1].towns.set_index("town_code")
    for i, code in enumerate(codes[:3], start=3):
        rate = ws.cell(row=i, column=col["pass_rate_population"])
        assert rate.value == pytest.approx(cut_shares(towns.at[code, "pass_rate_population"], 3))  # as shown
        assert rate.number_format == "0.0%"
        assert ws.cell(row=i, column=col["pass_rate_villages"]).number_format == "0.0%"
        pop = ws.cell(row=i, column=col["population"])
        assert pop.value == pytest.approx(towns.at[code, "population"]) and pop.number_format == "#,##0"
        assert ws.cell(row=i, column=col["supply_ratio"]).number_format == "0.000"
        assert ws.cell(row=i, column=col["deficit"]).number_format == "#,##0"


def test_text_cells_are_never_formulas(rep):
    *_, xlsx, _ = rep
    wb = load_workbook(xlsx)
    ws = wb["15分钟健身圈 村社区"]
    hits = [c for row in ws.iter_rows() for c in row if c.value == FORMULA]
    assert hits and all(c.data_type == "s" for c in hits)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert not (isinstance(c.value, str) and c.value.strip().lower() in {"nan", "none", "nat"}), ws.title


def test_compare_sheet_equals_each_circles_town_table(rep):
    _, results, _, xlsx, _ = rep
    ws = load_workbook(xlsx)["镇街对比 compare"]
    assert "SYNTHETIC" in ws["A1"].value
    group = [c.value for c in ws[2]]
    heads = [c.value for c in ws[3]]
    assert heads[:3] == ["town_code 镇街代码", "town_name 镇街", "population 人口"]
    rows = {ws.cell(row=i, column=1).value: i for i in range(4, ws.max_row + 1)}
    assert list(rows) == ["441900003", "441900006", "441900"]  # towns by code, the city last
    j = 4
    for r in results:
        assert group[j - 1] == f"{r.circle.name_zh} {r.circle.id}"
        kinds = ["pop_share", "pass_rate"] + (["supply"] if "supply_status" in r.towns else [])
        assert [h.split()[0] for h in heads[j - 1 : j - 1 + len(kinds)]] == kinds
        towns = r.towns.set_index("town_code")
        vt = r.villages
        for code, i in rows.items():
            mine = vt if code == "441900" else vt[vt["town_code"] == code]
            # population covered, recomputed from the village table: covered people / people
            share = mine["covered_population"].sum() / mine["population"].sum()
            cell = ws.cell(row=i, column=j)
            assert towns.at[code, "pass_rate_population"] == pytest.approx(share)
            assert cell.value == pytest.approx(cut_shares(share, 3))  # stored cut to the 0.1 % it shows
            assert cell.number_format == "0.0%"
            ok = mine[mine["status"] != "no_data"]
            rate = ws.cell(row=i, column=j + 1)
            assert towns.at[code, "pass_rate_villages"] == pytest.approx((ok["status"] == "covered").sum() / len(ok))
            assert rate.value == pytest.approx(cut_shares(towns.at[code, "pass_rate_villages"], 3))  # as shown
            assert rate.number_format == "0.0%"
            if "supply" in kinds:
                assert ws.cell(row=i, column=j + 2).value.endswith(towns.at[code, "supply_status"])
        j += len(kinds)
    city_pop = results[0].villages["population"].sum()
    assert ws.cell(row=rows["441900"], column=3).value == pytest.approx(city_pop)


def test_compare_table_city_row_is_the_summary(rep):
    _, results, *_ = rep
    df = compare_table(results).set_index("town_code")
    for r in results:
        assert df.at["441900", f"{r.circle.id}.pop_share"] == pytest.approx(
            r.summary["results"]["covered_share"], abs=1e-6
        )
        assert df.at["441900", f"{r.circle.id}.pass_rate"] == pytest.approx(
            r.summary["results"]["village_pass_rate"], abs=1e-6
        )
    assert ("legal_aid_30.supply" in df.columns) is ("supply_status" in results[2].towns.columns)


def test_candidate_sheet_keeps_headers_numbers_and_ids(rep):
    *_, xlsx, _ = rep
    ws = load_workbook(xlsx)["15分钟健身圈 候选点"]
    heads = [c.value for c in ws[2]]
    # as candidates.xlsx: Chinese first (units in the headers), the rank and the name lead, ids at the end
    assert heads[:3] == ["排名 rank", "名称 name", "镇街 town"] and "新增覆盖人口(人) people newly covered" in heads
    from dgcoverage.outputs.sites import XLSX_HEADERS, xlsx_header

    col = {k: heads.index(xlsx_header(k, "m²")) + 1 for k in XLSX_HEADERS if xlsx_header(k, "m²") in heads}
    assert [ws.cell(row=i, column=col["rank"]).value for i in (3, 4, 5)] == [1, 2, 3]
    assert ws.cell(row=3, column=col["site_id"]).value == "gap:101"
    assert ws.cell(row=3, column=col["town_code"]).value == "441900003"  # an id stays text
    pop = ws.cell(row=3, column=col["new_population"])
    assert pop.value == 12345 and pop.number_format == "#,##0"
    sh = ws.cell(row=3, column=col["cum_covered_share"])
    assert sh.value == pytest.approx(0.512) and sh.number_format == "0.0%"  # 0.512345 cut to the 0.1 % shown
    assert ws.cell(row=4, column=col["name"]).value is None  # empty stays empty
    assert ws.cell(row=3, column=col["lon"]).number_format == "0.0000000"


def test_about_sheet_and_titles_mark_synthetic(rep):
    _, results, _, xlsx, _ = rep
    wb = load_workbook(xlsx)
    about = [c.value for c in wb["说明 About"]["A"] if c.value]
    assert "synthetic = true" in about
    assert any("SYNTHETIC" in str(v) and "合成数据" in str(v) for v in about)
    assert any("达标 covered" in str(v) and "90%" in str(v) for v in about)  # the status rule
    assert any(str(v).startswith("fitness_15:") for v in about)
    assert sum("供给标准 supply standard" in str(v) for v in about) == sum(
        bool(r.summary.get("supply")) for r in results
    )
    links = {c.value: c.hyperlink.location for c in wb["说明 About"]["A"] if c.hyperlink is not None}
    assert links == {n: f"'{n}'!A1" for n in wb.sheetnames[1:]}  # the sheet list links to every sheet
    for ws in wb.worksheets[1:]:
        assert "SYNTHETIC" in ws["A1"].value, ws.title
    assert len(wb["15分钟健身圈 镇街"]._charts) == 1 and len(wb["覆盖曲线 curves"]._charts) == 1


# ---------------------------------------------------------------- HTML


def _text(page: str) -> str:
    """Visible text of a page (tags and styles removed, entities decoded)."""
    body = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_share_classes():
    assert [share_class(v) for v in (0.0, 0.2999, 0.3, 0.5999, 0.6, 0.8999, 0.9, 1.0)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert share_class(float("nan")) == -1 and share_class(None) == -1


def test_atlas_has_one_page_per_town_with_a_map_per_circle(rep):
    study, results, _, _, page = rep
    doc = page.read_text(encoding="utf-8")
    towns = re.findall(r"<section class='town' id='town-(\d+)'>", doc)
    assert towns == ["441900003", "441900006"]
    for code in towns:
        assert f"href='#town-{code}'" in doc  # contents and comparison link to the town page
        sec = doc.split(f"id='town-{code}'")[1].split("<section")[0]
        maps = re.findall(r"<svg class='vmap'.*?</svg>", sec, flags=re.S)
        assert len(maps) == len(CIRCLES)
        n = int((study.villages["town_code"] == code).sum())
        for svg, r in zip(maps, results):
            fills = re.findall(r"<path class='(c\d|hg|hu|nd)'", svg)
            assert len(fills) == n  # every village of the town, drawn once
            v = r.villages[r.villages["town_code"] == code].sort_values("code")
            expect = [
                {"gap": "hg", "unreachable": "hu", "no_data": "nd"}.get(s, f"c{share_class(x)}")
                for x, s in zip(v["covered_share"], v["status"])
            ]
            assert fills == expect
        assert len(re.findall(r"<tr><td class='n'>\d+</td>", sec)) == n  # the village table
    assert "≥ 90% of the village's people within the circle's time limit" in _text(doc)


def test_city_table_is_each_summary(rep):
    _, results, _, _, page = rep
    table = page.read_text(encoding="utf-8").split("<table class='city'>")[1].split("</table>")[0]
    for r in results:
        res = r.summary["results"]
        row = table.split(f"<a href='#{r.circle.id}'>")[1].split("</tr>")[0]
        cells = re.findall(r"<td class='n[^']*'>([^<]*)</td>", row)
        by = res["villages_by_status"]
        assert cells == [
            f"{r.circle.minutes:g} min",
            _cut(res["covered_share"]),
            f"{res['covered_population']:,.0f}",
            _cut(res["village_pass_rate"]),
            *(str(by[s]) for s in ("covered", "partial", "gap", "unreachable", "no_data")),
        ]
        assert sum(by.values()) == 34


def test_comparison_small_multiples_colour_towns_by_population_covered(rep):
    _, results, _, _, page = rep
    sec = page.read_text(encoding="utf-8").split("<section id='compare'>")[1].split("</section>")[0]
    maps = re.findall(r"<svg class='vmap'.*?</svg>", sec, flags=re.S)
    assert len(maps) == 2 * len(CIRCLES)  # towns by population covered, then villages by covered share
    for svg, r in zip(maps[: len(CIRCLES)], results):
        t = r.towns.set_index("town_code")
        fills = re.findall(r"<path class='(c\d|nd)'", svg)
        assert fills == [f"c{share_class(t.at[c, 'pass_rate_population'])}" for c in ("441900003", "441900006")]
        assert f"<title>{t.at['441900006', 'town_name']} {_cut(t.at['441900006', 'pass_rate_population'], 0)}" in svg


def test_town_key_numbers_are_the_town_table(rep):
    _, results, _, _, page = rep
    doc = page.read_text(encoding="utf-8")
    sec = doc.split("id='town-441900006'")[1]
    key = sec.split("<table class='key'>")[1].split("</table>")[0]
    for r in results:
        t = r.towns.set_index("town_code").loc["441900006"]
        row = key.split(f"<td>{r.circle.name_zh}</td>")[1].split("</tr>")[0]
        assert _cut(t["pass_rate_population"]) in row and _cut(t["pass_rate_villages"]) in row
        assert f">{int(t['villages_covered'])}</td>" in row


def test_html_has_no_nan_and_escapes_names(rep):
    *_, page = rep
    doc = page.read_text(encoding="utf-8")
    text = _text(doc)
    assert not re.search(r"(?<![A-Za-z])(nan|NaN|None|NaT)(?![A-Za-z])", text)
    assert EVIL not in doc and html.escape(EVIL) in doc
    assert "<img" not in doc and "<script" not in doc
    assert "data-synthetic='true'" in doc and "SYNTHETIC" in doc
    assert "@top-center" in doc  # the synthetic mark on every printed page
    # candidates: the empty name falls back to town + rank, never "nan"
    assert "东城大道 旁" in text and "东城街道 #2" in text


def test_html_links_to_maps_only_when_asked(rep):
    _, results, out, _, page = rep
    doc = page.read_text(encoding="utf-8")
    assert "href='../maps/index.html'" in doc
    assert doc.count("href='../maps/fitness_15.html'") == 1 + 1 + 2  # contents, circle section, each town page
    bare = report_html(results)
    assert "maps/" not in bare and "index.html" not in bare
    assert "候选点 candidate sites" not in bare  # no candidates folder given


# ---------------------------------------------------------------- headless Chromium


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = [
        *chromium_base(tmp_path),
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300)


def _class_pixels(png: Path) -> dict[str, int]:
    """Pixels of each map class colour in a PNG."""
    from PIL import Image

    with Image.open(png) as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
    out = {}
    for k, hexc in enumerate(CLASS_COLOURS):
        rgb = np.array([int(hexc[i : i + 2], 16) for i in (1, 3, 5)])
        out[f"c{k}"] = int((np.abs(px.astype(int) - rgb).sum(axis=1) <= 6).sum())
    return out


def test_town_page_screenshot(rep, tmp_path):
    *_, page = rep
    doc = page.read_text(encoding="utf-8")
    only = "body>*:not(#town-441900003):not(svg.defs):not(.banner){display:none!important}"
    probe = page.parent / "town_probe.html"
    probe.write_text(doc.replace("</style>", only + "</style>", 1), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_town_441900003.png"
    shot.unlink(missing_ok=True)
    _chromium([f"--screenshot={shot}", "--window-size=1200,900", probe.resolve().as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000
    px = _class_pixels(shot)
    assert sum(px.values()) > 20_000, px  # the four maps are drawn in the class colours


def test_report_prints_one_page_per_town_with_colours(rep, tmp_path):
    *_, page = rep
    pdf = tmp_path / "report.pdf"
    r = _chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri()], tmp_path)
    assert pdf.exists() and pdf.stat().st_size > 10_000, r.stderr[-2000:]
    data = pdf.read_bytes()
    n_pages = len(re.findall(rb"/Type\s*/Page(?![a-z])", data))
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        n_pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        assert re.search(r"Page size:\s+84[12]\.\d+ x 59[45]\.\d+", info), info  # A4 landscape
    # contents/circles (>= 4 sections), comparison, atlas intro, one page per town (2)
    assert 2 + 4 + 1 + 1 <= n_pages <= 30, n_pages
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        return
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = text.split("\f")[:n_pages]
    assert all("SYNTHETIC DATA" in p for p in pages)  # the synthetic mark on every page
    town = [i for i, p in enumerate(pages, start=1) if "441900006 · 人口 population" in p]
    assert len(town) == 1  # the town fits its page
    subprocess.run(
        ["pdftoppm", "-f", str(town[0]), "-l", str(town[0]), "-r", "60", "-png", str(pdf), str(tmp_path / "pg")]
    )
    png = next(tmp_path.glob("pg*.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "report_town_441900006_print.png")
    assert sum(_class_pixels(png).values()) > 2_000  # colours kept in print


# ---------------------------------------------------------------- demo scale


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The whole embedded default (609 villages, 36 towns), four circles."""
    from dgcoverage.demo.synthetic import build_demo

    root = tmp_path_factory.mktemp("demo_report")
    build_demo(root / "raw")
    circles, settings = load_config()
    study = load_study(data_dir=root / "raw", settings=settings)
    results = [
        run_circle(study, circles[c], load_facilities(study, circles[c], data_dir=root / "raw")) for c in CIRCLES
    ]
    return study, results, write_report(results, root / "out")


def test_demo_report_has_609_villages_and_36_town_pages_under_5_mb(demo_report):
    study, results, (xlsx, page) = demo_report
    wb = load_workbook(xlsx, read_only=True)
    for c in CIRCLES:
        ws = wb[f"{NAME_ZH[c]} 村社区"]
        assert ws.max_row - 2 == len(study.villages) == 609
    doc = page.read_text(encoding="utf-8")
    towns = re.findall(r"<section class='town' id='town-(\d+)'>", doc)
    assert towns == sorted(study.villages["town_code"].astype(str).unique()) and len(towns) == 36
    assert page.stat().st_size < 5e6


def test_real_data_report_has_no_synthetic_marks_and_one_circle_works(rep):
    from dataclasses import replace

    _, results, *_ = rep
    s = results[1].summary
    real = replace(results[1], summary=replace(s, synthetic=False, supply={**s.supply, "capacity_synthetic": False}))
    doc = report_html([real])
    assert "SYNTHETIC" not in doc and "合成数据" not in doc and "@top-center" not in doc
    assert "data-synthetic='false'" in doc
    assert len(re.findall(r"<section class='town'", doc)) == 2
    assert len(re.findall(r"<svg class='vmap'", doc)) == 2 + 2  # a map per town; the towns and villages city maps
    assert not re.search(r"(?<![A-Za-z])(nan|NaN|None)(?![A-Za-z])", _text(doc))


def test_hostile_circle_names_are_escaped_and_sheet_names_safe(rep, tmp_path):
    from dataclasses import replace

    _, results, *_ = rep
    bad = "<script>alert('c')</script>/[x]:*?"
    odd = replace(results[0], circle=replace(results[0].circle, name_zh=bad, name_en=EVIL))
    xlsx, page = write_report([odd, results[1]], tmp_path)
    doc = page.read_text(encoding="utf-8")
    assert "<script" not in doc and EVIL not in doc and html.escape(bad) in doc
    names = load_workbook(xlsx).sheetnames
    # the name is cut so that the kind of sheet still shows (31 characters at most), then sanitised
    assert names[4:6] == ["<script>alert('c')<_script>_ 镇街", "<script>alert('c')<_script> 村社区"]
    assert all(len(n) <= 31 for n in names)
