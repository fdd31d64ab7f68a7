import { DEFAULT_HTTP2_OPTIONS } from '../src/dissect/http2.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { TcpConnection } from '../src/net/tcp-reassembly.js';
import { CLIENT, SERVER, T0, fakeConn } from './support/connection.js';
import { Http1Dissector, MAX_WAITING_REQUESTS } from '../src/dissect/http1.js';
import type { DissectedTransaction, TransactionRecord } from '../src/dissect/record.js';
import { expandHeaders } from '../src/dissect/header-block.js';
import { tcpStreamFactory, type TcpDissectStats } from '../src/dissect/tcp-router.js';

/** Microseconds since the epoch, as capture timestamps are. */

type Rec = Omit<TransactionRecord, 'id' | 'snapshot'>;

function bytesOf(s: string | Buffer): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s);
}

/**
 * One connection driven through the router, as the reassembler would. Every
 * buffer handed over is scribbled on after the call: the handler may keep no view of it.
 */
function session(opts: { conn?: Partial<TcpConnection>; maxStoredBytes?: number } = {}) {
  const out: DissectedTransaction[] = [];
  const stats: TcpDissectStats = { connections: {}, unrecognisedBytes: 0 };
  const conn = fakeConn(opts.conn);
  // Readers of records see HeaderLists: raw header blocks (header-block.ts) are expanded as the pipeline does.
  const h = tcpStreamFactory((t) => out.push({ ...t, record: expandHeaders(t.record) }), { http1: { body: { maxStoredBytes: opts.maxStoredBytes ?? 1 << 20 } }, http2: DEFAULT_HTTP2_OPTIONS }, stats)(conn);
  const send = (dir: 0 | 1, s: string | Buffer, ts: number): void => {
    const b = bytesOf(s);
    h.data(dir, b, ts);
    b.fill(0xee);
  };
  return {
    out,
    stats,
    conn,
    h,
    /** Client to server. */
    c2s: (s: string | Buffer, ts: number) => send(0, s, ts),
    /** Server to client. */
    s2c: (s: string | Buffer, ts: number) => send(1, s, ts),
    recs: (): Rec[] => out.map((t) => t.record),
  };
}

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: svc.ns\r\n${extra}\r\n`;
const OK = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const status = (code: number, text: string, body = ''): string =>
  `HTTP/1.1 ${code} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

function text(b: Buffer | null): string | null {
  return b === null ? null : b.toString('latin1');
}

test('a simple GET answered 200: every field of the record', () => {
  const s = session();
  const req = 'GET /api/items?limit=5&x=y HTTP/1.1\r\nHost: svc.ns\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n';
  const res = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"items":[1]}';
  s.c2s(req, T0);
  assert.equal(s.out.length, 0);
  s.s2c(res, T0 + 2500);
  assert.equal(s.out.length, 1);
  const t = s.out[0];
  const r = t.record;
  assert.equal(r.protocol, 'http');
  assert.equal(r.timestamp, T0);
  assert.equal(r.elapsedTime, 2.5);
  assert.equal(r.responseTimestamp, T0 + 2500);
  assert.deepEqual([r.src.ip, r.src.port, r.dst.ip, r.dst.port], [CLIENT.ip, CLIENT.port, SERVER.ip, SERVER.port]);
  assert.deepEqual(r.stream, { id: 7, transport: 'tcp' });
  assert.equal(r.request.method, 'GET');
  assert.equal(r.request.url, '/api/items?limit=5&x=y');
  assert.equal(r.request.path, '/api/items');
  assert.equal(r.request.query, 'limit=5&x=y');
  assert.equal(r.request.version, 'HTTP/1.1');
  assert.deepEqual(r.request.headers, [['Host', 'svc.ns'], ['User-Agent', 'curl/8'], ['Accept', '*/*']]);
  assert.equal(r.request.headersSize, req.length);
  assert.equal(r.request.bodySize, 0);
  assert.equal(r.request.contentEncoding, null);
  assert.ok(r.response);
  assert.equal(r.response.status, 200);
  assert.equal(r.response.statusText, 'OK');
  assert.equal(r.response.version, 'HTTP/1.1');
  assert.deepEqual(r.response.headers, [['Content-Type', 'application/json'], ['Content-Length', '13']]);
  assert.equal(r.response.headersSize, res.length - 13);
  assert.equal(r.response.bodySize, 13);
  assert.equal(r.response.wireBodySize, 13);
  assert.equal(r.status, 200);
  assert.equal(r.failed, false);
  assert.deepEqual(r.notes, []);
  assert.equal(t.requestBody, null);
  assert.equal(text(t.responseBody), '{"items":[1]}');
  s.h.end('fin', T0 + 3000);
  assert.equal(s.out.length, 1, 'nothing more at the end');
  assert.deepEqual(s.stats.connections, { http: 1 });
});

