/** The settings turned into what each layer takes: the pipeline's options, the failure policy. */
import { DEFAULT_ANALYSIS_OPTIONS, type AnalysisOptions } from '../dissect/pipeline.js';
import { DEFAULT_DNS_OPTIONS } from '../dissect/dns.js';
import type { Settings } from './settings.js';

/** What `import` and `redissect` dissect with. */
export function analysisOptions(s: Settings, base: AnalysisOptions = DEFAULT_ANALYSIS_OPTIONS): AnalysisOptions {
  return {
    ...base,
    body: { ...base.body, maxStoredBytes: s.bodies.maxStoredBytes },
    dns: { ...DEFAULT_DNS_OPTIONS, ...base.dns, clusterDomain: s.dns.clusterDomain, searchPath: s.dns.searchPath },
    choices: { hints: { ...s.hints }, protocols: { ...s.protocols } },
    tcp: { ...base.tcp, maxHeldBytesPerConnection: s.tcp.maxHeldBytesPerConnection, maxHeldBytesTotal: s.tcp.maxHeldBytesTotal },
  };
}

/** The settings that shape a snapshot's transactions, recorded in it (redaction applies when showing, not here). */
export interface DissectionSettings {
  hints: Settings['hints'];
  protocols: Settings['protocols'];
  protoDirs: string[];
  failed: Settings['failed'];
  dns: Settings['dns'];
  bodies: Settings['bodies'];
  tcp: Settings['tcp'];
}

export function dissectionSettings(s: Settings, protoDirs: string[]): DissectionSettings {
  return structuredClone({ hints: s.hints, protocols: s.protocols, protoDirs, failed: s.failed, dns: s.dns, bodies: s.bodies, tcp: s.tcp });
}
