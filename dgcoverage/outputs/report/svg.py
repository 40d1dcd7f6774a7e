"""Small inline SVG graphics of the report: the coverage curve, village and town maps, their legend.

Village shapes are projected once per frame (:func:`make_frame`), simplified and written as integer path data;
each map colours them by covered share in the graded classes of :mod:`.labels` (gaps and unreachable villages
hatched with the patterns of :data:`PATTERNS`, which the document holds once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from .labels import CLASS_COLOURS, CLASS_LABELS, e, finite, pct, share_class, status_rule, txt

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult


def curve_svg(minutes: Sequence[float], share: Sequence[float], limit_min: float, w: int = 520, h: int = 240) -> str:
    """Inline SVG line chart of the coverage curve, with the circle's limit marked."""
    ml, mr, mt, mb = 44, 12, 10, 34
    xmax = max(minutes) or 1
    px = lambda m: ml + (w - ml - mr) * m / xmax  # noqa: E731
    py = lambda s: mt + (h - mt - mb) * (1 - s)  # noqa: E731
    pts = " ".join(f"{px(m):.1f},{py(s):.1f}" for m, s in zip(minutes, share) if finite(s) is not None)
    grid = "".join(
        f"<line x1='{ml}' x2='{w - mr}' y1='{py(v):.1f}' y2='{py(v):.1f}' stroke='#ddd'/>"
        f"<text x='{ml - 4}' y='{py(v) + 4:.1f}' text-anchor='end'>{v:.0%}</text>"
        for v in (0, 0.25, 0.5, 0.75, 1)
    )
    xt = "".join(
        f"<text x='{px(m):.1f}' y='{h - mb + 14}' text-anchor='middle'>{m:g}</text>"
        for m in range(0, int(xmax) + 1, 10)
    )
    lim = (
        f"<line x1='{px(limit_min):.1f}' x2='{px(limit_min):.1f}' y1='{mt}' y2='{h - mb}' stroke='#b2182b' "
        f"stroke-dasharray='4 3'/><text x='{px(limit_min) + 3:.1f}' y='{mt + 12}' fill='#b2182b'>{limit_min:g} "
        "min</text>"
    )
    return (
        f"<svg class='curve' xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' "
        "font-size='11' "
        f"role='img' aria-label='coverage curve'>{grid}{xt}{lim}"
        f"<polyline fill='none' stroke='#2166ac' stroke-width='2' points='{pts}'/>"
        f"<text x='{(w + ml) / 2}' y='{h - 4}' text-anchor='middle'>分钟 minutes</text></svg>"
    )


@dataclass
class Frame:
    """Village shapes of one map frame, projected to SVG units and simplified."""

    width: int
    height: int
    codes: list[str]
    paths: list[str]
    labels: list[tuple[float, float]]
    outline: str
    m_per_unit: float = 0.0  # ground metres per SVG unit (0: unknown, no scale bar)


#: Metres per degree of latitude (110.6 km at the equator, 111.7 km at the poles; 110.7 km at Dongguan): the
#: frames scale longitudes by cos(latitude), so one SVG unit is the same length east-west and north-south.
M_PER_DEG = 110_750.0
#: Strip below a map frame for its scale bar and north arrow (SVG units), so they never cover a village.
FURNITURE_H = 22


def _ring_d(coords: np.ndarray) -> str:
    xy = np.rint(coords).astype(np.int64)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    xy = xy[keep]
    if len(xy) < 3:
        return ""
    flat = " ".join(f"{x} {y}" for x, y in xy[:-1])
    return f"M{flat}Z"


def _geom_d(geom: Any) -> str:
    """SVG path data of a (multi)polygon already in SVG units (rings closed, integer coordinates)."""
    if geom is None or geom.is_empty:
        return ""
    parts = getattr(geom, "geoms", [geom])
    out = []
    for poly in parts:
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        out.append(_ring_d(np.asarray(poly.exterior.coords)[:, :2]))
        out.extend(_ring_d(np.asarray(r.coords)[:, :2]) for r in poly.interiors)
    return "".join(out)


def _projector(
    bounds: Sequence[float], width: int, height: int, pad: int = 6
) -> tuple[Callable[[Any], Any], int, int, float]:
    """Return a lon/lat → SVG transform, the frame's width and height and its scale (units per degree).

    Longitudes are scaled by cos(latitude), so a unit is as long east-west as north-south.
    """
    x0, y0, x1, y1 = bounds
    k = math.cos(math.radians((y0 + y1) / 2))
    dx, dy = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    s = min((width - 2 * pad) / dx, (height - 2 * pad) / dy)
    w, h = int(math.ceil(dx * s + 2 * pad)), int(math.ceil(dy * s + 2 * pad))

    def fn(xy: Any) -> Any:
        return np.column_stack([pad + (xy[:, 0] - x0) * k * s, pad + (y1 - xy[:, 1]) * s])

    return fn, w, h, s