test('keep-alive: several exchanges in turn on one connection', () => {
  const s = session();
  for (let i = 0; i < 4; i++) {
    const at = T0 + i * 10_000;
    s.c2s(GET(`/n/${i}`), at);
    s.s2c(OK(`body ${i}`), at + 1000 + i);
  }
  const recs = s.recs();
  assert.equal(recs.length, 4);
  assert.deepEqual(recs.map((r) => r.request.path), ['/n/0', '/n/1', '/n/2', '/n/3']);
  assert.deepEqual(recs.map((r) => r.timestamp), [0, 1, 2, 3].map((i) => T0 + i * 10_000));
  assert.deepEqual(recs.map((r) => r.elapsedTime), [1, 1.001, 1.002, 1.003]);
  assert.deepEqual(s.out.map((t) => text(t.responseBody)), ['body 0', 'body 1', 'body 2', 'body 3']);
  assert.ok(recs.every((r) => r.notes.length === 0));
});

test('pipelining: three requests before any response are paired in order', () => {
  const s = session();
  s.c2s(GET('/a'), T0);
  s.c2s(GET('/b') + GET('/c'), T0 + 5);
  assert.equal(s.out.length, 0);
  s.s2c(OK('A') + status(404, 'Not Found', 'no b') + status(503, 'Service Unavailable'), T0 + 100);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status, r.failed]), [
    ['/a', 200, false],
    ['/b', 404, false],
    ['/c', 503, true],
  ]);
  assert.deepEqual(recs.map((r) => r.timestamp), [T0, T0 + 5, T0 + 5]);
  assert.deepEqual(recs.map((r) => r.elapsedTime), [0.1, 0.095, 0.095]);
  assert.deepEqual(s.out.map((t) => text(t.responseBody)), ['A', 'no b', null]);
  assert.equal(recs[2].response?.statusText, 'Service Unavailable');
});

test('a request and its response split byte by byte: timed from first request byte to last response byte', () => {
  const s = session();
  // An earlier exchange, so that the split one does not start the connection.
  s.c2s(GET('/first'), T0);
  s.s2c(OK('1'), T0 + 10);
  const req = 'POST /split?q=1 HTTP/1.1\r\nHost: svc.ns\r\nContent-Length: 7\r\n\r\npayload';
  const res = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const start = T0 + 1_000_000;
  for (let i = 0; i < req.length; i++) s.c2s(req[i], start + i);
  assert.equal(s.out.length, 1);
  const resStart = start + 5_000;
  for (let i = 0; i < res.length; i++) s.s2c(res[i], resStart + i * 3);
  assert.equal(s.out.length, 2);
  const t = s.out[1];
  assert.equal(t.record.request.method, 'POST');
  assert.equal(t.record.request.query, 'q=1');
  assert.equal(t.record.timestamp, start);
  const last = resStart + (res.length - 1) * 3;
  assert.equal(t.record.responseTimestamp, last);
  assert.equal(t.record.elapsedTime, (last - start) / 1000);
  assert.equal(text(t.requestBody), 'payload');
  assert.equal(text(t.responseBody), 'abc');
  assert.equal(t.record.status, 201);
  assert.deepEqual(t.record.notes, []);
});

test('the first request of a connection split byte by byte through protocol detection', () => {
  const s = session();
  const req = GET('/slow');
  for (let i = 0; i < req.length; i++) s.c2s(req[i], T0 + i * 10);
  s.s2c(OK('x'), T0 + 10_000);
  const [t] = s.out;
  assert.equal(t.record.request.path, '/slow');
  assert.equal(t.record.timestamp, T0);
  assert.equal(t.record.elapsedTime, 10);
  assert.deepEqual(s.stats.connections, { http: 1 });
});

