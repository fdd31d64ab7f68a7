/**
 * The accounting of one pass over capture files: every packet is decoded, held
 * as an IP fragment, skipped with a reason, or counted as damaged:
 * packets = tcpSegments + udpDatagrams + heldFragments + Σskipped + Σdamaged.
 */
import { emptyReassemblyStats, type ReassemblyStats } from '../net/tcp-reassembly.js';
import type { DnsStats } from './dns.js';

export interface AnalysisReport {
  /** Packets read from the capture files. */
  packets: number;
  /** TCP segments handed to reassembly. */
  tcpSegments: number;
  /** UDP datagrams (no UDP dissector yet: counted, not decoded). */
  udpDatagrams: number;
  /** Distinct UDP 4-tuples, as tshark's udp.stream counts them. */
  udpFlows: number;
  /** Packets not decoded, by reason ("non-IP EtherType 0x0806", "IP protocol 1 (ICMP)", ...). */
  skipped: Record<string, number>;
  /** Packets whose headers were broken, by reason. */
  damaged: Record<string, number>;
  /** IP fragments: decoded as part of their reassembled datagram, or counted in fragments.dropped. */
  heldFragments: number;
  fragments: FragmentReport;
  /** Tunnels taken off to reach the traffic inside, by kind (VXLAN, Geneve, GRE, IPv4-in-IPv4, ...). */
  decapsulated: Record<string, number>;
  tcp: ReassemblyStats;
  dns: DnsStats;
  /** TCP connections by the protocol found on them. */
  connections: Record<string, number>;
  unrecognisedBytes: number;
  /** Transactions by protocol. */
  transactions: Record<string, number>;
  failed: number;
  /** What was not dissected because its protocol was turned off (podcap.yaml protocols:), by what it was. */
  turnedOff: Record<string, number>;
  /** Capture files that were truncated or had damaged records. */
  damagedFiles: number;
  durationMs: number;
}

export interface FragmentReport {
  reassembledDatagrams: number;
  reassembledFragments: number;
  /** Fragments of datagrams that never completed, by why they were given up. */
  dropped: Record<string, number>;
  overlaps: number;
  overlapBytes: number;
  peakBytesHeld: number;
}

export function emptyReport(): AnalysisReport {
  return {
    packets: 0, tcpSegments: 0, udpDatagrams: 0, udpFlows: 0, skipped: {}, damaged: {}, heldFragments: 0, decapsulated: {},
    fragments: { reassembledDatagrams: 0, reassembledFragments: 0, dropped: {}, overlaps: 0, overlapBytes: 0, peakBytesHeld: 0 },
    tcp: emptyReassemblyStats(),
    dns: { queries: 0, responses: 0, unmatchedResponses: 0, retries: 0, duplicates: 0, malformed: 0 },
    connections: {}, unrecognisedBytes: 0, transactions: {}, failed: 0, turnedOff: {}, damagedFiles: 0, durationMs: 0,
  };
}

export function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}
