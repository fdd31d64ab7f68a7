/**
 * The HTTP/2 dissector on frames built by hand, driven through the protocol
 * router as the reassembler drives it: detection (prior knowledge, h2c upgrade,
 * mid-stream), framing (padding, priority, CONTINUATION, SETTINGS), streams
 * (trailers, resets, GOAWAY, push, interleaving), gaps and resynchronisation,
 * and malformed or hostile input. Header blocks are encoded with a tiny HPACK
 * encoder below: literals without Huffman coding (always valid HPACK), plus the
 * few indexed and size-update forms the history tests need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import { callDetail } from '../src/cli/format.js';
import { DEFAULT_HTTP2_OPTIONS, type Http2Options } from '../src/dissect/http2.js';
import type { DissectedTransaction, HeaderList, TransactionRecord } from '../src/dissect/record.js';
import { tcpStreamFactory, type TcpDissectStats } from '../src/dissect/tcp-router.js';
import type { TcpConnection } from '../src/net/tcp-reassembly.js';
import { CLIENT, SERVER, T0, fakeConn } from './support/connection.js';
import { mulberry32 as prng } from '../scripts/prng.js';

/** Microseconds since the epoch, as capture timestamps are. */

type Rec = Omit<TransactionRecord, 'id' | 'snapshot'>;

// ---------------------------------------------------------------------------
// HPACK (RFC 7541) encoding, the simple forms only

/** Section 5.1 integer with an N-bit prefix; `first` holds the representation's pattern bits. */
function hInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** Section 5.2 string literal, without Huffman coding. */
function hStr(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hInt(b.length, 7, 0)), b]);
}

/** 6.2.2 literal without indexing, new name: decodable with any history. */
const lit = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x00]), hStr(name), hStr(value)]);
/** 6.2.1 literal with incremental indexing, new name: inserted at index 62. */
const litIndexed = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), hStr(name), hStr(value)]);
/** 6.1 indexed field. */
const indexed = (index: number): Buffer => Buffer.from(hInt(index, 7, 0x80));
/** 6.3 dynamic table size update. */
const sizeUpdate = (n: number): Buffer => Buffer.from(hInt(n, 5, 0x20));
/** 6.2.2 literal without indexing, name by index (static or dynamic). */
const litNamed = (index: number, value: string): Buffer => Buffer.concat([Buffer.from(hInt(index, 4, 0x00)), hStr(value)]);

/** A literal-only header block. */
const block = (h: HeaderList): Buffer => Buffer.concat(h.map(([n, v]) => lit(n, v)));

const REQ = (path: string, method = 'GET', extra: HeaderList = []): HeaderList => [
  [':method', method], [':scheme', 'http'], [':authority', 'svc.ns:8080'], [':path', path], ...extra,
];
const RES = (status: number, extra: HeaderList = []): HeaderList => [[':status', String(status)], ...extra];
const GRPC_REQ = (path: string, extra: HeaderList = []): HeaderList =>
  REQ(path, 'POST', [['content-type', 'application/grpc'], ['te', 'trailers'], ...extra]);

/** RFC 9113 section 9.2.3: the size a header list counts for. */
const listSize = (h: HeaderList): number => h.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);

// ---------------------------------------------------------------------------
// HTTP/2 frames (RFC 9113 section 4.1)

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 };
const E = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8 };

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

interface HeadersOpts {
  end?: boolean;
  /** Padding octets (PADDED flag). */
  pad?: number;
  /** Add the PRIORITY fields (exclusive dependency on stream 0, weight 16). */
  priority?: boolean;
  /** Leave END_HEADERS off: CONTINUATION frames follow. */
  more?: boolean;
}

function headersFrame(stream: number, fragment: Buffer, o: HeadersOpts = {}): Buffer {
  let flags = (o.end ? F.END_STREAM : 0) | (o.more ? 0 : F.END_HEADERS);
  const parts: Buffer[] = [];
  if (o.pad !== undefined) {
    flags |= F.PADDED;
    parts.push(Buffer.from([o.pad]));
  }
  if (o.priority) {
    flags |= F.PRIORITY;
    parts.push(Buffer.from([0x80, 0, 0, 0, 15]));
  }
  parts.push(fragment);
  if (o.pad !== undefined) parts.push(Buffer.alloc(o.pad, 0));
  return frame(T.HEADERS, flags, stream, Buffer.concat(parts));
}

const headers = (stream: number, h: HeaderList, o: HeadersOpts = {}): Buffer => headersFrame(stream, block(h), o);

function data(stream: number, body: string | Buffer, o: { end?: boolean; pad?: number } = {}): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  if (o.pad === undefined) return frame(T.DATA, o.end ? F.END_STREAM : 0, stream, b);
  return frame(T.DATA, (o.end ? F.END_STREAM : 0) | F.PADDED, stream, Buffer.concat([Buffer.from([o.pad]), b, Buffer.alloc(o.pad, 0)]));
}

function settings(pairs: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(T.SETTINGS, 0, 0, p);
}
const settingsAck = (): Buffer => frame(T.SETTINGS, F.ACK, 0);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const rst = (stream: number, code: number): Buffer => frame(T.RST_STREAM, 0, stream, u32(code));
const goaway = (last: number, code: number, debug = ''): Buffer =>
  frame(T.GOAWAY, 0, 0, Buffer.concat([u32(last), u32(code), Buffer.from(debug, 'latin1')]));
const pushPromise = (stream: number, promised: number, h: HeaderList): Buffer =>
  frame(T.PUSH_PROMISE, F.END_HEADERS, stream, Buffer.concat([u32(promised), block(h)]));
const continuation = (stream: number, fragment: Buffer, last: boolean): Buffer => frame(T.CONTINUATION, last ? F.END_HEADERS : 0, stream, fragment);
const ping = (): Buffer => frame(T.PING, 0, 0, Buffer.alloc(8, 7));
const windowUpdate = (stream: number, n: number): Buffer => frame(T.WINDOW_UPDATE, 0, stream, u32(n));
const priority = (stream: number): Buffer => frame(T.PRIORITY, 0, stream, Buffer.from([0, 0, 0, 0, 200]));

/** A gRPC length-prefixed message. */
function grpcMessage(payload: Buffer, compressed = false): Buffer {
  const p = Buffer.alloc(5);
  p[0] = compressed ? 1 : 0;
  p.writeUInt32BE(payload.length, 1);
  return Buffer.concat([p, payload]);
}

// ---------------------------------------------------------------------------
// One connection through the router, as the reassembler drives it

interface SessionOpts {
  conn?: Partial<TcpConnection>;
  http2?: Partial<Http2Options>;
  maxStoredBytes?: number;
}

/** Every buffer handed over is scribbled on after the call: the dissector may keep no view of it. */
function session(opts: SessionOpts = {}) {
  const out: DissectedTransaction[] = [];
  const stats: TcpDissectStats = { connections: {}, unrecognisedBytes: 0 };
  const conn = fakeConn(opts.conn);
  const body = { maxStoredBytes: opts.maxStoredBytes ?? DEFAULT_HTTP2_OPTIONS.body.maxStoredBytes };
  const h = tcpStreamFactory((t) => out.push(t), { http1: { body }, http2: { ...DEFAULT_HTTP2_OPTIONS, body, ...opts.http2 } }, stats)(conn);
  const send = (dir: 0 | 1, parts: Buffer | Buffer[], ts: number): void => {
    const b = Buffer.concat(Array.isArray(parts) ? parts : [parts]);
    h.data(dir, b, ts);
    b.fill(0xee);
  };
  return {
    out,
    stats,
    conn,
    h,
    c2s: (b: Buffer | Buffer[], ts: number) => send(0, b, ts),
    s2c: (b: Buffer | Buffer[], ts: number) => send(1, b, ts),
    recs: (): Rec[] => out.map((t) => t.record),
    byStream: (id: number): DissectedTransaction[] => out.filter((t) => t.record.http2?.streamId === id),
    one: (id: number): Rec => {
      const f = out.filter((t) => t.record.http2?.streamId === id);
      assert.equal(f.length, 1, `one transaction on stream ${id}, got ${f.length}`);
      return f[0].record;
    },
  };
}

type Session = ReturnType<typeof session>;

/** Prior knowledge: preface and empty SETTINGS each way, acknowledged. */
function open(s: Session, ts = T0, clientSettings: Array<[number, number]> = [], serverSettings: Array<[number, number]> = []): void {
  s.c2s([PREFACE, settings(clientSettings)], ts);
  s.s2c([settings(serverSettings), settingsAck()], ts + 1);
  s.c2s(settingsAck(), ts + 2);
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('latin1'));


