"""Supply standards beside the time circles: capacities, policy ratios and access-weighted supply (2SFCA).

Numbers and tables only (no geometry, no files written).  Three questions,
each answered separately:

1. **How much is there?**  :func:`capacity_from_table` reads a facility's
   capacity (area in m² or beds) from a table column with a Chinese or English
   header.  A facility whose capacity is missing or unusable still counts for
   the time circle; here it is *unknown* (``NaN``), counted and listed, never
   set to zero and never filled with an average.
2. **Is it enough where the policy measures it?**  :func:`supply_ratios`:
   supply per resident (or per 1,000 older people) per 镇街 and city-wide,
   against the targets of 东府办〔2020〕46号 and 东府〔2020〕1号
   (:data:`SUPPLY_STANDARDS`), with the deficit and a pass/fail/unknown status.
3. **How much can people reach?**  :func:`two_step_fca`: the two-step floating
   catchment area method (Luo & Wang 2003; with distance-decay weights, the
   enhanced 2SFCA of Luo & Qi 2009) on network travel times, the circle's limit
   being the catchment; per village and per town as people-weighted means
   (:func:`village_accessibility`, :func:`town_accessibility`).

Unknown capacities and the status rule
--------------------------------------
Known supply (the sum of the known capacities) is a lower bound of the true
supply, since an unknown capacity is at least zero.  So a town whose *known*
supply already meets the target **passes**; a town below the target with every
capacity known **fails**; a town below the target with some capacity unknown is
**unknown** (the missing figures could close the gap).  A town without people
(or without an elderly figure, for a per-elderly target) is **no_data**.  The
deficit is ``max(0, target x people - known supply)``: exact when every capacity
is known, otherwise an upper bound.  In 2SFCA, facilities of unknown capacity
are left out of the supply (their catchment ratio is ``NaN``), so a cell's
accessibility is a lower bound wherever such a facility is in reach; each cell
says how many are (:attr:`TwoStepResult.unknown_within`).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from .access import AccessGraph
from .errors import ConfigError, DataMismatchError, DgCoverageWarning, NetworkError
from .siting import TIME_TOL_S

#: Code and name of the city-wide row of every town table.
CITY_CODE = "441900"
CITY_NAME = "东莞市(全市)"

# --------------------------------------------------------------------------------------------- standards


@dataclass(frozen=True)
class SupplyStandard:
    """A quantity target of the policy texts (see ``../shared/POLICY.md``).

    Attributes
    ----------
    kind
        Capacity measured: ``"area_m2"`` or ``"beds"`` (:data:`CAPACITY_ALIASES`).
    target
        Target per ``per`` people of ``base`` (e.g. 0.24 m² per 1 resident, 35 beds per 1,000 elderly).
    per
        1 (per person) or 1000 (per 1,000 people).
    base
        ``"residents"`` (常住人口) or ``"elderly"`` (people aged 60+).
    name_zh, source, by_year
        The indicator's Chinese name, the policy text and the year the target is due.
    """

    kind: str
    target: float
    per: int
    base: str
    name_zh: str
    source: str
    by_year: int


#: The supply targets of the two policy texts, keyed by a short id.
SUPPLY_STANDARDS: dict[str, SupplyStandard] = {
    "culture_indoor_area": SupplyStandard(
        "area_m2", 0.24, 1, "residents", "人均拥有室内公共文化设施面积", "东府办〔2020〕46号", 2025
    ),
    "sports_ground_area": SupplyStandard(
        "area_m2", 3.2, 1, "residents", "人均体育场地设施面积", "东府办〔2020〕46号", 2025
    ),
    "elderly_care_beds": SupplyStandard(
        "beds", 35.0, 1000, "elderly", "每千名老年人拥有养老床位", "东府〔2020〕1号", 2021
    ),
}

#: ASSUMPTION, to be replaced by a citable source: share of Dongguan's residents aged 60 and over.
#: No age structure is staged in ../shared (seeds, data).  The value is the 7th-census (2020-11-01) figure
#: 5.47 % (65+: 3.54 %) as reported in the press (东莞时间网 on the 广东省第七次全国人口普查公报 第四号,
#: 2021-05-15, table 4-2), not checked against the bulletin itself; one repost gives 2.85 % instead.
#: See dgcoverage/data/dongguan/ELDERLY_SHARE_SOURCE.md.  Pass ``elderly_share`` (one share, or one per
#: town) or an ``elderly`` column of counts per town to replace it.
ELDERLY_SHARE_DEFAULT = 0.0547
#: Where :data:`ELDERLY_SHARE_DEFAULT` comes from (said in tables' ``attrs``, towns.csv and summary.json).
ELDERLY_SHARE_SOURCE = (
    "ASSUMPTION (not from a verified table): 5.47% of residents aged 60+, Dongguan, 7th census 2020, as "
    "reported in the press from 广东省第七次全国人口普查公报(第四号) table 4-2 (one repost gives 2.85%); see "
    "dgcoverage/data/dongguan/ELDERLY_SHARE_SOURCE.md; replace with [settings] elderly_population or elderly_share"
)

# --------------------------------------------------------------------------------------------- capacity

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

#: Units recognised in a header or a cell: (spellings, kind, factor to the kind's unit: m² or beds).
#: Spellings are compared after NFKC, lower case and without spaces, dots, underscores and ``^``
#: (``sq. ft`` -> ``sqft``, ``m²`` -> ``m2``).  A leading ``万`` multiplies by 10,000 (``万平方米``).
UNITS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("平方公里", "平方千米", "km2", "sqkm", "squarekilometres", "squarekilometers"), "area_m2", 1e6),
    (("公顷", "hm2", "ha", "hectare", "hectares"), "area_m2", 1e4),
    (("英亩", "acre", "acres"), "area_m2", 4046.8564224),
    (("亩", "mu"), "area_m2", 10_000.0 / 15.0),
    (("平方英尺", "ft2", "sqft", "squarefoot", "squarefeet"), "area_m2", 0.09290304),
    (
        (
            "平方米",
            "平米",
            "m2",
            "sqm",
            "sqmetres",
            "sqmeters",
            "squaremetre",
            "squaremetres",
            "squaremeter",
            "squaremeters",
        ),
        "area_m2",
        1.0,
    ),
    (("张", "个", "床", "床位", "张床", "bed", "beds"), "beds", 1.0),
)
#: Header examples per kind for messages.
_EXAMPLES = {
    "area_m2": "e.g. 面积, 建筑面积(平方米), 场地面积(公顷), Floor area (m2), Site area (ha)",
    "beds": "e.g. 床位, 床位数(张), 养老床位, Beds, No. of beds",
}
#: Names of a capacity column that say its kind only by their unit (``Capacity (beds)``, ``规模(平方米)``).
_GENERIC_NAMES = ("capacity", "size", "容量", "规模")
_ALL_ALIASES = {a for names in CAPACITY_ALIASES.values() for a in names} | set(_GENERIC_NAMES)
_UNIT_WORDS = sorted((w for words, _, _ in UNITS for w in words), key=len, reverse=True)
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


def _norm(text: object) -> str:
    """NFKC (full-width digits, ㎡ -> m2, （ -> (), lower case, no surrounding spaces."""
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def _compact(text: str) -> str:
    """Return a unit as compared with :data:`UNITS`: no spaces, dots, underscores, hyphens or ``^``."""
    return re.sub(r"[\s._\-^]+", "", text)


def _unit_of(text: str) -> tuple[str, float] | None:
    """Kind and factor of a unit (``平方米``, ``sq. m``, ``万平方米``, ``单位:亩``, ``张``), else None."""
    t = _compact(re.sub(r"^(单位|units?|in)\s*[:=]?\s*", "", text))
    scale = 1.0
    if t.startswith("万") and len(t) > 1:
        t, scale = t[1:], 1e4
    for words, kind, factor in UNITS:
        if t in words:
            return kind, factor * scale
    return None


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
    """Split a header into its normalised name and its unit.

    The unit is read from brackets (``面积(亩)``), after ``/``, ``,``, ``;`` or ``|`` (``建筑面积/㎡``,
    ``Gross floor area, sq m``), or from the end of the name (``area m2``, ``site_area_ha``,
    ``建筑面积平方米``).  A bilingual header ``id 中文`` (``beds 床位``) is named by its first word.
    """
    h = _norm(header).replace("【", "[").replace("】", "]").replace("〔", "[").replace("〕", "]")
    slots = re.findall(r"[(\[]([^)\]]*)[)\]]", h)
    h = re.sub(r"[(\[][^)\]]*[)\]]", " ", h).strip()
    parts = re.split(r"\s*[/,;|]\s*", h, maxsplit=1)
    if len(parts) == 2:
        h = parts[0]
        slots.append(parts[1])
    words = h.split()
    name = _name_key(h)
    if name not in _ALL_ALIASES and len(words) > 1 and any(not w.isascii() for w in words[1:]):
        name = _name_key(words[0])  # bilingual "beds 床位", "area_m2 面积"
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
    if unknown and warn:
        counts["capacity_header_unit_unknown"] = len(unknown)
        shown = ", ".join(f"{c!r} (unit {u!r})" for c, u in unknown)
        warnings.warn(
            f"{where}capacity column(s) {shown} ignored: the unit is not one of m², 平方米, 公顷/ha, 亩, km², ft², "
            f"acre, 张 (beds). Fix: if the numbers are in {'m²' if kind == 'area_m2' else 'beds'}, set "
            f"capacity_column = {unknown[0][0]!r} in the circle's config; otherwise convert them",
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
        The facility table (e.g. from :func:`dgcoverage.tables.read_table`; its ``attrs["line"]`` gives the
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
        readers of the pipeline ask for it.

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
    values, reasons = _parse_column(df[col].tolist(), kind, head.factor or 1.0)
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
        values = _implausible(values, counts, kind, f"column {col!r}", lines, where)
    return values, counts


#: One facility above this is taken for a unit or typing mistake (capacity unknown, counted and said).
CAPACITY_MAX = {"area_m2": 1_000_000.0, "beds": 10_000.0}
#: A median above this makes the column's unit suspect (e.g. "Site area (ha)" holding m²): said and counted.
CAPACITY_MEDIAN_MAX = {"area_m2": 100_000.0, "beds": 2_000.0}


def _implausible(
    values: NDArray[np.float64], counts: dict[str, int], kind: str, what: str, lines: Any, where: str
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


# --------------------------------------------------------------------------------------------- policy ratios

SUPPLY_STATUSES = ("pass", "fail", "unknown", "no_data")
SUPPLY_STATUS_ZH = {"pass": "达标", "fail": "未达标", "unknown": "待核实(部分设施容量未知)", "no_data": "无数据"}


def _target(target_per_capita: float | None, target_per_1000: float | None) -> tuple[float, int]:
    if (target_per_capita is None) == (target_per_1000 is None):
        raise ConfigError("give exactly one of target_per_capita and target_per_1000")
    target, per = (target_per_capita, 1) if target_per_capita is not None else (target_per_1000, 1000)
    if not (target is not None and np.isfinite(target) and target > 0):
        raise ConfigError(f"the supply target must be a number > 0, got {target!r}")
    return float(target), per


def _elderly_counts(
    towns: pd.DataFrame, elderly_share: float | Mapping[str, float] | None
) -> tuple[NDArray[np.float64], str]:
    """Older people per town: from ``elderly_share`` if given, else an ``elderly`` column, else the default share."""
    pop = towns["population"].to_numpy(dtype=float)
    if elderly_share is None and "elderly" in towns.columns:
        return pd.to_numeric(towns["elderly"], errors="coerce").to_numpy(dtype=float), "per-town table (elderly)"
    if elderly_share is None:
        return pop * ELDERLY_SHARE_DEFAULT, ELDERLY_SHARE_SOURCE
    if isinstance(elderly_share, Mapping):
        share = np.array([float(elderly_share.get(c, np.nan)) for c in towns["town_code"]])
        source = "per-town shares (elderly_share)"
    else:
        share = np.full(len(towns), float(elderly_share))
        source = f"one share for every town: {float(elderly_share):.6g}"
    bad = np.isfinite(share) & ((share < 0) | (share > 1))
    if bad.any():
        raise ConfigError(f"elderly shares must lie in [0, 1]: {towns['town_code'][bad].tolist()[:10]}")
    return pop * share, source


def _town_index(facility_town: ArrayLike, towns: pd.DataFrame) -> tuple[NDArray[np.int64], int]:
    """Row of ``towns`` for each facility (``-1``: no town or a town not in the table) and how many are outside."""
    codes = pd.Series(np.asarray(facility_town, dtype=object)).map(
        lambda c: "" if c is None or (isinstance(c, float) and np.isnan(c)) else str(c).strip()
    )
    pos = {c: i for i, c in enumerate(towns["town_code"])}
    idx = codes.map(lambda c: pos.get(c, -1)).to_numpy(dtype=np.int64)
    return idx, int((idx < 0).sum())


def _status(
    base: NDArray[np.float64], supply: NDArray[np.float64], required: NDArray[np.float64], unknown: NDArray[np.int64]
) -> tuple[list[str], list[str]]:
    """Status and reason per row (see the module docstring for the rule)."""
    status, reason = [], []
    for b, s, r, u in zip(base, supply, required, unknown):
        if not (np.isfinite(b) and b > 0):
            status.append("no_data")
            reason.append("no people (or no elderly figure) to measure supply against")
        elif s >= r * (1 - 1e-12):
            status.append("pass")
            reason.append(f"met by known capacities; {u} facilities of unknown capacity only add" if u else "")
        elif u:
            status.append("unknown")
            reason.append(
                f"known capacities fall {r - s:,.0f} short; the {u} facilities of unknown capacity could close the gap"
            )
        else:
            status.append("fail")
            reason.append("no facility with capacity" if s == 0 else "")
    return status, reason


def supply_ratios(
    facility_town: ArrayLike,
    capacity: ArrayLike,
    towns: pd.DataFrame,
    *,
    target_per_capita: float | None = None,
    target_per_1000: float | None = None,
    elderly: bool = False,
    elderly_share: float | Mapping[str, float] | None = None,
    supply_unit: str = "m2",
    city_code: str = CITY_CODE,
    city_name: str = CITY_NAME,
) -> pd.DataFrame:
    """Supply against a per-person target per town (镇街) and city-wide, as the policy texts measure it.

    Parameters
    ----------
    facility_town
        Town code of each facility (``None``/empty: in no town, or a code not in ``towns``: left out of
        every row and counted in ``attrs["facilities_outside_towns"]``, with a warning).
    capacity
        Capacity of each facility (m² or beds; ``NaN`` = unknown, e.g. from :func:`capacity_from_table`).
    towns
        ``town_code``, ``population`` (residents) and optionally ``town_name`` and ``elderly`` (people aged
        60+); a city-wide row (``city_code``) is ignored and recomputed, so a town table of
        :func:`dgcoverage.coverage.town_table` can be passed as it is.
    target_per_capita, target_per_1000
        The target per person or per 1,000 people (exactly one), e.g. 0.24 (m²/person), 35 (beds/1,000).
    elderly
        Measure against older people (60+) instead of residents.  Their number is, in this order:
        ``population x elderly_share`` when ``elderly_share`` is given (one share, or a mapping town code ->
        share; towns missing from it have no figure: ``no_data``), else the ``elderly`` column of ``towns``,
        else ``population x`` :data:`ELDERLY_SHARE_DEFAULT` (an assumption; see its comment).
    elderly_share
        See ``elderly``.
    supply_unit
        Unit of the capacities, for the ``ratio_unit`` column (``"m2"``, ``"beds"``).
    city_code, city_name
        The city-wide row.

    Returns
    -------
    pandas.DataFrame
        One row per town, then the city row: ``town_code, town_name, facilities,
        facilities_capacity_known, facilities_capacity_unknown, capacity_unknown_share`` (of the
        facilities; NaN without facilities), ``supply`` (sum of the known capacities), ``population``,
        ``elderly`` (per-elderly targets only), ``supply_ratio`` (supply per person, or per 1,000),
        ``target_ratio``, ``ratio_unit``, ``required_supply`` (target x people), ``deficit``
        (``max(0, required - supply)``; an upper bound when capacities are unknown; NaN for ``no_data``),
        ``status`` (``pass``/``fail``/``unknown``/``no_data``, rule in the module docstring),
        ``status_zh`` and ``reason``.  The city row sums the towns: its deficit nets surpluses against
        shortfalls (it is smaller than the sum of the towns' deficits).  ``attrs``: ``target``, ``per``,
        ``base``, ``elderly_source``, ``facilities_outside_towns``.
    """
    target, per = _target(target_per_capita, target_per_1000)
    cap = np.asarray(capacity, dtype=float).reshape(-1)
    ftown = np.asarray(facility_town, dtype=object).reshape(-1)
    if cap.shape[0] != ftown.shape[0]:
        raise DataMismatchError(f"{cap.shape[0]} capacities for {ftown.shape[0]} facilities")
    if (np.isinf(cap) | (cap < 0)).any():
        raise DataMismatchError("capacities must be >= 0 or NaN (unknown); read them with capacity_from_table")
    missing = [c for c in ("town_code", "population") if c not in towns.columns]
    if missing:
        raise DataMismatchError(f"the town table lacks {missing}; columns present: {list(towns.columns)}")
    t = towns.assign(town_code=towns["town_code"].astype(str).str.strip())
    t = t[t["town_code"] != city_code].reset_index(drop=True)
    if t["town_code"].duplicated().any():
        raise DataMismatchError(f"town codes repeat: {sorted(set(t['town_code'][t['town_code'].duplicated()]))}")
    idx, outside = _town_index(ftown, t)
    if outside:
        warnings.warn(
            f"{outside} facilities lie in no town of the table and are left out of the supply ratios",
            DgCoverageWarning,
            stacklevel=2,
        )
    nt = len(t)
    inside = idx >= 0
    known = inside & np.isfinite(cap)

    def per_town(mask: NDArray[np.bool_], w: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        return cast("NDArray[np.float64]", np.bincount(idx[mask], weights=None if w is None else w[mask], minlength=nt))

    n_fac = per_town(inside).astype(np.int64)
    n_known = per_town(known).astype(np.int64)
    supply = per_town(known, np.nan_to_num(cap))
    pop = pd.to_numeric(t["population"], errors="coerce").to_numpy(dtype=float)
    if elderly:
        base, source = _elderly_counts(t.assign(population=pop), elderly_share)
    else:
        base, source = pop, "residents"
    with_people = np.isfinite(pop) & (pop > 0)
    city_base = float(base[with_people].sum()) if np.isfinite(base[with_people]).all() else np.nan
    codes = [*t["town_code"].tolist(), city_code]
    names = [*(t["town_name"].tolist() if "town_name" in t.columns else [""] * nt), city_name]
    out = pd.DataFrame({"town_code": codes, "town_name": names})
    out["facilities"] = np.append(n_fac, n_fac.sum())
    out["facilities_capacity_known"] = np.append(n_known, n_known.sum())
    out["facilities_capacity_unknown"] = out["facilities"] - out["facilities_capacity_known"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["capacity_unknown_share"] = out["facilities_capacity_unknown"] / out["facilities"].where(
            out["facilities"] > 0
        )
    out["supply"] = np.append(supply, supply.sum())
    out["population"] = np.append(pop, np.nansum(pop))
    b = np.append(base, city_base)
    if elderly:
        out["elderly"] = b
    ok = np.isfinite(b) & (b > 0)
    safe = np.where(ok, b, 1.0)
    out["supply_ratio"] = np.where(ok, out["supply"].to_numpy() / safe * per, np.nan)
    out["target_ratio"] = target
    group = "elderly (60+)" if elderly else ("resident" if per == 1 else "residents")
    out["ratio_unit"] = f"{supply_unit} per {group}" if per == 1 else f"{supply_unit} per {per:,} {group}"
    required = np.where(np.isfinite(b), target * np.nan_to_num(b) / per, np.nan)
    out["required_supply"] = required
    out["deficit"] = np.where(ok, np.maximum(0.0, required - out["supply"].to_numpy()), np.nan)
    status, reason = _status(b, out["supply"].to_numpy(), required, out["facilities_capacity_unknown"].to_numpy())
    out["status"] = status
    out["status_zh"] = out["status"].map(SUPPLY_STATUS_ZH)
    out["reason"] = reason
    out.attrs.update(
        target=target,
        per=per,
        base="elderly" if elderly else "residents",
        elderly_source=source if elderly else None,
        facilities_outside_towns=outside,
    )
    return out


# --------------------------------------------------------------------------------------------- 2SFCA

DECAYS = ("none", "gaussian", "stepwise")
#: Zone weights of the enhanced 2SFCA (Luo & Qi 2009: 1, 0.68, 0.22 for the three zones of a catchment);
#: the default zones are the thirds of the circle's limit.
E2SFCA_WEIGHTS = (1.0, 0.68, 0.22)


@dataclass
class TwoStepResult:
    """Access-weighted supply per demand cell (:func:`two_step_fca`).

    Attributes
    ----------
    access
        A_i per cell: known supply reachable within the catchment per person of demand (m² or beds per
        person; x 1,000 for "per 1,000").  0 where no facility of known capacity is in reach (also off the
        network); a lower bound where ``unknown_within > 0``.
    facilities_within
        Facilities (known or unknown capacity) in reach of each cell with a weight > 0.
    unknown_within
        Facilities of unknown capacity in reach of each cell with a weight > 0.
    facility_ratio
        R_j per facility: capacity / weighted demand in its catchment; NaN when the capacity is unknown or
        nobody (weighted demand 0) is in its catchment (off the network, a leg longer than the limit, or no
        people in reach).
    facility_demand
        Weighted demand in each facility's catchment (sum of W(t_ij) P_i).
    pairs
        Facility-cell pairs within the catchment.
    decay
        The weighting used (``none``, ``gaussian``, ``stepwise`` or ``custom``).
    """

    access: NDArray[np.float64]
    facilities_within: NDArray[np.int64]
    unknown_within: NDArray[np.int64]
    facility_ratio: NDArray[np.float64]
    facility_demand: NDArray[np.float64]
    pairs: int
    decay: str


def catchment_times(
    graph: AccessGraph,
    fac_node: ArrayLike,
    fac_leg_s: ArrayLike,
    cell_node: ArrayLike,
    cell_leg_s: ArrayLike,
    limit_s: float,
    speed_mps: float,
    *,
    chunk: int | None = None,
    dense_budget: int = 16_000_000,
    progress: bool = False,
) -> csr_array:
    """Travel times from cells to facilities within a limit: bounded searches per facility.

    People travel to the facility, so each facility's search runs over the reversed graph
    (``graph.rev``) from its node, stopping at the limit; ``t_ij = cell leg + network time(cell node ->
    facility node) at speed_mps + facility leg``, kept when ``t_ij <= limit_s`` (+1e-9 s, as the circles).

    Facilities are searched a batch at a time, batches being neighbours in space.  One multi-source
    search (``min_only``) finds the nodes within the limit of any facility of the batch; every shortest
    path of a facility within the limit runs through those nodes only, so the batch's own searches run
    on the subgraph they induce and give the same times as searches over the whole graph, while only a
    ``batch x reached nodes`` block is dense (not ``batch x all nodes``).

    Parameters
    ----------
    graph
        The access graph (weights in seconds at ``graph.speed_mps``; any network speed is searched exactly).
    fac_node, fac_leg_s
        Node of each facility (``-1`` = off the network: an empty row) and its access leg in seconds.
    cell_node, cell_leg_s
        Node of each demand cell (``-1`` = off the network: an empty column) and its access leg (s).
    limit_s
        Catchment limit in seconds.
    speed_mps
        Network travel speed, m/s.
    chunk, dense_budget
        Facilities per batch (default 64), and the most values a batch's dense block may hold (a larger
        batch is split).
    progress
        Show a progress bar over the batches (long runs only).

    Returns
    -------
    scipy.sparse.csr_array
        float64 seconds, shape ``(facilities, cells)``, sorted indices; pairs beyond the limit are absent
        and a stored 0 is a real zero time.
    """
    fnode = np.asarray(fac_node, dtype=np.int64).reshape(-1)
    fleg = np.asarray(fac_leg_s, dtype=np.float64).reshape(-1)
    cnode = np.asarray(cell_node, dtype=np.int64).reshape(-1)
    cleg = np.asarray(cell_leg_s, dtype=np.float64).reshape(-1)
    if fnode.shape != fleg.shape or cnode.shape != cleg.shape:
        raise DataMismatchError("node and leg arrays differ in length")
    if not (speed_mps > 0 and limit_s > 0):
        raise NetworkError(f"speed and limit must be > 0, got {speed_mps} m/s and {limit_s} s")
    k = speed_mps / graph.speed_mps  # graph seconds per real second
    m, nc = fnode.shape[0], cnode.shape[0]
    lim = limit_s + TIME_TOL_S
    chunk = 64 if chunk is None else max(int(chunk), 1)
    cells = _CellsByNode(cnode, cleg, graph.rev.shape[0])
    usable = np.nonzero((fnode >= 0) & (fleg <= lim))[0]
    usable = usable[_spatial_order(graph, fnode[usable])]
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float64]] = []
    if cells.uniq.size and usable.size:
        from tqdm.auto import tqdm

        starts = range(0, usable.size, chunk)
        for s in tqdm(starts, desc="catchments", unit="batch", disable=not progress or len(starts) < 20, leave=False):
            idx = usable[s : s + chunk]
            for r, c, t in _batch_pairs(graph.rev, fnode[idx], fleg[idx], k, lim, cells, dense_budget):
                rows.append(idx[r])
                cols.append(c)
                vals.append(t)
    r_all = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    ind = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    data = np.concatenate(vals) if vals else np.empty(0, dtype=np.float64)
    o = np.lexsort((ind, r_all))
    row_nnz = np.bincount(r_all, minlength=m)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    itype = np.int32 if max(nc, ind.size) < 2**31 else np.int64
    return csr_array((data[o], ind[o].astype(itype), indptr.astype(itype)), shape=(m, nc))


class _CellsByNode:
    """Demand cells grouped by network node: the cells of node ``v`` are ``order[start[slot[v]]:][:cnt[...]]``."""

    def __init__(self, cnode: NDArray[np.int64], cleg: NDArray[np.float64], n_nodes: int) -> None:
        on = np.nonzero(cnode >= 0)[0]
        self.order = on[np.argsort(cnode[on], kind="stable")]
        self.uniq, self.start, self.cnt = np.unique(cnode[self.order], return_index=True, return_counts=True)
        self.slot = np.full(n_nodes, -1, dtype=np.int64)
        self.slot[self.uniq] = np.arange(self.uniq.size)
        self.leg = cleg


def _spatial_order(graph: AccessGraph, node: NDArray[np.int64]) -> NDArray[np.int64]:
    """Order of facilities along a Z-order curve of their nodes (batches of neighbours reach few nodes)."""
    if node.size == 0:
        return np.zeros(0, dtype=np.int64)
    x, y = graph.x[node], graph.y[node]
    span = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    gx = ((x - x.min()) / span * 65535).astype(np.uint64)
    gy = ((y - y.min()) / span * 65535).astype(np.uint64)
    code = np.zeros(node.size, dtype=np.uint64)
    for b in range(16):
        code |= ((gx >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
        code |= ((gy >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
    return np.argsort(code, kind="stable").astype(np.int64)


def _induced_subgraph(rev: csr_array, keep: NDArray[np.int64], local: NDArray[np.int64]) -> csr_array:
    """Return the subgraph of ``rev`` on the sorted nodes ``keep`` (``local``: node -> position, else -1)."""
    ptr = rev.indptr
    lo, n_out = ptr[keep].astype(np.int64), np.diff(ptr)[keep].astype(np.int64)
    total = int(n_out.sum())
    offs = np.cumsum(n_out) - n_out
    at = np.repeat(lo - offs, n_out) + np.arange(total)
    head = local[rev.indices[at]]
    inside = head >= 0
    row = np.repeat(np.arange(keep.size), n_out)[inside]
    indptr = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=keep.size), out=indptr[1:])
    return csr_array((rev.data[at][inside], head[inside].astype(np.int32), indptr), shape=(keep.size, keep.size))


def _batch_pairs(
    rev: csr_array,
    node: NDArray[np.int64],
    leg: NDArray[np.float64],
    k: float,
    lim: float,
    cells: _CellsByNode,
    dense_budget: int,
) -> Iterable[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
    """(row within the batch, cell, seconds) of every pair within the limit, for one batch of facilities."""
    limit = (lim - float(leg.min())) * k
    reach = dijkstra(rev, directed=True, indices=np.unique(node), limit=limit, min_only=True)
    keep = np.flatnonzero(np.isfinite(reach))
    local = np.full(rev.shape[0], -1, dtype=np.int64)
    local[keep] = np.arange(keep.size)
    sub = _induced_subgraph(rev, keep, local)
    with_cells = np.flatnonzero(cells.slot[keep] >= 0)
    slots = cells.slot[keep[with_cells]]
    step = max(1, dense_budget // max(keep.size, 1))
    for s in range(0, node.size, step):
        part = slice(s, s + step)
        D = dijkstra(sub, directed=True, indices=local[node[part]], limit=limit)[:, with_cells]
        r, j = np.nonzero(np.isfinite(D))
        t = leg[part][r] + D[r, j] / k
        ok = t <= lim
        r, j, t = r[ok] + s, slots[j[ok]], t[ok]
        c = cells.cnt[j]
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        cell = cells.order[np.repeat(cells.start[j], c) + within]
        tt = np.repeat(t, c) + cells.leg[cell]
        hit = tt <= lim
        yield np.repeat(r, c)[hit].astype(np.int64), cell[hit].astype(np.int64), tt[hit]


def decay_weights(
    t_s: ArrayLike,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike],
    limit_s: float,
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
) -> NDArray[np.float64]:
    """Distance-decay weight W(t) of travel times within the catchment, as PySAL ``access.weights`` defines them.

    Parameters
    ----------
    t_s
        Times in seconds (all within the limit).
    decay
        ``"none"``: W = 1 (the original 2SFCA).  ``"gaussian"``: W = exp(-t² / (2 sigma²)) (PySAL
        ``weights.gaussian``; W(0) = 1, not truncated to 0 at the limit).  ``"stepwise"``: the enhanced
        2SFCA, W = the weight of the first step whose upper bound is >= t, 0 beyond the last (PySAL
        ``weights.step_fn``).  Or a function of a time array (seconds) returning weights.
    limit_s
        The catchment limit (for the defaults).
    sigma_s
        Gaussian width in seconds; default ``limit_s / 2`` (W(limit) = exp(-2) = 0.135).
    steps
        ``(upper bound s, weight)`` pairs for ``stepwise``; default the thirds of the limit with
        :data:`E2SFCA_WEIGHTS` (1, 0.68, 0.22).

    Returns
    -------
    numpy.ndarray
        float64 weights >= 0.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if callable(decay):
        w = np.asarray(decay(t), dtype=np.float64)
    elif decay == "none":
        w = np.ones_like(t)
    elif decay == "gaussian":
        sigma = limit_s / 2.0 if sigma_s is None else float(sigma_s)
        if not sigma > 0:
            raise ConfigError(f"the Gaussian width must be > 0 s, got {sigma_s}")
        w = np.exp(-t * t / (2.0 * sigma**2))
    elif decay == "stepwise":
        bounds, weights = _steps(limit_s, steps)
        i = np.searchsorted(bounds, t, side="left")
        w = np.append(weights, 0.0)[i]
    else:
        raise ConfigError(f"decay must be one of {DECAYS} or a function, got {decay!r}")
    if w.shape != t.shape or not (np.isfinite(w) & (w >= 0)).all():
        raise ConfigError("decay weights must be finite, >= 0 and one per time")
    return w


def _steps(
    limit_s: float, steps: Sequence[tuple[float, float]] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if steps is None:
        n = len(E2SFCA_WEIGHTS)
        steps = [(limit_s * (i + 1) / n, w) for i, w in enumerate(E2SFCA_WEIGHTS)]
    arr = np.asarray(list(steps), dtype=np.float64).reshape(-1, 2)
    bounds, weights = arr[:, 0], arr[:, 1]
    if arr.shape[0] == 0 or (np.diff(bounds) <= 0).any() or (weights < 0).any() or not np.isfinite(arr).all():
        raise ConfigError("steps must be (upper bound s, weight >= 0) pairs with increasing bounds")
    return bounds, weights


def two_step_fca_from_times(
    times: csr_array,
    capacity: ArrayLike,
    demand: ArrayLike,
    limit_s: float,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike] = "none",
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
) -> TwoStepResult:
    """2SFCA on a sparse matrix of travel times (facilities x demand points).

    Step 1, per facility j: ``R_j = S_j / sum_{i: t_ij <= d0} W(t_ij) P_i``; step 2, per demand point i:
    ``A_i = sum_{j: t_ij <= d0} W(t_ij) R_j``, with d0 = ``limit_s``.  Equal to PySAL ``access``
    (``Access.two_stage_fca`` / ``enhanced_two_stage_fca`` with ``max_cost=d0`` and the same weight
    function) wherever that is defined; where PySAL gives NaN (a demand point with no facility in reach)
    this gives 0, and a facility with nobody in its catchment adds nothing (PySAL: inf/NaN at the zero-demand
    points in reach).  Facilities of unknown capacity (``NaN``) are left out of step 2 and counted per point.

    Parameters
    ----------
    times
        Seconds, shape ``(facilities, points)``; stored entries are the pairs in the catchment (entries
        above ``limit_s`` + 1e-9 are ignored; a stored 0 is a zero time).
    capacity
        S_j per facility (``NaN`` = unknown; otherwise >= 0).
    demand
        P_i per point (people; elderly people for a per-elderly standard).
    limit_s, decay, sigma_s, steps
        The catchment and the weights (:func:`decay_weights`).

    Returns
    -------
    TwoStepResult
    """
    T = csr_array(times)
    m, nd = T.shape
    cap = np.asarray(capacity, dtype=np.float64).reshape(-1)
    pop = np.asarray(demand, dtype=np.float64).reshape(-1)
    if cap.shape[0] != m or pop.shape[0] != nd:
        raise DataMismatchError(f"times are {m} x {nd} but there are {cap.shape[0]} capacities, {pop.shape[0]} points")
    if (np.isinf(cap) | (cap < 0)).any():
        raise DataMismatchError("capacities must be >= 0 or NaN (unknown)")
    if not (np.isfinite(pop) & (pop >= 0)).all():
        raise DataMismatchError("demand must be finite and >= 0")
    row = np.repeat(np.arange(m), np.diff(T.indptr))
    inside = T.data <= limit_s + TIME_TOL_S
    w = np.zeros(T.data.shape[0])
    w[inside] = decay_weights(T.data[inside], decay, limit_s, sigma_s=sigma_s, steps=steps)
    W = csr_array((w, T.indices, T.indptr), shape=(m, nd))
    fdemand = np.asarray(W @ pop, dtype=np.float64)
    known = np.isfinite(cap)
    ratio = np.full(m, np.nan)
    served = known & (fdemand > 0)
    ratio[served] = cap[served] / fdemand[served]
    access = np.asarray(W.T @ np.nan_to_num(ratio), dtype=np.float64)
    pos = w > 0
    within = np.bincount(T.indices[pos], minlength=nd).astype(np.int64)
    unk = pos & ~known[row]
    unknown_within = np.bincount(T.indices[unk], minlength=nd).astype(np.int64)
    name = "custom" if callable(decay) else str(decay)
    return TwoStepResult(access, within, unknown_within, ratio, fdemand, int(inside.sum()), name)


def two_step_fca(
    graph: AccessGraph,
    fac_node: ArrayLike,
    fac_leg_s: ArrayLike,
    capacity: ArrayLike,
    cell_node: ArrayLike,
    cell_leg_s: ArrayLike,
    cell_pop: ArrayLike,
    limit_s: float,
    speed_mps: float,
    decay: str | Callable[[NDArray[np.float64]], ArrayLike] = "none",
    *,
    sigma_s: float | None = None,
    steps: Sequence[tuple[float, float]] | None = None,
    chunk: int | None = None,
    progress: bool = False,
) -> TwoStepResult:
    """Access-weighted supply per demand cell: 2SFCA on network travel times, the circle's limit as catchment.

    :func:`catchment_times` (bounded searches from each facility over the reversed graph, plus access
    legs) followed by :func:`two_step_fca_from_times`.

    Parameters
    ----------
    graph
        The access graph (``study.graph``).
    fac_node, fac_leg_s
        Node and access leg (s) of each facility (:func:`dgcoverage.access.snap_points`; leg = snap
        distance / access speed).
    capacity
        Capacity per facility (m² or beds; ``NaN`` = unknown).
    cell_node, cell_leg_s, cell_pop
        Node, access leg (s) and demand (people, or older people) of each cell
        (``study.cell_node``, ``study.cell_snap_m / circle.access_speed_mps``, ``study.cell_pop``).
    limit_s, speed_mps
        The circle's limit (s) and network speed (m/s).
    decay, sigma_s, steps
        Distance decay (:func:`decay_weights`): ``"none"``, ``"gaussian"`` or ``"stepwise"`` (E2SFCA).
    chunk, progress
        As in :func:`catchment_times`.

    Returns
    -------
    TwoStepResult
        ``access`` is supply per person of ``cell_pop`` (x 1,000 for a per-1,000 standard).
    """
    T = catchment_times(
        graph, fac_node, fac_leg_s, cell_node, cell_leg_s, limit_s, speed_mps, chunk=chunk, progress=progress
    )
    return two_step_fca_from_times(T, capacity, cell_pop, limit_s, decay, sigma_s=sigma_s, steps=steps)


def village_accessibility(
    cell_village: ArrayLike, cell_pop: ArrayLike, access: ArrayLike, n_villages: int
) -> NDArray[np.float64]:
    """People-weighted mean of a per-cell value over each village's cells.

    Also gives shares: pass ``(result.unknown_within > 0)`` as ``access`` for the share of people with a
    facility of unknown capacity in reach, or ``(result.access >= target)`` for the share meeting a target.

    Parameters
    ----------
    cell_village
        Village index of each cell (``-1``: in no village, left out).
    cell_pop
        People per cell (the weights).
    access
        The value per cell (e.g. :attr:`TwoStepResult.access`).
    n_villages
        Number of villages.

    Returns
    -------
    numpy.ndarray
        float64 per village; NaN for a village without people.
    """
    cv = np.asarray(cell_village, dtype=np.int64).reshape(-1)
    cp = np.asarray(cell_pop, dtype=np.float64).reshape(-1)
    a = np.asarray(access, dtype=np.float64).reshape(-1)
    if not (cv.shape == cp.shape == a.shape):
        raise DataMismatchError("cell_village, cell_pop and access differ in length")
    ok = cv >= 0
    pop = np.bincount(cv[ok], weights=cp[ok], minlength=n_villages)
    tot = np.bincount(cv[ok], weights=cp[ok] * a[ok], minlength=n_villages)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cast("NDArray[np.float64]", np.where(pop > 0, tot / np.where(pop > 0, pop, 1.0), np.nan))


def town_accessibility(
    village_town: Iterable[Any],
    village_pop: ArrayLike,
    village_access: ArrayLike,
    towns: pd.DataFrame | None = None,
    *,
    city_code: str = CITY_CODE,
    city_name: str = CITY_NAME,
) -> pd.DataFrame:
    """People-weighted mean of a per-village value per town and city-wide.

    Parameters
    ----------
    village_town
        Town code of each village.
    village_pop
        People per village (the weights; villages without people or with a NaN value are left out).
    village_access
        The value per village (:func:`village_accessibility`).
    towns
        Optional ``town_code`` (and ``town_name``) table: rows in its order, towns without villages kept
        (NaN); default the towns of ``village_town``, sorted.
    city_code, city_name
        The city-wide row.

    Returns
    -------
    pandas.DataFrame
        ``town_code, town_name, population`` (of the villages with a value) and ``access``; the city row last.
    """
    code = pd.Series(list(village_town), dtype=object).astype(str).str.strip()
    p = np.asarray(village_pop, dtype=np.float64).reshape(-1)
    a = np.asarray(village_access, dtype=np.float64).reshape(-1)
    if not (code.shape[0] == p.shape[0] == a.shape[0]):
        raise DataMismatchError("village_town, village_pop and village_access differ in length")
    ok = np.isfinite(a) & np.isfinite(p) & (p > 0)
    df = pd.DataFrame({"town_code": code[ok].to_numpy(), "pop": p[ok], "pa": p[ok] * a[ok]})
    g = df.groupby("town_code", sort=True)[["pop", "pa"]].sum()
    if towns is not None:
        t = towns.assign(town_code=towns["town_code"].astype(str).str.strip())
        t = t[t["town_code"] != city_code].drop_duplicates("town_code")
        base = t[["town_code"]].assign(town_name=t["town_name"] if "town_name" in t.columns else "")
    else:
        base = pd.DataFrame({"town_code": g.index.tolist(), "town_name": ""})
    out = base.merge(g, left_on="town_code", right_index=True, how="left")
    city = pd.DataFrame(
        {"town_code": [city_code], "town_name": [city_name], "pop": [df["pop"].sum()], "pa": [df["pa"].sum()]}
    )
    out = pd.concat([out, city], ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["access"] = np.where(out["pop"] > 0, out["pa"] / out["pop"].where(out["pop"] > 0, 1.0), np.nan)
    out["population"] = out["pop"].fillna(0.0)
    return out[["town_code", "town_name", "population", "access"]]
