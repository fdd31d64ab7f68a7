/**
 * HTTP/1.x over one TCP connection: requests and responses parsed with
 * http-parser-js, paired in order (pipelining included), timed from the first
 * byte of the request to the last byte of the response. The common message, whole
 * in one chunk, is read by http1-fast.ts instead, and its header block kept raw.
 */
import { HTTPParser } from 'http-parser-js';
import type { CloseReason, Dir, StreamHandler, TcpConnection } from '../net/tcp-reassembly.js';
import { BodyCollector, DEFAULT_BODY_LIMITS, decodeContent, type BodyLimits } from './body.js';
import { HeadScanner } from './http1-fast.js';
import { findMessageStart, splitTarget } from './http1-syntax.js';
import type { UpgradedRequest } from './http2.js';
import { messageHeader, messageHeaders } from './header-block.js';
import { endpoint, headerValue, type HeaderList, type HttpRequest, type HttpResponse, type TransactionSink } from './record.js';

/** The parser's own fields read here; stable in the pinned http-parser-js 0.5.x. */
interface ParserInternals {
  /** What the parser has of the message so far: the start line once read, the headers read before a break. */
  info: { method?: number; url?: string; versionMajor?: number; versionMinor?: number; headers: string[] };
  state: string;
  offset: number;
  end: number;
  line: string;
  body_bytes: number | null;
  /** Bytes counted against maxHeaderSize since the parser last finished a message (see fastFeed). */
  headerSize: number;
  maxHeaderSize: number;
}
type Parser = InstanceType<typeof HTTPParser> & ParserInternals;

interface HeadersInfo {
  versionMajor: number;
  versionMinor: number;
  headers: string[];
  method: number;
  url: string;
  statusCode: number;
  statusMessage: string;
  upgrade: boolean;
}

interface PendingRequest {
  method: string;
  url: string;
  version: string;
  /** Empty when rawHeaders holds the block. */
  headers: HeaderList;
  rawHeaders?: string;
  headersSize: number;
  contentEncoding: string | null;
  startTs: number;
  body: BodyCollector;
  complete: boolean;
  notes: string[];
}

interface PendingResponse {
  status: number;
  statusText: string;
  version: string;
  headers: HeaderList;
  rawHeaders?: string;
  headersSize: number;
  contentEncoding: string | null;
  startTs: number;
  body: BodyCollector;
  request: PendingRequest | null;
  notes: string[];
  /** After this response the connection stops carrying HTTP/1 (101, or a 2xx to CONNECT). */
  switchesProtocol: boolean;
  complete: boolean;
}

/** How much of a direction is kept while looking for the next message after a gap. */
const RESYNC_WINDOW = 16 * 1024;
/**
 * Requests waiting for their responses on one connection. Past it the oldest is emitted without a
 * response (noted): a capture holding only the client's side of a long keep-alive connection must
 * not keep every request it ever sent.
 */
export const MAX_WAITING_REQUESTS = 1024;
const ZEROES = Buffer.alloc(64 * 1024);

