/**
 * TCP connection tracking and reassembly. Each connection's two directions are
 * delivered in sequence order to a StreamHandler made by a factory (the shape of
 * gopacket's reassembly): the handler sees ordered bytes, explicit gaps where the
 * capture lost data, and one end call. It knows nothing of the protocols above.
 *
 * Overlap policy: the first copy of a byte wins. Bytes already delivered are
 * never replaced by a later retransmission with different content (the BSD /
 * Suricata "first" policy); the README's design notes say why.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from './decode.js';
import { EndsIndex } from './flow-key.js';

/** 0: bytes sent by the connection's client; 1: bytes sent by its server. */
export type Dir = 0 | 1;

export interface TcpEndpoint {
  ip: string;
  port: number;
}

export type CloseReason = 'fin' | 'rst' | 'end-of-capture' | 'port-reuse';

export interface TcpConnection {
  /** 1-based, in order of each connection's first packet within the import. */
  readonly id: number;
  readonly client: TcpEndpoint;
  readonly server: TcpEndpoint;
  /** 'syn' when the handshake told who opened the connection; 'guessed' from the ports otherwise. */
  readonly roles: 'syn' | 'guessed';
  readonly firstTs: number;
  lastTs: number;
  /** Packets and payload bytes seen per direction (retransmissions included). */
  readonly packets: [number, number];
  readonly bytes: [number, number];
  /** Bytes the capture missed, per direction, reported to the handler as gaps. */
  readonly gapBytes: [number, number];
  rsts: number;
  /** The first data of a direction was not preceded by its SYN. */
  midstream: boolean;
  /** Bytes delivered in order to the handler, per direction. */
  readonly reassembledBytes: [number, number];
  /** Payload bytes seen again (retransmissions and overlaps), per direction. */
  readonly retransmittedBytes: [number, number];
  /** Capture files (indexes) the connection's packets came from: more than one when several nodes saw it. */
  readonly files: number[];
  /**
   * The id of an earlier connection this one is another view of: the same client
   * address, port and initial sequence number under a different 4-tuple, seen in
   * another file (a capture on each side of a NAT, e.g. a Service's DNAT). Null otherwise.
   */
  duplicateOf: number | null;
}

export interface StreamHandler {
  /** In-order bytes of one direction. The buffer is only valid during the call. */
  data(dir: Dir, bytes: Buffer, ts: number): void;
  /** `length` bytes of the direction were never captured; the next data follows the hole. */
  gap(dir: Dir, length: number, ts: number): void;
  /** No more calls follow. */
  end(reason: CloseReason, ts: number): void;
}

export type StreamFactory = (conn: TcpConnection) => StreamHandler;

export interface ReassemblyOptions {
  /** Out-of-order bytes held per connection before the hole is declared lost. */
  maxHeldBytesPerConnection: number;
  /** Out-of-order bytes held across all connections; past it, the connection that grows declares its holes lost. */
  maxHeldBytesTotal: number;
  /** Capture time (µs) a closed connection is remembered, to tell late segments from port reuse. */
  closedRetentionUs: number;
}

export interface ReassemblyStats {
  connections: number;
  segments: number;
  retransmittedSegments: number;
  overlapBytes: number;
  outOfOrderSegments: number;
  gaps: number;
  gapBytes: number;
  /** Segments of a connection already closed (late retransmissions, final ACKs). */
  afterClose: number;
  retransmittedBytes: number;
  reassembledBytes: number;
  /** Segments repeated because another capture file (another node) saw them too: not retransmissions. */
  duplicateSegments: number;
  duplicateBytes: number;
  /** Connections whose packets came from more than one file. */
  connectionsInSeveralFiles: number;
  /** Connections recognised as another view of an earlier one (see TcpConnection.duplicateOf). */
  duplicateConnections: number;
  /** Times the total held-bytes cap forced holes to be declared lost. */
  heldCapHits: number;
  /** Most out-of-order bytes held at once. */
  peakHeldBytes: number;
  /** Segments wholly beyond what the receiver's advertised window allowed: dropped, as the receiver would. */
  outOfWindowSegments: number;
}

