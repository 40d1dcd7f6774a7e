"""The performance targets (what was measured against each) and the agreement checks of a run."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.browser import MAP_LOAD_MS, MAP_PAGE_MB
from benchmarks.prose import _f
from benchmarks.recipes import PANDANA_TOL_S, TOL_S
from benchmarks.steps import DEMO_SCALE, SITING_CANDIDATES


def _issue12_targets(R: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Return the targets of the maps/report, national raster and ten-city pbf rows (``met`` None off full size)."""
    out: list[tuple[str, str, bool | None]] = []
    full_size = not R["quick"] and R["scale"] == 3.0  # the Dongguan-size city the targets are set for
    where = f"scale {R['scale']:g}" + (", two towns" if R["quick"] else "")
    fu = R.get("full")
    if fu:
        if fu.get("timed_out"):
            meas, met = f"stopped: {fu['error']} ({where})", (False if full_size else None)
        else:
            meas = f"{_f(fu['time_s'], 1)} s, {_f(fu['peak_rss_mb'] / 1024, 2)} GiB peak ({where})"
            met = (fu["time_s"] <= 30 and fu["peak_rss_mb"] <= 1.5 * 1024) if full_size else None
        out.append(
            ("`run --all` with service areas, gap areas, maps and report, scale 3: ≤ 30 s, ≤ 1.5 GiB peak", meas, met)
        )
        demo = R.get("full_demo") or (fu if R["scale"] == DEMO_SCALE else None)
        if demo:
            if demo.get("timed_out"):
                meas, met = f"stopped: {demo['error']}", (False if not R["quick"] else None)
            else:
                meas = f"{_f(demo['time_s'], 1)} s" + (" (two towns)" if R["quick"] else "")
                met = demo["time_s"] <= 8 if not R["quick"] else None
            out.append(("the same at the demo scale (`build-demo`, scale 1): ≤ 8 s", meas, met))
        if fu.get("timed_out") or not fu["pages"]:
            out.append(
                (
                    f"each map page at scale 3 ≤ {MAP_PAGE_MB:g} MB and < 1 s to interactive",
                    f"not measured: run --all did not finish or wrote no page ({where})",
                    False if full_size else None,
                )
            )
        else:
            name, big = max(fu["pages"].items(), key=lambda kv: kv[1])
            meas = f"largest page {big / 1e6:.2f} MB ({name})"
            ml = R.get("map_load") or {}
            if ml.get("available"):
                slow = max(ml["pages"].items(), key=lambda kv: kv[1]["ms"])
                ready = all(p["ready"] is not False for p in ml["pages"].values())
                meas += f"; slowest to interactive {slow[1]['ms']:.0f} ms ({slow[0]}), scripts finished: {ready}"
                met = (big <= MAP_PAGE_MB * 1e6 and slow[1]["ms"] < MAP_LOAD_MS and ready) if full_size else None
            else:
                meas += "; time to interactive not measured (" + (ml.get("note") or "skipped") + ")"
                met = None
            out.append(
                (f"each map page at scale 3 ≤ {MAP_PAGE_MB:g} MB and < 1 s to interactive", meas + f" ({where})", met)
            )
    rr, rw = R.get("raster_read"), R.get("raster_write")
    if rr:
        meas = (
            f"{_f(rr['time_s'], 2)} s, {_f(rr['peak_rss_mb'] / 1024, 2)} GiB peak; {rw['pixels'] / 1e9:.2f} billion "
            f"pixels; people read = written: {rr['same_people']} ({where})"
        )
        met = (
            (rr["time_s"] <= 20 and rr["peak_rss_mb"] <= 1024 and rr["same_people"] and rw["pixels"] >= 2e9)
            if full_size
            else None
        )
        out.append(
            (
                "population from a China-size 100 m GeoTIFF (≥ 2 billion px): the Dongguan window ≤ 20 s, ≤ 1 GiB",
                meas,
                met,
            )
        )
    pc, pw = R.get("pbf_clip"), R.get("pbf_big_write")
    if pc:
        same = pc["same_nodes"] and pc["same_edges"]
        meas = (
            f"{_f(pc['time_s'], 1)} s, {_f(pc['peak_rss_mb'] / 1024, 2)} GiB peak on {pw['nodes']:,} nodes "
            f"({pw['copies']}× the city); identical to the pre-cut file: {same} ({where})"
        )
        met = (pc["time_s"] <= 120 and pc["peak_rss_mb"] <= 2048 and same) if full_size else None
        out.append(
            ("roads from a .osm.pbf ten times Dongguan's size, clipped: ≤ 2 min, ≤ 2 GiB, identical network", meas, met)
        )
    return out


