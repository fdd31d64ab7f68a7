/** The accounting of one pass over capture files: every packet is decoded, skipped with a reason, or counted as damaged. */
import { emptyReassemblyStats, type ReassemblyStats } from '../net/tcp-reassembly.js';

export interface AnalysisReport {
  /** Packets read from the capture files. */
  packets: number;
  /** TCP segments handed to reassembly. */
  tcpSegments: number;
  /** UDP datagrams (no UDP dissector yet: counted, not decoded). */
  udpDatagrams: number;
  /** Packets not decoded, by reason ("non-IP EtherType 0x0806", "IP protocol 1 (ICMP)", ...). */
  skipped: Record<string, number>;
  /** Packets whose headers were broken, by reason. */
  damaged: Record<string, number>;
  tcp: ReassemblyStats;
  /** TCP connections by the protocol found on them. */
  connections: Record<string, number>;
  unrecognisedBytes: number;
  /** Transactions by protocol. */
  transactions: Record<string, number>;
  failed: number;
  /** Capture files that were truncated or had damaged records. */
  damagedFiles: number;
  durationMs: number;
}

export function emptyReport(): AnalysisReport {
  return {
    packets: 0, tcpSegments: 0, udpDatagrams: 0, skipped: {}, damaged: {},
    tcp: emptyReassemblyStats(),
    connections: {}, unrecognisedBytes: 0, transactions: {}, failed: 0, damagedFiles: 0, durationMs: 0,
  };
}

export function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}
