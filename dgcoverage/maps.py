r"""Interactive maps (folium/Leaflet) that open with no internet.

``maps/<circle>.html``: town boundaries, villages coloured by status, facilities,
the street-following service area and the populated gap areas, with a legend,
a layer switcher and Chinese/English popups.  ``maps/index.html``: the circles
side by side as layers, with a per-town choropleth of village pass rates.

Offline: Leaflet 1.9.4 (JS, CSS, layer icons) is inlined from
``dgcoverage/data/vendor``; folium's CDN defaults (jQuery, Bootstrap,
awesome-markers, Font Awesome) are removed.  Base tiles are optional layers:
"blank" (default, no requests), OpenStreetMap (WGS84) and Gaode/AutoNavi
(GCJ-02).  Choosing Gaode redraws the overlays shifted to GCJ-02 in the
browser so they line up with its tiles.

Safety: every user-supplied string (village, facility and town names,
reasons, file names, circle names and the page title) is passed through
:func:`html.escape` before it reaches the page; popups/tooltips are built in
Python from escaped text only.  The layer data is embedded as JSON with every
``<`` written ``\u003c`` (:func:`_json_script`), so no string can close the
``<script>`` element.  Layer keys become attribute *names* (``data-<key>``)
and must match ``[a-z0-9_-]+`` (:func:`html_key` raises ``ValueError``
otherwise; circle ids are ``[a-z0-9_]+``).  Links to the circle pages are
relative, percent-encoded file names (:func:`page_href`), never a URL scheme.

Display geometry is simplified (20 m) and rounded to 6 decimals.

Shared outlines: :func:`write_maps` writes the village and town outlines once per maps folder, as
``outlines.js`` (:data:`OUTLINES_JS`, a script defining ``window.DG_OUTLINES``), and every page it
writes loads it with a relative ``<script src>`` (works from ``file://``, where ``fetch`` is blocked)
and embeds only the per-page properties (status, shares, popups) keyed by village/town code, joined
to the shared geometry in the browser.  Pages rendered on their own (:func:`circle_map_html`,
:func:`index_map_html` without ``outlines=True``) stay self-contained.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from .coverage import STATUS_ZH, STATUSES
from .io import read_output_csv, write_text

if TYPE_CHECKING:  # pragma: no cover
    from .study import CircleResult, Study

VENDOR = Path(__file__).parent / "data" / "vendor" / "leaflet-1.9.4"
SIMPLIFY_M = 20.0
OUTLINES_JS = "outlines.js"  # shared village/town outlines, written beside the pages by write_maps
STATUS_COLOURS = {
    "covered": "#1a9850",
    "partial": "#fdae61",
    "gap": "#d73027",
    "unreachable": "#7b3294",
    "no_data": "#bdbdbd",
}
STATUS_EN = {
    "covered": "covered",
    "partial": "partial",
    "gap": "gap",
    "unreachable": "unreachable",
    "no_data": "no data",
}
RATE_BINS = [(0.2, "#d73027"), (0.4, "#fc8d59"), (0.6, "#fee08b"), (0.8, "#91cf60"), (1.01, "#1a9850")]
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
GAODE_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"

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


def _fmt(v: Any, pct: bool = False, nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or (not isinstance(v, str) and pd.isna(v)):
        return "–"
    if pct:
        return f"{float(v):.1%}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return f"{float(v):,.{nd}f}"


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """Popup table; labels are ours, values must already be escaped."""
    return "<table class='dg-t'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _display(geoms: Sequence[Any], crs: Any, tol_m: float = SIMPLIFY_M) -> list[Any]:
    """Simplify in the projected CRS, back to WGS84, coordinates rounded to 6 decimals."""
    s = gpd.GeoSeries(list(geoms), crs=4326)
    ok = s.notna() & ~s.is_empty
    out: list[Any] = [None] * len(s)
    if ok.any():
        p = s[ok].to_crs(crs).simplify(tol_m, preserve_topology=True).to_crs(4326)
        p = shapely.transform(p.to_numpy(), lambda c: np.round(c, 6))
        for i, g in zip(np.flatnonzero(ok.to_numpy()), p):
            out[i] = g
    return out


def _fc(geoms: Sequence[Any], props: Sequence[dict[str, Any]]) -> dict[str, Any]:
    feats = [
        {"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
        for g, p in zip(geoms, props)
        if g is not None and not g.is_empty
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


def _fc_shared(keys: Sequence[str], drawn: Sequence[bool], props: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Features without geometry, ``id`` = key into the shared outlines (only those that have a shape)."""
    feats = [
        {"type": "Feature", "id": k, "properties": p, "geometry": None} for k, ok, p in zip(keys, drawn, props) if ok
    ]
    return {"type": "FeatureCollection", "features": feats}


