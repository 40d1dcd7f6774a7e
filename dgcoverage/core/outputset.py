"""One run's outputs as one consistent set: lock, stage, then commit through a journal.

A run that writes tables into ``--out`` and maps into a maps folder must never
leave tables of one run beside maps of another, whether two runs write into
the same folders at once or a run is killed at any moment.  :class:`OutputSet`
gives that guarantee:

1. **Lock.**  On entering, each output root is locked exclusively and without
   waiting (``fcntl.flock`` on ``<root>/.dgcoverage.lock``, which records the
   holder's pid, host and start time).  A second run on the same root gets
   :class:`OutputLockedError` at once.  The operating system drops the lock
   when its process dies, so a killed run never blocks the next one.  The
   lock file exists only while a run holds it: the run deletes it (still
   locked) when it ends, so one found later is the harmless trace of a run
   that was killed (it says so), taken over by the next run.
2. **Recover.**  With the locks held, a commit that an earlier run left half
   done is rolled forward (see 4) and staging folders of dead runs are removed.
3. **Stage.**  The run writes every file under :meth:`OutputSet.stage` -- a
   hidden folder ``<root>/.dgcoverage-staging-<run id>/`` on the same file
   system -- with the layout it will have once published.  Nothing in the
   published tree changes while the run computes.
4. **Commit.**  :meth:`OutputSet.commit` writes a journal
   ``<first root>/.dgcoverage-commit.json`` listing every move (staged file to
   final path) and every deletion (see :meth:`OutputSet.remove`), atomically and
   completely, before touching anything; then renames each file into place,
   applies the deletions, deletes the journal and finally the staging folders.
   A run killed before the journal exists published nothing; one killed after
   it is finished by the next run to lock the folder (moves whose source is gone
   are done already, so rolling forward twice is harmless).  Every other root
   gets a small pointer ``.dgcoverage-commit-pointer.json`` to the journal for
   the duration, so a run or a reader looking at that root alone also sees the
   pending commit (:func:`pending_commit`).

If the ``with`` block raises, or ends without :meth:`~OutputSet.commit`, the
staging folders are removed and nothing is published.

Roots that are equal or nested (``out`` and ``out/maps``) are staged once, in
the outermost one; each distinct root is still locked.

Example
-------
>>> with OutputSet(out_dir, maps_dir) as outs:                   # doctest: +SKIP
...     write_tables(results, outs.stage(out_dir))
...     write_maps(study, results, areas, outs.stage(maps_dir))
...     outs.commit()

On Windows ``msvcrt.locking`` replaces ``flock``.  Durability against power loss
is not a goal (only the journal is fsynced); durability against a killed
process is.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import OutputCommitError, OutputDirError, OutputLockedError, OutputSetUsageError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "POINTER_NAME",
    "STAGING_PREFIX",
    "OutputCommitError",
    "OutputDirError",
    "OutputLockedError",
    "OutputSet",
    "OutputSetUsageError",
    "check_output_dir",
    "pending_commit",
    "pid_alive",
]

#: Lock file in every root while a run holds it (the lock is the ``flock`` on it, not its existence; one left by a
#: killed run blocks nobody).
LOCK_NAME = ".dgcoverage.lock"
#: What a lock file says about itself, for whoever finds one.
LOCK_NOTE = (
    "held by the dgcoverage run with this pid while it writes this folder; deleted when the run ends. If that "
    "process is gone, the run was killed: this file is harmless (the next run takes it over) and may be deleted."
)
#: The commit journal, in the first (sorted) outermost root while a commit is in progress.
JOURNAL_NAME = ".dgcoverage-commit.json"
#: Pointer to the journal, in every other outermost root while a commit is in progress.
POINTER_NAME = ".dgcoverage-commit-pointer.json"
#: Prefix of the hidden staging folders (``<root>/.dgcoverage-staging-<run id>/``).
STAGING_PREFIX = ".dgcoverage-staging-"
#: Prefix of the write probe of :func:`check_output_dir` (followed by the pid).
PROBE_PREFIX = ".dgcoverage-probe-"
_JOURNAL_VERSION = 1
#: Temporary files written by :func:`dgcoverage.core.io.atomic_path` (``tempfile.mkstemp``): never published.
_MKSTEMP_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
#: Temporary files of this module's own atomic JSON writes.
_OWN_TMP = re.compile(r"^\.dgcoverage-commit(-pointer)?\.json\.\d+\.[0-9a-f]+\.tmp$")
#: Windows: the byte locked by ``msvcrt.locking`` (far past the holder information, which stays readable).
_WIN_LOCK_OFFSET = 1 << 30
#: Seconds to sleep between the moves of a commit.  Tests only (to kill a run mid-commit); keep 0.
_commit_pause_s = 0.0

_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = socket.gethostname()


# ------------------------------------------------------------------ helpers


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this host) is still running; zombies count as dead.

    Parameters
    ----------
    pid
        Process id.

    Returns
    -------
    bool
        ``False`` when no such process exists (or it has exited and awaits
        reaping); ``True`` when it exists, including processes of other users.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would terminate the process on Windows
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # Linux: a killed, not yet reaped child still answers kill(0)
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_json_atomic(obj: Any, path: Path) -> None:
    """Write JSON to ``path`` through a temporary file, fsynced, then renamed (all or nothing)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _abs(path: str | Path) -> Path:
    """Absolute, symlink-resolved path (works for paths that do not exist yet)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def check_output_dir(path: str | Path, what: str = "--out") -> Path:
    """Make sure ``path`` is a folder this process can write into; create it if missing.

    Call it before any computation so a bad ``--out`` fails in a second, not
    after an hour of routing.

    Parameters
    ----------
    path
        The output folder.
    what
        How the user named it (the option), used in the message.

    Returns
    -------
    pathlib.Path
        ``path`` as a :class:`~pathlib.Path` (the folder now exists).

    Raises
    ------
    OutputDirError
        The path is an existing file, cannot be created (a parent is a file,
        permission denied, read-only file system) or is not writable; the
        one-line message names the path, the problem and the fix.
    """
    p = Path(path)
    fix_other = f"choose another {what} folder"
    if p.exists() and not p.is_dir():
        raise OutputDirError(p, f"{what} exists but is a file, not a folder.", f"{fix_other}, or move the file away.")
    if not p.exists():
        blocker = next((a for a in p.absolute().parents if a.exists() and not a.is_dir()), None)
        if blocker is not None:
            raise OutputDirError(
                p,
                f"{what} folder cannot be created: {blocker} is a file, not a folder.",
                f"{fix_other}, or move {blocker} away.",
            )
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputDirError(
                p,
                f"{what} folder cannot be created ({e.strerror or e}).",
                f"{fix_other}, or create it and give yourself write permission.",
            ) from e
    _sweep_probes(p)
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{PROBE_PREFIX}{os.getpid()}-", suffix=".tmp", dir=p)
    except OSError as e:
        raise OutputDirError(
            p,
            f"{what} folder is not writable ({e.strerror or e}).",
            f"{fix_other}, or give yourself write permission on it.",
        ) from e
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return p


def _sweep_probes(folder: Path) -> None:
    """Remove write probes left by runs killed inside :func:`check_output_dir` (their pid is dead)."""
    for f in folder.glob(f"{PROBE_PREFIX}*.tmp"):
        m = re.match(rf"^{re.escape(PROBE_PREFIX)}(\d+)-", f.name)
        if m is None or not pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                f.unlink()


def pending_commit(root: str | Path) -> bool:
    """Whether a commit touching ``root`` is in progress (or was interrupted and not yet rolled forward).

    A reader that sees ``True`` should wait (and retry) rather than read a
    half-published set.  ``root`` and its parent folders are checked, since a
    commit of an outer root can touch an inner one.

    Parameters
    ----------
    root
        An output folder (``--out`` or the maps folder).

    Returns
    -------
    bool
    """
    r = _abs(root)
    for d in (r, *r.parents):
        if (d / JOURNAL_NAME).exists():
            return True
        ptr = _read_json(d / POINTER_NAME)
        if ptr and _pointer_is_live(ptr):
            return True
    return False


def _pointer_is_live(ptr: dict) -> bool:
    journal = ptr.get("journal")
    if not isinstance(journal, str):
        return False
    j = _read_json(Path(journal))
    return bool(j) and j.get("run_id") == ptr.get("run_id")


# ------------------------------------------------------------------ locks


class _Lock:
    """An exclusive, non-blocking lock on ``<root>/.dgcoverage.lock``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, run_id: str, started: str, hint: str) -> None:
        for _ in range(100):  # a holder may delete the file between our open and our lock: lock the new one then
            fd = self._open(hint)
            try:
                if not self._try_lock(fd):
                    raise self._locked_error(hint)
                if self._still_the_file(fd):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        else:  # pragma: no cover - a hundred runs ending in a row exactly between our open and lock
            raise self._locked_error(hint)
        try:
            info = json.dumps(
                {"pid": os.getpid(), "host": _HOST, "started": started, "run_id": run_id, "note": LOCK_NOTE}
            )
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, info.encode() + b"\n")
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def _open(self, hint: str) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise OutputDirError(
                self.root,
                f"cannot create the lock file {LOCK_NAME} ({e.strerror or e}).",
                f"choose another {hint}, or give yourself write permission on it.",
            ) from e

    def _still_the_file(self, fd: int) -> bool:
        """Whether the locked ``fd`` is still the file at :attr:`path` (not one its holder deleted meanwhile)."""
        if fcntl is None:  # pragma: no cover - Windows: the file is never deleted while open
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        own = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)

    @staticmethod
    def _try_lock(fd: int) -> bool:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif msvcrt is not None:  # pragma: no cover - Windows
                os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK) or isinstance(
                e, BlockingIOError | PermissionError
            ):
                return False
            raise
        return True

    def _locked_error(self, hint: str) -> OutputLockedError:
        info: dict = {}
        for _ in range(20):  # the holder may be between truncating and writing its details
            info = _read_json(self.path) or {}
            if info.get("pid"):
                break
            time.sleep(0.01)
        pid = info.get("pid")
        return OutputLockedError(
            self.root, pid if isinstance(pid, int) else None, info.get("host"), info.get("started"), hint
        )

    def release(self) -> None:
        """Delete the lock file (while still holding it, so no run can take the old one after) and unlock."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        if fcntl is not None and self._still_the_file(fd):  # Windows cannot delete an open file: it stays
            with contextlib.suppress(OSError):
                self.path.unlink()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            elif msvcrt is not None:  # pragma: no cover - Windows
                os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        finally:
            os.close(fd)


# ------------------------------------------------------------------ journal


def _roll_forward(journal_path: Path, journal: dict) -> None:
    """Finish the commit described by ``journal`` (idempotent), then delete it, its pointers and staging."""
    for src, dst in journal.get("moves", []):
        s, d = Path(src), Path(dst)
        if not s.exists():  # done already (or never staged)
            continue
        d.parent.mkdir(parents=True, exist_ok=True)
        os.replace(s, d)
    roots = [Path(r) for r in journal.get("tops", [])]
    for f in journal.get("delete", []):
        p = Path(f)
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        _prune_empty_parents(p.parent, roots)
    _fsync_dir(journal_path.parent)
    journal_path.unlink(missing_ok=True)
    _fsync_dir(journal_path.parent)
    for ptr in journal.get("pointers", []):
        with contextlib.suppress(OSError):
            Path(ptr).unlink()
    for st in journal.get("staging", []):
        _rmtree(Path(st))


def _is_ours(f: Path, under: Path) -> bool:
    """Tell whether ``f`` is this module's bookkeeping (lock, journal, staging), never removed by ``remove``."""
    rel = f.relative_to(under).parts
    return f.name in (LOCK_NAME, JOURNAL_NAME, POINTER_NAME) or any(x.startswith(STAGING_PREFIX) for x in rel)


