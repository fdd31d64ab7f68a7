/**
 * Kubeshark's KFL2 examples run unchanged in form on the sample incident, each answer checked
 * against the ground truth the fixture's clients wrote (fixtures/sample/expected.json), computed
 * here independently of podcap. The examples are those of kubeshark/kubeshark
 * skills/kfl/SKILL.md and skills/kfl/references/kfl2-reference.md that apply to HTTP, gRPC, DNS,
 * addresses and Kubernetes identity, with the documentation's names (api-gateway, production, ...)
 * replaced by the sample's (checkout, shop, ...): on a cluster without those names the answers would
 * all be empty, and an empty answer proves little.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importSnapshot } from '../src/store/import.js';
import { Workspace } from '../src/store/workspace.js';
import { listCalls } from '../src/query/calls.js';
import { sampleDir, sampleSkip } from './support/workspace.js';
import { tempWorkspace } from './support/cli.js';


interface Party { pod?: string; namespace: string; workload?: string; service?: string; ip: string; port: number }
interface Call {
  protocol: 'http' | 'http2' | 'grpc'; from: Party; to: Party; method: string; path: string; status: number;
  failed: boolean; authorization: boolean; elapsedMs: number; grpcStatus?: number; grpcMethod?: string; timestampUs: number;
}
interface Query { from: Party; name: string; type: string; rcode: string; outcome: string; timestampUs: number }
interface Expected { calls: Call[]; dnsQueries: Query[]; phases: Array<{ name: string; startUs: number; endUs: number }> }

/** One transaction of the ground truth: a call, or a DNS query with its answer. */
type Truth = { kind: 'call'; c: Call } | { kind: 'dns'; q: Query };

