/**
 * Following a connection: its payload in each direction, reassembled from the capture files
 * again, as tshark's `-z follow,tcp,...` shows it. Only the files the connection was seen in
 * are read, and only its packets reach a TcpReassembler of its own, so what comes out is what
 * podcap's dissectors saw at import: retransmissions and another node's copies delivered once,
 * out-of-order segments put in place, and a gap where the capture lost bytes (tshark writes
 * `[N bytes missing in capture file]` there). A UDP flow gives its datagrams in order.
 *
 * The renderings (`renderFollow`) are tshark's: `ascii` (`follow,tcp,ascii`), `hex` and `raw`.
 */
import { IPPROTO_TCP } from '../net/decode.js';
import { TcpReassembler, type TcpConnection } from '../net/tcp-reassembly.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { Workspace } from '../store/workspace.js';
import { parseTxId } from '../store/workspace.js';
import { NotFoundError, connectionRef, endpointText, scanConnections, type Transport } from './export.js';

export interface FollowChunk {
  from: 'client' | 'server';
  /** Capture time (µs) of the packet that delivered the bytes (for a gap: of the packet after it). */
  ts: number;
  /** The bytes, in order; empty for a gap. */
  data: Buffer;
  /** > 0: this many bytes of the direction were never captured here. */
  missing: number;
}

export interface FollowResult {
  snapshot: string;
  transport: Transport;
  id: number;
  /** The ends, as `ip:port` (`[ip]:port` for IPv6). */
  client: string;
  server: string;
  summary: StreamSummary;
  /** Both directions' bytes in the order they were delivered. */
  chunks: FollowChunk[];
  /** Packets of the connection read (every file's copies). */
  packets: number;
  bytes: { client: number; server: number };
  missing: { client: number; server: number };
  /** Bytes past maxBytes were counted but not kept. */
  truncated: boolean;
}

export interface FollowOptions {
  /** Bytes kept at most, both directions together (default 256 MiB); the rest is counted. */
  maxBytes?: number;
}

export interface FollowTarget {
  snapshot: string;
  transport: Transport;
  id: number;
  /** The transaction the target was named by, if it was. */
  transaction: string | null;
}

/**
 * What `podcap follow` was given: a transaction id (`<snapshot>-<n>`: its connection) or
 * `SNAPSHOT:tcp:N` / `SNAPSHOT:udp:N` (SNAPSHOT an id, a name or a unique id prefix).
 * NotFoundError when there is no such transaction or snapshot.
 */
export function resolveFollowTarget(ws: Workspace, ref: string): FollowTarget {
  const m = /^(.+):(tcp|udp):(\d+)$/.exec(ref);
  if (m) {
    let snapshot: string;
    try {
      snapshot = ws.resolveSnapshot(m[1]).id;
    } catch (e) {
      throw new NotFoundError((e as Error).message);
    }
    return { snapshot, transport: m[2] as Transport, id: Number(m[3]), transaction: null };
  }
  const tx = parseTxId(ref);
  const rec = tx ? ws.getRecord(tx.snapshot, tx.seq) : null;
  if (!rec) {
    throw new NotFoundError(`no transaction "${ref}" (give a transaction id as podcap calls prints it, or SNAPSHOT:tcp:N)`);
  }
  return { snapshot: rec.snapshot, transport: rec.stream.transport, id: rec.stream.id, transaction: rec.id };
}

export const DEFAULT_FOLLOW_MAX_BYTES = 256 * 1024 * 1024;

/** tshark's words for bytes the capture does not have, with its trailing NUL. */
export function gapMarker(missing: number): Buffer {
  return Buffer.from(`[${missing} bytes missing in capture file]\0`, 'latin1');
}

/**
 * A connection's payload, reassembled again from its capture files. NotFoundError when the
 * snapshot or connection is unknown; CaptureError when a file is gone or changed.
 */