function headerList(flat: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

function headersBytes(startLine: number, flat: string[]): number {
  let n = startLine + 2 + 2;
  for (let i = 0; i + 1 < flat.length; i += 2) n += flat[i].length + 2 + flat[i + 1].length + 2;
  return n;
}

/** One direction's parser, with the bookkeeping to time messages and to recover after damage. */
class Side {
  parser!: Parser;
  /** Time of the first byte of the message being parsed; undefined between messages. */
  startTs: number | undefined;
  ts = 0;
  /** Looking for the next message start after a gap or a parse error; bytes kept meanwhile. */
  resyncing = false;
  resyncBuf: Buffer | null = null;
  /** While feeding filler for a gap inside a sized body, body bytes are counted as missing. */
  filling = false;
  /** Some bytes of this direction have been fed. */
  fed = false;

  constructor(readonly kind: 'request' | 'response', private readonly install: (p: Parser) => void) {
    this.reset();
  }

  reset(): void {
    this.parser = new HTTPParser(this.kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE) as Parser;
    this.install(this.parser);
    this.startTs = undefined;
  }

  /** Between messages: nothing of the next one parsed yet. */
  get idle(): boolean {
    const s = this.parser.state;
    return (s === 'REQUEST_LINE' || s === 'RESPONSE_LINE') && this.parser.line === '';
  }

  /** Called from the message-complete callback: does the current chunk go on with another message? */
  nextStartsNow(): boolean {
    return this.parser.offset < this.parser.end;
  }
}

/** How a connection left HTTP/1: a tunnel after CONNECT, or the protocol a 101 names (lower case). */
export type SwitchKind =
  | { kind: 'connect' }
  /** `request`: the HTTP/1 request that asked for the upgrade (h2c carries on with it as stream 1). */
  | { kind: 'upgrade'; protocol: string; request: UpgradedRequest | null };

export interface Http1Options {
  body: BodyLimits;
  /**
   * Read the common whole-in-one-chunk message with http1-fast.ts (header blocks then travel
   * raw); false sends every byte through http-parser-js. Defaults to fastPathDefault.
   */
  fastPath?: boolean;
}

/**
 * The default for Http1Options.fastPath: on, unless PODCAP_HTTP1_FAST_PATH=0 in the environment
 * (read once) or setHttp1FastPath(false). The switch exists to compare both readers on the same
 * captures (test/http1-fast.test.ts) and to measure what the fast path saves.
 */
let fastPathDefault = process.env.PODCAP_HTTP1_FAST_PATH !== '0';

/** Sets the default for dissectors made from now on; returns the previous one. */
export function setHttp1FastPath(on: boolean): boolean {
  const was = fastPathDefault;
  fastPathDefault = on;
  return was;
}

export class Http1Dissector implements StreamHandler {
  private reqDir: Dir | -1 = -1;
  private readonly req: Side;
  private readonly res: Side;
  /** Requests whose response has not started, oldest first. */
  private readonly queue: PendingRequest[] = [];
  private current: PendingRequest | null = null;
  private response: PendingResponse | null = null;
  /** An Upgrade or CONNECT request waits for its answer; request bytes after it are held meanwhile. */
  private switchRequest: PendingRequest | null = null;
  private heldRequestBytes: Array<{ bytes: Buffer; ts: number }> = [];
  /** The connection left HTTP/1 (101 Switching Protocols, or a tunnel after CONNECT). */
  private switched = false;
  /** Whoever carries on after the switch; null when nobody claims the bytes. */
  private tunnel: StreamHandler | null = null;
  private readonly connNotes: string[] = [];
  /** Null when the fast path is off. */
  private readonly scan: HeadScanner | null;

  constructor(
    private readonly conn: TcpConnection,
    private readonly sink: TransactionSink,
    private readonly opts: Http1Options = { body: DEFAULT_BODY_LIMITS },
    /** Called when the connection leaves HTTP/1: returns the handler for what follows (protocol detection again, HTTP/2 for h2c). */
    private readonly onSwitch: (how: SwitchKind, requestDir: Dir) => StreamHandler | null = () => null,
  ) {
    this.req = new Side('request', (p) => this.installRequest(p));
    this.res = new Side('response', (p) => this.installResponse(p));
    if (conn.midstream || conn.roles === 'guessed') this.connNotes.push('capture started mid-connection');
    this.scan = (opts.fastPath ?? fastPathDefault) ? new HeadScanner() : null;
  }

  /**
   * The router tells which direction carries requests once it has seen the first
   * bytes; `resync` when it found them past the start (a mid-connection capture).
   */
  setRequestDirection(dir: Dir, resync: boolean): void {
    this.reqDir = dir;
    if (resync) {
      this.req.resyncing = true;
      this.res.resyncing = true;
    }
  }

  data(dir: Dir, bytes: Buffer, ts: number): void {
    if (this.switched) {
      this.tunnel?.data(dir, bytes, ts);
      return;
    }
    if (this.reqDir < 0) return;
    if (dir === this.reqDir) {
      if (this.switchRequest) {
        this.heldRequestBytes.push({ bytes: Buffer.from(bytes), ts });
        return;
      }
      this.feed(this.req, bytes, ts);
    } else {
      this.feed(this.res, bytes, ts);
    }
  }

  gap(dir: Dir, length: number, ts: number): void {
    if (this.switched) {
      this.tunnel?.gap(dir, length, ts);
      return;
    }
    if (this.reqDir < 0) return;
    const side = dir === this.reqDir ? this.req : this.res;
    const p = side.parser;
    side.ts = ts;
    if (side.resyncing) return;
    // Inside a body of known length the parser can be carried across the hole with filler bytes.
    if (p.state === 'BODY_SIZED' && p.body_bytes !== null && p.body_bytes >= length) {
      side.filling = true;
      let left = length;
      while (left > 0) {
        const n = Math.min(left, ZEROES.length);
        p.execute(ZEROES, 0, n);
        left -= n;
      }
      side.filling = false;
      return;
    }
    if (p.state === 'BODY_RAW') {
      // A body delimited by the close just has a hole; the parser needs no resync.
      if (this.response) this.response.body.missing += length;
      return;
    }
    this.damaged(side, `gap of ${length} bytes`);
  }

  end(reason: CloseReason, ts: number): void {
    if (!this.switched && this.reqDir >= 0) {
      // A body delimited by the connection's close ends here. It ended with its last byte (res.ts):
      // the close may come much later, or be only the end of the capture.
      if (!this.res.resyncing && this.res.parser.state === 'BODY_RAW') {
        // Only a FIN marks such a body complete; a reset or the capture's end may have cut it.
        if (reason !== 'fin' && this.response) {
          this.response.notes.push(reason === 'rst'
            ? 'body delimited by the connection, which was reset: it may be incomplete'
            : 'body delimited by the connection, still open when the capture ended: it may be incomplete');
        }
        this.res.parser.finish();
      }
      if (this.response) {
        this.response.notes.push('connection ended before the response was complete');
        this.emitResponse(this.response, this.res.ts);
        this.response = null;
      }
      if (this.current) {
        this.current.notes.push('connection ended before the request was complete');
        this.current = null;
      }
    }
    const why = reason === 'rst' ? 'connection reset before a response' : 'response missing';
    for (const r of this.queue.splice(0)) this.emit(r, null, null, [why]);
    this.tunnel?.end(reason, ts);
  }

  private feed(side: Side, bytes: Buffer, ts: number): void {
    side.ts = ts;
    if (!side.fed) {
      side.fed = true;
      // On a connection caught mid-stream a direction's first bytes may be the middle of a message.
      if (this.conn.midstream) side.resyncing = true;
    }
    if (side.resyncing) {
      const buf = side.resyncBuf ? Buffer.concat([side.resyncBuf, bytes]) : bytes;
      const at = findMessageStart(buf, side.kind);
      if (at < 0) {
        // Keep the tail in case a start line is split across segments.
        side.resyncBuf = Buffer.from(buf.subarray(Math.max(0, buf.length - RESYNC_WINDOW)));
        return;
      }
      side.resyncing = false;
      side.resyncBuf = null;
      side.reset();
      bytes = buf.subarray(at);
    }
    if (side.startTs === undefined) side.startTs = ts;
    if (this.scan && this.fastReady(side)) {
      const done = this.fastFeed(side, bytes);
      if (done === bytes.length) return;
      bytes = bytes.subarray(done);
    }
    const ret = side.parser.execute(bytes);
    if (ret instanceof Error) {
      // The parser consumed the line it failed on; the rest of the chunk may hold the next message.
      const rest = bytes.subarray(Math.max(1, side.parser.offset));
      this.damaged(side, `unparsable HTTP/1 ${side.kind} (${describe(ret)})`, true);
      if (rest.length > 0) this.feed(side, rest, ts);
      return;
    }
    // The parser stops early only at a protocol switch: what follows belongs to the next protocol.
    if (ret < bytes.length) {
      const rest = bytes.subarray(ret);
      if (this.switched) this.tunnel?.data(side === this.req ? (this.reqDir as Dir) : ((1 - this.reqDir) as Dir), rest, ts);
      else if (side === this.req && this.switchRequest) this.heldRequestBytes.push({ bytes: Buffer.from(rest), ts });
    }
  }

  /**
   * The fast path may read a side only when http-parser-js holds nothing of it: between messages,
   * not looking for a start after damage, not carrying a body across a gap, and with no protocol
   * switch in the air (those stay the parser's, whose stop at the switch decides where bytes go).
   */
  private fastReady(side: Side): boolean {
    return !side.resyncing && !side.filling && !this.switched && this.switchRequest === null && side.idle;
  }

  /**
   * Reads whole messages from the start of `bytes` for as long as each is common and complete
   * in the chunk, and returns where it stopped: the parser reads from there, the message that
   * stopped it from its first byte. Both readers run the same requestHead/…Complete steps.
   */
  private fastFeed(side: Side, bytes: Buffer): number {
    const p = side.parser;
    // execute() fails a chunk ending in a head state once headerSize, which counts the whole
    // chunk, passes maxHeaderSize, even when the chunk held finished messages before. Such
    // chunks are left to it entirely so that it fails them as before; below the limit the count
    // is carried over as the parser would have kept it.
    if (p.headerSize + bytes.length > (p.maxHeaderSize || HTTPParser.maxHeaderSize)) return 0;
    const isRequest = side === this.req;
    let at = 0;
    while (at < bytes.length && this.fastReady(side)) {
      const next = isRequest ? this.fastRequest(bytes, at) : this.fastResponse(bytes, at);
      if (next < 0) break;
      at = next;
    }
    // A finished message resets the count, and the chunk's bytes read so far then count in full.
    if (at > 0) p.headerSize = at;
    return at;
  }

  /** One request whole in the chunk from `at`: read and handed on; -1 when the parser must read it. */
  private fastRequest(b: Buffer, at: number): number {
    const h = this.scan!;
    if (!h.request(b, at)) return -1;
    // Without a Content-Length or chunked coding a request has no body.
    const end = h.chunked ? h.chunkedBody(b, h.end) : h.end + Math.max(0, h.contentLength);
    if (end < 0 || end > b.length) return -1;
    this.requestHead(h.method, h.url, h.version, [], h.rawHeaders, h.headersSize, h.contentEncoding, false);
    this.fastBody(b, end, h.chunked, true);
    this.requestComplete(end < b.length);
    return end;
  }

  /** One response whole in the chunk from `at`, as fastRequest. */
  private fastResponse(b: Buffer, at: number): number {
    const h = this.scan!;
    if (!h.response(b, at)) return -1;
    // Interim answers and switches (101, a 2xx to CONNECT) are the parser's.
    if (h.status < 200) return -1;
    const method = this.queue[0]?.method;
    if (method === 'CONNECT') return -1;
    const bodiless = method === 'HEAD' || h.status === 204 || h.status === 304;
    const chunked = h.chunked && !bodiless;
    let end: number;
    if (bodiless) end = h.end;
    else if (chunked) end = h.chunkedBody(b, h.end);
    else if (h.contentLength >= 0) end = h.end + h.contentLength;
    else return -1; // delimited by the connection's close
    if (end < 0 || end > b.length) return -1;
    this.responseHead(h.status, h.statusText, h.version, [], h.rawHeaders, h.headersSize, h.contentEncoding);
    this.fastBody(b, end, chunked, false);
    this.responseComplete(end < b.length);
    return end;
  }

  /** The body of the message the scanner just read, up to `end`: its chunks' data, or the bytes after the head. */
  private fastBody(b: Buffer, end: number, chunked: boolean, isRequest: boolean): void {
    const h = this.scan!;
    if (chunked) {
      const c = h.chunks;
      for (let i = 0; i < c.length; i += 2) this.body(isRequest, b.subarray(c[i], c[i + 1]));
    } else if (end > h.end) {
      this.body(isRequest, b.subarray(h.end, end));
    }
  }

  private body(isRequest: boolean, part: Buffer): void {
    if (isRequest) this.requestBody(part);
    else this.responseBody(part);
  }

  /**
   * The message in progress on this side cannot be finished; record what was seen and look for the next one.
   * `lost`: a message had begun. A parse error always means so, though the parser may look idle after it.
   */
  private damaged(side: Side, why: string, lost = !side.idle): void {
    if (side.kind === 'request') {
      if (this.current) {
        this.current.notes.push(`${why} in the request`);
        this.current = null;
      } else if (lost) {
        // Its response is still to come: a stand-in keeps the pairing of the later ones in order,
        // with the request line and the headers read before the break when the parser got that far.
        const info = side.parser.info;
        const started = side.parser.state === 'HEADER' && info.url !== undefined && info.method !== undefined;
        const headers = started ? headerList(info.headers) : [];
        this.queue.push({
          method: started ? HTTPParser.methods[info.method!] ?? '' : '',
          url: started ? info.url! : '',
          version: started ? `HTTP/${info.versionMajor}.${info.versionMinor}` : '',
          headers,
          headersSize: 0,
          contentEncoding: headerValue(headers, 'content-encoding'),
          startTs: side.startTs ?? side.ts,
          body: new BodyCollector(0),
          complete: false,
          notes: [started ? `${why} in the request headers: those after it are missing` : `${why}: the request was lost`],
        });
      }
    } else if (this.response) {
      this.response.notes.push(`${why} in the response`);
      this.emitResponse(this.response, side.ts);
      this.response = null;
    } else if (lost && this.queue.length > 0) {
      // The response's start line went missing: it most likely answered the oldest request.
      const r = this.queue.shift()!;
      this.emit(r, null, null, [`${why}: the response was lost`]);
    }
    side.resyncing = true;
    side.resyncBuf = null;
  }

  private installRequest(p: Parser): void {
    p[HTTPParser.kOnHeadersComplete] = (info: HeadersInfo) => {
      const method = HTTPParser.methods[info.method] ?? String(info.method);
      const headers = headerList(info.headers);
      this.requestHead(
        method, info.url, `HTTP/${info.versionMajor}.${info.versionMinor}`, headers, undefined,
        headersBytes(method.length + info.url.length + 10, info.headers), headerValue(headers, 'content-encoding'), info.upgrade,
      );
      return 0;
    };
    p[HTTPParser.kOnBody] = (chunk: Buffer) => this.requestBody(chunk);
    p[HTTPParser.kOnMessageComplete] = () => this.requestComplete(this.req.nextStartsNow());
  }

  private installResponse(p: Parser): void {
    p[HTTPParser.kOnHeadersComplete] = (info: HeadersInfo) => {
      const headers = headerList(info.headers);
      return this.responseHead(
        info.statusCode, info.statusMessage, `HTTP/${info.versionMajor}.${info.versionMinor}`, headers, undefined,
        headersBytes(13 + info.statusMessage.length, info.headers), headerValue(headers, 'content-encoding'),
      );
    };
    p[HTTPParser.kOnBody] = (chunk: Buffer) => this.responseBody(chunk);
    p[HTTPParser.kOnMessageComplete] = () => this.responseComplete(this.res.nextStartsNow());
  }

  /** A request's head was read (by either reader). `upgrade`: it asks to leave HTTP/1 (Upgrade, CONNECT). */
  private requestHead(
    method: string, url: string, version: string, headers: HeaderList, rawHeaders: string | undefined,
    headersSize: number, contentEncoding: string | null, upgrade: boolean,
  ): void {
    const r: PendingRequest = {
      method,
      url,
      version,
      headers,
      headersSize,
      contentEncoding,
      startTs: this.req.startTs ?? this.req.ts,
      body: new BodyCollector(this.opts.body.maxStoredBytes),
      complete: false,
      notes: [],
    };
    if (rawHeaders !== undefined) r.rawHeaders = rawHeaders;
    this.current = r;
    // Queued at its headers: a server may answer (100 Continue, an early error) before the body ends.
    this.queue.push(r);
    if (this.queue.length > MAX_WAITING_REQUESTS) {
      this.emit(this.queue.shift()!, null, null, [`response missing: more than ${MAX_WAITING_REQUESTS} requests were waiting on the connection`]);
    }
    if (upgrade) this.switchRequest = r;
  }

  private requestBody(chunk: Buffer): void {
    if (!this.current) return;
    if (this.req.filling) this.current.body.missing += chunk.length;
    else this.current.body.add(chunk);
  }

  /** `more`: the chunk goes on with the next message, which then starts at this chunk's time. */
  private requestComplete(more: boolean): void {
    if (this.current) this.current.complete = true;
    this.current = null;
    this.req.startTs = more ? this.req.ts : undefined;
  }

  /**
   * A response's head was read. Returns what the parser's headers callback returns: 2 stops it
   * at a switch, 1 says the message has no body whatever its headers say, 0 reads on.
   */
  private responseHead(
    status: number, statusText: string, version: string, headers: HeaderList, rawHeaders: string | undefined,
    headersSize: number, contentEncoding: string | null,
  ): 0 | 1 | 2 {
    // 1xx other than 101 are interim: the final response is still to come.
    if (status >= 100 && status < 200 && status !== 101) {
      this.queue[0]?.notes.push(`interim response ${status} ${statusText}`.trim());
      this.response = null;
      return 0;
    }
    const request = this.queue.shift() ?? null;
    const method = request?.method ?? '';
    const switches = status === 101 || (method === 'CONNECT' && status >= 200 && status < 300);
    const r: PendingResponse = {
      status,
      statusText,
      version,
      headers,
      headersSize,
      contentEncoding,
      startTs: this.res.startTs ?? this.res.ts,
      body: new BodyCollector(this.opts.body.maxStoredBytes),
      request,
      notes: [],
      switchesProtocol: switches,
      complete: false,
    };
    if (rawHeaders !== undefined) r.rawHeaders = rawHeaders;
    this.response = r;
    // A switch stops the parser (2). Answers to HEAD, 204 and 304 carry no body whatever their
    // headers say (1); the parser itself only knows that a 204 or 304 without a length has none.
    return switches ? 2 : method === 'HEAD' || status === 204 || status === 304 ? 1 : 0;
  }

  private responseBody(chunk: Buffer): void {
    if (!this.response) return;
    if (this.res.filling) this.response.body.missing += chunk.length;
    else this.response.body.add(chunk);
  }

  private responseComplete(more: boolean): void {
    const r = this.response;
    this.response = null;
    this.res.startTs = more ? this.res.ts : undefined;
    if (!r) return;
    r.complete = true;
    // After an h2c upgrade the request's real answer comes on HTTP/2 stream 1: that is its transaction.
    const carriedOn = r.switchesProtocol && this.switchProtocol(r);
    if (!carriedOn) this.emitResponse(r, this.res.ts);
    if (!r.switchesProtocol && r.request && r.request === this.switchRequest) this.resumeAfterRefusedSwitch();
  }

  /** The server agreed to leave HTTP/1: everything after goes to the next protocol's handler. */
  /**
   * Everything after this response goes to the next protocol's handler. Returns
   * true when that handler carries the upgrading request on (h2c), so that the
   * 101 itself is not a transaction of its own.
   */
  private switchProtocol(r: PendingResponse): boolean {
    this.switched = true;
    const upgrade = messageHeader(r, 'upgrade') ?? (r.request ? messageHeader(r.request, 'upgrade') : null);
    const protocol = (upgrade ?? '').trim().toLowerCase();
    const q = r.request;
    const how: SwitchKind = r.status === 101
      ? {
          kind: 'upgrade', protocol,
          request: q ? { method: q.method, url: q.url, headers: messageHeaders(q), body: q.body.size > 0 ? q.body.bytes() : null, bodySize: q.body.size, startTs: q.startTs } : null,
        }
      : { kind: 'connect' };
    this.tunnel = this.onSwitch(how, this.reqDir as Dir);
    this.switchRequest = null;
    const held = this.heldRequestBytes;
    this.heldRequestBytes = [];
    for (const h of held) this.tunnel?.data(this.reqDir as Dir, h.bytes, h.ts);
    return this.tunnel !== null && how.kind === 'upgrade' && protocol === 'h2c' && q !== null;
  }

  /** The Upgrade/CONNECT was refused: HTTP/1 goes on with the request bytes held meanwhile. */
  private resumeAfterRefusedSwitch(): void {
    this.switchRequest = null;
    const held = this.heldRequestBytes;
    this.heldRequestBytes = [];
    for (const h of held) this.feed(this.req, h.bytes, h.ts);
  }

  private emitResponse(r: PendingResponse, ts: number): void {
    if (r.request) {
      this.emit(r.request, r, ts, r.notes);
    } else {
      this.emit(null, r, ts, ['request not captured', ...r.notes]);
    }
  }

  private emit(req: PendingRequest | null, res: PendingResponse | null, resEnd: number | null, extraNotes: string[]): void {
    const notes = [...this.connNotes];
    const limits = this.opts.body;
    let request: HttpRequest;
    let requestBody: Buffer | null = null;
    if (req) {
      notes.push(...req.notes);
      if (!req.complete) notes.push('request incomplete');
      const enc = req.contentEncoding;
      const decoded = decodeContent(req.body.bytes(), enc, req.complete && !req.body.truncated && req.body.missing === 0, limits);
      if (decoded.note) notes.push(`request: ${decoded.note}`);
      if (req.body.missing > 0) notes.push(`request body: ${req.body.missing} bytes not captured`);
      requestBody = req.body.size > 0 ? decoded.data : null;
      const { path, query } = splitTarget(req.url);
      request = {
        method: req.method, url: req.url, path, query, version: req.version, headers: req.headers,
        // A body cut by the storage cap decodes only in part: its wire size is the one full size known.
        headersSize: req.headersSize, bodySize: enc && !req.body.truncated ? decoded.size : req.body.size, wireBodySize: req.body.size,
        contentEncoding: enc, body: null,
      };
      if (req.rawHeaders !== undefined) request.rawHeaders = req.rawHeaders;
    } else {
      request = {
        method: '', url: '', path: '', query: '', version: res?.version ?? '', headers: [],
        headersSize: 0, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
      };
    }
    let response: HttpResponse | null = null;
    let responseBody: Buffer | null = null;
    if (res) {
      const enc = res.contentEncoding;
      const decoded = decodeContent(res.body.bytes(), enc, res.complete && !res.body.truncated && res.body.missing === 0, limits);
      if (decoded.note) notes.push(`response: ${decoded.note}`);
      if (res.body.missing > 0) notes.push(`response body: ${res.body.missing} bytes not captured`);
      responseBody = res.body.size > 0 ? decoded.data : null;
      response = {
        status: res.status, statusText: res.statusText, version: res.version, headers: res.headers,
        headersSize: res.headersSize, bodySize: enc && !res.body.truncated ? decoded.size : res.body.size, wireBodySize: res.body.size,
        contentEncoding: enc, body: null,
      };
      if (res.rawHeaders !== undefined) response.rawHeaders = res.rawHeaders;
    }
    notes.push(...extraNotes);
    const reqFromClient = this.reqDir === 0;
    const c = this.conn;
    const src = reqFromClient ? c.client : c.server;
    const dst = reqFromClient ? c.server : c.client;
    const start = req ? req.startTs : res!.startTs;
    const status = response ? response.status : 0;
    this.sink({
      record: {
        protocol: 'http',
        timestamp: start,
        elapsedTime: resEnd !== null && response ? (resEnd - start) / 1000 : null,
        responseTimestamp: response ? resEnd : null,
        src: endpoint(src.ip, src.port),
        dst: endpoint(dst.ip, dst.port),
        stream: { id: c.id, transport: 'tcp' },
        request,
        response,
        status,
        failed: response === null || status >= 500,
        notes,
      },
      requestBody,
      responseBody,
    });
  }
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}` : err.message;
}
