/**
 * Builds the summary (see summary.ts) from records in sequence order, with no database: it hands
 * on each finished chunk, and the dictionaries at the end. Import runs it in whichever thread
 * sees the records before they are encoded (its analysis thread, when there is one), so that the
 * thread writing to LMDB never decodes a record.
 *
 * Most calls repeat what the last call on their connection was filed under (the same two ends,
 * often the same operation), so each connection remembers it: a row then costs a few string
 * comparisons instead of labels built, joined and hashed again.
 */
import type { Endpoint } from '../dissect/record.js';
import { pathTemplate } from '../dissect/path-template.js';
import {
  CHUNK_ROWS, FLAG_FAILED, FLAG_RESPONSE, FLAG_UDP, PROTOCOLS, chunkOf, rowOf,
  emptyColumns, encodeChunk, type EdgeKey, type EndpointKey, type IndexField, type PostingList, type SummaryChunk, type SummaryDictionaries,
} from './summary-format.js';
import { HeaderKinds, authOf, endpointParts, sameEnd, sameHost, sourceLabel, workloadLabel, type Row } from './summary-labels.js';

/** The indexed fields, by their number here. */
const FIELDS: readonly IndexField[] = [
  'proto', 'status', 'failed', 'method', 'path', 'src.ns', 'dst.ns', 'src.wl', 'dst.wl', 'src.svc', 'dst.svc',
  'src.pod', 'dst.pod', 'grpc.svc', 'grpc.method', 'dns.name',
];
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<IndexField, number>;

/** A dictionary of ids by a string key, kept in insertion order. */
class Dictionary<K> {
  private readonly ids = new Map<string, number>();
  readonly entries: K[] = [];
  /** `make` builds the entry only the first time its key is seen. */
  id(key: string, make: () => K): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.entries.length;
      this.ids.set(key, id);
      this.entries.push(make());
    }
    return id;
  }
}

/** Path templates of paths seen lately: a capture repeats its paths, and templating costs a few regexes. */
class TemplateCache {
  private map = new Map<string, string>();
  get(path: string): string {
    let t = this.map.get(path);
    if (t === undefined) {
      if (this.map.size >= 8192) this.map = new Map();
      t = pathTemplate(path);
      this.map.set(path, t);
    }
    return t;
  }
}

/** Which of endpointParts' three cases a row is (gRPC, DNS, else HTTP), and the two values it reads. */
interface Operation {
  kind: number;
  a: string | undefined;
  b: string | undefined;
}

/** What the last row on a connection was filed under. */
interface ConnectionMemo {
  /** Null until a row has set the fields below. */
  src: Endpoint | null;
  dst: Endpoint | null;
  protocol: string;
  op: Operation;
  /** The last raw request header block, and the credentials it carries. */
  rawHeaders: string | undefined;
  auth: number;
  /** The endpoint's path: for HTTP, op.b's template. */
  template: string;
  edge: number;
  endpoint: number;
  /**
   * For gRPC and DNS: endpoint ids by op.a then op.b (service and method, query type and name)
   * of the rows filed under the memo's edge since it last changed.
   */
  seen: Map<string | undefined, Map<string, number>>;
  /** The chunk generation `rows` belongs to. */
  generation: number;
  /** Per field: the last value indexed, and its posting list in this generation (null: look it up). */
  values: Array<string | number | undefined>;
  rows: Array<number[] | null>;
}

function newMemo(): ConnectionMemo {
  return {
    src: null, dst: null, protocol: '', op: { kind: -1, a: undefined, b: undefined }, rawHeaders: undefined, auth: 0, template: '', edge: 0, endpoint: 0,
    seen: new Map(), generation: -1, values: FIELDS.map(() => undefined), rows: FIELDS.map(() => null),
  };
}

/**
 * Connections remembered before the memory starts over: more than are open at
 * once in most captures, few enough that what the memos hold (two ends, a header block) stays
 * a few megabytes.
 */
const MAX_MEMOS = 8192;
/** Names (methods) per type (service) a memo remembers the endpoints of. */
const MAX_SEEN = 256;

