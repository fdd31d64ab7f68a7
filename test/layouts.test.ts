/**
 * The file layouts a cluster export brings (scripts/make-layout-fixtures.ts, real
 * traffic): the same exchanges whatever the container (pcap, pcapng, gzip named or
 * not, tar, tar.gz, a directory), the link layer (Linux cooked v2), a capture that
 * starts mid-connection, two nodes that saw the same connections, and a VXLAN overlay.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransactionRecord } from '../src/dissect/record.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

interface Exchange {
  requestId: string;
  method: string;
  path: string;
  status: number;
}

const layouts = JSON.parse(readFileSync(join(fixturesDir, 'layouts', 'expected.json'), 'utf8')) as {
  exchanges: Exchange[];
  files: Record<string, { exchanges: string[] }>;
};
const nodes = JSON.parse(readFileSync(join(fixturesDir, 'nodes', 'expected.json'), 'utf8')) as {
  exchanges: { direct: Exchange[]; vxlan: Exchange[] };
};

function importAndList(paths: string[]): { meta: SnapshotMeta; calls: TransactionRecord[] } {
  const ws = tempWorkspace();
  try {
    const imp = podcap(['import', ...paths, '--json', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    const calls = JSON.parse(podcap(['calls', '--json', '--limit', '1000', '-w', ws.dir]).stdout) as TransactionRecord[];
    return { meta: JSON.parse(imp.stdout) as SnapshotMeta, calls };
  } finally {
    ws.cleanup();
  }
}

const requestId = (r: TransactionRecord): string | undefined => r.request.headers.find(([n]) => n.toLowerCase() === 'x-request-id')?.[1];

function assertExchanges(calls: TransactionRecord[], want: Exchange[]): void {
  assert.deepEqual(calls.map(requestId), want.map((e) => e.requestId));
  for (const [i, e] of want.entries()) {
    assert.equal(calls[i].request.method, e.method, e.requestId);
    assert.equal(calls[i].request.path, e.path, e.requestId);
    assert.equal(calls[i].status, e.status, e.requestId);
    assert.ok(calls[i].response, `${e.requestId} has its response`);
  }
}

describe('file layouts give the same transactions', () => {
  const byId = new Map(layouts.exchanges.map((e) => [e.requestId, e]));
  const cases: Array<[string, string[], string]> = [
    ['classic pcap', ['exchange.pcap'], 'exchange.pcap'],
    ['pcapng', ['exchange.pcapng'], 'exchange.pcapng'],
    ['gzip', ['exchange.pcap.gz'], 'exchange.pcap.gz'],
    ['gzip detected by content, not name', ['exchange-gz-named.pcap'], 'exchange-gz-named.pcap'],
    ['Linux cooked v2 (dumpcap -i any)', ['exchange-sll2.pcapng'], 'exchange-sll2.pcapng'],
    ['capture starting mid-connection', ['exchange-midstream.pcap'], 'exchange-midstream.pcap'],
    ['tar of two node files merged by time', ['snapshot.tar'], 'snapshot.tar'],
    ['tar.gz', ['snapshot.tar.gz'], 'snapshot.tar.gz'],
    ['directory of node files', ['snapshot'], 'snapshot/'],
  ];
  for (const [what, files, key] of cases) {
    it(what, () => {
      const wanted = layouts.files[key]?.exchanges;
      assert.ok(wanted, `expected.json lists ${key}`);
      const { meta, calls } = importAndList(files.map((f) => join(fixturesDir, 'layouts', f)));
      assertExchanges(calls, wanted.map((id) => byId.get(id)!));
      if (key === 'exchange-midstream.pcap') {
        assert.ok(calls.some((c) => c.notes.includes('capture started mid-connection')), 'the cut connection is marked');
      }
      if (key.startsWith('snapshot')) {
        assert.equal(meta.files.length, 2);
        assert.deepEqual(meta.skipped.map((s) => s.name.split(/[:/]/).pop()), ['README.txt'], 'the README is passed over, listed');
      }
    });
  }
  it('the mid-stream capture lacks only what came before the cut', () => {
    assert.ok(layouts.files['exchange-midstream.pcap'].exchanges.length < layouts.exchanges.length);
  });
});

describe('two nodes and an overlay', () => {
  it('the same connections captured on the client and the server node give one transaction each', () => {
    const { meta, calls } = importAndList([join(fixturesDir, 'nodes', 'node-client.pcap'), join(fixturesDir, 'nodes', 'node-server.pcapng')]);
    assertExchanges(calls, nodes.exchanges.direct);
    const t = meta.report.tcp;
    assert.equal(t.connections, 2);
    assert.equal(t.connectionsInSeveralFiles, 2, 'the report says both connections were seen by two nodes');
    assert.ok(t.duplicateSegments > 0);
    assert.equal(t.retransmittedSegments, 0, 'copies from the other node are not retransmissions');
    for (const c of calls) assert.ok(c.elapsedTime !== null && c.elapsedTime > 0);
  });

  it('each node file alone gives the same transactions', () => {
    for (const f of ['node-client.pcap', 'node-server.pcapng']) assertExchanges(importAndList([join(fixturesDir, 'nodes', f)]).calls, nodes.exchanges.direct);
  });

  it('HTTP inside a VXLAN overlay is found on the underlay capture, named by the inner addresses', () => {
    const { meta, calls } = importAndList([join(fixturesDir, 'nodes', 'vxlan-underlay.pcap')]);
    assertExchanges(calls, nodes.exchanges.vxlan);
    assert.ok((meta.report.decapsulated.VXLAN ?? 0) > 0);
    for (const c of calls) assert.match(c.src.ip, /^10\.42\./);
  });
});

describe('podcap inspect', () => {
  it('accounts per file and in total, and lists every stream with --streams', () => {
    const r = podcap(['inspect', join(fixturesDir, 'nodes', 'node-client.pcap'), join(fixturesDir, 'nodes', 'node-server.pcapng'), '--json', '--streams']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      files: Array<{ packets: number; linkTypes: Array<{ linkType: number; packets: number }> }>;
      report: { packets: number; tcpSegments: number; tcp: { connections: number; reassembledBytes: number; duplicateBytes: number } };
      streams: Array<{ transport: string; files: number[]; packets: [number, number]; reassembledBytes: [number, number]; found: string }>;
    };
    assert.equal(out.files.length, 2);
    assert.equal(out.report.packets, out.files[0].packets + out.files[1].packets);
    assert.deepEqual(out.files[0].linkTypes, [{ linkType: 1, packets: out.files[0].packets }]);
    assert.equal(out.streams.length, out.report.tcp.connections);
    for (const s of out.streams) {
      assert.equal(s.transport, 'tcp');
      assert.deepEqual(s.files, [0, 1]);
      assert.equal(s.found, 'http');
    }
    const reassembled = out.streams.reduce((n, s) => n + s.reassembledBytes[0] + s.reassembledBytes[1], 0);
    assert.equal(reassembled, out.report.tcp.reassembledBytes);
    assert.equal(out.report.tcp.duplicateBytes, reassembled, 'every byte was seen twice, once per node');
  });

  it('exits 2 on a text file named on the command line, and passes over one inside a directory', () => {
    const bad = podcap(['inspect', join(fixturesDir, 'damaged', 'notes.pcap')]);
    assert.equal(bad.code, 2);
    const dir = podcap(['inspect', join(fixturesDir, 'layouts', 'snapshot'), '--json']);
    assert.equal(dir.code, 0, dir.stderr);
    assert.equal((JSON.parse(dir.stdout) as { skipped: unknown[] }).skipped.length, 1);
  });
});
