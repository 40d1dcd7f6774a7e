/* dgcoverage notebook maps (offline): Leaflet's default marker icon from data URIs, not from an images/ folder.
   The placeholders are replaced by the vendored PNGs (dgcoverage/data/vendor/leaflet-1.9.4) when the map is made. */
(function () {
  'use strict';
  L.Icon.Default.imagePath = '';
  L.Icon.Default.mergeOptions({
    iconUrl: '__DG_MARKER_ICON__',
    iconRetinaUrl: '__DG_MARKER_ICON_2X__',
    shadowUrl: '__DG_MARKER_SHADOW__'
  });
}());
