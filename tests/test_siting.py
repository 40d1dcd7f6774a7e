"""Siting: coverage sets on hand graphs, optimisers vs brute force and spopt, the `site` CLI end to end."""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from dgcoverage.cli.main import main
from dgcoverage.compute import siting
from dgcoverage.compute.access import REACHED, access_graph_from_network
from dgcoverage.core.roadnet import RoadNetwork
from dgcoverage.inputs.config import load_config
from dgcoverage.inputs.coords import from_wgs84
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle


# ---------------------------------------------------------------- coverage sets
def _rev(n: int, edges: list[tuple[int, int, float]]) -> csr_array:
    """Reversed-edge CSR (n + 1 rows, spare super-source) from directed (u, v, metres) edges."""
    u = np.array([e[1] for e in edges])
    v = np.array([e[0] for e in edges])
    w = np.array([e[2] for e in edges], dtype=float)
    return csr_array((w, (u, v)), shape=(n + 1, n + 1))


def test_coverage_sets_hand_graph_direction_and_legs():
    # 0 -100- 1 -100- 2 -100- 3, two-way, plus a ONE-WAY shortcut 0 -> 3 of 50 m; node 4 isolated.
    edges = [(0, 1, 100), (1, 0, 100), (1, 2, 100), (2, 1, 100), (2, 3, 100), (3, 2, 100), (0, 3, 50)]
    rev = _rev(5, edges)
    speed = 1.0
    # candidates: at node 3 (leg 0), at node 0 (leg 20 s), off network, at isolated node 4
    cand_node = np.array([3, 0, -1, 4])
    cand_leg = np.array([0.0, 20.0, 0.0, 0.0])
    # demand points: at 0 (leg 0), at 0 (leg 60), at 1 (leg 0), at 2 (leg 10), at 3 (leg 0), off network, at 4
    dem_node = np.array([0, 0, 1, 2, 3, -1, 4])
    dem_leg = np.array([0.0, 60.0, 0.0, 10.0, 0.0, 0.0, 5.0])
    A = siting.coverage_matrix(rev, speed, cand_node, cand_leg, dem_node, dem_leg, limit_s=100.0)
    got = [sorted(A.indices[A.indptr[i] : A.indptr[i + 1]].tolist()) for i in range(4)]
    # to node 3: from 0 via the one-way shortcut 50 s (+0 leg ok, +60 leg = 110 no), from 1: 150 (via 0) no,
    # from 2: 100 + 10 leg = 110 no, from 3: 0
    assert got[0] == [0, 4]
    # to node 0 with 20 s leg (budget 80): from 0: 0 (+0 ok, +60 ok: 80), from 1: 100 -> no; 3 -> 0 is 300 -> no
    assert got[1] == [0, 1]
    assert got[2] == []  # off network covers nothing
    assert got[3] == [6]  # an island covers its own people
    # exactly at the limit counts (same tolerance as classify_points)
    A2 = siting.coverage_matrix(rev, speed, np.array([3]), np.array([0.0]), np.array([2]), np.array([0.0]), 100.0)
    assert A2.nnz == 1


def test_coverage_sets_match_full_dijkstra_any_chunk():
    rng = np.random.default_rng(7)
    n = 300
    u = rng.integers(0, n, 1500)
    v = rng.integers(0, n, 1500)
    w = rng.uniform(10, 200, 1500)
    rev = csr_array((w, (v, u)), shape=(n + 1, n + 1))
    cand = rng.integers(0, n, 40)
    cleg = rng.uniform(0, 50, 40)
    dn = rng.integers(-1, n, 500)
    dleg = rng.uniform(0, 50, 500)
    speed, limit = 1.3, 400.0
    full = dijkstra(rev, directed=True, indices=cand)  # full[c, x] = length x -> cand (reversed graph)
    exp = np.zeros((40, 500), dtype=bool)
    on = dn >= 0
    exp[:, on] = cleg[:, None] + full[:, dn[on]] / speed + dleg[None, on] <= limit + 1e-9
    for chunk in (1, 7, 64):
        A = siting.coverage_matrix(rev, speed, cand, cleg, dn, dleg, limit, chunk=chunk)
        np.testing.assert_array_equal(A.toarray().astype(bool), exp)


