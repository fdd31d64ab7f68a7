/**
 * What the pcap and pcapng push parsers share: a file arrives in chunks of any size, and a
 * unit (a record, a block, a file header) cut by a chunk boundary is carried over by copying
 * only that unit's bytes, never whole chunks, then read as a chunk of its own at its offset.
 */
import type { CaptureFileReport } from './packet.js';

export abstract class ChunkedReader {
  /** Set once the file is damaged beyond reading. */
  protected halted = false;
  /** Bytes of the file before the current chunk: turns chunk positions into file offsets. */
  protected base = 0;
  /** A unit cut by a chunk boundary, its bytes so far, and where it starts in the file. */
  protected carry: Buffer | null = null;
  protected carryLen = 0;
  protected carryOffset = 0;

  constructor(readonly report: CaptureFileReport) {}

  /** True once the file is known to be damaged beyond reading: the caller can stop feeding it. */
  get stopped(): boolean {
    return this.halted;
  }

  push(chunk: Buffer): void {
    if (this.halted || chunk.length === 0) return;
    this.report.bytes += chunk.length;
    let pos = 0;
    if (this.carry !== null) {
      pos = this.fillCarry(chunk);
      if (pos < 0 || this.halted) {
        this.base += chunk.length;
        return;
      }
    }
    pos = this.parse(chunk, pos, chunk.length);
    if (!this.halted && pos < chunk.length) this.keep(chunk, pos);
    this.base += chunk.length;
  }

  /** Reads the whole units in buf[pos, end); returns where the first incomplete one starts. */
  protected abstract parse(buf: Buffer, pos: number, end: number): number;

  /** How many bytes of the next unit tell its length. */
  protected abstract peekLength(): number;

  /**
   * The whole length of the unit at buf[pos], of which at least peekLength() bytes are in
   * buf[pos, end); or -1 when that length is impossible, after halting and saying why
   * (offset: where the unit starts in the file).
   */
  protected abstract unitLength(buf: Buffer, pos: number, end: number, offset: number): number;

  /** Saves buf[pos..] as the start of a unit the next chunk completes: a copy of that tail only. */
  private keep(buf: Buffer, pos: number): void {
    const n = buf.length - pos;
    const peek = this.peekLength();
    let size = Math.max(n, peek);
    // parse() stopped here because the unit is incomplete, so its length was already accepted.
    if (n >= peek) size = Math.max(size, this.unitLength(buf, pos, buf.length, this.base + pos));
    const carry = Buffer.allocUnsafe(size);
    buf.copy(carry, 0, pos);
    this.carry = carry;
    this.carryLen = n;
    this.carryOffset = this.base + pos;
  }

  /**
   * Completes the carried unit from the front of chunk and reads it. Returns how many bytes
   * of chunk it used, or -1 when chunk ran out before the unit was complete.
   */
  private fillCarry(chunk: Buffer): number {
    let carry = this.carry as Buffer;
    let have = this.carryLen;
    let used = 0;
    const peek = this.peekLength();
    if (have < peek) {
      const n = Math.min(peek - have, chunk.length);
      chunk.copy(carry, have, 0, n);
      have += n;
      used = n;
      if (have < peek) {
        this.carryLen = have;
        return -1;
      }
    }
    const need = this.unitLength(carry, 0, have, this.carryOffset);
    if (need < 0) return -1;
    if (carry.length < need) {
      const bigger = Buffer.allocUnsafe(need);
      carry.copy(bigger, 0, 0, have);
      carry = bigger;
      this.carry = carry;
    }
    const n = Math.min(need - have, chunk.length - used);
    chunk.copy(carry, have, used, used + n);
    have += n;
    used += n;
    if (have < need) {
      this.carryLen = have;
      return -1;
    }
    const savedBase = this.base;
    this.base = this.carryOffset;
    this.carry = null;
    this.carryLen = 0;
    this.parse(carry, 0, need);
    this.base = savedBase;
    return used;
  }
}
