/**
 * Compiling a KFL2 filter: CEL parsed and type-checked by @marcbachmann/cel-js
 * against podcap's variables, dotted names checked against the catalogue (CEL
 * cannot see inside map-typed roots like `src`), header keys lowered so that
 * `request.headers["Authorization"]` matches, and errors that point at the
 * offending column with the names the user probably meant.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import type { TransactionRecord } from '../dissect/record.js';
import { CASE_INSENSITIVE_MAPS, ROOTS, VARIABLES, VARIABLE_NAMES, rootValue, type BodyText } from './variables.js';

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
  readonly source: string;
  /** Root variables the expression reads (only these are computed per record). */
  readonly roots: readonly string[];
  test(rec: TransactionRecord): boolean;
  /** Records whose evaluation raised an error (a missing map key, say): they do not match. */
  readonly errors: number;
  readonly lastError: string | null;
}

function makeEnvironment(): Environment {
  const env = new Environment({ homogeneousAggregateLiterals: false });
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

export function closeMatches(name: string, max = 3): string[] {
  const scored = VARIABLES.map((v) => {
    const d = distance(name.toLowerCase(), v.name.toLowerCase());
    // A shared tail ("status" in "status_code") counts as close too.
    const contains = v.name.includes(name) || name.includes(v.name) ? 0.5 : 0;
    return { name: v.name, score: d - contains };
  });
  const limit = Math.max(2, Math.floor(name.length / 3));
  return scored.filter((s) => s.score <= limit).sort((a, b) => a.score - b.score).slice(0, max).map((s) => s.name);
}

function unknownVariable(name: string, source: string, position: number): FilterError {
  const near = closeMatches(name);
  const hint = near.length ? `; did you mean ${near.map((n) => `\`${n}\``).join(', ')}?` : '; `podcap fields` lists them all';
  return new FilterError(`unknown variable \`${name}\`${hint}`, source, position);
}

function dottedName(node: ASTNode): string | null {
  if (node.op === 'id') return node.args;
  if (node.op === '.') {
    const base = dottedName(node.args[0]);
    return base === null ? null : `${base}.${node.args[1]}`;
  }
  return null;
}

function isKnownPath(path: string): boolean {
  if (VARIABLE_NAMES.has(path)) return true;
  // A prefix of known names ("src.pod") is a map; a name past a map variable is a key lookup.
  for (const name of VARIABLE_NAMES) {
    if (name.startsWith(`${path}.`)) return true;
    if (path.startsWith(`${name}.`) && VARIABLES.find((v) => v.name === name)!.type.startsWith('map')) return true;
  }
  return false;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Check dotted names under map roots and collect the literal header keys to lower. */
function inspect(node: ASTNode, source: string, roots: Set<string>, edits: Edit[]): void {
  const lowerLiteral = (lit: ASTNode, map: ASTNode): void => {
    const name = dottedName(map);
    if (name && CASE_INSENSITIVE_MAPS.has(name) && lit.op === 'value' && typeof lit.args === 'string' && lit.args !== lit.args.toLowerCase()) {
      const text = source.slice(lit.range.start, lit.range.end);
      edits.push({ start: lit.range.start, end: lit.range.end, text: text.toLowerCase() });
    }
  };
  switch (node.op) {
    case 'id':
      if (ROOTS.has(node.args)) roots.add(node.args);
      return;
    case '.':
    case '.?': {
      const path = dottedName(node);
      if (path !== null) {
        const root = path.slice(0, path.indexOf('.'));
        if (ROOTS.get(root) === 'map<string, dyn>') {
          roots.add(root);
          if (!isKnownPath(path)) throw unknownVariable(path, source, node.range.start);
          return;
        }
      }
      inspect(node.args[0], source, roots, edits);
      return;
    }
    case '[]':
    case '[?]':
      lowerLiteral(node.args[1], node.args[0]);
      break;
    case 'in':
      lowerLiteral(node.args[0], node.args[1]);
      break;
    case 'call':
      if (node.args[0] === 'map_get' && node.args[1].length >= 2) lowerLiteral(node.args[1][1], node.args[1][0]);
      break;
    default:
      break;
  }
  // Operands are a node (unary operators), or arrays of nodes nested up to two deep (calls, map entries).
  visit(node.args, source, roots, edits);
}

function visit(x: unknown, source: string, roots: Set<string>, edits: Edit[]): void {
  if (x && typeof x === 'object' && 'op' in x && 'args' in x) inspect(x as ASTNode, source, roots, edits);
  else if (Array.isArray(x)) for (const y of x) visit(y, source, roots, edits);
}

interface CelError {
  code?: string;
  range?: { start: number; end: number };
  message: string;
}

function toFilterError(err: unknown, source: string): FilterError {
  const e = err as CelError;
  const first = e.message.split('\n')[0];
  const pos = e.range ? e.range.start : null;
  if (e.code === 'unknown_variable' && e.range) return unknownVariable(source.slice(e.range.start, e.range.end), source, e.range.start);
  if (e.code === 'no_such_overload') return new FilterError(`${first} (compare like with like: 500 for numbers, "text" for strings)`, source, pos);
  if (e.code === 'unexpected_token' && /EOF/.test(first)) return new FilterError('the filter ends too early: an operand or a closing parenthesis is expected', source, pos);
  return new FilterError(first.charAt(0).toLowerCase() + first.slice(1), source, pos);
}

function parseChecked(env: Environment, source: string): ReturnType<Environment['parse']> {
  let program: ReturnType<Environment['parse']>;
  try {
    program = env.parse(source);
  } catch (err) {
    throw toFilterError(err, source);
  }
  return program;
}

/** Compile a filter; an empty one matches everything. Throws FilterError. */
export function compileFilter(source: string, body: BodyText): Filter {
  const text = source.trim();
  if (text === '') {
    return { source: '', roots: [], errors: 0, lastError: null, test: () => true };
  }
  const env = environment();
  let program = parseChecked(env, text);
  const roots = new Set<string>();
  const edits: Edit[] = [];
  inspect(program.ast, text, roots, edits);
  let checkedText = text;
  if (edits.length > 0) {
    edits.sort((a, b) => b.start - a.start);
    for (const e of edits) checkedText = checkedText.slice(0, e.start) + e.text + checkedText.slice(e.end);
    program = parseChecked(env, checkedText);
  }
  const check = program.check();
  if (!check.valid) throw toFilterError(check.error, text);
  if (check.type !== 'bool' && check.type !== 'dyn') {
    throw new FilterError(`a filter must be true or false, but this one is of type ${check.type}`, text, 0);
  }
  const rootList = [...roots];
  const state = { errors: 0, lastError: null as string | null };
  return {
    source: text,
    roots: rootList,
    get errors() { return state.errors; },
    get lastError() { return state.lastError; },
    test(rec: TransactionRecord): boolean {
      const ctx: Record<string, unknown> = {};
      for (const r of rootList) ctx[r] = rootValue(r, rec, body);
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
