"""Property tests (issue #7) with hypothesis.

* More facilities never lower any village's covered share.
* A higher time limit never lowers it.
* Travel times are exact shortest times *to* the nearest facility on directed graphs:
  for every directed road edge a -> b (one can drive a to b), t(a) <= w(a, b) + t(b),
  with equality for some edge or the node's own access leg (Bellman optimality).
  The engine searches over the *reversed* edges from the facilities; a search
  over the forward edges would satisfy t(b) <= w(a, b) + t(a) instead, which the
  one-way edges here tell apart.
* Coordinate round trips within 1 m over Dongguan's extent are covered by
  ``tests/test_coords.py::test_round_trip_property`` and not repeated here.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dgcoverage.compute.access import access_graph_from_network, times_to_nearest_facility
from dgcoverage.core.roadnet import RoadNetwork
from dgcoverage.inputs.config import load_config
from dgcoverage.pipeline.run import run_circle

from ._tiny import facilities_at, make_study

CIRCLES, _ = load_config()
FITNESS = CIRCLES["fitness_15"]
SIDE, STEP = 6, 250.0  # a 6 x 6 street grid, 250 m blocks (1.25 km across: limits of 5-15 min matter)
NODES = [(x * STEP, y * STEP) for y in range(SIDE) for x in range(SIDE)]
ALL_EDGES = [(i, i + 1) for i in range(SIDE * SIDE) if i % SIDE != SIDE - 1] + [
    (i, i + SIDE) for i in range(SIDE * (SIDE - 1))
]
VILLAGES = [(-200, -200, 600, 600), (600, -200, 1500, 600), (-200, 600, 600, 1500), (600, 600, 1500, 1500)]
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

node_idx = st.integers(0, SIDE * SIDE - 1)
cells = st.lists(st.tuples(st.floats(-150, 1400), st.floats(-150, 1400), st.floats(1, 500)), min_size=4, max_size=25)


def _study(removed: set[int], cell_list):
    edges = [e for k, e in enumerate(ALL_EDGES) if k not in removed]
    return make_study(NODES, edges, [(x, y) for x, y, _ in cell_list], [p for _, _, p in cell_list], VILLAGES)


def _shares(study, circle, fac_nodes):
    res = run_circle(study, circle, facilities_at([NODES[i] for i in fac_nodes]))
    return res.villages["covered_share"].to_numpy()


def _no_lower(after: np.ndarray, before: np.ndarray) -> None:
    assert np.array_equal(np.isnan(after), np.isnan(before))
    ok = ~np.isnan(before)
    assert (after[ok] >= before[ok] - 1e-12).all(), (before, after)


@PROPS
@given(
    removed=st.sets(st.integers(0, len(ALL_EDGES) - 1), max_size=25),
    cell_list=cells,
    facs=st.lists(node_idx, min_size=1, max_size=4),
    extra=node_idx,
    minutes=st.floats(3, 20),
)
def test_adding_a_facility_never_lowers_covered_share(removed, cell_list, facs, extra, minutes):
    study = _study(removed, cell_list)
    circle = FITNESS.with_overrides(minutes=minutes)
    _no_lower(_shares(study, circle, facs + [extra]), _shares(study, circle, facs))


@PROPS
@given(
    removed=st.sets(st.integers(0, len(ALL_EDGES) - 1), max_size=25),
    cell_list=cells,
    facs=st.lists(node_idx, min_size=1, max_size=4),
    m1=st.floats(1, 30),
    dm=st.floats(0, 30),
)
def test_raising_the_limit_never_lowers_covered_share(removed, cell_list, facs, m1, dm):
    study = _study(removed, cell_list)
    low = _shares(study, FITNESS.with_overrides(minutes=m1), facs)
    high = _shares(study, FITNESS.with_overrides(minutes=min(m1 + dm, 600.0)), facs)
    _no_lower(high, low)


@st.composite
def directed_graphs(draw):
    n = draw(st.integers(2, 30))
    m = draw(st.integers(1, 90))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    w = draw(st.lists(st.floats(0, 1000), min_size=m, max_size=m))
    k = draw(st.integers(1, min(n, 4)))
    fac = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    legs = draw(st.lists(st.floats(0, 200), min_size=k, max_size=k))
    return n, np.array(u), np.array(v), np.array(w), np.array(fac), np.array(legs)


@settings(max_examples=150, deadline=None)
@given(g=directed_graphs())
def test_travel_times_obey_triangle_inequality_and_are_tight(g):
    n, u, v, w, fac, legs = g
    rng = np.random.default_rng(0)
    net = RoadNetwork(np.arange(n), 113.7 + rng.random(n) * 0.1, 23.0 + rng.random(n) * 0.1, u, v, w)
    t = times_to_nearest_facility(access_graph_from_network(net, 1.0), fac, legs)
    tol = 1e-9 * (1 + np.nanmax(np.where(np.isfinite(t), t, 0)))
    # relaxation: every edge a -> b lets a reach b's facility
    assert (t[u] <= w + t[v] + tol).all()
    # tightness: each finite time is achieved by an edge or by the node's own facility leg
    best = np.full(n, np.inf)
    np.minimum.at(best, fac, legs)
    np.minimum.at(best, u, w + t[v])
    finite = np.isfinite(t)
    np.testing.assert_allclose(t[finite], best[finite], rtol=1e-12, atol=tol)
    assert not np.isfinite(best[~finite]).any()
