"""Step 1: load a study (network, population, towns, villages) and snap its demand to the network."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from ..compute.access import (
    AccessGraph,
    access_graph_from_network,
    snap_points,
)
from ..core.io import input_record
from ..core.roadnet import RoadNetwork, check_network_covers
from ..errors import (
    CRSError,
    DataMismatchError,
    DgCoverageWarning,
    NetworkError,
)
from ..inputs.cells import assign_points, mark_outside_raster, people_in_towns, population_checks
from ..inputs.config import Settings, check_town_tables, validate_settings
from ..inputs.elderly import elderly_from_raster
from ..inputs.embedded import DEFAULT_DATA_DIR, DemoPaths, demo_paths
from ..inputs.network import network_from_file, network_from_graph
from ..inputs.population import PopulationGrid, population_from_raster
from ..inputs.region import Region, read_units, region_from_frames
from ..inputs.study_villages import villages_from_frame, villages_with_areas
from ..inputs.villages import (
    analysis_crs,
    dongguan_towns,
    dongguan_villages,
)
from .study import Study

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


def load_study(
    network: str | Path | RoadNetwork | nx.MultiDiGraph | None = None,
    population: str | Path | PopulationGrid | None = None,
    villages: str | Path | gpd.GeoDataFrame | None = None,
    villages_crs: str | None = None,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    network_type: str = "walk",
    settings: Settings | None = None,
    towns: gpd.GeoDataFrame | Region | str | Path | None = None,
    *,
    population_band: int | None = None,
    villages_sheet: str | None = None,
    villages_lon_col: str | None = None,
    villages_lat_col: str | None = None,
    elderly: str | Path | None = None,
    elderly_band: int | None = None,
    city_code: str | None = None,
    city_name: str | None = None,
) -> Study:
    """Load network, population, towns and villages and snap demand to the network.

    Inputs are files or objects; one left ``None`` comes from the embedded default in ``data_dir`` (synthetic).

    Parameters
    ----------
    network
        A :class:`~dgcoverage.core.roadnet.RoadNetwork`, an OSMnx ``MultiDiGraph`` (WGS84, edge ``length`` in
        m) or a ``.osm``/``.osm.pbf``/``.npz``/``.graphml`` file (OSM files read as ``network_type``).
    population
        A :class:`~dgcoverage.inputs.population.PopulationGrid` in the analysis CRS, or a GeoTIFF (any CRS,
        resampled to 100 m; ``population_band`` of a multi-band raster).
    towns, villages
        Dongguan: village points or polygons (GeoDataFrame or CSV/XLSX/GeoJSON; ``villages_crs``, ``_sheet``,
        ``_lon_col``, ``_lat_col``) matched to the official list. Any other region: towns (``code``, ``name``,
        polygons) and villages (``code``, ``name``, ``town_code``, polygons or points) as frames, files or a
        :class:`~dgcoverage.inputs.region.Region`; the villages are the list, ``city_code``/``city_name`` label
        the city-wide row. ``elderly``/``elderly_band``: a raster of people aged 60+, summed per town.
    """
    settings = settings or Settings()
    validate_settings(settings)  # refused here, before anything is read
    parts: list[str] = []  # the synthetic parts
    inputs: dict[str, Any] = {}  # what was read and how (summary.json -> inputs)
    counts: dict[str, int] = {}  # counted repairs (summary.json -> warnings)
    region = _study_region(towns, villages, villages_crs, city_code, city_name, inputs, settings)  # before any read
    demo = _demo_if_needed(data_dir, network, population, villages, region)
    towns = region.towns if region is not None else _study_towns(towns, demo, inputs)
    net, graph = _study_graph(network, demo, network_type, towns, inputs, counts, parts)
    grid, pop_source = _study_population(population, demo, towns, graph.crs, population_band, inputs, parts)
    counts.update(grid.warnings)
    where = {"sheet": villages_sheet, "lon_col": villages_lon_col, "lat_col": villages_lat_col}
    vgdf = _villages_of(region, villages, villages_crs, demo, towns, graph, settings, inputs, counts, parts, where)
    mark_outside_raster(vgdf, grid, graph.crs, counts)  # villages outside the raster: no_data, said
    old = (elderly, elderly_band)
    towns, p = _place_cells(grid, towns, vgdf, graph.crs, pop_source, old, inputs, counts)  # placed cells, 60+ p[4]
    (cell_node, cell_snap), (centre_node, centre_snap) = _snap(graph, *p[:2], vgdf, settings.max_snap_m, counts)
    inputs.update({"embedded_default": _embedded_record(demo, parts)} if demo is not None else {})
    cells = (*p[:4], cell_node, cell_snap, centre_node, centre_snap)
    synthetic = bool(parts) or bool(net.meta.get("synthetic"))
    labels = () if region is None else (region.city_code, region.city_name, region.name or region.city_name)
    return Study(net, graph, grid, towns, vgdf, *cells, synthetic, inputs, counts, settings, *labels, cell_elderly=p[4])


def _study_region(
    towns: Any,
    villages: Any,
    villages_crs: str | None,
    code: str | None,
    name: str | None,
    inputs: dict[str, Any],
    settings: Settings | None = None,
) -> Region | None:
    """Return the study's region when it is not Dongguan (``None``: Dongguan's towns and official list).

    The per-town tables of ``settings`` are checked against the region's towns (Dongguan's: its 36 towns).
    """
    if towns is None or (isinstance(towns, gpd.GeoDataFrame) and not _is_region_frame(towns, villages)):
        if settings is not None:
            check_town_tables(settings, None)
        return None
    if isinstance(towns, Region):
        region = towns
        if code is not None or name is not None:
            region.city_code, region.city_name = code or region.city_code, name or region.city_name
    else:
        if villages is None:
            raise DataMismatchError(
                "a region other than Dongguan needs its villages (村/社区 or any lower units). Fix: pass "
                "villages=... (code, name, town_code and polygons or points) with towns=..."
            )
        tsrc = str(towns) if isinstance(towns, (str, Path)) else "towns GeoDataFrame"
        vsrc = str(villages) if isinstance(villages, (str, Path)) else "villages GeoDataFrame"
        t = read_units(towns, "towns") if isinstance(towns, (str, Path)) else towns
        v = read_units(villages, "villages", villages_crs) if isinstance(villages, (str, Path)) else villages
        region = region_from_frames(t, v, city_code=code, city_name=name, towns_source=tsrc, villages_source=vsrc)
    for key in ("towns", "villages"):
        src = region.sources.get(key, key)
        path = Path(src) if isinstance(src, str) and Path(src).exists() else None
        inputs[key] = input_record(path, f"{key} (region)") if path else {"kind": f"{key} ({src})"}
    inputs["region"] = {
        "name": region.name,
        "city_code": region.city_code,
        "city_name": region.city_name,
        "towns": len(region.towns),
        "villages": len(region.villages),
    }
    if settings is not None:
        check_town_tables(settings, region.towns)
    return region


def _is_region_frame(towns: gpd.GeoDataFrame, villages: Any) -> bool:
    """Tell a towns frame in the region form (``code``), or Dongguan-form towns none of whose codes are Dongguan's."""
    if "town_code" not in towns.columns:
        return True
    if not isinstance(villages, gpd.GeoDataFrame) or "town_code" not in villages.columns:
        return False
    return not dongguan_villages()["town_code"].isin(set(towns["town_code"].astype(str))).any()


