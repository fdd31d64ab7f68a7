/**
 * Tool results for a model's context: JSON text, never larger than a bound. A list
 * too large for the bound is cut to the items that fit and says so; nothing is cut
 * silently.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Characters of one tool result at most (about 15k tokens). */
export const MAX_RESULT_CHARS = 60_000;

/** A problem with what the tool was asked: shown to the model as an error it can act on. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** Compact JSON: indentation would spend a third of a model's context on spaces. */
function serialize(value: unknown): string {
  return JSON.stringify(value);
}

/** The size-capped JSON of a value; a value that cannot fit is cut, with a note saying how to get less. */
export function jsonResult(value: unknown, maxChars = MAX_RESULT_CHARS): CallToolResult {
  const text = serialize(value);
  if (text.length <= maxChars) return textResult(text);
  return textResult(`${text.slice(0, maxChars)}\n… [result cut at ${maxChars} of ${text.length} characters: ask for less (a smaller limit, a narrower filter or window, a body range)]`);
}

/**
 * `base` with `items` under `key`, as many of them as fit in the bound (at least one);
 * when some were left out, `cutForSize` says how many and what to do.
 */
export interface Fitted {
  [key: string]: unknown;
  cutForSize?: { shown: number; of: number; hint: string };
}

export function fitList<T>(base: Record<string, unknown>, key: string, items: T[], maxChars = MAX_RESULT_CHARS): Fitted {
  const whole = { ...base, [key]: items };
  if (serialize(whole).length <= maxChars || items.length <= 1) return whole;
  let lo = 1;
  let hi = items.length - 1;
  // Largest prefix that fits, with room for the note.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (serialize({ ...base, [key]: items.slice(0, mid), cutForSize: { shown: mid, of: items.length, hint: '' } }).length <= maxChars - 200) lo = mid;
    else hi = mid - 1;
  }
  return {
    ...base,
    [key]: items.slice(0, lo),
    cutForSize: { shown: lo, of: items.length, hint: `the result was cut to fit a model's context: ask for fewer ${key} (limit) or page on` },
  };
}
