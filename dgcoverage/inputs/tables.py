"""Reading tabular inputs (CSV in any common Chinese encoding, XLSX) and mapping column aliases."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ColumnError, DgCoverageWarning, InputFileError, InputNotFoundError
from .preflight import check_two_header_rows
from .units import is_unit_row, unit_of

#: Encodings tried in order for CSV files exported by Excel/WPS in China.
CSV_ENCODINGS = ("utf-8-sig", "gb18030", "big5")
#: Delimiters a CSV may use (Excel in some locales writes ``;``).
CSV_DELIMITERS = ",\t;|"
#: How many leading rows are searched for the header row (title rows above it are skipped and said).
HEADER_SEARCH_ROWS = 30


def read_table(
    path: str | Path, *, sheet: str | None = None, header_names: Iterable[str] = (), what: str = "row"
) -> pd.DataFrame:
    """Read a CSV (UTF-8 with/without BOM, GBK/GB18030) or XLSX file as strings, checking its shape.

    Nothing is read partially and called whole:

    * **Header row.** With ``header_names`` (e.g. every accepted spelling of the
      coordinate columns), the header is the first of the first
      :data:`HEADER_SEARCH_ROWS` rows holding at least two of them; title rows
      above it are skipped, counted (``<what>_title_rows_skipped``) and said.
    * **Sheets.** In a workbook, the sheet is ``sheet`` if given; otherwise the
      one sheet whose header holds ``header_names``.  Several such sheets are an
      error listing them (choose one with ``--sheet``).
    * **Row widths.** A data row with more fields than the header either ends
      with empty fields (a trailing delimiter: they are dropped and counted,
      ``<what>_rows_trailing_delimiter``) or holds values beyond the header (its
      columns are shifted, e.g. an unquoted comma in a name: the row is dropped
      and counted, ``<what>_rows_shifted``).  A row with fewer fields is kept,
      its missing cells empty, and counted (``<what>_rows_missing_fields``).
      Every count comes with a warning naming the file lines.

    Parameters
    ----------
    path
        ``.csv``, ``.txt``, ``.tsv`` or ``.xlsx``/``.xlsm``.
    sheet
        Workbook sheet name (or 1-based number) to read.
    header_names
        Lower-case column names that identify the header row and the sheet.
    what
        Prefix of the counted warning names (``"facility"``, ``"village"``).

    Returns
    -------
    pandas.DataFrame
        All columns as strings (coordinates are converted by the caller, so
        that bad cells can be reported by row).  ``attrs``: ``encoding``,
        ``sheet`` (or None), ``header_line`` (1-based line/row of the header),
        ``line`` (a numpy array: the file line/row of every data row) and
        ``warnings`` (counts).
    """
    import warnings

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path)
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a table.", "pass the CSV/XLSX file inside it.")
    if path.stat().st_size == 0:
        raise InputFileError(path, "is empty (0 bytes).", "export the table again.")
    names = {str(n).strip().lower() for n in header_names}
    suffix = path.suffix.lower()
    sheet_used = None
    if suffix in (".xlsx", ".xlsm", ".xls"):
        rows, sheet_used = _workbook_rows(path, sheet, names)
        encoding = "xlsx"
    elif suffix in (".csv", ".txt", ".tsv"):
        if sheet is not None:
            raise InputFileError(path, "is a CSV file, which has no sheets.", "drop --sheet, or pass the workbook.")
        rows, encoding = _csv_rows(path, "\t" if suffix == ".tsv" else None)
    else:
        raise InputFileError(path, f"has an unsupported extension {suffix!r}.", "use .csv, .xlsx or .geojson.")
    counts: dict[str, int] = {}
    unit = "row" if encoding == "xlsx" else "line"
    where = f"sheet {sheet_used!r} " if sheet_used is not None else ""
    # rows are (line number, cells); blank rows carry nothing and are skipped
    rows = [(n, cells) for n, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        raise InputFileError(path, f"{where}holds no rows.", "export the table again.")
    h = _header_index(rows, names)
    check_two_header_rows(rows, h, path, where, unit)  # not blamed on the delimiter
    if h > 0:
        counts[f"{what}_title_rows_skipped"] = h
        title = " ".join(c.strip() for c in rows[0][1] if c.strip())[:60]
        warnings.warn(
            f"{path}: {where}header found on {unit} {rows[h][0]}; the {h} row(s) above it (title "
            f"{title!r}) were skipped",
            DgCoverageWarning,
            stacklevel=3,
        )
    header = _header(rows[h], path, where, unit)
    if len(rows) > h + 1 and is_unit_row(rows[h + 1][1][: len(header)]) and not any(rows[h + 1][1][len(header) :]):
        header = _join_unit_row(header, rows[h + 1], path, where, unit, what, counts)
        h += 1
    data, lines = _data_rows(rows[h + 1 :], len(header), path, where, unit, what, counts)
    df = pd.DataFrame(data, columns=header, dtype=object)
    df.attrs.update(
        encoding=encoding, sheet=sheet_used, header_line=rows[h][0], line=np.asarray(lines), warnings=counts
    )
    return df


def _header(row: tuple[int, list[str]], path: Path, where: str, unit: str) -> list[str]:
    """Clean header names: a trailing empty cell dropped, duplicates refused, empty names filled."""
    header = [c.strip() for c in row[1]]
    while header and header[-1] == "":  # a trailing delimiter on the header line too
        header.pop()
    if not header:
        raise InputFileError(path, f"{where}has an empty header row ({unit} {row[0]}).", "put column names first.")
    dup = sorted({c for c in header if c and header.count(c) > 1})
    if dup:
        raise ColumnError(
            path,
            f"{where}header names column(s) {dup} more than once.",
            "rename or delete the duplicate columns so each name is used once.",
        )
    return [c if c else f"unnamed_{i + 1}" for i, c in enumerate(header)]


def _join_unit_row(
    header: list[str], row: tuple[int, list[str]], path: Path, where: str, unit: str, what: str, counts: dict[str, int]
) -> list[str]:
    """Join a row of units under the header to the names it stands under, counted and said.

    ``场地面积`` over ``公顷`` -> ``场地面积 [公顷]`` (capacity units only; ``度`` under 经度 is dropped).
    """
    import warnings

    cells = [c.strip().strip("()[]【】（） ") for c in row[1]] + [""] * len(header)
    joined = [f"{name} [{u}]" if u and unit_of(u) is not None else name for name, u in zip(header, cells)]
    counts[f"{what}_unit_row_read"] = 1
    shown = ", ".join(f"{a!r}" for a, b in zip(joined, header) if a != b)
    warnings.warn(
        f"{path}: {where}{unit} {row[0]} under the header holds units only; it was read as the columns' units "
        f"({shown}), not as data",
        DgCoverageWarning,
        stacklevel=4,
    )
    return joined


def _data_rows(
    rows: list[tuple[int, list[str]]], width: int, path: Path, where: str, unit: str, what: str, counts: dict[str, int]
) -> tuple[list[list[str]], list[int]]:
    """Fit data rows to the header's width: trailing delimiters dropped, shifted rows left out, all counted."""
    import warnings

    data, lines, trailing, shifted, short = [], [], [], [], []
    for n, raw in rows:
        cells = [c.strip() for c in raw]
        if len(cells) > width:
            if any(cells[width:]):
                shifted.append(n)
                continue
            trailing.append(n)
            cells = cells[:width]
        elif len(cells) < width:
            short.append(n)
            cells = cells + [""] * (width - len(cells))
        data.append(cells)
        lines.append(n)
    for key, hit, text in (
        (
            "rows_trailing_delimiter",
            trailing,
            "end with an extra delimiter (a trailing comma); the empty last field was dropped and the row read "
            "normally",
        ),
        (
            "rows_shifted",
            shifted,
            f"have more fields than the header's {width}: their columns are shifted (an unquoted delimiter inside a "
            "value?) and they were NOT read; quote the values or fix the rows",
        ),
        (
            "rows_missing_fields",
            short,
            f"have fewer fields than the header's {width}; their missing cells were read as empty: check that no "
            "column is shifted",
        ),
    ):
        if hit:
            counts[f"{what}_{key}"] = len(hit)
            warnings.warn(
                f"{path}: {where}{len(hit)} {what} rows {text} ({unit}s {hit[:10]})", DgCoverageWarning, stacklevel=4
            )
    if not data:
        if shifted:
            raise ColumnError(
                path,
                f"{where}every data row has more fields than the header ({width}).",
                "the header lacks columns or the delimiter is wrong: fix the header row.",
            )
        raise InputFileError(path, "has a header but no data rows.", "add rows or pick the right file.")
    return data, lines


