"""One circle's page: villages by share covered, status marks, service and gap areas, facilities, sites."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from ...compute.coverage import STATUS_ZH, STATUSES
from ..sites import UNIT_SHOW
from .common import (
    MARK_COLOURS,
    OUTLINES_JS,
    SENS_COLOURS,
    STATUS_EN,
    SUPPLY_BINS,
    SUPPLY_COLOURS,
    _bin_labels,
    _fmt,
    _pct0,
    e,
    share_classes,
)
from .geojson import _centre
from .layers import (
    candidates_layer,
    circle_info,
    facilities_layer,
    gaps_layer,
    sensitivity_info,
    sensitivity_layer,
    service_area_layer,
    supply_layer,
    town_columns,
    towns_layer,
    village_columns,
    villages_layer,
)
from .page import _nav, _note, render_page, undrawn_towns

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult, Study


def _share_legend(result: CircleResult) -> str:
    c = result.circle
    _, cols, labels = share_classes(c.covered_min_share)
    rows = "".join(
        f"<span><span class='dg-sw' style='background:{col}'></span>{lab}</span>" for col, lab in zip(cols, labels)
    )
    rule = (
        f"<div class='dg-rule'><b>达标 covered</b> = 村(社区)内 ≥ {_pct0(c.covered_min_share)} 的人口在 "
        f"{c.minutes:g} 分钟内（{e(str(c.mode))} {c.speed_kmh:g} km/h）到达最近设施。"
        f"<span lang='en'>A village is covered when ≥ {_pct0(c.covered_min_share)} of its people reach a "
        f"facility within {c.minutes:g} min (setting covered_min_share).</span></div>"
    )
    nd = (
        "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)' "
        f"stroke='{MARK_COLOURS['no_data']}'/></svg>"
    )
    marks = (
        f"<span class='dg-ln' style='border:3px solid {MARK_COLOURS['gap']}'></span>服务盲区 gap: nobody within the "
        f"limit<br><span class='dg-ln' style='border:3px dashed {MARK_COLOURS['unreachable']}'></span>路网不可达 "
        f"unreachable: no facility along the streets<br>{nd}无数据 no data (no area or no people)"
    )
    return (
        "<div class='dg-sec'>村(社区)人口覆盖率 share of people within the limit</div>"
        + f"<div class='dg-lgrid'>{rows}</div>"
        + rule
        + "<div class='dg-sec'>状态标记 status marks (outline / hatching)</div>"
        + marks
    )


def _sensitivity_key(result: CircleResult) -> str:
    """Return the layer key's line for the speed sensitivity layer: its three classes and the speeds."""
    sens = result.sensitivity
    if sens is None:
        return ""
    speeds = ", ".join(f"{s:g}" for s in sens.speeds_kmh)
    sw = " ".join(
        f"<span class='dg-sw' style='background:{SENS_COLOURS[k]}'></span>{zh} {en}"
        for k, zh, en in (
            ("robust", "稳健", "robust (covered at the slowest)"),
            ("fragile", "脆弱", "fragile (only at faster speeds)"),
            ("not_covered", "未达标", "not covered"),
        )
    )
    return f"速度稳健性 speed sensitivity ({speeds} km/h; layer off by default):<br>{sw}"


