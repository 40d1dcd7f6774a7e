r"""Interactive maps (Leaflet) that open with no internet, for planners.

``maps/<circle>.html``: villages coloured by the share of their people within the limit (graded classes;
the top class is exactly the "达标 covered" rule), status marks for gap / unreachable / no data, the
street-following service area (hatched, on top), the populated gap areas, facilities and ranked candidate
sites; a sidebar with search (village or town name), a town selector, a sortable village table linked to the
map, the legend, the sources and links to the overview, the other circles and ``report.html``.
``maps/index.html``: towns coloured by the **population** covered, one circle at a time (radio), a
town × circle comparison table and four small-multiple maps.

Offline: Leaflet 1.9.4 (JS, CSS, layer icons) is inlined from ``dgcoverage/data/vendor``; everything else
(search, table, labels, small multiples, print styles) is our own script in this module.  Base tiles are
optional layers: "blank" (default, no requests), OpenStreetMap (WGS84) and Gaode/AutoNavi (GCJ-02); a tile
that cannot load shows a visible note.  Choosing Gaode redraws the overlays shifted to GCJ-02 in the browser.

Safety: every user-supplied string (village, facility and town names, reasons, file names, circle names and
the page title) is passed through :func:`html.escape` in Python before it reaches the page; the page script
only concatenates these escaped strings with its own labels and numbers.  The page data is embedded as JSON
with every ``<`` written ``\u003c`` (:func:`_json_script`), so no string can close the ``<script>``
element.  No user text passes through a template engine.  Layer keys become attribute *names*
(``data-<key>``) and must match ``[a-z0-9_-]+`` (:func:`html_key`); links to pages are relative,
percent-encoded file names (:func:`page_href`), never a URL scheme.

Display geometry is simplified (20 m) and rounded to 6 decimals (outlines) or 5 decimals (~1 m: service and
gap areas, drawn from a 100 m grid).

Shared outlines: :func:`write_maps` writes the village and town outlines once per maps folder, as
``outlines.js`` (:data:`OUTLINES_JS`, a script defining ``window.DG_OUTLINES``), and every page it writes
loads it with a relative ``<script src>`` (works from ``file://``, where ``fetch`` is blocked) and embeds only
per-page properties keyed by village/town code, joined to the shared geometry in the browser.  Pages rendered
on their own (:func:`circle_map_html`, :func:`index_map_html` without ``outlines=True``) are self-contained.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import load_config
from .coverage import LABELS_ZH, STATUS_ZH, STATUSES
from .io import read_output_csv, write_text
from .outputs import STAGING_PREFIX

if TYPE_CHECKING:  # pragma: no cover
    from .study import CircleResult, Study

VENDOR = Path(__file__).parent / "data" / "vendor" / "leaflet-1.9.4"
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

    The top class is exactly the "covered" (达标) rule of :func:`dgcoverage.coverage.village_table`: at
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
    if pct:
        return f"{float(v):.1%}"
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
    a = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    a = np.floor(a * 10**nd + 1e-9) / 10**nd
    return np.where(np.isfinite(a), a, None).tolist()


def _nums(values: Any, nd: int) -> list[float | None]:
    """Numbers rounded to ``nd`` decimals; missing or non-finite become ``None`` (JSON ``null``)."""
    a = np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), nd)
    return np.where(np.isfinite(a), a, None).tolist()


def _display(
    geoms: Sequence[Any], crs: Any, tol_m: float = SIMPLIFY_M, nd: int = 6, topology: bool = True
) -> list[Any]:
    """Simplify in the projected CRS, back to WGS84, coordinates rounded to ``nd`` decimals.

    ``topology=False``: plain Douglas-Peucker (about 30 times faster on a city-wide service area; for
    display only, where a rare self-touching ring does not matter).
    """
    s = gpd.GeoSeries(list(geoms), crs=4326)
    ok = (s.notna() & ~s.is_empty).to_numpy()
    out: list[Any] = [None] * len(s)
    if ok.any():
        p = s[ok].to_crs(crs).simplify(tol_m, preserve_topology=topology).to_crs(4326)
        p = shapely.transform(p.to_numpy(), lambda c: np.round(c, nd))
        for i, g in zip(np.flatnonzero(ok), p):
            out[i] = g
    return out


class RawJSON:
    """GeoJSON text written by shapely, placed into the page JSON as is by :func:`_json_script`.

    Saves parsing and re-writing every coordinate (the text holds only numbers, brackets and keys).
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def to_obj(self) -> Any:
        """Return the parsed JSON value (for tests and callers that need the object)."""
        return json.loads(self.text)


def _geojson(geoms: Sequence[Any]) -> list[RawJSON | None]:
    """GeoJSON geometries (vectorised writer) as :class:`RawJSON`, ``None`` for missing/empty ones."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    ok = np.array(_has_geom(arr), dtype=bool)
    out: list[RawJSON | None] = [None] * len(arr)
    if ok.any():
        for i, txt in zip(np.flatnonzero(ok), shapely.to_geojson(arr[ok])):
            out[i] = RawJSON(txt)
    return out


def _fc(geoms: Sequence[Any], props: Sequence[dict[str, Any]]) -> dict[str, Any]:
    feats = [
        {"type": "Feature", "properties": p, "geometry": g} for g, p in zip(_geojson(geoms), props) if g is not None
    ]
    return {"type": "FeatureCollection", "features": feats}


def _keys(codes: Sequence[Any]) -> list[str]:
    """Join keys from codes: the code as text, repeats made unique as ``code#2``, ``code#3`` (deterministic)."""
    seen: dict[str, int] = {}
    out = []
    for c in codes:
        k = str(c)
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}#{seen[k]}")
    return out


def _has_geom(geoms: Sequence[Any]) -> list[bool]:
    return [g is not None and not shapely.is_missing(g) and not g.is_empty for g in geoms]


def _outline_fc(
    study: Study, geoms: gpd.GeoSeries, codes: Sequence[Any], props: Sequence[dict[str, Any]], outlines: bool
) -> dict[str, Any]:
    """Embed the displayed geometry, or (``outlines``) only the keys into the shared ``outlines.js``."""
    if outlines:
        feats = [
            {"type": "Feature", "id": k, "properties": p, "geometry": None}
            for k, ok, p in zip(_keys(codes), _has_geom(list(geoms)), props)
            if ok
        ]
        return {"type": "FeatureCollection", "features": feats}
    return _fc(_display(geoms, study.graph.crs), props)


def _towns_drawn(study: Study) -> pd.DataFrame:
    return study.towns[study.towns["has_polygon"]].reset_index(drop=True)


def _label_points(geoms: Sequence[Any]) -> list[list[float] | None]:
    """Return a point inside each shape (for labels and popups), ``[lon, lat]`` to 5 decimals, ``None`` if none."""
    arr = np.array(list(geoms), dtype=object)
    ok = np.array(_has_geom(arr), dtype=bool)
    out: list[list[float] | None] = [None] * len(arr)
    if ok.any():
        pts = shapely.point_on_surface(arr[ok])
        xy = np.round(shapely.get_coordinates(pts), 5)
        for i, (x, y) in zip(np.flatnonzero(ok), xy):
            out[i] = [float(x), float(y)]
    return out


def outlines_js(study: Study) -> str:
    r"""Return the shared outlines script: ``window.DG_OUTLINES = {villages: [[key, geometry], ...], towns: ...}``.

    Geometry is displayed as in the pages (simplified :data:`SIMPLIFY_M` m, 6 decimals); keys are the
    village and town codes (:func:`_keys`).  The JSON is written with ``<``, U+2028 and U+2029 as
    ``\u`` escapes, so it is a valid script literal that no string can break out of; it is a list of
    pairs (not an object), so no code can touch ``__proto__``.

    Parameters
    ----------
    study
        The loaded study (its villages and towns).

    Returns
    -------
    str
        The text of ``outlines.js``.
    """
    t = _towns_drawn(study)

    def pairs(codes: Sequence[Any], geoms: Sequence[Any]) -> list[list[Any]]:
        gj = _geojson(_display(geoms, study.graph.crs))
        return [[k, g] for k, g in zip(_keys(codes), gj) if g is not None]

    data = {
        "villages": pairs(study.villages["code"], study.villages.geometry),
        "towns": pairs(t["town_code"], t.geometry),
    }
    txt = _json_script(data).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (
        "/* dgcoverage: village and town outlines shared by the map pages in this folder */\nwindow.DG_OUTLINES = "
        + txt
        + ";\n"
    )


# ---------------------------------------------------------------- page data (columns, built vectorised)


def village_columns(study: Study, result: CircleResult) -> dict[str, Any]:
    """Per-village columns of a circle page: names (escaped), numbers, status, share class, label point.

    Parameters
    ----------
    study
        The study (village shapes, for the label points).
    result
        The circle's result (``result.villages``, one row per village of ``study.villages``, same order).

    Returns
    -------
    dict
        Columns of equal length: ``name, code, town, pop, share, cls, st, med, p90, ctr, fin, why, lab``;
        ``cls`` is the share class of :func:`share_classes` (``-1``: no data).
    """
    vt = result.villages
    breaks, _, _ = share_classes(result.circle.covered_min_share)
    share = pd.to_numeric(vt["covered_share"], errors="coerce").to_numpy(dtype=float)
    st = vt["status"].astype(str).to_numpy()
    cls = np.digitize(np.nan_to_num(share, nan=0.0), breaks)
    cls = np.where(st == "covered", len(breaks) + 1, cls)
    cls = np.where((st == "no_data") | ~np.isfinite(share), -1, cls)
    return {
        "name": _texts(vt["name"]),
        "code": _texts(vt["code"]),
        "town": _texts(vt["town_name"]),
        "pop": _nums(vt["population"], 0),
        "share": _shares(share),
        "cls": cls.astype(int).tolist(),
        "st": _texts(st),
        "med": _nums(vt["median_time_min"], 1),
        "p90": _nums(vt["p90_time_min"], 1),
        "ctr": _nums(vt["centre_time_min"], 1),
        "fin": _nums(vt["facilities_inside"], 0),
        "why": _texts(vt["reason"]),
        "lab": _label_points(study.villages.geometry),
    }


