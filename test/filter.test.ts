/** The KFL2 filter language over transaction records: every variable, operator and helper, Kubeshark's examples, podcap's errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, TransactionRecord } from '../src/dissect/record.js';
import { endpoint } from '../src/dissect/record.js';
import { FilterError, compileFilter, re2ToJs, type FilterOptions } from '../src/query/filter.js';
import { VARIABLES } from '../src/query/variables.js';

const US = (iso: string): number => Date.parse(iso) * 1000;

function ep(over: Partial<Endpoint> & { ip: string; port: number }): Endpoint {
  return { ...endpoint(over.ip, over.port), ...over };
}

/** An HTTP/1.1 call from a pod to a Service. */
const HTTP: TransactionRecord = {
  id: 's1-7',
  snapshot: 's1',
  protocol: 'http',
  timestamp: US('2026-11-20T10:30:00Z'),
  elapsedTime: 300,
  responseTimestamp: US('2026-11-20T10:30:00.300Z'),
  src: ep({ ip: '10.0.0.5', port: 43210, name: 'frontend-7d9f', namespace: 'production', kind: 'pod', workload: { kind: 'Deployment', name: 'frontend' }, labels: { app: 'frontend' }, node: 'node-a', service: { name: 'frontend', namespace: 'production' } }),
  dst: ep({ ip: '10.0.0.9', port: 8080, name: 'orders', namespace: 'production', kind: 'service', labels: { tier: 'api' }, service: { name: 'orders', namespace: 'production' }, dns: 'orders.shop.example' }),
  stream: { id: 3, transport: 'tcp' },
  request: {
    method: 'GET', url: '/api/orders/42?page=2&q=shoes', path: '/api/orders/42', query: 'page=2&q=shoes', version: 'HTTP/1.1',
    headers: [['Host', 'orders'], ['Authorization', 'Bearer x'], ['Cookie', 'session=abc; theme=dark'], ['X-Request-Id', 'fx-0008']],
    headersSize: 120, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
  },
  response: {
    status: 200, statusText: 'OK', version: 'HTTP/1.1', headers: [['Content-Type', 'application/json'], ['Set-Cookie', 'token=t1; Path=/; HttpOnly']],
    headersSize: 80, bodySize: 10, wireBodySize: 10, contentEncoding: null, body: null,
  },
  status: 200,
  failed: false,
  notes: ['response slow to start'],
};

/** A gRPC call between two pods that failed with UNAVAILABLE. */
const GRPC: TransactionRecord = {
  id: 's1-8',
  snapshot: 's1',
  protocol: 'grpc',
  timestamp: US('2026-11-20T10:31:00Z'),
  elapsedTime: 1.5,
  responseTimestamp: US('2026-11-20T10:31:00.0015Z'),
  src: ep({ ip: '10.0.1.7', port: 50322, name: 'checkout-5c9', namespace: 'payments', kind: 'pod', workload: { kind: 'Deployment', name: 'checkout' }, labels: { app: 'checkout', version: 'canary' }, node: 'node-b', service: { name: 'checkout', namespace: 'payments' }, dns: 'checkout.internal' }),
  dst: ep({ ip: '10.0.1.20', port: 50051, name: 'payments-0', namespace: 'payments', kind: 'pod', workload: { kind: 'StatefulSet', name: 'payments' }, labels: { app: 'payments' }, node: 'node-c', service: { name: 'payment-svc', namespace: 'payments' } }),
  stream: { id: 9, transport: 'tcp' },
  request: {
    method: 'POST', url: '/payments.v1.Payments/Charge', path: '/payments.v1.Payments/Charge', query: '', version: 'HTTP/2',
    headers: [[':authority', 'payment-svc:50051'], ['content-type', 'application/grpc'], ['te', 'trailers']],
    headersSize: 60, bodySize: 42, wireBodySize: 42, contentEncoding: null, body: null,
  },
  response: {
    status: 200, statusText: '', version: 'HTTP/2', headers: [['content-type', 'application/grpc']], trailers: [['grpc-status', '14']],
    headersSize: 30, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
  },
  status: 14,
  failed: true,
  notes: [],
  http2: { streamId: 1, resetCode: null, resetBy: null, pushed: false },
  grpc: {
    service: 'payments.v1.Payments', method: 'Charge', encoding: null, grpcStatus: 14, statusName: 'UNAVAILABLE', message: 'upstream connect error',
    requestMessages: 1, responseMessages: 0, messages: [],
  },
};

