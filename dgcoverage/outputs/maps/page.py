"""The page shell shared by the circle pages and the overview: Leaflet, our script and styles, the sidebar.

Offline: Leaflet 1.9.4 (JS, CSS, layer icons) is inlined from ``dgcoverage/data/vendor``; our own script and
styles (search, table, labels, small multiples, print styles) are ``dgcoverage/data/web/maps.js`` and
``maps.css``, read once and inlined as they are.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ...compute.coverage import STATUS_ZH, STATUSES
from .common import (
    GAODE_URL,
    MARK_COLOURS,
    OSM_URL,
    STATUS_EN,
    SUPPLY_BINS,
    SUPPLY_COLOURS,
    TOWN_BINS,
    YLGNBU,
    e,
    html_key,
    page_href,
)
from .geojson import _json_script

VENDOR = Path(str(resources.files("dgcoverage") / "data" / "vendor" / "leaflet-1.9.4"))
#: Our own browser code (no third-party code): ``maps.js`` (the page script) and ``maps.css``.
WEB = resources.files("dgcoverage") / "data" / "web"


@cache
def web_asset(name: str) -> str:
    """Return the text of one of our browser files (``maps.js``, ``maps.css``), read once.

    Parameters
    ----------
    name
        File name in ``dgcoverage/data/web``.

    Returns
    -------
    str
        The file's text, inlined into the pages as it is.
    """
    return (WEB / name).read_text(encoding="utf-8")


def _vendor_head() -> str:
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers-2x.png", "layers.png"):
        uri = "data:image/png;base64," + base64.b64encode((VENDOR / img).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    return f"<style>{css}</style>\n<script>{js}</script>\n<style>\n{web_asset('maps.css')}</style>"


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
    + _hatch("dg-h-gap", MARK_COLOURS["gap_area"], 5, 1.8)
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
        f"<script>\n{web_asset('maps.js')}</script>\n</body>\n</html>\n"
    )


def undrawn_towns(towns: Any) -> str:
    """Return a legend line naming the towns without a polygon (in the tables and the search, not drawn)."""
    if "has_polygon" not in towns:
        return ""
    names = [str(n) for n in towns.loc[~towns["has_polygon"].astype(bool), "town_name"]]
    if not names:
        return ""
    return (
        f"<div class='dg-rule'>未绘制 not drawn: {e('、'.join(names))} — "
        "边界文件中无独立边界（其土地在相邻镇街的边界内），数字见表格和搜索。"
        "<span lang='en'>No polygon of its own in the boundary file (its land lies inside "
        "neighbouring towns); its numbers are in the table and the search.</span></div>"
    )


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


def _nav(
    circles: Sequence[tuple[str, str]],
    here: str | None,
    index: bool,
    report_href: str | None,
    scenarios: Sequence[tuple[str, str]] = (),
) -> str:
    """Return the links of a page: overview, circle pages, report, scenario pages (``scenarios``: id, name)."""
    links = []
    if index:
        links.append("<b>总览 overview</b>" if here is None else "<a href='./index.html'>总览 overview</a>")
    for cid, name in circles:
        links.append(f"<b>{e(name)}</b>" if cid == here else f"<a href='{page_href(cid)}'>{e(name)}</a>")
    if report_href:
        links.append(f"<a href='{e(report_href)}'>报告 report</a>")
    for cid, name in scenarios:  # `dgcoverage scenario` wrote scenario_<circle>.html into this folder
        what = "" if cid == here else f" {e(name)}"
        links.append(
            f"<a class='dg-scen' href='./scenario_{page_href(cid).removeprefix('./')}'>情景 scenario{what} ›</a>"
        )
    return " · ".join(links)
