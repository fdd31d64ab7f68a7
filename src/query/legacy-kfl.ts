/**
 * Kubeshark's older filter language, KFL (v1, "basenine"), translated to KFL2.
 *
 * KFL v1 filtered JSON entries with JSONPath-like selectors: `http and
 * request.method == "GET" and response.status == r"4.*"`. Its grammar (from
 * kubeshark/base pkg/languages/kfl) has `and`/`or` without precedence, grouped
 * from the right (`a and b or c` is `a and (b or c)`); `==`/`!=` against a regex
 * literal `r"..."` is an unanchored regex match; numbers compare as floats and
 * strings as text (`response.status == "500"` works); a bare selector is true
 * when it is non-empty; helpers are `startsWith endsWith contains datetime now
 * seconds minutes hours days weeks months years limit json xml redact`. Entries
 * were `{src: {ip, port, name, namespace}, dst, namespace, timestamp (ms),
 * elapsedTime (ms), protocol: {name, abbr}, request: {method, path, url,
 * headers, cookies, queryString, bodySize, ...}, response: {status, ...}}`, and
 * protocols were macros (`http`, `http2`, `grpc`, `dns`).
 *
 * The translation parses that grammar (tolerating CEL's `&&`, `||`, `in`, `?:`
 * and method calls mixed in), renames v1 selectors to KFL2 variables and
 * rewrites what CEL types differently, noting each such rewrite.
 */
import { VARIABLES, type CelType } from './variables.js';

export interface LegacyTranslation {
  /** The KFL2 filter. */
  translated: string;
  /** The translation differs from the source. */
  changed: boolean;
  /** What the translation did beyond renaming (grouping, units, regexes, defaults). */
  notes: string[];
  /** The source used something only KFL v1 has (its keywords, names, helpers or regex literals). */
  legacy: boolean;
}

/** A construct the translation cannot express in KFL2; position is a 0-based offset in the source. */
export class LegacyError extends Error {
  /** v1only: the construct exists only in KFL v1 (json(), xml()), so the filter is v1 for sure. */
  constructor(readonly detail: string, readonly position: number, readonly v1only = false) {
    super(detail);
    this.name = 'LegacyError';
  }
}

/** v1 selectors and macros, with their KFL2 equivalent, for `podcap fields` and "did you mean". */
export const LEGACY_NAMES: ReadonlyArray<{ v1: string; kfl2: string; note?: string }> = [
  { v1: 'request.method', kfl2: 'method' },
  { v1: 'request.path', kfl2: 'path' },
  { v1: 'request.url', kfl2: 'url' },
  { v1: 'request.targetUri', kfl2: 'url' },
  { v1: 'request.httpVersion', kfl2: 'http_version' },
  { v1: 'response.httpVersion', kfl2: 'http_version' },
  { v1: 'request.queryString', kfl2: 'query_string', note: 'request.queryString.a and request.query.a become query_string["a"]' },
  { v1: 'request.query', kfl2: 'query_string' },
  { v1: 'request.bodySize', kfl2: 'request_body_size' },
  { v1: 'request.headersSize', kfl2: 'request_headers_size' },
  { v1: 'response.bodySize', kfl2: 'response_body_size' },
  { v1: 'response.headersSize', kfl2: 'response_headers_size' },
  { v1: 'request.postData.text', kfl2: 'request.body' },
  { v1: 'response.content.text', kfl2: 'response.body' },
  { v1: 'response.status', kfl2: 'status_code' },
  { v1: 'response.code', kfl2: 'dns_rcode', note: 'DNS response code, named NOERROR, NXDOMAIN, SERVFAIL, ...' },
  { v1: 'request.questions[N].name', kfl2: 'dns_questions[N]', note: 'request.questions.*.name is the list dns_questions' },
  { v1: 'request.questions[N].type', kfl2: 'dns_question_types[N]' },
  { v1: 'response.answers[N].ip', kfl2: 'dns_answers[N]', note: 'also .cname .ns .ptr .mx .srv .txts .soa .uri; response.answers.*.ip is the list dns_answers' },
  { v1: 'requestSize', kfl2: 'request_headers_size + request_body_size', note: 'approximately: v1 counted captured bytes' },
  { v1: 'responseSize', kfl2: 'response_headers_size + response_body_size', note: 'approximately: v1 counted captured bytes' },
  { v1: 'elapsedTime', kfl2: 'elapsed_time', note: 'v1 counted milliseconds, KFL2 microseconds: numbers compared with it are multiplied by 1000' },
  { v1: 'timestamp', kfl2: 'timestamp', note: 'v1 counted milliseconds since the epoch: numbers and dates compared with it become timestamp("...")' },
  { v1: 'namespace', kfl2: 'namespaces', note: 'namespace == "x" becomes "x" in namespaces' },
  { v1: 'protocol.abbr', kfl2: 'protocol' },
  { v1: 'protocol.name', kfl2: 'http / dns', note: 'protocol.name == "http" becomes http' },
  { v1: 'http2', kfl2: 'protocol == "HTTP/2"' },
  { v1: 'datetime("10/19/2021, 6:29:02 PM")', kfl2: 'timestamp("2021-10-19T18:29:02Z")' },
  { v1: 'now()', kfl2: 'capture_end', note: 'offline, "now" is the end of the capture' },
  { v1: 'hours(-1)', kfl2: 'capture_end - duration("1h")', note: 'likewise seconds minutes days weeks months (30 days) years (365 days)' },
  { v1: 'r"regex"', kfl2: '.matches("regex")', note: 'x == r"re" becomes x.matches("re"): unanchored, as in v1' },
  { v1: 'limit(n)', kfl2: 'true', note: 'use --limit (CLI) or limit (MCP)' },
  { v1: 'redact(...)', kfl2: 'true', note: 'get_api_call redacts credentials itself' },
];

/** v1 selectors podcap has no equivalent for. */
export const LEGACY_UNSUPPORTED: ReadonlySet<string> = new Set([
  'outgoing', 'response.statusText', 'request.pathSegments', 'request.opCode', 'startTime', 'protocol.version', 'proto.version',
]);

