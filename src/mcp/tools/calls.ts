/** API calls: list them, get one in full (bodies paged), trace one through the services. */
import { z } from 'zod';
import type { Body, TransactionRecord } from '../../dissect/record.js';
import { getCall, listCalls, renderBody, selectSnapshots } from '../../query/calls.js';
import { captureBounds } from '../../query/select.js';
import { resolveWindow } from '../../query/stats.js';
import { traceCall, traceLines } from '../../query/trace.js';
import { parseTxId } from '../../store/workspace.js';
import { revealing, type ToolContext } from '../context.js';
import { defineTool } from '../registry.js';
import { fitList, ToolError, type Fitted } from '../result.js';
import { filterParam, isoMicros, limitParam, revealParam, snapshotParam, snapshotsOf, windowOf, windowParams } from './common.js';

export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 200;
/** Bytes of each body get_api_call returns unless asked for a range. */
export const BODY_BYTES = 8 * 1024;
export const BODY_MAX_BYTES = 48 * 1024;

/** What a listing shows of a call: enough to choose which one to fetch in full. */
export function callSummary(r: TransactionRecord) {
  return {
    id: r.id,
    time: isoMicros(r.timestamp),
    protocol: r.protocol,
    src: { ip: r.src.ip, port: r.src.port, name: r.src.name, namespace: r.src.namespace, workload: r.src.workload?.name ?? null },
    dst: { ip: r.dst.ip, port: r.dst.port, name: r.dst.name, namespace: r.dst.namespace, workload: r.dst.workload?.name ?? null },
    method: r.request.method,
    url: r.request.url,
    status: r.status,
    ...(r.grpc ? { grpcStatus: r.grpc.statusName } : {}),
    ...(r.dns ? { dnsRcode: r.dns.rcode } : {}),
    elapsedMs: r.elapsedTime,
    failed: r.failed,
    ...(r.evidence ? { evidence: r.evidence } : {}),
    notes: r.notes,
  };
}

/** A filter with the window's time terms: the planner answers them from the time index. */
function windowedFilter(ctx: ToolContext, filter: string, snapshot: string | undefined, w: ReturnType<typeof windowOf>): string {
  if (!w) return filter;
  const { captureEnd } = captureBounds(selectSnapshots(ctx.ws, snapshotsOf(snapshot)));
  const { from, to } = resolveWindow(w, captureEnd);
  const terms: string[] = [];
  if (from !== null) terms.push(`timestamp >= timestamp("${isoMicros(from)}")`);
  if (to !== null) terms.push(`timestamp <= timestamp("${isoMicros(to)}")`);
  if (terms.length === 0) return filter;
  return filter.trim() ? `${terms.join(' && ')} && (${filter})` : terms.join(' && ');
}

const listApiCalls = defineTool({
  name: 'list_api_calls',
  title: 'List API calls',
  description: 'Lists API calls (HTTP/1, HTTP/2, gRPC requests with their responses, and DNS queries) matching a KFL2 filter '
    + 'in a time window, oldest first (reverse: newest first), as summaries without bodies: id, time, source and destination '
    + '(pod, namespace, workload), method, URL, status, latency, failed, and for failures the evidence (why it failed). '
    + 'Use it to find the failing, slow or unauthenticated calls of an endpoint, then get_api_call with an id for one in full. '
    + 'The filter is Kubeshark\'s KFL2 (CEL), e.g. `http && status_code >= 500`, `grpc && grpc_status != 0`, `failed && !dns`, '
    + '`path.startsWith("/api/") && elapsed_time > 250000` (µs), `method == "POST" && !("authorization" in request.headers)`. '
    + 'Paged: pass nextCursor back as cursor with the same filter. For counts and percentiles use get_api_stats instead.',
  input: {
    filter: filterParam,
    snapshot: snapshotParam,
    ...windowParams,
    limit: limitParam(LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, 'calls per page'),
    cursor: z.string().max(1000).optional().describe('nextCursor from the previous page (same filter and window)'),
    reverse: z.boolean().optional().describe('newest first'),
    reveal: revealParam,
  },
  run: (a, ctx) => {
    const reveal = revealing(ctx, a.reveal);
    const filter = windowedFilter(ctx, a.filter ?? '', a.snapshot, windowOf(a));
    const page = (limit: number): Fitted => {
      const p = listCalls(ctx.ws, { filter, snapshots: snapshotsOf(a.snapshot), limit, cursor: a.cursor, reverse: a.reverse });
      const calls = p.calls.map((r) => (reveal ? callSummary(r) : ctx.redactor.strings(callSummary(r))));
      return fitList({
        filter: p.filter,
        ...(p.translatedFrom !== null ? { translatedFrom: p.translatedFrom, translationNotes: p.translationNotes } : {}),
        returned: calls.length,
        nextCursor: p.nextCursor,
        scanned: p.scanned,
        indexUsed: p.indexUsed,
        ...(p.evaluationErrors ? { evaluationErrors: p.evaluationErrors, lastEvaluationError: p.lastEvaluationError } : {}),
      }, 'calls', calls);
    };
    const first = page(a.limit ?? LIST_DEFAULT_LIMIT);
    // Too large for a context: the page that fits, so that its cursor goes on right after it.
    return first.cutForSize ? { ...page(first.cutForSize.shown), cutForSize: first.cutForSize } : first;
  },
});