describe('KFL2 examples on the sample incident, against the ground truth', { skip: sampleSkip }, () => {
  let tmp: { dir: string; cleanup: () => void };
  let ws: Workspace;
  let e: Expected;
  let truth: Truth[];

  before(async () => {
    tmp = tempWorkspace();
    ws = await Workspace.open(tmp.dir);
    await importSnapshot(ws, [sampleDir], { name: 'sample' });
    e = JSON.parse(readFileSync(join(sampleDir, 'expected.json'), 'utf8')) as Expected;
    truth = [...e.calls.map((c): Truth => ({ kind: 'call', c })), ...e.dnsQueries.map((q): Truth => ({ kind: 'dns', q }))];
  });
  after(async () => {
    await ws.close();
    tmp.cleanup();
  });

  /** How many transactions podcap's filter selects, every page read. */
  function count(filter: string): number {
    let n = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = listCalls(ws, { filter, limit: 200, cursor });
      n += page.calls.length;
      if (!page.nextCursor) return n;
      cursor = page.nextCursor;
    }
  }

  const calls = (p: (c: Call) => boolean): number => e.calls.filter(p).length;
  const queries = (p: (q: Query) => boolean): number => e.dnsQueries.filter(p).length;
  const isHttp = (c: Call): boolean => c.protocol !== 'grpc';
  /** KFL2's status_code: the HTTP status, the gRPC status on gRPC calls. */
  const statusCode = (c: Call): number => (c.protocol === 'grpc' ? c.grpcStatus! : c.status);
  const frontendPod = (): string => e.calls.find((c) => c.from.workload === 'frontend')!.from.pod!;
  const frontendIp = (): string => e.calls.find((c) => c.from.workload === 'frontend')!.from.ip;

  const cases: Array<[string, () => string, () => number]> = [
    // kfl2-reference.md
    ['http && method == "POST" && status_code >= 500 && path.contains("/api")', () => 'http && method == "POST" && status_code >= 500 && path.contains("/api")',
      () => calls((c) => isHttp(c) && c.method === 'POST' && c.status >= 500 && c.path.includes('/api'))],
    ['dns && dns_response && status_code != 0', () => 'dns && dns_response && status_code != 0', () => queries((q) => q.rcode !== 'NOERROR')],
    ['grpc && grpc_status != 0 && grpc_method.contains("Create")', () => 'grpc && grpc_status != 0 && grpc_method.contains("Charge")',
      () => calls((c) => c.protocol === 'grpc' && c.grpcStatus !== 0 && c.grpcMethod!.includes('Charge'))],
    ['map_get(local_labels, "app", "") == "checkout" && "production" in namespaces', () => 'map_get(local_labels, "app", "") == "checkout" && "shop" in namespaces',
      () => calls((c) => c.from.workload === 'checkout') + queries((q) => q.from.pod!.startsWith('checkout-'))],
    // SKILL.md
    ['!http', () => '!http', () => e.dnsQueries.length],
    ['http && status_code != 200', () => 'http && status_code != 200', () => calls((c) => statusCode(c) !== 200)],
    ['http && !path.contains("/health")', () => 'http && !path.contains("/cart")', () => calls((c) => !c.path.includes('/cart'))],
    ['src.pod.name == "orders-594487879c-7ddxf"', () => `src.pod.name == "${frontendPod()}"`,
      () => calls((c) => c.from.pod === frontendPod()) + queries((q) => q.from.pod === frontendPod())],
    ['dst.service.name == "api-gateway"', () => 'dst.service.name == "inventory"', () => calls((c) => c.to.service === 'inventory')],
    ['"api-gateway" in services', () => '"payment-svc" in services', () => calls((c) => c.to.service === 'payment-svc')],
    // A call to a ClusterIP has a Service at that end, not a pod (which backend took it is not on the
    // wire before DNAT): pods are the ends addressed as pods, here checkout's own calls and lookups.
    ['"orders" in pods', () => 'pods.exists(p, p.startsWith("checkout-"))',
      () => calls((c) => c.from.workload === 'checkout') + queries((q) => q.from.pod!.startsWith('checkout-'))],
    ['"api-gateway" in services (either end)', () => '"checkout" in services', () => calls((c) => c.to.service === 'checkout')],
    ['http && status_code >= 500', () => 'http && status_code >= 500', () => calls((c) => statusCode(c) >= 500)],
    ['http && status_code >= 400 && status_code < 500', () => 'http && status_code >= 400 && status_code < 500',
      () => calls((c) => statusCode(c) >= 400 && statusCode(c) < 500)],
    ['http && method == "POST" && path.contains("/orders")', () => 'http && method == "POST" && path.contains("/checkout")',
      () => calls((c) => c.method === 'POST' && c.path.includes('/checkout'))],
    ['http && url.matches(".*/api/v[0-9]+/users.*")', () => 'http && url.matches(".*/inventory/SKU-1[0-9]+$")',
      () => calls((c) => /.*\/inventory\/SKU-1[0-9]+$/.test(c.path))],
    ['http && "authorization" in request.headers', () => 'http && "authorization" in request.headers', () => calls((c) => c.authorization)],
    ['dns && "api.external-service.com" in dns_questions', () => 'dns && "payment-svc.shop.svc.cluster.local" in dns_questions',
      () => queries((q) => q.name === 'payment-svc.shop.svc.cluster.local')],
    ['dns && "A" in dns_question_types', () => 'dns && "AAAA" in dns_question_types', () => queries((q) => q.type === 'AAAA')],
    ['src.ip == "10.0.53.101"', () => `src.ip == "${frontendIp()}"`,
      () => calls((c) => c.from.ip === frontendIp()) + queries((q) => q.from.ip === frontendIp())],
    ['dst.port >= 8000 && dst.port <= 9000', () => 'dst.port >= 8000 && dst.port <= 9000', () => calls((c) => c.to.port >= 8000 && c.to.port <= 9000)],
    ['dst.ip.startsWith("192.168.")', () => 'dst.ip.startsWith("10.96.")', () => calls((c) => c.to.ip.startsWith('10.96.')) + e.dnsQueries.length],
    // Kubeshark's older KFL form, as its MCP examples write it: translated to KFL2.
    ['http and response.status == 500', () => 'http and response.status == 502', () => calls((c) => isHttp(c) && c.status === 502)],
  ];

  for (const [doc, filter, want] of cases) {
    it(`${doc}`, () => {
      const expected = want();
      assert.ok(expected > 0, `the adapted example selects something on the sample (${filter()})`);
      assert.equal(count(filter()), expected, filter());
    });
  }

  it('timestamp windows: the outage phase, and "the last 10 seconds" from capture_end', () => {
    // Client clocks read a little before the packet: each bound is moved to the middle of the quiet gap
    // around it, so that no transaction's time can fall on the other side.
    const times = truth.map((t) => (t.kind === 'call' ? t.c.timestampUs : t.q.timestampUs)).sort((a, b) => a - b);
    const quiet = (bound: number): number => {
      const i = times.findIndex((t) => t >= bound);
      assert.ok(i > 0 && times[i] - times[i - 1] > 10e3, `a quiet gap at ${bound}`);
      return Math.round((times[i - 1] + times[i]) / 2);
    };
    const outage = e.phases.find((p) => p.name === 'payment-outage')!;
    const [from, to] = [quiet(outage.startUs), quiet(outage.endUs)];
    const iso = (us: number): string => new Date(us / 1000).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);
    assert.equal(count(`timestamp >= timestamp("${iso(from)}") && timestamp < timestamp("${iso(to)}")`),
      times.filter((t) => t >= from && t < to).length);
    // capture_end is the start of the last transaction; "the last ten seconds" ends there.
    const last = times[times.length - 1];
    const tenBefore = quiet(last - 10e6);
    const lastTen = times.filter((t) => t >= tenBefore).length;
    const since = `${Math.round((last - tenBefore) / 1000)}ms`;
    assert.equal(count(`timestamp >= capture_end - duration("${since}")`), lastTen);
    assert.equal(count(`timestamp > now() - duration("${since}")`), lastTen);
  });

  it('elapsed_time in microseconds: the slow calls', () => {
    // A threshold in the widest gap of the HTTP calls' latencies as the clients timed them. The wire's
    // latency (first request packet to last response packet) is never longer than the client's, and
    // shorter by up to the connection's setup on a connection's first call (a few ms): so the threshold
    // sits a quarter into the gap, nearer its lower side.
    const ms = e.calls.filter(isHttp).map((c) => c.elapsedMs).sort((a, b) => a - b);
    let at = 0;
    for (let i = 1; i < ms.length; i++) if (ms[i] - ms[i - 1] > ms[at + 1] - ms[at]) at = i - 1;
    assert.ok(ms[at + 1] - ms[at] > 8, 'a gap wide enough');
    const threshold = Math.round((ms[at] + (ms[at + 1] - ms[at]) / 4) * 1000);
    assert.equal(count(`http && !grpc && elapsed_time > ${threshold}`), ms.filter((v) => v * 1000 > threshold).length);
  });

  it('podcap\'s failed: HTTP 5xx, gRPC errors and real DNS failures, never search-path NXDOMAIN', () => {
    const dnsFailed = queries((q) => q.outcome === 'failed-lookup-nxdomain');
    assert.ok(dnsFailed > 0);
    assert.equal(count('failed'), calls((c) => c.failed) + dnsFailed);
    assert.equal(count('dns && status_code == 3 && !failed'), queries((q) => q.outcome === 'search-path-nxdomain'));
    assert.equal(count('src.workload.name == "checkout" && failed'), calls((c) => c.from.workload === 'checkout' && c.failed));
  });
});
