/**
 * Authentication per edge: which credentials the calls of each (source,
 * destination, protocol) carried — bearer tokens, basic auth, API key headers,
 * cookies — counted from the summary's auth column, the edges with no
 * credentials on any call first; and, for bearer tokens that are JWTs, their
 * claims iss, sub, aud and exp, decoded WITHOUT verification from a bounded
 * sample of each edge's records (a uniform sample, the same every run). Tokens and signatures never leave this module:
 * a token is named by a short SHA-256 fingerprint.
 *
 * podcap reads cleartext captures only (it decrypts nothing), so every edge it
 * shows was cleartext on the wire.
 */
import { createHash } from 'node:crypto';
import { AUTH_BEARER } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import { compareEdges, edgeIndex, type CredentialCounts, type CredentialCoverage, type EdgeAccumulator } from './service-map.js';
import { resolveScope, scanScope, scopeInfo, type AnalysisQuery, type ScopeInfo } from './stats.js';

export const TRANSPORT_NOTE = 'podcap reads cleartext captures only: every call shown was readable on the wire (no TLS)';

export interface AuthQuery extends AnalysisQuery {
  /** Records read per edge, at most, to find its bearer tokens: a uniform sample of the edge's calls with one (default 64). */
  tokenSample?: number;
  /** Distinct tokens decoded per edge, at most (default 8). */
  maxTokens?: number;
}

/** Claims of a JWT as its payload states them: not verified. */
export interface JwtClaims {
  iss: string | null;
  sub: string | null;
  aud: string | string[] | null;
  /** Seconds since the epoch. */
  exp: number | null;
  /** exp as an ISO time. */
  expires: string | null;
}

export interface BearerToken {
  /** sha256: and the first 12 hex digits of the token's hash: tells tokens apart without showing them. */
  fingerprint: string;
  /** A JWS compact token with a JSON header and payload. */
  jwt: boolean;
  /** The JWT header's alg ("none" deserves a look). */
  alg: string | null;
  claims: JwtClaims | null;
  /** Sampled calls that carried it. */
  seen: number;
  /** Some sampled call carried it after its exp. */
  usedAfterExpiry: boolean;
}

export interface AuthEdge {
  source: string;
  destination: string;
  protocol: string;
  /** Always cleartext: podcap decrypts nothing. */
  transport: 'cleartext';
  calls: number;
  authenticatedCalls: number;
  unauthenticatedCalls: number;
  /** Credentials on all, some or none of the calls; n/a for DNS. */
  credentials: CredentialCoverage;
  /** Calls carrying each kind (a call may carry several). */
  kinds: CredentialCounts;
  /** The edge's distinct bearer tokens in the sample. */
  tokens: BearerToken[];
  /** Records read to find them. */
  tokenRecordsRead: number;
}

export interface AuthResult extends ScopeInfo {
  transport: 'cleartext';
  transportNote: string;
  /** Edges with no credentials on any call (DNS aside), most calls first. */
  unauthenticated: Array<{ source: string; destination: string; protocol: string; calls: number }>;
  /** Every edge: no credentials first, then some, then all, then DNS; most calls first within. */
  edges: AuthEdge[];
  /** Records read in all, for the tokens. */
  tokenRecordsRead: number;
}

const COVERAGE_ORDER: Record<CredentialCoverage, number> = { none: 0, some: 1, all: 2, 'n/a': 3 };

function base64urlJson(part: string): unknown {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(part)) return null;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** The unverified claims of a token, if it is a JWT (JWS compact: header.payload.signature). */
export function decodeJwt(token: string): { alg: string | null; claims: JwtClaims } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const header = base64urlJson(parts[0]);
  const payload = base64urlJson(parts[1]);
  if (!header || typeof header !== 'object' || Array.isArray(header) || !payload || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const h = header as Record<string, unknown>;
  const p = payload as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' ? clip(v) : null);
  const aud = typeof p.aud === 'string' ? clip(p.aud) : Array.isArray(p.aud) ? p.aud.filter((x): x is string => typeof x === 'string').slice(0, 20).map(clip) : null;
  const exp = typeof p.exp === 'number' && Number.isFinite(p.exp) ? p.exp : null;
  let expires: string | null = null;
  if (exp !== null) {
    const d = new Date(exp * 1000);
    expires = Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  return { alg: str(h.alg), claims: { iss: str(p.iss), sub: str(p.sub), aud, exp, expires } };
}

export function fingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;
}

