"""``dgcoverage scenario``: the circle with planned facilities added and closures removed, and the ledger."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import DgCoverageError
from .common import circles_to_run, facilities_from_args, print_counts, study_from_args


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
    p.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="a scenario .toml: [facilities] add/add_crs/top/remove/remove_file/capacity, [roads] close (polygons), "
        "close_ways (OSM way ids) and [[roads.link]] (from, to, crs, mode, speed_kmh or minutes); paths relative to "
        "the file. A road edit recomputes the circle in full",
    )


def scenario_from_args(args: argparse.Namespace) -> int:
    """Measure the baseline and the scenario, write the ledger and the page, print the city-wide change.

    The ledger is ``<out>/scenario/<circle>/changes.csv`` (and ``.xlsx``), the page ``<maps>/scenario_<circle>.html``.
    """
    from ..core.io import write_text
    from ..inputs.scenario import read_capacity_edits, read_closures
    from ..outputs.ledger import write_ledger
    from ..outputs.maps import default_maps_dir
    from ..outputs.maps.scenario import scenario_map_html, scenario_page_name
    from ..pipeline.facilities import load_facilities
    from ..pipeline.run import run_circle
    from ..pipeline.scenario import run_scenario

    t0 = time.perf_counter()
    (circle,), settings = circles_to_run(args, [args.circle])
    spec = _spec(args, circle.allow_unusual_settings)
    remove = [r.strip() for r in (args.remove or "").split(",") if r.strip()] + spec.remove
    study = study_from_args(args, settings, t0, "walk", [circle])
    base = facilities_from_args(args, study, circle)
    add = None
    if spec.add is not None:
        add = load_facilities(study, circle, spec.add, crs=spec.add_crs)
        if spec.top is not None:
            add = add.head(spec.top)
    capacity = (
        None
        if spec.capacity is None
        else read_capacity_edits(spec.capacity, circle.capacity, circle.capacity_unit or None)
    )
    closures = None if spec.close is None else read_closures(spec.close, spec.close_crs)
    sources = {**spec.sources(), "remove": remove}
    before = run_circle(study, circle, base, supply=circle.has_supply, speeds=())
    sc = run_scenario(
        study,
        circle,
        base,
        add=add,
        remove=remove,
        capacity=capacity,
        links=spec.links,
        closures=closures,
        close_ways=spec.close_ways,
        before=before,
        sources=sources,
    )
    out = Path(args.out) / "scenario" / circle.id if args.out else Path("data/processed/scenario") / circle.id
    write_ledger(sc.villages, sc.towns, sc.summary, out)
    page = None
    if not getattr(args, "no_maps", False):
        maps_dir = default_maps_dir(args.out or "data/processed", getattr(args, "maps_dir", None))
        maps_dir.mkdir(parents=True, exist_ok=True)
        page = write_text(
            scenario_map_html(
                study, before, sc.villages, sc.after_villages, sc.summary, add, remove, road_lines=sc.road_lines
            ),
            maps_dir / scenario_page_name(circle.id),
        )
    c = sc.summary["city"]
    print(
        f"{circle.id}: covered people {c['covered_population_before']:,.0f} -> {c['covered_population_after']:,.0f} "
        f"(+{c['newly_covered_population']:,.0f}, -{c['no_longer_covered_population']:,.0f}); villages covered "
        f"{c['villages_covered_before']} -> {c['villages_covered_after']}; {len(sc.villages)} villages change "
        f"-> {out / 'changes.csv'}, changes.xlsx"
        + (f", {page}" if page else "")
        + _more(c)
        + f" ({sc.summary['method']}, {sc.summary['seconds']:.2f} s)"
        + ("  [SYNTHETIC]" if study.synthetic else "")
    )
    skipped = sc.summary["edits"].get("roads", {}).get("links_not_serving_mode", 0)
    if skipped:
        print(
            f"{skipped} road link(s) serve another mode than {circle.id}'s ({circle.mode}) and change nothing here "
            '(scenario.json -> edits.roads.links_not_serving_mode). Fix: mode = "all" or the circle\'s mode'
        )
    print_counts(sc.summary.get("warnings") or {}, "scenario.json")
    return 0


def _spec(args: argparse.Namespace, allow_unusual: bool = False) -> Any:
    """Return the scenario file's edits merged with --add/--top/--add-crs (refused when both give facilities)."""
    from ..inputs.scenario import ScenarioSpec, read_scenario

    spec = read_scenario(args.scenario, allow_unusual) if getattr(args, "scenario", None) else ScenarioSpec()
    if spec.circle and spec.circle != args.circle:
        raise DgCoverageError(
            f"{args.scenario}: circle = {spec.circle!r} but --circle {args.circle}. Fix: make them agree"
        )
    if args.add is not None:
        if spec.add is not None:
            raise DgCoverageError(
                f"--add {args.add} and {args.scenario} [facilities] add both give facilities to add. Fix: keep one"
            )
        spec.add, spec.add_crs, spec.top = args.add, args.add_crs, args.top
    elif args.top is not None and spec.add is None:
        raise DgCoverageError("--top needs --add FILE (or add = FILE in the scenario file)")
    has_edit = spec.add or args.remove or spec.remove or spec.capacity or spec.close or spec.links is not None
    has_edit = has_edit or bool(spec.close_ways)
    if not has_edit:
        raise DgCoverageError("a scenario needs an edit: --add FILE, --remove IDS or --scenario FILE")
    return spec


def _more(c: dict[str, Any]) -> str:
    """Return the older people and supply figures of the city-wide change, when the ledger has them."""
    out = ""
    if c.get("elderly_covered_before") is not None:
        out += (
            f"; older people within the limit {c['elderly_covered_before']:,.0f} -> {c['elderly_covered_after']:,.0f}"
        )
    if c.get("supply_ratio_before") is not None or c.get("supply_status_before") is not None:
        r0, r1 = c.get("supply_ratio_before"), c.get("supply_ratio_after")
        ratio = f"{r0:,.2f} -> {r1:,.2f}" if r0 is not None and r1 is not None else "n/a"
        out += f"; supply ratio {ratio} ({c.get('supply_status_before')} -> {c.get('supply_status_after')})"
    return out
