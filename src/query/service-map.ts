/**
 * The service map: who calls whom, from the summary's edge column. A node is a
 * client workload, a destination service (or workload, pod, DNS name, address
 * when nothing better names it); an edge is (source, destination, protocol)
 * with its calls, failures, latency and whether credentials were seen on all,
 * some or none of its calls. Rendered as JSON, a table, Graphviz DOT or a
 * Mermaid flowchart, deterministically (everything sorted).
 */
import { AUTH_API_KEY, AUTH_BASIC, AUTH_BEARER, AUTH_COOKIE, AUTH_OTHER, type EdgeKey, type SummaryColumns } from '../store/summary.js';
import type { Workspace } from '../store/workspace.js';
import { PERCENTILE_METHOD, PERCENTILE_NOTE, ms } from './percentiles.js';
import { Accumulator, GroupIndex, resolveScope, scanScope, scopeInfo, type AnalysisQuery, type ScopeInfo } from './stats.js';

/** Credentials seen on an edge's calls; `n/a` for DNS, which carries none by design. */
export type CredentialCoverage = 'all' | 'some' | 'none' | 'n/a';

export type NodeKind = 'workload' | 'service' | 'external';

export interface MapNode {
  /** The name shown: namespace/workload, namespace/service, a DNS name or an address. */
  id: string;
  /**
   * What the name is, as far as the summary tells: `workload` when a client or server
   * workload goes by it, `service` for a namespaced destination otherwise (a Service,
   * or a pod without a workload), `external` for DNS names and addresses.
   */
  kind: NodeKind;
  callsOut: number;
  callsIn: number;
  failuresIn: number;
}

export interface CredentialCounts {
  bearer: number;
  basic: number;
  apiKey: number;
  cookie: number;
  other: number;
}

export interface MapEdge {
  source: string;
  destination: string;
  protocol: string;
  calls: number;
  failures: number;
  failureRate: number;
  latencyMs: { p50: number | null; p99: number | null };
  /** Calls carrying any credential (Authorization, API key header, cookie). */
  authenticatedCalls: number;
  credentials: CredentialCoverage;
  credentialKinds: CredentialCounts;
}

export interface ServiceMap extends ScopeInfo {
  percentiles: { method: typeof PERCENTILE_METHOD; description: string };
  nodes: MapNode[];
  edges: MapEdge[];
}

export class EdgeAccumulator extends Accumulator {
  authenticated = 0;
  readonly kinds: CredentialCounts = { bearer: 0, basic: 0, apiKey: 0, cookie: 0, other: 0 };
  constructor(readonly key: EdgeKey) {
    super();
  }

  override add(cols: SummaryColumns, row: number): void {
    super.add(cols, row);
    const a = cols.auth[row];
    if (a === 0) return;
    this.authenticated++;
    if (a & AUTH_BEARER) this.kinds.bearer++;
    if (a & AUTH_BASIC) this.kinds.basic++;
    if (a & AUTH_API_KEY) this.kinds.apiKey++;
    if (a & AUTH_COOKIE) this.kinds.cookie++;
    if (a & AUTH_OTHER) this.kinds.other++;
  }

