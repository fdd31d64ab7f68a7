/**
 * Statistics by group (endpoint, service, workload or edge) over the calls a
 * KFL2 filter selects in a time window, computed from the columnar summary:
 * counts, failures, exact latency percentiles (nearest-rank), bytes, first and
 * last seen. Also the scope every analysis shares (stats, map, timeline, diff,
 * auth): which snapshots, which filter, which time window, and the scan.
 */
import type { SnapshotMeta } from '../store/snapshot.js';
import { FLAG_FAILED, FLAG_RESPONSE, PROTOCOLS, type EdgeKey, type EndpointKey, type SummaryColumns } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import type { TransactionRecord } from '../dissect/record.js';
import { bodyTextFor, selectSnapshots } from './calls.js';
import { compileFilter, type Filter } from './filter.js';
import { PERCENTILE_METHOD, PERCENTILE_NOTE, Samples, summarize } from './percentiles.js';
import { captureBounds, scanRows } from './select.js';

// ---------------------------------------------------------------------------------------------
// The scope of an analysis
// ---------------------------------------------------------------------------------------------

/** A problem with what an analysis was asked (a window outside the capture, too many buckets): a usage error. */
export class AnalysisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisError';
  }
}

/** A time window; times in µs since the epoch. */
export interface TimeWindow {
  /** Inclusive start. */
  from?: number | null;
  /** End: inclusive unless toExclusive. */
  to?: number | null;
  toExclusive?: boolean;
  /** The last so many µs of the capture (ending at the last call of the selected snapshots); excludes from/to. */
  last?: number | null;
}

export interface AnalysisQuery {
  /** KFL2; empty or absent: every call. */
  filter?: string;
  /** Snapshot ids, names or id prefixes; all ready snapshots when absent or empty. */
  snapshots?: string[];
  window?: TimeWindow;
}

/** What an analysis looked at, stated in every result. */
export interface ScopeInfo {
  /** The KFL2 filter evaluated. */
  filter: string;
  /** The filter as written when it was KFL v1 and was translated into `filter`. */
  translatedFrom?: string;
  snapshots: string[];
  /** The window asked for, ISO; null for an open end. */
  from: string | null;
  to: string | null;
  /** The selected snapshots' first and last call, ISO. */
  captureStart: string | null;
  captureEnd: string | null;
  /** Calls that matched the filter in the window. */
  matched: number;
  /** Records read to evaluate the filter (0 when the summary's indexes answered it alone). */
  recordsRead: number;
  /** The index terms the filter was answered with. */
  indexUsed: string[];
  /** Records whose filter evaluation raised an error (counted as not matching). */
  evaluationErrors: number;
}

export interface Scope {
  snaps: SnapshotMeta[];
  filter: Filter;
  /** µs, inclusive; null: open. */
  from: number | null;
  to: number | null;
  toExclusive: boolean;
  captureStart: number | null;
  captureEnd: number | null;
}

export function iso(us: number | null): string | null {
  return us === null || !Number.isFinite(us) ? null : new Date(us / 1000).toISOString();
}

/**
 * Compile a filter for the given snapshots, with their bounds for capture_start/capture_end.
 */
export function compileScopedFilter(ws: Workspace, source: string, snaps: SnapshotMeta[]): Filter {
  return compileFilter(source, bodyTextFor(ws), captureBounds(snaps));
}

/** Resolve a window against the selected snapshots' bounds. */
export function resolveWindow(w: TimeWindow | undefined, captureEnd: number | null): { from: number | null; to: number | null; toExclusive: boolean } {
  if (!w) return { from: null, to: null, toExclusive: false };
  if (w.last !== undefined && w.last !== null) {
    if ((w.from ?? null) !== null || (w.to ?? null) !== null) throw new AnalysisError('give either a window relative to the capture\'s end (last) or from/to, not both');
    if (!(w.last > 0)) throw new AnalysisError('the relative window must be a positive duration');
    if (captureEnd === null) return { from: null, to: null, toExclusive: false };
    return { from: captureEnd - w.last, to: captureEnd, toExclusive: false };
  }
  const from = w.from ?? null;
  const to = w.to ?? null;
  if (from !== null && to !== null && to < from) throw new AnalysisError(`the window ends (${iso(to)}) before it starts (${iso(from)})`);
  return { from, to, toExclusive: w.toExclusive === true && to !== null };
}

export function resolveScope(ws: Workspace, q: AnalysisQuery): Scope {
  const snaps = selectSnapshots(ws, q.snapshots);
  const { captureStart, captureEnd } = captureBounds(snaps);
  const filter = compileScopedFilter(ws, q.filter ?? '', snaps);
  return { snaps, filter, ...resolveWindow(q.window, captureEnd), captureStart, captureEnd };
}

