"""What ``run`` and ``site`` share.

Errors and warnings printed as lines; the study, the network and the facilities the options describe; the
output folders.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DgCoverageError
from ..inputs.clip import buffered_towns, circle_reach_m, clip_polygon_file, parse_clip
from ..inputs.config import NETWORK_TYPE_FOR_MODE, load_config


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
            print_warnings(caught, debug)
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            if debug:
                raise
            print_warnings(caught, debug)
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
            print_warnings(caught, debug)
            print(
                f"{prog}: internal error: {type(exc).__name__}: {exc}. Rerun with --debug for the traceback and "
                "report it with the inputs that caused it.",
                file=sys.stderr,
            )
            return 3
    print_warnings(caught, debug)
    return code


#: Warning categories that speak to developers (of dgcoverage's dependencies), not to users: shown with --debug.
DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


def print_warnings(caught: list[warnings.WarningMessage], debug: bool = False) -> None:
    """Print each distinct warning about the inputs or results once; libraries' own notices only with --debug."""
    from ..errors import DgCoverageWarning

    seen: set[str] = set()
    hidden = 0
    for w in caught:
        if not debug and issubclass(w.category, DEVELOPER_WARNINGS):
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


def study_from_args(
    args: argparse.Namespace, settings: Any, t0: float, network_type: str = "walk", circles: Sequence[Any] = ()
) -> Any:
    """Load the study the options describe, saying what was loaded (building the embedded default if needed).

    A network file or place is loaded here (clipped as ``--clip`` says) and handed to
    :func:`~dgcoverage.pipeline.load.load_study` as a ``RoadNetwork``; its record in
    ``inputs["network"]`` (path, SHA-256, network type, clip) is then written here.
    """
    from ..pipeline.load import load_study

    apply_region(args)
    ensure_demo(args)
    print("loading network, population and villages ...", flush=True)
    network, record = network_from_args(args, network_type, circles)
    region = {"towns": args.towns, "city_code": args.city_code, "city_name": args.city_name}
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
        **(region if getattr(args, "towns", None) is not None else {}),
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


OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".gz", ".xml")


def is_osm(args: argparse.Namespace) -> bool:
    """Whether the network comes from OSM (a file or ``--network-place``), so network types and clipping apply."""
    if getattr(args, "network_place", None):
        return True
    return args.network is not None and args.network.name.lower().endswith(OSM_SUFFIXES)


def apply_region(args: argparse.Namespace) -> None:
    """Fill the options a ``--region`` TOML names (towns, villages, network, population, facilities, code, name).

    What the command line gives wins; a region's facilities apply when it names one file.
    """
    if getattr(args, "region", None) is None:
        for key in ("towns", "city_code", "city_name"):
            setattr(args, key, getattr(args, key, None))
        return
    from ..inputs.region import read_region_toml

    reg = read_region_toml(args.region)
    for key, value in (
        ("towns", reg["towns"]),
        ("villages", reg["villages"]),
        ("network", reg.get("network")),
        ("population", reg.get("population")),
        ("city_code", reg["code"]),
        ("city_name", reg["city_name"]),
    ):
        if getattr(args, key, None) is None and value is not None:
            setattr(args, key, value)
    if getattr(args, "facilities", None) is None and len(reg["facilities"]) == 1:
        args.facilities = next(iter(reg["facilities"].values()))
    args.region = None  # applied once


def study_towns_for_clip(args: argparse.Namespace) -> Any:
    """Return the study's towns: the embedded default's when it supplies an input, else the real Dongguan layer."""
    import geopandas as gpd

    from ..inputs.embedded import DemoPaths
    from ..inputs.villages import dongguan_towns

    if getattr(args, "towns", None) is not None:  # a region: its own towns
        from ..inputs.region import read_units

        return read_units(args.towns, "towns").to_crs(4326).assign(has_polygon=True)
    demo = DemoPaths(args.data_dir)
    if (args.population is None or args.villages is None) and demo.towns.exists():
        return gpd.read_file(demo.towns)
    return dongguan_towns()