/** A DNS query from a pod to its node's DNS cache, answered. */
const DNS: TransactionRecord = {
  id: 's2-3',
  snapshot: 's2',
  protocol: 'dns',
  timestamp: US('2026-11-20T10:32:00Z'),
  elapsedTime: 0.8,
  responseTimestamp: US('2026-11-20T10:32:00.0008Z'),
  src: ep({ ip: '10.0.0.5', port: 40000, name: 'frontend-7d9f', namespace: 'production', kind: 'pod', workload: { kind: 'Deployment', name: 'frontend' }, labels: { app: 'frontend' }, node: 'node-a', service: { name: 'frontend', namespace: 'production' } }),
  dst: ep({ ip: '10.0.1.4', port: 53, name: 'node-a', kind: 'node', labels: { 'kubernetes.io/hostname': 'node-a' }, node: 'node-a' }),
  stream: { id: 5, transport: 'udp' },
  request: { method: 'A', url: 'api.stripe.com', path: 'api.stripe.com', query: '', version: 'DNS', headers: [], headersSize: 0, bodySize: 32, wireBodySize: 32, contentEncoding: null, body: null },
  response: { status: 0, statusText: 'NOERROR', version: 'DNS', headers: [], headersSize: 0, bodySize: 48, wireBodySize: 48, contentEncoding: null, body: null },
  status: 0,
  failed: false,
  notes: [],
  dns: {
    id: 4660, opcode: 'QUERY', transport: 'udp',
    questions: [{ name: 'api.stripe.com', type: 'A', class: 'IN' }],
    answers: [{ name: 'api.stripe.com', type: 'A', class: 'IN', ttl: 60, data: '52.1.2.3' }],
    authorities: [], additionals: [], rcode: 'NOERROR', flags: null, edns: null, retries: 0, queryLength: 32, responseLength: 48, searchPath: null,
  },
};

const RECORDS = { http: HTTP, grpc: GRPC, dns: DNS } as const;

const BODIES: Record<string, { request: string; response: string }> = {
  's1-7': { request: '{"q":"shoes"}', response: '{"id":42}' },
  's1-8': { request: '', response: '' },
  's2-3': { request: '', response: '' },
};
const body = (rec: TransactionRecord, side: 'request' | 'response'): string => BODIES[rec.id]?.[side] ?? '';

const CAPTURE: FilterOptions = { captureStart: US('2026-11-20T10:00:00Z'), captureEnd: US('2026-11-20T11:00:00Z') };

const compile = (f: string) => compileFilter(f, body, CAPTURE);
const matches = (f: string, r: TransactionRecord): boolean => {
  const filter = compile(f);
  const ok = filter.test(r);
  assert.equal(filter.lastError, null, `${f} on ${r.id}: ${filter.lastError}`);
  return ok;
};

/**
 * The value of every catalogue variable on the HTTP, gRPC and DNS records, as CEL.
 * Each must match (`name == value`) and a different value must not.
 */
