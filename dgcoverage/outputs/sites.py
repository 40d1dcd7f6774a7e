"""The planners' list of new sites as files: CSV, XLSX, GeoJSON and ``siting_summary.json``.

:func:`write_sites` writes a :class:`~dgcoverage.pipeline.study.SitingResult`
(:func:`dgcoverage.pipeline.sites.plan_sites`) to ``<out>/<circle>/candidates.csv``/``.xlsx``/``.geojson``
and ``siting_summary.json``, with bilingual headers (:func:`site_header`) and the column notes of the
workbook's 说明 sheet (:data:`SITE_COLUMN_NOTES`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..compute.coverage import LABELS_ZH, bilingual_name, table_for_output
from ..core.io import SHARE_NOTE, atomic_path, cut_shares, is_share_column, write_csv, write_json, write_text
from ..inputs.candidates import cell_text

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline.study import SitingResult


def _clean(v: Any) -> Any:
    if v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else round(float(v), 7)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


#: Chinese labels of the planner list's columns that the shared table labels (coverage.LABELS_ZH) lack.
SITE_LABELS_ZH = {
    "village_name": "所在(最近)村(社区)",
    "villages_reached": "新增覆盖村(社区)代码:人数",
    "capacity": "规模(容量)",
    "capacity_unit": "规模单位",
    "capacity_source": "规模来源",
    "town_supply_status": "镇街供给状态",
    "town_deficit_before": "镇街供给缺口(选址前)",
    "deficit_closed": "本点填补缺口",
    "deficit_closed_share": "本点填补缺口占比",
    "town_deficit_closed_cum": "镇街累计填补缺口",
    "town_deficit_closed_cum_share": "镇街累计填补缺口占比",
    "town_deficit_after": "镇街剩余缺口(全部选址后)",
}

#: What each column of the planner list means (the xlsx's 说明 about sheet).
SITE_COLUMN_NOTES = {
    "rank": "order of the list: each site adds the most newly covered people given the sites above it",
    "site_id": "candidate id (gap:<node>, road:<osm node>, or the id/line of the candidate file)",
    "name": "the candidate file's name, else '<road> 旁（<镇街><村>）' when the road is named, "
    "else '<镇街><村> 附近 #rank'",
    "village_code": "the village (村/社区) the site lies in, else the nearest one (within 3 km)",
    "villages_reached_names": "every village whose people the site newly covers, with those people, largest first",
    "villages_reached": "the same as village code:people (one decimal), separated by ';'",
    "new_population": "people newly within the limit thanks to this site (not covered by the sites above it)",
    "cum_covered_share": "share of all people within the limit with this site and the ones above it",
    "capacity": "the site's size in the unit of the circle's supply standard (m2 or beds); empty = not given",
    "town_deficit_before": "the town's supply deficit in the base run (towns.csv deficit)",
    "deficit_closed": "min(capacity, the town's deficit still open after the higher-ranked sites of the town)",
    "town_deficit_closed_cum": "deficit closed by this site and the higher-ranked sites of its town",
    "town_deficit_after": "the town's deficit left after every listed site of the town",
}

_DECIMALS_2 = (
    "capacity",
    "town_deficit_before",
    "deficit_closed",
    "town_deficit_closed_cum",
    "town_deficit_after",
)


def site_header(column: str) -> str:
    """Return the ``"id 中文"`` header of a planner-list column."""
    if column in LABELS_ZH:
        return bilingual_name(column)
    return f"{column} {SITE_LABELS_ZH[column]}" if column in SITE_LABELS_ZH else column


def _blank(v: Any) -> Any:
    """Return ``""`` for a missing value or its text spelling ("nan", "None"), else the value."""
    if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, str) and v.strip().lower() in {"nan", "none", "<na>", "nat"}:
        return ""
    return v


def _blank_missing(t: pd.DataFrame) -> pd.DataFrame:
    """Return ``t`` with missing text cells empty, so no file shows "nan" or "None" (numbers stay NaN: empty cells)."""
    t = t.copy()
    for c in t.columns:
        if pd.api.types.is_object_dtype(t[c]) or pd.api.types.is_string_dtype(t[c]):
            t[c] = t[c].map(_blank)
    return t


def site_table(result: SitingResult) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Return the planner list as ``candidates.csv`` holds it (the GIS layer has the same columns and values).

    People and counts as whole numbers; coordinates to 7 decimals (~1 cm, as facilities.csv), amounts of
    supply 2, other numbers 6; shares cut to their decimals, never rounded up
    (:func:`~dgcoverage.core.io.cut_shares`).

    Returns
    -------
    table, headed, decimals
        The table keyed by English ids, the same with ``"id 中文"`` headers (:func:`site_header`), and the
        decimals of every float column by English id.
    """
    t, decimals = table_for_output(_blank_missing(result.table))
    decimals.update({c: 7 for c in ("lon", "lat", "lon_gcj02", "lat_gcj02") if c in t})
    decimals.update({c: 2 for c in _DECIMALS_2 if c in t and c in decimals})
    for c, n in decimals.items():
        if is_share_column(c):
            t[c] = cut_shares(t[c].to_numpy(dtype=float, na_value=np.nan), n)
    return t, t.rename(columns=site_header), decimals


