/**
 * How a two-thread import splits a pass (import-thread.ts): the main thread runs the reading
 * half (readPass: captures, packets, TCP reassembly, UDP flows) and hands everything it finds to
 * the analysis thread as bytes, where a Dissection takes it in the same order. A FeedWriter is
 * the reading half's PassTarget; replayFeed plays its batches to the real one. Everything the
 * dissectors read of a connection travels with it (its ends, roles, first file; whether it was
 * caught mid-stream, with each piece of data; its counts, with its end), so that both threads
 * together store exactly what one thread does.
 *
 * Events, each a tag byte and then
 *   ADDRESS: u8 length + latin1 characters: the next address id (each address is sent once)
 *   OPEN:    u32 id, u8 roles, i32 duplicate-of (-1: none), u32 first file, f64 first ts,
 *            client address id + u16 port, server address id + u16 port
 *   DATA:    u32 id, u8 direction | mid-stream << 1, f64 ts, u32 length + bytes
 *   GAP:     u32 id, u8 direction, f64 ts, f64 length
 *   END:     u32 id, u8 reason, f64 ts, f64 last ts, u32 resets, f64 × 2 each of packets,
 *            bytes, reassembled, retransmitted and gap bytes, u32 file count + u32 each
 *   DNS:     f64 ts, source address id + u16 port, destination likewise, u32 flow, u32 file,
 *            u32 length + bytes
 *   TICK:    f64 ts
 */
import type { CloseReason, Dir, StreamHandler, TcpConnection, TcpEndpoint } from '../net/tcp-reassembly.js';
import type { PassTarget } from '../dissect/pipeline.js';
import { RecordWriter } from './record-codec.js';

const ADDRESS = 0;
const OPEN = 1;
const DATA = 2;
const GAP = 3;
const END = 4;
const DNS = 5;
const TICK = 6;

const REASONS: readonly CloseReason[] = ['fin', 'rst', 'end-of-capture', 'port-reuse'];
const ROLES: ReadonlyArray<TcpConnection['roles']> = ['syn', 'guessed'];

/** A batch is handed on once it holds this much. */
export const FEED_BATCH_BYTES = 1 << 20;

/** Room for a batch (it is transferred). */
function freshWriter(): RecordWriter {
  return RecordWriter.transferable(FEED_BATCH_BYTES + (FEED_BATCH_BYTES >> 2));
}

export class FeedWriter implements PassTarget {
  private w = freshWriter();
  /** Addresses sent so far, by their id on the other side. */
  private readonly addresses = new Map<string, number>();
  readonly stream = (conn: TcpConnection): StreamHandler => {
    const client = this.address(conn.client.ip);
    const server = this.address(conn.server.ip);
    const w = this.w;
    w.u8(OPEN);
    w.u32(conn.id);
    w.u8(ROLES.indexOf(conn.roles));
    w.u32(conn.duplicateOf === null ? 0xffffffff : conn.duplicateOf);
    w.u32(conn.files[0] ?? 0);
    w.f64(conn.firstTs);
    w.u32(client);
    u16(w, conn.client.port);
    w.u32(server);
    u16(w, conn.server.port);
    return {
      data: (dir, bytes, ts) => {
        const x = this.w;
        x.u8(DATA);
        x.u32(conn.id);
        x.u8(dir | (conn.midstream ? 2 : 0));
        x.f64(ts);
        x.bytes(bytes);
        this.full();
      },
      gap: (dir, length, ts) => {
        const x = this.w;
        x.u8(GAP);
        x.u32(conn.id);
        x.u8(dir);
        x.f64(ts);
        x.f64(length);
      },
      end: (reason, ts) => {
        const x = this.w;
        x.u8(END);
        x.u32(conn.id);
        x.u8(REASONS.indexOf(reason));
        x.f64(ts);
        x.f64(conn.lastTs);
        x.u32(conn.rsts);
        for (const pair of [conn.packets, conn.bytes, conn.reassembledBytes, conn.retransmittedBytes, conn.gapBytes]) {
          x.f64(pair[0]);
          x.f64(pair[1]);
        }
        x.u32(conn.files.length);
        for (const f of conn.files) x.u32(f);
        this.full();
      },
    };
  };

  /** Called with each batch that is full; take() hands over the rest at the end. */
  constructor(private readonly onFull: (batch: Uint8Array<ArrayBuffer>) => void) {}

  dns(payload: Buffer, ts: number, src: TcpEndpoint, dst: TcpEndpoint, flow: number, file: number): void {
    const s = this.address(src.ip);
    const d = this.address(dst.ip);
    const x = this.w;
    x.u8(DNS);
    x.f64(ts);
    x.u32(s);
    u16(x, src.port);
    x.u32(d);
    u16(x, dst.port);
    x.u32(flow);
    x.u32(file);
    x.bytes(payload);
    this.full();
  }

