/**
 * One pass over a snapshot's capture files: packets decoded, TCP reassembled,
 * protocols dissected into transactions handed to a sink, and every packet
 * accounted for. Used by import (which stores) and inspect (which only counts).
 */
import { readCaptures, type CaptureFileReport, type CaptureSource, type Packet, type SkippedInput } from '../capture/index.js';
import { IPPROTO_TCP, IPPROTO_UDP, NetDecoder, newDecodedPacket } from '../net/decode.js';
import { TcpReassembler, type ReassemblyOptions, type StreamFactory, type TcpEndpoint } from '../net/tcp-reassembly.js';
import { UdpFlowTable } from '../net/udp-flows.js';
import { DEFAULT_BODY_LIMITS, type BodyLimits } from './body.js';
import type { DissectedTransaction, TransactionSink } from './record.js';
import { bump, emptyReport, type AnalysisReport } from './report.js';
import { failureEvidence } from './evidence.js';
import { tcpStreamFactory, type TcpDissectStats } from './tcp-router.js';
import { DEFAULT_HTTP2_OPTIONS } from './http2.js';
import { DEFAULT_DNS_OPTIONS, DnsTracker, type DnsOptions } from './dns.js';
import { HintTable, type DissectProtocol, type DissectionChoices } from './hints.js';

/** DNS is found by its port on UDP (tshark does the same); on TCP by port and content. */
const DNS_PORT = 53;

export interface AnalysisOptions {
  body: BodyLimits;
  dns?: DnsOptions;
  /** Hints (port or address → dissector) and protocols turned off, from podcap.yaml. */
  choices?: DissectionChoices;
  /** TCP reassembly memory caps. */
  tcp?: Partial<ReassemblyOptions>;
  /** Keep a summary of every TCP connection and UDP flow (for `inspect --streams`). */
  collectStreams?: boolean;
  /** Called with each connection's summary when it ends (and each UDP flow's at the end): import stores them. */
  onStream?: (s: StreamSummary) => void;
  /** Called between chunks of capture read (about 1 MiB); reading waits for what it returns. */
  betweenChunks?: () => Promise<void> | null;
  /** Called every 64Ki packets with the count so far and the file being read. */
  onProgress?: (packets: number, file: string) => void;
}

export const DEFAULT_ANALYSIS_OPTIONS: AnalysisOptions = { body: DEFAULT_BODY_LIMITS };

export interface AnalysisResult {
  report: AnalysisReport;
  files: CaptureFileReport[];
  /** With collectStreams: every connection and flow, in order of first packet. */
  streams?: StreamSummary[];
}

export interface StreamSummary {
  transport: 'tcp' | 'udp';
  /** Connection (or flow) number within its transport, as `stream.id` in transaction records. */
  id: number;
  client: string;
  server: string;
  /** The same ends, as addresses: what export matches packets on. */
  clientAddr: { ip: string; port: number };
  serverAddr: { ip: string; port: number };
  /** 'syn' when the handshake was seen; 'guessed' when client and server were guessed from the ports. */
  roles: 'syn' | 'guessed' | 'first datagram';
  firstTs: number;
  lastTs: number;
  /** Per direction: [from client, from server]. */
  packets: [number, number];
  bytes: [number, number];
  reassembledBytes: [number, number] | null;
  retransmittedBytes: [number, number] | null;
  gapBytes: [number, number] | null;
  rsts: number;
  /** How the connection ended: fin, rst, end-of-capture, port-reuse. */
  end: string | null;
  /** Indexes of the capture files it was seen in. */
  files: number[];
  /** What the dissectors found on it ("http", "unrecognised", "no payload", ...). */
  found: string;
}

