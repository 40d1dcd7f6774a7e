"""The embedded default dataset: real Dongguan boundaries and lists + SYNTHETIC roads, people, facilities.

Real (packaged in ``dgcoverage/data/dongguan``):
    town boundaries (GeoAtlas, GCJ-02 -> WGS84, overlaps resolved), the NBS
    2023 list of 609 村/社区, and the 2020 census population per town.
Synthetic (generated here, deterministically from a seed):
    village point locations inside their towns, a walking road network,
    a 100 m population raster whose per-town totals equal the census, and
    facility sets for the four circles (with synthetic capacities: beds, m²).

Nothing synthetic is real: every output built from it carries
``synthetic = true`` and says so on maps and in tables.

The road network is a jittered street grid per town whose spacing follows the
town's census density (denser streets in urban towns), stitched across town
borders, with random missing links (dead ends), a river crossed by a few
bridges only, a few islands with no bridge at all (disconnected components)
and forest parks with no roads (population there is "off network").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree

from ..core.roadnet import RoadNetwork, save_network
from ..inputs.coords import from_wgs84
from ..inputs.embedded import SYNTHETIC_NOTE, SYNTHETIC_NOTE_ZH, DemoPaths
from ..inputs.population import write_population_raster
from ..inputs.villages import DONGGUAN_UTM, dongguan_towns, dongguan_villages

# A synthetic river (UTM 49N metres): west-east through the northern towns, like the Dongjiang's lower reach.
_RIVER_LONLAT = [
    (113.52, 23.07),
    (113.60, 23.09),
    (113.68, 23.07),
    (113.76, 23.10),
    (113.84, 23.11),
    (113.90, 23.09),
    (113.98, 23.10),
    (114.06, 23.07),
    (114.14, 23.09),
    (114.22, 23.05),
]
_RIVER_HALF_WIDTH_M = 120.0
_BRIDGE_SPACING_M = 4000.0

# Forest parks without roads (real parks' approximate centres; extents synthetic).
_PARKS_LONLAT = [
    (114.13, 22.88, 2200.0),  # 银瓶山 (谢岗)
    (114.10, 22.76, 1800.0),  # 大屏障 (塘厦/清溪)
    (113.80, 22.86, 1500.0),
]  # 大岭山森林公园
# Island centres near the river (synthetic).
_ISLANDS_LONLAT = [(113.58, 23.06, 450.0), (113.70, 23.045, 400.0), (113.95, 23.075, 400.0)]


def _rng(seed: int, *keys: object) -> np.random.Generator:
    h = hashlib.sha256(("|".join(map(str, (seed, *keys)))).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _proj(lonlat: list[tuple[float, ...]]) -> np.ndarray:
    from ..compute.access import project_lonlat

    a = np.asarray(lonlat, dtype=float)
    x, y = project_lonlat(a[:, 0], a[:, 1], DONGGUAN_UTM)
    return np.column_stack([x, y] + ([a[:, 2]] if a.shape[1] > 2 else []))


def town_spacing_m(density_per_km2: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Street spacing (m) from residential density: 110 m in the densest towns, 420 m in empty ones."""
    d = np.maximum(np.asarray(density_per_km2, dtype=float), 1.0)
    return np.clip(13000.0 / np.sqrt(d), 110.0, 420.0) / scale


def village_points(towns: gpd.GeoDataFrame, villages: pd.DataFrame, seed: int = 2020) -> gpd.GeoDataFrame:
    """Spread each town's villages evenly over its polygon (k-means of random points), deterministically.

    Villages of towns without a polygon get no point.
    """
    townp = towns.to_crs(DONGGUAN_UTM).set_index("town_code")
    rows = []
    for code, grp in villages.sort_values("code").groupby("town_code", sort=True):
        geom = townp.geometry.get(code)
        if geom is None or geom.is_empty:
            continue
        rng = _rng(seed, "villages", code)
        cand = _random_points_in(geom, max(400, 60 * len(grp)), rng)
        k = len(grp)
        if k == 1:
            centres = shapely.get_coordinates(geom.representative_point())
        else:
            centres, _ = kmeans2(cand, k, seed=int(rng.integers(2**31)), minit="++", iter=20)
        centres = centres[np.lexsort((centres[:, 0], -centres[:, 1]))]  # north-west first
        for (_, v), (x, y) in zip(grp.iterrows(), centres):
            rows.append(
                {
                    "code": v["code"],
                    "name": v["short_name"],
                    "town_code": code,
                    "town_name": v["town_name"],
                    "type": v["type"],
                    "x": x,
                    "y": y,
                }
            )
    df = pd.DataFrame(rows)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=DONGGUAN_UTM).drop(
        columns=["x", "y"]
    )


