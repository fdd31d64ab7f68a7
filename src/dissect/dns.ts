/**
 * DNS over UDP and TCP: queries paired with their answers (by client, server, id
 * and question), retransmissions folded into one transaction with a retry
 * count, unanswered queries reported as such, and Kubernetes search-path
 * expansion recognised: the NXDOMAIN answers a pod gets for name.ns.svc.cluster.local,
 * name.svc.cluster.local, ... before the name that resolves are expected, not
 * failures; a name that resolves under no suffix is a real failure.
 */
import type { CloseReason, Dir, StreamHandler, TcpConnection } from '../net/tcp-reassembly.js';
import { parseDnsMessage, plausibleDnsHeader, rcodeName, type DnsMessage, type DnsQuestion, type DnsRecordInfo } from './dns-message.js';
import { endpoint, type DnsInfo, type DnsSearchPath, type TransactionSink } from './record.js';

export interface DnsOptions {
  /** The cluster's DNS domain, for recognising search-path expansion. */
  clusterDomain: string;
  /** Search suffixes of the pods' resolv.conf beyond the cluster's own (often the node's domains). */
  searchPath?: string[];
  /** Capture time (µs) a query waits for its answer before it is reported unanswered. */
  answerTimeoutUs: number;
  /** Capture time (µs) an expansion NXDOMAIN waits for the rest of its search sequence. */
  expansionWindowUs: number;
  /** Queries waiting for answers at once; past it the oldest is reported unanswered. */
  maxPending: number;
}

/**
 * Another file's copy of a message this close in time is the same message seen by another node.
 * Messages are remembered this long only: at 80,000 messages a second that is 160,000 entries.
 */
const DUPLICATE_WINDOW_US = 2e6;

/** Exchanges held for search-sequence decisions, all sequences together, before the oldest sequences are given up. */
export const MAX_HELD = 16_384;

export const DEFAULT_DNS_OPTIONS: DnsOptions = {
  clusterDomain: 'cluster.local',
  answerTimeoutUs: 10e6,
  expansionWindowUs: 5e6,
  maxPending: 100_000,
};

export interface DnsStats {
  queries: number;
  responses: number;
  /** Answers whose query was not captured (kept as transactions, noted). */
  unmatchedResponses: number;
  retries: number;
  /** The same datagram captured on another node: dropped. */
  duplicates: number;
  /** Messages too short or too damaged to pair. */
  malformed: number;
}

interface Peer {
  ip: string;
  port: number;
}

/**
 * Where an exchange waits in DnsTracker.pending: for UDP a number (see DnsTracker.slotOf), else
 * a string of both ends, the DNS id and the question.
 */
type Slot = number | string;

interface Exchange {
  key: Slot;
  /** The first question, as matched: its name in lower case, type and class ('' without a question). */
  qname: string;
  qtype: string;
  qclass: string;
  client: Peer;
  server: Peer;
  transport: 'udp' | 'tcp';
  streamId: number;
  file: number;
  firstTs: number;
  query: DnsMessage | null;
  response: DnsMessage | null;
  responseTs: number | null;
  retries: number;
  notes: string[];
  /** Set when the search-path logic has decided about this answer. */
  searchPath: DnsSearchPath | null;
  /** Undecided search sequences holding this answer (an NXDOMAIN is held under each base it may belong to). */
  holders: number;
  emitted: boolean;
}

/** A client's search sequence for one base name: the answers held until it tells what they were. */
interface Expansion {
  firstTs: number;
  held: Exchange[];
  /** Names tried under this base: one alone is a plain lookup, not a sequence. */
  names: Set<string>;
  /** Decided: resolved as a name, or failed under every suffix; later members of the sequence follow. */
  outcome: { resolvedAs: string } | 'failed' | null;
}

interface Search {
  clientIp: string;
  name: string;
  bases: string[];
  /** Per base, its key in DnsTracker.expansions: the client's address, '|', the base. */
  keys: string[];
}

