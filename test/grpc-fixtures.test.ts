/**
 * End to end on the HTTP/2 and gRPC fixtures made from real peers by
 * scripts/make-h2-fixtures.ts: fixtures/grpc/ (grpc-js client and server, a
 * capture cut mid-connection) and fixtures/h2/ (Node's http2 with prior
 * knowledge, nghttpx answering HTTP/1.1 Upgrade: h2c). Each capture is imported
 * with the podcap command and every call the scripts made is checked field by
 * field against their expected.json, which records what the clients saw and
 * what tshark read on the wire.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { DEFAULT_BODY_LIMITS } from '../src/dissect/body.js';
import { headerValue, type GrpcDecodedMessage, type HeaderList, type TransactionRecord } from '../src/dissect/record.js';
import { Workspace, parseTxId } from '../src/store/workspace.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

// ---------------------------------------------------------------------------
// expected.json shapes (only what the tests read)

type Json = Record<string, unknown>;
type Fields = Record<string, string>;

interface GrpcCall {
  seq: number;
  name: string;
  service: string;
  method: string;
  path: string;
  type: 'unary' | 'server' | 'client' | 'bidi';
  connection: number;
  streamId: number;
  status: { code: number; name: string; message: string };
  requestMessages: number;
  responseMessages: number;
  compressed: boolean;
  requestEncoding: string;
  responseEncoding: string;
  deadlineMs: number | null;
  metadataSent: Fields;
  responseMetadata: Fields;
  trailingMetadata: Fields;
  request: Json | Json[];
  response: Json | Json[] | null;
  wire: {
    requestMessageLengths: number[];
    responseMessageLengths: number[];
    requestCompressedFlags: number[];
    responseCompressedFlags: number[];
    requestHeaders: Fields;
    responseHeaders: Fields | null;
    trailers: Fields | null;
    rstStream: Array<{ from: 'client' | 'server'; error: string }>;
  };
}

interface HpackBlock {
  block: 'request headers' | 'response headers' | 'trailers' | 'trailers-only response';
  decodable: string[];
  valueOnly: Array<{ name: string; value: string }>;
  lost: string[];
}

interface GrpcExpected {
  client: { channels: Array<{ connection: number; clientPort: number }> };
  server: { port: number };
  calls: GrpcCall[];
  captures: {
    'grpc.pcap': { calls: number[]; tshark: { grpcMessages: number; grpcMessageLengths: number[]; headersStreamPairs: number } };
    'grpc-midstream.pcap': {
      calls: number[];
      hpack: { calls: Array<{ seq: number; connection: number; streamId: number; headerBlocks: HpackBlock[] }> };
      expectedTolerant: { streams: number; grpcMessages: number; grpcMessageLengths: number[] };
    };
  };
}

interface H2Request {
  seq: number;
  name: string;
  requestId: string;
  method: string;
  path: string;
  group: 'sequential' | 'concurrent';
  streamId: number;
  requestBodySize: number;
  requestHeaders: Fields;
  status: number | null;
  responseHeaders: Fields;
  responseBodySize: number;
  responseBodySha256: string;
  trailers: Fields | null;
  reset: { code: number; name: string; by: 'client' | 'server' } | null;
}

interface UpgradeRequest {
  client: string;
  connection: number;
  requestId: string;
  method: string;
  path: string;
  streamId: number;
  viaUpgrade: boolean;
  status: number;
  requestBodySize: number;
  responseBodySize: number;
}

interface H2Expected {
  captures: {
    'h2c-prior-knowledge.pcap': {
      client: { clientPort: number };
      server: { port: number };
      requests: H2Request[];
      goaway: { wire: Array<{ from: 'client' | 'server'; lastStreamId: number; error: string; debug: string }> };
      tshark: { headersStreamPairs: number };
    };
    'h2c-upgrade.pcap': {
      connections: Array<{ connection: number; clientPort: number; tcpStream: number }>;
      requests: UpgradeRequest[];
      priorityOnlyStreams: string[];
      tshark: { headersStreamPairs: number };
    };
  };
}

const grpcDir = join(fixturesDir, 'grpc');
const h2Dir = join(fixturesDir, 'h2');
const G: GrpcExpected = JSON.parse(readFileSync(join(grpcDir, 'expected.json'), 'utf8'));
const H: H2Expected = JSON.parse(readFileSync(join(h2Dir, 'expected.json'), 'utf8'));

// ---------------------------------------------------------------------------
// helpers

function importCalls(file: string, dir: string, proto: boolean): TransactionRecord[] {
  const imp = podcap(['import', file, '-w', dir, ...(proto ? ['--proto', grpcDir] : [])]);
  assert.equal(imp.code, 0, imp.stderr);
  const out = podcap(['calls', '--json', '--limit', '1000', '-w', dir]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as TransactionRecord[];
}

function show(id: string, dir: string, extra: string[] = []): TransactionRecord {
  const r = podcap(['show', id, '--json', '-w', dir, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TransactionRecord;
}

/** A header list as a map, names lower-cased (each name appears once in these captures). */
function fieldMap(h: HeaderList | undefined | null): Fields {
  const out: Fields = {};
  for (const [n, v] of h ?? []) {
    assert.ok(!(n.toLowerCase() in out), `header ${n} appears once`);
    out[n.toLowerCase()] = v;
  }
  return out;
}

