/**
 * The part of a snapshot's cluster manifest that names a set of addresses: the
 * pods, services and nodes holding them, and what podcap needs to name them the
 * same way again (the pods' owners up to their workload, the services' endpoint
 * slices, the services selecting the pods kept, the namespaces). Read from the
 * snapshot's own manifest files (named at import, or found beside the captures),
 * written back as one `kind: List` YAML that the k8s loader reads.
 */
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parseAllDocuments, stringify } from 'yaml';
import { readLocation } from '../capture/index.js';
import type { SnapshotMeta } from '../store/snapshot.js';

type Obj = Record<string, unknown> & { kind?: string; apiVersion?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind?: string; name?: string }> } };

export interface ManifestSubset {
  /** YAML of a v1 List; null when the snapshot had no manifest or nothing in it names the addresses. */
  yaml: string | null;
  /** Objects kept, by kind. */
  kept: Record<string, number>;
  notes: string[];
}

const MAX_MANIFEST = 256 << 20;

function text(buf: Buffer): string {
  const b = buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  return b.toString('utf8').replace(/^\uFEFF/, '');
}

/** Every object of the manifest files, Lists flattened. */
async function manifestObjects(snap: SnapshotMeta, notes: string[]): Promise<Obj[]> {
  const out: Obj[] = [];
  const add = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    const o = v as Obj;
    if (Array.isArray(o.items) && (o.kind === 'List' || String(o.kind ?? '').endsWith('List'))) {
      const itemKind = String(o.kind ?? '').replace(/List$/, '');
      for (const i of o.items as Obj[]) add(i && typeof i === 'object' && !i.kind && itemKind ? { ...i, kind: itemKind, apiVersion: o.apiVersion } : i);
    } else if (typeof o.kind === 'string') out.push(o);
  };
  for (const name of snap.kubernetes?.files ?? []) {
    try {
      let data: Buffer;
      const side = snap.skipped.find((s) => s.name === name && s.location);
      if (side?.location) data = await readLocation(side.location, side.location.kind === 'file' ? MAX_MANIFEST : Math.min(side.location.available, MAX_MANIFEST));
      else if ((await stat(name)).isFile()) data = await readFile(name);
      else {
        notes.push(`${name}: a directory of manifests is not read again for the subset`);
        continue;
      }
      for (const doc of parseAllDocuments(text(data))) add(doc.toJS());
    } catch (e) {
      notes.push(`${name}: not read again (${(e as Error).message})`);
    }
  }
  return out;
}

const ns = (o: Obj): string => o.metadata?.namespace ?? '';
const key = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

function podIps(o: Obj): string[] {
  const st = (o.status ?? {}) as { podIP?: string; podIPs?: Array<{ ip?: string }>; hostIP?: string };
  const spec = (o.spec ?? {}) as { hostNetwork?: boolean };
  const ips = [st.podIP, ...(st.podIPs ?? []).map((p) => p.ip)].filter((x): x is string => !!x);
  if (spec.hostNetwork && st.hostIP) ips.push(st.hostIP);
  return ips;
}

function serviceIps(o: Obj): string[] {
  const spec = (o.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[]; externalIPs?: string[] };
  return [spec.clusterIP, ...(spec.clusterIPs ?? []), ...(spec.externalIPs ?? [])].filter((x): x is string => !!x && x !== 'None');
}

function nodeIps(o: Obj): string[] {
  const st = (o.status ?? {}) as { addresses?: Array<{ address?: string }> };
  return (st.addresses ?? []).map((a) => a.address).filter((x): x is string => !!x);
}

function selects(service: Obj, pod: Obj): boolean {
  const sel = ((service.spec ?? {}) as { selector?: Record<string, string> }).selector;
  if (!sel || Object.keys(sel).length === 0 || ns(service) !== ns(pod)) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

/** The manifest objects naming `addresses` (IPs), and those podcap needs to name them as before. */
export async function manifestSubset(snap: SnapshotMeta, addresses: Set<string>): Promise<ManifestSubset> {
  const notes: string[] = [];
  if (!snap.kubernetes) return { yaml: null, kept: {}, notes: ['the snapshot has no cluster manifest'] };
  const all = await manifestObjects(snap, notes);
  const keep = new Set<Obj>();
  const byKey = new Map<string, Obj>();
  for (const o of all) byKey.set(key(o.kind!, ns(o), o.metadata?.name ?? ''), o);
  const allPods = all.filter((o) => o.kind === 'Pod');
  const named = allPods.filter((o) => podIps(o).some((ip) => addresses.has(ip)));
  const services = all.filter((o) => o.kind === 'Service' && (serviceIps(o).some((ip) => addresses.has(ip)) || named.some((p) => selects(o, p))));
  for (const s of services) keep.add(s);
  // The pods behind a service kept: the workloads that served its calls (podcap trace follows a call into a Service by them).
  const pods = allPods.filter((p) => named.includes(p) || services.some((s) => selects(s, p)));
  for (const p of pods) keep.add(p);
  const serviceKeys = new Set(services.map((s) => `${ns(s)}/${s.metadata?.name}`));
  for (const o of all) {
    if (o.kind === 'EndpointSlice' && serviceKeys.has(`${ns(o)}/${o.metadata?.labels?.['kubernetes.io/service-name'] ?? ''}`)) keep.add(o);
    if (o.kind === 'Endpoints' && serviceKeys.has(`${ns(o)}/${o.metadata?.name}`)) keep.add(o);
  }
  const nodeNames = new Set(pods.map((p) => ((p.spec ?? {}) as { nodeName?: string }).nodeName).filter(Boolean));
  for (const o of all) if (o.kind === 'Node' && (nodeNames.has(o.metadata?.name) || nodeIps(o).some((ip) => addresses.has(ip)))) keep.add(o);
  // Owners up the chain (Pod → ReplicaSet → Deployment, Job → CronJob): the workload names come from them.
  const queue = [...pods];
  while (queue.length) {
    const o = queue.pop()!;
    for (const ref of o.metadata?.ownerReferences ?? []) {
      const owner = byKey.get(key(ref.kind ?? '', ns(o), ref.name ?? ''));
      if (owner && !keep.has(owner)) {
        keep.add(owner);
        queue.push(owner);
      }
    }
  }
  const namespaces = new Set([...keep].map(ns).filter(Boolean));
  for (const o of all) if (o.kind === 'Namespace' && namespaces.has(o.metadata?.name ?? '')) keep.add(o);
  const items = all.filter((o) => keep.has(o));
  const kept: Record<string, number> = {};
  for (const o of items) kept[o.kind!] = (kept[o.kind!] ?? 0) + 1;
  if (items.length === 0) return { yaml: null, kept, notes: [...notes, 'no object of the manifest names these addresses'] };
  return { yaml: stringify({ apiVersion: 'v1', kind: 'List', items }, { lineWidth: 0 }), kept, notes };
}
