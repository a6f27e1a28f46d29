// The replay page (/replay.html): a shift or any window played back on the
// map. Everything is loaded once per window and played from memory, so
// playback does not touch the server:
// - units: the ids typed, else every unit of GET /api/v1/units; their tracks
//   (GET /api/v1/tracks, 50 units a request, 2 requests at a time); units
//   with no fix in the window are left out;
// - incidents: GET /api/v1/incidents (no window parameter: the newest 10,000,
//   kept when they overlap the window);
// - coverage: GET /api/v1/reports/coverage for the window and kind (the areas
//   and max_gap_s), then /reports/coverage/visits once per area (at most
//   MAX_AREAS, 4 at a time); presence up to the slider time is summed from
//   those visits.
// Positions at the slider time are interpolated here as the server does
// (playback.js). Sign-in and the basemap are the other pages'.
import 'ol/ol.css';
import './app.css';
import './sergeant.css';
import './replay.css';
import Feature from 'ol/Feature.js';
import MultiLineString from 'ol/geom/MultiLineString.js';
import Point from 'ol/geom/Point.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import { fromLonLat, toLonLat } from 'ol/proj.js';
import { Fill, RegularShape, Stroke, Style, Text } from 'ol/style.js';
import { api, setToken, setUnauthorizedHandler, takeTokenFromUrl, token } from './api.js';
import { UnitsLayer } from './units.js';
import { GRADE_COLOURS } from './incidents.js';
import { addAreas, addBasemap } from './basemap.js';
import { toastError } from './toast.js';
import { fillLegend, fillSelect } from './widgets.js';
import { fitBasemap, makeMap, mapHooks, viewFromParams } from './mapview.js';
import { PRESENCE_BINS, minutesText, presenceFill, shiftChoices } from './coverage.js';
import {
  chunks, incidentVisible, incidentsInWindow, mapLimited, packTrack, positionAt, presenceUpTo, trailPieces,
  unitStatusAt, visitIntervals,
} from './playback.js';

const params = new URLSearchParams(location.search);
const WHY = 'Paste a sergeant, manager or admin token.';
const UNITS_PER_REQUEST = 50;   // the tracks endpoint's limit
const MAX_AREAS = 200;          // visits requests per load
const TRAIL_PIECES = 6;         // the trail fades in this many steps
const DEFAULT_MAX_GAP_S = 180;  // coverage.max_gap_s when the report does not say
const PANEL_MS = 250;           // side panels refresh at most this often while playing
const PALETTE = ['#1f63d6', '#d6311f', '#1e9e3a', '#8e24aa', '#f06a00', '#00838f', '#6d4c41', '#c2185b', '#558b2f', '#3949ab'];

// ---- state ------------------------------------------------------------------

const state = {
  load: 'idle',         // idle | loading | ready | error
  error: null,
  loads: 0,
  from: 0, to: 0,       // the window, epoch ms
  maxGapMs: DEFAULT_MAX_GAP_S * 1000,
  tracks: [],           // packTrack(), with .colour and .shown
  incidents: [],        // incidentsInWindow()
  areas: [],            // [{id, name, intervals, seconds, visits}]
  areaById: new Map(),
  shifts: null,
  following: null,
};
// The clock: while playing, time = base + (wall - wallBase) x speed, so the
// rate does not depend on how often frames are drawn.
const clock = { playing: false, speed: 10, base: 0, wallBase: 0 };
let loadSeq = 0;
let lastPanels = 0;
let lastDrawn = null;

const now = () => performance.now();
function currentTime() {
  if (!clock.playing) return clock.base;
  return Math.min(state.to, clock.base + (now() - clock.wallBase) * clock.speed);
}
function rebase(t) {
  clock.base = Math.max(state.from, Math.min(state.to, t));
  clock.wallBase = now();
}

// ---- the map ------------------------------------------------------------------

