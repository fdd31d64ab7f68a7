/**
 * Which transactions a filter selects, using the summary's indexes where the plan
 * allows and the records where it does not: in time order for listings, or row
 * by row over the summary's columns for analyses.
 */
import type { TransactionRecord } from '../dissect/record.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { CHUNK_ROWS, chunkOf, rowOf, type SummaryColumns, type SummaryReader } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import type { Filter } from './filter.js';
import { passesColumns, planFilter, type Plan } from './plan.js';

/** Below this many candidates they are sorted by time; above, the time index is walked and tested against the bitset. */
const SORT_LIMIT = 50_000;

export interface Position {
  ts: number;
  snapshot: string;
  seq: number;
}

export function comparePositions(a: Position, b: Position): number {
  return a.ts - b.ts || (a.snapshot < b.snapshot ? -1 : a.snapshot > b.snapshot ? 1 : 0) || a.seq - b.seq;
}

/** The capture's bounds over the selected snapshots: what capture_start and capture_end mean. */
export function captureBounds(snaps: SnapshotMeta[]): { captureStart: number | null; captureEnd: number | null } {
  let captureStart: number | null = null;
  let captureEnd: number | null = null;
  for (const s of snaps) {
    if (s.firstTs !== null && (captureStart === null || s.firstTs < captureStart)) captureStart = s.firstTs;
    if (s.lastTs !== null && (captureEnd === null || s.lastTs > captureEnd)) captureEnd = s.lastTs;
  }
  return { captureStart, captureEnd };
}

export function makePlan(filter: Filter, snaps: SnapshotMeta[]): Plan {
  return planFilter(filter.source, captureBounds(snaps));
}

/** Rows of one snapshot the plan's index terms allow, as a bitset over sequence numbers; null when no term applies. */
export function candidateBits(reader: SummaryReader, plan: Plan): Uint8Array | null {
  if (plan.terms.length === 0) return null;
  let acc: Uint8Array | null = null;
  for (const t of plan.terms) {
    const parts = 'all' in t ? [t.all] : t.any;
    const bits = new Uint8Array(Math.ceil((reader.transactions + 1) / 8));
    for (const term of parts) {
      if (term.range) reader.rows(term.field, term.range[0], term.range[1], bits);
      for (const v of term.values ?? []) reader.rows(term.field, v, v, bits);
    }
    if (acc === null) acc = bits;
    else for (let i = 0; i < acc.length; i++) acc[i] &= bits[i];
  }
  return acc;
}

function popcount(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let b = bits[i];
    while (b) {
      b &= b - 1;
      n++;
    }
  }
  return n;
}

function has(bits: Uint8Array, seq: number): boolean {
  return (bits[seq >> 3] & (1 << (seq & 7))) !== 0;
}

/** Columns of a snapshot's summary, loaded once per chunk. */
class ChunkCache {
  private readonly cache = new Map<number, SummaryColumns | null>();
  constructor(private readonly reader: SummaryReader) {}
  get(seq: number): { cols: SummaryColumns; row: number } | null {
    const chunk = chunkOf(seq);
    let cols = this.cache.get(chunk);
    if (cols === undefined) {
      cols = this.reader.chunk(chunk);
      this.cache.set(chunk, cols);
    }
    return cols ? { cols, row: rowOf(seq) } : null;
  }
}

