"""Towns (镇街) and villages/communities (村/社区): boundaries, points and areas.

Villages arrive as points (e.g. 村委会/居委会 addresses geocoded with Gaode,
GCJ-02) or as polygons (official 村界).  Points become areas by a Voronoi
partition of each town, clipped to the town.  The embedded Dongguan layers
(real town boundaries and the official village list) live in
``dgcoverage/data/dongguan`` with their attribution.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..errors import ColumnError, DataMismatchError, DgCoverageWarning, InputFileError, InputNotFoundError
from .coords import to_wgs84, transform_geometry
from .tables import resolve_columns

DONGGUAN_UTM = CRS.from_epsg(32649)

#: Towns whose NBS code is a special zone (类似乡级单位).
SPECIAL_ZONE_PREFIX = "4419004"


def data_dir() -> Path:
    """Folder of the packaged real Dongguan data."""
    return Path(str(resources.files("dgcoverage") / "data" / "dongguan"))


def dongguan_town_table() -> pd.DataFrame:
    """Return the 36 NBS township-level units (code, name, type) with boundary names and 2020 census population."""
    d = data_dir()
    towns = pd.read_csv(d / "dongguan_towns.csv", dtype={"code": str})
    mapping = pd.read_csv(d / "town_name_mapping.csv", dtype={"division_code": str})
    pop = pd.read_csv(d / "town_population_2020.csv", dtype={"division_code": str})
    out = towns.rename(columns={"code": "town_code", "name": "town_name", "type": "town_type"})
    out = out.merge(
        mapping[["division_code", "geoatlas_name", "match", "note"]].rename(
            columns={"division_code": "town_code", "geoatlas_name": "boundary_name"}
        ),
        on="town_code",
        how="left",
    )
    out = out.merge(
        pop[["division_code", "population"]].rename(
            columns={"division_code": "town_code", "population": "census_2020"}
        ),
        on="town_code",
        how="left",
    )
    return out


def dongguan_villages() -> pd.DataFrame:
    """Return the official list of 609 村/社区 (NBS 2023): code, name, short_name, town_code, town_name, type."""
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


def partition_towns(
    table: pd.DataFrame, geoms: dict[str, shapely.Geometry | None], crs: CRS | None = None
) -> gpd.GeoDataFrame:
    """Remove overlaps between town polygons: lower town code keeps the overlap.

    Parameters
    ----------
    table
        Town rows with ``town_code`` (used for order) and attributes.
    geoms
        WGS84 geometry per town code (``None`` when the town has no polygon).
    crs
        Projected CRS the overlaps are measured in; ``None``: :func:`working_crs` of the geometries.

    Returns
    -------
    geopandas.GeoDataFrame
        The table with non-overlapping geometry (EPSG:4326) and
        ``has_polygon`` / ``overlap_removed_km2`` columns.
    """
    table = table.sort_values("town_code").reset_index(drop=True)
    crs = crs or working_crs(gpd.GeoSeries([g for g in geoms.values() if g is not None], crs=4326))
    proj = {k: (None if g is None else transform_to(g, crs)) for k, g in geoms.items()}
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
    gdf = gpd.GeoDataFrame(table.copy(), geometry=gpd.GeoSeries(out_geom, crs=crs).to_crs(4326))
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
}


def village_points_from_file(
    path: str | Path,
    crs: str | None = None,
    *,
    expected_bounds: tuple[float, float, float, float] | None = None,
    sheet: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Read village points (CSV/XLSX with lon/lat columns, or GeoJSON points).

    Parameters
    ----------
    path
        File with at least ``code`` or ``name`` and coordinates; Chinese
        headers (代码, 名称, 经度, 纬度, 镇街) are recognised.
    crs
        Coordinate system of the file: ``wgs84``, ``gcj02`` (Gaode/Tencent) or
        ``bd09`` (Baidu); ``None`` = not declared (tables: the system their
        column names state, else GCJ-02; vector files: their own, else WGS84).
    expected_bounds
        Optional WGS84 ``(west, south, east, north)`` of the study area; rows
        whose latitude and longitude are swapped are detected with it, fixed
        and counted (``village_rows_lonlat_swapped``).
    sheet, lon_col, lat_col
        Workbook sheet and coordinate columns, when the file is ambiguous.

    Returns
    -------
    geopandas.GeoDataFrame
        code, name, town_name (when given), ``line`` (file line/feature of the
        row), geometry (EPSG:4326 points); ``attrs["warnings"]`` counts rows
        dropped (``village_rows_bad_coordinates``) or repaired;
        ``attrs["input"]`` records the system used, its source and the columns.
    """
    from .tables import clean_lonlat, drop_empty_geometries, read_coordinate_table, vector_crs

    path = Path(path)
    row_label, row_offset, lines = "line", 2, None
    counts: dict[str, int] = {}
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        if lon_col is not None or sheet is not None:
            raise InputFileError(
                path,
                "is a vector file: its points are its geometry.",
                "drop --lon-col/--lat-col/--sheet, which are for tables.",
            )
        gdf = read_vector(path)
        gdf = drop_empty_geometries(gdf, path, "village", counts)
        if not (gdf.geom_type == "Point").all():
            kinds = sorted(str(k) for k in set(gdf.geom_type.fillna("None")))
            raise InputFileError(
                path,
                f"village file mixes points with other geometry types ({kinds}).",
                "pass points (one per 村/社区) or polygons (村界), not both.",
            )
        gdf, declared, source, ignored = vector_crs(path, gdf, crs, "--villages-crs")
        if ignored:
            counts["villages_crs_option_ignored"] = 1
        record: dict[str, object] = {"crs": declared, "crs_source": source, "coordinates": "geometry"}
        df = pd.DataFrame(gdf.drop(columns="geometry"))
        df["__lon"], df["__lat"] = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        coords = {"lon": "__lon", "lat": "__lat"}
        row_label, row_offset = "feature", 0
    else:
        df, coords, record = read_coordinate_table(
            path, crs, what="village", crs_option="--villages-crs", sheet=sheet, lon_col=lon_col, lat_col=lat_col
        )
        counts.update(df.attrs.get("warnings", {}))
        lines, row_label, declared = df.attrs.get("line"), df.attrs["row_label"], coords["crs"]
    cols = resolve_columns(df.drop(columns=[coords["lon"], coords["lat"]]), VILLAGE_ALIASES, path=path)
    if "code" not in cols and "name" not in cols:
        raise ColumnError(path, "no village code or name column.", "add a 'code' (12-digit NBS) or 'name' column.")
    keep, lon, lat, ccounts = clean_lonlat(
        df[coords["lon"]], df[coords["lat"]], path, "village", expected_bounds, row_label, row_offset, lines=lines
    )
    counts.update(ccounts)
    where = np.nonzero(keep)[0]
    line_no = np.asarray(lines)[where] if lines is not None else where + row_offset
    df = df[keep].reset_index(drop=True)
    lon, lat = to_wgs84(lon, lat, declared)
    out = pd.DataFrame({k: df[cols[k]].astype(str).str.strip() for k in ("code", "name", "town_name") if k in cols})
    out["line"] = line_no
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    gdf.attrs["warnings"] = counts
    gdf.attrs["input"] = record
    gdf.attrs["row_label"] = row_label
    return gdf


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON/GPKG/SHP file, refusing a missing, unreadable or empty one with the fix."""
    if not path.exists():
        raise InputNotFoundError(path, "vector file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise InputFileError(
            path, f"cannot be read as a vector file ({exc}).", "pass a valid GeoJSON/GPKG/SHP."
        ) from exc
    if gdf.empty:
        raise InputFileError(path, "holds no features.", "pass a file with at least one feature.")
    return gdf


def village_areas_from_points(
    points: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, town_key: str = "town_code"
) -> gpd.GeoDataFrame:
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
    out["geometry"] = gpd.GeoSeries(areas, crs=crs, index=out.index)  # by position: the index may have gaps
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
    from ..compute.access import utm_crs_for

    return utm_crs_for(lon, lat)


def working_crs(geoms: gpd.GeoSeries) -> CRS:
    """Metric CRS for checks on WGS84 ``geoms``: UTM 49N when their median point is in Dongguan's region.

    Else the UTM zone of their median point (a region anywhere on Earth); distances of a few metres between
    points are what it measures (duplicates, shared points, points outside their town).
    """
    pts = geoms[geoms.notna() & ~geoms.is_empty]
    if len(pts) == 0:
        return DONGGUAN_UTM
    c = shapely.get_coordinates(shapely.centroid(shapely.envelope(pts.to_numpy())))
    lon, lat = float(np.median(c[:, 0])), float(np.median(c[:, 1]))
    if 112.5 < lon < 115.0 and 22.0 < lat < 24.0:
        return DONGGUAN_UTM
    from ..compute.access import utm_crs_for

    return utm_crs_for([lon], [lat])


#: A village point up to this far outside its own town still counts as inside (boundary and geocoding precision).
TOWN_TOLERANCE_M = 200.0


def attach_villages_to_list(
    points: gpd.GeoDataFrame,
    official: pd.DataFrame,
    path: str | Path | None = None,
    towns: gpd.GeoDataFrame | None = None,
    nbs_codes: bool = True,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Join user village points/polygons to the official list by code (or by town + name).

    ``nbs_codes=False`` (a region's own list, :mod:`dgcoverage.inputs.region`): any text is a code.

    Rules, each counted and warned (never "first row wins"):

    * Codes written by spreadsheets as ``441900003001.0`` are read as
      ``441900003001``; a code in scientific notation (``4.419E+11``) has lost
      digits and does not match (counted, ``village_codes_scientific``).
    * Rows repeating a code (or a town + name) at the same place (within 1 m)
      are one village (``village_rows_duplicate_identical``); repeated at
      different places they are an error listing the codes and rows.
    * With ``towns``, a point more than :data:`TOWN_TOLERANCE_M` outside its
      code's town is not used: its village gets no location, with the reason
      (``village_points_outside_their_town``, or
      ``village_points_outside_dongguan`` when it is in no town at all).

    Returns
    -------
    geopandas.GeoDataFrame, dict
        The official list (all rows) with geometry where matched and a
        ``location_note`` (why a village has no location, or ``""``), and the counts.
    """
    counts: dict[str, int] = {}
    off = official.copy()
    pts = points.copy()
    label = points.attrs.get("row_label", "line")
    if "line" not in pts.columns:
        pts["line"] = np.arange(len(pts))
        label = "feature"
    if "code" in pts.columns:
        key = "code"
        code = pts["code"].astype(str).str.strip()
        code = code.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        sci = code.str.fullmatch(r"\d(\.\d+)?[eE]\+?\d+")
        if sci.any() and nbs_codes:
            counts["village_codes_scientific"] = int(sci.sum())
            warnings.warn(
                f"{path}: {int(sci.sum())} village codes are in scientific notation (e.g. "
                f"{code[sci].iloc[0]!r}, {label}s {pts.loc[sci, 'line'].tolist()[:10]}): a spreadsheet has "
                "rounded them and they cannot be matched. Fix: format the code column as text and export "
                "again",
                DgCoverageWarning,
                stacklevel=2,
            )
        pts["code"] = code
        if not nbs_codes:
            sci = pd.Series(False, index=code.index)
        malformed = ~sci & ~code.str.fullmatch(r"\d{12}" if nbs_codes else r".+")
        if malformed.any():
            counts["village_codes_malformed"] = int(malformed.sum())
            warnings.warn(
                f"{path}: {int(malformed.sum())} village codes are not 12-digit NBS codes (e.g. "
                f"{code[malformed].iloc[0]!r}, {label}s {pts.loc[malformed, 'line'].tolist()[:10]}) and cannot be "
                "matched. Fix: use the 12-digit 统计用区划代码 of each 村/社区 (e.g. 441900003001), not a town code",
                DgCoverageWarning,
                stacklevel=2,
            )
        unusable = sci | malformed
        if unusable.all():
            raise DataMismatchError(
                f"{path}: no village code is a 12-digit NBS code (e.g. {code.iloc[0]!r}). Fix: format the code "
                "column as text (Excel turns long numbers into 4.419E+11) and use 12-digit codes such as "
                "441900003001, or match by town and name (columns 镇街 and 名称) instead."
            )
        pts = pts[~unusable]
    else:
        if "town_name" not in pts.columns:
            raise ColumnError(
                path, "villages matched by name need a town column (镇街).", "add a town_name column or use codes."
            )
        key = "_k"
        off["_k"] = off["town_name"].astype(str) + "|" + off["short_name"].astype(str)
        pts["_k"] = pts["town_name"].astype(str).str.strip() + "|" + pts["name"].astype(str).str.strip()
    pts = _one_row_per_village(pts, key, path, label, counts)
    if key == "code" and "town_name" in pts.columns and "town_name" in off.columns:
        official_town = pts["code"].map(dict(zip(off["code"], off["town_name"].astype(str))))
        given = pts["town_name"].astype(str).str.strip()
        clash = official_town.notna() & (given != "") & (given != "nan") & (given != official_town)
        if clash.any():
            counts["village_rows_town_mismatch"] = int(clash.sum())
            ex = pts.loc[clash, ["code", "town_name"]].head(5).to_numpy().tolist()
            warnings.warn(
                f"{path}: {int(clash.sum())} village rows name a town that differs from the official "
                f"town of their code (code kept as authoritative; e.g. {ex}); check the town column",
                DgCoverageWarning,
                stacklevel=2,
            )
    merged = off.merge(
        pd.DataFrame({key: pts[key].to_numpy(), "geometry": pts.geometry.to_numpy(), "_line": pts["line"].to_numpy()}),
        on=key,
        how="left",
    )
    not_in_list = ~pts[key].isin(off[key])
    counts["village_rows_not_in_list"] = int(not_in_list.sum())
    by = "code" if key == "code" else "town and short name (e.g. 东城街道 + 岗贝社区, not 岗贝社区居民委员会)"
    if counts["village_rows_not_in_list"] == len(pts) and len(pts) > 0:
        raise DataMismatchError(
            f"{path}: none of the village rows match the official list of the study's towns by {by} (e.g. "
            f"{pts[key].iloc[0].replace('|', ' + ')!r}). Fix: use 12-digit NBS codes, or the official short names "
            "with their towns."
        )
    if not_in_list.any():
        warnings.warn(
            f"{path}: {int(not_in_list.sum())} village rows match no village of the official list by {by} and were "
            f"not used (e.g. {[str(k).replace('|', ' + ') for k in pts.loc[not_in_list, key].head(5)]}, {label}s "
            f"{pts.loc[not_in_list, 'line'].tolist()[:10]})",
            DgCoverageWarning,
            stacklevel=2,
        )
    merged["location_note"] = ""
    _drop_shared_points(merged, path, label, counts)
    if towns is not None:
        _drop_points_outside_towns(merged, towns, path, label, counts)
    counts["villages_without_location"] = int(merged["geometry"].isna().sum())
    gdf = gpd.GeoDataFrame(
        merged.drop(columns=[c for c in ("_k", "_line") if c in merged.columns]),
        geometry=gpd.GeoSeries(merged["geometry"].to_numpy(), crs=4326),
    )
    return gdf, counts


