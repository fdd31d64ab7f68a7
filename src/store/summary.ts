/**
 * A compact, columnar summary of every transaction, written at import beside the
 * records, so that analyses over millions of calls (stats, map, timeline, diff,
 * auth) and the common filters never decode a record:
 *
 *   sum   [snapshot, chunk]               -> columns of 4096 rows (time, latency, status, flags, ids)
 *   post  [snapshot, field, value, chunk] -> row offsets in that chunk holding that value (an index)
 *   dict  [snapshot, 'endpoint'|'edge']   -> the strings the id columns refer to
 *
 * Row r of chunk c is the transaction with sequence number c * 4096 + r + 1.
 */
import type { Database } from 'lmdb';
import type { TransactionRecord } from '../dissect/record.js';
import { pathTemplate } from '../dissect/path-template.js';
import { forEachHeaderName } from '../dissect/header-block.js';

export const CHUNK_ROWS = 4096;

/** Protocols by their code in the flags column. */
export const PROTOCOLS = ['http', 'http2', 'grpc', 'dns'] as const;

export const FLAG_FAILED = 1;
export const FLAG_RESPONSE = 2;
export const FLAG_UDP = 16;

/** Credentials seen on a request (the auth column). */
export const AUTH_BEARER = 1;
export const AUTH_BASIC = 2;
export const AUTH_API_KEY = 4;
export const AUTH_COOKIE = 8;
export const AUTH_OTHER = 16;

/** Fields with an index: the keys of `post`. */
export type IndexField =
  | 'proto' | 'status' | 'failed' | 'method' | 'path' | 'src.ns' | 'dst.ns' | 'src.wl' | 'dst.wl' | 'src.svc' | 'dst.svc'
  | 'src.pod' | 'dst.pod' | 'grpc.svc' | 'grpc.method' | 'dns.name';

/** What an endpoint is: the destination, and the operation on it. */
export interface EndpointKey {
  protocol: string;
  /** The destination as named: namespace/service, else workload, pod, DNS name, else ip:port. */
  destination: string;
  /** HTTP method, gRPC service, DNS question type. */
  method: string;
  /** HTTP path template (/orders/{id}), gRPC method, DNS question name. */
  path: string;
}

export interface EdgeKey {
  protocol: string;
  source: string;
  destination: string;
  /** The source's and destination's namespaces and workloads, for grouping. */
  sourceWorkload: string;
  destinationWorkload: string;
}

export interface SummaryColumns {
  count: number;
  ts: Float64Array;
  /** Milliseconds; NaN without a response. */
  elapsed: Float64Array;
  status: Int32Array;
  flags: Uint8Array;
  auth: Uint8Array;
  endpoint: Uint32Array;
  edge: Uint32Array;
  requestBytes: Uint32Array;
  responseBytes: Uint32Array;
}

/** Byte layout of a chunk: 8-byte columns first so every typed array is aligned. */
const LAYOUT = [
  ['ts', 8], ['elapsed', 8], ['status', 4], ['endpoint', 4], ['edge', 4], ['requestBytes', 4], ['responseBytes', 4],
  ['flags', 1], ['auth', 1],
] as const;

function emptyColumns(n: number): SummaryColumns {
  return {
    count: 0, ts: new Float64Array(n), elapsed: new Float64Array(n), status: new Int32Array(n), flags: new Uint8Array(n),
    auth: new Uint8Array(n), endpoint: new Uint32Array(n), edge: new Uint32Array(n), requestBytes: new Uint32Array(n),
    responseBytes: new Uint32Array(n),
  };
}

export function encodeChunk(c: SummaryColumns): Buffer {
  const n = c.count;
  let size = 8;
  for (const [, w] of LAYOUT) size += Math.ceil((n * w) / 8) * 8;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(n, 0);
  let off = 8;
  for (const [name, w] of LAYOUT) {
    const col = c[name];
    const bytes = new Uint8Array(col.buffer, col.byteOffset, n * w);
    out.set(bytes, off);
    off += Math.ceil((n * w) / 8) * 8;
  }
  return out;
}

export function decodeChunk(buf: Buffer): SummaryColumns {
  // Copied into a fresh ArrayBuffer: typed arrays need aligned offsets, which a Buffer from a pool does not promise.
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  const n = new DataView(ab).getUint32(0, true);
  let off = 8;
  const cols: Record<string, unknown> = { count: n };
  for (const [name, w] of LAYOUT) {
    const view = w === 8 ? new Float64Array(ab, off, n)
      : name === 'status' ? new Int32Array(ab, off, n)
          : w === 4 ? new Uint32Array(ab, off, n)
            : new Uint8Array(ab, off, n);
    cols[name] = view;
    off += Math.ceil((n * w) / 8) * 8;
  }
  return cols as unknown as SummaryColumns;
}

