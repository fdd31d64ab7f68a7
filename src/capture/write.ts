/**
 * Writing captures: classic pcap (one link type; microsecond or nanosecond magic) and pcapng
 * (one Interface Description Block per interface declared, each with if_tsresol 9 so that
 * nanosecond times survive), streamed to a Writable with its backpressure honoured.
 *
 * Also `originalRecord`: a packet as its file holds it. A Packet's `ts` is a double of
 * microseconds, which cannot hold nanoseconds since 1970 exactly (its spacing there is 0.25 µs),
 * and its `data` has any frame check sequence taken off; writing a packet back unchanged needs
 * the record's own timestamp fields and captured bytes.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { CaptureFileReport, CaptureInterface, Packet } from './packet.js';

export type CaptureFormat = 'pcap' | 'pcapng';

/** An interface packets are written on: what pcapng's IDB says (pcap keeps only the link type and snap length). */
export interface WriterInterface {
  linkType: number;
  /** 0: unknown (pcap writes 262144, pcapng 0, "no limit"). */
  snapLen: number;
  name?: string | null;
  description?: string | null;
  /** Bytes of frame check sequence at the end of every frame written on it. */
  fcsLength?: number;
}

/** A timestamp as whole seconds since the epoch and nanoseconds within the second. */
export interface WriteTime {
  sec: number;
  nsec: number;
}

export interface WriterStats {
  format: CaptureFormat;
  packets: number;
  /** Bytes written to the output, headers included. */
  bytes: number;
  /** Packets whose time had to be rounded to the format's resolution (nanoseconds in a microsecond pcap). */
  roundedTimestamps: number;
}

export interface CaptureWriter {
  readonly format: CaptureFormat;
  /** Declares an interface; returns the id to write its packets with. A pcap writer has one link type only. */
  addInterface(iface: WriterInterface): number;
  /**
   * Writes one packet: `data` is copied before this returns. Returns false when the output
   * asks to wait: await drained() before writing much more.
   */
  writePacket(ifId: number, time: WriteTime, data: Buffer, origLen: number): boolean;
  /** Resolves once the output has taken what it buffered (at once when it is not backed up). */
  drained(): Promise<void>;
  /** Writes what is buffered, ends the output and waits until it is closed. */
  close(): Promise<WriterStats>;
  /** Stops writing and destroys the output (the caller removes the file). */
  abort(): void;
  readonly stats: WriterStats;
}

export class CaptureWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureWriteError';
  }
}

/** Bytes gathered before being handed to the stream: few large writes, not one per packet. */
const BATCH = 256 * 1024;

/** The buffering and backpressure both formats share. */
abstract class StreamWriter implements CaptureWriter {
  abstract readonly format: CaptureFormat;
  readonly stats: WriterStats;
  private batch: Buffer = Buffer.allocUnsafe(BATCH);
  private used = 0;
  private waiting = false;
  private error: Error | null = null;
  private closed = false;

  constructor(protected readonly out: Writable, format: CaptureFormat) {
    this.stats = { format, packets: 0, bytes: 0, roundedTimestamps: 0 };
    out.on('error', (err: Error) => {
      this.error ??= err;
    });
  }

  abstract addInterface(iface: WriterInterface): number;
  abstract writePacket(ifId: number, time: WriteTime, data: Buffer, origLen: number): boolean;

  /** Room for n more bytes in the batch (a fresh batch when needed); returns where they go. */
  protected reserve(n: number): { buf: Buffer; at: number } {
    if (this.error) throw new CaptureWriteError(`cannot write the capture: ${this.error.message}`);
    if (this.closed) throw new CaptureWriteError('the capture writer is closed');
    if (this.used + n > this.batch.length) {
      this.flush();
      if (n > this.batch.length) this.batch = Buffer.allocUnsafe(n);
    }
    const at = this.used;
    this.used += n;
    this.stats.bytes += n;
    return { buf: this.batch, at };
  }

  /** Hands the batch to the stream; a fresh buffer follows (the stream may hold on to this one). */
  protected flush(): void {
    if (this.used === 0) return;
    const chunk = this.batch.subarray(0, this.used);
    this.batch = Buffer.allocUnsafe(BATCH);
    this.used = 0;
    if (!this.out.write(chunk)) this.waiting = true;
  }

  /** Whether the caller may go on without waiting. */
  protected ready(): boolean {
    return !this.waiting && this.error === null;
  }

