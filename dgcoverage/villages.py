"""Towns (镇街) and villages/communities (村/社区): boundaries, points and areas.

Villages arrive as points (e.g. 村委会/居委会 addresses geocoded with Gaode,
GCJ-02) or as polygons (official 村界).  Points become areas by a Voronoi
partition of each town, clipped to the town.  The embedded Dongguan layers
(real town boundaries and the official village list) live in
``dgcoverage/data/dongguan`` with their attribution.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .coords import to_wgs84, transform_geometry
from .errors import ColumnError, DataMismatchError, InputFileError, InputNotFoundError
from .tables import read_table, resolve_columns

DONGGUAN_UTM = CRS.from_epsg(32649)

#: Towns whose NBS code is a special zone (类似乡级单位).
SPECIAL_ZONE_PREFIX = "4419004"


def data_dir() -> Path:
    """Folder of the packaged real Dongguan data."""
    return Path(str(resources.files("dgcoverage") / "data" / "dongguan"))


def dongguan_town_table() -> pd.DataFrame:
    """The 36 NBS township-level units (code, name, type) joined to boundary names and 2020 census population."""
    d = data_dir()
    towns = pd.read_csv(d / "dongguan_towns.csv", dtype={"code": str})
    mapping = pd.read_csv(d / "town_name_mapping.csv", dtype={"division_code": str})
    pop = pd.read_csv(d / "town_population_2020.csv", dtype={"division_code": str})
    out = towns.rename(columns={"code": "town_code", "name": "town_name", "type": "town_type"})
    out = out.merge(mapping[["division_code", "geoatlas_name", "match", "note"]].rename(
        columns={"division_code": "town_code", "geoatlas_name": "boundary_name"}), on="town_code", how="left")
    out = out.merge(pop[["division_code", "population"]].rename(
        columns={"division_code": "town_code", "population": "census_2020"}), on="town_code", how="left")
    return out


def dongguan_villages() -> pd.DataFrame:
    """The official list of 609 村/社区 (NBS 2023): code, name, short_name, town_code, town_name, type."""
    return pd.read_csv(data_dir() / "dongguan_villages.csv", dtype={"code": str, "town_code": str})


def dongguan_towns() -> gpd.GeoDataFrame:
    """Real Dongguan town boundaries in WGS84, made into a partition.

    The GeoAtlas polygons (GCJ-02) are converted to WGS84.  Where polygons
    overlap (东莞港/麻涌 4.5 km², 东城/莞城 1.2 km², 石碣/石龙 0.7 km²,
    望牛墩/中堂 0.1 km²), the overlap is given to the unit with the lower NBS
    code, so 街道 and 镇 keep their land before special zones, and every point
    lies in at most one town.  东莞滨海湾新区 has no polygon: it is kept with
    an empty geometry and ``has_polygon = False``.

    Returns
    -------
    geopandas.GeoDataFrame
        town_code, town_name, town_type, census_2020, has_polygon,
        overlap_removed_km2, geometry (EPSG:4326); sorted by town_code.
    """
    table = dongguan_town_table()
    raw = gpd.read_file(data_dir() / "dongguan_towns_geoatlas_gcj02.geojson")
    geoms = dict(zip(raw["name"], raw.geometry))
    wgs = {}
    for _, row in table.iterrows():
        g = geoms.get(row["boundary_name"]) if isinstance(row["boundary_name"], str) else None
        wgs[row["town_code"]] = None if g is None else transform_geometry(g, "gcj02", "wgs84")
    return partition_towns(table, wgs)


def partition_towns(table: pd.DataFrame, geoms: dict[str, shapely.Geometry | None]) -> gpd.GeoDataFrame:
    """Remove overlaps between town polygons: lower town code keeps the overlap.

    Parameters
    ----------
    table
        Town rows with ``town_code`` (used for order) and attributes.
    geoms
        WGS84 geometry per town code (``None`` when the town has no polygon).

    Returns
    -------
    geopandas.GeoDataFrame
        The table with non-overlapping geometry (EPSG:4326) and
        ``has_polygon`` / ``overlap_removed_km2`` columns.
    """
    table = table.sort_values("town_code").reset_index(drop=True)
    proj = {k: (None if g is None else transform_to(g, DONGGUAN_UTM)) for k, g in geoms.items()}
    taken = None
    out_geom, removed = [], []
    for code in table["town_code"]:
        g = proj.get(code)
        if g is None:
            out_geom.append(None)
            removed.append(0.0)
            continue
        g = shapely.make_valid(g)
        if taken is not None:
            new = shapely.make_valid(g.difference(taken))
            removed.append(round((g.area - new.area) / 1e6, 3))
            taken = shapely.union(taken, g)
            g = new
        else:
            removed.append(0.0)
            taken = g
        out_geom.append(g)
    gdf = gpd.GeoDataFrame(table.copy(), geometry=gpd.GeoSeries(out_geom, crs=DONGGUAN_UTM).to_crs(4326))
    gdf["has_polygon"] = [g is not None for g in out_geom]
    gdf["overlap_removed_km2"] = removed
    return gdf


def transform_to(geom: shapely.Geometry, crs: CRS, src: CRS | int | str = 4326) -> shapely.Geometry:
    """Project a single shapely geometry between CRSs."""
    return gpd.GeoSeries([geom], crs=src).to_crs(crs).iloc[0]


VILLAGE_ALIASES = {
    "code": ["code", "village_code", "代码", "统计用区划代码", "区划代码", "编码"],
    "name": ["name", "short_name", "village", "名称", "村(社区)", "村社区", "村名", "社区名称"],
    "town_name": ["town_name", "town", "镇街", "镇", "所属镇街", "街道"],
    "lon": ["lon", "lng", "longitude", "x", "经度"],
    "lat": ["lat", "latitude", "y", "纬度"],
}


def village_points_from_file(path: str | Path, crs: str = "wgs84", *,
                             expected_bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Read village points (CSV/XLSX with lon/lat columns, or GeoJSON points).

    Parameters
    ----------
    path
        File with at least ``code`` or ``name`` and coordinates; Chinese
        headers (代码, 名称, 经度, 纬度, 镇街) are recognised.
    crs
        Coordinate system of the file: ``wgs84``, ``gcj02`` (Gaode/Tencent) or
        ``bd09`` (Baidu).
    expected_bounds
        Optional WGS84 ``(west, south, east, north)`` of the study area; rows
        whose latitude and longitude are swapped are detected with it, fixed
        and counted (``village_rows_lonlat_swapped``).

    Returns
    -------
    geopandas.GeoDataFrame
        code, name, town_name (when given), geometry (EPSG:4326 points);
        ``attrs["warnings"]`` counts rows dropped (``village_rows_bad_coordinates``)
        or repaired.
    """
    from .coords import canonical_crs
    from .tables import clean_lonlat

    path = Path(path)
    declared = canonical_crs(crs)
    row_label, row_offset = "line", 2
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        gdf = _read_vector(path)
        if not (gdf.geom_type == "Point").all():
            kinds = sorted(str(k) for k in set(gdf.geom_type.fillna("None")))
            raise InputFileError(path, f"village file mixes points with other geometry types ({kinds}).",
                                 "pass points (one per 村/社区) or polygons (村界), not both.")
        df = pd.DataFrame(gdf.drop(columns="geometry"))
        df["lon"], df["lat"] = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        row_label, row_offset = "feature", 0
    else:
        df = read_table(path)
    cols = resolve_columns(df, VILLAGE_ALIASES, required=("lon", "lat"), path=path)
    if "code" not in cols and "name" not in cols:
        raise ColumnError(path, "no village code or name column.", "add a 'code' (12-digit NBS) or 'name' column.")
    keep, lon, lat, counts = clean_lonlat(df[cols["lon"]], df[cols["lat"]], path, "village", expected_bounds,
                                          row_label, row_offset)
    df = df[keep].reset_index(drop=True)
    lon, lat = to_wgs84(lon, lat, declared)
    out = pd.DataFrame({k: df[cols[k]].astype(str).str.strip() for k in ("code", "name", "town_name") if k in cols})
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    gdf.attrs["warnings"] = counts
    return gdf


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputNotFoundError(path, "vector file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise InputFileError(path, f"cannot be read as a vector file ({exc}).", "pass a valid GeoJSON/GPKG/SHP.") from exc
    if gdf.empty:
        raise InputFileError(path, "holds no features.", "pass a file with at least one feature.")
    return gdf


def village_areas_from_points(points: gpd.GeoDataFrame, towns: gpd.GeoDataFrame,
                              town_key: str = "town_code") -> gpd.GeoDataFrame:
    """Turn village points into areas: Voronoi cells of each town's points, clipped to the town.

    Parameters
    ----------
    points
        Village points (EPSG:4326) with a ``town_key`` column.
    towns
        Town polygons (EPSG:4326) with ``town_key``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``points`` with polygon geometry (EPSG:4326); points whose town has no
        polygon get an empty geometry.
    """
    ll = points.to_crs(4326)
    pts = points.to_crs(analysis_crs(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy()))
    crs = pts.crs
    town_geom = towns.to_crs(crs).set_index(town_key).geometry
    areas = np.empty(len(pts), dtype=object)
    areas[:] = None
    for code, idx in pts.groupby(town_key).indices.items():
        tg = town_geom.get(code)
        if tg is None or tg.is_empty:
            continue
        p = pts.geometry.iloc[idx].to_numpy()
        if len(p) == 1:
            areas[idx[0]] = tg
            continue
        coords = shapely.get_coordinates(p)
        # nudge exact duplicates apart so each point keeps a cell
        _, first = np.unique(coords, axis=0, return_index=True)
        dup = np.setdiff1d(np.arange(len(coords)), first)
        coords[dup] += 0.5 * (1 + np.arange(len(dup)))[:, None]
        mp = shapely.multipoints(coords)
        env = shapely.envelope(tg).buffer(10_000)
        cells = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=env))
        # match cells to points: each cell contains exactly one generator
        tree = shapely.STRtree(cells)
        pi, ci = tree.query(shapely.points(coords), predicate="intersects")
        owner = np.full(len(coords), -1)
        owner[pi] = ci
        for k, i in enumerate(idx):
            if owner[k] >= 0:
                areas[i] = shapely.make_valid(shapely.intersection(cells[owner[k]], tg))
    out = pts.copy()
    out["geometry"] = gpd.GeoSeries(areas, crs=crs)
    return out.set_geometry("geometry").to_crs(4326)


