/**
 * gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): length-prefixed messages in a
 * stream's DATA, the status from trailers, and what a reset stream means.
 */
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

/** gRPC status codes by number. */
export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/** The status a client reports when the stream was reset instead of ending with grpc-status. */
export function statusForReset(http2Error: string): number {
  switch (http2Error) {
    case 'REFUSED_STREAM': return 14;
    case 'CANCEL': return 1;
    case 'ENHANCE_YOUR_CALM': return 8;
    case 'INADEQUATE_SECURITY': return 7;
    default: return 13;
  }
}

/** The status a client reports for a non-200 HTTP status without grpc-status (the spec's mapping). */
export function statusForHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

export function isGrpcContentType(ct: string | null): boolean {
  return ct !== null && /^application\/grpc(\+|;|$)/i.test(ct.trim());
}

/** `/package.Service/Method` into its parts; null when :path is not of that shape. */
export function splitGrpcPath(path: string): { service: string; method: string } | null {
  const m = /^\/([^/]+)\/([^/?]+)$/.exec(path);
  return m ? { service: m[1], method: m[2] } : null;
}

/** grpc-message is percent-encoded (the spec's "Status-Message"). */
export function decodeGrpcMessage(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export interface GrpcMessage {
  /** Who sent it. */
  from: 'client' | 'server';
  /** Capture time of the segment that completed it, µs. */
  ts: number;
  compressed: boolean;
  /** Length on the wire (after the 5-byte prefix). */
  size: number;
  /** Offset of the message's prefix in its direction's stored body, or -1 when the body store was already full. */
  offset: number;
}

/** Splits one direction's DATA bytes into length-prefixed messages as they arrive. */
export class GrpcFramer {
  private header = Buffer.alloc(5);
  private headerFill = 0;
  private remaining = -1;
  private compressed = false;
  private size = 0;
  private offset = 0;
  /** Bytes of this direction seen so far: the next message's offset in the stored body. */
  private position = 0;
  /** The direction's framing broke (a gap in the data): no more messages are reported. */
  broken = false;

  constructor(private readonly from: 'client' | 'server', private readonly onMessage: (m: GrpcMessage) => void) {}

  push(data: Buffer, ts: number): void {
    let i = 0;
    while (i < data.length && !this.broken) {
      if (this.remaining < 0) {
        if (this.headerFill === 0) this.offset = this.position + i;
        const take = Math.min(5 - this.headerFill, data.length - i);
        data.copy(this.header, this.headerFill, i, i + take);
        this.headerFill += take;
        i += take;
        if (this.headerFill < 5) break;
        this.headerFill = 0;
        this.compressed = this.header[0] === 1;
        this.size = this.header.readUInt32BE(1);
        this.remaining = this.size;
        if (this.header[0] > 1) {
          // Only 0 and 1 are defined: this is not gRPC framing (or we lost sync).
          this.broken = true;
          break;
        }
      }
      const take = Math.min(this.remaining, data.length - i);
      i += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        this.remaining = -1;
        this.onMessage({ from: this.from, ts, compressed: this.compressed, size: this.size, offset: this.offset });
      }
    }
    this.position += data.length;
  }

  /** Bytes were lost: message boundaries can no longer be trusted. */
  gap(length: number): void {
    this.position += length;
    this.broken = true;
  }

  /** A message begun but not finished when the stream ended. */
  get partial(): boolean {
    return this.remaining > 0 || this.headerFill > 0;
  }
}

/** Undo a message's compression (grpc-encoding), bounded in output. */
export function decompressMessage(payload: Buffer, encoding: string | null, maxBytes: number): { data: Buffer; error: string | null } {
  const enc = (encoding ?? 'identity').toLowerCase();
  try {
    if (enc === 'gzip') return { data: gunzipSync(payload, { maxOutputLength: maxBytes }), error: null };
    if (enc === 'deflate') return { data: inflateSync(payload, { maxOutputLength: maxBytes }), error: null };
    if (enc === 'br') return { data: brotliDecompressSync(payload, { maxOutputLength: maxBytes }), error: null };
    return { data: payload, error: `grpc-encoding ${enc} not decoded` };
  } catch (e) {
    return { data: payload, error: `${enc} message could not be decompressed (${(e as Error).message})` };
  }
}
