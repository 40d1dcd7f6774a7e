"""The synthetic cities of a run: built (or reused from the work folder) per scale, measured once each."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import log, run_step

QUICK_TOWNS = ["441900005", "441900006"]  # 万江街道, 莞城街道 (adjacent)


def step_build(root: str, scale: float, town_codes: list[str] | None) -> dict[str, Any]:
    """Build (or reuse) the synthetic city.

    Parameters
    ----------
    root
        Folder of the city; reused when its ``MANIFEST.json`` has the same scale and towns.
    scale
        City scale (see :func:`dgcoverage.demo.synthetic.build_demo`).
    town_codes
        Towns to build (``None``: the whole city).

    Returns
    -------
    dict
        ``time_s`` (nan when reused), ``cached`` and ``manifest`` (nodes, directed edges, cells, villages,
        facilities, towns).
    """
    root_p = Path(root)
    man = root_p / "MANIFEST.json"
    if man.exists() and (root_p / "network.npz").exists():
        m = json.loads(man.read_text())
        want = sorted(town_codes) if town_codes else None
        if (
            m.get("scale") == scale
            and (want is None or m.get("town_codes") == want)
            and (want is not None or len(m.get("town_codes", [])) > 30)
        ):
            return {"time_s": float("nan"), "cached": True, "manifest": _manifest_sizes(m)}
    from dgcoverage.demo.synthetic import build_demo

    t = time.perf_counter()
    m = build_demo(root_p, scale=scale, town_codes=town_codes)
    return {"time_s": time.perf_counter() - t, "cached": False, "manifest": _manifest_sizes(m)}


def _manifest_sizes(m: dict[str, Any]) -> dict[str, int]:
    return {
        "nodes": m["network"]["nodes"],
        "directed_edges": m["network"]["directed_edges"],
        "cells": m["population"]["cells_populated"],
        "villages_placed": m["villages"]["placed"],
        "villages_listed": m["villages"]["listed"],
        "facilities": m["facilities"],
        "towns": len(m.get("town_codes", [])),
    }


class _Cities:
    """The synthetic cities of one run by scale, with their core and full runs, each measured once."""

    def __init__(self, work: Path, tag: str, towns: list[str] | None, full_timeout: float) -> None:
        self.work, self.tag, self.towns, self.full_timeout = work, tag, towns, full_timeout
        self.core: dict[float, tuple[dict[str, Any], dict[str, Any], Path]] = {}
        self.full: dict[float, dict[str, Any]] = {}

    def root(self, sc: float) -> Path:
        """Return the folder of the city at scale ``sc``."""
        return self.work / f"{self.tag}-scale{sc:g}"

    def core_at(self, sc: float) -> tuple[dict[str, Any], dict[str, Any], Path]:
        """Return (dgcoverage, scipy floor, tables folder) at scale ``sc``, measuring them the first time."""
        if sc not in self.core:
            log.info("[benchmark] core at scale %g", sc)
            run_step("build", root=str(self.root(sc)), scale=sc, town_codes=self.towns)
            p2, out2 = self.work / f"{self.tag}-scale{sc:g}-problem", self.work / f"out-{sc:g}"
            d = run_step("dgcoverage", root=str(self.root(sc)), out=str(out2), pdir=str(p2))
            self.core[sc] = (d, run_step("scipy", pdir=str(p2)), out2)
        return self.core[sc]

    def full_at(self, sc: float) -> dict[str, Any]:
        """Return ``run --all`` with maps and report at scale ``sc`` (tables checked against the core run's)."""
        if sc not in self.full:
            ref = self.core_at(sc)[2]
            log.info("[benchmark] run --all with maps and report, scale %g", sc)
            folder = self.work / f"full-{self.tag}-scale{sc:g}"
            self.full[sc] = run_step(
                "full",
                root=str(self.root(sc)),
                out=str(folder / "out"),
                maps=str(folder / "maps"),
                ref_out=str(ref),
                timeout_s=self.full_timeout,
            )
        return self.full[sc]

    def growth_row(self, sc: float, with_full: bool) -> dict[str, Any]:
        """Return one row of the growth table."""
        d, f, _ = self.core_at(sc)
        row = {
            "scale": sc,
            **{k: d["sizes"][k] for k in ("nodes", "directed_edges", "cells", "facilities")},
            "time_s": d["time_s"],
            "load_s": d["load_s"],
            "peak_rss_mb": d["peak_rss_mb"],
            "access_s": sum(c["access_s"] for c in d["circles"].values()),
            "floor_s": f["time_s"],
        }
        if with_full:
            fu = self.full_at(sc)
            row["full"] = {k: fu.get(k) for k in ("time_s", "peak_rss_mb", "largest_page_mb", "phases", "timed_out")}
        return row