function isoMillis(us: number, round: 'floor' | 'ceil'): string {
  const ms = round === 'floor' ? Math.floor(us / 1000) : Math.ceil(us / 1000);
  return new Date(ms).toISOString();
}

/**
 * The filter with the window's bounds as KFL2 time terms, widened to whole milliseconds
 * (the planner answers them from the time index; exact µs bounds are the caller's to apply).
 */
export function windowFilter(filter: string, window: { from?: number | null; to?: number | null } | undefined): string {
  const terms: string[] = [];
  if (window?.from != null) terms.push(`timestamp >= timestamp("${isoMillis(window.from, 'floor')}")`);
  if (window?.to != null) terms.push(`timestamp <= timestamp("${isoMillis(window.to, 'ceil')}")`);
  if (terms.length === 0) return filter;
  return filter ? `${terms.join(' && ')} && (${filter})` : terms.join(' && ');
}

/** One matching row: its snapshot, its summary columns and row, and its sequence number. */
export interface Visit {
  snapshot: string;
  seq: number;
  cols: SummaryColumns;
  row: number;
}

export interface ScopeScan {
  matched: number;
  recordsRead: number;
  indexUsed: string[];
}

/**
 * Every row of the scope: the filter's rows (scanRows, over the summary's indexes),
 * inside the window. The window is given to the planner as time terms, so that
 * a filter that needs records reads only those inside the window; the exact
 * bounds (µs, end exclusive or not) are then applied to the timestamp column.
 */
export function scanScope(ws: Workspace, scope: Scope, visit: (v: Visit) => void): ScopeScan {
  const { from, to, toExclusive } = scope;
  const windowed = from !== null || to !== null;
  const user = scope.filter;
  const inWindow = (ts: number): boolean => (from === null || ts >= from) && (to === null || (toExclusive ? ts < to : ts <= to));
  const planned: Filter = !windowed ? user : {
    source: windowFilter(user.source, { from, to }),
    roots: user.roots,
    translatedFrom: user.translatedFrom,
    notes: user.notes,
    get errors() { return user.errors; },
    get lastError() { return user.lastError; },
    test: (rec: TransactionRecord) => inWindow(rec.timestamp) && user.test(rec),
  };
  const lo = from ?? -Infinity;
  const hi = to ?? Infinity;
  let matched = 0;
  const stats = !windowed
    ? scanRows(ws, scope.snaps, planned, visit)
    : scanRows(ws, scope.snaps, planned, (v) => {
      const ts = v.cols.ts[v.row];
      if (ts < lo || (toExclusive ? ts >= hi : ts > hi)) return;
      matched++;
      visit(v);
    });
  if (!windowed) matched = stats.matched;
  const timeTerm = /^time [<>]/;
  return { matched, recordsRead: stats.recordsRead, indexUsed: stats.plan.used.filter((u) => !(windowed && timeTerm.test(u))) };
}

export function scopeInfo(scope: Scope, scan: ScopeScan): ScopeInfo {
  return {
    filter: scope.filter.source,
    ...(scope.filter.translatedFrom ? { translatedFrom: scope.filter.translatedFrom } : {}),
    snapshots: scope.snaps.map((s) => s.id),
    from: iso(scope.from),
    to: iso(scope.to),
    captureStart: iso(scope.captureStart),
    captureEnd: iso(scope.captureEnd),
    matched: scan.matched,
    recordsRead: scan.recordsRead,
    indexUsed: scan.indexUsed,
    evaluationErrors: scope.filter.errors,
  };
}

/** The protocol of a row, from its flags. */
export function rowProtocol(cols: SummaryColumns, row: number): string {
  return PROTOCOLS[(cols.flags[row] >> 2) & 3];
}

/**
 * Per-snapshot lookup tables from a snapshot's dictionary ids to an analysis's groups:
 * rows carry endpoint and edge ids local to their snapshot; groups span snapshots.
 */
export class GroupIndex<G> {
  private readonly groups = new Map<string, G>();
  private snapshot: string | null = null;
  private table: Array<G | undefined> = [];
  private dict: unknown[] = [];

  constructor(
    private readonly ws: Workspace,
    private readonly snaps: SnapshotMeta[],
    private readonly dictionary: 'endpoint' | 'edge',
    private readonly keyOf: (entry: never) => string,
    private readonly make: (entry: never, key: string) => G,
  ) {}

