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

*An estimate from one city's costs. `dgcoverage batch` now runs many regions on Dask: the measured province row
and its projection to Guangdong are the next section (`make bench-province`).*

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


# --------------------------------------------------------------------------- the province section (issue 20)

#: Guangdong's walk network, nodes (the estimate of the section above), its cities, and the share of the largest.
GD_NODES = (8e6, 20e6)
GD_CITIES = 21
GD_LARGEST_SHARE = 0.15  # Guangzhou or Shenzhen: ≈ 15 % of the province's nodes (by people and built-up area)


def _x(r: float, nd: int = 2) -> str:
    return f"{r:.{nd}f}×" if np.isfinite(r) else "— (not run)"


def province_costs(P: dict[str, Any]) -> dict[str, float]:
    """Per-node costs of the sequential run: road reading per province node, the rest per region node, memory."""
    b, seq = P["build"], P["runs"].get("seq") or next(iter(P["runs"].values()))
    n_prov, n_city, k = b["nodes"], b["nodes_per_city"], b["copies"]
    reads = seq.get("road_read_s") or []
    task = sum(v for v in seq["task_s"].values() if v is not None)
    read_us = 1e6 * float(np.mean(reads)) / n_prov if reads else float("nan")
    peaks = [m for r in P["runs"].values() for m in r.get("worker_peak_mb", [])]
    fixed = seq.get("fixed_mb", 0.0)
    cut = seq.get("precut") or {}
    if cut.get("files"):  # the windows were cut in one read before the tasks (pipeline/precut.py)
        return {
            "precut": 1.0,
            "read_us": 1e6 * cut["read_s"] / n_prov,  # the one read, per node of the FILE
            "reads_per_region": (cut["cut"] + cut["reused"]) / k,  # network types per region
            "build_us": 1e6 * cut["build_s"] / max(cut["cut"], 1) / n_city,  # windows built in the stage (0: tasks)
            "save_us": 1e6 * cut.get("save_s", 0.0) / n_prov,  # saving the way arrays, per node of the FILE
            "read_share": (cut["read_s"] + cut["build_s"] + cut.get("save_s", 0.0)) / (task + cut["seconds"])
            if task
            else float("nan"),
            "stage_s": cut["seconds"],
            "clip_s": cut.get("clip_s", float("nan")),
            "driver_peak_mb": cut.get("driver_peak_mb", float("nan")),
            "ways_mb": cut.get("ways_mb", float("nan")),
            "task_read_s": sum(reads),
            "compute_us": 1e6 * (task - sum(reads)) / n_prov,
            "task_s": task / k,
            "peak_mb": max(peaks) if peaks else float("nan"),
            "fixed_mb": fixed,
            "kib_per_node": 1024 * max(max(peaks) - fixed, 0.0) / n_city if peaks else float("nan"),
            "n_city": n_city,
        }
    return {
        "read_us": read_us,  # one read of the province file, per node of the FILE
        "reads_per_region": len(reads) / k if reads else float("nan"),
        "read_share": sum(reads) / task if task else float("nan"),
        "compute_us": 1e6 * (task - sum(reads)) / n_prov,  # everything else, per node of the region
        "task_s": task / k,
        "peak_mb": max(peaks) if peaks else float("nan"),
        "fixed_mb": fixed,
        "kib_per_node": 1024 * max(max(peaks) - fixed, 0.0) / n_city if peaks else float("nan"),
        "n_city": n_city,
    }