def town_columns(study: Study, towns_tables: Sequence[pd.DataFrame] = ()) -> dict[str, Any]:
    """Per-town columns (towns with a boundary, in drawing order), with each town table's pass rates.

    Parameters
    ----------
    study
        The study (its towns).
    towns_tables
        Town tables (:func:`dgcoverage.coverage.town_table`), one per circle shown.

    Returns
    -------
    dict
        ``name, code, lab`` and ``c``: per table ``share`` (population covered), ``covp``, ``pop``,
        ``vrate`` (village pass rate), ``vc`` (villages covered), ``vd`` (villages with data), plus
        ``city``: the city-wide row (town code ``441900``).
    """
    t = _towns_drawn(study)
    out: dict[str, Any] = {
        "name": _texts(t["town_name"]),
        "code": _texts(t["town_code"]),
        "lab": _label_points(t.geometry),
        "c": [],
    }
    for tt in towns_tables:
        q = tt.set_index("town_code")
        r = q.reindex(t["town_code"])
        city = q.loc["441900"] if "441900" in q.index else None
        cols = {
            "share": _shares(r["pass_rate_population"]),
            "covp": _nums(r["covered_population"], 0),
            "pop": _nums(r["population"], 0),
            "vrate": _shares(r["pass_rate_villages"]),
            "vc": _nums(r["villages_covered"], 0),
            "vd": _nums(r["villages_with_data"], 0),
        }
        cols["city"] = {k: _nums([city[s]], nd)[0] for k, s, nd in _CITY_FIELDS} if city is not None else None
        out["c"].append(cols)
    return out


_CITY_FIELDS = (
    ("share", "pass_rate_population", 4),
    ("covp", "covered_population", 0),
    ("pop", "population", 0),
    ("vrate", "pass_rate_villages", 4),
    ("vc", "villages_covered", 0),
    ("vd", "villages_with_data", 0),
)


def circle_info(result: CircleResult) -> dict[str, Any]:
    """Return the circle's names (escaped) and parameters for the page script."""
    c = result.circle
    return {
        "id": c.id,
        "zh": e(c.name_zh),
        "en": e(c.name_en),
        "minutes": float(c.minutes),
        "mode": e(str(c.mode)),
        "speed": float(c.speed_kmh),
        "cms": float(c.covered_min_share),
        "href": page_href(c.id),
    }


# ---------------------------------------------------------------- layers


def towns_layer(study: Study, towns_table: pd.DataFrame | None = None, outlines: bool = False) -> dict[str, Any]:
    """Town boundaries; feature ``i`` indexes :func:`town_columns`; with a town table, ``rate`` = population covered.

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.

    Parameters
    ----------
    study
        The study (its towns).
    towns_table
        A circle's town table: each town then carries its population-covered share (``rate``).
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection.
    """
    t = _towns_drawn(study)
    props: list[dict[str, Any]] = [{"i": i} for i in range(len(t))]
    if towns_table is not None:
        rates = _shares(towns_table.set_index("town_code").reindex(t["town_code"])["pass_rate_population"])
        for p, r in zip(props, rates):
            p["rate"] = r
    return _outline_fc(study, t.geometry, t["town_code"], props, outlines)


def villages_layer(study: Study, result: CircleResult | None = None, outlines: bool = False) -> dict[str, Any]:
    """Villages; feature ``i`` indexes :func:`village_columns` (popups and colours are made in the page).

    Parameters
    ----------
    study
        The study (village shapes).
    result
        Unused (kept for callers that pass it): the page colours each village from its columns.
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection.
    """
    props = [{"i": i} for i in range(len(study.villages))]
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def supply_layer(study: Study, result: CircleResult, outlines: bool = False) -> dict[str, Any] | None:
    """Villages by access-weighted supply (2SFCA) as a share of the standard (``rate``); ``None`` without one.

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.

    Parameters
    ----------
    study
        The study (village shapes).
    result
        The circle's result (``access_supply`` per village, ``summary.supply``).
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict or None
        A GeoJSON FeatureCollection (``rate``: supply / standard capped at 1, ``acc``: the supply).
    """
    sup = result.summary.get("supply")
    vt = result.villages
    if not sup or "access_supply" not in vt or not sup.get("target"):
        return None
    target = float(sup["target"])
    acc = pd.to_numeric(vt["access_supply"], errors="coerce").to_numpy(dtype=float)
    rate = _shares(np.minimum(acc / target, 1.0))
    props = [{"i": i, "rate": r, "acc": a} for i, (r, a) in enumerate(zip(rate, _nums(acc, 2)))]
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def facilities_layer(result: CircleResult) -> dict[str, Any]:
    """Facility points: ``n`` name, ``id``, ``k`` kind, ``src`` source (escaped), ``on`` on the network."""
    f = result.facilities
    xy = np.round(shapely.get_coordinates(f.geometry.to_numpy()), 6) if len(f) else np.zeros((0, 2))

    def col(name: str) -> list[str]:
        return _texts(f[name]) if name in f else [""] * len(f)

    feats = [
        {
            "type": "Feature",
            "properties": {"n": n, "id": i, "k": k, "src": s, "on": bool(on >= 0)},
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
        }
        for (x, y), n, i, k, s, on in zip(
            xy, col("name"), col("facility_id"), col("kind"), col("source"), result.facility_node
        )
    ]
    return {"type": "FeatureCollection", "features": feats}


_CAND_HIDDEN = {
    "site_id", "source", "name", "lon", "lat", "lon_gcj02", "lat_gcj02", "town_code", "town_name", "village_code",
    "village_name", "road_name", "node", "snap_m", "new_population", "new_villages_covered",
    "new_villages_covered_names", "villages_reached_names", "villages_reached", "cum_new_population",
    "cum_covered_population", "cum_covered_share", "cum_villages_covered", "cum_village_pass_rate", "capacity",
    "capacity_unit", "capacity_source", "method", "synthetic", "rank",
}  # fmt: skip


def candidate_name(row: pd.Series | dict[str, Any], village_names: dict[str, str] | None = None) -> str:
    """Return a candidate's readable name (raw text): its ``name``, else "<镇街><村> 附近 #rank".

    Parameters
    ----------
    row
        One row of ``candidates.csv`` (as read by :func:`read_candidates`).
    village_names
        Village code -> name, for the fallback when the row has no ``village_name``.

    Returns
    -------
    str
        Never empty, never "nan".
    """

    def text(k: str) -> str:
        v = row.get(k)
        s = "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()
        return "" if s in MISSING_TEXT else s

    if text("name"):
        return text("name")
    village = text("village_name") or (village_names or {}).get(text("village_code"), "")
    return f"{text('town_name')}{village} 附近 #{text('rank') or '?'}"


