"""Facility capacities read from a table: header aliases, units, cell parsing and plausibility.

A facility's capacity (area in m² or beds) is read by :func:`capacity_from_table` from a column with a Chinese
or English header (:data:`CAPACITY_ALIASES`, :func:`capacity_column`); units in the header or the cells
(:data:`UNITS`: 平方米, 公顷, 亩, ft², 张, 万...) are converted and counted, approximate values, bounds and ranges
(``约200平方米``, ``>= 50``, ``800-1000``) are read conservatively and counted (:data:`CAPACITY_COUNT_TEXT`).  A
capacity that is missing or unusable is *unknown* (``NaN``), counted and listed, never set to zero and never
filled with an average; the facility still counts for the time circle.  The supply standards these capacities
are measured against are in :mod:`dgcoverage.compute.supply`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError, DataMismatchError, DgCoverageWarning
from .units import KIND_UNIT, UNIT_WORDS, UNITS, compact, norm, unit_of, unit_setting

#: Accepted header names per capacity kind, in order of preference.  Headers are compared after
#: normalising (:func:`_header_key`): NFKC (full-width brackets and letters, ``㎡`` -> ``m2``), lower case,
#: spaces, dots and hyphens as ``_``, and the unit taken off (in brackets, after ``/``, ``,`` or ``;``, or at
#: the end): ``Site area (ha)``, ``Gross floor area, sq m``, ``No. of beds``, ``场地面积（公顷）``,
#: ``建筑面积/㎡``, ``床位(张)`` and the bilingual ``beds 床位`` are all recognised.
CAPACITY_ALIASES: dict[str, tuple[str, ...]] = {
    "area_m2": (
        "area_m2",
        "area",
        "floor_area",
        "gross_floor_area",
        "gfa",
        "building_area",
        "floor_space",
        "indoor_area",
        "usable_area",
        "site_area",
        "land_area",
        "ground_area",
        "面积",
        "建筑面积",
        "总建筑面积",
        "室内面积",
        "场地面积",
        "使用面积",
        "活动面积",
        "用地面积",
        "占地面积",
    ),
    "beds": (
        "beds",
        "bed",
        "bed_count",
        "beds_count",
        "bed_number",
        "bed_capacity",
        "n_beds",
        "no_of_beds",
        "number_of_beds",
        "num_beds",
        "total_beds",
        "床位",
        "床位数",
        "床位数量",
        "床位总数",
        "养老床位",
        "养老床位数",
        "核定床位",
        "核定床位数",
    ),
}

#: Header examples per kind for messages.
_EXAMPLES = {
    "area_m2": "e.g. 面积, 建筑面积(平方米), 场地面积(公顷), Floor area (m2), Site area (ha)",
    "beds": "e.g. 床位, 床位数(张), 养老床位, Beds, No. of beds",
}
#: Names of a capacity column that say its kind only by their unit (``Capacity (beds)``, ``规模(平方米)``).
_GENERIC_NAMES = ("capacity", "size", "容量", "规模")
_ALL_ALIASES = {a for names in CAPACITY_ALIASES.values() for a in names} | set(_GENERIC_NAMES)
_UNIT_WORDS = UNIT_WORDS
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_APPROX_PRE = ("大约", "约合", "约", "近", "~", "≈")
_APPROX_POST = ("左右", "上下")
_LOWER_PRE = ("不少于", "不低于", "超过", "大于", ">=", "≥", ">")
_LOWER_POST = ("以上", "余", "多", "+")
_UPPER_PRE = ("不超过", "不足", "少于", "小于", "<=", "≤", "<")
_UPPER_POST = ("以下", "以内")
_CELL_RE = re.compile(
    r"^(?P<pre>"
    + "|".join(re.escape(w) for w in (*_APPROX_PRE, *_LOWER_PRE, *_UPPER_PRE))
    + r")?(?P<sign>-)?(?P<num>"
    + _NUM
    + r")(?:(?:-|~|—|–|至|到)(?P<num2>"
    + _NUM
    + r"))?(?P<wan>万)?(?P<post1>余|多|\+)?(?P<unit>"
    + "|".join(re.escape(w) for w in _UNIT_WORDS)
    + r")?(?P<post>"
    + "|".join(re.escape(w) for w in (*_APPROX_POST, *_LOWER_POST, *_UPPER_POST))
    + r")?$"
)
_MISSING_WORDS = {
    "",
    "-",
    "--",
    "—",
    "/",
    "\\",
    "无",
    "暂无",
    "不详",
    "未知",
    "待定",
    "na",
    "n/a",
    "<na>",
    "nan",
    "null",
    "none",
}

#: What each counted outcome of :func:`capacity_from_table` means (used in its warnings).
CAPACITY_COUNT_TEXT = {
    "capacity_missing": "have no capacity (empty, '-', 无, 不详...): capacity unknown",
    "capacity_unparsed": "have a capacity that is not a number: capacity unknown",
    "capacity_nonpositive": "have a capacity of zero or less: capacity unknown",
    "capacity_wrong_unit": "have a capacity in a unit of another kind (e.g. beds given as m²): capacity unknown",
    "capacity_upper_bound": "give only an upper bound ('<800', '800以下'): capacity unknown",
    "capacity_approximate": "give an approximate capacity ('约800', '800左右'): the number is used",
    "capacity_lower_bound": "give a lower bound ('800余', '>800', '800以上'): the bound is used (conservative)",
    "capacity_range": "give a range ('800-1000'): its lower end is used (conservative)",
    "capacity_unit_converted": "give a capacity in another unit (亩, 公顷, ft², 万...): converted",
    "capacity_header_unit_unknown": "capacity columns were ignored: their header states a unit that is not known",
}
_UNKNOWN_KEYS = (
    "capacity_missing",
    "capacity_unparsed",
    "capacity_nonpositive",
    "capacity_wrong_unit",
    "capacity_upper_bound",
)


_norm = norm
_compact = compact
_unit_of = unit_of


@dataclass(frozen=True)
class _Header:
    """A header split into its normalised name and the unit it states (:func:`_header_key`)."""

    name: str
    kind: str | None = None
    factor: float | None = None
    unknown_unit: str = ""  # the text in the header's unit place when it is no unit of :data:`UNITS`


def _name_key(text: str) -> str:
    """Normalised name: spaces, dots, hyphens and middle dots as single ``_``."""
    return re.sub(r"[\s._\-·・#]+", "_", text).strip("_")


def _header_key(header: object) -> _Header:
    """Split a header into its normalised name and its unit, wherever the unit stands.

    The unit is read from brackets (``面积(亩)``, ``场地面积【公顷】``), after ``/``, ``:``, ``,``, ``;`` or
    ``|`` (``建筑面积/㎡``, ``场地面积：公顷`` with full-width marks, ``Gross floor area, sq m``), after a space
    (``场地面积 公顷``, ``用地面积 亩``, ``建筑面积 万平方米``, ``Site area ha``) or glued to the end of the name
    (``site_area_ha``, ``建筑面积平方米``).  A bilingual header ``id 中文`` (``beds 床位``) is named by its
    first word.  Text in the unit's place that is no unit (``建筑面积 含架空层``) is kept as ``unknown_unit``.
    """
    h = _norm(header).replace("【", "[").replace("】", "]").replace("〔", "[").replace("〕", "]")
    slots = re.findall(r"[(\[]([^)\]]*)[)\]]", h)
    h = re.sub(r"[(\[][^)\]]*[)\]]", " ", h).strip()
    parts = re.split(r"\s*[/,;|:=]\s*", h, maxsplit=1)
    if len(parts) == 2:
        h = parts[0]
        slots.append(parts[1])
    words = h.split()
    name = _name_key(h)
    if name not in _ALL_ALIASES and len(words) > 1:
        for k in range(len(words) - 1, 0, -1):  # the longest leading name: "site area ha", "场地面积 公顷"
            head, tail = _name_key(" ".join(words[:k])), " ".join(words[k:])
            if head in _ALL_ALIASES:
                if _unit_of(tail) or _name_key(tail) in _ALL_ALIASES:  # "面积 公顷"; bilingual "beds 床位"
                    name = head
                    slots.insert(0, "" if _name_key(tail) in _ALL_ALIASES else tail)
                elif not head.isascii() or not tail.isascii():  # "场地面积 含架空层": a remark, no unit
                    name = head
                    slots.insert(0, tail)
                break  # "Area code" is no area
    if name not in _ALL_ALIASES:
        name, tail = _split_unit_tail(name)
        if tail:
            slots.append(tail)
    slots = [s.strip() for s in slots if s.strip()]
    for slot in slots:
        unit = _unit_of(slot) or next(
            (u for tok in re.split(r"[\s:,;/=]+", slot) if tok and (u := _unit_of(tok))), None
        )
        if unit is not None:
            return _Header(name, unit[0], unit[1])
    return _Header(name, unknown_unit=slots[0] if slots else "")


def _split_unit_tail(name: str) -> tuple[str, str]:
    """Split a unit off the end: ``site_area_ha`` -> (``site_area``, ``ha``); ``面积m2`` -> (``面积``, ``m2``)."""
    pieces = name.split("_")
    for n in (2, 1):  # "floor_area_sq_m", then "area_m2"
        if len(pieces) > n and _unit_of("".join(pieces[-n:])) and "_".join(pieces[:-n]) in _ALL_ALIASES:
            return "_".join(pieces[:-n]), "".join(pieces[-n:])
    for word in _UNIT_WORDS:  # a unit glued to the name: "面积m2", "建筑面积平方米" (but "养老床位" is a name)
        head = name[: -len(word)].rstrip("_")
        if name.endswith(word) and head in _ALL_ALIASES:
            return head, word
    return name, ""


def _capacity_candidates(df: pd.DataFrame, kind: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Columns of ``df`` named for ``kind`` (in alias order) and those of them whose unit is not known.

    A column named for ``kind`` whose header states a unit of the other kind raises
    :class:`DataMismatchError`.
    """
    keys = {c: _header_key(c) for c in df.columns}
    rank = {a: i for i, a in enumerate(CAPACITY_ALIASES[kind])}
    rank.update({g: len(rank) for g in _GENERIC_NAMES})
    named = [c for c in df.columns if keys[c].name in rank]
    named = [c for c in named if keys[c].name not in _GENERIC_NAMES or keys[c].kind == kind]  # "Capacity (beds)"
    named.sort(key=lambda c: rank[keys[c].name])
    for c in named:
        if keys[c].kind is not None and keys[c].kind != kind:
            raise DataMismatchError(
                f"column {c!r} is named for {kind} but states a unit of {keys[c].kind}. Fix: correct the header, "
                f'or name the column holding {kind} in the circle\'s config (capacity_column = "...")'
            )
    unknown = [(c, keys[c].unknown_unit) for c in named if keys[c].unknown_unit]
    return [c for c in named if not keys[c].unknown_unit], unknown


