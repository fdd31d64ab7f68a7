/**
 * HTTP/2 over one TCP connection (RFC 9113), cleartext: prior knowledge, h2c
 * upgrade, or a connection whose start was not captured. Each stream is one
 * transaction; gRPC streams carry their messages and status.
 *
 * Frames are read per direction. DATA payloads stream straight into the stream's
 * body (a large body is never buffered as a whole frame); other frames are
 * gathered whole, header blocks across CONTINUATION. Each direction has its own
 * HPACK decoder; when its history is missing (mid-stream capture, a gap inside a
 * header block) it decodes what the static table and literals allow and the
 * transaction notes the rest.
 */
import type { CloseReason, Dir, StreamHandler, TcpConnection } from '../net/tcp-reassembly.js';
import { BodyCollector, DEFAULT_BODY_LIMITS, NO_BYTES, decodeContent, type BodyLimits } from './body.js';
import { GrpcFramer, decodeGrpcMessage, grpcStatusName, isGrpcContentType, splitGrpcPath, statusForHttp, statusForReset, type GrpcMessage } from './grpc.js';
import { HpackDecoder, type HpackResult } from './hpack.js';
import { FLAG, FRAME, FRAME_HEADER, PREFACE, SETTINGS, errorName, findFrameBoundary, readFrameHeader, type FrameHeader } from './http2-frames.js';
import { splitTarget } from './http1-syntax.js';
import { endpoint, headerValue, type HeaderList, type HttpRequest, type HttpResponse, type Protocol, type TransactionSink } from './record.js';

export interface Http2Options {
  body: BodyLimits;
  /** gRPC messages listed per call; the count beyond is still kept. */
  maxMessagesPerCall: number;
  /** Header block bytes gathered per block (HEADERS + CONTINUATION); a larger block is skipped with a note. */
  maxHeaderBlock: number;
  /** Streams open at once per connection; past it the oldest is ended with a note. */
  maxOpenStreams: number;
}

export const DEFAULT_HTTP2_OPTIONS: Http2Options = {
  body: DEFAULT_BODY_LIMITS,
  maxMessagesPerCall: 1000,
  maxHeaderBlock: 256 * 1024,
  maxOpenStreams: 10_000,
};

/** The HTTP/1 request that asked for `Upgrade: h2c`: it becomes stream 1. */
export interface UpgradedRequest {
  method: string;
  url: string;
  headers: HeaderList;
  body: Buffer | null;
  bodySize: number;
  startTs: number;
}

/** Frames that belong to a stream: on stream 0 they are malformed. */
const STREAM_FRAMES = new Set<number>([FRAME.DATA, FRAME.HEADERS, FRAME.PRIORITY, FRAME.RST_STREAM, FRAME.PUSH_PROMISE, FRAME.CONTINUATION]);
const FRAME_NAMES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];

/** Bytes kept per direction while looking for a frame boundary after a gap or a mid-stream start. */
const RESYNC_WINDOW = 256 * 1024;

type SideState = 'preface' | 'header' | 'frame' | 'data-pad' | 'data' | 'skip' | 'resync';

interface PendingBlock {
  streamId: number;
  /** HEADERS or PUSH_PROMISE */
  type: number;
  endStream: boolean;
  promisedId: number;
  ts: number;
  parts: Buffer[];
  size: number;
  /** Too large to keep: skipped, and the HPACK history is broken. */
  dropped: boolean;
}

class Side {
  state: SideState;
  hpack: HpackDecoder;
  /** Partial frame header or whole-frame payload being gathered. */
  buf: Buffer = NO_BYTES;
  header: FrameHeader | null = null;
  /** DATA: payload bytes still to come, padding after them, stream and flags. */
  dataLeft = 0;
  padLeft = 0;
  skipLeft = 0;
  /** Frames the peer may send us are bounded by what we announced (SETTINGS_MAX_FRAME_SIZE). */
  maxFrame = 16384;
  block: PendingBlock | null = null;
  prefaceLeft = PREFACE.length;

  constructor(state: SideState, historyComplete: boolean) {
    this.state = state;
    this.hpack = new HpackDecoder({ historyComplete });
  }

  /** The HPACK state of this direction cannot be trusted any more: decode on, best effort. */
  loseHistory(): void {
    this.hpack.markHistoryGap();
  }
}

interface H2Stream {
  id: number;
  /** Time of the first frame of the request (or of the response, when the request was not captured). */
  startTs: number | null;
  requestHeaders: HeaderList | null;
  requestTrailers: HeaderList | null;
  requestBody: BodyCollector;
  requestEnded: boolean;
  responseHeaders: HeaderList | null;
  responseTrailers: HeaderList | null;
  responseBody: BodyCollector;
  responseEnded: boolean;
  endTs: number | null;
  resetCode: string | null;
  resetBy: 'client' | 'server' | null;
  pushed: boolean;
  undecodedFields: number;
  notes: string[];
  grpc: { framers: [GrpcFramer, GrpcFramer]; messages: GrpcMessage[]; requestMessages: number; responseMessages: number } | null;
  /** The request arrived as HTTP/1 before an h2c upgrade. */
  upgraded: UpgradedRequest | null;
}

