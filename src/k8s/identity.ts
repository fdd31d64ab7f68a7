/**
 * Names an ip:port at a moment after the cluster's objects (DESIGN.md, "Kubernetes
 * identity"): pod, then service, then node, else external.
 *
 * resolve() is one Map lookup by address; the time rule runs only when several pods
 * (services, nodes) held the address. Identities are built once and shared: they
 * are frozen, copy one before changing it.
 */
import type { Endpoint } from '../dissect/record.js';
import { ipBytes, maskBytes, parseCidr } from './ip.js';
import type { ClusterModel, NodeRecord, OwnerRef, PodRecord, ServiceRecord, WorkloadRecord } from './model.js';

export interface Identity {
  kind: 'pod' | 'service' | 'node' | 'external';
  /** Pod name, service name, node name; null for external. */
  name: string | null;
  namespace: string | null;
  /** The top owner: Deployment (via its ReplicaSet), StatefulSet, DaemonSet, CronJob (via Job), Job, ... */
  workload: { kind: string; name: string } | null;
  labels: Record<string, string>;
  /** The node a pod runs on; the node itself for kind node. */
  node: string | null;
  /** For a pod: the service whose endpoints include it on this port; for a service: itself. */
  service: { name: string; namespace: string } | null;
}

export interface IdentitySummary {
  /** Pod objects loaded, and of them those with an address, on the host network. */
  pods: number;
  podsWithIp: number;
  hostNetworkPods: number;
  /** Pods known only from an EndpointSlice/Endpoints targetRef. */
  inferredPods: number;
  services: number;
  nodes: number;
  /** Nodes known only from pods' spec.nodeName and status.hostIP. */
  inferredNodes: number;
  /** Distinct top owners (of pods, and loaded workload objects). */
  workloads: number;
  workloadsByKind: Record<string, number>;
  namespaces: number;
  endpointSlices: number;
  /** Addresses held by more than one pod (decided by time). */
  sharedPodIps: number;
  ignored: Record<string, number>;
  warnings: number;
}

const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The identity of an address podcap knows nothing about. */
export const EXTERNAL: Identity = Object.freeze({
  kind: 'external', name: null, namespace: null, workload: null, labels: EMPTY_LABELS, node: null, service: null,
}) as Identity;

/** An Endpoint of the transaction record for ip:port with this identity. */
export function toEndpoint(ip: string, port: number, id: Identity, dns: string | null = null): Endpoint {
  return {
    ip, port, name: id.name, namespace: id.namespace, kind: id.kind, workload: id.workload, labels: id.labels, node: id.node,
    service: id.service, dns,
  };
}

/** What the time rule compares. */
interface Candidate {
  /** µs; -Infinity/Infinity when unknown. */
  start: number;
  end: number;
  /** A Succeeded/Failed pod: its address was given back. */
  over: boolean;
  running: boolean;
  /** Global order among equals: newest first, then by name. */
  rank: number;
}

interface PodEntry extends Candidate {
  rec: PodRecord;
  base: Identity;
  /** The identity on ports its services' endpoints name; null when none. */
  byPort: Map<number, Identity> | null;
  /** The identity on other ports (base, or with a service whose endpoints name no port). */
  other: Identity;
}

interface SvcEntry extends Candidate {
  rec: ServiceRecord;
  id: Identity;
}

interface NodeEntry extends Candidate {
  name: string;
  id: Identity;
  inferred: boolean;
}

interface Slot {
  /** Pods owning the address (not on the host network). */
  pods: PodEntry[] | null;
  /** On a node address: host-network pods, and pods with a hostPort, by declared port. */
  hostPods: Map<number, PodEntry[]> | null;
  /** Services at the address by service port. */
  svcPort: Map<number, SvcEntry[]> | null;
  /** Services the address names on any port (ClusterIPs; external and LB IPs not shared with a node or pod). */
  svcAny: SvcEntry[] | null;
  nodes: NodeEntry[] | null;
}