def capacity_column(df: pd.DataFrame, kind: str, column: str | None = None, *, path: str | None = None) -> str | None:
    """Return the column of ``df`` holding capacities of ``kind`` (``None`` when there is none).

    Parameters
    ----------
    df
        The facility table.
    kind
        ``"area_m2"`` or ``"beds"``.
    column
        Use this column (exact header); a :class:`~dgcoverage.errors.DataMismatchError` names the columns
        when it is absent.
    path
        File name for the messages.

    Returns
    -------
    str or None
        The header named for ``kind`` (:data:`CAPACITY_ALIASES`, units as in :func:`_header_key`).  A header
        stating a unit that is not known (``面积(个)``, ``Area (units)``) is ignored (silently here; said and
        counted by :func:`capacity_column_report` and :func:`capacity_from_table`).  When
        several headers name ``kind`` (e.g. 建筑面积 and 占地面积) and their values differ, which one the
        standard means is not guessed: :class:`~dgcoverage.errors.DataMismatchError` names them and the
        config key that chooses (``capacity_column``).
    """
    return _capacity_column(df, kind, column, path, warn=False)[0]


def capacity_column_report(
    df: pd.DataFrame, kind: str, column: str | None = None, *, path: str | None = None
) -> tuple[str | None, dict[str, int]]:
    """:func:`capacity_column`, with counts: ``capacity_header_unit_unknown`` (columns ignored for their unit).

    Parameters
    ----------
    df, kind, column, path
        As in :func:`capacity_column`.

    Returns
    -------
    column, counts
        The column (or ``None``) and the counts (empty when nothing was ignored); an ignored column is
        also said in a warning naming the file, the column and the fix.
    """
    return _capacity_column(df, kind, column, path, warn=True)


