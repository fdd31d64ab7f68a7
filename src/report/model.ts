/**
 * The incident report's content, built from query/'s analyses and nothing else:
 * the capture in a paragraph, failures by endpoint and cause, the slowest
 * endpoints, the service map, the timeline, authentication and DNS findings, the
 * top failed calls in full (redacted), and the CLI command behind each section.
 * Renderers (markdown.ts, html.ts) only lay this out; every string in it that came
 * from the capture is raw here and escaped by the renderer.
 *
 * Bounded whatever the snapshot's size: groups, rows and calls are capped (the
 * caps are stated in the model), and everything but the failed calls' causes,
 * the DNS findings and the top calls comes from the columnar summary.
 */
import type { TransactionRecord } from '../dissect/record.js';
import { endpointKeyOf, FLAG_FAILED, type EndpointKey } from '../store/summary.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import type { Workspace } from '../store/workspace.js';
import { computeAuth } from '../query/auth.js';
import { getCall, listCalls } from '../query/calls.js';
import { computeServiceMap, toMermaid, type MapEdge, type MapNode } from '../query/service-map.js';
import {
  computeStats, endpointLabel, GroupIndex, iso, resolveScope, rowProtocol, scanScope, windowFilter, type StatsRow, type TimeWindow,
} from '../query/stats.js';
import { computeTimeline } from '../query/timeline.js';
import { traceCall } from '../query/trace.js';
import { defaultRedactor, type Redactor } from '../query/redact.js';
import { PODCAP_VERSION } from '../version.js';
import { ProtoRegistry } from '../dissect/proto-registry.js';
import { existsSync } from 'node:fs';

export interface ReportQuery {
  /** KFL2; every call when empty. */
  filter?: string;
  /** Snapshot ids or names; all when absent. */
  snapshots?: string[];
  /** µs since the epoch; open ends are null. */
  window?: { from: number | null; to: number | null };
  /** Show credentials as captured instead of redacted. */
  reveal?: boolean;
  /** The redaction rules (the MCP server's: the defaults, plus configured ones); default: the defaults. */
  redactor?: Redactor;
  /** Failed calls shown in full (default 5). */
  topCalls?: number;
  /** Bytes of each body shown (default 4096). */
  maxBodyBytes?: number;
}

/** Caps that keep a report of a million calls small. */
export const REPORT_LIMITS = {
  failureGroups: 25,
  slowest: 10,
  traces: 8,
  /** Calls a trace would read (its window's share of the snapshot) above which it is left to the CLI. */
  traceRecords: 50_000,
  /** Time the traces may take in all. */
  traceMillis: 2_000,
  dnsRecords: 2000,
  dnsFailures: 20,
  searchPathBases: 20,
  tokens: 20,
} as const;

export interface Command {
  /** What the command shows. */
  title: string;
  /** A shell command line (arguments quoted for a POSIX shell). */
  line: string;
}

export interface CaptureSection {
  snapshots: Array<{ id: string; name: string | null; parent?: string | null }>;
  files: Array<{ path: string; format: string; packets: number; bytes: number; first: string | null; last: string | null; damaged: number; truncatedBytes: number }>;
  start: string | null;
  end: string | null;
  durationSeconds: number | null;
  packets: number;
  transactions: number;
  failed: number;
  byProtocol: Record<string, number>;
  /** What could not be decoded and why: packets skipped or damaged by reason, inputs passed over, bytes not understood. */
  undecoded: Array<{ what: string; count: number; reason: string }>;
  kubernetes: string | null;
  /** The report's scope when narrower than the whole snapshot. */
  scope: { filter: string; from: string | null; to: string | null; matched: number } | null;
  paragraph: string;
  commands: Command[];
}

export interface FailureGroup {
  endpoint: string;
  protocol: string;
  /** A short name of the cause: "gRPC UNAVAILABLE (14)", "HTTP 502", "no response". */
  cause: string;
  status: number;
  failures: number;
  /** All calls of the endpoint in scope, and the share of them that failed. */
  endpointCalls: number;
  endpointFailureRate: number;
  /** Why, as the capture shows it (distinct evidence of the first and last failure). */
  evidence: string[];
  /** Who called it (the first and last failure's clients). */
  clients: string[];
  firstSeen: string;
  lastSeen: string;
  firstId: string;
  lastId: string;
  /** `podcap trace` of a failure elsewhere found that failures began here. */
  origin: boolean;
  /** The group this one's failures began in, per `podcap trace`. */
  causedBy: string | null;
  command: string;
}

