/** Parameters several tools share, described once: filter, snapshot, time window, limits. */
import { z } from 'zod';
import type { SnapshotMeta } from '../../store/snapshot.js';
import type { TimeWindow } from '../../query/stats.js';
import { parseDuration } from '../../query/timeline.js';
import { ToolError } from '../result.js';

export const filterParam = z.string().max(4000).optional()
  .describe('KFL2 filter (Kubeshark\'s CEL filter language; filter_help lists the variables). Empty or absent: every call. '
    + 'Examples: `http && status_code >= 500`, `grpc && grpc_status != 0`, `failed && dst.workload.name == "payment"`, '
    + '`elapsed_time > 250000` (µs), `dns && dns_rcode == "NXDOMAIN"`');

export const snapshotParam = z.string().max(200).optional()
  .describe('snapshot id, name or unique id prefix (list_snapshots); absent: every snapshot');

export const windowParams = {
  from: z.string().max(64).optional().describe('window start, ISO time (2026-11-24T19:56:00Z); inclusive'),
  to: z.string().max(64).optional().describe('window end, ISO time; inclusive'),
  last: z.string().max(32).optional()
    .describe('the last DURATION of the capture (5m, 1h, 90s), ending at its last call: "the last hour" of an offline capture. Excludes from/to'),
};

export const revealParam = z.boolean().optional()
  .describe('show credentials unredacted; honoured only when the server was started with --allow-reveal (else an error)');

export function limitParam(def: number, max: number, what: string) {
  return z.number().int().min(1).max(max).optional().describe(`${what} to return (default ${def}, at most ${max})`);
}

/** An ISO time in µs since the epoch. */
export function isoToUs(s: string, name: string): number {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) throw new ToolError(`${name} must be an ISO time such as 2026-11-24T19:56:00Z, not "${s}"`);
  // Date.parse keeps milliseconds; keep the microseconds written, if any.
  const micro = /\.\d{3}(\d{1,3})/.exec(s);
  return t * 1000 + (micro ? Number(micro[1].padEnd(3, '0')) : 0);
}

export function durationUs(s: string, name: string): number {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new ToolError(`${name}: ${(e as Error).message}`);
  }
}

export function windowOf(args: { from?: string; to?: string; last?: string }): TimeWindow | undefined {
  if (args.last !== undefined) {
    if (args.from !== undefined || args.to !== undefined) throw new ToolError('give either last or from/to, not both');
    return { last: durationUs(args.last, 'last') };
  }
  if (args.from === undefined && args.to === undefined) return undefined;
  return { from: args.from === undefined ? null : isoToUs(args.from, 'from'), to: args.to === undefined ? null : isoToUs(args.to, 'to') };
}

export function snapshotsOf(snapshot: string | undefined): string[] | undefined {
  return snapshot ? [snapshot] : undefined;
}

/** µs since the epoch as ISO with microseconds: what a KFL2 timestamp("...") compares exactly. */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const micro = Math.round(us - ms * 1000);
  return new Date(ms).toISOString().replace('Z', `${String(micro).padStart(3, '0')}Z`);
}

export function isoOrNull(us: number | null): string | null {
  return us === null ? null : new Date(us / 1000).toISOString();
}

/** What a listing shows of a snapshot. */
export function snapshotBrief(s: SnapshotMeta) {
  return {
    id: s.id,
    name: s.name,
    importedAt: s.createdAt,
    files: s.files.map((f) => f.path),
    firstCall: isoOrNull(s.firstTs),
    lastCall: isoOrNull(s.lastTs),
    packets: s.report.packets,
    calls: s.transactions,
    failed: s.report.failed,
    byProtocol: s.report.transactions,
    kubernetes: s.kubernetes ? { manifest: s.kubernetes.files, ...s.kubernetes.summary } : null,
    ...(s.parent ? { parent: s.parent } : {}),
  };
}
