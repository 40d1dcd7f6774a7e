"""Facilities: from tables (CSV/XLSX/GeoJSON in WGS84, GCJ-02 or BD-09) or from OSM.

Every loader returns a GeoDataFrame in EPSG:4326 with columns
``facility_id, name, kind, source, geometry`` and ``attrs["warnings"]``,
a dict of counted repairs (rows dropped, duplicates removed, ...).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .coords import to_wgs84
from .errors import ColumnError, EmptyInputError, InputFileError, InputNotFoundError
from .tables import read_table, resolve_columns

FACILITY_ALIASES = {
    "facility_id": ["facility_id", "id", "编号", "序号", "poi_id"],
    "name": ["name", "名称", "机构名称", "设施名称", "站点名称"],
    "lon": ["lon", "lng", "longitude", "x", "经度"],
    "lat": ["lat", "latitude", "y", "纬度"],
    "kind": ["kind", "type", "category", "类型", "类别"],
    "address": ["address", "地址"],
}

COLUMNS = ["facility_id", "name", "kind", "source", "geometry"]


def facilities_from_file(path: str | Path, crs: str = "wgs84", *, bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Read facilities from CSV/XLSX (lon/lat columns) or GeoJSON/GPKG (points or areas).

    Parameters
    ----------
    path
        The file.  CSV may be UTF-8 (with or without BOM) or GBK/GB18030;
        Chinese headers 名称/经度/纬度/类型/地址 are recognised.
    crs
        Coordinate system of the coordinates: ``wgs84``, ``gcj02`` (Gaode,
        Tencent) or ``bd09`` (Baidu).  GeoJSON is WGS84 by specification, but
        Chinese exports are often GCJ-02: say so here.
    bounds
        Optional WGS84 ``(west, south, east, north)``; points outside are
        dropped and counted (``facilities_outside_area``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id, name, kind, source, geometry`` (EPSG:4326 points).
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "facility file")
    counts: dict[str, int] = {}
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json", ".gpkg", ".shp"):
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:
            raise InputFileError(path, f"cannot be read as a vector file ({exc}).", "pass valid GeoJSON.") from exc
        if gdf.empty:
            raise EmptyInputError(f"{path}: holds no facilities. Fix: pass a file with at least one facility.")
        nonpoint = ~gdf.geom_type.isin(["Point"])
        if nonpoint.any():
            counts["facility_areas_as_points"] = int(nonpoint.sum())
            pts = gdf.geometry.copy()
            pts[nonpoint] = gdf.geometry[nonpoint].representative_point()
            gdf = gdf.set_geometry(pts)
        df = pd.DataFrame(gdf.drop(columns="geometry")).astype(str)
        df["lon"] = gdf.geometry.x.to_numpy()
        df["lat"] = gdf.geometry.y.to_numpy()
    else:
        df = read_table(path)
    cols = resolve_columns(df, FACILITY_ALIASES, required=("lon", "lat"), path=path)
    lon = pd.to_numeric(df[cols["lon"]], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df[cols["lat"]], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.all():
        raise ColumnError(path, f"no row has numeric coordinates in columns {cols['lon']!r}/{cols['lat']!r}.",
                          "check the coordinate columns (decimal degrees).")
    if bad.any():
        counts["facility_rows_bad_coordinates"] = int(bad.sum())
        rows = (np.nonzero(bad)[0] + 2).tolist()[:10]
        warnings.warn(f"{path}: {int(bad.sum())} rows with missing/non-numeric coordinates dropped (lines {rows})", stacklevel=2)
    keep = ~bad
    df, lon, lat = df[keep].reset_index(drop=True), lon[keep], lat[keep]
    lon, lat = to_wgs84(lon, lat, crs)
    names = df[cols["name"]].fillna("").astype(str).str.strip() if "name" in cols else pd.Series([""] * len(df))
    ids = (df[cols["facility_id"]].astype(str).str.strip() if "facility_id" in cols
           else pd.Series([f"{path.stem}:{i + 1}" for i in range(len(df))]))
    kind = df[cols["kind"]].fillna("").astype(str) if "kind" in cols else pd.Series([""] * len(df))
    gdf = gpd.GeoDataFrame({"facility_id": ids.to_numpy(), "name": names.to_numpy(), "kind": kind.to_numpy(),
                            "source": str(path)}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    return finish_facilities(gdf, counts, bounds, str(path))


def finish_facilities(gdf: gpd.GeoDataFrame, counts: dict[str, int], bounds: tuple[float, float, float, float] | None,
                      source: str) -> gpd.GeoDataFrame:
    """Drop facilities outside ``bounds`` and exact duplicates (same name, same place), counting both."""
    if bounds is not None and len(gdf):
        x, y = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        inside = (x >= bounds[0]) & (x <= bounds[2]) & (y >= bounds[1]) & (y <= bounds[3])
        if (~inside).any():
            counts["facilities_outside_area"] = int((~inside).sum())
            warnings.warn(f"{source}: {int((~inside).sum())} facilities outside the study area dropped", stacklevel=3)
        gdf = gdf[inside]
    if len(gdf):
        key = gdf["name"].astype(str) + "|" + gdf.geometry.x.round(6).astype(str) + "|" + gdf.geometry.y.round(6).astype(str)
        dup = key.duplicated().to_numpy()
        if dup.any():
            counts["facility_duplicates_removed"] = int(dup.sum())
            gdf = gdf[~dup]
    gdf = gdf.reset_index(drop=True)[COLUMNS]
    gdf.attrs["warnings"] = counts
    return gdf


def facilities_from_osm(path: str | Path, tags: dict, name_keywords: list[str] | tuple[str, ...] = (),
                        bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Facilities from a local OSM file by a circle's tags and name keywords.

    Parameters
    ----------
    path
        ``.osm`` / ``.osm.pbf`` file.
    tags
        ``{key: [values] | True}`` filters (any match).
    name_keywords
        Name fragments (Chinese) that also identify the facility type.
    bounds
        Optional WGS84 bounds to keep.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    from .osm import facilities_from_osm_file

    gdf = facilities_from_osm_file(path, tags, list(name_keywords))
    gdf = gdf.rename(columns={"osm_tag": "kind"})
    return finish_facilities(gpd.GeoDataFrame(gdf, geometry="geometry", crs=4326), {}, bounds, str(path))


def facilities_from_place(query: str, tags: dict) -> gpd.GeoDataFrame:  # pragma: no cover - network
    """Download facilities for a place through OSMnx (needs internet)."""
    import osmnx as ox

    feats = ox.features_from_place(query, tags=tags)
    pts = feats.geometry.representative_point()
    ids = [f"{t}/{i}" for t, i in feats.index]
    name = feats["name"].fillna("").astype(str) if "name" in feats else ""
    gdf = gpd.GeoDataFrame({"facility_id": ids, "name": name, "kind": "osm", "source": f"osmnx:{query}"},
                           geometry=pts.to_numpy(), crs=4326)
    return finish_facilities(gdf, {}, None, query)
