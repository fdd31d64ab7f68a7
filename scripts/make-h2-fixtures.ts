/**
 * make-h2-fixtures: podcap's HTTP/2 (cleartext) and gRPC fixtures, from REAL peers on loopback.
 *
 *   npm run build && node dist/scripts/make-h2-fixtures.js     (as root: tcpdump; needs tshark, editcap,
 *                                                                nghttpx (apt-get install nghttp2-proxy),
 *                                                                curl and nghttp (nghttp2-client))
 *
 * Part 1, fixtures/grpc/ (service in fixtures/grpc/shop.proto, package shop.v1, service Catalog):
 * a @grpc/grpc-js server on 127.0.0.1:50051 (proto loaded with @grpc/proto-loader) and a grpc-js
 * client making, on ONE channel (one TCP connection, so HPACK's dynamic table carries over):
 * (1) a unary OK, (2) a unary NOT_FOUND (5), (3) a unary UNAVAILABLE (14, message with non-ASCII and
 * '%', so grpc-message is percent-encoded), (4) a unary with metadata (x-tenant-id, x-request-id,
 * authorization: Bearer <fake JWT>, a binary x-trace-bin), (5) a 3 MiB response (a Product whose
 * `image` bytes field is 3 MiB: ~200 DATA frames), then (6) a server stream (5 messages, 60 ms
 * apart), (7) a client stream (4 messages), (8) a bidi stream (3 exchanges), (10) a
 * DEADLINE_EXCEEDED (4) call and (11) a unary repeating call 4's metadata. Call (9), GetProduct
 * with a long field mask, goes over a second channel created with
 * grpc.default_compression_algorithm=gzip: its request message is gzip-compressed on the wire
 * (grpc-encoding: gzip, compressed flag 1). grpc-js never compresses responses.
 *
 *   grpc.pcap                tcpdump -i lo -s 0, both connections, every call (~3.2 MB: the big message)
 *   grpc-midstream.pcap      grpc.pcap cut with `editcap -A` in the quiet gap after call 5: no
 *                            handshake, connection preface, SETTINGS or HPACK history for connection
 *                            1; calls 6-11 are complete in it (connection 2, the gzip channel, is
 *                            whole, preface included)
 *   expected.json            every call as the client saw it, per-capture tshark counts, and for the
 *                            midstream file which header fields of each call are still decodable
 *
 * Part 2, fixtures/h2/:
 *   h2c-prior-knowledge.pcap a Node http2 h2c server (http2.createServer) on 127.0.0.1:18110 and a
 *                            Node client with prior knowledge (http2.connect('http://...')) on one
 *                            connection: GET 200 JSON, POST 201 JSON, 404, 500, trailers, a stream the
 *                            client cancels (RST_STREAM CANCEL), one the server refuses (RST_STREAM
 *                            REFUSED_STREAM, no response) and one it aborts after the headers
 *                            (RST_STREAM INTERNAL_ERROR), a 300 KiB response (WINDOW_UPDATEs), four
 *                            streams in flight at once (interleaved DATA), then a server GOAWAY.
 *   h2c-upgrade.pcap         HTTP/1.1 `Upgrade: h2c` on 127.0.0.1:18111. Node's http2 cannot accept an
 *                            upgrade and nghttpd 1.52 (Debian 12) does not either (it answers an
 *                            upgrade request with a bare SETTINGS frame), so the server is nghttpx
 *                            (frontend `no-tls`, which does h2c upgrade) in front of a Node HTTP/1.1
 *                            backend on 18112 (not captured). Clients: curl --http2 (upgrade on
 *                            stream 1, then 3 more requests on streams 3, 5, 7 of the same connection,
 *                            via --next) and nghttp -u (upgrade on stream 1, its PRIORITY-only anchor
 *                            streams 3-11, then a request on stream 13).
 *   expected.json            the requests as the clients saw them, stream ids, resets, GOAWAY, tshark counts
 *
 * Every capture is checked with tshark (HEADERS streams, gRPC messages and their lengths, paths,
 * statuses, grpc-status, resets, GOAWAY, compression, flow control) and the script exits non-zero
 * on any mismatch. It is rerunnable: it deletes its outputs first (shop.proto is an input).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asArray,
  assertPortFree,
  type Capturer,
  capturerDrops,
  closeServer,
  FixtureError,
  haveTool,
  listen,
  log,
  readBody,
  rel,
  ROOT,
  runTool,
  sendJson,
  setLogPrefix,
  sleep,
  startCapturer,
  stopCapturer,
  tsharkJson,
  tsharkLines,
  waitForPort,
} from './fixture-lib.js';

setLogPrefix('h2-fixtures');

// ---------------------------------------------------------------------------------------------
// Paths and constants
// ---------------------------------------------------------------------------------------------

const GENERATED_BY = 'scripts/make-h2-fixtures.ts';
const GRPC_DIR = join(ROOT, 'fixtures', 'grpc');
const H2_DIR = join(ROOT, 'fixtures', 'h2');
const PROTO = join(GRPC_DIR, 'shop.proto');
const GRPC_PCAP = join(GRPC_DIR, 'grpc.pcap');
const GRPC_MID = join(GRPC_DIR, 'grpc-midstream.pcap');
const GRPC_EXPECTED = join(GRPC_DIR, 'expected.json');
const H2_PK = join(H2_DIR, 'h2c-prior-knowledge.pcap');
const H2_UP = join(H2_DIR, 'h2c-upgrade.pcap');
const H2_EXPECTED = join(H2_DIR, 'expected.json');

const HOST = '127.0.0.1';
const GRPC_PORT = 50051;
const H2_PORT = 18110;
const UPGRADE_PORT = 18111; // nghttpx frontend (captured)
const UPGRADE_BACKEND_PORT = 18112; // Node HTTP/1.1 backend behind nghttpx (not captured)

const SERVICE = 'shop.v1.Catalog';
const BIG_IMAGE_BYTES = 3 * 1024 * 1024;
const LARGE_H2_BODY = 300 * 1024;
const GAP_MS = 150; // quiet time between calls
const CUT_GAP_MS = 600; // the quiet gap the midstream cut falls into
const CUT_BEFORE_CALL = 6; // grpc-midstream.pcap starts just before this call (1-based)

const FAKE_JWT = [
  Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ sub: 'user-1001', name: 'Fixture User', iat: 1714521600, exp: 1714525200, scope: 'catalog:read' })).toString('base64url'),
  Buffer.from('not-a-real-signature-podcap-fixture').toString('base64url'),
].join('.');

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Deterministic, incompressible bytes (xorshift32). */
function prngBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (i + 4 <= n) b.writeUInt32LE(x, i);
    else for (let k = 0; i + k < n; k++) b[i + k] = (x >>> (8 * k)) & 0xff;
  }
  return b;
}

function tcpdumpArgs(file: string, bpf: string): string[] {
  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];
  // -B: a 64 MiB kernel buffer, so the 3 MiB burst of the big gRPC message is not dropped.
  return ['-i', 'lo', '-U', '--immediate-mode', '-s', '0', '-B', '65536', ...asRoot, '-w', file, bpf];
}

async function withCapture<T>(name: string, file: string, bpf: string, body: () => Promise<T>): Promise<T> {
  rmSync(file, { force: true });
  const cap: Capturer = await startCapturer(name, 'tcpdump', tcpdumpArgs(file, bpf), file, /listening on/);
  let done = false;
  try {
    await sleep(700);
    const out = await body();
    await sleep(700);
    done = true;
    const n = await stopCapturer(cap);
    const drops = capturerDrops(cap);
    log(`stopped ${name}: ${n} packets captured, ${drops ?? '?'} dropped by kernel -> ${rel(file)}`);
    if (drops !== null && drops > 0) throw new FixtureError(`${name}: the kernel dropped ${drops} packets`);
    chmodSync(file, 0o644);
    return out;
  } finally {
    if (!done) cap.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// tshark: HTTP/2 frames, as a list
// ---------------------------------------------------------------------------------------------

interface HeaderField {
  name: string;
  value: string;
  repr: string;
  index: number | null;
}

interface GrpcMsg {
  compressed: number;
  length: number;
}

interface H2Frame {
  frame: number;
  timeNs: bigint;
  tcpStream: number;
  src: number;
  dst: number;
  type: number;
  streamId: number;
  flags: number;
  length: number;
  headers?: HeaderField[];
  rstError?: number;
  goaway?: { lastStreamId: number; error: number; debug: string };
  windowIncrement?: number;
  grpc: GrpcMsg[];
}

const FRAME_TYPES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];
const H2_ERRORS = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];
const h2ErrorName = (c: number): string => H2_ERRORS[c] ?? `0x${c.toString(16)}`;

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : String(v));
const num = (v: unknown): number => Number(str(v));

