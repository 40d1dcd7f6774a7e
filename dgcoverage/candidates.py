"""Candidate sites for new facilities and the planners' ranked list.

Three candidate sources (combinable):

* **gap clusters** (default): network nodes that serve people *not* covered by
  the existing facilities (cells beyond the limit or on a network part with no
  facility), weighted by that uncovered population summed within a small
  radius, then thinned so candidates are at least ``min_spacing_m`` apart
  (heaviest first, KD-tree suppression);
* **a user file** of possible sites (CSV/XLSX/GeoJSON in WGS84, GCJ-02 or
  BD-09, read by :func:`dgcoverage.facilities.facilities_from_file`);
* **every node of chosen road classes** (``RoadNetwork.highway``, OSM networks only).

Rejected candidates are counted, never silently dropped:

* ``off_network`` — farther than ``max_snap_m`` from every node;
* ``no_population_component`` — the node's connected part of the network
  serves no populated cell.  Without a water/land-use layer we cannot know a
  site is "in water"; a node on a network fragment where nobody lives (a
  pier, an island, a stray piece of path) is the proxy we use;
* ``outside_towns`` — not inside (or within 1 km of) any town polygon.

:func:`plan_sites` then builds coverage sets (:mod:`dgcoverage.siting`),
runs the optimisers with the existing facilities fixed, and tabulates the
chosen sites in rank order; :func:`write_sites` writes
``<out>/<circle>/candidates.csv``/``.xlsx``/``.geojson`` and ``siting_summary.json``.
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from . import siting
from .access import REACHED, project_lonlat
from .coords import from_wgs84
from .coverage import LABELS_ZH, bilingual_name, table_for_output
from .errors import ConfigError, DgCoverageError, DgCoverageWarning, EmptyInputError, NetworkError
from .facilities import RAW_LINE, RAW_PREFIX, facilities_from_file
from .io import atomic_path, write_csv, write_json, write_text
from .supply import capacity_column, capacity_from_table

if TYPE_CHECKING:  # pragma: no cover
    from .config import Circle
    from .study import CircleResult, Study

CANDIDATE_COLUMNS = ["site_id", "source", "name", "lon", "lat", "node", "snap_m"]


@dataclass
class CandidateSet:
    """Candidate sites (one row each) and the counts of rejected ones.

    ``table`` columns: ``site_id, source, name, lon, lat`` (WGS84), ``node``,
    ``snap_m`` (metres to the node), ``town_code, town_name``, ``weight``
    (uncovered people near the site, gap clusters only), ``capacity`` (m² or
    beds; NaN = not given) and ``capacity_source``.  ``capacity`` (the dict)
    records the capacity kind, the candidate file's capacity header and
    ``--site-capacity``.
    """

    table: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, Any] = field(default_factory=dict)


def default_spacing_m(circle: Circle) -> float:
    """Default minimum spacing of gap-cluster candidates: a quarter of the network reach, 150–2,000 m."""
    return float(np.clip(circle.limit_s * circle.speed_mps / 4.0, 150.0, 2000.0))


def uncovered_cells(study: Study, base: CircleResult) -> np.ndarray:
    """Mask of populated, on-network cells the existing facilities leave uncovered."""
    return (base.cell_class != REACHED) & (study.cell_node >= 0) & (study.cell_pop > 0)


def _node_lonlat(study: Study, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return study.net.lon[node], study.net.lat[node]


def gap_candidates(
    study: Study, uncovered: np.ndarray, min_spacing_m: float, max_candidates: int = 5000
) -> pd.DataFrame:
    """Thinned network nodes serving uncovered people, heaviest first.

    A node's weight is the uncovered population of the cells snapped to it;
    it is ranked by that weight summed over nodes within
    ``min(min_spacing_m / 2, 300)`` m (so cluster centres win over lone
    nodes), then nodes are accepted in that order unless an accepted node lies
    within ``min_spacing_m`` (straight line).
    """
    g = study.graph
    n = g.n_nodes
    w = np.bincount(study.cell_node[uncovered], weights=study.cell_pop[uncovered], minlength=n)
    nodes = np.nonzero(w > 0)[0]
    if nodes.size == 0:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS + ["weight"])
    xy = np.column_stack([g.x[nodes], g.y[nodes]])
    tree = cKDTree(xy)
    r_s = min(min_spacing_m / 2.0, 300.0)
    pairs = tree.query_pairs(r_s, output_type="ndarray")
    smooth = w[nodes].copy()
    if pairs.size:
        np.add.at(smooth, pairs[:, 0], w[nodes[pairs[:, 1]]])
        np.add.at(smooth, pairs[:, 1], w[nodes[pairs[:, 0]]])
    keep = _spread(tree, xy, np.lexsort((nodes, -smooth)), min_spacing_m, max_candidates)
    sel = nodes[keep]
    lon, lat = _node_lonlat(study, sel)
    return pd.DataFrame(
        {
            "site_id": [f"gap:{int(v)}" for v in sel],
            "source": "gap_cluster",
            "name": "",
            "lon": lon,
            "lat": lat,
            "node": sel,
            "snap_m": 0.0,
            "weight": np.round(smooth[keep], 1),
        }
    )


_CANDIDATE_WORDS = (
    (re.compile(r"--facilities-crs"), "--candidates-crs"),
    (re.compile(r"\bfacility file\b"), "candidate file"),
    (re.compile(r"\bFacilities\b"), "Candidate sites"),
    (re.compile(r"\bfacilities\b"), "candidate sites"),
    (re.compile(r"\bFacility\b"), "Candidate site"),
    (re.compile(r"\bfacility\b"), "candidate site"),
    (re.compile(r"for the time circle but not for the supply check"), "for coverage but close no supply deficit"),
)


def candidate_wording(text: str) -> str:
    """Say "candidate sites" where the shared facility reader's message says "facilities"."""
    for pat, repl in _CANDIDATE_WORDS:
        text = pat.sub(repl, text)
    return text


@contextmanager
def _as_candidates(path: str | Path) -> Iterator[None]:
    """Re-word the facility reader's warnings and errors for a candidate file, naming the file.

    Warnings are re-issued (as :class:`DgCoverageWarning`) with "candidate sites" for
    "facilities" and the file named when the message does not already name it; a
    :class:`DgCoverageError` keeps its type (and exit code) with its message re-worded.
    """
    where = str(path)

    def named(msg: str) -> str:
        msg = candidate_wording(msg)
        return msg if where in msg else f"{where} (candidate sites): {msg}"

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except DgCoverageError as exc:
        exc.args = (named(str(exc)), *exc.args[1:])
        for attr in ("problem", "fix"):
            if isinstance(getattr(exc, attr, None), str):
                setattr(exc, attr, candidate_wording(getattr(exc, attr)))
        raise
    finally:
        for w in caught:
            cat = w.category if issubclass(w.category, DgCoverageWarning) else None
            if cat is None:  # not ours: pass it on unchanged
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            else:
                warnings.warn(named(str(w.message)), DgCoverageWarning, stacklevel=4)


