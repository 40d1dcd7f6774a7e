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

Modules, from the ground up: ``errors``; ``coords``, ``config``, ``io``;
``roadnet``, ``tables``, ``population``; ``osm``, ``cache``, ``network``;
``access``, ``facilities``, ``villages``, ``quality``, ``coverage``,
``siting``; ``study``; ``pipeline``; ``gaps``, ``candidates``, ``maps``,
``report``, ``outputs``; ``cli``.  See ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Public name -> module defining it.  Modules load on first use (PEP 562), so ``import dgcoverage`` and the
#: command line's start stay light; ``from dgcoverage import X`` and ``dg.X`` work as with eager imports.
_NAMES = {
    "AccessGraph": "access",
    "access_graph_from_network": "access",
    "CandidateSet": "candidates",
    "SitingResult": "candidates",
    "build_candidates": "candidates",
    "plan_sites": "candidates",
    "write_sites": "candidates",
    "Circle": "config",
    "Settings": "config",
    "load_config": "config",
    "convert": "coords",
    "from_wgs84": "coords",
    "to_wgs84": "coords",
    "town_table": "coverage",
    "village_table": "coverage",
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
    "facilities_from_file": "facilities",
    "facilities_from_frame": "facilities",
    "facilities_from_osm": "facilities",
    "write_areas": "gaps",
    "write_maps": "maps",
    "network_from_file": "network",
    "network_from_graph": "network",
    "network_from_place": "network",
    "OutputSet": "outputs",
    "load_facilities": "pipeline",
    "load_study": "pipeline",
    "run_circle": "pipeline",
    "write_circle": "pipeline",
    "PopulationGrid": "population",
    "population_from_raster": "population",
    "write_report": "report",
    "RoadNetwork": "roadnet",
    "load_network": "roadnet",
    "save_network": "roadnet",
    "CircleResult": "study",
    "CircleSummary": "study",
    "Study": "study",
    "dongguan_towns": "villages",
    "dongguan_villages": "villages",
    "village_points_from_file": "villages",
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
    "RoadNetwork",
    "Settings",
    "SitingResult",
    "Study",
    "__version__",
    "access_graph_from_network",
    "build_candidates",
    "convert",
    "dongguan_towns",
    "dongguan_villages",
    "facilities_from_file",
    "facilities_from_frame",
    "facilities_from_osm",
    "from_wgs84",
    "load_config",
    "load_facilities",
    "load_network",
    "load_study",
    "network_from_file",
    "network_from_graph",
    "network_from_place",
    "plan_sites",
    "population_from_raster",
    "run_circle",
    "save_network",
    "to_wgs84",
    "town_table",
    "village_points_from_file",
    "village_table",
    "write_areas",
    "write_circle",
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
    from .access import AccessGraph, access_graph_from_network
    from .candidates import CandidateSet, SitingResult, build_candidates, plan_sites, write_sites
    from .config import Circle, Settings, load_config
    from .coords import convert, from_wgs84, to_wgs84
    from .coverage import town_table, village_table
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
    from .facilities import facilities_from_file, facilities_from_frame, facilities_from_osm
    from .gaps import write_areas
    from .maps import write_maps
    from .network import network_from_file, network_from_graph, network_from_place
    from .outputs import OutputSet
    from .pipeline import load_facilities, load_study, run_circle, write_circle
    from .population import PopulationGrid, population_from_raster
    from .report import write_report
    from .roadnet import RoadNetwork, load_network, save_network
    from .study import CircleResult, CircleSummary, Study
    from .villages import dongguan_towns, dongguan_villages, village_points_from_file
