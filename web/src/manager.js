// The manager's page (/manager.html): the four management reports (GET
// /api/v1/reports/response-times, mileage, deployments, demand) for a window,
// each as a table with a small chart and a CSV download. No map and no live
// feed: reports are fetched when the window changes (and on Load).
import './app.css';
import './manager.css';
import { ApiError, api, downloadFile, setToken, setUnauthorizedHandler, takeTokenFromUrl, token } from './api.js';
import { barChart, hourChart } from './charts.js';
import { REPORTS, fixed, kmByUnit, localTime, minutes, percent, unitsText, windowQuery } from './reports.js';
import { toastError } from './toast.js';

const WHY = 'Paste a manager, sergeant or admin token.';
const GRADE_COLOURS = { 1: '#d7191c', 2: '#f57c00', 3: '#c9a400' };
const PROFILE = [
  { key: 'sun_thu', name: 'Sun-Thu', color: '#2b6cb0' },
  { key: 'fri_sat', name: 'Fri-Sat', color: '#c53030' },
];

const state = {
  report: 'idle',  // idle | loading | ready | error
  error: null,     // the last error code
  loads: 0,        // completed loads
  window: null,    // query parameters of the last load
  answers: {},     // report name -> its JSON answer
};
let loadSeq = 0;

const $ = (id) => document.getElementById(id);
const preset = $('preset');
const reportState = $('report-state');

function td(text, cls) {
  const c = document.createElement('td');
  c.textContent = text == null ? '' : String(text);
  if (cls) c.className = cls;
  return c;
}
function tr(cells, cls) {
  const r = document.createElement('tr');
  r.append(...cells);
  if (cls) r.className = cls;
  return r;
}
const num = (v) => td(v, 'num');
const isoFromLocal = (v) => (v ? new Date(v).toISOString() : null);

function chosenWindow() {
  const q = windowQuery({ preset: preset.value, from: isoFromLocal($('from').value), to: isoFromLocal($('to').value) });
  return q;
}

function query(name) {
  const q = new URLSearchParams(state.window || chosenWindow());
  if (name === 'mileage') q.set('barely_used_km', $('barely-km').value || '5');
  return q;
}

// ---- rendering -----------------------------------------------------------

function renderResponse(a) {
  $('response-table').tBodies[0].replaceChildren(...a.grades.map((g) => tr([
    td(`Grade ${g.grade}`), num(g.incidents), num(g.attended), num(minutes(g.median_s)), num(minutes(g.p90_s)),
    num(percent(g.share_within_target)), num(g.breaches.length), num(g.cancelled), num(g.pending),
  ])));
  $('breach-table').tBodies[0].replaceChildren(...a.grades.flatMap((g) => g.breaches).map((b) => tr([
    td(b.incident), td(b.grade), td(localTime(b.created)), td(localTime(b.target)),
    td(b.arrived ? localTime(b.arrived) : b.closed_unattended ? 'closed, nobody attended' : 'not yet'), num(minutes(b.seconds)),
  ])));
  $('response-chart').replaceChildren(barChart(a.grades.map((g) => ({
    label: `Grade ${g.grade}`, value: g.share_within_target == null ? 0 : g.share_within_target * 100,
    color: GRADE_COLOURS[g.grade], title: `${g.met} of ${g.judged} within target`,
    text: g.share_within_target == null ? 'nothing judged' : undefined,
  })), { max: 100, unit: '%', format: (v) => fixed(v, 1), width: 300 }));
}

function renderMileage(a) {
  $('mileage-table').tBodies[0].replaceChildren(...a.rows.map((r) => tr([
    td(r.unit), td(r.shift.label), num(fixed(r.km, 2)), num(r.fixes), num(r.stops), num(fixed(r.moving_minutes, 1)),
    td(r.on_rota ? 'on rota' : ''), td(r.barely_used ? 'barely used' : ''),
  ], r.barely_used ? 'barely' : '')));
  const units = kmByUnit(a.rows).slice(0, 25);
  $('mileage-chart').replaceChildren(barChart(units.map((u) => ({
    label: u.unit, value: u.km, color: u.barely ? '#e0a040' : '#4a78a8', title: `${fixed(u.km, 2)} km`,
  })), { unit: ' km', format: (v) => fixed(v, 1), width: 300 }));
}

function renderDeployments(a) {
  $('deployment-table').tBodies[0].replaceChildren(...a.shifts.map((s) => tr([
    td(s.label), num(s.incidents), num(s.deployments), num(s.multi_unit_incidents), num(s.forced), num(s.self_deployed),
  ])));
  $('deployment-list').tBodies[0].replaceChildren(...a.shifts.flatMap((s) => s.incidents_listed.map((d) => tr([
    td(s.label), td(d.incident), td(d.grade), td(unitsText(d.units)),
  ]))));
}