/** Every expected field is in the list with its value (names compared case-insensitively). */
function assertHasFields(h: HeaderList, want: Fields, what: string): void {
  for (const [n, v] of Object.entries(want)) assert.equal(headerValue(h, n), v, `${what}: ${n}`);
}

const framed = (lengths: number[]): number => lengths.reduce((a, n) => a + 5 + n, 0);

const channelPort = (connection: number): number => {
  const ch = G.client.channels.find((c) => c.connection === connection);
  assert.ok(ch, `channel of connection ${connection}`);
  return ch.clientPort;
};

function findGrpc(calls: TransactionRecord[], e: { connection: number; streamId: number; name?: string }): TransactionRecord {
  const port = channelPort(e.connection);
  const found = calls.filter((c) => c.src.port === port && c.http2?.streamId === e.streamId);
  assert.equal(found.length, 1, `one transaction for ${e.name ?? ''} (connection ${e.connection}, stream ${e.streamId})`);
  return found[0];
}

/** The messages a decoded entry list holds for one side, in order. */
const side = (d: GrpcDecodedMessage[], from: 'client' | 'server'): GrpcDecodedMessage[] => d.filter((m) => m.from === from);
const asList = <T>(v: T | T[] | null): T[] => (v === null ? [] : Array.isArray(v) ? v : [v]);

// ---------------------------------------------------------------------------
// Comparing decoded protobuf JSON with the fixture's JSON. The fixture writes
// proto field names (snake_case) and sometimes fields at their proto3 default
// that the sender never put on the wire; podcap shows protobufjs's
// lowerCamelCase names and, proto3 fields having implicit presence, no scalar
// at its default. The schema (shop.proto) maps one onto the other: names by the
// field, map keys left alone, and a field may be missing only when its expected
// value is the default (if the schema-less decode of the same bytes shows it on
// the wire, it holds that default there).

const root = protobuf.loadSync(join(grpcDir, 'shop.proto'));
root.resolveAll();
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const isDefault = (v: unknown): boolean => v === 0 || v === false || v === '' || v === '0' || (Array.isArray(v) && v.length === 0);

function expectMessage(type: protobuf.Type, exp: Json, got: unknown, wire: Json | null, where: string): void {
  assert.ok(got !== null && typeof got === 'object' && !Array.isArray(got), `${where}: an object`);
  const g = got as Json;
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(exp)) {
    const f = type.fields[camel(key)];
    assert.ok(f, `${where}: ${key} is a field of ${type.fullName}`);
    seen.add(f.name);
    const w = wire ? wire[String(f.id)] : undefined;
    if (!(f.name in g)) {
      // proto3 implicit presence: a scalar at its default is not shown, whether or not the
      // sender wrote it (grpc-js's protobufjs 7 writes explicit zeros, protobufjs 8 reads them as unset).
      assert.ok(isDefault(value) && !(f.resolvedType instanceof protobuf.Type), `${where}.${f.name} decoded (expected ${JSON.stringify(value)})`);
      if (wire && w !== undefined) expectField(f, value, value, w, `${where}.${f.name}`);
      continue;
    }
    if (wire) assert.notEqual(w, undefined, `${where}: field ${f.id} (${f.name}) in the schema-less decode`);
    expectField(f, value, g[f.name], wire ? w : null, `${where}.${f.name}`);
  }
  for (const k of Object.keys(g)) assert.ok(seen.has(k), `${where}: unexpected field ${k}`);
}

function expectField(f: protobuf.Field, exp: unknown, got: unknown, wire: unknown, where: string): void {
  if (f.map) {
    // Map keys are data, not field names: compared as they are.
    assert.deepEqual(got, exp, where);
    if (wire !== null) {
      const entries = asList(wire as Json | Json[]).map((e) => [e['1'], e['2']]);
      assert.deepEqual(Object.fromEntries(entries), exp, `${where} (schema-less map entries)`);
    }
    return;
  }
  if (f.repeated) {
    assert.ok(Array.isArray(exp) && Array.isArray(got), `${where}: a list`);
    assert.equal(got.length, exp.length, `${where}: length`);
    const w = wire === null ? null : asList(wire);
    if (w) assert.equal(w.length, exp.length, `${where}: schema-less length`);
    exp.forEach((e, i) => expectOne(f, e, got[i], w ? w[i] : null, `${where}[${i}]`));
    return;
  }
  expectOne(f, exp, got, wire, where);
}

