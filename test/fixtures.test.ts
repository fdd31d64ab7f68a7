/**
 * End to end on the project's own fixtures: real Node HTTP traffic on loopback,
 * captured by tcpdump and dumpcap (scripts/make-fixtures.ts), imported with the
 * podcap command, checked against what the fixture script recorded it did.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TransactionRecord } from '../src/dissect/record.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

interface Exchange {
  method: string;
  path: string;
  query: string;
  status: number;
  connection: number;
  requestBodySize: number;
  responseBodySize: number;
  failed: boolean;
  chunked: boolean;
  contentEncoding: string | null;
  serverClosed: boolean;
  requestId: string;
  clientPort: number;
  serverPort: number;
}

const expected: Exchange[] = JSON.parse(readFileSync(join(fixturesDir, 'http1', 'expected.json'), 'utf8'));
const requestId = (r: TransactionRecord): string | undefined =>
  r.request.headers.find(([n]) => n.toLowerCase() === 'x-request-id')?.[1];

for (const file of ['sample.pcap', 'sample-ns.pcap', 'sample.pcapng']) {
  describe(`fixture http1/${file}`, () => {
    const ws = tempWorkspace();
    let calls: TransactionRecord[] = [];
    before(() => {
      const imp = podcap(['import', join(fixturesDir, 'http1', file), '--workspace', ws.dir]);
      assert.equal(imp.code, 0, imp.stderr);
      const out = podcap(['calls', '--json', '--limit', '1000', '--workspace', ws.dir]);
      assert.equal(out.code, 0, out.stderr);
      calls = JSON.parse(out.stdout);
    });
    after(() => ws.cleanup());

    it('has one transaction per request the script made, in order, each with its response', () => {
      assert.equal(calls.length, expected.length);
      assert.deepEqual(calls.map(requestId), expected.map((e) => e.requestId));
      for (const [i, e] of expected.entries()) {
        const c = calls[i];
        assert.equal(c.protocol, 'http');
        assert.equal(c.request.method, e.method, e.requestId);
        assert.equal(c.request.path, e.path, e.requestId);
        assert.equal(c.request.query, e.query, e.requestId);
        assert.ok(c.response, `${e.requestId} has a response`);
        assert.equal(c.status, e.status, e.requestId);
        assert.equal(c.failed, e.failed, e.requestId);
        assert.equal(c.request.bodySize, e.requestBodySize, `${e.requestId} request body size`);
        assert.equal(c.response.bodySize, e.responseBodySize, `${e.requestId} response body size`);
        assert.equal(c.response.contentEncoding, e.contentEncoding, e.requestId);
        assert.equal(c.src.port, e.clientPort, `${e.requestId} requester is the client`);
        assert.equal(c.dst.port, e.serverPort, e.requestId);
        assert.ok(c.elapsedTime !== null && c.elapsedTime > 0 && c.elapsedTime < 5000, `${e.requestId} elapsed ${c.elapsedTime}`);
        assert.deepEqual(c.notes, [], `${e.requestId} has no notes`);
      }
    });

    it('keeps requests of one connection on one stream, and different connections apart', () => {
      const streamOf = new Map<number, number>();
      for (const [i, e] of expected.entries()) {
        const s = calls[i].stream.id;
        if (streamOf.has(e.connection)) assert.equal(s, streamOf.get(e.connection), e.requestId);
        else {
          assert.ok(![...streamOf.values()].includes(s), `${e.requestId} on a stream of its own`);
          streamOf.set(e.connection, s);
        }
      }
    });

    it('answers `http && status_code >= 500` with exactly the failing requests', () => {
      const out = podcap(['calls', 'http && status_code >= 500', '--json', '--workspace', ws.dir]);
      assert.equal(out.code, 0, out.stderr);
      const failing: TransactionRecord[] = JSON.parse(out.stdout);
      assert.deepEqual(failing.map(requestId), expected.filter((e) => e.status >= 500).map((e) => e.requestId));
      assert.ok(failing.length >= 2);
    });

    it('decodes chunked and gzip bodies and shows them in full', () => {
      for (const e of expected.filter((x) => x.chunked || x.contentEncoding === 'gzip')) {
        const c = calls[expected.indexOf(e)];
        const out = podcap(['show', c.id, '--json', '--workspace', ws.dir]);
        assert.equal(out.code, 0, out.stderr);
        const full: TransactionRecord = JSON.parse(out.stdout);
        assert.ok(full.response?.body, `${e.requestId} has a body`);
        assert.equal(full.response.body.encoding, 'utf8');
        assert.equal(Buffer.byteLength(full.response.body.data), e.responseBodySize);
        // JSON, or newline-delimited JSON for the streamed response: every line parses.
        const lines = full.response.body.data.split('\n').filter((l) => l.trim() !== '');
        assert.ok(lines.length >= 1);
        for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `${e.requestId} body is the JSON the server sent`);
      }
    });

    it('times each call from request start to response end', () => {
      for (const c of calls) {
        assert.ok(c.responseTimestamp !== null && c.responseTimestamp >= c.timestamp);
        assert.ok(Math.abs((c.responseTimestamp - c.timestamp) / 1000 - c.elapsedTime!) < 1e-6);
      }
      const chunked = calls[expected.findIndex((e) => e.chunked)];
      // The server writes four chunks 40 ms apart: the response cannot end sooner.
      assert.ok(chunked.elapsedTime! >= 100, `chunked response took ${chunked.elapsedTime} ms`);
    });
  });
}

describe('the three captures of one run', () => {
  it('give the same transactions whatever the file format and timestamp resolution', () => {
    const results = ['sample.pcap', 'sample-ns.pcap', 'sample.pcapng'].map((f) => {
      const ws = tempWorkspace();
      try {
        assert.equal(podcap(['import', join(fixturesDir, 'http1', f), '-w', ws.dir]).code, 0);
        return JSON.parse(podcap(['calls', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
      } finally {
        ws.cleanup();
      }
    });
    const [us, ns, ng] = results;
    assert.equal(us.length, ns.length);
    assert.equal(us.length, ng.length);
    for (let i = 0; i < us.length; i++) {
      // tcpdump and dumpcap stamp the same packet within microseconds of each other.
      assert.ok(Math.abs(us[i].timestamp - ns[i].timestamp) < 50, 'pcap µs vs ns');
      assert.ok(Math.abs(us[i].timestamp - ng[i].timestamp) < 50, 'pcap vs pcapng');
      assert.equal(us[i].request.url, ng[i].request.url);
    }
    // Nanosecond files keep sub-microsecond digits.
    assert.ok(ng.some((c) => c.timestamp % 1 !== 0), 'pcapng timestamps carry nanoseconds');
  });
});

describe('bad input', () => {
  const dirSnapshot = (dir: string): string[] =>
    readdirSync(dir).map((f) => `${f}:${statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 'dir'}`);

  it('rejects an empty file and a text file with a one-line error, exit 2, and leaves the workspace as it was', () => {
    const ws = tempWorkspace();
    try {
      assert.equal(podcap(['import', join(fixturesDir, 'http1', 'sample.pcap'), '-w', ws.dir]).code, 0);
      const before = podcap(['snapshots', '--json', '-w', ws.dir]).stdout;
      const calls = podcap(['calls', '--json', '-w', ws.dir]).stdout;
      for (const [f, msg] of [['empty.pcap', /empty file/], ['notes.pcap', /not a pcap or pcapng file.*looks like text/]] as const) {
        const r = podcap(['import', join(fixturesDir, 'damaged', f), '-w', ws.dir]);
        assert.equal(r.code, 2, `${f}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.equal(r.stdout, '');
      }
      // A good file together with a bad one: nothing of the good one is kept either.
      const mixed = podcap(['import', join(fixturesDir, 'http1', 'sample.pcapng'), join(fixturesDir, 'damaged', 'notes.pcap'), '-w', ws.dir]);
      assert.equal(mixed.code, 2);
      assert.equal(podcap(['snapshots', '--json', '-w', ws.dir]).stdout, before);
      assert.equal(podcap(['calls', '--json', '-w', ws.dir]).stdout, calls);
      assert.ok(dirSnapshot(ws.dir).length > 0);
    } finally {
      ws.cleanup();
    }
  });

  it('imports a capture cut in the middle of a packet, says so, and exits 3', () => {
    const cut = JSON.parse(readFileSync(join(fixturesDir, 'damaged', 'cut.json'), 'utf8')) as { completeRecords: number; truncatedBytes: number };
    const ws = tempWorkspace();
    try {
      const r = podcap(['import', join(fixturesDir, 'damaged', 'cut.pcap'), '--json', '-w', ws.dir]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /cut short|damaged/);
      const meta = JSON.parse(r.stdout);
      assert.equal(meta.report.packets, cut.completeRecords);
      assert.equal(meta.files[0].truncatedBytes, cut.truncatedBytes);
      const calls: TransactionRecord[] = JSON.parse(podcap(['calls', '--json', '-w', ws.dir]).stdout);
      assert.ok(calls.length > 0 && calls.length < expected.length, `a partial import: ${calls.length} calls`);
    } finally {
      ws.cleanup();
    }
  });

  it('reports a missing file as bad input', () => {
    const ws = tempWorkspace();
    try {
      const r = podcap(['import', '/nonexistent/x.pcap', '-w', ws.dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /ENOENT|cannot read/);
    } finally {
      ws.cleanup();
    }
  });
});
