/**
 * Real TCP pathologies (scripts/make-lossy-fixtures.ts): a lossy, reordering,
 * duplicating network between client and server, and a capture that missed
 * segments the receiver got. Every request is still one transaction with the
 * right status; what the capture lacked is noted, nothing else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransactionRecord } from '../src/dissect/record.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

interface Req {
  requestId: string;
  method: string;
  path: string;
  query: string;
  status: number;
  requestBodySize: number;
  responseBodySize: number;
  clientPort: number;
}

const expected = JSON.parse(readFileSync(join(fixturesDir, 'lossy', 'expected.json'), 'utf8')) as {
  files: Record<string, { requests: Req[] }>;
};

function load(file: string): { meta: SnapshotMeta; calls: TransactionRecord[] } {
  const ws = tempWorkspace();
  try {
    const imp = podcap(['import', join(fixturesDir, 'lossy', file), '--json', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    return { meta: JSON.parse(imp.stdout) as SnapshotMeta, calls: JSON.parse(podcap(['calls', '--json', '--limit', '1000', '-w', ws.dir]).stdout) as TransactionRecord[] };
  } finally {
    ws.cleanup();
  }
}

function assertSameRequests(calls: TransactionRecord[], want: Req[]): void {
  assert.equal(calls.length, want.length);
  for (const [i, e] of want.entries()) {
    const c = calls[i];
    assert.equal(c.request.method, e.method, e.requestId);
    assert.equal(c.request.path, e.path, e.requestId);
    assert.equal(c.request.query, e.query, e.requestId);
    assert.equal(c.status, e.status, e.requestId);
    assert.equal(c.src.port, e.clientPort, e.requestId);
  }
}

describe('a lossy network (loss, reordering, duplication)', () => {
  it('every request is one complete transaction: retransmissions fill what was lost', () => {
    const { meta, calls } = load('netem.pcap');
    const want = expected.files['netem.pcap'].requests;
    assertSameRequests(calls, want);
    for (const [i, e] of want.entries()) {
      assert.equal(calls[i].request.bodySize, e.requestBodySize, `${e.requestId} request body`);
      assert.equal(calls[i].response?.bodySize, e.responseBodySize, `${e.requestId} response body`);
      assert.deepEqual(calls[i].notes, [], `${e.requestId}: nothing missing`);
    }
    const t = meta.report.tcp;
    assert.ok(t.retransmittedSegments > 0, 'retransmissions counted');
    assert.ok(t.outOfOrderSegments > 0, 'out-of-order segments held and delivered');
    assert.equal(t.gaps, 0, 'the client got everything, so the capture lacks nothing');
  });
});

describe('a capture that missed segments', () => {
  it('notes the missing body bytes and header bytes, and finds every request after them', () => {
    const { meta, calls } = load('capture-gap.pcap');
    const want = expected.files['capture-gap.pcap'].requests;
    assertSameRequests(calls, want);
    assert.equal(meta.report.tcp.gaps, 3);
    const byId = new Map(want.map((e, i) => [e.requestId, calls[i]]));
    assert.ok(byId.get('lg-0002')!.notes.includes('response body: 2896 bytes not captured'));
    assert.equal(byId.get('lg-0002')!.response?.bodySize, 65536 - 2896, 'the body as captured');
    assert.ok(byId.get('lg-0005')!.notes.some((n) => /gap of 1448 bytes in the request headers/.test(n)));
    for (const e of want.filter((x) => x.requestId !== 'lg-0002' && x.requestId !== 'lg-0005')) {
      assert.deepEqual(byId.get(e.requestId)!.notes, [], `${e.requestId} untouched by the gaps`);
      assert.equal(byId.get(e.requestId)!.response?.bodySize, e.responseBodySize);
    }
  });
});
