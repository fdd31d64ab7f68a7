/** The KFL2 filter language over transaction records: Kubeshark's examples, podcap's variables, and its errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TransactionRecord } from '../src/dissect/record.js';
import { endpoint } from '../src/dissect/record.js';
import { FilterError, compileFilter } from '../src/query/filter.js';
import { VARIABLES } from '../src/query/variables.js';

function call(over: Partial<TransactionRecord> & { method?: string; path?: string; query?: string; status?: number; reqHeaders?: Array<[string, string]> } = {}): TransactionRecord {
  const status = over.status ?? 200;
  const path = over.path ?? '/api/orders/42';
  const query = over.query ?? '';
  return {
    id: 's1-1',
    snapshot: 's1',
    protocol: 'http',
    timestamp: Date.parse('2026-11-20T10:30:00Z') * 1000,
    elapsedTime: 300,
    responseTimestamp: Date.parse('2026-11-20T10:30:00.300Z') * 1000,
    src: { ...endpoint('10.0.0.5', 43210), name: 'frontend-7d9f', namespace: 'production', kind: 'pod', workload: { kind: 'Deployment', name: 'frontend' }, labels: { app: 'frontend' }, node: 'node-a' },
    dst: { ...endpoint('10.0.0.9', 8080), name: 'orders', namespace: 'production', kind: 'service', service: { name: 'orders', namespace: 'production' } },
    stream: { id: 3, transport: 'tcp' },
    request: {
      method: over.method ?? 'GET', url: query ? `${path}?${query}` : path, path, query, version: 'HTTP/1.1',
      headers: over.reqHeaders ?? [['Host', 'orders'], ['Authorization', 'Bearer x'], ['Cookie', 'session=abc; theme=dark']],
      headersSize: 120, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
    },
    response: { status, statusText: 'X', version: 'HTTP/1.1', headers: [['Content-Type', 'application/json']], headersSize: 80, bodySize: 10, wireBodySize: 10, contentEncoding: null, body: null },
    status,
    failed: status >= 500,
    notes: [],
    ...over,
  } as TransactionRecord;
}

const noBody = (): string => '';
const matches = (f: string, r: TransactionRecord): boolean => compileFilter(f, noBody).test(r);

describe('KFL2 filters', () => {
  it('evaluates the examples Kubeshark users type', () => {
    const ok500 = call({ status: 503, method: 'POST', path: '/api/pay', reqHeaders: [['Host', 'x']] });
    assert.ok(matches('http && status_code >= 500', ok500));
    assert.ok(!matches('http && status_code >= 500', call()));
    assert.ok(matches('http && method == "POST" && path.startsWith("/api/") && !("authorization" in request.headers)', ok500));
    assert.ok(!matches('http && method == "POST" && path.startsWith("/api/") && !("authorization" in request.headers)', call({ method: 'POST' })));
    assert.ok(matches('elapsed_time > 250000 && src.pod.name.startsWith("frontend")', call()));
    assert.ok(!matches('elapsed_time > 350000', call()));
    assert.ok(matches('"production" in namespaces && path.matches("^/api/orders/[0-9]+$")', call()));
    assert.ok(matches('timestamp >= timestamp("2026-11-20T10:00:00Z")', call()));
    assert.ok(!matches('timestamp >= timestamp("2026-11-21T00:00:00Z")', call()));
    assert.ok(matches('status_code in [500, 503]', ok500));
    assert.ok(!matches('grpc || dns', call()));
    assert.ok(matches('tcp && !udp && protocol == "HTTP"', call()));
  });

  it('reads headers and cookies by case-insensitive name', () => {
    const r = call();
    assert.ok(matches('request.headers["authorization"] == "Bearer x"', r));
    assert.ok(matches('request.headers["Authorization"] == "Bearer x"', r));
    assert.ok(matches('"AUTHORIZATION" in request.headers', r));
    assert.ok(matches('map_get(request.headers, "Host", "") == "orders"', r));
    assert.ok(matches('request.cookies["session"] == "abc"', r));
    assert.ok(matches('response.headers["content-type"].contains("json")', r));
  });

  it('gives KFL2 defaults for what a record lacks, and podcap variables', () => {
    const r = call();
    assert.ok(matches('grpc_status == -1 && dns_questions.size() == 0 && grpc_method == ""', r));
    assert.ok(matches('src.workload.name == "frontend" && src.workload.kind == "Deployment" && dst.service.name == "orders"', r));
    assert.ok(matches('dst.pod.name == "orders"', r), 'pod fields fall back to the service');
    assert.ok(matches('!failed && snapshot == "s1" && id == "s1-1" && stream_id == 3', r));
    assert.ok(matches('map_get(local_labels, "app", "") == "frontend" && local_node_name == "node-a"', r));
    assert.ok(matches('query_string["page"] == "2"', call({ query: 'q=shoes&page=2' })));
  });

  it('counts a record whose evaluation fails (a missing map key) as not matching', () => {
    const f = compileFilter('request.headers["x-missing"] == "y"', noBody);
    assert.equal(f.test(call()), false);
    assert.equal(f.errors, 1);
    assert.match(f.lastError ?? '', /x-missing/);
  });

  it('matches everything with an empty filter', () => {
    assert.ok(matches('', call()));
    assert.ok(matches('   ', call()));
  });

  it('names an unknown variable, where it is, and what was probably meant', () => {
    for (const [src, wanted, pos] of [['htp && status_code > 1', 'http', 0], ['status_cod >= 500', 'status_code', 0], ['http && src.pod.nme == "x"', 'src.pod.name', 8]] as const) {
      assert.throws(() => compileFilter(src, noBody), (e: unknown) => {
        assert.ok(e instanceof FilterError);
        assert.equal(e.position, pos);
        assert.match(e.message, new RegExp(`did you mean .*\`${wanted.replace('.', '\\.')}\``));
        return true;
      });
    }
  });

  it('points at syntax and type errors', () => {
    assert.throws(() => compileFilter('status_code >= ', noBody), (e: unknown) => e instanceof FilterError && /ends too early/.test(e.message) && e.position === 14);
    assert.throws(() => compileFilter('status_code = 500', noBody), (e: unknown) => e instanceof FilterError && e.position === 12);
    assert.throws(() => compileFilter('status_code >= "500"', noBody), (e: unknown) => e instanceof FilterError && /int >= string/.test(e.message));
    assert.throws(() => compileFilter('path', noBody), (e: unknown) => e instanceof FilterError && /true or false/.test(e.message));
  });

  it('computes only the variables a filter reads', () => {
    const f = compileFilter('http && src.pod.name == "x" && request.headers["a"] == "b"', noBody);
    assert.deepEqual([...f.roots].sort(), ['http', 'request', 'src']);
  });

  it('documents every variable with a type and an example that compiles', () => {
    for (const v of VARIABLES) {
      assert.ok(v.description.length > 5, v.name);
      assert.doesNotThrow(() => compileFilter(v.example, noBody), `example of ${v.name}: ${v.example}`);
      // Every variable an example reads is supplied: evaluation may miss a map key, never a variable.
      const f = compileFilter(v.example, noBody);
      f.test(call());
      assert.doesNotMatch(f.lastError ?? '', /Unknown variable/, v.example);
    }
  });
});
