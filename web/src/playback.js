// The replay page's arithmetic (pure functions, no DOM, no map): a unit's
// position at an instant from its loaded track, the fading trail behind it,
// its status then (from the incidents' assignments), incidents visible then,
// and the patrol presence of an area accumulated up to then (from its visits).
// Shapes are those of docs/api.md: GET /api/v1/tracks, /incidents,
// /reports/coverage/visits.

// A unit's track from GET /api/v1/tracks (json) in typed arrays, times in
// epoch ms, fixes in time order: {id, t, lat, lon, n, fixCount, stops, trips}.
export function packTrack(u) {
  const fixes = u.fixes || [];
  const n = fixes.length;
  const t = new Float64Array(n), lat = new Float64Array(n), lon = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = Date.parse(fixes[i].time);
    lat[i] = fixes[i].lat;
    lon[i] = fixes[i].lon;
  }
  return { id: u.unit, t, lat, lon, n, fixCount: u.fix_count ?? n, stops: u.stops || [], trips: u.trips || [] };
}

// Index of the last fix at or before `at` (-1: none).
export function fixAtOrBefore(track, at) {
  let lo = 0, hi = track.n - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (track.t[mid] <= at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

// The position at `at` as GET /api/v1/positions answers it: a fix exactly at
// `at` as is; else linear between the last fix before and the first after
// when they are at most maxGapMs apart; else null (not tracked then).
// Returns {lon, lat, heading (degrees, null when standing), speed (m/s)} or null.
export function positionAt(track, at, maxGapMs) {
  const i = fixAtOrBefore(track, at);
  if (i < 0) return null;
  const j = i + 1;
  const exact = track.t[i] === at;
  if (!exact && (j >= track.n || track.t[j] - track.t[i] > maxGapMs)) return null;
  // The motion of the pair around `at` (or, at a fix, the one after it, else before).
  const a = exact && (j >= track.n || track.t[j] - track.t[i] > maxGapMs) ? i - 1 : i;
  let heading = null, speed = 0;
  if (a >= 0 && a + 1 < track.n && track.t[a + 1] - track.t[a] <= maxGapMs) {
    const d = metresBetween(track.lat[a], track.lon[a], track.lat[a + 1], track.lon[a + 1]);
    speed = d / ((track.t[a + 1] - track.t[a]) / 1000);
    if (d > 0.5) heading = bearing(track.lat[a], track.lon[a], track.lat[a + 1], track.lon[a + 1]);
  }
  if (exact) return { lon: track.lon[i], lat: track.lat[i], heading, speed };
  const f = (at - track.t[i]) / (track.t[j] - track.t[i]);
  return {
    lon: track.lon[i] + f * (track.lon[j] - track.lon[i]),
    lat: track.lat[i] + f * (track.lat[j] - track.lat[i]),
    heading,
    speed,
  };
}

const R = 6371008.8;
const rad = (d) => (d * Math.PI) / 180;

// Metres between two nearby points (equirectangular; for headings and speeds).
export function metresBetween(lat1, lon1, lat2, lon2) {
  const x = rad(lon2 - lon1) * Math.cos(rad((lat1 + lat2) / 2));
  const y = rad(lat2 - lat1);
  return Math.hypot(x, y) * R;
}

// Initial bearing from point 1 to point 2 in degrees clockwise from north.
export function bearing(lat1, lon1, lat2, lon2) {
  const x = rad(lon2 - lon1) * Math.cos(rad((lat1 + lat2) / 2));
  const y = rad(lat2 - lat1);
  return (((Math.atan2(x, y) * 180) / Math.PI) + 360) % 360;
}

// The trail behind a unit at `at`: the last trailMs of its track cut into
// `pieces` equal stretches of time, newest first, each a list of lines
// ([[lon, lat], ...], at least 2 points) broken where fixes are more than
// maxGapMs apart (the unit was not tracked there).
export function trailPieces(track, at, trailMs, pieces, maxGapMs) {
  const out = [];
  const span = trailMs / pieces;
  for (let k = 0; k < pieces; k++) out.push(pathBetween(track, at - (k + 1) * span, at - k * span, maxGapMs));
  return out;
}

// The track's path over [t0, t1] as lines, each end interpolated.
export function pathBetween(track, t0, t1, maxGapMs) {
  const lines = [];
  if (track.n === 0 || t1 <= t0) return lines;
  let line = [];
  const flush = () => {
    if (line.length >= 2) lines.push(line);
    line = [];
  };
  const start = positionAt(track, t0, maxGapMs);
  if (start) line.push([start.lon, start.lat]);
  let i = fixAtOrBefore(track, t0) + 1;
  for (; i < track.n && track.t[i] < t1; i++) {
    if (i > 0 && track.t[i] - track.t[i - 1] > maxGapMs) flush();
    line.push([track.lon[i], track.lat[i]]);
  }
  const end = positionAt(track, t1, maxGapMs);
  if (end) {
    if (i > 0 && i < track.n && track.t[i] - track.t[i - 1] > maxGapMs) flush();
    line.push([end.lon, end.lat]);
  }
  flush();
  return lines;
}

// ---- incidents ------------------------------------------------------------

// Incidents of GET /api/v1/incidents that overlap [from, to]: created by `to`
// and not closed before `from`. Times are parsed once: {..., createdMs, closedMs}.
export function incidentsInWindow(list, from, to) {
  return (list || [])
    .map((inc) => ({ ...inc, createdMs: Date.parse(inc.created), closedMs: inc.closed ? Date.parse(inc.closed) : Infinity }))
    .filter((inc) => inc.createdMs <= to && inc.closedMs >= from)
    .sort((a, b) => a.createdMs - b.createdMs);
}

// Whether an incident is on the map at `at`: from its creation until it closes.
export const incidentVisible = (inc, at) => inc.createdMs <= at && at < inc.closedMs;

// A unit's dispatch status at `at` from the incidents' assignments: on_scene,
// en_route or assigned while deployed (the most advanced stage), else `patrol`
// (the page knows no more: rota and manual statuses are not replayed).
const STAGES = ['assigned', 'en_route', 'on_scene'];
export function unitStatusAt(incidents, unit, at) {
  let best = -1, incident = null;
  for (const inc of incidents) {
    if (!(inc.createdMs <= at && at < inc.closedMs)) continue;
    for (const a of inc.assignments || []) {
      if (a.unit !== unit || !a.assigned || Date.parse(a.assigned) > at) continue;
      if (a.cleared && Date.parse(a.cleared) <= at) continue;
      let stage = 0;
      for (let s = 2; s > 0; s--) {
        if (a[STAGES[s]] && Date.parse(a[STAGES[s]]) <= at) {
          stage = s;
          break;
        }
      }
      if (stage > best) {
        best = stage;
        incident = inc.id;
      }
    }
  }
  return best < 0 ? { status: 'patrol', incident: null } : { status: STAGES[best], incident };
}

// ---- coverage building up ---------------------------------------------------

// An area's visits (GET /api/v1/reports/coverage/visits) as [startMs, endMs] in
// start order.
export const visitIntervals = (visits) =>
  (visits || []).map((v) => [Date.parse(v.start), Date.parse(v.end)]).sort((a, b) => a[0] - b[0]);

// Presence up to `at`: the length in seconds of the union of the visits
// clipped to [from, at] (somebody was there), and the visits begun by then.
// Visits already merge a unit's exits of up to visit_merge_s, so brief exits
// count as presence here (the report's presence_seconds leaves them out).
export function presenceUpTo(intervals, from, at) {
  let total = 0, curStart = null, curEnd = null, visits = 0;
  for (const [s0, e0] of intervals) {
    if (s0 > at) break;
    visits++;
    const s = Math.max(s0, from), e = Math.min(e0, at);
    if (e <= s) continue;
    if (curEnd !== null && s <= curEnd) {
      curEnd = Math.max(curEnd, e);
    } else {
      if (curEnd !== null) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    }
  }
  if (curEnd !== null) total += curEnd - curStart;
  return { seconds: total / 1000, visits };
}

// ---- small helpers -----------------------------------------------------------

export function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

// Runs `f` over `items` with at most `limit` calls in flight; results in order.
export async function mapLimited(items, limit, f) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
