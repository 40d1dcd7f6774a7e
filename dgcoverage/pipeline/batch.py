"""Many regions on Dask (``dask.distributed``): one task per region, each the normal run of that region.

A task is :func:`region_task`: it loads the region's study (the road file read only within the region's towns
buffered by the longest reach, the population raster only within their window), loads each circle's facilities,
runs the circle and hands the results to a writer (``outputs.batch.write_region``: the region's usual tables, and
with ``maps=True`` its map pages and report, in one output set, with a manifest of its inputs' hashes and its
outline for the batch's overview page). The same steps as ``dgcoverage run --region``, so a region's
tables are byte for byte those of a single-region run.

:func:`run_batch` submits the tasks to a ``LocalCluster`` (``workers`` processes of one thread) or to a running
scheduler, reuses regions whose complete outputs were made from inputs with the same hashes, and returns one
outcome per region. A region that fails (a bad file, a refused input, a bug) comes back with its error in one line
while the others finish; a worker that dies mid-task has the task run again by the scheduler.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DgCoverageError, DgCoverageWarning
from ..inputs.batch import MANIFEST_NAME, BatchRegion, HashCache, region_inputs
from ..inputs.config import NETWORK_TYPE_FOR_MODE, Circle, Settings
from .precut import OSM_SUFFIXES
from .study import CircleResult, Study

#: The files every circle of a complete region has.
CIRCLE_FILES = ("villages.csv", "towns.csv", "summary.json")
#: The files a region run with maps has besides each circle's page ``maps/<circle>.html``.
MAP_FILES = ("report.xlsx", "report.html", "maps/index.html")

#: ``write(out_dir, [(study, result), ...], manifest)``: publishes one region's outputs as one set.
Writer = Callable[[Path, list[tuple[Study, CircleResult]], dict[str, Any]], Any]


def network_groups(region: BatchRegion, circles: Sequence[Circle]) -> dict[str, list[Circle]]:
    """Circles grouped by the OSM network type they need (one group when the road file is not OSM)."""
    osm = str(region.network).lower().endswith(OSM_SUFFIXES)
    groups: dict[str, list[Circle]] = {}
    for c in circles:
        groups.setdefault(NETWORK_TYPE_FOR_MODE.get(c.mode, "walk") if osm else "walk", []).append(c)
    return groups


def _network(
    region: BatchRegion, network_type: str, circles: Sequence[Circle], precut: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Return the region's road network (OSM: clipped to its towns plus the longest reach), record, and source.

    The source says how it was obtained: ``{"obtained": "precut", "file": ...}`` or ``{"obtained": "read"}``.

    With ``precut`` (a record of :func:`~dgcoverage.pipeline.precut.precut_networks`) the network is the one cut
    for this region from one read of the shared file (the same network); if that file is gone, it is read.
    """
    from ..core.io import file_sha256
    from ..inputs.network import network_from_file
    from .precut import clip_polygon, load_precut

    path = Path(region.network or "")
    record: dict[str, Any] = {"kind": "network", "path": str(path), "sha256": file_sha256(path)}
    if not str(path).lower().endswith(OSM_SUFFIXES):
        return network_from_file(path, network_type), {**record, "clip": {"mode": "none"}}, {"obtained": "read"}
    if precut is not None and precut.get("source_sha256") == record["sha256"]:
        net = load_precut(precut)
        if net is not None:  # cut by the first stage, with this task's clip (towns + reach) and its record
            net.meta["source"] = str(path)
            how = {"obtained": "precut", "file": precut["file"], "reused": bool(precut.get("reused"))}
            return net, {**record, "network_type": network_type, "clip": precut["clip"]}, how
    polygon, clip = clip_polygon(region, circles)
    record = {**record, "network_type": network_type, "clip": clip}
    return network_from_file(path, network_type, bbox=None, polygon=polygon), record, {"obtained": "read"}


