"""The overview page of a batch (``batch.html`` beside ``batch.csv``): every region, one circle at a time.

Each region is drawn as its outline (the union of its towns, recorded by the region's task) filled by a figure of
the chosen circle: the village pass rate (villages with >= the covered share of their people within the limit) or
the share of the region's people within the limit, in the overview page's classes (YlGnBu 4). A table lists every
region x circle with both figures (cut, never rounded up) and links to the region's own map pages and report
when it has them. Offline: Leaflet is inlined from ``dgcoverage/data/vendor``, the page script and styles are
``dgcoverage/data/web/batch.js`` and ``batch.css``; no base map is loaded. Every text of a user (region names,
ids, errors) is escaped here or set as text by the script. Printing gives one A4-landscape page.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from .common import TOWN_BINS, YLGNBU, _bin_labels, _fmt, e
from .geojson import _json_script
from .page import VENDOR, web_asset

#: Fill of a region without the figure (failed, or no people/villages).
NO_FIGURE = "#d9d9d9"
#: The two figures a region can be coloured by: key in the page, column of batch.csv, label.
FIGURES = (
    ("v", "pass_rate_villages", "村(社区)达标率 village pass rate"),
    ("p", "pass_rate_population", "人口覆盖率 share of people covered"),
)


def _head(title: str) -> str:
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers-2x.png", "layers.png"):
        uri = "data:image/png;base64," + base64.b64encode((VENDOR / img).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang='zh-CN'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{e(title)}</title>\n<style>{css}</style>\n<script>{js}</script>\n"
        f"<style>\n{web_asset('batch.css')}</style>\n</head>\n"
    )


def _region_links(out: Path | None, rid: str) -> dict[str, str]:
    """Relative links to a region's map overview and report, for those that exist in ``out``."""
    links: dict[str, str] = {}
    for key, rel in (("maps", "maps/index.html"), ("report", "report.html")):
        if out is not None and (out / rid / rel).is_file():
            links[key] = f"{quote(rid)}/{rel}"
    return links


def _value(v: Any) -> float | None:
    x = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    return None if pd.isna(x) else float(x)


def batch_map_html(
    table: pd.DataFrame,
    outlines: Mapping[str, Any],
    out: str | Path | None = None,
    circle_names: Mapping[str, str] | None = None,
) -> str:
    """Return the batch's overview page.

    Parameters
    ----------
    table
        The combined table (``outputs.batch.batch_table``: one row per region and circle, shares cut).
    outlines
        Region id -> outline as a GeoJSON geometry in WGS84 (a region without one is listed, not drawn).
    out
        The batch's output folder: links go to ``<id>/maps/index.html`` and ``<id>/report.html`` found there.
    circle_names
        Circle id -> name shown beside the id (e.g. the Chinese name).

    Returns
    -------
    str
        The HTML page.
    """
    names = dict(circle_names or {})
    circles = list(dict.fromkeys(str(c) for c in table["circle"]))
    out_dir = Path(out) if out is not None else None
    regions: list[dict[str, Any]] = []
    for rid, rows in table.groupby("region", sort=False):
        rid = str(rid)
        by_circle = {str(r["circle"]): r for _, r in rows.iterrows()}
        first = rows.iloc[0]
        regions.append(
            {
                "id": rid,
                "name": str(first["region_name"] or rid),
                "status": str(first["status"]),
                "error": str(first["error"]),
                "outline": outlines.get(rid),
                "links": _region_links(out_dir, rid),
                **{
                    k: [_value(by_circle[c][col]) if c in by_circle else None for c in circles] for k, col, _ in FIGURES
                },
            }
        )
    synthetic = bool((table["synthetic"].astype(str) == "yes").any())
    colours = list(YLGNBU[len(TOWN_BINS) + 1])
    data = {
        "circles": [{"id": c, "name": names.get(c, "")} for c in circles],
        "figures": [{"key": k, "label": lab} for k, _, lab in FIGURES],
        "bins": list(TOWN_BINS),
        "colours": colours,
        "none": NO_FIGURE,
        "regions": regions,
    }
    title = f"批量运行总览 batch overview: {len(regions)} 个区域 regions × {len(circles)} 个服务圈 circles"
    return (
        _head(title)
        + "<body>\n<aside id='dg-side'>\n"
        + f"<div id='dg-title'>{e(title)}</div>\n"
        + (
            "<div class='dg-syn'>⚠ 合成数据 SYNTHETIC DATA: 部分区域由合成数据计算（synthetic = yes），数字仅供演示。"
            "<span lang='en'>Some regions were computed from synthetic data; their figures are a demonstration "
            "only.</span></div>\n"
            if synthetic
            else ""
        )
        + _pickers(circles, names)
        + _legend(colours)
        + _table(regions, circles, names)
        + _notes(regions)
        + "</aside>\n<div id='dg-map'></div>\n"
        + f'<script type="application/json" id="dg-batch">{_json_script(data)}</script>\n'
        + f"<script>\n{web_asset('batch.js')}</script>\n</body>\n</html>\n"
    )


