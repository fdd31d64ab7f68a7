/**
 * Query planning: the parts of a filter the summary's indexes can answer.
 *
 * A filter's top-level conjuncts that compare an indexed variable with a constant
 * (protocol flags, status_code, failed, method, path and its prefixes, namespaces,
 * workloads, services, pods, gRPC service and method, DNS names), bound the time
 * (timestamp against a constant, capture_end - duration(...) included) or the
 * latency (elapsed_time against a constant) become index lookups; the rest is left
 * to the full evaluation of each candidate record. When nothing is indexable the
 * plan is a scan in time order, bounded by the time terms if any.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import type { IndexField } from '../store/summary.js';

/** One indexable condition: rows whose field has one of the values, or a value in the range. */
export interface IndexTerm {
  field: IndexField;
  values?: Array<string | number>;
  range?: [string | number, string | number];
}

/** A conjunct: all of `all`, or any of `any` (for `"x" in namespaces`: src or dst). */
export type PlanTerm = { all: IndexTerm } | { any: IndexTerm[] };

export interface ColumnTerm {
  column: 'elapsed';
  op: '<' | '<=' | '>' | '>=' | '==';
  /** Microseconds, as KFL2's elapsed_time. */
  value: number;
}

export interface Plan {
  terms: PlanTerm[];
  columns: ColumnTerm[];
  /** Time bounds, µs since the epoch, inclusive. */
  from: number | null;
  to: number | null;
  /** The terms, columns and bounds express the whole filter: no record needs evaluating. */
  exact: boolean;
  /** What was used, for `--explain` and tests. */
  used: string[];
}

export interface PlanContext {
  captureStart: number | null;
  captureEnd: number | null;
}

const EQUALITY_FIELDS: Record<string, IndexField> = {
  status_code: 'status',
  method: 'method',
  path: 'path',
  'src.namespace': 'src.ns',
  'dst.namespace': 'dst.ns',
  'src.workload.name': 'src.wl',
  'dst.workload.name': 'dst.wl',
  'src.service.name': 'src.svc',
  'dst.service.name': 'dst.svc',
  'src.pod.name': 'src.pod',
  'dst.pod.name': 'dst.pod',
  grpc_service: 'grpc.svc',
  grpc_method: 'grpc.method',
};

/** Variables naming a list of both ends' values, and the two per-end fields they stand for. */
const EITHER_END: Record<string, [IndexField, IndexField]> = {
  namespaces: ['src.ns', 'dst.ns'],
  pods: ['src.pod', 'dst.pod'],
  services: ['src.svc', 'dst.svc'],
};

const PROTOCOL_FLAGS: Record<string, string[]> = {
  http: ['http', 'http2', 'grpc'],
  grpc: ['grpc'],
  dns: ['dns'],
};

const PROTOCOL_LABELS: Record<string, string> = { HTTP: 'http', 'HTTP/2': 'http2', gRPC: 'grpc', DNS: 'dns' };

let constEnv: Environment | null = null;
/** Constant sub-expressions may use the capture's bounds and CEL's functions, nothing of a record. */
function constantEnvironment(): Environment {
  if (!constEnv) {
    constEnv = new Environment({ homogeneousAggregateLiterals: false });
    constEnv.registerVariable('capture_start', 'google.protobuf.Timestamp');
    constEnv.registerVariable('capture_end', 'google.protobuf.Timestamp');
  }
  return constEnv;
}

function dotted(node: ASTNode): string | null {
  if (node.op === 'id') return node.args;
  if (node.op === '.') {
    const base = dotted(node.args[0]);
    return base === null ? null : `${base}.${node.args[1]}`;
  }
  return null;
}

function literal(node: ASTNode): string | number | null {
  if (node.op !== 'value') return null;
  const v = node.args;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return v;
  return null;
}

/** Whether a node reads nothing of a record: only literals, functions, and the capture's bounds. */
function isConstant(node: ASTNode): boolean {
  if (node.op === 'id') return node.args === 'capture_start' || node.args === 'capture_end';
  if (node.op === 'value') return true;
  if (node.op === '.' || node.op === '.?') return false;
  const visit = (x: unknown): boolean => {
    if (Array.isArray(x)) return x.every(visit);
    if (x && typeof x === 'object' && 'op' in x) return isConstant(x as ASTNode);
    return true;
  };
  return visit(node.args);
}

/** The value of a constant node, as a number of µs for timestamps; null when it cannot be had. */
function constantMicros(node: ASTNode, source: string, ctx: PlanContext): number | null {
  if (!isConstant(node)) return null;
  try {
    const text = source.slice(node.range.start, node.range.end);
    const v: unknown = constantEnvironment().evaluate(text, {
      capture_start: new Date((ctx.captureStart ?? 0) / 1000),
      capture_end: new Date((ctx.captureEnd ?? 0) / 1000),
    });
    if (v instanceof Date) return v.getTime() * 1000;
    return null;
  } catch {
    return null;
  }
}

const FLIP: Record<string, '<' | '<=' | '>' | '>=' | '=='> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==' };

function conjuncts(node: ASTNode): ASTNode[] {
  return node.op === '&&' ? [...conjuncts(node.args[0]), ...conjuncts(node.args[1])] : [node];
}

