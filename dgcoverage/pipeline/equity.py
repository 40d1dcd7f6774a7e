"""The equity part of a circle's run: inequality of access per town and city-wide (towns.csv, summary).

The figures (:mod:`dgcoverage.compute.equity`) are of every populated cell in a village, weighted by its people:

- of the **travel time** to the nearest facility, capped at the report cap (FGT poverty: beyond the limit);
- of the **2SFCA score** (access-weighted supply, in the standard's unit) where the circle has a supply standard,
  weighted by the people the standard counts (residents, or residents x their town's share aged 60+ for a
  standard per older person: the 2SFCA's own demand); FGT poverty there is the shortfall *below the standard*.

For every figure **higher is worse** (more unequal; more people beyond the limit or short of the standard, and
further).

For **older people** (``elderly_*`` columns, per town and city-wide, where an elderly raster or share is given)
the time figures are weighted by the people aged 60+ of each cell: from the elderly raster cell by cell
(:attr:`Study.cell_elderly`: each raster cell's people to the nearest populated cell), else people times their
town's share aged 60+ from the settings.  With one share per town every cell of a town has the same share, so a
town's figures for older people equal its figures for all people (the weights differ by a constant factor and
every figure is scale-free): only the city-wide figures differ then; the raster gives each town its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..compute.equity import EQUITY_KEYS, capped_times, equity_by_group, equity_figures, score_figures
from ..inputs.config import Circle
from .study import Study

#: towns.csv column per figure of :data:`~dgcoverage.compute.equity.EQUITY_KEYS`.
EQUITY_COLUMNS = {
    "gini": "time_gini",
    "theil_t": "time_theil_t",
    "palma": "time_palma",
    "fgt0": "poverty_headcount",
    "fgt1": "poverty_gap",
    "fgt2": "poverty_severity",
}

#: towns.csv column per figure for older people (time, weighted by the people aged 60+).
ELDERLY_EQUITY_COLUMNS = {k: f"elderly_{v}" for k, v in EQUITY_COLUMNS.items()}

#: towns.csv column per figure of the 2SFCA score (:func:`~dgcoverage.compute.equity.score_figures`).
SUPPLY_EQUITY_COLUMNS = {
    "gini": "access_supply_gini",
    "theil_t": "access_supply_theil_t",
    "palma": "access_supply_palma",
    "fgt0": "below_standard_headcount",
    "fgt1": "below_standard_gap",
    "fgt2": "below_standard_severity",
}
#: towns.csv column: share of the people (the weights) with a facility of unknown capacity within reach.
SUPPLY_UNKNOWN_COLUMN = "access_supply_unknown_share"


def _elderly_share(study: Study, tt: pd.DataFrame) -> tuple[pd.Series | None, str | None]:
    """Share aged 60+ per town code (elderly raster, settings counts or shares), and where it came from."""
    pop = tt.set_index("town_code")["population"].astype(float)
    pop = pop[pop.index != study.city_code]
    s = study.settings
    with np.errstate(invalid="ignore", divide="ignore"):
        if "elderly_raster" in study.towns:
            counts = pd.Series(
                study.towns["elderly_raster"].astype(float).to_numpy(), index=study.towns["town_code"].astype(str)
            )
            return (counts.reindex(pop.index) / pop.where(pop > 0)).astype(float), "elderly raster per town"
        if isinstance(s.elderly_population, Mapping):
            counts = pd.Series({str(k): float(v) for k, v in s.elderly_population.items()})
            return (counts.reindex(pop.index) / pop.where(pop > 0)).astype(float), "settings elderly_population"
    if isinstance(s.elderly_share, Mapping):
        shares = pd.Series({str(k): float(v) for k, v in s.elderly_share.items()})
        return shares.reindex(pop.index).astype(float), "settings elderly_share per town"
    if s.elderly_share is not None:
        return pd.Series(float(s.elderly_share), index=pop.index), "settings elderly_share"
    return None, None


def _elderly_weights(
    study: Study, tt: pd.DataFrame, cell_town: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, str, bool] | None:
    """People aged 60+ per cell, what they are, and whether they vary cell by cell (``None``: not given)."""
    cell_e = getattr(study, "cell_elderly", None)
    if cell_e is not None and len(cell_e) == len(w):
        return np.asarray(cell_e, dtype=np.float64), "people aged 60+ per cell (elderly raster, cell by cell)", True
    share, source = _elderly_share(study, tt)
    if share is None:
        return None
    codes = tt["town_code"].astype(str).to_numpy()
    town_share = np.array([float(share.get(c, np.nan)) if c in share.index else np.nan for c in codes])
    s = np.where(cell_town >= 0, town_share[np.maximum(cell_town, 0)], np.nan)
    return w * np.where(np.isfinite(s), s, 0.0), f"people x their town's share aged 60+ ({source})", False


def _round(v: float) -> float | None:
    return round(float(v), 6) if np.isfinite(v) else None


def town_equity(
    study: Study, circle: Circle, cell_t: np.ndarray, tt: pd.DataFrame, sup: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the equity columns to the town table (city row included) and return the summary's ``equity`` figures.

    Parameters
    ----------
    study, circle
        The study and the circle (its limit is the poverty line; the cap is the larger of the limit and
        ``report_cap_minutes``).
    cell_t
        Seconds from every demand cell to its nearest facility (``inf``: beyond the cap or not reached).
    tt
        The town table (:func:`~dgcoverage.compute.coverage.town_table`).
    sup
        The circle's supply (:func:`~dgcoverage.pipeline.supply.measure_supply`; ``None``: no standard): adds the
        equity of the 2SFCA score (:func:`supply_equity`).
    """
    cap_s = max(circle.limit_s, study.settings.report_cap_minutes * 60.0)
    x = capped_times(cell_t, cap_s)
    in_v = study.cell_village >= 0
    vtown = study.villages["town_code"].astype(str).to_numpy()
    codes = tt["town_code"].astype(str).to_numpy()
    index = {c: i for i, c in enumerate(codes)}
    cell_town = np.full(len(x), -1, dtype=np.int64)
    cell_town[in_v] = [index.get(c, -1) for c in vtown[study.cell_village[in_v]]]
    w = np.asarray(study.cell_pop, dtype=np.float64)
    by_town = equity_by_group(cell_town, len(codes), x, w, circle.limit_s)
    keep = cell_town >= 0
    city = equity_figures(x[keep], w[keep], circle.limit_s)
    out = tt.copy()
    is_city = codes == study.city_code
    for k in EQUITY_KEYS:
        col = by_town[k]
        col[is_city] = city[k]
        out[EQUITY_COLUMNS[k]] = col
    summary: dict[str, Any] = {
        "of": "travel time to the nearest facility, every populated cell in a village weighted by its people",
        "cap_minutes": round(cap_s / 60.0, 6),
        "capped": "times beyond the cap, unreachable or off the network count as the cap",
        "poverty_line_minutes": circle.minutes,
        "city": {EQUITY_COLUMNS[k]: _round(city[k]) for k in EQUITY_KEYS},
    }
    older = _elderly_weights(study, tt, cell_town, w)
    if older is not None:
        we, what, per_cell = older
        ok = keep & (we > 0)
        by_town_e = equity_by_group(np.where(ok, cell_town, -1), len(codes), x, we, circle.limit_s)
        city_e = equity_figures(x[ok], we[ok], circle.limit_s)
        for k in EQUITY_KEYS:
            col = by_town_e[k]
            col[is_city] = city_e[k]
            out[ELDERLY_EQUITY_COLUMNS[k]] = col
        summary["city_elderly"] = {EQUITY_COLUMNS[k]: _round(city_e[k]) for k in EQUITY_KEYS}
        summary["elderly_weights"] = what
        summary["elderly_towns"] = (
            "each town's figures for older people are its own (the elderly raster cell by cell)"
            if per_cell
            else "each town's figures for older people equal its figures for all people (one share aged 60+ per "
            "town): only the city-wide figures differ"
        )
    summary["worse"] = "higher is worse for every figure (more unequal; more people beyond the limit, and further)"
    if sup is not None:
        out, summary["access_supply"] = supply_equity(study, circle, sup, out, cell_town)
    return out, summary