const units = new UnitsLayer();
const trails = new VectorLayer({ source: new VectorSource(), zIndex: 18, updateWhileAnimating: true, updateWhileInteracting: true });
trails.set('name', 'trails');
const stops = new VectorLayer({ source: new VectorSource(), zIndex: 17, style: stopStyle });
stops.set('name', 'stops');
const incidents = new VectorLayer({ source: new VectorSource(), zIndex: 16, style: incidentStyle });
incidents.set('name', 'incidents');
const { map, view } = makeMap('map', [incidents, stops, trails, units.layer]);
let areasLayer = null;

const trailStyles = new Map();
function trailStyle(colour, k) {
  const key = `${colour}|${k}`;
  let s = trailStyles.get(key);
  if (!s) {
    // Newest piece (k = 0) nearly opaque, the oldest faint.
    const alpha = Math.round(((TRAIL_PIECES - k) / TRAIL_PIECES) * 0.85 * 255).toString(16).padStart(2, '0');
    s = new Style({ stroke: new Stroke({ color: colour + alpha, width: 3.5, lineCap: 'butt', lineJoin: 'round' }) });
    trailStyles.set(key, s);
  }
  return s;
}

// Stops: a square; the unit's colour once begun (filled while the unit is
// there), faint before; duration as the label when zoomed in.
function stopPhase(f, at) {
  const s = f.get('stop');
  return at < s.startMs ? 'future' : at <= s.endMs ? 'active' : 'past';
}
const stopStyles = new Map();
function stopStyle(f, resolution) {
  const s = f.get('stop');
  const phase = stopPhase(f, currentTime());
  const colour = f.get('colour');
  const key = `${colour}|${phase}`;
  let style = stopStyles.get(key);
  if (!style) {
    style = new Style({
      image: new RegularShape({
        points: 4, radius: phase === 'active' ? 9 : 7, angle: Math.PI / 4,
        fill: new Fill({ color: phase === 'future' ? 'rgba(255,255,255,0.5)' : phase === 'active' ? colour : '#fff' }),
        stroke: new Stroke({ color: phase === 'future' ? 'rgba(80,80,80,0.5)' : colour, width: 2 }),
      }),
      zIndex: phase === 'active' ? 3 : phase === 'past' ? 2 : 1,
    });
    stopStyles.set(key, style);
  }
  if (resolution >= 20 || phase === 'future') return style;
  let label = f.get('label');
  if (!label) {
    label = new Style({
      text: new Text({
        text: `${s.unit} ${Math.round(s.duration_s / 60)} min`, offsetY: 16, font: '11px system-ui, sans-serif',
        fill: new Fill({ color: '#222' }), stroke: new Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
      }),
    });
    f.set('label', label, true);
  }
  return [style, label];
}

// Incidents: grade diamonds from their creation until closed.
const incidentStyles = new Map();
function incidentStyle(f) {
  const inc = f.get('incident');
  if (!incidentVisible(inc, currentTime())) return null;
  let s = incidentStyles.get(inc.grade);
  if (!s) {
    s = new Style({
      image: new RegularShape({
        points: 4, radius: 10, angle: 0,
        fill: new Fill({ color: GRADE_COLOURS[inc.grade] || '#777' }), stroke: new Stroke({ color: '#fff', width: 2 }),
      }),
      text: new Text({ text: String(inc.grade), font: 'bold 11px system-ui, sans-serif', fill: new Fill({ color: inc.grade === 3 ? '#222' : '#fff' }) }),
    });
    incidentStyles.set(inc.grade, s);
  }
  return s;
}

