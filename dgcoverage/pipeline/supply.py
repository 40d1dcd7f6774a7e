"""The supply part of a circle's run: policy ratios per town, 2SFCA per cell, village and town.

The capacities come from the facilities (read at the boundary by :mod:`.facilities`); the people aged 60+
from an elderly raster, the settings or the documented default share.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.supply import CITY_CODE, ELDERLY_SHARE_DEFAULT, ELDERLY_SHARE_SOURCE, supply_ratios
from ..compute.twostep import town_accessibility, two_step_fca, village_accessibility
from ..errors import (
    ConfigError,
    DataMismatchError,
    DgCoverageWarning,
)
from ..inputs.config import Circle, Settings
from .study import Study

if TYPE_CHECKING:  # pragma: no cover
    pass
from .doubt import doubt_summary, doubted_figures, withhold_verdicts
from .facilities import capacity_warnings, read_capacity

#: What supply ratios are measured against (``summary.json`` → ``supply.population_base``).
POPULATION_BASE = (
    "study population: the people of the population raster inside each town's villages (towns.csv population), "
    "the same people the time circle measures; not the 2020 census per town"
)


#: How the number of people aged 60+ was obtained (``elderly_basis`` in the tables).
ELDERLY_BASES = {
    "default_share": "the documented default share (dgcoverage.compute.supply.ELDERLY_SHARE_DEFAULT)",
    "settings_share": "one share for every town from the settings (elderly_share)",
    "settings_town_shares": "a share per town from the settings ([settings.elderly_share])",
    "settings_town_counts": "people aged 60+ per town from the settings ([settings.elderly_population])",
    "raster_town_counts": "people aged 60+ per town summed from the elderly raster",
}


def _facility_capacity(facilities: gpd.GeoDataFrame, circle: Circle) -> tuple[np.ndarray, dict[str, int], str | None]:
    """Capacity per facility for the circle (NaN = unknown), new counted warnings and the column read.

    Facilities from :func:`load_facilities` carry it already (counted there); any other GeoDataFrame is
    read here, from ``circle.capacity_column``, a recognised header or a ``capacity`` column.
    """
    meta = facilities.attrs.get("capacity")
    if isinstance(meta, dict) and meta.get("kind") not in (None, circle.capacity):
        raise DataMismatchError(
            f"the facilities carry {meta['kind']} capacities but {circle.id} counts {circle.capacity}. "
            "Fix: load them for this circle: load_facilities(study, circle, ...)"
        )
    col = facilities["capacity"] if "capacity" in facilities.columns else None
    if isinstance(meta, dict) and col is not None and pd.api.types.is_float_dtype(col):
        cap = col.to_numpy(dtype=float)
        bad = ~np.isnan(cap) & ~(np.isfinite(cap) & (cap > 0))
        if bad.any():
            raise DataMismatchError(
                f"{circle.id}: capacities must be > 0 or NaN (unknown); rows {np.nonzero(bad)[0].tolist()[:10]} "
                "are not. Fix: set an unknown capacity to NaN, never to 0"
            )
        return cap, {}, meta.get("column")
    table = pd.DataFrame(facilities.drop(columns="geometry")).reset_index(drop=True)
    values, counts, used = read_capacity(table, circle, f"{circle.id} facilities")
    return values, capacity_warnings(counts), used


def _elderly_basis(
    settings: Settings, towns: pd.DataFrame, study_towns: pd.DataFrame | None = None, city_code: str = CITY_CODE
) -> tuple[pd.DataFrame, Any, str, str]:
    """Towns (with an ``elderly`` column for counts), the ``elderly_share`` argument, the basis and its source.

    An elderly raster read by :func:`load_study` (``study_towns["elderly_raster"]``) comes first; a per-town
    table must hold every town of the study with people (:class:`ConfigError` naming the key).
    """
    if study_towns is not None and "elderly_raster" in study_towns:
        counts = dict(zip(study_towns["town_code"].astype(str), study_towns["elderly_raster"].astype(float)))
        e = towns["town_code"].map(counts).astype(float)
        city = towns["town_code"] == city_code
        e[city] = float(e[~city].sum())
        return towns.assign(elderly=e), None, "raster_town_counts", ELDERLY_BASES["raster_town_counts"]
    with_people = sorted(towns.loc[(towns["town_code"] != city_code) & (towns["population"] > 0), "town_code"])
    for key in ("elderly_population", "elderly_share"):
        table = getattr(settings, key)
        if isinstance(table, Mapping):
            missing = [c for c in with_people if c not in table]
            if missing:
                raise ConfigError(
                    f"settings {key} lacks {len(missing)} town(s) of the study with people: {missing[:10]}. "
                    f"Fix: give every town, or one share for all (elderly_share = 0.0547)"
                )
    if settings.elderly_population is not None:
        counts = {str(k): float(v) for k, v in settings.elderly_population.items()}
        return (
            towns.assign(elderly=towns["town_code"].map(counts).astype(float)),
            None,
            "settings_town_counts",
            ELDERLY_BASES["settings_town_counts"],
        )
    share = settings.elderly_share
    if isinstance(share, Mapping):
        return (
            towns,
            {str(k): float(v) for k, v in share.items()},
            "settings_town_shares",
            ELDERLY_BASES["settings_town_shares"],
        )
    if share is not None:
        return towns, float(share), "settings_share", f"{ELDERLY_BASES['settings_share']}: {float(share):.6g}"
    return towns, None, "default_share", ELDERLY_SHARE_SOURCE


def _settings_elderly_plausible(
    towns: pd.DataFrame, share: Any, basis: str, city_code: str, warn: dict[str, int]
) -> None:
    """Check the settings' people aged 60+ against the towns' people, as the elderly raster's are checked.

    More older people than people in a town is refused (:class:`DataMismatchError` naming the key); a share
    beyond 1-40 % (towns of 1,000 people or more) is said and counted (``elderly_share_settings_implausible``),
    which withholds the verdicts resting on it (:mod:`.doubt`).
    """
    if basis not in ("settings_town_counts", "settings_town_shares", "settings_share"):
        return
    t = towns[(towns["town_code"].astype(str) != city_code) & (towns["population"] > 0)]
    pop = t["population"].astype(float).to_numpy()
    codes = t["town_code"].astype(str).to_numpy()
    if basis == "settings_town_counts":
        key = "elderly_population"
        elderly = t["elderly"].astype(float).to_numpy()
        over = elderly > pop * 1.0001 + 0.5
        if over.any():
            said = ", ".join(f"{c!r} = {e:,.0f} > {p:,.0f}" for c, e, p in zip(codes[over], elderly[over], pop[over]))
            raise DataMismatchError(
                f"settings elderly_population: more people aged 60+ than people in {int(over.sum())} town(s) "
                f"({said[:300]}; people: the supply population basis). Fix: check those figures (people aged 60+, "
                "not a total or another unit) and their year"
            )
        ratio = elderly / pop
    else:
        key = "elderly_share"
        ratio = np.array([float(share[c]) if isinstance(share, Mapping) else float(share) for c in codes])
    odd = np.isfinite(ratio) & ((ratio > 0.4) | ((ratio < 0.01) & (pop >= 1000)))
    if odd.any():
        warn["elderly_share_settings_implausible"] = int(odd.sum())
        said = ", ".join(f"{c} {r:.1%}" for c, r in zip(codes[odd], ratio[odd]))
        warnings.warn(
            f"settings {key}: people aged 60+ are under 1 % or over 40 % of the people in {int(odd.sum())} "
            f"town(s) ({said[:200]}): no supply verdict rests on them. Fix: check the figures (a share is "
            "0.0547 for 5.47 %; counts are people aged 60+)",
            DgCoverageWarning,
            stacklevel=3,
        )


def _sigma_minutes(circle: Circle) -> float | None:
    """Gaussian width used by the circle's 2SFCA (default half the limit); None for other decays."""
    if circle.fca_decay != "gaussian":
        return None
    return circle.fca_sigma_minutes if circle.fca_sigma_minutes is not None else circle.minutes / 2.0


