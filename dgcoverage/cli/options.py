"""The options of every subcommand (argparse): names, defaults, help."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_run_options(p: argparse.ArgumentParser, circle_choice: bool = True) -> None:
    """Options of ``dgcoverage run`` (and the per-circle scripts); ``circle_choice``: ``--circle``/``--all``."""
    if circle_choice:
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--circle", action="append", help="circle id of the config in use (repeatable)")
        g.add_argument("--all", action="store_true", help="run all circles in the config")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--network", type=Path, help=".osm/.osm.pbf file or saved .npz (default: embedded synthetic)")
    src.add_argument(
        "--network-place",
        help="download the network by place name through OSMnx (cached), e.g. 东莞市 or 'Dongguan, Guangdong, China'",
    )
    p.add_argument(
        "--clip",
        help="clip the network: auto (default for OSM files and --network-place: the study towns buffered by the "
        "longest circle's reach, minutes x speed) | none (whole file) | W,S,E,N (degrees) | a polygon file "
        "(GeoJSON, WGS84); default for a saved .npz: none",
    )
    p.add_argument(
        "--network-type",
        choices=NETWORK_TYPES,
        help="OSM network type for OSM files (default: each circle's mode: walk -> walk, bicycle -> bike, "
        "drive -> drive)",
    )
    p.add_argument(
        "--facilities", type=Path, help="facility CSV/XLSX/GeoJSON, or an .osm/.osm.pbf to take by the circle's tags"
    )
    p.add_argument(
        "--facilities-crs",
        help="coordinate system of the facility file: wgs84 | gcj02 | bd09 (default: the "
        "file's own; tables: what the column names say, else gcj02)",
    )
    p.add_argument("--sheet", help="workbook sheet of --facilities (needed when several sheets have coordinates)")
    p.add_argument(
        "--lon-col", help="longitude column of --facilities (needed when a table has several coordinate pairs)"
    )
    p.add_argument("--lat-col", help="latitude column of --facilities")
    p.add_argument("--population", type=Path, help="population GeoTIFF, any CRS (default: embedded synthetic)")
    p.add_argument("--band", type=int, help="band of a multi-band population raster (1-based)")
    p.add_argument(
        "--elderly-population",
        type=Path,
        help="GeoTIFF of people aged 60+ (any CRS): summed per town, the basis of beds per 1,000 elderly "
        "(default: [settings] elderly_population / elderly_share, else the documented share)",
    )
    p.add_argument("--elderly-band", type=int, help="band of a multi-band elderly raster (1-based)")
    p.add_argument(
        "--villages", type=Path, help="village points (CSV/XLSX lon/lat, GeoJSON) or polygons (GeoJSON 村界)"
    )
    p.add_argument(
        "--villages-crs",
        help="coordinate system of the village file: wgs84 | gcj02 | bd09 (default as --facilities-crs)",
    )
    p.add_argument("--villages-sheet", help="workbook sheet of --villages")
    p.add_argument("--villages-lon-col", help="longitude column of --villages")
    p.add_argument("--villages-lat-col", help="latitude column of --villages")
    p.add_argument("--minutes", type=float, help="override the circle's time limit (minutes)")
    p.add_argument("--speed", type=float, help="override the network speed (km/h)")
    p.add_argument("--access-speed", type=float, help="override the access-leg walking speed (km/h)")
    p.add_argument("--mode", choices=("walk", "bicycle", "drive"), help="override the travel mode label")
    p.add_argument("--config", type=Path, help="circle config TOML (default: packaged circles.toml)")
    p.add_argument(
        "--data-dir", type=Path, default=Path("data/raw"), help="embedded default folder (default: data/raw)"
    )
    p.add_argument("--out", type=Path, default=Path("data/processed"), help="output folder (default: data/processed)")
    p.add_argument("--maps-dir", type=Path, help="folder for the HTML maps (default: maps, or <out>/maps with --out)")
    p.add_argument("--no-maps", action="store_true", help="skip service areas, gap areas, maps and the town report")
    p.add_argument(
        "--jobs",
        type=int,
        help="processes for the service/gap areas and the report (default: the CPUs available, at most 4; "
        "1: one after another). Outputs are identical whatever the number",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")


NETWORK_TYPES = ("walk", "bike", "drive", "drive_service", "all", "all_public")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``dgcoverage`` argument parser."""
    ap = argparse.ArgumentParser(
        prog="dgcoverage", description="Public-service circle coverage for Dongguan's 村/社区."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "build-demo", help="build the embedded default dataset (real boundaries + SYNTHETIC roads/people/facilities)"
    )
    b.add_argument("--out", type=Path, default=Path("data/raw"))
    b.add_argument("--scale", type=float, default=1.0, help="street density multiplier (nodes grow ~scale^2)")
    b.add_argument("--seed", type=int, default=2020)
    b.add_argument("--towns", help="comma-separated NBS town codes to build only part of the city")
    b.add_argument("--debug", action="store_true")
    r = sub.add_parser("run", help="measure one or more circles and write tables")
    add_run_options(r)
    s = sub.add_parser("site", help="rank candidate sites for new facilities (MCLP / LSCP) -> <circle>/candidates.csv")
    s.add_argument("--circle", required=True, help="circle id of the config in use")
    add_site_options(s)
    return ap