function endpointText(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** What listing the inputs found besides the captures: passed over with a reason, and archive-level notes. */
export interface InputListing {
  skipped: SkippedInput[];
  notes: string[];
}

const IP_PROTOCOL_NAMES: Record<number, string> = {
  1: 'ICMP', 2: 'IGMP', 4: 'IP-in-IP', 41: 'IPv6-in-IP', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6',
  89: 'OSPF', 103: 'PIM', 112: 'VRRP', 132: 'SCTP',
};

/**
 * Where the reading half of a pass (readPass) hands what it finds: TCP connections as they open
 * (their bytes in order, through the handler each gets), DNS datagrams, and capture time
 * passing. Dissection is the one that dissects; import's two-thread pass puts a writer here that
 * carries all of it, in the same order, to a Dissection in another thread (store/import-feed.ts).
 */
export interface PassTarget {
  readonly stream: StreamFactory;
  /** A UDP datagram to or from the DNS port (or a hinted DNS server), on UDP flow `flow`. */
  dns(payload: Buffer, ts: number, src: TcpEndpoint, dst: TcpEndpoint, flow: number, file: number): void;
  /** Capture time has reached `ts` (every 4096 packets): DNS reports what waited too long. */
  tick(ts: number): void;
}

/** What Dissection counts, the rest of AnalysisReport being the reading half's. */
export type DissectionCounts = Pick<AnalysisReport, 'transactions' | 'failed' | 'turnedOff' | 'dns' | 'connections' | 'unrecognisedBytes'>;

/** The disabled protocols of podcap.yaml's choices. */
function disabledProtocols(opts: AnalysisOptions): Set<DissectProtocol> {
  return new Set(Object.entries(opts.choices?.protocols ?? {}).filter(([, on]) => !on).map(([p]) => p as DissectProtocol));
}

/**
 * The dissecting half of a pass: HTTP/1, HTTP/2, gRPC and DNS found on what the reading half
 * hands it, transactions to `sink`, each connection summarised when it ends (with onStream).
 */
export class Dissection implements PassTarget {
  readonly stream: StreamFactory;
  private readonly counts: DissectionCounts;
  private readonly tracker: DnsTracker;
  private readonly dissectStats: TcpDissectStats;
  private readonly onStream: ((s: StreamSummary) => void) | undefined;

  /** `severalFiles`: the pass reads more than one capture (DNS then recognises another node's copy of a message). */
  constructor(sink: TransactionSink, opts: AnalysisOptions, severalFiles: boolean, onStream?: (s: StreamSummary) => void) {
    const counts: DissectionCounts = { transactions: {}, failed: 0, turnedOff: {}, dns: emptyReport().dns, connections: {}, unrecognisedBytes: 0 };
    this.counts = counts;
    this.onStream = onStream;
    const hints = new HintTable(opts.choices?.hints ?? {});
    const disabled = disabledProtocols(opts);
    const counting = (t: DissectedTransaction): void => {
      // gRPC is found inside HTTP/2 streams: turned off, its calls are counted and dropped here.
      if (disabled.has(t.record.protocol as DissectProtocol)) {
        bump(counts.turnedOff, `${t.record.protocol} transactions`);
        return;
      }
      bump(counts.transactions, t.record.protocol);
      if (t.record.failed) {
        counts.failed++;
        t.record.evidence = failureEvidence(t);
      }
      sink(t);
    };
    // What was found on each connection, while it is open: a stored or listed connection states its protocols.
    const dissectStats: TcpDissectStats = { connections: {}, unrecognisedBytes: 0, byConnection: onStream ? new Map() : undefined };
    this.dissectStats = dissectStats;
    this.tracker = new DnsTracker(counting, opts.dns ?? DEFAULT_DNS_OPTIONS, severalFiles);
    const dissect = tcpStreamFactory(counting, { http1: { body: opts.body }, http2: { ...DEFAULT_HTTP2_OPTIONS, body: opts.body }, hints, disabled }, dissectStats, this.tracker);
    // With onStream, each connection is summarised when it ends, after its dissector has.
    this.stream = !onStream ? dissect : (conn) => {
      const inner = dissect(conn);
      return {
        data: (dir, bytes, ts) => inner.data(dir, bytes, ts),
        gap: (dir, length, ts) => inner.gap(dir, length, ts),
        end: (reason, ts) => {
          inner.end(reason, ts);
          onStream({
            transport: 'tcp', id: conn.id, client: endpointText(conn.client), server: endpointText(conn.server),
            clientAddr: { ...conn.client }, serverAddr: { ...conn.server }, roles: conn.roles,
            firstTs: conn.firstTs, lastTs: conn.lastTs, packets: [...conn.packets], bytes: [...conn.bytes],
            reassembledBytes: [...conn.reassembledBytes], retransmittedBytes: [...conn.retransmittedBytes],
            gapBytes: [...conn.gapBytes], rsts: conn.rsts, end: reason, files: [...conn.files],
            found: dissectStats.byConnection?.get(conn.id) ?? 'no payload',
          });
          dissectStats.byConnection?.delete(conn.id);
        },
      };
    };
  }

  dns(payload: Buffer, ts: number, src: TcpEndpoint, dst: TcpEndpoint, flow: number, file: number): void {
    this.tracker.message(payload, ts, src, dst, 'udp', flow, file);
  }

  tick(ts: number): void {
    this.tracker.tick(ts);
  }

  /**
   * After the reading half's end (every connection ended): DNS's last exchanges out, then the
   * UDP flows' summaries (readPass's `udpStreams`), and what was counted.
   */
  finish(udpStreams: StreamSummary[]): DissectionCounts {
    this.tracker.finish();
    this.counts.dns = this.tracker.stats;
    this.counts.connections = this.dissectStats.connections;
    this.counts.unrecognisedBytes = this.dissectStats.unrecognisedBytes;
    if (this.onStream) for (const s of udpStreams) this.onStream(s);
    return this.counts;
  }
}

/** What the reading half of a pass found: the report but for DissectionCounts, and the UDP flows' summaries (with `streams`). */
export interface ReadResult {
  report: AnalysisReport;
  files: CaptureFileReport[];
  udpStreams: StreamSummary[];
}

/**
 * The reading half of a pass: the captures read (merged in time order when there are several),
 * packets decoded, TCP reassembled, UDP flows tracked, and everything handed to `target` in
 * packet order; every packet accounted for in the report. With `streams`, the UDP flows are
 * summarised at the end (TCP connections are summarised by the target as they end).
 */
export async function readPass(sources: CaptureSource[], target: PassTarget, opts: AnalysisOptions, streams: boolean): Promise<ReadResult> {
  const report = emptyReport();
  const hints = new HintTable(opts.choices?.hints ?? {});
  const dnsOff = disabledProtocols(opts).has('dns');
  const dnsFlows = new Set<number>();
  const tcp = new TcpReassembler(target.stream, opts.tcp);
  const udp = new UdpFlowTable();
  const net = new NetDecoder();
  const decoded = newDecodedPacket();
  let lastTs = 0;
  const onPacket = (p: Packet): void => {
    report.packets++;
    if (p.ts > lastTs) lastTs = p.ts;
    net.decode(p.linkType, p.data, p.ts, decoded, p.origLen);
    switch (decoded.outcome) {
      case 'ok':
        if (decoded.protocol === IPPROTO_TCP) {
          report.tcpSegments++;
          tcp.segment(decoded, p.ts, p.fileIndex);
        } else if (decoded.protocol === IPPROTO_UDP) {
          report.udpDatagrams++;
          const { flow } = udp.datagram(decoded, p.ts, p.fileIndex);
          if (decoded.srcPort === DNS_PORT || decoded.dstPort === DNS_PORT ||
              (hints.size > 0 && hints.lookup({ ip: decoded.dstIp, port: decoded.dstPort }, { ip: decoded.srcIp, port: decoded.srcPort }) === 'dns')) {
            if (dnsOff) bump(report.turnedOff, 'dns datagrams');
            else {
              target.dns(decoded.payload, p.ts, { ip: decoded.srcIp, port: decoded.srcPort }, { ip: decoded.dstIp, port: decoded.dstPort }, flow.id, p.fileIndex);
              if (streams) dnsFlows.add(flow.id);
            }
          }
        }
        break;
      case 'held':
        // A fragment: decoded with the one that completes its datagram, or counted in fragments.dropped.
        report.heldFragments++;
        break;
      case 'skipped': {
        const name = decoded.reason.startsWith('IP protocol ') ? IP_PROTOCOL_NAMES[decoded.protocol] : undefined;
        bump(report.skipped, name ? `${decoded.reason} (${name})` : decoded.reason);
        break;
      }
      case 'damaged':
        bump(report.damaged, decoded.reason);
        break;
    }
    // Capture time moves DNS on: unanswered queries and undecided search sequences are reported.
    if ((report.packets & 0xfff) === 0) target.tick(p.ts);
    if (opts.onProgress && (report.packets & 0xffff) === 0) opts.onProgress(report.packets, sources[p.fileIndex].name);
  };
  const files = await readCaptures(sources, onPacket, { between: opts.betweenChunks });
  for (const fr of files) if (fr.damaged > 0 || fr.truncatedBytes > 0) report.damagedFiles++;
  // Once at the very end, not per file: a datagram split across a file rotation can still complete.
  net.flush();
  tcp.finish(lastTs);
  report.tcp = tcp.stats;
  report.udpFlows = udp.size;
  report.decapsulated = net.stats.decapsulated;
  const f = net.stats.fragments;
  report.fragments = {
    reassembledDatagrams: f.reassembledDatagrams, reassembledFragments: f.reassembledFragments, dropped: f.dropped,
    overlaps: f.overlaps, overlapBytes: f.overlapBytes, peakBytesHeld: f.peakBytesHeld,
  };
  const udpStreams: StreamSummary[] = [];
  if (streams) {
    for (const f of udp.all()) {
      udpStreams.push({
        transport: 'udp', id: f.id, client: endpointText(f.client), server: endpointText(f.server),
        clientAddr: { ...f.client }, serverAddr: { ...f.server }, roles: 'first datagram',
        firstTs: f.firstTs, lastTs: f.lastTs, packets: [...f.packets], bytes: [...f.bytes], reassembledBytes: null,
        retransmittedBytes: null, gapBytes: null, rsts: 0, end: null, files: [...f.files], found: dnsFlows.has(f.id) ? 'dns' : 'not dissected (UDP other than DNS)',
      });
    }
  }
  return { report, files, udpStreams };
}

/** The reading half's report with the dissecting half's counts in. */
export function withDissection(report: AnalysisReport, counts: DissectionCounts): AnalysisReport {
  const turnedOff = { ...report.turnedOff };
  for (const [k, n] of Object.entries(counts.turnedOff)) bump(turnedOff, k, n);
  return { ...report, ...counts, turnedOff };
}

/** One pass over the sources (from capture/'s listCaptureSources), merged in time order when there are several. */
export async function analyzeCaptures(sources: CaptureSource[], sink: TransactionSink, opts: AnalysisOptions = DEFAULT_ANALYSIS_OPTIONS): Promise<AnalysisResult> {
  const started = Date.now();
  const collected: StreamSummary[] | undefined = opts.collectStreams ? [] : undefined;
  const onStream = opts.onStream ?? (collected ? (s: StreamSummary) => collected.push(s) : undefined);
  const dissection = new Dissection(sink, opts, sources.length > 1, onStream);
  const read = await readPass(sources, dissection, opts, onStream !== undefined);
  // Every connection has ended by now (in the order they ended): listed by number, the UDP flows after them.
  collected?.sort((a, b) => a.id - b.id);
  const report = withDissection(read.report, dissection.finish(read.udpStreams));
  report.durationMs = Date.now() - started;
  return { report, files: read.files, ...(collected ? { streams: collected } : {}) };
}
