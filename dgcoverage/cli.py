"""Command line: ``dgcoverage build-demo | run | site``.

Only parses arguments and calls the library.  Errors of the
:class:`~dgcoverage.errors.DgCoverageError` family are printed without a
traceback (exit code 2); ``--debug`` shows it.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any
from pathlib import Path

from .config import CIRCLE_IDS, load_config
from .errors import DgCoverageError


def _add_run_options(p: argparse.ArgumentParser, circle_choice: bool = True) -> None:
    if circle_choice:
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--circle", action="append", choices=CIRCLE_IDS, help="circle id (repeatable)")
        g.add_argument("--all", action="store_true", help="run all circles in the config")
    p.add_argument("--network", type=Path, help=".osm/.osm.pbf file or saved .npz (default: embedded synthetic)")
    p.add_argument("--network-type", default="walk", help="OSM network type for OSM files (walk, bike, drive, all)")
    p.add_argument("--facilities", type=Path, help="facility CSV/XLSX/GeoJSON, or an .osm/.osm.pbf to take by the circle's tags")
    p.add_argument("--facilities-crs", default="gcj02", help="coordinate system of the facility file: wgs84 | gcj02 | bd09")
    p.add_argument("--population", type=Path, help="population GeoTIFF, any CRS (default: embedded synthetic)")
    p.add_argument("--villages", type=Path, help="village points (CSV/XLSX lon/lat, GeoJSON) or polygons (GeoJSON 村界)")
    p.add_argument("--villages-crs", default="gcj02", help="coordinate system of village points: wgs84 | gcj02 | bd09")
    p.add_argument("--minutes", type=float, help="override the circle's time limit (minutes)")
    p.add_argument("--speed", type=float, help="override the network speed (km/h)")
    p.add_argument("--access-speed", type=float, help="override the access-leg walking speed (km/h)")
    p.add_argument("--mode", choices=("walk", "bicycle", "drive"), help="override the travel mode label")
    p.add_argument("--config", type=Path, help="circle config TOML (default: packaged circles.toml)")
    p.add_argument("--data-dir", type=Path, default=Path("data/raw"), help="embedded default folder (default: data/raw)")
    p.add_argument("--out", type=Path, default=Path("data/processed"), help="output folder (default: data/processed)")
    p.add_argument("--maps-dir", type=Path, help="folder for the HTML maps (default: maps, or <out>/maps with --out)")
    p.add_argument("--no-maps", action="store_true", help="skip service areas, gap areas, maps and the town report")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    """The ``dgcoverage`` argument parser."""
    ap = argparse.ArgumentParser(prog="dgcoverage", description="Public-service circle coverage for Dongguan's 村/社区.")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-demo", help="build the embedded default dataset (real boundaries + SYNTHETIC roads/people/facilities)")
    b.add_argument("--out", type=Path, default=Path("data/raw"))
    b.add_argument("--scale", type=float, default=1.0, help="street density multiplier (nodes grow ~scale^2)")
    b.add_argument("--seed", type=int, default=2020)
    b.add_argument("--towns", help="comma-separated NBS town codes to build only part of the city")
    b.add_argument("--debug", action="store_true")
    r = sub.add_parser("run", help="measure one or more circles and write tables")
    _add_run_options(r)
    s = sub.add_parser("site", help="rank candidate sites for new facilities (MCLP / LSCP) -> <circle>/candidates.csv")
    s.add_argument("--circle", required=True, choices=CIRCLE_IDS, help="circle id")
    _add_site_options(s)
    return ap


def _add_site_options(p: argparse.ArgumentParser) -> None:
    """Options of ``dgcoverage site`` (and scripts/site_candidates.py) besides ``--circle``."""
    _add_run_options(p, circle_choice=False)
    p.add_argument("--k", type=int, default=10, help="number of new sites for MCLP (default 10)")
    p.add_argument("--exact", action="store_true", help="also solve exactly (ILP, HiGHS) and report the greedy gap")
    p.add_argument("--lscp", action="store_true", help="fewest sites covering every coverable uncovered person")
    p.add_argument("--lscp-share", type=float, default=1.0, help="LSCP target share of coverable people (default 1)")
    p.add_argument("--lscp-villages", action="store_true",
                   help="policy-literal cover: fewest sites so every village reaches its covered share (100%% 覆盖村(社区))")
    p.add_argument("--candidates", type=Path, help="CSV/XLSX/GeoJSON of possible sites (replaces gap-cluster candidates)")
    p.add_argument("--candidates-crs", default="gcj02", help="coordinate system of --candidates: wgs84 | gcj02 | bd09")
    p.add_argument("--road-class", help="comma-separated OSM highway classes whose nodes are candidates (OSM networks)")
    p.add_argument("--with-gaps", action="store_true", help="add gap-cluster candidates to --candidates/--road-class")
    p.add_argument("--min-spacing", type=float, help="minimum spacing of gap-cluster candidates, m (default: reach/4)")
    p.add_argument("--max-candidates", type=int, default=5000, help="cap on generated candidates (default 5000)")
    p.add_argument("--max-per-town", type=int, help="at most N new sites per town (镇街)")
    p.add_argument("--time-limit", type=float, default=600.0, help="time limit per exact solve, s (default 600)")
    p.add_argument("--exact-max-nnz", type=int, default=5_000_000,
                   help="skip exact solves whose merged coverage matrix has more non-zeros (default 5,000,000)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgcoverage`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "build-demo":
        return guarded(_build_demo, args)
    if args.command == "site":
        return guarded(site_from_args, args)
    return guarded(run_from_args, args)


def guarded(fn: Callable[..., int], args: argparse.Namespace, *extra: Any, prog: str = "dgcoverage") -> int:
    """Call ``fn(args, *extra)``; print a :class:`DgCoverageError` as one line and return 2 (``--debug`` re-raises)."""
    try:
        return fn(args, *extra)
    except DgCoverageError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


def _build_demo(args: argparse.Namespace) -> int:
    from .synthetic import build_demo

    t0 = time.perf_counter()
    codes = [c.strip() for c in args.towns.split(",")] if args.towns else None
    m = build_demo(args.out, scale=args.scale, seed=args.seed, town_codes=codes)
    net = m["network"]
    print(f"built embedded default in {args.out} ({time.perf_counter() - t0:.1f} s) — SYNTHETIC roads, people and facilities")
    print(f"  network {net['nodes']:,} nodes / {net['directed_edges']:,} directed edges; "
          f"{m['population']['cells_populated']:,} populated cells, {m['population']['total']:,} people; "
          f"{m['villages']['placed']}/{m['villages']['listed']} villages placed; facilities {m['facilities']}")
    return 0


def _load_study(args: argparse.Namespace, settings: Any, t0: float) -> Any:
    """Load the study the options describe, saying what was loaded."""
    from .pipeline import load_study

    print("loading network, population and villages ...", flush=True)
    study = load_study(args.network, args.population, args.villages, args.villages_crs, args.data_dir,
                       args.network_type, settings)
    print(f"  {study.net.n_nodes:,} nodes, {study.net.n_edges:,} edges, {len(study.cell_pop):,} populated cells, "
          f"{len(study.villages)} villages ({time.perf_counter() - t0:.1f} s)"
          + ("  [SYNTHETIC DATA]" if study.synthetic else ""), flush=True)
    return study


def run_from_args(args: argparse.Namespace, circle_ids: Sequence[str] | None = None) -> int:
    """Run circles as the parsed arguments say; used by the CLI and the per-circle scripts."""
    from tqdm.auto import tqdm

    from .pipeline import load_facilities, run_circle, write_circle

    circles, settings = load_config(args.config)
    ids = list(circle_ids or (list(circles) if getattr(args, "all", False) else args.circle))
    unknown = [i for i in ids if i not in circles]
    if unknown:
        raise DgCoverageError(f"circle(s) {unknown} are not in the config; known: {list(circles)}")
    if args.facilities is not None and len(ids) > 1 and not args.facilities.name.lower().endswith((".osm", ".pbf", ".bz2")):
        raise DgCoverageError("--facilities with a table applies to one circle; run one circle at a time "
                              "(or pass an OSM file, which is filtered by each circle's tags)")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = _load_study(args, settings, t0)
        results, areas = [], {}
        for cid in tqdm(ids, desc="circles", unit="circle", disable=len(ids) == 1):
            circle = circles[cid].with_overrides(minutes=args.minutes, speed_kmh=args.speed,
                                                 access_speed_kmh=args.access_speed, mode=args.mode)
            fac, rec, syn = load_facilities(study, circle, args.facilities, args.facilities_crs, args.data_dir)
            res = run_circle(study, circle, fac, facilities_input=rec, facilities_synthetic=syn)
            d = write_circle(res, args.out)
            if not getattr(args, "no_maps", False):
                from .gaps import write_areas

                areas[cid] = write_areas(study, res, args.out)
                results.append(res)
            r = res.summary["results"]
            tqdm.write(f"{cid:18s} {circle.minutes:g} min @ {circle.speed_kmh:g} km/h: population covered "
                       f"{r['covered_share']:.1%}, villages covered {r['village_pass_rate']:.1%} -> {d}"
                       + ("  [SYNTHETIC]" if res.summary["synthetic"] else ""))
        if results:
            from .maps import default_maps_dir, write_maps
            from .report import write_report

            maps_dir = default_maps_dir(args.out, getattr(args, "maps_dir", None))
            maps = write_maps(study, results, areas, maps_dir, out_dir=args.out)
            rep = write_report(results, args.out)
            print(f"maps -> {maps[-1].parent}/ ({len(maps)} files); report -> {rep[0]}, {rep[1]}", flush=True)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return 0


def site_from_args(args: argparse.Namespace, circle_id: str | None = None) -> int:
    """``dgcoverage site``: load, measure the existing facilities, generate candidates, optimise, write."""
    from . import siting
    from .candidates import build_candidates, default_spacing_m, plan_sites, write_sites
    from .pipeline import load_facilities, run_circle

    circles, settings = load_config(args.config)
    cid = circle_id or args.circle
    if cid not in circles:
        raise DgCoverageError(f"circle {cid!r} is not in the config; known: {list(circles)}")
    if args.k < 0:
        raise DgCoverageError("--k must be >= 0")
    if args.max_per_town is not None and args.max_per_town < 1:
        raise DgCoverageError("--max-per-town must be >= 1")
    if not 0 < args.lscp_share <= 1:
        raise DgCoverageError("--lscp-share must be in (0, 1]")
    circle = circles[cid].with_overrides(minutes=args.minutes, speed_kmh=args.speed,
                                         access_speed_kmh=args.access_speed, mode=args.mode)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = _load_study(args, settings, t0)
        fac, rec, syn = load_facilities(study, circle, args.facilities, args.facilities_crs, args.data_dir)
        base = run_circle(study, circle, fac, facilities_input=rec, facilities_synthetic=syn)
        print(f"  {len(fac):,} existing facilities cover "
              f"{base.summary['results']['covered_share']:.1%} of people ({time.perf_counter() - t0:.1f} s)", flush=True)
        road = args.road_class.split(",") if args.road_class else None
        gaps = args.with_gaps or (args.candidates is None and not road)
        cands = build_candidates(study, base, gaps=gaps, path=args.candidates, crs=args.candidates_crs,
                                 road_classes=road, min_spacing_m=args.min_spacing, max_candidates=args.max_candidates)
        print(f"  {len(cands.table):,} candidate sites {cands.generated}; rejected "
              f"{ {k: v for k, v in cands.rejected.items() if v} }", flush=True)
        res = plan_sites(study, base, cands, args.k, lscp=args.lscp, lscp_share=args.lscp_share, exact=args.exact,
                         max_per_town=args.max_per_town, time_limit=args.time_limit,
                         exact_max_nnz=getattr(args, "exact_max_nnz", siting.MAX_EXACT_NNZ),
                         lscp_villages=getattr(args, "lscp_villages", False))
        res.summary["inputs"] = {**base.summary["inputs"],
                                 "candidates": {"file": None if args.candidates is None else str(args.candidates),
                                                "crs": args.candidates_crs, "road_class": road, "gap_clusters": gaps,
                                                "min_spacing_m": args.min_spacing or default_spacing_m(circle)}}
        d = write_sites(res, cid, args.out)
        from .maps import default_maps_dir, write_maps

        maps_dir = default_maps_dir(args.out, getattr(args, "maps_dir", None))
        if (maps_dir / f"{cid}.html").exists():  # refresh the circle's map with a candidates layer
            from .gaps import write_areas

            m = write_maps(study, [base], {cid: write_areas(study, base, args.out)}, maps_dir, out_dir=args.out, index=False)
            print(f"  map with candidate sites -> {m[0]}", flush=True)
    for key, s in res.summary["solutions"].items():
        print(f"  {key:12s} sites {s['sites']:5d}  new people {s['covered_population']:>12,.0f}  "
              f"{s['status']:10s} {s['seconds']:.1f} s")
    for key in ("mclp_gap_greedy_vs_exact", "lscp_gap_greedy_vs_exact", "lscp_villages_gap_greedy_vs_exact"):
        if res.summary.get(key) is not None:
            print(f"  {key}: {res.summary[key]:.4%}")
    print(f"{cid}: {len(res.table)} ranked sites -> {d / 'candidates.csv'}"
          + ("  [SYNTHETIC]" if res.summary["synthetic"] else ""))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
