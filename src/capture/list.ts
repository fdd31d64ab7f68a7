/**
 * A snapshot's capture sources from the paths a user named: directories walked in name
 * order, tar and tar.gz archives opened member by member, everything recognised by its
 * first bytes. A path named explicitly must be a capture (or an archive holding one): it is
 * what the user asked for. What a directory or an archive holds beside the captures (a
 * README, the cluster's manifest) is passed over and listed with the reason.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chunkByteReader, fileByteReader, fileChunks, gunzipChunks, isZlibError, prepend, type ByteReader, type Chunks } from './chunks.js';
import { detectFormat, isGzip, isTar, notCaptureReason, unknownFormat } from './format.js';
import { closeQuietly, createParser, newReport } from './open.js';
import { CaptureError, type Packet } from './packet.js';
import type { CaptureSource, FileLocation, TarMemberLocation } from './source.js';
import { TarWalker, type TarEntry } from './tar.js';

export interface SkippedInput {
  /** The file, or `archive.tar:member`, that was passed over. */
  name: string;
  reason: string;
  /** Where its bytes are, for a file that is not a capture but may be something else of the snapshot (its manifest). */
  location?: FileLocation | TarMemberLocation;
}

export interface CaptureSourceList {
  /** In the order read: paths as given, directories by name, archive members in archive order. A source's index here is its packets' fileIndex. */
  sources: CaptureSource[];
  /** Files and archive members that are not captures, with why. */
  skipped: SkippedInput[];
  /** Archives that are cut short or damaged, and anything else odd about the inputs as a whole. */
  notes: string[];
}

/** How much of each file is looked at: enough for every magic and, nearly always, a first packet's time. */
const PEEK_BYTES = 64 * 1024;

type Peek =
  | { kind: 'capture'; firstTs: number | null }
  | { kind: 'tar'; gzip: boolean }
  /** `reason` for the skipped list, `message` for the error when the file was named explicitly. */
  | { kind: 'other'; reason: string; message: string };

/**
 * Lists the capture sources under `paths`. Throws CaptureError for a named path that cannot
 * be read or is not a capture, for a named archive without a capture, and when nothing at all
 * is found; never for what a directory or archive holds besides captures.
 */
export async function listCaptureSources(paths: string[]): Promise<CaptureSourceList> {
  const list: CaptureSourceList = { sources: [], skipped: [], notes: [] };
  const visited = new Set<string>();
  for (const p of paths) {
    const abs = resolve(p);
    let isDir: boolean;
    try {
      const st = await stat(abs);
      if (!st.isDirectory() && !st.isFile()) throw new CaptureError(`${p}: not a regular file or directory`, p);
      isDir = st.isDirectory();
    } catch (e) {
      if (e instanceof CaptureError) throw e;
      throw new CaptureError(`cannot read ${p}: ${errorCode(e)}`, p);
    }
    if (isDir) await walkDirectory(abs, list, visited);
    else await addFile(abs, true, list);
  }
  if (list.sources.length === 0) {
    const why = list.skipped.slice(0, 5).map((s) => `${s.name}: ${s.reason}`);
    const more = list.skipped.length > 5 ? `; and ${list.skipped.length - 5} more` : '';
    const detail = why.length > 0 ? ` (skipped ${why.join('; ')}${more})` : '';
    throw new CaptureError(`no capture files under ${paths.join(' ')}${detail}`, paths.join(' '));
  }
  return list;
}

async function walkDirectory(dir: string, list: CaptureSourceList, visited: Set<string>): Promise<void> {
  // Symbolic links are followed, so a link back up the tree would walk forever.
  const real = await realpath(dir);
  if (visited.has(real)) {
    list.skipped.push({ name: dir, reason: 'directory already walked (a link loop or a repeated path)' });
    return;
  }
  visited.add(real);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    list.skipped.push({ name: dir, reason: `cannot read: ${errorCode(e)}` });
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name.startsWith('.')) {
      list.skipped.push({ name: path, reason: 'hidden' });
      continue;
    }
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      list.skipped.push({ name: path, reason: `cannot read: ${errorCode(e)}` });
      continue;
    }
    if (st.isDirectory()) await walkDirectory(path, list, visited);
    else if (st.isFile()) await addFile(path, false, list);
    else list.skipped.push({ name: path, reason: 'not a regular file' });
  }
}

