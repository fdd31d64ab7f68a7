/**
 * IP address and CIDR helpers for Kubernetes manifests. Addresses are compared in
 * the textual form src/net/address.ts gives captured packets: dotted quad for IPv4,
 * RFC 5952 for IPv6 (via the same ipv6ToString).
 */
import { isIP } from 'node:net';
import { ipv6ToString } from '../net/address.js';

/**
 * The canonical form of an address string as a manifest writes it ("FD00:0:0::0A",
 * "fe80::1%eth0", "[::1]"), or null when it is not an IP address. A zone is dropped.
 */
export function canonicalIp(s: unknown): string | null {
  if (typeof s !== 'string') return null;
  let t = s.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  const v = isIP(t);
  if (v === 4) return t;
  if (v === 6) {
    const b = parseIpv6(t);
    return b ? ipv6ToString(b, 0) : null;
  }
  return null;
}

/** 4 or 16 bytes of a valid address string, else null. */
export function ipBytes(s: string): Buffer | null {
  const v = isIP(s);
  if (v === 4) return Buffer.from(s.split('.').map(Number));
  if (v === 6) return parseIpv6(s);
  return null;
}

/** Parses an address node:net already accepted as IPv6 (no zone) into 16 bytes. */
function parseIpv6(t: string): Buffer | null {
  const expand = (parts: string[]): string[] => {
    const last = parts[parts.length - 1];
    if (last === undefined || !last.includes('.')) return parts;
    const q = last.split('.').map(Number);
    return [...parts.slice(0, -1), ((q[0] << 8) | q[1]).toString(16), ((q[2] << 8) | q[3]).toString(16)];
  };
  let head: string[];
  let tail: string[];
  const dbl = t.indexOf('::');
  if (dbl >= 0) {
    const h = t.slice(0, dbl);
    const tl = t.slice(dbl + 2);
    head = h === '' ? [] : h.split(':');
    tail = tl === '' ? [] : expand(tl.split(':'));
    if (tail.length === 0) head = expand(head);
  } else {
    head = expand(t.split(':'));
    tail = [];
  }
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (dbl < 0 && fill !== 0)) return null;
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i], 16);
    if (!(g >= 0 && g <= 0xffff)) return null;
    out.writeUInt16BE(g, i * 2);
  }
  return out;
}

export interface Cidr {
  family: 4 | 6;
  /** The network address, host bits cleared. */
  network: Buffer;
  prefix: number;
  /** Canonical text: network/prefix. */
  text: string;
}

/** "10.244.1.0/24", "FD00:10:244:1::/64"; null when not a CIDR. */
export function parseCidr(s: unknown): Cidr | null {
  if (typeof s !== 'string') return null;
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = canonicalIp(s.slice(0, slash));
  const prefix = Number(s.slice(slash + 1));
  if (addr === null || !Number.isInteger(prefix)) return null;
  const bytes = ipBytes(addr);
  if (!bytes) return null;
  const family = bytes.length === 4 ? 4 : 6;
  if (prefix < 0 || prefix > bytes.length * 8) return null;
  const network = maskBytes(bytes, prefix);
  const text = `${family === 4 ? network.join('.') : ipv6ToString(network, 0)}/${prefix}`;
  return { family, network, prefix, text };
}

/** A copy of `bytes` with all but the first `prefix` bits cleared. */
export function maskBytes(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : out[i] & (0xff << (8 - keep));
  }
  return out;
}
