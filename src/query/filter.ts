/**
 * Compiling a KFL2 filter: CEL parsed and type-checked by @marcbachmann/cel-js
 * against podcap's variables, dotted names checked against the catalogue with
 * suggestions, header keys lowered so that `request.headers["Authorization"]`
 * matches, regex literals read as RE2 (Kubeshark's engine) and rewritten for
 * the JavaScript engine cel-js uses, and errors that point at the offending
 * column and say what was expected. A filter in Kubeshark's older KFL (v1) is
 * translated to KFL2 (see legacy-kfl.ts), and the translation is reported.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import type { TransactionRecord } from '../dissect/record.js';
import {
  CASE_INSENSITIVE_MAPS, ROOTS, STRUCT_ROOTS, STRUCT_TYPES, VARIABLES, VARIABLE_NAMES, rootValue, type BodyText, type QueryContext,
} from './variables.js';
import { LEGACY_NAMES, LEGACY_UNSUPPORTED, LegacyError, legacyReplacement, looksLegacy, translateLegacy } from './legacy-kfl.js';

export class FilterError extends Error {
  constructor(
    readonly detail: string,
    readonly source: string,
    /** 0-based offset of the problem in the source, when known. */
    readonly position: number | null,
  ) {
    super(position === null ? detail : `${detail}\n  ${source}\n  ${' '.repeat(position)}^ (column ${position + 1})`);
    this.name = 'FilterError';
  }
}

export interface Filter {
  /** The KFL2 filter evaluated (the translation, when the filter was written in KFL v1). */
  readonly source: string;
  /** The filter as written, when it was KFL v1 and was translated; null otherwise. */
  readonly translatedFrom?: string | null;
  /** What the translation did beyond renaming (empty without a translation). */
  readonly notes?: readonly string[];
  /** Root variables the expression reads (only these are computed per record). */
  readonly roots: readonly string[];
  test(rec: TransactionRecord): boolean;
  /** Records whose evaluation raised an error (a missing map key, say): they do not match. */
  readonly errors: number;
  readonly lastError: string | null;
}

export interface FilterOptions {
  /** Start of the first transaction of the snapshots queried, µs since the epoch (capture_start); the epoch when absent. */
  captureStart?: number | null;
  /** Start of the last transaction of the snapshots queried, µs since the epoch (capture_end); the epoch when absent. */
  captureEnd?: number | null;
  /** Accept and translate KFL v1 (default true). */
  legacy?: boolean;
}

/* ---------------------------------------------------------------- environment */

function makeEnvironment(): Environment {
  const env = new Environment({ homogeneousAggregateLiterals: false });
  for (const t of STRUCT_TYPES) env.registerType(t.name, { ctor: t.ctor, fields: t.fields });
  for (const [root, type] of ROOTS) env.registerVariable(root, type);
  env.registerFunction('map_get(map<string, string>, string, string): string', (m: unknown, k: unknown, d: unknown) => {
    const map = m as Record<string, string> | Map<string, string>;
    const key = k as string;
    if (map instanceof Map) return map.has(key) ? map.get(key) : d;
    return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : d;
  });
  return env;
}

let sharedEnv: Environment | null = null;
function environment(): Environment {
  sharedEnv ??= makeEnvironment();
  return sharedEnv;
}

/** Function signatures by name ("startsWith" → ["string.startsWith(string): bool"]), for error messages. */
let signatures: Map<string, string[]> | null = null;
function functionSignatures(): Map<string, string[]> {
  if (!signatures) {
    signatures = new Map();
    for (const f of environment().getDefinitions().functions) {
      const list = signatures.get(f.name) ?? [];
      list.push(f.signature.replace(/google\.protobuf\.Timestamp/g, 'timestamp').replace(/google\.protobuf\.Duration/g, 'duration'));
      signatures.set(f.name, list);
    }
  }
  return signatures;
}

/* ---------------------------------------------------------------- suggestions */

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

