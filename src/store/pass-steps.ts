/**
 * What a dissection pass does with each transaction before it is stored, on whichever thread
 * dissects (import-worker.ts on two threads, dissectInto on one): names its ends, applies the
 * failure rules, counts it for the dissection report and the time extent, and files it in the
 * summary. One implementation for both, so that both store the same (test/import-thread.test.ts).
 */
import type { StreamSummary } from '../dissect/pipeline.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { FailurePolicy, type FailureSettings } from '../dissect/failure-policy.js';
import type { Enricher, ResolutionReport } from '../k8s/enrich.js';
import { DissectionReportBuilder, type DissectionTally } from './dissection-report.js';
import { SummaryBuilder } from './summary-builder.js';
import type { SummaryChunk, SummaryDictionaries } from './summary-format.js';

/** What a pass counted over all its transactions (structured-cloneable: it crosses between threads). */
export interface PassTally {
  transactions: number;
  /** Calls the failure rules turned failed (FailurePolicy.apply's sum). */
  failedDelta: number;
  resolution: ResolutionReport;
  dissection: DissectionTally;
  dictionaries: SummaryDictionaries;
  /** The earliest and latest record timestamps (null: no records). */
  firstTs: number | null;
  lastTs: number | null;
}

export class PassSteps {
  private readonly policy: FailurePolicy;
  private readonly dissection = new DissectionReportBuilder();
  private readonly summary: SummaryBuilder;
  private seq = 0;
  private failedDelta = 0;
  private firstTs: number | null = null;
  private lastTs: number | null = null;

  /** `onChunk` gets each summary chunk once its last row is in (the last one at finish). */
  constructor(private readonly enricher: Enricher, failed: FailureSettings, onChunk: (c: SummaryChunk) => void) {
    this.policy = new FailurePolicy(failed);
    this.summary = new SummaryBuilder(onChunk);
  }

  /**
   * The transaction named, judged by the failure rules, counted and summarised; returns its
   * sequence number. A summary chunk its arrival finished (it opens the next) has gone to
   * onChunk by then, ahead of the record.
   */
  transaction(t: DissectedTransaction): number {
    const r = t.record;
    this.enricher.apply(r);
    if (!this.policy.trivial) this.failedDelta += this.policy.apply(t);
    this.dissection.transaction(t);
    const ts = r.timestamp;
    if (this.firstTs === null || ts < this.firstTs) this.firstTs = ts;
    if (this.lastTs === null || ts > this.lastTs) this.lastTs = ts;
    this.summary.add(++this.seq, r);
    return this.seq;
  }

  stream(s: StreamSummary): void {
    this.dissection.stream(s);
  }

  /** Hands on the last summary chunk; what the pass counted. */
  finish(): PassTally {
    const dictionaries = this.summary.finish();
    return {
      transactions: this.seq, failedDelta: this.failedDelta, resolution: this.enricher.report(), dissection: this.dissection.tally(),
      dictionaries, firstTs: this.firstTs, lastTs: this.lastTs,
    };
  }
}
