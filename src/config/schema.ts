/**
 * The settings podcap.yaml may hold, their defaults, and the schema that checks a file.
 * The schema is strict: an unknown key is an error (a misspelt setting must not be ignored).
 */
import { z } from 'zod';
import { DISSECT_PROTOCOLS, parseHintKey } from '../dissect/hints.js';

/** Protocols podcap dissects; each can be turned off. */
export const PROTOCOLS = DISSECT_PROTOCOLS;
export type Protocol = (typeof PROTOCOLS)[number];

/** What a hint can name: the dissector a port or address is handed to, whatever its first bytes look like. */
export type HintProtocol = Protocol;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20, g: 1 << 30, gb: 1 << 30, gib: 1 << 30 };

/** A byte count: a positive integer, or "64KiB", "1 MiB", "2g". */
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v > 0) return v;
    ctx.addIssue({ code: 'custom', message: `expected a positive whole number of bytes, got ${v}` });
    return z.NEVER;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 65536, "64KiB" or "1MiB", got "${v}"` });
    return z.NEVER;
  }
  return Math.round(Number(m[1]) * unit);
});

const protocol = z.enum(PROTOCOLS, { error: (i) => `expected one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(i.input)}` });

const hints = z.record(z.string(), protocol).superRefine((h, ctx) => {
  for (const key of Object.keys(h)) {
    if (!parseHintKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: `expected a port (8443) or ADDRESS:PORT (10.0.0.5:9000, [fd00::5]:9000) as the key, got "${key}"` });
  }
});

const httpFailure = z.enum(['5xx', '4xx'], { error: (i) => `expected 5xx (server errors only) or 4xx (client errors too), got ${JSON.stringify(i.input)}` });

const failureRule = z.strictObject({
  namespace: z.string().min(1).optional(),
  service: z.string().min(1).optional(),
  http: httpFailure,
}).refine((r) => r.namespace !== undefined || r.service !== undefined, { message: 'a rule names a namespace, a service, or both' });

const regex = z.string().superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
  }
});

/**
 * A JSON body path: a bare key (`password`: that key at any depth), or a dotted path from the
 * top (`card.number`, `$.card.number`), `*` for any key or array element (`items.*.ssn`).
 */
const jsonPath = z.string().regex(/^(\$\.)?[^.\s]+(\.[^.\s]+)*$/, { message: 'expected a key (password), or a dotted path from the top such as "$.card.number" or "items.*.ssn"' });

const domain = z.string().regex(/^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i, { message: 'expected a DNS domain such as cluster.local' });

export const ConfigSchema = z.strictObject({
  workspace: z.string().min(1).optional(),
  hints: hints.optional(),
  protocols: z.strictObject(Object.fromEntries(PROTOCOLS.map((p) => [p, z.boolean().optional()])) as Record<Protocol, z.ZodOptional<z.ZodBoolean>>).optional(),
  protoDirs: z.array(z.string().min(1)).optional(),
  redaction: z.strictObject({
    headers: z.array(z.string().min(1)).optional(),
    queryParams: z.array(z.string().min(1)).optional(),
    jsonPaths: z.array(jsonPath).optional(),
    patterns: z.array(regex).optional(),
  }).optional(),
  failed: z.strictObject({
    http: httpFailure.optional(),
    rules: z.array(failureRule).optional(),
  }).optional(),
  dns: z.strictObject({
    clusterDomain: domain.optional(),
    searchPath: z.array(domain).optional(),
  }).optional(),
  bodies: z.strictObject({ maxStoredBytes: size.optional() }).optional(),
  tcp: z.strictObject({
    maxHeldBytesPerConnection: size.optional(),
    maxHeldBytesTotal: size.optional(),
  }).optional(),
});

/** What a file says, checked. */
export type ConfigFile = z.infer<typeof ConfigSchema>;

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
