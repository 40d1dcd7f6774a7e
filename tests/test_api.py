"""The public API: the README's Python example runs, and ``import dgcoverage as dg`` exposes what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest

import dgcoverage as dg

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="session")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole embedded default (609 villages) in a fresh folder laid out like the repository."""
    from dgcoverage.demo.synthetic import build_demo

    root = tmp_path_factory.mktemp("repo")
    build_demo(root / "data" / "raw")
    return root


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README lost its marked Python example"
    return m.group(1)


def test_readme_example_runs_and_returns_609_villages(full_demo, monkeypatch, capsys):
    monkeypatch.chdir(full_demo)
    ns: dict = {}
    exec(compile(_example(), "README.md", "exec"), ns)  # noqa: S102 - the documented example, run as written
    villages = ns["villages"]
    assert isinstance(villages, gpd.GeoDataFrame) and len(villages) == 609
    assert villages.crs.to_epsg() == 4326
    assert {"code", "name", "town_name", "status", "covered_share", "geometry"} <= set(villages.columns)
    res = ns["result"]
    assert isinstance(res, dg.CircleResult) and isinstance(res.summary, dg.CircleSummary)
    assert res.summary.to_dict()["results"] == res.summary.results
    # the planned park is added, never removes coverage
    assert ns["with_park"].summary.results["covered_population"] >= res.summary.results["covered_population"]
    assert len(ns["sites"].table) == 5
    assert (full_demo / "data" / "processed" / "fitness_15" / "villages.csv").exists()
    out = capsys.readouterr().out
    assert "609 EPSG:4326" in out


def test_top_level_names():
    for name in (
        "load_config",
        "load_study",
        "load_facilities",
        "run_circle",
        "plan_sites",
        "Circle",
        "Study",
        "CircleResult",
        "RoadNetwork",
        "network_from_graph",
        "DgCoverageError",
        "ConfigError",
        "InputFileError",
        "PopulationGrid",
        "write_circle",
    ):
        assert hasattr(dg, name), name
    assert set(dg.__all__) <= set(dir(dg))
    assert all(issubclass(getattr(dg, n), dg.DgCoverageError) for n in dg.__all__ if n.endswith("Error"))


def test_load_study_takes_objects(small_city):
    """A RoadNetwork, an OSMnx graph, a PopulationGrid and a GeoDataFrame give the same study as the files."""
    import networkx as nx

    from dgcoverage.inputs.embedded import DemoPaths
    from dgcoverage.inputs.villages import village_points_from_file

    paths = DemoPaths(small_city)
    ref = dg.load_study(data_dir=small_city)
    net = dg.load_network(paths.network)
    G = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(net.n_nodes):
        G.add_node(int(net.node_id[i]), x=float(net.lon[i]), y=float(net.lat[i]))
    for a, b, w in zip(net.u, net.v, net.length_m):
        G.add_edge(int(net.node_id[a]), int(net.node_id[b]), length=float(w))
    pts = village_points_from_file(paths.villages, "gcj02")
    for network in (net, G):
        s = dg.load_study(
            network=network,
            population=ref.grid,
            villages=pts[["code", "geometry"]],
            towns=ref.towns,
            data_dir=small_city,
        )
        assert s.net.n_edges == ref.net.n_edges
        assert (s.cell_node == ref.cell_node).all() and (s.cell_village == ref.cell_village).all()
        assert s.villages["has_area"].sum() == ref.villages["has_area"].sum()
    with pytest.raises(TypeError, match="network must be"):
        dg.load_study(network=42, data_dir=small_city)


def test_facilities_as_geodataframe_equal_the_file(small_city):
    study = dg.load_study(data_dir=small_city)
    circles, _ = dg.load_config()
    c = circles["culture_sports_10"]
    from_file = dg.load_facilities(study, c, data_dir=small_city)
    frame = gpd.GeoDataFrame(from_file[["name", "geometry"]].copy(), crs=4326)
    from_frame = dg.load_facilities(study, c, frame)
    a, b = dg.run_circle(study, c, from_file), dg.run_circle(study, c, from_frame)
    # the frame has no capacity column: the 2SFCA score's equity is withheld, everything else is equal
    sa, sb = a.summary.results["equity"].pop("access_supply"), b.summary.results["equity"].pop("access_supply")
    assert a.summary.results == b.summary.results
    assert sa["city"]["access_supply_gini"] is not None and "withheld" not in sa
    assert set(sb["city"].values()) == {None} and "no facility of this circle has a known capacity" in sb["withheld"]
    assert from_frame.attrs["input_record"]["kind"] == "facilities (GeoDataFrame)"
    with pytest.raises(dg.CRSError, match="no CRS"):
        dg.load_facilities(study, c, gpd.GeoDataFrame({"name": ["a"]}, geometry=gpd.points_from_xy([113.75], [23.02])))


def test_library_never_prints(small_city, capsys):
    study = dg.load_study(data_dir=small_city)
    circles, _ = dg.load_config()
    c = circles["fitness_15"]
    res = dg.run_circle(study, c, dg.load_facilities(study, c, data_dir=small_city))
    dg.plan_sites(study, res, k=2)
    assert capsys.readouterr().out == ""


def test_missing_embedded_default_is_an_error_with_the_fix(tmp_path):
    with pytest.raises(dg.InputFileError, match="build-demo"):
        dg.load_study(data_dir=tmp_path / "nothing")


def test_all_names_map_to_their_module():
    from dgcoverage import _NAMES

    assert sorted(dg.__all__) == sorted([*_NAMES, "__version__"])
    for name, module in _NAMES.items():
        assert getattr(dg, name).__module__ == f"dgcoverage.{module}", name
