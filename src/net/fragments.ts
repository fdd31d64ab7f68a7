/**
 * IP fragment reassembly for IPv4 and IPv6, in capture time and bounded memory.
 *
 * Fragments are keyed by their datagram (the caller builds the key: version, addresses,
 * identification and, for IPv4, protocol). Held bytes are copies: a packet's data is only
 * valid during its callback. Overlaps are resolved as the TCP layer resolves them: the
 * bytes that arrived first win. A datagram that is not complete within the timeout (from
 * its first fragment, in capture time), or that has to make room under the memory cap
 * (oldest first), or that is still incomplete at the end of the capture, is dropped and
 * its fragments counted by reason; nothing held is lost silently.
 *
 * Expiry walks datagrams in arrival order and stops at the first still waiting, so when capture
 * time goes backwards (a second file of a snapshot starting earlier than the first ended) a
 * datagram may outlive its timeout until those before it go; the memory cap still holds.
 */

export interface FragmentOptions {
  /** How long a datagram may wait for its missing fragments, in capture microseconds. */
  timeoutUs: number;
  /** Bytes held at most (fragment data plus a fixed overhead per fragment and datagram). */
  memoryCap: number;
  /**
   * How long a reassembled datagram is remembered, in capture microseconds, so that a second
   * copy of its fragments (the same packet captured on two interfaces) is recognised as a
   * duplicate rather than starting a datagram that can never complete. 0 turns this off.
   */
  duplicateWindowUs: number;
}

export const DEFAULT_FRAGMENT_OPTIONS: FragmentOptions = {
  timeoutUs: 30_000_000,
  memoryCap: 16 * 1024 * 1024,
  duplicateWindowUs: 2_000_000,
};

export interface FragmentStats {
  /** Packets held as fragments (decode outcome 'held'). */
  held: number;
  /** Datagrams completed and handed on. */
  reassembledDatagrams: number;
  /** Held fragments that went into a reassembled datagram (the one completing it is decoded, not held). */
  reassembledFragments: number;
  /** Held fragments whose datagram never completed, by reason. */
  dropped: Record<string, number>;
  /** Fragments held now, in incomplete datagrams: held = reassembledFragments + dropped + pending. */
  pending: number;
  /** Incomplete datagrams now. */
  pendingDatagrams: number;
  /** Fragments that overlapped bytes already held (the first bytes were kept), and how many bytes. */
  overlaps: number;
  overlapBytes: number;
  /** Bytes held now and at most (measured after making room under the cap), as counted against the cap. */
  bytesHeld: number;
  peakBytesHeld: number;
}

export const DROP_TIMEOUT = 'incomplete datagram (timed out)';
export const DROP_MEMORY = 'incomplete datagram (memory cap)';
export const DROP_END = 'incomplete datagram (end of capture)';

/** Accounting overheads, so that a flood of tiny fragments also meets the cap. */
const PIECE_OVERHEAD = 64;
const DATAGRAM_OVERHEAD = 256;

interface Piece {
  start: number;
  end: number;
  data: Buffer;
}

interface Datagram {
  key: string;
  firstTs: number;
  /** Length of the reassembled payload, known from the last fragment; -1 until then. */
  total: number;
  /** Bytes of [0, total) held. */
  covered: number;
  /** Sorted, non-overlapping. */
  pieces: Piece[];
  /** Held fragments (packets) in it. */
  fragments: number;
  /** Bytes counted against the cap. */
  bytes: number;
  /** Protocol (IPv4) or next header of the offset-0 fragment (IPv6); -1 until known. */
  protocol: number;
}

interface Completed {
  ts: number;
  data: Buffer;
}

export type FragmentResult = 'held' | 'complete' | 'duplicate' | 'damaged';

const EMPTY = Buffer.alloc(0);

