"""Scenarios: the baseline plus edits, and the ledger of what changes village by village, per town and city.

Edits: facilities added, removed, capacities changed (:func:`edit_facilities`, :func:`edit_capacities`), and
road edits (links added, streets closed: :mod:`.road_edits`).  A scenario that only adds facilities costs one
search from the new facilities: the time from every node to its nearest facility after the edit is the smaller of
the baseline's and the new facilities' (the baseline search is not repeated).  A scenario that removes facilities
or edits roads is measured again in full (a removal or a closure can lengthen any time; a road edit changes the
network).  Capacity edits alone leave coverage as it is and measure the supply (2SFCA, ratios) again.  Where a
circle has a supply standard the ledger also follows the supply figures per town and city; where older people
are known (elderly raster or share) it follows the older people within the limit.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.access import REACHED, classify_points, point_times, project_lonlat, snap_points, times_at_speed
from ..errors import ConfigError, CRSError, DgCoverageWarning, EmptyInputError
from ..inputs.cells import assign_points
from ..inputs.config import Circle
from ..inputs.embedded import SYNTHETIC_NOTE
from ..inputs.scenario import capacity_edits_frame, links_frame
from .equity import _elderly_share
from .facilities import load_facilities
from .road_edits import study_with_road_edits
from .run import _tabulate, run_circle
from .study import CircleResult, Study
from .supply import measure_supply

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
    #: The road edits for the map: ``links`` and ``closed`` (each street once: ``coords``, ``name``, ``way_id``) and
    #: ``areas`` (the closure polygons, EPSG:4326, or None).
    road_lines: dict[str, Any] = field(default_factory=dict)


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


def edit_capacities(
    facilities: gpd.GeoDataFrame, changes: pd.DataFrame | None
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Return the facilities with the capacities of ``changes`` (``facility_id``, ``capacity``) set, and the record.

    An id that is not among the facilities is refused (:class:`ConfigError`) with ids that are.
    """
    if changes is None or not len(changes):
        return facilities, []
    ids = facilities["facility_id"].astype(str).to_numpy()
    want = changes["facility_id"].astype(str).to_numpy()
    missing = [i for i in want if i not in set(ids)]
    if missing:
        raise ConfigError(
            f"capacity edits: facility id(s) {missing[:10]} are not among the {len(ids)} facilities of the scenario "
            f"(e.g. {', '.join(ids[:5])}). Fix: use the facility_id column of facilities.csv"
        )
    out = facilities.copy()
    out.attrs = dict(facilities.attrs)
    cap = out["capacity"].to_numpy(dtype=float).copy() if "capacity" in out else np.full(len(out), np.nan)
    record = []
    pos = {fid: i for i, fid in enumerate(ids)}
    for fid, value in zip(want, changes["capacity"].to_numpy(dtype=float), strict=True):
        record.append({"facility_id": fid, "before": _num(cap[pos[fid]]), "after": _num(value)})
        cap[pos[fid]] = value
    if "capacity" in out:
        out["capacity"] = cap
    else:
        out.insert(out.columns.get_loc("geometry"), "capacity", cap)
    return out, record


def _num(x: float) -> float | None:
    return round(float(x), 3) if np.isfinite(x) else None


#: Supply figures the ledger follows per town and city (``_before``/``_after``) where a circle has a standard.
SUPPLY_TOWN = ("supply", "supply_ratio", "supply_status", "access_supply", "access_meets_target_share")


