"""A batch whose regions share one OSM file reads it ONCE, before the tasks; each task cuts its own windows.

The cut networks equal the clipped single reads (``network_from_osm_file(path, type, polygon=...)``) node for node
and edge for edge; a 3-region batch of the Helsinki test area (tests/_region_data.py, as tests/test_batch.py) with
a walked and a cycled circle reads the shared file once, gives the tables of the same batch whose tasks read the
file themselves (test_batch.py compares such batches with single-region runs), reuses its saved ways and cut
networks on a rerun and reads and cuts again when the file's bytes change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely

from ._region_data import BOX, PBF
from .test_batch import TABLES, _block_network, make_batch  # noqa: F401 - loopback allowed, as there

CIRCLES = ("fitness_15", "legal_aid_30")  # walk and bike networks
FIELDS = ("node_id", "lon", "lat", "u", "v", "length_m", "name", "highway", "way_id")


def same_network(a, b) -> None:
    for f in FIELDS:
        x, y = getattr(a, f, None), getattr(b, f, None)
        assert (x is None) == (y is None), f
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), f
    assert a.meta == b.meta


def test_networks_cut_from_one_read_equal_clipped_single_reads(tmp_path):
    from dgcoverage.errors import NetworkError
    from dgcoverage.inputs.osm import network_from_osm_file
    from dgcoverage.inputs.osm_cut import load_ways, networks_from_osm_file, read_all_ways, save_ways

    w, s, e, n = BOX
    clips = {
        "west": shapely.box(w, s, (w + e) / 2, n),
        "ring": shapely.box(w, s, e, n)
        .buffer(0.002)
        .difference(shapely.box(w + 0.003, s + 0.003, e - 0.003, n - 0.003)),
        "whole": None,
        "sea": shapely.box(0.0, 0.0, 0.1, 0.1),  # no road: the same error as the single read
    }
    wanted = {(c, t): (t, g) for c, g in clips.items() for t in ("walk", "bike", "drive")}
    errors = {}
    many = networks_from_osm_file(PBF, wanted, on_error=lambda k, exc: errors.setdefault(k, str(exc)))
    assert set(many) == {k for k in wanted if k[0] != "sea"} and set(errors) == {k for k in wanted if k[0] == "sea"}
    for (c, t), net in many.items():
        one = network_from_osm_file(PBF, t, polygon=clips[c])
        same_network(net, one)
        if clips[c] is not None:
            assert net.meta["ways_kept"] > 0 and net.meta["ways_outside_clip_box"] > 0
    assert many["west", "walk"].n_edges < many["whole", "walk"].n_edges  # the clips cut
    # the same networks from the way arrays saved and memory-mapped (what a batch's region task builds from)
    ways = read_all_ways(PBF, ["walk", "bike", "drive"])
    save_ways(ways, tmp_path / "ways")
    mapped = load_ways(tmp_path / "ways", PBF)
    assert isinstance(mapped.refs, np.memmap) and mapped.names == ways.names and mapped.highways == ways.highways
    assert sum(bool(n) for n in mapped.names) > 10  # real street names went through the UTF-8 table
    again = networks_from_osm_file(PBF, wanted, on_error=lambda k, exc: None, ways=mapped)
    assert set(again) == set(many)
    for k, net in again.items():
        same_network(net, many[k])
    with pytest.raises(NetworkError) as single:
        network_from_osm_file(PBF, "walk", polygon=clips["sea"])
    assert errors["sea", "walk"] == str(single.value)


def make_regions(root: Path, pbf: Path) -> Path:
    """test_batch's 3 strips, each TOML naming ``pbf`` and the facilities for both circles."""
    make_batch(root)
    for toml in (root / "regions").glob("*/region.toml"):
        text = toml.read_text(encoding="utf-8").replace("[facilities]", f'network = "{pbf}"\n[facilities]')
        toml.write_text(text + 'legal_aid_30 = "../../facilities.geojson"\n', encoding="utf-8")
    return root


