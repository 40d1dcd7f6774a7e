"""Writing outputs safely: atomic files, Excel-friendly CSV/XLSX, stable JSON.

Outputs are opened by planners in Excel, so nothing we write may be evaluated
there, and numbers must be written exactly:

* **Text that looks like a formula** — a text cell starting with one of
  :data:`GUARD_CHARS` (``=``, ``+``, ``-``, ``@``, tab, carriage return) — is
  written to CSV with a leading apostrophe (:func:`guard_text`,
  :func:`guard_frame`), in every column and in the headers; a text cell that
  is a plain decimal number (:data:`PLAIN_NUMBER`, e.g. ``-0.1234567``,
  ``+3``, ``-12.5e3``) is left as is, and numeric columns are never touched.
  In XLSX the exact text is stored as a string cell instead (never a formula,
  never an error value) and marked with Excel's quote prefix
  (:func:`guard_workbook`, :func:`save_workbook`).
* **Numbers** (:func:`write_csv`): integer columns as integers, float columns
  with a fixed number of decimals (6 unless told otherwise, NaN empty) —
  never ``%g``, so a population of 10,466,625 stays 10466625.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl import Workbook

_UMASK = os.umask(0)
os.umask(_UMASK)

#: First characters that make Excel (and LibreOffice, Google Sheets) read a CSV text cell as a formula.
GUARD_CHARS = ("=", "+", "-", "@", "\t", "\r")
#: A plain decimal number written as text (ASCII digits only, no spaces or separators): left unguarded.
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Fixed decimals of float columns in :func:`write_csv` unless told otherwise.
DEFAULT_DECIMALS = 6
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is left as
    it was, so an interrupted run never leaves a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give outputs the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------- formula guard


def needs_guard(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula.

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    bool
        ``True`` for a ``str`` starting with one of :data:`GUARD_CHARS` that is
        not a plain decimal number (:data:`PLAIN_NUMBER`); ``False`` for
        everything else (numbers, ``None``, NaN, other text).
    """
    return isinstance(value, str) and value.startswith(GUARD_CHARS) and PLAIN_NUMBER.fullmatch(value) is None


def guard_text(value: Any) -> Any:
    """Prefix formula-like text with an apostrophe (the CSV formula guard).

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    Any
        ``"'" + value`` when :func:`needs_guard` holds (``'=HYPERLINK(...)``),
        else ``value`` unchanged (numbers, plain-number text such as
        ``"-0.1234567"``, ordinary text).
    """
    return "'" + value if needs_guard(value) else value


def unguard_text(value: Any) -> Any:
    """Undo :func:`guard_text` on a value read back from one of our CSVs (for display).

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    Any
        ``value[1:]`` for an apostrophe followed by formula-like text (``'=x`` -> ``=x``), else ``value``.
    """
    return value[1:] if isinstance(value, str) and value.startswith("'") and needs_guard(value[1:]) else value


