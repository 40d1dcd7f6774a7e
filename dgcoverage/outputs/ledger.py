"""A scenario's ledger: ``changes.csv`` (villages), ``changes_towns.csv`` (towns, city), ``scenario.json``, xlsx.

The workbook ``changes.xlsx`` has the sheets ``变化 村(社区) villages``, ``变化 镇街 towns`` and ``说明 about``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compute.coverage import LABELS_ZH, STATUS_ZH, table_for_output
from ..compute.supply import SUPPLY_STATUS_ZH
from ..core.io import (
    SHARE_NOTE,
    atomic_path,
    cut_shares,
    guard_workbook,
    is_share_column,
    style_table_sheet,
    write_csv,
    write_json,
    xlsx_frame,
)
from ..inputs.embedded import SYNTHETIC_NOTE_ZH

#: Chinese labels of the ledger's columns (``_before``/``_after`` take the label of their measure).
LEDGER_ZH = {
    "change": "变化",
    "change_zh": "变化(中文)",
    "covered_population_change": "覆盖人口变化",
    "villages_newly_covered": "新增达标村(社区)数",
    "villages_no_longer_covered": "不再达标村(社区)数",
    "villages_covered": "达标村(社区)数",
    "elderly_covered": "限时内老年人口",
    "elderly_covered_change": "限时内老年人口变化",
}
#: Integer people/count columns of the ledger (rounded once when written).
_PEOPLE = ("covered_population", "villages", "elderly_covered", "population")
WHEN_ZH = {"before": "现状", "after": "情景"}
#: The workbook's sheets.
SHEET_VILLAGES, SHEET_TOWNS, SHEET_ABOUT = "变化 村(社区) villages", "变化 镇街 towns", "说明 about"
#: The kinds of change as the workbook and the page show them (Chinese first).
CHANGE_SHOW = {
    "newly_covered": "新增达标 newly covered",
    "improved": "改善 improved",
    "unchanged": "不变 unchanged",
    "worse": "变差 worse",
    "no_longer_covered": "不再达标 no longer covered",
}
#: What the ledger's columns mean (the workbook's 说明 sheet).
LEDGER_NOTES = {
    "status": "达标状态：现状 (before) 与情景 (after)。Village status before and after the edits.",
    "covered_share": (
        "限时内可达人口占比（截断，不四舍五入）。Share of the people within the limit (cut, never rounded up)."
    ),
    "covered_population": "限时内可达人口（人）。People within the limit.",
    "covered_population_change": "情景 − 现状（人）。After minus before, people.",
    "change": "新增达标 / 改善 / 变差 / 不再达标；只列有变化的村(社区)。Only villages that change are listed.",
    "villages_newly_covered": "由未达标变为达标的村(社区)数。Villages that become covered.",
    "villages_no_longer_covered": "由达标变为未达标的村(社区)数。Villages that are no longer covered.",
    "elderly_covered": (
        "限时内老年人口（60岁及以上）：限时内人口 × 所在镇街老年人口占比（老年人口栅格或设定）。"
        "Older people (60+) within the limit: people within the limit x their town's share aged 60+."
    ),
    "access_supply": (
        "可达供给(2SFCA)：有供给标准的服务圈，现状与情景各算一次；容量变化只改变此项与供给比。"
        "Access-weighted supply (2SFCA) before and after; a capacity edit changes it and the supply ratio only."
    ),
    "supply_status": "镇街供给状态（达标/未达标/待核实/无数据）现状与情景。Town supply status before and after.",
}


def ledger_header(column: str) -> str:
    """``"id 中文"`` header of a ledger column, e.g. ``status_after 状态(情景)``."""
    for when, zh in WHEN_ZH.items():
        if column.endswith(f"_{when}"):
            base = column[: -len(when) - 1]
            label = LEDGER_ZH.get(base) or LABELS_ZH.get(base, base)
            return f"{column} {label}({zh})"
    label = LEDGER_ZH.get(column) or LABELS_ZH.get(column)
    return f"{column} {label}" if label else column


def _prepared(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    out, decimals = table_for_output(table)
    for c in [c for c in out.columns if c.startswith(_PEOPLE[:3])]:
        if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = pd.array(np.rint(out[c].to_numpy(dtype=float)), dtype="Float64").astype("Int64")
            decimals.pop(c, None)
    for c, n in decimals.items():
        if is_share_column(c):
            out[c] = cut_shares(out[c].to_numpy(dtype=float, na_value=np.nan), n)
    for c in ("status_before", "status_after"):
        if c in out:
            out.insert(out.columns.get_loc(c) + 1, c.replace("status_", "status_zh_"), out[c].map(STATUS_ZH))
    for c in ("supply_status_before", "supply_status_after"):
        if c in out:
            zh = out[c].map(SUPPLY_STATUS_ZH)
            out.insert(out.columns.get_loc(c) + 1, c.replace("status_", "status_zh_"), zh)
    return out.rename(columns=ledger_header), {ledger_header(c): n for c, n in decimals.items()}


def write_ledger(villages: pd.DataFrame, towns: pd.DataFrame, summary: dict[str, Any], circle_dir: str | Path) -> Path:
    """Write a scenario's ``changes.csv``, ``changes_towns.csv`` and ``scenario.json`` into ``circle_dir``.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    d = Path(circle_dir)
    d.mkdir(parents=True, exist_ok=True)
    for name, table in (("changes.csv", villages), ("changes_towns.csv", towns)):
        out, decimals = _prepared(table)
        write_csv(out, d / name, decimals=decimals)
    write_json({k: v for k, v in summary.items() if k != "seconds"}, d / "scenario.json")
    write_ledger_workbook(villages, towns, summary, d / "changes.xlsx")
    return d


