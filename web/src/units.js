// Units on the map: one VectorLayer, one feature per unit updated in place
// (setCoordinates, no re-creation), and styles shared through a cache keyed by
// (status, heading bucket, emergency, flash phase), so thousands of moving
// units cost a handful of Style objects. Labels only when zoomed in.
import Feature from 'ol/Feature.js';
import Point from 'ol/geom/Point.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import { fromLonLat } from 'ol/proj.js';
import { Fill, Icon, Stroke, Style, Text } from 'ol/style.js';

export const STATUS_COLOURS = {
  available: '#1e9e3a',
  assigned: '#f0a500',
  en_route: '#f06a00',
  on_scene: '#1f63d6',
  unavailable: '#8a8f98',
  off_duty: 'rgba(138,143,152,0.35)',
};
const HEADING_STEP = 15;  // degrees per bucket: 24 arrow rotations
const LABEL_MAX_RESOLUTION = 40;  // m/px (about zoom 12): labels only below it

export class UnitsLayer {
  constructor() {
    this.source = new VectorSource({ attributions: '© OpenStreetMap contributors' });
    this.cache = new Map();
    this.flashOn = true;
    this.emergencies = 0;
    this.showOffDuty = true;
    this.layer = new VectorLayer({
      source: this.source,
      style: (f, res) => this.style(f, res),
      // While the map is dragged or animated the last frame is moved as a
      // picture; the thousands of points are re-drawn once it settles.
      updateWhileAnimating: false,
      updateWhileInteracting: false,
      zIndex: 20,
    });
    this.layer.set('name', 'units');
    // Emergency units flash: redraw twice a second, only while there are any.
    setInterval(() => {
      this.flashOn = !this.flashOn;
      if (this.emergencies > 0) this.layer.changed();
    }, 500);
  }

  style(feature, resolution) {
    const u = feature.get('unit');
    if (u.status === 'off_duty' && !this.showOffDuty) return null;
    const emergency = !!u.emergency;
    const h = typeof u.heading_deg === 'number' && (u.speed_mps == null || u.speed_mps > 0.5)
      ? Math.round(u.heading_deg / HEADING_STEP) % (360 / HEADING_STEP) : -1;
    const key = `${u.status}|${h}|${emergency ? (this.flashOn ? 2 : 1) : 0}`;
    let body = this.cache.get(key);
    if (!body) {
      body = makeUnitStyle(u.status, h, emergency, this.flashOn);
      this.cache.set(key, body);
    }
    if (resolution > LABEL_MAX_RESOLUTION) return body;
    let label = feature.get('label');
    if (!label) {
      label = new Style({
        text: new Text({
          text: u.id,
          offsetY: -15,
          font: '600 11px system-ui, sans-serif',
          fill: new Fill({ color: '#111' }),
          stroke: new Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
        }),
      });
      feature.set('label', label, true);
    }
    return [...body, label];
  }

  // Upserts one unit in SPEC section 6's shape; a unit without a position is dropped.
  upsert(u) {
    if (typeof u.lat !== 'number' || typeof u.lon !== 'number') return this.remove(u.id);
    const xy = fromLonLat([u.lon, u.lat]);
    let f = this.source.getFeatureById(u.id);
    if (!f) {
      f = new Feature({ geometry: new Point(xy) });
      f.setId(u.id);
      f.set('kind', 'unit', true);
      f.set('unit', u, true);
      this.source.addFeature(f);
      if (u.emergency) this.emergencies++;
      return f;
    }
    const prev = f.get('unit');
    if (!!prev.emergency !== !!u.emergency) this.emergencies += u.emergency ? 1 : -1;
    f.set('unit', u, true);
    const g = f.getGeometry();
    const c = g.getCoordinates();
    if (c[0] !== xy[0] || c[1] !== xy[1]) g.setCoordinates(xy);
    else f.changed();
    return f;
  }

  remove(id) {
    const f = this.source.getFeatureById(id);
    if (!f) return;
    if (f.get('unit').emergency) this.emergencies--;
    this.source.removeFeature(f);
  }

  clear() {
    this.source.clear(true);
    this.emergencies = 0;
  }

  get(id) {
    const f = this.source.getFeatureById(id);
    return f ? f.get('unit') : null;
  }

  count() {
    return this.source.getFeatures().length;
  }
}

// One pre-drawn picture per (status, arrow, emergency phase): a unit costs a
// single image draw. The arrow points up in the picture and the whole icon is
// turned to the heading (the dot is round, so only the arrow shows it).
const pictures = new Map();
const RING = 13;
function unitPicture(status, arrow, emergencyPhase) {
  const key = `${status}|${arrow}|${emergencyPhase}`;
  let c = pictures.get(key);
  if (c) return c;
  const dpr = Math.max(1, Math.min(3, Math.ceil(globalThis.devicePixelRatio || 1)));
  const size = 2 * (RING + 3);
  c = document.createElement('canvas');
  c.width = c.height = size * dpr;
  const g = c.getContext('2d');
  g.scale(dpr, dpr);
  const m = size / 2;
  const colour = STATUS_COLOURS[status] || '#555';
  const faint = status === 'off_duty';
  const red = emergencyPhase === 2;
  if (emergencyPhase) {
    g.beginPath();
    g.arc(m, m, RING, 0, 2 * Math.PI);
    g.fillStyle = red ? 'rgba(220,0,0,0.55)' : 'rgba(220,0,0,0.12)';
    g.fill();
    g.lineWidth = 2;
    g.strokeStyle = '#d00000';
    g.stroke();
  }
  const fill = red ? '#d00000' : colour;
  if (arrow && !faint) {
    g.beginPath();
    g.moveTo(m, m - 13);
    g.lineTo(m + 4.5, m - 6);
    g.lineTo(m - 4.5, m - 6);
    g.closePath();
    g.fillStyle = fill;
    g.fill();
    g.lineWidth = 1;
    g.strokeStyle = '#fff';
    g.stroke();
  }
  g.beginPath();
  g.arc(m, m, faint ? 4 : 6, 0, 2 * Math.PI);
  g.fillStyle = fill;
  g.fill();
  g.lineWidth = 1.5;
  g.strokeStyle = faint ? 'rgba(255,255,255,0.4)' : '#fff';
  g.stroke();
  pictures.set(key, c);
  return c;
}

function makeUnitStyle(status, bucket, emergency, flashOn) {
  const faint = status === 'off_duty';
  const img = unitPicture(status, bucket >= 0, emergency ? (flashOn ? 2 : 1) : 0);
  return [new Style({
    image: new Icon({
      img,
      scale: (RING + 3) * 2 / img.width,
      rotation: bucket >= 0 ? (bucket * HEADING_STEP * Math.PI) / 180 : 0,
      rotateWithView: true,
    }),
    zIndex: emergency ? 4 : faint ? 0 : 1,
  })];
}
