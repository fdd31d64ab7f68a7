/**
 * How a transaction record is stored in `tx`: a fixed layout written and read field by field,
 * instead of msgpack maps. Encoding records was the largest single cost of an import (msgpack
 * writes every key of every nested object and dispatches on every value's type: ~7 µs for an
 * HTTP/1 call; this layout ~2 µs), and reading them back the largest cost of a full scan.
 *
 * Layout: MAGIC, FORMAT, then the fields of TransactionRecord in declaration order. Strings are
 * a tag byte (0: null; 1..128: ASCII of tag - 1 chars, bytes follow; UTF8: u32 byte length, then
 * UTF-8; LATIN1, for header blocks: u32 length, then one byte per character) — most strings here are short ASCII, copied by a plain loop. Numbers that may be large,
 * fractional or null are f64 (null as NULL_NUMBER's bit pattern, a NaN no record holds). Header
 * fields: an HTTP/1 block kept raw (header-block.ts) is one string, split when read; a HeaderList
 * is a count and its pairs. DNS details have a layout too (a DNS capture is one record per
 * query). What only some records carry goes at the end: an HTTP/2 stream's details, a gRPC
 * call's and trailers laid out too (FORMAT 2; see writeExtras), anything rarer as one msgpack
 * map (as every extra was in FORMAT 1, which is still read).
 *
 * MAGIC is 0xc1, the one byte msgpack never uses, so records stored before this layout (msgpack
 * maps) are told apart by their first byte and still read.
 */
import { Packr } from 'msgpackr';
import { parseHeaderBlock } from '../dissect/header-block.js';
// The summary's protocol codes: one numbering for everything stored.
import { PROTOCOLS } from './summary-format.js';
import type { DnsQuestion, DnsRecordInfo } from '../dissect/dns-message.js';
import type { Body, DnsInfo, DnsSearchPath, Endpoint, EndpointKind, GrpcMessageInfo, HeaderList, Http2Info, HttpRequest, HttpResponse, TransactionRecord } from '../dissect/record.js';

export type StoredRecord = Omit<TransactionRecord, 'id' | 'snapshot'>;

export const MAGIC = 0xc1;
/** 2: the HTTP/2 and gRPC parts laid out (extrasLayout); 1: all extras one msgpack map, still read. */
const FORMAT = 2;
const KINDS: readonly EndpointKind[] = ['pod', 'service', 'node', 'external'];
const TAG_NULL = 0;
const TAG_UTF8 = 0xff;
/** A string known to hold only code points up to 0xff (an HTTP/1 header block): one byte each, copied as is. */
const TAG_LATIN1 = 0xfe;
const MAX_ASCII = 127;
const HEADERS_RAW = 0xffffffff;

/** Flags of the record: which optional parts follow. */
const HAS_RESPONSE = 1;
const FAILED = 2;
const UDP = 4;
const HAS_EVIDENCE = 8;
const HAS_EXTRAS = 16;
const HAS_DNS = 32;
const INLINE_REQUEST_BODY = 64;
const INLINE_RESPONSE_BODY = 128;

/**
 * Bodies up to this size are kept at the end of their record's value rather than under keys of
 * their own: most API bodies are small, and a put per body cost as much as the record's own.
 */
export const INLINE_BODY_MAX = 2048;

/** Which bodies encodeRecordInto kept in the record (the caller stores the others apart). */
export interface Inlined {
  request: boolean;
  response: boolean;
}

const extrasPackr = new Packr({ useRecords: false });

/** The parts only some records carry, in the order they are put back. */
interface Extras {
  http2?: TransactionRecord['http2'];
  grpc?: TransactionRecord['grpc'];
  trailers?: HeaderList;
  requestBody?: Body;
  responseBody?: Body;
}

/** A number's eight bytes in this machine's order (little-endian on every platform Node runs on here). */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Node's Buffer has had latin1Write for long; it skips write()'s argument handling. */
type LatinBuffer = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/** An append-only byte buffer that grows; one is reused for every record a thread encodes. */
export class RecordWriter {
  buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;

  /**
   * A writer with room for `size` bytes from the start, in memory of its own (unpooled), whose
   * bytes are handed to another thread whole (transferred()). Growing would copy what was written.
   */
  static transferable(size: number): RecordWriter {
    const w = new RecordWriter();
    w.buf = Buffer.allocUnsafeSlow(size);
    return w;
  }

