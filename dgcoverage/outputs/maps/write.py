"""Write a maps folder: one page per circle, the overview and the shared outlines, linked to the report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import geopandas as gpd

from ...core.io import write_text
from ...core.outputset import STAGING_PREFIX
from ...inputs.config import load_config
from .circle import circle_map_html
from .common import HTML_KEY, OUTLINES_JS, html_key
from .geojson import outlines_js
from .layers import read_candidates
from .overview import index_map_html

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult, Study


def default_maps_dir(out_dir: str | Path, maps_dir: str | Path | None = None) -> Path:
    """Where maps go: ``maps_dir`` if given, ``maps/`` for the default output folder, else ``<out_dir>/maps``.

    Parameters
    ----------
    out_dir
        The output folder of the run.
    maps_dir
        The folder asked for, if any.

    Returns
    -------
    pathlib.Path
        The maps folder.
    """
    if maps_dir is not None:
        return Path(maps_dir)
    return Path("maps") if Path(out_dir) == Path("data/processed") else Path(out_dir) / "maps"


def _published(path: Path) -> Path:
    """Return the final place of a path inside an :class:`~dgcoverage.core.outputset.OutputSet` staging folder."""
    parts = [p for p in Path(os.path.abspath(path)).parts if not p.startswith(STAGING_PREFIX)]
    return Path(*parts)


def report_link(maps_dir: str | Path, out_dir: str | Path) -> str:
    """Relative ``href`` from the maps folder to ``<out_dir>/report.html`` (staging folders see through).

    Parameters
    ----------
    maps_dir
        Where the pages are written (may be a staging folder of the run).
    out_dir
        Where ``report.html`` is written (may be a staging folder of the run).

    Returns
    -------
    str
        A relative URL, e.g. ``../report.html`` or ``../out/report.html``, percent-encoded.
    """
    rel = os.path.relpath(_published(Path(out_dir)) / "report.html", _published(Path(maps_dir)))
    return "/".join(quote(p) for p in Path(rel).parts)


def scenario_page(p: Path) -> bool:
    """Whether a page of the maps folder is a scenario's (``scenario_<circle>.html``), not a circle's."""
    return p.stem.startswith("scenario_")


def write_maps(
    study: Study,
    results: Sequence[CircleResult],
    areas: dict[str, tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]],
    maps_dir: str | Path = "maps",
    out_dir: str | Path | None = None,
    index: bool = True,
) -> list[Path]:
    """Write ``<maps_dir>/<circle>.html`` for each result, ``<maps_dir>/index.html`` and the shared outlines.

    The village and town outlines are written once, to ``<maps_dir>/outlines.js`` (:data:`OUTLINES_JS`,
    also with ``index=False``), and every page loads them from there; keep the folder together.

    Parameters
    ----------
    study
        The study.
    results
        The circles' results.
    areas
        Per circle id: (service area, gap areas).
    maps_dir
        Where the pages go.
    out_dir
        The output folder: a circle's ``candidates.csv`` there (from ``dgcoverage site``) adds a ranked
        candidate-sites layer, and the pages link to its ``report.html`` (relative link).
    index
        Write the overview too (the circle pages link to it when it is written or already there).

    Returns
    -------
    list of pathlib.Path
        The pages written (the shared outlines file is not listed).
    """
    for res in results:  # ids name the page files and its links: refuse path separators, quotes, schemes
        html_key(res.circle.id)
    d = Path(maps_dir)
    d.mkdir(parents=True, exist_ok=True)
    report = report_link(d, out_dir) if out_dir is not None else None
    has_index = index or (_published(d) / "index.html").exists()
    circles = [(r.circle.id, r.circle.name_zh) for r in results]
    if not index:  # e.g. `dgcoverage site`: link the other circle pages already in the folder too
        ids = {c for c, _ in circles}
        known = {k: c.name_zh for k, c in load_config()[0].items()}  # names of the packaged circles
        for p in sorted(_published(d).glob("*.html")):
            if p.stem != "index" and p.stem not in ids and HTML_KEY.fullmatch(p.stem) and not scenario_page(p):
                circles.append((p.stem, known.get(p.stem, p.stem)))
    # the scenario pages `dgcoverage scenario` left in the folder: linked from their circle page and the overview
    scen = [r.circle.id for r in results if (_published(d) / f"scenario_{r.circle.id}.html").exists()]
    out = []
    for res in results:
        sa, gp = areas[res.circle.id]
        cands = read_candidates(out_dir, res.circle.id) if out_dir is not None else None
        page = circle_map_html(study, res, sa, gp, cands, True, circles, has_index, report, res.circle.id in scen)
        out.append(write_text(page, d / f"{res.circle.id}.html"))
    if index:
        out.append(write_text(index_map_html(study, results, True, report, scen), d / "index.html"))
    write_text(outlines_js(study), d / OUTLINES_JS)  # not in the returned list, which names the pages
    return out
