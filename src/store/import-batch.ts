/**
 * The bytes of a batch between import's analysis thread and the main thread. Records are
 * encoded straight into the batch (record-codec.ts) and bodies copied into it once; the batch's
 * memory is then transferred, and the main thread takes views of it: no record or body is
 * copied again, parsed, or allocated a Buffer of its own on the way.
 *
 * An item is a tag byte (ITEM_*), then
 *   ITEM_TX:    record (u32 length + bytes; its timestamp is read from it), request and response
 *               bodies (u32 length + bytes, or NO_BODY for none or kept in the record);
 *   otherwise:  u32 length + msgpack of the item's fields (rare: connections, progress, summary chunks).
 */
import { Packr, Unpackr } from 'msgpackr';
import type { StreamSummary } from '../dissect/pipeline.js';
import { RecordWriter, encodeRecordInto, type StoredRecord } from './record-codec.js';
import { BATCH_BYTES, ITEM_CHUNK, ITEM_PROGRESS, ITEM_STREAM, ITEM_TX } from './import-thread-protocol.js';
import type { IndexField, PostingList, SummaryChunk } from './summary-format.js';

const NO_BODY = 0xffffffff;

/** What a batch holds, in order. */
export interface BatchReader {
  tx(encoded: Buffer, requestBody: Buffer | null, responseBody: Buffer | null): void;
  stream(s: StreamSummary): void;
  progress(packets: number, file: string): void;
  chunk(c: SummaryChunk): void;
}

/** Most a batch is given room for at its start: a batch is sent once it passes BATCH_BYTES. */
const MAX_ROOM = BATCH_BYTES + (BATCH_BYTES >> 1);
const MIN_ROOM = 64 << 10;

/**
 * A writer with room for `size` bytes from the start, in memory of its own (unpooled): growing
 * would copy everything written so far.
 */
function freshWriter(size: number): RecordWriter {
  const w = new RecordWriter();
  w.buf = Buffer.allocUnsafeSlow(size);
  return w;
}

export class BatchWriter {
  /**
   * Room for the next batch: the last one's size and a quarter more. Batches of one capture are
   * alike, and room left unused would still count as memory the receiving thread holds.
   */
  private room = MAX_ROOM;
  private w = freshWriter(this.room);
  private readonly packr = new Packr({ useRecords: false });
  items = 0;

  get bytes(): number {
    return this.w.pos;
  }

  tx(record: StoredRecord, requestBody: Buffer | null, responseBody: Buffer | null): void {
    const w = this.w;
    w.u8(ITEM_TX);
    const at = w.pos;
    w.u32(0);
    // Small bodies go inside the record's value, as Workspace.write keeps them; the rest follow it.
    const inlined = encodeRecordInto(w, record, requestBody, responseBody);
    // w.buf may have grown (a new buffer) while the record was written: the length goes into the current one.
    w.buf.writeUInt32LE(w.pos - at - 4, at);
    this.body(inlined.request ? null : requestBody);
    this.body(inlined.response ? null : responseBody);
    this.items++;
  }

  private body(b: Buffer | null): void {
    if (b === null) this.w.u32(NO_BODY);
    else this.w.bytes(b);
  }

  stream(s: StreamSummary): void {
    this.packed(ITEM_STREAM, s);
  }

  progress(packets: number, file: string): void {
    this.packed(ITEM_PROGRESS, [packets, file]);
  }

  chunk(c: SummaryChunk): void {
    // Postings flat (field, value, rows, field, ...): no map per posting list to pack and read.
    const flat: Array<string | number | Buffer> = [];
    for (const p of c.postings) flat.push(p.field, p.value, p.rows);
    this.packed(ITEM_CHUNK, [c.chunk, c.columns, flat]);
  }

  private packed(tag: number, fields: unknown): void {
    this.w.u8(tag);
    this.w.bytes(this.packr.pack(fields));
    this.items++;
  }

  /** The batch so far, in memory of its own to transfer; the next one starts empty. */
  take(): Uint8Array<ArrayBuffer> {
    const { buf, pos } = this.w;
    this.room = Math.min(MAX_ROOM, Math.max(MIN_ROOM, pos + (pos >> 2)));
    this.w = freshWriter(this.room);
    this.items = 0;
    // Unpooled (allocUnsafeSlow, or grown by allocUnsafe past the pool's size): the whole ArrayBuffer is this batch's.
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || buf.byteOffset !== 0) throw new Error('import batch: not in memory of its own');
    return new Uint8Array(ab, 0, pos);
  }
}

function body(b: Buffer, at: number): [Buffer | null, number] {
  const n = b.readUInt32LE(at);
  return n === NO_BODY ? [null, at + 4] : [b.subarray(at + 4, at + 4 + n), at + 4 + n];
}

/** Hands each item of a batch to `to`, in order; the Buffers it gets are views of `batch`. */
export function readBatch(batch: Uint8Array, to: BatchReader, unpackr: Unpackr): void {
  const b = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  let at = 0;
  while (at < b.length) {
    const tag = b[at];
    if (tag === ITEM_TX) {
      const n = b.readUInt32LE(at + 1);
      const encoded = b.subarray(at + 5, at + 5 + n);
      const [request, afterRequest] = body(b, at + 5 + n);
      const [response, next] = body(b, afterRequest);
      at = next;
      to.tx(encoded, request, response);
      continue;
    }
    const n = b.readUInt32LE(at + 1);
    const fields = unpackr.unpack(b.subarray(at + 5, at + 5 + n)) as unknown;
    at += 5 + n;
    if (tag === ITEM_STREAM) to.stream(fields as StreamSummary);
    else if (tag === ITEM_PROGRESS) {
      const [packets, file] = fields as [number, string];
      to.progress(packets, file);
    } else if (tag === ITEM_CHUNK) {
      const [chunk, columns, flat] = fields as [number, Buffer, Array<string | number | Buffer>];
      const postings: PostingList[] = [];
      for (let i = 0; i < flat.length; i += 3) postings.push({ field: flat[i] as IndexField, value: flat[i + 1] as string | number, rows: flat[i + 2] as Buffer });
      to.chunk({ chunk, columns, postings });
    } else throw new Error(`import batch: unknown item ${tag} at byte ${at}`);
  }
}
