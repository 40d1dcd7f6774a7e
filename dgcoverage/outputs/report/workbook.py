"""The report workbook, ``report.xlsx`` (openpyxl), Chinese-first.

An about sheet (说明), a town × circle comparison (镇街对比), the coverage curves of every circle (覆盖曲线, with
charts), and per circle a town sheet (镇街: village counts by status, pass rates, the worst villages and, for
circles with a supply standard, its columns), a village sheet (村社区: every village's status, covered share,
times and supply columns) and, when ``<candidates_dir>/<circle>/candidates.csv`` exists, a candidate-site sheet
(候选点).  Every table sheet has a frozen header row, an autofilter, widths that show the headers, thousands
separators and % formats and a landscape fit-to-width print setup (:func:`dgcoverage.core.io.style_table_sheet`).
Shares are stored cut to the 0.1 % they show (0.899665 as 0.899, shown 89.9 %, never 90.0 % beside 部分覆盖), and
the about sheet says so (:data:`dgcoverage.core.io.SHARE_NOTE`).
Synthetic data is marked on every sheet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.hyperlink import Hyperlink

from ...compute.coverage import bilingual_name
from ...core.io import SHARE_NOTE, save_workbook, sheet_title, style_table_sheet, text_width, xlsx_text
from ...core.xlsx_print import filter_above_last_row, set_a4, set_print
from ..sites import UNIT_SHOW, site_sheet
from .equity import equity_sheet
from .labels import CLASS_BOUNDS, CLASS_COLOURS, SYNTHETIC_MARK, report_title, status_rule, supply_label, supply_note
from .tables import columns_for, compare_table, report_candidates, town_rows

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult

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
#: Number formats by column id in the report sheets (others: :func:`dgcoverage.core.io.style_table_sheet` defaults).
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


def _about_sheet(wb: Workbook, results: Sequence[CircleResult]) -> None:
    ws = wb.active
    ws.title = "说明 About"
    s0 = results[0].summary
    synthetic = any(r.summary.get("synthetic") for r in results)
    ws.append([report_title(results[0].region)])
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
    ws.append([status_rule(results)])
    ws.append(
        [
            "覆盖率 covered share = 村(社区)人口中时限内可达的比例 share of a village's people within the limit; "
            "人口覆盖率 population covered = 镇街人口中时限内可达的比例; 村(社区)达标率 village pass rate = "
            "达标村(社区) / 有数据村(社区)"
        ]
    )
    ws.append([SHARE_NOTE])
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
            shown[c] = shown[c].map(supply_label)
    _append_frame(ws, shown, headers)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)  # the city row
    _style(ws, header_row=3, formats=SHEET_FORMATS)
    _share_classes(ws, 3, ["pop_share"])
    filter_above_last_row(ws, 3)  # the city row stays out of sorting


def _style(ws: Any, header_row: int, formats: dict[str, str]) -> None:
    """:func:`dgcoverage.core.io.style_table_sheet`, then wrap headers wider than their (capped) column."""
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
    set_print(ws, header_row)  # A4; fit to width only where that keeps 8 pt, else pages wide with key columns


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


#: Town-sheet headers of columns without a label in :data:`dgcoverage.compute.coverage.LABELS_ZH` (English id first).
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
    filter_above_last_row(ws, 2)  # the city row stays out of sorting
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


def _candidate_sheet(wb: Workbook, r: CircleResult, cands: tuple[pd.DataFrame, list[str]]) -> None:
    c = r.circle
    synthetic = bool(r.summary.get("synthetic"))
    ws = wb.create_sheet(_circle_sheet_name(wb, c, "候选点"))
    _title_row(ws, _title(c, "候选点 candidate sites (dgcoverage site)", synthetic), synthetic)
    # as candidates.xlsx shows them: Chinese first, units in the headers, statuses in words, readable village lists
    df, formats = site_sheet(cands[0], {}, UNIT_SHOW.get(c.capacity, ""))
    _append_frame(ws, df, list(df.columns))
    _style(ws, header_row=2, formats=formats)


def write_xlsx(results: Sequence[CircleResult], path: str | Path, candidates_dir: str | Path | None = None) -> Path:
    """Write the report workbook.

    Sheets: 说明 About, 镇街对比 compare, 覆盖曲线 curves, 公平性 equity, then per circle ``<name_zh> 镇街`` (towns),
    ``<name_zh> 村社区`` (every village) and, when ``<candidates_dir>/<circle>/candidates.csv`` exists,
    ``<name_zh> 候选点``.  Every text cell is stored as a string cell, never as a formula
    (:func:`dgcoverage.core.io.save_workbook`); sheet names are sanitised and kept to 31 characters
    (:func:`dgcoverage.core.io.sheet_title`).

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
    equity_sheet(wb, results, synthetic, _style)  # the city and the least equal towns per circle
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
    for ws in wb.worksheets:
        if ws.page_setup.paperSize is None:
            set_a4(ws)  # the about and curve sheets: A4 too
    return save_workbook(wb, path)  # every text cell a string cell, never a formula
