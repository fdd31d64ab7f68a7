/**
 * Redaction of secrets in what leaves podcap for an AI assistant (or a report).
 *
 * A Redactor is built from rules: the defaults (credential headers, token-like
 * query and form parameters and JSON keys, JWT signatures anywhere) plus extra
 * rules a configuration file may add (header names, parameter names, JSON body
 * paths, regular expressions). Redacted values keep their shape where that helps a
 * reader: an Authorization header keeps its scheme, a JWT keeps its header and
 * claims (readable, unverifiable) and loses its signature, a value states its length.
 */
import type { Body, GrpcDecodedMessage, HeaderList, TransactionRecord } from '../dissect/record.js';

/** Rules as a configuration file states them: plain strings, all case-insensitive. */
export interface RedactionRules {
  /** Header names whose values are secrets. */
  headers?: string[];
  /** Query-string and form-body parameter names whose values are secrets. */
  queryParams?: string[];
  /**
   * JSON body paths whose values are secrets: `password` (that key at any depth),
   * `user.credentials.pin` (a dotted path from the top), `items.*.card` (`*`: any key or index).
   */
  jsonPaths?: string[];
  /** Regular expressions (JavaScript syntax) whose matches are secrets wherever they appear in text. */
  patterns?: string[];
}

export const DEFAULT_REDACTION_RULES: Required<RedactionRules> = {
  headers: [
    'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key', 'apikey', 'x-auth-token',
    'x-access-token', 'x-csrf-token', 'x-xsrf-token', 'x-amz-security-token', 'x-goog-api-key', 'ocp-apim-subscription-key',
  ],
  queryParams: [
    'token', 'access_token', 'id_token', 'refresh_token', 'api_key', 'apikey', 'api-key', 'key', 'password', 'passwd', 'pwd',
    'secret', 'client_secret', 'sig', 'signature', 'x-amz-signature', 'x-amz-security-token', 'code', 'session', 'sessionid', 'auth',
  ],
  jsonPaths: [],
  patterns: [],
};

/** Header names that look like credentials whatever their exact spelling (X-Service-Token, My-Api-Key). */
const SECRET_HEADER_SHAPE = /(^|-)(api-?key|token|secret|password|credentials?|session)$/i;
/** JSON keys and form names that look like credentials (payment_method_token, clientSecret, db-password). */
const SECRET_KEY_SHAPE = /(^|[_-]|[a-z](?=[A-Z]))(password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)$/i;
/** A JWS compact token: base64url JSON header (starts `{"` → `eyJ`), payload, signature. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.([A-Za-z0-9_-]{8,})/g;
const AUTH_SCHEME = /^(Bearer|Basic|Digest|Negotiate|NTLM|Token|AWS4-HMAC-SHA256)\s+/i;

export function redactedMark(length: number): string {
  return `[redacted ${length} chars]`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A JSON path rule, split: a bare name matches at any depth; a dotted one from the top. */
interface JsonPathRule {
  anyDepth: boolean;
  parts: string[];
}

export class Redactor {
  private readonly headerNames: Set<string>;
  private readonly paramNames: Set<string>;
  private readonly jsonKeys: Set<string>;
  private readonly jsonPaths: JsonPathRule[];
  private readonly patterns: RegExp[];
  /** Free text: `Name: value` lines of credential headers. */
  private readonly headerLine: RegExp;
  /** Free text: `name=value` pairs of secret parameters (query strings, forms, cookies in text). */
  private readonly paramPair: RegExp;
  /** Free text: `"key": "value"` of secret JSON keys. */
  private readonly jsonPair: RegExp;

