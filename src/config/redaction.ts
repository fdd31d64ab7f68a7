/**
 * podcap.yaml's redaction rules in the shape query/redact.ts's Redactor takes them
 * (RedactionRules): the surfaces (CLI, MCP, reports) build their Redactor from this.
 */
import type { Settings } from './settings.js';

export interface ConfiguredRedaction {
  headers: string[];
  queryParams: string[];
  jsonPaths: string[];
  patterns: string[];
}

/** The file's rules (on top of the Redactor's defaults); `$.a.b` paths are written `a.b` there. */
export function redactionRules(s: Settings): ConfiguredRedaction {
  const r = s.redaction;
  return {
    headers: [...r.headers],
    queryParams: [...r.queryParams],
    jsonPaths: r.jsonPaths.map((p) => p.replace(/^\$\./, '')),
    patterns: [...r.patterns],
  };
}

/** Whether the file asks for any redaction beyond the defaults. */
export function hasRedactionRules(s: Settings): boolean {
  const r = s.redaction;
  return r.headers.length + r.queryParams.length + r.jsonPaths.length + r.patterns.length > 0;
}