function nearest(name: string, candidates: Array<{ name: string; suggest: string }>, max: number, limit = Math.max(2, Math.floor(name.length / 3))): string[] {
  const scored = candidates.map((c) => {
    const d = distance(name.toLowerCase(), c.name.toLowerCase());
    // A shared tail ("status" in "status_code") counts as close too.
    const contains = c.name.includes(name) || name.includes(c.name) ? 0.5 : 0;
    return { suggest: c.suggest, score: d - contains };
  });
  const out: string[] = [];
  for (const s of scored.filter((x) => x.score <= limit).sort((a, b) => a.score - b.score)) {
    if (!out.includes(s.suggest)) out.push(s.suggest);
    if (out.length === max) break;
  }
  return out;
}

/** KFL2 names close to a misspelt one; KFL v1 names count too, suggesting their KFL2 equivalent. */
export function closeMatches(name: string, max = 3): string[] {
  const candidates = [
    ...VARIABLES.map((v) => ({ name: v.name, suggest: v.name })),
    ...LEGACY_NAMES.filter((l) => /^[\w.]+$/.test(l.v1) && /^[\w.]+$/.test(l.kfl2)).map((l) => ({ name: l.v1, suggest: l.kfl2 })),
  ];
  return nearest(name, candidates, max);
}

function unknownVariable(name: string, source: string, position: number): FilterError {
  const v1 = legacyReplacement(name);
  if (v1) return new FilterError(`unknown variable \`${name}\`: that is KFL v1; KFL2 calls it \`${v1}\``, source, position);
  if (LEGACY_UNSUPPORTED.has(name)) return new FilterError(`unknown variable \`${name}\`: that is KFL v1, and podcap has no equivalent (\`podcap fields\` lists the variables)`, source, position);
  const near = closeMatches(name);
  let hint: string;
  if (near.length) hint = `; did you mean ${near.map((n) => `\`${n}\``).join(', ')}?`;
  else if (position > 0 && source[position - 1] === '-' && /\w/.test(source[position - 2] ?? '')) {
    hint = '; a name with a "-" is looked up with brackets: request.headers["x-api-key"]';
  } else if (/^\w+$/.test(name) && !/^\s*[.(]/.test(source.slice(position + name.length))) {
    hint = `; to compare with text, quote it: "${name}" (\`podcap fields\` lists the variables)`;
  } else hint = '; `podcap fields` lists them all';
  return new FilterError(`unknown variable \`${name}\`${hint}`, source, position);
}

/* ---------------------------------------------------------------- RE2 → JavaScript regexes */

class RegexSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

interface Re2Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v', blank: ' \\t',
  xdigit: '0-9A-Fa-f', word: '\\w', punct: '!-\\/:-@\\[-`{-~', cntrl: '\\x00-\\x1f\\x7f', print: ' -~', graph: '!-~', ascii: '\\x00-\\x7f',
};

function isLetter(c: string): boolean {
  return /^[a-zA-Z]$/.test(c);
}

function swapCase(c: string): string {
  return c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
}

function hexEscape(p: string, i: number): { text: string; end: number } {
  const close = p.indexOf('}', i);
  if (close < 0) throw new RegexSyntaxError('\\x{ is not closed', i);
  const code = parseInt(p.slice(i + 3, close), 16);
  if (!Number.isFinite(code) || code > 0xffff) throw new RegexSyntaxError(`\\x{${p.slice(i + 3, close)}} is out of the range podcap supports (up to \\x{FFFF})`, i);
  return { text: `\\u${code.toString(16).padStart(4, '0')}`, end: close + 1 };
}

