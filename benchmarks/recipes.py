"""The baselines dgcoverage is compared with: the scipy floor, networkx (ego graphs, multi-source Dijkstra), pandana.

Each reads the problem files written by :func:`benchmarks.steps.step_dgcoverage` and compares its travel times
with dgcoverage's (max abs difference, seconds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import _best

TOL_S = 1e-6
PANDANA_TOL_S = 0.05  # pandana's contraction hierarchies store weights in fixed point: ~1e-2 s, not 1e-6 s


def _compare(ref: np.ndarray, got: np.ndarray, cap: float, tol: float = TOL_S) -> dict[str, Any]:
    """Max abs difference where both are finite; count of reach mismatches away from the cap."""
    fr, fg = np.isfinite(ref), np.isfinite(got)
    both = fr & fg
    diff = float(np.max(np.abs(ref[both] - got[both]))) if both.any() else 0.0
    near_cap = np.zeros(ref.shape, dtype=bool)
    near_cap[fr] = np.abs(ref[fr] - cap) <= tol
    near_cap[fg] |= np.abs(got[fg] - cap) <= tol
    mism = int(((fr != fg) & ~near_cap).sum())
    return {"max_abs_diff_s": diff, "reach_mismatches": mism, "compared": int(both.sum())}


def _load_problem(pdir: Path) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Load the problem files written by :func:`step_dgcoverage`: the graph and, per circle, arrays and limits."""
    g = dict(np.load(pdir / "graph.npz"))
    circles = json.loads((pdir / "circles.json").read_text())
    probs = {cid: dict(np.load(pdir / f"{cid}.npz")) for cid in circles}
    for cid in circles:
        probs[cid].update(circles[cid])
    return g, probs


def _rev_csr(g: dict[str, np.ndarray]) -> Any:
    """Return the reversed graph with its (empty) super-source row, as a scipy CSR array."""
    from scipy.sparse import csr_array

    n1 = int(g["n"]) + 1
    return csr_array((g["data"], g["indices"], g["indptr"]), shape=(n1, n1))


def _with_super_source(g: dict[str, np.ndarray], node: np.ndarray, leg: np.ndarray) -> Any:
    """Build the floor's CSR: reversed graph (metres) + super-source row n joined to facility nodes (min leg)."""
    from scipy.sparse import csr_array

    n = int(g["n"])
    order = np.lexsort((leg, node))
    node, leg = node[order], leg[order]
    first = np.ones(node.size, dtype=bool)
    first[1:] = node[1:] != node[:-1]
    node, leg = node[first], leg[first]
    nnz = int(g["indptr"][n])
    indptr = g["indptr"].astype(np.int32).copy()
    indptr[n + 1] = nnz + node.size
    return csr_array(
        (
            np.concatenate([g["data"][:nnz], leg]),
            np.concatenate([g["indices"][:nnz].astype(np.int32), node.astype(np.int32)]),
            indptr,
        ),
        shape=(n + 1, n + 1),
    )


