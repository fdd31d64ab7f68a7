/**
 * Who was seen: the service map's nodes (workloads, services, external names) with
 * their traffic, and the pods by name with the calls they made and received, read
 * from the summary's pod indexes (no record is decoded).
 */
import type { Workspace } from '../store/workspace.js';
import { computeServiceMap, type MapNode } from './service-map.js';
import type { AnalysisQuery, ScopeInfo } from './stats.js';
import { selectSnapshots } from './calls.js';

export interface PodTraffic {
  /** The pod's name (KFL2's src.pod.name: a Service's name when the address was a Service's). */
  name: string;
  callsOut: number;
  callsIn: number;
}

export interface WorkloadsResult extends Omit<ScopeInfo, 'indexUsed'> {
  nodes: MapNode[];
  /** Over the selected snapshots as a whole: the filter and window do not apply. */
  pods: PodTraffic[];
}

/** Calls per pod name in one direction: the row counts of the summary's pod index. */
function podCounts(ws: Workspace, dataKey: string, field: 'src.pod' | 'dst.pod', into: Map<string, PodTraffic>): void {
  for (const { key, value } of ws.summaryDbs.post.getRange({ start: [dataKey, field, ''], end: [dataKey, field, '\uffff'] })) {
    const name = key[2];
    if (typeof name !== 'string') continue;
    let p = into.get(name);
    if (!p) {
      p = { name, callsOut: 0, callsIn: 0 };
      into.set(name, p);
    }
    // Each posting is a chunk's row offsets, two bytes each.
    const n = value.byteLength / 2;
    if (field === 'src.pod') p.callsOut += n;
    else p.callsIn += n;
  }
}

export function listWorkloads(ws: Workspace, q: AnalysisQuery = {}): WorkloadsResult {
  const { indexUsed: _ignored, percentiles: _p, edges: _e, nodes, ...scope } = computeServiceMap(ws, q);
  const pods = new Map<string, PodTraffic>();
  for (const s of selectSnapshots(ws, q.snapshots)) {
    podCounts(ws, ws.dataKey(s), 'src.pod', pods);
    podCounts(ws, ws.dataKey(s), 'dst.pod', pods);
  }
  const kindOrder: Record<MapNode['kind'], number> = { workload: 0, service: 1, external: 2 };
  return {
    ...scope,
    nodes: [...nodes].sort((a, b) => kindOrder[a.kind] - kindOrder[b.kind] || (b.callsIn + b.callsOut) - (a.callsIn + a.callsOut)),
    pods: [...pods.values()].sort((a, b) => (b.callsIn + b.callsOut) - (a.callsIn + a.callsOut) || a.name.localeCompare(b.name)),
  };
}