def measure_region(
    region: BatchRegion,
    circles: Sequence[Circle],
    settings: Settings,
    networks: dict[str, dict[str, Any]] | None = None,
    obtained: dict[str, Any] | None = None,
) -> list[tuple[Study, CircleResult]]:
    """Run every circle on one region, as ``dgcoverage run --region`` does; return ``(study, result)`` pairs.

    ``networks`` maps network types to the region's cut networks (:mod:`dgcoverage.pipeline.precut`); how each
    network was obtained is put into ``obtained`` (by network type) when given.

    Raises
    ------
    DgCoverageError
        The region's inputs are refused (the error names the file and the fix), or a circle has no facility file.
    """
    from .facilities import load_facilities
    from .load import load_study
    from .run import run_circle

    if region.error is not None:
        raise DgCoverageError(region.error)
    pairs = []
    for network_type, group in network_groups(region, circles).items():
        net, record, how = _network(region, network_type, circles, (networks or {}).get(network_type))
        if obtained is not None:
            obtained[network_type] = how
        study = load_study(
            net,
            region.population,
            region.villages,
            None,
            network_type=network_type,
            settings=settings,
            towns=region.towns,
            city_code=region.code,
            city_name=region.city_name,
        )
        study.inputs["network"] = {**record, "fingerprint": study.net.fingerprint()}
        for circle in group:
            fac = region.facility_file(circle.id, len(circles))
            if fac is None:
                raise DgCoverageError(
                    f"{region.toml}: names no facilities for circle {circle.id}, and the batch gives none. Fix: "
                    f'add [facilities] {circle.id} = "file" to the region TOML, or pass --facilities (an OSM file '
                    "serves every circle)."
                )
            pairs.append((study, run_circle(study, circle, load_facilities(study, circle, fac))))
    order = {c.id: i for i, c in enumerate(circles)}
    return sorted(pairs, key=lambda p: order[p[1].circle.id])


def circle_row(region: BatchRegion, result: CircleResult) -> dict[str, Any]:
    """Return one row of the combined table: the city-wide row of the region's town table for one circle."""
    t = result.towns
    city = t[t["town_code"].astype(str) == str(result.city_code)].iloc[0]

    def num(col: str) -> float | None:
        v = city.get(col)
        return None if v is None or pd.isna(v) else float(v)

    return {
        "region": region.id,
        "region_name": str(city["town_name"]),
        "circle": result.circle.id,
        "status": "done",
        "population": num("population"),
        "covered_population": num("covered_population"),
        "pass_rate_population": num("pass_rate_population"),
        "pass_rate_villages": num("pass_rate_villages"),
        "villages": int(city["villages"]),
        "covered_only_by_outside": result.summary["results"]
        .get("cross_border", {})
        .get("people_covered_only_by_outside"),
        "supply_status": "" if pd.isna(city.get("supply_status", np.nan)) else str(city["supply_status"]),
        "synthetic": bool(result.summary["synthetic"]),
        "error": "",
    }


def failed_rows(region: BatchRegion, circle_ids: Sequence[str], error: str) -> list[dict[str, Any]]:
    """Return the rows of a region that failed: one per circle, marked failed, with the error."""
    name = region.city_name or region.name or region.id
    return [
        {"region": region.id, "region_name": name, "circle": c, "status": "failed", "error": error} for c in circle_ids
    ]


def one_line(exc: BaseException) -> str:
    """Return an error as one line: the message of an input problem, the type and message of anything else."""
    if isinstance(exc, DgCoverageError):
        text = str(exc)
    elif isinstance(exc, OSError) and getattr(exc, "filename", None):
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split())


