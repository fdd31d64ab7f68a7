/**
 * Import on two cores: a worker thread (import-worker.ts) reads the captures, reassembles TCP,
 * dissects, names endpoints, builds the summary, counts the dissection report and encodes each
 * record as it will be stored, while this thread only writes to LMDB what it is handed: it never
 * decodes a record. `store` is called here with each record in exactly the order a
 * single-threaded pass produces them, so sequence numbers, the summary and every count are the
 * same either way (test/import-thread.test.ts compares the two).
 *
 * A failing pass rejects with the worker's error (a CaptureError stays one); a throwing `store`
 * stops the worker.
 */
import { Worker } from 'node:worker_threads';
import { Unpackr } from 'msgpackr';
import { CaptureError, type CaptureSource } from '../capture/index.js';
import type { AnalysisOptions, AnalysisResult, StreamSummary } from '../dissect/pipeline.js';
import type { ClusterModel } from '../k8s/model.js';
import type { FailureSettings } from '../dissect/failure-policy.js';
import type { ThreadMessage, ThreadWorkerData } from './import-thread-protocol.js';
import type { PassTally } from './pass-steps.js';
import { readBatch, type BatchReader, type BlockBody } from './import-batch.js';
import type { SummaryChunk } from './summary-format.js';

const WORKER = new URL('./import-worker.js', import.meta.url);

export interface ThreadedImport {
  /** A block of records, enriched and encoded as stored (record-block.ts), and the bodies they did not keep: views of a batch. */
  store: (block: Buffer, count: number, bodies: BlockBody[]) => void;
  /** A finished summary chunk, after the records in it and before any record after them. */
  chunk: (c: SummaryChunk) => void;
  onStream: (s: StreamSummary) => void;
  /**
   * Called after each batch has been stored; the next batch waits for what it returns (the
   * analysis thread goes on meanwhile, up to MAX_IN_FLIGHT batches ahead).
   */
  betweenBatches?: () => Promise<void> | null;
}

function rebuildError(m: Extract<ThreadMessage, { type: 'error' }>): Error {
  const e = m.name === 'CaptureError' && m.path !== undefined ? new CaptureError(m.message, m.path) : new Error(m.message);
  if (m.name !== 'CaptureError') e.name = m.name;
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

export function analyzeInThread(sources: CaptureSource[], model: ClusterModel | null, failed: FailureSettings, opts: AnalysisOptions, to: ThreadedImport): Promise<ThreadedResult> {
  const inFlight = new SharedArrayBuffer(4);
  const counter = new Int32Array(inFlight);
  const { onStream: _s, onProgress: _p, collectStreams: _c, betweenChunks: _b, ...options } = opts;
  const workerData: ThreadWorkerData = { sources, options, progress: opts.onProgress !== undefined, model, failed, inFlight };
  const unpackr = new Unpackr({ useRecords: false });
  const worker = startWorker(workerData);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (e: Error | null, r?: ThreadedResult): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (e) reject(e);
      else resolve(r!);
    };
    const reader: BatchReader = {
      block: to.store,
      stream: to.onStream,
      progress: (n, file) => opts.onProgress?.(n, file),
      chunk: to.chunk,
    };
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
              Atomics.sub(counter, 0, 1);
              Atomics.notify(counter, 0);
            }
          } else if (m.type === 'done') settle(null, { result: m.result, end: m.end });
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
  });
}