function expectOne(f: protobuf.Field, exp: unknown, got: unknown, wire: unknown, where: string): void {
  if (f.resolvedType instanceof protobuf.Type) {
    return expectMessage(f.resolvedType, exp as Json, got, wire === null ? null : (wire as Json), where);
  }
  assert.deepEqual(got, exp, where);
  if (wire === null) return;
  // Schema-less: varints are numbers (or strings past 2^53), doubles read as doubles, bools 0/1, enums by number.
  if (f.resolvedType instanceof protobuf.Enum) assert.equal(wire, f.resolvedType.values[exp as string], `${where} (schema-less enum)`);
  else if (f.type === 'bool') assert.equal(wire, exp ? 1 : 0, `${where} (schema-less bool)`);
  else if (f.type === 'int64' || f.type === 'int32') assert.equal(BigInt.asIntN(64, BigInt(wire as string | number)), BigInt(exp as string | number), `${where} (schema-less varint)`);
  else if (f.type === 'bytes') assert.ok(wire === exp || wire === Buffer.from(exp as string, 'base64').toString('utf8'), `${where} (schema-less bytes): ${JSON.stringify(wire)}`);
  else assert.equal(wire, exp, `${where} (schema-less)`);
}

// ---------------------------------------------------------------------------
// fixtures/grpc/grpc.pcap: every call, from its start

