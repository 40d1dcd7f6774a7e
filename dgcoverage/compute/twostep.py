"""Access-weighted supply: the two-step floating catchment area method (2SFCA) on network travel times.

:func:`two_step_fca` (Luo & Wang 2003; with distance-decay weights, the enhanced 2SFCA of Luo & Qi 2009):
:func:`catchment_times` (bounded searches from each facility, the circle's limit being the catchment) then
:func:`two_step_fca_from_times`; per village and per town as people-weighted means
(:func:`village_accessibility`, :func:`town_accessibility`).  Numbers only (no geometry, no files).

Facilities of unknown capacity (``NaN``) are left out of the supply (their catchment ratio is ``NaN``), so a
cell's accessibility is a lower bound wherever such a facility is in reach; each cell says how many are
(:attr:`TwoStepResult.unknown_within`).  The status rule for unknown capacities is in
:mod:`dgcoverage.compute.supply`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from ..errors import ConfigError, DataMismatchError, NetworkError
from .access import AccessGraph
from .siting import TIME_TOL_S
from .supply import CITY_CODE, CITY_NAME

DECAYS = ("none", "gaussian", "stepwise")
#: Zone weights of the enhanced 2SFCA (Luo & Qi 2009: 1, 0.68, 0.22 for the three zones of a catchment);
#: the default zones are the thirds of the circle's limit.
E2SFCA_WEIGHTS = (1.0, 0.68, 0.22)


@dataclass
class TwoStepResult:
    """Access-weighted supply per demand cell (:func:`two_step_fca`).

    Attributes
    ----------
    access
        A_i per cell: known supply reachable within the catchment per person of demand (m² or beds per
        person; x 1,000 for "per 1,000").  0 where no facility of known capacity is in reach (also off the
        network); a lower bound where ``unknown_within > 0``.
    facilities_within
        Facilities (known or unknown capacity) in reach of each cell with a weight > 0.
    unknown_within
        Facilities of unknown capacity in reach of each cell with a weight > 0.
    facility_ratio
        R_j per facility: capacity / weighted demand in its catchment; NaN when the capacity is unknown or
        nobody (weighted demand 0) is in its catchment (off the network, a leg longer than the limit, or no
        people in reach).
    facility_demand
        Weighted demand in each facility's catchment (sum of W(t_ij) P_i).
    pairs
        Facility-cell pairs within the catchment.
    decay
        The weighting used (``none``, ``gaussian``, ``stepwise`` or ``custom``).
    """

    access: NDArray[np.float64]
    facilities_within: NDArray[np.int64]
    unknown_within: NDArray[np.int64]
    facility_ratio: NDArray[np.float64]
    facility_demand: NDArray[np.float64]
    pairs: int
    decay: str


def catchment_times(
    graph: AccessGraph,
    fac_node: ArrayLike,
    fac_leg_s: ArrayLike,
    cell_node: ArrayLike,
    cell_leg_s: ArrayLike,
    limit_s: float,
    speed_mps: float,
    *,
    chunk: int | None = None,
    dense_budget: int = 16_000_000,
    progress: bool = False,
) -> csr_array:
    """Travel times from cells to facilities within a limit: bounded searches per facility.

    People travel to the facility, so each facility's search runs over the reversed graph
    (``graph.rev``) from its node, stopping at the limit; ``t_ij = cell leg + network time(cell node ->
    facility node) at speed_mps + facility leg``, kept when ``t_ij <= limit_s`` (+1e-9 s, as the circles).

    Facilities are searched a batch at a time, batches being neighbours in space.  One multi-source
    search (``min_only``) finds the nodes within the limit of any facility of the batch; every shortest
    path of a facility within the limit runs through those nodes only, so the batch's own searches run
    on the subgraph they induce and give the same times as searches over the whole graph, while only a
    ``batch x reached nodes`` block is dense (not ``batch x all nodes``).

    Parameters
    ----------
    graph
        The access graph (weights in seconds at ``graph.speed_mps``; any network speed is searched exactly).
    fac_node, fac_leg_s
        Node of each facility (``-1`` = off the network: an empty row) and its access leg in seconds.
    cell_node, cell_leg_s
        Node of each demand cell (``-1`` = off the network: an empty column) and its access leg (s).
    limit_s
        Catchment limit in seconds.
    speed_mps
        Network travel speed, m/s.
    chunk, dense_budget
        Facilities per batch (default 64), and the most values a batch's dense block may hold (a larger
        batch is split).
    progress
        Show a progress bar over the batches (long runs only).

    Returns
    -------
    scipy.sparse.csr_array
        float64 seconds, shape ``(facilities, cells)``, sorted indices; pairs beyond the limit are absent
        and a stored 0 is a real zero time.
    """
    fnode = np.asarray(fac_node, dtype=np.int64).reshape(-1)
    fleg = np.asarray(fac_leg_s, dtype=np.float64).reshape(-1)
    cnode = np.asarray(cell_node, dtype=np.int64).reshape(-1)
    cleg = np.asarray(cell_leg_s, dtype=np.float64).reshape(-1)
    if fnode.shape != fleg.shape or cnode.shape != cleg.shape:
        raise DataMismatchError("node and leg arrays differ in length")
    if not (speed_mps > 0 and limit_s > 0):
        raise NetworkError(f"speed and limit must be > 0, got {speed_mps} m/s and {limit_s} s")
    k = speed_mps / graph.speed_mps  # graph seconds per real second
    m, nc = fnode.shape[0], cnode.shape[0]
    lim = limit_s + TIME_TOL_S
    chunk = 64 if chunk is None else max(int(chunk), 1)
    cells = _CellsByNode(cnode, cleg, graph.rev.shape[0])
    usable = np.nonzero((fnode >= 0) & (fleg <= lim))[0]
    usable = usable[_spatial_order(graph, fnode[usable])]
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float64]] = []
    if cells.uniq.size and usable.size:
        from tqdm.auto import tqdm

        starts = range(0, usable.size, chunk)
        for s in tqdm(starts, desc="catchments", unit="batch", disable=not progress or len(starts) < 20, leave=False):
            idx = usable[s : s + chunk]
            for r, c, t in _batch_pairs(graph.rev, fnode[idx], fleg[idx], k, lim, cells, dense_budget):
                rows.append(idx[r])
                cols.append(c)
                vals.append(t)
    r_all = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    ind = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    data = np.concatenate(vals) if vals else np.empty(0, dtype=np.float64)
    o = np.lexsort((ind, r_all))
    row_nnz = np.bincount(r_all, minlength=m)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    itype = np.int32 if max(nc, ind.size) < 2**31 else np.int64
    return csr_array((data[o], ind[o].astype(itype), indptr.astype(itype)), shape=(m, nc))


class _CellsByNode:
    """Demand cells grouped by network node: the cells of node ``v`` are ``order[start[slot[v]]:][:cnt[...]]``."""

    def __init__(self, cnode: NDArray[np.int64], cleg: NDArray[np.float64], n_nodes: int) -> None:
        on = np.nonzero(cnode >= 0)[0]
        self.order = on[np.argsort(cnode[on], kind="stable")]
        self.uniq, self.start, self.cnt = np.unique(cnode[self.order], return_index=True, return_counts=True)
        self.slot = np.full(n_nodes, -1, dtype=np.int64)
        self.slot[self.uniq] = np.arange(self.uniq.size)
        self.leg = cleg


def _spatial_order(graph: AccessGraph, node: NDArray[np.int64]) -> NDArray[np.int64]:
    """Order of facilities along a Z-order curve of their nodes (batches of neighbours reach few nodes)."""
    if node.size == 0:
        return np.zeros(0, dtype=np.int64)
    x, y = graph.x[node], graph.y[node]
    span = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    gx = ((x - x.min()) / span * 65535).astype(np.uint64)
    gy = ((y - y.min()) / span * 65535).astype(np.uint64)
    code = np.zeros(node.size, dtype=np.uint64)
    for b in range(16):
        code |= ((gx >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
        code |= ((gy >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
    return np.argsort(code, kind="stable").astype(np.int64)


def _induced_subgraph(rev: csr_array, keep: NDArray[np.int64], local: NDArray[np.int64]) -> csr_array:
    """Return the subgraph of ``rev`` on the sorted nodes ``keep`` (``local``: node -> position, else -1)."""
    ptr = rev.indptr
    lo, n_out = ptr[keep].astype(np.int64), np.diff(ptr)[keep].astype(np.int64)
    total = int(n_out.sum())
    offs = np.cumsum(n_out) - n_out
    at = np.repeat(lo - offs, n_out) + np.arange(total)
    head = local[rev.indices[at]]
    inside = head >= 0
    row = np.repeat(np.arange(keep.size), n_out)[inside]
    indptr = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=keep.size), out=indptr[1:])
    return csr_array((rev.data[at][inside], head[inside].astype(np.int32), indptr), shape=(keep.size, keep.size))


def _batch_pairs(
    rev: csr_array,
    node: NDArray[np.int64],
    leg: NDArray[np.float64],
    k: float,
    lim: float,
    cells: _CellsByNode,
    dense_budget: int,
) -> Iterable[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
    """(row within the batch, cell, seconds) of every pair within the limit, for one batch of facilities."""
    limit = (lim - float(leg.min())) * k
    reach = dijkstra(rev, directed=True, indices=np.unique(node), limit=limit, min_only=True)
    keep = np.flatnonzero(np.isfinite(reach))
    local = np.full(rev.shape[0], -1, dtype=np.int64)
    local[keep] = np.arange(keep.size)
    sub = _induced_subgraph(rev, keep, local)
    with_cells = np.flatnonzero(cells.slot[keep] >= 0)
    slots = cells.slot[keep[with_cells]]
    step = max(1, dense_budget // max(keep.size, 1))
    for s in range(0, node.size, step):
        part = slice(s, s + step)
        D = dijkstra(sub, directed=True, indices=local[node[part]], limit=limit)[:, with_cells]
        r, j = np.nonzero(np.isfinite(D))
        t = leg[part][r] + D[r, j] / k
        ok = t <= lim
        r, j, t = r[ok] + s, slots[j[ok]], t[ok]
        c = cells.cnt[j]
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        cell = cells.order[np.repeat(cells.start[j], c) + within]
        tt = np.repeat(t, c) + cells.leg[cell]
        hit = tt <= lim
        yield np.repeat(r, c)[hit].astype(np.int64), cell[hit].astype(np.int64), tt[hit]


def decay_weights(
    t_s: ArrayLike,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike],
    limit_s: float,
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
) -> NDArray[np.float64]:
    """Distance-decay weight W(t) of travel times within the catchment, as PySAL ``access.weights`` defines them.

    Parameters
    ----------
    t_s
        Times in seconds (all within the limit).
    decay
        ``"none"``: W = 1 (the original 2SFCA).  ``"gaussian"``: W = exp(-t² / (2 sigma²)) (PySAL
        ``weights.gaussian``; W(0) = 1, not truncated to 0 at the limit).  ``"stepwise"``: the enhanced
        2SFCA, W = the weight of the first step whose upper bound is >= t, 0 beyond the last (PySAL
        ``weights.step_fn``).  Or a function of a time array (seconds) returning weights.
    limit_s
        The catchment limit (for the defaults).
    sigma_s
        Gaussian width in seconds; default ``limit_s / 2`` (W(limit) = exp(-2) = 0.135).
    steps
        ``(upper bound s, weight)`` pairs for ``stepwise``; default the thirds of the limit with
        :data:`E2SFCA_WEIGHTS` (1, 0.68, 0.22).

    Returns
    -------
    numpy.ndarray
        float64 weights >= 0.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if callable(decay):
        w = np.asarray(decay(t), dtype=np.float64)
    elif decay == "none":
        w = np.ones_like(t)
    elif decay == "gaussian":
        sigma = limit_s / 2.0 if sigma_s is None else float(sigma_s)
        if not sigma > 0:
            raise ConfigError(f"the Gaussian width must be > 0 s, got {sigma_s}")
        w = np.exp(-t * t / (2.0 * sigma**2))
    elif decay == "stepwise":
        bounds, weights = _steps(limit_s, steps)
        i = np.searchsorted(bounds, t, side="left")
        w = np.append(weights, 0.0)[i]
    else:
        raise ConfigError(f"decay must be one of {DECAYS} or a function, got {decay!r}")
    if w.shape != t.shape or not (np.isfinite(w) & (w >= 0)).all():
        raise ConfigError("decay weights must be finite, >= 0 and one per time")
    return w