/** Names searchOf remembers. */
const MAX_SEARCHES = 4096;

function questionKey(q: DnsQuestion | undefined): string {
  return q ? `${q.name.toLowerCase()}|${q.type}|${q.class}` : '-';
}

/** The question as an exchange keeps it, to match answers as questionKey does. */
function matched(q: DnsQuestion | undefined): { qname: string; qtype: string; qclass: string } {
  return q ? { qname: q.name.toLowerCase(), qtype: q.type, qclass: q.class } : { qname: '', qtype: '', qclass: '' };
}

/** Whether a message's first question is the one `x` was asked with (equal questionKeys). */
function sameQuestion(x: { qname: string; qtype: string; qclass: string }, q: DnsQuestion | undefined): boolean {
  if (!q) return x.qname === '' && x.qtype === '' && x.qclass === '';
  return x.qtype === q.type && x.qclass === q.class && x.qname === q.name.toLowerCase();
}

export class DnsTracker {
  /** Queries waiting for their answers, in the order they were sent. */
  private readonly pending = new Map<Slot, Exchange>();
  /** UDP exchanges in pending under a string, as their number was taken by another question. */
  private spilled = 0;
  /** Recently completed exchanges by client side, to recognise another node's copy. */
  private readonly recent = new Map<string, { ts: number; file: number }>();
  private readonly expansions = new Map<string, Expansion>();
  /** searchOf's answers, by the name as asked. */
  private readonly searches = new Map<string, Search>();
  /** Exchanges held in `expansions` waiting for their sequence's outcome, all groups together. */
  private held = 0;
  readonly stats: DnsStats = { queries: 0, responses: 0, unmatchedResponses: 0, retries: 0, duplicates: 0, malformed: 0 };
  private readonly svcSuffix: string;
  private readonly domainSuffix: string;
  private readonly extraSuffixes: string[];

  /**
   * `severalFiles`: duplicates (another node's copy) can only come from another file; with one
   * file, messages are not remembered for that at all (at 80,000 a second, they weigh 100 MB).
   */
  constructor(private readonly sink: TransactionSink, private readonly opts: DnsOptions = DEFAULT_DNS_OPTIONS, private readonly severalFiles = true) {
    const d = opts.clusterDomain.toLowerCase().replace(/^\.|\.$/g, '');
    this.svcSuffix = `.svc.${d}`;
    this.domainSuffix = `.${d}`;
    this.extraSuffixes = (opts.searchPath ?? []).map((x) => `.${x.toLowerCase().replace(/^\.|\.$/g, '')}`).filter((x) => x !== this.domainSuffix);
  }

  /** One DNS message from `from` to `to`. */
  message(bytes: Buffer, ts: number, from: Peer, to: Peer, transport: 'udp' | 'tcp', streamId: number, file: number): void {
    const msg = parseDnsMessage(bytes);
    if (!msg) {
      this.stats.malformed++;
      return;
    }
    if (!msg.response) this.query(msg, ts, from, to, transport, streamId, file);
    else this.answer(msg, ts, from, to, transport, streamId, file);
  }

  private keyOf(client: Peer, server: Peer, msg: DnsMessage): string {
    return `${client.ip}|${client.port}|${server.ip}|${server.port}|${msg.id}|${questionKey(msg.questions[0])}`;
  }

  /**
   * A UDP exchange's number: its flow (one per pair of ends), which way the query went in it,
   * and its DNS id. It stands for keyOf's string, whose building and hashing for every message
   * was a large part of DNS's cost: the question is compared after (sameQuestion), and a
   * second question under one number waits under the string.
   */
  private slotOf(client: Peer, server: Peer, msg: DnsMessage, streamId: number): number {
    const forward = client.ip < server.ip || (client.ip === server.ip && client.port < server.port);
    return (streamId * 2 + (forward ? 1 : 0)) * 65536 + msg.id;
  }

