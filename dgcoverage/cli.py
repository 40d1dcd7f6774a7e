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
from pathlib import Path
from typing import Any

from .config import NETWORK_TYPE_FOR_MODE, load_config
from .errors import DgCoverageError


def _add_run_options(p: argparse.ArgumentParser, circle_choice: bool = True) -> None:
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
    _add_run_options(r)
    s = sub.add_parser("site", help="rank candidate sites for new facilities (MCLP / LSCP) -> <circle>/candidates.csv")
    s.add_argument("--circle", required=True, help="circle id of the config in use")
    _add_site_options(s)
    return ap


def _add_site_options(p: argparse.ArgumentParser) -> None:
    """Options of ``dgcoverage site`` (and scripts/site_candidates.py) besides ``--circle``."""
    _add_run_options(p, circle_choice=False)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgcoverage`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "build-demo":
        return guarded(_build_demo, args)
    if args.command == "site":
        return guarded(site_from_args, args)
    return guarded(run_from_args, args)


def guarded(fn: Callable[..., int], args: argparse.Namespace, *extra: Any, prog: str = "dgcoverage") -> int:
    """Call ``fn(args, *extra)`` and print what went wrong as one line, never a traceback (``--debug`` re-raises).

    Warnings the library raised before an error are printed with it (each once).
    Exit codes: 0 done, 2 a problem with the inputs or options
    (:class:`DgCoverageError`, or the operating system refusing a file), 3 an
    internal error (a bug: ``--debug`` shows where).
    """
    debug = getattr(args, "debug", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = fn(args, *extra)
        except DgCoverageError as exc:
            if debug:
                raise
            _print_warnings(caught, debug)
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            if debug:
                raise
            _print_warnings(caught, debug)
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            print(
                f"{prog}: error: {where}{exc.strerror or exc}. Fix: check the path, its permissions and free disk "
                "space.",
                file=sys.stderr,
            )
            return 2
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; published outputs are unchanged", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the last guard: one line instead of a traceback
            if debug:
                raise
            _print_warnings(caught, debug)
            print(
                f"{prog}: internal error: {type(exc).__name__}: {exc}. Rerun with --debug for the traceback and "
                "report it with the inputs that caused it.",
                file=sys.stderr,
            )
            return 3
    _print_warnings(caught, debug)
    return code


#: Warning categories that speak to developers (of dgcoverage's dependencies), not to users: shown with --debug.
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


def _print_warnings(caught: list[warnings.WarningMessage], debug: bool = False) -> None:
    """Print each distinct warning about the inputs or results once; libraries' own notices only with --debug."""
    from .errors import DgCoverageWarning

    seen: set[str] = set()
    hidden = 0
    for w in caught:
        if not debug and issubclass(w.category, _DEVELOPER_WARNINGS):
            continue
        if not debug and not issubclass(w.category, DgCoverageWarning):
            hidden += 1
            continue
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            print(f"warning: {text}", file=sys.stderr)
    if hidden:
        print(f"({hidden} notice(s) from the libraries used were not shown; --debug shows them)", file=sys.stderr)


def _build_demo(args: argparse.Namespace) -> int:
    from .synthetic import build_demo

    t0 = time.perf_counter()
    codes = [c.strip() for c in args.towns.split(",")] if args.towns else None
    m = build_demo(args.out, scale=args.scale, seed=args.seed, town_codes=codes)
    net = m["network"]
    print(
        f"built embedded default in {args.out} ({time.perf_counter() - t0:.1f} s) — SYNTHETIC roads, people and "
        "facilities"
    )
    print(
        f"  network {net['nodes']:,} nodes / {net['directed_edges']:,} directed edges; "
        f"{m['population']['cells_populated']:,} populated cells, {m['population']['total']:,} people; "
        f"{m['villages']['placed']}/{m['villages']['listed']} villages placed; facilities {m['facilities']}"
    )
    return 0


def _load_study(
    args: argparse.Namespace, settings: Any, t0: float, network_type: str = "walk", circles: Sequence[Any] = ()
) -> Any:
    """Load the study the options describe, saying what was loaded (building the embedded default if needed).

    A network file or place is loaded here (clipped as ``--clip`` says) and handed to
    :func:`~dgcoverage.pipeline.load_study` as a ``RoadNetwork``; its record in
    ``inputs["network"]`` (path, SHA-256, network type, clip) is then written here.
    """
    from .pipeline import load_study

    _ensure_demo(args)
    print("loading network, population and villages ...", flush=True)
    network, record = _cli_network(args, network_type, circles)
    study = load_study(
        network,
        args.population,
        args.villages,
        args.villages_crs,
        args.data_dir,
        network_type,
        settings,
        population_band=args.band,
        villages_sheet=args.villages_sheet,
        villages_lon_col=args.villages_lon_col,
        villages_lat_col=args.villages_lat_col,
        elderly=args.elderly_population,
        elderly_band=args.elderly_band,
    )
    if record is not None:
        study.inputs["network"] = {**record, "fingerprint": study.net.fingerprint()}
    print(
        f"  {study.net.n_nodes:,} nodes, {study.net.n_edges:,} edges, {len(study.cell_pop):,} populated cells, "
        f"{len(study.villages)} villages ({time.perf_counter() - t0:.1f} s)"
        + ("  [SYNTHETIC DATA]" if study.synthetic else ""),
        flush=True,
    )
    for key in ("network", "population", "elderly", "villages"):
        line = describe_input(key, study.inputs.get(key, {}))
        if line:
            print(f"  {line}", flush=True)
    return study


_OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".gz", ".xml")


def _is_osm(args: argparse.Namespace) -> bool:
    """Whether the network comes from OSM (a file or ``--network-place``), so network types and clipping apply."""
    if getattr(args, "network_place", None):
        return True
    return args.network is not None and args.network.name.lower().endswith(_OSM_SUFFIXES)


def parse_clip(value: str | None) -> tuple[str, Any]:
    """Parse ``--clip``: ``("auto", None)``, ``("none", None)``, ``("bbox", (W, S, E, N))`` or ``("file", Path)``.

    Parameters
    ----------
    value
        The option's text (``None``: not given, which counts as ``auto``).

    Returns
    -------
    tuple
        The kind and its value.

    Raises
    ------
    DgCoverageError
        A malformed bounding box or a missing polygon file (one line, exit 2).
    """
    text = "auto" if value is None else value.strip()
    if text.lower() in ("auto", "none"):
        return text.lower(), None
    if "," in text and not Path(text).exists():
        try:
            w, s, e, n = (float(c) for c in text.split(","))
        except ValueError:
            raise DgCoverageError(
                f"--clip {value!r}: a bounding box is four numbers W,S,E,N in degrees, e.g. 113.5,22.6,114.3,23.2"
            ) from None
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise DgCoverageError(
                f"--clip {value!r}: need west < east within -180..180 and south < north within -90..90 (degrees)"
            )
        return "bbox", (w, s, e, n)
    path = Path(text)
    if not path.is_file():
        raise DgCoverageError(
            f"--clip {value!r}: not auto, none, a bounding box W,S,E,N or an existing polygon file (GeoJSON)"
        )
    return "file", path


def _clip_polygon_file(path: Path) -> Any:
    """Read a polygon file (any CRS geopandas reads; WGS84 when undeclared) as one WGS84 (Multi)Polygon."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input
        raise DgCoverageError(f"--clip {path}: cannot read it as a polygon file: {exc}") from None
    if gdf.crs is not None:
        gdf = gdf.to_crs("EPSG:4326")
    geom = gdf.geometry.union_all() if len(gdf) else None
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise DgCoverageError(f"--clip {path}: holds no polygon (need Polygon or MultiPolygon features)")
    return geom


def circle_reach_m(circles: Sequence[Any]) -> float:
    """Return the longest network reach of the circles in metres: minutes x speed (30 min at 12 km/h -> 6,000 m)."""
    return max((float(c.minutes) * float(c.speed_kmh) * 1000.0 / 60.0 for c in circles), default=0.0)


def buffered_towns(towns: Any, reach_m: float, tolerance_m: float = 100.0) -> Any:
    """Return the towns' union buffered by ``reach_m`` metres, as one WGS84 (Multi)Polygon.

    The union is buffered in its UTM zone by ``reach_m + tolerance_m`` and then
    simplified by ``tolerance_m``, so the result is light to test points
    against and still contains every point within ``reach_m`` of a town.
    """
    import geopandas as gpd

    towns = towns[towns["has_polygon"]] if "has_polygon" in towns else towns
    utm = towns.estimate_utm_crs()
    area = towns.to_crs(utm).geometry.union_all().buffer(reach_m + tolerance_m).simplify(tolerance_m)
    return gpd.GeoSeries([area], crs=utm).to_crs("EPSG:4326").iloc[0]


def _study_towns_for_clip(args: argparse.Namespace) -> Any:
    """Return the study's towns: the embedded default's when it supplies an input, else the real Dongguan layer."""
    import geopandas as gpd

    from .embedded import DemoPaths
    from .villages import dongguan_towns

    demo = DemoPaths(args.data_dir)
    if (args.population is None or args.villages is None) and demo.towns.exists():
        return gpd.read_file(demo.towns)
    return dongguan_towns()


def _resolve_clip(args: argparse.Namespace, circles: Sequence[Any]) -> tuple[dict[str, Any], Any, Any]:
    """Return the clip record and the ``(bbox, polygon)`` to load the network with."""
    kind, value = parse_clip(getattr(args, "clip", None))
    if kind == "auto" and not _is_osm(args) and getattr(args, "clip", None) is None:
        kind = "none"  # a saved .npz is taken whole unless a clip is asked for
    if kind == "none":
        return {"mode": "none"}, None, None
    if kind == "bbox":
        return {"mode": "bbox", "bbox": list(value)}, value, None
    if kind == "file":
        from .io import file_sha256

        return {"mode": "file", "path": str(value), "sha256": file_sha256(value)}, None, _clip_polygon_file(value)
    reach = circle_reach_m(circles)
    towns = _study_towns_for_clip(args)
    polygon = buffered_towns(towns, reach)
    record = {"mode": "auto", "towns": int(len(towns)), "reach_m": round(reach, 1)}
    return {**record, "bounds": [round(float(c), 6) for c in polygon.bounds]}, None, polygon


def _cli_network(args: argparse.Namespace, network_type: str, circles: Sequence[Any]) -> tuple[Any, Any]:
    """Load the network the options name, clipped; return it (None: the embedded default) and its record."""
    place = getattr(args, "network_place", None)
    if args.network is None and not place:
        if getattr(args, "clip", None) not in (None, "auto", "none"):
            raise DgCoverageError("--clip applies to --network or --network-place; neither was given")
        return None, None
    from .network import clip_description, clip_network, network_from_file, network_from_place

    clip, bbox, polygon = _resolve_clip(args, circles)
    if bbox is not None or polygon is not None:
        clip["key"] = clip_description(bbox, polygon)
    print(f"  clip: {describe_clip(clip)}", flush=True)
    if place:
        from shapely.geometry import box

        within = polygon if polygon is not None else (box(*bbox) if bbox is not None else None)
        # auto: the place grown by the longest reach (roads just outside that people inside use), cut to the clip
        buffer_m = float(clip.get("reach_m", 0.0)) if clip.get("mode") == "auto" else 0.0
        net = clip_network(network_from_place(place, network_type, buffer_m=buffer_m, within=within), bbox, polygon)
        record: dict[str, Any] = {"kind": "network (OSMnx place)", "place": place, "network_type": network_type}
    else:
        from .io import file_sha256

        net = network_from_file(args.network, network_type, bbox=bbox, polygon=polygon)
        record = {"kind": "network", "path": str(args.network), "sha256": file_sha256(args.network)}
        if _is_osm(args):
            record["network_type"] = network_type
    return net, {**record, "clip": clip}


def describe_clip(clip: dict[str, Any]) -> str:
    """One line saying how the network was clipped."""
    mode = clip.get("mode")
    if mode == "none":
        return "none (the whole network)"
    if mode == "bbox":
        return "bbox W,S,E,N = " + ",".join(f"{c:g}" for c in clip["bbox"])
    if mode == "file":
        return f"polygon file {clip['path']}"
    bounds = ", ".join(f"{c:.4f}" for c in clip.get("bounds", ()))
    return f"auto: {clip['towns']} study towns buffered by {clip['reach_m']:,.0f} m (bounds {bounds})"


def _ensure_demo(args: argparse.Namespace) -> None:
    """Build the embedded default when an input is left to it and it has not been built yet."""
    from .embedded import DemoPaths

    uses_demo = (
        (args.network is None and not getattr(args, "network_place", None))
        or args.population is None
        or args.villages is None
        or args.facilities is None
    )
    paths = DemoPaths(args.data_dir)
    if uses_demo and not paths.built:
        if paths.root.is_dir() and any(paths.root.iterdir()):  # never write the generator's files over a user's
            present = sorted(p.name for p in paths.root.iterdir())[:8]
            raise DgCoverageError(
                f"{paths.root}: --data-dir is not a complete embedded default (it holds {present}, but not all of "
                "MANIFEST.json, network.npz and population_100m.tif), and it is not empty, so it is not rebuilt "
                "over your files. Fix: point --data-dir at an empty or missing folder to build the default there, "
                "or give your inputs with --network, --population, --villages and --facilities."
            )
        from .synthetic import build_demo

        print(
            f"building the embedded default dataset in {args.data_dir} (SYNTHETIC roads, people and facilities; "
            "a few seconds) ...",
            flush=True,
        )
        build_demo(args.data_dir)


def describe_input(key: str, rec: dict[str, Any]) -> str:
    """One line saying which file was read how: coordinate system (and why), columns, sheet, band."""
    if not rec.get("path"):
        return ""
    parts = [f"{key}: {rec['path']}"]
    if rec.get("sheet") is not None:
        parts.append(f"sheet {rec['sheet']!r}")
    if rec.get("header_line") not in (None, 1):
        parts.append(f"header on row {rec['header_line']}")
    if rec.get("lon_column"):
        parts.append(f"columns {rec['lon_column']}/{rec['lat_column']}")
    if rec.get("crs"):
        parts.append(f"read as {rec['crs']} ({rec.get('crs_source', 'declared')})")
    if rec.get("band") is not None:
        parts.append(f"band {rec['band']}")
    if rec.get("network_type"):
        parts.append(f"network type {rec['network_type']}")
    return ", ".join(parts)


def _check_options(args: argparse.Namespace) -> None:
    """Refuse option values that could never work, before anything is read (even options unused in this run)."""
    from .coords import canonical_crs

    for opt in ("facilities_crs", "villages_crs", "candidates_crs"):
        if getattr(args, opt, None) is not None:
            canonical_crs(getattr(args, opt))
    if getattr(args, "elderly_band", None) is not None and getattr(args, "elderly_population", None) is None:
        raise DgCoverageError("--elderly-band applies to --elderly-population, which was not given")
    for opt, low in (
        ("band", 1),
        ("elderly_band", 1),
        ("jobs", 1),
        ("k", 0),
        ("max_candidates", 1),
        ("exact_max_nnz", 1),
    ):
        v = getattr(args, opt, None)
        if v is not None and v < low:
            raise DgCoverageError(f"--{opt.replace('_', '-')} must be >= {low}, got {v}")
    for opt in ("time_limit", "min_spacing"):
        v = getattr(args, opt, None)
        if v is not None and not (0 < v < float("inf")):
            raise DgCoverageError(f"--{opt.replace('_', '-')} must be a positive number, got {v}")
    if (getattr(args, "lon_col", None) is None) != (getattr(args, "lat_col", None) is None):
        raise DgCoverageError("--lon-col and --lat-col go together: give both")
    if (getattr(args, "villages_lon_col", None) is None) != (getattr(args, "villages_lat_col", None) is None):
        raise DgCoverageError("--villages-lon-col and --villages-lat-col go together: give both")
    parse_clip(getattr(args, "clip", None))


def _circles_to_run(args: argparse.Namespace, circle_ids: Sequence[str] | None) -> tuple[list[Any], Any]:
    """Return the circles the options name (checked against the config in use, with overrides) and the settings."""
    _check_options(args)
    circles, settings = load_config(args.config)
    ids = list(circle_ids or (list(circles) if getattr(args, "all", False) else args.circle))
    unknown = [i for i in ids if i not in circles]
    if unknown:
        raise DgCoverageError(
            f"circle(s) {unknown} are not in the config"
            + (f" {args.config}" if args.config else "")
            + f"; known: {list(circles)}"
        )
    ids = list(dict.fromkeys(ids))
    chosen = [
        circles[cid].with_overrides(
            minutes=args.minutes, speed_kmh=args.speed, access_speed_kmh=args.access_speed, mode=args.mode
        )
        for cid in ids
    ]
    return chosen, settings


def _network_groups(args: argparse.Namespace, circles: Sequence[Any]) -> dict[str, list[Any]]:
    """Circles grouped by the OSM network type they need (one group when the network is not an OSM file)."""
    osm = _is_osm(args)
    groups: dict[str, list[Any]] = {}
    for c in circles:
        nt = args.network_type or NETWORK_TYPE_FOR_MODE.get(c.mode, "walk")
        groups.setdefault(nt if osm else (args.network_type or "walk"), []).append(c)
    return groups


def _output_dirs(args: argparse.Namespace, maps: bool) -> tuple[Path, Path | None]:
    """Check ``--out`` (and the maps folder) before any computation."""
    from .maps import default_maps_dir
    from .outputs import check_output_dir

    out = check_output_dir(args.out, "--out")
    maps_dir = default_maps_dir(args.out, getattr(args, "maps_dir", None))
    if maps:
        maps_dir = check_output_dir(maps_dir, "--maps-dir")
    elif not maps_dir.is_dir():
        maps_dir = None  # no maps now and none from before: nothing there to keep consistent
    return out, maps_dir


def _print_counts(counts: dict[str, int]) -> None:
    """Every counted warning, once (they are also in each summary.json -> warnings)."""
    shown = {k: v for k, v in sorted(counts.items()) if v}
    if shown:
        print(
            "counted warnings (summary.json -> warnings): " + ", ".join(f"{k} {v:,}" for k, v in shown.items()),
            file=sys.stderr,
        )


def run_from_args(args: argparse.Namespace, circle_ids: Sequence[str] | None = None) -> int:
    """Run circles as the parsed arguments say; used by the CLI and the per-circle scripts.

    Every file of the run is staged and published together (:class:`~dgcoverage.outputs.OutputSet`):
    a failed, killed or concurrent run never leaves a mixed set.
    """
    from tqdm.auto import tqdm

    from .outputs import OutputSet
    from .pipeline import run_circle, write_circle

    circles, settings = _circles_to_run(args, circle_ids)
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
    out, maps_dir = _output_dirs(args, maps)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    stale: list[Path] = []
    with OutputSet(out, *([maps_dir] if maps_dir else []), hint="--out") as outset:
        stage = outset.stage(out)
        results, pairs, study = [], [], None
        for network_type, group in _network_groups(args, circles).items():
            study = _load_study(args, settings, t0, network_type, circles)
            counts.update(study.warnings)
            for circle in tqdm(group, desc="circles", unit="circle", disable=len(group) == 1):
                fac = _facilities(args, study, circle)
                if args.facilities is not None:
                    tqdm.write(f"  {describe_input('facilities', fac.attrs['input_record'])}")
                res = run_circle(study, circle, fac)
                write_circle(res, stage)
                for name in ("candidates.csv", "candidates.xlsx", "candidates.geojson", "siting_summary.json"):
                    outset.remove(out / circle.id / name)  # made against the previous measurement: stale now
                if not maps:  # areas and the circle's map of an earlier run would contradict the new tables
                    stale += _remove_stale(
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
                    pairs.append((study, res))
                    results.append(res)
                r = res.summary["results"]
                tqdm.write(
                    f"{circle.id:18s} {circle.minutes:g} min @ {circle.speed_kmh:g} km/h: population covered "
                    f"{r['covered_share']:.1%}, villages covered {r['village_pass_rate']:.1%} -> "
                    f"{out / circle.id}" + ("  [SYNTHETIC]" if res.summary["synthetic"] else "")
                )
        if not maps:
            stale += _remove_stale(
                outset, [out / "report.xlsx", out / "report.html"] + ([maps_dir / "index.html"] if maps_dir else [])
            )
        if results:
            from .maps import write_maps

            areas = _areas_and_report(pairs, stage, _relative_href(maps_dir, out), _workers(args))
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
    _print_counts(counts)
    return 0


def _workers(args: argparse.Namespace) -> int:
    """Worker processes for the geometry and report steps: ``--jobs``, or the CPUs available (at most 4)."""
    from .parallel import available_workers

    jobs = getattr(args, "jobs", None)
    return int(jobs) if jobs else min(4, available_workers())


def _areas_and_report(
    pairs: Sequence[tuple[Any, Any]], stage: Path, maps_href: str | None, workers: int
) -> dict[str, Any]:
    """Write every circle's service and gap areas and the report, on ``workers`` processes; return the areas."""
    from functools import partial

    from .gaps import write_areas
    from .parallel import run_jobs
    from .report import write_html, write_xlsx

    results = [r for _, r in pairs]
    jobs = [  # the longest first
        partial(write_xlsx, results, stage / "report.xlsx", candidates_dir=stage),
        partial(write_html, results, stage / "report.html", maps_href=maps_href, candidates_dir=stage),
    ]
    jobs += [partial(write_areas, s, r, stage) for s, r in pairs]
    done = run_jobs(jobs, workers)
    return {r.circle.id: a for r, a in zip(results, done[2:])}


def _relative_href(target: Path | None, base: Path) -> str | None:
    """Return the link from files in ``base`` to the folder ``target`` (POSIX, relative), or None if there is none."""
    import os

    if target is None:
        return None
    try:
        return Path(os.path.relpath(Path(target).resolve(), Path(base).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def _facilities(args: argparse.Namespace, study: Any, circle: Any) -> Any:
    """Load the circle's facilities as the options describe them."""
    from .pipeline import load_facilities

    return load_facilities(
        study,
        circle,
        args.facilities,
        args.facilities_crs,
        args.data_dir,
        sheet=args.sheet,
        lon_col=args.lon_col,
        lat_col=args.lat_col,
    )


def _remove_stale(outset: Any, paths: list[Path]) -> list[Path]:
    """Schedule the existing ones of ``paths`` for removal at commit; return them."""
    found = [p for p in paths if p.exists()]
    for p in found:
        outset.remove(p)
    return found


def site_from_args(args: argparse.Namespace, circle_id: str | None = None) -> int:
    """``dgcoverage site``: load, measure the existing facilities, generate candidates, optimise, write.

    The circle's tables, areas and map are written again beside the candidates (all from this
    invocation, published together); if they differ from the last ``run`` (other inputs), the
    town report and overview made by that run are removed rather than left inconsistent.
    """
    from . import siting
    from .candidates import build_candidates, default_spacing_m, plan_sites, write_sites
    from .gaps import write_areas
    from .maps import write_maps
    from .outputs import OutputSet
    from .pipeline import run_circle, write_circle

    if args.k < 0:
        raise DgCoverageError("--k must be >= 0")
    if args.max_per_town is not None and args.max_per_town < 1:
        raise DgCoverageError("--max-per-town must be >= 1")
    if not 0 < args.lscp_share <= 1:
        raise DgCoverageError("--lscp-share must be in (0, 1]")
    (circle,), settings = _circles_to_run(args, [circle_id or args.circle])
    cid = circle.id
    out, maps_dir = _output_dirs(args, True)
    t0 = time.perf_counter()
    with OutputSet(out, maps_dir, hint="--out") as outset:
        stage = outset.stage(out)
        network_type = next(iter(_network_groups(args, [circle])))
        study = _load_study(args, settings, t0, network_type, [circle])
        fac = _facilities(args, study, circle)
        base = run_circle(study, circle, fac)
        print(
            f"  {len(fac):,} existing facilities cover "
            f"{base.summary['results']['covered_share']:.1%} of people ({time.perf_counter() - t0:.1f} s)",
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
            f"  {len(cands.table):,} candidate sites {cands.generated}; rejected "
            f"{ {k: v for k, v in cands.rejected.items() if v} }",
            flush=True,
        )
        res = plan_sites(
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
        res.summary["inputs"] = {
            **base.summary["inputs"],
            "candidates": {
                "file": None if args.candidates is None else str(args.candidates),
                "crs": args.candidates_crs,
                "road_class": road,
                "gap_clusters": gaps,
                "min_spacing_m": args.min_spacing or default_spacing_m(circle),
            },
        }
        d = write_sites(res, cid, stage)
        changed = _measurement_changed(out / cid / "summary.json", write_circle(base, stage) / "summary.json")
        m = write_maps(
            study, [base], {cid: write_areas(study, base, stage)}, outset.stage(maps_dir), out_dir=stage, index=False
        )
        if changed:
            for stale in (out / "report.xlsx", out / "report.html", maps_dir / "index.html"):
                if stale.exists():
                    outset.remove(stale)
        outset.commit()
    print(f"  map with candidate sites -> {maps_dir / m[0].name}", flush=True)
    if changed:
        print(
            f"  {cid} was measured on other inputs or settings than the last `dgcoverage run` in {out}: its tables "
            "were replaced and the town report and overview (made from the old measurement) removed; run "
            "`dgcoverage run --all` to make them again",
            file=sys.stderr,
        )
    for key, s in res.summary["solutions"].items():
        print(
            f"  {key:12s} sites {s['sites']:5d}  new people {s['covered_population']:>12,.0f}  "
            f"{s['status']:10s} {s['seconds']:.1f} s"
        )
    for key in ("mclp_gap_greedy_vs_exact", "lscp_gap_greedy_vs_exact", "lscp_villages_gap_greedy_vs_exact"):
        if res.summary.get(key) is not None:
            print(f"  {key}: {res.summary[key]:.4%}")
    if res.summary["objective"]["deficit_weight"]:
        print(f"  MCLP objective: {res.summary['objective']['mclp']} (deficit_weight {args.deficit_weight:g})")
    _print_site_supply(res.summary.get("supply") or {})
    print(
        f"{cid}: {len(res.table)} ranked sites -> {out / d.name / 'candidates.csv'}"
        + ("  [SYNTHETIC]" if res.summary["synthetic"] else "")
    )
    _print_counts({k: v for k, v in base.summary["warnings"].items()})
    return 0


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
    """Whether a circle's new ``summary.json`` differs from the published one (absent counts as unchanged)."""
    return published.exists() and published.read_bytes() != staged.read_bytes()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