def _steps(
    limit_s: float, steps: Sequence[tuple[float, float]] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if steps is None:
        n = len(E2SFCA_WEIGHTS)
        steps = [(limit_s * (i + 1) / n, w) for i, w in enumerate(E2SFCA_WEIGHTS)]
    arr = np.asarray(list(steps), dtype=np.float64).reshape(-1, 2)
    bounds, weights = arr[:, 0], arr[:, 1]
    if arr.shape[0] == 0 or (np.diff(bounds) <= 0).any() or (weights < 0).any() or not np.isfinite(arr).all():
        raise ConfigError("steps must be (upper bound s, weight >= 0) pairs with increasing bounds")
    return bounds, weights


def two_step_fca_from_times(
    times: csr_array,
    capacity: ArrayLike,
    demand: ArrayLike,
    limit_s: float,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike] = "none",
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
) -> TwoStepResult:
    """2SFCA on a sparse matrix of travel times (facilities x demand points).

    Step 1, per facility j: ``R_j = S_j / sum_{i: t_ij <= d0} W(t_ij) P_i``; step 2, per demand point i:
    ``A_i = sum_{j: t_ij <= d0} W(t_ij) R_j``, with d0 = ``limit_s``.  Equal to PySAL ``access``
    (``Access.two_stage_fca`` / ``enhanced_two_stage_fca`` with ``max_cost=d0`` and the same weight
    function) wherever that is defined; where PySAL gives NaN (a demand point with no facility in reach)
    this gives 0, and a facility with nobody in its catchment adds nothing (PySAL: inf/NaN at the zero-demand
    points in reach).  Facilities of unknown capacity (``NaN``) are left out of step 2 and counted per point.

    Parameters
    ----------
    times
        Seconds, shape ``(facilities, points)``; stored entries are the pairs in the catchment (entries
        above ``limit_s`` + 1e-9 are ignored; a stored 0 is a zero time).
    capacity
        S_j per facility (``NaN`` = unknown; otherwise >= 0).
    demand
        P_i per point (people; elderly people for a per-elderly standard).
    limit_s, decay, sigma_s, steps
        The catchment and the weights (:func:`decay_weights`).

    Returns
    -------
    TwoStepResult
    """
    T = csr_array(times)
    m, nd = T.shape
    cap = np.asarray(capacity, dtype=np.float64).reshape(-1)
    pop = np.asarray(demand, dtype=np.float64).reshape(-1)
    if cap.shape[0] != m or pop.shape[0] != nd:
        raise DataMismatchError(f"times are {m} x {nd} but there are {cap.shape[0]} capacities, {pop.shape[0]} points")
    if (np.isinf(cap) | (cap < 0)).any():
        raise DataMismatchError("capacities must be >= 0 or NaN (unknown)")
    if not (np.isfinite(pop) & (pop >= 0)).all():
        raise DataMismatchError("demand must be finite and >= 0")
    row = np.repeat(np.arange(m), np.diff(T.indptr))
    inside = T.data <= limit_s + TIME_TOL_S
    w = np.zeros(T.data.shape[0])
    w[inside] = decay_weights(T.data[inside], decay, limit_s, sigma_s=sigma_s, steps=steps)
    W = csr_array((w, T.indices, T.indptr), shape=(m, nd))
    fdemand = np.asarray(W @ pop, dtype=np.float64)
    known = np.isfinite(cap)
    ratio = np.full(m, np.nan)
    served = known & (fdemand > 0)
    ratio[served] = cap[served] / fdemand[served]
    access = np.asarray(W.T @ np.nan_to_num(ratio), dtype=np.float64)
    pos = w > 0
    within = np.bincount(T.indices[pos], minlength=nd).astype(np.int64)
    unk = pos & ~known[row]
    unknown_within = np.bincount(T.indices[unk], minlength=nd).astype(np.int64)
    name = "custom" if callable(decay) else str(decay)
    return TwoStepResult(access, within, unknown_within, ratio, fdemand, int(inside.sum()), name)