describe('fixture grpc/grpc.pcap', () => {
  const ws = tempWorkspace();
  const bare = tempWorkspace();
  let calls: TransactionRecord[] = [];
  let bareCalls: TransactionRecord[] = [];
  const expected = G.calls.filter((c) => G.captures['grpc.pcap'].calls.includes(c.seq));
  before(() => {
    calls = importCalls(join(grpcDir, 'grpc.pcap'), ws.dir, true);
    bareCalls = importCalls(join(grpcDir, 'grpc.pcap'), bare.dir, false);
  });
  after(() => {
    ws.cleanup();
    bare.cleanup();
  });

  it('has one gRPC transaction per call the client made, and nothing else', () => {
    assert.equal(calls.length, expected.length);
    assert.equal(calls.length, G.captures['grpc.pcap'].tshark.headersStreamPairs);
    for (const c of calls) assert.equal(c.protocol, 'grpc', c.id);
    const seen = new Set(expected.map((e) => findGrpc(calls, e).id));
    assert.equal(seen.size, expected.length);
    // Every gRPC message tshark counted, with its length.
    const all = calls.flatMap((c) => c.grpc!.messages.map((m) => m.size));
    assert.equal(all.length, G.captures['grpc.pcap'].tshark.grpcMessages);
    assert.deepEqual([...all].sort((a, b) => a - b), [...G.captures['grpc.pcap'].tshark.grpcMessageLengths].sort((a, b) => a - b));
  });

  for (const e of expected) {
    it(`call ${e.seq} ${e.name}: service, method, status, messages, headers, trailers`, () => {
      const r = findGrpc(calls, e);
      const g = r.grpc!;
      assert.ok(g, 'gRPC detail');
      assert.equal(r.protocol, 'grpc');
      assert.equal(r.request.method, 'POST');
      assert.equal(r.request.path, e.path);
      assert.equal(g.service, e.service);
      assert.equal(g.method, e.method);
      assert.equal(r.src.port, channelPort(e.connection));
      assert.equal(r.dst.port, G.server.port);
      assert.equal(r.http2?.streamId, e.streamId);
      assert.equal(r.http2?.pushed, false);

      // Messages: counts, each one's wire length and compressed flag, per direction, in order.
      const mine = (from: 'client' | 'server') => g.messages.filter((m) => m.from === from);
      assert.equal(g.requestMessages, e.requestMessages);
      assert.equal(g.responseMessages, e.responseMessages);
      assert.deepEqual(mine('client').map((m) => m.size), e.wire.requestMessageLengths);
      assert.deepEqual(mine('server').map((m) => m.size), e.wire.responseMessageLengths);
      assert.deepEqual(mine('client').map((m) => (m.compressed ? 1 : 0)), e.wire.requestCompressedFlags);
      assert.deepEqual(mine('server').map((m) => (m.compressed ? 1 : 0)), e.wire.responseCompressedFlags);
      assert.equal(g.encoding, e.requestEncoding === 'identity' ? null : e.requestEncoding);
      // Each message's offset is where its prefix starts in its side's body.
      for (const from of ['client', 'server'] as const) {
        let at = 0;
        for (const m of mine(from)) {
          assert.equal(m.offset, at, `${from} message offset`);
          at += 5 + m.size;
        }
      }
      assert.equal(r.request.bodySize, framed(e.wire.requestMessageLengths));

      // Metadata sent, every request header on the wire (case-insensitive), authorization kept.
      assertHasFields(r.request.headers, e.metadataSent, 'metadata sent');
      assertHasFields(r.request.headers, e.wire.requestHeaders, 'request headers');
      assert.equal(r.request.headers.length, Object.keys(e.wire.requestHeaders).length, 'no other request header');
      if (e.metadataSent.authorization) assert.equal(headerValue(r.request.headers, 'Authorization'), e.metadataSent.authorization);
      if (e.deadlineMs !== null) {
        const t = headerValue(r.request.headers, 'grpc-timeout');
        assert.match(t ?? '', /^\d+m$/);
        assert.ok(Math.abs(parseInt(t!, 10) - e.deadlineMs) <= 2, `grpc-timeout ${t} ~ ${e.deadlineMs} ms`);
      }

      // Timing: from the request's first frame to the response's last, messages in between.
      if (r.response) {
        assert.ok(r.responseTimestamp !== null && r.responseTimestamp > r.timestamp);
        assert.equal(r.elapsedTime, (r.responseTimestamp - r.timestamp) / 1000);
        for (const m of g.messages) assert.ok(m.ts >= r.timestamp && m.ts <= r.responseTimestamp, 'message within the call');
      }
      for (let i = 1; i < g.messages.length; i++) assert.ok(g.messages[i].ts >= g.messages[i - 1].ts, 'messages in time order');

      if (e.name === 'unary-deadline') return deadlineCall(r, e);

      assert.equal(r.status, e.status.code);
      assert.equal(r.failed, e.status.code !== 0);
      assert.equal(g.statusName, e.status.name);
      assert.equal(g.grpcStatus, Number(e.wire.trailers!['grpc-status']));
      assert.equal(g.message, e.status.message);
      assert.equal(g.message, decodeURIComponent(e.wire.trailers!['grpc-message']));
      assert.deepEqual(r.notes, []);
      assert.equal(r.http2?.resetCode, null);
      assert.equal(r.http2?.resetBy, null);
      assert.deepEqual(e.wire.rstStream, []);
      assert.ok(r.response, 'a response');
      assert.equal(r.response.status, 200);
      assert.equal(r.response.bodySize, framed(e.wire.responseMessageLengths));
      if (e.wire.responseHeaders) {
        assert.deepEqual(fieldMap(r.response.headers), e.wire.responseHeaders);
        assert.deepEqual(fieldMap(r.response.trailers), e.wire.trailers);
        assertHasFields(r.response.headers, e.responseMetadata, 'response metadata');
        assertHasFields(r.response.trailers!, e.trailingMetadata, 'trailing metadata');
      } else {
        // Trailers-only: grpc-status comes in the only HEADERS the server sent.
        assert.deepEqual(fieldMap(r.response.headers), e.wire.trailers);
        assert.equal(r.response.trailers, undefined);
        assertHasFields(r.response.headers, e.trailingMetadata, 'trailing metadata');
      }
    });
  }

  /** The wire differs between runs: the server's grpc-status 4 may arrive before or after the client's RST_STREAM. */
  function deadlineCall(r: TransactionRecord, e: GrpcCall): void {
    const g = r.grpc!;
    assert.equal(e.status.code, 4);
    assert.equal(r.status, 4);
    assert.equal(g.statusName, 'DEADLINE_EXCEEDED');
    assert.equal(r.failed, true);
    const rst = e.wire.rstStream.find((x) => x.from === 'client');
    if (g.grpcStatus !== null) {
      assert.ok(e.wire.trailers, 'the server sent grpc-status in this capture');
      assert.equal(g.grpcStatus, Number(e.wire.trailers['grpc-status']));
      assert.equal(g.message, decodeURIComponent(e.wire.trailers['grpc-message']));
    } else {
      // Reset by the client at its deadline, before the server's status reached the capture point.
      assert.ok(rst, 'the client reset the stream');
      assert.equal(r.http2?.resetCode, rst.error);
      assert.equal(r.http2?.resetBy, 'client');
      assert.equal(g.message, null);
      assert.ok(r.notes.some((n) => /deadline \(grpc-timeout \d+m\) passed/.test(n)), r.notes.join('; '));
      assert.ok(r.notes.includes(`stream reset by the client: ${rst.error}`), r.notes.join('; '));
      assert.equal(r.notes.filter((n) => n.startsWith('no grpc-status')).length, 0, 'no generic no-status note');
    }
  }

  it('decodes every call\'s messages with shop.proto to the JSON the client sent and received', () => {
    for (const e of expected) {
      const r = findGrpc(calls, e);
      const full = show(r.id, ws.dir, ['--proto', grpcDir]);
      const decoded = full.grpc!.decoded!;
      assert.equal(decoded.length, r.grpc!.messages.length, e.name);
      // The same call, imported without .proto files: decoded schema-less.
      const bareRec = findGrpc(bareCalls, e);
      const plain = show(bareRec.id, bare.dir).grpc!.decoded!;
      assert.equal(plain.length, decoded.length);
      for (const [from, want, typeName] of [['client', e.request, 'shop.v1.' + reqType(e)], ['server', e.response, 'shop.v1.' + resType(e)]] as const) {
        const got = side(decoded, from);
        const raw = side(plain, from);
        const wants = asList(want);
        assert.equal(got.length, wants.length, `${e.name} ${from} messages`);
        const lengths = from === 'client' ? e.wire.requestMessageLengths : e.wire.responseMessageLengths;
        for (const [i, w] of wants.entries()) {
          const where = `${e.name} ${from}[${i}]`;
          assert.equal(got[i].size, lengths[i], `${where} size`);
          assert.equal(got[i].type, typeName, where);
          assert.equal(raw[i].type, null, where);
          if (e.name === 'unary-big' && from === 'server') {
            bigMessage(r, got[i], raw[i], lengths[i]);
            continue;
          }
          assert.equal(got[i].decoding, 'proto', `${where}: ${got[i].error}`);
          assert.equal(got[i].error, null, where);
          assert.equal(raw[i].decoding, 'schemaless', where);
          assert.equal(raw[i].error, null, where);
          expectMessage(root.lookupType(typeName), w as Json, got[i].json, raw[i].json as Json, where);
        }
      }
    }
  });

  /** The 3 MiB message is counted with its size but not stored past the body cap. */
  function bigMessage(r: TransactionRecord, got: GrpcDecodedMessage, raw: GrpcDecodedMessage, length: number): void {
    assert.ok(length + 5 > DEFAULT_BODY_LIMITS.maxStoredBytes, 'the fixture message is larger than the store keeps');
    for (const d of [got, raw]) {
      assert.equal(d.size, length);
      assert.equal(d.decoding, 'none');
      assert.equal(d.json, null);
      assert.match(d.error ?? '', /^not stored/);
    }
    assert.equal(r.response?.bodySize, length + 5);
    assert.equal(r.response?.wireBodySize, length + 5);
  }

  it('stores the 3 MiB response only up to the body cap', async () => {
    const e = expected.find((c) => c.name === 'unary-big')!;
    const r = findGrpc(calls, e);
    const ref = parseTxId(r.id)!;
    const w = await Workspace.open(ws.dir);
    try {
      const body = w.getBody(ref.snapshot, ref.seq, 'response');
      assert.ok(body);
      assert.equal(body.length, DEFAULT_BODY_LIMITS.maxStoredBytes);
      // What is stored is the start of the message: its 5-byte prefix and the first fields.
      assert.equal(body[0], 0);
      assert.equal(body.readUInt32BE(1), e.wire.responseMessageLengths[0]);
    } finally {
      await w.close();
    }
  });

  it('show without --proto decodes with the .proto files given at import', () => {
    const e = expected.find((c) => c.name === 'unary-ok')!;
    const d = show(findGrpc(calls, e).id, ws.dir).grpc!.decoded!;
    assert.deepEqual(d.map((m) => [m.decoding, m.type]), [['proto', 'shop.v1.GetProductRequest'], ['proto', 'shop.v1.Product']]);
    assert.deepEqual(d[0].json, e.request);
  });

  it('decompresses the gzip call\'s request message', () => {
    const e = expected.find((c) => c.requestEncoding === 'gzip')!;
    assert.ok(e && e.compressed);
    const r = findGrpc(calls, e);
    assert.equal(r.grpc!.encoding, 'gzip');
    assert.equal(headerValue(r.request.headers, 'grpc-encoding'), 'gzip');
    const d = show(r.id, ws.dir, ['--proto', grpcDir]).grpc!.decoded!;
    const req = side(d, 'client')[0];
    assert.equal(req.size, e.wire.requestMessageLengths[0], 'the compressed length on the wire');
    assert.ok(req.size < (e as unknown as { requestSizes: number[] }).requestSizes[0], 'smaller than the serialized message');
    assert.equal(req.decoding, 'proto', req.error ?? '');
    assert.deepEqual(req.json, e.request);
  });

  it('lists the calls in the human table with their gRPC status', () => {
    const out = podcap(['calls', '-w', ws.dir]);
    assert.equal(out.code, 0, out.stderr);
    for (const e of expected) assert.ok(out.stdout.includes(`gRPC ${e.service}/${e.method}`), e.name);
    assert.ok(out.stdout.includes('14 UNAVAILABLE ✗'));
    assert.ok(out.stdout.includes('4 DEADLINE_EXCEEDED ✗'));
  });
});

