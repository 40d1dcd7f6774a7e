"""Outputs cannot be turned against their readers (Excel formulas, HTML injection) and numbers are written exactly."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from openpyxl import Workbook, load_workbook

from dgcoverage.core.io import (
    GUARD_CHARS,
    PLAIN_NUMBER,
    guard_frame,
    guard_text,
    guard_workbook,
    save_workbook,
    sheet_title,
    unguard_text,
    write_csv,
)
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.population import PopulationGrid
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.maps import html_key, index_map_html, page_href, render_page, write_maps
from dgcoverage.outputs.report import report_html, write_report
from dgcoverage.outputs.sites import write_sites
from dgcoverage.outputs.tables import write_circle
from dgcoverage.pipeline import sites as cand_mod
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at, make_study

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "<script>alert(1)</script>",
    '" onmouseover="x',
    "</script><script>",
]
VILLAGE_NAMES = [HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[5], HOSTILE[4]]
BIG_POP = 10466625.0
CIRCLE = load_config()[0]["fitness_15"]


# ---------------------------------------------------------------- helpers


def _study():
    """A 3 km street with a village every 600 m; a facility at the west end leaves the east uncovered."""
    nodes = [(100.0 * i, 0.0) for i in range(31)]
    edges = [(i, i + 1) for i in range(30)]
    cells = [(100.0 * i + 10, 20.0) for i in range(31)]
    pop = [BIG_POP if i == 3 else 120.0 + i for i in range(31)]
    boxes = [(600.0 * k - 50, -300, 600.0 * k + 550, 300) for k in range(5)]
    study = make_study(nodes, edges, cells, pop, boxes)
    # a one-row grid whose populated cells are the study's cells, in order (gap areas need it)
    x0, y0 = float(study.cell_x[0]) - 50.0, float(study.cell_y[0]) + 50.0
    grid = PopulationGrid(np.asarray([pop], dtype=float), Affine(100, 0, x0, 0, -100, y0), study.graph.crs)
    return dataclasses.replace(study, grid=grid)


def _run(tmp_path: Path, hostile: bool):
    """Run the tiny study (hostile or clean names) and write every output; return (study, result, out, maps)."""
    study = _study()
    fac = facilities_at([(0.0, 0.0), (50.0, 0.0), (1200.0, 0.0)])
    circle = CIRCLE
    if hostile:
        study.villages["name"] = VILLAGE_NAMES
        study.villages["town_name"] = HOSTILE[6]
        study.towns["town_name"] = HOSTILE[6]
        fac["name"] = [HOSTILE[0], HOSTILE[7], HOSTILE[8]]
        fac["facility_id"] = [HOSTILE[1], HOSTILE[2], HOSTILE[3]]
        fac["kind"] = [HOSTILE[4], HOSTILE[5], HOSTILE[6]]
        fac["address"] = [HOSTILE[5], HOSTILE[3], HOSTILE[0]]
        fac["source"] = "<!--<script>x.csv"  # shown in popups: must not open a script-data escape
        circle = dataclasses.replace(
            CIRCLE,
            name_zh="</title><script>alert(1)</script>健身",
            name_en='" onmouseover="x',
            policy_source=HOSTILE[0],
        )
    else:
        study.villages["name"] = [f"村{i}" for i in range(5)]
    res = run_circle(study, circle, fac)
    out = tmp_path / ("hostile" if hostile else "clean")
    write_circle(res, out)
    base = res
    cs = cand_mod.build_candidates(study, base)
    sr = cand_mod.plan_sites(study, base, cs, k=2)
    t = sr.table.copy()
    t["name"] = HOSTILE[0] if hostile else "站"
    t["road_name"] = HOSTILE[3] if hostile else "路"
    t.loc[0, "lon"] = -0.1234567  # a negative longitude must stay a number
    write_sites(dataclasses.replace(sr, table=t), circle.id, out)
    write_report([res], out)
    sa, gp = write_areas(study, res, out)
    maps = write_maps(study, [res], {circle.id: (sa, gp)}, out / "maps", out_dir=out)
    return study, res, out, maps


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    return {"clean": _run(tmp, False), "hostile": _run(tmp, True)}


def _csv_cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _assert_csv_safe(path: Path) -> list[list[str]]:
    rows = _csv_cells(path)
    width = len(rows[0])
    for row in rows:
        assert len(row) == width, (path.name, row)  # no CR split a row
        for cell in row:
            assert not cell.startswith(GUARD_CHARS) or PLAIN_NUMBER.fullmatch(cell), (path.name, cell)
    return rows


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attrs: set[str] = set()
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs |= {a for a, _ in attrs}
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    p.close()
    return p


# ---------------------------------------------------------------- unit rules


@pytest.mark.parametrize("text", HOSTILE[:6] + ["-", "+", "=1", "-1-1", "- 1", "-1e", "-1,000", "-０", "+inf", "-nan"])
def test_guard_text_prefixes_formula_like_text(text):
    assert guard_text(text) == "'" + text
    assert unguard_text(guard_text(text)) == text


@pytest.mark.parametrize(
    "value",
    [
        "-0.1234567",
        "+3",
        "-12.5e3",
        "-113.7500000",
        "42",
        ".5",
        "-7.",
        "1E-05",
        "abc",
        "村",
        "'=x",
        "",
        " =x",
        -1.5,
        -3,
        None,
        float("nan"),
    ],
)
def test_guard_text_leaves_numbers_and_plain_text(value):
    got = guard_text(value)
    assert got is value or (isinstance(value, float) and np.isnan(value) and np.isnan(got))


def test_guard_frame_headers_and_text_columns_only():
    df = pd.DataFrame({"=bad": ["=1+1", "ok"], "n": [-1, 2], "x": [-0.5, np.nan], "lon": ["-0.1234567", "@a"]})
    g = guard_frame(df)
    assert list(g.columns) == ["'=bad", "n", "x", "lon"]
    assert g["'=bad"].tolist() == ["'=1+1", "ok"] and g["lon"].tolist() == ["-0.1234567", "'@a"]
    assert g["n"].dtype == np.int64 and g["n"].tolist() == [-1, 2] and g["x"].iloc[0] == -0.5
    assert df.columns[0] == "=bad" and df["=bad"].iloc[0] == "=1+1"  # input untouched


def test_write_csv_numbers_exact(tmp_path):
    df = pd.DataFrame(
        {
            "population": [BIG_POP, 0.5, np.nan, -1e-9],
            "count": np.array([10466625, -3, 0, 7]),
            "share": [0.1234567891, 1.0, 0.0, -0.25],
            "lon": [113.12345678, -0.1234567, 0.0, 1e-7],
            "flag": [True, False, True, False],
        }
    )
    p = write_csv(df, tmp_path / "n.csv")
    text = p.read_text(encoding="utf-8-sig")
    assert "e+" not in text and "1.04666" not in text and "10466600" not in text
    rows = _csv_cells(p)
    assert rows[0] == ["population", "count", "share", "lon", "flag"]
    assert rows[1] == ["10466625.000000", "10466625", "0.123457", "113.123457", "True"]
    assert rows[2] == ["0.500000", "-3", "1.000000", "-0.123457", "False"]
    assert rows[3] == ["", "0", "0.000000", "0.000000", "True"]
    assert rows[4] == ["0.000000", "7", "-0.250000", "0.000000", "False"]  # no "-0.000000"
    back = pd.read_csv(p, encoding="utf-8-sig")
    assert back["population"].iloc[0] == BIG_POP and back["count"].dtype == np.int64
    assert back["count"].tolist() == [10466625, -3, 0, 7]
    # per-column decimals (by full name or by the id before the first space), float_format still wins
    p2 = write_csv(df.rename(columns={"lon": "lon 经度"}), tmp_path / "d.csv", decimals={"lon": 7, "share": 2})
    r2 = _csv_cells(p2)
    assert r2[1] == ["10466625.000000", "10466625", "0.12", "113.1234568", "True"]
    p3 = write_csv(df[["population"]], tmp_path / "f.csv", float_format="%.1f", decimals=3)
    assert _csv_cells(p3)[1] == ["10466625.0"]
    with pytest.raises(ValueError):
        write_csv(df, tmp_path / "bad.csv", decimals=-1)


def test_write_csv_guards_text_and_keeps_rows(tmp_path):
    df = pd.DataFrame(
        {
            "name": HOSTILE + ["a\rb=1", "ok"],
            "v": np.arange(11) - 5,
            "lon": ["-0.1234567"] * 11,
            "mixed": [1.5, "=x", None] + ["-2"] * 8,
        }
    )
    p = write_csv(df, tmp_path / "h.csv")
    rows = _assert_csv_safe(p)
    assert len(rows) == 12
    names = [r[0] for r in rows[1:]]
    assert names[0] == "'" + HOSTILE[0] and names[4] == "'\tx" and names[5] == "'\nx"  # CR written as LF, quoted
    assert names[6:9] == HOSTILE[6:9] and names[9] == "a\nb=1"
    assert [r[2] for r in rows[1:]] == ["-0.1234567"] * 11
    assert [r[3] for r in rows[1:4]] == ["1.500000", "'=x", ""]
    back = pd.read_csv(p, encoding="utf-8-sig")
    assert back["lon"].iloc[0] == -0.1234567 and back["v"].tolist() == list(range(-5, 6))
    # byte-identical for identical input
    assert write_csv(df, tmp_path / "h2.csv").read_bytes() == p.read_bytes()


def test_workbook_guard_and_sheet_titles(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title("=x[1]:a/b?'")
    ws.append(HOSTILE + ["#N/A", -1.5, 3])
    ws2 = wb.create_sheet(sheet_title("=X[1]:A/B?'", wb.sheetnames))
    ws2["A1"] = "=SUM(A2)"
    save_workbook(wb, tmp_path / "w.xlsx")
    back = load_workbook(tmp_path / "w.xlsx")
    assert back.sheetnames == ["=x_1__a_b__", "=X_1__A_B__~2"]
    row = [c for c in back.worksheets[0][1]]
    # exact text: openpyxl writes through lxml (a dependency), which keeps a bare CR as &#13;
    assert [c.value for c in row[:10]] == HOSTILE + ["#N/A"]
    assert all(c.data_type == "s" for c in row[:10])
    assert row[10].data_type == "n" and row[10].value == -1.5 and row[11].value == 3
    assert row[0].quotePrefix and not row[6].quotePrefix
    assert back.worksheets[1]["A1"].data_type == "s" and back.worksheets[1]["A1"].value == "=SUM(A2)"
    assert sheet_title("") == "Sheet" and len(sheet_title("x" * 40)) == 31 and sheet_title("History") == "History_"
    assert guard_workbook(wb) is wb


def test_html_key_and_page_href():
    assert html_key("towns_fitness_15") == "towns_fitness_15" and html_key("a-b") == "a-b"
    for bad in ['x" onmouseover="y', "A", "a b", "健身", "", "a=b", "a>b"]:
        with pytest.raises(ValueError):
            html_key(bad)
    href = page_href("javascript:alert(1)//'\"")
    assert href.startswith("./") and ":" not in href and "'" not in href and '"' not in href
    assert page_href("fitness_15") == "./fitness_15.html"
    with pytest.raises(ValueError):
        render_page(
            "t",
            [
                {
                    "key": 'v" onmouseover="x',
                    "label": "l",
                    "style": "points",
                    "data": {"type": "FeatureCollection", "features": []},
                    "show": True,
                    "fit": False,
                }
            ],
            "",
            "",
        )


# ---------------------------------------------------------------- end to end


def test_every_csv_is_guarded_and_numbers_round_trip(runs):
    _, res, out, _ = runs["hostile"]
    d = out / res.circle.id
    for name in ("villages.csv", "towns.csv", "facilities.csv", "candidates.csv"):
        _assert_csv_safe(d / name)
    v = pd.read_csv(d / "villages.csv", encoding="utf-8-sig")
    v.columns = [c.split(" ")[0] for c in v.columns]
    assert v["name"].tolist() == ["'" + h.replace("\r", "\n") for h in VILLAGE_NAMES]  # CR written as LF
    # people round-trip as numbers, exactly (whole people or fixed decimals; never 1.04672e+07)
    for col in ("population", "covered_population", "covered_share", "median_time_min"):
        assert pd.api.types.is_numeric_dtype(v[col]), col
    np.testing.assert_allclose(v["population"], res.villages["population"], rtol=0, atol=0.5)
    assert v["population"].iloc[0] > BIG_POP and v["population"].iloc[0] == round(res.villages["population"].iloc[0])
    # shares cut to 6 decimals, never rounded up (the one rounding rule: never shown above the value)
    np.testing.assert_allclose(v["covered_share"], res.villages["covered_share"], atol=1e-6)
    assert (v["covered_share"] <= res.villages["covered_share"] + 1e-12).all()
    t = pd.read_csv(d / "towns.csv", encoding="utf-8-sig")
    t.columns = [c.split(" ")[0] for c in t.columns]
    assert t["population"].max() == pytest.approx(res.towns["population"].max(), abs=1e-6)
    f = pd.read_csv(d / "facilities.csv", encoding="utf-8-sig", dtype={"facility_id 设施编号": str})
    f.columns = [c.split()[0] for c in f.columns]  # bilingual headers
    assert f["lon"].dtype == np.float64 and f["lat"].dtype == np.float64
    assert set(f["name"]) == {"'" + HOSTILE[0], HOSTILE[7], HOSTILE[8]}
    c = pd.read_csv(d / "candidates.csv", encoding="utf-8-sig")
    c.columns = [x.split(" ")[0] for x in c.columns]
    assert c["lon"].iloc[0] == -0.1234567 and c["lon"].dtype == np.float64
    assert c["rank"].tolist() == list(range(1, len(c) + 1)) and c["name"].iloc[0] == "'" + HOSTILE[0]
    assert pd.api.types.is_numeric_dtype(c["cum_covered_population"]) and c["new_population"].gt(0).all()


def test_every_xlsx_keeps_text_as_strings(runs):
    _, res, out, _ = runs["hostile"]
    # hostile text that reaches each workbook, exactly (a bare CR is kept: written through lxml as &#13;)
    expect = {
        "report.xlsx": {HOSTILE[0], HOSTILE[4], HOSTILE[5], HOSTILE[6], HOSTILE[7]},
        "candidates.xlsx": {HOSTILE[0], HOSTILE[3], HOSTILE[4], HOSTILE[5], HOSTILE[6]},
    }
    for path in (out / "report.xlsx", out / res.circle.id / "candidates.xlsx"):
        wb = load_workbook(path)
        numbers = 0
        found: set[str] = set()
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        assert cell.data_type == "s"
                        found |= {h for h in HOSTILE if h in cell.value}
                    elif isinstance(cell.value, bool):
                        assert cell.data_type == "b"
                    elif isinstance(cell.value, (int, float)):
                        assert cell.data_type == "n"
                        numbers += 1
        assert numbers > 0 and expect[path.name] <= found, (path.name, found)
    ws = load_workbook(out / res.circle.id / "candidates.xlsx")["候选点 candidates"]
    header = [c.value for c in ws[1]]
    lon = ws.cell(row=2, column=header.index("经度(WGS84) lon") + 1)
    assert lon.data_type == "n" and lon.value == -0.1234567
    names = [ws.cell(row=r, column=header.index("名称 name") + 1) for r in range(2, ws.max_row + 1)]
    assert all(n.value == HOSTILE[0] and n.data_type == "s" for n in names)
    wb = load_workbook(out / "report.xlsx")
    rep = wb[next(n for n in wb.sheetnames if n.endswith(" 镇街"))]  # the circle's town sheet
    assert rep["A1"].value.startswith("</title>") and rep["A1"].data_type == "s"


def test_report_xlsx_sheet_names_from_ids_are_sanitised(runs, tmp_path):
    _, res, *_ = runs["hostile"]
    odd = dataclasses.replace(res, circle=dataclasses.replace(res.circle, id="=a[1]/b:c?*'", name_zh="=a[1]/b:c?*'"))
    write_report([odd, res], tmp_path)
    wb = load_workbook(tmp_path / "report.xlsx")
    head = [
        "说明 About",
        "镇街对比 compare",
        "覆盖曲线 curves",
        "公平性 equity",
        "=a_1__b_c__' 镇街",
        "=a_1__b_c__' 村社区",
    ]
    assert wb.sheetnames[:6] == head
    assert wb.sheetnames[6].endswith(" 镇街") and all(len(n) <= 31 for n in wb.sheetnames)
    about = wb["说明 About"]
    assert all(c.data_type != "f" for row in about.iter_rows() for c in row)
    page = report_html([odd])
    assert "id='=a[1]/b:c?*&#x27;'" in page


def test_html_pages_have_no_injected_elements(runs):
    pages = {}
    for kind in ("clean", "hostile"):
        _, res, out, maps = runs[kind]
        assert [p.name for p in maps] == [f"{res.circle.id}.html", "index.html"]
        pages[kind] = {p.name: p.read_text(encoding="utf-8") for p in maps}
        pages[kind]["report.html"] = (out / "report.html").read_text(encoding="utf-8")
    for name, hostile in pages["hostile"].items():
        h, c = _parse(hostile), _parse(pages["clean"][name])
        assert h.tags == c.tags, name  # same elements as a clean run: nothing injected
        assert h.attrs == c.attrs, name
        assert "onmouseover" not in h.attrs and "onerror" not in h.attrs
        assert h.tags["script"] == c.tags["script"]
        for raw in HOSTILE[6:9] + ["</title><script>"]:
            assert raw not in hostile
        if name != "report.html":
            # the layer data is still valid JSON, with the names as escaped text
            data_json = next(s for s in h.scripts if s.startswith('{"layers"'))
            data = json.loads(data_json)
            tips = json.dumps(data, ensure_ascii=False)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tips
            if name != "index.html":
                assert "&lt;!--&lt;script&gt;x.csv" in tips
            assert "</" not in data_json and "<!--" not in data_json
    # the folium <title> is escaped text
    page = pages["hostile"][f"{runs['hostile'][1].circle.id}.html"]
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;健身" in page
    # candidate names read back from candidates.csv show without the CSV guard, escaped
    assert "=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)" in page and "&#x27;=HYPERLINK" not in page


def test_index_links_and_keys_from_ids(runs, tmp_path):
    study, res, *_ = runs["hostile"]
    idx = index_map_html(study, [res])
    assert f"href='./{res.circle.id}.html'" in idx and f'data-towns_{res.circle.id}=""' in idx
    for bad in ("javascript:alert(1)//", "a' onclick='x", "../up"):
        evil = dataclasses.replace(res, circle=dataclasses.replace(res.circle, id=bad))
        with pytest.raises(ValueError, match="not allowed"):
            index_map_html(study, [evil])
        with pytest.raises(ValueError, match="not allowed"):
            write_maps(study, [evil], {}, tmp_path / "maps", index=False)
    assert not (tmp_path / "maps").exists()
    # a hostile label or title is escaped; the layer dicts given are not modified
    layer = {
        "key": "pts",
        "label": "<b onmouseover=x>",
        "style": "points",
        "data": {"type": "FeatureCollection", "features": []},
        "show": True,
        "fit": False,
    }
    page = render_page("<script>t</script>", [layer], "", "")
    assert layer["label"] == "<b onmouseover=x>" and "onmouseover" not in _parse(page).attrs
    assert "<script>t</script>" not in page and _parse(page).tags["b"] == 0


def test_hostile_page_runs_in_headless_chromium(runs, tmp_path):
    """The hostile page's data still parses in a browser (all layers drawn) and no injected element exists."""
    import re

    from .test_maps import _run_chromium

    _, res, _, maps = runs["hostile"]
    dom = _run_chromium(["--dump-dom", maps[0].resolve().as_uri() + "#dg-open"], tmp_path).stdout
    m = re.search(r'<div id="dg-counts"[^>]*>', dom)
    assert m and 'data-ready="1"' in m.group(0) and 'data-opened="1"' in m.group(0)
    n_cand = len(pd.read_csv(maps[0].parent.parent / res.circle.id / "candidates.csv", encoding="utf-8-sig"))
    assert f'data-facilities="{len(res.facilities)}"' in m.group(0) and f'data-candidates="{n_cand}"' in m.group(0)
    assert "<script>alert(1)</script>" not in dom and "<script>x.csv" not in dom
    assert not {"onmouseover", "onerror"} & _parse(dom).attrs  # the quote in '" onmouseover="x' stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text in the tooltips