def run(root: Path, out: Path, calls: list[str], monkeypatch, cluster, precut: bool = True):
    """``run_batch`` on the in-process cluster, counting the whole-file reads of the cut stage."""
    import dgcoverage.inputs.osm_cut as osm_cut
    from dgcoverage.inputs.batch import regions_from_folder
    from dgcoverage.inputs.config import load_config
    from dgcoverage.outputs.batch import write_region
    from dgcoverage.pipeline.batch import run_batch

    real, real_load = osm_cut.read_all_ways, osm_cut.load_ways

    def counted(path, types):
        calls.append(f"{Path(path).name}:{','.join(sorted(types))}")
        return real(path, types)

    def loaded(folder, path):  # a task building a window from the saved ways, in the worker (this process)
        ways = real_load(folder, path)
        calls.append(f"task:{type(ways.refs).__name__}")
        return ways

    monkeypatch.setattr(osm_cut, "read_all_ways", counted)
    monkeypatch.setattr(osm_cut, "load_ways", loaded)
    circles, settings = load_config(None)
    circles = [circles[c] for c in CIRCLES]
    stages: list[dict] = []
    outcomes = run_batch(
        regions_from_folder(root / "regions", population=root / "population.tif"),
        out,
        circles,
        settings,
        write_region,
        scheduler=cluster,
        force=True,
        precut=precut,
        on_precut=stages.append,
    )
    assert [o["status"] for o in outcomes] == ["done"] * 3, [o.get("error") for o in outcomes]
    return outcomes, stages


@pytest.fixture(scope="module")
def cluster():
    """A one-thread LocalCluster in this process, so the tasks see the counting patches."""
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0", silence_logs=logging.ERROR
        ) as lc,
        Client(lc),
    ):
        yield lc.scheduler_address


def test_shared_file_is_read_once_and_tables_equal_per_task_reads(tmp_path, monkeypatch, cluster):
    import dgcoverage.inputs.osm as osm

    pbf = tmp_path / "shared.osm.pbf"
    shutil.copyfile(PBF, pbf)
    root = make_regions(tmp_path / "b", pbf)
    per_task: list[str] = []
    real_read = osm._read_ways
    monkeypatch.setattr(osm, "_read_ways", lambda *a, **k: per_task.append("read") or real_read(*a, **k))
    monkeypatch.setenv("DGCOVERAGE_CACHE", "off")  # no network cache: every read shows
    calls: list[str] = []
    outcomes, stages = run(root, tmp_path / "out", calls, monkeypatch, cluster)
    # one read for 3 regions x 2 network types; the six windows built by the tasks from the memory-mapped ways
    assert calls == ["shared.osm.pbf:bike,walk"] + ["task:memmap"] * 6 and per_task == []
    assert stages[0]["files"] == 1 and stages[0]["cut"] == 6 and stages[0]["reused"] == 0
    assert stages[0]["build_s"] == 0.0 and stages[0]["ways_reused"] == 0
    assert len(list((tmp_path / "out" / ".precut").glob("ways-*/refs.npy"))) == 1
    cut = sorted((tmp_path / "out" / ".precut").glob("network-*.npz"))
    assert len(cut) == 6  # kept by the tasks for reruns
    for o in outcomes:
        manifest = json.loads((tmp_path / "out" / o["region"] / "batch_manifest.json").read_text(encoding="utf-8"))
        assert {t: h["obtained"] for t, h in manifest["networks"].items()} == {"walk": "precut", "bike": "precut"}
        assert Path(manifest["networks"]["walk"]["file"]) in cut
    # today's way, each task reading the file itself (twice: walk and bike), gives the same tables byte for byte
    calls.clear()
    _, stages = run(root, tmp_path / "read", calls, monkeypatch, cluster, precut=False)
    assert calls == [] and stages == [] and len(per_task) == 6
    for region in ("r1", "r2", "r3"):
        for c in CIRCLES:
            for name in TABLES:
                a, b = tmp_path / "out" / region / c / name, tmp_path / "read" / region / c / name
                assert a.read_bytes() == b.read_bytes(), f"{a} != {b}"
    manifest = json.loads((tmp_path / "read" / "r1" / "batch_manifest.json").read_text(encoding="utf-8"))
    assert manifest["networks"] == {"walk": {"obtained": "read"}, "bike": {"obtained": "read"}}


