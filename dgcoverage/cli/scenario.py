"""``dgcoverage scenario``: the circle with planned facilities added and closures removed, and the ledger."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import DgCoverageError
from .common import circles_to_run, facilities_from_args, study_from_args


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    """Options of ``dgcoverage scenario`` besides those of a run (``--circle`` given by the caller)."""
    p.add_argument(
        "--add",
        type=Path,
        metavar="FILE",
        help="facilities to add: a table (CSV/XLSX, lon/lat columns) or GeoJSON, read like --facilities, or the "
        "candidates.csv of `dgcoverage site` (with --top)",
    )
    p.add_argument("--top", type=int, metavar="K", help="add only the first K rows of --add (e.g. site's top-k)")
    p.add_argument(
        "--remove", metavar="IDS", help="comma-separated facility_id values of facilities that close (facilities.csv)"
    )
    p.add_argument("--add-crs", metavar="CRS", help="coordinate system of --add: wgs84 | gcj02 | bd09")


def scenario_from_args(args: argparse.Namespace) -> int:
    """Measure the baseline and the scenario, write the ledger and the page, print the city-wide change.

    The ledger is ``<out>/scenario/<circle>/changes.csv`` (and ``.xlsx``), the page ``<maps>/scenario_<circle>.html``.
    """
    from ..core.io import write_text
    from ..outputs.ledger import write_ledger
    from ..outputs.maps import default_maps_dir
    from ..outputs.maps.scenario import scenario_map_html, scenario_page_name
    from ..pipeline.facilities import load_facilities
    from ..pipeline.run import run_circle
    from ..pipeline.scenario import run_scenario

    t0 = time.perf_counter()
    (circle,), settings = circles_to_run(args, [args.circle])
    remove = [r.strip() for r in (args.remove or "").split(",") if r.strip()]
    if args.add is None and not remove:
        raise DgCoverageError("a scenario needs --add FILE and/or --remove IDS")
    study = study_from_args(args, settings, t0, "walk", [circle])
    base = facilities_from_args(args, study, circle)
    add = None
    if args.add is not None:
        add = load_facilities(study, circle, args.add, crs=args.add_crs)
        if args.top is not None:
            add = add.head(args.top)
    sources = {"add": str(args.add) if args.add else None, "top": args.top, "remove": remove}
    before = run_circle(study, circle, base, supply=False)
    sc = run_scenario(study, circle, base, add=add, remove=remove, before=before, sources=sources)
    out = Path(args.out) / "scenario" / circle.id if args.out else Path("data/processed/scenario") / circle.id
    write_ledger(sc.villages, sc.towns, sc.summary, out)
    page = None
    if not getattr(args, "no_maps", False):
        maps_dir = default_maps_dir(args.out or "data/processed", getattr(args, "maps_dir", None))
        maps_dir.mkdir(parents=True, exist_ok=True)
        page = write_text(
            scenario_map_html(study, before, sc.villages, sc.after_villages, sc.summary, add, remove),
            maps_dir / scenario_page_name(circle.id),
        )
    c = sc.summary["city"]
    print(
        f"{circle.id}: covered people {c['covered_population_before']:,.0f} -> {c['covered_population_after']:,.0f} "
        f"(+{c['newly_covered_population']:,.0f}, -{c['no_longer_covered_population']:,.0f}); villages covered "
        f"{c['villages_covered_before']} -> {c['villages_covered_after']}; {len(sc.villages)} villages change "
        f"-> {out / 'changes.csv'}, changes.xlsx"
        + (f", {page}" if page else "")
        + f" ({sc.summary['method']}, {sc.summary['seconds']:.2f} s)"
        + ("  [SYNTHETIC]" if study.synthetic else "")
    )
    return 0