/** A bracket class from RE2 to JavaScript: POSIX classes, a leading ], case folding under (?i). */
function readClass(p: string, start: number, fold: boolean): { text: string; end: number } {
  let j = start + 1;
  let out = '[';
  if (p[j] === '^') {
    out += '^';
    j++;
  }
  if (p[j] === ']') {
    out += '\\]';
    j++;
  }
  for (;;) {
    if (j >= p.length) throw new RegexSyntaxError('missing ] to close the character class', start);
    const c = p[j];
    if (c === ']') return { text: `${out}]`, end: j + 1 };
    if (c === '[' && p[j + 1] === ':') {
      const close = p.indexOf(':]', j + 2);
      const name = close < 0 ? '' : p.slice(j + 2, close);
      if (name.startsWith('^')) throw new RegexSyntaxError(`negated POSIX class [:${name}:] is not supported`, j);
      const cls = POSIX_CLASSES[name];
      if (!cls) throw new RegexSyntaxError(`unknown POSIX class [:${name}:]`, j);
      out += fold && (name === 'upper' || name === 'lower') ? 'a-zA-Z' : cls;
      j = close + 2;
      continue;
    }
    if (c === '\\') {
      const n = p[j + 1];
      if (n === undefined) throw new RegexSyntaxError('trailing backslash', j);
      if (n === 'p' || n === 'P') throw new RegexSyntaxError('Unicode classes (\\p) are not supported', j);
      if (n === 'x' && p[j + 2] === '{') {
        const h = hexEscape(p, j);
        out += h.text;
        j = h.end;
        continue;
      }
      out += c + n;
      j += 2;
      continue;
    }
    if (p[j + 1] === '-' && p[j + 2] !== undefined && p[j + 2] !== ']' && p[j + 2] !== '\\') {
      const lo = c;
      const hi = p[j + 2];
      out += `${lo}-${hi}`;
      if (fold && isLetter(lo) && isLetter(hi) && (lo === lo.toLowerCase()) === (hi === hi.toLowerCase())) out += `${swapCase(lo)}-${swapCase(hi)}`;
      j += 3;
      continue;
    }
    out += c;
    if (fold && isLetter(c)) out += swapCase(c);
    j++;
  }
}

/**
 * KFL2's `matches` is RE2 (Go's regexp); cel-js runs JavaScript's RegExp without
 * flags. RE2 syntax JavaScript lacks is rewritten into equivalent JavaScript:
 * flags (?i) (?s) (?m) and (?i:...) groups, \A \z, \Q...\E, [[:alpha:]] classes,
 * (?P<name>...), \x{...}. What has no equivalent (\p classes, ungreedy (?U)) is
 * refused. JavaScript-only syntax (lookaround, backreferences) is accepted.
 */
