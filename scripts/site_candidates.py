#!/usr/bin/env python
"""Rank candidate sites for new facilities of one circle (MCLP / LSCP): thin wrapper over `dgcoverage site`.

Example: .venv/bin/python scripts/site_candidates.py --circle fitness_15 --k 20 --exact
Default inputs are the embedded dataset (SYNTHETIC roads/people/facilities).
"""

import sys
from pathlib import Path

from dgcoverage.cli.common import guarded
from dgcoverage.cli.habits import HabitParser
from dgcoverage.cli.options import SITE_EPILOG, add_site_options, circle_ids_of
from dgcoverage.cli.site import site_from_args


def main() -> int:
    where, ids = circle_ids_of(None)
    ap = HabitParser(
        description=__doc__.splitlines()[0],
        epilog=SITE_EPILOG.format(where=where, ids=", ".join(ids)).replace(
            "dgcoverage site", ".venv/bin/python scripts/site_candidates.py"
        ),
    )
    ap.add_argument("--circle", required=True, metavar="ID", help="circle id of the config in use (see below)")
    add_site_options(ap)
    args = ap.parse_args()
    return guarded(site_from_args, args, prog=Path(sys.argv[0]).name)


if __name__ == "__main__":
    sys.exit(main())