def _prune_empty_parents(d: Path, roots: list[Path]) -> None:
    """Remove ``d`` and its parents while empty, never a root or anything outside the roots."""
    while any(_inside(d, r) and d != r for r in roots):
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


# ------------------------------------------------------------------ the output set


class OutputSet:
    """Lock output folders, stage a run's files and publish them all at once.

    Parameters
    ----------
    *roots
        Output folders (``--out``, the maps folder, ...).  Created if missing.
        Equal roots are merged; a root inside another is staged inside the outer
        one (but still locked on its own).
    hint
        How the user picks another folder, for the lock message
        (``"... or choose another --out"``).

    Raises
    ------
    OutputLockedError
        (on entering) Another live run holds a root, or holds a root that an
        interrupted commit found here still has to finish.
    OutputDirError
        (on entering) A root cannot be created or locked.
    OutputCommitError
        (on entering or in :meth:`commit`) Renaming files failed (disk full,
        permissions).  The journal stays, so the next run finishes the commit.

    Notes
    -----
    The locks are ``flock`` locks on open files: a process forked while the set
    is open (e.g. a ``fork`` multiprocessing pool) shares them until it exits.
    """

    def __init__(self, *roots: str | Path, hint: str = "--out") -> None:
        if not roots:
            raise OutputSetUsageError("OutputSet needs at least one output folder")
        self.hint = hint
        self.roots: list[Path] = sorted({_abs(r) for r in roots}, key=str)
        #: Outermost roots: where staging folders, the journal and pointers live.
        self.tops: list[Path] = [r for r in self.roots if not any(o != r and _inside(r, o) for o in self.roots)]
        self.started = time.strftime("%Y-%m-%d %H:%M:%S")
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        self._locks: list[_Lock] = []
        self._staging: dict[Path, Path] = {}
        self._deletions: list[Path] = []
        self._state = "new"  # new -> open -> committing -> done

    # -------------------------------------------------------------- context

    def __enter__(self) -> OutputSet:
        """Lock the roots, finish an interrupted commit, remove dead runs' staging; open the set."""
        if self._state != "new":
            raise OutputSetUsageError("an OutputSet can be entered only once; make a new one per run")
        try:
            for r in self.roots:
                try:
                    r.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise OutputDirError(
                        r,
                        f"output folder cannot be created ({e.strerror or e}).",
                        f"choose another {self.hint}, or fix its permissions.",
                    ) from e
            for r in self.roots:  # sorted: two runs wanting the same roots try them in the same order
                lock = _Lock(r)
                lock.acquire(self.run_id, self.started, self.hint)
                self._locks.append(lock)
            self._recover()
            for t in self.tops:
                st = t / f"{STAGING_PREFIX}{self.run_id}"
                st.mkdir()
                self._staging[t] = st
        except BaseException:
            self._cleanup_staging()
            self._release()
            raise
        self._state = "open"
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Finish a started commit, else drop the staging; release the locks."""
        try:
            if self._state == "committing":  # commit() was interrupted: finish it if its journal is complete
                journal = self._journal_path()
                j = _read_json(journal)
                if j and j.get("run_id") == self.run_id:
                    with contextlib.suppress(OSError):
                        _roll_forward(journal, j)
                if not journal.exists():  # done now, or never reached the commit point (then publish nothing)
                    self._state = "done"
                    for t in self.tops[1:]:
                        ptr = _read_json(t / POINTER_NAME)
                        if ptr is not None and ptr.get("run_id") == self.run_id:
                            with contextlib.suppress(OSError):
                                (t / POINTER_NAME).unlink()
            if self._state != "committing":  # keep the staging a pending journal still needs
                self._cleanup_staging()
        finally:
            self._release()
            if self._state == "open":
                self._state = "done"

    # -------------------------------------------------------------- staging

    def stage(self, root: str | Path) -> Path:
        """Return the staging folder standing for ``root`` (created), to write this run's files into.

        Parameters
        ----------
        root
            One of the roots given to the set, or a folder inside one.

        Returns
        -------
        pathlib.Path
            A hidden folder inside the outermost root containing ``root``;
            ``stage(root) / rel`` is published as ``root / rel`` by
            :meth:`commit`.
        """
        self._require_open("stage")
        r = _abs(root)
        top = self._top_of(r)
        d = self._staging[top] / r.relative_to(top)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def remove(self, path: str | Path) -> None:
        """Schedule a published file (or every file under a folder) for deletion at :meth:`commit`.

        Use it for stale outputs, e.g. a circle's old ``candidates.*`` once the
        circle is re-measured.  Files this run stages at the same place are
        published, not deleted.  Folders left empty are removed.

        Parameters
        ----------
        path
            A path inside one of the roots (it need not exist).
        """
        self._require_open("remove")
        p = _abs(path)
        top = self._top_of(p)
        if p == top:
            raise OutputSetUsageError(f"refusing to schedule the whole output folder {p} for deletion")
        self._deletions.append(p)

    def staged_files(self) -> dict[Path, Path]:
        """List what :meth:`commit` would publish now: ``{staged file: final path}``."""
        self._require_open("staged_files")
        moves: dict[Path, Path] = {}
        for top, st in self._staging.items():
            for dirpath, _dirnames, filenames in os.walk(st):
                for name in sorted(filenames):
                    if _MKSTEMP_TMP.match(name):  # an interrupted atomic write inside the block
                        continue
                    src = Path(dirpath) / name
                    moves[src] = top / src.relative_to(st)
        return moves

    # -------------------------------------------------------------- commit

    def commit(self) -> list[Path]:
        """Publish every staged file and apply the scheduled deletions, all or nothing.

        Returns
        -------
        list of pathlib.Path
            The published files (final paths).

        Raises
        ------
        OutputCommitError
            A rename failed.  The journal stays and the next run (or the end of
            the ``with`` block) finishes the commit.
        """
        self._require_open("commit")
        moves = self.staged_files()
        published = set(moves.values())
        deletions: list[str] = []
        for p in self._deletions:
            if p.is_dir():
                files = sorted(f for f in p.rglob("*") if (f.is_file() or f.is_symlink()) and not _is_ours(f, p))
            elif p.exists() or p.is_symlink():
                files = [p]
            else:
                files = []
            deletions += [str(f) for f in files if f not in published and str(f) not in deletions]
        first, others = self.tops[0], self.tops[1:]
        journal_path = self._journal_path()
        pointers = [t / POINTER_NAME for t in others]
        journal = {
            "version": _JOURNAL_VERSION,
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": _HOST,
            "started": self.started,
            "roots": [str(r) for r in self.roots],
            "tops": [str(t) for t in self.tops],
            "moves": [[str(s), str(d)] for s, d in moves.items()],
            "delete": deletions,
            "pointers": [str(p) for p in pointers],
            "staging": [str(s) for s in self._staging.values()],
        }
        self._state = "committing"  # from here on, __exit__ looks for the journal before discarding anything
        try:
            for p in pointers:  # pointers first: whoever sees a journal's staging folder sees its pointer
                _write_json_atomic({"run_id": self.run_id, "journal": str(journal_path)}, p)
            _write_json_atomic(journal, journal_path)  # the commit point
        except OSError as e:
            self._state = "open"
            for p in pointers:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise OutputCommitError(
                f"{first}: cannot write the commit journal ({e.strerror or e}); "
                f"nothing was published. Fix: free disk space or fix permissions, "
                f"then run again."
            ) from e
        try:
            if _commit_pause_s:
                for s, d in moves.items():
                    d.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(s, d)
                    time.sleep(_commit_pause_s)
            _roll_forward(journal_path, journal)
        except OSError as e:
            raise OutputCommitError(
                f"{first}: publishing the outputs failed half way ({e}). "
                f"Fix: free disk space or fix permissions and run again; the next run "
                f"finishes this commit from {journal_path}."
            ) from e
        self._state = "done"
        self._staging.clear()
        return list(moves.values())

    # -------------------------------------------------------------- recovery

    def _recover(self) -> None:
        """Roll forward interrupted commits touching our roots; remove dead runs' staging folders."""
        for r in self.roots:
            found: list[Path] = []
            if (r / JOURNAL_NAME).exists():
                found.append(r / JOURNAL_NAME)
            ptr_path = r / POINTER_NAME
            ptr = _read_json(ptr_path)
            if ptr is not None:
                if _pointer_is_live(ptr):
                    found.append(Path(ptr["journal"]))
                else:  # its commit finished (or never started): a leftover
                    with contextlib.suppress(OSError):
                        ptr_path.unlink()
            for journal_path in found:
                self._recover_journal(journal_path)
            for child in r.iterdir() if r.is_dir() else ():
                name = child.name
                if name.startswith(STAGING_PREFIX) and child.is_dir():
                    if name != f"{STAGING_PREFIX}{self.run_id}":
                        _rmtree(child)  # we hold this root's lock: whoever staged here is gone
                elif _OWN_TMP.match(name):
                    with contextlib.suppress(OSError):
                        child.unlink()

    def _recover_journal(self, journal_path: Path) -> None:
        journal = _read_json(journal_path)
        if journal is None:  # finished meanwhile
            return
        if not journal:  # unreadable: written atomically, so this is not ours to guess about
            raise OutputCommitError(
                f"{journal_path}: an interrupted dgcoverage commit journal cannot be read. "
                f"Fix: delete it and the {STAGING_PREFIX}* folders beside it, then run again "
                f"(the outputs may mix two runs: re-run every circle)."
            )
        held = {lk.root for lk in self._locks}
        extra: list[_Lock] = []
        try:
            for r in sorted((Path(x) for x in journal.get("roots", [])), key=str):
                if r in held or not r.is_dir():
                    continue
                lock = _Lock(r)
                lock.acquire(self.run_id, self.started, self.hint)  # OutputLockedError if a live run holds it
                extra.append(lock)
            try:
                _roll_forward(journal_path, journal)
            except OSError as e:
                raise OutputCommitError(
                    f"{journal_path}: an interrupted dgcoverage commit could not be finished "
                    f"({e}). Fix: free disk space or fix permissions and run again."
                ) from e
        finally:
            for lock in extra:
                lock.release()

    # -------------------------------------------------------------- internals

    def _journal_path(self) -> Path:
        return self.tops[0] / JOURNAL_NAME

    def _top_of(self, p: Path) -> Path:
        for t in self.tops:
            if _inside(p, t):
                return t
        raise OutputSetUsageError(
            f"{p} is not inside any output folder of this set ({', '.join(str(t) for t in self.tops)})"
        )

    def _require_open(self, what: str) -> None:
        if self._state != "open":
            raise OutputSetUsageError(f"OutputSet.{what}() needs an open set (inside 'with', before commit())")

    def _cleanup_staging(self) -> None:
        for st in self._staging.values():
            _rmtree(st)
        self._staging.clear()

    def _release(self) -> None:
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()