function renderDemand(a) {
  const rows = [];
  for (let h = 0; h < 24; ++h) {
    const st = a.profiles.sun_thu[h], fs = a.profiles.fri_sat[h];
    rows.push(tr([td(`${String(h).padStart(2, '0')}:00`), num(fixed(st.incidents_per_day, 2)), num(fixed(st.units_on_duty, 1)),
      num(fixed(fs.incidents_per_day, 2)), num(fixed(fs.units_on_duty, 1))]));
  }
  $('demand-table').tBodies[0].replaceChildren(...rows);
  $('demand-chart').replaceChildren(hourChart(PROFILE.map((p) => ({
    name: p.name, color: p.color,
    bars: a.profiles[p.key].map((c) => c.incidents_per_day), line: a.profiles[p.key].map((c) => c.units_on_duty),
  }))));
}

const RENDER = { 'response-times': renderResponse, mileage: renderMileage, deployments: renderDeployments, demand: renderDemand };

// ---- loading -------------------------------------------------------------

async function loadAll() {
  if (!token()) return signIn();
  if (preset.value === 'custom' && !$('from').value) {
    reportState.textContent = 'choose a start time';
    return;
  }
  const mine = ++loadSeq;
  state.window = chosenWindow();
  state.report = 'loading';
  reportState.textContent = 'loading...';
  try {
    const answers = await Promise.all(REPORTS.map((name) => api(`/api/v1/reports/${name}?${query(name)}`)));
    if (mine !== loadSeq) return;
    REPORTS.forEach((name, i) => {
      state.answers[name] = answers[i];
      RENDER[name](answers[i]);
    });
    state.report = 'ready';
    state.error = null;
    state.loads++;
    const a = answers[0];
    reportState.textContent = `${localTime(a.from)} - ${localTime(a.to)}`;
  } catch (e) {
    if (mine !== loadSeq) return;
    state.report = 'error';
    state.error = e.code || 'error';
    reportState.textContent = `failed: ${state.error}`;
    if (e instanceof ApiError && e.status === 403) signIn('These reports need a manager, sergeant or admin token.');
    else if (!(e instanceof ApiError && e.status === 401)) toastError(e, 'reports');
  }
}

async function loadMileage() {
  if (state.report !== 'ready') return;
  try {
    const a = await api(`/api/v1/reports/mileage?${query('mileage')}`);
    state.answers.mileage = a;
    renderMileage(a);
  } catch (e) {
    toastError(e, 'mileage');
  }
}

// ---- sign-in ---------------------------------------------------------------

function signIn(reason) {
  $('sign-in-why').textContent = reason || WHY;
  if (!$('sign-in').open) $('sign-in').showModal();
}

function clear() {
  state.answers = {};
  state.report = 'idle';
  for (const id of ['response-table', 'breach-table', 'mileage-table', 'deployment-table', 'deployment-list', 'demand-table'])
    $(id).tBodies[0].replaceChildren();
  for (const id of ['response-chart', 'mileage-chart', 'demand-chart']) $(id).replaceChildren();
  reportState.textContent = '';
}

$('sign-in-form').addEventListener('submit', () => {
  const t = $('sign-in-token').value.trim();
  if (!t) return;
  setToken(t);
  $('sign-out').hidden = false;
  loadAll();
});
$('sign-out').addEventListener('click', () => {
  setToken(null);
  clear();
  $('sign-out').hidden = true;
  signIn();
});
setUnauthorizedHandler(() => {
  clear();
  signIn('The token was refused: sign in again.');
});

preset.addEventListener('change', () => {
  $('custom').hidden = preset.value !== 'custom';
  if (preset.value !== 'custom') loadAll();
});
$('window-form').addEventListener('submit', (e) => {
  e.preventDefault();
  loadAll();
});
$('barely-km').addEventListener('change', loadMileage);
for (const b of document.querySelectorAll('button.csv')) {
  b.addEventListener('click', async () => {
    const name = b.dataset.report;
    try {
      await downloadFile(`/api/v1/reports/${name}?${query(name)}&format=csv`, `${name}.csv`);
    } catch (e) {
      toastError(e, `${name} CSV`);
    }
  });
}

// Read-only hooks for the browser tests.
window.__manager = {
  get state() {
    return { report: state.report, error: state.error, loads: state.loads, window: state.window && state.window.toString() };
  },
  answer: (name) => state.answers[name],
};

takeTokenFromUrl();
if (token()) {
  $('sign-out').hidden = false;
  loadAll();
} else {
  signIn();
}
