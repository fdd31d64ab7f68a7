/**
 * PCAP export: the packets of the connections that matching transactions came from, read
 * again from the snapshot's capture files and written with their original bytes and times.
 *
 * A transaction names its connection (`stream: { id, transport }`); the workspace keeps each
 * connection's summary (both ends, first and last packet time, the files it was seen in). Only
 * those files are read again, every frame is decoded as at import (tunnels peeled, fragments
 * reassembled), and a frame is kept when its inner 4-tuple, in either direction, and its time
 * fall in a selected connection. The time window runs from the connection's first packet to
 * the first packet of the next connection on the same 4-tuple (port reuse), decided as the
 * reassembler decided it at import (a new SYN after the close; the workspace's connection list
 * for packets more than 5 minutes later), so late ACKs and retransmissions after the close stay
 * with it and a later connection's packets never come along. What is written is the frame as
 * captured: outer headers, tunnels and FCS included, in time order (the import's merge order).
 *
 * Choices:
 * - A connection seen by two nodes (its files [0, 1]) is written once: a packet whose copy from
 *   another file was already written (same connection, direction, TCP sequence and
 *   acknowledgement numbers, flags, window and length; for UDP the length and first 64 bytes;
 *   within 10 s) is left out, as podcap's reassembler counts the second copy as a duplicate.
 *   So each packet comes from the file the merge met it in first, usually its sender's node,
 *   and a packet only one node captured is still written. `allCopies` keeps every copy.
 * - IP fragments: every fragment of a datagram whose reassembled packet belongs to a selected
 *   connection is written, each at its own time. The fragments are tied to their datagram by
 *   the IP header that carries the fragmentation (outer, or inside a VXLAN, Geneve, GRE or
 *   IP-in-IP tunnel): source, destination, protocol and identification, as the decoder keys it.
 * - Format: pcapng unless pcap is asked for (or the output is named .pcap and one link type is
 *   involved); pcap uses the nanosecond magic when an input interface has finer than µs time.
 */
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { CaptureError, type CaptureFileReport, type Packet } from '../capture/packet.js';
import type { CaptureSource } from '../capture/source.js';
import { SourceCursor } from '../capture/merge.js';
import { originalRecord, openCaptureWriter, type CaptureFormat, type CaptureWriter, type OriginalRecord } from '../capture/write.js';
import { DEFAULT_NET_OPTIONS, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_SYN, NetDecoder, newDecodedPacket, type DecodedPacket } from '../net/decode.js';
import { DEFAULT_FRAGMENT_OPTIONS } from '../net/fragments.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB, decodeEthernet, decodeLink, newLinkResult, type LinkResult } from '../net/link.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { TransactionRecord } from '../dissect/record.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { parseTxId, type Workspace } from '../store/workspace.js';
import { listCalls, selectSnapshots } from './calls.js';
import { PODCAP_VERSION } from '../version.js';