export interface FailuresSection {
  total: number;
  /** DNS failures are in the DNS section. */
  dns: number;
  groups: FailureGroup[];
  totalGroups: number;
  /** Groups whose first failure was traced through the services (the others: too many calls around them). */
  traced: number;
  commands: Command[];
}

export interface SlowSection {
  rows: Array<Pick<StatsRow, 'label' | 'protocols' | 'calls' | 'failures' | 'responses'> & { p50: number | null; p90: number | null; p99: number | null; max: number | null }>;
  totalEndpoints: number;
  /** DNS question names were left out (they are in the DNS section). */
  dnsApart: boolean;
  commands: Command[];
}

export interface MapSection {
  nodes: MapNode[];
  edges: MapEdge[];
  mermaid: string;
  commands: Command[];
}

export interface TimelineSection {
  bucket: string;
  bucketUs: number;
  buckets: Array<{ start: string; startTs: number; calls: number; failures: number; p50: number | null; p99: number | null }>;
  firstFailure: { time: string; ts: number; protocol: string; bucket: number } | null;
  firstFailingBucket: number | null;
  commands: Command[];
}

export interface AuthSection {
  unauthenticated: Array<{ source: string; destination: string; protocol: string; calls: number }>;
  edges: Array<{ source: string; destination: string; protocol: string; calls: number; withCredentials: number; without: number; credentials: string; kinds: string }>;
  tokens: Array<{ edge: string; fingerprint: string; type: string; iss: string | null; sub: string | null; aud: string | null; expires: string | null; usedAfterExpiry: boolean; seen: number }>;
  transportNote: string;
  commands: Command[];
}

export interface DnsSection {
  queries: number;
  failedQueries: number;
  /** Lookups that failed for real (not a step of a search-path expansion), by the name asked for. */
  failures: Array<{ name: string; client: string; rcodes: string; queries: number; firstSeen: string; lastSeen: string; evidence: string; firstId: string }>;
  /** Expected NXDOMAINs of Kubernetes search-path expansion (ndots), which then resolved. */
  searchPath: { nxdomain: number; bases: Array<{ base: string; nxdomain: number; resolvedAs: string | null }> };
  /** The DNS records read were capped (the counts above are exact). */
  sampled: boolean;
  commands: Command[];
}

export interface CallDetail {
  id: string;
  time: string;
  protocol: string;
  from: string;
  to: string;
  what: string;
  status: string;
  elapsedMs: number | null;
  evidence: string | null;
  notes: string[];
  request: { line: string; headers: Array<[string, string]>; body: string | null; bodyNote: string | null };
  response: { line: string; headers: Array<[string, string]>; trailers: Array<[string, string]>; body: string | null; bodyNote: string | null } | null;
  /** gRPC messages as decoded (JSON text). */
  messages: Array<{ from: string; type: string | null; json: string }>;
  commands: Command[];
}

export interface ReportModel {
  title: string;
  generatedAt: string;
  podcapVersion: string;
  redacted: boolean;
  capture: CaptureSection;
  failures: FailuresSection;
  slowest: SlowSection;
  map: MapSection;
  timeline: TimelineSection;
  auth: AuthSection;
  dns: DnsSection;
  calls: CallDetail[];
}

// ---------------------------------------------------------------------------------------------
// Commands

