/**
 * The stored record layout (store/record-codec.ts) gives back exactly the record it was given:
 * every field, nulls, key order (what `--json` prints), header blocks kept raw split as the
 * HTTP/1 parser would have split them; on every record of every fixture and corpus capture,
 * and on hand-made records reaching each corner of the layout. Records stored before the
 * layout (msgpack maps) are still read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { listCaptureSources } from '../src/capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures } from '../src/dissect/pipeline.js';
import { expandHeaders } from '../src/dissect/header-block.js';
import { endpoint, type DissectedTransaction } from '../src/dissect/record.js';
import { Enricher } from '../src/k8s/enrich.js';
import { IdentityResolver } from '../src/k8s/identity.js';
import { snapshotManifest } from '../src/store/manifests.js';
import { INLINE_BODY_MAX, decodeRecord, encodeRecord, encodeRecordWithBodies, inlineBody, isLayoutRecord, recordTimestamp, type StoredRecord } from '../src/store/record-codec.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { Workspace } from '../src/store/workspace.js';
import { corpusDir, corpusSkip, fixturesDir } from './support/paths.js';

/** Records of the captures under `dir` as import hands them to the store: raw header blocks, named. */
async function importRecords(dir: string): Promise<StoredRecord[]> {
  const listing = await listCaptureSources([dir]);
  const manifest = await snapshotManifest([], listing.skipped);
  const enricher = new Enricher(manifest ? new IdentityResolver(manifest.model) : null);
  const out: StoredRecord[] = [];
  const sink = (t: DissectedTransaction): void => {
    enricher.apply(t.record);
    out.push(t.record);
  };
  await analyzeCaptures(listing.sources, sink, DEFAULT_ANALYSIS_OPTIONS);
  return out;
}

function assertRoundTrip(r: StoredRecord, where: string): void {
  const bytes = encodeRecord(r);
  assert.ok(isLayoutRecord(bytes), where);
  // Where the store reads it (the time runs) without decoding the record.
  assert.equal(recordTimestamp(bytes), r.timestamp, where);
  const back = decodeRecord(bytes);
  const expected = expandHeaders(structuredClone(r));
  assert.deepEqual(back, expected, where);
  // Key order too: it is the order `--json` prints.
  assert.equal(JSON.stringify(back), JSON.stringify(expected), where);
}

function captureDirs(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) out.push(p);
  }
  return out;
}

describe('record layout: every fixture and corpus record comes back as it went in', () => {
  for (const dir of captureDirs(fixturesDir)) {
    it(`fixtures/${dir.slice(fixturesDir.length + 1)}`, async () => {
      const records = await importRecords(dir);
      for (const [i, r] of records.entries()) assertRoundTrip(r, `${dir} record ${i + 1}`);
    });
  }

  it('the public corpus', { skip: corpusSkip }, async () => {
    let n = 0;
    for (const dir of captureDirs(corpusDir)) {
      const records = await importRecords(dir);
      for (const [i, r] of records.entries()) assertRoundTrip(r, `${dir} record ${i + 1}`);
      n += records.length;
    }
    assert.ok(n > 100, `only ${n} records in the corpus`);
  });
});

function baseRecord(): StoredRecord {
  return {
    protocol: 'http', timestamp: 1_700_000_000_123_456, elapsedTime: null, responseTimestamp: null,
    src: endpoint('10.0.0.1', 40000), dst: endpoint('fd00::1', 8080), stream: { id: 7, transport: 'tcp' },
    request: {
      method: 'POST', url: '/a?b=c', path: '/a', query: 'b=c', version: 'HTTP/1.1', headers: [['Host', 'x']],
      headersSize: 40, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
    },
    response: null, status: 0, failed: true, notes: [],
  };
}

