/**
 * MCP create_snapshot (Kubeshark's name) on the sample incident, through the SDK's
 * client over an in-memory transport: a derived snapshot of the payment outage's
 * window, listed with its parent, holding exactly the window's calls; the bundle
 * written under the output root; refusals for a cut of nothing and a path outside.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { listCalls } from '../src/query/calls.js';
import { createServer } from '../src/mcp/server.js';
import { sampleSkip, suiteSample } from './support/workspace.js';
import { memoryClient, textOf } from './support/mcp.js';

function json(result: unknown): Record<string, unknown> {
  const isError = (result as { isError?: boolean }).isError === true;
  return { ...(JSON.parse(textOf(result) || '{}') as Record<string, unknown>), ...(isError ? { isError: true } : {}) };
}

describe('MCP create_snapshot', { skip: sampleSkip }, () => {
  const w = suiteSample('podcap-mcp-cut-');
  let client: Client;
  const from = '2026-11-24T19:56:15.476250Z';
  const to = '2026-11-24T19:56:35.501511Z';

  before(async () => {
    mkdirSync(join(w.dir, 'out'));
    client = await memoryClient(createServer(w.ws, { outputRoot: join(w.dir, 'out') }));
  });
  after(async () => {
    await client?.close();
  });

  it('cuts a window into a new snapshot listed with its parent, and writes the bundle under the output root', async () => {
    const r = json(await client.callTool({ name: 'create_snapshot', arguments: { snapshot: 'sample', from, to, name: 'outage', bundle: 'outage.tar.gz' } }));
    assert.equal(r.isError, undefined, JSON.stringify(r));
    const created = r.created as { id: string; name: string; parent: { id: string; from: string; to: string } };
    assert.equal(created.name, 'outage');
    assert.equal(created.parent.id, w.id);
    assert.equal(created.parent.from, '2026-11-24T19:56:15.476Z');
    const bundle = r.bundle as { path: string; files: string[] };
    assert.equal(bundle.path, join(w.dir, 'out', 'outage.tar.gz'));
    assert.ok(readFileSync(bundle.path).length > 1000);
    assert.ok(bundle.files.includes('report.html'));

    const listed = json(await client.callTool({ name: 'list_snapshots', arguments: {} })).snapshots as Array<{ id: string; parent?: { id: string } }>;
    assert.deepEqual(listed.map((s) => [s.id, s.parent?.id ?? null]).sort(), [[w.id, null], [created.id, w.id]].sort());

    // Exactly the window's calls, by the filter the tool hands back.
    const want = listCalls(w.ws, { snapshots: [w.id], filter: `timestamp >= timestamp("${from}") && timestamp <= timestamp("${to}")`, limit: 10000 }).calls;
    const got = listCalls(w.ws, { snapshots: [created.id], filter: r.selectAgain as string, limit: 10000 }).calls;
    assert.ok(want.length > 100);
    assert.deepEqual(got.map((c) => [c.timestamp, c.status, c.dst.name]), want.map((c) => [c.timestamp, c.status, c.dst.name]));
  });

  it('refuses a cut of everything, an empty cut and a bundle outside the output root', async () => {
    assert.match(textOf(await client.callTool({ name: 'create_snapshot', arguments: { snapshot: 'sample' } })), /give a filter, a window/);
    assert.match(textOf(await client.callTool({ name: 'create_snapshot', arguments: { snapshot: 'sample', filter: 'status_code == 999' } })), /no call matches/);
    assert.match(textOf(await client.callTool({ name: 'create_snapshot', arguments: { snapshot: 'sample', filter: 'grpc', bundle: '../x.tar.gz' } })), /outside the output root/);
    // Only the first test's derived capture is kept; the refused cuts left nothing behind.
    assert.equal(readdirSync(join(w.dir, 'derived')).length, 1);
    assert.equal((json(await client.callTool({ name: 'list_snapshots', arguments: {} })).snapshots as unknown[]).length, 2);
  });

  it('deleting the derived snapshot removes its capture from the workspace too', async () => {
    const listed = json(await client.callTool({ name: 'list_snapshots', arguments: {} })).snapshots as Array<{ id: string; parent?: { id: string } }>;
    const derived = listed.find((s) => s.parent)!;
    const r = json(await client.callTool({ name: 'delete_snapshot', arguments: { snapshot: derived.id } }));
    assert.equal(r.deleted, derived.id);
    assert.deepEqual(readdirSync(join(w.dir, 'derived')), []);
    assert.ok(w.ws.listSnapshots().some((s) => s.id === w.id), 'the w.id stays');
  });
});
