"""A scenario's page (``scenario_<circle>.html``): villages coloured by what the edits change.

The facilities added (+) and removed (×) are marked beside those that stay; each village's popup reads its status
before -> after.

The page is a circle page (search, town selector, village table) whose village fill is the kind of change
(:data:`CHANGE_COLOURS`) instead of the share class; the share and status shown are the scenario's (after).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...compute.coverage import STATUS_ZH
from ...core.io import cut_shares
from .circle import _table_tools
from .common import MARK_COLOURS, OUTLINES_JS, STATUS_EN, _fmt, _table, e, page_href
from .geojson import _centre
from .layers import circle_info, facilities_layer, town_columns, towns_layer, village_columns, villages_layer
from .page import _note, render_page, undrawn_towns

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult, Study

#: Fill of a village by its change (greens better, grey the same, purples worse: ColorBrewer PRGn, so no fill is
#: mistaken for the red / dashed status outlines of gap and unreachable villages, drawn over it).
CHANGE_COLOURS = {
    "newly_covered": "#1b7837",
    "improved": "#a6dba0",
    "unchanged": "#e6e6e6",
    "worse": "#c2a5cf",
    "no_longer_covered": "#762a83",
}
#: The kinds of change, Chinese first.
CHANGE_LABELS = {
    "newly_covered": "新增达标 newly covered",
    "improved": "改善 improved (share or 2SFCA access up, status the same)",
    "unchanged": "不变 unchanged",
    "worse": "变差 worse (share or 2SFCA access down, status the same)",
    "no_longer_covered": "不再达标 no longer covered",
}
#: Road edits on the map (drawn by maps.js, style ``roadedit``): new links blue, closed streets thick near-black,
#: closure polygons a near-black dotted outline (none of them a village-change, gap (red) or unreachable (orange)
#: colour; town boundaries are thinner and grey).
ROAD_EDIT_COLOURS = {"link": "#2166ac", "closed": "#1a1a1a", "area": "#1a1a1a"}
ADDED_MARK = "<span style='color:#1b7837'>+</span>"
REMOVED_MARK = "<span style='color:#762a83'>\u00d7</span>"


def scenario_page_name(circle_id: str) -> str:
    """File name of a circle's scenario page: ``scenario_<circle>.html``."""
    return "scenario_" + page_href(circle_id).removeprefix("./")


def _status(v: Any) -> str:
    s = str(v)
    return f"{STATUS_ZH.get(s, s)} {STATUS_EN.get(s, s)}"


def _pct(v: Any) -> str:
    x = float(v) if v is not None and pd.notna(v) else float("nan")
    return "—" if not np.isfinite(x) else f"{float(cut_shares(x, 3)) * 100:.1f}%"


