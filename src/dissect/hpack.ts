/**
 * HPACK (RFC 7541) header block decoding for the HTTP/2 dissector, built to
 * read captures: a block that references dynamic-table entries inserted before
 * the capture began is decoded as far as it can be, and what could not be
 * decoded is reported instead of failing the whole block.
 *
 * Strings are returned as latin1 (one UTF-16 code unit per octet), as the
 * HTTP/1 dissector does: lossless, and an entry's size in octets (section 4.1)
 * is name.length + value.length + 32.
 *
 * ## Decoding without the start of the connection
 *
 * HPACK's dynamic table is a FIFO: the newest entry has index 62, the one
 * inserted before it 63, and so on; the oldest entries are evicted first. A
 * capture that begins mid-connection misses the insertions made before it,
 * and their evictions too. The decoder keeps going this way:
 *
 * - Every "literal with incremental indexing" seen is inserted, exactly as the
 *   peer's decoder does, so after N insertions seen the entries we know are
 *   exactly the N newest of the peer's table and hold indices 62..61+N: the
 *   same positions as in the peer's table. Entries from before the capture sit
 *   "beyond the known end": an index above 61 + tableLength names one of them
 *   (or an entry we already evicted, below), and is reported in `missing`
 *   (`kind: 'indexed'`, nothing emitted) or, as the name of a literal, gives
 *   the name `:unknown-name-<index>` (`kind: 'name'`, the value kept).
 * - If such a literal is inserted, its entry goes in with the placeholder name
 *   so that later indices stay aligned; a later reference to that entry again
 *   reports the name as missing (at the index used now), and the placeholder
 *   keeps the index at which the name was first lost. Its size counts the
 *   value and the 32 octets only (the name's length is unknown): a lower bound.
 *   A name can stay unknown for good: encoders (nghttp2 among them) insert
 *   each new value of a changing header (x-request-id, date) with its name
 *   indexed from the previous entry of that header, so a name first sent
 *   before the capture is never sent again. Its values are all decoded, under
 *   one placeholder name.
 * - Evictions: the peer evicts its oldest entries first, so the unseen ones go
 *   before any entry we saw. One of ours is evicted only once the unseen ones
 *   are gone, and then by the same size accounting as ours. We evict by that
 *   accounting with the table size we know (4096, the HTTP/2 initial value,
 *   or what a size update in a block we saw said).
 *
 * Why a resolved index is never wrong: at any moment the peer's table is the
 * newest k of all insertions, followed by unseen entries while any remain
 * (an entry too large for the table empties it and is not inserted, which
 * keeps this true); ours is the newest n insertions we saw. Both lists start with the same
 * entries in the same order, so wherever both have an entry at an index it
 * is the same entry. If we keep more than the peer (a placeholder's size
 * underestimated, or a table size we believe larger than the peer's), the
 * peer never references past its own end, so the extra entries are never
 * used. If we keep fewer (we believe the table smaller than it is, for
 * instance after a size update made before the capture), references past our
 * end are reported as missing, never resolved to the wrong entry. So: after
 * N insertions seen, indices 62..61+N are exact while the peer still holds
 * them, and higher ones are unknown; an older request's reference becomes
 * exact once every entry it refers to was inserted while we watched.
 *
 * A malformed block (or an index past the end when the history is complete)
 * stops decoding: insertions later in the block were not seen, so from then
 * on the positions of the entries we hold are not known. The decoder then
 * empties its table and goes on as if the history were missing (the same
 * thing `markHistoryGap()` does for blocks lost to a capture gap).
 *
 * Work is bounded: each octet of a block is read once, a string's declared
 * length is checked against the block before anything is allocated, integers
 * above 2^31 - 1 are rejected, and the decoded header list stops growing past
 * `maxHeaderListBytes` (each field counting name + value + 32 octets, as
 * SETTINGS_MAX_HEADER_LIST_SIZE does). Past that limit the rest of the block
 * is still parsed, emitting nothing, so that its insertions keep the table in
 * step with the peer's.
 */
import { huffmanDecode, huffmanDecodedMax } from './hpack-huffman.js';

export type HeaderPair = [name: string, value: string];

export interface HpackMissing {
  /** The HPACK index as it appears in the block (62 and up). */
  index: number;
  /** 'indexed': the whole field was lost; 'name': its name was, its value was kept. */
  kind: 'indexed' | 'name';
}

export interface HpackResult {
  /** In order; a field whose name could not be recovered gets the name `:unknown-name-<index>` (value kept). */
  headers: HeaderPair[];
  /** Fields that could not be decoded because the dynamic-table entry they index was never seen (history missing). */
  missing: HpackMissing[];
  /** A malformed block (bad integer, bad Huffman, string past the end, index 0, size update above the limit, ...): decoding stopped there; headers holds what came before. */
  error: string | null;
}

