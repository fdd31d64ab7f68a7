/**
 * A snapshot's dissection status: the settings it was dissected with, what each protocol
 * and each file gave, what was skipped and why, and its re-dissections. What `podcap
 * status` prints and MCP get_dissection_status returns.
 */
import type { DissectionSettings } from '../config/apply.js';
import type { DissectionReport } from '../store/dissection-report.js';
import type { SnapshotMeta } from '../store/snapshot.js';

export interface DissectionStatus {
  snapshot: { id: string; name: string | null; importedAt: string; generation: number; transactions: number; failed: number; packets: number };
  /** The podcap.yaml the current transactions were dissected with (null: defaults or tool-given). */
  configFile: string | null;
  settings: DissectionSettings | null;
  dissection: DissectionReport | null;
  redissections: NonNullable<SnapshotMeta['redissections']>;
  /** Set for snapshots imported before podcap recorded this. */
  note: string | null;
}

export function dissectionStatus(meta: SnapshotMeta): DissectionStatus {
  return {
    snapshot: {
      id: meta.id, name: meta.name, importedAt: meta.createdAt, generation: meta.generation ?? 0,
      transactions: meta.transactions, failed: meta.report.failed, packets: meta.report.packets,
    },
    configFile: meta.config?.file ?? null,
    settings: meta.config?.settings ?? null,
    dissection: meta.dissection ?? null,
    redissections: meta.redissections ?? [],
    note: meta.dissection ? null : `snapshot ${meta.id} was imported before podcap recorded its settings and dissection report: podcap redissect ${meta.id} records them`,
  };
}
