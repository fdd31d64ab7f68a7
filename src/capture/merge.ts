/**
 * Reading a snapshot's sources as one stream of packets in time order. One source goes
 * straight through its parser (no copies, no batching). Several are merged k-way: each
 * source parses one chunk at a time into a batch, and the packet with the smallest time
 * (ties: the lower file index) goes next. A batch holds the fields of its packets and views
 * into its chunk, and chunks are never recycled (chunks.ts), so the views stay valid until
 * the batch is used up; a source therefore holds about one chunk while it is open.
 */
import { READ_CHUNK, type Chunks } from './chunks.js';
import { closeQuietly, openCapture, pump, pushNext, type CaptureParser } from './open.js';
import type { CaptureFileReport, Packet, PacketSink } from './packet.js';
import { sourceChunks, type CaptureSource } from './source.js';

export interface ReadCapturesOptions {
  /** Bytes per read (default 1 MiB); the merge holds about one chunk per open source. */
  chunkSize?: number;
  /**
   * Called between chunks, when the packets read so far have all gone to the sink; reading
   * waits for what it returns (import uses it to reopen its workspace now and then).
   */
  between?: () => Promise<void> | null;
}

/**
 * Reads every source, calling sink for each packet in time order across sources (in file
 * order within one). Packet.fileIndex is the source's index in `sources`. Returns one report
 * per source, in the same order. Throws CaptureError when a source cannot be read or is not
 * a capture; damage inside a capture is reported.
 */
export async function readCaptures(
  sources: CaptureSource[],
  sink: PacketSink,
  opts: ReadCapturesOptions = {},
): Promise<CaptureFileReport[]> {
  const chunkSize = opts.chunkSize ?? READ_CHUNK;
  if (sources.length === 0) return [];
  if (sources.length === 1) return [await readAlone(sources[0], sink, chunkSize, opts.between)];
  return merge(sources, sink, chunkSize, opts.between);
}

async function readAlone(source: CaptureSource, sink: PacketSink, chunkSize: number, between?: () => Promise<void> | null): Promise<CaptureFileReport> {
  const raw = sourceChunks(source, true, chunkSize);
  const opened = await openCapture(raw, source.name, 0, sink, { compressed: archiveGzip(source) });
  const report = await pump(opened, source.name, between);
  report.notes.push(...source.notes);
  return report;
}

function archiveGzip(source: CaptureSource): boolean {
  return source.location.kind === 'tar-member' && source.location.archiveGzip;
}

const EMPTY = Buffer.alloc(0);

/**
 * One source in a merge: its parser and the batch of packets from its current chunk (also
 * used by export's merge, which orders and opens sources its own way).
 */
export class SourceCursor {
  // The batch, one array per field, reused from chunk to chunk.
  readonly ts: number[] = [];
  readonly offset: number[] = [];
  readonly linkType: number[] = [];
  readonly ifIndex: number[] = [];
  readonly origLen: number[] = [];
  readonly data: Buffer[] = [];
  count = 0;
  pos = 0;
  private parser: CaptureParser | null = null;
  private rest: Chunks | null = null;
  private finished = false;
  /** Packets earlier than the packet before them in the same file: the merge cannot reorder those. */
  backwards = 0;
  lastTs = -Infinity;

  constructor(
    readonly index: number,
    readonly source: CaptureSource,
    private readonly chunkSize: number = READ_CHUNK,
  ) {}

  private readonly append = (p: Packet): void => {
    const i = this.count++;
    this.ts[i] = p.ts;
    this.offset[i] = p.offset;
    this.linkType[i] = p.linkType;
    this.ifIndex[i] = p.ifIndex;
    this.origLen[i] = p.origLen;
    this.data[i] = p.data;
  };

  /** Opens the source and reads up to its first packet; false when it has none. */
  async open(): Promise<boolean> {
    const raw = sourceChunks(this.source, false, this.chunkSize);
    const opened = await openCapture(raw, this.source.name, this.index, this.append, { compressed: archiveGzip(this.source) });
    this.parser = opened.parser;
    this.rest = opened.rest;
    this.parser.push(opened.first);
    this.finished = this.rest === null || this.parser.stopped;
    return this.fill();
  }

