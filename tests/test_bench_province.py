"""The province benchmark (issue 20) on a tiny SYNTHETIC province: three copies of a two-town synthetic city.

``scripts/benchmark.py --only province`` builds the province (one .osm.pbf, one raster, shared facility files,
units and a region TOML per city), runs it with the plain sequential loop and with ``run_batch`` on a LocalCluster of
2 worker processes, checks the tables are identical, and rewrites only the province block of the page.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchmarks import sections  # noqa: E402

PAGE = """# Benchmarks

intro line that must survive

## Results

| a | b |

## Method notes

notes that must survive
"""


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory):
    import benchmark

    work = tmp_path_factory.mktemp("bench-province")
    doc = work / "benchmarks.md"
    doc.write_text(PAGE, encoding="utf-8")
    rc = benchmark.main(
        [
            "--only",
            "province",
            "--province-scale",
            "0.25",
            "--province-copies",
            "3",
            "--province-towns",
            "441900005,441900006",
            "--province-modes",
            "seq,dask2",
            "--work",
            str(work),
            "--doc",
            str(doc),
        ]
    )
    assert rc == 0
    return work, doc, json.loads((work / "section-province.json").read_text(encoding="utf-8"))


def test_province_tables_identical_on_two_workers_and_the_sequential_loop(province):
    work, _, P = province
    b = P["build"]
    # 3 copies of the 2-town city at scale 0.25 (179 nodes each, 38 villages, 57 + 38 + 5 + 67 facilities)
    assert (b["copies"], b["nodes"], b["nodes_per_city"], b["villages"], b["towns"]) == (3, 537, 179, 114, 6)
    assert b["facilities"] == {"culture_sports_10": 201, "elderly_care_15": 171, "fitness_15": 114, "legal_aid_30": 15}
    assert P["tables"] == {"identical": True, "files_compared": 3 * 4 * 4, "differ": []}
    seq, w2 = P["runs"]["seq"], P["runs"]["dask2"]
    assert seq["failed"] == [] and w2["failed"] == []
    assert seq["workers_used"] == 1 and w2["workers_used"] == 2  # both Dask workers ran a region
    # the shared pbf is read once, before the tasks (pipeline.precut); no task reads it (walk and bike windows
    # are built from the saved way arrays)
    assert seq["road_read_s"] == [] and w2["road_read_s"] == []
    assert seq["precut"]["files"] == 1 and w2["precut"]["files"] == 1
    # each copy is its own region: codes 9900NN..., SYNTHETIC names, and its share of the shared facility file
    folder = Path(P["build"]["regions"]).parent
    towns = gpd.read_file(folder / "units" / "c02_towns.geojson")
    assert sorted(towns["code"]) == ["990002005", "990002006"] and towns["name"].str.startswith("合成02·").all()
    toml = (folder / "regions" / "c01.toml").read_text(encoding="utf-8")
    assert 'code = "990001"' in toml and 'city_name = "合成市01"' in toml
    out = work / "province-out-dask2"
    rows = (out / "batch.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 1 + 3 * 4 and rows[1].startswith("c00,合成市00,")


def test_only_rewrites_the_province_block(province):
    _, doc, _ = province
    text = doc.read_text(encoding="utf-8")
    start, end = sections.markers("province")
    before, rest = text.split(start)
    block, after = rest.split(end)
    assert before.startswith("# Benchmarks\n\nintro line that must survive\n\n## Results\n\n| a | b |\n")
    assert after.strip() == "## Method notes\n\nnotes that must survive"
    assert "## Province on Dask: 3 SYNTHETIC cities, 537 walk nodes (measured)" in block
    assert "### Targets (issue 20, 2 cores)" in block and "| 2 workers ≥ 1.6× faster than 1 | — (not run) |" in block
    assert "| ≥ 10 cities and ≥ 5 M walk nodes | 3 cities, 537 nodes | **no** |" in block
    assert "| tables identical across the three runs, no region failed | True, 0 failed | yes |" in block
    # the full benchmark's rewrite keeps the block (it does not measure the province)
    assert sections.find(sections.carry_over(text, PAGE), "province") == sections.find(text, "province")


def test_section_replace_leaves_the_rest_untouched():
    page = PAGE.replace("## Method notes", "<!-- section:x -->\nold\n<!-- /section:x -->\n\n## Method notes")
    new = sections.replace(page, "x", "## X\nnew")
    assert new == page.replace("old", "## X\nnew")
    assert sections.replace(PAGE, "y", "Y", before="## Method notes").count("<!-- section:y -->\nY\n") == 1
    assert "province" in sections.sections()
