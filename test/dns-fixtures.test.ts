/**
 * End to end on the DNS fixture made from real peers by scripts/make-dns-fixtures.ts:
 * fixtures/dns/dns.pcap (dnsmasq as the cluster DNS, a SERVFAIL upstream, a server
 * that never answers; dig, a Node TCP client and glibc's stub resolver with a pod's
 * resolv.conf). The capture is imported with the podcap command and every lookup
 * of its expected.json is checked field by field against `calls dns --json`.
 *
 * Every expectation comes from expected.json, except where podcap differs on
 * purpose, each said where it is asserted:
 *  - dig's unanswered retry comes from a new source port: podcap pairs by client
 *    port, so that lookup is two unanswered transactions (expected.json's one
 *    lookup, timesSent 2, samePort false);
 *  - a name resolved on its first search suffix, with no NXDOMAIN before it, is
 *    marked role "answer" in expected.json (the script knows what getaddrinfo was
 *    asked); podcap leaves searchPath null.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DEFAULT_DNS_OPTIONS, DnsTracker, MAX_HELD } from '../src/dissect/dns.js';
import type { DnsRecordInfo } from '../src/dissect/dns-message.js';
import type { DnsSearchPath, DissectedTransaction, TransactionRecord } from '../src/dissect/record.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

// ---------------------------------------------------------------------------
// expected.json shapes (only what the tests read)

interface Rr {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

interface Lookup {
  n: number;
  client: string;
  transport: 'udp' | 'tcp';
  server: { ip: string; port: number };
  question: { name: string; type: string };
  /** null: no response. */
  rcode: string | null;
  answers: Rr[];
  /** Absent: expected.json's notes say dnsmasq never sends authority records here. */
  authorities?: Rr[];
  additionals: Rr[];
  truncated: boolean;
  edns: { query: boolean; response: boolean | null };
  timesSent: number;
  samePort: boolean;
  tcpConnection: string | null;
  searchPath: DnsSearchPath | null;
  failed: boolean;
  note: string | null;
  clientIp: string;
  clientPort: number;
  id: number;
  sends: Array<{ frame: number; time: string; clientPort: number }>;
  response: { frame: number; time: string } | null;
  tcpStream: number | null;
}

interface SearchSequence {
  base: string;
  tried: string[];
  outcome: 'resolved' | 'not resolved';
  resolvedAs: string | null;
  expectedNxdomains: number[];
  answers: number[];
  realFailures: number[];
}

interface DnsExpected {
  notes: string[];
  lookups: Lookup[];
  searchPath: SearchSequence[];
  tshark: { messages: { queries: number; responses: number } };
}

const dir = join(fixturesDir, 'dns');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as DnsExpected;
const lookups = expected.lookups;

/** RFC 1035 / IANA response codes: status is the number, dns.rcode the name. */
const RCODE_NUMBER: Record<string, number> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
};

/** tshark's frame.time_epoch ("s.nnnnnnnnn") in podcap's microseconds since the epoch. */
function micros(t: string): number {
  const [s, frac = ''] = t.split('.');
  return Number(s) * 1e6 + Number(frac.padEnd(9, '0')) / 1000;
}

function rr(r: DnsRecordInfo): Rr {
  return { name: r.name, type: r.type, ttl: r.ttl, data: r.data };
}

function rcodeNumber(name: string): number {
  const n = RCODE_NUMBER[name];
  assert.ok(n !== undefined, `rcode ${name} missing from the test's table`);
  return n;
}

/**
 * The client ports podcap makes one transaction each from: glibc resends from the
 * same socket (one transaction, retried); dig retries from a new socket, and podcap,
 * which pairs by client port, sees one unanswered query per port.
 */
function portsOf(l: Lookup): number[] {
  return l.samePort ? [l.clientPort] : [...new Set(l.sends.map((s) => s.clientPort))];
}

function keyOf(transport: string, srcIp: string, srcPort: number, dstIp: string, dstPort: number, id: number, name: string, type: string): string {
  return [transport, srcIp, srcPort, dstIp, dstPort, id, name.toLowerCase(), type].join('|');
}