function looksLikeGrpcCall(h: HeaderList): boolean {
  return pseudo(h, ':method') === 'POST' && splitGrpcPath(pseudo(h, ':path') ?? '') !== null;
}

/** grpc-timeout ("300m", "5S", ...) in microseconds; null when absent or malformed. */
function grpcTimeoutUs(h: HeaderList | null): number | null {
  const v = h ? headerValue(h, 'grpc-timeout') : null;
  const m = v ? /^(\d{1,8})([HMSmun])$/.exec(v.trim()) : null;
  if (!m) return null;
  const unit: Record<string, number> = { H: 3.6e9, M: 6e7, S: 1e6, m: 1e3, u: 1, n: 1e-3 };
  return Number(m[1]) * unit[m[2]];
}

/**
 * The grpc-status of trailers whose names HPACK could not recover: gRPC servers
 * send grpc-status first (after :status and content-type in a trailers-only
 * response), so an unnamed first field holding a status number is it. Only when
 * no field of the block was lost outright (`lost`): one lost before it may have
 * been grpc-status, and the unnamed field metadata that happens to be a number.
 */
function inferredGrpcStatus(trailers: HeaderList | null, lost: number): number | null {
  if (!trailers || lost > 0) return null;
  const first = trailers.find(([n]) => n !== 'content-type' && (!n.startsWith(':') || n.startsWith(':unknown-name-')));
  if (!first || !first[0].startsWith(':unknown-name-') || !/^\d{1,2}$/.test(first[1])) return null;
  const n = Number(first[1]);
  return n <= 16 ? n : null;
}

function pseudo(h: HeaderList | null, name: string): string | null {
  if (!h) return null;
  for (const [n, v] of h) if (n === name) return v;
  return null;
}

/** Header list size as RFC 9113 counts it: name + value + 32 per field. */
function headerListSize(h: HeaderList | null): number {
  let n = 0;
  if (h) for (const [k, v] of h) n += k.length + v.length + 32;
  return n;
}

export class Http2Dissector implements StreamHandler {
  private readonly sides: [Side, Side];
  /** Which reassembler direction carries the client's frames. */
  private clientDir: Dir;
  private readonly streams = new Map<number, H2Stream>();
  /** Notes that hold for every call on the connection (a mid-stream start). */
  private readonly connNotes: string[] = [];
  /** Events with no stream open to carry them: they go to the next stream that ends. */
  private orphanNotes: string[] = [];
  /** Streams already ended: late frames for them (after a RST_STREAM, say) must not start new calls. */
  private readonly closed = new Set<number>();
  /** Set until the first decoded header block confirms (or corrects) which side is the client. */
  private rolesUnsure: boolean;
  private goaway: { lastStreamId: number; code: string; by: 'client' | 'server' } | null = null;
  /** Fields of each decoded header block left out because their dynamic-table entry was never seen; follows the list if roles are swapped. */
  private readonly lostFields = new WeakMap<HeaderList, number>();
  private emittedAny = false;
  private readonly hinted: boolean;

  constructor(
    private readonly conn: TcpConnection,
    private readonly sink: TransactionSink,
    private readonly opts: Http2Options,
    start: { clientDir: Dir; mode: 'prior-knowledge' | 'upgrade' | 'midstream' | 'hinted'; upgraded?: UpgradedRequest },
  ) {
    this.clientDir = start.clientDir;
    // 'hinted': the user said this port carries HTTP/2, and no preface came: mid-stream, but sure of the protocol.
    const midstream = start.mode === 'midstream' || start.mode === 'hinted';
    this.hinted = start.mode === 'hinted';
    const complete = !midstream;
    const client = new Side(midstream ? 'resync' : 'preface', complete);
    const server = new Side(midstream ? 'resync' : 'header', complete);
    this.sides = start.clientDir === 0 ? [client, server] : [server, client];
    this.rolesUnsure = midstream;
    if (midstream) this.connNotes.push(this.hinted ? 'capture started mid-connection (HTTP/2 by a configured hint)' : 'capture started mid-connection');
    if (start.upgraded) {
      const s = this.stream(1, start.upgraded.startTs);
      s.upgraded = start.upgraded;
      s.requestHeaders = start.upgraded.headers;
      s.requestEnded = true;
      if (start.upgraded.body) s.requestBody.add(start.upgraded.body);
      s.notes.push('upgraded from HTTP/1.1 (h2c)');
      // RFC 7540 section 3.2.1: the HTTP2-Settings header (base64url SETTINGS payload) is the client's first SETTINGS.
      const announced = headerValue(start.upgraded.headers, 'http2-settings');
      if (announced) this.settings(Buffer.from(announced.trim(), 'base64url'), true);
    }
  }

  data(dir: Dir, bytes: Buffer, ts: number): void {
    this.feed(dir, bytes, ts);
  }

