"""Benchmark dgcoverage on a Dongguan-scale synthetic city against the floor and the usual recipes.

The measurements behind ``docs/benchmarks.md``; ``scripts/benchmark.py`` (``make bench``) is a thin command
line over :func:`run_benchmark` and :func:`render`.  Nothing here prints: progress goes to the
``dgcoverage.bench`` logger (INFO) and every measurement is returned as a dict.  Nothing in the package
imports the ``benchmarks`` package.

This module is the entry point (:func:`run_benchmark`) and re-exports what the script and the tests use; the
work is split by concern:

  harness      child processes (:func:`run_step`), timing, peak memory, the child and ``run --all`` boots
  city         the synthetic cities per scale (built once, reused from the work folder)
  steps        the measured dgcoverage steps and :data:`STEPS`, the registry the child runs
  recipes      the baselines: scipy floor, networkx, pandana
  input_steps  roads from .osm.pbf, the China-size raster, the ten-city .osm.pbf clipped
  browser      map pages in headless Chromium
  render, prose, targets   the text of docs/benchmarks.md, its targets and the agreement checks

Every measured step runs in its own fresh subprocess, so the peak RSS reported (``VmHWM``) is that step's
alone (it includes the interpreter and its imports).  The child imports the ``benchmarks`` package, not
``dgcoverage``, so a baseline's peak RSS holds only what that baseline imports.  Times are wall-clock
seconds of the work itself (imports and fixture loading excluded unless the row says otherwise).  All
comparisons are made in the same run, so load from other processes on the machine affects every row alike.

Steps (:data:`STEPS`):
  dgcoverage    load -> snap -> access -> coverage tables for all four circles, written to CSV/JSON (no maps)
  scipy floor   one bare ``scipy.sparse.csgraph.dijkstra`` call per circle on the same CSR + super-source
  networkx      ``ego_graph(G, node, radius, distance="time")`` per facility (the tutorial recipe), and
                ``multi_source_dijkstra_path_length`` (from a super-source joined to the facilities by their
                access legs)
  pandana       ``Network.nearest_pois`` (contraction hierarchies); facility access legs are leaf edges
  siting        ``dgcoverage.compute.siting``: coverage sets for 5,000 candidates + greedy MCLP k = 50
  osm.pbf       the synthetic network written with ``osmium.SimpleWriter`` and read back with
                ``dgcoverage.inputs.osm.network_from_osm_file``
  full          ``dgcoverage run --all`` with service areas, gap areas, maps and the report, as a command-line
                process (its whole wall time and peak RSS), at the main and the demo scale and in the growth table
  map_load      each map page's time to its load event in headless Chromium (file://, offline)
  raster        ``dgcoverage.inputs.population.population_from_raster`` on the city's window of a synthetic, sparse,
                tiled, compressed 3-arc-second GeoTIFF of China (3.3 billion pixels)
  pbf_clip      ``dgcoverage.inputs.network.network_from_file`` with the ``--clip auto`` polygon on an .osm.pbf of the
                city and nine shifted copies, checked against a pre-cut file
Every baseline's travel times are compared with dgcoverage's (max abs difference, seconds).

Only the standard library and numpy are imported at module level by the step modules (the children import
them); dgcoverage, scipy, networkx, osmium and the optional pandana are imported inside the steps.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.browser import CHROMIUM_FLAGS, HEADLESS_FLAGS, MAP_LOAD_MS, MAP_PAGE_MB, step_map_load
from benchmarks.city import QUICK_TOWNS, _Cities, step_build
from benchmarks.harness import CLI_PHASES, FULL_PHASES, log, run_step
from benchmarks.input_steps import (
    CHINA_BLOCK,
    CHINA_BOUNDS,
    CHINA_PX_PER_DEG,
    FAR_BLOCKS,
    FAR_PEOPLE_PER_PX,
    PBF_COPY_OFFSETS,
    RASTER_REL_TOL,
    _auto_clip_polygon,
    step_pbf_big_write,
    step_pbf_clip,
    step_pbf_read,
    step_pbf_write,
    step_raster_read,
    step_raster_write,
)
from benchmarks.recipes import PANDANA_TOL_S, TOL_S, step_networkx, step_pandana, step_scipy
from benchmarks.render import render
from benchmarks.steps import (
    DEMO_SCALE,
    SITING_CANDIDATES,
    SITING_CIRCLE,
    SITING_K,
    STEPS,
    step_dgcoverage,
    step_full,
    step_siting,
)
from benchmarks.targets import agreement_ok, targets

__all__ = [
    "CHINA_BLOCK",
    "CHINA_BOUNDS",
    "CHINA_PX_PER_DEG",
    "CHROMIUM_FLAGS",
    "CLI_PHASES",
    "DEMO_SCALE",
    "FAR_BLOCKS",
    "FAR_PEOPLE_PER_PX",
    "FULL_PHASES",
    "HEADLESS_FLAGS",
    "MAP_LOAD_MS",
    "MAP_PAGE_MB",
    "PANDANA_TOL_S",
    "PBF_COPY_OFFSETS",
    "QUICK_TOWNS",
    "RASTER_REL_TOL",
    "SITING_CANDIDATES",
    "SITING_CIRCLE",
    "SITING_K",
    "STEPS",
    "TOL_S",
    "agreement_ok",
    "log",
    "render",
    "run_benchmark",
    "run_step",
    "step_build",
    "step_dgcoverage",
    "step_full",
    "step_map_load",
    "step_networkx",
    "step_pandana",
    "step_pbf_big_write",
    "step_pbf_clip",
    "step_pbf_read",
    "step_pbf_write",
    "step_raster_read",
    "step_raster_write",
    "step_scipy",
    "step_siting",
    "targets",
]

# Names the tests reach for beside the public ones.
_RE_EXPORTED = (_auto_clip_polygon,)


# --------------------------------------------------------------------------- the whole run


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for p in ("dgcoverage", "numpy", "scipy", "pandas", "networkx", "osmium", "pandana", "geopandas", "shapely"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "not installed"
    return out


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(mem, 1) if mem else None,
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _issue12_steps(R: dict[str, Any], cities: _Cities, skip: set[str], root: Path) -> None:
    """Run the steps of the maps/report, national raster and ten-city pbf targets into ``R``."""
    scale, work, tag = R["scale"], cities.work, cities.tag
    if "full" not in skip:
        R["full"] = cities.full_at(scale)
        if "map_load" not in skip and not R["full"].get("timed_out"):
            R["map_load"] = run_step("map_load", maps=R["full"]["maps_dir"], repeat=1 if R["quick"] else 3)
        if scale != DEMO_SCALE:
            R["full_demo"] = cities.full_at(DEMO_SCALE)
    if "raster" not in skip:
        tif = work / f"china-pop-3arcsec-{tag}.tif"
        R["raster_write"] = run_step("raster_write", src=str(root / "population_100m.tif"), tif=str(tif))
        R["raster_read"] = run_step("raster_read", root=str(root), tif=str(tif))
    if "pbf_clip" not in skip:
        big, cut = work / f"{tag}-scale{scale:g}-x10.osm.pbf", work / f"{tag}-scale{scale:g}-precut.osm.pbf"
        R["pbf_big_write"] = run_step("pbf_big_write", root=str(root), big=str(big), cut=str(cut))
        R["pbf_clip"] = run_step(
            "pbf_clip", big=str(big), cut=str(cut), polygon_wkb_hex=R["pbf_big_write"]["polygon_wkb_hex"]
        )


def run_benchmark(
    work: str | Path,
    *,
    quick: bool = False,
    scale: float | None = None,
    sizes: Sequence[float] | None = None,
    nx_budget: float = 600.0,
    pandana_timeout: float = 900.0,
    full_timeout: float = 1200.0,
    skip: Collection[str] = (),
    command: str = "python scripts/benchmark.py",
) -> dict[str, Any]:
    """Run every benchmark step, one fresh process each, and return all the measurements.

    Parameters
    ----------
    work
        Work folder: the synthetic cities (reused by later runs), the problem files handed to the baselines,
        dgcoverage's tables, the ``.osm.pbf`` files and the national raster (both cached).
    quick
        Two adjacent towns (:data:`QUICK_TOWNS`) instead of the whole city: the smoke test.
    scale
        City scale of the main run (default 3; quick: 1).
    sizes
        Scales for the growth table (default 1, 2, 3, 4; quick: 0.5, 1); the main run's scale is reused.
    nx_budget
        Seconds for the networkx ego-graph recipe over all circles; past it, a subsample is timed and the
        time scaled to all facilities.
    pandana_timeout
        Stop the pandana step after this many seconds (its contraction-hierarchy build is slow).
    full_timeout
        Stop one ``run --all`` with maps (the ``full`` step) after this many seconds.
    skip
        Steps not to run: any of ``networkx``, ``pandana``, ``siting``, ``pbf``, ``full`` (``run --all`` with
        maps and report, at every scale), ``map_load`` (page load in Chromium), ``raster`` (China-size
        GeoTIFF), ``pbf_clip`` (ten-city .osm.pbf, clipped) and ``scaling``.
    command
        The command line recorded in the results (and in the generated page).

    Returns
    -------
    dict
        JSON-serialisable (``json.dumps(..., default=float)``) results: ``date, quick, command, scale,
        town_codes, machine, versions``, one dict per step (``build, dgcoverage, scipy, networkx, pandana,
        siting, pbf_write, pbf_read, full, full_demo, map_load, raster_write, raster_read, pbf_big_write,
        pbf_clip``; skipped steps absent, ``full_demo`` only when the main scale is not the demo's),
        ``sizes`` (the city), ``circles`` (limits and speeds), ``scaling`` (one row per scale), ``targets``
        (:func:`targets`) and ``agreement`` (:func:`agreement_ok`).  :func:`render` turns it into
        ``docs/benchmarks.md``.

    Raises
    ------
    RuntimeError
        A step failed or its process died (see :func:`run_step`).
    """
    skip = set(skip)
    scale = scale if scale is not None else (1.0 if quick else 3.0)
    towns = QUICK_TOWNS if quick else None
    sizes = list(sizes) if sizes is not None else ([0.5, 1.0] if quick else [1.0, 2.0, 3.0, 4.0])
    work = Path(work)
    tag = "q" if towns else "city"
    work.mkdir(parents=True, exist_ok=True)

    cities = _Cities(work, tag, towns, full_timeout)
    R: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": quick,
        "command": command,
        "scale": scale,
        "town_codes": towns,
        "machine": _machine(),
        "versions": _versions(),
    }
    root = cities.root(scale)
    pdir = work / f"{tag}-scale{scale:g}-problem"
    log.info(
        "[benchmark] city scale %g%s in %s", scale, " (quick: towns " + ",".join(towns) + ")" if towns else "", root
    )
    R["build"] = run_step("build", root=str(root), scale=scale, town_codes=towns)
    R["dgcoverage"] = run_step("dgcoverage", root=str(root), out=str(work / "out"), pdir=str(pdir))
    R["sizes"] = R["dgcoverage"]["sizes"]
    R["circles"] = json.loads((pdir / "circles.json").read_text())
    R["scipy"] = run_step("scipy", pdir=str(pdir))
    cities.core[scale] = (R["dgcoverage"], R["scipy"], work / "out")
    if "networkx" not in skip:
        R["networkx"] = run_step("networkx", pdir=str(pdir), budget_s=nx_budget)
    if "pandana" not in skip:
        R["pandana"] = run_step("pandana", timeout_s=pandana_timeout, pdir=str(pdir))
    if "siting" not in skip:
        R["siting"] = run_step("siting", pdir=str(pdir), n_cand=SITING_CANDIDATES, k=SITING_K, circle=SITING_CIRCLE)
    if "pbf" not in skip:
        pbf = work / f"{tag}-scale{scale:g}.osm.pbf"
        R["pbf_write"] = run_step("pbf_write", root=str(root), pbf=str(pbf))
        R["pbf_read"] = run_step("pbf_read", root=str(root), pbf=str(pbf))
    _issue12_steps(R, cities, skip, root)
    if "scaling" not in skip:
        R["scaling"] = [cities.growth_row(sc, with_full="full" not in skip) for sc in sorted(set(sizes))]
    R["targets"] = targets(R)
    R["agreement"] = agreement_ok(R)
    return R
