/**
 * Byte streams as async iterators of chunks: a range of a file, gzip undone, a slice of
 * another stream. Readers and the archive walker compose these instead of node streams
 * so that a reader pulls exactly what it parses (nothing read ahead) and so that closing
 * an iterator releases everything beneath it.
 *
 * Every chunk is a buffer of its own, never written to again: the merge in merge.ts keeps
 * packets as views into chunks until they are handed on, which is only sound because no
 * layer here recycles a buffer. (zlib also allocates a fresh output buffer whenever one
 * fills and hands on disjoint slices of the current one, so gunzip output has the same
 * property.)
 */
import { open } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Chunks = AsyncIterator<Buffer>;

/** What readers pull from a file: large enough that per-chunk costs vanish. */
export const READ_CHUNK = 1024 * 1024;
/**
 * gunzip output chunks. Smaller than READ_CHUNK because zlib hands on what it decompressed
 * before an error only chunk by chunk: with 64 KiB a cut .gz loses at most that much.
 */
export const GUNZIP_CHUNK = 64 * 1024;

/**
 * Bytes [start, end) of a file in chunks of at most chunkSize, read only when asked for.
 * end = Infinity reads to the end of the file. Opening errors surface on the first next().
 */
export async function* fileChunks(path: string, start = 0, end = Infinity, chunkSize = READ_CHUNK): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    let pos = start;
    while (pos < end) {
      const want = Math.min(chunkSize, end - pos);
      // A fresh buffer per read: see the note at the top of this file.
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** The chunks of a Readable (fs.ReadStream reads ahead: the fast path for a lone file). */
export function streamChunks(stream: Readable): Chunks {
  return stream[Symbol.asyncIterator]() as Chunks;
}

/** Chunks already in hand followed by the rest of an iterator; closing it closes the rest. */
export async function* prepend(first: Buffer[], rest: Chunks | null): AsyncGenerator<Buffer> {
  try {
    for (const b of first) if (b.length > 0) yield b;
    if (rest === null) return;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    await rest?.return?.();
  }
}

/**
 * gzip undone. zlib errors (damaged or cut data) are thrown from next() as zlib raised them
 * (code Z_*), after every byte decompressed before the damage has been handed on.
 */
export async function* gunzipChunks(input: Chunks): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const source = Readable.from(
    { [Symbol.asyncIterator]: () => input },
    { objectMode: false, highWaterMark: GUNZIP_CHUNK },
  );
  // Errors reach us through gunzip, which pipeline destroys with them.
  pipeline(source, gunzip, () => undefined);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}

/** Bytes [skip, skip + take) of a stream, as views into its chunks (no copying). */
export async function* sliceChunks(input: Chunks, skip: number, take: number): AsyncGenerator<Buffer> {
  try {
    let toSkip = skip;
    let left = take;
    while (left > 0) {
      const next = await input.next();
      if (next.done === true) return;
      let chunk = next.value;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      if (chunk.length > left) chunk = chunk.subarray(0, left);
      left -= chunk.length;
      yield chunk;
    }
  } finally {
    await input.return?.();
  }
}

export function isZlibError(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Sequential reads of exact sizes over a stream, for walking an archive: `read` returns
 * fewer bytes only at the end of the input, `skip` moves on without keeping anything.
 */
export interface ByteReader {
  /** Bytes consumed so far (the position in the decompressed archive). */
  readonly position: number;
  /** Set when the input ended on an error (damaged or cut gzip): why. */
  readonly failure: string | null;
  read(n: number): Promise<Buffer>;
  /** Returns how many bytes were actually passed over (fewer at the end of the input). */
  skip(n: number): Promise<number>;
  close(): Promise<void>;
}

/** A ByteReader on a plain file: skipping is a seek, so listing a tar reads only its headers. */
export async function fileByteReader(path: string): Promise<ByteReader> {
  const fh = await open(path, 'r');
  const size = (await fh.stat()).size;
  let position = 0;
  return {
    get position() {
      return position;
    },
    failure: null,
    async read(n) {
      const want = Math.max(0, Math.min(n, size - position));
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      position += got;
      return got === want ? buf : buf.subarray(0, got);
    },
    async skip(n) {
      const moved = Math.max(0, Math.min(n, size - position));
      position += moved;
      return moved;
    },
    close: () => fh.close(),
  };
}

/** A ByteReader over chunks (a gunzipped archive): skipping reads and drops. */
export function chunkByteReader(chunks: Chunks): ByteReader {
  let position = 0;
  let failure: string | null = null;
  let ended = false;
  let held: Buffer | null = null;

  async function more(): Promise<Buffer | null> {
    if (held !== null && held.length > 0) {
      const h = held;
      held = null;
      return h;
    }
    if (ended) return null;
    try {
      const next = await chunks.next();
      if (next.done === true) {
        ended = true;
        return null;
      }
      return next.value;
    } catch (err) {
      if (!isZlibError(err)) throw err;
      ended = true;
      failure = err.code === 'Z_BUF_ERROR' ? `gzip data ends early (${err.message})` : `gzip data damaged (${err.message})`;
      return null;
    }
  }

  return {
    get position() {
      return position;
    },
    get failure() {
      return failure;
    },
    async read(n) {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < n) {
        const c = await more();
        if (c === null) break;
        const take = Math.min(c.length, n - got);
        parts.push(c.subarray(0, take));
        if (take < c.length) held = c.subarray(take);
        got += take;
      }
      position += got;
      // Copied: the caller may keep a header while the stream moves on.
      return Buffer.concat(parts, got);
    },
    async skip(n) {
      let moved = 0;
      while (moved < n) {
        const c = await more();
        if (c === null) break;
        const take = Math.min(c.length, n - moved);
        if (take < c.length) held = c.subarray(take);
        moved += take;
      }
      position += moved;
      return moved;
    },
    async close() {
      held = null;
      await chunks.return?.();
    },
  };
}