export function re2ToJs(p: string): string {
  if (!/\(\?|\\[AzQpPCx]|\[:|\[\]|\[\^\]/.test(p)) return p;
  let out = '';
  let f: Re2Flags = { i: false, s: false, m: false };
  const stack: Re2Flags[] = [];
  const literal = (c: string): string => (f.i && isLetter(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c);
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw new RegexSyntaxError('trailing backslash', i);
      if (n === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        const text = end < 0 ? p.slice(i + 2) : p.slice(i + 2, end);
        out += [...text].map((ch) => (/[\\^$.|?*+()[\]{}/-]/.test(ch) ? `\\${ch}` : literal(ch))).join('');
        i = end < 0 ? p.length : end + 2;
        continue;
      }
      if (n === 'A') out += '^';
      else if (n === 'z') out += '$';
      else if (n === 'p' || n === 'P') throw new RegexSyntaxError('Unicode classes (\\p) are not supported', i);
      else if (n === 'C') throw new RegexSyntaxError('\\C (any byte) is not supported', i);
      else if (n === 'x' && p[i + 2] === '{') {
        const h = hexEscape(p, i);
        out += h.text;
        i = h.end;
        continue;
      } else out += c + n;
      i += 2;
      continue;
    }
    if (c === '[') {
      const cls = readClass(p, i, f.i);
      out += cls.text;
      i = cls.end;
      continue;
    }
    if (c === '(') {
      const flags = /^\(\?([imsU]*)(?:-([imsU]*))?([):])/.exec(p.slice(i));
      if (flags && (flags[1] !== '' || flags[2] !== undefined)) {
        const nf = { ...f };
        for (const [set, on] of [[flags[1], true], [flags[2] ?? '', false]] as const) {
          for (const ch of set) {
            if (ch === 'U') throw new RegexSyntaxError('ungreedy mode (?U) is not supported', i);
            nf[ch as keyof Re2Flags] = on;
          }
        }
        i += flags[0].length;
        if (flags[3] === ')') f = nf;
        else {
          stack.push(f);
          f = nf;
          out += '(?:';
        }
        continue;
      }
      const opener = /^\((?:\?P?<[A-Za-z_]\w*>|\?<=|\?<!|\?[:=!])?/.exec(p.slice(i))![0];
      stack.push(f);
      out += opener.replace('?P<', '?<');
      i += opener.length;
      continue;
    }
    if (c === ')') {
      if (stack.length === 0) throw new RegexSyntaxError('unbalanced )', i);
      f = stack.pop()!;
      out += ')';
      i++;
      continue;
    }
    if (c === '{') {
      const q = /^\{\d+(,\d*)?\}/.exec(p.slice(i));
      out += q ? q[0] : '\\{';
      i += q ? q[0].length : 1;
      continue;
    }
    if (c === '.') out += f.s ? '[\\s\\S]' : '.';
    else if (c === '^') out += f.m ? '(?:^|(?<=\\n))' : '^';
    else if (c === '$') out += f.m ? '(?:$|(?=\\n))' : '$';
    else out += literal(c);
    i++;
  }
  return out;
}

/** The JavaScript pattern for an RE2 pattern, checked; throws RegexSyntaxError. */
function checkedRegex(pattern: string): string {
  const js = re2ToJs(pattern);
  try {
    new RegExp(js);
  } catch (err) {
    const m = /: ([^:]+)$/.exec((err as Error).message);
    throw new RegexSyntaxError(m ? m[1].toLowerCase() : (err as Error).message, 0);
  }
  return js;
}

/* ---------------------------------------------------------------- inspection of the parsed filter */

function dottedName(node: ASTNode): string | null {
  if (node.op === 'id') return node.args;
  if (node.op === '.') {
    const base = dottedName(node.args[0]);
    return base === null ? null : `${base}.${node.args[1]}`;
  }
  return null;
}

const MAP_VARIABLES: ReadonlySet<string> = new Set(VARIABLES.filter((v) => v.type.startsWith('map')).map((v) => v.name));

function isKnownPath(path: string): boolean {
  if (VARIABLE_NAMES.has(path)) return true;
  // A prefix of known names ("src.pod") is an object; a name past a map variable is a key lookup.
  for (const name of VARIABLE_NAMES) {
    if (name.startsWith(`${path}.`)) return true;
    if (path.startsWith(`${name}.`) && MAP_VARIABLES.has(name)) return true;
  }
  return false;
}

const MACROS: Record<string, string> = {
  exists: 'list.exists(x, condition): pods.exists(p, p.startsWith("checkout"))',
  all: 'list.all(x, condition): notes.all(n, !n.contains("gap"))',
  exists_one: 'list.exists_one(x, condition): dns_answers.exists_one(a, a.startsWith("10."))',
  filter: 'list.filter(x, condition): dns_answers.filter(a, a.startsWith("10.")).size() > 1',
  map: 'list.map(x, value): pods.map(p, p.size()).exists(n, n > 40)',
};

interface Edit {
  start: number;
  end: number;
  text: string;
}

interface Inspection {
  roots: Set<string>;
  edits: Edit[];
  notes: Set<string>;
}

/** Where `name` starts in `source` after `from` (a method name after its receiver). */
function nameAfter(source: string, name: string, from: number): number {
  const i = source.indexOf(name, from);
  return i < 0 ? from : i;
}

/** Check dotted names and macros, validate literal regexes and dates, collect the edits (lowered keys, RE2 patterns). */
function inspect(node: ASTNode, source: string, out: Inspection): void {
  const lowerLiteral = (lit: ASTNode, map: ASTNode): void => {
    const name = dottedName(map);
    if (name && CASE_INSENSITIVE_MAPS.has(name) && lit.op === 'value' && typeof lit.args === 'string' && lit.args !== lit.args.toLowerCase()) {
      out.edits.push({ start: lit.range.start, end: lit.range.end, text: JSON.stringify(lit.args.toLowerCase()) });
    }
  };
  switch (node.op) {
    case 'id':
      if (ROOTS.has(node.args)) out.roots.add(node.args);
      return;
    case '.':
    case '.?': {
      const path = dottedName(node);
      if (path !== null) {
        const root = path.slice(0, path.indexOf('.'));
        if (STRUCT_ROOTS.has(root)) {
          out.roots.add(root);
          if (!isKnownPath(path)) throw unknownVariable(path, source, node.range.start);
          const parent = path.slice(0, path.lastIndexOf('.'));
          const field = node.args[1] as string;
          // request.headers.Authorization, has(request.headers.Authorization)
          if (CASE_INSENSITIVE_MAPS.has(parent) && field !== field.toLowerCase()) {
            out.edits.push({ start: node.range.end - field.length, end: node.range.end, text: field.toLowerCase() });
          }
          return;
        }
      }
      inspect(node.args[0], source, out);
      return;
    }
    case '[]':
    case '[?]':
      lowerLiteral(node.args[1], node.args[0]);
      break;
    case 'in':
      lowerLiteral(node.args[0], node.args[1]);
      break;
    case 'call': {
      const [name, args] = node.args as [string, ASTNode[]];
      if (name === 'map_get' && args.length >= 2) lowerLiteral(args[1], args[0]);
      // KFL2's now() is the time the filter is created; offline, the end of the capture.
      if (name === 'now' && args.length === 0) {
        out.roots.add('capture_end');
        out.notes.add('now() is the end of the capture (capture_end): podcap reads recorded traffic');
        out.edits.push({ start: node.range.start, end: node.range.end, text: 'capture_end' });
        return;
      }
      if ((name === 'timestamp' || name === 'duration') && args.length === 1 && args[0].op === 'value' && typeof args[0].args === 'string') {
        checkTimeLiteral(name, args[0], source);
      }
      break;
    }
    case 'rcall': {
      const [name, receiver, args] = node.args as [string, ASTNode, ASTNode[]];
      if (MACROS[name] && (args.length < 2 || args.length > (name === 'map' ? 3 : 2) || args[0].op !== 'id')) {
        throw new FilterError(`\`${name}\` takes a variable name and an expression: ${MACROS[name]}`, source, nameAfter(source, name, receiver.range.end));
      }
      if (name === 'matches' && args.length === 1 && args[0].op === 'value' && typeof args[0].args === 'string') {
        const lit = args[0];
        let js: string;
        try {
          js = checkedRegex(lit.args as string);
        } catch (err) {
          if (!(err instanceof RegexSyntaxError)) throw err;
          throw new FilterError(`invalid regular expression ${JSON.stringify(lit.args)}: ${err.message}`, source, lit.range.start);
        }
        if (js !== lit.args) out.edits.push({ start: lit.range.start, end: lit.range.end, text: JSON.stringify(js) });
      }
      break;
    }
    default:
      break;
  }
  // Operands are a node (unary operators), or arrays of nodes nested up to two deep (calls, map entries).
  visit(node.args, source, out);
}

function visit(x: unknown, source: string, out: Inspection): void {
  if (x && typeof x === 'object' && 'op' in x && 'args' in x) inspect(x as ASTNode, source, out);
  else if (Array.isArray(x)) for (const y of x) visit(y, source, out);
}

function checkTimeLiteral(name: 'timestamp' | 'duration', lit: ASTNode, source: string): void {
  try {
    environment().evaluate(`${name}(${JSON.stringify(lit.args)})`, {});
  } catch {
    const expected = name === 'timestamp'
      ? 'a date and time in RFC 3339, e.g. timestamp("2026-11-20T10:00:00Z")'
      : 'a duration like duration("1h30m"), duration("250ms"), duration("90s")';
    throw new FilterError(`${JSON.stringify(lit.args)} is not a ${name}: ${expected}`, source, lit.range.start);
  }
}

/* ---------------------------------------------------------------- error messages */

interface CelError {
  code?: string;
  range?: { start: number; end: number };
  node?: ASTNode;
  message: string;
}

function typeName(t: string): string {
  return t.replace(/google\.protobuf\.Timestamp/g, 'timestamp').replace(/google\.protobuf\.Duration/g, 'duration').replace(/podcap\.([\w.]+)/g, '$1 (a group of fields)');
}

/** What to write instead, for an operator applied to the wrong types. */
function typeAdvice(left: string, right: string): string {
  const pair = new Set([left, right]);
  const has = (t: string): boolean => pair.has(t);
  if (has('timestamp') && has('string')) return 'write the date as timestamp("2026-11-20T10:00:00Z")';
  if (has('timestamp') && has('int')) return 'write the date as timestamp("2026-11-20T10:00:00Z"), or a span like capture_end - duration("1h")';
  if (has('duration') && has('int')) return 'elapsed_time is a number of microseconds: elapsed_time > 1500000, or compare durations with duration("1.5s")';
  if (has('int') && has('double')) return 'CEL does not compare int and double for equality: write 1 rather than 1.0';
  if (has('int') && has('string')) return 'write numbers without quotes (status_code == 500) and text in quotes (method == "GET")';
  if (has('bool') && has('string')) return 'true and false are written without quotes';
  if (has('list<string>') || has('map<string, string>')) return 'test membership with `in` ("x" in namespaces) or look a key up with map["key"]';
  return 'compare like with like: 500 for numbers, "text" for strings';
}

/** The lexeme at a position, for messages. */
function lexemeAt(source: string, pos: number): string {
  const m = /^(\w+|"[^"]*"?|'[^']*'?|&&|\|\||[=!<>]=|\S)/.exec(source.slice(pos));
  return m ? m[0] : '';
}

const TOKEN_TEXT: Record<string, string> = {
  RPAREN: ')', LPAREN: '(', RBRACKET: ']', LBRACKET: '[', RBRACE: '}', LBRACE: '{', COLON: ':', COMMA: ',', QUESTION: '?', DOT: '.',
  EQ: '==', NE: '!=', LT: '<', LE: '<=', GT: '>', GE: '>=', AND: '&&', OR: '||', PLUS: '+', MINUS: '-', MULTIPLY: '*', DIVIDE: '/', MODULO: '%', IN: 'in', NOT: '!',
};

/** The opening bracket left unclosed at the end of the source. */
function unclosed(source: string, open: string, close: string): number | null {
  const stack: number[] = [];
  let quote: string | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === open) stack.push(i);
    else if (c === close) stack.pop();
  }
  return stack.length ? stack[stack.length - 1] : null;
}

