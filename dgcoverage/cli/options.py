"""The options of every subcommand (argparse): names, defaults, help, examples."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .habits import HabitParser, HelpFormatter

#: OSM network types (OSMnx's names) that --network-type accepts.
NETWORK_TYPES = ("walk", "bike", "drive", "drive_service", "all", "all_public")
#: Road network files --network reads (a saved .npz is the light form written by the library).
NETWORK_FORMATS = ".osm, .osm.pbf, .osm.bz2 (OpenStreetMap extracts), .npz (a saved RoadNetwork)"
#: Facility files --facilities reads.
FACILITY_FORMATS = (
    "CSV/XLSX table with lon/lat columns (any Chinese encoding), GeoJSON, GeoPackage (.gpkg), shapefile (.shp), "
    "or an OSM extract (.osm/.osm.pbf/.osm.bz2) whose features are taken by the circle's OSM tags"
)

RUN_EPILOG = """\
circle ids ({where}): {ids}

examples:
  dgcoverage run --all                                   # every circle on the embedded default (SYNTHETIC data)
  dgcoverage run --circle legal_aid_30 --out /tmp/la --maps-dir /tmp/la/maps
  dgcoverage run --circle fitness_15 --facilities gyms.xlsx --facilities-crs gcj02 --network city.osm.pbf \\
      --population people_100m.tif

Outputs: <out>/<circle>/villages.csv, towns.csv, summary.json ...; <out>/report.html and report.xlsx; the maps
folder holds index.html (open it in a browser) and one page per circle. Shares are shown cut, never rounded up.
"""

SITE_EPILOG = """\
circle ids ({where}): {ids}

Problems: MCLP (default): the --k sites that newly cover the most people. --lscp: the fewest sites covering
--lscp-share of the uncovered people some candidate reaches. --lscp-villages: the fewest sites so every village
reaches its covered share. Only the problems asked for are solved; --exact adds the exact (HiGHS) solve of each.
Status words: optimal, time_limit (best found within --time-limit), target_not_reached (greedy ran out of
candidates or of the --max-per-town budget), infeasible (no selection meets the target under the budget).

examples:
  dgcoverage site --circle fitness_15 --k 10
  dgcoverage site --circle legal_aid_30 --k 10 --exact --time-limit 60 --out /tmp/s
  dgcoverage site --circle elderly_care_15 --lscp --max-per-town 30 --candidates sites.csv --candidates-crs gcj02
"""

BUILD_DEMO_EPILOG = """\
The embedded default is the real town (镇街) boundaries and village (村/社区) list of Dongguan with SYNTHETIC roads,
people and facilities: good for trying the tool, never for conclusions. `run` and `site` build it on first use.

examples:
  dgcoverage build-demo
  dgcoverage build-demo --out /tmp/small --scale 0.5 --towns 441900003,441900004
