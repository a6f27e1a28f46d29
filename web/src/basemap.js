// The offline basemap from the daemon (GET /api/v1/basemap: layers of GeoJSON
// in EPSG:4326): roads drawn by class with a casing, water blue, place names
// by rank. Each layer is rendered as an image (VectorImageLayer), cheap while
// the live layers above it redraw. A missing endpoint (404) leaves the plain
// background. A tile URL (?tiles=https://.../{z}/{x}/{y}.png) may lie beneath.
import GeoJSON from 'ol/format/GeoJSON.js';
import TileLayer from 'ol/layer/Tile.js';
import VectorImageLayer from 'ol/layer/VectorImage.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import XYZ from 'ol/source/XYZ.js';
import { Fill, Stroke, Style, Text } from 'ol/style.js';
import { api } from './api.js';

export const OSM_ATTRIBUTION = '© OpenStreetMap contributors';

const ROADS = {
  motorway: { w: 5, c: '#e892a2', z: 8 },
  trunk: { w: 4.5, c: '#f9b29c', z: 7 },
  primary: { w: 4, c: '#fcd6a4', z: 6 },
  secondary: { w: 3.5, c: '#f7fabf', z: 5 },
  tertiary: { w: 3, c: '#ffffff', z: 4 },
  minor: { w: 2.2, c: '#ffffff', z: 3 },
  residential: { w: 2.2, c: '#ffffff', z: 3 },
  service: { w: 1.2, c: '#ffffff', z: 2 },
};
const PLACES = {
  city: { font: 'bold 16px system-ui, sans-serif', z: 5 },
  town: { font: 'bold 14px system-ui, sans-serif', z: 4 },
  suburb: { font: '12px system-ui, sans-serif', z: 3 },
  village: { font: '12px system-ui, sans-serif', z: 2 },
  hamlet: { font: 'italic 11px system-ui, sans-serif', z: 1 },
};

const roadCache = new Map();
function roadStyle(f, resolution) {
  const cls = ROADS[f.get('class')] ? f.get('class') : 'minor';
  // Thinner lines when zoomed far out keep the map readable.
  const scale = resolution > 100 ? 0.5 : resolution > 25 ? 0.75 : 1;
  const key = `${cls}|${scale}`;
  let s = roadCache.get(key);
  if (!s) {
    const r = ROADS[cls];
    s = [
      new Style({ stroke: new Stroke({ color: '#9a9a9a', width: r.w * scale + 1.5, lineCap: 'round' }), zIndex: r.z }),
      new Style({ stroke: new Stroke({ color: r.c, width: r.w * scale, lineCap: 'round' }), zIndex: r.z + 10 }),
    ];
    roadCache.set(key, s);
  }
  return s;
}

const waterStyle = new Style({ fill: new Fill({ color: '#aad3df' }), stroke: new Stroke({ color: '#8fc2d3', width: 1 }) });

function placeStyle(f) {
  const p = PLACES[f.get('place')] || PLACES.hamlet;
  return new Style({
    text: new Text({
      text: f.get('name') || '',
      font: p.font,
      fill: new Fill({ color: '#333' }),
      stroke: new Stroke({ color: 'rgba(255,255,255,0.85)', width: 3 }),
    }),
    zIndex: p.z,
  });
}

const ORDER = { water: 1, roads_major: 3, roads_minor: 2, places: 4 };

// Adds the basemap layers beneath the live ones; returns the server's bbox
// ([w,s,e,n]) or null when there is no basemap.
export async function addBasemap(map, { tiles } = {}) {
  if (tiles) {
    map.addLayer(new TileLayer({
      source: new XYZ({ url: tiles, attributions: OSM_ATTRIBUTION, crossOrigin: 'anonymous' }),
      zIndex: 0,
    }));
  }
  let meta;
  try {
    meta = await api('/api/v1/basemap');
  } catch {
    return null;  // no basemap on this server (404) or not allowed: plain background
  }
  if (!meta || !Array.isArray(meta.layers)) return null;
  const format = new GeoJSON({ dataProjection: 'EPSG:4326', featureProjection: 'EPSG:3857' });
  await Promise.all(meta.layers.map(async (l) => {
    let gj;
    try {
      gj = await api(`/api/v1/basemap/${encodeURIComponent(l.name)}`);
    } catch {
      return;
    }
    const source = new VectorSource({
      features: format.readFeatures(gj),
      attributions: meta.attribution || OSM_ATTRIBUTION,
    });
    const places = l.name === 'places';
    const water = l.name === 'water';
    const opts = {
      source,
      style: places ? placeStyle : water ? waterStyle : roadStyle,
      minZoom: typeof l.min_zoom === 'number' && l.min_zoom > 0 ? l.min_zoom - 0.001 : undefined,
      zIndex: 1 + (ORDER[l.name] ?? 2),
    };
    // Labels must declutter against each other: a vector layer, not an image.
    const layer = places ? new VectorLayer({ ...opts, declutter: true }) : new VectorImageLayer({ ...opts, imageRatio: 1.5 });
    layer.set('name', `basemap:${l.name}`);
    map.addLayer(layer);
  }));
  return Array.isArray(meta.bbox) && meta.bbox.length === 4 ? meta.bbox : null;
}

// Areas (neighbourhoods, micro-beats, hot spots) from GET /api/v1/areas; skipped
// silently where the server has no such endpoint yet. Returns the layer (null
// without areas). `style` replaces the outline-by-kind style (the sergeant's
// page shades areas by coverage: a VectorLayer then, restyled on each report).
export async function addAreas(map, { style } = {}) {
  let gj;
  try {
    gj = await api('/api/v1/areas');
  } catch {
    return null;
  }
  if (!gj || !Array.isArray(gj.features)) return null;
  const format = new GeoJSON({ dataProjection: 'EPSG:4326', featureProjection: 'EPSG:3857' });
  const styles = {
    hotspot: new Style({ stroke: new Stroke({ color: '#c2185b', width: 2, lineDash: [6, 4] }), fill: new Fill({ color: 'rgba(194,24,91,0.08)' }) }),
    microbeat: new Style({ stroke: new Stroke({ color: '#6a1b9a', width: 1.5 }), fill: new Fill({ color: 'rgba(106,27,154,0.04)' }) }),
    neighbourhood: new Style({ stroke: new Stroke({ color: 'rgba(60,60,120,0.6)', width: 1.2, lineDash: [2, 3] }) }),
  };
  const opts = {
    source: new VectorSource({ features: format.readFeatures(gj) }),
    style: style || ((f) => styles[f.get('kind')] || styles.neighbourhood),
    zIndex: 10,
  };
  const layer = style ? new VectorLayer(opts) : new VectorImageLayer(opts);
  layer.set('name', 'areas');
  map.addLayer(layer);
  return layer;
}
