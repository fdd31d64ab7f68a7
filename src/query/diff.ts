/**
 * What changed between two captures, or two windows of one capture: per endpoint,
 * call rate, failure rate and p95 latency on each side, and the endpoints that
 * appeared or vanished, ranked by a score of how much changed.
 *
 * The score of an endpoint (higher first; ties by label):
 *
 *   |Δ failure rate| × √(calls A + calls B)            failures, weighted by volume
 * + |p95 B − p95 A| / max(p95 A, p95 B)                 latency, relative (0..1; both sides need a response)
 * + 0.25 × log10(1 + calls)   when on one side only      appeared or vanished, weighted by volume
 *
 * where a side without calls counts as a failure rate of 0. So an endpoint going
 * from 0% to 50% failures over 100 calls scores 5, one failing call on an endpoint
 * new to B scores about 1.08, a p95 going from 100ms to 1s scores 0.9, and a
 * healthy endpoint that vanished after 1,000 calls 0.75.
 */
import type { EndpointKey } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import { PERCENTILE_METHOD, PERCENTILE_NOTE } from './percentiles.js';
import { selectSnapshots } from './calls.js';
import { captureBounds } from './select.js';
import {
  Accumulator, AnalysisError, GroupIndex, endpointLabel, resolveScope, scanScope, scopeInfo,
  type ScopeInfo, type TimeWindow,
} from './stats.js';

export const DIFF_SCORE = '|Δ failure rate| × √(calls A + calls B) + |Δ p95| / max(p95 A, p95 B) + (appeared or vanished: 0.25 × log10(1 + calls)); a side without calls counts as 0% failures';

export interface DiffSide {
  /** Snapshot ids, names or prefixes; all ready snapshots when absent. */
  snapshots?: string[];
  window?: TimeWindow;
}

export interface DiffQuery {
  filter?: string;
  a?: DiffSide;
  b?: DiffSide;
  /** Compare the first half of the capture of `snapshots` with the second (a and b are then ignored). */
  halves?: boolean;
  snapshots?: string[];
  /** Endpoints returned, best score first (all when absent); `totalEndpoints` says how many there were. */
  limit?: number;
}

export interface DiffSideInfo extends ScopeInfo {
  /** The time the rates are over: the window clipped to the side's capture, in seconds; null when it has no extent. */
  durationSeconds: number | null;
  calls: number;
  failures: number;
}

export interface DiffEndpointSide {
  calls: number;
  failures: number;
  /** Calls per second over the side's duration; null when the side has no extent. */
  ratePerSecond: number | null;
  /** null without calls. */
  failureRate: number | null;
  p95Ms: number | null;
}

export interface DiffRow {
  label: string;
  endpoint: EndpointKey;
  change: 'appeared' | 'vanished' | 'both';
  a: DiffEndpointSide;
  b: DiffEndpointSide;
  delta: {
    ratePerSecond: number | null;
    /** B − A, a side without calls counting as 0. */
    failureRate: number;
    p95Ms: number | null;
    /** |Δ p95| / max(p95 A, p95 B). */
    p95Relative: number | null;
  };
  score: number;
}

export interface DiffResult {
  filter: string;
  score: string;
  percentiles: { method: typeof PERCENTILE_METHOD; description: string };
  a: DiffSideInfo;
  b: DiffSideInfo;
  totalEndpoints: number;
  appeared: number;
  vanished: number;
  endpoints: DiffRow[];
}

/** The two halves of the selected snapshots' capture: [start, middle) and [middle, end]. */
export function halves(ws: Workspace, snapshots?: string[]): { a: DiffSide; b: DiffSide } {
  const snaps = selectSnapshots(ws, snapshots);
  const { captureStart, captureEnd } = captureBounds(snaps);
  if (captureStart === null || captureEnd === null) throw new AnalysisError('the snapshots hold no calls: there are no halves to compare');
  const mid = captureStart + (captureEnd - captureStart) / 2;
  const ids = snaps.map((s) => s.id);
  return {
    a: { snapshots: ids, window: { from: captureStart, to: mid, toExclusive: true } },
    b: { snapshots: ids, window: { from: mid, to: captureEnd } },
  };
}

interface SideResult {
  info: DiffSideInfo;
  groups: Map<string, { endpoint: EndpointKey; acc: Accumulator }>;
}

