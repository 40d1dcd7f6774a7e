"""Candidate-site files: read and checked at the boundary.

A file of possible sites for new facilities (CSV/XLSX/GeoJSON in WGS84, GCJ-02 or
BD-09) is read like a facility file (:func:`dgcoverage.inputs.facilities.facilities_from_file`),
its warnings and errors re-worded to say "candidate sites" and to name the file
(:func:`candidate_wording`).  Each site's size (m² or beds) is read, when the
circle has a supply standard, from a capacity column
(:func:`dgcoverage.inputs.capacity.capacity_column`); a column of the other kind
(e.g. 床位数 for a fitness circle) is never read as this circle's and is said.
Snapping the sites to the network and rejecting unusable ones are steps of
:mod:`dgcoverage.pipeline.sites`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DgCoverageError, DgCoverageWarning, EmptyInputError
from .capacity import CAPACITY_COUNT_TEXT, capacity_column, capacity_from_table, unit_row_column
from .facilities import RAW_LINE, RAW_PREFIX, facilities_from_file

#: Columns every candidate source gives, in this order (then ``weight``, and ``capacity`` for files).
CANDIDATE_COLUMNS = ["site_id", "source", "name", "lon", "lat", "node", "snap_m"]


def cell_text(value: Any) -> str:
    """Return a cell as text (unchanged), missing values (None, NaN, NA), blanks and their spellings as ``""``."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    s = str(value)
    return "" if s.strip().lower() in {"", "nan", "none", "<na>", "nat"} else s


_CANDIDATE_WORDS = (
    (re.compile(r"--facilities-crs"), "--candidates-crs"),
    (re.compile(r"\bfacility file\b"), "candidate file"),
    (re.compile(r"\bFacilities\b"), "Candidate sites"),
    (re.compile(r"\bfacilities\b"), "candidate sites"),
    (re.compile(r"\bFacility\b"), "Candidate site"),
    (re.compile(r"\bfacility\b"), "candidate site"),
    (re.compile(r"for the time circle but not for the supply check"), "for coverage but close no supply deficit"),
)


def candidate_wording(text: str) -> str:
    """Say "candidate sites" where the shared facility reader's message says "facilities"."""
    for pat, repl in _CANDIDATE_WORDS:
        text = pat.sub(repl, text)
    return text


def _unit_row_header(table: pd.DataFrame, header: str | None) -> str | None:
    """Return the column the circle's ``capacity_column`` names (a unit row joined to it or not); ``None``: absent."""
    if not header:
        return None
    found = unit_row_column(table, header)
    return found if found in table.columns else None


#: Counted outcomes of :func:`~dgcoverage.inputs.capacity.capacity_from_table` that are warnings.
CAPACITY_WARNINGS = (
    "capacity_unknown",
    "capacity_column_missing",
    "capacity_implausible",
    "capacity_median_implausible",
    *CAPACITY_COUNT_TEXT,
)