/** A range of a stored body, as the record shows bodies, with where it is in the whole. */
function bodyRange(buf: Buffer, headers: TransactionRecord['request']['headers'], offset: number, length: number): Body & { offset: number } {
  const start = Math.min(offset, buf.length);
  const part = renderBody(buf.subarray(start, start + length), headers, { maxBodyBytes: length });
  return { ...part, size: buf.length, truncated: start + length < buf.length || start > 0, offset: start };
}

const getApiCall = defineTool({
  name: 'get_api_call',
  title: 'Get one API call in full',
  description: 'Returns one API call in full by its id (from list_api_calls or any other tool): request line, headers and '
    + 'decoded body; response status, headers, trailers and body; gRPC service, method, status, grpc-message and the decoded '
    + 'protobuf messages; DNS questions and answers; the Kubernetes context of both ends (pod, namespace, workload, service, '
    + `node, labels); timing; notes and the failure evidence. Bodies are cut at ${BODY_BYTES} bytes by default: each states its `
    + 'full size and truncated; to read more pass body_side, body_offset and body_length (up to '
    + `${BODY_MAX_BYTES} bytes a call). Credentials are redacted (Authorization and Cookie values, API keys, tokens in `
    + 'queries and bodies, JWT signatures; JWT claims stay readable). Use follow_stream on `stream` to see the raw connection '
    + 'and trace_request to see what this call caused downstream.',
  input: {
    id: z.string().max(100).describe('call id, e.g. "3f9a1c2e-17" (from list_api_calls)'),
    body_side: z.enum(['request', 'response']).optional().describe('with body_offset/body_length: which body to read a range of'),
    body_offset: z.number().int().min(0).optional().describe('byte offset into that body (default 0)'),
    body_length: z.number().int().min(1).max(BODY_MAX_BYTES).optional().describe(`bytes of that body (default ${BODY_BYTES}, at most ${BODY_MAX_BYTES})`),
    max_grpc_messages: z.number().int().min(1).max(200).optional().describe('gRPC messages decoded (default 20)'),
    reveal: revealParam,
  },
  run: async (a, ctx) => {
    const reveal = revealing(ctx, a.reveal);
    const ref = parseTxId(a.id);
    const snap = ref ? ctx.ws.listSnapshots().find((s) => s.id === ref.snapshot) : undefined;
    const rec = ref && snap ? getCall(ctx.ws, a.id, {
      maxBodyBytes: BODY_BYTES, protos: await ctx.protosFor(snap), grpc: { maxMessages: a.max_grpc_messages ?? 20, maxMessageBytes: 4 << 20 },
    }) : null;
    if (!rec || !ref) throw new ToolError(`no call with id "${a.id}"; ids come from list_api_calls (snapshot id, a dash, a number)`);
    if (a.body_side || a.body_offset !== undefined || a.body_length !== undefined) {
      const side = a.body_side ?? 'response';
      const buf = ctx.ws.getBody(ref.snapshot, ref.seq, side);
      if (!buf) throw new ToolError(`call ${a.id} has no ${side} body`);
      const headers = side === 'request' ? rec.request.headers : rec.response?.headers ?? [];
      const range = bodyRange(buf, headers, a.body_offset ?? 0, a.body_length ?? BODY_BYTES);
      if (side === 'request') rec.request.body = range;
      else if (rec.response) rec.response.body = range;
    }
    const shown = reveal ? rec : ctx.redactor.record(rec);
    return {
      ...shown,
      related: {
        follow_stream: `${rec.snapshot}:${rec.stream.transport}:${rec.stream.id}`,
        l4_flow: `${rec.snapshot}:${rec.stream.transport}:${rec.stream.id}`,
        trace_request: rec.id,
      },
    };
  },
});

const traceRequest = defineTool({
  name: 'trace_request',
  title: 'Trace one request through the services',
  description: 'Follows one call (id from list_api_calls) through the services it touched: the calls its server made while '
    + 'serving it, tied by a shared propagation header (traceparent, B3, x-request-id, grpc-trace-bin) or, without one, by '
    + 'time (made by the serving workload between the request and its response), recursively. Marks the hop where a failure '
    + 'began (origin): the earliest failed call none of whose own calls failed. Use it to answer "why did this request fail?": '
    + 'e.g. a frontend 502 whose origin is a gRPC UNAVAILABLE two hops down.',
  input: { id: z.string().max(100).describe('call id of the request to follow, e.g. a failing POST from list_api_calls') },
  run: (a, ctx) => {
    const t = traceCall(ctx.ws, a.id);
    if (!t) throw new ToolError(`no call with id "${a.id}"; ids come from list_api_calls`);
    return ctx.redactor.strings({ origin: t.origin, calls: t.calls, outline: traceLines(t), tree: t.root });
  },
});

export const CALL_TOOLS = [listApiCalls, getApiCall, traceRequest];
