/**
 * The time index, in runs: the timestamps of each 4096 consecutive records (one summary chunk's
 * rows), sorted, stored as one value. Listing in time order merges the runs. It replaced an
 * LMDB key per record ([snapshot, ts, seq] -> null), which cost as much to write as the record
 * itself: one put per 4096 records instead. Records arrive nearly in time order, so runs
 * overlap little and the merge keeps few of them open at once.
 */
import { CHUNK_ROWS, chunkOf } from './summary-format.js';

/** A run as stored: n (ts, seq) pairs as float64, sorted by ts then seq. */
function sortedPairs(ts: Float64Array, seqs: Float64Array, n: number): Float64Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => ts[a] - ts[b] || seqs[a] - seqs[b]);
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[2 * i] = ts[order[i]];
    out[2 * i + 1] = seqs[order[i]];
  }
  return out;
}

function bytesOf(f: Float64Array): Buffer {
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

export function decodeRun(b: Uint8Array): Float64Array {
  // Copied: a Float64Array needs an 8-aligned offset, which LMDB's buffer does not promise.
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return new Float64Array(ab);
}

/** Collects one data key's records into runs as they are written, in sequence order. */
export class RunBuilder {
  private readonly ts = new Float64Array(CHUNK_ROWS);
  private readonly seqs = new Float64Array(CHUNK_ROWS);
  private n = 0;
  private chunk = -1;
  /** Each finished run's chunk, first and last timestamp. */
  private readonly bounds: number[] = [];

  /** `put` stores a finished run under its chunk number. */
  constructor(private readonly put: (chunk: number, run: Buffer) => void) {}

  add(seq: number, ts: number): void {
    const chunk = chunkOf(seq);
    if (chunk !== this.chunk) {
      this.flush();
      this.chunk = chunk;
    }
    this.ts[this.n] = ts;
    this.seqs[this.n] = seq;
    this.n++;
  }

  flush(): void {
    if (this.n === 0) return;
    const pairs = sortedPairs(this.ts, this.seqs, this.n);
    this.bounds.push(this.chunk, pairs[0], pairs[pairs.length - 2]);
    this.put(this.chunk, bytesOf(pairs));
    this.n = 0;
  }

  /** The runs' bounds (chunk, first ts, last ts per run), stored beside them so that a listing opens only the runs it reaches. */
  boundsValue(): Buffer {
    return bytesOf(Float64Array.from(this.bounds));
  }
}

/** The runs of one data key: their bounds, and each run read when first needed. */
export interface RunSet {
  /** chunk, first ts, last ts, per run. */
  bounds: Float64Array;
  load(chunk: number): Float64Array;
}

/** First index of the run whose ts is >= t (n when none). */
function lowerBound(run: Float64Array, t: number): number {
  let lo = 0;
  let hi = run.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (run[2 * mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Last index + 1 of the run whose ts is <= t. */
function upperBound(run: Float64Array, t: number): number {
  let lo = 0;
  let hi = run.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (run[2 * mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Cursor {
  run: Float64Array;
  at: number;
  end: number;
}

/**
 * Every (ts, seq) of the runs within [from, to], merged in (ts, seq) order, or the reverse:
 * the order the per-record index gave. A binary heap of cursors; a run is read only once the
 * merge reaches its first (last, in reverse) timestamp, so a listing that stops early reads
 * the few runs it needed, not all of them.
 */
export function* mergeRuns(set: RunSet, from: number, to: number, reverse: boolean): Generator<{ ts: number; seq: number }> {
  const b = set.bounds;
  const order: number[] = [];
  for (let i = 0; i + 2 < b.length; i += 3) if (b[i + 2] >= from && b[i + 1] <= to) order.push(i);
  // The run that may hold the next pair soonest first: by first ts, or by last ts in reverse.
  if (reverse) order.sort((x, y) => b[y + 2] - b[x + 2]);
  else order.sort((x, y) => b[x + 1] - b[y + 1]);
  const sign = reverse ? -1 : 1;
  const heap: Cursor[] = [];
  const before = (x: Cursor, y: Cursor): boolean => {
    const d = x.run[2 * x.at] - y.run[2 * y.at] || x.run[2 * x.at + 1] - y.run[2 * y.at + 1];
    return sign * d < 0;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  let next = 0;
  for (;;) {
    // Open every run that could hold a pair before (or equal to) the heap's best.
    while (next < order.length) {
      const i = order[next];
      if (heap.length > 0) {
        const top = heap[0];
        const t = top.run[2 * top.at];
        if (reverse ? b[i + 2] < t : b[i + 1] > t) break;
      }
      next++;
      const run = set.load(b[i]);
      const lo = lowerBound(run, from);
      const hi = upperBound(run, to);
      if (lo >= hi) continue;
      heap.push(reverse ? { run, at: hi - 1, end: lo - 1 } : { run, at: lo, end: hi });
      up(heap.length - 1);
    }
    if (heap.length === 0) return;
    const c = heap[0];
    yield { ts: c.run[2 * c.at], seq: c.run[2 * c.at + 1] };
    c.at += sign;
    if (c.at === c.end) {
      const last = heap.pop()!;
      if (heap.length === 0) continue;
      heap[0] = last;
    }
    down(0);
  }
}
