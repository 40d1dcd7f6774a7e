"""The core types: a loaded study area, a circle's result and its summary, candidate and ranked sites.

Data only: they are built by :mod:`dgcoverage.pipeline.run` and :mod:`dgcoverage.pipeline.sites` and read by
every module above them (areas, maps, report, sites), so none of those imports the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..compute.access import AccessGraph
from ..compute.supply import CITY_CODE, CITY_NAME
from ..core.roadnet import RoadNetwork
from ..inputs.config import Circle, Settings
from ..inputs.population import PopulationGrid


@dataclass
class Study:
    """Everything a circle run needs, loaded and snapped once (:func:`dgcoverage.load_study`).

    Cell arrays (``cell_*``) describe populated 100 m cells (projected
    centres in ``graph.crs``, people, village index or ``-1``, nearest node or
    ``-1`` when off the network, snap distance in m); village arrays follow the
    rows of ``villages`` (official list with area polygons, EPSG:4326).
    ``inputs`` records what was read and how (``summary.json`` → ``inputs``),
    ``warnings`` the counted repairs. ``city_code``/``city_name`` label the city-wide row of the town tables
    (Dongguan's 441900 unless the study is another region, :mod:`dgcoverage.inputs.region`); ``region`` is the
    region's name (``""``: Dongguan, the packaged default).
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
    city_code: str = CITY_CODE
    city_name: str = CITY_NAME
    region: str = ""
    #: People aged 60+ per cell from an elderly raster (``None``: none given): equity of older people per town.
    cell_elderly: np.ndarray | None = None

    def explore(self, results: Any, **kwargs: Any) -> Any:
        """Return a :class:`folium.Map` of several circles' villages: one base layer per circle, with its legend.

        ``results``: the circles' results (:func:`dgcoverage.run_circle`).  See
        :func:`dgcoverage.outputs.maps.explore.explore_overview` for the options (``names``, ``tiles``,
        ``offline`` ...); looked up when called, as :meth:`CircleResult.explore`.
        """
        import importlib

        return importlib.import_module("dgcoverage.outputs.maps.explore").explore_overview(results, **kwargs)

    @property
    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """Study-area bounds (WGS84) padded by ~2 km, for dropping far-away facilities."""
        b = self.towns[self.towns["has_polygon"]].total_bounds
        return (b[0] - 0.02, b[1] - 0.02, b[2] + 0.02, b[3] + 0.02)


@dataclass
class CircleSummary:
    """What ``summary.json`` holds for one circle run.

    Every field is plain JSON data.  ``summary.results`` and
    ``summary["results"]`` are the same (read access by key is kept for
    code that treats the summary as the JSON it is written as).

    Attributes
    ----------
    dgcoverage_version, synthetic, note, note_zh
        Provenance; ``synthetic`` is true when any input was generated.
    circle, settings
        The circle's settings and policy source, and the run settings.
    inputs
        Every input: path, SHA-256, coordinate system and where it came from,
        columns, sheet, band, checks (population vs census, raster coverage).
    sizes, components
        Network, cells, villages, facilities; network components and the
        people who cannot reach a facility.
    warnings
        Counted repairs and checks (name -> count).
    results
        City-wide figures: population, covered population and share, village
        pass rate, villages by status, population by reach class.
    coverage_curve
        Share of people within 0..cap minutes.
    timing_s
        Run times (written to ``timing.json``, not ``summary.json``).
    versions
        Versions of the packages that shape the results.
    policy_every_village, checks
        The policy-literal "facility inside every 村(社区)" check (circles with
        ``every_village``) and input checks such as the GCJ-02 suspicion; ``None`` when absent.
    supply
        The supply standard (circles with a target; ``None`` otherwise, and then not written):
        indicator, policy source, capacity kind and column, target and unit, the population base,
        the elderly figure used and its source, facilities with unknown capacity, the city-wide
        ratio, status and deficit, towns by status, and the access-weighted supply (2SFCA).
    """

    dgcoverage_version: str
    synthetic: bool
    note: str
    note_zh: str
    circle: dict[str, Any]
    settings: dict[str, Any]
    inputs: dict[str, Any]
    sizes: dict[str, int]
    warnings: dict[str, int]
    results: dict[str, Any]
    coverage_curve: dict[str, list[float]]
    timing_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    components: dict[str, Any] = field(default_factory=dict)
    policy_every_village: dict[str, Any] | None = None
    checks: dict[str, Any] | None = None
    supply: dict[str, Any] | None = None

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (``None`` fields left out; ``timing=False`` drops ``timing_s``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None and (timing or k != "timing_s")}

    def __getitem__(self, key: str) -> Any:
        """Return the field ``key`` (``KeyError`` when it is absent)."""
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        """Tell whether the field ``key`` is present (not ``None``)."""
        return isinstance(key, str) and key in {f.name for f in fields(self)} and getattr(self, key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """``summary[key]``, or ``default`` when the field is absent."""
        return getattr(self, key) if key in self else default


@dataclass
class CircleResult:
    """Outcome of one circle run.

    Attributes
    ----------
    circle
        The circle measured (with any overrides).
    villages
        One row per village (村/社区) of the study: coverage figures, status and
        reason, with the village area as geometry (EPSG:4326; empty where the
        village has no location).
    towns
        One row per town (镇街) and a city-wide row (``town_code`` :attr:`city_code`, 441900 for Dongguan).
    summary
        What ``summary.json`` holds (:class:`CircleSummary`).
    cell_time_s, cell_class
        Time to the nearest facility (s; ``inf`` beyond the search cap) and
        reach class (:data:`~dgcoverage.compute.access.REACHED`...) of every demand cell.
    facilities
        The facilities used, with their snap distance, node, component and village.
    facility_node
        Network node of each facility (``-1``: off the network).
    node_time_s
        Seconds from each network node to its nearest facility (``inf``: beyond the cap).
    cell_access_supply
        Access-weighted supply (2SFCA) of every demand cell in the unit of the circle's standard
        (e.g. m² per resident, beds per 1,000 older people); ``None`` for circles without a target.
    """

    circle: Circle
    villages: gpd.GeoDataFrame
    towns: pd.DataFrame
    summary: CircleSummary
    cell_time_s: np.ndarray
    cell_class: np.ndarray
    facilities: gpd.GeoDataFrame
    facility_node: np.ndarray
    node_time_s: np.ndarray | None = None
    cell_access_supply: np.ndarray | None = None
    city_code: str = CITY_CODE
    region: str = ""
    sensitivity: SpeedSensitivity | None = None

    def explore(self, **kwargs: Any) -> Any:
        """Return a :class:`folium.Map` of the villages for a notebook (classes, legend, popups; no tiles; offline).

        See :func:`dgcoverage.outputs.maps.explore.explore_map` for the options (``m``, ``tiles``, ``attr``,
        ``offline=False`` for folium's CDN scripts ...).
        The map is drawn by the writers' layer: it is looked up when called, so this data type imports no writer.
        """
        import importlib

        return importlib.import_module("dgcoverage.outputs.maps.explore").explore_map(self, **kwargs)


@dataclass
class SpeedSensitivity:
    """A circle measured at several speeds (:func:`dgcoverage.pipeline.sensitivity.speed_sensitivity`).

    ``villages``: per village the covered share and 达标 at each speed and the class robust / fragile /
    not_covered / no_data; ``towns``: counts per town and a city-wide row; ``summary``: ``summary.json`` →
    ``results.speed_sensitivity`` (speeds, method, city-wide counts and shares).
    """

    speeds_kmh: tuple[float, ...]
    villages: pd.DataFrame
    towns: pd.DataFrame
    summary: dict[str, Any]


@dataclass
class CandidateSet:
    """Candidate sites (one row each) and the counts of rejected ones (:func:`dgcoverage.build_candidates`).

    ``table`` columns: ``site_id, source, name, lon, lat`` (WGS84), ``node``,
    ``snap_m`` (metres to the node), ``town_code, town_name``, ``weight``
    (uncovered people near the site, gap clusters only), ``capacity`` (m² or
    beds; NaN = not given) and ``capacity_source``.  ``capacity`` (the dict)
    records the capacity kind, the candidate file's capacity header and
    ``--site-capacity``.  ``input`` records how the candidate file was read (``crs`` and ``crs_source``:
    the coordinate system used and where it came from; empty without a file).
    """

    table: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class SitingResult:
    """Ranked sites (planner table), the run summary and the full candidate set (:func:`dgcoverage.plan_sites`)."""

    table: pd.DataFrame
    summary: dict[str, Any]
    candidates: CandidateSet