def test_coverage_sets_on_access_graph_from_network():
    # a real AccessGraph: 1 km line of 11 nodes 100 m apart, walk 1 m/s, 5-minute limit
    lon = 113.75 + np.arange(11) * (100 / (111_320 * np.cos(np.radians(23.0))))
    lat = np.full(11, 23.0)
    u = np.concatenate([np.arange(10), np.arange(1, 11)])
    v = np.concatenate([np.arange(1, 11), np.arange(10)])
    net = RoadNetwork(np.arange(11), lon, lat, u, v, np.full(20, 100.0))
    g = access_graph_from_network(net, 1.0)
    A = siting.coverage_matrix(g.rev, 1.0, np.array([5]), np.array([0.0]), np.arange(11), np.zeros(11), 300.0)
    assert sorted(A.indices.tolist()) == [2, 3, 4, 5, 6, 7, 8]


# ---------------------------------------------------------------- optimisers
def _instance(rng: np.random.Generator, m: int, n: int, p: float = 0.2) -> tuple[csr_array, np.ndarray]:
    A = csr_array((rng.random((m, n)) < p).astype(np.uint8))
    w = rng.integers(1, 1000, n).astype(float)
    return A, w


def _brute_mclp(A, w, k, group=None, cap=None) -> float:
    best = 0.0
    combos = itertools.chain.from_iterable(itertools.combinations(range(A.shape[0]), r) for r in range(1, k + 1))
    for c in combos:
        if group is not None and max(np.unique(group[list(c)], return_counts=True)[1]) > cap:
            continue
        best = max(best, siting.covered_weight(A, w, c))
    return best


def _brute_lscp(A, w, share=1.0) -> int:
    coverable = siting.covered_weight(A, w, range(A.shape[0]))
    for size in range(0, A.shape[0] + 1):
        for c in itertools.combinations(range(A.shape[0]), size):
            if siting.covered_weight(A, w, c) >= share * coverable - 1e-9:
                return size
    raise AssertionError


@pytest.mark.parametrize("seed", range(8))
def test_exact_mclp_equals_brute_force_and_greedy_never_exceeds(seed):
    rng = np.random.default_rng(seed)
    A, w = _instance(rng, 11, 25)
    for k in (1, 2, 3, 4):
        bf = _brute_mclp(A, w, k)
        ex = siting.exact_mclp(A, w, k)
        gr = siting.greedy_mclp(A, w, k)
        assert ex.status == "optimal"
        assert ex.objective == pytest.approx(bf, rel=1e-9)
        assert siting.covered_weight(A, w, ex.sites) == pytest.approx(ex.objective)
        assert len(ex.sites) <= k and len(gr.sites) <= k
        assert gr.objective <= ex.objective + 1e-9
        assert gr.objective >= (1 - 1 / np.e) * ex.objective - 1e-9  # the greedy guarantee
        assert siting.covered_weight(A, w, gr.sites) == pytest.approx(gr.objective)
        gap = siting.optimality_gap(gr, ex)
        assert 0 <= gap < 1 - 1 / np.e + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_budgets_per_group(seed):
    rng = np.random.default_rng(100 + seed)
    A, w = _instance(rng, 10, 30, 0.25)
    group = np.array(list("aaaabbbccc"))
    k, cap = 4, 1 + seed % 2
    ex = siting.exact_mclp(A, w, k, group, cap)
    gr = siting.greedy_mclp(A, w, k, group, cap)
    assert ex.objective == pytest.approx(_brute_mclp(A, w, k, group, cap))
    for sol in (ex, gr):
        assert max(np.unique(group[sol.sites], return_counts=True)[1]) <= cap
    assert gr.objective <= ex.objective + 1e-9
    ls = siting.exact_lscp(A, w, 1.0, group, 2)
    lg = siting.greedy_lscp(A, w, 1.0, group, 2)
    for sol in (ls, lg):
        if sol.sites:
            assert max(np.unique(group[sol.sites], return_counts=True)[1]) <= 2


