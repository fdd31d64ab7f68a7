/**
 * Builds the summary (see summary.ts) from records in sequence order, with no database: it hands
 * on each finished chunk, and the dictionaries at the end. Import runs it in whichever thread
 * sees the records before they are encoded (its analysis thread, when there is one), so that the
 * thread writing to LMDB never decodes a record.
 */
import type { TransactionRecord } from '../dissect/record.js';
import { pathTemplate } from '../dissect/path-template.js';
import { forEachHeaderName } from '../dissect/header-block.js';
import {
  AUTH_API_KEY, AUTH_BASIC, AUTH_BEARER, AUTH_COOKIE, AUTH_OTHER, CHUNK_ROWS, FLAG_FAILED, FLAG_RESPONSE, FLAG_UDP, PROTOCOLS,
  emptyColumns, encodeChunk, type EdgeKey, type EndpointKey, type IndexField, type PostingList, type SummaryChunk, type SummaryDictionaries,
} from './summary-format.js';

function destinationLabel(e: TransactionRecord['dst']): string {
  if (e.service) return `${e.service.namespace}/${e.service.name}`;
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** A client is named by its workload (its pods are one client), else as its destination would be, without the port. */
function sourceLabel(e: TransactionRecord['src']): string {
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip;
}

function workloadLabel(e: TransactionRecord['src']): string {
  return e.workload ? `${e.namespace ?? ''}/${e.workload.name}` : '';
}

/** What endpoint a call is to; `templates` turns an HTTP path into its template. */
function endpointParts(r: Omit<TransactionRecord, 'id' | 'snapshot'>, templates: { get(path: string): string }): EndpointKey {
  const destination = destinationLabel(r.dst);
  if (r.grpc) return { protocol: r.protocol, destination, method: r.grpc.service, path: r.grpc.method };
  if (r.dns) {
    const q = r.dns.questions[0];
    return { protocol: 'dns', destination, method: q?.type ?? '', path: q?.name.toLowerCase() ?? '' };
  }
  return { protocol: r.protocol, destination, method: r.request.method, path: templates.get(r.request.path) };
}

const UNCACHED = { get: pathTemplate };

export function endpointKeyOf(r: Omit<TransactionRecord, 'id' | 'snapshot'>): EndpointKey {
  return endpointParts(r, UNCACHED);
}

function authBit(n: string, value: () => string): number {
  if (n === 'authorization' || n === 'proxy-authorization') {
    const v = value().trimStart().toLowerCase();
    return v.startsWith('bearer ') ? AUTH_BEARER : v.startsWith('basic ') ? AUTH_BASIC : AUTH_OTHER;
  }
  if (n === 'cookie') return AUTH_COOKIE;
  return /(^|-)(api-?key|token|auth|access-key)$/.test(n) || n === 'x-api-key' ? AUTH_API_KEY : 0;
}

/** Credentials a request carries, by kind (the values are not kept here). */
export function authOf(r: Omit<TransactionRecord, 'id' | 'snapshot'>): number {
  let a = 0;
  const raw = r.request.rawHeaders;
  if (raw !== undefined) {
    // Only an Authorization value is read: the rest goes by name.
    forEachHeaderName(raw, (name, valueAt, lineEnd) => {
      a |= authBit(name.toLowerCase(), () => raw.slice(valueAt, lineEnd));
      return true;
    });
    return a;
  }
  for (const [name, value] of r.request.headers) a |= authBit(name.toLowerCase(), () => value);
  return a;
}

export type Row = Omit<TransactionRecord, 'id' | 'snapshot'>;

/** The values a row is indexed under, by field. */
function indexValues(r: Row): Array<[IndexField, string | number]> {
  const out: Array<[IndexField, string | number]> = [['proto', r.protocol], ['status', r.status], ['failed', r.failed ? 1 : 0]];
  const add = (f: IndexField, v: string | null | undefined): void => {
    if (v) out.push([f, v]);
  };
  if (r.protocol !== 'dns') {
    add('method', r.request.method);
    add('path', r.request.path);
  }
  add('src.ns', r.src.namespace);
  add('dst.ns', r.dst.namespace);
  add('src.wl', r.src.workload?.name);
  add('dst.wl', r.dst.workload?.name);
  add('src.svc', r.src.service?.name);
  add('dst.svc', r.dst.service?.name);
  // KFL2's pod name falls back to the service: index what `src.pod.name` reads.
  if (r.src.kind === 'pod' || r.src.kind === 'service') add('src.pod', r.src.name);
  if (r.dst.kind === 'pod' || r.dst.kind === 'service') add('dst.pod', r.dst.name);
  if (r.grpc) {
    add('grpc.svc', r.grpc.service);
    add('grpc.method', r.grpc.method);
  }
  if (r.dns) for (const q of r.dns.questions) add('dns.name', q.name.toLowerCase());
  return out;
}

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

export class SummaryBuilder {
  private cols = emptyColumns(CHUNK_ROWS);
  private chunk = 0;
  private postings = new Map<string, { field: IndexField; value: string | number; rows: number[] }>();
  private readonly endpoints = new Dictionary<EndpointKey>();
  private readonly edges = new Dictionary<EdgeKey>();
  private readonly templates = new TemplateCache();

  /** `onChunk` gets each chunk once its last row is in (the last one at finish). */
  constructor(private readonly onChunk: (c: SummaryChunk) => void) {}

  /** Rows must come in sequence order, starting at 1. */
  add(seq: number, r: Row): void {
    const chunk = (seq - 1) >> 12;
    if (chunk !== this.chunk) this.flush();
    this.chunk = chunk;
    const i = (seq - 1) & (CHUNK_ROWS - 1);
    const c = this.cols;
    c.ts[i] = r.timestamp;
    c.elapsed[i] = r.elapsedTime ?? NaN;
    c.status[i] = r.status;
    c.flags[i] = (r.failed ? FLAG_FAILED : 0) | (r.response ? FLAG_RESPONSE : 0) | (PROTOCOLS.indexOf(r.protocol) << 2)
      | (r.stream.transport === 'udp' ? FLAG_UDP : 0);
    c.auth[i] = authOf(r);
    // Keys joined by NUL (which none of these strings hold); the entries are kept once per distinct key.
    const ep = endpointParts(r, this.templates);
    const { protocol, destination } = ep;
    c.endpoint[i] = this.endpoints.id(`${protocol}\u0000${destination}\u0000${ep.method}\u0000${ep.path}`, () => ep);
    const source = sourceLabel(r.src);
    const sourceWorkload = workloadLabel(r.src);
    const destinationWorkload = workloadLabel(r.dst);
    c.edge[i] = this.edges.id(`${protocol}\u0000${source}\u0000${destination}\u0000${sourceWorkload}\u0000${destinationWorkload}`, () => ({
      protocol, source, destination, sourceWorkload, destinationWorkload,
    }));
    c.requestBytes[i] = Math.min(r.request.bodySize, 0xffffffff);
    c.responseBytes[i] = Math.min(r.response?.bodySize ?? 0, 0xffffffff);
    c.count = Math.max(c.count, i + 1);
    for (const [field, value] of indexValues(r)) {
      const k = `${field}\u0000${value}`;
      let p = this.postings.get(k);
      if (!p) {
        p = { field, value, rows: [] };
        this.postings.set(k, p);
      }
      p.rows.push(i);
    }
  }

  private flush(): void {
    if (this.cols.count === 0) return;
    const postings: PostingList[] = [];
    for (const p of this.postings.values()) {
      const rows = Uint16Array.from(p.rows);
      postings.push({ field: p.field, value: p.value, rows: Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength) });
    }
    this.onChunk({ chunk: this.chunk, columns: encodeChunk(this.cols), postings });
    this.cols = emptyColumns(CHUNK_ROWS);
    this.postings = new Map();
  }

  /** Hands on the last chunk; the dictionaries are complete. */
  finish(): SummaryDictionaries {
    this.flush();
    return { endpoint: this.endpoints.entries, edge: this.edges.entries };
  }
}
