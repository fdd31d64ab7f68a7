/**
 * The HTTP/1 fast path (http1-fast.ts) against http-parser-js: every capture in fixtures/ and in
 * the shared corpus analysed with the fast path on and off must give the same transactions and
 * the same report; crafted byte sequences, each aimed at one way the fast path must stand aside
 * or get a detail right, must give the same records field by field.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { listCaptureSources, type CaptureSource } from '../src/capture/index.js';
import { analyzeCaptures, type AnalysisResult } from '../src/dissect/pipeline.js';
import { Http1Dissector, setHttp1FastPath, type SwitchKind } from '../src/dissect/http1.js';
import { expandHeaders } from '../src/dissect/header-block.js';
import { DEFAULT_BODY_LIMITS } from '../src/dissect/body.js';
import type { DissectedTransaction } from '../src/dissect/record.js';
import type { Dir, StreamHandler } from '../src/net/tcp-reassembly.js';
import { T0, fakeConn } from './support/connection.js';
import { captureFiles, corpusDir, corpusPresent, corpusSkip, fixturesDir } from './support/paths.js';

// ---------------------------------------------------------------------------------------------
// Whole captures, both ways.

interface Outcome {
  txs: DissectedTransaction[];
  result: Omit<AnalysisResult, 'report'> & { report: Omit<AnalysisResult['report'], 'durationMs'> } | null;
  error: string | null;
}

async function analyzeWith(fast: boolean, sources: CaptureSource[]): Promise<Outcome & { raw: number }> {
  const was = setHttp1FastPath(fast);
  const txs: DissectedTransaction[] = [];
  let raw = 0;
  try {
    // Records as import gets them (blocks the fast path kept raw), expanded here once counted.
    const result = await analyzeCaptures(sources, (t) => {
      if (t.record.request.rawHeaders !== undefined) raw++;
      if (t.record.response?.rawHeaders !== undefined) raw++;
      txs.push({ ...t, record: expandHeaders(t.record) });
    }, { body: DEFAULT_BODY_LIMITS, collectStreams: true });
    const { durationMs: _, ...report } = result.report;
    return { txs, result: { ...result, report }, error: null, raw };
  } catch (e) {
    // An unreadable capture must fail the same way both ways.
    return { txs, result: null, error: e instanceof Error ? e.message : String(e), raw };
  } finally {
    setHttp1FastPath(was);
  }
}

/** HTTP/1 messages the fast path read, over all captures compared: to show it ran at all. */
let fastMessages = 0;

async function assertSameBothWays(sources: CaptureSource[]): Promise<void> {
  const slow = await analyzeWith(false, sources);
  const fast = await analyzeWith(true, sources);
  assert.equal(slow.raw, 0, 'with the fast path off no block travels raw');
  assert.equal(fast.error, slow.error);
  assert.equal(fast.txs.length, slow.txs.length, 'as many transactions');
  for (let i = 0; i < slow.txs.length; i++) assert.deepStrictEqual(fast.txs[i], slow.txs[i], `transaction ${i}`);
  assert.deepStrictEqual(fast.result, slow.result);
  fastMessages += fast.raw;
}

/** The file's sources; none when listing refuses it (not a capture): then nothing reaches a dissector. */
async function sourcesOf(file: string): Promise<CaptureSource[]> {
  try {
    return (await listCaptureSources([file])).sources;
  } catch {
    return [];
  }
}

describe('fast path on and off give the same analysis: fixtures', () => {
  const files = captureFiles(fixturesDir);
  it('finds the fixtures', () => assert.ok(files.length >= 20, `${files.length} capture files under fixtures/`));
  for (const f of files) {
    it(relative(fixturesDir, f), async () => assertSameBothWays(await sourcesOf(f)));
  }
  it('the fast path read most of the fixtures\' HTTP/1 messages', () => assert.ok(fastMessages > 500, `${fastMessages} messages`));
});

describe('fast path on and off give the same analysis: shared corpus', { skip: corpusSkip }, () => {
  const files = corpusPresent ? captureFiles(corpusDir) : [];
  for (const f of files) {
    it(relative(corpusDir, f), async () => assertSameBothWays(await sourcesOf(f)));
  }
});

// ---------------------------------------------------------------------------------------------
// Crafted bytes through one dissector, both ways.