def write_sites(result: SitingResult, circle_id: str, out_dir: str | Path) -> Path:
    """Write ``candidates.csv`` (UTF-8 BOM, bilingual headers), ``.xlsx``, ``.geojson`` and ``siting_summary.json``.

    Text is never written as a formula: the CSV guards formula-like text with an apostrophe and the
    XLSX stores it as string cells (:mod:`dgcoverage.core.io`).  Numbers are written with fixed decimals
    (coordinates 7, amounts of supply 2, everything else 6), never ``%g``; a missing value is an
    empty cell (``null`` in JSON), never the text "nan".  The workbook has a frozen, filtered header,
    column widths that show the headers, people with thousands separators, shares as %, and prints
    landscape, fit to width (:func:`dgcoverage.core.io.style_table_sheet`).

    Parameters
    ----------
    result
        The ranked sites (:func:`dgcoverage.pipeline.sites.plan_sites`).
    circle_id
        The circle; files go to ``<out_dir>/<circle_id>/``.
    out_dir
        The output folder.

    Returns
    -------
    pathlib.Path
        The circle's folder.
    """
    from ..core.io import guard_workbook, style_table_sheet, xlsx_frame

    d = Path(out_dir) / circle_id
    d.mkdir(parents=True, exist_ok=True)
    t, headed, decimals = site_table(result)
    write_csv(headed, d / "candidates.csv", decimals=decimals)
    summary = result.summary
    with atomic_path(d / "candidates.xlsx") as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        xlsx_frame(headed).to_excel(xw, index=False, sheet_name="候选点 candidates")
        sup = summary.get("supply") or {}
        circle = summary.get("circle", {})
        rows = [
            ("circle 服务圈", f"{circle_id} {cell_text(circle.get('name_zh'))}".strip()),
            ("listed_solution 求解方法", summary["listed_solution"]),
            ("synthetic 合成数据", "yes 是" if summary["synthetic"] else "no 否"),
            ("note 说明", _note(summary["synthetic"])),
            ("supply standard 供给标准", cell_text(sup.get("standard")) or "none 无"),
            ("site capacity 规模", cell_text(sup.get("capacity")) or "—"),
        ]
        if sup.get("note"):
            rows.append(("supply note 供给说明", sup["note"]))
        rows.append(("shares 比例", SHARE_NOTE))
        rows += [(site_header(c), text) for c, text in SITE_COLUMN_NOTES.items() if c in t.columns]
        note = pd.DataFrame(rows, columns=["key 项目", "value 内容"])
        xlsx_frame(note).to_excel(xw, index=False, sheet_name="说明 about")
        amounts = {c: "#,##0.00" for c in _DECIMALS_2}  # m² or beds, as in the CSV
        style_table_sheet(xw.book["候选点 candidates"], header_row=1, formats={**amounts, "snap_m": "#,##0.0"})
        style_table_sheet(xw.book["说明 about"], header_row=1, max_width=100, landscape=False)
        guard_workbook(xw.book)  # names starting with "=" stay string cells, never formulas
    feats = []
    for rec in t.to_dict(orient="records"):
        props = {k: _clean(v) for k, v in rec.items()}
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [props["lon"], props["lat"]]},
            }
        )
    write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "name": f"{circle_id}_candidates",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
                "features": feats,
            },
            ensure_ascii=False,
        )
        + "\n",
        d / "candidates.geojson",
    )
    write_json(summary, d / "siting_summary.json")
    return d


def _note(synthetic: bool) -> str:
    from ..inputs.embedded import SYNTHETIC_NOTE

    return SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed in siting_summary.json."
