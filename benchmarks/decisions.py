"""The decisions rows (issue 21): a facilities-only scenario vs a full run, and 3 speeds in one search vs 3 runs.

On the benchmark's SYNTHETIC city (:func:`benchmarks.city.step_build`, cached in the work folder as
``city-scale<S>``), one process:

- loads the study once (not timed in the ratios);
- **scenario**: the baseline run of the circle (``run_circle`` with supply, as the command line's scenario does),
  then a scenario adding ``--decisions-add`` (default 10) planned facilities at the centres of the most populous
  villages that are not covered (``run_scenario``: one search from the new facilities, supply measured again for
  the after state), against a full ``run_circle`` of the edited facilities; the two must agree on the people
  covered (checked);
- **sensitivity**: ``speed_sensitivity`` at 2.9, 3.6 and 4.3 km/h (one search for a walked circle whose legs are
  walked too) against three coverage runs at those speeds; the covered shares must agree (checked).

Each timing is the best of ``--decisions-repeat`` (default 2) runs.  Run it alone with
``.venv/bin/python scripts/benchmark.py --only decisions --scale 3`` (the section between its markers in
docs/benchmarks.md is rewritten).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SPEEDS = (2.9, 3.6, 4.3)
CIRCLE = "elderly_care_15"


def add_options(ap: argparse.ArgumentParser) -> None:
    """Options of the section: facilities added, repeats, circle."""
    ap.add_argument("--decisions-add", type=int, default=10, help="facilities the scenario adds (default 10)")
    ap.add_argument("--decisions-repeat", type=int, default=2, help="best of N timings (default 2)")
    ap.add_argument("--decisions-circle", default=CIRCLE, help=f"circle (default {CIRCLE})")


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _planned(study: Any, base: Any, k: int) -> Any:
    """Return the centres of the ``k`` most populous villages not covered by the baseline (EPSG:4326)."""
    import geopandas as gpd

    v = base.villages
    pick = v[(v["status"] != "covered") & (v["population"] > 0)].sort_values("population", ascending=False)
    cen = study.villages.loc[pick.index[:k], "centre"]
    return gpd.GeoDataFrame(geometry=list(cen), crs=4326)


def measure(city: Path, n_add: int = 10, repeat: int = 2, circle_id: str = CIRCLE) -> dict[str, Any]:
    """Measure the scenario and the sensitivity rows on the city in ``city``; return the section's results."""
    import geopandas as gpd
    import pandas as pd

    import dgcoverage as dg
    from dgcoverage.errors import DgCoverageWarning
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.scenario import run_scenario
    from dgcoverage.pipeline.sensitivity import speed_sensitivity

    warnings.simplefilter("ignore", DgCoverageWarning)  # the synthetic city's counted repairs: said elsewhere
    t = time.perf_counter()
    study = dg.load_study(data_dir=city)
    load_s = time.perf_counter() - t
    circle = load_config()[0][circle_id]
    fac = dg.load_facilities(study, circle, data_dir=city)
    full_s, base = _best(lambda: dg.run_circle(study, circle, fac, speeds=()), repeat)
    add = _planned(study, base, n_add)
    sc_s, sc = _best(lambda: run_scenario(study, circle, fac, add=add, before=base), repeat)
    sc_cov_s, _ = _best(lambda: run_scenario(study, circle, fac, add=add, before=base, supply=False), repeat)
    edited = gpd.GeoDataFrame(pd.concat([fac, add], ignore_index=True), geometry="geometry", crs=4326)
    edited.attrs = dict(fac.attrs)
    edited_s, full_after = _best(lambda: dg.run_circle(study, circle, edited, speeds=()), repeat)
    agree = abs(sc.summary["city"]["covered_population_after"] - full_after.summary.results["covered_population"])
    cov_s, _ = _best(lambda: dg.run_circle(study, circle, fac, supply=False, speeds=()), repeat)

    sens_s, sens = _best(lambda: speed_sensitivity(study, circle, fac, SPEEDS), repeat)

    def three_runs() -> list[Any]:
        return [
            dg.run_circle(study, circle.with_overrides(speed_kmh=s, access_speed_kmh=s), fac, supply=False, speeds=())
            for s in SPEEDS
        ]

    runs_s, runs = _best(three_runs, repeat)
    same = all(
        np.allclose(
            sens.villages[f"covered_share_{s:g}kmh"].to_numpy(dtype=float),
            r.villages["covered_share"].to_numpy(dtype=float),
            equal_nan=True,
        )
        for s, r in zip(SPEEDS, runs, strict=True)
    )
    return {
        "circle": circle_id,
        "has_supply": bool(circle.has_supply),
        "nodes": int(study.graph.n_nodes),
        "cells": len(study.cell_pop),
        "villages": len(study.villages),
        "facilities": len(fac),
        "added": len(add),
        "repeat": repeat,
        "load_s": load_s,
        "scenario": {
            "full_run_s": full_s,
            "coverage_run_s": cov_s,
            "scenario_coverage_s": sc_cov_s,
            "ratio_coverage": sc_cov_s / cov_s,
            "scenario_s": sc_s,
            "edited_full_run_s": edited_s,
            "ratio": sc_s / full_s,
            "method": sc.summary["method"],
            "newly_covered_population": sc.summary["city"]["newly_covered_population"],
            "agree_people_abs": float(agree),
            "agree": bool(agree < 0.5),
        },
        "sensitivity": {
            "speeds": list(SPEEDS),
            "one_search_s": sens_s,
            "three_runs_s": runs_s,
            "ratio": sens_s / runs_s,
            "searches": int(sens.summary.get("searches", 0)),
            "agree": bool(same),
        },
    }


