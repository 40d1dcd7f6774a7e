"""Town report: ``report.xlsx`` (openpyxl) and ``report.html`` (a printable document with inline SVG).

The workbook, Chinese-first: an about sheet (说明), a town × circle comparison (镇街对比), the coverage
curves of every circle (覆盖曲线, with charts), and per circle a town sheet (镇街: village counts by status,
pass rates, the worst villages and, for circles with a supply standard, its columns), a village sheet
(村社区: every village's status, covered share, times and supply columns) and, when
``<candidates_dir>/<circle>/candidates.csv`` exists, a candidate-site sheet (候选点).  Every table sheet has
a frozen header row, an autofilter, widths that show the headers, thousands separators and % formats and a
landscape fit-to-width print setup (:func:`dgcoverage.io.style_table_sheet`).

The HTML document: contents with links, one section per circle (coverage curve, town table, top candidate
sites), the town × circle comparison (table and four small city maps), and an atlas with one page per
镇街 (its key numbers, one small map per circle of its villages coloured by covered share in graded
classes, and a village table).  Synthetic data is marked on every sheet and every printed page.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.hyperlink import Hyperlink

from .coverage import STATUS_ZH, bilingual_name
from .io import (
    read_output_csv,
    save_workbook,
    sheet_title,
    style_table_sheet,
    text_width,
    write_text,
    xlsx_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from .study import CircleResult

e = html.escape
WORST_N = 3
CITY_CODE = "441900"
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
#: Columns of the village sheets, in order (those a circle's village table has).
VILLAGE_COLUMNS = (
    "code",
    "name",
    "town_code",
    "town_name",
    "type",
    "status_zh",
    "status",
    "covered_share",
    "population",
    "covered_population",
    "median_time_min",
    "p90_time_min",
    "centre_time_min",
    "facilities_inside",
    "unreachable_share",
    "off_network_share",
    "share_outside_raster",
    "access_supply",
    "access_meets_target_share",
    "access_unknown_share",
    "ratio_unit",
    "reason",
)
#: Candidate columns that are identifiers: kept as text in the candidate sheets.
ID_COLUMNS = ("site_id", "node", "node_id", "town_code", "village_code", "code", "facility_id")
#: Number formats by column id in the report sheets (others: :func:`dgcoverage.io.style_table_sheet` defaults).
SHEET_FORMATS = {
    "supply": "#,##0",
    "elderly": "#,##0",
    "deficit": "#,##0",
    "supply_ratio": "0.000",
    "target_ratio": "0.00",
    "access_supply": "0.000",
    "median_time_min": "0.0",
    "p90_time_min": "0.0",
    "centre_time_min": "0.0",
    "snap_m": "#,##0.0",
}
#: Upper bounds of the covered-share classes of the maps (< 30 / 30–60 / 60–90 / ≥ 90 %).
CLASS_BOUNDS = (0.3, 0.6, 0.9)
#: ColorBrewer YlGnBu, 4 classes (colour-blind safe, prints in grey as a ramp).
CLASS_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8")
CLASS_LABELS = ("< 30 %", "30–60 %", "60–90 %", "≥ 90 %")
NO_DATA_COLOUR = "#d9d9d9"
SYNTHETIC_MARK = "合成数据 SYNTHETIC DATA"


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
        eld = sup["elderly"]
        text += f"; 老年人口 people 60+: {eld['basis']} (share {eld['city_share']}) — {eld['source']}"
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
        .apply(
            lambda g: "; ".join(f"{n} {_pct(s, 0)}" for n, s in zip(g["name"], g["covered_share"])),
            include_groups=False,
        )
    )
    t = result.towns.copy()
    t["worst"] = t["town_code"].map(worst).fillna("")
    city = t["town_code"] == CITY_CODE
    t.loc[city, "worst"] = "; ".join(
        f"{n}({tn}) {_pct(s, 0)}"
        for n, tn, s in zip(ok["name"].head(worst_n), ok["town_name"].head(worst_n), ok["covered_share"].head(worst_n))
    )
    return pd.concat([t[~city], t[city]])[[c for c, _ in columns_for(result)]]


def compare_table(results: Sequence[CircleResult]) -> pd.DataFrame:
    """Town × circle comparison: population covered, village pass rate and supply status of every circle.

    Parameters
    ----------
    results
        The circles of one run (same study).

    Returns
    -------
    pandas.DataFrame
        One row per town (by code) and the city row (``441900``) last: ``town_code``, ``town_name``,
        ``population`` (people), then per circle ``<id>.pop_share`` (``pass_rate_population``, 0–1),
        ``<id>.pass_rate`` (``pass_rate_villages``, 0–1) and, for circles with a supply standard,
        ``<id>.supply`` (its ``supply_status``) — the values of each circle's towns table.
    """
    base = results[0].towns[["town_code", "town_name", "population"]].copy()
    for r in results[1:]:  # a town missing from the first circle still gets a row
        extra = r.towns.loc[~r.towns["town_code"].isin(base["town_code"]), ["town_code", "town_name", "population"]]
        base = pd.concat([base, extra], ignore_index=True)
    out = base.set_index("town_code")
    for r in results:
        t = r.towns.set_index("town_code")
        cid = r.circle.id
        out[f"{cid}.pop_share"] = t["pass_rate_population"]
        out[f"{cid}.pass_rate"] = t["pass_rate_villages"]
        if "supply_status" in t.columns:
            out[f"{cid}.supply"] = t["supply_status"]
    out = out.reset_index()
    city = out["town_code"] == CITY_CODE
    return pd.concat([out[~city].sort_values("town_code"), out[city]], ignore_index=True)


# ---------------------------------------------------------------- workbook


def _cell(v: Any) -> Any:
    """Make a value an XLSX cell can hold: missing → empty, numpy scalars → Python, text made XML-safe."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return xlsx_text(v)


def _title(c: Any, what: str, synthetic: bool) -> str:
    return xlsx_text(
        f"{c.name_zh} {what} — {c.name_en} ({c.minutes:g} min)" + (f"  — {SYNTHETIC_MARK}" if synthetic else "")
    )