def add_site_options(p: argparse.ArgumentParser) -> None:
    """Options of ``dgcoverage site`` (and scripts/site_candidates.py) besides ``--circle``."""
    add_run_options(p, circle_choice=False)
    p.add_argument("--k", type=int, default=10, help="number of new sites for MCLP (default 10)")
    p.add_argument("--exact", action="store_true", help="also solve exactly (ILP, HiGHS) and report the greedy gap")
    p.add_argument("--lscp", action="store_true", help="fewest sites covering every coverable uncovered person")
    p.add_argument("--lscp-share", type=float, default=1.0, help="LSCP target share of coverable people (default 1)")
    p.add_argument(
        "--lscp-villages",
        action="store_true",
        help="policy-literal cover: fewest sites so every village reaches its covered share (100%% 覆盖村(社区))",
    )
    p.add_argument(
        "--candidates", type=Path, help="CSV/XLSX/GeoJSON of possible sites (replaces gap-cluster candidates)"
    )
    p.add_argument(
        "--candidates-crs", help="coordinate system of --candidates: wgs84 | gcj02 | bd09 (default as --facilities-crs)"
    )
    p.add_argument(
        "--site-capacity",
        type=float,
        help="size of a new site in the unit of the circle's supply standard (m2 or beds) for candidates whose "
        "file gives none: the list then shows how much of each town's supply deficit the sites close",
    )
    p.add_argument(
        "--deficit-weight",
        type=float,
        default=0.0,
        help="MCLP weighs people by their town's supply shortfall: people x (1 + A x deficit / required supply) "
        "(circles with a supply standard; default 0: people only)",
    )
    p.add_argument("--road-class", help="comma-separated OSM highway classes whose nodes are candidates (OSM networks)")
    p.add_argument("--with-gaps", action="store_true", help="add gap-cluster candidates to --candidates/--road-class")
    p.add_argument("--min-spacing", type=float, help="minimum spacing of gap-cluster candidates, m (default: reach/4)")
    p.add_argument("--max-candidates", type=int, default=5000, help="cap on generated candidates (default 5000)")
    p.add_argument("--max-per-town", type=int, help="at most N new sites per town (镇街)")
    p.add_argument("--time-limit", type=float, default=600.0, help="time limit per exact solve, s (default 600)")
    p.add_argument(
        "--exact-max-nnz",
        type=int,
        default=5_000_000,
        help="skip exact solves whose merged coverage matrix has more non-zeros (default 5,000,000)",
    )