const VALUES: Record<string, [http: string, grpc: string, dns: string]> = {
  http: ['true', 'true', 'false'],
  grpc: ['false', 'true', 'false'],
  dns: ['false', 'false', 'true'],
  tcp: ['true', 'true', 'false'],
  udp: ['false', 'false', 'true'],
  tls: ['false', 'false', 'false'],
  protocol: ['"HTTP"', '"gRPC"', '"DNS"'],
  method: ['"GET"', '"POST"', '""'],
  url: ['"/api/orders/42?page=2&q=shoes"', '"/payments.v1.Payments/Charge"', '""'],
  path: ['"/api/orders/42"', '"/payments.v1.Payments/Charge"', '""'],
  status_code: ['200', '14', '0'],
  http_version: ['"HTTP/1.1"', '"HTTP/2"', '""'],
  query_string: ['{"page": "2", "q": "shoes"}', '{}', '{}'],
  'request.headers': [
    '{"host": "orders", "authorization": "Bearer x", "cookie": "session=abc; theme=dark", "x-request-id": "fx-0008"}',
    '{":authority": "payment-svc:50051", "content-type": "application/grpc", "te": "trailers"}',
    '{}',
  ],
  'response.headers': ['{"content-type": "application/json", "set-cookie": "token=t1; Path=/; HttpOnly"}', '{"content-type": "application/grpc"}', '{}'],
  'request.cookies': ['{"session": "abc", "theme": "dark"}', '{}', '{}'],
  'response.cookies': ['{"token": "t1"}', '{}', '{}'],
  request_headers_size: ['120', '60', '0'],
  request_body_size: ['0', '42', '32'],
  response_headers_size: ['80', '30', '0'],
  response_body_size: ['10', '0', '48'],
  grpc_method: ['""', '"Charge"', '""'],
  grpc_status: ['-1', '14', '-1'],
  dns_questions: ['[]', '[]', '["api.stripe.com"]'],
  dns_answers: ['[]', '[]', '["52.1.2.3"]'],
  dns_question_types: ['[]', '[]', '["A"]'],
  dns_request: ['false', 'false', 'true'],
  dns_response: ['false', 'false', 'true'],
  dns_request_length: ['0', '0', '32'],
  dns_response_length: ['0', '0', '48'],
  dns_total_size: ['0', '0', '80'],
  'src.ip': ['"10.0.0.5"', '"10.0.1.7"', '"10.0.0.5"'],
  'src.port': ['43210', '50322', '40000'],
  'src.name': ['"frontend-7d9f"', '"checkout-5c9"', '"frontend-7d9f"'],
  'src.namespace': ['"production"', '"payments"', '"production"'],
  'src.pod.name': ['"frontend-7d9f"', '"checkout-5c9"', '"frontend-7d9f"'],
  'src.pod.namespace': ['"production"', '"payments"', '"production"'],
  'src.service.name': ['"frontend"', '"checkout"', '"frontend"'],
  'src.service.namespace': ['"production"', '"payments"', '"production"'],
  'src.dns': ['""', '"checkout.internal"', '""'],
  'src.workload.name': ['"frontend"', '"checkout"', '"frontend"'],
  'src.workload.kind': ['"Deployment"', '"Deployment"', '"Deployment"'],
  'src.kind': ['"pod"', '"pod"', '"pod"'],
  'dst.ip': ['"10.0.0.9"', '"10.0.1.20"', '"10.0.1.4"'],
  'dst.port': ['8080', '50051', '53'],
  'dst.name': ['"orders"', '"payments-0"', '"node-a"'],
  'dst.namespace': ['"production"', '"payments"', '""'],
  'dst.pod.name': ['"orders"', '"payments-0"', '""'],
  'dst.pod.namespace': ['"production"', '"payments"', '""'],
  'dst.service.name': ['"orders"', '"payment-svc"', '""'],
  'dst.service.namespace': ['"production"', '"payments"', '""'],
  'dst.dns': ['"orders.shop.example"', '""', '""'],
  'dst.workload.name': ['""', '"payments"', '""'],
  'dst.workload.kind': ['""', '"StatefulSet"', '""'],
  'dst.kind': ['"service"', '"pod"', '"node"'],
  namespaces: ['["production"]', '["payments"]', '["production"]'],
  pods: ['["frontend-7d9f"]', '["checkout-5c9", "payments-0"]', '["frontend-7d9f"]'],
  services: ['["frontend", "orders"]', '["checkout", "payment-svc"]', '["frontend"]'],
  dns_resolutions: ['["orders.shop.example"]', '["checkout.internal"]', '[]'],
  local_labels: ['{"app": "frontend"}', '{"app": "checkout", "version": "canary"}', '{"app": "frontend"}'],
  remote_labels: ['{"tier": "api"}', '{"app": "payments"}', '{"kubernetes.io/hostname": "node-a"}'],
  local_annotations: ['{}', '{}', '{}'],
  remote_annotations: ['{}', '{}', '{}'],
  node: ['{"name": "node-a", "ip": ""}', '{"name": "node-b", "ip": ""}', '{"name": "node-a", "ip": "10.0.1.4"}'],
  node_name: ['"node-a"', '"node-b"', '"node-a"'],
  node_ip: ['""', '""', '"10.0.1.4"'],
  local_process_name: ['""', '""', '""'],
  remote_process_name: ['""', '""', '""'],
  local_node_name: ['"node-a"', '"node-b"', '"node-a"'],
  remote_node_name: ['""', '"node-c"', '"node-a"'],
  timestamp: ['timestamp("2026-11-20T10:30:00Z")', 'timestamp("2026-11-20T10:31:00Z")', 'timestamp("2026-11-20T10:32:00Z")'],
  elapsed_time: ['300000', '1500', '800'],
  index: ['7', '8', '3'],
  stream: ['"3"', '"9"', '"5"'],
  conn_id: ['3', '9', '5'],
  flow_id: ['3', '9', '5'],
  node_id: ['""', '""', '""'],
  worker: ['""', '""', '""'],
  has_pcap: ['true', 'true', 'true'],
  capture_source: ['"pcap"', '"pcap"', '"pcap"'],
  capture_backend: ['"pcap"', '"pcap"', '"pcap"'],
  capture_source_code: ['0', '0', '0'],
  capture: ['{"source": "pcap", "backend": "pcap"}', '{"source": "pcap", "backend": "pcap"}', '{"source": "pcap", "backend": "pcap"}'],
  failed: ['false', 'true', 'false'],
  notes: ['["response slow to start"]', '[]', '[]'],
  workloads: ['["frontend"]', '["checkout", "payments"]', '["frontend"]'],
  snapshot: ['"s1"', '"s1"', '"s2"'],
  id: ['"s1-7"', '"s1-8"', '"s2-3"'],
  stream_id: ['3', '9', '5'],
  grpc_service: ['""', '"payments.v1.Payments"', '""'],
  dns_rcode: ['""', '""', '"NOERROR"'],
  dns_search_expansion: ['false', 'false', 'false'],
  'request.body': ['"{\\"q\\":\\"shoes\\"}"', '""', '""'],
  'response.body': ['"{\\"id\\":42}"', '""', '""'],
  capture_start: ['timestamp("2026-11-20T10:00:00Z")', 'timestamp("2026-11-20T10:00:00Z")', 'timestamp("2026-11-20T10:00:00Z")'],
  capture_end: ['timestamp("2026-11-20T11:00:00Z")', 'timestamp("2026-11-20T11:00:00Z")', 'timestamp("2026-11-20T11:00:00Z")'],
};

