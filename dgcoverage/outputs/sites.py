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
    "town_supply_status_zh": "镇街供给状态(中文)",
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

#: How a town's supply status reads in the workbook and the map's popup: Chinese first, the id after.
SUPPLY_STATUS_SHOW = {
    "pass": "达标 pass",
    "fail": "未达标 fail",
    "unknown": "待核实 unknown (部分设施容量未知 some capacities unknown)",
    "no_data": "无数据 no data",
}
#: The unit of a supply amount (capacity, deficits) as a planner writes it, by ``capacity_unit``/``supply.unit``.
UNIT_SHOW = {"m2": "m²", "area_m2": "m²", "beds": "床", "床": "床", "m²": "m²"}
#: Where a candidate came from, as the workbook says it.
SOURCE_SHOW = {
    "gap_cluster": "盲区聚类 gap cluster",
    "file": "候选文件 candidate file",
    "road_class": "道路节点 road node",
    "site_capacity": "统一规模 --site-capacity",
}

#: The workbook's columns, in order, with their Chinese-first headers (``{u}``: the unit of supply amounts).
#: ``villages_reached`` (codes:people), ``capacity_unit`` and ``town_supply_status_zh`` stay in the CSV only:
#: the workbook shows the readable list, the unit in the header and the status in words.
XLSX_HEADERS = {
    "rank": "排名 rank",
    "name": "名称 name",
    "town_name": "镇街 town",
    "village_name": "所在(最近)村(社区) village",
    "road_name": "最近道路 nearest road",
    "new_population": "新增覆盖人口(人) people newly covered",
    "villages_reached_names": "惠及村(社区)及新增人口 villages reached (people)",
    "new_villages_covered": "新增达标村(社区)数 villages newly covered",
    "new_villages_covered_names": "新增达标村(社区) their names",
    "cum_new_population": "累计新增覆盖人口(人) cumulative people newly covered",
    "cum_covered_population": "累计覆盖人口(人) cumulative people covered",
    "cum_covered_share": "累计覆盖率 cumulative share covered",
    "cum_villages_covered": "累计达标村(社区)数 cumulative villages covered",
    "cum_village_pass_rate": "累计村(社区)达标率 cumulative village pass rate",
    "capacity": "规模({u}) capacity",
    "capacity_source": "规模来源 capacity source",
    "town_supply_status": "镇街供给状态 town supply status",
    "town_deficit_before": "镇街供给缺口(选址前,{u}) town deficit before",
    "deficit_closed": "本点填补缺口({u}) deficit closed by the site",
    "deficit_closed_share": "本点填补缺口占比 share of the town's deficit",
    "town_deficit_closed_cum": "镇街累计填补缺口({u}) town deficit closed so far",
    "town_deficit_closed_cum_share": "镇街累计填补占比 share closed so far",
    "town_deficit_after": "镇街剩余缺口(全部选址后,{u}) town deficit left",
    "lon": "经度(WGS84) lon",
    "lat": "纬度(WGS84) lat",
    "lon_gcj02": "经度(GCJ-02高德) lon_gcj02",
    "lat_gcj02": "纬度(GCJ-02高德) lat_gcj02",
    "town_code": "镇街代码 town_code",
    "village_code": "村(社区)代码 village_code",
    "site_id": "候选点编号 site_id",
    "source": "来源 source",
    "node": "路网节点 node",
    "snap_m": "距路网(米) snap_m",
    "method": "求解方法 method",
    "synthetic": "合成数据 synthetic",
}
_CSV_ONLY = ("villages_reached", "capacity_unit", "town_supply_status_zh")

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


def site_unit(summary: dict[str, Any]) -> str:
    """Return the unit of the circle's supply amounts as written for people (``"床"``, ``"m²"``; ``""``: none)."""
    return UNIT_SHOW.get(cell_text((summary.get("supply") or {}).get("unit")), "")


def xlsx_header(column: str, unit: str = "") -> str:
    """Return the workbook's Chinese-first header of a planner-list column (its unit in brackets)."""
    if column in XLSX_HEADERS:
        h = XLSX_HEADERS[column]
        return h.replace("({u})", f"({unit})" if unit else "").replace(",{u})", f",{unit})" if unit else ")")
    zh, _, en = site_header(column).partition(" ")
    return f"{en} {zh}" if en else zh  # a column the siting step added: "中文 id"