@pytest.mark.parametrize("seed", range(6))
def test_exact_lscp_equals_brute_force(seed):
    rng = np.random.default_rng(200 + seed)
    A, w = _instance(rng, 10, 20, 0.2)
    coverable = siting.covered_weight(A, w, range(10))
    for share in (1.0, 0.8):
        ex = siting.exact_lscp(A, w, share)
        gr = siting.greedy_lscp(A, w, share)
        assert ex.status == "optimal"
        assert len(ex.sites) == _brute_lscp(A, w, share)
        assert siting.covered_weight(A, w, ex.sites) >= share * coverable - 1e-9
        assert siting.covered_weight(A, w, gr.sites) >= share * coverable - 1e-9
        assert len(gr.sites) >= len(ex.sites)


def _village_gain(A, w, village, sites, nv):
    hit = (
        np.asarray(A[np.asarray(list(sites), dtype=np.int64)].sum(axis=0)).ravel() > 0
        if len(sites)
        else np.zeros(A.shape[1], dtype=bool)
    )
    ok = hit & (village >= 0)
    return np.bincount(village[ok], weights=w[ok], minlength=nv)


@pytest.mark.parametrize("seed", range(6))
def test_village_lscp_equals_brute_force(seed):
    """Policy-literal cover: fewest sites so each village gains its need; exact = brute force, greedy feasible."""
    rng = np.random.default_rng(300 + seed)
    A, w = _instance(rng, 9, 24, 0.2)
    village = rng.integers(-1, 4, 24)  # 4 villages and some points in none
    nv = 4
    tot = np.bincount(village[village >= 0], weights=w[village >= 0], minlength=nv)
    need = 0.6 * tot
    need[0] = 0.0  # village 0 already covered
    target, unatt = siting.attainable_village_targets(w, village, np.asarray(A.sum(axis=0)).ravel() > 0, need)
    attainable = np.nonzero(target > 0)[0]
    best = None
    for size in range(0, 10):
        for c in itertools.combinations(range(9), size):
            if np.all(_village_gain(A, w, village, c, nv)[attainable] >= target[attainable] - 1e-9):
                best = size
                break
        if best is not None:
            break
    ex = siting.exact_lscp_villages(A, w, village, need)
    gr = siting.greedy_lscp_villages(A, w, village, need)
    assert ex.status == "optimal" and len(ex.sites) == best
    assert ex.info["villages_unattainable"] == int(unatt.sum()) == gr.info["villages_unattainable"]
    for sol in (ex, gr):
        got = _village_gain(A, w, village, sol.sites, nv)
        assert np.all(got[attainable] >= target[attainable] - 1e-9)
    assert len(gr.sites) >= len(ex.sites) and gr.status == "done"
    gap = siting.optimality_gap(gr, ex, "lscp")
    assert gap == pytest.approx((len(gr.sites) - best) / best) if best else gap is None


def test_village_lscp_hand_instance():
    # site 0 covers half of village 0; site 1 the other half; site 2 all of village 1 and a quarter of village 0
    A = csr_array(np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], dtype=np.uint8))
    w = np.array([10.0, 10.0, 10.0, 10.0, 50.0])
    village = np.array([0, 0, 0, 0, 1])
    # village 0 (40 people) needs 30 more, village 1 needs 50, a third village needs 5 nobody can reach
    need = np.array([30.0, 50.0, 5.0])
    for solver in (siting.exact_lscp_villages, siting.greedy_lscp_villages):
        sol = solver(A, w, village, need)
        assert sorted(sol.sites) in ([0, 1, 2], [1, 2]) and len(sol.sites) == 2, solver.__name__
        assert sol.info["villages_unattainable"] == 1


def test_best_solution_prefers_the_better_when_exact_stopped_early():
    g = siting.Solution([1, 2], 2.0, 10.0, "greedy", "done")
    e = siting.Solution([1, 2, 3], 3.0, 12.0, "exact", "time_limit", bound=1.5)
    assert siting.best_solution(g, e, "lscp") is g
    assert siting.optimality_gap(g, e, "lscp") == pytest.approx((2.0 - 1.5) / 1.5)  # against the proven bound
    e_opt = siting.Solution([4], 1.0, 12.0, "exact", "optimal")
    assert siting.best_solution(g, e_opt, "lscp") is e_opt


