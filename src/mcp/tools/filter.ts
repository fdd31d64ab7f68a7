/** The filter language, for a model writing filters: syntax, variables, examples; a filter checked without running it. */
import { z } from 'zod';
import { compileFilter, closeMatches } from '../../query/filter.js';
import { LEGACY_NAMES } from '../../query/legacy-kfl.js';
import { VARIABLES } from '../../query/variables.js';
import { defineTool } from '../registry.js';

export const FILTER_EXAMPLES: Array<[string, string]> = [
  ['http && status_code >= 500', 'HTTP server errors'],
  ['failed && !dns', 'every failed API call (HTTP 5xx, gRPC status != 0, no response), DNS aside'],
  ['grpc && grpc_status == 14', 'gRPC UNAVAILABLE'],
  ['dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion', 'names that really did not resolve (not search-path steps)'],
  ['elapsed_time > 250000', 'slower than 250 ms (elapsed_time is in microseconds, as in KFL2)'],
  ['dst.workload.name == "payment" && failed', 'failures of one workload'],
  ['method == "POST" && path.startsWith("/api/")', 'POSTs under /api/'],
  ['http && !("authorization" in request.headers)', 'HTTP calls without an Authorization header'],
  ['path.matches("^/orders/[0-9]+$")', 'a path by RE2 regular expression'],
  ['timestamp >= timestamp("2026-11-24T19:56:15Z")', 'calls from a time on (tools also take from/to/last)'],
  ['response.body.contains("timeout")', 'a word in the decoded response body (first 64 KiB)'],
];

const filterHelp = defineTool({
  name: 'filter_help',
  title: 'Filter language help',
  description: 'Explains the KFL2 filter language the other tools take in `filter` (Kubeshark\'s, CEL): syntax, operators, '
    + 'string functions, every variable with its type and an example, and worked examples. Call it before writing a filter '
    + 'you are unsure of, or give `check` to validate a filter without running it (errors name the position and close '
    + 'matches), or `variable` to look up names containing a word (e.g. "grpc", "dns", "workload").',
  input: {
    variable: z.string().max(60).optional().describe('only the variables whose name or description contains this'),
    check: z.string().max(4000).optional().describe('a filter to validate'),
  },
  run: (a) => {
    if (a.check !== undefined) {
      try {
        const f = compileFilter(a.check, () => '');
        return { valid: true, filter: f.source, ...(f.translatedFrom ? { translatedFrom: f.translatedFrom, notes: f.notes } : {}) };
      } catch (e) {
        return { valid: false, error: (e as Error).message };
      }
    }
    const word = a.variable?.toLowerCase();
    const vars = VARIABLES.filter((v) => !word || v.name.toLowerCase().includes(word) || v.description.toLowerCase().includes(word))
      .map((v) => ({ name: v.name, type: v.type, description: v.description, example: v.example, ...(v.podcap ? { podcapOnly: true } : {}) }));
    if (word) return { variables: vars, ...(vars.length === 0 ? { closeMatches: closeMatches(word) } : {}) };
    return {
      language: 'KFL2: CEL (Common Expression Language) over flat variables, as Kubeshark. Operators: && || ! == != < <= > >= in, '
        + 'ternary a ? b : c; strings: .contains() .startsWith() .endsWith() .matches(RE2) size(); maps: "key" in request.headers, '
        + 'request.headers["content-type"], map_get(map, key, default); times: timestamp("ISO"), duration("5m"). An empty filter '
        + 'matches every call. A variable a call lacks takes its default ("" / 0 / false / [] / {}).',
      examples: FILTER_EXAMPLES.map(([filter, meaning]) => ({ filter, meaning })),
      variables: vars,
      kflV1: `Kubeshark's older KFL (v1: and/or/not, names like ${LEGACY_NAMES.slice(0, 3).map((l) => l.v1).join(', ')}) is accepted and translated; the tools say how.`,
    };
  },
});

export const FILTER_TOOLS = [filterHelp];