def _capacity_column(
    df: pd.DataFrame, kind: str, column: str | None, path: str | None, *, warn: bool
) -> tuple[str | None, dict[str, int]]:
    if kind not in CAPACITY_ALIASES:
        raise ConfigError(f"capacity kind must be one of {sorted(CAPACITY_ALIASES)}, got {kind!r}")
    where = f"{path}: " if path else ""
    if column is not None:
        column = unit_row_column(df, column)
        if column not in df.columns:
            raise DataMismatchError(
                f"{where}capacity column {column!r} not found; columns present: {list(df.columns)}. Fix: set "
                "capacity_column in the circle's config to one of them"
            )
        return column, {}
    try:
        found, unknown = _capacity_candidates(df, kind)
    except DataMismatchError as exc:
        raise DataMismatchError(f"{where}{exc}") from None
    counts: dict[str, int] = {}
    shown = ", ".join(f"{c!r} (unit {u!r})" for c, u in unknown)
    own = KIND_SETTING[kind]
    fix = (
        f"if the numbers are in {KIND_UNIT[kind]}, name the column and its unit in the circle's config: "
        f'capacity_column = {unknown[0][0]!r} and capacity_unit = "{own}" '
        "(or the unit they are in: ha, mu, ...)"
        if unknown
        else ""
    )
    if unknown and not found:  # never read as m² (or beds): the unit is not known
        raise DataMismatchError(
            f"{where}capacity column {shown}: its header states a unit that is not one of m², 平方米, 公顷/ha, 亩, "
            f"km², 万平方米, ft², acre, 张/床 (beds). Fix: {fix}; or write a known unit in the header"
        )
    if unknown and warn:
        counts["capacity_header_unit_unknown"] = len(unknown)
        warnings.warn(
            f"{where}capacity column(s) {shown} ignored: the unit is not one of m², 平方米, 公顷/ha, 亩, km², ft², "
            f"acre, 张 (beds); {found[0]!r} is read. Fix: {fix}",
            DgCoverageWarning,
            stacklevel=3,
        )
    if len(found) > 1:
        first = _parse_column(df[found[0]], kind, _header_key(found[0]).factor or 1.0)[0]
        same = all(
            np.array_equal(first, _parse_column(df[c], kind, _header_key(c).factor or 1.0)[0], equal_nan=True)
            for c in found[1:]
        )
        if not same:
            raise DataMismatchError(
                f"{where}several {kind} columns {found} hold different values: which one the standard means is "
                f"not guessed. Fix: name it in the circle's config, capacity_column = {found[0]!r} (indoor floor "
                "space: 建筑面积; sports ground: 场地面积; land: 占地面积/用地面积), or remove the others"
            )
    return (found[0] if found else None), counts