def file_candidates(
    study: Study,
    path: str | Path,
    crs: str | None = None,
    capacity_kind: str | None = None,
    capacity_header: str | None = None,
) -> pd.DataFrame:
    """Possible sites from a CSV/XLSX/GeoJSON file (lon/lat in ``crs``), snapped to the network.

    Parameters
    ----------
    study
        The study (its extent drops far-away rows, counted).
    path
        The candidate file, read like a facility file
        (:func:`dgcoverage.facilities.facilities_from_file`); its warnings and
        errors say "candidate sites" and name the file.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``; ``None``: what the columns say, else GCJ-02.
    capacity_kind
        ``"area_m2"`` or ``"beds"`` to read each site's size from a capacity
        column (:func:`dgcoverage.supply.capacity_column`: 建筑面积(平方米),
        场地面积, 床位数, ``area_m2``, ``beds`` ... or ``capacity``); ``None``:
        sizes are not read.
    capacity_header
        Exact header to use when present (the circle's ``capacity_column``).

    Returns
    -------
    pandas.DataFrame
        :data:`CANDIDATE_COLUMNS`, ``weight`` (NaN) and ``capacity`` (m² or
        beds; NaN = not given); ``attrs["capacity_column"]`` is the header read
        (``None`` when the file has none).
    """
    from .access import snap_points

    with _as_candidates(path):
        gdf = facilities_from_file(path, crs, bounds=study.bounds_wgs84, keep_columns=capacity_kind is not None)
        capacity = np.full(len(gdf), np.nan)
        col = None
        if capacity_kind is not None and len(gdf):
            raw = [c for c in gdf.columns if str(c).startswith(RAW_PREFIX)]
            table = pd.DataFrame({c[len(RAW_PREFIX) :]: gdf[c].to_numpy() for c in raw})
            if RAW_LINE in gdf.columns:
                table.attrs["line"] = gdf[RAW_LINE].to_numpy()
            if capacity_header and capacity_header in table.columns:
                col = capacity_header
            else:
                col = capacity_column(table, capacity_kind)
            if col is None and "capacity" in table.columns:
                col = "capacity"
            other = "beds" if capacity_kind == "area_m2" else "area_m2"
            try:
                wrong = capacity_column(table, other) if col is None else None
            except DgCoverageError:  # several columns of the other kind: still not this circle's
                wrong = None
            if wrong is not None:  # e.g. 床位数 in a list for a fitness circle: never read as m²
                warnings.warn(
                    f"{path}: candidate sites: column {wrong!r} holds {other.replace('_m2', ' (m²)')}, but this "
                    f"circle's capacity is {capacity_kind.replace('_m2', ' (m²)')}: ignored, the sites' sizes are "
                    "not given by the file. Fix: add a column of the circle's kind (or name it with capacity_column)",
                    DgCoverageWarning,
                    stacklevel=2,
                )
            if col is not None:  # no column: sizes simply not given (no warning: a candidate list often has none)
                capacity, _ = capacity_from_table(table, capacity_kind, str(path), column=col, check_plausible=True)
    if len(gdf) == 0:
        raise EmptyInputError(
            f"{path}: no candidate site inside the study area. Fix: check the file's "
            "coordinate system (--candidates-crs wgs84|gcj02|bd09)."
        )
    x, y = project_lonlat(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), study.graph.crs)
    node, dist = snap_points(study.graph, x, y, study.settings.max_snap_m)
    out = pd.DataFrame(
        {
            "site_id": gdf["facility_id"].astype(str).to_numpy(),
            "source": "file",
            "name": gdf["name"].fillna("").astype(str).to_numpy(),
            "lon": gdf.geometry.x.to_numpy(),
            "lat": gdf.geometry.y.to_numpy(),
            "node": node,
            "snap_m": dist,
            "weight": np.nan,
            "capacity": capacity,
        }
    )
    out.attrs["capacity_column"] = col
    return out


def road_class_candidates(study: Study, classes: list[str]) -> pd.DataFrame:
    """Every node touched by an edge whose OSM ``highway`` class is in ``classes``."""
    net = study.net
    if net.highway is None or not np.any(net.highway != ""):
        raise NetworkError(
            "the road network has no road classes (highway=*), e.g. the synthetic default. Fix: "
            "use an OSM network (--network file.osm.pbf) or candidates from gaps/a file."
        )
    want = {c.strip() for c in classes if c.strip()}
    mask = np.isin(net.highway, list(want))
    if not mask.any():
        known = sorted(set(net.highway.tolist()) - {""})[:20]
        raise NetworkError(f"no edge has highway class {sorted(want)}; classes in this network: {known}")
    sel = np.unique(np.concatenate([net.u[mask], net.v[mask]]))
    lon, lat = _node_lonlat(study, sel)
    return pd.DataFrame(
        {
            "site_id": [f"road:{int(net.node_id[v])}" for v in sel],
            "source": "road_class",
            "name": "",
            "lon": lon,
            "lat": lat,
            "node": sel,
            "snap_m": 0.0,
            "weight": np.nan,
        }
    )


def _assign_polygons(crs: Any, polygons: Any, lon: np.ndarray, lat: np.ndarray, max_m: float) -> np.ndarray:
    """Polygon index of each point: the containing polygon, else the nearest within ``max_m``; ``-1`` if none."""
    out = np.full(lon.shape[0], -1, dtype=np.int64)
    if len(polygons) == 0 or lon.size == 0:
        return out
    polys = polygons.to_crs(crs).to_numpy()
    x, y = project_lonlat(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), crs)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(pts, predicate="intersects")
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = gi[first]
    miss = np.nonzero(out < 0)[0]
    if miss.size:
        pi, gi = tree.query_nearest(pts[miss], max_distance=max_m, all_matches=False)
        out[miss[pi]] = gi
    return out


def _assign_towns(study: Study, lon: np.ndarray, lat: np.ndarray, max_m: float = 1000.0) -> np.ndarray:
    """Town row of each point: containing polygon, else nearest within ``max_m``; ``-1`` if none."""
    towns = study.towns
    ok = towns["has_polygon"].to_numpy().astype(bool) & towns.geometry.notna().to_numpy()
    idx = np.nonzero(ok)[0]
    got = _assign_polygons(study.graph.crs, towns.geometry.iloc[idx], lon, lat, max_m)
    return np.where(got >= 0, idx[np.maximum(got, 0)], -1)


def site_villages(study: Study, lon: np.ndarray, lat: np.ndarray, max_m: float = 3000.0) -> np.ndarray:
    """Village row (of ``study.villages``) each site lies in, else the nearest within ``max_m``; ``-1`` if none."""
    v = study.villages
    geom = v.geometry
    ok = v["has_area"].to_numpy().astype(bool) & geom.notna().to_numpy() & ~geom.is_empty.to_numpy()
    idx = np.nonzero(ok)[0]
    got = _assign_polygons(study.graph.crs, geom.iloc[idx], lon, lat, max_m)
    return np.where(got >= 0, idx[np.maximum(got, 0)], -1)


