// Incidents: a map layer coloured by grade (1 red, 2 orange, 3 yellow) and a
// side list with each one's grade clock (time since creation against the
// target), refreshed every second from the incident's own fields.
import Feature from 'ol/Feature.js';
import Point from 'ol/geom/Point.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import { fromLonLat } from 'ol/proj.js';
import { Fill, RegularShape, Stroke, Style, Text } from 'ol/style.js';

export const GRADE_COLOURS = { 1: '#d7191c', 2: '#f57c00', 3: '#f2c500' };

export class IncidentsLayer {
  constructor({ onSelect }) {
    this.onSelect = onSelect;
    this.source = new VectorSource();
    this.cache = new Map();
    this.selected = null;
    this.layer = new VectorLayer({ source: this.source, style: (f) => this.style(f), zIndex: 15 });
    this.layer.set('name', 'incidents');
    this.list = document.getElementById('incident-list');
    this.countEl = document.getElementById('incident-count');
    this.rows = new Map();
    setInterval(() => this.tick(), 1000);
  }

  style(f) {
    const inc = f.get('incident');
    const sel = inc.id === this.selected;
    const key = `${inc.grade}|${sel}|${inc.status}`;
    let s = this.cache.get(key);
    if (!s) {
      s = [new Style({
        image: new RegularShape({
          points: 4,
          radius: sel ? 12 : 10,
          angle: Math.PI / 4,
          fill: new Fill({ color: GRADE_COLOURS[inc.grade] || '#777' }),
          stroke: new Stroke({ color: sel ? '#000' : '#fff', width: sel ? 3 : 2 }),
        }),
        text: new Text({
          text: String(inc.grade),
          font: 'bold 11px system-ui, sans-serif',
          fill: new Fill({ color: inc.grade === 3 ? '#222' : '#fff' }),
        }),
        zIndex: 4 - inc.grade,
      })];
      this.cache.set(key, s);
    }
    return s;
  }

  // An incident as GET /api/v1/incidents shows it; closed ones leave the map.
  upsert(inc) {
    if (!inc || inc.id == null) return;
    if (inc.status === 'closed') return this.remove(inc.id);
    const xy = fromLonLat([inc.lon, inc.lat]);
    let f = this.source.getFeatureById(inc.id);
    if (!f) {
      f = new Feature({ geometry: new Point(xy) });
      f.setId(inc.id);
      f.set('kind', 'incident', true);
      f.set('incident', inc, true);
      this.source.addFeature(f);
    } else {
      f.set('incident', inc, true);
      f.getGeometry().setCoordinates(xy);
      f.changed();
    }
    this.renderRow(inc);
  }

  remove(id) {
    const f = this.source.getFeatureById(id);
    if (f) this.source.removeFeature(f);
    const row = this.rows.get(id);
    if (row) row.remove();
    this.rows.delete(id);
    if (this.selected === id) this.select(null);
    this.updateCount();
  }

  clear() {
    this.source.clear(true);
    this.rows.clear();
    this.list.replaceChildren();
    this.updateCount();
  }

  get(id) {
    const f = this.source.getFeatureById(id);
    return f ? f.get('incident') : null;
  }

  count() {
    return this.rows.size;
  }

  updateCount() {
    this.countEl.textContent = `(${this.rows.size})`;
  }

  select(id) {
    const prev = this.selected;
    this.selected = id;
    for (const x of [prev, id]) {
      const f = x == null ? null : this.source.getFeatureById(x);
      if (f) f.changed();
      const row = x == null ? null : this.rows.get(x);
      if (row) row.classList.toggle('selected', x === id);
    }
    this.onSelect(id == null ? null : this.get(id));
  }

  renderRow(inc) {
    let row = this.rows.get(inc.id);
    if (!row) {
      row = document.createElement('li');
      row.className = 'incident';
      row.dataset.id = inc.id;
      row.tabIndex = 0;
      row.addEventListener('click', () => this.select(inc.id));
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.select(inc.id); });
      this.rows.set(inc.id, row);
      // Newest first, as the API lists them.
      this.list.prepend(row);
      this.updateCount();
    }
    row.dataset.grade = inc.grade;
    row.dataset.status = inc.status;
    row.classList.toggle('selected', inc.id === this.selected);
    row.replaceChildren();
    const head = el('div', 'row-head');
    head.append(el('span', `grade grade-${inc.grade}`, `G${inc.grade}`), el('span', 'itype', `#${inc.id} ${inc.type}`),
      el('span', `status status-${inc.status}`, inc.status.replace('_', ' ')));
    const clock = el('div', 'clock');
    clock.dataset.role = 'clock';
    const where = el('div', 'muted small', inc.address || `${inc.lat.toFixed(4)}, ${inc.lon.toFixed(4)}`);
    const units = (inc.assignments || []).filter((a) => !a.cleared).map((a) => a.unit);
    row.append(head, clock, where);
    if (units.length) row.append(el('div', 'small', `Units: ${units.join(', ')}`));
    if (inc.breach_predicted && !inc.first_on_scene) row.append(el('div', 'warn small', 'Breach predicted'));
    this.renderClock(inc, clock);
  }

  renderClock(inc, clock) {
    const c = gradeClock(inc, Date.now());
    clock.textContent = c.text;
    clock.dataset.level = c.level;
  }

  tick() {
    for (const [id, row] of this.rows) {
      const inc = this.get(id);
      const clock = row.querySelector('[data-role=clock]');
      if (inc && clock) this.renderClock(inc, clock);
    }
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

export function fmtDuration(s) {
  const neg = s < 0;
  s = Math.abs(Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const t = h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
  return neg ? `-${t}` : t;
}

// Minutes elapsed against the target: level ok | near (80% used) | late | met | missed.
export function gradeClock(inc, now) {
  const created = Date.parse(inc.created);
  const target = inc.target ? Date.parse(inc.target) : null;
  if (inc.first_on_scene) {
    const resp = inc.response_s != null ? inc.response_s : (Date.parse(inc.first_on_scene) - created) / 1000;
    const late = inc.breached || (target != null && Date.parse(inc.first_on_scene) > target);
    return { text: `on scene after ${fmtDuration(resp)}${target ? ` (target ${fmtDuration((target - created) / 1000)})` : ''}`,
      level: late ? 'missed' : 'met' };
  }
  const elapsed = (now - created) / 1000;
  if (target == null) return { text: `${fmtDuration(elapsed)} elapsed, no target`, level: 'ok' };
  const budget = (target - created) / 1000;
  const left = (target - now) / 1000;
  const level = left < 0 || inc.breached ? 'late' : elapsed > budget * 0.8 ? 'near' : 'ok';
  return { text: `${fmtDuration(elapsed)} / ${fmtDuration(budget)} (${left < 0 ? 'over by ' + fmtDuration(-left) : fmtDuration(left) + ' left'})`, level };
}