def two_step_fca(
    graph: AccessGraph,
    fac_node: ArrayLike,
    fac_leg_s: ArrayLike,
    capacity: ArrayLike,
    cell_node: ArrayLike,
    cell_leg_s: ArrayLike,
    cell_pop: ArrayLike,
    limit_s: float,
    speed_mps: float,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike] = "none",
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
    chunk: int | None = None,
    progress: bool = False,
) -> TwoStepResult:
    """Access-weighted supply per demand cell: 2SFCA on network travel times, the circle's limit as catchment.

    :func:`catchment_times` (bounded searches from each facility over the reversed graph, plus access
    legs) followed by :func:`two_step_fca_from_times`.

    Parameters
    ----------
    graph
        The access graph (``study.graph``).
    fac_node, fac_leg_s
        Node and access leg (s) of each facility (:func:`dgcoverage.compute.access.snap_points`; leg = snap
        distance / access speed).
    capacity
        Capacity per facility (m² or beds; ``NaN`` = unknown).
    cell_node, cell_leg_s, cell_pop
        Node, access leg (s) and demand (people, or older people) of each cell
        (``study.cell_node``, ``study.cell_snap_m / circle.access_speed_mps``, ``study.cell_pop``).
    limit_s, speed_mps
        The circle's limit (s) and network speed (m/s).
    decay, sigma_s, steps
        Distance decay (:func:`decay_weights`): ``"none"``, ``"gaussian"`` or ``"stepwise"`` (E2SFCA).
    chunk, progress
        As in :func:`catchment_times`.

    Returns
    -------
    TwoStepResult
        ``access`` is supply per person of ``cell_pop`` (x 1,000 for a per-1,000 standard).
    """
    T = catchment_times(
        graph, fac_node, fac_leg_s, cell_node, cell_leg_s, limit_s, speed_mps, chunk=chunk, progress=progress
    )
    return two_step_fca_from_times(T, capacity, cell_pop, limit_s, decay, sigma_s=sigma_s, steps=steps)