def _random_points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = geom.bounds
    out = []
    prepared = shapely.prepare(geom) or geom
    got = 0
    while got < n:
        p = rng.uniform((minx, miny), (maxx, maxy), size=(n * 3, 2))
        ok = shapely.contains_xy(geom, p[:, 0], p[:, 1])
        out.append(p[ok])
        got += int(ok.sum())
    del prepared
    return np.concatenate(out)[:n]


def road_network(towns: gpd.GeoDataFrame, scale: float = 1.0, seed: int = 2020) -> tuple[RoadNetwork, dict]:
    """Generate the synthetic walking network over all town polygons.

    Parameters
    ----------
    towns
        Town partition with ``census_2020`` (EPSG:4326).
    scale
        Street density multiplier: node count grows about as ``scale**2``
        (1.0 ≈ 61k nodes; 3.0 ≈ 550k nodes).
    seed
        Random seed.

    Returns
    -------
    network, facts
        The network (WGS84) and a dict of what was built (river, bridges, islands, parks).
    """
    tp = towns[towns["has_polygon"]].to_crs(DONGGUAN_UTM).reset_index(drop=True)
    area_km2 = tp.geometry.area.to_numpy() / 1e6
    density = tp["census_2020"].fillna(0).to_numpy(dtype=float) / area_km2
    spacing = town_spacing_m(density, scale)
    river = shapely.LineString(_proj(_RIVER_LONLAT))
    water = river.buffer(_RIVER_HALF_WIDTH_M)
    parks = [shapely.Point(x, y).buffer(r) for x, y, r in _proj(_PARKS_LONLAT)]
    no_road = shapely.union_all([water, *parks])
    xs, ys, town_of, drop_rate = [], [], [], []
    edges = []
    offset = 0
    for i, row in tp.iterrows():
        rng = _rng(seed, "grid", row["town_code"])
        s = spacing[i]
        minx, miny, maxx, maxy = row.geometry.bounds
        gx = np.arange(minx - s, maxx + s, s)
        gy = np.arange(miny - s, maxy + s, s)
        X, Y = np.meshgrid(gx, gy)
        X = X + rng.uniform(-0.18, 0.18, X.shape) * s
        Y = Y + rng.uniform(-0.18, 0.18, Y.shape) * s
        inside = shapely.contains_xy(row.geometry, X, Y) & ~shapely.contains_xy(no_road, X, Y)
        idx = np.full(X.shape, -1, dtype=np.int64)
        idx[inside] = offset + np.arange(int(inside.sum()))
        offset += int(inside.sum())
        xs.append(X[inside])
        ys.append(Y[inside])
        town_of.append(np.full(int(inside.sum()), i))
        # rural towns lose more links (more dead ends); denser towns keep a fuller grid
        p_drop = float(np.interp(s * scale, [110, 420], [0.04, 0.16]))
        for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
            ok = (a >= 0) & (b >= 0)
            e = np.column_stack([a[ok], b[ok]])
            e = e[rng.random(len(e)) >= p_drop]
            edges.append(e)
        drop_rate.append(p_drop)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    town_idx = np.concatenate(town_of)
    E = np.concatenate(edges)
    # stitch across town borders: nearest nodes of different towns within 1.3 x the larger spacing
    tree = cKDTree(np.column_stack([x, y]))
    dist, nbr = tree.query(np.column_stack([x, y]), k=6)
    src = np.repeat(np.arange(len(x)), 6)
    nbr = nbr.ravel()
    dist = dist.ravel()
    ok = (nbr < len(x)) & (town_idx[src] != town_idx[np.minimum(nbr, len(x) - 1)])
    lim = 1.3 * np.maximum(spacing[town_idx[src]], spacing[town_idx[np.minimum(nbr, len(x) - 1)]])
    ok &= dist <= lim
    stitch = np.column_stack([src[ok], nbr[ok]])
    stitch = np.unique(np.sort(stitch, axis=1), axis=0)
    E = np.concatenate([E, stitch])
    # river: drop every link across it, then build a bridge every few km between the nearest banks
    lines = shapely.linestrings(
        np.stack([np.column_stack([x[E[:, 0]], y[E[:, 0]]]), np.column_stack([x[E[:, 1]], y[E[:, 1]]])], axis=1)
    )
    crosses = shapely.intersects(lines, river)
    E, lines = E[~crosses], lines[~crosses]
    bridge_edges = []
    for d in np.arange(_BRIDGE_SPACING_M / 2, river.length, _BRIDGE_SPACING_M):
        bp = river.interpolate(d)
        p0, p1 = river.interpolate(max(d - 50.0, 0.0)), river.interpolate(min(d + 50.0, river.length))
        near = np.array(tree.query_ball_point([bp.x, bp.y], r=900.0), dtype=np.int64)
        if near.size == 0:
            continue
        side = np.sign((p1.x - p0.x) * (y[near] - p0.y) - (p1.y - p0.y) * (x[near] - p0.x))
        dist = np.hypot(x[near] - bp.x, y[near] - bp.y)
        ends = [near[side == sgn][np.argmin(dist[side == sgn])] for sgn in (-1, 1) if (side == sgn).any()]
        if len(ends) == 2:
            bridge_edges.append(ends)
    if bridge_edges:
        be = np.array(bridge_edges, dtype=np.int64)
        E = np.concatenate([E, be])
        lines = np.concatenate(
            [
                lines,
                shapely.linestrings(
                    np.stack(
                        [np.column_stack([x[be[:, 0]], y[be[:, 0]]]), np.column_stack([x[be[:, 1]], y[be[:, 1]]])],
                        axis=1,
                    )
                ),
            ]
        )
    bridges = len(bridge_edges)
    # islands: cut every link crossing the island shore
    islands = [shapely.Point(ix, iy).buffer(r) for ix, iy, r in _proj(_ISLANDS_LONLAT)]
    for isl in islands:
        cut = shapely.intersects(lines, isl.boundary)
        E, lines = E[~cut], lines[~cut]
    length = np.hypot(x[E[:, 0]] - x[E[:, 1]], y[E[:, 0]] - y[E[:, 1]])
    # keep nodes that have at least one link
    used = np.unique(E)
    remap = np.full(len(x), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    x, y = x[used], y[used]
    E = remap[E]
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(DONGGUAN_UTM, "EPSG:4326", always_xy=True).transform(x, y)
    u = np.concatenate([E[:, 0], E[:, 1]])
    v = np.concatenate([E[:, 1], E[:, 0]])
    L = np.concatenate([length, length])
    net = RoadNetwork(
        np.arange(len(x), dtype=np.int64),
        lon,
        lat,
        u,
        v,
        np.round(L, 2),
        meta={"source": "dgcoverage synthetic generator", "synthetic": True, "seed": seed, "scale": scale},
    )
    facts = {
        "river_length_km": round(river.length / 1000, 1),
        "bridges": bridges,
        "islands": len(islands),
        "forest_parks_without_roads": len(parks),
        "spacing_m_by_town": {c: round(float(s), 1) for c, s in zip(tp["town_code"], spacing)},
    }
    return net, {**facts, "_water": water, "_parks": parks}


def population_raster(
    towns: gpd.GeoDataFrame,
    vpts: gpd.GeoDataFrame,
    water: shapely.Geometry,
    parks: list[shapely.Geometry],
    seed: int = 2020,
    res: float = 100.0,
) -> tuple[np.ndarray, Affine]:
    """Build a 100 m population grid (UTM 49N) whose per-town sums equal the 2020 census exactly.

    People cluster around village centres (Gaussian kernels, wider in urban
    towns) over a thin uniform background; none live in the river, very few
    in forest parks.  Rounded to whole people with the largest-remainder rule.
    """
    tp = towns[towns["has_polygon"]].to_crs(DONGGUAN_UTM).reset_index(drop=True)
    minx, miny, maxx, maxy = tp.total_bounds
    minx, miny = np.floor(minx / res) * res, np.floor(miny / res) * res
    maxx, maxy = np.ceil(maxx / res) * res, np.ceil(maxy / res) * res
    width, height = int((maxx - minx) / res), int((maxy - miny) / res)
    transform = Affine(res, 0, minx, 0, -res, maxy)
    town_id = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(tp.geometry)),
        out_shape=(height, width),
        transform=transform,
        fill=0,
        dtype="int32",
    )
    cx = minx + (np.arange(width) + 0.5) * res
    cy = maxy - (np.arange(height) + 0.5) * res
    weight = np.full((height, width), 0.02)
    rng = _rng(seed, "population")
    area_km2 = tp.geometry.area.to_numpy() / 1e6
    dens = tp["census_2020"].fillna(0).to_numpy(dtype=float) / area_km2
    dens_by_code = dict(zip(tp["town_code"], dens))
    for _, v in vpts.iterrows():
        d = dens_by_code.get(v["town_code"], 0.0)
        sigma = float(np.interp(d, [500, 15000], [350, 900])) * rng.uniform(0.8, 1.25)
        amp = rng.uniform(0.6, 1.6)
        px, py = v.geometry.x, v.geometry.y
        c0, c1 = np.searchsorted(cx, [px - 3 * sigma, px + 3 * sigma])
        r0, r1 = np.searchsorted(-cy, [-(py + 3 * sigma), -(py - 3 * sigma)])
        gx = np.exp(-0.5 * ((cx[c0:c1] - px) / sigma) ** 2)
        gy = np.exp(-0.5 * ((cy[r0:r1] - py) / sigma) ** 2)
        weight[r0:r1, c0:c1] += amp * np.outer(gy, gx)
    water_mask = rasterio.features.geometry_mask([water], (height, width), transform, invert=True)
    park_mask = rasterio.features.geometry_mask(parks, (height, width), transform, invert=True)
    weight[water_mask] = 0.0
    weight[park_mask] *= 0.01
    pop = np.zeros((height, width), dtype=np.float64)
    for i, row in tp.iterrows():
        total = row["census_2020"]
        if not np.isfinite(total) or total <= 0:
            continue
        m = town_id == i + 1
        w = weight[m]
        share = w / w.sum() * float(total)
        base = np.floor(share)
        rem = int(round(float(total) - base.sum()))
        order = np.argsort(-(share - base), kind="stable")[:rem]
        base[order] += 1
        pop[m] = base
    return pop, transform


