"""The embedded default: real totals respected, synthetic features present, deterministic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.features
from scipy.sparse.csgraph import connected_components

from dgcoverage.compute.access import access_graph_from_network
from dgcoverage.core.roadnet import load_network
from dgcoverage.demo.synthetic import build_demo, town_spacing_m
from dgcoverage.inputs.embedded import DemoPaths
from dgcoverage.inputs.villages import dongguan_towns


def test_spacing_follows_density():
    s = town_spacing_m(np.array([20000.0, 4000.0, 100.0]))
    assert s[0] == 110.0 and s[2] == 420.0 and 110 < s[1] < 420
    assert town_spacing_m(np.array([4000.0]), scale=2.0)[0] == pytest.approx(s[1] / 2)


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, build_demo(root)


def test_population_equals_census_per_town(full_demo):
    root, m = full_demo
    paths = DemoPaths(root)
    towns = dongguan_towns()
    with rasterio.open(paths.population) as src:
        pop = src.read(1).astype(np.float64)
        assert src.crs.to_epsg() == 32649 and src.res == (100.0, 100.0)
        assert src.tags()["SYNTHETIC"] == "true"
        tp = towns[towns["has_polygon"]].to_crs(32649).reset_index(drop=True)
        ids = rasterio.features.rasterize(
            ((g, i + 1) for i, g in enumerate(tp.geometry)), out_shape=pop.shape, transform=src.transform, dtype="int32"
        )
    sums = np.bincount(ids.ravel(), weights=pop.ravel(), minlength=len(tp) + 1)[1:]
    census = tp["census_2020"].fillna(0).to_numpy()
    np.testing.assert_array_equal(sums, census)
    assert pop.sum() == 10_466_625 and np.all(pop == np.round(pop))
    assert m["population"]["cells_populated"] > 150_000


def test_network_has_islands_river_and_density_contrast(full_demo):
    root, m = full_demo
    net = load_network(DemoPaths(root).network)
    assert net.meta["synthetic"] is True
    assert 40_000 < net.n_nodes < 150_000
    g = access_graph_from_network(net, 1.0)
    n_comp, labels = connected_components(g.rev[: net.n_nodes, : net.n_nodes], directed=True, connection="weak")
    sizes = np.sort(np.bincount(labels))[::-1]
    assert n_comp >= 4 and sizes[0] > 0.95 * net.n_nodes  # a main network plus islands
    assert m["network"]["bridges"] >= 5
    sp = m["network"]["spacing_m_by_town"]
    assert sp["441900006"] < sp["441900119"] < sp["441900403"]  # 莞城 denser than 长安, 生态园 sparsest
    deg = np.bincount(net.u, minlength=net.n_nodes)
    assert (deg == 1).sum() > 100  # dead ends


def test_villages_and_facilities(full_demo):
    root, m = full_demo
    paths = DemoPaths(root)
    assert m["villages"]["placed"] == 608 and m["villages"]["not_placed_no_polygon"] == ["441900404498"]
    v = pd.read_csv(paths.villages, dtype={"代码": str}, encoding="utf-8-sig")
    assert len(v) == 608 and v["代码"].is_unique
    for cid, n in m["facilities"].items():
        f = pd.read_csv(paths.facilities(cid), encoding="utf-8-sig")
        assert len(f) == n and f["名称"].str.startswith("合成·").all()
    assert m["facilities"]["legal_aid_30"] < m["facilities"]["elderly_care_15"]
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["note"]


def test_deterministic(tmp_path):
    a = build_demo(tmp_path / "a", town_codes=["441900006"])
    b = build_demo(tmp_path / "b", town_codes=["441900006"])
    assert a == b
    for name in ("network.npz", "village_points_gcj02.csv", "facilities/fitness_15_gcj02.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