  tick(ts: number): void {
    this.w.u8(TICK);
    this.w.f64(ts);
  }

  /** The batch so far, in memory of its own to transfer (null when empty); the next one starts empty. */
  take(): Uint8Array<ArrayBuffer> | null {
    const taken = this.w;
    if (taken.pos === 0) return null;
    this.w = freshWriter();
    return taken.transferred();
  }

  private full(): void {
    if (this.w.pos >= FEED_BATCH_BYTES) this.onFull(this.take()!);
  }

  private address(ip: string): number {
    let id = this.addresses.get(ip);
    if (id === undefined) {
      id = this.addresses.size;
      this.addresses.set(ip, id);
      this.w.u8(ADDRESS);
      this.w.u8(ip.length);
      for (let i = 0; i < ip.length; i++) this.w.u8(ip.charCodeAt(i));
    }
    return id;
  }
}

function u16(w: RecordWriter, v: number): void {
  w.u8(v & 0xff);
  w.u8(v >>> 8);
}

/** The analysis thread's side: what the feed has said so far (addresses, open connections). */
export class FeedReplay {
  private readonly addresses: string[] = [];
  private readonly open = new Map<number, { conn: TcpConnection; handler: StreamHandler }>();

  constructor(private readonly target: PassTarget) {}

  /** Plays one batch to the target; the Buffers it hands on are views of `batch`. */
  play(batch: Uint8Array): void {
    const b = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
    const n = b.length;
    let at = 0;
    const endpoint = (): TcpEndpoint => {
      const e = { ip: this.addresses[b.readUInt32LE(at)], port: b[at + 4] | (b[at + 5] << 8) };
      at += 6;
      return e;
    };
    while (at < n) {
      const tag = b[at++];
      switch (tag) {
        case DATA: {
          const o = this.open.get(b.readUInt32LE(at))!;
          const flags = b[at + 4];
          const ts = b.readDoubleLE(at + 5);
          const len = b.readUInt32LE(at + 13);
          at += 17;
          o.conn.midstream = (flags & 2) !== 0;
          o.handler.data((flags & 1) as Dir, b.subarray(at, at + len), ts);
          at += len;
          break;
        }
        case DNS: {
          const ts = b.readDoubleLE(at);
          at += 8;
          const src = endpoint();
          const dst = endpoint();
          const flow = b.readUInt32LE(at);
          const file = b.readUInt32LE(at + 4);
          const len = b.readUInt32LE(at + 8);
          at += 12;
          this.target.dns(b.subarray(at, at + len), ts, src, dst, flow, file);
          at += len;
          break;
        }
        case TICK:
          this.target.tick(b.readDoubleLE(at));
          at += 8;
          break;
        case ADDRESS: {
          const len = b[at];
          this.addresses.push(b.toString('latin1', at + 1, at + 1 + len));
          at += 1 + len;
          break;
        }
        case OPEN: {
          const id = b.readUInt32LE(at);
          const roles = ROLES[b[at + 4]];
          const dup = b.readUInt32LE(at + 5);
          const file = b.readUInt32LE(at + 9);
          const firstTs = b.readDoubleLE(at + 13);
          at += 21;
          const client = endpoint();
          const server = endpoint();
          const conn: TcpConnection = {
            id, client, server, roles, firstTs, lastTs: firstTs, packets: [0, 0], bytes: [0, 0], gapBytes: [0, 0], rsts: 0,
            midstream: false, reassembledBytes: [0, 0], retransmittedBytes: [0, 0], files: [file], duplicateOf: dup === 0xffffffff ? null : dup,
          };
          this.open.set(id, { conn, handler: this.target.stream(conn) });
          break;
        }
        case GAP: {
          const o = this.open.get(b.readUInt32LE(at))!;
          o.handler.gap(b[at + 4] as Dir, b.readDoubleLE(at + 13), b.readDoubleLE(at + 5));
          at += 21;
          break;
        }
        case END: {
          const id = b.readUInt32LE(at);
          const o = this.open.get(id)!;
          const reason = REASONS[b[at + 4]];
          const ts = b.readDoubleLE(at + 5);
          const c = o.conn;
          c.lastTs = b.readDoubleLE(at + 13);
          c.rsts = b.readUInt32LE(at + 21);
          at += 25;
          for (const pair of [c.packets, c.bytes, c.reassembledBytes, c.retransmittedBytes, c.gapBytes]) {
            pair[0] = b.readDoubleLE(at);
            pair[1] = b.readDoubleLE(at + 8);
            at += 16;
          }
          const files = b.readUInt32LE(at);
          at += 4;
          c.files.length = 0;
          for (let i = 0; i < files; i++, at += 4) c.files.push(b.readUInt32LE(at));
          this.open.delete(id);
          o.handler.end(reason, ts);
          break;
        }
        default:
          throw new Error(`import feed: unknown event ${tag} at byte ${at - 1}`);
      }
    }
  }
}
