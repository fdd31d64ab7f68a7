/**
 * Protocol detection per TCP connection, by content rather than port (as Zeek's
 * dynamic protocol detection does): the first bytes of each direction are held
 * until they tell which dissector owns the connection, then replayed to it.
 */
import type { CloseReason, Dir, StreamFactory, StreamHandler, TcpConnection } from '../net/tcp-reassembly.js';
import { Http1Dissector, type Http1Options, type SwitchKind } from './http1.js';
import { findMessageStart, http1Start } from './http1-syntax.js';
import { Http2Dissector, type Http2Options } from './http2.js';
import { PREFACE, findFrameBoundary } from './http2-frames.js';
import { DnsTcpDissector, type DnsTracker } from './dns.js';
import { plausibleDnsHeader } from './dns-message.js';
import type { TransactionSink } from './record.js';
import type { DissectProtocol, HintTable } from './hints.js';

export interface TcpDissectStats {
  /** Connections by the protocol found on them; 'unrecognised' carried data no dissector claimed. */
  connections: Record<string, number>;
  /** Payload bytes on connections no dissector claimed. */
  unrecognisedBytes: number;
  /** When present, what was found on each connection (by id), for per-stream listings. */
  byConnection?: Map<number, string>;
}

export interface TcpDissectOptions {
  http1: Http1Options;
  http2: Http2Options;
  /** Ports and addresses whose connections go to a named dissector (podcap.yaml hints). */
  hints?: HintTable;
  /** Protocols turned off: their connections are counted under "(not dissected: turned off)". */
  disabled?: ReadonlySet<DissectProtocol>;
}

/** Takes a connection's bytes and drops them: a protocol turned off, or a duplicate view. */
const DISCARD: StreamHandler = { data() {}, gap() {}, end() {} };

/** Bytes looked at per direction before a connection is given up as unrecognised. */
const DETECT_WINDOW = 64 * 1024;
/** Bytes held for one direction while the other has not yet shown whether it speaks HTTP. */
const WAIT_WINDOW = 4 * DETECT_WINDOW;

interface Held {
  dir: Dir;
  bytes: Buffer;
  ts: number;
}

class Router implements StreamHandler {
  private target: StreamHandler | null = null;
  private given_up = false;
  private readonly held: Held[] = [];
  private readonly heldBytes: [number, number] = [0, 0];
  private readonly verdict: ['pending' | 'no', 'pending' | 'no'] = ['pending', 'pending'];
  /** The dissector a hint names for this connection (tunnels inside it are detected afresh). */
  private readonly hint: DissectProtocol | null;

  constructor(
    private readonly conn: TcpConnection,
    private readonly sink: TransactionSink,
    private readonly opts: TcpDissectOptions,
    private readonly stats: TcpDissectStats,
    private readonly dns: DnsTracker | null,
    /** "" for a connection, "tunnel: " for what a CONNECT or Upgrade carries. */
    private readonly label = '',
  ) {
    this.hint = label === '' ? opts.hints?.lookup(conn.server, conn.client) ?? null : null;
  }

  data(dir: Dir, bytes: Buffer, ts: number): void {
    if (this.target) return this.target.data(dir, bytes, ts);
    if (this.given_up) {
      this.stats.unrecognisedBytes += bytes.length;
      return;
    }
    this.held.push({ dir, bytes: Buffer.from(bytes), ts });
    this.heldBytes[dir] += bytes.length;
    this.detect(dir);
  }

  gap(dir: Dir, length: number, ts: number): void {
    if (this.target) return this.target.gap(dir, length, ts);
    // Before detection a hole only shifts where the first message may start; the search copes.
    void length;
    void ts;
  }

  end(reason: CloseReason, ts: number): void {
    if (this.target) return this.target.end(reason, ts);
    const bytes = this.heldBytes[0] + this.heldBytes[1];
    if (bytes === 0) {
      this.count('no payload');
    } else if (!this.given_up) {
      this.count('unrecognised');
      this.stats.unrecognisedBytes += bytes;
    }
  }