  /** The exchange waiting for this message's counterpart, if any, and the slot a new one would take. */
  private waiting(client: Peer, server: Peer, msg: DnsMessage, transport: 'udp' | 'tcp', streamId: number): { x: Exchange | undefined; slot: Slot } {
    if (transport === 'udp') {
      const n = this.slotOf(client, server, msg, streamId);
      const at = this.pending.get(n);
      if (at && sameQuestion(at, msg.questions[0])) return { x: at, slot: n };
      if (!at && this.spilled === 0) return { x: undefined, slot: n };
      const key = this.keyOf(client, server, msg);
      return { x: this.pending.get(key), slot: at ? key : n };
    }
    const key = this.keyOf(client, server, msg);
    return { x: this.pending.get(key), slot: key };
  }

  private add(x: Exchange): void {
    if (x.transport === 'udp' && typeof x.key === 'string') this.spilled++;
    this.pending.set(x.key, x);
  }

  private take(x: Exchange): void {
    if (x.transport === 'udp' && typeof x.key === 'string') this.spilled--;
    this.pending.delete(x.key);
  }

  /** A query as the client sent it, whatever server address each node saw it going to (a Service's DNAT). */
  private clientKey(client: Peer, msg: DnsMessage): string {
    return `${client.ip}|${client.port}|${msg.id}|${questionKey(msg.questions[0])}|${msg.response ? 'r' : 'q'}`;
  }

  /** Another file's copy of a message seen moments ago is a duplicate (a second node's capture). */
  private duplicate(client: Peer, msg: DnsMessage, ts: number, file: number): boolean {
    if (!this.severalFiles) return false;
    const k = this.clientKey(client, msg);
    const seen = this.recent.get(k);
    if (seen && seen.file !== file && Math.abs(ts - seen.ts) < DUPLICATE_WINDOW_US) {
      this.stats.duplicates++;
      return true;
    }
    // Deleted first so that the map stays in time order (a key seen again moves to the end):
    // tick() forgets from the front and stops at the first recent entry.
    if (seen) this.recent.delete(k);
    this.recent.set(k, { ts, file });
    return false;
  }

  private query(msg: DnsMessage, ts: number, client: Peer, server: Peer, transport: 'udp' | 'tcp', streamId: number, file: number): void {
    if (transport === 'udp' && this.duplicate(client, msg, ts, file)) return;
    this.stats.queries++;
    const { x: open, slot } = this.waiting(client, server, msg, transport, streamId);
    if (open) {
      // The same id and question again before an answer: a retransmission, not a new lookup.
      open.retries++;
      this.stats.retries++;
      return;
    }
    if (this.pending.size >= this.opts.maxPending) {
      const oldest = this.pending.values().next().value as Exchange;
      this.take(oldest);
      oldest.notes.push(`no response (evicted: more than ${this.opts.maxPending} queries waiting)`);
      this.complete(oldest);
    }
    if (msg.error) this.stats.malformed++;
    this.add({
      key: slot, ...matched(msg.questions[0]), client, server, transport, streamId, file, firstTs: ts, query: msg, response: null, responseTs: null,
      retries: 0, notes: msg.error ? [`query: ${msg.error}`] : [], searchPath: null, holders: 0, emitted: false,
    });
  }

  private answer(msg: DnsMessage, ts: number, server: Peer, client: Peer, transport: 'udp' | 'tcp', streamId: number, file: number): void {
    if (transport === 'udp' && this.duplicate(client, msg, ts, file)) return;
    this.stats.responses++;
    const waiting = this.waiting(client, server, msg, transport, streamId);
    let x = waiting.x;
    if (x) this.take(x);
    else {
      this.stats.unmatchedResponses++;
      x = {
        key: waiting.slot, ...matched(msg.questions[0]), client, server, transport, streamId, file, firstTs: ts, query: null, response: null, responseTs: null,
        retries: 0, notes: ['query not captured'], searchPath: null, holders: 0, emitted: false,
      };
    }
    x.response = msg;
    x.responseTs = ts;
    if (msg.error) {
      this.stats.malformed++;
      x.notes.push(`response: ${msg.error}`);
    }
    this.complete(x);
  }

