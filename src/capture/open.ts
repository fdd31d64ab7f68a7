/**
 * Opens one capture file as a stream, recognises it by its first bytes (never by its name),
 * undoes gzip on the way and hands the bytes to the pcap or pcapng push parser.
 * Memory stays at one read chunk plus at most one record, whatever the file's size.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { CaptureError, type CaptureFileReport, type PacketSink } from './packet.js';
import { PcapReader } from './pcap.js';
import { PcapngReader } from './pcapng.js';

export type DetectedFormat = 'pcap' | 'pcapng' | 'gzip' | 'unknown';

/** What both push parsers offer the opener. */
export interface CaptureParser {
  readonly report: CaptureFileReport;
  readonly stopped: boolean;
  push(chunk: Buffer): void;
  end(): CaptureFileReport;
}

const READ_CHUNK = 1024 * 1024;
/** Enough bytes to tell every supported format apart. */
const MAGIC_BYTES = 4;

/** Recognises a capture by its first bytes (at least 4 of them for pcap and pcapng). */
export function detectFormat(firstBytes: Buffer): DetectedFormat {
  if (firstBytes.length >= 3 && firstBytes[0] === 0x1f && firstBytes[1] === 0x8b && firstBytes[2] === 0x08) return 'gzip';
  if (firstBytes.length < MAGIC_BYTES) return 'unknown';
  const m = firstBytes.readUInt32BE(0);
  if (m === 0x0a0d0d0a) return 'pcapng';
  const swapped = firstBytes.readUInt32LE(0);
  for (const magic of [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34]) {
    if (m === magic || swapped === magic) return 'pcap';
  }
  return 'unknown';
}

/** A fresh report for a file; the parsers fill it in. */
export function newReport(path: string, format: CaptureFileReport['format'] = 'unknown', compressed = false): CaptureFileReport {
  return {
    path,
    format,
    compressed,
    bytes: 0,
    packets: 0,
    damaged: 0,
    truncatedBytes: 0,
    interfaces: [],
    notes: [],
    firstTs: null,
    lastTs: null,
  };
}

/** A push parser for a detected format, or null when the format has none. */
export function createParser(
  format: DetectedFormat,
  report: CaptureFileReport,
  fileIndex: number,
  sink: PacketSink,
): CaptureParser | null {
  if (format === 'pcap') return new PcapReader(report, fileIndex, sink);
  if (format === 'pcapng') return new PcapngReader(report, fileIndex, sink);
  return null;
}

/**
 * Reads one capture file, calling sink for every packet. Throws CaptureError when the file
 * cannot be opened or is not a capture; damage inside a capture is reported, not thrown.
 */
export async function readCaptureFile(path: string, fileIndex: number, sink: PacketSink): Promise<CaptureFileReport> {
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    return await readStream(file, path, fileIndex, sink, false);
  } finally {
    file.destroy();
  }
}

interface ZlibFailure {
  zlibError: NodeJS.ErrnoException;
}

/**
 * The next chunk of input. Failing to read becomes a CaptureError, and a zlib failure is
 * handed back for the caller to judge; errors thrown by the sink are not touched.
 */
async function nextChunk(chunks: AsyncIterator<Buffer>, path: string): Promise<IteratorResult<Buffer> | ZlibFailure> {
  try {
    return await chunks.next();
  } catch (err) {
    if (isZlibError(err)) return { zlibError: err };
    throw new CaptureError(`cannot read ${path}: ${describe(err)}`, path);
  }
}

