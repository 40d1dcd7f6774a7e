"""The equity part of a circle's run: inequality of the travel time per town and city-wide (towns.csv, summary).

The figures (:mod:`dgcoverage.compute.equity`) are of every populated cell in a village, its time capped at the
report cap, weighted by its people; for older people, by its people times its town's share aged 60+ (from the
elderly raster or the settings; with one share per town the town figures equal those of all people, so only the
city-wide figure is given for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..compute.equity import EQUITY_KEYS, capped_times, equity_by_group, equity_figures
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


def _round(v: float) -> float | None:
    return round(float(v), 6) if np.isfinite(v) else None


def town_equity(
    study: Study, circle: Circle, cell_t: np.ndarray, tt: pd.DataFrame
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
    share, source = _elderly_share(study, tt)
    if share is not None:
        town_share = np.array([float(share.get(c, np.nan)) if c in share.index else np.nan for c in codes])
        ok = keep & np.isfinite(town_share[np.maximum(cell_town, 0)])
        we = w * np.where(ok, town_share[np.maximum(cell_town, 0)], 0.0)
        older = equity_figures(x[ok], we[ok], circle.limit_s)
        summary["city_elderly"] = {EQUITY_COLUMNS[k]: _round(older[k]) for k in EQUITY_KEYS}
        summary["elderly_weights"] = f"people x their town's share aged 60+ ({source})"
    return out, summary