export async function followStream(ws: Workspace, snapshotRef: string, transport: Transport, id: number, opts: FollowOptions = {}): Promise<FollowResult> {
  let snapshot;
  try {
    snapshot = ws.resolveSnapshot(snapshotRef);
  } catch (e) {
    throw new NotFoundError((e as Error).message);
  }
  const ref = connectionRef(ws, snapshot, transport, id);
  const s = ref.summary;
  const maxBytes = opts.maxBytes ?? DEFAULT_FOLLOW_MAX_BYTES;
  const result: FollowResult = {
    snapshot: snapshot.id, transport, id, client: endpointText(s.clientAddr), server: endpointText(s.serverAddr), summary: s,
    chunks: [], packets: 0, bytes: { client: 0, server: 0 }, missing: { client: 0, server: 0 }, truncated: false,
  };
  let kept = 0;
  const add = (from: 'client' | 'server', ts: number, bytes: Buffer | null, missing: number): void => {
    if (missing > 0) {
      result.missing[from] += missing;
      result.chunks.push({ from, ts, data: Buffer.alloc(0), missing });
      return;
    }
    if (!bytes || bytes.length === 0) return;
    result.bytes[from] += bytes.length;
    if (kept + bytes.length > maxBytes) {
      result.truncated = true;
      return;
    }
    kept += bytes.length;
    // The reassembler's and the reader's buffers are only lent: keep a copy.
    result.chunks.push({ from, ts, data: Buffer.from(bytes), missing: 0 });
  };

  if (transport === 'udp') {
    await scanConnections(ws, [ref], { copies: 'first', fragments: false }, (item) => {
      result.packets++;
      if (item.decoded) add(item.dir === 0 ? 'client' : 'server', item.ts, item.decoded.payload, 0);
    });
    return result;
  }

  // One connection's segments only, every file's copy with its file index: the reassembler
  // tells another node's copies from retransmissions as it did at import.
  let ours: TcpConnection | null = null;
  const reassembler = new TcpReassembler((conn) => {
    const mine = ours === null;
    if (mine) ours = conn;
    const side = (dir: 0 | 1): 'client' | 'server' => {
      // Roles as the summary has them (the reassembler makes the same choice from the same packets).
      const c = conn.client;
      const isClient = dir === 0 ? c.ip === s.clientAddr.ip && c.port === s.clientAddr.port : !(c.ip === s.clientAddr.ip && c.port === s.clientAddr.port);
      return isClient ? 'client' : 'server';
    };
    return {
      data: (dir, bytes, ts) => {
        if (mine) add(side(dir), ts, bytes, 0);
      },
      gap: (dir, length, ts) => {
        if (mine) add(side(dir), ts, null, length);
      },
      end: () => {},
    };
  });
  let lastTs = s.lastTs;
  await scanConnections(ws, [ref], { copies: 'all', fragments: false }, (item) => {
    result.packets++;
    if (item.ts > lastTs) lastTs = item.ts;
    const d = item.decoded;
    if (d && d.protocol === IPPROTO_TCP) reassembler.segment(d, item.ts, item.fileIndex);
  });
  reassembler.finish(lastTs);
  return result;
}

/** One direction's bytes in order, each gap written as tshark writes it. */
export function directionBytes(r: FollowResult, from: 'client' | 'server'): Buffer {
  const parts: Buffer[] = [];
  for (const c of r.chunks) if (c.from === from) parts.push(c.missing > 0 ? gapMarker(c.missing) : c.data);
  return Buffer.concat(parts);
}

function chunkBytes(c: FollowChunk): Buffer {
  return c.missing > 0 ? gapMarker(c.missing) : c.data;
}

/** A chunk's bytes as text when they are UTF-8 without control characters other than tab, CR and LF. */
function asText(b: Buffer): string | null {
  const s = b.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(s)) return null;
  return Buffer.byteLength(s, 'utf8') === b.length ? s : null;
}

