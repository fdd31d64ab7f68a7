/**
 * The report's pictures as inline SVG: the service map (nodes in columns by how
 * far down the call chain they sit) and the timeline (calls and failures per
 * bucket, p99 latency, the first failure marked). Each carries a <title> and
 * <desc> saying in words what it shows; every text from the capture is escaped.
 */
import type { MapSection, TimelineSection } from './model.js';
import { ms } from '../query/percentiles.js';

/** Text and attribute values in HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CHAR_W = 7.2;
const NODE_H = 34;
const COL_GAP = 170;
const ROW_GAP = 34;
const PAD = 16;

/** Columns: a node's longest call chain from a node nobody calls (cycles broken where met). */
function ranks(nodes: string[], edges: Array<{ source: string; destination: string }>): Map<string, number> {
  const out = new Map<string, string[]>();
  const indeg = new Map(nodes.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.source === e.destination) continue;
    out.set(e.source, [...(out.get(e.source) ?? []), e.destination]);
    indeg.set(e.destination, (indeg.get(e.destination) ?? 0) + 1);
  }
  const rank = new Map<string, number>();
  const onPath = new Set<string>();
  const visit = (n: string, r: number): void => {
    if (onPath.has(n) || (rank.get(n) ?? -1) >= r) return;
    rank.set(n, r);
    onPath.add(n);
    for (const d of out.get(n) ?? []) visit(d, r + 1);
    onPath.delete(n);
  };
  const roots = nodes.filter((n) => (indeg.get(n) ?? 0) === 0);
  for (const n of roots.length ? roots : nodes.slice(0, 1)) visit(n, 0);
  for (const n of nodes) if (!rank.has(n)) visit(n, 0);
  return rank;
}