  /** What was written, as a view of the whole ArrayBuffer under it, to transfer (transferable() writers only). */
  transferred(): Uint8Array<ArrayBuffer> {
    // Unpooled (allocUnsafeSlow, or grown by allocUnsafe past the pool's size): the ArrayBuffer is this writer's alone.
    const ab = this.buf.buffer;
    if (!(ab instanceof ArrayBuffer) || this.buf.byteOffset !== 0) throw new Error('record writer: not in memory of its own');
    return new Uint8Array(ab, 0, this.pos);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  // Bytes stored one by one: Buffer's writeUInt32LE/writeDoubleLE check their arguments on
  // every call, which showed in profiles at a dozen numbers per record.
  u32(v: number): void {
    this.room(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  f64(v: number): void {
    this.room(8);
    if (LITTLE_ENDIAN) {
      F64[0] = v;
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < 8; i++) b[p + i] = F64_BYTES[i];
    } else this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A number or null: null as a NaN with a payload arithmetic never produces. */
  num(v: number | null): void {
    if (v !== null) {
      this.f64(v);
      return;
    }
    this.u32(NULL_LO);
    this.u32(NULL_HI);
  }

  str(s: string | null | undefined): void {
    if (s === null || s === undefined) {
      this.u8(TAG_NULL);
      return;
    }
    const n = s.length;
    if (n <= MAX_ASCII) {
      this.room(1 + n);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === n) {
        buf[this.pos] = n + 1;
        this.pos = start + n;
        return;
      }
    }
    this.room(5 + n * 3);
    this.buf[this.pos] = TAG_UTF8;
    const written = this.buf.write(s, this.pos + 5, 'utf8');
    this.buf.writeUInt32LE(written, this.pos + 1);
    this.pos += 5 + written;
  }

  /**
   * A string of code points up to 0xff (the caller knows): one byte each, no UTF-8 encoding.
   * Through latin1Write, as Buffer.write's argument handling showed in profiles (a header block
   * or two per record).
   */
  latin1(s: string): void {
    const n = s.length;
    this.u8(TAG_LATIN1);
    this.u32(n);
    this.room(n);
    this.pos += (this.buf as LatinBuffer).latin1Write(s, this.pos, n);
  }

  /** Bytes as they are, no length before them. */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

// NaN with payload 0xdead: what `num(null)` writes and `num()` reads as null.
const NULL_LO = 0x0000dead;
const NULL_HI = 0x7ff80000;

function writeHeaders(w: RecordWriter, raw: string | undefined, list: HeaderList): void {
  if (raw !== undefined) {
    w.u32(HEADERS_RAW);
    w.latin1(raw);
    return;
  }
  w.u32(list.length);
  for (let i = 0; i < list.length; i++) {
    w.str(list[i][0]);
    w.str(list[i][1]);
  }
}

/** What requests and responses share, from the version on. */
function writeMessageTail(w: RecordWriter, m: HttpRequest | HttpResponse): void {
  w.str(m.version);
  writeHeaders(w, m.rawHeaders, m.headers);
  w.f64(m.headersSize);
  w.f64(m.bodySize);
  w.f64(m.wireBodySize);
  w.str(m.contentEncoding);
}

function writeEndpoint(w: RecordWriter, e: Endpoint): void {
  w.str(e.ip);
  w.u32(e.port);
  w.str(e.name);
  w.str(e.namespace);
  w.u8(KINDS.indexOf(e.kind));
  w.str(e.workload?.kind);
  w.str(e.workload?.name);
  const keys = Object.keys(e.labels);
  w.u32(keys.length);
  for (const k of keys) {
    w.str(k);
    w.str(e.labels[k]);
  }
  w.str(e.node);
  // A service is written as one presence byte then its two names: a service always has both.
  if (e.service) {
    w.u8(1);
    w.str(e.service.name);
    w.str(e.service.namespace);
  } else w.u8(0);
  w.str(e.dns);
}

function inlinable(b: Buffer | null): b is Buffer {
  return b !== null && b.length > 0 && b.length <= INLINE_BODY_MAX;
}

/** Appends the record's bytes to `w`, with the bodies that are small enough; says which. */
export function encodeRecordInto(w: RecordWriter, r: StoredRecord, requestBody: Buffer | null = null, responseBody: Buffer | null = null): Inlined {
  const inlined = { request: inlinable(requestBody), response: inlinable(responseBody) };
  const hasExtras = r.http2 !== undefined || r.grpc !== undefined || r.response?.trailers !== undefined
    || r.request.body !== null || (r.response !== null && r.response.body !== null);
  const hasEvidence = r.evidence !== undefined;
  w.u8(MAGIC);
  w.u8(FORMAT);
  w.u8(PROTOCOLS.indexOf(r.protocol));
  w.u8((r.response ? HAS_RESPONSE : 0) | (r.failed ? FAILED : 0) | (r.stream.transport === 'udp' ? UDP : 0)
    | (hasEvidence ? HAS_EVIDENCE : 0) | (hasExtras ? HAS_EXTRAS : 0) | (r.dns ? HAS_DNS : 0)
    | (inlined.request ? INLINE_REQUEST_BODY : 0) | (inlined.response ? INLINE_RESPONSE_BODY : 0));
  w.f64(r.timestamp);
  w.num(r.elapsedTime);
  w.num(r.responseTimestamp);
  writeEndpoint(w, r.src);
  writeEndpoint(w, r.dst);
  w.u32(r.stream.id);
  const q = r.request;
  w.str(q.method);
  w.str(q.url);
  w.str(q.path);
  w.str(q.query);
  writeMessageTail(w, q);
  const s = r.response;
  if (s) {
    w.f64(s.status);
    w.str(s.statusText);
    writeMessageTail(w, s);
  }
  w.f64(r.status);
  w.u32(r.notes.length);
  for (const n of r.notes) w.str(n);
  if (hasEvidence) w.str(r.evidence);
  if (r.dns) writeDns(w, r.dns);
  if (hasExtras) writeExtras(w, r);
  if (inlined.request) w.bytes(requestBody!);
  if (inlined.response) w.bytes(responseBody!);
  return inlined;
}

const shared = new RecordWriter();

/** The record's bytes, in a Buffer of their own. */
export function encodeRecord(r: StoredRecord): Buffer {
  return encodeRecordWithBodies(r, null, null).bytes;
}

/** The record's bytes in a Buffer of their own, with the bodies small enough to go in it. */
export function encodeRecordWithBodies(r: StoredRecord, requestBody: Buffer | null, responseBody: Buffer | null): { bytes: Buffer; inlined: Inlined } {
  shared.pos = 0;
  const inlined = encodeRecordInto(shared, r, requestBody, responseBody);
  return { bytes: Buffer.from(shared.buf.subarray(0, shared.pos)), inlined };
}

/** The timestamp of a record in this layout starting at `at`, read where encodeRecordInto puts it (after MAGIC, FORMAT, protocol and flags). */
export function recordTimestamp(b: Buffer, at = 0): number {
  return b.readDoubleLE(at + 4);
}

/** Whether the stored value is in this layout (else it is a msgpack map from before it). */
export function isLayoutRecord(b: Uint8Array): boolean {
  return b.length > 1 && b[0] === MAGIC;
}

class Reader {
  pos = 2;
  /** The record's FORMAT byte. */
  readonly format: number;
  constructor(private readonly buf: Buffer) {
    this.format = buf[1];
  }

  u8(): number {
    return this.buf[this.pos++];
  }

  u32(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 4 > b.length) throw new RangeError('record ends early');
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000;
  }

  f64(): number {
    const b = this.buf;
    const p = this.pos;
    if (!LITTLE_ENDIAN || p + 8 > b.length) {
      this.pos = p + 8;
      return b.readDoubleLE(p);
    }
    for (let i = 0; i < 8; i++) F64_BYTES[i] = b[p + i];
    this.pos = p + 8;
    return F64[0];
  }

  num(): number | null {
    const p = this.pos;
    if (this.u32() === NULL_LO && this.u32() === NULL_HI) return null;
    this.pos = p;
    return this.f64();
  }

  str(): string | null {
    const tag = this.buf[this.pos++];
    if (tag === TAG_NULL) return null;
    if (tag === TAG_LATIN1) {
      const n = this.u32();
      const s = this.buf.toString('latin1', this.pos, this.pos + n);
      this.pos += n;
      return s;
    }
    if (tag === TAG_UTF8) {
      const n = this.u32();
      const s = this.buf.toString('utf8', this.pos, this.pos + n);
      this.pos += n;
      return s;
    }
    const n = tag - 1;
    const s = n === 0 ? '' : this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** A string the layout never writes as null. */
  text(): string {
    return this.str() ?? '';
  }

  bytes(): Buffer {
    const n = this.u32();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function readHeaders(rd: Reader): HeaderList {
  const n = rd.u32();
  if (n === HEADERS_RAW) return parseHeaderBlock(rd.text());
  const out: HeaderList = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [rd.text(), rd.text()];
  return out;
}

function readEndpoint(rd: Reader): Endpoint {
  const ip = rd.text();
  const port = rd.u32();
  const name = rd.str();
  const namespace = rd.str();
  const kind = KINDS[rd.u8()];
  const wk = rd.str();
  const wn = rd.str();
  const labels: Record<string, string> = {};
  for (let i = rd.u32(); i > 0; i--) {
    const k = rd.text();
    labels[k] = rd.text();
  }
  const node = rd.str();
  const service = rd.u8() === 1 ? { name: rd.text(), namespace: rd.text() } : null;
  const dns = rd.str();
  return { ip, port, name, namespace, kind, workload: wk !== null && wn !== null ? { kind: wk, name: wn } : null, labels, node, service, dns };
}

/** The record as it was encoded, with every header list split: what readers of records see. */
export function decodeRecord(b: Buffer): StoredRecord {
  return readRecord(new Reader(b));
}

/** A body kept in the record's value (INLINE_BODY_MAX), else null. */
export function inlineBody(b: Buffer, side: 'request' | 'response'): Buffer | null {
  const flags = b[3];
  const want = side === 'request' ? INLINE_REQUEST_BODY : INLINE_RESPONSE_BODY;
  if ((flags & want) === 0) return null;
  // The bodies follow the record: read past it.
  const rd = new Reader(b);
  readRecord(rd);
  if (side === 'response' && flags & INLINE_REQUEST_BODY) rd.bytes();
  return Buffer.from(rd.bytes());
}

function readRecord(rd: Reader): StoredRecord {
  const protocol = PROTOCOLS[rd.u8()];
  const flags = rd.u8();
  const timestamp = rd.f64();
  const elapsedTime = rd.num();
  const responseTimestamp = rd.num();
  const src = readEndpoint(rd);
  const dst = readEndpoint(rd);
  const stream = { id: rd.u32(), transport: flags & UDP ? 'udp' as const : 'tcp' as const };
  const request: HttpRequest = {
    method: rd.text(), url: rd.text(), path: rd.text(), query: rd.text(), version: rd.text(), headers: readHeaders(rd),
    headersSize: rd.f64(), bodySize: rd.f64(), wireBodySize: rd.f64(), contentEncoding: rd.str(), body: null,
  };
  let response: HttpResponse | null = null;
  if (flags & HAS_RESPONSE) {
    const status = rd.f64();
    const statusText = rd.text();
    const version = rd.text();
    const headers = readHeaders(rd);
    response = {
      status, statusText, version, headers, headersSize: rd.f64(), bodySize: rd.f64(), wireBodySize: rd.f64(),
      contentEncoding: rd.str(), body: null,
    };
  }
  const status = rd.f64();
  const notes: string[] = [];
  for (let i = rd.u32(); i > 0; i--) notes.push(rd.text());
  const evidence = flags & HAS_EVIDENCE ? rd.str() : undefined;
  const r: StoredRecord = { protocol, timestamp, elapsedTime, responseTimestamp, src, dst, stream, request, response, status, failed: (flags & FAILED) !== 0, notes };
  const dns = flags & HAS_DNS ? readDns(rd) : null;
  if (flags & HAS_EXTRAS) {
    const x = rd.format >= 2 ? readExtras(rd) : extrasPackr.unpack(rd.bytes()) as Extras;
    if (x.http2) r.http2 = x.http2;
    if (x.grpc) r.grpc = x.grpc;
    if (x.requestBody) request.body = x.requestBody;
    if (response) {
      if (x.trailers) {
        // Trailers sit after the header fields, where the HTTP/2 dissector puts them.
        const { status: st, statusText, version, headers, ...rest } = response;
        response = { status: st, statusText, version, headers, trailers: x.trailers, ...rest };
        r.response = response;
      }
      if (x.responseBody) response.body = x.responseBody;
    }
  }
  // After http2 and grpc, before evidence: the order the dissectors and the pipeline set them in.
  if (dns) r.dns = dns;
  if (evidence !== undefined) r.evidence = evidence;
  return r;
}

const DNS_FLAGS = ['authoritative', 'truncated', 'recursionDesired', 'recursionAvailable', 'authenticData', 'checkingDisabled'] as const;
const FLAGS_PRESENT = 0x80;
const ROLES: readonly DnsSearchPath['role'][] = ['expansion', 'answer', 'not-resolved'];

function writeDnsRecords(w: RecordWriter, rs: DnsRecordInfo[]): void {
  w.u32(rs.length);
  for (const x of rs) {
    w.str(x.name);
    w.str(x.type);
    w.str(x.class);
    w.f64(x.ttl);
    w.str(x.data);
  }
}

function readDnsRecords(rd: Reader): DnsRecordInfo[] {
  const out: DnsRecordInfo[] = [];
  for (let i = rd.u32(); i > 0; i--) out.push({ name: rd.text(), type: rd.text(), class: rd.text(), ttl: rd.f64(), data: rd.text() });
  return out;
}

function writeDns(w: RecordWriter, d: DnsInfo): void {
  w.f64(d.id);
  w.str(d.opcode);
  w.u8(d.transport === 'udp' ? 0 : 1);
  w.u32(d.questions.length);
  for (const q of d.questions) {
    w.str(q.name);
    w.str(q.type);
    w.str(q.class);
  }
  writeDnsRecords(w, d.answers);
  writeDnsRecords(w, d.authorities);
  writeDnsRecords(w, d.additionals);
  w.str(d.rcode);
  let f = 0;
  if (d.flags) {
    f = FLAGS_PRESENT;
    for (let i = 0; i < DNS_FLAGS.length; i++) if (d.flags[DNS_FLAGS[i]]) f |= 1 << i;
  }
  w.u8(f);
  if (d.edns) {
    w.u8(1);
    w.f64(d.edns.udpPayloadSize);
    w.u8(d.edns.dnssecOk ? 1 : 0);
    w.f64(d.edns.version);
    w.u32(d.edns.options.length);
    for (const o of d.edns.options) w.str(o);
  } else w.u8(0);
  w.f64(d.retries);
  w.f64(d.queryLength);
  w.f64(d.responseLength);
  if (d.searchPath) {
    w.u8(1 + ROLES.indexOf(d.searchPath.role));
    w.str(d.searchPath.base);
    w.str(d.searchPath.resolvedAs);
  } else w.u8(0);
}

function readDns(rd: Reader): DnsInfo {
  const id = rd.f64();
  const opcode = rd.text();
  const transport = rd.u8() === 0 ? 'udp' as const : 'tcp' as const;
  const questions: DnsQuestion[] = [];
  for (let i = rd.u32(); i > 0; i--) questions.push({ name: rd.text(), type: rd.text(), class: rd.text() });
  const answers = readDnsRecords(rd);
  const authorities = readDnsRecords(rd);
  const additionals = readDnsRecords(rd);
  const rcode = rd.str();
  const f = rd.u8();
  const flags = f & FLAGS_PRESENT
    ? {
        authoritative: (f & 1) !== 0, truncated: (f & 2) !== 0, recursionDesired: (f & 4) !== 0,
        recursionAvailable: (f & 8) !== 0, authenticData: (f & 16) !== 0, checkingDisabled: (f & 32) !== 0,
      }
    : null;
  let edns: DnsInfo['edns'] = null;
  if (rd.u8() === 1) {
    const udpPayloadSize = rd.f64();
    const dnssecOk = rd.u8() === 1;
    const version = rd.f64();
    const options: string[] = [];
    for (let i = rd.u32(); i > 0; i--) options.push(rd.text());
    edns = { udpPayloadSize, dnssecOk, version, options };
  }
  const retries = rd.f64();
  const queryLength = rd.f64();
  const responseLength = rd.f64();
  const role = rd.u8();
  const searchPath = role > 0 ? { base: rd.text(), role: ROLES[role - 1], resolvedAs: rd.str() } : null;
  return { id, opcode, transport, questions, answers, authorities, additionals, rcode, flags, edns, retries, queryLength, responseLength, searchPath };
}

/**
 * The parts only some records carry. Most are an HTTP/2 stream's (every HTTP/2 and gRPC call)
 * and a gRPC call's: laid out field by field, as msgpack cost an h2c or gRPC import a tenth of
 * its time. What is rarer (bodies filled in, or a part of another shape than the dissectors
 * make, whose keys a layout would not give back as they were) goes as one msgpack map.
 */
const X_HTTP2 = 1;
const X_GRPC = 2;
const X_TRAILERS = 4;
const X_PACKED = 8;
const HTTP2_KEYS = ['streamId', 'resetCode', 'resetBy', 'pushed'];
const GRPC_KEYS = ['service', 'method', 'encoding', 'grpcStatus', 'statusName', 'message', 'requestMessages', 'responseMessages', 'messages'];
const MESSAGE_KEYS = ['from', 'ts', 'compressed', 'size', 'offset'];
const RESET_BY: ReadonlyArray<Http2Info['resetBy']> = [null, 'client', 'server'];

/** Whether `o` has exactly these keys, in this order (what a layout gives back). */
function keysAre(o: object, keys: readonly string[]): boolean {
  let i = 0;
  for (const k in o) if (k !== keys[i++]) return false;
  return i === keys.length;
}

function laidOut(r: StoredRecord): boolean {
  if (r.request.body !== null || (r.response !== null && r.response.body !== null)) return false;
  if (r.http2 !== undefined && !keysAre(r.http2, HTTP2_KEYS)) return false;
  const g = r.grpc;
  if (g !== undefined) {
    if (!keysAre(g, GRPC_KEYS)) return false;
    for (const m of g.messages) if (!keysAre(m, MESSAGE_KEYS)) return false;
  }
  return true;
}

function writeExtras(w: RecordWriter, r: StoredRecord): void {
  if (!laidOut(r)) {
    const x: Extras = {};
    if (r.http2) x.http2 = r.http2;
    if (r.grpc) x.grpc = r.grpc;
    if (r.response?.trailers) x.trailers = r.response.trailers;
    if (r.request.body) x.requestBody = r.request.body;
    if (r.response?.body) x.responseBody = r.response.body;
    w.u8(X_PACKED);
    w.bytes(extrasPackr.pack(x));
    return;
  }
  const h = r.http2;
  const g = r.grpc;
  const trailers = r.response?.trailers;
  w.u8((h ? X_HTTP2 : 0) | (g ? X_GRPC : 0) | (trailers ? X_TRAILERS : 0));
  if (h) {
    w.f64(h.streamId);
    w.str(h.resetCode);
    w.u8(RESET_BY.indexOf(h.resetBy));
    w.u8(h.pushed ? 1 : 0);
  }
  if (g) {
    w.str(g.service);
    w.str(g.method);
    w.str(g.encoding);
    w.num(g.grpcStatus);
    w.str(g.statusName);
    w.str(g.message);
    w.f64(g.requestMessages);
    w.f64(g.responseMessages);
    w.u32(g.messages.length);
    for (const m of g.messages) {
      w.u8((m.from === 'server' ? 1 : 0) | (m.compressed ? 2 : 0));
      w.f64(m.ts);
      w.f64(m.size);
      w.f64(m.offset);
    }
  }
  if (trailers) {
    w.u32(trailers.length);
    for (const [n, v] of trailers) {
      w.str(n);
      w.str(v);
    }
  }
}

function readExtras(rd: Reader): Extras {
  const parts = rd.u8();
  if (parts & X_PACKED) return extrasPackr.unpack(rd.bytes()) as Extras;
  const x: Extras = {};
  if (parts & X_HTTP2) {
    x.http2 = { streamId: rd.f64(), resetCode: rd.str(), resetBy: RESET_BY[rd.u8()], pushed: rd.u8() === 1 };
  }
  if (parts & X_GRPC) {
    const service = rd.text();
    const method = rd.text();
    const encoding = rd.str();
    const grpcStatus = rd.num();
    const statusName = rd.text();
    const message = rd.str();
    const requestMessages = rd.f64();
    const responseMessages = rd.f64();
    const messages: GrpcMessageInfo[] = [];
    for (let i = rd.u32(); i > 0; i--) {
      const b = rd.u8();
      messages.push({ from: b & 1 ? 'server' : 'client', ts: rd.f64(), compressed: (b & 2) !== 0, size: rd.f64(), offset: rd.f64() });
    }
    x.grpc = { service, method, encoding, grpcStatus, statusName, message, requestMessages, responseMessages, messages };
  }
  if (parts & X_TRAILERS) {
    const trailers: HeaderList = [];
    for (let i = rd.u32(); i > 0; i--) trailers.push([rd.text(), rd.text()]);
    x.trailers = trailers;
  }
  return x;
}