function method(e: GrpcCall): protobuf.Method {
  const svc = root.lookupService(e.service);
  const m = svc.methods[e.method];
  assert.ok(m, `${e.service}/${e.method} in shop.proto`);
  return m;
}
const reqType = (e: GrpcCall): string => method(e).requestType;
const resType = (e: GrpcCall): string => method(e).responseType;

// ---------------------------------------------------------------------------
// fixtures/grpc/grpc-midstream.pcap: connection 1 caught mid-connection (no
// preface, no SETTINGS, no HPACK history), connection 2 whole. What each call
// can show is derived from expected.json's per-block account of which header
// fields a decoder starting at the cut can still read.

describe('fixture grpc/grpc-midstream.pcap', () => {
  const ws = tempWorkspace();
  let calls: TransactionRecord[] = [];
  const mid = G.captures['grpc-midstream.pcap'];
  before(() => {
    calls = importCalls(join(grpcDir, 'grpc-midstream.pcap'), ws.dir, true);
  });
  after(() => ws.cleanup());

  /** Connections whose start was cut: those with a header field lost to missing history. */
  const cutConnections = new Set(mid.hpack.calls.filter((c) => c.headerBlocks.some((b) => b.lost.length + b.valueOnly.length > 0)).map((c) => c.connection));

  it('has one transaction per call that started after the cut, with every gRPC message', () => {
    assert.equal(calls.length, mid.calls.length);
    assert.equal(calls.length, mid.expectedTolerant.streams);
    const ordered = mid.calls.map((seq) => G.calls.find((c) => c.seq === seq)!);
    const lengths = ordered.flatMap((e) => {
      const g = findGrpc(calls, e).grpc!;
      return [...g.messages.filter((m) => m.from === 'client'), ...g.messages.filter((m) => m.from === 'server')].map((m) => m.size);
    });
    assert.equal(lengths.length, mid.expectedTolerant.grpcMessages);
    assert.deepEqual(lengths, mid.expectedTolerant.grpcMessageLengths);
  });

  for (const h of mid.hpack.calls) {
    const e = G.calls.find((c) => c.seq === h.seq)!;
    it(`call ${e.seq} ${e.name}: what the capture allows`, () => {
      const r = findGrpc(calls, e);
      const g = r.grpc!;
      assert.ok(g, 'found to be gRPC');
      assert.equal(r.protocol, 'grpc');
      assert.equal(g.service, e.service, 'service from :path');
      assert.equal(g.method, e.method, 'method from :path');
      assert.equal(r.request.path, e.path);
      assert.equal(r.src.port, channelPort(e.connection), 'the client found from the headers');
      assert.equal(r.dst.port, G.server.port);
      assert.deepEqual(g.messages.filter((m) => m.from === 'client').map((m) => m.size), e.wire.requestMessageLengths);
      assert.deepEqual(g.messages.filter((m) => m.from === 'server').map((m) => m.size), e.wire.responseMessageLengths);
      assert.equal(r.request.bodySize, framed(e.wire.requestMessageLengths));

      // Each header block the record holds: decodable fields with their values, value-only fields
      // under a placeholder name, lost fields absent, nothing else.
      let undecodable = 0;
      let finalBlock: HpackBlock | null = null;
      for (const b of h.headerBlocks) {
        const [list, truth] = blockOf(r, e, b.block);
        if (list === null) {
          // Only a stream reset before the server's block arrived may leave it out.
          assert.ok(r.http2?.resetCode, `${b.block} missing without a reset`);
          continue;
        }
        if (b.block === 'trailers' || b.block === 'trailers-only response') finalBlock = b;
        for (const n of b.decodable) assert.equal(headerValue(list, n), truth[n], `${b.block}: ${n} decoded`);
        for (const n of b.lost) assert.equal(headerValue(list, n), null, `${b.block}: ${n} not invented`);
        for (const v of b.valueOnly) {
          assert.equal(headerValue(list, v.name), null, `${b.block}: ${v.name} name unknown`);
          assert.ok(list.some(([n, val]) => n.startsWith(':unknown-name-') && val === v.value), `${b.block}: value of ${v.name} kept`);
        }
        assert.equal(list.length, b.decodable.length + b.valueOnly.length, `${b.block}: ${JSON.stringify(list)}`);
        undecodable += b.lost.length + b.valueOnly.length;
      }

      const cut = cutConnections.has(e.connection);
      assert.equal(r.notes.includes('capture started mid-connection'), cut);
      if (undecodable > 0) assert.ok(r.notes.includes(`${undecodable} header fields not decodable (HPACK history before the capture)`), r.notes.join('; '));
      else assert.ok(!r.notes.some((n) => n.includes('not decodable')), r.notes.join('; '));
      const request = h.headerBlocks.find((b) => b.block === 'request headers')!;
      assert.equal(r.notes.includes('gRPC inferred from :path (content-type not decodable)'), request.lost.includes('content-type'));
      if (request.decodable.includes('authorization')) assert.equal(headerValue(r.request.headers, 'authorization'), e.metadataSent.authorization);

      // The status: decoded when grpc-status is, else the deadline or reset tells, else unknown.
      const statusDecodable = finalBlock?.decodable.includes('grpc-status') ?? false;
      const statusValueOnly = finalBlock?.valueOnly.some((v) => v.name === 'grpc-status') ?? false;
      if (statusDecodable) {
        assert.equal(r.status, e.status.code);
        assert.equal(g.grpcStatus, e.status.code);
        assert.equal(g.statusName, e.status.name);
        assert.equal(r.failed, e.status.code !== 0);
        assert.equal(g.message, finalBlock!.decodable.includes('grpc-message') ? e.status.message : null);
        assert.ok(!r.notes.some((n) => n.includes('outcome unknown')));
      } else if (statusValueOnly) {
        assert.equal(r.status, e.status.code);
        assert.equal(r.failed, e.status.code !== 0);
        assert.ok(r.notes.includes('grpc-status read from an unnamed trailer (HPACK history before the capture)'), r.notes.join('; '));
      } else if (finalBlock === null && r.http2?.resetCode) {
        // The client's RST_STREAM at its deadline ended the call before the server's answer.
        assert.equal(e.status.code, 4);
        assert.ok(request.decodable.includes('grpc-timeout'), 'the deadline is readable');
        assert.equal(r.status, 4);
        assert.equal(g.statusName, 'DEADLINE_EXCEEDED');
        assert.equal(r.failed, true);
        assert.deepEqual([r.http2.resetCode, r.http2.resetBy], [e.wire.rstStream[0].error, e.wire.rstStream[0].from]);
        assert.ok(r.notes.some((n) => /deadline \(grpc-timeout \d+m\) passed/.test(n)), r.notes.join('; '));
      } else {
        assert.ok(finalBlock?.lost.includes('grpc-status'), 'grpc-status lost');
        assert.equal(r.status, -1);
        assert.equal(g.grpcStatus, null);
        assert.equal(g.statusName, 'UNDECODED');
        assert.equal(g.message, null);
        assert.equal(r.failed, false);
        assert.ok(r.notes.includes('grpc-status not decodable (HPACK history before the capture): outcome unknown'), r.notes.join('; '));
      }
      if (!cut) assert.deepEqual(r.notes, []);
    });
  }

  it('decodes the messages of a call found only by its :path with shop.proto', () => {
    const e = G.calls.find((c) => c.name === 'server-stream')!;
    const r = findGrpc(calls, e);
    const d = show(r.id, ws.dir, ['--proto', grpcDir]).grpc!.decoded!;
    assert.equal(d.length, 1 + e.responseMessages);
    for (const m of d) assert.equal(m.decoding, 'proto', m.error ?? '');
    const camelRequest = Object.fromEntries(Object.entries(e.request as Json).map(([k, v]) => [camel(k), v]));
    assert.deepEqual(side(d, 'client')[0].json, camelRequest);
    assert.deepEqual(side(d, 'server').map((m) => (m.json as Json).sku), (e.response as Json[]).map((p) => p.sku));
  });
});

