/**
 * The import's analysis thread (see import-thread.ts): reads and dissects the captures, names the
 * endpoints, builds the summary and the dissection report's counts, and encodes each record as
 * the workspace stores it, then hands records, bodies, summary chunks and connection summaries to
 * the main thread in order, in batches. It blocks while the main thread
 * is MAX_IN_FLIGHT batches behind, so what waits between the threads stays bounded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { analyzeCaptures, type StreamSummary } from '../dissect/pipeline.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { Enricher } from '../k8s/enrich.js';
import { IdentityResolver } from '../k8s/identity.js';
import { BATCH_BYTES, BATCH_ITEMS, MAX_IN_FLIGHT, type ThreadMessage, type ThreadWorkerData } from './import-thread-protocol.js';
import { BatchWriter } from './import-batch.js';
import { PassSteps } from './pass-steps.js';

const data = workerData as ThreadWorkerData;
const port = parentPort!;
const inFlight = new Int32Array(data.inFlight);

const batch = new BatchWriter();

function post(): void {
  if (batch.items === 0) return;
  const buf = batch.take();
  for (let n = Atomics.load(inFlight, 0); n >= MAX_IN_FLIGHT; n = Atomics.load(inFlight, 0)) Atomics.wait(inFlight, 0, n, 1000);
  Atomics.add(inFlight, 0, 1);
  const m: ThreadMessage = { type: 'batch', buf };
  port.postMessage(m, [buf.buffer]);
}

/** After each item: a full batch goes. */
function pushed(): void {
  if (batch.items >= BATCH_ITEMS || batch.bytes >= BATCH_BYTES) post();
}

const steps = new PassSteps(new Enricher(data.model ? new IdentityResolver(data.model) : null), data.failed, (c) => {
  batch.chunk(c);
  pushed();
});

const sink = (t: DissectedTransaction): void => {
  // Before the record is batched: a chunk finished by its arrival (it opens the next) goes ahead of it.
  steps.transaction(t);
  // Stored exactly as encoded here, straight into the batch.
  batch.tx(t.record, t.requestBody, t.responseBody);
  pushed();
};

async function run(): Promise<void> {
  const result = await analyzeCaptures(data.sources, sink, {
    ...data.options,
    onStream: (s: StreamSummary) => {
      steps.stream(s);
      batch.stream(s);
      pushed();
    },
    onProgress: data.progress ? (n: number, file: string) => {
      batch.progress(n, file);
      pushed();
    } : undefined,
  });
  const end = steps.finish();
  batch.endBlock();
  post();
  const m: ThreadMessage = { type: 'done', result, end };
  port.postMessage(m);
}

run().catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  const path = (err as { path?: unknown }).path;
  const m: ThreadMessage = { type: 'error', name: err.name, message: err.message, stack: err.stack ?? '', path: typeof path === 'string' ? path : undefined };
  port.postMessage(m);
});
