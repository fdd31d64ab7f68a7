/**
 * make-incident-fixture: the bundled sample incident, fixtures/sample/, made from real traffic.
 *
 * A small shop runs as real servers and clients in this one Node process, every party on its own
 * loopback address:
 *
 *   frontend  --HTTP/1.1 JSON, Bearer JWT-->  checkout (Service)
 *   checkout  --gRPC unary, Bearer JWT----->  payment-svc (Service)   payments.v1.Payments/Charge
 *   checkout  --HTTP/2 h2c, NO credentials->  inventory (Service)     GET /inventory/{sku}
 *   every client resolves names through dnsmasq (kube-dns) with glibc's search-path expansion
 *
 * Each pod has a 127.0.0.x address and each Service a 127.0.1.x "ClusterIP" on which its backend
 * pod also listens; clients bind their source address to their own pod address and connect to the
 * Service address, as a pod connects to a ClusterIP. dnsmasq answers with the FINAL ClusterIPs
 * (10.96.x.x), since rewriting does not touch DNS payloads; clients map an answer to the loopback
 * Service address with the table below.
 *
 * The incident: a normal phase, then payment answers every Charge with UNAVAILABLE ("payment
 * provider unreachable") and checkout answers the frontend 502, then payment recovers. Once in the
 * normal phase the frontend looks up a misspelt name that resolves nowhere.
 *
 * tcpdump captures it on lo; tcprewrite --pnat maps 127.0.0.x to the pod IPs and 127.0.1.x to the
 * ClusterIPs (--fixcsum) into fixtures/sample/capture.pcap. The script writes the matching cluster
 * manifest (cluster.yaml, as `kubectl get namespaces,nodes,pods,services,endpointslices,deployments,
 * replicasets -A -o yaml` writes it), the payments .proto, the ground truth from the clients' side
 * (expected.json) and a README, then checks the capture with tshark against the ground truth and
 * exits non-zero on any mismatch.
 *
 *   npm run build && node dist/scripts/make-incident-fixture.js
 *
 * Environment: SAMPLE_QUICK=1 shortens the phases (for trying the script; not for committing).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import YAML from 'yaml';
import {
  asArray,
  assertPortFree,
  type Capturer,
  capturerDrops,
  closeServer,
  FixtureError,
  haveTool,
  listen,
  log,
  readBody,
  rel,
  ROOT,
  runTool,
  sendJson,
  setLogPrefix,
  sleep,
  startCapturer,
  stopCapturer,
  tsharkJson,
  tsharkLines,
} from './fixture-lib.js';
import { mulberry32 as prng } from './prng.js';

setLogPrefix('incident-fixture');

const GENERATED_BY = 'scripts/make-incident-fixture.ts';
const OUT = join(ROOT, 'fixtures', 'sample');
const CAPTURE = join(OUT, 'capture.pcap');
const MANIFEST = join(OUT, 'cluster.yaml');
const EXPECTED = join(OUT, 'expected.json');
const README = join(OUT, 'README.md');
const PROTO_DIR = join(OUT, 'protos');
const PROTO = join(PROTO_DIR, 'payments', 'v1', 'payments.proto');

const QUICK = process.env.SAMPLE_QUICK === '1';
/** Phase lengths (ms) and the frontend's pace. */
const NORMAL_MS = QUICK ? 8_000 : 30_000;
const OUTAGE_MS = QUICK ? 6_000 : 20_000;
const RECOVERY_MS = QUICK ? 6_000 : 20_000;
const TICK_MS = 350; // one frontend call every TICK_MS ± 100 ms
const TYPO_AT_MS = QUICK ? 3_000 : 12_000;
const DNS_TTL_S = 10;
const MAX_CAPTURE_BYTES = 1_000_000;

// ---------------------------------------------------------------------------------------------
// The address plan
// ---------------------------------------------------------------------------------------------

interface NodeDef {
  name: string;
  internalIP: string;
  podCIDR: string;
  zone: string;
}
const NODES: NodeDef[] = [
  { name: 'shop-worker-a', internalIP: '10.0.1.21', podCIDR: '10.244.1.0/24', zone: 'eu-west-1a' },
  { name: 'shop-worker-b', internalIP: '10.0.2.22', podCIDR: '10.244.2.0/24', zone: 'eu-west-1b' },
];

interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}
interface PodDef {
  app: string; // Deployment name and app label
  namespace: string;
  rsHash: string; // pod-template-hash
  suffix: string;
  node: string;
  loopback: string;
  ip: string;
  image: string;
  ports: ContainerPort[];
  labels: Record<string, string>;
  serviceAccount: string;
}
const podName = (p: PodDef): string => `${p.app}-${p.rsHash}-${p.suffix}`;

const PODS: PodDef[] = [
  {
    app: 'frontend', namespace: 'shop', rsHash: '6c9d8b7f4', suffix: 'q8m2z', node: 'shop-worker-a', loopback: '127.0.0.11', ip: '10.244.1.11',
    image: 'registry.shop.example/frontend:2.4.1', ports: [{ name: 'http', containerPort: 3000, protocol: 'TCP' }],
    labels: { app: 'frontend', 'app.kubernetes.io/name': 'frontend', 'app.kubernetes.io/part-of': 'shop', tier: 'web' }, serviceAccount: 'frontend',
  },
  {
    app: 'checkout', namespace: 'shop', rsHash: '7d9f8c6b5', suffix: 'xk2p9', node: 'shop-worker-a', loopback: '127.0.0.12', ip: '10.244.1.12',
    image: 'registry.shop.example/checkout:1.8.0', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    labels: { app: 'checkout', 'app.kubernetes.io/name': 'checkout', 'app.kubernetes.io/part-of': 'shop', tier: 'backend' }, serviceAccount: 'checkout',
  },
  {
    app: 'payment', namespace: 'shop', rsHash: '5f6b9c8d7', suffix: 'r4t7w', node: 'shop-worker-b', loopback: '127.0.0.13', ip: '10.244.2.13',
    image: 'registry.shop.example/payment:3.2.0', ports: [{ name: 'grpc', containerPort: 50051, protocol: 'TCP' }],
    labels: { app: 'payment', 'app.kubernetes.io/name': 'payment', 'app.kubernetes.io/part-of': 'shop', tier: 'backend' }, serviceAccount: 'payment',
  },
  {
    app: 'inventory', namespace: 'shop', rsHash: '84c7f9d6b', suffix: 'm9n4k', node: 'shop-worker-b', loopback: '127.0.0.14', ip: '10.244.2.14',
    image: 'registry.shop.example/inventory:0.9.7', ports: [{ name: 'h2c', containerPort: 8081, protocol: 'TCP' }],
    labels: { app: 'inventory', 'app.kubernetes.io/name': 'inventory', 'app.kubernetes.io/part-of': 'shop', tier: 'backend' }, serviceAccount: 'inventory',
  },
  {
    app: 'coredns', namespace: 'kube-system', rsHash: '5d78c9869d', suffix: 'h7kq2', node: 'shop-worker-b', loopback: '127.0.0.53', ip: '10.244.2.53',
    image: 'registry.k8s.io/coredns/coredns:v1.11.1',
    ports: [
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
    ],
    labels: { 'k8s-app': 'kube-dns' }, serviceAccount: 'coredns',
  },
];
const pod = (app: string): PodDef => PODS.find((p) => p.app === app)!;

interface SvcPort {
  name: string;
  port: number;
  targetPort: number | string;
  /** The container port the target resolves to. */
  podPort: number;
  protocol: 'TCP' | 'UDP';
  appProtocol?: string;
}
interface SvcDef {
  name: string;
  namespace: string;
  backend: string; // app of the backing Deployment
  selector: Record<string, string>;
  loopback: string;
  clusterIP: string;
  ports: SvcPort[];
  sliceSuffix: string;
  labels: Record<string, string>;
}
const SERVICES: SvcDef[] = [
  {
    name: 'frontend', namespace: 'shop', backend: 'frontend', selector: { app: 'frontend' }, loopback: '127.0.1.11', clusterIP: '10.96.14.210',
    ports: [{ name: 'http', port: 80, targetPort: 'http', podPort: 3000, protocol: 'TCP', appProtocol: 'http' }], sliceSuffix: 'b7x9q', labels: { app: 'frontend' },
  },
  {
    name: 'checkout', namespace: 'shop', backend: 'checkout', selector: { app: 'checkout' }, loopback: '127.0.1.12', clusterIP: '10.96.112.40',
    ports: [{ name: 'http', port: 80, targetPort: 'http', podPort: 8080, protocol: 'TCP', appProtocol: 'http' }], sliceSuffix: '7xq2b', labels: { app: 'checkout' },
  },
  {
    name: 'payment-svc', namespace: 'shop', backend: 'payment', selector: { app: 'payment' }, loopback: '127.0.1.13', clusterIP: '10.96.87.15',
    ports: [{ name: 'grpc', port: 50051, targetPort: 50051, podPort: 50051, protocol: 'TCP', appProtocol: 'grpc' }], sliceSuffix: 'kz8d4', labels: { app: 'payment' },
  },
  {
    name: 'inventory', namespace: 'shop', backend: 'inventory', selector: { app: 'inventory' }, loopback: '127.0.1.14', clusterIP: '10.96.203.7',
    ports: [{ name: 'h2c', port: 8081, targetPort: 'h2c', podPort: 8081, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }], sliceSuffix: 'p5w2m', labels: { app: 'inventory' },
  },
  {
    name: 'kube-dns', namespace: 'kube-system', backend: 'coredns', selector: { 'k8s-app': 'kube-dns' }, loopback: '127.0.1.10', clusterIP: '10.96.0.10',
    ports: [
      { name: 'dns', port: 53, targetPort: 53, podPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 53, podPort: 53, protocol: 'TCP' },
      { name: 'metrics', port: 9153, targetPort: 9153, podPort: 9153, protocol: 'TCP' },
    ],
    sliceSuffix: 'x2v6n', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
  },
];
const svc = (name: string): SvcDef => SERVICES.find((s) => s.name === name)!;
const svcFqdn = (s: SvcDef): string => `${s.name}.${s.namespace}.svc.cluster.local`;

/** Loopback address -> final address (pod IP or ClusterIP): what tcprewrite --pnat applies. */
const LOOPBACK_TO_FINAL = new Map<string, string>([...PODS.map((p) => [p.loopback, p.ip] as const), ...SERVICES.map((s) => [s.loopback, s.clusterIP] as const)]);
/** ClusterIP (what DNS answers) -> the loopback Service address a client connects to. */
const CLUSTERIP_TO_LOOPBACK = new Map<string, string>(SERVICES.map((s) => [s.clusterIP, s.loopback]));
const finalIp = (loopback: string): string => {
  const ip = LOOPBACK_TO_FINAL.get(loopback);
  if (!ip) throw new FixtureError(`no final address for ${loopback}`);
  return ip;
};

const SEARCH = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
const NDOTS = 5;
const DNS_SVC = svc('kube-dns');
const CHECKOUT_SVC = svc('checkout');
const PAYMENT_SVC = svc('payment-svc');
const INVENTORY_SVC = svc('inventory');
const CHECKOUT_PORT = CHECKOUT_SVC.ports[0]!.port;
const PAYMENT_PORT = PAYMENT_SVC.ports[0]!.port;
const INVENTORY_PORT = INVENTORY_SVC.ports[0]!.port;
/** The names the clients are configured with (as in their environment). */
const NAME_CHECKOUT = 'checkout';
const NAME_PAYMENT = 'payment-svc.shop.svc.cluster.local';
const NAME_INVENTORY = 'inventory.shop';
const NAME_TYPO = 'chekout';
const DECODE_AS = ['-d', `tcp.port==${PAYMENT_PORT},http2`, '-d', `tcp.port==${INVENTORY_PORT},http2`];

