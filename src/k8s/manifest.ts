/**
 * Loads a cluster's saved objects: whatever `kubectl get ... -A -o yaml|json` writes
 * (a List, a PodList from the API, a multi-document YAML stream, single objects, JSON
 * arrays or concatenated JSON values as `jq '.items[]'` prints them), gzipped or not
 * (by magic), UTF-8 or UTF-16 with a BOM (PowerShell redirects), and directories of
 * such files. Unknown kinds are counted and skipped; a document that is not a
 * Kubernetes object is a warning; only an unreadable or unparsable file throws.
 */
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import type { Document } from 'yaml';
import { canonicalIp, parseCidr } from './ip.js';
import {
  emptyModel,
  type ClusterModel, type ContainerPort, type EndpointPortRecord, type EndpointRecord, type EndpointSliceRecord,
  type NamespaceRecord, type NodeAddress, type NodeRecord, type ObjectRef, type OwnerRef, type PodRecord,
  type ServicePort, type ServiceRecord, type WorkloadRecord,
} from './model.js';

export * from './model.js';

/** An unreadable or unparsable manifest file. `line`/`column` are 1-based when known. */
export class ManifestError extends Error {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  constructor(file: string, reason: string, line: number | null = null, column: number | null = null) {
    const where = line === null ? '' : column === null ? ` at line ${line}` : ` at line ${line}, column ${column}`;
    super(`${file}${where}: ${reason}`);
    this.name = 'ManifestError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** One input held in memory: its name (for messages) and its bytes or text. */
export interface ManifestInput {
  name: string;
  data: Buffer | string;
}

/**
 * Reads files and directories (recursively, in name order, skipping dot-files; a
 * file in a directory that is not text is skipped with a warning) into one model.
 */
export async function loadManifests(paths: string[]): Promise<ClusterModel> {
  const b = new ModelBuilder();
  const seenDirs = new Set<string>();
  for (const p of paths) await loadPath(b, p, true, seenDirs);
  return b.finish();
}

/** The same from buffers already in memory (gzip detected by magic). */
export function parseManifests(inputs: ManifestInput[]): ClusterModel {
  const b = new ModelBuilder();
  for (const input of inputs) b.addFile(input.name, input.data, true);
  return b.finish();
}

/**
 * The objects of manifest files and inputs as written (Lists flattened), read exactly as
 * loadManifests reads them (gzip, UTF-16, JSON arrays and streams, directories): for writing a
 * part of a manifest back out. Files that cannot be read throw ManifestError, as for loading.
 */
export async function manifestObjects(paths: string[], inputs: ManifestInput[] = []): Promise<Array<Record<string, unknown>>> {
  const objects: Obj[] = [];
  const b = new ModelBuilder(objects);
  const seenDirs = new Set<string>();
  for (const p of paths) await loadPath(b, p, true, seenDirs);
  for (const input of inputs) b.addFile(input.name, input.data, true);
  return objects;
}

async function loadPath(b: ModelBuilder, path: string, explicit: boolean, seenDirs: Set<string>): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new ManifestError(path, `cannot read: ${errText(e)}`);
  }
  if (st.isDirectory()) {
    let real: string;
    let entries: string[];
    try {
      real = await realpath(path);
      entries = await readdir(path);
    } catch (e) {
      throw new ManifestError(path, `cannot read directory: ${errText(e)}`);
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    entries.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    for (const name of entries) {
      if (name.startsWith('.')) continue;
      await loadPath(b, join(path, name), false, seenDirs);
    }
    return;
  }
  if (!st.isFile()) {
    if (explicit) throw new ManifestError(path, 'not a regular file');
    return;
  }
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    throw new ManifestError(path, `cannot read: ${errText(e)}`);
  }
  b.addFile(path, data, explicit);
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code} (${err.message})` : String(err?.message ?? e);
}

// ---------------------------------------------------------------------------
// Text: bytes to JavaScript values

function decode(file: string, data: Buffer | string): string | null {
  if (typeof data === 'string') return data.charCodeAt(0) === 0xfeff ? data.slice(1) : data;
  let buf = data;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new ManifestError(file, `corrupt gzip data: ${errText(e)}`);
    }
  }
  let text: string;
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) {
    text = new TextDecoder('utf-16le').decode(buf.subarray(2));
  } else if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    text = new TextDecoder('utf-16be').decode(buf.subarray(2));
  } else {
    const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    text = buf.toString('utf8', start);
  }
  return text.includes('\0') ? null : text;
}

/** 1-based line and column of a character offset. */
function lineCol(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(pos, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) { line++; lineStart = i + 1; }
  }
  return { line, column: end - lineStart + 1 };
}

/** Where JSON.parse stopped, from V8's message ("at position 11", "(line 3 column 1)"). */
function jsonErrorPos(text: string, e: unknown): { line: number; column: number; reason: string } {
  const msg = e instanceof Error ? e.message : String(e);
  const reason = msg.replace(/\s*(in JSON )?at position \d+.*$/s, '').replace(/\s*\(line \d+ column \d+\)/, '');
  const lc = /line (\d+) column (\d+)/.exec(msg);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]), reason };
  const p = /at position (\d+)/.exec(msg);
  if (p) return { ...lineCol(text, Number(p[1])), reason };
  return { ...lineCol(text, text.length), reason };
}

/**
 * Splits text holding several top-level JSON objects/arrays one after another into
 * their [start, end) spans; null when it is not such a stream.
 */
function splitJsonStream(text: string): Array<[number, number]> | null {
  const spans: Array<[number, number]> = [];
  let depth = 0;
  let inStr = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; // backslash
      else if (c === 34) inStr = false;
      continue;
    }
    if (c === 34) { if (depth === 0) return null; inStr = true; continue; }
    if (c === 123 || c === 91) { if (depth === 0) start = i; depth++; continue; }
    if (c === 125 || c === 93) {
      depth--;
      if (depth < 0) return null;
      if (depth === 0) spans.push([start, i + 1]);
      continue;
    }
    if (depth === 0 && c !== 32 && c !== 9 && c !== 10 && c !== 13) return null;
  }
  return depth === 0 && spans.length > 1 ? spans : null;
}

/** A value to walk, and how to find a line for a path inside it. */
interface ParsedDoc {
  value: unknown;
  line: number | null;
  lineOf: (path: Array<string | number>) => number | null;
}

function parseText(file: string, text: string): ParsedDoc[] {
  let i = 0;
  while (i < text.length && /\s/.test(text[i])) i++;
  const first = text[i];
  if (first === '{' || first === '[') {
    try {
      const value: unknown = JSON.parse(text);
      return [{ value, line: lineCol(text, i).line, lineOf: () => null }];
    } catch (jsonErr) {
      const spans = splitJsonStream(text);
      if (spans) {
        return spans.map(([s, e]) => {
          const line = lineCol(text, s).line;
          try {
            return { value: JSON.parse(text.slice(s, e)) as unknown, line, lineOf: () => line };
          } catch (err) {
            const p = jsonErrorPos(text.slice(s, e), err);
            const col = p.line === 1 ? lineCol(text, s).column + p.column - 1 : p.column;
            throw new ManifestError(file, `invalid JSON: ${p.reason}`, line + p.line - 1, col);
          }
        });
      }
      // YAML is a superset of JSON: a flow-style YAML file may still read.
      try {
        return parseYaml(file, text);
      } catch {
        const p = jsonErrorPos(text, jsonErr);
        throw new ManifestError(file, `invalid JSON: ${p.reason}`, p.line, p.column);
      }
    }
  }
  return parseYaml(file, text);
}

function parseYaml(file: string, text: string): ParsedDoc[] {
  // yaml loaded here, on the first manifest read (~35 ms that commands without one do not pay).
  const { LineCounter, parseAllDocuments } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lc = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: true }) as Document.Parsed[];
  } catch (e) {
    throw new ManifestError(file, `invalid YAML: ${errText(e)}`);
  }
  if (!Array.isArray(docs)) return [];
  const out: ParsedDoc[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const reason = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new ManifestError(file, `invalid YAML: ${reason}`, pos?.line ?? null, pos?.col ?? null);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 10_000 });
    } catch (e) {
      const line = doc.contents?.range ? lc.linePos(doc.contents.range[0]).line : null;
      throw new ManifestError(file, `invalid YAML: ${errText(e)}`, line);
    }
    const line = doc.contents?.range ? lc.linePos(doc.contents.range[0]).line : null;
    const lineOf = (path: Array<string | number>): number | null => {
      try {
        const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
        return node?.range ? lc.linePos(node.range[0]).line : line;
      } catch {
        return line;
      }
    };
    out.push({ value, line, lineOf });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Objects: JavaScript values to records

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const int = (v: unknown): number | null => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
};
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
/** µs since the epoch from an RFC 3339 string (or a YAML timestamp already made a Date). */
const time = (v: unknown): number | null => {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? ms * 1000 : null;
};
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};
const ips = (vals: unknown[]): string[] => {
  const out: string[] = [];
  for (const v of vals) {
    const ip = canonicalIp(v);
    if (ip !== null && !out.includes(ip)) out.push(ip);
  }
  return out;
};

function owners(md: Obj): OwnerRef[] {
  const out: OwnerRef[] = [];
  for (const r of arr(md.ownerReferences)) {
    const o = obj(r);
    const kind = str(o.kind);
    const name = str(o.name);
    if (kind && name) out.push({ kind, name, uid: str(o.uid), controller: o.controller === true });
  }
  return out;
}

/** API group of an apiVersion: "" for the core group ("v1") and when absent. */
function groupOf(apiVersion: unknown): string {
  const a = typeof apiVersion === 'string' ? apiVersion : '';
  const slash = a.indexOf('/');
  return slash < 0 ? '' : a.slice(0, slash);
}

/** Kinds podcap uses, with the API groups they may come from. */
const KNOWN: Record<string, string[]> = {
  Pod: [''],
  Service: [''],
  Endpoints: [''],
  Node: [''],
  Namespace: [''],
  ReplicationController: [''],
  EndpointSlice: ['discovery.k8s.io'],
  ReplicaSet: ['apps', 'extensions'],
  Deployment: ['apps', 'extensions'],
  StatefulSet: ['apps'],
  DaemonSet: ['apps', 'extensions'],
  Job: ['batch'],
  CronJob: ['batch'],
};

const WORKLOAD_KINDS = new Set(['ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

const MAX_WARNINGS = 500;

interface Where {
  file: string;
  line: number | null;
}

class ModelBuilder {
  /** `objects`: when given, every object read is also kept there as written (for manifestObjects). */
  constructor(private readonly objects: Obj[] | null = null) {}

  private readonly model = emptyModel();
  private readonly pods = new Map<string, PodRecord>();
  private readonly services = new Map<string, ServiceRecord>();
  private readonly slices = new Map<string, EndpointSliceRecord[]>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly workloads = new Map<string, WorkloadRecord>();
  private readonly namespaces = new Map<string, NamespaceRecord>();
  /** resourceVersion of the copy kept, per object key. */
  private readonly versions = new Map<string, string | null>();

  addFile(file: string, data: Buffer | string, explicit: boolean): void {
    const text = decode(file, data);
    if (text === null) {
      if (explicit) throw new ManifestError(file, 'not a text file (binary data); expected YAML or JSON, optionally gzipped');
      this.warn({ file, line: null }, 'skipped: not a text file');
      return;
    }
    this.model.files.push(file);
    for (const doc of parseText(file, text)) {
      this.visit(doc.value, doc, file, [], null, null, 0);
    }
  }

  warn(where: Where, message: string): void {
    if (this.model.warnings.length >= MAX_WARNINGS) {
      this.model.warningsDropped++;
      return;
    }
    this.model.warnings.push({ file: where.file, line: where.line, message });
  }

  private visit(
    v: unknown, doc: ParsedDoc, file: string, path: Array<string | number>,
    itemKind: string | null, itemApiVersion: unknown, depth: number,
  ): void {
    if (v === null || v === undefined) return; // an empty document ("---" at the end)
    const where = (): Where => ({ file, line: path.length === 0 ? doc.line : doc.lineOf(path) });
    const label = path.length === 0 ? 'document' : `item ${path.map((x) => (typeof x === 'number' ? `[${x}]` : `.${x}`)).join('').replace(/^\./, '')}`;
    if (Array.isArray(v)) {
      if (depth > 8) return this.warn(where(), `${label}: lists nested too deep, skipped`);
      v.forEach((x, i) => this.visit(x, doc, file, [...path, i], itemKind, itemApiVersion, depth + 1));
      return;
    }
    if (!isObj(v)) {
      return this.warn(where(), `${label} is not a Kubernetes object (a ${typeof v}), skipped`);
    }
    const kind = str(v.kind) ?? itemKind;
    if (!kind) return this.warn(where(), `${label} is not a Kubernetes object (no kind), skipped`);
    if (Array.isArray(v.items) && (kind === 'List' || kind.endsWith('List'))) {
      if (depth > 8) return this.warn(where(), `${label}: lists nested too deep, skipped`);
      const inner = kind === 'List' ? null : kind.slice(0, -4);
      const innerApi = kind === 'List' ? null : v.apiVersion;
      v.items.forEach((x, i) => this.visit(x, doc, file, [...path, 'items', i], inner, innerApi, depth + 1));
      return;
    }
    // An item of a typed List (PodList, ...) takes its kind and apiVersion from the List.
    this.objects?.push(v.kind === undefined || v.apiVersion === undefined ? { ...v, kind, apiVersion: v.apiVersion ?? itemApiVersion } : v);
    this.addObject(kind, groupOf(v.apiVersion ?? itemApiVersion), v, where, label);
  }

  private addObject(kind: string, group: string, o: Obj, where: () => Where, label: string): void {
    const known = KNOWN[kind]?.includes(group) ?? false;
    const key = known || group === '' ? kind : `${kind}.${group}`;
    const kinds = this.model.kinds;
    kinds[key] = (kinds[key] ?? 0) + 1;
    if (!known) {
      this.model.ignored[key] = (this.model.ignored[key] ?? 0) + 1;
      return;
    }
    const md = obj(o.metadata);
    const name = str(md.name);
    if (!name) return this.warn(where(), `${label}: ${kind} without metadata.name, skipped`);
    const namespace = str(md.namespace) ?? 'default';
    const file = where().file;
    const uid = str(md.uid);
    const okey = uid ? `${kind}|${uid}` : `${kind}|${kind === 'Node' || kind === 'Namespace' ? '' : namespace}/${name}`;
    if (!this.keep(okey, md.resourceVersion)) return;
    switch (kind) {
      case 'Pod': this.pods.set(okey, pod(o, md, name, namespace, file)); break;
      case 'Service': this.services.set(okey, service(o, md, name, namespace, file)); break;
      case 'EndpointSlice': this.slices.set(okey, [endpointSlice(o, md, name, namespace, file)]); break;
      case 'Endpoints': this.slices.set(okey, legacyEndpoints(o, name, namespace, file)); break;
      case 'Node': this.nodes.set(okey, node(o, md, name, file)); break;
      case 'Namespace':
        this.namespaces.set(okey, { name, uid, labels: strMap(md.labels), phase: str(obj(o.status).phase) });
        break;
      default:
        if (WORKLOAD_KINDS.has(kind)) {
          this.workloads.set(okey, {
            kind, name, namespace, uid, labels: strMap(md.labels), owners: owners(md), created: time(md.creationTimestamp), file,
          });
        }
    }
  }

  /** Whether an object replaces the copy already read (the later one wins unless its resourceVersion is older). */
  private keep(key: string, resourceVersion: unknown): boolean {
    const rv = typeof resourceVersion === 'string' || typeof resourceVersion === 'number' ? String(resourceVersion) : null;
    if (!this.versions.has(key)) {
      this.versions.set(key, rv);
      return true;
    }
    this.model.duplicates++;
    const old = this.versions.get(key) ?? null;
    if (old !== null && rv !== null && /^\d+$/.test(old) && /^\d+$/.test(rv) && BigInt(rv) < BigInt(old)) return false;
    this.versions.set(key, rv);
    return true;
  }

  finish(): ClusterModel {
    const m = this.model;
    m.pods = [...this.pods.values()];
    m.services = [...this.services.values()];
    m.endpointSlices = [...this.slices.values()].flat();
    m.nodes = [...this.nodes.values()];
    m.workloads = [...this.workloads.values()];
    m.namespaces = [...this.namespaces.values()];
    return m;
  }
}

function pod(o: Obj, md: Obj, name: string, namespace: string, file: string): PodRecord {
  const spec = obj(o.spec);
  const status = obj(o.status);
  const ports: ContainerPort[] = [];
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const co = obj(c);
    for (const p of arr(co.ports)) {
      const po = obj(p);
      const containerPort = int(po.containerPort);
      if (containerPort === null) continue;
      ports.push({
        container: str(co.name) ?? '', containerPort, hostPort: int(po.hostPort),
        protocol: str(po.protocol) ?? 'TCP', name: str(po.name),
      });
    }
  }
  const phase = str(status.phase);
  let finished: number | null = null;
  if (phase === 'Succeeded' || phase === 'Failed') {
    for (const cs of arr(status.containerStatuses)) {
      const t = time(obj(obj(obj(cs).state).terminated).finishedAt);
      if (t !== null && (finished === null || t > finished)) finished = t;
    }
    if (finished === null) {
      for (const c of arr(status.conditions)) {
        const co = obj(c);
        if ((co.type === 'Ready' || co.type === 'ContainersReady') && co.status === 'False') {
          const t = time(co.lastTransitionTime);
          if (t !== null && (finished === null || t > finished)) finished = t;
        }
      }
    }
  }
  const annotations = strMap(md.annotations);
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  return {
    name, namespace, uid: str(md.uid), labels: strMap(md.labels), annotations, owners: owners(md),
    nodeName: str(spec.nodeName), hostNetwork: spec.hostNetwork === true,
    ips: ips([status.podIP, ...arr(status.podIPs).map((x) => obj(x).ip)]),
    hostIPs: ips([status.hostIP, ...arr(status.hostIPs).map((x) => obj(x).ip)]),
    phase, created: time(md.creationTimestamp), started: time(status.startTime), deleted: time(md.deletionTimestamp),
    finished, ports, inferred: false, file,
  };
}

function service(o: Obj, md: Obj, name: string, namespace: string, file: string): ServiceRecord {
  const spec = obj(o.spec);
  const ports: ServicePort[] = [];
  for (const p of arr(spec.ports)) {
    const po = obj(p);
    const port = int(po.port);
    if (port === null) continue;
    const tp = po.targetPort;
    ports.push({
      name: str(po.name), port,
      targetPort: typeof tp === 'number' ? tp : typeof tp === 'string' && tp !== '' ? (/^\d+$/.test(tp) ? Number(tp) : tp) : null,
      protocol: str(po.protocol) ?? 'TCP', nodePort: int(po.nodePort),
    });
  }
  const headless = spec.clusterIP === 'None';
  const selector = isObj(spec.selector) && Object.keys(spec.selector).length > 0 ? strMap(spec.selector) : null;
  return {
    name, namespace, uid: str(md.uid), labels: strMap(md.labels), type: str(spec.type) ?? 'ClusterIP',
    clusterIPs: headless ? [] : ips([spec.clusterIP, ...arr(spec.clusterIPs)]), headless,
    externalIPs: ips(arr(spec.externalIPs)),
    loadBalancerIPs: ips([...arr(obj(obj(o.status).loadBalancer).ingress).map((x) => obj(x).ip), spec.loadBalancerIP]),
    externalName: str(spec.externalName), ports, selector,
    created: time(md.creationTimestamp), deleted: time(md.deletionTimestamp), file,
  };
}

function objectRef(v: unknown, defaultNamespace: string): ObjectRef | null {
  if (!isObj(v)) return null;
  const kind = str(v.kind);
  const name = str(v.name);
  if (!kind || !name) return null;
  return { kind, name, namespace: str(v.namespace) ?? defaultNamespace, uid: str(v.uid) };
}

function endpointPorts(v: unknown): EndpointPortRecord[] {
  return arr(v).map((p) => {
    const po = obj(p);
    return { name: str(po.name), port: int(po.port), protocol: str(po.protocol) ?? 'TCP' };
  });
}

function endpointSlice(o: Obj, md: Obj, name: string, namespace: string, file: string): EndpointSliceRecord {
  const endpoints: EndpointRecord[] = [];
  for (const e of arr(o.endpoints)) {
    const eo = obj(e);
    const cond = obj(eo.conditions);
    endpoints.push({
      addresses: ips(arr(eo.addresses)), targetRef: objectRef(eo.targetRef, namespace),
      ready: bool(cond.ready), serving: bool(cond.serving), terminating: bool(cond.terminating),
      nodeName: str(eo.nodeName) ?? str(obj(eo.topology)['kubernetes.io/hostname']),
    });
  }
  return {
    source: 'EndpointSlice', name, namespace, service: str(strMap(md.labels)['kubernetes.io/service-name']),
    addressType: str(o.addressType) ?? 'IPv4', endpoints, ports: endpointPorts(o.ports), file,
  };
}

function legacyEndpoints(o: Obj, name: string, namespace: string, file: string): EndpointSliceRecord[] {
  return arr(o.subsets).map((s) => {
    const so = obj(s);
    const endpoints: EndpointRecord[] = [];
    for (const [list, ready] of [[so.addresses, true], [so.notReadyAddresses, false]] as const) {
      for (const a of arr(list)) {
        const ao = obj(a);
        endpoints.push({
          addresses: ips([ao.ip]), targetRef: objectRef(ao.targetRef, namespace),
          ready, serving: ready, terminating: null, nodeName: str(ao.nodeName),
        });
      }
    }
    const family = endpoints.some((e) => e.addresses.some((x) => x.includes(':'))) ? 'IPv6' : 'IPv4';
    return { source: 'Endpoints' as const, name, namespace, service: name, addressType: family, endpoints, ports: endpointPorts(so.ports), file };
  });
}

function node(o: Obj, md: Obj, name: string, file: string): NodeRecord {
  const spec = obj(o.spec);
  const addresses: NodeAddress[] = [];
  for (const a of arr(obj(o.status).addresses)) {
    const ao = obj(a);
    const address = str(ao.address);
    if (address) addresses.push({ type: str(ao.type) ?? '', address: canonicalIp(address) ?? address });
  }
  const cidrs: string[] = [];
  for (const c of [spec.podCIDR, ...arr(spec.podCIDRs)]) {
    const p = parseCidr(c);
    if (p && !cidrs.includes(p.text)) cidrs.push(p.text);
  }
  return {
    name, uid: str(md.uid), labels: strMap(md.labels), addresses,
    ips: ips(addresses.map((a) => a.address)), podCIDRs: cidrs,
    created: time(md.creationTimestamp), deleted: time(md.deletionTimestamp), file,
  };
}