def test_adding_sites_never_lowers_coverage():
    rng = np.random.default_rng(5)
    A, w = _instance(rng, 60, 400, 0.03)
    prev_g = prev_e = -1.0
    for k in range(0, 12):
        g = siting.greedy_mclp(A, w, k).objective
        e = siting.exact_mclp(A, w, k).objective
        assert g >= prev_g - 1e-9 and e >= prev_e - 1e-9 and g <= e + 1e-9
        prev_g, prev_e = g, e
    # greedy marginal gains never increase (coverage is submodular), and they add up
    sol = siting.greedy_mclp(A, w, 20)
    gains = sol.info["gains"]
    assert all(a >= b - 1e-9 for a, b in zip(gains, gains[1:]))
    assert sum(gains) == pytest.approx(siting.covered_weight(A, w, sol.sites))


def test_exact_skips_instances_above_the_size_guard():
    A = csr_array(np.eye(6, dtype=np.uint8))
    w = np.arange(1.0, 7.0)
    for sol in (siting.exact_mclp(A, w, 2, max_nnz=5), siting.exact_lscp(A, w, max_nnz=5)):
        assert sol.status == "skipped_too_large" and sol.sites == [] and sol.info["nnz"] == 6
    assert siting.optimality_gap(siting.greedy_mclp(A, w, 2), siting.exact_mclp(A, w, 2, max_nnz=5)) is None
    assert siting.exact_mclp(A, w, 2, max_nnz=6).objective == 11.0


