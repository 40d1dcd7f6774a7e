"""Facilities: from tables (CSV/XLSX/GeoJSON in WGS84, GCJ-02 or BD-09) or from OSM.

Every loader returns a GeoDataFrame in EPSG:4326 with columns
``facility_id, name, kind, address, source, geometry`` and ``attrs["warnings"]``,
a dict of counted repairs (rows dropped, duplicates removed, ...).  With
``keep_columns=True`` the table loaders also keep every other column of the
input, as read, under ``raw:<header>`` (and the file line of each row as
``raw_line``), so that a caller can read more from the rows kept, e.g. the
capacities of :func:`dgcoverage.inputs.capacity.capacity_from_table`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import (
    ColumnError,
    DataMismatchError,
    DgCoverageWarning,
    EmptyInputError,
    InputFileError,
    InputNotFoundError,
)
from .coords import to_wgs84
from .tables import (
    clean_lonlat,
    drop_empty_geometries,
    read_coordinate_table,
    resolve_columns,
    vector_crs,
)

FACILITY_ALIASES = {
    "facility_id": ["facility_id", "id", "编号", "序号", "poi_id"],
    "name": ["name", "名称", "机构名称", "设施名称", "站点名称"],
    "kind": ["kind", "type", "category", "类型", "类别"],
    "address": ["address", "地址"],
}

COLUMNS = ["facility_id", "name", "kind", "address", "source", "geometry"]
#: Prefix of the input's own columns kept with ``keep_columns=True``; ``raw_line`` holds the file line.
RAW_PREFIX = "raw:"
RAW_LINE = "raw_line"


def facilities_from_file(
    path: str | Path,
    crs: str | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    expected_bounds: tuple[float, float, float, float] | None = None,
    sheet: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    keep_columns: bool = False,
    default_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read facilities from CSV/XLSX (lon/lat columns) or GeoJSON/GPKG (points or areas).

    Parameters
    ----------
    path
        The file.  CSV may be UTF-8 (with or without BOM) or GBK/GB18030;
        Chinese headers 名称/经度/纬度/类型/地址 are recognised.
    crs
        Coordinate system of the coordinates: ``wgs84``, ``gcj02`` (Gaode,
        Tencent) or ``bd09`` (Baidu); ``None`` = not declared.  Tables then use
        the system their column names state (``lon_gcj02``, ``经度(WGS84)``),
        else ``default_crs``; a table that states none is refused with the fix
        (never guessed).  Vector files use their own declaration, else WGS84
        (RFC 7946).  What was used, and why, is in ``attrs``.
    bounds
        Optional WGS84 ``(west, south, east, north)``; points outside are
        dropped and counted (``facilities_outside_area``).
    expected_bounds
        Optional WGS84 extent of the study area used to detect rows whose
        latitude and longitude are swapped (fixed and counted as
        ``facility_rows_lonlat_swapped``); defaults to ``bounds``.
    sheet
        Workbook sheet to read (required when several sheets have coordinates).
    lon_col, lat_col
        Coordinate columns to use (required when a table has several pairs that disagree).
    default_crs
        The project's default system for tables that state none (``[settings] default_point_crs``).
    keep_columns
        Also keep the input's other columns (as read: text for tables and
        GeoJSON properties) as ``raw:<header>``, and the file line of each
        row of a table as ``raw_line``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id, name, kind, address, source, geometry`` (EPSG:4326
        points); ``attrs["warnings"]`` counts every row dropped or repaired;
        ``attrs["declared_crs"]`` is the system used, ``attrs["input"]`` records
        it with its source, the coordinate columns, sheet and header line.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "facility file")
    counts: dict[str, int] = {}
    suffix = path.suffix.lower()
    row_label, row_offset, lines = "line", 2, None
    record: dict[str, object] = {}
    if suffix in (".geojson", ".json", ".gpkg", ".shp"):
        if path.stat().st_size == 0:
            raise InputFileError(path, "is empty (0 bytes).", "export the file again.")
        if lon_col is not None or sheet is not None:
            raise InputFileError(
                path,
                "is a vector file: its points are its geometry.",
                "drop --lon-col/--lat-col/--sheet, which are for tables.",
            )
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:
            raise InputFileError(path, f"cannot be read as a vector file ({exc}).", "pass valid GeoJSON.") from exc
        if gdf.empty:
            raise EmptyInputError(f"{path}: holds no facilities. Fix: pass a file with at least one facility.")
        gdf, declared, source, ignored = vector_crs(path, gdf, crs, "--facilities-crs")
        if ignored:
            counts["facilities_crs_option_ignored"] = 1
        record.update(crs=declared, crs_source=source, coordinates="geometry")
        gdf = _points_of_features(gdf, path, counts)
        df = pd.DataFrame(gdf.drop(columns="geometry")).astype(str)
        df["__lon"] = gdf.geometry.x.to_numpy()
        df["__lat"] = gdf.geometry.y.to_numpy()
        coords = {"lon": "__lon", "lat": "__lat"}
        row_label, row_offset = "feature", 0
    else:
        df, coords, table_record = read_coordinate_table(
            path,
            crs,
            what="facility",
            crs_option="--facilities-crs",
            sheet=sheet,
            lon_col=lon_col,
            lat_col=lat_col,
            default_crs=default_crs,
        )
        counts.update(df.attrs.get("warnings", {}))
        lines, row_label, declared = df.attrs.get("line"), df.attrs["row_label"], coords["crs"]
        record.update(table_record)
    cols = resolve_columns(df.drop(columns=[coords["lon"], coords["lat"]]), FACILITY_ALIASES, path=path)
    keep, lon, lat, ccounts = clean_lonlat(
        df[coords["lon"]],
        df[coords["lat"]],
        path,
        "facility",
        expected_bounds if expected_bounds is not None else bounds,
        row_label,
        row_offset,
        lines=lines,
    )
    counts.update(ccounts)
    df = df[keep].reset_index(drop=True)
    lon, lat = to_wgs84(lon, lat, declared)
    raw = _raw_columns(df, [coords["lon"], coords["lat"], "__lon", "__lat"]) if keep_columns else {}
    if keep_columns and lines is not None:
        raw[RAW_LINE] = np.asarray(lines)[np.asarray(keep, dtype=bool)]

    def text(key: str) -> pd.Series:
        if key not in cols:
            return pd.Series([""] * len(df))
        return df[cols[key]].fillna("").astype(str).str.strip().replace({"nan": "", "None": ""})

    ids = text("facility_id")
    if "facility_id" not in cols:
        where = np.nonzero(keep)[0]
        nums = (np.asarray(lines)[where] if lines is not None else where + 1).tolist()
        ids = pd.Series([f"{path.stem}:{i}" for i in nums])
    gdf = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy(),
            "name": text("name").to_numpy(),
            "kind": text("kind").to_numpy(),
            "address": text("address").to_numpy(),
            "source": str(path),
            **raw,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    out = finish_facilities(gdf, counts, bounds, str(path))
    out.attrs["declared_crs"] = declared
    out.attrs["input"] = record
    return out


def _points_of_features(gdf: gpd.GeoDataFrame, path: Path, counts: dict[str, int]) -> gpd.GeoDataFrame:
    """One point per facility: features without geometry dropped, multi-part ones split, areas as a point inside."""
    gdf = drop_empty_geometries(gdf, path, "facility", counts)
    multi = gdf.geom_type.isin(["MultiPoint", "GeometryCollection"]).to_numpy()
    if multi.any():
        n_before = len(gdf)
        gdf = gdf.explode(index_parts=False).reset_index(drop=True)
        counts["facility_multipoints_split"] = int(multi.sum())
        warnings.warn(
            f"{path}: {int(multi.sum())} multi-part features (MultiPoint/GeometryCollection) split into "
            f"{len(gdf) - n_before + int(multi.sum())} facilities, one per part (features "
            f"{np.nonzero(multi)[0].tolist()[:10]})",
            DgCoverageWarning,
            stacklevel=4,
        )
    nonpoint = ~gdf.geom_type.isin(["Point"])
    if nonpoint.any():
        kinds = sorted(set(gdf.geom_type[nonpoint]))
        counts["facility_areas_as_points"] = int(nonpoint.sum())
        warnings.warn(
            f"{path}: mixed geometry types; {int(nonpoint.sum())} {kinds} features replaced by a point inside them",
            DgCoverageWarning,
            stacklevel=4,
        )
        pts = gdf.geometry.copy()
        pts[nonpoint] = gdf.geometry[nonpoint].representative_point()
        gdf = gdf.set_geometry(pts)
    return gdf


def facilities_from_frame(
    gdf: gpd.GeoDataFrame,
    crs: str | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    source: str = "facilities GeoDataFrame",
    keep_columns: bool = False,
) -> gpd.GeoDataFrame:
    """Facilities from a GeoDataFrame already in memory (points, or areas replaced by a point inside them).

    Parameters
    ----------
    gdf
        Facilities with a CRS.  Columns named like the table headers
        (``name``/名称, ``kind``/类型, ``address``/地址, ``facility_id``/编号)
        are kept.
    crs
        ``gcj02`` or ``bd09`` when EPSG:4326 coordinates are really
        Gaode/Baidu degrees; ``None`` or ``wgs84`` takes the CRS as given.
    bounds
        Optional WGS84 bounds; facilities outside are dropped and counted.
    source
        Name used in messages and in the ``source`` column.
    keep_columns
        Also keep the frame's other columns (values unchanged) as ``raw:<name>``.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`facilities_from_file`.
    """
    from ..errors import CRSError
    from .coords import canonical_crs

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"facilities must be a GeoDataFrame, not {type(gdf)}")
    if gdf.empty:
        raise EmptyInputError(f"{source}: holds no facilities. Fix: pass at least one facility.")
    if gdf.crs is None:
        raise CRSError(f"{source}: the GeoDataFrame has no CRS. Fix: set one (gdf.set_crs(4326)).")
    declared = "wgs84" if crs is None else canonical_crs(crs)
    g = gdf.to_crs(4326)
    counts: dict[str, int] = {}
    nogeom = (g.geometry.isna() | g.geometry.is_empty).to_numpy()
    if nogeom.all():
        raise ColumnError(None, f"{source}: no facility has a geometry.", "give the facilities their locations.")
    if nogeom.any():
        counts["facility_rows_no_geometry"] = int(nogeom.sum())
        warnings.warn(f"{source}: {int(nogeom.sum())} rows without geometry dropped", DgCoverageWarning, stacklevel=2)
        g = g[~nogeom].reset_index(drop=True)
    pts = g.geometry.representative_point()
    lon, lat = to_wgs84(pts.x.to_numpy(), pts.y.to_numpy(), declared)
    df = pd.DataFrame(g.drop(columns="geometry"))
    cols = resolve_columns(df, FACILITY_ALIASES, path=source)

    def text(key: str) -> np.ndarray:
        if key not in cols:
            return np.array([""] * len(df), dtype=object)
        return df[cols[key]].fillna("").astype(str).str.strip().to_numpy()

    ids = text("facility_id") if "facility_id" in cols else np.array([f"row:{i}" for i in range(len(df))], dtype=object)
    raw = _raw_columns(df, []) if keep_columns else {}
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids,
            "name": text("name"),
            "kind": text("kind"),
            "address": text("address"),
            "source": source,
            **raw,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    _refuse_all_outside(lon, lat, bounds, source)
    out = finish_facilities(out, counts, bounds, source)
    out.attrs["declared_crs"] = declared
    out.attrs["input"] = {
        "crs": declared,
        "crs_source": "declared" if crs is not None else "GeoDataFrame CRS",
        "coordinates": "geometry",
    }
    return out


def _raw_columns(df: pd.DataFrame, skip: list[str]) -> dict[str, np.ndarray]:
    """Return the input's own columns (values as read) under ``raw:<header>``, for ``keep_columns=True``."""
    return {f"{RAW_PREFIX}{c}": df[c].to_numpy() for c in df.columns if c not in skip}


