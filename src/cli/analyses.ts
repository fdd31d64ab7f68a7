/**
 * The analysis commands: stats, map, timeline, diff, auth. Each parses its
 * arguments, calls its query/ function and prints a table (or --json, or for
 * map DOT and Mermaid). Each handles its own usage, filter and snapshot errors,
 * so it can be dispatched as it is.
 */
import { oneFilter, parse, WORKSPACE_OPTIONS } from './args.js';
import { SnapshotNotFound, defaultWorkspaceDir, withWorkspace } from '../store/workspace.js';
import { FilterError } from '../query/filter.js';
import { computeAuth, type AuthEdge } from '../query/auth.js';
import { computeDiff, type DiffQuery, type DiffSide } from '../query/diff.js';
import { computeServiceMap, toDot, toMermaid } from '../query/service-map.js';
import { AnalysisError, STATS_GROUPINGS, STATS_SORTS, computeStats, type StatsGroupBy, type StatsRow, type StatsSort, type TimeWindow } from '../query/stats.js';
import { computeTimeline, parseDuration } from '../query/timeline.js';
import { EXIT, UsageError } from './exit-codes.js';
import { clockTime, table } from './format.js';
import { ms } from '../query/percentiles.js';
import type { Io } from './commands.js';
import { cliContext } from './config-context.js';

const COMMON = {
  ...WORKSPACE_OPTIONS,
  json: { type: 'boolean' },
  snapshot: { type: 'string', multiple: true },
  from: { type: 'string' },
  to: { type: 'string' },
  last: { type: 'string' },
} as const;

/** --workspace, else podcap.yaml's workspace:, else $PODCAP_WORKSPACE or ~/.podcap. */
function workspaceDir(values: { workspace?: unknown; config?: unknown }): string {
  return cliContext(values).workspace;
}

/** An ISO time (2026-11-20T10:00:00Z; a date alone is midnight UTC) in µs since the epoch. */
export function parseTime(v: unknown, name: string): number | null {
  if (v === undefined) return null;
  const s = String(v);
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) throw new UsageError(`--${name} must be an ISO time such as 2026-11-20T10:00:00Z, not "${s}"`);
  return t * 1000;
}

function duration(v: unknown, name: string): number | null {
  if (v === undefined) return null;
  try {
    return parseDuration(String(v));
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

function windowOf(values: { from?: unknown; to?: unknown; last?: unknown }): TimeWindow | undefined {
  const last = duration(values.last, 'last');
  const from = parseTime(values.from, 'from');
  const to = parseTime(values.to, 'to');
  if (last !== null && (from !== null || to !== null)) throw new UsageError('give either --last or --from/--to, not both');
  if (last === null && from === null && to === null) return undefined;
  return last !== null ? { last } : { from, to };
}

function limitOf(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--limit must be a whole number (0 for all), not "${String(v)}"`);
  return n;
}

function choice<T extends string>(v: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${String(v)}"`);
  return v as T;
}

const pct = (r: number | null): string => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const msOrDash = (v: number | null): string => (v === null ? '-' : ms(v));
const num = (v: number | null, digits = 2): string => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits));

function scopeLine(r: { filter: string; snapshots: string[]; from: string | null; to: string | null; matched: number; recordsRead: number; evaluationErrors: number }): string {
  const parts = [`${r.matched} calls`];
  if (r.filter) parts.push(`matching ${r.filter}`);
  parts.push(`in ${r.snapshots.length === 1 ? `snapshot ${r.snapshots[0]}` : `${r.snapshots.length} snapshots`}`);
  if (r.from || r.to) parts.push(`from ${r.from ?? 'the start'} to ${r.to ?? 'the end'}`);
  if (r.recordsRead) parts.push(`(${r.recordsRead} records read for the filter)`);
  return parts.join(' ');
}

function evaluationWarning(cmd: string, r: { evaluationErrors: number }, io: Io): void {
  if (r.evaluationErrors > 0) {
    io.err(`podcap ${cmd}: ${r.evaluationErrors} records could not be evaluated and did not match; map_get(map, key, default) avoids missing-key errors`);
  }
}

