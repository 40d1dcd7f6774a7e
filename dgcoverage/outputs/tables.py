"""A circle's tables: ``villages.csv``, ``towns.csv``, ``facilities.csv``, ``summary.json``, ``timing.json``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..compute.coverage import bilingual, bilingual_name, table_for_output
from ..core.io import write_csv, write_json
from ..inputs.quality import (
    facility_table,
)
from ..pipeline.study import CircleResult

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
    run-dependent ``timing_s`` goes to ``timing.json`` only.

    Returns
    -------
    pathlib.Path
        The circle's output folder.
    """
    d = Path(out_dir) / result.circle.id
    d.mkdir(parents=True, exist_ok=True)
    villages = pd.DataFrame(result.villages.drop(columns="geometry"))
    for name, table in (("villages.csv", villages), ("towns.csv", result.towns)):
        out, decimals = table_for_output(table)
        write_csv(bilingual(out), d / name, decimals={bilingual_name(c): n for c, n in decimals.items()})
    # timings differ between runs: they go to timing.json so summary.json is byte-identical for identical inputs
    write_json(result.summary.to_dict(timing=False), d / "summary.json")
    write_json({"circle": result.circle.id, "timing_s": result.summary.timing_s}, d / "timing.json")
    ftable, fdec = _facility_output(result)
    fdec = {"snap_m": 1, **fdec}
    write_csv(bilingual(ftable), d / "facilities.csv", decimals={bilingual_name(c): n for c, n in fdec.items()})
    return d


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