  drained(): Promise<void> {
    if (this.error) return Promise.reject(new CaptureWriteError(`cannot write the capture: ${this.error.message}`));
    if (!this.waiting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.out.off('drain', onDrain);
        this.out.off('error', onError);
      };
      const onDrain = (): void => {
        done();
        this.waiting = false;
        resolve();
      };
      const onError = (err: Error): void => {
        done();
        reject(new CaptureWriteError(`cannot write the capture: ${err.message}`));
      };
      this.out.on('drain', onDrain);
      this.out.on('error', onError);
    });
  }

  async close(): Promise<WriterStats> {
    if (this.error) throw new CaptureWriteError(`cannot write the capture: ${this.error.message}`);
    if (this.closed) return this.stats;
    this.flush();
    this.closed = true;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => reject(new CaptureWriteError(`cannot write the capture: ${err.message}`));
      if (this.error) return fail(this.error);
      this.out.once('error', fail);
      // 'close' comes after the file descriptor is closed: the file is complete on disk.
      this.out.once('close', () => resolve());
      this.out.end();
    });
    return this.stats;
  }

  abort(): void {
    this.closed = true;
    this.out.destroy();
  }
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** The pcap header's link type field: the F bit says an FCS length follows in bits 28-31, in 16-bit units. */
const PCAP_FCS_PRESENT = 0x04000000;

export interface PcapWriterOptions {
  linkType: number;
  snapLen?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d); microseconds otherwise. */
  nanos: boolean;
  fcsLength?: number;
}

/** Classic pcap (little-endian): one link type, microsecond or nanosecond timestamps. */
export class PcapWriter extends StreamWriter {
  readonly format = 'pcap' as const;
  private readonly linkType: number;
  private readonly nanos: boolean;

  constructor(out: Writable, opts: PcapWriterOptions) {
    super(out, 'pcap');
    this.linkType = opts.linkType;
    this.nanos = opts.nanos;
    const { buf, at } = this.reserve(24);
    buf.writeUInt32LE(opts.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, at);
    buf.writeUInt16LE(2, at + 4);
    buf.writeUInt16LE(4, at + 6);
    buf.writeInt32LE(0, at + 8);
    buf.writeUInt32LE(0, at + 12);
    buf.writeUInt32LE(opts.snapLen && opts.snapLen > 0 ? opts.snapLen : 262144, at + 16);
    const fcs = opts.fcsLength ?? 0;
    const network = fcs > 0 ? (opts.linkType | PCAP_FCS_PRESENT | (((fcs >> 1) & 0xf) << 28)) >>> 0 : opts.linkType;
    buf.writeUInt32LE(network, at + 20);
  }

  addInterface(iface: WriterInterface): number {
    if (iface.linkType !== this.linkType) {
      throw new CaptureWriteError(`a pcap file holds one link type: ${this.linkType} already, ${iface.linkType} asked for (write pcapng)`);
    }
    return 0;
  }

  writePacket(ifId: number, time: WriteTime, data: Buffer, origLen: number): boolean {
    if (ifId !== 0) throw new CaptureWriteError(`pcap has one interface, not ${ifId}`);
    let frac = time.nsec;
    if (!this.nanos) {
      frac = Math.floor(time.nsec / 1000);
      if (time.nsec % 1000 !== 0) this.stats.roundedTimestamps++;
    }
    const { buf, at } = this.reserve(16 + data.length);
    buf.writeUInt32LE(time.sec >>> 0, at);
    buf.writeUInt32LE(frac, at + 4);
    buf.writeUInt32LE(data.length, at + 8);
    buf.writeUInt32LE(Math.max(origLen, data.length) >>> 0, at + 12);
    data.copy(buf, at + 16);
    this.stats.packets++;
    return this.ready();
  }
}

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const NS_PER_SEC = 1_000_000_000n;

interface Option {
  code: number;
  value: Buffer;
}

function optionsLength(opts: Option[]): number {
  if (opts.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of opts) n += 4 + ((o.value.length + 3) & ~3);
  return n;
}

function writeOptions(buf: Buffer, at: number, opts: Option[]): number {
  if (opts.length === 0) return at;
  for (const o of opts) {
    buf.writeUInt16LE(o.code, at);
    buf.writeUInt16LE(o.value.length, at + 2);
    o.value.copy(buf, at + 4);
    const padded = (o.value.length + 3) & ~3;
    buf.fill(0, at + 4 + o.value.length, at + 4 + padded);
    at += 4 + padded;
  }
  buf.writeUInt32LE(OPT_END, at);
  return at + 4;
}

export interface PcapngWriterOptions {
  /** shb_userappl: who wrote the file. */
  application?: string;
}

/** pcapng (little-endian, one section): interfaces declared as they are needed, nanosecond timestamps. */
export class PcapngWriter extends StreamWriter {
  readonly format = 'pcapng' as const;
  private interfaces = 0;