def _one_row_per_village(
    pts: gpd.GeoDataFrame, key: str, path: str | Path | None, label: str, counts: dict[str, int]
) -> gpd.GeoDataFrame:
    """Drop rows repeating a village at the same place (counted); repeats at different places are an error."""
    dup = pts[key].duplicated(keep=False) & (pts[key].astype(str) != "")
    if not dup.any():
        return pts
    rep = pts.geometry.representative_point().to_crs(working_crs(pts.geometry.to_crs(4326)))
    xy = pd.DataFrame({"k": pts[key], "x": rep.x.round(0), "y": rep.y.round(0)})
    spread = xy[dup].groupby("k")[["x", "y"]].agg(lambda v: float(v.max() - v.min()))
    differ = spread[(spread["x"] > 1) | (spread["y"] > 1)].index.tolist()
    if differ:
        rows = {k: pts.loc[pts[key] == k, "line"].tolist() for k in differ[:5]}
        what = "code" if key == "code" else "town + name"
        raise DataMismatchError(
            f"{path}: {len(differ)} village {what}s appear on several rows at different places "
            f"({rows}, {label}s); which one is right cannot be told. Fix: keep one row per "
            "village (村/社区) and delete or correct the others."
        )
    first = ~pts[key].duplicated(keep="first")
    n = int((~first).sum())
    counts["village_rows_duplicate_identical"] = n
    warnings.warn(
        f"{path}: {n} village rows repeat another row's {key.strip('_')} at the same place and were read "
        f"once ({label}s {pts.loc[~first, 'line'].tolist()[:10]})",
        DgCoverageWarning,
        stacklevel=3,
    )
    return pts[first]


