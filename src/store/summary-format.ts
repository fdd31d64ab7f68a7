/**
 * The summary's format (see summary.ts): its columns, flags and index fields, and the bytes of a
 * chunk, shared by the builder (which may run in import's analysis thread), the writer and the reader.
 */
const CHUNK_SHIFT = 12;
export const CHUNK_ROWS = 1 << CHUNK_SHIFT;

/** The chunk a sequence number's row is in (sequence numbers start at 1). */
export function chunkOf(seq: number): number {
  return (seq - 1) >> CHUNK_SHIFT;
}

/** The row of a sequence number within its chunk. */
export function rowOf(seq: number): number {
  return (seq - 1) & (CHUNK_ROWS - 1);
}

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

export function emptyColumns(n: number): SummaryColumns {
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

/** A finished chunk: its columns encoded, and the rows of each indexed value in it. */
export interface SummaryChunk {
  chunk: number;
  columns: Buffer;
  postings: PostingList[];
}

export interface PostingList {
  field: IndexField;
  value: string | number;
  /** Row offsets in the chunk, as Uint16 little-endian (the `post` value). */
  rows: Buffer;
}

/** The strings the endpoint and edge id columns refer to, by id. */
export interface SummaryDictionaries {
  endpoint: EndpointKey[];
  edge: EdgeKey[];
}
