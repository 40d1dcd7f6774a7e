"""One run's outputs are one consistent set (core.outputset) and the cache keeps no orphan temporary files."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dgcoverage.core.outputset import (
    JOURNAL_NAME,
    LOCK_NAME,
    POINTER_NAME,
    STAGING_PREFIX,
    OutputDirError,
    OutputLockedError,
    OutputSet,
    check_output_dir,
    pending_commit,
)
from dgcoverage.errors import DgCoverageError
from dgcoverage.inputs import cache as cache_mod

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock semantics are POSIX")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(script: str, *args: object, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _tree(*roots: Path) -> dict[str, bytes]:
    """Every file under the roots (except the lock files), by path relative to the roots' parent."""
    base = roots[0].parent
    out: dict[str, bytes] = {}
    for r in roots:
        for p in sorted(r.rglob("*")):
            if p.is_file() and p.name != LOCK_NAME:
                out[str(p.relative_to(base))] = p.read_bytes()
    return out


def _bookkeeping_left(*roots: Path) -> list[str]:
    """Staging folders, journals, pointers and temporary files still present under the roots."""
    bad = []
    for r in roots:
        for p in r.rglob("*"):
            n = p.name
            if (
                n.startswith(STAGING_PREFIX)
                or n in (JOURNAL_NAME, POINTER_NAME)
                or n.endswith(".tmp")
                or n.startswith(".dgcoverage-commit")
            ):
                bad.append(str(p))
    return sorted(bad)


# ------------------------------------------------------------------ in-process behaviour