/** One snapshot's candidate positions in time order (or reverse). */
function* snapshotOrder(ws: Workspace, snap: SnapshotMeta, plan: Plan, reverse: boolean, after: Position | null): Generator<Position> {
  const reader = ws.summary(snap);
  const bits = candidateBits(reader, plan);
  const from = Math.max(plan.from ?? -Infinity, after && !reverse ? after.ts : -Infinity);
  const to = Math.min(plan.to ?? Infinity, after && reverse ? after.ts : Infinity);
  if (bits && popcount(bits) <= SORT_LIMIT) {
    const cache = new ChunkCache(reader);
    const list: Position[] = [];
    for (let seq = 1; seq <= snap.transactions; seq++) {
      if (!has(bits, seq)) continue;
      const at = cache.get(seq);
      if (!at) continue;
      const ts = at.cols.ts[at.row];
      if (ts < from || ts > to || !passesColumns(plan, at.cols.elapsed[at.row])) continue;
      list.push({ ts, snapshot: snap.id, seq });
    }
    list.sort(comparePositions);
    if (reverse) list.reverse();
    yield* list;
    return;
  }
  const cache = plan.columns.length > 0 ? new ChunkCache(reader) : null;
  for (const { ts, seq } of ws.timeOrder(snap.id, { from: Number.isFinite(from) ? from : undefined, to: Number.isFinite(to) ? to : undefined, reverse })) {
    if (bits && !has(bits, seq)) continue;
    if (cache) {
      const at = cache.get(seq);
      if (at && !passesColumns(plan, at.cols.elapsed[at.row])) continue;
    }
    yield { ts, snapshot: snap.id, seq };
  }
}

/** Candidate positions across snapshots, merged in time order, after the cursor position if any. */
export function* orderedCandidates(ws: Workspace, snaps: SnapshotMeta[], plan: Plan, reverse: boolean, after: Position | null): Generator<Position> {
  const iters = snaps.map((s) => snapshotOrder(ws, s, plan, reverse, after));
  const heads: Array<Position | null> = iters.map((it) => {
    const n = it.next();
    return n.done ? null : n.value;
  });
  const sign = reverse ? -1 : 1;
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (best < 0 || sign * comparePositions(h, heads[best]!) < 0)) best = i;
    }
    if (best < 0) return;
    const pos = heads[best]!;
    const n = iters[best].next();
    heads[best] = n.done ? null : n.value;
    if (after && sign * comparePositions(pos, after) <= 0) continue;
    yield pos;
  }
}

/** A matching row, as analyses see it: its snapshot, its summary columns and row, and its record when it had to be read. */
export interface RowVisit {
  snapshot: string;
  seq: number;
  cols: SummaryColumns;
  row: number;
}

export interface ScanStats {
  /** Rows whose record was read to evaluate the filter. */
  recordsRead: number;
  /** Rows that matched. */
  matched: number;
  plan: Plan;
}

/**
 * Every row matching the filter, snapshot by snapshot in sequence order (not time
 * order: analyses aggregate). Exact plans never read a record. The visit object is
 * reused from row to row: read it during the call, keep nothing of it.
 */
export function scanRows(
  ws: Workspace,
  snaps: SnapshotMeta[],
  filter: Filter,
  visit: (v: RowVisit) => void,
): ScanStats {
  const plan = makePlan(filter, snaps);
  const stats: ScanStats = { recordsRead: 0, matched: 0, plan };
  const needsRecords = filter.source !== '' && !plan.exact;
  const v = { snapshot: '', seq: 0, cols: null as unknown as SummaryColumns, row: 0 };
  for (const snap of snaps) {
    const reader = ws.summary(snap);
    const bits = candidateBits(reader, plan);
    for (let c = 0; c < reader.chunks; c++) {
      const cols = reader.chunk(c);
      if (!cols) continue;
      const base = c * CHUNK_ROWS + 1;
      for (let row = 0; row < cols.count; row++) {
        const seq = base + row;
        if (bits && !has(bits, seq)) continue;
        const ts = cols.ts[row];
        if ((plan.from !== null && ts < plan.from) || (plan.to !== null && ts > plan.to)) continue;
        if (!passesColumns(plan, cols.elapsed[row])) continue;
        if (needsRecords) {
          const rec: TransactionRecord | null = ws.getRecord(snap.id, seq);
          stats.recordsRead++;
          if (!rec || !filter.test(rec)) continue;
        }
        stats.matched++;
        // One object for every row: visitors read it during the call and keep nothing of it.
        v.snapshot = snap.id;
        v.seq = seq;
        v.cols = cols;
        v.row = row;
        visit(v);
      }
    }
  }
  return stats;
}