def _zh_first(header: str) -> str:
    """``"status_before 状态(现状)"`` -> ``"状态(现状) status_before"`` (a header with no Chinese stays)."""
    cid, _, zh = header.partition(" ")
    return f"{zh} {cid}" if zh else cid


def _sheet(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the ledger as the workbook shows it: words for codes, shares cut to 0.1 %, Chinese-first headers."""
    out = table.copy()
    for c in [c for c in out.columns if c.startswith("status_")]:
        out[c] = out[c].map(lambda v: f"{STATUS_ZH.get(v, v)} {v}" if isinstance(v, str) else v)
    for c in [c for c in out.columns if c.startswith("supply_status_")]:
        out[c] = out[c].map(lambda v: f"{SUPPLY_STATUS_ZH.get(v, v)} {v}" if isinstance(v, str) else v)
    if "change" in out:
        out["change"] = out["change"].map(lambda v: CHANGE_SHOW.get(v, v))
        out = out.drop(columns=["change_zh"], errors="ignore")
    if "synthetic" in out:
        out["synthetic"] = out["synthetic"].map(lambda v: "是 yes" if bool(v) else "否 no")
    formats: dict[str, str] = {}
    for c in list(out.columns):
        if is_share_column(c):
            out[c] = cut_shares(pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float), 3)
        elif c.startswith(_PEOPLE):
            out[c] = pd.array(np.rint(pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float)), dtype="Float64")
            out[c] = out[c].astype("Int64")
    headers = {c: _zh_first(ledger_header(c)) for c in out.columns}
    for c, h in headers.items():
        first = h.split()[0]
        if is_share_column(c):
            formats[first] = "0.0%"
        elif c.startswith(_PEOPLE):
            formats[first] = "#,##0"
        elif c.startswith(("supply_ratio", "access_supply", "supply_")) and not c.startswith("supply_status"):
            formats[first] = "#,##0.00"
        elif c.endswith("code"):
            formats[first] = "0"
    return out.rename(columns=headers), formats


def _about(summary: dict[str, Any]) -> pd.DataFrame:
    synthetic = bool(summary.get("synthetic"))
    edits = summary.get("edits", {})
    city = summary.get("city", {})
    rows: list[tuple[str, Any]] = [
        ("服务圈 circle", summary.get("circle", "")),
        ("合成数据 synthetic", "是 yes" if synthetic else "否 no"),
        ("说明 note", f"{SYNTHETIC_NOTE_ZH} {summary.get('note', '')}" if synthetic else summary.get("note", "")),
        ("方法 method", summary.get("method", "")),
        ("新增设施 facilities added", edits.get("added", 0)),
        ("关闭设施 facilities removed", "、".join(map(str, edits.get("removed", []))) or "无 none"),
    ]
    for k, v in (edits.get("sources") or {}).items():
        if v not in (None, "", []):
            rows.append((f"来源 source: {k}", "、".join(map(str, v)) if isinstance(v, list) else str(v)))
    for k in ("covered_population_before", "covered_population_after", "newly_covered_population",
              "no_longer_covered_population", "villages_covered_before", "villages_covered_after",
              "elderly_covered_before", "elderly_covered_after"):  # fmt: skip
        if city.get(k) is not None:
            rows.append((f"全市 city: {k}", round(float(city[k]))))
    for k in [k for k in city if k.startswith(("supply", "access_"))]:
        rows.append((f"全市 city: {k}", city[k]))
    for rec in edits.get("capacity", []):
        rows.append((f"容量变化 capacity: {rec['facility_id']}", f"{rec['before']} -> {rec['after']}"))
    roads = edits.get("roads")
    if roads:
        rows.append(("道路编辑 road edits", _roads_text(roads)))
        rows.append(
            ("重新计算 recomputed", "道路改变路网：整个服务圈重新计算 the network changed: circle recomputed in full")
        )
    for k, v in sorted((summary.get("warnings") or {}).items()):
        rows.append((f"警告 warning (counted): {k}", v))
    rows.append(("比例 shares", SHARE_NOTE))
    rows += [(_zh_first(ledger_header(c)), text) for c, text in LEDGER_NOTES.items()]
    return pd.DataFrame(rows, columns=["项目 key", "内容 value"])


def _roads_text(roads: dict[str, Any]) -> str:
    """One line on a scenario's road edits (links added, streets closed)."""
    links = "; ".join(
        f"{x.get('name') or 'link'} {x['from_node_id']}-{x['to_node_id']} {x['length_m']:g} m {x['minutes']:g} min"
        for x in roads.get("links", [])
    )
    return (
        f"新增连接 links added: {len(roads.get('links', []))}"
        + (f" ({links})" if links else "")
        + f"; 封闭区域 closures: {roads.get('closures', 0)}, 封闭路段(有向边) edges closed: "
        f"{roads.get('directed_edges_removed', 0)}"
        + (
            f"; 封闭道路 OSM ways closed: {', '.join(str(w) for w in roads['closed_ways'])} "
            f"({roads.get('directed_edges_closed_by_way', 0)} 有向边 directed edges)"
            if roads.get("closed_ways")
            else ""
        )
    )


def write_ledger_workbook(
    villages: pd.DataFrame, towns: pd.DataFrame, summary: dict[str, Any], path: str | Path
) -> Path:
    """Write the ledger as ``changes.xlsx``: villages, towns + city, and the 说明 sheet (the edits and sources).

    Headers are Chinese first (``状态(现状) status_before``); shares are stored cut to what ``0.0%`` shows
    (never rounded up across the 达标 rule); text cells stay text (no formulas, :func:`guard_workbook`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        sheets = {SHEET_VILLAGES: _sheet(villages), SHEET_TOWNS: _sheet(towns)}
        for name, (sheet, _) in sheets.items():
            xlsx_frame(sheet).to_excel(xw, index=False, sheet_name=name)
        xlsx_frame(_about(summary)).to_excel(xw, index=False, sheet_name=SHEET_ABOUT)
        for name, (_, formats) in sheets.items():
            style_table_sheet(xw.book[name], header_row=1, formats=formats)
        # A4 landscape as the tables: a portrait page would print the 100-character notes below 8 pt
        style_table_sheet(xw.book[SHEET_ABOUT], header_row=1, max_width=100)
        guard_workbook(xw.book)  # a name starting with "=" stays a string cell, never a formula
    return path