def resolve_clip(args: argparse.Namespace, circles: Sequence[Any]) -> tuple[dict[str, Any], Any, Any]:
    """Return the clip record and the ``(bbox, polygon)`` to load the network with."""
    kind, value = parse_clip(getattr(args, "clip", None))
    if kind == "auto" and not is_osm(args) and getattr(args, "clip", None) is None:
        kind = "none"  # a saved .npz is taken whole unless a clip is asked for
    if kind == "none":
        return {"mode": "none"}, None, None
    if kind == "bbox":
        return {"mode": "bbox", "bbox": list(value)}, value, None
    if kind == "file":
        from ..core.io import file_sha256

        return {"mode": "file", "path": str(value), "sha256": file_sha256(value)}, None, clip_polygon_file(value)
    reach = circle_reach_m(circles)
    towns = study_towns_for_clip(args)
    polygon = buffered_towns(towns, reach)
    record = {"mode": "auto", "towns": int(len(towns)), "reach_m": round(reach, 1)}
    return {**record, "bounds": [round(float(c), 6) for c in polygon.bounds]}, None, polygon


def network_from_args(args: argparse.Namespace, network_type: str, circles: Sequence[Any]) -> tuple[Any, Any]:
    """Load the network the options name, clipped; return it (None: the embedded default) and its record."""
    place = getattr(args, "network_place", None)
    if args.network is None and not place:
        if getattr(args, "clip", None) not in (None, "auto", "none"):
            raise DgCoverageError("--clip applies to --network or --network-place; neither was given")
        return None, None
    from ..inputs.network import clip_description, clip_network, network_from_file, network_from_place

    clip, bbox, polygon = resolve_clip(args, circles)
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
        from ..core.io import file_sha256

        net = network_from_file(args.network, network_type, bbox=bbox, polygon=polygon)
        record = {"kind": "network", "path": str(args.network), "sha256": file_sha256(args.network)}
        if is_osm(args):
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


def ensure_demo(args: argparse.Namespace) -> None:
    """Build the embedded default when an input is left to it and it has not been built yet."""
    from ..inputs.embedded import DemoPaths

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
        from ..demo.synthetic import build_demo

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


