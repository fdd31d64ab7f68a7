/** What HTTP/1 messages look like on the wire: used to detect the protocol and to find the next message after a gap. */
import { HTTPParser } from 'http-parser-js';

/** The methods http-parser-js accepts; any other token would make it fail the message. */
export const HTTP_METHODS: readonly string[] = HTTPParser.methods;

const METHOD_ALT = HTTP_METHODS.map((m) => m.replace(/-/g, '\\-')).join('|');
const REQUEST_LINE = new RegExp(`(?:^|\\n)((?:${METHOD_ALT}) [^ \\r\\n]+ HTTP/1\\.[01]\\r?\\n)`, 'g');
const RESPONSE_LINE = /(?:^|\n)(HTTP\/1\.[01] \d{3}[ \r\n])/g;

export type Http1Start = 'request' | 'response' | 'no' | 'need-more';

const LONGEST_METHOD = Math.max(...HTTP_METHODS.map((m) => m.length));

/**
 * Whether bytes at the start of a direction begin an HTTP/1 message. Answers
 * 'need-more' while the prefix is still consistent with one but too short to tell.
 */
export function http1Start(b: Buffer): Http1Start {
  const n = Math.min(b.length, 24);
  const head = b.toString('latin1', 0, n);
  if (head.startsWith('HTTP/1.')) return 'response';
  if ('HTTP/1.'.startsWith(head)) return 'need-more';
  const sp = head.indexOf(' ');
  if (sp < 0) {
    if (n > LONGEST_METHOD) return 'no';
    return HTTP_METHODS.some((m) => m.startsWith(head)) ? 'need-more' : 'no';
  }
  if (!HTTP_METHODS.includes(head.slice(0, sp))) return 'no';
  // A method and a space: require the target to start sanely ("/", "*", an absolute URL or an authority).
  if (sp + 1 >= n) return 'need-more';
  const c = head.charCodeAt(sp + 1);
  if (c <= 0x20 || c >= 0x7f) return 'no';
  // RTSP, ICAP and the like share methods with HTTP: once the line is whole, its version tells them apart.
  const eol = b.indexOf(0x0a);
  if (eol < 0) return 'request';
  return / HTTP\/1\.[01]\r?$/.test(b.toString('latin1', 0, eol)) ? 'request' : 'no';
}

/** Offset of the first request (or response) line in `b`, or -1. */
export function findMessageStart(b: Buffer, kind: 'request' | 'response'): number {
  const text = b.toString('latin1');
  const re = kind === 'request' ? REQUEST_LINE : RESPONSE_LINE;
  re.lastIndex = 0;
  const m = re.exec(text);
  if (!m) return -1;
  return m.index + m[0].length - m[1].length;
}

/** Split a request target into path and query, accepting origin-form and absolute-form. */
export function splitTarget(target: string): { path: string; query: string } {
  let t = target;
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(t);
  if (scheme) t = t.slice(scheme[0].length) || '/';
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q + 1) };
}