test('POST with a content-length body', () => {
  const s = session();
  const body = '{"name":"x","n":1}';
  s.c2s(`POST /api/things HTTP/1.1\r\nHost: svc.ns\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, T0);
  s.c2s(body.slice(0, 5), T0 + 1);
  s.c2s(body.slice(5), T0 + 2);
  s.s2c(status(201, 'Created', '{"id":9}'), T0 + 50);
  const [t] = s.out;
  assert.equal(t.record.request.method, 'POST');
  assert.equal(text(t.requestBody), body);
  assert.equal(t.record.request.bodySize, body.length);
  assert.equal(t.record.request.wireBodySize, body.length);
  assert.equal(text(t.responseBody), '{"id":9}');
  assert.equal(t.record.status, 201);
});

test('a chunked response split inside the chunk-size line and inside the CRLFs', () => {
  const s = session();
  s.c2s(GET('/chunked') + GET('/after'), T0);
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n';
  const cuts = [
    wire.indexOf('1a') + 1, // between '1' and 'a'
    wire.indexOf('xyz\r\n') + 4, // between '\r' and '\n' after the data
    wire.indexOf('5;ext') + 3, // inside the chunk extension
    wire.indexOf('hello') + 2, // inside chunk data
    wire.indexOf('0\r\n') + 2, // inside the last-chunk line's CRLF
    wire.length - 1, // before the final '\n'
  ];
  let from = 0;
  cuts.forEach((at, i) => {
    s.s2c(wire.slice(from, at), T0 + 100 + i);
    from = at;
  });
  assert.equal(s.out.length, 0, 'not complete before the last byte');
  s.s2c(wire.slice(from) + OK('next'), T0 + 200);
  assert.equal(s.out.length, 2);
  const [t, next] = s.out;
  assert.equal(text(t.responseBody), 'abcdefghijklmnopqrstuvwxyzhello');
  assert.equal(t.record.response?.bodySize, 31);
  assert.equal(t.record.response?.wireBodySize, 31);
  assert.equal(t.record.responseTimestamp, T0 + 200);
  assert.equal(next.record.request.path, '/after');
  assert.equal(text(next.responseBody), 'next');
});

test('gzip, deflate (zlib and raw) and br bodies are decoded; sizes decoded and on the wire', () => {
  const plain = Buffer.from(JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item-${i}` })) }));
  const cases: Array<[string, Buffer]> = [
    ['gzip', gzipSync(plain)],
    ['deflate', deflateSync(plain)],
    ['deflate', deflateRawSync(plain)],
    ['br', brotliCompressSync(plain)],
  ];
  for (const [enc, wire] of cases) {
    const s = session();
    s.c2s(GET('/enc', 'Accept-Encoding: gzip, deflate, br\r\n'), T0);
    s.s2c(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: ${enc}\r\nContent-Length: ${wire.length}\r\n\r\n`), wire]), T0 + 10);
    const [t] = s.out;
    assert.ok(t.responseBody?.equals(plain), `${enc} body decoded`);
    assert.equal(t.record.response?.bodySize, plain.length, enc);
    assert.equal(t.record.response?.wireBodySize, wire.length, enc);
    assert.ok(wire.length < plain.length);
    assert.equal(t.record.response?.contentEncoding, enc);
    assert.deepEqual(t.record.notes, [], enc);
  }
});

test('a gzip request body, chunked on the wire, is de-chunked then decoded', () => {
  const plain = Buffer.from('a=1&b=2&'.repeat(40));
  const gz = gzipSync(plain);
  const s = session();
  const half = Math.floor(gz.length / 2);
  s.c2s(Buffer.concat([
    Buffer.from('POST /upload HTTP/1.1\r\nHost: svc.ns\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
    Buffer.from(`${half.toString(16)}\r\n`), gz.subarray(0, half), Buffer.from('\r\n'),
    Buffer.from(`${(gz.length - half).toString(16)}\r\n`), gz.subarray(half), Buffer.from('\r\n0\r\n\r\n'),
  ]), T0);
  s.s2c(status(204, 'No Content').replace('Content-Length: 0\r\n', ''), T0 + 1);
  const [t] = s.out;
  assert.ok(t.requestBody?.equals(plain));
  assert.equal(t.record.request.bodySize, plain.length);
  assert.equal(t.record.request.wireBodySize, gz.length);
});

test('a corrupt gzip body is kept as sent, with a note', () => {
  const s = session();
  const junk = 'this is not gzip at all';
  s.c2s(GET('/bad'), T0);
  s.s2c(OK(junk, 'Content-Encoding: gzip\r\n') + OK('fine'), T0 + 10);
  s.c2s(GET('/good'), T0 + 20);
  assert.equal(s.out.length, 2, 'the connection goes on');
  const [t, next] = s.out;
  assert.equal(text(t.responseBody), junk);
  assert.equal(t.record.response?.wireBodySize, junk.length);
  assert.equal(t.record.response?.bodySize, junk.length);
  assert.equal(t.record.notes.length, 1);
  assert.match(t.record.notes[0], /^response: gzip body could not be decoded/);
  assert.equal(t.record.failed, false);
  assert.equal(text(next.responseBody), 'fine');
});

test('a HEAD response has no body whatever its content-length, and the next response follows', () => {
  const s = session();
  s.c2s('HEAD /file HTTP/1.1\r\nHost: svc.ns\r\n\r\n' + GET('/next'), T0);
  s.s2c('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n', T0 + 10);
  assert.equal(s.out.length, 1, 'the HEAD answer is complete at its headers');
  s.s2c(OK('next body'), T0 + 20);
  const [head, next] = s.out;
  assert.equal(head.record.request.method, 'HEAD');
  assert.equal(head.record.response?.bodySize, 0);
  assert.equal(head.responseBody, null);
  assert.equal(head.record.responseTimestamp, T0 + 10);
  assert.equal(next.record.request.path, '/next');
  assert.equal(text(next.responseBody), 'next body');
});

test('204 and 304 carry no body, even with a content-length or chunked header', () => {
  const s = session();
  s.c2s(GET('/a') + GET('/b', 'If-None-Match: "v1"\r\n') + GET('/c') + GET('/d'), T0);
  s.s2c(
    'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5000\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n' +
      OK('d body'),
    T0 + 10,
  );
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status, r.response?.bodySize]), [
    ['/a', 204, 0],
    ['/b', 304, 0],
    ['/c', 204, 0],
    ['/d', 200, 6],
  ]);
  assert.deepEqual(s.out.map((t) => text(t.responseBody)), [null, null, null, 'd body']);
  assert.ok(recs.every((r) => r.notes.length === 0));
});

test('100 Continue then the final response: one transaction with a note', () => {
  const s = session();
  s.c2s('PUT /blob HTTP/1.1\r\nHost: svc.ns\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', T0);
  s.s2c('HTTP/1.1 100 Continue\r\n\r\n', T0 + 10);
  assert.equal(s.out.length, 0);
  s.c2s('hello', T0 + 20);
  s.s2c(status(201, 'Created', 'done'), T0 + 30);
  assert.equal(s.out.length, 1);
  const [t] = s.out;
  assert.equal(t.record.status, 201);
  assert.equal(t.record.timestamp, T0);
  assert.equal(t.record.elapsedTime, 0.03);
  assert.equal(text(t.requestBody), 'hello');
  assert.equal(text(t.responseBody), 'done');
  assert.deepEqual(t.record.notes, ['interim response 100 Continue']);
});

test('a response delimited by the connection close completes at end()', () => {
  const s = session();
  s.c2s('GET /stream HTTP/1.0\r\nHost: svc.ns\r\n\r\n', T0);
  s.s2c('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ', T0 + 10);
  s.s2c('part two', T0 + 20);
  assert.equal(s.out.length, 0, 'the body may go on until the close');
  s.h.end('fin', T0 + 500);
  assert.equal(s.out.length, 1);
  const [t] = s.out;
  assert.equal(text(t.responseBody), 'part one, part two');
  assert.equal(t.record.response?.bodySize, 18);
  assert.equal(t.record.request.version, 'HTTP/1.0');
  assert.deepEqual(t.record.notes, []);
  // The response ended with its last byte; the FIN may come much later (or never, at the end of the capture).
  assert.equal(t.record.responseTimestamp, T0 + 20);
  assert.equal(t.record.elapsedTime, 0.02);
});

test('a request without a response: response null, failed, "response missing"', () => {
  const s = session();
  s.c2s(GET('/answered'), T0);
  s.s2c(OK('x'), T0 + 1);
  s.c2s(GET('/unanswered'), T0 + 100);
  s.h.end('fin', T0 + 900);
  assert.equal(s.out.length, 2);
  const r = s.out[1].record;
  assert.equal(r.request.path, '/unanswered');
  assert.equal(r.response, null);
  assert.equal(s.out[1].responseBody, null);
  assert.equal(r.failed, true);
  assert.equal(r.status, 0);
  assert.equal(r.elapsedTime, null);
  assert.equal(r.responseTimestamp, null);
  assert.equal(r.timestamp, T0 + 100);
  assert.deepEqual(r.notes, ['response missing']);
});

test('a reset connection: pending requests are noted as reset', () => {
  const s = session();
  s.c2s(GET('/one') + GET('/two'), T0);
  s.h.end('rst', T0 + 5);
  assert.deepEqual(s.recs().map((r) => [r.request.path, r.response, r.failed, r.notes]), [
    ['/one', null, true, ['connection reset before a response']],
    ['/two', null, true, ['connection reset before a response']],
  ]);
});

test('a reset in the middle of a response body: the partial response is emitted with a note', () => {
  const s = session();
  s.c2s(GET('/big'), T0);
  s.s2c('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part', T0 + 10);
  s.h.end('rst', T0 + 20);
  const [t] = s.out;
  assert.equal(t.record.status, 200);
  assert.equal(text(t.responseBody), 'only part');
  assert.deepEqual(t.record.notes, ['connection ended before the response was complete']);
  assert.equal(t.record.responseTimestamp, T0 + 10);
});

test('a connection caught mid-stream: a response whose request was not captured, then normal exchanges', () => {
  const s = session({ conn: { midstream: true, roles: 'guessed' } });
  s.s2c(OK('orphan'), T0);
  s.c2s(GET('/next'), T0 + 100);
  s.s2c(OK('paired'), T0 + 150);
  s.h.end('end-of-capture', T0 + 1000);
  const recs = s.recs();
  assert.equal(recs.length, 2);
  assert.equal(recs[0].request.method, '');
  assert.equal(recs[0].status, 200);
  assert.equal(recs[0].timestamp, T0);
  assert.deepEqual(recs[0].notes, ['capture started mid-connection', 'request not captured']);
  assert.equal(text(s.out[0].responseBody), 'orphan');
  assert.equal(recs[1].request.path, '/next');
  assert.equal(text(s.out[1].responseBody), 'paired');
  assert.equal(recs[1].elapsedTime, 0.05);
  assert.deepEqual(recs[1].notes, ['capture started mid-connection']);
  assert.deepEqual(s.stats.connections, { http: 1 });
});

test('mid-stream: the tail of an earlier response is skipped, not taken for a lost response', () => {
  const s = session({ conn: { midstream: true, roles: 'guessed' } });
  s.c2s(GET('/x'), T0);
  s.s2c('the end of a body whose headers the capture missed\r\n', T0 + 1);
  s.s2c(OK('for x'), T0 + 2);
  const recs = s.recs();
  assert.equal(recs.length, 1);
  assert.equal(recs[0].request.path, '/x');
  assert.equal(text(s.out[0].responseBody), 'for x');
  assert.deepEqual(recs[0].notes, ['capture started mid-connection']);
});

test('a gap inside a content-length body: the message completes with a note, the next one still parses', () => {
  const s = session();
  s.c2s('POST /upload HTTP/1.1\r\nHost: svc.ns\r\nContent-Length: 20\r\n\r\n01234', T0);
  s.h.gap(0, 10, T0 + 1);
  s.c2s('ABCDE' + GET('/after'), T0 + 2);
  s.s2c('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nabc', T0 + 10);
  s.h.gap(1, 6, T0 + 11);
  s.s2c('xyz' + OK('after'), T0 + 12);
  const recs = s.recs();
  assert.equal(recs.length, 2);
  assert.equal(recs[0].request.path, '/upload');
  assert.equal(text(s.out[0].requestBody), '01234ABCDE');
  assert.equal(text(s.out[0].responseBody), 'abcxyz');
  assert.equal(recs[0].status, 200);
  assert.deepEqual(recs[0].notes, ['request body: 10 bytes not captured', 'response body: 6 bytes not captured']);
  assert.equal(recs[0].responseTimestamp, T0 + 12);
  assert.equal(recs[1].request.path, '/after');
  assert.equal(text(s.out[1].responseBody), 'after');
  assert.deepEqual(recs[1].notes, []);
});

test('a gap in the middle of request headers: the lost request keeps its place, the next request is found', () => {
  const s = session();
  s.c2s('GET /first HTTP/1.1\r\nHost: svc.ns\r\nX-Lo', T0);
  s.h.gap(0, 30, T0 + 1);
  s.c2s('ng: zzz\r\n\r\nGET /second HTTP/1.1\r\nHost: svc.ns\r\n\r\n', T0 + 2);
  s.s2c(OK('one') + OK('two'), T0 + 10);
  const recs = s.recs();
  assert.equal(recs.length, 2);
  // The request line and the headers before the hole are kept; those after it are lost.
  assert.equal(recs[0].request.method, 'GET');
  assert.equal(recs[0].request.path, '/first');
  assert.deepEqual(recs[0].request.headers, [['Host', 'svc.ns']]);
  assert.equal(recs[0].timestamp, T0);
  assert.equal(text(s.out[0].responseBody), 'one');
  assert.ok(recs[0].notes.some((n) => n.includes('gap of 30 bytes')), recs[0].notes.join('; '));
  assert.equal(recs[1].request.path, '/second');
  assert.equal(text(s.out[1].responseBody), 'two');
  assert.deepEqual(recs[1].notes, []);
});

test('a gap in the middle of response headers: that response is lost, the next one pairs with its request', () => {
  const s = session();
  s.c2s(GET('/a') + GET('/b'), T0);
  s.s2c('HTTP/1.1 200 OK\r\nContent-Le', T0 + 10);
  s.h.gap(1, 40, T0 + 11);
  s.s2c('ngth: 0\r\n\r\n' + OK('b'), T0 + 12);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status, r.failed]), [['/a', 0, true], ['/b', 200, false]]);
  assert.deepEqual(recs[0].notes, ['gap of 40 bytes: the response was lost']);
  assert.equal(text(s.out[1].responseBody), 'b');
});

test('a gap between messages loses nothing', () => {
  const s = session();
  s.c2s(GET('/a'), T0);
  s.h.gap(0, 50, T0 + 1);
  s.c2s(GET('/b'), T0 + 2);
  s.s2c(OK('a') + OK('b'), T0 + 3);
  assert.deepEqual(s.recs().map((r) => [r.request.path, r.notes]), [['/a', []], ['/b', []]]);
});

test('garbage bytes then a valid request in the same segment: the request is found', () => {
  const s = session();
  s.c2s(GET('/1'), T0);
  s.s2c(OK('one'), T0 + 1);
  s.c2s('\x16\x03\x01 garbage\r\nmore garbage\r\n' + GET('/2'), T0 + 2);
  s.s2c(status(400, 'Bad Request') + OK('two'), T0 + 3);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status]), [['/1', 200], ['', 400], ['/2', 200]]);
  assert.match(recs[1].notes.join('; '), /unparsable HTTP\/1 request/);
  assert.deepEqual(recs[2].notes, []);
  assert.equal(text(s.out[2].responseBody), 'two');
});

test('an unparsable response line: the oldest request loses its response, the next pairs correctly', () => {
  const s = session();
  s.c2s(GET('/a') + GET('/b'), T0);
  s.s2c('HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n', T0 + 1);
  s.s2c(OK('b'), T0 + 2);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status]), [['/a', 0], ['/b', 200]]);
  assert.equal(recs[0].response, null);
  assert.match(recs[0].notes.join('; '), /unparsable HTTP\/1 response.*the response was lost/);
  assert.equal(text(s.out[1].responseBody), 'b');
});

test('CONNECT answered 200, then plain HTTP inside the tunnel: found again through the router', () => {
  const s = session();
  s.c2s('CONNECT backend.ns:8080 HTTP/1.1\r\nHost: backend.ns:8080\r\n\r\n', T0);
  s.s2c('HTTP/1.1 200 Connection established\r\n\r\n', T0 + 10);
  s.c2s(GET('/inner'), T0 + 20);
  s.s2c(OK('inside'), T0 + 30);
  s.h.end('fin', T0 + 40);
  const recs = s.recs();
  assert.equal(recs.length, 2);
  assert.equal(recs[0].request.method, 'CONNECT');
  assert.equal(recs[0].request.url, 'backend.ns:8080');
  assert.equal(recs[0].status, 200);
  assert.equal(recs[0].elapsedTime, 0.01);
  assert.equal(recs[1].request.path, '/inner');
  assert.equal(recs[1].timestamp, T0 + 20);
  assert.equal(recs[1].stream.id, 7);
  assert.equal(text(s.out[1].responseBody), 'inside');
  assert.deepEqual(s.stats.connections, { http: 1, 'tunnel: http': 1 });
});

test('CONNECT: tunnel bytes sent before the 200 arrives are held, then handed to the tunnel', () => {
  const s = session();
  s.c2s('CONNECT backend.ns:80 HTTP/1.1\r\nHost: backend.ns:80\r\n\r\n' + GET('/early'), T0);
  s.s2c('HTTP/1.1 200 OK\r\n\r\n' + OK('early body'), T0 + 10);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.method, r.request.path, r.status]), [
    ['CONNECT', 'backend.ns:80', 200],
    ['GET', '/early', 200],
  ]);
  assert.equal(recs[1].timestamp, T0);
  assert.equal(text(s.out[1].responseBody), 'early body');
});

test('Upgrade: websocket answered 101: one transaction, later bytes are not HTTP', () => {
  const s = session();
  s.c2s('GET /ws HTTP/1.1\r\nHost: svc.ns\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', T0);
  // The 101 and the first server frame in one segment; frames whose payloads look like HTTP.
  s.s2c('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x12HTTP/1.1 200 OK\r\n', T0 + 10);
  s.c2s(Buffer.concat([Buffer.from([0x81, 0x92, 1, 2, 3, 4]), Buffer.from(GET('/x'))]), T0 + 20);
  s.c2s(GET('/not-http'), T0 + 30);
  s.s2c(OK('not http either'), T0 + 40);
  s.h.gap(1, 100, T0 + 50);
  s.h.end('fin', T0 + 60);
  const recs = s.recs();
  assert.equal(recs.length, 1);
  assert.equal(recs[0].status, 101);
  assert.equal(recs[0].failed, false);
  assert.equal(recs[0].request.path, '/ws');
  assert.deepEqual(recs[0].notes, []);
  assert.deepEqual(s.stats.connections, { http: 1, 'upgrade to websocket': 1 });
});

test('an Upgrade refused (no 101): the requests after it are still parsed', () => {
  const s = session();
  s.c2s('GET /maybe-ws HTTP/1.1\r\nHost: svc.ns\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' + GET('/then'), T0);
  s.c2s(GET('/and-then'), T0 + 5);
  assert.equal(s.out.length, 0);
  s.s2c(status(426, 'Upgrade Required', 'use h2') + OK('then') + OK('and then'), T0 + 10);
  const recs = s.recs();
  assert.deepEqual(recs.map((r) => [r.request.path, r.status]), [['/maybe-ws', 426], ['/then', 200], ['/and-then', 200]]);
  assert.deepEqual(recs.map((r) => r.timestamp), [T0, T0, T0 + 5]);
  assert.deepEqual(s.out.map((t) => text(t.responseBody)), ['use h2', 'then', 'and then']);
  assert.deepEqual(s.stats.connections, { http: 1 });
});

test('the body storage cap: stored bodies are capped, sizes are the full sizes', () => {
  const s = session({ maxStoredBytes: 16 });
  const big = 'x'.repeat(100);
  s.c2s(`POST /big HTTP/1.1\r\nHost: svc.ns\r\nContent-Length: ${big.length}\r\n\r\n${big}`, T0);
  s.s2c('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n' + 'y'.repeat(50) + '\r\n32\r\n' + 'z'.repeat(50) + '\r\n0\r\n\r\n', T0 + 1);
  const [t] = s.out;
  assert.equal(text(t.requestBody), 'x'.repeat(16));
  assert.equal(t.record.request.bodySize, 100);
  assert.equal(t.record.request.wireBodySize, 100);
  assert.equal(text(t.responseBody), 'y'.repeat(16));
  assert.equal(t.record.response?.bodySize, 100);
  assert.equal(t.record.response?.wireBodySize, 100);
});

test('the body storage cap with an encoded body: the full wire size is kept, never the capped count', () => {
  const plain = Buffer.from('0123456789abcdef'.repeat(256));
  const wire = gzipSync(plain);
  assert.ok(wire.length > 16);
  const s = session({ maxStoredBytes: 16 });
  s.c2s(GET('/gz'), T0);
  s.s2c(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${wire.length}\r\n\r\n`), wire]), T0 + 1);
  s.c2s(GET('/next'), T0 + 2);
  s.s2c(OK('ok'), T0 + 3);
  const [t, next] = s.out;
  assert.ok(t.responseBody !== null && t.responseBody.length <= 16);
  assert.equal(t.record.response?.wireBodySize, wire.length);
  assert.notEqual(t.record.response?.bodySize, 16);
  assert.ok((t.record.response?.bodySize ?? 0) >= wire.length);
  assert.equal(t.record.notes.length, 1);
  assert.equal(next.record.request.path, '/next');
});