#: Village points closer than this to another village's point are taken as one geocoded place (m).
SHARED_POINT_M = 1.0


def _drop_shared_points(merged: pd.DataFrame, path: str | Path | None, label: str, counts: dict[str, int]) -> None:
    """Clear the location of villages that share their point with another village (in place), with the reason.

    A geocoder that cannot find a 村委会 often falls back to the town centre, so
    several villages get one point; their Voronoi areas would be slivers and
    their people would go to one of them.  Which point is right cannot be told.
    """
    pts = merged["geometry"]
    is_point = np.array([g is not None and getattr(g, "geom_type", "") == "Point" for g in pts])
    if is_point.sum() < 2:
        return
    idx = np.nonzero(is_point)[0]
    g = gpd.GeoSeries(pts.to_numpy()[idx], crs=4326)
    xy = g.to_crs(working_crs(g)).get_coordinates().to_numpy()
    key = np.round(xy / SHARED_POINT_M).astype(np.int64)
    _, inverse, n_at = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    shared = n_at[inverse.ravel()] > 1
    if not shared.any():
        return
    rows = idx[shared]
    groups = inverse.ravel()[shared]
    for r, gi in zip(rows, groups):
        col = next(c for c in ("short_name", "name", "code") if c in merged)
        others = [str(o) for o in merged.loc[idx[shared & (inverse.ravel() == gi)], col] if o != merged.at[r, col]]
        merged.at[r, "location_note"] = (
            f"its point is the same as that of {len(others)} other village(s) ({', '.join(others[:4])}): "
            "a geocoder's fallback? Give each village its own point"
        )
        merged.at[r, "geometry"] = None
    counts["village_points_shared"] = int(len(rows))
    warnings.warn(
        f"{path}: {len(rows)} villages share their point with another village ({label}s "
        f"{merged.loc[rows, '_line'].astype('Int64').tolist()[:10]}); those villages get status no_data with the "
        "reason. Fix: geocode each 村委会/居委会 to its own address",
        DgCoverageWarning,
        stacklevel=3,
    )


