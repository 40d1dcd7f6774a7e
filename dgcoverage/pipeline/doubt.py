"""No verdict on a doubted figure: supply statuses resting on a figure a warning calls probably wrong.

A counted warning that says an input figure is probably wrong (the elderly raster's share of people aged 60+
beyond 1-40 % in some town, a capacity median no facility has, the population raster far from the census)
turns every ``pass``/``fail`` that rests on it into ``unknown``, with the reason (``towns.csv`` →
``supply_status``/``supply_reason``, ``summary.json`` → ``supply.doubted``).  Which verdicts rest on which figure:

* the elderly raster (its shares, or an area it does not cover): every verdict of a circle measured per person
  aged 60+ counted from it;
* the population raster far from the census: every verdict measured against the raster's people
  (``supply_population = "raster"``, the default);
* an implausible capacity median: the verdicts of the city and of every town with a facility (a town with
  none fails on no capacity at all).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Counted warnings (``summary.json`` → ``warnings``) that doubt a figure, and what they doubt.
DOUBTS = {
    "elderly_share_above_40pct": "the elderly raster gives over 40 % aged 60+ in some town (is it an elderly raster?)",
    "elderly_share_below_1pct": "the elderly raster gives under 1 % aged 60+ in some town (its units or coverage?)",
    "elderly_raster_misses_area": "the elderly raster does not cover the whole study area (people aged 60+ missed)",
    "population_total_far_from_census": "the population raster's total is far from the 2020 census (its units?)",
    "facilities_capacity_median_implausible": "the facilities' median capacity is implausible (the column's unit?)",
    "elderly_share_settings_implausible": "the settings give under 1 % or over 40 % aged 60+ in some town",
}
#: The Chinese status of a verdict withheld for a doubted figure.
DOUBTED_ZH = "待核实(数据存疑)"


def doubted_figures(
    study_warnings: dict[str, int],
    facility_warnings: dict[str, int],
    *,
    elderly_raster: bool,
    population_from_raster: bool,
) -> dict[str, str]:
    """Return the doubts the verdicts rest on: ``{warning key: what it doubts}`` (empty: none).

    Parameters
    ----------
    study_warnings, facility_warnings
        The counted warnings of the study (population, elderly raster) and of the facilities (capacities).
    elderly_raster
        The circle's base is people aged 60+ counted from the elderly raster.
    population_from_raster
        The supply ratios are measured against the population raster's people (``supply_population``).
    """
    out: dict[str, str] = {}
    if elderly_raster:
        for key in ("elderly_share_above_40pct", "elderly_share_below_1pct", "elderly_raster_misses_area"):
            if study_warnings.get(key, 0) > 0:
                out[key] = DOUBTS[key]
    if population_from_raster and study_warnings.get("population_total_far_from_census", 0) > 0:
        out["population_total_far_from_census"] = DOUBTS["population_total_far_from_census"]
    if facility_warnings.get("elderly_share_settings_implausible", 0) > 0:  # set for an elderly circle only
        out["elderly_share_settings_implausible"] = DOUBTS["elderly_share_settings_implausible"]
    if facility_warnings.get("facilities_capacity_median_implausible", 0) > 0:
        out["facilities_capacity_median_implausible"] = DOUBTS["facilities_capacity_median_implausible"]
    return out


def withhold_verdicts(st: pd.DataFrame, doubts: dict[str, str], city_code: str) -> pd.DataFrame:
    """Turn the ``pass``/``fail`` resting on a doubt into ``unknown`` with the reason.

    ``st`` is the table of :func:`~dgcoverage.compute.supply.supply_ratios`; a copy is returned
    (``attrs["verdicts_withheld"]``: how many verdicts were withheld).
    """
    st = st.copy()
    if not doubts:
        st.attrs["verdicts_withheld"] = 0
        return st
    decided = st["status"].isin(["pass", "fail"]).to_numpy().copy()
    only_capacity = set(doubts) == {"facilities_capacity_median_implausible"}
    if only_capacity:  # a town without facilities fails on no capacity at all
        has = pd.to_numeric(st.get("facilities", pd.Series(1, index=st.index)), errors="coerce").fillna(0) > 0
        decided &= (has | (st["town_code"].astype(str) == city_code)).to_numpy()
    reason = "no verdict on a doubted figure: " + "; ".join(doubts.values())
    old = st["reason"].astype(str).to_numpy()
    st.loc[decided, "status"] = "unknown"
    st.loc[decided, "status_zh"] = DOUBTED_ZH
    st["reason"] = np.where(decided, [f"{reason}" + (f" ({o})" if o else "") for o in old], old)
    st.attrs["verdicts_withheld"] = int(decided.sum())
    return st


def doubt_summary(doubts: dict[str, str], withheld: int) -> dict[str, Any]:
    """Return the ``summary.json`` → ``supply.doubted`` record: the doubts and how many verdicts they withheld."""
    return {"figures": dict(doubts), "verdicts_withheld": int(withheld)}
