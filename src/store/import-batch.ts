/**
 * The bytes of a batch between import's analysis thread and the main thread. Records are
 * encoded straight into the batch (record-codec.ts) inside the block that will store them
 * (record-block.ts), and bodies copied into it once; the batch's memory is then transferred, and
 * the main thread takes views of it: no record or body is copied again, parsed, or allocated a
 * Buffer of its own on the way. The one-thread import goes through the same batches, so both
 * store the same blocks.
 *
 * An item is a tag byte (ITEM_*), then
 *   ITEM_BLOCK: u32 length + the block as stored; u32 count of bodies kept apart, each u32 index
 *               in the block, u8 side (0 request, 1 response), u32 length + bytes;
 *   otherwise:  u32 length + msgpack of the item's fields (rare: connections, summary chunks).
 *
 * A block closes by its own rule (BLOCK_RECORDS, BLOCK_BYTES), never by the batch's: a block open
 * when its batch is sent moves to the next batch, so where blocks end depends only on the records.
 * Other items that come while a block is open follow it.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { StreamSummary } from '../dissect/pipeline.js';
import { MAGIC, RecordWriter, encodeRecordInto, type StoredRecord } from './record-codec.js';
import { BLOCK_BYTES, BLOCK_FORMAT, BLOCK_RECORDS, blockCount } from './record-block.js';
import { BATCH_BYTES, ITEM_BLOCK, ITEM_CHUNK, ITEM_STREAM } from './import-thread-protocol.js';
import type { IndexField, PostingList, SummaryChunk } from './summary-format.js';

/** A body its record did not keep (too large to inline): stored apart under the record's key. */
export interface BlockBody {
  /** The record's place in its block. */
  index: number;
  side: 0 | 1;
  bytes: Buffer;
}

/** What a batch holds, in order. */
export interface BatchReader {
  /** A block of `count` records as stored (a view of the batch), and its records' bodies kept apart. */
  block(value: Buffer, count: number, bodies: BlockBody[]): void;
  stream(s: StreamSummary): void;
  chunk(c: SummaryChunk): void;
}
/** Most a batch is given room for at its start: a batch is sent once it passes BATCH_BYTES. */
const MAX_ROOM = BATCH_BYTES + (BATCH_BYTES >> 1);
const MIN_ROOM = 64 << 10;

export class BatchWriter {
  /**
   * Room for the next batch: the last one's size and a quarter more. Batches of one capture are
   * alike, and room left unused would still count as memory the receiving thread holds.
   */
  private room = MAX_ROOM;
  private w = RecordWriter.transferable(this.room);
  private readonly packr = new Packr({ useRecords: false });
  items = 0;

  get bytes(): number {
    return this.w.pos;
  }

  /** Where the open block's item starts in the batch; -1 with no block open. */
  private blockAt = -1;
  /** Per record of the open block: its end, from the block's start. */
  private ends: number[] = [];
  private bodies: BlockBody[] = [];
  /** Items that came while a block was open: they follow it. */
  private held = new RecordWriter();

  tx(record: StoredRecord, requestBody: Buffer | null, responseBody: Buffer | null): void {
    const w = this.w;
    if (this.blockAt < 0) {
      this.blockAt = w.pos;
      w.u8(ITEM_BLOCK);
      w.u32(0);
      w.u8(MAGIC);
      w.u8(BLOCK_FORMAT);
    }
    const start = this.blockAt + 5;
    // Small bodies go inside the record's value, as Workspace.write keeps them; the rest apart.
    const inlined = encodeRecordInto(w, record, requestBody, responseBody);
    const index = this.ends.length;
    this.ends.push(w.pos - start);
    if (!inlined.request && requestBody !== null && requestBody.length > 0) this.bodies.push({ index, side: 0, bytes: requestBody });
    if (!inlined.response && responseBody !== null && responseBody.length > 0) this.bodies.push({ index, side: 1, bytes: responseBody });
    this.items++;
    if (this.ends.length >= BLOCK_RECORDS || w.pos - start >= BLOCK_BYTES) this.closeBlock();
  }