  /** The group of a row's dictionary id in a snapshot. */
  get(snapshot: string, id: number): G {
    if (snapshot !== this.snapshot) {
      const meta = this.snaps.find((s) => s.id === snapshot)!;
      const reader = this.ws.summary(meta);
      this.dict = this.dictionary === 'endpoint' ? reader.endpoints : reader.edges;
      this.table = new Array<G | undefined>(this.dict.length);
      this.snapshot = snapshot;
    }
    let g = this.table[id];
    if (g === undefined) {
      const entry = (this.dict[id] ?? (this.dictionary === 'endpoint' ? UNKNOWN_ENDPOINT : UNKNOWN_EDGE)) as never;
      const key = this.keyOf(entry);
      g = this.groups.get(key);
      if (g === undefined) {
        g = this.make(entry, key);
        this.groups.set(key, g);
      }
      this.table[id] = g;
    }
    return g;
  }

  all(): G[] {
    return [...this.groups.values()];
  }
}

const UNKNOWN_ENDPOINT: EndpointKey = { protocol: '?', destination: '?', method: '', path: '' };
const UNKNOWN_EDGE: EdgeKey = { protocol: '?', source: '?', destination: '?', sourceWorkload: '', destinationWorkload: '' };

/** An endpoint as people read it: `ns/orders GET /api/orders/{id}`, `ns/payment-svc payments.v1.Payments/Charge`, `kube-dns A example.com`. */
export function endpointLabel(e: EndpointKey): string {
  if (e.protocol === 'grpc') return `${e.destination} ${e.method}/${e.path}`;
  return `${e.destination} ${e.method} ${e.path}`.trimEnd();
}

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

export type StatsGroupBy = 'endpoint' | 'service' | 'workload' | 'edge';
export type StatsSort = 'count' | 'failures' | 'rate' | 'p99' | 'p50' | 'bytes';
export const STATS_GROUPINGS: readonly StatsGroupBy[] = ['endpoint', 'service', 'workload', 'edge'];
export const STATS_SORTS: readonly StatsSort[] = ['count', 'failures', 'rate', 'p99', 'p50', 'bytes'];

export interface StatsQuery extends AnalysisQuery {
  /** Default endpoint. */
  by?: StatsGroupBy;
  /** Default count (descending; every sort is descending, ties by label). */
  sort?: StatsSort;
  /** Groups returned (all when absent); `totalGroups` says how many there were. */
  limit?: number;
}

export interface LatencyStats {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface StatsRow {
  /** The group as people read it (the table's first column). */
  label: string;
  /** Protocols of the group's calls. */
  protocols: string[];
  /** by endpoint: what the endpoint is. */
  endpoint?: EndpointKey;
  /** by edge: who called whom. */
  edge?: { protocol: string; source: string; destination: string };
  /** by service: the destination as named (namespace/service, else workload, pod, DNS name, ip:port). */
  service?: string;
  /** by workload: the destination's namespace/workload (else its name, as for service). */
  workload?: string;
  calls: number;
  failures: number;
  /** failures / calls. */
  failureRate: number;
  /** Calls with a response: the latencies the percentiles are over. */
  responses: number;
  latencyMs: LatencyStats;
  /** Decoded body bytes: request (into the endpoint) and response (out of it). */
  requestBytes: number;
  responseBytes: number;
  firstSeen: string;
  lastSeen: string;
  /** µs since the epoch. */
  firstTs: number;
  lastTs: number;
}

export interface StatsResult extends ScopeInfo {
  by: StatsGroupBy;
  sort: StatsSort;
  percentiles: { method: typeof PERCENTILE_METHOD; description: string };
  /** Every matched call as one group. */
  totals: StatsRow;
  totalGroups: number;
  groups: StatsRow[];
}

/** A group's running totals. */
export class Accumulator {
  calls = 0;
  failures = 0;
  requestBytes = 0;
  responseBytes = 0;
  firstTs = Infinity;
  lastTs = -Infinity;
  protocols = 0;
  latencies = new Samples();

  /** One accumulator holding all of several. */
  static merge(list: Accumulator[]): Accumulator {
    const out = new Accumulator();
    for (const a of list) {
      out.calls += a.calls;
      out.failures += a.failures;
      out.requestBytes += a.requestBytes;
      out.responseBytes += a.responseBytes;
      out.firstTs = Math.min(out.firstTs, a.firstTs);
      out.lastTs = Math.max(out.lastTs, a.lastTs);
      out.protocols |= a.protocols;
    }
    out.latencies = Samples.concat(list.map((a) => a.latencies));
    return out;
  }