// ---------------------------------------------------------------------------------------------
// stats
// ---------------------------------------------------------------------------------------------

const GROUP_HEADER: Record<StatsGroupBy, string> = { endpoint: 'ENDPOINT', service: 'SERVICE', workload: 'WORKLOAD', edge: 'SOURCE → DESTINATION' };

function statsRow(r: StatsRow): string[] {
  return [
    r.label, r.protocols.join(','), String(r.calls), String(r.failures), pct(r.failureRate),
    msOrDash(r.latencyMs.p50), msOrDash(r.latencyMs.p90), msOrDash(r.latencyMs.p99), msOrDash(r.latencyMs.max),
    String(r.requestBytes), String(r.responseBytes), r.calls ? clockTime(r.firstTs) : '-', r.calls ? clockTime(r.lastTs) : '-',
  ];
}

export async function cmdStats(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, by: { type: 'string' }, sort: { type: 'string' }, limit: { type: 'string', short: 'n' } });
  const filter = oneFilter(positionals);
  const by = choice<StatsGroupBy>(values.by, 'by', STATS_GROUPINGS, 'endpoint');
  const sort = choice<StatsSort>(values.sort, 'sort', STATS_SORTS, 'count');
  const limit = limitOf(values.limit, 50);
  const window = windowOf(values);
  return withWorkspace(workspaceDir(values), (ws) => {
    const r = computeStats(ws, { filter, snapshots: values.snapshot as string[] | undefined, window, by, sort, limit });
    evaluationWarning('stats', r, io);
    if (values.json) {
      io.out(JSON.stringify(r, null, 2));
      return EXIT.OK;
    }
    if (r.matched === 0) {
      io.out(`no calls: ${scopeLine(r)}`);
      return EXIT.OK;
    }
    const header = [GROUP_HEADER[by], 'PROTO', 'CALLS', 'FAILED', 'FAIL%', 'P50', 'P90', 'P99', 'MAX', 'REQ BYTES', 'RESP BYTES', 'FIRST (UTC)', 'LAST'];
    const rows = r.groups.map(statsRow);
    rows.push(statsRow({ ...r.totals, label: `(all ${r.totalGroups} ${by === 'service' ? 'services' : `${by}s`})` }));
    io.out([
      table(header, rows),
      '',
      `${scopeLine(r)}; ${r.groups.length < r.totalGroups ? `top ${r.groups.length} of ${r.totalGroups} by ${sort} (--limit 0 for all)` : `sorted by ${sort}`}.`,
      `Latency: ms from request start to response end, nearest-rank percentiles over the ${r.totals.responses} calls with a response; bytes are decoded bodies.`,
    ].join('\n'));
    return EXIT.OK;
  });
}

// ---------------------------------------------------------------------------------------------
// map
// ---------------------------------------------------------------------------------------------

const MAP_FORMATS = ['table', 'json', 'dot', 'mermaid'] as const;

export async function cmdMap(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, format: { type: 'string', short: 'f' } });
  const filter = oneFilter(positionals);
  let format = choice(values.format, 'format', MAP_FORMATS, values.json ? 'json' : 'table');
  if (values.json) {
    if (values.format !== undefined && format !== 'json') throw new UsageError('--json and --format disagree: give one');
    format = 'json';
  }
  const window = windowOf(values);
  return withWorkspace(workspaceDir(values), (ws) => {
    const m = computeServiceMap(ws, { filter, snapshots: values.snapshot as string[] | undefined, window });
    evaluationWarning('map', m, io);
    switch (format) {
      case 'json': io.out(JSON.stringify(m, null, 2)); break;
      case 'dot': io.out(toDot(m)); break;
      case 'mermaid': io.out(toMermaid(m)); break;
      default: {
        if (m.edges.length === 0) {
          io.out(`no calls: ${scopeLine(m)}`);
          break;
        }
        const kinds = new Map(m.nodes.map((n) => [n.id, n.kind]));
        io.out([
          table(['SOURCE', 'DESTINATION', 'PROTO', 'CALLS', 'FAILED', 'FAIL%', 'P50', 'P99', 'CREDENTIALS'], m.edges.map((e) => [
            e.source, `${e.destination}${kinds.get(e.destination) === 'external' ? ' (external)' : ''}`, e.protocol, String(e.calls), String(e.failures),
            pct(e.failureRate), msOrDash(e.latencyMs.p50), msOrDash(e.latencyMs.p99),
            e.credentials === 'n/a' ? '-' : `${e.credentials} (${e.authenticatedCalls}/${e.calls})`,
          ])),
          '',
          `${m.nodes.length} nodes, ${m.edges.length} edges; ${scopeLine(m)}.`,
          'CREDENTIALS: whether calls carried Authorization, an API key header or a cookie (all, some, none of the edge\'s calls).',
          'Graphs: --format dot (Graphviz) or --format mermaid.',
        ].join('\n'));
      }
    }
    return EXIT.OK;
  });
}

