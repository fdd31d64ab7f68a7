/**
 * Redaction of secrets in what leaves podcap for an AI assistant: credential
 * headers keep their scheme and length, never their value.
 */
import type { HeaderList, TransactionRecord } from '../dissect/record.js';

const SECRET_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key', 'x-auth-token',
  'x-access-token', 'x-csrf-token', 'x-xsrf-token', 'x-amz-security-token',
]);

function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADERS.has(n) || /(^|-)(api-?key|token|secret|password)$/.test(n);
}

export function redactValue(name: string, value: string): string {
  const scheme = /^(Bearer|Basic|Digest|Negotiate|AWS4-HMAC-SHA256)\s+/i.exec(value);
  const kept = scheme && name.toLowerCase().endsWith('authorization') ? `${scheme[1]} ` : '';
  return `${kept}[redacted ${value.length - kept.length} chars]`;
}

export function redactHeaders(h: HeaderList): HeaderList {
  return h.map(([n, v]) => (isSecretHeader(n) ? [n, redactValue(n, v)] : [n, v]));
}

/** A copy of the record with credential headers redacted. */
export function redactRecord(r: TransactionRecord): TransactionRecord {
  return {
    ...r,
    request: { ...r.request, headers: redactHeaders(r.request.headers) },
    response: r.response ? { ...r.response, headers: redactHeaders(r.response.headers) } : null,
  };
}
