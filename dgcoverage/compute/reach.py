"""Which road pieces a circle reaches, and the grid scores that trace their buffered union (numbers only).

A traveller reaches the part of each directed edge within the time left at its head node
(:func:`reached_pieces`); every reached piece, widened by the walking access leg still affordable at its two
ends, is the hull of two discs (:class:`Capsules`, :func:`capsules`).  :func:`score_field` scores the nodes
of a grid near the boundary of their union, :func:`inside_mask` gives the inside nodes and :func:`crossings`
puts every vertex of a traced outline at the boundary's crossing of its grid edge.  The polygons are built,
and the areas written, in :mod:`dgcoverage.outputs.areas`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

#: Smallest buffer radius (m), so that pieces reached with no time to spare still show as a thin band.
MIN_RADIUS_M = 0.5
#: Grid spacing (m) of the raster service area (finer when the buffers are small).
CELL_M = 30.0
#: Most grid nodes of a raster service area; a larger extent gets a coarser grid.
MAX_GRID_NODES = 8_000_000
#: A piece's polygon that sticks out of the one containing it by at most this much (m) is dropped.
CONTAIN_TOL_M = 1e-3
_CHUNK = 1 << 18  # rows (or nodes) handled per vectorised step: bounds the temporary memory
_EDT_SHARE = 3.0  # a feature transform for the full-radius pieces when their rows exceed this share of the nodes


def reached_pieces(
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    node_time_s: np.ndarray,
    limit_s: float,
    speed_mps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the reached part of each directed edge.

    A traveller on edge ``u -> v`` heads for ``v`` (two-way streets are two
    directed edges, so both ends are handled).  With ``t_v`` the time from
    ``v`` to its nearest facility, the part within ``(limit - t_v) * speed``
    metres of ``v`` is reached.

    Parameters
    ----------
    x, y
        Projected node coordinates (m).
    u, v, length_m
        Directed edges (positional node indices) and their network lengths (m).
    node_time_s
        Seconds from each node to its nearest facility (``inf`` = not reached).
    limit_s
        The circle's limit in seconds.
    speed_mps
        Travel speed on the network (m/s).

    Returns
    -------
    x0, y0, x1, y1, rem0_s, rem1_s
        For each reached piece: its start (farthest reached point from ``v``)
        and end (``v``), and the seconds of budget left at each end.
    """
    t_v = node_time_s[v]
    ok = np.isfinite(t_v) & (t_v <= limit_s + 1e-9)
    u, v, L, t_v = u[ok], v[ok], length_m[ok], t_v[ok]
    rem1 = np.maximum(limit_s - t_v, 0.0)
    reach_m = np.minimum(rem1 * speed_mps, L)
    with np.errstate(invalid="ignore", divide="ignore"):
        f0 = np.where(L > 0, 1.0 - reach_m / np.where(L > 0, L, 1.0), 1.0)
    x1, y1 = x[v], y[v]
    x0 = x1 + (x[u] - x1) * (1.0 - f0)
    y0 = y1 + (y[u] - y1) * (1.0 - f0)
    rem0 = np.maximum(rem1 - reach_m / speed_mps, 0.0)
    return x0, y0, x1, y1, rem0, rem1


# ---------------------------------------------------------------- raster service area
#
# Every piece's polygon is the hull of two discs, and a point p lies in it exactly when
# score(p) = max over the segment of (radius - distance to p) >= 0.  The score is 1-Lipschitz, so on a
# grid of spacing h a node with score >= h has only inside neighbours ("deep"), and every grid edge the
# boundary crosses joins two nodes with |score| < h.  Only those nodes need their exact score; it is the
# maximum over the few pieces whose boundary passes within h of them.  The steps:
#
# 1. drop pieces that lie inside the piece their head node leaves by (toward its facility): on a walking
#    circle this is nearly all of them;
# 2. pieces buffered by the full max_snap_m: distance to the nearest one from a feature transform
#    (scipy.ndimage), exact near the boundary; drop the other pieces that lie in one of them;
# 3. the rest: mark the nodes deep inside their end discs (row spans), then score the nodes within h of
#    their boundary that are not deep (row runs, skipped when already deep);
# 4. trace the boundary between inside and outside nodes (GDAL polygonize of the node mask, in
#    dgcoverage.outputs.areas) and put each vertex at the zero of the score on its grid edge (crossings).