def _text(value: Any) -> str:
    """Return a cell as text (unchanged), missing values (None, NaN, NA), blanks and their spellings as ``""``."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    s = str(value)
    return "" if s.strip().lower() in {"", "nan", "none", "<na>", "nat"} else s


def site_names(given: Any, road: Any, town: Any, village: Any, rank: Any) -> list[str]:
    """Readable site names: the file's name, else ``"<road> 旁（<村>）"``, else ``"<镇街><村> 附近 #<rank>"``.

    Parameters
    ----------
    given, road, town, village
        Per site: the name given in the candidate file, the nearest road's name,
        the town (镇街) and the village (村/社区) the site lies in or is nearest to
        (empty when unknown).
    rank
        The site's rank in the planner list.

    Returns
    -------
    list of str
        Never empty and never the text "nan".
    """
    out = []
    for g, r, t, v, k in zip(given, road, town, village, rank, strict=True):
        g, r, t, v = _text(g), _text(r), _text(t), _text(v)
        if g:
            out.append(g)
        elif r:
            out.append(f"{r} 旁（{t}{v}）" if v or t else f"{r} 旁")
        elif t or v:
            out.append(f"{t}{v} 附近 #{int(k)}")
        else:
            out.append(f"候选点 site #{int(k)}")
    return out


def build_candidates(
    study: Study,
    base: CircleResult,
    *,
    gaps: bool = True,
    path: str | Path | None = None,
    crs: str | None = None,
    road_classes: list[str] | None = None,
    min_spacing_m: float | None = None,
    max_candidates: int = 5000,
    site_capacity: float | None = None,
) -> CandidateSet:
    """Collect candidates from the chosen sources, reject unusable ones (counted) and attach towns.

    Parameters
    ----------
    study, base
        The study and the circle measured with the existing facilities.
    gaps, path, crs, road_classes
        Candidate sources: gap clusters, a file (CSV/XLSX/GeoJSON in ``crs``), OSM road classes.
    min_spacing_m, max_candidates
        Thinning of generated candidates (default spacing :func:`default_spacing_m`).
    site_capacity
        Size of a new site in the unit of the circle's supply standard (m² or beds), for every
        candidate whose file gives none (all generated ones).  Only for circles with a supply
        standard; a size read from the candidate file's capacity column wins.

    Returns
    -------
    CandidateSet
        The candidates (``capacity`` NaN = size not given, ``capacity_source`` ``file``,
        ``site_capacity`` or empty) and the counts of generated and rejected ones.
    """
    circle = base.circle
    kind = circle.capacity if circle.has_supply else None
    if site_capacity is not None:
        if not kind:
            raise ConfigError(
                f"--site-capacity: circle {circle.id} has no supply standard (no capacity/supply_target in its "
                "config), so a site's size closes no deficit. Fix: drop --site-capacity, or choose a circle with one."
            )
        if not (math.isfinite(float(site_capacity)) and float(site_capacity) > 0):
            raise ConfigError(f"--site-capacity must be a number > 0 ({kind}), got {site_capacity!r}")
    parts: list[pd.DataFrame] = []
    generated: dict[str, int] = {}
    spacing = default_spacing_m(circle) if min_spacing_m is None else float(min_spacing_m)
    cap_col = None
    if gaps:
        parts.append(gap_candidates(study, uncovered_cells(study, base), spacing, max_candidates))
        generated["gap_cluster"] = len(parts[-1])
    if path is not None:
        parts.append(file_candidates(study, path, crs, kind, circle.capacity_column or None))
        cap_col = parts[-1].attrs.get("capacity_column")
        generated["file"] = len(parts[-1])
    if road_classes:
        parts.append(road_class_candidates(study, road_classes))
        generated["road_class"] = len(parts[-1])
    parts = [p for p in parts if len(p)]
    if not parts:
        raise EmptyInputError(
            "no candidate sites: the existing facilities already cover everyone reachable, or the "
            "chosen sources are empty. Fix: pass --candidates FILE or --road-class."
        )
    t = pd.concat(parts, ignore_index=True)
    t["node"] = t["node"].astype(np.int64)
    cap = t["capacity"].to_numpy(dtype=float) if "capacity" in t.columns else np.full(len(t), np.nan)
    given = np.isfinite(cap)
    t["capacity_source"] = np.where(given, "file", "")
    if site_capacity is not None:
        t["capacity_source"] = np.where(given, "file", "site_capacity")
        cap = np.where(given, cap, float(site_capacity))
        unread = (t["source"].to_numpy() == "file") & ~given
        if cap_col is not None and unread.any():  # their cells were said "capacity unknown" when read
            warnings.warn(
                f"{path}: {int(unread.sum())} candidate site(s) without a readable capacity in column {cap_col!r} "
                f"take --site-capacity = {float(site_capacity):g} ({kind})",
                DgCoverageWarning,
                stacklevel=2,
            )
    t["capacity"] = cap
    rejected: dict[str, int] = {}
    off = t["node"].to_numpy() < 0
    rejected["off_network"] = int(off.sum())
    t = t[~off].reset_index(drop=True)
    # network parts where nobody lives (no populated, snapped cell): proxy for water/unusable land
    g = study.graph
    on = study.cell_node >= 0
    comp_pop = np.bincount(
        g.component[study.cell_node[on]], weights=study.cell_pop[on], minlength=int(g.component.max()) + 1
    )
    empty = comp_pop[g.component[t["node"].to_numpy()]] <= 0
    rejected["no_population_component"] = int(empty.sum())
    t = t[~empty].reset_index(drop=True)
    town = _assign_towns(study, t["lon"].to_numpy(), t["lat"].to_numpy())
    rejected["outside_towns"] = int((town < 0).sum())
    t = t[town >= 0].reset_index(drop=True)
    town = town[town >= 0]
    t["town_code"] = study.towns["town_code"].to_numpy()[town].astype(str)
    t["town_name"] = study.towns["town_name"].to_numpy()[town].astype(str)
    if road_classes and len(t) > max_candidates:
        # too many road nodes: keep a spread-out subset, heaviest uncovered population first
        unc = uncovered_cells(study, base)
        w = np.bincount(study.cell_node[unc], weights=study.cell_pop[unc], minlength=g.n_nodes)
        t["weight"] = t["weight"].fillna(pd.Series(w[t["node"].to_numpy()]))
        before = len(t)
        t = _thin(t, g, spacing, max_candidates)
        rejected["thinned"] = before - len(t)
    for k, v in rejected.items():
        if v and k != "thinned":
            warnings.warn(f"{v} candidate site(s) rejected: {k.replace('_', ' ')}", DgCoverageWarning, stacklevel=2)
    out = CandidateSet(t, rejected, generated)
    out.capacity = {
        "kind": kind,
        "column": cap_col,
        "site_capacity": None if site_capacity is None else float(site_capacity),
    }
    return out


def _spread(tree: cKDTree, xy: np.ndarray, order: np.ndarray, spacing: float, cap: int) -> list[int]:
    """Greedy thinning: walk ``order`` (heaviest first), keep a point, drop every point within ``spacing`` of it."""
    suppressed = np.zeros(xy.shape[0], dtype=bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        if len(keep) >= cap:
            break
        suppressed[tree.query_ball_point(xy[i], spacing)] = True
    return keep


def _thin(t: pd.DataFrame, g: Any, spacing: float, cap: int) -> pd.DataFrame:
    xy = np.column_stack([g.x[t["node"].to_numpy()], g.y[t["node"].to_numpy()]])
    order = np.lexsort((np.arange(len(t)), -t["weight"].fillna(0).to_numpy()))
    keep = _spread(cKDTree(xy), xy, order, spacing, cap)
    return t.iloc[sorted(keep)].reset_index(drop=True)


def node_road_names(net: Any, nodes: np.ndarray) -> np.ndarray:
    """Return a street name at each node (first named edge leaving or entering it), ``""`` if unknown."""
    out = np.full(nodes.shape[0], "", dtype=object)
    if net.name is None:
        return out
    named = net.name != ""
    if not named.any():
        return out
    ends = np.concatenate([net.u[named], net.v[named]])
    names = np.concatenate([net.name[named], net.name[named]])
    o = np.argsort(ends, kind="stable")
    ends, names = ends[o], names[o]
    pos = np.searchsorted(ends, nodes)
    hit = (pos < ends.size) & (ends[np.minimum(pos, ends.size - 1)] == nodes)
    out[hit] = names[pos[hit]]
    return out


@dataclass
class SitingResult:
    """Ranked sites (planner table), the run summary and the full candidate set."""

    table: pd.DataFrame
    summary: dict[str, Any]
    candidates: CandidateSet


def _sol_record(s: siting.Solution) -> dict[str, Any]:
    rec = {
        "sites": len(s.sites),
        "objective": round(float(s.objective), 1) if np.isfinite(s.objective) else None,
        "covered_population": round(float(s.info.get("people", s.covered_weight)), 1),
        "status": s.status,
        "seconds": round(s.seconds, 3),
    }
    if s.status == "skipped_too_large":
        rec["skipped"] = (
            f"merged coverage matrix has {s.info['nnz']:,} non-zeros > {s.info['max_nnz']:,} (--exact-max-nnz)"
        )
    if s.method == "exact":
        rec["mip_gap"] = None if s.mip_gap is None or not np.isfinite(s.mip_gap) else float(s.mip_gap)
        rec["bound"] = None if s.bound is None or not np.isfinite(s.bound) else round(float(s.bound), 1)
    return rec


def plan_sites(
    study: Study,
    base: CircleResult,
    cands: CandidateSet | None = None,
    k: int = 10,
    *,
    lscp: bool = False,
    lscp_share: float = 1.0,
    exact: bool = False,
    max_per_town: int | None = None,
    time_limit: float = 600.0,
    exact_max_nnz: int | None = siting.MAX_EXACT_NNZ,
    lscp_villages: bool = False,
    deficit_weight: float = 0.0,
) -> SitingResult:
    """Optimise new sites for one circle with the existing facilities fixed and rank them for planners.

    Demand is the populated, on-network cells the existing facilities leave
    uncovered; weights are people.  MCLP (``k`` sites) always runs greedily,
    also exactly with ``exact``; with ``lscp`` the set-covering problem runs
    too (greedy, and exact with ``exact``) and its solution is the one listed.
    LSCP target: ``lscp_share`` of the uncovered people that *some candidate
    can reach* (people no candidate reaches cannot be helped by these
    candidates and are reported as ``uncoverable_population``).

    With ``lscp_villages`` the policy-literal cover runs as well: the fewest
    sites so that every village reaches the circle's ``covered_min_share`` of
    people within the limit ("100% 覆盖村(社区)"); villages no set of candidates
    can lift that far are counted as unattainable.

    The listed solution is: village LSCP if asked, else LSCP if asked, else
    exact MCLP if run, else greedy MCLP; exact solutions are put in greedy
    order so the cumulative columns show how coverage grows site by site.

    Parameters
    ----------
    study, base
        The study and the circle measured with the existing facilities.
    cands
        Candidate sites (:func:`build_candidates`); default: gap-cluster
        candidates of ``base``.
    k
        Number of new sites for MCLP.
    lscp, lscp_share, lscp_villages, exact, max_per_town, time_limit, exact_max_nnz
        Which problems to solve and how (see the README's siting section).
    deficit_weight
        ``a >= 0``: MCLP maximises people weighted by their town's supply
        shortfall, ``people x (1 + a x deficit / required supply)`` of the town
        (:func:`deficit_weights`; circles with a supply standard).  0: people
        only.  The listed columns stay in people; LSCP problems use people.

    Returns
    -------
    SitingResult
        ``table`` (ranked sites, WGS84 and GCJ-02 coordinates, town, newly
        covered people and villages), ``summary`` and the candidates.
    """
    if cands is None:
        cands = build_candidates(study, base)
    circle = base.circle
    t0 = time.perf_counter()
    unc = uncovered_cells(study, base)
    dem = np.nonzero(unc)[0]
    a = circle.access_speed_mps
    tab = cands.table
    A = siting.coverage_matrix(
        study.graph.rev,
        circle.speed_mps,
        tab["node"].to_numpy(),
        tab["snap_m"].to_numpy() / a,
        study.cell_node[dem],
        study.cell_snap_m[dem] / a,
        circle.limit_s,
        progress=True,
    )
    w = study.cell_pop[dem].astype(np.float64)
    t_sets = time.perf_counter() - t0
    A2, w2, col_group = siting.aggregate_demand(A, w)
    objective = _objective(study, base, dem, deficit_weight)
    wm2 = _weighted_demand(w, col_group, A2.shape[1], objective.pop("cell_factor", None))
    group = tab["town_code"].to_numpy() if max_per_town is not None else None
    sol: dict[str, siting.Solution] = _solve_mclp(
        A2, w2, wm2, k, group, max_per_town, exact=exact, time_limit=time_limit, exact_max_nnz=exact_max_nnz
    )
    if lscp:
        sol["lscp_greedy"] = siting.greedy_lscp(A2, w2, lscp_share, group, max_per_town)
        if exact:
            sol["lscp_exact"] = siting.exact_lscp(
                A2, w2, lscp_share, group, max_per_town, time_limit=time_limit, aggregate=False, max_nnz=exact_max_nnz
            )
    if lscp_villages:
        need = village_needs(study, base)
        cv = study.cell_village[dem]
        sol["lscp_villages_greedy"] = siting.greedy_lscp_villages(A, w, cv, need, group, max_per_town)
        if exact:
            sol["lscp_villages_exact"] = siting.exact_lscp_villages(
                A, w, cv, need, group, max_per_town, time_limit=time_limit, max_nnz=exact_max_nnz
            )
    kind, prefix = ("lscp", "lscp_villages") if lscp_villages else ("lscp", "lscp") if lscp else ("mclp", "mclp")
    best = siting.best_solution(sol[f"{prefix}_greedy"], sol.get(f"{prefix}_exact"), kind)
    chosen_key = f"{prefix}_{best.method}"
    chosen = sol[chosen_key]
    if chosen.method == "greedy" and not chosen_key.startswith("lscp_villages"):
        order = chosen.sites
    else:  # exact sets, and the village cover (whose greedy gains are deficits, not people), in people order
        order, _ = siting.order_sites(A2, wm2 if wm2 is not None and prefix == "mclp" else w2, chosen.sites)
    table = _rank_table(study, base, cands, A, dem, order, chosen_key)
    sup_cols, sup_summary = _supply_columns(base, table, cands, order)
    if len(sup_cols.columns):
        at = table.columns.get_loc("cum_village_pass_rate") + 1
        table = pd.concat([table.iloc[:, :at], sup_cols, table.iloc[:, at:]], axis=1)
    pop_total = float(study.cell_pop.sum())
    base_cov = float(study.cell_pop[base.cell_class == REACHED].sum())
    coverable = float(w[np.asarray(A.sum(axis=0)).ravel() > 0].sum())
    summary: dict[str, Any] = {
        "circle": {
            "id": circle.id,
            "name_zh": circle.name_zh,
            "minutes": circle.minutes,
            "mode": circle.mode,
            "speed_kmh": circle.speed_kmh,
            "access_speed_kmh": circle.access_speed_kmh,
        },
        "synthetic": bool(base.summary.get("synthetic")),
        "k": int(k),
        "max_per_town": max_per_town,
        "lscp_share": lscp_share if lscp else None,
        "listed_solution": chosen_key,
        "objective": objective,
        "candidates": {
            "generated": cands.generated,
            "rejected": cands.rejected,
            "used": int(len(tab)),
            "covering_something": int((np.diff(A.indptr) > 0).sum()),
        },
        "demand": {
            "population": round(pop_total, 1),
            "covered_by_existing": round(base_cov, 1),
            "uncovered_on_network": round(float(w.sum()), 1),
            "coverable_by_candidates": round(coverable, 1),
            "uncoverable_population": round(float(w.sum()) - coverable, 1),
            "cells": int(dem.size),
            "merged_demand_groups": int(A2.shape[1]),
            "matrix_nonzeros": int(A.nnz),
            "merged_matrix_nonzeros": int(A2.nnz),
        },
        "solutions": {key: _sol_record(s) for key, s in sol.items()},
        "supply": sup_summary,
        "timing_s": {"coverage_sets": round(t_sets, 3), "total": round(time.perf_counter() - t0, 3)},
        "definitions": {
            "demand": "populated 100 m cells on the network not within the limit of an existing facility",
            "covered_by_site": "site leg + network time (cell node -> site node) + cell leg <= limit",
            "lscp": "fewest sites covering lscp_share of the uncovered people that at least one candidate reaches",
            "village_covered": f">= {circle.covered_min_share:.0%} of a village's people within the limit (as "
            "villages.csv)",
        },
    }
    if "mclp_exact" in sol:
        summary["mclp_gap_greedy_vs_exact"] = siting.optimality_gap(sol["mclp_greedy"], sol["mclp_exact"], "mclp")
    if "lscp_exact" in sol:
        summary["lscp_gap_greedy_vs_exact"] = siting.optimality_gap(sol["lscp_greedy"], sol["lscp_exact"], "lscp")
    if "lscp_villages_exact" in sol:
        summary["lscp_villages_gap_greedy_vs_exact"] = siting.optimality_gap(
            sol["lscp_villages_greedy"], sol["lscp_villages_exact"], "lscp"
        )
    if lscp_villages:
        info = sol["lscp_villages_greedy"].info
        summary["lscp_villages"] = {k: info[k] for k in ("villages_targeted", "villages_met", "villages_unattainable")}
        summary["definitions"]["lscp_villages"] = (
            f"fewest sites so that every village with data has >= {circle.covered_min_share:.0%} of its people within "
            "the limit (existing facilities included); villages that all candidates together cannot lift that far "
            "are 'unattainable' and left out"
        )
    return SitingResult(table, summary, cands)


def _weighted_demand(
    w: np.ndarray, col_group: np.ndarray, n_groups: int, cell_factor: np.ndarray | None
) -> np.ndarray | None:
    """Return the merged demand weights ``people x factor`` (merged as ``col_group``); ``None`` when unweighted."""
    if cell_factor is None:
        return None
    on = col_group >= 0
    return np.bincount(col_group[on], weights=(w * cell_factor)[on], minlength=n_groups).astype(np.float64)


def _solve_mclp(
    A2: Any,
    w2: np.ndarray,
    wm2: np.ndarray | None,
    k: int,
    group: np.ndarray | None,
    max_per_town: int | None,
    *,
    exact: bool,
    time_limit: float,
    exact_max_nnz: int | None,
) -> dict[str, siting.Solution]:
    """Greedy (and exact) MCLP on people, or on weighted demand ``wm2`` with the people they cover recorded."""
    wt = w2 if wm2 is None else wm2
    sol = {"mclp_greedy": siting.greedy_mclp(A2, wt, k, group, max_per_town)}
    if exact:
        sol["mclp_exact"] = siting.exact_mclp(
            A2, wt, k, group, max_per_town, time_limit=time_limit, aggregate=False, max_nnz=exact_max_nnz
        )
    if wm2 is not None:  # report people beside the weighted objective
        for s in sol.values():
            s.info["people"] = siting.covered_weight(A2, w2, s.sites)
    return sol


def deficit_weights(base: CircleResult, deficit_weight: float) -> pd.Series:
    """Demand factor per town for the deficit-weighted MCLP: ``1 + a x deficit / required supply``.

    The town's unmet share of its supply standard (0 when it passes, 1 when it
    has nothing) scales the bonus ``a``; towns without a figure (no people, no
    standard) get 1.  Where capacities are unknown the deficit is an upper
    bound, and so is the bonus.

    Parameters
    ----------
    base
        The circle measured with the existing facilities (its ``towns`` table).
    deficit_weight
        The bonus ``a >= 0`` (1: people of a town with nothing count double).

    Returns
    -------
    pandas.Series
        Factor by town code.
    """
    t = base.towns.assign(town_code=base.towns["town_code"].astype(str)).set_index("town_code")
    req = pd.to_numeric(t["required_supply"], errors="coerce")
    with np.errstate(invalid="ignore", divide="ignore"):
        unmet = (pd.to_numeric(t["deficit"], errors="coerce") / req.where(req > 0)).clip(0.0, 1.0)
    return 1.0 + float(deficit_weight) * unmet.fillna(0.0)


def _objective(study: Study, base: CircleResult, dem: np.ndarray, deficit_weight: float) -> dict[str, Any]:
    """Describe the MCLP objective and, when deficit-weighted, the factor of each demand cell (``cell_factor``)."""
    a = float(deficit_weight)
    if not (math.isfinite(a) and a >= 0):
        raise ConfigError(f"--deficit-weight must be a number >= 0, got {deficit_weight!r}")
    if a == 0:
        return {"mclp": "newly covered people", "deficit_weight": 0.0}
    if not base.circle.has_supply or "deficit" not in base.towns.columns:
        raise ConfigError(
            f"--deficit-weight: circle {base.circle.id} has no supply standard measured, so there is no deficit to "
            "weigh. Fix: drop --deficit-weight, or choose a circle with a supply target."
        )
    factor = deficit_weights(base, a)
    cv = study.cell_village[dem]
    vtown = study.villages["town_code"].astype(str).to_numpy()
    town = np.where(cv >= 0, vtown[np.maximum(cv, 0)], "")
    cell_factor = pd.Series(town).map(factor).fillna(1.0).to_numpy(dtype=float)
    return {
        "mclp": "newly covered people x (1 + deficit_weight x the town's deficit / required supply)",
        "deficit_weight": a,
        "town_factor": {k: round(float(v), 6) for k, v in factor.items() if k != "441900"},
        "note": "solutions' objective is the weighted sum; covered_population and the listed columns are people",
        "cell_factor": cell_factor,
    }


def village_needs(study: Study, base: CircleResult) -> np.ndarray:
    """People each village still needs within the limit to count as covered (``<= 0``: already covered or no data)."""
    nv = len(study.villages)
    inv = study.cell_village >= 0
    vpop = np.bincount(study.cell_village[inv], weights=study.cell_pop[inv], minlength=nv)
    hit = inv & (base.cell_class == REACHED)
    vreach = np.bincount(study.cell_village[hit], weights=study.cell_pop[hit], minlength=nv)
    has = study.villages["has_area"].to_numpy().astype(bool) & (vpop > 0)
    return np.where(has, base.circle.covered_min_share * vpop - vreach, 0.0)


def _rank_table(
    study: Study, base: CircleResult, cands: CandidateSet, A: Any, dem: np.ndarray, order: list[int], method: str
) -> pd.DataFrame:
    circle = base.circle
    tab = cands.table.iloc[order].reset_index(drop=True)
    nv = len(study.villages)
    inv = study.cell_village >= 0
    vpop = np.bincount(study.cell_village[inv], weights=study.cell_pop[inv], minlength=nv)
    reach0 = inv & (base.cell_class == REACHED)
    vreach = np.bincount(study.cell_village[reach0], weights=study.cell_pop[reach0], minlength=nv)
    has_area = study.villages["has_area"].to_numpy().astype(bool)
    with_data = has_area & (vpop > 0)
    thr = circle.covered_min_share - 1e-12

    def vcovered(r: np.ndarray) -> np.ndarray:
        return with_data & (r >= thr * np.where(vpop > 0, vpop, 1))

    was = vcovered(vreach)
    vname = np.array([_text(x) or "?" for x in study.villages["name"]], dtype=object)
    vcode = np.array([_text(x) for x in study.villages["code"]], dtype=object)
    pop_total = float(study.cell_pop.sum())
    cum_cov = float(study.cell_pop[base.cell_class == REACHED].sum())
    covered = np.zeros(dem.size, dtype=bool)
    ptr, ind = A.indptr, A.indices
    rows: list[dict[str, Any]] = []
    cum_new = 0.0
    for rank, j in enumerate(order, start=1):
        cols = ind[ptr[j] : ptr[j + 1]]
        new = cols[~covered[cols]]
        covered[new] = True
        cells = dem[new]
        pop_new = float(study.cell_pop[cells].sum())
        cum_new += pop_new
        cum_cov += pop_new
        cv = study.cell_village[cells]
        okv = cv >= 0
        add = np.bincount(cv[okv], weights=study.cell_pop[cells][okv], minlength=nv)
        vreach = vreach + add
        now = vcovered(vreach)
        flipped = np.nonzero(now & ~was)[0]
        was = now
        reached = np.nonzero(add > 0)[0]
        reached = reached[np.argsort(-add[reached], kind="stable")]
        rows.append(
            {
                "rank": rank,
                "new_population": round(pop_new, 1),
                "new_villages_covered": int(flipped.size),
                "new_villages_covered_names": "、".join(vname[flipped]),
                "villages_reached_names": "、".join(f"{vname[i]} {_people(add[i])}" for i in reached),
                "villages_reached": ";".join(f"{vcode[i]}:{add[i]:.1f}" for i in reached),
                "cum_new_population": round(cum_new, 1),
                "cum_covered_population": round(cum_cov, 1),
                "cum_covered_share": cum_cov / pop_total if pop_total else np.nan,
                "cum_villages_covered": int(now.sum()),
                "cum_village_pass_rate": float(now.sum() / max(int(with_data.sum()), 1)),
            }
        )
    nodes = tab["node"].to_numpy().astype(np.int64)
    glon, glat = from_wgs84(tab["lon"].to_numpy(), tab["lat"].to_numpy(), "gcj02")
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(tab) + 1),
            "site_id": tab["site_id"].to_numpy(),
            "source": tab["source"].to_numpy(),
            "name": tab["name"].to_numpy(),  # the readable name is set below, once ranks and roads are known
            "lon": np.round(tab["lon"].to_numpy(), 7),
            "lat": np.round(tab["lat"].to_numpy(), 7),
            "lon_gcj02": np.round(np.atleast_1d(glon), 7),
            "lat_gcj02": np.round(np.atleast_1d(glat), 7),
            "town_code": tab["town_code"].to_numpy(),
            "town_name": tab["town_name"].to_numpy(),
            "road_name": node_road_names(study.net, nodes),
            "node": nodes,
            "snap_m": np.round(tab["snap_m"].to_numpy(), 1),
        }
    )
    sv = site_villages(study, tab["lon"].to_numpy(), tab["lat"].to_numpy())
    has_v = sv >= 0
    v_town = np.where(has_v, study.villages["town_name"].to_numpy()[np.maximum(sv, 0)], tab["town_name"].to_numpy())
    out["name"] = site_names(
        tab["name"], out["road_name"], v_town, np.where(has_v, vname[np.maximum(sv, 0)], ""), out["rank"]
    )
    at = out.columns.get_loc("town_name") + 1
    out.insert(at, "village_code", np.where(has_v, vcode[np.maximum(sv, 0)], ""))
    out.insert(at + 1, "village_name", np.where(has_v, vname[np.maximum(sv, 0)], ""))
    if rows:
        out = pd.concat([out, pd.DataFrame(rows).drop(columns="rank")], axis=1)
    else:
        for c in (
            "new_population",
            "new_villages_covered",
            "new_villages_covered_names",
            "villages_reached_names",
            "villages_reached",
            "cum_new_population",
            "cum_covered_population",
            "cum_covered_share",
            "cum_villages_covered",
            "cum_village_pass_rate",
        ):
            out[c] = pd.Series(dtype=float)
    out["method"] = method
    out["synthetic"] = bool(base.summary.get("synthetic"))
    return out


SUPPLY_COLUMNS = (
    "capacity",
    "capacity_unit",
    "capacity_source",
    "town_supply_status",
    "town_deficit_before",
    "deficit_closed",
    "deficit_closed_share",
    "town_deficit_closed_cum",
    "town_deficit_closed_cum_share",
    "town_deficit_after",
)


def deficit_closure(town_code: Any, capacity: Any, deficit_before: Any) -> pd.DataFrame:
    """How much of each town's supply deficit a ranked list of new sites closes, site by site.

    Walking the list in rank order, a site closes ``min(its capacity, what is
    still missing in its town)``: the first sites of a town close its deficit
    first, and nothing is closed beyond it (a surplus is not a deficit closed).

    Parameters
    ----------
    town_code
        Town (镇街) code of each site, in rank order.
    capacity
        Size of each site (m² or beds); NaN = not given: the site closes an
        unknown amount, its own columns are empty and it adds nothing to its
        town's cumulative figures (which are then lower bounds).
    deficit_before
        The town's deficit before any new site (m² or beds, from the base run's
        supply ratios; NaN = unknown, e.g. a town without people).

    Returns
    -------
    pandas.DataFrame
        Per site: ``deficit_closed``, ``deficit_closed_share`` (of the town's
        deficit before; NaN when that is 0 or unknown), ``town_deficit_closed_cum``
        and ``town_deficit_closed_cum_share`` (this and the earlier sites of the
        town), and ``town_deficit_after`` (the town's deficit left after the whole
        list; NaN when no site of the town has a size).
    """
    town = np.asarray(town_code, dtype=object).reshape(-1)
    cap = np.asarray(capacity, dtype=float).reshape(-1)
    before = np.asarray(deficit_before, dtype=float).reshape(-1)
    n = town.size
    closed = np.full(n, np.nan)
    cum = np.full(n, np.nan)
    left: dict[Any, float] = {}
    done: dict[Any, float] = {}
    for i in range(n):
        t = town[i]
        if not np.isfinite(before[i]):
            continue
        rem = left.setdefault(t, float(before[i]))
        if np.isfinite(cap[i]):
            closed[i] = min(cap[i], rem)
            left[t] = rem - closed[i]
            done[t] = done.get(t, 0.0) + closed[i]
            cum[i] = done[t]
    after = np.array([left[t] if t in done else np.nan for t in town], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(before > 0, before, np.nan)
        return pd.DataFrame(
            {
                "deficit_closed": closed,
                "deficit_closed_share": closed / safe,
                "town_deficit_closed_cum": cum,
                "town_deficit_closed_cum_share": cum / safe,
                "town_deficit_after": after,
            }
        )


def _supply_columns(
    base: CircleResult, table: pd.DataFrame, cands: CandidateSet, order: list[int]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the supply columns of the planner list and ``siting_summary.json`` → ``supply``."""
    circle = base.circle
    sup = base.summary.get("supply") or {}
    towns = base.towns
    if not circle.has_supply or "deficit" not in towns.columns:
        return pd.DataFrame(index=table.index), {
            "standard": None,
            "note": f"{circle.id} has no supply standard measured (no capacity/supply_target): sizes are not used",
        }
    unit = "m2" if circle.capacity == "area_m2" else "beds"
    tt = towns.assign(town_code=towns["town_code"].astype(str)).set_index("town_code")
    code = table["town_code"].astype(str)
    before = code.map(tt["deficit"]).to_numpy(dtype=float)
    status = code.map(tt["supply_status"]).fillna("").astype(str).to_numpy()
    ordered = cands.table.iloc[order].reset_index(drop=True).set_index(table.index)
    cap = ordered["capacity"].to_numpy(dtype=float) if "capacity" in ordered else np.full(len(table), np.nan)
    src = ordered["capacity_source"].map(_text) if "capacity_source" in ordered else ""
    given = np.isfinite(cap)
    cols = pd.DataFrame(
        {
            "capacity": cap,
            "capacity_unit": np.where(given, unit, ""),
            "capacity_source": src,
            "town_supply_status": status,
            "town_deficit_before": before,
        },
        index=table.index,
    )
    cols = pd.concat([cols, deficit_closure(code.to_numpy(), cap, before).set_index(table.index)], axis=1)
    info = cands.capacity
    summary: dict[str, Any] = {
        "standard": sup.get("indicator") or circle.supply_indicator,
        "source": sup.get("source") or circle.supply_source,
        "unit": unit,
        "ratio_unit": sup.get("ratio_unit"),
        "capacity": "given" if given.any() or info.get("site_capacity") is not None else "capacity not given",
        "site_capacity": info.get("site_capacity"),
        "candidate_file_capacity_column": info.get("column"),
        "sites_with_capacity": int(given.sum()),
        "sites_capacity_not_given": int((~given).sum()),
    }
    sized = summary["capacity"] == "given"
    if not sized:
        summary["note"] = (
            "capacity not given: pass --site-capacity N (in "
            + unit
            + ") or a capacity column in --candidates to see how much of each town's deficit the sites close"
        )
    rows = []
    for t in dict.fromkeys(code.tolist()):
        m = (code == t).to_numpy()
        b = float(before[m][0])
        closed = cols["deficit_closed"].to_numpy()[m]
        rows.append(
            {
                "town_code": t,
                "town_name": _text(table["town_name"].to_numpy()[m][0]),
                "supply_status": _text(status[m][0]),
                "deficit_before": _rnd(b),
                "sites": int(m.sum()),
                "capacity_added": _rnd(float(np.nansum(cap[m]))) if given[m].any() else None,
                "deficit_closed": _rnd(float(np.nansum(closed))) if given[m].any() and np.isfinite(b) else None,
                "deficit_after": _rnd(b - float(np.nansum(closed))) if given[m].any() and np.isfinite(b) else None,
            }
        )
    summary["towns"] = rows
    if "441900" in tt.index:
        city_before = float(tt.loc["441900", "deficit"])
        added = float(np.nansum(cap))
        summary["city"] = {
            "deficit_before": _rnd(city_before),
            "capacity_added": _rnd(added) if sized else None,
            "deficit_after": _rnd(max(0.0, city_before - added)) if sized and np.isfinite(city_before) else None,
        }
    summary["deficit_closed_total"] = _rnd(float(np.nansum(cols["deficit_closed"].to_numpy()))) if sized else None
    summary["definitions"] = {
        "town_deficit_before": "the town's deficit in the base run (towns.csv deficit: max(0, target x people - known "
        "supply); an upper bound where the town has facilities of unknown capacity)",
        "deficit_closed": "min(site capacity, the town's deficit still open after the higher-ranked sites of the "
        "town); a site in a town without a deficit closes 0",
        "town_deficit_after": "the town's deficit left after every listed site of the town",
        "city": "the city row nets towns' surpluses against shortfalls (as towns.csv): city deficit after = "
        "max(0, before - all capacity added)",
        "town_of_site": "the town polygon the site lies in (the base run places a facility in the town of its village)",
        "size_not_given": "a site without a size closes an unknown amount: its own columns are empty and it adds "
        "nothing to its town's cumulative figures, which are then lower bounds (deficits left: upper bounds)",
    }
    return cols, summary


