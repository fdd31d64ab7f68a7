/**
 * trace: one request followed through the services it touched, checked against the sample
 * incident's ground truth (fixtures/sample/expected.json: every call checkout made for a POST
 * /api/checkout names that request as its parent), and the propagation formats on their own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HeaderList, TransactionRecord } from '../src/dissect/record.js';
import { headerValue } from '../src/dissect/record.js';
import { importSnapshot } from '../src/store/import.js';
import { Workspace } from '../src/store/workspace.js';
import { listCalls } from '../src/query/calls.js';
import { propagationKeys, traceCall, type TraceNode } from '../src/query/trace.js';
import { sampleDir, sampleSkip } from './support/workspace.js';
import { podcap, tempWorkspace } from './support/cli.js';


interface ExpectedCall {
  seq: number; requestId: string; protocol: string; method: string; path: string; failed: boolean;
  parentRequestSeq: number | null; timestampUs: number; responseTimestampUs: number;
  grpcStatus?: number;
}
interface ExpectedLookup { pod: string; timestampUs: number; candidates: string[]; queries: number }

describe('trace on the sample incident', { skip: sampleSkip }, () => {
  let tmp: { dir: string; cleanup: () => void };
  let ws: Workspace;
  let calls: ExpectedCall[];
  let lookups: ExpectedLookup[];
  let checkouts: TransactionRecord[];

  before(async () => {
    tmp = tempWorkspace();
    ws = await Workspace.open(tmp.dir);
    await importSnapshot(ws, [sampleDir], { name: 'sample' });
    const e = JSON.parse(readFileSync(join(sampleDir, 'expected.json'), 'utf8')) as { calls: ExpectedCall[]; dnsLookups: ExpectedLookup[] };
    calls = e.calls;
    lookups = e.dnsLookups;
    checkouts = listCalls(ws, { filter: 'request.method == "POST" && request.path == "/api/checkout"', limit: 1000 }).calls;
  });
  after(async () => {
    await ws.close();
    tmp.cleanup();
  });

  const rid = (h: HeaderList): string => headerValue(h, 'x-request-id') ?? '';

  it('every checkout\'s tree holds exactly the calls checkout made for it, tied by x-request-id', () => {
    const parents = calls.filter((c) => c.path === '/api/checkout' && c.method === 'POST');
    assert.ok(parents.length > 20, `${parents.length} checkouts in the ground truth`);
    assert.equal(checkouts.length, parents.length);
    for (const r of checkouts) {
      const truth = parents.find((c) => c.requestId === rid(r.request.headers));
      assert.ok(truth, `record ${r.id} has a request id of the ground truth`);
      const t = traceCall(ws, r.id)!;
      assert.equal(t.root.id, r.id);
      const hops = t.root.children.filter((n) => n.protocol !== 'dns');
      const want = calls.filter((c) => c.parentRequestSeq === truth.seq).map((c) => `${c.protocol} ${c.path}`).sort();
      const got = hops.map((n) => {
        const child = ws.getRecord(r.id.split('-')[0], Number(n.id.split('-')[1]))!;
        assert.equal(rid(child.request.headers), truth.requestId, `${n.label} carries the parent's request id`);
        return `${child.protocol} ${child.request.path}`;
      }).sort();
      assert.deepEqual(got, want, `children of ${truth.requestId}`);
      assert.ok(hops.every((n) => n.link === 'x-request-id' && n.children.length === 0));
      // Time order among siblings.
      const times = t.root.children.map((n) => n.timestamp);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      assert.equal(t.calls, 1 + t.root.children.length);
    }
  });

  it('a failed checkout\'s failure began at payment\'s Charge (UNAVAILABLE); a good one has no origin', () => {
    let failed = 0;
    for (const r of checkouts) {
      const t = traceCall(ws, r.id)!;
      const charge = t.root.children.find((n) => n.protocol === 'grpc');
      if (r.failed) {
        failed++;
        assert.ok(charge, `${r.id}: the Charge call is in the tree`);
        assert.equal(t.origin, charge.id);
        assert.equal(charge.origin, true);
        assert.equal(t.root.origin, false);
        assert.match(charge.evidence ?? '', /UNAVAILABLE \(14\): payment provider unreachable/);
      } else {
        assert.equal(t.origin, null);
        const marked: TraceNode[] = [];
        const walk = (n: TraceNode): void => { if (n.origin) marked.push(n); n.children.forEach(walk); };
        walk(t.root);
        assert.deepEqual(marked, []);
      }
    }
    assert.equal(failed, calls.filter((c) => c.path === '/api/checkout' && c.failed).length);
  });

  it('checkout\'s DNS lookups while serving a call join it by time, inside the call, never a foreign pod\'s', () => {
    let timed = 0;
    for (const r of checkouts) {
      const t = traceCall(ws, r.id)!;
      const end = r.responseTimestamp ?? r.timestamp;
      for (const n of t.root.children.filter((c) => c.protocol === 'dns')) {
        timed++;
        assert.equal(n.link, 'time');
        assert.match(n.label, /^checkout → kube-dns: DNS /);
        assert.ok(n.timestamp >= r.timestamp && n.timestamp <= end, `${n.label} inside the call`);
      }
    }
    // The ground truth's lookups made by checkout inside a checkout call, query by query.
    const checkoutsTruth = calls.filter((c) => c.path === '/api/checkout' && c.method === 'POST');
    const inside = lookups.filter((l) => l.pod.startsWith('checkout-')
      && checkoutsTruth.some((c) => l.timestampUs >= c.timestampUs && l.timestampUs <= c.responseTimestampUs));
    assert.ok(inside.length > 0, 'the fixture has lookups inside checkout calls');
    assert.equal(timed, inside.reduce((n, l) => n + l.queries, 0));
  });

  it('podcap trace prints the tree and marks the hop; --json is the same tree; unknown ids exit 4', () => {
    const bad = checkouts.find((r) => r.failed)!;
    const text = podcap(['trace', bad.id, '--workspace', tmp.dir]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^frontend → checkout: POST \/api\/checkout {2}502 ✗/);
    const marked = lines.filter((l) => l.includes('← failure began here'));
    assert.equal(marked.length, 1);
    assert.match(marked[0], /checkout → payment-svc: payments\.v1\.Payments\/Charge {2}14 ✗/);
    const json = podcap(['trace', bad.id, '--json', '--workspace', tmp.dir]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(traceCall(ws, bad.id))));
    const missing = podcap(['trace', `${bad.id.split('-')[0]}-999999`, '--workspace', tmp.dir]);
    assert.equal(missing.code, 4, missing.stderr);
    assert.equal(podcap(['trace', '--workspace', tmp.dir]).code, 1);
  });
});

describe('propagation identifiers', () => {
  const rec = (headers: HeaderList): TransactionRecord => ({ request: { headers } }) as unknown as TransactionRecord;

  it('W3C traceparent: the trace id, whatever the case; a malformed one is ignored', () => {
    assert.deepEqual(propagationKeys(rec([['traceparent', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01']])),
      { traceparent: '4bf92f3577b34da6a3ce929d0e0e4736' });
    assert.deepEqual(propagationKeys(rec([['traceparent', '00-xyz-00f067aa0ba902b7-01']])), {});
  });

  it('B3 multi-header and single-header forms give the same trace id', () => {
    const multi = propagationKeys(rec([['X-B3-TraceId', '80f198ee56343ba864fe8b2a57d3eff7'], ['X-B3-SpanId', 'e457b5a2e4d86bd1']]));
    const single = propagationKeys(rec([['b3', '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1']]));
    assert.deepEqual(multi, { b3: '80f198ee56343ba864fe8b2a57d3eff7' });
    assert.deepEqual(single, multi);
  });

  it('grpc-trace-bin (OpenCensus binary): field 0 is the trace id', () => {
    const traceId = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex');
    const spanId = Buffer.from('00f067aa0ba902b7', 'hex');
    const bin = Buffer.concat([Buffer.from([0, 0]), traceId, Buffer.from([1]), spanId, Buffer.from([2, 1])]);
    assert.deepEqual(propagationKeys(rec([['grpc-trace-bin', bin.toString('base64')]])), { 'grpc-trace-bin': traceId.toString('hex') });
    // Too short, or a field other than the trace id first: nothing.
    assert.deepEqual(propagationKeys(rec([['grpc-trace-bin', Buffer.from([0, 1, 2]).toString('base64')]])), {});
  });

  it('x-request-id as it is; no header, no identifier', () => {
    assert.deepEqual(propagationKeys(rec([['X-Request-Id', 'req-0001-6b86b273']])), { 'x-request-id': 'req-0001-6b86b273' });
    assert.deepEqual(propagationKeys(rec([['accept', '*/*']])), {});
  });
});
