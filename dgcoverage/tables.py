"""Reading tabular inputs (CSV in any common Chinese encoding, XLSX) and mapping column aliases."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

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