function runSide(ws: Workspace, filter: string, side: DiffSide): SideResult {
  const scope = resolveScope(ws, { filter, snapshots: side.snapshots, window: side.window });
  type G = { endpoint: EndpointKey; acc: Accumulator; key: string };
  const index = new GroupIndex<G>(ws, scope.snaps, 'endpoint',
    ((e: EndpointKey) => JSON.stringify([e.protocol, e.destination, e.method, e.path])) as (x: never) => string,
    ((e: EndpointKey, key: string) => ({ endpoint: { protocol: e.protocol, destination: e.destination, method: e.method, path: e.path }, acc: new Accumulator(), key })) as (x: never, k: string) => G);
  let calls = 0;
  let failures = 0;
  const scan = scanScope(ws, scope, ({ snapshot, cols, row }) => {
    const g = index.get(snapshot, cols.endpoint[row]);
    g.acc.add(cols, row);
    calls++;
    failures += cols.flags[row] & 1;
  });
  const lo = Math.max(scope.from ?? -Infinity, scope.captureStart ?? Infinity);
  const hi = Math.min(scope.to ?? Infinity, scope.captureEnd ?? -Infinity);
  const duration = hi > lo ? (hi - lo) / 1e6 : null;
  const groups = new Map<string, { endpoint: EndpointKey; acc: Accumulator }>();
  for (const g of index.all()) if (g.acc.calls > 0) groups.set(g.key, g);
  return { info: { ...scopeInfo(scope, scan), durationSeconds: duration, calls, failures }, groups };
}

function sideOf(acc: Accumulator | undefined, duration: number | null): DiffEndpointSide {
  if (!acc) return { calls: 0, failures: 0, ratePerSecond: duration ? 0 : null, failureRate: null, p95Ms: null };
  return {
    calls: acc.calls,
    failures: acc.failures,
    ratePerSecond: duration ? acc.calls / duration : null,
    failureRate: acc.failures / acc.calls,
    p95Ms: acc.latencies.percentile(95),
  };
}

/** The score of the module's comment. */
export function diffScore(a: DiffEndpointSide, b: DiffEndpointSide): { score: number; failureDelta: number; p95Relative: number | null } {
  const failureDelta = (b.failureRate ?? 0) - (a.failureRate ?? 0);
  let score = Math.abs(failureDelta) * Math.sqrt(a.calls + b.calls);
  let p95Relative: number | null = null;
  if (a.p95Ms !== null && b.p95Ms !== null) {
    const m = Math.max(a.p95Ms, b.p95Ms);
    p95Relative = m > 0 ? Math.abs(b.p95Ms - a.p95Ms) / m : 0;
    score += p95Relative;
  }
  if (a.calls === 0 || b.calls === 0) score += 0.25 * Math.log10(1 + a.calls + b.calls);
  return { score, failureDelta, p95Relative };
}

export function computeDiff(ws: Workspace, q: DiffQuery): DiffResult {
  let a = q.a;
  let b = q.b;
  if (q.halves) ({ a, b } = halves(ws, q.snapshots));
  if (!a || !b) throw new AnalysisError('give two sides to compare (two snapshots, or two windows), or ask for the halves of one capture');
  const filter = q.filter ?? '';
  const ra = runSide(ws, filter, a);
  const rb = runSide(ws, filter, b);
  const keys = new Set([...ra.groups.keys(), ...rb.groups.keys()]);
  const rows: DiffRow[] = [];
  for (const key of keys) {
    const ga = ra.groups.get(key);
    const gb = rb.groups.get(key);
    const endpoint = (ga ?? gb)!.endpoint;
    const sa = sideOf(ga?.acc, ra.info.durationSeconds);
    const sb = sideOf(gb?.acc, rb.info.durationSeconds);
    const { score, failureDelta, p95Relative } = diffScore(sa, sb);
    rows.push({
      label: endpointLabel(endpoint),
      endpoint,
      change: !ga ? 'appeared' : !gb ? 'vanished' : 'both',
      a: sa,
      b: sb,
      delta: {
        ratePerSecond: sa.ratePerSecond !== null && sb.ratePerSecond !== null ? sb.ratePerSecond - sa.ratePerSecond : null,
        failureRate: failureDelta,
        p95Ms: sa.p95Ms !== null && sb.p95Ms !== null ? sb.p95Ms - sa.p95Ms : null,
        p95Relative,
      },
      score,
    });
  }
  rows.sort((x, y) => y.score - x.score || (x.label < y.label ? -1 : x.label > y.label ? 1 : 0) || (x.endpoint.protocol < y.endpoint.protocol ? -1 : 1));
  const limit = q.limit !== undefined && q.limit > 0 ? q.limit : rows.length;
  return {
    filter: ra.info.filter,
    score: DIFF_SCORE,
    percentiles: { method: PERCENTILE_METHOD, description: PERCENTILE_NOTE },
    a: ra.info,
    b: rb.info,
    totalEndpoints: rows.length,
    appeared: rows.filter((r) => r.change === 'appeared').length,
    vanished: rows.filter((r) => r.change === 'vanished').length,
    endpoints: rows.slice(0, limit),
  };
}