def guard_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with :func:`guard_text` applied to every text cell and column header.

    Numeric, boolean and datetime columns are returned unchanged; in other
    columns only ``str`` values are touched.

    Parameters
    ----------
    df
        Any table.

    Returns
    -------
    pandas.DataFrame
        The guarded copy (same index, same column order).
    """
    out = df.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if _is_number_column(col) or pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue
        vals = col.astype(object).to_numpy()
        if any(needs_guard(v) for v in vals):
            out.isetitem(j, pd.Series([guard_text(v) for v in vals], index=out.index, dtype=object))
    out.columns = [guard_text(c) for c in out.columns]
    return out


def _is_number_column(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)


# ---------------------------------------------------------------- CSV


def _decimals_for(col: Any, decimals: int | Mapping[str, int]) -> int:
    if isinstance(decimals, Mapping):
        name = str(col)
        n = decimals.get(name, decimals.get(name.split(" ")[0], DEFAULT_DECIMALS))
    else:
        n = decimals
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"decimals for column {col!r} must be an integer >= 0, got {n!r}")
    return int(n)


def _fixed(v: Any, n: int) -> Any:
    """Format a float as fixed-decimal text (``-0.000000`` as ``0.000000``); NaN/NA stay missing (empty)."""
    if v is None or v is pd.NA:
        return v
    f = float(v)
    if math.isnan(f):
        return None
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    s = f"{f:.{n}f}"
    return s[1:] if s.startswith("-") and not s.strip("-0.") else s


def _is_float(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) and not isinstance(v, bool)


def format_numbers(df: pd.DataFrame, decimals: int | Mapping[str, int] = DEFAULT_DECIMALS) -> pd.DataFrame:
    """Return a copy of ``df`` with float values as fixed-decimal text (the CSV number rule).

    Parameters
    ----------
    df
        Any table.
    decimals
        Decimals of every float column, or a mapping ``column -> decimals``
        (a key may be the full column name or its id before the first space,
        as in bilingual headers ``"lon 经度(WGS84)"``); unlisted columns get
        :data:`DEFAULT_DECIMALS`.

    Returns
    -------
    pandas.DataFrame
        Integer and boolean columns unchanged (written as integers / ``True``);
        float columns, and float values inside text columns, as text with
        exactly ``decimals`` decimals (never ``%g``); NaN as missing (empty);
        ``±inf`` as ``inf``/``-inf``; ``-0.000000`` as ``0.000000``.
    """
    out = df.copy()
    for j, name in enumerate(out.columns):
        col = out.iloc[:, j]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
            continue
        if pd.api.types.is_float_dtype(col.dtype):
            n = _decimals_for(name, decimals)
            vals = col.to_numpy(dtype=float, na_value=np.nan)
            out.isetitem(j, pd.Series([_fixed(v, n) for v in vals.tolist()], index=out.index, dtype=object))
        elif col.dtype == object:
            vals = col.to_numpy()
            if any(_is_float(v) for v in vals):
                n = _decimals_for(name, decimals)
                out.isetitem(
                    j, pd.Series([_fixed(v, n) if _is_float(v) else v for v in vals], index=out.index, dtype=object)
                )
    return out


def _one_line(v: Any) -> Any:
    # Python < 3.13's csv writer does not quote a bare CR, which Excel reads as a row break (and a new
    # row could start with "="): write CR as LF, Excel's in-cell line break, which is always quoted.
    return v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) and "\r" in v else v


def write_csv(
    df: pd.DataFrame,
    path: str | Path,
    float_format: str | None = None,
    *,
    decimals: int | Mapping[str, int] = DEFAULT_DECIMALS,
) -> Path:
    """Write a CSV as UTF-8 with BOM (opens correctly in Excel), atomically, formula-safe and with exact numbers.

    Parameters
    ----------
    df
        The table (its index is not written).
    path
        Output file.
    float_format
        Deprecated route kept for existing callers: a printf format for float
        columns (e.g. ``"%.7f"``) passed to pandas; when given it wins over
        ``decimals``.
    decimals
        Fixed decimals of float columns, or a per-column mapping (see
        :func:`format_numbers`).  Integer columns are written as integers,
        NaN as an empty cell.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Every text cell and header passes :func:`guard_frame` (a leading
    apostrophe on formula-like text).  A carriage return inside text is
    written as a line feed so the cell is quoted and cannot split the row.
    Identical input gives byte-identical output.
    """
    path = Path(path)
    out = guard_frame(df)
    if float_format is None:
        out = format_numbers(out, decimals)
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if _is_number_column(col) or pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue
        vals = col.astype(object).to_numpy()
        if any(isinstance(v, str) and "\r" in v for v in vals):
            out.isetitem(j, pd.Series([_one_line(v) for v in vals], index=out.index, dtype=object))
    out.columns = [_one_line(c) for c in out.columns]
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig", float_format=float_format, lineterminator="\n")
    return path


def read_output_csv(path: str | Path) -> pd.DataFrame | None:
    """Read back a CSV written by :func:`write_csv` with bilingual headers, as text, keyed by the English ids.

    Headers ``"id 中文"`` become ``"id"``; the formula guard is removed from text (names appear as the
    planner wrote them). Returns ``None`` when the file does not exist or has no rows.

    Parameters
    ----------
    path
        A ``candidates.csv``, ``villages.csv`` … written by dgcoverage.

    Returns
    -------
    pandas.DataFrame or None
        Every cell as ``str`` (empty cells ``NaN``).
    """
    p = Path(path)
    if not p.exists():
        return None
    df = pd.read_csv(p, encoding="utf-8-sig", dtype=str)
    df.columns = [str(c).split(" ")[0] for c in df.columns]
    df = df.map(unguard_text)
    return df if len(df) else None


# ---------------------------------------------------------------- XLSX


def sheet_title(name: Any, taken: Iterable[str] = ()) -> str:
    r"""Derive a valid, unique Excel sheet name from data.

    Characters Excel forbids (``[ ] : * ? / \``) and control characters become
    ``_``, a leading/trailing apostrophe too; the name is cut to 31 characters,
    ``"Sheet"`` if empty, and made unique (case-insensitively, as Excel
    compares) against ``taken`` by a ``~2``, ``~3`` … suffix.

    Parameters
    ----------
    name
        The wished name (e.g. a circle id).
    taken
        Names already used in the workbook.

    Returns
    -------
    str
    """
    s = _SHEET_BAD.sub("_", str(name))
    if s.startswith("'"):
        s = "_" + s[1:]
    if s.endswith("'"):
        s = s[:-1] + "_"
    s = s[:31] or "Sheet"
    if s.lower() == "history":  # reserved by Excel
        s += "_"
    used = {t.lower() for t in taken}
    base, k = s, 2
    while s.lower() in used:
        suffix = f"~{k}"
        s = base[: 31 - len(suffix)] + suffix
        k += 1
    return s


def xlsx_text(value: Any) -> Any:
    r"""Make text an XLSX cell can hold: control characters XML forbids become U+FFFD (others unchanged).

    openpyxl refuses such characters (``IllegalCharacterError``), so a name with
    a stray ``\x01`` would otherwise stop the whole workbook from being written.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def xlsx_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`xlsx_text` applied to every text cell and header."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(xlsx_text)
    out.columns = [xlsx_text(c) for c in out.columns]
    return out


