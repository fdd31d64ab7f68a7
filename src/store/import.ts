/** Import: a pass over the capture files stored as a new snapshot, all or nothing. */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { otherBusyCores } from './cpu-load.js';
import { listCaptureSources, type CaptureSource } from '../capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures, type AnalysisOptions, type AnalysisResult, type StreamSummary } from '../dissect/pipeline.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { emptyReport } from '../dissect/report.js';
import { PODCAP_VERSION } from '../version.js';
import type { SnapshotMeta } from './snapshot.js';
import { newDataKey, type Workspace } from './workspace.js';
import type { ClusterModel } from '../k8s/model.js';
import { analyzeInThread } from './import-thread.js';
import { Enricher } from '../k8s/enrich.js';
import { IdentityResolver } from '../k8s/identity.js';
import { snapshotManifest } from './manifests.js';
import { analysisOptions, dissectionSettings, type DissectionSettings } from '../config/apply.js';
import { DEFAULT_SETTINGS } from '../config/settings.js';
import { DissectionReportBuilder } from './dissection-report.js';
import { PassSteps, type PassTally } from './pass-steps.js';
import { BatchWriter, readBatch, type BatchReader, type BlockBody } from './import-batch.js';
import { BATCH_BYTES, BATCH_ITEMS } from './import-thread-protocol.js';
import { Unpackr } from 'msgpackr';

export interface ImportOptions {
  name?: string | null;
  /** .proto directories to decode this snapshot's gRPC messages with, by default. */
  protoDirs?: string[];
  analysis?: AnalysisOptions;
  /** Manifest files or directories; without them, one found beside the captures is used. */
  manifests?: string[];
  /** podcap.yaml's settings (hints, protocols, limits, failure rules) and the file they came from; defaults without. */
  config?: { file: string | null; settings: DissectionSettings };
  /** The snapshot this one was cut out of (a bundle imported into the workspace it came from). */
  parent?: SnapshotMeta['parent'];
  /**
   * Dissect in a worker thread while this one reads the captures and writes (import-thread.ts):
   * 'auto' does so when the captures hold THREAD_MIN_BYTES or more, where the thread's start-up
   * pays off, and THREAD_MIN_IDLE_CORES cores are idle now (cpu-load.ts). With one thread, LMDB's
   * own write thread and V8's collector already keep a second core busy: on 2 cores the second
   * analysis thread was as fast or slower on every bench capture (it adds the feed between the
   * threads and a second heap to collect), so on such a machine `auto` keeps to one.
   * Default: PODCAP_IMPORT_THREAD (never, always, auto), else auto.
   */
  thread?: 'auto' | 'always' | 'never';
  /**
   * The caller holds the workspace alone (the CLI's import; not the MCP server, whose readers
   * share it): the import may then close and reopen it now and then, so that LMDB's written
   * pages stop counting as resident memory.
   */
  exclusive?: boolean;
}

/** From this many bytes of captures on, import may dissect in a worker thread. */
export const THREAD_MIN_BYTES = 32 << 20;
/** Resident memory LMDB's mapped pages may add during an import before the workspace is reopened. */
const REOPEN_RSS_BYTES = 64 << 20;
/** Growth of mapped pages since the last reopen below which another is not worth it. */
const REOPEN_MIN_GROWTH = 32 << 20;

/**
 * What of this process's resident memory maps files (LMDB's pages, and Node's own code, ~44 MB;
 * on Linux /proc's RssFile), else all of it. The trigger for reopening was once all of it, at
 * 96 MB: the JS heap grows and shrinks by as much on its own, so the pages held when it fired
 * ranged up to 160 MB and the 3 GB import peaked at 363–385 MB; on the pages alone, at 64 MB,
 * 337–357 MB, in the same time (28–30 s; 87 reopens of 8–18 ms each at 96 MB).
 */
function mappedBytes(): number {
  try {
    const m = /^RssFile:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // Not Linux: the whole resident size will do.
  }
  return process.memoryUsage.rss();
}

/**
 * When to reopen the workspace: once REOPEN_RSS_BYTES more pages are mapped than at the pass's
 * start. Counted from the start, not from the last reopen: what stays mapped just after one
 * (pages read again at once) would otherwise raise every next trigger (the 3 GB import held up
 * to 150 MB of pages with a 64 MB threshold); but only after REOPEN_MIN_GROWTH more since the
 * last, so that such pages cannot make it reopen at every check.
 */