def _rnd(x: float, nd: int = 2) -> float | None:
    return round(float(x), nd) if np.isfinite(x) else None


def _people(x: float) -> str:
    """People as a planner reads them: whole, with thousands separators (``"<1"`` for a fraction of one)."""
    return f"{x:,.0f}" if x >= 0.5 else "<1"


def _clean(v: Any) -> Any:
    if v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else round(float(v), 7)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


#: Chinese labels of the planner list's columns that the shared table labels (coverage.LABELS_ZH) lack.
SITE_LABELS_ZH = {
    "village_name": "所在(最近)村(社区)",
    "villages_reached": "新增覆盖村(社区)代码:人数",
    "capacity": "规模(容量)",
    "capacity_unit": "规模单位",
    "capacity_source": "规模来源",
    "town_supply_status": "镇街供给状态",
    "town_deficit_before": "镇街供给缺口(选址前)",
    "deficit_closed": "本点填补缺口",
    "deficit_closed_share": "本点填补缺口占比",
    "town_deficit_closed_cum": "镇街累计填补缺口",
    "town_deficit_closed_cum_share": "镇街累计填补缺口占比",
    "town_deficit_after": "镇街剩余缺口(全部选址后)",
}

#: What each column of the planner list means (the xlsx's 说明 about sheet).
SITE_COLUMN_NOTES = {
    "rank": "order of the list: each site adds the most newly covered people given the sites above it",
    "site_id": "candidate id (gap:<node>, road:<osm node>, or the id/line of the candidate file)",
    "name": "the candidate file's name, else '<road> 旁（<镇街><村>）' when the road is named, "
    "else '<镇街><村> 附近 #rank'",
    "village_code": "the village (村/社区) the site lies in, else the nearest one (within 3 km)",
    "villages_reached_names": "every village whose people the site newly covers, with those people, largest first",
    "villages_reached": "the same as village code:people (one decimal), separated by ';'",
    "new_population": "people newly within the limit thanks to this site (not covered by the sites above it)",
    "cum_covered_share": "share of all people within the limit with this site and the ones above it",
    "capacity": "the site's size in the unit of the circle's supply standard (m2 or beds); empty = not given",
    "town_deficit_before": "the town's supply deficit in the base run (towns.csv deficit)",
    "deficit_closed": "min(capacity, the town's deficit still open after the higher-ranked sites of the town)",
    "town_deficit_closed_cum": "deficit closed by this site and the higher-ranked sites of its town",
    "town_deficit_after": "the town's deficit left after every listed site of the town",
}

