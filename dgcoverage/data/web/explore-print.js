/* dgcoverage notebook maps: printing (or saving as PDF) gives one A4-landscape page with every village in view.
   The print layout (explore-print.css, html.dg-print) is switched on before the browser prints, so Leaflet
   measures the printed frame and fits the villages into it; the screen view comes back after.
   '__DG_MAP__' and '__DG_BOUNDS__' are replaced by the folium map's variable name and the villages' bounds. */
(function () {
  'use strict';
  var map = window['__DG_MAP__'], bounds = L.latLngBounds(JSON.parse('__DG_BOUNDS__')), view = null;
  window.addEventListener('beforeprint', function () {
    if (view) return;
    view = {c: map.getCenter(), z: map.getZoom(), snap: map.options.zoomSnap};
    document.documentElement.classList.add('dg-print');
    map.options.zoomSnap = 0; map.invalidateSize({pan: false});
    map.fitBounds(bounds, {padding: [4, 4], animate: false});
  });
  window.addEventListener('afterprint', function () {
    if (!view) return;
    document.documentElement.classList.remove('dg-print');
    map.options.zoomSnap = view.snap; map.invalidateSize({pan: false});
    map.setView(view.c, view.z, {animate: false}); view = null;
  });
}());