async function addFile(path: string, explicit: boolean, list: CaptureSourceList): Promise<void> {
  let peek: Peek;
  try {
    peek = await peekContent(fileChunks(path, 0, Infinity, PEEK_BYTES), path);
  } catch (e) {
    if (explicit) throw new CaptureError(`cannot read ${path}: ${errorCode(e)}`, path);
    list.skipped.push({ name: path, reason: `cannot read: ${errorCode(e)}` });
    return;
  }
  if (peek.kind === 'capture') {
    list.sources.push({ name: path, location: { kind: 'file', path }, firstTs: peek.firstTs, notes: [] });
  } else if (peek.kind === 'tar') {
    let found: number;
    try {
      found = await addArchive(path, peek.gzip, list);
    } catch (e) {
      if (e instanceof CaptureError) throw e;
      if (explicit) throw new CaptureError(`cannot read ${path}: ${errorCode(e)}`, path);
      list.skipped.push({ name: path, reason: `cannot read: ${errorCode(e)}` });
      return;
    }
    if (explicit && found === 0) throw new CaptureError(`${path}: no capture files in the archive${skippedIn(path, list)}`, path);
  } else if (explicit) {
    throw new CaptureError(peek.message, path);
  } else {
    list.skipped.push({ name: path, reason: peek.reason, location: { kind: 'file', path } });
  }
}

/** Lists an archive's capture members; returns how many were found. */
async function addArchive(path: string, gzip: boolean, list: CaptureSourceList): Promise<number> {
  const reader: ByteReader = gzip ? chunkByteReader(gunzipChunks(fileChunks(path))) : await fileByteReader(path);
  const walker = new TarWalker(reader, path);
  let found = 0;
  /** The last capture member: its available size is known once the walker has moved past it. */
  let last: { source: CaptureSource; entry: TarEntry } | null = null;
  const settle = (): void => {
    if (last === null) return;
    const loc = last.source.location;
    if (loc.kind === 'tar-member' && last.entry.available < loc.size) {
      loc.available = last.entry.available;
      last.source.notes.push(
        `the archive ends ${loc.available} bytes into this member, which should have ${loc.size}: read what is there`,
      );
    }
    last = null;
  };
  try {
    for (let entry = await walker.next(); entry !== null; entry = await walker.next()) {
      settle();
      const name = `${path}:${entry.name}`;
      const regular = entry.type === '0' || entry.type === '7';
      if (entry.type === '5') continue; // directories carry nothing of their own
      if (entry.name.split('/').some((part) => part.startsWith('.') && part !== '.' && part !== '..')) {
        list.skipped.push({ name, reason: 'hidden' });
        continue;
      }
      if (!regular) {
        list.skipped.push({ name, reason: memberTypeReason(entry.type) });
        continue;
      }
      const head = await reader.read(Math.min(entry.size, PEEK_BYTES));
      const peek = await peekContent(prepend([head], null), name);
      if (peek.kind === 'tar') {
        list.skipped.push({ name, reason: 'an archive inside an archive: not read (extract it first)' });
      } else if (peek.kind === 'other') {
        list.skipped.push({
          name, reason: peek.reason,
          location: { kind: 'tar-member', archive: path, archiveGzip: gzip, member: entry.name, offset: entry.offset, size: entry.size, available: entry.size },
        });
      } else {
        const source: CaptureSource = {
          name,
          location: {
            kind: 'tar-member',
            archive: path,
            archiveGzip: gzip,
            member: entry.name,
            offset: entry.offset,
            size: entry.size,
            available: entry.size,
          },
          firstTs: peek.firstTs,
          notes: [],
        };
        list.sources.push(source);
        last = { source, entry };
        found++;
      }
    }
    settle();
  } finally {
    await reader.close();
  }
  list.notes.push(...walker.problems);
  return found;
}

/**
 * What a stream of raw bytes holds, from its first PEEK_BYTES (decompressed when gzip).
 * Closes `raw`. Read errors other than gzip damage are thrown.
 */
