"""Speed sensitivity of a circle: its villages at several speeds, robust or fragile (``sensitivity.csv``).

When the access legs are walked at the network speed (every walking circle: ``access_speed_kmh ==
speed_kmh``), a sensitivity speed is the speed of the whole trip and one search in metres serves every speed:
``time = metres / speed``, the nearest facility the same at each.  Otherwise (the bicycle circle, whose legs
to and from the network are walked) the walk and the ride do not scale together and the nearest facility can
change with the speed: then each speed is searched on its own (the access legs kept at ``access_speed_kmh``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.access import point_times, project_lonlat, snap_points, times_at_speed
from ..compute.sensitivity import SPEED_CLASS_ZH, SPEED_CLASSES, covered_by_speed, speed_classes, times_from_metres
from ..errors import ConfigError, EmptyInputError
from ..inputs.config import Circle
from .study import CircleResult, SpeedSensitivity, Study

#: Slowest and fastest speed (km/h) a sensitivity run accepts.
SPEED_RANGE_KMH = (0.5, 60.0)


def speed_label(kmh: float) -> str:
    """Column suffix of a speed: ``2.9`` -> ``"2.9kmh"``."""
    return f"{kmh:g}kmh"


def check_speeds(speeds: Sequence[float], where: str = "--speeds") -> tuple[float, ...]:
    """Speeds (km/h) sorted and unique; refused (:class:`ConfigError`) when empty or out of range."""
    try:
        vals = sorted({float(s) for s in speeds})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: speeds must be numbers in km/h, e.g. 2.9,3.6,4.3 ({exc})") from exc
    lo, hi = SPEED_RANGE_KMH
    bad = [s for s in vals if not (np.isfinite(s) and lo <= s <= hi)]
    if not vals or bad:
        raise ConfigError(
            f"{where}: {bad or 'no speeds'} - each speed must be between {lo:g} and {hi:g} km/h. "
            "Fix: give speeds in km/h, e.g. --speeds 2.9,3.6,4.3"
        )
    labels = [speed_label(s) for s in vals]
    same = [s for s, lab in zip(vals, labels, strict=True) if labels.count(lab) > 1]
    if same:
        raise ConfigError(
            f"{where}: speeds {same} would name the same column ({speed_label(same[0])}): they differ by less than "
            "6 significant digits. Fix: give each speed once"
        )
    return tuple(vals)


def proportional(circle: Circle) -> bool:
    """Whether one search serves every speed: the access legs are travelled at the network speed."""
    return abs(circle.access_speed_kmh - circle.speed_kmh) < 1e-12


def _cell_times(study: Study, circle: Circle, fnode: np.ndarray, fdist: np.ndarray, speeds: tuple[float, ...]):
    """Seconds from every cell to the nearest facility at each speed (columns), and the number of searches."""
    g = study.graph
    mps = np.array(speeds) / 3.6
    if proportional(circle):
        # one search in metres (1 m/s: seconds = metres), far enough for the fastest speed to reach the limit
        node_m = times_at_speed(g, fnode, fdist, circle.limit_s * float(mps.max()), 1.0)
        cell_m = point_times(node_m, study.cell_node, study.cell_snap_m)
        return times_from_metres(cell_m, mps), 1
    a = circle.access_speed_mps
    cols = []
    for v in mps:
        node_t = times_at_speed(g, fnode, fdist / a, circle.limit_s, float(v))
        cols.append(point_times(node_t, study.cell_node, study.cell_snap_m / a))
    return np.column_stack(cols), len(speeds)


def speed_sensitivity(
    study: Study, circle: Circle, facilities: gpd.GeoDataFrame, speeds: Sequence[float]
) -> SpeedSensitivity:
    """Measure ``circle`` at each of ``speeds`` (km/h): covered share and 达标 per village and speed, and its class.

    Parameters
    ----------
    study
        The loaded study.
    circle
        The circle; a speed replaces ``speed_kmh`` (and ``access_speed_kmh`` when the two are equal).
    facilities
        Facility points (EPSG:4326), as for :func:`~dgcoverage.pipeline.run.run_circle`.
    speeds
        Speeds in km/h (sorted; the slowest decides "robust").

    Returns
    -------
    SpeedSensitivity
    """
    t0 = time.perf_counter()
    sp = check_speeds(speeds)
    if len(facilities) == 0:
        raise EmptyInputError(f"no {circle.id} facilities to measure the speeds against")
    g = study.graph
    fx, fy = project_lonlat(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), g.crs)
    fnode, fdist = snap_points(g, fx, fy, study.settings.max_snap_m)
    if not (fnode >= 0).any():
        raise EmptyInputError(f"no {circle.id} facility lies on the road network: nothing to measure")
    cell_t, searches = _cell_times(study, circle, fnode, fdist, sp)
    nv = len(study.villages)
    pop, cov = covered_by_speed(study.cell_village, study.cell_pop, cell_t, circle.limit_s, nv)
    share, passes, cls = speed_classes(pop, cov, circle.covered_min_share, study.villages["has_area"].to_numpy())
    v = study.villages
    vt = pd.DataFrame(
        {
            "code": v["code"].to_numpy(),
            "name": v["name"].to_numpy(),
            "town_code": v["town_code"].astype(str).to_numpy(),
            "town_name": v["town_name"].to_numpy(),
            "population": pop,
        }
    )
    for j, s in enumerate(sp):
        vt[f"covered_share_{speed_label(s)}"] = share[:, j]
    for j, s in enumerate(sp):
        vt[f"covered_{speed_label(s)}"] = passes[:, j]
    vt["speed_class"] = cls
    vt["speed_class_zh"] = vt["speed_class"].map(SPEED_CLASS_ZH)
    tt = _towns(vt, cov, sp, study)
    city = tt.iloc[-1]
    summary: dict[str, Any] = {
        "speeds_kmh": list(sp),
        "circle_speed_kmh": circle.speed_kmh,
        "access_speed_kmh": "the same as each speed" if proportional(circle) else circle.access_speed_kmh,
        "method": (
            "one search in metres serves every speed (the whole trip is travelled at the speed)"
            if proportional(circle)
            else "one search per speed (the access legs are walked at access_speed_kmh, the network leg at each speed)"
        ),
        "searches": searches,
        "villages_by_class": {c: int(city[f"villages_{c}"]) for c in SPEED_CLASSES},
        "covered_share": {speed_label(s): _r(city[f"covered_share_{speed_label(s)}"]) for s in sp},
        "villages_covered": {speed_label(s): int(city[f"villages_covered_{speed_label(s)}"]) for s in sp},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return SpeedSensitivity(sp, vt, tt, summary)


def _r(x: Any) -> float | None:
    return round(float(x), 6) if pd.notna(x) else None


def _towns(vt: pd.DataFrame, cov: np.ndarray, sp: tuple[float, ...], study: Study) -> pd.DataFrame:
    """Per town and city-wide: villages per class, villages covered and the share of people within at each speed."""
    d = vt[["town_code", "population"]].copy()
    for c in SPEED_CLASSES:
        d[f"villages_{c}"] = (vt["speed_class"] == c).astype(int)
    for j, s in enumerate(sp):
        d[f"villages_covered_{speed_label(s)}"] = vt[f"covered_{speed_label(s)}"].astype(int)
        d[f"covered_population_{speed_label(s)}"] = cov[:, j]
    sums = d.groupby("town_code", sort=True).sum()
    sums["villages"] = vt.groupby("town_code", sort=True).size()
    names = study.towns[["town_code", "town_name"]].astype({"town_code": str}).drop_duplicates("town_code")
    t = names.set_index("town_code").join(sums, how="left").fillna(0)
    t.loc[study.city_code] = t.sum(numeric_only=True)
    t.loc[study.city_code, "town_name"] = study.city_name
    for s in sp:
        lab = speed_label(s)
        pop = t["population"].astype(float)
        t[f"covered_share_{lab}"] = np.where(pop > 0, t[f"covered_population_{lab}"] / pop.where(pop > 0, 1), np.nan)
    cols = ["town_name", "villages", *[f"villages_{c}" for c in SPEED_CLASSES], "population"]
    cols += [f"villages_covered_{speed_label(s)}" for s in sp]
    cols += [f"covered_share_{speed_label(s)}" for s in sp]
    t = t[cols]
    for c in t.columns:
        if c.startswith("villages"):
            t[c] = t[c].astype(int)
    return t.reset_index().rename(columns={"index": "town_code"})


def attach_sensitivity(
    result: CircleResult, study: Study, facilities: gpd.GeoDataFrame, speeds: Sequence[float]
) -> CircleResult:
    """Measure the speeds and put them on ``result`` (``sensitivity``, summary ``results.speed_sensitivity``).

    Returns ``result`` itself.
    """
    sens = speed_sensitivity(study, result.circle, facilities, speeds)
    result.sensitivity = sens
    result.summary.results["speed_sensitivity"] = {k: v for k, v in sens.summary.items() if k != "seconds"}
    result.summary.timing_s["speed_sensitivity"] = sens.summary["seconds"]
    return result