def targets(R: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """List the performance targets and what was measured against each.

    Parameters
    ----------
    R
        Results of :func:`run_benchmark` (``targets`` need not be there yet).

    Returns
    -------
    list of (str, str, bool or None)
        ``(target, measured, met)``; ``met`` is ``None`` when the run cannot tell (e.g. a quick run).
    """
    dg, sp = R["dgcoverage"], R["scipy"]
    out = []
    quick = R["quick"]
    out.append(
        (
            "all four circles from a cached network < 30 s and < 4 GiB peak RSS",
            f"{_f(dg['time_s'])} s, {_f(dg['peak_rss_mb'] / 1024, 2)} GiB",
            dg["time_s"] < 30 and dg["peak_rss_mb"] < 4096,
        )
    )
    worst = max(c["access_s"] / sp["circles"][k]["search_s"] for k, c in dg["circles"].items())
    tot = sum(c["access_s"] for c in dg["circles"].values()) / sp["time_s"]
    out.append(
        (
            "per-circle access within 3× of the bare scipy call",
            f"worst circle {worst:.2f}×, four circles together {tot:.2f}×",
            worst <= 3,
        )
    )
    out.append(
        (
            "core: the four circles' access ≤ 1.2× the scipy floor (bare Dijkstra on the same CSR)",
            f"{tot:.2f}× (access {tot * sp['time_s']:.2f} s, floor {sp['time_s']:.2f} s)",
            # set for the Dongguan-size city: on small ones the searches take milliseconds and overheads dominate
            tot <= 1.2 if not quick and R["scale"] >= 3 else None,
        )
    )
    nx_ = R.get("networkx")
    if nx_:
        acc = sum(c["access_s"] for c in dg["circles"].values())
        acc_lim = sum(c.get("access_limit_s", c["access_s"]) for c in dg["circles"].values())
        r_e2e = nx_["ego_total_s"] / dg["time_s"]
        r_acc = nx_["ego_total_s"] / acc
        r_lim = nx_["ego_total_s"] / acc_lim
        ident = all(c["ego_reach_mismatches"] == 0 for c in nx_["circles"].values()) and all(
            c["max_abs_diff_s"] <= TOL_S and c["reach_mismatches"] == 0 for c in nx_["circles"].values()
        )
        out.append(
            (
                "≥ 100× faster than the networkx ego-graph recipe, identical times (1e-6 s)",
                f"{r_lim:,.0f}× on the same job (access searched to each circle's limit, as the recipe does); "
                f"{r_acc:,.0f}× with dgcoverage searching on to the 60-min report cap; {r_e2e:,.0f}× against "
                f"dgcoverage end to end (incl. load and tables); times identical: {ident}",
                r_lim >= 100 and ident,
            )
        )
    pr = R.get("pbf_read")
    if pr:
        out.append(("network from .osm.pbf < 3 min", f"{_f(pr['time_s'], 1)} s", pr["time_s"] < 180))
    si = R.get("siting")
    if si and si.get("available"):
        out.append(
            (
                f"{SITING_CANDIDATES:,}-candidate siting < 60 s",
                f"{_f(si['time_s'], 1)} s for {si['candidates']:,} candidates",
                si["time_s"] < 60 if si["candidates"] >= SITING_CANDIDATES or not quick else None,
            )
        )
    else:
        out.append((f"{SITING_CANDIDATES:,}-candidate siting < 60 s", "not available yet", None))
    return out + _issue12_targets(R)


def agreement_ok(R: dict[str, Any]) -> dict[str, bool]:
    """Each baseline's check (True = identical to 1e-6 s / same sets).

    Parameters
    ----------
    R
        Results of :func:`run_benchmark`.

    Returns
    -------
    dict
        ``{check: passed}`` for the checks that ran: ``scipy``, ``networkx``, ``pandana`` (to
        :data:`PANDANA_TOL_S`), ``networkx_ego``, ``siting``, ``pbf``, ``full`` and ``full_demo`` (tables
        identical to the no-maps run's, every output written), ``map_load`` (every page's script finished),
        ``raster`` (people read = written) and ``pbf_clip`` (same network as the pre-cut file).
    """
    ok = {}
    for k in ("scipy", "networkx", "pandana"):
        r = R.get(k)
        if r and r.get("circles") and (k != "pandana" or r.get("available")):
            tol = PANDANA_TOL_S if k == "pandana" else TOL_S
            ok[k] = all(c["max_abs_diff_s"] <= tol and c["reach_mismatches"] == 0 for c in r["circles"].values())
    if R.get("networkx"):
        ok["networkx_ego"] = all(c["ego_reach_mismatches"] == 0 for c in R["networkx"]["circles"].values())
    if R.get("siting", {}).get("available"):
        ok["siting"] = R["siting"]["spot_mismatches"] == 0
    if R.get("pbf_read"):
        ok["pbf"] = R["pbf_read"]["same_nodes"] and R["pbf_read"]["same_edges"]
    for k in ("full", "full_demo"):
        fu = R.get(k)
        if fu and not fu.get("timed_out"):
            ok[k] = bool(fu.get("same_tables")) and not fu["outputs_missing"]
    ml = R.get("map_load")
    if ml and ml.get("available"):
        ok["map_load"] = all(p["ready"] is not False and np.isfinite(p["ms"]) for p in ml["pages"].values())
    if R.get("raster_read"):
        ok["raster"] = bool(R["raster_read"]["same_people"])
    if R.get("pbf_clip"):
        ok["pbf_clip"] = bool(R["pbf_clip"]["same_nodes"] and R["pbf_clip"]["same_edges"])
    return ok
