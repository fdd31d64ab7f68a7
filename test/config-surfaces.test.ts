/**
 * podcap.yaml on the surfaces: its redaction rules in CLI JSON, MCP results and reports, the MCP
 * server's reload (a malformed file keeps the configuration in force), and the dissection
 * tools (get_dissection_status, enable_dissection / disable_dissection behind
 * --allow-destructive) with MCP queries running across the swap.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ConfigHolder, readConfigFile } from '../src/config/load.js';
import { redactionRules } from '../src/config/redaction.js';
import type { TransactionRecord } from '../src/dissect/record.js';
import { reloadConfig } from '../src/mcp/config.js';
import { toolContext, type ToolContext } from '../src/mcp/context.js';
import { createServerFor } from '../src/mcp/server.js';
import { Workspace } from '../src/store/workspace.js';
import { podcap, runCli as cli, tempWorkspace } from './support/cli.js';
import { memoryClient, textOf } from './support/mcp.js';
import { fixturesDir } from './support/paths.js';

function header(h: Array<[string, string]>, name: string): string | undefined {
  return h.find(([n]) => n.toLowerCase() === name)?.[1];
}

const RULES = [
  'redaction:',
  '  headers: [user-agent]',
  '  jsonPaths: ["$.orders.*.customer"]',
  '  patterns: ["fx-\\\\d{4}"]',
  '',
].join('\n');

/** The redactions RULES asks for, seen in one record (fx-0001 is the first call's x-request-id). */
function assertRedacted(r: TransactionRecord, where: string): void {
  assert.match(header(r.request.headers, 'user-agent') ?? '', /^\[redacted \d+ chars\]$/, `${where}: user-agent`);
  assert.ok(!(header(r.request.headers, 'x-request-id') ?? '').includes('fx-0001'), `${where}: x-request-id by pattern`);
  const body = JSON.parse(r.response!.body!.data) as { orders: Array<{ customer: string; status: string }> };
  assert.ok(body.orders.every((o) => /redacted/.test(o.customer)), `${where}: customers ${JSON.stringify(body.orders)}`);
  assert.equal(body.orders[0].status, 'shipped', `${where}: other fields kept`);
}

function connect(ctx: ToolContext): Promise<Client> {
  return memoryClient(createServerFor(ctx));
}