function parseFailure(e: CelError, source: string): FilterError {
  const first = e.message.split('\n')[0];
  const pos = e.range ? e.range.start : null;
  switch (e.code) {
    case 'unterminated_string':
    case 'unterminated_triple_quoted_string':
      return new FilterError(`unterminated string: the closing ${source[pos ?? 0] === "'" ? "'" : '"'} is missing`, source, pos);
    case 'expected_token': {
      const m = /^Expected (\w+), got (\w+)/.exec(first);
      const want = m ? m[1] : '';
      const got = m ? (m[2] === 'EOF' ? 'the end of the filter' : `\`${TOKEN_TEXT[m[2]] ?? lexemeAt(source, pos ?? 0)}\``) : 'something else';
      if (want === 'RPAREN') {
        const open = unclosed(source, '(', ')');
        return new FilterError(`${open !== null ? `\`(\` at column ${open + 1} is not closed: ` : ''}\`)\` expected, found ${got}`, source, pos);
      }
      if (want === 'RBRACKET') {
        const open = unclosed(source, '[', ']');
        return new FilterError(`${open !== null ? `\`[\` at column ${open + 1} is not closed: ` : ''}\`]\` expected, found ${got}`, source, pos);
      }
      if (want === 'COLON') return new FilterError(`\`:\` expected, found ${got}: a conditional is written condition ? value : other`, source, pos);
      if (want === 'IDENTIFIER') return new FilterError(`a name expected after \`.\`, found ${got}`, source, pos);
      return new FilterError(`\`${TOKEN_TEXT[want] ?? want.toLowerCase()}\` expected, found ${got}`, source, pos);
    }
    case 'unexpected_token': {
      if (/EOF/.test(first)) return new FilterError('the filter ends too early: an operand or a closing parenthesis is expected', source, pos);
      const at = pos ?? 0;
      const lex = lexemeAt(source, at);
      if (lex === ')' && source.slice(0, at).trimEnd().endsWith('(')) return new FilterError('empty parentheses: an expression is expected inside', source, at);
      return new FilterError(`an operand (a variable, a value or a parenthesis) expected, found \`${lex}\``, source, at);
    }
    case 'unexpected_character': {
      const at = pos ?? 0;
      const lex = lexemeAt(source, at);
      if (/^Unexpected character: '/.test(first)) {
        // The expression was complete and something followed it.
        if (lex === ')') return new FilterError('unbalanced `)`: no parenthesis is open', source, at);
        return new FilterError(`an operator (&&, ||, ==, ...) or the end of the filter expected, found \`${lex}\``, source, at);
      }
      if (source[at] === '=') return new FilterError('a single `=`: compare with `==`', source, at);
      if (source[at] === '&' || source[at] === '|') return new FilterError(`\`${source[at]}\` alone is not an operator: write \`${source[at]}${source[at]}\``, source, at);
      return new FilterError(`unexpected character \`${source[at]}\``, source, at);
    }
    default:
      return new FilterError(first.charAt(0).toLowerCase() + first.slice(1), source, pos);
  }
}