# facility plan per circle: (probability per village, jitter m, extras per 100k residents, label)
_FACILITY_PLAN = {
    "elderly_care_15": (0.72, 350.0, 5.0, "居家养老服务站"),
    "fitness_15": (0.55, 600.0, 4.0, "社区体育公园"),
    "legal_aid_30": (0.0, 800.0, 0.5, "公共法律服务站"),
    "culture_sports_10": (0.62, 400.0, 9.0, "综合文化服务中心"),
}


#: SYNTHETIC capacities per circle with a supply standard: (header, smallest, largest, rounding step).
#: Sizes are drawn log-uniformly between the bounds (many small, few large facilities):
#: community home-care stations / care homes with 8-60 beds, community sports parks of 0.3-6 ha of
#: sports ground, and community culture centres of 400-4,000 m² of floor space.
CAPACITY_PLAN = {
    "elderly_care_15": ("床位数(张)", 8.0, 60.0, 1.0),
    "fitness_15": ("场地面积(平方米)", 3_000.0, 60_000.0, 100.0),
    "culture_sports_10": ("建筑面积(平方米)", 400.0, 4_000.0, 10.0),
}
#: Share of SYNTHETIC facilities left without a capacity (an empty cell), so the demo shows "capacity unknown".
CAPACITY_UNKNOWN_SHARE = 0.05
#: The column that labels every synthetic capacity as such.
CAPACITY_NOTE_COLUMN = "容量说明"
CAPACITY_NOTE = "合成数据 SYNTHETIC"


