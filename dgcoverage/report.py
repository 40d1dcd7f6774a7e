"""Town report: ``report.xlsx`` (openpyxl, with a coverage-curve LineChart) and ``report.html`` (inline SVG).

One sheet/section per circle: a row per town with village counts by status,
pass rates and the worst villages, and the circle's coverage curve (share of
people within 0..60 minutes).  Circles with a supply standard add its columns
(supply per resident or per 1,000 older people, the target, status, deficit,
facilities of unknown capacity, access-weighted supply by 2SFCA) and a line
stating the standard, its source and the elderly figure used.  Synthetic data
is marked on every sheet.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font

from .coverage import STATUS_ZH
from .io import save_workbook, sheet_title, write_text, xlsx_text

if TYPE_CHECKING:  # pragma: no cover
    from .study import CircleResult

e = html.escape
WORST_N = 3
COLUMNS = [
    ("town_code", "镇街代码 town code"),
    ("town_name", "镇街 town"),
    ("villages", "村(社区)数 villages"),
    ("villages_covered", "达标 covered"),
    ("villages_partial", "部分覆盖 partial"),
    ("villages_gap", "盲区 gap"),
    ("villages_unreachable", "不可达 unreachable"),
    ("villages_no_data", "无数据 no data"),
    ("pass_rate_villages", "村(社区)达标率 village pass rate"),
    ("pass_rate_population", "人口覆盖率 population covered"),
    ("population", "人口 population"),
    ("worst", "覆盖最差的村(社区) worst villages (covered share)"),
]
#: Supply columns shown for circles with a supply standard (before ``worst``).
SUPPLY_COLUMNS = [
    ("facilities", "设施数 facilities"),
    ("facilities_capacity_unknown", "容量未知 capacity unknown"),
    ("supply", "供给量 supply (known capacities)"),
    ("elderly", "老年人口 people 60+"),
    ("supply_ratio", "人均(每千人)供给 supply ratio"),
    ("target_ratio", "标准 target"),
    ("deficit", "缺口 deficit"),
    ("supply_status_zh", "供给状态 supply status"),
    ("access_supply", "可达供给 2SFCA access"),
]


def columns_for(result: CircleResult) -> list[tuple[str, str]]:
    """Return the report columns of a circle: the coverage columns, and its supply columns when it has them."""
    if "supply_ratio" not in result.towns.columns:
        return COLUMNS
    extra = [(c, h) for c, h in SUPPLY_COLUMNS if c in result.towns.columns]
    return [*COLUMNS[:-1], *extra, COLUMNS[-1]]


def supply_note(result: CircleResult) -> str:
    """Describe the circle's supply standard in one line (empty for circles without one)."""
    sup = result.summary.get("supply")
    if not sup:
        return ""
    city = sup["city"]
    ratio = "–" if city["supply_ratio"] is None else f"{city['supply_ratio']:.4g}"
    deficit = "–" if city["deficit"] is None else f"{city['deficit']:,.0f}"
    unit = "m²" if sup["capacity"] == "area_m2" else "beds 张"
    text = (
        f"供给标准 supply standard: {sup['indicator']} {sup['target']:g} ({sup['ratio_unit']}) — {sup['source']}. "
        f"全市 city: {ratio} ({city['status_zh']} {city['status']}), 缺口 deficit {deficit} {unit}; "
        f"容量未知设施 facilities of unknown capacity {sup['facilities']['capacity_unknown']} of "
        f"{sup['facilities']['total']}"
    )
    if "elderly" in sup:
        e = sup["elderly"]
        text += f"; 老年人口 people 60+: {e['basis']} (share {e['city_share']}) — {e['source']}"
    if sup.get("capacity_synthetic"):
        text += "; 容量为合成数据 capacities are SYNTHETIC"
    return text


def town_rows(result: CircleResult, worst_n: int = WORST_N) -> pd.DataFrame:
    """Town table of a circle with a ``worst`` column: the villages with the lowest covered share."""
    vt = result.villages
    ok = vt[vt["status"] != "no_data"].sort_values(["covered_share", "population"], ascending=[True, False])
    worst = (
        ok.groupby("town_code")
        .head(worst_n)
        .groupby("town_code")
        .apply(lambda g: "; ".join(f"{n} {s:.0%}" for n, s in zip(g["name"], g["covered_share"])), include_groups=False)
    )
    t = result.towns.copy()
    t["worst"] = t["town_code"].map(worst).fillna("")
    city = t["town_code"] == "441900"
    t.loc[city, "worst"] = "; ".join(
        f"{n}({tn}) {s:.0%}"
        for n, tn, s in zip(ok["name"].head(worst_n), ok["town_name"].head(worst_n), ok["covered_share"].head(worst_n))
    )
    return pd.concat([t[~city], t[city]])[[c for c, _ in columns_for(result)]]


