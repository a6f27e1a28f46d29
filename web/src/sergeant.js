// The sergeant's page (/sergeant.html): patrol coverage of hot spots,
// micro-beats and neighbourhoods for a shift or any window (GET
// /api/v1/reports/coverage), areas shaded by presence against target, a
// sortable table, who was in an area and when (/reports/coverage/visits), the
// live units and the live alerts (patrol_gap: a hot spot unvisited too long).
// Sign-in, the live feed, alerts and the basemap are the dispatcher page's.
import 'ol/ol.css';
import './app.css';
import './sergeant.css';
import { fromLonLat } from 'ol/proj.js';
import { Fill, Stroke, Style, Text } from 'ol/style.js';
import { api, downloadFile, takeTokenFromUrl, token } from './api.js';
import { UnitsLayer } from './units.js';
import { AlertsBanner } from './alerts.js';
import { addAreas, addBasemap } from './basemap.js';
import { toastError } from './toast.js';
import { fillLegend, fillSelect } from './widgets.js';
import { fitBasemap, followViewport, makeMap, mapBbox, mapHooks, viewFromParams } from './mapview.js';
import { showBadge, wireSession } from './session.js';
import {
  PRESENCE_BINS, TARGET_FILL, areaFill, deriveRow, localTime, minutesText, shiftChoices, sortRows, targetSummary, targetText,
} from './coverage.js';

const params = new URLSearchParams(location.search);
// ?refresh=SECONDS (at least 5): how often a window including now is reloaded.
const REFRESH_MS = Math.max(5, Number(params.get('refresh')) || 60) * 1000;
const WHY = 'Paste a sergeant, manager or admin token.';

const units = new UnitsLayer();
const { map, view } = makeMap('map', [units.layer]);
const badge = document.getElementById('feed-badge');
const shiftSelect = document.getElementById('shift');
const kindSelect = document.getElementById('kind');
const tbody = document.querySelector('#coverage-table tbody');
const reportState = document.getElementById('report-state');
const visitsPanel = document.getElementById('visits-panel');

const state = {
  report: 'idle',       // idle | loading | ready | error
  error: null,          // the last error code
  reports: 0,           // reports loaded (each refresh counts)
  shifts: null,         // GET /api/v1/shifts
  answer: null,         // the last coverage answer (from, to, source, params)
  rows: [],             // its areas, derived (coverage.js), in table order
  sort: { key: 'name', dir: 'asc' },
  selected: null,       // area id
  visits: [],           // the selected area's visits
};
let areasLayer = null;
let started = false;
let loadSeq = 0;

const alerts = new AlertsBanner({
  title: 'Patrolmap coverage',
  onLocate: (lon, lat, a) => {
    if (a && a.kind === 'patrol_gap' && areaFeature(a.area)) return selectArea(a.area, { fit: true });
    view.animate({ center: fromLonLat([lon, lat]), zoom: Math.max(view.getZoom(), 15) });
  },
});

// ---- the window ---------------------------------------------------------

// datetime-local values are local time; the API wants ISO UTC.
const isoFromLocal = (v) => (v ? new Date(v).toISOString() : null);

// {mode, from, to (null: up to now), kind}
function chosenWindow() {
  const v = shiftSelect.value;
  const kind = kindSelect.value;
  if (v === 'custom') {
    return { mode: 'custom', from: isoFromLocal(document.getElementById('from').value), to: isoFromLocal(document.getElementById('to').value), kind };
  }
  const sh = state.shifts;
  if (v === 'current' || !sh) return { mode: 'current', from: sh && sh.current ? sh.current.start : null, to: null, kind };
  const s = sh.shifts[Number(v)];
  return { mode: 'shift', from: s.start, to: s.end, kind };
}

function includesNow(w) {
  return w.mode === 'current' || !w.to || Date.parse(w.to) > Date.now();
}

function reportQuery(w) {
  const q = new URLSearchParams();
  if (w.from) q.set('from', w.from);
  if (w.from && w.to) q.set('to', w.to);
  if (w.kind) q.set('kind', w.kind);
  return q;
}

async function loadShifts() {
  const sh = await api('/api/v1/shifts');
  state.shifts = sh;
  fillSelect(shiftSelect, shiftChoices(sh), 'current');
}