def _supply_columns(
    study: Study, circle: Circle, facilities: gpd.GeoDataFrame, tt: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village (``access_supply``) and town (:data:`SUPPLY_TOWN`) supply figures of ``facilities`` on ``study``."""
    g = study.graph
    fx, fy = project_lonlat(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), g.crs)
    fnode, fdist = snap_points(g, fx, fy, study.settings.max_snap_m)
    fac_village, _ = assign_points(study.villages, fx, fy, g.crs)
    synthetic = bool(study.synthetic or facilities.attrs.get("synthetic", False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DgCoverageWarning)  # the baseline run already said them
        sup = measure_supply(study, circle, facilities, fnode, fdist, fac_village, tt, synthetic)
    return sup["villages"][["access_supply"]], sup["towns"][["town_code", *SUPPLY_TOWN]]


def _elderly_covered(
    study: Study, vt: pd.DataFrame, tt: pd.DataFrame, cell_cls: np.ndarray
) -> tuple[np.ndarray | None, str | None]:
    """Older people (60+) within the limit per village.

    With an elderly raster, the people aged 60+ of the reached cells (``study.cell_elderly``); else the covered
    people x the town's share aged 60+ (settings); ``None`` when neither is given.
    """
    cell_e = getattr(study, "cell_elderly", None)
    if cell_e is not None:
        ok = (study.cell_village >= 0) & (cell_cls == REACHED)
        older = np.bincount(study.cell_village[ok], weights=np.asarray(cell_e, float)[ok], minlength=len(vt))
        return older, "elderly raster: people aged 60+ of the cells within the limit"
    share, source = _elderly_share(study, tt)
    if share is None:
        return None, None
    s = vt["town_code"].astype(str).map(share).to_numpy(dtype=float)
    return vt["covered_population"].to_numpy(dtype=float) * s, source


def run_scenario(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    *,
    add: gpd.GeoDataFrame | None = None,
    remove: Sequence[str] = (),
    capacity: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    closures: gpd.GeoDataFrame | None = None,
    close_ways: Sequence[int] = (),
    before: CircleResult | None = None,
    sources: dict[str, Any] | None = None,
    supply: bool = True,
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
    capacity
        New capacities: ``facility_id`` and ``capacity`` in the circle's unit (m² or beds;
        :func:`dgcoverage.inputs.scenario.read_capacity_edits` reads a file); only for a circle with a supply
        standard.
    links, closures
        Road edits: new links (:func:`dgcoverage.inputs.scenario.links_frame`) and closure polygons (EPSG:4326).
        Either one changes the network, so the scenario is measured again in full on the edited network
        (:func:`~.road_edits.study_with_road_edits`).
    close_ways
        OSM way ids whose streets close (every directed edge of those ways; the network must carry way ids).
    before
        The baseline run of ``facilities`` (measured here when not given; coverage only).
    sources
        Where the edits come from (files, the site result), recorded in the summary.
    supply
        Follow the supply figures when the circle has a standard (``False``: coverage only, no 2SFCA).

    Returns
    -------
    Scenario
        ``villages``: every village whose status, covered share, covered people (older people) or 2SFCA access
        change (before -> after); ``towns``: per town and city-wide, villages covered, people (older people)
        within the limit and the supply figures before and after; ``summary``: the edits and the city-wide change.
    """
    t0 = time.perf_counter()
    remove = [remove] if isinstance(remove, str) else [str(r) for r in remove]  # "f003" is one id
    add, closures = _checked_add(study, circle, add), _checked_closures(closures)
    links = _checked_links(circle, links)
    n_cap = 0 if capacity is None else len(capacity)
    roads = (
        (links is not None and len(links) > 0) or (closures is not None and len(closures) > 0) or len(close_ways) > 0
    )
    if (add is None or len(add) == 0) and not len(remove) and not n_cap and not roads:
        raise ConfigError(
            "a scenario needs an edit. Fix: give facilities to add (--add FILE), ids to remove (--remove), "
            "capacities (capacity = FILE) or road edits ([roads] in --scenario FILE)"
        )
    if n_cap and not (circle.has_supply and supply):
        raise ConfigError(
            f"capacity edits change nothing for {circle.id}: it has no supply standard (capacity / supply_target "
            "in circles.toml). Fix: drop the capacity file, or choose a circle with a standard"
        )
    capacity = _checked_capacity(circle, capacity)
    if before is None:
        before = run_circle(study, circle, facilities, supply=False, speeds=())
    edited, added = edit_facilities(facilities, add, remove)
    edited, cap_record = edit_capacities(edited, capacity)
    after_study, road_record = study, None
    if roads:
        after_study, road_record = study_with_road_edits(study, circle, links, closures, list(close_ways))
    if roads or len(remove):
        if len(edited) == 0:
            raise EmptyInputError("the scenario removes every facility: nothing is left to measure access to")
        after = run_circle(after_study, circle, edited, supply=False, speeds=())
        vt, tt, cls = after.villages, after.towns, after.cell_class
        method = (
            "full run on the edited network (road edits change the network: the circle was recomputed in full)"
            if roads
            else "full run (facilities removed)"
        )
    elif len(added):
        vt, tt, cls = _after_adding(study, circle, before, added, edited)
        method = "one search from the added facilities (min of the baseline and the new times)"
    else:
        vt, tt, cls = before.villages, before.towns, before.cell_class
        method = "coverage unchanged (capacity edits only); supply measured again"
    sup = supply and circle.has_supply
    vb, tb = _with_measures(study, circle, facilities, (before.villages, before.towns, before.cell_class), sup, True)
    va, ta = _with_measures(after_study, circle, edited, (vt, tt, cls), sup)
    ledger = _village_ledger(vb, va)
    towns = _town_ledger(tb, ta, vb, va)
    city = towns.iloc[-1]
    newly_people = float(study.cell_pop[(cls == REACHED) & (before.cell_class != REACHED)].sum())
    lost_people = float(study.cell_pop[(cls != REACHED) & (before.cell_class == REACHED)].sum())
    synthetic = bool(study.synthetic or facilities.attrs.get("synthetic", False))
    ledger["synthetic"] = synthetic
    towns["synthetic"] = synthetic
    edits: dict[str, Any] = {"added": int(len(added)), "removed": list(remove), "sources": sources or {}}
    if cap_record:
        edits["capacity"] = cap_record
    road_lines: dict[str, Any] = {}
    if road_record is not None:
        road_lines = {
            "closed": road_record.pop("closed_edges", []),
            "links": road_record.get("links", []),
            "areas": closures,
        }
        edits["roads"] = road_record
    counted = _counted(add, capacity)
    summary = {
        "circle": circle.id,
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed here.",
        "edits": edits,
        "method": method,
        "recomputed_in_full": bool(roads or len(remove)),
        "warnings": counted,
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
    for c in ("elderly_covered", *SUPPLY_TOWN):
        for when in ("before", "after"):
            if f"{c}_{when}" in towns:
                v = city[f"{c}_{when}"]
                summary["city"][f"{c}_{when}"] = v if isinstance(v, str) else _num(float(v))
    if "elderly_covered" in vb:
        summary["elderly_basis"] = vb.attrs.get("elderly_source")
    if "supply_status_before" in towns:
        t = towns.iloc[:-1]
        summary["towns_supply_status_changed"] = int((t["supply_status_before"] != t["supply_status_after"]).sum())
    after_v = pd.DataFrame(vt.drop(columns="geometry", errors="ignore"))
    return Scenario(circle, ledger, towns, summary, after_v, road_lines)


def _counted(add: gpd.GeoDataFrame | None, capacity: pd.DataFrame | None) -> dict[str, int]:
    """Return the counted warnings of the edits' inputs (``scenario.json`` -> ``warnings``)."""
    out = {f"added_{k}": int(v) for k, v in ({} if add is None else add.attrs.get("warnings", {})).items() if v}
    out.update({k: int(v) for k, v in ({} if capacity is None else capacity.attrs.get("warnings", {})).items() if v})
    return out


def _checked_links(circle: Circle, links: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return the road links checked by :func:`~dgcoverage.inputs.scenario.links_frame` (circle: unusual speeds)."""
    return None if links is None else links_frame(links, "links", allow_unusual_settings=circle.allow_unusual_settings)


def _checked_capacity(circle: Circle, capacity: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return a capacity frame checked by the capacity file's rules (unless ``read_capacity_edits`` read it)."""
    if capacity is None or not len(capacity) or capacity.attrs.get("checked"):
        return capacity
    return capacity_edits_frame(capacity, circle.capacity, "capacity frame")


def _checked_add(study: Study, circle: Circle, add: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Return the facilities to add checked as by :func:`~.facilities.load_facilities` (unless it read them).

    A frame without a CRS is refused (:class:`CRSError`), swapped x/y too; points outside the study are
    dropped and counted (``attrs["warnings"]``); capacities are read as from a facility file.
    """
    if add is None or not len(add) or "input_record" in add.attrs:
        return add
    if not isinstance(add, gpd.GeoDataFrame) or add.crs is None:
        raise CRSError(
            "add: the facilities to add have no CRS (or are no GeoDataFrame). Fix: give a GeoDataFrame with its "
            "CRS set (gdf.set_crs(4326)), or read the file with dgcoverage.load_facilities"
        )
    named = "facility_id" in add.columns
    out = load_facilities(study, circle, add)
    if not named:
        out["facility_id"] = [f"new{i + 1:03d}" for i in range(len(out))]
    return out


def _checked_closures(closures: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Return the closure polygons in EPSG:4326: refused without a CRS (as facilities are) or not polygons."""
    if closures is None or not len(closures):
        return closures
    if not isinstance(closures, gpd.GeoDataFrame) or closures.crs is None:
        raise CRSError(
            "closures: the closure polygons have no CRS (or are no GeoDataFrame). Fix: set it "
            "(gdf.set_crs(4326)), or read the file with dgcoverage.inputs.scenario.read_closures"
        )
    kinds = set(closures.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ConfigError(f"closures: need Polygon/MultiPolygon rows, got {sorted(kinds)}. Fix: draw the areas")
    return closures.to_crs(4326)


def _with_measures(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    tables: tuple[pd.DataFrame, pd.DataFrame, np.ndarray],
    supply: bool,
    reuse_supply: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village and town tables with older people within the limit and (with a supply standard) supply figures.

    ``reuse_supply``: keep the supply figures the tables carry (a baseline run with ``supply=True``).
    """
    vt, tt, cell_cls = tables
    vt = pd.DataFrame(vt.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    tt = pd.DataFrame(tt).reset_index(drop=True)
    older, source = _elderly_covered(study, vt, tt, cell_cls)
    if older is not None:
        vt["elderly_covered"] = older
        by_town = pd.Series(older).groupby(vt["town_code"].astype(str).to_numpy()).sum()
        e = tt["town_code"].astype(str).map(by_town).fillna(0.0).to_numpy(dtype=float, copy=True)
        e[-1] = float(np.nansum(older))
        tt["elderly_covered"] = e
        vt.attrs["elderly_source"] = source
    have = "access_supply" in vt and all(c in tt for c in SUPPLY_TOWN)
    if supply and not (reuse_supply and have):
        vs, ts = _supply_columns(study, circle, facilities, tt)
        vt = vt.drop(columns=["access_supply"], errors="ignore").assign(access_supply=vs["access_supply"].to_numpy())
        tt = tt.drop(columns=list(SUPPLY_TOWN), errors="ignore").merge(ts, on="town_code", how="left")
    return vt, tt


#: Measures of a village that the ledger lists before -> after (those present in both tables).
VILLAGE_MEASURES = ("status", "covered_share", "covered_population", "elderly_covered", "access_supply")


def _village_ledger(vb: pd.DataFrame, va: pd.DataFrame) -> pd.DataFrame:
    """Villages whose status, covered share, people (older people) or 2SFCA access change, with the kind of change.

    The kind: newly covered / no longer covered (status), else improved / worse by the covered share, and where
    the share is the same, by the 2SFCA access (a capacity edit).
    """
    keys = ["code", "name", "town_code", "town_name", "population"]
    out = pd.DataFrame({k: vb[k].to_numpy() for k in keys})
    measures = [c for c in VILLAGE_MEASURES if c in vb and c in va]
    for c in measures:
        out[f"{c}_before"] = vb[c].to_numpy()
        out[f"{c}_after"] = va[c].to_numpy()
    out["covered_population_change"] = out["covered_population_after"] - out["covered_population_before"]
    sb, sa = out["covered_share_before"].fillna(-1.0), out["covered_share_after"].fillna(-1.0)
    changed = (out["status_before"] != out["status_after"]) | ((sa - sb).abs() > 1e-12)
    changed |= out["covered_population_change"].abs() > 1e-9
    ab = out.get("access_supply_before", pd.Series(0.0, index=out.index)).astype(float).fillna(-1.0)
    aa = out.get("access_supply_after", pd.Series(0.0, index=out.index)).astype(float).fillna(-1.0)
    changed |= (aa - ab).abs() > 1e-9 * np.maximum(1.0, ab.abs())
    was, now = out["status_before"] == "covered", out["status_after"] == "covered"
    better = (sa > sb) | (((sa - sb).abs() <= 1e-12) & (aa > ab))
    out["change"] = np.select(
        [~was & now, was & ~now, better], ["newly_covered", "no_longer_covered", "improved"], default="worse"
    )
    out["change_zh"] = out["change"].map(CHANGE_ZH)
    return out[changed].reset_index(drop=True)


def _town_ledger(tb: pd.DataFrame, ta: pd.DataFrame, vb: pd.DataFrame, va: pd.DataFrame) -> pd.DataFrame:
    """Per town and city-wide: villages covered, people (older people) within the limit, supply before and after."""
    t = pd.DataFrame({"town_code": tb["town_code"].to_numpy(), "town_name": tb["town_name"].to_numpy()})
    after = ta.set_index("town_code")
    for c in ("villages_covered", "covered_population", "elderly_covered", *SUPPLY_TOWN):
        if c in tb and c in ta:
            t[f"{c}_before"] = tb[c].to_numpy()
            t[f"{c}_after"] = after.loc[t["town_code"], c].to_numpy()
    t["covered_population_change"] = t["covered_population_after"] - t["covered_population_before"]
    if "elderly_covered_before" in t:
        t["elderly_covered_change"] = t["elderly_covered_after"] - t["elderly_covered_before"]
    newly = (vb["status"] != "covered").to_numpy() & (va["status"] == "covered").to_numpy()
    lost = (vb["status"] == "covered").to_numpy() & (va["status"] != "covered").to_numpy()
    town = vb["town_code"].astype(str).to_numpy()
    counts = pd.DataFrame({"town_code": town, "new": newly.astype(int), "lost": lost.astype(int)})
    g = counts.groupby("town_code").sum()
    t["villages_newly_covered"] = t["town_code"].map(g["new"]).fillna(0).astype(int)
    t["villages_no_longer_covered"] = t["town_code"].map(g["lost"]).fillna(0).astype(int)
    t.loc[t.index[-1], ["villages_newly_covered", "villages_no_longer_covered"]] = [int(newly.sum()), int(lost.sum())]
    return t
