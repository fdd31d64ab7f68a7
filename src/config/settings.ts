/**
 * The settings podcap.yaml may hold and their defaults (the schema that checks a file is in
 * schema.ts). Apart from the schema because the schema needs zod, ~60 ms to load, and every
 * command needs the defaults while only one with a podcap.yaml needs the schema.
 */
import { DISSECT_PROTOCOLS } from '../dissect/hints.js';

/** Protocols podcap dissects; each can be turned off. */
export const PROTOCOLS = DISSECT_PROTOCOLS;
export type Protocol = (typeof PROTOCOLS)[number];

/** What a hint can name: the dissector a port or address is handed to, whatever its first bytes look like. */
export type HintProtocol = Protocol;

export interface FailureRule {
  namespace?: string;
  service?: string;
  http: '5xx' | '4xx';
}

export interface RedactionSettings {
  headers: string[];
  queryParams: string[];
  jsonPaths: string[];
  patterns: string[];
}

/** Every setting with its value in force: what import, redissect and the surfaces use. */
export interface Settings {
  workspace: string | null;
  hints: Record<string, HintProtocol>;
  protocols: Record<Protocol, boolean>;
  protoDirs: string[];
  redaction: RedactionSettings;
  failed: { http: '5xx' | '4xx'; rules: FailureRule[] };
  dns: { clusterDomain: string; searchPath: string[] };
  bodies: { maxStoredBytes: number };
  tcp: { maxHeldBytesPerConnection: number; maxHeldBytesTotal: number };
}

export const DEFAULT_SETTINGS: Settings = {
  workspace: null,
  hints: {},
  protocols: { http: true, http2: true, grpc: true, dns: true },
  protoDirs: [],
  redaction: { headers: [], queryParams: [], jsonPaths: [], patterns: [] },
  failed: { http: '5xx', rules: [] },
  dns: { clusterDomain: 'cluster.local', searchPath: [] },
  bodies: { maxStoredBytes: 1 << 20 },
  tcp: { maxHeldBytesPerConnection: 4 << 20, maxHeldBytesTotal: 256 << 20 },
};
