/**
 * A capture source: one capture's bytes wherever they lie, a file of its own or a member
 * of a tar archive (plain or gzipped), and how to stream those bytes without extracting.
 */
import { createReadStream } from 'node:fs';
import { READ_CHUNK, fileChunks, gunzipChunks, sliceChunks, streamChunks, type Chunks } from './chunks.js';

export interface FileLocation {
  kind: 'file';
  path: string;
}

export interface TarMemberLocation {
  kind: 'tar-member';
  /** The archive on disk. */
  archive: string;
  /** True for a tar.gz: the member's bytes are found by decompressing from the archive's start. */
  archiveGzip: boolean;
  /** Path inside the archive. */
  member: string;
  /** Where the member's data starts in the (decompressed) archive. */
  offset: number;
  /** The size its header states. */
  size: number;
  /** The bytes the archive really holds: less than size when the archive was cut inside the member. */
  available: number;
}

export interface CaptureSource {
  /** What reports and errors call it: the file's path, or `archive.tar:member/path`. */
  name: string;
  location: FileLocation | TarMemberLocation;
  /**
   * Time of its first packet (µs since the epoch) seen when the source was listed; null when
   * none was within the bytes looked at. The merge opens a source only once it reaches this
   * time, so that time-disjoint files (rotated captures) are never open together.
   */
  firstTs: number | null;
  /** What listing found odd about it (a member cut short); copied into its report. */
  notes: string[];
}

/** A source for a plain file named by the caller (readCaptures on paths already known to be captures). */
export function fileSource(path: string): CaptureSource {
  return { name: path, location: { kind: 'file', path }, firstTs: null, notes: [] };
}

/**
 * The source's raw bytes (gzip of the capture itself still to be undone). `readAhead` uses an
 * fs.ReadStream, which overlaps reading with parsing: right for one source read alone; the
 * merge asks for pull-only reads so that each open source holds one chunk, no more.
 */
export function sourceChunks(source: CaptureSource, readAhead: boolean, chunkSize = READ_CHUNK): Chunks {
  const loc = source.location;
  if (loc.kind === 'file') {
    return readAhead ? streamChunks(createReadStream(loc.path, { highWaterMark: chunkSize })) : fileChunks(loc.path, 0, Infinity, chunkSize);
  }
  if (!loc.archiveGzip) {
    const end = loc.offset + loc.available;
    if (!readAhead || loc.available === 0) return fileChunks(loc.archive, loc.offset, end, chunkSize);
    return streamChunks(createReadStream(loc.archive, { start: loc.offset, end: end - 1, highWaterMark: chunkSize }));
  }
  // gzip cannot seek: decompress from the start and keep only the member's bytes.
  return sliceChunks(gunzipChunks(fileChunks(loc.archive, 0, Infinity, chunkSize)), loc.offset, loc.available);
}

/** The first `max` bytes at a location (a side file of the snapshot, such as its manifest), as stored: gzip not undone. */
export async function readLocation(location: FileLocation | TarMemberLocation, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  const chunks = sourceChunks({ name: '', location, firstTs: null, notes: [] }, false);
  try {
    while (n < max) {
      const next = await chunks.next();
      if (next.done) break;
      parts.push(next.value);
      n += next.value.length;
    }
  } finally {
    await chunks.return?.();
  }
  const all = Buffer.concat(parts);
  return all.length > max ? all.subarray(0, max) : all;
}