def _round(x: Any, n: int) -> float | None:
    """``x`` rounded to ``n`` decimals for summary.json (None when missing or not finite)."""
    return round(float(x), n) if x is not None and np.isfinite(float(x)) else None


#: People the supply ratios are measured against (``[settings] supply_population``), as said in the outputs.
SUPPLY_POPULATION_TEXT = {
    "raster": ("raster", POPULATION_BASE),
    "census": (
        "census 2020",
        "2020 census resident population (常住人口) per town, 7th national census (2020-11-01), embedded "
        "(dgcoverage/data/dongguan/town_population_2020.csv); towns without a census row (东莞港, 东莞生态园, "
        "东莞滨海湾新区, whose residents the census counts in other towns) have no_data. The 2SFCA access "
        "scores still spread each town's demand as the population raster does",
    ),
}


def _supply_population(
    settings: Settings, towns: pd.DataFrame, warn: dict[str, int], study: Study | None = None
) -> pd.DataFrame:
    """Towns with the ``population`` the supply ratios use: the raster's (as given) or the 2020 census.

    The census is Dongguan's embedded table, or a region's own (its towns' ``population`` column).
    """
    if settings.supply_population != "census":
        return towns
    from ..inputs.villages import dongguan_town_table

    city_code = CITY_CODE if study is None else study.city_code
    if study is not None and study.region:
        own = study.towns.set_index("town_code")
        census = own["census_2020"].astype(float) if "census_2020" in own else pd.Series(dtype=float)
    else:
        census = dongguan_town_table().set_index("town_code")["census_2020"].astype(float)
    pop = towns["town_code"].map(census).astype(float)
    lacking = towns[(towns["town_code"] != city_code) & pop.isna() & (towns["population"] > 0)]
    if len(lacking):
        warn["supply_towns_without_census"] = len(lacking)
        warnings.warn(
            f"{len(lacking)} town(s) with people have no 2020 census figure ({', '.join(lacking['town_name'])}): "
            'their supply ratio is no_data with supply_population = "census". Fix: use supply_population = '
            '"raster" for them, or read the census note in dgcoverage/data/dongguan/SOURCE.md',
            DgCoverageWarning,
            stacklevel=3,
        )
    return towns.assign(population=pop)