// ---------------------------------------------------------------------------------------------
// Small helpers: time, randomness, JWTs
// ---------------------------------------------------------------------------------------------

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);
const isoUs = (us: number): string => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}${String(us % 1000).padStart(3, '0')}Z`;
const isoSec = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

const rand = prng(4711);
const randInt = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const latencyRand = prng(99); // server-side delays, kept apart so they do not shift the operations

const JWT_SECRET = 'podcap-sample-hs256-not-a-real-secret';
function jwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'shop-2024-05' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
}

/** A deterministic UUID (v4 layout) from a name. */
function uid(name: string): string {
  const h = sha256(`podcap-sample/${name}`);
  const v = `4${h.slice(13, 16)}`;
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// Ground truth records
// ---------------------------------------------------------------------------------------------

type Protocol = 'http' | 'http2' | 'grpc';
type PhaseName = 'normal' | 'payment-outage' | 'recovered';

interface CallRecord {
  seq: number;
  requestId: string;
  phase: PhaseName;
  time: string;
  timestampUs: number;
  responseTimestampUs: number | null;
  elapsedMs: number | null;
  protocol: Protocol;
  from: { pod: string; namespace: string; workload: string; ip: string; port: number | null };
  to: { service: string; namespace: string; ip: string; port: number; pod: string; podIp: string; podPort: number };
  method: string;
  path: string;
  endpoint: string; // the path template: /api/cart/{id}
  authority: string;
  grpcService?: string;
  grpcMethod?: string;
  status: number | null;
  grpcStatus?: number;
  grpcStatusName?: string;
  grpcMessage?: string;
  failed: boolean;
  authorization: boolean;
  authScheme: string | null;
  jwtSub: string | null;
  requestBodyBytes: number;
  responseBodyBytes: number | null;
  /** gRPC only: serialized message sizes, as the client wrote and read them (tshark's grpc.message_length). */
  requestMessageBytes?: number[];
  responseMessageBytes?: number[];
  parentRequestSeq: number | null;
  error?: string;
}

interface DnsQueryRecord {
  seq: number;
  lookupSeq: number;
  time: string;
  timestampUs: number;
  from: { pod: string; namespace: string; ip: string; port: number };
  server: { service: string; ip: string; port: number };
  id: number;
  name: string;
  type: 'A' | 'AAAA';
  rcode: string;
  answers: string[];
  /** true when the name queried is the looked-up name plus a search domain. */
  searchPath: boolean;
  /**
   * answer: carried the address; nodata: NOERROR without records of this type; search-path-nxdomain:
   * an NXDOMAIN the search path expects on the way to a name that resolved; failed-lookup-nxdomain:
   * an NXDOMAIN of a lookup that never resolved (the real failure).
   */
  outcome: 'answer' | 'nodata' | 'search-path-nxdomain' | 'failed-lookup-nxdomain';
  elapsedMs: number;
}

interface DnsLookupRecord {
  seq: number;
  time: string;
  timestampUs: number;
  pod: string;
  name: string;
  candidates: string[];
  queries: number;
  resolved: boolean;
  fqdn: string | null;
  address: string | null;
  connectsTo: string | null;
  why: string;
}

const calls: CallRecord[] = [];
const dnsQueries: DnsQueryRecord[] = [];
const dnsLookups: DnsLookupRecord[] = [];
let phase: PhaseName = 'normal';
const phaseTimes: { name: PhaseName; startUs: number; endUs: number | null }[] = [];

function podRef(p: PodDef, loopbackPort: number | null): CallRecord['from'] {
  return { pod: podName(p), namespace: p.namespace, workload: p.app, ip: p.ip, port: loopbackPort };
}
function svcRef(s: SvcDef): CallRecord['to'] {
  const b = pod(s.backend);
  return { service: s.name, namespace: s.namespace, ip: s.clusterIP, port: s.ports[0]!.port, pod: podName(b), podIp: b.ip, podPort: s.ports[0]!.podPort };
}

// ---------------------------------------------------------------------------------------------
// DNS: a stub resolver that expands the search path as glibc does (ndots:5, A and AAAA in parallel)
// ---------------------------------------------------------------------------------------------

interface DnsPacket {
  id: number;
  type: 'query' | 'response';
  flags?: number;
  rcode?: string;
  questions: { name: string; type: string; class?: string }[];
  answers?: { name: string; type: string; ttl?: number; data: unknown }[];
}
const dnsPacket = createRequire(import.meta.url)('dns-packet') as {
  encode(p: DnsPacket): Buffer;
  decode(b: Buffer): DnsPacket;
  RECURSION_DESIRED: number;
};
const dnsIdRand = prng(53);

/** The names glibc tries for `name`, in order (options ndots:5, the pod's search list). */
function searchCandidates(name: string): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1)];
  const dots = name.split('.').length - 1;
  const expanded = SEARCH.map((d) => `${name}.${d}`);
  return dots >= NDOTS ? [name, ...expanded] : [...expanded, name];
}

class StubResolver {
  private readonly cache = new Map<string, { address: string; expiresMs: number }>();
  private readonly inflight = new Map<string, Promise<string>>();
  constructor(readonly p: PodDef) {}

  /** The loopback Service address to connect to for `name` (resolving it when the cached answer expired). */
  async resolve(name: string, why: string): Promise<string> {
    const c = this.cache.get(name);
    if (c && c.expiresMs > Date.now()) return c.address;
    let f = this.inflight.get(name);
    if (!f) {
      f = this.lookup(name, why).then((r) => {
        this.inflight.delete(name);
        if (!r.address) throw new FixtureError(`${podName(this.p)}: ${name} did not resolve`);
        this.cache.set(name, { address: r.address, expiresMs: Date.now() + r.ttl * 1000 });
        return r.address;
      });
      this.inflight.set(name, f);
    }
    return f;
  }

  /** One getaddrinfo(name, AF_UNSPEC): the search list in order, A and AAAA on one socket per try. */
  async lookup(name: string, why: string): Promise<{ address: string | null; ttl: number; rec: DnsLookupRecord }> {
    const candidates = searchCandidates(name);
    const t0 = nowUs();
    const rec: DnsLookupRecord = {
      seq: dnsLookups.length + 1, time: isoUs(t0), timestampUs: t0, pod: podName(this.p), name, candidates: [], queries: 0,
      resolved: false, fqdn: null, address: null, connectsTo: null, why,
    };
    dnsLookups.push(rec);
    const mine: DnsQueryRecord[] = [];
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind(0, this.p.loopback, () => res());
    });
    let address: string | null = null;
    let ttl = DNS_TTL_S;
    try {
      for (const cand of candidates) {
        rec.candidates.push(cand);
        const [a, aaaa] = await this.exchange(sock, cand, rec.seq, cand !== name);
        mine.push(a, aaaa);
        rec.queries += 2;
        if (a.rcode === 'NOERROR' && a.answers.length > 0) {
          address = a.answers[0]!;
          ttl = a.ttlS ?? DNS_TTL_S;
          rec.resolved = true;
          rec.fqdn = cand;
          rec.address = address;
          break;
        }
      }
    } finally {
      sock.close();
    }
    for (const q of mine) {
      if (q.rcode === 'NXDOMAIN') q.outcome = rec.resolved ? 'search-path-nxdomain' : 'failed-lookup-nxdomain';
    }
    if (address) {
      const lb = CLUSTERIP_TO_LOOPBACK.get(address);
      if (!lb) throw new FixtureError(`${name} resolved to ${address}, which is no Service of the plan`);
      rec.connectsTo = lb;
      log(`  dns ${podName(this.p)}: ${name} -> ${address} after ${rec.queries} queries`);
      return { address: lb, ttl, rec };
    }
    log(`  dns ${podName(this.p)}: ${name} did not resolve (${rec.queries} queries, all NXDOMAIN)`);
    return { address: null, ttl, rec };
  }

  private async exchange(sock: dgram.Socket, qname: string, lookupSeq: number, searchPath: boolean): Promise<(DnsQueryRecord & { ttlS?: number })[]> {
    const types = ['A', 'AAAA'] as const;
    const ids = types.map(() => 1 + Math.floor(dnsIdRand() * 65534));
    if (ids[0] === ids[1]) ids[1] = (ids[0]! % 65535) + 1;
    const recs: (DnsQueryRecord & { ttlS?: number })[] = [];
    const waiting = new Map<number, (p: DnsPacket) => void>();
    const onMsg = (msg: Buffer): void => {
      let p: DnsPacket;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const w = waiting.get(p.id);
      if (w) {
        waiting.delete(p.id);
        w(p);
      }
    };
    sock.on('message', onMsg);
    try {
      const port = sock.address().port;
      const done = types.map((type, i) => {
        const id = ids[i]!;
        const t = nowUs();
        const r: DnsQueryRecord & { ttlS?: number } = {
          seq: dnsQueries.length + 1, lookupSeq, time: isoUs(t), timestampUs: t,
          from: { pod: podName(this.p), namespace: this.p.namespace, ip: this.p.ip, port },
          server: { service: DNS_SVC.name, ip: DNS_SVC.clusterIP, port: 53 },
          id, name: qname, type, rcode: '', answers: [], searchPath, outcome: 'nodata', elapsedMs: 0,
        };
        dnsQueries.push(r);
        recs.push(r);
        const got = new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new FixtureError(`DNS ${type} ${qname}: no answer in 2 s`)), 2000);
          waiting.set(id, (p) => {
            clearTimeout(timer);
            r.elapsedMs = Math.round((nowUs() - t) / 10) / 100;
            r.rcode = p.rcode ?? 'NOERROR';
            const ans = (p.answers ?? []).filter((a) => a.type === type);
            r.answers = ans.map((a) => String(a.data));
            if (ans[0]?.ttl !== undefined) r.ttlS = ans[0].ttl;
            r.outcome = r.rcode === 'NOERROR' ? (r.answers.length > 0 ? 'answer' : 'nodata') : 'failed-lookup-nxdomain';
            res();
          });
        });
        const q = dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: qname, type, class: 'IN' }] });
        sock.send(q, 53, DNS_SVC.loopback);
        return got;
      });
      await Promise.all(done);
    } finally {
      sock.off('message', onMsg);
    }
    return recs;
  }
}

// ---------------------------------------------------------------------------------------------
// The payments .proto (written by this script) and gRPC plumbing
// ---------------------------------------------------------------------------------------------

const PROTO_TEXT = `// The payment service of the podcap sample incident (fixtures/sample/).
// Generated by ${GENERATED_BY}; edit the script, not this file.
syntax = "proto3";

package payments.v1;

// Payments charges a customer's payment method for an order.
service Payments {
  rpc Charge(ChargeRequest) returns (ChargeResponse);
}

message Money {
  string currency_code = 1;
  int64 units = 2;
  int32 nanos = 3;
}

message ChargeRequest {
  string order_id = 1;
  string customer_id = 2;
  Money amount = 3;
  string payment_method_token = 4;
  string idempotency_key = 5;
}