/** A value of the same type that differs from `lit`. */
function other(type: string, lit: string): string {
  if (type === 'bool') return lit === 'true' ? 'false' : 'true';
  if (type === 'int') return String(BigInt(lit) + 1n);
  if (type === 'string') return JSON.stringify(`${JSON.parse(lit) as string}~`);
  if (type.startsWith('list')) return `${lit} + ["~"]`;
  if (type.startsWith('map')) return lit === '{}' ? '{"~": "~"}' : lit.replace(/\}$/, ', "~": "~"}');
  if (type === 'google.protobuf.Timestamp') return `${lit} + duration("1s")`;
  throw new Error(`no other value for ${type}`);
}

describe('KFL2 variables', () => {
  it('has a value on the HTTP, gRPC and DNS records for every variable in the catalogue, and no other', () => {
    assert.deepEqual(Object.keys(VALUES).sort(), VARIABLES.map((v) => v.name).sort());
  });

  for (const v of VARIABLES) {
    it(`${v.name} (${v.type}) matches its value and not another on each record`, () => {
      VALUES[v.name].forEach((lit, i) => {
        const rec = Object.values(RECORDS)[i];
        assert.ok(matches(`${v.name} == ${lit}`, rec), `${v.name} == ${lit} on ${rec.protocol}`);
        assert.ok(!matches(`${v.name} == ${other(v.type, lit)}`, rec), `${v.name} == ${other(v.type, lit)} on ${rec.protocol}`);
        assert.ok(matches(`${v.name} != ${other(v.type, lit)}`, rec), `${v.name} != ${other(v.type, lit)} on ${rec.protocol}`);
      });
    });
  }

  it('documents every variable with a description and an example that compiles and evaluates', () => {
    for (const v of VARIABLES) {
      assert.ok(v.description.length > 5, v.name);
      const f = compile(v.example);
      for (const rec of Object.values(RECORDS)) f.test(rec);
      // Every variable an example reads is supplied: evaluation may miss a map key, never a variable.
      assert.doesNotMatch(f.lastError ?? '', /Unknown variable/, v.example);
    }
  });

  it('gives the constant variables their declared value on every record', () => {
    const constants = VARIABLES.filter((v) => v.constant !== undefined);
    assert.deepEqual(constants.map((v) => v.name).sort(), [
      'capture', 'capture_backend', 'capture_source', 'capture_source_code', 'has_pcap', 'local_annotations', 'local_process_name',
      'node_id', 'remote_annotations', 'remote_process_name', 'tls', 'worker',
    ]);
    for (const v of constants) for (const rec of Object.values(RECORDS)) assert.ok(matches(`${v.name} == ${v.constant}`, rec), v.name);
  });

  it('marks a search-path NXDOMAIN as dns_search_expansion, and it is not failed', () => {
    const nx: TransactionRecord = {
      ...DNS, id: 's2-4', status: 3,
      dns: { ...DNS.dns!, rcode: 'NXDOMAIN', answers: [], searchPath: { base: 'api.stripe.com', role: 'expansion', resolvedAs: 'api.stripe.com' } },
    };
    assert.ok(matches('dns && dns_rcode == "NXDOMAIN" && status_code == 3 && dns_search_expansion && !failed', nx));
    assert.ok(!matches('dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion', nx));
  });

  it('gives KFL2 defaults for what a record lacks', () => {
    assert.ok(matches('grpc_status == -1 && size(dns_questions) == 0 && grpc_method == "" && dns_rcode == "" && grpc_service == ""', HTTP));
    assert.ok(matches('method == "" && path == "" && url == "" && http_version == "" && query_string == {} && request.headers == {}', DNS));
    const noNode: TransactionRecord = { ...HTTP, src: { ...HTTP.src, node: null } };
    assert.ok(matches('node_name == "" && node_ip == "" && node == {"name": "", "ip": ""}', noNode));
  });

  it('takes capture_start and capture_end from the options, the epoch without them', () => {
    assert.ok(matches('timestamp >= capture_end - duration("1h") && timestamp < capture_start + duration("31m")', HTTP));
    assert.ok(!matches('timestamp >= capture_end - duration("29m")', HTTP));
    assert.ok(compileFilter('capture_start == timestamp(0) && capture_end == timestamp(0)', body).test(HTTP));
    // KFL2's now() is the end of the capture, offline.
    const f = compile('timestamp > now() - duration("30m")');
    assert.ok(f.test(GRPC));
    assert.ok(!f.test(HTTP));
    assert.match(f.notes?.join() ?? '', /now\(\) is the end of the capture/);
  });

  it('computes only the variables a filter reads', () => {
    const f = compile('http && src.pod.name == "x" && request.headers["a"] == "b"');
    assert.deepEqual([...f.roots].sort(), ['http', 'request', 'src']);
    let reads = 0;
    const counting = compileFilter('http && path != ""', (r, side) => {
      reads++;
      return body(r, side);
    });
    counting.test(HTTP);
    assert.equal(reads, 0, 'bodies are read only by filters that name them');
  });
});

