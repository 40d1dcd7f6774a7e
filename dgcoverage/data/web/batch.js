/* dgcoverage: the batch overview page (batch.html). Regions filled by a figure of the chosen circle, a region x
   circle table linked to the map, one A4-landscape page in print. Every text of a user is set as text. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('dg-batch').textContent);
  var map = L.map('dg-map', {zoomSnap: 0.25, attributionControl: false, fadeAnimation: false});
  L.control.scale({imperial: false}).addTo(map);
  var circle = 0, figure = 'v';
  var layers = [], fit = L.latLngBounds([]);

  function pct(v) { return v === null || v === undefined ? '\u2014' : (Math.floor(v * 1000 + 1e-9) / 10).toFixed(1) + '%'; }
  function colour(v) {
    if (v === null || v === undefined) return D.none;
    var k = 0;
    while (k < D.bins.length && v >= D.bins[k]) k += 1;
    return D.colours[k];
  }
  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }
  function circleName(c) { return c.name ? c.name + ' ' + c.id : c.id; }
  function popup(r) {
    var box = el('div', null, 'dg-pop');
    box.appendChild(el('b', r.name));
    box.appendChild(document.createTextNode(' '));
    box.appendChild(el('span', r.id, 'dg-id'));
    if (r.status === 'failed') box.appendChild(el('div', '\u5931\u8d25 failed: ' + r.error, 'dg-fail'));
    var t = el('table'), h = el('tr');
    ['\u670d\u52a1\u5708 circle', '\u6751 villages', '\u4eba people'].forEach(function (s) { h.appendChild(el('th', s)); });
    t.appendChild(h);
    D.circles.forEach(function (c, i) {
      var tr = el('tr', null, i === circle ? 'dg-on' : '');
      tr.appendChild(el('td', circleName(c)));
      tr.appendChild(el('td', pct(r.v[i])));
      tr.appendChild(el('td', pct(r.p[i])));
      t.appendChild(tr);
    });
    box.appendChild(t);
    Object.keys(r.links).forEach(function (k) {
      var a = el('a', k === 'maps' ? '\u5730\u56fe maps' : '\u62a5\u544a report');
      a.href = r.links[k];
      box.appendChild(document.createTextNode(' '));
      box.appendChild(a);
    });
    return box;
  }
  D.regions.forEach(function (r, i) {
    if (!r.outline) { layers.push(null); return; }
    var lay = L.geoJSON({type: 'Feature', properties: {}, geometry: r.outline}, {
      style: function () { return {color: '#333', weight: 1.2, fillOpacity: 0.85, fillColor: D.none}; }
    }).addTo(map);
    lay.bindPopup(function () { return popup(r); });
    lay.bindTooltip(el('span', r.name), {permanent: true, direction: 'center', className: 'dg-lbl'});
    lay.on('click', function () { mark(i); });
    fit.extend(lay.getBounds());
    layers.push(lay);
  });
  function restyle() {
    D.regions.forEach(function (r, i) {
      if (layers[i]) layers[i].setStyle({fillColor: colour(r[figure][circle])});
    });
    var f = D.figures.filter(function (x) { return x.key === figure; })[0];
    document.getElementById('dg-legend-what').textContent = f ? f.label : '';
    document.getElementById('dg-legend-circle').textContent = D.circles.length ? circleName(D.circles[circle]) : '';
    document.querySelectorAll('#dg-table .dg-on').forEach(function (n) { n.classList.remove('dg-on'); });
    document.querySelectorAll('#dg-table thead .dg-c' + circle).forEach(function (n) { n.classList.add('dg-on'); });
    document.querySelectorAll('#dg-table tbody tr').forEach(function (tr) {
      var cells = tr.querySelectorAll('.dg-c' + circle);
      if (cells.length === 2) cells[figure === 'v' ? 0 : 1].classList.add('dg-on');
    });
  }
  function mark(i) {
    document.querySelectorAll('#dg-table tbody tr').forEach(function (tr) {
      tr.style.outline = +tr.getAttribute('data-i') === i ? '2px solid #225ea8' : '';
    });
  }
  function focus(i) {
    var lay = layers[i];
    mark(i);
    if (!lay) return;
    map.fitBounds(lay.getBounds(), {padding: [20, 20], animate: false});
    lay.openPopup(lay.getBounds().getCenter());
  }
  document.querySelectorAll('input[name=dg-circle]').forEach(function (inp) {
    inp.addEventListener('change', function () { circle = +inp.value; restyle(); });
  });
  document.querySelectorAll('input[name=dg-figure]').forEach(function (inp) {
    inp.addEventListener('change', function () { figure = inp.value; restyle(); });
  });
  document.querySelectorAll('#dg-table tbody tr').forEach(function (tr) {
    tr.addEventListener('click', function (ev) {
      if (ev.target.tagName !== 'A') focus(+tr.getAttribute('data-i'));
    });
  });
  if (fit.isValid()) map.fitBounds(fit, {padding: [10, 10]}); else map.setView([0, 0], 2);
  restyle();
  // printing: one A4-landscape page; the print layout (batch.css, html.dg-print) is switched on before the
  // browser prints, so Leaflet measures the printed frame and fits every region into it
  var screenView = null;
  function toPrint() {
    if (screenView) return;
    screenView = {c: map.getCenter(), z: map.getZoom()};
    document.documentElement.classList.add('dg-print');
    map.closePopup();
    map.options.zoomSnap = 0; map.invalidateSize({pan: false});
    if (fit.isValid()) map.fitBounds(fit, {padding: [6, 6], animate: false});
  }
  function fromPrint() {
    if (!screenView) return;
    document.documentElement.classList.remove('dg-print');
    map.options.zoomSnap = 0.25; map.invalidateSize({pan: false});
    map.setView(screenView.c, screenView.z, {animate: false}); screenView = null;
  }
  window.addEventListener('beforeprint', toPrint);
  window.addEventListener('afterprint', fromPrint);
  window.dgMap = map;
  window.dgBatch = {map: map, layers: layers, focus: focus, printLayout: toPrint, screenLayout: fromPrint,
    select: function (c, f) { circle = c; if (f) figure = f; restyle(); }};
}());
