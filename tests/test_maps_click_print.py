"""Maps that click and print right, checked in headless Chromium (network blocked) on the whole embedded default.

A real mouse event at a covered village's interior point opens the village (the service area takes no click);
the panes keep their order when a layer goes off and on; the two village fills are one choice; printing a
page gives one A4-landscape page with every town label, the legend, the synthetic mark, a scale bar and a
north arrow, from any window size; the overview shows its legend and synthetic note without scrolling.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ._browser import chromium_base

BLOCK = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The whole embedded default (609 villages, 36 towns, 4 circles) run with maps, through the CLI."""
    from dgcoverage.cli.main import main
    from dgcoverage.demo.synthetic import build_demo
    from dgcoverage.pipeline.load import load_study

    root = tmp_path_factory.mktemp("click_print")
    build_demo(root / "raw")
    assert main(["run", "--all", "--data-dir", str(root / "raw"), "--out", str(root / "out")]) == 0
    return load_study(data_dir=root / "raw"), root / "out", root / "out" / "maps"


def _chromium(args: list[str], tmp_path: Path, size: tuple[int, int] = (1366, 768)) -> subprocess.CompletedProcess:
    base = [*chromium_base(tmp_path), *BLOCK, "--virtual-time-budget=5000", f"--window-size={size[0]},{size[1]}"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300)


def _probe(page: Path, script: str, tmp_path: Path, size: tuple[int, int] = (1366, 768)) -> dict:
    """Run ``script`` in a copy of ``page`` (beside it, so outlines.js loads) after load; ``out(k, v)`` reports."""
    probe = page.parent / f"probe_{tmp_path.name}_{page.name}"
    hook = (
        "<script>window.addEventListener('load',function(){var R={};function out(k,v){R[k]=v;}"
        f"try{{ {script} }}catch(err){{R.error=String(err)+' '+err.stack;}}"
        "document.body.setAttribute('data-probe',JSON.stringify(R));});</script></body>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", hook), encoding="utf-8")
    try:
        dom = _chromium(["--dump-dom", probe.resolve().as_uri()], tmp_path, size).stdout
    finally:
        probe.unlink()
    m = re.search(r"<body[^>]*data-probe=\"([^\"]*)\"", dom)
    assert m, "probe did not run:\n" + dom[-2000:]
    res = json.loads(html.unescape(m.group(1)))
    assert "error" not in res, res["error"]
    return res


def _page_data(page: Path) -> dict:
    txt = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'id="dg-data">(.*?)</script>', txt, re.S).group(1))


# a real click (mousedown, mouseup, click) at the pixel of a lon/lat, on whatever element lies there
CLICK = (
    "function clickAt(lon,lat){var cp=dgMap.latLngToContainerPoint(L.latLng(lat,lon)),"
    "r=dgMap.getContainer().getBoundingClientRect(),x=r.left+cp.x,y=r.top+cp.y,el=document.elementFromPoint(x,y);"
    "['mousedown','mouseup','click'].forEach(function(t){el.dispatchEvent(new MouseEvent(t,{bubbles:true,"
    "cancelable:true,view:window,button:0,clientX:x,clientY:y}));});"
    "var p=document.querySelector('.leaflet-popup-content'),pane=el.closest('.leaflet-pane');"
    "var res={popup:p?p.textContent:'',tag:el.tagName,pane:pane?pane.className:''};dgMap.closePopup();return res;}"
)


def _covered(out: Path, cid: str, n: int = 6) -> pd.DataFrame:
    """Covered villages (100 % of their people within the limit), the most populous first."""
    vt = pd.read_csv(out / cid / "villages.csv", encoding="utf-8-sig")
    vt.columns = [c.split(" ")[0] for c in vt.columns]
    vt["code"] = vt["code"].astype(str)
    full = vt[(vt["status"] == "covered") & (vt["covered_share"] >= 1.0)]
    return full.sort_values("population", ascending=False).head(n)


