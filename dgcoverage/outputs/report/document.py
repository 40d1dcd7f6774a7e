"""The report document, ``report.html``: printable, with inline CSS and SVG, no scripts.

Contents with links, one section per circle (coverage curve, town table, top candidate sites), the town ×
circle comparison (table and small city maps), and the town atlas (:mod:`.atlas`).  The style sheet is package
data (``dgcoverage/data/web/report.css``, plus ``report-synthetic.css`` on synthetic data), inlined at write
time.  Synthetic data is marked on every printed page.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...compute.coverage import STATUS_ZH
from ...core.io import write_text
from ..sites import SUPPLY_STATUS_SHOW, UNIT_SHOW
from .atlas import atlas_views, town_section, towns_in_order
from .equity import equity_section
from .labels import (
    SYNTHETIC_MARK,
    e,
    maps_link,
    pct,
    report_title,
    share_class,
    status_rule,
    supply_label,
    supply_note,
    thousands,
    txt,
)
from .svg import PATTERNS, Frame, curve_svg, legend_html, make_frame, town_multiples, village_map_svg
from .tables import columns_for, compare_table, report_candidates, town_rows

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult


@functools.cache
def web_text(name: str) -> str:
    """Text of ``dgcoverage/data/web/<name>`` (a style sheet the document inlines), read once."""
    return (resources.files("dgcoverage") / "data" / "web" / name).read_text(encoding="utf-8")


def _circle_section(r: CircleResult, maps_href: str | None, candidates_dir: str | Path | None) -> list[str]:
    c = r.circle
    res = r.summary["results"]
    syn = " <span class='syn'>合成数据 SYNTHETIC</span>" if r.summary.get("synthetic") else ""
    out = [
        f"<section class='circle' id='{e(c.id)}'><h2>{e(c.name_zh)} {e(c.name_en)} "
        f"<small>({c.minutes:g} min, {e(c.mode)} {c.speed_kmh:g} km/h)</small>{syn}"
        "<a class='top' href='#contents'>↑ 目录 contents</a></h2>"
    ]
    link = maps_link(maps_href, f"{c.id}.html")
    out.append(
        f"<p>{e(str(c.policy_source))}. 人口覆盖率 population covered {pct(res.get('covered_share'))}; "
        f"村(社区)达标率 village pass rate {pct(res.get('village_pass_rate'))}."
        + (f" <a href='{e(link)}'>地图 map ›</a>" if link else "")
        + "</p>"
    )
    if supply_note(r):
        out.append(
            f"<p class='supply'>{e(supply_note(r))}<br><small>供给状态 supply status: 达标 pass · 未达标 fail · "
            "待核实 unknown = 部分设施容量未知 (some facilities' capacity is unknown) · 无数据 no data</small></p>"
        )
    cc = r.summary["coverage_curve"]
    out.append(curve_svg(cc["minutes"], cc["population_share"], c.minutes))
    cols = columns_for(r)
    heads = "".join(f"<th>{e(h.partition(' ')[0])}<br><small>{e(h.partition(' ')[2])}</small></th>" for _, h in cols)
    out.append(f"<div class='wide'><table class='towns'><thead><tr>{heads}</tr></thead><tbody>")
    for rec in town_rows(r).to_dict("records"):
        cells = [_html_cell(k, rec[k]) for k, _ in cols]
        cls = " class='city'" if rec["town_code"] == r.city_code else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.extend(_candidates_html(report_candidates(candidates_dir, c.id), unit=UNIT_SHOW.get(c.capacity, "")))
    out.append("</section>")
    return out


def _candidates_html(cands: tuple[pd.DataFrame, list[str]] | None, top: int = 10, unit: str = "") -> list[str]:
    if cands is None:
        return []
    df = cands[0].head(top).copy()
    u = f" ({unit})" if unit else ""
    cols = [
        ("rank", "排名 rank"),
        ("name", "名称 name"),
        ("town_name", "镇街 town"),
        ("new_population", "新增覆盖人口 newly covered"),
        ("cum_covered_share", "累计覆盖率 cumulative covered"),
        ("villages_reached_names", "惠及村(社区) villages served"),
        ("town_supply_status", "镇街供给状态 town supply status"),
        ("deficit_closed", f"本点填补缺口 deficit closed{u}"),
    ]
    if "town_supply_status" in df:
        df["town_supply_status"] = df["town_supply_status"].map(lambda v: SUPPLY_STATUS_SHOW.get(v, v))
    cols = [(k, h) for k, h in cols if k in df.columns]
    out = [
        f"<h3>候选点 candidate sites (dgcoverage site, first {len(df)})</h3><table><thead><tr>"
        + "".join(f"<th>{e(h)}</th>" for _, h in cols)
        + "</tr></thead><tbody>"
    ]
    for rec in df.to_dict("records"):
        name = rec.get("name")
        if not txt(name):
            name = f"{txt(rec.get('town_name'))} #{thousands(rec.get('rank'))}"
            rec["name"] = html.unescape(name)
        cells = []
        for k, _ in cols:
            v = rec.get(k)
            if k in ("new_population", "rank", "deficit_closed"):
                cells.append(f"<td class='n'>{thousands(v)}</td>")
            elif k == "cum_covered_share":
                cells.append(f"<td class='n'>{pct(v)}</td>")
            else:
                cells.append(f"<td>{txt(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def _compare_cell(v: Any, kind: str) -> str:
    if kind == "supply":
        return f"<td>{txt(supply_label(v)) or '–'}</td>"
    k = share_class(v)
    cls = f" c{k}" if k >= 0 and kind == "pop_share" else ""
    return f"<td class='n{cls}'>{pct(v)}</td>"


def _compare_section(results: Sequence[CircleResult], city: Frame | None) -> list[str]:
    df = compare_table(results)
    out = [
        "<section id='compare'><h2>镇街对比 towns × circles<a class='top' href='#contents'>↑ 目录 contents</a></h2>",
        "<p>人口覆盖率 population covered (cells coloured by the map classes) · 村(社区)达标率 village pass rate · "
        "供给状态 supply status (circles with a supply standard; 待核实 unknown = 部分设施容量未知, some facilities' "
        "capacity is unknown).</p>",
    ]
    head1 = "<tr><th rowspan='2'>镇街 town</th><th rowspan='2'>人口 population</th>"
    head2 = "<tr>"
    for r in results:
        cols = [c for c in df.columns if c.startswith(f"{r.circle.id}.")]
        head1 += f"<th colspan='{len(cols)}'>{e(r.circle.name_zh)}<br><small>{e(r.circle.id)}</small></th>"
        head2 += "".join(
            {"pop_share": "<th>人口覆盖率<br>pop. covered</th>", "pass_rate": "<th>达标率<br>pass rate</th>"}.get(
                c.rsplit(".", 1)[1], "<th>供给<br>supply</th>"
            )
            for c in cols
        )
    out.append(f"<table class='cmp'><thead>{head1}</tr>{head2}</tr></thead><tbody>")
    circle_cols = [c for c in df.columns if "." in c]
    for rec in df.to_dict("records"):
        code = str(rec["town_code"])
        is_city = code == results[0].city_code
        name = txt(rec["town_name"]) if is_city else f"<a href='#town-{e(code)}'>{txt(rec['town_name'])}</a>"
        cells = "".join(_compare_cell(rec[c], c.rsplit(".", 1)[1]) for c in circle_cols)
        out.append(
            f"<tr{' class=city' if is_city else ''}><td>{name}</td><td class='n'>{thousands(rec['population'])}</td>"
            f"{cells}</tr>"
        )
    out.append("</tbody></table>")
    out.extend(town_multiples(results))
    if city is not None:
        out.append("<h3>村(社区)覆盖率 the city, village by village</h3><div class='multiples'>")
        for r in results:
            res = r.summary["results"]
            svg = village_map_svg(city, r.villages, numbers=False, titles=False, label=f"{r.circle.id} city map")
            out.append(
                f"<figure><figcaption>{e(r.circle.name_zh)} — {pct(res.get('covered_share'))}</figcaption>"
                f"{svg}</figure>"
            )
        out.append("</div>")
        out.append(legend_html(results))
    out.append("</section>")
    return out


def _city_table(results: Sequence[CircleResult]) -> str:
    """City-wide key numbers per circle (from each summary): people covered, pass rate, villages by status."""
    head = (
        "<tr><th>服务圈 circle</th><th>时限 limit</th><th>人口覆盖率<br>pop. covered</th><th>覆盖人口<br>people "
        "covered</th><th>村(社区)达标率<br>village pass rate</th>"
        + "".join(f"<th>{e(STATUS_ZH[k])}<br>{k}</th>" for k in STATUS_ZH)
        + "</tr>"
    )
    rows = []
    for r in results:
        res, c = r.summary["results"], r.circle
        by = res.get("villages_by_status", {})
        k = share_class(res.get("covered_share"))
        rows.append(
            f"<tr><td><a href='#{e(c.id)}'>{e(c.name_zh)}</a></td><td class='n'>{c.minutes:g} min</td>"
            f"<td class='n{f' c{k}' if k >= 0 else ''}'>{pct(res.get('covered_share'))}</td>"
            f"<td class='n'>{thousands(res.get('covered_population'))}</td>"
            f"<td class='n'>{pct(res.get('village_pass_rate'))}</td>"
            + "".join(f"<td class='n'>{thousands(by.get(s))}</td>" for s in STATUS_ZH)
            + "</tr>"
        )
    return f"<h2>全市 the city</h2><table class='city'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _contents(
    results: Sequence[CircleResult], towns: Sequence[tuple[str, str, np.ndarray]], maps_href: str | None
) -> str:
    items = [f"<li><a href='#{e(r.circle.id)}'>{e(r.circle.name_zh)} {e(r.circle.name_en)}</a></li>" for r in results]
    items.append("<li><a href='#compare'>镇街对比 towns × circles</a></li>")
    items.append("<li><a href='#equity'>公平性 equity</a></li>")
    items.append(
        "<li><a href='#atlas'>镇街图集 town atlas</a>: "
        + " ".join(f"<a href='#town-{e(c)}'>{e(n)}</a>" for c, n, _ in towns)
        + "</li>"
    )
    links = ""
    if maps_href is not None:
        pages = [("index.html", "总览 overview")] + [(f"{r.circle.id}.html", r.circle.name_zh) for r in results]
        links = (
            "<p class='maplinks'>交互地图 interactive maps: "
            + " · ".join(f"<a href='{e(maps_link(maps_href, p) or '')}'>{e(t)}</a>" for p, t in pages)
            + "</p>"
        )
    return f"<nav class='toc' id='contents'><h2>目录 contents</h2><ol>{''.join(items)}</ol>{links}</nav>"


def report_html(
    results: Sequence[CircleResult], maps_href: str | None = None, candidates_dir: str | Path | None = None
) -> str:
    """Render the report as one printable HTML document (all user strings escaped).

    Parameters
    ----------
    results
        The circles of one run (same study).
    maps_href
        Relative href from the report's folder to the maps folder (links to ``index.html`` and
        ``<circle>.html``); ``None``: no links.
    candidates_dir
        Folder holding ``<circle>/candidates.csv`` (top sites listed per circle); ``None``: none.

    Returns
    -------
    str
        The HTML text (inline CSS and SVG, no scripts, no external resources).
    """
    synthetic = any(r.summary.get("synthetic") for r in results)
    s0 = results[0].summary
    towns = towns_in_order(results)
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{e(report_title(results[0].region, short=True))}</title><style>",
        "\n" + web_text("report.css"),  # the sheet inlined after an empty line, as it always was
        web_text("report-synthetic.css").rstrip("\n") if synthetic else "",
        "</style></head><body>",
        PATTERNS,
    ]
    if synthetic:
        out.append(
            f"<div class='banner' id='banner'>⚠ {SYNTHETIC_MARK}: {txt(s0.get('note_zh', ''))} "
            f"{txt(s0.get('note', ''))}</div>"
        )
    out.append(f"<h1>{e(report_title(results[0].region))}</h1>")
    out.append(f"<p id='synthetic' data-synthetic='{str(synthetic).lower()}'>synthetic = {str(synthetic).lower()}</p>")
    out.append("<p>状态 status: " + " · ".join(f"{STATUS_ZH[k]} {k}" for k in STATUS_ZH) + "</p>")
    out.append(f"<p><small>{e(status_rule(results))}</small></p>")
    out.append(_city_table(results))
    out.append(_contents(results, towns, maps_href))
    for r in results:
        out.extend(_circle_section(r, maps_href, candidates_dir))
    v0 = results[0].villages
    city = make_frame(v0, 300, 260, tolerance=0.6) if len(v0) else None
    out.extend(_compare_section(results, city))
    out.extend(equity_section(results))  # who is left behind: the city and the least equal towns per circle
    out.append(
        "<section class='atlas-intro' id='atlas'><h2>镇街图集 town atlas</h2><p>一页一个镇街 one page per town: "
        "每个服务圈一张小图，图上数字对应右侧村(社区)表 (one small map per circle; the numbers key the village "
        "table). 镇街 towns: "
        + " · ".join(f"<a href='#town-{e(c)}'>{e(n)}</a>" for c, n, _ in towns)
        + f"</p>{legend_html(results)}</section>"
    )
    views = atlas_views(results)
    for town in towns:
        out.append(town_section(views, results[0].villages, town, synthetic, maps_href))
    out.append("</body></html>")
    return "\n".join(out)


def _html_cell(k: str, v: Any) -> str:
    """Render one cell of a town table (numbers right-aligned, text escaped, missing values as –)."""
    if k.startswith("pass_rate"):
        return f"<td class='n'>{pct(v)}</td>"
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "<td class='n'>–</td>"
    if k in ("population", "elderly", "supply", "deficit"):
        return f"<td class='n'>{thousands(v)}</td>"
    if k in ("supply_ratio", "access_supply"):
        return f"<td class='n'>{v:.3f}</td>"
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return f"<td class='n'>{v}</td>"
    if k == "supply_status_zh":  # 待核实(部分设施容量未知) → 待核实: the legend explains it
        return f"<td class='t'>{txt(str(v).split('(')[0])}</td>"
    cls = {"worst": " class='w'", "town_name": " class='t'"}.get(k, "")
    return f"<td{cls}>{txt(v)}</td>"


def write_html(
    results: Sequence[CircleResult],
    path: str | Path,
    maps_href: str | None = None,
    candidates_dir: str | Path | None = None,
) -> Path:
    """Write the report document (:func:`report_html`) to ``path`` atomically; see :func:`write_report`."""
    return write_text(report_html(results, maps_href=maps_href, candidates_dir=candidates_dir), path)