describe('record layout: corners', () => {
  it('a call without a response, nulls where there is nothing', () => {
    assertRoundTrip(baseRecord(), 'base');
  });

  it('strings: empty, 127 and 128 ASCII characters, UTF-8, Latin-1 from the wire', () => {
    const r = baseRecord();
    r.request.url = 'a'.repeat(127);
    r.request.path = 'b'.repeat(128);
    r.request.query = '';
    r.notes = ['ünïcödé ✓ 🚀', '\u00ff\u0080 latin-1 bytes', ''];
    r.request.rawHeaders = 'Host: h\r\nX-Bin: caf\u00e9\u00ff\r\nX-Empty:\r\nX-Spaces: \t v \t\r\n';
    r.request.headers = [];
    assertRoundTrip(r, 'strings');
    assert.deepEqual(decodeRecord(encodeRecord(r)).request.headers, [['Host', 'h'], ['X-Bin', 'caf\u00e9\u00ff'], ['X-Empty', ''], ['X-Spaces', 'v']]);
  });

  it('a named pod and service with labels and a workload, a response with trailers and bodies, evidence', () => {
    const r = baseRecord();
    r.src = {
      ip: '10.1.2.3', port: 5555, name: 'checkout-7d9f', namespace: 'shop', kind: 'pod', workload: { kind: 'Deployment', name: 'checkout' },
      labels: { app: 'checkout', 'pod-template-hash': '7d9f' }, node: 'node-a', service: { name: 'checkout', namespace: 'shop' }, dns: 'checkout.shop.svc.cluster.local',
    };
    r.dst = { ...endpoint('10.96.0.10', 80), name: 'payment', namespace: 'shop', kind: 'service', service: { name: 'payment', namespace: 'shop' } };
    r.elapsedTime = 0;
    r.responseTimestamp = 1_700_000_000_123_456;
    r.response = {
      status: 500, statusText: 'Internal Server Error', version: 'HTTP/1.1', headers: [['content-type', 'text/plain']],
      trailers: [['grpc-status', '13']], headersSize: 60, bodySize: 12, wireBodySize: 12, contentEncoding: 'gzip',
      body: { encoding: 'utf8', data: 'boom', size: 4, truncated: false, mimeType: 'text/plain' },
    };
    r.request.body = { encoding: 'base64', data: 'AAE=', size: 2, truncated: true, mimeType: null };
    r.status = 500;
    // In the order the pipeline sets them: the dissector's details, then the evidence.
    r.http2 = { streamId: 3, resetCode: null, resetBy: null, pushed: false };
    r.evidence = '500 Internal Server Error: boom';
    assertRoundTrip(r, 'named');
    const noEvidence = baseRecord();
    noEvidence.evidence = null;
    assertRoundTrip(noEvidence, 'evidence null');
  });

  it('gRPC and DNS details, a UDP stream, negative and fractional numbers', () => {
    const r = baseRecord();
    r.protocol = 'grpc';
    r.status = -1;
    r.elapsedTime = 1.234;
    r.stream = { id: 0, transport: 'udp' };
    r.grpc = {
      service: 'shop.Payment', method: 'Charge', encoding: null, grpcStatus: null, statusName: 'UNDECODED', message: null,
      requestMessages: 1, responseMessages: 0, messages: [{ from: 'client', ts: 1, compressed: false, size: 5, offset: 0 }],
    };
    assertRoundTrip(r, 'grpc');
  });

  it('bodies up to INLINE_BODY_MAX ride in the record, larger ones are left to the caller', () => {
    const r = baseRecord();
    const small = Buffer.from('{"ok":true}');
    const big = Buffer.alloc(INLINE_BODY_MAX + 1, 0x61);
    const both = encodeRecordWithBodies(r, small, Buffer.alloc(INLINE_BODY_MAX, 0x62));
    assert.deepEqual(both.inlined, { request: true, response: true });
    assert.deepEqual(inlineBody(both.bytes, 'request'), small);
    assert.deepEqual(inlineBody(both.bytes, 'response'), Buffer.alloc(INLINE_BODY_MAX, 0x62));
    assert.deepEqual(decodeRecord(both.bytes), r);
    const one = encodeRecordWithBodies(r, big, small);
    assert.deepEqual(one.inlined, { request: false, response: true });
    assert.equal(inlineBody(one.bytes, 'request'), null);
    assert.deepEqual(inlineBody(one.bytes, 'response'), small);
    const none = encodeRecordWithBodies(r, Buffer.alloc(0), null);
    assert.deepEqual(none.inlined, { request: false, response: false });
    assert.equal(inlineBody(none.bytes, 'response'), null);
  });

  it('the workspace hands back bodies wherever they were kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podcap-codec-'));
    const ws = await Workspace.open(dir);
    try {
      const small = Buffer.from('small body');
      const big = Buffer.alloc(INLINE_BODY_MAX * 3, 0x63);
      const meta = { id: 'bodies01', name: null, createdAt: new Date().toISOString(), state: 'importing', pid: process.pid, protoDirs: [], sources: [], files: [], skipped: [], inputNotes: [], transactions: 2, firstTs: null, lastTs: null, podcapVersion: 'test', kubernetes: null, resolution: null } as unknown as SnapshotMeta;
      await ws.begin(meta);
      ws.write('bodies01', 1, baseRecord(), small, big);
      ws.write('bodies01', 2, baseRecord(), null, null);
      await ws.commit(meta);
      assert.deepEqual(ws.getBody('bodies01', 1, 'request'), small);
      assert.deepEqual(ws.getBody('bodies01', 1, 'response'), big);
      assert.equal(ws.getBody('bodies01', 2, 'response'), null);
      assert.deepEqual(ws.getRecord('bodies01', 2)?.request.method, 'POST');
    } finally {
      await ws.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a record stored as a msgpack map, before the layout, is still read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podcap-codec-'));
    const ws = await Workspace.open(dir);
    try {
      const r = baseRecord();
      const legacy = new Packr({ useRecords: false }).pack(r);
      assert.ok(!isLayoutRecord(legacy));
      await ws.tx.put(['legacy', 1], Buffer.from(legacy));
      await ws.tx.put(['legacy', 2], encodeRecord(r));
      // Through the private reader getRecord uses (a key that is no snapshot's cannot go through getRecord).
      const internals = ws as unknown as { storedRecord(k: string, s: number, b: Buffer | undefined): unknown };
      const read = (seq: number): unknown => internals.storedRecord('legacy', seq, ws.tx.get(['legacy', seq]));
      assert.deepEqual(read(1), r);
      assert.deepEqual(read(2), r);
    } finally {
      await ws.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});



/**
 * Two records as the codec of FORMAT 1 wrote them (every extra one msgpack map), from
 * fixtures/grpc/grpc.pcap (a gRPC call with trailers) and fixtures/h2/h2c-upgrade.pcap.
 */
const FORMAT_1 = [{"file": "fixtures/grpc/grpc.pcap", "hex": "wQECEdxAeCAqhBlDi2zn+6lxIEBUwXggKoQZQwoxMjcuMC4wLjE8rgAAAAADAAAAAAAAAAAACjEyNy4wLjAuMYPDAAAAAAMAAAAAAAAAAAABAAAABVBPU1QcL3Nob3AudjEuQ2F0YWxvZy9HZXRQcm9kdWN0HC9zaG9wLnYxLkNhdGFsb2cvR2V0UHJvZHVjdAEHSFRUUC8yCQAAAAs6YXV0aG9yaXR5EDEyNy4wLjAuMTo1MDA1MQg6bWV0aG9kBVBPU1QGOnBhdGgcL3Nob3AudjEuQ2F0YWxvZy9HZXRQcm9kdWN0CDpzY2hlbWUFaHR0cBVncnBjLWFjY2VwdC1lbmNvZGluZxZpZGVudGl0eSxkZWZsYXRlLGd6aXAQYWNjZXB0LWVuY29kaW5nCWlkZW50aXR5C3VzZXItYWdlbnQocG9kY2FwLWZpeHR1cmVzLzEuMCBncnBjLW5vZGUtanMvMS4xNC43DWNvbnRlbnQtdHlwZRFhcHBsaWNhdGlvbi9ncnBjA3RlCXRyYWlsZXJzAAAAAAAwgEAAAAAAAIBBQAAAAAAAgEFAAAAAAAAAAGlAAQdIVFRQLzIFAAAACDpzdGF0dXMEMjAwDWNvbnRlbnQtdHlwZRdhcHBsaWNhdGlvbi9ncnBjK3Byb3RvFWdycGMtYWNjZXB0LWVuY29kaW5nFmlkZW50aXR5LGRlZmxhdGUsZ3ppcA5ncnBjLWVuY29kaW5nCWlkZW50aXR5BWRhdGUeVHVlLCAyNCBOb3YgMjAyNiAxOToxNToyMSBHTVQAAAAAALByQAAAAAAAIHBAAAAAAAAgcEAAAAAAAAAAAAAAAAAAVQEAAN4AA6VodHRwMt4ABKhzdHJlYW1JZAGpcmVzZXRDb2RlwKdyZXNldEJ5wKZwdXNoZWTCpGdycGPeAAmnc2VydmljZa9zaG9wLnYxLkNhdGFsb2embWV0aG9kqkdldFByb2R1Y3SoZW5jb2RpbmfAqmdycGNTdGF0dXMAqnN0YXR1c05hbWWiT0unbWVzc2FnZaJPS69yZXF1ZXN0TWVzc2FnZXMBsHJlc3BvbnNlTWVzc2FnZXMBqG1lc3NhZ2Vzkt4ABaRmcm9tpmNsaWVudKJ0c8tDGYQqIHhA3Kpjb21wcmVzc2VkwqRzaXplHqZvZmZzZXQA3gAFpGZyb22mc2VydmVyonRzy0MZhCogeJeoqmNvbXByZXNzZWTCpHNpemXM/aZvZmZzZXQAqHRyYWlsZXJzkpKrZ3JwYy1zdGF0dXOhMJKsZ3JwYy1tZXNzYWdlok9L"}, {"file": "fixtures/h2/h2c-upgrade.pcap", "hex": "wQEBEeyVNiQqhBlDrkfhehSuDkDY0TYkKoQZQwoxMjcuMC4wLjF85wAAAAADAAAAAAAAAAAACjEyNy4wLjAuMb9GAAAAAAMAAAAAAAAAAAABAAAABEdFVAwvaW5kZXguaHRtbAwvaW5kZXguaHRtbAEHSFRUUC8yBwAAAAVIb3N0EDEyNy4wLjAuMToxODExMQdBY2NlcHQEKi8qC0Nvbm5lY3Rpb24YVXBncmFkZSwgSFRUUDItU2V0dGluZ3MIVXBncmFkZQRoMmMPSFRUUDItU2V0dGluZ3MZQUFNQUFBQmtBQVFDQUFBQUFBSUFBQUFBDXgtcmVxdWVzdC1pZAh1cC0wMDAxC3VzZXItYWdlbnQbcG9kY2FwLWZpeHR1cmVzLzEuMCAoY3VybCkAAAAAAEB4QAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAaUABB0hUVFAvMgYAAAAIOnN0YXR1cwQyMDANY29udGVudC10eXBlGXRleHQvaHRtbDsgY2hhcnNldD11dGYtOA9jb250ZW50LWxlbmd0aAQxNTMFZGF0ZR5UdWUsIDI0IE5vdiAyMDI2IDE5OjE1OjM3IEdNVAdzZXJ2ZXIIbmdodHRweAR2aWEMMS4xIG5naHR0cHgAAAAAALBzQAAAAAAAIGNAAAAAAAAgY0AAAAAAAAAAaUABAAAAHXVwZ3JhZGVkIGZyb20gSFRUUC8xLjEgKGgyYykyAAAA3gABpWh0dHAy3gAEqHN0cmVhbUlkAalyZXNldENvZGXAp3Jlc2V0QnnApnB1c2hlZMI="}];

describe('HTTP/2 and gRPC parts laid out (FORMAT 2)', () => {
  it('a gRPC call and an HTTP/2 stream are laid out, not packed, and read back whole', async () => {
    for (const { file } of FORMAT_1) {
      const { sources } = await listCaptureSources([join(fixturesDir, '..', file)]);
      const txs: DissectedTransaction[] = [];
      await analyzeCaptures(sources, (t) => txs.push(t), DEFAULT_ANALYSIS_OPTIONS);
      const laid = txs.filter((t) => t.record.http2 || t.record.grpc);
      assert.ok(laid.length > 0, file);
      for (const t of laid) {
        const bytes = encodeRecord(t.record);
        // msgpack would carry the keys' names; the layout carries none.
        for (const key of ['streamId', 'resetCode', 'responseMessages', 'statusName']) assert.ok(!bytes.includes(key), `${file}: ${key} in the bytes`);
        assertRoundTrip(t.record, file);
      }
    }
  });

  it('records written in FORMAT 1 still read as the same records', async () => {
    for (const { file, hex } of FORMAT_1) {
      const old = Buffer.from(hex, 'base64');
      assert.equal(old[1], 1, 'written in FORMAT 1');
      const { sources } = await listCaptureSources([join(fixturesDir, '..', file)]);
      const txs: DissectedTransaction[] = [];
      await analyzeCaptures(sources, (t) => txs.push(t), DEFAULT_ANALYSIS_OPTIONS);
      const back = decodeRecord(old);
      const same = txs.find((t) => t.record.timestamp === back.timestamp && t.record.stream.id === back.stream.id && t.record.http2?.streamId === back.http2?.streamId);
      assert.ok(same, `${file}: the record is among the fixture's`);
      assert.ok(back.http2, file);
      if (file.includes('grpc')) assert.ok(back.grpc && back.response?.trailers, 'a gRPC call with trailers');
      assert.equal(JSON.stringify(back), JSON.stringify(decodeRecord(encodeRecord(same.record))), file);
    }
  });

  it('a part of another shape than the dissectors make is packed, and read back as it was', () => {
    const base: StoredRecord = {
      protocol: 'grpc', timestamp: 1, elapsedTime: 1, responseTimestamp: 2, src: endpoint('10.0.0.1', 1), dst: endpoint('10.0.0.2', 2),
      stream: { id: 1, transport: 'tcp' },
      request: { method: 'POST', url: '/a.B/C', path: '/a.B/C', query: '', version: 'HTTP/2', headers: [], headersSize: 0, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null },
      response: null, status: 0, failed: false, notes: [],
    };
    const odd = { ...base, http2: { pushed: false, streamId: 3, resetCode: null, resetBy: null } } as StoredRecord;
    const bytes = encodeRecord(odd);
    assert.ok(bytes.includes('streamId'), 'packed');
    assertRoundTrip(odd, 'keys in another order');
    const extra = { ...base, grpc: { service: 'a.B', method: 'C', encoding: null, grpcStatus: null, statusName: 'OK', message: null, requestMessages: 1, responseMessages: 0, messages: [{ from: 'client', ts: 1, compressed: false, size: 3, offset: 0, note: 'x' }] } } as unknown as StoredRecord;
    assertRoundTrip(extra, 'a message with a key of its own');
  });
});