def analysis_crs(lon: np.ndarray, lat: np.ndarray) -> CRS:
    """Projected CRS for data at WGS84 ``lon``/``lat``: UTM 49N for anything within Dongguan's region.

    Dongguan straddles 114°E, the UTM 49/50 border, so its data always uses
    EPSG:32649 (as the town and village layers do) rather than the zone of
    its median point; elsewhere the median point's UTM zone.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.size and lon.min() > 112.5 and lon.max() < 115.0 and lat.min() > 22.0 and lat.max() < 24.0:
        return DONGGUAN_UTM
    from .access import utm_crs_for

    return utm_crs_for(lon, lat)


def attach_villages_to_list(points: gpd.GeoDataFrame, official: pd.DataFrame, path: str | Path | None = None) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Join user village points/polygons to the official list by code (or by town + name).

    Returns the official list (all rows) with geometry where matched, and
    counts of unmatched rows on either side.
    """
    counts: dict[str, int] = {}
    off = official.copy()
    if "code" in points.columns:
        key = "code"
        pts = points.drop_duplicates("code")
        if "town_name" in pts.columns and "town_name" in off.columns:
            official_town = pts["code"].map(dict(zip(off["code"], off["town_name"].astype(str))))
            given = pts["town_name"].astype(str).str.strip()
            clash = official_town.notna() & (given != "") & (given != "nan") & (given != official_town)
            if clash.any():
                import warnings

                counts["village_rows_town_mismatch"] = int(clash.sum())
                ex = pts.loc[clash, ["code", "town_name"]].head(5).to_numpy().tolist()
                warnings.warn(f"{path}: {int(clash.sum())} village rows name a town that differs from the official "
                              f"town of their code (code kept as authoritative; e.g. {ex}); check the town column",
                              stacklevel=2)
    else:
        key = "_k"
        off["_k"] = off["town_name"].astype(str) + "|" + off["short_name"].astype(str)
        pts = points.copy()
        if "town_name" not in pts.columns:
            raise ColumnError(path, "villages matched by name need a town column (镇街).", "add a town_name column or use codes.")
        pts["_k"] = pts["town_name"].astype(str) + "|" + pts["name"].astype(str)
    merged = off.merge(pd.DataFrame({key: pts[key].to_numpy(), "geometry": pts.geometry.to_numpy()}), on=key, how="left")
    counts["villages_without_location"] = int(merged["geometry"].isna().sum())
    counts["village_rows_not_in_list"] = int((~pts[key].isin(off[key])).sum())
    if counts["village_rows_not_in_list"] == len(pts) and len(pts) > 0:
        raise DataMismatchError(f"{path}: none of the village rows match the official list by {key}. "
                                "Fix: use 12-digit NBS codes or the official short names with their towns.")
    gdf = gpd.GeoDataFrame(merged.drop(columns=[c for c in ("_k",) if c in merged.columns]),
                           geometry=gpd.GeoSeries(merged["geometry"].to_numpy(), crs=4326))
    return gdf, counts