export class SummaryBuilder {
  private cols = emptyColumns(CHUNK_ROWS);
  private chunk = 0;
  /** Bumped at each chunk: posting lists a memo holds from an older one are stale. */
  private generation = 0;
  /** Per field: value → row offsets in this chunk. */
  private lists: Array<Map<string | number, number[]>> = FIELDS.map(() => new Map());
  private readonly endpoints = new Dictionary<EndpointKey>();
  private readonly edges = new Dictionary<EdgeKey>();
  private readonly templates = new TemplateCache();
  private readonly kinds = new HeaderKinds();
  /** TCP connections' memos, by connection id. */
  private memos = new Map<number, ConnectionMemo>();
  private readonly udpMemo = newMemo();
  private readonly op: Operation = { kind: 0, a: undefined, b: undefined };

  /** `onChunk` gets each chunk once its last row is in (the last one at finish). */
  constructor(private readonly onChunk: (c: SummaryChunk) => void) {}

  /** Rows must come in sequence order, starting at 1. */
  add(seq: number, r: Row): void {
    const chunk = chunkOf(seq);
    if (chunk !== this.chunk) this.flush();
    this.chunk = chunk;
    const i = rowOf(seq);
    const c = this.cols;
    c.ts[i] = r.timestamp;
    c.elapsed[i] = r.elapsedTime ?? NaN;
    c.status[i] = r.status;
    c.flags[i] = (r.failed ? FLAG_FAILED : 0) | (r.response ? FLAG_RESPONSE : 0) | (PROTOCOLS.indexOf(r.protocol) << 2)
      | (r.stream.transport === 'udp' ? FLAG_UDP : 0);
    const m = this.memoOf(r);
    c.auth[i] = this.auth(m, r);
    this.file(m, r);
    c.endpoint[i] = m.endpoint;
    c.edge[i] = m.edge;
    c.requestBytes[i] = Math.min(r.request.bodySize, 0xffffffff);
    c.responseBytes[i] = Math.min(r.response?.bodySize ?? 0, 0xffffffff);
    c.count = Math.max(c.count, i + 1);
    this.index(m, r, i);
  }

  private memoOf(r: Row): ConnectionMemo {
    // UDP's flows are mostly one DNS exchange each (a new client port per query): a memo per
    // flow would be made for one row and never hit, so all UDP rows share one, which holds as
    // long as the same client asks the same server.
    if (r.stream.transport === 'udp') return this.udpMemo;
    let m = this.memos.get(r.stream.id);
    if (!m) {
      if (this.memos.size >= MAX_MEMOS) this.memos = new Map();
      m = newMemo();
      this.memos.set(r.stream.id, m);
    }
    return m;
  }

  /** A raw header block equal to the last one on the connection (a client repeating itself) carries the same credentials. */
  private auth(m: ConnectionMemo, r: Row): number {
    const raw = r.request.rawHeaders;
    if (raw === undefined) return authOf(r, this.kinds);
    if (raw !== m.rawHeaders) {
      m.rawHeaders = raw;
      m.auth = authOf(r, this.kinds);
    }
    return m.auth;
  }

  /** The row's edge and endpoint ids: the memo's when what they are made of is unchanged. */
  private file(m: ConnectionMemo, r: Row): void {
    const op = this.op;
    if (r.grpc) {
      op.kind = 1;
      op.a = r.grpc.service;
      op.b = r.grpc.method;
    } else if (r.dns) {
      const q = r.dns.questions[0];
      op.kind = 2;
      op.a = q?.type;
      op.b = q?.name;
    } else {
      op.kind = 0;
      op.a = r.request.method;
      op.b = r.request.path;
    }
    const sameEdge = m.src !== null && m.dst !== null && m.protocol === r.protocol && m.op.kind === op.kind && sameHost(m.src, r.src) && sameEnd(m.dst, r.dst);
    if (sameEdge) {
      if (m.op.a === op.a) {
        if (m.op.b === op.b) return;
        // Another path to the same template (/orders/41, /orders/42): the same endpoint.
        if (op.kind === 0 && this.templates.get(op.b!) === m.template) {
          m.op.b = op.b;
          return;
        }
      }
      // A DNS name and type, or a gRPC service and method, asked of this server before: its endpoint is known.
      const known = op.kind !== 0 && op.b !== undefined ? m.seen.get(op.a)?.get(op.b) : undefined;
      if (known !== undefined) {
        m.endpoint = known;
        m.op.a = op.a;
        m.op.b = op.b;
        return;
      }
    } else m.seen.clear();
    // Keys joined by NUL (which none of these strings hold); the entries are kept once per distinct key.
    const ep = endpointParts(r, this.templates);
    const { protocol, destination } = ep;
    m.endpoint = this.endpoints.id(`${protocol}\u0000${destination}\u0000${ep.method}\u0000${ep.path}`, () => ep);
    if (!sameEdge) {
      const source = sourceLabel(r.src);
      const sourceWorkload = workloadLabel(r.src);
      const destinationWorkload = workloadLabel(r.dst);
      m.edge = this.edges.id(`${protocol}\u0000${source}\u0000${destination}\u0000${sourceWorkload}\u0000${destinationWorkload}`, () => ({
        protocol, source, destination, sourceWorkload, destinationWorkload,
      }));
    }
    if (op.kind !== 0 && op.b !== undefined) {
      let byA = m.seen.get(op.a);
      if (!byA || byA.size >= MAX_SEEN) m.seen.set(op.a, (byA = new Map()));
      byA.set(op.b, m.endpoint);
    }
    m.src = r.src;
    m.dst = r.dst;
    m.protocol = r.protocol;
    m.op.kind = op.kind;
    m.op.a = op.a;
    m.op.b = op.b;
    m.template = ep.path;
  }

