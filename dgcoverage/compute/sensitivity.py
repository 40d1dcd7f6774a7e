"""Speed sensitivity: does 达标 still hold when people walk slower?  Numbers only.

A circle is measured at several speeds.  Per village, the share of its people within the limit at each speed,
whether it is covered (达标) at each, and a class:

- ``robust``: covered at the slowest speed (so at every speed: being within the limit only gets easier faster);
- ``fragile``: not covered at the slowest speed, covered at a faster one;
- ``not_covered``: covered at none of the speeds;
- ``no_data``: no area or no people.

One search serves every speed when the whole trip scales with the speed: the network leg and the access legs
(home -> node, node -> door) travelled at the same speed, so a trip of ``d`` metres takes ``d / v`` seconds and
the nearest facility is the same at every speed (:func:`times_from_metres`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

ROBUST, FRAGILE, NOT_COVERED, NO_DATA = "robust", "fragile", "not_covered", "no_data"
#: The classes in the order they are counted and written.
SPEED_CLASSES = (ROBUST, FRAGILE, NOT_COVERED, NO_DATA)
SPEED_CLASS_ZH = {ROBUST: "稳健达标", FRAGILE: "脆弱达标", NOT_COVERED: "未达标", NO_DATA: "无数据"}


def times_from_metres(metres: ArrayLike, speeds_mps: ArrayLike) -> NDArray[np.float64]:
    """Seconds at each speed of trips of ``metres`` (one column per speed; ``inf`` stays ``inf``)."""
    m = np.asarray(metres, dtype=np.float64).reshape(-1, 1)
    v = np.asarray(speeds_mps, dtype=np.float64).reshape(1, -1)
    if not (v > 0).all():
        raise ValueError(f"speeds must be > 0 m/s, got {v.ravel().tolist()}")
    return np.asarray(m / v, dtype=np.float64)


def covered_by_speed(
    cell_village: ArrayLike, cell_pop: ArrayLike, cell_times_s: ArrayLike, limit_s: float, n_villages: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """People per village and people within ``limit_s`` per village and speed.

    Parameters
    ----------
    cell_village
        Village index of each cell (``-1``: in none).
    cell_pop
        People per cell.
    cell_times_s
        Seconds from each cell to its nearest facility, one column per speed (``inf``: not reached).
    limit_s
        The limit; a time equal to it counts as within (as in the coverage tables).
    n_villages
        Number of villages.

    Returns
    -------
    population, covered
        ``(n_villages,)`` people and ``(n_villages, n_speeds)`` people within the limit.
    """
    cv = np.asarray(cell_village, dtype=np.int64).reshape(-1)
    cp = np.asarray(cell_pop, dtype=np.float64).reshape(-1)
    ct = np.asarray(cell_times_s, dtype=np.float64)
    ct = ct.reshape(cv.shape[0], -1)
    ok = cv >= 0
    cv, cp, ct = cv[ok], cp[ok], ct[ok]
    pop = cast("NDArray[np.float64]", np.bincount(cv, weights=cp, minlength=n_villages).astype(np.float64))
    covered = np.zeros((n_villages, ct.shape[1]), dtype=np.float64)
    for j in range(ct.shape[1]):
        within = ct[:, j] <= limit_s + 1e-9
        covered[:, j] = np.bincount(cv[within], weights=cp[within], minlength=n_villages)
    return pop, covered


def speed_classes(
    population: ArrayLike, covered: ArrayLike, covered_min_share: float, has_area: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.str_]]:
    """Covered share and 达标 per village and speed (speeds ascending), and the village's class.

    Returns
    -------
    share, passes, cls
        ``(n, k)`` share within the limit (``nan`` without people), ``(n, k)`` whether the share reaches
        ``covered_min_share`` (as the status "covered" of the coverage tables), and the class per village
        (:data:`SPEED_CLASSES`).
    """
    pop = np.asarray(population, dtype=np.float64).reshape(-1)
    cov = np.asarray(covered, dtype=np.float64).reshape(pop.shape[0], -1)
    area = np.asarray(has_area, dtype=bool).reshape(-1)
    data = area & (pop > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(data[:, None], cov / np.where(pop > 0, pop, 1.0)[:, None], np.nan)
    passes = data[:, None] & (np.nan_to_num(share, nan=0.0) >= covered_min_share - 1e-12)
    cls = np.full(pop.shape[0], NOT_COVERED, dtype="<U11")
    cls[passes[:, 1:].any(axis=1)] = FRAGILE
    cls[passes[:, 0]] = ROBUST
    cls[~data] = NO_DATA
    return share, passes, cls