def _outline_fc(
    study: Study, geoms: gpd.GeoSeries, codes: Sequence[Any], props: Sequence[dict[str, Any]], outlines: bool
) -> dict[str, Any]:
    """Embed the displayed geometry, or (``outlines``) only the keys into the shared ``outlines.js``."""
    if outlines:
        return _fc_shared(_keys(codes), _has_geom(list(geoms)), props)
    return _fc(_display(geoms, study.graph.crs), props)


def _towns_drawn(study: Study) -> pd.DataFrame:
    return study.towns[study.towns["has_polygon"]].reset_index(drop=True)


def _pairs(keys: Sequence[str], geoms: Sequence[Any]) -> list[list[Any]]:
    return [[k, json.loads(shapely.to_geojson(g))] for k, g in zip(keys, geoms) if g is not None and not g.is_empty]


def outlines_js(study: Study) -> str:
    r"""Return the shared outlines script: ``window.DG_OUTLINES = {villages: [[key, geometry], ...], towns: ...}``.

    Geometry is displayed as in the pages (simplified :data:`SIMPLIFY_M` m, 6 decimals); keys are the
    village and town codes (:func:`_keys`).  The JSON is written with ``<``, U+2028 and U+2029 as
    ``\u`` escapes, so it is a valid script literal that no string can break out of; it is a list of
    pairs (not an object), so no code can touch ``__proto__``.
    """
    t = _towns_drawn(study)
    data = {
        "villages": _pairs(_keys(study.villages["code"]), _display(study.villages.geometry, study.graph.crs)),
        "towns": _pairs(_keys(t["town_code"]), _display(t.geometry, study.graph.crs)),
    }
    txt = _json_script(data).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (
        "/* dgcoverage: village and town outlines shared by the map pages in this folder */\nwindow.DG_OUTLINES = "
        + txt
        + ";\n"
    )


# ---------------------------------------------------------------- layers


def towns_layer(study: Study, towns_table: pd.DataFrame | None = None, outlines: bool = False) -> dict[str, Any]:
    """Town boundaries; with a town table, each town carries its pass rates (for the choropleth).

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.
    """
    t = _towns_drawn(study)
    rates = towns_table.set_index("town_code") if towns_table is not None else None
    props = []
    for _, r in t.iterrows():
        name = e(str(r["town_name"]))
        p: dict[str, Any] = {"tip": f"{name} ({e(str(r['town_code']))})"}
        if rates is not None and r["town_code"] in rates.index:
            q = rates.loc[r["town_code"]]
            rate = q["pass_rate_villages"]
            p["rate"] = None if pd.isna(rate) else round(float(rate), 4)
            p["pop"] = _table(
                [
                    ("镇街 town", name),
                    ("代码 code", e(str(r["town_code"]))),
                    ("村(社区)达标率 village pass rate", _fmt(rate, pct=True)),
                    ("人口覆盖率 population covered", _fmt(q["pass_rate_population"], pct=True)),
                    (
                        "达标/有数据 covered / with data",
                        f"{int(q['villages_covered'])} / {int(q['villages_with_data'])}",
                    ),
                    ("人口 population", _fmt(float(q["population"]), nd=0)),
                ]
            )
            p["tip"] += f"：达标率 {_fmt(rate, pct=True)}"
        props.append(p)
    return _outline_fc(study, t.geometry, t["town_code"], props, outlines)