/** The bearer token of a request's headers, if any. */
function bearerToken(headers: Array<[string, string]>): string | null {
  for (const [n, v] of headers) {
    const name = n.toLowerCase();
    if (name !== 'authorization' && name !== 'proxy-authorization') continue;
    const m = /^\s*bearer\s+(\S+)/i.exec(v);
    if (m) return m[1];
  }
  return null;
}

export function computeAuth(ws: Workspace, q: AuthQuery = {}): AuthResult {
  const sampleSize = q.tokenSample ?? 64;
  const maxTokens = q.maxTokens ?? 8;
  const scope = resolveScope(ws, q);
  const index = edgeIndex(ws, scope.snaps);
  // A reservoir per edge (Vitter's algorithm R, with a fixed seed: the same answer every time),
  // so that the sample spreads over the whole capture, not only its first calls.
  const samples = new Map<EdgeAccumulator, { seen: number; list: Array<{ snapshot: string; seq: number; ts: number }> }>();
  let seed = 0x2545f491;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return Math.floor((seed / 0x100000000) * n);
  };
  const scan = scanScope(ws, scope, ({ snapshot, seq, cols, row }) => {
    const g = index.get(snapshot, cols.edge[row]);
    g.add(cols, row);
    if ((cols.auth[row] & AUTH_BEARER) !== 0 && sampleSize > 0) {
      let r = samples.get(g);
      if (!r) samples.set(g, (r = { seen: 0, list: [] }));
      r.seen++;
      const item = { snapshot, seq, ts: cols.ts[row] };
      if (r.list.length < sampleSize) r.list.push(item);
      else {
        const j = random(r.seen);
        if (j < sampleSize) r.list[j] = item;
      }
    }
  });
  let tokenRecordsRead = 0;
  const edges: AuthEdge[] = index.all().filter((g) => g.calls > 0).map((g) => {
    const tokens = new Map<string, BearerToken>();
    let read = 0;
    const sample = (samples.get(g)?.list ?? []).sort((x, y) => (x.snapshot < y.snapshot ? -1 : x.snapshot > y.snapshot ? 1 : x.seq - y.seq));
    for (const s of sample) {
      const rec = ws.getRecord(s.snapshot, s.seq);
      read++;
      if (!rec) continue;
      const token = bearerToken(rec.request.headers);
      if (!token) continue;
      const fp = fingerprint(token);
      let t = tokens.get(fp);
      if (!t) {
        if (tokens.size >= maxTokens) continue;
        const jwt = decodeJwt(token);
        t = { fingerprint: fp, jwt: jwt !== null, alg: jwt?.alg ?? null, claims: jwt?.claims ?? null, seen: 0, usedAfterExpiry: false };
        tokens.set(fp, t);
      }
      t.seen++;
      if (t.claims?.exp != null && s.ts / 1e6 > t.claims.exp) t.usedAfterExpiry = true;
    }
    tokenRecordsRead += read;
    return {
      source: g.key.source,
      destination: g.key.destination,
      protocol: g.key.protocol,
      transport: 'cleartext' as const,
      calls: g.calls,
      authenticatedCalls: g.authenticated,
      unauthenticatedCalls: g.calls - g.authenticated,
      credentials: g.coverage(),
      kinds: { ...g.kinds },
      tokens: [...tokens.values()].sort((a, b) => b.seen - a.seen || (a.fingerprint < b.fingerprint ? -1 : 1)),
      tokenRecordsRead: read,
    };
  });
  edges.sort((a, b) => COVERAGE_ORDER[a.credentials] - COVERAGE_ORDER[b.credentials] || b.calls - a.calls || compareEdges(a, b));
  return {
    ...scopeInfo(scope, scan),
    transport: 'cleartext',
    transportNote: TRANSPORT_NOTE,
    unauthenticated: edges.filter((e) => e.credentials === 'none').map((e) => ({ source: e.source, destination: e.destination, protocol: e.protocol, calls: e.calls })),
    edges,
    tokenRecordsRead,
  };
}