def _safe(v: Any) -> Any:
    if isinstance(v, float) and pd.isna(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return xlsx_text(v)


def write_xlsx(results: Sequence[CircleResult], path: str | Path) -> Path:
    """Write the town report workbook.

    Every text cell (titles, headers, names) is stored as a string cell, never as a formula
    (:func:`dgcoverage.io.save_workbook`); sheet names derived from circle ids are sanitised
    (:func:`dgcoverage.io.sheet_title`).
    """
    wb = Workbook()
    ws0 = wb.active
    ws0.title = "说明 About"
    s0 = results[0].summary
    synthetic = any(r.summary.get("synthetic") for r in results)
    ws0.append(["东莞公共服务圈覆盖报告 Dongguan public-service circle coverage report"])
    ws0["A1"].font = Font(bold=True, size=14)
    ws0.append([f"synthetic = {str(synthetic).lower()}"])
    if synthetic:
        ws0.append([s0.get("note_zh", "")])
        ws0.append([s0.get("note", "")])
        for row in ws0.iter_rows(min_row=2, max_row=4):
            for c in row:
                c.font = Font(bold=True, color="B2182B")
    for r in results:
        c = r.circle
        ws0.append([f"{c.id}: {c.name_zh} {c.minutes:g} min {c.mode} {c.speed_kmh:g} km/h — {c.policy_source}"])
        if supply_note(r):
            ws0.append([xlsx_text(f"    {supply_note(r)}")])
    for r in results:
        c = r.circle
        ws = wb.create_sheet(sheet_title(c.id, wb.sheetnames))
        ws.append(
            [
                xlsx_text(
                    f"{c.name_zh} {c.name_en} ({c.minutes:g} min)"
                    + ("  — 合成数据 SYNTHETIC DATA" if r.summary.get("synthetic") else "")
                )
            ]
        )
        ws["A1"].font = Font(bold=True, size=12, color="B2182B" if r.summary.get("synthetic") else "000000")
        cols = columns_for(r)
        ws.append([h for _, h in cols])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        rows = town_rows(r)
        for rec in rows.itertuples(index=False):
            ws.append([_safe(v) for v in rec])
        _formats(ws, [c for c, _ in cols])
        note = supply_note(r)
        if note:
            ws.cell(row=len(rows) + 4, column=1, value=xlsx_text(note))
        # coverage curve
        cc = r.summary["coverage_curve"]
        col0 = len(cols) + 2
        ws.cell(row=2, column=col0, value="分钟 minutes")
        ws.cell(row=2, column=col0 + 1, value="人口占比 population share")
        for i, (mnt, sh) in enumerate(zip(cc["minutes"], cc["population_share"])):
            ws.cell(row=3 + i, column=col0, value=mnt)
            ws.cell(row=3 + i, column=col0 + 1, value=sh).number_format = "0.0%"
        ch = LineChart()
        ch.title = f"覆盖曲线 coverage curve — {c.id}"
        ch.y_axis.title = "人口占比 share of population"
        ch.x_axis.title = "分钟 minutes"
        ch.y_axis.scaling.min, ch.y_axis.scaling.max = 0, 1
        n = len(cc["minutes"])
        ch.add_data(Reference(ws, min_col=col0 + 1, min_row=2, max_row=2 + n), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=col0, min_row=3, max_row=2 + n))
        ch.width, ch.height = 18, 9
        ws.add_chart(ch, ws.cell(row=len(rows) + (6 if note else 5), column=2).coordinate)
    return save_workbook(wb, path)  # every text cell a string cell, never a formula


#: Column widths and number formats of the town sheets, by column id.
_WIDTHS = {
    "town_code": 12,
    "town_name": 22,
    "villages": 10,
    "pass_rate_villages": 14,
    "pass_rate_population": 14,
    "population": 12,
    "worst": 60,
}
_FORMATS = {
    "pass_rate_villages": "0.0%",
    "pass_rate_population": "0.0%",
    "supply": "#,##0",
    "elderly": "#,##0",
    "deficit": "#,##0",
    "supply_ratio": "0.000",
    "target_ratio": "0.00",
    "access_supply": "0.000",
}


def _formats(ws: Any, ids: list[str]) -> None:
    """Set the widths and number formats of a town sheet's columns."""
    from openpyxl.utils import get_column_letter

    for j, cid in enumerate(ids, start=1):
        ws.column_dimensions[get_column_letter(j)].width = _WIDTHS.get(cid, 12 if cid.startswith("supply") else 8)
        fmt = _FORMATS.get(cid)
        if fmt is None:
            continue
        for (cell,) in ws.iter_rows(min_row=3, min_col=j, max_col=j):
            if isinstance(cell.value, float):
                cell.number_format = fmt