def _circle_legend(result: CircleResult, supply: bool, candidates: bool) -> tuple[str, str]:
    """Return the legend (share classes, status marks, city figures) and the key of the other layers.

    The key goes after the data note on screen (so the legend and the note fit a laptop screen), and is printed.
    """
    sa = (
        "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-service)' "
        f"stroke='{MARK_COLOURS['service']}'/></svg>"
    )
    gp = (  # the map's hatching, drawn as filled strokes (so the colour survives any print dialog)
        "<svg class='dg-sw' viewBox='0 0 14 10'><path d='M0 8L8 0H10L0 10ZM4 10L14 0V2L6 10ZM10 10L14 6V8L12 10Z' "
        f"fill='{MARK_COLOURS['gap_area']}'/><rect x='.5' y='.5' width='13' height='9' fill='none' "
        f"stroke='{MARK_COLOURS['gap_area']}'/></svg>"
    )
    rows = [
        f"{sa}服务范围 service area (hatched over the fill; a click opens the village below)",
        f"{gp}盲区人口 gap areas (populated, beyond the limit; hatched, layer off by default)",
        f"<span class='dg-sw' style='background:{MARK_COLOURS['facility']};border-radius:7px;border-color:#fff'>"
        "</span>设施 facility (hollow: off the network)",
        f"<span class='dg-ln' style='border:2px solid {MARK_COLOURS['town']};height:4px'></span>镇街边界 town boundary",
    ]
    if candidates:
        rows.append(
            "<span class='dg-cand' style='display:inline-block;width:18px'>1</span> 候选站点 candidate site (rank)"
        )
    if supply:
        sup = " ".join(
            f"<span class='dg-sw' style='background:{col}'></span>{lab}"
            for col, lab in zip(SUPPLY_COLOURS, _bin_labels(SUPPLY_BINS))
        )
        rows.append(f"可达供给/标准 supply within reach vs standard (2SFCA, layer off by default):<br>{sup}")
    if result.sensitivity is not None:
        rows.append(_sensitivity_key(result))
    r = result.summary["results"]
    legend = (
        _share_legend(result)
        + "<div class='dg-sec'>全市 city</div>"
        + f"人口覆盖率 population covered <b>{_fmt(r['covered_share'], pct=True)}</b>"
        + f"<br>村(社区)达标率 villages covered <b>{_fmt(r['village_pass_rate'], pct=True)}</b>"
    )
    key = "<div id='dg-layerkey' class='dg-after dg-print-keep'><div class='dg-sec'>图层 layers</div>"
    return legend, key + "<br>".join(rows) + "</div>"


def _table_tools() -> str:
    """Return the village table's status filter and CSV download (shown with the table; the page makes the file)."""
    opts = "".join(f"<option value='{k}'>{STATUS_ZH[k]} {STATUS_EN[k]}</option>" for k in STATUSES)
    return (
        "<div id='dg-vtools' class='dg-noprint dg-after' hidden><label>状态 status <select id='dg-vfilter'>"
        f"<option value=''>全部 all</option>{opts}</select></label> "
        "<button id='dg-vcsv' type='button' title='表中当前各行 the rows shown, UTF-8 CSV'>下载 CSV download</button>"
        "</div>"
    )