/** A transaction, snapshot or connection asked for that the workspace does not hold. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The directory an output file goes in, refused with an ExportError when it is not one. */
export async function outputDir(out: string): Promise<string> {
  const dir = dirname(out);
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ExportError(`cannot write ${out}: ${dir} is not a directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return dir;
}

/** Writes a file whole or not at all: beside it first, then renamed (a failure leaves neither). */
export async function writeFileWhole(out: string, data: string | Buffer): Promise<void> {
  const partial = join(await outputDir(out), `.${basename(out)}.${process.pid}.partial`);
  try {
    await writeFile(partial, data);
    await rename(partial, out);
  } catch (e) {
    await rm(partial, { force: true });
    throw new ExportError(`cannot write ${out}: ${(e as Error).message}`);
  }
}

/** The export could not be written (the output's directory is missing, the disk is full, ...). */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export type Transport = 'tcp' | 'udp';

/** What export and follow need of a connection's summary: its ends, its time span, its files. */
export type ConnectionSummary = Pick<StreamSummary, 'transport' | 'id' | 'clientAddr' | 'serverAddr' | 'firstTs' | 'lastTs' | 'files'>;

/** One connection (or UDP flow) of a snapshot, with what the workspace knows of it. */
export interface ConnectionRef {
  snapshot: SnapshotMeta;
  transport: Transport;
  id: number;
  summary: ConnectionSummary;
}

/** Only the fields needed: an export of a million connections holds a million of these. */
function slim(s: StreamSummary): ConnectionSummary {
  return { transport: s.transport, id: s.id, clientAddr: s.clientAddr, serverAddr: s.serverAddr, firstTs: s.firstTs, lastTs: s.lastTs, files: s.files };
}

export function endpointText(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** The same key whichever way the packet goes (the reassembler's order: lower address first). */
function tupleKey(transport: Transport, aIp: string, aPort: number, bIp: string, bPort: number): string {
  const forward = aIp < bIp || (aIp === bIp && aPort < bPort);
  return forward ? `${transport}|${aIp}|${aPort}|${bIp}|${bPort}` : `${transport}|${bIp}|${bPort}|${aIp}|${aPort}`;
}

function summaryKey(s: ConnectionSummary): string {
  return tupleKey(s.transport, s.clientAddr.ip, s.clientAddr.port, s.serverAddr.ip, s.serverAddr.port);
}

/** A connection by its snapshot, transport and id; NotFoundError when the workspace has no record of it. */
export function connectionRef(ws: Workspace, snapshot: SnapshotMeta, transport: Transport, id: number): ConnectionRef & { summary: StreamSummary } {
  const summary = ws.getStream(snapshot.id, transport, id);
  if (!summary) {
    throw new NotFoundError(`snapshot ${snapshot.id} has no ${transport} ${transport === 'tcp' ? 'connection' : 'flow'} ${id}`
      + ' (snapshots imported before podcap recorded connections must be imported again)');
  }
  return { snapshot, transport, id, summary };
}

// ---------------------------------------------------------------------------------------------
// Which transactions

export interface TransactionSelection {
  /** A KFL2 filter; every transaction when empty. */
  filter?: string;
  /** Transaction ids instead of a filter. */
  ids?: string[];
  /** Snapshot ids or names the filter looks in (all when absent). */
  snapshots?: string[];
}

export interface SelectedTransactions {
  transactions: number;
  connections: ConnectionRef[];
  /** Records the filter could not evaluate (they did not match). */
  evaluationErrors: number;
  lastEvaluationError: string | null;
  notes: string[];
}

const PAGE = 1000;

/** The transactions asked for (every page of the filter's matches, or the ids given) and their connections. */
export function selectTransactions(ws: Workspace, sel: TransactionSelection): SelectedTransactions {
  const conns = new Map<string, ConnectionRef>();
  const notes: string[] = [];
  const snaps = new Map<string, SnapshotMeta>();
  let transactions = 0;
  let evaluationErrors = 0;
  let lastEvaluationError: string | null = null;
  const add = (rec: TransactionRecord): void => {
    transactions++;
    const key = `${rec.snapshot}|${rec.stream.transport}|${rec.stream.id}`;
    if (conns.has(key)) return;
    let meta = snaps.get(rec.snapshot);
    if (!meta) {
      meta = ws.resolveSnapshot(rec.snapshot);
      snaps.set(rec.snapshot, meta);
    }
    const summary = ws.getStream(rec.snapshot, rec.stream.transport, rec.stream.id);
    if (!summary) {
      notes.push(`${rec.id}: its ${rec.stream.transport} connection ${rec.stream.id} is not recorded in the workspace (import the snapshot again): left out`);
      return;
    }
    conns.set(key, { snapshot: meta, transport: rec.stream.transport, id: rec.stream.id, summary: slim(summary) });
  };
  if (sel.ids && sel.ids.length > 0) {
    const allowed = sel.snapshots && sel.snapshots.length > 0 ? new Set(selectSnapshots(ws, sel.snapshots).map((s) => s.id)) : null;
    for (const id of sel.ids) {
      const ref = parseTxId(id);
      const rec = ref ? ws.getRecord(ref.snapshot, ref.seq) : null;
      if (!rec || (allowed && !allowed.has(rec.snapshot))) throw new NotFoundError(`no transaction "${id}"`);
      add(rec);
    }
  } else {
    let cursor: string | null = null;
    do {
      const page = listCalls(ws, { filter: sel.filter ?? '', snapshots: sel.snapshots, limit: PAGE, cursor });
      for (const rec of page.calls) add(rec);
      evaluationErrors += page.evaluationErrors;
      lastEvaluationError = page.lastEvaluationError ?? lastEvaluationError;
      cursor = page.nextCursor;
    } while (cursor);
  }
  return { transactions, connections: [...conns.values()], evaluationErrors, lastEvaluationError, notes };
}

// ---------------------------------------------------------------------------------------------
// Reading the snapshot's sources again

/** A source to read, with the file index packets carry and a tag telling whose it is. */
export interface SourceEntry {
  source: CaptureSource;
  fileIndex: number;
  tag: number;
}

/** Throws CaptureError naming the first source whose file is no longer where the snapshot says. */
export async function checkSourcesPresent(snapshot: SnapshotMeta, indexes: number[]): Promise<void> {
  for (const i of indexes) {
    const src = snapshot.sources[i];
    if (!src) throw new CaptureError(`snapshot ${snapshot.id} has no capture file ${i}`, String(i));
    const loc = src.location;
    const path = loc.kind === 'file' ? loc.path : loc.archive;
    let ok = false;
    let why = '';
    try {
      ok = (await stat(path)).isFile();
      if (!ok) why = 'not a file';
    } catch (e) {
      why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    if (!ok) {
      const what = loc.kind === 'file' ? `capture file ${path}` : `archive ${path} (holding ${loc.member})`;
      throw new CaptureError(`${what} of snapshot ${snapshot.id} is no longer there (${why}): it was moved or deleted since the import`, path);
    }
  }
}

/** One source in export's merge, with the entry that says how it sorts. */
class Cursor extends SourceCursor {
  constructor(readonly entry: SourceEntry) {
    super(entry.fileIndex, entry.source);
  }
}

const EMPTY = Buffer.alloc(0);

function before(a: Cursor, b: Cursor): boolean {
  const ta = a.ts[a.pos];
  const tb = b.ts[b.pos];
  if (ta !== tb) return ta < tb;
  return a.entry.tag !== b.entry.tag ? a.entry.tag < b.entry.tag : a.entry.fileIndex < b.entry.fileIndex;
}

/**
 * Reads the sources as one stream in time order (ties: lower tag, then lower file index, as
 * import's merge orders them), calling sink with a reused Packet valid only during the call.
 * `pace` is awaited before each new chunk is read: the writer's backpressure reaches the
 * reading there. A source is opened only when the merge reaches its first packet's time.
 * Returns each source's report, in the order of `entries`.
 */
export async function readSources(
  entries: SourceEntry[],
  sink: (p: Packet, tag: number) => void,
  pace?: () => Promise<void> | void,
): Promise<CaptureFileReport[]> {
  const cursors = entries.map((e) => new Cursor(e));
  const reports = new Array<CaptureFileReport>(entries.length);
  const live: Cursor[] = [];
  const pending = cursors
    .filter((c) => c.entry.source.firstTs !== null)
    .sort((a, b) => (a.entry.source.firstTs as number) - (b.entry.source.firstTs as number));
  let next = 0;
  const open = new Set<Cursor>();
  const finish = async (c: Cursor): Promise<void> => {
    open.delete(c);
    reports[cursors.indexOf(c)] = await c.finish();
  };
  const start = async (c: Cursor): Promise<void> => {
    open.add(c);
    if (await c.open()) live.push(c);
    else await finish(c);
  };
  const out: Packet = { fileIndex: 0, offset: 0, ts: 0, linkType: 0, ifIndex: 0, data: EMPTY, origLen: 0 };
  try {
    for (const c of cursors) if (c.entry.source.firstTs === null) await start(c);
    for (;;) {
      let top: Cursor | undefined;
      for (const c of live) if (top === undefined || before(c, top)) top = c;
      while (next < pending.length && (top === undefined || (pending[next].entry.source.firstTs as number) <= top.ts[top.pos])) {
        await start(pending[next++]);
        top = undefined;
        for (const c of live) if (top === undefined || before(c, top)) top = c;
      }
      if (top === undefined) break;
      const i = top.pos;
      out.fileIndex = top.entry.fileIndex;
      out.offset = top.offset[i];
      out.ts = top.ts[i];
      out.linkType = top.linkType[i];
      out.ifIndex = top.ifIndex[i];
      out.origLen = top.origLen[i];
      out.data = top.data[i];
      sink(out, top.entry.tag);
      top.pos++;
      if (top.pos >= top.count) {
        if (pace) await pace();
        if (!(await top.fill())) {
          live.splice(live.indexOf(top), 1);
          await finish(top);
        }
      }
    }
  } catch (err) {
    for (const c of open) await c.close();
    throw err;
  }
  return reports;
}

/** Throws CaptureError when a file read again is not the file imported (other packets, other times). */
function checkUnchanged(snapshot: SnapshotMeta, fileIndex: number, now: CaptureFileReport): void {
  const then = snapshot.files[fileIndex];
  if (!then) return;
  if (now.packets !== then.packets || now.firstTs !== then.firstTs || now.lastTs !== then.lastTs) {
    const name = snapshot.sources[fileIndex]?.name ?? now.path;
    throw new CaptureError(
      `${name} has changed since snapshot ${snapshot.id} was imported (${now.packets} packets now, ${then.packets} then): import it again`,
      name,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// IP fragments: which datagram a fragment belongs to

const VXLAN_PORTS = new Set(DEFAULT_NET_OPTIONS.vxlanPorts);
const GENEVE_PORTS = new Set(DEFAULT_NET_OPTIONS.genevePorts);
const MAX_DEPTH = DEFAULT_NET_OPTIONS.maxEncapsulation;

/**
 * The datagram an IP fragment belongs to (version, addresses, identification and, for IPv4,
 * protocol: what the decoder reassembles by), found at the first fragmented IP header of the
 * frame, outer or inside a tunnel; null when the frame is not a fragment.
 */
export function fragmentKey(linkType: number, data: Buffer, link: LinkResult = newLinkResult()): string | null {
  decodeLink(linkType, data, link);
  if (link.etherType < 0) return null;
  return ipFragmentKey(link.etherType, data, link.offset, data.length, 0, link);
}

function ipFragmentKey(etherType: number, data: Buffer, off: number, limit: number, depth: number, link: LinkResult): string | null {
  if (depth > MAX_DEPTH) return null;
  if (etherType === ETHERTYPE_IPV4) {
    if (limit - off < 20 || data[off] >> 4 !== 4) return null;
    const ihl = (data[off] & 0x0f) * 4;
    const total = data.readUInt16BE(off + 2);
    if (ihl < 20 || limit < off + ihl) return null;
    const proto = data[off + 9];
    const frag = data.readUInt16BE(off + 6);
    if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) {
      return `4/${proto}/${data.readUInt16BE(off + 4)}/${data.toString('hex', off + 12, off + 20)}`;
    }
    const end = total === 0 ? limit : Math.min(off + total, limit);
    return innerFragmentKey(proto, data, off + ihl, end, depth, link);
  }
  if (etherType === ETHERTYPE_IPV6) {
    if (limit - off < 40 || data[off] >> 4 !== 6) return null;
    const payloadLen = data.readUInt16BE(off + 4);
    const end = payloadLen === 0 ? limit : Math.min(off + 40 + payloadLen, limit);
    let next = data[off + 6];
    let p = off + 40;
    for (;;) {
      if (next === 0 || next === 43 || next === 60) {
        if (end < p + 8) return null;
        const hend = p + (data[p + 1] + 1) * 8;
        next = data[p];
        p = hend;
      } else if (next === 51) {
        if (end < p + 12) return null;
        const hend = p + (data[p + 1] + 2) * 4;
        next = data[p];
        p = hend;
      } else if (next === 44) {
        if (end < p + 8) return null;
        const field = data.readUInt16BE(p + 2);
        if ((field & 0xfff8) !== 0 || (field & 1) !== 0) {
          return `6/${data.readUInt32BE(p + 4)}/${data.toString('hex', off + 8, off + 40)}`;
        }
        next = data[p];
        p += 8;
      } else {
        return p > end ? null : innerFragmentKey(next, data, p, end, depth, link);
      }
    }
  }
  return null;
}

function innerFragmentKey(proto: number, data: Buffer, off: number, end: number, depth: number, link: LinkResult): string | null {
  switch (proto) {
    case IPPROTO_UDP: {
      if (end < off + 16) return null;
      const dst = data.readUInt16BE(off + 2);
      const start = off + 8;
      if (VXLAN_PORTS.has(dst) && (data[start] & 0x08) !== 0) return teb(data, start + 8, end, depth, link);
      if (GENEVE_PORTS.has(dst) && data[start] >> 6 === 0) {
        const inner = start + 8 + (data[start] & 0x3f) * 4;
        const type = data.readUInt16BE(start + 2);
        return type === ETHERTYPE_TEB ? teb(data, inner, end, depth, link) : ipFragmentKey(type, data, inner, end, depth + 1, link);
      }
      return null;
    }
    case 4:
      return ipFragmentKey(ETHERTYPE_IPV4, data, off, end, depth + 1, link);
    case 41:
      return ipFragmentKey(ETHERTYPE_IPV6, data, off, end, depth + 1, link);
    case 47: {
      if (end < off + 4) return null;
      const flags = data.readUInt16BE(off);
      const type = data.readUInt16BE(off + 2);
      if ((flags & 0x0007) !== 0) return null;
      let h = off + 4;
      if ((flags & 0x8000) !== 0) h += 4;
      if ((flags & 0x2000) !== 0) h += 4;
      if ((flags & 0x1000) !== 0) h += 4;
      return type === ETHERTYPE_TEB ? teb(data, h, end, depth, link) : ipFragmentKey(type, data, h, end, depth + 1, link);
    }
    default:
      return null;
  }
}

function teb(data: Buffer, off: number, end: number, depth: number, link: LinkResult): string | null {
  decodeEthernet(data, off, end, link);
  if (link.etherType < 0) return null;
  return ipFragmentKey(link.etherType, data, link.offset, end, depth + 1, link);
}

// ---------------------------------------------------------------------------------------------
// Finding the connections' packets

/** A packet of a selected connection, handed on in time order. */
export interface ScanItem {
  conn: ConnectionRef;
  fileIndex: number;
  linkType: number;
  ifIndex: number;
  /** Packet.ts: microseconds. */
  ts: number;
  /** The frame as its file holds it: exact time and captured bytes. Valid during the call only. */
  record: OriginalRecord;
  /** The decoded packet (valid during the call only); null for an IP fragment held for its datagram. */
  decoded: DecodedPacket | null;
  /** 0: sent by the connection's client; 1: by its server. */
  dir: 0 | 1;
}

export interface ScanOptions {
  /** 'first': one copy of each packet seen in several files; 'all': every file's copy. */
  copies: 'first' | 'all';
  /** Keep the IP fragments of the connections' datagrams (export); follow needs only the datagrams. */
  fragments: boolean;
  /** Awaited before each chunk is read (the writer's backpressure). */
  pace?: () => Promise<void> | void;
}

export interface ScanStats {
  /** Packets handed on, fragments included. */
  packets: number;
  /** Of them, IP fragments that made up a selected datagram. */
  fragments: number;
  /** Copies of packets from another node's file left out ('first'). */
  duplicatesLeftOut: number;
  /** Packets whose file time could not be read exactly (see OriginalRecord.exact). */
  inexactTimestamps: number;
  /** Source files read, by name. */
  files: string[];
  /** Packets read from them. */
  packetsRead: number;
}

interface Selected {
  ref: ConnectionRef;
  key: string;
  start: number;
  /** The connection's last packet as the import counted it (late ACKs after the close come later). */
  last: number;
  /** The next connection on the same 4-tuple starts here (exclusive); Infinity while none is known. */
  end: number;
  /** Initial sequence numbers [client, server] seen in its SYNs; -1 while unknown. */
  isn: [number, number];
}

/** How long a copy from another file is looked for (clock skew between nodes plus latency). */
const COPY_WINDOW_US = 10_000_000;
/** How long a reassembled datagram's other copies (from another interface) are recognised. */
const FRAGMENT_COPY_WINDOW_US = DEFAULT_FRAGMENT_OPTIONS.duplicateWindowUs + 1_000_000;

/** A packet waiting behind a fragmented datagram not yet decided: a copy of what is handed on. */
interface Queued {
  state: 'pending' | 'ready' | 'dropped';
  conn: ConnectionRef | null;
  fileIndex: number;
  linkType: number;
  ifIndex: number;
  ts: number;
  record: OriginalRecord;
  decoded: DecodedPacket | null;
  dir: 0 | 1;
  fragment: boolean;
}

interface FragmentGroup {
  firstTs: number;
  items: Queued[];
}

/** Per snapshot: its connections by 4-tuple, its decoder and its fragment and copy bookkeeping. */
class SnapshotScan {
  readonly byKey = new Map<string, Selected[]>();
  readonly decoder = new NetDecoder();
  readonly decoded = newDecodedPacket();
  readonly link = newLinkResult();
  readonly groups = new Map<string, FragmentGroup>();
  /** Datagrams reassembled into a selected connection lately: their copies from another interface. */
  readonly recentDatagrams = new Map<string, { conn: ConnectionRef; ts: number; dir: 0 | 1; fileIndex: number }>();
  /** 'first' copies: what was written lately, to leave out another file's copy. */
  readonly written = new Map<string, { file: number; ts: number }>();
  readonly writtenOrder: Array<{ sig: string; ts: number }> = [];
  writtenHead = 0;
  readonly severalFiles = new Set<ConnectionRef>();
  /** Ports of the selected connections: most packets are passed over on these alone. */
  readonly ports = new Set<number>();
  exactEnds = false;
  constructor(readonly meta: SnapshotMeta) {}
}

/**
 * A closed connection stays in the reassembler's table for this long (capture time): until
 * then a packet on its 4-tuple is one of its late packets unless it is a new SYN.
 */
const CLOSED_RETENTION_US = 300e6;

/**
 * The exact ends of the time windows from the workspace: the first packet of the next
 * connection on each selected 4-tuple. Connection ids grow in order of first packet, so only
 * later ids are looked at; UDP flows are never split. This decodes every later connection's
 * summary, so it is only done when a packet comes too long after a selected connection's
 * close for the SYN rule to tell (see ownerOf).
 */
function exactEnds(ws: Workspace, scan: SnapshotScan): void {
  scan.exactEnds = true;
  let minTcp = Infinity;
  for (const list of scan.byKey.values()) for (const s of list) if (s.ref.transport === 'tcp') minTcp = Math.min(minTcp, s.ref.id);
  if (minTcp === Infinity) return;
  for (const { value } of ws.conns.getRange({ start: [ws.dataKey(scan.meta), 'tcp', minTcp + 1], end: [ws.dataKey(scan.meta), 'tcp', Infinity] })) {
    const list = scan.byKey.get(summaryKey(value));
    if (!list) continue;
    for (const s of list) if (value.firstTs > s.start && value.firstTs < s.end) s.end = value.firstTs;
  }
}

/**
 * The selected connection a TCP or UDP packet belongs to, if any: the latest one on its 4-tuple
 * that started at or before it, unless a later connection took the 4-tuple over. Up to the
 * connection's last packet nothing can have (the reassembler keeps one connection per 4-tuple).
 * After it, as the reassembler decides: a SYN without ACK whose sequence number is not the one
 * that side opened with starts a new connection; anything else within 5 minutes of the close
 * is a late packet of this one (retransmissions, the last ACK). Later than that the workspace
 * is asked (exactEnds).
 */
function ownerOf(ws: Workspace, scan: SnapshotScan, list: Selected[], d: DecodedPacket, ts: number): Selected | null {
  let s: Selected | null = null;
  for (const c of list) if (c.start <= ts) s = c;
  if (s === null || ts >= s.end) return null;
  if (s.ref.transport === 'udp') return s;
  const c = s.ref.summary.clientAddr;
  const dir = d.srcIp === c.ip && d.srcPort === c.port ? 0 : 1;
  const syn = (d.flags & TCP_SYN) !== 0;
  const ack = (d.flags & TCP_ACK) !== 0;
  if (ts <= s.last) {
    // Learn where each side started, as the reassembler does: the first SYN of a side, or the ack of a SYN+ACK.
    if (syn) {
      if (s.isn[dir] < 0) s.isn[dir] = d.seq;
      if (ack && s.isn[1 - dir] < 0) s.isn[1 - dir] = (d.ack - 1) >>> 0;
    }
    return s;
  }
  if (syn && !ack && s.isn[dir] !== d.seq) {
    s.end = ts;
    return null;
  }
  if (ts - s.last > CLOSED_RETENTION_US && !scan.exactEnds) {
    exactEnds(ws, scan);
    if (ts >= s.end) return null;
  }
  return s;
}

/**
 * Reads the files the connections were seen in and hands on their packets in time order.
 * Throws CaptureError when a file is gone or changed since the import.
 */
export async function scanConnections(
  ws: Workspace,
  refs: ConnectionRef[],
  opts: ScanOptions,
  sink: (item: ScanItem) => void,
): Promise<ScanStats> {
  const stats: ScanStats = { packets: 0, fragments: 0, duplicatesLeftOut: 0, inexactTimestamps: 0, files: [], packetsRead: 0 };
  const scans: SnapshotScan[] = [];
  const bySnapshot = new Map<string, SnapshotScan>();
  const entries: SourceEntry[] = [];
  const filesBySnapshot = new Map<SnapshotScan, Set<number>>();
  for (const ref of refs) {
    let scan = bySnapshot.get(ref.snapshot.id);
    if (!scan) {
      scan = new SnapshotScan(ref.snapshot);
      bySnapshot.set(ref.snapshot.id, scan);
      scans.push(scan);
      filesBySnapshot.set(scan, new Set());
    }
    const key = summaryKey(ref.summary);
    const list = scan.byKey.get(key) ?? [];
    list.push({ ref, key, start: ref.summary.firstTs, last: ref.summary.lastTs, end: Infinity, isn: [-1, -1] });
    scan.byKey.set(key, list);
    scan.ports.add(ref.summary.clientAddr.port);
    scan.ports.add(ref.summary.serverAddr.port);
    if (ref.summary.files.length > 1) scan.severalFiles.add(ref);
    for (const f of ref.summary.files) filesBySnapshot.get(scan)?.add(f);
  }
  for (const [tag, scan] of scans.entries()) {
    for (const list of scan.byKey.values()) list.sort((a, b) => a.start - b.start);
    const files = [...(filesBySnapshot.get(scan) ?? [])].sort((a, b) => a - b);
    await checkSourcesPresent(scan.meta, files);
    for (const f of files) {
      entries.push({ source: scan.meta.sources[f], fileIndex: f, tag });
      stats.files.push(scan.meta.sources[f].name);
    }
  }

  // Packets behind an undecided fragmented datagram wait here, in time order.
  const queue: Queued[] = [];
  let head = 0;
  const emit = (q: Queued | ScanItem): void => {
    stats.packets++;
    if (!q.record.exact) stats.inexactTimestamps++;
    sink(q as ScanItem);
  };
  const flush = (): void => {
    while (head < queue.length && queue[head].state !== 'pending') {
      const q = queue[head++];
      if (q.state === 'ready') emit(q);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head > 4096) {
      queue.splice(0, head);
      head = 0;
    }
  };
  const copyItem = (item: Omit<Queued, 'state' | 'fragment'>, state: Queued['state'], fragment: boolean): Queued => {
    const data = Buffer.from(item.record.data);
    let decoded: DecodedPacket | null = null;
    if (item.decoded) decoded = { ...item.decoded, payload: Buffer.from(item.decoded.payload) };
    return { ...item, record: { ...item.record, data }, decoded, state, fragment };
  };
  /** Hands a packet on now, or queues it behind a pending datagram. */
  const deliver = (item: ScanItem): void => {
    if (queue.length === head) emit(item);
    else queue.push(copyItem(item, 'ready', false));
  };
  const expireGroups = (scan: SnapshotScan, ts: number): void => {
    if (scan.groups.size === 0) return;
    let changed = false;
    for (const [key, g] of scan.groups) {
      if (ts - g.firstTs <= DEFAULT_FRAGMENT_OPTIONS.timeoutUs) break;
      for (const q of g.items) q.state = 'dropped';
      scan.groups.delete(key);
      changed = true;
    }
    if (changed) flush();
  };

  const pruneRecent = (scan: SnapshotScan, ts: number): void => {
    for (const [k, r] of scan.recentDatagrams) {
      if (ts - r.ts <= FRAGMENT_COPY_WINDOW_US) break;
      scan.recentDatagrams.delete(k);
    }
  };

  /** 'first' copies: whether this packet is another file's copy of one already handed on. */
  const isCopy = (scan: SnapshotScan, sel: Selected, d: DecodedPacket, dir: 0 | 1, ts: number, file: number): boolean => {
    if (opts.copies === 'all' || !scan.severalFiles.has(sel.ref)) return false;
    const order = scan.writtenOrder;
    while (scan.writtenHead < order.length && ts - order[scan.writtenHead].ts > COPY_WINDOW_US) {
      const old = order[scan.writtenHead++];
      const w = scan.written.get(old.sig);
      if (w && w.ts === old.ts) scan.written.delete(old.sig);
    }
    if (scan.writtenHead > 65536) {
      order.splice(0, scan.writtenHead);
      scan.writtenHead = 0;
    }
    const sig = d.protocol === IPPROTO_TCP
      ? `${sel.ref.id}|t|${dir}|${d.seq}|${d.ack}|${d.flags}|${d.window}|${d.payload.length}`
      : `${sel.ref.id}|u|${dir}|${d.payload.length}|${d.payload.toString('hex', 0, Math.min(64, d.payload.length))}`;
    const seen = scan.written.get(sig);
    if (seen && seen.file !== file && Math.abs(ts - seen.ts) <= COPY_WINDOW_US) return true;
    if (!seen || seen.file === file) {
      scan.written.set(sig, { file, ts });
      order.push({ sig, ts });
    }
    return false;
  };

  const onPacket = (p: Packet, tag: number): void => {
    stats.packetsRead++;
    const scan = scans[tag];
    const d = scan.decoded;
    const fragStats = scan.decoder.stats.fragments;
    const completedBefore = fragStats.reassembledDatagrams;
    scan.decoder.decode(p.linkType, p.data, p.ts, d, p.origLen);
    if (opts.fragments) expireGroups(scan, p.ts);
    const file = scan.meta.files[p.fileIndex];
    if (d.outcome === 'ok' && (d.protocol === IPPROTO_TCP || d.protocol === IPPROTO_UDP)) {
      const completed = fragStats.reassembledDatagrams > completedBefore;
      const transport: Transport = d.protocol === IPPROTO_TCP ? 'tcp' : 'udp';
      const list = scan.ports.has(d.srcPort) && scan.ports.has(d.dstPort)
        ? scan.byKey.get(tupleKey(transport, d.srcIp, d.srcPort, d.dstIp, d.dstPort))
        : undefined;
      const sel = list ? ownerOf(ws, scan, list, d, p.ts) : null;
      let dir: 0 | 1 = 0;
      if (sel) {
        const c = sel.ref.summary.clientAddr;
        dir = d.srcIp === c.ip && d.srcPort === c.port ? 0 : 1;
      }
      if (completed && opts.fragments) {
        // This frame completed a fragmented datagram: its held fragments go with it, or not at all.
        const key = fragmentKey(p.linkType, p.data, scan.link);
        const group = key ? scan.groups.get(key) : undefined;
        if (key && group) {
          scan.groups.delete(key);
          for (const q of group.items) {
            if (sel) {
              q.state = 'ready';
              q.conn = sel.ref;
              q.dir = dir;
              stats.fragments++;
            } else q.state = 'dropped';
          }
        }
        if (key && sel) {
          // Oldest first, so that expiry can stop at the first one still recent.
          scan.recentDatagrams.delete(key);
          scan.recentDatagrams.set(key, { conn: sel.ref, ts: p.ts, dir, fileIndex: p.fileIndex });
          pruneRecent(scan, p.ts);
        }
        flush();
      }
      if (!sel) return;
      if (isCopy(scan, sel, d, dir, p.ts, p.fileIndex)) {
        stats.duplicatesLeftOut++;
        return;
      }
      deliver({ conn: sel.ref, fileIndex: p.fileIndex, linkType: p.linkType, ifIndex: p.ifIndex, ts: p.ts, record: originalRecord(p, file), decoded: d, dir });
      return;
    }
    if (!opts.fragments) return;
    if (d.outcome === 'held') {
      const key = fragmentKey(p.linkType, p.data, scan.link);
      if (!key) return;
      let group = scan.groups.get(key);
      if (!group) {
        group = { firstTs: p.ts, items: [] };
        scan.groups.set(key, group);
      }
      const q = copyItem({ conn: null, fileIndex: p.fileIndex, linkType: p.linkType, ifIndex: p.ifIndex, ts: p.ts, record: originalRecord(p, file), decoded: null, dir: 0 }, 'pending', true);
      group.items.push(q);
      queue.push(q);
      return;
    }
    if (d.outcome === 'skipped' && d.reason.startsWith('duplicate IP fragment') && scan.recentDatagrams.size > 0) {
      // Another copy of a datagram already reassembled (a second interface or node saw it).
      const key = fragmentKey(p.linkType, p.data, scan.link);
      const recent = key ? scan.recentDatagrams.get(key) : undefined;
      pruneRecent(scan, p.ts);
      if (!recent || p.ts - recent.ts > FRAGMENT_COPY_WINDOW_US) return;
      if (opts.copies === 'first' && recent.fileIndex !== p.fileIndex) {
        stats.duplicatesLeftOut++;
        return;
      }
      stats.fragments++;
      deliver({ conn: recent.conn, fileIndex: p.fileIndex, linkType: p.linkType, ifIndex: p.ifIndex, ts: p.ts, record: originalRecord(p, file), decoded: null, dir: recent.dir });
    }
  };

  const reports = await readSources(entries, onPacket, opts.pace);
  // Datagrams never completed: their fragments belong to no connection we know.
  for (const scan of scans) {
    for (const g of scan.groups.values()) for (const q of g.items) q.state = 'dropped';
    scan.groups.clear();
  }
  flush();
  for (const [i, e] of entries.entries()) checkUnchanged(scans[e.tag].meta, e.fileIndex, reports[i]);
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Export

export type ExportFormat = CaptureFormat | 'auto';

export interface ExportOptions extends TransactionSelection {
  /** The file to write (replaced when it exists; written beside it first, then renamed). */
  out: string;
  format?: ExportFormat;
  /** Keep every node's copy of a packet seen in several files. */
  allCopies?: boolean;
}

export interface ExportResult {
  out: string;
  format: CaptureFormat;
  transactions: number;
  connections: number;
  packets: number;
  /** Bytes of the file written. */
  bytes: number;
  /** IP fragments among the packets. */
  fragments: number;
  /** Another node's copies of packets left out (see allCopies). */
  duplicatesLeftOut: number;
  /** Packets whose file time could not be carried over to the nanosecond (0 for pcap and pcapng inputs). */
  inexactTimestamps: number;
  /** The capture files read again. */
  files: string[];
  /** What the filter could not evaluate, and other remarks. */
  notes: string[];
}

/** The interfaces that carried packets in the files read, as the writer needs them. */
interface InterfaceUse {
  linkTypes: Set<number>;
  nanos: boolean;
  snapLen: number;
  fcsLength: number;
}

function interfaceUse(refs: ConnectionRef[]): InterfaceUse {
  const use: InterfaceUse = { linkTypes: new Set(), nanos: false, snapLen: 0, fcsLength: 0 };
  const seen = new Set<string>();
  for (const r of refs) {
    for (const f of r.summary.files) {
      const k = `${r.snapshot.id}/${f}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const file = r.snapshot.files[f];
      if (!file) continue;
      for (const lt of file.linkTypes) if (lt.packets > 0) use.linkTypes.add(lt.linkType);
      for (const i of file.interfaces) {
        if (i.tsUnitsPerSecond > 1e6) use.nanos = true;
        if (i.snapLen > use.snapLen) use.snapLen = i.snapLen;
        if (i.fcsLength) use.fcsLength = i.fcsLength;
      }
    }
  }
  return use;
}

