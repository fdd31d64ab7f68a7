/**
 * The LMDB workspace: snapshots, their transactions, bodies, and a time index.
 *
 * Key layout (lmdb-js ordered keys):
 *   snapshots  id                      -> SnapshotMeta
 *   tx         [snapshot, seq]         -> StoredRecord (lean: no id, no bodies)
 *   time       [snapshot, ts, seq]     -> null          (time order for listing)
 *   bodies     [snapshot, seq, 0|1]    -> bytes         (0 request, 1 response)
 *   conns      [snapshot, transport, id] -> StreamSummary (each TCP connection and UDP flow)
 *   sum, post, dict                      -> the columnar summary and its indexes (summary.ts)
 *
 * A snapshot becomes visible only when its meta turns 'ready'; an import that
 * fails removes what it wrote, and one that died is swept at the next open.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import type { TransactionRecord } from '../dissect/record.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { SnapshotMeta } from './snapshot.js';
import { SummaryReader, SummaryWriter, type SummaryDbs } from './summary.js';

export type StoredRecord = Omit<TransactionRecord, 'id' | 'snapshot'>;
export type BodySide = 'request' | 'response';

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

export class SnapshotNotFound extends Error {
  constructor(ref: string, known: string[]) {
    super(known.length ? `no snapshot "${ref}" (known: ${known.join(', ')})` : `no snapshot "${ref}": the workspace has none yet (run podcap import)`);
    this.name = 'SnapshotNotFound';
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

export class Workspace {
  readonly dir: string;
  private readonly root: RootDatabase;
  readonly snapshots: Database<SnapshotMeta, string>;
  readonly tx: Database<StoredRecord, [string, number]>;
  readonly time: Database<null, [string, number, number]>;
  readonly bodies: Database<Buffer, [string, number, number]>;
  readonly conns: Database<StreamSummary, [string, string, number]>;
  readonly summaryDbs: SummaryDbs;

  private constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.root = open({ path: join(dir, 'podcap.lmdb'), compression: false, mapSize: 2 ** 36 });
    this.snapshots = this.root.openDB({ name: 'snapshots' });
    this.tx = this.root.openDB({ name: 'tx' });
    this.time = this.root.openDB({ name: 'time' });
    this.bodies = this.root.openDB({ name: 'bodies', encoding: 'binary' });
    this.conns = this.root.openDB({ name: 'conns' });
    this.summaryDbs = {
      sum: this.root.openDB({ name: 'sum', encoding: 'binary' }),
      post: this.root.openDB({ name: 'post', encoding: 'binary' }),
      dict: this.root.openDB({ name: 'dict' }),
    };
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
    for (const { value } of this.snapshots.getRange()) if (value.state === 'ready') out.push(value);
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
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
    const r = this.tx.get([snapshot, seq]);
    return r ? { id: txId(snapshot, seq), snapshot, ...r } : null;
  }

  getBody(snapshot: string, seq: number, side: BodySide): Buffer | null {
    return this.bodies.get([snapshot, seq, side === 'request' ? 0 : 1]) ?? null;
  }

  /** Sequence numbers of a snapshot's transactions in time order. */
  *timeOrder(snapshot: string, opts: { from?: number; to?: number; reverse?: boolean } = {}): Generator<{ ts: number; seq: number }> {
    const lo: [string, number, number] = [snapshot, opts.from ?? -Infinity, -1];
    const hi: [string, number, number] = [snapshot, opts.to ?? Infinity, Infinity];
    const range = opts.reverse
      ? this.time.getKeys({ start: hi, end: lo, reverse: true })
      : this.time.getKeys({ start: lo, end: hi });
    for (const key of range) yield { ts: key[1], seq: key[2] };
  }

  /** Start an import: the snapshot's meta is written as 'importing', invisible to readers. */
  async begin(meta: SnapshotMeta): Promise<void> {
    await this.snapshots.put(meta.id, { ...meta, state: 'importing', pid: process.pid });
  }

  write(snapshot: string, seq: number, record: StoredRecord, requestBody: Buffer | null, responseBody: Buffer | null): void {
    // Not awaited: lmdb-js batches these puts into few transactions, which is what makes import fast.
    void this.tx.put([snapshot, seq], record);
    void this.time.put([snapshot, record.timestamp, seq], null);
    if (requestBody && requestBody.length > 0) void this.bodies.put([snapshot, seq, 0], requestBody);
    if (responseBody && responseBody.length > 0) void this.bodies.put([snapshot, seq, 1], responseBody);
  }

  writeStream(snapshot: string, s: StreamSummary): void {
    void this.conns.put([snapshot, s.transport, s.id], s);
  }

  getStream(snapshot: string, transport: 'tcp' | 'udp', id: number): StreamSummary | null {
    return this.conns.get([snapshot, transport, id]) ?? null;
  }

  summaryWriter(snapshot: string): SummaryWriter {
    return new SummaryWriter(this.summaryDbs, snapshot);
  }

  summary(snapshot: SnapshotMeta): SummaryReader {
    return new SummaryReader(this.summaryDbs, snapshot.id, snapshot.transactions);
  }

  /** Everything written so far is on disk; then the snapshot turns visible in one put. */
  async commit(meta: SnapshotMeta): Promise<void> {
    await this.tx.flushed;
    await this.summaryDbs.post.flushed;
    await this.snapshots.put(meta.id, { ...meta, state: 'ready', pid: null });
  }

  /** Remove a snapshot and everything under it (an aborted import, or a delete). */
  async remove(snapshot: string): Promise<void> {
    await this.tx.flushed;
    await this.snapshots.remove(snapshot);
    const lo = [snapshot];
    const hi = [`${snapshot}\u0000`];
    const { sum, post, dict } = this.summaryDbs;
    for (const db of [this.tx, this.time, this.bodies, this.conns, sum, post, dict] as Database<unknown, Key[]>[]) {
      await this.root.transaction(() => {
        for (const key of db.getKeys({ start: lo, end: hi })) db.removeSync(key);
      });
    }
  }

  /** Imports that died (their process is gone) leave partial data: remove it. */
  private async sweep(): Promise<void> {
    for (const { key, value } of this.snapshots.getRange()) {
      if (value.state === 'importing' && (value.pid === null || !processAlive(value.pid))) await this.remove(key);
    }
  }
}