def village_accessibility(
    cell_village: ArrayLike, cell_pop: ArrayLike, access: ArrayLike, n_villages: int
) -> NDArray[np.float64]:
    """People-weighted mean of a per-cell value over each village's cells.

    Also gives shares: pass ``(result.unknown_within > 0)`` as ``access`` for the share of people with a
    facility of unknown capacity in reach, or ``(result.access >= target)`` for the share meeting a target.

    Parameters
    ----------
    cell_village
        Village index of each cell (``-1``: in no village, left out).
    cell_pop
        People per cell (the weights).
    access
        The value per cell (e.g. :attr:`TwoStepResult.access`).
    n_villages
        Number of villages.

    Returns
    -------
    numpy.ndarray
        float64 per village; NaN for a village without people.
    """
    cv = np.asarray(cell_village, dtype=np.int64).reshape(-1)
    cp = np.asarray(cell_pop, dtype=np.float64).reshape(-1)
    a = np.asarray(access, dtype=np.float64).reshape(-1)
    if not (cv.shape == cp.shape == a.shape):
        raise DataMismatchError("cell_village, cell_pop and access differ in length")
    ok = cv >= 0
    pop = np.bincount(cv[ok], weights=cp[ok], minlength=n_villages)
    tot = np.bincount(cv[ok], weights=cp[ok] * a[ok], minlength=n_villages)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cast("NDArray[np.float64]", np.where(pop > 0, tot / np.where(pop > 0, pop, 1.0), np.nan))