  /** Row `i` into the posting list of each value the row is indexed under. */
  private index(m: ConnectionMemo, r: Row, i: number): void {
    if (m.generation !== this.generation) {
      m.generation = this.generation;
      m.rows.fill(null);
    }
    this.post(m, F.proto, r.protocol, i);
    this.post(m, F.status, r.status, i);
    this.post(m, F.failed, r.failed ? 1 : 0, i);
    if (r.protocol !== 'dns') {
      this.post(m, F.method, r.request.method, i);
      this.post(m, F.path, r.request.path, i);
    }
    const { src, dst } = r;
    this.post(m, F['src.ns'], src.namespace, i);
    this.post(m, F['dst.ns'], dst.namespace, i);
    this.post(m, F['src.wl'], src.workload?.name, i);
    this.post(m, F['dst.wl'], dst.workload?.name, i);
    this.post(m, F['src.svc'], src.service?.name, i);
    this.post(m, F['dst.svc'], dst.service?.name, i);
    // KFL2's pod name falls back to the service: index what `src.pod.name` reads.
    if (src.kind === 'pod' || src.kind === 'service') this.post(m, F['src.pod'], src.name, i);
    if (dst.kind === 'pod' || dst.kind === 'service') this.post(m, F['dst.pod'], dst.name, i);
    if (r.grpc) {
      this.post(m, F['grpc.svc'], r.grpc.service, i);
      this.post(m, F['grpc.method'], r.grpc.method, i);
    }
    // Not through the memo: a row may hold several names, each indexed (repeats too).
    if (r.dns) for (const q of r.dns.questions) if (q.name) this.rowsOf(F['dns.name'], q.name.toLowerCase()).push(i);
  }

  /** Empty strings, null and undefined are not indexed; numbers always are. */
  private post(m: ConnectionMemo, f: number, v: string | number | null | undefined, i: number): void {
    if (v === null || v === undefined || v === '') return;
    const held = m.rows[f];
    if (held !== null && m.values[f] === v) {
      held.push(i);
      return;
    }
    const rows = this.rowsOf(f, v);
    rows.push(i);
    m.values[f] = v;
    m.rows[f] = rows;
  }

  private rowsOf(f: number, v: string | number): number[] {
    const list = this.lists[f];
    let rows = list.get(v);
    if (!rows) list.set(v, (rows = []));
    return rows;
  }

  private flush(): void {
    if (this.cols.count === 0) return;
    const postings: PostingList[] = [];
    for (let f = 0; f < FIELDS.length; f++) {
      for (const [value, list] of this.lists[f]) {
        const rows = Uint16Array.from(list);
        postings.push({ field: FIELDS[f], value, rows: Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength) });
      }
    }
    this.onChunk({ chunk: this.chunk, columns: encodeChunk(this.cols), postings });
    this.cols = emptyColumns(CHUNK_ROWS);
    this.lists = FIELDS.map(() => new Map());
    this.generation++;
  }

  /** Hands on the last chunk; the dictionaries are complete. */
  finish(): SummaryDictionaries {
    this.flush();
    return { endpoint: this.endpoints.entries, edge: this.edges.entries };
  }
}