function parseEpochNs(s: string): bigint {
  const [sec, frac = ''] = s.split('.');
  return BigInt(sec!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}
function formatEpochNs(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}
function isoNs(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, -1)}${String(ns % 1_000_000n).padStart(6, '0')}Z`;
}

/** Finds, anywhere under `v`, every object holding key `k` and returns those values. */
function collect(v: unknown, k: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) for (const x of v) collect(x, k, out);
  else if (v && typeof v === 'object') {
    for (const [key, val] of Object.entries(v as Obj)) {
      if (key === k) out.push(...asArray(val));
      else collect(val, k, out);
    }
  }
  return out;
}

/** Every HTTP/2 frame tshark decodes in `file` (decode-as args given), in order. */
async function h2Frames(file: string, decodeAs: string[]): Promise<H2Frame[]> {
  const packets = await tsharkJson(file, [...decodeAs, '-Y', 'http2', '-J', 'frame tcp http2 grpc']);
  const frames: H2Frame[] = [];
  for (const p of packets) {
    const fr = p.frame as Obj;
    const tcp = p.tcp as Obj;
    const base = {
      frame: num(fr['frame.number']),
      timeNs: parseEpochNs(str(fr['frame.time_epoch'])),
      tcpStream: num(tcp['tcp.stream']),
      src: num(tcp['tcp.srcport']),
      dst: num(tcp['tcp.dstport']),
    };
    // The http2 layer: one object per PDU, or an array of them; each has "http2.stream" (itself
    // possibly an array). tshark puts the gRPC messages it completes in this packet in top-level
    // "grpc" layers, after the http2 one: they belong to the packet's DATA frames.
    const inPacket: H2Frame[] = [];
    for (const pdu of asArray(p.http2 as Obj | Obj[])) {
      for (const s of asArray(pdu['http2.stream'] as Obj | Obj[])) {
        if (s['http2.type'] === undefined) continue; // the connection preface ("Magic") alone
        const type = num(s['http2.type']);
        const f: H2Frame = {
          ...base,
          type,
          streamId: num(s['http2.streamid']),
          flags: Number.parseInt(str(s['http2.flags']), 16),
          length: num(s['http2.length']),
          grpc: [],
        };
        if (type === 1) {
          f.headers = asArray(s['http2.header'] as Obj | Obj[]).map((h) => ({
            name: str(h['http2.header.name']),
            value: str(h['http2.header.value']),
            repr: str(h['http2.header.repr']),
            index: h['http2.header.index'] === undefined ? null : num(h['http2.header.index']),
          }));
        }
        if (type === 3) f.rstError = num(s['http2.rst_stream.error']);
        if (type === 7) {
          const hex = str(s['http2.goaway.addata']).replace(/:/g, '');
          f.goaway = { lastStreamId: num(s['http2.goaway.last_stream_id']), error: num(s['http2.goaway.error']), debug: Buffer.from(hex, 'hex').toString('utf8') };
        }
        if (type === 8) f.windowIncrement = num(s['http2.window_update.window_size_increment']);
        inPacket.push(f);
        frames.push(f);
      }
    }
    const msgs = asArray(p.grpc as Obj | Obj[]).flatMap((g) => collectGrpc(g));
    if (msgs.length > 0) {
      const data = inPacket.filter((f) => f.type === 0);
      const ids = new Set(data.map((f) => f.streamId));
      if (ids.size !== 1) throw new FixtureError(`${rel(file)} frame ${base.frame}: gRPC messages with DATA of streams ${[...ids].join(',') || 'none'}; cannot attribute them`);
      data[data.length - 1]!.grpc.push(...msgs);
    }
  }
  return frames;
}

function collectGrpc(g: Obj): GrpcMsg[] {
  const flags = collect(g, 'grpc.compressed_flag').map(num);
  const lens = collect(g, 'grpc.message_length').map(num);
  return lens.map((length, i) => ({ compressed: flags[i] ?? 0, length }));
}

const headerMap = (hs: HeaderField[] | undefined): Record<string, string> => {
  const m: Record<string, string> = {};
  for (const h of hs ?? []) m[h.name] = m[h.name] === undefined ? h.value : `${m[h.name]}, ${h.value}`;
  return m;
};

const byPair = (a: string, b: string): number => {
  const [a1, a2] = a.split('/').map(Number) as [number, number];
  const [b1, b2] = b.split('/').map(Number) as [number, number];
  return a1 - b1 || a2 - b2;
};

interface TsharkCounts {
  decodeAs: string;
  /** Distinct tcp.stream/streamid that carry a HEADERS frame (from tshark's frame tree): the number to compare with. */
  headersStreamPairs: number;
  pairs: string[];
  /** The same from the field command: comma lists split, stream 0 dropped. Larger when a packet's HEADERS shares it with PRIORITY frames of other streams. */
  fieldCommandPairs: number;
  /** Distinct lines the field command prints, as printed. */
  rawDistinctLines: number;
  grpcMessages: number;
  grpcMessageLengths: number[];
  commands: string[];
}

/** The brief's counts: streams with HEADERS (distinct tcp.stream/http2.streamid) and gRPC message lengths. */
async function tsharkCounts(file: string, decodeAs: string[]): Promise<TsharkCounts> {
  const frames = await h2Frames(file, decodeAs);
  const exact = new Set(frames.filter((f) => f.type === 1).map((f) => `${f.tcpStream}/${f.streamId}`));
  const pairLines = await tsharkLines(file, [...decodeAs, '-T', 'fields', '-e', 'tcp.stream', '-e', 'http2.streamid', '-Y', 'http2.type==1']);
  const pairs = new Set<string>();
  for (const l of pairLines) {
    const [ts, ids = ''] = l.split('\t');
    // A packet with a HEADERS frame may carry other frames too (SETTINGS, WINDOW_UPDATE on stream 0,
    // DATA, PRIORITY): split the comma lists and drop stream 0, which never carries HEADERS.
    for (const id of ids.split(',')) if (id !== '' && id !== '0') pairs.add(`${ts}/${id}`);
  }
  const lenLines = await tsharkLines(file, [...decodeAs, '-Y', 'grpc', '-T', 'fields', '-e', 'grpc.message_length']);
  const lengths = lenLines.flatMap((l) => l.split(',')).filter((s) => s !== '').map(Number);
  const da = decodeAs.filter((a) => a !== '-d').join(' ');
  const f = rel(file);
  return {
    decodeAs: da,
    headersStreamPairs: exact.size,
    pairs: [...exact].sort(byPair),
    fieldCommandPairs: pairs.size,
    rawDistinctLines: new Set(pairLines).size,
    grpcMessages: lengths.length,
    grpcMessageLengths: lengths,
    commands: [
      `tshark -r ${f} -d ${da} -Y http2 -T json   (headersStreamPairs: distinct tcp.stream/http2.streamid of HEADERS frames)`,
      `tshark -r ${f} -d ${da} -T fields -e tcp.stream -e http2.streamid -Y 'http2.type==1'   (fieldCommandPairs: comma lists split, stream 0 dropped; rawDistinctLines: distinct lines as printed)`,
      `tshark -r ${f} -d ${da} -Y grpc -T fields -e grpc.message_length   (grpcMessages: occurrences, comma lists split)`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Part 1: gRPC
// ---------------------------------------------------------------------------------------------

type CallType = 'unary' | 'server' | 'client' | 'bidi';
type Plain = Record<string, unknown>;

interface GrpcCall {
  seq: number;
  name: string;
  description: string;
  service: string;
  method: string;
  path: string;
  type: CallType;
  channel: 'main' | 'gzip';
  /** 1 = the main channel's connection, 2 = the gzip channel's. */
  connection: number;
  streamId: number | null;
  status: { code: number; name: string; message: string };
  requestMessages: number;
  responseMessages: number;
  /** Serialized protobuf sizes (before any compression), as the client wrote/read them. */
  requestSizes: number[];
  responseSizes: number[];
  compressed: boolean;
  requestEncoding: string;
  responseEncoding: string;
  deadlineMs: number | null;
  /** Custom metadata the client sent (-bin values base64). */
  metadataSent: Record<string, string>;
  /** Metadata the client received: response headers and trailers, as grpc-js reported them. */
  responseMetadata: Record<string, string>;
  trailingMetadata: Record<string, string>;
  /** What the client sent and got, in short. */
  request: Plain | Plain[];
  response: Plain | Plain[] | null;
  /** From tshark on grpc.pcap. */
  wire?: {
    tcpStream: number;
    requestMessageLengths: number[];
    responseMessageLengths: number[];
    requestCompressedFlags: number[];
    responseCompressedFlags: number[];
    requestHeaders: Record<string, string>;
    responseHeaders: Record<string, string> | null;
    trailers: Record<string, string> | null;
    rstStream: { from: 'client' | 'server'; error: string }[];
    dataFrames: { request: number; response: number };
  };
}

const mdJson = (md: grpc.Metadata | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  if (!md) return out;
  for (const [k, vs] of Object.entries(md.toJSON())) {
    out[k] = (vs as (string | Buffer)[]).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)).join(', ');
  }
  return out;
};

function loadProto(): { pkg: protoLoader.PackageDefinition; svc: grpc.ServiceDefinition } {
  const pkg = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: false, oneofs: true });
  const svc = pkg[SERVICE] as unknown as grpc.ServiceDefinition | undefined;
  if (!svc || typeof svc !== 'object' || !('GetProduct' in svc)) throw new FixtureError(`${rel(PROTO)} has no service ${SERVICE}`);
  return { pkg, svc };
}

// --- the server ------------------------------------------------------------------------------

const money = (currency: string, units: number, nanos = 0): Plain => ({ currency, units: String(units), nanos });

const PRODUCTS: Record<string, Plain> = {
  'sku-1001': {
    sku: 'sku-1001',
    name: 'Trail running shoes',
    description: 'Lightweight trail shoe with a rock plate and a 6 mm drop.',
    price: money('EUR', 89, 990_000_000),
    stock: '42',
    rating: 4.6,
    active: true,
    availability: 'IN_STOCK',
    tags: ['shoes', 'running', 'trail'],
    dimensions: { width_cm: 12.5, height_cm: 11, depth_cm: 31.2, weight_kg: 0.62 },
    attributes: { color: 'blue', size: '44', material: 'mesh' },
    updated_at_unix: '1714521600',
    price_history: [money('EUR', 99, 990_000_000), money('EUR', 94, 500_000_000)],
  },
  'sku-1002': {
    sku: 'sku-1002',
    name: 'Merino hiking socks',
    description: 'Three pairs, cushioned sole.',
    price: money('GBP', 24),
    stock: '310',
    rating: 4.9,
    active: true,
    availability: 'BACKORDER',
    tags: ['socks', 'hiking'],
    attributes: { pack: '3' },
    updated_at_unix: '1714525200',
  },
  'sku-1003': {
    sku: 'sku-1003',
    name: 'Insulated water bottle 750 ml',
    price: money('USD', 34, 500_000_000),
    stock: '0',
    rating: 4.1,
    active: false,
    availability: 'DISCONTINUED',
    tags: ['bottle'],
    updated_at_unix: '1714528800',
  },
};

const LIST: Plain[] = Array.from({ length: 5 }, (_, i) => ({
  sku: `sku-20${String(i + 1).padStart(2, '0')}`,
  name: ['Road shoes', 'Track spikes', 'Recovery sandals', 'Racing flats', 'Winter trail shoes'][i],
  price: money(i % 2 ? 'USD' : 'EUR', 60 + i * 15, i * 250_000_000),
  stock: String(10 * (i + 1)),
  rating: 3.8 + i / 10,
  active: i !== 3,
  availability: i === 3 ? 'BACKORDER' : 'IN_STOCK',
  tags: ['shoes', i % 2 ? 'track' : 'road'],
  attributes: { position: String(i + 1) },
}));

const NOT_FOUND_MSG = 'product "sku-0000" not found in catalog eu-west-1';
const UNAVAILABLE_MSG = 'inventory backend unavailable: café-db replica lag 100% (retry in 5s)';
const BIG_IMAGE = prngBytes(BIG_IMAGE_BYTES, 0xc0ffee);

function catalogServer(): grpc.UntypedServiceImplementation {
  return {
    GetProduct(call: grpc.ServerUnaryCall<Plain, Plain>, cb: grpc.sendUnaryData<Plain>) {
      const sku = String(call.request.sku ?? '');
      switch (sku) {
        case 'sku-0000':
          return cb({ code: grpc.status.NOT_FOUND, details: NOT_FOUND_MSG });
        case 'sku-0503':
          return cb({ code: grpc.status.UNAVAILABLE, details: UNAVAILABLE_MSG });
        case 'sku-big':
          return cb(null, { ...PRODUCTS['sku-1001'], sku: 'sku-big', name: 'Product with a 3 MiB image', image: BIG_IMAGE });
        case 'sku-slow': {
          // Answers after 1.5 s; the client's deadline is 300 ms.
          const t = setTimeout(() => cb(null, PRODUCTS['sku-1003']!), 1500);
          call.on('cancelled', () => clearTimeout(t));
          return;
        }
        default: {
          const p = PRODUCTS[sku];
          if (!p) return cb({ code: grpc.status.NOT_FOUND, details: `product "${sku}" not found` });
          if (call.metadata.get('authorization').length > 0) {
            // The metadata call: response headers and trailers with custom metadata too.
            const md = new grpc.Metadata();
            md.set('x-served-by', 'catalog-7f9c4d');
            call.sendMetadata(md);
            const trailer = new grpc.Metadata();
            trailer.set('x-backend-latency-ms', '3');
            return cb(null, p, trailer);
          }
          return cb(null, p);
        }
      }
    },
    ListProducts(call: grpc.ServerWritableStream<Plain, Plain>) {
      void (async () => {
        for (const p of LIST) {
          if (call.cancelled) return;
          call.write(p);
          await sleep(60);
        }
        call.end();
      })();
    },
    UploadPrices(call: grpc.ServerReadableStream<Plain, Plain>, cb: grpc.sendUnaryData<Plain>) {
      const rejected: string[] = [];
      const perCurrency: Record<string, number> = {};
      let accepted = 0;
      let totalUnits = 0;
      call.on('data', (u: Plain) => {
        const price = (u.new_price ?? {}) as Plain;
        const units = Number(price.units ?? 0);
        if (units <= 0) rejected.push(String(u.sku));
        else {
          accepted++;
          totalUnits += units;
          const cur = String(price.currency ?? 'CURRENCY_UNSPECIFIED');
          perCurrency[cur] = (perCurrency[cur] ?? 0) + 1;
        }
      });
      call.on('end', () => cb(null, { accepted, rejected: rejected.length, rejected_skus: rejected, total_value: money('EUR', totalUnits), per_currency: perCurrency }));
    },
    Chat(call: grpc.ServerDuplexStream<Plain, Plain>) {
      let seq = 0;
      call.on('data', (m: Plain) => {
        seq++;
        call.write({ from: 'catalog-bot', text: `ack ${seq}: ${String(m.text)}`, sent_at_unix_ms: String(1714521600000 + seq * 1000), seq, labels: { room: 'support-42', reply_to: String(m.seq) } });
      });
      call.on('end', () => call.end());
    },
  };
}

// --- the client ------------------------------------------------------------------------------

interface CatalogClient extends grpc.Client {
  GetProduct(req: Plain, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Plain) => void): grpc.ClientUnaryCall;
  ListProducts(req: Plain, md: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<Plain>;
  UploadPrices(md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Plain) => void): grpc.ClientWritableStream<Plain>;
  Chat(md: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<Plain, Plain>;
}

/** Sizes the client serialized / deserialized during the current call. */
let sizeRec: { req: number[]; resp: number[] } | null = null;

function recordingService(svc: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(svc)) {
    out[name] = {
      ...m,
      requestSerialize: (v: unknown) => {
        const b = m.requestSerialize(v);
        sizeRec?.req.push(b.length);
        return b;
      },
      responseDeserialize: (b: Buffer) => {
        sizeRec?.resp.push(b.length);
        return m.responseDeserialize(b);
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

function summarize(p: Plain | undefined | null): Plain | null {
  if (!p) return null;
  const out: Plain = {};
  for (const [k, v] of Object.entries(p)) {
    if (Buffer.isBuffer(v)) out[k] = v.length > 64 ? { bytes: v.length, sha256: sha256(v) } : v.toString('base64');
    else out[k] = v;
  }
  return out;
}

const statusName = (code: number): string => (grpc.status as unknown as Record<number, string>)[code] ?? String(code);

interface CallSpec {
  name: string;
  description: string;
  method: 'GetProduct' | 'ListProducts' | 'UploadPrices' | 'Chat';
  type: CallType;
  channel: 'main' | 'gzip';
  metadata?: Record<string, string | Buffer>;
  deadlineMs?: number;
}

class GrpcRun {
  readonly calls: GrpcCall[] = [];
  constructor(
    readonly main: CatalogClient,
    readonly gzip: () => CatalogClient,
  ) {}

  private begin(spec: CallSpec): { md: grpc.Metadata; opts: grpc.CallOptions; call: GrpcCall; client: CatalogClient } {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(spec.metadata ?? {})) md.set(k, v);
    const opts: grpc.CallOptions = spec.deadlineMs ? { deadline: new Date(Date.now() + spec.deadlineMs) } : {};
    const call: GrpcCall = {
      seq: this.calls.length + 1,
      name: spec.name,
      description: spec.description,
      service: SERVICE,
      method: spec.method,
      path: `/${SERVICE}/${spec.method}`,
      type: spec.type,
      channel: spec.channel,
      connection: spec.channel === 'main' ? 1 : 2,
      streamId: null,
      status: { code: -1, name: '', message: '' },
      requestMessages: 0,
      responseMessages: 0,
      requestSizes: [],
      responseSizes: [],
      compressed: spec.channel === 'gzip',
      requestEncoding: spec.channel === 'gzip' ? 'gzip' : 'identity',
      responseEncoding: 'identity',
      deadlineMs: spec.deadlineMs ?? null,
      metadataSent: Object.fromEntries(Object.entries(spec.metadata ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v])),
      responseMetadata: {},
      trailingMetadata: {},
      request: {},
      response: null,
    };
    sizeRec = { req: call.requestSizes, resp: call.responseSizes };
    return { md, opts, call, client: spec.channel === 'main' ? this.main : this.gzip() };
  }

  private end(call: GrpcCall, st: grpc.StatusObject | null, err: grpc.ServiceError | null): GrpcCall {
    sizeRec = null;
    const code = st?.code ?? err?.code ?? 0;
    call.status = { code, name: statusName(code), message: st?.details ?? err?.details ?? '' };
    call.trailingMetadata = mdJson(st?.metadata ?? err?.metadata);
    call.requestMessages = call.requestSizes.length;
    call.responseMessages = call.responseSizes.length;
    this.calls.push(call);
    log(
      `  call ${call.seq} ${call.name}: ${call.path} (${call.type}, ${call.channel}) -> ${call.status.code} ${call.status.name}` +
        `${call.status.message ? ` "${call.status.message}"` : ''}; req ${call.requestSizes.join('+') || 0} B, resp ${call.responseSizes.join('+') || 0} B`,
    );
    return call;
  }

  /** Waits for both the status event and the callback/end. */
  private statusOf(c: grpc.ClientUnaryCall | grpc.ClientReadableStream<Plain> | grpc.ClientWritableStream<Plain> | grpc.ClientDuplexStream<Plain, Plain>, call: GrpcCall): Promise<grpc.StatusObject> {
    c.on('metadata', (md: grpc.Metadata) => (call.responseMetadata = mdJson(md)));
    return new Promise((res) => c.on('status', (st: grpc.StatusObject) => res(st)));
  }

  async unary(spec: Omit<CallSpec, 'method' | 'type'>, req: Plain): Promise<GrpcCall> {
    const full: CallSpec = { ...spec, method: 'GetProduct', type: 'unary' };
    const { md, opts, call, client } = this.begin(full);
    call.request = summarize(req)!;
    let err: grpc.ServiceError | null = null;
    let statusP: Promise<grpc.StatusObject> | undefined;
    await new Promise<void>((res) => {
      const c = client.GetProduct(req, md, opts, (e, r) => {
        err = e;
        call.response = summarize(r);
        res();
      });
      statusP = this.statusOf(c, call);
    });
    return this.end(call, await statusP!, err);
  }

  async serverStream(spec: Omit<CallSpec, 'method' | 'type'>, req: Plain): Promise<GrpcCall> {
    const { md, opts, call } = this.begin({ ...spec, method: 'ListProducts', type: 'server' });
    call.request = summarize(req)!;
    const got: Plain[] = [];
    const c = this.main.ListProducts(req, md, opts);
    const statusP = this.statusOf(c, call);
    c.on('data', (p: Plain) => got.push(summarize(p)!));
    let err: grpc.ServiceError | null = null;
    c.on('error', (e: grpc.ServiceError) => (err = e));
    const st = await statusP;
    call.response = got;
    return this.end(call, st, err);
  }

  async clientStream(spec: Omit<CallSpec, 'method' | 'type'>, updates: Plain[]): Promise<GrpcCall> {
    const { md, opts, call } = this.begin({ ...spec, method: 'UploadPrices', type: 'client' });
    call.request = updates.map((u) => summarize(u)!);
    let err: grpc.ServiceError | null = null;
    let statusP: Promise<grpc.StatusObject> | undefined;
    await new Promise<void>((res) => {
      const c = this.main.UploadPrices(md, opts, (e, r) => {
        err = e;
        call.response = summarize(r);
        res();
      });
      statusP = this.statusOf(c, call);
      void (async () => {
        for (const u of updates) {
          c.write(u);
          await sleep(50);
        }
        c.end();
      })();
    });
    return this.end(call, await statusP!, err);
  }

  async bidi(spec: Omit<CallSpec, 'method' | 'type'>, messages: Plain[]): Promise<GrpcCall> {
    const { md, opts, call } = this.begin({ ...spec, method: 'Chat', type: 'bidi' });
    call.request = messages.map((m) => summarize(m)!);
    const c = this.main.Chat(md, opts);
    const statusP = this.statusOf(c, call);
    const got: Plain[] = [];
    let waiter: (() => void) | null = null;
    c.on('data', (m: Plain) => {
      got.push(summarize(m)!);
      waiter?.();
    });
    let err: grpc.ServiceError | null = null;
    c.on('error', (e: grpc.ServiceError) => (err = e));
    for (const m of messages) {
      const before = got.length;
      const replied = new Promise<void>((res) => (waiter = res));
      c.write(m);
      if (got.length === before) await replied;
      await sleep(50);
    }
    c.end();
    const st = await statusP;
    call.response = got;
    return this.end(call, st, err);
  }
}

interface GrpcResult {
  calls: GrpcCall[];
}

async function runGrpcTraffic(svc: grpc.ServiceDefinition): Promise<GrpcResult> {
  const server = new grpc.Server();
  server.addService(svc, catalogServer());
  await new Promise<void>((res, rej) =>
    server.bindAsync(`${HOST}:${GRPC_PORT}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(new FixtureError(`gRPC server bind: ${e.message}`)) : res())),
  );
  log(`gRPC server (@grpc/grpc-js) up on ${HOST}:${GRPC_PORT}`);

  const Ctor = grpc.makeGenericClientConstructor(recordingService(svc), 'Catalog');
  const channelOpts = {
    'grpc.primary_user_agent': 'podcap-fixtures/1.0',
    'grpc.use_local_subchannel_pool': 1, // each client its own connection, never a shared one
    'grpc.enable_retries': 0,
  };
  const main = new Ctor(`${HOST}:${GRPC_PORT}`, grpc.credentials.createInsecure(), channelOpts) as unknown as CatalogClient;
  const holder: { gz: CatalogClient | null } = { gz: null };
  const gzip = (): CatalogClient =>
    (holder.gz ??= new Ctor(`${HOST}:${GRPC_PORT}`, grpc.credentials.createInsecure(), {
      ...channelOpts,
      'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip,
    }) as unknown as CatalogClient);

  try {
    await new Promise<void>((res, rej) => main.waitForReady(Date.now() + 5000, (e) => (e ? rej(new FixtureError(`channel not ready: ${e.message}`)) : res())));
    await sleep(GAP_MS);
    const run = new GrpcRun(main, gzip);
    const M = (spec: Omit<CallSpec, 'method' | 'type' | 'channel'>): Omit<CallSpec, 'method' | 'type'> => ({ ...spec, channel: 'main' });
    const authMd = { authorization: `Bearer ${FAKE_JWT}`, 'x-tenant-id': 'acme-eu', 'x-request-id': 'grpc-fx-0004', 'x-trace-bin': Buffer.from([0x00, 0x01, 0x02, 0xfe, 0xff, 0x10, 0x20, 0x30]) };

    // Calls 1-5: before the midstream cut (the 3 MiB call too, so grpc-midstream.pcap stays small).
    await run.unary(M({ name: 'unary-ok', description: 'GetProduct, OK' }), { sku: 'sku-1001', fields: ['name', 'price', 'stock'] });
    await sleep(GAP_MS);
    await run.unary(M({ name: 'unary-not-found', description: 'GetProduct, NOT_FOUND (5) with a message' }), { sku: 'sku-0000' });
    await sleep(GAP_MS);
    await run.unary(M({ name: 'unary-unavailable', description: 'GetProduct, UNAVAILABLE (14); the message has non-ASCII and % (percent-encoded on the wire)' }), { sku: 'sku-0503' });
    await sleep(GAP_MS);
    await run.unary(M({ name: 'unary-metadata', description: 'GetProduct with custom metadata, a Bearer JWT and a binary (-bin) header; the server adds x-served-by and a trailer x-backend-latency-ms', metadata: authMd }), { sku: 'sku-1002' });
    await sleep(GAP_MS);
    await run.unary(M({ name: 'unary-big', description: 'GetProduct returning a Product with a 3 MiB image (bytes): one message over many DATA frames' }), { sku: 'sku-big', include_image: true });
    await sleep(CUT_GAP_MS); // grpc-midstream.pcap starts in this gap

    // Calls 6-11: after it.
    await run.serverStream(M({ name: 'server-stream', description: 'ListProducts: 5 messages, 60 ms apart' }), { category: 'shoes', page_size: 5, availability: 'IN_STOCK' });
    await sleep(GAP_MS);
    const updates: Plain[] = [
      { sku: 'sku-2001', new_price: money('EUR', 59, 990_000_000), discount_percent: 10, effective_at_unix: '1714608000', reason: 'spring sale' },
      { sku: 'sku-2002', new_price: money('USD', 72), discount_percent: 0, effective_at_unix: '1714608000', reason: 'list price' },
      { sku: 'sku-2003', new_price: money('EUR', -1), discount_percent: 0, effective_at_unix: '1714608000', reason: 'typo: negative' },
      { sku: 'sku-2004', new_price: money('GBP', 99, 500_000_000), discount_percent: 12.5, effective_at_unix: '1714694400', reason: 'clearance' },
    ];
    await run.clientStream(M({ name: 'client-stream', description: 'UploadPrices: 4 messages, one rejected' }), updates);
    await sleep(GAP_MS);
    const chat: Plain[] = [1, 2, 3].map((seq) => ({
      from: 'fixture-client',
      text: ['is sku-1001 in stock?', 'and in size 45?', 'thanks!'][seq - 1],
      sent_at_unix_ms: String(1714521600000 + seq * 1000 - 500),
      seq,
      ...(seq === 2 ? { attachment: Buffer.from('size-chart.png', 'utf8') } : {}),
      labels: { room: 'support-42' },
    }));
    await run.bidi(M({ name: 'bidi', description: 'Chat: 3 exchanges (the client waits for each reply)', metadata: { 'x-chat-room': 'support-42' } }), chat);
    await sleep(GAP_MS);
    const fieldMask = Array.from({ length: 24 }, (_, i) => ['name', 'description', 'price', 'stock', 'rating', 'tags', 'dimensions', 'attributes'][i % 8]!.concat(`.v${Math.floor(i / 8)}`));
    await run.unary({ name: 'unary-gzip', description: 'GetProduct over a second channel with grpc.default_compression_algorithm=gzip: the request message is gzip-compressed (grpc-js does not compress responses)', channel: 'gzip' }, { sku: 'sku-1003', fields: fieldMask });
    holder.gz?.close();
    await sleep(GAP_MS);
    await run.unary(M({ name: 'unary-deadline', description: 'GetProduct with a 300 ms deadline; the server takes 1.5 s: DEADLINE_EXCEEDED (4)', deadlineMs: 300 }), { sku: 'sku-slow' });
    await sleep(1600); // let the server's handler time out and anything it sends arrive
    await run.unary(M({ name: 'unary-metadata-again', description: 'GetProduct with the same metadata as call 4 (after the cut its HPACK entries are unknown)', metadata: { ...authMd, 'x-request-id': 'grpc-fx-0011' } }), { sku: 'sku-1001' });
    await sleep(GAP_MS);
    return { calls: run.calls };
  } finally {
    main.close();
    holder.gz?.close();
    await new Promise<void>((res) => server.tryShutdown(() => res()));
  }
}

