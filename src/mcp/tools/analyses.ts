/** The analyses over the columnar summary: stats, service map, timeline, compare, authentication, workloads. */
import { z } from 'zod';
import { computeAuth } from '../../query/auth.js';
import { computeDiff, type DiffQuery, type DiffSide } from '../../query/diff.js';
import { computeServiceMap, toDot, toMermaid } from '../../query/service-map.js';
import { STATS_GROUPINGS, STATS_SORTS, computeStats } from '../../query/stats.js';
import { computeTimeline } from '../../query/timeline.js';
import { listWorkloads } from '../../query/workloads.js';
import { defineTool } from '../registry.js';
import { fitList, ToolError } from '../result.js';
import { durationUs, filterParam, isoToUs, limitParam, snapshotParam, snapshotsOf, windowOf, windowParams } from './common.js';

const scopeParams = { filter: filterParam, snapshot: snapshotParam, ...windowParams };

const listWorkloadsTool = defineTool({
  name: 'list_workloads',
  title: 'List workloads, services and pods seen',
  description: 'Lists what took part in the traffic: workloads (Deployments, StatefulSets, ...), Services and external names or '
    + 'addresses, each with calls made (out), calls received (in) and failures received; and pods by name with their calls '
    + 'in and out. Use it to learn the cast of an incident before filtering by name, e.g. then '
    + '`dst.workload.name == "payment" && failed` in list_api_calls. filter and window narrow the nodes (not the pods).',
  input: { ...scopeParams, limit: limitParam(100, 500, 'nodes and pods each') },
  run: (a, ctx) => {
    const r = listWorkloads(ctx.ws, { filter: a.filter, snapshots: snapshotsOf(a.snapshot), window: windowOf(a) });
    const limit = a.limit ?? 100;
    return fitList({ ...r, totalNodes: r.nodes.length, totalPods: r.pods.length, pods: r.pods.slice(0, limit) }, 'nodes', r.nodes.slice(0, limit));
  },
});

const getApiStats = defineTool({
  name: 'get_api_stats',
  title: 'API statistics',
  description: 'Calls, failures, failure rate and latency percentiles (p50/p90/p99/max, exact, ms) with request/response bytes '
    + 'and first/last seen, grouped by endpoint (protocol, destination, method, path template like /api/cart/{id}; gRPC '
    + 'service/method; DNS type and name), by service, by workload or by edge (source → destination). Use it for "which '
    + 'endpoints fail?", "what are the slowest endpoints?" (sort p99), "how much traffic does X get?". Computed over every '
    + 'matching call, not a sample. Example: {"filter": "!dns", "sort": "failures"}.',
  input: {
    ...scopeParams,
    by: z.enum(STATS_GROUPINGS as [string, ...string[]]).optional().describe('group by endpoint (default), service, workload or edge'),
    sort: z.enum(STATS_SORTS as [string, ...string[]]).optional().describe('count (default), failures, rate (failure rate), p99, p50, bytes; descending'),
    limit: limitParam(20, 200, 'groups'),
  },
  run: (a, ctx) => {
    const r = computeStats(ctx.ws, {
      filter: a.filter, snapshots: snapshotsOf(a.snapshot), window: windowOf(a),
      by: a.by as (typeof STATS_GROUPINGS)[number] | undefined, sort: a.sort as (typeof STATS_SORTS)[number] | undefined, limit: a.limit ?? 20,
    });
    const { groups, ...rest } = r;
    return ctx.redactor.strings(fitList(rest, 'groups', groups));
  },
});

const getServiceMap = defineTool({
  name: 'get_service_map',
  title: 'Service map',
  description: 'The service graph: nodes (client workloads, destination services, external names) and edges (source, '
    + 'destination, protocol) with calls, failures, failure rate, p50/p99 latency and whether credentials were seen on all, '
    + 'some or none of their calls. Use it for "who talks to whom?", "where do failures sit in the topology?", or to draw the '
    + 'architecture (format mermaid or dot returns a diagram as text too). Example: {"filter": "!dns", "format": "mermaid"}.',
  input: {
    ...scopeParams,
    format: z.enum(['json', 'mermaid', 'dot']).optional().describe('json (default); mermaid or dot add a diagram in `diagram`'),
    limit: limitParam(200, 1000, 'edges'),
  },
  run: (a, ctx) => {
    const m = computeServiceMap(ctx.ws, { filter: a.filter, snapshots: snapshotsOf(a.snapshot), window: windowOf(a) });
    const diagram = a.format === 'mermaid' ? toMermaid(m) : a.format === 'dot' ? toDot(m) : undefined;
    const { edges, ...rest } = m;
    const limit = a.limit ?? 200;
    return ctx.redactor.strings(fitList({ ...rest, totalEdges: edges.length, ...(diagram ? { diagram } : {}) }, 'edges', edges.slice(0, limit)));
  },
});