def supply_equity(
    study: Study, circle: Circle, sup: Mapping[str, Any], tt: pd.DataFrame, cell_town: np.ndarray
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the equity of the 2SFCA score per town and city (``access_supply_*``, ``below_standard_*``) to ``tt``.

    Parameters
    ----------
    study, circle
        The study and the circle (``supply_target`` per ``supply_per`` people is the standard).
    sup
        The supply (``cell_access``: the score per cell in the standard's unit; ``villages``: ``elderly_share``
        per village for a standard per older person).
    tt
        The town table with the time figures.
    cell_town
        Row of ``tt`` of each cell's town (``-1``: in no village).

    Returns
    -------
    tt, summary
        The table with the six columns (city row: city-wide) and ``summary.json`` → ``equity.access_supply``.
    """
    score = np.asarray(sup["cell_access"], dtype=np.float64)
    standard = float(circle.supply_target)  # type: ignore[arg-type]  # has_supply: a target is set
    w = np.asarray(study.cell_pop, dtype=np.float64).copy()
    elderly = circle.supply_base == "elderly"
    if elderly:  # the 2SFCA's demand: people x their town's share aged 60+
        vshare = np.asarray(sup["villages"]["elderly_share"], dtype=np.float64)
        cv = study.cell_village
        s = np.where(cv >= 0, vshare[np.maximum(cv, 0)], np.nan)
        w = w * np.where(np.isfinite(s), s, 0.0)
    keep = cell_town >= 0
    by_town = equity_by_group(cell_town, len(tt), score, w, standard, below=True)
    city = score_figures(score[keep], w[keep], standard)
    # No figure on a score we doubt (issue 19): none at all when a warning doubts the supply inputs or no capacity
    # is known; otherwise unknown capacities count as 0 (the score is a lower bound, as the supply figures are),
    # and each town says which share of its people have a facility of unknown capacity within reach.
    unknown = np.asarray(sup.get("cell_unknown", np.zeros(len(score), dtype=bool)), dtype=bool)
    doubted = list(sup.get("doubted", []))
    none_known = not bool(sup.get("capacity_known", 1))
    withheld = bool(doubted) or none_known
    town_unknown = np.full(len(tt), withheld)
    city_unknown = withheld
    wsum = np.bincount(cell_town[keep], weights=w[keep], minlength=len(tt))
    wunk = np.bincount(cell_town[keep], weights=(w * unknown)[keep], minlength=len(tt))
    unknown_share = np.divide(wunk, wsum, out=np.full(len(tt), np.nan), where=wsum > 0)
    out = tt.copy()
    is_city = tt["town_code"].astype(str).to_numpy() == study.city_code
    for k in EQUITY_KEYS:
        col = np.asarray(by_town[k], dtype=np.float64).copy()
        col[town_unknown] = np.nan
        col[is_city] = np.nan if city_unknown else city[k]
        out[SUPPLY_EQUITY_COLUMNS[k]] = col
    unknown_share[is_city] = float((w * unknown)[keep].sum() / w[keep].sum()) if w[keep].sum() > 0 else np.nan
    out[SUPPLY_UNKNOWN_COLUMN] = np.round(unknown_share, 6)
    unit = "m2" if circle.capacity == "area_m2" else "beds"
    summary = {
        "of": "2SFCA access-weighted supply per cell (access_supply), every populated cell in a village",
        "weights": "people x their town's share aged 60+ (the 2SFCA's demand)" if elderly else "people",
        "standard": standard,
        "standard_unit": f"{unit} per {'' if circle.supply_per == 1 else f'{circle.supply_per:g} '}"
        + ("older " if elderly else "")
        + ("person" if circle.supply_per == 1 else "people")
        + ("" if elderly else " (residents)"),
        "poverty": "FGT of the shortfall below the standard: gap = (standard - score) / standard for those below",
        "worse": "higher is worse for every figure (more unequal; more people short of the standard, and further)",
        "city": {SUPPLY_EQUITY_COLUMNS[k]: None if city_unknown else _round(city[k]) for k in EQUITY_KEYS},
    }
    summary["unknown_capacity"] = (
        "facilities of unknown capacity count as 0: the score is a lower bound and the below-standard figures an "
        f"upper bound where {SUPPLY_UNKNOWN_COLUMN} > 0 (the share of the people with such a facility "
        "within reach)"
    )
    summary["city_unknown_capacity_share"] = _round(unknown_share[is_city][0]) if is_city.any() else None
    if withheld:
        summary["withheld"] = (
            f"no figure: the supply inputs are doubted ({', '.join(doubted)})"
            if doubted
            else "no figure: no facility of this circle has a known capacity"
        )
    return out, summary
