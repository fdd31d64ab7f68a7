/**
 * The analyses (stats, map, timeline, diff, auth) over fixtures imported into a
 * temp workspace and over a synthetic shop written through the store, checked
 * against values computed here, independently, from the records.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint, TransactionRecord } from '../src/dissect/record.js';
import { endpoint } from '../src/dissect/record.js';
import { emptyReport } from '../src/dissect/report.js';
import { importSnapshot, newSnapshotId } from '../src/store/import.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { Workspace, type StoredRecord } from '../src/store/workspace.js';
import { PODCAP_VERSION } from '../src/version.js';
import { listCalls } from '../src/query/calls.js';
import { computeStats, type StatsRow } from '../src/query/stats.js';
import { Samples } from '../src/query/percentiles.js';
import { computeServiceMap, mermaidIds, toDot, toMermaid, type ServiceMap } from '../src/query/service-map.js';
import { computeTimeline, formatDuration, parseDuration } from '../src/query/timeline.js';
import { computeDiff } from '../src/query/diff.js';
import { computeAuth, decodeJwt } from '../src/query/auth.js';
import { ANALYSIS_COMMANDS } from '../src/cli/analyses.js';
import { fixturesDir } from './support/paths.js';

// ---------------------------------------------------------------------------------------------
// Independent reference computations
// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentile, written here from the definition: the ceil(p/100·n)-th smallest value. */
function refPercentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}

/** The fixtures' identifier segments: numbers and prefixed numbers (sku-123). */
function refTemplate(path: string): string {
  return path.split('/').map((s) => (/^\d+$/.test(s) || /^[a-z]+-\d+$/i.test(s) ? '{id}' : s)).join('/');
}

/** How a destination is named (README: service, else namespace/workload, else name, else DNS name, else ip:port). */
function refDestination(e: Endpoint): string {
  if (e.service) return `${e.service.namespace}/${e.service.name}`;
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  if (e.dns) return e.dns;
  return `${e.ip}:${e.port}`;
}

function refSource(e: Endpoint): string {
  if (e.workload && e.namespace) return `${e.namespace}/${e.workload.name}`;
  if (e.name) return e.namespace ? `${e.namespace}/${e.name}` : e.name;
  return e.dns ?? e.ip;
}

function refEndpoint(r: TransactionRecord): string {
  const d = refDestination(r.dst);
  if (r.grpc) return [r.protocol, d, r.grpc.service, r.grpc.method].join('|');
  if (r.dns) return [r.protocol, d, r.dns.questions[0]?.type ?? '', r.dns.questions[0]?.name.toLowerCase() ?? ''].join('|');
  return [r.protocol, d, r.request.method, refTemplate(r.request.path)].join('|');
}

interface RefGroup {
  calls: number;
  failures: number;
  latencies: number[];
  requestBytes: number;
  responseBytes: number;
  firstTs: number;
  lastTs: number;
}

function refGroups(records: TransactionRecord[], key: (r: TransactionRecord) => string): Map<string, RefGroup> {
  const out = new Map<string, RefGroup>();
  for (const r of records) {
    const k = key(r);
    let g = out.get(k);
    if (!g) out.set(k, (g = { calls: 0, failures: 0, latencies: [], requestBytes: 0, responseBytes: 0, firstTs: Infinity, lastTs: -Infinity }));
    g.calls++;
    if (r.failed) g.failures++;
    if (r.response && r.elapsedTime !== null) g.latencies.push(r.elapsedTime);
    g.requestBytes += r.request.bodySize;
    g.responseBytes += r.response?.bodySize ?? 0;
    g.firstTs = Math.min(g.firstTs, r.timestamp);
    g.lastTs = Math.max(g.lastTs, r.timestamp);
  }
  return out;
}

function assertRowMatches(row: StatsRow, ref: RefGroup, what: string): void {
  assert.equal(row.calls, ref.calls, `${what}: calls`);
  assert.equal(row.failures, ref.failures, `${what}: failures`);
  assert.equal(row.failureRate, ref.failures / ref.calls, `${what}: failure rate`);
  assert.equal(row.responses, ref.latencies.length, `${what}: responses`);
  assert.equal(row.latencyMs.p50, refPercentile(ref.latencies, 50), `${what}: p50`);
  assert.equal(row.latencyMs.p90, refPercentile(ref.latencies, 90), `${what}: p90`);
  assert.equal(row.latencyMs.p99, refPercentile(ref.latencies, 99), `${what}: p99`);
  assert.equal(row.latencyMs.max, ref.latencies.length ? Math.max(...ref.latencies) : null, `${what}: max`);
  assert.equal(row.requestBytes, ref.requestBytes, `${what}: request bytes`);
  assert.equal(row.responseBytes, ref.responseBytes, `${what}: response bytes`);
  assert.equal(row.firstTs, ref.firstTs, `${what}: first seen`);
  assert.equal(row.lastTs, ref.lastTs, `${what}: last seen`);
}

function rowKey(r: StatsRow): string {
  const e = r.endpoint!;
  return [e.protocol, e.destination, e.method, e.path].join('|');
}

const recordCache = new Map<string, TransactionRecord[]>();
function records(ws: Workspace, snapshot: string, filter = ''): TransactionRecord[] {
  const key = `${snapshot}\u0000${filter}`;
  let recs = recordCache.get(key);
  if (!recs) recordCache.set(key, (recs = listCalls(ws, { snapshots: [snapshot], filter, limit: 1_000_000 }).calls));
  return recs;
}