enum ChargeStatus {
  CHARGE_STATUS_UNSPECIFIED = 0;
  CHARGE_STATUS_APPROVED = 1;
  CHARGE_STATUS_DECLINED = 2;
}

message ChargeResponse {
  string transaction_id = 1;
  ChargeStatus status = 2;
  string processor = 3;
  int64 authorized_at_unix_ms = 4;
}
`;
const GRPC_SERVICE = 'payments.v1.Payments';
const GRPC_METHOD = 'Charge';
const GRPC_PATH = `/${GRPC_SERVICE}/${GRPC_METHOD}`;
const PAYMENT_FAILURE_MESSAGE = 'payment provider unreachable';

type Plain = Record<string, unknown>;
interface PaymentsClient extends grpc.Client {
  Charge(req: Plain, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Plain) => void): grpc.ClientUnaryCall;
}

function loadPayments(): grpc.ServiceDefinition {
  const pkg = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [PROTO_DIR] });
  const def = pkg[GRPC_SERVICE] as unknown as grpc.ServiceDefinition | undefined;
  if (!def || !(GRPC_METHOD in def)) throw new FixtureError(`${rel(PROTO)} has no ${GRPC_SERVICE}/${GRPC_METHOD}`);
  return def;
}

/**
 * grpc-js has no channel option for the local address. It passes the addresses its resolver
 * returns straight to net.connect(), so a resolver for the scheme "podcap" returns the Service's
 * loopback address together with `localAddress` (checkout's pod address): the channel's
 * connection then leaves from checkout's address, as every other client's does. The resolver asks
 * the checkout pod's stub resolver (the same DNS lookups, through dnsmasq) for the name.
 */
let paymentResolverSource: { resolver: StubResolver; name: string; localAddress: string } | null = null;
class PodcapResolver {
  constructor(
    private readonly target: { path: string },
    private readonly listener: (endpoints: unknown, attributes: Record<string, unknown>, serviceConfig: null, note: string) => void,
  ) {}
  updateResolution(): void {
    const src = paymentResolverSource;
    if (!src) throw new FixtureError('podcap resolver used before it was configured');
    const [, port] = this.target.path.split(':');
    void src.resolver.resolve(src.name, 'gRPC channel (re)connect').then(
      (host) => this.listener(grpc.experimental.statusOrFromValue([{ addresses: [{ host, port: Number(port), localAddress: src.localAddress }] }]), {}, null, ''),
      (e: Error) => this.listener(grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: e.message, metadata: new grpc.Metadata() }), {}, null, ''),
    );
  }
  destroy(): void {}
  static getDefaultAuthority(target: { path: string }): string {
    return target.path;
  }
}

// ---------------------------------------------------------------------------------------------
// The shop: catalogue, servers and clients
// ---------------------------------------------------------------------------------------------

const SKUS = ['SKU-10231', 'SKU-10477', 'SKU-11802', 'SKU-12090', 'SKU-13356', 'SKU-14421', 'SKU-15003', 'SKU-16718'];
const PRICES: Record<string, number> = Object.fromEntries(SKUS.map((s, i) => [s, 799 + i * 650])); // cents
const CUSTOMERS = ['cust-20417', 'cust-31188', 'cust-40925', 'cust-55302', 'cust-67741'];
const cartItems = (cartId: number): string[] => [SKUS[cartId % SKUS.length]!, SKUS[(cartId * 7 + 3) % SKUS.length]!];

let tokenBaseS = 0;
const userTokens = new Map<string, string>();
function userToken(customer: string): string {
  let t = userTokens.get(customer);
  if (!t) {
    t = jwt({
      iss: 'https://auth.shop.example.com/', sub: customer, aud: 'checkout', iat: tokenBaseS - 600, nbf: tokenBaseS - 600, exp: tokenBaseS + 3000,
      scope: 'cart:read checkout:write', azp: 'storefront-web',
    });
    userTokens.set(customer, t);
  }
  return t;
}
let serviceToken = '';

function sleepJitter(lo: number, hi: number): Promise<void> {
  return sleep(lo + latencyRand() * (hi - lo));
}

// --- inventory: HTTP/2 cleartext -------------------------------------------------------------

function inventoryServer(): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path'] ?? '');
    const m = /^\/inventory\/([A-Z0-9-]+)$/.exec(path);
    void (async () => {
      await sleepJitter(2, 7);
      if (stream.destroyed) return;
      if (headers[':method'] !== 'GET' || !m) {
        stream.respond({ ':status': 404, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ error: 'not_found' }));
        return;
      }
      const sku = m[1]!;
      const n = Number.parseInt(sha256(sku).slice(0, 4), 16);
      const body = JSON.stringify({ sku, available: 5 + (n % 120), reserved: n % 7, warehouse: n % 2 ? 'dub-1' : 'ams-2', updatedAt: new Date().toISOString() });
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' });
      stream.end(body);
    })();
  });
  return server;
}

// --- payment: gRPC ---------------------------------------------------------------------------

let paymentFailing = false;
/** x-request-id -> the client's port, as payment sees its peer (grpc-js's client does not expose its local port). */
const grpcPeerPorts = new Map<string, number>();
let txCounter = 0;
function paymentImpl(): grpc.UntypedServiceImplementation {
  return {
    Charge(call: grpc.ServerUnaryCall<Plain, Plain>, cb: grpc.sendUnaryData<Plain>) {
      const rid = String(call.metadata.get('x-request-id')[0] ?? '');
      const peerPort = Number(/:(\d+)$/.exec(call.getPeer())?.[1]);
      if (rid && peerPort) grpcPeerPorts.set(rid, peerPort);
      void (async () => {
        if (paymentFailing) {
          // The acquirer connection is gone: payment gives up after its own short connect timeout.
          await sleepJitter(28, 45);
          const md = new grpc.Metadata();
          md.set('x-payment-provider', 'acquirer-eu');
          cb({ code: grpc.status.UNAVAILABLE, details: PAYMENT_FAILURE_MESSAGE, metadata: md });
          return;
        }
        await sleepJitter(12, 35);
        txCounter++;
        cb(null, {
          transaction_id: `txn_${sha256(String(call.request.order_id)).slice(0, 16)}`,
          status: 'CHARGE_STATUS_APPROVED',
          processor: 'acquirer-eu',
          authorized_at_unix_ms: String(Date.now()),
        });
      })();
    },
  };
}

// --- checkout: HTTP/1.1 JSON, a client of payment and inventory ---------------------------------

interface CheckoutDeps {
  dns: StubResolver;
  payments: () => PaymentsClient;
  paymentsDef: grpc.ServiceDefinition;
  inventory: () => Promise<http2.ClientHttp2Session>;
}

const checkoutPod = pod('checkout');
const frontendPod = pod('frontend');

/** checkout -> inventory: GET /inventory/{sku} over h2c, without any Authorization header. */
async function getInventory(deps: CheckoutDeps, sku: string, requestId: string, parent: number): Promise<{ ok: boolean; body: Plain | null }> {
  await deps.dns.resolve(NAME_INVENTORY, 'before calling inventory');
  const session = await deps.inventory();
  const path = `/inventory/${sku}`;
  const t0 = nowUs();
  const rec: CallRecord = {
    seq: calls.length + 1, requestId, phase, time: isoUs(t0), timestampUs: t0, responseTimestampUs: null, elapsedMs: null, protocol: 'http2',
    from: podRef(checkoutPod, null), to: svcRef(INVENTORY_SVC), method: 'GET', path,
    endpoint: '/inventory/{sku}', authority: `${NAME_INVENTORY}:${INVENTORY_PORT}`, status: null, failed: true, authorization: false, authScheme: null,
    jwtSub: null, requestBodyBytes: 0, responseBodyBytes: null, parentRequestSeq: parent,
  };
  calls.push(rec);
  return new Promise((resolvePromise) => {
    const req = session.request({
      ':method': 'GET', ':path': path, ':scheme': 'http', ':authority': rec.authority,
      'user-agent': 'checkout/1.8.0 node-http2', accept: 'application/json', 'x-request-id': requestId,
    });
    req.end();
    const parts: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
      rec.from.port = (session.socket as net.Socket | undefined)?.localPort ?? null;
    });
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', (e) => {
      rec.error = e.message;
      resolvePromise({ ok: false, body: null });
    });
    req.on('end', () => {
      const t1 = nowUs();
      const body = Buffer.concat(parts);
      rec.status = status;
      rec.responseTimestampUs = t1;
      rec.elapsedMs = Math.round((t1 - t0) / 10) / 100;
      rec.responseBodyBytes = body.length;
      rec.failed = status >= 500;
      resolvePromise({ ok: status === 200, body: status === 200 ? (JSON.parse(body.toString()) as Plain) : null });
    });
  });
}

/** checkout -> payment: payments.v1.Payments/Charge with `authorization: Bearer <service token>`. */
async function charge(deps: CheckoutDeps, order: Plain, requestId: string, parent: number): Promise<{ ok: boolean; res?: Plain; err?: grpc.ServiceError }> {
  await deps.dns.resolve(NAME_PAYMENT, 'before calling payment');
  const client = deps.payments();
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${serviceToken}`);
  md.set('x-request-id', requestId);
  const req: Plain = {
    order_id: order.orderId, customer_id: order.customerId,
    amount: { currency_code: 'EUR', units: String(Math.floor(Number(order.totalCents) / 100)), nanos: (Number(order.totalCents) % 100) * 10_000_000 },
    payment_method_token: `pm_${sha256(String(order.customerId)).slice(0, 20)}`, idempotency_key: `${order.orderId}-charge-1`,
  };
  const reqBytes = (deps.paymentsDef[GRPC_METHOD]!.requestSerialize as (v: Plain) => Buffer)(req).length;
  const t0 = nowUs();
  const rec: CallRecord = {
    seq: calls.length + 1, requestId, phase, time: isoUs(t0), timestampUs: t0, responseTimestampUs: null, elapsedMs: null, protocol: 'grpc',
    from: podRef(checkoutPod, null), to: svcRef(PAYMENT_SVC), method: 'POST', path: GRPC_PATH, endpoint: GRPC_PATH,
    authority: `${NAME_PAYMENT}:${PAYMENT_PORT}`, grpcService: GRPC_SERVICE, grpcMethod: GRPC_METHOD, status: null, failed: true,
    authorization: true, authScheme: 'Bearer', jwtSub: 'system:serviceaccount:shop:checkout', requestBodyBytes: reqBytes + 5, responseBodyBytes: null,
    requestMessageBytes: [reqBytes], responseMessageBytes: [], parentRequestSeq: parent,
  };
  calls.push(rec);
  return new Promise((resolvePromise) => {
    const call = client.Charge(req, md, { deadline: new Date(Date.now() + 2000) }, (err, res) => {
      const t1 = nowUs();
      rec.responseTimestampUs = t1;
      rec.elapsedMs = Math.round((t1 - t0) / 10) / 100;
      rec.status = 200;
      rec.from.port = grpcPeerPorts.get(requestId) ?? null;
      if (err) {
        rec.grpcStatus = err.code;
        rec.grpcStatusName = grpc.status[err.code];
        rec.grpcMessage = err.details;
        rec.failed = true;
        rec.responseBodyBytes = 0;
        resolvePromise({ ok: false, err });
      } else {
        const resBytes = (deps.paymentsDef[GRPC_METHOD]!.responseSerialize as (v: Plain) => Buffer)(res!).length;
        rec.grpcStatus = 0;
        rec.grpcStatusName = 'OK';
        rec.failed = false;
        rec.responseMessageBytes = [resBytes];
        rec.responseBodyBytes = resBytes + 5;
        resolvePromise({ ok: true, res });
      }
    });
    call.on('status', () => undefined);
  });
}

