/**
 * The schema that checks a podcap.yaml (the settings and their defaults are in settings.ts).
 * The schema is strict: an unknown key is an error (a misspelt setting must not be ignored).
 * It is built, and zod loaded, the first time a file is checked.
 */
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';
import { parseHintKey } from '../dissect/hints.js';
import { PROTOCOLS, type Protocol } from './settings.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20, g: 1 << 30, gb: 1 << 30, gib: 1 << 30 };

function buildSchema(z: typeof Zod) {
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

  return z.strictObject({
    workspace: z.string().min(1).optional(),
    hints: hints.optional(),
    protocols: z.strictObject(Object.fromEntries(PROTOCOLS.map((p) => [p, z.boolean().optional()])) as Record<Protocol, Zod.ZodOptional<Zod.ZodBoolean>>).optional(),
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
}

let built: ReturnType<typeof buildSchema> | null = null;

/** The schema, built (and zod loaded, through require: this must stay synchronous) on first use. */
export function configSchema(): ReturnType<typeof buildSchema> {
  return (built ??= buildSchema((createRequire(import.meta.url)('zod') as { z: typeof Zod }).z));
}

/** What a file says, checked. */
export type ConfigFile = Zod.infer<ReturnType<typeof buildSchema>>;