def site_sheet(t: pd.DataFrame, decimals: dict[str, int], unit: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the planner list as the workbook shows it: Chinese-first headers with units, words for codes.

    The town supply status reads ``未达标 fail`` (not ``fail``), the source ``盲区聚类 gap cluster``, the synthetic
    flag ``是 yes``; the villages reached are the readable list (``竹塘村 22,417 人；…``); the CSV keeps the
    machine-readable columns (``villages_reached`` codes:people, ``capacity_unit``).

    Returns
    -------
    sheet, formats
        The table, and the number format of each column keyed by the header's first word (what
        :func:`dgcoverage.core.io.style_table_sheet` keys formats by).
    """
    cols = [c for c in XLSX_HEADERS if c in t.columns] + [
        c for c in t.columns if c not in XLSX_HEADERS and c not in _CSV_ONLY
    ]
    out = t[cols].copy()
    if "town_supply_status" in out:
        out["town_supply_status"] = out["town_supply_status"].map(lambda v: SUPPLY_STATUS_SHOW.get(v, v))
    for c in ("source", "capacity_source"):
        if c in out:
            out[c] = out[c].map(lambda v: SOURCE_SHOW.get(v, v))
    for c, n in decimals.items():  # the CSV's decimals (the format shows them; the cell holds no more)
        if c in out and not is_share_column(c):
            out[c] = out[c].astype(float).round(n)
    if "synthetic" in out:
        out["synthetic"] = out["synthetic"].map(lambda v: "是 yes" if v is True or v == "True" else "否 no")
    formats: dict[str, str] = {}
    for c in cols:
        first = xlsx_header(c, unit).split(" ")[0]
        if is_share_column(c):
            formats[first] = "0.0%"
        elif c in ("lon", "lat", "lon_gcj02", "lat_gcj02"):
            formats[first] = "0.0000000"
        elif c in _DECIMALS_2:
            formats[first] = "#,##0.00"
        elif c == "snap_m":
            formats[first] = "#,##0.0"
        elif c in ("rank", "node") or c.endswith(("_code", "_id")):
            formats[first] = "0"
        elif c in decimals or pd.api.types.is_numeric_dtype(out[c]):
            formats[first] = "#,##0" if decimals.get(c, 0) == 0 else "#,##0.00"
    return out.rename(columns=lambda c: xlsx_header(c, unit)), formats


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
    unit = site_unit(summary)
    sheet, formats = site_sheet(t, decimals, unit)
    with atomic_path(d / "candidates.xlsx") as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        xlsx_frame(sheet).to_excel(xw, index=False, sheet_name="候选点 candidates")
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
        rows += [(xlsx_header(c, unit), text) for c, text in SITE_COLUMN_NOTES.items() if c in sheet_ids(t)]
        if "villages_reached" in t.columns:
            rows.append((site_header("villages_reached"), SITE_COLUMN_NOTES["villages_reached"] + " (candidates.csv)"))
        note = pd.DataFrame(rows, columns=["key 项目", "value 内容"])
        xlsx_frame(note).to_excel(xw, index=False, sheet_name="说明 about")
        ws = style_table_sheet(xw.book["候选点 candidates"], header_row=1, formats=formats)
        if ws.print_title_cols:  # printed pages wide: the rank and the name on every page
            ws.print_title_cols = "A:B"
        # A4 landscape as the table: a portrait page would print the 100-character notes below 8 pt
        style_table_sheet(xw.book["说明 about"], header_row=1, max_width=100)
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


#: The files of a circle's ranked sites (``dgcoverage site``), in ``<out>/<circle>/``.
SITE_FILES = ("candidates.csv", "candidates.xlsx", "candidates.geojson", "siting_summary.json")


def keep_sites(published: str | Path, staged: str | Path) -> bool:
    """Carry a circle's ranked sites into a new run's staging folder when its measurement is unchanged.

    The sites of ``dgcoverage site`` were ranked against the circle's measurement then; a new ``run`` that
    measures the circle again keeps them only if its ``summary.json`` is the published one (same inputs, settings
    and results: :func:`same_measurement`), so the report, the maps and the workbook made by that run list them.
    The published ``layers.gpkg`` is carried too, as the source of its candidate layer: the run's new
    ``layers.gpkg`` (:func:`~dgcoverage.outputs.gpkg.write_layers`, written after this) keeps that layer.

    Parameters
    ----------
    published
        The circle's published folder (``<out>/<circle>``).
    staged
        The same folder in the run's staging area, holding the new ``summary.json``.

    Returns
    -------
    bool
        Whether the sites were copied (``False``: there are none, or the measurement changed: they are stale).
    """
    import shutil

    old, new = Path(published), Path(staged)
    if not (old / "candidates.csv").is_file() or not (old / "summary.json").is_file():
        return False
    if not (new / "summary.json").is_file():
        return False
    if not same_measurement(old / "summary.json", new / "summary.json"):
        return False
    for name in (*SITE_FILES, "layers.gpkg"):
        if (old / name).is_file():
            shutil.copy2(old / name, new / name)
    return True


#: ``summary.json`` settings that say how the outputs were written, not what was measured.
OUTPUT_SETTINGS = ("gpkg_crs",)


def same_measurement(published: str | Path, staged: str | Path) -> bool:
    """Tell whether two ``summary.json`` files record the same measurement of a circle.

    Byte for byte the same, or the same once the output-only settings (:data:`OUTPUT_SETTINGS`, the CRS of the
    GIS layers) are left out: writing the layers in another CRS measures nothing anew.
    """
    a, b = Path(published).read_bytes(), Path(staged).read_bytes()
    if a == b:
        return True

    def _measured(raw: bytes) -> Any:
        doc = json.loads(raw)
        for key in OUTPUT_SETTINGS:
            (doc.get("settings") or {}).pop(key, None)
        return doc

    try:
        return bool(_measured(a) == _measured(b))
    except (ValueError, AttributeError):
        return False


def sheet_ids(t: pd.DataFrame) -> list[str]:
    """Return the column ids the workbook shows (the CSV-only ones left out)."""
    return [c for c in t.columns if c not in _CSV_ONLY]


def _note(synthetic: bool) -> str:
    from ..inputs.embedded import SYNTHETIC_NOTE

    return SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed in siting_summary.json."