def test_commit_publishes_everything_and_leaves_no_bookkeeping(tmp_path):
    from dgcoverage.core.io import write_text

    out, maps, other = tmp_path / "out", tmp_path / "out" / "maps", tmp_path / "elsewhere"
    with OutputSet(out, maps, other) as outs:
        assert outs.tops == [other.resolve(), out.resolve()]  # out/maps is staged inside out
        d = outs.stage(out)
        assert d.parent == out.resolve() and d.name.startswith(STAGING_PREFIX)
        write_text("villages", d / "fitness_15" / "villages.csv")
        (outs.stage(maps) / "fitness_15.html").write_text("map", encoding="utf-8")
        (outs.stage(other) / "index.html").write_text("idx", encoding="utf-8")
        assert not (out / "fitness_15").exists()  # nothing published before commit
        published = outs.commit()
    assert sorted(published) == sorted(
        [
            out.resolve() / "fitness_15" / "villages.csv",
            maps.resolve() / "fitness_15.html",
            other.resolve() / "index.html",
        ]
    )
    assert _tree(out, other) == {
        "out/fitness_15/villages.csv": b"villages",
        "out/maps/fitness_15.html": b"map",
        "elsewhere/index.html": b"idx",
    }
    assert _bookkeeping_left(out, other) == []
    assert not pending_commit(out) and not pending_commit(maps) and not pending_commit(other)
    umask = os.umask(0)
    os.umask(umask)
    for p in (out / "fitness_15" / "villages.csv", maps / "fitness_15.html"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask


def test_remove_deletes_stale_files_but_not_restaged_ones(tmp_path):
    out = tmp_path / "out"
    circle = out / "fitness_15"
    circle.mkdir(parents=True)
    for name in ("candidates.csv", "candidates.geojson", "villages.csv"):
        (circle / name).write_text("old", encoding="utf-8")
    (out / "gone" / "deep").mkdir(parents=True)
    (out / "gone" / "deep" / "x.csv").write_text("old", encoding="utf-8")
    with OutputSet(out) as outs:
        st = outs.stage(out)
        (st / "fitness_15").mkdir()
        (st / "fitness_15" / "villages.csv").write_text("new", encoding="utf-8")
        (st / "fitness_15" / "candidates.csv").write_text("new", encoding="utf-8")
        outs.remove(circle / "candidates.csv")  # re-staged: published, not deleted
        outs.remove(circle / "candidates.geojson")
        outs.remove(circle / "candidates.xlsx")  # absent: fine
        outs.remove(out / "gone")  # a folder: its files go, and the emptied folders
        outs.commit()
    assert _tree(out) == {"out/fitness_15/villages.csv": b"new", "out/fitness_15/candidates.csv": b"new"}
    assert not (out / "gone").exists() and _bookkeeping_left(out) == []


def test_exception_in_block_publishes_nothing(tmp_path):
    out, maps = tmp_path / "out", tmp_path / "maps"
    with OutputSet(out, maps) as outs:
        (outs.stage(out) / "a.csv").write_text("run1", encoding="utf-8")
        (outs.stage(maps) / "a.html").write_text("run1", encoding="utf-8")
        outs.commit()
    before = _tree(out, maps)

    with pytest.raises(RuntimeError, match="boom"), OutputSet(out, maps) as outs:
        (outs.stage(out) / "a.csv").write_text("run2", encoding="utf-8")
        (outs.stage(out) / "b.csv").write_text("run2", encoding="utf-8")
        outs.remove(maps / "a.html")
        raise RuntimeError("boom")
    assert _tree(out, maps) == before and _bookkeeping_left(out, maps) == []

    with OutputSet(out, maps) as outs:  # leaving the block without commit() publishes nothing either
        (outs.stage(maps) / "a.html").write_text("run3", encoding="utf-8")
    assert _tree(out, maps) == before and _bookkeeping_left(out, maps) == []


def test_interrupted_commit_is_rolled_forward_by_the_next_run(tmp_path, monkeypatch):
    import dgcoverage.core.outputset as outputs_mod

    out, other = tmp_path / "out", tmp_path / "other"
    calls = {"n": 0}
    real_replace = os.replace

    def replace_then_die(src, dst):
        if str(dst).endswith(".csv"):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # Ctrl-C half way through the moves
        return real_replace(src, dst)

    for k in range(2):
        with OutputSet(out, other) as outs:
            for i in range(5):
                (outs.stage(out) / f"t{i}.csv").write_text(f"run{k}", encoding="utf-8")
            (outs.stage(other) / "m.html").write_text(f"run{k}", encoding="utf-8")
            if k == 1:
                monkeypatch.setattr(outputs_mod.os, "replace", replace_then_die)
                with pytest.raises(KeyboardInterrupt):
                    outs.commit()
                monkeypatch.setattr(outputs_mod.os, "replace", real_replace)
                assert pending_commit(out) and pending_commit(other)
            else:
                outs.commit()
    # the end of the with-block finished the interrupted commit
    assert set(_tree(out, other).values()) == {b"run1"} and _bookkeeping_left(out, other) == []


def test_interrupt_before_the_journal_publishes_nothing(tmp_path, monkeypatch):
    import dgcoverage.core.outputset as outputs_mod

    out, other = tmp_path / "out", tmp_path / "other"
    with OutputSet(out, other) as outs:
        (outs.stage(out) / "stale.csv").write_text("run0", encoding="utf-8")
        (outs.stage(other) / "m.html").write_text("run0", encoding="utf-8")
        outs.commit()
    before = _tree(out, other)
    real_write = outputs_mod._write_json_atomic

    def interrupted_at_the_journal(obj, path):
        if path.name == JOURNAL_NAME:
            raise KeyboardInterrupt
        return real_write(obj, path)

    monkeypatch.setattr(outputs_mod, "_write_json_atomic", interrupted_at_the_journal)
    with pytest.raises(KeyboardInterrupt), OutputSet(out, other) as outs:
        (outs.stage(other) / "m.html").write_text("run1", encoding="utf-8")
        outs.remove(out / "stale.csv")
        outs.commit()
    assert _tree(out, other) == before and _bookkeeping_left(out, other) == []


def test_misuse_is_reported(tmp_path):
    with OutputSet(tmp_path / "out") as outs:
        with pytest.raises(DgCoverageError, match="not inside any output folder"):
            outs.stage(tmp_path / "elsewhere")
        outs.commit()
        with pytest.raises(DgCoverageError, match="needs an open set"):
            outs.stage(tmp_path / "out")


# ------------------------------------------------------------------ check_output_dir


def test_check_output_dir(tmp_path):
    made = check_output_dir(tmp_path / "new" / "deeper")
    assert made == tmp_path / "new" / "deeper" and made.is_dir() and list(made.iterdir()) == []

    f = tmp_path / "file.csv"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(OutputDirError) as e:
        check_output_dir(f)
    msg = str(e.value)
    assert str(f) in msg and "is a file" in msg and "Fix:" in msg and "\n" not in msg
    assert isinstance(e.value, OSError) and isinstance(e.value, DgCoverageError)

    with pytest.raises(OutputDirError, match="cannot be created.*file.csv is a file") as e:
        check_output_dir(f / "sub", what="--maps-dir")
    assert "--maps-dir" in str(e.value) and "\n" not in str(e.value)


def test_check_output_dir_unwritable_simulated(tmp_path, monkeypatch):
    import dgcoverage.core.outputset as outputs_mod

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outputs_mod.tempfile, "mkstemp", denied)  # works as root too
    with pytest.raises(OutputDirError) as e:
        check_output_dir(tmp_path)
    assert str(e.value) == (
        f"{tmp_path}: --out folder is not writable (Permission denied). "
        f"Fix: choose another --out folder, or give yourself write permission on it."
    )


