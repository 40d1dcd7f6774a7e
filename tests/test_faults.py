"""Faults and reproducibility (issue #7): atomic outputs, the parsed-network cache, byte-identical reruns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgcoverage.cli.main import main
from dgcoverage.core.io import write_csv
from dgcoverage.core.roadnet import RoadNetwork, save_network
from dgcoverage.inputs import cache as cache_mod
from dgcoverage.inputs.network import network_from_file
from dgcoverage.inputs.osm import network_filter

# ------------------------------------------------------------------ atomic writes


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


def _crash_half_way(monkeypatch):
    original = pd.DataFrame.to_csv

    def half_then_fail(self, path_or_buf=None, *args, **kwargs):
        kwargs.pop("encoding", None)
        text = original(self, None, *args, **kwargs)
        Path(path_or_buf).write_text(text[: len(text) // 2], encoding="utf-8")
        raise OSError("simulated crash: disk full half way through")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)


def test_crash_mid_write_leaves_no_partial_file_and_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "villages.csv"
    new = pd.DataFrame({"code": [f"{i:012d}" for i in range(200)], "share": np.linspace(0, 1, 200)})
    # no previous file: nothing appears
    with monkeypatch.context() as m:
        _crash_half_way(m)
        with pytest.raises(OSError, match="simulated crash"):
            write_csv(new, target)
    assert not target.exists() and _leftovers(tmp_path) == []
    # an older file exists: it is untouched
    target.write_bytes(b"old,complete\n1,2\n")
    with monkeypatch.context() as m:
        _crash_half_way(m)
        with pytest.raises(OSError):
            write_csv(new, target)
    assert target.read_bytes() == b"old,complete\n1,2\n" and _leftovers(tmp_path) == []
    # a rerun after the crash works
    write_csv(new, target)
    back = pd.read_csv(target, encoding="utf-8-sig", dtype={"code": str})
    assert len(back) == 200 and back["code"].iloc[-1] == f"{199:012d}"


def test_crash_inside_a_circle_run_keeps_previous_outputs(small_city, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["run", "--circle", "fitness_15", "--data-dir", str(small_city), "--out", str(out)]
    assert main(args) == 0
    d = out / "fitness_15"
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with monkeypatch.context() as m:
        _crash_half_way(m)
        assert main(args) == 2  # the OS error is one line, not a traceback
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # nothing half-written, nothing lost
    assert not [p for p in out.rglob("*") if ".dgcoverage-staging" in str(p) or p.name.endswith(".tmp")]
    assert main(args) == 0
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.name != "timing.json"} == {
        k: v for k, v in before.items() if k != "timing.json"
    }


# ------------------------------------------------------------------ network cache


def _osm(path: Path, shift: float = 0.0) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        f'<node id="1" version="1" lat="23.0" lon="113.75"/>'
        f'<node id="2" version="1" lat="23.001" lon="{113.75 + shift}"/>'
        f'<node id="3" version="1" lat="23.002" lon="113.75"/>'
        '<way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(d))
    return d


def test_cache_key_tracks_bytes_type_and_version(tmp_path, monkeypatch):
    a = _osm(tmp_path / "a.osm")
    b = _osm(tmp_path / "b.osm")
    k = cache_mod.network_cache_key(a, "walk")
    assert k == cache_mod.network_cache_key(b, "walk")  # same bytes, same key (the path does not matter)
    assert len(k) == 64
    assert k != cache_mod.network_cache_key(a, "drive")
    _osm(b, shift=0.0001)
    assert k != cache_mod.network_cache_key(b, "walk")
    monkeypatch.setattr(cache_mod, "__version__", "9.9.9")
    assert k != cache_mod.network_cache_key(a, "walk")


def test_cache_hit_skips_parsing(tmp_path, cache_dir, monkeypatch):
    osm = _osm(tmp_path / "roads.osm")
    first = network_from_file(osm)
    entries = list(cache_dir.glob("network-*.npz"))
    assert len(entries) == 1 and cache_mod.network_cache_key(osm, "walk", network_filter("walk")) in entries[0].name

    def boom(*a, **k):
        raise AssertionError("parsed again despite a valid cache entry")

    monkeypatch.setattr("dgcoverage.inputs.osm.network_from_osm_file", boom)
    again = network_from_file(osm)
    assert again.fingerprint() == first.fingerprint()
    assert again.meta == first.meta and (again.name == first.name).all()


def test_changed_input_never_reads_stale_cache(tmp_path, cache_dir):
    osm = _osm(tmp_path / "roads.osm")
    old = network_from_file(osm)
    _osm(osm, shift=0.002)  # edit the file in place: same path, new bytes
    new = network_from_file(osm)
    assert new.fingerprint() != old.fingerprint()
    assert new.lon.max() == pytest.approx(113.752)
    assert len(list(cache_dir.glob("network-*.npz"))) == 2


def test_planted_or_corrupt_entry_is_ignored(tmp_path, cache_dir):
    osm = _osm(tmp_path / "roads.osm")
    key = cache_mod.network_cache_key(osm, "walk", network_filter("walk"))
    cache_dir.mkdir(parents=True)
    wrong = RoadNetwork([1, 2], [0.0, 1.0], [0.0, 1.0], [0], [1], [5.0], meta={"cache_key": "f" * 64})
    save_network(wrong, cache_mod.cache_path_for(key, cache_dir))  # right name, wrong key inside
    net = network_from_file(osm)
    assert net.n_nodes == 3
    cache_mod.cache_path_for(key, cache_dir).write_bytes(b"corrupt")
    assert network_from_file(osm).n_nodes == 3


def test_cache_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("DGCOVERAGE_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    network_from_file(_osm(tmp_path / "roads.osm"))
    assert cache_mod.cache_dir() is None and not (tmp_path / ".cache").exists()


# ------------------------------------------------------------------ reproducibility


def test_two_runs_are_byte_identical(small_city, tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert main(["run", "--circle", "elderly_care_15", "--data-dir", str(small_city), "--out", str(out)]) == 0
        outs.append(out / "elderly_care_15")
    for name in ("villages.csv", "towns.csv", "facilities.csv", "summary.json", "service_area.geojson", "gaps.geojson"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    s = json.loads((outs[0] / "summary.json").read_text(encoding="utf-8"))
    assert "timing_s" not in s
    t = json.loads((outs[0] / "timing.json").read_text(encoding="utf-8"))
    assert t["circle"] == "elderly_care_15" and set(t["timing_s"]) == {"search", "total"}
    v = s["versions"]
    for pkg in ("numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "rasterio", "osmnx", "osmium"):
        assert v[pkg], pkg
    assert all(len(rec["sha256"]) == 64 for key, rec in s["inputs"].items() if isinstance(rec, dict) and "path" in rec)
    villages = pd.read_csv(outs[0] / "villages.csv", encoding="utf-8-sig", dtype=str)
    codes = villages.iloc[:, 0].tolist()
    assert codes == sorted(codes)


def test_outputs_get_normal_permissions(tmp_path):
    import os
    import stat

    from dgcoverage.core.io import write_text

    umask = os.umask(0)
    os.umask(umask)
    p = write_text("x", tmp_path / "a.txt")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_cache_key_follows_the_way_filter(tmp_path):
    """A changed osmnx.settings.default_access changes the filter, so the cached network is not reused."""
    from dgcoverage.inputs.osm import network_filter

    osm = _osm(tmp_path / "a.osm")
    assert cache_mod.network_cache_key(osm, "walk", network_filter("walk")) != cache_mod.network_cache_key(
        osm, "walk", network_filter("walk").replace("private", "private|no")
    )
