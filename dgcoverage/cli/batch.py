"""``dgcoverage batch``: run many regions on Dask (a LocalCluster, or a running scheduler) into one folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .habits import HelpFormatter, share

BATCH_EPILOG = """\
circle ids ({where}): {ids}

The regions: --regions DIR holds one region TOML per region, <id>.toml or <id>/region.toml (the format of
`dgcoverage run --region`: towns, villages, and optionally network, population, [facilities], code, name).
--network, --population and --facilities are shared by every region that does not name its own (a province's
.osm.pbf and raster: each task reads only its region's towns plus the longest circle's reach of them).

Outputs: <out>/<id>/<circle>/villages.csv, towns.csv ... (as `run --no-maps` writes them; with --maps also
<out>/<id>/maps/, report.html, report.xlsx, as `run --region` writes them) with <out>/<id>/batch_manifest.json,
and <out>/batch.csv / batch.xlsx: region x circle (population covered, village pass rate, supply status, run
status), and <out>/batch.html: every region's outline coloured by a circle's figure, the table, links to the
regions' own pages (offline; prints on one A4 landscape page). A failed region is listed with its error while
the others finish (exit code 2); a rerun reuses every region whose complete outputs were made from inputs with the
same SHA-256 (--force runs them again; a region run without maps runs again with --maps).

examples:
  dgcoverage batch --regions cities/ --circle fitness_15 --network guangdong.osm.pbf --population gd_100m.tif \\
      --facilities gd_pois.osm.pbf --out /tmp/gd --workers 2
  dask scheduler --port 8786 &  dask worker tcp://127.0.0.1:8786 --nthreads 1 &
  dgcoverage batch --regions cities/ --all --scheduler tcp://127.0.0.1:8786 --out /tmp/gd
"""


def add_batch_parser(sub: Any, where: str, ids: list[str]) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to the subparsers ``sub``."""
    from ..core.parallel import available_workers

    p = sub.add_parser(
        "batch",
        help="run many regions (a folder of region TOMLs) on Dask -> <out>/<region>/..., batch.csv, batch.xlsx",
        description="Run circles on many regions at once on Dask (dask.distributed): a LocalCluster of --workers "
        "processes, or a running scheduler (--scheduler). Each region's tables equal a single-region run's.",
        epilog=BATCH_EPILOG.format(where=where, ids=", ".join(ids)),
        formatter_class=HelpFormatter,
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--circle", action="append", metavar="ID", help="circle id (repeatable)")
    g.add_argument("--all", action="store_true", help="every circle of the config in use")
    p.add_argument("--regions", type=Path, required=True, metavar="DIR", help="folder of region TOMLs (see below)")
    p.add_argument("--only", metavar="IDS", help="run only these region ids (comma-separated)")
    p.add_argument("--network", type=Path, metavar="FILE", help="road file shared by the regions (.osm.pbf ...)")
    p.add_argument("--population", type=Path, metavar="TIFF", help="population GeoTIFF shared by the regions")
    p.add_argument(
        "--facilities", type=Path, metavar="FILE", help="facility file shared by the regions (an OSM file serves "
        "every circle by its tags; a table or GeoJSON one circle)"
    )  # fmt: skip
    p.add_argument("--config", type=Path, metavar="TOML", help="circle config (default: the packaged circles.toml)")
    p.add_argument(
        "--out", type=Path, default=Path("data/processed/batch"), metavar="DIR",
        help="output folder (default: data/processed/batch)",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=max(1, available_workers()), metavar="N",
        help="worker processes of the local Dask cluster, one thread each (default: the CPUs available)",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="submit to a running Dask scheduler instead, e.g. tcp://10.0.0.5:8786 "
        "(start workers with --nthreads 1; every worker must read the input paths)"
    )  # fmt: skip
    p.add_argument(
        "--maps", action="store_true", help="also write each region's map pages and report (<out>/<id>/maps/, "
        "report.html, report.xlsx), as run --region does with maps (default: tables only)"
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="run every region, even those whose outputs are up to date")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.set_defaults(minutes=None, speed=None, access_speed=None, mode=None, speeds=None)
    return p


def batch_from_args(args: argparse.Namespace) -> int:
    """Run the batch the options describe; print one line per region; exit 2 when a region failed."""
    from ..core.outputset import check_output_dir
    from ..errors import DgCoverageError
    from ..inputs.batch import regions_from_folder
    from ..outputs.batch import write_batch_table, write_region
    from ..pipeline.batch import run_batch
    from .common import circles_to_run

    if args.workers < 1:
        raise DgCoverageError(f"--workers must be >= 1, got {args.workers}")
    circles, settings = circles_to_run(args, None)
    out = check_output_dir(args.out, "--out")
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    regions = regions_from_folder(args.regions, args.network, args.population, args.facilities, only)
    where = f"scheduler {args.scheduler}" if args.scheduler else f"a local Dask cluster of {args.workers} worker(s)"
    print(f"batch: {len(regions)} region(s) x {len(circles)} circle(s) on {where} -> {out}", flush=True)
    t0 = time.perf_counter()
    outcomes = run_batch(
        regions,
        out,
        circles,
        settings,
        write_region,
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        on_outcome=_print_outcome,
        maps=args.maps,
        on_precut=_print_precut,
    )
    files = write_batch_table(outcomes, out)
    failed = [o for o in outcomes if o["status"] == "failed"]
    counts = {s: sum(o["status"] == s for o in outcomes) for s in ("done", "reused", "failed")}
    print(
        f"{counts['done']} done, {counts['reused']} reused (inputs unchanged), {counts['failed']} failed in "
        f"{time.perf_counter() - t0:.1f} s; combined table and overview page -> "
        f"{', '.join(str(f) for f in sorted(files))}",
        flush=True,
    )
    if failed:
        print(
            f"dgcoverage: error: {len(failed)} of {len(outcomes)} region(s) failed: "
            + ", ".join(o["region"] for o in failed),
            file=sys.stderr,
        )
        return 2
    return 0


def _print_precut(stats: dict) -> None:
    """Print the first stage: the regions' road windows cut from their shared OSM file in one read."""
    read = f"{stats['files']} read of the shared road file ({stats['read_s']:.1f} s)" if stats["files"] else "no read"
    print(
        f"road windows: {stats['cut']} to build in the tasks, {stats['reused']} reused (.precut/), {read}; "
        f"{stats['seconds']:.1f} s",
        flush=True,
    )


def _print_outcome(o: dict[str, Any]) -> None:
    """One line per region as it finishes (its warnings on stderr)."""
    if o["status"] == "failed":
        print(f"{o['region']:20s} FAILED: {o['error']}", file=sys.stderr, flush=True)
        return
    figures = "; ".join(
        f"{r['circle']} covered {share(r['pass_rate_population'])}, villages {share(r['pass_rate_villages'])}"
        for r in o["rows"]
    )
    took = f" in {o['seconds']:.1f} s" if "seconds" in o else ""
    print(f"{o['region']:20s} {o['status']}{took}: {figures}", flush=True)
    for w in o.get("warnings", []):
        print(f"warning: [{o['region']}] {w}", file=sys.stderr, flush=True)