// ---------------------------------------------------------------------------
// Detection and the basic exchange

test('prior knowledge: a GET answered 200, every field of the record', () => {
  const s = session();
  open(s);
  const req = REQ('/api/items?limit=5&x=y', 'GET', [['user-agent', 'curl/8'], ['accept', '*/*']]);
  const res = RES(200, [['content-type', 'application/json'], ['content-length', '13']]);
  s.c2s(headers(1, req, { end: true }), T0 + 100);
  assert.equal(s.out.length, 0);
  s.s2c(headers(1, res), T0 + 2100);
  s.s2c(data(1, '{"items":[1]}', { end: true }), T0 + 2600);
  assert.equal(s.out.length, 1);
  const t = s.out[0];
  const r = t.record;
  assert.equal(r.protocol, 'http2');
  assert.equal(r.timestamp, T0 + 100);
  assert.equal(r.responseTimestamp, T0 + 2600);
  assert.equal(r.elapsedTime, 2.5);
  assert.deepEqual([r.src.ip, r.src.port, r.dst.ip, r.dst.port], [CLIENT.ip, CLIENT.port, SERVER.ip, SERVER.port]);
  assert.deepEqual(r.stream, { id: 7, transport: 'tcp' });
  assert.deepEqual(r.request, {
    method: 'GET', url: '/api/items?limit=5&x=y', path: '/api/items', query: 'limit=5&x=y', version: 'HTTP/2',
    headers: req, headersSize: listSize(req), bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
  });
  assert.deepEqual(r.response, {
    status: 200, statusText: '', version: 'HTTP/2', headers: res, headersSize: listSize(res),
    bodySize: 13, wireBodySize: 13, contentEncoding: null, body: null,
  });
  assert.equal(r.status, 200);
  assert.equal(r.failed, false);
  assert.deepEqual(r.notes, []);
  assert.deepEqual(r.http2, { streamId: 1, resetCode: null, resetBy: null, pushed: false });
  assert.equal(r.grpc, undefined);
  assert.equal(t.requestBody, null);
  assert.equal(text(t.responseBody), '{"items":[1]}');
  s.h.end('fin', T0 + 5000);
  assert.equal(s.out.length, 1, 'nothing more at the end');
  assert.deepEqual(s.stats.connections, { http2: 1 });
});

test('prior knowledge: a POST with a body, a 500, and a stream never answered', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/api/checkout', 'POST', [['content-type', 'application/json']])), T0 + 10);
  s.c2s(data(1, '{"cart":'), T0 + 20);
  s.c2s(data(1, '[1,2]}', { end: true }), T0 + 30);
  s.c2s(headers(3, REQ('/slow'), { end: true }), T0 + 40);
  s.s2c([headers(1, RES(500)), data(1, 'boom', { end: true })], T0 + 1030);
  const a = s.one(1);
  assert.equal(a.request.bodySize, 14);
  assert.equal(text(s.byStream(1)[0].requestBody), '{"cart":[1,2]}');
  assert.equal(a.status, 500);
  assert.equal(a.failed, true);
  assert.equal(a.elapsedTime, 1.02);
  s.h.end('fin', T0 + 9000);
  const b = s.one(3);
  assert.equal(b.response, null);
  assert.equal(b.elapsedTime, null);
  assert.equal(b.responseTimestamp, null);
  assert.equal(b.status, 0);
  assert.equal(b.failed, true);
  assert.deepEqual(b.notes, ['stream not finished when the connection ended']);
});

test('the preface split across segments is still found', () => {
  const s = session();
  for (let i = 0; i < PREFACE.length; i += 5) s.c2s(PREFACE.subarray(i, i + 5), T0);
  s.c2s(settings(), T0);
  s.c2s(headers(1, REQ('/a'), { end: true }), T0 + 1);
  s.s2c([settings(), headers(1, RES(204), { end: true })], T0 + 2);
  assert.deepEqual(s.recs().map((r) => [r.request.path, r.status, r.notes]), [['/a', 204, []]]);
  assert.deepEqual(s.stats.connections, { http2: 1 });
});

test('SETTINGS_HEADER_TABLE_SIZE from the server bounds the client encoder\'s table size updates', () => {
  const run = (announce: boolean) => {
    const s = session();
    open(s, T0, [], announce ? [[0x1, 8192]] : []);
    // The client grows its table to 8192 (allowed only by the server's SETTINGS) and inserts x-big.
    const big = 'v'.repeat(5000);
    s.c2s(headersFrame(1, Buffer.concat([sizeUpdate(8192), litIndexed('x-big', big), block(REQ('/one'))]), { end: true }), T0 + 10);
    // ... then refers to it: index 62.
    s.c2s(headersFrame(3, Buffer.concat([indexed(62), block(REQ('/two'))]), { end: true }), T0 + 20);
    s.s2c([headers(1, RES(200), { end: true }), headers(3, RES(200), { end: true })], T0 + 30);
    return { s, big };
  };
  const { s, big } = run(true);
  assert.deepEqual(s.recs().map((r) => r.notes), [[], []]);
  assert.deepEqual(s.one(1).request.headers[0], ['x-big', big]);
  assert.deepEqual(s.one(3).request.headers[0], ['x-big', big], 'the 5 KB entry stayed in the larger table');
  // Without the SETTINGS the size update is beyond what the client may use: the block is noted.
  const bad = run(false).s;
  assert.match(bad.one(1).notes.join('; '), /header block could not be fully decoded \(dynamic table size update to 8192 above the limit of 4096\)/);
});

test('SETTINGS_MAX_FRAME_SIZE: larger frames are accepted after it, skipped with a note without it', () => {
  const bigValue = 'x'.repeat(30000);
  const run = (announce: boolean) => {
    const s = session();
    // The client announces what it will receive: the server's frames may then be that large.
    open(s, T0, announce ? [[0x5, 65536]] : []);
    s.c2s(headers(1, REQ('/big'), { end: true }), T0 + 10);
    s.s2c(headers(1, RES(200, [['x-large', bigValue]])), T0 + 20);
    s.s2c(data(1, Buffer.alloc(40000, 0x61), { end: true }), T0 + 30);
    s.c2s(headers(3, REQ('/next'), { end: true }), T0 + 40);
    s.s2c(headers(3, RES(200), { end: true }), T0 + 50);
    return s;
  };
  const s = run(true);
  const r = s.one(1);
  assert.deepEqual(r.notes, []);
  assert.equal(r.response?.headers[1][1], bigValue);
  assert.equal(r.response?.bodySize, 40000);
  assert.deepEqual(s.one(3).notes, []);
  const t = run(false);
  const u = t.one(1);
  // The oversized HEADERS frame is skipped; the body and the next stream are still read.
  assert.ok(u.notes.some((n) => /^\d+-byte frame of type 1 larger than allowed: skipped$/.test(n)), u.notes.join('; '));
  assert.equal(u.response, null);
  assert.equal(t.one(3).status, 200);
});

// ---------------------------------------------------------------------------
// Framing

test('HEADERS with padding and priority, and with either alone', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/padded-priority'), { end: true, pad: 7, priority: true }), T0 + 1);
  s.c2s(headers(3, REQ('/padded'), { end: true, pad: 200 }), T0 + 2);
  s.c2s(headers(5, REQ('/priority'), { end: true, priority: true }), T0 + 3);
  s.c2s(headers(7, REQ('/pad-zero'), { end: true, pad: 0 }), T0 + 4);
  for (const id of [1, 3, 5, 7]) s.s2c(headers(id, RES(200, [['x-id', String(id)]]), { end: true, pad: 3, priority: id === 5 }), T0 + 10 + id);
  assert.deepEqual(s.recs().map((r) => [r.http2?.streamId, r.request.path, r.response?.headers, r.notes]), [
    [1, '/padded-priority', [[':status', '200'], ['x-id', '1']], []],
    [3, '/padded', [[':status', '200'], ['x-id', '3']], []],
    [5, '/priority', [[':status', '200'], ['x-id', '5']], []],
    [7, '/pad-zero', [[':status', '200'], ['x-id', '7']], []],
  ]);
  assert.deepEqual(s.one(3).request.headers, REQ('/padded'));
});

