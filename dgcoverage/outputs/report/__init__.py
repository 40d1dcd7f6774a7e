"""Town report: ``report.xlsx`` (openpyxl) and ``report.html`` (a printable document with inline SVG).

The workbook, Chinese-first: an about sheet (说明), a town × circle comparison (镇街对比), the coverage
curves of every circle (覆盖曲线, with charts), and per circle a town sheet (镇街: village counts by status,
pass rates, the worst villages and, for circles with a supply standard, its columns), a village sheet
(村社区: every village's status, covered share, times and supply columns) and, when
``<candidates_dir>/<circle>/candidates.csv`` exists, a candidate-site sheet (候选点).  Every table sheet has
a frozen header row, an autofilter, widths that show the headers, thousands separators and % formats and a
landscape fit-to-width print setup (:func:`dgcoverage.core.io.style_table_sheet`).

The HTML document: contents with links, one section per circle (coverage curve, town table, top candidate
sites), the town × circle comparison (table and four small city maps), and an atlas with one page per
镇街 (its key numbers, one small map per circle of its villages coloured by covered share in graded
classes, and a village table).  Synthetic data is marked on every sheet and every printed page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .document import report_html, write_html
from .labels import (
    CITY_CODE,
    CLASS_BOUNDS,
    CLASS_COLOURS,
    CLASS_LABELS,
    NO_DATA_COLOUR,
    SUPPLY_SHORT,
    SYNTHETIC_MARK,
    share_class,
    supply_note,
)
from .svg import curve_svg, legend_html, village_map_svg
from .tables import (
    COLUMNS,
    ID_COLUMNS,
    SUPPLY_COLUMNS,
    WORST_N,
    columns_for,
    compare_table,
    report_candidates,
    town_rows,
)
from .workbook import SHEET_FORMATS, VILLAGE_COLUMNS, write_xlsx

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult

__all__ = [
    "CITY_CODE",
    "CLASS_BOUNDS",
    "CLASS_COLOURS",
    "CLASS_LABELS",
    "COLUMNS",
    "ID_COLUMNS",
    "NO_DATA_COLOUR",
    "SHEET_FORMATS",
    "SUPPLY_COLUMNS",
    "SUPPLY_SHORT",
    "SYNTHETIC_MARK",
    "VILLAGE_COLUMNS",
    "WORST_N",
    "columns_for",
    "compare_table",
    "curve_svg",
    "legend_html",
    "report_candidates",
    "report_html",
    "share_class",
    "supply_note",
    "town_rows",
    "village_map_svg",
    "write_html",
    "write_report",
    "write_xlsx",
]


def write_report(
    results: Sequence[CircleResult],
    out_dir: str | Path,
    maps_href: str | None = None,
    candidates_dir: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/report.xlsx`` and ``<out_dir>/report.html``.

    Parameters
    ----------
    results
        The circles of one run.
    out_dir
        Output folder.
    maps_href
        Relative href from ``out_dir`` to the maps folder (``None``: the report links to no maps).
    candidates_dir
        Folder holding ``<circle>/candidates.csv`` from ``dgcoverage site`` (default: ``out_dir``).

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The workbook and the HTML document.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    cdir = d if candidates_dir is None else Path(candidates_dir)
    return (
        write_xlsx(results, d / "report.xlsx", candidates_dir=cdir),
        write_html(results, d / "report.html", maps_href=maps_href, candidates_dir=cdir),
    )