  private dirBytes(dir: Dir): Buffer {
    const parts = this.held.filter((h) => h.dir === dir).map((h) => h.bytes);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private detect(dir: Dir): void {
    if (this.verdict[dir] === 'no') return this.scanMidstream(dir);
    const bytes = this.dirBytes(dir);
    if (this.hint) return this.detectHinted(dir, bytes, this.hint);
    if (this.dns && (this.conn.server.port === 53 || this.conn.client.port === 53)) {
      // DNS over TCP: a two-byte length, then a DNS header.
      if (bytes.length < 14) return;
      if (plausibleDnsHeader(bytes.subarray(2))) return this.attachDns(this.dns);
    }
    const n = Math.min(bytes.length, PREFACE.length);
    if (bytes.subarray(0, n).equals(PREFACE.subarray(0, n))) {
      // HTTP/2 with prior knowledge: the client's first bytes are the connection preface.
      if (n === PREFACE.length) this.attachHttp2(dir, 'prior-knowledge');
      return;
    }
    const start = http1Start(bytes);
    if (start === 'request') return this.attachHttp1(dir, false);
    if (start === 'response') return this.attachHttp1((1 - dir) as Dir, false);
    if (start === 'no') {
      this.verdict[dir] = 'no';
      this.scanMidstream(dir);
    }
  }

  /**
   * A hinted connection goes to its dissector without waiting for signatures: HTTP/2 still
   * recognises its preface when there is one, and otherwise resyncs on frame boundaries
   * taking the hint as proof; HTTP/1 takes a message start where there is one.
   */
  private detectHinted(dir: Dir, bytes: Buffer, hint: DissectProtocol): void {
    if (hint === 'dns') {
      if (this.dns) return this.attachDns(this.dns);
      return this.giveUp();
    }
    if (hint === 'http') {
      const start = http1Start(bytes);
      if (start === 'request') return this.attachHttp1(dir, false);
      if (start === 'response') return this.attachHttp1((1 - dir) as Dir, false);
      if (start === 'need-more') return;
      return this.attachHttp1(this.conn.roles === 'syn' ? 0 : dir, true);
    }
    const n = Math.min(bytes.length, PREFACE.length);
    if (bytes.subarray(0, n).equals(PREFACE.subarray(0, n))) {
      if (n === PREFACE.length) this.attachHttp2(dir, 'prior-knowledge');
      return;
    }
    this.attachHttp2(0, 'hinted');
  }

  /** A connection caught mid-stream may show an HTTP/1 message start further in. */
  private scanMidstream(dir: Dir): void {
    const bytes = this.dirBytes(dir);
    if (findMessageStart(bytes, 'request') >= 0) return this.attachHttp1(dir, true);
    if (findMessageStart(bytes, 'response') >= 0) return this.attachHttp1((1 - dir) as Dir, true);
    // HTTP/2 whose preface was before the capture: frame headers that chain.
    if (findFrameBoundary(bytes) >= 0) return this.attachHttp2(0, 'midstream');
    const other = 1 - dir;
    // A silent (or one-sided) other direction must not keep this one's bytes held without bound.
    if (this.heldBytes[dir] >= DETECT_WINDOW &&
        (this.verdict[other] === 'no' || this.heldBytes[other] >= DETECT_WINDOW || this.heldBytes[dir] >= WAIT_WINDOW)) {
      this.giveUp();
    }
  }

  /** A protocol turned off in the configuration: the connection is counted and its bytes dropped. */
  private turnedOff(protocol: DissectProtocol): boolean {
    if (!this.opts.disabled?.has(protocol)) return false;
    this.target = DISCARD;
    this.count(`${protocol} (not dissected: turned off)`);
    this.held.length = 0;
    return true;
  }

  private attachHttp1(requestDir: Dir, resync: boolean): void {
    if (this.turnedOff('http')) return;
    const d = new Http1Dissector(this.conn, this.sink, this.opts.http1, (how, requestDir) => this.afterSwitch(how, requestDir));
    d.setRequestDirection(requestDir, resync);
    this.target = d;
    this.count('http');
    for (const h of this.held.splice(0)) d.data(h.dir, h.bytes, h.ts);
  }

  private attachDns(tracker: DnsTracker): void {
    if (this.turnedOff('dns')) return;
    const d = new DnsTcpDissector(this.conn, tracker, () => this.conn.files[0] ?? 0);
    this.target = d;
    this.count('dns');
    for (const h of this.held.splice(0)) d.data(h.dir, h.bytes, h.ts);
  }

  /**
   * The connection's client: from the direction that sent the preface, else (mid-stream) the
   * reassembler's guess, which the HTTP/2 dissector corrects from the first decoded headers.
   */
  private attachHttp2(clientDir: Dir, mode: 'prior-knowledge' | 'midstream' | 'hinted'): void {
    if (this.turnedOff('http2')) return;
    const d = new Http2Dissector(this.conn, this.sink, this.opts.http2, { clientDir, mode });
    this.target = d;
    this.count(mode === 'midstream' ? 'http2 (mid-stream)' : mode === 'hinted' ? 'http2 (by hint)' : 'http2');
    for (const h of this.held.splice(0)) d.data(h.dir, h.bytes, h.ts);
  }

  /**
   * What follows a CONNECT tunnel is detected afresh; an h2c upgrade carries on as
   * HTTP/2 with the upgrading request as stream 1; another Upgrade is counted and dropped.
   */
  private afterSwitch(how: SwitchKind, requestDir: Dir): StreamHandler | null {
    if (how.kind === 'connect') return new Router(this.conn, this.sink, this.opts, this.stats, this.dns, 'tunnel: ');
    if (how.protocol === 'h2c') {
      if (this.opts.disabled?.has('http2')) {
        this.count('http2 (h2c upgrade) (not dissected: turned off)');
        return null;
      }
      this.count('http2 (h2c upgrade)');
      return new Http2Dissector(this.conn, this.sink, this.opts.http2, { clientDir: requestDir, mode: 'upgrade', upgraded: how.request ?? undefined });
    }
    this.count(`upgrade to ${how.protocol || 'unnamed protocol'}`);
    return null;
  }

  private giveUp(): void {
    this.given_up = true;
    this.count('unrecognised');
    this.stats.unrecognisedBytes += this.heldBytes[0] + this.heldBytes[1];
    this.held.length = 0;
  }

  private count(kind: string): void {
    const key = this.label + kind;
    if (this.stats.byConnection) {
      const before = this.stats.byConnection.get(this.conn.id);
      this.stats.byConnection.set(this.conn.id, before ? `${before}, ${key}` : key);
    }
    this.stats.connections[key] = (this.stats.connections[key] ?? 0) + 1;
  }
}

export function tcpStreamFactory(sink: TransactionSink, opts: TcpDissectOptions, stats: TcpDissectStats, dns: DnsTracker | null = null): StreamFactory {
  return (conn) => {
    if (conn.duplicateOf !== null) {
      // Another file's view of a connection already dissected (through a NAT): counted, not dissected twice.
      const kind = `duplicate of connection ${conn.duplicateOf} (seen by another node through NAT)`;
      stats.connections['duplicate view (another node, through NAT)'] = (stats.connections['duplicate view (another node, through NAT)'] ?? 0) + 1;
      stats.byConnection?.set(conn.id, kind);
      return DISCARD;
    }
    return new Router(conn, sink, opts, stats, dns);
  };
}
