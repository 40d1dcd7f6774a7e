"""What the map pages share: colours and classes, layer keys and page links, escaped text and numbers."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ...core.io import cut_shares

SIMPLIFY_M = 20.0
OUTLINES_JS = "outlines.js"  # shared village/town outlines, written beside the pages by write_maps
STATUS_EN = {
    "covered": "covered",
    "partial": "partial",
    "gap": "gap",
    "unreachable": "unreachable",
    "no_data": "no data",
}
#: Village share classes below the "covered" rule (the top class is the rule itself, see :func:`share_classes`).
SHARE_BREAKS = (0.3, 0.6)
#: ColorBrewer YlGnBu (colour-blind safe, sequential), by number of classes.
YLGNBU = {
    2: ("#ffffcc", "#225ea8"),
    3: ("#edf8b1", "#7fcdbb", "#2c7fb8"),
    4: ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"),
    5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
}
#: Towns on the overview: population covered, in the villages' (and the report's) classes (YlGnBu 4).
TOWN_BINS = (0.3, 0.6, 0.9)
#: Supply within reach vs the standard (2SFCA), ColorBrewer Purples 5 (a hue used nowhere else on the page).
SUPPLY_BINS = (0.2, 0.4, 0.6, 0.8)
SUPPLY_COLOURS = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
#: Speed sensitivity classes (``--speeds``): robust (covered at the slowest speed), fragile (only at faster
#: speeds), not covered (at no speed); no data is hatched grey like everywhere else.
SENS_COLOURS = {"robust": "#1b7837", "fragile": "#dfc27d", "not_covered": "#762a83"}
#: Every other colour on a page has one meaning only.
MARK_COLOURS = {
    "gap": "#e31a1c",  # outline of a village in status gap (solid, thick)
    "unreachable": "#ff7f00",  # outline of a village in status unreachable (dashed, thick)
    "no_data": "#969696",  # grey hatching: no data
    "service": "#e7298a",  # hatching: the service area
    "gap_area": "#8c510a",  # fill: populated cells beyond the limit
    "facility": "#000000",  # dots: facilities (hollow grey: off the network)
    "town": "#333333",  # town boundaries
}
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
GAODE_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
MISSING_TEXT = frozenset({"", "nan", "NaN", "None", "none", "<NA>", "NaT", "null"})

e = html.escape
HTML_KEY = re.compile(r"[a-z0-9_-]+")


def html_key(key: str) -> str:
    """Validate a layer key used in an HTML attribute name (``data-<key>``) and in the page's script.

    Parameters
    ----------
    key
        Layer key, e.g. ``"villages"`` or ``"towns_fitness_15"`` (built from circle ids).

    Returns
    -------
    str
        ``key`` unchanged.

    Raises
    ------
    ValueError
        If ``key`` is not ``[a-z0-9_-]+`` (lower-case ASCII letters, digits, ``_``, ``-``): such a key
        could inject attributes into the page or break ``setAttribute``; it is refused, not rewritten.
    """
    if not isinstance(key, str) or not HTML_KEY.fullmatch(key):
        raise ValueError(
            f"map layer key {key!r} is not allowed in an HTML attribute name: use [a-z0-9_-]+ "
            "(circle ids must be lower-case letters, digits and underscores)"
        )
    return key


def page_href(circle_id: str) -> str:
    """Return the escaped ``href`` of a circle's map page: ``./<id>.html``, percent-encoded, never a scheme.

    Parameters
    ----------
    circle_id
        The circle id (file name stem of its page).

    Returns
    -------
    str
        Safe to place in a quoted attribute: ``./`` and percent-encoding keep ``javascript:`` and
        quotes from forming a live link.
    """
    return e("./" + quote(f"{circle_id}.html", safe=""))


def share_classes(covered_min_share: float) -> tuple[list[float], list[str], list[str]]:
    """Return the village share classes of a circle: breaks, colours and bilingual labels.

    The top class is exactly the "covered" (达标) rule of :func:`dgcoverage.compute.coverage.village_table`: at
    least ``covered_min_share`` of the village's people within the limit.  Below it, the breaks of
    :data:`SHARE_BREAKS` that are smaller than the rule.

    Parameters
    ----------
    covered_min_share
        The circle's rule, a share in (0, 1] (default 0.9).

    Returns
    -------
    tuple
        ``(breaks, colours, labels)``: ``len(colours) == len(labels) == len(breaks) + 2``.
    """
    breaks = [b for b in SHARE_BREAKS if b < covered_min_share - 1e-9]
    cols = list(YLGNBU[len(breaks) + 2])
    edges = [0.0, *breaks, covered_min_share]
    labels = ["&lt; " + _pct0(edges[1])] if len(edges) > 1 else []
    labels += [f"{_pct0(a)} – &lt; {_pct0(b)}" for a, b in zip(edges[1:-1], edges[2:])]
    labels.append(f"≥ {_pct0(covered_min_share)} = 达标 covered")
    return breaks, cols, labels


def _pct0(v: float) -> str:
    return f"{v * 100:.4g} %"


def _fmt(v: Any, pct: bool = False, nd: int = 1) -> str:
    """Format a number for a page; missing (``None``, NaN, empty, "nan") is ``—``, never "nan"."""
    if isinstance(v, str):
        if v.strip() in MISSING_TEXT:
            return "—"
        try:
            v = float(v.replace(",", ""))
        except ValueError:
            return e(v)
    if v is None or (not isinstance(v, (int, np.integer)) and (pd.isna(v) or not math.isfinite(float(v)))):
        return "—"
    if pct:  # cut, never rounded up (54.2995 % is 54.2 %, as the report, the workbook and the page script show it)
        return f"{_shares([v], 3)[0]:.1%}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return f"{float(v):,.{nd}f}"


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """Popup table; labels are ours, values must already be escaped."""
    return "<table class='dg-t'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _texts(values: Iterable[Any]) -> list[str]:
    """Escaped text per value; missing values (None, NaN, "nan", "None" …) become ``""`` (shown as ``—``)."""
    out = []
    for v in values:
        s = "" if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v)
        out.append("" if s.strip() in MISSING_TEXT else e(s))
    return out


def _shares(values: Any, nd: int = 4) -> list[float | None]:
    """Shares cut (not rounded) to ``nd`` decimals: 0.89996 stays below a 90 % class break and rule."""
    a = cut_shares(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), nd)
    return np.where(np.isfinite(a), a, None).tolist()


def _nums(values: Any, nd: int) -> list[float | None]:
    """Numbers rounded to ``nd`` decimals; missing or non-finite become ``None`` (JSON ``null``)."""
    a = np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), nd)
    return np.where(np.isfinite(a), a, None).tolist()


def _bin_labels(bins: Sequence[float]) -> list[str]:
    edges = [0.0, *bins]
    labels = [f"{_pct0(a)}–&lt;{_pct0(b)}" for a, b in zip(edges[:-1], edges[1:])]
    labels[0] = f"&lt; {_pct0(bins[0])}"
    return [*labels, f"≥ {_pct0(bins[-1])}"]
