/**
 * A tar walker: ustar, GNU (long names, base-256 sizes) and pax (path and size records)
 * headers, read one 512-byte block at a time from a ByteReader. It never holds an entry's
 * data: the caller may read the start of each entry before asking for the next one, and
 * the walker skips the rest (a seek on a plain file, a read-and-drop through gzip).
 *
 * Our own rather than tar-stream: tar-stream hides where an entry's bytes lie in the
 * archive, and the merge needs exactly that to read several entries of one archive side by
 * side without extracting them. The format is small and old; what is not a regular file's
 * data is passed over with a reason.
 */
import { TAR_BLOCK } from './format.js';
import type { ByteReader } from './chunks.js';

export interface TarEntry {
  /** Path inside the archive, "./" prefixes removed. */
  name: string;
  /** The header's type flag: '0' regular file, '5' directory, '2' symbolic link, ... */
  type: string;
  /** Size of the entry's data as its header states it. */
  size: number;
  /** Where its data starts in the (decompressed) archive. */
  offset: number;
  /** Data bytes the archive actually holds: less than size when the archive was cut short. Known once the walker has moved past the entry. */
  available: number;
}

/** pax and GNU long-name records larger than this are not names anyone meant. */
const MAX_META = 1024 * 1024;

export class TarWalker {
  /** Problems with the archive as a whole: cut short, damaged header, missing end marker. */
  readonly problems: string[] = [];
  private current: TarEntry | null = null;
  private finished = false;

  constructor(
    private readonly reader: ByteReader,
    private readonly label: string,
  ) {}

  /**
   * The next regular file or other entry, after skipping the rest of the previous one;
   * null at the end of the archive (or where it stops being readable: see problems).
   */
  async next(): Promise<TarEntry | null> {
    if (this.finished) return null;
    if (this.current !== null && !(await this.finishEntry(this.current))) return this.stop();
    this.current = null;
    let longName: string | null = null;
    let pax = null as Map<string, string> | null;
    for (;;) {
      const at = this.reader.position;
      const header = await this.reader.read(TAR_BLOCK);
      if (header.length === 0) {
        this.problem(`${this.label} ends without an end-of-archive marker after byte ${at}: it may have been cut short${this.why()}`);
        return this.stop();
      }
      if (header.length < TAR_BLOCK) {
        this.problem(`${this.label} ends inside a tar header at byte ${at} (${header.length} of 512 bytes)${this.why()}`);
        return this.stop();
      }
      if (isZeroBlock(header)) return this.stop();
      if (!checksumOk(header)) {
        this.problem(`${this.label}: damaged tar header at byte ${at} (checksum mismatch); the rest of the archive was not read`);
        return this.stop();
      }
      const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]);
      let size = readNumber(header, 124, 12);
      if (size < 0) {
        this.problem(`${this.label}: tar header at byte ${at} has an unreadable size; the rest of the archive was not read`);
        return this.stop();
      }
      if (pax?.has('size') === true && type !== 'x' && type !== 'g') {
        const paxSize = Number(pax.get('size'));
        if (Number.isSafeInteger(paxSize) && paxSize >= 0) size = paxSize;
      }
      const offset = this.reader.position;
      // Metadata entries describe the next header: read them and go on.
      if (type === 'L' || type === 'x' || type === 'g' || type === 'K') {
        const keep = (type === 'L' || type === 'x') && size <= MAX_META;
        const data = keep ? await this.reader.read(size) : null;
        const entry: TarEntry = { name: '', type, size, offset, available: data?.length ?? 0 };
        if (data === null) {
          if (!(await this.finishEntry(entry))) return this.stop();
        } else {
          if (data.length < size) {
            this.problem(`${this.label} ends inside a tar metadata entry at byte ${offset}${this.why()}`);
            return this.stop();
          }
          await this.reader.skip(padding(size));
          if (type === 'L') longName = cString(data, 0, data.length);
          else pax = parsePax(data);
        }
        continue;
      }
      let name = longName ?? ustarName(header);
      const paxPath = pax?.get('path');
      if (paxPath !== undefined) name = paxPath;
      // Pre-POSIX tars mark directories only by a trailing slash on a regular entry.
      const dirType = (type === '0' || type === '7') && name.endsWith('/') ? '5' : type;
      const entry: TarEntry = { name: cleanName(name), type: dirType, size, offset, available: size };
      // Only regular files have data; others' size fields are not to be trusted (hard links say 0, GNU sparse lies).
      this.current = entry;
      return entry;
    }
  }

  /** Skips the rest of an entry and its padding; false (and a problem) when the archive ends inside it. */
  private async finishEntry(entry: TarEntry): Promise<boolean> {
    const dataEnd = entry.offset + entry.size;
    const before = this.reader.position;
    const moved = await this.reader.skip(dataEnd - before);
    if (before + moved < dataEnd) {
      entry.available = before + moved - entry.offset;
      this.problem(
        `${this.label} ends ${entry.available} bytes into ${entry.name === '' ? 'a metadata entry' : entry.name}, ` +
          `which should have ${entry.size}${this.why()}`,
      );
      return false;
    }
    // A cut inside the padding loses nothing: the next read finds the end.
    await this.reader.skip(padding(entry.size));
    return true;
  }

  /** The gzip failure that ended the input early, if that is what happened. */
  private why(): string {
    return this.reader.failure === null ? '' : ` (${this.reader.failure})`;
  }

  private problem(text: string): void {
    this.problems.push(text);
  }

  private stop(): null {
    this.finished = true;
    return null;
  }
}

function padding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The checksum is the byte sum with its own field read as spaces; some old tars summed signed bytes. */
function checksumOk(h: Buffer): boolean {
  const stated = readNumber(h, 148, 8);
  if (stated < 0) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stated === unsigned || stated === signed;
}

/** An octal field (NUL- or space-terminated), or GNU's base-256 for big values; -1 when unreadable. */
function readNumber(h: Buffer, off: number, len: number): number {
  if (h[off] & 0x80) {
    // Base-256: the rest of the first byte's bits and the following bytes, big-endian.
    if (h[off] & 0x40) return -1; // negative
    let v = h[off] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + h[off + i];
    return Number.isSafeInteger(v) ? v : -1;
  }
  const text = h.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return -1;
  return parseInt(text, 8);
}

function ustarName(h: Buffer): string {
  const name = cString(h, 0, 100);
  // The prefix field exists in ustar ("ustar\0"); GNU's "ustar  " uses those bytes otherwise.
  if (h.toString('latin1', 257, 263) === 'ustar\0') {
    const prefix = cString(h, 345, 155);
    if (prefix !== '') return `${prefix}/${name}`;
  }
  return name;
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** "LEN key=value\n" records. */
function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('latin1', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > data.length) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

function cleanName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}