@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root ignores permissions")
def test_check_output_dir_read_only(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputDirError, match="not writable"):
            check_output_dir(ro)
        with pytest.raises(OutputDirError, match="cannot be created"):
            check_output_dir(ro / "sub")
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------ locks (other processes)

_HOLDER = """
import sys
from dgcoverage.core.outputset import OutputSet
with OutputSet(*sys.argv[1:]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_run_on_a_locked_root_is_refused(tmp_path):
    out = tmp_path / "out"
    holder = _spawn(_HOLDER, out / "maps", stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # the maps folder inside out is locked: a run on out and out/maps must refuse
        with pytest.raises(OutputLockedError) as e, OutputSet(out, out / "maps"):
            pass
        msg = str(e.value)
        assert f"another dgcoverage run (pid {holder.pid}, started " in msg
        assert str((out / "maps").resolve()) in msg and msg.endswith("or choose another --out")
        assert e.value.pid == holder.pid and isinstance(e.value, RuntimeError)
        # the refused run left nothing behind (the holder's own staging folder is in out/maps)
        assert sorted(p.name for p in out.iterdir()) == ["maps"]  # not even its lock file
    finally:
        holder.kill()  # SIGKILL: the lock dies with its process ...
        holder.communicate()
    with OutputSet(out, out / "maps") as outs:  # ... and the stale lock file blocks nobody
        (outs.stage(out / "maps") / "m.html").write_text("ok", encoding="utf-8")
        outs.commit()
    assert (out / "maps" / "m.html").read_text(encoding="utf-8") == "ok"


_SLOW_WRITER = """
import sys, os, time
from pathlib import Path
from dgcoverage.core.outputset import OutputSet, OutputLockedError
root = Path(sys.argv[1])
print("ready", flush=True)            # imported: wait for the parent's start signal
go = float(sys.stdin.readline())
while time.time() < go:
    time.sleep(0.001)
rid = str(os.getpid())
try:
    with OutputSet(root, root / "maps") as outs:
        for i in range(20):
            (outs.stage(root) / f"t{i}.csv").write_text(rid)
            (outs.stage(root / "maps") / f"m{i}.html").write_text(rid)
            time.sleep(0.02)
        outs.commit()
except OutputLockedError as e:
    print(e, file=sys.stderr)
    sys.exit(3)
"""


def test_two_concurrent_runs_one_wins_one_refuses(tmp_path):
    out = tmp_path / "out"
    procs = [_spawn(_SLOW_WRITER, out, stdin=subprocess.PIPE) for _ in range(2)]
    assert all(p.stdout.readline().strip() == "ready" for p in procs)  # both imported, however loaded the machine
    go = time.time() + 0.5  # then both start the race at the same moment
    for p in procs:
        p.stdin.write(f"{go}\n")
        p.stdin.flush()
    results = [(p, *p.communicate(timeout=60)) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], [r[2] for r in results]
    winner = next(p for p in procs if p.returncode == 0)
    loser_err = next(err for p, _, err in results if p.returncode == 3)
    assert f"another dgcoverage run (pid {winner.pid}" in loser_err and "choose another --out" in loser_err
    tree = _tree(out)
    assert len(tree) == 40 and set(tree.values()) == {str(winner.pid).encode()}
    assert _bookkeeping_left(out) == []


# ------------------------------------------------------------------ SIGKILL at random moments

_LOOP_WRITER = """
import os, sys
from pathlib import Path
from dgcoverage.core import outputset as outputs
out, maps, other = map(Path, sys.argv[1:4])
n = int(sys.argv[4])
outputs._commit_pause_s = float(sys.argv[5])  # widen the commit so kills land inside it
print("ready", flush=True)
k = 0
while True:
    k += 1
    rid = f"{os.getpid()}-{k}"
    with outputs.OutputSet(out, maps, other) as outs:
        so, sm, sx = outs.stage(out), outs.stage(maps), outs.stage(other)
        for i in range(n):
            (so / f"c{i % 3}").mkdir(exist_ok=True)
            (so / f"c{i % 3}" / f"t{i}.csv").write_text(rid)
            (sm / f"m{i}.html").write_text(rid)
            (sx / f"x{i}.json").write_text(rid)
        parity = "odd" if k % 2 else "even"
        (so / f"{parity}.csv").write_text(rid)
        outs.remove(out / ("even.csv" if k % 2 else "odd.csv"))
        outs.commit()