test('CONTINUATION: a header block across HEADERS and two CONTINUATION frames, END_STREAM on the HEADERS', () => {
  const s = session();
  open(s);
  const req = REQ('/continued', 'GET', [['x-long', 'L'.repeat(300)], ['x-after', 'yes']]);
  const b = block(req);
  s.c2s(headersFrame(1, b.subarray(0, 10), { end: true, more: true, pad: 4 }), T0 + 5);
  s.c2s(continuation(1, b.subarray(10, 200), false), T0 + 6);
  // PING and WINDOW_UPDATE may not come in between: they belong to other tests; the block ends here.
  s.c2s(continuation(1, b.subarray(200), true), T0 + 7);
  s.s2c(headersFrame(1, block(RES(200)).subarray(0, 3), { more: true }), T0 + 8);
  s.s2c(continuation(1, block(RES(200)).subarray(3), true), T0 + 9);
  s.s2c(data(1, 'ok', { end: true }), T0 + 10);
  const r = s.one(1);
  assert.deepEqual(r.request.headers, req);
  assert.equal(r.status, 200);
  assert.equal(r.timestamp, T0 + 5, 'timed from the HEADERS frame');
  assert.deepEqual(r.notes, []);
});

test('DATA with padding: the body excludes the padding, in any split', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/upload', 'PUT')), T0 + 1);
  s.c2s(data(1, 'hello ', { pad: 10 }), T0 + 2);
  s.c2s(data(1, '', { pad: 0 }), T0 + 3);
  const last = data(1, 'world', { pad: 255, end: true });
  s.c2s(last.subarray(0, 10), T0 + 4); // frame header and the pad length
  s.c2s(last.subarray(10, 200), T0 + 5); // the data and part of the padding
  s.c2s(last.subarray(200), T0 + 6);
  s.s2c([headers(1, RES(201)), data(1, 'created', { pad: 1, end: true })], T0 + 7);
  const t = s.byStream(1)[0];
  assert.equal(text(t.requestBody), 'hello world');
  assert.equal(t.record.request.bodySize, 11);
  assert.equal(text(t.responseBody), 'created');
  assert.equal(t.record.response?.bodySize, 7);
  assert.deepEqual(t.record.notes, []);
});

test('trailers: response trailers kept apart from the headers; request trailers noted', () => {
  const s = session();
  open(s);
  s.c2s([headers(1, REQ('/export', 'POST')), data(1, 'q'), headers(1, [['x-client-checksum', 'abc']], { end: true })], T0 + 1);
  s.s2c([headers(1, RES(200, [['trailer', 'x-row-count']])), data(1, 'a,b\n'), headers(1, [['x-row-count', '1']], { end: true })], T0 + 3);
  const r = s.one(1);
  assert.deepEqual(r.response?.headers, [[':status', '200'], ['trailer', 'x-row-count']]);
  assert.deepEqual(r.response?.trailers, [['x-row-count', '1']]);
  assert.deepEqual(r.request.headers, REQ('/export', 'POST'));
  assert.deepEqual(r.notes, ['request trailers sent']);
  assert.equal(r.failed, false);
});

test('RST_STREAM from the client after the response headers: failed, CANCEL by the client', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/feed'), { end: true }), T0 + 100);
  s.s2c([headers(1, RES(200)), data(1, 'line 1\n')], T0 + 200);
  s.c2s(rst(1, E.CANCEL), T0 + 700);
  const r = s.one(1);
  assert.equal(r.status, 200);
  assert.equal(r.failed, true);
  assert.deepEqual(r.http2, { streamId: 1, resetCode: 'CANCEL', resetBy: 'client', pushed: false });
  assert.deepEqual(r.notes, ['stream reset by the client: CANCEL']);
  assert.equal(r.responseTimestamp, T0 + 700);
  assert.equal(r.elapsedTime, 0.6);
  assert.equal(r.response?.bodySize, 7);
});

test('RST_STREAM from the server: REFUSED_STREAM with no response, and NO_ERROR after a full response', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/refuse'), { end: true }), T0 + 10);
  s.s2c(rst(1, E.REFUSED_STREAM), T0 + 20);
  const r = s.one(1);
  assert.equal(r.response, null);
  assert.equal(r.status, 0);
  assert.equal(r.failed, true);
  assert.equal(r.elapsedTime, null);
  assert.deepEqual(r.http2, { streamId: 1, resetCode: 'REFUSED_STREAM', resetBy: 'server', pushed: false });
  assert.deepEqual(r.notes, ['stream reset by the server: REFUSED_STREAM']);
  // The server answers in full before the request body is done, and declines the rest of it.
  s.c2s([headers(3, REQ('/upload', 'POST')), data(3, 'part one')], T0 + 30);
  s.s2c([headers(3, RES(413)), data(3, 'too big', { end: true })], T0 + 40);
  assert.equal(s.byStream(3).length, 0, 'the request is still open');
  s.s2c(rst(3, E.NO_ERROR), T0 + 41);
  const q = s.one(3);
  assert.equal(q.status, 413);
  assert.equal(q.failed, false, 'NO_ERROR after a response only declines the request body');
  assert.deepEqual(q.http2, { streamId: 3, resetCode: 'NO_ERROR', resetBy: 'server', pushed: false });
});

test('GOAWAY from the server refuses the streams above its last stream id, and only those', () => {
  const s = session();
  open(s);
  for (const id of [1, 3, 5, 7]) s.c2s(headers(id, REQ(`/s${id}`), { end: true }), T0 + id);
  s.s2c([headers(1, RES(200), { end: true }), goaway(3, E.NO_ERROR)], T0 + 100);
  // 5 and 7 are refused at once; 3 is still being processed.
  assert.deepEqual(s.recs().map((r) => r.http2?.streamId), [1, 5, 7]);
  for (const id of [5, 7]) {
    const r = s.one(id);
    assert.deepEqual(r.http2, { streamId: id, resetCode: 'GOAWAY NO_ERROR', resetBy: 'server', pushed: false });
    assert.equal(r.failed, true);
    assert.equal(r.response, null);
    assert.deepEqual(r.notes, ['stream reset by the server: GOAWAY NO_ERROR']);
  }
  s.s2c(headers(3, RES(200), { end: true }), T0 + 200);
  assert.equal(s.one(3).failed, false);
  assert.deepEqual(s.one(3).notes, []);
});

test('a stream the client opened as the server\'s GOAWAY crossed it, above its last stream id, is refused too', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, GRPC_REQ('/pkg.Svc/A')), T0 + 1);
  s.s2c(goaway(1, E.NO_ERROR), T0 + 2);
  // Sent before the client read the GOAWAY: the server ignores it, the client retries it elsewhere.
  s.c2s([headers(3, GRPC_REQ('/pkg.Svc/B')), data(3, grpcMessage(Buffer.from('b')), { end: true })], T0 + 3);
  const r = s.one(3);
  assert.deepEqual(r.http2, { streamId: 3, resetCode: 'GOAWAY NO_ERROR', resetBy: 'server', pushed: false });
  assert.deepEqual([r.status, r.failed, r.grpc?.statusName, r.response], [14, true, 'UNAVAILABLE', null]);
  assert.equal(r.timestamp, T0 + 3);
  // Stream 1 is below the last id: it goes on.
  s.c2s(data(1, grpcMessage(Buffer.from('a')), { end: true }), T0 + 4);
  s.s2c([headers(1, RES(200, [['content-type', 'application/grpc']])), headers(1, [['grpc-status', '0']], { end: true })], T0 + 5);
  assert.deepEqual([s.one(1).status, s.one(1).notes], [0, []]);
});

test('GOAWAY with an error code: its debug data is noted on the open streams, and a gRPC call refused by it is UNAVAILABLE', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, GRPC_REQ('/pkg.Svc/Call')), T0 + 1);
  s.c2s(headers(3, GRPC_REQ('/pkg.Svc/Other')), T0 + 2);
  s.s2c(goaway(1, E.PROTOCOL_ERROR, 'bad\x00 frame'), T0 + 3);
  const r = s.one(3);
  assert.equal(r.protocol, 'grpc');
  assert.equal(r.status, 14);
  assert.equal(r.grpc?.statusName, 'UNAVAILABLE');
  assert.ok(r.notes.includes('GOAWAY from the server: PROTOCOL_ERROR (bad frame)'), r.notes.join('; '));
  s.h.end('fin', T0 + 4);
  assert.ok(s.one(1).notes.includes('GOAWAY from the server: PROTOCOL_ERROR (bad frame)'));
});