/** A block of a call as the record holds it, and as the whole capture has it. */
function blockOf(r: TransactionRecord, e: GrpcCall, block: HpackBlock['block']): [HeaderList | null, Fields] {
  switch (block) {
    case 'request headers':
      return [r.request.headers, e.wire.requestHeaders];
    case 'response headers':
      return [r.response?.headers ?? null, e.wire.responseHeaders ?? {}];
    case 'trailers':
      return [r.response?.trailers ?? null, e.wire.trailers ?? {}];
    case 'trailers-only response':
      return [r.response && !r.response.trailers ? r.response.headers : null, e.wire.trailers ?? {}];
  }
}

// ---------------------------------------------------------------------------
// fixtures/h2/h2c-prior-knowledge.pcap

describe('fixture h2/h2c-prior-knowledge.pcap', () => {
  const ws = tempWorkspace();
  let calls: TransactionRecord[] = [];
  const cap = H.captures['h2c-prior-knowledge.pcap'];
  before(() => {
    calls = importCalls(join(h2Dir, 'h2c-prior-knowledge.pcap'), ws.dir, false);
  });
  after(() => ws.cleanup());

  const find = (streamId: number): TransactionRecord => {
    const f = calls.filter((c) => c.http2?.streamId === streamId);
    assert.equal(f.length, 1, `one transaction on stream ${streamId}`);
    return f[0];
  };

  it('has one transaction per stream the client opened', () => {
    assert.equal(calls.length, cap.requests.length);
    assert.equal(calls.length, cap.tshark.headersStreamPairs);
    assert.deepEqual(calls.map((c) => c.http2!.streamId).sort((a, b) => a - b), cap.requests.map((q) => q.streamId).sort((a, b) => a - b));
    for (const c of calls) assert.equal(c.protocol, 'http2');
  });

  for (const q of cap.requests) {
    it(`request ${q.seq} ${q.name}: method, path, status, bodies, trailers, reset`, () => {
      const r = find(q.streamId);
      assert.equal(r.src.port, cap.client.clientPort);
      assert.equal(r.dst.port, cap.server.port);
      assert.equal(r.request.method, q.method);
      assert.equal(r.request.path, q.path);
      assert.equal(r.request.version, 'HTTP/2');
      assert.equal(headerValue(r.request.headers, 'x-request-id'), q.requestId);
      assertHasFields(r.request.headers, q.requestHeaders, 'request headers');
      assert.equal(r.request.bodySize, q.requestBodySize);
      assert.equal(r.http2?.pushed, false);
      if (q.reset) {
        assert.equal(r.http2?.resetCode, q.reset.name);
        assert.equal(r.http2?.resetBy, q.reset.by);
        assert.ok(r.notes.includes(`stream reset by the ${q.reset.by}: ${q.reset.name}`), r.notes.join('; '));
      } else {
        assert.equal(r.http2?.resetCode, null);
        assert.equal(r.http2?.resetBy, null);
        assert.deepEqual(r.notes, []);
      }
      assert.equal(r.failed, q.status === null || q.status >= 500 || q.reset !== null);
      if (q.status === null) {
        assert.equal(r.response, null);
        assert.equal(r.elapsedTime, null);
        assert.equal(r.status, 0);
        return;
      }
      assert.ok(r.response);
      assert.equal(r.status, q.status);
      assert.equal(r.response.status, q.status);
      assert.equal(r.response.bodySize, q.responseBodySize);
      assertHasFields(r.response.headers, q.responseHeaders, 'response headers');
      if (q.trailers) assert.deepEqual(fieldMap(r.response.trailers), q.trailers);
      else assert.equal(r.response.trailers, undefined);
      assert.ok(r.responseTimestamp! > r.timestamp);
      assert.equal(r.elapsedTime, (r.responseTimestamp! - r.timestamp) / 1000);
      // The body itself, byte for byte.
      const full = show(r.id, ws.dir, ['--max-body', String(1 << 22)]);
      const b = full.response!.body!;
      assert.ok(b, 'body stored');
      assert.equal(b.size, q.responseBodySize);
      assert.equal(b.truncated, false);
      const bytes = Buffer.from(b.data, b.encoding);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), q.responseBodySha256);
    });
  }

  it('keeps the concurrent streams apart though their frames interleave', () => {
    const group = cap.requests.filter((q) => q.group === 'concurrent');
    assert.ok(group.length >= 2);
    const recs = group.map((q) => find(q.streamId));
    // All in flight at once: each started before any finished.
    const lastStart = Math.max(...recs.map((r) => r.timestamp));
    const firstEnd = Math.min(...recs.map((r) => r.responseTimestamp!));
    assert.ok(lastStart < firstEnd, 'the streams overlap in time');
    assert.equal(new Set(recs.map((r) => r.stream.id)).size, 1, 'one connection');
  });

  it('refuses the streams above a server GOAWAY\'s last stream id, and only those', () => {
    const server = cap.goaway.wire.filter((g) => g.from === 'server');
    assert.ok(server.length > 0);
    const last = Math.min(...server.map((g) => g.lastStreamId));
    const refused = cap.requests.filter((q) => q.streamId > last);
    for (const c of calls) {
      const isRefused = refused.some((q) => q.streamId === c.http2!.streamId);
      assert.equal(c.http2!.resetCode?.startsWith('GOAWAY') ?? false, isRefused, `stream ${c.http2!.streamId}`);
    }
    // A NO_ERROR GOAWAY is a graceful shutdown: nothing to note.
    if (server.every((g) => g.error === 'NO_ERROR')) for (const c of calls) assert.ok(!c.notes.some((n) => n.includes('GOAWAY')), c.notes.join('; '));
  });
});

