// The coverage report as the sergeant's page shows it (pure functions, no DOM,
// no map): whether an area's target is met, partly or not, its shade, the
// derived columns (minutes) and the table's sort order. The rows are those of
// GET /api/v1/reports/coverage (docs/api.md "Patrol coverage reports").

// Shades: a target met green, partly amber, not met red; without a target, blue
// by minutes of presence in the window (light to dark).
export const TARGET_FILL = {
  met: 'rgba(30,158,58,0.55)',
  partly: 'rgba(240,165,0,0.6)',
  not: 'rgba(206,17,38,0.55)',
};
export const PRESENCE_BINS = [  // [minutes at least, fill, legend]
  [0, 'rgba(222,235,247,0.6)', 'none'],
  [Number.MIN_VALUE, 'rgba(158,202,225,0.65)', 'under 15 min'],
  [15, 'rgba(66,146,198,0.65)', '15-60 min'],
  [60, 'rgba(8,69,148,0.7)', '60 min or more'],
];
const PARTS = [['visits', 'visits'], ['minutes', 'minutes'], ['gap', 'max_gap_minutes']];

// The target's parts that are required (a zero or absent field is no
// requirement), each with whether it is met: [{part, met}].
export function requiredParts(row) {
  if (!row.target || !row.target_parts) return [];
  return PARTS.filter(([, field]) => Number(row.target[field]) > 0)
    .map(([part]) => ({ part, met: !!row.target_parts[part] }));
}

// 'met' | 'partly' | 'not' | 'none' (no target).
export function targetState(row) {
  if (!row.target || row.target_met == null) return 'none';
  if (row.target_met) return 'met';
  return requiredParts(row).some((p) => p.met) ? 'partly' : 'not';
}

export function presenceFill(minutes) {
  let fill = PRESENCE_BINS[0][1];
  for (const [from, f] of PRESENCE_BINS) if (minutes >= from) fill = f;
  return fill;
}

export function areaFill(row) {
  const s = targetState(row);
  return s === 'none' ? presenceFill(row.presence_seconds / 60) : TARGET_FILL[s];
}

const TARGET_RANK = { none: -1, not: 0, partly: 1, met: 2 };

// A report row with the columns the table shows and sorts by.
export function deriveRow(r) {
  const state = targetState(r);
  return {
    ...r,
    presence_min: r.presence_seconds / 60,
    unit_min: r.unit_seconds / 60,
    longest_gap_min: r.longest_gap_seconds / 60,
    target_state: state,
    target_rank: TARGET_RANK[state],
  };
}

// Sort keys per column: last visit by time (never first when ascending),
// target by met > partly > not > none, names by locale, ties by name.
const KEY = {
  name: (r) => r.name || r.id,
  last_visit_end: (r) => (r.last_visit_end ? Date.parse(r.last_visit_end) : -Infinity),
  target: (r) => r.target_rank,
};
export function sortRows(rows, key, dir = 'asc') {
  const get = KEY[key] || ((r) => r[key]);
  const sign = dir === 'desc' ? -1 : 1;
  const cmp = (a, b) => (typeof a === 'string' || typeof b === 'string' ? String(a).localeCompare(String(b)) : a - b);
  return [...rows].sort((a, b) => sign * cmp(get(a), get(b)) || String(a.name).localeCompare(String(b.name)));
}

export function minutesText(m) {
  return m >= 100 ? String(Math.round(m)) : m.toFixed(1);
}

// Local date and time of an ISO instant ("never" for null).
export function localTime(iso) {
  if (!iso) return 'never';
  return new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// "met", "not met", "partly: visits ✓ minutes ✗ gap ✓", "no target".
export function targetText(row) {
  const s = row.target_state || targetState(row);
  if (s === 'none') return 'no target';
  const parts = requiredParts(row).map((p) => `${p.part} ${p.met ? '\u2713' : '\u2717'}`).join(' ');
  const head = s === 'met' ? 'met' : s === 'partly' ? 'partly' : 'not met';
  return parts ? `${head}: ${parts}` : head;
}

// The target as asked for: "3 visits, 45 min, gap <= 120 min".
export function targetSummary(t) {
  if (!t) return 'no target';
  const out = [];
  if (t.visits > 0) out.push(`${t.visits} visits`);
  if (t.minutes > 0) out.push(`${t.minutes} min`);
  if (t.max_gap_minutes > 0) out.push(`gap \u2264 ${t.max_gap_minutes} min`);
  return out.length ? out.join(', ') : 'no requirement';
}

// The window choices of GET /api/v1/shifts as [[value, text]]: the running
// shift ("current"), the others newest first (value: index in `shifts`), then
// "custom".
export function shiftChoices(sh) {
  const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const out = [['current', sh && sh.current ? `now: ${sh.current.label} shift` : 'current shift']];
  ((sh && sh.shifts) || []).map((s, i) => [s, i]).reverse()
    .filter(([s]) => !sh.current || s.start !== sh.current.start)
    .forEach(([s, i]) => out.push([String(i), `${s.label} - ${hm(s.end)}`]));
  out.push(['custom', 'custom window...']);
  return out;
}