function checkoutServer(deps: CheckoutDeps): http.Server {
  return http.createServer((req, res) => {
    void (async () => {
      const requestId = String(req.headers['x-request-id'] ?? 'none');
      const parent = calls.find((c) => c.protocol === 'http' && c.requestId === requestId)?.seq ?? null;
      const url = new URL(req.url ?? '/', 'http://checkout');
      const body = await readBody(req);
      if (!String(req.headers.authorization ?? '').startsWith('Bearer ')) return sendJson(res, 401, { error: 'unauthorized' });
      const cart = /^\/api\/cart\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET' && cart) {
        const id = Number(cart[1]);
        if (id % 17 === 0) return sendJson(res, 404, { error: 'cart_not_found', cartId: String(id), requestId });
        const items = cartItems(id);
        const stock = await getInventory(deps, items[0]!, requestId, parent ?? 0);
        return sendJson(res, 200, {
          cartId: String(id), currency: 'EUR', requestId,
          items: items.map((sku, i) => ({ sku, quantity: 1 + ((id + i) % 3), unitPriceCents: PRICES[sku], available: i === 0 ? stock.body?.available ?? null : null })),
        });
      }
      if (req.method === 'POST' && url.pathname === '/api/checkout') {
        const order = JSON.parse(body.toString()) as Plain & { items: { sku: string; quantity: number }[] };
        for (const it of order.items) {
          const s = await getInventory(deps, it.sku, requestId, parent ?? 0);
          if (!s.ok) return sendJson(res, 503, { error: 'inventory_unavailable', orderId: order.orderId, requestId });
        }
        const r = await charge(deps, order, requestId, parent ?? 0);
        if (!r.ok) {
          return sendJson(res, 502, {
            error: 'payment_unavailable', message: `payment service: ${grpc.status[r.err!.code]}: ${r.err!.details}`, orderId: order.orderId,
            retryable: true, requestId,
          });
        }
        return sendJson(res, 200, { orderId: order.orderId, status: 'confirmed', transactionId: r.res!.transaction_id, totalCents: order.totalCents, requestId });
      }
      sendJson(res, 404, { error: 'not_found' });
    })().catch((e: Error) => {
      log(`checkout handler error: ${e.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: e.message });
    });
  });
}

// --- frontend: the client ----------------------------------------------------------------------

const frontendAgent = new http.Agent({ keepAlive: true, maxSockets: 3 });
const frontendDns = new StubResolver(frontendPod);
let requestCounter = 0;

async function frontendCall(op: { method: 'GET' | 'POST'; path: string; endpoint: string; customer: string; body?: Plain }): Promise<void> {
  const host = await frontendDns.resolve(NAME_CHECKOUT, 'before calling checkout');
  const requestId = `req-${String(++requestCounter).padStart(4, '0')}-${sha256(String(requestCounter)).slice(0, 8)}`;
  const body = op.body ? Buffer.from(JSON.stringify(op.body)) : null;
  const t0 = nowUs();
  const rec: CallRecord = {
    seq: calls.length + 1, requestId, phase, time: isoUs(t0), timestampUs: t0, responseTimestampUs: null, elapsedMs: null, protocol: 'http',
    from: podRef(frontendPod, null), to: svcRef(CHECKOUT_SVC), method: op.method, path: op.path, endpoint: op.endpoint, authority: NAME_CHECKOUT,
    status: null, failed: true, authorization: true, authScheme: 'Bearer', jwtSub: op.customer, requestBodyBytes: body?.length ?? 0, responseBodyBytes: null,
    parentRequestSeq: null,
  };
  calls.push(rec);
  const headers: Record<string, string> = {
    host: NAME_CHECKOUT, 'user-agent': 'storefront/2.4.1 (node)', accept: 'application/json', authorization: `Bearer ${userToken(op.customer)}`,
    'x-request-id': requestId,
  };
  if (body) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  }
  await new Promise<void>((resolvePromise) => {
    const req = http.request({ host, port: CHECKOUT_PORT, localAddress: frontendPod.loopback, method: op.method, path: op.path, agent: frontendAgent, headers });
    req.on('error', (e) => {
      rec.error = e.message;
      resolvePromise();
    });
    req.on('response', (res) => {
      rec.from.port = (res.socket as net.Socket).localPort ?? null;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const t1 = nowUs();
        rec.status = res.statusCode ?? 0;
        rec.responseTimestampUs = t1;
        rec.elapsedMs = Math.round((t1 - t0) / 10) / 100;
        rec.responseBodyBytes = Buffer.concat(parts).length;
        rec.failed = rec.status >= 500;
        resolvePromise();
      });
    });
    req.end(body ?? undefined);
  });
}

let orderCounter = 0;
function nextOperation(): Parameters<typeof frontendCall>[0] {
  const customer = pick(CUSTOMERS);
  if (rand() < 0.4) {
    const n = randInt(1, 2);
    const skus = [...SKUS].sort(() => rand() - 0.5).slice(0, n);
    const items = skus.map((sku) => ({ sku, quantity: randInt(1, 3) }));
    const totalCents = items.reduce((a, it) => a + PRICES[it.sku]! * it.quantity, 0);
    const orderId = `ord-${String(58_000 + ++orderCounter)}`;
    return { method: 'POST', path: '/api/checkout', endpoint: '/api/checkout', customer, body: { orderId, customerId: customer, currency: 'EUR', items, totalCents } };
  }
  const id = randInt(1200, 1299);
  return { method: 'GET', path: `/api/cart/${id}`, endpoint: '/api/cart/{id}', customer };
}

// ---------------------------------------------------------------------------------------------
// Running it all under tcpdump
// ---------------------------------------------------------------------------------------------

function tcpdumpArgs(file: string): string[] {
  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];
  const hosts = [...LOOPBACK_TO_FINAL.keys()].map((h) => `host ${h}`).join(' or ');
  // 127.0.0.1 is left out: nothing of the shop uses it (the readiness probes below do).
  return ['-i', 'lo', '-U', '--immediate-mode', '-s', '0', '-B', '16384', ...asRoot, '-w', file, `ip and not host 127.0.0.1 and (${hosts})`];
}

function startDnsmasq(): Promise<ChildProcess> {
  const args = [
    '-k', '--no-resolv', '--no-hosts', '-C', '/dev/null', '--pid-file=', '--bind-interfaces', '--port=53',
    `--listen-address=${pod('coredns').loopback},${DNS_SVC.loopback}`,
    '--local=/#/', // authoritative for everything: an unknown name is NXDOMAIN, never forwarded
    `--local-ttl=${DNS_TTL_S}`, '--log-queries', '--log-facility=-',
    ...SERVICES.map((s) => `--host-record=${svcFqdn(s)},${s.clusterIP}`),
  ];
  log(`start dnsmasq ${args.join(' ')}`);
  const proc = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new FixtureError(`dnsmasq not ready after 5 s:\n${err}`)), 5000);
    proc.stderr!.on('data', (d: string) => {
      err += d;
      if (/started, version/.test(err)) {
        clearTimeout(timer);
        res(proc);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new FixtureError(`dnsmasq exited (${code}):\n${err}`));
    });
  });
}

async function runShop(rawFile: string): Promise<{ packets: string; startUs: number; endUs: number }> {
  for (const [host, port] of [[CHECKOUT_SVC.loopback, CHECKOUT_PORT], [checkoutPod.loopback, 8080], [PAYMENT_SVC.loopback, PAYMENT_PORT], [INVENTORY_SVC.loopback, INVENTORY_PORT]] as const) {
    await assertPortFree(host, port);
  }
  const dnsmasq = await startDnsmasq();
  const paymentsDef = loadPayments();

  // Servers: each on its pod address and on its Service address.
  const grpcServer = new grpc.Server();
  grpcServer.addService(paymentsDef, paymentImpl());
  for (const host of [pod('payment').loopback, PAYMENT_SVC.loopback]) {
    await new Promise<void>((res, rej) => grpcServer.bindAsync(`${host}:${PAYMENT_PORT}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  }
  const inv = [inventoryServer(), inventoryServer()];
  await listen(inv[0]!, INVENTORY_PORT, pod('inventory').loopback);
  await listen(inv[1]!, INVENTORY_PORT, INVENTORY_SVC.loopback);

  const checkoutDns = new StubResolver(checkoutPod);
  paymentResolverSource = { resolver: checkoutDns, name: NAME_PAYMENT, localAddress: checkoutPod.loopback };
  grpc.experimental.registerResolver('podcap', PodcapResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1]);
  const grpcClients: { payments: PaymentsClient | null } = { payments: null };
  const currentPayments = (): PaymentsClient | null => grpcClients.payments;
  const Payments = grpc.makeGenericClientConstructor(paymentsDef, 'Payments');
  const conns: { h2: http2.ClientHttp2Session | null } = { h2: null };
  const currentH2 = (): http2.ClientHttp2Session | null => conns.h2;
  const deps: CheckoutDeps = {
    dns: checkoutDns,
    paymentsDef,
    payments: () => (grpcClients.payments ??= new Payments(`podcap:${NAME_PAYMENT}:${PAYMENT_PORT}`, grpc.credentials.createInsecure(), {
      'grpc.primary_user_agent': 'checkout/1.8.0',
    }) as unknown as PaymentsClient),
    inventory: async () => {
      const cur = conns.h2;
      if (cur && !cur.closed && !cur.destroyed) return cur;
      const host = await checkoutDns.resolve(NAME_INVENTORY, 'before connecting to inventory');
      const s = http2.connect(`http://${NAME_INVENTORY}:${INVENTORY_PORT}`, {
        createConnection: () => net.connect({ host, port: INVENTORY_PORT, localAddress: checkoutPod.loopback }),
      });
      s.on('error', (e) => log(`inventory session error: ${e.message}`));
      conns.h2 = s;
      return s;
    },
  };
  const co = [checkoutServer(deps), checkoutServer(deps)];
  await listen(co[0]!, 8080, checkoutPod.loopback);
  await listen(co[1]!, CHECKOUT_PORT, CHECKOUT_SVC.loopback);

  const cap: Capturer = await startCapturer('tcpdump', 'tcpdump', tcpdumpArgs(rawFile), rawFile, /listening on/);
  let done = false;
  try {
    await sleep(800);
    const startUs = nowUs();
    tokenBaseS = Math.floor(startUs / 1e6);
    serviceToken = jwt({
      iss: 'https://kubernetes.default.svc.cluster.local', sub: 'system:serviceaccount:shop:checkout', aud: ['payment'],
      iat: tokenBaseS - 1800, nbf: tokenBaseS - 1800, exp: tokenBaseS + 1800,
      'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'checkout', uid: uid('ServiceAccount/shop/checkout') }, pod: { name: podName(checkoutPod), uid: uid(`Pod/shop/${podName(checkoutPod)}`) } },
    });
    phaseTimes.push({ name: 'normal', startUs, endUs: null });
    const pending: Promise<void>[] = [];
    const t0 = Date.now();
    const total = NORMAL_MS + OUTAGE_MS + RECOVERY_MS;
    let typoDone = false;
    let next = t0;
    while (Date.now() - t0 < total) {
      const el = Date.now() - t0;
      if (phase === 'normal' && el >= NORMAL_MS) {
        paymentFailing = true;
        phase = 'payment-outage';
        const t = nowUs();
        phaseTimes.at(-1)!.endUs = t;
        phaseTimes.push({ name: phase, startUs: t, endUs: null });
        log(`  phase payment-outage: payment answers UNAVAILABLE from now`);
      } else if (phase === 'payment-outage' && el >= NORMAL_MS + OUTAGE_MS) {
        paymentFailing = false;
        phase = 'recovered';
        const t = nowUs();
        phaseTimes.at(-1)!.endUs = t;
        phaseTimes.push({ name: phase, startUs: t, endUs: null });
        log(`  phase recovered: payment approves charges again`);
      }
      if (!typoDone && el >= TYPO_AT_MS) {
        typoDone = true;
        // A recommendations widget configured with a misspelt Service name: the lookup fails, nothing is called.
        pending.push(frontendDns.lookup(NAME_TYPO, 'recommendations widget configured with a misspelt service name').then(() => undefined));
      }
      pending.push(frontendCall(nextOperation()));
      next += TICK_MS - 100 + Math.floor(rand() * 200);
      await sleep(Math.max(0, next - Date.now()));
    }
    await Promise.all(pending);
    const endUs = nowUs();
    phaseTimes.at(-1)!.endUs = endUs;
    // Clients close their connections (FIN, GOAWAY) while the capture still runs.
    frontendAgent.destroy();
    currentH2()?.close();
    currentPayments()?.close();
    await sleep(800);
    done = true;
    const packets = await stopCapturer(cap);
    const drops = capturerDrops(cap);
    log(`tcpdump: ${packets} packets, ${drops ?? '?'} dropped by kernel`);
    if (drops !== null && drops > 0) throw new FixtureError(`the kernel dropped ${drops} packets`);
    return { packets, startUs, endUs };
  } finally {
    if (!done) cap.proc.kill('SIGKILL');
    grpcServer.forceShutdown();
    for (const s of [...inv, ...co]) {
      if ('closeAllConnections' in s) (s as http.Server).closeAllConnections();
      await Promise.race([closeServer(s), sleep(1000)]);
    }
    dnsmasq.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------------------------
// Rewriting 127.0.x.y to the cluster's addresses
// ---------------------------------------------------------------------------------------------

async function rewrite(raw: string, out: string): Promise<string[]> {
  const pnat = [...LOOPBACK_TO_FINAL].map(([a, b]) => `${a}/32:${b}/32`).join(',');
  const args = ['--infile', raw, '--outfile', out, `--pnat=${pnat}`, '--fixcsum'];
  await runTool('tcprewrite', args);
  chmodSync(out, 0o644);
  return ['tcprewrite', ...args.map((a) => (a === raw ? '<raw loopback capture>' : a === out ? rel(out) : a))];
}

// ---------------------------------------------------------------------------------------------
// The manifest
// ---------------------------------------------------------------------------------------------

function buildManifest(captureStartMs: number): Plain {
  const ts = (daysBefore: number, minutes = 0): string => isoSec(captureStartMs - daysBefore * 86_400_000 - minutes * 60_000);
  let rv = 1_204_000;
  const meta = (kind: string, name: string, namespace: string | null, created: string, extra: Plain = {}): Plain => ({
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
    creationTimestamp: created,
    ...(extra.generateName ? { generateName: extra.generateName } : {}),
    ...(extra.generation !== undefined ? { generation: extra.generation } : {}),
    ...(extra.labels ? { labels: extra.labels } : {}),
    name,
    ...(namespace ? { namespace } : {}),
    ...(extra.ownerReferences ? { ownerReferences: extra.ownerReferences } : {}),
    resourceVersion: String((rv += 137)),
    uid: uid(`${kind}/${namespace ?? ''}/${name}`),
  });
  const owner = (apiVersion: string, kind: string, name: string, namespace: string): Plain => ({
    apiVersion, blockOwnerDeletion: true, controller: true, kind, name, uid: uid(`${kind}/${namespace}/${name}`),
  });
  const items: Plain[] = [];

  for (const ns of ['kube-system', 'shop']) {
    items.push({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: meta('Namespace', ns, null, ts(ns === 'shop' ? 41 : 63), { labels: { 'kubernetes.io/metadata.name': ns } }),
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    });
  }
  for (const n of NODES) {
    items.push({
      apiVersion: 'v1', kind: 'Node',
      metadata: meta('Node', n.name, null, ts(63), {
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
        labels: {
          'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': n.name,
          'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'm6i.large', 'topology.kubernetes.io/region': 'eu-west-1',
          'topology.kubernetes.io/zone': n.zone,
        },
      }),
      spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
      status: {
        addresses: [{ address: n.internalIP, type: 'InternalIP' }, { address: n.name, type: 'Hostname' }],
        allocatable: { cpu: '1930m', 'ephemeral-storage': '95491281146', memory: '7291644Ki', pods: '110' },
        capacity: { cpu: '2', 'ephemeral-storage': '103609120Ki', memory: '7996156Ki', pods: '110' },
        conditions: [
          { lastHeartbeatTime: ts(0, 1), lastTransitionTime: ts(63), message: 'kubelet is posting ready status', reason: 'KubeletReady', status: 'True', type: 'Ready' },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          architecture: 'amd64', containerRuntimeVersion: 'containerd://1.7.13', kernelVersion: '6.1.0-18-cloud-amd64', kubeProxyVersion: 'v1.29.3',
          kubeletVersion: 'v1.29.3', operatingSystem: 'linux', osImage: 'Debian GNU/Linux 12 (bookworm)',
          bootID: uid(`boot/${n.name}`), machineID: sha256(n.name).slice(0, 32), systemUUID: uid(`system/${n.name}`),
        },
      },
    });
  }
  for (const p of PODS) {
    const rsName = `${p.app}-${p.rsHash}`;
    const name = podName(p);
    const node = NODES.find((n) => n.name === p.node)!;
    const created = ts(2, 30 + PODS.indexOf(p) * 3);
    const started = ts(2, 29 + PODS.indexOf(p) * 3);
    const labels = { ...p.labels, 'pod-template-hash': p.rsHash };
    items.push({
      apiVersion: 'v1', kind: 'Pod',
      metadata: meta('Pod', name, p.namespace, created, { generateName: `${rsName}-`, labels, ownerReferences: [owner('apps/v1', 'ReplicaSet', rsName, p.namespace)] }),
      spec: {
        containers: [{
          image: p.image, imagePullPolicy: 'IfNotPresent', name: p.app === 'coredns' ? 'coredns' : p.app,
          ports: p.ports.map((cp) => ({ containerPort: cp.containerPort, name: cp.name, protocol: cp.protocol })),
          resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
          terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
        }],
        dnsPolicy: p.app === 'coredns' ? 'Default' : 'ClusterFirst', enableServiceLinks: true, nodeName: p.node, preemptionPolicy: 'PreemptLowerPriority',
        priority: p.app === 'coredns' ? 2000000000 : 0, ...(p.app === 'coredns' ? { priorityClassName: 'system-cluster-critical' } : {}),
        restartPolicy: 'Always', schedulerName: 'default-scheduler', securityContext: {}, serviceAccount: p.serviceAccount, serviceAccountName: p.serviceAccount,
        terminationGracePeriodSeconds: 30,
      },
      status: {
        conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ lastProbeTime: null, lastTransitionTime: started, status: 'True', type })),
        containerStatuses: [{
          containerID: `containerd://${sha256(`container/${name}`)}`, image: p.image, imageID: `${p.image.split(':')[0]}@sha256:${sha256(p.image)}`,
          lastState: {}, name: p.app === 'coredns' ? 'coredns' : p.app, ready: true, restartCount: 0, started: true, state: { running: { startedAt: started } },
        }],
        hostIP: node.internalIP, hostIPs: [{ ip: node.internalIP }], phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }], qosClass: 'Burstable', startTime: created,
      },
    });
  }
  for (const s of SERVICES) {
    items.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: meta('Service', s.name, s.namespace, ts(s.namespace === 'shop' ? 40 : 63), { labels: s.labels }),
      spec: {
        clusterIP: s.clusterIP, clusterIPs: [s.clusterIP], internalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
        ports: s.ports.map((sp) => ({ ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}), name: sp.name, port: sp.port, protocol: sp.protocol, targetPort: sp.targetPort })),
        selector: s.selector, sessionAffinity: 'None', type: 'ClusterIP',
      },
      status: { loadBalancer: {} },
    });
  }
  for (const s of SERVICES) {
    const b = pod(s.backend);
    const name = `${s.name}-${s.sliceSuffix}`;
    items.push({
      addressType: 'IPv4', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      endpoints: [{
        addresses: [b.ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: b.node,
        targetRef: { kind: 'Pod', name: podName(b), namespace: b.namespace, uid: uid(`Pod/${b.namespace}/${podName(b)}`) },
        zone: NODES.find((n) => n.name === b.node)!.zone,
      }],
      metadata: meta('EndpointSlice', name, s.namespace, ts(2, 28), {
        annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': ts(2, 25) },
        generateName: `${s.name}-`, generation: 3,
        labels: { ...s.labels, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'kubernetes.io/service-name': s.name },
        ownerReferences: [owner('v1', 'Service', s.name, s.namespace)],
      }),
      ports: s.ports.map((sp) => ({ ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}), name: sp.name, port: sp.podPort, protocol: sp.protocol })),
    });
  }
  for (const p of PODS) {
    const labels = p.labels;
    const template = {
      metadata: { creationTimestamp: null, labels },
      spec: {
        containers: [{ image: p.image, name: p.app, ports: p.ports.map((cp) => ({ containerPort: cp.containerPort, name: cp.name, protocol: cp.protocol })) }],
        dnsPolicy: p.app === 'coredns' ? 'Default' : 'ClusterFirst', restartPolicy: 'Always', serviceAccountName: p.serviceAccount,
      },
    };
    const selector = p.app === 'coredns' ? { matchLabels: { 'k8s-app': 'kube-dns' } } : { matchLabels: { app: p.app } };
    items.push({
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: meta('Deployment', p.app, p.namespace, ts(p.namespace === 'shop' ? 40 : 63), {
        annotations: { 'deployment.kubernetes.io/revision': '4' }, generation: 4, labels: p.app === 'coredns' ? { 'k8s-app': 'kube-dns' } : { app: p.app, 'app.kubernetes.io/part-of': 'shop' },
      }),
      spec: {
        progressDeadlineSeconds: 600, replicas: 1, revisionHistoryLimit: 10, selector,
        strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' }, template,
      },
      status: {
        availableReplicas: 1, observedGeneration: 4, readyReplicas: 1, replicas: 1, updatedReplicas: 1,
        conditions: [
          { lastTransitionTime: ts(2, 20), lastUpdateTime: ts(2, 20), message: 'Deployment has minimum availability.', reason: 'MinimumReplicasAvailable', status: 'True', type: 'Available' },
          { lastTransitionTime: ts(40), lastUpdateTime: ts(2, 20), message: `ReplicaSet "${p.app}-${p.rsHash}" has successfully progressed.`, reason: 'NewReplicaSetAvailable', status: 'True', type: 'Progressing' },
        ],
      },
    });
  }
  for (const p of PODS) {
    const rsName = `${p.app}-${p.rsHash}`;
    const labels = { ...p.labels, 'pod-template-hash': p.rsHash };
    items.push({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: meta('ReplicaSet', rsName, p.namespace, ts(2, 31 + PODS.indexOf(p) * 3), {
        annotations: { 'deployment.kubernetes.io/desired-replicas': '1', 'deployment.kubernetes.io/max-replicas': '2', 'deployment.kubernetes.io/revision': '4' },
        generation: 1, labels, ownerReferences: [owner('apps/v1', 'Deployment', p.app, p.namespace)],
      }),
      spec: {
        replicas: 1,
        selector: { matchLabels: p.app === 'coredns' ? { 'k8s-app': 'kube-dns', 'pod-template-hash': p.rsHash } : { app: p.app, 'pod-template-hash': p.rsHash } },
        template: {
          metadata: { creationTimestamp: null, labels },
          spec: { containers: [{ image: p.image, name: p.app, ports: p.ports.map((cp) => ({ containerPort: cp.containerPort, name: cp.name, protocol: cp.protocol })) }] },
        },
      },
      status: { availableReplicas: 1, fullyLabeledReplicas: 1, observedGeneration: 1, readyReplicas: 1, replicas: 1 },
    });
  }
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