function checkFailure(e: CelError, source: string): FilterError {
  const first = e.message.split('\n')[0];
  const pos = e.range ? e.range.start : null;
  const node = e.node;
  switch (e.code) {
    case 'unknown_variable':
      if (e.range) return unknownVariable(source.slice(e.range.start, e.range.end), source, e.range.start);
      break;
    case 'no_such_overload': {
      const bin = /^no such overload: (.+?) (\S+) (.+)$/.exec(first);
      if (bin && node && Array.isArray(node.args) && node.args.length === 2) {
        const [, left, op, right] = bin;
        const l = node.args[0] as ASTNode;
        let at = l.range.end;
        while (/\s/.test(source[at] ?? '')) at++;
        return new FilterError(`\`${op}\` cannot compare ${typeName(left)} with ${typeName(right)}: ${typeAdvice(typeName(left), typeName(right))}`, source, at);
      }
      const un = /^no such overload: ([!-])(.+)$/.exec(first);
      if (un) {
        const what = un[1] === '!' ? 'true or false' : 'a number';
        return new FilterError(`\`${un[1]}\` needs ${what}, not ${typeName(un[2])}`, source, pos);
      }
      break;
    }
    case 'no_matching_overload': {
      const m = /found no matching overload for '(?:(.+)\.)?(\w+)\((.*)\)'/.exec(first);
      if (m && node) {
        const [, receiver, name, args] = m;
        const known = functionSignatures().get(name);
        const at = node.op === 'rcall' ? nameAfter(source, name, (node.args[1] as ASTNode).range.end) : node.range.start;
        if (!known) {
          const names = [...functionSignatures().keys()].filter((n) => n.length > 2 && /^[a-z]/i.test(n));
          const near = nearest(name, names.map((n) => ({ name: n, suggest: n })), 3, Math.max(1, Math.floor(name.length / 4)));
          return new FilterError(`unknown function \`${name}\`${near.length ? `; did you mean ${near.map((n) => `\`${n}\``).join(', ')}?` : ''}`, source, at);
        }
        const call = `${receiver ? `${typeName(receiver)}.` : ''}${name}(${typeName(args)})`;
        return new FilterError(`\`${name}\` cannot be called as ${call}; it takes ${known.slice(0, 4).join(' or ')}`, source, at);
      }
      break;
    }
    case 'invalid_logical_operand': {
      const m = /got '(.+)'$/.exec(first);
      return new FilterError(`\`&&\`, \`||\` and \`!\` need true or false, not ${typeName(m ? m[1] : 'this')}: compare it (path != "", status_code > 0)`, source, pos);
    }
    case 'invalid_condition_type':
      return new FilterError(`the condition before \`?\` must be true or false, not ${typeName(/got '(.+)'$/.exec(first)?.[1] ?? 'this')}`, source, pos);
    case 'invalid_macro_argument':
      if (/^has\(\)/.test(first)) return new FilterError('has() takes a field: has(src.pod.name), has(request.headers.authorization)', source, pos);
      break;
    case 'cannot_index_type':
      if (node?.op === '.') {
        const field = node.args[1] as string;
        return new FilterError(`\`${field}\` is not a field of ${typeName(/'(.+)'/.exec(first)?.[1] ?? 'this value')}: functions are called with parentheses, e.g. .${field}()`, source, nameAfter(source, field, (node.args[0] as ASTNode).range.end));
      }
      return new FilterError(`${first.charAt(0).toLowerCase()}${first.slice(1)}: only lists and maps take [ ]`, source, pos);
    default:
      break;
  }
  return new FilterError(first.charAt(0).toLowerCase() + first.slice(1), source, pos);
}

