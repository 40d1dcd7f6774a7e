"""The maps as a planner uses them, checked in headless Chromium with the network blocked.

Search, town selector, village table, the overview's one-circle-at-a-time radio, the legend's rule, no
"nan" anywhere, print output (PDF) keeping the legend colours, the tile-error note, candidate popups and
the links between the pages.  Screenshots go to ``tests/artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgcoverage.core.outputset import STAGING_PREFIX
from dgcoverage.inputs.config import load_config
from dgcoverage.outputs.areas import write_areas
from dgcoverage.outputs.maps import (
    MARK_COLOURS,
    YLGNBU,
    candidate_name,
    report_link,
    share_classes,
    write_maps,
)
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle

from ._browser import chromium_base

ARTIFACTS = Path(__file__).parent / "artifacts"


def _cut(v: float) -> str:
    """A share as the pages show it: cut to 0.1 %, never rounded up across a class break or the 90 % rule."""
    return f"{math.floor(v * 1000 + 1e-6) / 10:.1f}%"


NAN_WORDS = re.compile(r"(?<![A-Za-z])(nan|NaN|None|undefined|null)(?![A-Za-z])")


def _run(args: list[str], tmp_path: Path) -> str:
    base = [
        *chromium_base(tmp_path),
        "--virtual-time-budget=5000",
        "--window-size=1300,900",
        "--run-all-compositor-stages-before-draw",  # screenshots: every part painted, not blank tiles
        # block every network request: all assets must be in the file
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300).stdout


def _probe(page: Path, script: str, tmp_path: Path, hash_: str = "") -> dict[str, str]:
    """Open a copy of ``page`` (beside it, so outlines.js loads) that runs ``script`` after the map is drawn.

    The script writes its findings with ``out(key, value)``; they come back as a dict.
    """
    probe = page.parent / f"probe_{tmp_path.name}_{page.name}"
    hook = (
        "<script>window.addEventListener('load',function(){var R={};function out(k,v){R[k]=v;}"
        f"try{{ {script} }}catch(err){{R.error=String(err);}}"
        "setTimeout(function(){document.body.setAttribute('data-probe',JSON.stringify(R));},50);});</script></body>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", hook), encoding="utf-8")
    try:
        dom = _run(["--dump-dom", probe.resolve().as_uri() + hash_], tmp_path)
    finally:
        probe.unlink()
    m = re.search(r"<body[^>]*data-probe=\"([^\"]*)\"", dom)
    assert m, "probe did not run:\n" + dom[-2000:]
    import html

    res = json.loads(html.unescape(m.group(1)))
    assert "error" not in res, res["error"]
    res["_dom"] = dom
    return res


def _counts(dom: str) -> dict[str, str]:
    m = re.search(r'<div id="dg-counts"[^>]*>', dom)
    assert m, "map script did not run"
    return dict(re.findall(r'data-([a-z_0-9]+)="([^"]*)"', m.group(0)))


@pytest.fixture(scope="module")
def run(small_city, tmp_path_factory):
    """Two circles on the small city, with maps, a report link and ranked candidates (one unnamed, gaps 'nan')."""
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    out = tmp_path_factory.mktemp("ui") / "out"
    results, areas = [], {}
    for cid in ("elderly_care_15", "fitness_15"):
        res = run_circle(study, circles[cid], load_facilities(study, circles[cid], data_dir=small_city))
        areas[cid] = write_areas(study, res, out)
        results.append(res)
    vt = results[1].villages
    # one village without people: its share and times are missing and must show as "—"
    vt.loc[1, ["population", "covered_population"]] = 0.0
    vt.loc[1, ["covered_share", "median_time_min", "p90_time_min", "centre_time_min"]] = np.nan
    vt.loc[1, ["status", "reason"]] = ["no_data", "no population in its area"]
    lon, lat = study.net.lon[:3], study.net.lat[:3]
    pd.DataFrame(
        {
            "rank 排名": [1, 2, 3],
            "site_id 候选点编号": ["gap:1", "gap:2", "gap:3"],
            "name 名称": ["东纵路口", "", "nan"],
            "lon 经度(WGS84)": lon,
            "lat 纬度(WGS84)": lat,
            "lon_gcj02 经度(GCJ-02高德)": lon + 0.005,
            "lat_gcj02 纬度(GCJ-02高德)": lat - 0.003,
            "town_name 镇街": ["东城街道", "东城街道", "莞城街道"],
            "village_code 所在村(社区)代码": [vt["code"].iloc[0], vt["code"].iloc[1], vt["code"].iloc[2]],
            "road_name 最近道路": ["东纵路", "", "nan"],
            "new_population 新增覆盖人口": [3000.0, 2000.0, np.nan],
            "villages_reached_names 新增覆盖人口所在村(社区)": ["甲村 2,000、乙村 1,000", "", "None"],
            "new_villages_covered_names 新增达标村(社区)": ["", "nan", ""],
            "cum_covered_share 累计覆盖率": [0.5, 0.6, np.nan],
            "deficit_closed 本点填补缺口": [12.5, np.nan, 3.0],
        }
    ).to_csv(out / "fitness_15" / "candidates.csv", index=False, encoding="utf-8-sig")
    maps = write_maps(study, results, areas, out.parent / "maps", out_dir=out)
    (out / "report.html").write_text("<html><body>report</body></html>", encoding="utf-8")
    return study, results, out, out.parent / "maps", maps


# ---------------------------------------------------------------- pure Python


def test_share_classes_top_class_is_the_covered_rule():
    breaks, cols, labels = share_classes(0.9)
    assert breaks == [0.3, 0.6] and cols == list(YLGNBU[4])
    assert labels == ["&lt; 30 %", "30 % – &lt; 60 %", "60 % – &lt; 90 %", "≥ 90 % = 达标 covered"]
    breaks, cols, labels = share_classes(0.5)  # a laxer rule: the 60 % break would sit above it
    assert breaks == [0.3] and len(cols) == 3 and labels[-1] == "≥ 50 % = 达标 covered"


def test_village_classes_follow_the_status(run):
    study, results, _, maps_dir, _ = run
    page = (maps_dir / "fitness_15.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dg-data">(.*?)</script>', page, re.S).group(1))
    v, vt = data["v"], results[1].villages
    cls = np.array(v["cls"])
    st = vt["status"].to_numpy()
    assert (cls[st == "covered"] == 3).all() and (cls[st == "no_data"] == -1).all()
    share = vt["covered_share"].to_numpy(float)
    part = st == "partial"
    assert part.any()
    np.testing.assert_array_equal(cls[part], np.digitize(share[part], [0.3, 0.6]))
    assert (cls[st == "gap"] == 0).all()


def test_candidate_name_fallback():
    assert candidate_name({"name": "东纵路口", "rank": "1"}) == "东纵路口"
    row = {"name": "nan", "rank": "2", "town_name": "东城街道", "village_code": "441900003001"}
    assert candidate_name(row, {"441900003001": "主山社区"}) == "东城街道主山社区 附近 #2"
    assert candidate_name({"name": None, "rank": "3", "town_name": "莞城街道", "village_name": "北隅"}) == (
        "莞城街道北隅 附近 #3"
    )


def test_report_link_is_relative_and_sees_through_staging(tmp_path):
    assert report_link(tmp_path / "out" / "maps", tmp_path / "out") == "../report.html"
    assert report_link(tmp_path / "maps", tmp_path / "out") == "../out/report.html"
    st_out = tmp_path / "out" / f"{STAGING_PREFIX}abc"
    st_maps = tmp_path / "m y" / f"{STAGING_PREFIX}def"
    assert report_link(st_maps, st_out) == "../out/report.html"
    assert report_link(tmp_path / "out" / f"{STAGING_PREFIX}x" / "maps", st_out) == "../report.html"


def test_pages_link_each_other_and_the_report(run):
    *_, maps_dir, maps = run
    assert [p.name for p in maps] == ["elderly_care_15.html", "fitness_15.html", "index.html"]
    for p in maps:
        page = p.read_text(encoding="utf-8")
        nav = re.search(r"<nav id='dg-nav'>(.*?)</nav>", page, re.S).group(1)
        hrefs = set(re.findall(r"href='([^']*)'", nav))
        others = {"./index.html", "./elderly_care_15.html", "./fitness_15.html"} - {f"./{p.name}"}
        assert hrefs == others | {"../out/report.html"}, (p.name, hrefs)
        for h in hrefs:
            assert (maps_dir / h).resolve().exists(), h


def test_sources_panel_lists_every_circle(run):
    *_, maps_dir, _ = run
    idx = (maps_dir / "index.html").read_text(encoding="utf-8")
    note = re.search(r"<div id='dg-note'>(.*?)</div>\n</aside>", idx, re.S).group(1)
    for cid in ("elderly_care_15", "fitness_15"):
        assert f"facilities ({cid})" in note and f"{cid}_gcj02.csv" in note
    assert note.count("population_100m.tif") == 1  # shared inputs once
    page = (maps_dir / "fitness_15.html").read_text(encoding="utf-8")
    assert "fitness_15_gcj02.csv" in page and "elderly_care_15_gcj02.csv" not in page


def test_legend_states_the_covered_rule(run, tmp_path):
    *_, maps_dir, _ = run
    dom = _run(["--dump-dom", (maps_dir / "fitness_15.html").resolve().as_uri()], tmp_path)
    legend = re.search(r'<div id="dg-legend">(.*?)</div>\s*<div id="dg-note">', dom, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", legend).replace("&gt;", ">").replace("&lt;", "<")
    assert "达标 covered = 村(社区)内 ≥ 90 % 的人口在 15 分钟内" in text
    assert "A village is covered when ≥ 90 % of its people reach a facility within 15 min" in text
    assert "≥ 90 % = 达标 covered" in text and "< 30 %" in text
    # every class swatch has its own colour, and no colour of the share scale means anything else on the page
    cols = re.findall(r"dg-sw\" style=\"background:(#[0-9a-f]{6})", legend)
    assert cols[:4] == list(YLGNBU[4])
    assert not set(YLGNBU[4]) & set(MARK_COLOURS.values())


# ---------------------------------------------------------------- in the browser


def test_search_finds_a_village_and_opens_its_popup(run, tmp_path):
    study, results, _, maps_dir, _ = run
    vt = results[1].villages
    i = int(np.flatnonzero(vt["status"].to_numpy() == "partial")[0])
    name = str(vt["name"].iloc[i])
    script = (
        "var box=document.getElementById('dg-search');box.dispatchEvent(new Event('input'));"
        "box.value=" + json.dumps(name) + ";"
        "box.dispatchEvent(new Event('change'));var p=document.querySelector('.leaflet-popup-content');"
        "out('popup',p?p.textContent:'');out('zoom',dgMap.getZoom());"
        "out('msg',document.getElementById('dg-msg').textContent);"
        "out('options',document.querySelectorAll('#dg-search-list option').length);"
    )
    r = _probe(maps_dir / "fitness_15.html", script, tmp_path)
    assert _counts(r["_dom"])["search"] == f"v{i}"
    assert name in r["popup"] and _cut(vt["covered_share"].iloc[i]) in r["popup"] and "部分覆盖" in r["popup"]
    assert r["zoom"] >= 13 and name in r["msg"]
    assert r["options"] == len(study.villages) + int(study.towns["has_polygon"].sum())
    # a town by name zooms out to the town; an unknown name says so
    r = _probe(maps_dir / "fitness_15.html", "out('hit',dgApi.find('东城街道').kind);", tmp_path)
    assert r["hit"] == "t" and "东城街道" in re.search(r'leaflet-popup-content"[^>]*>(.*?)</div>', r["_dom"]).group(1)
    r = _probe(maps_dir / "fitness_15.html", "out('hit',dgApi.find('不存在的村'));", tmp_path)
    assert r["hit"] is None and "未找到 not found" in r["_dom"]


def test_village_table_sorts_and_a_click_zooms(run, tmp_path):
    _, results, _, maps_dir, _ = run
    vt = results[1].villages
    script = (
        "document.getElementById('dg-vtable-btn').click();"
        "var th=document.querySelectorAll('#dg-vtable th')[3];th.click();"
        "th=document.querySelectorAll('#dg-vtable th')[3];th.click();"  # share, descending
        "var rows=document.querySelectorAll('#dg-vtable tbody tr');out('n',rows.length);"
        "out('first',rows[0].cells[0].textContent);var z0=dgMap.getZoom();rows[0].click();"
        "out('z0',z0);out('z1',dgMap.getZoom());"
        "var p=document.querySelector('.leaflet-popup-content');out('popup',p?p.textContent:'');"
    )
    r = _probe(maps_dir / "fitness_15.html", script, tmp_path)
    assert r["n"] == len(vt)
    best = vt.sort_values("covered_share", ascending=False, kind="stable").iloc[0]
    assert r["first"] == best["name"] and best["name"] in r["popup"]
    assert r["z1"] > r["z0"] and _counts(r["_dom"])["focus"] == f"v{int(best.name)}"


def test_overview_radio_shows_one_circle_at_a_time(run, tmp_path):
    study, results, _, maps_dir, _ = run
    n_towns = int(study.towns["has_polygon"].sum())
    script = (
        "function drawn(){return document.querySelectorAll('.leaflet-dgFill-pane path.leaflet-interactive').length;}"
        "out('before',drawn());out('title0',document.getElementById('dg-title').textContent);"
        "document.querySelectorAll('#dg-circles input')[1].click();"
        "out('after',drawn());out('title1',document.getElementById('dg-title').textContent);"
        "out('fills',Array.prototype.map.call(document.querySelectorAll('.leaflet-dgFill-pane path'),"
        "function(p){return p.getAttribute('fill');}));"
        "dgApi.focusTown(0);var p=document.querySelector('.leaflet-popup-content');out('popup',p.textContent);"
        "out('compare',document.querySelectorAll('#dg-compare tbody tr').length);"
        "out('mult',document.querySelectorAll('#dg-multiples svg').length);"
    )
    r = _probe(maps_dir / "index.html", script, tmp_path)
    assert r["before"] == r["after"] == n_towns  # one circle's towns, never two stacked
    assert "15分钟居家养老服务圈" in r["title0"] and "15分钟健身圈" in r["title1"]
    assert _counts(r["_dom"])["circle"] == "fitness_15"
    # the towns now carry fitness_15's population-covered classes
    towns = results[1].towns.set_index("town_code")
    t = study.towns[study.towns["has_polygon"]].reset_index(drop=True)
    bins, cols = [0.3, 0.6, 0.9], list(YLGNBU[4])  # the villages' and the report's classes
    want = sorted(cols[int(np.digitize(towns.loc[c, "pass_rate_population"], bins))] for c in t["town_code"])
    assert sorted(r["fills"]) == want
    share0 = towns.loc[t["town_code"].iloc[0], "pass_rate_population"]
    assert "15分钟健身圈" in r["popup"] and _cut(share0) in r["popup"] and "人口覆盖率" in r["popup"]
    assert r["compare"] == n_towns and r["mult"] == 2


def test_no_text_reads_nan(run, tmp_path):
    """Every popup (villages, towns, layers, candidates), tooltip, the table and the sidebar: no nan/None/null."""
    *_, maps_dir, _ = run
    script = (
        "document.getElementById('dg-vtable-btn')&&document.getElementById('dg-vtable-btn').click();"
        "var all=[],i;"
        "var nv=JSON.parse(document.getElementById('dg-data').textContent).v.name.length;"
        "var nt=JSON.parse(document.getElementById('dg-data').textContent).t.name.length;"
        "for(i=0;i<nv;i++){all.push(dgApi.villagePopup(i));}for(i=0;i<nt;i++){all.push(dgApi.townPopup(i));}"
        "Object.keys(dgApi.groups).forEach(function(k){var g=dgApi.groups[k];if(!dgMap.hasLayer(g))g.addTo(dgMap);"
        "g.eachLayer(function(x){x.eachLayer(function(l){var p=l.getPopup(),t=l.getTooltip();"
        "if(p){var c=p.getContent();all.push(typeof c==='function'?c(l):c);}"
        "if(t){var d=t.getContent();all.push(typeof d==='function'?d(l):d);}});});});"
        "var div=document.createElement('div');div.innerHTML=all.join(' ');"
        "out('popups',div.textContent);out('n',all.length);"
        "var w=document.createTreeWalker(document.body,NodeFilter.SHOW_TEXT),s=[];"
        "while(w.nextNode()){var n=w.currentNode;if(n.parentNode.nodeName!=='SCRIPT')s.push(n.nodeValue);}"
        "out('page',s.join(' '));"
    )
    for name in ("fitness_15.html", "elderly_care_15.html", "index.html"):
        r = _probe(maps_dir / name, script, tmp_path, "#dg-open")
        assert r["n"] > 100, name
        for key in ("popups", "page"):
            bad = NAN_WORDS.findall(r[key])
            assert not bad, (name, key, bad, r[key][:300])
        if name == "fitness_15.html":
            assert "东城街道" in r["popups"] and "附近 #2" in r["popups"] and "附近 #3" in r["popups"]
            assert "甲村 2,000、乙村 1,000" in r["popups"] and "3,000" in r["popups"]
            # a supply column of the siting step: Chinese first, with the circle's unit (fitness: m²)
            assert "本点填补缺口 deficit closed by the site12 m²" in r["popups"]


def test_print_keeps_the_legend_swatches(run, tmp_path):
    """Print to PDF (map hidden, so every colour found comes from the sidebar) and read the fill colours."""
    *_, maps_dir, _ = run
    page = maps_dir / "fitness_15.html"
    src = page.read_text(encoding="utf-8").replace("</body>", "<style>#dg-map{display:none}</style></body>")

    def printed(text: str, name: str) -> set[str]:
        p = maps_dir / f"print_{name}.html"
        p.write_text(text, encoding="utf-8")
        pdf = tmp_path / f"{name}.pdf"
        _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", p.resolve().as_uri()], tmp_path)
        p.unlink()
        assert pdf.exists() and pdf.stat().st_size > 1000
        found = set()
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf.read_bytes(), re.S):
            try:
                ops = zlib.decompress(m.group(1))
            except zlib.error:
                continue
            for rgb in re.findall(rb"([0-9.]+) ([0-9.]+) ([0-9.]+) rg\b", ops):
                found.add("#" + "".join(f"{round(float(x) * 255):02x}" for x in rgb))
        return found

    got = printed(src, "real")
    legend = set(YLGNBU[4]) | {MARK_COLOURS["gap_area"], MARK_COLOURS["facility"]}
    assert legend <= got, legend - got
    assert "#f3f3f3" not in got  # the search/tools box is hidden in print
    # the check is real: without the print rules the tools box is printed
    plain = re.sub(r"@media print\{.*?\n\}\n", "", src, flags=re.S)
    assert plain != src and "#f3f3f3" in printed(plain, "plain")
    # and Chromium parses the rule that keeps backgrounds for users whose print dialog drops them
    script = (
        "var ok=false;Array.prototype.forEach.call(document.styleSheets,function(s){try{Array.prototype.forEach.call"
        "(s.cssRules,function(r){if(r.media&&r.media.mediaText==='print')Array.prototype.forEach.call(r.cssRules,"
        "function(q){if(q.style&&q.style.getPropertyValue('print-color-adjust')==='exact')ok=true;});});}catch(e){}});"
        "out('exact',ok);"
    )
    assert _probe(page, script, tmp_path)["exact"] is True


def test_tile_error_note_shows_offline(run, tmp_path):
    *_, maps_dir, _ = run
    page = (maps_dir / "fitness_15.html").resolve().as_uri()
    quiet = _run(["--dump-dom", page], tmp_path)
    assert re.search(r"<div id=\"dg-tilenote\" hidden", quiet) and "tileerror" not in _counts(quiet)
    dom = _run(["--dump-dom", page + "#dg-tiles"], tmp_path)  # OpenStreetMap chosen, network blocked
    assert _counts(dom)["tileerror"] == "1"
    assert re.search(r"<div id=\"dg-tilenote\">⚠ 在线底图无法加载", dom)


def test_screenshots(run, tmp_path):
    """Overview, one circle map and the circle map zoomed to a town (written to tests/artifacts/, gitignored)."""
    *_, maps_dir, _ = run
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {
        "ui_overview.png": (maps_dir / "index.html").resolve().as_uri(),
        "ui_circle_fitness_15.png": (maps_dir / "fitness_15.html").resolve().as_uri(),
        "ui_town_dongcheng.png": (maps_dir / "fitness_15.html").resolve().as_uri() + "#dg-search=东城街道",
    }
    for name, url in shots.items():
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        _run([f"--screenshot={shot}", url], tmp_path)
        assert shot.exists() and shot.stat().st_size > 20_000, name


def test_gaode_switch_redraws_and_search_still_works(run, tmp_path):
    """Choosing the GCJ-02 base map redraws every shown layer shifted; search then finds the shifted shape."""
    study, results, _, maps_dir, _ = run
    name = str(results[1].villages["name"].iloc[5])
    script = (
        "function pts(){return document.querySelectorAll('.leaflet-map-pane svg path').length;}"
        "var n0=pts();var c0=dgMap.getCenter();"
        "document.querySelectorAll('.leaflet-control-layers-base input')[2].click();"
        "out('n0',n0);out('n1',pts());dgApi.find(" + json.dumps(name) + ");"
        "var p=document.querySelector('.leaflet-popup-content');out('popup',p?p.textContent:'');"
        "var ll=dgApi.groups.villages.getBounds().getCenter();out('lon',ll.lng);out('lat',ll.lat);"
    )
    r = _probe(maps_dir / "fitness_15.html", script, tmp_path)
    c = _counts(r["_dom"])
    assert c["crs"] == "gcj02" and r["n0"] == r["n1"] > int(study.villages["has_area"].sum())
    assert name in r["popup"]
    # the drawn villages moved by the GCJ-02 offset (about 500 m east-southeast in Dongguan), not by nothing
    b = study.villages[study.villages["has_area"]].total_bounds
    assert 0.003 < r["lon"] - (b[0] + b[2]) / 2 < 0.007 and -0.005 < r["lat"] - (b[1] + b[3]) / 2 < 0.0
    assert c["tileerror"] == "1"  # Gaode tiles cannot load here, and the page says so


def test_site_style_rewrite_links_the_pages_already_there(run, tmp_path):
    """`dgcoverage site` rewrites one circle page (index=False): it still links the overview and the others."""
    from dgcoverage.outputs.areas import circle_service_area, gap_areas

    study, results, out, maps_dir, _ = run
    d = tmp_path / "maps"
    shutil.copytree(maps_dir, d)
    res = results[1]
    pages = write_maps(study, [res], {res.circle.id: (circle_service_area(study, res), gap_areas(study, res))}, d,
                       out_dir=out, index=False)  # fmt: skip
    assert [p.name for p in pages] == ["fitness_15.html"]
    nav = re.search(r"<nav id='dg-nav'>(.*?)</nav>", pages[0].read_text(encoding="utf-8"), re.S).group(1)
    hrefs = set(re.findall(r"href='([^']*)'", nav))
    report = next(h for h in hrefs if h.endswith("report.html"))
    assert hrefs == {"./index.html", "./elderly_care_15.html", report}
    assert (d / report).resolve() == (out / "report.html").resolve()
    alone = write_maps(study, [res], {res.circle.id: (circle_service_area(study, res), gap_areas(study, res))},
                       tmp_path / "fresh", index=False)  # fmt: skip
    nav = re.search(r"<nav id='dg-nav'>(.*?)</nav>", alone[0].read_text(encoding="utf-8"), re.S).group(1)
    assert "href=" not in nav  # nothing to link to: no overview, no other page, no report


def test_town_labels_at_city_zoom_village_labels_zoomed_in(run, tmp_path):
    study, *_, maps_dir, _ = run
    script = (
        "function n(c){return document.querySelectorAll('.leaflet-marker-pane .'+c).length;}"
        "out('z0',dgMap.getZoom());out('t0',n('dg-lbl-t'));out('v0',n('dg-lbl-v'));"
        "dgMap.setZoom(15,{animate:false});out('t1',n('dg-lbl-t'));out('v1',n('dg-lbl-v'));"
        "out('text',Array.prototype.map.call(document.querySelectorAll('.dg-lbl-v'),"
        "function(x){return x.textContent;}));"
    )
    r = _probe(maps_dir / "fitness_15.html", script, tmp_path)
    assert r["z0"] <= 12.5 and r["t0"] == int(study.towns["has_polygon"].sum()) and r["v0"] == 0
    assert r["t1"] == 0 and r["v1"] == int(study.villages["has_area"].sum())
    assert set(r["text"]) <= set(study.villages["name"]) and len(set(r["text"])) > 10


def test_overview_search_opens_a_village_with_every_circle(run, tmp_path):
    _, results, _, maps_dir, _ = run
    vt0, vt1 = results[0].villages, results[1].villages
    name = str(vt1["name"].iloc[4])
    script = (
        "out('hit',dgApi.find(" + json.dumps(name) + ").kind);"
        "var p=document.querySelector('.leaflet-popup-content');out('popup',p?p.textContent:'');"
        "out('shown',dgMap.hasLayer(dgApi.groups.villages));"
    )
    r = _probe(maps_dir / "index.html", script, tmp_path)
    assert r["hit"] == "v" and r["shown"] is True
    assert name in r["popup"] and "15分钟居家养老服务圈" in r["popup"] and "15分钟健身圈" in r["popup"]
    assert _cut(vt0["covered_share"].iloc[4]) in r["popup"] and _cut(vt1["covered_share"].iloc[4]) in r["popup"]
