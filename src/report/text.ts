/** Numbers and caveats as both renderings of the report word them (milliseconds: cli/format.ts's ms). */
import type { ReportModel } from './model.js';

export function fmtPct(r: number): string {
  return `${(r * 100).toFixed(1)}%`;
}

/** What the reader should know about the report's limits. */
export function reportCaveats(m: ReportModel): string[] {
  const out: string[] = [];
  if (m.dns.sampled) out.push('DNS findings are from the first 2000 matching queries; the counts are exact.');
  if (m.failures.groups.length < m.failures.totalGroups) {
    out.push(`Failures fall in ${m.failures.totalGroups} groups; the ${m.failures.groups.length} largest are shown.`);
  }
  if (m.failures.groups.length > 0 && m.failures.traced === 0) {
    out.push('Failures were not traced through the services (too many calls around them for a report); podcap trace ID does it for one call.');
  }
  return out;
}