def _village_elderly_share(st: pd.DataFrame, vtown: np.ndarray) -> np.ndarray:
    """Share aged 60+ used for each village: its town's (elderly / population of the supply ratios)."""
    t = st.set_index("town_code")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (t["elderly"] / t["population"].where(t["population"] > 0)).astype(float)
    return pd.Series(vtown).map(share).to_numpy(dtype=float)


def measure_supply(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    fac_village: np.ndarray,
    tt: pd.DataFrame,
    synthetic: bool,
) -> dict[str, Any]:
    """Supply against the circle's standard: policy ratios per town, 2SFCA per cell, village and town.

    Returns
    -------
    dict
        ``villages`` and ``towns`` (columns to join), ``facilities`` (``capacity``, ``fca_ratio``),
        ``cell_access`` (2SFCA per cell, in the standard's unit), ``summary`` (``summary.json`` →
        ``supply``) and ``warnings`` (new counts).
    """
    cap, warn, cap_col = _facility_capacity(facilities, circle)
    vtown = study.villages["town_code"].astype(str).to_numpy()
    ftown = np.array([vtown[i] if i >= 0 else None for i in fac_village], dtype=object)
    elderly = circle.supply_base == "elderly"
    towns_in = _supply_population(study.settings, tt[["town_code", "town_name", "population"]], warn, study)
    share_arg, basis, basis_source = None, None, None
    if elderly:
        towns_in, share_arg, basis, basis_source = _elderly_basis(
            study.settings, towns_in, study.towns, study.city_code
        )
        _settings_elderly_plausible(towns_in, share_arg, basis, study.city_code, warn)
        if basis == "raster_town_counts":
            basis_source = f"{basis_source} {study.inputs.get('elderly', {}).get('path', '')}".rstrip()
        elif basis != "default_share":
            said = study.settings.elderly_source or "not given (say it with [settings] elderly_source)"
            basis_source = f"{basis_source}; source: {said}"
    unit = "m2" if circle.capacity == "area_m2" else "beds"
    per = circle.supply_per
    target = float(circle.supply_target) if circle.supply_target is not None else np.nan
    kw = {"target_per_capita": target} if per == 1 else {"target_per_1000": target}
    city_kw = {"city_code": study.city_code, "city_name": study.city_name}
    st = supply_ratios(
        ftown, cap, towns_in, elderly=elderly, elderly_share=share_arg, supply_unit=unit, **kw, **city_kw
    )
    outside = int(st.attrs["facilities_outside_towns"])
    if outside:
        warn["facilities_left_out_of_supply"] = outside
    doubts = doubted_figures(  # no verdict on a figure a warning doubts (issue 19)
        dict(study.warnings),
        {**dict(facilities.attrs.get("warnings", {})), **warn},
        elderly_raster=elderly and basis == "raster_town_counts",
        population_from_raster=study.settings.supply_population == "raster",
    )
    st = withhold_verdicts(st, doubts, study.city_code)
    # demand per cell: residents, or residents x the share aged 60+ of the cell's town (cells in no village:
    # the city-wide share)
    demand = study.cell_pop.astype(float)
    if elderly:
        t = st.set_index("town_code")
        with np.errstate(invalid="ignore", divide="ignore"):
            share_t = (t["elderly"] / t["population"].where(t["population"] > 0)).astype(float)
        city_share = float(share_t.get(study.city_code, np.nan))
        cv = study.cell_village
        cell_town = np.where(cv >= 0, vtown[np.maximum(cv, 0)], "")
        s = pd.Series(cell_town).map(share_t.drop(study.city_code)).to_numpy(dtype=float)
        demand = demand * np.where(np.isfinite(s), s, city_share if np.isfinite(city_share) else 0.0)
    a_mps = circle.access_speed_mps
    res = two_step_fca(
        study.graph,
        fnode,
        fdist / a_mps,
        cap,
        study.cell_node,
        study.cell_snap_m / a_mps,
        demand,
        circle.limit_s,
        circle.speed_mps,
        circle.fca_decay,
        sigma_s=None if circle.fca_sigma_minutes is None else circle.fca_sigma_minutes * 60.0,
        steps=[(m * 60.0, w) for m, w in circle.fca_steps] or None,
    )
    cell_access = res.access * per
    nv = len(study.villages)
    cv = study.cell_village
    per_cell = {
        "access_supply": cell_access,
        "access_meets_target_share": (cell_access >= target * (1 - 1e-12)).astype(float),
        "access_unknown_share": (res.unknown_within > 0).astype(float),
    }
    vcols = pd.DataFrame({k: village_accessibility(cv, demand, v, nv) for k, v in per_cell.items()})
    inv = cv >= 0
    v_demand = np.bincount(cv[inv], weights=demand[inv], minlength=nv)
    tcols = st.drop(columns=["town_name", "population", "capacity_unknown_share"]).rename(
        columns={"status": "supply_status", "status_zh": "supply_status_zh", "reason": "supply_reason"}
    )
    pop_basis, pop_basis_text = SUPPLY_POPULATION_TEXT[study.settings.supply_population]
    tcols.insert(1, "supply_population", st["population"].to_numpy())
    tcols.insert(2, "population_basis", pop_basis)
    for k in per_cell:
        acc = town_accessibility(vtown, v_demand, vcols[k].to_numpy(), tt, **city_kw)
        tcols = tcols.merge(acc[["town_code", "access"]].rename(columns={"access": k}), on="town_code", how="left")
    if doubts or not np.isfinite(cap).any():  # a share of people 达标 on a doubted or unknown supply: none
        vcols["access_meets_target_share"] = np.nan
        tcols["access_meets_target_share"] = np.nan
    vcols["ratio_unit"] = st["ratio_unit"].iloc[0]
    if elderly:
        tcols.insert(tcols.columns.get_loc("elderly") + 1, "elderly_basis", basis)
        tcols.insert(tcols.columns.get_loc("elderly") + 2, "elderly_source", basis_source)
        vcols["elderly_basis"] = basis
        vcols["elderly_share"] = _village_elderly_share(st, vtown)
    city = st[st["town_code"] == study.city_code].iloc[0]
    tacc = tcols.set_index("town_code").loc[study.city_code]
    towns_only = st[st["town_code"] != study.city_code]
    summary: dict[str, Any] = {
        "indicator": circle.supply_indicator,
        "source": circle.supply_source,
        "capacity": circle.capacity,
        "capacity_column": cap_col,
        "capacity_synthetic": synthetic,
        "target": target,
        "per": per,
        "base": circle.supply_base,
        "ratio_unit": str(city["ratio_unit"]),
        "population_basis": study.settings.supply_population,
        "population_base": pop_basis_text,
        "facilities": {
            "total": len(cap),
            "capacity_known": int(np.isfinite(cap).sum()),
            "capacity_unknown": int((~np.isfinite(cap)).sum()),
            "outside_towns": outside,
        },
        "city": {
            "population": int(round(float(city["population"]))),
            "supply": _round(city["supply"], 2),
            "supply_ratio": _round(city["supply_ratio"], 6),
            "target_ratio": target,
            "required_supply": _round(city["required_supply"], 2),
            "deficit": _round(city["deficit"], 2),
            "status": str(city["status"]),
            "status_zh": str(city["status_zh"]),
            "reason": str(city["reason"]),
        },
        "towns_by_status": towns_only["status"]
        .value_counts()
        .reindex(["pass", "fail", "unknown", "no_data"], fill_value=0)
        .astype(int)
        .to_dict(),
        "towns_deficit_sum": _round(towns_only["deficit"].sum(), 2),
        "doubted": doubt_summary(doubts, st.attrs["verdicts_withheld"]),
        "access": {
            "method": "2SFCA" if circle.fca_decay == "none" else f"2SFCA with {circle.fca_decay} distance decay",
            "references": "Luo & Wang 2003 (2SFCA); Luo & Qi 2009 (E2SFCA, stepwise)",
            "catchment_minutes": circle.minutes,
            "decay": circle.fca_decay,
            "sigma_minutes": _sigma_minutes(circle),
            "steps_minutes": [list(p) for p in circle.fca_steps] or None,
            "weights": "older people (60+)" if elderly else "residents",
            "pairs_within_catchment": int(res.pairs),
            "facilities_serving_nobody": int((np.isfinite(cap) & ~np.isfinite(res.facility_ratio)).sum()),
            "city_access_supply": _round(tacc["access_supply"], 6),
            "population_share_meeting_target": _round(tacc["access_meets_target_share"], 6),
            "population_share_unknown_in_reach": _round(tacc["access_unknown_share"], 6),
        },
    }
    if elderly:
        summary["city"]["elderly"] = _round(city["elderly"], 1)
        summary["elderly"] = {
            "basis": basis,
            "source": basis_source,
            "city_share": _round(float(city["elderly"]) / float(city["population"]), 6)
            if float(city["population"]) > 0
            else None,
            "default_share": ELDERLY_SHARE_DEFAULT,
        }
    return {
        "villages": vcols,
        "towns": tcols,
        "facilities": {"capacity": cap, "fca_ratio": res.facility_ratio * per},
        "cell_access": cell_access,
        "cell_unknown": res.unknown_within > 0,
        "doubted": sorted(doubts),
        "capacity_known": int(np.isfinite(cap).sum()),
        "summary": summary,
        "warnings": warn,
    }