export class ReopenTrigger {
  private after: number;
  constructor(private readonly start: number, private readonly threshold = REOPEN_RSS_BYTES, private readonly minGrowth = REOPEN_MIN_GROWTH) {
    this.after = start;
  }

  due(mapped: number): boolean {
    return mapped >= this.start + this.threshold && mapped >= this.after + this.minGrowth;
  }

  reopened(mapped: number): void {
    this.after = mapped;
  }
}

function threadMode(opt: ImportOptions['thread']): 'auto' | 'always' | 'never' {
  const v = opt ?? process.env.PODCAP_IMPORT_THREAD;
  return v === 'never' || v === 'always' ? v : 'auto';
}

/**
 * Idle cores a two-thread import wants: the reading thread, the analysis thread, and one for
 * LMDB's writer and V8's collector threads, with one to spare for the rest of the machine.
 */
const THREAD_MIN_IDLE_CORES = 4;

/** Cores to spare for a second analysis thread: other processes leave THREAD_MIN_IDLE_CORES of them idle now. */
async function spareCores(): Promise<boolean> {
  const cores = availableParallelism();
  return cores >= THREAD_MIN_IDLE_CORES && cores - (await otherBusyCores()) >= THREAD_MIN_IDLE_CORES;
}

function captureBytes(sources: CaptureSource[]): number {
  let n = 0;
  for (const s of sources) {
    if (s.location.kind === 'tar-member') n += s.location.available;
    else {
      try {
        n += statSync(s.location.path).size;
      } catch {
        // Unreadable: the pass itself reports it.
      }
    }
  }
  return n;
}

export function newSnapshotId(): string {
  return randomBytes(4).toString('hex');
}

/** How dissectInto runs its pass. */
export interface PassOptions {
  /** On two threads (import-thread.ts), naming endpoints with these Kubernetes objects (`enricher` is then not used). */
  threaded: { model: ClusterModel | null } | null;
  /** Reopen the workspace now and then to let LMDB's written pages go (only where no reader shares it). */
  reopen: boolean;
}

/** How a pass over these sources runs (on two threads or one; reopening or not): import and re-dissection decide alike. */
export async function passOptions(sources: CaptureSource[], model: ClusterModel | null, opts: Pick<ImportOptions, 'thread' | 'exclusive'>): Promise<PassOptions> {
  const mode = threadMode(opts.thread);
  const twoThreads = mode === 'always' || (mode === 'auto' && captureBytes(sources) >= THREAD_MIN_BYTES && (await spareCores()));
  return { threaded: twoThreads ? { model } : null, reopen: opts.exclusive === true };
}

/**
 * One dissection pass over the snapshot's sources with meta.config's settings, written under
 * data key `key`: fills in meta's files, report, transactions, extent, resolution and
 * dissection report. Import and re-dissection both run it. `enricher` makes the pass's
 * namer of endpoints (a fresh one for each pass).
 *
 * The records go in with LMDB's append when nothing sorts after the key (Workspace.beginAppend).
 * If another import wrote a greater key meanwhile, LMDB refused the appends after it: what was
 * written goes and the pass runs again with plain puts.
 */
export async function dissectInto(ws: Workspace, key: string, meta: SnapshotMeta, enricher: () => Enricher, base: AnalysisOptions, pass: PassOptions): Promise<void> {
  const appended = ws.beginAppend(key);
  await passInto(ws, key, meta, enricher(), base, pass);
  if (appended && !(await ws.endAppend(key))) {
    await ws.discard(key);
    await passInto(ws, key, meta, enricher(), base, pass);
  }
}

