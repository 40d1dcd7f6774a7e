"""The study's villages: the official list matched to a user's points or polygons, with areas and centres.

Points get Voronoi areas inside their town; polygons (村界) keep their own outline and an inside point as
centre. Both come back as one GeoDataFrame in the official list's order, with the counted repairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import (
    ColumnError,
    CRSError,
    EmptyInputError,
    InputFileError,
    InputNotFoundError,
)
from .coords import to_wgs84
from .villages import (
    attach_villages_to_list,
    village_areas_from_points,
    village_points_from_file,
)

if TYPE_CHECKING:  # pragma: no cover
    pass


def villages_with_areas(
    path: Path,
    crs: str | None,
    official: pd.DataFrame,
    towns: gpd.GeoDataFrame,
    *,
    sheet: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    """Official village list + area polygon + centre point (WGS84) from a points or polygons file.

    Returns the villages, the counted warnings and the input record (CRS used and where it came from).
    """
    if not path.exists():
        raise InputNotFoundError(path, "village file")
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        from .tables import vector_crs
        from .villages import read_vector

        g = read_vector(path)
        if g.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            g, used, source, ignored = vector_crs(path, g, crs, "--villages-crs")
            merged, counts, record = _village_polygons(g, used, official, towns, path)
            if ignored:
                counts["villages_crs_option_ignored"] = 1
            return merged, counts, {**record, "crs": used, "crs_source": source}
    pts = village_points_from_file(
        path,
        crs,
        expected_bounds=tuple(towns[towns["has_polygon"]].total_bounds),
        sheet=sheet,
        lon_col=lon_col,
        lat_col=lat_col,
    )
    return _village_points(pts, official, towns, path)


def villages_from_frame(
    g: gpd.GeoDataFrame,
    crs: str | None,
    official: pd.DataFrame,
    towns: gpd.GeoDataFrame,
    source: str,
    nbs_codes: bool = True,
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    """Do what :func:`villages_with_areas` does for villages already in a GeoDataFrame.

    ``nbs_codes=False``: the list is a region's own (any text is a code; see :mod:`.region`).
    """
    from .coords import canonical_crs

    if g.empty:
        raise EmptyInputError(f"{source}: holds no villages. Fix: pass village points or polygons.")
    if g.crs is None:
        raise CRSError(f"{source}: the GeoDataFrame has no CRS. Fix: set one (gdf.set_crs(4326)).")
    g = g.to_crs(4326)
    used = "wgs84" if crs is None else canonical_crs(crs)
    record = {"crs": used, "crs_source": "declared" if crs is not None else "GeoDataFrame CRS"}
    if g.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        merged, counts, rec = _village_polygons(g, used, official, towns, source, nbs_codes)
        return merged, counts, {**rec, **record}
    if not (g.geom_type == "Point").all():
        raise InputFileError(
            None,
            f"{source}: villages must be all points or all polygons.",
            "pass points (one per 村/社区) or polygons (村界), not both.",
        )
    from .tables import resolve_columns
    from .villages import VILLAGE_ALIASES

    cols = resolve_columns(pd.DataFrame(g.drop(columns="geometry")), VILLAGE_ALIASES, path=source)
    if "code" not in cols and "name" not in cols:
        raise ColumnError(source, "no village code or name column.", "add a 'code' (12-digit NBS) or 'name' column.")
    lon, lat = to_wgs84(g.geometry.x.to_numpy(), g.geometry.y.to_numpy(), used)
    pts = gpd.GeoDataFrame(
        {k: g[v].astype(str).str.strip() for k, v in cols.items()}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )
    pts["line"] = np.arange(len(pts))
    pts.attrs["row_label"] = "row"
    merged, counts, rec = _village_points(pts, official, towns, source, nbs_codes)
    return merged, counts, {**rec, **record}


def _village_polygons(
    g: gpd.GeoDataFrame, crs: str, official: pd.DataFrame, towns: gpd.GeoDataFrame, source: Any, nbs_codes: bool = True
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    from .tables import resolve_columns
    from .villages import VILLAGE_ALIASES

    cols = resolve_columns(
        pd.DataFrame(g.drop(columns="geometry")),
        {k: VILLAGE_ALIASES[k] for k in ("code", "name", "town_name")},
        path=source,
    )
    if crs != "wgs84":
        from .coords import transform_geometry

        g = g.set_geometry(gpd.GeoSeries(transform_geometry(g.geometry.to_numpy(), crs, "wgs84"), crs=4326))
    pts = gpd.GeoDataFrame({k: g[v].astype(str) for k, v in cols.items()}, geometry=g.geometry.to_numpy(), crs=4326)
    pts["line"] = np.arange(len(pts))
    pts.attrs["row_label"] = "feature"
    merged, counts = attach_villages_to_list(pts, official, source, towns=towns, nbs_codes=nbs_codes)
    merged["centre"] = gpd.GeoSeries(
        [None if p is None else p.representative_point() for p in merged.geometry], crs=4326
    )
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts, {"coordinates": "polygons"}


def _village_points(
    pts: gpd.GeoDataFrame, official: pd.DataFrame, towns: gpd.GeoDataFrame, source: Any, nbs_codes: bool = True
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    point_warnings = dict(pts.attrs.get("warnings", {}))
    merged, counts = attach_villages_to_list(pts, official, source, towns=towns, nbs_codes=nbs_codes)
    counts = {**point_warnings, **counts}
    located = merged[merged.geometry.notna()].copy()
    areas = village_areas_from_points(located, towns)
    merged["centre"] = merged.geometry
    area_geom = pd.Series([None] * len(merged), dtype=object)
    area_geom[located.index] = areas.geometry.to_numpy()
    merged = merged.set_geometry(gpd.GeoSeries(area_geom.to_numpy(), crs=4326))
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts, dict(pts.attrs.get("input", {}))


def _tidy(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g = g.rename(columns={"name": "full_name", "short_name": "name"})
    g["centre"] = gpd.GeoSeries(g["centre"], crs=4326)
    return g.sort_values("code").reset_index(drop=True)
