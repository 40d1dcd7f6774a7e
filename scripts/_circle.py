"""Shared argument handling for the per-circle scripts (thin wrappers over dgcoverage.cli)."""

from __future__ import annotations

import argparse
import sys

from dgcoverage.cli import _add_run_options, run_from_args
from dgcoverage.errors import DgCoverageError


def main(circle_id: str, description: str) -> int:
    """Parse the common options and run one circle."""
    ap = argparse.ArgumentParser(description=description)
    _add_run_options(ap, circle_choice=False)
    args = ap.parse_args()
    try:
        return run_from_args(args, [circle_id])
    except DgCoverageError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