// ---------------------------------------------------------------------------------------------
// Summary numbers
// ---------------------------------------------------------------------------------------------

function summarize(): Plain {
  const byEndpoint = new Map<string, { from: string; to: string; protocol: Protocol; method: string; endpoint: string; calls: number; failures: number; statuses: Record<string, number>; grpcStatuses: Record<string, number>; withAuthorization: number }>();
  for (const c of calls) {
    const key = `${c.from.workload} -> ${c.to.service} ${c.protocol} ${c.grpcMethod ? c.path : `${c.method} ${c.endpoint}`}`;
    let e = byEndpoint.get(key);
    if (!e) byEndpoint.set(key, (e = { from: c.from.workload, to: c.to.service, protocol: c.protocol, method: c.method, endpoint: c.endpoint, calls: 0, failures: 0, statuses: {}, grpcStatuses: {}, withAuthorization: 0 }));
    e.calls++;
    if (c.failed) e.failures++;
    if (c.authorization) e.withAuthorization++;
    e.statuses[String(c.status)] = (e.statuses[String(c.status)] ?? 0) + 1;
    if (c.grpcStatus !== undefined) e.grpcStatuses[String(c.grpcStatus)] = (e.grpcStatuses[String(c.grpcStatus)] ?? 0) + 1;
  }
  const endpoints = [...byEndpoint].map(([key, e]) => ({
    key, ...e, failureRate: Math.round((e.failures / e.calls) * 10_000) / 10_000,
    ...(Object.keys(e.grpcStatuses).length ? {} : { grpcStatuses: undefined }),
  }));
  const edges = new Map<string, { from: string; to: string; protocol: Protocol; calls: number; withAuthorization: number }>();
  for (const c of calls) {
    const k = `${c.from.workload} -> ${c.to.service}`;
    let e = edges.get(k);
    if (!e) edges.set(k, (e = { from: c.from.workload, to: c.to.service, protocol: c.protocol, calls: 0, withAuthorization: 0 }));
    e.calls++;
    if (c.authorization) e.withAuthorization++;
  }
  const edgeList = [...edges.values()];
  const perPhase = phaseTimes.map((p) => {
    const cs = calls.filter((c) => c.phase === p.name);
    const byProto = (pr: Protocol): Plain => {
      const x = cs.filter((c) => c.protocol === pr);
      return { calls: x.length, failures: x.filter((c) => c.failed).length };
    };
    return { phase: p.name, calls: cs.length, failures: cs.filter((c) => c.failed).length, http: byProto('http'), http2: byProto('http2'), grpc: byProto('grpc') };
  });
  const failed = calls.filter((c) => c.failed);
  const rcodes: Record<string, number> = {};
  for (const q of dnsQueries) rcodes[q.rcode] = (rcodes[q.rcode] ?? 0) + 1;
  const outcomes: Record<string, number> = {};
  for (const q of dnsQueries) outcomes[q.outcome] = (outcomes[q.outcome] ?? 0) + 1;
  const byProtocol = (pr: Protocol): Plain => {
    const x = calls.filter((c) => c.protocol === pr);
    return { calls: x.length, failures: x.filter((c) => c.failed).length };
  };
  return {
    failureDefinition: 'HTTP status >= 500, or gRPC status != 0 (a 404 is not a failure); DNS is counted apart (rcode != NOERROR)',
    calls: calls.length,
    failures: failed.length,
    failureRate: Math.round((failed.length / calls.length) * 10_000) / 10_000,
    byProtocol: { http: byProtocol('http'), http2: byProtocol('http2'), grpc: byProtocol('grpc') },
    frontendRequests: calls.filter((c) => c.from.workload === 'frontend').length,
    firstFailure: failed[0] ? { seq: failed[0].seq, time: failed[0].time, timestampUs: failed[0].timestampUs } : null,
    lastFailure: failed.at(-1) ? { seq: failed.at(-1)!.seq, time: failed.at(-1)!.time, timestampUs: failed.at(-1)!.timestampUs } : null,
    endpoints,
    edges: edgeList,
    perPhase,
    unauthenticatedEdges: edgeList.filter((e) => e.withAuthorization === 0).map((e) => ({ from: e.from, to: e.to, protocol: e.protocol, calls: e.calls })),
    authenticatedEdges: edgeList.filter((e) => e.withAuthorization === e.calls).map((e) => ({ from: e.from, to: e.to, protocol: e.protocol, calls: e.calls, scheme: 'Bearer' })),
    dns: {
      lookups: dnsLookups.length,
      resolvedLookups: dnsLookups.filter((l) => l.resolved).length,
      failedLookups: dnsLookups.filter((l) => !l.resolved).map((l) => ({ seq: l.seq, pod: l.pod, name: l.name, time: l.time, queries: l.queries })),
      queries: dnsQueries.length,
      responses: dnsQueries.filter((q) => q.rcode !== '').length,
      rcodes,
      outcomes,
      byLookedUpName: Object.fromEntries(
        [...new Set(dnsLookups.map((l) => `${l.pod} ${l.name}`))].map((k) => {
          const ls = dnsLookups.filter((l) => `${l.pod} ${l.name}` === k);
          return [k, { lookups: ls.length, queriesPerLookup: ls[0]!.queries, resolvedTo: ls[0]!.address }];
        }),
      ),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Verification with tshark
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : String(v));
function collect(v: unknown, k: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) for (const x of v) collect(x, k, out);
  else if (v && typeof v === 'object') {
    for (const [key, val] of Object.entries(v as Obj)) {
      if (key === k) out.push(...asArray(val));
      else collect(val, k, out);
    }
  }
  return out;
}

interface WireCall {
  protocol: Protocol;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  method: string;
  path: string;
  requestId: string;
  authorization: boolean;
  status: number | null;
  grpcStatus: number | null;
  grpcMessage: string | null;
  requestMessages: number[];
  responseMessages: number[];
}

async function wireHttp1(file: string): Promise<WireCall[]> {
  const packets = await tsharkJson(file, [...DECODE_AS, '-Y', 'http', '-J', 'frame ip tcp http']);
  const byFrame = new Map<number, WireCall>();
  const out: WireCall[] = [];
  for (const p of packets) {
    const frame = Number(str((p.frame as Obj)['frame.number']));
    const ip = p.ip as Obj;
    const tcp = p.tcp as Obj;
    for (const h of asArray(p.http as Obj | Obj[])) {
      const method = collect(h, 'http.request.method').map(str)[0];
      if (method) {
        const lines = collect(h, 'http.request.line').map(str);
        const rid = lines.find((l) => /^x-request-id:/i.test(l));
        const w: WireCall = {
          protocol: 'http', src: str(ip['ip.src']), srcPort: Number(str(tcp['tcp.srcport'])), dst: str(ip['ip.dst']), dstPort: Number(str(tcp['tcp.dstport'])),
          method, path: collect(h, 'http.request.uri').map(str)[0] ?? '', requestId: rid ? rid.replace(/^x-request-id:\s*/i, '').trim() : '',
          authorization: lines.some((l) => /^authorization:\s*Bearer /i.test(l)), status: null, grpcStatus: null, grpcMessage: null, requestMessages: [], responseMessages: [],
        };
        byFrame.set(frame, w);
        out.push(w);
      }
      const code = collect(h, 'http.response.code').map(str)[0];
      if (code) {
        const reqIn = Number(collect(h, 'http.request_in').map(str)[0]);
        const w = byFrame.get(reqIn);
        if (!w) throw new FixtureError(`tshark: HTTP response in frame ${frame} answers frame ${reqIn}, which holds no request`);
        w.status = Number(code);
      }
    }
  }
  return out;
}

async function wireHttp2(file: string): Promise<WireCall[]> {
  const packets = await tsharkJson(file, [...DECODE_AS, '-Y', 'http2', '-J', 'frame ip tcp http2 grpc']);
  const streams = new Map<string, WireCall>();
  const out: WireCall[] = [];
  for (const p of packets) {
    const ip = p.ip as Obj;
    const tcp = p.tcp as Obj;
    const src = str(ip['ip.src']);
    const dst = str(ip['ip.dst']);
    const sport = Number(str(tcp['tcp.srcport']));
    const dport = Number(str(tcp['tcp.dstport']));
    const toServer = dport === PAYMENT_PORT || dport === INVENTORY_PORT;
    const conn = toServer ? `${src}:${sport}-${dst}:${dport}` : `${dst}:${dport}-${src}:${sport}`;
    const dataStreams: number[] = [];
    for (const pdu of asArray(p.http2 as Obj | Obj[])) {
      for (const s of asArray(pdu['http2.stream'] as Obj | Obj[])) {
        if (s['http2.type'] === undefined) continue;
        const type = Number(str(s['http2.type']));
        const sid = Number(str(s['http2.streamid']));
        const key = `${conn}#${sid}`;
        if (type === 0) dataStreams.push(sid);
        if (type !== 1) continue;
        const hs: Record<string, string> = {};
        for (const h of asArray(s['http2.header'] as Obj | Obj[])) hs[str(h['http2.header.name'])] = str(h['http2.header.value']);
        if (toServer) {
          const w: WireCall = {
            protocol: dport === PAYMENT_PORT ? 'grpc' : 'http2', src, srcPort: sport, dst, dstPort: dport, method: hs[':method'] ?? '', path: hs[':path'] ?? '',
            requestId: hs['x-request-id'] ?? '', authorization: /^Bearer /.test(hs.authorization ?? ''), status: null, grpcStatus: null, grpcMessage: null,
            requestMessages: [], responseMessages: [],
          };
          if (streams.has(key)) throw new FixtureError(`tshark: two request HEADERS on ${key}`);
          streams.set(key, w);
          out.push(w);
        } else {
          const w = streams.get(key);
          if (!w) throw new FixtureError(`tshark: response HEADERS on ${key} without a request`);
          if (hs[':status'] !== undefined) w.status = Number(hs[':status']);
          if (hs['grpc-status'] !== undefined) {
            w.grpcStatus = Number(hs['grpc-status']);
            w.grpcMessage = hs['grpc-message'] !== undefined ? decodeURIComponent(hs['grpc-message']) : null;
          }
        }
      }
    }
    const lens = asArray(p.grpc as Obj | Obj[]).flatMap((g) => collect(g, 'grpc.message_length').map((v) => Number(str(v))));
    if (lens.length > 0) {
      const ids = [...new Set(dataStreams)];
      if (ids.length !== 1) throw new FixtureError(`tshark: gRPC messages beside DATA of streams ${ids.join(',') || 'none'}`);
      const w = streams.get(`${conn}#${ids[0]}`);
      if (!w) throw new FixtureError(`tshark: gRPC message on an unknown stream ${conn}#${ids[0]}`);
      (toServer ? w.requestMessages : w.responseMessages).push(...lens);
    }
  }
  return out;
}

interface WireDns {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  id: number;
  response: boolean;
  name: string;
  type: string;
  rcode: number;
  answers: string[];
}
async function wireDns(file: string): Promise<WireDns[]> {
  const lines = await tsharkLines(file, ['-Y', 'dns', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'dns.id', '-e', 'dns.flags.response', '-e', 'dns.qry.name', '-e', 'dns.qry.type', '-e', 'dns.flags.rcode', '-e', 'dns.a']);
  return lines.map((l) => {
    const [src, sp, dst, dp, id, resp, name, type, rcode, a] = l.split('\t');
    return {
      src: src!, srcPort: Number(sp), dst: dst!, dstPort: Number(dp), id: Number(id), response: resp === '1' || resp === 'True',
      name: name!, type: type === '1' ? 'A' : type === '28' ? 'AAAA' : String(type), rcode: Number(rcode), answers: a ? a.split(',') : [],
    };
  });
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

async function verify(file: string): Promise<{ ok: boolean; problems: string[]; report: Plain }> {
  const problems: string[] = [];
  const bad = (m: string): void => {
    if (problems.length < 50) problems.push(m);
  };

  // 1. Every address is a pod or a Service of the manifest; no loopback address is left.
  const known = new Set([...PODS.map((p) => p.ip), ...SERVICES.map((s) => s.clusterIP)]);
  const addrLines = await tsharkLines(file, ['-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst']);
  const seen = new Map<string, number>();
  for (const l of addrLines) for (const a of l.split('\t')) seen.set(a, (seen.get(a) ?? 0) + 1);
  for (const a of seen.keys()) if (!known.has(a)) bad(`address ${a} in the capture is no pod or Service of the manifest`);
  const frames = addrLines.length;

  // 2. HTTP/1, HTTP/2 and gRPC calls, one for one with the ground truth.
  const wire = [...(await wireHttp1(file)), ...(await wireHttp2(file))];
  const key = (protocol: string, requestId: string, method: string, path: string): string => `${protocol} ${requestId} ${method} ${path}`;
  const wireByKey = new Map<string, WireCall>();
  for (const w of wire) {
    const k = key(w.protocol, w.requestId, w.method, w.path);
    if (wireByKey.has(k)) bad(`tshark shows ${k} twice`);
    wireByKey.set(k, w);
  }
  for (const c of calls) {
    const k = key(c.protocol, c.requestId, c.method, c.path);
    const w = wireByKey.get(k);
    if (!w) {
      bad(`call ${c.seq} (${k}) is not in the capture`);
      continue;
    }
    wireByKey.delete(k);
    if (w.src !== c.from.ip) bad(`call ${c.seq}: source ${w.src}, expected ${c.from.ip}`);
    if (c.from.port !== null && w.srcPort !== c.from.port) bad(`call ${c.seq}: source port ${w.srcPort}, expected ${c.from.port}`);
    if (w.dst !== c.to.ip || w.dstPort !== c.to.port) bad(`call ${c.seq}: destination ${w.dst}:${w.dstPort}, expected ${c.to.ip}:${c.to.port}`);
    if (w.authorization !== c.authorization) bad(`call ${c.seq}: authorization ${w.authorization} on the wire, ${c.authorization} expected`);
    if (w.status !== c.status) bad(`call ${c.seq}: status ${w.status}, expected ${c.status}`);
    if (c.protocol === 'grpc') {
      if (w.grpcStatus !== c.grpcStatus) bad(`call ${c.seq}: grpc-status ${w.grpcStatus}, expected ${c.grpcStatus}`);
      if (c.grpcStatus !== 0 && w.grpcMessage !== c.grpcMessage) bad(`call ${c.seq}: grpc-message ${w.grpcMessage}, expected ${c.grpcMessage}`);
      if (JSON.stringify(w.requestMessages) !== JSON.stringify(c.requestMessageBytes)) bad(`call ${c.seq}: request messages ${w.requestMessages}, expected ${c.requestMessageBytes}`);
      if (JSON.stringify(w.responseMessages) !== JSON.stringify(c.responseMessageBytes)) bad(`call ${c.seq}: response messages ${w.responseMessages}, expected ${c.responseMessageBytes}`);
    }
  }
  for (const k of wireByKey.keys()) bad(`tshark shows ${k}, which no client made`);

  // 3. DNS: every query and its response.
  const dns = await wireDns(file);
  const dkey = (ip: string, port: number, id: number, name: string, type: string): string => `${ip}:${port}#${id} ${name} ${type}`;
  const qs = new Map<string, WireDns>();
  const rs = new Map<string, WireDns>();
  for (const d of dns) {
    if (d.response) {
      if (d.src !== DNS_SVC.clusterIP || d.srcPort !== 53) bad(`DNS response from ${d.src}:${d.srcPort}, expected kube-dns ${DNS_SVC.clusterIP}:53`);
      rs.set(dkey(d.dst, d.dstPort, d.id, d.name, d.type), d);
    } else {
      if (d.dst !== DNS_SVC.clusterIP || d.dstPort !== 53) bad(`DNS query to ${d.dst}:${d.dstPort}, expected kube-dns ${DNS_SVC.clusterIP}:53`);
      qs.set(dkey(d.src, d.srcPort, d.id, d.name, d.type), d);
    }
  }
  for (const q of dnsQueries) {
    const k = dkey(q.from.ip, q.from.port, q.id, q.name, q.type);
    if (!qs.delete(k)) bad(`DNS query ${q.seq} (${k}) is not in the capture`);
    const r = rs.get(k);
    if (!r) {
      bad(`DNS response to query ${q.seq} (${k}) is not in the capture`);
      continue;
    }
    rs.delete(k);
    if (r.rcode !== RCODES[q.rcode]) bad(`DNS query ${q.seq}: rcode ${r.rcode}, expected ${q.rcode}`);
    if (JSON.stringify(r.answers) !== JSON.stringify(q.answers)) bad(`DNS query ${q.seq}: answers ${r.answers}, expected ${q.answers}`);
  }
  for (const k of qs.keys()) bad(`tshark shows DNS query ${k}, which no client sent`);
  for (const k of rs.keys()) bad(`tshark shows DNS response ${k}, which answers no query`);

  const count = (pred: (w: WireCall) => boolean): number => wire.filter(pred).length;
  const f = rel(file);
  const report = {
    commands: [
      `tshark -r ${f} -T fields -e ip.src -e ip.dst   (every address: a pod or Service of cluster.yaml)`,
      `tshark -r ${f} ${DECODE_AS.join(' ')} -Y http -T json   (HTTP/1 requests: method, uri, x-request-id, Authorization; responses by http.request_in)`,
      `tshark -r ${f} ${DECODE_AS.join(' ')} -Y http2 -T json   (HEADERS per tcp connection and stream: :path, x-request-id, authorization, :status, grpc-status, grpc-message; grpc.message_length)`,
      `tshark -r ${f} -Y dns -T fields -e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e dns.id -e dns.flags.response -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.a`,
    ],
    frames,
    addresses: Object.fromEntries([...seen].sort()),
    http1Requests: count((w) => w.protocol === 'http'),
    http1Responses: count((w) => w.protocol === 'http' && w.status !== null),
    http1Status: tally(wire.filter((w) => w.protocol === 'http').map((w) => String(w.status))),
    http2Requests: count((w) => w.protocol === 'http2'),
    http2Status: tally(wire.filter((w) => w.protocol === 'http2').map((w) => String(w.status))),
    grpcCalls: count((w) => w.protocol === 'grpc'),
    grpcStatus: tally(wire.filter((w) => w.protocol === 'grpc').map((w) => String(w.grpcStatus))),
    grpcMessages: wire.reduce((a, w) => a + w.requestMessages.length + w.responseMessages.length, 0),
    requestsWithoutAuthorization: count((w) => !w.authorization),
    dnsQueries: dns.filter((d) => !d.response).length,
    dnsResponses: dns.filter((d) => d.response).length,
    dnsRcodes: tally(dns.filter((d) => d.response).map((d) => String(d.rcode))),
    problems: problems.length,
  };
  return { ok: problems.length === 0, problems, report };
}

function tally(xs: string[]): Record<string, number> {
  const o: Record<string, number> = {};
  for (const x of xs.sort()) o[x] = (o[x] ?? 0) + 1;
  return o;
}

/** expected.json: indented, except that each call, DNS lookup and DNS query is one line. */
function expectedJson(exp: Plain): string {
  const oneLine = new Set(['calls', 'dnsLookups', 'dnsQueries']);
  const parts = Object.entries(exp)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      if (oneLine.has(k) && Array.isArray(v)) {
        return `  ${JSON.stringify(k)}: [\n${v.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
      }
      return `  ${JSON.stringify(k)}: ${JSON.stringify(v, null, 2).replace(/\n/g, '\n  ')}`;
    });
  return `{\n${parts.join(',\n')}\n}\n`;
}

// ---------------------------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------------------------

function readme(exp: Plain, sum: Plain, sizes: Record<string, number>): string {
  const phases = exp.phases as { name: string; start: string; end: string; durationS: number }[];
  const s = sum as {
    calls: number; failures: number; frontendRequests: number;
    endpoints: { key: string; calls: number; failures: number; failureRate: number }[];
    dns: { lookups: number; queries: number; rcodes: Record<string, number>; outcomes: Record<string, number> };
    unauthenticatedEdges: { from: string; to: string; calls: number }[];
  };
  const podRows = PODS.map((p) => `| ${podName(p)} | ${p.namespace} | Deployment/${p.app} | ${p.node} | ${p.loopback} | ${p.ip} |`).join('\n');
  const svcRows = SERVICES.map((x) => `| ${x.name} | ${x.namespace} | ${x.ports.map((p) => `${p.port}/${p.protocol}→${p.podPort}`).join(', ')} | ${x.loopback} | ${x.clusterIP} | ${podName(pod(x.backend))} |`).join('\n');
  const epRows = s.endpoints.map((e) => `| ${e.key} | ${e.calls} | ${e.failures} | ${(e.failureRate * 100).toFixed(1)} % |`).join('\n');
  const phaseRows = phases.map((p) => `| ${p.name} | ${p.start} | ${p.end} | ${p.durationS} s |`).join('\n');
  const fileRows = Object.entries(sizes).map(([f, n]) => `| ${f} | ${n.toLocaleString('en')} bytes |`).join('\n');
  return `# The sample incident

Generated by \`${GENERATED_BY}\` (\`npm run build && node dist/scripts/make-incident-fixture.js\`);
do not edit by hand. Every packet in \`capture.pcap\` is real traffic between real servers and
clients (Node's http, http2 and @grpc/grpc-js, and dnsmasq), captured by tcpdump on loopback and
rewritten by tcprewrite to the cluster's addresses. No packet was ever sent to a non-loopback address.

## The story

A small shop in namespace \`shop\`: the **frontend** calls **checkout** (HTTP/1.1 JSON:
\`POST /api/checkout\`, \`GET /api/cart/{id}\`) with the shopper's \`Authorization: Bearer\` JWT.
For every cart and every order line, checkout asks **inventory** for stock over HTTP/2 cleartext
(\`GET /inventory/{sku}\`), and for every order it charges the customer through **payment**
over gRPC (\`payments.v1.Payments/Charge\`, with its own service-account Bearer token).

1. **normal** — everything succeeds; a few carts are unknown (404, not a failure).
2. **payment-outage** — payment loses its card acquirer and answers every \`Charge\` with gRPC
   status 14 \`UNAVAILABLE\`, \`grpc-message: ${PAYMENT_FAILURE_MESSAGE}\`. checkout turns each into
   \`502 {"error":"payment_unavailable",...}\` for the frontend. Carts keep working.
3. **recovered** — payment approves charges again.

Inventory stays healthy throughout (2–7 ms). Two findings besides the outage:

- **The unauthenticated edge**: checkout → inventory sends **no Authorization header** at all
  (${s.unauthenticatedEdges.map((e) => `${e.from} → ${e.to}, ${e.calls} calls`).join('; ')}); every other call carries a Bearer token.
- **A DNS failure**: once, in the normal phase, the frontend looks up the misspelt name
  \`${NAME_TYPO}\` (a recommendations widget's configuration); all ${(exp.dnsLookups as DnsLookupRecord[]).find((l) => !l.resolved)?.queries ?? '?'} queries answer NXDOMAIN and the lookup fails.
  That is the one real failure among the many expected search-path NXDOMAINs.

| phase | start | end | length |
| --- | --- | --- | --- |
${phaseRows}

Totals: ${s.calls} HTTP/gRPC calls (${s.frontendRequests} from the frontend), ${s.failures} failed;
${s.dns.lookups} DNS lookups in ${s.dns.queries} queries (rcodes ${JSON.stringify(s.dns.rcodes)}).

| endpoint | calls | failures | failure rate |
| --- | --- | --- | --- |
${epRows}

## DNS and the search path

Every pod's resolv.conf would read \`search shop.svc.cluster.local svc.cluster.local cluster.local\`
and \`options ndots:5\`; the clients expand names exactly as glibc does (names with fewer than 5
dots try each search domain first, then the name as given; A and AAAA in parallel from one
socket; the first candidate with an A record wins), against dnsmasq on kube-dns's address. So:

- frontend resolves \`${NAME_CHECKOUT}\` → \`checkout.shop.svc.cluster.local\` at the first try (2 queries);
- checkout resolves \`${NAME_INVENTORY}\` → one NXDOMAIN pair (\`inventory.shop.shop.svc.cluster.local\`) first (4 queries);
- checkout resolves \`${NAME_PAYMENT}\` (4 dots < ndots) → three NXDOMAIN pairs before the name as given (8 queries): the classic ndots:5 cost;
- \`${NAME_TYPO}\` → NXDOMAIN for all four candidates: the real failure.

Answers carry a TTL of ${DNS_TTL_S} s and the clients look a name up again when it expired.

**Why DNS answers hold the final addresses.** tcprewrite changes IP headers, never DNS payloads.
So dnsmasq answers with the cluster's ClusterIPs (10.96.x.x, as in \`cluster.yaml\`), and each
client maps the answer to the loopback address standing for that ClusterIP with a fixed table in
the script (the table below, read right to left) before connecting. After rewriting, the capture
is consistent: a pod asks for \`payment-svc.shop.svc.cluster.local\`, gets 10.96.87.15, and connects to 10.96.87.15:50051.

## Address plan

Each pod had its own loopback address and each Service a loopback "ClusterIP", on which the
backend pod also listened; clients bound their source address to their pod's address and
connected to the Service's, as a pod connects to a ClusterIP (the capture shows the traffic as
seen on the client pod's interface, before any DNAT). tcprewrite \`--pnat\` mapped them 1:1:

| pod | namespace | workload | node | loopback | pod IP |
| --- | --- | --- | --- | --- | --- |
${podRows}

| Service | namespace | ports | loopback | ClusterIP | backend |
| --- | --- | --- | --- | --- | --- |
${svcRows}

Nodes: ${NODES.map((n) => `${n.name} (InternalIP ${n.internalIP}, podCIDR ${n.podCIDR})`).join(', ')}.
Both clients (frontend, checkout) run on shop-worker-a, and every packet is pod ↔ ClusterIP as seen
on a client pod's interface, so the capture reads as shop-worker-a's. It is not split per node: a
capture on shop-worker-b would show the same connections after kube-proxy's DNAT (pod ↔ pod), which
loopback cannot produce without inventing packets.

grpc-js has no channel option for a local address; the script registers a gRPC resolver for the
scheme \`podcap:\` whose addresses carry \`localAddress\` (grpc-js hands them to \`net.connect\`), so the
gRPC connection too leaves from checkout's pod address.

## Files

| file | size |
| --- | --- |
${fileRows}

- \`capture.pcap\` — the traffic (Ethernet, microsecond timestamps). tshark needs
  \`${DECODE_AS.join(' ')}\` to see HTTP/2 and gRPC (port 80 is HTTP/1).
- \`cluster.yaml\` — the cluster as \`kubectl get namespaces,nodes,pods,services,endpointslices,deployments,replicasets -A -o yaml\` writes it.
- \`protos/payments/v1/payments.proto\` — the payment service's schema.
- \`expected.json\` — the ground truth from the clients' side: every call (\`calls\`), every DNS lookup
  and query (\`dnsLookups\`, \`dnsQueries\`), the phases, the address map, summary numbers
  (\`summary\`), and what tshark found (\`tshark\`). \`x-request-id\` is propagated from the frontend's
  request to checkout's calls, so a chain shares one id (\`parentRequestSeq\` links them too).
`;
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  for (const tool of ['tcpdump', 'tcprewrite', 'dnsmasq', 'tshark']) {
    if (!(await haveTool(tool))) throw new FixtureError(`${tool} is not installed (apt-get install tcpdump tcpreplay dnsmasq tshark)`);
  }
  if (QUICK) log('SAMPLE_QUICK=1: short phases, not for committing');
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(join(PROTO_DIR, 'payments', 'v1'), { recursive: true });
  writeFileSync(PROTO, PROTO_TEXT);

  const work = mkdtempSync(join(tmpdir(), 'podcap-incident-'));
  const raw = join(work, 'loopback.pcap');
  try {
    log(`running the shop for ${(NORMAL_MS + OUTAGE_MS + RECOVERY_MS) / 1000} s under tcpdump`);
    const run = await runShop(raw);
    const rewriteCmd = await rewrite(raw, CAPTURE);
    const size = statSync(CAPTURE).size;
    log(`${rel(CAPTURE)}: ${size} bytes, ${calls.length} calls, ${dnsQueries.length} DNS queries`);

    const manifest = buildManifest(Math.floor(run.startUs / 1000));
    // As kubectl writes it: sequences not indented under their key, timestamps as quoted strings.
    const yamlText = YAML.stringify(manifest, { lineWidth: 0, indentSeq: false }).replace(/^(\s*(?:- )?[\w./-]+: )(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/gm, '$1"$2"');
    writeFileSync(MANIFEST, yamlText);

    const v = await verify(CAPTURE);
    const summary = summarize();
    const expected: Plain = {
      generatedBy: GENERATED_BY,
      description:
        "Ground truth of fixtures/sample/capture.pcap, as the clients saw it. Times are the client's clock at request start (timestampUs, microseconds since the epoch), " +
        'a little before the packet. Addresses are the final (rewritten) ones. from.port of gRPC calls is the client port as the payment server saw its peer. ' +
        'A POST /api/checkout and the calls checkout makes for it share one x-request-id (requestId); parentRequestSeq links them too.',
      quick: QUICK || undefined,
      capture: {
        file: 'capture.pcap', bytes: size, sha256: sha256(readFileSync(CAPTURE)), packets: Number(run.packets), linkType: 'EN10MB',
        manifest: 'cluster.yaml', protos: ['protos/payments/v1/payments.proto'], decodeAs: DECODE_AS.filter((a) => a !== '-d'),
        tcpdumpFilter: tcpdumpArgs('x').at(-1), rewrite: rewriteCmd.join(' '),
        start: isoUs(run.startUs), end: isoUs(run.endUs),
      },
      phases: phaseTimes.map((p) => ({ name: p.name, start: isoUs(p.startUs), startUs: p.startUs, end: isoUs(p.endUs!), endUs: p.endUs, durationS: Math.round((p.endUs! - p.startUs) / 1e5) / 10 })),
      incident: {
        what: `payment answers payments.v1.Payments/Charge with gRPC UNAVAILABLE (14) "${PAYMENT_FAILURE_MESSAGE}"; checkout answers POST /api/checkout with 502`,
        failingService: 'payment-svc', failingWorkload: 'payment', grpcStatus: 14, grpcMessage: PAYMENT_FAILURE_MESSAGE,
        symptom: { from: 'frontend', to: 'checkout', method: 'POST', path: '/api/checkout', status: 502 },
        unauthenticatedEdge: { from: 'checkout', to: 'inventory', protocol: 'http2', path: '/inventory/{sku}' },
        dnsFailure: { from: 'frontend', name: NAME_TYPO },
      },
      addressMap: {
        pods: Object.fromEntries(PODS.map((p) => [p.ip, { pod: podName(p), namespace: p.namespace, workload: { kind: 'Deployment', name: p.app }, replicaSet: `${p.app}-${p.rsHash}`, node: p.node, loopback: p.loopback }])),
        services: Object.fromEntries(SERVICES.map((s) => [s.clusterIP, { service: s.name, namespace: s.namespace, fqdn: svcFqdn(s), ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, podPort: p.podPort, protocol: p.protocol })), backendPods: [podName(pod(s.backend))], loopback: s.loopback }])),
        nodes: Object.fromEntries(NODES.map((n) => [n.internalIP, { node: n.name, podCIDR: n.podCIDR }])),
      },
      dnsConfig: { server: `${DNS_SVC.clusterIP}:53 (kube-dns)`, search: SEARCH, ndots: NDOTS, ttlS: DNS_TTL_S, implementation: 'dnsmasq 2.x, --local=/#/ (NXDOMAIN for every unknown name), --host-record per Service' },
      summary,
      calls,
      dnsLookups,
      dnsQueries,
      tshark: v.report,
    };
    writeFileSync(EXPECTED, expectedJson(expected));
    const sizes: Record<string, number> = {};
    for (const f of [CAPTURE, MANIFEST, EXPECTED, PROTO]) sizes[rel(f).replace('fixtures/sample/', '')] = statSync(f).size;
    writeFileSync(README, readme(expected, summary, sizes));
    log(`tshark: ${JSON.stringify({ ...v.report, commands: undefined, addresses: undefined })}`);
    if (size > MAX_CAPTURE_BYTES) v.problems.push(`capture is ${size} bytes, more than ${MAX_CAPTURE_BYTES}`);
    const unauth = (summary.unauthenticatedEdges as unknown[]).length;
    if (unauth !== 1) v.problems.push(`${unauth} edges without credentials, expected exactly 1`);
    if (v.problems.length > 0) {
      for (const p of v.problems) log(`MISMATCH: ${p}`);
      throw new FixtureError(`${v.problems.length} mismatch(es) between the capture and the ground truth`);
    }
    log('verified: every call, gRPC status, DNS query and answer in the capture matches expected.json');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