async function readStream(
  input: Readable,
  path: string,
  fileIndex: number,
  sink: PacketSink,
  compressed: boolean,
): Promise<CaptureFileReport> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // Collect just enough of the start to recognise the format (one chunk, unless it is tiny).
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < MAGIC_BYTES) {
    const next = await nextChunk(chunks, path);
    if ('zlibError' in next) throw new CaptureError(`${path}: gzip data is damaged (${next.zlibError.message})`, path);
    if (next.done === true) {
      done = true;
      break;
    }
    head.push(next.value);
    headLen += next.value.length;
  }
  const first = head.length === 1 ? head[0] : Buffer.concat(head, headLen);
  const inside = compressed ? ' after gzip decompression' : '';
  if (headLen === 0) throw new CaptureError(`${path}: empty file${inside}, not a capture`, path);

  const format = detectFormat(first);
  if (format === 'gzip') {
    if (compressed) throw new CaptureError(`${path}: gzip inside gzip, not a capture`, path);
    return readGzip(first, chunks, done, path, fileIndex, sink);
  }
  const report = newReport(path, format === 'unknown' ? 'unknown' : format, compressed);
  const parser = createParser(format, report, fileIndex, sink);
  if (parser === null) throw new CaptureError(`${path}: ${unknownFormat(first, headLen)}${inside}`, path);

  parser.push(first);
  while (!done && !parser.stopped) {
    const next = await nextChunk(chunks, path);
    if ('zlibError' in next) {
      // Once the capture has started, broken compression is damage to report like any other,
      // keeping the packets before it.
      gzipDamage(report, next.zlibError);
      break;
    }
    if (next.done === true) break;
    parser.push(next.value);
  }
  // Stopping early (damage) must still release the stream: return() destroys it.
  if (!done) await chunks.return?.();
  return parser.end();
}

/** Runs the compressed bytes already read, then the rest of the file, through gunzip. */
async function readGzip(
  first: Buffer,
  rest: AsyncIterator<Buffer>,
  restDone: boolean,
  path: string,
  fileIndex: number,
  sink: PacketSink,
): Promise<CaptureFileReport> {
  async function* replay(): AsyncGenerator<Buffer> {
    yield first;
    if (restDone) return;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  // 64 KiB output chunks: zlib hands on what it has decompressed before it fails, where a
  // 1 MiB chunk would lose everything since the last full chunk with the error.
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  // Errors reach us through gunzip, which pipeline destroys with them.
  pipeline(Readable.from(replay(), { objectMode: false }), gunzip, () => undefined);
  try {
    return await readStream(gunzip, path, fileIndex, sink, true);
  } finally {
    gunzip.destroy();
  }
}

function isZlibError(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** A cut gzip file is the common case (copied while still being written): say which it was. */
function gzipDamage(report: CaptureFileReport, err: NodeJS.ErrnoException): void {
  if (err.code === 'Z_BUF_ERROR') {
    report.notes.push(`gzip data ends early (${err.message}) after ${report.bytes} decompressed bytes`);
  } else {
    report.damaged++;
    report.notes.push(
      `gzip data damaged after ${report.bytes} decompressed bytes (${err.message}); stopped reading the file there`,
    );
  }
}

/** "not a pcap or pcapng file (starts with …)", naming the likely format when it is a common one. */
function unknownFormat(first: Buffer, len: number): string {
  const shown = first.subarray(0, Math.min(len, 8));
  const hex = Array.from(shown, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const more = len > shown.length ? ' …' : '';
  let hint = '';
  const sample = first.subarray(0, Math.min(len, 512));
  if (startsWith(first, [0x28, 0xb5, 0x2f, 0xfd])) hint = '; looks zstd-compressed, only gzip is undone';
  else if (startsWith(first, [0xfd, 0x37, 0x7a, 0x58, 0x5a])) hint = '; looks xz-compressed, only gzip is undone';
  else if (startsWith(first, [0x42, 0x5a, 0x68])) hint = '; looks bzip2-compressed, only gzip is undone';
  else if (startsWith(first, [0x50, 0x4b, 0x03, 0x04])) hint = '; looks like a zip archive';
  else if (len >= 262 && first.toString('latin1', 257, 262) === 'ustar') hint = '; looks like a tar archive';
  else if (first.toString('latin1', 0, 5) === 'snoop') hint = '; looks like a snoop capture, which is not supported';
  else if (looksLikeText(sample)) {
    const line = sample.toString('utf8').split(/\r?\n/, 1)[0].slice(0, 40);
    hint = `; looks like text: "${line}"`;
  }
  return `not a pcap or pcapng file (starts with ${hex}${more}${hint})`;
}

function startsWith(buf: Buffer, bytes: number[]): boolean {
  return buf.length >= bytes.length && bytes.every((b, i) => buf[i] === b);
}

/** Printable ASCII, whitespace or UTF-8 multibyte sequences only. */
function looksLikeText(sample: Buffer): boolean {
  if (sample.length === 0) return false;
  for (const b of sample) {
    if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f) || b >= 0x80) continue;
    return false;
  }
  // Reject byte soup above 0x7f that is not valid UTF-8.
  return !sample.toString('utf8').includes('\ufffd');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