export class FragmentReassembler {
  readonly stats: FragmentStats = {
    held: 0, reassembledDatagrams: 0, reassembledFragments: 0, dropped: {}, pending: 0, pendingDatagrams: 0,
    overlaps: 0, overlapBytes: 0, bytesHeld: 0, peakBytesHeld: 0,
  };
  private readonly opts: FragmentOptions;
  /** In order of first fragment: the oldest is evicted first. */
  private readonly pending = new Map<string, Datagram>();
  private readonly completed = new Map<string, Completed>();
  /** Capture time at or after which something may have expired. */
  private nextExpiry = Infinity;

  /** After add() returned 'complete': the reassembled payload (a new Buffer) and its protocol. */
  datagram: Buffer = EMPTY;
  protocol = -1;
  /** After add() returned 'damaged': why. */
  reason = '';

  constructor(opts: Partial<FragmentOptions> = {}) {
    this.opts = { ...DEFAULT_FRAGMENT_OPTIONS, ...opts };
  }

  /**
   * One fragment: data[start, end) sits at byte `offset` of the datagram's payload; `more` is
   * the more-fragments flag; `protocol` is known for IPv4 always and for IPv6 on the offset-0
   * fragment (else -1); `maxPayload` bounds offset + length (65535 less the IPv4 header).
   */
  add(key: string, ts: number, offset: number, data: Buffer, start: number, end: number, more: boolean, protocol: number, maxPayload: number): FragmentResult {
    const len = end - start;
    if (len < 0 || (more && (len === 0 || (len & 7) !== 0))) return this.damaged('bad IP fragment length');
    const fragEnd = offset + len;
    if (fragEnd > maxPayload) return this.damaged('IP fragment beyond 65535 bytes');
    let dg = this.pending.get(key);
    if (!dg) {
      const done = this.completed.get(key);
      if (done) {
        if (ts - done.ts <= this.opts.duplicateWindowUs && fragEnd <= done.data.length
          && data.subarray(start, end).equals(done.data.subarray(offset, fragEnd))) {
          return 'duplicate';
        }
        this.dropCompleted(key, done);
      }
    } else {
      if (!more) {
        const heldEnd = dg.pieces.length > 0 ? dg.pieces[dg.pieces.length - 1].end : 0;
        if ((dg.total >= 0 && dg.total !== fragEnd) || heldEnd > fragEnd) return this.damaged('conflicting last IP fragment');
      } else if (dg.total >= 0 && fragEnd > dg.total) {
        return this.damaged('IP fragment beyond the end of its datagram');
      }
    }
    if (!dg) {
      dg = { key, firstTs: ts, total: -1, covered: 0, pieces: [], fragments: 0, bytes: DATAGRAM_OVERHEAD, protocol: -1 };
      this.pending.set(key, dg);
      this.stats.pendingDatagrams++;
      this.account(DATAGRAM_OVERHEAD);
      const deadline = ts + this.opts.timeoutUs;
      if (deadline < this.nextExpiry) this.nextExpiry = deadline;
    }
    if (!more) dg.total = fragEnd;
    if (dg.protocol < 0 && protocol >= 0) dg.protocol = protocol;
    const added = this.insert(dg, offset, data, start, end);
    if (added < len) {
      this.stats.overlaps++;
      this.stats.overlapBytes += len - added;
    }
    if (dg.total >= 0 && dg.covered === dg.total && dg.protocol >= 0) return this.complete(dg, ts);
    dg.fragments++;
    this.stats.held++;
    this.stats.pending++;
    if (this.stats.bytesHeld > this.opts.memoryCap) this.makeRoom();
    this.notePeak();
    return 'held';
  }

  /** Drops what waited too long. Cheap when nothing has: call it for every packet. */
  expire(now: number): void {
    if (now < this.nextExpiry) return;
    this.nextExpiry = Infinity;
    // Map order is arrival order, so the oldest come first; stop at the first still waiting.
    for (const dg of this.pending.values()) {
      const deadline = dg.firstTs + this.opts.timeoutUs;
      if (deadline > now) {
        this.nextExpiry = deadline;
        break;
      }
      this.drop(dg, DROP_TIMEOUT);
    }
    for (const [key, done] of this.completed) {
      const deadline = done.ts + this.opts.duplicateWindowUs;
      if (deadline > now) {
        if (deadline < this.nextExpiry) this.nextExpiry = deadline;
        break;
      }
      this.dropCompleted(key, done);
    }
  }

