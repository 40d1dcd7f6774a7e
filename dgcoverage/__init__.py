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

from ._version import __version__
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

__all__ = [
    "AccessGraph", "CRSError", "CandidateSet", "Circle", "CircleResult", "CircleSummary", "ColumnError",
    "ConfigError", "DataMismatchError", "DgCoverageError", "EmptyInputError", "InputFileError",
    "InputNotFoundError", "NetworkError", "OutputCommitError", "OutputDirError", "OutputLockedError", "OutputSet",
    "PopulationGrid", "RoadNetwork", "Settings", "SitingResult", "Study", "__version__",
    "access_graph_from_network", "build_candidates", "convert", "dongguan_towns", "dongguan_villages",
    "facilities_from_file", "facilities_from_frame", "facilities_from_osm", "from_wgs84", "load_config",
    "load_facilities", "load_network", "load_study", "network_from_file", "network_from_graph",
    "network_from_place", "plan_sites", "population_from_raster", "run_circle", "save_network", "to_wgs84",
    "town_table", "village_points_from_file", "village_table", "write_areas", "write_circle", "write_maps",
    "write_report", "write_sites",
]