def _circle_label(cid: str, names: Mapping[str, str]) -> str:
    return f"{e(names[cid])} {e(cid)}" if names.get(cid) else e(cid)


def _pickers(circles: Sequence[str], names: Mapping[str, str]) -> str:
    radios = "".join(
        f"<label><input type='radio' name='dg-circle' value='{i}'{' checked' if i == 0 else ''}>"
        f"{_circle_label(c, names)}</label> "
        for i, c in enumerate(circles)
    )
    figures = "".join(
        f"<label><input type='radio' name='dg-figure' value='{k}'{' checked' if k == 'v' else ''}>{e(lab)}</label> "
        for k, _, lab in FIGURES
    )
    return (
        f"<div id='dg-pick'><div><b>服务圈 circle</b> {radios}</div><div><b>着色 colour by</b> {figures}</div></div>\n"
    )


def _legend(colours: Sequence[str]) -> str:
    rows = "".join(
        f"<span><span class='dg-sw' style='background:{col}'></span>{lab}</span>"
        for col, lab in zip(colours, _bin_labels(TOWN_BINS))
    )
    return (
        "<div id='dg-legend'><div class='dg-sec'>图例 legend: <span id='dg-legend-what'>"
        f"{e(FIGURES[0][2])}</span> — <span id='dg-legend-circle'></span></div><div class='dg-lgrid'>{rows}"
        f"<span><span class='dg-sw' style='background:{NO_FIGURE}'></span>无数值 no figure (failed / none)</span>"
        "</div><div class='dg-rule'>区域轮廓 = 其镇街的并集 outline = the union of the region's towns. 百分比截断"
        "不进位 shares are cut, never rounded up.</div></div>\n"
    )


def _table(regions: Sequence[dict[str, Any]], circles: Sequence[str], names: Mapping[str, str]) -> str:
    head = "".join(f"<th colspan='2' class='dg-c{i}'>{_circle_label(c, names)}</th>" for i, c in enumerate(circles))
    sub = "".join(
        f"<th class='dg-c{i}' title='村(社区)达标率 village pass rate'>村 vil.</th>"
        f"<th class='dg-c{i}' title='人口覆盖率 share of people covered'>人 ppl.</th>"
        for i in range(len(circles))
    )
    body = []
    for j, r in enumerate(regions):
        cells = "".join(
            f"<td class='dg-c{i}'>{_fmt(r['v'][i], pct=True)}</td><td class='dg-c{i}'>{_fmt(r['p'][i], pct=True)}</td>"
            for i in range(len(circles))
        )
        links = " ".join(
            f"<a href='{e(href)}'>{'地图 maps' if k == 'maps' else '报告 report'}</a>" for k, href in r["links"].items()
        )
        status = "" if r["status"] != "failed" else " <span class='dg-fail'>失败 failed</span>"
        body.append(
            f"<tr data-i='{j}'><td class='dg-rn'>{e(r['name'])} <span class='dg-id'>{e(r['id'])}</span>{status}</td>"
            f"{cells}<td class='dg-links'>{links}</td></tr>"
        )
    return (
        "<table id='dg-table' class='dg-bt'><thead><tr><th rowspan='2'>区域 region</th>"
        f"{head}<th rowspan='2'>页面 pages</th></tr><tr>{sub}</tr></thead>\n<tbody>{''.join(body)}</tbody></table>\n"
    )


def _notes(regions: Sequence[dict[str, Any]]) -> str:
    failed = [r for r in regions if r["status"] == "failed"]
    unmapped = [r for r in regions if r["status"] != "failed" and not r["outline"]]
    parts = [f"<div><b>{e(r['id'])}</b> 失败 failed: {e(r['error'])}</div>" for r in failed]
    if unmapped:
        parts.append(
            "<div>无轮廓（表中列出，图上未画）no outline recorded (listed, not drawn): "
            + ", ".join(e(r["id"]) for r in unmapped)
            + "</div>"
        )
    return f"<div id='dg-note'>{''.join(parts)}</div>\n" if parts else ""


def write_batch_map(
    table: pd.DataFrame,
    outlines: Mapping[str, Any],
    path: str | Path,
    out: str | Path | None = None,
    circle_names: Mapping[str, str] | None = None,
) -> Path:
    """Write :func:`batch_map_html` to ``path`` atomically; return the path."""
    from ...core.io import write_text

    return write_text(batch_map_html(table, outlines, out, circle_names), Path(path))
