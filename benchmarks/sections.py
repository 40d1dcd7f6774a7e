"""Sections of docs/benchmarks.md that run and render on their own (``scripts/benchmark.py --only NAME``).

A section is a name, a ``run(work, args) -> dict`` (measures, returns JSON-able results) and a ``render(dict) -> str``
(its Markdown, starting with its ``##`` heading). In the page it sits between two markers::

    <!-- section:NAME -->
    ...
    <!-- /section:NAME -->

so ``--only NAME`` rewrites only that block (appending it when the page has none) and leaves the rest of the file
untouched, and the full benchmark keeps a section's block from the old page when it did not measure the section.

To add a section: write a module that calls :func:`register` at import time and add the module to
:data:`MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Modules that register sections (imported by :func:`sections`).
MODULES = ("benchmarks.province", "benchmarks.decisions")


@dataclass(frozen=True)
class Section:
    """One separately runnable section of the benchmark page."""

    name: str
    run: Callable[[Path, argparse.Namespace], dict[str, Any]]
    render: Callable[[dict[str, Any]], str]
    help: str = ""
    #: Extra command-line options of the section: ``add_options(parser)`` (optional).
    add_options: Callable[[argparse.ArgumentParser], None] | None = None


_REGISTRY: dict[str, Section] = {}


def register(
    name: str,
    run: Callable[[Path, argparse.Namespace], dict[str, Any]],
    render: Callable[[dict[str, Any]], str],
    help: str = "",
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> Section:
    """Register a section (a second registration of the same name replaces the first)."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"section name {name!r}: use lower-case letters, digits, '_' or '-'")
    s = Section(name, run, render, help, add_options)
    _REGISTRY[name] = s
    return s


def sections() -> dict[str, Section]:
    """Return every registered section by name (importing :data:`MODULES` first)."""
    for m in MODULES:
        importlib.import_module(m)
    return dict(_REGISTRY)


def markers(name: str) -> tuple[str, str]:
    """Return the opening and closing marker lines of a section."""
    return f"<!-- section:{name} -->", f"<!-- /section:{name} -->"


def block(name: str, body: str) -> str:
    """Return a section's body wrapped in its markers."""
    start, end = markers(name)
    return f"{start}\n{body.strip()}\n{end}\n"


def find(text: str, name: str) -> str | None:
    """Return the block of section ``name`` in ``text`` (markers included), or ``None``."""
    start, end = markers(name)
    m = re.search(re.escape(start) + r".*?" + re.escape(end) + r"\n?", text, flags=re.S)
    return m.group(0) if m else None


def replace(text: str, name: str, body: str, before: str | None = None) -> str:
    """Return ``text`` with section ``name`` set to ``body``; everything outside its markers is left as it was.

    A page without the section gets it inserted before the line ``before`` (e.g. ``## Method notes``) when that
    line is there, else appended at the end.
    """
    new = block(name, body)
    old = find(text, name)
    if old is not None:
        return text.replace(old, new if old.endswith("\n") else new.rstrip("\n"), 1)
    if before and f"\n{before}\n" in text:
        i = text.index(f"\n{before}\n") + 1
        return text[:i] + new + "\n" + text[i:]
    return text.rstrip("\n") + "\n\n" + new


def carry_over(old: str, new: str, measured: set[str] | None = None) -> str:
    """Return ``new`` with the blocks of ``old``'s sections that ``new`` did not measure (full-page rewrites).

    For each section in ``old``, unless its name is in ``measured``, its block replaces the one in ``new`` (or is
    inserted before ``## Method notes``).
    """
    measured = measured or set()
    for m in re.finditer(r"<!-- section:([a-z][a-z0-9_-]*) -->", old):
        name = m.group(1)
        blk = find(old, name)
        if name in measured or blk is None:
            continue
        start, end = markers(name)
        body = blk.strip()[len(start) : -len(end)]
        new = replace(new, name, body, before="## Method notes")
    return new
