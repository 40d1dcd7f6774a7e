(function () {
  'use strict';
  var DG = JSON.parse(document.getElementById('dg-data').textContent);
  var counts = document.getElementById('dg-counts');
  function setc(k, v) { counts.setAttribute('data-' + k, String(v)); }
  var map = L.map('dg-map', {zoomSnap: 0.5, zoomControl: true}).setView(DG.centre, 10);
  window.dgMap = map;
  // panes in a fixed order, whatever is turned off and on: fills < areas (hatching) < outlines < points.
  // A pane takes no click itself (pointer-events: none in maps.css); only its interactive paths do.
  var PANES = {dgFill: 410, dgArea: 420, dgLine: 430, dgPoint: 440};
  Object.keys(PANES).forEach(function (k) { map.createPane(k).style.zIndex = String(PANES[k]); });
  var PANE_OF = {towns_pop: 'dgFill', choropleth: 'dgFill', villages: 'dgFill', service: 'dgArea', gaps: 'dgArea',
    towns: 'dgLine', vlines: 'dgLine', points: 'dgPoint'};
  // drawn for reading, never clicked: a click there is meant for the village below (its popup says it all)
  var PASSIVE = {towns: true, service: true, gaps: true};
  var gcjOn = false;
  // WGS84 -> GCJ-02 (the published offset formula, as in dgcoverage.inputs.coords)
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
  // ------------------------------------------------------------ formatting (strings in DG are escaped already)
  function ok(v) { return typeof v === 'number' && isFinite(v); }
  function num(v, nd) { if (!ok(v)) return '\u2014'; var p = v.toFixed(nd || 0).split('.');
    p[0] = p[0].replace(/\B(?=(\d{3})+(?!\d))/g, ','); return p.join('.'); }
  // shares are cut, never rounded up, so 89.96 % shows as 89.9 % (below the 90 % rule), 0.02 % as < 0.1 %
  function pct(v) { if (!ok(v)) return '\u2014'; if (v > 0 && v < 0.001) return '< 0.1%';
    return (Math.floor(v * 1000 + 1e-6) / 10).toFixed(1) + '%'; }
  function txt(s) { return s ? s : '\u2014'; }
  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#x27;'); }
  var dec = document.createElement('textarea');
  function raw(s) { dec.innerHTML = s || ''; return dec.value; }  // escaped text -> the text (RCDATA: no elements)
  function tbl(rows) { return "<table class='dg-t'>" + rows.map(function (r) {
    return '<tr><th>' + r[0] + '</th><td>' + r[1] + '</td></tr>'; }).join('') + '</table>'; }
  function stName(s) { return DG.status[s] || txt(s); }
  function bin(v, bins, cols) { if (!ok(v)) return null;
    for (var i = 0; i < bins.length; i++) { if (v < bins[i]) return cols[i]; } return cols[cols.length - 1]; }
  function sw(col) { return col ? "<span class='dg-sw' style='background:" + col + "'></span>"
    : "<svg class='dg-sw' viewBox='0 0 14 10'><rect width='14' height='10' fill='url(#dg-h-nodata)'/></svg>"; }
  var V = DG.v, T = DG.t, M = DG.marks, SH = DG.share, C = DG.circle, CS = DG.circles || [];
  var cur = 0;  // the circle shown on the overview
  function vClass(i) { var c = V.cls[i]; return c >= 0 ? SH.colours[c] : null; }
  function townColour(v) { return bin(v, DG.town_bins, DG.town_colours); }
  function circleHead(c) { return '<b>' + c.zh + '</b> <span lang="en">' + c.en + '</span>'; }
  // ------------------------------------------------------------ popups and tooltips (built on demand)
  function vPopup(i) {
    var rows = [['村(社区) village', V.name[i] + " <span class='dg-id'>" + V.code[i] + '</span>'],
      ['镇街 town', txt(V.town[i])], ['人口 population', num(V.pop[i])]];
    if (C) {
      // a scenario page: the village's change, before -> after (escaped text made in Python)
      if (V.chg) rows.push(['变化 change (现状 before \u2192 情景 after)', V.chg[i]]);
      rows.push(['覆盖率 share within ' + num(C.minutes) + ' min', sw(vClass(i)) + pct(V.share[i])],
        ['中位时间 median time (min)', num(V.med[i], 1)], ['90分位时间 p90 time (min)', num(V.p90[i], 1)],
        ['中心点时间 centre time (min)', num(V.ctr[i], 1)], ['辖区内设施 facilities inside', num(V.fin[i])],
        ['状态 status', stName(V.st[i])], ['在服务范围内 inside the service area', inside(V.share[i])]);
      var g = GAP[V.code[i]];
      if (g) rows.push(['盲区人口 people beyond the limit', num(g.p) + ' \u4eba (超时 beyond ' + num(g.b) +
        ' \u00b7 路网不可达 unreachable ' + num(g.u) + ' \u00b7 离网 off network ' + num(g.o) + ')']);
      if (V.why[i]) rows.push(['说明 reason', V.why[i]]);
      return circleHead(C) + tbl(rows);
    }
    CS.forEach(function (c, k) { var x = V.c[k];
      rows.push([(k === cur ? '\u25b6 ' : '') + c.zh, pct(x.share[i]) + ' \u00b7 ' + stName(x.st[i])]); });
    return tbl(rows);
  }
  // the service area is the part within the limit: a village lies in it as far as its people do
  function inside(v) { if (!ok(v)) return '\u2014'; if (v >= 1) return '是 yes (100%)';
    return v > 0 ? '部分 partly: ' + pct(v) + ' 的人口 of the people' : '否 no'; }
  var GAP = {};  // gap areas by village code: their numbers go into the village popup
  DG.layers.forEach(function (s) { if (s.style === 'gaps') s.data.features.forEach(function (f) {
    GAP[f.properties.c] = f.properties; }); });
  function vTip(i) {
    if (C) return V.name[i] + '\uff08' + txt(V.town[i]) + '\uff09' + pct(V.share[i]) + ' ' + stName(V.st[i]);
    return V.name[i] + '\uff08' + txt(V.town[i]) + '\uff09' +
      (CS.length ? CS[cur].zh + ' ' + pct(V.c[cur].share[i]) : '');
  }
  function tStats(i, k) {
    var x = T.c[k]; if (!x) return [];
    // the town scale is drawn only on the overview; a circle page's colours belong to its village classes
    return [['人口覆盖率 population covered', (C ? '' : sw(townColour(x.share[i]))) + pct(x.share[i])],
      ['覆盖人口 people covered', num(x.covp[i]) + ' / ' + num(x.pop[i])],
      ['村(社区)达标率 villages covered', pct(x.vrate[i]) + ' (' + num(x.vc[i]) + ' / ' + num(x.vd[i]) + ')']];
  }
  function tPopup(i) {
    var c = C || CS[cur], k = C ? 0 : cur;
    return circleHead(c) + tbl([['镇街 town', T.name[i] + " <span class='dg-id'>" + T.code[i] + '</span>']]
      .concat(tStats(i, k)));
  }
  function tTip(i) { var c = C || CS[cur], x = T.c[C ? 0 : cur];
    return T.name[i] + (x ? ' \u00b7 ' + c.zh + ' ' + pct(x.share[i]) : ''); }
  // tooltip and popup text per style, made when shown: [tooltip(feature), popup(feature), sticky]
  var TEXT = {
    villages: [function (f) { return vTip(f.properties.i); }, function (f) { return vPopup(f.properties.i); }, true],
    choropleth: [function (f) { var p = f.properties;
      return V.name[p.i] + ' \u00b7 ' + num(p.acc, 2) + ' / ' + DG.supply.target + ' ' + DG.supply.unit; },
    function (f) { var p = f.properties;
      return circleHead(C) + tbl([['村(社区) village', V.name[p.i]],
        ['可达供给 access-weighted supply (2SFCA)', num(p.acc, 2) + ' ' + DG.supply.unit],
        ['标准 standard', DG.supply.target + ' ' + DG.supply.unit + ' (' + DG.supply.source + ')'],
        ['供给/标准 supply / standard', pct(p.rate)]]); }, true],
    towns_pop: [function (f) { return tTip(f.properties.i); }, function (f) { return tPopup(f.properties.i); }, true],
    points: [function (f) { var p = f.properties; return p.pop !== undefined ? p.tip : txt(p.n); },
      function (f) { var p = f.properties; if (p.pop !== undefined) return p.pop;
        var rows = [['设施 facility', txt(p.n)], ['编号 id', txt(p.id)], ['类型 kind', txt(p.k)]];
        // the capacity the supply standard counts, with its unit (beds 床, area m²); unknown when not given
        if (p.cap !== undefined) rows.push(['规模 capacity', ok(p.cap) ? num(p.cap, p.cap % 1 ? 1 : 0) + ' ' +
          (C && C.cu || '') : '未知 unknown']);
        return tbl(rows.concat([['来源 source', txt(p.src)],
          ['在路网上 on network', p.on ? '是 yes' : '否 no (> max snap)']])); }, false]
  };
  TEXT.vlines = TEXT.villages;
  var OPEN = location.hash.indexOf('dg-open') >= 0;  // test hook: every feature gets its own tooltip and popup
  function bind(target, tx, one) {  // one layer (its feature) or a whole group (the feature under the mouse)
    target.bindTooltip(function (l) { return tx[0]((one || l).feature); }, {sticky: tx[2]});
    target.bindPopup(function (l) { return tx[1]((one || l).feature); }, {maxWidth: 380});
  }
  // ------------------------------------------------------------ styles: one colour, one meaning
  var STYLES = {
    towns: function () { return {color: M.town, weight: 1.8, fill: false}; },
    towns_pop: function (f) { var c = townColour(f.properties.rate);
      return {color: '#555', weight: 1, fillColor: c || 'url(#dg-h-nodata)', fillOpacity: c ? 0.85 : 1}; },
    choropleth: function (f) { var c = bin(f.properties.rate, DG.supply_bins, DG.supply_colours);
      return {color: '#555', weight: 0.5, fillColor: c || 'url(#dg-h-nodata)', fillOpacity: c ? 0.9 : 1}; },
    villages: function (f) { var i = f.properties.i, c = V.cc ? V.cc[i] : vClass(i), s = V.st[i];
      var o = {color: '#777', weight: 0.6, dashArray: null, fillColor: c || 'url(#dg-h-nodata)',
        fillOpacity: c ? 0.85 : 1};
      if (s === 'gap') { o.color = M.gap; o.weight = 2.5; }
      else if (s === 'unreachable') { o.color = M.unreachable; o.weight = 2.5; o.dashArray = '6 4'; }
      else if (s === 'no_data') { o.color = M.no_data; o.weight = 1; }
      return o; },
    vlines: function () { return {color: '#777', weight: 0.7, fillColor: '#fff', fillOpacity: 0}; },
    service: function () { return {color: M.service, weight: 0.8, opacity: 0.9, fillColor: 'url(#dg-h-service)',
      fillOpacity: 1}; },
    gaps: function () { return {color: M.gap_area, weight: 1.2, fillColor: 'url(#dg-h-gap)', fillOpacity: 1}; },
    points: function () { return {}; }
  };
  // ==================== BEGIN speed sensitivity layer (run with --speeds; pipeline/sensitivity.py) ====================
  // One more exclusive village fill: robust (covered at the slowest speed), fragile (only at faster ones), not
  // covered; the popup gives the class and the covered share at each speed.  DG.sens: speeds, zh, en, colours.
  if (DG.sens) {
    var SENS = DG.sens;
    var sensName = function (c) { return (SENS.zh[c] || txt(c)) + ' ' + (SENS.en[c] || ''); };
    PANE_OF.sensitivity = 'dgFill';
    STYLES.sensitivity = function (f) { var col = SENS.colours[f.properties.c];
      return {color: '#555', weight: 0.5, fillColor: col || 'url(#dg-h-nodata)', fillOpacity: col ? 0.85 : 1}; };
    TEXT.sensitivity = [function (f) { return V.name[f.properties.i] + ' \u00b7 ' + sensName(f.properties.c); },
      function (f) { var p = f.properties;
        return circleHead(C) + tbl([['村(社区) village', V.name[p.i]],
          ['速度稳健性 speed class', "<span class='dg-sens' data-class='" + esc(p.c) + "'>" +
            sw(SENS.colours[p.c]) + sensName(p.c) + '</span>']].concat(SENS.speeds.map(function (v, j) {
          return ['覆盖率 share within ' + num(C.minutes) + ' min at ' + v + ' km/h', pct(p.s[j])]; }))); }, true];
  }
  // ==================== END speed sensitivity layer ====================
  // ==================== BEGIN scenario road edits (dgcoverage scenario; outputs/maps/scenario.py) ====================
  // New links (blue), closed streets (thick near-black, solid: a dashed line would take no click in its gaps) and
  // closure areas (dotted outline, no fill: a click inside them is still the village's).  Each feature carries
  // k (link | closed | area) and its escaped tooltip and popup; DG.roadedit: the colour of each kind.
  if (DG.roadedit) {
    var ROADEDIT = DG.roadedit;
    PANE_OF.roadedit = 'dgLine';
    STYLES.roadedit = function (f) { var k = f.properties.k, col = ROADEDIT[k] || '#000';
      if (k === 'link') return {color: col, weight: 5, opacity: 0.95};
      if (k === 'closed') return {color: col, weight: 6, opacity: 0.95, lineCap: 'butt'};
      return {color: col, weight: 2.5, dashArray: '2 5', fill: false}; };
    TEXT.roadedit = [function (f) { return f.properties.tip; }, function (f) { return f.properties.pop; }, false];
  }
  // ==================== END scenario road edits ====================
  function pointToLayer(f, ll) {
    var p = f.properties;
    if (p.rank !== undefined) return L.marker(ll, {icon: L.divIcon({className: 'dg-cand', html: p.rank,
      iconSize: [22, 22]}), riseOnHover: true, zIndexOffset: 1000});
    return L.circleMarker(ll, {pane: 'dgPoint', radius: 3.5, color: p.on === false ? M.facility : '#fff',
      weight: p.on === false ? 1.5 : 1,
      fillColor: p.on === false ? '#fff' : M.facility, fillOpacity: 1}); }
  // ------------------------------------------------------------ layers (outline keys joined to outlines.js once)
  var joined = {}, unmatched = 0;
  function warnOutlines(state, zh, en) {
    setc('outlines', state);
    var warn = document.createElement('div'); warn.className = 'dg-syn'; warn.textContent = zh + ' \u2014 ' + en;
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
    warnOutlines('missing', '缺少 outlines.js\uff1a村(社区)/镇街边界未显示',
      'outlines.js (village and town outlines) ' +
      'was not found beside this page; keep the maps folder together.');
  }
  var groups = {}, overlays = {}, fills = {}, vIdx = {}, tIdx = {};
  // the village fills of a circle page (share covered, 2SFCA supply) are one choice, never two stacked
  var FILLS = DG.layers.filter(function (s) { return C && PANE_OF[s.style] === 'dgFill'; });
  DG.layers.forEach(function (s) { groups[s.key] = L.featureGroup();
    if (FILLS.length > 1 && FILLS.indexOf(s) >= 0) fills[s.label] = groups[s.key];
    else if (s.circle === undefined) overlays[s.label] = groups[s.key];
    if (s.show) groups[s.key].addTo(map); });
  var townLabels = L.layerGroup(), villageLabels = L.layerGroup();
  function label(p, html, cls) { return L.marker(c2ll(p), {icon: L.divIcon({className: 'dg-lbl ' + cls,
    html: '<span>' + html + '</span>', iconSize: null}), interactive: false, keyboard: false}); }
  var stale = {};  // layers not on the map are drawn when first shown (the hidden ones cost no load time)
  function drawLayer(s) {
    var g = groups[s.key]; g.clearLayers(); stale[s.key] = false;
    var tx = PASSIVE[s.style] ? null : TEXT[s.style];
    var gj = L.geoJSON(layerData(s), {coordsToLatLng: c2ll, style: STYLES[s.style], pointToLayer: pointToLayer,
      pane: PANE_OF[s.style] || 'overlayPane', interactive: !PASSIVE[s.style],
      onEachFeature: function (f, l) { if (tx && OPEN) bind(l, tx, l);
        var i = f.properties.i;
        if (i !== undefined && s.key === 'villages') vIdx[i] = l;
        if (i !== undefined && (s.style === 'towns' || s.style === 'towns_pop')) tIdx[i] = l; }
    });
    if (tx && !OPEN) bind(gj, tx, null);  // one binding per layer, not one per feature: faster to load
    g.addLayer(gj);
  }
  DG.layers.forEach(function (s) { groups[s.key].on('add', function () { if (stale[s.key]) drawLayer(s); }); });
  function build() {
    vIdx = {}; tIdx = {};
    DG.layers.forEach(function (s) {
      if (map.hasLayer(groups[s.key])) drawLayer(s); else { groups[s.key].clearLayers(); stale[s.key] = true; }
      setc(s.key, layerData(s).features.filter(function (f) { return f.geometry; }).length);
    });
    townLabels.clearLayers(); villageLabels.clearLayers(); vLabelsMade = false;
    T.lab.forEach(function (p, i) { if (p) label(p, T.name[i], 'dg-lbl-t').addTo(townLabels); });
    setc('crs', gcjOn ? 'gcj02' : 'wgs84');
  }
  var vLabelsMade = false;
  function zoomLabels() { var z = map.getZoom();
    // towns named in the whole-region view (also a small region's, fitted beyond zoom 12.5), villages closer in
    var whole = fit && fit.isValid() ? map.getBoundsZoom(fit) : 0, vz = Math.max(14, whole + 1);
    if (z <= Math.max(12.5, whole + 0.5)) townLabels.addTo(map); else map.removeLayer(townLabels);
    if (z >= vz && !vLabelsMade) { vLabelsMade = true;  // made when first needed
      V.lab.forEach(function (p, i) { if (p) label(p, V.name[i], 'dg-lbl-v').addTo(villageLabels); }); }
    if (z >= vz) villageLabels.addTo(map); else map.removeLayer(villageLabels);
    setc('zoom', z); }
  map.on('zoomend', zoomLabels);
  map.on('popupopen', function () { map.getPane('tooltipPane').style.display = 'none'; });
  map.on('popupclose', function () { map.getPane('tooltipPane').style.display = ''; });
  // ------------------------------------------------------------ base layers; a visible note when tiles fail
  var blank = L.layerGroup().addTo(map);
  var bases = {};
  bases['空白底图 blank (offline)'] = blank;
  var osm = L.tileLayer(DG.osm_url, {maxZoom: 19, attribution: '&copy; OpenStreetMap contributors'});
  bases['OpenStreetMap (WGS84, online)'] = osm;
  var gaode = L.tileLayer(DG.gaode_url, {subdomains: '1234', maxZoom: 18,
    attribution: '&copy; 高德地图 AutoNavi (GCJ-02)'});
  bases['高德 Gaode (GCJ-02, online)'] = gaode;
  function tileError() { document.getElementById('dg-tilenote').hidden = false; setc('tileerror', '1'); }
  osm.on('tileerror', tileError); gaode.on('tileerror', tileError);
  L.control.layers(bases, overlays, {collapsed: true}).addTo(map);  // open on hover: never over a popup
  if (FILLS.length > 1) {
    var fc = L.control.layers(fills, null, {collapsed: false}).addTo(map);
    fc.getContainer().classList.add('dg-fills');
    fc.getContainer().querySelector('.leaflet-control-layers-list').insertAdjacentHTML('afterbegin',
      '<b>填色 fill (one at a time)</b>');
  }
  L.control.scale({imperial: false, maxWidth: 120}).addTo(map);
  var north = L.control({position: 'topright'});
  north.onAdd = function () { var d = L.DomUtil.create('div', 'dg-north');
    d.title = '北 north (up)';
    d.innerHTML = "<svg viewBox='0 0 24 34' width='24' height='34' aria-label='north'>" +
      "<path d='M12 2 L20 28 L12 22 L4 28 Z' fill='#222'/><path d='M12 2 L12 22 L4 28 Z' fill='#fff' " +
      "stroke='#222' stroke-width='1'/></svg><span>N 北</span>"; return d; };
  north.addTo(map);
  map.on('baselayerchange', function (ev) { if (ev.layer !== blank && ev.layer !== osm && ev.layer !== gaode) return;
    var want = (ev.layer === gaode);
    if (want !== gcjOn) { gcjOn = want; build(); } });
  // fit the view before drawing, so every path is projected once (not drawn, then re-drawn after a fit)
  var fit = L.latLngBounds([]);
  function extend(c) { if (typeof c[0] === 'number') fit.extend(c2ll(c)); else c.forEach(extend); }
  DG.layers.forEach(function (s) { if (s.fit) layerData(s).features.forEach(function (f) {
    if (f.geometry) extend(f.geometry.coordinates); }); });
  if (fit.isValid()) map.fitBounds(fit, {padding: [10, 10], animate: false});
  build();
  if (unmatched && window.DG_OUTLINES) {
    warnOutlines('mismatch', 'outlines.js 与本页不符\uff1a' + unmatched + ' 个边界缺失',
      'outlines.js beside this page ' +
      'comes from other inputs: ' + unmatched + ' outlines are missing; write the maps folder again.');
  }
  zoomLabels();
  // ------------------------------------------------------------ finding things: search, town selector
  var api0 = {};
  var msgEl = document.getElementById('dg-msg');
  function msg(h) { msgEl.innerHTML = h; }
  function popupAt(p, html) { L.popup({maxWidth: 380}).setLatLng(c2ll(p)).setContent(html).openOn(map); }
  function focusVillage(i) {
    if (groups.villages && !map.hasLayer(groups.villages)) {  // the village fill, in place of another fill
      FILLS.forEach(function (s) { if (s.key !== 'villages') map.removeLayer(groups[s.key]); });
      groups.villages.addTo(map); }
    var l = vIdx[i], p = V.lab[i];
    if (l) { map.fitBounds(l.getBounds(), {maxZoom: 15, animate: false});
      if (p) popupAt(p, vPopup(i)); else l.openPopup(); }
    else if (p) { map.setView(c2ll(p), 15, {animate: false}); popupAt(p, vPopup(i)); }
    else { msg('无边界 no outline: ' + V.name[i]); return false; }
    setc('focus', 'v' + i); setc('zoom', map.getZoom()); return true;
  }
  function focusTown(i) {
    var l = tIdx[i], p = T.lab[i];
    if (l) map.fitBounds(l.getBounds(), {animate: false}); else if (p) map.setView(c2ll(p), 13, {animate: false});
    if (p) popupAt(p, tPopup(i));
    else {  // a town without a boundary of its own: its numbers, in the middle of the map
      L.popup({maxWidth: 380}).setLatLng(map.getCenter()).setContent(tPopup(i) +
        '<div>无独立边界，未绘制 no boundary of its own: not drawn</div>').openOn(map);
      msg('无边界 no boundary: ' + T.name[i]); }
    setc('focus', 't' + i); setc('zoom', map.getZoom()); return true;
  }
  var entries = [];
  T.name.forEach(function (n, i) {
    entries.push({kind: 't', i: i, name: raw(n), label: raw(n) + ' \u00b7 镇街 town'}); });
  V.name.forEach(function (n, i) {
    entries.push({kind: 'v', i: i, name: raw(n), label: raw(V.town[i]) + ' \u00b7 ' + raw(n)}); });
  var list = document.getElementById('dg-search-list');
  function fillList() { if (list.children.length) return;  // filled when the box is first used
    entries.forEach(function (en) { var o = document.createElement('option'); o.value = en.label;
      list.appendChild(o); }); }
  function find(q) {
    q = String(q || '').trim(); if (!q) return null;
    var hits = [], tests = [function (en) { return en.label === q; }, function (en) { return en.name === q; },
      function (en) { return en.name.indexOf(q) >= 0; }, function (en) { return en.label.indexOf(q) >= 0; }];
    for (var t = 0; t < tests.length && !hits.length; t++) hits = entries.filter(tests[t]);
    var hit = hits[0] || null;
    // one name, several places (12 village names occur twice in Dongguan): list them with their town, pick none
    var same = hits.filter(function (en) { return hit && en.kind === hit.kind && en.name === hit.name; });
    if (same.length > 1) { choose(same); return same; }
    if (hit) { msg('\u2192 ' + esc(hit.label)); if (hit.kind === 'v') focusVillage(hit.i); else focusTown(hit.i); }
    else msg('未找到 not found: ' + esc(q));
    setc('search', hit ? hit.kind + hit.i : 'none');
    return hit;
  }
  function choose(same) {
    map.closePopup();
    msg(same.length + ' 处同名，请选择 ' + same.length + ' places have this name, pick one: ' + same.map(function (en) {
      return "<button type='button' class='dg-pick' data-k='" + en.kind + "' data-i='" + en.i + "'>" + esc(en.label) +
        '</button>'; }).join(' / '));
    var pts = same.map(function (en) { return (en.kind === 'v' ? V : T).lab[en.i]; }).filter(Boolean);
    if (pts.length) map.fitBounds(L.latLngBounds(pts.map(c2ll)), {padding: [40, 40], maxZoom: 13, animate: false});
    setc('search', 'many'); setc('choices', same.map(function (en) { return en.kind + en.i; }).join(','));
  }
  msgEl.addEventListener('click', function (ev) { var b = ev.target.closest('.dg-pick'); if (!b) return;
    var i = +b.getAttribute('data-i'), en = entries.filter(function (x) {
      return x.i === i && x.kind === b.getAttribute('data-k'); })[0];
    msg('\u2192 ' + esc(en.label)); setc('search', en.kind + i);
    if (en.kind === 'v') focusVillage(i); else focusTown(i); });
  var box = document.getElementById('dg-search');
  box.addEventListener('focus', fillList); box.addEventListener('input', fillList);
  box.addEventListener('change', function () { find(box.value); });
  box.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') find(box.value); });
  document.getElementById('dg-search-go').addEventListener('click', function () { find(box.value); });
  var sel = document.getElementById('dg-town');
  T.name.map(function (n, i) { return [raw(n), i]; }).sort(function (a, b) { return a[0].localeCompare(b[0], 'zh'); })
    .forEach(function (x) { var o = document.createElement('option'); o.value = String(x[1]); o.textContent = x[0];
      sel.appendChild(o); });
  sel.addEventListener('change', function () { if (sel.value !== '') focusTown(+sel.value); });
  document.getElementById('dg-print').addEventListener('click', function () { window.print(); });
  // printing: one A4-landscape page with the whole city, whatever the window. The print layout (html.dg-print,
  // maps.css: the map and the sidebar in millimetres) is switched on before the browser prints, so Leaflet
  // measures the printed frame and fits the city into it (fractional zoom); the screen view comes back after.
  var screenView = null;
  function fitSide() {  // the printed sidebar is one page tall: smaller type until the legends and notes fit in it
    var side = document.getElementById('dg-side');
    for (var px = 9.5; side.scrollHeight > side.clientHeight + 1 && px >= 6.5; px -= 0.5) side.style.fontSize = px + 'px';
  }
  function toPrint() {
    if (screenView) return;
    screenView = {c: map.getCenter(), z: map.getZoom()};
    document.documentElement.classList.add('dg-print');
    fitSide();
    map.options.zoomSnap = 0; map.invalidateSize({pan: false});
    if (fit.isValid()) map.fitBounds(fit, {padding: [4, 4], animate: false});
    setc('printzoom', map.getZoom());
  }
  function fromPrint() {
    if (!screenView) return;
    document.documentElement.classList.remove('dg-print'); document.getElementById('dg-side').style.fontSize = '';
    map.options.zoomSnap = 0.5; map.invalidateSize({pan: false});
    map.setView(screenView.c, screenView.z, {animate: false}); screenView = null;
  }
  window.addEventListener('beforeprint', toPrint);
  window.addEventListener('afterprint', fromPrint);
  api0.printLayout = toPrint; api0.screenLayout = fromPrint;
  // ------------------------------------------------------------ sortable tables linked to the map
  function sortable(el, cols, rows, rowHtml, onClick, foot) {
    var key = null, dir = 1, keep = null;
    function shown() { var rs = keep ? rows.filter(keep) : rows.slice(); if (key !== null) rs.sort(cmp); return rs; }
    function cmp(a, b) { var x = cols[key].val(a), y = cols[key].val(b);
      if (x === null || x === undefined || x === '') return (y === null || y === undefined || y === '') ? 0 : 1;
      if (y === null || y === undefined || y === '') return -1;
      return (typeof x === 'number' ? x - y : String(x).localeCompare(String(y), 'zh')) * dir; }
    function render() {
      var rs = shown();
      el.innerHTML = '<thead><tr>' + cols.map(function (c, j) { return '<th data-j="' + j + '">' + c.head +
        (j === key ? (dir > 0 ? ' \u25b2' : ' \u25bc') : '') + '</th>'; }).join('') + '</tr></thead><tbody>' +
        rs.map(rowHtml).join('') + '</tbody>' + (foot ? '<tfoot>' + foot + '</tfoot>' : '');
    }
    el.addEventListener('click', function (ev) {
      var th = ev.target.closest('th'), tr = ev.target.closest('tbody tr');
      if (th && th.hasAttribute('data-j')) {
        var j = +th.getAttribute('data-j'); dir = (key === j) ? -dir : 1; key = j; render(); }
      else if (tr && tr.hasAttribute('data-i')) { onClick(+tr.getAttribute('data-i')); }
    });
    render();
    return {sort: function (j, d) { key = j; dir = d || 1; render(); }, shown: shown,
      filter: function (f) { keep = f; render(); }};
  }
  var api = api0;
  api.map = map; api.find = find; api.focusVillage = focusVillage; api.focusTown = focusTown;
  api.villagePopup = vPopup; api.townPopup = tPopup; api.groups = groups;
  window.dgApi = api;
  if (C) {
    var vt = null, wrap = document.getElementById('dg-vtable-wrap'), btn = document.getElementById('dg-vtable-btn');
    var VC = [
      {head: '村(社区) village', val: function (i) { return raw(V.name[i]); },
        td: function (i) { return V.name[i]; }},
      {head: '镇街 town', val: function (i) { return raw(V.town[i]); }, td: function (i) { return txt(V.town[i]); }},
      {head: '状态 status', val: function (i) { return V.st[i]; },
        td: function (i) { return DG.status[V.st[i]] || txt(V.st[i]); }},
      {head: '覆盖率 share', val: function (i) { return V.share[i]; },
        td: function (i) { return sw(vClass(i)) + pct(V.share[i]); }},
      {head: '人口 people', val: function (i) { return V.pop[i]; }, td: function (i) { return num(V.pop[i]); }},
      {head: '中位 median min', val: function (i) { return V.med[i]; },
        td: function (i) { return num(V.med[i], 1); }},
      {head: 'p90 min', val: function (i) { return V.p90[i]; }, td: function (i) { return num(V.p90[i], 1); }}];
    var rowsV = V.name.map(function (_, i) { return i; });
    function vRow(i) { return '<tr data-i="' + i + '">' + VC.map(function (c) {
      return '<td>' + c.td(i) + '</td>'; }).join('') + '</tr>'; }
    var tools = document.getElementById('dg-vtools'), vsel = document.getElementById('dg-vfilter');
    function vFilter() { var want = vsel.value;
      if (vt) vt.filter(want ? function (i) { return V.st[i] === want; } : null);
      setc('table', vt ? vt.shown().length : rowsV.length); setc('tablefilter', want || 'all'); }
    vsel.addEventListener('change', vFilter);
    api.showTable = function () { wrap.hidden = false; tools.hidden = false; btn.setAttribute('aria-expanded', 'true');
      if (!vt) {
        vt = sortable(document.getElementById('dg-vtable'), VC, rowsV, vRow, focusVillage); api.sortTable = vt.sort; }
      vFilter(); return vt; };
    btn.addEventListener('click', function () { if (wrap.hidden) api.showTable(); else { wrap.hidden = true;
      tools.hidden = true; btn.setAttribute('aria-expanded', 'false'); } });
    // the rows shown (filter and order as on screen) as a CSV: UTF-8 with BOM, bilingual headers, made here (offline)
    var CSVH = ['code 村(社区)代码', 'name 名称', 'town_name 镇街', 'status 状态', 'status_zh 状态(中文)',
      'covered_share 覆盖率', 'population 人口', 'median_time_min 中位时间(分钟)', 'p90_time_min 90分位时间(分钟)'];
    function cell(v) { if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) return '';
      var s = String(v); if (typeof v !== 'number' && /^[=+\-@\t\r]/.test(s)) s = "'" + s;  // never a formula
      return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
    api.villageCsv = function () { var rs = vt ? vt.shown() : rowsV;
      return '\ufeff' + [CSVH].concat(rs.map(function (i) { return [raw(V.code[i]), raw(V.name[i]), raw(V.town[i]),
        V.st[i], raw((DG.status[V.st[i]] || '').split(' ')[0]), V.share[i], V.pop[i], V.med[i], V.p90[i]]; }))
        .map(function (r) { return r.map(cell).join(','); }).join('\r\n') + '\r\n'; };
    document.getElementById('dg-vcsv').addEventListener('click', function () {
      var a = document.createElement('a'), url = URL.createObjectURL(new Blob([api.villageCsv()],
        {type: 'text/csv;charset=utf-8'}));
      a.href = url; a.download = C.id + '_villages' + (vsel.value ? '_' + vsel.value : '') + '.csv';
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000); setc('csv', a.download); });
  } else {
    // ---------------------------------------------------------- overview: one circle at a time, compared by town
    var radios = [], holder = document.getElementById('dg-circles');
    CS.forEach(function (c, k) {
      var lab = document.createElement('label'), r = document.createElement('input');
      r.type = 'radio'; r.name = 'dg-circle'; r.value = String(k); r.checked = (k === 0);
      r.addEventListener('change', function () { if (r.checked) selectCircle(k); });
      lab.appendChild(r); var s = document.createElement('span');
      s.innerHTML = ' ' + c.zh + ' \u00b7 ' + pct((T.c[k].city || {}).share);
      lab.appendChild(s); holder.appendChild(lab); radios.push(r);
    });
    function selectCircle(k) {
      cur = k;
      CS.forEach(function (c, j) { var g = groups['towns_' + c.id];
        if (j === k) g.addTo(map); else map.removeLayer(g); });
      radios[k].checked = true;
      document.getElementById('dg-circle-name').innerHTML = CS[k].zh + ' <span lang="en">' + CS[k].en + '</span>';
      document.querySelectorAll('.dg-mult').forEach(function (m, j) { m.classList.toggle('dg-on', j === k); });
      map.closePopup(); setc('circle', CS[k].id);
    }
    api.selectCircle = selectCircle;
    // small multiples: one tiny map per circle, same classes as the main map
    var tl = DG.layers.filter(function (s) { return s.circle === 0; })[0], feats = tl ? layerData(tl).features : [];
    var x0 = 180, x1 = -180, y0 = 90, y1 = -90;
    function rings(g) { return g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ?
      [].concat.apply([], g.coordinates) : []; }
    feats.forEach(function (f) { rings(f.geometry).forEach(function (r) { r.forEach(function (c) {
      x0 = Math.min(x0, c[0]); x1 = Math.max(x1, c[0]); y0 = Math.min(y0, c[1]); y1 = Math.max(y1, c[1]); }); }); });
    var W = 150, H = 120, kx = Math.cos((y0 + y1) / 2 * PI / 180);
    var sc = Math.min(W / ((x1 - x0) * kx || 1), H / ((y1 - y0) || 1));
    var paths = feats.map(function (f) { return [f.properties.i, rings(f.geometry).map(function (r) {
      return 'M' + r.map(function (c) {
        return ((c[0] - x0) * kx * sc).toFixed(1) + ' ' + ((y1 - c[1]) * sc).toFixed(1); })
        .join('L') + 'Z'; }).join('')]; });
    var mult = document.getElementById('dg-multiples');
    CS.forEach(function (c, k) {
      var h = '<svg viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '">' + paths.map(function (p) {
        var col = townColour(T.c[k].share[p[0]]);
        return '<path d="' + p[1] + '" fill="' + (col || 'url(#dg-h-nodata)') +
          '" stroke="#555" stroke-width="0.4"><title>' +
          T.name[p[0]] + ' ' + pct(T.c[k].share[p[0]]) + '</title></path>'; }).join('') + '</svg>';
      var d = document.createElement('div'); d.className = 'dg-mult' + (k === 0 ? ' dg-on' : '');
      d.innerHTML = h + '<div>' + c.zh + '<br><b>' + pct((T.c[k].city || {}).share) + '</b></div>';
      d.addEventListener('click', function () { selectCircle(k); });
      mult.appendChild(d);
    });
    // comparison table: town x circle, population covered
    var TC = [{head: '镇街 town', val: function (i) { return raw(T.name[i]); },
      td: function (i) { return T.name[i]; }}]
      .concat(CS.map(function (c, k) { return {head: c.zh, val: function (i) { return T.c[k].share[i]; },
        td: function (i) { var v = T.c[k].share[i], col = townColour(v);
          return "<span class='dg-bar'><i style='width:" + (ok(v) ? Math.round(v * 100) : 0) + "%;background:" +
            (col || '#fff') + "'></i></span>" + pct(v); }}; }));
    var cityRow = '<tr class="dg-city"><td>' + esc(T.cityName || '全域 all units') + ' city</td>' + CS.map(function (c, k) {
      return '<td>' + pct((T.c[k].city || {}).share) + '</td>'; }).join('') + '</tr>';
    var ct = sortable(document.getElementById('dg-compare'), TC, T.name.map(function (_, i) { return i; }),
      function (i) { return '<tr data-i="' + i + '">' + TC.map(function (c) {
        return '<td>' + c.td(i) + '</td>'; }).join('') + '</tr>'; },
      focusTown, cityRow);
    api.sortCompare = ct.sort;
    selectCircle(0);
  }
  var m = /dg-search=([^&]*)/.exec(location.hash); if (m) find(decodeURIComponent(m[1]));
  if (location.hash.indexOf('dg-tiles') >= 0) { map.removeLayer(blank); osm.addTo(map); }
  if (OPEN) {  // test hook: show every tooltip and one popup per layer
    DG.layers.forEach(function (s) { var first = true; groups[s.key].eachLayer(function (g) { g.eachLayer(function (l) {
      if (l.getTooltip()) { l.getTooltip().options.permanent = true; l.openTooltip(); }
      if (first && l.getPopup()) { first = false; l.openPopup(); } }); }); });
    setc('opened', '1');
  }
  setc('ready', '1');
})();