def test_a_click_in_a_covered_village_opens_the_village(demo, tmp_path):
    """The service area (hatched, on top of the fill) lets the click through to the village below, and the
    village's popup says it lies inside the service area; off and on again, the village layer keeps its pane."""
    _, out, maps = demo
    page = maps / "legal_aid_30.html"
    data = _page_data(page)
    want = _covered(out, "legal_aid_30")
    assert "林屋村" in set(want["name"]) or len(want) == 6
    idx = [data["v"]["code"].index(c) for c in want["code"]]
    script = (
        CLICK + f"var idx={json.dumps(idx)},D=JSON.parse(document.getElementById('dg-data').textContent),R1=[],R2=[];"
        "idx.forEach(function(i){var p=D.v.lab[i];dgMap.setView([p[1],p[0]],14,{animate:false});"
        "R1.push(clickAt(p[0],p[1]));});"
        # turn the villages off and on (as the layer control does): they stay under the service area
        "dgMap.removeLayer(dgApi.groups.villages);dgApi.groups.villages.addTo(dgMap);"
        "idx.forEach(function(i){var p=D.v.lab[i];dgMap.setView([p[1],p[0]],14,{animate:false});"
        "R2.push(clickAt(p[0],p[1]));});out('first',R1);out('again',R2);"
        "function z(n){return +getComputedStyle(dgMap.getPane(n)).zIndex;}"
        "out('z',[z('dgFill'),z('dgArea'),z('dgLine'),z('dgPoint')]);"
        "out('svc',document.querySelectorAll('.leaflet-dgArea-pane path').length);"
        "out('svcClick',document.querySelectorAll('.leaflet-dgArea-pane path.leaflet-interactive').length);"
    )
    r = _probe(page, script, tmp_path)
    assert r["z"] == sorted(r["z"]) and len(set(r["z"])) == 4  # fills < areas < outlines < points
    assert r["svc"] >= 1 and r["svcClick"] == 0  # the service area is drawn, and takes no click
    for key in ("first", "again"):
        for name, hit in zip(want["name"], r[key]):
            assert name in hit["popup"], (key, name, hit)
            assert "leaflet-dgFill-pane" in hit["pane"] and hit["tag"] == "path", (key, name, hit)
            assert "在服务范围内 inside the service area是 yes (100%)" in hit["popup"], hit["popup"]
            assert "服务范围 service area (" not in hit["popup"]


def test_the_two_village_fills_are_one_choice(demo, tmp_path):
    """2SFCA supply and share covered: radio buttons; choosing one removes the other; search brings back the
    share; gap areas are hatched (not a brown fill) and their numbers are in the village popup."""
    study, out, maps = demo
    page = maps / "elderly_care_15.html"
    n_drawn = int(study.villages["has_area"].sum())
    script = (
        "function n(){return document.querySelectorAll('.leaflet-dgFill-pane path').length;}"
        "var radios=document.querySelectorAll('.dg-fills input[type=radio]');out('radios',radios.length);"
        "out('n0',n());radios[1].click();out('n1',n());out('supply',dgMap.hasLayer(dgApi.groups.supply));"
        "out('villages',dgMap.hasLayer(dgApi.groups.villages));"
        "out('checks',document.querySelectorAll('.leaflet-control-layers-overlays input').length);"
        "dgApi.focusVillage(0);out('n2',n());out('supply2',dgMap.hasLayer(dgApi.groups.supply));dgMap.closePopup();"
        "dgApi.groups.gaps.addTo(dgMap);var g=document.querySelectorAll('.leaflet-dgArea-pane path');"
        "out('gapFills',Array.prototype.map.call(g,function(p){return p.getAttribute('fill');}));"
        "var D=JSON.parse(document.getElementById('dg-data').textContent),gl=D.layers.filter(function(s){"
        "return s.key==='gaps';})[0].data.features[0].properties;out('gap',gl);"
        "out('popup',dgApi.villagePopup(D.v.code.indexOf(gl.c)));"
    )
    r = _probe(page, script, tmp_path)
    assert r["radios"] == 2 and r["n0"] == r["n1"] == r["n2"] == n_drawn  # never 2 x 608 fills stacked
    assert r["supply"] is True and r["villages"] is False and r["supply2"] is False
    assert r["checks"] == 4  # gaps, service area, towns, facilities: the fills are not among the checkboxes
    assert set(r["gapFills"]) >= {"url(#dg-h-gap)"}
    g, r["popup"] = r["gap"], html.unescape(re.sub(r"<[^>]+>", "", r["popup"]))
    assert f"盲区人口 people beyond the limit{g['p']:,.0f} 人 (超时 beyond {g['b']:,.0f}" in r["popup"]
    assert f"离网 off network {g['o']:,.0f})" in r["popup"]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_a_page_prints_on_one_a4_landscape_page(demo, tmp_path, size):
    """Circle page and overview: one A4-landscape page with every town label, the legend, the synthetic mark,
    a scale bar and a north arrow, whatever the window size."""
    if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdfinfo, pdftotext) not installed")
    _, out, maps = demo
    note = json.loads((out / "legal_aid_30" / "summary.json").read_text(encoding="utf-8"))
    for name, legend in (("legal_aid_30.html", "≥ 90 % = 达标 covered"), ("index.html", "镇街人口覆盖率")):
        data = _page_data(maps / name)
        towns = [html.unescape(n) for n, lab in zip(data["t"]["name"], data["t"]["lab"]) if lab]
        assert len(towns) == 35  # every town with a boundary has its label
        pdf = tmp_path / f"{name}.pdf"
        _chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", (maps / name).resolve().as_uri()], tmp_path, size)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Pages:\s+1\n", info), (name, size, info)
        w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
        assert abs(w - 841.9) < 1 and abs(h - 595.0) < 1, info  # A4 landscape
        text = _squash(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout)
        missing = [t for t in towns if t not in text]
        assert not missing, (name, size, missing)
        assert _squash(legend) in text and _squash(note["note_zh"])[:30] in text and "SYNTHETICDATA" in text
        assert re.search(r"\d+(km|m)", text) and "N北" in text, (name, size)  # scale bar and north arrow