  constructor(extra: RedactionRules[] = [], opts: { defaults?: boolean } = {}) {
    const all = [...(opts.defaults === false ? [] : [DEFAULT_REDACTION_RULES]), ...extra];
    const lower = (xs: string[] | undefined): string[] => (xs ?? []).map((x) => x.toLowerCase());
    this.headerNames = new Set(all.flatMap((r) => lower(r.headers)));
    this.paramNames = new Set(all.flatMap((r) => lower(r.queryParams)));
    const paths = all.flatMap((r) => lower(r.jsonPaths));
    this.jsonPaths = paths.map((p) => ({ anyDepth: !p.includes('.'), parts: p.split('.') }));
    this.jsonKeys = new Set(this.jsonPaths.filter((p) => p.anyDepth).map((p) => p.parts[0]));
    this.patterns = all.flatMap((r) => (r.patterns ?? []).map((p) => {
      try {
        return new RegExp(p, 'g');
      } catch (e) {
        throw new Error(`redaction pattern /${p}/ is not a valid regular expression: ${(e as Error).message}`);
      }
    }));
    const headerAlt = [...this.headerNames].map(escapeRegExp).join('|');
    this.headerLine = new RegExp(`^((?:${headerAlt}|[A-Za-z0-9-]*(?:api-?key|token|secret|password))[ \\t]*:[ \\t]*)(.+?)(\\r?)$`, 'gim');
    const paramAlt = [...this.paramNames].map(escapeRegExp).join('|');
    this.paramPair = new RegExp(`([?&;\\s]|^)((?:${paramAlt}|[A-Za-z0-9_-]*(?:password|secret|token|api_?key))=)([^&\\s;"'#]+)`, 'gim');
    const keyAlt = [...this.jsonKeys].map(escapeRegExp).join('|');
    this.jsonPair = new RegExp(`("(?:${keyAlt ? `${keyAlt}|` : ''}[A-Za-z0-9_-]*(?:password|passwd|secret|token|api_?key|apikey|credentials?))"\\s*:\\s*)"((?:[^"\\\\]|\\\\.)*)"`, 'gi');
  }

  isSecretHeader(name: string): boolean {
    const n = name.toLowerCase();
    return this.headerNames.has(n) || SECRET_HEADER_SHAPE.test(n);
  }

  isSecretParam(name: string): boolean {
    const n = name.toLowerCase();
    return this.paramNames.has(n) || SECRET_KEY_SHAPE.test(name);
  }

  private isSecretKey(name: string): boolean {
    return this.jsonKeys.has(name.toLowerCase()) || SECRET_KEY_SHAPE.test(name);
  }

  /** A credential header's value: its scheme kept; a JWT keeps header and claims; else its length only. */
  headerValue(name: string, value: string): string {
    const scheme = AUTH_SCHEME.exec(value);
    const kept = scheme && name.toLowerCase().endsWith('authorization') ? scheme[0] : '';
    const rest = value.slice(kept.length);
    const jwt = new RegExp(`^${JWT.source}$`).exec(rest.trim());
    if (jwt) return `${kept}${redactJwts(rest)}`;
    return `${kept}${redactedMark(rest.length)}`;
  }

  headers(h: HeaderList): HeaderList {
    return h.map(([n, v]) => (this.isSecretHeader(n) ? [n, this.headerValue(n, v)] : [n, this.text(v)]));
  }

