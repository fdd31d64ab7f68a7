/**
 * The import's analysis thread (see import-thread.ts): takes what the main thread's reading half
 * found (import-feed.ts) and dissects it, names the endpoints, builds the summary and the
 * dissection report's counts, and encodes each record as the workspace stores it, then hands
 * blocks of records, summary chunks and connection summaries back to the main thread in order,
 * in batches. It blocks while the main thread is MAX_IN_FLIGHT batches behind, so what waits
 * between the threads stays bounded either way.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Dissection, type StreamSummary } from '../dissect/pipeline.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { Enricher } from '../k8s/enrich.js';
import { IdentityResolver } from '../k8s/identity.js';
import { BATCH_BYTES, BATCH_ITEMS, MAX_IN_FLIGHT, type FeedMessage, type ThreadMessage, type ThreadWorkerData } from './import-thread-protocol.js';
import { BatchWriter } from './import-batch.js';
import { FeedReplay } from './import-feed.js';
import { PassSteps } from './pass-steps.js';

const data = workerData as ThreadWorkerData;
const port = parentPort!;
const inFlight = new Int32Array(data.inFlight);
const feedInFlight = new Int32Array(data.feedInFlight);

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

const dissection = new Dissection(sink, data.options, data.severalFiles, (s: StreamSummary) => {
  steps.stream(s);
  batch.stream(s);
  pushed();
});
const replay = new FeedReplay(dissection);
let failed = false;

port.on('message', (m: FeedMessage) => {
  if (failed) return;
  try {
    if (m.type === 'feed') {
      replay.play(m.buf);
      Atomics.sub(feedInFlight, 0, 1);
      Atomics.notify(feedInFlight, 0);
      return;
    }
    const counts = dissection.finish(m.udpStreams);
    const end = steps.finish();
    batch.endBlock();
    post();
    const done: ThreadMessage = { type: 'done', counts, end };
    port.postMessage(done);
  } catch (e) {
    failed = true;
    const err = e instanceof Error ? e : new Error(String(e));
    const out: ThreadMessage = { type: 'error', name: err.name, message: err.message, stack: err.stack ?? '' };
    port.postMessage(out);
  }
});