// ---------------------------------------------------------------------------------------------
// timeline
// ---------------------------------------------------------------------------------------------

export async function cmdTimeline(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, bucket: { type: 'string', short: 'b' }, around: { type: 'string' }, window: { type: 'string' } });
  const filter = oneFilter(positionals);
  const bucket = duration(values.bucket, 'bucket') ?? undefined;
  const around = parseTime(values.around, 'around');
  const aroundWindow = duration(values.window, 'window');
  if (aroundWindow !== null && around === null) throw new UsageError('--window goes with --around TIME');
  const window = windowOf(values);
  if (around !== null && window) throw new UsageError('give either --around or --from/--to/--last, not both');
  return withWorkspace(workspaceDir(values), (ws) => {
    const t = computeTimeline(ws, {
      filter, snapshots: values.snapshot as string[] | undefined, window, bucket,
      around: around ?? undefined, aroundWindow: aroundWindow ?? undefined,
    });
    evaluationWarning('timeline', t, io);
    if (values.json) {
      io.out(JSON.stringify(t, null, 2));
      return EXIT.OK;
    }
    if (t.buckets.length === 0) {
      io.out(`no calls: ${scopeLine(t)}`);
      return EXIT.OK;
    }
    const protocols = Object.keys(t.totals.byProtocol);
    const rows = t.buckets.map((b, i) => [
      clockTime(b.startTs), String(b.calls), b.failures ? String(b.failures) : '.', msOrDash(b.latencyMs.p50), msOrDash(b.latencyMs.p99),
      ...protocols.map((p) => (b.byProtocol[p] ? `${b.byProtocol[p].calls}${b.byProtocol[p].failures ? `/${b.byProtocol[p].failures}✗` : ''}` : '.')),
      i === t.firstFailingBucket ? `◀ first failure ${clockTime(t.firstFailure!.ts)} (${t.firstFailure!.protocol})` : '',
    ]);
    io.out([
      `${t.buckets[0].start.slice(0, 10)} UTC, buckets of ${t.bucket}`,
      table(['TIME (UTC)', 'CALLS', 'FAILED', 'P50', 'P99', ...protocols.map((p) => p.toUpperCase()), ''], rows),
      '',
      `${t.totals.calls} calls, ${t.totals.failures} failed; ${scopeLine(t)}.`,
      t.firstFailure ? `first failure: ${t.firstFailure.time} (${t.firstFailure.protocol})` : 'no failures',
    ].join('\n'));
    return EXIT.OK;
  });
}

// ---------------------------------------------------------------------------------------------
// diff
// ---------------------------------------------------------------------------------------------

