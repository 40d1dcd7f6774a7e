"""Scenarios: the baseline facilities plus edits (added, removed), and the ledger of what changes village by village.

A scenario that only adds facilities costs one search from the new facilities: the time from every node to its
nearest facility after the edit is the smaller of the baseline's and the new facilities' (the baseline search is
not repeated).  A scenario that removes facilities is measured again in full (a removal can lengthen any time).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.access import REACHED, classify_points, point_times, project_lonlat, snap_points, times_at_speed
from ..errors import ConfigError, EmptyInputError
from ..inputs.cells import assign_points
from ..inputs.config import Circle
from ..inputs.embedded import SYNTHETIC_NOTE
from .run import _tabulate, run_circle
from .study import CircleResult, Study

#: How a village's row in the ledger changed (``change`` column), with the Chinese label.
CHANGE_ZH = {
    "newly_covered": "新增达标",
    "no_longer_covered": "不再达标",
    "improved": "改善",
    "worse": "变差",
}


@dataclass
class Scenario:
    """A circle before and after edits: the ledger (villages, towns + city) and the record of the edits."""

    circle: Circle
    villages: pd.DataFrame
    towns: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    after_villages: pd.DataFrame | None = None


def edit_facilities(
    base: gpd.GeoDataFrame, add: gpd.GeoDataFrame | None = None, remove: Sequence[str] = ()
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return the baseline with the ``remove`` ids dropped and the ``add`` points appended; also the added rows alone.

    A removed id that is not in the baseline's ``facility_id`` is refused (:class:`ConfigError`) with the ids known.
    """
    ids = base["facility_id"].astype(str) if "facility_id" in base else pd.Series([], dtype=str)
    missing = [r for r in remove if r not in set(ids)]
    if missing:
        raise ConfigError(
            f"--remove: facility id(s) {missing[:10]} are not among the {len(base)} baseline facilities "
            f"(e.g. {', '.join(ids.head(5))}). Fix: use the facility_id column of facilities.csv"
        )
    kept = base[~ids.isin(list(remove))] if len(remove) else base
    added = gpd.GeoDataFrame(geometry=[], crs=4326) if add is None else add.to_crs(4326).reset_index(drop=True).copy()
    if len(added) and "facility_id" not in added:
        added["facility_id"] = [f"new{i + 1:03d}" for i in range(len(added))]
    edited = gpd.GeoDataFrame(pd.concat([kept, added], ignore_index=True), geometry="geometry", crs=4326)
    edited.attrs = dict(base.attrs)
    return edited, added


def _after_adding(
    study: Study, circle: Circle, before: CircleResult, added: gpd.GeoDataFrame, edited: gpd.GeoDataFrame
):
    """Village and town tables and cell classes after adding facilities: one search from the new ones only."""
    g = study.graph
    a = circle.access_speed_mps
    cap_s = max(circle.limit_s, study.settings.report_cap_minutes * 60.0)
    fx, fy = project_lonlat(added.geometry.x.to_numpy(), added.geometry.y.to_numpy(), g.crs)
    fnode, fdist = snap_points(g, fx, fy, study.settings.max_snap_m)
    if before.node_time_s is None:
        raise EmptyInputError("the baseline result carries no node times: run it with run_circle")
    node_t = before.node_time_s.copy()
    if (fnode >= 0).any():
        node_t = np.minimum(node_t, times_at_speed(g, fnode, fdist / a, cap_s, circle.speed_mps))
    cell_t = point_times(node_t, study.cell_node, study.cell_snap_m / a)
    cell_t[cell_t > cap_s] = np.inf
    all_nodes = np.concatenate([before.facility_node, fnode])
    cell_cls = classify_points(g, study.cell_node, cell_t, circle.limit_s, all_nodes)
    centre_t = point_times(node_t, study.centre_node, study.centre_snap_m / a)
    centre_t[centre_t > cap_s] = np.inf
    ex, ey = project_lonlat(edited.geometry.x.to_numpy(), edited.geometry.y.to_numpy(), g.crs)
    fac_village, _ = assign_points(study.villages, ex, ey, g.crs)
    vt, tt = _tabulate(study, circle, cell_t, cell_cls, centre_t, fac_village)
    return vt, tt, cell_cls


