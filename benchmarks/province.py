"""The province row: a SYNTHETIC province of shifted city copies run by ``dgcoverage batch`` on 1 and 2 Dask workers.

The province is built from one synthetic city (:func:`dgcoverage.demo.synthetic.build_demo`): the city and its
copies moved by :data:`benchmarks.input_steps.PBF_COPY_OFFSETS` city widths and heights (plus a 0.01° gap), as the
ten-city ``.osm.pbf`` of the pbf_clip row. Everything moves by the same offsets, into ONE of each shared file:

- ``province.osm.pbf``: every copy's streets (``highway=residential``, so the walk and the bike filters keep them);
- ``population.tif``: every copy's people on one 3″ WGS84 grid (each 100 m cell's people go to the pixel under its
  centre, so every copy keeps its people exactly);
- ``facilities/<circle>.geojson``: every copy's facilities (WGS84, ids ``NN-…``, names ``合成市NN·…``);
- ``units/cNN_towns.geojson`` / ``cNN_villages.geojson``: copy NN's towns and villages with codes ``9900NN…``
  and names ``合成NN·…``, and ``regions/cNN.toml`` naming them and the shared files (city ``合成市NN``, code
  ``9900NN``) — every name says SYNTHETIC.

Then :func:`measure` runs the regions three ways, each in a fresh process: a plain sequential loop over
``pipeline.batch.region_task`` (no Dask), and ``pipeline.batch.run_batch`` (what ``dgcoverage batch`` calls) on a
LocalCluster of 1 and of 2 workers; it checks every region's tables are byte-identical across the three. Each
run first reads the province file ONCE and saves its way arrays (``pipeline.precut``: ``run_batch`` does it
before submitting; the loop calls ``precut_networks`` itself), inside its wall time, and records the stage's
figures (``precut``: read, save and clip seconds, the way arrays' MiB, the driving process's peak); each region
task then builds its own windows from the memory-mapped arrays (in the task's time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.input_steps import _PBF_GAP_DEG, PBF_COPY_OFFSETS, _cached, _file_sha256, _trails, _write_osm

_ROOT = Path(__file__).resolve().parents[1]
_VERSION = 1
PX_PER_DEG = 1200  # 3″ population grid, as the national raster row
TABLES = ("villages.csv", "towns.csv", "facilities.csv", "summary.json")
#: Targets of issue 20 (2 cores): 2 workers vs 1, Dask overhead (1 worker / sequential), wall time, memory.
TARGETS = {"speedup_min": 1.6, "overhead_max": 1.15, "total_s_max": 600.0, "worker_gib_max": 2.0}
MIN_CITIES, MIN_NODES = 10, 5_000_000


def _offsets(lon: np.ndarray, lat: np.ndarray, copies: int) -> list[tuple[float, float]]:
    """Degrees each copy moves by: (0, 0) for the city, then :data:`PBF_COPY_OFFSETS` city widths/heights."""
    if not 1 <= copies <= len(PBF_COPY_OFFSETS) + 1:
        raise ValueError(f"copies must be 1..{len(PBF_COPY_OFFSETS) + 1}, got {copies}")
    span_x = float(lon.max() - lon.min()) + _PBF_GAP_DEG
    span_y = float(lat.max() - lat.min()) + _PBF_GAP_DEG
    return [(dx * span_x, dy * span_y) for dx, dy in ((0, 0), *PBF_COPY_OFFSETS)][:copies]


def _inputs_key(city: Path, copies: int) -> dict[str, Any]:
    from dgcoverage.inputs.embedded import DemoPaths

    d = DemoPaths(city)
    files = [d.network, d.population, d.towns, d.villages, *sorted((city / "facilities").glob("*.csv"))]
    return {"version": _VERSION, "copies": copies, "files": {f.name: _file_sha256(f) for f in files}}


def build_province(city: str | Path, folder: str | Path, copies: int = 10) -> dict[str, Any]:
    """Build (or reuse) the province of ``copies`` copies of the synthetic ``city`` in ``folder``.

    Cached: ``folder/province.json`` holds the SHA-256 of the city's files and the number of copies; the
    province is rebuilt only when they change.

    Returns
    -------
    dict
        ``time_s`` (nan when cached), ``cached``, ``copies``, ``nodes`` (walk nodes, all copies),
        ``nodes_per_city``, ``undirected_edges``, ``pbf_bytes``, ``raster_shape``, ``people``, ``villages``,
        ``towns``, ``facilities`` (per circle, all copies) and ``regions`` (the folder of region TOMLs).
    """
    city, folder = Path(city), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    side = folder / "province.json"
    key = _inputs_key(city, copies)
    hit = _cached(side, key, folder / "province.osm.pbf", folder / "population.tif")
    if hit is not None:
        return {**hit, "time_s": float("nan")}
    from dgcoverage.core.roadnet import load_network

    t0 = time.perf_counter()
    net = load_network(city / "network.npz")
    offs = _offsets(net.lon, net.lat, copies)
    n = net.n_nodes
    und = net.u < net.v  # the synthetic network is symmetric: keep each street once
    trails = _trails(net.u[und], net.v[und], n)
    step_id = 10 ** len(str(n))
    lon = np.concatenate([net.lon + dx for dx, _ in offs])
    lat = np.concatenate([net.lat + dy for _, dy in offs])
    node_id = np.concatenate([k * step_id + np.arange(n, dtype=np.int64) + 1 for k in range(copies)])
    ways = [[x + k * n for x in way] for k in range(copies) for way in trails]
    _write_osm(folder / "province.osm.pbf", node_id, lon, lat, ways, highway="residential")
    del ways, lon, lat, node_id
    people, shape = _write_population(city / "population_100m.tif", folder / "population.tif", offs)
    units = _write_units(city, folder, offs)
    fac = _write_facilities(city, folder, offs)
    result = {
        "time_s": time.perf_counter() - t0,
        "cached": False,
        "copies": copies,
        "nodes": n * copies,
        "nodes_per_city": n,
        "undirected_edges": int(und.sum()) * copies,
        "pbf_bytes": os.path.getsize(folder / "province.osm.pbf"),
        "raster_shape": shape,
        "people": people,
        **units,
        "facilities": fac,
        "regions": str(folder / "regions"),
    }
    side.write_text(json.dumps({"key": key, "result": result}))
    return result


def _write_population(src: Path, dst: Path, offs: list[tuple[float, float]]) -> tuple[float, list[int]]:
    """Every copy's people on one 3″ WGS84 grid (people conserved per copy); return (people, [height, width])."""
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    with rasterio.open(src) as s:
        arr = s.read(1, masked=True).filled(0).astype(np.float64)
        r, c = np.nonzero(arr > 0)
        xs, ys = rasterio.transform.xy(s.transform, r, c, offset="center")
        lon0, lat0 = Transformer.from_crs(s.crs, "EPSG:4326", always_xy=True).transform(np.asarray(xs), np.asarray(ys))
        vals = arr[r, c]
    lon = np.concatenate([lon0 + dx for dx, _ in offs])
    lat = np.concatenate([lat0 + dy for _, dy in offs])
    px = PX_PER_DEG
    west, north = np.floor(lon.min() * px - 8) / px, np.ceil(lat.max() * px + 8) / px
    col = np.floor((lon - west) * px).astype(np.int64)
    row = np.floor((north - lat) * px).astype(np.int64)
    height, width = int(row.max()) + 9, int(col.max()) + 9
    grid = np.zeros((height, width), dtype=np.float64)
    np.add.at(grid, (row, col), np.tile(vals, len(offs)))
    g32 = grid.astype(np.float32)
    del grid
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "width": width,
        "height": height,
        "crs": "EPSG:4326",
        "transform": from_origin(float(west), float(north), 1.0 / px, 1.0 / px),
        "nodata": -99999.0,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    tmp = dst.with_name(dst.name + ".tmp")
    with rasterio.open(tmp, "w", **profile) as d:
        d.write(g32, 1)
    os.replace(tmp, dst)
    return float(g32.sum(dtype=np.float64)), [height, width]