function chooseFormat(asked: ExportFormat, out: string, use: InterfaceUse, notes: string[]): CaptureFormat {
  const several = use.linkTypes.size > 1;
  if (asked === 'pcap') {
    if (several) {
      throw new ExportError(`pcap holds one link type and these packets have ${use.linkTypes.size} (${[...use.linkTypes].join(', ')}): use --format pcapng`);
    }
    return 'pcap';
  }
  if (asked === 'pcapng') return 'pcapng';
  if (/\.(pcap|cap)$/i.test(out)) {
    if (!several) return 'pcap';
    notes.push(`written as pcapng, not pcap: the packets have ${use.linkTypes.size} link types (${[...use.linkTypes].join(', ')})`);
  }
  return 'pcapng';
}

/**
 * Writes the packets of the matching transactions' connections to `opts.out`. Throws
 * FilterError (bad filter), NotFoundError (unknown id or snapshot), CaptureError (a capture
 * file gone or changed since the import) or ExportError (the output cannot be written).
 */
/** `chosen`: the selection of opts when the caller made it already (it reads every matching record). */
export async function exportPackets(ws: Workspace, opts: ExportOptions, chosen = selectTransactions(ws, opts)): Promise<ExportResult> {
  const notes = [...chosen.notes];
  if (chosen.evaluationErrors > 0) {
    notes.push(`${chosen.evaluationErrors} records could not be evaluated and did not match (last: ${chosen.lastEvaluationError})`);
  }
  const refs = chosen.connections;
  const use = interfaceUse(refs);
  const format = chooseFormat(opts.format ?? 'auto', opts.out, use, notes);
  // Fail on a missing input before creating anything.
  const bySnapshot = new Map<SnapshotMeta, Set<number>>();
  for (const r of refs) {
    const set = bySnapshot.get(r.snapshot) ?? new Set<number>();
    for (const f of r.summary.files) set.add(f);
    bySnapshot.set(r.snapshot, set);
  }
  for (const [meta, files] of bySnapshot) await checkSourcesPresent(meta, [...files]);

  const dir = await outputDir(opts.out);
  const temp = join(dir, `.${basename(opts.out)}.${process.pid}.partial`);
  const linkType = use.linkTypes.size === 1 ? [...use.linkTypes][0] : (refs[0]?.snapshot.files[0]?.linkTypes[0]?.linkType ?? 1);
  let writer: CaptureWriter;
  try {
    writer = openCaptureWriter(temp, format, {
      pcap: { linkType, snapLen: use.snapLen, nanos: use.nanos, fcsLength: use.fcsLength },
      pcapng: { application: `podcap ${PODCAP_VERSION}` },
    });
  } catch (e) {
    throw new ExportError(`cannot write ${opts.out}: ${(e as Error).message}`);
  }
  const ifaces = new Map<string, number>();
  const ifaceFor = (item: ScanItem): number => {
    const key = `${item.conn.snapshot.id}/${item.fileIndex}/${item.ifIndex}`;
    let id = ifaces.get(key);
    if (id === undefined) {
      const file = item.conn.snapshot.files[item.fileIndex];
      const src = file?.interfaces[item.ifIndex];
      const name = item.conn.snapshot.sources[item.fileIndex]?.name ?? file?.path ?? '';
      id = writer.addInterface({
        linkType: item.linkType,
        snapLen: src?.snapLen ?? 0,
        name: src?.name ?? null,
        description: `${src?.name ? `${src.name} in ` : ''}${basename(name)} (snapshot ${item.conn.snapshot.id}, file ${item.fileIndex})`,
        fcsLength: src?.fcsLength,
      });
      ifaces.set(key, id);
    }
    return id;
  };
  let waiting = false;
  let stats: ScanStats;
  try {
    stats = await scanConnections(ws, refs, {
      copies: opts.allCopies ? 'all' : 'first',
      fragments: true,
      pace: () => {
        if (!waiting) return;
        waiting = false;
        return writer.drained();
      },
    }, (item) => {
      const rec = item.record;
      if (!writer.writePacket(ifaceFor(item), rec, rec.data, rec.origLen)) waiting = true;
    });
    await writer.close();
    await rename(temp, opts.out);
  } catch (err) {
    writer.abort();
    await rm(temp, { force: true });
    if (err instanceof Error && err.name === 'CaptureWriteError') throw new ExportError(`cannot write ${opts.out}: ${err.message}`);
    throw err;
  }
  if (writer.stats.roundedTimestamps > 0) {
    notes.push(`${writer.stats.roundedTimestamps} packets have nanosecond times that a microsecond pcap rounds down`);
  }
  if (stats.inexactTimestamps > 0) {
    notes.push(`${stats.inexactTimestamps} packets' times come from podcap's reading (within 0.25 µs), not from their files' own fields`);
  }
  return {
    out: opts.out,
    format,
    transactions: chosen.transactions,
    connections: refs.length,
    packets: writer.stats.packets,
    bytes: writer.stats.bytes,
    fragments: stats.fragments,
    duplicatesLeftOut: stats.duplicatesLeftOut,
    inexactTimestamps: stats.inexactTimestamps,
    files: stats.files,
    notes,
  };
}
