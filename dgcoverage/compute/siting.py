"""Facility siting: coverage sets and optimisers (numbers only, no geometry).

*Coverage sets* say which demand points each candidate site would reach
within a time limit.  People travel **to** the facility, so each candidate's
search runs over the reversed graph (``AccessGraph.rev``) from the
candidate's node: the distance found at node ``u`` is the network length from
``u`` to the candidate.  A demand point at node ``u`` is covered when::

    candidate leg (s) + network length(u -> candidate) / speed + demand leg (s) <= limit (s)

(the same rule, and the same 1e-9 s tolerance, as
:func:`dgcoverage.compute.access.classify_points`).  Searches are bounded with
SciPy's ``dijkstra(limit=)`` and run a chunk of candidates at a time; only a
``chunk x nodes`` block is ever dense, the result is a sparse CSR matrix
*candidates x demand points*.

Optimisers, all over such a 0/1 matrix ``A`` and demand weights ``w``
(people); existing facilities are fixed by passing only the demand they
leave uncovered:

* :func:`greedy_mclp` — maximal covering, lazy greedy (CELF priority queue);
* :func:`exact_mclp` — the same problem as an ILP solved by HiGHS
  (``scipy.optimize.milp``);
* :func:`greedy_lscp` / :func:`exact_lscp` — location set covering: the fewest
  sites that cover every coverable demand point, or a chosen share of the
  coverable weight;
* :func:`greedy_lscp_villages` / :func:`exact_lscp_villages` — the
  policy-literal cover "100% 覆盖村(社区)": fewest sites so that every village
  reaches its covered share of people;
* optional per-group budgets (``group`` label per candidate, at most
  ``max_per_group`` sites per group, e.g. per 镇街) in all four.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_array, csr_array, vstack
from scipy.sparse.csgraph import dijkstra

TIME_TOL_S = 1e-9
#: Exact solves are skipped (status ``skipped_too_large``) above this many non-zeros in the merged
#: coverage matrix: HiGHS's presolve/LP on ~25M non-zeros ran > 10 min ignoring ``time_limit`` and
#: used ~3.5 GB.  Raise it (``--exact-max-nnz``) when you have the time and memory.
MAX_EXACT_NNZ = 5_000_000


def coverage_matrix(
    rev: csr_array,
    speed_mps: float,
    cand_node: ArrayLike,
    cand_leg_s: ArrayLike,
    dem_node: ArrayLike,
    dem_leg_s: ArrayLike,
    limit_s: float,
    chunk: int | None = None,
    dense_budget: int = 16_000_000,
    progress: bool = False,
) -> csr_array:
    """Which demand points each candidate reaches within ``limit_s``.

    Parameters
    ----------
    rev
        Reversed-edge CSR graph weighted in metres at 1 m/s (``AccessGraph.rev``;
        may carry the spare super-source row).
    speed_mps
        Network travel speed; network time = length / speed.
    cand_node, cand_leg_s
        Node of each candidate (``-1`` = off network, never covers) and its
        access leg in seconds (node -> door).
    dem_node, dem_leg_s
        Node of each demand point (``-1`` = off network) and its leg (s).
    limit_s
        Time limit in seconds.
    chunk
        Candidates per Dijkstra call; default keeps the dense block
        ``chunk x nodes`` under ``dense_budget`` float64 values (≤ 64).
    progress
        Show a progress bar over the chunks (long runs only).

    Returns
    -------
    scipy.sparse.csr_array
        uint8 matrix of shape ``(candidates, demand points)``, 1 = covered.
    """
    cand_node = np.asarray(cand_node, dtype=np.int64)
    cand_leg_s = np.asarray(cand_leg_s, dtype=np.float64)
    dem_node = np.asarray(dem_node, dtype=np.int64)
    dem_leg_s = np.asarray(dem_leg_s, dtype=np.float64)
    m, nd = cand_node.shape[0], dem_node.shape[0]
    n = rev.shape[0]
    if chunk is None:
        chunk = int(np.clip(dense_budget // max(n, 1), 1, 64))
    on = np.nonzero(dem_node >= 0)[0]
    order = on[np.argsort(dem_node[on], kind="stable")]
    uniq, start, cnt = np.unique(dem_node[order], return_index=True, return_counts=True)
    row_nnz = np.zeros(m, dtype=np.int64)
    cols: list[NDArray[np.int32] | NDArray[np.int64]] = []
    ok = (cand_node >= 0) & (cand_leg_s <= limit_s + TIME_TOL_S)
    usable = np.nonzero(ok)[0]
    if uniq.size:
        from tqdm.auto import tqdm

        starts = range(0, usable.size, chunk)
        for s in tqdm(
            starts, desc="coverage sets", unit="chunk", disable=not progress or len(starts) < 20, leave=False
        ):
            idx = usable[s : s + chunk]
            leg = cand_leg_s[idx]
            lim_m = (limit_s + TIME_TOL_S - float(leg.min())) * speed_mps
            D = dijkstra(rev, directed=True, indices=cand_node[idx], limit=lim_m)
            sub = D[:, uniq]
            del D
            r, j = np.nonzero(np.isfinite(sub))
            t = leg[r] + sub[r, j] / speed_mps
            keep = t <= limit_s + TIME_TOL_S
            r, j, t = r[keep], j[keep], t[keep]
            c = cnt[j]
            rr = np.repeat(r, c)
            tt = np.repeat(t, c)
            within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            cells = order[np.repeat(start[j], c) + within]
            hit = tt + dem_leg_s[cells] <= limit_s + TIME_TOL_S
            rr, cells = rr[hit], cells[hit]
            o = np.lexsort((cells, rr))  # rows ascend with the chunk; sort columns within rows
            row_nnz[idx] = np.bincount(rr, minlength=idx.size)
            cols.append(cells[o].astype(np.int32 if nd < 2**31 else np.int64))
            del sub, r, j, t, rr, tt, cells, within, hit, o
    # CSR built directly (rows arrive in order): no COO triplets, int32 indices
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    ind = np.concatenate(cols) if cols else np.empty(0, dtype=np.int32)
    del cols
    return csr_array((np.ones(ind.size, dtype=np.uint8), ind, indptr), shape=(m, nd))


def aggregate_demand(A: csr_array, w: ArrayLike) -> tuple[csr_array, NDArray[np.float64], NDArray[np.int64]]:
    """Merge demand columns with the same set of covering candidates; drop uncoverable ones.

    Coverage problems only see a demand point through its candidate set and
    its weight, so identical columns can be summed; this shrinks the ILPs a
    lot (all cells around one node share a set).

    Returns
    -------
    A2, w2, col_group
        The reduced matrix, the summed weights, and for every original column
        its new column (``-1`` when no candidate covers it).
    """
    C = csc_array(A)
    C.sort_indices()
    nd = C.shape[1]
    col_group: NDArray[np.int64] = np.full(nd, -1, dtype=np.int64)
    keys: dict[bytes, int] = {}
    ptr, ind = C.indptr, C.indices.astype(np.int64)
    reps: list[int] = []
    for i in range(nd):
        a, b = ptr[i], ptr[i + 1]
        if a == b:
            continue
        key = ind[a:b].tobytes()
        g = keys.get(key)
        if g is None:
            g = keys[key] = len(reps)
            reps.append(i)
        col_group[i] = g
    # np.bincount with weights returns float64 (numpy's stubs say intp whatever the weights)
    w2 = cast(
        "NDArray[np.float64]",
        np.bincount(
            col_group[col_group >= 0], weights=np.asarray(w, dtype=np.float64)[col_group >= 0], minlength=len(reps)
        ),
    )
    A2 = csr_array(C[:, np.asarray(reps, dtype=np.int64)]) if reps else csr_array((A.shape[0], 0), dtype=np.uint8)
    return A2, w2, col_group


@dataclass
class Solution:
    """Result of a siting optimiser.

    Attributes
    ----------
    sites
        Chosen candidate indices, in order of selection (greedy) or by index (exact).
    objective
        Covered weight (MCLP) or number of sites (LSCP).
    covered_weight
        Weight newly covered by ``sites``.
    method
        ``greedy`` or ``exact``.
    status
        ``optimal``, ``time_limit``, ``infeasible``, ``target_not_reached``, ``done`` ...
    bound
        For exact runs: the solver's dual bound (best possible objective).
    mip_gap
        For exact runs: HiGHS's relative MIP gap at the end (0 = proven optimal).
    seconds
        Solve time.
    """

    sites: list[int]
    objective: float
    covered_weight: float
    method: str
    status: str
    bound: float | None = None
    mip_gap: float | None = None
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def _budget_checker(
    n: int, group: ArrayLike | None, max_per_group: int | None
) -> tuple[NDArray[np.intp] | None, NDArray[np.int64]]:
    """Group index per candidate and a zeroed count per group; ``None`` and an empty count array without a budget."""
    if group is None or max_per_group is None:
        return None, np.zeros(0, dtype=np.int64)
    codes, inv = np.unique(np.asarray(group).astype(str), return_inverse=True)
    return inv, np.zeros(codes.size, dtype=np.int64)


def _lazy_greedy(
    A: csr_array, w: ArrayLike, k: int | None, target: float | None, group: ArrayLike | None, max_per_group: int | None
) -> tuple[list[int], list[float]]:
    """CELF: pick the candidate of largest marginal gain, re-evaluating only stale heap tops."""
    A = csr_array(A)
    w = np.asarray(w, dtype=np.float64)
    m = A.shape[0]
    covered = np.zeros(A.shape[1], dtype=bool)
    gains0 = A.astype(np.float64) @ w
    heap = [(-float(g), j) for j, g in enumerate(gains0) if g > 0]
    heapq.heapify(heap)
    stamp = np.zeros(m, dtype=np.int64)  # iteration at which the heap entry was computed
    ginv, gcount = _budget_checker(m, group, max_per_group)
    sites: list[int] = []
    gains: list[float] = []
    total = 0.0
    ptr, ind = A.indptr, A.indices
    while heap and (k is None or len(sites) < k) and (target is None or total < target - 1e-9 * max(target, 1.0)):
        negg, j = heapq.heappop(heap)
        if ginv is not None and gcount[ginv[j]] >= max_per_group:
            continue
        if stamp[j] == len(sites):
            if -negg <= 0:
                break
            cols = ind[ptr[j] : ptr[j + 1]]
            covered[cols] = True
            sites.append(int(j))
            gains.append(-negg)
            total += -negg
            if ginv is not None:
                gcount[ginv[j]] += 1
            continue
        cols = ind[ptr[j] : ptr[j + 1]]
        g = float(w[cols][~covered[cols]].sum())
        stamp[j] = len(sites)
        if g > 0:
            heapq.heappush(heap, (-g, j))
    return sites, gains


def greedy_mclp(
    A: csr_array, w: ArrayLike, k: int, group: ArrayLike | None = None, max_per_group: int | None = None
) -> Solution:
    """Maximal covering by lazy greedy: up to ``k`` sites (fewer when nothing more can be gained).

    Greedy is a (1 - 1/e)-approximation of the optimum (without budgets).
    """
    t0 = time.perf_counter()
    sites, gains = _lazy_greedy(A, w, int(k), None, group, max_per_group)
    tot = float(np.sum(gains))
    return Solution(sites, tot, tot, "greedy", "done", seconds=time.perf_counter() - t0, info={"gains": gains})


def greedy_lscp(
    A: csr_array, w: ArrayLike, share: float = 1.0, group: ArrayLike | None = None, max_per_group: int | None = None
) -> Solution:
    """Set covering by greedy: add best sites until ``share`` of the *coverable* weight is covered."""
    t0 = time.perf_counter()
    w = np.asarray(w, dtype=np.float64)
    coverable = float(w[np.asarray(A.sum(axis=0)).ravel() > 0].sum())
    target = share * coverable
    sites, gains = _lazy_greedy(A, w, None, target, group, max_per_group)
    tot = float(np.sum(gains))
    status = "done" if tot >= target - 1e-9 * max(target, 1.0) else "target_not_reached"
    return Solution(
        sites,
        float(len(sites)),
        tot,
        "greedy",
        status,
        seconds=time.perf_counter() - t0,
        info={"gains": gains, "target_weight": target, "coverable_weight": coverable},
    )


def _group_rows(m: int, group: ArrayLike | None, max_per_group: int | None, nvar: int) -> list[LinearConstraint]:
    if group is None or max_per_group is None:
        return []
    codes, inv = np.unique(np.asarray(group).astype(str), return_inverse=True)
    G = csr_array((np.ones(m), (inv, np.arange(m))), shape=(codes.size, nvar))
    return [LinearConstraint(G, -np.inf, float(max_per_group))]


def _milp_status(res: Any) -> str:
    return {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(res.status, f"status_{res.status}")


def _cover_csc(A: csr_array, with_y: bool) -> csc_array:
    """Covering rows ``sum_j A_ji x_j`` (negated, ``- ... + y_i``, when ``with_y``) as CSC, built without copies of A^T.

    Column ``j`` of the constraint matrix is row ``j`` of ``A`` (CSR), so A's
    arrays are reused as they are; the ``y`` identity columns are appended.
    """
    m, nd = A.shape
    if not with_y:
        return csc_array((np.ones(A.nnz), A.indices, A.indptr), shape=(nd, m))
    indptr = np.concatenate([A.indptr.astype(np.int64), A.nnz + np.arange(1, nd + 1, dtype=np.int64)])
    indices = np.concatenate([A.indices, np.arange(nd, dtype=A.indices.dtype)])
    data = np.concatenate([np.full(A.nnz, -1.0), np.ones(nd)])
    return csc_array((data, indices, indptr), shape=(nd, m + nd))


def exact_mclp(
    A: csr_array,
    w: ArrayLike,
    k: int,
    group: ArrayLike | None = None,
    max_per_group: int | None = None,
    time_limit: float = 600.0,
    mip_rel_gap: float = 1e-6,
    aggregate: bool = True,
    max_nnz: int | None = MAX_EXACT_NNZ,
) -> Solution:
    """Maximal covering ILP (HiGHS): ``max sum w_i y_i`` s.t. ``y_i <= sum_j A_ji x_j``, ``sum x_j <= k``.

    ``x`` are binary site variables; ``y`` may be continuous in [0, 1] because
    at an integer ``x`` the optimum sets ``y_i = min(1, sum_j A_ji x_j)``.
    Identical demand columns are merged first (:func:`aggregate_demand`).
    """
    t0 = time.perf_counter()
    w = np.asarray(w, dtype=np.float64)
    if aggregate:
        A, w, _ = aggregate_demand(A, w)
    A = csr_array(A)
    A.sum_duplicates()
    if max_nnz is not None and A.nnz > max_nnz:
        return Solution(
            [],
            float("nan"),
            0.0,
            "exact",
            "skipped_too_large",
            seconds=time.perf_counter() - t0,
            info={"nnz": int(A.nnz), "max_nnz": int(max_nnz)},
        )
    m, nd = A.shape
    if nd == 0 or m == 0 or k <= 0:
        return Solution([], 0.0, 0.0, "exact", "optimal", 0.0, 0.0, time.perf_counter() - t0)
    nvar = m + nd
    c = np.concatenate([np.zeros(m), -w])
    # y_i - sum_j A_ji x_j <= 0
    cover = _cover_csc(A, with_y=True)
    card = csr_array(np.concatenate([np.ones(m), np.zeros(nd)])[None, :])
    cons = [LinearConstraint(cover, -np.inf, 0.0), LinearConstraint(card, -np.inf, float(k))]
    cons += _group_rows(m, group, max_per_group, nvar)
    integrality = np.concatenate([np.ones(m), np.zeros(nd)])
    res = milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap), "disp": False},
    )
    status = _milp_status(res)
    if res.x is None:
        return Solution([], 0.0, 0.0, "exact", status, seconds=time.perf_counter() - t0)
    x = res.x[:m] > 0.5
    sites = np.nonzero(x)[0]
    covered = np.asarray(A[sites].sum(axis=0)).ravel() > 0 if sites.size else np.zeros(nd, dtype=bool)
    cw = float(w[covered].sum())
    bound = getattr(res, "mip_dual_bound", None)
    return Solution(
        sites.tolist(),
        cw,
        cw,
        "exact",
        status,
        None if bound is None else float(-bound),
        getattr(res, "mip_gap", None),
        time.perf_counter() - t0,
        {"rows": int(nd), "cols": int(nvar)},
    )


def exact_lscp(
    A: csr_array,
    w: ArrayLike,
    share: float = 1.0,
    group: ArrayLike | None = None,
    max_per_group: int | None = None,
    time_limit: float = 600.0,
    mip_rel_gap: float = 1e-6,
    aggregate: bool = True,
    max_nnz: int | None = MAX_EXACT_NNZ,
) -> Solution:
    """Location set covering ILP (HiGHS): the fewest sites covering ``share`` of the coverable weight.

    ``share = 1``: every demand point some candidate can reach must be
    reached (``sum_j A_ji x_j >= 1``).  ``share < 1``: ``y_i <= sum_j A_ji x_j``
    and ``sum w_i y_i >= share * coverable weight``.  Demand no candidate
    reaches is left out (it is reported by the caller, not made infeasible).
    """
    t0 = time.perf_counter()
    w = np.asarray(w, dtype=np.float64)
    if aggregate:
        A, w, _ = aggregate_demand(A, w)
    A = csr_array(A)
    keep = np.asarray(A.sum(axis=0)).ravel() > 0
    A, w = csr_array(A[:, np.nonzero(keep)[0]]), w[keep]
    A.sum_duplicates()
    if max_nnz is not None and A.nnz > max_nnz:
        return Solution(
            [],
            float("nan"),
            0.0,
            "exact",
            "skipped_too_large",
            seconds=time.perf_counter() - t0,
            info={"nnz": int(A.nnz), "max_nnz": int(max_nnz)},
        )
    m, nd = A.shape
    coverable = float(w.sum())
    if nd == 0:
        return Solution([], 0.0, 0.0, "exact", "optimal", 0.0, 0.0, time.perf_counter() - t0)
    if share >= 1.0:
        nvar = m
        c = np.ones(m)
        cons = [LinearConstraint(_cover_csc(A, with_y=False), 1.0, np.inf)]
        integrality = np.ones(m)
    else:
        nvar = m + nd
        c = np.concatenate([np.ones(m), np.zeros(nd)])
        cover = _cover_csc(A, with_y=True)
        tgt = csr_array(np.concatenate([np.zeros(m), w])[None, :])
        cons = [LinearConstraint(cover, -np.inf, 0.0), LinearConstraint(tgt, share * coverable, np.inf)]
        integrality = np.concatenate([np.ones(m), np.zeros(nd)])
    cons += _group_rows(m, group, max_per_group, nvar)
    res = milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap), "disp": False},
    )
    status = _milp_status(res)
    if res.x is None:
        return Solution([], float("nan"), 0.0, "exact", status, seconds=time.perf_counter() - t0)
    sites = np.nonzero(res.x[:m] > 0.5)[0]
    covered = np.asarray(A[sites].sum(axis=0)).ravel() > 0 if sites.size else np.zeros(nd, dtype=bool)
    bound = getattr(res, "mip_dual_bound", None)
    return Solution(
        sites.tolist(),
        float(sites.size),
        float(w[covered].sum()),
        "exact",
        status,
        None if bound is None else float(bound),
        getattr(res, "mip_gap", None),
        time.perf_counter() - t0,
        {"rows": int(nd), "cols": int(nvar), "coverable_weight": coverable},
    )


def attainable_village_targets(
    w: NDArray[np.float64], village: NDArray[np.int64], coverable: NDArray[np.bool_], need: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Which village targets candidates can meet at all.

    Parameters
    ----------
    w, village
        Weight and village index (``-1``: none) of each demand point.
    coverable
        Whether some candidate reaches each demand point.
    need
        Extra weight each village must gain (``<= 0``: already met).

    Returns
    -------
    target, unattainable
        The needs to meet (0 where met or unattainable) and a mask of villages
        whose need exceeds what all candidates together could add.
    """
    nv = need.shape[0]
    ok = (village >= 0) & coverable
    can = np.bincount(village[ok], weights=w[ok], minlength=nv)
    unattainable = (need > 1e-9) & (can < need - 1e-9)
    target = np.where((need > 1e-9) & ~unattainable, need, 0.0)
    return target, unattainable


