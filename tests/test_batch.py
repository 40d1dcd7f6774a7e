"""``dgcoverage batch``: many regions on Dask give the tables of single-region runs, byte for byte.

The Helsinki test area (real OSM streets, tests/input_data) is cut into three regions (vertical strips, two towns
and six villages each, from tests/_region_data.py) sharing one road file, one population raster and one facility
file. The batch runs on a LocalCluster of 2 worker processes, on a scheduler and workers started as separate
processes, with a region that fails, with a worker killed mid-task, and again (reusing unchanged regions).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from dgcoverage.cli.main import main

from ._region_data import BOX, FACILITIES, PBF, towns_and_villages, write_population

DASK = Path(sys.executable).parent / "dask"
TABLES = ("villages.csv", "towns.csv", "facilities.csv", "summary.json")


def make_batch(root: Path, n: int = 3) -> Path:
    """Shared population.tif and facilities.geojson in ``root``; regions/r<i>/ strips of the test area."""
    root.mkdir(parents=True, exist_ok=True)
    write_population(root / "population.tif", BOX)
    fac = gpd.GeoDataFrame(
        {"name": [f[0] for f in FACILITIES]},
        geometry=gpd.points_from_xy([f[1] for f in FACILITIES], [f[2] for f in FACILITIES]),
        crs=4326,
    )
    fac.to_file(root / "facilities.geojson", driver="GeoJSON")
    xs = np.linspace(BOX[0], BOX[2], n + 1)
    for i in range(n):
        d = root / "regions" / f"r{i + 1}"
        d.mkdir(parents=True, exist_ok=True)
        towns, villages = towns_and_villages((xs[i], BOX[1], xs[i + 1], BOX[3]), 2, f"R{i + 1}T")
        towns.to_file(d / "towns.geojson", driver="GeoJSON")
        villages.to_file(d / "villages.geojson", driver="GeoJSON")
        (d / "region.toml").write_text(
            f'name = "Region {i + 1}"\ncode = "R{i + 1}"\ntowns = "towns.geojson"\nvillages = "villages.geojson"\n'
            '[facilities]\nfitness_15 = "../../facilities.geojson"\n',
            encoding="utf-8",
        )
    return root


def batch_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "batch",
        "--regions",
        str(root / "regions"),
        "--circle",
        "fitness_15",
        "--network",
        str(PBF.resolve()),
        "--population",
        str(root / "population.tif"),
        "--out",
        str(out),
        *extra,
    ]


def single_run(root: Path, region: str, out: Path) -> Path:
    rc = main(
        [
            "run",
            "--circle",
            "fitness_15",
            "--region",
            str(root / "regions" / region),
            "--network",
            str(PBF.resolve()),
            "--population",
            str(root / "population.tif"),
            "--no-maps",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return out / "fitness_15"


def same_tables(a: Path, b: Path) -> None:
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{a / name} != {b / name}"


def read_batch(out: Path) -> pd.DataFrame:
    df = pd.read_csv(out / "batch.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df.columns = [c.split()[0] for c in df.columns]
    return df.set_index("region")


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask talks to its scheduler and workers on 127.0.0.1: only loopback connections are allowed here."""
    connect, create = socket.socket.connect, socket.create_connection

    def loopback(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else None
        return host is None or str(host) in ("127.0.0.1", "localhost", "::1")

    def guard_connect(self: socket.socket, address: object) -> object:
        if not loopback(address):
            raise RuntimeError("network access attempted in an offline test")
        return connect(self, address)

    def guard_create(address: object, *args: object, **kwargs: object) -> object:
        if not loopback(address):
            raise RuntimeError("network access attempted in an offline test")
        return create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guard_connect)
    monkeypatch.setattr(socket, "create_connection", guard_create)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    """The 3-region batch on a LocalCluster of 2 workers (made by the CLI), and each region run alone."""
    root = make_batch(tmp_path_factory.mktemp("batch"))
    out = root / "out"
    assert main(batch_args(root, out, "--workers", "2")) == 0
    singles = {r: single_run(root, r, root / "single" / r) for r in ("r1", "r2", "r3")}
    return root, out, singles


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 one-thread worker processes, for the tests that submit to a scheduler's address."""
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as lc,
        Client(lc) as client,
    ):
        yield lc, client