def text_width(value: Any) -> int:
    """Display width of a cell value in Excel character units (CJK and other wide characters count 2)."""
    import unicodedata

    s = "" if value is None else str(value)
    return max(
        (sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in s.split("\n")), default=0
    )


#: Number formats by column id (the English id, the first word of a bilingual header); see :func:`style_table_sheet`.
NUMBER_FORMATS: dict[str, str] = {"population": "#,##0", "covered_population": "#,##0"}


def is_share_column(cid: str) -> bool:
    """Whether a column id holds a share or rate (shown as %, and cut, never rounded up: :func:`cut_shares`)."""
    low = str(cid).lower()
    return "share" in low or "rate" in low or low.endswith(("_pct", "_frac"))


def cut_shares(values: Any, decimals: int) -> np.ndarray:
    """Cut (floor) shares to ``decimals`` decimals: the one rounding rule of every output.

    A share is never shown above its true value, so a village below the 达标 rule (0.899665) can never
    read as 90.0 %: cut to 3 decimals it is 0.899 (89.9 %).  A value within 1e-9 of a unit of the last
    decimal below it counts as that unit (float noise: ``0.29 * 1000`` is 289.99999999999994); that is
    the 1e-12 tolerance of the status rule at 3 decimals and less at more.  NaN and ±inf are left as they are.

    Parameters
    ----------
    values
        A number or an array of numbers (shares in [0, 1]).
    decimals
        Decimals of the share as a fraction: 3 for a ``0.0%`` format, 6 for the CSVs.

    Returns
    -------
    numpy.ndarray
        The cut values (float64, same shape).
    """
    a = np.asarray(values, dtype=np.float64)
    unit = 10.0**decimals
    with np.errstate(invalid="ignore"):
        cut = np.floor(a * unit + 1e-9) / unit
    return np.where(np.isfinite(a), cut, a)


#: How the workbooks show shares (:func:`style_table_sheet`), for their 说明 sheets.
SHARE_NOTE = (
    "比例按显示位数截断、不四舍五入（单元格存的即为截断值，如 0.899665 存为 0.899、显示 89.9%，不会显示为 90.0%）；"
    "6 位小数的值见 CSV。 Shares are cut to the decimals shown, never rounded up: the cell holds the cut value "
    "(0.899665 is stored as 0.899 and shown 89.9 %, never 90.0 %); the CSVs give 6 decimals."
)


def percent_decimals(fmt: str) -> int | None:
    """Decimals of the fraction a percent number format shows (``0.0%`` -> 3, ``0%`` -> 2); ``None`` otherwise."""
    m = re.fullmatch(r"[#,]*0(?:\.(0+))?%", fmt.strip())
    return None if m is None else 2 + len(m.group(1) or "")


def _default_format(cid: str, values: list[Any]) -> str | None:
    """Choose the number format of a column id: shares as %, people and counts with thousands separators."""
    if cid in NUMBER_FORMATS:
        return NUMBER_FORMATS[cid]
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return None
    low = cid.lower()
    if low in {"lon", "lat", "lon_gcj02", "lat_gcj02"} or low.endswith(("_lon", "_lat")):
        return "0.0000000"
    if is_share_column(low):
        return "0.0%"
    if low in {"node", "rank", "code"} or low.endswith(("_id", "_node", "_code")):
        return "0"  # identifiers: no thousands separator
    if all(float(v).is_integer() for v in nums):
        return "#,##0"
    return "#,##0.00"