async function passInto(ws: Workspace, key: string, meta: SnapshotMeta, enricher: Enricher, base: AnalysisOptions, pass: PassOptions): Promise<void> {
  const settings = meta.config?.settings ?? dissectionSettings(DEFAULT_SETTINGS, meta.protoDirs);
  const summary = ws.summaryWriter(key);
  const analysis = analysisOptions({ ...DEFAULT_SETTINGS, ...settings }, base);
  // LMDB keeps the pages it has written mapped and resident: let them go now and then.
  const trigger = new ReopenTrigger(mappedBytes());
  let calls = 0;
  const relieve = (): Promise<void> | null => {
    if (!pass.reopen || (++calls & 3) !== 0 || !trigger.due(mappedBytes())) return null;
    return ws.reopen().then(() => trigger.reopened(mappedBytes()));
  };
  // Blocks come in sequence order, either way: each one's first record follows the last one's.
  let seq = 0;
  const storeBlock = (block: Buffer, count: number, bodies: BlockBody[]): void => {
    ws.writeBlock(key, seq + 1, block, bodies);
    seq += count;
  };
  let result: AnalysisResult;
  let end: PassTally;
  const threaded = pass.threaded;
  if (threaded) {
    // This thread reads the captures and writes; the thread dissects, summarises (PassSteps
    // there) and encodes, handing back blocks of records in sequence order.
    ({ result, end } = await analyzeInThread(meta.sources, threaded.model, settings.failed, analysis, {
      store: storeBlock,
      chunk: (c) => summary.chunk(c),
      onStream: (st) => ws.writeStream(key, st),
      betweenBatches: relieve,
    }));
  } else {
    const steps = new PassSteps(enricher, settings.failed, (c) => summary.chunk(c));
    // Records are encoded into blocks in a batch and put a batch at a time, as the two-thread import's are:
    // a put now and then, between two calls' dissection, found LMDB's write thread idle every
    // time, and waking it cost a system call and a context switch per record (520,000 futex
    // calls for dns-100m's 422,766 records).
    const batch = new BatchWriter();
    const reader: BatchReader = {
      block: storeBlock,
      stream: () => undefined,
      chunk: () => undefined,
    };
    const unpackr = new Unpackr({ useRecords: false });
    const flush = (): void => {
      if (batch.items > 0) readBatch(batch.take(), reader, unpackr);
    };
    const sink = (t: DissectedTransaction): void => {
      steps.transaction(t);
      batch.tx(t.record, t.requestBody, t.responseBody);
      if (batch.items >= BATCH_ITEMS || batch.bytes >= BATCH_BYTES) flush();
    };
    const onStream = (st: StreamSummary): void => {
      steps.stream(st);
      ws.writeStream(key, st);
    };
    result = await analyzeCaptures(meta.sources, sink, { ...analysis, onStream, betweenChunks: relieve });
    batch.endBlock();
    flush();
    end = steps.finish();
  }
  summary.dictionaries(end.dictionaries);
  meta.files = result.files;
  meta.report = result.report;
  meta.report.failed += end.failedDelta;
  meta.transactions = end.transactions;
  meta.firstTs = end.firstTs;
  meta.lastTs = end.lastTs;
  meta.resolution = end.resolution;
  meta.dissection = new DissectionReportBuilder(end.dissection).finish(result.report, result.files, meta.sources.map((s) => s.name), meta.skipped, settings.protocols);
}

export async function importSnapshot(ws: Workspace, paths: string[], opts: ImportOptions = {}): Promise<SnapshotMeta> {
  // Listing first: an input that is not a capture fails the import before anything is written.
  const listing = await listCaptureSources(paths);
  const manifest = await snapshotManifest(opts.manifests ?? [], listing.skipped);
  const resolver = manifest ? new IdentityResolver(manifest.model) : null;
  const id = newSnapshotId();
  const dataKey = newDataKey(id);
  const meta: SnapshotMeta = {
    id, dataKey, name: opts.name ?? null, createdAt: new Date().toISOString(), state: 'importing', pid: process.pid,
    protoDirs: opts.protoDirs?.length ? opts.protoDirs : opts.config?.settings.protoDirs ?? [], sources: listing.sources, files: [], skipped: listing.skipped, inputNotes: listing.notes, report: emptyReport(), transactions: 0,
    firstTs: null, lastTs: null, podcapVersion: PODCAP_VERSION,
    kubernetes: manifest && resolver
      ? { files: manifest.files, discovered: manifest.discovered, summary: resolver.summary(), backends: resolver.serviceBackends(), warnings: manifest.model.warnings.slice(0, 50).map((w) => `${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`), notes: manifest.notes }
      : null,
    resolution: null,
    ...(opts.parent ? { parent: opts.parent } : {}),
  };
  meta.config = { file: opts.config?.file ?? null, settings: opts.config?.settings ?? dissectionSettings(DEFAULT_SETTINGS, []) };
  meta.config.settings.protoDirs = meta.protoDirs;
  await ws.begin(meta);
  try {
    await dissectInto(ws, dataKey, meta, () => new Enricher(resolver), opts.analysis ?? DEFAULT_ANALYSIS_OPTIONS, await passOptions(listing.sources, manifest?.model ?? null, opts));
    await ws.commit(meta);
    return { ...meta, state: 'ready', pid: null };
  } catch (err) {
    await ws.remove(id);
    throw err;
  }
}
