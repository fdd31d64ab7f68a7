/**
 * One pass over a snapshot's capture files: packets decoded, TCP reassembled,
 * protocols dissected into transactions handed to a sink, and every packet
 * accounted for. Used by import (which stores) and inspect (which only counts).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCaptureFile } from '../capture/open.js';
import { CaptureError, type CaptureFileReport, type Packet } from '../capture/packet.js';
import { IPPROTO_TCP, IPPROTO_UDP, NetDecoder, newDecodedPacket } from '../net/decode.js';
import { TcpReassembler } from '../net/tcp-reassembly.js';
import { DEFAULT_BODY_LIMITS, type BodyLimits } from './body.js';
import type { DissectedTransaction, TransactionSink } from './record.js';
import { bump, emptyReport, type AnalysisReport } from './report.js';
import { tcpStreamFactory, type TcpDissectStats } from './tcp-router.js';

export interface AnalysisOptions {
  body: BodyLimits;
  /** Called every 64Ki packets with the count so far and the file being read. */
  onProgress?: (packets: number, file: string) => void;
}

export const DEFAULT_ANALYSIS_OPTIONS: AnalysisOptions = { body: DEFAULT_BODY_LIMITS };

export interface AnalysisResult {
  report: AnalysisReport;
  files: CaptureFileReport[];
}

const IP_PROTOCOL_NAMES: Record<number, string> = {
  1: 'ICMP', 2: 'IGMP', 4: 'IP-in-IP', 41: 'IPv6-in-IP', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6',
  89: 'OSPF', 103: 'PIM', 112: 'VRRP', 132: 'SCTP',
};

/** Files of a snapshot: the paths given, directories walked in name order. */
export function expandPaths(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (!name.startsWith('.')) walk(join(p, name));
    } else out.push(p);
  };
  for (const p of paths) {
    try {
      walk(resolve(p));
    } catch (e) {
      throw new CaptureError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, p);
    }
  }
  if (out.length === 0) throw new CaptureError(`no capture files under ${paths.join(' ')}`, paths.join(' '));
  return out;
}

export async function analyzeCaptures(files: string[], sink: TransactionSink, opts: AnalysisOptions = DEFAULT_ANALYSIS_OPTIONS): Promise<AnalysisResult> {
  const started = Date.now();
  const report = emptyReport();
  const fileReports: CaptureFileReport[] = [];
  const counting = (t: DissectedTransaction): void => {
    bump(report.transactions, t.record.protocol);
    if (t.record.failed) report.failed++;
    sink(t);
  };
  const dissectStats: TcpDissectStats = { connections: {}, unrecognisedBytes: 0 };
  const tcp = new TcpReassembler(tcpStreamFactory(counting, { http1: { body: opts.body } }, dissectStats));
  const net = new NetDecoder();
  const decoded = newDecodedPacket();
  let lastTs = 0;
  let file = '';
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
    if (opts.onProgress && (report.packets & 0xffff) === 0) opts.onProgress(report.packets, file);
  };
  for (let i = 0; i < files.length; i++) {
    file = files[i];
    const fr = await readCaptureFile(file, i, onPacket);
    fileReports.push(fr);
    if (fr.damaged > 0 || fr.truncatedBytes > 0) report.damagedFiles++;
  }
  // Once at the very end, not per file: a datagram split across a file rotation can still complete.
  net.flush();
  tcp.finish(lastTs);
  report.tcp = tcp.stats;
  report.decapsulated = net.stats.decapsulated;
  const f = net.stats.fragments;
  report.fragments = {
    reassembledDatagrams: f.reassembledDatagrams, reassembledFragments: f.reassembledFragments, dropped: f.dropped,
    overlaps: f.overlaps, overlapBytes: f.overlapBytes, peakBytesHeld: f.peakBytesHeld,
  };
  report.connections = dissectStats.connections;
  report.unrecognisedBytes = dissectStats.unrecognisedBytes;
  report.durationMs = Date.now() - started;
  return { report, files: fileReports };
}