def unit_row_column(df: pd.DataFrame, column: str) -> str:
    """Return the header ``column`` names, also when a unit row under it was joined to it (``场地面积 [公顷]``)."""
    if column in df.columns:
        return column
    joined = [c for c in df.columns if re.fullmatch(re.escape(column) + r" \[[^\]]*\]", str(c))]
    return joined[0] if len(joined) == 1 else column


def _parse_cell(text: str, kind: str, header_factor: float) -> tuple[float, str | None, bool]:
    """Parse one capacity cell: (value or NaN, the count it falls under or None, whether a unit was converted)."""
    s = _norm(text)
    if s in _MISSING_WORDS:
        return np.nan, "capacity_missing", False
    s = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}(?!\d))", "", s)  # "1 200": a space between thousands
    s = re.sub(r"\s+|\^|(?<=[a-z])\.", "", s)  # "500 sq. ft", "m^2"
    m = _CELL_RE.match(s)
    if m is None:
        return np.nan, "capacity_unparsed", False
    value = float(m["num"].replace(",", ""))
    factor, converted = header_factor, header_factor != 1.0
    if m["unit"]:
        unit_kind, factor = next((k, f) for words, k, f in UNITS if m["unit"] in words)
        if unit_kind != kind:
            return np.nan, "capacity_wrong_unit", False
        converted = factor != 1.0
    if m["wan"]:
        factor, converted = factor * 1e4, True
    pre, post = m["pre"] or "", m["post"] or m["post1"] or ""
    if m["sign"] or value <= 0:
        return np.nan, "capacity_nonpositive", False
    if pre in _UPPER_PRE or post in _UPPER_POST:
        return np.nan, "capacity_upper_bound", False
    note = None
    if m["num2"]:
        note = "capacity_range"
        value = min(value, float(m["num2"].replace(",", "")))
    elif pre in _LOWER_PRE or post in _LOWER_POST:
        note = "capacity_lower_bound"
    elif pre in _APPROX_PRE or post in _APPROX_POST:
        note = "capacity_approximate"
    return value * factor, note, converted