def region_task(
    region: BatchRegion,
    circles: Sequence[Circle],
    settings: Settings,
    out_dir: str,
    write: Writer,
    manifest: dict[str, Any],
    networks: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run one region and publish its outputs; never raises: a failure comes back as an outcome with its error.

    ``networks``: the region's cut networks by network type (:func:`~dgcoverage.pipeline.precut.precut_networks`);
    without, the task reads its road file. How each network was obtained goes into the region's manifest
    (``"networks"``) and the outcome.

    Returns
    -------
    dict
        ``region``, ``status`` (``done``/``failed``), ``rows`` (of the combined table), ``error``, ``outline``
        (:func:`region_outline`, also kept in the manifest for the batch page of a rerun), ``warnings``
        (the distinct warnings about its inputs), ``seconds`` and the worker's ``pid``.
    """
    t0 = time.perf_counter()
    ids = [c.id for c in circles]
    obtained: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pairs = measure_region(region, circles, settings, networks, obtained)
            rows = [circle_row(region, res) for _, res in pairs]
            outline = region_outline(pairs[0][0]) if pairs else None
            write(Path(out_dir), pairs, {"inputs": manifest, "rows": rows, "outline": outline, "networks": obtained})
            status, error = "done", ""
        except Exception as exc:  # noqa: BLE001 - the region fails, the batch goes on
            rows, status, error, outline = failed_rows(region, ids, one_line(exc)), "failed", one_line(exc), None
    seen = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, DgCoverageWarning)))
    return {
        "region": region.id,
        "status": status,
        "rows": rows,
        "error": error,
        "outline": outline,
        "warnings": seen,
        "seconds": round(time.perf_counter() - t0, 3),
        "pid": os.getpid(),
        "networks": obtained,
    }


def region_outline(study: Study) -> dict[str, Any] | None:
    """Return the region's outline for the batch page: the union of its towns, WGS84, simplified to ~1/400 of its size.

    A GeoJSON geometry (coordinates to 6 decimals), or ``None`` when no town has a polygon.
    """
    import shapely

    towns = study.towns
    if "has_polygon" in towns:
        towns = towns[towns["has_polygon"].astype(bool)]
    if towns.empty:
        return None
    geom = shapely.union_all(towns.to_crs(4326).geometry.to_numpy())
    w, s, e, n = geom.bounds
    geom = shapely.set_precision(geom.simplify(max(e - w, n - s) / 400.0, preserve_topology=True), 1e-6)
    return None if geom.is_empty else json.loads(shapely.to_geojson(geom))


def stored_outline(out_dir: Path) -> dict[str, Any] | None:
    """Return the outline recorded in a region's manifest (``None``: an earlier version wrote none)."""
    try:
        old = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outline = old.get("outline") if isinstance(old, dict) else None
    return outline if isinstance(outline, dict) else None


def reusable(out_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Return the rows of a region whose complete outputs were made from the same inputs (else ``None``: run it).

    A manifest asking for maps (``"maps": true``) is met only by outputs that have them (the report and the map
    pages); outputs with maps also serve a run without (their maps were made from the same tables).
    """
    from ..core.outputset import pending_commit

    path = out_dir / MANIFEST_NAME
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or not isinstance(old.get("inputs"), dict) or pending_commit(out_dir):
        return None
    had_maps, want_maps = bool(old["inputs"].get("maps")), bool(manifest.get("maps"))
    if _without_maps(old["inputs"]) != _without_maps(manifest) or (want_maps and not had_maps):
        return None
    needed = [out_dir / c / f for c in manifest["circles"] for f in CIRCLE_FILES]
    if had_maps:
        needed += [out_dir / f for f in MAP_FILES] + [out_dir / "maps" / f"{c}.html" for c in manifest["circles"]]
    if not all(p.is_file() for p in needed):
        return None
    rows = old.get("rows")
    return [{**r, "status": "reused"} for r in rows] if isinstance(rows, list) else None


def _without_maps(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "maps"}


def _client(workers: int, scheduler: str | None) -> tuple[Any, Any]:
    """Return a Dask client of a running scheduler, or of a new LocalCluster of ``workers`` one-thread processes."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise DgCoverageError(
                f"--scheduler {scheduler}: no Dask scheduler answers there ({exc}). Fix: start one (dask scheduler; "
                "dask worker ADDRESS --nthreads 1 on each machine) and give its address, e.g. tcp://10.0.0.5:8786."
            ) from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run_batch(
    regions: Sequence[BatchRegion],
    out: str | Path,
    circles: Sequence[Circle],
    settings: Settings,
    write: Writer,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    force: bool = False,
    on_outcome: Callable[[dict[str, Any]], None] | None = None,
    maps: bool = False,
    precut: bool = True,
    on_precut: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``regions`` on Dask into ``<out>/<region id>/``; return one outcome per region (in the given order).

    Parameters
    ----------
    regions
        From :func:`~dgcoverage.inputs.batch.regions_from_folder`; a region carrying an error fails at once.
    out
        The batch's output folder.
    circles, settings
        The circles to run on every region (typed, with overrides) and the settings.
    write
        Publishes a region's outputs (``outputs.batch.write_region``); runs on the worker.
    workers
        Worker processes of the LocalCluster (one thread each); ignored with ``scheduler``.
    scheduler
        Address of a running Dask scheduler (``tcp://host:port``): the tasks go there.
    force
        Run every region, even those whose outputs match their inputs.
    on_outcome
        Called in the submitting process with each outcome as it arrives (the CLI prints it).
    maps
        Also write each region's map pages and report (``<out>/<id>/maps/``, ``report.html``, ``report.xlsx``), as
        ``dgcoverage run --region`` does with maps: recorded in the region's manifest (``"maps": true``), which
        ``outputs.batch.write_region`` follows, and a region whose outputs lack them is run again.
    precut
        Regions sharing one OSM file get their road windows cut from ONE read of it before the tasks start
        (:mod:`dgcoverage.pipeline.precut`, kept in ``<out>/.precut/`` for reruns); ``False``: each task reads
        the file itself (the same networks).
    on_precut
        Called with the cut stage's figures (files read, networks cut and reused, seconds) when it ran.

    Returns
    -------
    list of dict
        :func:`region_task`'s outcome, or ``status`` ``reused`` (the outputs were kept) or ``failed``.
    """
    out = Path(out).resolve()
    ids = [c.id for c in circles]
    hashes = HashCache()
    config = (tuple(circles), settings)
    outcomes: dict[str, dict[str, Any]] = {}
    todo: list[tuple[BatchRegion, dict[str, Any]]] = []

    def done(outcome: dict[str, Any]) -> None:
        outcomes[outcome["region"]] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    for region in regions:
        if region.error is not None:
            rows = failed_rows(region, ids, region.error)
            done({"region": region.id, "status": "failed", "error": region.error, "warnings": [], "rows": rows})
            continue
        manifest = region_inputs(region, ids, config, hashes)
        if maps:  # only then: the manifests of runs without maps stay those of earlier versions
            manifest["maps"] = True
        rows = None if force else reusable(out / region.id, manifest)
        if rows is not None:
            outline = stored_outline(out / region.id)
            done(
                {"region": region.id, "status": "reused", "rows": rows, "error": "", "outline": outline, "warnings": []}
            )
        else:
            todo.append((region, manifest))
    if todo:
        networks: dict[str, dict[str, dict[str, Any]]] = {}
        if precut:
            from .precut import precut_networks

            needs = [(r, list(network_groups(r, circles))) for r, _ in todo]
            networks, stats = precut_networks(needs, circles, out, hashes)
            if on_precut is not None and stats["cut"] + stats["reused"]:
                on_precut(stats)
        _submit(todo, out, circles, settings, write, workers, scheduler, done, networks)
    return [outcomes[r.id] for r in regions]


def _submit(
    todo: list[tuple[BatchRegion, dict[str, Any]]],
    out: Path,
    circles: Sequence[Circle],
    settings: Settings,
    write: Writer,
    workers: int,
    scheduler: str | None,
    done: Callable[[dict[str, Any]], None],
    networks: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> None:
    """Submit the regions' tasks (in the given order) and hand each outcome to ``done`` as it arrives."""
    from distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        run = uuid.uuid4().hex[:8]
        futures = {}
        for i, (region, manifest) in enumerate(todo):
            fut = client.submit(
                region_task,
                region,
                list(circles),
                settings,
                str(out / region.id),
                write,
                manifest,
                (networks or {}).get(region.id),
                key=f"dgcoverage-region-{region.id}-{run}",
                pure=False,
                priority=len(todo) - i,
            )
            futures[fut] = region
        for fut in as_completed(list(futures)):
            region = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task killed its workers every time
                error = f"the task was lost: {type(exc).__name__}: {' '.join(str(exc).split())}"
                rows = failed_rows(region, [c.id for c in circles], error)
                outcome = {"region": region.id, "status": "failed", "error": error, "warnings": [], "rows": rows}
            done(outcome)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
