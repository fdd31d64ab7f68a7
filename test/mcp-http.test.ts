/**
 * `podcap mcp --http`: streamable HTTP at /mcp on 127.0.0.1, a bearer token required, Host and
 * Origin checked against DNS rebinding; the SDK's own client over it, several at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fixturesDir } from './support/paths.js';
import { podcap, podcapBin, tempWorkspace } from './support/cli.js';
import { stdioClient, textOf } from './support/mcp.js';

const TOKEN = 'test-token-0123456789abcdef';
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

/** Start `podcap mcp --http` and wait for the address it prints. */
async function startHttp(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [podcapBin, 'mcp', '--http', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\/\/\S+\/mcp)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`podcap mcp --http exited with ${code}: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

function post(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers,
    } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(INIT);
  });
}

async function httpClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'podcap-http-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

describe('podcap mcp --http', () => {
  const ws = tempWorkspace();
  let server: Awaited<ReturnType<typeof startHttp>>;

  before(async () => {
    const imp = podcap(['import', join(fixturesDir, 'sample'), '--name', 'sample', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    server = await startHttp(['--token', TOKEN, '--workspace', ws.dir]);
  });

  after(() => {
    server?.child.kill('SIGTERM');
    ws.cleanup();
  });

  it('binds to 127.0.0.1 and serves /mcp', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it('refuses a request without the token, with a wrong one, with a foreign Origin or Host', async () => {
    const good = { authorization: `Bearer ${TOKEN}` };
    const port = new URL(server.url).port;
    assert.equal((await post(server.url, {})).status, 401);
    assert.equal((await post(server.url, { authorization: 'Bearer wrong-token' })).status, 401);
    assert.equal((await post(server.url, { authorization: `Bearer ${TOKEN}x` })).status, 401);
    assert.equal((await post(server.url, { authorization: TOKEN })).status, 401, 'not a bearer credential');
    assert.equal((await post(server.url, { ...good, origin: 'http://evil.example' })).status, 403);
    assert.equal((await post(server.url, { ...good, origin: `http://evil.example:${port}` })).status, 403);
    assert.equal((await post(server.url, { ...good, host: `evil.example:${port}` })).status, 403, 'DNS rebinding: a foreign Host');
    assert.equal((await post(server.url, { ...good, origin: `http://localhost:${port}` })).status, 200);
    const ok = await post(server.url, good);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /"serverInfo":\{"name":"podcap"/);
  });

  it('answers the SDK client as stdio does, and many clients at once', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map(() => httpClient(server.url, TOKEN)));
    const stdio = await stdioClient(['--workspace', ws.dir]);
    try {
      const { tools } = await clients[0].listTools();
      assert.equal(tools.length, (await stdio.listTools()).tools.length);
      const asks: Array<[string, Record<string, unknown>]> = [
        ['list_api_calls', { filter: 'failed && !dns', limit: 100 }],
        ['get_api_stats', { filter: '!dns', sort: 'failures', limit: 5 }],
        ['find_unauthenticated', { filter: '!dns' }],
        ['get_timeline', { filter: 'failed', bucket: '10s' }],
        ['list_l4_flows', { limit: 20 }],
      ];
      const expected = await Promise.all(asks.map(([name, args]) => stdio.callTool({ name, arguments: args }).then(textOf)));
      // Every client asks every question at once.
      const answers = await Promise.all(clients.flatMap((c) => asks.map(([name, args]) => c.callTool({ name, arguments: args }).then(textOf))));
      answers.forEach((a, i) => assert.equal(a, expected[i % asks.length], `${asks[i % asks.length][0]} over HTTP`));
    } finally {
      await Promise.all([...clients, stdio].map((c) => c.close()));
    }
  });

  it('generates a token when none is given and prints it; refuses others', async () => {
    const s = await startHttp(['--workspace', ws.dir]);
    try {
      const m = /token: (\S+)/.exec(s.stderr());
      assert.ok(m, s.stderr());
      assert.ok(m[1].length >= 32);
      assert.equal((await post(s.url, {})).status, 401);
      const c = await httpClient(s.url, m[1]);
      const snaps = JSON.parse(textOf(await c.callTool({ name: 'list_snapshots', arguments: {} }))) as { snapshots: unknown[] };
      assert.equal(snaps.snapshots.length, 1);
      await c.close();
    } finally {
      s.child.kill('SIGTERM');
    }
  });

  it('prints its tools and its client configuration', () => {
    const list = podcap(['mcp', '--list-tools']);
    assert.equal(list.code, 0);
    assert.equal(list.stdout.trim().split('\n').length, 21);
    assert.match(list.stdout, /^list_api_calls\s+Lists API calls/m);
    const cfg = podcap(['mcp', '--mcp-config', '--workspace', ws.dir, '--root', fixturesDir]);
    assert.equal(cfg.code, 0);
    const parsed = JSON.parse(cfg.stdout) as { mcpServers: { podcap: { command: string; args: string[] } } };
    assert.equal(parsed.mcpServers.podcap.command, process.execPath);
    assert.deepEqual(parsed.mcpServers.podcap.args, [podcapBin, 'mcp', '--workspace', ws.dir, '--root', fixturesDir]);
  });
});