  add(cols: SummaryColumns, row: number): void {
    const flags = cols.flags[row];
    const ts = cols.ts[row];
    this.calls++;
    if (flags & FLAG_FAILED) this.failures++;
    const e = cols.elapsed[row];
    if ((flags & FLAG_RESPONSE) !== 0 && !Number.isNaN(e)) this.latencies.push(e);
    this.requestBytes += cols.requestBytes[row];
    this.responseBytes += cols.responseBytes[row];
    if (ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
    this.protocols |= 1 << ((flags >> 2) & 3);
  }

  row(label: string): StatsRow {
    const l = summarize(this.latencies);
    const empty = this.calls === 0;
    return {
      label,
      protocols: PROTOCOLS.filter((_, i) => (this.protocols & (1 << i)) !== 0),
      calls: this.calls,
      failures: this.failures,
      failureRate: this.calls ? this.failures / this.calls : 0,
      responses: l.n,
      latencyMs: { p50: l.p50, p90: l.p90, p99: l.p99, max: l.max },
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      firstSeen: empty ? '' : iso(this.firstTs)!,
      lastSeen: empty ? '' : iso(this.lastTs)!,
      firstTs: empty ? 0 : this.firstTs,
      lastTs: empty ? 0 : this.lastTs,
    };
  }
}

interface StatsGroup {
  acc: Accumulator;
  label: string;
  extra: Partial<StatsRow>;
}

/** A row's sort value (descending). */
function sortValue(r: StatsRow, sort: StatsSort): number {
  switch (sort) {
    case 'count': return r.calls;
    case 'failures': return r.failures;
    case 'rate': return r.failureRate;
    case 'p99': return r.latencyMs.p99 ?? -1;
    case 'p50': return r.latencyMs.p50 ?? -1;
    case 'bytes': return r.requestBytes + r.responseBytes;
  }
}

export function sortStatsRows(rows: StatsRow[], sort: StatsSort): StatsRow[] {
  return rows.sort((a, b) => sortValue(b, sort) - sortValue(a, sort)
    || (sort === 'rate' ? b.failures - a.failures : 0)
    || b.calls - a.calls
    || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

export function computeStats(ws: Workspace, q: StatsQuery = {}): StatsResult {
  const by = q.by ?? 'endpoint';
  const sort = q.sort ?? 'count';
  if (!STATS_GROUPINGS.includes(by)) throw new AnalysisError(`cannot group by "${by}": one of ${STATS_GROUPINGS.join(', ')}`);
  if (!STATS_SORTS.includes(sort)) throw new AnalysisError(`cannot sort by "${sort}": one of ${STATS_SORTS.join(', ')}`);
  const scope = resolveScope(ws, q);
  const make = (label: string, extra: Partial<StatsRow>): StatsGroup => ({ acc: new Accumulator(), label, extra });
  const index = by === 'endpoint' || by === 'service'
    ? new GroupIndex<StatsGroup>(ws, scope.snaps, 'endpoint',
      ((e: EndpointKey) => (by === 'endpoint' ? JSON.stringify([e.protocol, e.destination, e.method, e.path]) : e.destination)) as (x: never) => string,
      ((e: EndpointKey) => (by === 'endpoint'
        ? make(endpointLabel(e), { endpoint: { protocol: e.protocol, destination: e.destination, method: e.method, path: e.path } })
        : make(e.destination, { service: e.destination }))) as (x: never, k: string) => StatsGroup)
    : new GroupIndex<StatsGroup>(ws, scope.snaps, 'edge',
      ((e: EdgeKey) => (by === 'edge' ? JSON.stringify([e.protocol, e.source, e.destination]) : (e.destinationWorkload || e.destination))) as (x: never) => string,
      ((e: EdgeKey) => (by === 'edge'
        ? make(`${e.source} → ${e.destination}`, { edge: { protocol: e.protocol, source: e.source, destination: e.destination } })
        : make(e.destinationWorkload || e.destination, { workload: e.destinationWorkload || e.destination }))) as (x: never, k: string) => StatsGroup);
  const column = by === 'endpoint' || by === 'service' ? 'endpoint' : 'edge';
  const scan = scanScope(ws, scope, ({ snapshot, cols, row }) => {
    index.get(snapshot, cols[column][row]).acc.add(cols, row);
  });
  const groups = index.all();
  const total = Accumulator.merge(groups.map((g) => g.acc));
  const rows = sortStatsRows(groups.map((g) => ({ ...g.acc.row(g.label), ...g.extra })), sort);
  const limit = q.limit !== undefined && q.limit > 0 ? q.limit : rows.length;
  return {
    ...scopeInfo(scope, scan),
    by,
    sort,
    percentiles: { method: PERCENTILE_METHOD, description: PERCENTILE_NOTE },
    totals: total.row('(all)'),
    totalGroups: rows.length,
    groups: rows.slice(0, limit),
  };
}
