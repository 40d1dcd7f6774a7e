"""A batch's outputs: each region's output set (tables, layers, manifest) and the combined ``batch.csv``/``.xlsx``.

``write_region`` runs on a Dask worker: it publishes one region's tables exactly as ``dgcoverage run --no-maps``
writes them (``<circle>/villages.csv, towns.csv, facilities.csv, summary.json, timing.json, layers.gpkg``) plus the
region's ``batch_manifest.json`` (the hashes of its inputs and its rows of the combined table), all in one
:class:`~dgcoverage.core.outputset.OutputSet`: a task killed mid-write publishes nothing and its retry finishes.

``write_batch_table`` writes the combined table, region x circle: population, covered population and share, the
village pass rate, the supply status when the circle has a supply standard, and whether the region was run, reused
or failed (with its error); and ``batch.html``, the overview page of the regions (``outputs.maps.batch``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compute.coverage import LABELS_ZH
from ..core.io import SHARE_NOTE, cut_shares, save_workbook, style_table_sheet, write_csv, write_json, xlsx_frame
from ..core.outputset import OutputSet
from ..core.xlsx_print import set_a4
from ..inputs.batch import MANIFEST_NAME
from ..pipeline.study import CircleResult, Study

#: Outputs of an earlier run of a circle that new tables would contradict (made from the previous measurement).
STALE = ("candidates.csv", "candidates.xlsx", "candidates.geojson", "siting_summary.json", "service_area.geojson",
         "gaps.geojson")  # fmt: skip

#: The combined table's columns and their Chinese labels.
BATCH_COLUMNS = {
    "region": "区域",
    "region_name": "区域名称",
    "circle": "服务圈",
    "status": "运行状态",
    "status_zh": "运行状态(中文)",
    "population": "人口",
    "covered_population": "覆盖人口",
    "pass_rate_population": "人口覆盖率",
    "pass_rate_villages": "村(社区)达标率",
    "villages": "村(社区)数",
    "covered_only_by_outside": "仅靠区外设施覆盖人口",
    "supply_status": "供给状态",
    "synthetic": "合成数据",
    "error": "错误",
}
STATUS_ZH = {"done": "已完成", "reused": "沿用(输入未变)", "failed": "失败"}


def write_region(
    out_dir: str | Path,
    pairs: list[tuple[Study, CircleResult]],
    manifest: dict[str, Any],
    maps: bool | None = None,
) -> list[Path]:
    """Publish one region's tables, GIS layers, manifest (and maps and report) into ``out_dir`` as one output set.

    With maps (``maps=True``, or ``None`` and the manifest's inputs say ``"maps": true``, as ``run_batch(maps=True)``
    records them), the region also gets what ``dgcoverage run --region`` writes with maps: each circle's
    service and gap areas, ``report.xlsx``, ``report.html`` and ``maps/`` (a page per circle and ``index.html``).
    Without, those of an earlier run are removed: they were made from other tables.

    Returns
    -------
    list of pathlib.Path
        The files published.
    """
    from .gpkg import areas_and_layers, crs_label, layer_crs, write_layers
    from .tables import write_circle

    out_dir = Path(out_dir)
    if maps is None:
        maps = bool((manifest.get("inputs") or {}).get("maps", False))
    with OutputSet(out_dir, hint="the batch's --out") as outset:
        stage = outset.stage(out_dir)
        areas = {}
        for study, res in pairs:
            if "gpkg_crs" not in res.summary.settings:  # the layers' CRS, recorded as `run` records it (WGS84)
                res.summary.settings["gpkg_crs"] = crs_label(layer_crs(None, study.bounds_wgs84))
            write_circle(res, stage)
            if maps:
                areas[res.circle.id] = areas_and_layers(study, res, stage)
            else:
                write_layers(study, res, stage)
            for name in STALE[:4] if maps else STALE:
                outset.remove(out_dir / res.circle.id / name)
        if maps and pairs:
            _write_maps_and_report(pairs, areas, stage)
        else:  # a run with maps made them from earlier tables
            for name in ("report.xlsx", "report.html", "maps"):
                outset.remove(out_dir / name)
        write_json(manifest, stage / MANIFEST_NAME)
        return outset.commit()


def _write_maps_and_report(pairs: list[tuple[Study, CircleResult]], areas: dict[str, Any], stage: Path) -> None:
    """Write the region's report (``report.xlsx``, ``report.html``) and map pages (``maps/``) as ``run --region``."""
    from .maps import write_maps
    from .report import write_html, write_xlsx

    results = [r for _, r in pairs]
    write_xlsx(results, stage / "report.xlsx", candidates_dir=stage)
    write_html(results, stage / "report.html", maps_href="maps", candidates_dir=stage)
    write_maps(pairs[-1][0], results, areas, stage / "maps", out_dir=stage)


