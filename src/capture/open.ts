/**
 * Opens one capture's bytes: recognises the format by its first bytes (never by its name),
 * undoes gzip on the way and hands the bytes to the pcap or pcapng push parser.
 * Memory stays at one read chunk plus at most one record, whatever the file's size.
 */
import { createReadStream } from 'node:fs';
import { READ_CHUNK, gunzipChunks, isZlibError, prepend, streamChunks, type Chunks } from './chunks.js';
import { MAGIC_BYTES, detectFormat, unknownFormat, type DetectedFormat } from './format.js';
import { CaptureError, type CaptureFileReport, type PacketSink } from './packet.js';
import { PcapReader } from './pcap.js';
import { PcapngReader } from './pcapng.js';

export { detectFormat, type DetectedFormat } from './format.js';

/** What both push parsers offer the opener. */
export interface CaptureParser {
  readonly report: CaptureFileReport;
  readonly stopped: boolean;
  push(chunk: Buffer): void;
  end(): CaptureFileReport;
}

/** A fresh report for a file; the parsers fill it in. */
export function newReport(path: string, format: CaptureFileReport['format'] = 'unknown', compressed = false): CaptureFileReport {
  return {
    path,
    format,
    compressed,
    bytes: 0,
    packets: 0,
    packetBytes: 0,
    linkTypes: [],
    damaged: 0,
    truncatedBytes: 0,
    interfaces: [],
    notes: [],
    firstTs: null,
    lastTs: null,
    sections: [],
    decryptionSecrets: [],
    comments: [],
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

/** A capture whose format is known and whose parser has not yet seen a byte. */
export interface OpenedCapture {
  parser: CaptureParser;
  /** The first decoded bytes, already read to recognise the format. */
  first: Buffer;
  /** The decoded bytes after `first`; null when `first` was all there is. */
  rest: Chunks | null;
}

export interface OpenOptions {
  /** Mark the report compressed even when the bytes themselves are not gzip (a member of a tar.gz). */
  compressed?: boolean;
}

/**
 * Recognises the capture in a stream of raw chunks, undoing one layer of gzip. Throws
 * CaptureError when the bytes cannot be read or are not a capture. Closes `raw` on failure;
 * on success the caller owns `rest` and must finish it (pump) or return() it.
 */
export async function openCapture(
  raw: Chunks,
  name: string,
  fileIndex: number,
  sink: PacketSink,
  opts: OpenOptions = {},
): Promise<OpenedCapture> {
  try {
    return await openLayer(raw, name, fileIndex, sink, opts.compressed === true, false);
  } catch (err) {
    await closeQuietly(raw);
    throw err;
  }
}

async function openLayer(
  raw: Chunks,
  name: string,
  fileIndex: number,
  sink: PacketSink,
  compressed: boolean,
  insideGzip: boolean,
): Promise<OpenedCapture> {
  // Collect just enough of the start to recognise the format (one chunk, unless it is tiny).
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < MAGIC_BYTES) {
    const next = await nextChunk(raw, name);
    if ('zlibError' in next) throw new CaptureError(`${name}: gzip data is damaged (${next.zlibError.message})`, name);
    if (next.done === true) {
      done = true;
      break;
    }
    head.push(next.value);
    headLen += next.value.length;
  }
  const first = head.length === 1 ? head[0] : Buffer.concat(head, headLen);
  const inside = insideGzip ? ' after gzip decompression' : '';
  if (headLen === 0) throw new CaptureError(`${name}: empty file${inside}, not a capture`, name);

  const format = detectFormat(first);
  if (format === 'gzip') {
    if (insideGzip) throw new CaptureError(`${name}: gzip inside gzip, not a capture`, name);
    const unzipped = gunzipChunks(prepend([first], done ? null : raw));
    try {
      return await openLayer(unzipped, name, fileIndex, sink, true, true);
    } catch (err) {
      await closeQuietly(unzipped);
      throw err;
    }
  }
  const report = newReport(name, format === 'unknown' ? 'unknown' : format, compressed || insideGzip);
  const parser = createParser(format, report, fileIndex, sink);
  if (parser === null) throw new CaptureError(`${name}: ${unknownFormat(first, headLen)}${inside}`, name);
  return { parser, first, rest: done ? null : raw };
}

/** Feeds every remaining chunk to the parser (the fast path: packets go straight to the sink). */
export async function pump(opened: OpenedCapture, name: string, between?: () => Promise<void> | null): Promise<CaptureFileReport> {
  const { parser, rest } = opened;
  try {
    parser.push(opened.first);
    let finished = rest === null || parser.stopped;
    while (!finished) {
      const wait = between?.();
      if (wait) await wait;
      finished = await pushNext(parser, rest as Chunks, name);
    }
    return parser.end();
  } finally {
    // Stopping early (damage, an error from the sink) must still release the stream.
    await rest?.return?.();
  }
}

/**
 * Pushes the next chunk of `chunks` to the parser. Returns true when the input is finished:
 * its end, a gzip failure (noted in the report) or a parser that stopped on damage.
 */
export async function pushNext(parser: CaptureParser, chunks: Chunks, name: string): Promise<boolean> {
  if (parser.stopped) return true;
  const next = await nextChunk(chunks, name);
  if ('zlibError' in next) {
    // Once the capture has started, broken compression is damage to report like any other,
    // keeping the packets before it.
    gzipDamage(parser.report, next.zlibError);
    return true;
  }
  if (next.done === true) return true;
  parser.push(next.value);
  return parser.stopped;
}

/**
 * Reads one capture file, calling sink for every packet. Throws CaptureError when the file
 * cannot be opened or is not a capture; damage inside a capture is reported, not thrown.
 */
export async function readCaptureFile(path: string, fileIndex: number, sink: PacketSink): Promise<CaptureFileReport> {
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    return await pump(await openCapture(streamChunks(file), path, fileIndex, sink), path);
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
async function nextChunk(chunks: Chunks, name: string): Promise<IteratorResult<Buffer> | ZlibFailure> {
  try {
    return await chunks.next();
  } catch (err) {
    if (isZlibError(err)) return { zlibError: err };
    if (err instanceof CaptureError) throw err;
    throw new CaptureError(`cannot read ${name}: ${describe(err)}`, name);
  }
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

/** Releases a stream after a failure that is already being reported. */
export async function closeQuietly(chunks: Chunks): Promise<void> {
  try {
    await chunks.return?.();
  } catch {
    // The first error is the one worth reporting.
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
