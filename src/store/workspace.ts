/**
 * The LMDB workspace: snapshots, their transactions, bodies, and a time index.
 *
 * Key layout (lmdb-js ordered keys):
 *   snapshots  id                      -> SnapshotMeta
 *   tx         [snapshot, seq]         -> StoredRecord (lean: no id, no bodies; record-codec.ts's layout)
 *   truns      [snapshot, chunk]       -> (ts, seq) pairs of 4096 records, sorted (time order for listing; time-runs.ts)
 *              [snapshot, -1]          -> each run's chunk, first and last ts
 *   time       [snapshot, ts, seq]     -> null          (the time index before runs: read for snapshots that have no runs)
 *   bodies     [snapshot, seq, 0|1]    -> bytes         (0 request, 1 response)
 *   conns      [snapshot, transport, id] -> StreamSummary (each TCP connection and UDP flow)
 *   sum, post, dict                      -> the columnar summary and its indexes (summary.ts)
 *
 * A snapshot becomes visible only when its meta turns 'ready'; an import that
 * fails removes what it wrote, and one that died is swept at the next open.
 *
 * The data dbs are keyed by the snapshot's data key, not its id: `~TIME ID` for an import
 * (the id alone for one imported before that), `ID~N` after the Nth re-dissection. Re-dissection writes a new generation under a
 * new key while readers use the old, then flips the meta's dataKey in one put (one
 * LMDB transaction) and removes the old generation: a reader sees one or the other,
 * and one holding a read transaction keeps its view to the end.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { open, type Database, type Key, type RootDatabase, type Transaction } from 'lmdb';
import type { TransactionRecord } from '../dissect/record.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { SnapshotMeta } from './snapshot.js';
import { SummaryReader, SummaryWriter, type SummaryDbs } from './summary.js';
import { RunBuilder, decodeRun, mergeRuns, type RunSet } from './time-runs.js';
import { decodeRecord, encodeRecordWithBodies, inlineBody, isLayoutRecord, recordTimestamp, type StoredRecord } from './record-codec.js';
import { blockCount, blockRecord, forEachBlockRecord, isRecordBlock } from './record-block.js';
import type { BlockBody } from './import-batch.js';

export type { StoredRecord };
export type BodySide = 'request' | 'response';

interface AppendState {
  /** Appends LMDB refused so far. */
  refused: number;
  /** The last put's outcome, counted. */
  last: Promise<void> | null;
  /** Counts one put's outcome. */
  count: (ok: boolean) => void;
}

/** lmdb-js takes put options (MDB_APPEND here) where its typings have only a version number. */
type PutWithOptions = (key: [string, number], value: Buffer, options: { append: boolean }) => Promise<boolean>;
const APPEND = { append: true };

export interface ReadView {
  snapshot(id: string): SnapshotMeta | null;
  /** The snapshot's transactions in sequence order, as of the view. */
  records(meta: SnapshotMeta): TransactionRecord[];
  done(): void;
}

export function defaultWorkspaceDir(): string {
  return process.env.PODCAP_WORKSPACE ?? join(homedir(), '.podcap');
}

export function txId(snapshot: string, seq: number): string {
  return `${snapshot}-${seq}`;
}

export function parseTxId(id: string): { snapshot: string; seq: number } | null {
  const m = /^([A-Za-z0-9]+)-(\d+)$/.exec(id);
  return m ? { snapshot: m[1], seq: Number(m[2]) } : null;
}

/**
 * An import's data key: `~`, the time in base 36 and the id, which sorts after every key written
 * before it (a bare id is hex, and `~` follows every digit and letter), so that its records can
 * go in with LMDB's append (Workspace.beginAppend).
 */
export function newDataKey(id: string, now = Date.now()): string {
  return `~${now.toString(36).padStart(9, '0')}${id}`;
}

/** The key a snapshot's data is stored under (newDataKey's, or its id for one imported before it, until it is re-dissected). */
export function dataKeyOf(meta: SnapshotMeta): string {
  return meta.dataKey ?? meta.id;
}