def _cell_times(node_t: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """Cell times from node times (node time + the cell's walk to its node; beyond the cap: inf)."""
    cn = p["cell_node"]
    out = np.full(cn.shape[0], np.inf)
    on = cn >= 0
    out[on] = node_t[cn[on]] + p["cell_leg_s"][on]
    out[out > p["cap_s"]] = np.inf
    return out


def step_scipy(pdir: str, repeat: int = 3) -> dict[str, Any]:
    """Measure the floor: one bare csgraph.dijkstra per circle on a prebuilt CSR with the super-source.

    Parameters
    ----------
    pdir
        Problem folder written by :func:`step_dgcoverage`.
    repeat
        Each search is timed as the best of this many calls.

    Returns
    -------
    dict
        ``time_s`` (sum of the searches) and ``circles`` (per circle: ``search_s``, ``max_abs_diff_s``,
        ``reach_mismatches``, ``compared``).
    """
    from scipy.sparse.csgraph import dijkstra

    g, probs = _load_problem(Path(pdir))
    n = int(g["n"])
    per, total = {}, 0.0
    for cid, p in probs.items():
        v = p["v_mps"]
        ok = p["fnode"] >= 0
        R = _with_super_source(g, p["fnode"][ok], p["fleg_s"][ok] * v)
        t, d = _best(lambda R=R, v=v, p=p: dijkstra(R, directed=True, indices=n, limit=p["cap_s"] * v), repeat)
        node_t = np.asarray(d[:n]) / v
        chk = _compare(p["cell_time_s"], _cell_times(node_t, p), p["cap_s"])
        per[cid] = {"search_s": t, **chk}
        total += t
    return {"time_s": total, "circles": per}


def step_networkx(pdir: str, budget_s: float, seed: int = 0) -> dict[str, Any]:
    """networkx: ego_graph per facility (tutorial recipe) and multi_source_dijkstra_path_length.

    Parameters
    ----------
    pdir
        Problem folder written by :func:`step_dgcoverage`.
    budget_s
        Seconds for the ego-graph recipe over all circles; past its share, a circle's remaining facilities
        are skipped and its time scaled linearly (``ego_full`` false).
    seed
        Order in which facilities are tried (a random subsample when the budget runs out).

    Returns
    -------
    dict
        ``time_s``, ``build_s`` (DiGraph), ``ego_total_s``, ``msd_total_s``, ``ego_extrapolated`` and
        ``circles`` (per circle: times, ego-graph counts, ``ego_reach_mismatches`` and the multi-source
        comparison ``max_abs_diff_s``, ``reach_mismatches``).
    """
    import networkx as nx

    g, probs = _load_problem(Path(pdir))
    n = int(g["n"])
    rev = _rev_csr(g)[:n, :n].tocoo()
    t0 = time.perf_counter()
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_weighted_edges_from(zip(rev.row.tolist(), rev.col.tolist(), rev.data.tolist()), weight="length")
    t_build = time.perf_counter() - t0
    del rev
    per = {}
    budget_each = budget_s / max(len(probs), 1)
    for cid, p in probs.items():
        v, limit, cap = p["v_mps"], p["limit_s"], p["cap_s"]
        t = time.perf_counter()
        for _, _, d in G.edges(data=True):
            d["time"] = d["length"] / v
        t_attr = time.perf_counter() - t
        # (a) tutorial recipe: one ego graph per facility, radius = limit minus the facility's access leg
        fac = np.flatnonzero((p["fnode"] >= 0) & (p["fleg_s"] <= limit))
        order = np.random.default_rng(seed).permutation(fac)
        reached: set[int] = set()
        t = time.perf_counter()
        done = 0
        for i in order:
            H = nx.ego_graph(G, int(p["fnode"][i]), radius=float(limit - p["fleg_s"][i]), distance="time")
            reached.update(H.nodes)
            done += 1
            if time.perf_counter() - t > budget_each:
                break
        cells_reached = np.isin(p["cell_node"], np.fromiter(reached, dtype=np.int64, count=len(reached)))
        t_ego = time.perf_counter() - t
        full = done == len(order)
        t_ego_full = t_ego if full else t_ego * len(order) / max(done, 1)
        node_in = np.zeros(n, dtype=bool)
        node_in[list(reached)] = True
        dg_in = p["node_time_s"] <= limit
        away = np.abs(p["node_time_s"] - limit) > TOL_S
        # a subsample can only be checked for false positives
        ego_mism = int(((node_in != dg_in) & away).sum()) if full else int((node_in & ~dg_in & away).sum())
        # (b) multi-source Dijkstra from a super-source joined to each facility node by its access leg
        S = -1
        legs: dict[int, float] = {}
        for node, leg in zip(p["fnode"].tolist(), p["fleg_s"].tolist()):
            if node >= 0:
                legs[node] = min(leg, legs.get(node, np.inf))
        t = time.perf_counter()
        G.add_weighted_edges_from(((S, k, w) for k, w in legs.items()), weight="time")
        dist = nx.multi_source_dijkstra_path_length(G, {S}, cutoff=cap, weight="time")
        G.remove_node(S)
        node_t = np.full(n, np.inf)
        keys = np.fromiter((k for k in dist if k != S), dtype=np.int64)
        node_t[keys] = np.fromiter((dist[k] for k in dist if k != S), dtype=np.float64)
        t_msd = time.perf_counter() - t
        chk = _compare(p["cell_time_s"], _cell_times(node_t, p), cap)
        per[cid] = {
            "attr_s": t_attr,
            "ego_s": t_ego,
            "ego_full_s": t_ego_full,
            "ego_done": done,
            "ego_total": int(len(order)),
            "ego_full": full,
            "ego_reach_mismatches": ego_mism,
            "ego_cells_reached": int(cells_reached.sum()),
            "msd_s": t_msd,
            **chk,
        }
    tot_ego = t_build + sum(c["attr_s"] + c["ego_full_s"] for c in per.values())
    tot_msd = t_build + sum(c["attr_s"] + c["msd_s"] for c in per.values())
    return {
        "time_s": tot_ego + sum(c["msd_s"] for c in per.values()),
        "build_s": t_build,
        "ego_total_s": tot_ego,
        "msd_total_s": tot_msd,
        "ego_extrapolated": not all(c["ego_full"] for c in per.values()),
        "circles": per,
    }


def step_pandana(pdir: str) -> dict[str, Any]:
    """Pandana nearest_pois; each facility is a leaf node joined to its network node by its access leg.

    Parameters
    ----------
    pdir
        Problem folder written by :func:`step_dgcoverage`.

    Returns
    -------
    dict
        ``time_s``, ``build_s`` (contraction hierarchies), ``available``, ``version`` and ``circles`` (per
        circle: ``query_s`` and the comparison to :data:`PANDANA_TOL_S`); without pandana installed,
        ``{"time_s": nan, "available": False, "error"}``.
    """
    try:
        import pandana
        import pandas as pd
    except ImportError as exc:
        return {"time_s": float("nan"), "available": False, "error": f"{type(exc).__name__}: {exc}"}
    g, probs = _load_problem(Path(pdir))
    n = int(g["n"])
    rev = _rev_csr(g)[:n, :n].tocoo()
    # One network for all circles, impedance in metres-at-network-speed (times = impedance / speed): road edges
    # are metres; each facility of each circle is a leaf joined to its node (both directions) by its access leg
    # x the circle's speed.  Leaves sit at the facility shifted by a unique k mm, so that set_pois snaps each POI
    # to its own leaf (facilities of different circles can share a location).
    xs, ys, fr, to, w = [g["x"]], [g["y"]], [rev.row.astype(np.int64)], [rev.col.astype(np.int64)], [rev.data]
    nxt, leaf = n, {}
    for cid, p in probs.items():
        ok = np.flatnonzero(p["fnode"] >= 0)
        ids = np.arange(nxt, nxt + ok.size)
        nxt += ok.size
        lx, ly = p["fx"][ok] + 1e-3 * (ids - n + 1), p["fy"][ok].copy()
        leaf[cid] = (lx, ly)
        xs.append(lx)
        ys.append(ly)
        fr += [ids, p["fnode"][ok]]
        to += [p["fnode"][ok], ids]
        w += [p["fleg_s"][ok] * p["v_mps"]] * 2
    t = time.perf_counter()
    net = pandana.Network(
        pd.Series(np.concatenate(xs)),
        pd.Series(np.concatenate(ys)),
        pd.Series(np.concatenate(fr)),
        pd.Series(np.concatenate(to)),
        pd.DataFrame({"m": np.concatenate(w)}),
        twoway=False,
    )
    t_build = time.perf_counter() - t
    per = {}
    for cid, p in probs.items():
        lx, ly = leaf[cid]
        v, cap = p["v_mps"], p["cap_s"]
        t = time.perf_counter()
        net.set_pois(cid, cap * v * 1.001 + 1.0, 1, pd.Series(lx), pd.Series(ly))  # query <= preprocessed
        res = net.nearest_pois(cap * v, cid, num_pois=1, max_distance=1e12)
        t_q = time.perf_counter() - t
        node_t = np.array(res[1].to_numpy(dtype=np.float64)[:n], copy=True)
        node_t[node_t >= 1e11] = np.inf
        node_t /= v
        chk = _compare(p["cell_time_s"], _cell_times(node_t, p), cap, PANDANA_TOL_S)
        per[cid] = {"query_s": t_q, **chk}
    return {
        "time_s": t_build + sum(c["query_s"] for c in per.values()),
        "build_s": t_build,
        "available": True,
        "version": pandana.__version__,
        "circles": per,
    }
