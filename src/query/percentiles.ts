/**
 * Exact latency percentiles for the analyses: every latency of a group is kept
 * (8 bytes a call, in a growing Float64Array) and read by the nearest-rank
 * method: the p-th percentile of n values is the value of rank ceil(p/100 × n)
 * (1-based) in ascending order. It is always a latency that was observed, never
 * an interpolation; p100 is the maximum.
 *
 * The ranks are found by selection (Floyd–Rivest, in place), not by sorting: a million latencies take a few milliseconds where a typed
 * array sort takes a quarter of a second.
 */

export const PERCENTILE_METHOD = 'nearest-rank' as const;

/** How the analyses state their percentiles in --json. */
export const PERCENTILE_NOTE = 'nearest-rank over the calls with a response: the value of rank ceil(p/100 × n) among the n latencies (ms) in ascending order';

/** The 1-based nearest rank of the p-th percentile (0 < p <= 100) among n values. */
export function rankOf(p: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
}

/** The nearest-rank p-th percentile of ascending values; null when there are none. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  return n === 0 ? null : sorted[rankOf(p, n) - 1];
}

function insertionSort(a: Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * Rearrange a[lo..hi] so that a[k] holds the value of 0-based rank k among them, smaller
 * or equal values before it and greater or equal after: Floyd and Rivest's selection
 * (Communications of the ACM 18(3), 1975), which narrows the range around k with a
 * recursive pass over a sample first, so that about n + min(k, n − k) comparisons do.
 */
export function selectInPlace(a: Float64Array, lo: number, hi: number, k: number): void {
  let left = lo;
  let right = hi;
  while (right > left) {
    if (right - left < 24) {
      insertionSort(a, left, right);
      return;
    }
    if (right - left > 600) {
      const n = right - left + 1;
      const i = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (i - n / 2 < 0 ? -1 : 1);
      selectInPlace(a, Math.max(left, Math.floor(k - (i * s) / n + sd)), Math.min(right, Math.floor(k + ((n - i) * s) / n + sd)), k);
    }
    const t = a[k];
    let i = left;
    let j = right;
    swap(a, left, k);
    if (a[right] > t) swap(a, right, left);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while (a[i] < t) i++;
      while (a[j] > t) j--;
    }
    if (a[left] === t) swap(a, left, j);
    else {
      j++;
      swap(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** A growing list of numbers (latencies in ms). */
export class Samples {
  private buf: Float64Array;
  private n = 0;
  private sorted = true;
  private top = -Infinity;

  constructor(capacity = 16) {
    this.buf = new Float64Array(Math.max(1, capacity));
  }

  get length(): number {
    return this.n;
  }

  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    if (v < this.top) this.sorted = false;
    else this.top = v;
    this.buf[this.n++] = v;
  }

  /** The values in no particular order (a view). */
  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }

  /** All the values of several lists, as one. */
  static concat(lists: Samples[]): Samples {
    const total = lists.reduce((a, l) => a + l.n, 0);
    const out = new Samples(total);
    let off = 0;
    for (const l of lists) {
      out.buf.set(l.values(), off);
      off += l.n;
      if (l.n && l.top > out.top) out.top = l.top;
    }
    out.n = total;
    out.sorted = lists.filter((l) => l.n > 0).length <= 1 && lists.every((l) => l.sorted);
    return out;
  }

  get max(): number | null {
    return this.n ? this.top : null;
  }

  /**
   * Nearest-rank percentiles (each 0 < p <= 100), in the order asked; null for each when
   * empty. Reorders the values in place (they stay the same multiset).
   */
  percentiles(ps: number[]): Array<number | null> {
    const n = this.n;
    if (n === 0) return ps.map(() => null);
    const a = this.buf;
    const ranks = ps.map((p) => rankOf(p, n) - 1);
    if (!this.sorted) {
      // Ascending ranks: after selecting rank k, the greater ranks lie in [k + 1, n - 1].
      let lo = 0;
      for (const k of [...new Set(ranks)].sort((x, y) => x - y)) {
        selectInPlace(a, lo, n - 1, k);
        lo = k + 1;
      }
    }
    return ranks.map((k) => a[k]);
  }

  percentile(p: number): number | null {
    return this.percentiles([p])[0];
  }

  /** The values in ascending order (sorted in place; a view, not a copy). */
  sortedValues(): Float64Array {
    const view = this.buf.subarray(0, this.n);
    if (!this.sorted) {
      view.sort();
      this.sorted = true;
    }
    return view;
  }
}

export interface LatencySummary {
  /** Calls with a response: how many latencies the percentiles are over. */
  n: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export function summarize(s: Samples): LatencySummary {
  const [p50, p90, p95, p99] = s.percentiles([50, 90, 95, 99]);
  return { n: s.length, p50, p90, p95, p99, max: s.max };
}

/** A latency in milliseconds as every surface prints it: 3 significant digits or so, '-' without one. */
export function ms(v: number | null): string {
  if (v === null) return '-';
  return v >= 100 ? `${v.toFixed(0)}ms` : v >= 10 ? `${v.toFixed(1)}ms` : `${v.toFixed(2)}ms`;
}