  /** Makes sure the batch holds a packet, reading chunks as needed; false once the source is exhausted. */
  async fill(): Promise<boolean> {
    while (this.pos >= this.count) {
      // Let go of the used chunk before reading the next one.
      for (let i = 0; i < this.count; i++) this.data[i] = EMPTY;
      this.count = 0;
      this.pos = 0;
      if (this.finished) return false;
      this.finished = await pushNext(this.parser as CaptureParser, this.rest as Chunks, this.source.name);
    }
    return true;
  }

  /** The source's report, with what listing and merging noticed. */
  async finish(): Promise<CaptureFileReport> {
    await this.close();
    const report = (this.parser as CaptureParser).end();
    report.notes.push(...this.source.notes);
    if (this.backwards > 0) {
      report.notes.push(
        `${this.backwards} packets are earlier than the packet before them in this file: ` +
          'the merge keeps file order for them, so the merged stream steps back in time there',
      );
    }
    return report;
  }

  async close(): Promise<void> {
    const rest = this.rest;
    this.rest = null;
    this.finished = true;
    if (rest !== null) await closeQuietly(rest);
  }
}

/** Whether cursor a's current packet goes before b's. */
function before(a: SourceCursor, b: SourceCursor): boolean {
  const ta = a.ts[a.pos];
  const tb = b.ts[b.pos];
  return ta < tb || (ta === tb && a.index < b.index);
}

/** A binary min-heap of cursors by their current packet. */
class CursorHeap {
  readonly items: SourceCursor[] = [];

  get top(): SourceCursor | undefined {
    return this.items[0];
  }

  push(c: SourceCursor): void {
    const h = this.items;
    let i = h.length;
    h.push(c);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  popTop(): void {
    const h = this.items;
    const last = h.pop() as SourceCursor;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown();
    }
  }

  /** Restores order after the top cursor moved on. */
  siftDown(): void {
    const h = this.items;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && before(h[r], h[l]) ? r : l;
      if (!before(h[m], h[i])) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

async function merge(sources: CaptureSource[], sink: PacketSink, chunkSize: number, between?: () => Promise<void> | null): Promise<CaptureFileReport[]> {
  const cursors = sources.map((s, i) => new SourceCursor(i, s, chunkSize));
  const reports: CaptureFileReport[] = new Array<CaptureFileReport>(sources.length);
  const heap = new CursorHeap();
  // Sources whose first packet time is known open only when the merge reaches that time.
  const pending = cursors
    .filter((c) => c.source.firstTs !== null)
    .sort((a, b) => (a.source.firstTs as number) - (b.source.firstTs as number) || a.index - b.index);
  let nextPending = 0;
  const open = new Set<SourceCursor>();

  const start = async (c: SourceCursor): Promise<void> => {
    open.add(c);
    if (await c.open()) heap.push(c);
    else await finish(c);
  };
  const finish = async (c: SourceCursor): Promise<void> => {
    open.delete(c);
    reports[c.index] = await c.finish();
  };
  /** Whether a pending source's first packet comes before the heap's next one. */
  const startsFirst = (c: SourceCursor, top: SourceCursor | undefined): boolean => {
    if (top === undefined) return true;
    const first = c.source.firstTs as number;
    const t = top.ts[top.pos];
    return first < t || (first === t && c.index < top.index);
  };

  const out: Packet = { fileIndex: 0, offset: 0, ts: 0, linkType: 0, ifIndex: 0, data: EMPTY, origLen: 0 };
  try {
    for (const c of cursors) if (c.source.firstTs === null) await start(c);
    for (;;) {
      let top = heap.top;
      while (nextPending < pending.length && startsFirst(pending[nextPending], top)) {
        await start(pending[nextPending++]);
        top = heap.top;
      }
      if (top === undefined) break;
      const i = top.pos;
      const ts = top.ts[i];
      if (ts < top.lastTs) top.backwards++;
      top.lastTs = ts;
      out.fileIndex = top.index;
      out.offset = top.offset[i];
      out.ts = ts;
      out.linkType = top.linkType[i];
      out.ifIndex = top.ifIndex[i];
      out.origLen = top.origLen[i];
      out.data = top.data[i];
      sink(out);
      top.pos++;
      if (top.pos >= top.count) {
        const wait = between?.();
        if (wait) await wait;
      }
      if (top.pos < top.count || (await top.fill())) heap.siftDown();
      else {
        heap.popTop();
        await finish(top);
      }
    }
  } catch (err) {
    for (const c of open) await c.close();
    throw err;
  }
  return reports;
}