// Areas of the chosen kind shaded by presence accumulated up to the slider time.
const areaStyles = new Map();
const outline = new Stroke({ color: 'rgba(40,40,60,0.7)', width: 1.2 });
function areaStyle(f, resolution) {
  const a = state.areaById.get(f.get('id'));
  if (!a) return null;
  const fill = presenceFill(a.seconds / 60);
  let s = areaStyles.get(fill);
  if (!s) {
    s = new Style({ fill: new Fill({ color: fill }), stroke: outline });
    areaStyles.set(fill, s);
  }
  if (resolution > 8) return s;  // names only close in (they would hide the units)
  return [s, new Style({
    text: new Text({
      text: `${a.name || a.id}\n${minutesText(a.seconds / 60)} min`, font: '600 11px system-ui, sans-serif', overflow: true,
      fill: new Fill({ color: '#111' }), stroke: new Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
    }),
  })];
}

// ---- drawing one instant ---------------------------------------------------------

function render(force = false) {
  const at = currentTime();
  if (!force && at === lastDrawn) return;
  lastDrawn = at;
  const trailMs = Number(document.getElementById('trail').value) * 60000;
  const src = trails.getSource();
  for (const tr of state.tracks) {
    const pos = tr.shown ? positionAt(tr, at, state.maxGapMs) : null;
    if (!pos) {
      units.remove(tr.id);
    } else {
      const st = unitStatusAt(state.incidents, tr.id, at);
      units.upsert({ id: tr.id, lon: pos.lon, lat: pos.lat, heading_deg: pos.heading, speed_mps: pos.speed, status: st.status, incident: st.incident });
    }
    tr.pos = pos;
    const pieces = tr.shown && trailMs > 0 ? trailPieces(tr, at, trailMs, TRAIL_PIECES, state.maxGapMs) : [];
    for (let k = 0; k < TRAIL_PIECES; k++) {
      const fid = `${tr.id}|${k}`;
      let f = src.getFeatureById(fid);
      const lines = (pieces[k] || []).map((l) => l.map((c) => fromLonLat(c)));
      if (!lines.length) {
        if (f) src.removeFeature(f);
        continue;
      }
      if (!f) {
        f = new Feature({ geometry: new MultiLineString(lines) });
        f.setId(fid);
        f.setStyle(trailStyle(tr.colour, k));
        src.addFeature(f);
      } else {
        f.getGeometry().setCoordinates(lines);
      }
    }
  }
  if (state.following) {
    const tr = state.tracks.find((x) => x.id === state.following);
    if (tr && tr.pos) view.setCenter(fromLonLat([tr.pos.lon, tr.pos.lat]));
  }
  for (const a of state.areas) Object.assign(a, presenceUpTo(a.intervals, state.from, at));
  stops.changed();
  incidents.changed();
  if (areasLayer) areasLayer.changed();
  showClock(at);
  if (!clock.playing || now() - lastPanels > PANEL_MS) renderPanels(at);
}