  gap(dir: Dir, length: number, ts: number): void {
    const side = this.sides[dir];
    const fromClient = dir === this.clientDir;
    if (side.state === 'data' && length <= side.dataLeft) {
      // A hole inside a DATA payload: the framing survives, the body misses bytes.
      side.dataLeft -= length;
      const s = side.header ? this.streams.get(side.header.streamId) : undefined;
      if (s) {
        (fromClient ? s.requestBody : s.responseBody).missing += length;
        s.grpc?.framers[fromClient ? 0 : 1].gap(length);
      }
      if (side.dataLeft === 0) this.endData(side, fromClient, ts);
      return;
    }
    if (side.state === 'skip' && length <= side.skipLeft) {
      side.skipLeft -= length;
      if (side.skipLeft === 0) side.state = 'header';
      return;
    }
    if (side.state === 'resync') return;
    // Anything else breaks the framing, and perhaps a header block the HPACK state depended on.
    const s = side.header ? this.streams.get(side.header.streamId) : undefined;
    s?.notes.push(`gap of ${length} bytes in the ${fromClient ? 'request' : 'response'}`);
    this.noteOpen(`gap of ${length} bytes in the ${fromClient ? 'client' : 'server'} frames: resynchronised`);
    side.block = null;
    side.loseHistory();
    this.toResync(side);
  }

  end(reason: CloseReason, ts: number): void {
    for (const s of [...this.streams.values()]) {
      if (!s.responseEnded && !s.resetCode) s.notes.push(reason === 'rst' ? 'connection reset before the stream ended' : 'stream not finished when the connection ended');
      this.emit(s, s.endTs ?? ts);
    }
  }

  private toResync(side: Side): void {
    side.state = 'resync';
    side.buf = NO_BYTES;
    side.header = null;
  }

  private feed(dir: Dir, bytes: Buffer, ts: number): void {
    const side = this.sides[dir];
    let i = 0;
    while (i < bytes.length) {
      // Read each time round: the first decoded headers of a mid-stream capture may swap the roles.
      const fromClient = dir === this.clientDir;
      switch (side.state) {
        case 'preface': {
          const take = Math.min(side.prefaceLeft, bytes.length - i);
          const expected = PREFACE.subarray(PREFACE.length - side.prefaceLeft, PREFACE.length - side.prefaceLeft + take);
          if (!bytes.subarray(i, i + take).equals(expected)) {
            this.noteOpen('client preface missing or damaged');
            side.state = 'header';
            continue;
          }
          side.prefaceLeft -= take;
          i += take;
          if (side.prefaceLeft === 0) side.state = 'header';
          break;
        }
        case 'header': {
          if (side.buf.length === 0 && bytes.length - i >= FRAME_HEADER) {
            // The common case, a whole frame header in the segment: read in place.
            const h = readFrameHeader(bytes, i);
            i += FRAME_HEADER;
            this.startFrame(side, h, fromClient, ts);
            break;
          }
          // A frame header cut by the segment's end: gathered in a copy (concat copies), as the
          // segment's bytes are not ours to keep.
          const take = Math.min(FRAME_HEADER - side.buf.length, bytes.length - i);
          side.buf = Buffer.concat([side.buf, bytes.subarray(i, i + take)]);
          i += take;
          if (side.buf.length < FRAME_HEADER) break;
          this.startFrame(side, readFrameHeader(side.buf, 0), fromClient, ts);
          break;
        }
        case 'frame': {
          const h = side.header!;
          const need = h.length - side.buf.length;
          const take = Math.min(need, bytes.length - i);
          const part = bytes.subarray(i, i + take);
          i += take;
          if (side.buf.length === 0 && take === h.length) {
            side.state = 'header';
            this.frame(side, h, part, fromClient, ts);
          } else {
            side.buf = Buffer.concat([side.buf, part]);
            if (side.buf.length === h.length) {
              const payload = side.buf;
              side.buf = NO_BYTES;
              side.state = 'header';
              this.frame(side, h, payload, fromClient, ts);
            }
          }
          break;
        }
        case 'data-pad': {
          side.padLeft = bytes[i++];
          side.dataLeft = side.header!.length - 1 - side.padLeft;
          if (side.dataLeft < 0) {
            this.noteOpen(`DATA frame on stream ${side.header!.streamId} with padding longer than the frame`);
            side.skipLeft = side.header!.length - 1;
            side.padLeft = 0;
            side.dataLeft = 0;
            side.state = side.skipLeft > 0 ? 'skip' : 'header';
            break;
          }
          side.state = 'data';
          if (side.dataLeft === 0) this.endData(side, fromClient, ts);
          break;
        }
        case 'data': {
          const take = Math.min(side.dataLeft, bytes.length - i);
          this.dataPayload(side.header!.streamId, bytes.subarray(i, i + take), fromClient, ts);
          i += take;
          side.dataLeft -= take;
          if (side.dataLeft === 0) this.endData(side, fromClient, ts);
          break;
        }
        case 'skip': {
          const take = Math.min(side.skipLeft, bytes.length - i);
          i += take;
          side.skipLeft -= take;
          if (side.skipLeft === 0) side.state = 'header';
          break;
        }
        case 'resync': {
          const buf = side.buf.length ? Buffer.concat([side.buf, bytes.subarray(i)]) : bytes.subarray(i);
          i = bytes.length;
          // Once the other direction is in sync the connection is HTTP/2 for sure: less evidence will do.
          const other = this.sides[1 - dir];
          const at = findFrameBoundary(buf, 3, 16384, 64 * 1024, this.hinted || other.state !== 'resync');
          if (at < 0) {
            side.buf = Buffer.from(buf.subarray(Math.max(0, buf.length - RESYNC_WINDOW)));
            break;
          }
          side.buf = NO_BYTES;
          side.state = 'header';
          // Go on from the boundary with the rest of what was kept.
          this.feed(dir, Buffer.from(buf.subarray(at)), ts);
          return;
        }
      }
    }
  }

