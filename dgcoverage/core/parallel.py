"""Run independent jobs of one command on several cores: forked worker processes, results in order.

The geometry and report steps of ``dgcoverage run`` (each circle's service and gap areas, the report) are
independent once the circles are measured, and CPU-bound in code that holds the GIL, so threads do not help.
:func:`run_jobs` forks workers that inherit the parent's memory (the study, the results) instead of pickling
it; only a job's index goes to a worker and only its return value comes back.

- Results come back in the order of the jobs, so the outputs are byte-identical to a sequential run.
- Warnings raised in a worker are raised again in the parent (same text and category), so the command line
  counts and prints them as before.
- A worker dies with its parent (Linux ``PR_SET_PDEATHSIG``): a run killed mid-way never leaves a worker
  writing into its staging folder.
- Where ``fork`` is not available (Windows; macOS, where forking a process with threads is unsafe) the
  jobs run one after another.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

_JOBS: Sequence[Callable[[], Any]] | None = None


def available_workers() -> int:
    """Return the number of CPUs this process may use (1 where jobs cannot be forked)."""
    if not fork_safe():
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def fork_safe() -> bool:
    """Tell whether worker processes can be forked safely here (Linux)."""
    return sys.platform.startswith("linux")


def _die_with_parent(parent: int) -> None:
    """Worker initialiser: ask the kernel to kill this worker when the parent dies (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _run_one(i: int) -> tuple[Any, list[tuple[str, type[Warning]]]]:
    assert _JOBS is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _JOBS[i]()
    return value, [(str(w.message), w.category) for w in caught]


def run_jobs(jobs: Sequence[Callable[[], Any]], workers: int = 1) -> list[Any]:
    """Call every job and return their results in order, on up to ``workers`` forked processes.

    Parameters
    ----------
    jobs
        Functions without arguments.  In workers they see the parent's memory as it was when the pool
        started; what they return must be picklable, and they must not rely on changing the parent's state.
    workers
        Processes to use; ``1`` (or a platform without a safe ``fork``) runs the jobs here, in order.

    Returns
    -------
    list
        ``[job() for job in jobs]``.

    Raises
    ------
    Exception
        The first failing job's exception (after the other jobs finished).
    """
    global _JOBS
    workers = min(int(workers), len(jobs))
    if workers <= 1 or not fork_safe():
        return [job() for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _JOBS = jobs
    out: list[Any] = []
    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns about forking a process that has threads (tqdm's monitor, BLAS): workers
            # run only our own numpy/shapely code and take no lock another thread may hold
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            ) as pool:
                futures = [pool.submit(_run_one, i) for i in range(len(jobs))]
                results = [f.result() for f in futures]
    finally:
        _JOBS = None
    for value, caught in results:
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        out.append(value)
    return out


__all__ = ["available_workers", "fork_safe", "run_jobs"]