describe('KFL2 operators and helpers', () => {
  const cases: Array<[string, TransactionRecord, boolean]> = [
    // comparison
    ['status_code == 200', HTTP, true],
    ['status_code != 200', HTTP, false],
    ['elapsed_time < 300001', HTTP, true],
    ['elapsed_time < 300000', HTTP, false],
    ['elapsed_time <= 300000', HTTP, true],
    ['elapsed_time > 299999', HTTP, true],
    ['elapsed_time > 300000', HTTP, false],
    ['elapsed_time >= 300000', HTTP, true],
    ['path > "/api"', HTTP, true],
    ['timestamp < timestamp("2026-11-20T10:31:00Z")', HTTP, true],
    ['src.port > 8000.5', HTTP, true],
    // logical
    ['http && !dns', HTTP, true],
    ['grpc || dns', HTTP, false],
    ['grpc || dns', DNS, true],
    ['!(grpc || dns)', HTTP, true],
    ['!failed', GRPC, false],
    // membership
    ['"production" in namespaces', HTTP, true],
    ['"staging" in namespaces', HTTP, false],
    ['"authorization" in request.headers', HTTP, true],
    ['status_code in [500, 502, 503, 504]', GRPC, false],
    ['status_code in [13, 14]', GRPC, true],
    ['"A" in dns_question_types', DNS, true],
    // ternary
    ['(grpc ? grpc_status : status_code) == 14', GRPC, true],
    ['(grpc ? grpc_status : status_code) == 200', HTTP, true],
    // arithmetic
    ['status_code + 1 == 201', HTTP, true],
    ['status_code - 100 == 100', HTTP, true],
    ['status_code * 2 == 400', HTTP, true],
    ['status_code / 3 == 66', HTTP, true],
    ['status_code % 7 == 4', HTTP, true],
    ['request_headers_size + response_headers_size == 200', HTTP, true],
    ['-grpc_status == 1', HTTP, true],
    ['method + " " + path == "GET /api/orders/42"', HTTP, true],
    ['size(pods + services) == 4', GRPC, true],
    // strings
    ['path.contains("orders")', HTTP, true],
    ['path.contains("Orders")', HTTP, false],
    ['path.startsWith("/api/")', HTTP, true],
    ['path.endsWith("/42")', HTTP, true],
    ['path.matches("^/api/orders/[0-9]+$")', HTTP, true],
    ['path.matches("orders")', HTTP, true],
    ['path.matches("^orders")', HTTP, false],
    ['path.matches("(?i)^/API/ORDERS")', HTTP, true],
    ['url.matches(".*/api/v[0-9]+/users.*")', HTTP, false],
    ['grpc_service.matches("^payments\\\\.v[[:digit:]]+\\\\.")', GRPC, true],
    ['path.lowerAscii() == "/payments.v1.payments/charge"', GRPC, true],
    ['size(path) == 14 && path.size() == 14', HTTP, true],
    ['string(status_code) == "200" && int("14") == grpc_status', GRPC, false],
    ['string(status_code) == "200"', HTTP, true],
    // maps
    ['map_get(request.headers, "Host", "") == "orders"', HTTP, true],
    ['map_get(request.headers, "x-missing", "none") == "none"', HTTP, true],
    ['map_get(remote_labels, "tier", "") == "api"', HTTP, true],
    ['request.headers["X-Request-Id"] == "fx-0008"', HTTP, true],
    ['"Authorization" in request.headers', HTTP, true],
    ['request.headers.exists(k, k == "authorization")', HTTP, true],
    ['request.headers.authorization == "Bearer x"', HTTP, true],
    ['has(request.headers.Authorization) && !has(request.headers.te)', HTTP, true],
    ['has(src.pod.name)', HTTP, true],
    ['size(request.cookies) == 2 && request.cookies["session"] == "abc"', HTTP, true],
    ['"Session" in request.cookies', HTTP, false],
    ['size(local_labels) == 2', GRPC, true],
    // time
    ['timestamp == timestamp("2026-11-20T10:30:00Z")', HTTP, true],
    ['timestamp - capture_start == duration("30m")', HTTP, true],
    ['timestamp + duration("30m") == capture_end', HTTP, true],
    ['capture_end - timestamp > duration("29m")', HTTP, true],
    ['duration("1h30m") > duration("90m")', HTTP, false],
    ['timestamp.getHours() == 10 && timestamp.getMinutes() == 30 && timestamp.getSeconds() == 0', HTTP, true],
    ['timestamp.getFullYear() == 2026 && timestamp.getMonth() == 10 && timestamp.getDate() == 20', HTTP, true],
    ['timestamp.getDayOfWeek() == 5', HTTP, true],
    ['timestamp.getHours("Europe/Paris") == 11', HTTP, true],
    ['timestamp > timestamp(1763634600)', HTTP, true],
    // macros
    ['pods.exists(p, p.startsWith("payments"))', GRPC, true],
    ['pods.all(p, p.contains("-"))', GRPC, true],
    ['pods.exists_one(p, p.endsWith("-0"))', GRPC, true],
    ['pods.filter(p, p.startsWith("check")).size() == 1', GRPC, true],
    ['pods.map(p, p.size()).exists(n, n > 10)', GRPC, true],
    ['dns_answers.all(a, a.startsWith("52."))', DNS, true],
    ['notes.exists(n, n.contains("slow"))', HTTP, true],
    ['workloads.exists(w, w == "payments")', GRPC, true],
  ];
  for (const [f, rec, want] of cases) {
    it(`${f} is ${want} on the ${rec.protocol} record`, () => {
      assert.equal(matches(f, rec), want);
    });
  }

  it('reads RE2 syntax in regex literals, rewriting what JavaScript lacks', () => {
    assert.equal(re2ToJs('^/api/[0-9]+$'), '^/api/[0-9]+$');
    assert.equal(re2ToJs('(?i)ab[c-d]'), '[aA][bB][c-dC-D]');
    assert.equal(re2ToJs('(?s)a.b'), 'a[\\s\\S]b');
    assert.equal(re2ToJs('\\Aabc\\z'), '^abc$');
    assert.equal(re2ToJs('[[:alpha:]]+'), '[a-zA-Z]+');
    assert.equal(re2ToJs('(?P<v>v[0-9])'), '(?<v>v[0-9])');
    assert.equal(re2ToJs('\\Q1.5\\E'), '1\\.5');
    assert.equal(re2ToJs('x(?i:ab)c'), 'x(?:[aA][bB])c');
    assert.throws(() => re2ToJs('\\pL'), /Unicode classes/);
    assert.ok(matches('request.headers["x-request-id"].matches("(?i)^FX-\\\\d+$")', HTTP));
  });

  it('counts a record whose evaluation fails (a missing map key) as not matching', () => {
    const f = compile('request.headers["x-missing"] == "y"');
    assert.equal(f.test(HTTP), false);
    assert.equal(f.errors, 1);
    assert.match(f.lastError ?? '', /x-missing/);
    // || absorbs the error when the other side is true, as in CEL.
    assert.equal(compile('request.headers["x-missing"] == "y" || http').test(HTTP), true);
  });

  it('matches everything with an empty filter', () => {
    assert.ok(matches('', HTTP));
    assert.ok(matches('   ', DNS));
  });
});