  /** Names a query may be the search-path expansion of: itself and itself without each cluster suffix. `n`: lower case, no final dot. */
  private bases(n: string): string[] {
    const out = [n];
    if (n.endsWith(this.svcSuffix)) {
      const head = n.slice(0, -this.svcSuffix.length);
      out.push(head);
      const dot = head.lastIndexOf('.');
      if (dot > 0) out.push(head.slice(0, dot));
    }
    if (n.endsWith(this.domainSuffix)) out.push(n.slice(0, -this.domainSuffix.length));
    for (const x of this.extraSuffixes) if (n.endsWith(x) && n.length > x.length) out.push(n.slice(0, -x.length));
    return out;
  }

  /** A name a search path may have produced: under the cluster domain or a configured suffix. `n` as for bases(). */
  private inCluster(n: string): boolean {
    return n.endsWith(this.domainSuffix) || this.extraSuffixes.some((x) => n.endsWith(x));
  }

  /** An exchange is complete (answered, or given up): decide what it means in its search sequence, then emit. */
  private complete(x: Exchange): void {
    const q = (x.query ?? x.response)?.questions[0];
    const rcode = x.response?.rcode ?? null;
    if (!q || rcode === null || (rcode !== 0 && rcode !== 3)) {
      this.emit(x);
      return;
    }
    // An answer found with no search sequence under way is only itself: the common case, decided here.
    if (rcode === 0 && this.expansions.size === 0) {
      this.emit(x);
      return;
    }
    const { name, bases, keys } = this.searchOf(x.client.ip, q.name);
    if (rcode === 3 && this.inCluster(name)) {
      // One step of a search sequence, perhaps: its meaning comes with the rest of the sequence.
      let decided = false;
      for (let i = 1; i < bases.length; i++) {
        const b = bases[i];
        const e = this.group(keys[i], x.firstTs);
        e.names.add(name);
        if (e.outcome === null) {
          e.held.push(x);
          x.holders++;
          this.held++;
        } else if (!decided) {
          decided = true;
          this.decide(x, b, e.outcome);
        }
      }
      if (decided) this.emit(x);
      if (this.held > MAX_HELD) this.flushOldest();
      return;
    }
    if (rcode === 3) {
      // The name as given failed too: its whole sequence failed.
      const e = this.expansions.get(keys[0]);
      if (e) {
        e.names.add(name);
        if (e.outcome === null) this.settle(e, name, 'failed');
        this.decide(x, name, 'failed');
      }
      this.emit(x);
      return;
    }
    // Found: the NXDOMAINs before it in its sequence were expected, and so are later ones of the same sequence.
    for (let i = 0; i < bases.length; i++) {
      const b = bases[i];
      const e = this.expansions.get(keys[i]);
      if (!e) continue;
      e.names.add(name);
      if (e.outcome === null) this.settle(e, b, { resolvedAs: q.name });
      if (e.names.size > 1 && !x.searchPath) x.searchPath = { base: b, role: 'answer', resolvedAs: q.name };
    }
    this.emit(x);
  }

  /**
   * A question's name as the search-path logic reads it (lower case, no final dot), the bases it
   * may expand and their keys in `expansions` for this client: remembered by name, as a client
   * asks the same names over and over, and building and hashing the keys afresh each time
   * showed in profiles.
   */
  private searchOf(clientIp: string, asked: string): Search {
    let s = this.searches.get(asked);
    if (s === undefined || s.clientIp !== clientIp) {
      const lower = asked.toLowerCase();
      const name = lower.endsWith('.') ? lower.slice(0, -1) : lower;
      const bases = this.bases(name);
      s = { clientIp, name, bases, keys: bases.map((b) => `${clientIp}|${b}`) };
      if (this.searches.size >= MAX_SEARCHES) this.searches.clear();
      this.searches.set(asked, s);
    }
    return s;
  }

