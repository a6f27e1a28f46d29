// The dispatcher's page: sign-in, the live map (units, incidents, areas,
// basemap), alerts, incident creation and assignment. Wiring only; each part
// lives in its own module.
import 'ol/ol.css';
import './app.css';
import { fromLonLat, toLonLat } from 'ol/proj.js';
import { api, takeTokenFromUrl } from './api.js';
import { UnitsLayer } from './units.js';
import { IncidentsLayer, gradeClock } from './incidents.js';
import { AlertsBanner } from './alerts.js';
import { CreateIncident, flagsView } from './create.js';
import { addAreas, addBasemap } from './basemap.js';
import { toastError } from './toast.js';
import { fitBasemap, followViewport, makeMap, mapBbox, mapHooks, viewFromParams } from './mapview.js';
import { showBadge, wireSession } from './session.js';

const params = new URLSearchParams(location.search);

const units = new UnitsLayer();
const incidents = new IncidentsLayer({ onSelect: (inc) => showSelection(inc) });
const { map, view } = makeMap('map', [incidents.layer, units.layer]);
// Hot spots unvisited (patrol_gap) are the sergeants' (sergeant.html), not the dispatchers'.
const alerts = new AlertsBanner({
  onLocate: (lon, lat) => view.animate({ center: fromLonLat([lon, lat]), zoom: Math.max(view.getZoom(), 15) }),
  ignore: ['patrol_gap'],
});
const badge = document.getElementById('feed-badge');
const counts = document.getElementById('counts');
let draftCoord = null;
let layersAdded = false;

const creator = new CreateIncident({
  onCreated: (inc) => incidents.upsert(inc),
  onAssigned: (inc, unitId) => {
    incidents.upsert(inc);
    // The assignment made the unit `assigned`; show it now, the feed confirms.
    const u = units.get(unitId);
    if (u && u.status === 'available') units.upsert({ ...u, status: 'assigned', incident: inc.id });
  },
  onClose: () => { draftCoord = null; },
});

const bbox = () => mapBbox(map);

function setBadge(state) {
  showBadge(badge, state);
  if (state === 'signed_out') signIn('The server refused the token. Sign in again.');
  if (state === 'live' && !layersAdded) loadLayers();
}

function updateCounts() {
  counts.textContent = `${units.count()} units · ${incidents.count()} incidents · ${alerts.count()} alerts`;
}

function applySnapshot(msg) {
  units.clear();
  for (const u of msg.units || []) units.upsert(u);
  incidents.clear();
  // Newest first from the server; each row is prepended, so oldest go in first.
  for (const inc of [...(msg.incidents || [])].reverse()) incidents.upsert(inc);
  alerts.replace(msg.alerts || []);
  updateCounts();
}

function applyDelta(msg) {
  for (const u of msg.units || []) units.upsert(u);
  for (const id of msg.removed || []) units.remove(id);
  for (const inc of msg.incidents || []) incidents.upsert(inc);
  for (const a of msg.alerts || []) alerts.upsert(a);
  const sel = incidents.selected;
  if (sel != null && (msg.incidents || []).some((i) => i.id === sel)) showSelection(incidents.get(sel));
  updateCounts();
}

function showSelection(inc) {
  const panel = document.getElementById('selection-panel');
  if (!inc) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  panel.hidden = false;
  const h = document.createElement('h2');
  h.textContent = `#${inc.id} grade ${inc.grade} ${inc.type}`;
  const lines = [
    inc.address || `${inc.lat.toFixed(5)}, ${inc.lon.toFixed(5)}`,
    `status ${inc.status}`,
    gradeClock(inc, Date.now()).text,
    ...(inc.assignments || []).map((a) => `${a.unit}: ${a.cleared ? 'cleared' : a.on_scene ? 'on scene' : a.en_route ? 'en route' : 'assigned'}${a.multiple_deployment ? ' (multiple deployment)' : ''}${a.self_deployed ? ' (self-deployed)' : ''}`),
  ];
  const list = document.createElement('ul');
  for (const l of lines) {
    const li = document.createElement('li');
    li.textContent = l;
    list.append(li);
  }
  const recs = document.createElement('button');
  recs.type = 'button';
  recs.textContent = 'Recommend units';
  recs.addEventListener('click', async () => {
    try {
      const r = await api(`/api/v1/incidents/${inc.id}/recommendations?k=5`);
      creator.showResult({ ...inc, recommendations: r.recommendations });
    } catch (e) {
      toastError(e, 'Recommendations');
    }
  });
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = 'Close incident';
  close.addEventListener('click', async () => {
    if (!confirm(`Close incident #${inc.id}?`)) return;
    try {
      incidents.upsert(await api(`/api/v1/incidents/${inc.id}/close`, { method: 'POST', body: {} }));
    } catch (e) {
      toastError(e, 'Close');
    }
  });
  // Another call about the same place (the server flags it as a repeat location).
  const again = document.createElement('button');
  again.type = 'button';
  again.className = 'new-here';
  again.textContent = 'New incident here';
  again.addEventListener('click', () => {
    draftCoord = [inc.lon, inc.lat];
    creator.open(inc.lon, inc.lat);
  });
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  buttons.append(recs, again, close);
  panel.replaceChildren(h, list, flagsView(inc.flags), buttons);
  view.animate({ center: fromLonLat([inc.lon, inc.lat]), duration: 250 });
}

