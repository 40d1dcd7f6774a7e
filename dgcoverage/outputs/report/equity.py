"""The report's equity part: per circle the city row and the least equal towns, in the document and the workbook.

The figures are those of ``towns.csv`` (:mod:`dgcoverage.pipeline.equity`): Gini and Palma ratio of the travel
time (capped at the report cap, stated), the share of people beyond the limit (FGT headcount) and, for a circle
with a supply standard, the same of its 2SFCA score (the share short of the standard).  For every figure higher
is worse.  The least equal towns are the :data:`LEAST_EQUAL_N` towns with the highest travel-time Gini.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...compute.coverage import bilingual_name
from ...core.io import sheet_title, xlsx_text
from .labels import e, txt

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl import Workbook

    from ...pipeline.study import CircleResult

#: Towns shown per circle: those with the highest travel-time Gini (the least equal).
LEAST_EQUAL_N = 5

#: The columns shown, with a short bilingual header.
TIME_COLUMNS = [
    ("time_gini", "基尼系数 Gini"),
    ("time_palma", "帕尔马比值 Palma"),
    ("poverty_headcount", "超时人口比例 beyond limit (FGT0)"),
]
SUPPLY_COLUMNS = [
    ("access_supply_gini", "可达供给基尼 2SFCA Gini"),
    ("access_supply_palma", "可达供给帕尔马 2SFCA Palma"),
    ("below_standard_headcount", "低于标准人口比例 below standard (FGT0)"),
]

#: One line per figure, in Chinese and English (higher is worse for each).
EQUITY_NOTES = [
    (
        "基尼系数：按人口加权的出行时间不平等程度，0 为人人相同，越接近 1 越不平等（越高越差）。",
        "Gini: how unequal the travel times are across people, population-weighted; 0 = everyone alike, "
        "towards 1 = very unequal (higher is worse).",
    ),
    (
        "帕尔马比值：出行最远的 10% 人口所承担的时间份额 ÷ 最近的 40% 人口的份额（越高越差；人人相同时为 0.25）。",
        "Palma ratio: the share of all minutes borne by the 10 % with the longest trips over that of the 40 % with "
        "the shortest (higher is worse; 0.25 when everyone is alike).",
    ),
    (
        "超时人口比例(FGT0)：出行时间超过服务圈时限的人口比例（越高越差）。",
        "Beyond the limit (FGT0): the share of people whose trip exceeds the circle's limit (higher is worse).",
    ),
    (
        "可达供给(2SFCA)：同样的基尼与帕尔马比值（帕尔马：供给最好的 10% ÷ 最差的 40%），以及低于配置标准的人口比例；"
        "最差的 40% 完全没有供给时帕尔马无定义（–）。",
        "2SFCA access-weighted supply: the same Gini and Palma (Palma: the best-served 10 % over the worst-served "
        "40 %) and the share of people short of the supply standard; Palma is undefined (–) when the worst-served "
        "40 % have no supply at all.",
    ),
]


def columns_for_equity(result: CircleResult) -> list[tuple[str, str]]:
    """Return the equity columns a circle's town table has (time, and 2SFCA where the circle has a standard)."""
    return [(k, h) for k, h in TIME_COLUMNS + SUPPLY_COLUMNS if k in result.towns.columns]


def equity_rows(result: CircleResult, n: int = LEAST_EQUAL_N) -> pd.DataFrame:
    """Return the city row, then the ``n`` towns with the highest travel-time Gini (ties: higher Palma first)."""
    t = result.towns
    cols = ["town_code", "town_name", "population", *[k for k, _ in columns_for_equity(result)]]
    is_city = t["town_code"].astype(str) == str(result.city_code)
    towns = t[~is_city & t["time_gini"].notna() & (t["population"] > 0)]
    worst = towns.sort_values(["time_gini", "time_palma", "town_code"], ascending=[False, False, True]).head(n)
    return pd.concat([t[is_city], worst])[cols].reset_index(drop=True)


def cap_text(result: CircleResult) -> str:
    """Say the cap of the times in both languages (``封顶 60 分钟 times capped at 60 min``)."""
    cap = result.summary["results"].get("equity", {}).get("cap_minutes")
    return f"出行时间封顶 {cap:g} 分钟 times capped at {cap:g} min" if cap is not None else ""