/** The KFL2 name for a v1 selector ("response.status" → "status_code"), for error messages. */
export function legacyReplacement(name: string): string | null {
  const plain = name.replace(/\[\d+\]/g, '[N]');
  for (const l of LEGACY_NAMES) if (l.v1 === plain) return l.kfl2;
  if (/^request\.query(String)?\./.test(name)) return `query_string["${name.split('.').slice(2).join('.')}"]`;
  return null;
}

/* ---------------------------------------------------------------- lexing */

type TokKind = 'num' | 'str' | 'regex' | 'ident' | 'op' | 'eof';

interface Tok {
  kind: TokKind;
  text: string;
  /** String and regex content; number value. */
  value: string;
  start: number;
  end: number;
  quote?: string;
}

const OPS = ['&&', '||', '==', '!=', '>=', '<=', '>', '<', '!', '-', '+', '*', '/', '%', '(', ')', '[', ']', '{', '}', '.', ',', '?', ':', '='];

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '`': '`' };

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const readQuoted = (start: number, quote: string, raw: boolean): { value: string; end: number } => {
    let j = start + 1;
    let value = '';
    for (;;) {
      if (j >= src.length) throw new LegacyError(`unterminated string: the closing ${quote} is missing`, start);
      const c = src[j];
      if (c === quote) return { value, end: j + 1 };
      if (c === '\\' && quote !== '`' && j + 1 < src.length) {
        const n = src[j + 1];
        if (raw) value += n === quote ? n : c + n;
        else value += ESCAPES[n] ?? c + n;
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if ((c === 'r' || c === 'R') && /["'`]/.test(src[i + 1] ?? '')) {
      const q = readQuoted(i + 1, src[i + 1], true);
      toks.push({ kind: 'regex', text: src.slice(start, q.end), value: q.value, start, end: q.end, quote: src[i + 1] });
      i = q.end;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const q = readQuoted(i, c, false);
      toks.push({ kind: 'str', text: src.slice(start, q.end), value: q.value, start, end: q.end, quote: c });
      i = q.end;
      continue;
    }
    const num = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      toks.push({ kind: 'num', text: num[0], value: num[0], start, end: i });
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      i += id[0].length;
      toks.push({ kind: 'ident', text: id[0], value: id[0], start, end: i });
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new LegacyError(`unexpected character \`${c}\``, i);
    if (op === '=') throw new LegacyError('a single `=`: compare with `==`', i);
    i += op.length;
    toks.push({ kind: 'op', text: op, value: op, start, end: i });
  }
  toks.push({ kind: 'eof', text: '', value: '', start: src.length, end: src.length });
  return toks;
}

/** The source with the inside of its string literals blanked, so keywords can be looked for. */
function outsideStrings(src: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quote) {
      if (c === '\\' && quote !== '`') {
        out += '  ';
        i++;
      } else if (c === quote) {
        out += c;
        quote = null;
      } else out += ' ';
    } else {
      if (c === '"' || c === "'" || c === '`') quote = c;
      out += c;
    }
  }
  return out;
}

