"""Supply standards beside the time circles: policy targets and supply ratios per town.

Numbers and tables only (no geometry, no files read or written).  Three questions, each answered separately:

1. **How much is there?**  :func:`dgcoverage.inputs.capacity.capacity_from_table` reads a facility's
   capacity (area in m² or beds) from a table column with a Chinese or English header.  A facility whose
   capacity is missing or unusable still counts for the time circle; here it is *unknown* (``NaN``),
   counted and listed, never set to zero and never filled with an average.
2. **Is it enough where the policy measures it?**  :func:`supply_ratios` (this module):
   supply per resident (or per 1,000 older people) per 镇街 and city-wide,
   against the targets of 东府办〔2020〕46号 and 东府〔2020〕1号
   (:data:`SUPPLY_STANDARDS`), with the deficit and a pass/fail/unknown status.
3. **How much can people reach?**  :func:`dgcoverage.compute.twostep.two_step_fca`: the two-step floating
   catchment area method (Luo & Wang 2003; with distance-decay weights, the
   enhanced 2SFCA of Luo & Qi 2009) on network travel times, the circle's limit
   being the catchment; per village and per town as people-weighted means.

Unknown capacities and the status rule
--------------------------------------
Known supply (the sum of the known capacities) is a lower bound of the true
supply, since an unknown capacity is at least zero.  So a town whose *known*
supply already meets the target **passes**; a town below the target with every
capacity known **fails**; a town below the target with some capacity unknown is
**unknown** (the missing figures could close the gap).  A town without people
(or without an elderly figure, for a per-elderly target) is **no_data**.  The
deficit is ``max(0, target x people - known supply)``: exact when every capacity
is known, otherwise an upper bound.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError, DataMismatchError, DgCoverageWarning

#: Code and name of the city-wide row of every town table.
CITY_CODE = "441900"
CITY_NAME = "东莞市(全市)"

# --------------------------------------------------------------------------------------------- standards


@dataclass(frozen=True)
class SupplyStandard:
    """A quantity target of the policy texts (see ``../shared/POLICY.md``).

    Attributes
    ----------
    kind
        Capacity measured: ``"area_m2"`` or ``"beds"`` (:data:`dgcoverage.inputs.capacity.CAPACITY_ALIASES`).
    target
        Target per ``per`` people of ``base`` (e.g. 0.24 m² per 1 resident, 35 beds per 1,000 elderly).
    per
        1 (per person) or 1000 (per 1,000 people).
    base
        ``"residents"`` (常住人口) or ``"elderly"`` (people aged 60+).
    name_zh, source, by_year
        The indicator's Chinese name, the policy text and the year the target is due.
    """

    kind: str
    target: float
    per: int
    base: str
    name_zh: str
    source: str
    by_year: int


#: The supply targets of the two policy texts, keyed by a short id.
SUPPLY_STANDARDS: dict[str, SupplyStandard] = {
    "culture_indoor_area": SupplyStandard(
        "area_m2", 0.24, 1, "residents", "人均拥有室内公共文化设施面积", "东府办〔2020〕46号", 2025
    ),
    "sports_ground_area": SupplyStandard(
        "area_m2", 3.2, 1, "residents", "人均体育场地设施面积", "东府办〔2020〕46号", 2025
    ),
    "elderly_care_beds": SupplyStandard(
        "beds", 35.0, 1000, "elderly", "每千名老年人拥有养老床位", "东府〔2020〕1号", 2021
    ),
}

#: ASSUMPTION, to be replaced by a citable source: share of Dongguan's residents aged 60 and over.
#: No age structure is staged in ../shared (seeds, data).  The value is the 7th-census (2020-11-01) figure
#: 5.47 % (65+: 3.54 %) as reported in the press (东莞时间网 on the 广东省第七次全国人口普查公报 第四号,
#: 2021-05-15, table 4-2), not checked against the bulletin itself; one repost gives 2.85 % instead.
#: See dgcoverage/data/dongguan/ELDERLY_SHARE_SOURCE.md.  Pass ``elderly_share`` (one share, or one per
#: town) or an ``elderly`` column of counts per town to replace it.
ELDERLY_SHARE_DEFAULT = 0.0547
#: Where :data:`ELDERLY_SHARE_DEFAULT` comes from (said in tables' ``attrs``, towns.csv and summary.json).
ELDERLY_SHARE_SOURCE = (
    "ASSUMPTION (not from a verified table): 5.47% of residents aged 60+, Dongguan, 7th census 2020, as "
    "reported in the press from 广东省第七次全国人口普查公报(第四号) table 4-2 (one repost gives 2.85%); see "
    "dgcoverage/data/dongguan/ELDERLY_SHARE_SOURCE.md; to use the real figure, give the 60+ population map or the "
    "share of people aged 60+ (settings elderly_population, elderly_share)"
)

# --------------------------------------------------------------------------------------------- policy ratios

SUPPLY_STATUSES = ("pass", "fail", "unknown", "no_data")
SUPPLY_STATUS_ZH = {"pass": "达标", "fail": "未达标", "unknown": "待核实(部分设施容量未知)", "no_data": "无数据"}


def _target(target_per_capita: float | None, target_per_1000: float | None) -> tuple[float, int]:
    if (target_per_capita is None) == (target_per_1000 is None):
        raise ConfigError("give exactly one of target_per_capita and target_per_1000")
    target, per = (target_per_capita, 1) if target_per_capita is not None else (target_per_1000, 1000)
    if not (target is not None and np.isfinite(target) and target > 0):
        raise ConfigError(f"the supply target must be a number > 0, got {target!r}")
    return float(target), per


def _elderly_counts(
    towns: pd.DataFrame, elderly_share: float | Mapping[str, float] | None
) -> tuple[NDArray[np.float64], str]:
    """Older people per town: from ``elderly_share`` if given, else an ``elderly`` column, else the default share."""
    pop = towns["population"].to_numpy(dtype=float)
    if elderly_share is None and "elderly" in towns.columns:
        return pd.to_numeric(towns["elderly"], errors="coerce").to_numpy(dtype=float), "per-town table (elderly)"
    if elderly_share is None:
        return pop * ELDERLY_SHARE_DEFAULT, ELDERLY_SHARE_SOURCE
    if isinstance(elderly_share, Mapping):
        share = np.array([float(elderly_share.get(c, np.nan)) for c in towns["town_code"]])
        source = "per-town shares (elderly_share)"
    else:
        share = np.full(len(towns), float(elderly_share))
        source = f"one share for every town: {float(elderly_share):.6g}"
    bad = np.isfinite(share) & ((share < 0) | (share > 1))
    if bad.any():
        raise ConfigError(f"elderly shares must lie in [0, 1]: {towns['town_code'][bad].tolist()[:10]}")
    return pop * share, source


def _town_index(facility_town: ArrayLike, towns: pd.DataFrame) -> tuple[NDArray[np.int64], int]:
    """Row of ``towns`` for each facility (``-1``: no town or a town not in the table) and how many are outside."""
    codes = pd.Series(np.asarray(facility_town, dtype=object)).map(
        lambda c: "" if c is None or (isinstance(c, float) and np.isnan(c)) else str(c).strip()
    )
    pos = {c: i for i, c in enumerate(towns["town_code"])}
    idx = codes.map(lambda c: pos.get(c, -1)).to_numpy(dtype=np.int64)
    return idx, int((idx < 0).sum())


def _status(
    base: NDArray[np.float64], supply: NDArray[np.float64], required: NDArray[np.float64], unknown: NDArray[np.int64]
) -> tuple[list[str], list[str]]:
    """Status and reason per row (see the module docstring for the rule)."""
    status, reason = [], []
    for b, s, r, u in zip(base, supply, required, unknown):
        if not (np.isfinite(b) and b > 0):
            status.append("no_data")
            reason.append("no people (or no elderly figure) to measure supply against")
        elif s >= r * (1 - 1e-12):
            status.append("pass")
            reason.append(f"met by known capacities; {u} facilities of unknown capacity only add" if u else "")
        elif u:
            status.append("unknown")
            reason.append(
                f"known capacities fall {r - s:,.0f} short; the {u} facilities of unknown capacity could close the gap"
            )
        else:
            status.append("fail")
            reason.append("no facility with capacity" if s == 0 else "")
    return status, reason


def supply_ratios(
    facility_town: ArrayLike,
    capacity: ArrayLike,
    towns: pd.DataFrame,
    *,
    target_per_capita: float | None = None,
    target_per_1000: float | None = None,
    elderly: bool = False,
    elderly_share: float | Mapping[str, float] | None = None,
    supply_unit: str = "m2",
    city_code: str = CITY_CODE,
    city_name: str = CITY_NAME,
) -> pd.DataFrame:
    """Supply against a per-person target per town (镇街) and city-wide, as the policy texts measure it.

    Parameters
    ----------
    facility_town
        Town code of each facility (``None``/empty: in no town, or a code not in ``towns``: left out of
        every row and counted in ``attrs["facilities_outside_towns"]``, with a warning).
    capacity
        Capacity of each facility (m² or beds; ``NaN`` = unknown, e.g. from
        :func:`dgcoverage.inputs.capacity.capacity_from_table`).
    towns
        ``town_code``, ``population`` (residents) and optionally ``town_name`` and ``elderly`` (people aged
        60+); a city-wide row (``city_code``) is ignored and recomputed, so a town table of
        :func:`dgcoverage.compute.coverage.town_table` can be passed as it is.
    target_per_capita, target_per_1000
        The target per person or per 1,000 people (exactly one), e.g. 0.24 (m²/person), 35 (beds/1,000).
    elderly
        Measure against older people (60+) instead of residents.  Their number is, in this order:
        ``population x elderly_share`` when ``elderly_share`` is given (one share, or a mapping town code ->
        share; towns missing from it have no figure: ``no_data``), else the ``elderly`` column of ``towns``,
        else ``population x`` :data:`ELDERLY_SHARE_DEFAULT` (an assumption; see its comment).
    elderly_share
        See ``elderly``.
    supply_unit
        Unit of the capacities, for the ``ratio_unit`` column (``"m2"``, ``"beds"``).
    city_code, city_name
        The city-wide row.

    Returns
    -------
    pandas.DataFrame
        One row per town, then the city row: ``town_code, town_name, facilities,
        facilities_capacity_known, facilities_capacity_unknown, capacity_unknown_share`` (of the
        facilities; NaN without facilities), ``supply`` (sum of the known capacities), ``population``,
        ``elderly`` (per-elderly targets only), ``supply_ratio`` (supply per person, or per 1,000),
        ``target_ratio``, ``ratio_unit``, ``required_supply`` (target x people), ``deficit``
        (``max(0, required - supply)``; an upper bound when capacities are unknown; NaN for ``no_data``),
        ``status`` (``pass``/``fail``/``unknown``/``no_data``, rule in the module docstring),
        ``status_zh`` and ``reason``.  The city row sums the towns: its deficit nets surpluses against
        shortfalls (it is smaller than the sum of the towns' deficits).  ``attrs``: ``target``, ``per``,
        ``base``, ``elderly_source``, ``facilities_outside_towns``.
    """
    target, per = _target(target_per_capita, target_per_1000)
    cap = np.asarray(capacity, dtype=float).reshape(-1)
    ftown = np.asarray(facility_town, dtype=object).reshape(-1)
    if cap.shape[0] != ftown.shape[0]:
        raise DataMismatchError(f"{cap.shape[0]} capacities for {ftown.shape[0]} facilities")
    if (np.isinf(cap) | (cap < 0)).any():
        raise DataMismatchError("capacities must be >= 0 or NaN (unknown); read them with capacity_from_table")
    missing = [c for c in ("town_code", "population") if c not in towns.columns]
    if missing:
        raise DataMismatchError(f"the town table lacks {missing}; columns present: {list(towns.columns)}")
    t = towns.assign(town_code=towns["town_code"].astype(str).str.strip())
    t = t[t["town_code"] != city_code].reset_index(drop=True)
    if t["town_code"].duplicated().any():
        raise DataMismatchError(f"town codes repeat: {sorted(set(t['town_code'][t['town_code'].duplicated()]))}")
    idx, outside = _town_index(ftown, t)
    if outside:
        warnings.warn(
            f"{outside} facilities lie in no town of the table and are left out of the supply ratios",
            DgCoverageWarning,
            stacklevel=2,
        )
    nt = len(t)
    inside = idx >= 0
    known = inside & np.isfinite(cap)

    def per_town(mask: NDArray[np.bool_], w: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        return cast("NDArray[np.float64]", np.bincount(idx[mask], weights=None if w is None else w[mask], minlength=nt))

    n_fac = per_town(inside).astype(np.int64)
    n_known = per_town(known).astype(np.int64)
    supply = per_town(known, np.nan_to_num(cap))
    pop = pd.to_numeric(t["population"], errors="coerce").to_numpy(dtype=float)
    if elderly:
        base, source = _elderly_counts(t.assign(population=pop), elderly_share)
    else:
        base, source = pop, "residents"
    with_people = np.isfinite(pop) & (pop > 0)
    city_base = float(base[with_people].sum()) if np.isfinite(base[with_people]).all() else np.nan
    codes = [*t["town_code"].tolist(), city_code]
    names = [*(t["town_name"].tolist() if "town_name" in t.columns else [""] * nt), city_name]
    out = pd.DataFrame({"town_code": codes, "town_name": names})
    out["facilities"] = np.append(n_fac, n_fac.sum())
    out["facilities_capacity_known"] = np.append(n_known, n_known.sum())
    out["facilities_capacity_unknown"] = out["facilities"] - out["facilities_capacity_known"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["capacity_unknown_share"] = out["facilities_capacity_unknown"] / out["facilities"].where(
            out["facilities"] > 0
        )
    out["supply"] = np.append(supply, supply.sum())
    out["population"] = np.append(pop, np.nansum(pop))
    b = np.append(base, city_base)
    if elderly:
        out["elderly"] = b
    ok = np.isfinite(b) & (b > 0)
    safe = np.where(ok, b, 1.0)
    out["supply_ratio"] = np.where(ok, out["supply"].to_numpy() / safe * per, np.nan)
    out["target_ratio"] = target
    group = "elderly (60+)" if elderly else ("resident" if per == 1 else "residents")
    out["ratio_unit"] = f"{supply_unit} per {group}" if per == 1 else f"{supply_unit} per {per:,} {group}"
    required = np.where(np.isfinite(b), target * np.nan_to_num(b) / per, np.nan)
    out["required_supply"] = required
    out["deficit"] = np.where(ok, np.maximum(0.0, required - out["supply"].to_numpy()), np.nan)
    status, reason = _status(b, out["supply"].to_numpy(), required, out["facilities_capacity_unknown"].to_numpy())
    out["status"] = status
    out["status_zh"] = out["status"].map(SUPPLY_STATUS_ZH)
    out["reason"] = reason
    out.attrs.update(
        target=target,
        per=per,
        base="elderly" if elderly else "residents",
        elderly_source=source if elderly else None,
        facilities_outside_towns=outside,
    )
    return out