/** One chunk handed to the dissector: direction 0 carries requests. */
type Step = { dir: Dir; bytes: string | Buffer; ts?: number } | { gap: Dir; length: number } | { end: 'fin' | 'rst' };

interface Run {
  txs: DissectedTransaction[];
  /** Raw blocks seen before expansion: how many messages the fast path read. */
  raw: number;
  switches: Array<{ how: string; protocol: string | null; headers: Array<[string, string]> | null; after: string }>;
}

function run(fast: boolean, steps: Step[]): Run {
  const txs: DissectedTransaction[] = [];
  let raw = 0;
  const switches: Run['switches'] = [];
  const d = new Http1Dissector(fakeConn(), (t) => {
    if (t.record.request.rawHeaders !== undefined) raw++;
    if (t.record.response?.rawHeaders !== undefined) raw++;
    expandHeaders(t.record);
    txs.push(t);
  }, { body: DEFAULT_BODY_LIMITS, fastPath: fast }, (how: SwitchKind) => {
    const s: Run['switches'][number] = {
      how: how.kind,
      protocol: how.kind === 'upgrade' ? how.protocol : null,
      headers: how.kind === 'upgrade' && how.request ? how.request.headers : null,
      after: '',
    };
    switches.push(s);
    const tail: StreamHandler = {
      data: (_dir, bytes) => { s.after += bytes.toString('latin1'); },
      gap: () => undefined,
      end: () => undefined,
    };
    return tail;
  });
  d.setRequestDirection(0, false);
  let ts = T0;
  for (const st of steps) {
    ts += 100;
    if ('gap' in st) d.gap(st.gap, st.length, ts);
    else if ('end' in st) d.end(st.end, ts);
    else {
      const b = typeof st.bytes === 'string' ? Buffer.from(st.bytes, 'latin1') : Buffer.from(st.bytes);
      d.data(st.dir, b, st.ts ?? ts);
      // The dissector may keep no view of a chunk: the reassembler reuses it.
      b.fill(0xee);
    }
  }
  if (!steps.some((s) => 'end' in s)) d.end('fin', ts + 100);
  return { txs, raw, switches };
}

/** Both ways through; the records must match field by field. Returns the fast run. */
function same(steps: Step[]): Run {
  const slow = run(false, steps);
  const fast = run(true, steps);
  assert.equal(slow.raw, 0, 'with the fast path off every block is split by the parser');
  assert.equal(fast.txs.length, slow.txs.length, 'as many transactions');
  for (let i = 0; i < slow.txs.length; i++) {
    const [a, b] = [fast.txs[i], slow.txs[i]];
    assert.deepStrictEqual(a.record.request, b.record.request, `transaction ${i}: request`);
    assert.deepStrictEqual(a.record.response, b.record.response, `transaction ${i}: response`);
    assert.deepStrictEqual(a.record.notes, b.record.notes, `transaction ${i}: notes`);
    assert.deepStrictEqual(a, b, `transaction ${i}`);
  }
  assert.deepStrictEqual(fast.switches, slow.switches);
  return fast;
}