def check_options(args: argparse.Namespace) -> None:
    """Refuse option values that could never work, before anything is read (even options unused in this run)."""
    from ..inputs.coords import canonical_crs
    from ..inputs.preflight import check_input_files, check_place_name, check_region_files

    check_place_name(getattr(args, "network_place", None))
    check_input_files(named_files(args))  # every file named exists and opens, before anything is loaded
    check_region_files(getattr(args, "region", None))  # and every file a --region TOML names
    for opt in ("facilities_crs", "villages_crs", "candidates_crs"):
        if getattr(args, opt, None) is not None:
            canonical_crs(getattr(args, opt))
    if getattr(args, "gpkg_crs", None) is not None:  # the GIS layers' CRS: known, 2D, not GCJ-02
        from ..outputs.gpkg import layer_crs

        layer_crs(args.gpkg_crs)
    if getattr(args, "elderly_band", None) is not None and getattr(args, "elderly_population", None) is None:
        raise DgCoverageError("--elderly-band applies to --elderly-population, which was not given")
    for opt, low in (
        ("band", 1),
        ("elderly_band", 1),
        ("jobs", 1),
        ("k", 1),
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


#: Options naming input files (checked by :func:`~dgcoverage.inputs.preflight.check_input_files` first).
FILE_OPTIONS = (
    "network",
    "population",
    "elderly_population",
    "facilities",
    "villages",
    "towns",
    "region",
    "candidates",
    "config",
    "add",
)


def named_files(args: argparse.Namespace) -> dict[str, Any]:
    """Return the input files the options name, as ``{"--option": path}`` (``--clip`` when it names a file)."""
    named = {f"--{o.replace('_', '-')}": getattr(args, o, None) for o in FILE_OPTIONS}
    clip = (getattr(args, "clip", None) or "auto").strip()
    if clip.lower() not in ("auto", "none") and Path(clip).exists():  # else a bbox, or parse_clip says what it is not
        named["--clip"] = Path(clip)
    return named


def preflight(args: argparse.Namespace) -> int:
    """Refuse what the options will be refused for, before the heavy imports and any loading; return 0.

    The named files (exist, a file, readable), option values, the config and its circles, and combinations
    such as ``--site-capacity`` for a circle without a supply standard: a missing ``--facilities`` file is said
    in a fraction of a second.  Warnings are left to the command itself (said once).
    """
    ids = [args.circle] if isinstance(getattr(args, "circle", None), str) else None  # site, scenario: one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        circles_to_run(args, ids)
    return 0


def parsed_config(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Return the config ``--config`` names (or the packaged one), parsed once per command (preflight's, handed on).

    Kept on ``args`` with the path it was parsed from (the circles and settings are frozen dataclasses); a
    changed ``args.config`` is parsed anew.
    """
    kept = getattr(args, "_parsed_config", None)
    if kept is None or kept[0] != args.config:
        kept = (args.config, *load_config(args.config))
        args._parsed_config = kept
    return kept[1], kept[2]


def circles_to_run(args: argparse.Namespace, circle_ids: Sequence[str] | None) -> tuple[list[Any], Any]:
    """Return the circles the options name (checked against the config in use, with overrides) and the settings."""
    from ..inputs.preflight import check_site_capacity

    check_options(args)
    circles, settings = parsed_config(args)
    ids = list(circle_ids or (list(circles) if getattr(args, "all", False) else args.circle))
    unknown = [i for i in ids if i not in circles]
    if unknown:
        from .habits import did_you_mean

        hints = "".join(did_you_mean(i, circles) for i in unknown)
        raise DgCoverageError(
            f"circle {', '.join(unknown)} is not in the config"
            + (f" {args.config}" if args.config else " in use (the packaged circles.toml)")
            + f"{hints}; known: {', '.join(circles)}"
        )
    ids = list(dict.fromkeys(ids))
    for cid in ids:  # refused before anything is loaded
        check_site_capacity(circles[cid], getattr(args, "site_capacity", None))
    chosen = [
        circles[cid].with_overrides(
            minutes=args.minutes,
            speed_kmh=args.speed,
            access_speed_kmh=args.access_speed,
            mode=args.mode,
            speeds=getattr(args, "speeds", None),
        )
        for cid in ids
    ]
    return chosen, settings


def network_groups(args: argparse.Namespace, circles: Sequence[Any]) -> dict[str, list[Any]]:
    """Circles grouped by the OSM network type they need (one group when the network is not an OSM file)."""
    osm = is_osm(args)
    groups: dict[str, list[Any]] = {}
    for c in circles:
        nt = args.network_type or NETWORK_TYPE_FOR_MODE.get(c.mode, "walk")
        groups.setdefault(nt if osm else (args.network_type or "walk"), []).append(c)
    return groups


def output_dirs(args: argparse.Namespace, maps: bool) -> tuple[Path, Path | None]:
    """Check ``--out`` (and the maps folder) before any computation."""
    from ..core.outputset import check_output_dir
    from ..outputs.maps import default_maps_dir

    out = check_output_dir(args.out, "--out")
    maps_dir = default_maps_dir(args.out, getattr(args, "maps_dir", None))
    if maps:
        maps_dir = check_output_dir(maps_dir, "--maps-dir")
    elif not maps_dir.is_dir():
        maps_dir = None  # no maps now and none from before: nothing there to keep consistent
    return out, maps_dir


def print_counts(counts: dict[str, int], where: str = "summary.json") -> None:
    """Every counted warning, once (they are also in each ``where`` -> warnings)."""
    shown = {k: v for k, v in sorted(counts.items()) if v}
    if shown:
        print(
            f"counted warnings ({where} -> warnings): " + ", ".join(f"{k} {v:,}" for k, v in shown.items()),
            file=sys.stderr,
        )


def workers_from_args(args: argparse.Namespace) -> int:
    """Worker processes for the geometry and report steps: ``--jobs``, or the CPUs available (at most 4)."""
    from ..core.parallel import available_workers

    jobs = getattr(args, "jobs", None)
    return int(jobs) if jobs else min(4, available_workers())


def relative_href(target: Path | None, base: Path) -> str | None:
    """Return the link from files in ``base`` to the folder ``target`` (POSIX, relative), or None if there is none."""
    import os

    if target is None:
        return None
    try:
        return Path(os.path.relpath(Path(target).resolve(), Path(base).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def facilities_from_args(args: argparse.Namespace, study: Any, circle: Any) -> Any:
    """Load the circle's facilities as the options describe them."""
    from ..pipeline.facilities import load_facilities

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


def remove_stale(outset: Any, paths: list[Path]) -> list[Path]:
    """Schedule the existing ones of ``paths`` for removal at commit; return them."""
    found = [p for p in paths if p.exists()]
    for p in found:
        outset.remove(p)
    return found