def greedy_lscp_villages(
    A: csr_array,
    w: ArrayLike,
    village: ArrayLike,
    need: ArrayLike,
    group: ArrayLike | None = None,
    max_per_group: int | None = None,
) -> Solution:
    """Fewest sites so every village gains at least its ``need`` of weight (lazy greedy).

    The policy-literal set cover: a village counts as covered when a share of
    its people is within the limit, so each village ``v`` needs ``need[v]``
    more covered people.  The objective ``sum_v min(need_v, gained_v)`` is
    monotone submodular (a truncated coverage function), so lazy evaluation
    is exact and the greedy bound holds.  Villages whose need exceeds what all
    candidates together reach are left out and reported.
    """
    t0 = time.perf_counter()
    A = csr_array(A)
    w = np.asarray(w, dtype=np.float64)
    village = np.asarray(village, dtype=np.int64)
    coverable = np.asarray(A.sum(axis=0)).ravel() > 0
    target, unatt = attainable_village_targets(w, village, coverable, np.asarray(need, dtype=np.float64))
    rem = target.copy()
    covered = np.zeros(A.shape[1], dtype=bool)
    ptr, ind = A.indptr, A.indices
    nv = rem.shape[0]

    def gain(j: int) -> float:
        cols = ind[ptr[j] : ptr[j + 1]]
        cols = cols[~covered[cols] & (village[cols] >= 0)]
        if cols.size == 0:
            return 0.0
        add = np.bincount(village[cols], weights=w[cols], minlength=nv)
        return float(np.minimum(add, rem).sum())

    heap = [(-gain(j), j) for j in range(A.shape[0])]
    heap = [h for h in heap if h[0] < 0]
    heapq.heapify(heap)
    stamp = np.zeros(A.shape[0], dtype=np.int64)
    ginv, gcount = _budget_checker(A.shape[0], group, max_per_group)
    sites: list[int] = []
    gains: list[float] = []
    while heap and rem.sum() > 1e-9:
        negg, j = heapq.heappop(heap)
        if ginv is not None and gcount[ginv[j]] >= max_per_group:
            continue
        if stamp[j] == len(sites):
            cols = ind[ptr[j] : ptr[j + 1]]
            new = cols[~covered[cols]]
            covered[new] = True
            okv = village[new] >= 0
            rem = np.maximum(rem - np.bincount(village[new][okv], weights=w[new][okv], minlength=nv), 0.0)
            sites.append(int(j))
            gains.append(-negg)
            if ginv is not None:
                gcount[ginv[j]] += 1
            continue
        g = gain(j)
        stamp[j] = len(sites)
        if g > 0:
            heapq.heappush(heap, (-g, j))
    met = int(((target > 0) & (rem <= 1e-9)).sum())
    status = "done" if rem.sum() <= 1e-9 else "target_not_reached"
    return Solution(
        sites,
        float(len(sites)),
        float(w[covered].sum()),
        "greedy",
        status,
        seconds=time.perf_counter() - t0,
        info={
            "gains": gains,
            "villages_targeted": int((target > 0).sum()),
            "villages_met": met,
            "villages_unattainable": int(unatt.sum()),
        },
    )