  /** Drops every incomplete datagram (the end of the capture); returns how many fragments that was. */
  flush(reason = DROP_END): number {
    let n = 0;
    for (const dg of this.pending.values()) {
      n += dg.fragments;
      this.drop(dg, reason);
    }
    for (const [key, done] of this.completed) this.dropCompleted(key, done);
    this.nextExpiry = Infinity;
    return n;
  }

  private damaged(reason: string): FragmentResult {
    this.reason = reason;
    return 'damaged';
  }

  /** Copies the bytes of [offset, offset + len) not yet held; returns how many that was. */
  private insert(dg: Datagram, offset: number, data: Buffer, start: number, end: number): number {
    const pieces = dg.pieces;
    const e = offset + (end - start);
    // The first piece that ends after `offset`.
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pieces[mid].end <= offset) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let cur = offset;
    let added = 0;
    while (cur < e) {
      if (i < pieces.length && pieces[i].start <= cur) {
        if (pieces[i].end > cur) cur = pieces[i].end;
        i++;
        continue;
      }
      const gapEnd = i < pieces.length && pieces[i].start < e ? pieces[i].start : e;
      const n = gapEnd - cur;
      const copy = Buffer.allocUnsafeSlow(n);
      data.copy(copy, 0, start + (cur - offset), start + (gapEnd - offset));
      pieces.splice(i, 0, { start: cur, end: gapEnd, data: copy });
      i++;
      added += n;
      dg.bytes += n + PIECE_OVERHEAD;
      this.account(n + PIECE_OVERHEAD);
      cur = gapEnd;
    }
    dg.covered += added;
    return added;
  }

  private complete(dg: Datagram, ts: number): FragmentResult {
    const out = Buffer.allocUnsafeSlow(dg.total);
    for (const p of dg.pieces) p.data.copy(out, p.start);
    this.pending.delete(dg.key);
    this.stats.pendingDatagrams--;
    this.stats.pending -= dg.fragments;
    this.stats.reassembledDatagrams++;
    this.stats.reassembledFragments += dg.fragments;
    this.account(-dg.bytes);
    this.datagram = out;
    this.protocol = dg.protocol;
    if (this.opts.duplicateWindowUs > 0) {
      this.completed.set(dg.key, { ts, data: out });
      this.account(out.length + DATAGRAM_OVERHEAD);
      const deadline = ts + this.opts.duplicateWindowUs;
      if (deadline < this.nextExpiry) this.nextExpiry = deadline;
      if (this.stats.bytesHeld > this.opts.memoryCap) this.makeRoom();
      this.notePeak();
    }
    return 'complete';
  }

  /** Under the cap again: forget reassembled datagrams first, then drop the oldest incomplete ones. */
  private makeRoom(): void {
    for (const [key, done] of this.completed) {
      if (this.stats.bytesHeld <= this.opts.memoryCap) return;
      this.dropCompleted(key, done);
    }
    for (const dg of this.pending.values()) {
      if (this.stats.bytesHeld <= this.opts.memoryCap) return;
      this.drop(dg, DROP_MEMORY);
    }
  }

  private drop(dg: Datagram, reason: string): void {
    this.pending.delete(dg.key);
    this.stats.pendingDatagrams--;
    this.stats.pending -= dg.fragments;
    if (dg.fragments > 0) this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + dg.fragments;
    this.account(-dg.bytes);
  }

  private dropCompleted(key: string, done: Completed): void {
    this.completed.delete(key);
    this.account(-(done.data.length + DATAGRAM_OVERHEAD));
  }

  private account(delta: number): void {
    this.stats.bytesHeld += delta;
  }

  /** Measured once a fragment has been placed and room made: within one fragment, the cap holds. */
  private notePeak(): void {
    if (this.stats.bytesHeld > this.stats.peakBytesHeld) this.stats.peakBytesHeld = this.stats.bytesHeld;
  }
}