#: What the cap means, said once above the tables.
CAP_NOTE = (
    "出行时间封顶：超过封顶时间、不可达或不在路网上的人，均按封顶时间计。 Times are capped: people beyond the cap, "
    "unreachable or off the network count at the cap."
)


def _fmt(k: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if k.endswith("headcount"):
        return f"{math.floor(float(v) * 1000) / 10:.1f}%"  # a share: cut, never rounded up
    return f"{float(v):.3f}"


def equity_section(results: Sequence[CircleResult]) -> list[str]:
    """Render the report's compact equity section (HTML): per circle the city and the least equal towns."""
    out = [
        "<section id='equity'><h2>公平性 equity: who is left behind"
        "<a class='top' href='#contents'>↑ 目录 contents</a></h2>",
        "<ul class='eqnotes'>"
        + "".join(f"<li>{e(zh)}<br><small>{e(en)}</small></li>" for zh, en in EQUITY_NOTES)
        + f"<li>{e(CAP_NOTE)}</li></ul>",
    ]
    for r in results:
        if "time_gini" not in r.towns.columns:
            continue
        cols = columns_for_equity(r)
        heads = "".join(f"<th>{e(h)}</th>" for _, h in cols)
        out.append(
            f"<h3>{e(r.circle.name_zh)} {e(r.circle.name_en)} <small>({r.circle.minutes:g} min; {e(cap_text(r))}; "
            f"全市及最不平等的 {LEAST_EQUAL_N} 个镇街 the city and the {LEAST_EQUAL_N} least equal towns)</small></h3>"
        )
        out.append(
            f"<table class='equity' data-circle='{e(r.circle.id)}'><thead><tr><th>镇街 town</th>{heads}</tr></thead>"
            "<tbody>"
        )
        for rec in equity_rows(r).to_dict("records"):
            is_city = str(rec["town_code"]) == str(r.city_code)
            cells = "".join(f"<td class='n'>{_fmt(k, rec[k])}</td>" for k, _ in cols)
            out.append(f"<tr{' class=city' if is_city else ''}><td class='t'>{txt(rec['town_name'])}</td>{cells}</tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    return out


def equity_sheet(wb: Workbook, results: Sequence[CircleResult], synthetic: bool, style: Any) -> Any:
    """Add the ``公平性 equity`` sheet: per circle a block of the city and the least equal towns.

    ``style(ws, header_row, formats)`` is the workbook's own table styling (A4, >= 8 pt when printed).
    """
    from openpyxl.styles import Font

    ws = wb.create_sheet(sheet_title("公平性 equity", wb.sheetnames))
    mark = " — 合成数据 SYNTHETIC" if synthetic else ""
    ws.append(
        [xlsx_text(f"公平性 equity: 全市及最不平等的 {LEAST_EQUAL_N} 个镇街 the city and the least equal towns{mark}")]
    )
    ws.cell(row=1, column=1).font = Font(bold=True)
    keys = [k for k, _ in TIME_COLUMNS + SUPPLY_COLUMNS]
    head = [  # the circle and the town's name first: they repeat on every page when the sheet prints pages wide
        "circle 服务圈",
        bilingual_name("town_name"),
        bilingual_name("town_code"),
        "limit_min 时限(分钟)",
        "cap_min 封顶(分钟)",
        *[bilingual_name(c) for c in ["population", *keys]],
    ]
    ws.append(head)
    for r in results:
        if "time_gini" not in r.towns.columns:
            continue
        cap = r.summary["results"].get("equity", {}).get("cap_minutes")
        for rec in equity_rows(r).to_dict("records"):
            vals = [rec.get(k) for k in keys]
            row = [r.circle.id, rec["town_name"], str(rec["town_code"]), float(r.circle.minutes), cap]
            row.append(round(float(rec["population"])))
            row.extend(None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v) for v in vals)
            ws.append([xlsx_text(v) if isinstance(v, str) else v for v in row])
            if str(rec["town_code"]) == str(r.city_code):
                for cell in ws[ws.max_row]:
                    cell.font = Font(bold=True)
    formats = {k: "0.000" for k in keys if not k.endswith("headcount")}
    formats.update({k: "0.0%" for k in keys if k.endswith("headcount")})
    style(ws, 2, formats)
    row = ws.max_row + 2
    for zh, en in [*EQUITY_NOTES, (CAP_NOTE, "")]:
        ws.cell(row=row, column=1, value=xlsx_text(f"{zh} {en}".strip()))
        row += 1
    return ws
