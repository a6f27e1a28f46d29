// The map both pages share: an OpenLayers map with the usual controls, the
// view's bbox in degrees for the live feed (hello and viewport), the viewport
// message 300 ms after the map stops moving, and ?center=lon,lat&zoom=z.
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import { Attribution, ScaleLine, Zoom, Rotate } from 'ol/control.js';
import { fromLonLat, transformExtent } from 'ol/proj.js';

export const RUTLAND = [-0.65, 52.66];  // the demo's force area; the basemap's bbox wins

export function makeMap(target, layers) {
  const view = new View({ center: fromLonLat(RUTLAND), zoom: 11, maxZoom: 19 });
  const map = new Map({
    target,
    layers,
    view,
    controls: [new Zoom(), new Rotate(), new ScaleLine(), new Attribution({ collapsible: false })],
  });
  return { map, view };
}

// [west, south, east, north] in degrees, rounded to ~1 m.
export function mapBbox(map) {
  const size = map.getSize() || [1024, 768];
  const e = transformExtent(map.getView().calculateExtent(size), 'EPSG:3857', 'EPSG:4326');
  const r = (x) => Math.round(x * 1e5) / 1e5;
  return [r(Math.max(-180, e[0])), r(Math.max(-90, e[1])), r(Math.min(180, e[2])), r(Math.min(90, e[3]))];
}

// Tells the live feed (getFeed() may return null) where the map looks.
export function followViewport(map, getFeed) {
  let timer = null;
  map.on('moveend', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const feed = getFeed();
      if (feed) feed.viewport(mapBbox(map));
    }, 300);
  });
}

// ?center=lon,lat&zoom=z puts the view somewhere (links from other pages, tests).
export function viewFromParams(view, params) {
  if (params.has('center')) {
    const [lon, lat] = params.get('center').split(',').map(Number);
    if (Number.isFinite(lon) && Number.isFinite(lat)) view.setCenter(fromLonLat([lon, lat]));
  }
  if (params.has('zoom') && Number.isFinite(Number(params.get('zoom')))) view.setZoom(Number(params.get('zoom')));
}

// Fits the view to the basemap's box unless the URL chose a centre.
export function fitBasemap(map, box, params) {
  if (box && !params.has('center'))
    map.getView().fit(transformExtent(box, 'EPSG:4326', 'EPSG:3857'), { size: map.getSize(), padding: [20, 20, 20, 20] });
}

// Read-only map hooks both pages expose to tests: where a point is drawn (CSS
// pixels relative to the map element) and the named layers.
export function mapHooks(map) {
  return {
    pixelFor(lon, lat) {
      const p = map.getPixelFromCoordinate(fromLonLat([lon, lat]));
      return p ? [p[0], p[1]] : null;
    },
    layerNames() { return map.getLayers().getArray().map((l) => l.get('name')).filter(Boolean); },
  };
}