def _title_row(ws: Any, text: str, synthetic: bool) -> None:
    ws.append([text])
    ws["A1"].font = Font(bold=True, size=12, color="B2182B" if synthetic else "000000")


def _append_frame(ws: Any, df: pd.DataFrame, headers: Sequence[str]) -> None:
    ws.append([xlsx_text(h) for h in headers])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="top")
    for rec in df.itertuples(index=False):
        ws.append([_cell(v) for v in rec])


def _status_rule(results: Sequence[CircleResult]) -> str:
    shares = sorted({r.circle.covered_min_share for r in results})
    rule = " / ".join(f"{s:.0%}" for s in shares)
    return (
        f"达标 covered = 村(社区) ≥ {rule} 的人口在时限内可达 (≥ {rule} of the village's people within the circle's "
        "time limit); 部分覆盖 partial = 有人但不足; 服务盲区 gap = 时限内无人可达 (nobody within the limit); "
        "路网不可达 unreachable = 无法沿路网到达任何设施; 无数据 no data = 无位置或无人口"
    )


def _about_sheet(wb: Workbook, results: Sequence[CircleResult]) -> None:
    ws = wb.active
    ws.title = "说明 About"
    s0 = results[0].summary
    synthetic = any(r.summary.get("synthetic") for r in results)
    ws.append(["东莞公共服务圈覆盖报告 Dongguan public-service circle coverage report"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"synthetic = {str(synthetic).lower()}"])
    if synthetic:
        ws.append([xlsx_text(f"{SYNTHETIC_MARK}: {s0.get('note_zh', '')}")])
        ws.append([xlsx_text(str(s0.get("note", "")))])
        for row in ws.iter_rows(min_row=2, max_row=4):
            for c in row:
                c.font = Font(bold=True, color="B2182B")
    ws.append([])
    ws.append(["服务圈 circles"])
    ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    for r in results:
        c = r.circle
        ws.append(
            [xlsx_text(f"{c.id}: {c.name_zh} {c.minutes:g} min {c.mode} {c.speed_kmh:g} km/h — {c.policy_source}")]
        )
        if supply_note(r):
            ws.append([xlsx_text(f"    {supply_note(r)}")])
    ws.append([])
    ws.append(["状态 status"])
    ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    ws.append([_status_rule(results)])
    ws.append(
        [
            "覆盖率 covered share = 村(社区)人口中时限内可达的比例 share of a village's people within the limit; "
            "人口覆盖率 population covered = 镇街人口中时限内可达的比例; 村(社区)达标率 village pass rate = "
            "达标村(社区) / 有数据村(社区)"
        ]
    )
    ws.append(
        [
            "供给状态 supply status: 达标 pass · 未达标 fail · 待核实 unknown (部分设施容量未知 some facilities' "
            "capacity "
            "is unknown) · 无数据 no data"
        ]
    )
    ws.append([])
    ws.append(["工作表 sheets"])
    ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    ws.column_dimensions["A"].width = 120
    for row in ws.iter_rows():
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")


def _compare_sheet(wb: Workbook, results: Sequence[CircleResult], synthetic: bool) -> None:
    ws = wb.create_sheet(sheet_title("镇街对比 compare", wb.sheetnames))
    ws.append(
        [
            "镇街对比 town × circle comparison: 人口覆盖率 population covered, 村(社区)达标率 village pass rate, "
            "供给状态 supply status" + (f"  — {SYNTHETIC_MARK}" if synthetic else "")
        ]
    )
    ws["A1"].font = Font(bold=True, size=12, color="B2182B" if synthetic else "000000")
    df = compare_table(results)
    group: list[str] = ["", "", ""]
    headers = [bilingual_name("town_code"), bilingual_name("town_name"), bilingual_name("population")]
    for r in results:
        cols = [c for c in df.columns if c.startswith(f"{r.circle.id}.")]
        group += [xlsx_text(f"{r.circle.name_zh} {r.circle.id}")] + [""] * (len(cols) - 1)
        for col in cols:
            kind = col.rsplit(".", 1)[1]
            headers.append(
                {"pop_share": "pop_share 人口覆盖率", "pass_rate": "pass_rate 村(社区)达标率"}.get(
                    kind, "supply 供给状态"
                )
            )
    ws.append(group)
    start = 4
    for r in results:
        n = sum(1 for c in df.columns if c.startswith(f"{r.circle.id}."))
        ws.merge_cells(start_row=2, start_column=start, end_row=2, end_column=start + n - 1)
        cell = ws.cell(row=2, column=start)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
        start += n
    shown = df.copy()
    for c in shown.columns:
        if c.endswith(".supply"):
            shown[c] = shown[c].map(_supply_label)
    _append_frame(ws, shown, headers)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)  # the city row
    _style(ws, header_row=3, formats=SHEET_FORMATS)
    _share_classes(ws, 3, ["pop_share"])


#: Short supply-status labels of the comparison tables (待核实 unknown: some facilities' capacity is unknown).
SUPPLY_SHORT = {"pass": "达标 pass", "fail": "未达标 fail", "unknown": "待核实 unknown", "no_data": "无数据 no data"}


def _style(ws: Any, header_row: int, formats: dict[str, str]) -> None:
    """:func:`dgcoverage.io.style_table_sheet`, then wrap headers wider than their (capped) column."""
    from openpyxl.utils import get_column_letter

    style_table_sheet(ws, header_row=header_row, formats=formats)
    lines = 1
    for cell in ws[header_row]:
        if not isinstance(cell.value, str):
            continue
        width = ws.column_dimensions[get_column_letter(cell.column)].width or 8
        need = text_width(cell.value)
        if need + 1 > width:
            lines = max(lines, math.ceil(need / max(width - 1, 1)))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if lines > 1:
        ws.row_dimensions[header_row].height = 15 * lines