def test_rerun_reuses_the_cut_networks_and_a_changed_file_is_cut_again(tmp_path, monkeypatch, cluster):
    import osmium

    pbf = tmp_path / "shared.osm.pbf"
    shutil.copyfile(PBF, pbf)
    root = make_regions(tmp_path / "b", pbf)
    out = tmp_path / "out"
    first: list[str] = []
    run(root, out, first, monkeypatch, cluster)
    tables = {p: p.read_bytes() for p in out.glob("r*/*/*.csv")}
    again: list[str] = []
    _, stages = run(root, out, again, monkeypatch, cluster)
    assert first == ["shared.osm.pbf:bike,walk"] + ["task:memmap"] * 6
    assert again == []  # nothing read, nothing built: the six networks reused
    assert stages[0]["cut"] == 0 and stages[0]["reused"] == 6
    manifest = json.loads((out / "r2" / "batch_manifest.json").read_text(encoding="utf-8"))
    assert manifest["networks"]["bike"]["obtained"] == "precut" and manifest["networks"]["bike"]["reused"] is True
    # the same roads written again by osmium: other bytes, another hash -> cut again, same tables
    copy = tmp_path / "copy.osm.pbf"
    with osmium.SimpleWriter(str(copy)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    assert copy.read_bytes() != pbf.read_bytes()
    shutil.move(copy, pbf)
    recut: list[str] = []
    _, stages = run(root, out, recut, monkeypatch, cluster)
    assert recut == ["shared.osm.pbf:bike,walk"] + ["task:memmap"] * 6
    assert stages[0]["cut"] == 6 and stages[0]["reused"] == 0
    assert len(list((out / ".precut").glob("network-*.npz"))) == 12
    assert len(list((out / ".precut").glob("ways-*/types.json"))) == 2
    assert {p: p.read_bytes() for p in out.glob("r*/*/*.csv")} == tables
    # windows gone but the ways kept: nothing read, the tasks build again from the saved ways
    for p in (out / ".precut").glob("network-*.npz"):
        p.unlink()
    rebuilt: list[str] = []
    _, stages = run(root, out, rebuilt, monkeypatch, cluster)
    assert rebuilt == ["task:memmap"] * 6 and stages[0]["files"] == 0 and stages[0]["ways_reused"] == 1
    assert {p: p.read_bytes() for p in out.glob("r*/*/*.csv")} == tables


def test_a_task_whose_window_cannot_be_built_reads_the_file(tmp_path):
    from dgcoverage.errors import NetworkError
    from dgcoverage.inputs.batch import regions_from_folder
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.batch import _network, network_groups
    from dgcoverage.pipeline.precut import load_precut, precut_networks

    root = make_regions(tmp_path / "b", PBF.resolve())
    circles, _ = load_config(None)
    circles = [circles[c] for c in CIRCLES]
    regions = regions_from_folder(root / "regions", population=root / "population.tif")
    cut, _ = precut_networks([(r, list(network_groups(r, circles))) for r in regions], circles, tmp_path / "out")
    record = cut["r1"]["walk"]
    sea = {**record, "polygon": shapely.to_wkb(shapely.box(0.0, 0.0, 0.1, 0.1))}
    assert load_precut(sea) is None and not Path(record["file"]).exists()  # no road there: left to the read
    net, _, how = _network(regions[0], "walk", circles, record)
    assert how["obtained"] == "precut" and how["reused"] is False and Path(record["file"]).is_file()
    shutil.rmtree(record["ways"])  # ways gone (and no window saved): the task reads the file as before
    bike = cut["r1"]["bike"]
    assert load_precut(bike) is None
    net2, _, how = _network(regions[0], "bike", circles, bike)
    assert how == {"obtained": "read"} and net2.n_edges > 0
    with pytest.raises(NetworkError):  # the read's own error for a window without roads
        from dgcoverage.inputs.osm import network_from_osm_file

        network_from_osm_file(PBF, "walk", polygon=shapely.box(0.0, 0.0, 0.1, 0.1))


def test_a_region_whose_window_cannot_be_cut_is_left_to_its_task(tmp_path):
    from dgcoverage.inputs.batch import regions_from_folder
    from dgcoverage.inputs.config import load_config
    from dgcoverage.pipeline.batch import network_groups
    from dgcoverage.pipeline.precut import precut_networks

    root = make_regions(tmp_path / "b", PBF.resolve())
    (root / "regions" / "r2" / "towns.geojson").write_text("{not json", encoding="utf-8")
    circles, _ = load_config(None)
    circles = [circles[c] for c in CIRCLES]
    regions = regions_from_folder(root / "regions", population=root / "population.tif")
    cut, stats = precut_networks([(r, list(network_groups(r, circles))) for r in regions], circles, tmp_path / "out")
    assert sorted(cut) == ["r1", "r3"] and sorted(cut["r1"]) == ["bike", "walk"]
    assert (stats["files"], stats["cut"], stats["left_to_task"]) == (1, 4, 2)
    # a region alone on its file is read by its task as before: nothing cut
    cut, stats = precut_networks([(regions[0], ["walk"])], circles, tmp_path / "out2")
    assert cut == {} and stats["files"] == 0 and not (tmp_path / "out2").exists()