def candidates_layer(cands: pd.DataFrame, village_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Ranked candidate sites (``candidates.csv`` of ``dgcoverage site``), as numbered points.

    The popup names the site (:func:`candidate_name`), the villages whose people it would reach, the newly
    covered people and villages, its capacity and the supply deficit it closes when those columns exist, and
    any other column the siting step added; empty values show as ``—``.

    Parameters
    ----------
    cands
        The table read by :func:`read_candidates` (text cells).
    village_names
        Village code -> name, for unnamed candidates.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection (``rank``, ``tip``, ``pop``).
    """
    lon = pd.to_numeric(cands["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(cands["lat"], errors="coerce").to_numpy(dtype=float)
    geoms = list(shapely.points(np.round(lon, 6), np.round(lat, 6)))
    extra = [c for c in cands.columns if c not in _CAND_HIDDEN]
    heads = {**{k: f"{k} {v}" for k, v in LABELS_ZH.items()}, **cands.attrs.get("labels", {})}
    props = []
    for r in cands.to_dict("records"):
        rank = _fmt(r.get("rank"), nd=0)
        name = e(candidate_name(r, village_names))

        def t(k: str, r: dict[str, Any] = r) -> str:
            return _texts([r.get(k)])[0] or "—"

        cap = _fmt(r.get("capacity"), nd=0)
        rows = [
            ("排名 rank", rank),
            ("名称 name", name),
            ("镇街 town", t("town_name")),
            ("所在村(社区) village", t("village_name")),
            ("最近道路 road", t("road_name")),
            ("新增覆盖人口 people newly within reach", _fmt(r.get("new_population"), nd=0)),
            ("惠及村(社区) villages it would serve", t("villages_reached_names")),
            ("新达标村(社区) villages newly covered", t("new_villages_covered_names")),
            ("累计覆盖率 cumulative share covered", _fmt(r.get("cum_covered_share"), pct=True)),
        ]
        if "capacity" in cands:
            unit = _texts([r.get("capacity_unit")])[0]
            rows.append(("规模 capacity", f"{cap} {unit}".strip() if cap != "—" else "—"))
        for k in extra:
            label = e(heads.get(k, k))
            pct = k.endswith(("_share", "_rate"))
            rows.append((label, _fmt(r.get(k), pct=pct, nd=1 if not k.startswith(("town_deficit", "deficit")) else 0)))
        gcj = (_fmt(r.get("lon_gcj02"), nd=6), _fmt(r.get("lat_gcj02"), nd=6))
        rows.append(("GCJ-02 (高德)", f"{gcj[0]}, {gcj[1]}"))
        props.append(
            {
                "tip": ("" if name.endswith(f"#{rank}") else f"#{rank} ")
                + f"{name} +{_fmt(r.get('new_population'), nd=0)} 人",
                "pop": _table(rows),
                "rank": rank,
            }
        )
    return _fc(geoms, props)


def read_candidates(out_dir: str | Path, circle_id: str) -> pd.DataFrame | None:
    """Read the ranked sites written by ``dgcoverage site`` for a circle, or ``None`` if there are none.

    Parameters
    ----------
    out_dir
        The output folder (``<out_dir>/<circle_id>/candidates.csv``).
    circle_id
        The circle.

    Returns
    -------
    pandas.DataFrame or None
        Text cells keyed by the English column ids.
    """
    path = Path(out_dir) / circle_id / "candidates.csv"
    df = read_output_csv(path)
    if df is not None:  # keep the bilingual headers ("id 中文") to label columns the siting step added
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        df.attrs["labels"] = {str(h).split(" ")[0]: str(h) for h in header}
    return df


def service_area_layer(study: Study, sa: gpd.GeoDataFrame, result: CircleResult) -> dict[str, Any]:
    """Draw the service area (reached streets plus the affordable walk): ``a`` = area in km²."""
    props = [{"a": a} for a in _nums(sa["area_km2"], 1)] if "area_km2" in sa else [{} for _ in range(len(sa))]
    return _fc(_display(sa.geometry, study.graph.crs, nd=5, topology=False), props)


def gaps_layer(study: Study, gp: gpd.GeoDataFrame) -> dict[str, Any]:
    """Gap areas: populated cells beyond the limit, per village, with their people (escaped names, numbers)."""
    props = [
        {"n": n, "c": c, "t": t, "p": p, "b": b, "u": u, "o": o}
        for n, c, t, p, b, u, o in zip(
            _texts(gp["name"]),
            _texts(gp["code"]),
            _texts(gp["town_name"]),
            _nums(gp["population"], 1),
            _nums(gp["population_beyond_limit"], 0),
            _nums(gp["population_unreachable"], 0),
            _nums(gp["population_off_network"], 0),
        )
    ]
    return _fc(_display(gp.geometry, study.graph.crs, nd=5), props)


# ---------------------------------------------------------------- page script (our own; no third-party code)


_JS = r"""
(function () {
  'use strict';
  var DG = JSON.parse(document.getElementById('dg-data').textContent);
  var counts = document.getElementById('dg-counts');
  function setc(k, v) { counts.setAttribute('data-' + k, String(v)); }
  var map = L.map('dg-map', {zoomSnap: 0.5, zoomControl: true}).setView(DG.centre, 10);
  window.dgMap = map;
  var gcjOn = false;
  // WGS84 -> GCJ-02 (the published offset formula, as in dgcoverage.coords)
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  function tLat(x, y) { var r = -100 + 2*x + 3*y + 0.2*y*y + 0.1*x*y + 0.2*Math.sqrt(Math.abs(x));
    r += (20*Math.sin(6*x*PI) + 20*Math.sin(2*x*PI)) * 2/3; r += (20*Math.sin(y*PI) + 40*Math.sin(y/3*PI)) * 2/3;
    r += (160*Math.sin(y/12*PI) + 320*Math.sin(y*PI/30)) * 2/3; return r; }
  function tLon(x, y) { var r = 300 + x + 2*y + 0.1*x*x + 0.1*x*y + 0.1*Math.sqrt(Math.abs(x));
    r += (20*Math.sin(6*x*PI) + 20*Math.sin(2*x*PI)) * 2/3; r += (20*Math.sin(x*PI) + 40*Math.sin(x/3*PI)) * 2/3;
    r += (150*Math.sin(x/12*PI) + 300*Math.sin(x/30*PI)) * 2/3; return r; }
  function wgs2gcj(lon, lat) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lon, lat];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35), rad = lat/180*PI;
    var m = Math.sin(rad); m = 1 - EE*m*m; var s = Math.sqrt(m);
    dLat = (dLat*180) / ((A*(1-EE)) / (m*s) * PI); dLon = (dLon*180) / (A/s*Math.cos(rad)*PI);
    return [lon + dLon, lat + dLat]; }
  window.dgWgs2Gcj = wgs2gcj;
  function c2ll(c) {
    if (gcjOn) { var g = wgs2gcj(c[0], c[1]); return L.latLng(g[1], g[0]); }
    return L.latLng(c[1], c[0]);
  }
  // ------------------------------------------------------------ formatting (strings in DG are escaped already)
  function ok(v) { return typeof v === 'number' && isFinite(v); }
  function num(v, nd) { if (!ok(v)) return '\u2014'; var p = v.toFixed(nd || 0).split('.');
    p[0] = p[0].replace(/\B(?=(\d{3})+(?!\d))/g, ','); return p.join('.'); }
  // shares are cut, never rounded up, so 89.96 % shows as 89.9 % (below the 90 % rule), 0.02 % as < 0.1 %
  function pct(v) { if (!ok(v)) return '\u2014'; if (v > 0 && v < 0.001) return '< 0.1%';
    return (Math.floor(v * 1000 + 1e-6) / 10).toFixed(1) + '%'; }
  function txt(s) { return s ? s : '\u2014'; }
  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#x27;'); }
  var dec = document.createElement('textarea');
  function raw(s) { dec.innerHTML = s || ''; return dec.value; }  // escaped text -> the text (RCDATA: no elements)
  function tbl(rows) { return "<table class='dg-t'>" + rows.map(function (r) {
    return '<tr><th>' + r[0] + '</th><td>' + r[1] + '</td></tr>'; }).join('') + '</table>'; }
  function stName(s) { return DG.status[s] || txt(s); }
  function bin(v, bins, cols) { if (!ok(v)) return null;
    for (var i = 0; i < bins.length; i++) { if (v < bins[i]) return cols[i]; } return cols[cols.length - 1]; }
  function sw(col) { return col ? "<span class='dg-sw' style='background:" + col + "'></span>"
    : "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)'/></svg>"; }
  var V = DG.v, T = DG.t, M = DG.marks, SH = DG.share, C = DG.circle, CS = DG.circles || [];
  var cur = 0;  // the circle shown on the overview
  function vClass(i) { var c = V.cls[i]; return c >= 0 ? SH.colours[c] : null; }
  function townColour(v) { return bin(v, DG.town_bins, DG.town_colours); }
  function circleHead(c) { return '<b>' + c.zh + '</b> <span lang="en">' + c.en + '</span>'; }
  // ------------------------------------------------------------ popups and tooltips (built on demand)
  function vPopup(i) {
    var rows = [['村(社区) village', V.name[i] + " <span class='dg-id'>" + V.code[i] + '</span>'],
      ['镇街 town', txt(V.town[i])], ['人口 population', num(V.pop[i])]];
    if (C) {
      rows.push(['覆盖率 share within ' + num(C.minutes) + ' min', sw(vClass(i)) + pct(V.share[i])],
        ['中位时间 median time (min)', num(V.med[i], 1)], ['90分位时间 p90 time (min)', num(V.p90[i], 1)],
        ['中心点时间 centre time (min)', num(V.ctr[i], 1)], ['辖区内设施 facilities inside', num(V.fin[i])],
        ['状态 status', stName(V.st[i])]);
      if (V.why[i]) rows.push(['说明 reason', V.why[i]]);
      return circleHead(C) + tbl(rows);
    }
    CS.forEach(function (c, k) { var x = V.c[k];
      rows.push([(k === cur ? '\u25b6 ' : '') + c.zh, pct(x.share[i]) + ' \u00b7 ' + stName(x.st[i])]); });
    return tbl(rows);
  }
  function vTip(i) {
    if (C) return V.name[i] + '\uff08' + txt(V.town[i]) + '\uff09' + pct(V.share[i]) + ' ' + stName(V.st[i]);
    return V.name[i] + '\uff08' + txt(V.town[i]) + '\uff09' +
      (CS.length ? CS[cur].zh + ' ' + pct(V.c[cur].share[i]) : '');
  }
  function tStats(i, k) {
    var x = T.c[k]; if (!x) return [];
    // the town scale is drawn only on the overview; a circle page's colours belong to its village classes
    return [['人口覆盖率 population covered', (C ? '' : sw(townColour(x.share[i]))) + pct(x.share[i])],
      ['覆盖人口 people covered', num(x.covp[i]) + ' / ' + num(x.pop[i])],
      ['村(社区)达标率 villages covered', pct(x.vrate[i]) + ' (' + num(x.vc[i]) + ' / ' + num(x.vd[i]) + ')']];
  }
  function tPopup(i) {
    var c = C || CS[cur], k = C ? 0 : cur;
    return circleHead(c) + tbl([['镇街 town', T.name[i] + " <span class='dg-id'>" + T.code[i] + '</span>']]
      .concat(tStats(i, k)));
  }
  function tTip(i) { var c = C || CS[cur], x = T.c[C ? 0 : cur];
    return T.name[i] + (x ? ' \u00b7 ' + c.zh + ' ' + pct(x.share[i]) : ''); }
  // tooltip and popup text per style, made when shown: [tooltip(feature), popup(feature), sticky]
  var TEXT = {
    villages: [function (f) { return vTip(f.properties.i); }, function (f) { return vPopup(f.properties.i); }, true],
    choropleth: [function (f) { var p = f.properties;
      return V.name[p.i] + ' \u00b7 ' + num(p.acc, 2) + ' / ' + DG.supply.target + ' ' + DG.supply.unit; },
    function (f) { var p = f.properties;
      return circleHead(C) + tbl([['村(社区) village', V.name[p.i]],
        ['可达供给 access-weighted supply (2SFCA)', num(p.acc, 2) + ' ' + DG.supply.unit],
        ['标准 standard', DG.supply.target + ' ' + DG.supply.unit + ' (' + DG.supply.source + ')'],
        ['供给/标准 supply / standard', pct(p.rate)]]); }, true],
    towns_pop: [function (f) { return tTip(f.properties.i); }, function (f) { return tPopup(f.properties.i); }, true],
    service: [function () { return C.zh + ' 服务范围 service area (' + num(C.minutes) + ' min)'; },
      function (f) { return circleHead(C) + tbl([['服务范围 service area', num(C.minutes) + ' min, ' + C.mode + ' ' +
        num(C.speed, 1) + ' km/h'], ['面积 area (km\u00b2)', num(f.properties.a, 1)]]); }, true],
    gaps: [function (f) { var p = f.properties; return '盲区 gap\uff1a' + txt(p.n) + ' ' + num(p.p) + ' 人'; },
      function (f) { var p = f.properties;
        return circleHead(C) + tbl([['村(社区) village', txt(p.n) + " <span class='dg-id'>" + p.c + '</span>'],
          ['镇街 town', txt(p.t)], ['盲区人口 population beyond limit', num(p.p)], ['超时 beyond limit', num(p.b)],
          ['路网不可达 unreachable', num(p.u)], ['离网 off network', num(p.o)]]); }, true],
    points: [function (f) { var p = f.properties; return p.pop !== undefined ? p.tip : txt(p.n); },
      function (f) { var p = f.properties; if (p.pop !== undefined) return p.pop;
        return tbl([['设施 facility', txt(p.n)], ['编号 id', txt(p.id)], ['类型 kind', txt(p.k)],
          ['来源 source', txt(p.src)], ['在路网上 on network', p.on ? '是 yes' : '否 no (> max snap)']]); }, false]
  };
  TEXT.vlines = TEXT.villages;
  var OPEN = location.hash.indexOf('dg-open') >= 0;  // test hook: every feature gets its own tooltip and popup
  function bind(target, tx, one) {  // one layer (its feature) or a whole group (the feature under the mouse)
    target.bindTooltip(function (l) { return tx[0]((one || l).feature); }, {sticky: tx[2]});
    target.bindPopup(function (l) { return tx[1]((one || l).feature); }, {maxWidth: 380});
  }
  // ------------------------------------------------------------ styles: one colour, one meaning
  var STYLES = {
    towns: function () { return {color: M.town, weight: 1.8, fill: false}; },
    towns_pop: function (f) { var c = townColour(f.properties.rate);
      return {color: '#555', weight: 1, fillColor: c || 'url(#dg-h-nodata)', fillOpacity: c ? 0.85 : 1}; },
    choropleth: function (f) { var c = bin(f.properties.rate, DG.supply_bins, DG.supply_colours);
      return {color: '#555', weight: 0.5, fillColor: c || 'url(#dg-h-nodata)', fillOpacity: c ? 0.9 : 1}; },
    villages: function (f) { var i = f.properties.i, c = vClass(i), s = V.st[i];
      var o = {color: '#777', weight: 0.6, dashArray: null, fillColor: c || 'url(#dg-h-nodata)',
        fillOpacity: c ? 0.85 : 1};
      if (s === 'gap') { o.color = M.gap; o.weight = 2.5; }
      else if (s === 'unreachable') { o.color = M.unreachable; o.weight = 2.5; o.dashArray = '6 4'; }
      else if (s === 'no_data') { o.color = M.no_data; o.weight = 1; }
      return o; },
    vlines: function () { return {color: '#777', weight: 0.7, fillColor: '#fff', fillOpacity: 0}; },
    service: function () { return {color: M.service, weight: 0.8, opacity: 0.9, fillColor: 'url(#dg-h-service)',
      fillOpacity: 1}; },
    gaps: function () { return {color: M.gap_area, weight: 0.5, fillColor: M.gap_area, fillOpacity: 0.65}; },
    points: function () { return {}; }
  };
  function pointToLayer(f, ll) {
    var p = f.properties;
    if (p.rank !== undefined) return L.marker(ll, {icon: L.divIcon({className: 'dg-cand', html: p.rank,
      iconSize: [22, 22]}), riseOnHover: true, zIndexOffset: 1000});
    return L.circleMarker(ll, {radius: 3.5, color: p.on === false ? M.facility : '#fff',
      weight: p.on === false ? 1.5 : 1,
      fillColor: p.on === false ? '#fff' : M.facility, fillOpacity: 1}); }
  // ------------------------------------------------------------ layers (outline keys joined to outlines.js once)
  var joined = {}, unmatched = 0;
  function warnOutlines(state, zh, en) {
    setc('outlines', state);
    var warn = document.createElement('div'); warn.className = 'dg-syn'; warn.textContent = zh + ' \u2014 ' + en;
    document.getElementById('dg-note').appendChild(warn);
  }
  function layerData(s) {
    if (!s.outlines) return s.data;
    if (joined[s.key]) return joined[s.key];
    var src = (window.DG_OUTLINES && window.DG_OUTLINES[s.outlines]) || [], m = new Map(), feats = [];
    src.forEach(function (p) { m.set(p[0], p[1]); });
    s.data.features.forEach(function (f) { var g = m.get(f.id);
      if (g) feats.push({type: 'Feature', id: f.id, properties: f.properties, geometry: g}); else unmatched++; });
    joined[s.key] = {type: 'FeatureCollection', features: feats};
    return joined[s.key];
  }
  if (DG.layers.some(function (s) { return s.outlines; }) && !window.DG_OUTLINES) {
    warnOutlines('missing', '缺少 outlines.js\uff1a村(社区)/镇街边界未显示',
      'outlines.js (village and town outlines) ' +
      'was not found beside this page; keep the maps folder together.');
  }
  var groups = {}, overlays = {}, vIdx = {}, tIdx = {};
  DG.layers.forEach(function (s) { groups[s.key] = L.featureGroup();
    if (s.circle === undefined) overlays[s.label] = groups[s.key];
    if (s.show) groups[s.key].addTo(map); });
  var townLabels = L.layerGroup(), villageLabels = L.layerGroup();
  function label(p, html, cls) { return L.marker(c2ll(p), {icon: L.divIcon({className: 'dg-lbl ' + cls,
    html: '<span>' + html + '</span>', iconSize: null}), interactive: false, keyboard: false}); }
  var stale = {};  // layers not on the map are drawn when first shown (the hidden ones cost no load time)
  function drawLayer(s) {
    var g = groups[s.key]; g.clearLayers(); stale[s.key] = false;
    var tx = TEXT[s.style];
    var gj = L.geoJSON(layerData(s), {coordsToLatLng: c2ll, style: STYLES[s.style], pointToLayer: pointToLayer,
      interactive: s.style !== 'towns',
      onEachFeature: function (f, l) { if (tx && OPEN) bind(l, tx, l);
        var i = f.properties.i;
        if (i !== undefined && s.key === 'villages') vIdx[i] = l;
        if (i !== undefined && (s.style === 'towns' || s.style === 'towns_pop')) tIdx[i] = l; }
    });
    if (tx && !OPEN) bind(gj, tx, null);  // one binding per layer, not one per feature: faster to load
    g.addLayer(gj);
  }
  DG.layers.forEach(function (s) { groups[s.key].on('add', function () { if (stale[s.key]) drawLayer(s); }); });
  function build() {
    vIdx = {}; tIdx = {};
    DG.layers.forEach(function (s) {
      if (map.hasLayer(groups[s.key])) drawLayer(s); else { groups[s.key].clearLayers(); stale[s.key] = true; }
      setc(s.key, layerData(s).features.filter(function (f) { return f.geometry; }).length);
    });
    townLabels.clearLayers(); villageLabels.clearLayers(); vLabelsMade = false;
    T.lab.forEach(function (p, i) { if (p) label(p, T.name[i], 'dg-lbl-t').addTo(townLabels); });
    setc('crs', gcjOn ? 'gcj02' : 'wgs84');
  }
  var vLabelsMade = false;
  function zoomLabels() { var z = map.getZoom();
    if (z <= 12.5) townLabels.addTo(map); else map.removeLayer(townLabels);
    if (z >= 14 && !vLabelsMade) { vLabelsMade = true;  // made when first needed
      V.lab.forEach(function (p, i) { if (p) label(p, V.name[i], 'dg-lbl-v').addTo(villageLabels); }); }
    if (z >= 14) villageLabels.addTo(map); else map.removeLayer(villageLabels);
    setc('zoom', z); }
  map.on('zoomend', zoomLabels);
  // ------------------------------------------------------------ base layers; a visible note when tiles fail
  var blank = L.layerGroup().addTo(map);
  var bases = {};
  bases['空白底图 blank (offline)'] = blank;
  var osm = L.tileLayer(DG.osm_url, {maxZoom: 19, attribution: '&copy; OpenStreetMap contributors'});
  bases['OpenStreetMap (WGS84, online)'] = osm;
  var gaode = L.tileLayer(DG.gaode_url, {subdomains: '1234', maxZoom: 18,
    attribution: '&copy; 高德地图 AutoNavi (GCJ-02)'});
  bases['高德 Gaode (GCJ-02, online)'] = gaode;
  function tileError() { document.getElementById('dg-tilenote').hidden = false; setc('tileerror', '1'); }
  osm.on('tileerror', tileError); gaode.on('tileerror', tileError);
  L.control.layers(bases, overlays, {collapsed: true}).addTo(map);  // open on hover: never over a popup
  L.control.scale({imperial: false}).addTo(map);
  map.on('baselayerchange', function (ev) { var want = (ev.layer === gaode);
    if (want !== gcjOn) { gcjOn = want; build(); } });
  // fit the view before drawing, so every path is projected once (not drawn, then re-drawn after a fit)
  var fit = L.latLngBounds([]);
  function extend(c) { if (typeof c[0] === 'number') fit.extend(c2ll(c)); else c.forEach(extend); }
  DG.layers.forEach(function (s) { if (s.fit) layerData(s).features.forEach(function (f) {
    if (f.geometry) extend(f.geometry.coordinates); }); });
  if (fit.isValid()) map.fitBounds(fit, {padding: [10, 10], animate: false});
  build();
  if (unmatched && window.DG_OUTLINES) {
    warnOutlines('mismatch', 'outlines.js 与本页不符\uff1a' + unmatched + ' 个边界缺失',
      'outlines.js beside this page ' +
      'comes from other inputs: ' + unmatched + ' outlines are missing; write the maps folder again.');
  }
  zoomLabels();
  // ------------------------------------------------------------ finding things: search, town selector
  var msgEl = document.getElementById('dg-msg');
  function msg(h) { msgEl.innerHTML = h; }
  function popupAt(p, html) { L.popup({maxWidth: 380}).setLatLng(c2ll(p)).setContent(html).openOn(map); }
  function focusVillage(i) {
    if (groups.villages && !map.hasLayer(groups.villages)) groups.villages.addTo(map);
    var l = vIdx[i], p = V.lab[i];
    if (l) { map.fitBounds(l.getBounds(), {maxZoom: 15, animate: false});
      if (p) popupAt(p, vPopup(i)); else l.openPopup(); }
    else if (p) { map.setView(c2ll(p), 15, {animate: false}); popupAt(p, vPopup(i)); }
    else { msg('无边界 no outline: ' + V.name[i]); return false; }
    setc('focus', 'v' + i); setc('zoom', map.getZoom()); return true;
  }
  function focusTown(i) {
    var l = tIdx[i], p = T.lab[i];
    if (l) map.fitBounds(l.getBounds(), {animate: false}); else if (p) map.setView(c2ll(p), 13, {animate: false});
    if (p) popupAt(p, tPopup(i));
    setc('focus', 't' + i); setc('zoom', map.getZoom()); return true;
  }
  var entries = [];
  T.name.forEach(function (n, i) {
    entries.push({kind: 't', i: i, name: raw(n), label: raw(n) + ' \u00b7 镇街 town'}); });
  V.name.forEach(function (n, i) {
    entries.push({kind: 'v', i: i, name: raw(n), label: raw(n) + '\uff08' + raw(V.town[i]) + '\uff09'}); });
  var list = document.getElementById('dg-search-list');
  function fillList() { if (list.children.length) return;  // filled when the box is first used
    entries.forEach(function (en) { var o = document.createElement('option'); o.value = en.label;
      list.appendChild(o); }); }
  function find(q) {
    q = String(q || '').trim(); if (!q) return null;
    var hit = null, tests = [function (en) { return en.label === q; }, function (en) { return en.name === q; },
      function (en) { return en.name.indexOf(q) >= 0; }, function (en) { return en.label.indexOf(q) >= 0; }];
    for (var t = 0; t < tests.length && !hit; t++) { for (var j = 0; j < entries.length; j++) {
      if (tests[t](entries[j])) { hit = entries[j]; break; } } }
    if (hit) { msg('\u2192 ' + esc(hit.label)); if (hit.kind === 'v') focusVillage(hit.i); else focusTown(hit.i); }
    else msg('未找到 not found: ' + esc(q));
    setc('search', hit ? hit.kind + hit.i : 'none');
    return hit;
  }
  var box = document.getElementById('dg-search');
  box.addEventListener('focus', fillList); box.addEventListener('input', fillList);
  box.addEventListener('change', function () { find(box.value); });
  box.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') find(box.value); });
  document.getElementById('dg-search-go').addEventListener('click', function () { find(box.value); });
  var sel = document.getElementById('dg-town');
  T.name.map(function (n, i) { return [raw(n), i]; }).sort(function (a, b) { return a[0].localeCompare(b[0], 'zh'); })
    .forEach(function (x) { var o = document.createElement('option'); o.value = String(x[1]); o.textContent = x[0];
      sel.appendChild(o); });
  sel.addEventListener('change', function () { if (sel.value !== '') focusTown(+sel.value); });
  document.getElementById('dg-print').addEventListener('click', function () { window.print(); });
  // the print layout gives the map another size: let Leaflet redraw for it, and back afterwards
  // and fit what was in view to the printed frame (the page is narrower than the screen)
  var screenView = null;
  window.addEventListener('beforeprint', function () {
    screenView = map.getBounds(); map.invalidateSize(false); map.fitBounds(screenView, {animate: false}); });
  window.addEventListener('afterprint', function () {
    map.invalidateSize(false); if (screenView) map.fitBounds(screenView, {animate: false}); });
  // ------------------------------------------------------------ sortable tables linked to the map
  function sortable(el, cols, rows, rowHtml, onClick, foot) {
    var key = null, dir = 1;
    function cmp(a, b) { var x = cols[key].val(a), y = cols[key].val(b);
      if (x === null || x === undefined || x === '') return (y === null || y === undefined || y === '') ? 0 : 1;
      if (y === null || y === undefined || y === '') return -1;
      return (typeof x === 'number' ? x - y : String(x).localeCompare(String(y), 'zh')) * dir; }
    function render() {
      var rs = rows.slice(); if (key !== null) rs.sort(cmp);
      el.innerHTML = '<thead><tr>' + cols.map(function (c, j) { return '<th data-j="' + j + '">' + c.head +
        (j === key ? (dir > 0 ? ' \u25b2' : ' \u25bc') : '') + '</th>'; }).join('') + '</tr></thead><tbody>' +
        rs.map(rowHtml).join('') + '</tbody>' + (foot ? '<tfoot>' + foot + '</tfoot>' : '');
    }
    el.addEventListener('click', function (ev) {
      var th = ev.target.closest('th'), tr = ev.target.closest('tbody tr');
      if (th && th.hasAttribute('data-j')) {
        var j = +th.getAttribute('data-j'); dir = (key === j) ? -dir : 1; key = j; render(); }
      else if (tr && tr.hasAttribute('data-i')) { onClick(+tr.getAttribute('data-i')); }
    });
    render();
    return {sort: function (j, d) { key = j; dir = d || 1; render(); }};
  }
  var api = {map: map, find: find, focusVillage: focusVillage, focusTown: focusTown, villagePopup: vPopup,
    townPopup: tPopup, groups: groups};
  window.dgApi = api;
  if (C) {
    var vt = null, wrap = document.getElementById('dg-vtable-wrap'), btn = document.getElementById('dg-vtable-btn');
    var VC = [
      {head: '村(社区) village', val: function (i) { return raw(V.name[i]); },
        td: function (i) { return V.name[i]; }},
      {head: '镇街 town', val: function (i) { return raw(V.town[i]); }, td: function (i) { return txt(V.town[i]); }},
      {head: '状态 status', val: function (i) { return V.st[i]; },
        td: function (i) { return DG.status[V.st[i]] || txt(V.st[i]); }},
      {head: '覆盖率 share', val: function (i) { return V.share[i]; },
        td: function (i) { return sw(vClass(i)) + pct(V.share[i]); }},
      {head: '人口 people', val: function (i) { return V.pop[i]; }, td: function (i) { return num(V.pop[i]); }},
      {head: '中位 median min', val: function (i) { return V.med[i]; },
        td: function (i) { return num(V.med[i], 1); }},
      {head: 'p90 min', val: function (i) { return V.p90[i]; }, td: function (i) { return num(V.p90[i], 1); }}];
    var rowsV = V.name.map(function (_, i) { return i; });
    function vRow(i) { return '<tr data-i="' + i + '">' + VC.map(function (c) {
      return '<td>' + c.td(i) + '</td>'; }).join('') + '</tr>'; }
    api.showTable = function () { wrap.hidden = false; btn.setAttribute('aria-expanded', 'true');
      if (!vt) {
        vt = sortable(document.getElementById('dg-vtable'), VC, rowsV, vRow, focusVillage); api.sortTable = vt.sort; }
      setc('table', rowsV.length); return vt; };
    btn.addEventListener('click', function () { if (wrap.hidden) api.showTable(); else { wrap.hidden = true;
      btn.setAttribute('aria-expanded', 'false'); } });
  } else {
    // ---------------------------------------------------------- overview: one circle at a time, compared by town
    var radios = [], holder = document.getElementById('dg-circles');
    CS.forEach(function (c, k) {
      var lab = document.createElement('label'), r = document.createElement('input');
      r.type = 'radio'; r.name = 'dg-circle'; r.value = String(k); r.checked = (k === 0);
      r.addEventListener('change', function () { if (r.checked) selectCircle(k); });
      lab.appendChild(r); var s = document.createElement('span');
      s.innerHTML = ' ' + c.zh + ' \u00b7 ' + pct((T.c[k].city || {}).share);
      lab.appendChild(s); holder.appendChild(lab); radios.push(r);
    });
    function selectCircle(k) {
      cur = k;
      CS.forEach(function (c, j) { var g = groups['towns_' + c.id];
        if (j === k) g.addTo(map); else map.removeLayer(g); });
      radios[k].checked = true;
      document.getElementById('dg-circle-name').innerHTML = CS[k].zh + ' <span lang="en">' + CS[k].en + '</span>';
      document.querySelectorAll('.dg-mult').forEach(function (m, j) { m.classList.toggle('dg-on', j === k); });
      map.closePopup(); setc('circle', CS[k].id);
    }
    api.selectCircle = selectCircle;
    // small multiples: one tiny map per circle, same classes as the main map
    var tl = DG.layers.filter(function (s) { return s.circle === 0; })[0], feats = tl ? layerData(tl).features : [];
    var x0 = 180, x1 = -180, y0 = 90, y1 = -90;
    function rings(g) { return g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ?
      [].concat.apply([], g.coordinates) : []; }
    feats.forEach(function (f) { rings(f.geometry).forEach(function (r) { r.forEach(function (c) {
      x0 = Math.min(x0, c[0]); x1 = Math.max(x1, c[0]); y0 = Math.min(y0, c[1]); y1 = Math.max(y1, c[1]); }); }); });
    var W = 150, H = 120, kx = Math.cos((y0 + y1) / 2 * PI / 180);
    var sc = Math.min(W / ((x1 - x0) * kx || 1), H / ((y1 - y0) || 1));
    var paths = feats.map(function (f) { return [f.properties.i, rings(f.geometry).map(function (r) {
      return 'M' + r.map(function (c) {
        return ((c[0] - x0) * kx * sc).toFixed(1) + ' ' + ((y1 - c[1]) * sc).toFixed(1); })
        .join('L') + 'Z'; }).join('')]; });
    var mult = document.getElementById('dg-multiples');
    CS.forEach(function (c, k) {
      var h = '<svg viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '">' + paths.map(function (p) {
        var col = townColour(T.c[k].share[p[0]]);
        return '<path d="' + p[1] + '" fill="' + (col || 'url(#dg-h-nodata)') +
          '" stroke="#555" stroke-width="0.4"><title>' +
          T.name[p[0]] + ' ' + pct(T.c[k].share[p[0]]) + '</title></path>'; }).join('') + '</svg>';
      var d = document.createElement('div'); d.className = 'dg-mult' + (k === 0 ? ' dg-on' : '');
      d.innerHTML = h + '<div>' + c.zh + '<br><b>' + pct((T.c[k].city || {}).share) + '</b></div>';
      d.addEventListener('click', function () { selectCircle(k); });
      mult.appendChild(d);
    });
    // comparison table: town x circle, population covered
    var TC = [{head: '镇街 town', val: function (i) { return raw(T.name[i]); },
      td: function (i) { return T.name[i]; }}]
      .concat(CS.map(function (c, k) { return {head: c.zh, val: function (i) { return T.c[k].share[i]; },
        td: function (i) { var v = T.c[k].share[i], col = townColour(v);
          return "<span class='dg-bar'><i style='width:" + (ok(v) ? Math.round(v * 100) : 0) + "%;background:" +
            (col || '#fff') + "'></i></span>" + pct(v); }}; }));
    var cityRow = '<tr class="dg-city"><td>东莞市(全市) city</td>' + CS.map(function (c, k) {
      return '<td>' + pct((T.c[k].city || {}).share) + '</td>'; }).join('') + '</tr>';
    var ct = sortable(document.getElementById('dg-compare'), TC, T.name.map(function (_, i) { return i; }),
      function (i) { return '<tr data-i="' + i + '">' + TC.map(function (c) {
        return '<td>' + c.td(i) + '</td>'; }).join('') + '</tr>'; },
      focusTown, cityRow);
    api.sortCompare = ct.sort;
    selectCircle(0);
  }
  var m = /dg-search=([^&]*)/.exec(location.hash); if (m) find(decodeURIComponent(m[1]));
  if (location.hash.indexOf('dg-tiles') >= 0) { map.removeLayer(blank); osm.addTo(map); }
  if (OPEN) {  // test hook: show every tooltip and one popup per layer
    DG.layers.forEach(function (s) { var first = true; groups[s.key].eachLayer(function (g) { g.eachLayer(function (l) {
      if (l.getTooltip()) { l.getTooltip().options.permanent = true; l.openTooltip(); }
      if (first && l.getPopup()) { first = false; l.openPopup(); } }); }); });
    setc('opened', '1');
  }
  setc('ready', '1');
})();
"""

_CSS = """
html,body{margin:0;height:100%}
body{display:flex;font:12px/1.45 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif;color:#222}
#dg-side{flex:0 0 400px;width:400px;height:100%;overflow:auto;box-sizing:border-box;padding:8px 10px;
 border-right:1px solid #bbb;background:#fff}
#dg-map{flex:1 1 auto;height:100%}
#dg-title{font-size:15px;font-weight:bold;margin-bottom:4px}
#dg-nav a{margin-right:8px} #dg-nav{margin-bottom:6px}
#dg-tools{margin:6px 0;padding:6px;background:#f3f3f3;border-radius:4px}
#dg-tools input,#dg-tools select{font:inherit;margin:2px 0;max-width:100%} #dg-search{width:230px}
#dg-msg{color:#444;min-height:1em}
#dg-tilenote{background:#fff3cd;border:1px solid #e0b000;padding:4px 6px;margin:4px 0}
.dg-sec{margin:8px 0 4px;font-weight:bold;border-bottom:1px solid #ddd}
.dg-syn{color:#b2182b;font-weight:bold} .dg-id{color:#777;font-family:monospace}
.dg-sw{display:inline-block;width:14px;height:10px;margin-right:5px;border:1px solid #666;vertical-align:middle;
 box-sizing:border-box}
svg.dg-sw{border:none;padding:0}
.dg-ln{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle;box-sizing:border-box;
 background:#fff}
.dg-rule{background:#eef6fb;border-left:3px solid #225ea8;padding:3px 6px;margin:4px 0}
table.dg-t th{text-align:left;padding-right:8px;font-weight:normal;color:#555;vertical-align:top}
table.dg-t td{font-weight:bold}
table.dg-list{border-collapse:collapse;width:100%;font-size:11px}
table.dg-list th{position:sticky;top:0;background:#e8e8e8;cursor:pointer;text-align:left;padding:2px 3px;
 white-space:nowrap}
table.dg-list td{padding:1px 3px;border-bottom:1px solid #eee;white-space:nowrap}
table.dg-list tbody tr{cursor:pointer} table.dg-list tbody tr:hover{background:#fff7bc}
table.dg-list tfoot td{font-weight:bold;border-top:1px solid #999}
.dg-scroll{max-height:46vh;overflow:auto;border:1px solid #ddd}
.dg-bar{display:inline-block;position:relative;width:34px;height:9px;background:#f4f4f4;border:1px solid #999;
 margin-right:3px;vertical-align:middle}
.dg-bar i{position:absolute;left:0;top:0;bottom:0}
#dg-compare th{white-space:normal;max-width:70px}
#dg-multiples{display:flex;flex-wrap:wrap;gap:4px}
.dg-mult{border:2px solid transparent;cursor:pointer;text-align:center;font-size:11px;width:154px}
.dg-mult.dg-on{border-color:#222}
#dg-circles label{display:block;cursor:pointer}
.dg-lbl{background:none;border:none}
.dg-lbl span{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;pointer-events:none;
 text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff}
.dg-lbl-t span{font-size:12px;font-weight:bold;color:#111}
.dg-lbl-v span{font-size:10px;color:#333}
.dg-cand{background:#fff;border:2px solid #000;border-radius:3px;font-weight:bold;font-size:11px;text-align:center;
 line-height:18px;box-sizing:border-box}
.leaflet-container{background:#f4f4f0}
@media print{
 @page{size:A4 landscape;margin:8mm}
 *{-webkit-print-color-adjust:exact !important;print-color-adjust:exact !important}
 html,body{height:190mm}
 #dg-tools,.dg-noprint,.leaflet-control-container .leaflet-control-layers,.leaflet-control-zoom{display:none !important}
 #dg-side{flex-basis:92mm;width:92mm;overflow:visible;height:auto;border-right:1px solid #999}
 .dg-scroll{max-height:none;overflow:visible}
 a{color:#222;text-decoration:none}
}
"""


def _vendor_head() -> str:
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers-2x.png", "layers.png"):
        uri = "data:image/png;base64," + base64.b64encode((VENDOR / img).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    return f"<style>{css}</style>\n<script>{js}</script>\n<style>{_CSS}</style>"


def _json_script(obj: Any) -> str:
    r"""JSON for a ``<script type="application/json">`` element.

    Every ``<`` is written as the JSON escape ``\u003c`` (outside strings JSON has no ``<``), so no
    string can close the element (``</script>``) or open a script-data escape (``<!--``), and
    ``JSON.parse`` gives back the exact text.
    """
    raws: list[str] = []
    nonce = secrets.token_hex(8)  # placeholders no data string can forge

    def raw(o: Any) -> str:
        if isinstance(o, RawJSON):
            raws.append(o.text)
            return f"\0{nonce}:{len(raws) - 1}\0"
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    txt = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=raw)
    if raws:
        ref = re.compile(r'"\\u0000' + nonce + r':(\d+)\\u0000"')
        txt = ref.sub(lambda m: raws[int(m.group(1))], txt)
    return txt.replace("<", "\\u003c")


def _hatch(pid: str, colour: str, gap: int = 6, width: float = 1.5) -> str:
    return (
        f"<pattern id='{pid}' patternUnits='userSpaceOnUse' width='{gap}' height='{gap}' "
        f"patternTransform='rotate(45)'><rect width='{gap}' height='{gap}' fill='none'/>"
        f"<line x1='0' y1='0' x2='0' y2='{gap}' stroke='{colour}' stroke-width='{width}'/></pattern>"
    )


_DEFS = (
    "<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>"
    + _hatch("dg-h-service", MARK_COLOURS["service"], 7, 1.6)
    + _hatch("dg-h-nodata", MARK_COLOURS["no_data"], 5, 1.5)
    + "</defs></svg>"
)


def render_page(
    title: str,
    layers: list[dict[str, Any]],
    note_html: str,
    legend_html: str,
    centre: tuple[float, float] = (22.95, 113.85),
    outlines_src: str | None = None,
    extra: dict[str, Any] | None = None,
    side_html: str = "",
    nav_html: str = "",
    title_html: str = "",
) -> str:
    """Render a self-contained offline Leaflet page with the given overlay layers, sidebar and tools.

    Parameters
    ----------
    title
        Page title (escaped here).
    layers
        Dicts ``key, label, style, data (GeoJSON), show, fit`` (optional ``outlines``: the shared outline set
        the features key into; ``circle``: overview circle index, switched by the radio instead of the layer
        control).  ``label`` is escaped here, ``key`` must pass :func:`html_key` (and be unique).  The caller's
        dicts are not modified.
    note_html, legend_html, side_html, nav_html, title_html
        Sidebar parts, already escaped (``title_html`` follows the title).
    centre
        Initial centre (lat, lon) before the layers are fitted.
    outlines_src
        Relative URL of the shared outlines script (:data:`OUTLINES_JS`), loaded before the page script.
    extra
        More page data for the script (columns of villages/towns, circle info); escaped strings only.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    ValueError
        A layer key that is not ``[a-z0-9_-]+`` or is repeated.
    """
    keys = [html_key(s["key"]) for s in layers]
    if len(set(keys)) != len(keys):
        raise ValueError(f"map layer keys must be unique, got {keys}")
    layers = [{**s, "label": e(s["label"])} for s in layers]
    data: dict[str, Any] = {
        "layers": layers,
        "centre": [float(centre[0]), float(centre[1])],
        "osm_url": OSM_URL,
        "gaode_url": GAODE_URL,
        "status": {s: f"{STATUS_ZH[s]} {STATUS_EN[s]}" for s in STATUSES},
        "marks": MARK_COLOURS,
        "share": {"breaks": [], "colours": [], "labels": []},
        "town_bins": list(TOWN_BINS),
        "town_colours": list(YLGNBU[len(TOWN_BINS) + 1]),
        "supply_bins": list(SUPPLY_BINS),
        "supply_colours": list(SUPPLY_COLOURS),
        "v": {"name": [], "town": [], "lab": []},
        "t": {"name": [], "code": [], "lab": [], "c": []},
        **(extra or {}),
    }
    counts_attrs = " ".join(f'data-{k}=""' for k in keys)
    src = f'<script src="{e("./" + quote(outlines_src))}"></script>\n' if outlines_src is not None else ""
    return (
        "<!DOCTYPE html>\n<html lang='zh-CN'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{e(title)}</title>\n{_vendor_head()}\n{src}</head>\n<body>\n{_DEFS}\n"
        "<aside id='dg-side'>\n"
        f"<div id='dg-title'>{e(title)}{title_html}</div>\n<nav id='dg-nav'>{nav_html}</nav>\n"
        "<div id='dg-tilenote' hidden>⚠ 在线底图无法加载（离线或被拦截）：叠加图层仍然正确。"
        "<span lang='en'>The online base map could not load (offline or blocked); the overlays are still "
        "correct.</span></div>\n"
        "<div id='dg-tools'><input id='dg-search' list='dg-search-list' "
        "placeholder='搜索 村(社区)/镇街 search a village or town' aria-label='search'>"
        "<datalist id='dg-search-list'></datalist> <button id='dg-search-go' type='button'>查找 find</button><br>"
        "<select id='dg-town' aria-label='town'><option value=''>— 缩放到镇街 zoom to a town —</option></select> "
        "<button id='dg-print' type='button'>打印 print</button><div id='dg-msg'></div></div>\n"
        f"{side_html}\n<div id='dg-legend'>{legend_html}</div>\n<div id='dg-note'>{note_html}</div>\n</aside>\n"
        "<div id='dg-map'></div>\n"
        f'<script type="application/json" id="dg-data">{_json_script(data)}</script>\n'
        f'<div id="dg-counts" hidden {counts_attrs} data-ready="0"></div>\n'
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- sidebar parts


def _inputs(summary: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for k, rec in summary.get("inputs", {}).items():
        if isinstance(rec, dict) and "kind" in rec:
            path = f" — <span class='dg-id'>{e(Path(str(rec['path'])).name)}</span>" if rec.get("path") else ""
            out.append((str(k), f"{e(str(rec['kind']))}{path}"))
    return out


def _note(summaries: Sequence[dict[str, Any]]) -> str:
    """Synthetic warning and the sources of every circle shown (shared inputs once, facilities per circle)."""
    synthetic = any(bool(s.get("synthetic")) for s in summaries)
    s0 = summaries[0]
    parts = []
    if synthetic:
        parts.append(
            f"<div class='dg-syn'>⚠ {e(str(s0.get('note_zh', '')))}</div>"
            f"<div class='dg-syn' lang='en'>{e(str(s0.get('note', '')))}</div>"
        )
    else:
        parts.append("<div>真实输入数据 Real inputs (synthetic = false)</div>")
    shared: dict[str, str] = {}
    per_circle = []
    for s in summaries:
        cid = e(str((s.get("circle") or {}).get("id", "")))
        for k, v in _inputs(s):
            if k == "facilities" or k.startswith("facilities"):
                per_circle.append(f"<li>{e(k)} ({cid}): {v}</li>")
            elif shared.get(k, v) == v:
                shared[k] = v
            else:  # the same kind of input differs between circles: list each
                per_circle.append(f"<li>{e(k)} ({cid}): {v}</li>")
    items = "".join(f"<li>{e(k)}: {v}</li>" for k, v in shared.items()) + "".join(per_circle)
    parts.append(
        "<div class='dg-sec'>数据来源 Data sources</div><ul style='margin:2px 0 2px 16px;padding:0'>" + items + "</ul>"
        f"synthetic = {str(synthetic).lower()} · dgcoverage {e(str(s0.get('dgcoverage_version', '')))}"
    )
    return "".join(parts)


def _share_legend(result: CircleResult) -> str:
    c = result.circle
    _, cols, labels = share_classes(c.covered_min_share)
    rows = "<br>".join(f"<span class='dg-sw' style='background:{col}'></span>{lab}" for col, lab in zip(cols, labels))
    rule = (
        f"<div class='dg-rule'><b>达标 covered</b> = 村(社区)内 ≥ {_pct0(c.covered_min_share)} 的人口在 "
        f"{c.minutes:g} 分钟内（{e(str(c.mode))} {c.speed_kmh:g} km/h）到达最近设施。"
        f"<span lang='en'>A village is covered when ≥ {_pct0(c.covered_min_share)} of its people reach a "
        f"facility within {c.minutes:g} min (covered_min_share = {c.covered_min_share:g}).</span></div>"
    )
    nd = (
        "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)' "
        f"stroke='{MARK_COLOURS['no_data']}'/></svg>"
    )
    marks = (
        f"<span class='dg-ln' style='border:3px solid {MARK_COLOURS['gap']}'></span>服务盲区 gap: nobody within the "
        f"limit<br><span class='dg-ln' style='border:3px dashed {MARK_COLOURS['unreachable']}'></span>路网不可达 "
        f"unreachable: no facility along the streets<br>{nd}无数据 no data (no area or no people)"
    )
    return (
        "<div class='dg-sec'>村(社区)人口覆盖率 share of people within the limit</div>"
        + rows
        + rule
        + "<div class='dg-sec'>状态标记 status marks (outline / hatching)</div>"
        + marks
    )


def _circle_legend(result: CircleResult, supply: bool, candidates: bool) -> str:
    sa = (
        "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-service)' "
        f"stroke='{MARK_COLOURS['service']}'/></svg>"
    )
    rows = [
        f"{sa}服务范围 service area (drawn on top, hatched)",
        f"<span class='dg-sw' style='background:{MARK_COLOURS['gap_area']};opacity:.75'></span>盲区人口 gap areas "
        "(populated, beyond the limit; layer off by default)",
        f"<span class='dg-sw' style='background:{MARK_COLOURS['facility']};border-radius:7px;border-color:#fff'>"
        "</span>设施 facility (hollow: off the network)",
        f"<span class='dg-ln' style='border:2px solid {MARK_COLOURS['town']};height:4px'></span>镇街边界 town boundary",
    ]
    if candidates:
        rows.append(
            "<span class='dg-cand' style='display:inline-block;width:18px'>1</span> 候选站点 candidate site (rank)"
        )
    if supply:
        sup = " ".join(
            f"<span class='dg-sw' style='background:{col}'></span>{lab}"
            for col, lab in zip(SUPPLY_COLOURS, _bin_labels(SUPPLY_BINS))
        )
        rows.append(f"可达供给/标准 supply within reach vs standard (2SFCA, layer off by default):<br>{sup}")
    r = result.summary["results"]
    return (
        _share_legend(result)
        + "<div class='dg-sec'>图层 layers</div>"
        + "<br>".join(rows)
        + "<div class='dg-sec'>全市 city</div>"
        + f"人口覆盖率 population covered <b>{_fmt(r['covered_share'], pct=True)}</b>"
        + f"<br>村(社区)达标率 villages covered <b>{_fmt(r['village_pass_rate'], pct=True)}</b>"
    )


def _bin_labels(bins: Sequence[float]) -> list[str]:
    edges = [0.0, *bins]
    labels = [f"{_pct0(a)}–&lt;{_pct0(b)}" for a, b in zip(edges[:-1], edges[1:])]
    labels[0] = f"&lt; {_pct0(bins[0])}"
    return [*labels, f"≥ {_pct0(bins[-1])}"]


def _town_legend(cms: Sequence[float] = (0.9,)) -> str:
    rows = "<br>".join(
        f"<span class='dg-sw' style='background:{col}'></span>{lab}"
        for col, lab in zip(YLGNBU[len(TOWN_BINS) + 1], _bin_labels(TOWN_BINS))
    )
    return (
        "<div class='dg-sec'>镇街人口覆盖率 share of the town's people within the limit</div>"
        + rows
        + "<br><svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)'/></svg>"
        "无数据 no data"
        + "<div class='dg-rule'>按人口计，非按村(社区)数：覆盖人口 ÷ 镇街人口。<span lang='en'>By people, not by "
        "villages: people within the limit ÷ the town's people.</span> 村(社区)达标 covered = ≥ "
        + " / ".join(_pct0(x) for x in cms)
        + " of its people within the limit (see each circle's map).</div>"
    )


def _nav(circles: Sequence[tuple[str, str]], here: str | None, index: bool, report_href: str | None) -> str:
    links = []
    if index:
        links.append("<b>总览 overview</b>" if here is None else "<a href='./index.html'>总览 overview</a>")
    for cid, name in circles:
        links.append(f"<b>{e(name)}</b>" if cid == here else f"<a href='{page_href(cid)}'>{e(name)}</a>")
    if report_href:
        links.append(f"<a href='{e(report_href)}'>报告 report</a>")
    return " · ".join(links)


# ---------------------------------------------------------------- pages


def circle_map_html(
    study: Study,
    result: CircleResult,
    sa: gpd.GeoDataFrame,
    gp: gpd.GeoDataFrame,
    candidates: pd.DataFrame | None = None,
    outlines: bool = False,
    circles: Sequence[tuple[str, str]] = (),
    index: bool = False,
    report_href: str | None = None,
) -> str:
    """Render one circle's map (with a ranked candidate-sites layer when ``candidates`` is given).

    Parameters
    ----------
    study, result
        The study and the circle's result.
    sa, gp
        Service area and gap areas (:func:`dgcoverage.gaps.write_areas`).
    candidates
        Ranked sites (:func:`read_candidates`), or ``None``.
    outlines
        Take the village and town outlines from :data:`OUTLINES_JS` beside the page (written by
        :func:`write_maps`) instead of embedding them.
    circles
        ``(id, name)`` of the circle pages to link to (this one included); ``index``: link the overview.
    report_href
        Relative link to ``report.html``, or ``None``.

    Returns
    -------
    str
        The HTML page.
    """
    c = result.circle
    vshared = {"outlines": "villages"} if outlines else {}
    layers = [
        {
            "key": "villages",
            "label": "村(社区)人口覆盖率 villages: share of people covered",
            "style": "villages",
            "data": villages_layer(study, result, outlines),
            "show": True,
            "fit": True,
            **vshared,
        },
        {
            "key": "gaps",
            "label": "服务盲区人口 gap areas (populated, beyond limit)",
            "style": "gaps",
            "data": gaps_layer(study, gp),
            "show": False,
            "fit": False,
        },
        {
            "key": "service",
            "label": f"服务范围 service area ({c.minutes:g} min)",
            "style": "service",
            "data": service_area_layer(study, sa, result),
            "show": True,
            "fit": False,
        },
        {
            "key": "towns",
            "label": "镇街边界 town boundaries",
            "style": "towns",
            "data": towns_layer(study, outlines=outlines),
            "show": True,
            "fit": False,
            **({"outlines": "towns"} if outlines else {}),
        },
        {
            "key": "facilities",
            "label": "设施 facilities",
            "style": "points",
            "data": facilities_layer(result),
            "show": True,
            "fit": False,
        },
    ]
    supply = supply_layer(study, result, outlines)
    if supply is not None:
        layers.insert(
            1,
            {
                "key": "supply",
                "label": "可达供给/标准 supply within reach vs standard (2SFCA)",
                "style": "choropleth",
                "data": supply,
                "show": False,
                "fit": False,
                **vshared,
            },
        )
    has_cands = candidates is not None and len(candidates) > 0
    if has_cands:
        names = dict(zip(study.villages["code"].astype(str), study.villages["name"].astype(str)))
        layers.append(
            {
                "key": "candidates",
                "label": f"候选站点 candidate sites (top {len(candidates)})",
                "style": "points",
                "data": candidates_layer(candidates, names),
                "show": True,
                "fit": False,
            }
        )
    sup = result.summary.get("supply") or {}
    extra = {
        "page": "circle",
        "circle": circle_info(result),
        "v": village_columns(study, result),
        "t": town_columns(study, [result.towns]),
        "share": dict(zip(("breaks", "colours", "labels"), share_classes(c.covered_min_share))),
        "supply": {
            "target": _fmt(sup.get("target"), nd=2) if sup else "—",
            "unit": e(str(sup.get("ratio_unit", ""))),
            "source": e(str(sup.get("source", ""))),
        },
    }
    n = len(result.villages)
    side = (
        f"<div class='dg-noprint'><button id='dg-vtable-btn' type='button' aria-expanded='false'>"
        f"村(社区)表 village table ({n})</button> <span class='dg-id'>点击表头排序，点击行定位 "
        "click a header to sort, a row to zoom</span></div>"
        "<div id='dg-vtable-wrap' class='dg-scroll' hidden><table id='dg-vtable' class='dg-list'></table></div>"
    )
    title = f"{c.name_zh} {c.name_en} — {c.minutes:g} 分钟 min, {c.mode} {c.speed_kmh:g} km/h"
    return render_page(
        title,
        layers,
        _note([result.summary]),
        _circle_legend(result, supply is not None, has_cands),
        _centre(study),
        OUTLINES_JS if outlines else None,
        extra=extra,
        side_html=side,
        nav_html=_nav(circles or [(c.id, c.name_zh)], c.id, index, report_href),
    )


def index_map_html(
    study: Study, results: Sequence[CircleResult], outlines: bool = False, report_href: str | None = None
) -> str:
    """Overview: towns by population covered, one circle at a time, with a town × circle comparison.

    Parameters
    ----------
    study
        The study.
    results
        The circles' results (one radio button each, the first shown).
    outlines
        Take the outlines from :data:`OUTLINES_JS` beside the page instead of embedding them.
    report_href
        Relative link to ``report.html``, or ``None``.

    Returns
    -------
    str
        The HTML page.
    """
    layers = []
    for k, res in enumerate(results):
        c = res.circle
        layers.append(
            {
                "key": f"towns_{html_key(c.id)}",
                "label": f"{c.name_zh} 镇街人口覆盖率 towns: population covered",
                "style": "towns_pop",
                "data": towns_layer(study, res.towns, outlines),
                "show": k == 0,
                "fit": k == 0,
                "circle": k,
                **({"outlines": "towns"} if outlines else {}),
            }
        )
    layers.append(
        {
            "key": "villages",
            "label": "村(社区)边界 village outlines (popup: every circle)",
            "style": "vlines",
            "data": villages_layer(study, None, outlines),
            "show": False,
            "fit": False,
            **({"outlines": "villages"} if outlines else {}),
        }
    )
    v = {
        "name": _texts(study.villages["name"]),
        "code": _texts(study.villages["code"]),
        "town": _texts(study.villages["town_name"]),
        "pop": _nums(results[0].villages["population"], 0) if results else [],
        "lab": _label_points(study.villages.geometry),
        "c": [
            {"share": _nums(r.villages["covered_share"], 4), "st": _texts(r.villages["status"].astype(str))}
            for r in results
        ],
    }
    extra = {
        "page": "index",
        "circles": [circle_info(r) for r in results],
        "v": v,
        "t": town_columns(study, [r.towns for r in results]),
    }
    side = (
        "<div class='dg-sec'>服务圈 circle (one at a time · 全市人口覆盖率 city share)</div><div id='dg-circles'></div>"
        "<div class='dg-sec'>四圈对比 circles compared: share of each town's people within the limit</div>"
        "<div id='dg-multiples'></div>"
        "<div class='dg-scroll'><table id='dg-compare' class='dg-list'></table></div>"
    )
    cms = sorted({float(r.circle.covered_min_share) for r in results})
    return render_page(
        "东莞公共服务圈覆盖 Dongguan public-service circles — 总览 overview",
        layers,
        _note([r.summary for r in results]),
        _town_legend(cms),
        _centre(study),
        OUTLINES_JS if outlines else None,
        extra=extra,
        side_html=side,
        nav_html=_nav([(r.circle.id, r.circle.name_zh) for r in results], None, True, report_href),
        title_html="<br><span id='dg-circle-name'></span>",
    )


def _centre(study: Study) -> tuple[float, float]:
    b = study.towns[study.towns["has_polygon"]].total_bounds
    return ((b[1] + b[3]) / 2, (b[0] + b[2]) / 2)


def default_maps_dir(out_dir: str | Path, maps_dir: str | Path | None = None) -> Path:
    """Where maps go: ``maps_dir`` if given, ``maps/`` for the default output folder, else ``<out_dir>/maps``.

    Parameters
    ----------
    out_dir
        The output folder of the run.
    maps_dir
        The folder asked for, if any.

    Returns
    -------
    pathlib.Path
        The maps folder.
    """
    if maps_dir is not None:
        return Path(maps_dir)
    return Path("maps") if Path(out_dir) == Path("data/processed") else Path(out_dir) / "maps"


def _published(path: Path) -> Path:
    """Return the final place of a path inside an :class:`~dgcoverage.outputs.OutputSet` staging folder."""
    parts = [p for p in Path(os.path.abspath(path)).parts if not p.startswith(STAGING_PREFIX)]
    return Path(*parts)


def report_link(maps_dir: str | Path, out_dir: str | Path) -> str:
    """Relative ``href`` from the maps folder to ``<out_dir>/report.html`` (staging folders see through).

    Parameters
    ----------
    maps_dir
        Where the pages are written (may be a staging folder of the run).
    out_dir
        Where ``report.html`` is written (may be a staging folder of the run).

    Returns
    -------
    str
        A relative URL, e.g. ``../report.html`` or ``../out/report.html``, percent-encoded.
    """
    rel = os.path.relpath(_published(Path(out_dir)) / "report.html", _published(Path(maps_dir)))
    return "/".join(quote(p) for p in Path(rel).parts)


def write_maps(
    study: Study,
    results: Sequence[CircleResult],
    areas: dict[str, tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]],
    maps_dir: str | Path = "maps",
    out_dir: str | Path | None = None,
    index: bool = True,
) -> list[Path]:
    """Write ``<maps_dir>/<circle>.html`` for each result, ``<maps_dir>/index.html`` and the shared outlines.

    The village and town outlines are written once, to ``<maps_dir>/outlines.js`` (:data:`OUTLINES_JS`,
    also with ``index=False``), and every page loads them from there; keep the folder together.

    Parameters
    ----------
    study
        The study.
    results
        The circles' results.
    areas
        Per circle id: (service area, gap areas).
    maps_dir
        Where the pages go.
    out_dir
        The output folder: a circle's ``candidates.csv`` there (from ``dgcoverage site``) adds a ranked
        candidate-sites layer, and the pages link to its ``report.html`` (relative link).
    index
        Write the overview too (the circle pages link to it when it is written or already there).

    Returns
    -------
    list of pathlib.Path
        The pages written (the shared outlines file is not listed).
    """
    for res in results:  # ids name the page files and its links: refuse path separators, quotes, schemes
        html_key(res.circle.id)
    d = Path(maps_dir)
    d.mkdir(parents=True, exist_ok=True)
    report = report_link(d, out_dir) if out_dir is not None else None
    has_index = index or (_published(d) / "index.html").exists()
    circles = [(r.circle.id, r.circle.name_zh) for r in results]
    if not index:  # e.g. `dgcoverage site`: link the other circle pages already in the folder too
        ids = {c for c, _ in circles}
        known = {k: c.name_zh for k, c in load_config()[0].items()}  # names of the packaged circles
        for p in sorted(_published(d).glob("*.html")):
            if p.stem != "index" and p.stem not in ids and HTML_KEY.fullmatch(p.stem):
                circles.append((p.stem, known.get(p.stem, p.stem)))
    out = []
    for res in results:
        sa, gp = areas[res.circle.id]
        cands = read_candidates(out_dir, res.circle.id) if out_dir is not None else None
        page = circle_map_html(study, res, sa, gp, cands, True, circles, has_index, report)
        out.append(write_text(page, d / f"{res.circle.id}.html"))
    if index:
        out.append(write_text(index_map_html(study, results, True, report), d / "index.html"))
    write_text(outlines_js(study), d / OUTLINES_JS)  # not in the returned list, which names the pages
    return out
