"""A circle's tables: ``villages.csv``, ``towns.csv``, ``facilities.csv``, ``summary.json``, ``timing.json``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..compute.coverage import bilingual, bilingual_name, table_for_output
from ..core.io import cut_shares, is_share_column, write_csv, write_json
from ..inputs.quality import (
    facility_table,
)
from ..pipeline.study import CircleResult
from .sensitivity import write_sensitivity

if TYPE_CHECKING:  # pragma: no cover
    pass

#: Where the tables of a run go by default.
DEFAULT_OUT_DIR = Path("data/processed")


def write_circle(result: CircleResult, out_dir: str | Path = DEFAULT_OUT_DIR) -> Path:
    """Write ``<out_dir>/<circle>/villages.csv, towns.csv, facilities.csv, summary.json, timing.json``.

    For a circle with a supply standard the tables carry its columns (see :func:`run_circle`) and
    ``facilities.csv`` each facility's ``capacity`` (empty = unknown) and ``fca_ratio``.

    Every file is written atomically; CSVs are UTF-8 with BOM.  Identical
    inputs and settings give byte-identical CSVs and ``summary.json``; the
    run-dependent ``timing_s`` goes to ``timing.json`` only.  Shares are cut (floored) to their 6
    decimals, never rounded up (:func:`~dgcoverage.core.io.cut_shares`); village points to 7.

    Returns
    -------
    pathlib.Path
        The circle's output folder.
    """
    d = Path(out_dir) / result.circle.id
    d.mkdir(parents=True, exist_ok=True)
    for name, (table, decimals) in circle_tables(result).items():
        write_csv(table, d / f"{name}.csv", decimals=decimals)
    if result.sensitivity is not None:  # the circle at several speeds (--speeds): robust / fragile villages
        write_sensitivity(result.sensitivity, d)
    # timings differ between runs: they go to timing.json so summary.json is byte-identical for identical inputs
    write_json(result.summary.to_dict(timing=False), d / "summary.json")
    write_json({"circle": result.circle.id, "timing_s": result.summary.timing_s}, d / "timing.json")
    return d


def output_table(
    table: pd.DataFrame, extra: dict[str, int] | None = None, prepare: bool = True
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return a table as the outputs write it: bilingual headers, people as integers, shares cut; its decimals.

    Parameters
    ----------
    table
        A village, town or facility table keyed by English column ids.
    extra
        Decimals by column id that override :func:`~dgcoverage.compute.coverage.table_for_output`'s.
    prepare
        Pass the table through ``table_for_output`` (people as integers); ``False``: only the ``extra`` decimals.

    Returns
    -------
    table, decimals
        The table with ``"id 中文"`` headers (share columns cut to their decimals: what the CSV shows is the
        value) and the decimals of every float column by bilingual header.
    """
    out, decimals = table_for_output(table) if prepare else (table.copy(), {})
    decimals.update({k: v for k, v in (extra or {}).items() if k in out.columns})
    for c, n in decimals.items():
        if is_share_column(c):
            out[c] = cut_shares(out[c].to_numpy(dtype=float, na_value=np.nan), n)
    return bilingual(out), {bilingual_name(c): n for c, n in decimals.items()}


def circle_tables(result: CircleResult) -> dict[str, tuple[pd.DataFrame, dict[str, int]]]:
    """Return the tables of a circle as ``villages.csv``, ``towns.csv`` and ``facilities.csv`` hold them.

    The GIS layers (:func:`dgcoverage.outputs.gpkg.write_layers`) carry the same columns and values.

    Returns
    -------
    dict
        ``{"villages": (table, decimals), "towns": ..., "facilities": ...}`` (see :func:`output_table`).
    """
    villages = pd.DataFrame(result.villages.drop(columns="geometry"))
    ftable, fdec = _facility_output(result)
    return {
        "villages": output_table(villages, {"lon": 7, "lat": 7}),
        "towns": output_table(result.towns),
        "facilities": output_table(ftable, {"snap_m": 1, **fdec}, prepare=False),
    }


def _facility_output(result: CircleResult) -> tuple[pd.DataFrame, dict[str, int]]:
    """``facilities.csv`` (:func:`~dgcoverage.inputs.quality.facility_table`) with the supply columns of the circle.

    ``capacity`` (m² or beds; empty = unknown) with ``capacity_unit``, and ``fca_ratio``: the facility's
    capacity per person (or per 1,000) of the weighted demand in its catchment (2SFCA step 1).
    """
    fac = result.facilities
    table = facility_table(fac)
    if "capacity" not in fac.columns or not result.circle.has_supply:
        return table, {}
    # facility_table sorts its rows stably by these keys: sorting the same keys gives its row order
    key = pd.DataFrame(
        {
            c: fac[c].astype(str).to_numpy() if c in fac else np.full(len(fac), "", dtype=object)
            for c in ("facility_id", "name")
        }
    )
    key["lon"] = [f"{v:.7f}" for v in fac.geometry.x.to_numpy()]
    key["lat"] = [f"{v:.7f}" for v in fac.geometry.y.to_numpy()]
    order = key.sort_values(["facility_id", "name", "lon", "lat"], kind="stable").index.to_numpy()
    table["capacity"] = fac["capacity"].to_numpy(dtype=float)[order]
    table["capacity_unit"] = "m2" if result.circle.capacity == "area_m2" else "beds"
    decimals = {"capacity": 2}
    if "fca_ratio" in fac.columns:
        table["fca_ratio"] = fac["fca_ratio"].to_numpy(dtype=float)[order]
        decimals["fca_ratio"] = 6
    return table, decimals
