"""Run a service circle end to end: load inputs once, measure access, tabulate, write.

``load_study`` reads the network, population, towns and villages (embedded
default, user files or objects in memory) and snaps the demand cells and
village centres; ``load_facilities`` reads a circle's facilities;
``run_circle`` measures one circle against a facility set; ``write_circle``
writes its tables.  The command line and the scripts only call these.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._version import __version__
from .access import (
    REACHED,
    AccessGraph,
    access_graph_from_network,
    classify_points,
    point_times,
    project_lonlat,
    snap_points,
    times_at_speed,
)
from .config import Circle, Settings, validate_settings
from .coords import to_wgs84
from .coverage import bilingual, bilingual_name, table_for_output, town_table, village_table
from .embedded import SYNTHETIC_NOTE, SYNTHETIC_NOTE_ZH, DemoPaths, demo_paths
from .errors import (
    ColumnError,
    ConfigError,
    CRSError,
    DataMismatchError,
    DgCoverageWarning,
    EmptyInputError,
    InputFileError,
    InputNotFoundError,
    NetworkError,
)
from .facilities import RAW_LINE, RAW_PREFIX, facilities_from_file, facilities_from_frame, facilities_from_osm
from .io import file_sha256, write_csv, write_json
from .network import network_from_file, network_from_graph
from .population import PopulationGrid, population_from_raster
from .quality import (
    component_summary,
    datum_suspicion,
    facility_report,
    facility_table,
    gcj02_suspicion,
    package_versions,
)
from .roadnet import RoadNetwork, check_network_covers
from .study import CircleResult, CircleSummary, Study
from .supply import (
    CAPACITY_COUNT_TEXT,
    ELDERLY_SHARE_DEFAULT,
    ELDERLY_SHARE_SOURCE,
    capacity_column,
    capacity_from_table,
    supply_ratios,
    town_accessibility,
    two_step_fca,
    village_accessibility,
)
from .villages import (
    analysis_crs,
    attach_villages_to_list,
    dongguan_towns,
    dongguan_villages,
    village_areas_from_points,
    village_points_from_file,
)

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

DEFAULT_DATA_DIR = Path("data/raw")
DEFAULT_OUT_DIR = Path("data/processed")
#: A population total further than this from the census total of the study's towns is warned and recorded.
CENSUS_TOLERANCE = 0.30
#: What supply ratios are measured against (``summary.json`` → ``supply.population_base``).
POPULATION_BASE = (
    "study population: the people of the population raster inside each town's villages (towns.csv population), "
    "the same people the time circle measures; not the 2020 census per town"
)
#: How the number of people aged 60+ was obtained (``elderly_basis`` in the tables).
ELDERLY_BASES = {
    "default_share": "the documented default share (dgcoverage.supply.ELDERLY_SHARE_DEFAULT)",
    "settings_share": "one share for every town from the settings (elderly_share)",
    "settings_town_shares": "a share per town from the settings ([settings.elderly_share])",
    "settings_town_counts": "people aged 60+ per town from the settings ([settings.elderly_population])",
    "raster_town_counts": "people aged 60+ per town summed from the elderly raster",
}


def _input_record(path: Path | None, kind: str, **extra: Any) -> dict[str, Any]:
    if path is None:
        return {"kind": kind, **extra}
    return {"kind": kind, "path": str(path), "sha256": file_sha256(path), **extra}


def load_study(
    network: str | Path | RoadNetwork | nx.MultiDiGraph | None = None,
    population: str | Path | PopulationGrid | None = None,
    villages: str | Path | gpd.GeoDataFrame | None = None,
    villages_crs: str | None = None,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    network_type: str = "walk",
    settings: Settings | None = None,
    towns: gpd.GeoDataFrame | None = None,
    *,
    population_band: int | None = None,
    villages_sheet: str | None = None,
    villages_lon_col: str | None = None,
    villages_lat_col: str | None = None,
    elderly: str | Path | None = None,
    elderly_band: int | None = None,
) -> Study:
    """Load network, population, towns and villages and snap demand to the network.

    Every input may be a file or an object already in memory.  Any input left
    ``None`` comes from the embedded default in ``data_dir`` (built by
    ``dgcoverage build-demo``); if any synthetic input is used, the study is
    marked synthetic.

    Parameters
    ----------
    network
        A :class:`~dgcoverage.roadnet.RoadNetwork`, an OSMnx ``MultiDiGraph``
        (WGS84, edge ``length`` in metres), or a ``.osm``/``.osm.pbf``/``.npz`` file.
    population
        A :class:`~dgcoverage.population.PopulationGrid` in the analysis CRS
        (UTM 49N for Dongguan), or a population GeoTIFF (any CRS; resampled to
        100 m in the analysis CRS).
    villages
        Village points or polygons as a GeoDataFrame (with ``code``, or
        ``name`` and ``town_name``; any CRS), or a file: CSV/XLSX lon/lat or
        GeoJSON points (Voronoi areas are built inside each town) or polygons
        (村界).
    villages_crs
        ``wgs84``, ``gcj02`` or ``bd09`` for village coordinates; ``None``:
        the file's own declaration, the system its column names state, else
        GCJ-02 for tables and WGS84 for GeoJSON.  For a GeoDataFrame in
        EPSG:4326 holding GCJ-02 or BD-09 degrees, say so here.
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
    elderly, elderly_band
        A raster of people aged 60+ (any CRS, read like ``population``) and its band: summed per town, it is
        the elderly basis of per-1,000-elderly supply targets (column ``elderly_raster`` of ``Study.towns``),
        ahead of the settings' ``elderly_population``/``elderly_share``.

    Returns
    -------
    Study
    """
    settings = settings or Settings()
    validate_settings(settings)
    synthetic_parts: list[str] = []
    inputs: dict[str, Any] = {}
    counts: dict[str, int] = {}
    demo = demo_paths(data_dir) if network is None or population is None or villages is None else None
    towns = _study_towns(towns, demo, inputs)
    net = _study_network(network, demo, network_type, inputs, synthetic_parts)
    source = inputs["network"].get("path") or inputs["network"].get("kind", "network")
    try:
        check_network_covers(net, tuple(towns[towns["has_polygon"]].total_bounds))
    except NetworkError as exc:
        raise NetworkError(f"{source}: {exc}") from exc
    if net.meta.get("edges_shorter_than_chord"):
        counts["network_edges_shorter_than_straight_line"] = int(net.meta["edges_shorter_than_chord"])
    if "edges_with_reverse_share" in net.meta:
        counts["network_streets_one_direction_only"] = 1
        warnings.warn(
            f"{source}: only {net.meta['edges_with_reverse_share']:.1%} of the edges have a reverse twin, so almost "
            "every street is one-way: a network stored one row per street? People may wrongly be 'unreachable'. "
            "Fix: store both directions of two-way streets (dgcoverage.save_network does)",
            DgCoverageWarning,
            stacklevel=2,
        )
    graph = access_graph_from_network(net, 1.0, crs=analysis_crs(net.lon, net.lat))
    grid, pop_source = _study_population(population, demo, towns, graph.crs, population_band, inputs, synthetic_parts)
    counts.update(grid.warnings)
    official = dongguan_villages()
    official = official[official["town_code"].isin(set(towns["town_code"]))].reset_index(drop=True)
    if len(official) == 0:
        raise DataMismatchError(
            "no village of the official list belongs to the study's towns. Fix: pass Dongguan "
            "town boundaries with NBS town codes (town_code column)."
        )
    if villages is None:
        synthetic_parts.append("village locations")
        vgdf, vcounts, vrecord = _villages_with_areas(demo.villages, "gcj02", official, towns)
        inputs["villages"] = _input_record(demo.villages, "villages (SYNTHETIC points)", **vrecord)
    elif isinstance(villages, gpd.GeoDataFrame):
        vgdf, vcounts, vrecord = _villages_from_frame(villages, villages_crs, official, towns, "villages GeoDataFrame")
        inputs["villages"] = {"kind": "villages (GeoDataFrame)", **vrecord}
    else:
        vgdf, vcounts, vrecord = _villages_with_areas(
            Path(villages),
            villages_crs,
            official,
            towns,
            sheet=villages_sheet,
            lon_col=villages_lon_col,
            lat_col=villages_lat_col,
        )
        inputs["villages"] = _input_record(Path(villages), "villages", **vrecord)
    counts.update(vcounts)
    _mark_outside_raster(vgdf, grid, graph.crs, counts)
    # cells
    _, _, cx, cy, cpop = grid.cells()
    cell_tree = shapely.STRtree(shapely.points(cx, cy))  # built once: cells to towns, then to villages
    in_towns = _people_in_towns(towns, cx, cy, cpop, graph.crs, cell_tree)
    if elderly is not None:
        towns = _elderly_from_raster(Path(elderly), elderly_band, towns, grid, graph.crs, inputs, counts, cell_tree)
    inputs["population"].update(
        people_in_towns=round(in_towns, 1), **_population_checks(grid, towns, graph.crs, pop_source, counts, in_towns)
    )
    cell_village, n_multi = _assign_points(vgdf, cx, cy, graph.crs, cell_tree)
    del cell_tree
    if n_multi:
        counts["cells_in_overlapping_villages"] = n_multi
    outside = cell_village < 0
    if outside.any():
        counts["population_outside_villages"] = int(round(cpop[outside].sum()))
    cell_node, cell_snap = snap_points(graph, cx, cy, settings.max_snap_m)
    counts["cells_off_network"] = int((cell_node < 0).sum())
    centre_node, centre_snap = _snap_centres(vgdf, graph, settings.max_snap_m)
    synthetic = bool(synthetic_parts) or bool(net.meta.get("synthetic"))
    if demo is not None:
        manifest = json.loads(demo.manifest.read_text(encoding="utf-8"))
        inputs["embedded_default"] = {
            "manifest": str(demo.manifest),
            "seed": manifest.get("seed"),
            "scale": manifest.get("scale"),
            "synthetic_parts": synthetic_parts,
        }
    return Study(
        net,
        graph,
        grid,
        towns,
        vgdf,
        cx,
        cy,
        cpop,
        cell_village,
        cell_node,
        cell_snap,
        centre_node,
        centre_snap,
        synthetic,
        inputs,
        counts,
        settings,
    )


def _study_towns(towns: gpd.GeoDataFrame | None, demo: DemoPaths | None, inputs: dict[str, Any]) -> gpd.GeoDataFrame:
    if towns is None:
        if demo is not None and demo.towns.exists():
            towns = gpd.read_file(demo.towns)
            towns["town_code"] = towns["town_code"].astype(str)
            inputs["towns"] = _input_record(demo.towns, "towns (real GeoAtlas boundaries, GCJ-02 -> WGS84)")
        else:
            towns = dongguan_towns()
            inputs["towns"] = _input_record(None, "towns (embedded real GeoAtlas boundaries, GCJ-02 -> WGS84)")
    else:
        inputs["towns"] = {"kind": "towns (GeoDataFrame)"}
    return towns.sort_values("town_code").reset_index(drop=True)


def _study_network(
    network: Any, demo: DemoPaths | None, network_type: str, inputs: dict[str, Any], synthetic_parts: list[str]
) -> RoadNetwork:
    if network is None:
        synthetic_parts.append("network")
        inputs["network"] = _input_record(demo.network, "network (SYNTHETIC)")
        return network_from_file(demo.network)
    if isinstance(network, RoadNetwork):
        inputs["network"] = {
            "kind": "network (RoadNetwork)",
            "fingerprint": network.fingerprint(),
            "source": network.meta.get("source"),
        }
        return network
    if hasattr(network, "nodes") and hasattr(network, "edges") and hasattr(network, "graph"):  # an OSMnx graph
        net = network_from_graph(network, meta={"source": "networkx graph", "synthetic": False})
        inputs["network"] = {"kind": "network (networkx MultiDiGraph)", "fingerprint": net.fingerprint()}
        return net
    if not isinstance(network, (str, Path)):
        raise TypeError(f"network must be a RoadNetwork, an OSMnx MultiDiGraph or a file path, not {type(network)}")
    inputs["network"] = _input_record(Path(network), "network", network_type=network_type)
    return network_from_file(network, network_type=network_type)


def _study_population(
    population: Any,
    demo: DemoPaths | None,
    towns: gpd.GeoDataFrame,
    crs: Any,
    band: int | None,
    inputs: dict[str, Any],
    synthetic_parts: list[str],
) -> tuple[PopulationGrid, str | Path]:
    if isinstance(population, PopulationGrid):
        if CRS.from_user_input(population.crs) != CRS.from_user_input(crs):
            raise CRSError(
                f"the PopulationGrid is in {CRS.from_user_input(population.crs).to_string()} but the "
                f"study's analysis CRS is {CRS.from_user_input(crs).to_string()}. Fix: pass the raster "
                "file instead (it is resampled onto the analysis grid), or build the grid in that CRS."
            )
        inputs["population"] = {
            "kind": "population (PopulationGrid)",
            "total": round(population.total, 1),
            "source": population.source,
        }
        return population, population.source or "PopulationGrid"
    if population is None:
        synthetic_parts.append("population")
        path = demo.population
    elif isinstance(population, (str, Path)):
        path = Path(population)
    else:
        raise TypeError(f"population must be a PopulationGrid or a raster path, not {type(population)}")
    b = towns[towns["has_polygon"]].to_crs(crs).total_bounds
    grid = population_from_raster(path, crs, bounds=(b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000), band=band)
    inputs["population"] = _input_record(
        path,
        "population raster" + (" (SYNTHETIC)" if population is None else ""),
        total=round(grid.total, 1),
        band=grid.meta.get("band"),
    )
    return grid, path


def _snap_centres(vgdf: gpd.GeoDataFrame, graph: AccessGraph, max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest node and snap distance of every village centre (``-1``/``inf`` where there is none)."""
    cen = vgdf["centre"].to_crs(graph.crs)
    has = (~cen.is_empty & cen.notna()).to_numpy()
    node = np.full(len(vgdf), -1, dtype=np.int64)
    dist = np.full(len(vgdf), np.inf)
    if has.any():
        node[has], dist[has] = snap_points(graph, cen[has].x.to_numpy(), cen[has].y.to_numpy(), max_snap_m)
    return node, dist