// --- checking grpc.pcap ------------------------------------------------------------------------

interface StreamView {
  tcpStream: number;
  streamId: number;
  clientPort: number;
  frames: H2Frame[];
}

/** Frames grouped per (tcp stream, HTTP/2 stream), in order of first appearance; client = port != server port. */
function streamsOf(frames: H2Frame[], serverPort: number): StreamView[] {
  const m = new Map<string, StreamView>();
  for (const f of frames) {
    if (f.streamId === 0) continue;
    const k = `${f.tcpStream}/${f.streamId}`;
    let v = m.get(k);
    if (!v) {
      v = { tcpStream: f.tcpStream, streamId: f.streamId, clientPort: f.src === serverPort ? f.dst : f.src, frames: [] };
      m.set(k, v);
    }
    v.frames.push(f);
  }
  return [...m.values()];
}

const fromClient = (f: H2Frame, serverPort: number): boolean => f.dst === serverPort;

function pctDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function verifyGrpc(calls: GrpcCall[], problems: string[]): Promise<{ frames: H2Frame[]; tcpStreams: number[]; clientPorts: number[] }> {
  const decode = ['-d', `tcp.port==${GRPC_PORT},http2`];
  const frames = await h2Frames(GRPC_PCAP, decode);
  const streams = streamsOf(frames, GRPC_PORT).filter((s) => s.frames.some((f) => f.type === 1 && fromClient(f, GRPC_PORT)));
  const tcpStreams = [...new Set(frames.map((f) => f.tcpStream))];
  const clientPorts = tcpStreams.map((t) => {
    const f = frames.find((x) => x.tcpStream === t)!;
    return f.src === GRPC_PORT ? f.dst : f.src;
  });
  log(`grpc.pcap: ${frames.length} HTTP/2 frames on ${tcpStreams.length} connections (client ports ${clientPorts.join(', ')}), ${streams.length} client-opened streams`);
  if (tcpStreams.length !== 2) problems.push(`grpc.pcap: ${tcpStreams.length} connections, expected 2 (main + gzip channel)`);

  // Match calls to streams: per connection, in order.
  const byConn = new Map<number, StreamView[]>();
  for (const s of streams) byConn.set(s.tcpStream, [...(byConn.get(s.tcpStream) ?? []), s]);
  const connOrder = tcpStreams; // tcp.stream 0 = first SYN = main channel
  const next = new Map<number, number>();
  for (const call of calls) {
    const ts = connOrder[call.connection - 1];
    if (ts === undefined) {
      problems.push(`call ${call.seq}: no connection ${call.connection}`);
      continue;
    }
    const list = byConn.get(ts) ?? [];
    const i = next.get(ts) ?? 0;
    next.set(ts, i + 1);
    const s = list[i];
    if (!s) {
      problems.push(`call ${call.seq} (${call.name}): no HTTP/2 stream #${i + 1} on tcp.stream ${ts}`);
      continue;
    }
    call.streamId = s.streamId;
    const reqHeaderFrames = s.frames.filter((f) => f.type === 1 && fromClient(f, GRPC_PORT));
    const respHeaderFrames = s.frames.filter((f) => f.type === 1 && !fromClient(f, GRPC_PORT));
    const reqHeaders = headerMap(reqHeaderFrames[0]?.headers);
    const respHeaders = respHeaderFrames.length > 0 ? headerMap(respHeaderFrames[0]!.headers) : null;
    // Trailers: the last server HEADERS with END_STREAM (for a trailers-only response it is the first one too).
    const last = respHeaderFrames[respHeaderFrames.length - 1];
    const trailers = last && last.flags & 0x1 ? headerMap(last.headers) : null;
    const reqMsgs = s.frames.filter((f) => f.type === 0 && fromClient(f, GRPC_PORT)).flatMap((f) => f.grpc);
    const respMsgs = s.frames.filter((f) => f.type === 0 && !fromClient(f, GRPC_PORT)).flatMap((f) => f.grpc);
    call.wire = {
      tcpStream: ts,
      requestMessageLengths: reqMsgs.map((m) => m.length),
      responseMessageLengths: respMsgs.map((m) => m.length),
      requestCompressedFlags: reqMsgs.map((m) => m.compressed),
      responseCompressedFlags: respMsgs.map((m) => m.compressed),
      requestHeaders: reqHeaders,
      responseHeaders: respHeaders && respHeaderFrames.length > 1 ? respHeaders : respHeaderFrames.length === 1 && !(respHeaderFrames[0]!.flags & 1) ? respHeaders : null,
      trailers,
      rstStream: s.frames.filter((f) => f.type === 3).map((f) => ({ from: fromClient(f, GRPC_PORT) ? 'client' : 'server', error: h2ErrorName(f.rstError ?? -1) })),
      dataFrames: { request: s.frames.filter((f) => f.type === 0 && fromClient(f, GRPC_PORT)).length, response: s.frames.filter((f) => f.type === 0 && !fromClient(f, GRPC_PORT)).length },
    };
    const w = call.wire;
    const P = `grpc.pcap call ${call.seq} (${call.name}, stream ${ts}/${s.streamId})`;
    if (reqHeaders[':path'] !== call.path) problems.push(`${P}: :path ${reqHeaders[':path']}, expected ${call.path}`);
    if (reqHeaders['content-type'] !== 'application/grpc') problems.push(`${P}: request content-type ${reqHeaders['content-type']}`);
    for (const [k, v] of Object.entries(call.metadataSent)) {
      const got = reqHeaders[k];
      const want = k.endsWith('-bin') ? v.replace(/=+$/, '') : v;
      if (got === undefined || got.replace(/=+$/, '') !== want) problems.push(`${P}: metadata ${k} is "${got}", sent "${v}"`);
    }
    if (call.compressed && reqHeaders['grpc-encoding'] !== 'gzip') problems.push(`${P}: no grpc-encoding: gzip in the request`);
    if (call.deadlineMs !== null && !reqHeaders['grpc-timeout']) problems.push(`${P}: no grpc-timeout header`);
    // Messages: count and lengths (compressed ones are shorter than what the client serialized).
    const wantReq = call.compressed ? null : call.requestSizes;
    if (w.requestMessageLengths.length !== call.requestMessages) problems.push(`${P}: ${w.requestMessageLengths.length} request messages on the wire, client wrote ${call.requestMessages}`);
    if (wantReq && w.requestMessageLengths.join(',') !== wantReq.join(',')) problems.push(`${P}: request lengths ${w.requestMessageLengths.join(',')}, expected ${wantReq.join(',')}`);
    if (call.compressed) {
      if (!w.requestCompressedFlags.every((c) => c === 1)) problems.push(`${P}: request not flagged compressed: ${w.requestCompressedFlags.join(',')}`);
      w.requestMessageLengths.forEach((l, i) => {
        if (!(l < call.requestSizes[i]!)) problems.push(`${P}: compressed request ${l} B is not smaller than the ${call.requestSizes[i]} B serialized`);
      });
    } else if (w.requestCompressedFlags.some((c) => c !== 0)) problems.push(`${P}: request flagged compressed`);
    if (w.responseCompressedFlags.some((c) => c !== 0)) problems.push(`${P}: response flagged compressed`);
    if (call.status.code !== grpc.status.DEADLINE_EXCEEDED || w.responseMessageLengths.length > 0) {
      if (w.responseMessageLengths.join(',') !== call.responseSizes.join(',')) problems.push(`${P}: response lengths ${w.responseMessageLengths.join(',')}, client read ${call.responseSizes.join(',')}`);
    }
    // Status: grpc-status in the trailers (DEADLINE_EXCEEDED may be the client's own verdict).
    if (call.status.code === grpc.status.DEADLINE_EXCEEDED) {
      if (!w.rstStream.some((r) => r.from === 'client') && !(trailers && trailers['grpc-status'] === '4')) problems.push(`${P}: neither a client RST_STREAM nor grpc-status 4 on the wire`);
    } else {
      if (!trailers) problems.push(`${P}: no trailers`);
      else {
        if (trailers['grpc-status'] !== String(call.status.code)) problems.push(`${P}: grpc-status ${trailers['grpc-status']}, client saw ${call.status.code}`);
        const msg = pctDecode(trailers['grpc-message'] ?? '');
        if (msg !== call.status.message) problems.push(`${P}: grpc-message "${msg}", client saw "${call.status.message}"`);
      }
    }
    if (call.name === 'unary-big' && w.dataFrames.response < 150) problems.push(`${P}: only ${w.dataFrames.response} response DATA frames`);
    if (call.name === 'server-stream' && w.dataFrames.response < 5) problems.push(`${P}: ${w.dataFrames.response} response DATA frames, expected >= 5`);
  }
  for (const [ts, list] of byConn) {
    if ((next.get(ts) ?? 0) !== list.length) problems.push(`grpc.pcap: tcp.stream ${ts} has ${list.length} client streams, calls used ${next.get(ts) ?? 0}`);
  }
  // HPACK's dynamic table is used on the main connection.
  const dyn = frames.filter((f) => f.tcpStream === connOrder[0] && (f.headers ?? []).some((h) => h.index !== null && h.index >= 62)).length;
  log(`grpc.pcap: ${dyn} header blocks on the main connection reference the HPACK dynamic table`);
  if (dyn < 10) problems.push(`grpc.pcap: only ${dyn} header blocks use the dynamic table`);
  return { frames, tcpStreams, clientPorts };
}

