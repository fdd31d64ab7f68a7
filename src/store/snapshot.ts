/** What the workspace records about each snapshot: its files, what the import did, and its extent. */
import type { CaptureFileReport } from '../capture/packet.js';
import type { AnalysisReport } from '../dissect/report.js';

export interface SnapshotMeta {
  id: string;
  name: string | null;
  /** ISO time of the import. */
  createdAt: string;
  state: 'importing' | 'ready';
  /** The importing process while state is 'importing'; an import whose process died is swept. */
  pid: number | null;
  files: CaptureFileReport[];
  report: AnalysisReport;
  transactions: number;
  /** First and last transaction start, microseconds since the epoch; null when empty. */
  firstTs: number | null;
  lastTs: number | null;
  podcapVersion: string;
}
