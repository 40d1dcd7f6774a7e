"""Equity of access: who is left behind.  Numbers only.

Population-weighted inequality of the travel time to the nearest facility, per group (town) and overall:

- **Gini**: ``sum_ij w_i w_j |x_i - x_j| / (2 W^2 mu)`` (mean absolute difference over twice the mean; with whole
  weights it equals the unweighted Gini of the values repeated ``w_i`` times, as PySAL ``inequality`` computes it).
- **Theil T**: ``sum_i (w_i x_i / sum w x) ln(x_i / mu)`` (``0 ln 0 = 0``).
- **Palma ratio**: the share of all minutes borne by the 10 % of people with the longest times over the share
  borne by the 40 % with the shortest (read off the weighted Lorenz curve; a cell's people are split where a
  boundary falls inside them).
- **FGT access poverty** with the limit ``z`` as the line: ``P_a = (1/W) sum_{x_i > z} w_i ((x_i - z) / z)^a``;
  ``P0`` the share of people beyond the limit (headcount), ``P1`` the mean excess over the limit as a share of it
  (gap), ``P2`` its square (severity, weighing the far-off more).

The same figures describe the **2SFCA score** (access-weighted supply per person, in the standard's unit) where a
circle has a supply standard (:func:`score_figures`): Gini, Theil T and Palma of the score (the Palma ratio there
is the share of all supply reaching the best-served 10 % over the share reaching the worst-served 40 %), and FGT
poverty *below the standard* ``s`` (:func:`fgt_below`): ``P_a = (1/W) sum_{x_i < s} w_i ((s - x_i) / s)^a``, the
share of people short of the standard, their mean shortfall as a share of it, and its square.

Which way is worse: for every figure, of times and of scores alike, **higher is worse** (more unequal, or more
people beyond the limit / short of the standard, and further); 0 is perfect equality or nobody left behind.

Times are capped at the report cap (``inf``: beyond the cap, unreachable or off the network, all count as the
cap), so the figures are those of the capped times; the cap is stated beside them.  A figure is ``nan`` when it
is undefined (no people, a mean time of 0, or no minutes at all in the quickest 40 %).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The figures of :func:`equity_figures`, in the order they are written.
EQUITY_KEYS = ("gini", "theil_t", "palma", "fgt0", "fgt1", "fgt2")


def _clean(x: ArrayLike, w: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Values and weights as float arrays without the zero-weight entries (weights must be >= 0)."""
    xa = np.asarray(x, dtype=np.float64).reshape(-1)
    wa = np.asarray(w, dtype=np.float64).reshape(-1)
    if xa.shape != wa.shape:
        raise ValueError(f"values ({xa.shape[0]}) and weights ({wa.shape[0]}) differ in length")
    if (wa < 0).any() or not np.isfinite(wa).all():
        raise ValueError("weights must be finite and >= 0")
    keep = wa > 0
    if not np.isfinite(xa[keep]).all():
        raise ValueError("values must be finite (cap the times first: capped_times)")
    return xa[keep], wa[keep]


def capped_times(time_s: ArrayLike, cap_s: float) -> NDArray[np.float64]:
    """Return the times with everything beyond ``cap_s`` (and ``inf``/``nan``: not reached) set to ``cap_s``."""
    t: NDArray[np.float64] = np.array(time_s, dtype=np.float64, copy=True)
    t[~np.isfinite(t) | (t > cap_s)] = cap_s
    return t


def gini(x: ArrayLike, w: ArrayLike) -> float:
    """Population-weighted Gini coefficient of ``x`` (``nan`` with no weight or a zero total)."""
    xa, wa = _clean(x, w)
    total_w = float(wa.sum())
    total_xw = float((xa * wa).sum())
    if total_w <= 0 or total_xw <= 0:
        return float("nan")
    order = np.argsort(xa, kind="stable")
    xs, ws = xa[order], wa[order]
    cum = np.cumsum(ws)
    # x_i counts + against the weight below it and - against the weight above it: 2C_i - w_i - W
    return float((ws * xs * (2.0 * cum - ws - total_w)).sum() / (total_w * total_xw))


def theil_t(x: ArrayLike, w: ArrayLike) -> float:
    """Population-weighted Theil T index of ``x`` (``nan`` with no weight or a zero mean)."""
    xa, wa = _clean(x, w)
    total_w = float(wa.sum())
    total_xw = float((xa * wa).sum())
    if total_w <= 0 or total_xw <= 0:
        return float("nan")
    mu = total_xw / total_w
    pos = xa > 0
    s = wa[pos] * xa[pos] / total_xw
    return float((s * np.log(xa[pos] / mu)).sum())