def _region_villages(
    region: Region, towns: gpd.GeoDataFrame, inputs: dict[str, Any], counts: dict[str, int]
) -> gpd.GeoDataFrame:
    """Return the region's own villages as the study's list: areas (Voronoi for points), centres, counted repairs."""
    g = region.villages[["code", "geometry"]]
    source = region.sources.get("villages", "villages")
    vgdf, vcounts, vrecord = villages_from_frame(g, None, region.village_list, towns, source, nbs_codes=False)
    vrecord.pop("crs", None), vrecord.pop("crs_source", None)
    inputs["villages"].update(vrecord)
    counts.update({k: v for k, v in vcounts.items() if v})
    return vgdf


def _demo_if_needed(
    data_dir: str | Path, network: Any, population: Any, villages: Any, region: Any
) -> DemoPaths | None:
    """Return the embedded default's paths when an input is left to it (it must then exist), else ``None``."""
    needed = network is None or population is None or (villages is None and region is None)
    return demo_paths(data_dir) if needed else None


def _study_graph(
    network: Any,
    demo: DemoPaths | None,
    network_type: str,
    towns: gpd.GeoDataFrame,
    inputs: dict[str, Any],
    counts: dict[str, int],
    parts: list[str],
) -> tuple[RoadNetwork, AccessGraph]:
    """Return the road network (checked against the towns) and its CSR graph in the data's UTM zone."""
    net = _study_network(network, demo, network_type, inputs, parts)
    _check_network(net, towns, inputs, counts)
    return net, access_graph_from_network(net, 1.0, crs=analysis_crs(net.lon, net.lat))


