/**
 * Import on two cores: this thread reads the captures, decodes the packets, reassembles TCP and
 * tracks UDP (readPass) and feeds what it finds to a worker thread (import-feed.ts), which
 * dissects, names endpoints, builds the summary, counts the dissection report and encodes each
 * record as it will be stored; this thread then writes to LMDB what it is handed: it never
 * decodes a record. The thread dissects exactly what, and in exactly the order, a one-thread
 * pass does, and `store` is called with the blocks that pass stores: sequence numbers, the
 * summary and every count are the same either way (test/import-thread.test.ts compares the two).
 *
 * A failing pass rejects with its error (a CaptureError from the reading, on this thread, stays one); a throwing
 * `store` stops the worker.
 */
import { Worker } from 'node:worker_threads';
import { Unpackr } from 'msgpackr';
import type { CaptureSource } from '../capture/index.js';
import { readPass, withDissection, type AnalysisOptions, type AnalysisResult, type DissectionCounts, type ReadResult, type StreamSummary } from '../dissect/pipeline.js';
import type { ClusterModel } from '../k8s/model.js';
import type { FailureSettings } from '../dissect/failure-policy.js';
import { MAX_FEED_IN_FLIGHT, type FeedMessage, type ThreadMessage, type ThreadWorkerData } from './import-thread-protocol.js';
import { FeedWriter } from './import-feed.js';
import type { PassTally } from './pass-steps.js';
import { readBatch, type BatchReader, type BlockBody } from './import-batch.js';
import type { SummaryChunk } from './summary-format.js';

const WORKER = new URL('./import-worker.js', import.meta.url);

/** Atomics.waitAsync (Node 16 on), which the ES2022 library's typings do not have. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeout: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

export interface ThreadedImport {
  /** A block of records, enriched and encoded as stored (record-block.ts), and the bodies they did not keep: views of a batch. */
  store: (block: Buffer, count: number, bodies: BlockBody[]) => void;
  /** A finished summary chunk (after the records in it; records after it may come first, behind an open block). */
  chunk: (c: SummaryChunk) => void;
  onStream: (s: StreamSummary) => void;
  /**
   * Called after each batch has been stored; the next batch waits for what it returns (the
   * analysis thread goes on meanwhile, up to MAX_IN_FLIGHT batches ahead).
   */
  betweenBatches?: () => Promise<void> | null;
}

function rebuildError(m: Extract<ThreadMessage, { type: 'error' }>): Error {
  const e = new Error(m.message);
  e.name = m.name;
  e.stack = m.stack;
  return e;
}

export interface ThreadedResult {
  result: AnalysisResult;
  /** What the thread counted over the pass (pass-steps.ts). */
  end: PassTally;
}

/**
 * The thread runs a module of its own: flags about the main script's source (-e, --input-type) do
 * not apply. Node refuses a worker some flags it was started with (V8's, such as
 * --max-semi-space-size, which are process-wide and reach the thread anyway): the thread then
 * starts with none of them rather than the import failing.
 */
function startWorker(workerData: ThreadWorkerData): Worker {
  const execArgv = process.execArgv.filter((a, i, all) => !/^(-e|-p|--eval|--print|--input-type)(=|$)/.test(a) && !/^(-e|-p|--eval|--print)$/.test(all[i - 1] ?? ''));
  try {
    return new Worker(WORKER, { workerData, execArgv });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(WORKER, { workerData, execArgv: [] });
  }
}

export async function analyzeInThread(sources: CaptureSource[], model: ClusterModel | null, failed: FailureSettings, opts: AnalysisOptions, to: ThreadedImport): Promise<ThreadedResult> {
  const started = Date.now();
  const records = new Int32Array(new SharedArrayBuffer(4));
  const feeding = new Int32Array(new SharedArrayBuffer(4));
  const { onStream: _s, onProgress, collectStreams: _c, betweenChunks: _b, ...options } = opts;
  const workerData: ThreadWorkerData = { options, severalFiles: sources.length > 1, model, failed, inFlight: records.buffer, feedInFlight: feeding.buffer };
  const unpackr = new Unpackr({ useRecords: false });
  const worker = startWorker(workerData);
  /** The first failure on either side; the other side stops at it. */
  let failure: Error | null = null;
  /** Ends the pass from this side (the reading failed): the worker goes. */
  let stop: (e: Error) => void = () => undefined;
  const done = new Promise<{ counts: DissectionCounts; end: PassTally }>((resolve, reject) => {
    let settled = false;
    const settle = (e: Error | null, r?: { counts: DissectionCounts; end: PassTally }): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (e) {
        failure ??= e;
        reject(e);
      } else resolve(r!);
    };
    const reader: BatchReader = { block: to.store, stream: to.onStream, chunk: to.chunk };
    const batch = (buf: Uint8Array): void => readBatch(buf, reader, unpackr);
    // Messages are handled one at a time, in order, even while betweenBatches makes one wait.
    const queue: ThreadMessage[] = [];
    let pumping = false;
    const pump = async (): Promise<void> => {
      pumping = true;
      try {
        while (queue.length > 0 && !settled) {
          const m = queue.shift()!;
          if (m.type === 'batch') {
            try {
              batch(m.buf);
              const wait = to.betweenBatches?.();
              if (wait) await wait;
            } finally {
              Atomics.sub(records, 0, 1);
              Atomics.notify(records, 0);
            }
          } else if (m.type === 'done') settle(null, { counts: m.counts, end: m.end });
          else settle(rebuildError(m));
        }
      } catch (e) {
        settle(e instanceof Error ? e : new Error(String(e)));
      } finally {
        pumping = false;
      }
    };
    worker.on('message', (m: ThreadMessage) => {
      queue.push(m);
      if (!pumping) void pump();
    });
    worker.on('error', (e) => settle(e));
    worker.on('exit', (code) => {
      // 'done' may still be queued behind a waiting batch: the pump settles then.
      if (!pumping && queue.length === 0) settle(new Error(`the analysis thread stopped (exit code ${code}) before it finished`));
    });
    stop = (e) => settle(e);
  });
  // Seen by whoever awaits it, or by the reading half through `failure`: never unhandled.
  done.catch(() => undefined);
  const send = (buf: Uint8Array<ArrayBuffer>): void => {
    Atomics.add(feeding, 0, 1);
    const m: FeedMessage = { type: 'feed', buf };
    worker.postMessage(m, [buf.buffer]);
  };
  const feed = new FeedWriter(send);
  // Between chunks of capture: the reading waits while the thread is MAX_FEED_IN_FLIGHT batches behind, and stops at its failure.
  const between = async (): Promise<void> => {
    for (;;) {
      if (failure) throw failure;
      const n = Atomics.load(feeding, 0);
      if (n < MAX_FEED_IN_FLIGHT) return;
      const w = waitAsync(feeding, 0, n, 1000);
      if (w.async) await w.value;
    }
  };
  let read: ReadResult;
  try {
    read = await readPass(sources, feed, { ...options, onProgress, betweenChunks: between }, true);
    const last = feed.take();
    if (last) send(last);
    const finish: FeedMessage = { type: 'finish', udpStreams: read.udpStreams };
    worker.postMessage(finish);
  } catch (e) {
    const err = failure ?? (e instanceof Error ? e : new Error(String(e)));
    stop(err);
    throw err;
  }
  const { counts, end } = await done;
  const report = withDissection(read.report, counts);
  report.durationMs = Date.now() - started;
  return { result: { report, files: read.files }, end };
}