def _share_classes(ws: Any, header_row: int, ids: Sequence[str]) -> None:
    """Colour share columns (by column id) in the map classes with conditional formats (they follow sorting)."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    last = ws.max_row
    if last <= header_row:
        return
    for cell in ws[header_row]:
        if not isinstance(cell.value, str) or cell.value.split(" ")[0] not in ids:
            continue
        col = get_column_letter(cell.column)
        first = f"{col}{header_row + 1}"
        for k in range(len(CLASS_COLOURS) - 1, -1, -1):  # darkest first: the first true rule wins
            low = 0.0 if k == 0 else CLASS_BOUNDS[k - 1]
            fill = PatternFill(fill_type="solid", start_color=CLASS_COLOURS[k][1:], end_color=CLASS_COLOURS[k][1:])
            font = Font(color="FFFFFF") if k == len(CLASS_COLOURS) - 1 else None
            rule = FormulaRule(
                formula=[f"AND(ISNUMBER({first}),{first}>={low})"], stopIfTrue=True, fill=fill, font=font
            )
            ws.conditional_formatting.add(f"{first}:{col}{last}", rule)


def _supply_label(v: Any) -> str:
    if not isinstance(v, str) or not v:
        return ""
    return SUPPLY_SHORT.get(v, v)


def _curve_minutes(results: Sequence[CircleResult]) -> list[float]:
    return sorted({float(m) for r in results for m in r.summary["coverage_curve"]["minutes"]})


def _curves_sheet(wb: Workbook, results: Sequence[CircleResult], synthetic: bool) -> Any:
    ws = wb.create_sheet(sheet_title("覆盖曲线 curves", wb.sheetnames))
    ws.append(
        [
            "覆盖曲线 coverage curves: 时限内人口占比 share of people within t minutes"
            + (f"  — {SYNTHETIC_MARK}" if synthetic else "")
        ]
    )
    ws["A1"].font = Font(bold=True, size=12, color="B2182B" if synthetic else "000000")
    minutes = _curve_minutes(results)
    ws.append(["minutes 分钟"] + [xlsx_text(f"{r.circle.id} {r.circle.name_zh}") for r in results])
    shares = [
        dict(zip(map(float, r.summary["coverage_curve"]["minutes"]), r.summary["coverage_curve"]["population_share"]))
        for r in results
    ]
    for m in minutes:
        ws.append([int(m) if m.is_integer() else m] + [_cell(s.get(m)) for s in shares])
    _style(ws, header_row=2, formats={r.circle.id: "0.0%" for r in results} | {"minutes": "0"})
    ch = _curve_chart(ws, len(minutes), range(2, len(results) + 2), "覆盖曲线 coverage curves")
    ch.width = 24
    ws.add_chart(ch, ws.cell(row=3, column=len(results) + 3).coordinate)
    return ws


def _curve_chart(ws: Any, n: int, columns: Sequence[int] | range, title: str) -> LineChart:
    ch = LineChart()
    ch.title = title
    ch.y_axis.title = "人口占比 share of population"
    ch.x_axis.title = "分钟 minutes"
    ch.y_axis.scaling.min, ch.y_axis.scaling.max = 0, 1
    ch.y_axis.number_format = "0%"
    for j in columns:
        ch.add_data(Reference(ws, min_col=j, min_row=2, max_row=2 + n), titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=1, min_row=3, max_row=2 + n))
    ch.width, ch.height = 18, 9
    return ch


def _circle_sheet_name(wb: Workbook, c: Any, kind: str) -> str:
    """Sheet name ``<name_zh> <kind>``: the circle's name cut so the kind (镇街, 村社区, 候选点) always shows."""
    return sheet_title(f"{str(c.name_zh)[: 30 - len(kind)]} {kind}", wb.sheetnames)


#: Town-sheet headers of columns without a label in :data:`dgcoverage.coverage.LABELS_ZH` (English id first).
_XLSX_HEADERS = {"worst": "worst 覆盖最差的村(社区)(覆盖率)"}


def _town_sheet(wb: Workbook, r: CircleResult, curves: Any, j: int, n_minutes: int) -> None:
    c = r.circle
    synthetic = bool(r.summary.get("synthetic"))
    ws = wb.create_sheet(_circle_sheet_name(wb, c, "镇街"))
    _title_row(ws, _title(c, "镇街 towns", synthetic), synthetic)
    cols = columns_for(r)
    rows = town_rows(r)
    _append_frame(ws, rows, [_XLSX_HEADERS.get(k) or bilingual_name(k) for k, _ in cols])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)  # the city row
    _style(ws, header_row=2, formats=SHEET_FORMATS)
    _share_classes(ws, 2, ["pass_rate_population"])
    below = ws.max_row + 2
    note = supply_note(r)
    if note:
        ws.cell(row=below, column=1, value=xlsx_text(note))
        below += 2
    ch = _curve_chart(curves, n_minutes, [j], f"覆盖曲线 coverage curve — {c.id}")
    ws.add_chart(ch, ws.cell(row=below, column=2).coordinate)


def _village_sheet(wb: Workbook, r: CircleResult) -> None:
    c = r.circle
    synthetic = bool(r.summary.get("synthetic"))
    ws = wb.create_sheet(_circle_sheet_name(wb, c, "村社区"))
    _title_row(ws, _title(c, "村(社区) villages", synthetic), synthetic)
    vt = pd.DataFrame(r.villages.drop(columns="geometry", errors="ignore"))
    cols = [k for k in VILLAGE_COLUMNS if k in vt.columns]
    df = vt[cols].copy()
    for k in ("population", "covered_population"):
        if k in df:
            df[k] = np.rint(pd.to_numeric(df[k], errors="coerce"))
    _append_frame(ws, df, [bilingual_name(k) for k in cols])
    _style(ws, header_row=2, formats=SHEET_FORMATS)
    _share_classes(ws, 2, ["covered_share"])


