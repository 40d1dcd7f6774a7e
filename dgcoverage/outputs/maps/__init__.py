r"""Interactive maps (Leaflet) that open with no internet, for planners.

``maps/<circle>.html``: villages coloured by the share of their people within the limit (graded classes;
the top class is exactly the "达标 covered" rule), status marks for gap / unreachable / no data, the
street-following service area (hatched, on top), the populated gap areas, facilities and ranked candidate
sites; a sidebar with search (village or town name), a town selector, a sortable village table linked to the
map, the legend, the sources and links to the overview, the other circles and ``report.html``.
``maps/index.html``: towns coloured by the **population** covered, one circle at a time (radio), a
town × circle comparison table and four small-multiple maps.

Offline: Leaflet 1.9.4 (JS, CSS, layer icons) is inlined from ``dgcoverage/data/vendor``; everything else
(search, table, labels, small multiples, print styles) is our own script and styles, the browser files
``dgcoverage/data/web/maps.js`` and ``maps.css`` (:func:`~.page.web_asset`), inlined as they are.  Base tiles are
optional layers: "blank" (default, no requests), OpenStreetMap (WGS84) and Gaode/AutoNavi (GCJ-02); a tile
that cannot load shows a visible note.  Choosing Gaode redraws the overlays shifted to GCJ-02 in the browser.

Safety: every user-supplied string (village, facility and town names, reasons, file names, circle names and
the page title) is passed through :func:`html.escape` in Python before it reaches the page; the page script
only concatenates these escaped strings with its own labels and numbers.  The page data is embedded as JSON
with every ``<`` written ``\u003c`` (:func:`~.geojson._json_script`), so no string can close the ``<script>``
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

Modules: :mod:`.common` (colours, classes, keys, links, escaped text and numbers), :mod:`.geojson` (display
geometry, the page data encoder, ``outlines.js``), :mod:`.layers` (the layers' data), :mod:`.page` (the shared
page shell and sidebar), :mod:`.circle` and :mod:`.overview` (the two kinds of page), :mod:`.write` (the folder).
"""

from __future__ import annotations

from .circle import circle_map_html
from .common import (
    GAODE_URL,
    HTML_KEY,
    MARK_COLOURS,
    MISSING_TEXT,
    OSM_URL,
    OUTLINES_JS,
    SHARE_BREAKS,
    SIMPLIFY_M,
    STATUS_EN,
    SUPPLY_BINS,
    SUPPLY_COLOURS,
    TOWN_BINS,
    YLGNBU,
    e,
    html_key,
    page_href,
    share_classes,
)
from .geojson import RawJSON, outlines_js
from .layers import (
    candidate_name,
    candidates_layer,
    circle_info,
    facilities_layer,
    gaps_layer,
    read_candidates,
    service_area_layer,
    supply_layer,
    town_columns,
    towns_layer,
    village_columns,
    villages_layer,
)
from .overview import index_map_html
from .page import VENDOR, render_page, web_asset
from .write import default_maps_dir, report_link, write_maps

__all__ = [
    "GAODE_URL",
    "HTML_KEY",
    "MARK_COLOURS",
    "MISSING_TEXT",
    "OSM_URL",
    "OUTLINES_JS",
    "SHARE_BREAKS",
    "SIMPLIFY_M",
    "STATUS_EN",
    "SUPPLY_BINS",
    "SUPPLY_COLOURS",
    "TOWN_BINS",
    "VENDOR",
    "YLGNBU",
    "RawJSON",
    "candidate_name",
    "candidates_layer",
    "circle_info",
    "circle_map_html",
    "default_maps_dir",
    "e",
    "facilities_layer",
    "gaps_layer",
    "html_key",
    "index_map_html",
    "outlines_js",
    "page_href",
    "read_candidates",
    "render_page",
    "report_link",
    "service_area_layer",
    "share_classes",
    "supply_layer",
    "town_columns",
    "towns_layer",
    "village_columns",
    "villages_layer",
    "web_asset",
    "write_maps",
]
