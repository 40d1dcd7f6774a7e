"""Command line: ``dgcoverage build-demo | run | site``.

Only parses arguments and calls the library.  Errors of the
:class:`~dgcoverage.errors.DgCoverageError` family are printed without a
traceback (exit code 2); ``--debug`` shows it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .common import guarded, preflight
from .options import build_parser, config_in_argv
from .run import run_from_args
from .site import site_from_args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgcoverage`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(config_in_argv(argv)).parse_args(argv)
    if args.command in ("run", "site", "scenario", "batch") and guarded(preflight, args):
        return 2  # refused before anything is loaded (files, options, circles)
    if args.command == "build-demo":
        return guarded(_build_demo, args)
    if args.command == "site":
        return guarded(site_from_args, args)
    if args.command == "scenario":
        from .scenario import scenario_from_args

        return guarded(scenario_from_args, args)
    if args.command == "batch":
        from .batch import batch_from_args

        return guarded(batch_from_args, args)
    return guarded(run_from_args, args)


def _build_demo(args: argparse.Namespace) -> int:
    from ..demo.synthetic import build_demo

    t0 = time.perf_counter()
    codes = [c.strip() for c in args.towns.split(",")] if args.towns else None
    m = build_demo(args.out, scale=args.scale, seed=args.seed, town_codes=codes)
    net = m["network"]
    print(
        f"built embedded default in {args.out} ({time.perf_counter() - t0:.1f} s) — SYNTHETIC roads, people and "
        "facilities"
    )
    fac = m["facilities"]
    fac_text = ", ".join(f"{k} {v:,}" for k, v in fac.items()) if isinstance(fac, dict) else str(fac)
    print(
        f"  network {net['nodes']:,} nodes / {net['directed_edges']:,} directed edges; "
        f"{m['population']['cells_populated']:,} populated cells, {m['population']['total']:,} people; "
        f"{m['villages']['placed']}/{m['villages']['listed']} villages placed; facilities: {fac_text}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