test('a pushed stream is a transaction of its own, with the promised request', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/index.html'), { end: true }), T0 + 10);
  s.s2c(pushPromise(1, 2, REQ('/style.css')), T0 + 20);
  s.s2c([headers(1, RES(200)), data(1, '<html>', { end: true })], T0 + 30);
  s.s2c([headers(2, RES(200, [['content-type', 'text/css']])), data(2, 'p{}', { end: true })], T0 + 40);
  const page = s.one(1);
  assert.equal(page.http2?.pushed, false);
  assert.deepEqual(page.notes, []);
  const pushed = s.one(2);
  assert.deepEqual(pushed.http2, { streamId: 2, resetCode: null, resetBy: null, pushed: true });
  assert.equal(pushed.request.method, 'GET');
  assert.equal(pushed.request.path, '/style.css');
  assert.equal(pushed.status, 200);
  assert.equal(pushed.response?.bodySize, 3);
  assert.equal(pushed.timestamp, T0 + 20, 'from the PUSH_PROMISE');
  assert.equal(pushed.elapsedTime, 0.02);
  assert.deepEqual(pushed.notes, ['pushed by the server with stream 1']);
  assert.deepEqual([pushed.src.port, pushed.dst.port], [CLIENT.port, SERVER.port]);
});

test('interleaved concurrent streams keep their own bodies and times', () => {
  const s = session();
  open(s);
  const ids = [1, 3, 5, 7];
  for (const id of ids) s.c2s(headers(id, REQ(`/c/${id}`), { end: true }), T0 + id);
  for (const id of ids) s.s2c(headers(id, RES(200)), T0 + 100 + id);
  for (let round = 0; round < 4; round++) {
    for (const id of ids) s.s2c([data(id, `${id}:${round};`, { end: round === 3 }), windowUpdate(0, 100), ping()], T0 + 1000 * (round + 1) + id);
  }
  assert.deepEqual(s.out.map((t) => [t.record.http2?.streamId, text(t.responseBody)]), ids.map((id) => [id, `${id}:0;${id}:1;${id}:2;${id}:3;`]));
  for (const id of ids) {
    const r = s.one(id);
    assert.equal(r.timestamp, T0 + id);
    assert.equal(r.responseTimestamp, T0 + 4000 + id);
    assert.deepEqual(r.notes, []);
  }
});

test('PRIORITY frames on idle streams make no transaction', () => {
  const s = session();
  open(s);
  s.c2s([priority(3), priority(5), priority(7)], T0 + 1);
  s.c2s(headers(9, REQ('/x'), { end: true, priority: true }), T0 + 2);
  s.s2c(headers(9, RES(200), { end: true }), T0 + 3);
  s.h.end('fin', T0 + 4);
  assert.deepEqual(s.recs().map((r) => r.http2?.streamId), [9]);
});

// ---------------------------------------------------------------------------
// gRPC

test('a gRPC unary call: service, method, messages split across DATA frames, status from the trailers', () => {
  const s = session();
  open(s);
  const reqMsg = grpcMessage(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]));
  const resMsg = grpcMessage(Buffer.alloc(300, 0x08));
  s.c2s(headers(1, GRPC_REQ('/shop.v1.Catalog/GetProduct', [['grpc-timeout', '5S'], ['authorization', 'Bearer t']])), T0 + 10);
  s.c2s(data(1, reqMsg.subarray(0, 3)), T0 + 11); // inside the 5-byte prefix
  s.c2s(data(1, reqMsg.subarray(3), { end: true }), T0 + 12);
  s.s2c(headers(1, RES(200, [['content-type', 'application/grpc+proto']])), T0 + 500);
  s.s2c(data(1, resMsg.subarray(0, 100)), T0 + 600);
  s.s2c(data(1, resMsg.subarray(100)), T0 + 700);
  s.s2c(headers(1, [['grpc-status', '5'], ['grpc-message', 'product%20%22x%22%20not%20found%3A%20caf%C3%A9']], { end: true }), T0 + 800);
  const t = s.byStream(1)[0];
  const r = t.record;
  assert.equal(r.protocol, 'grpc');
  assert.equal(r.status, 5);
  assert.equal(r.failed, true);
  assert.deepEqual(r.notes, []);
  assert.equal(r.timestamp, T0 + 10);
  assert.equal(r.elapsedTime, 0.79);
  assert.deepEqual(r.grpc, {
    service: 'shop.v1.Catalog', method: 'GetProduct', encoding: null, grpcStatus: 5, statusName: 'NOT_FOUND',
    message: Buffer.from('product "x" not found: café', 'utf8').toString('utf8'),
    requestMessages: 1, responseMessages: 1,
    messages: [
      { from: 'client', ts: T0 + 12, compressed: false, size: 5, offset: 0 },
      { from: 'server', ts: T0 + 700, compressed: false, size: 300, offset: 0 },
    ],
  });
  assert.equal(r.request.bodySize, 10);
  assert.equal(r.response?.bodySize, 305);
  assert.ok(t.requestBody?.equals(reqMsg));
  assert.ok(t.responseBody?.equals(resMsg));
  assert.deepEqual(r.response?.trailers?.[0], ['grpc-status', '5']);
});

test('gRPC: a trailers-only response, a compressed stream of messages, and a call reset by the client at its deadline', () => {
  const s = session();
  open(s);
  s.c2s([headers(1, GRPC_REQ('/pkg.Svc/Get')), data(1, grpcMessage(Buffer.from('x')), { end: true })], T0 + 1);
  s.s2c(headers(1, RES(200, [['content-type', 'application/grpc'], ['grpc-status', '14'], ['grpc-message', 'down']]), { end: true }), T0 + 2);
  const a = s.one(1);
  assert.deepEqual([a.status, a.failed, a.grpc?.grpcStatus, a.grpc?.statusName, a.grpc?.message], [14, true, 14, 'UNAVAILABLE', 'down']);
  assert.equal(a.response?.trailers, undefined);
  // Two compressed messages in one DATA frame, then one plain.
  const z = gzipSync(Buffer.from('hello'));
  s.c2s([headers(3, GRPC_REQ('/pkg.Svc/Stream', [['grpc-encoding', 'gzip']])), data(3, Buffer.concat([grpcMessage(z, true), grpcMessage(z, true), grpcMessage(Buffer.from('p'))]), { end: true })], T0 + 3);
  s.s2c([headers(3, RES(200, [['content-type', 'application/grpc']])), headers(3, [['grpc-status', '0']], { end: true })], T0 + 4);
  const b = s.one(3);
  assert.equal(b.grpc?.encoding, 'gzip');
  assert.deepEqual(b.grpc?.messages.map((m) => [m.compressed, m.size, m.offset]), [[true, z.length, 0], [true, z.length, z.length + 5], [false, 1, 2 * (z.length + 5)]]);
  assert.deepEqual([b.status, b.failed, b.grpc?.requestMessages, b.grpc?.responseMessages], [0, false, 3, 0]);
  // A 300 ms deadline; the client gives up and resets the stream 301 ms after the request.
  s.c2s([headers(5, GRPC_REQ('/pkg.Svc/Slow', [['grpc-timeout', '300m']])), data(5, grpcMessage(Buffer.from('s')), { end: true })], T0 + 10_000);
  s.c2s(rst(5, E.CANCEL), T0 + 311_000);
  const c = s.one(5);
  assert.deepEqual([c.status, c.failed, c.grpc?.grpcStatus, c.grpc?.statusName], [4, true, null, 'DEADLINE_EXCEEDED']);
  assert.deepEqual(c.notes, ['stream reset by the client: CANCEL', "the client's deadline (grpc-timeout 300m) passed: it reset the stream"]);
  // A CANCEL well before the deadline is the client cancelling.
  s.c2s([headers(7, GRPC_REQ('/pkg.Svc/Slow', [['grpc-timeout', '300m']])), data(7, grpcMessage(Buffer.from('s')), { end: true })], T0 + 400_000);
  s.c2s(rst(7, E.CANCEL), T0 + 450_000);
  const d = s.one(7);
  assert.deepEqual([d.status, d.grpc?.statusName], [1, 'CANCELLED']);
  assert.deepEqual(d.notes, ['stream reset by the client: CANCEL', 'no grpc-status: reported as CANCELLED (1), as a client would']);
});

test('gRPC: a message prefix claiming 4 GB is counted as cut off, nothing is allocated for it, the connection goes on', () => {
  const s = session();
  open(s);
  const before = process.memoryUsage().arrayBuffers;
  const bogus = Buffer.concat([Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(100, 1)]);
  s.c2s([headers(1, GRPC_REQ('/pkg.Svc/Huge')), data(1, bogus, { end: true })], T0 + 1);
  s.s2c([headers(1, RES(200, [['content-type', 'application/grpc']])), headers(1, [['grpc-status', '8'], ['grpc-message', 'too large']], { end: true })], T0 + 2);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'no 4 GB buffer');
  const r = s.one(1);
  assert.equal(r.grpc?.requestMessages, 0);
  assert.deepEqual(r.grpc?.messages, []);
  assert.equal(r.request.bodySize, 105);
  assert.deepEqual([r.status, r.grpc?.statusName], [8, 'RESOURCE_EXHAUSTED']);
  assert.deepEqual(r.notes, ['request message cut off']);
  s.c2s([headers(3, GRPC_REQ('/pkg.Svc/Next')), data(3, grpcMessage(Buffer.from('ok')), { end: true })], T0 + 3);
  s.s2c([headers(3, RES(200, [['content-type', 'application/grpc']])), headers(3, [['grpc-status', '0']], { end: true })], T0 + 4);
  assert.deepEqual([s.one(3).grpc?.requestMessages, s.one(3).status, s.one(3).notes], [1, 0, []]);
});

