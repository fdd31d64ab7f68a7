/**
 * What a dissection pass made of a snapshot, per protocol and per capture file: connections
 * decoded (and by which rule: signature, mid-stream, hint), transactions, what was skipped
 * and why (unrecognised, turned off, no payload). `podcap status` shows it.
 */
import type { CaptureFileReport, SkippedInput } from '../capture/index.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { AnalysisReport } from '../dissect/report.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { DISSECT_PROTOCOLS } from '../dissect/hints.js';

export interface ProtocolDissection {
  enabled: boolean;
  /** TCP connections handed to its dissector (tunnels inside CONNECT included). */
  connections: number;
  transactions: number;
  failed: number;
  /** Connections, datagrams or calls not dissected because the protocol is turned off. */
  turnedOff: number;
}

export interface FileDissection {
  name: string;
  packets: number;
  damaged: number;
  /** Connections first seen in this file, by what was found on them ("http", "http2 (by hint)", "unrecognised", ...). */
  connections: Record<string, number>;
  /** Transactions of the connections and flows first seen in this file, by protocol. */
  transactions: Record<string, number>;
}

export interface DissectionReport {
  protocols: Record<string, ProtocolDissection>;
  /** Connections by what was found on them, as the pipeline counted them. */
  connections: Record<string, number>;
  /** Connections no dissector recognised, and their payload bytes. */
  unrecognised: { connections: number; bytes: number };
  turnedOff: Record<string, number>;
  files: FileDissection[];
  /** Inputs that were not captures, with why. */
  skippedInputs: Array<{ name: string; reason: string }>;
}

/** Which protocol a connection's finding belongs to ("tunnel: http2 (mid-stream)" → http2). */
function protocolOf(found: string): string | null {
  const m = /^(?:tunnel: )?(http2|http|dns)\b/.exec(found);
  return m ? m[1] : null;
}

/** What the builder has counted before finish: import's analysis thread counts, the main thread finishes. */
export interface DissectionTally {
  /** Transactions per connection or flow ("tcp:12"), by protocol, until its summary tells its file. */
  perStream: Map<string, Record<string, number>>;
  streamFile: Map<string, number>;
  found: Array<{ file: number; found: string }>;
  failed: Record<string, number>;
}

export class DissectionReportBuilder {
  private readonly perStream: Map<string, Record<string, number>>;
  private readonly streamFile: Map<string, number>;
  private readonly found: Array<{ file: number; found: string }>;
  private readonly failed: Record<string, number>;

  /** From scratch, or going on from a tally made elsewhere. */
  constructor(from?: DissectionTally) {
    this.perStream = from?.perStream ?? new Map();
    this.streamFile = from?.streamFile ?? new Map();
    this.found = from?.found ?? [];
    this.failed = from?.failed ?? {};
  }

  /** What has been counted so far (structured-cloneable: it crosses between threads). */
  tally(): DissectionTally {
    return { perStream: this.perStream, streamFile: this.streamFile, found: this.found, failed: this.failed };
  }

  transaction(t: DissectedTransaction): void {
    const r = t.record;
    const key = `${r.stream.transport}:${r.stream.id}`;
    let m = this.perStream.get(key);
    if (!m) this.perStream.set(key, (m = {}));
    m[r.protocol] = (m[r.protocol] ?? 0) + 1;
    if (r.failed) this.failed[r.protocol] = (this.failed[r.protocol] ?? 0) + 1;
  }

  stream(s: StreamSummary): void {
    const file = s.files[0] ?? 0;
    this.streamFile.set(`${s.transport}:${s.id}`, file);
    if (s.transport === 'tcp') this.found.push({ file, found: s.found });
  }

  finish(report: AnalysisReport, files: CaptureFileReport[], names: string[], skipped: SkippedInput[], enabled: Record<string, boolean>): DissectionReport {
    const perFile: FileDissection[] = files.map((f, i) => ({ name: names[i] ?? f.path, packets: f.packets, damaged: f.damaged, connections: {}, transactions: {} }));
    for (const { file, found } of this.found) {
      const f = perFile[file];
      if (f) for (const part of found.split(', ')) f.connections[part] = (f.connections[part] ?? 0) + 1;
    }
    for (const [key, counts] of this.perStream) {
      const f = perFile[this.streamFile.get(key) ?? 0];
      if (f) for (const [p, n] of Object.entries(counts)) f.transactions[p] = (f.transactions[p] ?? 0) + n;
    }
    const protocols: Record<string, ProtocolDissection> = {};
    for (const p of DISSECT_PROTOCOLS) {
      protocols[p] = { enabled: enabled[p] !== false, connections: 0, transactions: report.transactions[p] ?? 0, failed: this.failed[p] ?? 0, turnedOff: 0 };
    }
    let unrecognised = 0;
    for (const [found, n] of Object.entries(report.connections)) {
      if (found.endsWith('unrecognised')) unrecognised += n;
      const p = protocolOf(found);
      if (!p) continue;
      if (found.includes('(not dissected: turned off)')) protocols[p].turnedOff += n;
      else protocols[p].connections += n;
    }
    for (const [what, n] of Object.entries(report.turnedOff)) {
      const p = what.split(' ')[0];
      if (protocols[p]) protocols[p].turnedOff += n;
    }
    return {
      protocols, connections: { ...report.connections }, unrecognised: { connections: unrecognised, bytes: report.unrecognisedBytes },
      turnedOff: { ...report.turnedOff }, files: perFile, skippedInputs: skipped.map((s) => ({ name: s.name, reason: s.reason })),
    };
  }
}