  private group(key: string, ts: number): Expansion {
    let e = this.expansions.get(key);
    if (!e) {
      e = { firstTs: ts, held: [], names: new Set(), outcome: null };
      this.expansions.set(key, e);
    }
    return e;
  }

  /** A sequence is decided: what it held is emitted with its role. */
  private settle(e: Expansion, base: string, outcome: Exclude<Expansion['outcome'], null>): void {
    e.outcome = outcome;
    this.held -= e.held.length;
    for (const h of e.held) {
      if (h.emitted) continue;
      this.decide(h, base, outcome);
      this.emit(h);
    }
    e.held = [];
  }

  private decide(x: Exchange, base: string, outcome: Exclude<Expansion['outcome'], null>): void {
    x.searchPath = outcome === 'failed'
      ? { base, role: 'not-resolved', resolvedAs: null }
      : { base, role: 'expansion', resolvedAs: outcome.resolvedAs };
  }

  /** Let capture time pass: unanswered queries and undecided sequences past their windows are reported. */
  tick(now: number): void {
    for (const x of this.pending.values()) {
      if (now - x.firstTs < this.opts.answerTimeoutUs) break;
      this.take(x);
      this.complete(x);
    }
    for (const [k, e] of this.expansions) {
      if (now - e.firstTs < this.opts.expansionWindowUs) continue;
      this.expansions.delete(k);
      this.flushExpansion(e, k);
    }
    for (const [k, r] of this.recent) {
      if (now - r.ts < DUPLICATE_WINDOW_US) break;
      this.recent.delete(k);
    }
  }

  /** End of capture: everything still waiting is reported. */
  finish(): void {
    for (const x of this.pending.values()) this.complete(x);
    this.pending.clear();
    this.spilled = 0;
    for (const [k, e] of this.expansions) this.flushExpansion(e, k);
    this.expansions.clear();
  }

  /**
   * Too many exchanges wait for their sequences' outcomes (a resolver hammered with failing
   * names): the oldest sequences are given up before their window ends, as if it had.
   */
  private flushOldest(): void {
    for (const [k, e] of this.expansions) {
      if (this.held <= MAX_HELD / 2) break;
      this.expansions.delete(k);
      this.flushExpansion(e, k, `search sequence given up early: more than ${MAX_HELD} queries were waiting for their sequences' outcome`);
    }
  }

  /**
   * A sequence that never resolved within its window (or was given up early, `note` says why):
   * its NXDOMAINs are real failures; part of a failed search when several suffixes of one name were tried.
   */
  private flushExpansion(e: Expansion, key: string, note?: string): void {
    const base = key.slice(key.indexOf('|') + 1);
    this.held -= e.held.length;
    for (const h of e.held) {
      if (h.emitted) continue;
      if (note && !h.notes.includes(note)) h.notes.push(note);
      h.holders--;
      if (e.names.size > 1) {
        h.searchPath = { base, role: 'not-resolved', resolvedAs: null };
        this.emit(h);
      } else if (h.holders === 0) {
        // Alone under this base, but another base may hold it in a longer sequence (x.ns.svc.cluster.local
        // is held under "x.ns" and "x"): the last to let go emits it, so a failed search's first NXDOMAIN
        // is not emitted without its role by whichever group happened to flush first.
        this.emit(h);
      }
    }
  }

