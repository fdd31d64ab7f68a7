/**
 * The MCP server: podcap's questions as tools for an AI assistant. Tools are thin:
 * they validate, call query/ and return bounded JSON. Secrets are redacted.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import type { TransactionRecord } from '../dissect/record.js';
import { CursorError, getCall, listCalls } from '../query/calls.js';
import { FilterError } from '../query/filter.js';
import { redactRecord } from '../query/redact.js';
import { SnapshotNotFound, type Workspace } from '../store/workspace.js';
import { PODCAP_VERSION } from '../version.js';
import type { ProtoRegistry } from '../dissect/proto-registry.js';

export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 200;
export const BODY_BYTES = 16 * 1024;

type ToolResult = { content: Array<{ type: 'text'; text: string }>; isError?: boolean };

function json(value: unknown): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

function failure(message: string): ToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** What a listing shows of a call: enough to choose which one to fetch in full. */
export function callSummary(r: TransactionRecord) {
  return {
    id: r.id,
    time: new Date(r.timestamp / 1000).toISOString(),
    protocol: r.protocol,
    src: { ip: r.src.ip, port: r.src.port, name: r.src.name, namespace: r.src.namespace },
    dst: { ip: r.dst.ip, port: r.dst.port, name: r.dst.name, namespace: r.dst.namespace },
    method: r.request.method,
    url: r.request.url,
    status: r.status,
    elapsedMs: r.elapsedTime,
    failed: r.failed,
    ...(r.evidence ? { evidence: r.evidence } : {}),
    notes: r.notes,
  };
}

function guarded<A>(fn: (args: A) => ToolResult): (args: A) => Promise<ToolResult> {
  return async (args) => {
    try {
      return fn(args);
    } catch (e) {
      if (e instanceof FilterError || e instanceof CursorError || e instanceof SnapshotNotFound) return failure(e.message);
      throw e;
    }
  };
}

export interface ServerOptions {
  /** .proto files to decode gRPC messages with (else each snapshot's own, else schema-less). */
  protos?: ProtoRegistry | null;
}

export function createServer(ws: Workspace, opts: ServerOptions = {}): McpServer {
  const server = new McpServer({ name: 'podcap', version: PODCAP_VERSION });

  server.registerTool('list_snapshots', {
    title: 'List snapshots',
    description: 'Lists the capture snapshots imported into this workspace: id, name, time span, packet and call counts, '
      + 'failures. Start here to learn what traffic is available and which snapshot id to pass to other tools.',
    inputSchema: {},
    annotations: { readOnlyHint: true },
  }, guarded(() => json(ws.listSnapshots().map((s) => ({
    id: s.id, name: s.name, importedAt: s.createdAt, files: s.files.map((f) => f.path),
    firstCall: s.firstTs === null ? null : new Date(s.firstTs / 1000).toISOString(),
    lastCall: s.lastTs === null ? null : new Date(s.lastTs / 1000).toISOString(),
    packets: s.report.packets, calls: s.transactions, failed: s.report.failed, byProtocol: s.report.transactions,
  })))));

  server.registerTool('list_api_calls', {
    title: 'List API calls',
    description: 'Lists API calls (HTTP requests with their responses) matching a KFL2 filter, oldest first, as summaries '
      + 'without bodies: id, time, source and destination, method, URL, status, latency, failed, notes. Use it to find '
      + 'failures, slow calls or the calls of one endpoint, then get_api_call for one call in full. The filter is Kubeshark\'s '
      + 'KFL2 (CEL), e.g. `http && status_code >= 500`, `path.startsWith("/api/") && elapsed_time > 250000` (microseconds), '
      + '`failed`, `method == "POST" && !("authorization" in request.headers)`. Results are paged: pass nextCursor back as cursor.',
    inputSchema: {
      filter: z.string().optional().describe('KFL2 filter; empty or absent matches every call'),
      snapshot: z.string().optional().describe('snapshot id or name (default: all snapshots)'),
      limit: z.number().int().min(1).max(LIST_MAX_LIMIT).optional().describe(`calls per page (default ${LIST_DEFAULT_LIMIT}, max ${LIST_MAX_LIMIT})`),
      cursor: z.string().optional().describe('nextCursor from the previous page'),
    },
    annotations: { readOnlyHint: true },
  }, guarded(({ filter, snapshot, limit, cursor }: { filter?: string; snapshot?: string; limit?: number; cursor?: string }) => {
    const page = listCalls(ws, { filter, snapshots: snapshot ? [snapshot] : undefined, limit: limit ?? LIST_DEFAULT_LIMIT, cursor });
    return json({
      calls: page.calls.map(callSummary),
      nextCursor: page.nextCursor,
      scanned: page.scanned,
      ...(page.evaluationErrors ? { evaluationErrors: page.evaluationErrors, lastEvaluationError: page.lastEvaluationError } : {}),
    });
  }));

  server.registerTool('get_api_call', {
    title: 'Get one API call',
    description: 'Returns one API call in full by its id (from list_api_calls): request line, headers, decoded body, '
      + `response status, headers and body, timing and notes on anything odd. Bodies are cut at ${BODY_BYTES} bytes `
      + '(size and truncated say so). Credentials (Authorization, Cookie, API keys) are redacted.',
    inputSchema: { id: z.string().describe('call id, e.g. "3f9a1c2e-17"') },
    annotations: { readOnlyHint: true },
  }, guarded(({ id }: { id: string }) => {
    const rec = getCall(ws, id, { maxBodyBytes: BODY_BYTES, protos: opts.protos ?? null });
    return rec ? json(redactRecord(rec)) : failure(`no call with id "${id}"; ids come from list_api_calls`);
  }));

  return server;
}

export async function serveStdio(ws: Workspace, opts: ServerOptions = {}): Promise<void> {
  const server = createServer(ws, opts);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  await closed;
}
