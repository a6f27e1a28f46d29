// Alerts that cannot be missed: a red banner across the top listing every
// active alert (officer emergency first) with an Acknowledge button
// (POST /api/v1/alerts/{id}/ack). An alert no longer active leaves the banner.
// Both pages use it: the dispatcher's and the sergeant's (patrol_gap alerts:
// a hot spot unvisited for longer than its max_gap_minutes).
import { api } from './api.js';
import { toastError } from './toast.js';

const KIND_LABEL = {
  officer_emergency: 'OFFICER EMERGENCY',
  predicted_breach: 'Predicted breach',
  breach: 'Target breached',
  patrol_gap: 'Hot spot unvisited',
};
const KIND_RANK = { officer_emergency: 0, breach: 1, predicted_breach: 2, patrol_gap: 3 };

// Minutes a patrol_gap alert's hot spot has been unvisited at `now`: what the
// server counted when it raised it plus the time since (the alert ends by
// itself once somebody has been there).
export function unvisitedMinutes(a, now = Date.now()) {
  if (typeof a.unvisited_s !== 'number') return null;
  const since = Date.parse(a.time);
  const extra = Number.isFinite(since) ? Math.max(0, now - since) / 1000 : 0;
  return Math.floor((a.unvisited_s + extra) / 60);
}

export class AlertsBanner {
  // onLocate(lon, lat, alert) for Show; title: the page's name in the tab;
  // ignore: alert kinds this page leaves to another (the dispatcher's page
  // leaves patrol_gap to the sergeant's).
  constructor({ onLocate, title = 'Patrolmap dispatch', ignore = [] }) {
    this.onLocate = onLocate;
    this.title = title;
    this.ignore = new Set(ignore);
    this.box = document.getElementById('alerts');
    this.alerts = new Map();
  }

  upsert(a) {
    if (!a || a.id == null || this.ignore.has(a.kind)) return;
    if (a.active === false) this.alerts.delete(a.id);
    else this.alerts.set(a.id, a);
    this.render();
  }

  remove(id) {
    this.alerts.delete(id);
    this.render();
  }

  replace(list) {
    this.alerts.clear();
    for (const a of list || []) if (a.active !== false && !this.ignore.has(a.kind)) this.alerts.set(a.id, a);
    this.render();
  }

  count() {
    return this.alerts.size;
  }

  render() {
    const list = [...this.alerts.values()].sort((a, b) =>
      (KIND_RANK[a.kind] ?? 9) - (KIND_RANK[b.kind] ?? 9) || (Date.parse(b.time) - Date.parse(a.time)));
    this.box.hidden = list.length === 0;
    this.box.classList.toggle('has-emergency', list.some((a) => a.kind === 'officer_emergency'));
    this.box.replaceChildren(...list.map((a) => this.row(a)));
    document.title = list.length ? `(${list.length}) ${this.title}` : this.title;
  }

  row(a) {
    const r = document.createElement('div');
    r.className = `alert alert-${a.kind}`;
    r.dataset.id = a.id;
    r.dataset.kind = a.kind;
    const what = document.createElement('strong');
    what.textContent = KIND_LABEL[a.kind] || a.kind;
    const detail = document.createElement('span');
    const parts = [];
    if (a.kind === 'patrol_gap') {
      parts.push(a.area_name || a.area);
      const m = unvisitedMinutes(a);
      if (m != null) parts.push(`unvisited ${m} min${a.max_gap_minutes ? ` (max ${a.max_gap_minutes})` : ''}`);
    }
    if (a.unit) parts.push(`unit ${a.unit}`);
    if (a.incident != null) parts.push(`incident #${a.incident}`);
    if (a.time) parts.push(new Date(a.time).toLocaleTimeString());
    if (a.kind === 'predicted_breach' && a.eta_s != null && a.time_left_s != null)
      parts.push(`best ETA ${Math.round(a.eta_s / 60)} min vs ${Math.round(a.time_left_s / 60)} min left`);
    if (a.kind === 'officer_emergency' && a.nearest && a.nearest.length)
      parts.push('nearest: ' + a.nearest.slice(0, 3).map((n) => `${n.unit} ${(n.distance_m / 1000).toFixed(1)} km`).join(', '));
    detail.textContent = parts.join(' · ');
    r.append(what, detail);
    if (typeof a.lat === 'number' && typeof a.lon === 'number') {
      const show = document.createElement('button');
      show.type = 'button';
      show.textContent = 'Show';
      show.addEventListener('click', () => this.onLocate(a.lon, a.lat, a));
      r.append(show);
    }
    const ack = document.createElement('button');
    ack.type = 'button';
    ack.className = 'ack';
    ack.textContent = 'Acknowledge';
    ack.addEventListener('click', async () => {
      ack.disabled = true;
      try {
        await api(`/api/v1/alerts/${a.id}/ack`, { method: 'POST', body: {} });
        this.remove(a.id);
      } catch (e) {
        ack.disabled = false;
        if (e.code === 'conflict') this.remove(a.id);  // already ended elsewhere
        else toastError(e, 'Acknowledge');
      }
    });
    r.append(ack);
    return r;
  }
}
