"""Exceptions raised by dgcoverage.

Every error subclasses :class:`DgCoverageError`, and most also subclass the
built-in exception a caller would naturally catch (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` keeps working.  Messages name
the file, the row or column at fault and how to fix it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any


class DgCoverageError(Exception):
    """Base class of every error raised by dgcoverage."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as class, message and attributes, whatever the subclass's ``__init__`` takes.

        Errors cross process boundaries (:mod:`dgcoverage.core.parallel`, users' multiprocessing); the default
        reduction calls ``cls(*args)``, which fails for subclasses that build their message from parts.
        """
        return (_rebuild_error, (type(self), str(self), dict(self.__dict__)))


def _rebuild_error(cls: type[DgCoverageError], message: str, state: dict[str, Any]) -> DgCoverageError:
    base = OSError if issubclass(cls, OSError) else Exception  # OSError has its own instance layout
    err = base.__new__(cls)
    base.__init__(err, message)
    err.__dict__.update(state)
    return err


class InputFileError(DgCoverageError, ValueError):
    """An input file is missing, empty, of the wrong type or unreadable."""

    def __init__(self, path: str | Path | None, problem: str, fix: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        msg = f"{where}{problem}"
        if fix:
            msg += f" Fix: {fix}"
        super().__init__(msg)


class InputNotFoundError(InputFileError, FileNotFoundError):
    """An input file does not exist."""

    def __init__(self, path: str | Path, what: str = "input file") -> None:
        super().__init__(path, f"{what} not found.", "check the path, or omit the option to use the embedded default.")


class ColumnError(InputFileError):
    """A table lacks a required column or a column holds unusable values."""


class CRSError(DgCoverageError, ValueError):
    """A coordinate reference system is missing, unknown or unsupported."""


class ConfigError(DgCoverageError, ValueError):
    """A circle configuration is invalid (bad minutes, speed, unknown key)."""


class EmptyInputError(DgCoverageError, ValueError):
    """An input that must hold something is empty (no facilities, no population)."""


class NetworkError(DgCoverageError, ValueError):
    """A road network cannot be built or is unusable."""


class DataMismatchError(DgCoverageError, ValueError):
    """Two inputs do not fit together (villages name towns the boundaries lack, ...)."""


class OutputDirError(DgCoverageError, OSError):
    """An output folder is a file, cannot be created or is not writable."""

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem} Fix: {fix}")

    def __str__(self) -> str:
        """Return the one-line message (OSError would prepend "[Errno ...]" if errno were set)."""
        return self.args[0]


class OutputLockedError(DgCoverageError, RuntimeError):
    """Another live dgcoverage run holds the lock of an output folder."""

    def __init__(
        self,
        root: str | Path,
        pid: int | None = None,
        host: str | None = None,
        started: str | None = None,
        hint: str = "--out",
    ) -> None:
        self.root = Path(root)
        self.pid = pid
        self.host = host
        self.started = started
        who = f"pid {pid}" if pid is not None else "pid unknown"
        if host and host != socket.gethostname():
            who += f" on {host}"
        if started:
            who += f", started {started}"
        super().__init__(
            f"another dgcoverage run ({who}) is writing to {self.root}; wait for it to finish or choose another {hint}"
        )


class OutputCommitError(DgCoverageError, OSError):
    """A commit (or the roll-forward of an interrupted one) could not be completed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        """Return the one-line message."""
        return self.args[0]


class OutputSetUsageError(DgCoverageError, RuntimeError):
    """:class:`OutputSet` used wrongly (stage outside the ``with`` block, a path outside every root)."""


class DgCoverageWarning(UserWarning):
    """A repair or check about the inputs or results: counted in ``summary.json`` and shown by the command line."""