/** KFL v1's marks: `and`/`or`/`not` keywords, `== r"regex"`, backquoted strings. */
export function looksLegacy(src: string): boolean {
  const bare = outsideStrings(src);
  return /(^|[^.\w])(and|or|not)(?!\w)/.test(bare) || /(==|!=)\s*[rR]["'`]/.test(bare) || bare.includes('`');
}

/* ---------------------------------------------------------------- parsing */

type Seg = { name: string } | { index: number } | { key: string } | { wild: true };

type Node =
  | { k: 'lit'; t: 'int' | 'double' | 'string' | 'bool' | 'null' | 'regex'; v: string; start: number; end: number; quote?: string }
  | { k: 'path'; segs: Seg[]; start: number; end: number }
  | { k: 'call'; name: string; target: Node | null; args: Node[]; start: number; end: number; nameStart: number }
  | { k: 'index'; target: Node; index: Node; start: number; end: number }
  | { k: 'member'; target: Node; name: string; start: number; end: number }
  | { k: 'unary'; op: '!' | '-'; e: Node; start: number; end: number }
  | { k: 'bin'; op: string; l: Node; r: Node; start: number; end: number; opStart: number }
  | { k: 'logic'; op: '&&' | '||'; word: boolean; l: Node; r: Node; start: number; end: number; opStart: number }
  | { k: 'paren'; e: Node; start: number; end: number }
  | { k: 'list'; items: Node[]; start: number; end: number }
  | { k: 'ternary'; c: Node; a: Node; b: Node; start: number; end: number };

class Parser {
  private i = 0;
  /** Set when the source uses something only KFL v1 has. */
  legacy = false;

  constructor(private readonly toks: Tok[]) {}

  private get tok(): Tok {
    return this.toks[this.i];
  }

  private next(): Tok {
    return this.toks[this.i++];
  }

  private atEnd(): boolean {
    return this.tok.kind === 'eof';
  }

  private isOp(text: string): boolean {
    return this.tok.kind === 'op' && this.tok.text === text;
  }

  private isWord(text: string): boolean {
    return this.tok.kind === 'ident' && this.tok.text === text;
  }

  private expectOp(text: string, what: string): Tok {
    if (this.isOp(text)) return this.next();
    throw new LegacyError(`\`${text}\` expected ${what}, found ${describe(this.tok)}`, this.tok.start);
  }

  parse(): Node {
    if (this.atEnd()) throw new LegacyError('the filter is empty', 0);
    const e = this.expr();
    if (!this.atEnd()) {
      if (this.isOp(')')) throw new LegacyError('unbalanced `)`: no parenthesis is open', this.tok.start);
      throw new LegacyError(`an operator (and, or, ==, ...) or the end of the filter expected, found ${describe(this.tok)}`, this.tok.start);
    }
    return e;
  }

  private expr(): Node {
    const c = this.logical();
    if (!this.isOp('?')) return c;
    this.next();
    const a = this.expr();
    this.expectOp(':', 'in a conditional `c ? a : b`');
    const b = this.expr();
    return { k: 'ternary', c, a, b, start: c.start, end: b.end };
  }

  /** v1: `Equality [("and" | "or") Logical]`, grouped from the right. */
  private logical(): Node {
    const l = this.equality();
    const t = this.tok;
    let op: '&&' | '||' | null = null;
    let word = false;
    if (t.kind === 'ident' && (t.text === 'and' || t.text === 'or')) {
      op = t.text === 'and' ? '&&' : '||';
      word = true;
      this.legacy = true;
    } else if (t.kind === 'op' && (t.text === '&&' || t.text === '||')) op = t.text;
    if (!op) return l;
    this.next();
    if (this.atEnd()) throw new LegacyError(`the filter ends after \`${t.text}\`: an operand is expected`, this.tok.start);
    if (this.tok.kind === 'ident' && (this.tok.text === 'and' || this.tok.text === 'or')) {
      throw new LegacyError(`an operand expected after \`${t.text}\`, found \`${this.tok.text}\``, this.tok.start);
    }
    const r = this.logical();
    return { k: 'logic', op, word, l, r, start: l.start, end: r.end, opStart: t.start };
  }

  private binary(sub: () => Node, ops: string[], rightRecursive: boolean): Node {
    let l = sub();
    for (;;) {
      const t = this.tok;
      const op = (t.kind === 'op' && ops.includes(t.text)) || (t.kind === 'ident' && t.text === 'in' && ops.includes('in')) ? t.text : null;
      if (!op) return l;
      this.next();
      if (this.atEnd()) throw new LegacyError(`the filter ends after \`${op}\`: an operand is expected`, this.tok.start);
      const r = rightRecursive ? this.binary(sub, ops, true) : sub();
      l = { k: 'bin', op, l, r, start: l.start, end: r.end, opStart: t.start };
      if (rightRecursive) return l;
    }
  }

  private equality(): Node {
    return this.binary(() => this.comparison(), ['==', '!='], true);
  }

  private comparison(): Node {
    return this.binary(() => this.additive(), ['>=', '>', '<=', '<', 'in'], true);
  }

  private additive(): Node {
    return this.binary(() => this.multiplicative(), ['+', '-'], false);
  }

  private multiplicative(): Node {
    return this.binary(() => this.unary(), ['*', '/', '%'], false);
  }

  private unary(): Node {
    const t = this.tok;
    if (this.isOp('!') || this.isOp('-') || this.isWord('not')) {
      this.next();
      if (t.text === 'not') this.legacy = true;
      if (this.atEnd()) throw new LegacyError(`the filter ends after \`${t.text}\`: an operand is expected`, this.tok.start);
      const e = this.unary();
      return { k: 'unary', op: t.text === '-' ? '-' : '!', e, start: t.start, end: e.end };
    }
    return this.postfix(this.primary());
  }

  private args(): { args: Node[]; end: number } {
    this.expectOp('(', 'to open the arguments');
    const args: Node[] = [];
    if (!this.isOp(')')) {
      for (;;) {
        args.push(this.expr());
        if (this.isOp(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    const close = this.expectOp(')', 'to close the arguments');
    return { args, end: close.end };
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const t = this.tok;
        if (t.kind === 'op' && t.text === '*' && node.k === 'path') {
          this.next();
          node = { ...node, segs: [...node.segs, { wild: true }], end: t.end };
          this.legacy = true;
          continue;
        }
        if (t.kind !== 'ident') throw new LegacyError(`a name expected after \`.\`, found ${describe(t)}`, t.start);
        this.next();
        if (this.isOp('(')) {
          const { args, end } = this.args();
          node = { k: 'call', name: t.text, target: node, args, start: node.start, end, nameStart: t.start };
        } else if (node.k === 'path') node = { ...node, segs: [...node.segs, { name: t.text }], end: t.end };
        else node = { k: 'member', target: node, name: t.text, start: node.start, end: t.end };
        continue;
      }
      if (this.isOp('[')) {
        this.next();
        const t = this.tok;
        const after = this.toks[this.i + 1];
        if (node.k === 'path' && (t.kind === 'num' || t.kind === 'str') && after.kind === 'op' && after.text === ']') {
          this.next();
          const close = this.next();
          const seg: Seg = t.kind === 'num' ? { index: Number(t.value) } : { key: t.value };
          node = { ...node, segs: [...node.segs, seg], end: close.end };
          continue;
        }
        const index = this.expr();
        const close = this.expectOp(']', 'to close the index');
        node = { k: 'index', target: node, index, start: node.start, end: close.end };
        continue;
      }
      return node;
    }
  }

  private primary(): Node {
    const t = this.next();
    switch (t.kind) {
      case 'num':
        return { k: 'lit', t: /[.eE]/.test(t.text) ? 'double' : 'int', v: t.value, start: t.start, end: t.end };
      case 'str':
        if (t.quote === '`') this.legacy = true;
        return { k: 'lit', t: 'string', v: t.value, start: t.start, end: t.end, quote: t.quote };
      case 'regex':
        return { k: 'lit', t: 'regex', v: t.value, start: t.start, end: t.end };
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') return { k: 'lit', t: 'bool', v: t.text, start: t.start, end: t.end };
        if (t.text === 'nil' || t.text === 'null') {
          if (t.text === 'nil') this.legacy = true;
          return { k: 'lit', t: 'null', v: 'null', start: t.start, end: t.end };
        }
        if (t.text === 'and' || t.text === 'or' || t.text === 'in') throw new LegacyError(`an operand expected, found \`${t.text}\``, t.start);
        if (this.isOp('(')) {
          const { args, end } = this.args();
          return { k: 'call', name: t.text, target: null, args, start: t.start, end, nameStart: t.start };
        }
        return { k: 'path', segs: [{ name: t.text }], start: t.start, end: t.end };
      }
      case 'op':
        if (t.text === '(') {
          if (this.isOp(')')) throw new LegacyError('empty parentheses: an expression is expected inside', this.tok.start);
          const e = this.expr();
          if (!this.isOp(')')) throw new LegacyError(`\`(\` at column ${t.start + 1} is not closed: \`)\` expected, found ${describe(this.tok)}`, this.tok.start);
          const close = this.next();
          return { k: 'paren', e, start: t.start, end: close.end };
        }
        if (t.text === '[') {
          const items: Node[] = [];
          if (!this.isOp(']')) {
            for (;;) {
              items.push(this.expr());
              if (this.isOp(',')) {
                this.next();
                continue;
              }
              break;
            }
          }
          const close = this.expectOp(']', 'to close the list');
          return { k: 'list', items, start: t.start, end: close.end };
        }
        throw new LegacyError(`an operand expected, found \`${t.text}\``, t.start);
      case 'eof':
      default:
        throw new LegacyError('the filter ends too early: an operand is expected', t.start);
    }
  }
}

function describe(t: Tok): string {
  return t.kind === 'eof' ? 'the end of the filter' : `\`${t.text}\``;
}

/* ---------------------------------------------------------------- translation */

type Ty = 'bool' | 'int' | 'double' | 'string' | 'list' | 'map' | 'timestamp' | 'duration' | 'regex' | 'null' | 'dyn';

/** Precedence in CEL: ?: 1, || 2, && 3, relations 4, + - 5, * / % 6, unary 7, member/primary 8. */
interface Out {
  text: string;
  prec: number;
  type: Ty;
  /** v1 quantities that need rewriting when compared. */
  kind?: 'timestamp-ms' | 'elapsed-ms' | 'proto-name' | 'rcode' | 'map-key';
  /** For map-key: the map and the key. */
  map?: string;
  key?: string;
  /** A literal (strings unquoted, numbers as text). */
  lit?: { t: 'int' | 'double' | 'string' | 'bool' | 'null' | 'regex'; v: string };
  /** Came from a v1 name (rewrites that change types apply to these only). */
  v1?: boolean;
}

const KFL2_TYPES: ReadonlyMap<string, CelType> = new Map(VARIABLES.map((v) => [v.name, v.type]));

function tyOf(t: CelType): Ty {
  if (t === 'google.protobuf.Timestamp') return 'timestamp';
  if (t.startsWith('list')) return 'list';
  if (t.startsWith('map')) return 'map';
  return t as Ty;
}

const SIMPLE: Record<string, { text: string; type: Ty; kind?: Out['kind']; prec?: number; note?: string }> = {
  'request.method': { text: 'method', type: 'string' },
  'request.path': { text: 'path', type: 'string' },
  'request.url': { text: 'url', type: 'string' },
  'request.targetUri': { text: 'url', type: 'string' },
  'request.httpVersion': { text: 'http_version', type: 'string' },
  'response.httpVersion': { text: 'http_version', type: 'string' },
  'request.bodySize': { text: 'request_body_size', type: 'int' },
  'request.headersSize': { text: 'request_headers_size', type: 'int' },
  'response.bodySize': { text: 'response_body_size', type: 'int' },
  'response.headersSize': { text: 'response_headers_size', type: 'int' },
  'request.postData.text': { text: 'request.body', type: 'string' },
  'response.content.text': { text: 'response.body', type: 'string' },
  'response.status': { text: 'status_code', type: 'int' },
  'response.code': { text: 'dns_rcode', type: 'string', kind: 'rcode' },
  requestSize: { text: 'request_headers_size + request_body_size', type: 'int', prec: 5, note: 'requestSize is approximated by request_headers_size + request_body_size' },
  responseSize: { text: 'response_headers_size + response_body_size', type: 'int', prec: 5, note: 'responseSize is approximated by response_headers_size + response_body_size' },
  elapsedTime: { text: 'elapsed_time', type: 'int', kind: 'elapsed-ms' },
  namespace: { text: 'namespaces', type: 'list' },
  'protocol.abbr': { text: 'protocol', type: 'string' },
  'proto.abbr': { text: 'protocol', type: 'string' },
  'protocol.name': { text: 'protocol', type: 'string', kind: 'proto-name' },
  'proto.name': { text: 'protocol', type: 'string', kind: 'proto-name' },
  http2: { text: 'protocol == "HTTP/2"', type: 'bool', prec: 4 },
};

const MAPS: Record<string, string> = {
  'request.headers': 'request.headers',
  'response.headers': 'response.headers',
  'request.cookies': 'request.cookies',
  'response.cookies': 'response.cookies',
  'request.queryString': 'query_string',
  'request.query': 'query_string',
};

const DNS_ANSWER_FIELDS = new Set(['ip', 'cname', 'ns', 'ptr', 'mx', 'srv', 'txts', 'soa', 'uri', 'opt']);

const RCODES: Record<string, string> = {
  noerror: 'NOERROR', 'no error': 'NOERROR', success: 'NOERROR',
  formerr: 'FORMERR', 'format error': 'FORMERR',
  servfail: 'SERVFAIL', 'server failure': 'SERVFAIL',
  nxdomain: 'NXDOMAIN', 'non-existent domain': 'NXDOMAIN', 'name error': 'NXDOMAIN',
  notimp: 'NOTIMP', 'not implemented': 'NOTIMP',
  refused: 'REFUSED', 'query refused': 'REFUSED',
};

const UNITS: Record<string, { seconds: number; label: string }> = {
  seconds: { seconds: 1, label: 's' },
  minutes: { seconds: 60, label: 'm' },
  hours: { seconds: 3600, label: 'h' },
  days: { seconds: 86400, label: 'h' },
  weeks: { seconds: 7 * 86400, label: 'h' },
  months: { seconds: 30 * 86400, label: 'h' },
  years: { seconds: 365 * 86400, label: 'h' },
};

const NOTE = {
  grouping: 'KFL v1 groups and/or from the right without precedence (`a and b or c` is `a and (b or c)`): parentheses added',
  regex: 'x == r"re" became x.matches("re"): an unanchored search, as in KFL v1 (anchor with ^ and $ to match the whole value)',
  truthy: 'a bare value is true when it is not empty or zero, as in KFL v1',
  elapsed: 'elapsedTime counted milliseconds, elapsed_time counts microseconds: the number was multiplied by 1000',
  timestampMs: 'timestamp counted milliseconds in KFL v1: the number became timestamp("...")',
  now: 'offline, "now" is the end of the capture: capture_end',
  list: 'a list compared with == meant "has an element equal to" in KFL v1: `in`',
  quotedNumber: 'KFL v1 compared numbers and text alike: the quotes around the number were dropped',
  nil: 'nil became the variable\'s KFL2 default ("", 0, empty)',
  http: 'KFL2\'s http also covers HTTP/2 and gRPC (v1\'s http was HTTP/1.x; http2 is protocol == "HTTP/2")',
  limit: 'limit(n) is always true: use --limit (CLI) or limit (MCP)',
  redact: 'redact(...) is always true: get_api_call redacts credentials itself',
  wildcard: 'a .* wildcard stands for every element in KFL v1: a comparison with it holds when one element matches',
  dotStar: 'a string is compared as text, not as a pattern: use r"..." or .matches() for a regex',
} as const;

class Translator {
  readonly notes = new Set<string>();

  /** legacy: the source already showed KFL v1's keywords. */
  constructor(private readonly src: string, public legacy: boolean) {}

  private note(n: string): void {
    this.notes.add(n);
  }

  private wrap(o: Out, min: number): string {
    return o.prec < min ? `(${o.text})` : o.text;
  }

  emit(n: Node): Out {
    switch (n.k) {
      case 'lit':
        return this.literal(n);
      case 'path':
        return this.path(n);
      case 'paren': {
        const inner = this.emit(n.e);
        return { ...inner, text: `(${inner.text})`, prec: 8 };
      }
      case 'unary': {
        if (n.op === '-') {
          const e = this.emit(n.e);
          if (e.lit && (e.lit.t === 'int' || e.lit.t === 'double')) return { text: `-${e.text}`, prec: 8, type: e.type, lit: { t: e.lit.t, v: `-${e.lit.v}` } };
          return { text: `-${this.wrap(e, 7)}`, prec: 7, type: e.type };
        }
        const e = this.truthy(this.emit(n.e), n.e);
        return { text: `!${this.wrap(e, 7)}`, prec: 7, type: 'bool' };
      }
      case 'logic': {
        const l = this.truthy(this.emit(n.l), n.l);
        const r = this.truthy(this.emit(n.r), n.r);
        const prec = n.op === '&&' ? 3 : 2;
        if (n.op === '&&' && n.r.k === 'logic' && n.r.op === '||') this.note(NOTE.grouping);
        return { text: `${this.wrap(l, prec)} ${n.op} ${this.wrap(r, prec)}`, prec, type: 'bool' };
      }
      case 'ternary': {
        const c = this.truthy(this.emit(n.c), n.c);
        const a = this.emit(n.a);
        const b = this.emit(n.b);
        return { text: `${this.wrap(c, 2)} ? ${this.wrap(a, 2)} : ${this.wrap(b, 1)}`, prec: 1, type: a.type === b.type ? a.type : 'dyn' };
      }
      case 'bin':
        return this.binary(n);
      case 'list': {
        const items = n.items.map((i) => this.emit(i).text);
        return { text: `[${items.join(', ')}]`, prec: 8, type: 'list' };
      }
      case 'index': {
        const t = this.emit(n.target);
        const i = this.emit(n.index);
        return { text: `${this.wrap(t, 8)}[${i.text}]`, prec: 8, type: 'dyn' };
      }
      case 'member': {
        const t = this.emit(n.target);
        return { text: `${this.wrap(t, 8)}.${n.name}`, prec: 8, type: 'dyn' };
      }
      case 'call':
        return n.target ? this.method(n, n.target) : this.call(n);
      default:
        throw new LegacyError('unsupported expression', 0);
    }
  }

  private literal(n: Extract<Node, { k: 'lit' }>): Out {
    switch (n.t) {
      case 'string':
        if (n.quote === '`') this.legacy = true;
        return { text: JSON.stringify(n.v), prec: 8, type: 'string', lit: { t: 'string', v: n.v } };
      case 'regex':
        this.legacy = true;
        return { text: JSON.stringify(n.v), prec: 8, type: 'regex', lit: { t: 'regex', v: n.v } };
      case 'null':
        return { text: 'null', prec: 8, type: 'null', lit: { t: 'null', v: 'null' } };
      case 'bool':
        return { text: n.v, prec: 8, type: 'bool', lit: { t: 'bool', v: n.v } };
      default:
        return { text: n.v, prec: 8, type: n.t, lit: { t: n.t, v: n.v } };
    }
  }

  private v1(out: Out, note?: string): Out {
    this.legacy = true;
    if (note) this.note(note);
    return { ...out, v1: true };
  }

  private path(n: Extract<Node, { k: 'path' }>): Out {
    const segs = n.segs;
    let names = 0;
    while (names < segs.length && 'name' in segs[names]) names++;
    const rest = segs.slice(names);
    const dotted = segs.slice(0, names).map((s) => (s as { name: string }).name).join('.');
    const original = this.src.slice(n.start, n.end);

    if (rest.length === 0 && SIMPLE[dotted]) {
      const s = SIMPLE[dotted];
      return this.v1({ text: s.text, prec: s.prec ?? 8, type: s.type, kind: s.kind }, s.note);
    }
    if (dotted === 'timestamp' && rest.length === 0) return { text: 'timestamp', prec: 8, type: 'timestamp', kind: 'timestamp-ms' };

    // request.headers["x"], request.headers.x, request.queryString.a, request.query["a"]
    for (const [prefix, target] of Object.entries(MAPS)) {
      if (dotted !== prefix && !dotted.startsWith(`${prefix}.`)) continue;
      const renamed = target !== prefix;
      const after = dotted === prefix ? [] : dotted.slice(prefix.length + 1).split('.');
      const keys: string[] = [...after];
      for (const s of rest) {
        if ('key' in s) keys.push(s.key);
        else if ('name' in s) keys.push(s.name);
        else return this.unknown(original);
      }
      if (keys.length === 0) return renamed ? this.v1({ text: target, prec: 8, type: 'map' }) : { text: target, prec: 8, type: 'map' };
      if (keys.length > 1) return this.unknown(original);
      const out: Out = { text: `${target}[${JSON.stringify(keys[0])}]`, prec: 8, type: 'string', kind: 'map-key', map: target, key: keys[0] };
      return renamed || after.length > 0 ? this.v1(out) : out;
    }

    // DNS: request.questions[0].name, request.questions.*.type, response.answers[1].ip
    if ((dotted === 'request.questions' || dotted === 'response.answers') && rest.length >= 2) {
      const sel = rest[0];
      const field = rest[1];
      if (!('name' in field) || rest.length > 2 || !('index' in sel || 'wild' in sel)) return this.unknown(original);
      let list: string | null = null;
      if (dotted === 'request.questions') list = field.name === 'name' ? 'dns_questions' : field.name === 'type' ? 'dns_question_types' : null;
      else list = DNS_ANSWER_FIELDS.has(field.name) ? 'dns_answers' : null;
      if (!list) return this.unknown(original);
      if ('wild' in sel) return this.v1({ text: list, prec: 8, type: 'list' }, NOTE.wildcard);
      return this.v1({ text: `${list}[${(sel as { index: number }).index}]`, prec: 8, type: 'string' });
    }

    // KFL2 names (and keys or indexes under them) pass through.
    const kfl2 = KFL2_TYPES.get(dotted);
    if (kfl2) {
      const ty = tyOf(kfl2);
      if (rest.length === 0) return { text: dotted, prec: 8, type: ty };
      if (rest.length === 1 && ty === 'map' && ('key' in rest[0] || 'name' in rest[0])) {
        const key = 'key' in rest[0] ? rest[0].key : (rest[0] as { name: string }).name;
        return { text: `${dotted}[${JSON.stringify(key)}]`, prec: 8, type: 'string', kind: 'map-key', map: dotted, key };
      }
      if (rest.length === 1 && ty === 'list' && 'index' in rest[0]) return { text: `${dotted}[${rest[0].index}]`, prec: 8, type: 'string' };
    }
    return this.unknown(original);
  }

  /** A name podcap does not know: left as written, for the KFL2 compiler to report with suggestions. */
  private unknown(text: string): Out {
    if (text.includes('*')) throw new LegacyError(`\`${text}\`: a .* wildcard has no KFL2 equivalent here`, this.src.indexOf(text));
    return { text, prec: 8, type: 'dyn' };
  }

  /** A value in a place that needs true or false: v1's truthiness. */
  truthy(o: Out, n: Node): Out {
    switch (o.type) {
      case 'bool':
      case 'dyn':
        return o;
      case 'regex':
        throw new LegacyError('a regular expression must be compared: x == r"..."', n.start);
      case 'null':
        this.note(NOTE.nil);
        return { text: 'false', prec: 8, type: 'bool' };
      default:
        break;
    }
    this.note(NOTE.truthy);
    if (o.kind === 'map-key') return { text: `map_get(${o.map}, ${JSON.stringify(o.key)}, "") != ""`, prec: 4, type: 'bool' };
    if (o.type === 'string') return { text: `${this.wrap(o, 5)} != ""`, prec: 4, type: 'bool' };
    if (o.type === 'int' || o.type === 'double') return { text: `${this.wrap(o, 5)} > 0`, prec: 4, type: 'bool' };
    if (o.type === 'list' || o.type === 'map') return { text: `size(${o.text}) > 0`, prec: 4, type: 'bool' };
    return { text: 'true', prec: 8, type: 'bool' };
  }

  private binary(n: Extract<Node, { k: 'bin' }>): Out {
    const op = n.op;
    let l = this.emit(n.l);
    let r = this.emit(n.r);
    if (op === 'in') return { text: `${this.wrap(l, 5)} in ${this.wrap(r, 5)}`, prec: 4, type: 'bool' };
    if (['+', '-', '*', '/', '%'].includes(op)) {
      const prec = op === '+' || op === '-' ? 5 : 6;
      const type = l.type === 'timestamp' || r.type === 'timestamp' ? 'timestamp' : l.type === r.type ? l.type : 'dyn';
      return { text: `${this.wrap(l, prec)} ${op} ${this.wrap(r, prec + 1)}`, prec, type };
    }
    const equality = op === '==' || op === '!=';
    const negate = (o: Out): Out => (op === '!=' ? { text: `!${this.wrap(o, 7)}`, prec: 7, type: 'bool' } : o);

    // x == r"re": an unanchored regex search.
    if (l.type === 'regex' || r.type === 'regex') {
      if (!equality) throw new LegacyError(`a regular expression can only be compared with == or !=, not ${op}`, n.opStart);
      if (l.type === 'regex' && r.type === 'regex') throw new LegacyError('two regular expressions compared', n.opStart);
      const [x, re] = l.type === 'regex' ? [r, l] : [l, r];
      this.note(NOTE.regex);
      return negate(this.onValue(x, (v) => `${v}.matches(${re.text})`, n.start));
    }

    // nil: the variable's default.
    if (l.type === 'null' || r.type === 'null') {
      const x = l.type === 'null' ? r : l;
      if (x.type === 'null' || x.type === 'dyn') return { text: `${this.wrap(l, 5)} ${op} ${this.wrap(r, 5)}`, prec: 4, type: 'bool' };
      if (!equality) throw new LegacyError(`nil cannot be ordered with ${op}`, n.opStart);
      this.note(NOTE.nil);
      this.legacy = true;
      const empty = x.type === 'string' ? `${this.wrap(x, 5)} ${op} ""` : x.type === 'list' || x.type === 'map' ? `size(${x.text}) ${op} 0` : x.type === 'bool' ? `${this.wrap(x, 5)} ${op} false` : `${this.wrap(x, 5)} ${op} 0`;
      return { text: empty, prec: 4, type: 'bool' };
    }

    // timestamp in v1 was milliseconds since the epoch.
    if (l.kind === 'timestamp-ms' || r.kind === 'timestamp-ms') {
      if (l.kind !== 'timestamp-ms') l = this.toTimestamp(l, n.l);
      if (r.kind !== 'timestamp-ms') r = this.toTimestamp(r, n.r);
      return { text: `${this.wrap(l, 5)} ${op} ${this.wrap(r, 5)}`, prec: 4, type: 'bool' };
    }

    // elapsedTime in v1 was milliseconds.
    if (l.kind === 'elapsed-ms' || r.kind === 'elapsed-ms') {
      const scale = (o: Out): Out => {
        if (o.kind === 'elapsed-ms') return o;
        const num = o.lit && (o.lit.t === 'int' || o.lit.t === 'double' || (o.lit.t === 'string' && /^-?\d+(\.\d+)?$/.test(o.lit.v))) ? Number(o.lit.v) : null;
        if (num !== null) {
          this.note(NOTE.elapsed);
          return { text: String(Math.round(num * 1000)), prec: 8, type: 'int' };
        }
        if (o.type === 'int' || o.type === 'double') return { text: `${this.wrap(o, 6)} * 1000`, prec: 6, type: 'int' };
        throw new LegacyError('elapsedTime is compared with a number of milliseconds', o === l ? n.l.start : n.r.start);
      };
      l = scale(l);
      r = scale(r);
      return { text: `${this.wrap(l, 5)} ${op} ${this.wrap(r, 5)}`, prec: 4, type: 'bool' };
    }

    // protocol.name == "http"
    if (l.kind === 'proto-name' || r.kind === 'proto-name') {
      const other = l.kind === 'proto-name' ? r : l;
      if (!equality || other.lit?.t !== 'string') throw new LegacyError('protocol.name is compared with a name: protocol.name == "http"', n.start);
      const name = other.lit.v.toLowerCase();
      const flag = name === 'http' ? 'http' : name === 'dns' ? 'dns' : 'false';
      return negate({ text: flag, prec: 8, type: 'bool' });
    }

    // response.code == "NXDomain"
    if ((l.kind === 'rcode' && r.lit?.t === 'string') || (r.kind === 'rcode' && l.lit?.t === 'string')) {
      const fix = (o: Out): Out => (o.lit?.t === 'string' ? { ...o, text: JSON.stringify(RCODES[o.lit.v.toLowerCase()] ?? o.lit.v.toUpperCase()) } : o);
      l = fix(l);
      r = fix(r);
      return { text: `${this.wrap(l, 5)} ${op} ${this.wrap(r, 5)}`, prec: 4, type: 'bool' };
    }

    // A list compared with a value: any element (v1).
    if ((l.type === 'list') !== (r.type === 'list') && (l.type === 'list' ? r : l).type !== 'dyn') {
      const [list, value] = l.type === 'list' ? [l, r] : [r, l];
      const v = value.lit?.t === 'int' || value.lit?.t === 'double' ? { ...value, text: JSON.stringify(value.lit.v), type: 'string' as Ty } : value;
      this.note(NOTE.list);
      if (equality) return negate({ text: `${this.wrap(v, 5)} in ${this.wrap(list, 5)}`, prec: 4, type: 'bool' });
      const cmp = l.type === 'list' ? `x ${op} ${this.wrap(r, 5)}` : `${this.wrap(l, 5)} ${op} x`;
      return { text: `${this.wrap(list, 8)}.exists(x, ${cmp})`, prec: 8, type: 'bool' };
    }

    // v1 compared numbers and text alike: "500" == 500.
    const coerce = (x: Out, o: Out): Out => {
      if (!(x.v1 || this.legacy) || !o.lit) return o;
      if ((x.type === 'int' || x.type === 'double') && o.lit.t === 'string') {
        if (/^-?\d+(\.\d+)?$/.test(o.lit.v)) {
          this.note(NOTE.quotedNumber);
          return { text: o.lit.v, prec: 8, type: 'int', lit: { t: /\./.test(o.lit.v) ? 'double' : 'int', v: o.lit.v } };
        }
        return o;
      }
      if (x.type === 'string' && (o.lit.t === 'int' || o.lit.t === 'double') && equality) return { text: JSON.stringify(o.lit.v), prec: 8, type: 'string', lit: { t: 'string', v: o.lit.v } };
      if (x.type === 'bool' && o.lit.t === 'string' && (o.lit.v === 'true' || o.lit.v === 'false')) return { text: o.lit.v, prec: 8, type: 'bool' };
      return o;
    };
    let r2 = coerce(l, r);
    let l2 = coerce(r, l);
    // v1 ordered text as numbers: request.query.a > 42.
    if (!equality && (this.legacy || l.v1 || r.v1)) {
      const num = (o: Out): boolean => o.lit?.t === 'int' || o.lit?.t === 'double';
      if (l2.type === 'string' && !l2.lit && num(r2)) l2 = { text: `double(${l2.text})`, prec: 8, type: 'double' };
      if (r2.type === 'string' && !r2.lit && num(l2)) r2 = { text: `double(${r2.text})`, prec: 8, type: 'double' };
    }
    let text = `${this.wrap(l2, 5)} ${op} ${this.wrap(r2, 5)}`;
    if ((l2.type === 'int' || l2.type === 'double') && r2.lit?.t === 'string' && this.legacy && equality) text = `string(${l2.text}) ${op} ${r2.text}`;
    if (equality && [l2, r2].some((o) => o.lit?.t === 'string' && /\.\*|\.\+/.test(o.lit.v))) this.note(NOTE.dotStar);
    return { text, prec: 4, type: 'bool' };
  }

  /** A date for v1's millisecond timestamp: a number of ms, a date string, datetime(...), now(). */
  private toTimestamp(o: Out, n: Node): Out {
    if (o.type === 'timestamp') return o;
    if (o.lit && (o.lit.t === 'int' || o.lit.t === 'double')) {
      this.legacy = true;
      this.note(NOTE.timestampMs);
      return { text: `timestamp(${JSON.stringify(iso(Number(o.lit.v)))})`, prec: 8, type: 'timestamp' };
    }
    if (o.lit?.t === 'string') {
      const ms = parseDate(o.lit.v);
      if (ms === null) throw new LegacyError(`"${o.lit.v}" is not a date: write "2026-11-20T10:00:00Z"`, n.start);
      return { text: `timestamp(${JSON.stringify(iso(ms))})`, prec: 8, type: 'timestamp' };
    }
    if (o.type === 'int' || o.type === 'double') return { text: `timestamp(${this.wrap(o, 6)} / 1000)`, prec: 8, type: 'timestamp' };
    return o;
  }

  /** Apply a string test to a value of any v1 type: text as is, numbers as text, lists element by element. */
  private onValue(x: Out, test: (v: string) => string, pos: number): Out {
    if (x.type === 'list') return { text: `${this.wrap(x, 8)}.exists(x, ${test('x')})`, prec: 8, type: 'bool' };
    if (x.type === 'int' || x.type === 'double' || x.type === 'bool') return { text: test(`string(${x.text})`), prec: 8, type: 'bool' };
    if (x.type === 'timestamp' || x.type === 'map') throw new LegacyError(`a ${x.type} cannot be matched as text`, pos);
    return { text: test(this.wrap(x, 8)), prec: 8, type: 'bool' };
  }

  private method(n: Extract<Node, { k: 'call' }>, target: Node): Out {
    const name = n.name;
    if (name === 'json' || name === 'xml') {
      throw new LegacyError(`KFL v1's ${name}() has no KFL2 equivalent: search the body with response.body.contains("...") or .matches("...")`, n.nameStart, true);
    }
    if (name === 'redact') {
      this.legacy = true;
      this.note(NOTE.redact);
      return { text: 'true', prec: 8, type: 'bool' };
    }
    const t = this.emit(target);
    const args = n.args.map((a) => this.emit(a));
    if (['startsWith', 'endsWith', 'contains', 'matches'].includes(name) && args.length === 1) {
      const a = args[0];
      const arg = a.lit && a.lit.t !== 'string' ? JSON.stringify(a.lit.v) : a.text;
      return this.onValue(t, (v) => `${v}.${name}(${arg})`, n.start);
    }
    const type: Ty = ['exists', 'all', 'exists_one', 'startsWith', 'endsWith', 'contains', 'matches'].includes(name)
      ? 'bool'
      : name === 'size' ? 'int' : ['filter', 'map'].includes(name) ? 'list' : 'dyn';
    return { text: `${this.wrap(t, 8)}.${name}(${args.map((a) => a.text).join(', ')})`, prec: 8, type };
  }

  private call(n: Extract<Node, { k: 'call' }>): Out {
    const name = n.name;
    if (name === 'datetime') {
      const a = n.args[0];
      if (n.args.length !== 1 || a.k !== 'lit' || a.t !== 'string') throw new LegacyError('datetime() takes a date in quotes: datetime("10/19/2021, 6:29:02 PM")', n.start);
      const ms = parseDate(a.v);
      if (ms === null) throw new LegacyError(`"${a.v}" is not a date KFL v1 read: write "10/19/2021, 6:29:02 PM"`, a.start);
      this.legacy = true;
      return { text: `timestamp(${JSON.stringify(iso(ms))})`, prec: 8, type: 'timestamp' };
    }
    if (name === 'now' && n.args.length === 0) {
      this.legacy = true;
      this.note(NOTE.now);
      return { text: 'capture_end', prec: 8, type: 'timestamp' };
    }
    if (UNITS[name] && n.args.length === 1) {
      const a = this.emit(n.args[0]);
      if (!a.lit || (a.lit.t !== 'int' && a.lit.t !== 'double')) throw new LegacyError(`${name}() takes a number: ${name}(-1)`, n.args[0].start);
      const seconds = Number(a.lit.v) * UNITS[name].seconds;
      const unit = UNITS[name].label;
      const amount = Math.abs(unit === 'h' ? seconds / 3600 : unit === 'm' ? seconds / 60 : seconds);
      this.legacy = true;
      this.note(NOTE.now);
      return { text: `capture_end ${seconds < 0 ? '-' : '+'} duration("${amount}${unit}")`, prec: 5, type: 'timestamp' };
    }
    if (name === 'limit') {
      this.legacy = true;
      this.note(NOTE.limit);
      return { text: 'true', prec: 8, type: 'bool' };
    }
    if (name === 'redact') {
      this.legacy = true;
      this.note(NOTE.redact);
      return { text: 'true', prec: 8, type: 'bool' };
    }
    // has() takes a field selection as written.
    const args = name === 'has' ? n.args.map((a) => this.src.slice(a.start, a.end)) : n.args.map((a) => this.emit(a).text);
    const type: Ty = name === 'size' || name === 'int' ? 'int' : name === 'timestamp' ? 'timestamp' : name === 'duration' ? 'duration'
      : name === 'string' || name === 'map_get' ? 'string' : name === 'has' ? 'bool' : name === 'double' ? 'double' : 'dyn';
    return { text: `${name}(${args.join(', ')})`, prec: 8, type };
  }
}

/** Milliseconds since the epoch as RFC 3339, without a zero fraction. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** RFC 3339, or v1's datetime() layout "1/2/2006, 3:04:05 PM" (and ".000" before PM), read as UTC. */
function parseDate(s: string): number | null {
  const v1 = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),\s*(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s*([AP]M)$/i.exec(s.trim());
  if (v1) {
    const [, mo, d, y, h, mi, sec, frac, ampm] = v1;
    let hour = Number(h) % 12;
    if (ampm.toUpperCase() === 'PM') hour += 12;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), hour, Number(mi), Number(sec), Number((frac ?? '0').padEnd(3, '0')));
    return Number.isNaN(ms) ? null : ms;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s.trim())) {
    const t = s.trim();
    // A date or time without a zone is UTC, as Go's time.Parse reads it.
    const withZone = /T|\s/.test(t) ? (/(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : `${t}Z`) : `${t}T00:00:00Z`;
    const ms = Date.parse(withZone.replace(' ', 'T'));
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** Translate a KFL v1 filter (or a mix of v1 and KFL2) to KFL2. Throws LegacyError on what KFL2 cannot express. */
export function translateLegacy(source: string): LegacyTranslation {
  const parser = new Parser(lex(source));
  const ast = parser.parse();
  const t = new Translator(source, parser.legacy);
  const out = t.truthy(t.emit(ast), ast);
  if (t.legacy && /(^|[^.\w])http(?!\w)/.test(outsideStrings(source))) t.notes.add(NOTE.http);
  const translated = out.text;
  return { translated, changed: translated !== source.trim(), notes: [...t.notes], legacy: t.legacy };
}