def town_accessibility(
    village_town: Iterable[Any],
    village_pop: ArrayLike,
    village_access: ArrayLike,
    towns: pd.DataFrame | None = None,
    *,
    city_code: str = CITY_CODE,
    city_name: str = CITY_NAME,
) -> pd.DataFrame:
    """People-weighted mean of a per-village value per town and city-wide.

    Parameters
    ----------
    village_town
        Town code of each village.
    village_pop
        People per village (the weights; villages without people or with a NaN value are left out).
    village_access
        The value per village (:func:`village_accessibility`).
    towns
        Optional ``town_code`` (and ``town_name``) table: rows in its order, towns without villages kept
        (NaN); default the towns of ``village_town``, sorted.
    city_code, city_name
        The city-wide row.

    Returns
    -------
    pandas.DataFrame
        ``town_code, town_name, population`` (of the villages with a value) and ``access``; the city row last.
    """
    code = pd.Series(list(village_town), dtype=object).astype(str).str.strip()
    p = np.asarray(village_pop, dtype=np.float64).reshape(-1)
    a = np.asarray(village_access, dtype=np.float64).reshape(-1)
    if not (code.shape[0] == p.shape[0] == a.shape[0]):
        raise DataMismatchError("village_town, village_pop and village_access differ in length")
    ok = np.isfinite(a) & np.isfinite(p) & (p > 0)
    df = pd.DataFrame({"town_code": code[ok].to_numpy(), "pop": p[ok], "pa": p[ok] * a[ok]})
    g = df.groupby("town_code", sort=True)[["pop", "pa"]].sum()
    if towns is not None:
        t = towns.assign(town_code=towns["town_code"].astype(str).str.strip())
        t = t[t["town_code"] != city_code].drop_duplicates("town_code")
        base = t[["town_code"]].assign(town_name=t["town_name"] if "town_name" in t.columns else "")
    else:
        base = pd.DataFrame({"town_code": g.index.tolist(), "town_name": ""})
    out = base.merge(g, left_on="town_code", right_index=True, how="left")
    city = pd.DataFrame(
        {"town_code": [city_code], "town_name": [city_name], "pop": [df["pop"].sum()], "pa": [df["pa"].sum()]}
    )
    out = pd.concat([out, city], ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["access"] = np.where(out["pop"] > 0, out["pa"] / out["pop"].where(out["pop"] > 0, 1.0), np.nan)
    out["population"] = out["pop"].fillna(0.0)
    return out[["town_code", "town_name", "population", "access"]]
