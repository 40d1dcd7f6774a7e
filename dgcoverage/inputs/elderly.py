"""The elderly (60+) raster: summed per town and checked against the people of the population raster."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from ..core.io import input_record
from ..errors import (
    DataMismatchError,
    DgCoverageError,
    DgCoverageWarning,
    InputFileError,
    InputNotFoundError,
)
from .population import PopulationGrid, population_from_raster

if TYPE_CHECKING:  # pragma: no cover
    pass
from .cells import points_in_polygons


def elderly_from_raster(
    path: Path,
    band: int | None,
    towns: gpd.GeoDataFrame,
    grid: PopulationGrid,
    crs: Any,
    inputs: dict[str, Any],
    counts: dict[str, int],
    cell_tree: Any = None,
    cells_out: dict[str, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """Sum an elderly (60+) raster per town into ``towns["elderly_raster"]``; check it against the people.

    With ``cells_out`` (a dict) its ``"cell_elderly"`` gets the people aged 60+ of each populated cell of ``grid``
    (:func:`elderly_per_cell`), for the equity figures of older people per town.

    A town whose elderly count exceeds its people (from the population raster) is refused: one of the two
    rasters is in other units or of another area; an excess below :func:`spill_tolerance` is resampling spill,
    capped and said (:func:`_resampling_spill`).  Shares above 40 % are counted and said.
    """
    from .population import share_outside

    b = towns[towns["has_polygon"]].to_crs(crs).total_bounds
    try:
        eg = population_from_raster(path, crs, bounds=(b[0] - 1000, b[1] - 1000, b[2] + 1000, b[3] + 1000), band=band)
    except InputNotFoundError as exc:
        raise InputNotFoundError(path, "elderly raster (--elderly-population)") from exc
    except InputFileError as exc:  # the reader speaks of the population raster and --band
        msg = str(exc).replace("--band", "--elderly-band").replace("population raster", "elderly raster")
        raise InputFileError(None, msg) from exc
    except DgCoverageError as exc:  # no CRS, no overlap, all zero ...: say which raster (the same type)
        exc.args = (_as_elderly(str(exc), path), *exc.args[1:])
        raise
    for k, n in eg.warnings.items():
        counts[f"elderly_{k}"] = n
    _, _, ex, ey, epop = eg.cells()
    _, _, px, py, ppop = grid.cells()
    poly = towns[towns["has_polygon"]].to_crs(crs)
    polys = poly.geometry.to_numpy()
    e_by = np.zeros(len(polys))
    p_by = np.zeros(len(polys))
    if len(ex):
        pi, gi = points_in_polygons(polys, ex, ey)
        np.add.at(e_by, gi, epop[pi])
    if len(px):
        pi, gi = points_in_polygons(polys, px, py, cell_tree)  # the study's cells: their tree is built
        np.add.at(p_by, gi, ppop[pi])
    band = _border_people(polys, ex, ey, epop, e_by > p_by, 2.0 * abs(float(eg.transform.a)))
    e_by = _resampling_spill(path, poly["town_name"].to_numpy(), e_by, p_by, band, counts)
    over = (e_by > p_by * 1.0001 + 0.5) & (e_by > 0)
    if over.any():
        names = ", ".join(
            f"{n} {e:,.0f} > {p:,.0f}" for n, e, p in zip(poly["town_name"][over], e_by[over], p_by[over])
        )
        raise DataMismatchError(
            f"{path}: the elderly raster holds more people aged 60+ than the population raster holds people in "
            f"{int(over.sum())} town(s) ({names[:300]}). Fix: check both rasters' units (people per pixel), year "
            "and area"
        )
    if eg.footprint is not None and len(polys):
        miss = np.asarray(share_outside(eg.footprint, polys), dtype=float)
        area = shapely.area(polys)
        outside = float((miss * area).sum() / area.sum()) if area.sum() > 0 else 0.0
        if outside > 0.001:
            counts["elderly_raster_misses_area"] = 1
            warnings.warn(
                f"{path}: the elderly raster does not cover {outside:.1%} of the study area, so the people aged "
                "60+ of the towns it misses are undercounted (and their beds per 1,000 elderly overstated). Fix: "
                "use an elderly raster covering every town",
                DgCoverageWarning,
                stacklevel=4,
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(p_by > 0, e_by / p_by, np.nan)
    low = np.isfinite(share) & (share < 0.01) & (p_by >= 1000)
    if low.any():
        counts["elderly_share_below_1pct"] = int(low.sum())
        warnings.warn(
            f"{path}: people aged 60+ are under 1 % of the people in {int(low.sum())} town(s) "
            f"({', '.join(poly['town_name'][low].tolist()[:5])}); check the raster's units (people per pixel, "
            "not thousands) and that it covers those towns",
            DgCoverageWarning,
            stacklevel=4,
        )
    high = np.isfinite(share) & (share > 0.4)
    if high.any():
        counts["elderly_share_above_40pct"] = int(high.sum())
        warnings.warn(
            f"{path}: people aged 60+ are over 40 % of the people in {int(high.sum())} town(s) "
            f"({', '.join(poly['town_name'][high].tolist()[:5])}); check that it is an elderly raster",
            DgCoverageWarning,
            stacklevel=4,
        )
    towns = towns.copy()
    towns["elderly_raster"] = np.nan
    towns.loc[poly.index, "elderly_raster"] = e_by
    if cells_out is not None:
        cells_out["cell_elderly"] = elderly_per_cell(ex, ey, epop, px, py, abs(float(grid.transform.a)))
    inputs["elderly"] = input_record(
        path, "elderly (60+) raster", total=round(float(eg.total), 1), band=eg.meta.get("band")
    )
    return towns


def elderly_per_cell(
    ex: np.ndarray, ey: np.ndarray, epop: np.ndarray, px: np.ndarray, py: np.ndarray, cell_m: float
) -> np.ndarray:
    """People aged 60+ of each populated cell (``px, py``): each elderly raster cell's to the nearest one.

    Elderly cells farther than 1.5 cells (``cell_m``) from any populated cell lie where the population raster
    has nobody and are left out.
    """
    out = np.zeros(len(px))
    if not len(ex) or not len(px):
        return out
    from scipy.spatial import cKDTree

    d, j = cKDTree(np.column_stack([px, py])).query(np.column_stack([ex, ey]), distance_upper_bound=1.5 * cell_m)
    ok = np.isfinite(d)
    np.add.at(out, j[ok], np.asarray(epop, dtype=float)[ok])
    return out


def _as_elderly(msg: str, path: Path) -> str:
    """Say that a raster reader's message is about the elderly raster (``--elderly-population``)."""
    msg = msg.replace("--band", "--elderly-band").replace("population raster", "elderly raster")
    msg = msg.replace("no population inside", "no people aged 60+ inside")
    where = f"{path}: "
    rest = msg[len(where) :] if msg.startswith(where) else msg
    return f"{where}elderly raster (--elderly-population): {rest}"


