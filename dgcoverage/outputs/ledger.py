"""A scenario's ledger: ``changes.csv`` (villages), ``changes_towns.csv`` (towns, city) and ``scenario.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compute.coverage import LABELS_ZH, STATUS_ZH, table_for_output
from ..core.io import cut_shares, is_share_column, write_csv, write_json

#: Chinese labels of the ledger's columns (``_before``/``_after`` take the label of their measure).
LEDGER_ZH = {
    "change": "变化",
    "change_zh": "变化(中文)",
    "covered_population_change": "覆盖人口变化",
    "villages_newly_covered": "新增达标村(社区)数",
    "villages_no_longer_covered": "不再达标村(社区)数",
    "villages_covered": "达标村(社区)数",
}
WHEN_ZH = {"before": "现状", "after": "情景"}


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
    for c in [c for c in out.columns if c.startswith("covered_population") or c.startswith("villages")]:
        if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = pd.array(np.rint(out[c].to_numpy(dtype=float)), dtype="Float64").astype("Int64")
            decimals.pop(c, None)
    for c, n in decimals.items():
        if is_share_column(c):
            out[c] = cut_shares(out[c].to_numpy(dtype=float, na_value=np.nan), n)
    for c in ("status_before", "status_after"):
        if c in out:
            out.insert(out.columns.get_loc(c) + 1, c.replace("status_", "status_zh_"), out[c].map(STATUS_ZH))
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
    return d
