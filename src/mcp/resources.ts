/** MCP resources: each snapshot's summary, readable without a tool call (podcap://snapshots/ID). */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { computeStats } from '../query/stats.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import type { ToolContext } from './context.js';
import { snapshotBrief } from './tools/common.js';

export const SNAPSHOT_URI = 'podcap://snapshots/{id}';

/** A snapshot's summary: what it holds, what the import found, and its most failing endpoints. */
export function snapshotSummary(ctx: ToolContext, s: SnapshotMeta) {
  const failing = computeStats(ctx.ws, { snapshots: [s.id], sort: 'failures', limit: 10 });
  return ctx.redactor.strings({
    ...snapshotBrief(s),
    report: {
      packets: s.report.packets, tcpSegments: s.report.tcpSegments, udpDatagrams: s.report.udpDatagrams,
      connections: s.report.connections, unrecognisedBytes: s.report.unrecognisedBytes, damaged: s.report.damaged, skipped: s.report.skipped,
    },
    resolution: s.resolution,
    mostFailingEndpoints: failing.groups.filter((g) => g.failures > 0).map((g) => ({ endpoint: g.label, calls: g.calls, failures: g.failures, p99Ms: g.latencyMs.p99 })),
    skippedInputs: s.skipped.length,
  });
}

export function registerResources(server: McpServer, ctx: ToolContext): void {
  server.registerResource('snapshot', new ResourceTemplate(SNAPSHOT_URI, {
    list: () => ({
      resources: ctx.ws.listSnapshots().map((s) => ({
        uri: `podcap://snapshots/${s.id}`,
        name: s.name ? `${s.name} (${s.id})` : s.id,
        description: `snapshot ${s.id}: ${s.transactions} calls, ${s.report.failed} failed`,
        mimeType: 'application/json',
      })),
    }),
  }), {
    title: 'Snapshot summary',
    description: 'A snapshot\'s summary: capture files, time span, packets, calls by protocol, failures, Kubernetes objects, '
      + 'what the import skipped or found damaged, and the endpoints with the most failures.',
    mimeType: 'application/json',
  }, (uri, vars) => {
    const id = Array.isArray(vars.id) ? vars.id[0] : vars.id;
    const snap = ctx.ws.resolveSnapshot(String(id));
    return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(snapshotSummary(ctx, snap), null, 1) }] };
  });
}