def _parse_column(cells: Iterable[Any], kind: str, factor: float) -> tuple[NDArray[np.float64], dict[str, list[int]]]:
    """Parse a column of capacity cells: values (NaN = unknown) and the rows of each counted outcome."""
    raw = list(cells)
    values = np.full(len(raw), np.nan)
    reasons: dict[str, list[int]] = {}
    for i, cell in enumerate(raw):
        if isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
            v, note, conv = _parse_number(float(cell), factor)
        else:
            v, note, conv = _parse_cell("" if cell is None else str(cell), kind, factor)
        values[i] = v
        for key in (note, "capacity_unit_converted" if conv else None):
            if key is not None:
                reasons.setdefault(key, []).append(i)
    return values, reasons


def capacity_from_table(
    df: pd.DataFrame,
    kind: str,
    path: str | None = None,
    *,
    column: str | None = None,
    check_plausible: bool = False,
    unit: str | None = None,
) -> tuple[NDArray[np.float64], dict[str, int]]:
    """Read facility capacities (area in m² or beds) from a table, never imputing.

    The column is ``column``, else the one :func:`capacity_column` finds (Chinese or English header, unit in
    brackets, after ``/`` or ``,``, or at the end; several differing columns are refused, a header of an
    unknown unit is ignored and counted).  Parsing rules (cells are NFKC-normalised first: full-width digits,
    ``㎡``, ``（）``):

    * numbers with thousands separators (``1,200``) and units (``1200㎡``, ``1200平方米``, ``500 sq ft``,
      ``120张``) are read; a unit in the header (``用地面积(公顷)``, ``Site area (ha)``) applies to cells
      without their own; ``亩`` (10,000/15 = 666.67 m²), ``公顷``/``ha`` (10,000 m²), ``平方公里``/``km²``
      (10⁶ m²), ``ft²``/``sq ft`` (0.09290304 m²), ``acre`` (4,046.86 m²) and ``万`` (x 10,000) are
      converted and counted;
    * approximate values (``约800``, ``800左右``, ``~800``) are used as given and counted
      (``capacity_approximate``); lower bounds (``800余``, ``800多``, ``>800``, ``800以上``) are used as the
      bound and ranges (``800-1000``) at their lower end, both conservative for a minimum standard, and counted;
    * unknown (``NaN``), counted and listed by row in a warning: empty or placeholder cells (``-``, ``无``,
      ``不详``), text that is not a number, zero or negative values, a unit of the other kind (m² for beds),
      and upper bounds (``<800``, ``800以下``), which cannot be used without overstating supply.

    Parameters
    ----------
    df
        The facility table (e.g. from :func:`dgcoverage.inputs.tables.read_table`; its ``attrs["line"]`` gives the
        file line of each row for the warnings, else rows are numbered from 0).
    kind
        ``"area_m2"`` or ``"beds"``.
    path
        File name for the warnings.
    column
        The capacity column, when the header is not one of :data:`CAPACITY_ALIASES` or several are present
        (a unit its header states is still applied; text in its unit place that is no unit is taken as a
        remark: the numbers are read in m² or beds).
    check_plausible
        Also take one facility over :data:`CAPACITY_MAX` (or an infinite value) for a unit or typing mistake
        (unknown, counted as ``capacity_implausible``, said with its lines) and say a median over
        :data:`CAPACITY_MEDIAN_MAX` (``capacity_median_implausible``).  The facility and candidate-site
        readers of the pipeline ask for it.  A column whose header and setting state no unit and whose median
        is under :data:`CAPACITY_MEDIAN_MIN` (50 m²: 1.4 or 21.9: hectares or 亩 read as m²) is taken for a
        unit mistake: every capacity of it unknown, counted as ``capacity_median_implausible``, said with the
        column, the median and the fix (``capacity_unit = "ha"``).
    unit
        The circle's ``capacity_unit`` setting (``"m2"``, ``"ha"``, ``"mu"``, ``"beds"`` ...): the unit of the
        column's numbers.  A header stating another unit is refused; a header whose unit place holds no unit
        (``建筑面积 含架空层``) needs it when the column is chosen by ``column``.

    Returns
    -------
    values, counts
        float64 capacity per row (m² or beds; ``NaN`` = unknown) and counts: ``capacity_known``,
        ``capacity_unknown``, ``capacity_column_missing`` (1 when the table has no capacity column: every
        capacity is unknown), and the reasons of :data:`CAPACITY_COUNT_TEXT` that occurred.
    """
    n = len(df)
    col, head_counts = capacity_column_report(df, kind, column, path=path)
    where = f"{path}: " if path else ""
    if col is None:
        warnings.warn(
            f"{where}no {kind} column ({_EXAMPLES[kind]}; a unit allowed): the capacity of "
            f"all {n} facilities is unknown; they count for the time circle but not for the supply check. Fix: "
            'name the column in the circle\'s config (capacity_column = "...")',
            DgCoverageWarning,
            stacklevel=2,
        )
        return np.full(n, np.nan), {
            "capacity_known": 0,
            "capacity_unknown": n,
            "capacity_column_missing": 1,
            **head_counts,
        }
    head = _header_key(col)
    if head.kind is not None and head.kind != kind:
        raise DataMismatchError(
            f"{where}column {col!r} states a unit of {head.kind}, not {kind}. Fix: name the column holding "
            f'{kind} in the circle\'s config (capacity_column = "...")'
        )
    factor = _column_factor(col, head, kind, unit, where)
    values, reasons = _parse_column(df[col].tolist(), kind, factor or 1.0)
    known = int(np.isfinite(values).sum())
    counts = {"capacity_known": known, "capacity_unknown": n - known, **head_counts}
    lines = df.attrs.get("line")
    label = "file lines" if lines is not None else "rows from 0"
    for key, rows in reasons.items():
        counts[key] = len(rows)
        shown = (np.asarray(lines)[rows] if lines is not None else np.asarray(rows))[:10].tolist()
        warnings.warn(
            f"{where}{len(rows)} facilities {CAPACITY_COUNT_TEXT[key]} (column {col!r}, {label} {shown})",
            DgCoverageWarning,
            stacklevel=2,
        )
    if check_plausible:
        values = _implausible(values, counts, kind, f"column {col!r}", lines, where, unit_stated=factor is not None)
    return values, counts


