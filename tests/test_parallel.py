"""core.parallel.run_jobs: results in order, warnings and errors carried back, workers die with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from dgcoverage.core.parallel import fork_safe, run_jobs
from dgcoverage.errors import DgCoverageWarning, InputFileError

pytestmark = pytest.mark.skipif(not fork_safe(), reason="jobs are forked on Linux only")

BIG = np.arange(1_000_000, dtype=np.float64)  # the workers see it without pickling


def _job(i):
    return lambda: (i, os.getpid(), float(BIG[: i + 1].sum()))


def test_results_come_back_in_order_from_other_processes():
    out = run_jobs([_job(i) for i in range(6)], workers=2)
    assert [o[0] for o in out] == list(range(6))
    assert [o[2] for o in out] == [i * (i + 1) / 2 for i in range(6)]
    assert os.getpid() not in {o[1] for o in out}  # really run in workers
    assert run_jobs([_job(i) for i in range(3)], workers=1)[2][1] == os.getpid()  # one worker: here


def test_warnings_of_workers_are_raised_again_here():
    def warn():
        warnings.warn("3 cells repaired", DgCoverageWarning, stacklevel=1)
        return 1

    with pytest.warns(DgCoverageWarning, match="3 cells repaired"):
        assert run_jobs([warn, lambda: 2], workers=2) == [1, 2]


def test_an_error_in_a_worker_is_raised_here_with_its_type():
    def bad():
        raise InputFileError("x.csv", "row 3: broken.", "mend it")

    with pytest.raises(InputFileError, match="row 3") as info:
        run_jobs([lambda: 1, bad], workers=2)
    assert info.value.fix == "mend it" and str(info.value.path) == "x.csv"


def test_every_error_class_survives_pickling():
    import inspect
    import pickle

    from dgcoverage import errors

    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if not issubclass(cls, errors.DgCoverageError):
            continue
        need = [p for p in inspect.signature(cls.__init__).parameters.values() if p.default is p.empty][1:]
        e = cls(*["/tmp/x.csv", "broken row 3", "mend it"][: max(len(need), 1)])
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is cls and str(back) == str(e) and back.__dict__ == e.__dict__, name


def test_workers_die_with_a_killed_parent(tmp_path):
    pids = tmp_path / "pids"
    code = textwrap.dedent(
        f"""
        import os, time
        from dgcoverage.core.parallel import run_jobs
        def job():
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(60)
        run_jobs([job, job], workers=2)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
        time.sleep(0.05)
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [p for p in workers if _alive(p)]
        time.sleep(0.05)
    assert not alive, f"workers {alive} outlived their killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie is dead (waiting for its reaper)
    except FileNotFoundError:
        return False


def test_run_gives_the_same_files_on_one_or_two_processes(small_city, tmp_path):
    from dgcoverage.cli.main import main

    def files(root):
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.suffix not in (".xlsx",) and p.name != "timing.json"
        }

    trees = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        argv = ["run", "--all", "--data-dir", str(small_city), "--out", str(out / "o"), "--maps-dir", str(out / "m")]
        assert main([*argv, "--jobs", str(jobs)]) == 0
        trees.append(files(out))
    assert trees[0].keys() == trees[1].keys() and len(trees[0]) > 20
    assert trees[0] == trees[1]
