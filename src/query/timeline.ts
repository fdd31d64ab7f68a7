/**
 * The timeline: calls, failures and latency in fixed time buckets (aligned to
 * multiples of the bucket since the epoch, so 1m buckets start on the minute),
 * by protocol, with the first failing bucket and the first failure's time.
 * Empty buckets between the window's ends are kept: a gap is information.
 */
import { FLAG_FAILED, FLAG_RESPONSE, PROTOCOLS } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import { PERCENTILE_METHOD, PERCENTILE_NOTE, Samples } from './percentiles.js';
import { AnalysisError, iso, resolveScope, scanScope, scopeInfo, type AnalysisQuery, type ScopeInfo } from './stats.js';

const UNITS: Record<string, number> = { us: 1, 'µs': 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6, d: 86400e6 };

/** A duration such as 500ms, 10s, 1m, 1.5h, 2d (or a compound 1m30s), in µs. */
export function parseDuration(s: string): number {
  const text = s.trim();
  const re = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length || !(total > 0)) {
    throw new AnalysisError(`"${s}" is not a duration: write it as 500ms, 10s, 5m, 1h or 1d`);
  }
  return total;
}

/** A duration in µs as the shortest exact text: 10s, 1m, 1m30s, 250ms. */
export function formatDuration(us: number): string {
  const parts: string[] = [];
  let rest = Math.round(us);
  for (const [unit, size] of [['d', 86400e6], ['h', 3600e6], ['m', 60e6], ['s', 1e6], ['ms', 1e3], ['us', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}

/** Bucket sizes chosen automatically: the smallest that gives at most AUTO_BUCKETS buckets. */
const NICE = [1e3, 2e3, 5e3, 10e3, 20e3, 50e3, 100e3, 200e3, 500e3, 1e6, 2e6, 5e6, 10e6, 15e6, 30e6, 60e6, 120e6, 300e6, 600e6,
  900e6, 1800e6, 3600e6, 7200e6, 10800e6, 21600e6, 43200e6, 86400e6];
export const AUTO_BUCKETS = 60;
export const MAX_BUCKETS = 10_000;

export function autoBucket(spanUs: number): number {
  const want = spanUs / AUTO_BUCKETS;
  for (const n of NICE) if (n >= want) return n;
  return Math.ceil(want / 86400e6) * 86400e6;
}

export interface TimelineQuery extends AnalysisQuery {
  /** Bucket width in µs; chosen so that the range has at most 60 buckets when absent. */
  bucket?: number;
  /** Centre of the window (µs): from around − aroundWindow to around + aroundWindow. Excludes `window`. */
  around?: number;
  /** Half-width of the window around `around`, µs; default 5 minutes. */
  aroundWindow?: number;
  /** Refuse more buckets than this (default 10,000). */
  maxBuckets?: number;
}

export interface ProtocolCounts {
  calls: number;
  failures: number;
}

export interface TimelineBucket {
  start: string;
  /** µs since the epoch; the bucket is [startTs, startTs + bucket). */
  startTs: number;
  calls: number;
  failures: number;
  latencyMs: { p50: number | null; p99: number | null };
  /** Only the protocols with calls in the bucket. */
  byProtocol: Record<string, ProtocolCounts>;
}

export interface Timeline extends ScopeInfo {
  bucket: string;
  bucketUs: number;
  percentiles: { method: typeof PERCENTILE_METHOD; description: string };
  totals: { calls: number; failures: number; byProtocol: Record<string, ProtocolCounts> };
  /** The earliest failing call: its time, and the index of its bucket. */
  firstFailure: { time: string; ts: number; protocol: string; bucket: number } | null;
  /** Index in `buckets` of the first bucket with a failure; null when none failed. */
  firstFailingBucket: number | null;
  buckets: TimelineBucket[];
}

export function computeTimeline(ws: Workspace, q: TimelineQuery = {}): Timeline {
  let query: AnalysisQuery = q;
  if (q.around !== undefined && q.around !== null) {
    const w = q.window;
    if (w && ((w.from ?? null) !== null || (w.to ?? null) !== null || (w.last ?? null) !== null)) {
      throw new AnalysisError('give either a time to look around or a window (from/to, last), not both');
    }
    const half = q.aroundWindow ?? 5 * 60e6;
    if (!(half > 0)) throw new AnalysisError('the window around a time must be a positive duration');
    query = { ...q, window: { from: q.around - half, to: q.around + half } };
  }
  const scope = resolveScope(ws, query);
  const lo = scope.from ?? scope.captureStart;
  const hi = scope.to ?? scope.captureEnd;
  const bucketUs = q.bucket ?? autoBucket(lo !== null && hi !== null ? hi - lo : 0);
  if (!(bucketUs > 0)) throw new AnalysisError('the bucket must be a positive duration');
  const base = lo === null ? 0 : Math.floor(lo / bucketUs);
  const n = lo === null || hi === null ? 0 : Math.max(0, Math.floor(hi / bucketUs) - base + 1);
  const max = q.maxBuckets ?? MAX_BUCKETS;
  if (n > max) {
    throw new AnalysisError(`${n} buckets of ${formatDuration(bucketUs)} over ${formatDuration(hi! - lo!)}: more than ${max}; choose a larger bucket or a narrower window`);
  }
  const calls = new Int32Array(n);
  const failures = new Int32Array(n);
  const protoCalls = PROTOCOLS.map(() => new Int32Array(n));
  const protoFailures = PROTOCOLS.map(() => new Int32Array(n));
  const latencies: Array<Samples | undefined> = new Array(n);
  let first: { ts: number; protocol: number } | null = null;
  const scan = scanScope(ws, scope, ({ cols, row }) => {
    const ts = cols.ts[row];
    const b = Math.floor(ts / bucketUs) - base;
    if (b < 0 || b >= n) return; // cannot happen: the scope's rows lie in [lo, hi]
    const flags = cols.flags[row];
    const p = (flags >> 2) & 3;
    calls[b]++;
    protoCalls[p][b]++;
    if (flags & FLAG_FAILED) {
      failures[b]++;
      protoFailures[p][b]++;
      if (first === null || ts < first.ts) first = { ts, protocol: p };
    }
    const e = cols.elapsed[row];
    if ((flags & FLAG_RESPONSE) !== 0 && !Number.isNaN(e)) (latencies[b] ??= new Samples(8)).push(e);
  });
  const buckets: TimelineBucket[] = [];
  const totals = { calls: 0, failures: 0, byProtocol: {} as Record<string, ProtocolCounts> };
  let firstFailingBucket: number | null = null;
  for (let b = 0; b < n; b++) {
    const startTs = (base + b) * bucketUs;
    const byProtocol: Record<string, ProtocolCounts> = {};
    PROTOCOLS.forEach((name, p) => {
      if (protoCalls[p][b] === 0) return;
      byProtocol[name] = { calls: protoCalls[p][b], failures: protoFailures[p][b] };
      const t = (totals.byProtocol[name] ??= { calls: 0, failures: 0 });
      t.calls += protoCalls[p][b];
      t.failures += protoFailures[p][b];
    });
    const [p50, p99] = latencies[b]?.percentiles([50, 99]) ?? [null, null];
    buckets.push({
      start: iso(startTs)!, startTs, calls: calls[b], failures: failures[b],
      latencyMs: { p50, p99 }, byProtocol,
    });
    totals.calls += calls[b];
    totals.failures += failures[b];
    if (firstFailingBucket === null && failures[b] > 0) firstFailingBucket = b;
  }
  const f = first as { ts: number; protocol: number } | null;
  return {
    ...scopeInfo(scope, scan),
    bucket: formatDuration(bucketUs),
    bucketUs,
    percentiles: { method: PERCENTILE_METHOD, description: PERCENTILE_NOTE },
    totals,
    firstFailure: f ? { time: iso(f.ts)!, ts: f.ts, protocol: PROTOCOLS[f.protocol], bucket: Math.floor(f.ts / bucketUs) - base } : null,
    firstFailingBucket,
    buckets,
  };
}