def exact_lscp_villages(
    A: csr_array,
    w: ArrayLike,
    village: ArrayLike,
    need: ArrayLike,
    group: ArrayLike | None = None,
    max_per_group: int | None = None,
    time_limit: float = 600.0,
    mip_rel_gap: float = 1e-6,
    max_nnz: int | None = MAX_EXACT_NNZ,
) -> Solution:
    """Solve the village set cover as an ILP (HiGHS).

    ``min sum_j x_j`` s.t. ``y_i <= sum_j A_ji x_j`` and, for every village
    ``v`` with an attainable need, ``sum_{i in v} w_i y_i >= need_v``;
    ``x`` binary, ``y`` in [0, 1] (integral at the optimum for integer ``x``).
    """
    t0 = time.perf_counter()
    A = csr_array(A)
    A.sum_duplicates()
    w = np.asarray(w, dtype=np.float64)
    village = np.asarray(village, dtype=np.int64)
    coverable = np.asarray(A.sum(axis=0)).ravel() > 0
    target, unatt = attainable_village_targets(w, village, coverable, np.asarray(need, dtype=np.float64))
    info = {"villages_targeted": int((target > 0).sum()), "villages_unattainable": int(unatt.sum())}
    if max_nnz is not None and A.nnz > max_nnz:
        return Solution(
            [],
            float("nan"),
            0.0,
            "exact",
            "skipped_too_large",
            seconds=time.perf_counter() - t0,
            info={"nnz": int(A.nnz), "max_nnz": int(max_nnz), **info},
        )
    vt = np.nonzero(target > 0)[0]
    if vt.size == 0:
        return Solution([], 0.0, 0.0, "exact", "optimal", 0.0, 0.0, time.perf_counter() - t0, info)
    # only demand points in targeted villages matter; merge points with the same candidate set *and* village
    keep = np.nonzero(coverable & np.isin(village, vt))[0]
    A, w, village = csr_array(A[:, keep]), w[keep], village[keep]
    m = A.shape[0]
    tag = csr_array(
        (np.ones(keep.size, dtype=np.uint8), (village, np.arange(keep.size))), shape=(int(village.max()) + 1, keep.size)
    )
    merged, w, col_group = aggregate_demand(csr_array(vstack([A, tag])), w)
    village_g = np.empty(merged.shape[1], dtype=np.int64)
    village_g[col_group] = village
    A, village = csr_array(merged[:m]), village_g
    nd = A.shape[1]
    nvar = m + nd
    row_of = np.full(int(village.max()) + 1, -1, dtype=np.int64)
    row_of[vt] = np.arange(vt.size)
    V = csr_array((w, (row_of[village], m + np.arange(nd))), shape=(vt.size, nvar))
    cons = [LinearConstraint(_cover_csc(A, with_y=True), -np.inf, 0.0), LinearConstraint(V, target[vt] - 1e-6, np.inf)]
    cons += _group_rows(m, group, max_per_group, nvar)
    c = np.concatenate([np.ones(m), np.zeros(nd)])
    integrality = np.concatenate([np.ones(m), np.zeros(nd)])
    res = milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap), "disp": False},
    )
    status = _milp_status(res)
    if res.x is None:
        return Solution([], float("nan"), 0.0, "exact", status, seconds=time.perf_counter() - t0, info=info)
    sites = np.nonzero(res.x[:m] > 0.5)[0]
    covered = np.asarray(A[sites].sum(axis=0)).ravel() > 0 if sites.size else np.zeros(nd, dtype=bool)
    bound = getattr(res, "mip_dual_bound", None)
    return Solution(
        sites.tolist(),
        float(sites.size),
        float(w[covered].sum()),
        "exact",
        status,
        None if bound is None else float(bound),
        getattr(res, "mip_gap", None),
        time.perf_counter() - t0,
        {**info, "rows": int(nd + vt.size), "cols": int(nvar)},
    )


