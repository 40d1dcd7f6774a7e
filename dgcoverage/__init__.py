"""dgcoverage: which of Dongguan's villages and communities lie inside its public-service circles.

The library works on GeoDataFrames and DataFrames; the ``dgcoverage`` command
is a thin layer over it.  A notebook session::

    import dgcoverage as dg

    circles, settings = dg.load_config()                 # the four policy circles (TOML)
    study = dg.load_study(network=G, population="worldpop.tif", villages=village_points)
    fitness = circles["fitness_15"]
    facilities = dg.load_facilities(study, fitness, parks_gdf)
    result = dg.run_circle(study, fitness, facilities)
    result.villages                                      # GeoDataFrame: one row per 村/社区, EPSG:4326
    sites = dg.plan_sites(study, result, k=10)           # ranked new sites (no geometry in the optimiser)

Folders, from the ground up: ``core`` (network type, safe writing), ``compute``
(numbers only), ``inputs`` (read and checked at the boundary), ``pipeline`` (the
steps and the core types), ``outputs`` (tables, areas, maps, report, sites),
``demo`` (the synthetic generator), ``cli``.  See ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Public name -> module defining it.  Modules load on first use (PEP 562), so ``import dgcoverage`` and the
#: command line's start stay light; ``from dgcoverage import X`` and ``dg.X`` work as with eager imports.
_NAMES = {
    "AccessGraph": "compute.access",
    "access_graph_from_network": "compute.access",
    "CandidateSet": "pipeline.study",
    "SitingResult": "pipeline.study",
    "build_candidates": "pipeline.sites",
    "plan_sites": "pipeline.sites",
    "write_sites": "outputs.sites",
    "Circle": "inputs.config",
    "Settings": "inputs.config",
    "load_config": "inputs.config",
    "convert": "inputs.coords",
    "from_wgs84": "inputs.coords",
    "to_wgs84": "inputs.coords",
    "town_table": "compute.coverage",
    "village_table": "compute.coverage",
    "CRSError": "errors",
    "ColumnError": "errors",
    "ConfigError": "errors",
    "DataMismatchError": "errors",
    "DgCoverageError": "errors",
    "EmptyInputError": "errors",
    "InputFileError": "errors",
    "InputNotFoundError": "errors",
    "NetworkError": "errors",
    "OutputCommitError": "errors",
    "OutputDirError": "errors",
    "OutputLockedError": "errors",
    "facilities_from_file": "inputs.facilities",
    "facilities_from_frame": "inputs.facilities",
    "facilities_from_osm": "inputs.facilities",
    "write_areas": "outputs.areas",
    "write_maps": "outputs.maps.write",
    "network_from_file": "inputs.network",
    "network_from_graph": "inputs.network",
    "network_from_place": "inputs.network",
    "OutputSet": "core.outputset",
    "load_facilities": "pipeline.facilities",
    "load_study": "pipeline.load",
    "run_circle": "pipeline.run",
    "write_circle": "outputs.tables",
    "write_layers": "outputs.gpkg",
    "explore_map": "outputs.maps.explore",
    "explore_overview": "outputs.maps.explore",
    "PopulationGrid": "inputs.population",
    "population_from_raster": "inputs.population",
    "write_report": "outputs.report",
    "RoadNetwork": "core.roadnet",
    "load_network": "core.roadnet",
    "save_network": "core.roadnet",
    "CircleResult": "pipeline.study",
    "CircleSummary": "pipeline.study",
    "Study": "pipeline.study",
    "dongguan_towns": "inputs.villages",
    "dongguan_villages": "inputs.villages",
    "village_points_from_file": "inputs.villages",
    "Region": "inputs.region",
    "region_from_frames": "inputs.region",
    "region_from_files": "inputs.region",
    "run_scenario": "pipeline.scenario",
    "read_scenario": "inputs.scenario",
    "read_capacity_edits": "inputs.scenario",
    "links_frame": "inputs.scenario",
    "speed_sensitivity": "pipeline.sensitivity",
    "SpeedSensitivity": "pipeline.study",
}

__all__ = [
    "AccessGraph",
    "CRSError",
    "CandidateSet",
    "Circle",
    "CircleResult",
    "CircleSummary",
    "ColumnError",
    "ConfigError",
    "DataMismatchError",
    "DgCoverageError",
    "EmptyInputError",
    "InputFileError",
    "InputNotFoundError",
    "NetworkError",
    "OutputCommitError",
    "OutputDirError",
    "OutputLockedError",
    "OutputSet",
    "PopulationGrid",
    "Region",
    "RoadNetwork",
    "Settings",
    "SitingResult",
    "SpeedSensitivity",
    "Study",
    "__version__",
    "access_graph_from_network",
    "build_candidates",
    "convert",
    "dongguan_towns",
    "dongguan_villages",
    "explore_map",
    "explore_overview",
    "facilities_from_file",
    "facilities_from_frame",
    "facilities_from_osm",
    "from_wgs84",
    "load_config",
    "load_facilities",
    "load_network",
    "links_frame",
    "load_study",
    "network_from_file",
    "network_from_graph",
    "network_from_place",
    "plan_sites",
    "population_from_raster",
    "read_capacity_edits",
    "read_scenario",
    "region_from_files",
    "region_from_frames",
    "run_circle",
    "run_scenario",
    "save_network",
    "speed_sensitivity",
    "to_wgs84",
    "town_table",
    "village_points_from_file",
    "village_table",
    "write_areas",
    "write_circle",
    "write_layers",
    "write_maps",
    "write_report",
    "write_sites",
]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dgcoverage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .compute.access import AccessGraph, access_graph_from_network
    from .compute.coverage import town_table, village_table
    from .core.outputset import OutputSet
    from .core.roadnet import RoadNetwork, load_network, save_network
    from .errors import (
        ColumnError,
        ConfigError,
        CRSError,
        DataMismatchError,
        DgCoverageError,
        EmptyInputError,
        InputFileError,
        InputNotFoundError,
        NetworkError,
        OutputCommitError,
        OutputDirError,
        OutputLockedError,
    )
    from .inputs.config import Circle, Settings, load_config
    from .inputs.coords import convert, from_wgs84, to_wgs84
    from .inputs.facilities import facilities_from_file, facilities_from_frame, facilities_from_osm
    from .inputs.network import network_from_file, network_from_graph, network_from_place
    from .inputs.population import PopulationGrid, population_from_raster
    from .inputs.region import Region, region_from_files, region_from_frames
    from .inputs.villages import dongguan_towns, dongguan_villages, village_points_from_file
    from .outputs.areas import write_areas
    from .outputs.gpkg import write_layers
    from .outputs.maps import write_maps
    from .outputs.maps.explore import explore_map
    from .outputs.report import write_report
    from .outputs.sites import write_sites
    from .outputs.tables import write_circle
    from .pipeline.facilities import load_facilities
    from .pipeline.load import load_study
    from .pipeline.run import run_circle
    from .pipeline.sites import build_candidates, plan_sites
    from .pipeline.study import CandidateSet, CircleResult, CircleSummary, SitingResult, Study