test('non-HTTP bytes (a TLS ClientHello): no transactions, counted as unrecognised', () => {
  const s = session();
  const hello = Buffer.concat([
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03]),
    Buffer.alloc(32, 0x5a),
    Buffer.from([0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]),
    Buffer.from([0x00, 0x0b, 0x00, 0x00, 0x07, 0x00, 0x05, 0x73, 0x76, 0x63, 0x2e, 0x6e, 0x73]),
  ]);
  const serverHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x31, 0x02]), Buffer.alloc(48, 0x33)]);
  s.c2s(hello, T0);
  s.s2c(serverHello, T0 + 1);
  s.c2s(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]), T0 + 2);
  s.h.end('fin', T0 + 3);
  assert.equal(s.out.length, 0);
  assert.deepEqual(s.stats.connections, { unrecognised: 1 });
  assert.equal(s.stats.unrecognisedBytes, hello.length + serverHello.length + 10);
});

test('non-HTTP bytes in one direction only: given up within bounds, not held to the end', () => {
  const s = session();
  let sent = 0;
  for (let i = 0; i < 300; i++) {
    const chunk = Buffer.alloc(1400, 0x41 + (i % 26));
    s.s2c(chunk, T0 + i);
    sent += chunk.length;
  }
  assert.deepEqual(s.stats.connections, { unrecognised: 1 }, 'given up before the end');
  assert.equal(s.stats.unrecognisedBytes, sent);
  s.h.end('fin', T0 + 1000);
  assert.deepEqual(s.stats.connections, { unrecognised: 1 });
  assert.equal(s.stats.unrecognisedBytes, sent);
  assert.equal(s.out.length, 0);
});

