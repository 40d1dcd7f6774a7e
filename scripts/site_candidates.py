#!/usr/bin/env python
"""Rank candidate sites for new facilities of one circle (MCLP / LSCP): thin wrapper over `dgcoverage site`.

Example: python scripts/site_candidates.py --circle fitness_15 --k 20 --exact
Default inputs are the embedded dataset (SYNTHETIC roads/people/facilities).
"""

import argparse
import sys
from pathlib import Path

from dgcoverage.cli.common import guarded
from dgcoverage.cli.options import add_site_options
from dgcoverage.cli.site import site_from_args


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--circle", required=True, help="circle id of the config in use")
    add_site_options(ap)
    args = ap.parse_args()
    return guarded(site_from_args, args, prog=Path(sys.argv[0]).name)


if __name__ == "__main__":
    sys.exit(main())