  private emit(x: Exchange): void {
    if (x.emitted) return;
    x.emitted = true;
    const q = x.query ?? x.response!;
    const r = x.response;
    const question = q.questions[0];
    const notes = [...x.notes];
    if (!r) notes.push('no response');
    if (x.retries > 0) notes.push(`query sent ${x.retries + 1} times`);
    if (r?.flags.truncated) notes.push('answer truncated (TC): the client should retry over TCP');
    const sp = x.searchPath;
    let expected = false;
    if (sp?.role === 'expansion') {
      expected = true;
      notes.push(`expected NXDOMAIN: search-path expansion of "${sp.base}" (resolved as ${sp.resolvedAs})`);
    } else if (sp?.role === 'not-resolved') {
      notes.push(`"${sp.base}" resolved under no search suffix`);
    } else if (sp?.role === 'answer') {
      notes.push(`resolved after search-path expansion of "${sp.base}"`);
    }
    const rcode = r ? r.rcode : 0;
    const qname = question?.name ?? '';
    const qtype = question?.type ?? '';
    const queryLength = x.query?.length ?? 0;
    const responseLength = r?.length ?? 0;
    const dns: DnsInfo = {
      id: q.id,
      opcode: q.opcode,
      transport: x.transport,
      questions: q.questions,
      answers: r?.answers ?? [],
      authorities: r?.authorities ?? [],
      additionals: r?.additionals ?? [],
      rcode: r ? rcodeName(r.rcode) : null,
      flags: r?.flags ?? x.query?.flags ?? null,
      // The answer's EDNS when there is an answer, even none: a server that drops the OPT must show as such.
      edns: r ? r.edns : x.query?.edns ?? null,
      retries: x.retries,
      queryLength,
      responseLength,
      searchPath: sp,
    };
    this.sink({
      record: {
        protocol: 'dns',
        timestamp: x.firstTs,
        elapsedTime: r && x.responseTs !== null ? (x.responseTs - x.firstTs) / 1000 : null,
        responseTimestamp: r ? x.responseTs : null,
        src: endpoint(x.client.ip, x.client.port),
        dst: endpoint(x.server.ip, x.server.port),
        stream: { id: x.streamId, transport: x.transport },
        request: {
          method: qtype, url: qname, path: qname, query: '', version: 'DNS', headers: [], headersSize: 0,
          bodySize: queryLength, wireBodySize: queryLength, contentEncoding: null, body: null,
        },
        response: r
          ? {
              status: rcode, statusText: rcodeName(rcode), version: 'DNS', headers: [], headersSize: 0,
              bodySize: responseLength, wireBodySize: responseLength, contentEncoding: null, body: null,
            }
          : null,
        status: rcode,
        failed: !r || (rcode !== 0 && !expected),
        notes,
        dns,
      },
      requestBody: null,
      responseBody: null,
    });
  }
}

/** DNS over TCP: two-byte length-prefixed messages in each direction (RFC 1035 4.2.2), several per connection. */
export class DnsTcpDissector implements StreamHandler {
  private readonly bufs: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  private readonly broken: [boolean, boolean] = [false, false];

  constructor(private readonly conn: TcpConnection, private readonly tracker: DnsTracker, private readonly file: () => number) {}

  data(dir: Dir, bytes: Buffer, ts: number): void {
    if (this.broken[dir]) {
      // After a gap, clients write each message in one piece: a segment that starts like one resumes the stream.
      if (bytes.length < 14 || !plausibleDnsHeader(bytes.subarray(2))) return;
      this.broken[dir] = false;
    }
    let b = this.bufs[dir].length ? Buffer.concat([this.bufs[dir], bytes]) : bytes;
    const from = dir === 0 ? this.conn.client : this.conn.server;
    const to = dir === 0 ? this.conn.server : this.conn.client;
    while (b.length >= 2) {
      const len = b.readUInt16BE(0);
      if (b.length < 2 + len) break;
      this.tracker.message(b.subarray(2, 2 + len), ts, from, to, 'tcp', this.conn.id, this.file());
      b = b.subarray(2 + len);
    }
    // Only the unfinished message is kept, copied: the input is a view into a capture chunk.
    this.bufs[dir] = Buffer.from(b);
  }

  gap(dir: Dir): void {
    // Message boundaries are lost with the bytes, until a segment starts like a message again.
    this.broken[dir] = true;
    this.bufs[dir] = Buffer.alloc(0);
  }

  end(_reason: CloseReason, _ts: number): void {
    this.bufs[0] = Buffer.alloc(0);
    this.bufs[1] = Buffer.alloc(0);
  }
}
