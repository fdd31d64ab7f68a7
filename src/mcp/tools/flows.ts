/** L4: the TCP connections and UDP flows of a snapshot, as stored at import, and one in detail. */
import { z } from 'zod';
import type { StreamSummary } from '../../dissect/pipeline.js';
import { listCalls, selectSnapshots } from '../../query/calls.js';
import { resolveFollowTarget } from '../../query/follow.js';
import { defineTool } from '../registry.js';
import { fitList, ToolError } from '../result.js';
import { isoMicros, limitParam, snapshotParam, snapshotsOf } from './common.js';

type Transport = 'tcp' | 'udp';

function state(s: StreamSummary): string {
  if (s.transport === 'udp') return 'flow';
  const ended = s.end === 'fin' ? 'closed (FIN)' : s.end === 'rst' ? 'reset (RST)' : s.end === 'end-of-capture' ? 'open at the end of the capture'
    : s.end === 'port-reuse' ? 'replaced (port reused)' : (s.end ?? 'unknown');
  return s.roles === 'syn' ? ended : `${ended}; began before the capture (no handshake seen)`;
}

/** What a listing shows of a flow. */
export function flowBrief(snapshot: string, s: StreamSummary) {
  const gaps = s.gapBytes ? s.gapBytes[0] + s.gapBytes[1] : 0;
  return {
    flow: `${snapshot}:${s.transport}:${s.id}`,
    transport: s.transport,
    client: s.client,
    server: s.server,
    start: isoMicros(s.firstTs),
    durationMs: Math.round((s.lastTs - s.firstTs) / 10) / 100,
    packets: { fromClient: s.packets[0], fromServer: s.packets[1] },
    bytes: { fromClient: s.bytes[0], fromServer: s.bytes[1] },
    state: state(s),
    rsts: s.rsts,
    gapBytes: gaps,
    l7: s.found,
  };
}

function decodeCursor(c: string): [string, Transport, number] {
  const m = /^(.+):(tcp|udp):(\d+)$/.exec(c);
  if (!m) throw new ToolError(`invalid cursor "${c}": pass back nextCursor`);
  return [m[1], m[2] as Transport, Number(m[3])];
}

const listL4Flows = defineTool({
  name: 'list_l4_flows',
  title: 'List L4 flows (TCP connections, UDP flows)',
  description: 'Lists the TCP connections and UDP flows of the capture with bytes and packets per direction, duration, state '
    + '(closed by FIN, reset by RST, open at the end, began before the capture), RST count, bytes missing from the capture '
    + '(gaps), and the L7 protocols found on them (http, http2, grpc, dns, unrecognised, no payload). Use it below the API '
    + 'level: connections reset or cut, traffic no dissector recognised (l7 "unrecognised"), a client\'s connections to a '
    + 'port, capture loss. Example: {"reset": true} or {"ip": "10.96.87.15", "port": 50051}. Then get_l4_flow_summary or '
    + 'follow_stream with the flow id.',
  input: {
    snapshot: snapshotParam,
    transport: z.enum(['tcp', 'udp']).optional().describe('only TCP connections or only UDP flows'),
    ip: z.string().max(64).optional().describe('an address at either end'),
    port: z.number().int().min(0).max(65535).optional().describe('a port at either end'),
    l7: z.string().max(40).optional().describe('the protocol found on it contains this (http, http2, grpc, dns, unrecognised, no payload)'),
    reset: z.boolean().optional().describe('only flows with a RST (true) or without (false)'),
    gaps: z.boolean().optional().describe('only flows with bytes missing from the capture'),
    limit: limitParam(50, 500, 'flows per page'),
    cursor: z.string().max(300).optional().describe('nextCursor of the previous page'),
  },
  run: (a, ctx) => {
    const limit = a.limit ?? 50;
    const after = a.cursor ? decodeCursor(a.cursor) : null;
    const flows: ReturnType<typeof flowBrief>[] = [];
    let next: string | null = null;
    let skipping = after !== null;
    outer: for (const snap of selectSnapshots(ctx.ws, snapshotsOf(a.snapshot))) {
      for (const t of ['tcp', 'udp'] as const) {
        if (a.transport && a.transport !== t) continue;
        for (const { value: s } of ctx.ws.conns.getRange({ start: [ctx.ws.dataKey(snap), t, -1], end: [ctx.ws.dataKey(snap), t, Infinity] })) {
          if (skipping) {
            if (snap.id === after![0] && t === after![1] && s.id === after![2]) skipping = false;
            continue;
          }
          if (a.ip && s.clientAddr.ip !== a.ip && s.serverAddr.ip !== a.ip) continue;
          if (a.port !== undefined && s.clientAddr.port !== a.port && s.serverAddr.port !== a.port) continue;
          if (a.l7 && !s.found.toLowerCase().includes(a.l7.toLowerCase())) continue;
          if (a.reset !== undefined && (s.rsts > 0 || s.end === 'rst') !== a.reset) continue;
          if (a.gaps && !(s.gapBytes && s.gapBytes[0] + s.gapBytes[1] > 0)) continue;
          if (flows.length === limit) {
            const last = flows[flows.length - 1];
            next = last.flow;
            break outer;
          }
          flows.push(flowBrief(snap.id, s));
        }
      }
    }
    if (skipping) throw new ToolError(`cursor "${a.cursor}" names no flow of this listing: pass back nextCursor unchanged`);
    const fitted = fitList({ returned: flows.length, nextCursor: next }, 'flows', flows);
    // Cut for size: the next page starts after the last flow shown.
    return fitted.cutForSize ? { ...fitted, returned: fitted.cutForSize.shown, nextCursor: flows[fitted.cutForSize.shown - 1].flow } : fitted;
  },
});