def _column_width(header: Any, values: list[Any]) -> int:
    """Width of a column's widest header or value (numbers as shown with separators and 2 decimals)."""
    floats = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    widths = (
        [text_width(header)] + [text_width(f"{v:,.2f}") for v in (min(floats), max(floats))]
        if floats
        else [text_width(header)]
    )
    others = {v for v in values[:5000] if v is not None and not isinstance(v, float)}
    widths += [text_width(v) for v in others]
    return max(widths)


def style_table_sheet(
    ws: Any,
    header_row: int = 1,
    formats: Mapping[str, str] | None = None,
    max_width: int = 48,
    landscape: bool = True,
) -> Any:
    """Make a worksheet holding one table readable in Excel and on paper.

    Freezes the rows down to the header, puts an autofilter on the table, sizes every column to show its
    header and values (wide characters count double, capped at ``max_width``), gives numbers a format by
    column id (the first word of a bilingual header: ``share``/``rate`` → ``0.0%``, whole numbers →
    ``#,##0``, other numbers ``#,##0.00``, coordinates 7 decimals; ``formats`` overrides by id) and sets
    landscape, fit-to-width printing with the header rows repeated on every page.

    A cell given a percent format (``0.0%``, ``0.00%`` ...) stores its value **cut** to what the format
    shows (:func:`cut_shares`: 0.899665 is stored as 0.899 and shown 89.9 %), since Excel's formats round
    half up and would show 90.0 % beside a village below the 90 % rule; the exact values are in the CSVs.

    Parameters
    ----------
    ws
        An openpyxl worksheet whose table header is on ``header_row`` and data below it, from column A.
    header_row
        1-based row of the header (rows above it are titles).
    formats
        Number formats by column id, overriding the defaults.
    max_width
        Widest column, in characters.
    landscape
        Print in landscape.

    Returns
    -------
    openpyxl.worksheet.worksheet.Worksheet
        ``ws``, modified in place.
    """
    from openpyxl.utils import get_column_letter

    formats = dict(formats or {})
    max_row, max_col = ws.max_row, ws.max_column
    if max_col == 0:
        return ws
    for j in range(1, max_col + 1):
        header = ws.cell(row=header_row, column=j).value
        cid = str(header).split()[0] if isinstance(header, str) and header.strip() else ""
        cells = [ws.cell(row=i, column=j) for i in range(header_row + 1, max_row + 1)]
        values = [c.value for c in cells]
        fmt = formats.get(cid) or _default_format(cid, values)
        cut = None if not fmt else percent_decimals(fmt)
        if fmt:
            for c in cells:
                if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                    c.number_format = fmt
                    if cut is not None and math.isfinite(c.value):  # the shown text never above the value
                        c.value = float(cut_shares(c.value, cut))
        ws.column_dimensions[get_column_letter(j)].width = min(max_width, max(8, _column_width(header, values) + 2))
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    if max_row > header_row:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(max_col)}{max_row}"
    ws.print_title_rows = f"1:{header_row}"
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if landscape:  # A4; fit to width only where the text still prints at 8 pt, else pages wide, key columns repeated
        from .xlsx_print import set_print

        set_print(ws, header_row)
    return ws


def guard_workbook(wb: Workbook) -> Workbook:
    """Make every text cell of every sheet a string cell, never a formula or error value.

    openpyxl turns a ``str`` starting with ``=`` into a formula and ``"#N/A"``
    & co. into error values; this stores the exact text as a string cell
    instead, on every row of every sheet (titles and headers included), and
    sets Excel's quote prefix on formula-like text (:func:`needs_guard`) so
    it stays text when a reader edits the cell.  Numbers stay numeric cells.
    Call it right before saving (:func:`save_workbook` does).

    Parameters
    ----------
    wb
        An openpyxl workbook (modified in place).

    Returns
    -------
    openpyxl.Workbook
        ``wb``.
    """
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if isinstance(v, str):
                    if cell.data_type != "s":
                        cell.data_type = "s"
                    if needs_guard(v) and not cell.quotePrefix:
                        cell.quotePrefix = True
    return wb


def save_workbook(wb: Workbook, path: str | Path) -> Path:
    """:func:`guard_workbook`, then save ``wb`` to ``path`` atomically.

    Parameters
    ----------
    wb
        An openpyxl workbook.
    path
        Output ``.xlsx`` file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    guard_workbook(wb)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path


# ---------------------------------------------------------------- JSON and text


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON (UTF-8, sorted keys, indented) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default) + "\n",
            encoding="utf-8",
        )
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 text atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_record(path: Path | None, kind: str, **extra: Any) -> dict[str, Any]:
    """Provenance of one input for ``summary.json`` → ``inputs``: its kind, path and SHA-256 (files only)."""
    if path is None:
        return {"kind": kind, **extra}
    return {"kind": kind, "path": str(path), "sha256": file_sha256(path), **extra}
