"""Step 2: a circle's facilities, read, kept to the study area, checked, with their capacities."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..core.io import input_record
from ..errors import (
    ConfigError,
    DgCoverageWarning,
)
from ..inputs.capacity import CAPACITY_COUNT_TEXT, capacity_column, capacity_from_table
from ..inputs.config import Circle
from ..inputs.embedded import DEFAULT_DATA_DIR, demo_paths
from ..inputs.facilities import RAW_LINE, RAW_PREFIX, facilities_from_file, facilities_from_frame, facilities_from_osm
from .crossborder import facility_bounds, keep_to_region
from .study import Study

if TYPE_CHECKING:  # pragma: no cover
    pass


def load_facilities(
    study: Study,
    circle: Circle,
    source: str | Path | gpd.GeoDataFrame | None = None,
    crs: str | None = None,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    *,
    sheet: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Facilities for a circle, kept to the study area and checked.

    Parameters
    ----------
    study
        The loaded study (its extent drops far-away facilities, counted).
    circle
        The circle (its OSM tags and name keywords pick facilities from OSM files).
    source
        A GeoDataFrame of points (any CRS; ``crs`` says if EPSG:4326 degrees are
        really GCJ-02/BD-09), a table (CSV/XLSX) or GeoJSON, an ``.osm``/``.osm.pbf``
        file, or ``None`` for the embedded synthetic set.
    crs, sheet, lon_col, lat_col
        As in :func:`~dgcoverage.inputs.facilities.facilities_from_file` (``crs=None``:
        not declared).

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id, name, kind, address, source, geometry`` (EPSG:4326);
        ``attrs["warnings"]`` counts repairs, ``attrs["input_record"]`` says
        what was read and how (``summary.json`` → ``inputs.facilities``) and
        ``attrs["synthetic"]`` whether the set is synthetic.  For a circle with
        a supply standard (``circle.capacity``) also ``capacity`` (m² or beds,
        float; ``NaN`` = unknown, never imputed), read by
        :func:`dgcoverage.inputs.capacity.capacity_from_table` from the column
        ``circle.capacity_column``, else a recognised Chinese/English header
        (面积, 建筑面积, 场地面积, 床位..., or ``capacity``); its counts join
        ``attrs["warnings"]`` (``facilities_capacity_*``) and ``attrs["capacity"]``
        says the kind, the column and how many are known.
    """
    if not isinstance(circle, Circle):
        raise ConfigError(
            f"load_facilities: circle must be a Circle, got {type(circle).__name__} {circle!r}. Fix: "
            'circles, settings = dg.load_config(); dg.load_facilities(study, circles["fitness_15"], ...)'
        )
    bounds = facility_bounds(study, circle)  # across the border within the circle's reach, unless bound
    synthetic = False
    keep = bool(circle.capacity)
    if source is None:
        p = demo_paths(data_dir).facilities(circle.id)
        gdf = facilities_from_file(p, "gcj02", bounds=bounds, expected_bounds=bounds, keep_columns=keep)
        record, synthetic = input_record(p, "facilities (SYNTHETIC)", **gdf.attrs.get("input", {})), True
        where = str(p)
    elif isinstance(source, gpd.GeoDataFrame):
        gdf = facilities_from_frame(source, crs, bounds=bounds, keep_columns=keep)
        record = {"kind": "facilities (GeoDataFrame)", **gdf.attrs.get("input", {})}
        where = "facilities GeoDataFrame"
    elif Path(source).name.lower().endswith((".osm", ".pbf", ".osm.bz2")):
        gdf = facilities_from_osm(source, circle.osm_tags, circle.name_keywords, bounds=bounds)
        record = input_record(
            Path(source), "facilities from OSM tags", tags=circle.osm_tags, crs="wgs84", crs_source="OSM (WGS84)"
        )
        where = str(source)
    else:
        gdf = facilities_from_file(
            source,
            crs,
            bounds=bounds,
            expected_bounds=bounds,
            sheet=sheet,
            lon_col=lon_col,
            lat_col=lat_col,
            keep_columns=keep,
            default_crs=study.settings.default_point_crs or None,
        )
        record = input_record(Path(source), "facilities", **gdf.attrs.get("input", {}))
        where = str(source)
    if keep:
        gdf = _attach_capacity(gdf, circle, where)
        cap = gdf.attrs["capacity"]
        record["capacity"] = {k: cap[k] for k in ("kind", "column", "known", "unknown")}
        if synthetic:
            record["capacity"]["synthetic"] = True
    gdf = keep_to_region(study, circle, gdf)
    _village_list_given_as_facilities(gdf, study, source)
    gdf.attrs["input_record"] = record
    gdf.attrs["synthetic"] = synthetic
    return gdf


