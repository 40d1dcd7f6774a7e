"""Print setup of the workbook sheets: A4 landscape, never a printed letter under 8 pt.

Fit-to-width over a wide bilingual sheet printed the village sheets at about 2 pt.  Here a sheet is fitted to
the page width only when its columns then still print at :data:`MIN_PRINT_PT` or more; a wider sheet prints
over several pages wide, at the smallest scale that keeps :data:`MIN_PRINT_PT`, with its key columns (code and
name) repeated on every page (``print_title_cols``) beside the repeated header rows.
"""

from __future__ import annotations

import math
from typing import Any

from openpyxl.utils import get_column_letter

#: Smallest printed font size (points).
MIN_PRINT_PT = 8.0
#: A4 landscape (mm) and the margins set here (inches, as openpyxl stores them).
A4_LANDSCAPE_MM = (297.0, 210.0)
MARGIN_IN = {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5, "header": 0.25, "footer": 0.25}
#: Column ids that name a row (the key columns repeated on every page wide).
_KEY_IDS = ("name", "town_name", "site_id", "rank")
_DEFAULT_PT = 11.0  # openpyxl's default font (Calibri 11)
_DIGIT_PX = 7  # width of "0" in Calibri 11 at 96 dpi: Excel's column width unit


def column_px(width: float | None) -> int:
    """Return a column's width in pixels at 100 % (Excel's rule for a width in characters of the default font)."""
    w = 8.43 if width is None else float(width)
    return int(math.floor((256 * w + math.floor(128 / _DIGIT_PX)) / 256 * _DIGIT_PX))


def printable_px() -> float:
    """Return the width inside the margins of an A4-landscape page, in pixels at 100 % (96 per inch)."""
    inches = A4_LANDSCAPE_MM[0] / 25.4 - MARGIN_IN["left"] - MARGIN_IN["right"]
    return inches * 96


def sheet_px(ws: Any, cols: range | None = None) -> int:
    """Return the width of a sheet's used columns (or ``cols``, 1-based) in pixels at 100 %."""
    cols = cols or range(1, ws.max_column + 1)
    return sum(
        0
        if ws.column_dimensions[get_column_letter(j)].hidden
        else column_px(ws.column_dimensions[get_column_letter(j)].width)
        for j in cols
    )


def smallest_font(ws: Any, header_row: int) -> float:
    """Return the smallest font size (pt) of the header and the first rows of the table."""
    sizes = [
        float(c.font.sz) if c.font is not None and c.font.sz else _DEFAULT_PT
        for row in ws.iter_rows(min_row=header_row, max_row=min(ws.max_row, header_row + 20))
        for c in row
        if c.value is not None
    ]
    return min(sizes, default=_DEFAULT_PT)


def key_columns(ws: Any, header_row: int) -> int:
    """Return how many leading columns name a row (up to the first name column among the first four; at least 1)."""
    for cell in ws[header_row][:4]:
        if isinstance(cell.value, str) and cell.value.split(" ")[0] in _KEY_IDS:
            return int(cell.column)
    return 1


def set_print(ws: Any, header_row: int) -> float:
    """A4 landscape; fit to the page width if that keeps :data:`MIN_PRINT_PT`, else several pages wide.

    Parameters
    ----------
    ws
        A styled table sheet (column widths set, header at ``header_row``).
    header_row
        The header row (rows ``1..header_row`` repeat on every page).

    Returns
    -------
    float
        The print scale (1.0 = 100 %) the sheet prints at.
    """
    ps = ws.page_setup
    set_a4(ws)
    ws.print_title_rows = f"1:{header_row}"
    need = MIN_PRINT_PT / smallest_font(ws, header_row)
    fit = printable_px() / max(sheet_px(ws), 1)
    if fit >= need:  # the whole width on one page, at no less than 8 pt
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ps.fitToWidth, ps.fitToHeight, ps.scale = 1, 0, None
        return min(fit, 1.0)
    scale = math.ceil(need * 100)
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ps.fitToWidth = ps.fitToHeight = None
    ps.scale = scale
    ws.print_title_cols = f"A:{get_column_letter(key_columns(ws, header_row))}"
    return scale / 100


def set_a4(ws: Any) -> None:
    """A4 landscape with the margins of :data:`MARGIN_IN`, for a sheet without a table (about, curves)."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    for k, v in MARGIN_IN.items():
        setattr(ws.page_margins, k, v)


def filter_above_last_row(ws: Any, header_row: int) -> None:
    """Keep the last row (the city row) out of the autofilter, so sorting the towns leaves it at the bottom."""
    if ws.max_row > header_row + 1:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(ws.max_column)}{ws.max_row - 1}"