test('RTSP, which shares methods with HTTP, is not taken for HTTP/1', () => {
  const s = session();
  s.c2s('OPTIONS rtsp://cam.ns/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n', T0);
  s.s2c('RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n', T0 + 1);
  s.c2s('DESCRIBE rtsp://cam.ns/stream RTSP/1.0\r\nCSeq: 2\r\n\r\n', T0 + 2);
  s.h.end('fin', T0 + 3);
  assert.equal(s.out.length, 0);
  assert.deepEqual(s.stats.connections, { unrecognised: 1 });
});

test('a connection without payload is counted as such', () => {
  const s = session();
  s.h.end('fin', T0);
  assert.deepEqual(s.stats.connections, { 'no payload': 1 });
  assert.equal(s.out.length, 0);
});

test('a request with a method http-parser-js does not know: noted, and its response keeps its place', () => {
  const s = session();
  s.c2s('QUERY /search HTTP/1.1\r\nHost: svc.ns\r\nContent-Length: 0\r\n\r\n', T0);
  s.s2c(OK('query result'), T0 + 10);
  s.c2s(GET('/next'), T0 + 20);
  s.s2c(OK('next'), T0 + 30);
  s.h.end('fin', T0 + 40);
  const recs = s.recs();
  assert.equal(recs.length, 2);
  assert.equal(recs[0].status, 200);
  assert.equal(recs[0].timestamp, T0);
  assert.equal(text(s.out[0].responseBody), 'query result');
  assert.match(recs[0].notes.join('; '), /unparsable HTTP\/1 request \(invalid request method\)/);
  assert.equal(recs[1].request.path, '/next');
  assert.equal(text(s.out[1].responseBody), 'next');
  assert.deepEqual(recs[1].notes, []);
  assert.deepEqual(s.stats.connections, { http: 1 });
});

