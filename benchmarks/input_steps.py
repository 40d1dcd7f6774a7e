"""The input-reading steps: roads from an .osm.pbf, the national raster, the ten-city .osm.pbf clipped."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import _peak_rss_mb

CHINA_BOUNDS = (73.0, 18.0, 136.0, 54.0)  # W, S, E, N (degrees): China's extent, rounded out
CHINA_PX_PER_DEG = 1200  # 3 arc-seconds (≈ 93 m × 86 m at Dongguan), WorldPop's "100 m" grid
CHINA_BLOCK = 512
#: Blocks of people far from Dongguan (a full 512 × 512 block each), which the Dongguan window must not pick up.
FAR_BLOCKS = {"Beijing": (116.4, 39.9), "Urumqi": (87.6, 43.8), "Lhasa": (91.1, 29.65), "Harbin": (126.6, 45.75)}
FAR_PEOPLE_PER_PX = 5.0
RASTER_REL_TOL = 1e-9  # people read vs people written, relative
#: Where the nine copies of the city go around it, in city widths/heights (8 neighbours, and one more east).
PBF_COPY_OFFSETS = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1), (2, 0))
_PBF_GAP_DEG = 0.01  # gap between copies, so no two copies' nodes share a location
_CACHE_VERSION = 1


def _trails(a: np.ndarray, b: np.ndarray, n: int, max_nodes: int = 1900) -> list[list[int]]:
    """Greedy trails over the undirected edges ``(a[i], b[i])`` of ``n`` nodes: ways of <= ``max_nodes`` nodes."""
    ends = np.concatenate([a, b])
    other = np.concatenate([b, a])
    eid = np.concatenate([np.arange(a.size), np.arange(a.size)])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, ends + 1, 1)
    np.cumsum(ptr, out=ptr)
    adj_o, adj_e = other[order].tolist(), eid[order].tolist()
    ptr_l = ptr.tolist()
    cursor = ptr_l[:-1].copy()
    used = bytearray(a.size)
    a_l, b_l = a.tolist(), b.tolist()
    ways = []
    for e in range(a.size):
        if used[e]:
            continue
        used[e] = 1
        way = [a_l[e], b_l[e]]
        cur = b_l[e]
        while len(way) < max_nodes:
            c, end = cursor[cur], ptr_l[cur + 1]
            while c < end and used[adj_e[c]]:
                c += 1
            cursor[cur] = c
            if c == end:
                break
            used[adj_e[c]] = 1
            cur = adj_o[c]
            way.append(cur)
        ways.append(way)
    return ways


def step_pbf_write(root: str, pbf: str) -> dict[str, Any]:
    """Write the synthetic network as an .osm.pbf: nodes + ways merged from chains of two-way edges.

    Parameters
    ----------
    root
        The city (its ``network.npz``).
    pbf
        File to write (replaced).

    Returns
    -------
    dict
        ``time_s``, ``ways``, ``nodes``, ``undirected_edges`` and ``bytes`` (file size).
    """
    import osmium

    from dgcoverage.core.roadnet import load_network

    net = load_network(Path(root) / "network.npz")
    t0 = time.perf_counter()
    u, v = net.u, net.v
    und = u < v  # the synthetic network is symmetric: keep each street once
    a, b = u[und], v[und]
    n = net.n_nodes
    ways = _trails(a, b, n)
    Path(pbf).unlink(missing_ok=True)
    w = osmium.SimpleWriter(str(pbf))
    try:
        lon, lat = net.lon.tolist(), net.lat.tolist()
        for i in range(n):
            w.add_node(osmium.osm.mutable.Node(id=i + 1, location=(lon[i], lat[i])))
        for j, way in enumerate(ways):
            w.add_way(osmium.osm.mutable.Way(id=j + 1, nodes=[x + 1 for x in way], tags={"highway": "footway"}))
    finally:
        w.close()
    return {
        "time_s": time.perf_counter() - t0,
        "ways": len(ways),
        "nodes": n,
        "undirected_edges": int(a.size),
        "bytes": os.path.getsize(pbf),
    }


def step_pbf_read(root: str, pbf: str) -> dict[str, Any]:
    """Time network_from_osm_file on the .osm.pbf; check it has the same nodes and edges as the .npz.

    Parameters
    ----------
    root
        The city (its ``network.npz`` is the reference).
    pbf
        The file written by :func:`step_pbf_write`.

    Returns
    -------
    dict
        ``time_s``, ``nodes``, ``directed_edges``, ``same_nodes``, ``same_edges`` and
        ``max_rel_length_diff`` (haversine vs the generator's planar lengths; ``None`` if the edges differ).
    """
    from dgcoverage.core.roadnet import load_network
    from dgcoverage.inputs.osm import network_from_osm_file

    t0 = time.perf_counter()
    net = network_from_osm_file(pbf, "walk")
    t = time.perf_counter() - t0
    ref = load_network(Path(root) / "network.npz")
    same_nodes = bool(np.array_equal(net.node_id, ref.node_id + 1))
    o = np.lexsort((ref.v, ref.u))
    same_edges = bool(
        net.n_edges == ref.n_edges and np.array_equal(net.u, ref.u[o]) and np.array_equal(net.v, ref.v[o])
    )
    rel = (
        float(np.max(np.abs(net.length_m - ref.length_m[o]) / np.maximum(ref.length_m[o], 1.0))) if same_edges else None
    )
    return {
        "time_s": t,
        "nodes": net.n_nodes,
        "directed_edges": net.n_edges,
        "same_nodes": same_nodes,
        "same_edges": same_edges,
        "max_rel_length_diff": rel,
    }


def _file_sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cached(side: Path, key: dict[str, Any], *files: Path) -> dict[str, Any] | None:
    """Return the result stored beside cached files when they exist and were made from the same inputs."""
    if side.exists() and all(f.exists() for f in files):
        stored = json.loads(side.read_text())
        if stored.get("key") == key:
            return {**stored["result"], "cached": True}
    return None


def step_raster_write(src: str, tif: str) -> dict[str, Any]:
    """Write (or reuse) a China-size, tiled, compressed, sparse 3″ population GeoTIFF holding the city's people.

    The city's population raster is moved onto the national grid (each populated cell's people go to the
    3″ pixel under its centre, so people are conserved exactly), and :data:`FAR_BLOCKS` get
    :data:`FAR_PEOPLE_PER_PX` per pixel; every other block is left unwritten (GDAL ``SPARSE_OK``), i.e.
    nodata (-99999, as WorldPop).  Cached beside the file (keyed by the source's SHA-256 and the layout).

    Parameters
    ----------
    src
        The city's population raster (``population_100m.tif``).
    tif
        The national raster to write.

    Returns
    -------
    dict
        ``time_s`` (nan when cached), ``cached``, ``width``, ``height``, ``pixels``, ``blocks``,
        ``blocks_written``, ``bytes``, ``compress``, ``city_people_written`` (float64 sum of the float32
        values written), ``city_people_source`` (the city raster's own sum), ``far_people`` and ``city_window``.
    """
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    src_p, tif_p = Path(src), Path(tif)
    side = tif_p.with_name(tif_p.name + ".json")
    key = {
        "version": _CACHE_VERSION,
        "source_sha256": _file_sha256(src_p),
        "bounds": list(CHINA_BOUNDS),
        "px_per_deg": CHINA_PX_PER_DEG,
        "block": CHINA_BLOCK,
        "far": {k: list(v) for k, v in FAR_BLOCKS.items()},
        "far_people_per_px": FAR_PEOPLE_PER_PX,
    }
    hit = _cached(side, key, tif_p)
    if hit is not None:
        return {**hit, "time_s": float("nan")}
    t0 = time.perf_counter()
    with rasterio.open(src_p) as s:
        arr = s.read(1, masked=True).filled(0).astype(np.float64)
        r, c = np.nonzero(arr > 0)
        xs, ys = rasterio.transform.xy(s.transform, r, c, offset="center")
        lon, lat = Transformer.from_crs(s.crs, "EPSG:4326", always_xy=True).transform(np.asarray(xs), np.asarray(ys))
        vals = arr[r, c]
    west, south, east, north = CHINA_BOUNDS
    px, bs = CHINA_PX_PER_DEG, CHINA_BLOCK
    width, height = round((east - west) * px), round((north - south) * px)
    col = np.floor((np.asarray(lon) - west) * px).astype(np.int64)
    row = np.floor((north - np.asarray(lat)) * px).astype(np.int64)
    r0, c0 = int(row.min()) // bs * bs, int(col.min()) // bs * bs
    r1, c1 = min(-(-(int(row.max()) + 1) // bs) * bs, height), min(-(-(int(col.max()) + 1) // bs) * bs, width)
    city = np.zeros((r1 - r0, c1 - c0), dtype=np.float64)
    np.add.at(city, (row - r0, col - c0), vals)
    city32 = city.astype(np.float32)
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "width": width,
        "height": height,
        "crs": "EPSG:4326",
        "transform": from_origin(west, north, 1.0 / px, 1.0 / px),
        "nodata": -99999.0,
        "tiled": True,
        "blockxsize": bs,
        "blockysize": bs,
        "sparse_ok": True,
        "bigtiff": "YES",
    }
    tmp = tif_p.with_name(tif_p.name + ".tmp")
    for compress in ("zstd", "deflate"):  # ZSTD when this GDAL has it
        try:
            d = rasterio.open(tmp, "w", **profile, compress=compress)
        except rasterio.errors.RasterioError:
            continue
        with d:
            d.write(city32, 1, window=Window(c0, r0, c1 - c0, r1 - r0))
            for x, y in FAR_BLOCKS.values():
                bc, br = int((x - west) * px) // bs * bs, int((north - y) * px) // bs * bs
                d.write(np.full((bs, bs), FAR_PEOPLE_PER_PX, dtype=np.float32), 1, window=Window(bc, br, bs, bs))
        break
    os.replace(tmp, tif_p)
    result = {
        "time_s": time.perf_counter() - t0,
        "cached": False,
        "width": width,
        "height": height,
        "pixels": width * height,
        "blocks": -(-width // bs) * -(-height // bs),
        "blocks_written": city.size // (bs * bs) + len(FAR_BLOCKS),
        "bytes": os.path.getsize(tif_p),
        "compress": compress,
        "city_people_written": float(city32.sum(dtype=np.float64)),
        "city_people_source": float(vals.sum()),
        "far_people": float(len(FAR_BLOCKS) * bs * bs * FAR_PEOPLE_PER_PX),
        "city_window": [c0, r0, c1 - c0, r1 - r0],
    }
    side.write_text(json.dumps({"key": key, "result": result}))
    return result


def step_raster_read(root: str, tif: str) -> dict[str, Any]:
    """Read the city's window of the national raster with the population loader the study uses.

    The bounds are those :func:`dgcoverage.pipeline.run.load_study` reads: the study towns' extent in the analysis
    CRS plus 1 km; only ``dgcoverage.inputs.population.population_from_raster`` is timed.

    Parameters
    ----------
    root
        The city (its towns and network give the bounds and the analysis CRS).
    tif
        The raster written by :func:`step_raster_write` (its JSON beside it holds the people written).

    Returns
    -------
    dict
        ``time_s``, ``peak_rss_mb`` (after the read), ``people_read``, ``people_written``, ``far_people``,
        ``rel_diff``, ``same_people`` (within :data:`RASTER_REL_TOL`), ``read_window`` (source pixels
        col, row, width, height), ``tiles_read``, ``grid_shape`` and ``warnings``.
    """
    import warnings

    import geopandas as gpd

    from dgcoverage.core.roadnet import load_network
    from dgcoverage.errors import DgCoverageWarning
    from dgcoverage.inputs.embedded import DemoPaths
    from dgcoverage.inputs.population import population_from_raster
    from dgcoverage.inputs.villages import analysis_crs

    demo = DemoPaths(Path(root))
    net = load_network(demo.network)
    crs = analysis_crs(net.lon, net.lat)
    del net
    towns = gpd.read_file(demo.towns)
    b = towns[towns["has_polygon"]].to_crs(crs).total_bounds
    bounds = (b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000)  # as pipeline._study_population
    written = json.loads(Path(tif).with_name(Path(tif).name + ".json").read_text())["result"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DgCoverageWarning)
        t0 = time.perf_counter()
        grid = population_from_raster(tif, crs, bounds=bounds)
        t = time.perf_counter() - t0
    peak = _peak_rss_mb()
    want = written["city_people_written"]
    rel = abs(grid.total - want) / want
    return {
        "time_s": t,
        "peak_rss_mb": peak,
        "people_read": float(grid.total),
        "people_written": want,
        "far_people": written["far_people"],
        "rel_diff": rel,
        "same_people": bool(rel <= RASTER_REL_TOL),
        "read_window": list(grid.meta.get("read_window", ())),
        "tiles_read": grid.meta.get("tiles_read"),
        "grid_shape": list(grid.array.shape),
        "warnings": [str(w.message)[:300] for w in caught if issubclass(w.category, DgCoverageWarning)],
    }


def _auto_clip_polygon(root: str | Path) -> Any:
    """Return the polygon ``dgcoverage run --all --clip auto`` reads this city's roads in (WGS84).

    The study towns buffered by the longest circle's reach (minutes × speed) plus 100 m, then simplified by
    100 m: the rule of ``cli.buffered_towns(towns, cli.circle_reach_m(circles))``, restated here because the
    benchmark sits below the command line (the smoke test checks the two agree).
    """
    import geopandas as gpd

    from dgcoverage.inputs.config import load_config
    from dgcoverage.inputs.embedded import DemoPaths

    circles, _ = load_config(None)
    reach = max(float(c.minutes) * float(c.speed_kmh) * 1000.0 / 60.0 for c in circles.values())
    towns = gpd.read_file(DemoPaths(Path(root)).towns)
    towns = towns[towns["has_polygon"]] if "has_polygon" in towns else towns
    utm = towns.estimate_utm_crs()
    area = towns.to_crs(utm).geometry.union_all().buffer(reach + 100.0).simplify(100.0)
    return gpd.GeoSeries([area], crs=utm).to_crs("EPSG:4326").iloc[0]


def _write_osm(
    path: Path, node_id: np.ndarray, lon: np.ndarray, lat: np.ndarray, ways: list[list[int]], highway: str = "footway"
) -> None:
    """Write nodes (``node_id`` ascending) and ways (lists of node positions, ``highway=<highway>``) as an .osm.pbf."""
    import osmium

    path.unlink(missing_ok=True)
    w = osmium.SimpleWriter(str(path))
    try:
        for i, x, y in zip(node_id.tolist(), lon.tolist(), lat.tolist()):
            w.add_node(osmium.osm.mutable.Node(id=i, location=(x, y)))
        ids = node_id.tolist()
        for j, way in enumerate(ways):
            w.add_way(osmium.osm.mutable.Way(id=j + 1, nodes=[ids[k] for k in way], tags={"highway": highway}))
    finally:
        w.close()


def step_pbf_big_write(root: str, big: str, cut: str) -> dict[str, Any]:
    """Write (or reuse) an .osm.pbf ten times the city (it and nine shifted copies) and the pre-cut file.

    Copy ``k`` (0 = the city itself) is the city's network moved by :data:`PBF_COPY_OFFSETS` city widths and
    heights (plus a 0.01° gap), with node ids ``k × 10^d + i + 1``; ways are the same greedy trails as the
    osm.pbf row.  The pre-cut file holds only the streets (edges) whose two ends lie in the ``--clip auto``
    polygon (:func:`_auto_clip_polygon`; inside or on its border, by ``shapely.intersects_xy``), computed here
    from the generator's arrays, not by the reader.  Cached beside the big file.

    Parameters
    ----------
    root
        The city (its ``network.npz`` and towns).
    big, cut
        Files to write.

    Returns
    -------
    dict
        ``time_s`` (nan when cached), ``cached``, ``copies``, ``nodes``, ``undirected_edges``, ``ways`` and
        ``bytes`` of the big file, ``cut_nodes``, ``cut_edges``, ``cut_ways``, ``cut_bytes``,
        ``cut_edges_from_copies`` (kept streets of the neighbours: the clip is not just the city) and
        ``polygon_wkb_hex``.
    """
    import shapely

    from dgcoverage.core.roadnet import load_network

    big_p, cut_p = Path(big), Path(cut)
    side = big_p.with_name(big_p.name + ".json")
    polygon = _auto_clip_polygon(root)
    wkb = shapely.to_wkb(polygon, hex=True)
    key = {
        "version": _CACHE_VERSION,
        "network_sha256": _file_sha256(Path(root) / "network.npz"),
        "offsets": [list(o) for o in PBF_COPY_OFFSETS],
        "polygon_wkb_hex": wkb,
    }
    hit = _cached(side, key, big_p, cut_p)
    if hit is not None:
        return {**hit, "time_s": float("nan")}
    net = load_network(Path(root) / "network.npz")
    t0 = time.perf_counter()
    n = net.n_nodes
    und = net.u < net.v  # the synthetic network is symmetric: keep each street once
    a, b = net.u[und], net.v[und]
    trails = _trails(a, b, n)
    span_x = float(net.lon.max() - net.lon.min()) + _PBF_GAP_DEG
    span_y = float(net.lat.max() - net.lat.min()) + _PBF_GAP_DEG
    offsets = ((0, 0), *PBF_COPY_OFFSETS)
    k_ = len(offsets)
    step_id = 10 ** len(str(n))
    lon = np.concatenate([net.lon + dx * span_x for dx, _ in offsets])
    lat = np.concatenate([net.lat + dy * span_y for _, dy in offsets])
    node_id = np.concatenate([k * step_id + np.arange(n, dtype=np.int64) + 1 for k in range(k_)])
    ways = [[x + k * n for x in way] for k in range(k_) for way in trails]
    _write_osm(big_p, node_id, lon, lat, ways)
    del ways
    # the pre-cut file: streets with both ends in the polygon
    shapely.prepare(polygon)
    inside = np.asarray(shapely.intersects_xy(polygon, lon, lat), dtype=bool)
    aa = np.concatenate([a + k * n for k in range(k_)])
    bb = np.concatenate([b + k * n for k in range(k_)])
    keep = inside[aa] & inside[bb]
    ka, kb = aa[keep], bb[keep]
    used = np.unique(np.concatenate([ka, kb]))
    pos = np.full(lon.size, -1, dtype=np.int64)
    pos[used] = np.arange(used.size)
    cut_trails = _trails(pos[ka], pos[kb], int(used.size))
    _write_osm(cut_p, node_id[used], lon[used], lat[used], cut_trails)
    result = {
        "time_s": time.perf_counter() - t0,
        "cached": False,
        "copies": k_,
        "nodes": int(lon.size),
        "undirected_edges": int(aa.size),
        "ways": len(trails) * k_,
        "bytes": os.path.getsize(big_p),
        "cut_nodes": int(used.size),
        "cut_edges": int(ka.size),
        "cut_ways": len(cut_trails),
        "cut_bytes": os.path.getsize(cut_p),
        "cut_edges_from_copies": int((ka >= n).sum()),
        "polygon_wkb_hex": wkb,
    }
    side.write_text(json.dumps({"key": key, "result": result}))
    return result


def step_pbf_clip(big: str, cut: str, polygon_wkb_hex: str) -> dict[str, Any]:
    """Read the big .osm.pbf clipped to the ``--clip auto`` polygon; compare with the pre-cut file read whole.

    Parameters
    ----------
    big, cut
        Files written by :func:`step_pbf_big_write`.
    polygon_wkb_hex
        The clip polygon (WGS84, hex WKB).

    Returns
    -------
    dict
        ``time_s`` and ``peak_rss_mb`` (``dgcoverage.inputs.network.network_from_file(big, "walk", polygon=...)``,
        cache off), ``cut_read_s``, ``nodes``, ``directed_edges``, ``same_nodes`` (ids and coordinates),
        ``same_edges`` (ends and lengths) and the pre-cut file's ``cut_nodes``/``cut_directed_edges``.
    """
    import osmium  # noqa: F401 - imported before the clock, like every step's imports
    import osmnx  # noqa: F401 - network_from_osm_file imports it (for its filters) inside the call
    import shapely

    from dgcoverage.inputs.network import network_from_file

    polygon = shapely.from_wkb(polygon_wkb_hex)
    t0 = time.perf_counter()
    net = network_from_file(big, "walk", use_cache=False, polygon=polygon)
    t = time.perf_counter() - t0
    peak = _peak_rss_mb()
    t0 = time.perf_counter()
    ref = network_from_file(cut, "walk", use_cache=False)
    t_cut = time.perf_counter() - t0
    same_nodes = bool(
        net.n_nodes == ref.n_nodes
        and np.array_equal(net.node_id, ref.node_id)
        and np.array_equal(net.lon, ref.lon)
        and np.array_equal(net.lat, ref.lat)
    )
    same_edges = bool(
        net.n_edges == ref.n_edges
        and np.array_equal(net.u, ref.u)
        and np.array_equal(net.v, ref.v)
        and np.array_equal(net.length_m, ref.length_m)
    )
    return {
        "time_s": t,
        "peak_rss_mb": peak,
        "cut_read_s": t_cut,
        "nodes": int(net.n_nodes),
        "directed_edges": int(net.n_edges),
        "cut_nodes": int(ref.n_nodes),
        "cut_directed_edges": int(ref.n_edges),
        "same_nodes": same_nodes,
        "same_edges": same_edges,
    }
