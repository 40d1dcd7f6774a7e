"""Candidate sites for new facilities and the planners' ranked list.

Three candidate sources (combinable):

* **gap clusters** (default): network nodes that serve people *not* covered by
  the existing facilities (cells beyond the limit or on a network part with no
  facility), weighted by that uncovered population summed within a small
  radius, then thinned so candidates are at least ``min_spacing_m`` apart
  (heaviest first, KD-tree suppression);
* **a user file** of possible sites (CSV/XLSX/GeoJSON in WGS84, GCJ-02 or
  BD-09, read by :func:`dgcoverage.inputs.candidates.read_candidate_file`);
* **every node of chosen road classes** (``RoadNetwork.highway``, OSM networks only).

Rejected candidates are counted, never silently dropped:

* ``off_network`` — farther than ``max_snap_m`` from every node;
* ``no_population_component`` — the node's connected part of the network
  serves no populated cell.  Without a water/land-use layer we cannot know a
  site is "in water"; a node on a network fragment where nobody lives (a
  pier, an island, a stray piece of path) is the proxy we use;
* ``outside_towns`` — not inside (or within 1 km of) any town polygon.

:func:`plan_sites` then builds coverage sets (:mod:`dgcoverage.compute.siting`),
runs the optimisers with the existing facilities fixed, and tabulates the
chosen sites in rank order (:mod:`dgcoverage.pipeline.ranking`);
:func:`dgcoverage.outputs.sites.write_sites` writes
``<out>/<circle>/candidates.csv``/``.xlsx``/``.geojson`` and ``siting_summary.json``.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..compute import siting
from ..compute.access import REACHED, project_lonlat
from ..errors import ConfigError, DgCoverageWarning, EmptyInputError, NetworkError
from ..inputs.candidates import CANDIDATE_COLUMNS, read_candidate_file
from ..inputs.coords import canonical_crs
from ..inputs.quality import datum_fit
from .ranking import assign_polygons, rank_table, supply_columns
from .study import CandidateSet, SitingResult

if TYPE_CHECKING:  # pragma: no cover
    from ..inputs.config import Circle
    from .study import CircleResult, Study


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


def file_candidates(
    study: Study,
    path: str | Path,
    crs: str | None = None,
    capacity_kind: str | None = None,
    capacity_header: str | None = None,
    capacity_unit: str | None = None,
) -> pd.DataFrame:
    """Possible sites from a CSV/XLSX/GeoJSON file (lon/lat in ``crs``), snapped to the network.

    Parameters
    ----------
    study
        The study (its extent drops far-away rows, counted; its network takes the sites).
    path, crs, capacity_kind, capacity_header, capacity_unit
        As in :func:`dgcoverage.inputs.candidates.read_candidate_file`.

    Returns
    -------
    pandas.DataFrame
        :data:`~dgcoverage.inputs.candidates.CANDIDATE_COLUMNS`, ``weight`` (NaN) and ``capacity`` (m² or
        beds; NaN = not given); ``attrs["capacity_column"]`` is the header read
        (``None`` when the file has none).
    """
    from ..compute.access import snap_points

    out = read_candidate_file(
        path,
        crs,
        bounds=study.bounds_wgs84,
        capacity_kind=capacity_kind,
        capacity_header=capacity_header,
        capacity_unit=capacity_unit,
    )
    x, y = project_lonlat(out["lon"].to_numpy(), out["lat"].to_numpy(), study.graph.crs)
    node, dist = snap_points(study.graph, x, y, study.settings.max_snap_m)
    out.insert(5, "node", node)
    out.insert(6, "snap_m", dist)
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


def _assign_towns(study: Study, lon: np.ndarray, lat: np.ndarray, max_m: float = 1000.0) -> np.ndarray:
    """Town row of each point: containing polygon, else nearest within ``max_m``; ``-1`` if none."""
    towns = study.towns
    ok = towns["has_polygon"].to_numpy().astype(bool) & towns.geometry.notna().to_numpy()
    idx = np.nonzero(ok)[0]
    got = assign_polygons(study.graph.crs, towns.geometry.iloc[idx], lon, lat, max_m)
    return np.where(got >= 0, idx[np.maximum(got, 0)], -1)


def candidates_datum(study: Study, table: pd.DataFrame, path: str, crs: str) -> dict[str, Any]:
    """Check the candidate file's datum against the roads (:func:`~dgcoverage.inputs.quality.datum_fit`).

    Warned when another system fits clearly better; the verdict (with "cannot tell") goes to
    ``siting_summary.json`` -> ``checks.datum.candidates``.
    """
    fit = datum_fit(
        study.graph,
        table["lon"].to_numpy(dtype=float),
        table["lat"].to_numpy(dtype=float),
        canonical_crs(crs),
        study.settings.max_snap_m,
        "candidate sites",
    )
    if fit["verdict"] == "suspect":
        alt = fit["best_alternative"]
        warnings.warn(
            f"{path}: candidate sites read as {crs} fit the road network far better read as {alt}: their median "
            f"distance to it would fall from {fit['median_snap_m']} m to {fit['median_snap_if_m'][alt]} m. Fix: if "
            f"the file is in {alt}, pass --candidates-crs {alt}",
            DgCoverageWarning,
            stacklevel=3,
        )
    return fit


def _candidate_checks(summary: dict[str, Any], cands: CandidateSet) -> None:
    """``siting_summary.json``: ``warnings`` counted while reading the candidate file, ``checks.datum``."""
    counted = dict(cands.input.get("warnings", {}))
    fit = cands.input.get("datum_check")
    if fit:  # the candidate file's datum against the roads
        summary["checks"] = {"datum": {"candidates": fit["text"]}}
        if fit["verdict"] == "suspect":
            counted[f"candidates_maybe_{fit['best_alternative']}"] = int(fit["points_compared"])
    if counted:
        summary["warnings"] = counted


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
    file_input: dict[str, Any] = {}
    if gaps:
        parts.append(gap_candidates(study, uncovered_cells(study, base), spacing, max_candidates))
        generated["gap_cluster"] = len(parts[-1])
    if path is not None:
        parts.append(
            file_candidates(study, path, crs, kind, circle.capacity_column or None, circle.capacity_unit or None)
        )
        cap_col = parts[-1].attrs.get("capacity_column")
        file_input = dict(parts[-1].attrs.get("input", {}))
        file_input["warnings"] = dict(parts[-1].attrs.get("warnings", {}))  # counted while reading the file
        if file_input.get("crs"):  # the declared datum against the roads, both ways (said when it cannot tell)
            file_input["datum_check"] = candidates_datum(study, parts[-1], str(path), str(file_input["crs"]))
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
            file_input.setdefault("warnings", {})["candidates_site_capacity_used"] = int(unread.sum())
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
    out = CandidateSet(t, rejected, generated, input=file_input)
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
    uncovered; weights are people.  MCLP (``k`` sites) runs greedily, also
    exactly with ``exact``; with ``lscp`` (or ``lscp_villages``) the
    set-covering problem runs instead (greedy, and exact with ``exact``), and
    no MCLP is solved.
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
    sol: dict[str, siting.Solution] = {}
    if not (lscp or lscp_villages):  # only the problems asked for: an LSCP run solves no MCLP
        sol = _solve_mclp(
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
    table = rank_table(study, base, cands, A, dem, order, chosen_key)
    sup_cols, sup_summary = supply_columns(base, table, cands, order)
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
    _candidate_checks(summary, cands)
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
        "town_factor": {k: round(float(v), 6) for k, v in factor.items() if k != base.city_code},
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
