"""``dgcoverage run``: measure circles and write their tables, areas, maps and the report."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DgCoverageError
from .common import (
    circles_to_run,
    describe_input,
    facilities_from_args,
    network_groups,
    output_dirs,
    print_counts,
    relative_href,
    remove_stale,
    study_from_args,
    workers_from_args,
)
from .habits import share


def run_from_args(args: argparse.Namespace, circle_ids: Sequence[str] | None = None) -> int:
    """Run circles as the parsed arguments say; used by the CLI and the per-circle scripts.

    Every file of the run is staged and published together (:class:`~dgcoverage.core.outputset.OutputSet`):
    a failed, killed or concurrent run never leaves a mixed set.
    """
    from tqdm.auto import tqdm

    from ..core.outputset import OutputSet
    from ..outputs.gpkg import crs_label, layer_crs, write_layers
    from ..outputs.sites import SITE_FILES, keep_sites
    from ..outputs.tables import write_circle
    from ..pipeline.run import run_circle

    circles, settings = circles_to_run(args, circle_ids)
    if (
        args.facilities is not None
        and len(circles) > 1
        and not args.facilities.name.lower().endswith((".osm", ".pbf", ".bz2"))
    ):
        raise DgCoverageError(
            "--facilities with a table applies to one circle; run one circle at a time "
            "(or pass an OSM file, which is filtered by each circle's tags)"
        )
    maps = not getattr(args, "no_maps", False)
    out, maps_dir = output_dirs(args, maps)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    stale: list[Path] = []
    with OutputSet(out, *([maps_dir] if maps_dir else []), hint="--out") as outset:
        stage = outset.stage(out)
        results, pairs, study = [], [], None
        for network_type, group in network_groups(args, circles).items():
            study = study_from_args(args, settings, t0, network_type, circles)
            # the GIS layers' CRS must hold the study (checked before any circle is measured)
            gpkg_crs = crs_label(layer_crs(getattr(args, "gpkg_crs", None), study.bounds_wgs84))
            counts.update(study.warnings)
            for circle in tqdm(group, desc="circles", unit="circle", disable=len(group) == 1):
                fac = facilities_from_args(args, study, circle)
                if args.facilities is not None:
                    tqdm.write(f"  {describe_input('facilities', fac.attrs['input_record'])}")
                res = run_circle(study, circle, fac)
                res.summary.settings["gpkg_crs"] = gpkg_crs
                staged = write_circle(res, stage)
                # the ranked sites of `dgcoverage site` stay (and go into the report, maps and layers.gpkg) while
                # the circle's measurement is unchanged; made against another measurement, they are stale now
                if not keep_sites(out / circle.id, staged):
                    for name in SITE_FILES:
                        outset.remove(out / circle.id / name)
                if not maps:  # with maps, the layers are written with the areas (areas_and_report)
                    write_layers(study, res, stage, crs=gpkg_crs)
                if not maps:  # areas and the circle's map of an earlier run would contradict the new tables
                    stale += remove_stale(
                        outset,
                        [out / circle.id / "service_area.geojson", out / circle.id / "gaps.geojson"]
                        + ([maps_dir / f"{circle.id}.html"] if maps_dir else []),
                    )
                counts.update(
                    {
                        f"{circle.id}.{k}" if k.startswith("facilit") else k: v
                        for k, v in res.summary["warnings"].items()
                        if k not in study.warnings
                    }
                )
                if maps:
                    pairs.append((study, res, gpkg_crs))
                    results.append(res)
                _print_circle(res, out)
        if not maps:
            stale += remove_stale(
                outset, [out / "report.xlsx", out / "report.html"] + ([maps_dir / "index.html"] if maps_dir else [])
            )
        if results:
            from ..outputs.maps import write_maps

            areas = areas_and_report(pairs, stage, relative_href(maps_dir, out), workers_from_args(args))
            written = write_maps(study, results, areas, outset.stage(maps_dir), out_dir=stage)
        outset.commit()
    if results:
        print(
            f"maps -> {maps_dir}/ ({len(written)} files); report -> {out / 'report.xlsx'}, {out / 'report.html'}",
            flush=True,
        )
    if stale:
        print(
            f"--no-maps: removed {len(stale)} file(s) an earlier run made from other tables (areas, maps, "
            f"report): {', '.join(str(p) for p in stale[:6])}{' ...' if len(stale) > 6 else ''}",
            flush=True,
        )
    print_counts(counts)
    return 0


def areas_and_report(
    pairs: Sequence[tuple[Any, ...]], stage: Path, maps_href: str | None, workers: int
) -> dict[str, Any]:
    """Write every circle's areas and GIS layers (layers.gpkg) and the report, on ``workers`` processes.

    ``pairs``: ``(study, result)`` or ``(study, result, gpkg_crs)`` per circle (the layers' CRS, default WGS84).

    Returns the areas of every circle.
    """
    from functools import partial

    from ..core.parallel import run_jobs
    from ..outputs.gpkg import areas_and_layers
    from ..outputs.report import write_html, write_xlsx

    results = [p[1] for p in pairs]
    jobs = [  # the longest first
        partial(write_xlsx, results, stage / "report.xlsx", candidates_dir=stage),
        partial(write_html, results, stage / "report.html", maps_href=maps_href, candidates_dir=stage),
    ]
    jobs += [  # the areas, and layers.gpkg with them
        partial(areas_and_layers, p[0], p[1], stage, crs=p[2] if len(p) > 2 else None) for p in pairs
    ]
    done = run_jobs(jobs, workers)
    return {r.circle.id: a for r, a in zip(results, done[2:])}


def _print_circle(res: Any, out: Path) -> None:
    """Print a circle's line: people and villages covered (cut), unconfirmed datums, robust / fragile villages."""
    from tqdm.auto import tqdm

    circle = res.circle
    r = res.summary["results"]
    tqdm.write(
        f"{circle.id:18s} {circle.minutes:g} min @ {circle.speed_kmh:g} km/h: population covered "
        f"{share(r['covered_share'])}, villages covered {share(r['village_pass_rate'])} -> "
        f"{out / circle.id}" + ("  [SYNTHETIC]" if res.summary["synthetic"] else "")
    )
    for kind, text in (res.summary.get("checks") or {}).get("datum", {}).items():
        if not text.startswith("fits"):  # a datum we could not confirm against the roads: say it here
            tqdm.write(f"{'':18s} datum of the {kind}: {text}")
    if res.sensitivity is not None:  # --speeds: robust / fragile villages
        ss = res.sensitivity.summary
        tqdm.write(
            f"{'':18s} at {', '.join(f'{v:g}' for v in ss['speeds_kmh'])} km/h: villages robust "
            f"{ss['villages_by_class']['robust']}, fragile {ss['villages_by_class']['fragile']}, not "
            f"covered {ss['villages_by_class']['not_covered']} -> {out / circle.id / 'sensitivity.csv'}"
        )
