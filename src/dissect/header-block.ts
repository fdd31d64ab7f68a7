/**
 * HTTP/1 header blocks kept as they were on the wire. Splitting a block into name/value strings
 * costs more than everything else done to an HTTP/1 message at import (two strings and a pair per
 * field, then as many again to store them), and nothing at import needs most fields: so the
 * HTTP/1 dissector hands on the block as one string, import stores it so, and the fields are
 * split when a record is read. Only blocks the dissector found clean are kept raw (every line
 * `name:value` ended by CRLF, the name a token, no folded lines), which is what makes the split
 * below exact.
 */
import { headerValue, type HeaderList, type HttpRequest, type HttpResponse, type TransactionRecord } from './record.js';

/** A message that may carry its header block raw (see HttpRequest.rawHeaders). */
export interface HeaderCarrier {
  headers: HeaderList;
  rawHeaders?: string;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The value between a field's colon and its line end, without surrounding spaces or tabs. */
function valueAt(raw: string, start: number, lineEnd: number): string {
  let vs = start;
  let ve = lineEnd;
  while (vs < ve && isOws(raw.charCodeAt(vs))) vs++;
  while (ve > vs && isOws(raw.charCodeAt(ve - 1))) ve--;
  return raw.slice(vs, ve);
}

/**
 * Calls `visit` with each field's name, where its value starts and where its line ends, in
 * order, until it returns false. Values are sliced only by a visitor that wants one. The one
 * walk over a clean block ("Name: value\r\n" lines): every reader of raw blocks goes through it.
 */
export function forEachHeaderName(raw: string, visit: (name: string, valueAt: number, lineEnd: number) => boolean): void {
  forEachHeaderField(raw, (nameAt, colon, lineEnd) => visit(raw.slice(nameAt, colon), colon + 1, lineEnd));
}

/**
 * As forEachHeaderName, with where each name starts and its colon instead of the name: for a
 * reader that looks at most names only by a character or two (it slices the few it wants).
 */
export function forEachHeaderField(raw: string, visit: (nameAt: number, colon: number, lineEnd: number) => boolean): void {
  let at = 0;
  while (at < raw.length) {
    let end = raw.indexOf('\r\n', at);
    if (end < 0) end = raw.length;
    const colon = raw.indexOf(':', at);
    if (colon > at && colon < end && !visit(at, colon, end)) return;
    at = end + 2;
  }
}

/** The fields of a clean block, in order, values without surrounding spaces or tabs. */
export function parseHeaderBlock(raw: string): HeaderList {
  const out: HeaderList = [];
  forEachHeaderName(raw, (name, start, lineEnd) => {
    out.push([name, valueAt(raw, start, lineEnd)]);
    return true;
  });
  return out;
}

/** The message's fields, whichever way it carries them. */
export function messageHeaders(m: HeaderCarrier): HeaderList {
  return m.rawHeaders === undefined ? m.headers : parseHeaderBlock(m.rawHeaders);
}

/**
 * First value of a field by case-insensitive name (headerValue's answer), without splitting a
 * raw block: the lookups import makes (content-type of a failed response, an upgrade) on raw blocks.
 */
export function messageHeader(m: HeaderCarrier, name: string): string | null {
  const raw = m.rawHeaders;
  if (raw === undefined) return headerValue(m.headers, name);
  const lower = name.toLowerCase();
  let found: string | null = null;
  forEachHeaderName(raw, (n, start, lineEnd) => {
    if (n.length !== lower.length || n.toLowerCase() !== lower) return true;
    found = valueAt(raw, start, lineEnd);
    return false;
  });
  return found;
}

function expandMessage(m: HttpRequest | HttpResponse): void {
  if (m.rawHeaders === undefined) return;
  m.headers = parseHeaderBlock(m.rawHeaders);
  delete m.rawHeaders;
}

/** Gives a record's HTTP/1 messages their HeaderList back (in place): what every reader of records sees. */
export function expandHeaders<R extends Pick<TransactionRecord, 'request' | 'response'>>(r: R): R {
  expandMessage(r.request);
  if (r.response) expandMessage(r.response);
  return r;
}