"""


def circle_ids_of(config: Path | None) -> tuple[str, list[str]]:
    """Return where the circle ids come from and the ids (the packaged config when ``config`` cannot be read)."""
    from ..errors import DgCoverageError
    from ..inputs.config import load_config

    try:
        circles, _ = load_config(config)
        return (f"config {config}" if config else "packaged circles.toml"), list(circles)
    except (DgCoverageError, OSError, ValueError):
        circles, _ = load_config(None)
        return f"packaged circles.toml; {config} could not be read", list(circles)


def speed_list(text: str) -> tuple[float, ...]:
    """``--speeds 2.9,3.6,4.3`` -> ``(2.9, 3.6, 4.3)`` (argparse says which value is not a number)."""
    try:
        speeds = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"speeds in km/h separated by commas, e.g. 2.9,3.6,4.3: {exc}") from exc
    if not speeds:  # --speeds "$EMPTY": not the same as leaving the option out
        raise argparse.ArgumentTypeError(f"no speed in {text!r}: give speeds in km/h, e.g. 2.9,3.6,4.3")
    return speeds


def add_run_options(p: argparse.ArgumentParser, circle_choice: bool = True) -> None:
    """Options of ``dgcoverage run`` (and the per-circle scripts); ``circle_choice``: ``--circle``/``--all``."""
    if circle_choice:
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument(
            "--circle", action="append", metavar="ID", help="circle id of the config in use (repeatable; see below)"
        )
        g.add_argument("--all", action="store_true", help="run every circle of the config in use")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--network",
        type=Path,
        metavar="FILE",
        help=f"road network: {NETWORK_FORMATS} (default: the embedded SYNTHETIC network)",
    )
    src.add_argument(
        "--network-place",
        metavar="PLACE",
        help="download the network by place name through OSMnx (needs the internet; cached), e.g. 东莞市 or "
        "'Dongguan, Guangdong, China'",
    )
    p.add_argument(
        "--clip",
        metavar="AREA",
        help="clip the network: auto (default for OSM files and --network-place: the study towns buffered by the "
        "longest circle's reach, minutes x speed) | none (whole file) | W,S,E,N (degrees) | a polygon file "
        "(GeoJSON, WGS84); default for a saved .npz: none",
    )
    p.add_argument(
        "--network-type",
        choices=NETWORK_TYPES,
        help="OSM network type for OSM files: " + ", ".join(NETWORK_TYPES) + " (default: each circle's mode: "
        "walk -> walk, bicycle -> bike, drive -> drive)",
    )
    p.add_argument("--facilities", type=Path, metavar="FILE", help=f"existing facilities: {FACILITY_FORMATS}")
    p.add_argument(
        "--facilities-crs",
        metavar="CRS",
        help="coordinate system of the facility file: wgs84 | gcj02 (Gaode/Tencent) | bd09 (Baidu) (default: the "
        "file's own; tables: what the column names or the file name say, else [settings] default_point_crs; a "
        "table that states none is refused, never guessed)",
    )
    p.add_argument(
        "--sheet", metavar="NAME", help="workbook sheet of --facilities (needed when several sheets have coordinates)"
    )
    p.add_argument(
        "--lon-col",
        metavar="COLUMN",
        help="longitude column of --facilities (needed when a table has several coordinate pairs)",
    )
    p.add_argument("--lat-col", metavar="COLUMN", help="latitude column of --facilities (with --lon-col)")
    p.add_argument(
        "--population",
        type=Path,
        metavar="TIFF",
        help="population GeoTIFF (people per cell, e.g. WorldPop), any CRS (default: the embedded SYNTHETIC one)",
    )
    p.add_argument("--band", type=int, metavar="N", help="band of a multi-band population raster (1-based)")
    p.add_argument(
        "--elderly-population",
        type=Path,
        metavar="TIFF",
        help="GeoTIFF of people aged 60+ (any CRS): summed per town, the basis of beds per 1,000 elderly "
        "(default: [settings] elderly_population / elderly_share, else the documented share)",
    )
    p.add_argument("--elderly-band", type=int, metavar="N", help="band of a multi-band elderly raster (1-based)")
    p.add_argument(
        "--villages",
        type=Path,
        metavar="FILE",
        help="village points (CSV/XLSX with lon/lat, GeoJSON) or polygons (GeoJSON 村界), matched to the official "
        "list (default: the embedded points)",
    )
    p.add_argument(
        "--villages-crs",
        metavar="CRS",
        help="coordinate system of the village file: wgs84 | gcj02 | bd09 (default as --facilities-crs)",
    )
    p.add_argument("--villages-sheet", metavar="NAME", help="workbook sheet of --villages")
    p.add_argument("--villages-lon-col", metavar="COLUMN", help="longitude column of --villages")
    p.add_argument("--villages-lat-col", metavar="COLUMN", help="latitude column of --villages")
    p.add_argument(
        "--towns",
        type=Path,
        metavar="FILE",
        help="a region other than Dongguan: its towns (code, name, polygons; optional population) as "
        "GeoJSON/GPKG/SHP or CSV with WKT; with --villages holding code, name, town_code (they ARE the list)",
    )
    p.add_argument(
        "--region",
        type=Path,
        metavar="DIR_OR_TOML",
        help="a region TOML (or a folder with region.toml) naming towns, villages and optionally network, "
        "population, facilities, code and name; options given on the command line win",
    )
    p.add_argument("--city-code", metavar="CODE", help="code of the city-wide row of a region (default ALL)")
    p.add_argument("--city-name", metavar="NAME", help="name of the city-wide row of a region")
    p.add_argument("--minutes", type=float, metavar="MIN", help="replace the circle's time limit (minutes)")
    p.add_argument("--speed", type=float, metavar="KMH", help="replace the circle's network speed (km/h)")
    p.add_argument(
        "--access-speed",
        type=float,
        metavar="KMH",
        help="replace the walking speed of the legs between a home or facility and its nearest node (km/h)",
    )
    p.add_argument(
        "--speeds",
        type=speed_list,
        metavar="KMH,KMH,...",
        help="also measure each circle at these speeds (km/h, e.g. 2.9,3.6,4.3): <circle>/sensitivity.csv lists "
        "every village as robust (covered at the slowest), fragile (only at faster ones) or not covered",
    )
    p.add_argument(
        "--mode",
        choices=("walk", "bicycle", "drive"),
        help="replace the circle's travel mode: walk | bicycle | drive. It picks the OSM network type of an OSM "
        "network (walk -> walk, bicycle -> bike, drive -> drive; unless --network-type) and the label on the "
        "outputs; it does NOT change the speed (give --speed too)",
    )
    p.add_argument("--config", type=Path, metavar="TOML", help="circle config (default: the packaged circles.toml)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/raw"),
        metavar="DIR",
        help="folder of the embedded default, built there on first use (default: data/raw)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("data/processed"),
        metavar="DIR",
        help="output folder (default: data/processed)",
    )
    p.add_argument(
        "--maps-dir",
        type=Path,
        metavar="DIR",
        help="folder for the HTML maps (default: maps, or <out>/maps with --out)",
    )
    p.add_argument(
        "--no-maps",
        action="store_true",
        help="tables only: no service or gap areas, maps or report are written (earlier ones of the circles "
        "measured are removed, as they would contradict the new tables)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes for the service/gap areas and the report (default: the CPUs available, at most 4; "
        "1: one after another). Outputs are identical whatever the number",
    )
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")


def build_parser(config: Path | None = None) -> argparse.ArgumentParser:
    """Build the ``dgcoverage`` argument parser; ``run --help`` and ``site --help`` list ``config``'s circle ids."""
    from .._version import __version__

    where, ids = circle_ids_of(config)
    ap = HabitParser(
        prog="dgcoverage",
        description="Public-service circle coverage for Dongguan's 村/社区: which villages lie within 15/30 minutes of "
        "elderly care, fitness, legal aid and culture/sports facilities on the road network.",
        epilog="examples:\n  dgcoverage run --all\n  dgcoverage site --circle fitness_15 --k 10\n"
        "  dgcoverage run --help",
    )
    ap.add_argument("--version", action="version", version=f"dgcoverage {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=HabitParser)
    b = sub.add_parser(
        "build-demo",
        help="build the embedded default dataset (real boundaries + SYNTHETIC roads/people/facilities)",
        description="Build the embedded default dataset: real boundaries, SYNTHETIC roads, people and facilities.",
        epilog=BUILD_DEMO_EPILOG,
        formatter_class=HelpFormatter,
    )
    b.add_argument(
        "--out", type=Path, default=Path("data/raw"), metavar="DIR", help="folder to build it in (default: data/raw)"
    )
    b.add_argument(
        "--scale", type=float, default=1.0, help="street density multiplier (nodes grow ~scale^2; default 1)"
    )
    b.add_argument(
        "--seed", type=int, default=2020, help="random seed: the same seed builds the same files (default 2020)"
    )
    b.add_argument(
        "--towns", metavar="CODES", help="comma-separated NBS town codes to build only part of the city (faster)"
    )
    b.add_argument("--debug", action="store_true", help="show the traceback of an error")
    r = sub.add_parser(
        "run",
        help="measure one or more circles and write tables, maps and the report",
        description="Measure one or more circles: who lives within the time limit of a facility, per village and "
        "town; write tables, service/gap areas, the maps and the report.",
        epilog=RUN_EPILOG.format(where=where, ids=", ".join(ids)),
        formatter_class=HelpFormatter,
    )
    add_run_options(r)
    add_gpkg_option(r)
    s = sub.add_parser(
        "site",
        help="rank candidate sites for new facilities (MCLP / LSCP) -> <circle>/candidates.csv",
        description="Rank candidate sites for new facilities of one circle (MCLP / LSCP) with the existing ones "
        "fixed; write <out>/<circle>/candidates.csv/.xlsx/.geojson and the circle's map with the sites.",
        epilog=SITE_EPILOG.format(where=where, ids=", ".join(ids)),
        formatter_class=HelpFormatter,
    )
    s.add_argument("--circle", required=True, metavar="ID", help="circle id of the config in use (see below)")
    add_site_options(s)
    from .scenario import add_scenario_options

    sc = sub.add_parser(
        "scenario",
        help="add planned facilities / remove closing ones and list what changes -> scenario/<circle>/changes.csv",
        description="Measure one circle with its facilities and with edits (--add FILE, --remove IDS): every "
        "village whose status, covered share or covered people change, per town and city-wide.",
        epilog=f"circle ids ({where}): {', '.join(ids)}\n\nexamples:\n"
        "  dgcoverage scenario --circle fitness_15 --add planned_parks.csv --add-crs gcj02\n"
        "  dgcoverage scenario --circle fitness_15 --add data/processed/fitness_15/candidates.csv --top 5\n"
        "  dgcoverage scenario --circle elderly_care_15 --remove elderly_care_15-0001,elderly_care_15-0002",
        formatter_class=HelpFormatter,
    )
    sc.add_argument("--circle", required=True, metavar="ID", help="circle id of the config in use")
    add_run_options(sc, circle_choice=False)
    add_scenario_options(sc)
    from .batch import add_batch_parser

    add_batch_parser(sub, where, ids)
    return ap


def config_in_argv(argv: Sequence[str]) -> Path | None:
    """Return the ``--config`` given in ``argv`` (for the circle ids of ``--help``), or None."""
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if a.startswith("--config="):
            return Path(a.split("=", 1)[1])
    return None


def add_gpkg_option(p: argparse.ArgumentParser) -> None:
    """``--gpkg-crs``: the coordinate system of ``layers.gpkg`` (``run`` and ``site``)."""
    p.add_argument(
        "--gpkg-crs",
        metavar="CRS",
        help="coordinate system of the GIS layers (<circle>/layers.gpkg): EPSG:4326 WGS84 (default), EPSG:4490 "
        "CGCS2000, or a projected one such as EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38, Dongguan) or "
        "EPSG:32649 (UTM 49N); recorded in summary.json -> settings.gpkg_crs. GCJ-02 is no CRS and is refused",
    )


def add_site_options(p: argparse.ArgumentParser) -> None:
    """Options of ``dgcoverage site`` (and scripts/site_candidates.py) besides ``--circle``."""
    add_run_options(p, circle_choice=False)
    add_gpkg_option(p)
    p.add_argument("--k", type=int, default=10, metavar="N", help="number of new sites for MCLP, >= 1 (default 10)")
    p.add_argument(
        "--exact",
        action="store_true",
        help="also solve exactly (ILP, HiGHS) and report the greedy gap; prints the elapsed time while it runs",
    )
    p.add_argument(
        "--lscp",
        action="store_true",
        help="set cover instead of MCLP: the fewest sites covering every coverable uncovered person",
    )
    p.add_argument(
        "--lscp-share",
        type=float,
        default=1.0,
        metavar="SHARE",
        help="LSCP target share of coverable people, in (0, 1] (default 1)",
    )
    p.add_argument(
        "--lscp-villages",
        action="store_true",
        help="policy-literal cover instead of MCLP: fewest sites so every village reaches its covered share "
        "(100%% 覆盖村(社区))",
    )
    p.add_argument(
        "--candidates",
        type=Path,
        metavar="FILE",
        help="CSV/XLSX/GeoJSON of possible sites (replaces gap-cluster candidates)",
    )
    p.add_argument(
        "--candidates-crs",
        metavar="CRS",
        help="coordinate system of --candidates: wgs84 | gcj02 | bd09 (default as --facilities-crs)",
    )
    p.add_argument(
        "--site-capacity",
        type=float,
        metavar="SIZE",
        help="size of a new site in the unit of the circle's supply standard (m2 or beds) for candidates whose "
        "file gives none: the list then shows how much of each town's supply deficit the sites close",
    )
    p.add_argument(
        "--deficit-weight",
        type=float,
        default=0.0,
        metavar="A",
        help="MCLP weighs people by their town's supply shortfall: people x (1 + A x deficit / required supply) "
        "(circles with a supply standard; default 0: people only)",
    )
    p.add_argument(
        "--road-class",
        metavar="CLASSES",
        help="comma-separated OSM highway classes whose nodes are candidates, e.g. primary,secondary (OSM networks)",
    )
    p.add_argument("--with-gaps", action="store_true", help="add gap-cluster candidates to --candidates/--road-class")
    p.add_argument(
        "--min-spacing", type=float, metavar="M", help="minimum spacing of gap-cluster candidates, m (default: reach/4)"
    )
    p.add_argument(
        "--max-candidates", type=int, default=5000, metavar="N", help="cap on generated candidates (default 5000)"
    )
    p.add_argument("--max-per-town", type=int, metavar="N", help="at most N new sites per town (镇街), >= 1")
    p.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        metavar="S",
        help="time limit per exact solve, seconds > 0 (default 600); the best solution found by then is kept",
    )
    p.add_argument(
        "--exact-max-nnz",
        type=int,
        default=5_000_000,
        metavar="N",
        help="skip exact solves whose merged coverage matrix has more non-zeros (default 5,000,000)",
    )