def run(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Build (or reuse) the benchmark's city at ``args.scale`` (default 3) in ``work`` and measure the rows."""
    from benchmarks.city import step_build

    scale = float(getattr(args, "scale", None) or 3.0)
    city = Path(work) / f"city-scale{scale:g}"
    built = step_build(str(city), scale, None)
    r = measure(
        city,
        n_add=int(getattr(args, "decisions_add", 10) or 10),
        repeat=int(getattr(args, "decisions_repeat", 2) or 2),
        circle_id=str(getattr(args, "decisions_circle", CIRCLE) or CIRCLE),
    )
    return {**r, "scale": scale, "city_cached": bool(built.get("cached")), "manifest": built.get("manifest", {})}


def render(R: dict[str, Any]) -> str:
    """Markdown of the section (its ``##`` heading first)."""
    if not R:
        return "## Decisions: scenarios and speed sensitivity (issue 21)\n\nNot measured yet."
    s, v = R["scenario"], R["sensitivity"]
    speeds = ", ".join(f"{x:g}" for x in v["speeds"])
    lines = [
        "## Decisions: scenarios and speed sensitivity (issue 21)",
        "",
        f"SYNTHETIC city at scale {R['scale']:g} ({R['nodes']:,} nodes, {R['cells']:,} populated cells, "
        f"{R['villages']} villages), circle `{R['circle']}` ({R['facilities']:,} facilities"
        + (", with its supply standard" if R["has_supply"] else "")
        + f"); best of {R['repeat']}; the study loaded once ({R['load_s']:.1f} s, not counted).",
        "",
        "| row | measured | against | ratio | agrees |",
        "|---|---:|---:|---:|---|",
        f"| scenario adding {R['added']} facilities (one search from them + supply again) | {s['scenario_s']:.2f} s "
        f"| full run {s['full_run_s']:.2f} s | {s['ratio']:.2f} | people covered after = full run of the edited "
        f"facilities ({s['edited_full_run_s']:.2f} s): {'yes' if s['agree'] else 'NO'} "
        f"(|diff| {s['agree_people_abs']:.1f}) |",
        f"| the same, coverage only (`supply=False`) | {s['scenario_coverage_s']:.2f} s | coverage run "
        f"{s['coverage_run_s']:.2f} s | {s['ratio_coverage']:.2f} | |",
        f"| speed sensitivity, {speeds} km/h ({v['searches']} search) | {v['one_search_s']:.2f} s | 3 coverage runs "
        f"{v['three_runs_s']:.2f} s | {v['ratio']:.2f} | covered shares equal per village and speed: "
        f"{'yes' if v['agree'] else 'NO'} |",
        "",
        f"The scenario's method: {s['method']}; it added {s['newly_covered_population']:,.0f} people within the "
        "limit. With a supply standard the scenario also measures the 2SFCA of the edited facilities (a search "
        "per facility's catchment), which the one new search cannot replace. The 3 runs are `run_circle` at each "
        "speed (coverage only, with its equity and datum checks); the sensitivity searches once because the "
        "circle's legs are walked at the network speed (a cycled circle with walked legs searches per speed). "
        "A scenario that removes facilities or edits roads is a full run by design (a closure can "
        "lengthen any time; a road edit changes the network).",
    ]
    return "\n".join(lines)


try:  # the registry of separately runnable sections (benchmarks/sections.py)
    from benchmarks.sections import register

    register(
        "decisions",
        run,
        render,
        help="issue 21: facilities-only scenario vs full run; 3 speeds in one search vs 3 runs",
        add_options=add_options,
    )
except ImportError:  # pragma: no cover - an older harness without sections
    pass
