"""Shared argument handling for the per-circle scripts (thin wrappers over the command line)."""

from __future__ import annotations

import sys
from pathlib import Path

from dgcoverage.cli.common import guarded
from dgcoverage.cli.habits import HabitParser
from dgcoverage.cli.options import add_run_options
from dgcoverage.cli.run import run_from_args


def main(circle_id: str, description: str) -> int:
    """Parse the common options and run one circle (the options and outputs of ``dgcoverage run``)."""
    name = Path(sys.argv[0]).name
    ap = HabitParser(
        description=description,
        epilog=f"examples:\n  .venv/bin/python scripts/{name}\n  .venv/bin/python scripts/{name} --out /tmp/o "
        "--maps-dir /tmp/o/maps\n\nThe same as `dgcoverage run --circle " + circle_id + "`.",
    )
    add_run_options(ap, circle_choice=False)
    args = ap.parse_args()
    return guarded(run_from_args, args, [circle_id], prog=name)
