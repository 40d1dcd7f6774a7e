"""Outputs for people (issue 22): candidates in Chinese first with units, names that read right, one village
name in two towns, the village table's status filter and CSV download, and sites that reach the report.

The city here is 南城街道 + 万江街道: both have a 新城社区 (one of the 12 village names that occur twice in
Dongguan), and 新城社区 ends in the 社区 that begins the fitness generator's 社区体育公园.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from dgcoverage.cli.main import main
from dgcoverage.demo.synthetic import place_name

from ._browser import chromium_base

TOWNS = ["441900004", "441900005"]  # 南城街道, 万江街道
STATUS_SHOWN = {"pass": "达标 pass", "fail": "未达标 fail", "no_data": "无数据 no data"}


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df.columns = [c.split(" ")[0] for c in df.columns]
    return df


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from dgcoverage.demo.synthetic import build_demo

    root = tmp_path_factory.mktemp("nancheng_wanjiang")
    build_demo(root, town_codes=TOWNS)
    return root


@pytest.fixture(scope="module")
def done(city, tmp_path_factory):
    """`site` (with a size per site), then `run`: the run keeps the sites and lists them in the report."""
    base = tmp_path_factory.mktemp("people")
    out, maps = base / "out", base / "maps"
    common = ["--data-dir", str(city), "--out", str(out), "--maps-dir", str(maps)]
    assert main(["site", "--circle", "elderly_care_15", "--k", "4", "--site-capacity", "40", *common]) == 0
    assert main(["run", "--circle", "elderly_care_15", *common]) == 0
    return city, out, maps


# ---------------------------------------------------------------- names


def test_a_facility_name_never_doubles_the_word_it_shares_with_its_village(city):
    assert place_name("新城社区", "社区体育公园") == "新城社区体育公园"
    assert place_name("水口村", "社区体育公园") == "水口村社区体育公园"
    names = pd.read_csv(next((city / "facilities").glob("fitness_15*.csv")), encoding="utf-8-sig")["名称"]
    assert names.str.contains("社区体育公园").any()  # e.g. 合成·元美社区体育公园 (元美社区)
    assert not names.str.contains("社区社区").any()


# ---------------------------------------------------------------- candidates: CSV, workbook, popup


def test_candidates_csv_keeps_codes_and_reads_beside_them(done):
    city, out, _ = done
    t = _read(out / "elderly_care_15" / "candidates.csv")
    villages = pd.read_csv(out / "elderly_care_15" / "villages.csv", encoding="utf-8-sig", dtype=str)
    names = dict(zip(villages.iloc[:, 0], villages.iloc[:, 1], strict=True))  # code 村(社区)代码, name 名称
    for _, r in t.iterrows():
        pairs = [p.split(":") for p in r["villages_reached"].split(";")]  # machine-readable, as before
        assert all(re.fullmatch(r"\d{12}", c) and re.fullmatch(r"\d+\.\d", p) for c, p in pairs)
        shown = "；".join(f"{names[c]} {float(p):,.0f} 人" for c, p in pairs)
        assert r["villages_reached_names"] == shown  # readable, beside it: 新城社区 1,234 人；…
        zh = {"pass": "达标", "fail": "未达标", "unknown": "待核实(部分设施容量未知)", "no_data": "无数据"}
        assert r["town_supply_status_zh"] == zh[r["town_supply_status"]]


def test_candidates_workbook_is_chinese_first_with_units(done):
    _, out, _ = done
    t = _read(out / "elderly_care_15" / "candidates.csv")
    ws = load_workbook(out / "elderly_care_15" / "candidates.xlsx")["候选点 candidates"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert header[:2] == ["排名 rank", "名称 name"]
    for h in (
        "规模(床) capacity",
        "镇街供给缺口(选址前,床) town deficit before",
        "本点填补缺口(床) deficit closed by the site",
    ):
        assert h in header
    assert not [h for h in header if h.split(" ")[0] in ("villages_reached", "capacity_unit", "town_supply_status")]
    for r, (_, c) in zip(rows, t.iterrows(), strict=True):
        assert r["镇街供给状态 town supply status"] == STATUS_SHOWN.get(
            c["town_supply_status"], r["镇街供给状态 town supply status"]
        )
        assert r["镇街供给状态 town supply status"].split(" ")[0] in ("达标", "未达标", "待核实", "无数据")
        assert r["惠及村(社区)及新增人口 villages reached (people)"] == c["villages_reached_names"]
        assert r["规模(床) capacity"] == 40 and r["来源 source"] == "盲区聚类 gap cluster"
        assert r["镇街供给缺口(选址前,床) town deficit before"] == pytest.approx(
            float(c["town_deficit_before"]), abs=0.005
        )
    cell = ws.cell(2, header.index("本点填补缺口(床) deficit closed by the site") + 1)
    assert cell.number_format == "#,##0.00"


def _page_data(page: Path) -> dict:
    return json.loads(re.search(r'id="dg-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.S).group(1))


def test_candidate_popup_reads_as_information(done):
    _, out, maps = done
    t = _read(out / "elderly_care_15" / "candidates.csv")
    layer = next(s for s in _page_data(maps / "elderly_care_15.html")["layers"] if s["key"] == "candidates")
    assert len(layer["data"]["features"]) == len(t) == 4
    for f, (_, c) in zip(layer["data"]["features"], t.iterrows(), strict=True):
        pop = html.unescape(f["properties"]["pop"])
        assert "town_supply_status" not in pop and ">fail<" not in pop and ">unknown<" not in pop
        assert "镇街供给状态 town supply status" in pop
        status = {"pass": "达标 pass", "fail": "未达标 fail", "no_data": "无数据 no data"}.get(c["town_supply_status"])
        assert status is None or f"<td>{status}</td>" in pop
        assert f"<td>{c['villages_reached_names']}</td>" in pop and not re.search(r"\d{12}:", pop)
        assert "<td>40 床</td>" in pop  # the capacity with its unit
        before = float(c["town_deficit_before"])
        assert f"镇街供给缺口(选址前) town deficit before</th><td>{before:,.0f} 床</td>" in pop


# ---------------------------------------------------------------- the page in Chromium


def _probe(page: Path, script: str, tmp_path: Path) -> dict:
    """Run ``script`` in a copy of ``page`` after it loads (network blocked); ``out(k, v)`` findings come back."""
    probe = page.parent / f"probe_{tmp_path.name}_{page.name}"
    hook = (
        "<script>window.addEventListener('load',function(){var R={};function out(k,v){R[k]=v;}"
        f"try{{ {script} }}catch(err){{R.error=String(err);}}"
        "setTimeout(function(){document.body.setAttribute('data-probe',JSON.stringify(R));},400);});</script></body>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", hook), encoding="utf-8")
    args = [*chromium_base(tmp_path), "--virtual-time-budget=5000", "--window-size=1366,768"]
    args += ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    try:
        dom = subprocess.run(
            [*args, "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=300
        ).stdout
    finally:
        probe.unlink()
    m = re.search(r"<body[^>]*data-probe=\"([^\"]*)\"", dom)
    assert m, "probe did not run:\n" + dom[-2000:]
    res = json.loads(html.unescape(m.group(1)))
    assert "error" not in res, res["error"]
    res["_counts"] = dict(
        re.findall(r'data-([a-z_0-9]+)="([^"]*)"', re.search(r'<div id="dg-counts"[^>]*>', dom).group(0))
    )
    return res


def test_same_name_in_two_towns_is_listed_not_picked(done, tmp_path):
    _, _, maps = done
    script = (
        "var r=dgApi.find('新城社区');out('n',r.length);out('msg',document.getElementById('dg-msg').textContent);"
        "out('popup',!!document.querySelector('.leaflet-popup-content'));"
        "var b=document.querySelectorAll('#dg-msg .dg-pick');out('buttons',b.length);b[1].click();"
        "var p=document.querySelector('.leaflet-popup-content');out('after',p?p.textContent:'');"
        "out('one',dgApi.find('万江街道 · 新城社区').i);"
    )
    r = _probe(maps / "elderly_care_15.html", script, tmp_path)
    data = _page_data(maps / "elderly_care_15.html")["v"]
    both = [i for i, n in enumerate(data["name"]) if n == "新城社区"]
    assert len(both) == 2 and {data["town"][i] for i in both} == {"南城街道", "万江街道"}
    assert r["n"] == 2 and r["buttons"] == 2 and not r["popup"]  # nothing picked silently
    assert "南城街道 · 新城社区" in r["msg"] and "万江街道 · 新城社区" in r["msg"]
    second = both[1] if data["town"][both[1]] in r["msg"].split("/")[1] else both[0]
    assert "新城社区" in r["after"] and data["town"][second] in r["after"]  # the place chosen, with its town
    assert r["one"] == both[[data["town"][i] for i in both].index("万江街道")]


def test_facility_popup_shows_its_capacity_with_the_unit(done, tmp_path):
    city, _, maps = done
    script = (
        "var got={};dgApi.groups.facilities.eachLayer(function(g){g.eachLayer(function(l){"
        "var c=l.feature.properties.cap;"
        "var k=c===null?'unknown':'known';if(got[k])return;l.fire('click',{latlng:l.getLatLng()},true);"
        "got[k]=[l.feature.properties.id,c,document.querySelector('.leaflet-popup-content').textContent];});});"
        "out('got',got);"
    )
    r = _probe(maps / "elderly_care_15.html", script, tmp_path)
    fac = pd.read_csv(next((city / "facilities").glob("elderly_care_15*.csv")), encoding="utf-8-sig", dtype=str)
    beds = dict(zip(fac["编号"], fac["床位数(张)"].fillna(""), strict=True))
    fid, cap, text = r["got"]["known"]
    assert cap == float(beds[fid]) and f"规模 capacity{float(beds[fid]):,.0f} 床" in text
    fid, cap, text = r["got"]["unknown"]
    assert beds[fid] == "" and "规模 capacity未知 unknown" in text


def test_village_table_filters_by_status_and_downloads_the_rows_shown(done, tmp_path):
    _, out, maps = done
    script = (
        "var made=[];var orig=URL.createObjectURL;"
        "URL.createObjectURL=function(b){made.push(b);return orig.call(URL,b);};"
        "dgApi.showTable();var s=document.getElementById('dg-vfilter');out('options',s.options.length);"
        "s.value='partial';s.dispatchEvent(new Event('change'));"
        "out('rows',document.querySelectorAll('#dg-vtable tbody tr').length);"
        "document.getElementById('dg-vcsv').click();out('blobs',made.length);out('type',made[0].type);"
        "made[0].arrayBuffer().then(function(a){out('bom',Array.from(new Uint8Array(a).slice(0,3)));"
        "out('csv',new TextDecoder('utf-8',{ignoreBOM:true}).decode(a));});"
    )
    r = _probe(maps / "elderly_care_15.html", script, tmp_path)
    v = _read(out / "elderly_care_15" / "villages.csv")
    partial = v[v["status"] == "partial"]
    assert len(partial) > 0 and len(partial) < len(v)
    assert r["options"] == 6 and r["rows"] == len(partial) and r["_counts"]["table"] == str(len(partial))
    assert r["blobs"] == 1 and r["type"].startswith("text/csv") and r["bom"] == [0xEF, 0xBB, 0xBF]
    assert r["_counts"]["csv"] == "elderly_care_15_villages_partial.csv"
    lines = r["csv"].lstrip("\ufeff").strip("\r\n").split("\r\n")
    assert lines[0].split(",")[:5] == [
        "code 村(社区)代码",
        "name 名称",
        "town_name 镇街",
        "status 状态",
        "status_zh 状态(中文)",
    ]
    rows = [ln.split(",") for ln in lines[1:]]
    assert sorted(x[0] for x in rows) == sorted(partial["code"])
    assert {x[3] for x in rows} == {"partial"} and {x[4] for x in rows} == {"部分覆盖"}
    by = partial.set_index("code")
    for x in rows:  # the share as the page holds it: cut to 4 decimals, never rounded up
        assert float(x[5]) <= float(by.loc[x[0], "covered_share"]) < float(x[5]) + 1e-4 + 1e-12
        assert float(x[6]) == pytest.approx(float(by.loc[x[0], "population"]), abs=0.5)


# ---------------------------------------------------------------- the report lists the sites


def test_run_after_site_keeps_the_sites_and_the_report_lists_them(done, tmp_path):
    city, out, _ = done
    t = _read(out / "elderly_care_15" / "candidates.csv")
    page = (out / "report.html").read_text(encoding="utf-8")
    sec = re.search(r"<h3>候选点 candidate sites.*?</table>", page, re.S)
    assert sec, "the report has no candidate section"
    for name in t["name"]:
        assert html.escape(name, quote=False) in sec.group(0) or name in html.unescape(sec.group(0))
    assert "本点填补缺口 deficit closed (床)" in sec.group(0) and ">fail<" not in sec.group(0)
    wb = load_workbook(out / "report.xlsx")
    ws = wb[next(n for n in wb.sheetnames if n.endswith("候选点"))]
    heads = [c.value for c in ws[2]]  # the workbook's candidate sheet reads as candidates.xlsx does
    assert heads[:2] == ["排名 rank", "名称 name"] and "规模(床) capacity" in heads
    assert [ws.cell(i, 2).value for i in range(3, 3 + len(t))] == t["name"].tolist()
    # another measurement (a longer limit): the sites were ranked against the old one, so the run drops them
    other = tmp_path / "other"
    common = ["--data-dir", str(city), "--out", str(other), "--no-maps"]
    assert main(["site", "--circle", "elderly_care_15", "--k", "2", *common]) == 0
    assert main(["run", "--circle", "elderly_care_15", "--minutes", "20", *common]) == 0
    assert not (other / "elderly_care_15" / "candidates.csv").exists()
