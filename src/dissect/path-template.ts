/**
 * Endpoint templates: /orders/123 and /orders/9f3c2a… are one endpoint,
 * /orders/{id}. A segment is an identifier when it is a number, a UUID, a long
 * hex string, or a long token mixing letters and digits; names stay as they are.
 */

const NUMBER = /^-?\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{12,}$/i;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
/** Long tokens with digits and letters (base64url ids, hashes); plain words, however long, are names. */
const TOKEN = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-=.]{16,}$/;
const PREFIXED_NUMBER = /^[a-z]{1,8}[-_]\d{2,}$/i;
const EMAIL = /^[^@/]+@[^@/]+\.[a-z]{2,}$/i;

function isIdentifier(seg: string): boolean {
  if (seg.length === 0) return false;
  return NUMBER.test(seg) || UUID.test(seg) || HEX.test(seg) || ULID.test(seg) || TOKEN.test(seg)
    || PREFIXED_NUMBER.test(seg) || EMAIL.test(seg);
}

/** The template of a URL path (no query): identifier segments become {id}. */
export function pathTemplate(path: string): string {
  if (path === '' || path === '/') return path || '/';
  const parts = path.split('/');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    let seg = parts[i];
    try {
      if (seg.includes('%')) seg = decodeURIComponent(seg);
    } catch {
      // A malformed escape is kept as it is.
    }
    if (isIdentifier(seg)) {
      parts[i] = '{id}';
      changed = true;
    }
  }
  return changed ? parts.join('/') : path;
}
