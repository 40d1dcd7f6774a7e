"""The overview page (``index.html``): towns by population covered, one circle at a time, and a comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .common import OUTLINES_JS, TOWN_BINS, YLGNBU, _bin_labels, _nums, _pct0, _texts, html_key
from .geojson import _centre, _label_points
from .layers import circle_info, town_columns, towns_layer, villages_layer
from .page import _nav, _note, render_page, undrawn_towns

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult, Study


def _town_legend(cms: Sequence[float] = (0.9,)) -> str:
    rows = "".join(
        f"<span><span class='dg-sw' style='background:{col}'></span>{lab}</span>"
        for col, lab in zip(YLGNBU[len(TOWN_BINS) + 1], _bin_labels(TOWN_BINS))
    )
    return (
        "<div class='dg-sec'>镇街人口覆盖率 share of the town's people within the limit</div>"
        + "<div class='dg-lgrid'>"
        + rows
        + "<span><svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)'/></svg>"
        "无数据 no data</span></div>"
        + "<div class='dg-rule'>按人口计，非按村(社区)数：覆盖人口 ÷ 镇街人口。<span lang='en'>By people, not by "
        "villages: people within the limit ÷ the town's people.</span> 村(社区)达标 covered = ≥ "
        + " / ".join(_pct0(x) for x in cms)
        + " of its people within the limit (see each circle's map).</div>"
    )


def index_map_html(
    study: Study,
    results: Sequence[CircleResult],
    outlines: bool = False,
    report_href: str | None = None,
    scenarios: Sequence[str] = (),
) -> str:
    """Overview: towns by population covered, one circle at a time, with a town × circle comparison.

    Parameters
    ----------
    study
        The study.
    results
        The circles' results (one radio button each, the first shown).
    outlines
        Take the outlines from :data:`OUTLINES_JS` beside the page instead of embedding them.
    report_href
        Relative link to ``report.html``, or ``None``.
    scenarios
        Ids of the circles whose scenario page (``scenario_<circle>.html``) is beside this page: linked.

    Returns
    -------
    str
        The HTML page.
    """
    layers = []
    for k, res in enumerate(results):
        c = res.circle
        layers.append(
            {
                "key": f"towns_{html_key(c.id)}",
                "label": f"{c.name_zh} 镇街人口覆盖率 towns: population covered",
                "style": "towns_pop",
                "data": towns_layer(study, res.towns, outlines),
                "show": k == 0,
                "fit": k == 0,
                "circle": k,
                **({"outlines": "towns"} if outlines else {}),
            }
        )
    layers.append(
        {
            "key": "villages",
            "label": "村(社区)边界 village outlines (popup: every circle)",
            "style": "vlines",
            "data": villages_layer(study, None, outlines),
            "show": False,
            "fit": False,
            **({"outlines": "villages"} if outlines else {}),
        }
    )
    v = {
        "name": _texts(study.villages["name"]),
        "code": _texts(study.villages["code"]),
        "town": _texts(study.villages["town_name"]),
        "pop": _nums(results[0].villages["population"], 0) if results else [],
        "lab": _label_points(study.villages.geometry),
        "c": [
            {"share": _nums(r.villages["covered_share"], 4), "st": _texts(r.villages["status"].astype(str))}
            for r in results
        ],
    }
    extra = {
        "page": "index",
        "circles": [circle_info(r) for r in results],
        "v": v,
        "t": town_columns(study, [r.towns for r in results]),
    }
    side = (
        "<div class='dg-sec'>服务圈 circle (one at a time · 全市人口覆盖率 city share)</div><div id='dg-circles'></div>"
        "<div class='dg-after'><div class='dg-sec'>四圈对比 circles compared: share of each town's people within "
        "the limit</div><div id='dg-multiples'></div>"
        "<div class='dg-scroll' id='dg-compare-wrap'><table id='dg-compare' class='dg-list'></table></div></div>"
    )
    cms = sorted({float(r.circle.covered_min_share) for r in results})
    return render_page(
        f"{study.region} 公共服务圈覆盖 public-service circles — 总览 overview"
        if study.region
        else "东莞公共服务圈覆盖 Dongguan public-service circles — 总览 overview",
        layers,
        _note([r.summary for r in results]) + undrawn_towns(study.towns),
        _town_legend(cms),
        _centre(study),
        OUTLINES_JS if outlines else None,
        extra=extra,
        side_html=side,
        nav_html=_nav(
            [(r.circle.id, r.circle.name_zh) for r in results],
            None,
            True,
            report_href,
            [(r.circle.id, r.circle.name_zh) for r in results if r.circle.id in scenarios],
        ),
        title_html="<br><span id='dg-circle-name'></span>",
    )
