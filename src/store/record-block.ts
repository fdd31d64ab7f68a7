/**
 * Records stored a block at a time: one `tx` value holds up to BLOCK_RECORDS consecutive records
 * (record-codec.ts layout each), keyed by the first one's sequence number. A put per record cost
 * an import more than anything else it did outside dissection: lmdb-js's key encoding, a promise
 * per put, and LMDB's own B-tree work for each of hundreds of thousands of small values on the
 * thread that writes; and records of a kilobyte left a tenth of every page empty. A reader of
 * one record reads its block (a few tens of kilobytes, copied once) and slices it; readers in
 * sequence order hit the same block again (Workspace keeps the last one).
 *
 * Layout: MAGIC, BLOCK_FORMAT, the records one after another, then for each record the
 * offset just past its end (u32), then the count (u32). The offsets go last so that a block is
 * written in one pass, records straight into the batch that carries it.
 *
 * A block starts with the record layout's MAGIC (0xc1, which msgpack never uses), then
 * BLOCK_FORMAT, a byte no record's FORMAT is: blocks, single records and msgpack-era records are told apart by
 * their first two bytes.
 */
import { MAGIC } from './record-codec.js';

export const BLOCK_FORMAT = 0x80;
/** Where the first record of a block starts. */
export const BLOCK_HEADER = 2;
/** A block is closed at this many records, or once its records pass BLOCK_BYTES. */
export const BLOCK_RECORDS = 64;
export const BLOCK_BYTES = 32 << 10;

/** Whether a stored `tx` value is a block (else a single record). */
export function isRecordBlock(b: Uint8Array): boolean {
  return b.length >= BLOCK_HEADER + 4 && b[0] === MAGIC && b[1] === BLOCK_FORMAT;
}

/** The number of records in a block. */
export function blockCount(b: Buffer): number {
  return b.readUInt32LE(b.length - 4);
}

/** Record `i` of a block (a view of it), or undefined past its end. */
export function blockRecord(b: Buffer, i: number): Buffer | undefined {
  const n = blockCount(b);
  if (i < 0 || i >= n) return undefined;
  const table = b.length - 4 - 4 * n;
  const start = i === 0 ? BLOCK_HEADER : b.readUInt32LE(table + 4 * (i - 1));
  return b.subarray(start, b.readUInt32LE(table + 4 * i));
}

/** Calls `visit` with where each record of a block starts and ends, in order (no view made). */
export function forEachBlockRecord(b: Buffer, visit: (start: number, end: number, i: number) => void): void {
  const n = blockCount(b);
  const table = b.length - 4 - 4 * n;
  let start = BLOCK_HEADER;
  for (let i = 0; i < n; i++) {
    const end = b.readUInt32LE(table + 4 * i);
    visit(start, end, i);
    start = end;
  }
}
