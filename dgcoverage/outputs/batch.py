"""A batch's outputs: each region's output set (tables, layers, manifest) and the combined ``batch.csv``/``.xlsx``.

``write_region`` runs on a Dask worker: it publishes one region's tables exactly as ``dgcoverage run --no-maps``
writes them (``<circle>/villages.csv, towns.csv, facilities.csv, summary.json, timing.json, layers.gpkg``) plus the
region's ``batch_manifest.json`` (the hashes of its inputs and its rows of the combined table), all in one
:class:`~dgcoverage.core.outputset.OutputSet`: a task killed mid-write publishes nothing and its retry finishes.

``write_batch_table`` writes the combined table, region x circle: population, covered population and share, the
village pass rate, the supply status when the circle has a supply standard, and whether the region was run, reused
or failed (with its error).
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


def write_region(out_dir: str | Path, pairs: list[tuple[Study, CircleResult]], manifest: dict[str, Any]) -> list[Path]:
    """Publish one region's tables, GIS layers and manifest into ``out_dir`` as one output set.

    Returns
    -------
    list of pathlib.Path
        The files published.
    """
    from .gpkg import write_layers
    from .tables import write_circle

    out_dir = Path(out_dir)
    with OutputSet(out_dir, hint="the batch's --out") as outset:
        stage = outset.stage(out_dir)
        for study, res in pairs:
            write_circle(res, stage)
            write_layers(study, res, stage)
            for name in STALE:
                outset.remove(out_dir / res.circle.id / name)
        for name in ("report.xlsx", "report.html", "maps"):  # a run with maps made them from earlier tables
            outset.remove(out_dir / name)
        write_json(manifest, stage / MANIFEST_NAME)
        return outset.commit()


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


def write_batch_table(outcomes: Sequence[dict[str, Any]], out: str | Path) -> list[Path]:
    """Write ``<out>/batch.csv`` (UTF-8 with BOM, ``id 中文`` headers) and ``<out>/batch.xlsx`` as one set.

    Returns
    -------
    list of pathlib.Path
        The two files.
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
        save_workbook(wb, stage / "batch.xlsx")
        return outset.commit()