def _column_factor(col: str, head: _Header, kind: str, unit: str | None, where: str) -> float | None:
    """Factor of a column's numbers to m² or beds: the ``capacity_unit`` setting, else the header's unit.

    ``None`` when neither states one (the numbers are taken in the kind's unit).  A setting that contradicts
    the header, and a chosen column whose header holds text that is no unit without a setting, are refused.
    """
    if unit:
        f = unit_setting(unit, kind, f"{where}capacity_unit")
        if head.factor is not None and not np.isclose(head.factor, f, rtol=1e-12):
            raise DataMismatchError(
                f"{where}column {col!r} states its unit in the header ({head.factor:g} {KIND_UNIT[kind]} per unit) but "
                f"capacity_unit = {unit!r} says {f:g} {KIND_UNIT[kind]}. Fix: correct the header, or drop "
                "capacity_unit from the circle's config (the header's unit is read)"
            )
        return f
    if head.unknown_unit and head.kind is None:
        raise DataMismatchError(
            f"{where}column {col!r}: {head.unknown_unit!r} stands where its unit would, and is no unit we know; "
            "the numbers are not read as m² or beds by guess. Fix: say their unit in the circle's config, "
            f'capacity_unit = "{KIND_SETTING[kind]}" (or "ha", "mu", ...), or write a known unit in the header'
        )
    return head.factor