/** A term the indexes answer exactly, or null. */
function planTerm(n: ASTNode, source: string, ctx: PlanContext, plan: Plan): boolean {
  if (n.op === 'id') {
    const flag = PROTOCOL_FLAGS[n.args];
    if (flag) return add(plan, { all: { field: 'proto', values: flag } }, n.args);
    if (n.args === 'failed') return add(plan, { all: { field: 'failed', values: [1] } }, 'failed');
    return false;
  }
  if (n.op === '!_' && n.args.op === 'id' && n.args.args === 'failed') return add(plan, { all: { field: 'failed', values: [0] } }, '!failed');
  if (n.op === 'rcall' && n.args[0] === 'startsWith' && dotted(n.args[1]) === 'path' && n.args[2].length === 1) {
    const prefix = literal(n.args[2][0]);
    if (typeof prefix === 'string') return add(plan, { all: { field: 'path', range: [prefix, `${prefix}\uffff`] } }, `path prefix ${prefix}`);
    return false;
  }
  if (n.op === 'in') {
    const [lhs, rhs] = n.args;
    const v = literal(lhs);
    const list = dotted(rhs);
    if (typeof v === 'string' && list && EITHER_END[list]) {
      const [a, b] = EITHER_END[list];
      return add(plan, { any: [{ field: a, values: [v] }, { field: b, values: [v] }] }, `${list} ∋ ${v}`);
    }
    if (typeof v === 'string' && list === 'dns_questions') return add(plan, { all: { field: 'dns.name', values: [v.toLowerCase()] } }, `dns question ${v}`);
    const field = dotted(lhs);
    if (field && EQUALITY_FIELDS[field] && rhs.op === 'list') {
      const values = rhs.args.map(literal);
      if (values.every((x) => x !== null)) return add(plan, { all: { field: EQUALITY_FIELDS[field], values: values as Array<string | number> } }, `${field} in list`);
    }
    return false;
  }
  if (n.op === '==' || n.op === '<' || n.op === '<=' || n.op === '>' || n.op === '>=') {
    let [lhs, rhs] = n.args;
    let op = n.op;
    if (dotted(lhs) === null && dotted(rhs) !== null) {
      [lhs, rhs] = [rhs, lhs];
      op = FLIP[op];
    }
    const name = dotted(lhs);
    if (name === null) return false;
    if (name === 'timestamp') {
      const t = constantMicros(rhs, source, ctx);
      if (t === null) return false;
      // Timestamps carry fractions of µs; bounds are kept inclusive and the full filter settles strictness.
      if (op === '>' || op === '>=') plan.from = plan.from === null ? t : Math.max(plan.from, t);
      else if (op === '<' || op === '<=') plan.to = plan.to === null ? t : Math.min(plan.to, t);
      else return false;
      plan.used.push(`time ${op} ${new Date(t / 1000).toISOString()}`);
      return op === '>=' || op === '<=';
    }
    const v = literal(rhs);
    if (v === null) return false;
    if (name === 'elapsed_time' && typeof v === 'number') {
      plan.columns.push({ column: 'elapsed', op, value: v });
      plan.used.push(`elapsed ${op} ${v}µs`);
      return true;
    }
    if (name === 'protocol' && op === '==' && typeof v === 'string' && PROTOCOL_LABELS[v]) {
      return add(plan, { all: { field: 'proto', values: [PROTOCOL_LABELS[v]] } }, `protocol ${v}`);
    }
    const field = EQUALITY_FIELDS[name];
    if (!field) return false;
    if (op === '==') return add(plan, { all: { field, values: [v] } }, `${name} == ${v}`);
    if (field === 'status' && typeof v === 'number') {
      const lo = op === '>' ? v + 1 : op === '>=' ? v : -Infinity;
      const hi = op === '<' ? v - 1 : op === '<=' ? v : Infinity;
      return add(plan, { all: { field, range: [lo, hi] } }, `status ${op} ${v}`);
    }
    return false;
  }
  return false;
}

function add(plan: Plan, t: PlanTerm, what: string): boolean {
  plan.terms.push(t);
  plan.used.push(what);
  return true;
}

/** Plan a filter already compiled (so known to be valid); '' plans a full scan. */
export function planFilter(source: string, ctx: PlanContext): Plan {
  const plan: Plan = { terms: [], columns: [], from: null, to: null, exact: true, used: [] };
  if (source.trim() === '') return plan;
  let ast: ASTNode;
  try {
    ast = constantEnvironment().parse(source).ast;
  } catch {
    plan.exact = false;
    return plan;
  }
  for (const c of conjuncts(ast)) {
    if (!planTerm(c, source, ctx, plan)) plan.exact = false;
  }
  return plan;
}

/** Whether a row's latency passes the plan's column terms. */
export function passesColumns(plan: Plan, elapsedMs: number): boolean {
  for (const c of plan.columns) {
    // As the filter variable reads it: whole microseconds, 0 without a response.
    const v = Number.isNaN(elapsedMs) ? 0 : Math.round(elapsedMs * 1000);
    if (c.op === '<' ? !(v < c.value) : c.op === '<=' ? !(v <= c.value) : c.op === '>' ? !(v > c.value) : c.op === '>=' ? !(v >= c.value) : v !== c.value) return false;
  }
  return true;
}