def test_batch_on_local_cluster_equals_single_runs(batch, capsys):
    root, out, singles = batch
    for region, single in singles.items():
        same_tables(out / region / "fitness_15", single)
    table = read_batch(out)
    assert list(table.index) == ["r1", "r2", "r3"] and set(table["status"]) == {"done"}
    raw = (out / "batch.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "pass_rate_villages 村(社区)达标率" in raw.decode("utf-8-sig")
    for region, single in singles.items():  # the combined row is the region's city row of towns.csv
        towns = pd.read_csv(single / "towns.csv", encoding="utf-8-sig", dtype=str)
        towns.columns = [c.split()[0] for c in towns.columns]
        city = towns.iloc[-1]
        assert city["town_code"] == region.upper() and city["town_name"] == table.loc[region, "region_name"]
        for col in ("population", "covered_population", "pass_rate_population", "pass_rate_villages", "villages"):
            assert table.loc[region, col] == city[col], (region, col)
    # hand-checked: region 1 has 187 people in its villages, 163 of them within 15 min (0.871657 cut, not .871658)
    assert table.loc["r1", ["population", "covered_population", "pass_rate_population"]].tolist() == [
        "187",
        "163",
        "0.871657",
    ]
    # people covered only thanks to gyms across the strip's border (recomputed in test_batch_crossborder.py)
    assert table["covered_only_by_outside"].tolist() == ["141", "0", "20"]
    xlsx = pd.read_excel(out / "batch.xlsx", sheet_name=0)
    assert xlsx.iloc[:, 0].tolist() == ["r1", "r2", "r3"] and xlsx.iloc[0, 5] == 187


def test_rerun_reuses_regions_whose_inputs_are_unchanged(batch, cluster, capsys):
    root, out, _ = batch
    before = {r: (out / r / "fitness_15" / "villages.csv").stat().st_mtime_ns for r in ("r1", "r2", "r3")}
    capsys.readouterr()
    assert main(batch_args(root, out, "--workers", "2")) == 0
    assert "0 done, 3 reused" in capsys.readouterr().out
    assert set(read_batch(out)["status"]) == {"reused"}
    assert before == {r: (out / r / "fitness_15" / "villages.csv").stat().st_mtime_ns for r in before}
    # a changed input file runs its region again (on a running scheduler), the others are reused
    work = make_batch(root.parent / "rerun", n=3)
    addr = cluster[0].scheduler_address
    out2 = work / "out"
    assert main(batch_args(work, out2, "--scheduler", addr, "--only", "r1,r3")) == 0
    v = gpd.read_file(work / "regions" / "r3" / "villages.geojson")
    v.loc[0, "name"] = "Renamed village"
    v.to_file(work / "regions" / "r3" / "villages.geojson", driver="GeoJSON")
    capsys.readouterr()
    assert main(batch_args(work, out2, "--scheduler", addr, "--only", "r1,r3")) == 0
    assert "1 done, 1 reused" in capsys.readouterr().out
    assert read_batch(out2)["status"].to_dict() == {"r1": "reused", "r3": "done"}
    assert "Renamed village" in (out2 / "r3" / "fitness_15" / "villages.csv").read_text(encoding="utf-8-sig")


def test_failing_regions_are_reported_while_the_others_finish(batch, cluster, tmp_path, capsys):
    root, _, singles = batch
    regions = tmp_path / "regions"
    regions.mkdir()
    r1 = root / "regions" / "r1"
    (regions / "good.toml").write_text(
        f'name = "Region 1"\ncode = "R1"\ntowns = "{r1 / "towns.geojson"}"\nvillages = "{r1 / "villages.geojson"}"\n'
        f'[facilities]\nfitness_15 = "{root / "facilities.geojson"}"\n',
        encoding="utf-8",
    )
    (tmp_path / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    (regions / "badfac.toml").write_text(
        (regions / "good.toml")
        .read_text(encoding="utf-8")
        .replace(str(root / "facilities.geojson"), "../broken.geojson"),
        encoding="utf-8",
    )
    (regions / "badtoml.toml").write_text("towns = [unclosed\n", encoding="utf-8")
    out = tmp_path / "out"
    args = batch_args(root, out, "--scheduler", cluster[0].scheduler_address)
    args[2] = str(regions)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "badfac" in err and "broken.geojson" in err and "badtoml" in err and "not valid TOML" in err
    assert "2 of 3 region(s) failed: badfac, badtoml" in err
    table = read_batch(out)
    assert table["status"].to_dict() == {"badfac": "failed", "badtoml": "failed", "good": "done"}
    assert "broken.geojson" in table.loc["badfac", "error"] and "\n" not in table.loc["badfac", "error"]
    same_tables(out / "good" / "fitness_15", singles["r1"])
    assert not (out / "badfac").exists()  # a failed region publishes nothing


def test_worker_killed_mid_task_has_its_task_retried(batch, cluster, tmp_path):
    from dgcoverage.inputs.batch import regions_from_folder
    from dgcoverage.inputs.config import load_config
    from dgcoverage.outputs.batch import write_region
    from dgcoverage.pipeline.batch import run_batch

    root, _, singles = batch
    lc, client = cluster
    circles, settings = load_config()
    regions = regions_from_folder(root / "regions", PBF, root / "population.tif", only=["r1"])
    out = tmp_path / "out"
    result: dict = {}
    t = threading.Thread(
        target=lambda: result.setdefault(
            "outcomes",
            run_batch(regions, out, [circles["fitness_15"]], settings, write_region, scheduler=lc.scheduler_address),
        )
    )
    pids = client.run(os.getpid)  # worker address -> process id
    t.start()
    deadline = time.monotonic() + 30
    killed = None
    while killed is None and time.monotonic() < deadline:
        running = client.processing()
        for addr, keys in running.items():
            if any("dgcoverage-region-r1" in str(k) for k in keys):
                killed = pids[addr]
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed is not None, "the task was never seen running"
    t.join(120)
    (outcome,) = result["outcomes"]
    assert outcome["status"] == "done" and outcome["pid"] != killed
    same_tables(out / "r1" / "fitness_15", singles["r1"])
    assert not [p for p in (out / "r1").iterdir() if p.name.startswith(".")]  # no staging left behind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_batch_on_a_separately_started_scheduler_and_workers(batch, tmp_path):
    from distributed import Client

    root, _, singles = batch
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        time.sleep(1.0)
        procs.append(
            subprocess.Popen(
                [str(DASK), "worker", addr, "--nthreads", "1", "--nworkers", "2", "--no-dashboard",
                 "--host", "127.0.0.1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp_path,  # another folder: the inputs are given by absolute paths
                )
        )  # fmt: skip
        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        out = tmp_path / "out"
        assert main(batch_args(root, out, "--scheduler", addr)) == 0
        for region, single in singles.items():
            same_tables(out / region / "fitness_15", single)
        assert set(read_batch(out)["status"]) == {"done"}
        with Client(addr, timeout="30s") as c:  # the tasks ran there
            prefixes = c.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
        assert [p for p in prefixes if p.startswith("dgcoverage-region")], prefixes
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_batch_folder_refusals(tmp_path):
    from dgcoverage.errors import ConfigError
    from dgcoverage.inputs.batch import regions_from_folder

    with pytest.raises(ConfigError, match="holds no region"):
        regions_from_folder(tmp_path)
    (tmp_path / "a.toml").write_text('towns = "t"\nvillages = "v"\n', encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "region.toml").write_text('towns = "t"\nvillages = "v"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="given twice"):
        regions_from_folder(tmp_path)
    shutil.rmtree(tmp_path / "a")
    (region,) = regions_from_folder(tmp_path)  # no network or population anywhere: the region fails, named
    assert "names no network and no population" in region.error and "--network" in region.error
    with pytest.raises(ConfigError, match="no such region"):
        regions_from_folder(tmp_path, only=["zz"])