const getTimeline = defineTool({
  name: 'get_timeline',
  title: 'Timeline',
  description: 'Calls, failures and p50/p99 latency per time bucket, by protocol, with the first failure\'s time and bucket. Use '
    + 'it for "when did it start?", "what happened in the 5 minutes before the first failure?" (around = that time, '
    + 'around_window = 5m), or to see a latency or traffic change over time. Buckets default to at most 60 over the window. '
    + 'Example: {"filter": "failed && !dns", "bucket": "10s"}.',
  input: {
    ...scopeParams,
    bucket: z.string().max(32).optional().describe('bucket width: 1s, 10s, 1m, 5m ... (default: about 60 buckets over the window)'),
    around: z.string().max(64).optional().describe('ISO time to centre the window on (excludes from/to/last)'),
    around_window: z.string().max(32).optional().describe('with around: look this long before and after it (default 5m)'),
  },
  run: (a, ctx) => {
    if (a.around_window !== undefined && a.around === undefined) throw new ToolError('around_window goes with around');
    const window = windowOf(a);
    if (a.around !== undefined && window) throw new ToolError('give either around or from/to/last, not both');
    const t = computeTimeline(ctx.ws, {
      filter: a.filter, snapshots: snapshotsOf(a.snapshot), window,
      bucket: a.bucket === undefined ? undefined : durationUs(a.bucket, 'bucket'),
      around: a.around === undefined ? undefined : isoToUs(a.around, 'around'),
      aroundWindow: a.around_window === undefined ? undefined : durationUs(a.around_window, 'around_window'),
      maxBuckets: 1000,
    });
    const { buckets, ...rest } = t;
    // Empty buckets say nothing a model needs; their absence is stated.
    const shown = buckets.filter((b) => b.calls > 0);
    return fitList({ ...rest, bucketsTotal: buckets.length, emptyBucketsLeftOut: buckets.length - shown.length }, 'buckets', shown);
  },
});

const sideSchema = z.object({
  snapshot: z.string().max(200).optional().describe('snapshot id or name (default: every snapshot)'),
  from: z.string().max(64).optional().describe('ISO start'),
  to: z.string().max(64).optional().describe('ISO end'),
}).describe('one side of the comparison: a snapshot, a window, or both');

const compare = defineTool({
  name: 'compare',
  title: 'Compare snapshots or time windows',
  description: 'What changed per endpoint between two sides (A and B): two snapshots (e.g. before and after a deploy), two time '
    + 'windows of one capture (e.g. before and during an incident), or the first and second half of the capture (halves). '
    + 'Per endpoint: calls per second, failure rate and p95 latency on each side and the change; endpoints that appeared or '
    + 'vanished; ranked by a score of how much changed. Use it for "what is different now?" and "did latency get worse?". '
    + 'Example: {"a": {"from": "2026-11-24T19:55:45Z", "to": "2026-11-24T19:56:15Z"}, "b": {"from": "2026-11-24T19:56:15Z", '
    + '"to": "2026-11-24T19:56:35Z"}, "filter": "!dns"}.',
  input: {
    a: sideSchema.optional(),
    b: sideSchema.optional(),
    halves: z.boolean().optional().describe('compare the first half of the capture with the second (a and b not given)'),
    snapshot: snapshotParam.describe('with halves: the snapshot to split (default: every snapshot)'),
    filter: filterParam,
    limit: limitParam(20, 200, 'endpoints, highest score first'),
  },
  run: (a, ctx) => {
    const limit = a.limit ?? 20;
    let q: DiffQuery;
    if (a.halves) {
      if (a.a || a.b) throw new ToolError('give either halves or the sides a and b, not both');
      q = { filter: a.filter, halves: true, snapshots: snapshotsOf(a.snapshot), limit };
    } else {
      if (!a.a || !a.b) throw new ToolError('give both sides a and b (each a snapshot and/or a from/to window), or halves: true');
      const side = (s: z.infer<typeof sideSchema>): DiffSide => ({
        snapshots: snapshotsOf(s.snapshot),
        window: s.from === undefined && s.to === undefined ? undefined
          : { from: s.from === undefined ? null : isoToUs(s.from, 'from'), to: s.to === undefined ? null : isoToUs(s.to, 'to'), toExclusive: true },
      });
      q = { filter: a.filter, a: side(a.a), b: side(a.b), limit };
    }
    const d = computeDiff(ctx.ws, q);
    const { endpoints, ...rest } = d;
    return ctx.redactor.strings(fitList(rest, 'endpoints', endpoints));
  },
});

const findUnauthenticated = defineTool({
  name: 'find_unauthenticated',
  title: 'Find unauthenticated traffic',
  description: 'Which service-to-service edges carry no credentials: per edge (source, destination, protocol), calls with and '
    + 'without credentials by kind (bearer, basic, API-key headers, cookies), edges with NO credentials on any call first. For '
    + 'bearer JWTs, the claims iss, sub, aud, exp (decoded without verification; a token used after its exp is flagged; tokens '
    + 'are named by fingerprint, never shown). Use it for security reviews and "who calls X without auth?". Every call podcap '
    + 'shows was cleartext on the wire. Example: {"filter": "!dns"}.',
  input: { ...scopeParams, limit: limitParam(50, 500, 'edges') },
  run: (a, ctx) => {
    const r = computeAuth(ctx.ws, { filter: a.filter, snapshots: snapshotsOf(a.snapshot), window: windowOf(a) });
    const { edges, ...rest } = r;
    return ctx.redactor.strings(fitList({ ...rest, totalEdges: edges.length }, 'edges', edges.slice(0, a.limit ?? 50)));
  },
});

export const ANALYSIS_TOOLS = [listWorkloadsTool, getApiStats, getServiceMap, getTimeline, compare, findUnauthenticated];