  private startFrame(side: Side, h: FrameHeader, fromClient: boolean, ts: number): void {
    // Whatever gathered the header is done with; a payload is gathered from empty.
    side.buf = NO_BYTES;
    side.header = h;
    if (h.length > Math.max(side.maxFrame, 16384) && h.type !== FRAME.DATA) {
      // Bigger than any frame the receiver allowed: skip it, whatever it is.
      const note = `${h.length}-byte frame of type ${h.type} larger than allowed: skipped`;
      if (h.type === FRAME.HEADERS || h.type === FRAME.CONTINUATION || h.type === FRAME.PUSH_PROMISE) side.loseHistory();
      // Its header is sound (we skip by its length): a HEADERS frame still opens or ends its stream.
      if (h.type === FRAME.HEADERS && h.streamId !== 0) this.undecodedBlock(h.streamId, (h.flags & FLAG.END_STREAM) !== 0, fromClient, ts, note);
      else this.noteOpen(note);
      return this.skip(side, h.length);
    }
    if (h.streamId === 0 && STREAM_FRAMES.has(h.type)) {
      // A stream's frame on stream 0 (a connection error for the receiver): skipped, never a transaction.
      this.malformed(h, `${FRAME_NAMES[h.type]} on stream 0`);
      if (h.type === FRAME.HEADERS || h.type === FRAME.CONTINUATION || h.type === FRAME.PUSH_PROMISE) side.loseHistory();
      return this.skip(side, h.length);
    }
    if (h.type === FRAME.DATA) {
      this.touch(h.streamId, ts);
      if (h.flags & FLAG.PADDED) {
        if (h.length === 0) {
          side.state = 'header';
          return;
        }
        side.state = 'data-pad';
      } else {
        side.padLeft = 0;
        side.dataLeft = h.length;
        side.state = 'data';
        if (h.length === 0) this.endData(side, fromClient, ts);
      }
      return;
    }
    if (h.length === 0) {
      side.state = 'header';
      this.frame(side, h, NO_BYTES, fromClient, ts);
      return;
    }
    side.state = 'frame';
  }

  private skip(side: Side, length: number): void {
    side.skipLeft = length;
    side.state = length > 0 ? 'skip' : 'header';
  }

  /** The end of a DATA frame's payload: skip its padding, honour END_STREAM. */
  private endData(side: Side, fromClient: boolean, ts: number): void {
    const h = side.header!;
    if (side.padLeft > 0) {
      side.skipLeft = side.padLeft;
      side.padLeft = 0;
      side.state = 'skip';
    } else {
      side.state = 'header';
    }
    if (h.flags & FLAG.END_STREAM) this.endOf(h.streamId, fromClient, ts);
  }