def lorenz(x: ArrayLike, w: ArrayLike, p: ArrayLike) -> NDArray[np.float64]:
    """Weighted Lorenz curve ``L(p)``: the share of the total of ``x`` held by the lowest ``p`` of the weight."""
    xa, wa = _clean(x, w)
    pa = np.asarray(p, dtype=np.float64)
    total_w = float(wa.sum())
    total_xw = float((xa * wa).sum())
    if total_w <= 0 or total_xw <= 0:
        return np.full(pa.shape, np.nan)
    order = np.argsort(xa, kind="stable")
    cw = np.concatenate([[0.0], np.cumsum(wa[order])])
    cxw = np.concatenate([[0.0], np.cumsum(wa[order] * xa[order])])
    # within one entry x is constant, so the curve is linear between the cumulative weights
    return np.asarray(np.interp(pa * total_w, cw, cxw) / total_xw, dtype=np.float64)


def palma(x: ArrayLike, w: ArrayLike) -> float:
    """Palma ratio: share of the total borne by the top 10 % over the share of the bottom 40 % (weighted)."""
    low, high = lorenz(x, w, [0.4, 0.9])
    if not (np.isfinite(low) and low > 0):
        return float("nan")
    return float((1.0 - high) / low)


def _fgt(x: ArrayLike, w: ArrayLike, line: float, alpha: float, below: bool) -> float:
    """FGT index of the gaps beyond ``line``: shortfalls below it (``below``) or excesses over it."""
    if not line > 0:
        raise ValueError(f"the line must be > 0, got {line}")
    xa, wa = _clean(x, w)
    total_w = float(wa.sum())
    if total_w <= 0:
        return float("nan")
    poor = xa < line if below else xa > line
    if alpha == 0:
        return float(wa[poor].sum() / total_w)
    gap = np.abs(xa[poor] - line) / line
    return float((wa[poor] * gap**alpha).sum() / total_w)


def fgt(x: ArrayLike, w: ArrayLike, line: float, alpha: float) -> float:
    """Foster-Greer-Thorbecke index of *excess* over ``line``: ``(1/W) sum_{x>z} w ((x - z) / z)^alpha``."""
    return _fgt(x, w, line, alpha, below=False)


def fgt_below(x: ArrayLike, w: ArrayLike, line: float, alpha: float) -> float:
    """Foster-Greer-Thorbecke index of *shortfall* below ``line``: ``(1/W) sum_{x<z} w ((z - x) / z)^alpha``."""
    return _fgt(x, w, line, alpha, below=True)


def score_figures(x: ArrayLike, w: ArrayLike, standard: float) -> dict[str, float]:
    """Gini, Theil T, Palma and FGT P0/P1/P2 *below* ``standard`` of 2SFCA scores ``x`` (weights ``w``)."""
    return {
        "gini": gini(x, w),
        "theil_t": theil_t(x, w),
        "palma": palma(x, w),
        "fgt0": fgt_below(x, w, standard, 0),
        "fgt1": fgt_below(x, w, standard, 1),
        "fgt2": fgt_below(x, w, standard, 2),
    }


def equity_figures(x: ArrayLike, w: ArrayLike, line: float) -> dict[str, float]:
    """Gini, Theil T, Palma and FGT P0/P1/P2 (the ``line`` as poverty line) of capped times ``x``, weights ``w``."""
    return {
        "gini": gini(x, w),
        "theil_t": theil_t(x, w),
        "palma": palma(x, w),
        "fgt0": fgt(x, w, line, 0),
        "fgt1": fgt(x, w, line, 1),
        "fgt2": fgt(x, w, line, 2),
    }


def equity_by_group(
    group: ArrayLike, n_groups: int, x: ArrayLike, w: ArrayLike, line: float, *, below: bool = False
) -> dict[str, NDArray[np.float64]]:
    """:func:`equity_figures` for each group ``0..n_groups-1`` (entries with a group ``< 0`` are left out).

    With ``below=True`` the figures are :func:`score_figures` (poverty as a shortfall below ``line``).

    Returns
    -------
    dict
        One float array of length ``n_groups`` per key of :data:`EQUITY_KEYS` (``nan`` for a group without people).
    """
    g = np.asarray(group, dtype=np.int64).reshape(-1)
    xa = np.asarray(x, dtype=np.float64).reshape(-1)
    wa = np.asarray(w, dtype=np.float64).reshape(-1)
    out = {k: np.full(n_groups, np.nan) for k in EQUITY_KEYS}
    ok = g >= 0
    g, xa, wa = g[ok], xa[ok], wa[ok]
    order = np.argsort(g, kind="stable")
    bounds = np.searchsorted(g[order], np.arange(n_groups + 1))
    for i in range(n_groups):
        sl = order[bounds[i] : bounds[i + 1]]
        if sl.size == 0:
            continue
        figs = (score_figures if below else equity_figures)(xa[sl], wa[sl], line)
        for k in EQUITY_KEYS:
            out[k][i] = figs[k]
    return out
