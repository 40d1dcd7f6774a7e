"""The town atlas of the report: one page per 镇街.

Each page has the town's key numbers per circle, one small map per circle of its villages coloured by covered
share (numbered to key the village table) and a village table with every circle's covered share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .labels import e, finite, maps_link, pct, share_class, supply_label, thousands, txt
from .svg import fill_class, legend_html, make_frame, village_map_svg

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult


@dataclass
class _View:
    """What the atlas reads of one circle: light village columns (positional rows) and town rows by code."""

    result: CircleResult
    villages: pd.DataFrame
    towns: dict[str, dict[str, Any]]


def atlas_views(results: Sequence[CircleResult]) -> list[_View]:
    """Light village columns of every circle, aligned by village code to the rows of the first circle."""
    codes = results[0].villages["code"].astype(str).to_numpy()
    out = []
    for r in results:
        v = r.villages
        light = pd.DataFrame(
            {
                "code": v["code"].astype(str).to_numpy(),
                "name": v["name"].to_numpy(object),
                "covered_share": pd.to_numeric(v["covered_share"], errors="coerce").to_numpy(float),
                "status": v["status"].astype(str).to_numpy(object),
                "status_zh": (v["status_zh"] if "status_zh" in v else v["status"]).to_numpy(object),
                "population": pd.to_numeric(v["population"], errors="coerce").to_numpy(float),
            }
        )
        if not np.array_equal(light["code"].to_numpy(), codes):  # another village list: align by code
            light = light.drop_duplicates("code").set_index("code").reindex(codes).reset_index()
            light["status"] = light["status"].fillna("no_data")
        out.append(_View(r, light, {str(t["town_code"]): t for t in r.towns.to_dict("records")}))
    return out


def _town_key_table(views: Sequence[_View], code: str) -> str:
    head = (
        "<tr><th>服务圈 circle</th><th>人口覆盖率<br>pop. covered</th><th>达标率<br>pass rate</th>"
        "<th>达标</th><th>部分</th><th>盲区</th><th>不可达</th><th>无数据</th><th>供给 supply</th></tr>"
    )
    rows = []
    for view in views:
        rec = view.towns.get(code)
        if rec is None:
            continue
        counts = "".join(
            f"<td class='n'>{thousands(rec.get(f'villages_{s}'))}</td>"
            for s in ("covered", "partial", "gap", "unreachable", "no_data")
        )
        sup = supply_label(rec.get("supply_status"))
        ratio, target = finite(rec.get("supply_ratio")), finite(rec.get("target_ratio"))
        if sup and ratio is not None and target is not None:
            sup += f" ({ratio:.3g} / {target:g})"
        k = share_class(rec.get("pass_rate_population"))
        rows.append(
            f"<tr><td>{e(view.result.circle.name_zh)}</td><td class='n{f' c{k}' if k >= 0 else ''}'>"
            f"{pct(rec.get('pass_rate_population'))}</td><td class='n'>{pct(rec.get('pass_rate_villages'))}</td>"
            f"{counts}<td>{e(sup) or '–'}</td></tr>"
        )
    return f"<table class='key'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _village_cell(share: Any, status: str) -> str:
    cls = fill_class(share, status)
    if status == "no_data":
        return "<td class='n nd'>–</td>"
    if status == "unreachable":
        return f"<td class='n {cls}'>不可达</td>"
    text = pct(share, 0) + (" 盲区" if status == "gap" else "")
    return f"<td class='n {cls}'>{'<b>' + text + '</b>' if status == 'covered' else text}</td>"


def _town_village_table(views: Sequence[_View], rows: np.ndarray) -> str:
    v0 = views[0].villages
    head = "<tr><th>#</th><th>村(社区) village</th><th>人口 pop.</th>" + "".join(
        f"<th>{e(view.result.circle.name_zh)}</th>" for view in views
    )
    cols = [(view.villages["covered_share"].to_numpy(), view.villages["status"].to_numpy()) for view in views]
    names, pops = v0["name"].to_numpy(), v0["population"].to_numpy()
    body = []
    for i, pos in enumerate(rows, start=1):
        cells = "".join(_village_cell(share[pos], status[pos]) for share, status in cols)
        body.append(
            f"<tr><td class='n'>{i}</td><td>{txt(names[pos])}</td><td class='n'>{thousands(pops[pos])}</td>{cells}</tr>"
        )
    return f"<table class='vil'><thead>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def town_section(
    views: Sequence[_View], geo: Any, town: tuple[str, str, np.ndarray], synthetic: bool, maps_href: str | None
) -> str:
    """One atlas page: the town's key table, one small map per circle and its village table."""
    code, name, rows = town
    frame = make_frame(geo.iloc[rows], 480, 360)
    t0 = views[0].towns.get(code, {})
    figs = []
    for view in views:
        c = view.result.circle
        share = pct(view.towns.get(code, {}).get("pass_rate_population"))
        svg = village_map_svg(frame, view.villages.iloc[rows], label=f"{name} {c.id}")
        link = maps_link(maps_href, f"{c.id}.html")
        more = f" <a class='top' href='{e(link)}'>地图 map ›</a>" if link else ""
        figs.append(f"<figure><figcaption>{e(c.name_zh)} {c.minutes:g} min — {share}{more}</figcaption>{svg}</figure>")
    syn = " <span class='syn'>合成数据 SYNTHETIC</span>" if synthetic else ""
    results = [view.result for view in views]
    return (
        f"<section class='town' id='town-{e(code)}'><h2>{e(name)} <small>{e(code)} · 人口 population "
        f"{thousands(t0.get('population'))} · 村(社区) {len(rows)}</small>{syn}"
        "<a class='top' href='#atlas'>↑ 图集 atlas</a></h2>"
        f"<div class='tgrid'><div><div class='tmaps'>{''.join(figs)}</div>{legend_html(results)}</div>"
        f"<div>{_town_key_table(views, code)}{_town_village_table(views, rows)}</div></div></section>"
    )


def towns_in_order(results: Sequence[CircleResult]) -> list[tuple[str, str, np.ndarray]]:
    """Towns present among the villages, by town code: (code, name, village row positions sorted by code)."""
    v = results[0].villages
    codes = v["town_code"].astype(str).to_numpy()
    order = np.lexsort((v["code"].astype(str).to_numpy(), codes))
    out = []
    for code in sorted(set(codes)):
        pos = order[codes[order] == code]
        out.append((code, str(v["town_name"].iloc[pos[0]]), pos))
    return out