const slider = document.getElementById('slider');
function showClock(at) {
  slider.value = String(Math.round((at - state.from) / 1000));
  const d = new Date(at);
  document.getElementById('clock').textContent = d.toLocaleString([], {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  document.getElementById('clock').dataset.iso = d.toISOString();
}

function renderPanels(at) {
  lastPanels = now();
  for (const tr of state.tracks) {
    const li = document.querySelector(`#unit-list li[data-unit="${CSS.escape(tr.id)}"]`);
    if (!li) continue;
    const where = li.querySelector('.where');
    const text = !tr.shown ? 'hidden' : tr.pos ? statusText(tr.id, at) : 'not tracked';
    if (where.textContent !== text) where.textContent = text;
    li.classList.toggle('following', state.following === tr.id);
  }
  const visible = state.incidents.filter((inc) => incidentVisible(inc, at));
  const list = document.getElementById('incident-list');
  const ids = visible.map((inc) => inc.id).join(',');
  if (list.dataset.ids !== ids) {
    list.dataset.ids = ids;
    list.replaceChildren(...visible.map((inc) => {
      const li = document.createElement('li');
      li.dataset.id = inc.id;
      li.dataset.grade = inc.grade;
      li.textContent = `#${inc.id} grade ${inc.grade} ${inc.type} · ${hm(inc.createdMs)}${inc.address ? ' · ' + inc.address : ''}`;
      li.addEventListener('click', () => view.animate({ center: fromLonLat([inc.lon, inc.lat]), zoom: Math.max(view.getZoom(), 15) }));
      return li;
    }));
  }
  document.getElementById('incident-count').textContent = `${visible.length} of ${state.incidents.length}`;
  const tbody = document.querySelector('#coverage-table tbody');
  for (const a of state.areas) {
    const tr = tbody.querySelector(`tr[data-id="${CSS.escape(a.id)}"]`);
    if (!tr) continue;
    tr.children[1].textContent = String(a.visits);
    tr.children[2].textContent = minutesText(a.seconds / 60);
    tr.querySelector('.swatch').style.background = presenceFill(a.seconds / 60);
  }
}

function statusText(id, at) {
  const st = unitStatusAt(state.incidents, id, at);
  return st.incident == null ? 'patrol' : `${st.status.replace('_', ' ')} #${st.incident}`;
}
const hm = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

// ---- playback controls ----------------------------------------------------------

const playBtn = document.getElementById('play');
function setPlaying(on) {
  if (on && currentTime() >= state.to) rebase(state.from);  // from the start again
  rebase(currentTime());
  clock.playing = on && state.load === 'ready';
  playBtn.textContent = clock.playing ? 'Pause' : '\u25B6 Play';
  if (state.to > state.from) render(true);
}
function seek(t) {
  rebase(t);
  render(true);
}
function step(sign) {
  setPlaying(false);
  seek(currentTime() + sign * Number(document.getElementById('step').value) * 1000);
}

playBtn.addEventListener('click', () => setPlaying(!clock.playing));
document.getElementById('step-back').addEventListener('click', () => step(-1));
document.getElementById('step-fwd').addEventListener('click', () => step(1));
slider.addEventListener('input', () => seek(state.from + Number(slider.value) * 1000));
document.getElementById('speed').addEventListener('change', (ev) => {
  rebase(currentTime());
  clock.speed = Number(ev.target.value);
});
document.getElementById('trail').addEventListener('change', () => render(true));
document.getElementById('follow').addEventListener('change', (ev) => follow(ev.target.value || null));
document.addEventListener('keydown', (ev) => {
  if (state.load !== 'ready' || ev.target.closest('input, select, textarea, dialog')) return;
  if (ev.key === ' ') setPlaying(!clock.playing);
  else if (ev.key === 'ArrowLeft') step(-1);
  else if (ev.key === 'ArrowRight') step(1);
  else return;
  ev.preventDefault();
});

function follow(id) {
  state.following = id;
  document.getElementById('follow').value = id || '';
  render(true);
}
// Dragging the map stops following; clicking a unit follows it.
map.on('pointerdrag', () => { if (state.following) follow(null); });
map.on('singleclick', (ev) => {
  const hit = map.forEachFeatureAtPixel(ev.pixel, (f) => f, { hitTolerance: 4, layerFilter: (l) => l === units.layer });
  if (hit) follow(hit.getId());
});

function frame() {
  if (clock.playing) {
    render();
    if (currentTime() >= state.to) setPlaying(false);
  }
  requestAnimationFrame(frame);
}

// ---- the window and loading ---------------------------------------------------

const shiftSelect = document.getElementById('shift');
const isoFromLocal = (v) => (v ? new Date(v).toISOString() : null);
function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// {from, to} as ISO: a shift (the running one up to now) or the custom inputs.
function chosenWindow() {
  const v = shiftSelect.value;
  if (v !== 'custom' && state.shifts) {
    const s = v === 'current' ? state.shifts.current : state.shifts.shifts[Number(v)];
    if (s) return { from: s.start, to: new Date(Math.min(Date.parse(s.end), Date.now())).toISOString() };
  }
  return { from: params.get('from') && !customTouched ? params.get('from') : isoFromLocal(document.getElementById('from').value),
    to: params.get('to') && !customTouched ? params.get('to') : isoFromLocal(document.getElementById('to').value) };
}
let customTouched = false;
for (const id of ['from', 'to']) document.getElementById(id).addEventListener('input', () => { customTouched = true; });

async function loadShifts() {
  const sh = await api('/api/v1/shifts');
  state.shifts = sh;
  // A link with ?from=&to= opens on that custom window.
  fillSelect(shiftSelect, shiftChoices(sh), params.has('from') ? 'custom' : 'current');
  showWindowInputs();
}

function showWindowInputs() {
  const w = chosenWindow();
  if (shiftSelect.value !== 'custom' || !customTouched) {
    if (w.from) document.getElementById('from').value = localInput(Date.parse(w.from));
    if (w.to) document.getElementById('to').value = localInput(Date.parse(w.to));
  }
}

function setLoadState(s, text) {
  state.load = s;
  document.getElementById('load-state').textContent = text;
}

async function load() {
  const w = chosenWindow();
  const from = Date.parse(w.from), to = Date.parse(w.to);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    setLoadState('error', 'choose a window: from before to');
    state.error = 'bad_window';
    return;
  }
  const mine = ++loadSeq;
  setPlaying(false);
  setLoadState('loading', 'loading...');
  const q = (extra) => new URLSearchParams([['from', w.from], ['to', w.to], ...extra]);
  const kind = document.getElementById('kind').value;
  try {
    const typed = document.getElementById('units').value.split(/[\s,]+/).filter(Boolean);
    const ids = typed.length ? typed : ((await api('/api/v1/units')).units || []).map((u) => u.id);
    const answers = await mapLimited(chunks(ids, UNITS_PER_REQUEST), 2,
      (part) => api('/api/v1/tracks?' + q(part.map((id) => ['unit', id]))));
    const tracks = answers.flatMap((a) => a.units || []).map(packTrack).filter((t) => typed.length || t.n > 0);
    const [incs, report] = await Promise.all([
      api('/api/v1/incidents?limit=10000').catch((e) => { toastError(e, 'Incidents'); return null; }),
      api('/api/v1/reports/coverage?' + q([['kind', kind === 'none' ? '-' : kind]])).catch((e) => { toastError(e, 'Coverage'); return null; }),
    ]);
    const areas = report && kind !== 'none' ? (report.areas || []).slice(0, MAX_AREAS) : [];
    const visits = await mapLimited(areas, 4, (a) => api('/api/v1/reports/coverage/visits?' + q([['area', a.id]]))
      .catch(() => ({ visits: [] })));
    if (mine !== loadSeq) return;
    state.from = from;
    state.to = to;
    state.maxGapMs = ((report && report.params && report.params.max_gap_s) || DEFAULT_MAX_GAP_S) * 1000;
    state.tracks = tracks.map((t, i) => ({ ...t, colour: PALETTE[i % PALETTE.length], shown: true, pos: null }));
    state.incidents = incidentsInWindow(incs && incs.incidents, from, to);
    state.areas = areas.map((a, i) => ({ id: a.id, name: a.name, intervals: visitIntervals(visits[i].visits), seconds: 0, visits: 0 }));
    state.areaById = new Map(state.areas.map((a) => [a.id, a]));
    if (report && report.areas && report.areas.length > MAX_AREAS) toastError({ code: 'partial', message: `coverage shown for the first ${MAX_AREAS} areas` });
  } catch (e) {
    if (mine !== loadSeq) return;
    state.error = e.code;
    setLoadState('error', `load failed (${e.code})`);
    if (e.status === 403) signIn(`This page needs a sergeant, manager or admin token (${e.code}).`);
    else toastError(e, 'Replay');
    return;
  }
  // The areas as they are now (loaded or replaced since the page opened).
  if (state.areas.length) {
    const old = areasLayer;
    const layer = await addAreas(map, { style: areaStyle });
    if (layer) {
      if (old) map.removeLayer(old);
      areasLayer = layer;
    }
  }
  if (mine !== loadSeq) return;
  state.error = null;
  state.loads++;
  if (state.following && !state.tracks.some((t) => t.id === state.following)) state.following = null;
  buildLayers();
  const fixes = state.tracks.reduce((n, t) => n + t.n, 0);
  setLoadState('ready', `${state.tracks.length} units · ${fixes} fixes · ${state.incidents.length} incidents · ${state.areas.length} areas`);
  slider.max = String(Math.round((to - from) / 1000));
  for (const id of ['play', 'step-back', 'step-fwd', 'slider']) document.getElementById(id).disabled = false;
  seek(from);
}

// Layers and lists for a newly loaded window.
function buildLayers() {
  units.clear();
  trails.getSource().clear(true);
  stops.getSource().clear(true);
  stops.getSource().addFeatures(state.tracks.flatMap((t) => t.stops.map((s) => {
    const f = new Feature({ geometry: new Point(fromLonLat([s.lon, s.lat])) });
    f.set('stop', { ...s, unit: t.id, startMs: Date.parse(s.start), endMs: Date.parse(s.end) }, true);
    f.set('colour', t.colour, true);
    f.set('unit', t.id, true);
    return f;
  })));
  incidents.getSource().clear(true);
  incidents.getSource().addFeatures(state.incidents.map((inc) => {
    const f = new Feature({ geometry: new Point(fromLonLat([inc.lon, inc.lat])) });
    f.setId(inc.id);
    f.set('incident', inc, true);
    return f;
  }));
  lastDrawn = null;
  unitList();
  coverageTable();
}

function unitList() {
  const list = document.getElementById('unit-list');
  list.replaceChildren(...state.tracks.map((t) => {
    const li = document.createElement('li');
    li.dataset.unit = t.id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = t.shown;
    box.title = 'Show this unit';
    box.addEventListener('change', () => {
      t.shown = box.checked;
      render(true);
    });
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = t.colour;
    const name = document.createElement('span');
    name.className = 'callsign';
    name.textContent = t.id;
    const info = document.createElement('span');
    info.className = 'muted small';
    info.textContent = `${t.fixCount} fixes · ${t.stops.length} stops`;
    const where = document.createElement('span');
    where.className = 'where';
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.textContent = 'Follow';
    btn.addEventListener('click', () => follow(state.following === t.id ? null : t.id));
    li.append(box, sw, name, info, where, btn);
    return li;
  }));
  document.getElementById('unit-count').textContent = String(state.tracks.length);
  const sel = document.getElementById('follow');
  const none = document.createElement('option');
  none.value = '';
  none.textContent = 'nobody';
  sel.replaceChildren(none, ...state.tracks.map((t) => {
    const o = document.createElement('option');
    o.value = t.id;
    o.textContent = t.id;
    return o;
  }));
  sel.value = state.following || '';
}

function coverageTable() {
  const tbody = document.querySelector('#coverage-table tbody');
  tbody.replaceChildren(...state.areas.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    const name = document.createElement('td');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    name.append(sw, document.createTextNode(a.name || a.id));
    const v = document.createElement('td');
    v.className = 'num';
    const m = document.createElement('td');
    m.className = 'num';
    tr.append(name, v, m);
    return tr;
  }));
  document.getElementById('area-count').textContent = String(state.areas.length);
}