async function peekContent(raw: Chunks, name: string): Promise<Peek> {
  let head: Buffer;
  let rest: Chunks | null;
  try {
    ({ head, rest } = await readUpTo(raw, PEEK_BYTES));
  } catch (e) {
    await closeQuietly(raw);
    throw e;
  }
  if (head.length === 0) {
    return { kind: 'other', reason: 'not a capture: empty file', message: `${name}: empty file, not a capture` };
  }
  if (!isGzip(head)) {
    if (rest !== null) await closeQuietly(rest);
    return classify(head, name, '');
  }
  const unzipped = gunzipChunks(prepend([head], rest));
  try {
    let inner: Buffer;
    try {
      inner = (await readUpTo(unzipped, PEEK_BYTES)).head;
    } catch (e) {
      if (!isZlibError(e)) throw e;
      return { kind: 'other', reason: 'not a capture: gzip data is damaged', message: `${name}: gzip data is damaged (${e.message})` };
    }
    if (inner.length === 0) {
      return {
        kind: 'other',
        reason: 'not a capture: empty after gzip decompression',
        message: `${name}: empty file after gzip decompression, not a capture`,
      };
    }
    if (isGzip(inner)) {
      return { kind: 'other', reason: 'not a capture: gzip inside gzip', message: `${name}: gzip inside gzip, not a capture` };
    }
    if (isTar(inner) && detectFormat(inner) === 'unknown') return { kind: 'tar', gzip: true };
    return classify(inner, name, ' after gzip decompression');
  } finally {
    await closeQuietly(unzipped);
  }
}

function classify(head: Buffer, name: string, inside: string): Peek {
  const format = detectFormat(head);
  if (format === 'pcap' || format === 'pcapng') return { kind: 'capture', firstTs: firstPacketTs(format, head) };
  if (inside === '' && isTar(head)) return { kind: 'tar', gzip: false };
  const reason = notCaptureReason(head) + inside;
  return { kind: 'other', reason, message: `${name}: ${unknownFormat(head)}${inside}` };
}

/** The first packet's time in the bytes at hand, found by the reader itself so that it agrees with what reading yields. */
function firstPacketTs(format: 'pcap' | 'pcapng', head: Buffer): number | null {
  let ts: number | null = null;
  const parser = createParser(format, newReport('peek', format), 0, (p: Packet) => {
    if (ts === null) ts = p.ts;
  });
  parser?.push(head);
  return ts;
}

/**
 * At least `limit` bytes (or all there is) from chunks, and the chunks still unread (null at
 * the end). A gzip stream that fails after giving some bytes gives those bytes: a cut file
 * is still worth recognising. A failure before any byte is thrown.
 */
async function readUpTo(chunks: Chunks, limit: number): Promise<{ head: Buffer; rest: Chunks | null }> {
  const parts: Buffer[] = [];
  let len = 0;
  while (len < limit) {
    let next: IteratorResult<Buffer>;
    try {
      next = await chunks.next();
    } catch (e) {
      if (isZlibError(e) && len > 0) return { head: Buffer.concat(parts, len), rest: null };
      throw e;
    }
    if (next.done === true) return { head: Buffer.concat(parts, len), rest: null };
    parts.push(next.value);
    len += next.value.length;
  }
  return { head: Buffer.concat(parts, len), rest: chunks };
}

function memberTypeReason(type: string): string {
  switch (type) {
    case '1':
      return 'a hard link: not read';
    case '2':
      return 'a symbolic link: not read';
    case '3':
    case '4':
      return 'a device file: not read';
    case '6':
      return 'a FIFO: not read';
    case 'S':
      return 'a GNU sparse file: not supported';
    default:
      return `a tar entry of type '${type}': not read`;
  }
}

function skippedIn(archive: string, list: CaptureSourceList): string {
  const mine = list.skipped.filter((s) => s.name.startsWith(`${archive}:`));
  if (mine.length === 0) return '';
  const shown = mine.slice(0, 5).map((s) => `${s.name.slice(archive.length + 1)}: ${s.reason}`);
  return ` (skipped ${shown.join('; ')}${mine.length > 5 ? `; and ${mine.length - 5} more` : ''})`;
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
}