def _refuse_all_outside(
    lon: np.ndarray, lat: np.ndarray, bounds: tuple[float, float, float, float] | None, source: str
) -> None:
    """Refuse a frame none of whose points lies in ``bounds`` but would with x and y swapped (never drop them all).

    A frame whose points all lie elsewhere is left to :func:`finish_facilities` (dropped and counted: facilities
    beyond a circle's reach are no mistake).
    """
    if bounds is None or not len(lon):
        return
    w, s, e, n = bounds
    if ((lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)).any():
        return
    if ((lat >= w) & (lat <= e) & (lon >= s) & (lon <= n)).any():
        raise DataMismatchError(
            f"{source}: none of its {len(lon)} facilities lies in the study area (lon {w:.4f}..{e:.4f}, lat "
            f"{s:.4f}..{n:.4f}), but they would with x and y swapped (the first is at x {lon[0]:.6f}, y "
            f"{lat[0]:.6f}). Fix: build the points as points_from_xy(lon, lat), longitude first"
        )


def finish_facilities(
    gdf: gpd.GeoDataFrame, counts: dict[str, int], bounds: tuple[float, float, float, float] | None, source: str
) -> gpd.GeoDataFrame:
    """Drop facilities outside ``bounds`` and exact duplicates (same name, same place), counting both.

    The standard columns are kept, and the ``raw:*``/``raw_line`` columns of ``keep_columns=True`` and a
    ``capacity`` column when present (before ``geometry``).
    """
    if bounds is not None and len(gdf):
        x, y = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        inside = (x >= bounds[0]) & (x <= bounds[2]) & (y >= bounds[1]) & (y <= bounds[3])
        if (~inside).any():
            counts["facilities_outside_area"] = int((~inside).sum())
            warnings.warn(
                f"{source}: {int((~inside).sum())} facilities outside the study area dropped",
                DgCoverageWarning,
                stacklevel=3,
            )
        gdf = gdf[inside]
    if len(gdf):
        key = (
            gdf["name"].astype(str)
            + "|"
            + gdf.geometry.x.round(6).astype(str)
            + "|"
            + gdf.geometry.y.round(6).astype(str)
        )
        dup = key.duplicated().to_numpy()
        if dup.any():
            counts["facility_duplicates_removed"] = int(dup.sum())
            warnings.warn(
                f"{source}: {int(dup.sum())} duplicate facilities (same name and place) removed",
                DgCoverageWarning,
                stacklevel=3,
            )
            gdf = gdf[~dup]
    for col in COLUMNS:
        if col not in gdf.columns:
            gdf[col] = ""
    gdf = _clean_text(gdf, counts, source)
    _check_ids(gdf, counts, source)
    extra = [c for c in gdf.columns if str(c).startswith(RAW_PREFIX) or c in (RAW_LINE, "capacity")]
    gdf = gdf.reset_index(drop=True)[[*COLUMNS[:-1], *extra, COLUMNS[-1]]]
    gdf.attrs["warnings"] = counts
    return gdf