export class SnapshotNotFound extends Error {
  constructor(ref: string, known: string[]) {
    super(known.length ? `no snapshot "${ref}" (known: ${known.join(', ')})` : `no snapshot "${ref}": the workspace has none yet (run podcap import)`);
    this.name = 'SnapshotNotFound';
  }
}

/** The truns key of a data key's run bounds (runs are under chunks 0, 1, ...). */
const RUN_BOUNDS = -1;

/** Keys removed per write transaction when a snapshot or an old generation is deleted. */
const REMOVE_BATCH = 16384;

/** A snapshot that cannot be re-dissected now: another re-dissection holds it, or it changed. */
export class SnapshotBusy extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotBusy';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Opens the workspace, runs fn on it, and closes it whatever fn does. */
export async function withWorkspace<T>(dir: string, fn: (ws: Workspace) => Promise<T> | T): Promise<T> {
  const ws = await Workspace.open(dir);
  try {
    return await fn(ws);
  } finally {
    await ws.close();
  }
}

export class Workspace {
  readonly dir: string;
  // Not readonly: reopen() replaces them. Callers read them through the workspace, never keep them.
  private root!: RootDatabase;
  snapshots!: Database<SnapshotMeta, string>;
  tx!: Database<Buffer, [string, number]>;
  /** `tx` read as msgpack: records stored before record-codec.ts's layout. */
  private txLegacy!: Database<StoredRecord, [string, number]>;
  time!: Database<null, [string, number, number]>;
  truns!: Database<Buffer, [string, number]>;
  /** Data keys whose records go in with LMDB's append (beginAppend), and what came of the appends. */
  private readonly appending = new Map<string, AppendState>();
  /** The last block of records read (recordValue); a data key's blocks never change once written. */
  private lastBlock: { key: string; first: number; count: number; value: Buffer } | null = null;
  /** The time runs being built, by data key, until commit. */
  private readonly runs = new Map<string, RunBuilder>();
  bodies!: Database<Buffer, [string, number, number]>;
  conns!: Database<StreamSummary, [string, string, number]>;
  /** One object for the workspace's life (summary writers hold it); reopen() refills it. */
  readonly summaryDbs = {} as SummaryDbs;
  /** Snapshot id → data key, as last read from the metas: spares a meta decode per record read. */
  private readonly keys = new Map<string, string>();