interface Held {
  seq: number;
  data: Buffer;
  ts: number;
}

class Half {
  /** Window-scale shift from this side's SYN; -1 without the option or without a captured SYN. */
  scale = -1;
  synSeen = false;
  /** Largest receive window this side advertised (scaled), 0 while unknown. */
  maxWindow = 0;
  /** Highest acknowledgement this side sent (of the peer's bytes); -1 while none. */
  highestAck = -1;
  /** The file whose packets first delivered this direction's data; copies from other files are duplicates. */
  file = -1;
  /** Initial sequence number from this direction's SYN (or the peer's SYN+ACK); -1 while unknown. */
  isn = -1;
  /** Next expected sequence number; -1 until the first SYN or data of this direction. */
  nextSeq = -1;
  /** Sequence number of the FIN (just after the data it ends); -1 until a FIN is seen. */
  finSeq = -1;
  closed = false;
  held: Held[] = [];
  heldBytes = 0;
}

const CLOSED_HANDLER: StreamHandler = { data() {}, gap() {}, end() {} };

const DEFAULTS: ReassemblyOptions = {
  maxHeldBytesPerConnection: 4 << 20,
  maxHeldBytesTotal: 256 << 20,
  closedRetentionUs: 300e6,
};

/** Signed distance from b to a in sequence space (handles wraparound). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Ports that servers in clusters listen on, at or above the ephemeral range's
 * start (gRPC's 50051, the kubelet's 10250, etcd's 2379, OTLP's 4317, ...): a
 * connection caught mid-stream between one of these and another high port was
 * opened towards it.
 */
const SERVER_PORTS = new Set([
  1433, 1521, 2379, 2380, 3000, 3306, 4317, 4318, 5000, 5432, 5672, 6379, 6443, 7000, 7001, 8000, 8080, 8081, 8443,
  8888, 9000, 9042, 9090, 9091, 9092, 9093, 9200, 9300, 9411, 10250, 10255, 10256, 11211, 15010, 15012, 15014, 15017,
  15021, 27017, 50051,
]);

/** A guess of who is the server when the handshake was not captured: the well-known or non-ephemeral port. */
function guessClientIsSource(srcPort: number, dstPort: number): boolean {
  const srcLow = srcPort < 1024;
  const dstLow = dstPort < 1024;
  if (srcLow !== dstLow) return dstLow;
  const srcKnown = SERVER_PORTS.has(srcPort);
  const dstKnown = SERVER_PORTS.has(dstPort);
  if (srcKnown !== dstKnown) return dstKnown;
  const srcEphemeral = srcPort >= 32768;
  const dstEphemeral = dstPort >= 32768;
  if (srcEphemeral !== dstEphemeral) return srcEphemeral;
  return srcPort > dstPort;
}

class Connection {
  readonly info: TcpConnection;
  readonly halves: [Half, Half] = [new Half(), new Half()];
  handler: StreamHandler;
  done = false;
  closedAt = 0;
  /** Key in byClientIsn when this connection registered its client ISN there. */
  isnKey: string | null = null;

  constructor(info: TcpConnection, factory: StreamFactory) {
    this.info = info;
    this.handler = factory(info);
  }
}

export class TcpReassembler {
  /** Every connection remembered, in order of first packet (finish() closes them in it). */
  private readonly conns = new Set<Connection>();
  /**
   * The same by their ends (flow-key.ts), for the lookup every segment makes: a string of both
   * ends built and hashed per segment was the largest cost of tracking connections.
   */
  private readonly byEnds = new EndsIndex<Connection>();
  /** Client address, port and ISN of connections opened by a SYN, to recognise the same connection seen through a NAT. */
  private readonly byClientIsn = new Map<string, { id: number; file: number }>();
  private nextId = 1;
  private totalHeld = 0;
  private segmentsSincePrune = 0;
  private readonly opts: ReassemblyOptions;
  readonly stats: ReassemblyStats = emptyReassemblyStats();