def _province_projection(P: dict[str, Any]) -> list[str]:
    c = province_costs(P)
    rows = []
    for n in GD_NODES:
        read_cpu = GD_CITIES * c["reads_per_region"] * n * c["read_us"] / 1e6  # every task reads the whole file
        cut_cpu = c["reads_per_region"] * n * c["read_us"] / 1e6  # pre-cut city files: each read is its own window
        comp = n * c["compute_us"] / 1e6
        big = GD_LARGEST_SHARE * n
        big_task = c["reads_per_region"] * n * c["read_us"] / 1e6 + big * c["compute_us"] / 1e6
        kib = c["kib_per_node"]
        # now: one read of the file and every window cut from it, in the driver before the tasks (serial)
        stage = n * (c["read_us"] + c.get("save_us", 0.0) + c["reads_per_region"] * c.get("build_us", 0.0)) / 1e6
        for w in (2, 8, 32):
            wall = max((read_cpu + comp) / w, big_task)
            if "precut" in c:
                wall_cut = stage + max(comp / w, big * c["compute_us"] / 1e6)
            else:
                wall_cut = max(
                    (cut_cpu + comp) / w, big * (c["compute_us"] + c["reads_per_region"] * c["read_us"]) / 1e6
                )
            rows.append(
                f"| {n / 1e6:.0f} M | {w} | {(read_cpu + comp) / 60:,.0f} | {wall / 60:,.1f} | {wall_cut / 60:,.1f}"
                f" | {(c['fixed_mb'] + big * kib / 1024) / 1024:,.1f} |"
            )
    kib = c["kib_per_node"]
    max_nodes = (2048 - c["fixed_mb"]) * 1024 / kib if np.isfinite(kib) and kib > 0 else float("nan")
    if "precut" in c:
        return _precut_projection(c, rows, max_nodes)
    return [
        "### Projection: all of Guangdong on a cluster, from the measured costs",
        "",
        f"From the sequential run: each task reads the province `.osm.pbf` {c['reads_per_region']:.0f}× (walk "
        f"network; bike network for legal aid) at **{c['read_us']:.2f} µs per node of the file** — "
        f"{100 * c['read_share']:.0f} % of the loop's time — and spends **{c['compute_us']:.1f} µs per node of its "
        f"region** on everything else (raster window, units, facilities, four circles, tables and layers written; "
        "an average with each task's fixed costs in it, so an upper bound per node). Peak memory "
        f"per worker was {c['peak_mb']:,.0f} MiB for cities of {c['n_city']:,} nodes: ≈ {c['fixed_mb']:,.0f} MiB "
        f"fixed (interpreter and imports, measured before the first region) + {c['kib_per_node']:.2f} KiB per "
        "region node.",
        "",
        f"Guangdong: {GD_NODES[0] / 1e6:.0f}–{GD_NODES[1] / 1e6:.0f} M walk nodes (estimate above) in "
        f"{GD_CITIES} city tasks, the largest city ≈ {100 * GD_LARGEST_SHARE:.0f} % of the nodes. Wall time on W "
        "one-thread workers ≈ max(CPU / W, the largest task); *pre-cut* = each city's window cut once from the "
        "province file (e.g. `osmium extract -p`), so a task reads only its own window instead of the whole file:",
        "",
        "| walk nodes | workers | CPU (min) | wall, each task reads the province file (min) | wall, pre-cut city "
        "files (min) | largest task's memory (GiB) |",
        "|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Reading the whole file in every task grows as cities × province size, so at Guangdong's size it is most of "
        f"the CPU; cutting the city windows once removes it. The largest city needs more than 2 GiB per worker "
        f"above ≈ {max_nodes / 1e6:.1f} M nodes: such a city needs a worker with more memory, or "
        "splitting into tiles with a buffer of the longest reach (exact, but not built: `dgcoverage batch` runs each "
        "region as one task).",
    ]


def _precut_projection(c: dict[str, float], rows: list[str], max_nodes: float) -> list[str]:
    """Return the projection's text when the windows were cut in one read before the tasks (pipeline/precut.py)."""
    return [
        "### Projection: all of Guangdong on a cluster, from the measured costs",
        "",
        f"From the sequential run: the first stage read the province `.osm.pbf` ONCE (walk and bike filters together) "
        f"at **{c['read_us']:.2f} µs per node of the file** and saved its way arrays uncompressed "
        f"({c.get('save_us', 0.0):.2f} µs per node of the file); each task builds its "
        f"{c['reads_per_region']:.0f} windows (walk network; bike network for legal aid) from the memory-mapped "
        "arrays, in parallel (in the task's time below; each build also makes a vectorised pass over the whole "
        f"file's arrays); with the regions' clip polygons ({c['clip_s']:,.1f} s) "
        "and imports the stage took "
        f"{c['stage_s']:,.1f} s, "
        f"{100 * c['read_share']:.0f} % of the loop's time (reads inside the tasks: {c['task_read_s']:,.1f} s). "
        f"The tasks spend **{c['compute_us']:.1f} µs per node of their region** on everything else (building their "
        "windows, raster window, units, facilities, four circles, tables and layers written; an average with each "
        "task's fixed costs in it, so an upper bound per node). The stage's process peaked at "
        f"{c['driver_peak_mb']:,.0f} MiB (the one read's way arrays: {c['ways_mb']:,.0f} MiB). Peak memory per "
        f"worker was {c['peak_mb']:,.0f} MiB for cities of {c['n_city']:,} nodes: ≈ {c['fixed_mb']:,.0f} MiB "
        f"fixed (interpreter and imports, measured before the first region) + {c['kib_per_node']:.2f} KiB per "
        "region node.",
        "",
        f"Guangdong: {GD_NODES[0] / 1e6:.0f}–{GD_NODES[1] / 1e6:.0f} M walk nodes (estimate above) in "
        f"{GD_CITIES} city tasks, the largest city ≈ {100 * GD_LARGEST_SHARE:.0f} % of the nodes. Wall time on W "
        "one-thread workers ≈ max(CPU / W, the largest task). *Before*: every task read the whole province file "
        "once per network type (each read taken at the cost of the one read measured here, which applies both "
        "filters); *now* (what `dgcoverage batch` does): the one read (and saving its way arrays) runs first, in "
        "the process that submits the tasks, then the tasks build their own windows from the saved arrays:",
        "",
        "| walk nodes | workers | CPU (min) | wall, before: each task reads the province file (min) | wall, now: "
        "windows cut in one read, then the tasks (min) | largest task's memory (GiB) |",
        "|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Reading the whole file in every task grew as cities × province size; the one read grows as the province "
        "size (saving its arrays too); the windows are built in the tasks, in parallel. The stage is "
        "serial (it does not shrink with more workers), and the process running it holds the whole file's way "
        "arrays. The largest city needs more than 2 GiB per worker "
        f"above ≈ {max_nodes / 1e6:.1f} M nodes: such a city needs a worker with more memory, or "
        "splitting into tiles with a buffer of the longest reach (exact, but not built: `dgcoverage batch` runs each "
        "region as one task).",
    ]