def _drop_points_outside_towns(
    merged: pd.DataFrame, towns: gpd.GeoDataFrame, path: str | Path | None, label: str, counts: dict[str, int]
) -> None:
    """Clear the location of villages whose point lies outside their own town (in place), with the reason."""
    located = merged["geometry"].notna().to_numpy()
    if not located.any():
        return
    crs = working_crs(towns[towns["has_polygon"]].geometry.to_crs(4326))
    polys = towns[towns["has_polygon"]].to_crs(crs)
    by_code = dict(zip(polys["town_code"].astype(str), polys.geometry))
    names = dict(zip(towns["town_code"].astype(str), towns["town_name"].astype(str)))
    idx = np.nonzero(located)[0]
    g = gpd.GeoSeries(merged["geometry"].to_numpy()[idx], crs=4326)
    rep = g.representative_point().to_crs(crs).to_numpy()
    tree = shapely.STRtree(polys.geometry.to_numpy())
    codes = polys["town_code"].astype(str).to_numpy()
    outside_town, outside_city = [], []
    for i, p in zip(idx, rep):
        own = by_code.get(str(merged.at[i, "town_code"]))
        if own is None or shapely.distance(own, p) <= TOWN_TOLERANCE_M:
            continue
        hit = tree.query(p, predicate="intersects")
        near = shapely.distance(own, p)
        if len(hit):
            where = names.get(codes[hit[0]], codes[hit[0]])
            merged.at[i, "location_note"] = (
                f"point lies in {where}, {near:,.0f} m outside its own town "
                f"{names.get(str(merged.at[i, 'town_code']), '')}: check its coordinates"
            )
            outside_town.append(i)
        else:
            merged.at[i, "location_note"] = (
                f"point lies outside Dongguan ({near:,.0f} m from its town): check its coordinates and CRS"
            )
            outside_city.append(i)
        merged.at[i, "geometry"] = None
    for key, hit, text in (
        ("village_points_outside_their_town", outside_town, "lie in another town"),
        ("village_points_outside_dongguan", outside_city, "lie outside every town of the study"),
    ):
        if hit:
            counts[key] = len(hit)
            ex = merged.loc[hit, "code"].head(5).tolist()
            warnings.warn(
                f"{path}: {len(hit)} village points {text} (more than {TOWN_TOLERANCE_M:.0f} m outside "
                f"their code's town; e.g. {ex}, {label}s {merged.loc[hit, '_line'].tolist()[:10]}); those "
                "villages get status no_data with the reason. Fix: check their coordinates and CRS",
                DgCoverageWarning,
                stacklevel=3,
            )