// ---------------------------------------------------------------------------
// Delivery: byte by byte, gaps

/** A conversation exercising most of the framing: [direction, bytes, time]. */
function conversation(): Array<[0 | 1, Buffer, number]> {
  const long = REQ('/continued', 'GET', [['x-long', 'L'.repeat(200)]]);
  const lb = block(long);
  return [
    [0, Buffer.concat([PREFACE, settings([[0x1, 4096]])]), T0],
    [1, Buffer.concat([settings([[0x5, 32768]]), settingsAck()]), T0 + 1],
    [0, Buffer.concat([settingsAck(), headers(1, REQ('/a', 'POST'), { pad: 5, priority: true })]), T0 + 2],
    [0, Buffer.concat([headersFrame(3, lb.subarray(0, 50), { end: true, more: true }), continuation(3, lb.subarray(50, 120), false), continuation(3, lb.subarray(120), true)]), T0 + 3],
    [0, Buffer.concat([data(1, 'body-a', { pad: 3 }), data(1, '', { end: true })]), T0 + 4],
    [1, Buffer.concat([headers(3, RES(200)), headersFrame(1, Buffer.concat([litIndexed('x-served', 'one'), block(RES(201))]))]), T0 + 5],
    [1, Buffer.concat([data(3, 'three', { pad: 2 }), data(1, 'one'), ping(), data(3, '!', { end: true })]), T0 + 6],
    [1, Buffer.concat([headers(1, [['x-trailer', 't']], { end: true })]), T0 + 7],
    [0, Buffer.concat([headers(5, GRPC_REQ('/pkg.Svc/M')), data(5, grpcMessage(Buffer.from('abc')), { end: true })]), T0 + 8],
    [1, Buffer.concat([headersFrame(5, Buffer.concat([indexed(62), block(RES(200, [['content-type', 'application/grpc']]))])), data(5, grpcMessage(Buffer.alloc(40, 2)))]), T0 + 9],
    [1, Buffer.concat([headers(5, [['grpc-status', '0']], { end: true }), pushPromise(3, 2, REQ('/pushed'))]), T0 + 10],
    [1, Buffer.concat([headers(2, RES(200)), data(2, 'p', { end: true }), goaway(5, E.NO_ERROR)]), T0 + 11],
  ];
}

test('each byte fed one at a time gives the same transactions as whole segments', () => {
  const whole = session();
  for (const [dir, b, ts] of conversation()) (dir === 0 ? whole.c2s : whole.s2c)(b, ts);
  whole.h.end('fin', T0 + 20);
  const bytewise = session();
  for (const [dir, b, ts] of conversation()) for (let i = 0; i < b.length; i++) (dir === 0 ? bytewise.c2s : bytewise.s2c)(b.subarray(i, i + 1), ts);
  bytewise.h.end('fin', T0 + 20);
  // The conversation itself decodes as meant.
  assert.deepEqual(whole.recs().map((r) => [r.http2?.streamId, r.request.path, r.status, r.notes]), [
    [3, '/continued', 200, []],
    [1, '/a', 201, []],
    [5, '/pkg.Svc/M', 0, []],
    [2, '/pushed', 200, ['pushed by the server with stream 3']],
  ]);
  assert.deepEqual(whole.one(5).response?.headers[0], ['x-served', 'one'], 'the server\'s dynamic table entry');
  assert.equal(text(whole.byStream(1)[0].requestBody), 'body-a');
  assert.equal(text(whole.byStream(3)[0].responseBody), 'three!');
  const dump = (s: Session) => JSON.stringify(s.out.map((t) => [t.record, text(t.requestBody), text(t.responseBody)]));
  assert.equal(dump(bytewise), dump(whole));
  assert.deepEqual(bytewise.stats.connections, { http2: 1 });
});

test('a gap inside a DATA payload: the body notes the missing bytes, the framing and the next streams are intact', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/big'), { end: true }), T0 + 1);
  s.s2c(headers(1, RES(200)), T0 + 2);
  const body = Buffer.alloc(1000, 0x62);
  body.write('START', 0);
  body.write('END', 997);
  const f = data(1, body, { end: true });
  s.s2c(f.subarray(0, 9 + 300), T0 + 3);
  s.h.gap(1, 400, T0 + 4);
  s.s2c(f.subarray(9 + 700), T0 + 5);
  const t = s.byStream(1)[0];
  assert.ok(t, 'the stream ended with its DATA frame');
  assert.equal(t.record.response?.bodySize, 600);
  assert.deepEqual(t.record.notes, ['response body: 400 bytes not captured']);
  assert.equal(t.record.responseTimestamp, T0 + 5);
  assert.ok(text(t.responseBody)!.startsWith('START') && text(t.responseBody)!.endsWith('END'));
  s.c2s(headers(3, REQ('/next'), { end: true }), T0 + 6);
  s.s2c([headers(3, RES(200)), data(3, 'fine', { end: true })], T0 + 7);
  assert.deepEqual([s.one(3).status, s.one(3).notes, text(s.byStream(3)[0].responseBody)], [200, [], 'fine']);
});

test('a gap inside a gRPC DATA payload: the messages after it are not guessed', () => {
  const s = session();
  open(s);
  s.c2s([headers(1, GRPC_REQ('/pkg.Svc/Stream')), data(1, grpcMessage(Buffer.from('a')), { end: true })], T0 + 1);
  const msgs = Buffer.concat([grpcMessage(Buffer.alloc(50, 1)), grpcMessage(Buffer.alloc(50, 2)), grpcMessage(Buffer.alloc(50, 3))]);
  const f = data(1, msgs);
  s.s2c([headers(1, RES(200, [['content-type', 'application/grpc']])), f.subarray(0, 9 + 60)], T0 + 2);
  s.h.gap(1, 30, T0 + 3);
  s.s2c([f.subarray(9 + 90), headers(1, [['grpc-status', '0']], { end: true })], T0 + 4);
  const r = s.one(1);
  assert.equal(r.grpc?.responseMessages, 1, 'only the message before the gap');
  assert.deepEqual(r.notes, ['response body: 30 bytes not captured', 'response messages after a gap could not be delimited']);
  assert.equal(r.status, 0);
});

test('a gap inside a HEADERS frame: resynchronised on the next frames, the HPACK history marked lost, later literal blocks decode', () => {
  const s = session();
  open(s);
  // Stream 1 inserts x-a: 1 into the client's dynamic table (index 62).
  s.c2s(headersFrame(1, Buffer.concat([litIndexed('x-a', '1'), block(REQ('/one'))]), { end: true }), T0 + 1);
  s.s2c(headers(1, RES(200), { end: true }), T0 + 2);
  assert.deepEqual(s.one(1).request.headers[0], ['x-a', '1']);
  // Stream 3's block inserts x-b: 2 (now index 62, x-a at 63), but part of it is lost.
  const f3 = headersFrame(3, Buffer.concat([litIndexed('x-b', '2'), block(REQ('/three', 'GET', [['x-pad', 'p'.repeat(40)]]))]), { end: true });
  s.c2s(f3.subarray(0, 20), T0 + 3);
  s.h.gap(0, 30, T0 + 4);
  // Stream 5 refers to index 62 (x-b: 2 for the encoder) and sends literals; stream 7 is literal only.
  const f5 = headersFrame(5, Buffer.concat([indexed(62), block(REQ('/five'))]), { end: true });
  const f7 = headers(7, REQ('/seven'), { end: true });
  s.c2s([f3.subarray(50), f5, f7], T0 + 5);
  s.s2c([headers(3, RES(200), { end: true }), headers(5, RES(200), { end: true }), headers(7, RES(200), { end: true })], T0 + 6);
  const five = s.one(5);
  assert.deepEqual(five.request.headers, REQ('/five'), 'index 62 is not resolved to the stale x-a (nor anything else)');
  assert.deepEqual(five.notes, ['1 header fields not decodable (HPACK history before the capture)']);
  assert.equal(five.status, 200);
  const seven = s.one(7);
  assert.deepEqual(seven.request.headers, REQ('/seven'));
  assert.deepEqual(seven.notes, []);
  // Stream 3's request was lost: its response is kept, saying so, with the gap.
  const three = s.one(3);
  assert.equal(three.response?.status, 200);
  assert.ok(three.notes.includes('request not captured'), three.notes.join('; '));
  assert.ok(s.recs().some((r) => r.notes.includes('gap of 30 bytes in the client frames: resynchronised')), JSON.stringify(s.recs().map((r) => r.notes)));
});