function legend() {
  fillLegend(document.getElementById('legend'), [['Presence so far', PRESENCE_BINS.map(([, fill, text]) => [fill, text])]]);
}

// ---- sign-in and start ---------------------------------------------------------

function signIn(why) {
  const dlg = document.getElementById('sign-in');
  document.getElementById('sign-in-why').textContent = why || WHY;
  if (!dlg.open) dlg.showModal();
}
setUnauthorizedHandler(() => signIn('The server refused the token. Sign in again.'));
document.getElementById('sign-in-form').addEventListener('submit', () => {
  const t = document.getElementById('sign-in-token').value.trim();
  if (t) {
    setToken(t);
    begin();
  }
});
document.getElementById('sign-out').addEventListener('click', () => {
  setToken(null);
  location.reload();
});

let begun = false;
async function begin() {
  if (!token()) return signIn(WHY);
  document.getElementById('sign-out').hidden = false;
  try {
    await loadShifts();
  } catch (e) {
    if (e.status === 401) return;
    toastError(e, 'Shifts');
  }
  if (!begun) {
    begun = true;
    fitBasemap(map, await addBasemap(map, { tiles: params.get('tiles') }), params);
  }
  if (params.has('from') && params.has('to')) load();
}

shiftSelect.addEventListener('change', () => {
  showWindowInputs();
  if (shiftSelect.value !== 'custom') load();
});
document.getElementById('window-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  load();
});
document.getElementById('kind').addEventListener('change', () => { if (state.load === 'ready') load(); });