def _villages_with_areas(
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


def _villages_from_frame(
    g: gpd.GeoDataFrame, crs: str | None, official: pd.DataFrame, towns: gpd.GeoDataFrame, source: str
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    """Do what :func:`_villages_with_areas` does for villages already in a GeoDataFrame."""
    from .coords import canonical_crs

    if g.empty:
        raise EmptyInputError(f"{source}: holds no villages. Fix: pass village points or polygons.")
    if g.crs is None:
        raise CRSError(f"{source}: the GeoDataFrame has no CRS. Fix: set one (gdf.set_crs(4326)).")
    g = g.to_crs(4326)
    used = "wgs84" if crs is None else canonical_crs(crs)
    record = {"crs": used, "crs_source": "declared" if crs is not None else "GeoDataFrame CRS"}
    if g.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        merged, counts, rec = _village_polygons(g, used, official, towns, source)
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
    merged, counts, rec = _village_points(pts, official, towns, source)
    return merged, counts, {**rec, **record}


def _village_polygons(
    g: gpd.GeoDataFrame, crs: str, official: pd.DataFrame, towns: gpd.GeoDataFrame, source: Any
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
    merged, counts = attach_villages_to_list(pts, official, source, towns=towns)
    merged["centre"] = gpd.GeoSeries(
        [None if p is None else p.representative_point() for p in merged.geometry], crs=4326
    )
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts, {"coordinates": "polygons"}


def _village_points(
    pts: gpd.GeoDataFrame, official: pd.DataFrame, towns: gpd.GeoDataFrame, source: Any
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, Any]]:
    point_warnings = dict(pts.attrs.get("warnings", {}))
    merged, counts = attach_villages_to_list(pts, official, source, towns=towns)
    counts = {**point_warnings, **counts}
    located = merged[merged.geometry.notna()].copy()
    areas = village_areas_from_points(located, towns)
    merged["centre"] = merged.geometry
    area_geom = pd.Series([None] * len(merged), dtype=object)
    area_geom[located.index] = areas.geometry.to_numpy()
    merged = merged.set_geometry(gpd.GeoSeries(area_geom.to_numpy(), crs=4326))
    merged["has_area"] = merged.geometry.notna() & ~merged.geometry.is_empty
    return _tidy(merged), counts, dict(pts.attrs.get("input", {}))


def _people_in_towns(
    towns: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, pop: np.ndarray, crs: Any, tree: Any = None
) -> float:
    """People of the cells whose centre lies in a town polygon (``tree``: the cells' STRtree, if built)."""
    polys = towns[towns["has_polygon"]].to_crs(crs).geometry.to_numpy()
    if len(polys) == 0 or len(x) == 0:
        return 0.0
    pi, _ = _points_in_polygons(polys, x, y, tree)
    return float(pop[np.unique(pi)].sum())


def _elderly_from_raster(
    path: Path,
    band: int | None,
    towns: gpd.GeoDataFrame,
    grid: PopulationGrid,
    crs: Any,
    inputs: dict[str, Any],
    counts: dict[str, int],
    cell_tree: Any = None,
) -> gpd.GeoDataFrame:
    """Sum an elderly (60+) raster per town into ``towns["elderly_raster"]``; check it against the people.

    A town whose elderly count exceeds its people (from the population raster) is refused: one of the two
    rasters is in other units or of another area.  Shares above 40 % are counted and said.
    """
    from .population import share_outside

    b = towns[towns["has_polygon"]].to_crs(crs).total_bounds
    try:
        eg = population_from_raster(path, crs, bounds=(b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000), band=band)
    except InputNotFoundError as exc:
        raise InputNotFoundError(path, "elderly raster (--elderly-population)") from exc
    except InputFileError as exc:  # the reader speaks of the population raster and --band
        msg = str(exc).replace("--band", "--elderly-band").replace("population raster", "elderly raster")
        raise InputFileError(None, msg) from exc
    for k, n in eg.warnings.items():
        counts[f"elderly_{k}"] = n
    _, _, ex, ey, epop = eg.cells()
    _, _, px, py, ppop = grid.cells()
    poly = towns[towns["has_polygon"]].to_crs(crs)
    polys = poly.geometry.to_numpy()
    e_by = np.zeros(len(polys))
    p_by = np.zeros(len(polys))
    if len(ex):
        pi, gi = _points_in_polygons(polys, ex, ey)
        np.add.at(e_by, gi, epop[pi])
    if len(px):
        pi, gi = _points_in_polygons(polys, px, py, cell_tree)  # the study's cells: their tree is built
        np.add.at(p_by, gi, ppop[pi])
    over = (e_by > p_by * 1.0001 + 0.5) & (e_by > 0)
    if over.any():
        names = ", ".join(
            f"{n} {e:,.0f} > {p:,.0f}" for n, e, p in zip(poly["town_name"][over], e_by[over], p_by[over])
        )
        raise DataMismatchError(
            f"{path}: the elderly raster holds more people aged 60+ than the population raster holds people in "
            f"{int(over.sum())} town(s) ({names[:300]}). Fix: check both rasters' units (people per pixel), year "
            "and area"
        )
    if eg.footprint is not None and len(polys):
        miss = np.asarray(share_outside(eg.footprint, polys), dtype=float)
        area = shapely.area(polys)
        outside = float((miss * area).sum() / area.sum()) if area.sum() > 0 else 0.0
        if outside > 0.001:
            counts["elderly_raster_misses_area"] = 1
            warnings.warn(
                f"{path}: the elderly raster does not cover {outside:.1%} of the study area, so the people aged "
                "60+ of the towns it misses are undercounted (and their beds per 1,000 elderly overstated). Fix: "
                "use an elderly raster covering every town",
                DgCoverageWarning,
                stacklevel=3,
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(p_by > 0, e_by / p_by, np.nan)
    low = np.isfinite(share) & (share < 0.01) & (p_by >= 1000)
    if low.any():
        counts["elderly_share_below_1pct"] = int(low.sum())
        warnings.warn(
            f"{path}: people aged 60+ are under 1 % of the people in {int(low.sum())} town(s) "
            f"({', '.join(poly['town_name'][low].tolist()[:5])}); check the raster's units (people per pixel, "
            "not thousands) and that it covers those towns",
            DgCoverageWarning,
            stacklevel=3,
        )
    high = np.isfinite(share) & (share > 0.4)
    if high.any():
        counts["elderly_share_above_40pct"] = int(high.sum())
        warnings.warn(
            f"{path}: people aged 60+ are over 40 % of the people in {int(high.sum())} town(s) "
            f"({', '.join(poly['town_name'][high].tolist()[:5])}); check that it is an elderly raster",
            DgCoverageWarning,
            stacklevel=3,
        )
    towns = towns.copy()
    towns["elderly_raster"] = np.nan
    towns.loc[poly.index, "elderly_raster"] = e_by
    inputs["elderly"] = _input_record(
        path, "elderly (60+) raster", total=round(float(eg.total), 1), band=eg.meta.get("band")
    )
    return towns


def _points_in_polygons(
    polys: np.ndarray, x: np.ndarray, y: np.ndarray, tree: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point index, polygon index) of points inside or on the boundary of polygons.

    The tree holds the points and each polygon queries it with ``covers``, so every polygon is prepared
    once; the reverse (a tree of polygons queried by every point) tests unprepared polygons and is ~15x
    slower for town outlines with thousands of vertices.  Same pairs as ``point.intersects(polygon)``.
    ``tree`` is ``STRtree(points(x, y))`` when the caller already built it (the study's cells).
    """
    tree = shapely.STRtree(shapely.points(x, y)) if tree is None else tree
    poly_i, point_i = tree.query(polys, predicate="covers")
    return point_i, poly_i


def _population_checks(
    grid: PopulationGrid, towns: gpd.GeoDataFrame, crs: Any, path: Path, counts: dict[str, int], people_in_towns: float
) -> dict[str, Any]:
    """Measure what the raster misses of the study area and how its total compares with the census."""
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
            warnings.warn(
                f"{path}: the population raster does not cover {area_share:.1%} of the study area"
                + (
                    f" (≈{out['census_people_in_area_outside_raster']:,} census people if spread evenly "
                    "within each town)"
                    if "census_people_in_area_outside_raster" in out
                    else ""
                )
                + f"; towns missing most: {ex}. Villages outside it get status no_data. Fix: use a raster "
                "that covers the whole study area",
                DgCoverageWarning,
                stacklevel=3,
            )
    if "census_2020" in poly:
        census_total = float(pd.to_numeric(towns["census_2020"], errors="coerce").fillna(0).sum())
        if census_total > 0:
            ratio = people_in_towns / census_total
            out["census_2020_total_of_towns"] = int(round(census_total))
            out["ratio_to_census"] = round(ratio, 4)
            if abs(ratio - 1) > CENSUS_TOLERANCE:
                counts["population_total_far_from_census"] = 1
                warnings.warn(
                    f"{path}: the raster holds {people_in_towns:,.0f} people in the study's towns, {ratio:.0%} of "
                    f"the 2020 census total of its towns ({census_total:,.0f}); beyond ±"
                    f"{CENSUS_TOLERANCE:.0%}. Check the raster's units (people per pixel, not per km²), "
                    "its year and that it covers the whole area",
                    DgCoverageWarning,
                    stacklevel=3,
                )
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
        warnings.warn(
            f"{int(out.sum())} villages lie outside the population raster (e.g. "
            f"{vgdf.loc[out, 'name'].head(5).tolist()}): status no_data",
            DgCoverageWarning,
            stacklevel=3,
        )
    if part.any():
        counts["villages_partly_outside_population_raster"] = int(part.sum())
        warnings.warn(
            f"{int(part.sum())} villages lie partly outside the population raster (e.g. "
            f"{vgdf.loc[part, 'name'].head(5).tolist()}); their figures count only the people inside it "
            "(share_outside_raster in villages.csv)",
            DgCoverageWarning,
            stacklevel=3,
        )


def _tidy(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g = g.rename(columns={"name": "full_name", "short_name": "name"})
    g["centre"] = gpd.GeoSeries(g["centre"], crs=4326)
    return g.sort_values("code").reset_index(drop=True)


def _assign_points(
    vgdf: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, crs: Any, tree: Any = None
) -> tuple[np.ndarray, int]:
    """Village index of each projected point (``-1`` if in none); points in several villages take the first."""
    polys = vgdf.geometry.to_crs(crs).to_numpy()
    valid = np.array([p is not None and not p.is_empty for p in polys])
    idx = np.nonzero(valid)[0]
    pi, gi = _points_in_polygons(polys[valid], x, y, tree)
    out = np.full(len(x), -1, dtype=np.int64)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = idx[gi[first]]
    return out, int((~first).sum())


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
        As in :func:`~dgcoverage.facilities.facilities_from_file` (``crs=None``:
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
        :func:`dgcoverage.supply.capacity_from_table` from the column
        ``circle.capacity_column``, else a recognised Chinese/English header
        (面积, 建筑面积, 场地面积, 床位..., or ``capacity``); its counts join
        ``attrs["warnings"]`` (``facilities_capacity_*``) and ``attrs["capacity"]``
        says the kind, the column and how many are known.
    """
    bounds = study.bounds_wgs84
    synthetic = False
    keep = bool(circle.capacity)
    if source is None:
        p = demo_paths(data_dir).facilities(circle.id)
        gdf = facilities_from_file(p, "gcj02", bounds=bounds, expected_bounds=bounds, keep_columns=keep)
        record, synthetic = _input_record(p, "facilities (SYNTHETIC)", **gdf.attrs.get("input", {})), True
        where = str(p)
    elif isinstance(source, gpd.GeoDataFrame):
        gdf = facilities_from_frame(source, crs, bounds=bounds, keep_columns=keep)
        record = {"kind": "facilities (GeoDataFrame)", **gdf.attrs.get("input", {})}
        where = "facilities GeoDataFrame"
    elif Path(source).name.lower().endswith((".osm", ".pbf", ".osm.bz2")):
        gdf = facilities_from_osm(source, circle.osm_tags, circle.name_keywords, bounds=bounds)
        record = _input_record(
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
        )
        record = _input_record(Path(source), "facilities", **gdf.attrs.get("input", {}))
        where = str(source)
    if keep:
        gdf = _attach_capacity(gdf, circle, where)
        cap = gdf.attrs["capacity"]
        record["capacity"] = {k: cap[k] for k in ("kind", "column", "known", "unknown")}
        if synthetic:
            record["capacity"]["synthetic"] = True
    _village_list_given_as_facilities(gdf, study, source)
    gdf.attrs["input_record"] = record
    gdf.attrs["synthetic"] = synthetic
    return gdf


def _capacity_warnings(counts: dict[str, int]) -> dict[str, int]:
    """Name the counted outcomes of :func:`~dgcoverage.supply.capacity_from_table` as facility warnings."""
    keys = (
        "capacity_unknown",
        "capacity_column_missing",
        "capacity_implausible",
        "capacity_median_implausible",
        *CAPACITY_COUNT_TEXT,
    )
    return {f"facilities_{k}": int(counts[k]) for k in keys if counts.get(k, 0) > 0}


def _read_capacity(table: pd.DataFrame, circle: Circle, where: str) -> tuple[np.ndarray, dict[str, int], str | None]:
    """Capacities of ``table``'s rows for the circle's kind: values (NaN = unknown), counts and the column used."""
    col = capacity_column(table, circle.capacity, circle.capacity_column or None, path=where)
    if col is None and "capacity" in table.columns:
        col = "capacity"  # our own facilities.csv, or a frame with a capacity column in the circle's unit
    values, counts = capacity_from_table(table, circle.capacity, where, column=col, check_plausible=True)
    return values, counts, col


def _attach_capacity(gdf: gpd.GeoDataFrame, circle: Circle, where: str) -> gpd.GeoDataFrame:
    """Replace the ``raw:*`` columns of a loader by the facilities' ``capacity`` (NaN = unknown), counted."""
    raw = [c for c in gdf.columns if str(c).startswith(RAW_PREFIX)]
    table = pd.DataFrame({c[len(RAW_PREFIX) :]: gdf[c].to_numpy() for c in raw}, index=pd.RangeIndex(len(gdf)))
    if RAW_LINE in gdf.columns:
        table.attrs["line"] = gdf[RAW_LINE].to_numpy()
    values, counts, col = _read_capacity(table, circle, where)
    out = gdf.drop(columns=[*raw, *([RAW_LINE] if RAW_LINE in gdf.columns else [])])
    out.insert(out.columns.get_loc("geometry"), "capacity", values)
    out.attrs["warnings"] = {**dict(gdf.attrs.get("warnings", {})), **_capacity_warnings(counts)}
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


def run_circle(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    *,
    facilities_input: dict[str, Any] | None = None,
    facilities_synthetic: bool | None = None,
    supply: bool = True,
) -> CircleResult:
    """Measure one circle: time from every populated cell to the nearest facility, then tabulate.

    For a circle with a supply standard (``circle.capacity`` and ``circle.supply_target``) the run also
    measures supply (:func:`_supply`): the policy ratio per town and city-wide against the target, with
    the deficit (``towns.csv``), and the access-weighted supply of every cell by 2SFCA with the circle's
    limit as catchment, as people-weighted means per village and town; ``summary.supply`` records the
    standard, its source, the city figures and which elderly figure was used.

    Parameters
    ----------
    study
        Loaded study area.
    circle
        The circle (limit, speeds).
    facilities
        Facility points (EPSG:4326).
    facilities_input
        Provenance record for the summary (default: ``facilities.attrs["input_record"]``,
        set by :func:`load_facilities`).
    facilities_synthetic
        Whether the facilities are synthetic (default: ``facilities.attrs["synthetic"]``).
    supply
        Measure the circle's supply standard, if it has one (``False``: coverage only).

    Returns
    -------
    CircleResult
    """
    t0 = time.perf_counter()
    if facilities_input is None:
        facilities_input = facilities.attrs.get("input_record")
    if facilities_synthetic is None:
        facilities_synthetic = bool(facilities.attrs.get("synthetic", False))
    _check_run(study, circle, facilities)
    settings = study.settings
    g = study.graph
    fx, fy = project_lonlat(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), g.crs)
    fnode, fdist, n_off = _snap_facilities(g, fx, fy, settings.max_snap_m, circle.id)
    v_mps, a_mps = circle.speed_mps, circle.access_speed_mps
    cap_s = max(circle.limit_s, settings.report_cap_minutes * 60.0)
    node_t = times_at_speed(g, fnode, fdist / a_mps, cap_s, v_mps)
    t_search = time.perf_counter() - t0
    cell_t = point_times(node_t, study.cell_node, study.cell_snap_m / a_mps)
    cell_t[cell_t > cap_s] = np.inf
    cell_cls = classify_points(g, study.cell_node, cell_t, circle.limit_s, fnode)
    centre_t = point_times(node_t, study.centre_node, study.centre_snap_m / a_mps)
    centre_t[centre_t > cap_s] = np.inf
    fac_village, _ = _assign_points(study.villages, fx, fy, g.crs)
    inside = np.bincount(fac_village[fac_village >= 0], minlength=len(study.villages))
    vt = village_table(
        study.villages,
        study.cell_village,
        study.cell_pop,
        cell_t,
        cell_cls,
        centre_t,
        inside,
        circle.covered_min_share,
        study.villages["has_area"].to_numpy(),
    )
    tt = town_table(vt, study.towns)
    sup = None
    if supply and circle.has_supply:
        sup = _supply(study, circle, facilities, fnode, fdist, fac_village, tt, bool(facilities_synthetic))
        vt = pd.concat([vt, sup["villages"]], axis=1)
        tt = tt.merge(sup["towns"], on="town_code", how="left", validate="one_to_one")
    pop_total = float(study.cell_pop.sum())
    curve_min = np.arange(0, int(settings.report_cap_minutes) + 1)
    curve = [round(float(study.cell_pop[cell_t <= m * 60.0].sum()) / pop_total, 6) for m in curve_min]
    synthetic = study.synthetic or facilities_synthetic
    city = tt[tt["town_code"] == "441900"].iloc[0]
    fac_warn = dict(facilities.attrs.get("warnings", {}))
    if n_off:
        fac_warn["facilities_off_network"] = n_off
    if sup is not None:
        fac_warn.update(sup["warnings"])
    gcj = _datum_check(g, facilities, circle.id, settings.max_snap_m, fac_warn)
    summary = _summary_base(study, circle, facilities_input, synthetic, len(facilities), fnode)
    summary["warnings"] = {**study.warnings, **fac_warn}
    summary["results"] = _results(study, vt, city, cell_cls)
    summary["coverage_curve"] = {"minutes": curve_min.tolist(), "population_share": curve}
    summary["timing_s"] = {"search": round(t_search, 3), "total": round(time.perf_counter() - t0, 3)}
    if circle.every_village:
        summary["policy_every_village"] = _every_village(vt)
    summary["versions"] = package_versions()
    summary["components"] = component_summary(g, fnode, study.cell_node, study.cell_pop)
    if gcj is not None:
        summary["checks"] = {"gcj02_suspicion" if "median_snap_if_gcj02_m" in gcj else "datum_suspicion": gcj}
    if sup is not None:
        summary["supply"] = sup["summary"]
    facilities = _facilities_used(
        study, facilities, fnode, fdist, fac_village, None if sup is None else sup["facilities"]
    )
    vt.insert(len(vt.columns), "synthetic", synthetic)
    vt = gpd.GeoDataFrame(vt, geometry=study.villages.geometry.to_numpy(), crs=4326)
    tt["synthetic"] = synthetic
    return CircleResult(
        circle,
        vt,
        tt,
        CircleSummary(**summary),
        cell_t,
        cell_cls,
        facilities,
        fnode,
        node_t,
        None if sup is None else sup["cell_access"],
    )


def _check_run(study: Study, circle: Circle, facilities: gpd.GeoDataFrame) -> None:
    """Refuse a run whose settings or inputs cannot give figures (before any search)."""
    if study.settings.report_cap_minutes < circle.minutes:
        raise ConfigError(
            f"[settings] report_cap_minutes ({study.settings.report_cap_minutes:g}) is below the {circle.id} limit "
            f"({circle.minutes:g} min): times up to the limit could not be reported. Fix: raise report_cap_minutes "
            "to at least the longest circle's minutes"
        )
    if float(study.cell_pop.sum()) <= 0:
        raise EmptyInputError(
            "the population raster puts nobody in the study area. Fix: check that the raster covers the towns "
            "and holds people per pixel"
        )
    if len(facilities) == 0:
        raise EmptyInputError(
            f"no {circle.id} facilities to measure access to. Fix: pass a facility file with at "
            "least one facility inside the study area (check its coordinate system)."
        )


def _snap_facilities(
    g: AccessGraph, fx: np.ndarray, fy: np.ndarray, max_snap_m: float, circle_id: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Snap facilities to the network; refuse when none is on it, warn about those that are not."""
    fnode, fdist = snap_points(g, fx, fy, max_snap_m)
    n_off = int((fnode < 0).sum())
    if n_off == len(fnode):
        raise EmptyInputError(
            f"all {len(fnode)} {circle_id} facilities are more than {max_snap_m:g} m (max_snap_m) from "
            "the road network. Fix: check the facilities' coordinate system (wgs84/gcj02/bd09), that the network "
            "covers them, and that [settings] max_snap_m is not too small."
        )
    if n_off:
        warnings.warn(
            f"{circle_id}: {n_off} facilities off the network (> {max_snap_m:.0f} m) ignored",
            DgCoverageWarning,
            stacklevel=2,
        )
    return fnode, fdist, n_off


def _datum_check(
    g: AccessGraph, facilities: gpd.GeoDataFrame, circle_id: str, max_snap_m: float, fac_warn: dict[str, int]
) -> dict[str, Any] | None:
    """Compare the facilities with the roads in the other coordinate systems; count and warn if one fits better."""
    gcj = None
    if facilities.attrs.get("declared_crs") == "wgs84":  # declared WGS84: check it is not GCJ-02 (quality.py)
        gcj = gcj02_suspicion(g, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), max_snap_m)
        if gcj is not None and gcj["suspect"]:
            fac_warn["facilities_maybe_gcj02"] = gcj["facilities_compared"]
            warnings.warn(
                f"{circle_id}: facilities declared WGS84 look like GCJ-02 (Gaode/Tencent): their median "
                f"distance to the road network falls from {gcj['median_snap_m']} m to "
                f"{gcj['median_snap_if_gcj02_m']} m after a GCJ-02 -> WGS84 correction. Fix: if they come "
                "from Gaode/Tencent, pass --facilities-crs gcj02",
                DgCoverageWarning,
                stacklevel=2,
            )
    elif facilities.attrs.get("declared_crs") in ("gcj02", "bd09"):  # read as Chinese datum: check the others
        read_as = facilities.attrs["declared_crs"]
        gcj = datum_suspicion(
            g, facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy(), read_as, max_snap_m
        )
        if gcj is not None and gcj["suspect"]:
            alt = gcj["best_alternative"]
            fac_warn[f"facilities_maybe_{alt}"] = gcj["facilities_compared"]
            how = (facilities.attrs.get("input") or {}).get("crs_source", "declared")
            warnings.warn(
                f"{circle_id}: facilities read as {read_as} ({how}) fit the road network far better read as {alt}: "
                f"their median distance to it would fall from {gcj['median_snap_m']} m to "
                f"{gcj['median_snap_if_alternative_m']} m. Fix: if the file is in {alt}, pass --facilities-crs {alt}",
                DgCoverageWarning,
                stacklevel=2,
            )
    return gcj


def _summary_base(
    study: Study,
    circle: Circle,
    facilities_input: dict[str, Any] | None,
    synthetic: bool,
    n_fac: int,
    fnode: np.ndarray,
) -> dict[str, Any]:
    """Provenance, circle, settings, inputs and sizes of a circle's summary."""
    settings = study.settings
    return {
        "dgcoverage_version": __version__,
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed here.",
        "note_zh": SYNTHETIC_NOTE_ZH if synthetic else "根据所列输入数据计算。",
        "circle": {
            k: getattr(circle, k)
            for k in (
                "id",
                "name_zh",
                "name_en",
                "minutes",
                "mode",
                "speed_kmh",
                "access_speed_kmh",
                "covered_min_share",
                "policy_source",
                "policy_quote",
                "speed_basis",
            )
        },
        "settings": {
            "max_snap_m": settings.max_snap_m,
            "report_cap_minutes": settings.report_cap_minutes,
            "cell_size_m": float(abs(study.grid.transform.a)),
            "analysis_crs": study.graph.crs.to_string(),
        },
        "inputs": {**study.inputs, "facilities": facilities_input or {}},
        "sizes": {
            "nodes": study.net.n_nodes,
            "directed_edges": study.net.n_edges,
            "cells": int(len(study.cell_pop)),
            "villages": int(len(study.villages)),
            "villages_with_area": int(study.villages["has_area"].sum()),
            "towns": int(len(study.towns)),
            "facilities": int(n_fac),
            "facilities_on_network": int((fnode >= 0).sum()),
            "components": int(study.graph.component.max() + 1),
        },
    }


def _results(study: Study, vt: pd.DataFrame, city: pd.Series, cell_cls: np.ndarray) -> dict[str, Any]:
    """City-wide figures of a circle (``summary.json`` → ``results``)."""
    pop_total = float(study.cell_pop.sum())
    covered = float(study.cell_pop[cell_cls == REACHED].sum())
    rate = city["pass_rate_villages"]
    return {
        "population": round(pop_total, 1),
        "covered_population": round(covered, 1),
        "covered_share": round(covered / pop_total, 6) if pop_total else None,
        "village_pass_rate": None if pd.isna(rate) else round(float(rate), 6),
        "villages_by_status": vt["status"]
        .value_counts()
        .reindex(["covered", "partial", "gap", "unreachable", "no_data"], fill_value=0)
        .astype(int)
        .to_dict(),
        "population_by_reach": {
            lab: round(float(study.cell_pop[cell_cls == k].sum()), 1)
            for k, lab in ((0, "within_limit"), (1, "beyond_limit"), (2, "unreachable"), (3, "off_network"))
        },
    }


def _every_village(vt: pd.DataFrame) -> dict[str, Any]:
    """Check 养老服务设施100%覆盖村(社区) literally: a facility inside every village with data."""
    with_data = vt["status"] != "no_data"
    served = with_data & vt["has_facility_inside"]
    return {
        "rule": "养老服务设施100%覆盖村(社区): at least one facility inside every village/community",
        "villages_with_data": int(with_data.sum()),
        "villages_with_facility_inside": int(served.sum()),
        "share": round(float(served.sum() / max(int(with_data.sum()), 1)), 6),
        "met": bool(int((with_data & ~vt["has_facility_inside"]).sum()) == 0),
        "villages_lacking": int((with_data & ~vt["has_facility_inside"]).sum()),
    }


def _facilities_used(
    study: Study,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    fac_village: np.ndarray,
    extra: dict[str, np.ndarray] | None,
) -> gpd.GeoDataFrame:
    """Return a copy of the facilities with their snap, node, component and village (and supply columns)."""
    vcode = np.where(fac_village >= 0, study.villages["code"].astype(str).to_numpy()[np.maximum(fac_village, 0)], "")
    report = facility_report(study.graph, study.net.node_id, fnode, fdist, vcode)
    out = facilities.copy()
    for col in report.columns:
        out[col] = report[col].to_numpy()
    for col, values in (extra or {}).items():
        out[col] = values
    return out


def _facility_capacity(facilities: gpd.GeoDataFrame, circle: Circle) -> tuple[np.ndarray, dict[str, int], str | None]:
    """Capacity per facility for the circle (NaN = unknown), new counted warnings and the column read.

    Facilities from :func:`load_facilities` carry it already (counted there); any other GeoDataFrame is
    read here, from ``circle.capacity_column``, a recognised header or a ``capacity`` column.
    """
    meta = facilities.attrs.get("capacity")
    if isinstance(meta, dict) and meta.get("kind") not in (None, circle.capacity):
        raise DataMismatchError(
            f"the facilities carry {meta['kind']} capacities but {circle.id} counts {circle.capacity}. "
            "Fix: load them for this circle: load_facilities(study, circle, ...)"
        )
    col = facilities["capacity"] if "capacity" in facilities.columns else None
    if isinstance(meta, dict) and col is not None and pd.api.types.is_float_dtype(col):
        cap = col.to_numpy(dtype=float)
        bad = ~np.isnan(cap) & ~(np.isfinite(cap) & (cap > 0))
        if bad.any():
            raise DataMismatchError(
                f"{circle.id}: capacities must be > 0 or NaN (unknown); rows {np.nonzero(bad)[0].tolist()[:10]} "
                "are not. Fix: set an unknown capacity to NaN, never to 0"
            )
        return cap, {}, meta.get("column")
    table = pd.DataFrame(facilities.drop(columns="geometry")).reset_index(drop=True)
    values, counts, used = _read_capacity(table, circle, f"{circle.id} facilities")
    return values, _capacity_warnings(counts), used


def _elderly_basis(
    settings: Settings, towns: pd.DataFrame, study_towns: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, Any, str, str]:
    """Towns (with an ``elderly`` column for counts), the ``elderly_share`` argument, the basis and its source.

    An elderly raster read by :func:`load_study` (``study_towns["elderly_raster"]``) comes first; a per-town
    table must hold every town of the study with people (:class:`ConfigError` naming the key).
    """
    if study_towns is not None and "elderly_raster" in study_towns:
        counts = dict(zip(study_towns["town_code"].astype(str), study_towns["elderly_raster"].astype(float)))
        e = towns["town_code"].map(counts).astype(float)
        city = towns["town_code"] == "441900"
        e[city] = float(e[~city].sum())
        return towns.assign(elderly=e), None, "raster_town_counts", ELDERLY_BASES["raster_town_counts"]
    with_people = sorted(towns.loc[(towns["town_code"] != "441900") & (towns["population"] > 0), "town_code"])
    for key in ("elderly_population", "elderly_share"):
        table = getattr(settings, key)
        if isinstance(table, Mapping):
            missing = [c for c in with_people if c not in table]
            if missing:
                raise ConfigError(
                    f"settings {key} lacks {len(missing)} town(s) of the study with people: {missing[:10]}. "
                    f"Fix: give every town, or one share for all (elderly_share = 0.0547)"
                )
    if settings.elderly_population is not None:
        counts = {str(k): float(v) for k, v in settings.elderly_population.items()}
        return (
            towns.assign(elderly=towns["town_code"].map(counts).astype(float)),
            None,
            "settings_town_counts",
            ELDERLY_BASES["settings_town_counts"],
        )
    share = settings.elderly_share
    if isinstance(share, Mapping):
        return (
            towns,
            {str(k): float(v) for k, v in share.items()},
            "settings_town_shares",
            ELDERLY_BASES["settings_town_shares"],
        )
    if share is not None:
        return towns, float(share), "settings_share", f"{ELDERLY_BASES['settings_share']}: {float(share):.6g}"
    return towns, None, "default_share", ELDERLY_SHARE_SOURCE


def _sigma_minutes(circle: Circle) -> float | None:
    """Gaussian width used by the circle's 2SFCA (default half the limit); None for other decays."""
    if circle.fca_decay != "gaussian":
        return None
    return circle.fca_sigma_minutes if circle.fca_sigma_minutes is not None else circle.minutes / 2.0


def _round(x: Any, n: int) -> float | None:
    """``x`` rounded to ``n`` decimals for summary.json (None when missing or not finite)."""
    return round(float(x), n) if x is not None and np.isfinite(float(x)) else None


#: People the supply ratios are measured against (``[settings] supply_population``), as said in the outputs.
SUPPLY_POPULATION_TEXT = {
    "raster": ("raster", POPULATION_BASE),
    "census": (
        "census 2020",
        "2020 census resident population (常住人口) per town, 7th national census (2020-11-01), embedded "
        "(dgcoverage/data/dongguan/town_population_2020.csv); towns without a census row (东莞港, 东莞生态园, "
        "东莞滨海湾新区, whose residents the census counts in other towns) have no_data. The 2SFCA access "
        "scores still spread each town's demand as the population raster does",
    ),
}


def _supply_population(settings: Settings, towns: pd.DataFrame, warn: dict[str, int]) -> pd.DataFrame:
    """Towns with the ``population`` the supply ratios use: the raster's (as given) or the 2020 census."""
    if settings.supply_population != "census":
        return towns
    from .villages import dongguan_town_table

    census = dongguan_town_table().set_index("town_code")["census_2020"].astype(float)
    pop = towns["town_code"].map(census).astype(float)
    lacking = towns[(towns["town_code"] != "441900") & pop.isna() & (towns["population"] > 0)]
    if len(lacking):
        warn["supply_towns_without_census"] = len(lacking)
        warnings.warn(
            f"{len(lacking)} town(s) with people have no 2020 census figure ({', '.join(lacking['town_name'])}): "
            'their supply ratio is no_data with supply_population = "census". Fix: use supply_population = '
            '"raster" for them, or read the census note in dgcoverage/data/dongguan/SOURCE.md',
            DgCoverageWarning,
            stacklevel=3,
        )
    return towns.assign(population=pop)


def _village_elderly_share(st: pd.DataFrame, vtown: np.ndarray) -> np.ndarray:
    """Share aged 60+ used for each village: its town's (elderly / population of the supply ratios)."""
    t = st.set_index("town_code")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (t["elderly"] / t["population"].where(t["population"] > 0)).astype(float)
    return pd.Series(vtown).map(share).to_numpy(dtype=float)


def _supply(
    study: Study,
    circle: Circle,
    facilities: gpd.GeoDataFrame,
    fnode: np.ndarray,
    fdist: np.ndarray,
    fac_village: np.ndarray,
    tt: pd.DataFrame,
    synthetic: bool,
) -> dict[str, Any]:
    """Supply against the circle's standard: policy ratios per town, 2SFCA per cell, village and town.

    Returns
    -------
    dict
        ``villages`` and ``towns`` (columns to join), ``facilities`` (``capacity``, ``fca_ratio``),
        ``cell_access`` (2SFCA per cell, in the standard's unit), ``summary`` (``summary.json`` →
        ``supply``) and ``warnings`` (new counts).
    """
    cap, warn, cap_col = _facility_capacity(facilities, circle)
    vtown = study.villages["town_code"].astype(str).to_numpy()
    ftown = np.array([vtown[i] if i >= 0 else None for i in fac_village], dtype=object)
    elderly = circle.supply_base == "elderly"
    towns_in = _supply_population(study.settings, tt[["town_code", "town_name", "population"]], warn)
    share_arg, basis, basis_source = None, None, None
    if elderly:
        towns_in, share_arg, basis, basis_source = _elderly_basis(study.settings, towns_in, study.towns)
        if basis == "raster_town_counts":
            basis_source = f"{basis_source} {study.inputs.get('elderly', {}).get('path', '')}".rstrip()
        elif basis != "default_share":
            said = study.settings.elderly_source or "not given (say it with [settings] elderly_source)"
            basis_source = f"{basis_source}; source: {said}"
    unit = "m2" if circle.capacity == "area_m2" else "beds"
    per = circle.supply_per
    target = float(circle.supply_target) if circle.supply_target is not None else np.nan
    kw = {"target_per_capita": target} if per == 1 else {"target_per_1000": target}
    st = supply_ratios(ftown, cap, towns_in, elderly=elderly, elderly_share=share_arg, supply_unit=unit, **kw)
    outside = int(st.attrs["facilities_outside_towns"])
    if outside:
        warn["facilities_left_out_of_supply"] = outside
    # demand per cell: residents, or residents x the share aged 60+ of the cell's town (cells in no village:
    # the city-wide share)
    demand = study.cell_pop.astype(float)
    if elderly:
        t = st.set_index("town_code")
        with np.errstate(invalid="ignore", divide="ignore"):
            share_t = (t["elderly"] / t["population"].where(t["population"] > 0)).astype(float)
        city_share = float(share_t.get("441900", np.nan))
        cv = study.cell_village
        cell_town = np.where(cv >= 0, vtown[np.maximum(cv, 0)], "")
        s = pd.Series(cell_town).map(share_t.drop("441900")).to_numpy(dtype=float)
        demand = demand * np.where(np.isfinite(s), s, city_share if np.isfinite(city_share) else 0.0)
    a_mps = circle.access_speed_mps
    res = two_step_fca(
        study.graph,
        fnode,
        fdist / a_mps,
        cap,
        study.cell_node,
        study.cell_snap_m / a_mps,
        demand,
        circle.limit_s,
        circle.speed_mps,
        circle.fca_decay,
        sigma_s=None if circle.fca_sigma_minutes is None else circle.fca_sigma_minutes * 60.0,
        steps=[(m * 60.0, w) for m, w in circle.fca_steps] or None,
    )
    cell_access = res.access * per
    nv = len(study.villages)
    cv = study.cell_village
    per_cell = {
        "access_supply": cell_access,
        "access_meets_target_share": (cell_access >= target * (1 - 1e-12)).astype(float),
        "access_unknown_share": (res.unknown_within > 0).astype(float),
    }
    vcols = pd.DataFrame({k: village_accessibility(cv, demand, v, nv) for k, v in per_cell.items()})
    inv = cv >= 0
    v_demand = np.bincount(cv[inv], weights=demand[inv], minlength=nv)
    tcols = st.drop(columns=["town_name", "population", "capacity_unknown_share"]).rename(
        columns={"status": "supply_status", "status_zh": "supply_status_zh", "reason": "supply_reason"}
    )
    pop_basis, pop_basis_text = SUPPLY_POPULATION_TEXT[study.settings.supply_population]
    tcols.insert(1, "supply_population", st["population"].to_numpy())
    tcols.insert(2, "population_basis", pop_basis)
    for k in per_cell:
        acc = town_accessibility(vtown, v_demand, vcols[k].to_numpy(), tt)
        tcols = tcols.merge(acc[["town_code", "access"]].rename(columns={"access": k}), on="town_code", how="left")
    vcols["ratio_unit"] = st["ratio_unit"].iloc[0]
    if elderly:
        tcols.insert(tcols.columns.get_loc("elderly") + 1, "elderly_basis", basis)
        tcols.insert(tcols.columns.get_loc("elderly") + 2, "elderly_source", basis_source)
        vcols["elderly_basis"] = basis
        vcols["elderly_share"] = _village_elderly_share(st, vtown)
    city = st[st["town_code"] == "441900"].iloc[0]
    tacc = tcols.set_index("town_code").loc["441900"]
    towns_only = st[st["town_code"] != "441900"]
    summary: dict[str, Any] = {
        "indicator": circle.supply_indicator,
        "source": circle.supply_source,
        "capacity": circle.capacity,
        "capacity_column": cap_col,
        "capacity_synthetic": synthetic,
        "target": target,
        "per": per,
        "base": circle.supply_base,
        "ratio_unit": str(city["ratio_unit"]),
        "population_basis": study.settings.supply_population,
        "population_base": pop_basis_text,
        "facilities": {
            "total": len(cap),
            "capacity_known": int(np.isfinite(cap).sum()),
            "capacity_unknown": int((~np.isfinite(cap)).sum()),
            "outside_towns": outside,
        },
        "city": {
            "population": int(round(float(city["population"]))),
            "supply": _round(city["supply"], 2),
            "supply_ratio": _round(city["supply_ratio"], 6),
            "target_ratio": target,
            "required_supply": _round(city["required_supply"], 2),
            "deficit": _round(city["deficit"], 2),
            "status": str(city["status"]),
            "status_zh": str(city["status_zh"]),
            "reason": str(city["reason"]),
        },
        "towns_by_status": towns_only["status"]
        .value_counts()
        .reindex(["pass", "fail", "unknown", "no_data"], fill_value=0)
        .astype(int)
        .to_dict(),
        "towns_deficit_sum": _round(towns_only["deficit"].sum(), 2),
        "access": {
            "method": "2SFCA" if circle.fca_decay == "none" else f"2SFCA with {circle.fca_decay} distance decay",
            "references": "Luo & Wang 2003 (2SFCA); Luo & Qi 2009 (E2SFCA, stepwise)",
            "catchment_minutes": circle.minutes,
            "decay": circle.fca_decay,
            "sigma_minutes": _sigma_minutes(circle),
            "steps_minutes": [list(p) for p in circle.fca_steps] or None,
            "weights": "older people (60+)" if elderly else "residents",
            "pairs_within_catchment": int(res.pairs),
            "facilities_serving_nobody": int((np.isfinite(cap) & ~np.isfinite(res.facility_ratio)).sum()),
            "city_access_supply": _round(tacc["access_supply"], 6),
            "population_share_meeting_target": _round(tacc["access_meets_target_share"], 6),
            "population_share_unknown_in_reach": _round(tacc["access_unknown_share"], 6),
        },
    }
    if elderly:
        summary["city"]["elderly"] = _round(city["elderly"], 1)
        summary["elderly"] = {
            "basis": basis,
            "source": basis_source,
            "city_share": _round(float(city["elderly"]) / float(city["population"]), 6)
            if float(city["population"]) > 0
            else None,
            "default_share": ELDERLY_SHARE_DEFAULT,
        }
    return {
        "villages": vcols,
        "towns": tcols,
        "facilities": {"capacity": cap, "fca_ratio": res.facility_ratio * per},
        "cell_access": cell_access,
        "summary": summary,
        "warnings": warn,
    }


def write_circle(result: CircleResult, out_dir: str | Path = DEFAULT_OUT_DIR) -> Path:
    """Write ``<out_dir>/<circle>/villages.csv, towns.csv, facilities.csv, summary.json, timing.json``.

    For a circle with a supply standard the tables carry its columns (see :func:`run_circle`) and
    ``facilities.csv`` each facility's ``capacity`` (empty = unknown) and ``fca_ratio``.

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
    villages = pd.DataFrame(result.villages.drop(columns="geometry"))
    for name, table in (("villages.csv", villages), ("towns.csv", result.towns)):
        out, decimals = table_for_output(table)
        write_csv(bilingual(out), d / name, decimals={bilingual_name(c): n for c, n in decimals.items()})
    # timings differ between runs: they go to timing.json so summary.json is byte-identical for identical inputs
    write_json(result.summary.to_dict(timing=False), d / "summary.json")
    write_json({"circle": result.circle.id, "timing_s": result.summary.timing_s}, d / "timing.json")
    ftable, fdec = _facility_output(result)
    fdec = {"snap_m": 1, **fdec}
    write_csv(bilingual(ftable), d / "facilities.csv", decimals={bilingual_name(c): n for c, n in fdec.items()})
    return d


def _facility_output(result: CircleResult) -> tuple[pd.DataFrame, dict[str, int]]:
    """``facilities.csv`` (:func:`~dgcoverage.quality.facility_table`) with the supply columns of the circle.

    ``capacity`` (m² or beds; empty = unknown) with ``capacity_unit``, and ``fca_ratio``: the facility's
    capacity per person (or per 1,000) of the weighted demand in its catchment (2SFCA step 1).
    """
    fac = result.facilities
    table = facility_table(fac)
    if "capacity" not in fac.columns or not result.circle.has_supply:
        return table, {}
    # facility_table sorts its rows stably by these keys: sorting the same keys gives its row order
    key = pd.DataFrame(
        {
            c: fac[c].astype(str).to_numpy() if c in fac else np.full(len(fac), "", dtype=object)
            for c in ("facility_id", "name")
        }
    )
    key["lon"] = [f"{v:.7f}" for v in fac.geometry.x.to_numpy()]
    key["lat"] = [f"{v:.7f}" for v in fac.geometry.y.to_numpy()]
    order = key.sort_values(["facility_id", "name", "lon", "lat"], kind="stable").index.to_numpy()
    table["capacity"] = fac["capacity"].to_numpy(dtype=float)[order]
    table["capacity_unit"] = "m2" if result.circle.capacity == "area_m2" else "beds"
    decimals = {"capacity": 2}
    if "fca_ratio" in fac.columns:
        table["fca_ratio"] = fac["fca_ratio"].to_numpy(dtype=float)[order]
        decimals["fca_ratio"] = 6
    return table, decimals
