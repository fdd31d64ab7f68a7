/**
 * The MCP server on the sample incident (fixtures/sample), driven over stdio by the SDK's own
 * client: every tool answers, agreeing with the CLI and the incident's ground truth; results are
 * bounded; paths stay under their roots; and no answer carries a credential.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { TransactionRecord } from '../src/dissect/record.js';
import { readCaptureFile } from '../src/capture/open.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';
import { stdioClient, Transcript } from './support/mcp.js';

const sample = join(fixturesDir, 'sample');
const expected = JSON.parse(readFileSync(join(sample, 'expected.json'), 'utf8')) as {
  phases: Array<{ name: string; start: string; end: string }>;
  summary: { firstFailure: { time: string } };
};

const ALL_TOOLS = [
  'compare', 'create_snapshot', 'delete_snapshot', 'disable_dissection', 'enable_dissection', 'export_pcap', 'filter_help', 'find_unauthenticated',
  'follow_stream', 'get_api_call', 'get_api_stats', 'get_dissection_status', 'get_l4_flow_summary', 'get_service_map', 'get_timeline', 'import_snapshot', 'list_api_calls', 'list_l4_flows', 'list_snapshots',
  'list_workloads', 'trace_request',
];

interface CallSummary { id: string; url: string; status: number; failed: boolean; evidence?: string; grpcStatus?: string; dst: { name: string } }
interface CallList { calls: CallSummary[]; nextCursor: string | null; returned: number }
interface StatsGroup { label: string; calls: number; failures: number; latencyMs: { p99: number | null } }

describe('podcap mcp on the sample incident (stdio)', () => {
  const ws = tempWorkspace();
  const root = mkdtempSync(join(tmpdir(), 'podcap-mcp-root-'));
  const outRoot = mkdtempSync(join(tmpdir(), 'podcap-mcp-out-'));
  const outside = mkdtempSync(join(tmpdir(), 'podcap-mcp-outside-'));
  let client: Client;
  const t = new Transcript(() => client);
  let snapshot = '';
  /** Every credential in the capture, as sent: none may reach a tool's answer. */
  const secrets = new Set<string>();

  before(async () => {
    const imp = podcap(['import', sample, '--name', 'sample', '--proto', join(sample, 'protos'), '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    snapshot = (JSON.parse(podcap(['snapshots', '--json', '-w', ws.dir]).stdout) as Array<{ id: string }>)[0].id;
    for (const r of JSON.parse(podcap(['calls', '"authorization" in request.headers', '--json', '--limit', '10000', '-w', ws.dir]).stdout) as TransactionRecord[]) {
      for (const [n, v] of r.request.headers) {
        if (n.toLowerCase() !== 'authorization') continue;
        const token = v.replace(/^Bearer\s+/i, '');
        secrets.add(token);
        secrets.add(token.split('.')[2]);
      }
    }
    // An import root holding a copy of the sample, a link leading out of it, and a file outside it.
    mkdirSync(join(root, 'incident'));
    for (const f of ['capture.pcap', 'cluster.yaml']) copyFileSync(join(sample, f), join(root, 'incident', f));
    copyFileSync(join(sample, 'capture.pcap'), join(outside, 'capture.pcap'));
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(outside, join(outRoot, 'elsewhere'));
    client = await stdioClient(['--workspace', ws.dir, '--root', root, '--output-root', outRoot]);
  });

  after(async () => {
    await client?.close();
    ws.cleanup();
    for (const d of [root, outRoot, outside]) rmSync(d, { recursive: true, force: true });
  });

  it('lists every tool with a description for a model and a precise schema', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), ALL_TOOLS);
    for (const x of tools) {
      assert.ok((x.description ?? '').length > 200, `${x.name} is described for a model`);
      assert.equal(x.inputSchema.type, 'object');
    }
    const calls = tools.find((x) => x.name === 'list_api_calls')!;
    const limit = (calls.inputSchema.properties as Record<string, { maximum?: number }>).limit;
    assert.equal(limit.maximum, 200);
    assert.ok(secrets.size >= 4, 'the sample carries bearer JWTs');
  });

  it('finds the failing payment endpoint with a KFL2 filter and with get_api_stats, as the CLI does', async () => {
    const list = await t.call<CallList>('list_api_calls', { filter: 'grpc && grpc_status == 14', limit: 100 });
    assert.equal(list.calls.length, 26);
    for (const c of list.calls) {
      assert.equal(c.dst.name, 'payment-svc');
      assert.equal(c.grpcStatus, 'UNAVAILABLE');
      assert.match(c.evidence ?? '', /payment provider unreachable/);
    }
    const cli = JSON.parse(podcap(['calls', 'grpc && grpc_status == 14', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.deepEqual(list.calls.map((c) => c.id), cli.map((c) => c.id));

    const stats = await t.call<{ groups: StatsGroup[] }>('get_api_stats', { filter: '!dns', sort: 'failures', limit: 2 });
    assert.deepEqual(stats.groups.map((g) => [g.label, g.calls, g.failures]), [
      ['shop/checkout POST /api/checkout', 78, 26],
      ['shop/payment-svc payments.v1.Payments/Charge', 78, 26],
    ]);
    const cliStats = JSON.parse(podcap(['stats', '!dns', '--sort', 'failures', '--limit', '2', '--json', '-w', ws.dir]).stdout) as { groups: StatsGroup[] };
    assert.deepEqual(stats.groups, cliStats.groups);
  });

  it('names the unauthenticated edge', async () => {
    const a = await t.call<{ unauthenticated: Array<{ source: string; destination: string; protocol: string; calls: number }> }>('find_unauthenticated', { filter: '!dns' });
    assert.deepEqual(a.unauthenticated, [{ source: 'shop/checkout', destination: 'shop/inventory', protocol: 'http2', calls: 240 }]);
  });

  it('gives the service map, the workloads and the timeline as the CLI computes them', async () => {
    const map = await t.call<{ edges: Array<{ source: string; destination: string; calls: number }>; diagram: string }>('get_service_map', { filter: '!dns', format: 'mermaid' });
    const cliMap = JSON.parse(podcap(['map', '!dns', '--json', '-w', ws.dir]).stdout) as { edges: unknown[] };
    assert.deepEqual(map.edges, cliMap.edges);
    assert.match(map.diagram, /^flowchart/m);
    const w = await t.call<{ nodes: Array<{ id: string; kind: string; callsIn: number }>; pods: Array<{ name: string; callsOut: number }> }>('list_workloads', {});
    assert.equal(w.nodes.find((n) => n.id === 'shop/payment-svc')?.callsIn, 78);
    assert.equal(w.pods.find((p) => p.name.startsWith('frontend-'))?.callsOut, 220);
    const tl = await t.call<{ firstFailure: { time: string }; buckets: Array<{ calls: number }> }>('get_timeline', { filter: 'failed && !dns', bucket: '10s' });
    assert.equal(tl.firstFailure.time.slice(0, 22), expected.summary.firstFailure.time.slice(0, 22));
    assert.ok(tl.buckets.every((b) => b.calls > 0));
  });

  it('lists L4 flows with their protocols and summarises one with the calls it carried', async () => {
    const flows = await t.call<{ flows: Array<{ flow: string; l7: string; server: string; state: string; bytes: { fromClient: number } }> }>('list_l4_flows', { transport: 'tcp', port: 50051 });
    assert.equal(flows.flows.length, 1);
    assert.equal(flows.flows[0].l7, 'http2');
    assert.equal(flows.flows[0].server, '10.96.87.15:50051');
    const dns = await t.call<{ flows: Array<{ l7: string }> }>('list_l4_flows', { transport: 'udp', limit: 500 });
    assert.ok(dns.flows.length > 0 && dns.flows.every((f) => f.l7 === 'dns'));
    const one = await t.call<{ kubernetes: { clientWorkload: string }; calls: Array<{ url: string }>; moreCalls: boolean }>('get_l4_flow_summary', { id: flows.flows[0].flow });
    assert.equal(one.kubernetes.clientWorkload, 'checkout');
    assert.equal(one.calls.length, 20);
    assert.ok(one.calls.every((c) => c.url === '/payments.v1.Payments/Charge'));
    assert.equal(one.moreCalls, true);
    // Paging the flows: every TCP connection once.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.call<{ flows: Array<{ flow: string }>; nextCursor: string | null }>('list_l4_flows', { transport: 'tcp', limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.flows.map((f) => f.flow));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(seen.length, (await t.call<{ flows: unknown[] }>('list_l4_flows', { transport: 'tcp', limit: 500 })).flows.length);
  });

  it('bounds lists: limits, cursor paging over every call, the maximum enforced', async () => {
    const all = JSON.parse(podcap(['calls', '--json', '--limit', '10000', '-w', ws.dir]).stdout) as TransactionRecord[];
    const seen: string[] = [];
    let cursor: string | undefined;
    let cut = 0;
    for (let i = 0; i < 20; i++) {
      const page = await t.call<CallList & { cutForSize?: { shown: number } }>('list_api_calls', { limit: 200, ...(cursor ? { cursor } : {}) });
      assert.ok(page.calls.length <= 200);
      // 200 summaries do not fit a context: the page is cut, and its cursor goes on after the last one shown.
      if (page.cutForSize) cut++;
      seen.push(...page.calls.map((c) => c.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, all.map((c) => c.id));
    assert.ok(cut > 0, 'some page was cut for size');
    assert.equal((await t.call<CallList>('list_api_calls', {})).calls.length, 50, 'default limit');
    await t.error('list_api_calls', { limit: 201 });
  });

  it('cuts bodies with their size stated and reads the rest by range', async () => {
    const post = (await t.call<CallList>('list_api_calls', { filter: 'method == "POST" && path == "/api/checkout"', limit: 1 })).calls[0];
    const full = await t.call<TransactionRecord>('get_api_call', { id: post.id });
    const body = full.request.body!;
    assert.ok(body.size > 40 && !body.truncated);
    const parts: string[] = [];
    for (let off = 0; off < body.size; off += 16) {
      const part = await t.call<TransactionRecord>('get_api_call', { id: post.id, body_side: 'request', body_offset: off, body_length: 16 });
      const b = part.request.body as NonNullable<TransactionRecord['request']['body']> & { offset: number };
      assert.equal(b.size, body.size);
      assert.equal(b.offset, off);
      assert.equal(b.truncated, true);
      parts.push(b.data);
    }
    assert.equal(parts.join(''), body.data);
    assert.deepEqual(Object.keys(JSON.parse(body.data) as object).includes('items'), true);
  });

  it('exports the failing calls\' packets under the output root, and refuses paths outside it', async () => {
    const r = await t.call<{ path: string; packets: number; connections: number }>('export_pcap', { file: 'payment.pcap', filter: 'grpc && grpc_status == 14' });
    assert.equal(r.path, join(outRoot, 'payment.pcap'));
    assert.equal(r.connections, 1);
    let n = 0;
    await readCaptureFile(r.path, 0, () => { n++; });
    assert.equal(n, r.packets);
    for (const file of ['../escaped.pcap', join(outside, 'x.pcap'), 'elsewhere/x.pcap', '/etc/x.pcap']) {
      const msg = await t.error('export_pcap', { file, filter: 'grpc' });
      assert.match(msg, /outside the output root|through a link/);
    }
    assert.ok(!existsSync(join(outside, 'x.pcap')) && !existsSync(join(root, '..', 'escaped.pcap')));
  });

  it('imports only from under its roots; the new snapshot stays invisible until complete; and deletes it', async () => {
    for (const p of ['/etc/passwd', '../', join(outside, 'capture.pcap'), 'escape/capture.pcap', 'escape']) {
      const msg = await t.error('import_snapshot', { paths: [p] });
      assert.match(msg, /outside|refused/, msg);
    }
    const before = (await t.call<{ snapshots: Array<{ id: string }> }>('list_snapshots')).snapshots;
    const importing = t.call<{ imported: { id: string; calls: number; kubernetes: unknown } }>('import_snapshot', { paths: ['incident'], name: 'copy' });
    // Queries while the import runs see the committed snapshot only, and answer in full.
    const during = await Promise.all([0, 1, 2].map(() => t.call<{ snapshots: Array<{ id: string; calls: number }> }>('list_snapshots')));
    for (const d of during) for (const s of d.snapshots) assert.equal(s.calls, 622);
    const { imported } = await importing;
    assert.equal(imported.calls, 622);
    assert.ok(imported.kubernetes !== null, 'the manifest beside the captures was used');
    const after = (await t.call<{ snapshots: Array<{ id: string }> }>('list_snapshots')).snapshots;
    assert.equal(after.length, before.length + 1);
    const failedInCopy = await t.call<CallList>('list_api_calls', { snapshot: 'copy', filter: 'failed && !dns', limit: 200 });
    assert.equal(failedInCopy.calls.length, 52);
    await t.call('delete_snapshot', { snapshot: imported.id });
    assert.deepEqual((await t.call<{ snapshots: Array<{ id: string }> }>('list_snapshots')).snapshots.map((s) => s.id), before.map((s) => s.id));
  });

  it('answers several calls at once', async () => {
    const filters = ['failed', 'grpc', 'http2', 'dns && failed', 'method == "GET"'];
    const parallel = await Promise.all(filters.map((filter) => t.call<CallList>('list_api_calls', { filter, limit: 200 })));
    for (const [i, filter] of filters.entries()) {
      const one = await t.call<CallList>('list_api_calls', { filter, limit: 200 });
      assert.deepEqual(parallel[i].calls.map((c) => c.id), one.calls.map((c) => c.id));
    }
  });

  it('follows a connection with its credentials redacted, and pages the text', async () => {
    const post = (await t.call<CallList>('list_api_calls', { filter: 'method == "POST" && http', limit: 1 })).calls[0];
    const f = await t.call<{ text: string; totalChars: number; nextOffset: number | null }>('follow_stream', { id: post.id, max_chars: 2000 });
    assert.match(f.text, /POST \/api\/checkout HTTP\/1\.1/);
    assert.match(f.text, /authorization: Bearer eyJ[\w-]+\.eyJ[\w-]+\.\[signature redacted\]/i);
    assert.equal(f.nextOffset, 2000);
    const grpc = (await t.call<CallList>('list_api_calls', { filter: 'grpc', limit: 1 })).calls[0];
    await t.call('follow_stream', { id: grpc.id, max_chars: 50000 });
    await t.call('follow_stream', { id: grpc.id, mode: 'hex', max_chars: 50000 });
  });

  it('refuses reveal unless the server allows it; with --allow-reveal shows the credential asked for', async () => {
    const post = (await t.call<CallList>('list_api_calls', { filter: 'method == "POST" && http', limit: 1 })).calls[0];
    assert.match(await t.error('get_api_call', { id: post.id, reveal: true }), /--allow-reveal/);
    assert.match(await t.error('follow_stream', { id: post.id, reveal: true }), /--allow-reveal/);
    const revealing = await stdioClient(['--workspace', ws.dir, '--allow-reveal']);
    try {
      const shown = new Transcript(() => revealing);
      const rec = await shown.call<TransactionRecord>('get_api_call', { id: post.id, reveal: true });
      const auth = rec.request.headers.find(([n]) => n.toLowerCase() === 'authorization')![1];
      assert.ok(secrets.has(auth.replace(/^Bearer /, '')), 'the whole token is shown');
      const hidden = await shown.call<TransactionRecord>('get_api_call', { id: post.id });
      assert.match(hidden.request.headers.find(([n]) => n.toLowerCase() === 'authorization')![1], /\[signature redacted\]$/);
    } finally {
      await revealing.close();
    }
  });

  it('serves each snapshot\'s summary as a resource, and the prompts', async () => {
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri), [`podcap://snapshots/${snapshot}`]);
    const read = await client.readResource({ uri: resources[0].uri });
    const summary = JSON.parse((read.contents[0] as { text: string }).text) as { calls: number; mostFailingEndpoints: Array<{ endpoint: string }> };
    assert.equal(summary.calls, 622);
    assert.equal(summary.mostFailingEndpoints[0].endpoint, 'shop/checkout POST /api/checkout');
    const { prompts } = await client.listPrompts();
    assert.deepEqual(prompts.map((p) => p.name).sort(), ['analyze_traffic', 'compare_traffic', 'debug_connection', 'find_errors', 'latency_analysis', 'security_audit', 'show_topology', 'trace_request']);
    const p = await client.getPrompt({ name: 'trace_request', arguments: { id: 'abc-1' } });
    const text = (p.messages[0].content as { text: string }).text;
    assert.match(text, /trace_request with id "abc-1"/);
    for (const name of prompts.map((x) => x.name)) {
      const body = (await client.getPrompt({ name, arguments: name === 'trace_request' ? { id: 'x-1' } : {} })).messages[0].content as { text: string };
      // Every tool a prompt names exists.
      for (const m of body.text.matchAll(/\b([a-z]+(?:_[a-z0-9]+)+)\b/g)) if (/^(list|get|find|trace|follow|export|compare|filter|import|delete)_/.test(m[1])) assert.ok(ALL_TOOLS.includes(m[1]), `${name} names ${m[1]}`);
    }
  });

  it('the mission: what failed in the last hour and why, with tools alone', async () => {
    // "What API calls failed in the last hour, and why?"
    const failing = await t.call<{ totals: { failures: number }; groups: StatsGroup[] }>('get_api_stats', { filter: 'failed && !dns', last: '1h', sort: 'failures' });
    assert.equal(failing.totals.failures, 52);
    const why = await t.call<CallList>('list_api_calls', { filter: 'failed && !dns', last: '1h', limit: 200 });
    const reasons = new Set(why.calls.map((c) => c.evidence?.replace(/\{.*$/, '').trim()));
    assert.ok([...reasons].some((r) => /UNAVAILABLE \(14\): payment provider unreachable/.test(r ?? '')), [...reasons].join(' | '));
    assert.ok([...reasons].some((r) => /502/.test(r ?? '')));
    // "Which exact request got the payment UNAVAILABLE?": the front-door 502, traced to its origin, read in full.
    const front = why.calls.find((c) => c.status === 502)!;
    const trace = await t.call<{ origin: string; outline: string[] }>('trace_request', { id: front.id });
    const origin = await t.call<TransactionRecord>('get_api_call', { id: trace.origin });
    assert.equal(origin.grpc?.statusName, 'UNAVAILABLE');
    assert.equal(origin.grpc?.message, 'payment provider unreachable');
    const charge = origin.grpc?.decoded?.find((m) => m.from === 'client');
    assert.equal(charge?.decoding, 'proto');
    assert.ok(JSON.stringify(charge?.json).includes('idempotency'), JSON.stringify(charge?.json));
    // "Which services talk without authentication?"
    const unauth = await t.call<{ unauthenticated: Array<{ source: string; destination: string }> }>('find_unauthenticated', { filter: '!dns' });
    assert.deepEqual(unauth.unauthenticated.map((e) => `${e.source} → ${e.destination}`), ['shop/checkout → shop/inventory']);
    // "Compare latency and failures between the normal phase and the outage."
    const [normal, outage] = expected.phases;
    const diff = await t.call<{ endpoints: Array<{ label: string; a: { failureRate: number | null }; b: { failureRate: number | null } }> }>('compare', {
      a: { from: normal.start, to: normal.end }, b: { from: outage.start, to: outage.end }, filter: '!dns',
    });
    const charges = diff.endpoints.find((e) => e.label.includes('Charge'))!;
    assert.equal(charges.a.failureRate, 0);
    assert.equal(charges.b.failureRate, 1);
    // "What happened in the 5 minutes before the first failure?"
    const tl = await t.call<{ firstFailure: { time: string } }>('get_timeline', { filter: 'failed && !dns' });
    const beforeFirst = await t.call<{ totals: { calls: number; failures: number } }>('get_timeline', { filter: '!dns', from: new Date(Date.parse(tl.firstFailure.time) - 5 * 60_000).toISOString(), to: new Date(Date.parse(tl.firstFailure.time) - 1).toISOString() });
    assert.equal(beforeFirst.totals.failures, 0);
    assert.ok(beforeFirst.totals.calls > 150);
    // "Which endpoints are slowest?"
    const slow = await t.call<{ groups: StatsGroup[] }>('get_api_stats', { filter: '!dns', sort: 'p99', limit: 3 });
    assert.equal(slow.groups[0].label, 'shop/checkout POST /api/checkout');
    assert.ok(slow.groups[0].latencyMs.p99! >= slow.groups[1].latencyMs.p99!);
    // "Show me the body of a failing request."
    const rec = await t.call<TransactionRecord>('get_api_call', { id: front.id });
    assert.match(rec.response?.body?.data ?? '', /payment_unavailable/);
    assert.ok(JSON.parse(rec.request.body?.data ?? '{}'));
  });

  it('filter_help explains the language and checks a filter', async () => {
    const h = await t.call<{ variables: Array<{ name: string }>; examples: unknown[] }>('filter_help');
    assert.ok(h.variables.some((v) => v.name === 'grpc_status') && h.examples.length > 5);
    const bad = await t.call<{ valid: boolean; error: string }>('filter_help', { check: 'status_cod >= 500' });
    assert.equal(bad.valid, false);
    assert.match(bad.error, /status_code/);
  });

  it('no tool answer in this file carried a credential', () => {
    assert.ok(t.texts.length > 60, `${t.texts.length} answers checked`);
    for (const { tool, text } of t.texts) {
      for (const s of secrets) assert.ok(!text.includes(s), `${tool} leaked a credential`);
    }
  });
});
