"""Offline notebook maps: folium's CDN scripts and styles replaced by the package's own Leaflet, inlined.

A ``folium.Map`` loads Leaflet, jQuery, Bootstrap, Leaflet.awesome-markers and Font Awesome from CDNs
(``default_js``/``default_css``).  :func:`make_offline` drops those links from the map (and from any plugin
given) and puts Leaflet 1.9.4 (``dgcoverage/data/vendor/leaflet-1.9.4``, the copy the map pages inline) into the
page's head: the script and styles inline, the layer-control and default-marker images as ``data:`` URIs
(``dgcoverage/data/web/explore-icons.js`` points ``L.Icon.Default`` at them).  The rendered HTML then loads
nothing from the network.  jQuery, Bootstrap and the awesome-markers are not vendored: the notebook maps use
none of them (GeoJSON layers, circle markers, popups, tooltips and the layer control are plain Leaflet), and a
plain ``folium.Marker`` uses Leaflet's default icon.  A user layer that needs them (``folium.Icon``, a plugin)
brings its own CDN link, or use ``explore(offline=False)`` for all of folium's CDN defaults.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import TYPE_CHECKING

from .page import VENDOR, web_asset

if TYPE_CHECKING:  # pragma: no cover
    import folium

#: Name of the inlined Leaflet in the figure's head (adding it twice replaces it).
HEAD_NAME = "dgcoverage_leaflet"
#: folium's resources the notebook maps do not use (left out offline); Leaflet's are inlined instead.
UNUSED = (
    "jquery",
    "bootstrap",
    "awesome_markers",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
)


def _png_uri(name: str) -> str:
    return "data:image/png;base64," + base64.b64encode((VENDOR / name).read_bytes()).decode("ascii")


@cache
def leaflet_head() -> str:
    """Return Leaflet 1.9.4 for a page's head, offline: ``<style>`` and ``<script>`` inline, images as data URIs."""
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers-2x.png", "layers.png", "marker-icon.png"):
        css = css.replace(f"url(images/{img})", f"url({_png_uri(img)})")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    icons = web_asset("explore-icons.js")
    for key, img in (
        ("__DG_MARKER_ICON_2X__", "marker-icon-2x.png"),
        ("__DG_MARKER_ICON__", "marker-icon.png"),
        ("__DG_MARKER_SHADOW__", "marker-shadow.png"),
    ):
        icons = icons.replace(key, _png_uri(img))
    return f"<style>{css}</style>\n<script>{js}</script>\n<script>{icons}</script>"


def make_offline(m: folium.Map) -> folium.Map:
    """Make ``m`` load nothing from the network: Leaflet inlined first in the head, folium's CDN links dropped.

    Parameters
    ----------
    m
        The map (calling this twice inlines Leaflet once).

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    import folium

    # instance lists: folium's class lists stay as they are for other maps
    m.default_js = [(k, u) for k, u in m.default_js if k != "leaflet" and k not in UNUSED]
    m.default_css = [(k, u) for k, u in m.default_css if k != "leaflet_css" and k not in UNUSED]
    root = m.get_root()
    root.header.add_child(folium.Element(leaflet_head()), name=HEAD_NAME, index=0)
    return m


__all__ = ["HEAD_NAME", "UNUSED", "leaflet_head", "make_offline"]