def capacity_warnings(counts: dict[str, int]) -> dict[str, int]:
    """Name the counted outcomes of :func:`~dgcoverage.inputs.capacity.capacity_from_table` as facility warnings."""
    keys = (
        "capacity_unknown",
        "capacity_column_missing",
        "capacity_implausible",
        "capacity_median_implausible",
        *CAPACITY_COUNT_TEXT,
    )
    return {f"facilities_{k}": int(counts[k]) for k in keys if counts.get(k, 0) > 0}


def read_capacity(table: pd.DataFrame, circle: Circle, where: str) -> tuple[np.ndarray, dict[str, int], str | None]:
    """Capacities of ``table``'s rows for the circle's kind: values (NaN = unknown), counts and the column used."""
    col = capacity_column(table, circle.capacity, circle.capacity_column or None, path=where)
    if col is None and "capacity" in table.columns:
        col = "capacity"  # our own facilities.csv, or a frame with a capacity column in the circle's unit
    values, counts = capacity_from_table(
        table, circle.capacity, where, column=col, check_plausible=True, unit=circle.capacity_unit or None
    )
    return values, counts, col


def _attach_capacity(gdf: gpd.GeoDataFrame, circle: Circle, where: str) -> gpd.GeoDataFrame:
    """Replace the ``raw:*`` columns of a loader by the facilities' ``capacity`` (NaN = unknown), counted."""
    raw = [c for c in gdf.columns if str(c).startswith(RAW_PREFIX)]
    table = pd.DataFrame({c[len(RAW_PREFIX) :]: gdf[c].to_numpy() for c in raw}, index=pd.RangeIndex(len(gdf)))
    if RAW_LINE in gdf.columns:
        table.attrs["line"] = gdf[RAW_LINE].to_numpy()
    values, counts, col = read_capacity(table, circle, where)
    out = gdf.drop(columns=[*raw, *([RAW_LINE] if RAW_LINE in gdf.columns else [])])
    out.insert(out.columns.get_loc("geometry"), "capacity", values)
    out.attrs["warnings"] = {**dict(gdf.attrs.get("warnings", {})), **capacity_warnings(counts)}
    out.attrs["capacity"] = {
        "kind": circle.capacity,
        "column": col,
        "known": int(counts["capacity_known"]),
        "unknown": int(counts["capacity_unknown"]),
    }
    return out


def _village_list_given_as_facilities(gdf: gpd.GeoDataFrame, study: Study, source: Any) -> None:
    """Warn (and count) when most facility ids are the study's 村/社区 codes: the village list passed by mistake."""
    ids = gdf["facility_id"].astype(str)
    if len(ids) and ids.isin(set(study.villages["code"].astype(str))).mean() > 0.5:
        gdf.attrs.setdefault("warnings", {})["facilities_look_like_village_list"] = 1
        warnings.warn(
            f"{source}: most facility ids are official 村/社区 codes: is this the village list rather than a "
            "facility list? Fix: pass the facilities with --facilities and the villages with --villages",
            DgCoverageWarning,
            stacklevel=3,
        )