def villages_layer(study: Study, result: CircleResult, outlines: bool = False) -> dict[str, Any]:
    """Villages coloured by status, with popups (name, town, population, covered share, times).

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.
    """
    vt = result.villages
    props = []
    for i in range(len(vt)):
        r = vt.iloc[i]
        st = str(r["status"])
        name = e(str(r["name"]))
        rows = [
            ("村(社区) village", f"{name} <span class='dg-id'>{e(str(r['code']))}</span>"),
            ("镇街 town", e(str(r["town_name"]))),
            ("人口 population", _fmt(float(r["population"]), nd=0)),
            ("覆盖率 covered share", _fmt(r["covered_share"], pct=True)),
            ("中位时间 median time (min)", _fmt(r["median_time_min"])),
            ("90分位时间 p90 time (min)", _fmt(r["p90_time_min"])),
            ("中心点时间 centre time (min)", _fmt(r["centre_time_min"])),
            ("辖区内设施 facilities inside", _fmt(int(r["facilities_inside"]))),
            ("状态 status", f"{STATUS_ZH.get(st, e(st))} {e(st)}"),
        ]
        if r["reason"]:
            rows.append(("说明 reason", e(str(r["reason"]))))
        props.append(
            {
                "s": st,
                "tip": f"{name}（{e(str(r['town_name']))}）{STATUS_ZH.get(st, '')} "
                f"{_fmt(r['covered_share'], pct=True)}",
                "pop": _table(rows),
            }
        )
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def supply_layer(study: Study, result: CircleResult, outlines: bool = False) -> dict[str, Any] | None:
    """Draw villages by access-weighted supply (2SFCA) as a share of the standard; ``None`` without a standard.

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.
    """
    sup = result.summary.get("supply")
    vt = result.villages
    if not sup or "access_supply" not in vt or not sup.get("target"):
        return None
    target = float(sup["target"])
    unit = e(str(sup.get("ratio_unit", "")))
    props = []
    for name, town, acc in zip(vt["name"], vt["town_name"], vt["access_supply"]):
        ok = acc is not None and not pd.isna(acc)
        rate = round(min(float(acc) / target, 1.0), 4) if ok else None
        tip = f"{e(str(name))}（{e(str(town))}）可达供给 {_fmt(acc, nd=2)} / {target:g} {unit}"
        rows = [
            ("村(社区) village", e(str(name))),
            ("可达供给 access-weighted supply (2SFCA)", f"{_fmt(acc, nd=2)} {unit}"),
            ("标准 standard", f"{target:g} {unit} ({e(str(sup.get('source', '')))})"),
        ]
        props.append({"rate": rate, "tip": tip, "pop": _table(rows)})
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def facilities_layer(result: CircleResult) -> dict[str, Any]:
    """Draw the facility points with popups (name, kind, address, snap distance, village)."""
    f = result.facilities
    geoms = shapely.transform(f.geometry.to_numpy(), lambda c: np.round(c, 6))
    props = []
    for i in range(len(f)):
        r = f.iloc[i]
        name = e(str(r.get("name", "")))
        rows = [
            ("设施 facility", name),
            ("编号 id", e(str(r.get("facility_id", "")))),
            ("类型 kind", e(str(r.get("kind", "")))),
            ("来源 source", e(str(r.get("source", "")))),
            ("在路网上 on network", "是 yes" if result.facility_node[i] >= 0 else "否 no (> max snap)"),
        ]
        props.append({"tip": name, "pop": _table(rows), "on": bool(result.facility_node[i] >= 0)})
    return _fc(list(geoms), props)


