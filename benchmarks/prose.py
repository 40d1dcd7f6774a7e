"""Pieces of the text of docs/benchmarks.md: number formats, agreement lines, growth and Guangdong notes."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.input_steps import FAR_BLOCKS, FAR_PEOPLE_PER_PX, RASTER_REL_TOL
from benchmarks.recipes import TOL_S


def _f(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    return f"{x:,.{nd}f}"


def _ratio(x: float | None, base: float | None) -> str:
    if x is None or base is None or not np.isfinite(x) or not base:
        return "—"
    return f"{x / base:,.1f}×" if x / base >= 1 else f"{x / base:.2f}×"


def _issue12_notes(R: dict[str, Any]) -> list[str]:
    """Return the method notes of the rows that ran."""
    notes = {
        "full": _ISSUE12_NOTES,
        "map_load": _ISSUE12_NOTES_2,
        "raster_read": _ISSUE12_NOTES_3,
        "pbf_clip": _ISSUE12_NOTES_4,
    }
    return [text for key, text in notes.items() if R.get(key) or (key == "map_load" and R.get("full"))]


_ISSUE12_NOTES = (
    "- **run --all with maps** runs the command a user runs, `dgcoverage run --all --data-dir <city> --out … "
    "--maps-dir …` (fresh, empty folders), as its own process; *time* is that process from start to exit "
    "(interpreter start-up and imports included: what a planner waits for) and *peak RSS* its maximum resident "
    "set (`getrusage(RUSAGE_CHILDREN)`). The phases are timed inside the same process by wrapping the library "
    "functions the command calls (`pipeline.load_study`, `load_facilities`, `run_circle`, `write_circle`, "
    "the service/gap areas and the report together — they run on forked worker processes (`--jobs`, default "
    "the CPUs available: 2 here), so their phase is wall time — and `maps.write_maps`); peak RSS is the largest "
    "single process (the workers share the run's loaded study copy-on-write and add their own working arrays). "
    "Its village and town tables are compared "
    "byte for byte with the no-maps run's (the *dgcoverage* row, or the growth row's run at that scale)."
)
_ISSUE12_NOTES_2 = (
    "- **map pages**: page size is the HTML file (MB = 10⁶ bytes); files beside the pages, shared by all of "
    "them, are listed apart. Time to interactive: each page, copied beside itself with a script that writes "
    "`performance.now()` at the `load` event (after the page's inline map script has drawn every layer), is "
    "opened by `chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run "
    "--dump-dom` from file:// with the network blocked (tile requests fail at once); best of the runs per page."
)
_ISSUE12_NOTES_3 = (
    '- **China-size raster** (SYNTHETIC): EPSG:4326 at 3″ (1/1200°, WorldPop\'s "100 m" grid) over '
    "73–136° E, 18–54° N, float32, nodata -99999, tiled 512 × 512, compressed, written with GDAL "
    "`SPARSE_OK=TRUE` so unwritten blocks take no space and read as nodata. The city's people are moved onto it "
    "from the city's own 100 m raster (each cell's people to the 3″ pixel under its centre: conserved exactly) "
    f"and {len(FAR_BLOCKS)} blocks far away ({', '.join(FAR_BLOCKS)}) hold {FAR_PEOPLE_PER_PX:g} people per "
    "pixel. The read is the call `pipeline.load_study` makes (towns' extent in the analysis CRS + 1 km); the "
    "check: the people on the grid read equal the people written for the city (to "
    f"{RASTER_REL_TOL:g} relative) and none of the far ones. Cached in the work folder by the city raster's SHA-256."
)
_ISSUE12_NOTES_4 = (
    "- **10-city .osm.pbf**: the city's network and nine copies moved by whole city widths/heights "
    "(8 around it and one more east, 0.01° apart) with new node and way ids, written as footways with "
    "pyosmium. The clip polygon is `--clip auto`'s: the study towns buffered by the longest circle's reach "
    "(30 min × 12 km/h = 6 km) + 100 m and simplified by 100 m, so parts of the neighbouring copies fall inside "
    "it. The pre-cut file is made by the benchmark from the generator's arrays (streets with both ends in the "
    "polygon, `shapely.intersects_xy`), not by the reader; identical means the same node ids and coordinates, "
    "the same directed edges and the same lengths (bit for bit). Cached in the work folder."
)


def _agree(r: dict[str, Any], tol: float = TOL_S) -> str:
    d = max(c["max_abs_diff_s"] for c in r["circles"].values())
    mm = sum(c["reach_mismatches"] for c in r["circles"].values())
    ok = d <= tol and mm == 0
    if tol == TOL_S:
        return f"{d:.1e} s, {mm} reach mismatches — {'identical to 1e-6 s' if ok else '**differs**'}"
    return (
        f"{d:.1e} s, {mm} reach mismatches — {'within' if ok else '**not within**'} {tol:g} s, *not* identical "
        "to 1e-6 s: pandana stores edge weights as integers of 1/1000 of the impedance unit "
        "(`DISTANCEMULTFACT 1000`) and returns float32 distances"
    )


def _ego_agree(r: dict[str, Any]) -> str:
    mm = sum(c["ego_reach_mismatches"] for c in r["circles"].values())
    return f"covered node sets: {mm} mismatches — {'identical' if mm == 0 else '**differs**'}"


def _scaling_text(R: dict[str, Any]) -> str:
    sc = R["scaling"]
    if len(sc) < 2:
        return ""
    a, b = sc[0], sc[-1]
    e_t = np.log(b["time_s"] / a["time_s"]) / np.log(b["nodes"] / a["nodes"])
    e_m = np.log(b["peak_rss_mb"] / a["peak_rss_mb"]) / np.log(b["nodes"] / a["nodes"])
    e_f = np.log(b["floor_s"] / a["floor_s"]) / np.log(b["nodes"] / a["nodes"]) if a["floor_s"] > 0 else float("nan")
    return (
        f"Only the network grows with the scale (the 100 m population grid, villages and facilities are the "
        f"same at every scale), so this isolates the cost of the network. From {a['nodes']:,} to {b['nodes']:,} "
        f"nodes ({b['nodes'] / a['nodes']:.0f}×) the bare search grows as nodes^{e_f:.2f} (all searches run to "
        "the 60-min report cap, which covers most of the city, so each is a near-full O(E log V) Dijkstra), "
        f"dgcoverage's total as nodes^{e_t:.2f} and peak memory as nodes^{e_m:.2f}: fixed costs (reading the "
        "raster, villages and towns, the tables; ≈ 1 s and ≈ 250 MiB with the interpreter) dominate small "
        "cities, and the per-node costs (CSR ≈ 12 bytes per directed edge, KD-tree, node arrays) are small."
    )


def _guangdong_text(R: dict[str, Any]) -> str:
    sc = R.get("scaling") or [
        {
            "nodes": R["sizes"]["nodes"],
            "time_s": R["dgcoverage"]["time_s"],
            "peak_rss_mb": R["dgcoverage"]["peak_rss_mb"],
        }
    ]
    srt = sorted(sc, key=lambda r: r["nodes"])
    big = srt[-1]
    if len(srt) >= 2 and srt[-1]["nodes"] > srt[0]["nodes"]:  # marginal cost: slope between smallest and largest
        a0 = srt[0]
        dn = big["nodes"] - a0["nodes"]
        us = 1e6 * max(big["time_s"] - a0["time_s"], 0.0) / dn
        kib = 1024 * max(big["peak_rss_mb"] - a0["peak_rss_mb"], 0.0) / dn
        how = f"marginal, between {a0['nodes']:,} and {big['nodes']:,} nodes"
    else:
        us = 1e6 * big["time_s"] / big["nodes"]
        kib = 1024 * big["peak_rss_mb"] / big["nodes"]
        how = f"average at {big['nodes']:,} nodes"
    fixed_mib = big["peak_rss_mb"] - kib * big["nodes"] / 1024
    lo, hi = 8e6, 20e6  # Guangdong walk network, nodes (see text)
    buf = 1.5  # overlap buffers: +50 % nodes
    pr = R.get("pbf_read") or {}
    pbf_us = 1e6 * pr["time_s"] / pr["nodes"] if pr.get("nodes") else 0.0
    fixed_s = srt[0]["time_s"] if len(srt) >= 2 else 0.0
    part_nodes = 1.5e6
    nparts = [int(np.ceil(n * buf / part_nodes)) for n in (lo, hi)]
    cpu_lo, cpu_hi = (n * buf * (us + pbf_us) / 1e6 + k * fixed_s for n, k in zip((lo, hi), nparts))
    si = R.get("siting") or {}
    siting_s = f"{si['time_s']:.1f} s" if si.get("available") else "(not measured)"
    part_mem_gib = (part_nodes * buf * kib / 1024 + fixed_mib) / 1024
    return f"""## Scaling out: all of Guangdong on Dask (on paper)