def make_frame(villages: Any, width: int, height: int, tolerance: float = 0.8) -> Frame:
    """Project and simplify the villages of a map frame (GeoDataFrame in EPSG:4326)."""
    geoms = villages.geometry.to_numpy()
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes = villages["code"].astype(str).tolist()
    if not has.any():
        return Frame(width, height // 3, codes, [""] * len(codes), [(0.0, 0.0)] * len(codes), "")
    fn, w, h, scale = _projector(shapely.total_bounds(geoms[has]), width, height)
    proj = np.full(len(geoms), None, dtype=object)
    proj[has] = shapely.transform(geoms[has], fn)  # one affine map over every vertex
    simple = shapely.simplify(proj, tolerance, preserve_topology=True)
    spots = shapely.point_on_surface(proj)
    labels = [(float(x), float(y)) for x, y in zip(shapely.get_x(spots), shapely.get_y(spots))]
    outline_geom = shapely.simplify(without_slivers(shapely.union_all(shapely.make_valid(proj[has]))), tolerance)
    paths = [_geom_d(g) for g in simple]
    return Frame(w, h, codes, paths, labels, _geom_d(outline_geom), M_PER_DEG / scale)


def _nice_length(max_m: float) -> float:
    """Return the longest round length (1, 2 or 5 × 10^k metres) not over ``max_m``."""
    k = 10 ** math.floor(math.log10(max(max_m, 1e-9)))
    return max(m * k for m in (1, 2, 5) if m * k <= max_m)


def map_furniture(frame: Frame) -> str:
    """Scale bar (left) and north arrow (right) in the strip of :data:`FURNITURE_H` units below the frame.

    The bar is a round length (1, 2 or 5 × 10^k m) of at most a quarter of the frame's width, in two halves
    (black, white) and labelled ``0`` and its length; north is up (the frames are not rotated).
    """
    if frame.m_per_unit <= 0:
        return ""
    length = _nice_length(frame.width * 0.25 * frame.m_per_unit)
    w, x0, y = length / frame.m_per_unit, 8.0, frame.height + FURNITURE_H - 6
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    xn = frame.width - 10
    return (
        f"<g class='scale' aria-label='scale bar {text}'><rect x='{x0:.1f}' y='{y - 4}' width='{w / 2:.1f}' "
        f"height='4' fill='#111'/><rect x='{x0 + w / 2:.1f}' y='{y - 4}' width='{w / 2:.1f}' height='4' fill='#fff' "
        f"stroke='#111' stroke-width='.8'/><text x='{x0:.1f}' y='{y - 6}'>0</text>"
        f"<text x='{x0 + w:.1f}' y='{y - 6}'>{text}</text></g>"
        f"<g class='north' aria-label='north'><path d='M{xn} {y - 14}L{xn + 5} {y}L{xn} {y - 4}L{xn - 5} {y}Z' "
        f"fill='#111'/><text x='{xn - 12}' y='{y - 2}'>N</text></g>"
    )


def without_slivers(geom: Any, frac: float = 0.01) -> Any:
    """Drop the hairline holes a union of village areas keeps where neighbours leave gaps (holes < ``frac``)."""
    if geom is None or geom.is_empty:
        return geom
    polys = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon":
            continue
        outer = shapely.Polygon(poly.exterior)
        holes = [r for r in poly.interiors if shapely.Polygon(r).area > frac * outer.area]
        polys.append(shapely.Polygon(poly.exterior, holes))
    return shapely.MultiPolygon(polys) if len(polys) != 1 else polys[0]


def fill_class(share: Any, status: str) -> str:
    """CSS class of a village's fill: covered-share class, hatched gap/unreachable, grey no data."""
    if status == "gap":
        return "hg"
    if status == "unreachable":
        return "hu"
    k = share_class(share)
    return "nd" if k < 0 or status == "no_data" else f"c{k}"


def village_map_svg(
    frame: Frame,
    villages: pd.DataFrame,
    numbers: bool = True,
    titles: bool = True,
    label: str = "",
) -> str:
    """One small map: the frame's villages coloured by covered share, with numbers keyed to the village table.

    Parameters
    ----------
    frame
        Shapes from :func:`make_frame` (same row order as ``villages``).
    villages
        The circle's village rows (``name``, ``covered_share``, ``status``, ``status_zh``).
    numbers
        Write each village's row number (1…) on it.
    titles
        Give each village a hover title (name, share, status).
    label
        The map's accessible name.

    Returns
    -------
    str
        An ``<svg>`` element (every name escaped).
    """
    body = []
    names = villages["name"].tolist()
    shares = villages["covered_share"].tolist()
    statuses = villages["status"].astype(str).tolist()
    zh = villages["status_zh"].tolist() if "status_zh" in villages else statuses
    for i, d in enumerate(frame.paths):
        if not d:
            continue
        tip = f"<title>{txt(names[i])} {pct(shares[i], 0)} {txt(zh[i])}</title>" if titles else ""
        body.append(f"<path class='{fill_class(shares[i], statuses[i])}' d='{d}'>{tip}</path>")
    if frame.outline:
        body.append(f"<path class='ol' d='{frame.outline}'/>")
    if numbers:
        for i, (x, y) in enumerate(frame.labels):
            if frame.paths[i]:
                dark = " class='w'" if fill_class(shares[i], statuses[i]) == "c3" else ""
                body.append(f"<text x='{x:.0f}' y='{y + 3:.0f}'{dark}>{i + 1}</text>")
    furniture = map_furniture(frame)
    height = frame.height + (FURNITURE_H if furniture else 0)
    return (
        f"<svg class='vmap' viewBox='0 0 {frame.width} {height}' xmlns='http://www.w3.org/2000/svg' "
        f"role='img' aria-label='{e(label)}'>{''.join(body)}{furniture}</svg>"
    )


PATTERNS = (
    "<svg class='defs' width='0' height='0' aria-hidden='true'><defs>"
    f"<pattern id='pg' width='6' height='6' patternUnits='userSpaceOnUse' patternTransform='rotate(45)'>"
    f"<rect width='6' height='6' fill='{CLASS_COLOURS[0]}'/><line x1='0' y1='0' x2='0' y2='6' stroke='#444' "
    "stroke-width='2'/></pattern>"
    "<pattern id='pu' width='6' height='6' patternUnits='userSpaceOnUse'>"
    "<rect width='6' height='6' fill='#f0f0f0'/><path d='M0 0L6 6M6 0L0 6' stroke='#444' stroke-width='1'/>"
    "</pattern></defs></svg>"
)


def _swatch(cls: str) -> str:
    return (
        f"<svg class='sw' viewBox='0 0 14 14' width='14' height='14'><rect class='{cls}' width='14' height='14'/></svg>"
    )


def legend_html(results: Sequence[CircleResult]) -> str:
    """Legend of the small maps: the share classes, the status marks and the 达标 rule."""
    items = [f"<span>{_swatch(f'c{k}')} {e(lab)}</span>" for k, lab in enumerate(CLASS_LABELS)]
    items += [
        f"<span>{_swatch('hg')} 服务盲区 gap (nobody within the limit)</span>",
        f"<span>{_swatch('hu')} 路网不可达 unreachable</span>",
        f"<span>{_swatch('nd')} 无数据 no data</span>",
    ]
    return (
        "<div class='legend'><b>村(社区)覆盖率 share of a village's people within the limit:</b> "
        + " ".join(items)
        + f"<br><small>{e(status_rule(results))}</small></div>"
    )


def town_multiples(results: Sequence[CircleResult]) -> list[str]:
    """Four small maps of the towns coloured by population covered (one per circle): the comparison at a glance."""
    import geopandas as gpd

    v = results[0].villages
    geoms = v.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes = v["town_code"].astype(str).to_numpy()
    towns = sorted(set(codes[ok]))
    if not towns:
        return []
    shapes = [without_slivers(shapely.union_all(shapely.make_valid(geoms[ok & (codes == t)]))) for t in towns]
    frame = make_frame(gpd.GeoDataFrame({"code": towns}, geometry=shapes, crs=v.crs), 300, 260, tolerance=0.6)
    out = ["<h3>镇街人口覆盖率 towns by population covered</h3><div class='multiples'>"]
    for r in results:
        by = {str(t["town_code"]): t for t in r.towns.to_dict("records")}
        share = [finite(by.get(t, {}).get("pass_rate_population")) for t in towns]
        light = pd.DataFrame(
            {
                "name": [str(by.get(t, {}).get("town_name", t)) for t in towns],
                "covered_share": [np.nan if x is None else x for x in share],
                "status": ["no_data" if x is None else "partial" for x in share],
                "status_zh": ["" for _ in towns],
            }
        )
        svg = village_map_svg(frame, light, numbers=False, label=f"{r.circle.id} towns")
        res = r.summary["results"]
        out.append(
            f"<figure><figcaption>{e(r.circle.name_zh)} — {pct(res.get('covered_share'))}</figcaption>{svg}</figure>"
        )
    out.append("</div>")
    return out