def test_atlas_maps_have_a_true_scale_bar_and_a_north_arrow(demo):
    """Every small map of the report has a scale bar and a north arrow; the bar's length matches the ground."""
    import geopandas as gpd

    study, out, _ = demo
    page = (out / "report.html").read_text(encoding="utf-8")
    code = "441900102"  # 石龙镇
    sec = re.search(rf"<section class='town' id='town-{code}'>(.*?)</section>", page, re.S).group(1)
    svgs = re.findall(r"<svg class='vmap'.*?</svg>", sec, re.S)
    assert len(svgs) == 4
    drawn = [x for x in re.findall(r"<svg class='vmap'.*?</svg>", page, re.S) if "<path class='ol'" in x]
    assert len(drawn) >= 4 * 35  # the atlas (35 towns with a shape, 4 circles) and the city maps
    assert page.count("<g class='scale'") == len(drawn)  # an empty frame (东莞滨海湾新区: no shape) has none
    assert all("<g class='scale'" in x and "<g class='north'" in x for x in drawn)
    svg = svgs[0]
    m = re.search(r"aria-label='scale bar ([\d.]+) (km|m)'><rect x='([\d.]+)'[^>]*width='([\d.]+)'", svg)
    metres = float(m.group(1)) * (1000 if m.group(2) == "km" else 1)
    m_per_unit = metres / (2 * float(m.group(4)))
    outline = re.search(r"<path class='ol' d='([^']*)'", svg).group(1)
    xs = [float(x) for x in re.findall(r"(-?\d+) -?\d+", outline)]
    v = study.villages[(study.villages["town_code"] == code) & study.villages["has_area"]]
    b = gpd.GeoSeries(v.geometry, crs=4326).to_crs(32649).total_bounds  # UTM 50N, metres
    ground = b[2] - b[0]
    assert ground == pytest.approx((max(xs) - min(xs)) * m_per_unit, rel=0.03)


RECTS = (
    "function rect(el){var r=el.getBoundingClientRect();return [r.top,r.bottom,r.left,r.right];}"
    "out('h',innerHeight);out('legend',rect(document.getElementById('dg-legend')));"
    "out('syn',Array.prototype.map.call(document.querySelectorAll('#dg-note .dg-syn'),rect));"
    "out('scrollTop',document.getElementById('dg-side').scrollTop);"
)


def test_overview_for_people_at_1366x768(demo, tmp_path):
    """Legend and synthetic note in view without scrolling; every town in the table (东莞滨海湾新区 too, which has
    no polygon: listed, searchable, named as not drawn); the town × circle table fits its panel."""
    study, out, maps = demo
    script = RECTS + (
        "var w=document.getElementById('dg-compare-wrap');out('fit',[w.scrollWidth,w.clientWidth]);"
        "out('rows',Array.prototype.map.call(document.querySelectorAll('#dg-compare tbody tr'),"
        "function(r){return r.cells[0].textContent;}));"
        "out('cols',document.querySelectorAll('#dg-compare thead th').length);"
        "out('hit',dgApi.find('东莞滨海湾新区').kind);var p=document.querySelector('.leaflet-popup-content');"
        "out('popup',p?p.textContent:'');"
    )
    r = _probe(maps / "index.html", script, tmp_path)
    # the headless window of 1366 x 768 has a 625 px high viewport, as a browser with its toolbars has
    assert r["scrollTop"] == 0 and r["legend"][0] >= 0 and r["legend"][1] <= r["h"] <= 768, r
    assert len(r["syn"]) == 2 and all(s[0] >= 0 and s[1] <= r["h"] for s in r["syn"]), r
    assert sorted(r["rows"]) == sorted(study.towns["town_name"]) and len(r["rows"]) == 36
    assert r["cols"] == 5 and r["fit"][0] <= r["fit"][1], r["fit"]  # all four circles, no cut column
    tt = pd.read_csv(out / "elderly_care_15" / "towns.csv", encoding="utf-8-sig", dtype=str)
    row = tt[tt.iloc[:, 0] == "441900404"].iloc[0]
    assert row.iloc[1] == "东莞滨海湾新区" and r["hit"] == "t" and "东莞滨海湾新区" in r["popup"]
    assert "no boundary of its own" in r["popup"]
    page = (maps / "index.html").read_text(encoding="utf-8")
    assert "未绘制 not drawn: 东莞滨海湾新区" in page