def candidates_layer(cands: pd.DataFrame) -> dict[str, Any]:
    """Ranked candidate sites (``candidates.csv`` of ``dgcoverage site``), as numbered points."""
    geoms = list(shapely.points(np.round(cands["lon"].to_numpy(float), 6), np.round(cands["lat"].to_numpy(float), 6)))
    props = []
    for _, r in cands.iterrows():
        rows = [
            ("排名 rank", _fmt(int(r["rank"]))),
            ("站点 site", e(str(r.get("site_id", "")))),
            ("镇街 town", e(str(r.get("town_name", "")))),
            ("道路 road", e(str(r.get("road_name", "")))),
            ("新增覆盖人口 new people", _fmt(float(r.get("new_population", np.nan)), nd=0)),
            ("累计覆盖率 cumulative share", _fmt(r.get("cum_covered_share", np.nan), pct=True)),
            ("新达标村(社区) villages newly covered", e(str(r.get("new_villages_covered_names", "")))),
            ("GCJ-02 (高德)", f"{float(r['lon_gcj02']):.6f}, {float(r['lat_gcj02']):.6f}"),
        ]
        props.append(
            {
                "tip": f"候选 #{int(r['rank'])} +{_fmt(float(r.get('new_population', np.nan)), nd=0)} 人",
                "pop": _table(rows),
                "rank": int(r["rank"]),
            }
        )
    return _fc(geoms, props)


def read_candidates(out_dir: str | Path, circle_id: str) -> pd.DataFrame | None:
    """Read the ranked sites written by ``dgcoverage site`` for a circle, or ``None`` if there are none."""
    return read_output_csv(Path(out_dir) / circle_id / "candidates.csv")


def service_area_layer(study: Study, sa: gpd.GeoDataFrame, result: CircleResult) -> dict[str, Any]:
    """Draw the service area (reached streets plus the affordable walk), named after its circle."""
    c = result.circle
    props = [
        {
            "tip": f"{e(c.name_zh)} 服务范围 service area ({c.minutes:g} min)",
            "pop": _table(
                [
                    ("圈 circle", f"{e(c.name_zh)} <span class='dg-id'>{e(c.id)}</span>"),
                    ("面积 area (km²)", _fmt(float(r["area_km2"]), nd=1)),
                ]
            ),
        }
        for _, r in sa.iterrows()
    ]
    return _fc(_display(sa.geometry, study.graph.crs), props)


def gaps_layer(study: Study, gp: gpd.GeoDataFrame) -> dict[str, Any]:
    """Draw the gap areas: populated cells beyond the limit, per village, with their people."""
    props = []
    for _, r in gp.iterrows():
        name = e(str(r["name"]))
        rows = [
            ("村(社区) village", f"{name} <span class='dg-id'>{e(str(r['code']))}</span>"),
            ("镇街 town", e(str(r["town_name"]))),
            ("盲区人口 population beyond limit", _fmt(float(r["population"]), nd=0)),
            ("超时 beyond limit", _fmt(float(r["population_beyond_limit"]), nd=0)),
            ("路网不可达 unreachable", _fmt(float(r["population_unreachable"]), nd=0)),
            ("离网 off network", _fmt(float(r["population_off_network"]), nd=0)),
        ]
        props.append(
            {
                "tip": f"盲区 gap：{name} {_fmt(float(r['population']), nd=0)} 人",
                "pop": _table(rows),
                "n": round(float(r["population"]), 1),
            }
        )
    return _fc(_display(gp.geometry, study.graph.crs), props)


# ---------------------------------------------------------------- page


