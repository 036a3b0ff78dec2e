// The planner's interactive map (map.html): the district's streets, communities and grids with
// their figures, posts, stations and key areas, what each tier covers hour by hour, the run's
// incidents by their 1-3-5 outcome and its units' trips on a time slider, and the backlog.
// The page's data is the JSON in <script id="map-data">, written by baoan_reports::map; the
// libraries (MapLibre GL JS, deck.gl) are inlined before this script. Nothing is fetched: the
// style has no tiles, glyphs or sprites, and labels are HTML.
'use strict';

(function () {
  performance.mark('baoan-map-script');
  const D = JSON.parse(document.getElementById('map-data').textContent);
  const $ = (id) => document.getElementById(id);
  const failures = [];
  const fail = (e) => {
    failures.push(String(e));
    $('status').textContent = 'The map failed: ' + failures.join('; ');
    $('status').className = 'status failed';
    console.error(e);
  };
  window.addEventListener('error', (e) => fail(e.message));

  // MapLibre's worker, from the page's own copy (a page opened from disk may not load files).
  const workerText = document.getElementById('maplibre-worker').textContent;
  maplibregl.setWorkerUrl(URL.createObjectURL(new Blob([workerText], {type: 'text/javascript'})));

  // Local metres (east, north of the frame's origin) to WGS-84 degrees: the twin's own frame.
  const lon0 = D.frame.origin_lon, lat0 = D.frame.origin_lat;
  const mx = 111320 * Math.cos((lat0 * Math.PI) / 180), my = 110574;
  const ll = (x, y) => [+(lon0 + x / mx).toFixed(6), +(lat0 + y / my).toFixed(6)];
  const ring = (flat) => {
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push(ll(flat[i], flat[i + 1]));
    return out;
  };
  const multi = (shape) => ({type: 'MultiPolygon', coordinates: shape.map((poly) => poly.map(ring))});

  const fmt = (v, unit) => {
    if (v === null || v === undefined) return 'no data';
    const a = Math.abs(v);
    const s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
    return unit ? `${s} ${unit}` : s;
  };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]);
  const clock = (s) => {
    const day = Math.floor(s / 86400) + 1, h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return `day ${day} ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
  };

  // ---- The district as GeoJSON -------------------------------------------------------------
  const streets = {
    type: 'FeatureCollection',
    features: D.streets.map((s, i) => ({type: 'Feature', id: i, properties: {i}, geometry: multi(s.shape)})),
  };
  const communities = {
    type: 'FeatureCollection',
    features: D.communities.map((c, i) => ({type: 'Feature', id: i, properties: {i}, geometry: multi(c.shape)})),
  };
  const gridFeatures = (metricValues, masks) => ({
    type: 'FeatureCollection',
    features: D.grids.shape.map((shape, i) => {
      const properties = {i};
      metricValues.forEach((m, k) => {
        const v = m.values[i];
        if (v !== null && v !== undefined) properties['m' + k] = v;
      });
      masks.forEach((c, k) => (properties['c' + k] = c.hours[i]));
      return {type: 'Feature', id: i, properties, geometry: multi(shape)};
    }),
  });

  // Five-step ramps (ColorBrewer YlOrRd for amounts, RdBu for changes), by the metric's spread.
  const RAMP = ['#ffffb2', '#fecc5c', '#fd8d3c', '#f03b20', '#bd0026'];
  const DIVERGING = ['#b2182b', '#ef8a62', '#f7f7f7', '#67a9cf', '#2166ac'];
  function scale(metric) {
    const vs = metric.values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
    if (metric.diverging) {
      const m = Math.max(1e-9, ...vs.map(Math.abs));
      return {stops: [-m, -m / 2, 0, m / 2, m], colours: DIVERGING};
    }
    if (!vs.length) return {stops: [0, 1, 2, 3, 4], colours: RAMP};
    const q = (p) => vs[Math.min(vs.length - 1, Math.floor(p * (vs.length - 1)))];
    let [lo, hi] = metric.domain || [q(0.02), q(0.98)];
    if (hi <= lo) hi = lo + 1;
    const stops = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
    return {stops, colours: metric.higher_is_better ? [...RAMP].reverse() : RAMP};
  }
  function fillColour(k, sc) {
    const ramp = ['interpolate', ['linear'], ['get', 'm' + k]];
    sc.stops.forEach((s, j) => ramp.push(s, sc.colours[j]));
    return ['case', ['has', 'm' + k], ramp, '#d9d9d9'];
  }

  // ---- State and controls ------------------------------------------------------------------
  // A run opens at its end (every incident shown); a layout's coverage at noon.
  const state = {time: D.incidents ? D.duration_s : Math.min(D.duration_s, 12 * 3600), metric: Math.max(0, D.metrics.findIndex((m) => m.key === D.default_metric)), playing: false, layers: {}};
  const views = [];
  const layerDefs = [];
  const addToggle = (key, label, on, swatch) => {
    state.layers[key] = on;
    layerDefs.push({key, label, swatch});
  };
  addToggle('grids', 'Grids, coloured by the figure chosen below / 网格', true, '#fd8d3c');
  addToggle('communities', 'Communities / 社区', true, '#555');
  addToggle('streets', 'Streets / 街道', true, '#111');
  addToggle('labels', 'Names / 名称', true, null);
  const view0 = D.views[0] || {points: [], coverage: []};
  // Coverage hides the grids' figure beneath it: off until asked for.
  view0.coverage.forEach((c, k) => addToggle('cover' + k, c.label, false, c.colour));
  view0.points.forEach((p, k) => addToggle('points' + k, p.label, true, p.colour));
  if (D.incidents) addToggle('incidents', 'Incidents by 1-3-5 outcome / 警情', true, D.incidents.colours[0]);
  if (D.trips) addToggle('trips', 'Units moving (straight lines, timed by the roads) / 出警轨迹', true, D.trips.colours[0]);

  function buildPanel() {
    const list = $('layers');
    for (const d of layerDefs) {
      const id = 'layer-' + d.key;
      const row = document.createElement('label');
      row.innerHTML = `<input type="checkbox" id="${id}" data-layer="${d.key}" ${state.layers[d.key] ? 'checked' : ''}>` +
        (d.swatch ? `<span class="swatch" style="background:${d.swatch}"></span>` : '') + esc(d.label);
      list.appendChild(row);
      row.querySelector('input').addEventListener('change', (e) => {
        state.layers[d.key] = e.target.checked;
        applyLayers();
      });
    }
    const sel = $('metric');
    D.metrics.forEach((m, k) => {
      const o = document.createElement('option');
      o.value = k;
      o.textContent = m.label + (m.unit ? ` (${m.unit})` : '');
      sel.appendChild(o);
    });
    sel.value = state.metric;
    sel.addEventListener('change', () => {
      state.metric = +sel.value;
      applyMetric();
    });
    if (!D.metrics.length) $('metric-box').hidden = true;
    // What the incidents' and the trips' colours mean.
    const key = (title, labels, colours) => `<div class="title">${esc(title)}</div>` +
      labels.map((l, k) => `<div><span class="swatch" style="background:${colours[k]}"></span>${esc(l)}</div>`).join('');
    let keys = '';
    if (D.incidents) keys += key('Incidents, by 1-3-5 outcome from the call', D.incidents.outcomes, D.incidents.colours);
    if (D.trips) {
      const used = [...new Set(D.trips.class)].sort((a, b) => a - b);
      keys += key('Units moving, by kind', used.map((c) => D.trips.classes[c]), used.map((c) => D.trips.colours[c]));
    }
    $('legend-layers').innerHTML = keys;
    const slider = $('time');
    slider.max = Math.max(60, D.duration_s);
    slider.value = state.time;
    slider.addEventListener('input', () => setTime(+slider.value));
    $('play').addEventListener('click', togglePlay);
    if (!D.incidents && !D.trips && !D.series.length && !hasHourlyCover()) $('time-box').hidden = true;
    $('crs').textContent = D.crs;
  }
  const hasHourlyCover = () => D.views.some((v) => v.coverage.length);

  // ---- One map (two when comparing layouts) ------------------------------------------------
  const metricValues = D.metrics;
  function buildView(container, view, index) {
    const bounds = new maplibregl.LngLatBounds();
    for (const f of streets.features) for (const p of f.geometry.coordinates) for (const c of p[0]) bounds.extend(c);
    const map = new maplibregl.Map({
      container,
      style: {version: 8, sources: {}, layers: [{id: 'background', type: 'background', paint: {'background-color': '#eef2f5'}}]},
      bounds,
      fitBoundsOptions: {padding: 20},
      attributionControl: false,
      maxPitch: 0,
      dragRotate: false,
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');
    map.addControl(new maplibregl.ScaleControl({unit: 'metric', maxWidth: 140}), 'bottom-left');
    const v = {map, view, index, labels: [], overlay: null, popup: new maplibregl.Popup({closeButton: false, closeOnClick: false, maxWidth: '340px'})};
    views.push(v);
    map.on('load', () => {
      performance.mark('baoan-map-load-' + index);
      try {
        addLayers(v);
        ready();
      } catch (e) {
        fail(e);
      }
    });
    map.on('error', (e) => fail(e.error ? e.error.message : e));
    return v;
  }

  function addLayers(v) {
    const {map, view} = v;
    map.addSource('grids', {type: 'geojson', data: gridFeatures(metricValues, view.coverage)});
    map.addSource('communities', {type: 'geojson', data: communities});
    map.addSource('streets', {type: 'geojson', data: streets});
    map.addLayer({id: 'grids-fill', type: 'fill', source: 'grids', paint: {'fill-color': '#d9d9d9', 'fill-opacity': 0.8}});
    map.addLayer({id: 'grids-line', type: 'line', source: 'grids', minzoom: 12, paint: {'line-color': '#ffffff', 'line-width': 0.4}});
    view.coverage.forEach((c, k) => {
      map.addLayer({id: 'cover' + k, type: 'fill', source: 'grids', filter: coverFilter(k, 0),
        paint: {'fill-color': c.colour, 'fill-opacity': 0.45, 'fill-outline-color': c.colour}});
    });
    map.addLayer({id: 'communities-line', type: 'line', source: 'communities', paint: {'line-color': '#555555', 'line-width': 0.8}});
    map.addLayer({id: 'streets-line', type: 'line', source: 'streets', paint: {'line-color': '#111111', 'line-width': 2}});
    map.addLayer({id: 'grids-hover', type: 'line', source: 'grids', filter: ['==', ['id'], -1], paint: {'line-color': '#000', 'line-width': 2}});
    if (D.incidents) {
      const I = D.incidents;
      map.addSource('incidents', {type: 'geojson', data: {type: 'FeatureCollection', features: I.t.map((t, i) => ({
        type: 'Feature', id: i, properties: {i, t, o: I.outcome[i]}, geometry: {type: 'Point', coordinates: ll(I.x[i], I.y[i])}}))}});
      const colour = ['match', ['get', 'o']];
      I.colours.forEach((c, k) => colour.push(k, c));
      colour.push('#999');
      map.addLayer({id: 'incidents', type: 'circle', source: 'incidents', filter: ['<=', ['get', 't'], state.time],
        paint: {'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 2.5, 14, 6], 'circle-color': colour,
          'circle-stroke-color': '#222', 'circle-stroke-width': 0.4}});
    }
    view.points.forEach((p, k) => {
      map.addSource('points' + k, {type: 'geojson', data: {type: 'FeatureCollection', features: p.at.map((a, i) => ({
        type: 'Feature', id: i, properties: {i}, geometry: {type: 'Point', coordinates: ll(a[0], a[1])}}))}});
      // A ring marks an area (a key area); a dot a place.
      map.addLayer({id: 'points' + k, type: 'circle', source: 'points' + k,
        paint: {'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, p.radius, 14, p.radius * 2],
          'circle-color': p.colour, 'circle-opacity': p.ring ? 0.15 : 1,
          'circle-stroke-color': p.ring ? p.colour : '#fff', 'circle-stroke-width': p.ring ? 2 : 1}});
    });
    if (D.trips) {
      const T = D.trips;
      v.trips = T.class.map((c, i) => ({c, path: [ll(T.path[i][0], T.path[i][1]), ll(T.path[i][2], T.path[i][3])], ts: T.t[i]}));
      v.overlay = new deckgl.MapboxOverlay({interleaved: false, layers: []});
      map.addControl(v.overlay);
    }
    addLabels(v);
    map.on('mousemove', (e) => hover(v, e));
    map.on('mouseout', () => {
      v.popup.remove();
      map.setFilter('grids-hover', ['==', ['id'], -1]);
    });
    applyMetric();
    applyTime();
    applyLayers();
  }

  const coverFilter = (k, hour) => ['!=', ['%', ['floor', ['/', ['get', 'c' + k], 2 ** hour]], 2], 0];

  function addLabels(v) {
    const mk = (cls, zh, en, at) => {
      const el = document.createElement('div');
      el.className = 'label ' + cls;
      el.innerHTML = `<b>${esc(zh)}</b>` + (en && en !== zh ? `<span>${esc(en)}</span>` : '');
      v.labels.push({cls, marker: new maplibregl.Marker({element: el}).setLngLat(ll(at[0], at[1])).addTo(v.map)});
    };
    D.streets.forEach((s) => mk('street', s.name, s.name_en, s.site));
    D.communities.forEach((c) => mk('community', c.name, c.name_en, c.site));
    const zoomed = () => v.map.getContainer().classList.toggle('zoomed', v.map.getZoom() >= 12);
    v.map.on('zoom', zoomed);
    zoomed();
  }

  function hover(v, e) {
    const {map} = v;
    const layers = ['incidents', ...v.view.points.map((_, k) => 'points' + k), 'grids-fill'].filter((l) => map.getLayer(l));
    const f = map.queryRenderedFeatures(e.point, {layers})[0];
    if (!f) {
      v.popup.remove();
      map.setFilter('grids-hover', ['==', ['id'], -1]);
      return;
    }
    let html;
    if (f.layer.id === 'incidents') html = incidentHtml(f.properties.i);
    else if (f.layer.id.startsWith('points')) {
      const p = v.view.points[+f.layer.id.slice(6)];
      html = `<b>${esc(p.label)}</b><br>${esc(p.names[f.properties.i] || '')}`;
    } else html = gridHtml(v, f.properties.i);
    map.setFilter('grids-hover', ['==', ['id'], f.layer.id === 'grids-fill' ? f.properties.i : -1]);
    v.popup.setLngLat(e.lngLat).setHTML(html).addTo(map);
  }

  function gridHtml(v, i) {
    const c = D.communities[D.grids.community[i]];
    const s = D.streets[c.street];
    let h = `<b>Grid ${esc(D.grids.code[i])}</b><br>${esc(c.name)} ${esc(c.name_en !== c.name ? c.name_en : '')} · ${esc(s.name)} ${esc(s.name_en)}<table>`;
    D.metrics.forEach((m, k) => {
      const val = m.values[i];
      h += `<tr${k === state.metric ? ' class="chosen"' : ''}><td>${esc(m.label)}</td><td>${fmt(val, m.unit)}</td></tr>`;
    });
    const hour = Math.floor(state.time / 3600) % 24;
    v.view.coverage.forEach((cv) => {
      const on = (cv.hours[i] >> hour) & 1;
      const all = cv.hours[i].toString(2).split('').filter((b) => b === '1').length;
      h += `<tr><td>${esc(cv.short)}</td><td>${on ? 'covered' : 'not covered'} at ${String(hour).padStart(2, '0')}:00 (${all} of 24 hours)</td></tr>`;
    });
    return h + '</table>';
  }

  function incidentHtml(i) {
    const I = D.incidents;
    let h = `<b>${esc(I.kinds[I.kind[i]])}</b> · ${clock(I.t[i])}<br>${esc(I.outcomes[I.outcome[i]])}<table>`;
    I.tiers.forEach((tier, k) => {
      const s = I.arrival_s[i][k];
      h += `<tr><td>${esc(tier)}</td><td>${s === null ? 'did not arrive' : fmt(s / 60, 'min')}</td></tr>`;
    });
    return h + '</table>';
  }

  // ---- Applying the state ------------------------------------------------------------------
  function applyMetric() {
    const m = D.metrics[state.metric];
    if (!m) return;
    const sc = scale(m);
    for (const v of views) if (v.map.getLayer('grids-fill')) v.map.setPaintProperty('grids-fill', 'fill-color', fillColour(state.metric, sc));
    const grad = sc.colours.join(',');
    $('legend-metric').innerHTML = `<div class="title">${esc(m.label)}${m.unit ? ' (' + esc(m.unit) + ')' : ''}</div>` +
      `<div class="ramp" style="background:linear-gradient(to right,${grad})"></div>` +
      `<div class="ends"><span>${fmt(sc.stops[0])}</span><span>${fmt(sc.stops[2])}</span><span>${fmt(sc.stops[4])}</span></div>` +
      `<div class="note">${esc(m.source)}; grey: no data</div>`;
  }

  function applyLayers() {
    for (const v of views) {
      const {map} = v;
      if (!map.getLayer('grids-fill')) continue;
      const vis = (id, on) => map.getLayer(id) && map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
      vis('grids-fill', state.layers.grids);
      vis('grids-line', state.layers.grids);
      vis('communities-line', state.layers.communities);
      vis('streets-line', state.layers.streets);
      vis('incidents', state.layers.incidents);
      v.view.coverage.forEach((_, k) => vis('cover' + k, state.layers['cover' + k]));
      v.view.points.forEach((_, k) => vis('points' + k, state.layers['points' + k]));
      for (const l of v.labels) {
        const on = state.layers.labels && (l.cls === 'street' ? state.layers.streets : state.layers.communities);
        l.marker.getElement().style.display = on ? '' : 'none';
      }
      drawTrips(v);
    }
  }

  function drawTrips(v) {
    if (!v.overlay) return;
    const T = D.trips;
    v.tripsLayer = state.layers.trips ? new deckgl.TripsLayer({
      id: 'trips', data: v.trips, getPath: (d) => d.path, getTimestamps: (d) => d.ts,
      getColor: (d) => hex(T.colours[d.c]), widthMinPixels: 3, capRounded: true, jointRounded: true,
      trailLength: 600, fadeTrail: true, currentTime: state.time}) : null;
    v.overlay.setProps({layers: v.tripsLayer ? [v.tripsLayer] : []});
  }
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

  function applyTime() {
    const t = state.time;
    const hour = Math.floor(t / 3600) % 24;
    for (const v of views) {
      const {map} = v;
      if (!map.getLayer('grids-fill')) continue;
      if (map.getLayer('incidents')) map.setFilter('incidents', ['<=', ['get', 't'], t]);
      v.view.coverage.forEach((_, k) => map.setFilter('cover' + k, coverFilter(k, hour)));
      drawTrips(v);
    }
    $('time').value = t;
    let text = clock(t);
    if (D.incidents) text += ` · ${D.incidents.t.filter((x) => x <= t).length} incidents so far`;
    if (D.trips) text += ` · ${D.trips.t.filter((x) => x[0] <= t && t < x[1]).length} units on the move`;
    $('clock').textContent = text;
    drawSeries(t);
  }

  function setTime(t) {
    state.time = Math.max(0, Math.min(D.duration_s, t));
    applyTime();
  }

  let last = null;
  function togglePlay() {
    state.playing = !state.playing;
    $('play').textContent = state.playing ? 'Pause' : 'Play';
    if (state.playing && state.time >= D.duration_s) state.time = 0;
    last = null;
    if (state.playing) requestAnimationFrame(tick);
  }
  function tick(now) {
    if (!state.playing) return;
    const speed = +$('speed').value;
    if (last !== null) setTime(state.time + ((now - last) / 1000) * speed);
    last = now;
    if (state.time >= D.duration_s) return togglePlay();
    requestAnimationFrame(tick);
  }

  // The backlog (and any other series) over the run, with the slider's time marked.
  function drawSeries(t) {
    const box = $('series');
    if (!D.series.length) {
      box.hidden = true;
      return;
    }
    const W = 300, H = 120, L = 34, B = 16;
    const maxV = Math.max(1, ...D.series.flatMap((s) => s.points.map((p) => p[1])));
    const X = (s) => L + (s / Math.max(1, D.duration_s)) * (W - L - 4);
    const Y = (v) => H - B - (v / maxV) * (H - B - 6);
    const COLOURS = ['#08519c', '#e6550d', '#31a354', '#756bb1', '#636363'];
    let svg = `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="Backlog over time">`;
    svg += `<line x1="${L}" y1="${H - B}" x2="${W - 4}" y2="${H - B}" stroke="#999"/><text x="${L - 4}" y="${Y(maxV) + 4}" text-anchor="end">${fmt(maxV)}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">0</text>`;
    let values = '';
    D.series.forEach((s, k) => {
      const pts = s.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
      svg += `<polyline fill="none" stroke="${COLOURS[k % 5]}" stroke-width="1.3" points="${pts}"/>`;
      let at = null;
      for (const p of s.points) if (p[0] <= t) at = p[1];
      values += `<div><span class="swatch" style="background:${COLOURS[k % 5]}"></span>${esc(s.label)}: <b>${at === null ? '–' : fmt(at)}</b></div>`;
    });
    svg += `<line x1="${X(t)}" y1="4" x2="${X(t)}" y2="${H - B}" stroke="#000" stroke-dasharray="3 2"/></svg>`;
    box.innerHTML = svg + values;
  }

  // ---- Ready when every map has drawn its layers once --------------------------------------
  let loaded = 0;
  function ready() {
    loaded += 1;
    if (loaded < views.length) return;
    let idle = 0;
    for (const v of views) {
      v.map.once('idle', () => {
        idle += 1;
        if (idle === views.length && !failures.length) {
          performance.mark('baoan-map-ready');
          $('status').textContent = '';
          document.body.dataset.ready = 'true';
        }
      });
      v.map.triggerRepaint();
    }
  }

  // Two layouts: side by side with the cameras kept together, or one over the other with a swipe.
  function syncViews() {
    if (views.length < 2) return;
    let moving = false;
    for (const v of views) {
      v.map.on('move', () => {
        if (moving) return;
        moving = true;
        for (const w of views) if (w !== v) w.map.jumpTo({center: v.map.getCenter(), zoom: v.map.getZoom()});
        moving = false;
      });
    }
    const setMode = (mode) => {
      $('maps').className = 'maps ' + mode;
      $('swipe').hidden = mode !== 'swipe';
      swipeTo(+$('swipe').value);
      for (const v of views) v.map.resize();
    };
    const swipeTo = (pct) => {
      const top = views[1].map.getContainer().parentElement;
      const swiping = $('maps').classList.contains('swipe');
      top.style.clipPath = swiping ? `inset(0 0 0 ${pct}%)` : '';
      $('swipe-line').hidden = !swiping;
      $('swipe-line').style.left = `${pct}%`;
    };
    $('mode-side').addEventListener('click', () => setMode('side'));
    $('mode-swipe').addEventListener('click', () => setMode('swipe'));
    $('swipe').addEventListener('input', (e) => swipeTo(+e.target.value));
    $('compare-box').hidden = false;
  }

  try {
    performance.mark('baoan-map-data');
    buildPanel();
    D.views.forEach((view, k) => {
      $('view-title-' + k).textContent = view.label;
      buildView($('map-' + k), view, k);
    });
    syncViews();
    window.baoanMap = {views, state, setTime, failures};
  } catch (e) {
    fail(e);
  }
})();