/** Chooses among several holders of an address: alive at ts, then not over, Running, newest, by name. */
function pick<T extends Candidate>(list: T[], ts: number): T {
  if (list.length === 1) return list[0];
  let best: T | null = null;
  for (const c of list) {
    if (c.start <= ts && ts < c.end && (best === null || better(c, best))) best = c;
  }
  if (best !== null) return best;
  // Nobody alive then (clock skew, a gap between dumps): the nearest in time.
  let bestD = Infinity;
  for (const c of list) {
    const d = ts < c.start ? c.start - ts : ts - c.end;
    if (best === null || d < bestD || (d === bestD && better(c, best))) { best = c; bestD = d; }
  }
  return best as T;
}

function better(a: Candidate, b: Candidate): boolean {
  if (a.over !== b.over) return !a.over;
  if (a.running !== b.running) return a.running;
  return a.rank < b.rank;
}

const INTERMEDIATE_OWNERS = new Set(['ReplicaSet', 'Job', 'ReplicationController']);

function controllerOf(owners: OwnerRef[]): OwnerRef | null {
  return owners.find((o) => o.controller) ?? owners[0] ?? null;
}

const byName = (a: { name: string; namespace: string }, b: { name: string; namespace: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;

export class IdentityResolver {
  readonly model: ClusterModel;
  /** Every pod holding an address (host-network pods under their node's address too). */
  readonly podsByIp: ReadonlyMap<string, readonly PodRecord[]>;
  /** Services by ClusterIP, external IP and load balancer IP. */
  readonly servicesByIp: ReadonlyMap<string, readonly ServiceRecord[]>;
  /** Node records by address (loaded nodes only). */
  readonly nodesByIp: ReadonlyMap<string, readonly NodeRecord[]>;

  private readonly slots = new Map<string, Slot>();
  private readonly nodePorts = new Map<number, SvcEntry[]>();
  private readonly missCache = new Map<string, Identity>();
  /** Pod CIDRs of nodes; per family, tables by prefix length: network → identity (external, with the node). */
  private readonly cidrs: string[] = [];
  private readonly cidrs4: Array<{ prefix: number; nets: Map<number, Identity> }> = [];
  private readonly cidrs6: Array<{ prefix: number; nets: Map<string, Identity> }> = [];
  private readonly workloadsByUid = new Map<string, WorkloadRecord>();
  private readonly workloadsByKey = new Map<string, WorkloadRecord>();
  private readonly podEntries: PodEntry[] = [];
  private readonly inferredPods: PodEntry[] = [];
  private inferredNodeCount = 0;
  private readonly topWorkloads = new Map<string, { kind: string; name: string }>();

  constructor(model: ClusterModel) {
    this.model = model;
    for (const w of model.workloads) {
      if (w.uid) this.workloadsByUid.set(w.uid, w);
      this.workloadsByKey.set(`${w.kind}|${w.namespace}|${w.name}`, w);
    }
    const podsByIp = new Map<string, PodRecord[]>();
    const servicesByIp = new Map<string, ServiceRecord[]>();
    const nodesByIp = new Map<string, NodeRecord[]>();
    this.podsByIp = podsByIp;
    this.servicesByIp = servicesByIp;
    this.nodesByIp = nodesByIp;
    const push = <K, V>(m: Map<K, V[]>, k: K, v: V): void => {
      const l = m.get(k);
      if (l) { if (!l.includes(v)) l.push(v); } else m.set(k, [v]);
    };

    // Nodes.
    const nodesByName = new Map<string, NodeEntry>();
    const nodeEntries: NodeEntry[] = [];
    for (const n of model.nodes) {
      const e: NodeEntry = {
        name: n.name, inferred: false, start: n.created ?? -Infinity, end: n.deleted ?? Infinity, over: false, running: true, rank: 0,
        id: Object.freeze({ kind: 'node', name: n.name, namespace: null, workload: null, labels: Object.freeze({ ...n.labels }), node: n.name, service: null }) as Identity,
      };
      nodeEntries.push(e);
      if (!nodesByName.has(n.name)) nodesByName.set(n.name, e);
      for (const ip of n.ips) {
        push(nodesByIp, ip, n);
        this.addTo(this.slot(ip), 'nodes', e);
      }
      for (const c of n.podCIDRs) this.addCidr(c, e);
    }

    // Pods.
    const podsByUid = new Map<string, PodEntry>();
    const podsByRef = new Map<string, PodEntry[]>();
    const podsByNs = new Map<string, PodEntry[]>();
    for (const p of model.pods) {
      const e = this.podEntry(p);
      this.podEntries.push(e);
      if (p.uid) podsByUid.set(p.uid, e);
      push(podsByRef, `${p.namespace}/${p.name}`, e);
      push(podsByNs, p.namespace, e);
      for (const ip of p.ips) {
        push(podsByIp, ip, p);
        if (p.hostNetwork) {
          for (const port of declaredPorts(p, true)) this.addHostPod(this.slot(ip), port, e);
        } else {
          this.addTo(this.slot(ip), 'pods', e);
        }
      }
      if (!p.hostNetwork) {
        // A hostPort makes the pod answer on its node's address too.
        const hp = declaredPorts(p, false);
        if (hp.length) for (const ip of p.hostIPs) for (const port of hp) this.addHostPod(this.slot(ip), port, e);
      }
    }
    // Nodes known from pods: spec.nodeName at status.hostIP.
    const inferredNodes = new Map<string, NodeEntry>();
    for (const p of model.pods) {
      if (!p.nodeName) continue;
      const hostIps = p.hostIPs.length ? p.hostIPs : p.hostNetwork ? p.ips : [];
      for (const ip of hostIps) {
        const s = this.slot(ip);
        if (s.nodes !== null) continue;
        let e = nodesByName.get(p.nodeName) ?? inferredNodes.get(p.nodeName);
        if (!e) {
          e = {
            name: p.nodeName, inferred: true, start: -Infinity, end: Infinity, over: false, running: true, rank: 0,
            id: Object.freeze({ kind: 'node', name: p.nodeName, namespace: null, workload: null, labels: EMPTY_LABELS, node: p.nodeName, service: null }) as Identity,
          };
          inferredNodes.set(p.nodeName, e);
          nodeEntries.push(e);
        }
        this.addTo(s, 'nodes', e);
      }
    }
    this.inferredNodeCount = inferredNodes.size;

    // Endpoints: which pods back which service on which port.
    const members = new Map<PodEntry, { byPort: Map<number, Set<string>>; any: Set<string> }>();
    const addMember = (e: PodEntry, svcKey: string, ports: Array<number | null>): void => {
      let m = members.get(e);
      if (!m) { m = { byPort: new Map(), any: new Set() }; members.set(e, m); }
      for (const port of ports) {
        if (port === null) { m.any.add(svcKey); continue; }
        let set = m.byPort.get(port);
        if (!set) { set = new Set(); m.byPort.set(port, set); }
        set.add(svcKey);
      }
    };
    const withEndpoints = new Set<string>();
    for (const sl of model.endpointSlices) {
      if (!sl.service) continue;
      const svcKey = `${sl.namespace}/${sl.service}`;
      withEndpoints.add(svcKey);
      const ports = sl.ports.length ? sl.ports.map((p) => p.port) : [null];
      for (const ep of sl.endpoints) {
        for (const addr of ep.addresses) {
          const ref = ep.targetRef;
          let targets: PodEntry[] = [];
          if (ref && ref.kind === 'Pod') {
            const byUid = ref.uid ? podsByUid.get(ref.uid) : undefined;
            if (byUid) targets = [byUid];
            else {
              const named = podsByRef.get(`${ref.namespace ?? sl.namespace}/${ref.name}`) ?? [];
              const atAddr = named.filter((e) => e.rec.ips.includes(addr));
              targets = atAddr.length ? atAddr : named;
            }
            if (targets.length === 0) {
              const s = this.slot(addr);
              if (s.pods === null && s.nodes === null && s.hostPods === null) {
                const e = this.inferPod(ref.name, ref.namespace ?? sl.namespace, ref.uid, addr, ep.nodeName, sl.file);
                if (ref.uid) podsByUid.set(ref.uid, e);
                push(podsByRef, `${e.rec.namespace}/${e.rec.name}`, e);
                push(podsByIp, addr, e.rec);
                this.addTo(s, 'pods', e);
                targets = [e];
              }
            }
          } else if (!ref) {
            targets = this.slots.get(addr)?.pods ?? [];
          }
          for (const t of targets) addMember(t, svcKey, ports);
        }
      }
    }
    // Services whose endpoints were not saved: their selector says which pods, targetPort which port.
    for (const svc of model.services) {
      const svcKey = `${svc.namespace}/${svc.name}`;
      if (!svc.selector || withEndpoints.has(svcKey)) continue;
      const sel = Object.entries(svc.selector);
      for (const e of podsByNs.get(svc.namespace) ?? []) {
        if (!sel.every(([k, v]) => e.rec.labels[k] === v)) continue;
        const ports: number[] = [];
        for (const sp of svc.ports) {
          const tp = sp.targetPort;
          const n = tp === null ? sp.port : typeof tp === 'number' ? tp : e.rec.ports.find((cp) => cp.name === tp)?.containerPort;
          if (n !== undefined && !ports.includes(n)) ports.push(n);
        }
        if (ports.length) addMember(e, svcKey, ports);
      }
    }
    for (const [e, m] of members) {
      const withSvc = (keys: Iterable<string>): Identity => {
        const cands = [...keys].map((k) => {
          const slash = k.indexOf('/');
          return { namespace: k.slice(0, slash), name: k.slice(slash + 1) };
        }).sort(byName);
        return Object.freeze({ ...e.base, service: Object.freeze(cands[0]) }) as Identity;
      };
      if (m.any.size) e.other = withSvc(m.any);
      if (m.byPort.size) {
        e.byPort = new Map();
        for (const [port, keys] of m.byPort) e.byPort.set(port, withSvc([...keys, ...m.any]));
      }
    }

    // Services.
    const svcEntries: SvcEntry[] = [];
    const external: Array<[string, SvcEntry]> = [];
    for (const svc of model.services) {
      const e: SvcEntry = {
        rec: svc, start: svc.created ?? -Infinity, end: svc.deleted ?? Infinity, over: false, running: true, rank: 0,
        id: Object.freeze({
          kind: 'service', name: svc.name, namespace: svc.namespace, workload: null, labels: Object.freeze({ ...svc.labels }),
          node: null, service: Object.freeze({ name: svc.name, namespace: svc.namespace }),
        }) as Identity,
      };
      svcEntries.push(e);
      const ports = [...new Set(svc.ports.map((p) => p.port))];
      const addrs = svc.type === 'ExternalName' ? [] : svc.clusterIPs;
      for (const ip of addrs) {
        push(servicesByIp, ip, svc);
        const s = this.slot(ip);
        this.addTo(s, 'svcAny', e);
        for (const port of ports) this.addSvcPort(s, port, e);
      }
      for (const ip of [...svc.externalIPs, ...svc.loadBalancerIPs]) {
        if (addrs.includes(ip)) continue;
        push(servicesByIp, ip, svc);
        const s = this.slot(ip);
        for (const port of ports) this.addSvcPort(s, port, e);
        external.push([ip, e]);
      }
      for (const p of svc.ports) if (p.nodePort !== null) pushEntry(this.nodePorts, p.nodePort, e);
    }
    // An external or load balancer IP that is also a node's (k3s ServiceLB) or a pod's names the service on its ports only.
    for (const [ip, e] of external) {
      const s = this.slot(ip);
      if (s.pods === null && s.nodes === null && s.hostPods === null) this.addTo(s, 'svcAny', e);
    }

    // Ranks: newest first then by name for pods; by name for services and nodes.
    const allPods = [...this.podEntries, ...this.inferredPods];
    allPods.sort((a, b) => (b.start - a.start) || byName(a.rec, b.rec) || ((a.rec.uid ?? '') < (b.rec.uid ?? '') ? -1 : 1));
    allPods.forEach((e, i) => { e.rank = i; if (Number.isNaN(e.start)) e.start = -Infinity; });
    svcEntries.sort((a, b) => byName(a.rec, b.rec) || a.start - b.start).forEach((e, i) => { e.rank = i; });
    nodeEntries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || Number(a.inferred) - Number(b.inferred)).forEach((e, i) => { e.rank = i; });

    // Workloads for the summary.
    for (const e of this.podEntries) if (e.base.workload) this.topWorkloads.set(`${e.base.workload.kind}|${e.rec.namespace}|${e.base.workload.name}`, e.base.workload);
    for (const w of model.workloads) {
      const top = this.climb({ kind: w.kind, name: w.name, uid: w.uid, controller: true }, w.namespace, null);
      if (top) this.topWorkloads.set(`${top.kind}|${w.namespace}|${top.name}`, top);
    }
  }

  /**
   * The identity of ip:port at tsMicros (µs since the epoch). `ip` is in the form
   * src/net/address.ts writes (dotted quad, RFC 5952).
   */
  resolve(ip: string, port: number, tsMicros: number): Identity {
    const s = this.slots.get(ip);
    if (s === undefined) return this.miss(ip);
    if (s.pods !== null) {
      const e = s.pods.length === 1 ? s.pods[0] : pick(s.pods, tsMicros);
      return e.byPort === null ? e.other : e.byPort.get(port) ?? e.other;
    }
    if (s.hostPods !== null) {
      const l = s.hostPods.get(port);
      if (l !== undefined) {
        const e = l.length === 1 ? l[0] : pick(l, tsMicros);
        return e.byPort === null ? e.other : e.byPort.get(port) ?? e.other;
      }
    }
    if (s.svcPort !== null) {
      const l = s.svcPort.get(port);
      if (l !== undefined) return (l.length === 1 ? l[0] : pick(l, tsMicros)).id;
    }
    if (s.svcAny !== null) return (s.svcAny.length === 1 ? s.svcAny[0] : pick(s.svcAny, tsMicros)).id;
    if (s.nodes !== null) {
      const l = this.nodePorts.get(port);
      if (l !== undefined) return (l.length === 1 ? l[0] : pick(l, tsMicros)).id;
      return (s.nodes.length === 1 ? s.nodes[0] : pick(s.nodes, tsMicros)).id;
    }
    return this.miss(ip);
  }

  /** Counts for the import report. */
  summary(): IdentitySummary {
    const m = this.model;
    const byKind: Record<string, number> = {};
    for (const w of this.topWorkloads.values()) byKind[w.kind] = (byKind[w.kind] ?? 0) + 1;
    let shared = 0;
    for (const s of this.slots.values()) if (s.pods !== null && s.pods.length > 1) shared++;
    return {
      pods: m.pods.length,
      podsWithIp: m.pods.filter((p) => p.ips.length > 0).length,
      hostNetworkPods: m.pods.filter((p) => p.hostNetwork).length,
      inferredPods: this.inferredPods.length,
      services: m.services.length,
      nodes: m.nodes.length,
      inferredNodes: this.inferredNodeCount,
      workloads: this.topWorkloads.size,
      workloadsByKind: byKind,
      namespaces: m.namespaces.length,
      endpointSlices: m.endpointSlices.length,
      sharedPodIps: shared,
      ignored: { ...m.ignored },
      warnings: m.warnings.length + m.warningsDropped,
    };
  }

  /** The top owner of a pod (see Identity.workload). */
  /**
   * The workloads whose pods back each service ("ns/service" → ["ns/workload", ...]), from
   * its endpoints: what tells, when a call went to a Service, which pods served it.
   */
  serviceBackends(): Record<string, string[]> {
    const out: Record<string, Set<string>> = {};
    const pods = new Map(this.model.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    for (const slice of this.model.endpointSlices) {
      if (!slice.service) continue;
      const key = `${slice.namespace}/${slice.service}`;
      const set = (out[key] ??= new Set());
      for (const e of slice.endpoints) {
        const ref = e.targetRef;
        if (!ref || ref.kind !== 'Pod') continue;
        const pod = pods.get(`${ref.namespace ?? slice.namespace}/${ref.name}`);
        const w = pod ? this.workloadOf(pod) : null;
        set.add(w ? `${pod!.namespace}/${w.name}` : `${ref.namespace ?? slice.namespace}/${ref.name}`);
      }
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
  }

  workloadOf(pod: PodRecord): { kind: string; name: string } | null {
    const ref = controllerOf(pod.owners);
    return ref ? this.climb(ref, pod.namespace, pod.labels) : null;
  }

  // -------------------------------------------------------------------------

  /**
   * Climbs from an owner through the intermediate kinds (ReplicaSet, Job,
   * ReplicationController) to their controller. A ReplicaSet not loaded is taken
   * for its Deployment's when the pod's pod-template-hash label ends its name.
   */
  private climb(ref: OwnerRef, namespace: string, podLabels: Record<string, string> | null): { kind: string; name: string } | null {
    let cur = ref;
    for (let depth = 0; depth < 10; depth++) {
      if (!INTERMEDIATE_OWNERS.has(cur.kind)) break;
      const w = (cur.uid ? this.workloadsByUid.get(cur.uid) : undefined) ?? this.workloadsByKey.get(`${cur.kind}|${namespace}|${cur.name}`);
      if (w) {
        const up = controllerOf(w.owners);
        if (!up) break;
        cur = up;
        continue;
      }
      const hash = depth === 0 && podLabels ? podLabels['pod-template-hash'] : undefined;
      if (cur.kind === 'ReplicaSet' && hash && cur.name.endsWith(`-${hash}`) && cur.name.length > hash.length + 1) {
        return Object.freeze({ kind: 'Deployment', name: cur.name.slice(0, -(hash.length + 1)) });
      }
      break;
    }
    return Object.freeze({ kind: cur.kind, name: cur.name });
  }

  private podEntry(p: PodRecord): PodEntry {
    const over = p.phase === 'Succeeded' || p.phase === 'Failed';
    const start = p.started ?? p.created ?? -Infinity;
    const end = p.deleted ?? (over ? p.finished : null) ?? Infinity;
    const base = Object.freeze({
      kind: 'pod', name: p.name, namespace: p.namespace, workload: this.workloadOf(p),
      labels: Object.keys(p.labels).length ? Object.freeze({ ...p.labels }) : EMPTY_LABELS, node: p.nodeName, service: null,
    }) as Identity;
    return { rec: p, base, byPort: null, other: base, start, end, over, running: p.phase === 'Running', rank: 0 };
  }

  private inferPod(name: string, namespace: string, uid: string | null, ip: string, nodeName: string | null, file: string): PodEntry {
    const rec: PodRecord = {
      name, namespace, uid, labels: {}, annotations: {}, owners: [], nodeName, hostNetwork: false, ips: [ip], hostIPs: [],
      phase: null, created: null, started: null, deleted: null, finished: null, ports: [], inferred: true, file,
    };
    const e = this.podEntry(rec);
    this.inferredPods.push(e);
    return e;
  }

  private slot(ip: string): Slot {
    let s = this.slots.get(ip);
    if (s === undefined) {
      s = { pods: null, hostPods: null, svcPort: null, svcAny: null, nodes: null };
      this.slots.set(ip, s);
    }
    return s;
  }

  private addTo<K extends 'pods' | 'svcAny' | 'nodes'>(s: Slot, key: K, e: NonNullable<Slot[K]>[number]): void {
    const l = s[key] as Array<typeof e> | null;
    if (l === null) (s as unknown as Record<K, Array<typeof e>>)[key] = [e];
    else if (!l.includes(e)) l.push(e);
  }

  private addHostPod(s: Slot, port: number, e: PodEntry): void {
    if (s.hostPods === null) s.hostPods = new Map();
    pushEntry(s.hostPods, port, e);
  }

  private addSvcPort(s: Slot, port: number, e: SvcEntry): void {
    if (s.svcPort === null) s.svcPort = new Map();
    pushEntry(s.svcPort, port, e);
  }

  private addCidr(text: string, node: NodeEntry): void {
    const c = parseCidr(text);
    if (!c) return;
    const id = Object.freeze({ ...EXTERNAL, node: node.name }) as Identity;
    this.cidrs.push(c.text);
    if (c.family === 4) {
      let t = this.cidrs4.find((x) => x.prefix === c.prefix);
      if (!t) {
        t = { prefix: c.prefix, nets: new Map() };
        this.cidrs4.push(t);
        this.cidrs4.sort((a, b) => b.prefix - a.prefix); // most specific first
      }
      const key = c.prefix === 0 ? 0 : c.network.readUInt32BE(0) >>> (32 - c.prefix);
      if (!t.nets.has(key)) t.nets.set(key, id);
    } else {
      let t = this.cidrs6.find((x) => x.prefix === c.prefix);
      if (!t) {
        t = { prefix: c.prefix, nets: new Map() };
        this.cidrs6.push(t);
        this.cidrs6.sort((a, b) => b.prefix - a.prefix);
      }
      const key = c.network.toString('hex');
      if (!t.nets.has(key)) t.nets.set(key, id);
    }
  }

  /** An address no object names: external, with the node whose pod CIDR holds it if any. */
  private miss(ip: string): Identity {
    if (this.cidrs.length === 0) return EXTERNAL;
    const v4 = ipv4ToInt(ip);
    if (v4 >= 0) {
      for (const t of this.cidrs4) {
        const found = t.nets.get(t.prefix === 0 ? 0 : v4 >>> (32 - t.prefix));
        if (found !== undefined) return found;
      }
      return EXTERNAL;
    }
    const hit = this.missCache.get(ip);
    if (hit !== undefined) return hit;
    let id = EXTERNAL;
    const bytes = ip.includes(':') ? ipBytes(ip) : null;
    if (bytes) {
      for (const t of this.cidrs6) {
        const found = t.nets.get(maskBytes(bytes, t.prefix).toString('hex'));
        if (found) { id = found; break; }
      }
    }
    if (this.missCache.size >= 65_536) this.missCache.clear();
    this.missCache.set(ip, id);
    return id;
  }
}

/** A dotted quad as an unsigned 32-bit number; -1 when it is not one. */
function ipv4ToInt(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

function pushEntry<T>(m: Map<number, T[]>, k: number, v: T): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [v]);
  else if (!l.includes(v)) l.push(v);
}

/** Ports a pod answers on at its node's address: host network, every declared port; else hostPorts. */
function declaredPorts(p: PodRecord, hostNetwork: boolean): number[] {
  const out = new Set<number>();
  for (const cp of p.ports) {
    if (hostNetwork) out.add(cp.containerPort);
    if (cp.hostPort !== null && cp.hostPort > 0) out.add(cp.hostPort);
  }
  return [...out];
}