_JS = r"""
(function (map) {
  var DG = JSON.parse(document.getElementById('dg-data').textContent);
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
  var STATUS = DG.status_colours;
  function rateColour(v) { if (v === null || v === undefined) return '#bdbdbd';
    for (var i = 0; i < DG.rate_bins.length; i++) { if (v < DG.rate_bins[i][0]) return DG.rate_bins[i][1]; }
    return '#1a9850'; }
  var STYLES = {
    towns: function () { return {color: '#333', weight: 1.5, fill: false, dashArray: '4 3'}; },
    choropleth: function (f) {
      return {color: '#555', weight: 1, fillColor: rateColour(f.properties.rate), fillOpacity: 0.75}; },
    villages: function (f) {
      return {color: '#666', weight: 0.6, fillColor: STATUS[f.properties.s] || '#bdbdbd', fillOpacity: 0.6}; },
    service: function () { return {color: '#2166ac', weight: 1, fillColor: '#4393c3', fillOpacity: 0.25}; },
    gaps: function () { return {color: '#b2182b', weight: 1, fillColor: '#d6604d', fillOpacity: 0.55}; },
    // GeoJSON's style also restyles circle markers, so points carry their full look here
    points: function (f) { if (f.properties.rank !== undefined) {
        return {color: '#000', weight: 1.5, fillColor: '#ff7f00', fillOpacity: 0.95}; }
      return {color: '#fff', weight: 1, fillColor: f.properties.on === false ? '#999' : '#08306b', fillOpacity: 0.95}; }
  };
  // layers with `outlines` carry keys only: join them to the shared geometry of outlines.js (once)
  var joined = {}, unmatched = 0;
  function warnOutlines(state, zh, en) {
    document.getElementById('dg-counts').setAttribute('data-outlines', state);
    var warn = document.createElement('div'); warn.className = 'dg-syn'; warn.textContent = zh + ' — ' + en;
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
    warnOutlines('missing', '缺少 outlines.js：村(社区)/镇街边界未显示', 'outlines.js (village and town outlines) ' +
      'was not found beside this page; keep the maps folder together.');
  }
  var groups = {}, overlays = {};
  DG.layers.forEach(function (s) { groups[s.key] = L.featureGroup(); overlays[s.label] = groups[s.key];
    if (s.show) groups[s.key].addTo(map); });
  function build() {
    DG.layers.forEach(function (s) {
      var g = groups[s.key]; g.clearLayers();
      var lyr = L.geoJSON(layerData(s), {
        coordsToLatLng: c2ll,
        style: STYLES[s.style],
        pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: f.properties.rank !== undefined ? 7 : 5,
          color: '#fff', weight: 1,
          fillColor: f.properties.on === false ? '#999' : '#08306b', fillOpacity: 0.95}); },
        onEachFeature: function (f, l) {
          if (f.properties.tip) l.bindTooltip(f.properties.tip, {sticky: true});
          if (f.properties.pop) l.bindPopup(f.properties.pop, {maxWidth: 360});
        }
      });
      g.addLayer(lyr);
    });
    var el = document.getElementById('dg-counts');
    DG.layers.forEach(function (s) { var n = 0; groups[s.key].eachLayer(function (l) { n += l.getLayers().length; });
      el.setAttribute('data-' + s.key, String(n)); });
    el.setAttribute('data-crs', gcjOn ? 'gcj02' : 'wgs84');
    el.setAttribute('data-ready', '1');
  }
  var blank = L.layerGroup().addTo(map);
  var bases = {};
  bases['空白底图 blank (offline)'] = blank;
  bases['OpenStreetMap (WGS84, online)'] = L.tileLayer(DG.osm_url, {maxZoom: 19,
    attribution: '&copy; OpenStreetMap contributors'});
  var gaode = L.tileLayer(DG.gaode_url, {subdomains: '1234', maxZoom: 18,
    attribution: '&copy; 高德地图 AutoNavi (GCJ-02)'});
  bases['高德 Gaode (GCJ-02, online)'] = gaode;
  L.control.layers(bases, overlays, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  map.on('baselayerchange', function (ev) { var want = (ev.layer === gaode);
    if (want !== gcjOn) { gcjOn = want; build(); } });
  build();
  if (unmatched && window.DG_OUTLINES) {
    warnOutlines('mismatch', 'outlines.js 与本页不符：' + unmatched + ' 个边界缺失', 'outlines.js beside this page ' +
      'comes from other inputs: ' + unmatched + ' outlines are missing; write the maps folder again.');
  }
  var b = L.latLngBounds([]); DG.layers.forEach(function (s) { if (s.fit) b.extend(groups[s.key].getBounds()); });
  if (b.isValid()) map.fitBounds(b, {padding: [10, 10]});
  if (location.hash.indexOf('dg-open') >= 0) {  // test hook: show every tooltip and one popup per layer
    DG.layers.forEach(function (s) { var first = true; groups[s.key].eachLayer(function (g) { g.eachLayer(function (l) {
      if (l.getTooltip()) { l.getTooltip().options.permanent = true; l.openTooltip(); }
      if (first && l.getPopup()) { first = false; l.openPopup(); } }); }); });
    document.getElementById('dg-counts').setAttribute('data-opened', '1');
  }
})(MAP);
"""