class Capsules(NamedTuple):
    """The pieces' polygons as disc pairs, with what is needed to drop the redundant ones."""

    ax: np.ndarray
    ay: np.ndarray
    ra: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    rb: np.ndarray
    container: np.ndarray  # index of a capsule that may hold this one (-1: none)
    tol: np.ndarray  # how far (m) this capsule may stick out of its container and still be dropped
    full_radius: float  # the largest radius (max_snap_m, or access_m)

    def geom(self, idx: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, ...]:
        """Return ``ax, ay, ra, bx, by, rb`` of the capsules ``idx``."""
        return self.ax[idx], self.ay[idx], self.ra[idx], self.bx[idx], self.by[idx], self.rb[idx]


def capsules(
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    node_time_s: np.ndarray,
    limit_s: float,
    speed_mps: float,
    access_speed_mps: float,
    max_snap_m: float,
    access_m: float | None,
) -> Capsules | None:
    """Return the disc pairs of the exact definition (pieces, then lone nodes); ``None`` when nothing is reached."""
    tn = node_time_s
    nodes = np.nonzero(np.isfinite(tn) & (tn <= limit_s + 1e-9))[0]
    if nodes.size == 0:
        return None
    x0, y0, x1, y1, rem0, rem1 = reached_pieces(x, y, u, v, length_m, node_time_s, limit_s, speed_mps)
    ok = np.isfinite(tn[v]) & (tn[v] <= limit_s + 1e-9)  # the pieces' edges, as in reached_pieces
    pu, pv, L = u[ok], v[ok], length_m[ok]
    full = rem1 * speed_mps >= L  # the whole edge is reached
    if access_m is not None:
        big = max(float(access_m), MIN_RADIUS_M)
        ra = rb = np.full(pu.size, big)
        lone = nodes
        rn = np.full(lone.size, big)
    else:
        big = max(float(max_snap_m), MIN_RADIUS_M)
        ra = np.clip(np.minimum(rem0 * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
        rb = np.clip(np.minimum(rem1 * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
        heads = np.zeros(x.size, dtype=bool)
        heads[pv] = True
        lone = nodes[~heads[nodes]]
        rn = np.clip(np.minimum((limit_s - tn[lone]) * access_speed_mps, max_snap_m), MIN_RADIUS_M, None)
    # the piece each node leaves by toward its facility (fully reached, earliest arrival, lowest index)
    fi = np.nonzero(full & (L > 0))[0]
    arrive = L[fi] / speed_mps + tn[pv[fi]]
    best = np.full(x.size, np.inf)
    np.minimum.at(best, pu[fi], arrive)
    fi = fi[arrive <= best[pu[fi]]]
    none = np.iinfo(np.int64).max
    leave = np.full(x.size, none, dtype=np.int64)
    np.minimum.at(leave, pu[fi], fi)
    # a piece may lie in the piece its head leaves by, a lone node's disc in the piece the node leaves by;
    # only toward the facility (strictly earlier), so that containment never runs in a circle
    head = np.concatenate([pv, lone])
    cont = leave[head]
    has = cont != none
    has[has] = tn[pv[cont[has]]] < tn[head[has]]
    # a partly reached piece ends in a MIN_RADIUS_M disc where nothing is left: no container holds that tip
    tol = np.concatenate([np.where(full, 0.0, MIN_RADIUS_M), np.zeros(lone.size)]) + CONTAIN_TOL_M
    return Capsules(
        np.concatenate([x0, x[lone]]),
        np.concatenate([y0, y[lone]]),
        np.concatenate([ra, rn]),
        np.concatenate([x1, x[lone]]),
        np.concatenate([y1, y[lone]]),
        np.concatenate([rb, rn]),
        np.where(has, cont, -1),
        tol,
        big,
    )


def hull_score(
    px: np.ndarray,
    py: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    ra: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    rb: np.ndarray,
) -> np.ndarray:
    """Return max over segment AB of (radius - distance to p), the radius linear from ``ra`` to ``rb``.

    It is >= 0 exactly in the hull of the discs ``(A, ra)`` and ``(B, rb)`` and 1-Lipschitz in ``p``.
    """
    dx, dy = bx - ax, by - ay
    d = np.hypot(dx, dy)
    pos = d > 0
    ds = np.where(pos, d, 1.0)
    ex, ey = np.where(pos, dx / ds, 1.0), dy / ds
    qx, qy = px - ax, py - ay
    s = qx * ex + qy * ey  # along AB
    w = np.abs(qx * ey - qy * ex)  # across
    g = (rb - ra) / ds  # radius gained per metre along AB
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(np.abs(g) < 1, s + g * w / np.sqrt(np.maximum(1 - g * g, 1e-300)), np.where(g > 0, d, 0.0))
    tau = np.clip(np.nan_to_num(tau), 0.0, d)  # the best point of the segment (the score is concave along it)
    score: np.ndarray = ra + g * tau - np.hypot(s - tau, w)
    return score


def _disc_spans(yr: np.ndarray, cx: np.ndarray, cy: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the x-extent of the disc ``(c, r)`` on the line at height ``yr`` (``lo > hi`` where empty)."""
    w2 = r * r - (yr - cy) ** 2
    w = np.sqrt(np.maximum(w2, 0.0))
    bad = (w2 < 0) | (r < 0)
    return np.where(bad, np.inf, cx - w), np.where(bad, -np.inf, cx + w)


def hull_spans(
    yr: np.ndarray, ax: np.ndarray, ay: np.ndarray, ra: np.ndarray, bx: np.ndarray, by: np.ndarray, rb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the x-extent of the hull of the discs ``(A, ra)``, ``(B, rb)`` on the line at height ``yr``.

    The hull is convex and made of the two discs and the two outer tangent segments, so its extent is the
    extreme of the discs' extents and the tangents' crossings.  A negative radius stands for no disc (and no
    hull); an empty extent has ``lo > hi``.
    """
    lo, hi = _disc_spans(yr, ax, ay, ra)
    lo2, hi2 = _disc_spans(yr, bx, by, rb)
    np.minimum(lo, lo2, out=lo)
    np.maximum(hi, hi2, out=hi)
    d = np.hypot(bx - ax, by - ay)
    t = np.nonzero((d > np.abs(ra - rb)) & (ra >= 0) & (rb >= 0))[0]  # neither disc holds the other: tangents
    if t.size == 0:
        return lo, hi
    yr, ax, ay, ra, bx, by, rb, d = (a[t] for a in (yr, ax, ay, ra, bx, by, rb, d))
    ex, ey = (bx - ax) / d, (by - ay) / d
    c = (ra - rb) / d
    sn = np.sqrt(1 - c * c)
    for sgn in (1.0, -1.0):
        mx, my = c * ex - sgn * sn * ey, c * ey + sgn * sn * ex  # unit normal of a tangent line
        tay, tby = ay + ra * my, by + rb * my
        den = tby - tay
        hit = ((yr - tay) * (yr - tby) <= 0) & (den != 0)
        xt = ax + ra * mx + (yr - tay) / np.where(hit, den, 1.0) * (bx + rb * mx - ax - ra * mx)
        lo[t] = np.minimum(lo[t], np.where(hit, xt, np.inf))
        hi[t] = np.maximum(hi[t], np.where(hit, xt, -np.inf))
    return lo, hi


def seg_dist(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Return the distance from p to the segment AB."""
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    dist: np.ndarray = np.hypot(px - ax - t * dx, py - ay - t * dy)
    return dist


def ranges(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for the inclusive ranges ``start[k]..stop[k]`` laid end to end, each element's ``k`` and value."""
    n = np.maximum(stop - start + 1, 0)
    k = np.repeat(np.arange(n.size), n)
    return k, np.arange(k.size) - np.repeat(np.cumsum(n) - n, n) + start[k]


def _chunks(weights: np.ndarray, size: int = _CHUNK) -> list[tuple[int, int]]:
    """Split ``range(len(weights))`` into consecutive slices of about ``size`` total weight each."""
    cw = np.cumsum(weights)
    if cw.size == 0:
        return []
    cut = np.searchsorted(cw, np.arange(size, cw[-1], size), side="right")
    b = np.unique(np.concatenate([[0], cut, [weights.size]]))
    return list(zip(b[:-1].tolist(), b[1:].tolist()))


class Field:
    """Scores on the grid nodes ``(x0 + col * h, ytop - row * h)``, stored flat (row-major)."""

    def __init__(self, xmin: float, ymin: float, xmax: float, ymax: float, h: float) -> None:
        self.h = h
        self.x0 = float(np.floor(xmin / h) * h - 2 * h)  # on a lattice of h: the same nodes for any input
        self.ytop = float(np.ceil(ymax / h) * h + 2 * h)
        self.nx = int(np.ceil((xmax - self.x0) / h)) + 3
        self.ny = int(np.ceil((self.ytop - ymin) / h)) + 3
        n = self.nx * self.ny
        self.score = np.full(n, -np.inf)  # exact where |score| < h; -inf: known to be below -h
        self.best = np.full(n, -1, dtype=np.int32)  # capsule giving the score
        self.deep = np.zeros(n, dtype=bool)  # score >= h

    def rows(self, ylo: np.ndarray, yhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the first and last grid row between heights ``ylo`` and ``yhi`` (clipped to the grid)."""
        j0 = np.ceil((self.ytop - yhi) / self.h).astype(np.int64)
        j1 = np.floor((self.ytop - ylo) / self.h).astype(np.int64)
        return np.maximum(j0, 0), np.minimum(j1, self.ny - 1)

    def cols(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the first and last grid column between ``lo`` and ``hi`` (clipped to the grid)."""
        c0 = np.ceil(np.clip((lo - self.x0) / self.h, -1, self.nx + 1)).astype(np.int64)
        c1 = np.floor(np.clip((hi - self.x0) / self.h, -1, self.nx + 1)).astype(np.int64)
        return np.maximum(c0, 0), np.minimum(c1, self.nx - 1)

    def node(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Return the (flat) grid node nearest each point."""
        col = np.clip(np.rint((px - self.x0) / self.h), 0, self.nx - 1).astype(np.int64)
        row = np.clip(np.rint((self.ytop - py) / self.h), 0, self.ny - 1).astype(np.int64)
        return row * self.nx + col

    def xy(self, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the coordinates of the (flat) grid nodes."""
        row, col = np.divmod(node, self.nx)
        return self.x0 + col * self.h, self.ytop - row * self.h

    def put(self, node: np.ndarray, score: np.ndarray, cap: np.ndarray) -> None:
        """Raise the nodes' scores to ``score`` where higher, recording the capsule ``cap`` that gives it."""
        np.maximum.at(self.score, node, score)
        won = score >= self.score[node]
        self.best[node[won]] = cap[won]


def _held(caps: Capsules, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Tell which capsules ``c`` lie in the capsules ``k`` (both end discs in it, within their tolerance)."""
    held = np.zeros(c.size, dtype=bool)
    for s, e in _chunks(np.ones(c.size), 2 * _CHUNK):
        ax, ay, ra, bx, by, rb = caps.geom(c[s:e])
        kax, kay, kra, kbx, kby, krb = caps.geom(k[s:e])
        tol = caps.tol[c[s:e]]
        # most are held by an end disc of the container (a nested piece by the disc its head leaves from)
        ok = np.zeros(e - s, dtype=bool)
        for cx, cy, r in ((kax, kay, kra), (kbx, kby, krb)):
            ok |= (np.hypot(ax - cx, ay - cy) <= r - ra + tol) & (np.hypot(bx - cx, by - cy) <= r - rb + tol)
        rest = np.nonzero(~ok)[0]
        kg = tuple(a[rest] for a in (kax, kay, kra, kbx, kby, krb))
        in_a = hull_score(ax[rest], ay[rest], *kg) >= ra[rest] - tol[rest]
        ok[rest[in_a & (hull_score(bx[rest], by[rest], *kg) >= rb[rest] - tol[rest])]] = True
        held[s:e] = ok
    return held


def score_field(caps: Capsules, cell_m: float | None) -> Field:
    """Score the grid nodes of the capsules' union: steps 1-3 of the comment above (the grid spacing chosen here)."""
    ax, ay, ra, bx, by, rb = caps.geom()
    rmax = float(max(ra.max(), rb.max()))
    bounds = (
        float(min((ax - ra).min(), (bx - rb).min())),
        float(min((ay - ra).min(), (by - rb).min())),
        float(max((ax + ra).max(), (bx + rb).max())),
        float(max((ay + ra).max(), (by + rb).max())),
    )
    h = float(cell_m) if cell_m else min(CELL_M, rmax / 16)
    h = max(h, np.sqrt((bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / MAX_GRID_NODES))
    field = Field(*bounds, h)
    rfull = caps.full_radius
    wide = (ra >= rfull) & (rb >= rfull)
    # many full-radius pieces: one feature transform for all of them is faster than their row spans
    edt = np.count_nonzero(wide) * 2 * rfull / h > _EDT_SHARE * field.nx * field.ny
    keep = np.ones(ax.size, dtype=bool)
    c = np.nonzero((caps.container >= 0) & ~(wide & edt))[0]
    keep[c[_held(caps, c, caps.container[c])]] = False
    stad, rest = np.nonzero(keep & wide)[0], np.nonzero(keep & ~wide)[0]
    if edt:
        seg, near = _stadium_field(field, caps, stad)
        rest = rest[~_in_stadiums(field, caps, stad, seg, near, rest)]
    else:
        rest = np.concatenate([stad, rest])
    _deep_pass(field, caps.geom(rest))
    _rim_pass(field, caps.geom(rest), rest)
    return field


def _stadium_field(field: Field, caps: Capsules, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score the pieces ``idx`` buffered by the full radius: that radius minus the distance to the nearest one.

    The pieces are marked on the grid (a node every ``h`` along each); a feature transform gives every node
    its nearest marked node, hence a nearby piece.  Nodes well inside are deep, nodes well outside stay
    unscored, and in the band between the distance is the least to the pieces found for the node and its
    eight neighbours.

    Returns
    -------
    seg, near
        The piece (position in ``idx``) marked at each node (-1: none), and each node's nearest marked node.
    """
    h, rfull = field.h, caps.full_radius
    ax, ay, _, bx, by, _ = caps.geom(idx)
    seg = np.full(field.nx * field.ny, -1, dtype=np.int32)
    n = np.ceil(np.hypot(bx - ax, by - ay) / h).astype(np.int64) + 1
    for s, e in _chunks(n, 4 * _CHUNK):
        k, j = ranges(np.zeros(e - s, np.int64), n[s:e] - 1)
        f = j / np.maximum(n[s:e] - 1, 1)[k]
        k += s
        np.maximum.at(seg, field.node(ax[k] + (bx - ax)[k] * f, ay[k] + (by - ay)[k] * f), k.astype(np.int32))
    shape = (field.ny, field.nx)
    ind = ndimage.distance_transform_edt((seg < 0).reshape(shape), return_distances=False, return_indices=True)
    near = (ind[0] * np.int32(field.nx) + ind[1]).ravel()
    ind[0] -= np.arange(field.ny, dtype=np.int32)[:, None]
    ind[1] -= np.arange(field.nx, dtype=np.int32)[None, :]
    np.square(ind, out=ind)
    d2 = (ind[0] + ind[1]).ravel()  # squared distance (in h) to the nearest marked node
    del ind
    # a piece passes within 0.71 h of each of its marked nodes and each of its points is within 1.21 h of
    # one: deep (score >= h) where the marked node is within rfull - 2 h, unscored (score < -h) beyond rfull + 2.5 h
    inner = (rfull / h - 2.0) ** 2 if rfull > 2 * h else -1.0
    field.deep |= d2 <= inner
    band = np.nonzero((d2 > inner) & (d2 < (rfull / h + 2.5) ** 2))[0]
    del d2
    px, py = field.xy(band)
    s = seg[near[band]]
    dist = seg_dist(px, py, ax[s], ay[s], bx[s], by[s])
    row, col = np.divmod(band, field.nx)
    for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        nb = np.clip(row + di, 0, field.ny - 1) * field.nx + np.clip(col + dj, 0, field.nx - 1)
        s2 = seg[near[nb]]
        d2b = seg_dist(px, py, ax[s2], ay[s2], bx[s2], by[s2])
        s = np.where(d2b < dist, s2, s)
        np.minimum(dist, d2b, out=dist)
    field.put(band, rfull - dist, idx[s])
    return seg, near


def _in_stadiums(
    field: Field, caps: Capsules, idx: np.ndarray, seg: np.ndarray, near: np.ndarray, cand: np.ndarray
) -> np.ndarray:
    """Tell which capsules ``cand`` lie in the full-radius buffer of the piece marked nearest either end."""
    rfull = caps.full_radius
    ax, ay, ra, bx, by, rb = caps.geom(cand)
    out = np.zeros(cand.size, dtype=bool)
    for px, py in ((ax, ay), (bx, by)):
        k = idx[seg[near[field.node(px, py)]]]
        sax, say, _, sbx, sby, _ = caps.geom(k)
        tol = caps.tol[cand]
        in_a = rfull - seg_dist(ax, ay, sax, say, sbx, sby) >= ra - tol
        out |= in_a & (rfull - seg_dist(bx, by, sax, say, sbx, sby) >= rb - tol)
    return out


def _deep_pass(field: Field, geom: tuple[np.ndarray, ...]) -> None:
    """Mark the nodes in the capsules' end discs shrunk by ``h`` (score >= h) as deep, by row spans."""
    h = field.h
    ax, ay, ra, bx, by, rb = geom
    diff = np.zeros(field.ny * (field.nx + 1), dtype=np.int32)  # +1 where a span starts, -1 after it ends
    # the end discs, each centre once with its largest radius (pieces meet at nodes)
    cx, cy, r = np.concatenate([ax, bx]), np.concatenate([ay, by]), np.concatenate([ra, rb]) - h
    order = np.lexsort((-r, cy, cx))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (cx[order][1:] != cx[order][:-1]) | (cy[order][1:] != cy[order][:-1])
    keep = order[first & (r[order] >= 0)]
    if keep.size:
        j0, j1 = field.rows(cy[keep] - r[keep], cy[keep] + r[keep])
        for s, e in _chunks(np.maximum(j1 - j0 + 1, 0)):
            k, j = ranges(j0[s:e], j1[s:e])
            i = keep[s + k]
            c0, c1 = field.cols(*_disc_spans(field.ytop - j * h, cx[i], cy[i], r[i]))
            ok = c1 >= c0
            base = j[ok] * (field.nx + 1)
            one = np.ones(base.size, dtype=np.int32)
            np.add.at(diff, base + c0[ok], one)
            np.add.at(diff, base + c1[ok] + 1, -one)
    grid = diff.reshape(field.ny, field.nx + 1)
    np.cumsum(grid, axis=1, out=grid)
    field.deep |= (grid[:, : field.nx] > 0).ravel()


def _rim_pass(field: Field, geom: tuple[np.ndarray, ...], ids: np.ndarray) -> None:
    """Score the nodes within ``h`` of each capsule's boundary, skipping capsules and runs already deep."""
    h = field.h
    ax, ay, ra, bx, by, rb = geom
    deep = field.deep.reshape(field.ny, field.nx)
    free = np.zeros((field.ny + 1, field.nx + 1), dtype=np.int32)  # summed-area table of the nodes not deep
    np.cumsum(np.cumsum(~deep, axis=0, dtype=np.int32), axis=1, out=free[1:, 1:])
    re = 1.0001 * h  # the capsules grown by h: every node with score > -h
    j0, j1 = field.rows(np.minimum(ay - ra, by - rb) - re, np.maximum(ay + ra, by + rb) + re)
    c0, c1 = field.cols(np.minimum(ax - ra, bx - rb) - re, np.maximum(ax + ra, bx + rb) + re)
    live = np.nonzero(free[j1 + 1, c1 + 1] - free[j0, c1 + 1] - free[j1 + 1, c0] + free[j0, c0] > 0)[0]
    del free
    ax, ay, ra, bx, by, rb, ids, j0, j1, c0, c1 = (a[live] for a in (ax, ay, ra, bx, by, rb, ids, j0, j1, c0, c1))
    pre = np.zeros((field.ny, field.nx + 1), dtype=np.int32)  # deep nodes before each column, per row
    np.cumsum(deep, axis=1, out=pre[:, 1:])
    pre_flat = pre.ravel()
    big_a = ra >= rb  # the capsule's own deep core on a row: its larger end disc shrunk by h
    dx, dy, dr = np.where(big_a, ax, bx), np.where(big_a, ay, by), np.maximum(ra, rb) - h
    for s, e in _chunks(np.maximum(j1 - j0 + 1, 0)):
        k, j = ranges(j0[s:e], j1[s:e])
        i = s + k
        a, b = c0[i], c1[i]  # the capsule's box on this row
        live = pre_flat[j * (field.nx + 1) + b + 1] - pre_flat[j * (field.nx + 1) + a] < b - a + 1
        i, j = i[live], j[live]
        yr = field.ytop - j * h
        lo, hi = field.cols(*hull_spans(yr, ax[i], ay[i], ra[i] + re, bx[i], by[i], rb[i] + re))
        d0, d1 = field.cols(*_disc_spans(yr, dx[i], dy[i], dr[i]))
        core = d1 >= d0
        r0 = np.concatenate([lo, np.maximum(d1 + 1, lo)])  # left of the core, right of it
        r1 = np.concatenate([np.where(core, np.minimum(d0 - 1, hi), hi), np.where(core, hi, -1)])
        ii, jj = np.concatenate([i, i]), np.concatenate([j, j])
        ok = r1 >= r0
        base = jj[ok] * (field.nx + 1)
        ok[ok] = pre_flat[base + r1[ok] + 1] - pre_flat[base + r0[ok]] < (r1 - r0 + 1)[ok]  # not all deep
        kk, col = ranges(r0[ok], r1[ok])
        ci, node = ii[ok][kk], jj[ok][kk] * field.nx + col
        sc = hull_score(*field.xy(node), ax[ci], ay[ci], ra[ci], bx[ci], by[ci], rb[ci])
        near = sc > -re
        field.put(node[near], sc[near], ids[ci[near]])


def inside_mask(field: Field) -> np.ndarray:
    """Return the grid's inside nodes as a ``(ny, nx)`` boolean array (the deep nodes' scores raised to ``h``)."""
    deep = field.deep
    field.score[deep] = np.maximum(field.score[deep], field.h)
    return (field.score >= 0).reshape(field.ny, field.nx)


def crossings(field: Field, caps: Capsules, rings: list[np.ndarray]) -> list[np.ndarray]:
    """Map rings of pixel corners (``(col, row)``) to rings of boundary points on the grid edges."""
    lens = np.array([len(r) - 1 for r in rings])  # edges per ring
    corners = np.concatenate(rings)
    last = np.cumsum(lens + 1) - 1  # each ring's closing vertex: no edge from it to the next ring
    start = np.delete(corners, last, axis=0)
    end = np.delete(corners, last - lens, axis=0)
    steps = np.rint(np.abs(end - start).sum(axis=1)).astype(np.int64)  # unit pixel edges per GDAL edge
    k, off = ranges(np.zeros(steps.size, np.int64), steps - 1)
    step = np.sign(end - start)[k]
    a = start[k] + step * off[:, None]
    col = np.minimum(a[:, 0], a[:, 0] + step[:, 0]).astype(np.int64)
    row = np.minimum(a[:, 1], a[:, 1] + step[:, 1]).astype(np.int64)
    horiz = step[:, 1] == 0
    # a horizontal pixel edge at corner row r separates nodes (r-1, c) and (r, c); a vertical one at corner
    # column c separates (r, c-1) and (r, c)
    n1 = np.where(horiz, row - 1, row) * field.nx + np.where(horiz, col, col - 1)
    n2 = row * field.nx + col
    in1 = field.score[n1] >= 0
    ni, no = np.where(in1, n1, n2), np.where(in1, n2, n1)
    si, so = field.score[ni], np.maximum(field.score[no], -field.h)
    (xi, yi), (xo, yo) = field.xy(ni), field.xy(no)
    t = _cross(field, caps, ni, no, si / np.where(si > so, si - so, 1.0))
    pts = np.column_stack([xi + t * (xo - xi), yi + t * (yo - yi)])
    ring = np.repeat(np.arange(lens.size), lens)[k]  # ring of each unit edge
    out = np.split(pts, np.cumsum(np.bincount(ring, minlength=lens.size))[:-1])
    return [np.vstack([r, r[:1]]) for r in out]


def _cross(field: Field, caps: Capsules, ni: np.ndarray, no: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Return where each grid edge from an inside node ``ni`` to an outside node ``no`` leaves the area.

    Each capsule meets the edge's line in an interval (its extent along the line, as for row spans); the
    edge leaves the union of those of the capsules best at or next to its two nodes where the chain of
    intervals that holds ``ni`` ends.  ``t0`` (interpolated scores) where no interval holds ``ni``.
    """
    (xi, yi), (xo, yo) = field.xy(ni), field.xy(no)
    horiz = yi == yo
    s_in, s_out = np.where(horiz, xi, yi), np.where(horiz, xo, yo)  # position along the edge's line
    across = np.where(horiz, yi, xi)
    fwd = s_out > s_in
    cands = [field.best[ni], field.best[no]]
    step = np.where(horiz, field.nx, 1)  # to the nodes beside the edge
    for off in (step, -step):
        for n in (ni, no):
            cands.append(field.best[np.clip(n + off, 0, field.best.size - 1)])
    spans = []
    for cap in cands:
        has = cap >= 0
        ax, ay, ra, bx, by, rb = caps.geom(np.where(has, cap, 0))
        lo, hi = hull_spans(
            across,
            np.where(horiz, ax, ay),
            np.where(horiz, ay, ax),
            np.where(has, ra, -1.0),
            np.where(horiz, bx, by),
            np.where(horiz, by, bx),
            np.where(has, rb, -1.0),
        )
        spans.append((lo - 1e-9, hi + 1e-9))
    end = s_in.copy()
    for _ in spans:
        for lo, hi in spans:
            hold = (lo <= end) & (end <= hi)
            end = np.where(hold, np.where(fwd, np.maximum(end, hi), np.minimum(end, lo)), end)
    t = np.where(end != s_in, (end - s_in) / (s_out - s_in), t0)
    return np.clip(t, 1e-3, 1 - 1e-3)  # never on a node: rings stay simple


__all__ = [
    "MIN_RADIUS_M",
    "CELL_M",
    "MAX_GRID_NODES",
    "CONTAIN_TOL_M",
    "reached_pieces",
    "Capsules",
    "capsules",
    "Field",
    "score_field",
    "inside_mask",
    "crossings",
    "hull_score",
    "hull_spans",
    "seg_dist",
    "ranges",
]
