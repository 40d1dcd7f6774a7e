"""A batch's regions as a :class:`folium.Map` for notebooks: ``explore_batch(outcomes)``.

Each region's outline (an outcome's ``outline``: the union of its towns) is filled by one circle's figure, the
village pass rate or the share of people covered, in the batch page's classes (YlGnBu 4, cut shares); one layer
per circle (a radio switch), a popup per region with both figures of every circle, and the legend. Offline by
default, as :func:`~.explore.explore_map`: Leaflet inline and no base tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from .batch import FIGURES, NO_FIGURE, _value
from .common import TOWN_BINS, YLGNBU, _bin_labels, _fmt

if TYPE_CHECKING:  # pragma: no cover
    import folium


def _colour(v: float | None) -> str:
    if v is None:
        return NO_FIGURE
    return YLGNBU[len(TOWN_BINS) + 1][sum(v >= b for b in TOWN_BINS)]


def explore_batch(
    outcomes: Sequence[dict[str, Any]],
    figure: str = "pass_rate_villages",
    tiles: str | None = None,
    attr: str | None = None,
    offline: bool = True,
) -> folium.Map:
    """Return a folium map of a batch's regions (``run_batch``'s outcomes), one switchable layer per circle.

    Parameters
    ----------
    outcomes
        ``run_batch``'s outcomes (each with ``rows`` and ``outline``).
    figure
        ``pass_rate_villages`` (the village pass rate) or ``pass_rate_population`` (the share of people covered).
    tiles, attr
        A base map (needs the internet), as ``folium.Map``; ``None``: none.
    offline
        Inline Leaflet and drop folium's CDN links (:func:`~.offline.make_offline`).

    Returns
    -------
    folium.Map
        The map.
    """
    import folium

    from ..batch import batch_table

    labels = {col: lab for _, col, lab in FIGURES}
    if figure not in labels:
        raise ValueError(f"figure must be one of {sorted(labels)}, got {figure!r}")
    table = batch_table(outcomes)
    outlines = {o["region"]: o.get("outline") for o in outcomes if o.get("outline")}
    m = folium.Map(tiles=tiles, attr=attr, control_scale=True)
    circles = list(dict.fromkeys(str(c) for c in table["circle"]))
    popups: dict[str, str] = {}
    for rid, rows in table.groupby("region", sort=False):
        lines = "".join(
            f"<tr><td>{escape(str(r['circle']))}</td><td>{_fmt(r['pass_rate_villages'], pct=True)}</td>"
            f"<td>{_fmt(r['pass_rate_population'], pct=True)}</td></tr>"
            for _, r in rows.iterrows()
        )
        popups[str(rid)] = (
            f"<b>{escape(str(rows.iloc[0]['region_name']))}</b> {escape(str(rid))}<table>"
            f"<tr><th>circle</th><th>村 villages</th><th>人 people</th></tr>{lines}</table>"
        )
    bounds: list[float] = []
    for k, cid in enumerate(circles):
        group = folium.FeatureGroup(name=f"{cid}: {labels[figure]}", overlay=False, show=k == 0)
        for _, r in table[table["circle"] == cid].iterrows():
            geom = outlines.get(str(r["region"]))
            if geom is None:
                continue
            fill = _colour(_value(r[figure]))
            folium.GeoJson(
                {"type": "Feature", "properties": {}, "geometry": geom},
                style_function=lambda _, fill=fill: {
                    "color": "#333",
                    "weight": 1.2,
                    "fillColor": fill,
                    "fillOpacity": 0.85,
                },  # fmt: skip
                tooltip=escape(str(r["region_name"])),
                popup=folium.Popup(popups[str(r["region"])], max_width=400),
            ).add_to(group)
            b = folium.GeoJson(geom).get_bounds()
            bounds = b if not bounds else [[min(bounds[0][0], b[0][0]), min(bounds[0][1], b[0][1])],
                                           [max(bounds[1][0], b[1][0]), max(bounds[1][1], b[1][1])]]  # fmt: skip
        group.add_to(m)
    if bounds:
        m.fit_bounds(bounds)
    legend = "".join(
        f"<div><span style='display:inline-block;width:14px;height:10px;background:{c};border:1px solid #666'>"
        f"</span> {lab}</div>"
        for c, lab in zip(YLGNBU[len(TOWN_BINS) + 1], _bin_labels(TOWN_BINS))
    )
    m.get_root().html.add_child(
        folium.Element(
            "<div style='position:fixed;bottom:20px;left:10px;z-index:1000;background:#fff;padding:4px 6px;"
            f"border:1px solid #999;font:12px sans-serif'><b>{escape(labels[figure])}</b>{legend}"
            f"<div><span style='display:inline-block;width:14px;height:10px;background:{NO_FIGURE}'></span> "
            "无数值 no figure</div>"
            + (
                "<div style='color:#b2182b;font-weight:bold'>⚠ SYNTHETIC DATA 合成数据 (some regions)</div>"
                if (table["synthetic"] == "yes").any()
                else ""
            )
            + "</div>"
        )
    )
    folium.LayerControl(collapsed=False).add_to(m)
    if offline:
        from .offline import make_offline

        make_offline(m)
    return m