// ---------------------------------------------------------------------------------------------
// A synthetic shop, written through the store as an import would
// ---------------------------------------------------------------------------------------------

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}
const jwt = (claims: Record<string, unknown>): string => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.${Buffer.from('synthetic-signature').toString('base64url')}`;
const T0 = Date.parse('2026-11-20T10:00:00Z') * 1000;
const SPAN = 10 * 60e6; // 10 minutes
const USER_TOKEN = jwt({ iss: 'https://auth.shop.example', sub: 'user-7', aud: ['checkout', 'payments'], exp: T0 / 1e6 + 3600 });
const SERVICE_TOKEN = jwt({ iss: 'https://auth.shop.example', sub: 'svc-checkout', aud: 'payments', exp: T0 / 1e6 + 3600 });

function pod(ip: string, name: string, workload: string, service: string | null, port = 40000): Endpoint {
  return {
    ...endpoint(ip, port), name, namespace: 'shop', kind: 'pod', workload: { kind: 'Deployment', name: workload }, labels: { app: workload },
    node: 'node-a', service: service ? { name: service, namespace: 'shop' } : null,
  };
}

function synthetic(n: number): StoredRecord[] {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const frontend = pod('10.0.0.10', 'frontend-5d8f-abc', 'frontend', null);
  const checkoutPod = pod('10.0.0.20', 'checkout-6c7d-xyz', 'checkout', null);
  const checkoutSvc = { ...pod('10.96.0.20', 'checkout', 'checkout', 'checkout', 8080), kind: 'service' as const };
  const paymentSvc = { ...pod('10.96.0.30', 'payment-svc', 'payment', 'payment-svc', 50051), kind: 'service' as const };
  const inventorySvc = { ...pod('10.96.0.40', 'inventory', 'inventory', 'inventory', 8080), kind: 'service' as const };
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const ts = T0 + Math.floor((i / n) * SPAN) + 0.25;
    const lateHalf = ts >= T0 + SPAN * 0.6;
    const kind = i % 3;
    const elapsed = Math.round((1 + rand() * 40 + (kind === 1 && lateHalf ? 200 : 0)) * 1000) / 1000;
    const base = {
      timestamp: ts, elapsedTime: elapsed, responseTimestamp: ts + elapsed * 1000, stream: { id: 1 + (i % 50), transport: 'tcp' as const }, notes: [],
    };
    const response = (status: number, size: number) => ({
      status, statusText: '', version: 'HTTP/1.1', headers: [['content-type', 'application/json']] as Array<[string, string]>,
      headersSize: 60, bodySize: size, wireBodySize: size, contentEncoding: null, body: null,
    });
    if (kind === 0) {
      const status = lateHalf && i % 7 === 0 ? 502 : 200;
      out.push({
        ...base, protocol: 'http', src: frontend, dst: checkoutSvc,
        request: {
          method: 'POST', url: `/api/checkout/${1000 + i}`, path: `/api/checkout/${1000 + i}`, query: '', version: 'HTTP/1.1',
          headers: [['host', 'checkout'], ['authorization', `Bearer ${USER_TOKEN}`], ['x-tenant', 'eu']], headersSize: 100, bodySize: 120, wireBodySize: 120, contentEncoding: null, body: null,
        },
        response: response(status, 80), status, failed: status >= 500,
      });
    } else if (kind === 1) {
      const status = lateHalf ? 14 : 0;
      out.push({
        ...base, protocol: 'grpc', src: checkoutPod, dst: paymentSvc,
        request: {
          method: 'POST', url: '/payments.v1.Payments/Charge', path: '/payments.v1.Payments/Charge', query: '', version: 'HTTP/2',
          headers: [[':authority', 'payment-svc'], ['authorization', `Bearer ${SERVICE_TOKEN}`]], headersSize: 80, bodySize: 40, wireBodySize: 40, contentEncoding: null, body: null,
        },
        response: { ...response(200, 20), version: 'HTTP/2' }, status, failed: status !== 0,
        grpc: {
          service: 'payments.v1.Payments', method: 'Charge', encoding: null, grpcStatus: status, statusName: status ? 'UNAVAILABLE' : 'OK',
          message: status ? 'payment provider unreachable' : null, requestMessages: 1, responseMessages: status ? 0 : 1, messages: [],
        },
      });
    } else {
      const sku = `sku-${100 + (i % 30)}`;
      out.push({
        ...base, protocol: 'http2', src: checkoutPod, dst: inventorySvc,
        request: {
          method: 'GET', url: `/inventory/${sku}`, path: `/inventory/${sku}`, query: '', version: 'HTTP/2',
          headers: [[':authority', 'inventory']], headersSize: 40, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
        },
        response: { ...response(200, 64), version: 'HTTP/2' }, status: 200, failed: false,
      });
    }
  }
  return out;
}

async function writeSnapshot(ws: Workspace, name: string, recs: StoredRecord[]): Promise<SnapshotMeta> {
  const id = newSnapshotId();
  const meta: SnapshotMeta = {
    id, name, createdAt: new Date().toISOString(), state: 'importing', pid: process.pid, protoDirs: [], sources: [], files: [], skipped: [],
    inputNotes: [], report: emptyReport(), transactions: 0, firstTs: null, lastTs: null, podcapVersion: PODCAP_VERSION, kubernetes: null, resolution: null,
  };
  await ws.begin(meta);
  const summary = ws.summaryWriter(id);
  recs.forEach((r, i) => {
    ws.write(id, i + 1, r, null, null);
    summary.add(i + 1, r);
    if (meta.firstTs === null || r.timestamp < meta.firstTs) meta.firstTs = r.timestamp;
    if (meta.lastTs === null || r.timestamp > meta.lastTs) meta.lastTs = r.timestamp;
  });
  summary.finish();
  meta.transactions = recs.length;
  await ws.commit(meta);
  return { ...meta, state: 'ready', pid: null };
}

// ---------------------------------------------------------------------------------------------

const http1 = join(fixturesDir, 'http1', 'sample.pcapng');
let dir: string;
let ws: Workspace;
const snap: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'podcap-analyses-'));
  ws = await Workspace.open(dir);
  snap.http1 = (await importSnapshot(ws, [http1], { name: 'http1' })).id;
  snap.http1again = (await importSnapshot(ws, [http1], { name: 'http1-again' })).id;
  snap.grpc = (await importSnapshot(ws, [join(fixturesDir, 'grpc', 'grpc.pcap')], { name: 'grpc' })).id;
  snap.dns = (await importSnapshot(ws, [join(fixturesDir, 'dns', 'dns.pcap')], { name: 'dns' })).id;
  snap.h2 = (await importSnapshot(ws, [join(fixturesDir, 'h2', 'h2c-prior-knowledge.pcap')], { name: 'h2' })).id;
  snap.lossy = (await importSnapshot(ws, [join(fixturesDir, 'lossy', 'netem.pcap')], { name: 'lossy' })).id;
  snap.shop = (await writeSnapshot(ws, 'shop', synthetic(9000))).id;
  if (existsSync(join(fixturesDir, 'sample', 'capture.pcap'))) {
    snap.sample = (await importSnapshot(ws, [join(fixturesDir, 'sample')], { name: 'sample' })).id;
  }
});

after(async () => {
  await ws.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('percentiles', () => {
  it('nearest-rank by selection equals the definition on sorted copies, for any order, duplicates and sizes', () => {
    let seed = 1;
    const rand = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const ps = [0.1, 1, 25, 50, 90, 95, 99, 99.9, 100];
    for (const n of [1, 2, 3, 7, 10, 23, 24, 25, 100, 599, 600, 601, 1000, 5000, 100_000]) {
      for (const shape of ['random', 'ascending', 'descending', 'few values', 'constant']) {
        const values = Array.from({ length: n }, (_, i) => shape === 'random' ? rand() * 1000
          : shape === 'ascending' ? i / 3 : shape === 'descending' ? n - i : shape === 'few values' ? Math.floor(rand() * 4) : 5);
        const s = new Samples(4);
        for (const v of values) s.push(v);
        assert.deepEqual(s.percentiles(ps), ps.map((p) => refPercentile(values, p)), `${shape} n=${n}`);
        assert.deepEqual(s.percentiles([99, 50]), [refPercentile(values, 99), refPercentile(values, 50)], `${shape} n=${n}, again`);
        assert.equal(s.max, Math.max(...values.slice(0, 200_000)));
        const halves = [new Samples(), new Samples()];
        values.forEach((v, i) => halves[i % 2].push(v));
        assert.equal(Samples.concat(halves).percentile(95), refPercentile(values, 95));
      }
    }
    assert.deepEqual(new Samples().percentiles([50]), [null]);
    assert.equal(new Samples().max, null);
  });
});

describe('stats', () => {
  it('per endpoint equals what the records say: counts, failures, rate, nearest-rank percentiles, max, bytes, first/last', () => {
    for (const name of ['http1', 'grpc', 'dns', 'h2', 'lossy', 'shop', ...(snap.sample ? ['sample'] : [])]) {
      const recs = records(ws, snap[name]);
      const ref = refGroups(recs, refEndpoint);
      const s = computeStats(ws, { snapshots: [snap[name]] });
      assert.equal(s.matched, recs.length, `${name}: matched`);
      assert.equal(s.recordsRead, 0, `${name}: no filter, no record read`);
      assert.equal(s.totalGroups, ref.size, `${name}: endpoints`);
      assert.deepEqual(new Set(s.groups.map(rowKey)), new Set(ref.keys()), `${name}: endpoint keys`);
      for (const row of s.groups) assertRowMatches(row, ref.get(rowKey(row))!, `${name} ${row.label}`);
      const all = refGroups(recs, () => 'all').get('all')!;
      assertRowMatches(s.totals, all, `${name} totals`);
      assert.equal(s.percentiles.method, 'nearest-rank');
    }
  });

  it('the http1 fixture: 16 calls, 2 failing, and /api/orders/42 grouped as /api/orders/{id}', () => {
    const s = computeStats(ws, { snapshots: [snap.http1] });
    assert.equal(s.totals.calls, 16);
    assert.equal(s.totals.failures, 2);
    const paths = s.groups.map((g) => `${g.endpoint!.method} ${g.endpoint!.path}`);
    for (const m of ['GET', 'PUT', 'DELETE']) assert.ok(paths.includes(`${m} /api/orders/{id}`), `${m} /api/orders/{id}`);
    assert.ok(paths.includes('GET /inventory/stock/{id}'));
    assert.ok(!paths.some((p) => p.includes('/42') || p.includes('sku-123')));
    // In the synthetic shop, 3000 distinct /api/checkout/N paths are one endpoint.
    const shop = computeStats(ws, { snapshots: [snap.shop] });
    const checkout = shop.groups.find((g) => g.endpoint!.path === '/api/checkout/{id}')!;
    assert.equal(checkout.calls, 3000);
    assert.equal(shop.groups.filter((g) => g.endpoint!.protocol === 'http2').length, 1, '/inventory/sku-N: one endpoint');
  });

  it('groups by service, workload and edge', () => {
    const recs = records(ws, snap.shop);
    const bySvc = computeStats(ws, { snapshots: [snap.shop], by: 'service' });
    const refSvc = refGroups(recs, (r) => refDestination(r.dst));
    assert.deepEqual(bySvc.groups.map((g) => g.service).sort(), ['shop/checkout', 'shop/inventory', 'shop/payment-svc']);
    for (const g of bySvc.groups) assertRowMatches(g, refSvc.get(g.service!)!, `service ${g.service}`);
    const byWl = computeStats(ws, { snapshots: [snap.shop], by: 'workload' });
    assert.deepEqual(byWl.groups.map((g) => g.workload).sort(), ['shop/checkout', 'shop/inventory', 'shop/payment']);
    const byEdge = computeStats(ws, { snapshots: [snap.shop], by: 'edge' });
    const refEdge = refGroups(recs, (r) => `${refSource(r.src)} → ${refDestination(r.dst)}`);
    assert.deepEqual(new Set(byEdge.groups.map((g) => g.label)), new Set(refEdge.keys()));
    for (const g of byEdge.groups) assertRowMatches(g, refEdge.get(g.label)!, `edge ${g.label}`);
    const http1Svc = computeStats(ws, { snapshots: [snap.http1], by: 'service' });
    assert.equal(http1Svc.groups.find((g) => g.service === '127.0.0.1:18080')!.calls, 13);
    assert.equal(http1Svc.groups.find((g) => g.service === '127.0.0.1:18081')!.failures, 1);
  });

  it('sorts (descending) and limits', () => {
    const byFailures = computeStats(ws, { snapshots: [snap.http1], sort: 'failures', limit: 2 });
    assert.equal(byFailures.groups.length, 2);
    assert.equal(byFailures.totalGroups, 16);
    assert.deepEqual(byFailures.groups.map((g) => g.failures), [1, 1]);
    const byP99 = computeStats(ws, { snapshots: [snap.dns], sort: 'p99' });
    const p99s = byP99.groups.map((g) => g.latencyMs.p99 ?? -1);
    assert.deepEqual(p99s, [...p99s].sort((a, b) => b - a));
    const byBytes = computeStats(ws, { snapshots: [snap.http1], sort: 'bytes' });
    assert.equal(byBytes.groups[0].endpoint!.path, '/api/report', 'the largest response (594 bytes) first');
    const byRate = computeStats(ws, { snapshots: [snap.shop], sort: 'rate' });
    assert.equal(byRate.groups[0].endpoint!.method, 'payments.v1.Payments');
  });

  it('a filter that needs records gives what its index-only equivalent gives', () => {
    const viaRecords = computeStats(ws, { snapshots: [snap.http1], filter: 'request.headers["x-request-id"] == "fx-0008"' });
    const viaIndex = computeStats(ws, { snapshots: [snap.http1], filter: 'path == "/api/payments/charge"' });
    assert.ok(viaRecords.recordsRead > 0, 'the header filter reads records');
    assert.equal(viaIndex.recordsRead, 0, 'the path filter is answered by the index');
    assert.equal(viaRecords.matched, 1);
    assert.deepEqual(viaRecords.groups, viaIndex.groups);
    assert.deepEqual(viaRecords.totals, viaIndex.totals);
    // On the shop: a header only frontend sends, against the source workload (indexed).
    const a = computeStats(ws, { snapshots: [snap.shop], filter: 'request.headers["x-tenant"] == "eu"', by: 'edge' });
    const b = computeStats(ws, { snapshots: [snap.shop], filter: 'src.workload.name == "frontend"', by: 'edge' });
    assert.equal(a.recordsRead, 9000);
    assert.equal(b.recordsRead, 0);
    assert.deepEqual(a.groups, b.groups);
    const m1 = computeServiceMap(ws, { snapshots: [snap.shop], filter: 'request.headers["x-tenant"] == "eu" || grpc' });
    const m2 = computeServiceMap(ws, { snapshots: [snap.shop], filter: '!(protocol == "HTTP/2")' });
    assert.deepEqual(m1.edges, m2.edges);
    assert.deepEqual(m1.nodes, m2.nodes);
  });

  it('index-only filters read no record', () => {
    for (const filter of ['grpc && failed', 'dst.service.name == "inventory"', 'status_code >= 500', 'path.startsWith("/api/checkout/")', 'elapsed_time > 100000']) {
      const s = computeStats(ws, { snapshots: [snap.shop], filter });
      assert.equal(s.recordsRead, 0, filter);
      assert.equal(s.matched, records(ws, snap.shop, filter).length, filter);
    }
  });

  it('takes a time window: from/to, or the last so long of the capture', () => {
    const recs = records(ws, snap.shop);
    const end = Math.max(...recs.map((r) => r.timestamp));
    const last = computeStats(ws, { snapshots: [snap.shop], window: { last: 5 * 60e6 } });
    assert.equal(last.matched, recs.filter((r) => r.timestamp >= end - 5 * 60e6).length);
    const from = T0 + 60e6;
    const to = T0 + 120e6;
    const w = computeStats(ws, { snapshots: [snap.shop], window: { from, to }, by: 'edge' });
    const inWindow = recs.filter((r) => r.timestamp >= from && r.timestamp <= to);
    assert.equal(w.matched, inWindow.length);
    const ref = refGroups(inWindow, (r) => `${refSource(r.src)} → ${refDestination(r.dst)}`);
    for (const g of w.groups) assertRowMatches(g, ref.get(g.label)!, `window ${g.label}`);
    // A window with a filter that needs records reads only the window's records.
    const wr = computeStats(ws, { snapshots: [snap.shop], window: { from, to }, filter: 'request.headers["x-tenant"] == "eu"' });
    assert.ok(wr.recordsRead <= inWindow.length + 10, `read ${wr.recordsRead}`);
    assert.equal(wr.matched, inWindow.filter((r) => r.src.workload?.name === 'frontend').length);
  });
});

describe('map', () => {
  it('its edges are the (source, destination, protocol) of the records, with their counts and credentials', () => {
    for (const name of ['http1', 'grpc', 'dns', 'shop']) {
      const recs = records(ws, snap[name]);
      const m = computeServiceMap(ws, { snapshots: [snap[name]] });
      const ref = new Map<string, { calls: number; failures: number; withAuth: number }>();
      for (const r of recs) {
        const k = `${refSource(r.src)}|${refDestination(r.dst)}|${r.protocol}`;
        const e = ref.get(k) ?? { calls: 0, failures: 0, withAuth: 0 };
        e.calls++;
        if (r.failed) e.failures++;
        if (r.request.headers.some(([h]) => /^(authorization|cookie|x-api-key)$/i.test(h))) e.withAuth++;
        ref.set(k, e);
      }
      assert.deepEqual(new Set(m.edges.map((e) => `${e.source}|${e.destination}|${e.protocol}`)), new Set(ref.keys()), name);
      for (const e of m.edges) {
        const r = ref.get(`${e.source}|${e.destination}|${e.protocol}`)!;
        assert.equal(e.calls, r.calls);
        assert.equal(e.failures, r.failures);
        assert.equal(e.authenticatedCalls, r.withAuth, `${name} ${e.source} → ${e.destination}`);
        assert.equal(e.credentials, e.protocol === 'dns' ? 'n/a' : r.withAuth === 0 ? 'none' : r.withAuth === e.calls ? 'all' : 'some');
      }
      const nodeIds = new Set(m.nodes.map((n) => n.id));
      for (const e of m.edges) assert.ok(nodeIds.has(e.source) && nodeIds.has(e.destination));
    }
    const shop = computeServiceMap(ws, { snapshots: [snap.shop] });
    assert.deepEqual(shop.nodes.map((n) => [n.id, n.kind]), [
      ['shop/checkout', 'workload'], ['shop/frontend', 'workload'], ['shop/inventory', 'workload'], ['shop/payment-svc', 'service'],
    ]);
    const http1Map = computeServiceMap(ws, { snapshots: [snap.http1] });
    assert.deepEqual(http1Map.edges.map((e) => [e.destination, e.credentials]), [
      ['127.0.0.1:18080', 'some'], ['127.0.0.1:18081', 'none'], ['127.0.0.1:18082', 'none'],
    ]);
  });

  it('DOT is valid Graphviz (dot -Tsvg when installed), escaped, deterministic; failing edges red, unauthenticated dashed', () => {
    const m = computeServiceMap(ws, { snapshots: [snap.http1, snap.shop, snap.dns] });
    const dot = toDot(m);
    assert.equal(dot, toDot(computeServiceMap(ws, { snapshots: [snap.http1, snap.shop, snap.dns] })), 'deterministic');
    assert.match(dot, /^digraph podcap \{\n/);
    assert.match(dot, /"127\.0\.0\.1" -> "127\.0\.0\.1:18081" \[[^\]]*color="red"[^\]]*style="dashed"/);
    assert.match(dot, /"shop\/checkout" -> "shop\/payment-svc" \[[^\]]*color="red"/);
    assert.doesNotMatch(dot.split('\n').find((l) => l.includes('"shop/frontend" -> "shop/checkout"'))!, /dashed|dotted/);
    // Names that need escaping.
    const tricky: ServiceMap = {
      ...m,
      nodes: [{ id: 'a "quoted" \\ name', kind: 'external', callsIn: 0, callsOut: 1, failuresIn: 0 }, { id: 'b\nline {x}; -> y', kind: 'service', callsIn: 1, callsOut: 0, failuresIn: 1 }],
      edges: [{ ...m.edges[0], source: 'a "quoted" \\ name', destination: 'b\nline {x}; -> y', failures: 1, credentials: 'none' }],
    };
    const dots = [dot, toDot(tricky)];
    const hasDot = spawnSync('dot', ['-V']).status === 0;
    for (const d of dots) {
      if (hasDot) {
        const r = spawnSync('dot', ['-Tsvg'], { input: d, encoding: 'utf8' });
        assert.equal(r.status, 0, `dot -Tsvg failed: ${r.stderr}\n${d}`);
        assert.match(r.stdout, /<svg/);
      } else {
        structuralDotCheck(d);
      }
    }
    structuralDotCheck(toDot(tricky));
  });

  it('Mermaid is a flowchart LR with sanitised ids, quoted labels, declared nodes; deterministic', () => {
    const m = computeServiceMap(ws, { snapshots: [snap.http1, snap.shop, snap.dns] });
    const text = toMermaid(m);
    assert.equal(text, toMermaid(computeServiceMap(ws, { snapshots: [snap.http1, snap.shop, snap.dns] })));
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], 'flowchart LR');
    const declared = new Set<string>();
    let edges = 0;
    for (const line of lines.slice(1)) {
      const node = /^ {2}(n_[A-Za-z0-9_]+)(\["[^"]*"\]|\("[^"]*"\)|\(\["[^"]*"\]\))$/.exec(line);
      const edge = /^ {2}(n_[A-Za-z0-9_]+) (-->|-\.->)\|"[^"]*"\| (n_[A-Za-z0-9_]+)$/.exec(line);
      const style = /^ {2}linkStyle ([0-9,]+) [a-z-]+:[^;\n]+$/.exec(line);
      assert.ok(node || edge || style, `not Mermaid: ${line}`);
      if (node) declared.add(node[1]);
      if (edge) {
        assert.ok(declared.has(edge[1]) && declared.has(edge[3]), `undeclared node in ${line}`);
        edges++;
      }
      if (style) for (const i of style[1].split(',')) assert.ok(Number(i) < edges);
    }
    assert.equal(edges, m.edges.length);
    assert.equal(declared.size, m.nodes.length, 'ids are distinct');
    assert.match(text, /-\.->\|"http 2 calls, 1 failed/, 'the unauthenticated inventory edge is dashed');
    const ids = mermaidIds(['a/b', 'a.b', 'end', 'x"y']);
    assert.deepEqual([...ids.values()].sort(), ['n_a_b', 'n_a_b_2', 'n_end', 'n_x_y']);
  });
});

function structuralDotCheck(d: string): void {
  const lines = d.trimEnd().split('\n');
  assert.equal(lines[0], 'digraph podcap {');
  assert.equal(lines[lines.length - 1], '}');
  const q = '"(?:[^"\\\\\\n]|\\\\.)*"';
  const stmt = new RegExp(`^ {2}(?:rankdir=LR;|node \\[.*\\];|edge \\[.*\\];|${q} \\[.*\\];|${q} -> ${q} \\[.*\\];)$`);
  for (const l of lines.slice(1, -1)) assert.match(l, stmt);
}

describe('timeline', () => {
  it('bucket sums equal the totals, and the first failing bucket holds the first failure', () => {
    for (const [name, bucket] of [['http1', 10e3], ['http1', undefined], ['shop', 60e6], ['dns', 1e6]] as const) {
      const recs = records(ws, snap[name]);
      const t = computeTimeline(ws, { snapshots: [snap[name]], bucket });
      assert.equal(t.buckets.reduce((a, b) => a + b.calls, 0), recs.length, `${name}: calls`);
      assert.equal(t.buckets.reduce((a, b) => a + b.failures, 0), recs.filter((r) => r.failed).length, `${name}: failures`);
      assert.equal(t.totals.calls, recs.length);
      for (const b of t.buckets) {
        assert.equal(Object.values(b.byProtocol).reduce((a, p) => a + p.calls, 0), b.calls);
        const inside = recs.filter((r) => r.timestamp >= b.startTs && r.timestamp < b.startTs + t.bucketUs);
        assert.equal(b.calls, inside.length, `${name}: bucket ${b.start}`);
        const lat = inside.filter((r) => r.response && r.elapsedTime !== null).map((r) => r.elapsedTime!);
        assert.equal(b.latencyMs.p99, refPercentile(lat, 99));
      }
      const failed = recs.filter((r) => r.failed).sort((a, b) => a.timestamp - b.timestamp);
      if (failed.length === 0) {
        assert.equal(t.firstFailingBucket, null);
        continue;
      }
      assert.equal(t.firstFailure!.ts, failed[0].timestamp);
      const fb = t.firstFailingBucket!;
      assert.equal(fb, t.firstFailure!.bucket);
      assert.ok(t.buckets[fb].failures > 0);
      assert.ok(t.buckets.slice(0, fb).every((b) => b.failures === 0));
      assert.ok(t.buckets[fb].startTs <= failed[0].timestamp && failed[0].timestamp < t.buckets[fb].startTs + t.bucketUs);
    }
  });

  it('buckets are aligned, empty ones kept, at most 60 by default; --around a time looks either side', () => {
    const t = computeTimeline(ws, { snapshots: [snap.shop] });
    assert.equal(t.bucket, '10s');
    assert.ok(t.buckets.length <= 61);
    assert.ok(t.buckets.every((b) => b.startTs % t.bucketUs === 0));
    // The first failure: the first gRPC call (every third row) at or after 60% of the span.
    assert.equal(t.firstFailure!.time, '2026-11-20T10:06:00.066Z');
    assert.equal(t.firstFailure!.protocol, 'grpc');
    const around = computeTimeline(ws, { snapshots: [snap.shop], around: T0 + SPAN * 0.6, aroundWindow: 60e6, bucket: 10e6 });
    assert.equal(around.buckets.length, 13);
    assert.equal(around.buckets[0].startTs, T0 + SPAN * 0.6 - 60e6);
    assert.equal(around.firstFailingBucket, 6);
    assert.ok(around.buckets.slice(0, 6).every((b) => b.failures === 0 && b.calls > 0));
    const gappy = computeTimeline(ws, { snapshots: [snap.shop], window: { from: T0 - 60e6, to: T0 + 60e6 }, bucket: 30e6 });
    // [T0-60s, T0-30s) and [T0-30s, T0) are empty; the last bucket holds only the window's end, T0+60s, where no call is.
    assert.deepEqual(gappy.buckets.map((b) => b.calls > 0), [false, false, true, true, false]);
    assert.throws(() => computeTimeline(ws, { snapshots: [snap.shop], bucket: 1 }), /more than 10000/);
    assert.equal(parseDuration('1m30s'), 90e6);
    assert.equal(parseDuration('250ms'), 250e3);
    assert.equal(formatDuration(90e6), '1m30s');
    assert.throws(() => parseDuration('5 minutes'), /not a duration/);
  });
});

describe('diff', () => {
  it('between the halves of http1/sample ranks the endpoints with failures in only one half first', () => {
    const recs = records(ws, snap.http1);
    const lo = Math.min(...recs.map((r) => r.timestamp));
    const hi = Math.max(...recs.map((r) => r.timestamp));
    const mid = lo + (hi - lo) / 2;
    const half = (r: TransactionRecord): 'a' | 'b' => (r.timestamp < mid ? 'a' : 'b');
    const failing = new Map<string, Set<string>>();
    for (const r of recs.filter((x) => x.failed)) {
      const k = `${r.request.method} ${refTemplate(r.request.path)}`;
      failing.set(k, (failing.get(k) ?? new Set()).add(half(r)));
    }
    const oneSided = [...failing].filter(([, halves]) => halves.size === 1).map(([k]) => k).sort();
    assert.equal(oneSided.length, 2);
    const d = computeDiff(ws, { halves: true, snapshots: [snap.http1] });
    assert.equal(d.a.calls + d.b.calls, 16);
    assert.equal(d.a.calls, recs.filter((r) => half(r) === 'a').length);
    const top = d.endpoints.slice(0, 2).map((r) => `${r.endpoint.method} ${r.endpoint.path}`).sort();
    assert.deepEqual(top, oneSided);
    assert.ok(d.endpoints[1].score > d.endpoints[2].score);
    for (const r of d.endpoints) {
      const inA = recs.filter((x) => half(x) === 'a' && `${x.request.method} ${refTemplate(x.request.path)}` === `${r.endpoint.method} ${r.endpoint.path}`);
      assert.equal(r.a.calls, inA.length);
      assert.equal(r.change, r.a.calls === 0 ? 'appeared' : r.b.calls === 0 ? 'vanished' : 'both');
      if (r.a.calls) assert.equal(r.a.ratePerSecond, r.a.calls / d.a.durationSeconds!);
    }
    assert.equal(d.a.durationSeconds, (mid - lo) / 1e6);
  });

  it('between the halves of the shop: the gRPC endpoint that started failing first, with rates and p95', () => {
    const d = computeDiff(ws, { halves: true, snapshots: [snap.shop], limit: 5 });
    assert.equal(d.endpoints[0].endpoint.method, 'payments.v1.Payments');
    assert.equal(d.endpoints[0].a.failureRate, 0);
    assert.ok(d.endpoints[0].b.failureRate! > 0.5);
    assert.ok(d.endpoints[0].delta.p95Ms! > 100, 'the latency regression is seen');
    assert.equal(d.endpoints[1].endpoint.path, '/api/checkout/{id}');
    assert.equal(d.endpoints[2].endpoint.protocol, 'http2');
    assert.ok(Math.abs(d.endpoints[2].score) < 0.5);
    const recs = records(ws, snap.shop, 'grpc');
    const mid = T0 + 0.25 + (Math.max(...recs.map((r) => r.timestamp)) - T0 - 0.25) / 2;
    const bRecs = recs.filter((r) => r.timestamp >= mid && r.timestamp >= T0);
    assert.equal(d.endpoints[0].b.calls, bRecs.length);
    assert.equal(d.endpoints[0].b.p95Ms, refPercentile(bRecs.map((r) => r.elapsedTime!), 95));
  });

  it('between two snapshots of the same capture nothing changed; windows compare parts of one capture', () => {
    const d = computeDiff(ws, { a: { snapshots: [snap.http1] }, b: { snapshots: [snap.http1again] } });
    assert.equal(d.totalEndpoints, 16);
    assert.ok(d.endpoints.every((r) => r.change === 'both' && r.score === 0 && r.delta.failureRate === 0 && r.delta.p95Ms === 0));
    const vsDns = computeDiff(ws, { a: { snapshots: [snap.http1] }, b: { snapshots: [snap.dns] } });
    assert.equal(vsDns.vanished, 16);
    assert.equal(vsDns.appeared, vsDns.totalEndpoints - 16);
    const w = computeDiff(ws, {
      a: { snapshots: [snap.shop], window: { from: T0, to: T0 + 60e6 } },
      b: { snapshots: [snap.shop], window: { from: T0 + 540e6, to: T0 + 600e6 } },
    });
    assert.ok(Math.abs(w.a.durationSeconds! - 60) < 1e-3, 'the window, clipped to the capture (which starts 0.25µs after it)');
    assert.equal(w.endpoints[0].endpoint.method, 'payments.v1.Payments');
  });
});

describe('auth', () => {
  it('finds the http1 edges without credentials (inventory :18081, legacy :18082) first, and decodes the fixture JWT', () => {
    const a = computeAuth(ws, { snapshots: [snap.http1] });
    const recs = records(ws, snap.http1);
    const noAuth = new Set<string>();
    const withAuth = new Set<string>();
    for (const r of recs) {
      const dst = refDestination(r.dst);
      if (r.request.headers.some(([h]) => /^(authorization|cookie)$/i.test(h))) withAuth.add(dst);
      else noAuth.add(dst);
    }
    const unauth = [...noAuth].filter((d) => !withAuth.has(d)).sort();
    assert.deepEqual(unauth, ['127.0.0.1:18081', '127.0.0.1:18082']);
    assert.deepEqual(a.unauthenticated.map((u) => u.destination).sort(), unauth);
    assert.deepEqual(a.edges.slice(0, 2).map((e) => e.credentials), ['none', 'none']);
    assert.ok(a.edges.every((e) => e.transport === 'cleartext'));
    const api = a.edges.find((e) => e.destination === '127.0.0.1:18080')!;
    assert.equal(api.credentials, 'some');
    assert.equal(api.kinds.bearer, recs.filter((r) => /^Bearer /.test(r.request.headers.find(([h]) => h.toLowerCase() === 'authorization')?.[1] ?? '')).length);
    assert.equal(api.tokens.length, 1);
    const t = api.tokens[0];
    assert.equal(t.jwt, true);
    assert.equal(t.alg, 'HS256');
    assert.deepEqual(t.claims, { iss: null, sub: 'user-1001', aud: null, exp: 1714525200, expires: '2024-05-01T01:00:00.000Z' });
    assert.equal(t.usedAfterExpiry, true, 'the fixture token expired in 2024');
    // Neither the token nor its signature leaves podcap.
    const header = recs.flatMap((r) => r.request.headers).find(([h]) => h.toLowerCase() === 'authorization')![1];
    const token = header.replace(/^Bearer\s+/i, '');
    const text = JSON.stringify(a);
    for (const part of token.split('.')) assert.ok(!text.includes(part), 'a token part was printed');
  });

  it('the shop: per edge, its tokens with iss, sub, aud, exp; the unauthenticated inventory edge first; a bounded sample', () => {
    const a = computeAuth(ws, { snapshots: [snap.shop], tokenSample: 10 });
    assert.deepEqual(a.unauthenticated, [{ source: 'shop/checkout', destination: 'shop/inventory', protocol: 'http2', calls: 3000 }]);
    assert.equal(a.edges[0].destination, 'shop/inventory');
    const user = a.edges.find((e) => e.source === 'shop/frontend')!;
    assert.equal(user.credentials, 'all');
    assert.equal(user.tokenRecordsRead, 10);
    assert.equal(user.tokens[0].claims!.sub, 'user-7');
    assert.deepEqual(user.tokens[0].claims!.aud, ['checkout', 'payments']);
    assert.equal(user.tokens[0].claims!.iss, 'https://auth.shop.example');
    assert.equal(user.tokens[0].usedAfterExpiry, false);
    const svc = a.edges.find((e) => e.protocol === 'grpc')!;
    assert.equal(svc.tokens[0].claims!.sub, 'svc-checkout');
    assert.equal(svc.tokens[0].claims!.aud, 'payments');
    assert.equal(a.tokenRecordsRead, 20);
    const dns = computeAuth(ws, { snapshots: [snap.dns] });
    assert.ok(dns.edges.every((e) => e.credentials === 'n/a'));
    assert.deepEqual(dns.unauthenticated, []);
    assert.equal(decodeJwt('not.a.jwt'), null);
    assert.equal(decodeJwt('opaque-token'), null);
  });
});

describe('the sample incident (fixtures/sample)', () => {
  const skip = existsSync(join(fixturesDir, 'sample', 'capture.pcap')) ? false : 'fixtures/sample not made yet';
  interface Expected {
    phases: Array<{ name: string; startUs: number; endUs: number }>;
    summary: {
      calls: number; failures: number; firstFailure: { timestampUs: number };
      endpoints: Array<{ protocol: string; method: string; endpoint: string; calls: number; failures: number; withAuthorization: number }>;
      edges: Array<{ from: string; to: string; protocol: string; calls: number; withAuthorization: number }>;
    };
    calls: Array<{ protocol: string; from: { workload: string }; jwtSub?: string | null }>;
  }
  const expected = (): Expected => JSON.parse(readFileSync(join(fixturesDir, 'sample', 'expected.json'), 'utf8')) as Expected;

  it('stats: the ground truth per endpoint (HTTP, HTTP/2, gRPC)', { skip }, () => {
    const e = expected();
    const s = computeStats(ws, { snapshots: [snap.sample], filter: 'http' });
    assert.equal(s.recordsRead, 0);
    assert.equal(s.totals.calls, e.summary.calls);
    assert.equal(s.totals.failures, e.summary.failures);
    for (const x of e.summary.endpoints) {
      const path = x.protocol === 'grpc' ? x.endpoint.split('/').pop() : x.endpoint.replace('{sku}', '{id}');
      const row = s.groups.find((g) => g.endpoint!.protocol === x.protocol && g.endpoint!.path === path)!;
      assert.ok(row, `${x.protocol} ${x.endpoint}`);
      assert.equal(row.calls, x.calls, x.endpoint);
      assert.equal(row.failures, x.failures, x.endpoint);
    }
  });

  it('map and auth: the edges, their credentials, the unauthenticated checkout → inventory, the JWT subjects', { skip }, () => {
    const e = expected();
    const m = computeServiceMap(ws, { snapshots: [snap.sample], filter: 'http' });
    assert.deepEqual(
      m.edges.map((x) => [x.source, x.destination, x.protocol, x.calls, x.authenticatedCalls]).sort(),
      e.summary.edges.map((x) => [`shop/${x.from}`, `shop/${x.to}`, x.protocol, x.calls, x.withAuthorization]).sort(),
    );
    const a = computeAuth(ws, { snapshots: [snap.sample] });
    assert.deepEqual(a.unauthenticated.map((u) => `${u.source} → ${u.destination} ${u.protocol}`), ['shop/checkout → shop/inventory http2']);
    const subs = (wl: string, proto: string): Set<string> => new Set(e.calls.filter((c) => c.from.workload === wl && c.protocol === proto && c.jwtSub).map((c) => c.jwtSub!));
    const front = a.edges.find((x) => x.source === 'shop/frontend' && x.protocol === 'http')!;
    assert.ok(front.tokens.length > 1);
    for (const t of front.tokens) assert.ok(subs('frontend', 'http').has(t.claims!.sub!), t.claims!.sub!);
    const svc = a.edges.find((x) => x.protocol === 'grpc')!;
    assert.deepEqual(svc.tokens.map((t) => t.claims!.sub), [...subs('checkout', 'grpc')]);
  });

  it('timeline and diff: the outage begins with the first failing call; normal against outage ranks Charge and POST /api/checkout first', { skip }, () => {
    const e = expected();
    const t = computeTimeline(ws, { snapshots: [snap.sample], filter: 'http', bucket: 5e6 });
    const first = e.summary.firstFailure.timestampUs;
    assert.ok(Math.abs(t.firstFailure!.ts - first) < 50e3, `first failure at ${t.firstFailure!.time}`);
    assert.equal(t.buckets[t.firstFailingBucket!].startTs, Math.floor(t.firstFailure!.ts / 5e6) * 5e6);
    const [normal, outage] = e.phases;
    const d = computeDiff(ws, {
      a: { snapshots: [snap.sample], window: { from: normal.startUs, to: normal.endUs } },
      b: { snapshots: [snap.sample], window: { from: outage.startUs + 100e3, to: outage.endUs } },
    });
    assert.deepEqual(d.endpoints.slice(0, 2).map((r) => r.endpoint.path).sort(), ['/api/checkout', 'Charge']);
    assert.ok(d.endpoints.slice(0, 2).every((r) => r.a.failureRate === 0 && r.b.failureRate! > 0.9));
  });
});

describe('the analysis commands', () => {
  let cliDir: string;
  before(async () => {
    cliDir = mkdtempSync(join(tmpdir(), 'podcap-analyses-cli-'));
    const w = await Workspace.open(cliDir);
    await importSnapshot(w, [http1], { name: 'http1' });
    await w.close();
  });
  after(() => rmSync(cliDir, { recursive: true, force: true }));

  async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await ANALYSIS_COMMANDS[cmd].run([...args, '--workspace', cliDir], { out: (s) => { out += `${s}\n`; }, err: (s) => { err += `${s}\n`; } });
    return { code, out, err };
  }

  it('print tables and --json, and map --format dot/mermaid', async () => {
    const stats = await run('stats', []);
    assert.equal(stats.code, 0, stats.err);
    assert.match(stats.out, /^ENDPOINT\s+PROTO\s+CALLS\s+FAILED/);
    assert.match(stats.out, /127\.0\.0\.1:18080 GET \/api\/orders\/\{id\}/);
    const json = JSON.parse((await run('stats', ['--json', '--by', 'service', '--sort', 'failures'])).out);
    assert.equal(json.by, 'service');
    assert.equal(json.totals.calls, 16);
    assert.equal(json.percentiles.method, 'nearest-rank');
    const map = await run('map', []);
    assert.match(map.out, /127\.0\.0\.1:18081 \(external\)\s+http\s+2\s+1\s+50\.0%.*none \(0\/2\)/);
    assert.match((await run('map', ['--format', 'dot'])).out, /^digraph podcap \{/);
    assert.match((await run('map', ['--format', 'mermaid'])).out, /^flowchart LR\n/);
    assert.equal(JSON.parse((await run('map', ['--json'])).out).edges.length, 3);
    const tl = await run('timeline', ['--bucket', '50ms']);
    assert.equal(tl.code, 0, tl.err);
    assert.match(tl.out, /◀ first failure/);
    const diff = await run('diff', ['--halves', '--limit', '3']);
    assert.equal(diff.code, 0, diff.err);
    assert.match(diff.out, /top 3 of 16 endpoints/);
    const auth = await run('auth', []);
    assert.match(auth.out, /^2 edges with NO credentials on any call:/);
    assert.match(auth.out, /user-1001/);
    assert.match(auth.out, /cleartext/);
    assert.equal(JSON.parse((await run('auth', ['--json', 'path.startsWith("/inventory")'])).out).unauthenticated.length, 1);
    const last = JSON.parse((await run('stats', ['--json', '--last', '50ms'])).out);
    assert.ok(last.matched > 0 && last.matched < 16);
    assert.match((await run('stats', ['--help'])).out, /nearest-rank/);
  });

  it('exit codes: usage 1, bad filter 1, unknown snapshot 4', async () => {
    assert.equal((await run('stats', ['--by', 'colour'])).code, 1);
    assert.equal((await run('stats', ['--last', '5 minutes'])).code, 1);
    assert.equal((await run('stats', ['--from', 'yesterday'])).code, 1);
    assert.equal((await run('stats', ['--last', '5m', '--from', '2026-01-01T00:00:00Z'])).code, 1);
    assert.equal((await run('map', ['--format', 'png'])).code, 1);
    const bad = await run('stats', ['status_code >>= 5']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad filter/);
    assert.equal((await run('stats', ['--snapshot', 'nope'])).code, 4);
    assert.equal((await run('diff', ['onlyone'])).code, 1);
    assert.equal((await run('diff', ['nope', 'http1'])).code, 4);
    assert.equal((await run('timeline', ['--window', '5m'])).code, 1);
  });
});