// ---------------------------------------------------------------------------
// fixtures/h2/h2c-upgrade.pcap

describe('fixture h2/h2c-upgrade.pcap', () => {
  const ws = tempWorkspace();
  let calls: TransactionRecord[] = [];
  let report: { connections: Record<string, number>; transactions: Record<string, number> } | null = null;
  const cap = H.captures['h2c-upgrade.pcap'];
  before(() => {
    const imp = podcap(['import', join(h2Dir, 'h2c-upgrade.pcap'), '-w', ws.dir, '--json']);
    assert.equal(imp.code, 0, imp.stderr);
    report = JSON.parse(imp.stdout).report;
    const out = podcap(['calls', '--json', '--limit', '1000', '-w', ws.dir]);
    assert.equal(out.code, 0, out.stderr);
    calls = JSON.parse(out.stdout);
  });
  after(() => ws.cleanup());

  it('is one HTTP/2 transaction per request: the upgrading request is stream 1, not a 101 and a stream', () => {
    assert.equal(calls.length, cap.requests.length);
    assert.equal(calls.length, cap.tshark.headersStreamPairs);
    for (const c of calls) {
      assert.equal(c.protocol, 'http2');
      assert.notEqual(c.status, 101);
    }
    assert.deepEqual(report?.transactions, { http2: cap.requests.length });
    assert.equal(report?.connections['http2 (h2c upgrade)'], cap.connections.length);
  });

  for (const q of cap.requests) {
    it(`${q.client} ${q.requestId} stream ${q.streamId} ${q.method} ${q.path}`, () => {
      const port = cap.connections.find((c) => c.connection === q.connection)!.clientPort;
      const found = calls.filter((c) => c.src.port === port && c.http2?.streamId === q.streamId);
      assert.equal(found.length, 1);
      const r = found[0];
      assert.equal(r.request.method, q.method);
      assert.equal(r.request.path, q.path);
      assert.equal(headerValue(r.request.headers, 'x-request-id'), q.requestId);
      assert.equal(r.request.bodySize, q.requestBodySize);
      assert.equal(r.status, q.status);
      assert.equal(r.response?.status, q.status);
      assert.equal(r.response?.bodySize, q.responseBodySize);
      assert.equal(r.failed, false);
      assert.equal(r.http2?.resetCode, null);
      assert.ok(r.elapsedTime !== null && r.elapsedTime > 0);
      if (q.viaUpgrade) {
        assert.deepEqual(r.notes, ['upgraded from HTTP/1.1 (h2c)']);
        // The request as it was sent, in HTTP/1.1, asking for the upgrade.
        assert.equal(headerValue(r.request.headers, 'upgrade'), 'h2c');
        assert.ok(headerValue(r.request.headers, 'http2-settings'));
      } else {
        assert.deepEqual(r.notes, []);
        assert.equal(headerValue(r.request.headers, ':method'), q.method);
      }
    });
  }

  it('makes no transaction of streams that only carried PRIORITY frames', () => {
    for (const s of cap.priorityOnlyStreams) {
      // "tcp.stream/stream id", as tshark numbers connections.
      const [tcpStream, id] = s.split('/').map(Number);
      const port = cap.connections.find((c) => c.tcpStream === tcpStream)?.clientPort;
      assert.ok(port);
      assert.equal(calls.filter((c) => c.src.port === port && c.http2?.streamId === id).length, 0, s);
    }
  });
});
