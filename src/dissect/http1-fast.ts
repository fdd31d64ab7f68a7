/**
 * A byte-level reader for the HTTP/1 message head as nearly every client and server writes it.
 * http-parser-js decodes each line to a string and runs a regular expression over it, which made
 * it the largest cost of dissecting HTTP/1 at import; this reader walks the bytes once, keeps the
 * field lines as one string (see header-block.ts) and looks only at the fields that frame the
 * message. It accepts only heads on which its reading is provably the one http-parser-js would
 * make (see Http1Dissector.feed); on anything else it says no and the parser reads the message.
 */
import { HTTP_METHODS } from './http1-syntax.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** Node's Buffer has had latin1Slice for long; it skips toString's argument handling. */
type SliceableBuffer = Buffer & { latin1Slice(start: number, end: number): string };

function table(accept: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = accept(c) ? 1 : 0;
  return t;
}

/** RFC 9110 tchar: what a field name is made of. */
const TCHAR = table((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/**
 * What a field value, a reason phrase, may hold here: visible ASCII, space and tab. Bytes past
 * 0x7f are left to the parser because it decodes lines as 'ascii', which clears their high bit,
 * where a raw block is latin1; control bytes because the value would then hold them as sent.
 */
const TEXT = table((c) => c === HT || (c >= 0x20 && c <= 0x7e));
/** The parser's request line takes any run of non-spaces as the target; here, visible ASCII only. */
const TARGET = table((c) => c >= 0x21 && c <= 0x7e);
/** The parser's method pattern, [A-Z-]+. */
const METHOD_CHAR = table((c) => (c >= 0x41 && c <= 0x5a) || c === 0x2d);
const METHODS = new Set<string>(HTTP_METHODS);

const CONTENT_LENGTH = lowerBytes('content-length');
const CONTENT_ENCODING = lowerBytes('content-encoding');
const TRANSFER_ENCODING = lowerBytes('transfer-encoding');
const UPGRADE = lowerBytes('upgrade');
const CHUNKED = lowerBytes('chunked');

function lowerBytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}

/** Case-insensitive match against lower-case letters and '-': OR 0x20 maps only 'A'-'Z' onto 'a'-'z', and '-' onto itself. */
function nameIs(b: Buffer, at: number, len: number, lower: Uint8Array): boolean {
  if (len !== lower.length) return false;
  for (let i = 0; i < len; i++) if ((b[at + i] | 0x20) !== lower[i]) return false;
  return true;
}

function versionText(major: number, minor: number): string {
  if (major === 1) {
    if (minor === 1) return 'HTTP/1.1';
    if (minor === 0) return 'HTTP/1.0';
  }
  return `HTTP/${major}.${minor}`;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * One head read; the fields hold the last head read successfully. One instance per dissector,
 * reused, as a head is read for every message.
 */
export class HeadScanner {
  /** Just past the blank line that ends the head. */
  end = 0;
  method = '';
  url = '';
  status = 0;
  statusText = '';
  version = '';
  /** The field lines, each with its CRLF, as HttpRequest.rawHeaders holds them. */
  rawHeaders = '';
  /** As the parser path counts it: start line and fields rebuilt as "name: value" lines. */
  headersSize = 0;
  /** -1 without a Content-Length field. */
  contentLength = -1;
  /** The first Content-Encoding value, trimmed; null without one. */
  contentEncoding: string | null = null;
  /** Transfer-Encoding: chunked (the only transfer coding read here; never with a Content-Length). */
  chunked = false;
  /** After chunkedBody: where each chunk's data starts and ends, in pairs. */
  readonly chunks: number[] = [];

  private dv: DataView | null = null;

  /** A view of the memory under `b`, kept while heads come from the same memory (a capture chunk). */
  private view(b: Buffer): DataView {
    let dv = this.dv;
    if (dv === null || dv.buffer !== b.buffer) this.dv = dv = new DataView(b.buffer);
    return dv;
  }

  /** A request head starting at `at` and complete in `b`, with no field that asks for the parser. */
  request(b: Buffer, at: number): boolean {
    const n = b.length;
    let p = at;
    while (p < n && METHOD_CHAR[b[p]] === 1) p++;
    if (p === at || p >= n || b[p] !== SP) return false;
    const methodEnd = p;
    const targetAt = ++p;
    while (p < n && TARGET[b[p]] === 1) p++;
    if (p === targetAt || p + 10 > n || b[p] !== SP) return false;
    const targetEnd = p++;
    // "HTTP/d.d" then CRLF.
    if (b[p] !== 0x48 || b[p + 1] !== 0x54 || b[p + 2] !== 0x54 || b[p + 3] !== 0x50 || b[p + 4] !== 0x2f ||
        !isDigit(b[p + 5]) || b[p + 6] !== 0x2e || !isDigit(b[p + 7]) || b[p + 8] !== CR || b[p + 9] !== LF) return false;
    const method = methodName(b, at, methodEnd);
    // CONNECT opens a tunnel: the parser's switch handling takes it.
    if (method === null || method === 'CONNECT') return false;
    const fields = this.fields(b, p + 10, true);
    if (fields < 0) return false;
    this.method = method;
    this.url = (b as SliceableBuffer).latin1Slice(targetAt, targetEnd);
    this.version = versionText(b[p + 5] - 0x30, b[p + 7] - 0x30);
    this.headersSize = method.length + this.url.length + 10 + 4 + fields;
    return true;
  }

  /** A response head starting at `at` and complete in `b`, with no field that asks for the parser. */
  response(b: Buffer, at: number): boolean {
    const n = b.length;
    const p = at;
    // "HTTP/d.d ddd", then " reason" or nothing, then CRLF: what the parser's /^HTTP\/(\d)\.(\d) (\d{3}) ?(.*)$/ reads.
    if (p + 14 > n || b[p] !== 0x48 || b[p + 1] !== 0x54 || b[p + 2] !== 0x54 || b[p + 3] !== 0x50 || b[p + 4] !== 0x2f ||
        !isDigit(b[p + 5]) || b[p + 6] !== 0x2e || !isDigit(b[p + 7]) || b[p + 8] !== SP ||
        !isDigit(b[p + 9]) || !isDigit(b[p + 10]) || !isDigit(b[p + 11])) return false;
    let q = p + 12;
    let reasonAt = q;
    if (b[q] === SP) {
      reasonAt = ++q;
      while (q < n && TEXT[b[q]] === 1) q++;
    }
    if (q + 1 >= n || b[q] !== CR || b[q + 1] !== LF) return false;
    const fields = this.fields(b, q + 2, false);
    if (fields < 0) return false;
    this.status = (b[p + 9] - 0x30) * 100 + (b[p + 10] - 0x30) * 10 + (b[p + 11] - 0x30);
    this.statusText = reasonAt === q ? '' : (b as SliceableBuffer).latin1Slice(reasonAt, q);
    this.version = versionText(b[p + 5] - 0x30, b[p + 7] - 0x30);
    this.headersSize = 13 + this.statusText.length + 4 + fields;
    return true;
  }

  /**
   * The field lines from `at` to the blank line: sets rawHeaders, end, contentLength and
   * contentEncoding, and returns what the lines add to headersSize; -1 when the head does not
   * end in `b`, or a line is not `token ":" OWS text OWS CRLF`, or a field needs the parser.
   * Every line ends in CRLF, so the first empty one is where the parser too ends the head.
   */
  private fields(b: Buffer, at: number, isRequest: boolean): number {
    const n = b.length;
    let size = 0;
    let contentLength = -1;
    let contentEncoding: string | null = null;
    let chunked = false;
    let p = at;
    const dv = this.view(b);
    const base = b.byteOffset;
    while (p < n && b[p] !== CR) {
      const nameAt = p;
      while (p < n && TCHAR[b[p]] === 1) p++;
      const nameLen = p - nameAt;
      if (nameLen === 0 || p >= n || b[p] !== COLON) return -1;
      p++;
      while (p < n && (b[p] === SP || b[p] === HT)) p++;
      const valueAt = p;
      // Text runs to the CR; the value's trailing spaces are trimmed after, as they are rare.
      // Four bytes at a time while all four are plain text (values are most of a head's bytes),
      // then byte by byte from the first that may not be.
      while (p + 4 <= n && !notPlainText(dv.getInt32(base + p, true))) p += 4;
      for (; p < n; p++) {
        const c = b[p];
        if (c < 0x20 ? c !== HT : c > 0x7e) break;
      }
      if (p + 1 >= n || b[p] !== CR || b[p + 1] !== LF) return -1;
      let valueEnd = p;
      while (valueEnd > valueAt && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HT)) valueEnd--;
      p += 2;
      size += nameLen + (valueEnd - valueAt) + 4;
      switch (nameLen) {
        case 14:
          if (nameIs(b, nameAt, nameLen, CONTENT_LENGTH)) {
            // A second one, even equal, is rare enough to leave to the parser's own rule.
            if (contentLength >= 0) return -1;
            contentLength = digits(b, valueAt, valueEnd);
            if (contentLength < 0) return -1;
          }
          break;
        case 16:
          if (contentEncoding === null && nameIs(b, nameAt, nameLen, CONTENT_ENCODING)) {
            contentEncoding = (b as SliceableBuffer).latin1Slice(valueAt, valueEnd);
          }
          break;
        case 17:
          if (nameIs(b, nameAt, nameLen, TRANSFER_ENCODING)) {
            // The parser takes the last field's value, and only exactly "chunked" as chunked:
            // a message with any other coding is its to read.
            if (!nameIs(b, valueAt, valueEnd - valueAt, CHUNKED)) return -1;
            chunked = true;
          }
          break;
        case 7:
          // A request's Upgrade may switch protocols; a response's only announces one unless it
          // is a 101, which never comes this way.
          if (isRequest && nameIs(b, nameAt, nameLen, UPGRADE)) return -1;
          break;
      }
    }
    if (p + 1 >= n || b[p + 1] !== LF) return -1;
    // Both framings at once: the parser's rule (chunked wins) is left to it.
    if (chunked && contentLength >= 0) return -1;
    this.chunked = chunked;
    this.rawHeaders = p === at ? '' : (b as SliceableBuffer).latin1Slice(at, p);
    this.end = p + 2;
    this.contentLength = contentLength;
    this.contentEncoding = contentEncoding;
    return size;
  }

  /**
   * A chunked body from `at`, whole in `b`: fills `chunks` and returns where the message ends;
   * -1 when it does not end in `b` or has what the parser would read its own way (chunk
   * extensions, trailer fields, a size line that is not plain hex).
   */
  chunkedBody(b: Buffer, at: number): number {
    const n = b.length;
    const chunks = this.chunks;
    chunks.length = 0;
    let p = at;
    for (;;) {
      // The parser reads the size with parseInt(line, 16): plain hex digits read the same.
      let size = 0;
      const sizeAt = p;
      for (; p < n; p++) {
        const d = HEX[b[p]];
        if (d === 0xff) break;
        size = size * 16 + d;
      }
      if (p === sizeAt || p - sizeAt > 12 || p + 1 >= n || b[p] !== CR || b[p + 1] !== LF) return -1;
      p += 2;
      if (size === 0) {
        // The last chunk, then no trailer fields: an empty line.
        if (p + 1 >= n || b[p] !== CR || b[p + 1] !== LF) return -1;
        return p + 2;
      }
      if (p + size + 2 > n || b[p + size] !== CR || b[p + size + 1] !== LF) return -1;
      chunks.push(p, p + size);
      p += size + 2;
    }
  }
}

/**
 * Whether any of four bytes (a little-endian word) is below 0x20 or above 0x7e: what TEXT does
 * not take without a look, tab included. The two word tricks are exact for "any": a byte below
 * 0x20 borrows into its own top bit (and can only add false ones above a true one); a byte above
 * 0x7e has its top bit set once 1 is added, and bytes up to 0x7e never carry into the next.
 */
function notPlainText(w: number): boolean {
  return ((((w - 0x20202020) | 0) & ~w) | ((w + 0x01010101) | 0) | w) & 0x80808080 ? true : false;
}

/** Hex digit values; 0xff for anything else. */
const HEX = (() => {
  const t = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) t[0x41 + i] = t[0x61 + i] = 10 + i;
  return t;
})();

/** A Content-Length of digits only, short enough to be exact; -1 otherwise. */
function digits(b: Buffer, at: number, end: number): number {
  if (end === at || end - at > 15) return -1;
  let n = 0;
  for (let i = at; i < end; i++) {
    const c = b[i];
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** The method as the parser names it; null when it does not know it (it fails such a request). */
function methodName(b: Buffer, at: number, end: number): string | null {
  const len = end - at;
  // The usual ones without a string made first.
  if (len === 3 && b[at] === 0x47 && b[at + 1] === 0x45 && b[at + 2] === 0x54) return 'GET';
  if (len === 4 && b[at] === 0x50 && b[at + 1] === 0x4f && b[at + 2] === 0x53 && b[at + 3] === 0x54) return 'POST';
  const m = (b as SliceableBuffer).latin1Slice(at, end);
  return METHODS.has(m) ? m : null;
}
