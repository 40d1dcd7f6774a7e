"""Run a service circle end to end: load inputs once, measure access, tabulate, write.

``load_study`` reads the network, population, towns and villages (embedded
default or user files) and snaps the demand cells and village centres;
``run_circle`` measures one circle against a facility set; ``write_circle``
writes its tables.  The CLI and the scripts only call these.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import __version__
from .access import (
    REACHED,
    AccessGraph,
    access_graph_from_network,
    classify_points,
    point_times,
    snap_points,
    times_to_nearest_facility,
)
from .config import Circle, Settings
from .coverage import bilingual, bilingual_name, table_for_output, town_table, village_table
from .errors import DataMismatchError, EmptyInputError, InputNotFoundError
from .facilities import facilities_from_file, facilities_from_osm
from .io import file_sha256, write_csv, write_json
from .network import RoadNetwork, check_network_covers, network_from_file
from .population import PopulationGrid, population_from_raster
from .quality import component_summary, facility_report, facility_table, gcj02_suspicion, package_versions
from .synthetic import SYNTHETIC_NOTE, SYNTHETIC_NOTE_ZH, DemoPaths
from .villages import (
    analysis_crs,
    attach_villages_to_list,
    dongguan_towns,
    dongguan_villages,
    village_areas_from_points,
    village_points_from_file,
)

DEFAULT_DATA_DIR = Path("data/raw")
DEFAULT_OUT_DIR = Path("data/processed")
#: A population total further than this from the census total of the study's towns is warned and recorded.
CENSUS_TOLERANCE = 0.30


@dataclass
class Study:
    """Everything a circle run needs, loaded and snapped once.

    Cell arrays (``cell_*``) describe populated 100 m cells; village arrays
    follow the rows of ``villages``.
    """

    net: RoadNetwork
    graph: AccessGraph
    grid: PopulationGrid
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    cell_x: np.ndarray
    cell_y: np.ndarray
    cell_pop: np.ndarray
    cell_village: np.ndarray
    cell_node: np.ndarray
    cell_snap_m: np.ndarray
    centre_node: np.ndarray
    centre_snap_m: np.ndarray
    synthetic: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)

    @property
    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """Study-area bounds (WGS84) padded by ~2 km, for dropping far-away facilities."""
        b = self.towns[self.towns["has_polygon"]].total_bounds
        return (b[0] - 0.02, b[1] - 0.02, b[2] + 0.02, b[3] + 0.02)


def _input_record(path: Path | None, kind: str, **extra: Any) -> dict[str, Any]:
    if path is None:
        return {"kind": kind, **extra}
    return {"kind": kind, "path": str(path), "sha256": file_sha256(path), **extra}


def ensure_demo(data_dir: Path) -> DemoPaths:
    """Return the embedded-default paths, building the dataset first if it is missing."""
    paths = DemoPaths(Path(data_dir))
    if not (paths.manifest.exists() and paths.network.exists() and paths.population.exists()):
        from .synthetic import build_demo

        print(f"[dgcoverage] building the embedded default dataset in {paths.root} (synthetic; a few seconds)")
        build_demo(paths.root)
    return paths


def load_study(network: str | Path | None = None, population: str | Path | None = None,
               villages: str | Path | None = None, villages_crs: str | None = None,
               data_dir: str | Path = DEFAULT_DATA_DIR, network_type: str = "walk",
               settings: Settings | None = None, towns: gpd.GeoDataFrame | None = None, *,
               population_band: int | None = None, villages_sheet: str | None = None,
               villages_lon_col: str | None = None, villages_lat_col: str | None = None) -> Study:
    """Load network, population, towns and villages and snap demand to the network.

    Any argument left ``None`` comes from the embedded default in ``data_dir``
    (built on first use).  If any synthetic input is used, the study is
    marked synthetic.

    Parameters
    ----------
    network
        ``.osm``/``.osm.pbf`` file or ``.npz`` saved network.
    population
        Population GeoTIFF (any CRS; resampled to 100 m in UTM).
    villages
        Village points (CSV/XLSX lon/lat or GeoJSON points; Voronoi areas are
        built inside each town) or polygons (GeoJSON/GPKG 村界).
    villages_crs
        ``wgs84``, ``gcj02`` or ``bd09`` for village points given as lon/lat;
        ``None``: the file's own declaration, the system its column names
        state, else GCJ-02 for tables and WGS84 for GeoJSON.
    data_dir
        Folder of the embedded default.
    network_type
        OSM network type for OSM files.
    settings
        Run settings (snap distance, search cap).
    towns
        Town polygons (WGS84, ``town_code``, ``town_name``, ``has_polygon``);
        default: the embedded default's towns, else the real Dongguan layer.
    population_band
        Band of a multi-band population raster.
    villages_sheet, villages_lon_col, villages_lat_col
        Sheet and coordinate columns of an ambiguous village table.

    Returns
    -------
    Study
    """
    settings = settings or Settings()
    data_dir = Path(data_dir)
    synthetic_parts: list[str] = []
    inputs: dict[str, Any] = {}
    counts: dict[str, int] = {}
    demo = None
    if network is None or population is None or villages is None:
        demo = ensure_demo(data_dir)
        manifest = json.loads(demo.manifest.read_text(encoding="utf-8"))
    # towns
    if towns is None:
        if demo is not None and demo.towns.exists():
            towns = gpd.read_file(demo.towns)
            towns["town_code"] = towns["town_code"].astype(str)
            inputs["towns"] = _input_record(demo.towns, "towns (real GeoAtlas boundaries, GCJ-02 -> WGS84)")
        else:
            towns = dongguan_towns()
            inputs["towns"] = _input_record(None, "towns (embedded real GeoAtlas boundaries, GCJ-02 -> WGS84)")
    towns = towns.sort_values("town_code").reset_index(drop=True)
    # network
    if network is None:
        net = network_from_file(demo.network)
        synthetic_parts.append("network")
        inputs["network"] = _input_record(demo.network, "network (SYNTHETIC)")
    else:
        net = network_from_file(network, network_type=network_type)
        inputs["network"] = _input_record(Path(network), "network", network_type=network_type)
    check_network_covers(net, tuple(towns[towns["has_polygon"]].total_bounds))
    if net.meta.get("edges_shorter_than_chord"):
        counts["network_edges_shorter_than_straight_line"] = int(net.meta["edges_shorter_than_chord"])
    graph = access_graph_from_network(net, 1.0, crs=analysis_crs(net.lon, net.lat))
    # population
    pop_path = demo.population if population is None else Path(population)
    if population is None:
        synthetic_parts.append("population")
    b = towns[towns["has_polygon"]].to_crs(graph.crs).total_bounds
    grid = population_from_raster(pop_path, graph.crs, bounds=(b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000),
                                  band=population_band)
    counts.update(grid.warnings)
    inputs["population"] = _input_record(pop_path, "population raster" + (" (SYNTHETIC)" if population is None else ""),
                                         total=round(grid.total, 1), band=grid.meta.get("band"))
    # villages: official list restricted to the towns in the study
    official = dongguan_villages()
    official = official[official["town_code"].isin(set(towns["town_code"]))].reset_index(drop=True)
    if len(official) == 0:
        raise DataMismatchError("no village of the official list belongs to the study's towns. Fix: pass Dongguan "
                                "town boundaries with NBS town codes (town_code column).")
    if villages is None:
        vpath, vcrs, vopts = demo.villages, "gcj02", {}
        synthetic_parts.append("village locations")
    else:
        vpath, vcrs = Path(villages), villages_crs
        vopts = {"sheet": villages_sheet, "lon_col": villages_lon_col, "lat_col": villages_lat_col}
    vgdf, vcounts, vrecord = _villages_with_areas(vpath, vcrs, official, towns, **vopts)
    counts.update(vcounts)
    inputs["villages"] = _input_record(vpath, "villages" + (" (SYNTHETIC points)" if villages is None else ""),
                                       **vrecord)
    _mark_outside_raster(vgdf, grid, graph.crs, counts)
    # cells
    _, _, cx, cy, cpop = grid.cells()
    in_towns = _people_in_towns(towns, cx, cy, cpop, graph.crs)
    inputs["population"].update(people_in_towns=round(in_towns, 1),
                                **_population_checks(grid, towns, graph.crs, pop_path, counts, in_towns))
    cell_village, n_multi = _assign_points(vgdf, cx, cy, graph.crs)
    if n_multi:
        counts["cells_in_overlapping_villages"] = n_multi
    outside = cell_village < 0
    if outside.any():
        counts["population_outside_villages"] = int(round(cpop[outside].sum()))
    cell_node, cell_snap = snap_points(graph, cx, cy, settings.max_snap_m)
    counts["cells_off_network"] = int((cell_node < 0).sum())
    cen = vgdf["centre"].to_crs(graph.crs)
    has = ~cen.is_empty & cen.notna()
    centre_node = np.full(len(vgdf), -1, dtype=np.int64)
    centre_snap = np.full(len(vgdf), np.inf)
    if has.any():
        centre_node[has.to_numpy()], centre_snap[has.to_numpy()] = snap_points(
            graph, cen[has].x.to_numpy(), cen[has].y.to_numpy(), settings.max_snap_m)
    synthetic = bool(synthetic_parts) or bool(net.meta.get("synthetic"))
    if demo is not None:
        inputs["embedded_default"] = {"manifest": str(demo.manifest), "seed": manifest.get("seed"),
                                      "scale": manifest.get("scale"), "synthetic_parts": synthetic_parts}
    return Study(net, graph, grid, towns, vgdf, cx, cy, cpop, cell_village, cell_node, cell_snap,
                 centre_node, centre_snap, synthetic, inputs, counts, settings)


def _villages_with_areas(path: Path, crs: str | None, official: pd.DataFrame, towns: gpd.GeoDataFrame, *,
                         sheet: str | None = None, lon_col: str | None = None,
                         lat_col: str | None = None) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    """Official village list + area polygon + centre point (WGS84) from a points or polygons file.

    Returns the villages, the counted warnings and the input record (CRS used and where it came from).
    """
    if not path.exists():
        raise InputNotFoundError(path, "village file")
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        from .villages import _read_vector

        g = _read_vector(path)
        polygonal = g.geom_type.isin(["Polygon", "MultiPolygon"])
        if polygonal.all():
            from .tables import resolve_columns, vector_crs
            from .villages import VILLAGE_ALIASES

            cols = resolve_columns(pd.DataFrame(g.drop(columns="geometry")),
                                   {k: VILLAGE_ALIASES[k] for k in ("code", "name", "town_name")}, path=path)
            g, used, source, ignored = vector_crs(path, g, crs, "--villages-crs")
            if used != "wgs84":
                from .coords import transform_geometry

                g = g.set_geometry(gpd.GeoSeries(transform_geometry(g.geometry.to_numpy(), used, "wgs84"), crs=4326))
            pts = gpd.GeoDataFrame({k: g[v].astype(str) for k, v in cols.items()}, geometry=g.geometry.to_numpy(),
                                   crs=4326)
            pts["line"] = np.arange(len(pts))
            pts.attrs["row_label"] = "feature"
            merged, counts = attach_villages_to_list(pts, official, path, towns=towns)
            if ignored:
                counts["villages_crs_option_ignored"] = 1
            merged["centre"] = gpd.GeoSeries([None if p is None else p.representative_point() for p in merged.geometry], crs=4326)
            merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
            return _tidy(merged), counts, {"crs": used, "crs_source": source, "coordinates": "polygons"}
    pts = village_points_from_file(path, crs, expected_bounds=tuple(towns[towns["has_polygon"]].total_bounds),
                                   sheet=sheet, lon_col=lon_col, lat_col=lat_col)
    point_warnings = dict(pts.attrs.get("warnings", {}))
    merged, counts = attach_villages_to_list(pts, official, path, towns=towns)
    counts = {**point_warnings, **counts}
    located = merged[merged.geometry.notna()].copy()
    areas = village_areas_from_points(located, towns)
    merged["centre"] = merged.geometry
    area_geom = pd.Series([None] * len(merged), dtype=object)
    area_geom[located.index] = areas.geometry.to_numpy()
    merged = merged.set_geometry(gpd.GeoSeries(area_geom.to_numpy(), crs=4326))
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts, dict(pts.attrs.get("input", {}))


def _people_in_towns(towns: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, pop: np.ndarray, crs: Any) -> float:
    """People of the cells whose centre lies in a town polygon."""
    polys = towns[towns["has_polygon"]].to_crs(crs).geometry.to_numpy()
    if len(polys) == 0 or len(x) == 0:
        return 0.0
    pi, _ = shapely.STRtree(polys).query(shapely.points(x, y), predicate="intersects")
    return float(pop[np.unique(pi)].sum())


def _population_checks(grid: PopulationGrid, towns: gpd.GeoDataFrame, crs: Any, path: Path,
                       counts: dict[str, int], people_in_towns: float) -> dict[str, Any]:
    """What the raster misses of the study area and how its total compares with the census (recorded, warned)."""
    from .population import share_outside

    out: dict[str, Any] = {}
    poly = towns[towns["has_polygon"]]
    if len(poly) and getattr(grid, "footprint", None) is not None:
        geoms = poly.to_crs(crs).geometry.to_numpy()
        miss = np.asarray(share_outside(grid.footprint, geoms), dtype=float)
        area = shapely.area(geoms)
        area_share = float((miss * area).sum() / area.sum()) if area.sum() > 0 else 0.0
        out["study_area_share_outside_raster"] = round(area_share, 6)
        if "census_2020" in poly:
            census = pd.to_numeric(poly["census_2020"], errors="coerce").fillna(0).to_numpy(dtype=float)
            out["census_people_in_area_outside_raster"] = int(round(float((miss * census).sum())))
        if area_share > 0.001:
            counts["population_raster_misses_area"] = 1
            worst = poly.assign(_m=miss).sort_values("_m", ascending=False).head(5)
            ex = ", ".join(f"{n} {m:.0%}" for n, m in zip(worst["town_name"], worst["_m"]) if m > 0)
            warnings.warn(f"{path}: the population raster does not cover {area_share:.1%} of the study area"
                          + (f" (≈{out['census_people_in_area_outside_raster']:,} census people if spread evenly "
                             "within each town)" if "census_people_in_area_outside_raster" in out else "")
                          + f"; towns missing most: {ex}. Villages outside it get status no_data. Fix: use a raster "
                          "that covers the whole study area", stacklevel=3)
    if "census_2020" in poly:
        census_total = float(pd.to_numeric(towns["census_2020"], errors="coerce").fillna(0).sum())
        if census_total > 0:
            ratio = people_in_towns / census_total
            out["census_2020_total_of_towns"] = int(round(census_total))
            out["ratio_to_census"] = round(ratio, 4)
            if abs(ratio - 1) > CENSUS_TOLERANCE:
                counts["population_total_far_from_census"] = 1
                warnings.warn(f"{path}: the raster holds {people_in_towns:,.0f} people in the study's towns, {ratio:.0%} of "
                              f"the 2020 census total of its towns ({census_total:,.0f}); beyond ±"
                              f"{CENSUS_TOLERANCE:.0%}. Check the raster's units (people per pixel, not per km²), "
                              "its year and that it covers the whole area", stacklevel=3)
    return out


def _mark_outside_raster(vgdf: gpd.GeoDataFrame, grid: PopulationGrid, crs: Any, counts: dict[str, int]) -> None:
    """Villages (almost) wholly outside the raster lose their area, with the reason; partial ones are said."""
    from .population import share_outside

    if getattr(grid, "footprint", None) is None:
        return
    has = vgdf["has_area"].to_numpy()
    if not has.any():
        return
    geoms = vgdf.geometry.to_crs(crs).to_numpy()
    miss = np.zeros(len(vgdf))
    miss[has] = np.asarray(share_outside(grid.footprint, geoms[has]), dtype=float)
    vgdf["share_outside_raster"] = np.round(miss, 4)
    out = has & (miss >= 0.99)
    part = has & (miss > 0.01) & ~out
    if out.any():
        counts["villages_outside_population_raster"] = int(out.sum())
        vgdf.loc[out, "location_note"] = "outside the population raster"
        vgdf.loc[out, "has_area"] = False
        warnings.warn(f"{int(out.sum())} villages lie outside the population raster (e.g. "
                      f"{vgdf.loc[out, 'name'].head(5).tolist()}): status no_data", stacklevel=3)
    if part.any():
        counts["villages_partly_outside_population_raster"] = int(part.sum())
        warnings.warn(f"{int(part.sum())} villages lie partly outside the population raster (e.g. "
                      f"{vgdf.loc[part, 'name'].head(5).tolist()}); their figures count only the people inside it "
                      "(share_outside_raster in villages.csv)", stacklevel=3)


def _tidy(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g = g.rename(columns={"name": "full_name", "short_name": "name"})
    g["centre"] = gpd.GeoSeries(g["centre"], crs=4326)
    return g.sort_values("code").reset_index(drop=True)


def _assign_points(vgdf: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, int]:
    """Village index of each projected point (``-1`` if in none); points in several villages take the first."""
    polys = vgdf.geometry.to_crs(crs).to_numpy()
    valid = np.array([p is not None and not p.is_empty for p in polys])
    idx = np.nonzero(valid)[0]
    tree = shapely.STRtree(polys[valid])
    pi, gi = tree.query(shapely.points(x, y), predicate="intersects")
    out = np.full(len(x), -1, dtype=np.int64)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = idx[gi[first]]
    return out, int((~first).sum())


@dataclass
class CircleResult:
    """Outcome of one circle run."""

    circle: Circle
    villages: pd.DataFrame
    towns: pd.DataFrame
    summary: dict[str, Any]
    cell_time_s: np.ndarray
    cell_class: np.ndarray
    facilities: gpd.GeoDataFrame
    facility_node: np.ndarray
    node_time_s: np.ndarray | None = None  # seconds from each network node to its nearest facility (inf = beyond cap)


def load_facilities(study: Study, circle: Circle, path: str | Path | None = None, crs: str | None = None,
                    data_dir: str | Path = DEFAULT_DATA_DIR, *, sheet: str | None = None, lon_col: str | None = None,
                    lat_col: str | None = None) -> tuple[gpd.GeoDataFrame, dict[str, Any], bool]:
    """Facilities for a circle: a user file (CSV/XLSX/GeoJSON or OSM file) or the embedded synthetic set.

    ``crs``, ``sheet``, ``lon_col`` and ``lat_col`` are passed to
    :func:`~dgcoverage.facilities.facilities_from_file` (``crs=None``: not
    declared; see there).  The input record says which system and columns were used.

    Returns
    -------
    facilities, input_record, synthetic
    """
    if path is None:
        p = ensure_demo(Path(data_dir)).facilities(circle.id)
        gdf = facilities_from_file(p, "gcj02", bounds=study.bounds_wgs84, expected_bounds=study.bounds_wgs84)
        return gdf, _input_record(p, "facilities (SYNTHETIC)", **gdf.attrs.get("input", {})), True
    p = Path(path)
    if p.name.lower().endswith((".osm", ".pbf", ".osm.bz2")):
        gdf = facilities_from_osm(p, circle.osm_tags, circle.name_keywords, bounds=study.bounds_wgs84)
        return gdf, _input_record(p, "facilities from OSM tags", tags=circle.osm_tags, crs="wgs84",
                                  crs_source="OSM (WGS84)"), False
    gdf = facilities_from_file(p, crs, bounds=study.bounds_wgs84, expected_bounds=study.bounds_wgs84, sheet=sheet,
                               lon_col=lon_col, lat_col=lat_col)
    return gdf, _input_record(p, "facilities", **gdf.attrs.get("input", {})), False


def run_circle(study: Study, circle: Circle, facilities: gpd.GeoDataFrame, *,
               facilities_input: dict[str, Any] | None = None, facilities_synthetic: bool = False) -> CircleResult:
    """Measure one circle: time from every populated cell to the nearest facility, then tabulate.

    Parameters
    ----------
    study
        Loaded study area.
    circle
        The circle (limit, speeds).
    facilities
        Facility points (EPSG:4326).
    facilities_input
        Provenance record for the summary.
    facilities_synthetic
        Whether the facilities are synthetic.

    Returns
    -------
    CircleResult
    """
    t0 = time.perf_counter()
    if len(facilities) == 0:
        raise EmptyInputError(f"no {circle.id} facilities to measure access to. Fix: pass a facility file with at "
                              "least one facility inside the study area (check its coordinate system).")
    settings = study.settings
    g = study.graph
    fx, fy = _proj_points(facilities.geometry, g.crs)
    fnode, fdist = snap_points(g, fx, fy, settings.max_snap_m)
    n_off = int((fnode < 0).sum())
    if n_off == len(fnode):
        raise EmptyInputError(f"all {len(fnode)} {circle.id} facilities are more than {settings.max_snap_m:.0f} m from "
                              "the road network. Fix: check the facilities' coordinate system (wgs84/gcj02/bd09) "
                              "and that the network covers them.")
    if n_off:
        warnings.warn(f"{circle.id}: {n_off} facilities off the network (> {settings.max_snap_m:.0f} m) ignored", stacklevel=2)
    v_mps, a_mps = circle.speed_mps, circle.access_speed_mps
    cap_s = max(circle.limit_s, settings.report_cap_minutes * 60.0)
    # network weights in the graph are metres (speed 1 m/s): scale the cap and legs into metres-at-speed
    node_t = times_to_nearest_facility(g, fnode, (fdist / a_mps) * v_mps, cap_s * v_mps) / v_mps
    t_search = time.perf_counter() - t0
    cell_t = point_times(node_t, study.cell_node, study.cell_snap_m / a_mps)
    cell_t[cell_t > cap_s] = np.inf
    cell_cls = classify_points(g, study.cell_node, cell_t, circle.limit_s, fnode)
    centre_t = point_times(node_t, study.centre_node, study.centre_snap_m / a_mps)
    centre_t[centre_t > cap_s] = np.inf
    fac_village, _ = _assign_points(study.villages, fx, fy, g.crs)
    inside = np.bincount(fac_village[fac_village >= 0], minlength=len(study.villages))
    vt = village_table(study.villages, study.cell_village, study.cell_pop, cell_t, cell_cls, centre_t, inside,
                       circle.covered_min_share, study.villages["has_area"].to_numpy())
    tt = town_table(vt, study.towns)
    pop_total = float(study.cell_pop.sum())
    covered = float(study.cell_pop[cell_cls == REACHED].sum())
    curve_min = np.arange(0, int(settings.report_cap_minutes) + 1)
    curve = [round(float(study.cell_pop[cell_t <= m * 60.0].sum()) / pop_total, 6) for m in curve_min]
    synthetic = study.synthetic or facilities_synthetic
    city = tt[tt["town_code"] == "441900"].iloc[0]
    fac_warn = dict(facilities.attrs.get("warnings", {}))
    if n_off:
        fac_warn["facilities_off_network"] = n_off
    gcj = None
    if facilities.attrs.get("declared_crs") == "wgs84":  # declared WGS84: check it is not GCJ-02 (quality.py)
        gcj = gcj02_suspicion(g, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), settings.max_snap_m)
        if gcj is not None and gcj["suspect"]:
            fac_warn["facilities_maybe_gcj02"] = gcj["facilities_compared"]
            warnings.warn(f"{circle.id}: facilities declared WGS84 look like GCJ-02 (Gaode/Tencent): their median "
                          f"distance to the road network falls from {gcj['median_snap_m']} m to "
                          f"{gcj['median_snap_if_gcj02_m']} m after a GCJ-02 -> WGS84 correction. Fix: if they come "
                          "from Gaode/Tencent, pass --facilities-crs gcj02", stacklevel=2)
    summary = {
        "dgcoverage_version": __version__,
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed here.",
        "note_zh": SYNTHETIC_NOTE_ZH if synthetic else "根据所列输入数据计算。",
        "circle": {"id": circle.id, "name_zh": circle.name_zh, "name_en": circle.name_en, "minutes": circle.minutes,
                   "mode": circle.mode, "speed_kmh": circle.speed_kmh, "access_speed_kmh": circle.access_speed_kmh,
                   "covered_min_share": circle.covered_min_share, "policy_source": circle.policy_source,
                   "policy_quote": circle.policy_quote, "speed_basis": circle.speed_basis},
        "settings": {"max_snap_m": settings.max_snap_m, "report_cap_minutes": settings.report_cap_minutes,
                     "cell_size_m": float(abs(study.grid.transform.a)), "analysis_crs": study.graph.crs.to_string()},
        "inputs": {**study.inputs, "facilities": facilities_input or {}},
        "sizes": {"nodes": study.net.n_nodes, "directed_edges": study.net.n_edges, "cells": int(len(study.cell_pop)),
                  "villages": int(len(study.villages)), "villages_with_area": int(study.villages["has_area"].sum()),
                  "towns": int(len(study.towns)), "facilities": int(len(facilities)),
                  "facilities_on_network": int((fnode >= 0).sum()), "components": int(g.component.max() + 1)},
        "warnings": {**study.warnings, **fac_warn},
        "results": {
            "population": round(pop_total, 1), "covered_population": round(covered, 1),
            "covered_share": round(covered / pop_total, 6) if pop_total else None,
            "village_pass_rate": None if pd.isna(city["pass_rate_villages"]) else round(float(city["pass_rate_villages"]), 6),
            "villages_by_status": vt["status"].value_counts().reindex(["covered", "partial", "gap", "unreachable", "no_data"], fill_value=0).astype(int).to_dict(),
            "population_by_reach": {lab: round(float(study.cell_pop[cell_cls == k].sum()), 1)
                                    for k, lab in ((0, "within_limit"), (1, "beyond_limit"), (2, "unreachable"), (3, "off_network"))},
        },
        "coverage_curve": {"minutes": curve_min.tolist(), "population_share": curve},
        "timing_s": {"search": round(t_search, 3), "total": round(time.perf_counter() - t0, 3)},
    }
    if circle.every_village:
        with_data = vt["status"] != "no_data"
        lacking = vt[with_data & ~vt["has_facility_inside"]]
        summary["policy_every_village"] = {
            "rule": "养老服务设施100%覆盖村(社区): at least one facility inside every village/community",
            "villages_with_data": int(with_data.sum()),
            "villages_with_facility_inside": int((with_data & vt["has_facility_inside"]).sum()),
            "share": round(float((with_data & vt["has_facility_inside"]).sum() / max(int(with_data.sum()), 1)), 6),
            "met": bool(len(lacking) == 0),
            "villages_lacking": int(len(lacking)),
        }
    summary["versions"] = package_versions()
    summary["components"] = component_summary(g, fnode, study.cell_node, study.cell_pop)
    if gcj is not None:
        summary["checks"] = {"gcj02_suspicion": gcj}
    vcode = np.where(fac_village >= 0, study.villages["code"].astype(str).to_numpy()[np.maximum(fac_village, 0)], "")
    report = facility_report(g, study.net.node_id, fnode, fdist, vcode)
    facilities = facilities.copy()
    for col in report.columns:
        facilities[col] = report[col].to_numpy()
    vt.insert(len(vt.columns), "synthetic", synthetic)
    tt["synthetic"] = synthetic
    return CircleResult(circle, vt, tt, summary, cell_t, cell_cls, facilities, fnode, node_t)


def _proj_points(geoms: gpd.GeoSeries, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    p = gpd.GeoSeries(geoms, crs=4326).to_crs(crs)
    return p.x.to_numpy(), p.y.to_numpy()


def write_circle(result: CircleResult, out_dir: str | Path = DEFAULT_OUT_DIR) -> Path:
    """Write ``<out_dir>/<circle>/villages.csv, towns.csv, facilities.csv, summary.json, timing.json``.

    Every file is written atomically; CSVs are UTF-8 with BOM.  Identical
    inputs and settings give byte-identical CSVs and ``summary.json``; the
    run-dependent ``timing_s`` goes to ``timing.json`` only.

    Returns
    -------
    pathlib.Path
        The circle's output folder.
    """
    d = Path(out_dir) / result.circle.id
    d.mkdir(parents=True, exist_ok=True)
    for name, table in (("villages.csv", result.villages), ("towns.csv", result.towns)):
        out, decimals = table_for_output(table)
        write_csv(bilingual(out), d / name, decimals={bilingual_name(c): n for c, n in decimals.items()})
    # timings differ between runs: they go to timing.json so summary.json is byte-identical for identical inputs
    write_json({k: v for k, v in result.summary.items() if k != "timing_s"}, d / "summary.json")
    write_json({"circle": result.circle.id, "timing_s": result.summary.get("timing_s", {})}, d / "timing.json")
    write_csv(facility_table(result.facilities), d / "facilities.csv")
    return d