describe('KFL2 examples from Kubeshark', () => {
  // kubeshark/kubeshark skills/kfl/references/kfl2-reference.md: the examples for HTTP, DNS, gRPC and Kubernetes.
  const reference = [
    'http && method == "POST" && status_code >= 500 && path.contains("/api")',
    'dns && dns_response && status_code != 0',
    'grpc && grpc_status != 0 && grpc_method.contains("Create")',
    'src.service.name == "api-gateway" && dst.pod.namespace == "production"',
    'map_get(local_labels, "app", "") == "checkout" && "production" in namespaces',
  ];
  // kubeshark/kubeshark skills/kfl/SKILL.md: the examples that apply to HTTP, gRPC, DNS, TCP/UDP addresses and Kubernetes.
  const skill = [
    '!http',
    'http && status_code != 200',
    'http && !path.contains("/health")',
    '!(src.pod.namespace == "kube-system")',
    'src.pod.name == "orders-594487879c-7ddxf"',
    'dst.pod.namespace == "production"',
    'src.service.name == "api-gateway"',
    'dst.service.namespace == "payments"',
    '"production" in namespaces',
    '"orders" in pods',
    '"api-gateway" in services',
    'map_get(local_labels, "app", "") == "checkout"',
    'map_get(remote_labels, "version", "") == "canary"',
    '"tier" in local_labels',
    'node_name == "ip-10-0-25-170.ec2.internal"',
    'local_process_name == "nginx"',
    'remote_process_name.contains("postgres")',
    'src.dns == "api.example.com"',
    'dst.dns.contains("redis")',
    'http && status_code >= 500',
    'http && status_code == 429',
    'http && status_code >= 400 && status_code < 500',
    'http && method == "POST" && path.contains("/orders")',
    'http && url.matches(".*/api/v[0-9]+/users.*")',
    'http && elapsed_time > 5000000',
    'http && response_body_size > 1000000',
    'http && "authorization" in request.headers',
    'http && request.headers["content-type"] == "application/json"',
    'dns && "api.external-service.com" in dns_questions',
    'dns && dns_response && status_code != 0',
    'dns && "A" in dns_question_types',
    'dns && size(dns_questions) > 1',
    'src.ip == "10.0.53.101"',
    'dst.ip.startsWith("192.168.")',
    'src.port == 8080',
    'dst.port >= 8000 && dst.port <= 9000',
    'timestamp > timestamp("2026-03-14T22:00:00Z")',
    'timestamp >= timestamp("2026-03-14T22:00:00Z") && timestamp <= timestamp("2026-03-14T23:00:00Z")',
    'timestamp > now() - duration("5m")',
    'elapsed_time > 2000000',
    'http && dst.pod.namespace == "production" && status_code >= 500 && dst.service.name == "payment-service" && path.contains("/charge") && elapsed_time > 2000000',
  ];
  // podcap's DESIGN.md "Filter language".
  const design = [
    'http && status_code >= 500',
    'grpc && grpc_status != 0 && dst.namespace == "payments"',
    'dns && status_code != 0',
    'http && method == "POST" && path.startsWith("/api/") && !("authorization" in request.headers)',
    'elapsed_time > 250000 && src.pod.name.startsWith("frontend")',
    '"production" in namespaces && path.matches("^/orders/[0-9]+$")',
    'timestamp >= timestamp("2026-11-20T10:00:00Z")',
  ];
  for (const f of [...reference, ...skill, ...design]) {
    it(`compiles and evaluates ${f}`, () => {
      const filter = compile(f);
      assert.equal(filter.translatedFrom ?? null, null);
      for (const rec of Object.values(RECORDS)) filter.test(rec);
      assert.doesNotMatch(filter.lastError ?? '', /Unknown variable/);
    });
  }

  it('gives the expected answers on the records', () => {
    assert.ok(matches('grpc && grpc_status != 0 && dst.namespace == "payments"', GRPC));
    assert.ok(!matches('grpc && grpc_status != 0 && dst.namespace == "payments"', HTTP));
    assert.ok(matches('dns && "A" in dns_question_types && status_code == 0', DNS));
    assert.ok(matches('map_get(remote_labels, "version", "") == "" && map_get(local_labels, "version", "") == "canary"', GRPC));
    assert.ok(matches('"frontend-7d9f" in pods && !("orders" in pods) && "orders" in services', HTTP));
  });
});