test('an unknown method pipelined before a known one: the requests after it are still found and paired', () => {
  const out: DissectedTransaction[] = [];
  const d = new Http1Dissector(fakeConn(), (t) => out.push(t));
  d.setRequestDirection(0, false);
  d.data(0, Buffer.from('QUERY /search HTTP/1.1\r\nHost: svc.ns\r\n\r\n' + GET('/next')), T0);
  d.data(1, Buffer.from(status(405, 'Method Not Allowed') + OK('next')), T0 + 10);
  d.end('fin', T0 + 20);
  assert.deepEqual(out.map((t) => [t.record.request.path, t.record.status]), [['', 405], ['/next', 200]]);
  assert.match(out[0].record.notes.join('; '), /invalid request method/);
  assert.equal(text(out[1].responseBody), 'next');
});

test('Http1Dissector driven directly: requests from the server side of the connection', () => {
  // A server that calls back its client over the same connection (reverse roles).
  const out: DissectedTransaction[] = [];
  const d = new Http1Dissector(fakeConn(), (t) => out.push(t));
  d.setRequestDirection(1, false);
  d.data(1, Buffer.from(GET('/reverse')), T0);
  d.data(0, Buffer.from(OK('r')), T0 + 1);
  d.end('fin', T0 + 2);
  assert.equal(out.length, 1);
  const r = out[0].record;
  assert.deepEqual([r.src.port, r.dst.port], [SERVER.port, CLIENT.port]);
  assert.equal(r.request.path, '/reverse');
  assert.equal(text(out[0].responseBody), 'r');
});

test('only the client side captured: requests waiting for responses are bounded, the oldest emitted with a note', () => {
  const out: DissectedTransaction[] = [];
  const d = new Http1Dissector(fakeConn(), (t) => out.push(t));
  d.setRequestDirection(0, false);
  const n = MAX_WAITING_REQUESTS + 100;
  for (let i = 0; i < n; i++) d.data(0, Buffer.from(GET(`/r/${i}`)), T0 + i);
  // Before the end: the 100 oldest have gone out already, unanswered, in order.
  assert.equal(out.length, 100);
  assert.deepEqual(out.map((t) => t.record.request.path), Array.from({ length: 100 }, (_, i) => `/r/${i}`));
  assert.ok(out.every((t) => t.record.response === null && t.record.notes.some((x) => /more than 1024 requests were waiting/.test(x))));
  d.end('fin', T0 + n);
  assert.equal(out.length, n);
  assert.equal(out[n - 1].record.request.path, `/r/${n - 1}`);
  assert.deepEqual(out[n - 1].record.notes, ['response missing']);
});