export interface HpackDecoderOptions {
  /** The initial SETTINGS_HEADER_TABLE_SIZE: both the table's size and the limit for size updates (default 4096). */
  maxTableSize?: number;
  /** The connection was seen from its start, so an unknown index is an error, not missing history (default false). */
  historyComplete?: boolean;
  /** Stop emitting fields past this many octets of header list (name + value + 32 each; default 256 KiB). */
  maxHeaderListBytes?: number;
}

/** RFC 9113 section 6.5.2: the initial SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_TABLE_SIZE = 4096;
export const DEFAULT_MAX_HEADER_LIST_BYTES = 256 * 1024;
/**
 * With the history missing and no SETTINGS seen, the peer may have allowed a
 * larger table before the capture began: a size update up to this is taken
 * as it comes (and raises the limit); above it is an error.
 */
export const UNVERIFIED_TABLE_SIZE_CAP = 1 << 20;
/** Section 4.1: the overhead counted for each entry. */
const ENTRY_OVERHEAD = 32;
const STATIC_LENGTH = 61;
/** Integers above this are refused (section 5.1 leaves the limit to the implementation). */
const MAX_INT = 0x7fffffff;

/** Appendix A; index 0 is unused. */
const STATIC_TABLE: readonly HeaderPair[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_NAMES: readonly string[] = STATIC_TABLE.map((e) => e[0]);
const STATIC_VALUES: readonly string[] = STATIC_TABLE.map((e) => e[1]);

// The read position and failure of the primitive readers. decode() is synchronous
// and never re-entered, so module state is safe and saves an object per call.
let rpos = 0;
let failure = '';
let scratch = Buffer.allocUnsafe(4096);

const INT_TRUNCATED = -1;
const INT_OVERFLOW = -2;

/** Section 5.1: an integer with an N-bit prefix (mask = 2^N - 1) at rpos. Negative on failure. */
function readInt(buf: Buffer, end: number, mask: number): number {
  let v = buf[rpos++] & mask;
  if (v < mask) return v;
  for (let shift = 0; ; shift += 7) {
    if (rpos >= end) return INT_TRUNCATED;
    if (shift > 28) return INT_OVERFLOW;
    const b = buf[rpos++];
    v += (b & 0x7f) * (1 << shift);
    if (v > MAX_INT) return INT_OVERFLOW;
    if ((b & 0x80) === 0) return v;
  }
}

/**
 * Section 5.1 on its own (for tests and tools): the integer with a
 * `prefixBits`-bit prefix (1..8) starting at buf[offset]; `next` is the offset
 * after it.
 */
export function decodeInteger(buf: Buffer, offset: number, prefixBits: number): { value: number; next: number } | { error: string } {
  if (!(prefixBits >= 1 && prefixBits <= 8) || !(offset >= 0 && offset < buf.length)) return { error: 'nothing to decode' };
  rpos = offset;
  const value = readInt(buf, buf.length, (1 << prefixBits) - 1);
  return value < 0 ? { error: intFailure(value, 'integer') } : { value, next: rpos };
}

function intFailure(code: number, what: string): string {
  return code === INT_TRUNCATED ? `${what}: integer truncated at the end of the block` : `${what}: integer too large`;
}

/** Section 5.2: a string literal at rpos; null (and `failure` set) when malformed. */
function readString(buf: Buffer, end: number, what: string): string | null {
  if (rpos >= end) {
    failure = `${what}: string missing at the end of the block`;
    return null;
  }
  const huffman = buf[rpos] & 0x80;
  const len = readInt(buf, end, 0x7f);
  if (len < 0) {
    failure = intFailure(len, `${what} length`);
    return null;
  }
  const start = rpos;
  if (len > end - start) {
    failure = `${what}: string of ${len} octets past the end of the block (${end - start} left)`;
    return null;
  }
  rpos = start + len;
  if (huffman === 0) return len === 0 ? '' : buf.toString('latin1', start, start + len);
  let slot = -1;
  if (len >= CACHED_MIN) {
    slot = (len * 31 + buf[start] * 7 + buf[start + (len >> 1)] * 13 + buf[start + len - 1]) & (CACHE_SLOTS - 1);
    const coded = cachedCode[slot];
    if (coded !== undefined && coded.length === len && buf.compare(coded, 0, len, start, start + len) === 0) return cachedText[slot];
  }
  const max = huffmanDecodedMax(len);
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const n = huffmanDecode(buf, start, start + len, scratch);
  if (n < 0) {
    failure = n === -1 ? `${what}: Huffman code contains EOS` : `${what}: bad Huffman padding`;
    return null;
  }
  const text = n === 0 ? '' : scratch.toString('latin1', 0, n);
  if (slot >= 0) {
    cachedCode[slot] = Buffer.from(buf.subarray(start, start + len));
    cachedText[slot] = text;
  }
  return text;
}

/**
 * Long Huffman-coded strings decoded lately, by their coded octets (a slot per hash of a
 * few of them): clients send the same long values again and again without indexing them,
 * an Authorization token marked never-indexed with every request above all, and decoding
 * them octet by octet was a tenth of HTTP/2 dissection. A hit costs one comparison of the
 * octets, and gives the same string back.
 */
const CACHE_SLOTS = 256;
const CACHED_MIN = 24;
const cachedCode: Array<Buffer | undefined> = new Array<Buffer | undefined>(CACHE_SLOTS);
const cachedText: string[] = new Array<string>(CACHE_SLOTS).fill('');

export class HpackDecoder {
  private complete: boolean;
  private readonly maxListBytes: number;
  /** The largest table a size update may ask for (SETTINGS_HEADER_TABLE_SIZE). */
  private limit: number;
  /** The limit came from a SETTINGS seen (or the whole connection was): a size update above it is an error. */
  private limitKnown: boolean;
  /** The table's maximum size now in force (section 4.2), set by size updates. */
  private capacity: number;

  // The dynamic table: a ring, newest entry at `head`, the i-th newest at (head - i) & mask.
  private names: string[] = new Array<string>(16).fill('');
  private values: string[] = new Array<string>(16).fill('');
  private sizes = new Uint32Array(16);
  /** 1 where the entry's name is a placeholder (inserted with a name that indexed an unseen entry). */
  private unknownName = new Uint8Array(16);
  private mask = 15;
  private head = 0;
  private length = 0;
  private size = 0;

  constructor(opts: HpackDecoderOptions = {}) {
    this.complete = opts.historyComplete ?? false;
    this.maxListBytes = opts.maxHeaderListBytes ?? DEFAULT_MAX_HEADER_LIST_BYTES;
    const max = clampSize(opts.maxTableSize ?? DEFAULT_TABLE_SIZE);
    this.limit = max;
    this.capacity = max;
    this.limitKnown = this.complete;
  }

  /** Current octets per RFC 7541 section 4.1 (a lower bound while placeholder-named entries are held). */
  get tableSize(): number {
    return this.size;
  }

  /** Entries in the dynamic table. */
  get tableLength(): number {
    return this.length;
  }

  /**
   * SETTINGS_HEADER_TABLE_SIZE from the peer's SETTINGS: the bound for the
   * encoder's size updates. The table in use changes only when the encoder
   * signals it (section 4.2), so nothing is evicted here.
   */
  setMaxTableSize(n: number): void {
    this.limit = clampSize(n);
    this.limitKnown = true;
  }

  /**
   * Header blocks of this direction were lost (a capture gap): the positions of
   * the entries held are no longer known. Empties the table and decodes on as
   * if the history were missing.
   */
  markHistoryGap(): void {
    this.complete = false;
    this.clearTable();
  }

  decode(block: Buffer): HpackResult {
    const headers: HeaderPair[] = [];
    const missing: HpackMissing[] = [];
    let error: string | null = null;
    let listBytes = 0;
    let overLimit = false;
    let fieldSeen = false;
    const end = block.length;
    rpos = 0;
    failure = '';

    while (rpos < end) {
      const first = block[rpos];
      let name: string;
      let value: string;

      if (first & 0x80) {
        // 6.1 Indexed Header Field.
        const index = readInt(block, end, 0x7f);
        if (index < 0) {
          failure = intFailure(index, 'indexed field');
          break;
        }
        fieldSeen = true;
        if (index <= STATIC_LENGTH) {
          if (index === 0) {
            failure = 'indexed field with index 0';
            break;
          }
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else if (index - STATIC_LENGTH <= this.length) {
          const slot = (this.head - (index - STATIC_LENGTH - 1)) & this.mask;
          name = this.names[slot];
          value = this.values[slot];
          if (this.unknownName[slot] === 1 && !overLimit) missing.push({ index, kind: 'name' });
        } else {
          const bad = this.beyondEnd(index);
          if (bad !== null) {
            failure = bad;
            break;
          }
          if (!overLimit) missing.push({ index, kind: 'indexed' });
          continue;
        }
      } else if ((first & 0xe0) === 0x20) {
        // 6.3 Dynamic Table Size Update.
        const n = readInt(block, end, 0x1f);
        if (n < 0) {
          failure = intFailure(n, 'dynamic table size update');
          break;
        }
        if (fieldSeen) {
          failure = 'dynamic table size update after a header field';
          break;
        }
        if (n > this.limit) {
          if (this.limitKnown || n > UNVERIFIED_TABLE_SIZE_CAP) {
            failure = `dynamic table size update to ${n} above the limit of ${this.limit}`;
            break;
          }
          this.limit = n;
        }
        this.capacity = n;
        this.evictTo(n);
        continue;
      } else {
        // 6.2 Literal Header Field: with incremental indexing (01, 6-bit index),
        // without indexing (0000) or never indexed (0001), 4-bit index.
        const indexing = (first & 0x40) !== 0;
        const index = readInt(block, end, indexing ? 0x3f : 0x0f);
        if (index < 0) {
          failure = intFailure(index, 'literal field name index');
          break;
        }
        let nameUnknown = false;
        if (index === 0) {
          const s = readString(block, end, 'field name');
          if (s === null) break;
          name = s;
        } else if (index <= STATIC_LENGTH) {
          name = STATIC_NAMES[index];
        } else if (index - STATIC_LENGTH <= this.length) {
          const slot = (this.head - (index - STATIC_LENGTH - 1)) & this.mask;
          name = this.names[slot];
          nameUnknown = this.unknownName[slot] === 1;
        } else {
          const bad = this.beyondEnd(index);
          if (bad !== null) {
            failure = bad;
            break;
          }
          name = `:unknown-name-${index}`;
          nameUnknown = true;
        }
        const s = readString(block, end, 'field value');
        if (s === null) break;
        value = s;
        fieldSeen = true;
        if (nameUnknown && !overLimit) missing.push({ index, kind: 'name' });
        if (indexing) {
          // A placeholder name's octets are unknown: count the value and overhead only (a lower bound).
          this.insert(name, value, (nameUnknown ? 0 : name.length) + value.length + ENTRY_OVERHEAD, nameUnknown);
        }
      }

      if (overLimit) continue;
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > this.maxListBytes) {
        overLimit = true;
        error = 'header list too large';
        continue;
      }
      headers.push([name, value]);
    }

    if (failure !== '') {
      error = error === null ? failure : `${error}; then ${failure}`;
      // The rest of the block (and its insertions) was not seen.
      this.markHistoryGap();
    }
    return { headers, missing, error };
  }

  /** An index past the entries we hold: null when it may name an entry from before the capture, else the error. */
  private beyondEnd(index: number): string | null {
    if (this.complete) {
      return `index ${index} past the end of the dynamic table (${this.length} entries)`;
    }
    // No table of the largest size allowed holds that many entries (each takes 32 octets at least).
    const largest = this.limitKnown ? this.limit : Math.max(this.limit, UNVERIFIED_TABLE_SIZE_CAP);
    if (index - STATIC_LENGTH > Math.floor(largest / ENTRY_OVERHEAD)) {
      return `index ${index} out of range for a table of at most ${largest} octets`;
    }
    return null;
  }

  /** Section 4.4: evict from the oldest end until the entry fits; an entry larger than the table empties it. */
  private insert(name: string, value: string, size: number, nameUnknown: boolean): void {
    if (size > this.capacity) {
      this.clearTable();
      return;
    }
    this.evictTo(this.capacity - size);
    if (this.length > this.mask) this.grow();
    const slot = (this.head + 1) & this.mask;
    this.head = slot;
    this.names[slot] = name;
    this.values[slot] = value;
    this.sizes[slot] = size;
    this.unknownName[slot] = nameUnknown ? 1 : 0;
    this.length++;
    this.size += size;
  }

  /** Section 4.3: evict the oldest entries until the table holds at most `max` octets. */
  private evictTo(max: number): void {
    while (this.size > max && this.length > 0) {
      const slot = (this.head - this.length + 1) & this.mask;
      this.size -= this.sizes[slot];
      this.names[slot] = '';
      this.values[slot] = '';
      this.length--;
    }
  }

  private clearTable(): void {
    this.evictTo(0);
    this.size = 0;
    this.length = 0;
  }

  private grow(): void {
    const n = (this.mask + 1) * 2;
    const names = new Array<string>(n).fill('');
    const values = new Array<string>(n).fill('');
    const sizes = new Uint32Array(n);
    const unknownName = new Uint8Array(n);
    // Oldest first into slots 0..length-1, so the newest lands at length - 1.
    for (let i = 0; i < this.length; i++) {
      const from = (this.head - this.length + 1 + i) & this.mask;
      names[i] = this.names[from];
      values[i] = this.values[from];
      sizes[i] = this.sizes[from];
      unknownName[i] = this.unknownName[from];
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.unknownName = unknownName;
    this.mask = n - 1;
    this.head = this.length - 1;
  }
}

function clampSize(n: number): number {
  if (!Number.isFinite(n) || n < 0) return 0;
  return Math.min(Math.floor(n), 0xffffffff);
}
