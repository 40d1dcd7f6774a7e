"""Child processes of the benchmark: run one step in a fresh interpreter, time it, read its peak memory.

Every measured step runs in its own subprocess (:func:`run_step`), so the peak RSS reported (``VmHWM``) is that
step's alone (it includes the interpreter and its imports).  The child imports only the ``benchmarks`` package
(standard library and numpy at module level), never ``dgcoverage`` up front, so a baseline's peak RSS holds
only what that baseline imports.  Also the boot of the ``run --all`` command timed phase by phase.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger("dgcoverage.bench")

_T = TypeVar("_T")

# The repository root: the child puts it on sys.path to import the steps from ``benchmarks.steps``.
_ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter that imports the harness from the ``benchmarks`` package (not ``dgcoverage``) and runs one
# step: argv = the repository root, the exchange folder.
_CHILD_BOOT = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from benchmarks.harness import _child_main\n"
    "_child_main(sys.argv[2])\n"
)


def _peak_rss_mb() -> float:
    """Return the peak resident set size (VmHWM) of this process, MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child_main(xdir: str) -> None:
    """Child side of :func:`run_step`: read the step and its arguments, run it, leave the result."""
    x = Path(xdir)
    step, kwargs, path = pickle.loads((x / "in.pkl").read_bytes())
    sys.path[:] = path  # the parent's, as multiprocessing's spawn does
    from benchmarks.steps import STEPS  # the steps import the harness: only at call time

    try:
        t0 = time.perf_counter()
        out = STEPS[step](**kwargs)
        out["process_s"] = time.perf_counter() - t0
        out.setdefault("peak_rss_mb", _peak_rss_mb())
        msg: tuple[str, Any] = ("ok", out)
    except BaseException as exc:  # report, don't hang the parent
        import traceback

        msg = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    (x / "out.tmp").write_bytes(pickle.dumps(msg))
    os.replace(x / "out.tmp", x / "out.pkl")


def run_step(step: str, timeout_s: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run one step in a fresh interpreter and return its measurements.

    The child imports the ``benchmarks`` package, not ``dgcoverage``, so its peak RSS is the step's own
    (interpreter, numpy and what the step imports).  A child that crashes (e.g. a segfault in a C
    extension) raises instead of hanging.

    Parameters
    ----------
    step
        A key of :data:`STEPS`.
    timeout_s
        Stop the child after this many seconds (``None``: no limit).
    **kwargs
        The step function's arguments (picklable).

    Returns
    -------
    dict
        The step's result with ``peak_rss_mb`` (MiB), ``process_s`` (the step call inside the child) and
        ``wall_s`` (start of the child to its exit).  A step stopped by ``timeout_s`` gives
        ``{"timed_out": True, "timeout_s", "time_s": nan, "peak_rss_mb": nan, "available": False, "error"}``.

    Raises
    ------
    KeyError
        Unknown ``step``.
    RuntimeError
        The step raised, or its process died without a result.
    """
    from benchmarks.steps import STEPS  # the steps import the harness: only at call time

    if step not in STEPS:
        raise KeyError(f"unknown benchmark step {step!r}; one of {', '.join(STEPS)}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"dgcoverage-bench-{step}-") as xdir:
        x = Path(xdir)
        (x / "in.pkl").write_bytes(pickle.dumps((step, kwargs, list(sys.path))))
        proc = subprocess.Popen([sys.executable, "-c", _CHILD_BOOT, str(_ROOT), xdir])
        try:
            left = None if timeout_s is None else max(timeout_s - (time.perf_counter() - t0), 0.0)
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            log.info("  [%s] stopped after %.0f s (time limit)", step, timeout_s)
            return {
                "timed_out": True,
                "timeout_s": timeout_s,
                "time_s": float("nan"),
                "peak_rss_mb": float("nan"),
                "available": False,
                "error": f"did not finish within the {timeout_s:.0f} s time limit",
            }
        finally:
            if proc.poll() is None:  # interrupted: don't leave the child running
                proc.kill()
                proc.wait()
        res = x / "out.pkl"
        if not res.exists():
            raise RuntimeError(f"benchmark step {step!r} died (exit code {proc.returncode})")
        msg = pickle.loads(res.read_bytes())
    if msg[0] == "error":
        raise RuntimeError(f"benchmark step {step!r} failed: {msg[1]}")
    out = msg[1]
    out["wall_s"] = time.perf_counter() - t0
    log.info(
        "  [%s] %.2f s work, %.1f s wall, peak RSS %.0f MiB",
        step,
        out.get("time_s", float("nan")),
        out["wall_s"],
        out["peak_rss_mb"],
    )
    return out


def _best(fn: Callable[[], _T], repeat: int) -> tuple[float, _T]:
    """(min seconds, last result) of ``repeat`` calls."""
    best, res = np.inf, None
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t)
    return best, res


#: The functions `run --all` calls for each phase (module below dgcoverage, name, phase): the command line looks
#: them up at call time, so a timer set on the module attribute sees every call.
CLI_PHASES = (
    ("pipeline.load", "load_study", "load"),
    ("pipeline.facilities", "load_facilities", "facilities"),
    ("pipeline.run", "run_circle", "circles"),
    ("outputs.tables", "write_circle", "tables"),
    ("cli.run", "areas_and_report", "areas_report"),
    ("outputs.maps", "write_maps", "maps"),
)

# A CLI process with a timer around each phase of `run --all` (the same functions the command calls, looked up
# at call time): argv = this boot, the JSON file for the phase times, then the command line's own arguments.
_CLI_BOOT = (
    "import json, sys, time\n"
    "t0 = time.perf_counter()\n"
    "import importlib\n"
    "from dgcoverage.cli.main import main\n"
    "phases = {}\n"
    "def timed(mod, name, key):\n"
    "    mod = importlib.import_module('dgcoverage.' + mod)\n"
    "    f = getattr(mod, name)\n"
    "    def wrapper(*a, **k):\n"
    "        t = time.perf_counter()\n"
    "        try:\n"
    "            return f(*a, **k)\n"
    "        finally:\n"
    "            phases[key] = phases.get(key, 0.0) + time.perf_counter() - t\n"
    "    setattr(mod, name, wrapper)\n"
    f"for mod, name, key in {CLI_PHASES!r}:\n"
    "    timed(mod, name, key)\n"
    "t1 = time.perf_counter()\n"
    "rc = main(sys.argv[2:])\n"
    "t2 = time.perf_counter()\n"
    "with open(sys.argv[1], 'w') as fh:\n"
    "    json.dump({'rc': rc, 'import_s': t1 - t0, 'main_s': t2 - t1, 'phases': phases}, fh)\n"
    "sys.exit(rc)\n"
)

#: Phases of ``run --all`` timed by the full step, in the order they run.
FULL_PHASES = ("load", "facilities", "circles", "tables", "areas_report", "maps")