// --- the midstream cut -------------------------------------------------------------------------

interface FieldFate {
  name: string;
  value: string;
  repr: string;
  /** 'ok': decodable without history; 'name-lost': literal value, name from a pre-cut dynamic entry; 'lost': the whole field is a pre-cut dynamic entry. */
  fate: 'ok' | 'name-lost' | 'lost';
}

/**
 * For every header block at or after `firstFrame`, which fields a decoder that starts there with an
 * empty dynamic table can still decode: a reference (index >= 62) is to an entry inserted after the
 * cut iff its age (index - 62) is below the number of insertions the decoder has seen since.
 */
function hpackFates(frames: H2Frame[], firstFrame: number, serverPort: number): Map<string, FieldFate[][]> {
  const inserted = new Map<string, number>(); // per (tcp stream, direction): insertions seen since the cut
  const out = new Map<string, FieldFate[][]>(); // `${tcpStream}/${streamId}` -> blocks
  for (const f of frames) {
    if (f.type !== 1 || f.frame < firstFrame) continue;
    const dir = `${f.tcpStream}/${fromClient(f, serverPort) ? 'c' : 's'}`;
    let n = inserted.get(dir) ?? 0;
    const block: FieldFate[] = [];
    for (const h of f.headers ?? []) {
      let fate: FieldFate['fate'] = 'ok';
      if (h.index !== null && h.index >= 62 && h.index - 62 >= n) fate = h.repr.startsWith('Indexed Header Field') ? 'lost' : 'name-lost';
      if (h.repr.includes('Incremental Indexing')) n++;
      block.push({ name: h.name, value: h.value, repr: h.repr, fate });
    }
    inserted.set(dir, n);
    const k = `${f.tcpStream}/${f.streamId}`;
    out.set(k, [...(out.get(k) ?? []), block]);
  }
  return out;
}

interface MidInfo {
  cutNs: bigint;
  gapMs: number;
  droppedFrames: number;
  firstFrame: number;
  totalFrames: number;
}

async function makeMidstream(calls: GrpcCall[], frames: H2Frame[], tcpStreams: number[]): Promise<MidInfo> {
  const all = (await tsharkLines(GRPC_PCAP, ['-T', 'fields', '-e', 'frame.time_epoch'])).map(parseEpochNs);
  const first = calls[CUT_BEFORE_CALL - 1]!;
  const f0 = frames.find((f) => f.tcpStream === tcpStreams[0] && f.streamId === first.streamId && f.type === 1);
  if (!f0) throw new FixtureError(`midstream: no HEADERS frame for call ${CUT_BEFORE_CALL}`);
  // Walk back from that packet to the start of the quiet gap before it.
  let j = f0.frame - 1; // 0-based index of the packet
  while (j > 0 && all[j]! - all[j - 1]! < 200_000_000n) j--;
  if (j === 0) throw new FixtureError(`midstream: no quiet gap before call ${CUT_BEFORE_CALL}`);
  const a = all[j - 1]!;
  const b = all[j]!;
  const cutNs = a + (b - a) / 2n;
  rmSync(GRPC_MID, { force: true });
  await runTool('editcap', ['-F', 'pcap', '-A', formatEpochNs(cutNs), GRPC_PCAP, GRPC_MID]);
  chmodSync(GRPC_MID, 0o644);
  const info = { cutNs, gapMs: Number(b - a) / 1e6, droppedFrames: j, firstFrame: j + 1, totalFrames: all.length };
  log(`grpc-midstream.pcap: cut at ${isoNs(cutNs)} (gap ${info.gapMs.toFixed(1)} ms): drops frames 1-${j} of ${all.length}; first kept frame ${j + 1} (call ${CUT_BEFORE_CALL}'s HEADERS in frame ${f0.frame})`);
  return info;
}