// ---------------------------------------------------------------------------
// Detection without the connection's start, and no false detection

test('mid-stream: bytes starting inside a DATA frame, then valid frames: found, roles from the ports', () => {
  const s = session({ conn: { roles: 'guessed', midstream: true } });
  const tail = Buffer.from('"name":"widget","tags":["a","b"]}'.repeat(20), 'latin1');
  s.c2s([tail, headers(9, REQ('/mid', 'POST')), data(9, 'abc', { end: true })], T0 + 1);
  s.s2c([Buffer.from('more of an earlier response body'.repeat(10), 'latin1'), headers(9, RES(202)), data(9, 'ok', { end: true })], T0 + 2);
  const r = s.one(9);
  assert.equal(r.request.method, 'POST');
  assert.equal(r.request.path, '/mid');
  assert.equal(r.request.bodySize, 3);
  assert.equal(r.status, 202);
  assert.deepEqual(r.notes, ['capture started mid-connection']);
  assert.deepEqual([r.src.port, r.dst.port], [CLIENT.port, SERVER.port]);
  assert.equal(s.out.length, 1, 'the DATA tails are not transactions');
  assert.deepEqual(s.stats.connections, { 'http2 (mid-stream)': 1 });
});

test('mid-stream: a wrong guess of the client is corrected by the first decoded headers', () => {
  // The reassembler took the server for the client: the server's frames arrive as direction 0.
  const s = session({ conn: { roles: 'guessed', midstream: true } });
  s.c2s([Buffer.alloc(100, 0x61), headers(11, RES(200)), data(11, 'res'), windowUpdate(0, 10)], T0 + 5);
  s.s2c([Buffer.alloc(50, 0x62), headers(13, REQ('/other', 'POST')), data(13, 'q', { end: true })], T0 + 6);
  s.c2s(data(11, '!', { end: true }), T0 + 7);
  s.c2s(headers(13, RES(404), { end: true }), T0 + 8);
  const r = s.one(13);
  assert.deepEqual([r.request.path, r.request.bodySize, r.status], ['/other', 1, 404]);
  assert.deepEqual([r.src.port, r.dst.port], [SERVER.port, CLIENT.port], 'the requester is the client');
  assert.deepEqual(r.notes, ['capture started mid-connection']);
  const q = s.one(11);
  assert.deepEqual([q.response?.status, q.response?.bodySize, q.request.method], [200, 4, '']);
  assert.deepEqual([q.src.port, q.dst.port], [SERVER.port, CLIENT.port]);
  assert.deepEqual(q.notes, ['capture started mid-connection', 'request not captured']);
});

test('mid-stream: a request that is one lone HEADERS frame is found once the other direction is in sync', () => {
  const s = session({ conn: { roles: 'guessed', midstream: true } });
  // The server's side syncs on its frames; the client's shows the tail of an earlier body, then a GET.
  s.s2c([Buffer.alloc(300, 0x7a), headers(21, RES(200)), data(21, 'earlier', { end: true }), ping()], T0 + 1);
  s.c2s([Buffer.from('tail of an earlier request body', 'latin1'), headers(23, REQ('/lone'), { end: true })], T0 + 2);
  s.s2c([headers(23, RES(200)), data(23, 'answer', { end: true })], T0 + 3);
  const r = s.one(23);
  assert.deepEqual([r.request.method, r.request.path, r.status, r.timestamp, r.elapsedTime], ['GET', '/lone', 200, T0 + 2, 0.001]);
  assert.deepEqual(r.notes, ['capture started mid-connection']);
  // Plain bytes ending the same way are not taken for a frame.
  const t = session({ conn: { roles: 'guessed', midstream: true } });
  t.s2c([Buffer.alloc(300, 0x7a), headers(21, RES(200)), data(21, 'earlier', { end: true }), ping()], T0 + 1);
  t.c2s(Buffer.from('tail of an earlier request body', 'latin1'), T0 + 2);
  t.h.end('fin', T0 + 3);
  assert.deepEqual(t.recs().map((x) => x.http2?.streamId), [21]);
});

test('no false detection: 1000 random buffers of 2-20 KB produce no HTTP/2 transaction', () => {
  const rand = prng(0x5eed);
  let found = 0;
  const kinds = new Map<string, number>();
  const started = Date.now();
  for (let i = 0; i < 1000; i++) {
    const s = session({ conn: { id: i, roles: 'guessed', midstream: i % 2 === 0 } });
    const n = 2048 + Math.floor(rand() * (18 * 1024));
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = Math.floor(rand() * 256);
    // In segments of up to 1460 bytes, both ways.
    for (let off = 0; off < n; off += 1460) (off % 2920 === 0 ? s.c2s : s.s2c)(b.subarray(off, off + 1460), T0 + off);
    s.h.end('fin', T0 + n);
    found += s.out.filter((t) => t.record.protocol === 'http2' || t.record.protocol === 'grpc').length;
    for (const k of Object.keys(s.stats.connections)) kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  assert.equal(found, 0);
  assert.ok(![...kinds.keys()].some((k) => k.includes('http2')), JSON.stringify([...kinds]));
  assert.ok(Date.now() - started < 20_000, 'detection stays cheap');
});

/** A real TLS ClientHello (ALPN offering h2), as Node writes it. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
        resolve(Buffer.concat(chunks));
      },
    });
    const c = tls.connect({ socket, servername: 'svc.ns', ALPNProtocols: ['h2', 'http/1.1'] });
    c.on('error', () => {});
    setTimeout(() => c.destroy(), 50).unref();
  });
}

test('no false detection on a TLS ClientHello (offering h2) and encrypted records', async () => {
  const hello = await clientHello();
  assert.equal(hello[0], 0x16, 'a TLS handshake record');
  assert.ok(hello.includes(Buffer.from('h2', 'latin1')));
  const s = session();
  s.c2s(hello, T0);
  const rand = prng(7);
  const record = (n: number): Buffer => Buffer.concat([Buffer.from([0x17, 0x03, 0x03, n >> 8, n & 0xff]), Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)))]);
  s.s2c([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), record(3000)], T0 + 1);
  s.c2s(record(500), T0 + 2);
  s.h.end('fin', T0 + 3);
  assert.equal(s.out.length, 0);
  assert.deepEqual(s.stats.connections, { unrecognised: 1 });
});

// ---------------------------------------------------------------------------
// Malformed and hostile input: the stream gets a note, the connection goes on

/** After something odd on the connection: a plain exchange on `id` still decodes. */
function stillWorks(s: Session, id: number, ts: number): void {
  s.c2s(headers(id, REQ(`/after/${id}`), { end: true }), ts);
  s.s2c([headers(id, RES(200)), data(id, 'fine', { end: true })], ts + 1);
  const r = s.one(id);
  assert.deepEqual([r.request.path, r.status, r.response?.bodySize], [`/after/${id}`, 200, 4]);
}

test('malformed: a frame longer than SETTINGS_MAX_FRAME_SIZE is skipped with a note; HPACK history is then distrusted', () => {
  const s = session();
  open(s);
  // The client inserts x-a (index 62), then sends request trailers in one 20 KB HEADERS frame: too large.
  s.c2s(headersFrame(1, Buffer.concat([litIndexed('x-a', '1'), block(REQ('/one'))])), T0 + 1);
  const huge = headersFrame(1, Buffer.concat([litIndexed('x-huge', 'h'.repeat(20000))]), { end: true });
  s.c2s(huge, T0 + 2);
  s.s2c(headers(1, RES(200), { end: true }), T0 + 3);
  // The skipped frame's END_STREAM still ended the request: the call completes with the response.
  const r = s.one(1);
  assert.deepEqual(r.notes, [`${huge.length - 9}-byte frame of type 1 larger than allowed: skipped`]);
  assert.equal(r.request.headers[0][0], 'x-a');
  assert.equal(r.response?.trailers, undefined);
  // The skipped block inserted an entry: index 62 is no longer x-a, and is not taken for it.
  s.c2s(headersFrame(3, Buffer.concat([indexed(62), block(REQ('/three'))]), { end: true }), T0 + 4);
  s.s2c(headers(3, RES(200), { end: true }), T0 + 5);
  const t = s.one(3);
  assert.deepEqual(t.request.headers, REQ('/three'));
  assert.deepEqual(t.notes, ['1 header fields not decodable (HPACK history before the capture)']);
  stillWorks(s, 5, T0 + 6);
});

test('malformed: padding longer than the frame, in DATA and in HEADERS', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/pad', 'POST')), T0 + 1);
  // Pad length 50 in a 10-byte DATA frame.
  s.c2s(frame(T.DATA, F.PADDED, 1, Buffer.concat([Buffer.from([50]), Buffer.from('123456789')])), T0 + 2);
  s.c2s(data(1, 'ok', { end: true }), T0 + 3);
  s.s2c(headers(1, RES(200), { end: true }), T0 + 4);
  const r = s.one(1);
  assert.deepEqual(r.notes, ['DATA frame on stream 1 with padding longer than the frame']);
  assert.equal(r.request.bodySize, 2, 'the bad frame contributes nothing');
  // Pad length 200 in a short HEADERS frame: the stream's header block is not decoded.
  s.c2s(frame(T.HEADERS, F.PADDED | F.END_HEADERS | F.END_STREAM, 3, Buffer.concat([Buffer.from([200]), block(REQ('/x'))])), T0 + 5);
  s.s2c(headers(3, RES(200), { end: true }), T0 + 6);
  const t = s.one(3);
  assert.ok(t.notes.includes('malformed frame: padding longer than the frame'), t.notes.join('; '));
  stillWorks(s, 5, T0 + 7);
});