const getL4FlowSummary = defineTool({
  name: 'get_l4_flow_summary',
  title: 'One L4 flow in detail',
  description: 'One TCP connection or UDP flow in detail: its ends (with the Kubernetes names of the pods or services, from the '
    + 'calls on it), packets and bytes per direction, bytes reassembled and retransmitted, bytes missing from the capture, '
    + 'RSTs, how it ended, the capture files it was seen in, the L7 protocols found, and the calls carried on it (first 20, '
    + 'with ids for get_api_call). Give a flow id "SNAPSHOT:tcp:N" (list_l4_flows) or a call id (its connection). Use it for '
    + '"why was this connection reset?", "did the capture lose bytes here?", "what else went over this connection?".',
  input: { id: z.string().min(1).max(200).describe('SNAPSHOT:tcp:N, SNAPSHOT:udp:N or a call id') },
  run: (a, ctx) => {
    const target = resolveFollowTarget(ctx.ws, a.id);
    const s = ctx.ws.getStream(target.snapshot, target.transport, target.id);
    if (!s) throw new ToolError(`no ${target.transport} flow ${target.id} in snapshot ${target.snapshot}; list_l4_flows lists them`);
    // The calls on it: the time index narrows the search to the connection's life.
    const filter = `${target.transport} && stream_id == ${target.id} && timestamp >= timestamp("${isoMicros(s.firstTs)}") && timestamp <= timestamp("${isoMicros(s.lastTs)}")`;
    const page = listCalls(ctx.ws, { filter, snapshots: [target.snapshot], limit: 20 });
    const first = page.calls[0];
    const ends = first ? {
      clientName: first.src.name, clientNamespace: first.src.namespace, clientWorkload: first.src.workload?.name ?? null,
      serverName: first.dst.name, serverNamespace: first.dst.namespace, serverWorkload: first.dst.workload?.name ?? null,
    } : null;
    const snap = ctx.ws.resolveSnapshot(target.snapshot);
    return ctx.redactor.strings({
      ...flowBrief(target.snapshot, s),
      kubernetes: ends,
      handshakeSeen: s.transport === 'tcp' ? s.roles === 'syn' : null,
      end: s.end,
      reassembledBytes: s.reassembledBytes,
      retransmittedBytes: s.retransmittedBytes,
      gapBytesPerDirection: s.gapBytes,
      files: s.files.map((f) => snap.files[f]?.path ?? String(f)),
      calls: page.calls.map((c) => ({ id: c.id, time: isoMicros(c.timestamp), protocol: c.protocol, method: c.request.method, url: c.request.url, status: c.status, failed: c.failed })),
      moreCalls: page.nextCursor !== null,
    });
  },
});

export const FLOW_TOOLS = [listL4Flows, getL4FlowSummary];