def _snap(
    graph: AccessGraph,
    cx: np.ndarray,
    cy: np.ndarray,
    vgdf: gpd.GeoDataFrame,
    max_snap_m: float,
    counts: dict[str, int],
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Snap the demand cells and the village centres to the network (``-1`` / ``inf`` beyond ``max_snap_m``)."""
    cells = snap_points(graph, cx, cy, max_snap_m)
    counts["cells_off_network"] = int((cells[0] < 0).sum())
    return cells, _snap_centres(vgdf, graph, max_snap_m)


def _villages_of(
    region: Region | None,
    villages: Any,
    crs: str | None,
    demo: DemoPaths | None,
    towns: gpd.GeoDataFrame,
    graph: AccessGraph,
    settings: Settings,
    inputs: dict[str, Any],
    counts: dict[str, int],
    parts: list[str],
    where: dict[str, str | None],
) -> gpd.GeoDataFrame:
    """Return the study's villages: a region's own list, or Dongguan's official list matched to the given ones."""
    if region is not None:
        return _region_villages(region, towns, inputs, counts)
    if crs is None and isinstance(villages, (str, Path)):  # a file stating no datum: the project's default
        crs = settings.default_point_crs or None
    vgdf = _study_villages(villages, crs, demo, towns, inputs, counts, parts, **where)
    if villages is not None:  # a user's village points: their datum against the roads, both ways
        _villages_datum(vgdf, graph, inputs["villages"], counts, settings.max_snap_m)
    return vgdf


def _check_network(net: RoadNetwork, towns: gpd.GeoDataFrame, inputs: dict[str, Any], counts: dict[str, int]) -> None:
    """Refuse a network that does not cover the towns; count and say what looks wrong in it."""
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
            stacklevel=3,
        )


def _study_villages(
    villages: str | Path | gpd.GeoDataFrame | None,
    crs: str | None,
    demo: DemoPaths | None,
    towns: gpd.GeoDataFrame,
    inputs: dict[str, Any],
    counts: dict[str, int],
    synthetic_parts: list[str],
    **where: str | None,
) -> gpd.GeoDataFrame:
    """Match the study's villages (default, frame or file) to the official list, with areas and centres."""
    official = dongguan_villages()
    official = official[official["town_code"].isin(set(towns["town_code"]))].reset_index(drop=True)
    if len(official) == 0:
        raise DataMismatchError(
            "no village of the official list belongs to the study's towns. Fix: pass Dongguan "
            "town boundaries with NBS town codes (town_code column)."
        )
    if villages is None:
        synthetic_parts.append("village locations")
        vgdf, vcounts, vrecord = villages_with_areas(demo.villages, "gcj02", official, towns)
        inputs["villages"] = input_record(demo.villages, "villages (SYNTHETIC points)", **vrecord)
    elif isinstance(villages, gpd.GeoDataFrame):
        vgdf, vcounts, vrecord = villages_from_frame(villages, crs, official, towns, "villages GeoDataFrame")
        inputs["villages"] = {"kind": "villages (GeoDataFrame)", **vrecord}
    else:
        vgdf, vcounts, vrecord = villages_with_areas(Path(villages), crs, official, towns, **where)
        inputs["villages"] = input_record(Path(villages), "villages", **vrecord)
    counts.update(vcounts)
    return vgdf