def _csv_headers(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def report_candidates(candidates_dir: str | Path | None, circle_id: str) -> tuple[pd.DataFrame, list[str]] | None:
    """Read ``<candidates_dir>/<circle_id>/candidates.csv`` for the report: numbers as numbers, ids as text.

    Parameters
    ----------
    candidates_dir
        The ``--out`` folder of ``dgcoverage site`` (``None``: no candidates).
    circle_id
        The circle.

    Returns
    -------
    (pandas.DataFrame, list of str) or None
        The table keyed by English ids and the file's own (bilingual) headers; ``None`` when there is
        no such file or it has no rows.
    """
    if candidates_dir is None:
        return None
    path = Path(candidates_dir) / circle_id / "candidates.csv"
    df = read_output_csv(path)
    if df is None:
        return None
    headers = _csv_headers(path)
    for col in df.columns:
        if col in ID_COLUMNS or col.endswith(("_id", "_code")):
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        if num.notna().sum() == df[col].notna().sum() and num.notna().any():
            df[col] = num
    return df, headers if len(headers) == len(df.columns) else [bilingual_name(c) for c in df.columns]


def _candidate_sheet(wb: Workbook, r: CircleResult, cands: tuple[pd.DataFrame, list[str]]) -> None:
    c = r.circle
    synthetic = bool(r.summary.get("synthetic"))
    ws = wb.create_sheet(_circle_sheet_name(wb, c, "候选点"))
    _title_row(ws, _title(c, "候选点 candidate sites (dgcoverage site)", synthetic), synthetic)
    df, headers = cands
    _append_frame(ws, df, headers)
    _style(ws, header_row=2, formats=SHEET_FORMATS)


def write_xlsx(results: Sequence[CircleResult], path: str | Path, candidates_dir: str | Path | None = None) -> Path:
    """Write the report workbook.

    Sheets: 说明 About, 镇街对比 compare, 覆盖曲线 curves, then per circle ``<name_zh> 镇街`` (towns),
    ``<name_zh> 村社区`` (every village) and, when ``<candidates_dir>/<circle>/candidates.csv`` exists,
    ``<name_zh> 候选点``.  Every text cell is stored as a string cell, never as a formula
    (:func:`dgcoverage.io.save_workbook`); sheet names are sanitised and kept to 31 characters
    (:func:`dgcoverage.io.sheet_title`).

    Parameters
    ----------
    results
        The circles of one run.
    path
        Output ``.xlsx`` file.
    candidates_dir
        Folder holding ``<circle>/candidates.csv`` (``None``: no candidate sheets).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    wb = Workbook()
    synthetic = any(r.summary.get("synthetic") for r in results)
    _about_sheet(wb, results)
    _compare_sheet(wb, results, synthetic)
    curves = _curves_sheet(wb, results, synthetic)
    n_minutes = len(_curve_minutes(results))
    for j, r in enumerate(results, start=2):
        _town_sheet(wb, r, curves, j, n_minutes)
        _village_sheet(wb, r)
        cands = report_candidates(candidates_dir, r.circle.id)
        if cands is not None:
            _candidate_sheet(wb, r, cands)
    about = wb.worksheets[0]
    for name in wb.sheetnames[1:]:
        about.append([xlsx_text(name)])
        cell = about.cell(row=about.max_row, column=1)
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location="'{}'!A1".format(name.replace("'", "''")))
        cell.font = Font(color="0563C1", underline="single")
    return save_workbook(wb, path)  # every text cell a string cell, never a formula


# ---------------------------------------------------------------- HTML helpers


def _num(v: Any) -> float | None:
    """``v`` as a finite float, else ``None``."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _pct(v: Any, digits: int = 1) -> str:
    """Format a share as a percentage cut (never rounded up) to ``digits``: 89.96 % is "89.9 %", below the rule."""
    f = _num(v)
    if f is None:
        return "–"
    unit = 10.0 ** (digits + 2)
    if 0 < f < 1 / unit:
        return f"< {1 / unit:.{digits}%}"
    return f"{math.floor(f * unit + 1e-6) / unit:.{digits}%}"


def _int(v: Any) -> str:
    f = _num(v)
    return "–" if f is None else f"{f:,.0f}"


def _txt(v: Any) -> str:
    """Escaped text; missing values (None, NaN) become empty."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return e(str(v))


def share_class(share: Any) -> int:
    """Class of a covered share: 0 (< 30 %), 1 (30–60 %), 2 (60–90 %), 3 (≥ 90 %); -1 when missing."""
    f = _num(share)
    if f is None:
        return -1
    return int(np.searchsorted(CLASS_BOUNDS, f + 1e-12, side="right"))


def curve_svg(minutes: Sequence[float], share: Sequence[float], limit_min: float, w: int = 520, h: int = 240) -> str:
    """Inline SVG line chart of the coverage curve, with the circle's limit marked."""
    ml, mr, mt, mb = 44, 12, 10, 34
    xmax = max(minutes) or 1
    px = lambda m: ml + (w - ml - mr) * m / xmax  # noqa: E731
    py = lambda s: mt + (h - mt - mb) * (1 - s)  # noqa: E731
    pts = " ".join(f"{px(m):.1f},{py(s):.1f}" for m, s in zip(minutes, share) if _num(s) is not None)
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
        f"<svg class='curve' xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' "
        "font-size='11' "
        f"role='img' aria-label='coverage curve'>{grid}{xt}{lim}"
        f"<polyline fill='none' stroke='#2166ac' stroke-width='2' points='{pts}'/>"
        f"<text x='{(w + ml) / 2}' y='{h - 4}' text-anchor='middle'>分钟 minutes</text></svg>"
    )


# ---------------------------------------------------------------- small SVG maps


@dataclass
class _Frame:
    """Village shapes of one map frame, projected to SVG units and simplified."""

    width: int
    height: int
    codes: list[str]
    paths: list[str]
    labels: list[tuple[float, float]]
    outline: str


def _ring_d(coords: np.ndarray) -> str:
    xy = np.rint(coords).astype(np.int64)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    xy = xy[keep]
    if len(xy) < 3:
        return ""
    flat = " ".join(f"{x} {y}" for x, y in xy[:-1])
    return f"M{flat}Z"


def _geom_d(geom: Any) -> str:
    """SVG path data of a (multi)polygon already in SVG units (rings closed, integer coordinates)."""
    if geom is None or geom.is_empty:
        return ""
    parts = getattr(geom, "geoms", [geom])
    out = []
    for poly in parts:
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        out.append(_ring_d(np.asarray(poly.exterior.coords)[:, :2]))
        out.extend(_ring_d(np.asarray(r.coords)[:, :2]) for r in poly.interiors)
    return "".join(out)