if (params.has('units')) document.getElementById('units').value = params.get('units');
if (params.has('kind')) document.getElementById('kind').value = params.get('kind');
if (params.has('speed')) document.getElementById('speed').value = params.get('speed');
clock.speed = Number(document.getElementById('speed').value);
viewFromParams(view, params);
legend();
requestAnimationFrame(frame);

// Read-only state for tests and the curious (no token, no write access).
const iso = (ms) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
window.__replay = Object.freeze({
  get state() {
    return { load: state.load, error: state.error, loads: state.loads, from: iso(state.from), to: iso(state.to),
      time: iso(currentTime()), timeMs: currentTime(), playing: clock.playing, speed: clock.speed,
      following: state.following, maxGapS: state.maxGapMs / 1000 };
  },
  units() { return state.tracks.map((t) => ({ id: t.id, fixes: t.n, fixCount: t.fixCount, stops: t.stops.length, shown: t.shown })); },
  // Where each loaded unit's marker is drawn now ([lon, lat] read back from
  // the map's feature), null while it is not drawn (not tracked, hidden).
  positions() {
    const out = {};
    for (const t of state.tracks) {
      const f = units.source.getFeatureById(t.id);
      out[t.id] = f ? { lon: toLonLat(f.getGeometry().getCoordinates())[0], lat: toLonLat(f.getGeometry().getCoordinates())[1],
        status: f.get('unit').status } : null;
    }
    return out;
  },
  stops() {
    const at = currentTime();
    return stops.getSource().getFeatures().map((f) => {
      const s = f.get('stop');
      const [lon, lat] = toLonLat(f.getGeometry().getCoordinates());
      return { unit: s.unit, lon, lat, start: s.start, end: s.end, duration_s: s.duration_s, phase: stopPhase(f, at) };
    });
  },
  incidents() { return state.incidents.filter((inc) => incidentVisible(inc, currentTime())).map((inc) => inc.id); },
  coverage() { return state.areas.map((a) => ({ id: a.id, name: a.name, seconds: a.seconds, visits: a.visits })); },
  trailPoints(id) {
    return [...Array(TRAIL_PIECES).keys()].map((k) => {
      const f = trails.getSource().getFeatureById(`${id}|${k}`);
      return f ? f.getGeometry().getCoordinates().reduce((n, l) => n + l.length, 0) : 0;
    });
  },
  center() { return toLonLat(view.getCenter()); },
  // An area's fill as drawn now (null: not on the map).
  areaFill(id) {
    const f = areasLayer && areasLayer.getSource().getFeatures().find((x) => x.get('id') === id);
    let s = f ? areaStyle(f, view.getResolution()) : null;
    if (Array.isArray(s)) s = s[0];
    return s ? s.getFill().getColor() : null;
  },
  ...mapHooks(map),  // pixelFor(lon, lat), layerNames()
});

takeTokenFromUrl();
begin();
