"""A circle's summary (``summary.json``): provenance, settings, sizes, city-wide results, policy checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._version import __version__
from ..compute.access import (
    REACHED,
)
from ..core.io import cut_shares
from ..inputs.config import Circle
from ..inputs.embedded import SYNTHETIC_NOTE, SYNTHETIC_NOTE_ZH
from ..inputs.quality import (
    component_summary,
    facility_report,
    package_versions,
)
from .study import Study

if TYPE_CHECKING:  # pragma: no cover
    pass


def circle_summary(
    study: Study,
    circle: Circle,
    facilities_input: dict[str, Any] | None,
    synthetic: bool,
    fnode: np.ndarray,
    vt: pd.DataFrame,
    tt: pd.DataFrame,
    cell_t: np.ndarray,
    cell_cls: np.ndarray,
    fac_warn: dict[str, int],
    datum: dict[str, Any] | None,
    sup: dict[str, Any] | None,
    timing: dict[str, float],
) -> dict[str, Any]:
    """Everything of :class:`~.study.CircleSummary` for one run (``summary.json`` and ``timing.json``)."""
    settings = study.settings
    people = _people_in_units(study)
    pop_total = float(people.sum())
    curve_min = np.arange(0, int(settings.report_cap_minutes) + 1)
    curve = [_share(float(people[cell_t <= m * 60.0].sum()), pop_total) for m in curve_min]
    city = tt[tt["town_code"] == study.city_code].iloc[0]
    summary = summary_base(study, circle, facilities_input, synthetic, len(fnode), fnode)
    summary["warnings"] = {**study.warnings, **fac_warn}
    summary["results"] = city_results(people, vt, city, cell_cls)
    summary["coverage_curve"] = {"minutes": curve_min.tolist(), "population_share": curve}
    summary["timing_s"] = timing
    if circle.every_village:
        summary["policy_every_village"] = every_village(vt)
    summary["versions"] = package_versions()
    summary["components"] = component_summary(study.graph, fnode, study.cell_node, study.cell_pop)
    if datum:  # checks.datum: the point files' datums against the roads, said plainly (one datum_fit each)
        summary["checks"] = {"datum": datum}
    if sup is not None:
        summary["supply"] = sup["summary"]
    return summary


def summary_base(
    study: Study,
    circle: Circle,
    facilities_input: dict[str, Any] | None,
    synthetic: bool,
    n_fac: int,
    fnode: np.ndarray,
) -> dict[str, Any]:
    """Provenance, circle, settings, inputs and sizes of a circle's summary."""
    settings = study.settings
    return {
        "dgcoverage_version": __version__,
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed here.",
        "note_zh": SYNTHETIC_NOTE_ZH if synthetic else "根据所列输入数据计算。",
        "circle": {
            k: getattr(circle, k)
            for k in (
                "id",
                "name_zh",
                "name_en",
                "minutes",
                "mode",
                "speed_kmh",
                "access_speed_kmh",
                "covered_min_share",
                "policy_source",
                "policy_quote",
                "speed_basis",
            )
        },
        "settings": {
            "max_snap_m": settings.max_snap_m,
            "report_cap_minutes": settings.report_cap_minutes,
            "cell_size_m": float(abs(study.grid.transform.a)),
            "analysis_crs": study.graph.crs.to_string(),
        },
        "inputs": {**study.inputs, "facilities": facilities_input or {}},
        "sizes": {
            "nodes": study.net.n_nodes,
            "directed_edges": study.net.n_edges,
            "cells": int(len(study.cell_pop)),
            "villages": int(len(study.villages)),
            "villages_with_area": int(study.villages["has_area"].sum()),
            "towns": int(len(study.towns)),
            "facilities": int(n_fac),
            "facilities_on_network": int((fnode >= 0).sum()),
            "components": int(study.graph.component.max() + 1),
        },
    }


def city_results(people: np.ndarray, vt: pd.DataFrame, city: pd.Series, cell_cls: np.ndarray) -> dict[str, Any]:
    """City-wide figures of a circle (``summary.json`` → ``results``); ``people``: per cell, those in the villages."""
    pop_total = float(people.sum())
    covered = float(people[cell_cls == REACHED].sum())
    rate = city["pass_rate_villages"]
    return {
        "population": round(pop_total, 1),
        "covered_population": round(covered, 1),
        "covered_share": _share(covered, pop_total) if pop_total else None,
        "village_pass_rate": None if pd.isna(rate) else round(float(rate), 6),
        "villages_by_status": vt["status"]
        .value_counts()
        .reindex(["covered", "partial", "gap", "unreachable", "no_data"], fill_value=0)
        .astype(int)
        .to_dict(),
        "population_by_reach": {
            lab: round(float(people[cell_cls == k].sum()), 1)
            for k, lab in ((0, "within_limit"), (1, "beyond_limit"), (2, "unreachable"), (3, "off_network"))
        },
    }


def every_village(vt: pd.DataFrame) -> dict[str, Any]:
    """Check 养老服务设施100%覆盖村(社区) literally: a facility inside every village with data."""
    with_data = vt["status"] != "no_data"
    served = with_data & vt["has_facility_inside"]
    return {
        "rule": "养老服务设施100%覆盖村(社区): at least one facility inside every village/community",
        "villages_with_data": int(with_data.sum()),
        "villages_with_facility_inside": int(served.sum()),
        "share": round(float(served.sum() / max(int(with_data.sum()), 1)), 6),
        "met": bool(int((with_data & ~vt["has_facility_inside"]).sum()) == 0),
        "villages_lacking": int((with_data & ~vt["has_facility_inside"]).sum()),
    }


def facilities_used(
    study: Study,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    fac_village: np.ndarray,
    extra: dict[str, np.ndarray] | None,
) -> gpd.GeoDataFrame:
    """Return a copy of the facilities with their snap, node, component and village (and supply columns)."""
    vcode = np.where(fac_village >= 0, study.villages["code"].astype(str).to_numpy()[np.maximum(fac_village, 0)], "")
    report = facility_report(study.graph, study.net.node_id, fnode, fdist, vcode)
    out = facilities.copy()
    for col in report.columns:
        out[col] = report[col].to_numpy()
    for col, values in (extra or {}).items():
        out[col] = values
    return out


def _people_in_units(study: Study) -> np.ndarray:
    """Return the people per cell that the city figures count: those in the study's villages.

    A raster window reaching beyond the region (a province raster around one city) holds people who are not the
    region's; they count for nothing here (``population_outside_villages`` says how many there are).
    """
    return np.where(study.cell_village >= 0, study.cell_pop, 0.0)


def _share(part: float, whole: float) -> float:
    """Return a share for summary.json: cut (never rounded up) to 6 decimals, as in the CSVs."""
    return float(cut_shares(np.array([part / whole]), 6)[0])