#: Resampling spill: an excess of people aged 60+ over the people of a town below the larger of these is taken as
#: the few people resampling one raster onto another grid moves across a border (capped, counted, said).
SPILL_MIN_PEOPLE = 50.0
SPILL_SHARE = 0.02


def spill_tolerance(people: np.ndarray, border: np.ndarray | None = None) -> np.ndarray:
    """Return the excess (people aged 60+ over people) per town still taken as resampling spill.

    ``max(50, 2 % of the town's people)``; for a town with (almost) no people (fewer than the excess) also up
    to the people aged 60+ the raster puts within two cells of the town's border (``border``), where resampling
    puts its neighbours' people.
    """
    people = np.asarray(people, dtype=float)
    tol = np.maximum(SPILL_MIN_PEOPLE, SPILL_SHARE * people)
    return tol if border is None else np.maximum(tol, np.asarray(border, dtype=float))


def _border_people(
    polys: np.ndarray, x: np.ndarray, y: np.ndarray, people: np.ndarray, which: np.ndarray, width: float
) -> np.ndarray:
    """People (of cells ``x, y``) inside each of the polygons ``which`` within ``width`` of its border (else 0)."""
    out = np.zeros(len(polys))
    idx = np.flatnonzero(which)
    if not len(idx) or not len(x):
        return out
    from .cells import points_in_polygons

    bands = shapely.intersection(polys[idx], shapely.buffer(shapely.boundary(polys[idx]), width))
    pi, gi = points_in_polygons(bands, x, y)
    np.add.at(out, idx[gi], people[pi])
    return out


def _resampling_spill(
    path: Path, names: np.ndarray, e_by: np.ndarray, p_by: np.ndarray, border: np.ndarray, counts: dict[str, int]
) -> np.ndarray:
    """Cap the elderly count of towns it exceeds by resampling spill only at their people; count and say it once.

    A correct elderly raster reprojected (to EPSG:4326, or at WorldPop's 3" grid) moves a few people across
    town borders, some into towns with (almost) no people (东莞港): an excess up to :func:`spill_tolerance`.  A
    larger excess is left for the caller to refuse.
    """
    excess = e_by - p_by
    empty = p_by <= excess  # (almost) nobody lives there: what lies along the border may all be spill
    spill = (excess > 0) & (excess <= spill_tolerance(p_by, np.where(empty, border, 0.0)))
    if not spill.any():
        return e_by
    counts["elderly_resampling_spill"] = int(spill.sum())
    shown = ", ".join(f"{n} {e:,.0f} > {p:,.0f}" for n, e, p in zip(names[spill], e_by[spill], p_by[spill]))
    warnings.warn(
        f"{path}: resampling spill: the elderly raster holds a few more people aged 60+ than the population raster "
        f"holds people in {int(spill.sum())} town(s) ({shown[:300]}), at most {excess[spill].max():,.0f} more, "
        "along their borders: what resampling a raster onto another grid moves across town borders (tolerated: "
        f"max({SPILL_MIN_PEOPLE:g} people, {SPILL_SHARE:.0%} of the town's people), or in a town with almost no "
        "people what lies within two cells of its border). Their people aged 60+ were capped at their people. "
        "Fix: none needed if both rasters are of the same source and year; else check them",
        DgCoverageWarning,
        stacklevel=5,
    )
    return np.where(spill, np.minimum(e_by, p_by), e_by)