  /** A query string or form body (`a=1&token=x`): secret parameters' values replaced. */
  params(qs: string): string {
    if (!qs) return qs;
    return qs.split('&').map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch { /* keep it as written */ }
      return this.isSecretParam(name) ? `${pair.slice(0, eq + 1)}${redactedMark(pair.length - eq - 1)}` : this.text(pair);
    }).join('&');
  }

  /** A URL or request target: its query's secrets replaced. */
  url(u: string): string {
    const q = u.indexOf('?');
    return q < 0 ? this.text(u) : `${this.text(u.slice(0, q))}?${this.params(u.slice(q + 1))}`;
  }

  /**
   * Free text (a body, a followed stream, an evidence line): credential header lines,
   * secret parameters and JSON keys, JWT signatures and the extra patterns.
   */
  text(s: string): string {
    if (!s) return s;
    let out = s.replace(this.headerLine, (_m, head: string, value: string, cr: string) => {
      const name = head.slice(0, head.indexOf(':')).trim();
      return `${head}${this.headerValue(name, value)}${cr}`;
    });
    out = out.replace(this.paramPair, (_m, lead: string, name: string, value: string) => `${lead}${name}${redactedMark(value.length)}`);
    out = out.replace(this.jsonPair, (_m, head: string, value: string) => `${head}"${redactedMark(value.length)}"`);
    out = redactJwts(out);
    for (const p of this.patterns) out = out.replace(p, (m) => redactedMark(m.length));
    return out;
  }

  /** A decoded JSON value: secret keys, the configured paths, and any string's secrets. */
  json(value: unknown, path: string[] = []): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v, i) => this.json(v, [...path, String(i)]));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const p = [...path, k];
        out[k] = (this.isSecretKey(k) || this.pathMatches(p)) && v !== null && typeof v !== 'object'
          ? redactedMark(String(v).length)
          : this.json(v, p);
      }
      return out;
    }
    return value;
  }

  /** Every string in a value redacted as free text; keys and structure unchanged (for analyses' results). */
  strings<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.strings(v)) as T;
    if (value && typeof value === 'object' && !(value instanceof Buffer)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = this.strings(v);
      return out as T;
    }
    return value;
  }

  private pathMatches(path: string[]): boolean {
    return this.jsonPaths.some((r) => !r.anyDepth && r.parts.length === path.length
      && r.parts.every((part, i) => part === '*' || part === path[i].toLowerCase()));
  }

  /** A body: a form's parameters, a JSON document's keys and paths, any text's secrets; base64 left alone but for JWTs it would hide. */
  body(b: Body): Body {
    if (b.encoding !== 'utf8') return b;
    const mime = (b.mimeType ?? '').toLowerCase();
    let data: string;
    if (mime.includes('x-www-form-urlencoded')) data = this.params(b.data);
    else if (!b.truncated && (mime.includes('json') || /^\s*[{[]/.test(b.data)) && this.jsonPaths.some((p) => !p.anyDepth)) {
      // Dotted paths need the document's structure; a whole document can be parsed for them.
      try {
        data = JSON.stringify(this.json(JSON.parse(b.data)), null, b.data.includes('\n') ? 2 : undefined);
      } catch {
        data = this.text(b.data);
      }
    } else data = this.text(b.data);
    return data === b.data ? b : { ...b, data };
  }

  /** A copy of the record with every secret redacted: headers, URL and query, bodies, gRPC messages, evidence. */
  record(r: TransactionRecord): TransactionRecord {
    const grpc = r.grpc
      ? { ...r.grpc, message: r.grpc.message === null ? null : this.text(r.grpc.message), ...(r.grpc.decoded ? { decoded: r.grpc.decoded.map((m): GrpcDecodedMessage => ({ ...m, json: this.json(m.json) })) } : {}) }
      : undefined;
    return {
      ...r,
      request: {
        ...r.request, url: this.url(r.request.url), path: this.text(r.request.path), query: this.params(r.request.query),
        headers: this.headers(r.request.headers), body: r.request.body ? this.body(r.request.body) : null,
      },
      response: r.response
        ? {
            ...r.response, headers: this.headers(r.response.headers),
            ...(r.response.trailers ? { trailers: this.headers(r.response.trailers) } : {}),
            body: r.response.body ? this.body(r.response.body) : null,
          }
        : null,
      ...(r.evidence ? { evidence: this.text(r.evidence) } : {}),
      ...(grpc ? { grpc } : {}),
    };
  }
}

/** Every JWT in the text keeps its header and claims; its signature goes. */
export function redactJwts(s: string): string {
  return s.replace(JWT, (m, sig: string) => `${m.slice(0, m.length - sig.length)}[signature redacted]`);
}

/** The default rules alone: what every surface uses unless configured otherwise. */
export const defaultRedactor = new Redactor();

export function redactValue(name: string, value: string): string {
  return defaultRedactor.headerValue(name, value);
}

export function redactHeaders(h: HeaderList): HeaderList {
  return defaultRedactor.headers(h);
}

/** A copy of the record with its secrets redacted by the default rules. */
export function redactRecord(r: TransactionRecord): TransactionRecord {
  return defaultRedactor.record(r);
}

/** Free text redacted by the default rules. */
export function redactText(s: string): string {
  return defaultRedactor.text(s);
}