export async function cmdDiff(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    workspace: COMMON.workspace, json: COMMON.json, snapshot: COMMON.snapshot, halves: { type: 'boolean' },
    'a-from': { type: 'string' }, 'a-to': { type: 'string' }, 'b-from': { type: 'string' }, 'b-to': { type: 'string' },
    limit: { type: 'string', short: 'n' },
  });
  const limit = limitOf(values.limit, 20);
  const windowed = ['a-from', 'a-to', 'b-from', 'b-to'].some((k) => values[k as 'a-from'] !== undefined);
  let q: DiffQuery;
  const snapshots = values.snapshot as string[] | undefined;
  if (values.halves || windowed) {
    if (values.halves && windowed) throw new UsageError('give either --halves or --a-from/--a-to/--b-from/--b-to, not both');
    const filter = oneFilter(positionals);
    if (values.halves) q = { filter, halves: true, snapshots, limit };
    else {
      const side = (k: 'a' | 'b'): DiffSide => ({ snapshots, window: { from: parseTime(values[`${k}-from`], `${k}-from`), to: parseTime(values[`${k}-to`], `${k}-to`) } });
      q = { filter, a: side('a'), b: side('b'), limit };
    }
  } else {
    if (snapshots) throw new UsageError('--snapshot goes with --halves or the --a-/--b- windows; to compare two snapshots, name them: podcap diff A B [FILTER]');
    if (positionals.length < 2 || positionals.length > 3) {
      throw new UsageError('compare two snapshots (podcap diff A B [FILTER]), two windows (--a-from/--a-to/--b-from/--b-to) or the halves of the capture (--halves)');
    }
    q = { filter: positionals[2] ?? '', a: { snapshots: [positionals[0]] }, b: { snapshots: [positionals[1]] }, limit };
  }
  return withWorkspace(workspaceDir(values), (ws) => {
    const d = computeDiff(ws, q);
    evaluationWarning('diff', { evaluationErrors: d.a.evaluationErrors + d.b.evaluationErrors }, io);
    if (values.json) {
      io.out(JSON.stringify(d, null, 2));
      return EXIT.OK;
    }
    const side = (name: string, s: typeof d.a): string =>
      `${name}: ${s.snapshots.join(',')} ${s.from ?? s.captureStart ?? '-'} .. ${s.to ?? s.captureEnd ?? '-'}: ${s.calls} calls, ${s.failures} failed${s.durationSeconds ? ` over ${num(s.durationSeconds, 3)}s` : ''}`;
    if (d.endpoints.length === 0) {
      io.out([side('A', d.a), side('B', d.b), 'no calls on either side'].join('\n'));
      return EXIT.OK;
    }
    const arrow = (a: string, b: string): string => `${a} → ${b}`;
    io.out([
      side('A', d.a),
      side('B', d.b),
      '',
      table(['ENDPOINT', 'CHANGE', 'CALLS A → B', 'RATE/s A → B', 'FAIL% A → B', 'P95 A → B', 'ΔP95', 'SCORE'], d.endpoints.map((r) => [
        r.label, r.change, arrow(String(r.a.calls), String(r.b.calls)), arrow(num(r.a.ratePerSecond), num(r.b.ratePerSecond)),
        arrow(pct(r.a.failureRate), pct(r.b.failureRate)), arrow(msOrDash(r.a.p95Ms), msOrDash(r.b.p95Ms)),
        r.delta.p95Ms === null ? '-' : `${r.delta.p95Ms >= 0 ? '+' : '-'}${ms(Math.abs(r.delta.p95Ms))}`, r.score.toFixed(2),
      ])),
      '',
      `${d.endpoints.length < d.totalEndpoints ? `top ${d.endpoints.length} of ${d.totalEndpoints} endpoints` : `${d.totalEndpoints} endpoints`}; ${d.appeared} appeared, ${d.vanished} vanished.`,
      `score: ${d.score}.`,
    ].join('\n'));
    return EXIT.OK;
  });
}

// ---------------------------------------------------------------------------------------------
// auth
// ---------------------------------------------------------------------------------------------