def run_scenario(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    *,
    add: gpd.GeoDataFrame | None = None,
    remove: Sequence[str] = (),
    before: CircleResult | None = None,
    sources: dict[str, Any] | None = None,
) -> Scenario:
    """Measure ``circle`` with the baseline ``facilities`` and with the edits, and tabulate what changes.

    Parameters
    ----------
    study, circle, facilities
        The study, the circle and the baseline facilities (EPSG:4326).
    add
        Facility points to add (EPSG:4326), e.g. a district's planned centres or the top sites of ``site``.
    remove
        ``facility_id`` values of baseline facilities that close.
    before
        The baseline run of ``facilities`` (measured here when not given; coverage only).
    sources
        Where the edits come from (files, the site result), recorded in the summary.

    Returns
    -------
    Scenario
        ``villages``: every village whose status, covered share or covered people change (before -> after);
        ``towns``: per town and city-wide, villages covered and people within the limit before and after;
        ``summary``: the edits and the city-wide change.
    """
    t0 = time.perf_counter()
    if (add is None or len(add) == 0) and not len(remove):
        raise ConfigError("a scenario needs an edit. Fix: give facilities to add (--add FILE) or ids to remove")
    if before is None:
        before = run_circle(study, circle, facilities, supply=False)
    edited, added = edit_facilities(facilities, add, remove)
    if len(remove):
        if len(edited) == 0:
            raise EmptyInputError("the scenario removes every facility: nothing is left to measure access to")
        after = run_circle(study, circle, edited, supply=False)
        vt, tt, cls, method = after.villages, after.towns, after.cell_class, "full run (facilities removed)"
    else:
        vt, tt, cls = _after_adding(study, circle, before, added, edited)
        method = "one search from the added facilities (min of the baseline and the new times)"
    vb = before.villages
    ledger = _village_ledger(vb, vt)
    towns = _town_ledger(before.towns, tt, vb, vt)
    city = towns.iloc[-1]
    newly_people = float(study.cell_pop[(cls == REACHED) & (before.cell_class != REACHED)].sum())
    lost_people = float(study.cell_pop[(cls != REACHED) & (before.cell_class == REACHED)].sum())
    synthetic = bool(study.synthetic or facilities.attrs.get("synthetic", False))
    ledger["synthetic"] = synthetic
    towns["synthetic"] = synthetic
    summary = {
        "circle": circle.id,
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed here.",
        "edits": {
            "added": int(len(added)),
            "removed": list(remove),
            "sources": sources or {},
        },
        "method": method,
        "city": {
            "covered_population_before": round(float(city["covered_population_before"]), 1),
            "covered_population_after": round(float(city["covered_population_after"]), 1),
            "newly_covered_population": round(newly_people, 1),
            "no_longer_covered_population": round(lost_people, 1),
            "villages_covered_before": int(city["villages_covered_before"]),
            "villages_covered_after": int(city["villages_covered_after"]),
            "villages_changed": {k: int((ledger["change"] == k).sum()) for k in CHANGE_ZH},
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return Scenario(circle, ledger, towns, summary, pd.DataFrame(vt.drop(columns="geometry", errors="ignore")))


def _village_ledger(vb: pd.DataFrame, va: pd.DataFrame) -> pd.DataFrame:
    """Villages whose status, covered share or covered people change, before -> after, with the kind of change."""
    keys = ["code", "name", "town_code", "town_name", "population"]
    out = pd.DataFrame({k: vb[k].to_numpy() for k in keys})
    for c in ("status", "covered_share", "covered_population"):
        out[f"{c}_before"] = vb[c].to_numpy()
        out[f"{c}_after"] = va[c].to_numpy()
    out["covered_population_change"] = out["covered_population_after"] - out["covered_population_before"]
    sb, sa = out["covered_share_before"].fillna(-1.0), out["covered_share_after"].fillna(-1.0)
    changed = (out["status_before"] != out["status_after"]) | ((sa - sb).abs() > 1e-12)
    changed |= out["covered_population_change"].abs() > 1e-9
    was, now = out["status_before"] == "covered", out["status_after"] == "covered"
    out["change"] = np.select(
        [~was & now, was & ~now, sa > sb], ["newly_covered", "no_longer_covered", "improved"], default="worse"
    )
    out["change_zh"] = out["change"].map(CHANGE_ZH)
    return out[changed].reset_index(drop=True)


def _town_ledger(tb: pd.DataFrame, ta: pd.DataFrame, vb: pd.DataFrame, va: pd.DataFrame) -> pd.DataFrame:
    """Per town and city-wide: villages covered and people within the limit before and after."""
    t = pd.DataFrame({"town_code": tb["town_code"].to_numpy(), "town_name": tb["town_name"].to_numpy()})
    after = ta.set_index("town_code")
    for c in ("villages_covered", "covered_population"):
        t[f"{c}_before"] = tb[c].to_numpy()
        t[f"{c}_after"] = after.loc[t["town_code"], c].to_numpy()
    t["covered_population_change"] = t["covered_population_after"] - t["covered_population_before"]
    newly = (vb["status"] != "covered").to_numpy() & (va["status"] == "covered").to_numpy()
    lost = (vb["status"] == "covered").to_numpy() & (va["status"] != "covered").to_numpy()
    town = vb["town_code"].astype(str).to_numpy()
    counts = pd.DataFrame({"town_code": town, "new": newly.astype(int), "lost": lost.astype(int)})
    g = counts.groupby("town_code").sum()
    t["villages_newly_covered"] = t["town_code"].map(g["new"]).fillna(0).astype(int)
    t["villages_no_longer_covered"] = t["town_code"].map(g["lost"]).fillna(0).astype(int)
    t.loc[t.index[-1], ["villages_newly_covered", "villages_no_longer_covered"]] = [int(newly.sum()), int(lost.sum())]
    return t