  private constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.openAll();
  }

  private openAll(): void {
    this.root = open({ path: join(this.dir, 'podcap.lmdb'), compression: false, mapSize: 2 ** 36 });
    this.snapshots = this.root.openDB({ name: 'snapshots' });
    this.tx = this.root.openDB({ name: 'tx', encoding: 'binary' });
    // The same records read as msgpack, for those stored before record-codec.ts: plain maps, as
    // import's analysis thread wrote them then (mapsAsObjects), or lmdb-js's own encoding.
    this.txLegacy = this.root.openDB({ name: 'tx', mapsAsObjects: true } as { name: string });
    this.time = this.root.openDB({ name: 'time' });
    this.truns = this.root.openDB({ name: 'truns', encoding: 'binary' });
    this.bodies = this.root.openDB({ name: 'bodies', encoding: 'binary' });
    this.conns = this.root.openDB({ name: 'conns' });
    this.summaryDbs.sum = this.root.openDB({ name: 'sum', encoding: 'binary' });
    this.summaryDbs.post = this.root.openDB({ name: 'post', encoding: 'binary' });
    this.summaryDbs.dict = this.root.openDB({ name: 'dict' });
  }

  /**
   * Waits for every write so far, then closes and reopens the environment. LMDB reads the pages it
   * writes to through its memory map, so a long import would otherwise keep every page of the
   * file it has written resident (counted in RSS, though the kernel can drop them); unmapping lets
   * them go. Only between writes, with no read view open: nothing may hold an iterator, a read
   * transaction or a database handle across it.
   */
  async reopen(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
    this.openAll();
  }

  static async open(dir: string = defaultWorkspaceDir()): Promise<Workspace> {
    const ws = new Workspace(resolve(dir));
    await ws.sweep();
    return ws;
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  /** Ready snapshots, oldest first. */
  listSnapshots(): SnapshotMeta[] {
    const out: SnapshotMeta[] = [];
    for (const { value } of this.snapshots.getRange()) {
      if (value.state !== 'ready') continue;
      out.push(value);
      this.keys.set(value.id, dataKeyOf(value));
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Where a snapshot's transactions, bodies, connections and summary are keyed. */
  dataKey(meta: SnapshotMeta): string {
    return dataKeyOf(meta);
  }

  /** The data key of a snapshot by id, fresh from its meta when `fresh` (after a miss: a re-dissection may have moved it). */
  private keyOf(snapshot: string, fresh = false): string {
    let key = fresh ? undefined : this.keys.get(snapshot);
    if (key === undefined) {
      const meta = this.snapshots.get(snapshot);
      key = meta ? dataKeyOf(meta) : snapshot;
      this.keys.set(snapshot, key);
    }
    return key;
  }

  /** A read that found nothing under the cached key is tried once more under the meta's current one. */
  private read<T>(snapshot: string, get: (key: string) => T | undefined): T | undefined {
    const key = this.keyOf(snapshot);
    const v = get(key);
    if (v !== undefined) return v;
    const now = this.keyOf(snapshot, true);
    return now === key ? undefined : get(now);
  }

  /** By id, by name, or by a unique id prefix. */
  resolveSnapshot(ref: string): SnapshotMeta {
    const all = this.listSnapshots();
    const exact = all.find((s) => s.id === ref) ?? all.filter((s) => s.name === ref).pop();
    if (exact) return exact;
    const prefixed = all.filter((s) => s.id.startsWith(ref));
    if (prefixed.length === 1) return prefixed[0];
    throw new SnapshotNotFound(ref, all.map((s) => (s.name ? `${s.id} (${s.name})` : s.id)));
  }

  getRecord(snapshot: string, seq: number): TransactionRecord | null {
    const r = this.read(snapshot, (k) => this.storedRecord(k, seq, this.recordValue(k, seq)));
    return r ? { id: txId(snapshot, seq), snapshot, ...r } : null;
  }

  /**
   * The stored bytes of record `seq` under data key `key`: a slice of its block (record-block.ts),
   * or its own value (written one by one, or before blocks). The block is the last entry at or
   * before the record's key. The last block read is kept: readers mostly go in sequence order.
   */
  private recordValue(key: string, seq: number): Buffer | undefined {
    const last = this.lastBlock;
    if (last !== null && last.key === key && seq >= last.first && seq < last.first + last.count) return blockRecord(last.value, seq - last.first);
    for (const { key: k, value } of this.tx.getRange({ start: [key, seq], end: [key, 0], reverse: true, limit: 1 })) {
      const first = k[1] as number;
      if (!isRecordBlock(value)) return first === seq ? value : undefined;
      const count = blockCount(value);
      if (seq >= first + count) return undefined;
      this.lastBlock = { key, first, count, value };
      return blockRecord(value, seq - first);
    }
    return undefined;
  }

  private storedRecord(key: string, seq: number, b: Buffer | undefined, transaction?: Transaction): StoredRecord | undefined {
    if (b === undefined) return undefined;
    return isLayoutRecord(b) ? decodeRecord(b) : this.txLegacy.get([key, seq], transaction ? { transaction } : undefined);
  }

  getBody(snapshot: string, seq: number, side: BodySide): Buffer | null {
    return this.read(snapshot, (k) => {
      const apart = this.bodies.get([k, seq, side === 'request' ? 0 : 1]);
      if (apart) return apart;
      // Small bodies live in their record's value (record-codec.ts INLINE_BODY_MAX).
      const rec = this.recordValue(k, seq);
      return rec && isLayoutRecord(rec) ? inlineBody(rec, side) ?? undefined : undefined;
    }) ?? null;
  }

  /** Sequence numbers of a snapshot's transactions in time order. */
  *timeOrder(snapshot: string, opts: { from?: number; to?: number; reverse?: boolean } = {}): Generator<{ ts: number; seq: number }> {
    const key = this.keyOf(snapshot, true);
    const runs = this.runSet(key);
    if (runs) {
      yield* mergeRuns(runs, opts.from ?? -Infinity, opts.to ?? Infinity, opts.reverse === true);
      return;
    }
    const lo: [string, number, number] = [key, opts.from ?? -Infinity, -1];
    const hi: [string, number, number] = [key, opts.to ?? Infinity, Infinity];
    const range = opts.reverse
      ? this.time.getKeys({ start: hi, end: lo, reverse: true })
      : this.time.getKeys({ start: lo, end: hi });
    for (const key of range) yield { ts: key[1], seq: key[2] };
  }

  /**
   * A view of the workspace frozen until done(): an LMDB read transaction, so commits made
   * meanwhile (a re-dissection's flip and sweep) stay invisible to it. For readers that span
   * several event-loop turns and must not see a snapshot change under them.
   */
  openReadView(): ReadView {
    const transaction = this.root.useReadTransaction();
    return {
      snapshot: (id) => {
        const m = this.snapshots.get(id, { transaction });
        return m && m.state === 'ready' ? m : null;
      },
      records: (meta) => {
        const key = dataKeyOf(meta);
        const out: TransactionRecord[] = [];
        const add = (seq: number, value: Buffer): void => {
          const r = this.storedRecord(key, seq, value, transaction);
          if (r) out.push({ id: txId(meta.id, seq), snapshot: meta.id, ...r });
        };
        for (const { key: k, value } of this.tx.getRange({ start: [key, 0], end: [key, Infinity], transaction })) {
          const first = k[1] as number;
          if (!isRecordBlock(value)) add(first, value);
          else forEachBlockRecord(value, (start, end, i) => add(first + i, value.subarray(start, end)));
        }
        return out;
      },
      done: () => transaction.done(),
    };
  }

  /** Start an import: the snapshot's meta is written as 'importing', invisible to readers. */
  async begin(meta: SnapshotMeta): Promise<void> {
    await this.snapshots.put(meta.id, { ...meta, state: 'importing', pid: process.pid });
  }

  write(snapshot: string, seq: number, record: StoredRecord, requestBody: Buffer | null, responseBody: Buffer | null): void {
    // Not awaited: lmdb-js batches these puts into few transactions, which is what makes import fast.
    const { bytes, inlined } = encodeRecordWithBodies(record, requestBody, responseBody);
    this.writeEncoded(snapshot, seq, bytes, inlined.request ? null : requestBody, inlined.response ? null : responseBody);
  }

  /**
   * As write(), with the record already encoded (record-codec.ts), and only the bodies the
   * encoding did not keep in the record.
   */
  writeEncoded(snapshot: string, seq: number, encoded: Buffer, requestBody: Buffer | null, responseBody: Buffer | null): void {
    this.putRecords(snapshot, seq, encoded);
    this.runOf(snapshot).add(seq, recordTimestamp(encoded));
    if (requestBody && requestBody.length > 0) void this.bodies.put([snapshot, seq, 0], requestBody);
    if (responseBody && responseBody.length > 0) void this.bodies.put([snapshot, seq, 1], responseBody);
  }

  /**
   * A block of records (record-block.ts; import encodes them), the first one `first`, and the
   * bodies its records did not keep: in one put, where import once made one per record.
   */
  writeBlock(snapshot: string, first: number, block: Buffer, bodies: BlockBody[]): void {
    this.putRecords(snapshot, first, block);
    const runs = this.runOf(snapshot);
    forEachBlockRecord(block, (start, _end, i) => runs.add(first + i, recordTimestamp(block, start)));
    for (const b of bodies) void this.bodies.put([snapshot, first + b.index, b.side], b.bytes);
  }

  private putRecords(snapshot: string, seq: number, value: Buffer): void {
    const append = this.appending.get(snapshot);
    if (append) append.last = (this.tx.put as PutWithOptions)([snapshot, seq], value, APPEND).then(append.count);
    else void this.tx.put([snapshot, seq], value);
  }

  /**
   * Records about to be written under `key`, in sequence order, go in with LMDB's append when no
   * key in tx sorts after them. LMDB then fills each page: otherwise it splits the last page in
   * half at every page's end, and records of about a kilobyte were stored on half-empty pages (a
   * 300 MB HTTP/1 capture's took 543 MB; appended, 356 MB). An append that meets a greater key
   * (another import writing at the same time) is refused by LMDB and not written, its put
   * resolving to false: endAppend tells whether any was.
   */
  beginAppend(key: string): boolean {
    for (const _ of this.tx.getKeys({ start: [key, 0], limit: 1 })) return false;
    const state: AppendState = { refused: 0, last: null, count: (ok) => { if (!ok) state.refused++; } };
    this.appending.set(key, state);
    return true;
  }

  /**
   * Whether every record written under `key` since beginAppend went in (true when it was not
   * appending). Counted from the puts' own outcomes: counting the keys instead would walk every
   * page written, and make them all resident.
   */
  async endAppend(key: string): Promise<boolean> {
    const state = this.appending.get(key);
    if (!state) return true;
    this.appending.delete(key);
    await this.tx.flushed;
    // Puts resolve in the order they were made: after the last one's outcome, every one's is in.
    await state.last;
    return state.refused === 0;
  }

  /** Everything written under a data key that is no snapshot's yet (a pass to be run again). */
  async discard(key: string): Promise<void> {
    await this.tx.flushed;
    await this.removeData(key);
  }

  /** The time runs of a data key, null for a snapshot stored before them (it has the per-record index). */
  private runSet(key: string): RunSet | null {
    const bounds = this.truns.get([key, RUN_BOUNDS]);
    if (!bounds) return null;
    return { bounds: decodeRun(bounds), load: (chunk) => decodeRun(this.truns.get([key, chunk]) ?? Buffer.alloc(0)) };
  }

  private runOf(key: string): RunBuilder {
    let b = this.runs.get(key);
    if (!b) {
      b = new RunBuilder((chunk, run) => void this.truns.put([key, chunk], run));
      this.runs.set(key, b);
    }
    return b;
  }

  /** The last, partial, time run of what was written under `key`, and the runs' bounds. */
  private finishRuns(key: string): void {
    const b = this.runs.get(key);
    if (b) {
      b.flush();
      void this.truns.put([key, RUN_BOUNDS], b.boundsValue());
    }
    this.runs.delete(key);
  }

  writeStream(snapshot: string, s: StreamSummary): void {
    void this.conns.put([snapshot, s.transport, s.id], s);
  }

  getStream(snapshot: string, transport: 'tcp' | 'udp', id: number): StreamSummary | null {
    return this.read(snapshot, (k) => this.conns.get([k, transport, id])) ?? null;
  }

  /** `key`: the data key being written (the snapshot id at import, the new generation's at re-dissection). */
  summaryWriter(key: string): SummaryWriter {
    return new SummaryWriter(this.summaryDbs, key);
  }

  summary(snapshot: SnapshotMeta): SummaryReader {
    return new SummaryReader(this.summaryDbs, dataKeyOf(snapshot), snapshot.transactions);
  }

  /** Everything written so far is on disk; then the snapshot turns visible in one put. */
  async commit(meta: SnapshotMeta): Promise<void> {
    this.finishRuns(dataKeyOf(meta));
    await this.tx.flushed;
    await this.summaryDbs.post.flushed;
    await this.snapshots.put(meta.id, { ...meta, state: 'ready', pid: null });
  }

  /** Remove a snapshot and everything under it (an aborted import, or a delete). */
  async remove(snapshot: string): Promise<void> {
    await this.tx.flushed;
    const meta = this.snapshots.get(snapshot);
    await this.snapshots.remove(snapshot);
    this.keys.delete(snapshot);
    const keys = new Set([snapshot, ...(meta ? [dataKeyOf(meta)] : []), ...(meta?.pending ? [meta.pending.key] : [])]);
    for (const k of keys) await this.removeData(k);
  }

  /**
   * Start writing a new generation of a ready snapshot's data: its key is recorded in the
   * meta (as pending, with this process) so that one that dies half-written is swept.
   */
  async beginGeneration(meta: SnapshotMeta): Promise<string> {
    const generation = (meta.generation ?? 0) + 1;
    const key = `${meta.id}~${generation}`;
    // Claimed in one write transaction against the meta as it is now: two re-dissections of one
    // snapshot would write the same generation's keys.
    const refusal = await this.snapshots.transaction(() => {
      const current = this.snapshots.get(meta.id);
      if (!current || current.state !== 'ready') return `snapshot ${meta.id} is gone`;
      if (current.pending && processAlive(current.pending.pid)) {
        return `snapshot ${meta.id} is being re-dissected already (process ${current.pending.pid}); try again when it is done`;
      }
      if (dataKeyOf(current) !== dataKeyOf(meta)) return `snapshot ${meta.id} was re-dissected meanwhile; look at it again (podcap status) first`;
      this.snapshots.putSync(meta.id, { ...current, pending: { key, pid: process.pid } });
      return null;
    });
    if (refusal) throw new SnapshotBusy(refusal);
    // Leftovers of an attempt at the same generation that died would mix in: clear them first.
    await this.removeData(key);
    return key;
  }

  /**
   * The new generation is written: flip the snapshot to it in one put (one LMDB write
   * transaction), then remove the old generation. `expected` is the data key the new one was
   * made from: if another re-dissection flipped first, this one is refused (and removed).
   */
  async commitGeneration(meta: SnapshotMeta, key: string, expected: string): Promise<void> {
    this.finishRuns(key);
    await this.tx.flushed;
    await this.summaryDbs.post.flushed;
    let old: string | null = null;
    const ok = await this.snapshots.transaction(() => {
      const current = this.snapshots.get(meta.id);
      if (!current || current.state !== 'ready' || dataKeyOf(current) !== expected) return false;
      old = dataKeyOf(current);
      this.snapshots.putSync(meta.id, { ...meta, dataKey: key, generation: Number(key.split('~')[1]), state: 'ready', pid: null, pending: null });
      return true;
    });
    if (!ok) {
      await this.removeData(key);
      throw new Error(`snapshot ${meta.id} was changed (deleted or re-dissected) while this re-dissection ran; nothing replaced`);
    }
    this.keys.set(meta.id, key);
    if (old !== null && old !== key) await this.removeData(old);
  }

  /** A re-dissection that failed: its half-written generation goes, the snapshot stays as it was. */
  async abortGeneration(snapshot: string, key: string): Promise<void> {
    await this.tx.flushed;
    await this.removeData(key);
    await this.snapshots.transaction(() => {
      const current = this.snapshots.get(snapshot);
      if (current?.pending?.key === key) this.snapshots.putSync(snapshot, { ...current, pending: null });
    });
  }

  /** Everything keyed under one data key, in every data db. */
  private async removeData(key: string): Promise<void> {
    this.runs.delete(key);
    if (this.lastBlock?.key === key) this.lastBlock = null;
    this.appending.delete(key);
    const lo = [key];
    const hi = [`${key}\u0000`];
    const { sum, post, dict } = this.summaryDbs;
    for (const db of [this.tx, this.time, this.truns, this.bodies, this.conns, sum, post, dict] as Database<unknown, Key[]>[]) {
      // In bounded transactions: one holding a large snapshot's every key would hold its pages dirty at once.
      // Whoever reads these keys is already gone (the meta no longer points at them), so no reader sees a half-removed set.
      for (let more = true; more;) {
        more = await this.root.transaction(() => {
          let n = 0;
          for (const key of db.getKeys({ start: lo, end: hi, limit: REMOVE_BATCH })) {
            db.removeSync(key);
            n++;
          }
          return n === REMOVE_BATCH;
        });
      }
    }
  }

  /** Imports that died (their process is gone) leave partial data: remove it. */
  private async sweep(): Promise<void> {
    for (const { key, value } of this.snapshots.getRange()) {
      if (value.state === 'importing' && (value.pid === null || !processAlive(value.pid))) await this.remove(key);
      else if (value.pending && !processAlive(value.pending.pid)) await this.abortGeneration(key, value.pending.key);
    }
  }
}
