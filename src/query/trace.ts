/**
 * Following one request through the services it touched. A call's children are
 * the calls its server made while serving it: found by a propagation header the
 * two share (W3C traceparent, B3, x-request-id, grpc-trace-bin), else by time
 * containment (made by the serving pod's workload between the call's request and
 * its response). The hop where a failure began is the earliest failed call in the
 * tree none of whose own children failed.
 */
import type { TransactionRecord } from '../dissect/record.js';
import { headerValue } from '../dissect/record.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { parseTxId, type Workspace } from '../store/workspace.js';

export interface TraceNode {
  id: string;
  /** "frontend → checkout: POST /api/checkout" */
  label: string;
  protocol: string;
  status: number;
  failed: boolean;
  evidence: string | null;
  timestamp: number;
  elapsedMs: number | null;
  /** How this hop was tied to its parent: a shared propagation header, or time containment. */
  link: 'root' | 'traceparent' | 'b3' | 'x-request-id' | 'grpc-trace-bin' | 'time';
  /** The hop where the failure began. */
  origin: boolean;
  children: TraceNode[];
}

export interface TraceResult {
  root: TraceNode;
  /** The origin hop's id, when a call in the tree failed. */
  origin: string | null;
  calls: number;
}

/** How far around a call, in µs, related calls are looked for. */
const SLACK = 5e6;
const MAX_DEPTH = 12;
const MAX_CALLS = 500;

export type PropagationKeys = Partial<Record<Exclude<TraceNode['link'], 'root' | 'time'>, string>>;

/** The propagation identifiers a request carries. */
export function propagationKeys(r: TransactionRecord): PropagationKeys {
  const h = r.request.headers;
  const keys: PropagationKeys = {};
  const tp = headerValue(h, 'traceparent');
  const m = tp ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/i.exec(tp.trim()) : null;
  if (m) keys.traceparent = m[1].toLowerCase();
  const b3 = headerValue(h, 'x-b3-traceid') ?? headerValue(h, 'b3')?.split('-')[0] ?? null;
  if (b3) keys.b3 = b3.toLowerCase();
  const rid = headerValue(h, 'x-request-id');
  if (rid) keys['x-request-id'] = rid;
  const bin = headerValue(h, 'grpc-trace-bin');
  if (bin) {
    // OpenCensus binary format: version, field 0 (trace id, 16 bytes), ...
    const b = Buffer.from(bin, 'base64');
    if (b.length >= 18 && b[1] === 0) keys['grpc-trace-bin'] = b.subarray(2, 18).toString('hex');
  }
  return keys;
}

function name(e: TransactionRecord['src']): string {
  if (e.workload) return e.workload.name;
  if (e.service) return e.service.name;
  return e.name ?? e.dns ?? e.ip;
}

function labelOf(r: TransactionRecord): string {
  const what = r.grpc
    ? `${r.grpc.service}/${r.grpc.method}`
    : r.dns ? `DNS ${r.dns.questions.map((q) => `${q.type} ${q.name}`).join(', ')}`
      : `${r.request.method} ${r.request.path}`;
  return `${name(r.src)} → ${name(r.dst)}: ${what}`;
}

/** The workloads (ns/name) that served a call: its pod's, or those behind its Service. */
function servers(r: TransactionRecord, snap: SnapshotMeta): Set<string> {
  const out = new Set<string>();
  const d = r.dst;
  if (d.kind === 'pod' && d.workload) out.add(`${d.namespace}/${d.workload.name}`);
  else if (d.kind === 'pod' && d.name) out.add(`${d.namespace}/${d.name}`);
  if (d.service) for (const w of snap.kubernetes?.backends[`${d.service.namespace}/${d.service.name}`] ?? []) out.add(w);
  return out;
}

function clientOf(r: TransactionRecord): string | null {
  const s = r.src;
  if (s.workload) return `${s.namespace}/${s.workload.name}`;
  if (s.kind === 'pod' && s.name) return `${s.namespace}/${s.name}`;
  return null;
}

export function traceCall(ws: Workspace, id: string): TraceResult | null {
  const ref = parseTxId(id);
  if (!ref) return null;
  const snap = ws.listSnapshots().find((s) => s.id === ref.snapshot);
  const root = ws.getRecord(ref.snapshot, ref.seq);
  if (!snap || !root) return null;
  const end = (r: TransactionRecord): number => r.responseTimestamp ?? r.timestamp;
  // Every call near the root in time: the candidates of the whole tree.
  const nearby: TransactionRecord[] = [];
  for (const { seq } of ws.timeOrder(snap.id, { from: root.timestamp - SLACK, to: end(root) + SLACK * 6 })) {
    const r = ws.getRecord(snap.id, seq);
    if (r) nearby.push(r);
  }
  const used = new Set<string>([root.id]);
  let calls = 1;

  const build = (r: TransactionRecord, link: TraceNode['link'], depth: number): TraceNode => {
    const node: TraceNode = {
      id: r.id, label: labelOf(r), protocol: r.protocol, status: r.status, failed: r.failed, evidence: r.evidence ?? null,
      timestamp: r.timestamp, elapsedMs: r.elapsedTime, link, origin: false, children: [],
    };
    if (depth >= MAX_DEPTH) return node;
    const keys = propagationKeys(r);
    const serving = servers(r, snap);
    const from = r.timestamp;
    const to = end(r);
    for (const c of nearby) {
      if (used.has(c.id) || calls >= MAX_CALLS) continue;
      const client = clientOf(c);
      if (!client || !serving.has(client)) continue;
      const ck = propagationKeys(c);
      let how: TraceNode['link'] | null = null;
      for (const k of Object.keys(keys) as Array<keyof PropagationKeys>) if (ck[k] && ck[k] === keys[k]) how = k;
      // Without a shared identifier, the server's own calls made while it served this one.
      if (!how && Object.keys(ck).filter((k) => k in keys).length === 0 && c.timestamp >= from && end(c) <= to) how = 'time';
      if (!how) continue;
      used.add(c.id);
      calls++;
      node.children.push(build(c, how, depth + 1));
    }
    node.children.sort((a, b) => a.timestamp - b.timestamp);
    return node;
  };

  const tree = build(root, 'root', 0);
  // The failure began at the earliest failed hop whose own children did not fail.
  let origin: TraceNode | null = null;
  const walk = (n: TraceNode): void => {
    if (n.failed && !n.children.some((c) => c.failed) && (!origin || n.timestamp < origin.timestamp)) origin = n;
    n.children.forEach(walk);
  };
  walk(tree);
  if (origin) (origin as TraceNode).origin = true;
  return { root: tree, origin: origin ? (origin as TraceNode).id : null, calls };
}

/** The tree as indented lines for the terminal. */
export function traceLines(t: TraceResult): string[] {
  const out: string[] = [];
  const walk = (n: TraceNode, prefix: string, last: boolean, top: boolean): void => {
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    const status = `${n.status}${n.failed ? ' ✗' : ''}`;
    const ms = n.elapsedMs === null ? '-' : `${n.elapsedMs.toFixed(1)}ms`;
    const via = n.link === 'root' ? '' : ` [${n.link}]`;
    out.push(`${prefix}${branch}${n.label}  ${status}  ${ms}  ${n.id}${via}${n.origin ? '  ← failure began here' : ''}`);
    if (n.origin && n.evidence) out.push(`${prefix}${top ? '' : last ? '   ' : '│  '}   ${n.evidence}`);
    const next = top ? '' : prefix + (last ? '   ' : '│  ');
    n.children.forEach((c, i) => walk(c, next, i === n.children.length - 1, false));
  };
  walk(t.root, '', true, true);
  return out;
}
