"""Coverage tables: per village (村/社区), per town (镇街) and city-wide.

Pure pandas/numpy over per-cell travel times and reach classes; no routing
and no geometry here.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .access import BEYOND_LIMIT, OFF_NETWORK, REACHED, UNREACHABLE

STATUSES = ("covered", "partial", "gap", "unreachable", "no_data")
STATUS_ZH = {
    "covered": "达标",
    "partial": "部分覆盖",
    "gap": "服务盲区",
    "unreachable": "路网不可达",
    "no_data": "无数据",
}

#: Bilingual column headers for the CSV tables: id -> "id 中文".
LABELS_ZH = {
    "supply_population": "供给指标人口基数",
    "population_basis": "人口口径",
    "elderly_source": "老年人口数据来源",
    "elderly_share": "老年人口占比",
    "code": "代码",
    "name": "名称",
    "full_name": "全称",
    "town_code": "镇街代码",
    "town_name": "镇街",
    "type": "类型",
    "population": "人口",
    "covered_population": "覆盖人口",
    "covered_share": "覆盖率",
    "unreachable_share": "路网不可达人口占比",
    "off_network_share": "离网人口占比",
    "median_time_min": "中位时间(分钟)",
    "p90_time_min": "90分位时间(分钟)",
    "centre_time_min": "村(社区)中心点时间(分钟)",
    "facilities_inside": "辖区内设施数",
    "has_facility_inside": "辖区内有设施",
    "status": "状态",
    "status_zh": "状态(中文)",
    "reason": "说明",
    "villages": "村(社区)数",
    "villages_with_data": "有数据村(社区)数",
    "villages_covered": "达标村(社区)数",
    "villages_partial": "部分覆盖村(社区)数",
    "villages_gap": "盲区村(社区)数",
    "villages_unreachable": "不可达村(社区)数",
    "villages_no_data": "无数据村(社区)数",
    "pass_rate_villages": "村(社区)达标率",
    "pass_rate_population": "人口覆盖率",
    "villages_with_facility_inside": "辖区内有设施的村(社区)数",
    "facility_in_every_village": "村(社区)设施全覆盖",
    "synthetic": "合成数据",
    "share_outside_raster": "人口栅格外面积占比",
    # supply standards (towns.csv, villages.csv; see dgcoverage.compute.supply)
    "facilities": "设施数",
    "facilities_capacity_known": "容量已知设施数",
    "facilities_capacity_unknown": "容量未知设施数",
    "supply": "供给量(已知容量合计)",
    "elderly": "老年人口(60岁及以上)",
    "elderly_basis": "老年人口来源",
    "supply_ratio": "人均(每千人)供给",
    "target_ratio": "供给标准",
    "ratio_unit": "单位",
    "required_supply": "达标所需供给量",
    "deficit": "供给缺口",
    "supply_status": "供给状态",
    "supply_status_zh": "供给状态(中文)",
    "supply_reason": "供给说明",
    "access_supply": "可达供给(2SFCA)",
    "access_meets_target_share": "可达供给达标人口占比",
    "access_unknown_share": "可达范围内有容量未知设施的人口占比",
    # candidate sites (candidates.csv)
    "rank": "排名",
    "site_id": "候选点编号",
    "source": "来源",
    "lon": "经度(WGS84)",
    "lat": "纬度(WGS84)",
    "lon_gcj02": "经度(GCJ-02高德)",
    "lat_gcj02": "纬度(GCJ-02高德)",
    "road_name": "最近道路",
    "node": "路网节点",
    "snap_m": "距路网(米)",
    "facility_id": "设施编号",
    "kind": "类型",
    "address": "地址",
    "on_network": "在路网上",
    "node_id": "路网节点编号",
    "component": "路网连通分量",
    "component_nodes": "连通分量节点数",
    "village_code": "所在村(社区)代码",
    "new_population": "新增覆盖人口",
    "new_villages_covered": "新增达标村(社区)数",
    "new_villages_covered_names": "新增达标村(社区)",
    "villages_reached_names": "新增覆盖人口所在村(社区)",
    "cum_new_population": "累计新增覆盖人口",
    "cum_covered_population": "累计覆盖人口",
    "cum_covered_share": "累计覆盖率",
    "cum_villages_covered": "累计达标村(社区)数",
    "cum_village_pass_rate": "累计村(社区)达标率",
    "method": "求解方法",
    # equity of access (towns.csv; see dgcoverage.compute.equity): population-weighted, times capped at the cap
    "time_gini": "出行时间基尼系数",
    "time_theil_t": "出行时间泰尔指数T",
    "time_palma": "出行时间帕尔马比值",
    "poverty_headcount": "超时人口比例(FGT0)",
    "poverty_gap": "超时缺口指数(FGT1)",
    "poverty_severity": "超时严重度指数(FGT2)",
    # the same for older people (where an elderly raster or share is given), weighted by the people aged 60+
    "elderly_time_gini": "老年人出行时间基尼系数",
    "elderly_time_theil_t": "老年人出行时间泰尔指数T",
    "elderly_time_palma": "老年人出行时间帕尔马比值",
    "elderly_poverty_headcount": "老年人超时人口比例(FGT0)",
    "elderly_poverty_gap": "老年人超时缺口指数(FGT1)",
    "elderly_poverty_severity": "老年人超时严重度指数(FGT2)",
    # the same for the 2SFCA score (circles with a supply standard); poverty = short of the standard
    "access_supply_gini": "可达供给基尼系数",
    "access_supply_theil_t": "可达供给泰尔指数T",
    "access_supply_palma": "可达供给帕尔马比值",
    "below_standard_headcount": "低于标准人口比例(FGT0)",
    "below_standard_gap": "低于标准缺口指数(FGT1)",
    "below_standard_severity": "低于标准严重度指数(FGT2)",
    "access_supply_unknown_share": "可达范围内有容量未知设施的人口比例",
}


def weighted_quantile(values: NDArray[np.float64], weights: NDArray[np.float64], q: float) -> float:
    """Population-weighted quantile (lower, no interpolation); ``inf`` values count as largest.

    Parameters
    ----------
    values
        Times (may contain ``inf``).
    weights
        Non-negative weights (people).
    q
        Quantile in [0, 1].

    Returns
    -------
    float
        The smallest value ``v`` such that the weight of values <= ``v`` is at
        least ``q`` of the total; ``nan`` when the total weight is 0.
    """
    total = float(np.sum(weights))
    if total <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    k = int(np.searchsorted(cw, q * total - 1e-9 * total, side="left"))
    return float(values[order][min(k, len(order) - 1)])


def village_table(
    villages: pd.DataFrame,
    cell_village: NDArray[np.int64],
    cell_pop: NDArray[np.float64],
    cell_time_s: NDArray[np.float64],
    cell_class: NDArray[np.int8],
    centre_time_s: NDArray[np.float64],
    facilities_inside: NDArray[np.int64],
    covered_min_share: float,
    has_area: NDArray[np.bool_],
) -> pd.DataFrame:
    """Coverage per village.

    Parameters
    ----------
    villages
        The village list (``code, name, full_name, town_code, town_name, type``), row order = index.
    cell_village
        Village index of each demand cell (``-1``: in no village).
    cell_pop, cell_time_s, cell_class
        People, time to nearest facility (s) and reach class per cell.
    centre_time_s
        Time from each village's centre point (s).
    facilities_inside
        Number of facilities inside each village's area.
    covered_min_share
        Share of people within the limit for "covered".
    has_area
        Whether the village has an area (point/polygon) at all.

    Returns
    -------
    pandas.DataFrame
        One row per village with population, covered share, median/p90 and
        centre times (minutes; NaN = beyond the search cap or unreachable),
        status and a reason.
    """
    nv = len(villages)
    inv = cell_village >= 0
    cv, cp, ct, cc = cell_village[inv], cell_pop[inv], cell_time_s[inv], cell_class[inv]

    # np.bincount with weights returns float64 (numpy's stubs say intp whatever the weights)
    def by_class(k: int) -> NDArray[np.float64]:
        return cast("NDArray[np.float64]", np.bincount(cv[cc == k], weights=cp[cc == k], minlength=nv))

    pop = cast("NDArray[np.float64]", np.bincount(cv, weights=cp, minlength=nv))
    reached, beyond = by_class(REACHED), by_class(BEYOND_LIMIT)
    unreach, offnet = by_class(UNREACHABLE), by_class(OFF_NETWORK)
    med = np.full(nv, np.nan)
    p90 = np.full(nv, np.nan)
    order = np.argsort(cv, kind="stable")
    bounds = np.searchsorted(cv[order], np.arange(nv + 1))
    for i in range(nv):
        sl = order[bounds[i] : bounds[i + 1]]
        if sl.size and pop[i] > 0:
            med[i] = weighted_quantile(ct[sl], cp[sl], 0.5)
            p90[i] = weighted_quantile(ct[sl], cp[sl], 0.9)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(pop > 0, reached / np.where(pop > 0, pop, 1), np.nan)
    status = np.empty(nv, dtype=object)
    reason = np.empty(nv, dtype=object)
    note = (
        villages["location_note"].fillna("").astype(str).to_numpy()
        if "location_note" in villages
        else np.full(nv, "", dtype=object)
    )
    for i in range(nv):
        if not has_area[i]:
            status[i] = "no_data"
            reason[i] = note[i] or "no location/area for this village (e.g. its town has no boundary polygon)"
        elif pop[i] <= 0:
            status[i], reason[i] = "no_data", "no population in its area"
        elif share[i] >= covered_min_share - 1e-12:
            status[i], reason[i] = "covered", ""
        elif reached[i] > 0:
            status[i], reason[i] = "partial", ""
        elif beyond[i] > 0:
            status[i], reason[i] = "gap", "nobody within the limit"
        else:
            status[i] = "unreachable"
            reason[i] = (
                "no facility can be reached along its streets (a separate part of the network, or one-way "
                "streets leading away)"
                if unreach[i] >= offnet[i]
                else "off the road network"
            )

    def to_min(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(np.isfinite(a), a / 60.0, np.nan)

    out = pd.DataFrame(
        {
            "code": villages["code"].to_numpy(),
            "name": villages["name"].to_numpy(),
            "full_name": villages.get("full_name", villages["name"]).to_numpy(),
            "town_code": villages["town_code"].to_numpy(),
            "town_name": villages["town_name"].to_numpy(),
            "type": villages["type"].to_numpy() if "type" in villages else "",
            "population": pop,
            "covered_population": reached,
            "covered_share": share,
            "unreachable_share": np.where(pop > 0, unreach / np.where(pop > 0, pop, 1), np.nan),
            "off_network_share": np.where(pop > 0, offnet / np.where(pop > 0, pop, 1), np.nan),
            "median_time_min": to_min(med),
            "p90_time_min": to_min(p90),
            "centre_time_min": to_min(centre_time_s),
            "facilities_inside": facilities_inside.astype(int),
            "has_facility_inside": facilities_inside > 0,
            "status": status,
            "reason": reason,
        }
    )
    if "share_outside_raster" in villages:
        out.insert(
            out.columns.get_loc("status"),
            "share_outside_raster",
            pd.to_numeric(villages["share_outside_raster"], errors="coerce").to_numpy(),
        )
    out["status_zh"] = out["status"].map(STATUS_ZH)
    return out


def town_table(
    vt: pd.DataFrame, towns: pd.DataFrame, city_code: str = "441900", city_name: str = "东莞市(全市)"
) -> pd.DataFrame:
    """Pass rates per town by villages and by population, plus a city-wide row (``city_code``, Dongguan's 441900).

    ``pass_rate_villages`` = covered villages / villages with data;
    ``pass_rate_population`` = covered people / people.
    """
    g = vt.groupby("town_code", sort=True)
    t = pd.DataFrame(
        {
            "villages": g.size(),
            "villages_with_data": g["status"].apply(lambda s: int((s != "no_data").sum())),
            **{f"villages_{s}": g["status"].apply(lambda x, s=s: int((x == s).sum())) for s in STATUSES},
            "villages_with_facility_inside": g.apply(
                lambda x: int((x["has_facility_inside"] & (x["status"] != "no_data")).sum()), include_groups=False
            ),
            "population": g["population"].sum(),
            "covered_population": g["covered_population"].sum(),
        }
    )
    t = towns[["town_code", "town_name"]].drop_duplicates("town_code").set_index("town_code").join(t, how="left")
    city = t.sum(numeric_only=True)
    t.loc[city_code] = city
    t.loc[city_code, "town_name"] = city_name
    t = t.fillna({c: 0 for c in t.columns if c != "town_name"})
    for c in t.columns:
        if c.startswith("villages"):
            t[c] = t[c].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["pass_rate_villages"] = np.where(
            t["villages_with_data"] > 0,
            t["villages_covered"] / t["villages_with_data"].where(t["villages_with_data"] > 0, 1),
            np.nan,
        )
        t["pass_rate_population"] = np.where(
            t["population"] > 0, t["covered_population"] / t["population"].where(t["population"] > 0, 1), np.nan
        )
    t["facility_in_every_village"] = np.where(
        t["villages_with_data"] == 0,
        "no_data",
        np.where(t["villages_with_facility_inside"] >= t["villages_with_data"], "yes", "no"),
    )
    return t.reset_index().rename(columns={"index": "town_code"})


#: Columns written as whole numbers (people and counts) in every table.
INTEGER_COLUMNS = (
    "population",
    "covered_population",
    "facilities_inside",
    "new_population",
    "cum_new_population",
    "cum_covered_population",
    "elderly",
    "supply_population",
)
#: Decimals per kind of float column when written (shares are fractions 0-1).
TIME_DECIMALS = 2
SHARE_DECIMALS = 6
#: Amounts of supply (m² or beds) are written with 2 decimals; ratios and shares keep 6.
SUPPLY_DECIMALS = 2
SUPPLY_AMOUNT_COLUMNS = ("supply", "required_supply", "deficit")


def table_for_output(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Prepare a table to write: people and counts as integers, and the decimals of every float column.

    People are summed from unrounded cells and rounded once here, so a town's
    or the city's population is exact (10,466,625, not 10,466,600).

    Returns
    -------
    table, decimals
        The table (integer columns as nullable ``Int64``) and, per column,
        the number of decimals to write (times and amounts of supply 2, everything else 6).
    """
    out = df.copy()
    for c in out.columns:
        if (
            (c in INTEGER_COLUMNS or c.startswith("villages"))
            and pd.api.types.is_numeric_dtype(out[c])
            and not pd.api.types.is_bool_dtype(out[c])
        ):
            out[c] = pd.array(np.rint(out[c].to_numpy(dtype=float)), dtype="Float64").astype("Int64")
    decimals = {
        c: (TIME_DECIMALS if c.endswith("_min") else SUPPLY_DECIMALS if c in SUPPLY_AMOUNT_COLUMNS else SHARE_DECIMALS)
        for c in out.columns
        if pd.api.types.is_float_dtype(out[c])
    }
    return out, decimals


def bilingual_name(column: str) -> str:
    """Return the ``"id 中文"`` header of a column (the id alone when it has no Chinese label)."""
    return f"{column} {LABELS_ZH[column]}" if column in LABELS_ZH else column


def bilingual(df: pd.DataFrame) -> pd.DataFrame:
    """Rename columns to ``"id 中文"`` headers for Excel readers (ids stay first, so ``split()[0]`` recovers them)."""
    return df.rename(columns={c: bilingual_name(c) for c in df.columns})