test('malformed: a PUSH_PROMISE too short, a RST_STREAM of the wrong length, a CONTINUATION without HEADERS', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, REQ('/one'), { end: true }), T0 + 1);
  s.s2c(frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.from([0, 0, 2])), T0 + 2);
  s.s2c(frame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 8])), T0 + 3);
  s.s2c(frame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8, 0])), T0 + 4);
  s.s2c(continuation(1, block([['x-stray', '1']]), true), T0 + 5);
  s.s2c([headers(1, RES(200)), data(1, 'body', { end: true })], T0 + 6);
  const r = s.one(1);
  assert.deepEqual(r.notes, [
    'malformed frame: PUSH_PROMISE too short',
    'malformed frame: RST_STREAM of 3 bytes, not 4',
    'malformed frame: RST_STREAM of 5 bytes, not 4',
    'CONTINUATION on stream 1 without a header block',
  ]);
  assert.deepEqual(r.http2, { streamId: 1, resetCode: null, resetBy: null, pushed: false });
  assert.deepEqual([r.status, r.failed, r.response?.headers], [200, false, RES(200)]);
  assert.equal(s.out.length, 1, 'no pushed stream, nothing else');
  stillWorks(s, 3, T0 + 7);
});

test('malformed: frames on stream 0 that belong to a stream, and stream frames that belong to the connection, make no transaction', () => {
  const s = session();
  open(s);
  s.c2s([data(0, 'x'), rst(0, E.CANCEL), headers(0, REQ('/zero'), { end: true })], T0 + 1);
  s.s2c([settings().subarray(0, 5), Buffer.from([0, 0, 0, 1])], T0 + 2); // SETTINGS on stream 1
  s.h.end('fin', T0 + 3);
  assert.deepEqual(s.recs().map((r) => [r.http2?.streamId, r.notes]), []);
  const t = session();
  open(t);
  t.c2s([data(0, 'x'), rst(0, E.CANCEL)], T0 + 1);
  stillWorks(t, 1, T0 + 2);
  assert.deepEqual(t.one(1).notes, ['malformed frame on stream 0: DATA on stream 0', 'malformed frame on stream 0: RST_STREAM on stream 0']);
});

test('malformed: a garbage HPACK block gives the stream a note; the connection goes on', () => {
  const s = session();
  open(s);
  // An indexed field whose index never ends (continuation bytes forever), then junk.
  s.c2s(headersFrame(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x42]), { end: true }), T0 + 1);
  s.s2c(headers(1, RES(400), { end: true }), T0 + 2);
  const r = s.one(1);
  assert.equal(r.request.method, '');
  assert.deepEqual(r.request.headers, []);
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0], /^header block could not be fully decoded \(.+\)$/);
  assert.deepEqual([r.status, r.failed], [400, false]);
  stillWorks(s, 3, T0 + 3);
  assert.deepEqual(s.one(3).notes, []);
});

test('a header block larger than maxHeaderBlock is skipped with a note, holding no more than the cap', () => {
  const cap = 4096;
  const s = session({ http2: { maxHeaderBlock: cap } });
  open(s);
  const big = block(REQ('/big', 'GET', [['x-big', 'b'.repeat(100_000)]]));
  s.c2s(headersFrame(1, big.subarray(0, 10_000), { end: true, more: true }), T0 + 1);
  // Reach into the dissector (through the router) to see what the pending block holds.
  const pending = (): { parts: Buffer[]; size: number } | null =>
    (s.h as unknown as { target: { sides: Array<{ block: { parts: Buffer[]; size: number } | null }> } }).target.sides[0].block;
  for (let off = 10_000; off < big.length; off += 10_000) {
    s.c2s(continuation(1, big.subarray(off, Math.min(big.length, off + 10_000)), false), T0 + 2);
    const p = pending();
    assert.ok(p && p.parts.reduce((n, b) => n + b.length, 0) <= cap, 'held bytes stay under the cap');
  }
  s.c2s(continuation(1, Buffer.alloc(0), true), T0 + 3);
  assert.equal(pending(), null);
  s.s2c(headers(1, RES(431), { end: true }), T0 + 4);
  const r = s.one(1);
  assert.deepEqual(r.notes, [`header block of ${big.length} bytes larger than ${cap}: not decoded`]);
  assert.deepEqual([r.request.method, r.request.headers, r.status], ['', [], 431]);
  // The skipped block's insertions (none here) cannot be known: history is distrusted, literals decode.
  stillWorks(s, 3, T0 + 5);
});

test('a gzip decompression bomb in a response body: stored capped, noted, nothing else affected, fast', () => {
  const maxStoredBytes = 1 << 20;
  const s = session({ maxStoredBytes });
  open(s);
  const bomb = gzipSync(Buffer.alloc(50 << 20));
  assert.ok(bomb.length < 100_000);
  const started = Date.now();
  s.c2s(headers(1, REQ('/bomb'), { end: true }), T0 + 1);
  s.c2s(headers(3, REQ('/other'), { end: true }), T0 + 2);
  s.s2c(headers(1, RES(200, [['content-encoding', 'gzip'], ['content-type', 'application/octet-stream']])), T0 + 3);
  for (let off = 0; off < bomb.length; off += 16384) s.s2c(data(1, bomb.subarray(off, off + 16384), { end: off + 16384 >= bomb.length }), T0 + 4);
  s.s2c([headers(3, RES(200, [['content-encoding', 'gzip']])), data(3, gzipSync(Buffer.from('small')), { end: true })], T0 + 5);
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  const t = s.byStream(1)[0];
  assert.ok(t.responseBody && t.responseBody.length <= maxStoredBytes);
  assert.equal(t.record.response?.wireBodySize, bomb.length);
  assert.equal(t.record.response?.contentEncoding, 'gzip');
  assert.deepEqual(t.record.notes, [`response: gzip body decodes to more than ${maxStoredBytes} bytes; kept encoded`]);
  const u = s.byStream(3)[0];
  assert.equal(text(u.responseBody), 'small');
  assert.deepEqual([u.record.response?.bodySize, u.record.notes], [5, []]);
});

test('late frames on a stream already reset do not make a second transaction', () => {
  const s = session();
  open(s);
  s.c2s([headers(1, REQ('/a', 'POST')), data(1, 'part')], T0 + 1);
  s.s2c(rst(1, E.INTERNAL_ERROR), T0 + 2);
  // Frames in flight when the reset was sent, from both sides.
  s.c2s([data(1, 'more'), data(1, 'end', { end: true }), windowUpdate(1, 100)], T0 + 3);
  s.s2c([headers(1, RES(500)), data(1, 'late'), headers(1, [['x-t', '1']], { end: true }), rst(1, E.CANCEL)], T0 + 4);
  s.c2s(rst(1, E.CANCEL), T0 + 5);
  s.h.end('fin', T0 + 6);
  assert.equal(s.out.length, 1);
  const r = s.one(1);
  assert.deepEqual(r.http2, { streamId: 1, resetCode: 'INTERNAL_ERROR', resetBy: 'server', pushed: false });
  assert.deepEqual([r.response, r.failed, r.request.bodySize, r.elapsedTime], [null, true, 4, null]);
  assert.deepEqual(r.notes, ['stream reset by the server: INTERNAL_ERROR']);
  stillWorks(s, 3, T0 + 7);
});