def test_circle_page_keeps_legend_in_view_and_the_name_beside_p90(demo, tmp_path):
    """A circle page at 1366x768: legend and synthetic note in view; the village table scrolls sideways with the
    name column frozen, so a name and its p90 are seen together."""
    _, _, maps = demo
    script = RECTS + (
        "dgApi.showTable();var w=document.getElementById('dg-vtable-wrap');w.scrollLeft=w.scrollWidth;"
        "var row=document.querySelector('#dg-vtable tbody tr'),wr=w.getBoundingClientRect();"
        "var a=row.cells[0].getBoundingClientRect(),b=row.cells[row.cells.length-1].getBoundingClientRect();"
        "out('wrap',[wr.left,wr.right]);out('name',[a.left,a.right]);out('p90',[b.left,b.right]);"
        "out('scrolled',w.scrollLeft);"
    )
    r = _probe(maps / "legal_aid_30.html", script, tmp_path)
    assert r["legend"][1] <= r["h"] and all(s[1] <= r["h"] for s in r["syn"]), r
    (wl, wr), (nl, nr), (pl, pr) = r["wrap"], r["name"], r["p90"]
    assert wl - 1 <= nl and nr <= pl and pr <= wr + 1, r  # both inside the panel, name left of p90


def _px(width) -> int:
    """Excel's column width (characters of Calibri 11) in pixels at 100 %: trunc((256 w + trunc(128/7)) / 256 * 7)."""
    w = 8.43 if width is None else float(width)
    return int((256 * w + 18) / 256 * 7)


def test_workbook_sheets_print_on_a4_at_8_pt_or_more(demo):
    """Every sheet A4 landscape; a table sheet fits the page width only where its letters stay >= 8 pt, else it
    prints several pages wide at >= 8 pt with code and name repeated; the city row is outside the autofilter."""
    import openpyxl
    from openpyxl.utils import get_column_letter, range_boundaries

    study, out, _ = demo
    wb = openpyxl.load_workbook(out / "report.xlsx")
    page_px = (297 / 25.4 - 0.8) * 96  # A4 landscape inside 0.4 in margins, pixels at 100 %
    scales = {}
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert ps.paperSize == 9 and ps.orientation == "landscape", ws.title  # 9 = A4
        if ws.auto_filter.ref is None:
            continue
        c0, header, c1, last = range_boundaries(ws.auto_filter.ref)
        width = sum(_px(ws.column_dimensions[get_column_letter(j)].width) for j in range(1, ws.max_column + 1))
        font = min(
            (c.font.sz or 11.0) for row in ws.iter_rows(min_row=header, max_row=header + 5) for c in row if c.value
        )
        if ws.sheet_properties.pageSetUpPr.fitToPage:
            assert ps.fitToWidth == 1 and ps.fitToHeight == 0, ws.title
            scale = min(1.0, page_px / width)
        else:
            scale = ps.scale / 100
            assert ws.print_title_cols == "$A:$B", ws.title  # code and name on every page wide
            assert ws.cell(header, 2).value.split(" ")[0] in ("name", "town_name"), ws.title
        assert scale * font >= 8.0, (ws.title, scale, font)
        scales[ws.title] = round(scale, 2)
        if ws.title.endswith(("镇街", "compare")):  # the city row: just below the filtered towns
            assert last - header == 36, (ws.title, ws.auto_filter.ref)
            assert str(ws.cell(last + 1, 1).value) == study.city_code, ws.title
    # the village sheets (22 columns) are too wide for one page at 8 pt: they print pages wide at 73 %
    assert scales["15分钟居家养老服务圈 村社区"] == 0.73 and scales["覆盖曲线 curves"] == 0.98
