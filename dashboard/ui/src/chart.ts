/** Deliveries over time as stacked SVG bars (succeeded below, failed above), with a text summary. */
import { h, svg } from './dom.js';

export interface Bucket {
  start: number;
  succeeded: number;
  failed: number;
}

/** `width` is the pixel width available: the SVG is drawn at that size so its text is never scaled. */
export function deliveryChart(buckets: Bucket[], bucketSeconds: number, availableWidth: number): HTMLElement {
  const width = Math.max(280, Math.round(availableWidth) || 720);
  const height = 180;
  const pad = { left: 36, right: 8, top: 10, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const niceMax = niceCeil(max);
  const barW = plotW / Math.max(1, buckets.length);
  const y = (v: number) => pad.top + plotH - (v / niceMax) * plotH;

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart-svg', 'aria-hidden': 'true' });
  // Counts are whole numbers: the middle line is drawn only when it falls on one.
  for (const tick of Number.isInteger(niceMax / 2) ? [0, niceMax / 2, niceMax] : [0, niceMax]) {
    root.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), class: 'chart-grid' }));
    root.append(svg('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'chart-label' }, formatCount(tick)));
  }
  buckets.forEach((b, i) => {
    const x = pad.left + i * barW + barW * 0.1;
    const w = Math.max(1, barW * 0.8);
    const title = `${labelFor(b.start, bucketSeconds)}: ${b.succeeded} succeeded, ${b.failed} failed`;
    const group = svg('g', {}, svg('title', {}, title));
    if (b.succeeded > 0) group.append(svg('rect', { x, y: y(b.succeeded), width: w, height: y(0) - y(b.succeeded), class: 'bar-ok' }));
    if (b.failed > 0) group.append(svg('rect', { x, y: y(b.succeeded + b.failed), width: w, height: y(b.succeeded) - y(b.succeeded + b.failed), class: 'bar-bad' }));
    root.append(group);
  });
  const labelEvery = Math.ceil(buckets.length / Math.max(2, Math.floor(width / 110)));
  buckets.forEach((b, i) => {
    if (i % labelEvery !== 0) return;
    root.append(svg('text', { x: pad.left + i * barW + barW / 2, y: height - 6, 'text-anchor': 'middle', class: 'chart-label' }, labelFor(b.start, bucketSeconds)));
  });
  return h('div', { class: 'chart' }, root);
}

function labelFor(start: number, bucketSeconds: number): string {
  const d = new Date(start * 1000);
  if (bucketSeconds >= 86_400) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  if (bucketSeconds >= 6 * 3600) return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function niceCeil(n: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (n <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