describe('KFL2 errors', () => {
  // [filter, message, 0-based position]
  const errors: Array<[string, string, number]> = [
    ['(http && status_code == 500', '`(` at column 1 is not closed: `)` expected, found the end of the filter', 27],
    ['http && (dns || (grpc)', '`(` at column 9 is not closed: `)` expected, found the end of the filter', 22],
    ['status_code in [1, 2', '`[` at column 16 is not closed: `]` expected, found the end of the filter', 20],
    ['status_code >= 500)', 'unbalanced `)`: no parenthesis is open', 18],
    ['foo(path)', 'unknown function `foo`', 0],
    ['path.startswith("/a")', 'unknown function `startswith`; did you mean `startsWith`?', 5],
    ['path.startsWith()', '`startsWith` cannot be called as string.startsWith(); it takes string.startsWith(string): bool', 5],
    ['path.contains(5)', '`contains` cannot be called as string.contains(int); it takes string.contains(string): bool', 5],
    ['map_get(request.headers, "a")', '`map_get` cannot be called as map_get(map<string, string>, string); it takes map_get(map<string, string>, string, string): string', 0],
    ['stauts_code == 1', 'unknown variable `stauts_code`; did you mean `status_code`?', 0],
    ['http && src.pod.nme == "x"', 'unknown variable `src.pod.nme`; did you mean `src.pod.name`?', 8],
    ['response.stauts == 500', 'unknown variable `response.stauts`; did you mean `status_code`, `response.headers`?', 0],
    ['method == GET', 'unknown variable `GET`; to compare with text, quote it: "GET" (`podcap fields` lists the variables)', 10],
    ['request.headers.x-api == "1"', 'unknown variable `api`; a name with a "-" is looked up with brackets: request.headers["x-api-key"]', 18],
    ['status_code == "500"', '`==` cannot compare int with string: write numbers without quotes (status_code == 500) and text in quotes (method == "GET")', 12],
    ['src.port == "80"', '`==` cannot compare int with string: write numbers without quotes (status_code == 500) and text in quotes (method == "GET")', 9],
    ['timestamp > "2026-01-01"', '`>` cannot compare timestamp with string: write the date as timestamp("2026-11-20T10:00:00Z")', 10],
    ['elapsed_time > duration("1s")', '`>` cannot compare int with duration: elapsed_time is a number of microseconds: elapsed_time > 1500000, or compare durations with duration("1.5s")', 13],
    ['status_code == 200.0', '`==` cannot compare int with double: CEL does not compare int and double for equality: write 1 rather than 1.0', 12],
    ['path && http', '`&&`, `||` and `!` need true or false, not string: compare it (path != "", status_code > 0)', 0],
    ['status_code', 'a filter must be true or false, but this one is of type int', 0],
    ['http &&', 'the filter ends too early: an operand or a closing parenthesis is expected', 7],
    ['!', 'the filter ends too early: an operand or a closing parenthesis is expected', 1],
    ['method = "GET"', 'a single `=`: compare with `==`', 7],
    ['http &&& dns', '`&` alone is not an operator: write `&&`', 7],
    ['http | dns', '`|` alone is not an operator: write `||`', 5],
    ['http || || dns', 'an operand (a variable, a value or a parenthesis) expected, found `||`', 8],
    ['== 500', 'an operand (a variable, a value or a parenthesis) expected, found `==`', 0],
    ['status_code >= 500 500', 'an operator (&&, ||, ==, ...) or the end of the filter expected, found `500`', 19],
    ['path == "/api', 'unterminated string: the closing " is missing', 8],
    ["path == '/api", "unterminated string: the closing ' is missing", 8],
    ['()', 'empty parentheses: an expression is expected inside', 1],
    ['http && ()', 'empty parentheses: an expression is expected inside', 9],
    ['status_code == 500 ? true', '`:` expected, found the end of the filter: a conditional is written condition ? value : other', 25],
    ['path.matches("[")', 'invalid regular expression "[": unterminated character class', 13],
    ['path.matches("(a")', 'invalid regular expression "(a": unterminated group', 13],
    ['path.matches("\\\\pL")', 'invalid regular expression "\\\\pL": Unicode classes (\\p) are not supported', 13],
    ['timestamp > timestamp("not a date")', '"not a date" is not a timestamp: a date and time in RFC 3339, e.g. timestamp("2026-11-20T10:00:00Z")', 22],
    ['timestamp > capture_end - duration("5 minutes")', '"5 minutes" is not a duration: a duration like duration("1h30m"), duration("250ms"), duration("90s")', 35],
    ['has(path)', 'has() takes a field: has(src.pod.name), has(request.headers.authorization)', 4],
    ['dns_questions.exists(q)', '`exists` takes a variable name and an expression: list.exists(x, condition): pods.exists(p, p.startsWith("checkout"))', 14],
    ['path.size > 1', '`size` is not a field of string: functions are called with parentheses, e.g. .size()', 5],
    ['http and and dns', 'an operand expected after `and`, found `and` (KFL v1 filter)', 9],
    ['http and', 'the filter ends after `and`: an operand is expected (KFL v1 filter)', 8],
    ['and http', 'an operand expected, found `and` (KFL v1 filter)', 0],
    ['(status_code ? "a" : "b") == "a"', 'the condition before `?` must be true or false, not int', 1],
  ];
  for (const [f, message, position] of errors) {
    it(`refuses ${f}`, () => {
      assert.throws(() => compile(f), (e: unknown) => {
        assert.ok(e instanceof FilterError, String(e));
        assert.equal(e.detail, message);
        assert.equal(e.position, position, `position of ${message}`);
        // The message shows the filter with a caret under the column.
        assert.ok(e.message.includes(`^ (column ${position + 1})`), e.message);
        return true;
      });
    });
  }

  it('names a KFL v1 variable\'s KFL2 name when a filter cannot be translated', () => {
    assert.throws(() => compile('response.status == 500 && outgoing'), (e: unknown) => e instanceof FilterError && /`response\.status`: that is KFL v1; KFL2 calls it `status_code`/.test(e.detail));
  });
});
