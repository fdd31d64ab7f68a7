/**
 * A compact, columnar summary of every transaction, written at import beside the
 * records, so that analyses over millions of calls (stats, map, timeline, diff,
 * auth) and the common filters never decode a record:
 *
 *   sum   [snapshot, chunk]               -> columns of 4096 rows (time, latency, status, flags, ids)
 *   post  [snapshot, field, value, chunk] -> row offsets in that chunk holding that value (an index)
 *   dict  [snapshot, 'endpoint'|'edge']   -> the strings the id columns refer to
 *
 * Row r of chunk c is the transaction with sequence number c * 4096 + r + 1.
 */
import type { Database } from 'lmdb';
import { CHUNK_ROWS, decodeChunk, type EdgeKey, type EndpointKey, type IndexField, type SummaryChunk, type SummaryColumns, type SummaryDictionaries } from './summary-format.js';
import { SummaryBuilder } from './summary-builder.js';
import type { Row } from './summary-labels.js';

export * from './summary-format.js';
export { endpointKeyOf } from './summary-labels.js';

export type SummaryDb = Database<Buffer, [string, number]>;
export type PostingDb = Database<Buffer, [string, string, string | number, number]>;
export type DictDb = Database<unknown, [string, string]>;

export interface SummaryDbs {
  sum: SummaryDb;
  post: PostingDb;
  dict: DictDb;
}

/**
 * Writes a snapshot's summary: put as built elsewhere (chunk, dictionaries: import's PassSteps
 * builds it), or built here from the records (add, finish).
 */
export class SummaryWriter {
  /** Made at the first add: a writer that is only handed chunks needs none. */
  private built: SummaryBuilder | null = null;

  constructor(private readonly dbs: SummaryDbs, private readonly snapshot: string) {}

  private get builder(): SummaryBuilder {
    return (this.built ??= new SummaryBuilder((c) => this.chunk(c)));
  }

  /** Rows must come in sequence order, starting at 1. */
  add(seq: number, r: Row): void {
    this.builder.add(seq, r);
  }

  /** The last chunk and the dictionaries. */
  finish(): void {
    this.dictionaries(this.builder.finish());
  }

  chunk(c: SummaryChunk): void {
    // Not awaited: lmdb-js batches these puts with the records'.
    void this.dbs.sum.put([this.snapshot, c.chunk], c.columns);
    for (const p of c.postings) void this.dbs.post.put([this.snapshot, p.field, p.value, c.chunk], p.rows);
  }

  dictionaries(d: SummaryDictionaries): void {
    void this.dbs.dict.put([this.snapshot, 'endpoint'], d.endpoint);
    void this.dbs.dict.put([this.snapshot, 'edge'], d.edge);
  }
}

/** A snapshot's summary, read chunk by chunk. */
export class SummaryReader {
  readonly endpoints: EndpointKey[];
  readonly edges: EdgeKey[];

  constructor(private readonly dbs: SummaryDbs, readonly snapshot: string, readonly transactions: number) {
    this.endpoints = (dbs.dict.get([snapshot, 'endpoint']) as EndpointKey[] | undefined) ?? [];
    this.edges = (dbs.dict.get([snapshot, 'edge']) as EdgeKey[] | undefined) ?? [];
  }

  get chunks(): number {
    return Math.ceil(this.transactions / CHUNK_ROWS);
  }

  chunk(n: number): SummaryColumns | null {
    const b = this.dbs.sum.get([this.snapshot, n]);
    return b ? decodeChunk(b) : null;
  }

  /**
   * Rows holding any of the values of `field` in [lo, hi] (numbers or strings; a
   * string prefix with hi = prefix + '\uffff'), as a bitset over sequence numbers.
   */
  rows(field: IndexField, lo: string | number, hi: string | number, into?: Uint8Array): Uint8Array {
    const bits = into ?? new Uint8Array(Math.ceil((this.transactions + 1) / 8));
    for (const { key, value } of this.dbs.post.getRange({ start: [this.snapshot, field, lo, -1], end: [this.snapshot, field, hi, Infinity] })) {
      const v = key[2];
      if (typeof v !== typeof lo || v < lo || v > hi) continue;
      const base = key[3] * CHUNK_ROWS + 1;
      const rows = new Uint16Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
      for (let i = 0; i < rows.length; i++) {
        const seq = base + rows[i];
        bits[seq >> 3] |= 1 << (seq & 7);
      }
    }
    return bits;
  }
}
