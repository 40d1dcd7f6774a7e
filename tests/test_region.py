"""A study region that is not Dongguan: real Helsinki streets (tests/input_data), own towns and villages.

The region (3 towns, 9 villages, a synthetic population raster written by the test, 3 facilities) runs end to
end from the API and the command line; its tables name its own units, the city row carries its own code and
name, the analysis CRS is Helsinki's UTM zone (35N), and bad unit files are refused naming the row and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

import dgcoverage as dg
from dgcoverage.errors import ColumnError, CRSError, DataMismatchError

from ._region_data import PBF, towns_and_villages, write_region


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_region(tmp_path_factory.mktemp("helsinki_region"))


def _raster_people_per_village(tif: Path, villages: gpd.GeoDataFrame) -> dict[str, float]:
    """People of the raster pixels whose centre lies in each village (recomputed here from the raster)."""
    with rasterio.open(tif) as src:
        data = src.read(1)
        rows, cols = np.mgrid[0 : src.height, 0 : src.width]
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=32635)
    out = {}
    for code, poly in zip(villages["code"], villages.to_crs(32635).geometry):
        out[code] = float(data.ravel()[pts.within(poly).to_numpy()].sum())
    return out


def test_region_from_api_names_its_own_units(region_dir):
    towns, villages = towns_and_villages()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = dg.load_study(
            network=PBF,
            population=region_dir / "population.tif",
            towns=towns.to_crs(3067),  # any declared CRS (ETRS-TM35FIN here)
            villages=villages,
            city_code="HEL",
            city_name="Helsinki 全域",
        )
        circles, _ = dg.load_config()
        c = circles["fitness_15"]
        res = dg.run_circle(study, c, dg.load_facilities(study, c, region_dir / "facilities.geojson"))
    assert study.graph.crs.to_epsg() == 32635  # UTM 35N from the data, not 49N
    assert study.inputs["region"]["city_code"] == "HEL"
    vt, tt = res.villages, res.towns
    assert list(vt["code"]) == sorted(villages["code"]) and set(vt["town_name"]) == {"Town 1", "Town 2", "Town 3"}
    assert list(tt["town_code"]) == ["HT1", "HT2", "HT3", "HEL"]
    assert tt["town_name"].iloc[-1] == "Helsinki 全域" and res.city_code == "HEL"
    expected = _raster_people_per_village(region_dir / "population.tif", villages)
    assert dict(zip(vt["code"], vt["population"])) == pytest.approx(expected)
    assert tt["population"].iloc[-1] == pytest.approx(sum(expected.values()))
    assert tt["villages"].iloc[-1] == 9
    assert study.inputs["population"]["ratio_to_census"] == pytest.approx(566 / 570, abs=1e-4)  # towns' census
    assert res.summary.results["village_pass_rate"] == pytest.approx(float(tt["pass_rate_villages"].iloc[-1]))


def test_region_points_get_voronoi_areas_in_their_town(region_dir):
    towns, villages = towns_and_villages()
    pts = villages.assign(geometry=villages.to_crs(32635).representative_point().to_crs(4326))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = dg.load_study(network=PBF, population=region_dir / "population.tif", towns=towns, villages=pts)
    assert study.city_code == "ALL" and study.villages["has_area"].all()
    # the Voronoi areas of a town's 3 points tile the town
    for code, g in study.villages.groupby("town_code"):
        town = towns.set_index("code").loc[code, "geometry"]
        assert g.to_crs(32635).area.sum() == pytest.approx(gpd.GeoSeries([town], crs=4326).to_crs(32635).area[0])


def test_region_refusals_name_the_row_and_fix(region_dir):
    pop = region_dir / "population.tif"  # never the checkout's embedded default (absent from a fresh clone)
    towns, villages = towns_and_villages()
    dup = villages.copy()
    dup.loc[4, "code"] = dup.loc[1, "code"]
    with pytest.raises(DataMismatchError, match=r"HT1-V2.*\[1, 4\].*Fix"):
        dg.load_study(network=PBF, population=pop, towns=towns, villages=dup)
    bad = villages.copy()
    bad.loc[7, "town_code"] = "XX9"
    with pytest.raises(DataMismatchError, match=r"rows \[7\].*'XX9'.*Fix"):
        dg.load_study(network=PBF, population=pop, towns=towns, villages=bad)
    with pytest.raises(CRSError, match="no CRS"):
        dg.load_study(network=PBF, population=pop, towns=towns, villages=villages.set_crs(None, allow_override=True))
    with pytest.raises(ColumnError, match="town_code"):
        dg.load_study(network=PBF, population=pop, towns=towns, villages=villages.drop(columns="town_code"))
    with pytest.raises(DataMismatchError, match="needs its villages"):
        dg.load_study(network=PBF, population=pop, towns=towns)


def test_region_village_outside_its_town_is_counted(region_dir):
    towns, villages = towns_and_villages()
    moved = villages.copy()
    moved.loc[0, "town_code"] = "HT3"  # a polygon of town 1 said to be in town 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = dg.load_study(network=PBF, population=region_dir / "population.tif", towns=towns, villages=moved)
    assert study.warnings["village_points_outside_their_town"] == 1
    row = study.villages.set_index("code").loc["HT1-V1"]
    assert not row["has_area"] and "Town 1" in row["location_note"]


def test_region_from_cli_region_toml_and_graphml(region_dir, tmp_path):
    import osmnx as ox

    from dgcoverage.cli.main import main
    from dgcoverage.inputs.network import network_from_file

    # an OSMnx graph saved as .graphml, built from the test OSM data
    net = network_from_file(PBF, "walk")
    G = _graph_of(net)
    graphml = tmp_path / "helsinki.graphml"
    ox.save_graphml(G, graphml)
    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--region",
            str(region_dir),
            "--network",
            str(graphml),
            "--out",
            str(out),
            "--maps-dir",
            str(tmp_path / "maps"),
        ]
    )
    assert rc == 0
    tt = pd.read_csv(out / "fitness_15" / "towns.csv", encoding="utf-8-sig", dtype=str)
    vt = pd.read_csv(out / "fitness_15" / "villages.csv", encoding="utf-8-sig", dtype=str)
    assert tt.iloc[:, 0].tolist() == ["HT1", "HT2", "HT3", "HEL"]
    assert tt.iloc[-1, 1] == "Helsinki centre 全域" and len(vt) == 9
    every = "".join(p.read_text(encoding="utf-8-sig") for p in (out / "fitness_15").glob("*.*sv"))
    every += (out / "report.html").read_text(encoding="utf-8") + (tmp_path / "maps" / "index.html").read_text("utf-8")
    every = every.replace("'东莞市(全市)'", "")  # the page script's fallback for Dongguan's city row
    assert "441900" not in every and "东莞" not in every
    assert "Helsinki centre 全域 公共服务圈覆盖报告" in every
    # the graphml network equals the pbf's (same nodes, same edge lengths)
    g2 = network_from_file(graphml)
    assert g2.n_nodes == net.n_nodes and g2.n_edges == net.n_edges


def _graph_of(net):
    """An OSMnx-style MultiDiGraph of a RoadNetwork (nodes x/y in WGS84, edges with length)."""
    import networkx as nx

    G = nx.MultiDiGraph(crs="epsg:4326")
    for i, (x, y) in enumerate(zip(net.lon, net.lat)):
        G.add_node(i, x=float(x), y=float(y))
    for u, v, length in zip(net.u, net.v, net.length_m):
        G.add_edge(int(u), int(v), length=float(length))
    return G