function destinationLabel(e: TransactionRecord['dst']): string {
  if (e.service) return `${e.service.namespace}/${e.service.name}`;
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** A client is named by its workload (its pods are one client), else as its destination would be, without the port. */
function sourceLabel(e: TransactionRecord['src']): string {
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip;
}

function workloadLabel(e: TransactionRecord['src']): string {
  return e.workload ? `${e.namespace ?? ''}/${e.workload.name}` : '';
}

/** What endpoint a call is to; `templates` turns an HTTP path into its template. */
function endpointParts(r: Omit<TransactionRecord, 'id' | 'snapshot'>, templates: { get(path: string): string }): EndpointKey {
  const destination = destinationLabel(r.dst);
  if (r.grpc) return { protocol: r.protocol, destination, method: r.grpc.service, path: r.grpc.method };
  if (r.dns) {
    const q = r.dns.questions[0];
    return { protocol: 'dns', destination, method: q?.type ?? '', path: q?.name.toLowerCase() ?? '' };
  }
  return { protocol: r.protocol, destination, method: r.request.method, path: templates.get(r.request.path) };
}

const UNCACHED = { get: pathTemplate };

export function endpointKeyOf(r: Omit<TransactionRecord, 'id' | 'snapshot'>): EndpointKey {
  return endpointParts(r, UNCACHED);
}

function authBit(n: string, value: () => string): number {
  if (n === 'authorization' || n === 'proxy-authorization') {
    const v = value().trimStart().toLowerCase();
    return v.startsWith('bearer ') ? AUTH_BEARER : v.startsWith('basic ') ? AUTH_BASIC : AUTH_OTHER;
  }
  if (n === 'cookie') return AUTH_COOKIE;
  return /(^|-)(api-?key|token|auth|access-key)$/.test(n) || n === 'x-api-key' ? AUTH_API_KEY : 0;
}

/** Credentials a request carries, by kind (the values are not kept here). */
export function authOf(r: Omit<TransactionRecord, 'id' | 'snapshot'>): number {
  let a = 0;
  const raw = r.request.rawHeaders;
  if (raw !== undefined) {
    // Only an Authorization value is read: the rest goes by name.
    forEachHeaderName(raw, (name, valueAt, lineEnd) => {
      a |= authBit(name.toLowerCase(), () => raw.slice(valueAt, lineEnd));
      return true;
    });
    return a;
  }
  for (const [name, value] of r.request.headers) a |= authBit(name.toLowerCase(), () => value);
  return a;
}

type Row = Omit<TransactionRecord, 'id' | 'snapshot'>;

/** The values a row is indexed under, by field. */
function indexValues(r: Row): Array<[IndexField, string | number]> {
  const out: Array<[IndexField, string | number]> = [['proto', r.protocol], ['status', r.status], ['failed', r.failed ? 1 : 0]];
  const add = (f: IndexField, v: string | null | undefined): void => {
    if (v) out.push([f, v]);
  };
  if (r.protocol !== 'dns') {
    add('method', r.request.method);
    add('path', r.request.path);
  }
  add('src.ns', r.src.namespace);
  add('dst.ns', r.dst.namespace);
  add('src.wl', r.src.workload?.name);
  add('dst.wl', r.dst.workload?.name);
  add('src.svc', r.src.service?.name);
  add('dst.svc', r.dst.service?.name);
  // KFL2's pod name falls back to the service: index what `src.pod.name` reads.
  if (r.src.kind === 'pod' || r.src.kind === 'service') add('src.pod', r.src.name);
  if (r.dst.kind === 'pod' || r.dst.kind === 'service') add('dst.pod', r.dst.name);
  if (r.grpc) {
    add('grpc.svc', r.grpc.service);
    add('grpc.method', r.grpc.method);
  }
  if (r.dns) for (const q of r.dns.questions) add('dns.name', q.name.toLowerCase());
  return out;
}

/** A dictionary of ids by a string key, kept in insertion order. */
class Dictionary<K> {
  private readonly ids = new Map<string, number>();
  readonly entries: K[] = [];
  /** `make` builds the entry only the first time its key is seen. */
  id(key: string, make: () => K): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.entries.length;
      this.ids.set(key, id);
      this.entries.push(make());
    }
    return id;
  }
}

/** Path templates of paths seen lately: a capture repeats its paths, and templating costs a few regexes. */
class TemplateCache {
  private map = new Map<string, string>();
  get(path: string): string {
    let t = this.map.get(path);
    if (t === undefined) {
      if (this.map.size >= 8192) this.map = new Map();
      t = pathTemplate(path);
      this.map.set(path, t);
    }
    return t;
  }
}

export type SummaryDb = Database<Buffer, [string, number]>;
export type PostingDb = Database<Buffer, [string, string, string | number, number]>;
export type DictDb = Database<unknown, [string, string]>;

export interface SummaryDbs {
  sum: SummaryDb;
  post: PostingDb;
  dict: DictDb;
}