Measured per-node figures ({how}): **{us:.1f} µs of wall time per node** for all four circles end to end
and **{kib:.2f} KiB of peak memory per node** (plus ≈ {fixed_mib:.0f} MiB fixed per process).

**How big.** Guangdong has 21 prefecture-level cities, ≈ 126 M people (2020 census) on ≈ 180,000 km². This
scale-3 Dongguan (10.5 M people, 2,460 km²) has ≈ 0.55 M nodes, i.e. ≈ 0.05 nodes per person; OSM walk
networks of the Pearl River Delta cities are of the same order. Scaling by population gives ≈ 6–7 M nodes,
by built-up area (the delta is ~ 60 % of the people on ~ 30 % of the land; the mountain prefectures have
sparse roads) ≈ 8–20 M nodes. We take **{lo / 1e6:.0f}–{hi / 1e6:.0f} M nodes** and ≈ 3 M populated 100 m cells.

**Partitions.** Two options, both with an **overlap buffer equal to the longest circle's reach** — the
legal-aid circle, 30 min × 12 km/h = **6 km** (plus the 500 m snap distance): every cell in a partition's
core sees every facility (and every road) it could use, so the core's results are exact; buffer cells are
computed and thrown away.

1. *Per city* (21 partitions, natural for reporting by 村/社区 and 镇街). Sizes are very uneven: Guangzhou,
   Shenzhen, Dongguan and Foshan hold ≈ 45 % of the people, so the four big tasks set the wall time. A 6 km
   ring around a city like Dongguan (perimeter ≈ 250 km) adds ≈ 1,500 km² (≈ +60 % area; fewer nodes, since
   borders are often hills or water).