def circle_map_html(
    study: Study,
    result: CircleResult,
    sa: gpd.GeoDataFrame,
    gp: gpd.GeoDataFrame,
    candidates: pd.DataFrame | None = None,
    outlines: bool = False,
    circles: Sequence[tuple[str, str]] = (),
    index: bool = False,
    report_href: str | None = None,
    scenario: bool = False,
) -> str:
    """Render one circle's map (with a ranked candidate-sites layer when ``candidates`` is given).

    Parameters
    ----------
    study, result
        The study and the circle's result.
    sa, gp
        Service area and gap areas (:func:`dgcoverage.outputs.areas.write_areas`).
    candidates
        Ranked sites (:func:`read_candidates`), or ``None``.
    outlines
        Take the village and town outlines from :data:`OUTLINES_JS` beside the page (written by
        :func:`write_maps`) instead of embedding them.
    circles
        ``(id, name)`` of the circle pages to link to (this one included); ``index``: link the overview.
    report_href
        Relative link to ``report.html``, or ``None``.
    scenario
        Link the circle's scenario page (``scenario_<circle>.html`` beside this page).

    Returns
    -------
    str
        The HTML page.
    """
    c = result.circle
    vshared = {"outlines": "villages"} if outlines else {}
    layers = [
        {
            "key": "villages",
            "label": "村(社区)人口覆盖率 villages: share of people covered",
            "style": "villages",
            "data": villages_layer(study, result, outlines),
            "show": True,
            "fit": True,
            **vshared,
        },
        {
            "key": "gaps",
            "label": "服务盲区人口 gap areas (populated, beyond limit)",
            "style": "gaps",
            "data": gaps_layer(study, gp),
            "show": False,
            "fit": False,
        },
        {
            "key": "service",
            "label": f"服务范围 service area ({c.minutes:g} min)",
            "style": "service",
            "data": service_area_layer(study, sa, result),
            "show": True,
            "fit": False,
        },
        {
            "key": "towns",
            "label": "镇街边界 town boundaries",
            "style": "towns",
            "data": towns_layer(study, outlines=outlines),
            "show": True,
            "fit": False,
            **({"outlines": "towns"} if outlines else {}),
        },
        {
            "key": "facilities",
            "label": "设施 facilities",
            "style": "points",
            "data": facilities_layer(result),
            "show": True,
            "fit": False,
        },
    ]
    supply = supply_layer(study, result, outlines)
    if supply is not None:
        layers.insert(
            1,
            {
                "key": "supply",
                "label": "可达供给/标准 supply within reach vs standard (2SFCA)",
                "style": "choropleth",
                "data": supply,
                "show": False,
                "fit": False,
                **vshared,
            },
        )
    sens = sensitivity_layer(study, result, outlines)
    if sens is not None:  # a run with --speeds: robust / fragile villages, one more exclusive fill
        speeds = ", ".join(f"{s:g}" for s in result.sensitivity.speeds_kmh)  # type: ignore[union-attr]
        layers.insert(
            2 if supply is not None else 1,
            {
                "key": "sensitivity",
                "label": f"速度稳健性 speed sensitivity ({speeds} km/h)",
                "style": "sensitivity",
                "data": sens,
                "show": False,
                "fit": False,
                **vshared,
            },
        )
    has_cands = candidates is not None and len(candidates) > 0
    if has_cands:
        names = dict(zip(study.villages["code"].astype(str), study.villages["name"].astype(str)))
        layers.append(
            {
                "key": "candidates",
                "label": f"候选站点 candidate sites (top {len(candidates)})",
                "style": "points",
                "data": candidates_layer(candidates, names, UNIT_SHOW.get(c.capacity, "")),
                "show": True,
                "fit": False,
            }
        )
    sup = result.summary.get("supply") or {}
    extra = {
        "page": "circle",
        "circle": circle_info(result),
        "v": village_columns(study, result),
        "t": town_columns(study, [result.towns]),
        "share": dict(zip(("breaks", "colours", "labels"), share_classes(c.covered_min_share))),
        "supply": {
            "target": _fmt(sup.get("target"), nd=2) if sup else "—",
            "unit": e(str(sup.get("ratio_unit", ""))),
            "source": e(str(sup.get("source", ""))),
        },
    }
    if sens is not None:
        extra["sens"] = sensitivity_info(result)
    n = len(result.villages)
    legend, key = _circle_legend(result, supply is not None, has_cands)
    side = key + (
        f"<div class='dg-noprint dg-after'><button id='dg-vtable-btn' type='button' aria-expanded='false'>"
        f"村(社区)表 village table ({n})</button> <span class='dg-id'>点击表头排序，点击行定位 "
        "click a header to sort, a row to zoom</span></div>"
        + _table_tools()
        + "<div id='dg-vtable-wrap' class='dg-scroll dg-after' hidden><table id='dg-vtable' class='dg-list'></table>"
        "</div>"
    )
    title = f"{c.name_zh} {c.name_en} — {c.minutes:g} 分钟 min, {c.mode} {c.speed_kmh:g} km/h"
    return render_page(
        title,
        layers,
        _note([result.summary]) + undrawn_towns(study.towns),
        legend,
        _centre(study),
        OUTLINES_JS if outlines else None,
        extra=extra,
        side_html=side,
        nav_html=_nav(
            circles or [(c.id, c.name_zh)], c.id, index, report_href, [(c.id, c.name_zh)] if scenario else ()
        ),
    )