def test_aggregation_keeps_the_problem():
    rng = np.random.default_rng(11)
    A, w = _instance(rng, 15, 40, 0.15)
    A = csr_array(np.hstack([A.toarray(), A.toarray()[:, :10], np.zeros((15, 3), dtype=np.uint8)]))
    w = np.concatenate([w, np.arange(1, 11, dtype=float), [5.0, 5.0, 5.0]])
    A2, w2, grp = siting.aggregate_demand(A, w)
    assert A2.shape[1] < A.shape[1] and (grp[-3:] == -1).all()
    nonempty = np.asarray(A.sum(axis=0)).ravel() > 0
    assert (grp >= 0).tolist() == nonempty.tolist() and w2.sum() == pytest.approx(w[nonempty].sum())
    for k in (2, 4):
        assert siting.exact_mclp(A, w, k, aggregate=False).objective == pytest.approx(
            siting.exact_mclp(A2, w2, k, aggregate=False).objective
        )
    order, gains = siting.order_sites(A, w, [0, 3, 7, 9])
    assert sorted(order) == [0, 3, 7, 9] and gains == sorted(gains, reverse=True)
    assert sum(gains) == pytest.approx(siting.covered_weight(A, w, [0, 3, 7, 9]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_spopt_on_hand_made_instance():
    spopt_locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    # 8 clients, 5 facilities on a line; cost = |position difference| (metres), radius 250 m
    clients = np.array([0, 100, 220, 400, 520, 610, 900, 1000], dtype=float)
    facs = np.array([50, 300, 560, 800, 980], dtype=float)
    weights = np.array([10, 40, 5, 30, 25, 8, 50, 12], dtype=float)
    cost = np.abs(clients[:, None] - facs[None, :])
    radius = 250.0
    A = csr_array((radius >= cost.T).astype(np.uint8))
    for p in (1, 2, 3):
        m = spopt_locate.MCLP.from_cost_matrix(cost, weights, radius, p_facilities=p)
        m = m.solve(pulp.PULP_CBC_CMD(msg=False))
        sp = float(pulp.value(m.problem.objective))
        assert siting.exact_mclp(A, weights, p).objective == pytest.approx(sp)
    ls = spopt_locate.LSCP.from_cost_matrix(cost, radius).solve(pulp.PULP_CBC_CMD(msg=False))
    sp_sites = int(round(pulp.value(ls.problem.objective)))
    assert len(siting.exact_lscp(A, weights).sites) == sp_sites == 3


# ---------------------------------------------------------------- CLI end to end
def _read(path):
    raw = path.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"
    df = pd.read_csv(path, encoding="utf-8-sig", dtype={"town_code 镇街代码": str, "site_id 候选点编号": str})
    assert "new_population 新增覆盖人口" in df.columns and "lon_gcj02 经度(GCJ-02高德)" in df.columns
    df.columns = [c.split(" ")[0] for c in df.columns]
    return df


def _rerun_with_sites(small_city, cid: str, t: pd.DataFrame):
    """Measure a circle with its existing facilities, then again with the listed sites added."""
    circles, settings = load_config()
    circle = circles[cid]
    study = load_study(data_dir=small_city, settings=settings)
    fac = load_facilities(study, circle, data_dir=small_city)
    new = gpd.GeoDataFrame(
        {"facility_id": t["site_id"], "name": "new", "kind": "", "source": "test"},
        geometry=gpd.points_from_xy(t["lon"], t["lat"]),
        crs=4326,
    )
    return study, run_circle(study, circle, fac), run_circle(study, circle, pd.concat([fac, new], ignore_index=True))


@pytest.fixture(scope="module")
def site_run(small_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert (
        main(
            ["site", "--circle", "fitness_15", "--k", "6", "--exact", "--data-dir", str(small_city), "--out", str(out)]
        )
        == 0
    )
    return out


def test_cli_site_writes_planner_files(site_run, small_city):
    d = site_run / "fitness_15"
    t = _read(d / "candidates.csv")
    s = json.loads((d / "siting_summary.json").read_text(encoding="utf-8"))
    assert 1 <= len(t) <= 6 and t["rank"].tolist() == list(range(1, len(t) + 1))
    assert set(t["town_code"]) <= {"441900003", "441900006"} and t["synthetic"].all()
    assert (t["new_population"] > 0).all() and t["method"].eq("mclp_exact").all()
    assert t["cum_new_population"].iloc[-1] == pytest.approx(t["new_population"].sum(), abs=1)
    assert t["cum_covered_share"].is_monotonic_increasing and t["cum_villages_covered"].is_monotonic_increasing
    sol = s["solutions"]
    assert sol["mclp_greedy"]["covered_population"] <= sol["mclp_exact"]["covered_population"] + 1e-6
    assert sol["mclp_exact"]["status"] == "optimal" and 0 <= s["mclp_gap_greedy_vs_exact"] < 0.37
    assert t["cum_new_population"].iloc[-1] == pytest.approx(sol["mclp_exact"]["covered_population"], abs=1)
    # GCJ-02 columns really are the WGS84 ones shifted as Gaode would (a few hundred metres)
    glon, glat = from_wgs84(t["lon"].to_numpy(), t["lat"].to_numpy(), "gcj02")
    np.testing.assert_allclose(t["lon_gcj02"], glon, atol=1e-6)
    assert 0.002 < float(np.mean(np.abs(t["lon_gcj02"] - t["lon"]))) < 0.01
    gj = json.loads((d / "candidates.geojson").read_text(encoding="utf-8"))
    assert len(gj["features"]) == len(t) and gj["features"][0]["properties"]["rank"] == 1
    assert gj["features"][0]["geometry"]["coordinates"] == pytest.approx([t["lon"][0], t["lat"][0]])
    x = pd.read_excel(d / "candidates.xlsx", sheet_name="候选点 candidates")
    assert len(x) == len(t) and x.columns[0] == "排名 rank"
    # placing facilities at the listed sites really covers what the table says
    study, base, after = _rerun_with_sites(small_city, "fitness_15", t)
    gained = after.summary["results"]["covered_population"] - base.summary["results"]["covered_population"]
    assert gained == pytest.approx(t["cum_new_population"].iloc[-1], abs=2)
    assert after.summary["results"]["covered_population"] == pytest.approx(t["cum_covered_population"].iloc[-1], abs=2)
    assert float(study.cell_pop[base.cell_class == REACHED].sum()) < float(
        study.cell_pop[after.cell_class == REACHED].sum()
    )


def test_cli_site_candidate_file_lscp_and_budget(small_city, tmp_path, capsys):
    circles, settings = load_config()
    study = load_study(data_dir=small_city, settings=settings)
    rng = np.random.default_rng(3)
    i = rng.choice(study.net.n_nodes, 40, replace=False)
    lon = np.concatenate([study.net.lon[i], [24.94]])
    lat = np.concatenate([study.net.lat[i], [60.17]])  # one site in Helsinki: outside the area
    glon, glat = from_wgs84(lon, lat, "gcj02")
    f = tmp_path / "sites_gaode.csv"
    pd.DataFrame({"名称": [f"候选{k}" for k in range(len(lon))], "经度": glon, "纬度": glat}).to_csv(
        f, index=False, encoding="utf-8-sig"
    )
    out = tmp_path / "o"
    args = [
        "site",
        "--circle",
        "culture_sports_10",
        "--candidates",
        str(f),
        "--candidates-crs",
        "gcj02",
        "--lscp",
        "--exact",
        "--data-dir",
        str(small_city),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    t = _read(out / "culture_sports_10" / "candidates.csv")
    s = json.loads((out / "culture_sports_10" / "siting_summary.json").read_text(encoding="utf-8"))
    assert set(t["source"]) == {"file"} and t["name"].str.startswith("候选").all()
    assert s["candidates"]["generated"]["file"] == 40  # Helsinki dropped as outside the area
    assert t["method"].eq("lscp_exact").all()
    sol = s["solutions"]
    assert sol["lscp_exact"]["status"] == "optimal"
    assert sol["lscp_exact"]["sites"] <= sol["lscp_greedy"]["sites"] and len(t) == sol["lscp_exact"]["sites"]
    assert t["cum_new_population"].iloc[-1] == pytest.approx(s["demand"]["coverable_by_candidates"], abs=1)
    assert (t["snap_m"] < 1.0).all()  # sites given on their nodes snap back (GCJ-02 round trip)
    # a per-town budget tighter than the cover needs: exact is infeasible, greedy stops short, budget holds
    cap = int(t.groupby("town_code").size().max()) - 1
    assert main(args + ["--max-per-town", str(cap)]) == 0
    t2 = _read(out / "culture_sports_10" / "candidates.csv")
    s2 = json.loads((out / "culture_sports_10" / "siting_summary.json").read_text(encoding="utf-8"))
    assert s2["solutions"]["lscp_exact"]["status"] == "infeasible"
    assert s2["solutions"]["lscp_greedy"]["status"] == "target_not_reached" and t2["method"].eq("lscp_greedy").all()
    assert t2.groupby("town_code").size().max() <= cap
    assert not any(key.startswith("mclp") for key in sol) and "mclp_gap_greedy_vs_exact" not in s  # asked: LSCP only
    # the synthetic network has no road classes: clear error, exit code 2
    rc = main(
        ["site", "--circle", "fitness_15", "--road-class", "primary", "--data-dir", str(small_city), "--out", str(out)]
    )
    assert rc == 2 and "road classes" in capsys.readouterr().err


def test_site_script_wrapper(small_city, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    r = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "site_candidates.py"),
            "--circle",
            "elderly_care_15",
            "--k",
            "3",
            "--data-dir",
            str(small_city),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert r.returncode == 0, r.stderr
    t = _read(tmp_path / "elderly_care_15" / "candidates.csv")
    assert len(t) == 3 and t["method"].eq("mclp_greedy").all() and (t["new_population"].diff().dropna() <= 0).all()


@pytest.mark.parametrize("cid, limit", [("legal_aid_30", "60"), ("fitness_15", "8")])
def test_cli_site_village_cover_makes_every_attainable_village_covered(small_city, tmp_path, cid, limit):
    """--lscp-villages: with the listed sites added, every village it targeted is 'covered' in villages.csv terms."""
    assert (
        main(
            [
                "site",
                "--circle",
                cid,
                "--lscp-villages",
                "--exact",
                "--time-limit",
                limit,
                "--data-dir",
                str(small_city),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    d = tmp_path / cid
    s = json.loads((d / "siting_summary.json").read_text(encoding="utf-8"))
    t = _read(d / "candidates.csv")
    lv = s["lscp_villages"]
    sols = s["solutions"]
    assert s["listed_solution"].startswith("lscp_villages_") and len(t) == sols[s["listed_solution"]]["sites"]
    assert lv["villages_targeted"] > 0 and lv["villages_met"] == lv["villages_targeted"]
    assert len(t) <= sols["lscp_villages_greedy"]["sites"]  # the better of greedy and (possibly stopped) exact
    if cid == "legal_aid_30":  # small enough to be proven optimal
        assert sols["lscp_villages_exact"]["status"] == "optimal"
    _, base, after = _rerun_with_sites(small_city, cid, t)
    before_ok = base.villages["status"].eq("covered").sum()
    after_status = after.villages["status"]
    with_data = after_status.ne("no_data").sum()
    assert after_status.eq("covered").sum() == with_data - lv["villages_unattainable"] > before_ok
