"""Shared helpers of the report: labels, covered-share classes, number and text formatting, links.

Both writers (the workbook, :mod:`.workbook`, and the HTML document, :mod:`.document`) use these, so a
share reads and is classed the same way on every sheet, table and map.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ...core.io import cut_shares

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult

e = html.escape
#: Code of the city row (东莞市, last) in the town tables.
CITY_CODE = "441900"


def report_title(region: str = "", short: bool = False) -> str:
    """Title of the report: Dongguan's, or the region's own name (``region``, see ``Study.region``)."""
    if not region:
        return "东莞公共服务圈覆盖报告 " + (
            "coverage report" if short else "Dongguan public-service circle coverage report"
        )
    return f"{region} 公共服务圈覆盖报告 " + ("coverage report" if short else "public-service circle coverage report")


#: Upper bounds of the covered-share classes of the maps (< 30 / 30–60 / 60–90 / ≥ 90 %).
CLASS_BOUNDS = (0.3, 0.6, 0.9)
#: ColorBrewer YlGnBu, 4 classes (colour-blind safe, prints in grey as a ramp).
CLASS_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8")
CLASS_LABELS = ("< 30 %", "30–60 %", "60–90 %", "≥ 90 %")
NO_DATA_COLOUR = "#d9d9d9"
SYNTHETIC_MARK = "合成数据 SYNTHETIC DATA"

#: Short supply-status labels of the comparison tables (待核实 unknown: some facilities' capacity is unknown).
SUPPLY_SHORT = {"pass": "达标 pass", "fail": "未达标 fail", "unknown": "待核实 unknown", "no_data": "无数据 no data"}


def supply_label(v: Any) -> str:
    """Short bilingual label of a supply status (:data:`SUPPLY_SHORT`); empty when missing."""
    if not isinstance(v, str) or not v:
        return ""
    return SUPPLY_SHORT.get(v, v)


def status_rule(results: Sequence[CircleResult]) -> str:
    """State the village-status rule (达标 covered, partial, gap, unreachable, no data) in one bilingual line."""
    shares = sorted({r.circle.covered_min_share for r in results})
    rule = " / ".join(f"{s:.0%}" for s in shares)
    return (
        f"达标 covered = 村(社区) ≥ {rule} 的人口在时限内可达 (≥ {rule} of the village's people within the circle's "
        "time limit); 部分覆盖 partial = 有人但不足; 服务盲区 gap = 时限内无人可达 (nobody within the limit); "
        "路网不可达 unreachable = 无法沿路网到达任何设施; 无数据 no data = 无位置或无人口"
    )


def supply_note(result: CircleResult) -> str:
    """Describe the circle's supply standard in one line (empty for circles without one)."""
    sup = result.summary.get("supply")
    if not sup:
        return ""
    city = sup["city"]
    ratio = "–" if city["supply_ratio"] is None else f"{city['supply_ratio']:.4g}"
    deficit = "–" if city["deficit"] is None else f"{city['deficit']:,.0f}"
    unit = "m²" if sup["capacity"] == "area_m2" else "beds 张"
    text = (
        f"供给标准 supply standard: {sup['indicator']} {sup['target']:g} ({sup['ratio_unit']}) — {sup['source']}. "
        f"全市 city: {ratio} ({city['status_zh']} {city['status']}), 缺口 deficit {deficit} {unit}; "
        f"容量未知设施 facilities of unknown capacity {sup['facilities']['capacity_unknown']} of "
        f"{sup['facilities']['total']}"
    )
    if "elderly" in sup:
        eld = sup["elderly"]
        text += f"; 老年人口 people 60+: {eld['basis']} (share {eld['city_share']}) — {eld['source']}"
    if sup.get("capacity_synthetic"):
        text += "; 容量为合成数据 capacities are SYNTHETIC"
    return text


def finite(v: Any) -> float | None:
    """``v`` as a finite float, else ``None``."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def pct(v: Any, digits: int = 1) -> str:
    """Format a share as a percentage cut (never rounded up) to ``digits``: 89.96 % is "89.9 %", below the rule."""
    f = finite(v)
    if f is None:
        return "–"
    unit = 10.0 ** (digits + 2)
    if 0 < f < 1 / unit:
        return f"< {1 / unit:.{digits}%}"
    return f"{float(cut_shares(f, digits + 2)):.{digits}%}"


def thousands(v: Any) -> str:
    """Format a count with thousands separators, no decimals; "–" when missing."""
    f = finite(v)
    return "–" if f is None else f"{f:,.0f}"


def txt(v: Any) -> str:
    """Escaped text; missing values (None, NaN) become empty."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return e(str(v))


def share_class(share: Any) -> int:
    """Class of a covered share: 0 (< 30 %), 1 (30–60 %), 2 (60–90 %), 3 (≥ 90 %); -1 when missing."""
    f = finite(share)
    if f is None:
        return -1
    return int(np.searchsorted(CLASS_BOUNDS, f + 1e-12, side="right"))


def maps_link(maps_href: str | None, page: str) -> str | None:
    """Href of a map page under ``maps_href`` (URL-quoted); ``None`` when the report links to no maps."""
    if maps_href is None:
        return None
    base = maps_href.rstrip("/")
    return quote(f"{base}/{page}" if base else page, safe="/:.~-_#")
