/**
 * The MCP server: podcap's questions as tools for an AI assistant, the snapshots as
 * resources, an expert's investigations as prompts. Tools are thin: they validate,
 * call query/ and store/, and return bounded, redacted JSON (tools/, registry.ts).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Workspace } from '../store/workspace.js';
import { PODCAP_VERSION } from '../version.js';
import { toolContext, type ServerOptions, type ToolContext } from './context.js';
import { registerPrompts } from './prompts.js';
import { registerTools } from './registry.js';
import { registerResources } from './resources.js';
import { TOOLS } from './tools/index.js';

export type { ServerOptions } from './context.js';

const INSTRUCTIONS = 'podcap answers questions about captured Kubernetes network traffic (HTTP/1, HTTP/2, gRPC, DNS) from the '
  + 'packets. Start with list_snapshots; find failures with get_api_stats and list_api_calls (KFL2 filters, filter_help), '
  + 'read one call with get_api_call, follow it downstream with trace_request. Times are the capture\'s, not now: '
  + '"the last hour" is the last hour of the capture (last: "1h"). Secrets are redacted.';

/** One MCP server over a tool context (several may share one, e.g. one per HTTP request). */
export function createServerFor(ctx: ToolContext): McpServer {
  const server = new McpServer({ name: 'podcap', version: PODCAP_VERSION }, { instructions: INSTRUCTIONS });
  registerTools(server, TOOLS, ctx);
  registerResources(server, ctx);
  registerPrompts(server);
  return server;
}

export function createServer(ws: Workspace, opts: ServerOptions = {}): McpServer {
  return createServerFor(toolContext(ws, opts));
}

/** `ctx`: a context made beforehand (to reload its configuration while serving); else one from ws and opts. */
export async function serveStdio(ws: Workspace, opts: ServerOptions = {}, ctx: ToolContext = toolContext(ws, opts)): Promise<void> {
  const server = createServerFor(ctx);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  await closed;
}