  constructor(out: Writable, opts: PcapngWriterOptions = {}) {
    super(out, 'pcapng');
    const options: Option[] = opts.application ? [{ code: SHB_USERAPPL, value: Buffer.from(opts.application, 'utf8') }] : [];
    const len = 28 + optionsLength(options);
    const { buf, at } = this.reserve(len);
    buf.writeUInt32LE(SHB, at);
    buf.writeUInt32LE(len, at + 4);
    buf.writeUInt32LE(BYTE_ORDER_MAGIC, at + 8);
    buf.writeUInt16LE(1, at + 12);
    buf.writeUInt16LE(0, at + 14);
    // Section length -1: not stated.
    buf.writeInt32LE(-1, at + 16);
    buf.writeInt32LE(-1, at + 20);
    const end = writeOptions(buf, at + 24, options);
    buf.writeUInt32LE(len, end);
  }

  addInterface(iface: WriterInterface): number {
    const options: Option[] = [];
    if (iface.name) options.push({ code: IF_NAME, value: Buffer.from(iface.name, 'utf8') });
    if (iface.description) options.push({ code: IF_DESCRIPTION, value: Buffer.from(iface.description, 'utf8') });
    options.push({ code: IF_TSRESOL, value: Buffer.from([9]) });
    if (iface.fcsLength && iface.fcsLength > 0) options.push({ code: IF_FCSLEN, value: Buffer.from([iface.fcsLength & 0xff]) });
    const len = 20 + optionsLength(options);
    const { buf, at } = this.reserve(len);
    buf.writeUInt32LE(IDB, at);
    buf.writeUInt32LE(len, at + 4);
    buf.writeUInt16LE(iface.linkType & 0xffff, at + 8);
    buf.writeUInt16LE(0, at + 10);
    buf.writeUInt32LE(iface.snapLen > 0 ? iface.snapLen : 0, at + 12);
    const end = writeOptions(buf, at + 16, options);
    buf.writeUInt32LE(len, end);
    return this.interfaces++;
  }

  writePacket(ifId: number, time: WriteTime, data: Buffer, origLen: number): boolean {
    if (ifId < 0 || ifId >= this.interfaces) throw new CaptureWriteError(`interface ${ifId} was not declared`);
    const padded = (data.length + 3) & ~3;
    const len = 32 + padded;
    const units = BigInt(time.sec) * NS_PER_SEC + BigInt(time.nsec);
    const { buf, at } = this.reserve(len);
    buf.writeUInt32LE(EPB, at);
    buf.writeUInt32LE(len, at + 4);
    buf.writeUInt32LE(ifId, at + 8);
    buf.writeUInt32LE(Number(units >> 32n), at + 12);
    buf.writeUInt32LE(Number(units & 0xffffffffn), at + 16);
    buf.writeUInt32LE(data.length, at + 20);
    buf.writeUInt32LE(Math.max(origLen, data.length) >>> 0, at + 24);
    data.copy(buf, at + 28);
    buf.fill(0, at + 28 + data.length, at + 28 + padded);
    buf.writeUInt32LE(len, at + 28 + padded);
    this.stats.packets++;
    return this.ready();
  }
}

export interface OpenWriterOptions {
  /** pcap only: the one link type, snap length, FCS and timestamp resolution. */
  pcap?: PcapWriterOptions;
  pcapng?: PcapngWriterOptions;
}

/** A writer on a new file at `path` (replaced if it exists). */
export function openCaptureWriter(path: string, format: CaptureFormat, opts: OpenWriterOptions = {}): CaptureWriter {
  const out = createWriteStream(path, { highWaterMark: 1024 * 1024 });
  if (format === 'pcap') {
    if (!opts.pcap) throw new CaptureWriteError('a pcap writer needs its link type');
    return new PcapWriter(out, opts.pcap);
  }
  return new PcapngWriter(out, opts.pcapng);
}

/** A packet as its file holds it. */
export interface OriginalRecord {
  /** Seconds and nanoseconds since the epoch, from the record's own fields (interface offset applied). */
  sec: number;
  nsec: number;
  /**
   * False when the time is not exactly the file's: the record could not be found behind the
   * packet's bytes (the time then comes from Packet.ts, within 0.25 µs), the interface counts
   * in units nanoseconds cannot express (2^-n s, or finer than 1 ns), or an SPB carries none.
   */
  exact: boolean;
  /** The captured bytes, frame check sequence included: a view, valid as long as the packet's data. */
  data: Buffer;
  origLen: number;
  /** FCS bytes at the end of `data`. */
  fcsLength: number;
}

const PCAPNG_EPB = 6;
const PCAPNG_PB = 2;
const PCAPNG_SPB = 3;