def place_name(place: str, label: str) -> str:
    """Join a place and a facility kind, their shared word once: 梅塘社区 + 社区体育公园 = 梅塘社区体育公园."""
    for word in ("社区", "村", "镇", "街道"):
        if place.endswith(word) and label.startswith(word):
            return place + label[len(word) :]
    return place + label


def synthetic_capacities(cid: str, n: int, seed: int = 2020) -> pd.DataFrame:
    """Return SYNTHETIC capacity columns for ``n`` facilities of circle ``cid`` (deterministic; empty = unknown).

    Parameters
    ----------
    cid
        Circle id, a key of :data:`CAPACITY_PLAN` (other circles get no columns).
    n
        Number of facilities.
    seed
        Random seed (a stream of its own: facility places do not change).

    Returns
    -------
    pandas.DataFrame
        The capacity column (header with its unit, e.g. ``床位数(张)``; whole numbers as text, about
        :data:`CAPACITY_UNKNOWN_SHARE` of the cells empty) and :data:`CAPACITY_NOTE_COLUMN`.
    """
    if cid not in CAPACITY_PLAN:
        return pd.DataFrame(index=range(n))
    header, low, high, step = CAPACITY_PLAN[cid]
    rng = _rng(seed, "capacity", cid)
    size = np.exp(rng.uniform(np.log(low), np.log(high), n))
    size = np.maximum(np.round(size / step) * step, step)
    unknown = rng.random(n) < CAPACITY_UNKNOWN_SHARE
    cells = ["" if u else f"{v:.0f}" for v, u in zip(size, unknown)]
    return pd.DataFrame({header: cells, CAPACITY_NOTE_COLUMN: CAPACITY_NOTE})