#: One facility above this is taken for a unit or typing mistake (capacity unknown, counted and said).
CAPACITY_MAX = {"area_m2": 1_000_000.0, "beds": 10_000.0}
#: The setting that says "the kind's own unit" (capacity_unit).
KIND_SETTING = {"area_m2": "m2", "beds": "beds"}
#: A median above this makes the column's unit suspect (e.g. "Site area (ha)" holding m²): said and counted.
CAPACITY_MEDIAN_MAX = {"area_m2": 100_000.0, "beds": 2_000.0}
#: A median below this, in a column whose header and setting state no unit, is taken for another unit
#: (hectares or 亩 read as m²): every capacity of the column unknown, said and counted.  50 m², not 10: sites
#: of 5-45 亩 (3,300-30,000 m², a community sports park) have a median of about 20 when written in 亩.
CAPACITY_MEDIAN_MIN = {"area_m2": 50.0}


def _implausible(
    values: NDArray[np.float64],
    counts: dict[str, int],
    kind: str,
    what: str,
    lines: Any,
    where: str,
    *,
    unit_stated: bool = True,
) -> NDArray[np.float64]:
    """Set capacities beyond :data:`CAPACITY_MAX` (or infinite) to unknown, counted and said; say a suspect median."""
    unit = "m²" if kind == "area_m2" else "beds"
    big = np.isinf(values) | (np.isfinite(values) & (values > CAPACITY_MAX[kind]))
    if big.any():
        n = int(big.sum())
        rows = np.flatnonzero(big)
        shown = (np.asarray(lines)[rows] if lines is not None else rows)[:10].tolist()
        values = np.where(big, np.nan, values)
        counts["capacity_implausible"] = n
        counts["capacity_unknown"] += n
        counts["capacity_known"] -= n
        warnings.warn(
            f"{where}{n} facilities have a capacity over {CAPACITY_MAX[kind]:,.0f} {unit} in {what} "
            f"({'file lines' if lines is not None else 'rows from 0'} {shown}): taken as a unit or typing "
            "mistake, capacity unknown. Fix: correct them, or name the column's unit in its header (e.g. "
            "面积(平方米))",
            DgCoverageWarning,
            stacklevel=3,
        )
    known = values[np.isfinite(values)]
    low = CAPACITY_MEDIAN_MIN.get(kind)
    if known.size and low is not None and not unit_stated and float(np.median(known)) < low:
        med = float(np.median(known))
        counts["capacity_median_implausible"] = 1
        counts["capacity_unknown"] += int(known.size)
        counts["capacity_known"] -= int(known.size)
        warnings.warn(
            f"{where}the median capacity in {what} is {med:g}, under {low:g} {unit} for one facility, and no unit "
            "is stated: the numbers are most likely hectares or 亩, not m², so every capacity of the column is "
            'unknown. Fix: say the unit in the circle\'s config, capacity_unit = "ha" (or "mu"; "m2" if they '
            "really are m²), or in the header (e.g. 场地面积(公顷))",
            DgCoverageWarning,
            stacklevel=3,
        )
        return np.full_like(values, np.nan)
    if known.size and float(np.median(known)) > CAPACITY_MEDIAN_MAX[kind]:
        counts["capacity_median_implausible"] = 1
        warnings.warn(
            f"{where}the median capacity in {what} is {float(np.median(known)):,.0f} {unit}, above "
            f"{CAPACITY_MEDIAN_MAX[kind]:,.0f} {unit} for one facility: check the column's unit (a header in "
            "公顷/ha over figures in m² multiplies them by 10,000)",
            DgCoverageWarning,
            stacklevel=3,
        )
    return values


def _parse_number(value: float, factor: float) -> tuple[float, str | None, bool]:
    """Classify a numeric cell: NaN is missing, non-finite unparsed, <= 0 non-positive, else value x header factor."""
    if np.isnan(value):
        return np.nan, "capacity_missing", False
    if not np.isfinite(value):
        return np.nan, "capacity_unparsed", False
    if value <= 0:
        return np.nan, "capacity_nonpositive", False
    return value * factor, None, factor != 1.0
