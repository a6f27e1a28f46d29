// Small SVG charts for the manager's page, built with DOM calls (text from the
// server is set as text, never parsed as markup). No chart library: a few bars
// and lines do not justify one.
import { niceMax } from './reports.js';

const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}

// Horizontal bars: items [{label, value, color, title, text (instead of the value)}], values 0..max.
export function barChart(items, { max, width = 320, unit = '', format = (v) => String(v) } = {}) {
  const row = 18, left = 70, right = 50;
  const top = Math.max(max ?? 0, ...items.map((i) => i.value), 0);
  const scale = max ?? niceMax(top);
  const svg = el('svg', { width, height: Math.max(1, items.length) * row + 8, role: 'img' });
  items.forEach((it, i) => {
    const y = 4 + i * row;
    const w = scale > 0 ? ((width - left - right) * Math.min(it.value, scale)) / scale : 0;
    svg.append(el('text', { x: left - 6, y: y + 12, 'text-anchor': 'end' }, it.label));
    const bar = el('rect', { x: left, y: y + 2, width: Math.max(0, w), height: row - 6, fill: it.color || '#4a78a8',
      'data-label': it.label, 'data-value': it.value });
    if (it.title) bar.append(el('title', {}, it.title));
    svg.append(bar);
    svg.append(el('text', { x: left + w + 4, y: y + 12 }, it.text ?? format(it.value) + unit));
  });
  return svg;
}

// 24 hours: bars per series (incidents/day) and lines per series (units on
// duty, its own axis on the right). series: [{name, color, bars:[24], line:[24]}].
export function hourChart(series, { width = 720, height = 220 } = {}) {
  const left = 36, right = 40, top = 10, bottom = 34;
  const w = width - left - right, h = height - top - bottom;
  const barMax = niceMax(Math.max(0, ...series.flatMap((s) => s.bars)));
  const lineMax = niceMax(Math.max(0, ...series.flatMap((s) => s.line)));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, height, role: 'img' });
  svg.append(el('line', { x1: left, y1: top + h, x2: left + w, y2: top + h, class: 'axis' }));
  svg.append(el('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, String(barMax)));
  svg.append(el('text', { x: left + w + 4, y: top + 8 }, String(lineMax)));
  svg.append(el('text', { x: 2, y: top + h / 2 }, 'inc/day'));
  svg.append(el('text', { x: left + w + 4, y: top + h / 2 }, 'units'));
  const slot = w / 24, bw = (slot - 2) / Math.max(1, series.length);
  for (let hr = 0; hr < 24; ++hr) {
    if (hr % 3 === 0) svg.append(el('text', { x: left + hr * slot + slot / 2, y: top + h + 14, 'text-anchor': 'middle' }, String(hr).padStart(2, '0')));
    series.forEach((s, k) => {
      const v = s.bars[hr] || 0;
      const bh = (h * v) / barMax;
      const r = el('rect', { x: left + hr * slot + 1 + k * bw, y: top + h - bh, width: bw, height: bh, fill: s.color,
        'data-series': s.name, 'data-hour': hr, 'data-value': v });
      r.append(el('title', {}, `${s.name} ${String(hr).padStart(2, '0')}:00 - ${v} incidents/day`));
      svg.append(r);
    });
  }
  series.forEach((s) => {
    const pts = s.line.map((v, hr) => `${left + hr * slot + slot / 2},${top + h - (h * (v || 0)) / lineMax}`).join(' ');
    svg.append(el('polyline', { points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': '4 2',
      'data-series': s.name }));
  });
  series.forEach((s, k) => {
    const x = left + k * 90;
    svg.append(el('rect', { x, y: height - 12, width: 10, height: 10, fill: s.color }));
    svg.append(el('text', { x: x + 14, y: height - 3 }, s.name));
  });
  svg.append(el('text', { x: left + series.length * 90, y: height - 3 }, 'bars: incidents per day, dashes: units on duty'));
  return svg;
}