  /** The open block ends here (the pass's end): call before the last take(). */
  endBlock(): void {
    if (this.blockAt >= 0) this.closeBlock();
  }

  private closeBlock(): void {
    const w = this.w;
    const start = this.blockAt + 5;
    for (const e of this.ends) w.u32(e);
    w.u32(this.ends.length);
    // w.buf may have grown (a new buffer) while the block was written: the length goes into the current one.
    w.buf.writeUInt32LE(w.pos - start, this.blockAt + 1);
    w.u32(this.bodies.length);
    for (const b of this.bodies) {
      w.u32(b.index);
      w.u8(b.side);
      w.bytes(b.bytes);
    }
    this.blockAt = -1;
    this.ends = [];
    this.bodies = [];
    this.moveHeld();
  }

  private moveHeld(): void {
    const h = this.held;
    if (h.pos === 0) return;
    this.w.raw(h.buf.subarray(0, h.pos));
    h.pos = 0;
  }

  stream(s: StreamSummary): void {
    this.packed(ITEM_STREAM, s);
  }

  chunk(c: SummaryChunk): void {
    // Postings flat (field, value, rows, field, ...): no map per posting list to pack and read.
    const flat: Array<string | number | Buffer> = [];
    for (const p of c.postings) flat.push(p.field, p.value, p.rows);
    this.packed(ITEM_CHUNK, [c.chunk, c.columns, flat]);
  }

  private packed(tag: number, fields: unknown): void {
    const to = this.blockAt < 0 ? this.w : this.held;
    to.u8(tag);
    to.bytes(this.packr.pack(fields));
    this.items++;
  }

  /** The batch so far, in memory of its own to transfer; the next one starts empty. */
  take(): Uint8Array<ArrayBuffer> {
    // An open block goes on in the next batch; what was held behind it goes in this one.
    let open: Buffer | null = null;
    if (this.blockAt >= 0) {
      open = Buffer.from(this.w.buf.subarray(this.blockAt, this.w.pos));
      this.w.pos = this.blockAt;
      this.moveHeld();
    }
    const taken = this.w;
    const pos = taken.pos;
    this.room = Math.min(MAX_ROOM, Math.max(MIN_ROOM, pos + (pos >> 2)));
    this.w = RecordWriter.transferable(this.room);
    this.items = 0;
    if (open) {
      this.blockAt = 0;
      this.w.raw(open);
      this.items = this.ends.length;
    }
    return taken.transferred();
  }
}

/** Hands each item of a batch to `to`, in order; the Buffers it gets are views of `batch`. */
export function readBatch(batch: Uint8Array, to: BatchReader, unpackr: Unpackr): void {
  const b = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  let at = 0;
  while (at < b.length) {
    const tag = b[at];
    const n = b.readUInt32LE(at + 1);
    if (tag === ITEM_BLOCK) {
      const value = b.subarray(at + 5, at + 5 + n);
      at += 5 + n;
      const bodies: BlockBody[] = [];
      const count = b.readUInt32LE(at);
      at += 4;
      for (let i = 0; i < count; i++) {
        const index = b.readUInt32LE(at);
        const side = b[at + 4] === 0 ? 0 : 1;
        const len = b.readUInt32LE(at + 5);
        bodies.push({ index, side, bytes: b.subarray(at + 9, at + 9 + len) });
        at += 9 + len;
      }
      to.block(value, blockCount(value), bodies);
      continue;
    }
    const fields = unpackr.unpack(b.subarray(at + 5, at + 5 + n)) as unknown;
    at += 5 + n;
    if (tag === ITEM_STREAM) to.stream(fields as StreamSummary);
    else if (tag === ITEM_CHUNK) {
      const [chunk, columns, flat] = fields as [number, Buffer, Array<string | number | Buffer>];
      const postings: PostingList[] = [];
      for (let i = 0; i < flat.length; i += 3) postings.push({ field: flat[i] as IndexField, value: flat[i + 1] as string | number, rows: flat[i + 2] as Buffer });
      to.chunk({ chunk, columns, postings });
    } else throw new Error(`import batch: unknown item ${tag} at byte ${at}`);
  }
}