/** A word for a POSIX shell: quoted when it holds anything but safe characters. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function and(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return `${b} && (${a})`;
}

class CommandLines {
  constructor(private readonly snapshots: string[], private readonly window: { from: string | null; to: string | null }) {}

  /** podcap CMD [FILTER] ARGS... with the report's snapshots and window. */
  line(cmd: string, filter: string | null, args: string[] = [], windowed = true): string {
    const words = ['podcap', cmd];
    if (filter) words.push(shellWord(filter));
    words.push(...args.map(shellWord));
    for (const s of this.snapshots) words.push('--snapshot', s);
    if (windowed && this.window.from) words.push('--from', this.window.from);
    if (windowed && this.window.to) words.push('--to', this.window.to);
    return words.join(' ');
  }

  /** `calls` takes no window: it goes into the filter. */
  callsLine(filter: string, args: string[] = []): string {
    const terms: string[] = [];
    if (this.window.from) terms.push(`timestamp >= timestamp("${this.window.from}")`);
    if (this.window.to) terms.push(`timestamp <= timestamp("${this.window.to}")`);
    const f = terms.length ? and(filter, terms.join(' && ')) : filter;
    return this.line('calls', f, args, false);
  }
}

// ---------------------------------------------------------------------------------------------
// Sections

function captureSection(snaps: SnapshotMeta[], scope: CaptureSection['scope'], cmds: CommandLines): CaptureSection {
  const files = snaps.flatMap((s) => s.files.map((f) => ({
    path: f.path, format: `${f.format}${f.compressed ? ' (gzip)' : ''}`, packets: f.packets, bytes: f.bytes,
    first: iso(f.firstTs), last: iso(f.lastTs), damaged: f.damaged, truncatedBytes: f.truncatedBytes,
  })));
  const byProtocol: Record<string, number> = {};
  const undecoded: CaptureSection['undecoded'] = [];
  let packets = 0;
  let failed = 0;
  let transactions = 0;
  for (const s of snaps) {
    packets += s.report.packets;
    failed += s.report.failed;
    transactions += s.transactions;
    for (const [p, n] of Object.entries(s.report.transactions)) byProtocol[p] = (byProtocol[p] ?? 0) + n;
    for (const [reason, n] of Object.entries(s.report.skipped)) undecoded.push({ what: 'packets skipped', count: n, reason });
    for (const [reason, n] of Object.entries(s.report.damaged)) undecoded.push({ what: 'packets damaged', count: n, reason });
    for (const [reason, n] of Object.entries(s.report.fragments?.dropped ?? {})) undecoded.push({ what: 'IP fragments dropped', count: n, reason });
    if (s.report.tcp.gaps) undecoded.push({ what: 'TCP gaps', count: s.report.tcp.gaps, reason: `${s.report.tcp.gapBytes} bytes not captured` });
    if (s.report.unrecognisedBytes) undecoded.push({ what: 'bytes', count: s.report.unrecognisedBytes, reason: 'TCP payload of no protocol podcap dissects' });
    for (const f of s.files) {
      if (f.damaged) undecoded.push({ what: 'damaged records', count: f.damaged, reason: `in ${f.path}` });
      if (f.truncatedBytes) undecoded.push({ what: 'bytes cut off', count: f.truncatedBytes, reason: `${f.path} ends inside a record` });
    }
    for (const k of s.skipped) undecoded.push({ what: 'input passed over', count: 1, reason: `${k.name}: ${k.reason}` });
  }
  const starts = snaps.map((s) => s.firstTs).filter((t): t is number => t !== null);
  const ends = snaps.map((s) => s.lastTs).filter((t): t is number => t !== null);
  const first = starts.length ? Math.min(...starts) : null;
  const last = ends.length ? Math.max(...ends) : null;
  const k = snaps.find((s) => s.kubernetes)?.kubernetes ?? null;
  const kubernetes = k
    ? `${k.summary.pods} pods, ${k.summary.services} services, ${k.summary.workloads} workloads in ${k.summary.namespaces} namespaces from ${k.files.map((f) => f.split('/').pop()).join(', ')}`
    : null;
  const duration = first !== null && last !== null ? (last - first) / 1e6 : null;
  const protoText = Object.entries(byProtocol).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${n} ${p}`).join(', ') || 'none';
  const skippedPackets = undecoded.filter((u) => u.what.startsWith('packets')).reduce((n, u) => n + u.count, 0);
  const parts = [
    `${files.length} capture file${files.length === 1 ? '' : 's'} (${files.map((f) => f.path.split('/').pop()).join(', ')})`,
    first !== null ? ` from ${iso(first)} to ${iso(last)} (${duration!.toFixed(1)} s)` : ' with no transactions',
    `: ${packets} packets, ${transactions} transactions (${protoText}), ${failed} failed.`,
    skippedPackets ? ` ${skippedPackets} packets were not decoded (see below).` : ' Every packet was decoded.',
    kubernetes ? ` Addresses named from the cluster manifest: ${kubernetes}.` : ' No cluster manifest: addresses are shown as IPs.',
  ];
  for (const s of snaps) {
    if (s.parent) parts.push(` Snapshot ${s.name ?? s.id} was cut out of snapshot ${s.parent.name ?? s.parent.id}${s.parent.filter ? ` by “${s.parent.filter}”` : ''}${s.parent.from || s.parent.to ? ` from ${s.parent.from ?? 'the start'} to ${s.parent.to ?? 'the end'}` : ''}.`);
  }
  if (scope) {
    parts.push(` This report covers the ${scope.matched} calls${scope.filter ? ` matching “${scope.filter}”` : ''}`
      + `${scope.from || scope.to ? ` from ${scope.from ?? 'the start'} to ${scope.to ?? 'the end'}` : ''}.`);
  }
  return {
    snapshots: snaps.map((s) => ({ id: s.id, name: s.name, parent: s.parent?.id ?? null })),
    files, start: iso(first), end: iso(last), durationSeconds: duration, packets, transactions, failed, byProtocol, undecoded, kubernetes, scope,
    paragraph: parts.join(''),
    commands: [{ title: 'the snapshot', line: `podcap snapshots` }, { title: 'every call', line: cmds.callsLine('', ['--limit', '50']) }],
  };
}

interface FailAcc {
  status: number;
  protocol: string;
  count: number;
  first: { ts: number; snapshot: string; seq: number };
  last: { ts: number; snapshot: string; seq: number };
}

/** Evidence that says something new: two texts that differ only in numbers and ids (order 58030, req-0083-bbb965ab) are one. */
function distinctEvidence(list: Array<string | null | undefined>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of list) {
    if (!e) continue;
    const k = e.replace(/[0-9a-f]{6,}|\d+/gi, '#');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out;
}

function causeOf(r: TransactionRecord): string {
  if (r.grpc) return `gRPC ${r.grpc.statusName} (${r.status})`;
  if (r.dns) return r.dns.rcode ? `DNS ${r.dns.rcode}` : 'DNS no answer';
  if (r.http2?.resetCode) return `stream reset (${r.http2.resetCode})`;
  if (r.response) return `HTTP ${r.response.status}${r.response.statusText ? ` ${r.response.statusText}` : ''}`;
  return 'no response';
}

function peerName(e: TransactionRecord['src']): string {
  if (e.workload) return `${e.namespace ? `${e.namespace}/` : ''}${e.workload.name}`;
  if (e.name) return `${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
  return e.dns ?? (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
}


function failuresSection(ws: Workspace, q: ReportQuery, window: TimeWindow | undefined, endpointStats: Map<string, StatsRow>, cmds: CommandLines): FailuresSection {
  const scope = resolveScope(ws, { filter: and(q.filter ?? '', 'failed'), snapshots: q.snapshots, window });
  const index = new GroupIndex<Map<number, FailAcc>>(ws, scope.snaps, 'endpoint',
    ((e: EndpointKey) => JSON.stringify([e.protocol, e.destination, e.method, e.path])) as (x: never) => string,
    (() => new Map<number, FailAcc>()) as (x: never, k: string) => Map<number, FailAcc>);
  let total = 0;
  let dns = 0;
  scanScope(ws, scope, ({ snapshot, seq, cols, row }) => {
    if ((cols.flags[row] & FLAG_FAILED) === 0) return;
    total++;
    const protocol = rowProtocol(cols, row);
    if (protocol === 'dns') {
      dns++;
      return;
    }
    const byStatus = index.get(snapshot, cols.endpoint[row]);
    const status = cols.status[row];
    const ts = cols.ts[row];
    let acc = byStatus.get(status);
    if (!acc) {
      acc = { status, protocol, count: 0, first: { ts, snapshot, seq }, last: { ts, snapshot, seq } };
      byStatus.set(status, acc);
    }
    acc.count++;
    if (ts < acc.first.ts) acc.first = { ts, snapshot, seq };
    if (ts >= acc.last.ts) acc.last = { ts, snapshot, seq };
  });
  const accs = index.all().flatMap((m) => [...m.values()]);
  accs.sort((a, b) => b.count - a.count || a.first.ts - b.first.ts);
  const shown = accs.slice(0, REPORT_LIMITS.failureGroups);
  const groups: FailureGroup[] = [];
  const byId = new Map<string, FailureGroup>();
  for (const a of shown) {
    const first = ws.getRecord(a.first.snapshot, a.first.seq);
    const last = ws.getRecord(a.last.snapshot, a.last.seq);
    if (!first || !last) continue;
    const key = endpointKeyOf(first);
    const label = endpointLabel(key);
    const st = endpointStats.get(label);
    const g: FailureGroup = {
      endpoint: label, protocol: a.protocol, cause: causeOf(first), status: a.status, failures: a.count,
      endpointCalls: st?.calls ?? a.count, endpointFailureRate: st ? st.failureRate : 1,
      evidence: distinctEvidence([first.evidence, last.evidence]),
      clients: [...new Set([peerName(first.src), peerName(last.src)])],
      firstSeen: iso(a.first.ts)!, lastSeen: iso(a.last.ts)!,
      firstId: first.id, lastId: last.id, origin: false, causedBy: null,
      command: cmds.callsLine(and(q.filter ?? '', `${a.protocol} && failed && status_code == ${a.status}`), ['--limit', '20']),
    };
    groups.push(g);
    byId.set(`${label}\u0000${a.status}`, g);
  }
  // Where failures began: podcap trace of each group's first failure names the hop none of whose own calls failed.
  // A trace reads every call from 5 s before to 30 s after its root: where that is too many records, or once the
  // traces took their share of time, the rest are left to `podcap trace` (the model says so).
  const started = Date.now();
  let traced = 0;
  for (const g of groups.slice(0, REPORT_LIMITS.traces)) {
    const snap = scope.snaps.find((s) => g.firstId.startsWith(`${s.id}-`));
    const span = snap && snap.firstTs !== null && snap.lastTs !== null ? Math.max(1, snap.lastTs - snap.firstTs) : 1;
    const nearby = snap ? (snap.transactions / span) * 35e6 : Infinity;
    if (nearby > REPORT_LIMITS.traceRecords || Date.now() - started > REPORT_LIMITS.traceMillis) continue;
    traced++;
    const t = traceCall(ws, g.firstId);
    if (!t?.origin || t.origin === g.firstId) {
      if (t?.origin === g.firstId && t.calls > 1) g.origin = true;
      continue;
    }
    const ref = t.origin.lastIndexOf('-');
    const rec = ws.getRecord(t.origin.slice(0, ref), Number(t.origin.slice(ref + 1)));
    if (!rec) continue;
    const originGroup = byId.get(`${endpointLabel(endpointKeyOf(rec))}\u0000${rec.status}`);
    if (!originGroup || originGroup === g) continue;
    originGroup.origin = true;
    g.causedBy = `${originGroup.endpoint} (${originGroup.cause})`;
  }
  // Where failures began goes first; then the most failures, then the earliest.
  groups.sort((a, b) => Number(b.origin) - Number(a.origin) || b.failures - a.failures || (a.firstSeen < b.firstSeen ? -1 : 1));
  return {
    total, dns, groups, totalGroups: accs.length, traced,
    commands: [
      { title: 'failures by endpoint', line: cmds.line('stats', and(q.filter ?? '', 'failed'), ['--by', 'endpoint', '--sort', 'failures']) },
      { title: 'the failed calls', line: cmds.callsLine(and(q.filter ?? '', 'failed && !dns'), ['--limit', '50']) },
    ],
  };
}

function dnsSection(ws: Workspace, q: ReportQuery, window: TimeWindow | undefined, cmds: CommandLines): DnsSection {
  const filter = q.filter ?? '';
  const all = computeStats(ws, { filter: and(filter, 'dns'), snapshots: q.snapshots, window, limit: 1 });
  const inWindow = (r: TransactionRecord): boolean => (window?.from == null || r.timestamp >= window.from) && (window?.to == null || r.timestamp <= window.to);
  const read = (f: string): { recs: TransactionRecord[]; capped: boolean } => {
    const page = listCalls(ws, { filter: windowFilter(and(filter, f), window), snapshots: q.snapshots, limit: REPORT_LIMITS.dnsRecords });
    return { recs: page.calls.filter(inWindow), capped: page.nextCursor !== null };
  };
  const failed = read('dns && failed');
  const byName = new Map<string, { name: string; client: string; rcodes: Map<string, number>; queries: number; first: TransactionRecord; last: TransactionRecord }>();
  for (const r of failed.recs) {
    const name = r.dns?.searchPath?.base ?? r.dns?.questions[0]?.name ?? r.request.path;
    const client = peerName(r.src);
    const k = `${client}\u0000${name}`;
    let g = byName.get(k);
    if (!g) byName.set(k, (g = { name, client, rcodes: new Map(), queries: 0, first: r, last: r }));
    g.queries++;
    const rc = r.dns?.rcode ?? 'no answer';
    g.rcodes.set(rc, (g.rcodes.get(rc) ?? 0) + 1);
    if (r.timestamp < g.first.timestamp) g.first = r;
    if (r.timestamp >= g.last.timestamp) g.last = r;
  }
  const expansions = read('dns && dns_search_expansion');
  const bases = new Map<string, { base: string; nxdomain: number; resolvedAs: string | null }>();
  for (const r of expansions.recs) {
    const sp = r.dns?.searchPath;
    const base = sp?.base ?? r.request.path;
    let b = bases.get(base);
    if (!b) bases.set(base, (b = { base, nxdomain: 0, resolvedAs: sp?.resolvedAs ?? null }));
    b.nxdomain++;
    b.resolvedAs ??= sp?.resolvedAs ?? null;
  }
  return {
    queries: all.matched,
    failedQueries: all.totals.failures,
    failures: [...byName.values()].sort((a, b) => b.queries - a.queries || a.first.timestamp - b.first.timestamp).slice(0, REPORT_LIMITS.dnsFailures).map((g) => ({
      name: g.name, client: g.client, queries: g.queries,
      rcodes: [...g.rcodes].map(([rc, n]) => `${n} ${rc}`).join(', '),
      firstSeen: iso(g.first.timestamp)!, lastSeen: iso(g.last.timestamp)!, evidence: g.first.evidence ?? '', firstId: g.first.id,
    })),
    searchPath: {
      nxdomain: expansions.recs.length,
      bases: [...bases.values()].sort((a, b) => b.nxdomain - a.nxdomain || (a.base < b.base ? -1 : 1)).slice(0, REPORT_LIMITS.searchPathBases),
    },
    sampled: failed.capped || expansions.capped,
    commands: [
      { title: 'DNS lookups that failed', line: cmds.callsLine(and(filter, 'dns && failed')) },
      { title: 'search-path NXDOMAINs (expected)', line: cmds.callsLine(and(filter, 'dns && dns_search_expansion')) },
    ],
  };
}

function authSection(ws: Workspace, q: ReportQuery, window: TimeWindow | undefined, cmds: CommandLines): AuthSection {
  const a = computeAuth(ws, { filter: q.filter, snapshots: q.snapshots, window });
  const kinds = (k: { bearer: number; basic: number; apiKey: number; cookie: number; other: number }): string =>
    ([['bearer', k.bearer], ['basic', k.basic], ['API key', k.apiKey], ['cookie', k.cookie], ['other', k.other]] as Array<[string, number]>)
      .filter(([, n]) => n > 0).map(([n, c]) => `${n} ${c}`).join(', ') || '-';
  const tokens: AuthSection['tokens'] = [];
  for (const e of a.edges) {
    for (const t of e.tokens) {
      if (tokens.length >= REPORT_LIMITS.tokens) break;
      const c = t.claims;
      tokens.push({
        edge: `${e.source} → ${e.destination}`, fingerprint: t.fingerprint, type: t.jwt ? `JWT ${t.alg ?? '?'}` : 'opaque',
        iss: c?.iss ?? null, sub: c?.sub ?? null, aud: c?.aud == null ? null : Array.isArray(c.aud) ? c.aud.join(', ') : c.aud,
        expires: c?.expires ?? null, usedAfterExpiry: t.usedAfterExpiry, seen: t.seen,
      });
    }
  }
  return {
    unauthenticated: a.unauthenticated,
    edges: a.edges.map((e) => ({
      source: e.source, destination: e.destination, protocol: e.protocol, calls: e.calls, withCredentials: e.authenticatedCalls,
      without: e.unauthenticatedCalls, credentials: e.credentials, kinds: kinds(e.kinds),
    })),
    tokens,
    transportNote: a.transportNote,
    commands: [
      { title: 'credentials per edge', line: cmds.line('auth', q.filter ?? '') },
      { title: 'HTTP calls without Authorization', line: cmds.callsLine(and(q.filter ?? '', '(http || http2) && !("authorization" in request.headers)'), ['--limit', '20']) },
    ],
  };
}

function bodyText(b: TransactionRecord['request']['body'], size: number): { body: string | null; note: string | null } {
  if (!b) return { body: null, note: size > 0 ? `${size} bytes (not stored)` : null };
  if (b.encoding === 'base64') return { body: null, note: `${b.size} bytes of ${b.mimeType ?? 'binary data'} (podcap show --json has them as base64)` };
  return { body: b.data, note: b.truncated ? `first ${Buffer.byteLength(b.data)} of ${b.size} bytes` : null };
}

function callDetail(r: TransactionRecord, cmds: CommandLines): CallDetail {
  const what = r.grpc ? `${r.grpc.service}/${r.grpc.method}`
    : r.dns ? r.dns.questions.map((x) => `${x.type} ${x.name}`).join(', ') : `${r.request.method} ${r.request.url}`;
  const status = r.grpc ? `${r.status} ${r.grpc.statusName}` : r.dns ? (r.dns.rcode ?? 'no answer') : r.response ? `${r.status} ${r.response.statusText}`.trim() : 'no response';
  const req = bodyText(r.request.body, r.grpc ? 0 : r.request.bodySize);
  const res = r.response ? bodyText(r.response.body, r.grpc ? 0 : r.response.bodySize) : null;
  return {
    id: r.id, time: iso(r.timestamp)!, protocol: r.protocol, from: peerName(r.src), to: peerName(r.dst), what, status,
    elapsedMs: r.elapsedTime, evidence: r.evidence ?? null, notes: r.notes,
    request: { line: `${r.request.method} ${r.request.url} ${r.request.version}`, headers: r.request.headers, body: req.body, bodyNote: req.note },
    response: r.response ? {
      line: `${r.response.version} ${r.response.status} ${r.response.statusText}`.trim(), headers: r.response.headers,
      trailers: r.response.trailers ?? [], body: res!.body, bodyNote: res!.note,
    } : null,
    messages: (r.grpc?.decoded ?? []).map((m) => ({ from: m.from, type: m.type, json: JSON.stringify(m.json, null, 2) ?? (m.error ?? '') })),
    commands: [
      { title: 'this call', line: `podcap show ${r.id}` },
      { title: 'through the services', line: `podcap trace ${r.id}` },
      { title: 'its connection', line: `podcap follow ${r.id}` },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The report

export async function buildReport(ws: Workspace, q: ReportQuery = {}): Promise<ReportModel> {
  const filter = q.filter ?? '';
  const window: TimeWindow | undefined = q.window && (q.window.from !== null || q.window.to !== null) ? { from: q.window.from, to: q.window.to } : undefined;
  const scope = resolveScope(ws, { filter, snapshots: q.snapshots, window });
  const snapshots = scope.snaps.map((s) => s.id);
  const cmds = new CommandLines(q.snapshots && q.snapshots.length ? snapshots : [], { from: iso(scope.from), to: iso(scope.to) });

  const stats = computeStats(ws, { filter, snapshots: q.snapshots, window, by: 'endpoint', sort: 'p99' });
  const byLabel = new Map(stats.groups.map((g) => [g.label, g]));
  const narrowed = filter !== '' || window !== undefined;
  const capture = captureSection(scope.snaps, narrowed ? { filter: stats.filter, from: stats.from, to: stats.to, matched: stats.matched } : null, cmds);

  const failures = failuresSection(ws, q, window, byLabel, cmds);
  // DNS answers in microseconds: among the services' endpoints they only crowd the table out.
  const answered = stats.groups.filter((g) => g.responses > 0);
  const services = answered.filter((g) => !(g.protocols.length === 1 && g.protocols[0] === 'dns'));
  const slowRows = (services.length ? services : answered).slice(0, REPORT_LIMITS.slowest);
  const slowest: SlowSection = {
    rows: slowRows.map((g) => ({ label: g.label, protocols: g.protocols, calls: g.calls, failures: g.failures, responses: g.responses, ...g.latencyMs })),
    totalEndpoints: stats.totalGroups,
    dnsApart: services.length > 0 && services.length < answered.length,
    commands: [{ title: 'the slowest endpoints', line: cmds.line('stats', filter, ['--sort', 'p99', '--limit', String(REPORT_LIMITS.slowest)]) }],
  };
  const m = computeServiceMap(ws, { filter, snapshots: q.snapshots, window });
  const map: MapSection = {
    nodes: m.nodes, edges: m.edges, mermaid: toMermaid(m),
    commands: [{ title: 'the service map', line: cmds.line('map', filter) }, { title: 'as Graphviz', line: `${cmds.line('map', filter, ['--format', 'dot'])} | dot -Tsvg > map.svg` }],
  };
  const t = computeTimeline(ws, { filter, snapshots: q.snapshots, window });
  const timeline: TimelineSection = {
    bucket: t.bucket, bucketUs: t.bucketUs,
    buckets: t.buckets.map((b) => ({ start: b.start, startTs: b.startTs, calls: b.calls, failures: b.failures, p50: b.latencyMs.p50, p99: b.latencyMs.p99 })),
    firstFailure: t.firstFailure, firstFailingBucket: t.firstFailingBucket,
    commands: [
      { title: 'the timeline', line: cmds.line('timeline', filter) },
      // --around makes its own window: the report's is not added.
      ...(t.firstFailure ? [{ title: 'around the first failure', line: cmds.line('timeline', filter, ['--around', t.firstFailure.time, '--window', '30s', '--bucket', '1s'], false) }] : []),
    ],
  };
  const auth = authSection(ws, q, window, cmds);
  const dns = dnsSection(ws, q, window, cmds);

  // The top failed calls in full: the first of each failure group, where failures began first.
  const calls: CallDetail[] = [];
  const redactor = q.redactor ?? defaultRedactor;
  const registries = new Map<string, ProtoRegistry | null>();
  for (const g of failures.groups.slice(0, q.topCalls ?? 5)) {
    const snap = scope.snaps.find((s) => g.firstId.startsWith(`${s.id}-`));
    let protos = registries.get(snap?.id ?? '') ?? null;
    if (snap && !registries.has(snap.id)) {
      // gRPC messages read with the .proto files given at import; schema-less when they are gone.
      protos = snap.protoDirs.length && snap.protoDirs.every((d) => existsSync(d)) ? await ProtoRegistry.load(snap.protoDirs) : null;
      registries.set(snap.id, protos);
    }
    const rec = getCall(ws, g.firstId, { maxBodyBytes: q.maxBodyBytes ?? 4096, protos });
    if (rec) calls.push(callDetail(q.reveal ? rec : redactor.record(rec), cmds));
  }

  const names = scope.snaps.map((s) => s.name ?? s.id).join(', ');
  const model: ReportModel = {
    title: `Incident report: ${names || 'empty workspace'}`,
    generatedAt: new Date().toISOString(),
    podcapVersion: PODCAP_VERSION,
    redacted: !q.reveal,
    capture, failures, slowest, map, timeline, auth, dns, calls,
  };
  // Evidence, DNS names and the rest are free text from the capture: redacted as the MCP server redacts its results.
  return q.reveal ? model : redactor.strings(model);
}