#: Characters that garble tables and pages without showing: C0/C1 controls (but tab and newline) and the
#: bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), e.g. a name written backwards by U+202E.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean_text(gdf: gpd.GeoDataFrame, counts: dict[str, int], source: str) -> gpd.GeoDataFrame:
    """Remove control and text-direction characters from the text columns (counted)."""
    hit = 0
    for col in ("facility_id", "name", "kind", "address"):
        vals = gdf[col].astype(str)
        bad = vals.str.contains(_INVISIBLE)
        if bad.any():
            hit += int(bad.sum())
            gdf[col] = vals.str.replace(_INVISIBLE, "", regex=True)
    if hit:
        counts["facility_text_control_characters_removed"] = hit
        warnings.warn(
            f"{source}: {hit} facility text cells held control or text-direction characters (e.g. U+202E, which "
            "shows a name backwards); they were removed",
            DgCoverageWarning,
            stacklevel=4,
        )
    return gdf


def _check_ids(gdf: gpd.GeoDataFrame, counts: dict[str, int], source: str) -> None:
    """Count facility ids used more than once."""
    ids = gdf["facility_id"].astype(str)
    dup = ids.duplicated(keep=False) & (ids != "")
    if dup.any():
        counts["facility_ids_repeated"] = int(dup.sum())
        warnings.warn(
            f"{source}: {int(dup.sum())} facilities share an id with another facility (e.g. "
            f"{ids[dup].iloc[0]!r}); each is kept and counted as its own facility. Fix: give every facility its "
            "own id, or remove the repeated rows",
            DgCoverageWarning,
            stacklevel=4,
        )


def facilities_from_osm(
    path: str | Path,
    tags: dict,
    name_keywords: list[str] | tuple[str, ...] = (),
    bounds: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
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
    gdf = gpd.GeoDataFrame(
        {"facility_id": ids, "name": name, "kind": "osm", "source": f"osmnx:{query}"}, geometry=pts.to_numpy(), crs=4326
    )
    return finish_facilities(gdf, {}, None, query)