def _write_units(city: Path, folder: Path, offs: list[tuple[float, float]]) -> dict[str, Any]:
    """Write each copy's towns and villages (codes ``9900NN…``, names ``合成NN·…``) and its region TOML."""
    import geopandas as gpd
    import pandas as pd

    from dgcoverage.inputs.coords import gcj02_to_wgs84
    from dgcoverage.inputs.embedded import DemoPaths

    d = DemoPaths(city)
    towns = gpd.read_file(d.towns)
    towns = towns[towns["has_polygon"]] if "has_polygon" in towns else towns
    tcol = "town_code" if "town_code" in towns else "code"
    ncol = "town_name" if "town_name" in towns else "name"
    vl = pd.read_csv(d.villages, encoding="utf-8-sig", dtype={"代码": str})
    town_of_name = dict(zip(towns[ncol].astype(str), towns[tcol].astype(str)))
    vl = vl[vl["镇街"].astype(str).isin(town_of_name)]
    vlon, vlat = gcj02_to_wgs84(vl["经度"].to_numpy(float), vl["纬度"].to_numpy(float))
    (folder / "units").mkdir(exist_ok=True)
    (folder / "regions").mkdir(exist_ok=True)
    circles = sorted(p.name.removesuffix("_gcj02.csv") for p in (city / "facilities").glob("*_gcj02.csv"))
    for k, (dx, dy) in enumerate(offs):
        cc = f"9900{k:02d}"
        t = gpd.GeoDataFrame(
            {
                "code": [cc + str(c)[-3:] for c in towns[tcol]],
                "name": [f"合成{k:02d}·{nm}" for nm in towns[ncol]],
            },
            geometry=towns.geometry.translate(dx, dy).to_numpy(),
            crs=4326,
        )
        v = gpd.GeoDataFrame(
            {
                "code": [cc + str(c)[-6:] for c in vl["代码"]],
                "name": [f"合成{k:02d}·{nm}" for nm in vl["名称"]],
                "town_code": [cc + town_of_name[str(tn)][-3:] for tn in vl["镇街"]],
            },
            geometry=gpd.points_from_xy(np.asarray(vlon) + dx, np.asarray(vlat) + dy),
            crs=4326,
        )
        t.to_file(folder / "units" / f"c{k:02d}_towns.geojson", driver="GeoJSON")
        v.to_file(folder / "units" / f"c{k:02d}_villages.geojson", driver="GeoJSON")
        lines = [
            f'name = "合成市{k:02d} (SYNTHETIC copy {k} of the synthetic Dongguan)"',
            f'code = "{cc}"',
            f'city_name = "合成市{k:02d}"',
            f'towns = "../units/c{k:02d}_towns.geojson"',
            f'villages = "../units/c{k:02d}_villages.geojson"',
            'network = "../province.osm.pbf"',
            'population = "../population.tif"',
            "[facilities]",
            *(f'{c} = "../facilities/{c}.geojson"' for c in circles),
        ]
        (folder / "regions" / f"c{k:02d}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"towns": int(len(towns)) * len(offs), "villages": int(len(vl)) * len(offs)}


def _write_facilities(city: Path, folder: Path, offs: list[tuple[float, float]]) -> dict[str, int]:
    """Write one GeoJSON per circle with every copy's facilities (WGS84); return the count per circle."""
    import geopandas as gpd
    import pandas as pd

    from dgcoverage.inputs.coords import gcj02_to_wgs84

    (folder / "facilities").mkdir(exist_ok=True)
    counts = {}
    for p in sorted((city / "facilities").glob("*_gcj02.csv")):
        cid = p.name.removesuffix("_gcj02.csv")
        df = pd.read_csv(p, encoding="utf-8-sig", dtype={"编号": str})
        lon, lat = gcj02_to_wgs84(df["经度"].to_numpy(float), df["纬度"].to_numpy(float))
        base = df.drop(columns=["经度", "纬度"])
        parts = []
        for k, (dx, dy) in enumerate(offs):
            part = base.copy()
            part["编号"] = [f"{k:02d}-{x}" for x in part["编号"]]
            part["名称"] = [f"合成市{k:02d}·{x}" for x in part["名称"]]
            parts.append(
                gpd.GeoDataFrame(
                    part, geometry=gpd.points_from_xy(np.asarray(lon) + dx, np.asarray(lat) + dy), crs=4326
                )
            )
        allf = pd.concat(parts, ignore_index=True)
        allf.to_file(folder / "facilities" / f"{cid}.geojson", driver="GeoJSON")
        counts[cid] = int(len(allf))
    return counts


# ---------------------------------------------------------------------------------------------------------------
# The three runs, each in a fresh process (python -m benchmarks.province MODE REGIONS OUT RESULT_JSON)


def _vmhwm_mb() -> float:
    from benchmarks.harness import _peak_rss_mb

    return _peak_rss_mb()


def measured_write(out_dir: Any, pairs: Any, manifest: dict[str, Any]) -> Any:
    """``outputs.batch.write_region``, then note the worker's pid and peak memory (VmHWM) beside the region."""
    from dgcoverage.outputs.batch import write_region

    files = write_region(out_dir, pairs, manifest)
    out_dir = Path(out_dir)
    note = {"pid": os.getpid(), "peak_rss_mb": _vmhwm_mb()}
    (out_dir.parent / f"_mem-{out_dir.name}.json").write_text(json.dumps(note))
    return files


def _regions_and_config(regions_dir: str) -> tuple[Any, Any, Any]:
    from dgcoverage.inputs.batch import regions_from_folder
    from dgcoverage.inputs.config import load_config

    circles, settings = load_config(None)
    return regions_from_folder(regions_dir), list(circles.values()), settings


def _child(mode: str, regions_dir: str, out: str) -> dict[str, Any]:
    """One run: ``seq`` (region_task in a loop, no Dask) or ``dask1``/``dask2`` (run_batch on a LocalCluster)."""
    import dgcoverage.inputs.network as network_mod
    from dgcoverage.inputs.batch import HashCache, region_inputs
    from dgcoverage.outputs.batch import write_batch_table
    from dgcoverage.pipeline.batch import network_groups, region_task, run_batch
    from dgcoverage.pipeline.precut import PRECUT_DIR, precut_networks

    regions, circles, settings = _regions_and_config(regions_dir)
    t0 = time.perf_counter()  # both ways pay these imports here (a Dask worker pays them again in its first task)
    import geopandas  # noqa: F401 - what a task imports, so the fixed memory below holds it

    import dgcoverage.pipeline.load  # noqa: F401

    fixed_mb = _vmhwm_mb()  # this process before any region: interpreter and imports
    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    for old in out_p.glob("_mem-*.json"):  # notes of an earlier run
        old.unlink()
    shutil.rmtree(out_p / PRECUT_DIR, ignore_errors=True)  # windows cut by an earlier run: cut them again
    stage: dict[str, Any] = {}

    def on_precut(stats: dict[str, Any]) -> None:  # the cut stage, in this (the driving) process
        stage.update(stats, driver_peak_mb=_vmhwm_mb())

    ids = [c.id for c in circles]
    read_s: list[float] = []
    if mode == "seq":
        real = network_mod.network_from_file

        def timed(*a: Any, **k: Any) -> Any:  # the road reads of the loop (looked up at call time by _network)
            t = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                read_s.append(time.perf_counter() - t)

        network_mod.network_from_file = timed
        hashes, config = HashCache(), (tuple(circles), settings)
        outcomes = []
        cut, stats = precut_networks([(r, list(network_groups(r, circles))) for r in regions], circles, out_p, hashes)
        on_precut(stats)  # as run_batch does before submitting the tasks
        for r in regions:
            manifest = region_inputs(r, ids, config, hashes)
            networks = cut.get(r.id)
            outcomes.append(region_task(r, circles, settings, str(out_p / r.id), measured_write, manifest, networks))
        network_mod.network_from_file = real
    else:
        outcomes = run_batch(
            regions,
            out_p,
            circles,
            settings,
            measured_write,
            workers=int(mode.removeprefix("dask")),
            force=True,
            on_precut=on_precut,
        )
    write_batch_table(outcomes, out_p)
    wall = time.perf_counter() - t0
    mem: dict[int, float] = {}
    for r in regions:
        note = json.loads((out_p / f"_mem-{r.id}.json").read_text()) if (out_p / f"_mem-{r.id}.json").exists() else {}
        if note:
            mem[note["pid"]] = max(mem.get(note["pid"], 0.0), note["peak_rss_mb"])
    return {
        "mode": mode,
        "fixed_mb": fixed_mb,
        "wall_s": wall,
        "regions": len(regions),
        "failed": [o["region"] + ": " + o.get("error", "") for o in outcomes if o["status"] != "done"],
        "task_s": {o["region"]: o.get("seconds") for o in outcomes},
        "road_read_s": read_s,
        "precut": stage,
        "networks_obtained": sorted(
            {h.get("obtained", "?") for o in outcomes for h in (o.get("networks") or {}).values()}
        ),
        "worker_peak_mb": sorted(mem.values(), reverse=True),
        "workers_used": len(mem),
    }


def _run_child(mode: str, regions_dir: Path, out: Path, timeout_s: float | None) -> dict[str, Any]:
    res = out.with_name(out.name + ".json")
    res.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "DGCOVERAGE_CACHE": "off",  # every run reads the province .osm.pbf (no network cache across runs)
    }
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.province", mode, str(regions_dir), str(out), str(res)],
        cwd=_ROOT,
        env=env,
        timeout=timeout_s,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not res.exists():
        raise RuntimeError(f"province run {mode} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    r = json.loads(res.read_text())
    r["process_wall_s"] = time.perf_counter() - t0
    return r


def same_tables(outs: dict[str, Path], regions: list[str], circles: list[str]) -> dict[str, Any]:
    """Compare every region's tables across the runs (bytes); return ``identical`` and the differing files."""
    base, *others = outs
    diff = []
    n = 0
    for r in regions:
        for c in circles:
            for t in TABLES:
                ref = outs[base] / r / c / t
                n += 1
                for o in others:
                    p = outs[o] / r / c / t
                    if not (ref.is_file() and p.is_file() and ref.read_bytes() == p.read_bytes()):
                        diff.append(f"{o}/{r}/{c}/{t}")
    return {"identical": not diff and n > 0, "files_compared": n, "differ": diff[:20]}


def measure(
    work: str | Path,
    city: str | Path,
    copies: int = 10,
    modes: tuple[str, ...] = ("seq", "dask1", "dask2"),
    timeout_s: float | None = 3600.0,
) -> dict[str, Any]:
    """Build (or reuse) the province and run it each way in ``modes``; return the province section's results."""
    work = Path(work)
    folder = work / f"{Path(city).name}-x{copies}"  # e.g. province-city-scale3-x10
    build = build_province(city, folder, copies)
    regions_dir = folder / "regions"
    runs = {}
    for mode in modes:
        out = work / f"province-out-{mode}"
        runs[mode] = _run_child(mode, regions_dir, out, timeout_s)
    region_ids = sorted(p.stem for p in regions_dir.glob("*.toml"))
    circles = sorted(p.stem for p in (folder / "facilities").glob("*.geojson"))
    check = same_tables({m: work / f"province-out-{m}" for m in modes}, region_ids, circles)
    return {"build": build, "runs": runs, "tables": check, "circles": circles, "targets": TARGETS}


# ---------------------------------------------------------------------------------------------------------------
# The section of docs/benchmarks.md (scripts/benchmark.py --only province)


def add_options(ap: Any) -> None:
    """Add the province section's command-line options to ``ap``."""
    ap.add_argument("--province-scale", type=float, default=3.0, help="city scale of the province (default 3)")
    ap.add_argument("--province-copies", type=int, default=10, help="cities in the province, 1..10 (default 10)")
    ap.add_argument(
        "--province-towns", help="comma-separated town codes of the city (default: all; for small test provinces)"
    )
    ap.add_argument(
        "--province-modes",
        default="seq,dask1,dask2",
        help="runs to measure: seq (loop, no Dask), dask1, dask2 (LocalCluster of 1 / 2 workers); default all three",
    )
    ap.add_argument(
        "--province-timeout", type=float, default=3600.0, help="stop one run of the province after this many seconds"
    )


def run_section(work: Path, args: Any) -> dict[str, Any]:
    """Build (or reuse) the city and the province in ``work`` and measure the three runs."""
    from benchmarks.city import step_build
    from benchmarks.harness import log

    scale = float(getattr(args, "province_scale", 3.0))
    copies = int(getattr(args, "province_copies", 10))
    towns_opt = getattr(args, "province_towns", None)
    towns = [t.strip() for t in towns_opt.split(",") if t.strip()] if towns_opt else None
    work = Path(work)
    city = work / (f"province-city-scale{scale:g}" + (f"-{len(towns)}towns" if towns else ""))
    log.info("[benchmark] province: city at scale %g (%s)", scale, city)
    built = step_build(str(city), scale, towns)
    log.info("[benchmark] province: %d copies, three runs (sequential, 1 and 2 Dask workers)", copies)
    modes = tuple(m.strip() for m in str(getattr(args, "province_modes", "seq,dask1,dask2")).split(",") if m.strip())
    bad = [m for m in modes if m not in ("seq", "dask1", "dask2")]
    if bad:
        raise ValueError(f"--province-modes: unknown run(s) {bad}; use seq, dask1, dask2")
    r = measure(work, city, copies, modes, timeout_s=float(getattr(args, "province_timeout", 3600.0)))
    r["city"] = {"scale": scale, "towns": towns, "build_s": built["time_s"], **built["manifest"]}
    r["machine"] = _machine()
    for mode, run in r["runs"].items():
        log.info(
            "  [%s] %.1f s, peak per worker %s MiB", mode, run["wall_s"], [round(x) for x in run["worker_peak_mb"]]
        )
    return r


def _machine() -> dict[str, Any]:
    import datetime
    import platform

    import dask
    import distributed

    from dgcoverage._version import __version__

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "dgcoverage": __version__,
    }


def _register() -> None:
    from benchmarks.prose import province_text
    from benchmarks.sections import register

    register(
        "province",
        run_section,
        province_text,
        help="a SYNTHETIC province of 10 city copies run by dgcoverage batch on 1 and 2 Dask workers and sequentially",
        add_options=add_options,
    )


_register()


if __name__ == "__main__":
    mode, regions_dir, out, result = sys.argv[1:5]
    r = _child(mode, regions_dir, out)
    r["child_peak_rss_mb"] = _vmhwm_mb()
    Path(result).write_text(json.dumps(r, indent=1))