def batch_table(outcomes: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return the combined table of the outcomes (one row per region and circle), shares cut to 6 decimals."""
    rows = [row for o in outcomes for row in o["rows"]]
    df = pd.DataFrame(rows, columns=list(BATCH_COLUMNS))
    df["status_zh"] = df["status"].map(STATUS_ZH).fillna("")
    for c in ("pass_rate_population", "pass_rate_villages"):
        df[c] = cut_shares(pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float), 6)
    for c in ("population", "covered_population", "covered_only_by_outside"):
        df[c] = pd.to_numeric(df[c], errors="coerce").round(0).astype("Int64")
    df["villages"] = pd.to_numeric(df["villages"], errors="coerce").astype("Int64")
    for c in ("region_name", "supply_status", "error"):
        df[c] = df[c].fillna("").astype(str)
    df["synthetic"] = df["synthetic"].map({True: "yes", False: "no"}).fillna("")
    return df[list(BATCH_COLUMNS)]


def _headers(df: pd.DataFrame) -> pd.DataFrame:
    labels = {**LABELS_ZH, **BATCH_COLUMNS}
    return df.rename(columns={c: f"{c} {labels[c]}" for c in df.columns})


def write_batch_table(outcomes: Sequence[dict[str, Any]], out: str | Path, page: bool = True) -> list[Path]:
    """Write ``<out>/batch.csv`` (UTF-8 with BOM, ``id 中文`` headers), ``batch.xlsx`` and ``batch.html`` as one set.

    ``batch.html`` (``page=True``) is the overview page of every region (``outputs.maps.batch``): each region's
    outline (an outcome's ``outline``) coloured by a figure of one circle at a time, the region x circle table and
    links to the regions' own map pages and reports where they exist.

    Returns
    -------
    list of pathlib.Path
        The files.
    """
    from openpyxl import Workbook

    out = Path(out)
    table = batch_table(outcomes)
    shown = _headers(table)
    with OutputSet(out, hint="the batch's --out") as outset:
        stage = outset.stage(out)
        write_csv(
            shown,
            stage / "batch.csv",
            decimals={"pass_rate_population 人口覆盖率": 6, "pass_rate_villages 村(社区)达标率": 6},
        )
        wb = Workbook()
        ws = wb.active
        ws.title = "batch 批量"
        frame = xlsx_frame(shown)
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            ws.append([None if (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v for v in row])
        style_table_sheet(ws)
        note = wb.create_sheet("说明 notes")
        synthetic = bool((table["synthetic"] == "yes").any())
        for line in (
            "每行为一个区域的一个服务圈（全域数值）。One row per region and circle (its city-wide figures).",
            "运行状态: done 已完成 / reused 沿用(输入哈希未变，沿用已有输出) / failed 失败(见 error 列)。",
            SHARE_NOTE,
            *(["SYNTHETIC: some regions were computed from synthetic data (synthetic = yes)."] if synthetic else []),
        ):
            note.append([line])
        note.column_dimensions["A"].width = 100
        set_a4(note)  # A4 landscape as the table sheet (no paper size would print on Letter)
        save_workbook(wb, stage / "batch.xlsx")
        if page:
            _write_page(outcomes, table, out, stage)
        return outset.commit()


def _write_page(outcomes: Sequence[dict[str, Any]], table: pd.DataFrame, out: Path, stage: Path) -> Path:
    from ..inputs.config import load_config
    from .maps.batch import write_batch_map

    names = {k: c.name_zh for k, c in load_config()[0].items()}  # the packaged circles' names
    outlines = {o["region"]: o.get("outline") for o in outcomes}
    return write_batch_map(table, outlines, stage / "batch.html", out=out, circle_names=names)