_CSS = """
.dg-panel{position:absolute;z-index:1000;background:rgba(255,255,255,.94);padding:8px 10px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.4 "Microsoft YaHei","PingFang SC",sans-serif;max-width:380px}
#dg-note{left:10px;bottom:24px} #dg-legend{right:10px;bottom:24px}
#dg-title{left:50px;top:10px;font-size:14px;font-weight:bold}
.dg-syn{color:#b2182b;font-weight:bold} .dg-id{color:#777;font-family:monospace}
.dg-sw{display:inline-block;width:14px;height:10px;margin-right:5px;border:1px solid #666;vertical-align:middle}
table.dg-t th{text-align:left;padding-right:8px;font-weight:normal;color:#555} table.dg-t td{font-weight:bold}
.leaflet-container{background:#f4f4f0}
"""


class _Overlay(MacroElement):
    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: str):
        super().__init__()
        self._name = "DgOverlay"
        self.js = js


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
    txt = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return txt.replace("<", "\\u003c")


def render_page(
    title: str,
    layers: list[dict[str, Any]],
    note_html: str,
    legend_html: str,
    centre: tuple[float, float] = (22.95, 113.85),
    outlines_src: str | None = None,
) -> str:
    """Render a self-contained offline Leaflet page (folium figure) with the given overlay layers.

    ``layers``: dicts ``key, label, style, data (GeoJSON), show, fit``; ``title`` and ``label`` are escaped
    here, ``key`` must pass :func:`html_key` (and be unique), ``note_html``/``legend_html`` must already be
    escaped.  The caller's dicts are not modified.  ``outlines_src``: relative URL of the shared
    outlines script (:data:`OUTLINES_JS`), loaded before the map script, for layers with ``outlines``.
    """
    keys = [html_key(s["key"]) for s in layers]
    if len(set(keys)) != len(keys):
        raise ValueError(f"map layer keys must be unique, got {keys}")
    m = folium.Map(location=list(centre), zoom_start=11, tiles=None, control_scale=False, prefer_canvas=False)
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    root.title = e(title)  # folium's template does not escape it
    root.header.add_child(Element(_vendor_head()), name="dg_vendor")
    if outlines_src is not None:
        src = e("./" + quote(outlines_src))
        root.header.add_child(Element(f'<script src="{src}"></script>'), name="dg_outlines")
    layers = [{**s, "label": e(s["label"])} for s in layers]
    data = {
        "layers": layers,
        "status_colours": STATUS_COLOURS,
        "rate_bins": RATE_BINS,
        "osm_url": OSM_URL,
        "gaode_url": GAODE_URL,
    }
    counts_attrs = " ".join(f'data-{s["key"]}=""' for s in layers)
    root.html.add_child(
        Element(
            f'<script type="application/json" id="dg-data">{_json_script(data)}</script>'
            f'<div id="dg-counts" hidden {counts_attrs} data-ready="0"></div>'
            f'<div class="dg-panel" id="dg-title">{e(title)}</div>'
            f'<div class="dg-panel" id="dg-note">{note_html}</div>'
            f'<div class="dg-panel" id="dg-legend">{legend_html}</div>'
        ),
        name="dg_html",
    )
    m.add_child(_Overlay(_JS.replace("MAP", m.get_name())))
    return root.render()