export class SummaryWriter {
  private cols = emptyColumns(CHUNK_ROWS);
  private chunk = 0;
  private postings = new Map<string, { field: IndexField; value: string | number; rows: number[] }>();
  private readonly endpoints = new Dictionary<EndpointKey>();
  private readonly edges = new Dictionary<EdgeKey>();
  private readonly templates = new TemplateCache();

  constructor(private readonly dbs: SummaryDbs, private readonly snapshot: string) {}

  /** Rows must come in sequence order, starting at 1. */
  add(seq: number, r: Row): void {
    const chunk = (seq - 1) >> 12;
    if (chunk !== this.chunk) this.flush();
    this.chunk = chunk;
    const i = (seq - 1) & (CHUNK_ROWS - 1);
    const c = this.cols;
    c.ts[i] = r.timestamp;
    c.elapsed[i] = r.elapsedTime ?? NaN;
    c.status[i] = r.status;
    c.flags[i] = (r.failed ? FLAG_FAILED : 0) | (r.response ? FLAG_RESPONSE : 0) | (PROTOCOLS.indexOf(r.protocol) << 2)
      | (r.stream.transport === 'udp' ? FLAG_UDP : 0);
    c.auth[i] = authOf(r);
    // Keys joined by NUL (which none of these strings hold); the entries are kept once per distinct key.
    const ep = endpointParts(r, this.templates);
    const { protocol, destination } = ep;
    c.endpoint[i] = this.endpoints.id(`${protocol}\u0000${destination}\u0000${ep.method}\u0000${ep.path}`, () => ep);
    const source = sourceLabel(r.src);
    const sourceWorkload = workloadLabel(r.src);
    const destinationWorkload = workloadLabel(r.dst);
    c.edge[i] = this.edges.id(`${protocol}\u0000${source}\u0000${destination}\u0000${sourceWorkload}\u0000${destinationWorkload}`, () => ({
      protocol, source, destination, sourceWorkload, destinationWorkload,
    }));
    c.requestBytes[i] = Math.min(r.request.bodySize, 0xffffffff);
    c.responseBytes[i] = Math.min(r.response?.bodySize ?? 0, 0xffffffff);
    c.count = Math.max(c.count, i + 1);
    for (const [field, value] of indexValues(r)) {
      const k = `${field}\u0000${value}`;
      let p = this.postings.get(k);
      if (!p) {
        p = { field, value, rows: [] };
        this.postings.set(k, p);
      }
      p.rows.push(i);
    }
  }

  private flush(): void {
    if (this.cols.count === 0) return;
    void this.dbs.sum.put([this.snapshot, this.chunk], encodeChunk(this.cols));
    for (const p of this.postings.values()) {
      const rows = Uint16Array.from(p.rows);
      void this.dbs.post.put([this.snapshot, p.field, p.value, this.chunk], Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
    }
    this.cols = emptyColumns(CHUNK_ROWS);
    this.postings = new Map();
  }

  /** The last chunk and the dictionaries. */
  finish(): void {
    this.flush();
    void this.dbs.dict.put([this.snapshot, 'endpoint'], this.endpoints.entries);
    void this.dbs.dict.put([this.snapshot, 'edge'], this.edges.entries);
  }
}

/** A snapshot's summary, read chunk by chunk. */
export class SummaryReader {
  readonly endpoints: EndpointKey[];
  readonly edges: EdgeKey[];

  constructor(private readonly dbs: SummaryDbs, readonly snapshot: string, readonly transactions: number) {
    this.endpoints = (dbs.dict.get([snapshot, 'endpoint']) as EndpointKey[] | undefined) ?? [];
    this.edges = (dbs.dict.get([snapshot, 'edge']) as EdgeKey[] | undefined) ?? [];
  }

  get chunks(): number {
    return Math.ceil(this.transactions / CHUNK_ROWS);
  }

  chunk(n: number): SummaryColumns | null {
    const b = this.dbs.sum.get([this.snapshot, n]);
    return b ? decodeChunk(b) : null;
  }

  /**
   * Rows holding any of the values of `field` in [lo, hi] (numbers or strings; a
   * string prefix with hi = prefix + '\uffff'), as a bitset over sequence numbers.
   */
  rows(field: IndexField, lo: string | number, hi: string | number, into?: Uint8Array): Uint8Array {
    const bits = into ?? new Uint8Array(Math.ceil((this.transactions + 1) / 8));
    for (const { key, value } of this.dbs.post.getRange({ start: [this.snapshot, field, lo, -1], end: [this.snapshot, field, hi, Infinity] })) {
      const v = key[2];
      if (typeof v !== typeof lo || v < lo || v > hi) continue;
      const base = key[3] * CHUNK_ROWS + 1;
      const rows = new Uint16Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
      for (let i = 0; i < rows.length; i++) {
        const seq = base + rows[i];
        bits[seq >> 3] |= 1 << (seq & 7);
      }
    }
    return bits;
  }
}
