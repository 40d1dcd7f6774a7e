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
import time
import warnings
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
from .coverage import bilingual, table_for_output
from .errors import DgCoverageWarning, EmptyInputError, NetworkError
from .facilities import facilities_from_file
from .io import atomic_path, write_csv, write_json, write_text

if TYPE_CHECKING:  # pragma: no cover
    from .config import Circle
    from .study import CircleResult, Study

CANDIDATE_COLUMNS = ["site_id", "source", "name", "lon", "lat", "node", "snap_m"]


@dataclass
class CandidateSet:
    """Candidate sites (one row each) and the counts of rejected ones.

    ``table`` columns: ``site_id, source, name, lon, lat`` (WGS84), ``node``,
    ``snap_m`` (metres to the node), ``town_code, town_name``, ``weight``
    (uncovered people near the site, gap clusters only).
    """

    table: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)


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


def file_candidates(study: Study, path: str | Path, crs: str | None = None) -> pd.DataFrame:
    """Possible sites from a CSV/XLSX/GeoJSON file (lon/lat in ``crs``), snapped to the network."""
    from .access import snap_points

    gdf = facilities_from_file(path, crs, bounds=study.bounds_wgs84)
    if len(gdf) == 0:
        raise EmptyInputError(
            f"{path}: no candidate site inside the study area. Fix: check the file's "
            "coordinate system (--candidates-crs wgs84|gcj02|bd09)."
        )
    x, y = project_lonlat(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), study.graph.crs)
    node, dist = snap_points(study.graph, x, y, study.settings.max_snap_m)
    return pd.DataFrame(
        {
            "site_id": gdf["facility_id"].astype(str).to_numpy(),
            "source": "file",
            "name": gdf["name"].astype(str).to_numpy(),
            "lon": gdf.geometry.x.to_numpy(),
            "lat": gdf.geometry.y.to_numpy(),
            "node": node,
            "snap_m": dist,
            "weight": np.nan,
        }
    )


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


def _assign_towns(study: Study, lon: np.ndarray, lat: np.ndarray, max_m: float = 1000.0) -> np.ndarray:
    """Town row of each point: containing polygon, else nearest within ``max_m``; ``-1`` if none."""
    towns = study.towns
    ok = towns["has_polygon"].to_numpy().astype(bool) & towns.geometry.notna().to_numpy()
    idx = np.nonzero(ok)[0]
    out = np.full(lon.shape[0], -1, dtype=np.int64)
    if idx.size == 0 or lon.size == 0:
        return out
    polys = towns.geometry.iloc[idx].to_crs(study.graph.crs).to_numpy()
    x, y = project_lonlat(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), study.graph.crs)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(pts, predicate="intersects")
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = idx[gi[first]]
    miss = np.nonzero(out < 0)[0]
    if miss.size:
        pi, gi = tree.query_nearest(pts[miss], max_distance=max_m, all_matches=False)
        out[miss[pi]] = idx[gi]
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
) -> CandidateSet:
    """Collect candidates from the chosen sources, reject unusable ones (counted) and attach towns."""
    parts: list[pd.DataFrame] = []
    generated: dict[str, int] = {}
    spacing = default_spacing_m(base.circle) if min_spacing_m is None else float(min_spacing_m)
    if gaps:
        parts.append(gap_candidates(study, uncovered_cells(study, base), spacing, max_candidates))
        generated["gap_cluster"] = len(parts[-1])
    if path is not None:
        parts.append(file_candidates(study, path, crs))
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
    return CandidateSet(t, rejected, generated)


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
        "covered_population": round(float(s.covered_weight), 1),
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
    A2, w2, _ = siting.aggregate_demand(A, w)
    group = tab["town_code"].to_numpy() if max_per_town is not None else None
    sol: dict[str, siting.Solution] = {}
    sol["mclp_greedy"] = siting.greedy_mclp(A2, w2, k, group, max_per_town)
    if exact:
        sol["mclp_exact"] = siting.exact_mclp(
            A2, w2, k, group, max_per_town, time_limit=time_limit, aggregate=False, max_nnz=exact_max_nnz
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
        order, _ = siting.order_sites(A2, w2, chosen.sites)
    table = _rank_table(study, base, cands, A, dem, order, chosen_key)
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
    vname = study.villages["name"].astype(str).to_numpy()
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
                "villages_reached_names": "、".join(vname[reached[:10]]) + ("…" if reached.size > 10 else ""),
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
            "name": tab["name"].to_numpy(),
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
    if rows:
        out = pd.concat([out, pd.DataFrame(rows).drop(columns="rank")], axis=1)
    else:
        for c in (
            "new_population",
            "new_villages_covered",
            "new_villages_covered_names",
            "villages_reached_names",
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


def write_sites(result: SitingResult, circle_id: str, out_dir: str | Path) -> Path:
    """Write ``candidates.csv`` (UTF-8 BOM, bilingual headers), ``.xlsx``, ``.geojson`` and ``siting_summary.json``.

    Text is never written as a formula: the CSV guards formula-like text with an apostrophe and the
    XLSX stores it as string cells (:mod:`dgcoverage.io`).  Numbers are written with fixed decimals
    (coordinates 7, everything else 6), never ``%g``.
    """
    from .io import guard_workbook, xlsx_frame

    d = Path(out_dir) / circle_id
    d.mkdir(parents=True, exist_ok=True)
    # people and counts as whole numbers; coordinates to 7 decimals (~1 cm, as facilities.csv), other floats 6
    t, decimals = table_for_output(result.table)
    decimals.update({c: 7 for c in ("lon", "lat", "lon_gcj02", "lat_gcj02") if c in t})
    write_csv(bilingual(t), d / "candidates.csv", decimals=decimals)
    with atomic_path(d / "candidates.xlsx") as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        xlsx_frame(bilingual(t)).to_excel(xw, index=False, sheet_name="candidates")
        note = pd.DataFrame(
            {
                "key": ["circle", "listed_solution", "synthetic", "note"],
                "value": [
                    circle_id,
                    result.summary["listed_solution"],
                    result.summary["synthetic"],
                    _note(result.summary["synthetic"]),
                ],
            }
        )
        note.to_excel(xw, index=False, sheet_name="about")
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
    write_json(result.summary, d / "siting_summary.json")
    return d


def _note(synthetic: bool) -> str:
    from .embedded import SYNTHETIC_NOTE

    return SYNTHETIC_NOTE if synthetic else "Computed from the inputs listed in siting_summary.json."