const req = (path: string, extra = '', method = 'GET'): string => `${method} ${path} HTTP/1.1\r\nHost: svc.ns\r\nUser-Agent: t/1\r\n${extra}\r\n`;
const post = (path: string, body: string, extra = ''): string => req(path, `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}`, 'POST') + body;
const res = (body: string, extra = '', status = '200 OK'): string =>
  `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

test('keep-alive exchanges, one message a chunk: all read by the fast path, same records', () => {
  const r = same([
    { dir: 0, bytes: req('/a?x=1') }, { dir: 1, bytes: res('{"a":1}') },
    { dir: 0, bytes: post('/b', '{"b":2}') }, { dir: 1, bytes: res('{"ok":true}', 'X-Trace:  abc \t\r\nX-Empty:\r\nx-tab:\ta\tb\t\r\n') },
  ]);
  assert.equal(r.txs.length, 2);
  assert.equal(r.raw, 4, 'every message read by the fast path');
  const rec = r.txs[1].record;
  assert.equal(rec.request.headersSize, post('/b', '{"b":2}').length - 7, 'the head as sent, "name: value" lines');
  assert.deepEqual([rec.timestamp, rec.responseTimestamp, rec.request.bodySize, rec.response!.bodySize], [T0 + 300, T0 + 400, 7, 11]);
  assert.deepEqual(r.txs[1].record.response!.headers.slice(2), [['X-Trace', 'abc'], ['X-Empty', ''], ['x-tab', 'a\tb']]);
});

test('pipelined requests and responses, several in one chunk', () => {
  const r = same([
    { dir: 0, bytes: req('/1') + post('/2', 'body-2') + req('/3') },
    { dir: 1, bytes: res('one') + res('two', '', '201 Created') + res('three', '', '404 Not Found') },
  ]);
  assert.deepEqual(r.txs.map((t) => [t.record.request.path, t.record.status]), [['/1', 200], ['/2', 201], ['/3', 404]]);
  assert.equal(r.raw, 6);
});

test('a head split across chunks, and a chunk ending inside the next message: the parser takes over, same records', () => {
  const two = req('/x') + req('/y', 'Accept: */*\r\n');
  for (const cut of [3, 20, req('/x').length + 5, two.length - 2, two.length - 1]) {
    same([{ dir: 0, bytes: two.slice(0, cut) }, { dir: 0, bytes: two.slice(cut) }, { dir: 1, bytes: res('1') + res('22') }]);
  }
});

test('a body split across chunks: the message goes to the parser from its first byte', () => {
  const m = post('/up', 'x'.repeat(50));
  const r = same([{ dir: 0, bytes: req('/first') + m.slice(0, m.length - 10) }, { dir: 0, bytes: m.slice(m.length - 10) + req('/third') },
    { dir: 1, bytes: res('a') + res('b') }, { dir: 1, bytes: res('c').slice(0, 40) }, { dir: 1, bytes: res('c').slice(40) }]);
  assert.equal(r.txs.length, 3);
  assert.equal(r.txs[1].record.request.bodySize, 50);
  assert.ok(r.raw > 0 && r.raw < 6, 'some messages fast, some through the parser');
});

test('HEAD, 204 and 304 answers with a content-length carry no body; the next response follows', () => {
  const r = same([
    { dir: 0, bytes: req('/h', '', 'HEAD') + req('/n') + req('/m', 'If-None-Match: "x"\r\n') + req('/last') },
    { dir: 1, bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n' + 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n' + res('end') },
  ]);
  assert.deepEqual(r.txs.map((t) => [t.record.request.method, t.record.status, t.record.response!.bodySize]), [['HEAD', 200, 0], ['GET', 204, 0], ['GET', 304, 0], ['GET', 200, 3]]);
  assert.equal(r.raw, 8);
});

test('obs-fold, bare LF, a stray CR, a name with a space, high bytes, control bytes: the parser reads them, same records', () => {
  const heads = [
    'GET /fold HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n  two\r\n\r\n',
    'GET /lf HTTP/1.1\nHost: a\nAccept: */*\n\n',
    'GET /mixed HTTP/1.1\r\nHost: a\nAccept: */*\r\n\r\n',
    'GET /cr HTTP/1.1\r\nHost: a\rb\r\n\r\n',
    'GET /space HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n',
    'GET /high HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n',
    'GET /ctl HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\n\r\n',
    'GET /t\xe9st HTTP/1.1\r\nHost: a\r\n\r\n',
    '\r\nGET /leading-crlf HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET  /two-spaces HTTP/1.1\r\nHost: a\r\n\r\n',
    'get /lower HTTP/1.1\r\nHost: a\r\n\r\n',
    'QUERY /unknown-method HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /v HTTP/1.10\r\nHost: a\r\n\r\n',
    'GET /colon HTTP/1.1\r\n: novalue\r\nHost: a\r\n\r\n',
  ];
  for (const h of heads) {
    const r = same([{ dir: 0, bytes: h + req('/after') }, { dir: 1, bytes: res('1') + res('2') }]);
    assert.ok(r.txs.length >= 1, h);
  }
  const responses = [
    'HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx',
    'HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx',
    'HTTP/1.1 200  Two  Spaces\r\nContent-Length: 1\r\n\r\nx',
    'HTTP/1.1 2000 Four digits\r\nContent-Length: 1\r\n\r\nx',
    'HTTP/1.1 200 \xc9t\xe9\r\nContent-Length: 1\r\n\r\nx',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n X-Fold: y\r\n\r\nx',
    'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close',
  ];
  for (const h of responses) same([{ dir: 0, bytes: req('/q') }, { dir: 1, bytes: h }]);
});

test('content-length: duplicate equal, conflicting, not digits, empty, leading zeros, with spaces', () => {
  const cls = ['Content-Length: 3\r\nContent-Length: 3\r\n', 'Content-Length: 3\r\ncontent-length: 4\r\n', 'Content-Length: 3x\r\n',
    'Content-Length:\r\n', 'Content-Length: 003\r\n', 'Content-Length:  3  \r\n', 'CONTENT-LENGTH: 3\r\n', 'Content-Length: +3\r\n'];
  for (const cl of cls) {
    same([{ dir: 0, bytes: req('/r', cl, 'PUT') + 'abc' + req('/next') }, { dir: 1, bytes: res('1') + res('2') }]);
    same([{ dir: 0, bytes: req('/r') + req('/next') }, { dir: 1, bytes: `HTTP/1.1 200 OK\r\n${cl}\r\nabc` + res('2') }]);
  }
});

test('chunked bodies whole in the chunk are read by the fast path; odd ones by the parser; same records', () => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n00A\r\n0123456789\r\n1b\r\n' + 'z'.repeat(27) + '\r\n0\r\n\r\n';
  const r = same([{ dir: 0, bytes: req('/a') + req('/b') }, { dir: 1, bytes: chunked + res('bb') }]);
  assert.deepEqual(r.txs.map((t) => t.record.response!.bodySize), [40, 2]);
  assert.equal(r.raw, 4);
  const up = 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\nx\r\nf\r\n' + 'y'.repeat(15) + '\r\n0\r\n\r\n';
  assert.equal(same([{ dir: 0, bytes: up + req('/next') }, { dir: 1, bytes: res('1') + res('2') }]).raw, 4);
  const odd = [
    'Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n',
    'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n',
    'Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n',
    'Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n',
    'Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n',
    'Transfer-Encoding: chunked\r\n\r\nzz\r\n',
    'Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc',
    'Transfer-Encoding: chunked\r\ntransfer-encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n',
  ];
  for (const o of odd) {
    same([{ dir: 0, bytes: req('/a') + req('/b') }, { dir: 1, bytes: 'HTTP/1.1 200 OK\r\n' + o + res('next') }]);
    same([{ dir: 0, bytes: 'PUT /p HTTP/1.1\r\n' + o + req('/b') }, { dir: 1, bytes: res('1') + res('2') }]);
  }
  // Split anywhere: the message goes to the parser from its first byte.
  const two = chunked + res('bb');
  for (let cut = 40; cut < chunked.length + 5; cut += 7) {
    same([{ dir: 0, bytes: req('/a') + req('/b') }, { dir: 1, bytes: two.slice(0, cut) }, { dir: 1, bytes: two.slice(cut) }]);
  }
  // No body for HEAD, 204 and 304 whatever the coding says.
  same([{ dir: 0, bytes: req('/c') + req('/h', '', 'HEAD') + req('/n') },
    { dir: 1, bytes: chunked + 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + 'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n' }]);
  // What follows such an answer is the next message, even when it would read as a chunked body.
  const h = same([{ dir: 0, bytes: req('/h', '', 'HEAD') + req('/n') }, { dir: 1, bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' }]);
  assert.match(h.txs[1].record.notes.join('; '), /unparsable HTTP\/1 response/);
});

test('Upgrade: h2c answered 101: the request handed on with its headers, the bytes after go to the next protocol', () => {
  const up = req('/', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n');
  const r = same([
    { dir: 0, bytes: req('/before') }, { dir: 1, bytes: res('b') },
    { dir: 0, bytes: up }, { dir: 0, bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },
    { dir: 1, bytes: 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00' },
  ]);
  assert.equal(r.switches.length, 1);
  assert.equal(r.switches[0].protocol, 'h2c');
  assert.deepEqual(r.switches[0].headers?.find(([n]) => n === 'Upgrade'), ['Upgrade', 'h2c']);
  assert.match(r.switches[0].after, /^PRI \* HTTP\/2\.0/);
});

test('an Upgrade refused, a response announcing Upgrade, CONNECT: same records', () => {
  same([
    { dir: 0, bytes: req('/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\n') + req('/next') },
    { dir: 1, bytes: res('no', 'Upgrade: h2,h2c\r\nConnection: Upgrade\r\n', '426 Upgrade Required') + res('next') },
  ]);
  same([
    { dir: 0, bytes: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n' },
    { dir: 1, bytes: 'HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01' },
    { dir: 0, bytes: '\x16\x03\x01\x00' },
  ]);
});

test('100-continue: the interim answer is noted, the body after it read, same records', () => {
  const head = req('/upload', 'Expect: 100-continue\r\nContent-Length: 5\r\n', 'PUT');
  const r = same([
    { dir: 0, bytes: head }, { dir: 1, bytes: 'HTTP/1.1 100 Continue\r\n\r\n' }, { dir: 0, bytes: 'hello' + req('/next') },
    { dir: 1, bytes: res('done', '', '201 Created') + res('n') },
  ]);
  assert.match(r.txs[0].record.notes.join('; '), /interim response 100 Continue/);
  // The interim answer and the final one in one chunk.
  same([{ dir: 0, bytes: head + 'hello' }, { dir: 1, bytes: 'HTTP/1.1 100 Continue\r\n\r\n' + res('done') }]);
});

test('gaps, resets and responses without requests around fast-path messages: same records', () => {
  same([{ dir: 0, bytes: req('/a') }, { dir: 1, bytes: res('1') }, { gap: 0, length: 40 }, { dir: 0, bytes: req('/b') }, { dir: 1, bytes: res('2') + res('3') }]);
  same([{ dir: 1, bytes: res('orphan') }, { dir: 0, bytes: req('/late') }, { dir: 1, bytes: res('x') }]);
  same([{ dir: 0, bytes: req('/a') + post('/b', 'xy') }, { dir: 1, bytes: res('1') }, { end: 'rst' }]);
  same([{ dir: 0, bytes: post('/big', 'z'.repeat(200)) }, { dir: 1, bytes: res('q'.repeat(100)).slice(0, 90) }, { gap: 1, length: 30 }, { dir: 1, bytes: 'q'.repeat(20) + res('after') }]);
});

test('chunks past the parser\'s header-size limit keep its verdicts', () => {
  // http-parser-js counts a whole chunk against its 80 KiB head limit when the chunk ends between
  // or inside heads, even after finished messages; the fast path must leave those verdicts alone.
  const many = Array.from({ length: 700 }, (_, i) => req(`/p/${i}`, 'X-Pad: ' + 'p'.repeat(60) + '\r\n')).join('');
  assert.ok(many.length > 80 * 1024);
  same([{ dir: 0, bytes: many }, { dir: 1, bytes: Array.from({ length: 700 }, () => res('k')).join('') }]);
  same([{ dir: 0, bytes: many + 'GET /partial HTT' }, { dir: 0, bytes: 'P/1.1\r\n\r\n' }]);
  const half = many.slice(0, 50 * 1024);
  const cut = half.lastIndexOf('GET ');
  same([{ dir: 0, bytes: many.slice(0, cut) }, { dir: 0, bytes: many.slice(cut, cut + 40 * 1024) }, { dir: 0, bytes: many.slice(cut + 40 * 1024) }]);
  // The count a chunk of finished messages leaves behind decides whether a long head in the next
  // chunks passes: whether the chunk ended between messages or inside one.
  const sixty = many.slice(0, many.lastIndexOf('GET ', 60 * 1024));
  const longHead = ['GET /long HTTP/1.1\r\nX-Long: ', 'a'.repeat(25 * 1024), '\r\n\r\n'];
  const steps = (first: string, rest: string[]): Step[] => [first, ...rest].map((b) => ({ dir: 0, bytes: b }));
  const r1 = same(steps(sixty, longHead));
  const r2 = same(steps(sixty + longHead[0], longHead.slice(1)));
  for (const r of [r1, r2]) assert.match(r.txs.at(-1)!.record.notes.join('; '), /max header size exceeded/, 'the parser\'s verdict, kept');
});

test('every byte value in every lane of the four-byte value scan: the fast path reads or stands aside as the parser does', () => {
  // Values long enough for several words; the byte sits at each of a word's four places.
  for (let c = 0; c < 256; c++) {
    if (c === 0x0d || c === 0x0a) continue;
    for (let lane = 0; lane < 4; lane++) {
      const value = `${'v'.repeat(8 + lane)}${String.fromCharCode(c)}${'w'.repeat(9)}`;
      const head = `GET /b${c}-${lane} HTTP/1.1\r\nHost: a\r\nX-Byte: ${value}\r\n\r\n`;
      same([{ dir: 0, bytes: head }, { dir: 1, bytes: res('1') }]);
    }
  }
});
