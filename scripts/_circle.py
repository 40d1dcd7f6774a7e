"""Shared argument handling for the per-circle scripts (thin wrappers over dgcoverage.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dgcoverage.cli import _add_run_options, guarded, run_from_args


def main(circle_id: str, description: str) -> int:
    """Parse the common options and run one circle."""
    ap = argparse.ArgumentParser(description=description)
    _add_run_options(ap, circle_choice=False)
    args = ap.parse_args()
    return guarded(run_from_args, args, [circle_id], prog=Path(sys.argv[0]).name)