def _projector(bounds: Sequence[float], width: int, height: int, pad: int = 6) -> tuple[Callable[[Any], Any], int, int]:
    """Return a lon/lat → SVG transform (longitudes scaled by cos(latitude)) and the frame's width and height."""
    x0, y0, x1, y1 = bounds
    k = math.cos(math.radians((y0 + y1) / 2))
    dx, dy = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    s = min((width - 2 * pad) / dx, (height - 2 * pad) / dy)
    w, h = int(math.ceil(dx * s + 2 * pad)), int(math.ceil(dy * s + 2 * pad))

    def fn(xy: Any) -> Any:
        return np.column_stack([pad + (xy[:, 0] - x0) * k * s, pad + (y1 - xy[:, 1]) * s])

    return fn, w, h


def _frame(villages: Any, width: int, height: int, tolerance: float = 0.8) -> _Frame:
    """Project and simplify the villages of a map frame (GeoDataFrame in EPSG:4326)."""
    geoms = villages.geometry.to_numpy()
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes = villages["code"].astype(str).tolist()
    if not has.any():
        return _Frame(width, height // 3, codes, [""] * len(codes), [(0.0, 0.0)] * len(codes), "")
    fn, w, h = _projector(shapely.total_bounds(geoms[has]), width, height)
    proj = np.full(len(geoms), None, dtype=object)
    proj[has] = shapely.transform(geoms[has], fn)  # one affine map over every vertex
    simple = shapely.simplify(proj, tolerance, preserve_topology=True)
    spots = shapely.point_on_surface(proj)
    labels = [(float(x), float(y)) for x, y in zip(shapely.get_x(spots), shapely.get_y(spots))]
    outline_geom = shapely.simplify(_without_slivers(shapely.union_all(shapely.make_valid(proj[has]))), tolerance)
    return _Frame(w, h, codes, [_geom_d(g) for g in simple], labels, _geom_d(outline_geom))


def _without_slivers(geom: Any, frac: float = 0.01) -> Any:
    """Drop the hairline holes a union of village areas keeps where neighbours leave gaps (holes < ``frac``)."""
    if geom is None or geom.is_empty:
        return geom
    polys = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon":
            continue
        outer = shapely.Polygon(poly.exterior)
        holes = [r for r in poly.interiors if shapely.Polygon(r).area > frac * outer.area]
        polys.append(shapely.Polygon(poly.exterior, holes))
    return shapely.MultiPolygon(polys) if len(polys) != 1 else polys[0]


def _fill(share: Any, status: str) -> str:
    """CSS class of a village's fill: covered-share class, hatched gap/unreachable, grey no data."""
    if status == "gap":
        return "hg"
    if status == "unreachable":
        return "hu"
    k = share_class(share)
    return "nd" if k < 0 or status == "no_data" else f"c{k}"


def village_map_svg(
    frame: _Frame,
    villages: pd.DataFrame,
    numbers: bool = True,
    titles: bool = True,
    label: str = "",
) -> str:
    """One small map: the frame's villages coloured by covered share, with numbers keyed to the village table.

    Parameters
    ----------
    frame
        Shapes from :func:`_frame` (same row order as ``villages``).
    villages
        The circle's village rows (``name``, ``covered_share``, ``status``, ``status_zh``).
    numbers
        Write each village's row number (1…) on it.
    titles
        Give each village a hover title (name, share, status).
    label
        The map's accessible name.

    Returns
    -------
    str
        An ``<svg>`` element (every name escaped).
    """
    body = []
    names = villages["name"].tolist()
    shares = villages["covered_share"].tolist()
    statuses = villages["status"].astype(str).tolist()
    zh = villages["status_zh"].tolist() if "status_zh" in villages else statuses
    for i, d in enumerate(frame.paths):
        if not d:
            continue
        tip = f"<title>{_txt(names[i])} {_pct(shares[i], 0)} {_txt(zh[i])}</title>" if titles else ""
        body.append(f"<path class='{_fill(shares[i], statuses[i])}' d='{d}'>{tip}</path>")
    if frame.outline:
        body.append(f"<path class='ol' d='{frame.outline}'/>")
    if numbers:
        for i, (x, y) in enumerate(frame.labels):
            if frame.paths[i]:
                dark = " class='w'" if _fill(shares[i], statuses[i]) == "c3" else ""
                body.append(f"<text x='{x:.0f}' y='{y + 3:.0f}'{dark}>{i + 1}</text>")
    return (
        f"<svg class='vmap' viewBox='0 0 {frame.width} {frame.height}' xmlns='http://www.w3.org/2000/svg' "
        f"role='img' aria-label='{e(label)}'>{''.join(body)}</svg>"
    )


_PATTERNS = (
    "<svg class='defs' width='0' height='0' aria-hidden='true'><defs>"
    f"<pattern id='pg' width='6' height='6' patternUnits='userSpaceOnUse' patternTransform='rotate(45)'>"
    f"<rect width='6' height='6' fill='{CLASS_COLOURS[0]}'/><line x1='0' y1='0' x2='0' y2='6' stroke='#444' "
    "stroke-width='2'/></pattern>"
    "<pattern id='pu' width='6' height='6' patternUnits='userSpaceOnUse'>"
    "<rect width='6' height='6' fill='#f0f0f0'/><path d='M0 0L6 6M6 0L0 6' stroke='#444' stroke-width='1'/>"
    "</pattern></defs></svg>"
)


def _swatch(cls: str) -> str:
    return (
        f"<svg class='sw' viewBox='0 0 14 14' width='14' height='14'><rect class='{cls}' width='14' height='14'/></svg>"
    )


def legend_html(results: Sequence[CircleResult]) -> str:
    """Legend of the small maps: the share classes, the status marks and the 达标 rule."""
    items = [f"<span>{_swatch(f'c{k}')} {e(lab)}</span>" for k, lab in enumerate(CLASS_LABELS)]
    items += [
        f"<span>{_swatch('hg')} 服务盲区 gap (nobody within the limit)</span>",
        f"<span>{_swatch('hu')} 路网不可达 unreachable</span>",
        f"<span>{_swatch('nd')} 无数据 no data</span>",
    ]
    return (
        "<div class='legend'><b>村(社区)覆盖率 share of a village's people within the limit:</b> "
        + " ".join(items)
        + f"<br><small>{e(_status_rule(results))}</small></div>"
    )


# ---------------------------------------------------------------- HTML document

_CSS = """
body{font:13px/1.45 'Microsoft YaHei','PingFang SC','Noto Sans CJK SC',sans-serif;margin:0 auto;padding:0 18px;
max-width:1180px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin:18px 0 6px}h3{font-size:14px;margin:10px 0 4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:1px 5px}
th{background:#f0f0f0;font-weight:600}td.n{text-align:right;white-space:nowrap}tr.city{font-weight:bold}
.syn{color:#b2182b;font-weight:bold}
.banner{position:sticky;top:0;background:#fff5f0;border-bottom:2px solid #b2182b;color:#b2182b;font-weight:bold;
padding:4px 8px;z-index:5}
nav.toc a{margin-right:8px;white-space:nowrap}nav.toc ol{margin:4px 0}
.c0{fill:#ffffcc;background:#ffffcc}.c1{fill:#a1dab4;background:#a1dab4}.c2{fill:#41b6c4;background:#41b6c4}
.c3{fill:#225ea8;background:#225ea8;color:#fff}.nd{fill:#d9d9d9;background:#d9d9d9}
.hg{fill:url(#pg);background:repeating-linear-gradient(45deg,#ffffcc 0 3px,#444 3px 4px)}
.hu{fill:url(#pu);background:repeating-linear-gradient(45deg,#f0f0f0 0 3px,#444 3px 4px),#f0f0f0}
svg.defs{position:absolute;width:0;height:0}
svg.vmap{width:100%;height:auto;max-height:420px;display:block;background:#fff}
svg.vmap path{stroke:#777;stroke-width:.5;stroke-linejoin:round;fill-rule:evenodd}
svg.vmap path.ol{fill:none;stroke:#111;stroke-width:1.4}
svg.vmap text{font-size:9px;text-anchor:middle;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:2px}
svg.vmap text.w{fill:#fff;stroke:#225ea8}
svg.sw{vertical-align:-2px;border:1px solid #777}
.legend{margin:6px 0;font-size:12px}.legend span{margin-right:10px;white-space:nowrap}
.multiples{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}
.multiples figure,.tmaps figure{margin:0}figcaption{font-size:12px;font-weight:600}
.town{border-top:3px solid #333;margin-top:24px}
.tgrid{display:grid;grid-template-columns:1.05fr 1fr;gap:12px;align-items:start}
.tmaps{display:grid;grid-template-columns:1fr 1fr;gap:6px}
.town table{font-size:11.5px}.town td,.town th{padding:0 4px}
td.c3 b,td.c3{color:#fff}table.key td:first-child,td.t{white-space:nowrap}td.w{min-width:18em}.wide{overflow-x:auto}
.top{font-size:11px;font-weight:normal;margin-left:8px}
@page{size:A4 landscape;margin:11mm 10mm 12mm 10mm;
@bottom-right{content:counter(page) " / " counter(pages);font-size:9px;color:#555}}
@media print{
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{max-width:none;padding:0;font-size:10px}
h2{margin:0 0 4px}
.banner{position:static}
.town,.atlas-intro,section.circle,#compare{break-before:page;border-top:none;margin-top:0}
tr,figure{break-inside:avoid}thead{display:table-header-group}
section.circle table{font-size:8.5px}svg.curve{width:430px;height:198px}
.town table{font-size:9.5px}.town td,.town th{line-height:1.25}
svg.vmap{height:268px}.legend{font-size:9px;margin:2px 0}
a{color:inherit;text-decoration:none}.top,nav .maplinks{display:none}.wide{overflow:visible}
}
"""

_SYN_PAGE = (
    "@page{@top-center{content:'合成数据 SYNTHETIC DATA — 演示用，非真实结果 demo only, not real results';"
    "color:#b2182b;font-weight:bold;font-size:10px}}"
)


def _href(maps_href: str | None, page: str) -> str | None:
    if maps_href is None:
        return None
    base = maps_href.rstrip("/")
    return quote(f"{base}/{page}" if base else page, safe="/:.~-_#")


def _circle_section(r: CircleResult, maps_href: str | None, candidates_dir: str | Path | None) -> list[str]:
    c = r.circle
    res = r.summary["results"]
    syn = " <span class='syn'>合成数据 SYNTHETIC</span>" if r.summary.get("synthetic") else ""
    out = [
        f"<section class='circle' id='{e(c.id)}'><h2>{e(c.name_zh)} {e(c.name_en)} "
        f"<small>({c.minutes:g} min, {e(c.mode)} {c.speed_kmh:g} km/h)</small>{syn}"
        "<a class='top' href='#contents'>↑ 目录 contents</a></h2>"
    ]
    link = _href(maps_href, f"{c.id}.html")
    out.append(
        f"<p>{e(str(c.policy_source))}. 人口覆盖率 population covered {_pct(res.get('covered_share'))}; "
        f"村(社区)达标率 village pass rate {_pct(res.get('village_pass_rate'))}."
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
        cls = " class='city'" if rec["town_code"] == CITY_CODE else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.extend(_candidates_html(report_candidates(candidates_dir, c.id)))
    out.append("</section>")
    return out


def _candidates_html(cands: tuple[pd.DataFrame, list[str]] | None, top: int = 10) -> list[str]:
    if cands is None:
        return []
    df = cands[0].head(top)
    cols = [
        ("rank", "排名 rank"),
        ("name", "名称 name"),
        ("town_name", "镇街 town"),
        ("new_population", "新增覆盖人口 newly covered"),
        ("cum_covered_share", "累计覆盖率 cumulative covered"),
        ("villages_reached_names", "惠及村(社区) villages served"),
    ]
    cols = [(k, h) for k, h in cols if k in df.columns]
    out = [
        f"<h3>候选点 candidate sites (dgcoverage site, first {len(df)})</h3><table><thead><tr>"
        + "".join(f"<th>{e(h)}</th>" for _, h in cols)
        + "</tr></thead><tbody>"
    ]
    for rec in df.to_dict("records"):
        name = rec.get("name")
        if not _txt(name):
            name = f"{_txt(rec.get('town_name'))} #{_int(rec.get('rank'))}"
            rec["name"] = html.unescape(name)
        cells = []
        for k, _ in cols:
            v = rec.get(k)
            if k in ("new_population", "rank"):
                cells.append(f"<td class='n'>{_int(v)}</td>")
            elif k == "cum_covered_share":
                cells.append(f"<td class='n'>{_pct(v)}</td>")
            else:
                cells.append(f"<td>{_txt(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def _compare_cell(v: Any, kind: str) -> str:
    if kind == "supply":
        return f"<td>{_txt(_supply_label(v)) or '–'}</td>"
    k = share_class(v)
    cls = f" c{k}" if k >= 0 and kind == "pop_share" else ""
    return f"<td class='n{cls}'>{_pct(v)}</td>"


def _compare_section(results: Sequence[CircleResult], city: _Frame | None) -> list[str]:
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
        is_city = code == CITY_CODE
        name = _txt(rec["town_name"]) if is_city else f"<a href='#town-{e(code)}'>{_txt(rec['town_name'])}</a>"
        cells = "".join(_compare_cell(rec[c], c.rsplit(".", 1)[1]) for c in circle_cols)
        out.append(
            f"<tr{' class=city' if is_city else ''}><td>{name}</td><td class='n'>{_int(rec['population'])}</td>"
            f"{cells}</tr>"
        )
    out.append("</tbody></table>")
    out.extend(_town_multiples(results))
    if city is not None:
        out.append("<h3>村(社区)覆盖率 the city, village by village</h3><div class='multiples'>")
        for r in results:
            res = r.summary["results"]
            svg = village_map_svg(city, r.villages, numbers=False, titles=False, label=f"{r.circle.id} city map")
            out.append(
                f"<figure><figcaption>{e(r.circle.name_zh)} — {_pct(res.get('covered_share'))}</figcaption>"
                f"{svg}</figure>"
            )
        out.append("</div>")
        out.append(legend_html(results))
    out.append("</section>")
    return out


def _town_multiples(results: Sequence[CircleResult]) -> list[str]:
    """Four small maps of the towns coloured by population covered (one per circle): the comparison at a glance."""
    import geopandas as gpd

    v = results[0].villages
    geoms = v.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes = v["town_code"].astype(str).to_numpy()
    towns = sorted(set(codes[ok]))
    if not towns:
        return []
    shapes = [_without_slivers(shapely.union_all(shapely.make_valid(geoms[ok & (codes == t)]))) for t in towns]
    frame = _frame(gpd.GeoDataFrame({"code": towns}, geometry=shapes, crs=v.crs), 300, 260, tolerance=0.6)
    out = ["<h3>镇街人口覆盖率 towns by population covered</h3><div class='multiples'>"]
    for r in results:
        by = {str(t["town_code"]): t for t in r.towns.to_dict("records")}
        share = [_num(by.get(t, {}).get("pass_rate_population")) for t in towns]
        light = pd.DataFrame(
            {
                "name": [str(by.get(t, {}).get("town_name", t)) for t in towns],
                "covered_share": [np.nan if x is None else x for x in share],
                "status": ["no_data" if x is None else "partial" for x in share],
                "status_zh": ["" for _ in towns],
            }
        )
        svg = village_map_svg(frame, light, numbers=False, label=f"{r.circle.id} towns")
        res = r.summary["results"]
        out.append(
            f"<figure><figcaption>{e(r.circle.name_zh)} — {_pct(res.get('covered_share'))}</figcaption>{svg}</figure>"
        )
    out.append("</div>")
    return out


@dataclass
class _View:
    """What the atlas reads of one circle: light village columns (positional rows) and town rows by code."""

    result: CircleResult
    villages: pd.DataFrame
    towns: dict[str, dict[str, Any]]


def _views(results: Sequence[CircleResult]) -> list[_View]:
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
            f"<td class='n'>{_int(rec.get(f'villages_{s}'))}</td>"
            for s in ("covered", "partial", "gap", "unreachable", "no_data")
        )
        sup = _supply_label(rec.get("supply_status"))
        ratio, target = _num(rec.get("supply_ratio")), _num(rec.get("target_ratio"))
        if sup and ratio is not None and target is not None:
            sup += f" ({ratio:.3g} / {target:g})"
        k = share_class(rec.get("pass_rate_population"))
        rows.append(
            f"<tr><td>{e(view.result.circle.name_zh)}</td><td class='n{f' c{k}' if k >= 0 else ''}'>"
            f"{_pct(rec.get('pass_rate_population'))}</td><td class='n'>{_pct(rec.get('pass_rate_villages'))}</td>"
            f"{counts}<td>{e(sup) or '–'}</td></tr>"
        )
    return f"<table class='key'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _village_cell(share: Any, status: str) -> str:
    cls = _fill(share, status)
    if status == "no_data":
        return "<td class='n nd'>–</td>"
    if status == "unreachable":
        return f"<td class='n {cls}'>不可达</td>"
    text = _pct(share, 0) + (" 盲区" if status == "gap" else "")
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
            f"<tr><td class='n'>{i}</td><td>{_txt(names[pos])}</td><td class='n'>{_int(pops[pos])}</td>{cells}</tr>"
        )
    return f"<table class='vil'><thead>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _town_section(
    views: Sequence[_View], geo: Any, town: tuple[str, str, np.ndarray], synthetic: bool, maps_href: str | None
) -> str:
    code, name, rows = town
    frame = _frame(geo.iloc[rows], 480, 360)
    t0 = views[0].towns.get(code, {})
    figs = []
    for view in views:
        c = view.result.circle
        share = _pct(view.towns.get(code, {}).get("pass_rate_population"))
        svg = village_map_svg(frame, view.villages.iloc[rows], label=f"{name} {c.id}")
        link = _href(maps_href, f"{c.id}.html")
        more = f" <a class='top' href='{e(link)}'>地图 map ›</a>" if link else ""
        figs.append(f"<figure><figcaption>{e(c.name_zh)} {c.minutes:g} min — {share}{more}</figcaption>{svg}</figure>")
    syn = " <span class='syn'>合成数据 SYNTHETIC</span>" if synthetic else ""
    results = [view.result for view in views]
    return (
        f"<section class='town' id='town-{e(code)}'><h2>{e(name)} <small>{e(code)} · 人口 population "
        f"{_int(t0.get('population'))} · 村(社区) {len(rows)}</small>{syn}"
        "<a class='top' href='#atlas'>↑ 图集 atlas</a></h2>"
        f"<div class='tgrid'><div><div class='tmaps'>{''.join(figs)}</div>{legend_html(results)}</div>"
        f"<div>{_town_key_table(views, code)}{_town_village_table(views, rows)}</div></div></section>"
    )


