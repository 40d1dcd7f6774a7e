"""``dgcoverage site``: rank candidate sites for new facilities and write them beside the circle's tables."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DgCoverageError
from .common import (
    circles_to_run,
    facilities_from_args,
    network_groups,
    output_dirs,
    print_counts,
    remove_stale,
    study_from_args,
)
from .habits import counts_text, share, ticking

#: How the candidate counts read in the terminal (``generated`` and ``rejected`` of the candidate set).
CANDIDATE_WORDS = {
    "gap_cluster": "from gap clusters",
    "file": "from the file",
    "road_class": "road-class nodes",
    "off_network": "off the network",
    "no_population_component": "on road pieces where nobody lives",
    "outside_towns": "outside the study towns",
    "thinned": "thinned (closer than --min-spacing)",
}


def _print_candidates_datum(args: argparse.Namespace, cands: Any) -> None:
    """Print the datum the candidate file was read in, and why (nothing without a file)."""
    if cands.input.get("crs"):
        rec = cands.input
        print(f"  candidates: {args.candidates}, read as {rec['crs']} ({rec['crs_source']})", flush=True)


def site_from_args(args: argparse.Namespace, circle_id: str | None = None) -> int:
    """``dgcoverage site``: load, measure the existing facilities, generate candidates, optimise, write.

    The circle's tables, areas and map are written again beside the candidates (all from this
    invocation, published together); if they differ from the last ``run`` (other inputs), the
    town report and overview made by that run are removed rather than left inconsistent.
    """
    from ..compute import siting
    from ..core.outputset import OutputSet
    from ..outputs.gpkg import areas_and_layers, crs_label, layer_crs, write_layers
    from ..outputs.maps import write_maps
    from ..outputs.sites import write_sites
    from ..outputs.tables import write_circle
    from ..pipeline.run import run_circle
    from ..pipeline.sites import build_candidates, default_spacing_m, plan_sites

    if args.max_per_town is not None and args.max_per_town < 1:
        raise DgCoverageError("--max-per-town must be >= 1")
    if not 0 < args.lscp_share <= 1:
        raise DgCoverageError("--lscp-share must be in (0, 1]")
    (circle,), settings = circles_to_run(args, [circle_id or args.circle])
    cid = circle.id
    maps = not getattr(args, "no_maps", False)
    out, maps_dir = output_dirs(args, maps)
    t0 = time.perf_counter()
    stale: list[Path] = []
    m: list[Path] = []
    with OutputSet(out, *([maps_dir] if maps_dir else []), hint="--out") as outset:
        stage = outset.stage(out)
        network_type = next(iter(network_groups(args, [circle])))
        study = study_from_args(args, settings, t0, network_type, [circle])
        gpkg_crs = crs_label(layer_crs(getattr(args, "gpkg_crs", None), study.bounds_wgs84))  # before measuring
        fac = facilities_from_args(args, study, circle)
        base = run_circle(study, circle, fac)
        base.summary.settings["gpkg_crs"] = gpkg_crs
        print(
            f"  {len(fac):,} existing facilities cover "
            f"{share(base.summary['results']['covered_share'])} of people ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        road = args.road_class.split(",") if args.road_class else None
        gaps = args.with_gaps or (args.candidates is None and not road)
        cands = build_candidates(
            study,
            base,
            gaps=gaps,
            path=args.candidates,
            crs=args.candidates_crs,
            road_classes=road,
            min_spacing_m=args.min_spacing,
            max_candidates=args.max_candidates,
            site_capacity=getattr(args, "site_capacity", None),
        )
        print(
            f"  {len(cands.table):,} candidate sites ({counts_text(cands.generated, CANDIDATE_WORDS)}; rejected: "
            f"{counts_text(cands.rejected, CANDIDATE_WORDS)})",
            flush=True,
        )
        _print_candidates_datum(args, cands)
        with ticking("solving", 10.0) if args.exact else _nothing():
            if args.exact:
                print(
                    f"  solving {_problems(args)} exactly (HiGHS; at most {args.time_limit:g} s per solve; the "
                    "elapsed time is printed every 10 s) ...",
                    flush=True,
                )
            res = _plan(args, plan_sites, siting, study, base, cands)
        res.summary["inputs"] = {
            **base.summary["inputs"],
            "candidates": {
                "file": None if args.candidates is None else str(args.candidates),
                "crs": cands.input.get("crs", args.candidates_crs),
                "crs_source": cands.input.get("crs_source"),
                "road_class": road,
                "gap_clusters": gaps,
                "min_spacing_m": args.min_spacing or default_spacing_m(circle),
            },
        }
        d = write_sites(res, cid, stage)
        changed = _measurement_changed(out / cid / "summary.json", write_circle(base, stage) / "summary.json")
        if maps:
            m = write_maps(
                study,
                [base],
                {cid: areas_and_layers(study, base, stage, sites=res, crs=gpkg_crs)},  # and layers.gpkg, sites
                outset.stage(maps_dir),
                out_dir=stage,
                index=False,
            )
        else:
            write_layers(study, base, stage, sites=res, crs=gpkg_crs)
        if not maps and maps_dir is not None:  # a map of the circle shows other candidates now
            stale += remove_stale(outset, [maps_dir / f"{cid}.html"])
        if changed:
            later = [out / "report.xlsx", out / "report.html"] + ([maps_dir / "index.html"] if maps_dir else [])
            if not maps:  # areas of the old measurement
                later += [out / cid / "service_area.geojson", out / cid / "gaps.geojson"]
            stale += remove_stale(outset, later)
        outset.commit()
    _print_written(m, maps_dir, stale, cid if changed else None, out)
    if not changed and (out / "report.html").exists():
        print(
            "  report.html and report.xlsx list these sites after `dgcoverage run --all` (it keeps them while the "
            "measurement is unchanged)",
            flush=True,
        )
    for key, s in res.summary["solutions"].items():
        print(
            f"  {key:12s} sites {s['sites']:5d}  new people {s['covered_population']:>12,.0f}  "
            f"{s['status']:10s} {s['seconds']:.1f} s"
        )
    _print_status(res.summary["solutions"])
    for key in ("mclp_gap_greedy_vs_exact", "lscp_gap_greedy_vs_exact", "lscp_villages_gap_greedy_vs_exact"):
        if res.summary.get(key) is not None:
            print(f"  {key}: {share(res.summary[key], 4)}")
    if res.summary["objective"]["deficit_weight"]:
        print(f"  MCLP objective: {res.summary['objective']['mclp']} (deficit_weight {args.deficit_weight:g})")
    _print_site_supply(res.summary.get("supply") or {})
    print(
        f"{cid}: {len(res.table)} ranked sites -> {out / d.name / 'candidates.csv'}"
        + ("  [SYNTHETIC]" if res.summary["synthetic"] else "")
    )
    print_counts({k: v for k, v in base.summary["warnings"].items()})
    print_counts(res.summary.get("warnings") or {}, "siting_summary.json")  # said reading the candidates
    return 0


def _print_written(m: list[Path], maps_dir: Path | None, stale: list[Path], changed: str | None, out: Path) -> None:
    """Say where the map went (or that none was written, and what was removed); note a changed measurement."""
    cid = changed
    if m:
        print(f"  map with candidate sites -> {maps_dir / m[0].name}", flush=True)
    elif stale:
        print(f"  --no-maps: no map written; removed {', '.join(str(p) for p in stale)}", flush=True)
    else:
        print("  --no-maps: no map written", flush=True)
    if changed is not None:
        print(
            f"  {cid} was measured on other inputs or settings than the last `dgcoverage run` in {out}: its tables "
            "were replaced and the town report and overview (made from the old measurement) removed; run "
            "`dgcoverage run --all` to make them again",
            file=sys.stderr,
        )


def _plan(args: argparse.Namespace, plan_sites: Any, siting: Any, study: Any, base: Any, cands: Any) -> Any:
    """Call :func:`~dgcoverage.pipeline.sites.plan_sites` with the options."""
    return plan_sites(
        study,
        base,
        cands,
        args.k,
        lscp=args.lscp,
        lscp_share=args.lscp_share,
        exact=args.exact,
        max_per_town=args.max_per_town,
        time_limit=args.time_limit,
        exact_max_nnz=getattr(args, "exact_max_nnz", siting.MAX_EXACT_NNZ),
        lscp_villages=getattr(args, "lscp_villages", False),
        deficit_weight=getattr(args, "deficit_weight", 0.0) or 0.0,
    )


def _problems(args: argparse.Namespace) -> str:
    """Name the problems the options ask for."""
    asked = [n for n, on in (("LSCP", args.lscp), ("village LSCP", getattr(args, "lscp_villages", False))) if on]
    return " and ".join(asked) if asked else f"MCLP (k = {args.k})"


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


#: What a solution's status means, printed once below the table of solutions for each status that occurs.
STATUS_WORDS = {
    "target_not_reached": "greedy stopped short of the target: the candidates, or --max-per-town, ran out "
    "(the sites it found are listed)",
    "infeasible": "no choice of candidates meets the target within --max-per-town (raise it or add candidates)",
    "time_limit": "stopped at --time-limit; the best solution found by then is used",
}


def _print_status(solutions: dict[str, Any]) -> None:
    """One line per unusual status that occurs, saying what it means."""
    for status in dict.fromkeys(str(s.get("status")) for s in solutions.values()):
        if status in STATUS_WORDS:
            print(f"  {status}: {STATUS_WORDS[status]}")


def _print_site_supply(sup: dict[str, Any]) -> None:
    """One line on how much of the towns' supply deficits the listed sites close (or that sizes were not given)."""
    if not sup.get("standard"):
        return
    unit = sup.get("unit", "")
    if sup.get("capacity") != "given":
        print(f"  supply ({sup['standard']}): capacity not given (--site-capacity N {unit}, or a capacity column)")
        return
    towns = [t for t in sup.get("towns", []) if t.get("deficit_before") is not None]
    before = sum(t["deficit_before"] for t in towns)
    closed = sup.get("deficit_closed_total") or 0.0
    print(
        f"  supply ({sup['standard']}): the listed sites close {closed:,.0f} {unit} of their towns' deficits "
        f"({before:,.0f} {unit} before, {len(towns)} towns)"
    )


def _measurement_changed(published: Path, staged: Path) -> bool:
    """Whether a circle's new ``summary.json`` differs from the published one (absent counts as unchanged).

    The layers' CRS (``settings.gpkg_crs``) is no measurement: :func:`~dgcoverage.outputs.sites.same_measurement`.
    """
    from ..outputs.sites import same_measurement

    return published.exists() and not same_measurement(published, staged)