// ---- the report ---------------------------------------------------------

async function loadReport() {
  const w = chosenWindow();
  if (w.mode === 'custom' && !w.from) {
    reportState.textContent = 'choose a start time';
    return;
  }
  const mine = ++loadSeq;
  state.report = 'loading';
  reportState.textContent = 'loading...';
  let answer;
  try {
    answer = await api('/api/v1/reports/coverage?' + reportQuery(w));
  } catch (e) {
    if (mine !== loadSeq) return;
    state.report = 'error';
    state.error = e.code;
    reportState.textContent = `report failed (${e.code})`;
    if (e.status === 403) signIn(`This page needs a sergeant, manager or admin token (${e.code}).`);
    else toastError(e, 'Coverage report');
    return;
  }
  if (mine !== loadSeq) return;  // a newer request was made meanwhile
  state.answer = answer;
  state.rows = sortRows((answer.areas || []).map(deriveRow), state.sort.key, state.sort.dir);
  state.report = 'ready';
  state.error = null;
  state.reports++;
  const span = `${localTime(answer.from)} - ${localTime(answer.to)}`;
  reportState.textContent = `${span} (${answer.source}) · updated ${new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
  renderTable();
  if (state.rows.some((r) => !areaFeature(r.id))) await reloadAreas();  // loaded since
  if (areasLayer) areasLayer.changed();
  if (state.selected) loadVisits(state.selected);
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderTable() {
  document.getElementById('area-count').textContent = `${state.rows.length}`;
  for (const th of document.querySelectorAll('#coverage-table th')) {
    if (th.dataset.key === state.sort.key) th.setAttribute('aria-sort', state.sort.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
  tbody.replaceChildren(...state.rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    tr.classList.toggle('selected', r.id === state.selected);
    const name = cell('');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = areaFill(r);
    name.append(sw, document.createTextNode(r.name || r.id));
    const last = cell(localTime(r.last_visit_end));
    last.dataset.iso = r.last_visit_end || '';
    const target = cell(targetText(r), `target-${r.target_state}`);
    target.title = targetSummary(r.target);
    tr.append(name, cell(String(r.visits), 'num'), cell(String(r.koper_visits), 'num'), cell(minutesText(r.presence_min), 'num'),
      cell(minutesText(r.unit_min), 'num'), last, cell(minutesText(r.longest_gap_min), 'num'), target);
    tr.addEventListener('click', () => selectArea(r.id, { fit: true }));
    return tr;
  }));
}

document.querySelector('#coverage-table thead').addEventListener('click', (ev) => {
  const th = ev.target.closest('th');
  if (!th || !th.dataset.key) return;
  const key = th.dataset.key;
  state.sort = { key, dir: state.sort.key === key && state.sort.dir === 'asc' ? 'desc' : 'asc' };
  state.rows = sortRows(state.rows, state.sort.key, state.sort.dir);
  renderTable();
});

// ---- the map ------------------------------------------------------------

const styleCache = new Map();
function areaStyleFor(f) {
  const id = f.get('id');
  const row = state.rows.find((r) => r.id === id);
  if (!row) return null;  // not in the report (another kind)
  const selected = id === state.selected;
  const fill = areaFill(row);
  const key = `${fill}|${selected}`;
  let s = styleCache.get(key);
  if (!s) {
    s = new Style({
      fill: new Fill({ color: fill }),
      stroke: new Stroke({ color: selected ? '#111' : 'rgba(40,40,60,0.7)', width: selected ? 3 : 1.2 }),
      zIndex: selected ? 2 : 1,
    });
    styleCache.set(key, s);
  }
  if (view.getResolution() > 30) return s;
  return [s, new Style({
    text: new Text({
      text: row.name || id, font: '600 11px system-ui, sans-serif', overflow: true,
      fill: new Fill({ color: '#111' }), stroke: new Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
    }),
  })];
}

// (Re)loads the areas (GET /api/v1/areas): at start, and when a report names
// an area the map does not have (areas loaded since). One reload at a time.
let areasReload = null;
function reloadAreas() {
  areasReload ||= (async () => {
    const old = areasLayer;
    const layer = await addAreas(map, { style: areaStyleFor });
    if (layer) {
      if (old) map.removeLayer(old);
      areasLayer = layer;
    }
  })().finally(() => { areasReload = null; });
  return areasReload;
}

function areaFeature(id) {
  if (!areasLayer || id == null) return null;
  return areasLayer.getSource().getFeatures().find((f) => f.get('id') === id) || null;
}

function selectArea(id, { fit = false } = {}) {
  state.selected = id;
  for (const tr of tbody.querySelectorAll('tr')) {
    const on = tr.dataset.id === id;
    tr.classList.toggle('selected', on);
    if (on) tr.scrollIntoView({ block: 'nearest' });
  }
  if (areasLayer) areasLayer.changed();
  const f = areaFeature(id);
  if (f && fit) view.fit(f.getGeometry().getExtent(), { padding: [60, 60, 60, 60], maxZoom: 17, duration: 250 });
  if (id) loadVisits(id);
  else closeVisits();
}

map.on('singleclick', (ev) => {
  if (!areasLayer) return;
  const hit = map.forEachFeatureAtPixel(ev.pixel, (f) => f, { hitTolerance: 2, layerFilter: (l) => l === areasLayer });
  if (hit) selectArea(hit.get('id'));
});

function legend() {
  fillLegend(document.getElementById('legend'), [
    ['Target', [[TARGET_FILL.met, 'met'], [TARGET_FILL.partly, 'partly met'], [TARGET_FILL.not, 'not met']]],
    ['No target: presence', PRESENCE_BINS.map(([, fill, text]) => [fill, text])],
  ]);
}

// ---- who was there ------------------------------------------------------

function closeVisits() {
  state.visits = [];
  visitsPanel.hidden = true;
  visitsPanel.replaceChildren();
}

async function loadVisits(id) {
  const a = state.answer;
  const q = new URLSearchParams({ area: id });
  if (a) {
    q.set('from', a.from);
    q.set('to', a.to);
  }
  let answer;
  try {
    answer = await api('/api/v1/reports/coverage/visits?' + q);
  } catch (e) {
    toastError(e, 'Visits');
    return;
  }
  if (state.selected !== id) return;
  state.visits = answer.visits || [];
  const row = state.rows.find((r) => r.id === id);
  const f = areaFeature(id);
  const h = document.createElement('h2');
  h.textContent = row ? row.name : f ? f.get('name') : id;
  const info = document.createElement('p');
  info.className = 'muted small';
  info.textContent = `${id} · ${(row && row.kind) || (f && f.get('kind')) || ''} · target ${targetSummary(row && row.target)} · ${localTime(answer.from)} - ${localTime(answer.to)}`;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = 'Close';
  close.addEventListener('click', () => selectArea(null));
  let body;
  if (!state.visits.length) {
    body = document.createElement('p');
    body.className = 'no-visits';
    body.textContent = 'Nobody was there in this window.';
  } else {
    body = document.createElement('table');
    body.className = 'visits';
    const head = document.createElement('tr');
    for (const t of ['Unit', 'Start', 'End', 'Minutes', 'Koper']) {
      const th = document.createElement('th');
      th.textContent = t;
      head.append(th);
    }
    const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    body.append(head, ...state.visits.map((v) => {
      const tr = document.createElement('tr');
      tr.dataset.unit = v.unit;
      const start = cell(hm(v.start));
      start.dataset.iso = v.start;
      const end = cell(hm(v.end));
      end.dataset.iso = v.end;
      tr.append(cell(v.unit, 'callsign'), start, end, cell(minutesText(v.seconds / 60), 'num'), cell(v.koper ? 'yes' : '-'));
      return tr;
    }));
  }
  visitsPanel.hidden = false;
  visitsPanel.replaceChildren(h, info, body, close);
}

// ---- live feed, sign-in, start ------------------------------------------

function setBadge(s) {
  showBadge(badge, s);
  if (s === 'signed_out') signIn('The server refused the token. Sign in again.');
  // Live again after a sign-in or a reconnect: the report may be stale.
  if (s === 'live') started ? loadReport() : begin();
}

const session = wireSession({
  why: WHY,
  feedOptions: {
    bbox: () => mapBbox(map),
    layers: ['units', 'alerts'],
    onSnapshot: (msg) => {
      units.clear();
      for (const u of msg.units || []) units.upsert(u);
      alerts.replace(msg.alerts || []);
    },
    onDelta: (msg) => {
      for (const u of msg.units || []) units.upsert(u);
      for (const id of msg.removed || []) units.remove(id);
      for (const a of msg.alerts || []) alerts.upsert(a);
    },
  },
  clear: () => {
    units.clear();
    alerts.replace([]);
  },
  setBadge,
});
const signIn = session.signIn;

// Once the token is known to be good (the feed is live): basemap, areas,
// shifts, the first report.
async function begin() {
  started = true;
  fitBasemap(map, await addBasemap(map, { tiles: params.get('tiles') }), params);
  await reloadAreas();
  try {
    await loadShifts();
  } catch (e) {
    toastError(e, 'Shifts');
  }
  await loadReport();
}

shiftSelect.addEventListener('change', () => {
  document.getElementById('custom').hidden = shiftSelect.value !== 'custom';
  if (shiftSelect.value !== 'custom') loadReport();
});
kindSelect.addEventListener('change', () => loadReport());
document.getElementById('window-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  loadReport();
});

document.getElementById('csv').addEventListener('click', async () => {
  const w = chosenWindow();
  const q = reportQuery(w);
  q.set('format', 'csv');
  const a = state.answer;
  const stamp = (iso) => (iso || '').slice(0, 16).replace(/[-:T]/g, '');
  try {
    await downloadFile('/api/v1/reports/coverage?' + q, `coverage-${w.kind || 'all'}-${stamp(a ? a.from : w.from)}.csv`);
  } catch (e) {
    toastError(e, 'CSV');
  }
});

// A window that includes now is reloaded every REFRESH_MS; the current shift
// rolls over to the next one when it ends.
setInterval(async () => {
  if (!started || !token() || state.report === 'loading') return;
  const w = chosenWindow();
  if (!includesNow(w)) return;
  if (w.mode === 'current' && state.shifts && state.shifts.current && Date.parse(state.shifts.current.end) <= Date.now()) {
    try {
      await loadShifts();
    } catch {
      return;
    }
  }
  loadReport();
}, REFRESH_MS);
// The minutes of patrol_gap alerts grow while they stay up.
setInterval(() => alerts.render(), 30000);

viewFromParams(view, params);
followViewport(map, session.feed);
legend();

// Read-only state for tests and the curious (no token, no write access).
const copy = (x) => JSON.parse(JSON.stringify(x));
window.__sergeant = Object.freeze({
  get state() {
    const feed = session.feed();
    return { feed: feed ? feed.state : badge.dataset.state, report: state.report, error: state.error, reports: state.reports,
      window: chosenWindow(), sort: { ...state.sort }, source: state.answer ? state.answer.source : null };
  },
  get rows() { return copy(state.rows); },
  get answer() { return state.answer ? copy(state.answer) : null; },
  get shifts() { return state.shifts ? copy(state.shifts) : null; },
  get selectedArea() { return state.selected; },
  get visits() { return copy(state.visits); },
  get alertCount() { return alerts.count(); },
  get unitCount() { return units.count(); },
  // How the map draws an area now: {fill, stroke, width} or null (not shown).
  areaStyle(id) {
    const f = areaFeature(id);
    if (!f) return null;
    let s = areaStyleFor(f);
    if (Array.isArray(s)) s = s[0];
    return s ? { fill: s.getFill().getColor(), stroke: s.getStroke().getColor(), width: s.getStroke().getWidth() } : null;
  },
  // CSS pixel (relative to the map element) inside an area, for clicking it.
  areaPixel(id) {
    const f = areaFeature(id);
    if (!f) return null;
    const g = f.getGeometry();
    const c = g.getType() === 'Polygon' ? g.getInteriorPoint().getCoordinates() : g.getInteriorPoints().getCoordinates()[0];
    const p = map.getPixelFromCoordinate([c[0], c[1]]);
    return p ? [p[0], p[1]] : null;
  },
  ...mapHooks(map),  // pixelFor(lon, lat), layerNames()
});

takeTokenFromUrl();
session.start();
