/** What the workspace records about each snapshot: its files, what the import did, and its extent. */
import type { CaptureFileReport, CaptureSource, SkippedInput } from '../capture/index.js';
import type { AnalysisReport } from '../dissect/report.js';
import type { IdentitySummary } from '../k8s/identity.js';
import type { ResolutionReport } from '../k8s/enrich.js';
import type { DissectionSettings } from '../config/apply.js';
import type { DissectionReport } from './dissection-report.js';

export interface SnapshotMeta {
  id: string;
  name: string | null;
  /** ISO time of the import. */
  createdAt: string;
  state: 'importing' | 'ready';
  /** The importing process while state is 'importing'; an import whose process died is swept. */
  pid: number | null;
  /** Where each capture's bytes are (file, or member of a tar): export and follow read them again. */
  sources: CaptureSource[];
  files: CaptureFileReport[];
  /** .proto directories given at import, used to decode gRPC messages unless others are named. */
  protoDirs: string[];
  /** Inputs inside the directories and archives given that were not captures (a README, a manifest), with why. */
  skipped: SkippedInput[];
  /** Archive-level notes from listing the inputs (an archive cut short, a damaged tar header). */
  inputNotes: string[];
  report: AnalysisReport;
  transactions: number;
  /** First and last transaction start, microseconds since the epoch; null when empty. */
  firstTs: number | null;
  lastTs: number | null;
  podcapVersion: string;
  /** The cluster manifest used to name addresses; null when none was given or found. */
  kubernetes: {
    files: string[];
    /** Found beside the captures rather than named with --manifest. */
    discovered: boolean;
    summary: IdentitySummary;
    /** Workloads behind each service, "ns/service" → ["ns/workload"]: how trace follows a call into a Service. */
    backends: Record<string, string[]>;
    warnings: string[];
    notes: string[];
  } | null;
  /** What the addresses of the transactions resolved to. */
  resolution: ResolutionReport | null;
  /** The settings the transactions were dissected with, and the podcap.yaml they came from (null: defaults). Absent before 0.2. */
  config?: { file: string | null; settings: DissectionSettings };
  /** What the dissectors made of each protocol and each file. Absent in snapshots imported before it existed. */
  dissection?: DissectionReport;
  /** Where the data is keyed: absent (the id) until the first re-dissection, then `ID~N`. */
  dataKey?: string;
  /** Times re-dissected (0 or absent: as imported). */
  generation?: number;
  /** A re-dissection under way: the generation it writes, and the process writing it. */
  pending?: { key: string; pid: number } | null;
  /** Each re-dissection: when, and what changed in the settings. */
  redissections?: Array<{ at: string; generation: number; configFile: string | null; changed: string[] }>;
  /** A snapshot cut out of another (podcap bundle, MCP create_snapshot): which, and how. Absent for an import of captures. */
  parent?: SnapshotParent | null;
}

export interface SnapshotParent {
  id: string;
  name: string | null;
  /** The KFL2 filter and window (ISO) of the cut. */
  filter: string;
  from: string | null;
  to: string | null;
}
