/**
 * Kubeshark's older filter language, KFL v1, translated to KFL2: the examples of
 * Kubeshark's docs (kubeshark/docs src/pages/en/filtering.md, ui.md), of its MCP
 * server's README (kubeshark/kubeshark mcp/README.md) and the queries its v1 UI
 * generated (kubeshark/base pkg/extensions/http, dns: `request.path == "..."`,
 * `response.status == 200`, `request.questions[0].name == "..."`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Endpoint, TransactionRecord } from '../src/dissect/record.js';
import { endpoint } from '../src/dissect/record.js';
import { FilterError, compileFilter } from '../src/query/filter.js';
import { looksLegacy, translateLegacy } from '../src/query/legacy-kfl.js';
import { fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

const US = (iso: string): number => Date.parse(iso) * 1000;

function ep(over: Partial<Endpoint> & { ip: string; port: number }): Endpoint {
  return { ...endpoint(over.ip, over.port), ...over };
}

function http(over: { status?: number; method?: string; path?: string; query?: string; protocol?: 'http' | 'http2' | 'grpc'; elapsedMs?: number; headers?: Array<[string, string]> } = {}): TransactionRecord {
  const path = over.path ?? '/api/users';
  const query = over.query ?? '';
  const status = over.status ?? 200;
  const protocol = over.protocol ?? 'http';
  return {
    id: 's1-1', snapshot: 's1', protocol,
    timestamp: US('2026-11-20T10:30:00Z'), elapsedTime: over.elapsedMs ?? 120, responseTimestamp: null,
    src: ep({ ip: '10.0.0.5', port: 43210, name: 'frontend-7d9f', namespace: 'default', kind: 'pod', node: 'node-a' }),
    dst: ep({ ip: '10.0.0.9', port: 8080, name: 'my-service', namespace: 'default', kind: 'service', service: { name: 'my-service', namespace: 'default' } }),
    stream: { id: 1, transport: 'tcp' },
    request: {
      method: over.method ?? 'GET', url: query ? `${path}?${query}` : path, path, query, version: protocol === 'http' ? 'HTTP/1.1' : 'HTTP/2',
      headers: over.headers ?? [['Host', 'my-service'], ['X', 'y'], ['Authorization', 'Bearer t']], headersSize: 90, bodySize: 0, wireBodySize: 0, contentEncoding: null, body: null,
    },
    response: { status: protocol === 'grpc' ? 200 : status, statusText: '', version: 'HTTP/1.1', headers: [], headersSize: 40, bodySize: 2, wireBodySize: 2, contentEncoding: null, body: null },
    status, failed: status >= 500, notes: [],
    ...(protocol === 'grpc' ? { grpc: { service: 'helloworld.Greeter', method: 'SayHello', encoding: null, grpcStatus: status, statusName: '', message: null, requestMessages: 1, responseMessages: 1, messages: [] } } : {}),
  };
}

function dns(rcode: string, status: number, name = 'example.com'): TransactionRecord {
  return {
    id: 's1-2', snapshot: 's1', protocol: 'dns',
    timestamp: US('2026-11-20T10:45:00Z'), elapsedTime: 1, responseTimestamp: null,
    src: ep({ ip: '10.0.0.5', port: 40000, name: 'frontend-7d9f', namespace: 'default', kind: 'pod' }),
    dst: ep({ ip: '10.96.0.10', port: 53, name: 'kube-dns', namespace: 'kube-system', kind: 'service', service: { name: 'kube-dns', namespace: 'kube-system' } }),
    stream: { id: 2, transport: 'udp' },
    request: { method: 'A', url: name, path: name, query: '', version: 'DNS', headers: [], headersSize: 0, bodySize: 29, wireBodySize: 29, contentEncoding: null, body: null },
    response: { status, statusText: rcode, version: 'DNS', headers: [], headersSize: 0, bodySize: 45, wireBodySize: 45, contentEncoding: null, body: null },
    status, failed: status !== 0, notes: [],
    dns: {
      id: 1, opcode: 'QUERY', transport: 'udp', questions: [{ name, type: 'A', class: 'IN' }],
      answers: status === 0 ? [{ name, type: 'A', class: 'IN', ttl: 30, data: name === 'example.com' ? '93.184.216.34' : '10.0.0.1' }] : [],
      authorities: [], additionals: [], rcode, flags: null, edns: null, retries: 0, queryLength: 29, responseLength: 45, searchPath: null,
    },
  };
}

const noBody = (): string => '';
const CAPTURE = { captureStart: US('2026-11-20T10:00:00Z'), captureEnd: US('2026-11-20T11:00:00Z') };
const compile = (f: string) => compileFilter(f, noBody, CAPTURE);

/** [v1 filter, its KFL2 translation, a record it matches, a record it does not match] */
const EXAMPLES: Array<[string, string, TransactionRecord, TransactionRecord]> = [
  // kubeshark/docs filtering.md and ui.md: "HTTP client error responses"
  ['http and response.status == r"4.*"', 'http && string(status_code).matches("4.*")', http({ status: 404 }), http({ status: 500 })],
  // kubeshark/docs filtering.md: the KFL syntax reference example
  [
    'http and request.method == "GET" and request.path != "/example" and (request.query.a > 42 or request.headers["x"] == "y")',
    'http && method == "GET" && path != "/example" && (double(query_string["a"]) > 42 || request.headers["x"] == "y")',
    http({ query: 'a=43' }),
    http({ path: '/example', query: 'a=43' }),
  ],
  // kubeshark/docs filtering.md: a queryable UI element
  ['response.status == 201', 'status_code == 201', http({ status: 201 }), http({ status: 200 })],
  // kubeshark/docs filtering.md: datetime()
  ['timestamp > datetime("10/19/2021, 6:29:02 PM")', 'timestamp > timestamp("2021-10-19T18:29:02Z")', http(), { ...http(), timestamp: US('2021-10-19T18:29:01Z') }],
  // kubeshark/kubeshark mcp/README.md
  ['http and response.status == 500', 'http && status_code == 500', http({ status: 500 }), http({ status: 503 })],
  ['http and request.path == "/api/users"', 'http && path == "/api/users"', http(), http({ path: '/api/orders' })],
  ['response.status >= 400', 'status_code >= 400', http({ status: 404 }), http({ status: 302 })],
  ['http and src.namespace == "default" and response.status == 500', 'http && src.namespace == "default" && status_code == 500', http({ status: 500 }), http({ status: 200 })],
  // The queries Kubeshark v1's UI generated (kubeshark/base pkg/extensions/http and dns Summarize)
  ['request.path == "/api/users"', 'path == "/api/users"', http(), http({ path: '/' })],
  ['request.method == "POST"', 'method == "POST"', http({ method: 'POST' }), http()],
  ['request.questions[0].name == "example.com"', 'dns_questions[0] == "example.com"', dns('NOERROR', 0), dns('NOERROR', 0, 'example.org')],
  // and/or grouping, keywords and quoting
  ['http and response.status == 500 or response.status == 503', 'http && (status_code == 500 || status_code == 503)', http({ status: 503 }), dns('REFUSED', 5)],
  ['dns or http and response.status == 500', 'dns || http && status_code == 500', dns('NOERROR', 0), http({ status: 200 })],
  ['not grpc and http', '!grpc && http', http(), http({ protocol: 'grpc' })],
  ["http and request.method == 'POST'", 'http && method == "POST"', http({ method: 'POST' }), http()],
  ['http and request.path == `/api/users`', 'http && path == "/api/users"', http(), http({ path: '/x' })],
  ['grpc and response.status != 0', 'grpc && status_code != 0', http({ protocol: 'grpc', status: 14 }), http({ protocol: 'grpc', status: 0 })],
  ['http2 and request.path.startsWith("/api")', 'protocol == "HTTP/2" && path.startsWith("/api")', http({ protocol: 'http2' }), http()],
  // units and times
  ['elapsedTime > 250', 'elapsed_time > 250000', http({ elapsedMs: 300 }), http({ elapsedMs: 200 })],
  ['http and elapsedTime >= 1.5', 'http && elapsed_time >= 1500', http({ elapsedMs: 2 }), http({ elapsedMs: 1 })],
  ['timestamp > 1795170000000', 'timestamp > timestamp("2026-11-20T10:20:00Z")', http(), { ...http(), timestamp: US('2026-11-20T10:00:00Z') }],
  ['timestamp >= hours(-1) and http', 'timestamp >= capture_end - duration("1h") && http', http(), { ...http(), timestamp: US('2026-11-20T09:00:00Z') }],
  ['timestamp > minutes(-20) and dns', 'timestamp > capture_end - duration("20m") && dns', dns('NOERROR', 0), { ...dns('NOERROR', 0), timestamp: US('2026-11-20T10:30:00Z') }],
  ['timestamp <= now() and http', 'timestamp <= capture_end && http', http(), dns('NOERROR', 0)],
  // v1's text comparisons and other names
  ['src.port == "43210" and http', 'src.port == 43210 && http', http(), dns('NOERROR', 0)],
  ['response.status == "404" and http', 'status_code == 404 && http', http({ status: 404 }), http()],
  ['response.status.startsWith("5")', 'string(status_code).startsWith("5")', http({ status: 503 }), http({ status: 404 })],
  ['namespace == "kube-system"', '"kube-system" in namespaces', dns('NOERROR', 0), http()],
  ['request.headers["Authorization"] and http', 'map_get(request.headers, "Authorization", "") != "" && http', http(), http({ headers: [] })],
  ['request.queryString["page"] == "2"', 'query_string["page"] == "2"', http({ query: 'page=2' }), http({ query: 'page=3' })],
  ['dns and response.code == "NXDomain"', 'dns && dns_rcode == "NXDOMAIN"', dns('NXDOMAIN', 3), dns('NOERROR', 0)],
  ['request.questions.*.name == "example.com"', '"example.com" in dns_questions', dns('NOERROR', 0), http()],
  ['response.answers[0].ip == "93.184.216.34" and dns', 'dns_answers[0] == "93.184.216.34" && dns', dns('NOERROR', 0), dns('NOERROR', 0, 'example.org')],
  ['protocol.name == "dns" and request.questions[0].type == "A"', 'dns && dns_question_types[0] == "A"', dns('NOERROR', 0), http()],
  ['request.path != nil and http', 'path != "" && http', http(), http({ path: '' })],
  ['limit(50) and http', 'true && http', http(), dns('NOERROR', 0)],
  ['http and request.path == r"^/api/v[0-9]+/"', 'http && path.matches("^/api/v[0-9]+/")', http({ path: '/api/v2/users' }), http()],
];