def facilities(
    towns: gpd.GeoDataFrame, vpts: gpd.GeoDataFrame, pop: np.ndarray, transform: Affine, seed: int = 2020
) -> dict[str, pd.DataFrame]:
    """Facility sets per circle, sized for partial coverage.

    A share of villages get a facility near their centre; each town then gets
    extra facilities in proportion to its residents, placed where people live
    (cells drawn with probability proportional to population).  Legal aid gets
    one centre per town, at the village nearest the town's centre, plus the
    per-resident extras.  Returned as GCJ-02 tables (编号, 名称, 经度, 纬度, 类型),
    as a Gaode export would give them; circles with a supply standard also get
    SYNTHETIC capacities (:func:`synthetic_capacities`: 床位数(张), 场地面积(平方米)
    or 建筑面积(平方米), and 容量说明 saying they are synthetic).
    """
    from pyproj import Transformer

    to_ll = Transformer.from_crs(DONGGUAN_UTM, "EPSG:4326", always_xy=True)
    out = {}
    tp = towns[towns["has_polygon"]].to_crs(DONGGUAN_UTM).reset_index(drop=True)
    town_id = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(tp.geometry)), out_shape=pop.shape, transform=transform, fill=0, dtype="int32"
    )
    flat_pop, flat_town = pop.ravel(), town_id.ravel()
    for cid, (p_village, jitter, per_100k, label) in _FACILITY_PLAN.items():
        rng = _rng(seed, "facilities", cid)
        rows = []
        for _, v in vpts.iterrows():
            if rng.random() < p_village:
                dx, dy = rng.normal(0, jitter / 2, 2)
                rows.append(
                    (f"合成·{place_name(v['name'], label)}", v.geometry.x + dx, v.geometry.y + dy, v["town_code"])
                )
        for i, t in tp.iterrows():
            code = t["town_code"]
            people = t["census_2020"] if np.isfinite(t["census_2020"]) else 0.0
            if people <= 0:
                continue
            if cid == "legal_aid_30":
                tv = vpts[vpts["town_code"] == code]
                g = tv.geometry.iloc[int(np.argmin(tv.geometry.distance(t.geometry.representative_point())))]
                rows.append((f"合成·{t['town_name']}{label}", g.x, g.y, code))
            n_extra = int(round(people / 100_000 * per_100k))
            cells = np.nonzero(flat_town == i + 1)[0]
            w = flat_pop[cells]
            if n_extra == 0 or w.sum() <= 0:
                continue
            pick = (
                rng.choice(cells, size=n_extra, replace=False, p=w / w.sum())
                if n_extra < (w > 0).sum()
                else cells[w > 0]
            )
            r, c = np.divmod(pick, pop.shape[1])
            xs, ys = rasterio.transform.xy(transform, r, c, offset="center")
            for k, (x, y) in enumerate(zip(np.atleast_1d(xs), np.atleast_1d(ys))):
                rows.append((f"合成·{t['town_name']}{label}{k + 1}号", float(x), float(y), code))
        df = pd.DataFrame(rows, columns=["名称", "x", "y", "town_code"])
        inside = np.zeros(len(df), dtype=bool)
        tgeom = tp.set_index("town_code").geometry
        for code, grp in df.groupby("town_code"):
            inside[grp.index] = shapely.contains_xy(tgeom[code], grp["x"].to_numpy(), grp["y"].to_numpy())
        df = df[inside].reset_index(drop=True)
        lon, lat = to_ll.transform(df["x"].to_numpy(), df["y"].to_numpy())
        glon, glat = from_wgs84(np.asarray(lon), np.asarray(lat), "gcj02")
        table = pd.DataFrame(
            {
                "编号": [f"{cid}-{i + 1:04d}" for i in range(len(df))],
                "名称": df["名称"],
                "经度": np.round(glon, 7),
                "纬度": np.round(glat, 7),
                "类型": label,
            }
        )
        out[cid] = pd.concat([table, synthetic_capacities(cid, len(table), seed)], axis=1)
    return out