map.on('singleclick', (ev) => {
  const hit = map.forEachFeatureAtPixel(ev.pixel, (f) => f, { hitTolerance: 4, layerFilter: (l) => l === incidents.layer || l === units.layer });
  if (hit && hit.get('kind') === 'incident') return incidents.select(hit.getId());
  if (hit && hit.get('kind') === 'unit') {
    const u = hit.get('unit');
    const p = document.getElementById('selection-panel');
    p.hidden = false;
    const h = document.createElement('h2');
    h.textContent = `${u.id} (${u.type})`;
    const d = document.createElement('p');
    d.textContent = `${u.status}${u.incident ? ' on #' + u.incident : ''} · ${u.skills && u.skills.length ? u.skills.join(', ') : 'no skills'} · fix ${u.fix_time ? new Date(u.fix_time).toLocaleTimeString() : '?'} via ${u.source}`;
    p.replaceChildren(h, d);
    return;
  }
  const [lon, lat] = toLonLat(ev.coordinate);
  draftCoord = [lon, lat];
  creator.open(lon, lat);
});

const session = wireSession({
  why: 'Paste a dispatcher token.',
  feedOptions: { bbox, onSnapshot: applySnapshot, onDelta: applyDelta },
  clear: () => {
    units.clear();
    incidents.clear();
    alerts.replace([]);
  },
  setBadge,
});
const signIn = session.signIn;
const feed = session.feed;
followViewport(map, feed);

// The basemap and areas, once the token is known to be good (the feed is live).
async function loadLayers() {
  layersAdded = true;
  fitBasemap(map, await addBasemap(map, { tiles: params.get('tiles') }), params);
  await addAreas(map);
}

viewFromParams(view, params);

// Read-only state for tests and the curious (no token, no write access).
const hooks = mapHooks(map);  // pixelFor(lon, lat), layerNames()
window.__patrolmap = Object.freeze({
  get feedState() { return feed() ? feed().state : badge.dataset.state; },
  get seq() { return feed() ? feed().seq : 0; },
  get deltas() { return feed() ? feed().deltas : 0; },
  get unitCount() { return units.count(); },
  get incidentCount() { return incidents.count(); },
  get alertCount() { return alerts.count(); },
  unit(id) {
    const u = units.get(id);
    return u ? { ...u } : null;
  },
  incident(id) {
    const i = incidents.get(id);
    return i ? JSON.parse(JSON.stringify(i)) : null;
  },
  ...hooks,
  unitPixel(id) {
    const u = units.get(id);
    return u ? this.pixelFor(u.lon, u.lat) : null;
  },
  // What the map draws at a pixel (hit detection on the rendered styles).
  hitAt(x, y) {
    const out = [];
    map.forEachFeatureAtPixel([x, y], (f) => { out.push({ kind: f.get('kind'), id: f.getId() }); }, { hitTolerance: 2 });
    return out;
  },
  // Milliseconds per synchronous map render while panning `frames` steps
  // (the cost of a frame with everything on the map; the view is restored).
  measurePan(frames = 30) {
    const c = view.getCenter();
    const t0 = performance.now();
    for (let i = 1; i <= frames; i++) {
      view.setCenter([c[0] + i * 40, c[1] + i * 20]);
      map.renderSync();
    }
    view.setCenter(c);
    return (performance.now() - t0) / frames;
  },
  get draft() { return draftCoord ? [...draftCoord] : null; },
});

takeTokenFromUrl();
updateCounts();
session.start();