def _villages_datum(
    vgdf: gpd.GeoDataFrame, graph: Any, record: dict[str, Any], counts: dict[str, int], max_snap_m: float
) -> None:
    """Check village points' declared datum against the roads (polygons: no check); record the verdict, warn."""
    from ..inputs.coords import canonical_crs
    from ..inputs.quality import datum_fit

    if not record.get("crs") or record.get("coordinates") == "polygons" or "centre" not in vgdf:
        return
    c = gpd.GeoSeries(vgdf["centre"].to_numpy(), crs=4326)
    c = c[c.notna() & ~c.is_empty]
    crs = canonical_crs(record["crs"])
    fit = datum_fit(graph, c.x.to_numpy(), c.y.to_numpy(), crs, max_snap_m, "village points")
    record["datum_check"] = fit["text"]
    if fit["verdict"] == "suspect":
        alt = fit["best_alternative"]
        counts[f"villages_maybe_{alt}"] = int(fit["points_compared"])
        warnings.warn(
            f"{record.get('path', 'villages')}: village points read as {crs} fit the road network far better read "
            f"as {alt}: their median distance to it would fall from {fit['median_snap_m']} m to "
            f"{fit['median_snap_if_m'][alt]} m. Fix: if the file is in {alt}, pass --villages-crs {alt}",
            DgCoverageWarning,
            stacklevel=3,
        )


def _place_cells(
    grid: PopulationGrid,
    towns: gpd.GeoDataFrame,
    vgdf: gpd.GeoDataFrame,
    crs: Any,
    pop_source: str | Path,
    elderly: tuple[str | Path | None, int | None],
    inputs: dict[str, Any],
    counts: dict[str, int],
) -> tuple[gpd.GeoDataFrame, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Put the populated cells in towns and villages; check the raster (and the elderly raster) against them.

    Returns the towns (with ``elderly_raster`` when an elderly raster is given) and the cells' x, y, people,
    village index (``-1``: in no village) and people aged 60+ (the elderly raster's; ``None``: not given).
    """
    _, _, cx, cy, cpop = grid.cells()
    cell_tree = shapely.STRtree(shapely.points(cx, cy))  # built once: cells to towns, then to villages
    in_towns = people_in_towns(towns, cx, cy, cpop, crs, cell_tree)
    cell_e: dict[str, np.ndarray] = {}
    if elderly[0] is not None:
        towns = elderly_from_raster(Path(elderly[0]), elderly[1], towns, grid, crs, inputs, counts, cell_tree, cell_e)
    inputs["population"].update(
        people_in_towns=round(in_towns, 1), **population_checks(grid, towns, crs, pop_source, counts, in_towns)
    )
    cell_village, n_multi = assign_points(vgdf, cx, cy, crs, cell_tree)
    if n_multi:
        counts["cells_in_overlapping_villages"] = n_multi
    outside = cell_village < 0
    if outside.any():
        counts["population_outside_villages"] = int(round(cpop[outside].sum()))
    return towns, (cx, cy, cpop, cell_village, cell_e.get("cell_elderly"))


def _embedded_record(demo: DemoPaths, synthetic_parts: list[str]) -> dict[str, Any]:
    """Record what of the embedded default was used (``summary.json`` → ``inputs.embedded_default``)."""
    manifest = json.loads(demo.manifest.read_text(encoding="utf-8"))
    return {
        "manifest": str(demo.manifest),
        "seed": manifest.get("seed"),
        "scale": manifest.get("scale"),
        "synthetic_parts": synthetic_parts,
    }


def _study_towns(towns: gpd.GeoDataFrame | None, demo: DemoPaths | None, inputs: dict[str, Any]) -> gpd.GeoDataFrame:
    if towns is None:
        if demo is not None and demo.towns.exists():
            towns = gpd.read_file(demo.towns)
            towns["town_code"] = towns["town_code"].astype(str)
            inputs["towns"] = input_record(demo.towns, "towns (real GeoAtlas boundaries, GCJ-02 -> WGS84)")
        else:
            towns = dongguan_towns()
            inputs["towns"] = input_record(None, "towns (embedded real GeoAtlas boundaries, GCJ-02 -> WGS84)")
    else:
        inputs["towns"] = {"kind": "towns (GeoDataFrame)"}
    return towns.sort_values("town_code").reset_index(drop=True)


def _study_network(
    network: Any, demo: DemoPaths | None, network_type: str, inputs: dict[str, Any], synthetic_parts: list[str]
) -> RoadNetwork:
    if network is None:
        synthetic_parts.append("network")
        inputs["network"] = input_record(demo.network, "network (SYNTHETIC)")
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
    inputs["network"] = input_record(Path(network), "network", network_type=network_type)
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
    inputs["population"] = input_record(
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