  private dataPayload(streamId: number, chunk: Buffer, fromClient: boolean, ts: number): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    if (fromClient) s.requestBody.add(chunk);
    else s.responseBody.add(chunk);
    s.grpc?.framers[fromClient ? 0 : 1].push(chunk, ts);
    if (!fromClient) s.endTs = ts;
  }

  private frame(side: Side, h: FrameHeader, payload: Buffer, fromClient: boolean, ts: number): void {
    switch (h.type) {
      case FRAME.HEADERS:
      case FRAME.PUSH_PROMISE: {
        const bad = (why: string): void => {
          // The block is lost, and with it whatever it inserted into the HPACK table.
          side.loseHistory();
          if (h.type === FRAME.HEADERS) this.undecodedBlock(h.streamId, (h.flags & FLAG.END_STREAM) !== 0, fromClient, ts, `malformed frame: ${why}`);
          else this.malformed(h, why);
        };
        let off = 0;
        let end = payload.length;
        if (h.flags & FLAG.PADDED) {
          if (payload.length < 1) return bad('padded frame without a pad length');
          end -= payload[0];
          off = 1;
        }
        let promisedId = 0;
        if (h.type === FRAME.HEADERS && h.flags & FLAG.PRIORITY) off += 5;
        if (h.type === FRAME.PUSH_PROMISE) {
          if (end - off < 4) return bad('PUSH_PROMISE too short');
          promisedId = payload.readUInt32BE(off) & 0x7fffffff;
          off += 4;
        }
        if (end < off) return bad('padding longer than the frame');
        if (side.block) this.noteOpen(`header block on stream ${side.block.streamId} interrupted before END_HEADERS`);
        side.block = {
          streamId: h.streamId, type: h.type, endStream: (h.flags & FLAG.END_STREAM) !== 0, promisedId, ts,
          parts: [], size: 0, dropped: false,
        };
        if (h.type === FRAME.HEADERS) this.touch(h.streamId, ts);
        this.blockPart(side, payload.subarray(off, end), (h.flags & FLAG.END_HEADERS) !== 0, fromClient);
        return;
      }
      case FRAME.CONTINUATION:
        if (!side.block || side.block.streamId !== h.streamId) {
          this.noteOpen(`CONTINUATION on stream ${h.streamId} without a header block`);
          return;
        }
        this.blockPart(side, payload, (h.flags & FLAG.END_HEADERS) !== 0, fromClient);
        return;
      case FRAME.RST_STREAM: {
        // Any other length is a FRAME_SIZE_ERROR (RFC 9113 section 6.4): not a reset we can read.
        if (payload.length !== 4) return this.malformed(h, `RST_STREAM of ${payload.length} bytes, not 4`);
        const s = this.touch(h.streamId, ts);
        s.resetCode = errorName(payload.readUInt32BE(0));
        s.resetBy = fromClient ? 'client' : 'server';
        s.endTs = ts;
        this.emit(s, ts);
        return;
      }
      case FRAME.SETTINGS: {
        if (h.flags & FLAG.ACK) return;
        this.settings(payload, fromClient);
        return;
      }
      case FRAME.GOAWAY: {
        if (payload.length < 8) return this.malformed(h, 'GOAWAY too short');
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        const code = errorName(payload.readUInt32BE(4));
        const by = fromClient ? 'client' : 'server';
        this.goaway = { lastStreamId, code, by };
        if (code !== 'NO_ERROR') {
          const debug = payload.subarray(8, Math.min(payload.length, 8 + 200)).toString('utf8').replace(/[^\x20-\x7e]/g, '');
          this.noteOpen(`GOAWAY from the ${by}: ${code}${debug ? ` (${debug})` : ''}`);
        }
        if (by === 'server') {
          // Streams the server never processed are refused: the client may retry them elsewhere.
          for (const s of [...this.streams.values()]) {
            if (s.id > lastStreamId && s.id % 2 === 1) {
              s.resetCode = `GOAWAY ${code}`;
              s.resetBy = 'server';
              this.emit(s, ts);
            }
          }
        }
        return;
      }
      default:
        // PRIORITY, PING, WINDOW_UPDATE and extension frames carry nothing a transaction records.
        return;
    }
  }

  /** SETTINGS parameters: what one side announces bounds what the other side's encoder and frames may use. */
  private settings(payload: Buffer, fromClient: boolean): void {
    const peer = this.sides[(fromClient ? 1 - this.clientDir : this.clientDir) as Dir];
    for (let o = 0; o + 6 <= payload.length; o += 6) {
      const id = payload.readUInt16BE(o);
      const value = payload.readUInt32BE(o + 2);
      if (id === SETTINGS.HEADER_TABLE_SIZE) peer.hpack.setMaxTableSize(value);
      else if (id === SETTINGS.MAX_FRAME_SIZE && value >= 16384 && value < 1 << 24) peer.maxFrame = value;
    }
  }

  /**
   * A header block that could not be decoded (too large, malformed): the stream
   * still exists, a request was still sent (only its fields are unknown, so not
   * "request not captured"), and END_STREAM still ends that side.
   */
  private undecodedBlock(id: number, endStream: boolean, fromClient: boolean, ts: number, note: string): void {
    const s = this.touch(id, ts);
    s.notes.push(note);
    if (fromClient && !s.requestHeaders) s.requestHeaders = [];
    if (endStream) this.endOf(id, fromClient, ts);
  }

  private malformed(h: FrameHeader, why: string): void {
    const s = this.streams.get(h.streamId);
    if (s) s.notes.push(`malformed frame: ${why}`);
    else this.noteOpen(`malformed frame on stream ${h.streamId}: ${why}`);
  }

  private noteOpen(text: string): void {
    if (this.streams.size === 0) {
      if (this.orphanNotes.length < 20) this.orphanNotes.push(text);
      return;
    }
    for (const s of this.streams.values()) if (s.notes.length < 50) s.notes.push(text);
  }

  private blockPart(side: Side, part: Buffer, endHeaders: boolean, fromClient: boolean): void {
    const b = side.block!;
    // Counted even once dropped: the note says how large the block really was.
    b.size += part.length;
    if (!b.dropped) {
      if (b.size > this.opts.maxHeaderBlock) {
        b.dropped = true;
        b.parts = [];
      } else {
        // Copied: the frame payload may be a view into the reader's chunk.
        b.parts.push(Buffer.from(part));
      }
    }
    if (!endHeaders) return;
    side.block = null;
    if (b.dropped) {
      side.loseHistory();
      const note = `header block of ${b.size} bytes larger than ${this.opts.maxHeaderBlock}: not decoded`;
      if (b.type === FRAME.HEADERS) this.undecodedBlock(b.streamId, b.endStream, fromClient, b.ts, note);
      else this.touch(b.streamId, b.ts).notes.push(note);
      return;
    }
    const result = side.hpack.decode(b.parts.length === 1 ? b.parts[0] : Buffer.concat(b.parts));
    if (b.type === FRAME.PUSH_PROMISE) this.pushPromise(b, result);
    else this.headers(b.streamId, result, b.endStream, fromClient, b.ts);
  }

  private stream(id: number, ts: number | null): H2Stream {
    let s = this.streams.get(id);
    if (s) return s;
    const detached = this.closed.has(id);
    if (this.streams.size >= this.opts.maxOpenStreams) {
      const oldest = this.streams.values().next().value as H2Stream;
      oldest.notes.push(`evicted: more than ${this.opts.maxOpenStreams} streams open at once`);
      this.emit(oldest, oldest.endTs ?? ts ?? 0);
    }
    const cap = this.opts.body.maxStoredBytes;
    s = {
      id, startTs: ts, requestHeaders: null, requestTrailers: null, requestBody: new BodyCollector(cap), requestEnded: false,
      responseHeaders: null, responseTrailers: null, responseBody: new BodyCollector(cap), responseEnded: false, endTs: null,
      resetCode: null, resetBy: null, pushed: false, undecodedFields: 0, notes: [], grpc: null, upgraded: null,
    };
    // A late frame on an ended stream goes to a stream nobody keeps: it must not look like a new call.
    if (!detached) this.streams.set(id, s);
    return s;
  }

  /** A frame on a stream: the stream exists from here on, and its start time is its first frame's. */
  private touch(id: number, ts: number): H2Stream {
    const s = this.stream(id, ts);
    if (s.startTs === null) s.startTs = ts;
    return s;
  }

  private headers(id: number, result: HpackResult, endStream: boolean, fromClient: boolean, ts: number): void {
    if (this.rolesUnsure && this.settleRoles(result.headers, fromClient)) fromClient = !fromClient;
    const s = this.touch(id, ts);
    s.undecodedFields += result.missing.length;
    // Only blocks that lost fields are remembered (absent reads as 0): a WeakMap entry per block
    // was work for every garbage collection on captures of millions of streams.
    if (result.missing.length > 0) this.lostFields.set(result.headers, result.missing.filter((m) => m.kind === 'indexed').length);
    if (result.error) s.notes.push(`header block could not be fully decoded (${result.error})`);
    if (fromClient) {
      if (!s.requestHeaders) {
        s.requestHeaders = result.headers;
        s.startTs = Math.min(s.startTs ?? ts, ts);
        const ct = headerValue(result.headers, 'content-type');
        if (isGrpcContentType(ct)) this.startGrpc(s);
        else if (ct === null && result.missing.length > 0 && looksLikeGrpcCall(result.headers)) {
          // The content-type was in HPACK history we never saw; a POST to /pkg.Service/Method is gRPC's shape.
          this.startGrpc(s);
          s.notes.push('gRPC inferred from :path (content-type not decodable)');
        }
        const g = this.goaway;
        if (g && g.by === 'server' && id > g.lastStreamId && id % 2 === 1) {
          // Opened as the server's GOAWAY was on its way (it crossed it): the server ignores it, so it is refused.
          s.resetCode = `GOAWAY ${g.code}`;
          s.resetBy = 'server';
          this.emit(s, ts);
          return;
        }
      } else s.requestTrailers = result.headers;
      if (endStream) this.endOf(id, true, ts);
      return;
    }
    const status = Number(pseudo(result.headers, ':status'));
    if (!s.responseHeaders && status >= 100 && status < 200) {
      s.notes.push(`interim response ${status}`);
    } else if (!s.responseHeaders) {
      s.responseHeaders = result.headers;
      // A gRPC response shows it is gRPC even when the request headers were not captured.
      if (!s.grpc && isGrpcContentType(headerValue(result.headers, 'content-type'))) this.startGrpc(s);
    } else {
      s.responseTrailers = result.headers;
    }
    s.endTs = ts;
    if (endStream) this.endOf(id, false, ts);
  }

  /**
   * In a mid-stream capture the client was guessed from the ports. The first
   * decoded request (:method) or response (:status) tells for sure; returns true
   * when the guess was wrong and the sides have been swapped.
   */
  private settleRoles(headers: HeaderList, fromClient: boolean): boolean {
    const isRequest = pseudo(headers, ':method') !== null;
    const isResponse = pseudo(headers, ':status') !== null;
    if (!isRequest && !isResponse) return false;
    this.rolesUnsure = false;
    if (isRequest === fromClient) return false;
    this.clientDir = (1 - this.clientDir) as Dir;
    // Streams seen so far had their sides assigned the wrong way round.
    for (const s of this.streams.values()) {
      [s.requestHeaders, s.responseHeaders] = [s.responseHeaders, s.requestHeaders];
      [s.requestTrailers, s.responseTrailers] = [s.responseTrailers, s.requestTrailers];
      [s.requestBody, s.responseBody] = [s.responseBody, s.requestBody];
      [s.requestEnded, s.responseEnded] = [s.responseEnded, s.requestEnded];
    }
    return true;
  }

  private pushPromise(b: PendingBlock, result: HpackResult): void {
    const s = this.stream(b.promisedId, b.ts);
    s.pushed = true;
    s.requestHeaders = result.headers;
    s.requestEnded = true;
    s.undecodedFields += result.missing.length;
    s.notes.push(`pushed by the server with stream ${b.streamId}`);
  }

  private startGrpc(s: H2Stream): void {
    const messages: GrpcMessage[] = [];
    const g = {
      messages,
      requestMessages: 0,
      responseMessages: 0,
      framers: [
        new GrpcFramer('client', (m) => {
          g.requestMessages++;
          if (messages.length < this.opts.maxMessagesPerCall) messages.push(m);
        }),
        new GrpcFramer('server', (m) => {
          g.responseMessages++;
          if (messages.length < this.opts.maxMessagesPerCall) messages.push(m);
        }),
      ] as [GrpcFramer, GrpcFramer],
    };
    s.grpc = g;
  }

  private endOf(id: number, fromClient: boolean, ts: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    if (fromClient) s.requestEnded = true;
    else {
      s.responseEnded = true;
      s.endTs = ts;
    }
    if (s.responseEnded && (s.requestEnded || s.requestHeaders === null)) this.emit(s, ts);
  }

  private emit(s: H2Stream, ts: number): void {
    if (!this.streams.delete(s.id)) return;
    this.closed.add(s.id);
    // Stream ids only grow: ids far below the newest need not be remembered. Forgotten in one pass
    // once the set has doubled, not at every stream: a pass per stream over the ~4096 remembered
    // made a long connection quadratic (6 of the 15 s of a 420k-stream h2c capture).
    if (this.closed.size > 8192) for (const id of this.closed) if (id < s.id - 8192) this.closed.delete(id);
    this.emittedAny = true;
    const notes = [...this.connNotes, ...this.orphanNotes, ...s.notes];
    this.orphanNotes = [];
    const limits = this.opts.body;
    const g = s.grpc;
    const reqHeaders = s.requestHeaders ?? [];
    const target = s.upgraded ? s.upgraded.url : (pseudo(s.requestHeaders, ':path') ?? '');
    const { path, query } = splitTarget(target);
    const method = s.upgraded ? s.upgraded.method : (pseudo(s.requestHeaders, ':method') ?? '');
    if (!s.requestHeaders) notes.push('request not captured');
    else if (!method && s.undecodedFields > 0) notes.push('request method not decodable');
    if (s.undecodedFields > 0) notes.push(`${s.undecodedFields} header fields not decodable (HPACK history before the capture)`);

    const reqEnc = g ? null : headerValue(reqHeaders, 'content-encoding');
    const reqComplete = s.requestEnded && !s.requestBody.truncated && s.requestBody.missing === 0;
    const reqDecoded = decodeContent(s.requestBody.bytes(), reqEnc, reqComplete, limits);
    if (reqDecoded.note) notes.push(`request: ${reqDecoded.note}`);
    if (s.requestBody.missing > 0) notes.push(`request body: ${s.requestBody.missing} bytes not captured`);
    const request: HttpRequest = {
      method, url: target, path, query, version: 'HTTP/2', headers: reqHeaders,
      headersSize: headerListSize(s.requestHeaders), bodySize: reqEnc ? reqDecoded.size : s.requestBody.size,
      wireBodySize: s.requestBody.size, contentEncoding: reqEnc, body: null,
    };
    if (s.requestTrailers) notes.push('request trailers sent');

    let response: HttpResponse | null = null;
    let responseBody: Buffer | null = null;
    let httpStatus = 0;
    if (s.responseHeaders) {
      httpStatus = Number(pseudo(s.responseHeaders, ':status')) || 0;
      const enc = g ? null : headerValue(s.responseHeaders, 'content-encoding');
      const complete = s.responseEnded && !s.responseBody.truncated && s.responseBody.missing === 0;
      const decoded = decodeContent(s.responseBody.bytes(), enc, complete, limits);
      if (decoded.note) notes.push(`response: ${decoded.note}`);
      if (s.responseBody.missing > 0) notes.push(`response body: ${s.responseBody.missing} bytes not captured`);
      responseBody = s.responseBody.size > 0 ? decoded.data : null;
      response = {
        status: httpStatus, statusText: '', version: 'HTTP/2', headers: s.responseHeaders,
        ...(s.responseTrailers ? { trailers: s.responseTrailers } : {}),
        headersSize: headerListSize(s.responseHeaders), bodySize: enc ? decoded.size : s.responseBody.size,
        wireBodySize: s.responseBody.size, contentEncoding: enc, body: null,
      };
    }
    if (s.resetCode) notes.push(`stream reset by the ${s.resetBy}: ${s.resetCode}`);
    else if (!s.responseEnded && s.responseHeaders === null && !notes.some((n) => n.startsWith('stream not finished'))) notes.push('response missing');

    let protocol: Protocol = 'http2';
    let status = httpStatus;
    // RST_STREAM NO_ERROR after a response is a server declining the rest of a request body, not a failure.
    const harmlessReset = s.resetCode === 'NO_ERROR' && response !== null;
    let failed = response === null || httpStatus >= 500 || (s.resetCode !== null && !harmlessReset) || (!s.responseEnded && !harmlessReset);
    let grpc: import('./record.js').GrpcInfo | undefined;
    if (g) {
      protocol = 'grpc';
      const names = splitGrpcPath(path) ?? { service: '', method: '' };
      // Trailers-only responses put grpc-status in the only HEADERS the server sent.
      const statusFrom = s.responseTrailers ?? s.responseHeaders;
      const rawStatus = statusFrom ? headerValue(statusFrom, 'grpc-status') : null;
      let grpcStatus = rawStatus !== null && /^\d+$/.test(rawStatus) ? Number(rawStatus) : null;
      let undecided = false;
      if (grpcStatus === null && s.undecodedFields > 0) {
        grpcStatus = inferredGrpcStatus(statusFrom, statusFrom ? (this.lostFields.get(statusFrom) ?? 0) : 0);
        if (grpcStatus !== null) notes.push('grpc-status read from an unnamed trailer (HPACK history before the capture)');
        else if (s.responseEnded && !s.resetCode) undecided = true;
      }
      const timeout = grpcTimeoutUs(s.requestHeaders);
      if (grpcStatus !== null) status = grpcStatus;
      else if (undecided) status = -1;
      else if (s.resetCode === 'CANCEL' && s.resetBy === 'client' && timeout !== null && s.startTs !== null && (s.endTs ?? ts) - s.startTs >= timeout * 0.95) {
        // The client gave up at its deadline: what it reported was DEADLINE_EXCEEDED.
        status = 4;
        notes.push(`the client's deadline (grpc-timeout ${headerValue(s.requestHeaders!, 'grpc-timeout')}) passed: it reset the stream`);
      } else if (s.resetCode) status = s.resetCode.startsWith('GOAWAY') ? 14 : statusForReset(s.resetCode);
      else if (httpStatus !== 0 && httpStatus !== 200) status = statusForHttp(httpStatus);
      else status = 2;
      if (undecided) notes.push('grpc-status not decodable (HPACK history before the capture): outcome unknown');
      else if (grpcStatus === null && !notes.some((n) => n.includes('deadline'))) notes.push(`no grpc-status: reported as ${grpcStatusName(status)} (${status}), as a client would`);
      const rawMessage = statusFrom ? headerValue(statusFrom, 'grpc-message') : null;
      for (const [i, f] of g.framers.entries()) {
        if (f.broken) notes.push(`${i === 0 ? 'request' : 'response'} messages after a gap could not be delimited`);
        else if (f.partial) notes.push(`${i === 0 ? 'request' : 'response'} message cut off`);
      }
      const encoding = headerValue(reqHeaders, 'grpc-encoding') ?? (s.responseHeaders ? headerValue(s.responseHeaders, 'grpc-encoding') : null);
      grpc = {
        service: names.service,
        method: names.method,
        encoding: encoding && encoding !== 'identity' ? encoding : null,
        grpcStatus,
        statusName: status < 0 ? 'UNDECODED' : grpcStatusName(status),
        message: rawMessage === null ? null : decodeGrpcMessage(rawMessage),
        requestMessages: g.requestMessages,
        responseMessages: g.responseMessages,
        messages: g.messages.map((m) => ({ ...m, offset: m.offset < this.opts.body.maxStoredBytes ? m.offset : -1 })),
      };
      // An outcome the capture cannot tell is not counted as a failure; the note says so.
      failed = status > 0;
    }

    const src = this.clientDir === 0 ? this.conn.client : this.conn.server;
    const dst = this.clientDir === 0 ? this.conn.server : this.conn.client;
    const start = s.upgraded?.startTs ?? s.startTs ?? ts;
    const end = s.endTs ?? ts;
    this.sink({
      record: {
        protocol,
        timestamp: start,
        elapsedTime: response ? (end - start) / 1000 : null,
        responseTimestamp: response ? end : null,
        src: endpoint(src.ip, src.port),
        dst: endpoint(dst.ip, dst.port),
        stream: { id: this.conn.id, transport: 'tcp' },
        request,
        response,
        status,
        failed,
        notes,
        http2: { streamId: s.id, resetCode: s.resetCode, resetBy: s.resetBy, pushed: s.pushed },
        ...(grpc ? { grpc } : {}),
      },
      requestBody: s.requestBody.size > 0 ? (reqEnc ? reqDecoded.data : s.requestBody.bytes()) : null,
      responseBody,
    });
  }

  /** Whether any stream was emitted yet (the router uses it to name the connection). */
  get active(): boolean {
    return this.emittedAny || this.streams.size > 0;
  }
}