def _towns_in_order(results: Sequence[CircleResult]) -> list[tuple[str, str, np.ndarray]]:
    """Towns present among the villages, by town code: (code, name, village row positions sorted by code)."""
    v = results[0].villages
    codes = v["town_code"].astype(str).to_numpy()
    order = np.lexsort((v["code"].astype(str).to_numpy(), codes))
    out = []
    for code in sorted(set(codes)):
        pos = order[codes[order] == code]
        out.append((code, str(v["town_name"].iloc[pos[0]]), pos))
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
            f"<td class='n{f' c{k}' if k >= 0 else ''}'>{_pct(res.get('covered_share'))}</td>"
            f"<td class='n'>{_int(res.get('covered_population'))}</td>"
            f"<td class='n'>{_pct(res.get('village_pass_rate'))}</td>"
            + "".join(f"<td class='n'>{_int(by.get(s))}</td>" for s in STATUS_ZH)
            + "</tr>"
        )
    return f"<h2>全市 the city</h2><table class='city'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _contents(
    results: Sequence[CircleResult], towns: Sequence[tuple[str, str, np.ndarray]], maps_href: str | None
) -> str:
    items = [f"<li><a href='#{e(r.circle.id)}'>{e(r.circle.name_zh)} {e(r.circle.name_en)}</a></li>" for r in results]
    items.append("<li><a href='#compare'>镇街对比 towns × circles</a></li>")
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
            + " · ".join(f"<a href='{e(_href(maps_href, p) or '')}'>{e(t)}</a>" for p, t in pages)
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
    towns = _towns_in_order(results)
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        "<title>东莞公共服务圈覆盖报告 coverage report</title><style>",
        _CSS,
        _SYN_PAGE if synthetic else "",
        "</style></head><body>",
        _PATTERNS,
    ]
    if synthetic:
        out.append(
            f"<div class='banner' id='banner'>⚠ {SYNTHETIC_MARK}: {_txt(s0.get('note_zh', ''))} "
            f"{_txt(s0.get('note', ''))}</div>"
        )
    out.append("<h1>东莞公共服务圈覆盖报告 Dongguan public-service circle coverage report</h1>")
    out.append(f"<p id='synthetic' data-synthetic='{str(synthetic).lower()}'>synthetic = {str(synthetic).lower()}</p>")
    out.append("<p>状态 status: " + " · ".join(f"{STATUS_ZH[k]} {k}" for k in STATUS_ZH) + "</p>")
    out.append(f"<p><small>{e(_status_rule(results))}</small></p>")
    out.append(_city_table(results))
    out.append(_contents(results, towns, maps_href))
    for r in results:
        out.extend(_circle_section(r, maps_href, candidates_dir))
    v0 = results[0].villages
    city = _frame(v0, 300, 260, tolerance=0.6) if len(v0) else None
    out.extend(_compare_section(results, city))
    out.append(
        "<section class='atlas-intro' id='atlas'><h2>镇街图集 town atlas</h2><p>一页一个镇街 one page per town: "
        "每个服务圈一张小图，图上数字对应右侧村(社区)表 (one small map per circle; the numbers key the village "
        "table). 镇街 towns: "
        + " · ".join(f"<a href='#town-{e(c)}'>{e(n)}</a>" for c, n, _ in towns)
        + f"</p>{legend_html(results)}</section>"
    )
    views = _views(results)
    for town in towns:
        out.append(_town_section(views, results[0].villages, town, synthetic, maps_href))
    out.append("</body></html>")
    return "\n".join(out)