def order_sites(A: csr_array, w: ArrayLike, sites: list[int] | NDArray[np.integer]) -> tuple[list[int], list[float]]:
    """Order a chosen set greedily (largest marginal gain first) and return each site's marginal gain.

    Sites that add nothing come last with gain 0.
    """
    sites = [int(s) for s in sites]
    if not sites:
        return [], []
    sub = csr_array(csr_array(A)[np.asarray(sites, dtype=np.int64)])
    picked, gains = _lazy_greedy(sub, w, None, None, None, None)
    rest = sorted(set(range(len(sites))) - set(picked))
    return [sites[i] for i in picked + rest], [float(g) for g in gains] + [0.0] * len(rest)


def covered_weight(A: csr_array, w: ArrayLike, sites: list[int] | NDArray[np.integer]) -> float:
    """Weight covered by a set of sites."""
    sites = np.asarray(list(sites), dtype=np.int64)
    if sites.size == 0:
        return 0.0
    hit = np.asarray(csr_array(A)[sites].sum(axis=0)).ravel() > 0
    return float(np.asarray(w, dtype=np.float64)[hit].sum())


def optimality_gap(greedy: Solution, exact: Solution, kind: str = "mclp") -> float | None:
    """Relative gap of greedy vs the exact optimum: MCLP ``(opt - greedy) / opt``; LSCP ``(greedy - opt) / opt`` sites.

    When the exact solve stopped at its time limit the optimum is unknown; the
    gap is then measured against the solver's proven bound, so it is an
    upper bound on the true gap.  ``None`` when there is nothing to compare.
    """
    if exact.status == "optimal":
        ref = exact.objective
    elif exact.status == "time_limit" and exact.bound is not None and np.isfinite(exact.bound):
        ref = exact.bound
    else:
        return None
    if not np.isfinite(ref) or ref <= 0:
        return 0.0 if kind == "mclp" and ref == 0 else None
    if kind == "mclp":
        return max(0.0, (ref - greedy.objective) / ref)
    return max(0.0, (greedy.objective - ref) / ref)


def best_solution(greedy: Solution, exact: Solution | None, kind: str = "mclp") -> Solution:
    """Pick the better of a greedy and an exact solution (an exact solve stopped early can be worse)."""
    if exact is None or not exact.sites or not np.isfinite(exact.objective):
        return greedy
    if exact.status == "optimal":
        return exact
    if kind == "mclp":
        return exact if exact.objective >= greedy.objective else greedy
    return exact if exact.objective <= greedy.objective else greedy
