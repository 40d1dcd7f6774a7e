"""Units of the quantities a person types: area (m², 亩, 公顷, km² ...) and beds (张, 床 ...).

One reader for every table and setting: :func:`unit_of` says the kind and the factor to the kind's unit
(m² or beds) of a unit word in Chinese or English, :func:`split_unit` takes a unit off a header wherever it
stands (brackets, after a space, a colon or a slash, full-width or not), :func:`unit_setting` checks a unit
named in the config (``capacity_unit = "ha"``) and :func:`is_unit_row` tells a row of unit words under a
table's header (``名称 | 经度 | 纬度 | 场地面积`` over ``| 度 | 度 | 公顷``).
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import ConfigError

#: Units recognised in a header, a cell or a setting: (spellings, kind, factor to the kind's unit: m² or beds).
#: Spellings are compared after NFKC, lower case and without spaces, dots, underscores and ``^``
#: (``sq. ft`` -> ``sqft``, ``m²`` -> ``m2``, ``㎡`` -> ``m2``).  A leading ``万`` multiplies by 10,000
#: (``万平方米``), a leading ``千`` by 1,000 (``千平方米``).
UNITS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("平方公里", "平方千米", "km2", "sqkm", "squarekilometres", "squarekilometers"), "area_m2", 1e6),
    (("公顷", "hm2", "ha", "hectare", "hectares"), "area_m2", 1e4),
    (("英亩", "acre", "acres"), "area_m2", 4046.8564224),
    (("亩", "市亩", "mu"), "area_m2", 10_000.0 / 15.0),
    (("平方英尺", "ft2", "sqft", "squarefoot", "squarefeet"), "area_m2", 0.09290304),
    (
        (
            "平方米",
            "平米",
            "平方公尺",
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
#: Unit words of other columns that may stand in a unit row under a header (coordinates, counts, money).
OTHER_UNIT_WORDS = frozenset(
    {
        "度",
        "°",
        "deg",
        "degree",
        "degrees",
        "decimaldegrees",
        "人",
        "位",
        "万人",
        "元",
        "万元",
        "%",
        "m",
        "km",
        "米",
        "公里",
    }
)
#: Every unit word of :data:`UNITS`, longest first (for matching a unit glued to a number or a name).
UNIT_WORDS = tuple(sorted((w for words, _, _ in UNITS for w in words), key=len, reverse=True))
#: Spelling of each kind's own unit in messages.
KIND_UNIT = {"area_m2": "m²", "beds": "beds"}
#: The unit names a setting may use, per kind, for messages.
SETTING_EXAMPLES = {
    "area_m2": '"m2", "ha" (公顷), "mu" (亩), "km2", "万平方米", "ft2", "acre"',
    "beds": '"beds" (张, 床)',
}


def norm(text: object) -> str:
    """NFKC (full-width digits, ㎡ -> m2, （ -> (, ： -> :), lower case, no surrounding spaces."""
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def compact(text: str) -> str:
    """Return a unit as compared with :data:`UNITS`: no spaces, dots, underscores, hyphens or ``^``."""
    return re.sub(r"[\s._\-^]+", "", text)


def unit_of(text: str) -> tuple[str, float] | None:
    """Kind and factor of a unit (``平方米``, ``sq. m``, ``万平方米``, ``单位:亩``, ``张``), else None."""
    t = compact(re.sub(r"^(单位|units?|in)\s*[:=：]?\s*", "", norm(text)))
    scale = 1.0
    if len(t) > 1 and t[0] in "万千":
        t, scale = t[1:], (1e4 if t[0] == "万" else 1e3)
    for words, kind, factor in UNITS:
        if t in words:
            return kind, factor * scale
    return None


def is_unit_word(text: str) -> bool:
    """Tell whether a cell is a unit word (of :data:`UNITS` or :data:`OTHER_UNIT_WORDS`), brackets allowed."""
    t = norm(text).strip("()[]【】 ")
    return bool(t) and (unit_of(t) is not None or compact(t) in OTHER_UNIT_WORDS)


def is_unit_row(cells: list[str]) -> bool:
    """Tell whether a row under a header holds only unit words (at least one of a capacity unit) and blanks."""
    filled = [c for c in cells if str(c).strip()]
    return (
        bool(filled)
        and all(is_unit_word(c) for c in filled)
        and any(unit_of(norm(c).strip("()[]【】 ")) is not None for c in filled)
    )


def unit_setting(value: str, kind: str, where: str) -> float:
    """Return the factor to ``kind``'s unit of a unit named in the config (``capacity_unit = "ha"``), else refuse."""
    unit = unit_of(value)
    if unit is None:
        raise ConfigError(
            f"{where}: capacity_unit = {value!r} is not a unit we know. Fix: one of {SETTING_EXAMPLES[kind]}"
        )
    if unit[0] != kind:
        raise ConfigError(
            f"{where}: capacity_unit = {value!r} is a unit of {unit[0]}, but capacity is {kind!r}. Fix: one of "
            f"{SETTING_EXAMPLES[kind]}"
        )
    return unit[1]
