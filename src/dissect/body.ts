/**
 * Bodies as dissectors collect them: capped accumulation of the wire bytes,
 * then content decoding (gzip, deflate, br) bounded in output size.
 */
import { brotliDecompressSync, constants as zc, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

export interface BodyLimits {
  /** Decoded bytes kept per body; the size beyond it is still counted. */
  maxStoredBytes: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxStoredBytes: 1 << 20 };

/** No bytes: one shared value for every empty body or payload (nothing can write into it). */
export const NO_BYTES: Buffer = Buffer.alloc(0);

/** Collects a body's wire bytes up to a cap, counting all of them. */
export class BodyCollector {
  private chunks: Buffer[] = [];
  private kept = 0;
  /** Wire bytes seen, kept or not. */
  size = 0;
  /** Bytes the capture lost inside this body. */
  missing = 0;

  constructor(private readonly cap: number) {}

  add(bytes: Buffer): void {
    this.size += bytes.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    // Copy: the bytes are a view into a capture chunk that is about to be reused.
    const take = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.chunks.push(Buffer.from(take));
    this.kept += take.length;
  }

  get truncated(): boolean {
    return this.kept < this.size;
  }

  /** The kept bytes; most messages have no body, and Buffer.concat would make a new empty Buffer for each. */
  bytes(): Buffer {
    const n = this.chunks.length;
    return n === 0 ? NO_BYTES : n === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
  }
}

export interface DecodedBody {
  data: Buffer;
  /** Decoded size when known in full; when the wire body was cut, the size of what decoded. */
  size: number;
  note: string | null;
}

/**
 * Undo the content-encoding. A body that fails to decode is kept as sent, with a
 * note; a cut body decodes as far as it goes (flush, not finish, on the input end).
 */
export function decodeContent(wire: Buffer, encoding: string | null, complete: boolean, limits: BodyLimits): DecodedBody {
  const enc = encoding?.trim().toLowerCase() ?? '';
  if (enc === '' || enc === 'identity' || wire.length === 0) return { data: wire, size: wire.length, note: null };
  const opts = { maxOutputLength: limits.maxStoredBytes, finishFlush: complete ? zc.Z_FINISH : zc.Z_SYNC_FLUSH };
  const first = decodeWith(wire, enc, complete, opts, limits);
  if (first.note === null || !complete || !/unexpected end of file/.test(first.note)) return first;
  // Some servers flush but never finish the stream: decode what was flushed, and say so.
  const flushed = decodeWith(wire, enc, false, { ...opts, finishFlush: zc.Z_SYNC_FLUSH }, limits);
  if (flushed.data === wire) return first;
  return { ...flushed, note: `${enc} stream ended without its final block; decoded what was flushed` };
}

function decodeWith(
  wire: Buffer,
  enc: string,
  complete: boolean,
  opts: { maxOutputLength: number; finishFlush: number },
  limits: BodyLimits,
): DecodedBody {
  try {
    let out: Buffer;
    if (enc === 'gzip' || enc === 'x-gzip') out = gunzipSync(wire, opts);
    else if (enc === 'deflate') out = inflateDeflate(wire, opts);
    else if (enc === 'br') {
      out = brotliDecompressSync(wire, {
        maxOutputLength: limits.maxStoredBytes,
        finishFlush: complete ? zc.BROTLI_OPERATION_FINISH : zc.BROTLI_OPERATION_FLUSH,
      });
    } else return { data: wire, size: wire.length, note: `content-encoding ${enc} not decoded` };
    return { data: out, size: out.length, note: complete ? null : `${enc} body decoded from a partial capture` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') {
      return { data: wire, size: wire.length, note: `${enc} body decodes to more than ${limits.maxStoredBytes} bytes; kept encoded` };
    }
    return { data: wire, size: wire.length, note: `${enc} body could not be decoded (${e.message}); kept as sent` };
  }
}

/** "deflate" is zlib-wrapped by the RFC, raw deflate by some servers: try both. */
function inflateDeflate(wire: Buffer, opts: { maxOutputLength: number; finishFlush: number }): Buffer {
  try {
    return inflateSync(wire, opts);
  } catch {
    return inflateRawSync(wire, opts);
  }
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql|problem\+json|[\w.+-]*\+(json|xml))|multipart\/form-data)/i;

/** Whether a body reads as text: by content type first, else by its bytes being valid, printable UTF-8. */
export function isTextual(data: Buffer, mimeType: string | null): boolean {
  if (mimeType && TEXTUAL.test(mimeType)) return true;
  if (data.length === 0) return true;
  const sample = data.subarray(0, 4096);
  let control = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample[i];
    if (c === 0) return false;
    if (c < 0x09 || (c > 0x0d && c < 0x20)) control++;
  }
  if (control > sample.length / 100) return false;
  // A cut may fall inside a multi-byte sequence: allow 3 trailing bytes to be invalid.
  const text = sample.subarray(0, Math.max(0, sample.length - (sample.length === data.length ? 0 : 3)));
  return Buffer.from(text.toString('utf8'), 'utf8').equals(text);
}
