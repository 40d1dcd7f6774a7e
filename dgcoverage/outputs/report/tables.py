"""The report's tables, shared by the workbook and the HTML document.

The town table of a circle (with its worst villages), the town × circle comparison and the candidate sites
written by ``dgcoverage site``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ...compute.coverage import bilingual_name
from ...core.io import read_output_csv
from .labels import pct

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult

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
#: Candidate columns that are identifiers: kept as text in the candidate sheets.
ID_COLUMNS = ("site_id", "node", "node_id", "town_code", "village_code", "code", "facility_id")


def columns_for(result: CircleResult) -> list[tuple[str, str]]:
    """Return the report columns of a circle: the coverage columns, and its supply columns when it has them."""
    if "supply_ratio" not in result.towns.columns:
        return COLUMNS
    extra = [(c, h) for c, h in SUPPLY_COLUMNS if c in result.towns.columns]
    return [*COLUMNS[:-1], *extra, COLUMNS[-1]]


def town_rows(result: CircleResult, worst_n: int = WORST_N) -> pd.DataFrame:
    """Town table of a circle with a ``worst`` column: the villages with the lowest covered share."""
    vt = result.villages
    ok = vt[vt["status"] != "no_data"].sort_values(["covered_share", "population"], ascending=[True, False])
    worst = (
        ok.groupby("town_code")
        .head(worst_n)
        .groupby("town_code")
        .apply(
            lambda g: "; ".join(f"{n} {pct(s, 0)}" for n, s in zip(g["name"], g["covered_share"])),
            include_groups=False,
        )
    )
    t = result.towns.copy()
    t["worst"] = t["town_code"].map(worst).fillna("")
    city = t["town_code"] == result.city_code
    t.loc[city, "worst"] = "; ".join(
        f"{n}({tn}) {pct(s, 0)}"
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
    city = out["town_code"] == results[0].city_code
    return pd.concat([out[~city].sort_values("town_code"), out[city]], ignore_index=True)


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