def village_changes(study: Study, ledger: pd.DataFrame, after: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Per village of ``study.villages`` (in order): the kind of change, its colour and the popup text.

    Villages not in the ledger are unchanged (their status is the same before and after).

    Returns
    -------
    kinds, colours, texts
        ``texts`` are escaped: ``服务盲区 gap → 达标 covered · 0.0% → 100.0% · 新增达标 newly covered``.
    """
    rows = {str(r["code"]): r for r in ledger.to_dict(orient="records")}
    codes = study.villages["code"].astype(str).tolist()
    st_after = after.set_index(after["code"].astype(str))["status"] if len(after) else pd.Series(dtype=str)
    kinds, cols, texts = [], [], []
    for code in codes:
        r = rows.get(code)
        if r is None:
            s = st_after.get(code, "")
            kind, text = "unchanged", f"{_status(s)} → {_status(s)} · {CHANGE_LABELS['unchanged']}"
        else:
            kind = str(r["change"])
            text = (
                f"{_status(r['status_before'])} → {_status(r['status_after'])} · "
                f"{_pct(r['covered_share_before'])} → {_pct(r['covered_share_after'])} · "
                f"{_fmt(r['covered_population_before'], nd=0)} → {_fmt(r['covered_population_after'], nd=0)} 人 people"
                f" · {CHANGE_LABELS.get(kind, kind).split(' (')[0]}"
            )
        kinds.append(kind)
        cols.append(CHANGE_COLOURS.get(kind, CHANGE_COLOURS["unchanged"]))
        texts.append(e(text))
    return kinds, cols, texts


def _edit_points(f: gpd.GeoDataFrame | None, mark: str, zh: str, en: str) -> dict[str, Any]:
    """Return added or removed facilities as marked points with their own tooltip and popup (escaped here)."""
    feats = []
    if f is not None and len(f):
        g = f.to_crs(4326)
        for i, (geom, rec) in enumerate(zip(g.geometry, g.drop(columns="geometry").to_dict(orient="records"))):
            name = str(rec.get("name") or rec.get("facility_id") or f"{en} {i + 1}")
            fid = str(rec.get("facility_id") or "—")
            pop = f"<b>{zh} {en}</b>" + _table(
                [("设施 facility", e(name)), ("编号 id", e(fid)), ("经纬度 lon, lat", f"{geom.x:.6f}, {geom.y:.6f}")]
            )
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"rank": mark, "tip": e(f"{zh} {en}: {name}"), "pop": pop},
                    "geometry": {"type": "Point", "coordinates": [round(geom.x, 6), round(geom.y, 6)]},
                }
            )
    return {"type": "FeatureCollection", "features": feats}


def _line(coords: list[list[float]], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}


def road_edit_layers(road_lines: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the new links and the closed streets (with the closure polygons) as GeoJSON for the ``roadedit`` style.

    Every feature carries ``k`` (``link``, ``closed`` or ``area``), an escaped tooltip ``tip`` and popup ``pop``.
    """
    links, closed = [], []
    road_lines = road_lines or {}
    for i, x in enumerate(road_lines.get("links") or []):
        if "from_lonlat" not in x:
            continue
        name = str(x.get("name") or f"link {i + 1}")
        pop = "<b>新增连接 new link</b>" + _table(
            [
                ("名称 name", e(name)),
                ("长度 length", f"{float(x.get('length_m', 0)):,.0f} m"),
                ("时间 time", f"{float(x.get('minutes', 0)):.2f} 分钟 min"),
                ("方式 mode", e(str(x.get("mode", "")))),
                ("节点 nodes (OSM)", f"{int(x.get('from_node_id', -1))} → {int(x.get('to_node_id', -1))}"),
            ]
        )
        props = {"k": "link", "tip": e(f"新增连接 new link: {name}"), "pop": pop}
        links.append(_line([x["from_lonlat"], x["to_lonlat"]], props))
    for x in road_lines.get("closed") or []:
        name = str(x.get("name") or "")
        way = int(x.get("way_id", -1))
        rows = [("道路 street", e(name) if name else "—")]
        if way >= 0:
            rows.append(("OSM way", f"<a href='https://www.openstreetmap.org/way/{way}'>{way}</a>"))
        props = {"k": "closed", "tip": e(f"封闭路段 closed street: {name or '—'}"), "pop": "<b>封闭路段 closed "
                 "street</b>" + _table(rows)}  # fmt: skip
        closed.append(_line(x["coords"], props))
    areas = road_lines.get("areas")
    if areas is not None and len(areas):
        for i, geom in enumerate(areas.to_crs(4326).geometry):
            feat = shapely.geometry.mapping(shapely.set_precision(geom, 1e-6))
            pop = "<b>封闭区域 closure area</b>" + _table(
                [("编号 no.", str(i + 1)), ("规则 rule", "端点在区域内的路段封闭 streets with an end inside close")]
            )
            props = {"k": "area", "tip": e(f"封闭区域 closure area {i + 1}"), "pop": pop}
            closed.append({"type": "Feature", "properties": props, "geometry": feat})
    return ({"type": "FeatureCollection", "features": links}, {"type": "FeatureCollection", "features": closed})


def _legend(summary: dict[str, Any], kinds: list[str]) -> str:
    n = {k: kinds.count(k) for k in CHANGE_COLOURS}
    rows = "".join(
        f"<span><span class='dg-sw' style='background:{col}'></span>{CHANGE_LABELS[k]} ({n[k]})</span><br>"
        for k, col in CHANGE_COLOURS.items()
    )
    city = summary.get("city", {})
    edits = summary.get("edits", {})
    syn = (
        "<div class='dg-syn'>⚠ 合成数据 SYNTHETIC — 情景结果不可用于规划决策</div>" if summary.get("synthetic") else ""
    )
    return (
        syn
        + "<div class='dg-sec' id='dg-change-legend'>村(社区)变化 villages: change (现状 before → 情景 after)</div>"
        + f"<div>{rows}</div>"
        + f"<span class='dg-cand' style='display:inline-block;width:18px'>{ADDED_MARK}</span> 新增设施 added "
        f"({int(edits.get('added', 0))})<br><span class='dg-cand' style='display:inline-block;width:18px'>"
        f"{REMOVED_MARK}</span> 关闭设施 removed ({len(edits.get('removed', []))})<br>"
        f"<span class='dg-sw' style='background:{MARK_COLOURS['facility']};border-radius:7px;border-color:#fff'>"
        "</span>保留设施 facilities that stay<br>"
        f"<span class='dg-ln' style='border:3px solid {MARK_COLOURS['gap']}'></span>服务盲区 gap (情景 after) · "
        f"<span class='dg-ln' style='border:3px dashed {MARK_COLOURS['unreachable']}'></span>路网不可达 unreachable"
        + "<div class='dg-sec'>全市 city</div>"
        + f"覆盖人口 people covered <b>{_fmt(city.get('covered_population_before'), nd=0)} → "
        f"{_fmt(city.get('covered_population_after'), nd=0)}</b><br>达标村(社区) villages covered <b>"
        f"{_fmt(city.get('villages_covered_before'), nd=0)} → {_fmt(city.get('villages_covered_after'), nd=0)}</b>"
        + _roads_line(edits)
        + f"<div class='dg-rule'>{e(str(summary.get('method', '')))}</div>"
    )


def _roads_line(edits: dict[str, Any]) -> str:
    """Return the legend's lines on road edits (drawn: links, closed streets, closure areas) and capacity edits."""
    out = ""
    roads = edits.get("roads")
    if roads:
        names = "、".join(str(x.get("name") or "—") for x in roads.get("links", []))
        ways = roads.get("closed_ways") or []
        c = ROAD_EDIT_COLOURS
        out += (
            "<div class='dg-sec' id='dg-road-legend'>道路编辑 road edits — 服务圈已重新计算 recomputed in full</div>"
            f"<span class='dg-ln dg-road-link' style='border-top:4px solid {c['link']}'></span>"
            f"新增连接 new links ({len(roads.get('links', []))}" + (f": {e(names)}" if names else "") + ")<br>"
            f"<span class='dg-ln dg-road-closed' style='border-top:5px solid {c['closed']}'></span>"
            f"封闭路段 closed streets ({int(roads.get('directed_edges_removed', 0))} 有向路段 directed edges"
            + (f"; OSM ways {e(', '.join(str(w) for w in ways))}" if ways else "")
            + ")<br>"
            f"<span class='dg-ln' style='border:2px dotted {c['area']}'></span>封闭区域 closure areas "
            f"({int(roads.get('closures', 0))})"
        )
    if edits.get("capacity"):
        out += f"<br>容量变化 capacity edits: {len(edits['capacity'])}"
    return out


def scenario_map_html(
    study: Study,
    before: CircleResult,
    ledger: pd.DataFrame,
    after_villages: pd.DataFrame,
    summary: dict[str, Any],
    added: gpd.GeoDataFrame | None = None,
    removed_ids: list[str] | tuple[str, ...] = (),
    outlines: bool = False,
    road_lines: dict[str, Any] | None = None,
) -> str:
    """Render a scenario's page.

    Parameters
    ----------
    study, before
        The study and the baseline result of the circle (its facilities, the source note).
    ledger, after_villages, summary
        The scenario's village ledger (changed villages), every village after the edits (``study.villages``
        order) and its summary (edits, city figures, synthetic).
    added, removed_ids
        The facilities added (EPSG:4326) and the ``facility_id`` of those removed.
    outlines
        Take the outlines from :data:`OUTLINES_JS` beside the page instead of embedding them.
    road_lines
        The road edits to draw (``Scenario.road_lines``: new links, closed streets, closure polygons).

    Returns
    -------
    str
        The HTML page.
    """
    c = before.circle
    kinds, colours, texts = village_changes(study, ledger, after_villages)
    v = village_columns(study, SimpleNamespace(villages=after_villages, circle=c))  # type: ignore[arg-type]
    v["cc"], v["chg"] = colours, texts
    fac = before.facilities
    gone = fac["facility_id"].astype(str).isin([str(r) for r in removed_ids]).to_numpy() if len(fac) else []
    kept = facilities_layer(before)
    kept["features"] = [f for f, g in zip(kept["features"], gone) if not g] if len(removed_ids) else kept["features"]
    shared = {"outlines": "villages"} if outlines else {}
    layers = [
        {"key": "villages", "label": "村(社区)变化 villages: change", "style": "villages",
         "data": villages_layer(study, outlines=outlines), "show": True, "fit": True, **shared},
        {"key": "towns", "label": "镇街边界 town boundaries", "style": "towns",
         "data": towns_layer(study, outlines=outlines), "show": True, "fit": False,
         **({"outlines": "towns"} if outlines else {})},
        {"key": "facilities", "label": "保留设施 facilities that stay", "style": "points", "data": kept,
         "show": True, "fit": False},
        {"key": "added", "label": "新增设施 added facilities (+)", "style": "points",
         "data": _edit_points(added, ADDED_MARK, "新增设施", "added"), "show": True, "fit": False},
        {"key": "removed", "label": "关闭设施 removed facilities (×)", "style": "points",
         "data": _edit_points(fac[gone] if len(removed_ids) else None, REMOVED_MARK, "关闭设施", "removed"),
         "show": True, "fit": False},
    ]  # fmt: skip
    if road_lines:
        link_fc, closed_fc = road_edit_layers(road_lines)
        layers += [
            {"key": "roadclosed", "label": "封闭路段 closed streets", "style": "roadedit", "data": closed_fc,
             "show": True, "fit": False},
            {"key": "roadlinks", "label": "新增连接 new links", "style": "roadedit", "data": link_fc,
             "show": True, "fit": False},
        ]  # fmt: skip
    extra = {"page": "scenario", "circle": circle_info(before), "v": v, "t": town_columns(study, [before.towns])}
    if road_lines:
        extra["roadedit"] = ROAD_EDIT_COLOURS
    n = len(study.villages)
    side = (
        f"<div class='dg-noprint dg-after'><button id='dg-vtable-btn' type='button' aria-expanded='false'>"
        f"村(社区)表 village table ({n}, 情景 after)</button></div>"
        + _table_tools()
        + "<div id='dg-vtable-wrap' class='dg-scroll dg-after' hidden><table id='dg-vtable' class='dg-list'></table>"
        "</div>"
    )
    title = f"情景 scenario — {c.name_zh} {c.name_en} ({c.minutes:g} 分钟 min)"
    if summary.get("synthetic"):
        title += " [合成数据 SYNTHETIC]"
    back = f"<a href='{page_href(c.id)}'>{e(c.name_zh)} 现状 baseline</a>"
    return render_page(
        title,
        layers,
        _note([before.summary]) + undrawn_towns(study.towns),
        _legend(summary, kinds),
        _centre(study),
        OUTLINES_JS if outlines else None,
        extra=extra,
        side_html=side,
        nav_html=back,
    )
