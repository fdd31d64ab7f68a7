/**
 * HTTP/2 framing (RFC 9113 section 4 and 6): the frame header, the connection
 * preface, and the plausibility test that finds frame boundaries in a connection
 * whose start was not captured.
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER = 9;

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const SETTINGS = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** RFC 9113 section 7 error codes by number. */
const ERROR_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

export function readFrameHeader(b: Buffer, off: number): FrameHeader {
  return {
    length: (b[off] << 16) | (b[off + 1] << 8) | b[off + 2],
    type: b[off + 3],
    flags: b[off + 4],
    streamId: b.readUInt32BE(off + 5) & 0x7fffffff,
  };
}

/** Largest frame payload accepted at all (2^24 - 1 is the protocol's limit). */
export const MAX_FRAME = (1 << 24) - 1;

/**
 * Whether a frame header at `off` could be a real one: a known type with a length
 * and stream id its type allows. Used only to find boundaries in a connection
 * caught mid-stream, so it errs on the strict side.
 */
export function plausibleFrame(h: FrameHeader, maxFrame: number): boolean {
  if (h.length > maxFrame) return false;
  switch (h.type) {
    case FRAME.DATA:
    case FRAME.HEADERS:
    case FRAME.CONTINUATION:
      return h.streamId !== 0;
    case FRAME.PRIORITY:
      return h.streamId !== 0 && h.length === 5;
    case FRAME.RST_STREAM:
      return h.streamId !== 0 && h.length === 4;
    case FRAME.SETTINGS:
      return h.streamId === 0 && h.length % 6 === 0 && ((h.flags & FLAG.ACK) === 0 || h.length === 0);
    case FRAME.PUSH_PROMISE:
      return h.streamId !== 0 && h.length >= 4;
    case FRAME.PING:
      return h.streamId === 0 && h.length === 8;
    case FRAME.GOAWAY:
      return h.streamId === 0 && h.length >= 8;
    case FRAME.WINDOW_UPDATE:
      return h.length === 4;
    default:
      return false;
  }
}

/**
 * Offset of the first frame boundary in `b` from which at least `minFrames`
 * plausible frames follow one another (the last may be incomplete), or -1.
 * Default frame size (16 KiB) bounds lengths: that is what peers use unless they
 * negotiated more, which a mid-stream capture cannot know.
 *
 * `knownHttp2`: the connection is already known to speak HTTP/2 (the other
 * direction is in sync), so one whole HEADERS frame ending exactly where the
 * bytes end is enough. A client sending GETs sends nothing but one HEADERS
 * frame per request; waiting for three would let the answers go out as
 * "request not captured" and the requests be dropped later as late frames.
 */
export function findFrameBoundary(b: Buffer, minFrames = 3, maxFrame = 16384, searchLimit = 64 * 1024, knownHttp2 = false): number {
  const limit = Math.min(b.length - FRAME_HEADER, searchLimit);
  for (let start = 0; start <= limit; start++) {
    let off = start;
    let frames = 0;
    let ok = true;
    // Bytes of a binary body chain into "DATA frames" too easily: a run must show a
    // control frame, or be full-size DATA frames of one stream (a large transfer).
    let control = false;
    let fullData = true;
    let firstStream = -1;
    let first: FrameHeader | null = null;
    while (off + FRAME_HEADER <= b.length) {
      const h = readFrameHeader(b, off);
      first ??= h;
      if (!plausibleFrame(h, maxFrame)) {
        ok = false;
        break;
      }
      if (h.type !== FRAME.DATA) control = true;
      else {
        if (firstStream < 0) firstStream = h.streamId;
        if (h.length !== maxFrame || h.streamId !== firstStream) fullData = false;
      }
      frames++;
      off += FRAME_HEADER + h.length;
      if (frames >= minFrames) break;
    }
    // Every header we could read was plausible, and either enough frames chained or the data ran out exactly at a boundary.
    const chained = frames >= minFrames || (frames >= 2 && off === b.length);
    if (ok && chained && (control || fullData)) return start;
    // Exact length to the end, END_HEADERS set and no undefined flag: a chance match is about 2^-29 per offset.
    if (ok && knownHttp2 && frames === 1 && off === b.length && first !== null && first.type === FRAME.HEADERS &&
        (first.flags & FLAG.END_HEADERS) !== 0 && (first.flags & ~(FLAG.END_STREAM | FLAG.END_HEADERS | FLAG.PADDED | FLAG.PRIORITY)) === 0) return start;
  }
  return -1;
}