function kindsText(e: AuthEdge): string {
  const k = e.kinds;
  const parts = [['bearer', k.bearer], ['basic', k.basic], ['api key', k.apiKey], ['cookie', k.cookie], ['other', k.other]]
    .filter(([, n]) => (n as number) > 0).map(([name, n]) => `${name} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

export async function cmdAuth(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMON);
  const filter = oneFilter(positionals);
  const window = windowOf(values);
  return withWorkspace(workspaceDir(values), (ws) => {
    const a = computeAuth(ws, { filter, snapshots: values.snapshot as string[] | undefined, window });
    evaluationWarning('auth', a, io);
    if (values.json) {
      io.out(JSON.stringify(a, null, 2));
      return EXIT.OK;
    }
    if (a.edges.length === 0) {
      io.out(`no calls: ${scopeLine(a)}`);
      return EXIT.OK;
    }
    const out: string[] = [];
    out.push(a.unauthenticated.length
      ? `${a.unauthenticated.length} edge${a.unauthenticated.length === 1 ? '' : 's'} with NO credentials on any call:`
      : 'every edge carried credentials on at least one call (DNS aside).');
    for (const u of a.unauthenticated) out.push(`  ${u.source} → ${u.destination} (${u.protocol}, ${u.calls} calls)`);
    out.push('');
    out.push(table(['CREDENTIALS', 'SOURCE', 'DESTINATION', 'PROTO', 'CALLS', 'WITH', 'WITHOUT', 'KINDS (calls)', 'TRANSPORT'], a.edges.map((e) => [
      e.credentials === 'n/a' ? 'n/a (dns)' : e.credentials.toUpperCase(), e.source, e.destination, e.protocol, String(e.calls),
      String(e.authenticatedCalls), String(e.unauthenticatedCalls), kindsText(e), e.transport,
    ])));
    const withTokens = a.edges.filter((e) => e.tokens.length > 0);
    if (withTokens.length) {
      out.push('', 'Bearer tokens (claims decoded WITHOUT verification; tokens shown by fingerprint only):');
      const rows: string[][] = [];
      for (const e of withTokens) {
        for (const t of e.tokens) {
          const c = t.claims;
          rows.push([
            `${e.source} → ${e.destination}`, t.fingerprint, t.jwt ? `JWT ${t.alg ?? '?'}` : 'opaque',
            c?.iss ?? '-', c?.sub ?? '-', c?.aud === null || c?.aud === undefined ? '-' : Array.isArray(c.aud) ? c.aud.join(',') : c.aud,
            c?.expires ? `${c.expires}${t.usedAfterExpiry ? ' (used after expiry)' : ''}` : '-', String(t.seen),
          ]);
        }
      }
      out.push(table(['EDGE', 'TOKEN', 'TYPE', 'ISS', 'SUB', 'AUD', 'EXP', 'SEEN'], rows));
    }
    out.push('', `${scopeLine(a)}; ${a.tokenRecordsRead} records read for tokens.`, `TRANSPORT: ${a.transportNote}.`);
    io.out(out.join('\n'));
    return EXIT.OK;
  });
}

// ---------------------------------------------------------------------------------------------
// The commands, for the dispatcher
// ---------------------------------------------------------------------------------------------

const WINDOW_HELP = '  Window: --from ISO and/or --to ISO, or --last DURATION (5m, 1h: the end of the capture minus that); --snapshot ID... (default all).';

export const ANALYSIS_USAGE = `  stats [FILTER] [--by endpoint|service|workload|edge] [--sort count|failures|rate|p99|p50|bytes] [--limit N]
                                           calls, failures and latency percentiles per endpoint, service, workload or edge
  map [FILTER] [--format table|json|dot|mermaid]
                                           the service graph: who calls whom, failures, latency, credentials
  timeline [FILTER] [--bucket 10s] [--around ISO [--window 5m]]
                                           calls, failures and latency over time; where failures began
  diff A B [FILTER] | diff [FILTER] --halves | diff [FILTER] --a-from ISO --a-to ISO --b-from ISO --b-to ISO
                                           what changed per endpoint between two snapshots or two windows
  auth [FILTER]                            credentials per edge, edges without any, JWT claims (unverified)
`;

const HELPS = {
  stats: `podcap stats [FILTER] [--by endpoint|service|workload|edge] [--sort count|failures|rate|p99|p50|bytes] [--limit N]
             [--snapshot ID]... [--from ISO] [--to ISO] [--last DURATION] [--json] [--workspace DIR]
  Per group: calls, failures, failure rate, p50/p90/p99/max latency (ms, exact nearest-rank over the calls with a
  response), request and response body bytes, first and last seen. An endpoint is protocol, destination, method and
  path template (/api/orders/42 → /api/orders/{id}); gRPC service/method; DNS question type and name. --by service
  groups by destination, --by workload by the destination's workload, --by edge by (source, destination, protocol).
  Sorts are descending; --limit N shows the top N (default 50, 0 for all).
${WINDOW_HELP}`,
  map: `podcap map [FILTER] [--format table|json|dot|mermaid] [--snapshot ID]... [--from ISO] [--to ISO] [--last DURATION] [--json] [--workspace DIR]
  The service graph: nodes are client workloads, destination services and external names; edges are
  (source, destination, protocol) with calls, failures, p50/p99 latency and whether credentials were seen on all, some
  or none of their calls. --format dot writes Graphviz (failing edges red, edges without credentials dashed, with some
  dotted: podcap map --format dot | dot -Tsvg > map.svg); --format mermaid a Mermaid flowchart.
${WINDOW_HELP}`,
  timeline: `podcap timeline [FILTER] [--bucket DURATION] [--around ISO [--window DURATION]] [--snapshot ID]... [--from ISO] [--to ISO] [--last DURATION] [--json] [--workspace DIR]
  Calls, failures and p50/p99 latency per time bucket, by protocol; marks the first bucket with a failure and the first
  failure's time. Buckets are aligned to multiples of their width (default: at most 60 buckets over the window).
  --around T --window W looks from T-W to T+W (W default 5m).
${WINDOW_HELP}`,
  diff: `podcap diff A B [FILTER] [--limit N] [--json] [--workspace DIR]
podcap diff [FILTER] --halves [--snapshot ID]... [--limit N] [--json] [--workspace DIR]
podcap diff [FILTER] --a-from ISO --a-to ISO --b-from ISO --b-to ISO [--snapshot ID]... [--limit N] [--json] [--workspace DIR]
  Per endpoint, on each side: calls per second, failure rate, p95 latency, and the change; endpoints that appeared or
  vanished. Ranked by score = |Δ failure rate| × √(calls A + calls B) + |Δ p95| / max(p95 A, p95 B)
  + 0.25 × log10(1 + calls) for an endpoint on one side only (an empty side counts as 0% failures). Top 20 by default (--limit 0: all).
  --halves compares the first and second half of the capture's time span.`,
  auth: `podcap auth [FILTER] [--snapshot ID]... [--from ISO] [--to ISO] [--last DURATION] [--json] [--workspace DIR]
  Per edge (source, destination, protocol): calls with and without credentials, by kind (bearer, basic, API key
  headers, cookies), edges with NO credentials on any call first. For bearer JWTs, the claims iss, sub, aud and exp,
  decoded WITHOUT verification from a sample of each edge's calls; tokens are shown by SHA-256 fingerprint, never in
  full. Every edge is "cleartext": podcap reads unencrypted captures only.
${WINDOW_HELP}`,
};

/** Run an analysis command with its own error handling: exit codes as the other commands. */
function guarded(cmd: keyof typeof HELPS, fn: (args: string[], io: Io) => Promise<number>): (args: string[], io: Io) => Promise<number> {
  return async (args, io) => {
    if (args.includes('--help') || args.includes('-h')) {
      io.out(HELPS[cmd]);
      return EXIT.OK;
    }
    try {
      return await fn(args, io);
    } catch (e) {
      if (e instanceof UsageError || e instanceof AnalysisError) {
        io.err(`podcap ${cmd}: ${e.message}\n${HELPS[cmd]}`);
        return EXIT.ERROR;
      }
      if (e instanceof FilterError) {
        io.err(`podcap ${cmd}: bad filter: ${e.message}`);
        return EXIT.ERROR;
      }
      if (e instanceof SnapshotNotFound) {
        io.err(`podcap ${cmd}: ${e.message}`);
        return EXIT.NOT_FOUND;
      }
      throw e;
    }
  };
}

export const ANALYSIS_COMMANDS: Record<string, { run: (args: string[], io: Io) => Promise<number>; help: string }> = {
  stats: { run: guarded('stats', cmdStats), help: HELPS.stats },
  map: { run: guarded('map', cmdMap), help: HELPS.map },
  timeline: { run: guarded('timeline', cmdTimeline), help: HELPS.timeline },
  diff: { run: guarded('diff', cmdDiff), help: HELPS.diff },
  auth: { run: guarded('auth', cmdAuth), help: HELPS.auth },
};
