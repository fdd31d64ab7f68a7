/**
 * Streamable HTTP at /mcp, for MCP clients that speak HTTP. Every request must carry the
 * bearer token (compared in constant time) and, against DNS rebinding, a Host (and an
 * Origin, when a browser sends one) naming this server. Stateless: each POST gets a fresh
 * MCP server over the shared tool context, so concurrent clients never share a session.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { ToolContext } from './context.js';
import { createServerFor } from './server.js';

export const MCP_PATH = '/mcp';

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
}

export interface HttpServer {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The token check: hashing first makes the comparison constant-time whatever the lengths. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1].trim()), digest(token));
}

/** host[:port] as the Host header or an Origin names it, lower case, IPv6 in brackets. */
function hostPort(h: string): { host: string; port: string | null } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h.toLowerCase());
  return m ? { host: m[1], port: m[2] ?? null } : { host: h.toLowerCase(), port: null };
}

function allowedHost(value: string, bindHost: string, port: number): boolean {
  const { host, port: p } = hostPort(value);
  if (p !== String(port)) return false;
  const bind = bindHost.toLowerCase();
  if (LOOPBACK.has(bind) || bind === '::1') return LOOPBACK.has(host);
  // Bound to all interfaces: any name of this machine may be used, the token guards it.
  if (bind === '0.0.0.0' || bind === '::') return true;
  return host === bind || host === `[${bind}]`;
}

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null }));
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: ToolContext, opts: HttpOptions, port: number): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== MCP_PATH) return refuse(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
  if (!allowedHost(req.headers.host ?? '', opts.host, port)) return refuse(res, 403, 'forbidden: Host header does not name this server');
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      const u = new URL(origin);
      if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.port ? `${u.hostname}:${u.port}` : null;
    } catch { /* refused below */ }
    if (originHost === null || !allowedHost(originHost, opts.host, port)) return refuse(res, 403, `forbidden: Origin ${origin} is not this server`);
  }
  if (!tokenMatches(req.headers.authorization, opts.token)) {
    return refuse(res, 401, 'unauthorized: send Authorization: Bearer <token> (printed when the server started)', { 'www-authenticate': 'Bearer realm="podcap"' });
  }
  if (req.method !== 'POST') return refuse(res, 405, 'method not allowed: this server is stateless, POST only', { allow: 'POST' });
  const server = createServerFor(ctx);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}

export async function serveHttp(ctx: ToolContext, opts: HttpOptions): Promise<HttpServer> {
  let port = opts.port;
  const server = createHttpServer((req, res) => {
    handle(req, res, ctx, opts, port).catch((e: unknown) => {
      if (!res.headersSent) refuse(res, 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${shownHost}:${port}${MCP_PATH}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
