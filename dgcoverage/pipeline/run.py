"""Step 3: run a circle: time from every populated cell to the nearest facility, then tabulate.

:func:`run_circle` is a short list of steps: snap the facilities, search the network once from all of
them, classify and tabulate the cells per village and town, measure supply (:mod:`.supply`) and summarise
(:mod:`.summary`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.access import (
    AccessGraph,
    classify_points,
    point_times,
    project_lonlat,
    snap_points,
    times_at_speed,
)
from ..compute.coverage import town_table, village_table
from ..errors import (
    ConfigError,
    DgCoverageWarning,
    EmptyInputError,
)
from ..inputs.cells import assign_points
from ..inputs.config import Circle
from ..inputs.quality import datum_fit
from .crossborder import cross_border
from .equity import town_equity
from .sensitivity import attach_sensitivity
from .study import CircleResult, CircleSummary, Study
from .summary import circle_summary, facilities_used
from .supply import measure_supply


def run_circle(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    *,
    facilities_input: dict[str, Any] | None = None,
    facilities_synthetic: bool | None = None,
    supply: bool = True,
    speeds: Sequence[float] | None = None,
) -> CircleResult:
    """Measure one circle: time from every populated cell to the nearest facility, then tabulate.

    With a supply standard the run also measures supply (:func:`~.supply.measure_supply`): policy ratios per town
    against the target, and the access-weighted supply (2SFCA, the limit as catchment) per cell, village, town.

    Parameters
    ----------
    study
        Loaded study area (:func:`~dgcoverage.pipeline.load.load_study`).
    circle
        The circle (limit, speeds, supply standard).
    facilities
        Facility points (EPSG:4326), e.g. from :func:`~dgcoverage.pipeline.facilities.load_facilities`.
    facilities_input, facilities_synthetic
        Provenance and the synthetic flag (default: the attrs that ``load_facilities`` sets).
    supply
        Measure the circle's supply standard, if it has one (``False``: coverage only).
    speeds
        Also measure these speeds (km/h; default the circle's ``speeds``): robust / fragile villages.
    """
    t0 = time.perf_counter()
    record = facilities.attrs.get("input_record") if facilities_input is None else facilities_input
    fac_synthetic = facilities.attrs.get("synthetic", False) if facilities_synthetic is None else facilities_synthetic
    _check_run(study, circle, facilities)
    g = study.graph
    fx, fy = project_lonlat(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), g.crs)
    fnode, fdist, n_off = _snap_facilities(g, fx, fy, study.settings.max_snap_m, circle.id)
    node_t, cell_t, cell_cls, centre_t = _search(study, circle, fnode, fdist)
    t_search = time.perf_counter() - t0
    fac_village, _ = assign_points(study.villages, fx, fy, g.crs)
    vt, tt = _tabulate(study, circle, cell_t, cell_cls, centre_t, fac_village)
    snapped = (fnode, fdist, fac_village)
    vt, tt, sup = _with_supply(study, circle, facilities, snapped, vt, tt, supply, bool(fac_synthetic))
    tt, equity = town_equity(study, circle, cell_t, tt, sup)
    fac_warn = dict(facilities.attrs.get("warnings", {}))
    fac_warn.update({"facilities_off_network": n_off} if n_off else {})
    fac_warn.update(sup["warnings"] if sup is not None else {})
    datum = _datum_texts(study, facilities, _datum_check(g, facilities, circle.id, study.settings.max_snap_m, fac_warn))
    synthetic = study.synthetic or bool(fac_synthetic)
    timing = {"search": round(t_search, 3), "total": round(time.perf_counter() - t0, 3)}
    parts = (vt, tt, cell_t, cell_cls, fac_warn, datum, sup, timing)
    summary = circle_summary(study, circle, record, synthetic, fnode, *parts)
    _add_checks(summary, study, circle, facilities, fnode, fdist, cell_cls, equity)
    used = facilities_used(study, facilities, fnode, fdist, fac_village, None if sup is None else sup["facilities"])
    vt, tt = _village_layer(study, vt, synthetic), tt.assign(synthetic=synthetic)
    access = None if sup is None else sup["cell_access"]
    result = CircleResult(circle, vt, tt, CircleSummary(**summary), cell_t, cell_cls, used, fnode, node_t, access)
    result.city_code, result.region = study.city_code, study.region
    speeds = circle.speeds if speeds is None else speeds  # the circle at several speeds: robust / fragile villages
    return attach_sensitivity(result, study, facilities, speeds) if speeds else result


def _with_supply(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    snapped: tuple[np.ndarray, np.ndarray, np.ndarray],
    vt: pd.DataFrame,
    tt: pd.DataFrame,
    supply: bool,
    synthetic: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None]:
    """Join the supply columns to the village and town tables when the circle has a standard (and it is asked)."""
    if not (supply and circle.has_supply):
        return vt, tt, None
    sup = measure_supply(study, circle, facilities, *snapped, tt, synthetic)
    vt = pd.concat([vt, sup["villages"]], axis=1)
    return vt, tt.merge(sup["towns"], on="town_code", how="left", validate="one_to_one"), sup


def _add_checks(
    summary: dict[str, Any],
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    cell_cls: np.ndarray,
    equity: dict[str, Any],
) -> None:
    """Add the equity figures and the people covered across the border to a summary."""
    summary["results"]["equity"] = equity
    summary["results"]["cross_border"] = cross_border(study, circle, facilities, fnode, fdist, cell_cls)


def _village_layer(study: Study, vt: pd.DataFrame, synthetic: bool) -> gpd.GeoDataFrame:
    """Return the village table as a GeoDataFrame (areas, EPSG:4326) with the synthetic flag and village point."""
    vt.insert(len(vt.columns), "synthetic", synthetic)
    if "centre" in study.villages:  # the village point (WGS84): lon/lat in villages.csv and the GIS layers
        cen, at = gpd.GeoSeries(study.villages["centre"].to_numpy(), crs=4326), vt.columns.get_loc("town_name") + 1
        vt.insert(at, "lon", cen.x.to_numpy(dtype=float))
        vt.insert(at + 1, "lat", cen.y.to_numpy(dtype=float))
    return gpd.GeoDataFrame(vt, geometry=study.villages.geometry.to_numpy(), crs=4326)


def _search(
    study: Study, circle: Circle, fnode: np.ndarray, fdist: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One multi-source search from the facilities: node times, cell times and classes, village-centre times.

    Times beyond the report cap (the larger of the limit and ``report_cap_minutes``) are ``inf``.
    """
    g = study.graph
    a_mps = circle.access_speed_mps
    cap_s = max(circle.limit_s, study.settings.report_cap_minutes * 60.0)
    node_t = times_at_speed(g, fnode, fdist / a_mps, cap_s, circle.speed_mps)
    cell_t = point_times(node_t, study.cell_node, study.cell_snap_m / a_mps)
    cell_t[cell_t > cap_s] = np.inf
    cell_cls = classify_points(g, study.cell_node, cell_t, circle.limit_s, fnode)
    centre_t = point_times(node_t, study.centre_node, study.centre_snap_m / a_mps)
    centre_t[centre_t > cap_s] = np.inf
    return node_t, cell_t, cell_cls, centre_t


def _tabulate(
    study: Study,
    circle: Circle,
    cell_t: np.ndarray,
    cell_cls: np.ndarray,
    centre_t: np.ndarray,
    fac_village: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village and town tables of one circle's cell times and classes."""
    inside = np.bincount(fac_village[fac_village >= 0], minlength=len(study.villages))
    vt = village_table(
        study.villages,
        study.cell_village,
        study.cell_pop,
        cell_t,
        cell_cls,
        centre_t,
        inside,
        circle.covered_min_share,
        study.villages["has_area"].to_numpy(),
    )
    return vt, town_table(vt, study.towns, study.city_code, study.city_name)


def _check_run(study: Study, circle: Circle, facilities: gpd.GeoDataFrame) -> None:
    """Refuse a run whose settings or inputs cannot give figures (before any search)."""
    if study.settings.report_cap_minutes < circle.minutes:
        raise ConfigError(
            f"[settings] report_cap_minutes ({study.settings.report_cap_minutes:g}) is below the {circle.id} limit "
            f"({circle.minutes:g} min): times up to the limit could not be reported. Fix: raise report_cap_minutes "
            "to at least the longest circle's minutes"
        )
    if float(study.cell_pop.sum()) <= 0:
        raise EmptyInputError(
            "the population raster puts nobody in the study area. Fix: check that the raster covers the towns "
            "and holds people per pixel"
        )
    if len(facilities) == 0:
        raise EmptyInputError(
            f"no {circle.id} facilities to measure access to. Fix: pass a facility file with at "
            "least one facility inside the study area (check its coordinate system)."
        )


def _snap_facilities(
    g: AccessGraph, fx: np.ndarray, fy: np.ndarray, max_snap_m: float, circle_id: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Snap facilities to the network; refuse when none is on it, warn about those that are not."""
    fnode, fdist = snap_points(g, fx, fy, max_snap_m)
    n_off = int((fnode < 0).sum())
    if n_off == len(fnode):
        raise EmptyInputError(
            f"all {len(fnode)} {circle_id} facilities are more than {max_snap_m:g} m (max_snap_m) from "
            "the road network. Fix: check the facilities' coordinate system (wgs84/gcj02/bd09), that the network "
            "covers them, and that [settings] max_snap_m is not too small."
        )
    if n_off:
        warnings.warn(
            f"{circle_id}: {n_off} facilities off the network (> {max_snap_m:.0f} m) ignored",
            DgCoverageWarning,
            stacklevel=2,
        )
    return fnode, fdist, n_off


def _datum_texts(study: Study, facilities: gpd.GeoDataFrame, fit: dict[str, Any] | None) -> dict[str, str]:
    """``summary.json`` -> ``checks.datum``: per point file read in a declared datum, fits / suspect / cannot tell."""
    out: dict[str, str] = {}
    if fit is not None:
        out["facilities"] = fit["text"]
    villages = study.inputs.get("villages", {}).get("datum_check")
    if villages:
        out["villages"] = villages
    return out


def _datum_check(
    g: AccessGraph, facilities: gpd.GeoDataFrame, circle_id: str, max_snap_m: float, fac_warn: dict[str, int]
) -> dict[str, Any] | None:
    """Compare the facilities with the roads in every coordinate system, once; count and warn if one fits better.

    One :func:`~dgcoverage.inputs.quality.datum_fit` gives both the verdict said in ``checks.datum.facilities``
    and the counted warning ``facilities_maybe_<system>`` (``None``: no declared datum or no facilities).
    """
    read_as = facilities.attrs.get("declared_crs")
    if not read_as or not len(facilities):
        return None
    geom = facilities.geometry
    fit = datum_fit(g, geom.x.to_numpy(), geom.y.to_numpy(), read_as, max_snap_m, "facilities")
    if fit["verdict"] == "suspect":
        alt = fit["best_alternative"]
        fac_warn[f"facilities_maybe_{alt}"] = fit["points_compared"]
        how = (facilities.attrs.get("input") or {}).get("crs_source", "declared")
        gaode = " (Gaode/Tencent)" if alt == "gcj02" else " (Baidu)" if alt == "bd09" else ""
        warnings.warn(
            f"{circle_id}: facilities read as {read_as} ({how}) fit the road network far better read as {alt}{gaode}: "
            f"their median distance to it would fall from {fit['median_snap_m']} m to "
            f"{fit['median_snap_if_m'][alt]} m. Fix: if the file is in {alt}, pass --facilities-crs {alt}",
            DgCoverageWarning,
            stacklevel=2,
        )
    return fit
