"""The measured dgcoverage steps (access, siting, ``run --all``) and :data:`STEPS`, the registry the child runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.browser import step_map_load
from benchmarks.city import step_build
from benchmarks.harness import _CLI_BOOT, FULL_PHASES, _best, _peak_rss_mb
from benchmarks.input_steps import (
    step_pbf_big_write,
    step_pbf_clip,
    step_pbf_read,
    step_pbf_write,
    step_raster_read,
    step_raster_write,
)
from benchmarks.recipes import TOL_S, _cell_times, _load_problem, _rev_csr, step_networkx, step_pandana, step_scipy

SITING_CANDIDATES = 5000
SITING_K = 50
SITING_CIRCLE = "fitness_15"
DEMO_SCALE = 1.0  # `dgcoverage build-demo` (the `make demo` city)


def step_dgcoverage(root: str, out: str, pdir: str | None = None, repeat: int = 3) -> dict[str, Any]:
    """Dgcoverage end to end (all circles, tables written, no maps); then per-circle access timing; export.

    Parameters
    ----------
    root
        The city (embedded-default layout, from :func:`step_build`).
    out
        Folder for the circles' tables.
    pdir
        Write the problem (reversed graph, facility nodes and legs, cell nodes and legs, dgcoverage's times)
        here for the baselines; ``None``: don't.
    repeat
        Per-circle access is timed as the best of this many runs.

    Returns
    -------
    dict
        ``time_s`` (load + all circles), ``load_s``, ``peak_rss_mb`` (after the end-to-end run), ``circles``
        (per circle: ``circle_s, facilities, access_s, access_limit_s, on_network``) and ``sizes``.
    """
    import warnings

    from dgcoverage.compute.access import point_times, project_lonlat, snap_points, times_at_speed
    from dgcoverage.inputs.config import load_config
    from dgcoverage.outputs.tables import write_circle
    from dgcoverage.pipeline.facilities import load_facilities
    from dgcoverage.pipeline.load import load_study
    from dgcoverage.pipeline.run import run_circle

    warnings.simplefilter("ignore")
    circles, settings = load_config(None)
    t0 = time.perf_counter()
    study = load_study(data_dir=root, settings=settings)
    t_load = time.perf_counter() - t0
    results = {}
    per = {}
    for cid, c in circles.items():
        t = time.perf_counter()
        fac = load_facilities(study, c, None, "gcj02", root)
        res = run_circle(study, c, fac)
        write_circle(res, out)
        results[cid] = res
        per[cid] = {"circle_s": time.perf_counter() - t, "facilities": int(len(fac))}
    total = time.perf_counter() - t0
    peak = _peak_rss_mb()
    # per-circle access: search + handing times to cells (what the floor is compared with), best of `repeat`
    g = study.graph
    probs = {}
    for cid, c in circles.items():
        res = results[cid]
        fx, fy = project_lonlat(res.facilities.geometry.x.to_numpy(), res.facilities.geometry.y.to_numpy(), g.crs)
        fnode, fdist = snap_points(g, fx, fy, settings.max_snap_m)
        v, a = c.speed_mps, c.access_speed_mps
        cap = max(c.limit_s, settings.report_cap_minutes * 60.0)
        cell_leg = study.cell_snap_m / a

        def access(fnode=fnode, fdist=fdist, v=v, a=a, cap=cap, cell_leg=cell_leg):
            nt = times_at_speed(g, fnode, fdist / a, cap, v)
            ct = point_times(nt, study.cell_node, cell_leg)
            ct[ct > cap] = np.inf
            return nt, ct

        t_acc, (node_t, cell_t) = _best(access, repeat)
        assert np.array_equal(cell_t, res.cell_time_s), "access re-run differs from run_circle"
        # the same job as the ego-graph recipe: search only to the circle's limit (no report cap)
        t_lim, (_, cell_lim) = _best(lambda acc=access, lim=c.limit_s: acc(cap=lim), repeat)
        within = res.cell_time_s <= c.limit_s
        assert np.array_equal(cell_lim <= c.limit_s, within), "limit-only search reaches other cells"
        assert np.array_equal(cell_lim[within], res.cell_time_s[within]), "limit-only search gives other times"
        per[cid]["access_s"] = t_acc
        per[cid]["access_limit_s"] = t_lim
        per[cid]["on_network"] = int((fnode >= 0).sum())
        probs[cid] = {
            "fnode": fnode,
            "fleg_s": fdist / a,
            "fx": fx,
            "fy": fy,
            "node_time_s": node_t,
            "cell_time_s": res.cell_time_s,
            "cell_node": study.cell_node,
            "cell_leg_s": cell_leg,
            "cell_pop": study.cell_pop,
            "meta": {
                "v_mps": v,
                "a_mps": a,
                "cap_s": cap,
                "limit_s": c.limit_s,
                "minutes": c.minutes,
                "speed_kmh": c.speed_kmh,
            },
        }
    if pdir:
        pd_ = Path(pdir)
        pd_.mkdir(parents=True, exist_ok=True)
        np.savez(
            pd_ / "graph.npz", n=g.n_nodes, data=g.rev.data, indices=g.rev.indices, indptr=g.rev.indptr, x=g.x, y=g.y
        )
        meta = {}
        for cid, p in probs.items():
            meta[cid] = p.pop("meta")
            np.savez(pd_ / f"{cid}.npz", **p)
        (pd_ / "circles.json").write_text(json.dumps(meta))
    return {
        "time_s": total,
        "load_s": t_load,
        "circles": per,
        "peak_rss_mb": peak,
        "sizes": {
            "nodes": study.net.n_nodes,
            "directed_edges": study.net.n_edges,
            "cells": int(len(study.cell_pop)),
            "villages": int(len(study.villages)),
            "villages_with_area": int(study.villages["has_area"].sum()),
            "facilities": int(sum(p["facilities"] for p in per.values())),
        },
    }


def step_siting(pdir: str, n_cand: int, k: int, circle: str, n_check: int = 20, seed: int = 1) -> dict[str, Any]:
    """dgcoverage.compute.siting: coverage sets for candidates + greedy MCLP; spot-check against the access engine.

    Parameters
    ----------
    pdir
        Problem folder written by :func:`step_dgcoverage`.
    n_cand
        Candidates, drawn among populated cells' centres.
    k
        Sites chosen by the greedy maximal covering location problem.
    circle
        Circle id whose limit and speeds are used.
    n_check
        Candidates whose coverage set is compared with a single-source search.
    seed
        Random draw of the candidates and of the checked ones.

    Returns
    -------
    dict
        ``time_s`` (coverage sets + greedy), ``available``, ``coverage_s``, ``mclp_s``, ``candidates``,
        ``k``, ``circle``, ``nnz``, ``sites``, ``covered_share``, ``spot_checked``, ``spot_mismatches`` and
        ``peak_rss_mb``; ``{"time_s": nan, "available": False, "error"}`` without ``dgcoverage.compute.siting``.
    """
    try:
        from dgcoverage.compute import siting
    except ImportError as exc:
        return {"time_s": float("nan"), "available": False, "error": f"{type(exc).__name__}: {exc}"}
    g, probs = _load_problem(Path(pdir))
    p = probs[circle]
    n = int(g["n"])
    rev = _rev_csr(g)
    rng = np.random.default_rng(seed)
    cn = p["cell_node"]
    pool = np.flatnonzero(cn >= 0)
    pick = rng.choice(pool, size=min(n_cand, pool.size), replace=False)
    cand_node, cand_leg = cn[pick], p["cell_leg_s"][pick]  # candidates at populated cells' centres
    t = time.perf_counter()
    A = siting.coverage_matrix(rev, p["v_mps"], cand_node, cand_leg, cn, p["cell_leg_s"], p["limit_s"])
    t_cov = time.perf_counter() - t
    t = time.perf_counter()
    sol = siting.greedy_mclp(A, p["cell_pop"], k)
    t_mclp = time.perf_counter() - t
    peak = _peak_rss_mb()
    # spot check: a candidate's coverage set = cells whose single-source time is within the limit
    from scipy.sparse.csgraph import dijkstra

    A = A.tocsr()
    bad = 0
    for j in rng.choice(pick.size, size=min(n_check, pick.size), replace=False):
        d = dijkstra(rev, directed=True, indices=int(cand_node[j]), limit=p["limit_s"] * p["v_mps"] + 1)[:n]
        tt = _cell_times(d / p["v_mps"] + cand_leg[j], p)
        want = tt <= p["limit_s"] + 1e-9
        got = np.zeros(cn.size, dtype=bool)
        got[A.indices[A.indptr[j] : A.indptr[j + 1]]] = True
        bad += int(((want != got) & (np.abs(tt - p["limit_s"]) > TOL_S)).sum())
    return {
        "time_s": t_cov + t_mclp,
        "available": True,
        "coverage_s": t_cov,
        "mclp_s": t_mclp,
        "candidates": int(pick.size),
        "k": k,
        "circle": circle,
        "nnz": int(A.nnz),
        "sites": len(sol.sites),
        "covered_share": (float(sol.covered_weight / p["cell_pop"].sum()) if hasattr(sol, "covered_weight") else None),
        "spot_checked": int(min(n_check, pick.size)),
        "spot_mismatches": bad,
        "peak_rss_mb": peak,
    }


def _tree_bytes(folder: Path) -> dict[str, int]:
    """Size of every file under ``folder`` (relative name -> bytes), dot files (locks, journals) left out."""
    return {
        str(f.relative_to(folder)): f.stat().st_size
        for f in sorted(folder.rglob("*"))
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    }


def _same_tables(ref_out: Path, out: Path) -> dict[str, Any]:
    """Compare each circle's villages.csv and towns.csv of two runs byte for byte."""
    names = sorted(
        str(f.relative_to(ref_out)) for f in ref_out.glob("*/*.csv") if f.name in ("villages.csv", "towns.csv")
    )
    differ = [n for n in names if not (out / n).exists() or (out / n).read_bytes() != (ref_out / n).read_bytes()]
    return {"tables_compared": len(names), "tables_differing": differ, "same_tables": bool(names) and not differ}


def step_full(
    root: str, out: str, maps: str, ref_out: str | None = None, timeout_s: float | None = None
) -> dict[str, Any]:
    """``dgcoverage run --all`` with service areas, gap areas, maps and the report, as one CLI process.

    Parameters
    ----------
    root
        The city (embedded-default layout), given as ``--data-dir``.
    out, maps
        ``--out`` and ``--maps-dir`` (emptied first, so every run is a fresh one).
    ref_out
        Tables of the no-maps run (:func:`step_dgcoverage`) to compare the village and town tables with.
    timeout_s
        Stop the command after this many seconds (``None``: no limit).

    Returns
    -------
    dict
        ``time_s`` (the command's process, start to exit: what a user waits for, start-up and imports
        included), ``peak_rss_mb`` (the command's maximum RSS), ``main_s``, ``import_s``, ``phases``
        (seconds per :data:`FULL_PHASES`), ``pages`` and ``shared`` (bytes per map page and per other file in
        the maps folder), ``largest_page_mb``, ``outputs_missing`` and the table comparison (``same_tables``).
        A run stopped by ``timeout_s`` gives ``timed_out`` with ``time_s``/``peak_rss_mb`` nan.
    """
    import resource
    import shutil

    out_p, maps_p = Path(out), Path(maps)
    for d in (out_p, maps_p):
        if d.exists():
            shutil.rmtree(d)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    log_path = out_p.with_name(out_p.name + ".log")
    phases_path = out_p.with_name(out_p.name + ".phases.json")
    phases_path.unlink(missing_ok=True)
    argv = ["run", "--all", "--data-dir", str(root), "--out", str(out_p), "--maps-dir", str(maps_p)]
    cmd = [sys.executable, "-c", _CLI_BOOT, str(phases_path), *argv]
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as logf:
        try:
            rc = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:  # subprocess.run has killed the command
            return {
                "timed_out": True,
                "timeout_s": timeout_s,
                "time_s": float("nan"),
                "peak_rss_mb": float("nan"),
                "error": f"did not finish within the {timeout_s:.0f} s time limit",
                "command": "dgcoverage " + " ".join(argv),
            }
    wall = time.perf_counter() - t0
    if rc != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"dgcoverage {' '.join(argv)} exited with {rc}:\n{tail}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # the only child: the command
    inner = json.loads(phases_path.read_text())
    files = _tree_bytes(maps_p)
    pages = {k: v for k, v in files.items() if k.endswith(".html") and "/" not in k}
    shared = {k: v for k, v in files.items() if k not in pages}
    circles = sorted(p.name for p in out_p.iterdir() if p.is_dir())
    want = [f"{c}/{f}" for c in circles for f in ("villages.csv", "towns.csv", "service_area.geojson", "gaps.geojson")]
    want += ["report.html", "report.xlsx"]
    res = {
        "time_s": wall,
        "peak_rss_mb": peak,
        "main_s": inner["main_s"],
        "import_s": inner["import_s"],
        "phases": {k: inner["phases"].get(k, 0.0) for k in FULL_PHASES},
        "command": "dgcoverage " + " ".join(argv),
        "circles": circles,
        "pages": pages,
        "shared": shared,
        "largest_page_mb": max(pages.values(), default=0) / 1e6,
        "outputs_missing": [w for w in want if not (out_p / w).exists()] + ([] if pages else ["maps/*.html"]),
        "maps_dir": str(maps_p),
    }
    if ref_out:
        res.update(_same_tables(Path(ref_out), out_p))
    return res


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "build": step_build,
    "dgcoverage": step_dgcoverage,
    "scipy": step_scipy,
    "networkx": step_networkx,
    "pandana": step_pandana,
    "siting": step_siting,
    "pbf_write": step_pbf_write,
    "pbf_read": step_pbf_read,
    "full": step_full,
    "map_load": step_map_load,
    "raster_write": step_raster_write,
    "raster_read": step_raster_read,
    "pbf_big_write": step_pbf_big_write,
    "pbf_clip": step_pbf_clip,
}