2. *Per tile* (e.g. 50 km × 50 km cores → ≈ 80 land tiles, each read with a 56 km window): overhead
   (62/50)² − 1 ≈ 54 % in area, less in nodes; balanced tasks; results joined back to villages by the cell's
   village code. Tiles cut villages, so village/town tables are aggregated after the map step
   (`dask.dataframe` groupby over cell results), not inside the tasks.

With Dask: `dask.bag`/`delayed` over partitions; each task reads its window of the province `.osm.pbf`
(pyosmium with a bbox, or pre-cut with `osmium extract`), the population raster window and the facilities
inside the window, runs `load_study` + `run_circle` for the four circles and returns per-cell times and
classes for its core only (a few MB); a final reduction builds the village, town and province tables.
There is no communication between tasks, so it scales linearly with workers.

**Cost.** Per node, the measured marginal costs are {us:.1f} µs (all four circles, from a cached network) plus
{pbf_us:.1f} µs to parse roads from `.osm.pbf` (osm.pbf row), ≈ {fixed_s:.1f} s fixed per partition (load of raster
windows, villages, tables; the smallest run above) and ≈ {fixed_mib:.0f} MiB fixed memory per process. With +50 %
nodes for the buffers, {lo / 1e6:.0f}–{hi / 1e6:.0f} M nodes take {cpu_lo / 60:.1f}–{cpu_hi / 60:.1f} CPU-minutes in
{nparts[0]}–{nparts[1]} partitions of ≤ {part_nodes / 1e6:.1f} M nodes, each needing ≈ {part_mem_gib:.1f} GiB
(so 2-vCPU/4 GiB workers suffice). A single 2-core machine does the province in ≈ {cpu_lo / 120:.0f}–{cpu_hi / 120:.0f}
min; 8 Dask workers in a few minutes including scheduling. At ≈ US$0.05–0.10 per 2-vCPU worker-hour on
demand that is **cents per full-province run**: the cost is preparing inputs (OSM extract, WorldPop raster,
village points, facility lists), not computing. Siting is the heavier job (5,000 candidates took
{siting_s} here for one circle on one city; candidates are independent, so it splits per partition and per
candidate chunk the same way).
"""