async function writeGrpcExpected(calls: GrpcCall[], frames: H2Frame[], tcpStreams: number[], clientPorts: number[], mid: MidInfo, problems: string[]): Promise<void> {
  const decode = ['-d', `tcp.port==${GRPC_PORT},http2`];
  const full = await tsharkCounts(GRPC_PCAP, decode);
  const midCounts = await tsharkCounts(GRPC_MID, decode);
  const wantMsgs = calls.reduce((n, c) => n + (c.wire?.requestMessageLengths.length ?? 0) + (c.wire?.responseMessageLengths.length ?? 0), 0);
  const wantLengths = calls.flatMap((c) => [...(c.wire?.requestMessageLengths ?? []), ...(c.wire?.responseMessageLengths ?? [])]).sort((x, y) => x - y);
  log(`tshark ${rel(GRPC_PCAP)}: ${full.headersStreamPairs} HEADERS stream pairs (expected ${calls.length}), ${full.grpcMessages} gRPC messages (expected ${wantMsgs})`);
  if (full.headersStreamPairs !== calls.length) problems.push(`grpc.pcap: ${full.headersStreamPairs} HEADERS stream pairs, expected ${calls.length}`);
  if (full.fieldCommandPairs !== full.headersStreamPairs) problems.push(`grpc.pcap: the field command gives ${full.fieldCommandPairs} pairs, the frame tree ${full.headersStreamPairs}`);
  if (full.grpcMessages !== wantMsgs) problems.push(`grpc.pcap: ${full.grpcMessages} gRPC messages, expected ${wantMsgs}`);
  if ([...full.grpcMessageLengths].sort((x, y) => x - y).join(',') !== wantLengths.join(',')) problems.push(`grpc.pcap: gRPC message lengths ${full.grpcMessageLengths.join(',')} differ from the calls' ${wantLengths.join(',')}`);
  const clientMsgs = calls.reduce((n, c) => n + c.requestMessages + c.responseMessages, 0);
  if (clientMsgs !== wantMsgs) problems.push(`grpc.pcap: the client counted ${clientMsgs} messages, the wire has ${wantMsgs}`);

  // Midstream: which calls are inside, what a history-less decoder can read.
  const after = calls.slice(CUT_BEFORE_CALL - 1);
  const fates = hpackFates(frames, mid.firstFrame, GRPC_PORT);
  const perCall = after.map((c) => {
    const blocks = fates.get(`${c.wire!.tcpStream}/${c.streamId}`) ?? [];
    const kinds = ['request headers', 'response headers', 'trailers'];
    return {
      seq: c.seq,
      name: c.name,
      connection: c.connection,
      streamId: c.streamId,
      headerBlocks: blocks.map((b, i) => ({
        block: blocks.length === 2 && i === 1 ? 'trailers-only response' : kinds[i] ?? `block ${i + 1}`,
        decodable: b.filter((x) => x.fate === 'ok').map((x) => x.name),
        valueOnly: b.filter((x) => x.fate === 'name-lost').map((x) => ({ value: x.value, name: x.name })),
        lost: b.filter((x) => x.fate === 'lost').map((x) => x.name),
      })),
    };
  });
  for (const pc of perCall) {
    const path = pc.headerBlocks[0];
    if (!path || !path.decodable.includes(':path')) problems.push(`grpc-midstream.pcap: call ${pc.seq}'s :path is not decodable without history`);
  }
  const midMsgs = after.reduce((n, c) => n + (c.wire?.requestMessageLengths.length ?? 0) + (c.wire?.responseMessageLengths.length ?? 0), 0);
  log(`tshark ${rel(GRPC_MID)}: ${midCounts.headersStreamPairs} HEADERS stream pairs, ${midCounts.grpcMessages} gRPC messages (calls ${CUT_BEFORE_CALL}-${calls.length} carry ${after.length} streams, ${midMsgs} messages)`);
  const midFrames = (await tsharkLines(GRPC_MID, ['-T', 'fields', '-e', 'frame.number'])).length;
  if (midFrames !== mid.totalFrames - mid.droppedFrames) problems.push(`grpc-midstream.pcap: ${midFrames} frames, expected ${mid.totalFrames - mid.droppedFrames}`);
  if (midCounts.headersStreamPairs !== after.length) problems.push(`grpc-midstream.pcap: tshark sees ${midCounts.headersStreamPairs} HEADERS stream pairs, expected ${after.length}`);
  const midFramesH2 = await h2Frames(GRPC_MID, decode);
  const firstMain = midFramesH2.find((f) => f.tcpStream === 0);
  const firstCall = after[0]!;
  if (!firstMain || firstMain.type !== 1 || firstMain.streamId !== firstCall.streamId || headerMap(firstMain.headers)[':path'] !== firstCall.path) {
    problems.push(`grpc-midstream.pcap: the first HTTP/2 frame of connection 1 is not call ${firstCall.seq}'s HEADERS with its :path (${JSON.stringify(firstMain && { type: firstMain.type, streamId: firstMain.streamId })})`);
  }
  const malformed = await tsharkLines(GRPC_MID, [...decode, '-Y', '_ws.malformed']);
  if (malformed.length > 0) problems.push(`grpc-midstream.pcap: ${malformed.length} malformed packets`);
  const midSyn = await tsharkLines(GRPC_MID, ['-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'tcp.srcport']);
  if (midSyn.length !== 1) problems.push(`grpc-midstream.pcap: ${midSyn.length} SYNs, expected 1 (the gzip channel's)`);
  const preface = await tsharkLines(GRPC_MID, ['-d', `tcp.port==${GRPC_PORT},http2`, '-Y', 'http2.magic', '-T', 'fields', '-e', 'tcp.srcport']);
  if (preface.length !== 1 || Number(preface[0]) !== clientPorts[1]) problems.push(`grpc-midstream.pcap: connection prefaces from ${preface.join(',')}, expected only the gzip channel's (${clientPorts[1]})`);

  const size = (f: string): number => statSync(f).size;
  const doc = {
    generatedBy: GENERATED_BY,
    proto: 'fixtures/grpc/shop.proto',
    server: { host: HOST, port: GRPC_PORT, implementation: `@grpc/grpc-js ${grpcVersion()} (proto loaded with @grpc/proto-loader ${protoLoaderVersion()})` },
    client: {
      implementation: `@grpc/grpc-js ${grpcVersion()}`,
      userAgent: `podcap-fixtures/1.0 grpc-node-js/${grpcVersion()}`,
      channels: [
        { connection: 1, channel: 'main', tcpStream: tcpStreams[0], clientPort: clientPorts[0], options: 'none special: every call but one' },
        { connection: 2, channel: 'gzip', tcpStream: tcpStreams[1], clientPort: clientPorts[1], options: 'grpc.default_compression_algorithm=gzip (2): requests are gzip-compressed' },
      ],
    },
    notes: [
      'requestSizes/responseSizes are serialized protobuf sizes as the client wrote/read them; wire.*MessageLengths are the 5-byte-prefixed gRPC length fields on the wire (the compressed request of unary-gzip is shorter than its serialized size).',
      'status is what the client saw. For unary-deadline grpc-js ends the call itself at its deadline (status message with its own timings) and sends RST_STREAM CANCEL; the server\'s own deadline timer races with that RST_STREAM, so wire.trailers holds a trailers-only grpc-status 4 "Deadline exceeded" in some runs and is null in others: see wire.rstStream / wire.trailers for what this capture has.',
      'grpc-message is percent-encoded on the wire (RFC 3986 style, UTF-8): unary-unavailable has é and %.',
      'Metadata keys ending in -bin are base64 (the wire carries unpadded base64).',
      'streamId and wire come from tshark (-d tcp.port==50051,http2) on grpc.pcap.',
    ],
    calls,
    captures: {
      'grpc.pcap': {
        bytes: size(GRPC_PCAP),
        frames: mid.totalFrames,
        madeBy: `tcpdump -i lo -s 0 'tcp and host ${HOST} and port ${GRPC_PORT}'`,
        calls: calls.map((c) => c.seq),
        tshark: full,
      },
      'grpc-midstream.pcap': {
        bytes: size(GRPC_MID),
        frames: mid.totalFrames - mid.droppedFrames,
        madeBy: `editcap -F pcap -A ${formatEpochNs(mid.cutNs)} grpc.pcap grpc-midstream.pcap`,
        cut: {
          at: isoNs(mid.cutNs),
          epoch: formatEpochNs(mid.cutNs),
          quietGapMs: Number(mid.gapMs.toFixed(3)),
          droppedFrames: mid.droppedFrames,
          firstFrameInGrpcPcap: mid.firstFrame,
          missing: `connection 1's handshake, connection preface, SETTINGS and calls 1-${CUT_BEFORE_CALL - 1}, so its HPACK dynamic tables (both directions) start unknown`,
        },
        calls: after.map((c) => c.seq),
        complete: `calls ${CUT_BEFORE_CALL}-${calls.length} are whole: every frame of them is in the file; connection 2 (the gzip channel) is whole, with its handshake and preface`,
        hpack: {
          explanation:
            'Per call, per header block, for a decoder that starts at the cut with empty dynamic tables: decodable = literal or static-table fields, or references to entries inserted after the cut; valueOnly = a literal value whose name is a pre-cut dynamic entry; lost = an indexed pre-cut dynamic entry (name and value unknown). Computed from the HPACK representations tshark decodes in grpc.pcap.',
          calls: perCall,
        },
        tshark: midCounts,
        tsharkNote:
          'tshark (4.0) on this file finds every stream and its :path (it skips the header fields it cannot resolve) but hands only the gzip channel\'s messages to its gRPC dissector: on connection 1, content-type: application/grpc is a pre-cut dynamic-table entry. A tolerant dissector should find every call in calls, its path, and all of expectedTolerant\'s gRPC messages.',
        expectedTolerant: { order: 'per call (calls order), requests then responses', streams: after.length, grpcMessages: midMsgs, grpcMessageLengths: after.flatMap((c) => [...(c.wire?.requestMessageLengths ?? []), ...(c.wire?.responseMessageLengths ?? [])]) },
      },
    },
  };
  writeFileSync(GRPC_EXPECTED, `${JSON.stringify(doc, null, 2)}\n`);
  log(`wrote ${rel(GRPC_EXPECTED)}: ${calls.length} calls`);
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}
const grpcVersion = (): string => pkgVersion('@grpc/grpc-js');
const protoLoaderVersion = (): string => pkgVersion('@grpc/proto-loader');

async function makeGrpc(problems: string[]): Promise<void> {
  log('=== part 1: fixtures/grpc ===');
  mkdirSync(GRPC_DIR, { recursive: true });
  for (const f of [GRPC_PCAP, GRPC_MID, GRPC_EXPECTED]) rmSync(f, { force: true });
  const { svc } = loadProto();
  await assertPortFree(HOST, GRPC_PORT);
  const bpf = `tcp and host ${HOST} and port ${GRPC_PORT}`;
  const { calls } = await withCapture('tcpdump grpc', GRPC_PCAP, bpf, () => runGrpcTraffic(svc));
  const { frames, tcpStreams, clientPorts } = await verifyGrpc(calls, problems);
  const mid = await makeMidstream(calls, frames, tcpStreams);
  await writeGrpcExpected(calls, frames, tcpStreams, clientPorts, mid, problems);
}

// ---------------------------------------------------------------------------------------------
// Part 2a: HTTP/2 with prior knowledge (Node http2 client and server)
// ---------------------------------------------------------------------------------------------

interface H2Exchange {
  seq: number;
  name: string;
  requestId: string;
  method: string;
  path: string;
  group: 'sequential' | 'concurrent';
  streamId: number | null;
  requestBodySize: number;
  requestHeaders: Record<string, string>;
  status: number | null;
  responseHeaders: Record<string, string>;
  responseBodySize: number;
  responseBodySha256: string | null;
  trailers: Record<string, string> | null;
  /** RST_STREAM seen by the client: its error code and who sent it. */
  reset: { code: number; name: string; by: 'client' | 'server' } | null;
  error: string | null;
  /** From tshark: DATA bytes the server sent on this stream (may exceed responseBodySize for cancelled streams). */
  wire?: { tcpStream: number; responseDataBytes: number; requestDataBytes: number; dataFrames: number; rstStream: { from: string; error: string }[] };
}

const ITEMS: Record<string, Plain> = {
  '1': { id: 1, sku: 'sku-1001', name: 'Trail running shoes', price: 8999, currency: 'EUR', tags: ['shoes', 'trail'] },
  '10': { id: 10, sku: 'sku-2001', name: 'Road shoes', price: 6000, currency: 'EUR' },
  '11': { id: 11, sku: 'sku-2002', name: 'Track spikes', price: 7500, currency: 'USD' },
  '12': { id: 12, sku: 'sku-2003', name: 'Recovery sandals', price: 3900, currency: 'EUR' },
};

const EXPORT_CSV = ['sku,name,stock', ...Array.from({ length: 12 }, (_, i) => `sku-${3000 + i},item ${i + 1},${(i * 7) % 23}`)].join('\n') + '\n';
const LARGE_BODY = Buffer.from(
  Array.from({ length: 7200 }, (_, i) => `{"seq":${String(i).padStart(5, '0')},"sku":"sku-${10000 + i}","stock":${(i * 37) % 1000}}\n`).join(''),
).subarray(0, LARGE_H2_BODY);

function readStream(s: http2.ServerHttp2Stream): Promise<Buffer> {
  return new Promise((res, rej) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => res(Buffer.concat(parts)));
    s.on('error', rej);
  });
}