/* ---------------------------------------------------------------- compilation */

type Program = ReturnType<Environment['parse']>;

function parse(env: Environment, source: string): Program {
  try {
    return env.parse(source);
  } catch (err) {
    throw parseFailure(err as CelError, source);
  }
}

function editedText(text: string, edits: Edit[]): string {
  let edited = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) edited = edited.slice(0, e.start) + e.text + edited.slice(e.end);
  return edited;
}

/** Parse, inspect and type-check one KFL2 filter. Throws FilterError. */
function compileKfl2(text: string): { program: Program; roots: string[]; notes: string[] } {
  const env = environment();
  let program = parse(env, text);
  const found: Inspection = { roots: new Set(), edits: [], notes: new Set() };
  inspect(program.ast, text, found);
  if (found.edits.length > 0) program = parse(env, editedText(text, found.edits));
  const check = program.check();
  if (!check.valid) {
    // Positions in the edited text differ from the user's only after an edit; the check is redone on the text as written for them.
    const err = check.error as unknown as CelError;
    if (found.edits.length > 0) {
      const original = parse(env, text).check();
      if (!original.valid && (original.error as unknown as CelError).code === err.code) throw checkFailure(original.error as unknown as CelError, text);
      throw checkFailure(err, editedText(text, found.edits));
    }
    throw checkFailure(err, text);
  }
  if (check.type !== 'bool' && check.type !== 'dyn') {
    throw new FilterError(`a filter must be true or false, but this one is of type ${typeName(String(check.type))}`, text, 0);
  }
  return { program, roots: [...found.roots], notes: [...found.notes] };
}