// ---------------------------------------------------------------------------
// h2c: HTTP/1.1 Upgrade answered 101

const UPGRADE_REQ = (settingsB64: string): string =>
  'GET /index.html HTTP/1.1\r\nHost: svc.ns:8080\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
  `HTTP2-Settings: ${settingsB64}\r\nx-request-id: up-1\r\n\r\n`;
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';
/** SETTINGS payload as the HTTP2-Settings header carries it: base64url, no padding. */
const settingsHeader = (pairs: Array<[number, number]>): string => settings(pairs).subarray(9).toString('base64url');

test('h2c upgrade: the upgrading request is stream 1, one transaction, then streams go on', () => {
  const s = session();
  s.c2s(Buffer.from(UPGRADE_REQ(settingsHeader([[0x3, 100]])), 'latin1'), T0 + 10);
  s.s2c(Buffer.from(SWITCHING, 'latin1'), T0 + 20);
  s.s2c([settings(), headers(1, RES(200, [['content-type', 'text/html']])), data(1, '<html/>', { end: true })], T0 + 30);
  s.c2s([PREFACE, settings(), settingsAck(), headers(3, REQ('/next'), { end: true })], T0 + 40);
  s.s2c([settingsAck(), headers(3, RES(404), { end: true })], T0 + 50);
  assert.deepEqual(s.recs().map((r) => [r.protocol, r.http2?.streamId, r.request.method, r.request.path, r.status, r.notes]), [
    ['http2', 1, 'GET', '/index.html', 200, ['upgraded from HTTP/1.1 (h2c)']],
    ['http2', 3, 'GET', '/next', 404, []],
  ]);
  const r = s.one(1);
  assert.equal(r.timestamp, T0 + 10, 'from the HTTP/1.1 request');
  assert.equal(r.elapsedTime, 0.02);
  assert.equal(r.response?.bodySize, 7);
  assert.equal(r.request.headers.find(([n]) => n === 'x-request-id')?.[1], 'up-1');
  assert.deepEqual(s.stats.connections, { http: 1, 'http2 (h2c upgrade)': 1 });
});

test('h2c upgrade: the client\'s HTTP2-Settings header counts as its SETTINGS (a larger header table for the server)', () => {
  const s = session();
  // The client lets the server's encoder use a 16 KiB table.
  s.c2s(Buffer.from(UPGRADE_REQ(settingsHeader([[0x1, 16384]])), 'latin1'), T0 + 10);
  s.s2c(Buffer.from(SWITCHING, 'latin1'), T0 + 20);
  s.s2c([settings(), headersFrame(1, Buffer.concat([sizeUpdate(16384), litIndexed('x-big', 'b'.repeat(6000)), block(RES(200))]), { end: true })], T0 + 30);
  s.c2s([PREFACE, settings(), settingsAck(), headers(3, REQ('/next'), { end: true })], T0 + 40);
  s.s2c(headersFrame(3, Buffer.concat([indexed(62), block(RES(200))]), { end: true }), T0 + 50);
  assert.deepEqual(s.recs().map((r) => r.notes), [['upgraded from HTTP/1.1 (h2c)'], []]);
  assert.deepEqual(s.one(3).response?.headers[0], ['x-big', 'b'.repeat(6000)]);
});

test('h2c upgrade: a client that sends no preface after the 101 is noted, its frames still read', () => {
  const s = session();
  s.c2s(Buffer.from(UPGRADE_REQ(settingsHeader([])), 'latin1'), T0 + 10);
  s.s2c(Buffer.from(SWITCHING, 'latin1'), T0 + 20);
  s.s2c([settings(), headers(1, RES(200), { end: true })], T0 + 30);
  s.c2s([settings(), headers(3, REQ('/no-preface'), { end: true })], T0 + 40);
  s.s2c(headers(3, RES(200), { end: true }), T0 + 50);
  const r = s.one(3);
  assert.equal(r.request.path, '/no-preface');
  assert.deepEqual(r.notes, ['client preface missing or damaged']);
});

// ---------------------------------------------------------------------------
// gRPC status when the HPACK history is missing (mid-stream capture)

/**
 * A mid-stream gRPC call whose server blocks are given raw: the request's
 * content-type is a pre-capture dynamic entry (index 70), so gRPC is inferred from :path.
 */
function midstreamGrpc(serverBlocks: { headers: Buffer; trailers: Buffer | null; message: boolean }): Rec {
  const s = session({ conn: { roles: 'guessed', midstream: true } });
  const request = Buffer.concat([indexed(3), lit(':path', '/pkg.Svc/Call'), indexed(6), indexed(70)]);
  s.c2s([Buffer.from('tail of something earlier', 'latin1'), headersFrame(41, request), data(41, grpcMessage(Buffer.from('q')), { end: true })], T0 + 1);
  const frames = [Buffer.alloc(20, 0x41), ping(), headersFrame(41, serverBlocks.headers, { end: serverBlocks.trailers === null })];
  if (serverBlocks.message) frames.push(data(41, grpcMessage(Buffer.from('r'))));
  if (serverBlocks.trailers) frames.push(headersFrame(41, serverBlocks.trailers, { end: true }));
  s.s2c(frames, T0 + 2);
  return s.one(41);
}

test('mid-stream gRPC: a trailers-only grpc-status whose name is unknown is read after :status', () => {
  // :status 200 (static 8), then grpc-status and grpc-message with names from before the capture.
  const r = midstreamGrpc({ headers: Buffer.concat([indexed(8), litNamed(64, '4'), litNamed(65, 'Deadline%20exceeded')]), trailers: null, message: false });
  assert.equal(r.protocol, 'grpc');
  assert.deepEqual([r.status, r.failed, r.grpc?.statusName, r.grpc?.grpcStatus], [4, true, 'DEADLINE_EXCEEDED', 4]);
  assert.ok(r.notes.includes('grpc-status read from an unnamed trailer (HPACK history before the capture)'), r.notes.join('; '));
});

test('mid-stream gRPC: an unnamed first trailer is the status only when no field before it was lost', () => {
  // grpc-status itself is a pre-capture entry (lost); x-latency-ms: 7 keeps only its value.
  const lost = midstreamGrpc({ headers: Buffer.concat([indexed(8), indexed(71)]), trailers: Buffer.concat([indexed(72), litNamed(73, '7')]), message: true });
  assert.deepEqual([lost.status, lost.failed, lost.grpc?.statusName], [-1, false, 'UNDECODED'], 'not PERMISSION_DENIED from a latency of 7');
  assert.ok(lost.notes.includes('grpc-status not decodable (HPACK history before the capture): outcome unknown'), lost.notes.join('; '));
  // The same trailers with the status first and nothing lost: the status is read.
  const kept = midstreamGrpc({ headers: Buffer.concat([indexed(8), indexed(71)]), trailers: Buffer.concat([litNamed(72, '13'), litNamed(73, '7')]), message: true });
  assert.deepEqual([kept.status, kept.failed, kept.grpc?.statusName], [13, true, 'INTERNAL']);
  assert.equal(kept.grpc?.responseMessages, 1);
});

test('a gRPC stream of 1200 messages: the first 1000 listed, all counted, and shown as such', () => {
  const s = session();
  open(s);
  s.c2s(headers(1, GRPC_REQ('/pkg.Svc/Watch')), T0 + 1);
  s.c2s(data(1, grpcMessage(Buffer.from('w')), { end: true }), T0 + 2);
  s.s2c(headers(1, RES(200, [['content-type', 'application/grpc']])), T0 + 3);
  const one = grpcMessage(Buffer.from('event'));
  for (let i = 0; i < 12; i++) s.s2c(data(1, Buffer.concat(Array.from({ length: 100 }, () => one))), T0 + 10 + i);
  s.s2c(headers(1, [['grpc-status', '0']], { end: true }), T0 + 100);
  const r = s.one(1);
  assert.deepEqual([r.grpc?.requestMessages, r.grpc?.responseMessages, r.grpc?.messages.length], [1, 1200, 1000]);
  assert.equal(r.grpc?.messages[999].offset, 998 * one.length);
  const shown = callDetail({ ...r, id: 'snap-1', snapshot: 'snap', grpc: { ...r.grpc!, decoded: [] } });
  assert.match(shown, /^gRPC pkg\.Svc\/Watch: OK \(0\); 1 request and 1200 response messages$/m);
  assert.match(shown, /^ {2}\.\.\. 1201 more messages$/m);
});