describe('redaction rules from podcap.yaml', () => {
  const ws = tempWorkspace();
  let first: string;
  let cfg: string;
  before(async () => {
    const imp = await cli(['import', join(fixturesDir, 'http1', 'sample.pcapng'), '--name', 'h1', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    cfg = join(ws.dir, 'rules.yaml');
    writeFileSync(cfg, RULES);
    first = (JSON.parse((await cli(['calls', '--json', '--limit', '1', '-w', ws.dir])).stdout) as TransactionRecord[])[0].id;
  });
  after(() => ws.cleanup());

  it('apply to CLI JSON (calls and show); --reveal and a file without rules show the call as captured', async () => {
    const shown = await cli(['show', first, '--json', '--config', cfg, '-w', ws.dir]);
    assert.equal(shown.code, 0, shown.stderr);
    assertRedacted(JSON.parse(shown.stdout) as TransactionRecord, 'show --json');
    const listed = JSON.parse((await cli(['calls', '--json', '--config', cfg, '-w', ws.dir])).stdout) as TransactionRecord[];
    assert.ok(listed.length > 3);
    for (const r of listed) assert.match(header(r.request.headers, 'user-agent') ?? '', /^\[redacted/, 'calls --json');
    // The defaults come with the rules: credentials are hidden too.
    assert.ok(listed.some((r) => /^Bearer .*\[redacted|^Bearer eyJ[^.]+\.eyJ[^.]+\.\[redacted/.test(header(r.request.headers, 'authorization') ?? '')
      || (header(r.request.headers, 'authorization') ?? '').includes('redacted')));
    const revealed = JSON.parse((await cli(['show', first, '--json', '--reveal', '--config', cfg, '-w', ws.dir])).stdout) as TransactionRecord;
    assert.equal(header(revealed.request.headers, 'user-agent'), 'podcap-fixtures/1.0 (node)');
    const plain = JSON.parse((await cli(['show', first, '--json', '-w', ws.dir])).stdout) as TransactionRecord;
    assert.equal(header(plain.request.headers, 'x-request-id'), 'fx-0001');
  });

  it('apply to MCP results; a reload of a malformed file keeps them, a good one replaces them', async () => {
    const holder = new ConfigHolder(readConfigFile(cfg));
    const w = await Workspace.open(ws.dir);
    const ctx = toolContext(w, { redaction: [redactionRules(holder.config.settings)], settings: holder.config.settings });
    const client = await connect(ctx);
    try {
      const get = async (): Promise<TransactionRecord> => JSON.parse(textOf(await client.callTool({ name: 'get_api_call', arguments: { id: first } }))) as TransactionRecord;
      assertRedacted(await get(), 'get_api_call');
      const list = JSON.parse(textOf(await client.callTool({ name: 'list_api_calls', arguments: { limit: 5 } }))) as { calls: Array<{ id: string }> };
      assert.ok(!JSON.stringify(list).includes('fx-000'), 'list_api_calls: the pattern applies to summaries');

      writeFileSync(cfg, `${RULES}tcp: {maxHeldBytesTotal: lots}\n`);
      const err = reloadConfig(ctx, holder, { explicit: cfg, workspaceDir: ws.dir });
      assert.ok(err);
      assert.equal(err.message.startsWith(`${cfg}:5: tcp.maxHeldBytesTotal: expected a size`), true, err.message);
      assertRedacted(await get(), 'after a failed reload');

      writeFileSync(cfg, 'redaction:\n  headers: [accept]\n');
      assert.equal(reloadConfig(ctx, holder, { explicit: cfg, workspaceDir: ws.dir }), null);
      const now = await get();
      assert.equal(header(now.request.headers, 'user-agent'), 'podcap-fixtures/1.0 (node)');
      assert.match(header(now.request.headers, 'accept') ?? '', /^\[redacted/);
    } finally {
      await client.close();
      await w.close();
      writeFileSync(cfg, RULES);
    }
  });

  it('apply to reports (podcap report), the third surface', async () => {
    const plain = await cli(['report', '--format', 'md', '-w', ws.dir]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /user-agent: podcap-fixtures\/1\.0 \(node\)/);
    assert.match(plain.stdout, /x-request-id: fx-\d{4}/);
    const r = await cli(['report', '--format', 'md', '--config', cfg, '-w', ws.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!/podcap-fixtures|fx-\d{4}/.test(r.stdout), 'the header rule and the pattern hide every occurrence');
    assert.match(r.stdout, /user-agent: \[redacted \d+ chars\]/);
  });

  it('podcap mcp refuses to start on a malformed podcap.yaml, naming file, line and key', () => {
    const bad = join(ws.dir, 'bad.yaml');
    writeFileSync(bad, 'hints:\n  8443: http2\n  web: http\n');
    const r = podcap(['mcp', '--config', bad, '-w', ws.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:3: hints\\.web: expected a port`));
  });
});

describe('MCP dissection tools', () => {
  const ws = tempWorkspace();
  let w: Workspace;
  before(async () => {
    const sample = join(fixturesDir, 'sample');
    const imp = await cli(['import', join(sample, 'capture.pcap'), '--manifest', join(sample, 'cluster.yaml'), '--name', 's', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    w = await Workspace.open(ws.dir);
  });
  after(async () => {
    await w.close();
    ws.cleanup();
  });

  it('get_dissection_status returns what status --json does', async () => {
    const client = await connect(toolContext(w));
    try {
      const viaMcp = JSON.parse(textOf(await client.callTool({ name: 'get_dissection_status', arguments: { snapshot: 's' } }))) as Record<string, unknown>;
      const viaCli = JSON.parse((await cli(['status', 's', '--json', '-w', ws.dir])).stdout) as Record<string, unknown>;
      assert.deepEqual(viaMcp, viaCli);
      const d = viaMcp.dissection as { protocols: Record<string, { transactions: number }> };
      for (const p of ['http', 'http2', 'grpc', 'dns']) assert.ok(d.protocols[p].transactions > 0, p);
    } finally {
      await client.close();
    }
  });

  it('disable_dissection is refused without --allow-destructive', async () => {
    const client = await connect(toolContext(w));
    try {
      const r = await client.callTool({ name: 'disable_dissection', arguments: { snapshot: 's', protocol: 'dns' } });
      assert.equal(r.isError, true);
      assert.match(textOf(r), /--allow-destructive/);
      assert.equal(w.resolveSnapshot('s').generation ?? 0, 0);
    } finally {
      await client.close();
    }
  });

  it('disable then enable DNS; MCP queries running across each swap see the old calls or the new, never a mix', async () => {
    const client = await connect(toolContext(w, { allowDestructive: true }));
    try {
      const ids = async (): Promise<string> => {
        const r = JSON.parse(textOf(await client.callTool({ name: 'list_api_calls', arguments: { limit: 200, snapshot: 's', filter: 'dns || http' } }))) as { calls: Array<{ id: string; protocol: string }> };
        return JSON.stringify(r.calls.map((c) => `${c.id}:${c.protocol}`));
      };
      const withDns = await ids();
      const during: string[] = [];
      let running = true;
      const poll = (async () => {
        while (running) {
          during.push(await ids());
          // The in-memory transport answers in microtasks: let the re-dissection's file reads run between queries.
          await new Promise((r) => setImmediate(r));
        }
      })();
      const off = JSON.parse(textOf(await client.callTool({ name: 'disable_dissection', arguments: { snapshot: 's', protocol: 'dns' } }))) as { changed: boolean; callsAfter: Record<string, number> };
      running = false;
      await poll;
      assert.equal(off.changed, true);
      assert.equal(off.callsAfter.dns, undefined);
      const withoutDns = await ids();
      assert.ok(!withoutDns.includes(':dns'));
      assert.ok(during.length >= 2, `${during.length} queries during the re-dissection`);
      assert.deepEqual(during.filter((l) => l !== withDns && l !== withoutDns), [], 'no listing mixes old and new');

      const status = JSON.parse(textOf(await client.callTool({ name: 'get_dissection_status', arguments: { snapshot: 's' } }))) as { settings: { protocols: Record<string, boolean> }; dissection: { protocols: Record<string, { turnedOff: number }> } };
      assert.equal(status.settings.protocols.dns, false);
      assert.ok(status.dissection.protocols.dns.turnedOff > 0);

      const again = JSON.parse(textOf(await client.callTool({ name: 'disable_dissection', arguments: { snapshot: 's', protocol: 'dns' } }))) as { changed: boolean };
      assert.equal(again.changed, false);
      const on = JSON.parse(textOf(await client.callTool({ name: 'enable_dissection', arguments: { snapshot: 's', protocol: 'dns' } }))) as { changed: boolean; generation: number };
      assert.equal(on.changed, true);
      assert.equal(on.generation, 2);
      assert.equal(await ids(), withDns, 'the same calls, under the same ids, as at import');
    } finally {
      await client.close();
    }
  });
});
