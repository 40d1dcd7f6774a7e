"""Reading tabular inputs (CSV in any common Chinese encoding, XLSX) and mapping column aliases."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ColumnError, InputFileError, InputNotFoundError

#: Encodings tried in order for CSV files exported by Excel/WPS in China.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (UTF-8 with/without BOM, GBK/GB18030) or XLSX/XLS file as strings.

    Parameters
    ----------
    path
        ``.csv``, ``.txt``, ``.xlsx`` or ``.xls``.

    Returns
    -------
    pandas.DataFrame
        All columns as strings (coordinates are converted by the caller, so
        that bad cells can be reported by row); ``attrs["encoding"]`` says
        which encoding a CSV had.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path)
    if path.stat().st_size == 0:
        raise InputFileError(path, "is empty (0 bytes).", "export the table again.")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            df = pd.read_excel(path, dtype=str)
        except Exception as exc:
            raise InputFileError(path, f"cannot be read as a spreadsheet ({exc}).", "save it as .xlsx or .csv.") from exc
        df.attrs["encoding"] = "xlsx"
    elif suffix in (".csv", ".txt", ".tsv"):
        raw = path.read_bytes()
        for enc in CSV_ENCODINGS:
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError:
                continue
            break
        else:
            raise InputFileError(path, "is neither UTF-8 nor GBK/GB18030 text.", "save it as 'CSV UTF-8' from Excel.")
        sep = "\t" if suffix == ".tsv" else None
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, engine="python", skipinitialspace=True)
        except Exception as exc:
            raise InputFileError(path, f"cannot be parsed as CSV ({exc}).", "check the delimiter and quoting.") from exc
        df.attrs["encoding"] = enc
    else:
        raise InputFileError(path, f"has an unsupported extension {suffix!r}.", "use .csv, .xlsx or .geojson.")
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise InputFileError(path, "has a header but no data rows.", "add rows or pick the right file.")
    return df


def resolve_columns(df: pd.DataFrame, aliases: Mapping[str, Iterable[str]], required: Iterable[str] = (),
                    path: str | Path | None = None) -> dict[str, str]:
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
        raise ColumnError(path, f"missing column(s) {missing}; columns present: {list(df.columns)}.",
                          f"rename the columns ({hints}).")
    return found


def clean_lonlat(lon_raw: pd.Series, lat_raw: pd.Series, path: str | Path | None, what: str,
                 expected_bounds: tuple[float, float, float, float] | None = None,
                 row_label: str = "line", row_offset: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
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

    lon = pd.to_numeric(pd.Series(lon_raw).astype(str).str.strip(), errors="coerce").to_numpy(dtype=float) \
        if not pd.api.types.is_numeric_dtype(lon_raw) else np.asarray(lon_raw, dtype=float)
    lat = pd.to_numeric(pd.Series(lat_raw).astype(str).str.strip(), errors="coerce").to_numpy(dtype=float) \
        if not pd.api.types.is_numeric_dtype(lat_raw) else np.asarray(lat_raw, dtype=float)
    lon, lat = lon.copy(), lat.copy()
    counts: dict[str, int] = {}
    where = "file line numbers" if row_label == "line" else f"{row_label} numbers from {row_offset}"
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
        rows = (np.nonzero(swap)[0] + row_offset).tolist()[:10]
        warnings.warn(f"{path}: {int(swap.sum())} {what} rows had latitude and longitude swapped and were fixed "
                      f"(rows {rows}, {where}); check the column order of the file", stacklevel=3)
    bad = ~(finite & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.all():
        rows = (np.nonzero(bad)[0] + row_offset).tolist()[:10]
        raise ColumnError(path, f"no {what} row has usable coordinates (decimal degrees); bad rows {rows} ({where}).",
                          "check the longitude/latitude columns hold decimal degrees (e.g. 113.75, 23.02).")
    if bad.any():
        counts[f"{what}_rows_bad_coordinates"] = int(bad.sum())
        rows = (np.nonzero(bad)[0] + row_offset).tolist()[:10]
        warnings.warn(f"{path}: {int(bad.sum())} {what} rows with missing, non-numeric or out-of-range coordinates "
                      f"dropped (rows {rows}, {where}); fill them in or remove them", stacklevel=3)
    keep = ~bad
    return keep, lon[keep], lat[keep], counts
