"""Notebook maps: a circle's villages as a :class:`folium.Map` to show in Jupyter and extend with folium's layers.

``result.explore()`` (:meth:`dgcoverage.pipeline.study.CircleResult.explore`) or :func:`explore_map` returns a
``folium.Map``: the villages coloured in the map pages' classes (:func:`~.common.share_classes`, YlGnBu; the top
class is the circle's 达标 rule), status outlines (gap red, unreachable orange dashed, no data grey), a legend,
a popup per village with its numbers (name, town, status in Chinese and English, covered share cut to 0.1 % as
every output shows it, median and 90th-percentile time, population) and the facilities as dots.  Add folium's own
layers and plugins to it as to any map (``folium.Marker(...).add_to(m)``); the layer control lists them too.

Offline by default: the map carries the package's own Leaflet 1.9.4 inline (:mod:`.offline`; folium's CDN links
for Leaflet, jQuery, Bootstrap and the awesome-markers are dropped) and no base tiles (``tiles=None``), so
``m.get_root().render()`` loads nothing from the network and the map draws in a notebook or a saved file with
no internet.  ``offline=False`` keeps folium's CDN links (smaller, needs the internet; ``folium.Icon`` markers
need them); ``tiles="OpenStreetMap"`` or a tile URL (with ``attr``) adds a base map (the tiles need the
internet).  The command-line pages (:mod:`.circle`) keep their own script: it carries the search, the village
table, the panes and the print layout, which a folium map does not.

:func:`explore_overview` (``Study.explore(results)``) shows several circles (a study's circles, or a batch's
regions) on one map: each circle's villages one base layer of a radio switch, with its legend shown with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ...core.io import cut_shares
from ...inputs.embedded import SYNTHETIC_NOTE, SYNTHETIC_NOTE_ZH
from .common import MARK_COLOURS, STATUS_EN, share_classes
from .offline import make_offline
from .page import web_asset

if TYPE_CHECKING:  # pragma: no cover
    import folium

    from ...pipeline.study import CircleResult

#: Popup fields of a village: property -> label (Chinese first).
POPUP_FIELDS = {
    "name": "村(社区) village",
    "town": "镇街 town",
    "status": "状态 status",
    "share": "覆盖率 covered share",
    "median": "中位时间 median time",
    "p90": "90分位时间 p90 time",
    "population": "人口 population",
}
#: Simplification of the village outlines for the notebook, in degrees (~10 m).
SIMPLIFY_DEG = 1e-4
#: Fill of a village without data (the pages hatch it in this grey).
NO_DATA_FILL = "#d9d9d9"


def share_text(v: Any) -> str:
    """Format a share as every output shows it: cut to 0.1 % (0.899665 is ``89.9%``); ``—`` when missing."""
    f = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    if not np.isfinite(f):
        return "—"
    if 0 < f < 0.001:
        return "< 0.1%"
    return f"{float(cut_shares(f, 3)) * 100:.1f}%"


def _minutes(v: Any) -> str:
    f = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    return f"{f:.1f} min" if np.isfinite(f) else "—"


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else escape(str(v))


def village_features(result: CircleResult) -> dict[str, Any]:
    """Return the villages of a circle as a GeoJSON FeatureCollection with the popup text and class of each.

    Properties: ``code``, the :data:`POPUP_FIELDS` as display text (escaped), ``cls`` (share class, ``-1`` no
    data) and ``fill`` (its colour).  Villages without an area are left out.
    """
    c = result.circle
    breaks, colours, _ = share_classes(c.covered_min_share)
    v = result.villages
    share = pd.to_numeric(v["covered_share"], errors="coerce").to_numpy(dtype=float)
    status = v["status"].astype(str).to_numpy()
    cls = np.digitize(np.nan_to_num(share, nan=0.0), breaks)  # the classes of the pages: the top one is 达标
    cls = np.where(status == "covered", len(breaks) + 1, cls)
    cls = np.where((status == "no_data") | ~np.isfinite(share), -1, cls)
    geom = shapely.simplify(v.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
    feats = []
    for i in range(len(v)):
        g = geom[i]
        if g is None or shapely.is_empty(g):
            continue
        row = v.iloc[i]
        zh = _text(row.get("status_zh"))
        props = {
            "code": _text(row.get("code")),
            "name": _text(row.get("name")),
            "town": _text(row.get("town_name")),
            "status": f"{zh} {STATUS_EN.get(status[i], _text(status[i]))}".strip(),
            "share": share_text(share[i]),
            "median": _minutes(row.get("median_time_min")),
            "p90": _minutes(row.get("p90_time_min")),
            "population": f"{float(row.get('population') or 0):,.0f}",
            "st": status[i],
            "cls": int(cls[i]),
            "fill": NO_DATA_FILL if cls[i] < 0 else colours[int(cls[i])],
        }
        feats.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(g)})
    return {"type": "FeatureCollection", "features": feats}


def _style(feature: dict[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    out = {"fillColor": p["fill"], "fillOpacity": 0.8, "color": "#777777", "weight": 0.6}
    if p["st"] in ("gap", "unreachable"):
        out.update(color=MARK_COLOURS[p["st"]], weight=2.0)
        if p["st"] == "unreachable":
            out["dashArray"] = "5 4"
    elif p["st"] == "no_data":
        out.update(color=MARK_COLOURS["no_data"], fillOpacity=0.5)
    return out


def legend_html(result: CircleResult, layer: str | None = None, hidden: bool = False) -> str:
    """Return the legend (HTML, escaped): the share classes, the status marks and the synthetic-data note.

    ``layer``: the name of the base layer the legend belongs to (the overview shows the legend of the layer
    switched on; ``data-dg-layer``), ``hidden``: start hidden.
    """
    c = result.circle
    _, colours, labels = share_classes(c.covered_min_share)
    sw = "display:inline-block;width:14px;height:10px;margin-right:4px;border:1px solid #999;background:"
    rows = [f"<div><span style='{sw}{col}'></span>{label}</div>" for col, label in zip(colours, labels)]
    rows += [
        f"<div><span style='{sw}#fff;border:2px solid {MARK_COLOURS['gap']}'></span>服务盲区 gap</div>",
        f"<div><span style='{sw}#fff;border:2px dashed {MARK_COLOURS['unreachable']}'></span>"
        "路网不可达 unreachable</div>",
        f"<div><span style='{sw}{NO_DATA_FILL}'></span>无数据 no data</div>",
        f"<div><span style='{sw}{MARK_COLOURS['facility']};width:8px;height:8px;border-radius:4px'></span>"
        "设施 facilities</div>",
    ]
    if result.summary.get("synthetic"):
        rows.append(
            "<div style='color:#b2182b;font-weight:bold;max-width:260px;margin-top:4px'>"
            f"{escape(SYNTHETIC_NOTE_ZH)}<br>{escape(SYNTHETIC_NOTE)}</div>"
        )
    title = escape(f"{c.name_zh} {c.name_en} ({c.minutes:g} min)")
    tag = "" if layer is None else f" data-dg-layer='{escape(layer, quote=True)}'"
    return (
        f"<div class='dg-legend'{tag} style='{'display:none;' if hidden else ''}"
        "position:absolute;bottom:56px;left:10px;z-index:1000;background:#fff;"  # above the scale bar
        "padding:6px 8px;font:12px sans-serif;border:1px solid #999;border-radius:4px'>"
        f"<b>{title}</b><div>村(社区)人口覆盖率 share of people covered</div>{''.join(rows)}</div>"
    )


def _bounds(results: Sequence[CircleResult]) -> tuple[float, float, float, float]:
    geoms = [g for r in results for g in r.villages.geometry.to_numpy() if g is not None and not shapely.is_empty(g)]
    return tuple(shapely.bounds(shapely.union_all(geoms))) if geoms else (113.5, 22.6, 114.3, 23.2)


def _new_map(results: Sequence[CircleResult], tiles: str | None, attr: str | None, **map_kwargs: Any) -> folium.Map:
    import folium

    b = _bounds(results)
    m = folium.Map(
        location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], tiles=tiles, attr=attr, control_scale=True, **map_kwargs
    )
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    return m


def _print_layout(m: folium.Map, results: Sequence[CircleResult]) -> None:
    """Print ``m`` on one A4-landscape page with the villages fitted in it (explore-print.js and .css)."""
    import folium
    from branca.element import MacroElement
    from folium.template import Template

    b = _bounds(results)
    m.get_root().header.add_child(folium.Element(f"<style>{web_asset('explore-print.css')}</style>"), name="dg_print")
    script = web_asset("explore-print.js").replace("__DG_MAP__", m.get_name())
    script = script.replace("__DG_BOUNDS__", json.dumps([[b[1], b[0]], [b[3], b[2]]]))
    layout = MacroElement()
    layout._template = Template("{% macro script(this, kwargs) %}" + script + "{% endmacro %}")
    m.add_child(layout, name="dg_print_layout")


def _village_layer(result: CircleResult, name: str | None = None, overlay: bool = True, show: bool = True) -> Any:
    import folium

    c = result.circle
    return folium.GeoJson(
        village_features(result),
        name=name or f"村(社区) villages — {c.name_zh}",
        style_function=_style,
        highlight_function=lambda _: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "share"], aliases=["", ""], labels=False),
        popup=folium.GeoJsonPopup(fields=list(POPUP_FIELDS), aliases=list(POPUP_FIELDS.values()), localize=False),
        overlay=overlay,
        show=show,
    )


def explore_map(
    result: CircleResult,
    m: folium.Map | None = None,
    tiles: str | None = None,
    attr: str | None = None,
    facilities: bool = True,
    layer_control: bool = True,
    offline: bool = True,
    **map_kwargs: Any,
) -> folium.Map:
    """Return a :class:`folium.Map` of a circle's villages (see the module notes).

    Parameters
    ----------
    result
        The circle's result (:func:`dgcoverage.run_circle`).
    m
        A map to draw on (its own tiles and layers stay); ``None``: a new map fitted to the villages.
    tiles, attr
        Base tiles of a new map (``None``: none, offline); a folium tile name or a URL with its attribution.
    facilities
        Draw the facilities as dots.
    layer_control
        Add a layer control (it lists layers added later too).
    offline
        Inline the package's Leaflet and drop folium's CDN links (the default); ``False``: folium's CDN links.
    **map_kwargs
        Passed to :class:`folium.Map` (``width``, ``height``, ``zoom_start`` ...).

    Returns
    -------
    folium.Map
    """
    import folium

    if m is None:
        m = _new_map([result], tiles, attr, **map_kwargs)
    if offline:
        make_offline(m)
    _village_layer(result).add_to(m)
    if facilities and len(result.facilities):
        group = folium.FeatureGroup(name="设施 facilities")
        fac = result.facilities
        names = fac["name"].astype(str).tolist() if "name" in fac else [""] * len(fac)
        for x, y, name in zip(fac.geometry.x, fac.geometry.y, names):
            folium.CircleMarker(
                [y, x],
                radius=3,
                color="#ffffff",
                weight=1,
                fill=True,
                fill_color=MARK_COLOURS["facility"],
                fill_opacity=1,
                tooltip=escape(name),
            ).add_to(group)
        group.add_to(m)
    m.get_root().html.add_child(folium.Element(legend_html(result)))
    _print_layout(m, [result])
    if layer_control:
        folium.LayerControl(collapsed=False).add_to(m)
    return m


def explore_overview(
    results: Sequence[CircleResult],
    names: Sequence[str] | None = None,
    tiles: str | None = None,
    attr: str | None = None,
    offline: bool = True,
    **map_kwargs: Any,
) -> folium.Map:
    """Return a :class:`folium.Map` of several circles: each circle's villages one base layer, with its legend.

    The circles of a study (``Study.explore(results)``), or the circles of a batch's regions, as radio choices
    of the layer control (one choropleth at a time, as the overview page's circle switch); the legend shown is
    the chosen circle's (``dgcoverage/data/web/explore-overview.js`` switches it).  Each layer has the
    classes, colours, outlines and popups of :func:`explore_map`.

    Parameters
    ----------
    results
        The circles' results, in the order of the switch (the first is shown).
    names
        The layer names (default ``"<name_zh> <name_en>"`` of each circle; give them for a batch's regions,
        e.g. ``"松山湖 — 15分钟健身圈"``); they must be distinct.
    tiles, attr
        Base tiles under every layer (``None``: none, offline), as in :func:`explore_map`.
    offline
        Inline the package's Leaflet (the default); ``False``: folium's CDN links.
    **map_kwargs
        Passed to :class:`folium.Map`.

    Returns
    -------
    folium.Map

    Raises
    ------
    ValueError
        No results, or names not one per result or not distinct.
    """
    import folium
    from branca.element import MacroElement
    from folium.template import Template

    results = list(results)
    if not results:
        raise ValueError("explore_overview: no circle results given (pass the results of run_circle)")
    labels = [f"{r.circle.name_zh} {r.circle.name_en}" for r in results] if names is None else [str(n) for n in names]
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise ValueError(f"explore_overview: give one distinct name per result ({len(results)}), got {labels}")
    m = _new_map(results, None, None, **map_kwargs)
    if tiles is not None:  # under every circle: an overlay, so the radio switches only the circles
        folium.TileLayer(tiles, attr=attr, overlay=True, control=False).add_to(m)
    if offline:
        make_offline(m)
    for k, (res, label) in enumerate(zip(results, labels)):
        _village_layer(res, name=label, overlay=False, show=k == 0).add_to(m)
        m.get_root().html.add_child(folium.Element(legend_html(res, layer=label, hidden=k > 0)))
    switch = MacroElement()
    script = web_asset("explore-overview.js").replace("__DG_MAP__", m.get_name())
    switch._template = Template("{% macro script(this, kwargs) %}" + script + "{% endmacro %}")
    m.add_child(switch, name="dg_legend_switch")
    _print_layout(m, results)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


__all__ = ["POPUP_FIELDS", "explore_map", "explore_overview", "legend_html", "share_text", "village_features"]
