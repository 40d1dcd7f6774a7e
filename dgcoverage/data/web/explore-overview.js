/* dgcoverage notebook overview map: show the legend of the circle whose villages are the current base layer.
   '__DG_MAP__' is replaced by the folium map's variable name when the map is made. */
(function () {
  'use strict';
  var map = window['__DG_MAP__'];
  function show(name) {
    var els = document.querySelectorAll('.dg-legend[data-dg-layer]');
    for (var i = 0; i < els.length; i++) {
      els[i].style.display = els[i].getAttribute('data-dg-layer') === name ? '' : 'none';
    }
  }
  map.on('baselayerchange', function (e) { show(e.name); });
}());
