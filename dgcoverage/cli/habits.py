"""The habits people expect of a command line: "did you mean", help with examples, a clock during long solves.

Nothing here computes anything: an argument parser that suggests the closest option, subcommand or value when
one is mistyped; one way to show a share (cut, like the pages); a ticker that prints the elapsed time while a
long call runs.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

#: argparse's message for a value outside ``choices`` (quoted choices up to Python 3.12.7, bare ones after).
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<got>[^']*)' \(choose from (?P<choices>.*)\)")
#: Tokens argparse takes as values, not options: negative numbers (``--k -1``).
_NEGATIVE_NUMBER = re.compile(r"^-\d|^-\.\d")


def did_you_mean(word: str, options: Iterable[str], n: int = 1) -> str:
    """Return ``" (did you mean X?)"`` for the closest of ``options`` to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=n, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the description and the examples (epilog) as written; a wider option column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=110)


class HabitParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that suggests the closest option, subcommand or value when one is mistyped.

    ``dgcoverage run --facilites x`` says ``unrecognized option --facilites (did you mean --facilities?)`` with
    the usage of ``run``, before any other complaint (such as a missing ``--circle``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # noqa: D102
        arg_list = list(sys.argv[1:] if args is None else args)
        if self._subparsers is None:  # a leaf parser sees exactly its own arguments
            self._refuse_unknown_options(arg_list)
        return super().parse_known_args(arg_list, namespace)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # noqa: D102
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns

    def _refuse_unknown_options(self, arg_list: Sequence[str]) -> None:
        known = [s for s in self._option_string_actions if s.startswith("--")]
        for token in arg_list:
            if token == "--":
                return
            if not token.startswith("-") or token == "-" or _NEGATIVE_NUMBER.match(token):
                continue
            name = token.split("=", 1)[0]
            if name in self._option_string_actions:
                continue
            if name.startswith("--") and [s for s in known if s.startswith(name)]:
                continue  # an abbreviation: argparse takes it (or says it is ambiguous)
            if not name.startswith("--") and len(name) > 2:
                continue  # e.g. a value like -x1 (argparse decides)
            self.error(f"unrecognized option {name}{did_you_mean(name, known)}")

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` with a suggestion for a mistyped choice, and exit with code 2."""
        m = _INVALID_CHOICE.search(message)
        if m and "did you mean" not in message:
            choices = [c.strip().strip("'\"") for c in m.group("choices").split(",")]
            message += did_you_mean(m.group("got"), choices).replace(" (", " — ").rstrip(")")
        super().error(message)


def share(v: Any, digits: int = 1) -> str:
    """Format a share as the pages do: cut (never rounded up) at ``digits`` decimals: 0.928684 -> ``92.8%``."""
    from ..outputs.report.labels import pct

    return pct(v, digits)


@contextmanager
def ticking(what: str, every_s: float = 10.0, stream: Any = None) -> Iterator[None]:
    """Print ``what ... N s`` every ``every_s`` seconds while the ``with`` block runs (long exact solves).

    The library never prints; this thread of the command line does, so a solve that takes minutes is not silent.
    """
    out = stream if stream is not None else sys.stderr
    done = threading.Event()
    t0 = time.perf_counter()

    def tick() -> None:
        while not done.wait(every_s):
            print(f"  {what} ... {time.perf_counter() - t0:.0f} s", file=out, flush=True)

    thread = threading.Thread(target=tick, name="dgcoverage-ticker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def counts_text(counts: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """``{'file': 28, 'gap_clusters': 0}`` -> ``28 from the file``: the non-zero counts in words, or ``none``."""
    labels = labels or {}
    parts = [f"{v:,} {labels.get(k, k.replace('_', ' '))}" for k, v in counts.items() if v]
    return ", ".join(parts) if parts else "none"