def _note(summaries: Sequence[dict[str, Any]]) -> str:
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
    src = []
    for k, rec in s0.get("inputs", {}).items():
        if isinstance(rec, dict) and "kind" in rec:
            path = f" — <span class='dg-id'>{e(Path(str(rec['path'])).name)}</span>" if rec.get("path") else ""
            src.append(f"<li>{e(str(k))}: {e(str(rec['kind']))}{path}</li>")
    parts.append(
        "<div>数据来源 Data sources:<ul style='margin:2px 0 2px 16px;padding:0'>" + "".join(src) + "</ul>"
        f"synthetic = {str(synthetic).lower()} · dgcoverage {e(str(s0.get('dgcoverage_version', '')))}</div>"
    )
    return "".join(parts)


def _status_legend() -> str:
    return "<b>村(社区)状态 village status</b><br>" + "<br>".join(
        f"<span class='dg-sw' style='background:{STATUS_COLOURS[s]}'></span>{STATUS_ZH[s]} {STATUS_EN[s]}"
        for s in STATUSES
    )


def _rate_legend() -> str:
    lo = 0.0
    rows = []
    for hi, col in RATE_BINS:
        rows.append(f"<span class='dg-sw' style='background:{col}'></span>{lo:.0%}–{min(hi, 1.0):.0%}")
        lo = hi
    return "<b>镇街村(社区)达标率 town pass rate</b><br>" + "<br>".join(rows)


