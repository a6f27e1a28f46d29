// The management reports as the manager's page shows them (pure functions, no
// DOM): number and time formats, the report query, sums for the charts. The
// answers are those of GET /api/v1/reports/* (docs/api.md "Management reports").

export const REPORTS = ['response-times', 'mileage', 'deployments', 'demand'];

// ISO UTC -> "22/11 08:10" in the browser's time zone ('' for null).
export function localTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getDate())}/${p(d.getMonth() + 1)} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// Seconds -> minutes with one decimal ("12.5"); '' for null.
export function minutes(s) {
  return s == null ? '' : (Math.round((s / 60) * 10) / 10).toFixed(1);
}

// 0..1 -> "50%" (one decimal when not whole); '' for null.
export function percent(x) {
  if (x == null) return '';
  const v = Math.round(x * 1000) / 10;
  return `${Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)}%`;
}

// A number with at most `digits` decimals, trailing zeros dropped.
export function fixed(x, digits = 1) {
  if (x == null) return '';
  return String(Number(x.toFixed(digits)));
}

// The window: {preset: '7'|'1'|'31'|'custom', from, to} -> query parameters
// (absent from/to: the server's default, the last 7 days).
export function windowQuery({ preset, from, to }, now = Date.now()) {
  const q = new URLSearchParams();
  if (preset === 'custom') {
    if (from) q.set('from', from);
    if (to) q.set('to', to);
  } else {
    const days = Number(preset) || 7;
    q.set('from', new Date(now - days * 86400000).toISOString());
    q.set('to', new Date(now).toISOString());
  }
  return q;
}

// km per unit over all its shifts, largest first: [{unit, km, barely}].
export function kmByUnit(rows) {
  const by = new Map();
  for (const r of rows) {
    const u = by.get(r.unit) || { unit: r.unit, km: 0, barely: false };
    u.km += r.km;
    u.barely = u.barely || r.barely_used;
    by.set(r.unit, u);
  }
  return [...by.values()].sort((a, b) => b.km - a.km || a.unit.localeCompare(b.unit));
}

// Units of a listed incident: "NA22 (dispatched), NA21 (forced)".
export function unitsText(units) {
  return units.map((u) => `${u.unit} (${u.how})`).join(', ');
}

// A "nice" axis maximum at or above v (1, 2, 5 x 10^n).
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
