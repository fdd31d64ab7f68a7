/**
 * The part of a snapshot's cluster manifest that names a set of addresses: the
 * pods, services and nodes holding them, and what podcap needs to name them the
 * same way again (the pods' owners up to their workload, the services' endpoint
 * slices, the services selecting the pods kept, the namespaces). Read from the
 * snapshot's own manifest files (named at import, or found beside the captures),
 * written back as one `kind: List` YAML that the k8s loader reads.
 */
import { createRequire } from 'node:module';
import { readLocation } from '../capture/index.js';
import { canonicalIp } from '../k8s/ip.js';
import { manifestObjects } from '../k8s/manifest.js';
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

/** Every object of the snapshot's manifest files, read as the import read them (k8s/manifest.ts). */
async function snapshotObjects(snap: SnapshotMeta, notes: string[]): Promise<Obj[]> {
  const out: Obj[] = [];
  for (const name of snap.kubernetes?.files ?? []) {
    try {
      // A manifest found inside a tar beside the captures is read from where it lies in the archive.
      const side = snap.skipped.find((s) => s.name === name && s.location);
      const objects = side?.location
        ? await manifestObjects([], [{ name, data: await readLocation(side.location, side.location.kind === 'file' ? MAX_MANIFEST : Math.min(side.location.available, MAX_MANIFEST)) }])
        : await manifestObjects([name]);
      for (const o of objects) if (typeof o.kind === 'string') out.push(o as Obj);
    } catch (e) {
      notes.push(`${name}: not read again (${(e as Error).message})`);
    }
  }
  return out;
}

/** Addresses as the records write them, whatever form the manifest wrote them in. */
function canonical(ips: Array<string | undefined>): string[] {
  return ips.map((ip) => canonicalIp(ip)).filter((x): x is string => x !== null);
}

const ns = (o: Obj): string => o.metadata?.namespace ?? '';
const key = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

function podIps(o: Obj): string[] {
  const st = (o.status ?? {}) as { podIP?: string; podIPs?: Array<{ ip?: string }>; hostIP?: string };
  const spec = (o.spec ?? {}) as { hostNetwork?: boolean };
  return canonical([st.podIP, ...(st.podIPs ?? []).map((p) => p.ip), spec.hostNetwork ? st.hostIP : undefined]);
}

function serviceIps(o: Obj): string[] {
  const spec = (o.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[]; externalIPs?: string[] };
  return canonical([spec.clusterIP, ...(spec.clusterIPs ?? []), ...(spec.externalIPs ?? [])]);
}

function nodeIps(o: Obj): string[] {
  const st = (o.status ?? {}) as { addresses?: Array<{ address?: string }> };
  return canonical((st.addresses ?? []).map((a) => a.address));
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
  const all = await snapshotObjects(snap, notes);
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
  // yaml loaded here, when a bundle is written, not by every command that loads the CLI.
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return { yaml: stringify({ apiVersion: 'v1', kind: 'List', items }, { lineWidth: 0 }), kept, notes };
}