def province_text(P: dict[str, Any]) -> str:
    """Return the province section of docs/benchmarks.md (issue 20) from :func:`benchmarks.province.measure`."""
    from benchmarks.province import MIN_CITIES, MIN_NODES

    b, runs, t, m = P["build"], P["runs"], P["targets"], P.get("machine", {})
    city = P.get("city", {})
    seq, w1, w2 = runs.get("seq"), runs.get("dask1"), runs.get("dask2")
    speed = w1["wall_s"] / w2["wall_s"] if w1 and w2 else float("nan")
    over = w1["wall_s"] / seq["wall_s"] if w1 and seq else float("nan")
    total = w2["wall_s"] if w2 else float("nan")
    peak = max((x for r in runs.values() for x in r.get("worker_peak_mb", [])), default=float("nan"))
    same = P["tables"]["identical"]
    failed = [f for r in runs.values() for f in r.get("failed", [])]
    fac = ", ".join(f"{v:,} {k}" for k, v in b["facilities"].items())

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    what = {
        "seq": "the same task function (`pipeline.batch.region_task`) for each region in a loop, one process, no Dask",
        "dask1": "`run_batch` (what `dgcoverage batch` runs) on a LocalCluster of 1 one-thread worker process",
        "dask2": "`run_batch` on a LocalCluster of 2 one-thread worker processes",
    }
    rows = []
    for mode, r in runs.items():
        tasks = [v for v in r["task_s"].values() if v is not None]
        peaks = ", ".join(f"{x:,.0f}" for x in r["worker_peak_mb"]) or "—"
        rows.append(
            f"| {mode} | {what.get(mode, mode)} | {r['wall_s']:,.1f} | {sum(tasks):,.1f} | {peaks} | "
            f"{_x(r['wall_s'] / seq['wall_s']) if seq else '—'} |"
        )
        cut = r.get("precut") or {}
        if cut:
            rows.append(
                f"| ↳ {mode}: cut stage | in the wall time above, before the tasks: ONE read of the province file "
                f"({_f(cut['read_s'], 1)} s), its way arrays saved ({_f(cut.get('save_s', 0.0), 1)} s); {cut['cut']} "
                f"windows left to the tasks to build ({cut['reused']} reused) | {cut['seconds']:,.1f} | — | "
                f"{_f(cut.get('driver_peak_mb'), 0)} (its process) | — |"
            )
    reads = (seq or {}).get("road_read_s") or []
    cut = (seq or {}).get("precut") or {}
    if cut.get("files"):
        how = (
            "The shared `.osm.pbf` is read ONCE per run, before the tasks (`pipeline/precut.py`): one read of the "
            f"whole file with the walk and bike filters together ({_f(cut['read_s'], 1)} s in the sequential "
            f"run; its way arrays {_f(cut.get('ways_mb'), 0)} MiB), then each region's windows (towns + the "
            "longest reach; walk network for three circles, bike network for legal aid: "
            f"{cut['cut']} windows) built by the tasks, in parallel, from the way arrays saved uncompressed "
            f"({_f(cut.get('save_s', 0.0), 1)} s) and memory-mapped, exactly as a task's own clipped read would "
            f"(reads of the file inside the tasks: {len(reads)}). Tables:"
        )
    else:
        how = (
            f"Each task reads the shared `.osm.pbf` {len(reads) // max(b['copies'], 1)}× (walk network for three "
            f"circles, bike network for legal aid) and keeps its window (towns + the longest reach): "
            f"{_f(float(np.mean(reads)) if reads else None, 1)} s per read in the sequential run. Tables:"
        )
    lines = [
        f"## Province on Dask: {b['copies']} SYNTHETIC cities, {b['nodes']:,} walk nodes (measured)",
        "",
        f"*Generated by `python scripts/benchmark.py --only province` (`make bench-province`) on {m.get('date', '—')}"
        f" ({m.get('cpus', '?')} CPUs, load average at start {m.get('load_average', '—')}; dask "
        f"{m.get('dask', '?')}, distributed {m.get('distributed', '?')}, dgcoverage {m.get('dgcoverage', '?')}); "
        "only this section is rewritten by it.*",
        "",
        f"**The province** (`benchmarks/province.py`, deterministic, cached in the work folder): the synthetic "
        f"Dongguan at scale {city.get('scale', '?'):g} (`build_demo`, SYNTHETIC roads, people and facilities) and "
        f"{b['copies'] - 1} copies moved by whole city widths/heights, as the ten-city `.osm.pbf` row: ONE "
        f"`.osm.pbf` ({b['pbf_bytes'] / 1e6:,.1f} MB, {b['nodes']:,} nodes, {b['undirected_edges']:,} streets as "
        f"`highway=residential` ways), ONE 3″ population GeoTIFF ({b['raster_shape'][0]:,} × {b['raster_shape'][1]:,}"
        f" px, {b['people']:,.0f} people), one facility GeoJSON per circle covering the province ({fac}), and per "
        f"city its own towns and villages ({b['towns'] // b['copies']} towns, {b['villages'] // b['copies']} "
        "villages; codes `9900NN…`, names `合成市NN` / `合成NN·…`) and a region TOML naming the shared files. "
        f"Build: {_f(b['time_s'], 1)} s{' (cached from an earlier run)' if b.get('cached') else ''}.",
        "",
        "All four circles, tables only (no maps); every run starts from nothing (network cache off, `--force`), in a "
        "fresh process; *wall* is the whole batch including the Dask cluster's start and its workers' imports; "
        "*peak per worker* is each worker process's `VmHWM` at the end of its last task.",
        "",
        "| run | what | wall (s) | tasks, summed (s) | peak per worker (MiB) | vs sequential |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"{how} the villages, towns, facilities and summary of every region and circle "
        f"({P['tables']['files_compared']} files) are byte-identical across the runs: **{same}**"
        + (f" (differ: {', '.join(P['tables']['differ'])})" if P["tables"]["differ"] else "")
        + (f". Failed regions: {'; '.join(failed)}" if failed else "")
        + ".",
        "",
        "### Targets (issue 20, 2 cores)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| ≥ {MIN_CITIES} cities and ≥ {MIN_NODES / 1e6:.0f} M walk nodes | {b['copies']} cities, "
        f"{b['nodes']:,} nodes | {yes(b['copies'] >= MIN_CITIES and b['nodes'] >= MIN_NODES)} |",
        f"| 2 workers ≥ {t['speedup_min']}× faster than 1 | {_x(speed)} | {yes(speed >= t['speedup_min'])} |",
        f"| Dask overhead: 1 worker ≤ {t['overhead_max']}× the sequential loop | {_x(over, 3)} | "
        f"{yes(over <= t['overhead_max'])} |",
        f"| the province, all four circles, ≤ {t['total_s_max'] / 60:.0f} min (2 workers) | {_f(total / 60, 1)} min | "
        f"{yes(total <= t['total_s_max'])} |",
        f"| ≤ {t['worker_gib_max']:g} GiB peak per worker | {_f(peak / 1024)} GiB | "
        f"{yes(peak / 1024 <= t['worker_gib_max'])} |",
        f"| tables identical across the three runs, no region failed | {same}, {len(failed)} failed | "
        f"{yes(bool(same) and not failed)} |",
        "",
        *(_province_projection(P) if seq else []),
    ]
    return "\n".join(lines) + "\n"