def _html_cell(k: str, v: Any) -> str:
    """Render one cell of a town table (numbers right-aligned, text escaped, missing values as –)."""
    if k.startswith("pass_rate"):
        return f"<td class='n'>{_pct(v)}</td>"
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "<td class='n'>–</td>"
    if k in ("population", "elderly", "supply", "deficit"):
        return f"<td class='n'>{_int(v)}</td>"
    if k in ("supply_ratio", "access_supply"):
        return f"<td class='n'>{v:.3f}</td>"
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return f"<td class='n'>{v}</td>"
    if k == "supply_status_zh":  # 待核实(部分设施容量未知) → 待核实: the legend explains it
        return f"<td class='t'>{_txt(str(v).split('(')[0])}</td>"
    cls = {"worst": " class='w'", "town_name": " class='t'"}.get(k, "")
    return f"<td{cls}>{_txt(v)}</td>"


def write_report(
    results: Sequence[CircleResult],
    out_dir: str | Path,
    maps_href: str | None = None,
    candidates_dir: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/report.xlsx`` and ``<out_dir>/report.html``.

    Parameters
    ----------
    results
        The circles of one run.
    out_dir
        Output folder.
    maps_href
        Relative href from ``out_dir`` to the maps folder (``None``: the report links to no maps).
    candidates_dir
        Folder holding ``<circle>/candidates.csv`` from ``dgcoverage site`` (default: ``out_dir``).

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The workbook and the HTML document.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    cdir = d if candidates_dir is None else Path(candidates_dir)
    return (
        write_xlsx(results, d / "report.xlsx", candidates_dir=cdir),
        write_html(results, d / "report.html", maps_href=maps_href, candidates_dir=cdir),
    )


def write_html(
    results: Sequence[CircleResult],
    path: str | Path,
    maps_href: str | None = None,
    candidates_dir: str | Path | None = None,
) -> Path:
    """Write the report document (:func:`report_html`) to ``path`` atomically; see :func:`write_report`."""
    return write_text(report_html(results, maps_href=maps_href, candidates_dir=candidates_dir), path)