export interface FollowJsonChunk {
  from: 'client' | 'server';
  ts: number;
  text?: string;
  base64?: string;
  /** A gap: this many bytes were not captured (tshark's marker is not included in text/base64). */
  missing?: number;
}

export interface FollowJson {
  snapshot: string;
  transport: Transport;
  id: number;
  client: string;
  server: string;
  bytes: { client: number; server: number };
  missing: { client: number; server: number };
  packets: number;
  truncated: boolean;
  chunks: FollowJsonChunk[];
}

export function followJson(r: FollowResult): FollowJson {
  return {
    snapshot: r.snapshot, transport: r.transport, id: r.id, client: r.client, server: r.server,
    bytes: r.bytes, missing: r.missing, packets: r.packets, truncated: r.truncated,
    chunks: r.chunks.map((c) => {
      if (c.missing > 0) return { from: c.from, ts: c.ts, missing: c.missing };
      const text = asText(c.data);
      return text !== null ? { from: c.from, ts: c.ts, text } : { from: c.from, ts: c.ts, base64: c.data.toString('base64') };
    }),
  };
}

/** A FollowJson chunk's bytes back (a gap as tshark's marker). */
export function jsonChunkBytes(c: FollowJsonChunk): Buffer {
  if (c.missing) return gapMarker(c.missing);
  if (c.text !== undefined) return Buffer.from(c.text, 'utf8');
  return Buffer.from(c.base64 ?? '', 'base64');
}

export type FollowMode = 'ascii' | 'hex' | 'raw';

const RULE = '===================================================================';

function printable(b: number): boolean {
  return b >= 0x20 && b < 0x7f;
}

/** tshark's hex dump lines: offset, 16 bytes in two groups of eight, the same as text. */
function hexLines(b: Buffer, offset: number, indent: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = b.subarray(i, Math.min(i + 16, b.length));
    let hex = '';
    let text = '';
    for (let j = 0; j < row.length; j++) {
      hex += `${row[j].toString(16).padStart(2, '0')} `;
      text += printable(row[j]) ? String.fromCharCode(row[j]) : '.';
      if (j === 7) {
        hex += ' ';
        if (row.length > 8) text += ' ';
      }
    }
    // tshark leaves no trailing blanks (an ASCII column ending in spaces is cut).
    lines.push(`${indent}${(offset + i).toString(16).toUpperCase().padStart(8, '0')}  ${hex.padEnd(50)}${text}`.trimEnd());
  }
  return lines;
}

/**
 * The connection as tshark's `-z follow,PROTO,MODE` prints it: a header naming node 0 (the
 * client) and node 1 (the server), then each chunk in delivery order, the server's indented
 * by a tab. `ascii`: the chunk's length, then its bytes with unprintable ones as dots; `hex`:
 * a hex dump with offsets counted per direction; `raw`: one line of hex per chunk.
 */
export function renderFollow(r: FollowResult, mode: FollowMode): string {
  const out: string[] = [
    '',
    RULE,
    `Follow: ${r.transport},${mode}`,
    `Filter: podcap ${r.snapshot}:${r.transport}:${r.id}`,
    `Node 0: ${r.client}`,
    `Node 1: ${r.server}`,
  ];
  const offsets = { client: 0, server: 0 };
  for (const c of r.chunks) {
    const b = chunkBytes(c);
    const indent = c.from === 'server' ? '\t' : '';
    if (mode === 'raw') out.push(`${indent}${b.toString('hex')}`);
    else if (mode === 'hex') {
      out.push(...hexLines(b, offsets[c.from], indent));
      offsets[c.from] += b.length;
    } else {
      let text = '';
      for (const byte of b) text += printable(byte) || byte === 0x0a || byte === 0x0d || byte === 0x09 ? String.fromCharCode(byte) : '.';
      out.push(`${indent}${b.length}`, text);
    }
  }
  out.push(RULE);
  if (r.truncated) out.push(`(only the first bytes are shown: ${r.bytes.client + r.bytes.server} bytes in all)`);
  return `${out.join('\n')}\n`;
}