function respondJson(s: http2.ServerHttp2Stream, status: number, v: unknown, extra: http2.OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(JSON.stringify(v));
  s.respond({ ':status': status, 'content-type': 'application/json', 'content-length': body.length, ...extra });
  s.end(body);
}

async function h2Handler(s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders): Promise<void> {
  s.on('error', () => {}); // resets are part of the scenario
  const method = String(h[':method']);
  const url = new URL(String(h[':path']), `http://${HOST}:${H2_PORT}`);
  const route = `${method} ${url.pathname}`;
  const live = (): boolean => !s.closed && !s.destroyed;
  switch (route) {
    case 'GET /api/items/1':
      return respondJson(s, 200, ITEMS['1'], { 'cache-control': 'max-age=60' });
    case 'POST /api/items': {
      const body = JSON.parse((await readStream(s)).toString('utf8')) as Plain;
      return respondJson(s, 201, { id: 77, ...body, created: true }, { location: '/api/items/77' });
    }
    case 'GET /api/items/999':
      return respondJson(s, 404, { error: 'not found', path: url.pathname });
    case 'POST /api/checkout':
      await readStream(s);
      return respondJson(s, 500, { error: 'payment processor timeout', retryable: true });
    case 'GET /api/export': {
      s.respond({ ':status': 200, 'content-type': 'text/csv', trailer: 'x-row-count, x-checksum-sha256' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'x-row-count': '12', 'x-checksum-sha256': sha256(EXPORT_CSV) }));
      s.write(EXPORT_CSV.slice(0, 100));
      await sleep(30);
      return void s.end(EXPORT_CSV.slice(100));
    }
    case 'GET /api/feed': {
      // An endless-looking feed; the client cancels it after 2 chunks.
      s.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      for (let i = 1; i <= 50 && live(); i++) {
        s.write(`${JSON.stringify({ seq: i, event: 'stock.changed', sku: `sku-${1000 + i}` })}\n`);
        await sleep(40);
      }
      if (live()) s.end();
      return;
    }
    case 'GET /api/refuse':
      return void s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    case 'GET /api/abort': {
      s.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      s.write(`${JSON.stringify({ seq: 1, partial: true })}\n`);
      await sleep(50);
      // destroy(err) resets with INTERNAL_ERROR. (close(NGHTTP2_INTERNAL_ERROR) after a write sends
      // RST_STREAM NO_ERROR in node 20, so it is not used here.)
      return void s.destroy(new Error('backend failed mid-response'));
    }
    case 'GET /api/large':
      s.respond({ ':status': 200, 'content-type': 'application/x-ndjson', 'content-length': LARGE_BODY.length });
      return void s.end(LARGE_BODY);
    case 'GET /api/items/10':
    case 'GET /api/items/11':
    case 'GET /api/items/12':
    case 'POST /api/items/bulk': {
      // Concurrent streams: each answers in three chunks, staggered, so DATA frames interleave.
      const id = url.pathname.split('/').pop()!;
      const reqBody = method === 'POST' ? await readStream(s) : Buffer.alloc(0);
      const value = id === 'bulk' ? { accepted: (JSON.parse(reqBody.toString('utf8')) as unknown[]).length } : ITEMS[id];
      const text = JSON.stringify({ ...value, padding: 'x'.repeat(200) });
      const third = Math.ceil(text.length / 3);
      const offset = id === 'bulk' ? 3 : Number(id) - 10;
      await sleep(5 + offset * 7);
      s.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      for (let i = 0; i < 3; i++) {
        if (!live()) return;
        s.write(text.slice(i * third, (i + 1) * third));
        await sleep(25);
      }
      return void s.end();
    }
    default:
      return respondJson(s, 404, { error: 'no route', route });
  }
}

interface H2Spec {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  sensitive?: string[];
  body?: { type: string; data: string };
  cancelAfterChunks?: number;
  group?: 'sequential' | 'concurrent';
}

function h2Request(session: http2.ClientHttp2Session, seq: number, spec: H2Spec): Promise<H2Exchange> {
  const requestId = `h2-${String(seq).padStart(4, '0')}`;
  const body = spec.body ? Buffer.from(spec.body.data) : null;
  const custom: Record<string, string> = { 'x-request-id': requestId, ...spec.headers };
  if (body) {
    custom['content-type'] = spec.body!.type;
    custom['content-length'] = String(body.length);
  }
  const headers: http2.OutgoingHttpHeaders = {
    ':method': spec.method,
    ':path': spec.path,
    'user-agent': 'podcap-fixtures/1.0 (node http2)',
    accept: 'application/json',
    ...custom,
  };
  if (spec.sensitive) (headers as Record<symbol, unknown>)[http2.sensitiveHeaders] = spec.sensitive;
  const ex: H2Exchange = {
    seq,
    name: spec.name,
    requestId,
    method: spec.method,
    path: spec.path,
    group: spec.group ?? 'sequential',
    streamId: null,
    requestBodySize: body?.length ?? 0,
    requestHeaders: custom,
    status: null,
    responseHeaders: {},
    responseBodySize: 0,
    responseBodySha256: null,
    trailers: null,
    reset: null,
    error: null,
  };
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: body === null });
    const parts: Buffer[] = [];
    let chunks = 0;
    let cancelled = false;
    req.on('ready', () => (ex.streamId = req.id ?? null));
    req.on('response', (h) => {
      ex.streamId = req.id ?? ex.streamId;
      ex.status = Number(h[':status']);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && k !== 'date') ex.responseHeaders[k] = String(v);
    });
    req.on('data', (d: Buffer) => {
      parts.push(d);
      chunks++;
      if (spec.cancelAfterChunks && chunks === spec.cancelAfterChunks && !cancelled) {
        cancelled = true;
        req.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    req.on('trailers', (t) => {
      ex.trailers = {};
      for (const [k, v] of Object.entries(t)) ex.trailers[k] = String(v);
    });
    req.on('error', (e: Error & { code?: string }) => (ex.error = `${e.code ?? 'error'}: ${e.message}`));
    req.on('close', () => {
      ex.streamId ??= req.id ?? null;
      const b = Buffer.concat(parts);
      ex.responseBodySize = b.length;
      ex.responseBodySha256 = b.length > 0 ? sha256(b) : null;
      const code = req.rstCode ?? 0;
      if (code !== 0 || cancelled) ex.reset = { code, name: h2ErrorName(code), by: cancelled ? 'client' : 'server' };
      resolve(ex);
    });
    if (body) req.end(body);
  });
}

interface PkResult {
  exchanges: H2Exchange[];
  goaway: { errorCode: number; lastStreamId: number; debug: string } | null;
}

async function runH2Traffic(): Promise<PkResult> {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (s, h) => {
    h2Handler(s, h).catch((e: Error) => {
      if (!s.closed) respondJson(s, 500, { error: `fixture bug: ${e.message}` });
    });
  });
  await listen(server, H2_PORT, HOST);
  log(`h2c server (node http2, no TLS) up on ${HOST}:${H2_PORT}`);
  const session = http2.connect(`http://${HOST}:${H2_PORT}`);
  session.on('error', (e) => log(`client session error: ${e.message}`));
  const seen: { goaway: PkResult['goaway'] } = { goaway: null };
  session.on('goaway', (errorCode, lastStreamId, opaque) => {
    seen.goaway = { errorCode, lastStreamId, debug: opaque ? Buffer.from(opaque).toString('utf8') : '' };
  });
  await new Promise<void>((res, rej) => {
    session.once('connect', () => res());
    session.once('error', rej);
  });
  const exchanges: H2Exchange[] = [];
  let seq = 0;
  const one = async (spec: H2Spec): Promise<H2Exchange> => {
    const ex = await h2Request(session, ++seq, spec);
    exchanges.push(ex);
    logEx(ex);
    await sleep(GAP_MS);
    return ex;
  };
  const auth = { authorization: `Bearer ${FAKE_JWT}` };
  const json = (v: unknown): { type: string; data: string } => ({ type: 'application/json', data: JSON.stringify(v) });
  try {
    await sleep(GAP_MS);
    await one({ name: 'get-json', method: 'GET', path: '/api/items/1', headers: auth, sensitive: ['authorization'] });
    await one({ name: 'post-json', method: 'POST', path: '/api/items', headers: auth, sensitive: ['authorization'], body: json({ sku: 'sku-4242', name: 'Climbing chalk', price: 799, currency: 'EUR' }) });
    await one({ name: 'not-found', method: 'GET', path: '/api/items/999' });
    await one({ name: 'server-error', method: 'POST', path: '/api/checkout', headers: auth, sensitive: ['authorization'], body: json({ cart: 'c-81', amount: 4599 }) });
    await one({ name: 'trailers', method: 'GET', path: '/api/export', headers: { accept: 'text/csv', te: 'trailers' } });
    await one({ name: 'client-cancel', method: 'GET', path: '/api/feed', headers: { accept: 'application/x-ndjson' }, cancelAfterChunks: 2 });
    await one({ name: 'server-refused', method: 'GET', path: '/api/refuse' });
    await one({ name: 'server-abort', method: 'GET', path: '/api/abort', headers: { accept: 'application/x-ndjson' } });
    await one({ name: 'large', method: 'GET', path: '/api/large', headers: { accept: 'application/x-ndjson' } });
    // Four streams in flight at once.
    const conc: H2Spec[] = [
      { name: 'concurrent-a', method: 'GET', path: '/api/items/10', group: 'concurrent' },
      { name: 'concurrent-b', method: 'GET', path: '/api/items/11', group: 'concurrent' },
      { name: 'concurrent-c', method: 'GET', path: '/api/items/12', group: 'concurrent' },
      { name: 'concurrent-d', method: 'POST', path: '/api/items/bulk', group: 'concurrent', body: json([{ sku: 'sku-1' }, { sku: 'sku-2' }, { sku: 'sku-3' }]) },
    ];
    const done = await Promise.all(conc.map((c) => h2Request(session, ++seq, c)));
    for (const ex of done) {
      exchanges.push(ex);
      logEx(ex);
    }
    await sleep(GAP_MS);
    // The server says goodbye: GOAWAY(NO_ERROR) with the last stream it processed and debug data.
    const last = Math.max(...exchanges.map((e) => e.streamId ?? 0));
    for (const s of sessions) s.goaway(http2.constants.NGHTTP2_NO_ERROR, last, Buffer.from('podcap fixture: server going away'));
    await sleep(GAP_MS);
    const goaway = seen.goaway;
    if (!goaway) throw new FixtureError('the client saw no GOAWAY');
    log(`  client saw GOAWAY: error ${goaway.errorCode}, last stream ${goaway.lastStreamId}, debug "${goaway.debug}"`);
    return { exchanges, goaway };
  } finally {
    // The client closes its side (after the GOAWAY the session may already be closing), then the server.
    const closed = (sess: http2.Http2Session): Promise<void> =>
      sess.closed || sess.destroyed ? Promise.resolve() : new Promise<void>((res) => sess.close(() => res()));
    await Promise.race([closed(session), sleep(2000)]);
    if (!session.destroyed) session.destroy();
    await sleep(100);
    for (const s of sessions) if (!s.destroyed) s.destroy();
    await Promise.race([closeServer(server as unknown as import('node:net').Server), sleep(2000)]);
  }
}

