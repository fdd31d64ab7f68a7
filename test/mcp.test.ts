/** The MCP server driven by the SDK's own client over a spawned `podcap mcp`, as an AI assistant's host would. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { TransactionRecord } from '../src/dissect/record.js';
import { fixturesDir } from './support/paths.js';
import { podcap, podcapBin, tempWorkspace } from './support/cli.js';

interface Summary {
  id: string;
  method: string;
  url: string;
  status: number;
  failed: boolean;
}

function textOf(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text?: string }> }).content;
  assert.equal(content[0].type, 'text');
  return content[0].text ?? '';
}

describe('podcap mcp (stdio)', () => {
  const ws = tempWorkspace();
  let client: Client;

  before(async () => {
    const imp = podcap(['import', join(fixturesDir, 'http1', 'sample.pcapng'), '--name', 'sample', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    client = new Client({ name: 'podcap-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [podcapBin, 'mcp', '--workspace', ws.dir], stderr: 'pipe' }));
  });

  after(async () => {
    await client?.close();
    ws.cleanup();
  });

  it('lists its tools, each with a description and an input schema', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    for (const n of ['get_api_call', 'list_api_calls', 'list_snapshots']) assert.ok(names.includes(n), `has ${n}`);
    for (const t of tools) {
      assert.ok((t.description ?? '').length > 80, `${t.name} is described for a model`);
      assert.equal(t.inputSchema.type, 'object');
    }
    const list = tools.find((t) => t.name === 'list_api_calls')!;
    assert.deepEqual(Object.keys(list.inputSchema.properties ?? {}).sort(), ['cursor', 'filter', 'from', 'last', 'limit', 'reveal', 'reverse', 'snapshot', 'to']);
  });

  it('lists the snapshot the CLI imported', async () => {
    const { snapshots: snaps } = JSON.parse(textOf(await client.callTool({ name: 'list_snapshots', arguments: {} }))) as { snapshots: Array<{ id: string; name: string; calls: number }> };
    const cli = JSON.parse(podcap(['snapshots', '--json', '-w', ws.dir]).stdout) as Array<{ id: string; transactions: number }>;
    assert.deepEqual(snaps.map((s) => s.id), cli.map((s) => s.id));
    assert.equal(snaps[0].name, 'sample');
    assert.equal(snaps[0].calls, cli[0].transactions);
  });

  it('returns the same calls as `podcap calls` for the same filter', async () => {
    for (const filter of ['http && status_code >= 500', 'method == "POST"', '']) {
      const res = JSON.parse(textOf(await client.callTool({ name: 'list_api_calls', arguments: { filter, limit: 200 } }))) as { calls: Summary[]; nextCursor: string | null };
      const cli = JSON.parse(podcap(['calls', filter, '--json', '--limit', '200', '-w', ws.dir]).stdout) as TransactionRecord[];
      assert.ok(cli.length > 0, `the CLI finds calls for "${filter}"`);
      assert.deepEqual(res.calls.map((c) => [c.id, c.method, c.url, c.status, c.failed]), cli.map((c) => [c.id, c.request.method, c.request.url, c.status, c.failed]));
      assert.equal(res.nextCursor, null);
    }
  });

  it('pages with a cursor until every call has been seen once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const res = JSON.parse(textOf(await client.callTool({ name: 'list_api_calls', arguments: { limit: 5, ...(cursor ? { cursor } : {}) } }))) as { calls: Summary[]; nextCursor: string | null };
      assert.ok(res.calls.length <= 5);
      seen.push(...res.calls.map((c) => c.id));
      if (!res.nextCursor) break;
      cursor = res.nextCursor;
    }
    const all = JSON.parse(podcap(['calls', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.deepEqual(seen, all.map((c) => c.id));
  });

  it('gets one call in full with its body, credentials redacted', async () => {
    const failing = JSON.parse(podcap(['calls', 'status_code == 500', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.equal(failing.length, 1);
    const rec = JSON.parse(textOf(await client.callTool({ name: 'get_api_call', arguments: { id: failing[0].id } }))) as TransactionRecord;
    assert.equal(rec.id, failing[0].id);
    assert.equal(rec.status, 500);
    assert.match(rec.response?.body?.data ?? '', /card processor timeout/);
    const auth = rec.request.headers.find(([n]) => n.toLowerCase() === 'authorization');
    assert.ok(auth, 'the fixture request carries an Authorization header');
    // A JWT keeps its header and claims (readable) and loses its signature.
    const jwt = failing[0].request.headers.find(([n]) => n.toLowerCase() === 'authorization')![1].slice('Bearer '.length);
    const [head, claims, signature] = jwt.split('.');
    assert.equal(auth[1], `Bearer ${head}.${claims}.[signature redacted]`);
    assert.ok(!textOf(await client.callTool({ name: 'get_api_call', arguments: { id: failing[0].id } })).includes(signature));
    const cookie = rec.request.headers.find(([n]) => n.toLowerCase() === 'cookie');
    assert.ok(cookie && !cookie[1].includes('session='), 'cookie value redacted');
  });

  it('answers a bad filter or an unknown id with an error the model can act on', async () => {
    const bad = await client.callTool({ name: 'list_api_calls', arguments: { filter: 'status_cod >= 500' } });
    assert.equal(bad.isError, true);
    assert.match(textOf(bad), /unknown variable `status_cod`.*status_code/);
    const missing = await client.callTool({ name: 'get_api_call', arguments: { id: 'nope-1' } });
    assert.equal(missing.isError, true);
  });
});