function lookupKey(l: Lookup, port: number): string {
  return keyOf(l.transport, l.clientIp, port, l.server.ip, l.server.port, l.id, l.question.name, l.question.type);
}

function recordKey(r: TransactionRecord): string {
  const q = r.dns!.questions[0]!;
  return keyOf(r.stream.transport, r.src.ip, r.src.port, r.dst.ip, r.dst.port, r.dns!.id, q.name, q.type);
}

/**
 * Lookups expected.json marks role "answer" for a name found on its FIRST search
 * suffix with nothing tried before it (payment-svc -> payment-svc.shop.svc.cluster.local).
 * On the wire that is one query of a full cluster name answered NOERROR, exactly what
 * `dig payment-svc.shop.svc.cluster.local` sends: podcap cannot tell it was a search
 * expansion, so it leaves searchPath null (and the transaction is no less correct).
 */
const firstSuffixAnswers = new Set(
  expected.searchPath
    .filter((s) => s.outcome === 'resolved' && s.expectedNxdomains.length === 0 && s.tried.length === 1)
    .flatMap((s) => s.answers),
);

/** What podcap should say in searchPath: expected.json's, but for the first-suffix answers above. */
function expectedSearchPath(l: Lookup): DnsSearchPath | null {
  return firstSuffixAnswers.has(l.n) ? null : l.searchPath;
}

// ---------------------------------------------------------------------------