def circle_map_html(
    study: Study,
    result: CircleResult,
    sa: gpd.GeoDataFrame,
    gp: gpd.GeoDataFrame,
    candidates: pd.DataFrame | None = None,
    outlines: bool = False,
) -> str:
    """Render one circle's map (with a ranked candidate-sites layer when ``candidates`` is given).

    ``outlines``: take the village and town outlines from :data:`OUTLINES_JS` beside the page
    (written by :func:`write_maps`) instead of embedding them.
    """
    c = result.circle
    shared = {"outlines": "villages"} if outlines else {}
    layers = [
        {
            "key": "service",
            "label": f"服务范围 service area ({c.minutes:g} min)",
            "style": "service",
            "data": service_area_layer(study, sa, result),
            "show": True,
            "fit": False,
        },
        {
            "key": "villages",
            "label": "村(社区)状态 villages by status",
            "style": "villages",
            "data": villages_layer(study, result, outlines),
            "show": True,
            "fit": True,
            **shared,
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
            2,
            {
                "key": "supply",
                "label": "可达供给/标准 supply within reach vs standard (2SFCA)",
                "style": "choropleth",
                "data": supply,
                "show": False,
                "fit": False,
                **shared,
            },
        )
    if candidates is not None and len(candidates):
        layers.append(
            {
                "key": "candidates",
                "label": f"候选站点 candidate sites (top {len(candidates)})",
                "style": "points",
                "data": candidates_layer(candidates),
                "show": True,
                "fit": False,
            }
        )
    r = result.summary["results"]
    title = f"{c.name_zh} {c.name_en} — {c.minutes:g} 分钟 min, {c.mode} {c.speed_kmh:g} km/h"
    legend = (
        _status_legend()
        + "<br><span class='dg-sw' style='background:#4393c3'></span>服务范围 service area"
        + "<br><span class='dg-sw' style='background:#d6604d'></span>盲区人口 gap area"
        + (
            "<br>可达供给/标准 supply within reach vs standard (layer off by default): "
            + " ".join(f"<span class='dg-sw' style='background:{col}'></span>&lt;{b:.0%}" for b, col in RATE_BINS[:-1])
            + f" <span class='dg-sw' style='background:{RATE_BINS[-1][1]}'></span>≥80%"
            if supply is not None
            else ""
        )
        + "<br><span class='dg-sw' style='background:#08306b;border-radius:7px'></span>设施 facility"
        + (
            "<br><span class='dg-sw' style='background:#ff7f00;border-radius:7px'></span>候选站点 candidate site"
            if candidates is not None and len(candidates)
            else ""
        )
        + f"<hr style='margin:4px 0'>人口覆盖率 population covered {_fmt(r['covered_share'], pct=True)}"
        + f"<br>村(社区)达标率 villages covered {_fmt(r['village_pass_rate'], pct=True)}"
    )
    return render_page(
        title, layers, _note([result.summary]), legend, _centre(study), OUTLINES_JS if outlines else None
    )


def index_map_html(study: Study, results: Sequence[CircleResult], outlines: bool = False) -> str:
    """Overview: per circle a town pass-rate choropleth and the villages by status, as layers.

    ``outlines``: take the outlines from :data:`OUTLINES_JS` beside the page instead of embedding them.
    """
    layers = []
    for k, res in enumerate(results):
        c = res.circle
        layers.append(
            {
                "key": f"towns_{c.id}",
                "label": f"{c.name_zh} 镇街达标率 town pass rate",
                "style": "choropleth",
                "data": towns_layer(study, res.towns, outlines),
                "show": k == 0,
                "fit": k == 0,
                **({"outlines": "towns"} if outlines else {}),
            }
        )
        layers.append(
            {
                "key": f"villages_{c.id}",
                "label": f"{c.name_zh} 村(社区)状态 villages",
                "style": "villages",
                "data": villages_layer(study, res, outlines),
                "show": False,
                "fit": False,
                **({"outlines": "villages"} if outlines else {}),
            }
        )
    links = " · ".join(f"<a href='{page_href(r.circle.id)}'>{e(r.circle.name_zh)}</a>" for r in results)
    legend = _rate_legend() + "<hr style='margin:4px 0'>" + _status_legend() + f"<hr style='margin:4px 0'>{links}"
    return render_page(
        "东莞公共服务圈覆盖 Dongguan public-service circles — overview",
        layers,
        _note([r.summary for r in results]),
        legend,
        _centre(study),
        OUTLINES_JS if outlines else None,
    )


def _centre(study: Study) -> tuple[float, float]:
    b = study.towns[study.towns["has_polygon"]].total_bounds
    return ((b[1] + b[3]) / 2, (b[0] + b[2]) / 2)


def default_maps_dir(out_dir: str | Path, maps_dir: str | Path | None = None) -> Path:
    """Where maps go: ``maps_dir`` if given, ``maps/`` for the default output folder, else ``<out_dir>/maps``."""
    if maps_dir is not None:
        return Path(maps_dir)
    return Path("maps") if Path(out_dir) == Path("data/processed") else Path(out_dir) / "maps"


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
    Returns the pages written (the shared file is not listed).

    When ``out_dir`` holds a circle's ``candidates.csv`` (from ``dgcoverage site``), that
    circle's map gets a ranked candidate-sites layer.
    """
    for res in results:  # ids name the page files and its links: refuse path separators, quotes, schemes
        html_key(res.circle.id)
    d = Path(maps_dir)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for res in results:
        sa, gp = areas[res.circle.id]
        cands = read_candidates(out_dir, res.circle.id) if out_dir is not None else None
        page = circle_map_html(study, res, sa, gp, cands, outlines=True)
        out.append(write_text(page, d / f"{res.circle.id}.html"))
    if index:
        out.append(write_text(index_map_html(study, results, outlines=True), d / "index.html"))
    write_text(outlines_js(study), d / OUTLINES_JS)  # not in the returned list, which names the pages
    return out