function logEx(ex: H2Exchange): void {
  log(
    `  #${ex.seq} stream ${ex.streamId} ${ex.method} ${ex.path} -> ${ex.status ?? '-'}${ex.reset ? ` RST_STREAM ${ex.reset.name} by ${ex.reset.by}` : ''}` +
      `; req ${ex.requestBodySize} B, resp ${ex.responseBodySize} B${ex.trailers ? `, trailers ${Object.keys(ex.trailers).join(',')}` : ''}`,
  );
}

async function verifyH2Pk(res: PkResult, problems: string[]): Promise<Plain> {
  const decode = ['-d', `tcp.port==${H2_PORT},http2`];
  const frames = await h2Frames(H2_PK, decode);
  const P = 'h2c-prior-knowledge.pcap';
  const conns = [...new Set(frames.map((f) => f.tcpStream))];
  if (conns.length !== 1) problems.push(`${P}: ${conns.length} connections, expected 1`);
  const ts = conns[0] ?? 0;
  const streams = streamsOf(frames, H2_PORT);
  for (const ex of res.exchanges) {
    const s = streams.find((v) => v.streamId === ex.streamId);
    const Q = `${P} #${ex.seq} (${ex.name}, stream ${ex.streamId})`;
    if (!s) {
      problems.push(`${Q}: stream not in the capture`);
      continue;
    }
    const reqH = headerMap(s.frames.find((f) => f.type === 1 && fromClient(f, H2_PORT))?.headers);
    if (reqH[':method'] !== ex.method || reqH[':path'] !== ex.path) problems.push(`${Q}: request ${reqH[':method']} ${reqH[':path']}`);
    if (reqH['x-request-id'] !== ex.requestId) problems.push(`${Q}: x-request-id ${reqH['x-request-id']}`);
    const respHs = s.frames.filter((f) => f.type === 1 && !fromClient(f, H2_PORT));
    const status = respHs[0] ? Number(headerMap(respHs[0].headers)[':status']) : null;
    if (status !== ex.status) problems.push(`${Q}: :status ${status}, client saw ${ex.status}`);
    const respData = s.frames.filter((f) => f.type === 0 && !fromClient(f, H2_PORT));
    const reqData = s.frames.filter((f) => f.type === 0 && fromClient(f, H2_PORT));
    const rst = s.frames.filter((f) => f.type === 3).map((f) => ({ from: fromClient(f, H2_PORT) ? 'client' : 'server', error: h2ErrorName(f.rstError ?? -1) }));
    ex.wire = {
      tcpStream: ts,
      responseDataBytes: respData.reduce((n, f) => n + f.length, 0),
      requestDataBytes: reqData.reduce((n, f) => n + f.length, 0),
      dataFrames: respData.length,
      rstStream: rst,
    };
    if (ex.reset) {
      if (!rst.some((r) => r.from === ex.reset!.by && r.error === ex.reset!.name)) problems.push(`${Q}: no RST_STREAM ${ex.reset.name} from ${ex.reset.by} (wire: ${JSON.stringify(rst)})`);
    } else {
      if (rst.length > 0) problems.push(`${Q}: unexpected RST_STREAM ${JSON.stringify(rst)}`);
      if (ex.wire.responseDataBytes !== ex.responseBodySize) problems.push(`${Q}: ${ex.wire.responseDataBytes} DATA bytes on the wire, client read ${ex.responseBodySize}`);
    }
    if (ex.wire.requestDataBytes !== ex.requestBodySize) problems.push(`${Q}: ${ex.wire.requestDataBytes} request DATA bytes, client sent ${ex.requestBodySize}`);
    if (ex.trailers) {
      const t = respHs.length >= 2 ? headerMap(respHs[respHs.length - 1]!.headers) : {};
      for (const [k, v] of Object.entries(ex.trailers)) if (t[k] !== v) problems.push(`${Q}: trailer ${k}=${t[k]}, client saw ${v}`);
    }
    if (ex.name === 'large') {
      const wu = frames.filter((f) => f.type === 8 && fromClient(f, H2_PORT)).length;
      if (wu === 0) problems.push(`${Q}: no WINDOW_UPDATE from the client`);
      if (respData.length < 18) problems.push(`${Q}: only ${respData.length} DATA frames`);
    }
  }
  // The concurrent streams' DATA frames interleave.
  const concIds = res.exchanges.filter((e) => e.group === 'concurrent').map((e) => e.streamId);
  const order = frames.filter((f) => f.type === 0 && !fromClient(f, H2_PORT) && concIds.includes(f.streamId)).map((f) => f.streamId);
  const switches = order.filter((id, i) => i > 0 && id !== order[i - 1]).length;
  if (switches < concIds.length) problems.push(`${P}: concurrent streams barely interleave (${order.join(',')})`);
  // GOAWAY from the server.
  const goaways = frames.filter((f) => f.type === 7).map((f) => ({ from: fromClient(f, H2_PORT) ? 'client' : 'server', frame: f.frame, lastStreamId: f.goaway!.lastStreamId, error: h2ErrorName(f.goaway!.error), debug: f.goaway!.debug }));
  const sg = goaways.find((g) => g.from === 'server');
  if (!sg || sg.lastStreamId !== res.goaway?.lastStreamId || sg.debug !== res.goaway?.debug) problems.push(`${P}: server GOAWAY ${JSON.stringify(sg)} vs client ${JSON.stringify(res.goaway)}`);
  const counts = await tsharkCounts(H2_PK, decode);
  log(`tshark ${P}: ${counts.headersStreamPairs} HEADERS stream pairs (expected ${res.exchanges.length}), GOAWAYs ${JSON.stringify(goaways)}, DATA order of concurrent streams ${order.join(',')}`);
  if (counts.headersStreamPairs !== res.exchanges.length) problems.push(`${P}: ${counts.headersStreamPairs} HEADERS stream pairs, expected ${res.exchanges.length}`);
  if (counts.fieldCommandPairs !== counts.headersStreamPairs) problems.push(`${P}: the field command gives ${counts.fieldCommandPairs} pairs, the frame tree ${counts.headersStreamPairs}`);
  if (counts.grpcMessages !== 0) problems.push(`${P}: tshark found gRPC messages`);
  const typeCounts: Record<string, number> = {};
  for (const f of frames) typeCounts[FRAME_TYPES[f.type] ?? String(f.type)] = (typeCounts[FRAME_TYPES[f.type] ?? String(f.type)] ?? 0) + 1;
  const cp = frames[0] ? (frames[0].src === H2_PORT ? frames[0].dst : frames[0].src) : null;
  return {
    bytes: statSync(H2_PK).size,
    madeBy: `tcpdump -i lo -s 0 'tcp and host ${HOST} and port ${H2_PORT}'`,
    server: { host: HOST, port: H2_PORT, implementation: `node ${process.version} http2.createServer (h2c, no TLS)` },
    client: { implementation: `node ${process.version} http2.connect('http://${HOST}:${H2_PORT}') (prior knowledge)`, clientPort: cp, tcpStream: ts },
    requests: res.exchanges,
    goaway: { clientSaw: res.goaway, wire: goaways },
    concurrentDataFrameOrder: order,
    frameTypes: typeCounts,
    tshark: counts,
  };
}

// ---------------------------------------------------------------------------------------------
// Part 2b: h2c upgrade (nghttpx frontend, curl and nghttp clients)
// ---------------------------------------------------------------------------------------------

const INDEX_HTML = '<!doctype html>\n<html><head><title>podcap h2c upgrade</title></head><body><h1>catalog</h1><p>served over h2c after an HTTP/1.1 Upgrade</p></body></html>\n';

function backendServer(): http.Server {
  return http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', `http://${HOST}`);
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(INDEX_HTML)) });
        return void res.end(INDEX_HTML);
      }
      if (route === 'GET /api/items/1' || route === 'GET /api/items/2') return sendJson(res, 200, ITEMS['1'] && { ...ITEMS['1'], id: Number(url.pathname.slice(-1)) });
      if (route === 'POST /api/items') return sendJson(res, 201, { id: 78, ...(JSON.parse(body.toString('utf8')) as Plain), created: true }, { location: '/api/items/78' });
      return sendJson(res, 404, { error: 'not found', path: url.pathname });
    })();
  });
}

interface UpExchange {
  client: 'curl' | 'nghttp';
  connection: number;
  requestId: string;
  method: string;
  path: string;
  streamId: number | null;
  viaUpgrade: boolean;
  status: number;
  requestBodySize: number;
  responseBodySize: number;
  httpVersion: string;
}