  constructor(private readonly factory: StreamFactory, opts: Partial<ReassemblyOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** Feed one decoded TCP segment (outcome 'ok', protocol TCP) from capture file `file`. */
  segment(p: DecodedPacket, ts: number, file = 0): void {
    this.stats.segments++;
    if (++this.segmentsSincePrune >= 65536) this.prune(ts);
    const flags = p.flags;
    let conn = this.byEnds.find(p);
    const isSyn = (flags & TCP_SYN) !== 0 && (flags & TCP_ACK) === 0;
    if (conn && isSyn && this.isNewSyn(conn, p)) {
      // A fresh SYN on the 4-tuple is a new connection (port reuse); close() ignores one already done.
      this.close(conn, 'port-reuse', ts);
      this.forget(conn);
      conn = undefined;
    } else if (conn && conn.done) {
      this.stats.afterClose++;
      return;
    }
    if (!conn) {
      conn = this.open(p, ts, file);
      this.conns.add(conn);
      this.byEnds.add(conn.info.client, conn.info.server, conn);
    }
    const info = conn.info;
    if (!info.files.includes(file)) {
      info.files.push(file);
      if (info.files.length === 2) this.stats.connectionsInSeveralFiles++;
    }
    const dir: Dir = p.srcPort === info.client.port && p.srcIp === info.client.ip ? 0 : 1;
    info.lastTs = ts;
    info.packets[dir]++;
    info.bytes[dir] += p.payload.length;

    if ((flags & TCP_RST) !== 0) {
      info.rsts++;
      // Data riding on a RST is still data the peer received; deliver it first.
      if (p.payload.length > 0) this.receive(conn, dir, p.seq, p.payload, ts, file);
      this.close(conn, 'rst', ts);
      return;
    }
    const half = conn.halves[dir];
    this.window(conn, dir, p);
    let seq = p.seq;
    if ((flags & TCP_SYN) !== 0) {
      // Only the first SYN sets the start: a late copy must not rewind a stream already under way.
      if (half.nextSeq < 0) {
        half.isn = seq;
        half.nextSeq = (seq + 1) >>> 0;
      }
      const peer = conn.halves[1 - dir];
      if ((flags & TCP_ACK) !== 0 && peer.nextSeq < 0) {
        // A SYN+ACK whose SYN was not captured still tells where the client's stream starts.
        peer.isn = (p.ack - 1) >>> 0;
        peer.nextSeq = p.ack;
      }
      seq = (seq + 1) >>> 0;
    }
    if (p.payload.length > 0) this.receive(conn, dir, seq, p.payload, ts, file);
    if ((flags & TCP_FIN) !== 0) {
      if (half.nextSeq < 0) half.nextSeq = seq;
      half.finSeq = (seq + p.payload.length) >>> 0;
      this.checkFin(conn, dir);
    }
    if ((flags & TCP_ACK) !== 0) this.acked(conn, (1 - dir) as Dir, p.ack, ts);
    if (conn.halves[0].closed && conn.halves[1].closed) this.close(conn, 'fin', ts);
  }

  private forget(conn: Connection): void {
    this.conns.delete(conn);
    this.byEnds.remove(conn.info.client, conn.info.server, conn);
  }

  /** Flush every connection still open: held data is delivered after a gap, then the handler ends. */
  finish(ts: number): void {
    for (const conn of this.conns) if (!conn.done) this.close(conn, 'end-of-capture', ts);
    this.conns.clear();
    this.byEnds.clear();
    this.byClientIsn.clear();
  }

  /** Forget connections closed long ago (in capture time): memory follows live connections, not all ever seen. */
  private prune(now: number): void {
    this.segmentsSincePrune = 0;
    const horizon = now - this.opts.closedRetentionUs;
    for (const c of this.conns) {
      if (!c.done || c.closedAt >= horizon) continue;
      this.forget(c);
      if (c.isnKey) this.byClientIsn.delete(c.isnKey);
    }
  }

  get openConnections(): number {
    let n = 0;
    for (const c of this.conns) if (!c.done) n++;
    return n;
  }

  private isNewSyn(conn: Connection, p: DecodedPacket): boolean {
    // A retransmitted SYN carries the same ISN; a different one means the 4-tuple was reused.
    const half = conn.halves[p.srcPort === conn.info.client.port && p.srcIp === conn.info.client.ip ? 0 : 1];
    if (half.isn >= 0) return half.isn !== p.seq;
    // No ISN known: a SYN after this side's data, or after the end, starts another connection.
    return half.nextSeq >= 0 || conn.done;
  }

  private open(p: DecodedPacket, ts: number, file: number): Connection {
    const syn = (p.flags & TCP_SYN) !== 0;
    const ack = (p.flags & TCP_ACK) !== 0;
    let clientIsSrc: boolean;
    let roles: 'syn' | 'guessed' = 'syn';
    if (syn) clientIsSrc = !ack;
    else {
      clientIsSrc = guessClientIsSource(p.srcPort, p.dstPort);
      roles = 'guessed';
    }
    const src = { ip: p.srcIp, port: p.srcPort };
    const dst = { ip: p.dstIp, port: p.dstPort };
    const info: TcpConnection = {
      id: this.nextId++,
      client: clientIsSrc ? src : dst,
      server: clientIsSrc ? dst : src,
      roles,
      firstTs: ts,
      lastTs: ts,
      packets: [0, 0],
      bytes: [0, 0],
      gapBytes: [0, 0],
      rsts: 0,
      midstream: false,
      reassembledBytes: [0, 0],
      retransmittedBytes: [0, 0],
      files: [file],
      duplicateOf: null,
    };
    let registered: string | null = null;
    if (syn) {
      // The client's ISN is in its SYN, or one before the ack of the server's SYN+ACK.
      const clientIsn = ack ? (p.ack - 1) >>> 0 : p.seq;
      const isnKey = `${info.client.ip}|${info.client.port}|${clientIsn}`;
      const seen = this.byClientIsn.get(isnKey);
      if (seen && seen.file !== file) {
        info.duplicateOf = seen.id;
        this.stats.duplicateConnections++;
      } else if (!seen) {
        this.byClientIsn.set(isnKey, { id: info.id, file });
        registered = isnKey;
      }
    }
    this.stats.connections++;
    const conn = new Connection(info, this.factory);
    conn.isnKey = registered;
    return conn;
  }

  private receive(conn: Connection, dir: Dir, seq: number, payload: Buffer, ts: number, file: number): void {
    const half = conn.halves[dir];
    if (half.file < 0) half.file = file;
    if (half.closed) {
      this.repeated(conn, dir, payload.length, file);
      return;
    }
    if (half.nextSeq < 0) {
      // No SYN seen for this direction: the capture began mid-stream; start from here.
      half.nextSeq = seq;
      conn.info.midstream = true;
    }
    const diff = seqDiff(seq, half.nextSeq);
    const len = payload.length;
    if (diff + len <= 0) {
      this.repeated(conn, dir, len, file);
      return;
    }
    if (diff <= 0) {
      if (diff < 0) {
        this.stats.overlapBytes += -diff;
        conn.info.retransmittedBytes[dir] += -diff;
      }
      this.deliver(conn, dir, payload.subarray(-diff), ts);
      this.drain(conn, dir);
      return;
    }
    if (this.outOfWindow(conn, dir, seq)) {
      this.stats.outOfWindowSegments++;
      return;
    }
    this.hold(conn, dir, seq, payload, ts, file);
  }

  /** Track what each side advertises, so that a segment no receiver would accept can be told apart. */
  private window(conn: Connection, dir: Dir, p: DecodedPacket): void {
    const half = conn.halves[dir];
    const peer = conn.halves[1 - dir];
    if ((p.flags & TCP_SYN) !== 0) {
      half.synSeen = true;
      half.scale = p.windowScale;
      // The window of a SYN is never scaled (RFC 7323 2.2).
      if (p.window > half.maxWindow) half.maxWindow = p.window;
    } else {
      const shift = half.synSeen && peer.synSeen && half.scale >= 0 && peer.scale >= 0 ? half.scale : 0;
      const w = p.window * 2 ** shift;
      if (w > half.maxWindow) half.maxWindow = w;
    }
    if ((p.flags & TCP_ACK) !== 0 && (half.highestAck < 0 || seqDiff(p.ack, half.highestAck) > 0)) half.highestAck = p.ack;
  }

  /**
   * A segment starting beyond the receiver's acknowledged point plus the largest
   * window it ever advertised cannot have been accepted. Judged only when both
   * SYNs were captured, since the window scale is known only then.
   */
  private outOfWindow(conn: Connection, dir: Dir, seq: number): boolean {
    const receiver = conn.halves[1 - dir];
    const sender = conn.halves[dir];
    if (!receiver.synSeen || !sender.synSeen || receiver.maxWindow === 0) return false;
    let ref = sender.nextSeq;
    if (receiver.highestAck >= 0 && seqDiff(receiver.highestAck, ref) > 0) ref = receiver.highestAck;
    return seqDiff(seq, ref) > receiver.maxWindow;
  }

  /** A segment wholly seen before: a retransmission, or the same packet captured by another node. */
  private repeated(conn: Connection, dir: Dir, len: number, file: number): void {
    if (file !== conn.halves[dir].file) {
      this.stats.duplicateSegments++;
      this.stats.duplicateBytes += len;
      return;
    }
    this.stats.retransmittedSegments++;
    this.stats.retransmittedBytes += len;
    this.stats.overlapBytes += len;
    conn.info.retransmittedBytes[dir] += len;
  }

  private deliver(conn: Connection, dir: Dir, bytes: Buffer, ts: number): void {
    const half = conn.halves[dir];
    half.nextSeq = (half.nextSeq + bytes.length) >>> 0;
    conn.info.reassembledBytes[dir] += bytes.length;
    this.stats.reassembledBytes += bytes.length;
    conn.handler.data(dir, bytes, ts);
  }

  private hold(conn: Connection, dir: Dir, seq: number, payload: Buffer, ts: number, file: number): void {
    const half = conn.halves[dir];
    // An exact copy of a segment already held (another node's capture, or a retransmission) is not held twice.
    for (const h of half.held) {
      if (h.seq === seq && h.data.length === payload.length) {
        this.repeated(conn, dir, payload.length, file);
        return;
      }
    }
    this.stats.outOfOrderSegments++;
    // The payload is a view into the reader's chunk: held bytes must be copied.
    const entry: Held = { seq, data: Buffer.from(payload), ts };
    let i = half.held.length;
    while (i > 0 && seqDiff(half.held[i - 1].seq, seq) > 0) i--;
    half.held.splice(i, 0, entry);
    half.heldBytes += payload.length;
    this.totalHeld += payload.length;
    if (this.totalHeld > this.stats.peakHeldBytes) this.stats.peakHeldBytes = this.totalHeld;
    if (this.heldBytes(conn) > this.opts.maxHeldBytesPerConnection) this.skipToHeld(conn, dir, ts);
    else if (this.totalHeld > this.opts.maxHeldBytesTotal) {
      this.stats.heldCapHits++;
      for (const d of [0, 1] as const) while (conn.halves[d].held.length > 0) this.skipToHeld(conn, d, ts);
    }
  }

  /** Bytes held out of order across all connections right now. */
  get heldBytesTotal(): number {
    return this.totalHeld;
  }

  private heldBytes(conn: Connection): number {
    return conn.halves[0].heldBytes + conn.halves[1].heldBytes;
  }

  /** Deliver held segments that the stream has now reached. */
  private drain(conn: Connection, dir: Dir): void {
    const half = conn.halves[dir];
    while (half.held.length > 0) {
      const h = half.held[0];
      const diff = seqDiff(h.seq, half.nextSeq);
      if (diff > 0) break;
      half.held.shift();
      half.heldBytes -= h.data.length;
      this.totalHeld -= h.data.length;
      if (diff + h.data.length <= 0) {
        this.stats.retransmittedSegments++;
        this.stats.retransmittedBytes += h.data.length;
        this.stats.overlapBytes += h.data.length;
        conn.info.retransmittedBytes[dir] += h.data.length;
        continue;
      }
      if (diff < 0) {
        this.stats.overlapBytes += -diff;
        conn.info.retransmittedBytes[dir] += -diff;
      }
      this.deliver(conn, dir, h.data.subarray(-diff), h.ts);
    }
    this.checkFin(conn, dir);
  }

  /** Declare the hole before the first held segment lost, then go on from it. */
  private skipToHeld(conn: Connection, dir: Dir, ts: number): void {
    const half = conn.halves[dir];
    if (half.held.length === 0) return;
    const missing = seqDiff(half.held[0].seq, half.nextSeq);
    if (missing > 0) this.gap(conn, dir, missing, ts);
    this.drain(conn, dir);
  }

  private gap(conn: Connection, dir: Dir, length: number, ts: number): void {
    const half = conn.halves[dir];
    this.stats.gaps++;
    this.stats.gapBytes += length;
    conn.info.gapBytes[dir] += length;
    half.nextSeq = (half.nextSeq + length) >>> 0;
    conn.handler.gap(dir, length, ts);
  }

  /**
   * The peer acknowledged bytes of `dir` up to `ack`. When that passes a hole
   * in front of held data, the receiver got bytes the capture missed: a gap.
   */
  private acked(conn: Connection, dir: Dir, ack: number, ts: number): void {
    const half = conn.halves[dir];
    if (half.nextSeq < 0) return;
    // One ACK may pass several holes.
    while (half.held.length > 0 && seqDiff(ack, half.held[0].seq) >= 0) this.skipToHeld(conn, dir, ts);
    // An acknowledged FIN: the peer got all that came before it, captured or not.
    if (half.held.length === 0 && half.finSeq >= 0 && !half.closed && seqDiff(ack, half.finSeq) > 0) {
      const missing = seqDiff(half.finSeq, half.nextSeq);
      if (missing > 0) this.gap(conn, dir, missing, ts);
      this.checkFin(conn, dir);
    }
  }

  private checkFin(conn: Connection, dir: Dir): void {
    const half = conn.halves[dir];
    if (half.finSeq >= 0 && !half.closed && half.held.length === 0 && half.nextSeq === half.finSeq) half.closed = true;
  }

  private close(conn: Connection, reason: CloseReason, ts: number): void {
    if (conn.done) return;
    for (const dir of [0, 1] as const) {
      const half = conn.halves[dir];
      while (half.held.length > 0) this.skipToHeld(conn, dir, ts);
      // Data announced by a FIN but never captured is a gap at the end of the stream.
      if (half.finSeq >= 0 && half.nextSeq >= 0) {
        const missing = seqDiff(half.finSeq, half.nextSeq);
        if (missing > 0) this.gap(conn, dir, missing, ts);
      }
      half.closed = true;
    }
    conn.done = true;
    conn.closedAt = ts;
    conn.handler.end(reason, ts);
    // The entry stays to recognise late segments and port reuse; what it held can go.
    conn.handler = CLOSED_HANDLER;
  }
}

export function emptyReassemblyStats(): ReassemblyStats {
  return {
    connections: 0, segments: 0, retransmittedSegments: 0, overlapBytes: 0, outOfOrderSegments: 0, gaps: 0,
    gapBytes: 0, afterClose: 0, retransmittedBytes: 0, reassembledBytes: 0, duplicateSegments: 0, duplicateBytes: 0,
    connectionsInSeveralFiles: 0, duplicateConnections: 0, heldCapHits: 0, peakHeldBytes: 0, outOfWindowSegments: 0,
  };
}
