/**
 * What the summary files a call under: the labels of its two ends, its endpoint, and the kinds of
 * credentials it carries. Pure functions of a record, shared by the summary builder and the report.
 */
import type { Endpoint, TransactionRecord } from '../dissect/record.js';
import { pathTemplate } from '../dissect/path-template.js';
import { forEachHeaderField } from '../dissect/header-block.js';
import { AUTH_API_KEY, AUTH_BASIC, AUTH_BEARER, AUTH_COOKIE, AUTH_OTHER, type EndpointKey } from './summary-format.js';

export type Row = Omit<TransactionRecord, 'id' | 'snapshot'>;

export function destinationLabel(e: Endpoint): string {
  if (e.service) return `${e.service.namespace}/${e.service.name}`;
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** A client is named by its workload (its pods are one client), else as its destination would be, without the port. */
export function sourceLabel(e: Endpoint): string {
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return e.ip;
}

export function workloadLabel(e: Endpoint): string {
  return e.workload ? `${e.namespace ?? ''}/${e.workload.name}` : '';
}

/**
 * Whether two ends get the same labels and index values: every field the functions above and
 * the summary's index read is equal.
 */
export function sameEnd(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && sameHost(a, b);
}

/** As sameEnd, but for a client, whose port none of them reads: a DNS client takes a new port for every query. */
export function sameHost(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.name === b.name && a.namespace === b.namespace && a.kind === b.kind && a.dns === b.dns
    && a.workload?.name === b.workload?.name && a.service?.name === b.service?.name && a.service?.namespace === b.service?.namespace;
}

/** What endpoint a call is to; `templates` turns an HTTP path into its template. */
export function endpointParts(r: Row, templates: { get(path: string): string }): EndpointKey {
  const destination = destinationLabel(r.dst);
  if (r.grpc) return { protocol: r.protocol, destination, method: r.grpc.service, path: r.grpc.method };
  if (r.dns) {
    const q = r.dns.questions[0];
    return { protocol: 'dns', destination, method: q?.type ?? '', path: q?.name.toLowerCase() ?? '' };
  }
  return { protocol: r.protocol, destination, method: r.request.method, path: templates.get(r.request.path) };
}

const UNCACHED_TEMPLATES = { get: pathTemplate };

export function endpointKeyOf(r: Row): EndpointKey {
  return endpointParts(r, UNCACHED_TEMPLATES);
}

/** nameBit's answer for the headers whose kind is in their value (Authorization). */
const BY_VALUE = -1;

/** The kind of credential a header carries, by its lower-case name. */
function nameBit(n: string): number {
  if (n === 'authorization' || n === 'proxy-authorization') return BY_VALUE;
  if (n === 'cookie') return AUTH_COOKIE;
  return /(^|-)(api-?key|token|auth|access-key)$/.test(n) || n === 'x-api-key' ? AUTH_API_KEY : 0;
}

/**
 * The scheme of an Authorization value. Only its first 7 characters are lower-cased (a token can
 * be long), which decides as lower-casing the whole value would: outside ASCII only U+0130 lower-
 * cases to one of the letters of "bearer " or "basic ", an "i" with a combining dot after it that
 * no scheme here continues with.
 */
function valueBit(v: string): number {
  const head = v.trimStart().slice(0, 7).toLowerCase();
  return head === 'bearer ' ? AUTH_BEARER : head.startsWith('basic ') ? AUTH_BASIC : AUTH_OTHER;
}

/** Header names as written → nameBit: a capture repeats a few names, and each costs a lower-casing and a regex. */
export class HeaderKinds {
  private map = new Map<string, number>();
  bit(name: string): number {
    return mayCount(name.charCodeAt(name.length - 1)) ? this.lookup(name) : 0;
  }

  /** bit() of the name raw[at, end), sliced only when its last character lets it count. */
  bitAt(raw: string, at: number, end: number): number {
    return mayCount(raw.charCodeAt(end - 1)) ? this.lookup(raw.slice(at, end)) : 0;
  }

  private lookup(name: string): number {
    let b = this.map.get(name);
    if (b === undefined) {
      if (this.map.size >= 4096) this.map = new Map();
      b = nameBit(name.toLowerCase());
      this.map.set(name, b);
    }
    return b;
  }
}

/**
 * Every name nameBit counts ends in n, e, y or h (authorization, cookie, api-key, token, auth),
 * and no character outside ASCII lower-cases to one of them: most names need no lookup.
 */
function mayCount(last: number): boolean {
  const c = last | 0x20;
  return c === 0x6e || c === 0x65 || c === 0x79 || c === 0x68;
}

const UNCACHED_KINDS = {
  bit: (name: string) => nameBit(name.toLowerCase()),
  bitAt: (raw: string, at: number, end: number) => nameBit(raw.slice(at, end).toLowerCase()),
};

/** Credentials a request carries, by kind (the values are not kept here). */
export function authOf(r: Row, kinds: { bit(name: string): number; bitAt(raw: string, at: number, end: number): number } = UNCACHED_KINDS): number {
  let a = 0;
  const raw = r.request.rawHeaders;
  if (raw !== undefined) {
    // Only an Authorization value is read: the rest goes by name, and most names by their last letter.
    forEachHeaderField(raw, (nameAt, colon, lineEnd) => {
      const b = kinds.bitAt(raw, nameAt, colon);
      a |= b === BY_VALUE ? valueBit(raw.slice(colon + 1, lineEnd)) : b;
      return true;
    });
    return a;
  }
  for (const [name, value] of r.request.headers) {
    const b = kinds.bit(name);
    a |= b === BY_VALUE ? valueBit(value) : b;
  }
  return a;
}