function fromMicros(ts: number, data: Buffer, origLen: number): OriginalRecord {
  const sec = Math.floor(ts / 1e6);
  let nsec = Math.round((ts - sec * 1e6) * 1000);
  let s = sec;
  if (nsec >= 1e9) {
    s++;
    nsec -= 1e9;
  }
  return { sec: s, nsec, exact: false, data, origLen, fcsLength: 0 };
}

/** Units since the epoch at `unitsPerSecond`, plus an offset in seconds, as seconds and nanoseconds. */
function unitsToTime(units: bigint, unitsPerSecond: number, offsetSeconds: number): { sec: number; nsec: number; exact: boolean } {
  const per = BigInt(Math.round(unitsPerSecond));
  const exact = per > 0n && NS_PER_SEC % per === 0n;
  let sec = units / per;
  const rem = units % per;
  let nsec = exact ? rem * (NS_PER_SEC / per) : (rem * NS_PER_SEC + per / 2n) / per;
  if (nsec >= NS_PER_SEC) {
    sec += 1n;
    nsec -= NS_PER_SEC;
  }
  return { sec: Number(sec) + offsetSeconds, nsec: Number(nsec), exact };
}

/**
 * The packet's record as its file holds it, read from the bytes just before `p.data`: the
 * readers hand on each packet as a view into the buffer holding its whole record (a chunk, or
 * the record reassembled across chunks), so the record header sits right before the data.
 * Each field found is checked against what the reader reported (lengths, block type, time to
 * within a microsecond); when the check fails the packet's own fields are used and the result
 * says it is not exact. `file` is the report of the packet's file (its format and interfaces).
 */
export function originalRecord(p: Packet, file: Pick<CaptureFileReport, 'format' | 'interfaces'>): OriginalRecord {
  const data = p.data;
  const iface: CaptureInterface | undefined = file.interfaces[p.ifIndex];
  const before = data.byteOffset;
  const whole = new DataView(data.buffer);
  const limit = data.buffer.byteLength;
  // Bytes after data up to the captured length: the FCS the reader took off.
  const withCapLen = (cap: number): Buffer | null => {
    const extra = cap - data.length;
    if (extra < 0 || extra > 16 || before + cap > limit) return null;
    return extra === 0 ? data : Buffer.from(data.buffer, before, cap);
  };
  if (file.format === 'pcap') {
    const units = iface?.tsUnitsPerSecond ?? 1e6;
    for (const hdr of [16, 24]) {
      if (before < hdr) continue;
      for (const le of [true, false]) {
        const sec = whole.getUint32(before - hdr, le);
        const frac = whole.getUint32(before - hdr + 4, le);
        const cap = whole.getUint32(before - hdr + 8, le);
        const orig = whole.getUint32(before - hdr + 12, le);
        if (orig !== p.origLen || frac >= units) continue;
        const full = withCapLen(cap);
        if (!full) continue;
        if (Math.abs(sec * 1e6 + (frac * 1e6) / units - p.ts) > 1) continue;
        const nsec = units === 1e9 ? frac : frac * 1000;
        return { sec, nsec, exact: true, data: full, origLen: orig, fcsLength: cap - data.length };
      }
    }
    return fromMicros(p.ts, data, p.origLen);
  }
  if (file.format === 'pcapng' && iface) {
    for (const le of [true, false]) {
      if (before >= 28) {
        const type = whole.getUint32(before - 28, le);
        if (type === PCAPNG_EPB || type === PCAPNG_PB) {
          const hi = whole.getUint32(before - 16, le);
          const lo = whole.getUint32(before - 12, le);
          const cap = whole.getUint32(before - 8, le);
          const orig = whole.getUint32(before - 4, le);
          const full = orig === p.origLen ? withCapLen(cap) : null;
          if (full) {
            const t = unitsToTime((BigInt(hi) << 32n) | BigInt(lo), iface.tsUnitsPerSecond, iface.tsOffsetSeconds);
            if (Math.abs(t.sec * 1e6 + t.nsec / 1000 - p.ts) <= 1) {
              return { ...t, data: full, origLen: orig, fcsLength: cap - data.length };
            }
          }
        }
      }
      if (before >= 12 && whole.getUint32(before - 12, le) === PCAPNG_SPB && whole.getUint32(before - 4, le) === p.origLen) {
        // A Simple Packet Block has no time of its own (the reader gave it the previous packet's).
        const r = fromMicros(p.ts, data, p.origLen);
        const cap = Math.min(p.origLen, data.length + (iface.fcsLength ?? 0));
        const full = withCapLen(cap) ?? data;
        return { ...r, data: full, fcsLength: full.length - data.length };
      }
    }
  }
  return fromMicros(p.ts, data, p.origLen);
}