def candidate_counts(counts: dict[str, int]) -> dict[str, int]:
    """Name the facility reader's counts (``facilities_*``, ``capacity_*``) as candidate warnings (``candidates_*``)."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        if int(n) > 0:
            name = key.replace("facilities_", "", 1).replace("facility_", "", 1)  # facility_rows_...: rows_...
            out[name if name.startswith("candidates_") else f"candidates_{name}"] = int(n)
    return out


@contextmanager
def _as_candidates(path: str | Path, said: list[str] | None = None) -> Iterator[None]:
    """Re-word the facility reader's warnings and errors for a candidate file, naming the file.

    Warnings are re-issued (as :class:`DgCoverageWarning`) with "candidate sites" for
    "facilities" and the file named when the message does not already name it (and appended to ``said``); a
    :class:`DgCoverageError` keeps its type (and exit code) with its message re-worded.
    """
    where = str(path)

    def named(msg: str) -> str:
        msg = candidate_wording(msg)
        return msg if where in msg else f"{where} (candidate sites): {msg}"

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except DgCoverageError as exc:
        exc.args = (named(str(exc)), *exc.args[1:])
        for attr in ("problem", "fix"):
            if isinstance(getattr(exc, attr, None), str):
                setattr(exc, attr, candidate_wording(getattr(exc, attr)))
        raise
    finally:
        for w in caught:
            cat = w.category if issubclass(w.category, DgCoverageWarning) else None
            if cat is None:  # not ours: pass it on unchanged
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            else:
                warnings.warn(named(str(w.message)), DgCoverageWarning, stacklevel=4)
                if said is not None:
                    said.append(named(str(w.message)))


def read_candidate_file(
    path: str | Path,
    crs: str | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    capacity_kind: str | None = None,
    capacity_header: str | None = None,
    capacity_unit: str | None = None,
    default_crs: str | None = None,
) -> pd.DataFrame:
    """Possible sites from a CSV/XLSX/GeoJSON file (lon/lat in ``crs``), with their sizes when asked.

    Parameters
    ----------
    path
        The candidate file, read like a facility file
        (:func:`dgcoverage.inputs.facilities.facilities_from_file`); its warnings and
        errors say "candidate sites" and name the file.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``; ``None``: what the columns say, else ``default_crs``, else refused
        with the fix (``--candidates-crs``): a datum is never guessed.
    default_crs
        The project's default system (``[settings] default_point_crs``).
    bounds
        WGS84 ``(west, south, east, north)`` of the study area: far-away rows are dropped (counted).
    capacity_kind
        ``"area_m2"`` or ``"beds"`` to read each site's size from a capacity
        column (:func:`dgcoverage.inputs.capacity.capacity_column`: 建筑面积(平方米),
        场地面积, 床位数, ``area_m2``, ``beds`` ... or ``capacity``); ``None``:
        sizes are not read.
    capacity_header
        Exact header to use when present (the circle's ``capacity_column``).
    capacity_unit
        The unit of the capacity column's numbers (the circle's ``capacity_unit``: ``"ha"``, ``"mu"`` ...);
        ``None``: the unit its header states (brackets, after a space, colon or slash, a unit row), else m²/beds.

    Returns
    -------
    pandas.DataFrame
        ``site_id, source, name, lon, lat`` (WGS84), ``weight`` (NaN) and ``capacity``
        (m² or beds; NaN = not given); ``attrs["capacity_column"]`` is the header read
        (``None`` when the file has none); ``attrs["input"]`` records the coordinate system used and where it
        came from (``crs``, ``crs_source``); ``attrs["warnings"]`` counts every warning said while reading
        (``candidates_*``; ``candidates_other_warnings``: said but counted under no other key).

    Raises
    ------
    EmptyInputError
        No candidate site inside the study area.
    """
    said: list[str] = []
    counts: dict[str, int] = {}
    with _as_candidates(path, said):
        gdf = facilities_from_file(
            path, crs, bounds=bounds, keep_columns=capacity_kind is not None, default_crs=default_crs
        )
        counts.update(candidate_counts(dict(gdf.attrs.get("warnings", {}))))
        capacity = np.full(len(gdf), np.nan)
        col = None
        if capacity_kind is not None and len(gdf):
            raw = [c for c in gdf.columns if str(c).startswith(RAW_PREFIX)]
            table = pd.DataFrame({c[len(RAW_PREFIX) :]: gdf[c].to_numpy() for c in raw})
            if RAW_LINE in gdf.columns:
                table.attrs["line"] = gdf[RAW_LINE].to_numpy()
            header = _unit_row_header(table, capacity_header)
            col = header if header is not None else capacity_column(table, capacity_kind)
            if col is None and "capacity" in table.columns:
                col = "capacity"
            other = "beds" if capacity_kind == "area_m2" else "area_m2"
            try:
                wrong = capacity_column(table, other) if col is None else None
            except DgCoverageError:  # several columns of the other kind: still not this circle's
                wrong = None
            if wrong is not None:  # e.g. 床位数 in a list for a fitness circle: never read as m²
                warnings.warn(
                    f"{path}: candidate sites: column {wrong!r} holds {other.replace('_m2', ' (m²)')}, but this "
                    f"circle's capacity is {capacity_kind.replace('_m2', ' (m²)')}: ignored, the sites' sizes are "
                    "not given by the file. Fix: add a column of the circle's kind (or name it with capacity_column)",
                    DgCoverageWarning,
                    stacklevel=2,
                )
                counts["candidates_capacity_other_kind"] = len(gdf)
            if col is not None:  # no column: sizes simply not given (no warning: a candidate list often has none)
                capacity, cap_counts = capacity_from_table(
                    table, capacity_kind, str(path), column=col, check_plausible=True, unit=capacity_unit
                )
                counts.update(candidate_counts({k: cap_counts.get(k, 0) for k in CAPACITY_WARNINGS}))
    if said and not counts:  # said, yet counted under no key: still counted
        counts["candidates_other_warnings"] = len(said)
    if len(gdf) == 0:
        raise EmptyInputError(
            f"{path}: no candidate site inside the study area. Fix: check the file's "
            "coordinate system (--candidates-crs wgs84|gcj02|bd09)."
        )
    out = pd.DataFrame(
        {
            "site_id": gdf["facility_id"].astype(str).to_numpy(),
            "source": "file",
            "name": gdf["name"].fillna("").astype(str).to_numpy(),
            "lon": gdf.geometry.x.to_numpy(),
            "lat": gdf.geometry.y.to_numpy(),
            "weight": np.nan,
            "capacity": capacity,
        }
    )
    out.attrs["capacity_column"] = col
    out.attrs["input"] = dict(gdf.attrs.get("input", {}))
    out.attrs["warnings"] = counts
    return out