"""


def _assert_one_run(out: Path, maps: Path, other: Path, n: int) -> bool:
    tree = _tree(out, other)
    assert _bookkeeping_left(out, other) == []
    if not tree:
        return False
    ids = {v.decode() for v in tree.values()}
    assert len(ids) == 1, f"outputs of several runs mixed: {sorted(ids)}"
    (rid,) = ids
    parity = "odd" if int(rid.rsplit("-", 1)[1]) % 2 else "even"
    expected = (
        {f"out/c{i % 3}/t{i}.csv" for i in range(n)}
        | {f"out/maps/m{i}.html" for i in range(n)}
        | {f"other/x{i}.json" for i in range(n)}
        | {f"out/{parity}.csv"}
    )
    assert set(tree) == expected
    return True


def test_sigkill_at_any_moment_never_mixes_runs(tmp_path):
    out, maps, other = tmp_path / "out", tmp_path / "out" / "maps", tmp_path / "other"
    n, trials = 10, 30
    rng = random.Random(20240607)
    mid_commit = published = 0
    for trial in range(trials):
        child = _spawn(_LOOP_WRITER, out, maps, other, n, 0.002)
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.35))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        assert child.returncode == -signal.SIGKILL, "the writer died by itself"
        if (other / JOURNAL_NAME).exists():
            mid_commit += 1
            assert pending_commit(out) and pending_commit(maps) and pending_commit(other)
        if trial % 3 == 2 and trial != trials - 1:
            continue  # sometimes let the next writer do the recovery (and maybe be killed doing it)
        with OutputSet(out, maps, other):  # recovery: roll forward or discard, then nothing staged
            pass
        assert not pending_commit(out) and not pending_commit(other)
        published += _assert_one_run(out, maps, other, n)
    assert published >= trials // 3, "the writers hardly ever committed: the test proves little"
    assert mid_commit >= 1, "no kill landed inside a commit: the test proves little"


# ------------------------------------------------------------------ the network cache


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_cache_sweeps_orphan_temp_files_of_dead_processes(tmp_path, monkeypatch):
    from .test_faults import _osm  # the tiny OSM file of the cache tests

    cache = tmp_path / "cache"
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(cache))
    cache.mkdir()
    host = cache_mod._host_tag()
    dead = cache / f".tmp-{_dead_pid()}-deadbeef-{host}"
    live = cache / f".tmp-{os.getpid()}-0123abcd-{host}"
    other_host = cache / f".tmp-{_dead_pid()}-0badf00d-some_other_machine"
    old_live = cache / f".tmp-{os.getpid()}-00aa00aa-{host}"
    for d in (dead, live, other_host, old_live):
        d.mkdir()
        (d / "network-x.npz").write_bytes(b"half an entry")
    legacy_old = cache / ".network-x.npz.abcd1234.tmp"  # an atomic_path leftover of an older version
    legacy_new = cache / ".network-y.npz.zzzz9999.tmp"
    legacy_old.write_bytes(b"x")
    legacy_new.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for p in (legacy_old, old_live, old_live / "network-x.npz"):
        os.utime(p, (two_hours_ago, two_hours_ago))

    from dgcoverage.inputs.network import network_from_file

    network_from_file(_osm(tmp_path / "roads.osm"))  # a cache read and write
    left = sorted(p.name for p in cache.iterdir())
    assert not dead.exists() and not legacy_old.exists() and not old_live.exists()
    assert live.exists() and other_host.exists() and legacy_new.exists()  # may still be being written
    assert len([n for n in left if n.startswith("network-") and n.endswith(".npz")]) == 1
    assert len(left) == 4  # the entry + the three kept; the writer's own staging folder is gone

    (dead).mkdir()
    assert cache_mod.load_cached_network("0" * 64, cache) is None  # a read alone sweeps too
    assert not dead.exists()