_DECIMALS_2 = (
    "capacity",
    "town_deficit_before",
    "deficit_closed",
    "town_deficit_closed_cum",
    "town_deficit_after",
)


def site_header(column: str) -> str:
    """Return the ``"id 中文"`` header of a planner-list column."""
    if column in LABELS_ZH:
        return bilingual_name(column)
    return f"{column} {SITE_LABELS_ZH[column]}" if column in SITE_LABELS_ZH else column


def _blank(v: Any) -> Any:
    """Return ``""`` for a missing value or its text spelling ("nan", "None"), else the value."""
    if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, str) and v.strip().lower() in {"nan", "none", "<na>", "nat"}:
        return ""
    return v


def _blank_missing(t: pd.DataFrame) -> pd.DataFrame:
    """Return ``t`` with missing text cells empty, so no file shows "nan" or "None" (numbers stay NaN: empty cells)."""
    t = t.copy()
    for c in t.columns:
        if pd.api.types.is_object_dtype(t[c]) or pd.api.types.is_string_dtype(t[c]):
            t[c] = t[c].map(_blank)
    return t


def write_sites(result: SitingResult, circle_id: str, out_dir: str | Path) -> Path:
    """Write ``candidates.csv`` (UTF-8 BOM, bilingual headers), ``.xlsx``, ``.geojson`` and ``siting_summary.json``.

    Text is never written as a formula: the CSV guards formula-like text with an apostrophe and the
    XLSX stores it as string cells (:mod:`dgcoverage.io`).  Numbers are written with fixed decimals
    (coordinates 7, amounts of supply 2, everything else 6), never ``%g``; a missing value is an
    empty cell (``null`` in JSON), never the text "nan".  The workbook has a frozen, filtered header,
    column widths that show the headers, people with thousands separators, shares as %, and prints
    landscape, fit to width (:func:`dgcoverage.io.style_table_sheet`).

    Parameters
    ----------
    result
        The ranked sites (:func:`plan_sites`).
    circle_id
        The circle; files go to ``<out_dir>/<circle_id>/``.
    out_dir
        The output folder.

    Returns
    -------
    pathlib.Path
        The circle's folder.
    """
    from .io import guard_workbook, style_table_sheet, xlsx_frame

    d = Path(out_dir) / circle_id
    d.mkdir(parents=True, exist_ok=True)
    # people and counts as whole numbers; coordinates to 7 decimals (~1 cm, as facilities.csv), other floats 6
    t, decimals = table_for_output(_blank_missing(result.table))
    decimals.update({c: 7 for c in ("lon", "lat", "lon_gcj02", "lat_gcj02") if c in t})
    decimals.update({c: 2 for c in _DECIMALS_2 if c in t and c in decimals})
    headed = t.rename(columns=site_header)
    write_csv(headed, d / "candidates.csv", decimals=decimals)
    summary = result.summary
    with atomic_path(d / "candidates.xlsx") as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        xlsx_frame(headed).to_excel(xw, index=False, sheet_name="候选点 candidates")
        sup = summary.get("supply") or {}
        circle = summary.get("circle", {})
        rows = [
            ("circle 服务圈", f"{circle_id} {_text(circle.get('name_zh'))}".strip()),
            ("listed_solution 求解方法", summary["listed_solution"]),
            ("synthetic 合成数据", "yes 是" if summary["synthetic"] else "no 否"),
            ("note 说明", _note(summary["synthetic"])),
            ("supply standard 供给标准", _text(sup.get("standard")) or "none 无"),
            ("site capacity 规模", _text(sup.get("capacity")) or "—"),
        ]
        if sup.get("note"):
            rows.append(("supply note 供给说明", sup["note"]))
        rows += [(site_header(c), text) for c, text in SITE_COLUMN_NOTES.items() if c in t.columns]
        note = pd.DataFrame(rows, columns=["key 项目", "value 内容"])
        xlsx_frame(note).to_excel(xw, index=False, sheet_name="说明 about")
        amounts = {c: "#,##0.00" for c in _DECIMALS_2}  # m² or beds, as in the CSV
        style_table_sheet(xw.book["候选点 candidates"], header_row=1, formats={**amounts, "snap_m": "#,##0.0"})
        style_table_sheet(xw.book["说明 about"], header_row=1, max_width=100, landscape=False)
        guard_workbook(xw.book)  # names starting with "=" stay string cells, never formulas
    feats = []
    for rec in t.to_dict(orient="records"):
        props = {k: _clean(v) for k, v in rec.items()}
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [props["lon"], props["lat"]]},
            }
        )
    write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "name": f"{circle_id}_candidates",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
                "features": feats,
            },
            ensure_ascii=False,
        )
        + "\n",
        d / "candidates.geojson",
    )
    write_json(summary, d / "siting_summary.json")
    return d


def _note(synthetic: bool) -> str:
    from .embedded import SYNTHETIC_NOTE

    return SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed in siting_summary.json."
