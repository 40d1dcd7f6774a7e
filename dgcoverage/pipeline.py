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
from .coverage import bilingual, town_table, village_table
from .errors import DataMismatchError, EmptyInputError, InputNotFoundError
from .facilities import facilities_from_file, facilities_from_osm
from .io import file_sha256, write_csv, write_json
from .network import RoadNetwork, network_from_file
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
               villages: str | Path | None = None, villages_crs: str = "gcj02",
               data_dir: str | Path = DEFAULT_DATA_DIR, network_type: str = "walk",
               settings: Settings | None = None, towns: gpd.GeoDataFrame | None = None) -> Study:
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
        ``wgs84``, ``gcj02`` or ``bd09`` for village points given as lon/lat.
    data_dir
        Folder of the embedded default.
    network_type
        OSM network type for OSM files.
    settings
        Run settings (snap distance, search cap).
    towns
        Town polygons (WGS84, ``town_code``, ``town_name``, ``has_polygon``);
        default: the embedded default's towns, else the real Dongguan layer.

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
    graph = access_graph_from_network(net, 1.0, crs=analysis_crs(net.lon, net.lat))
    # population
    pop_path = demo.population if population is None else Path(population)
    if population is None:
        synthetic_parts.append("population")
    b = towns[towns["has_polygon"]].to_crs(graph.crs).total_bounds
    grid = population_from_raster(pop_path, graph.crs, bounds=(b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000))
    counts.update(grid.warnings)
    inputs["population"] = _input_record(pop_path, "population raster" + (" (SYNTHETIC)" if population is None else ""),
                                         total=round(grid.total, 1))
    # villages: official list restricted to the towns in the study
    official = dongguan_villages()
    official = official[official["town_code"].isin(set(towns["town_code"]))].reset_index(drop=True)
    if len(official) == 0:
        raise DataMismatchError("no village of the official list belongs to the study's towns. Fix: pass Dongguan "
                                "town boundaries with NBS town codes (town_code column).")
    if villages is None:
        vpath, vcrs = demo.villages, "gcj02"
        synthetic_parts.append("village locations")
    else:
        vpath, vcrs = Path(villages), villages_crs
    vgdf, vcounts = _villages_with_areas(vpath, vcrs, official, towns)
    counts.update(vcounts)
    inputs["villages"] = _input_record(vpath, "villages" + (" (SYNTHETIC points)" if villages is None else ""), crs=vcrs)
    # cells
    _, _, cx, cy, cpop = grid.cells()
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


def _villages_with_areas(path: Path, crs: str, official: pd.DataFrame,
                         towns: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Official village list + area polygon + centre point (WGS84) from a points or polygons file."""
    if not path.exists():
        raise InputNotFoundError(path, "village file")
    counts: dict[str, int] = {}
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        g = gpd.read_file(path)
        if g.empty:
            raise EmptyInputError(f"{path}: holds no villages. Fix: pass village points or polygons.")
        polygonal = g.geom_type.isin(["Polygon", "MultiPolygon"])
        if polygonal.all():
            from .tables import resolve_columns
            from .villages import VILLAGE_ALIASES

            cols = resolve_columns(pd.DataFrame(g.drop(columns="geometry")), {k: VILLAGE_ALIASES[k] for k in ("code", "name", "town_name")}, path=path)
            if crs != "wgs84":
                from .coords import transform_geometry

                g = g.set_geometry(gpd.GeoSeries(transform_geometry(g.geometry.to_numpy(), crs, "wgs84"), crs=4326))
            elif g.crs is not None:
                g = g.to_crs(4326)
            pts = gpd.GeoDataFrame({k: g[v].astype(str) for k, v in cols.items()}, geometry=g.geometry, crs=4326)
            merged, counts = attach_villages_to_list(pts, official, path)
            merged["centre"] = gpd.GeoSeries([None if p is None else p.representative_point() for p in merged.geometry], crs=4326)
            merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
            return _tidy(merged), counts
    pts = village_points_from_file(path, crs, expected_bounds=tuple(towns[towns["has_polygon"]].total_bounds))
    point_warnings = dict(pts.attrs.get("warnings", {}))
    merged, counts = attach_villages_to_list(pts, official, path)
    counts = {**point_warnings, **counts}
    located = merged[merged.geometry.notna()].copy()
    areas = village_areas_from_points(located, towns)
    merged["centre"] = merged.geometry
    area_geom = pd.Series([None] * len(merged), dtype=object)
    area_geom[located.index] = areas.geometry.to_numpy()
    merged = merged.set_geometry(gpd.GeoSeries(area_geom.to_numpy(), crs=4326))
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts


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


def load_facilities(study: Study, circle: Circle, path: str | Path | None = None, crs: str = "gcj02",
                    data_dir: str | Path = DEFAULT_DATA_DIR) -> tuple[gpd.GeoDataFrame, dict[str, Any], bool]:
    """Facilities for a circle: a user file (CSV/XLSX/GeoJSON or OSM file) or the embedded synthetic set.

    Returns
    -------
    facilities, input_record, synthetic
    """
    if path is None:
        p = ensure_demo(Path(data_dir)).facilities(circle.id)
        gdf = facilities_from_file(p, "gcj02", bounds=study.bounds_wgs84, expected_bounds=study.bounds_wgs84)
        return gdf, _input_record(p, "facilities (SYNTHETIC)", crs="gcj02"), True
    p = Path(path)
    if p.name.lower().endswith((".osm", ".pbf", ".osm.bz2")):
        gdf = facilities_from_osm(p, circle.osm_tags, circle.name_keywords, bounds=study.bounds_wgs84)
        return gdf, _input_record(p, "facilities from OSM tags", tags=circle.osm_tags), False
    gdf = facilities_from_file(p, crs, bounds=study.bounds_wgs84, expected_bounds=study.bounds_wgs84)
    return gdf, _input_record(p, "facilities", crs=crs), False


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
    write_csv(bilingual(result.villages), d / "villages.csv")
    write_csv(bilingual(result.towns), d / "towns.csv")
    # timings differ between runs: they go to timing.json so summary.json is byte-identical for identical inputs
    write_json({k: v for k, v in result.summary.items() if k != "timing_s"}, d / "summary.json")
    write_json({"circle": result.circle.id, "timing_s": result.summary.get("timing_s", {})}, d / "timing.json")
    write_csv(facility_table(result.facilities), d / "facilities.csv")
    return d