describe('KFL v1 filters', () => {
  for (const [v1, kfl2, yes, no] of EXAMPLES) {
    it(`${v1} → ${kfl2}`, () => {
      const t = translateLegacy(v1);
      assert.equal(t.translated, kfl2);
      assert.ok(t.changed && t.legacy);
      const f = compile(v1);
      assert.equal(f.translatedFrom, v1);
      assert.equal(f.source, kfl2);
      // Dates and capture bounds aside, the examples evaluate without errors.
      assert.equal(f.test(yes), true, `${kfl2} on ${yes.protocol} ${yes.status}`);
      assert.equal(f.test(no), false, `${kfl2} on ${no.protocol} ${no.status}`);
    });
  }

  it('notes what the translation changed beyond names', () => {
    const notes = (f: string): string => compile(f).notes?.join('\n') ?? '';
    assert.match(notes('http and response.status == r"4.*"'), /unanchored search, as in KFL v1/);
    assert.match(notes('http and response.status == 500 or response.status == 503'), /groups and\/or from the right/);
    assert.match(notes('elapsedTime > 250'), /multiplied by 1000/);
    assert.match(notes('timestamp > 1795170000000'), /counted milliseconds/);
    assert.match(notes('timestamp >= hours(-1)'), /end of the capture/);
    assert.match(notes('http and namespace == "x"'), /`in`/);
    assert.match(notes('http and response.status == 500'), /KFL2's http also covers HTTP\/2 and gRPC/);
    assert.match(notes('request.headers["x"] and http'), /bare value is true when it is not empty/);
    assert.match(notes('limit(10) and http'), /--limit/);
  });

  it('keeps v1\'s unanchored regex: r"4.*" also matches 204', () => {
    assert.ok(compile('http and response.status == r"4.*"').test(http({ status: 204 })));
    assert.ok(!compile('http and response.status == r"^4"').test(http({ status: 204 })));
    assert.ok(compile('http and response.status != r"^4"').test(http({ status: 204 })));
  });

  it('leaves KFL2 alone, and does not mistake a KFL2 error for KFL v1', () => {
    for (const f of ['http && status_code >= 500', 'src.namespace == "default"', 'dst.name == \'my-service\'', '"and" in request.headers', 'path.contains(" or ")']) {
      assert.equal(looksLegacy(f), false, f);
      assert.equal(compile(f).translatedFrom ?? null, null, f);
    }
    // KFL2 type errors stay errors: only v1's names, keywords and helpers trigger a translation.
    assert.throws(() => compile('status_code == "500"'), (e: unknown) => e instanceof FilterError && /cannot compare int with string/.test(e.detail));
    assert.throws(() => compile('path'), (e: unknown) => e instanceof FilterError && /must be true or false/.test(e.detail));
    // A KFL2 filter that compiles is not translated even when v1 would read it differently.
    assert.equal(compile('src.pod.name == "frontend-.*"').translatedFrom ?? null, null);
  });

  it('refuses what has no KFL2 equivalent, at its position', () => {
    const refused: Array<[string, RegExp, number]> = [
      ['response.body.json().brand.name == "Chevrolet"', /KFL v1's json\(\) has no KFL2 equivalent/, 14],
      ['http and response.content.text.xml().a == "b"', /KFL v1's xml\(\) has no KFL2 equivalent/, 31],
      ['http and timestamp > datetime("yesterday")', /"yesterday" is not a date KFL v1 read/, 30],
      ['http and response.status == r"4.*" == r"5"', /two regular expressions compared|regular expression must be compared|cannot/, 0],
      ['http and brand.name.startsWith("Chev")', /unknown variable `brand`/, 0],
      ['http and request.method = "GET"', /a single `=`: compare with `==`/, 24],
      ['http and (dns or grpc', /`\(` at column 10 is not closed/, 21],
    ];
    for (const [f, re, pos] of refused) {
      assert.throws(() => compile(f), (e: unknown) => {
        assert.ok(e instanceof FilterError, String(e));
        assert.match(e.detail, re, f);
        if (pos > 0) assert.equal(e.position, pos, f);
        return true;
      }, f);
    }
  });
});

describe('podcap calls with a KFL v1 filter and the capture bounds', () => {
  const ws = tempWorkspace();
  before(() => {
    const imp = podcap(['import', join(fixturesDir, 'http1', 'sample.pcapng'), '--name', 'sample', '-w', ws.dir]);
    assert.equal(imp.code, 0, imp.stderr);
  });
  after(() => ws.cleanup());

  it('prints the translation on stderr and lists the calls', () => {
    const r = podcap(['calls', 'http and response.status == 503', '-w', ws.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /filter translated from KFL: http and response\.status == 503 → http && status_code == 503/);
    assert.match(r.stdout, / 503 /);
    assert.doesNotMatch(r.stdout, / 200 /);
    const json = podcap(['calls', 'http and response.status == 503', '--json', '-w', ws.dir]);
    const calls = JSON.parse(json.stdout) as TransactionRecord[];
    assert.ok(calls.length > 0 && calls.every((c) => c.status === 503));
  });

  it('reads capture_start and capture_end from the snapshots queried', () => {
    const all = JSON.parse(podcap(['calls', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    const last = Math.max(...all.map((c) => c.timestamp));
    const first = Math.min(...all.map((c) => c.timestamp));
    // Timestamps compare to the millisecond (JavaScript dates).
    const ms = (us: number): number => Math.floor(us / 1000);
    const atEnd = JSON.parse(podcap(['calls', 'timestamp >= capture_end', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.ok(atEnd.some((c) => c.timestamp === last) && atEnd.every((c) => ms(c.timestamp) === ms(last)));
    const atStart = JSON.parse(podcap(['calls', 'timestamp == capture_start', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.ok(atStart.some((c) => c.timestamp === first) && atStart.every((c) => ms(c.timestamp) === ms(first)));
    const lastHour = JSON.parse(podcap(['calls', 'timestamp >= capture_end - duration("1h")', '--json', '-w', ws.dir]).stdout) as TransactionRecord[];
    assert.equal(lastHour.length, all.length);
    assert.match(podcap(['calls', 'timestamp > capture_end', '-w', ws.dir]).stdout, /no calls match/);
  });

  it('lists the KFL v1 names in podcap fields', () => {
    const r = podcap(['fields']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /response\.status\s+status_code/);
    assert.match(r.stdout, /and {2}or {2}not\s+&& {2}\|\| {2}!/);
  });
});