function usToDate(us: number | null | undefined): Date {
  return new Date(us === null || us === undefined ? 0 : Math.floor(us / 1000));
}

function build(text: string, compiled: { program: Program; roots: string[]; notes: string[] }, translatedFrom: string | null, translationNotes: string[], q: QueryContext): Filter {
  const { program, roots } = compiled;
  const notes = [...translationNotes, ...compiled.notes];
  const state = { errors: 0, lastError: null as string | null };
  return {
    source: text,
    translatedFrom,
    notes,
    roots,
    get errors() { return state.errors; },
    get lastError() { return state.lastError; },
    test(rec: TransactionRecord): boolean {
      const ctx: Record<string, unknown> = {};
      for (const r of roots) ctx[r] = rootValue(r, rec, q);
      try {
        return program(ctx) === true;
      } catch (err) {
        state.errors++;
        state.lastError = (err as Error).message.split('\n')[0];
        return false;
      }
    },
  };
}

/**
 * Compile a filter; an empty one matches everything. A KFL v1 filter (its
 * `and`/`or`/`not`, `== r"regex"`, or v1 names where KFL2 fails) is translated
 * to KFL2: the result's translatedFrom and notes say so. Throws FilterError.
 */
export function compileFilter(source: string, body: BodyText, opts: FilterOptions = {}): Filter {
  const text = source.trim();
  const q: QueryContext = { body, captureStart: usToDate(opts.captureStart), captureEnd: usToDate(opts.captureEnd) };
  if (text === '') return build('', { program: (() => true) as unknown as Program, roots: [], notes: [] }, null, [], q);
  const legacy = opts.legacy !== false;

  if (legacy && looksLegacy(text)) {
    let tr;
    try {
      tr = translateLegacy(text);
    } catch (err) {
      if (err instanceof LegacyError) throw new FilterError(`${err.detail} (KFL v1 filter)`, text, err.position);
      throw err;
    }
    let compiled;
    try {
      compiled = compileKfl2(tr.translated);
    } catch (err) {
      if (err instanceof FilterError) throw new FilterError(`${err.detail} (in the KFL2 translation of this KFL v1 filter: ${text})`, err.source, err.position);
      throw err;
    }
    return build(tr.translated, compiled, text, tr.notes, q);
  }

  try {
    return build(text, compileKfl2(text), null, [], q);
  } catch (err) {
    if (!(err instanceof FilterError) || !legacy) throw err;
    // KFL v1 that parses as CEL (`response.status >= 400`, `timestamp > 1700000000000`): translated if that works.
    let tr;
    try {
      tr = translateLegacy(text);
    } catch (terr) {
      if (terr instanceof LegacyError && terr.v1only) throw new FilterError(`${terr.detail} (KFL v1 filter)`, text, terr.position);
      throw err;
    }
    if (!tr.changed || !tr.legacy) throw err;
    let compiled;
    try {
      compiled = compileKfl2(tr.translated);
    } catch {
      throw err;
    }
    return build(tr.translated, compiled, text, tr.notes, q);
  }
}