export function serviceMapSvg(m: MapSection): string {
  const names = m.nodes.map((n) => n.id);
  const rank = ranks(names, m.edges);
  const cols: string[][] = [];
  for (const n of names) (cols[rank.get(n) ?? 0] ??= []).push(n);
  const widths = cols.map((c) => Math.max(90, ...(c ?? []).map((n) => n.length * CHAR_W + 24)));
  const x: number[] = [];
  widths.forEach((w, i) => { x[i] = i === 0 ? PAD : x[i - 1] + widths[i - 1] + COL_GAP; });
  const pos = new Map<string, { x: number; y: number; w: number }>();
  const tallest = Math.max(...cols.map((c) => (c ?? []).length));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP + 20;
  cols.forEach((c, i) => {
    const list = c ?? [];
    const span = list.length * NODE_H + (list.length - 1) * ROW_GAP;
    const top = (height - span) / 2;
    list.forEach((n, j) => pos.set(n, { x: x[i], y: top + j * (NODE_H + ROW_GAP), w: widths[i] }));
  });
  const width = (x[x.length - 1] ?? PAD) + (widths[widths.length - 1] ?? 0) + PAD;
  const kinds = new Map(m.nodes.map((n) => [n.id, n]));
  const parts: string[] = [];
  const desc = m.edges.map((e) => `${e.source} calls ${e.destination} over ${e.protocol}: ${e.calls} calls, ${e.failures} failed`
    + `${e.credentials === 'none' ? ', no credentials' : ''}`).join('; ');
  parts.push(`<svg class="map" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" role="img" aria-labelledby="map-title map-desc" xmlns="http://www.w3.org/2000/svg">`);
  parts.push(`<title id="map-title">Service map: ${m.nodes.length} services and workloads, ${m.edges.length} edges</title>`);
  parts.push(`<desc id="map-desc">${esc(desc)}</desc>`);
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>'
    + '<marker id="arrow-fail" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead fail"/></marker></defs>');
  const labels: string[] = [];
  m.edges.forEach((e) => {
    const s = pos.get(e.source);
    const d = pos.get(e.destination);
    if (!s || !d) return;
    const sx = s.x + s.w;
    const sy = s.y + NODE_H / 2;
    const forward = d.x > s.x;
    const dx = forward ? d.x : d.x + d.w;
    const dy = d.y + NODE_H / 2;
    const bend = forward ? Math.max(40, (dx - sx) / 2) : 80;
    const path = forward
      ? `M${sx},${sy} C${sx + bend},${sy} ${dx - bend},${dy} ${dx},${dy}`
      : `M${sx},${sy} C${sx + bend},${sy - 60} ${dx + bend},${dy - 60} ${dx},${dy}`;
    const cls = ['edge', e.failures > 0 ? 'fail' : '', e.credentials === 'none' ? 'noauth' : e.credentials === 'some' ? 'someauth' : ''].filter(Boolean).join(' ');
    const name = `${e.source} → ${e.destination}`;
    parts.push(`<path class="${cls}" d="${path}" marker-end="url(#${e.failures > 0 ? 'arrow-fail' : 'arrow'})"><title>${esc(`${name}: ${e.protocol}, ${e.calls} calls, ${e.failures} failed, p50 ${ms(e.latencyMs.p50)}, p99 ${ms(e.latencyMs.p99)}, credentials ${e.credentials}`)}</title></path>`);
    // The label sits just above the curve's midpoint (a cubic's point at t = 1/2).
    const c1x = forward ? sx + bend : sx + bend;
    const c2x = forward ? dx - bend : dx + bend;
    const c1y = forward ? sy : sy - 60;
    const c2y = forward ? dy : dy - 60;
    const lx = (sx + 3 * c1x + 3 * c2x + dx) / 8;
    const ly = (sy + 3 * c1y + 3 * c2y + dy) / 8 - 12;
    const l1 = `${e.protocol} ${e.calls}${e.failures ? ` · ${e.failures} failed` : ''}`;
    const l2 = e.credentials === 'none' ? 'no credentials' : `p99 ${ms(e.latencyMs.p99)}`;
    labels.push(`<g class="edge-label${e.failures > 0 ? ' fail' : ''}${e.credentials === 'none' ? ' noauth' : ''}" data-edge="${esc(name)}">`
      + `<text x="${lx.toFixed(1)}" y="${(ly - 3).toFixed(1)}" text-anchor="middle">${esc(l1)}</text>`
      + `<text x="${lx.toFixed(1)}" y="${(ly + 10).toFixed(1)}" text-anchor="middle">${esc(l2)}</text></g>`);
  });
  parts.push(...labels);
  for (const [n, p] of pos) {
    const k = kinds.get(n);
    const failing = (k?.failuresIn ?? 0) > 0;
    parts.push(`<g class="node ${esc(k?.kind ?? 'external')}${failing ? ' fail' : ''}" data-node="${esc(n)}"><rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${p.w.toFixed(1)}" height="${NODE_H}" rx="${k?.kind === 'workload' ? 4 : 16}"/>`
      + `<text x="${(p.x + p.w / 2).toFixed(1)}" y="${(p.y + NODE_H / 2 + 4).toFixed(1)}" text-anchor="middle">${esc(n)}</text></g>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export function timelineSvg(t: TimelineSection): string {
  const n = t.buckets.length;
  const W = 760;
  const H = 230;
  const left = 44;
  const right = 54;
  const top = 26;
  const bottom = 36;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const peak = Math.max(1, ...t.buckets.map((b) => b.calls));
  const peakMs = Math.max(0, ...t.buckets.map((b) => b.p99 ?? 0)) || 1;
  const bw = plotW / Math.max(1, n);
  const y = (v: number): number => top + plotH - (v / peak) * plotH;
  const yMs = (v: number): number => top + plotH - (v / peakMs) * plotH;
  const first = t.firstFailure;
  const desc = `${n} buckets of ${t.bucket} from ${t.buckets[0]?.start ?? '-'} to ${t.buckets[n - 1]?.start ?? '-'}; at most ${peak} calls in a bucket; `
    + `${t.buckets.reduce((a, b) => a + b.failures, 0)} failures in all; ${first ? `the first failure at ${first.time}` : 'no failures'}; p99 latency up to ${ms(peakMs)}.`;
  const parts: string[] = [];
  parts.push(`<svg class="timeline" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">`);
  parts.push(`<title id="tl-title">Timeline: calls and failures per ${esc(t.bucket)}, p99 latency</title><desc id="tl-desc">${esc(desc)}</desc>`);
  parts.push(`<line class="axis" x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}"/>`);
  parts.push(`<text class="tick" x="${left - 6}" y="${top + 4}" text-anchor="end">${peak}</text><text class="tick" x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`);
  parts.push(`<text class="tick" x="${left - 6}" y="${top - 12}" text-anchor="end">calls</text><text class="tick lat" x="${W - right + 6}" y="${top - 12}">p99</text>`);
  parts.push(`<text class="tick lat" x="${W - right + 6}" y="${top + 4}">${esc(ms(peakMs))}</text>`);
  t.buckets.forEach((b, i) => {
    const x = left + i * bw;
    const okCalls = b.calls - b.failures;
    const label = `${b.start.slice(11, 23)}: ${b.calls} calls, ${b.failures} failed, p99 ${ms(b.p99)}`;
    parts.push(`<g class="bucket"><title>${esc(label)}</title>`
      + (okCalls > 0 ? `<rect class="ok" x="${(x + 0.5).toFixed(1)}" y="${y(b.calls).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${(y(b.failures) - y(b.calls)).toFixed(1)}"/>` : '')
      + (b.failures > 0 ? `<rect class="failed" x="${(x + 0.5).toFixed(1)}" y="${y(b.failures).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${(top + plotH - y(b.failures)).toFixed(1)}"/>` : '')
      + '</g>');
  });
  const pts = t.buckets.map((b, i) => (b.p99 === null ? null : `${(left + (i + 0.5) * bw).toFixed(1)},${yMs(b.p99).toFixed(1)}`)).filter(Boolean);
  if (pts.length > 1) parts.push(`<polyline class="p99" points="${pts.join(' ')}"/>`);
  const step = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += step) {
    parts.push(`<text class="tick" x="${(left + i * bw).toFixed(1)}" y="${top + plotH + 16}">${esc(t.buckets[i].start.slice(11, 19))}</text>`);
  }
  if (first && t.firstFailingBucket !== null) {
    const span = t.bucketUs;
    const x = left + (t.firstFailingBucket + Math.min(1, Math.max(0, (first.ts - t.buckets[t.firstFailingBucket].startTs) / span))) * bw;
    const anchor = x > W / 2 ? 'end' : 'start';
    parts.push(`<g class="first-failure"><line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${top + plotH}"/>`
      + `<text x="${(x + (anchor === 'end' ? -4 : 4)).toFixed(1)}" y="${top - 10}" text-anchor="${anchor}">first failure ${esc(first.time.slice(11, 23))}</text></g>`);
  }
  parts.push(`<g class="legend"><rect class="ok" x="${left}" y="${H - 12}" width="10" height="10"/><text x="${left + 14}" y="${H - 3}">calls</text>`
    + `<rect class="failed" x="${left + 60}" y="${H - 12}" width="10" height="10"/><text x="${left + 74}" y="${H - 3}">failed</text>`
    + `<line class="p99" x1="${left + 130}" y1="${H - 7}" x2="${left + 146}" y2="${H - 7}"/><text x="${left + 150}" y="${H - 3}">p99 latency</text></g>`);
  parts.push('</svg>');
  return parts.join('\n');
}