def build_demo(root: str | Path, scale: float = 1.0, seed: int = 2020, town_codes: list[str] | None = None) -> dict:
    """Build the embedded default dataset into ``root`` (deterministic).

    Writes ``towns_wgs84.geojson`` (real), ``village_points_gcj02.csv``,
    ``network.npz``, ``population_100m.tif`` and ``facilities/<circle>_gcj02.csv``
    (synthetic, with synthetic capacities for the circles with a supply standard),
    and ``MANIFEST.json`` describing what is real and what is not.

    Parameters
    ----------
    root
        Output folder (``data/raw`` in the repository).
    scale
        Network density multiplier (see :func:`road_network`).
    seed
        Random seed.
    town_codes
        Build only these towns (9-digit NBS codes) — a small city for tests.

    Returns
    -------
    dict
        The manifest.
    """
    from ..core.io import atomic_path, write_csv, write_json

    paths = DemoPaths(Path(root))
    paths.root.mkdir(parents=True, exist_ok=True)
    towns = dongguan_towns()
    vl = dongguan_villages()
    if town_codes:
        towns = towns[towns["town_code"].isin(town_codes)].reset_index(drop=True)
        vl = vl[vl["town_code"].isin(town_codes)].reset_index(drop=True)
    with atomic_path(paths.towns) as tmp:
        towns.to_file(tmp, driver="GeoJSON")
    vpts = village_points(towns, vl, seed)
    ll = vpts.to_crs(4326)
    glon, glat = from_wgs84(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy(), "gcj02")
    write_csv(
        pd.DataFrame(
            {
                "代码": vpts["code"],
                "名称": vpts["name"],
                "镇街": vpts["town_name"],
                "经度": np.round(glon, 7),
                "纬度": np.round(glat, 7),
            }
        ),
        paths.villages,
        float_format="%.7f",
    )
    net, facts = road_network(towns, scale, seed)
    save_network(net, paths.network)
    pop, transform = population_raster(towns, vpts, facts.pop("_water"), facts.pop("_parks"), seed)
    write_population_raster(
        pop,
        transform,
        DONGGUAN_UTM,
        paths.population,
        tags={"SYNTHETIC": "true", "NOTE": "synthetic population; per-town totals = 2020 census"},
    )
    fac = facilities(towns, vpts, pop, transform, seed)
    for cid, df in fac.items():
        write_csv(df, paths.facilities(cid), float_format="%.7f")
    manifest = {
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "note_zh": SYNTHETIC_NOTE_ZH,
        "seed": seed,
        "scale": scale,
        "town_codes": sorted(towns["town_code"]),
        "real_inputs": [
            "dongguan_towns_geoatlas_gcj02.geojson (GCJ-02 -> WGS84)",
            "dongguan_villages.csv (NBS 2023)",
            "town_population_2020.csv (7th census)",
        ],
        "network": {"nodes": net.n_nodes, "directed_edges": net.n_edges, **facts},
        "population": {"cells_populated": int((pop > 0).sum()), "total": int(pop.sum()), "resolution_m": 100},
        "villages": {
            "listed": len(vl),
            "placed": len(vpts),
            "not_placed_no_polygon": sorted(set(vl["code"]) - set(vpts["code"])),
        },
        "facilities": {cid: len(df) for cid, df in fac.items()},
        "facility_capacities": {
            cid: {
                "synthetic": True,
                "column": CAPACITY_PLAN[cid][0],
                "drawn": f"log-uniform between {CAPACITY_PLAN[cid][1]:g} and {CAPACITY_PLAN[cid][2]:g}",
                "unknown": int((df[CAPACITY_PLAN[cid][0]] == "").sum()),
            }
            for cid, df in fac.items()
            if cid in CAPACITY_PLAN
        },
        "towns_overlap_removed_km2": {
            r.town_name: r.overlap_removed_km2 for r in towns.itertuples() if r.overlap_removed_km2 > 0
        },
    }
    write_json(manifest, paths.manifest)
    return manifest