async function runCurl(): Promise<{ exchanges: UpExchange[]; localPort: number; raw: unknown[] }> {
  const base = `http://${HOST}:${UPGRADE_PORT}`;
  const steps = [
    { id: 'up-0001', method: 'GET', path: '/index.html' },
    { id: 'up-0002', method: 'GET', path: '/api/items/1' },
    { id: 'up-0003', method: 'GET', path: '/api/missing' },
    { id: 'up-0004', method: 'POST', path: '/api/items', body: JSON.stringify({ sku: 'sku-5151', name: 'Headlamp', price: 2999 }) },
  ];
  const args: string[] = [];
  steps.forEach((s, i) => {
    if (i > 0) args.push('--next');
    args.push('--http2', '-sS', '-o', '/dev/null', '-w', '%{json}\\n', '-H', `x-request-id: ${s.id}`, '-H', 'user-agent: podcap-fixtures/1.0 (curl)');
    if (s.body) args.push('-H', 'content-type: application/json', '--data-binary', s.body);
    args.push(`${base}${s.path}`);
  });
  log(`run: curl ${args.map((a) => (/[\s{}%]/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const { stdout } = await runTool('curl', args);
  const raw = stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
  if (raw.length !== steps.length) throw new FixtureError(`curl wrote ${raw.length} results, expected ${steps.length}`);
  const exchanges = steps.map((s, i): UpExchange => {
    const r = raw[i]!;
    return {
      client: 'curl',
      connection: 1,
      requestId: s.id,
      method: s.method,
      path: s.path,
      streamId: null,
      viaUpgrade: i === 0,
      status: Number(r.response_code),
      requestBodySize: Number(r.size_upload),
      responseBodySize: Number(r.size_download),
      httpVersion: String(r.http_version),
    };
  });
  const connects = raw.map((r) => Number(r.num_connects));
  if (connects[0] !== 1 || connects.slice(1).some((n) => n !== 0)) throw new FixtureError(`curl did not reuse its connection: num_connects ${connects.join(',')}`);
  for (const e of exchanges) log(`  curl ${e.method} ${e.path} -> ${e.status}, HTTP/${e.httpVersion}, ${e.responseBodySize} B`);
  return { exchanges, localPort: Number(raw[0]!.local_port), raw: raw.map((r) => ({ url: r.url_effective, response_code: r.response_code, http_version: r.http_version, size_download: r.size_download, size_upload: r.size_upload, num_connects: r.num_connects, local_port: r.local_port })) };
}

async function runNghttp(): Promise<UpExchange[]> {
  const base = `http://${HOST}:${UPGRADE_PORT}`;
  const paths = ['/index.html', '/api/items/2'];
  const args = ['-u', '-v', '-H', 'x-request-id: up-0005', '-H', 'user-agent: podcap-fixtures/1.0 (nghttp)', ...paths.map((p) => `${base}${p}`)];
  log(`run: nghttp ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const { stdout } = await runTool('nghttp', args);
  if (!/HTTP Upgrade success/.test(stdout)) throw new FixtureError(`nghttp -u: no upgrade:\n${stdout.slice(0, 2000)}`);
  // Streams: 1 is the upgraded request; the others from "send HEADERS frame <..., stream_id=N>" + ":path: ..." lines.
  const lines = stdout.split('\n');
  const pathOf = new Map<number, string>([[1, paths[0]!]]);
  let cur: number | null = null;
  const status = new Map<number, number>();
  const bytes = new Map<number, number>();
  for (const l of lines) {
    const h = /send HEADERS frame <.*stream_id=(\d+)>/.exec(l);
    if (h) cur = Number(h[1]);
    else if (/\] (send|recv) /.test(l)) cur = null;
    const p = /^\s+:path: (.*)$/.exec(l);
    if (p && cur !== null) pathOf.set(cur, p[1]!.trim());
    const st = /recv \(stream_id=(\d+)\) :status: (\d+)/.exec(l);
    if (st) status.set(Number(st[1]), Number(st[2]));
    const d = /recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, stream_id=(\d+)>/.exec(l);
    if (d) bytes.set(Number(d[2]), (bytes.get(Number(d[2])) ?? 0) + Number(d[1]));
  }
  const out = [...status.keys()].sort((a, b) => a - b).map((sid): UpExchange => ({
    client: 'nghttp',
    connection: 2,
    requestId: 'up-0005',
    method: 'GET',
    path: pathOf.get(sid) ?? '?',
    streamId: sid,
    viaUpgrade: sid === 1,
    status: status.get(sid)!,
    requestBodySize: 0,
    responseBodySize: bytes.get(sid) ?? 0,
    httpVersion: '2',
  }));
  if (out.length !== paths.length) throw new FixtureError(`nghttp: ${out.length} responses, expected ${paths.length}`);
  for (const e of out) log(`  nghttp stream ${e.streamId} ${e.method} ${e.path} -> ${e.status}, ${e.responseBodySize} B`);
  return out;
}

async function runUpgradeTraffic(): Promise<{ exchanges: UpExchange[]; curlRaw: unknown[]; nghttpxVersion: string; curlVersion: string; nghttpVersion: string }> {
  const backend = backendServer();
  await listen(backend, UPGRADE_BACKEND_PORT, HOST);
  const tmp = mkdtempSync(join(tmpdir(), 'podcap-nghttpx-'));
  let proc: ChildProcess | null = null;
  try {
    const args = [
      '--conf=/dev/null',
      '--single-process',
      `--frontend=${HOST},${UPGRADE_PORT};no-tls`,
      `--backend=${HOST},${UPGRADE_BACKEND_PORT}`,
      `--errorlog-file=${join(tmp, 'error.log')}`,
      `--accesslog-file=${join(tmp, 'access.log')}`,
      `--pid-file=${join(tmp, 'nghttpx.pid')}`,
    ];
    log(`start nghttpx ${args.join(' ')}`);
    proc = spawn('nghttpx', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((res) => proc!.on('exit', (c) => res(c)));
    // Wait for the frontend before capturing, so the readiness probes stay out of the capture.
    await Promise.race([waitForPort(HOST, UPGRADE_PORT), exited.then((c) => Promise.reject(new FixtureError(`nghttpx exited (${c}): ${err}`)))]);
    await sleep(300);
    const versions = {
      nghttpxVersion: (await runTool('nghttpx', ['--version'])).stdout.trim(),
      curlVersion: (await runTool('curl', ['--version'])).stdout.split('\n')[0]!.trim(),
      nghttpVersion: (await runTool('nghttp', ['--version'])).stdout.trim(),
    };
    return await withCapture('tcpdump h2c-upgrade', H2_UP, `tcp and host ${HOST} and port ${UPGRADE_PORT}`, async () => {
      const curl = await runCurl();
      await sleep(GAP_MS);
      const ng = await runNghttp();
      await sleep(GAP_MS);
      return { exchanges: [...curl.exchanges, ...ng], curlRaw: curl.raw, ...versions };
    });
  } finally {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await sleep(300);
    }
    await closeServer(backend);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function verifyUpgrade(run: Awaited<ReturnType<typeof runUpgradeTraffic>>, problems: string[]): Promise<Plain> {
  const P = 'h2c-upgrade.pcap';
  const decodeHttp = ['-d', `tcp.port==${UPGRADE_PORT},http`];
  const upgrades = await tsharkLines(H2_UP, [...decodeHttp, '-Y', 'http.request', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.upgrade', '-e', 'http.request.line']);
  const switching = await tsharkLines(H2_UP, [...decodeHttp, '-Y', 'http.response.code==101', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.stream', '-e', 'http.upgrade']);
  log(`tshark ${P} (-d tcp.port==${UPGRADE_PORT},http): upgrade requests ${JSON.stringify(upgrades.map((l) => l.split('|').slice(0, 5).join(' ')))}, 101 responses ${JSON.stringify(switching)}`);
  if (upgrades.length !== 2 || !upgrades.every((l) => l.split('|')[4] === 'h2c')) problems.push(`${P}: expected 2 HTTP/1.1 requests with Upgrade: h2c, got ${JSON.stringify(upgrades)}`);
  if (switching.length !== 2) problems.push(`${P}: ${switching.length} 101 responses, expected 2`);
  const http2Settings = (await tsharkLines(H2_UP, [...decodeHttp, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.line'])).map((l) => l.split(',').map((x) => x.replace(/\\r\\n$/, '')).find((x) => /^HTTP2-Settings:/i.test(x)) ?? null);
  const frames = await h2Frames(H2_UP, decodeHttp);
  const conns = [...new Set(frames.map((f) => f.tcpStream))].sort((a, b) => a - b);
  if (conns.length !== 2) problems.push(`${P}: HTTP/2 on ${conns.length} connections, expected 2`);
  const streams = streamsOf(frames, UPGRADE_PORT);
  // Map exchanges to streams: connection 1 (curl) streams 1,3,5,7; connection 2 (nghttp) from its output.
  const curlEx = run.exchanges.filter((e) => e.client === 'curl');
  curlEx.forEach((e, i) => (e.streamId = 1 + 2 * i));
  for (const e of run.exchanges) {
    const ts = conns[e.connection - 1];
    const s = streams.find((v) => v.tcpStream === ts && v.streamId === e.streamId);
    const Q = `${P} ${e.client} ${e.method} ${e.path} (stream ${ts}/${e.streamId})`;
    if (!s) {
      problems.push(`${Q}: no such stream`);
      continue;
    }
    const reqH = s.frames.find((f) => f.type === 1 && fromClient(f, UPGRADE_PORT));
    if (e.viaUpgrade) {
      if (reqH) problems.push(`${Q}: the upgraded request should have no HEADERS frame from the client`);
    } else {
      const h = headerMap(reqH?.headers);
      if (h[':path'] !== e.path || h[':method'] !== e.method) problems.push(`${Q}: HEADERS say ${h[':method']} ${h[':path']}`);
    }
    const respH = s.frames.find((f) => f.type === 1 && !fromClient(f, UPGRADE_PORT));
    const st = Number(headerMap(respH?.headers)[':status']);
    if (st !== e.status) problems.push(`${Q}: :status ${st}, client saw ${e.status}`);
    const bytes = s.frames.filter((f) => f.type === 0 && !fromClient(f, UPGRADE_PORT)).reduce((n, f) => n + f.length, 0);
    if (bytes !== e.responseBodySize) problems.push(`${Q}: ${bytes} DATA bytes, client read ${e.responseBodySize}`);
  }
  const priorityOnly = streams.filter((s) => s.frames.every((f) => f.type === 2)).map((s) => `${s.tcpStream}/${s.streamId}`);
  const countsHttp = await tsharkCounts(H2_UP, decodeHttp);
  const countsH2 = await tsharkCounts(H2_UP, ['-d', `tcp.port==${UPGRADE_PORT},http2`]);
  // HEADERS pairs: every stream except nghttp's PRIORITY-only anchors (the upgraded stream 1 has the server's HEADERS).
  const wantPairs = run.exchanges.length;
  log(
    `tshark ${P}: ${countsHttp.headersStreamPairs} HEADERS stream pairs with -d ...,http (expected ${wantPairs}; the field command gives ${countsHttp.fieldCommandPairs}: ` +
      `nghttp's PRIORITY frames share a packet with its HEADERS); ${countsH2.headersStreamPairs} with -d ...,http2; PRIORITY-only streams ${priorityOnly.join(',')}`,
  );
  if (countsHttp.headersStreamPairs !== wantPairs) problems.push(`${P}: ${countsHttp.headersStreamPairs} HEADERS stream pairs, expected ${wantPairs}`);
  const cp = (ts: number): number | null => {
    const f = frames.find((x) => x.tcpStream === ts);
    return f ? (f.src === UPGRADE_PORT ? f.dst : f.src) : null;
  };
  return {
    bytes: statSync(H2_UP).size,
    madeBy: `tcpdump -i lo -s 0 'tcp and host ${HOST} and port ${UPGRADE_PORT}'`,
    server: {
      frontend: `${run.nghttpxVersion}: nghttpx --frontend='${HOST},${UPGRADE_PORT};no-tls' (accepts HTTP/1.1 Upgrade: h2c and prior-knowledge h2c)`,
      backend: `node ${process.version} http.createServer (HTTP/1.1) on ${HOST}:${UPGRADE_BACKEND_PORT}, not captured`,
      whyNotNghttpd: 'nghttpd 1.52 (Debian 12) answers an HTTP/1.1 Upgrade: h2c request with its SETTINGS frame instead of 101, so curl fails with "Received HTTP/0.9"; nghttpx implements the upgrade.',
      responseHeadersAdded: 'nghttpx adds server: nghttpx and via: 1.1 nghttpx',
    },
    connections: [
      { connection: 1, client: run.curlVersion, clientPort: cp(conns[0] ?? -1), tcpStream: conns[0], http2SettingsHeader: http2Settings[0] ?? null, note: 'one curl invocation with --next: the first request goes out as HTTP/1.1 with Upgrade: h2c and is answered on stream 1; the others reuse the connection on streams 3, 5, 7' },
      { connection: 2, client: run.nghttpVersion, clientPort: cp(conns[1] ?? -1), tcpStream: conns[1], http2SettingsHeader: http2Settings[1] ?? null, note: 'nghttp -u: upgrade on stream 1; PRIORITY frames for its idle anchor streams 3, 5, 7, 9, 11 (no HEADERS); the second request on stream 13' },
    ],
    requests: run.exchanges,
    curlWriteOut: run.curlRaw,
    priorityOnlyStreams: priorityOnly,
    tshark: countsHttp,
    tsharkDecodeAsHttp2: {
      ...countsH2,
      note: 'with -d tcp.port==18111,http2 tshark does not parse the HTTP/1.1 upgrade exchange, so the frames after it are not found the same way; use -d tcp.port==18111,http (the HTTP dissector follows Upgrade: h2c into HTTP/2).',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function makeH2(problems: string[]): Promise<void> {
  log('=== part 2: fixtures/h2 ===');
  mkdirSync(H2_DIR, { recursive: true });
  for (const f of [H2_PK, H2_UP, H2_EXPECTED]) rmSync(f, { force: true });
  await assertPortFree(HOST, H2_PORT);
  const pk = await withCapture('tcpdump h2c', H2_PK, `tcp and host ${HOST} and port ${H2_PORT}`, runH2Traffic);
  const pkDoc = await verifyH2Pk(pk, problems);
  for (const p of [UPGRADE_PORT, UPGRADE_BACKEND_PORT]) await assertPortFree(HOST, p);
  const up = await runUpgradeTraffic();
  const upDoc = await verifyUpgrade(up, problems);
  const doc = {
    generatedBy: GENERATED_BY,
    notes: [
      'requests are what the clients saw; streamId comes from the client (node: stream.id) or, for curl, from tshark; wire.* from tshark.',
      'reset.by says who sent the RST_STREAM: client-cancel is the client\'s CANCEL (8) after 2 DATA chunks, server-refused a REFUSED_STREAM (7) with no response, server-abort an INTERNAL_ERROR (2) after the response headers and one DATA chunk.',
      'tshark counts: distinct (tcp.stream, http2.streamid) of packets holding a HEADERS frame, and grpc.message_length occurrences.',
    ],
    captures: { 'h2c-prior-knowledge.pcap': pkDoc, 'h2c-upgrade.pcap': upDoc },
  };
  writeFileSync(H2_EXPECTED, `${JSON.stringify(doc, null, 2)}\n`);
  log(`wrote ${rel(H2_EXPECTED)}`);
}

async function main(): Promise<void> {
  const missing: string[] = [];
  for (const [tool, pkg] of [['tcpdump', 'tcpdump'], ['tshark', 'tshark'], ['editcap', 'wireshark-common'], ['nghttpx', 'nghttp2-proxy'], ['nghttp', 'nghttp2-client'], ['curl', 'curl']] as const) {
    if (!(await haveTool(tool))) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  if (missing.length > 0) throw new FixtureError(`missing tools: ${missing.join(', ')}`);
  const only = process.argv[2]; // optional: "grpc" or "h2"
  const problems: string[] = [];
  if (!only || only === 'grpc') await makeGrpc(problems);
  if (!only || only === 'h2') await makeH2(problems);
  for (const f of [GRPC_PCAP, GRPC_MID, GRPC_EXPECTED, H2_PK, H2_UP, H2_EXPECTED]) {
    try {
      log(`${rel(f)}: ${statSync(f).size} bytes`);
    } catch {
      /* not made in this run */
    }
  }
  if (problems.length > 0) {
    for (const p of problems) log(`MISMATCH ${p}`);
    process.exitCode = 1;
    return;
  }
  log('all captures agree with expected.json');
}

main().catch((e: unknown) => {
  log(`FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
