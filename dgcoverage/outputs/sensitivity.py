"""A circle at several speeds: ``sensitivity.csv`` (villages) and ``sensitivity_towns.csv`` (towns, city)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute.coverage import LABELS_ZH, table_for_output
from ..core.io import cut_shares, is_share_column, write_csv
from ..pipeline.study import SpeedSensitivity

#: Chinese labels of the sensitivity columns (speed columns: the label with the speed in brackets).
SENSITIVITY_ZH = {
    "speed_class": "速度稳健性",
    "speed_class_zh": "速度稳健性(中文)",
    "villages_robust": "稳健达标村(社区)数",
    "villages_fragile": "脆弱达标村(社区)数",
    "villages_not_covered": "未达标村(社区)数",
    "villages_no_data": "无数据村(社区)数",
    "covered_share": "覆盖率",
    "covered": "达标",
    "villages_covered": "达标村(社区)数",
}
_SPEED_COL = re.compile(r"^(covered_share|covered|villages_covered)_(\d+(?:\.\d+)?)kmh$")


def sensitivity_header(column: str) -> str:
    """``"id 中文"`` header of a sensitivity column, e.g. ``covered_share_2.9kmh 覆盖率(2.9km/h)``."""
    m = _SPEED_COL.match(column)
    if m:
        return f"{column} {SENSITIVITY_ZH[m.group(1)]}({m.group(2)}km/h)"
    zh = SENSITIVITY_ZH.get(column) or LABELS_ZH.get(column)
    return f"{column} {zh}" if zh else column


def _prepared(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    out, decimals = table_for_output(table)
    for c, n in decimals.items():
        if is_share_column(c):
            out[c] = cut_shares(out[c].to_numpy(dtype=float, na_value=np.nan), n)
    return out.rename(columns=sensitivity_header), {sensitivity_header(c): n for c, n in decimals.items()}


def write_sensitivity(sens: SpeedSensitivity, circle_dir: str | Path) -> list[Path]:
    """Write ``sensitivity.csv`` and ``sensitivity_towns.csv`` into a circle's folder (UTF-8 with BOM, shares cut).

    Returns
    -------
    list of pathlib.Path
        The two files.
    """
    d = Path(circle_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in (("sensitivity.csv", sens.villages), ("sensitivity_towns.csv", sens.towns)):
        out, decimals = _prepared(table)
        paths.append(write_csv(out, d / name, decimals=decimals))
    return paths