def curve_svg(minutes: Sequence[float], share: Sequence[float], limit_min: float, w: int = 520, h: int = 240) -> str:
    """Inline SVG line chart of the coverage curve, with the circle's limit marked."""
    ml, mr, mt, mb = 44, 12, 10, 34
    xmax = max(minutes) or 1
    px = lambda m: ml + (w - ml - mr) * m / xmax  # noqa: E731
    py = lambda s: mt + (h - mt - mb) * (1 - s)  # noqa: E731
    pts = " ".join(f"{px(m):.1f},{py(s):.1f}" for m, s in zip(minutes, share))
    grid = "".join(
        f"<line x1='{ml}' x2='{w - mr}' y1='{py(v):.1f}' y2='{py(v):.1f}' stroke='#ddd'/>"
        f"<text x='{ml - 4}' y='{py(v) + 4:.1f}' text-anchor='end'>{v:.0%}</text>"
        for v in (0, 0.25, 0.5, 0.75, 1)
    )
    xt = "".join(
        f"<text x='{px(m):.1f}' y='{h - mb + 14}' text-anchor='middle'>{m:g}</text>"
        for m in range(0, int(xmax) + 1, 10)
    )
    lim = (
        f"<line x1='{px(limit_min):.1f}' x2='{px(limit_min):.1f}' y1='{mt}' y2='{h - mb}' stroke='#b2182b' "
        f"stroke-dasharray='4 3'/><text x='{px(limit_min) + 3:.1f}' y='{mt + 12}' fill='#b2182b'>{limit_min:g} "
        "min</text>"
    )
    return (
        f"<svg class='curve' xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='11' "
        f"role='img' aria-label='coverage curve'>{grid}{xt}{lim}"
        f"<polyline fill='none' stroke='#2166ac' stroke-width='2' points='{pts}'/>"
        f"<text x='{(w + ml) / 2}' y='{h - 4}' text-anchor='middle'>分钟 minutes</text></svg>"
    )


def report_html(results: Sequence[CircleResult]) -> str:
    """Render the HTML town report (all user strings escaped)."""
    synthetic = any(r.summary.get("synthetic") for r in results)
    s0 = results[0].summary
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<title>东莞公共服务圈覆盖报告 coverage report</title><style>",
        "body{font:13px/1.5 'Microsoft YaHei','PingFang SC',sans-serif;margin:20px;max-width:1200px}",
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 6px}",
        "th{background:#f0f0f0}td.n{text-align:right}.syn{color:#b2182b;font-weight:bold}tr.city{font-weight:bold}",
        "</style></head><body><h1>东莞公共服务圈覆盖报告 Dongguan public-service circle coverage report</h1>",
    ]
    out.append(f"<p id='synthetic' data-synthetic='{str(synthetic).lower()}'>synthetic = {str(synthetic).lower()}</p>")
    if synthetic:
        out.append(f"<p class='syn'>⚠ {e(str(s0.get('note_zh', '')))}<br>{e(str(s0.get('note', '')))}</p>")
    out.append("<p>状态 status: " + " · ".join(f"{STATUS_ZH[k]} {k}" for k in STATUS_ZH) + "</p>")
    for r in results:
        c = r.circle
        res = r.summary["results"]
        out.append(
            f"<section id='{e(c.id)}'><h2>{e(c.name_zh)} {e(c.name_en)} "
            f"<small>({c.minutes:g} min, {e(c.mode)} {c.speed_kmh:g} km/h)</small>"
            + (" <span class='syn'>合成数据 SYNTHETIC</span>" if r.summary.get("synthetic") else "")
            + "</h2>"
        )
        out.append(
            f"<p>{e(str(c.policy_source))}. 人口覆盖率 population covered {res['covered_share']:.1%}; "
            f"村(社区)达标率 village pass rate {res['village_pass_rate']:.1%}.</p>"
        )
        if supply_note(r):
            out.append(f"<p class='supply'>{e(supply_note(r))}</p>")
        cc = r.summary["coverage_curve"]
        out.append(curve_svg(cc["minutes"], cc["population_share"], c.minutes))
        cols = columns_for(r)
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for _, h in cols) + "</tr>")
        for rec in town_rows(r).to_dict("records"):
            cells = [_html_cell(k, rec[k]) for k, _ in cols]
            cls = " class='city'" if rec["town_code"] == "441900" else ""
            out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
        out.append("</table></section>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_cell(k: str, v: Any) -> str:
    """Render one cell of a town table (numbers right-aligned, text escaped)."""
    if k.startswith("pass_rate"):
        return f"<td class='n'>{'–' if pd.isna(v) else f'{v:.1%}'}</td>"
    if isinstance(v, float) and pd.isna(v):
        return "<td class='n'>–</td>"
    if k in ("population", "elderly", "supply", "deficit"):
        return f"<td class='n'>{v:,.0f}</td>"
    if k in ("supply_ratio", "access_supply"):
        return f"<td class='n'>{v:.3f}</td>"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"<td class='n'>{v}</td>"
    return f"<td>{e(str(v))}</td>"


def write_report(results: Sequence[CircleResult], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<out_dir>/report.xlsx`` and ``<out_dir>/report.html``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    return write_xlsx(results, d / "report.xlsx"), write_text(report_html(results), d / "report.html")
