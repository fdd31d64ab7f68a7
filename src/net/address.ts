/** Textual forms of IP addresses, as tshark and kubectl print them. */

/**
 * Dotted quads already made, by address: a capture repeats a few addresses in every packet, and
 * building the string (then flattening it as a map key) cost ten times the lookup. Bounded.
 */
const dotted = new Map<number, string>();
const DOTTED_MAX = 65536;

export function ipv4ToString(b: Buffer, off: number): string {
  const n = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
  let s = dotted.get(n);
  if (s === undefined) {
    s = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    if (dotted.size >= DOTTED_MAX) dotted.clear();
    dotted.set(n, s);
  }
  return s;
}

/** Reused by ipv6ToString: one address's groups (no allocation per call beyond the string). */
const groups = new Uint16Array(8);

/** RFC 5952: lowercase hex, leading zeros dropped, the longest run (>= 2) of zero groups as "::". */
export function ipv6ToString(b: Buffer, off: number): string {
  for (let i = 0; i < 8; i++) groups[i] = (b[off + i * 2] << 8) | b[off + i * 2 + 1];
  // An IPv4-mapped address reads best with its dotted quad.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${ipv4ToString(b, off + 12)}`;
  }
  // The first of the longest runs of zero groups, if at least 2 long.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += groups[i].toString(16);
  }
  return s;
}