  coverage(): CredentialCoverage {
    if (this.key.protocol === 'dns') return 'n/a';
    return this.authenticated === 0 ? 'none' : this.authenticated === this.calls ? 'all' : 'some';
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareEdges(a: { source: string; destination: string; protocol: string }, b: { source: string; destination: string; protocol: string }): number {
  return cmp(a.source, b.source) || cmp(a.destination, b.destination) || cmp(a.protocol, b.protocol);
}

/** Edge groups of the scope, merged across snapshots by (protocol, source, destination). */
export function edgeIndex(ws: Workspace, snaps: Parameters<typeof scanScope>[1]['snaps']): GroupIndex<EdgeAccumulator> {
  return new GroupIndex<EdgeAccumulator>(ws, snaps, 'edge',
    ((e: EdgeKey) => JSON.stringify([e.protocol, e.source, e.destination])) as (x: never) => string,
    ((e: EdgeKey) => new EdgeAccumulator(e)) as (x: never) => EdgeAccumulator);
}

export function computeServiceMap(ws: Workspace, q: AnalysisQuery = {}): ServiceMap {
  const scope = resolveScope(ws, q);
  const index = edgeIndex(ws, scope.snaps);
  const scan = scanScope(ws, scope, ({ snapshot, cols, row }) => index.get(snapshot, cols.edge[row]).add(cols, row));
  const groups = index.all().filter((g) => g.calls > 0);
  const edges: MapEdge[] = groups.map((g) => {
    const r = g.row('');
    return {
      source: g.key.source, destination: g.key.destination, protocol: g.key.protocol,
      calls: r.calls, failures: r.failures, failureRate: r.failureRate,
      latencyMs: { p50: r.latencyMs.p50, p99: r.latencyMs.p99 },
      authenticatedCalls: g.authenticated, credentials: g.coverage(), credentialKinds: { ...g.kinds },
    };
  }).sort(compareEdges);
  const nodes = new Map<string, MapNode & { workload: boolean }>();
  const node = (id: string): MapNode & { workload: boolean } => {
    let n = nodes.get(id);
    if (!n) {
      n = { id, kind: 'external', callsOut: 0, callsIn: 0, failuresIn: 0, workload: false };
      nodes.set(id, n);
    }
    return n;
  };
  for (const g of groups) {
    const s = node(g.key.source);
    const d = node(g.key.destination);
    s.callsOut += g.calls;
    d.callsIn += g.calls;
    d.failuresIn += g.failures;
    if (g.key.sourceWorkload && g.key.sourceWorkload === g.key.source) s.workload = true;
    if (g.key.destinationWorkload && g.key.destinationWorkload === g.key.destination) d.workload = true;
  }
  const list: MapNode[] = [...nodes.values()].map(({ workload, ...n }) => ({
    ...n, kind: workload ? 'workload' : n.id.includes('/') && !n.id.startsWith('[') ? 'service' : 'external',
  }));
  list.sort((a, b) => cmp(a.id, b.id));
  return { ...scopeInfo(scope, scan), percentiles: { method: PERCENTILE_METHOD, description: PERCENTILE_NOTE }, nodes: list, edges };
}

// ---------------------------------------------------------------------------------------------
// Renderings
// ---------------------------------------------------------------------------------------------

/** An edge's label: protocol, calls, failures, p50/p99, credentials. */
export function edgeLabelLines(e: MapEdge): string[] {
  const lines = [`${e.protocol} ${e.calls} call${e.calls === 1 ? '' : 's'}${e.failures ? `, ${e.failures} failed (${(e.failureRate * 100).toFixed(1)}%)` : ''}`];
  lines.push(`p50 ${ms(e.latencyMs.p50)} p99 ${ms(e.latencyMs.p99)}`);
  if (e.credentials !== 'n/a') lines.push(`credentials: ${e.credentials}`);
  return lines;
}

/** A DOT double-quoted string: backslashes and quotes escaped, line breaks as \n. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

/**
 * Graphviz DOT: nodes by name (boxes for workloads, ellipses for services, dashed for
 * external names), failing edges red, edges without credentials dashed, with some dotted.
 */
export function toDot(m: ServiceMap): string {
  const out = ['digraph podcap {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  for (const n of m.nodes) {
    const shape = n.kind === 'workload' ? 'box' : n.kind === 'service' ? 'ellipse' : 'ellipse, style=dashed';
    out.push(`  ${dotString(n.id)} [label=${dotString(n.id)}, shape=${shape}];`);
  }
  for (const e of m.edges) {
    const attrs = [`label=${dotString(edgeLabelLines(e).join('\n'))}`];
    if (e.failures > 0) attrs.push('color="red"', 'fontcolor="red"');
    if (e.credentials === 'none') attrs.push('style="dashed"');
    else if (e.credentials === 'some') attrs.push('style="dotted"');
    out.push(`  ${dotString(e.source)} -> ${dotString(e.destination)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Mermaid node ids: letters, digits and underscores, prefixed so that no id is a keyword (end, graph...). */
export function mermaidIds(names: string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const name of [...names].sort(cmp)) {
    const base = `n_${name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'x'}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    ids.set(name, id);
  }
  return ids;
}

/** Text inside a Mermaid quoted label: quotes, the entity sign, markup and the edge-label bar as entity codes (#34;). */
export function mermaidText(s: string): string {
  return s.replace(/[#"<>&|`]/g, (c) => `#${c.charCodeAt(0)};`);
}

/**
 * Mermaid `flowchart LR`: failing edges red, edges without credentials dashed (`-.->`),
 * edges with credentials on some calls finely dotted (both by linkStyle).
 */
export function toMermaid(m: ServiceMap): string {
  const ids = mermaidIds(m.nodes.map((n) => n.id));
  const out = ['flowchart LR'];
  for (const n of m.nodes) {
    const label = `"${mermaidText(n.id)}"`;
    const shape = n.kind === 'workload' ? `[${label}]` : n.kind === 'service' ? `(${label})` : `([${label}])`;
    out.push(`  ${ids.get(n.id)}${shape}`);
  }
  const styles = new Map<string, number[]>();
  m.edges.forEach((e, i) => {
    const arrow = e.credentials === 'none' ? '-.->' : '-->';
    out.push(`  ${ids.get(e.source)} ${arrow}|"${edgeLabelLines(e).map(mermaidText).join('<br/>')}"| ${ids.get(e.destination)}`);
    const style = [e.failures > 0 ? 'stroke:#d62728,color:#d62728' : '', e.credentials === 'some' ? 'stroke-dasharray:2 3' : ''].filter(Boolean).join(',');
    if (style) styles.set(style, [...(styles.get(style) ?? []), i]);
  });
  for (const [style, edges] of [...styles].sort((a, b) => a[1][0] - b[1][0])) out.push(`  linkStyle ${edges.join(',')} ${style}`);
  return `${out.join('\n')}\n`;
}