describe('DNS fixture (real dnsmasq, glibc and dig traffic)', () => {
  let ws: { dir: string; cleanup: () => void };
  let snapshot: { report: { dns: Record<string, number>; transactions: Record<string, number>; failed: number } };
  let records: TransactionRecord[];
  /** The podcap transaction(s) of each lookup, by n; one per client port (portsOf). */
  const byLookup = new Map<number, TransactionRecord[]>();

  const calls = (filter: string): TransactionRecord[] => {
    const r = podcap(['calls', filter, '--json', '--limit', '1000', '--workspace', ws.dir]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as TransactionRecord[];
  };
  const ids = (rs: TransactionRecord[]): string[] => rs.map((r) => r.id).sort();
  const idsOf = (ls: Lookup[]): string[] => ls.flatMap((l) => byLookup.get(l.n) ?? []).map((r) => r.id).sort();
  const only = (l: Lookup): TransactionRecord => {
    const rs = byLookup.get(l.n) ?? [];
    assert.equal(rs.length, 1, `lookup #${l.n}: one transaction`);
    return rs[0]!;
  };

  before(() => {
    ws = tempWorkspace();
    const imp = podcap(['import', join(dir, 'dns.pcap'), '--json', '--workspace', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
    snapshot = JSON.parse(imp.stdout) as typeof snapshot;
    records = calls('dns');
    const byKey = new Map<string, TransactionRecord[]>();
    for (const r of records) {
      const k = recordKey(r);
      byKey.set(k, [...(byKey.get(k) ?? []), r]);
    }
    for (const l of lookups) {
      byLookup.set(l.n, portsOf(l).flatMap((p) => byKey.get(lookupKey(l, p)) ?? []));
    }
  });
  after(() => ws?.cleanup());

  it('every lookup is its own transaction(s), and there are no others', () => {
    assert.ok(lookups.length > 0);
    for (const l of lookups) {
      const rs = byLookup.get(l.n)!;
      assert.equal(rs.length, portsOf(l).length, `lookup #${l.n} (${l.question.type} ${l.question.name} from ${l.clientIp}): transactions`);
    }
    const claimed = new Set([...byLookup.values()].flat().map((r) => r.id));
    const extra = records.filter((r) => !claimed.has(r.id)).map((r) => `${r.id} ${r.request.method} ${r.request.url}`);
    assert.deepEqual(extra, [], 'transactions no lookup accounts for');
    assert.equal(records.length, claimed.size);
    assert.deepEqual(snapshot.report.transactions, { dns: records.length });
  });

  it("counts tshark's DNS messages: queries (retransmissions included) and responses", () => {
    // The README's tables of podcap/tshark differences are about HTTP corpora: for DNS the counts are equal.
    const dns = snapshot.report.dns;
    assert.equal(dns.queries, expected.tshark.messages.queries);
    assert.equal(dns.responses, expected.tshark.messages.responses);
    assert.equal(dns.retries, lookups.filter((l) => l.samePort).reduce((n, l) => n + l.timesSent - 1, 0));
    assert.equal(dns.unmatchedResponses, 0);
    assert.equal(dns.duplicates, 0);
    assert.equal(dns.malformed, 0);
    assert.equal(snapshot.report.failed, lookups.filter((l) => l.failed).reduce((n, l) => n + portsOf(l).length, 0));
  });

  for (const l of lookups) {
    it(`#${l.n} ${l.client} ${l.transport}: ${l.question.type} ${l.question.name} -> ${l.rcode ?? 'no response'}`, () => {
      const rs = byLookup.get(l.n)!;
      assert.equal(rs.length, portsOf(l).length, 'transactions');
      for (const r of rs) {
        const d = r.dns!;
        const at = `lookup #${l.n}, ${r.id}`;
        assert.equal(r.protocol, 'dns', at);
        // Transport and endpoints.
        assert.equal(r.stream.transport, l.transport, at);
        assert.equal(d.transport, l.transport, at);
        assert.equal(r.src.ip, l.clientIp, at);
        assert.ok(portsOf(l).includes(r.src.port), at);
        assert.equal(r.dst.ip, l.server.ip, at);
        assert.equal(r.dst.port, l.server.port, at);
        // Message.
        assert.equal(d.id, l.id, at);
        assert.equal(d.opcode, 'QUERY', at);
        assert.deepEqual(d.questions.map((q) => ({ name: q.name, type: q.type })), [l.question], at);
        assert.equal(r.request.method, l.question.type, at);
        assert.equal(r.request.url, l.question.name, at);
        assert.ok(d.queryLength > 0, `${at}: the query was captured`);
        // Answer: rcode by name and as the status number.
        assert.equal(d.rcode, l.rcode, `${at}: rcode`);
        if (l.rcode === null) {
          assert.equal(r.response, null, at);
          assert.equal(r.status, 0, `${at}: status without a response`);
          assert.equal(r.elapsedTime, null, at);
          assert.equal(r.responseTimestamp, null, at);
          assert.equal(d.responseLength, 0, at);
        } else {
          const status = rcodeNumber(l.rcode);
          assert.equal(r.status, status, `${at}: status`);
          assert.equal(r.response?.status, status, at);
          assert.equal(r.response?.statusText, l.rcode, at);
          assert.ok(d.responseLength > 0, at);
        }
        // Records, in wire order, with their TTLs (OPT is not among the additionals).
        assert.deepEqual(d.answers.map(rr), l.answers, `${at}: answers`);
        assert.deepEqual(d.authorities.map(rr), l.authorities ?? [], `${at}: authorities`);
        assert.deepEqual(d.additionals.map(rr), l.additionals, `${at}: additionals`);
        // TC, and its note.
        assert.equal(d.flags?.truncated ?? false, l.truncated, `${at}: TC`);
        assert.equal(r.notes.some((n) => n.startsWith('answer truncated (TC)')), l.truncated, `${at}: TC note`);
        // EDNS: the answer's when there is one, else the query's.
        const edns = l.edns.response ?? l.edns.query;
        assert.equal(d.edns !== null, edns, `${at}: EDNS present`);
        // Times sent, and when. sends[].time is the frame tshark shows the query in: for one split
        // across segments, the segment that completes it, which is also when podcap reads it.
        const sends = l.sends.filter((s) => s.clientPort === r.src.port);
        const retries = l.samePort ? l.timesSent - 1 : 0;
        assert.equal(sends.length, retries + 1, `${at}: sends from port ${r.src.port}`);
        assert.equal(d.retries, retries, `${at}: retries`);
        assert.equal(r.notes.includes(`query sent ${retries + 1} times`), retries > 0, `${at}: retry note`);
        assert.equal(r.timestamp, micros(sends[0]!.time), `${at}: timestamp (frame ${sends[0]!.frame})`);
        if (l.response) {
          assert.equal(r.responseTimestamp, micros(l.response.time), `${at}: response time (frame ${l.response.frame})`);
          assert.ok(Math.abs(r.elapsedTime! - (micros(l.response.time) - micros(sends[0]!.time)) / 1000) < 1e-9, `${at}: elapsed`);
        }
        // Failed, and "no response".
        assert.equal(r.failed, l.failed, `${at}: failed`);
        assert.equal(r.notes.includes('no response'), l.rcode === null, `${at}: "no response" note`);
        // Search path.
        const sp = expectedSearchPath(l);
        assert.deepEqual(d.searchPath, sp, `${at}: searchPath`);
        // Nothing else was noted: no decoding damage, no query missing.
        const explained = r.notes.filter((n) =>
          n === 'no response' || n === `query sent ${retries + 1} times` || n.startsWith('answer truncated (TC)')
          || (sp !== null && n.includes(`"${sp.base}"`)));
        assert.deepEqual(r.notes, explained, `${at}: notes`);
      }
    });
  }

  it("dig's unanswered retry from a new source port: two unanswered transactions, same id", () => {
    const digRetry = lookups.filter((l) => !l.samePort);
    assert.ok(digRetry.length > 0, 'expected.json has a lookup resent from another port');
    for (const l of digRetry) {
      assert.equal(l.rcode, null);
      const rs = byLookup.get(l.n)!.sort((a, b) => a.timestamp - b.timestamp);
      // podcap pairs by client port: each port's query is its own transaction, none retried.
      assert.equal(rs.length, l.timesSent, `lookup #${l.n}: one transaction per send`);
      assert.deepEqual(rs.map((r) => r.src.port), l.sends.map((s) => s.clientPort));
      assert.deepEqual(rs.map((r) => r.timestamp), l.sends.map((s) => micros(s.time)));
      for (const r of rs) {
        assert.equal(r.dns!.id, l.id);
        assert.equal(r.dns!.retries, 0);
        assert.equal(r.failed, true);
        assert.equal(r.response, null);
        assert.deepEqual(r.notes, ['no response']);
      }
    }
  });

  it("glibc's unanswered retry from the same port: ONE transaction, retries 1", () => {
    const glibcRetry = lookups.filter((l) => l.samePort && l.timesSent > 1);
    assert.ok(glibcRetry.length > 0, 'expected.json has a lookup resent from the same port');
    for (const l of glibcRetry) {
      assert.equal(l.rcode, null);
      assert.ok(l.sends.every((s) => s.clientPort === l.clientPort));
      const r = only(l);
      assert.equal(r.dns!.retries, l.timesSent - 1);
      assert.equal(r.dns!.retries, 1);
      assert.equal(r.timestamp, micros(l.sends[0]!.time), 'the first send starts it');
      assert.equal(r.failed, true);
      assert.deepEqual(r.notes, ['no response', `query sent ${l.timesSent} times`]);
    }
  });

  it('several messages on one TCP connection, pipelined and split across segments', () => {
    const byConn = new Map<string, Lookup[]>();
    for (const l of lookups) if (l.tcpConnection) byConn.set(l.tcpConnection, [...(byConn.get(l.tcpConnection) ?? []), l]);
    assert.ok([...byConn.values()].some((ls) => ls.length > 1), 'a connection with several lookups');
    const streamOf = new Map<string, number>();
    for (const [conn, ls] of byConn) {
      const streams = new Set(ls.map((l) => only(l).stream.id));
      assert.equal(streams.size, 1, `${conn}: one podcap stream`);
      assert.equal(new Set(ls.map((l) => l.tcpStream)).size, 1, `${conn}: one tshark stream`);
      for (const l of ls) assert.equal(only(l).stream.transport, 'tcp');
      streamOf.set(conn, [...streams][0]!);
    }
    assert.equal(new Set(streamOf.values()).size, byConn.size, 'each connection its own stream');

    // Two queries in one segment: both read, each paired with its own answer.
    const byFrame = new Map<number, Lookup[]>();
    for (const l of lookups) if (l.transport === 'tcp') for (const s of l.sends) byFrame.set(s.frame, [...(byFrame.get(s.frame) ?? []), l]);
    const pipelined = [...byFrame.values()].filter((ls) => ls.length > 1);
    assert.ok(pipelined.length > 0, 'a segment carrying two queries');
    for (const ls of pipelined) {
      const rs = ls.map(only);
      assert.equal(new Set(rs.map((r) => r.timestamp)).size, 1, 'sent in the same segment');
      assert.equal(new Set(rs.map((r) => r.dns!.id)).size, ls.length, 'distinct messages');
      for (const [i, l] of ls.entries()) assert.deepEqual(rs[i]!.dns!.answers.map(rr), l.answers);
    }
    // The query written in two pieces: reassembled into one message and answered.
    const split = lookups.filter((l) => l.transport === 'tcp' && /two (segments|pieces)/.test(l.note ?? ''));
    assert.equal(split.length, 1, 'expected.json notes one query split across segments');
    const r = only(split[0]!);
    assert.equal(r.dns!.rcode, split[0]!.rcode);
    assert.deepEqual(r.dns!.answers.map(rr), split[0]!.answers);
    assert.deepEqual(r.notes, []);
  });

  it('the SERVFAIL relayed by dnsmasq: both legs, both failed', () => {
    const servfail = lookups.filter((l) => l.rcode === 'SERVFAIL');
    const leg = servfail.find((l) => l.client === 'dnsmasq');
    const first = servfail.find((l) => l.client !== 'dnsmasq');
    assert.ok(leg && first, 'the client leg and the forwarding leg');
    assert.deepEqual(leg.question, first.question);
    const [a, b] = [only(first), only(leg)];
    // The forwarding leg's client is the first leg's server's host; its server is the upstream.
    assert.equal(a.dst.ip, first.server.ip);
    assert.equal(b.src.ip, leg.clientIp);
    assert.equal(b.dst.ip, leg.server.ip);
    assert.notEqual(b.dst.ip, a.dst.ip);
    for (const r of [a, b]) {
      assert.equal(r.failed, true);
      assert.equal(r.dns!.rcode, 'SERVFAIL');
      assert.equal(r.status, rcodeNumber('SERVFAIL'));
    }
    // Nested in time: the forwarded query goes out and is answered while the client waits.
    assert.ok(a.timestamp < b.timestamp && b.responseTimestamp! < a.responseTimestamp!);
  });

  it('search path: expansions expected, answers marked, the typo failed, full-name NXDOMAINs plain failures', () => {
    const byN = new Map(lookups.map((l) => [l.n, l]));
    for (const seq of expected.searchPath) {
      for (const n of seq.expectedNxdomains) {
        const l = byN.get(n)!;
        const r = only(l);
        assert.equal(r.dns!.rcode, 'NXDOMAIN', `#${n}`);
        assert.equal(r.failed, false, `#${n}: an expected NXDOMAIN is not a failure`);
        assert.deepEqual(r.dns!.searchPath, { base: seq.base, role: 'expansion', resolvedAs: seq.resolvedAs }, `#${n}`);
        assert.ok(r.notes.some((x) => x.startsWith('expected NXDOMAIN')), `#${n}`);
      }
      for (const n of seq.answers) {
        const r = only(byN.get(n)!);
        assert.equal(r.failed, false, `#${n}`);
        if (firstSuffixAnswers.has(n)) {
          // Resolved on the first suffix, nothing before it: on the wire a plain lookup of the
          // full name (see firstSuffixAnswers). expected.json says "answer"; podcap says nothing.
          assert.equal(byN.get(n)!.searchPath?.role, 'answer', `#${n}: expected.json's role`);
          assert.equal(r.dns!.searchPath, null, `#${n}: podcap cannot know`);
          assert.deepEqual(r.notes, [], `#${n}`);
        } else {
          assert.deepEqual(r.dns!.searchPath, { base: seq.base, role: 'answer', resolvedAs: seq.resolvedAs }, `#${n}`);
        }
      }
      for (const n of seq.realFailures) {
        const r = only(byN.get(n)!);
        assert.equal(r.dns!.rcode, 'NXDOMAIN', `#${n}`);
        assert.equal(r.failed, true, `#${n}: the typo is a real failure`);
        assert.deepEqual(r.dns!.searchPath, { base: seq.base, role: 'not-resolved', resolvedAs: null }, `#${n}`);
        assert.ok(r.notes.includes(`"${seq.base}" resolved under no search suffix`), `#${n}`);
      }
    }
    assert.ok(expected.searchPath.some((s) => s.expectedNxdomains.length > 0));
    assert.ok(expected.searchPath.some((s) => s.realFailures.length > 0));
    assert.ok(firstSuffixAnswers.size > 0);

    // NXDOMAINs of full names asked outside any search (dig): failed, no role.
    const plain = lookups.filter((l) => l.rcode === 'NXDOMAIN' && l.searchPath === null);
    assert.ok(plain.length > 0);
    for (const l of plain) {
      assert.equal(l.failed, true);
      const r = only(l);
      assert.equal(r.failed, true, `#${l.n}`);
      assert.equal(r.dns!.searchPath, null, `#${l.n}`);
      assert.deepEqual(r.notes, [], `#${l.n}`);
    }
  });

  it('filter: dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion is exactly the real NXDOMAIN failures', () => {
    const real = lookups.filter((l) => l.rcode === 'NXDOMAIN' && l.failed);
    assert.ok(real.length > 0);
    // expected.json agrees with itself: an NXDOMAIN is a failure unless it is an expansion.
    assert.deepEqual(real, lookups.filter((l) => l.rcode === 'NXDOMAIN' && l.searchPath?.role !== 'expansion'));
    assert.deepEqual(ids(calls('dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion')), idsOf(real));
    assert.deepEqual(ids(calls('dns && dns_search_expansion')), idsOf(lookups.filter((l) => l.searchPath?.role === 'expansion')));
  });

  it('filter: dns && failed is exactly the failures expected.json lists', () => {
    const failures = lookups.filter((l) => l.failed);
    assert.ok(failures.length > 0);
    assert.deepEqual(ids(calls('dns && failed')), idsOf(failures));
    assert.deepEqual(ids(calls('dns && !failed')), idsOf(lookups.filter((l) => !l.failed)));
  });

  it('show prints the CNAME chain', () => {
    const chains = lookups.filter((l) => l.answers.filter((a) => a.type === 'CNAME').length > 1);
    assert.ok(chains.length > 0, 'expected.json has a CNAME chain');
    for (const l of chains) {
      // The chain as expected.json has it: each CNAME's target is the next record's owner.
      for (let i = 0; i + 1 < l.answers.length; i++) {
        if (l.answers[i]!.type === 'CNAME') assert.equal(l.answers[i + 1]!.name, l.answers[i]!.data);
      }
      const r = only(l);
      const shown = podcap(['show', r.id, '--workspace', ws.dir]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(shown.stdout.includes(`? ${l.question.name} `), `#${l.n}: the question`);
      const lines = shown.stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('= '));
      const want = l.answers.map((a) => [a.name, a.ttl, a.type, a.data]);
      assert.deepEqual(
        lines.map((s) => {
          const [, name, ttl, , type, ...data] = s.split(' ');
          return [name, Number(ttl), type, data.join(' ')];
        }),
        want,
        `#${l.n}: the chain, in order`,
      );
    }
  });
});

// ---------------------------------------------------------------------------
// Two cases the fixture cannot show, fixed in dns.ts: checked on hand-built messages.

/** The part of dns-packet used here (it ships no typings). */
const dnsPacket = createRequire(import.meta.url)('dns-packet') as { encode(packet: unknown): Buffer };

describe('DnsTracker on exchanges the fixture lacks', () => {
  const client = { ip: '10.244.1.7', port: 40000 };
  const server = { ip: '10.96.0.10', port: 53 };
  const OPT = { type: 'OPT', name: '.', udpPayloadSize: 1232 };

  /** Each step a query, and its answer unless rcode is null; the records podcap emits, in question order. */
  function run(steps: Array<{ name: string; rcode: number | null; queryEdns?: boolean; answerEdns?: boolean }>): Array<DissectedTransaction['record']> {
    const out: Array<DissectedTransaction['record']> = [];
    const t = new DnsTracker((d) => out.push(d.record));
    let ts = 1.8e15;
    for (const [i, s] of steps.entries()) {
      const questions = [{ type: 'A', name: s.name }];
      const q = dnsPacket.encode({ type: 'query', id: i + 1, flags: 0x100, questions, additionals: s.queryEdns ? [OPT] : [] });
      t.message(q, (ts += 1000), client, server, 'udp', 1, 0);
      if (s.rcode === null) continue;
      const r = dnsPacket.encode({ type: 'response', id: i + 1, flags: 0x8180 | s.rcode, questions, additionals: s.answerEdns ? [OPT] : [] });
      t.message(r, (ts += 1000), server, client, 'udp', 1, 0);
    }
    t.finish();
    const order = steps.map((s) => s.name);
    return out.sort((a, b) => order.indexOf(a.request.url) - order.indexOf(b.request.url));
  }

  it('a failed search whose bare name went unanswered: every NXDOMAIN of it is not-resolved, the first suffix too', () => {
    // Undecided at the end, each NXDOMAIN is held under every base it may belong to; the first
    // suffix's under "typo-svc.shop" (alone there) as well as "typo-svc": it used to be emitted by
    // the first group flushed, without a role, while the others said "not-resolved".
    const rs = run([
      { name: 'typo-svc.shop.svc.cluster.local', rcode: 3 },
      { name: 'typo-svc.svc.cluster.local', rcode: 3 },
      { name: 'typo-svc.cluster.local', rcode: 3 },
      { name: 'typo-svc', rcode: null },
    ]);
    assert.deepEqual(rs.map((r) => [r.request.url, r.dns!.rcode, r.failed, r.dns!.searchPath?.role ?? null, r.dns!.searchPath?.base ?? null]), [
      ['typo-svc.shop.svc.cluster.local', 'NXDOMAIN', true, 'not-resolved', 'typo-svc'],
      ['typo-svc.svc.cluster.local', 'NXDOMAIN', true, 'not-resolved', 'typo-svc'],
      ['typo-svc.cluster.local', 'NXDOMAIN', true, 'not-resolved', 'typo-svc'],
      ['typo-svc', null, true, null, null],
    ]);
    // A lone full-name NXDOMAIN, held under several bases as well, is still a plain failure.
    const [lone] = run([{ name: 'nope.shop.svc.cluster.local', rcode: 3 }]);
    assert.equal(lone!.failed, true);
    assert.equal(lone!.dns!.searchPath, null);
  });

  it("EDNS is the answer's: an answer without OPT to a query with one has none", () => {
    const rs = run([
      { name: 'both.example', rcode: 0, queryEdns: true, answerEdns: true },
      { name: 'dropped.example', rcode: 0, queryEdns: true, answerEdns: false },
      { name: 'unanswered.example', rcode: null, queryEdns: true },
    ]);
    assert.deepEqual(rs.map((r) => [r.request.url, r.dns!.edns !== null]), [
      ['both.example', true],
      ['dropped.example', false],
      ['unanswered.example', true],
    ]);
  });
});

describe('DnsTracker under a flood of failing in-cluster names', () => {
  it('holds at most MAX_HELD exchanges for search-sequence decisions; the oldest sequences go early, noted, none lost', () => {
    const client = { ip: '10.244.1.7', port: 40000 };
    const server = { ip: '10.96.0.10', port: 53 };
    const out: DissectedTransaction[] = [];
    const t = new DnsTracker((d) => out.push(d));
    const n = MAX_HELD + 5000;
    let ts = 1.8e15;
    // Distinct names in one second (inside the 5 s window): each NXDOMAIN waits for its sequence.
    for (let i = 0; i < n; i++) {
      const questions = [{ type: 'A', name: `svc-${i}.shop.svc.cluster.local` }];
      t.message(dnsPacket.encode({ type: 'query', id: i & 0xffff, flags: 0x100, questions }), (ts += 10), client, server, 'udp', 1, 0);
      t.message(dnsPacket.encode({ type: 'response', id: i & 0xffff, flags: 0x8180 | 3, questions }), (ts += 10), server, client, 'udp', 1, 0);
    }
    // Before the end, the oldest have been given up: what is still held stays under the bound.
    assert.ok(out.length >= n - MAX_HELD, `${out.length} emitted before the end`);
    const early = out.filter((x) => x.record.notes.some((s) => /search sequence given up early/.test(s)));
    assert.ok(early.length > 0);
    t.finish();
    assert.equal(out.length, n, 'every exchange emitted once');
    assert.equal(new Set(out.map((x) => x.record.request.url)).size, n);
  });
});

describe('DnsTracker matching answers to queries', () => {
  const client = { ip: '10.244.1.7', port: 40000 };
  const server = { ip: '10.96.0.10', port: 53 };
  const query = (id: number, name: string, type = 'A'): Buffer => dnsPacket.encode({ type: 'query', id, flags: 0x100, questions: [{ type, name }] });
  const answer = (id: number, name: string, type = 'A'): Buffer => dnsPacket.encode({ type: 'response', id, flags: 0x8180, questions: [{ type, name }] });

  it('past maxPending the oldest query goes, noted once, and the waiting stay bounded', () => {
    const out: DissectedTransaction[] = [];
    const t = new DnsTracker((d) => out.push(d), { ...DEFAULT_DNS_OPTIONS, maxPending: 2 }, false);
    let ts = 1.8e15;
    for (let i = 1; i <= 5; i++) t.message(query(i, `n${i}.example`), (ts += 10), client, server, 'udp', 1, 0);
    // Three evicted as the fourth and fifth... arrived: one each, the oldest first.
    assert.deepEqual(out.map((x) => x.record.request.url), ['n1.example', 'n2.example', 'n3.example']);
    for (const x of out) assert.deepEqual(x.record.notes.filter((s) => s.includes('evicted')), ['no response (evicted: more than 2 queries waiting)']);
    // The two left are still matched by their answers.
    t.message(answer(5, 'n5.example'), (ts += 10), server, client, 'udp', 1, 0);
    t.message(answer(4, 'n4.example'), (ts += 10), server, client, 'udp', 1, 0);
    t.finish();
    assert.deepEqual(out.slice(3).map((x) => [x.record.request.url, x.record.dns!.rcode, x.record.notes]), [
      ['n5.example', 'NOERROR', []], ['n4.example', 'NOERROR', []],
    ]);
  });

  it('one id on one flow for two questions (and in both directions): each answer finds its own query, retries too', () => {
    const out: DissectedTransaction[] = [];
    const t = new DnsTracker((d) => out.push(d), DEFAULT_DNS_OPTIONS, false);
    let ts = 1.8e15;
    const at = (): number => (ts += 10);
    t.message(query(7, 'a.example'), at(), client, server, 'udp', 1, 0);
    t.message(query(7, 'b.example'), at(), client, server, 'udp', 1, 0);
    t.message(query(7, 'c.example', 'AAAA'), at(), server, client, 'udp', 1, 0);
    t.message(answer(7, 'a.example'), at(), server, client, 'udp', 1, 0);
    // b's retry after a's answer freed the number it did not get: still one exchange, retried.
    t.message(query(7, 'b.example'), at(), client, server, 'udp', 1, 0);
    t.message(answer(7, 'B.EXAMPLE'), at(), server, client, 'udp', 1, 0);
    t.message(answer(7, 'c.example', 'AAAA'), at(), client, server, 'udp', 1, 0);
    // The same id and name on another flow is another exchange.
    t.message(answer(7, 'a.example'), at(), server, client, 'udp', 2, 0);
    t.finish();
    assert.deepEqual(out.map((x) => [x.record.request.url, x.record.src.ip, x.record.dns!.retries, x.record.notes]), [
      ['a.example', client.ip, 0, []],
      ['b.example', client.ip, 1, ['query sent 2 times']],
      ['c.example', server.ip, 0, []],
      ['a.example', client.ip, 0, ['query not captured']],
    ]);
    assert.deepEqual(t.stats, { queries: 4, responses: 4, unmatchedResponses: 1, retries: 1, duplicates: 0, malformed: 0 });
  });
});
