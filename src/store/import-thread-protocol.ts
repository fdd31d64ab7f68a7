/** What the import's analysis thread and the main thread say to each other (import-thread.ts, import-worker.ts). */
import type { FailureSettings } from '../dissect/failure-policy.js';
import type { AnalysisOptions, DissectionCounts, StreamSummary } from '../dissect/pipeline.js';
import type { ClusterModel } from '../k8s/model.js';
import type { PassTally } from './pass-steps.js';

/** Items in a batch (import-batch.ts frames them), in the order the pipeline produced them. A block of records (record-block.ts) and the bodies they did not keep. */
export const ITEM_BLOCK = 0;
export const ITEM_STREAM = 1;
/** A finished summary chunk (SummaryChunk). */
export const ITEM_CHUNK = 3;

/** A batch is sent at this many items or about this many bytes, whichever comes first. */
export const BATCH_ITEMS = 512;
export const BATCH_BYTES = 1 << 20;
/** Batches sent and not yet stored by the main thread before the analysis thread waits. */
export const MAX_IN_FLIGHT = 4;
/** Feed batches (import-feed.ts) sent and not yet dissected before the main thread's reading waits. */
export const MAX_FEED_IN_FLIGHT = 4;

export interface ThreadWorkerData {
  /** The pass's options without its callbacks. */
  options: Omit<AnalysisOptions, 'onStream' | 'onProgress' | 'collectStreams' | 'betweenChunks'>;
  /** The pass reads more than one capture file. */
  severalFiles: boolean;
  /** The snapshot's Kubernetes objects, to name endpoints with (null: none). */
  model: ClusterModel | null;
  /** podcap.yaml's failure rules, applied after naming (FailurePolicy). */
  failed: FailureSettings;
  /** One Int32: record batches in flight (to the main thread). */
  inFlight: SharedArrayBuffer;
  /** One Int32: feed batches in flight (to the analysis thread). */
  feedInFlight: SharedArrayBuffer;
}

/** To the analysis thread: the reading half's findings, then its end. */
export type FeedMessage =
  | { type: 'feed'; buf: Uint8Array }
  | { type: 'finish'; udpStreams: StreamSummary[] };

/** From the analysis thread. */
export type ThreadMessage =
  | { type: 'batch'; buf: Uint8Array }
  | { type: 'done'; counts: DissectionCounts; end: PassTally }
  | { type: 'error'; name: string; message: string; stack: string };