def _header_index(rows: list[tuple[int, list[str]]], names: set[str]) -> int:
    """Index of the header row: the first of the leading rows naming two or more of ``names`` (else 0)."""
    if not names:
        return 0
    for i, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in cells if _axis_of(c) is not None or c.strip().lower() in names) >= 2:
            return i
    return 0


def _csv_rows(path: Path, delimiter: str | None) -> tuple[list[tuple[int, list[str]]], str]:
    import csv

    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise InputFileError(
            path,
            "is a binary file, not CSV text (UTF-16 or a spreadsheet renamed to .csv?).",
            "save it from Excel as 'CSV UTF-8', or pass the .xlsx itself.",
        )
    text, enc = _decode(path, raw)
    if delimiter is None:
        sample = "\n".join(text.splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        rows = []
        last = 0
        for row in reader:
            start, last = last + 1, reader.line_num
            if last > start and any(delimiter in cell and "\n" in cell for cell in row):
                raise InputFileError(
                    path,
                    f"a quote opened on line {start} is closed only on line {last}, so the lines between were read "
                    "as one value (a stray quote mark).",
                    f"remove or close the quote on line {start}.",
                )
            rows.append((start, row))
    except csv.Error as exc:
        raise InputFileError(
            path, f"cannot be parsed as CSV (line {reader.line_num}: {exc}).", "check the quoting on that line."
        ) from exc
    return rows, enc


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (BOM or not), else GB18030 unless that gives mojibake and Big5 reads cleanly."""
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    candidates = []
    for enc in ("gb18030", "big5"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        # GB18030 decodes almost any bytes; private-use characters betray another encoding (e.g. Big5)
        pua = sum(1 for ch in text if 0xE000 <= ord(ch) <= 0xF8FF)
        candidates.append((pua, enc, text))
        if pua == 0:
            return text, enc
    if candidates:
        pua, enc, _ = min(candidates)
        raise InputFileError(
            path,
            f"is not readable text in UTF-8, GBK/GB18030 or Big5 ({pua} undecodable characters as {enc}).",
            "save it as 'CSV UTF-8' from Excel.",
        )
    raise InputFileError(path, "is neither UTF-8, GBK/GB18030 nor Big5 text.", "save it as 'CSV UTF-8' from Excel.")


def _workbook_rows(path: Path, sheet: str | None, names: set[str]) -> tuple[list[tuple[int, list[str]]], str]:
    try:
        book = pd.read_excel(path, sheet_name=None, header=None, dtype=str)
    except Exception as exc:
        raise InputFileError(path, f"cannot be read as a spreadsheet ({exc}).", "save it as .xlsx or .csv.") from exc
    if not book:
        raise InputFileError(path, "has no sheets.", "pass a workbook with a table.")

    def rows_of(frame: pd.DataFrame) -> list[tuple[int, list[str]]]:
        vals = frame.fillna("").astype(str).to_numpy().tolist()
        return [(i + 1, r) for i, r in enumerate(vals)]

    sheets = {str(k): rows_of(v) for k, v in book.items()}
    states, unsaved = _sheet_states(path)
    key = _choose_sheet(path, sheets, sheet, names, states)
    if unsaved.get(key):
        raise InputFileError(
            path,
            f"sheet {key!r} has {unsaved[key]} formula cells with no saved value (the workbook was written by a "
            "program, not saved by Excel), so they read as empty.",
            "open and save it in Excel or WPS (or paste the cells as values), then run again.",
        )
    return sheets[key], key


def _sheet_states(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Visibility of every sheet and how many of its cells are formulas without a saved value.

    The workbook is opened once for its formulas; its saved values are read only when it has formulas.
    """
    from openpyxl import load_workbook

    try:
        formulas = load_workbook(path, read_only=False, data_only=False)
    except Exception:  # noqa: BLE001 - xls or an odd workbook: pandas already read it, so say nothing more
        return {}, {}
    states = {ws.title: ws.sheet_state for ws in formulas.worksheets}
    cells = {
        ws.title: [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
        for ws in formulas.worksheets
    }
    unsaved = dict.fromkeys(states, 0)
    if any(cells.values()):
        values = load_workbook(path, read_only=False, data_only=True)
        for title, coords in cells.items():
            unsaved[title] = sum(1 for c in coords if values[title][c].value is None)
    return states, unsaved


def _choose_sheet(
    path: Path,
    sheets: dict[str, list[tuple[int, list[str]]]],
    sheet: str | None,
    names: set[str],
    states: dict[str, str],
) -> str:
    """Choose the sheet to read: the chosen one, the only one, or the only visible one with coordinates."""
    if sheet is not None:
        key = str(sheet)
        if key not in sheets and key.isdigit() and 1 <= int(key) <= len(sheets):
            key = list(sheets)[int(key) - 1]
        if key not in sheets:
            raise InputFileError(
                path,
                f"has no sheet {sheet!r}; its sheets are {list(sheets)}.",
                "pass one of those names (or a 1-based number) to --sheet.",
            )
        return key
    hidden = [k for k in sheets if states.get(k, "visible") != "visible"]
    with_cols = [k for k, rows in sheets.items() if names and _has_header(rows, names)]
    visible_cols = [k for k in with_cols if k not in hidden]
    if len(sheets) == 1 and not hidden:
        return next(iter(sheets))
    if not visible_cols and with_cols:
        raise ColumnError(
            path,
            f"the only sheet(s) with coordinate columns ({with_cols}) are hidden; a hidden sheet is often an old "
            "or helper table.",
            f"if it is the right table, choose it with --sheet {with_cols[0]!r} (or unhide it).",
        )
    with_cols = visible_cols
    if len(with_cols) == 1:
        return with_cols[0]
    if len(with_cols) > 1:
        raise ColumnError(
            path,
            f"has {len(with_cols)} sheets with coordinate columns ({with_cols}); reading one and "
            "calling it the whole would be a guess.",
            "choose the sheet with --sheet NAME (or merge the sheets into one).",
        )
    raise ColumnError(
        path,
        f"none of its sheets {list(sheets)} has a header with coordinate columns.",
        "add lon/lat (经度/纬度) columns, or choose the sheet with --sheet NAME.",
    )


def _has_header(rows: list[tuple[int, list[str]]], names: set[str]) -> bool:
    return any(
        sum(1 for c in cells if _axis_of(c) is not None or c.strip().lower() in names) >= 2
        for _, cells in rows[:HEADER_SEARCH_ROWS]
    )


# ---------------------------------------------------------------- coordinate columns

#: Header cells that mark the header row of a table with coordinates (with any name :func:`_axis_of` knows).
COORD_HEADER_NAMES = (
    "lon",
    "lat",
    "lng",
    "longitude",
    "latitude",
    "x",
    "y",
    "经度",
    "纬度",
    "名称",
    "name",
    "代码",
    "code",
)

#: Column-name tokens of the two axes.  Latin tokens must stand alone in the name (``lon``, ``lon_gcj02``,
#: ``lon 经度(WGS84)``); the Chinese ones may sit anywhere (``高德经度``).
_LON_TOKENS = ("longitude", "lon", "lng", "x", "point_x")
_LAT_TOKENS = ("latitude", "lat", "y", "point_y")
_LON_ZH, _LAT_ZH = ("经度", "东经", "經度", "東經"), ("纬度", "北纬", "緯度", "北緯")
#: Words in a column name that state its coordinate system.
_CRS_WORDS = (
    ("wgs84", "wgs84"),
    ("wgs-84", "wgs84"),
    ("wgs", "wgs84"),
    ("gps", "wgs84"),
    ("gcj02", "gcj02"),
    ("gcj-02", "gcj02"),
    ("gcj", "gcj02"),
    ("高德", "gcj02"),
    ("amap", "gcj02"),
    ("gaode", "gcj02"),
    ("火星", "gcj02"),
    ("腾讯", "gcj02"),
    ("bd09", "bd09"),
    ("bd-09", "bd09"),
    ("baidu", "bd09"),
    ("百度", "bd09"),
)


def _axis_of(name: str) -> tuple[str, str] | None:
    """``("lon" | "lat", qualifier)`` when a column name is a coordinate axis; the qualifier pairs columns."""
    import re

    n = str(name).strip().lower()
    if not n:
        return None
    for axis, latin, zh in (("lon", _LON_TOKENS, _LON_ZH), ("lat", _LAT_TOKENS, _LAT_ZH)):
        family = "zh" if any(z in n for z in zh) else None
        if family is None:
            for t in latin:
                if re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", n):
                    family = "xy" if t in ("x", "y", "point_x", "point_y") else "ll"
                    break
        if family is not None:
            q = n
            for t in _LON_ZH + _LAT_ZH:
                q = q.replace(t, "")
            for t in sorted(_LON_TOKENS + _LAT_TOKENS, key=len, reverse=True):
                q = re.sub(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", "", q)
            q = re.sub(r"[\s_\-()（）\[\]:：/]+", "", q)
            # a name with both axes ("lonlat", "经纬度") is not one axis
            other = _LAT_ZH if axis == "lon" else _LON_ZH
            if any(z in n for z in other):
                return None
            return axis, f"{family}|{q}"
    return None


def _crs_words(qualifier: str) -> list[str]:
    """Every system a column name's qualifier states (``高德转百度`` states two), sorted."""
    qualifier = qualifier.split("|", 1)[-1]
    return sorted({crs for word, crs in _CRS_WORDS if word.replace("-", "") in qualifier})


def _crs_word(qualifier: str) -> str | None:
    """Return the one system a column name's qualifier states; ``None`` when it states none or several."""
    found = _crs_words(qualifier)
    return found[0] if len(found) == 1 else None


def coordinate_pairs(df: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    """Every plausible (lon column, lat column, CRS stated in their names) pair, in column order.

    Columns pair up when their names differ only by the axis word (``lon``/``lat``,
    ``经度``/``纬度``, ``x``/``y``...), e.g. ``lon_gcj02``/``lat_gcj02``.  When the names
    give several pairs, only the plausible ones (at least one row holds numbers in
    both) are returned.
    """
    axes = {c: _axis_of(c) for c in df.columns}
    named = []
    used: set[str] = set()
    for c, a in axes.items():
        if a is None or a[0] != "lon":
            continue
        for d, b in axes.items():
            if b is not None and b[0] == "lat" and b[1] == a[1] and d not in used:
                used.add(d)
                named.append((c, d, _crs_word(a[1])))
                break
    if len(named) <= 1:  # one pair by name: its bad cells are reported row by row later
        return named
    plausible = []
    for c, d, hint in named:
        lon = pd.to_numeric(df[c].astype(str).str.strip(), errors="coerce")
        lat = pd.to_numeric(df[d].astype(str).str.strip(), errors="coerce")
        if (lon.notna() & lat.notna()).any():
            plausible.append((c, d, hint))
    return plausible or named[:1]


def choose_coordinates(
    df: pd.DataFrame,
    path: str | Path | None,
    crs: str | None,
    *,
    lon_col: str | None = None,
    lat_col: str | None = None,
    default_crs: str | None = None,
    crs_option: str = "--facilities-crs",
) -> dict[str, str]:
    """Pick the coordinate columns and their coordinate system; never guess.

    The system is the declared one (``crs``), else the one the column names state (``lon_gcj02``,
    ``经度(高德)``), else the project's default (``default_crs``: ``[settings] default_point_crs``); a table
    that says none of them is refused with the fix (WGS84, GCJ-02 and BD-09 differ by about 0.5 km in
    Dongguan, which moves coverage by several points).

    Parameters
    ----------
    df
        The table (strings).
    path
        File, for messages.
    crs
        Coordinate system the user declared (``None``: not declared).
    lon_col, lat_col
        Columns the user chose (both or neither).
    default_crs
        The project's default system (``[settings] default_point_crs``), used when neither the user nor the
        column names state one; ``None``: such a table is refused (:class:`~dgcoverage.errors.CRSError`).
    crs_option
        Command-line option name, for messages.

    Returns
    -------
    dict
        ``lon``, ``lat`` (column names), ``crs`` (canonical) and ``crs_source``
        (``"declared"``, ``"column names"`` or ``"project default ([settings] default_point_crs)"``).

    Raises
    ------
    ColumnError
        No coordinate pair; more than one pair whose points differ; a chosen
        column that does not exist.
    CRSError
        The column names state a different system from the declared one; no system is stated at all.
    """
    from ..errors import CRSError
    from .coords import canonical_crs, to_wgs84

    if (lon_col is None) != (lat_col is None):
        raise ColumnError(
            path, "only one of the longitude/latitude columns was chosen.", "pass both --lon-col and --lat-col."
        )
    if lon_col is not None:
        missing = [c for c in (lon_col, lat_col) if c not in df.columns]
        if missing:
            raise ColumnError(
                path,
                f"chosen coordinate column(s) {missing} not found; columns present: {list(df.columns)}.",
                "spell the names exactly as in the header.",
            )
        a = _axis_of(lon_col)
        pairs = [(lon_col, lat_col, _crs_word(a[1]) if a else None)]
    else:
        pairs = coordinate_pairs(df)
    if not pairs:
        raise ColumnError(
            path,
            f"no longitude/latitude column pair found; columns present: {list(df.columns)}.",
            "name them lon/lat (or 经度/纬度, lng/lat, x/y), or choose them with --lon-col/--lat-col.",
        )
    declared = None if crs is None else canonical_crs(crs)
    if len(pairs) > 1:
        xy = []
        for lo, la, hint in pairs:
            x = pd.to_numeric(df[lo].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(df[la].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
            xy.append(to_wgs84(x, y, hint or declared or default_crs or "wgs84"))  # only compared
        x0, y0 = xy[0]
        agree = all(
            np.allclose(x, x0, atol=1e-5, equal_nan=True) and np.allclose(y, y0, atol=1e-5, equal_nan=True)
            for x, y in xy[1:]
        )
        if not agree:
            desc = "; ".join(
                f"{lo}/{la}" + (f" ({hint})" if hint else "") + f" e.g. {_sample(df, lo, la)}" for lo, la, hint in pairs
            )
            raise ColumnError(
                path,
                f"has more than one coordinate column pair and they disagree: {desc}.",
                f"choose one with --lon-col NAME --lat-col NAME (and its system with {crs_option}).",
            )
    lon, lat, hint = pairs[0]
    if declared is not None and hint is not None and hint != declared:
        raise CRSError(
            f"{path}: the columns {lon}/{lat} say {hint} but {crs_option} {declared} was given. Fix: "
            f"drop {crs_option} (the column names are used) or pick other columns with --lon-col/--lat-col."
        )
    named = crs_of_file_name(path)
    said = hint or declared
    if named is not None and said is not None and named != said:
        by = f"the columns {lon}/{lat} say {hint}" if hint else f"{crs_option} {declared} was given"
        raise CRSError(
            f"{path}: the file's name says {named} but {by}; one of them is wrong (about 0.5 km apart here). "
            f"Fix: rename the file, or pass {crs_option} with the system the coordinates really are in."
        )
    if declared is not None:
        return {"lon": lon, "lat": lat, "crs": declared, "crs_source": "declared"}
    if hint is not None:
        return {"lon": lon, "lat": lat, "crs": hint, "crs_source": "column names"}
    if named is not None:
        return {"lon": lon, "lat": lat, "crs": named, "crs_source": "file name"}
    what = "" if path is None else f"{path}: "
    axis = _axis_of(lon)
    several = _crs_words(axis[1]) if axis else []
    if len(several) > 1:  # "经度(高德转百度)": which one the numbers are in is not read from the order of a list
        raise CRSError(
            f"{what}the columns {lon}/{lat} name two coordinate systems ({', '.join(several)}): which one the "
            f"numbers are in is not guessed (about 0.5 km apart here). Fix: pass {crs_option} with the system "
            "they are in now (wgs84, gcj02 or bd09), or rename the columns to name only that one (lon_bd09/lat_bd09)"
        )
    if default_crs:
        return {"lon": lon, "lat": lat, "crs": canonical_crs(default_crs), "crs_source": PROJECT_DEFAULT}
    raise CRSError(
        f"{what}the table does not say which coordinate system its columns {lon}/{lat} are in (WGS84, GCJ-02 or "
        "BD-09, about 0.5 km apart here): it is not guessed. Fix: pass "
        f"{crs_option} gcj02 (Gaode/高德, Tencent), wgs84 (GPS, OSM) or bd09 (Baidu/百度); or name it in the "
        "columns (lon_gcj02/lat_gcj02, 经度(高德)) or the file name (设施_gcj02.csv); or set "
        'default_point_crs = "gcj02" in the config\'s [settings]'
    )


def crs_of_file_name(path: str | Path | None) -> str | None:
    """Return the system a file name states as a word (``设施_gcj02.csv``, ``sites-WGS84.xlsx``, ``高德点位``).

    Only unambiguous words count (wgs84, gcj02, bd09 with or without a hyphen; 高德, 腾讯, 百度); a name stating
    two systems (``wgs84_to_gcj02.csv``) states none.
    """
    import re

    if path is None:
        return None
    stem = Path(str(path)).stem.lower()
    found = {crs for word, crs in _NAME_CRS_WORDS if re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![0-9])", stem)}
    return found.pop() if len(found) == 1 else None


#: Words of a file name that state its points' system (:func:`crs_of_file_name`).
_NAME_CRS_WORDS = (
    ("wgs84", "wgs84"),
    ("wgs-84", "wgs84"),
    ("gcj02", "gcj02"),
    ("gcj-02", "gcj02"),
    ("bd09", "bd09"),
    ("bd-09", "bd09"),
    ("高德", "gcj02"),
    ("腾讯", "gcj02"),
    ("百度", "bd09"),
)
#: How a record says the system came from the config's ``[settings] default_point_crs``.
PROJECT_DEFAULT = "project default ([settings] default_point_crs)"


def _sample(df: pd.DataFrame, lon: str, lat: str) -> str:
    for a, b in zip(df[lon], df[lat]):
        if str(a).strip() and str(b).strip():
            return f"({str(a).strip()}, {str(b).strip()})"
    return "(empty)"


def vector_crs(path: Path, gdf: Any, crs: str | None, crs_option: str) -> tuple[Any, str, str, bool]:
    """Coordinate system of a vector file's points: the file's own declaration wins, else the declared one.

    GeoJSON is WGS84 (RFC 7946) unless the file has a ``crs`` member; a
    GPKG/SHP carries its CRS.  A file that declares a CRS is honoured (a
    projected one is reprojected to WGS84) and never shifted a second time by
    ``crs``: when the user also declared a different system, a warning says
    the option was ignored.  A file with no CRS at all (a shapefile without
    ``.prj``) needs ``crs``.

    Returns
    -------
    gdf, crs, source, option_ignored
        The frame (in the file's geographic coordinates, or reprojected to
        EPSG:4326), the canonical system of its lon/lat, where that came
        from (``"file crs member"``, ``"file CRS"``, ``"RFC 7946 (GeoJSON default)"``, ``"declared"``),
        and whether a declared system was ignored because the file declares its own.
    """
    import json
    import warnings

    from ..errors import CRSError
    from .coords import canonical_crs

    declared = None if crs is None else canonical_crs(crs)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        try:
            with open(path, encoding="utf-8-sig") as fh:
                has_member = "crs" in json.load(fh)
        except (ValueError, OSError, TypeError):
            has_member = False
        if not has_member:
            if declared is not None and declared != "wgs84":
                return gdf, declared, "declared", False
            return gdf.set_crs(4326, allow_override=True), "wgs84", "RFC 7946 (GeoJSON default)", False
        source = "file crs member"
    else:
        source = "file CRS"
        if gdf.crs is None:
            if declared is None:
                raise CRSError(
                    f"{path}: the file has no coordinate system (a shapefile without .prj?). "
                    f"Fix: pass {crs_option} wgs84|gcj02|bd09."
                )
            return gdf, declared, "declared", False
    if (
        gdf.crs is not None
        and not gdf.crs.is_geographic
        or gdf.crs is not None
        and gdf.crs.to_epsg() not in (4326, None)
    ):
        gdf = gdf.to_crs(4326)
    ignored = declared is not None and declared != "wgs84"
    if ignored:
        warnings.warn(
            f"{path}: the file declares its coordinate system ({source}); {crs_option} {declared} was "
            "ignored so the points are not shifted twice. Fix: remove the file's crs member if the "
            "coordinates really are " + declared,
            DgCoverageWarning,
            stacklevel=3,
        )
    return gdf, "wgs84", source, ignored


def resolve_columns(
    df: pd.DataFrame, aliases: Mapping[str, Iterable[str]], required: Iterable[str] = (), path: str | Path | None = None
) -> dict[str, str]:
    """Map canonical names to the columns present in ``df`` (case-insensitive aliases).

    Parameters
    ----------
    df
        The table.
    aliases
        Canonical name -> accepted header spellings (English and Chinese).
    required
        Canonical names that must be found.
    path
        File name for the error message.

    Returns
    -------
    dict
        Canonical name -> actual column name, for those found.
    """
    lower = {str(c).strip().lower(): c for c in df.columns}
    found: dict[str, str] = {}
    for canon, names in aliases.items():
        for name in names:
            if name.lower() in lower:
                found[canon] = lower[name.lower()]
                break
    missing = [c for c in required if c not in found]
    if missing:
        hints = "; ".join(f"{m}: one of {list(aliases[m])}" for m in missing)
        raise ColumnError(
            path, f"missing column(s) {missing}; columns present: {list(df.columns)}.", f"rename the columns ({hints})."
        )
    return found


def clean_lonlat(
    lon_raw: pd.Series,
    lat_raw: pd.Series,
    path: str | Path | None,
    what: str,
    expected_bounds: tuple[float, float, float, float] | None = None,
    row_label: str = "line",
    row_offset: int = 2,
    lines: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Parse and repair a table's coordinate columns, counting what was dropped or fixed.

    * Non-numeric, empty, NaN or infinite cells: the row is dropped and counted
      (``<what>_rows_bad_coordinates``); a warning names the rows.
    * Latitude and longitude swapped: a row is swapped back and counted
      (``<what>_rows_lonlat_swapped``) when its "latitude" is impossible
      (|lat| > 90 while |lon| <= 90), or when ``expected_bounds`` is given and
      the point lies outside them (padded by 0.05°, which also absorbs the
      GCJ-02/BD-09 offsets of under 1 km) but the swapped point lies inside.
    * Values that are not degrees at all (|lon| > 180 or |lat| > 90, e.g.
      projected metres): dropped and counted as bad coordinates.

    Parameters
    ----------
    lon_raw, lat_raw
        The raw columns (strings or numbers).
    path
        File, for messages.
    what
        Prefix of the counted warning names (``"facility"``, ``"village"``).
    expected_bounds
        Optional WGS84 ``(west, south, east, north)`` of the study area.
    row_label, row_offset
        How rows are named in messages: CSV "line" numbers are the 0-based row
        index + 2 (the header is line 1); GeoJSON "feature" indices + 0.
    lines
        The file line/row of every row (``read_table``'s ``attrs["line"]``);
        overrides ``row_offset``.

    Returns
    -------
    keep, lon, lat, counts
        Boolean mask of usable rows over the input, and the repaired
        coordinates of the kept rows only.

    Raises
    ------
    ColumnError
        When no row has usable coordinates.
    """
    import warnings

    lon = (
        pd.to_numeric(pd.Series(lon_raw).astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(lon_raw)
        else np.asarray(lon_raw, dtype=float)
    )
    lat = (
        pd.to_numeric(pd.Series(lat_raw).astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(lat_raw)
        else np.asarray(lat_raw, dtype=float)
    )
    lon, lat = lon.copy(), lat.copy()
    counts: dict[str, int] = {}
    if lines is not None:
        where = "file line numbers" if row_label == "line" else "sheet row numbers"
    else:
        where = "file line numbers" if row_label == "line" else f"{row_label} numbers from {row_offset}"
    line_of = (lambda idx: np.asarray(lines)[idx]) if lines is not None else (lambda idx: idx + row_offset)
    finite = np.isfinite(lon) & np.isfinite(lat)
    # swapped columns
    impossible = finite & (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    swap = impossible.copy()
    if expected_bounds is not None:
        w, s, e, n = (float(b) for b in expected_bounds)
        pad = 0.05

        def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return (x >= w - pad) & (x <= e + pad) & (y >= s - pad) & (y <= n + pad)

        swap |= finite & ~inside(lon, lat) & inside(lat, lon)
    if swap.any():
        lon[swap], lat[swap] = lat[swap].copy(), lon[swap].copy()
        counts[f"{what}_rows_lonlat_swapped"] = int(swap.sum())
        rows = line_of(np.nonzero(swap)[0]).tolist()[:10]
        warnings.warn(
            f"{path}: {int(swap.sum())} {what} rows had latitude and longitude swapped and were fixed "
            f"(rows {rows}, {where}); check the column order of the file",
            DgCoverageWarning,
            stacklevel=3,
        )
    bad = ~(finite & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.all():
        rows = line_of(np.nonzero(bad)[0]).tolist()[:10]
        raise ColumnError(
            path,
            f"no {what} row has usable coordinates (decimal degrees); bad rows {rows} ({where}).",
            "check the longitude/latitude columns hold decimal degrees (e.g. 113.75, 23.02).",
        )
    if bad.any():
        counts[f"{what}_rows_bad_coordinates"] = int(bad.sum())
        rows = line_of(np.nonzero(bad)[0]).tolist()[:10]
        warnings.warn(
            f"{path}: {int(bad.sum())} {what} rows with missing, non-numeric or out-of-range coordinates "
            f"dropped (rows {rows}, {where}); fill them in or remove them",
            DgCoverageWarning,
            stacklevel=3,
        )
    keep = ~bad
    return keep, lon[keep], lat[keep], counts


def drop_empty_geometries(gdf: Any, path: str | Path, what: str, counts: dict[str, int]) -> Any:
    """Drop features without geometry, naming them and counting ``<what>_rows_no_geometry``; none left: refuse."""
    import warnings

    from ..errors import DgCoverageWarning

    nogeom = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    if nogeom.all():
        raise ColumnError(path, "no feature has a geometry.", f"export the {what} features with their locations.")
    if nogeom.any():
        counts[f"{what}_rows_no_geometry"] = int(nogeom.sum())
        warnings.warn(
            f"{path}: {int(nogeom.sum())} {what} features without geometry were not used "
            f"(features {np.nonzero(nogeom)[0].tolist()[:10]})",
            DgCoverageWarning,
            stacklevel=3,
        )
        gdf = gdf[~nogeom].reset_index(drop=True)
    return gdf


def read_coordinate_table(
    path: str | Path,
    crs: str | None,
    *,
    what: str,
    crs_option: str,
    sheet: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    default_crs: str | None = None,
) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Read a table of points: :func:`read_table` with the coordinate columns and system chosen (never guessed).

    Returns
    -------
    df, coords, record
        The table (``attrs``: ``warnings``, ``line``, and ``row_label``, "row" for
        workbooks and "line" for text files), :func:`choose_coordinates`'s choice,
        and the input record for ``summary.json`` (system and its source, columns,
        sheet, header line).
    """
    df = read_table(path, sheet=sheet, header_names=COORD_HEADER_NAMES, what=what)
    df.attrs["row_label"] = "row" if df.attrs.get("encoding") == "xlsx" else "line"
    coords = choose_coordinates(
        df, path, crs, lon_col=lon_col, lat_col=lat_col, crs_option=crs_option, default_crs=default_crs
    )
    record = {
        "crs": coords["crs"],
        "crs_source": coords["crs_source"],
        "lon_column": coords["lon"],
        "lat_column": coords["lat"],
        "sheet": df.attrs.get("sheet"),
        "header_line": df.attrs.get("header_line"),
    }
    return df, coords, record
