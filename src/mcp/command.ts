/**
 * `podcap mcp`: serve a workspace over stdio (default) or streamable HTTP; or print the
 * tools (--list-tools) or the JSON an MCP client's configuration needs (--mcp-config).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProtoRegistry } from '../dissect/proto-registry.js';
import { Workspace, defaultWorkspaceDir } from '../store/workspace.js';
import { toolContext, type ServerOptions } from './context.js';
import { serveHttp } from './http.js';
import { realRoot } from './paths.js';
import { serveStdio } from './server.js';
import { TOOLS } from './tools/index.js';
import { ConfigError, ConfigHolder, loadConfig, type ConfigLookup } from '../config/load.js';
import { redactionRules } from '../config/redaction.js';
import { reloadConfig } from './config.js';

export const MCP_USAGE = `usage: podcap mcp [--workspace DIR] [options]
  serve the workspace to an AI assistant over MCP: stdio by default
  --http                 streamable HTTP at /mcp instead (127.0.0.1, bearer token required)
  --port N               HTTP port (default 7381; 0 picks a free one)
  --host H               HTTP address to bind (default 127.0.0.1)
  --token T              HTTP bearer token (default: generated and printed to stderr)
  --root DIR             import_snapshot may read captures under DIR (repeatable; none: import refused)
  --output-root DIR      export_pcap writes under DIR (none: export refused)
  --allow-reveal         honour reveal: true (credentials unredacted) on tool calls
  --allow-destructive    allow tools that replace stored calls (enable_dissection, disable_dissection)
  --config FILE          podcap.yaml (default ./podcap.yaml, else WORKSPACE/podcap.yaml): redaction rules, settings;
                         reloaded on SIGHUP (a malformed file is reported and the one in force kept)
  --proto DIR            .proto files for gRPC messages (repeatable; default: each snapshot's own)
  --list-tools           print the tools and exit
  --mcp-config           print the JSON to paste into an MCP client's configuration and exit
`;

export const DEFAULT_HTTP_PORT = 7381;

type Out = (s: string) => void;

/** The first sentence of a description: what --list-tools shows. */
function firstSentence(s: string): string {
  const m = /^(.+?[.!?])(\s+(?=[A-Z])|$)/.exec(s);
  return m ? m[1] : s;
}

export function listToolsText(): string {
  const width = Math.max(...TOOLS.map((t) => t.name.length));
  return `${TOOLS.map((t) => `${t.name.padEnd(width)}  ${firstSentence(t.description)}`).join('\n')}\n`;
}

/** What an MCP client (Claude Desktop, Claude Code, any other) needs to start this server. */
export function mcpConfig(workspace: string, extraArgs: string[]): unknown {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  return { mcpServers: { podcap: { command: process.execPath, args: [main, 'mcp', '--workspace', workspace, ...extraArgs] } } };
}

export async function runMcp(args: string[], out: Out, err: Out): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        workspace: { type: 'string', short: 'w' }, proto: { type: 'string', multiple: true }, http: { type: 'boolean' },
        port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' }, root: { type: 'string', multiple: true },
        'output-root': { type: 'string' }, 'allow-reveal': { type: 'boolean' }, 'list-tools': { type: 'boolean' },
        'mcp-config': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        'allow-destructive': { type: 'boolean' }, config: { type: 'string', short: 'c' },
      },
      strict: true,
    }));
  } catch (e) {
    err(`podcap mcp: ${(e as Error).message}\n${MCP_USAGE}`);
    return 1;
  }
  if (values.help) {
    out(MCP_USAGE);
    return 0;
  }
  if (values['list-tools']) {
    out(listToolsText());
    return 0;
  }
  const lookup: ConfigLookup = { explicit: values.config ?? null, workspaceDir: values.workspace ?? defaultWorkspaceDir() };
  let holder: ConfigHolder;
  try {
    holder = new ConfigHolder(loadConfig(lookup));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`podcap mcp: ${e.message}\n`);
    return 2;
  }
  const settings = holder.config.settings;
  const workspace = resolve(values.workspace ?? settings.workspace ?? defaultWorkspaceDir());
  if (values['mcp-config']) {
    // The options that shape what the assistant may do are carried into the configuration.
    const extra: string[] = [];
    for (const r of values.root ?? []) extra.push('--root', resolve(r));
    if (values['output-root']) extra.push('--output-root', resolve(values['output-root']));
    if (values['allow-reveal']) extra.push('--allow-reveal');
    if (values['allow-destructive']) extra.push('--allow-destructive');
    if (values.config) extra.push('--config', resolve(values.config));
    for (const p of values.proto ?? []) extra.push('--proto', resolve(p));
    out(`${JSON.stringify(mcpConfig(workspace, extra), null, 2)}\n`);
    return 0;
  }
  const port = values.port === undefined ? DEFAULT_HTTP_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    err(`podcap mcp: --port must be a port number, not "${values.port}"\n`);
    return 1;
  }
  if (!values.http && (values.port !== undefined || values.host !== undefined || values.token !== undefined)) {
    err('podcap mcp: --port, --host and --token go with --http\n');
    return 1;
  }
  let opts: ServerOptions;
  try {
    const protos = values.proto?.length ? await ProtoRegistry.load(values.proto) : null;
    for (const e of protos?.errors ?? []) err(`podcap mcp: ${e.file}: ${e.message}\n`);
    opts = {
      protos,
      importRoots: await Promise.all((values.root ?? []).map((r) => realRoot(r, '--root'))),
      outputRoot: values['output-root'] ? await realRoot(values['output-root'], '--output-root') : null,
      allowReveal: values['allow-reveal'] === true,
      allowDestructive: values['allow-destructive'] === true,
      redaction: [redactionRules(settings)],
      settings,
    };
  } catch (e) {
    err(`podcap mcp: ${(e as Error).message}\n`);
    return 1;
  }
  const ws = await Workspace.open(workspace);
  const ctx = toolContext(ws, opts);
  const onHangup = (): void => {
    const e = reloadConfig(ctx, holder, lookup);
    err(e ? `podcap mcp: configuration not reloaded, the previous one stays in force: ${e.message}\n`
      : `podcap mcp: configuration reloaded from ${holder.config.file ?? 'defaults'}\n`);
  };
  process.on('SIGHUP', onHangup);
  if (!values.http) {
    await serveStdio(ws, opts, ctx);
    process.off('SIGHUP', onHangup);
    await ws.close();
    return 0;
  }
  const token = values.token ?? randomBytes(24).toString('base64url');
  if (token.length < 16) err('podcap mcp: warning: a token shorter than 16 characters is easy to guess\n');
  const http = await serveHttp(ctx, { host: values.host ?? '127.0.0.1', port, token });
  // The token first: whoever waits for the address has it then.
  if (values.token === undefined) err(`podcap mcp: token: ${token}\n  (send Authorization: Bearer <token>)\n`);
  err(`podcap mcp: serving ${workspace} at ${http.url}\n`);
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await http.close();
  process.off('SIGHUP', onHangup);
  await ws.close();
  return 0;
}
