/**
 * The filter language's variables: KFL2's names (Kubeshark's CEL filter
 * language) and podcap's own, each with its CEL type, a description and an
 * example, and how its value is taken from a transaction record. Absent values
 * take KFL2's defaults ("" / 0 / false / [] / {}), so a filter never fails for
 * a field that one protocol lacks. Some KFL2 variables describe Kubeshark's live
 * capture (its worker, its capture source, TLS interception): podcap gives them
 * a fixed value, marked `constant` in the catalogue.
 */
import type { Endpoint, HeaderList, TransactionRecord } from '../dissect/record.js';

export type CelType =
  | 'bool'
  | 'int'
  | 'string'
  | 'list<string>'
  | 'map<string, string>'
  | 'google.protobuf.Timestamp';

export interface FilterVariable {
  name: string;
  type: CelType;
  description: string;
  example: string;
  /** Not in Kubeshark's KFL2: podcap's own. */
  podcap?: boolean;
  /** The same for every record in podcap (the value, as CEL): KFL2 names for what a live capture has and a file does not. */
  constant?: string;
}

const ENDPOINT_FIELDS: Array<[string, CelType, string, string]> = [
  ['ip', 'string', 'IP address', '"10.0.53.101"'],
  ['port', 'int', 'port number', '8080'],
  ['name', 'string', 'summary name: pod, else service, else node, else DNS name', '"checkout-7d9f"'],
  ['namespace', 'string', 'namespace (pod, else service)', '"payments"'],
  ['pod.name', 'string', 'pod name (falls back to the service)', '"checkout-7d9f-x2"'],
  ['pod.namespace', 'string', 'pod namespace (falls back to the service)', '"payments"'],
  ['service.name', 'string', 'service name', '"payment-svc"'],
  ['service.namespace', 'string', 'service namespace', '"payments"'],
  ['dns', 'string', 'the name a DNS answer in the capture gave this address', '"api.stripe.com"'],
];
const PODCAP_ENDPOINT_FIELDS: Array<[string, CelType, string, string]> = [
  ['workload.name', 'string', 'owning workload (Deployment, StatefulSet, DaemonSet, CronJob, ...)', '"checkout"'],
  ['workload.kind', 'string', 'kind of the owning workload', '"Deployment"'],
  ['kind', 'string', 'what the address is: pod, service, node or external', '"pod"'],
];

function endpointVariables(side: 'src' | 'dst'): FilterVariable[] {
  const who = side === 'src' ? 'source (the requester)' : 'destination (the responder)';
  return [
    ...ENDPOINT_FIELDS.map(([f, type, d, example]) => ({ name: `${side}.${f}`, type, description: `${who}: ${d}`, example: `${side}.${f} == ${example}` })),
    ...PODCAP_ENDPOINT_FIELDS.map(([f, type, d, example]) => ({ name: `${side}.${f}`, type, description: `${who}: ${d}`, example: `${side}.${f} == ${example}`, podcap: true })),
  ];
}

export const VARIABLES: FilterVariable[] = [
  // Protocol flags and identity of the record.
  { name: 'http', type: 'bool', description: 'an HTTP/1.x or HTTP/2 call (gRPC calls too)', example: 'http && status_code >= 500' },
  { name: 'grpc', type: 'bool', description: 'a gRPC call', example: 'grpc && grpc_status != 0' },
  { name: 'dns', type: 'bool', description: 'a DNS query and its answer', example: 'dns && status_code != 0' },
  { name: 'tcp', type: 'bool', description: 'carried over TCP', example: 'tcp && !http' },
  { name: 'udp', type: 'bool', description: 'carried over UDP', example: 'udp && dns' },
  { name: 'tls', type: 'bool', description: 'decrypted by eBPF TLS interception: never, podcap reads cleartext captures', example: '!tls', constant: 'false' },
  { name: 'protocol', type: 'string', description: 'detected protocol: "HTTP", "HTTP/2", "gRPC" or "DNS"', example: 'protocol == "HTTP"' },
  // HTTP.
  { name: 'method', type: 'string', description: 'HTTP method', example: 'method == "POST"' },
  { name: 'url', type: 'string', description: 'request target: path and query string', example: 'url.contains("?debug=")' },
  { name: 'path', type: 'string', description: 'URL path without the query string', example: 'path.startsWith("/api/")' },
  { name: 'status_code', type: 'int', description: 'HTTP status, gRPC status or DNS rcode (0 when there is no response)', example: 'status_code >= 500' },
  { name: 'http_version', type: 'string', description: 'HTTP version: "HTTP/1.1", "HTTP/1.0" or "HTTP/2"', example: 'http_version == "HTTP/1.1"' },
  { name: 'query_string', type: 'map<string, string>', description: 'parsed query parameters (first value of each)', example: 'query_string["page"] == "2"' },
  { name: 'request.headers', type: 'map<string, string>', description: 'request headers by case-insensitive name (keys in lower case; repeats joined with ", ")', example: '"authorization" in request.headers' },
  { name: 'response.headers', type: 'map<string, string>', description: 'response headers by case-insensitive name (keys in lower case)', example: 'response.headers["content-type"].contains("json")' },
  { name: 'request.cookies', type: 'map<string, string>', description: 'cookies sent with the request (names are case-sensitive)', example: '"session" in request.cookies' },
  { name: 'response.cookies', type: 'map<string, string>', description: 'cookies set by the response (names are case-sensitive)', example: '"token" in response.cookies' },
  { name: 'request_headers_size', type: 'int', description: 'request start line and headers, in bytes', example: 'request_headers_size > 8000' },
  { name: 'request_body_size', type: 'int', description: 'request body size in bytes (decoded; the query size on DNS)', example: 'request_body_size > 1000000' },
  { name: 'response_headers_size', type: 'int', description: 'response start line and headers, in bytes', example: 'response_headers_size > 8000' },
  { name: 'response_body_size', type: 'int', description: 'response body size in bytes (decoded; the answer size on DNS)', example: 'response_body_size == 0' },
  // gRPC.
  { name: 'grpc_method', type: 'string', description: 'gRPC method name (last part of :path)', example: 'grpc_method == "Charge"' },
  { name: 'grpc_status', type: 'int', description: 'gRPC status from grpc-status; -1 on non-gRPC calls', example: 'grpc_status == 14' },
  // DNS.
  { name: 'dns_questions', type: 'list<string>', description: 'names asked', example: '"payment-svc.payments.svc.cluster.local" in dns_questions' },
  { name: 'dns_answers', type: 'list<string>', description: 'answers given (addresses and names)', example: '"10.0.0.7" in dns_answers' },
  { name: 'dns_question_types', type: 'list<string>', description: 'record types asked', example: '"AAAA" in dns_question_types' },
  { name: 'dns_request', type: 'bool', description: 'the query was captured', example: 'dns && dns_request && !dns_response' },
  { name: 'dns_response', type: 'bool', description: 'the answer was captured', example: 'dns && dns_response && status_code != 0' },
  { name: 'dns_request_length', type: 'int', description: 'query size in bytes (0 if absent)', example: 'dns_request_length > 512' },
  { name: 'dns_response_length', type: 'int', description: 'answer size in bytes (0 if absent)', example: 'dns_response_length > 512' },
  { name: 'dns_total_size', type: 'int', description: 'query plus answer size', example: 'dns_total_size > 1024' },
  // Endpoints and Kubernetes identity.
  ...endpointVariables('src'),
  ...endpointVariables('dst'),
  { name: 'namespaces', type: 'list<string>', description: 'namespaces of both ends', example: '"production" in namespaces' },
  { name: 'pods', type: 'list<string>', description: 'pod names of both ends', example: 'pods.exists(p, p.startsWith("checkout"))' },
  { name: 'services', type: 'list<string>', description: 'service names of both ends', example: '"payment-svc" in services' },
  { name: 'dns_resolutions', type: 'list<string>', description: 'the names DNS answers in the capture gave either end (src.dns, dst.dns)', example: '"api.stripe.com" in dns_resolutions' },
  { name: 'local_labels', type: 'map<string, string>', description: 'Kubernetes labels of the source', example: 'map_get(local_labels, "app", "") == "checkout"' },
  { name: 'remote_labels', type: 'map<string, string>', description: 'Kubernetes labels of the destination', example: 'remote_labels["tier"] == "db"' },
  { name: 'local_annotations', type: 'map<string, string>', description: 'Kubernetes annotations of the source: always empty, podcap keeps no annotations', example: 'map_get(local_annotations, "team", "") == ""', constant: '{}' },
  { name: 'remote_annotations', type: 'map<string, string>', description: 'Kubernetes annotations of the destination: always empty, podcap keeps no annotations', example: 'size(remote_annotations) == 0', constant: '{}' },
  { name: 'node', type: 'map<string, string>', description: 'the node: node["name"] and node["ip"] (as node_name, node_ip)', example: 'node["name"] == "node-a"' },
  { name: 'node_name', type: 'string', description: 'node of the source pod (else of the destination)', example: 'node_name == "node-a"' },
  { name: 'node_ip', type: 'string', description: 'IP of node_name, when an end of the call is that node\'s own address ("" otherwise)', example: 'node_ip == "10.0.1.4"' },
  { name: 'local_process_name', type: 'string', description: 'process on the source: always "", a capture file has no process information', example: 'local_process_name == ""', constant: '""' },
  { name: 'remote_process_name', type: 'string', description: 'process on the destination: always "", a capture file has no process information', example: '!remote_process_name.contains("postgres")', constant: '""' },
  { name: 'local_node_name', type: 'string', description: 'node of the source', example: 'local_node_name == "node-a"' },
  { name: 'remote_node_name', type: 'string', description: 'node of the destination', example: 'remote_node_name != local_node_name' },
  // Time.
  { name: 'timestamp', type: 'google.protobuf.Timestamp', description: 'request start', example: 'timestamp >= timestamp("2026-11-20T10:00:00Z")' },
  { name: 'elapsed_time', type: 'int', description: 'request start to response end, in microseconds (0 without a response)', example: 'elapsed_time > 250000' },
  // Kubeshark's entry identity, as podcap has it.
  { name: 'index', type: 'int', description: 'the record\'s number within its snapshot (Kubeshark: the entry\'s index)', example: 'index < 100' },
  { name: 'stream', type: 'string', description: 'the connection number as text (Kubeshark\'s is a hex stream id)', example: 'stream == "12"' },
  { name: 'conn_id', type: 'int', description: 'the connection (L4) the call was carried on: the connection number, as stream_id', example: 'conn_id == 12' },
  { name: 'flow_id', type: 'int', description: 'the flow (L4) the call was carried on: the connection number, as stream_id', example: 'flow_id == 12' },
  { name: 'node_id', type: 'string', description: 'Kubeshark hub\'s node id: always "" in podcap', example: 'node_id == ""', constant: '""' },
  { name: 'worker', type: 'string', description: 'Kubeshark worker that captured the entry: always "" in podcap', example: 'worker == ""', constant: '""' },
  { name: 'has_pcap', type: 'bool', description: 'packets are available for the record: always, podcap reads capture files', example: 'has_pcap', constant: 'true' },
  { name: 'capture_source', type: 'string', description: 'how the traffic was captured: "pcap" (Kubeshark: "af_packet", "ebpf", "ebpf_tls")', example: 'capture_source == "pcap"', constant: '"pcap"' },
  { name: 'capture_backend', type: 'string', description: 'capture backend family: "pcap" (Kubeshark: "af_packet", "ebpf")', example: 'capture_backend == "pcap"', constant: '"pcap"' },
  { name: 'capture_source_code', type: 'int', description: 'capture source as Kubeshark\'s number: 0, unspecified (a capture file is none of af_packet, ebpf, ebpf_tls)', example: 'capture_source_code == 0', constant: '0' },
  { name: 'capture', type: 'map<string, string>', description: 'capture["source"] and capture["backend"], as capture_source and capture_backend', example: 'capture["source"] == "pcap"', constant: '{"source": "pcap", "backend": "pcap"}' },
  // podcap's own.
  { name: 'failed', type: 'bool', description: 'HTTP 5xx, gRPC status != 0, DNS rcode != 0 (but an expected search-path NXDOMAIN), or no response', example: 'failed && dst.namespace == "payments"', podcap: true },
  { name: 'notes', type: 'list<string>', description: 'what was odd about the call ("no response", "gap of N bytes", ...)', example: 'notes.exists(n, n.contains("gap"))', podcap: true },
  { name: 'workloads', type: 'list<string>', description: 'workload names of both ends', example: '"checkout" in workloads', podcap: true },
  { name: 'snapshot', type: 'string', description: 'snapshot id', example: 'snapshot == "3f9a1c2e"', podcap: true },
  { name: 'id', type: 'string', description: 'transaction id, "<snapshot>-<n>" (KFL2\'s id is Kubeshark\'s number)', example: 'id == "3f9a1c2e-17"', podcap: true },
  { name: 'stream_id', type: 'int', description: 'connection number within the snapshot (see `podcap follow`)', example: 'stream_id == 12', podcap: true },
  { name: 'grpc_service', type: 'string', description: 'gRPC service (package.Service from :path)', example: 'grpc_service == "payments.v1.Payments"', podcap: true },
  { name: 'dns_rcode', type: 'string', description: 'DNS response code by name ("NOERROR", "NXDOMAIN", "SERVFAIL", ...; "" without an answer)', example: 'dns_rcode == "NXDOMAIN"', podcap: true },
  { name: 'dns_search_expansion', type: 'bool', description: 'an expected NXDOMAIN: one step of a Kubernetes search-path expansion that went on to resolve', example: 'dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion', podcap: true },
  { name: 'request.body', type: 'string', description: 'decoded request body as text (first 64 KiB; "" when binary)', example: 'request.body.contains("card_number")', podcap: true },
  { name: 'response.body', type: 'string', description: 'decoded response body as text (first 64 KiB; "" when binary)', example: 'response.body.contains("timeout")', podcap: true },
  { name: 'capture_start', type: 'google.protobuf.Timestamp', description: 'start of the first transaction in the snapshots queried', example: 'timestamp < capture_start + duration("5m")', podcap: true },
  { name: 'capture_end', type: 'google.protobuf.Timestamp', description: 'start of the last transaction in the snapshots queried: the last hour is timestamp >= capture_end - duration("1h"); KFL2\'s now() is capture_end too', example: 'timestamp >= capture_end - duration("1h")', podcap: true },
];

export const VARIABLE_NAMES: ReadonlySet<string> = new Set(VARIABLES.map((v) => v.name));

/**
 * Dotted variables ("src.pod.name") are fields of structured roots ("src"), each a
 * CEL object type podcap declares so that `src.port == "80"` is a type error like
 * `status_code == "80"`. The field types come from the catalogue; `src` and `dst`
 * share the type podcap.Endpoint, `request` and `response` podcap.Message. Values
 * are instances of the classes below (cel-js tells declared types apart by their
 * constructor), built with plain assignments: they are made for every record a
 * filter reads them on.
 */
export interface StructType {
  /** CEL type name, e.g. "podcap.Endpoint.pod". */
  name: string;
  /** Field name → CEL type (a scalar type or another StructType's name). */
  fields: Record<string, string>;
  ctor: new (...args: never[]) => object;
}

class NameNamespace {
  constructor(readonly name: string, readonly namespace: string) {}
}

class Workload {
  constructor(readonly name: string, readonly kind: string) {}
}

class EndpointValue {
  constructor(
    readonly ip: string,
    readonly port: bigint,
    readonly name: string,
    readonly namespace: string,
    readonly kind: string,
    readonly pod: NameNamespace,
    readonly service: NameNamespace,
    readonly workload: Workload,
    readonly dns: string,
  ) {}
}

class MessageValue {
  constructor(readonly headers: Record<string, string>, readonly cookies: Record<string, string>, private readonly readBody: () => string) {}

  /** Read only by a filter that names it: bodies come from their own table. */
  get body(): string {
    return this.readBody();
  }
}

/** The CEL type of a root or of a field path under it: src and dst are alike, request and response too. */
function structTypeName(path: string): string {
  return `podcap.${path.replace(/^(src|dst)(?=\.|$)/, 'Endpoint').replace(/^(request|response)(?=\.|$)/, 'Message')}`;
}

const STRUCT_CTORS: Record<string, new (...args: never[]) => object> = {
  'podcap.Endpoint': EndpointValue,
  'podcap.Endpoint.pod': NameNamespace,
  'podcap.Endpoint.service': NameNamespace,
  'podcap.Endpoint.workload': Workload,
  'podcap.Message': MessageValue,
};

export const STRUCT_TYPES: readonly StructType[] = (() => {
  const types = new Map<string, StructType>();
  for (const v of VARIABLES) {
    const parts = v.name.split('.');
    for (let i = 1; i < parts.length; i++) {
      const name = structTypeName(parts.slice(0, i).join('.'));
      let t = types.get(name);
      if (!t) {
        const ctor = STRUCT_CTORS[name];
        if (!ctor) throw new Error(`no class for the filter type ${name}`);
        t = { name, fields: {}, ctor };
        types.set(name, t);
      }
      const type = i === parts.length - 1 ? v.type : structTypeName(parts.slice(0, i + 1).join('.'));
      if (t.fields[parts[i]] !== undefined && t.fields[parts[i]] !== type) throw new Error(`${v.name}: src/dst or request/response differ`);
      t.fields[parts[i]] = type;
    }
  }
  // One class serves pod and service; cel-js wants a constructor per type, so each gets its own subclass.
  const seen = new Set<new (...args: never[]) => object>();
  for (const t of types.values()) {
    if (seen.has(t.ctor)) {
      const base = t.ctor as new (a: string, b: string) => object;
      t.ctor = class extends base {};
      STRUCT_CTORS[t.name] = t.ctor;
    }
    seen.add(t.ctor);
  }
  // Declared innermost first: a type's fields name types declared before it.
  return [...types.values()].sort((a, b) => b.name.split('.').length - a.name.split('.').length);
})();

const ServiceRef = STRUCT_CTORS['podcap.Endpoint.service'] as typeof NameNamespace;
const PodRef = STRUCT_CTORS['podcap.Endpoint.pod'] as typeof NameNamespace;

/** Roots of the variables as CEL sees them: "src" (a podcap.Endpoint) for "src.pod.name". */
export const ROOTS: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const v of VARIABLES) {
    const dot = v.name.indexOf('.');
    if (dot < 0) m.set(v.name, v.type);
    else m.set(v.name.slice(0, dot), structTypeName(v.name.slice(0, dot)));
  }
  return m;
})();

/** Roots that are objects with fields (src, dst, request, response). */
export const STRUCT_ROOTS: ReadonlySet<string> = new Set([...ROOTS].filter(([, t]) => t.startsWith('podcap.')).map(([r]) => r));

/** Header maps are keyed in lower case, and filters' literal keys are lowered to match. Cookies are case-sensitive (RFC 6265). */
export const CASE_INSENSITIVE_MAPS: ReadonlySet<string> = new Set(['request.headers', 'response.headers']);

/** Bodies are fetched from their own table only when a filter names them. */
export type BodyText = (rec: TransactionRecord, side: 'request' | 'response') => string;

/** What a query knows beyond the record: how to read bodies, and the time span of the snapshots queried. */
export interface QueryContext {
  body: BodyText;
  captureStart: Date;
  captureEnd: Date;
}

type Value = boolean | bigint | string | string[] | Record<string, string> | Date | object;

function headerMap(headers: HeaderList | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [n, v] of headers) {
    const k = n.toLowerCase();
    out[k] = k in out ? `${out[k]}, ${v}` : v;
  }
  return out;
}

function cookieMap(headers: HeaderList | undefined, header: 'cookie' | 'set-cookie'): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== header) continue;
    // Cookie: "a=1; b=2"; Set-Cookie: "a=1; Path=/; HttpOnly" (only the first pair names the cookie).
    const pairs = header === 'cookie' ? v.split(';') : [v.split(';')[0]];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
  }
  return out;
}

function queryMap(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!query) return out;
  for (const [k, v] of new URLSearchParams(query)) if (!(k in out)) out[k] = v;
  return out;
}

function endpointValue(e: Endpoint): EndpointValue {
  const isPod = e.kind === 'pod';
  const isService = e.kind === 'service';
  // KFL2's summary name: pod, else service, else the name DNS gave the address.
  const name = e.name ?? e.dns ?? '';
  const ns = e.namespace ?? '';
  // KFL2: pod fields fall back to the service when the address is not a pod.
  const podish = isPod || isService;
  return new EndpointValue(
    e.ip,
    BigInt(e.port),
    name,
    ns,
    e.kind,
    new PodRef(podish ? name : '', podish ? ns : ''),
    new ServiceRef(e.service?.name ?? '', e.service?.namespace ?? ''),
    new Workload(e.workload?.name ?? '', e.workload?.kind ?? ''),
    e.dns ?? '',
  );
}

function message(side: 'request' | 'response', r: TransactionRecord, body: BodyText): MessageValue {
  const headers = side === 'request' ? r.request.headers : r.response?.headers;
  return new MessageValue(headerMap(headers), cookieMap(headers, side === 'request' ? 'cookie' : 'set-cookie'), () => body(r, side));
}

const PROTOCOL_LABEL: Record<string, string> = { http: 'HTTP', http2: 'HTTP/2', grpc: 'gRPC', dns: 'DNS' };

function nodeName(r: TransactionRecord): string {
  return r.src.node ?? r.dst.node ?? '';
}

/** The node's own address is known when an end of the call is the node itself. */
function nodeIp(r: TransactionRecord): string {
  const name = nodeName(r);
  if (!name) return '';
  for (const e of [r.src, r.dst]) if (e.kind === 'node' && e.name === name) return e.ip;
  return '';
}

function recordIndex(id: string): bigint {
  const m = /-(\d+)$/.exec(id);
  return m ? BigInt(m[1]) : 0n;
}

/** How each root variable's value is computed from a record. Only the roots a filter uses are computed. */
export function rootValue(root: string, r: TransactionRecord, q: QueryContext): Value {
  const isHttp = r.protocol === 'http' || r.protocol === 'http2' || r.protocol === 'grpc';
  switch (root) {
    case 'http': return isHttp;
    case 'grpc': return r.protocol === 'grpc';
    case 'dns': return r.protocol === 'dns';
    case 'tcp': return r.stream.transport === 'tcp';
    case 'udp': return r.stream.transport === 'udp';
    case 'tls': return false;
    case 'protocol': return PROTOCOL_LABEL[r.protocol] ?? r.protocol;
    case 'method': return isHttp ? r.request.method : '';
    case 'url': return isHttp ? r.request.url : '';
    case 'path': return isHttp ? r.request.path : '';
    case 'status_code': return BigInt(r.status);
    case 'http_version': return isHttp ? r.request.version || r.response?.version || '' : '';
    case 'query_string': return queryMap(r.request.query);
    case 'request': return message('request', r, q.body);
    case 'response': return message('response', r, q.body);
    case 'request_headers_size': return BigInt(r.request.headersSize ?? 0);
    case 'request_body_size': return BigInt(r.request.bodySize ?? 0);
    case 'response_headers_size': return BigInt(r.response?.headersSize ?? 0);
    case 'response_body_size': return BigInt(r.response?.bodySize ?? 0);
    case 'grpc_method': return r.grpc?.method ?? '';
    case 'grpc_status': return r.protocol === 'grpc' ? BigInt(r.status) : -1n;
    case 'grpc_service': return r.grpc?.service ?? '';
    case 'dns_questions': return r.dns ? r.dns.questions.map((x) => x.name) : [];
    case 'dns_answers': return r.dns ? r.dns.answers.map((a) => a.data) : [];
    case 'dns_question_types': return r.dns ? r.dns.questions.map((x) => x.type) : [];
    case 'dns_request': return r.dns ? r.dns.queryLength > 0 : false;
    case 'dns_response': return r.dns ? r.dns.rcode !== null : false;
    case 'dns_request_length': return BigInt(r.dns?.queryLength ?? 0);
    case 'dns_response_length': return BigInt(r.dns?.responseLength ?? 0);
    case 'dns_total_size': return BigInt((r.dns?.queryLength ?? 0) + (r.dns?.responseLength ?? 0));
    case 'dns_rcode': return r.dns?.rcode ?? '';
    case 'dns_search_expansion': return r.dns?.searchPath?.role === 'expansion';
    case 'src': return endpointValue(r.src);
    case 'dst': return endpointValue(r.dst);
    case 'namespaces': return uniq([r.src.namespace, r.dst.namespace, r.src.service?.namespace ?? null, r.dst.service?.namespace ?? null]);
    case 'pods': return uniq([r.src.kind === 'pod' ? r.src.name : null, r.dst.kind === 'pod' ? r.dst.name : null]);
    case 'services': return uniq([r.src.service?.name ?? null, r.dst.service?.name ?? null]);
    case 'workloads': return uniq([r.src.workload?.name ?? null, r.dst.workload?.name ?? null]);
    case 'dns_resolutions': return uniq([r.src.dns, r.dst.dns]);
    case 'local_labels': return { ...r.src.labels };
    case 'remote_labels': return { ...r.dst.labels };
    case 'local_annotations': return {};
    case 'remote_annotations': return {};
    case 'node': return { name: nodeName(r), ip: nodeIp(r) };
    case 'node_name': return nodeName(r);
    case 'node_ip': return nodeIp(r);
    case 'local_process_name': return '';
    case 'remote_process_name': return '';
    case 'local_node_name': return r.src.node ?? '';
    case 'remote_node_name': return r.dst.node ?? '';
    case 'timestamp': return new Date(r.timestamp / 1000);
    case 'elapsed_time': return BigInt(Math.round((r.elapsedTime ?? 0) * 1000));
    case 'index': return recordIndex(r.id);
    case 'stream': return String(r.stream.id);
    case 'conn_id': return BigInt(r.stream.id);
    case 'flow_id': return BigInt(r.stream.id);
    case 'node_id': return '';
    case 'worker': return '';
    case 'has_pcap': return true;
    case 'capture_source': return 'pcap';
    case 'capture_backend': return 'pcap';
    case 'capture_source_code': return 0n;
    case 'capture': return { source: 'pcap', backend: 'pcap' };
    case 'failed': return r.failed;
    case 'notes': return r.notes;
    case 'snapshot': return r.snapshot;
    case 'id': return r.id;
    case 'stream_id': return BigInt(r.stream.id);
    case 'capture_start': return q.captureStart;
    case 'capture_end': return q.captureEnd;
    default: return '';
  }
}

function uniq(xs: Array<string | null>): string[] {
  const out: string[] = [];
  for (const x of xs) if (x && !out.includes(x)) out.push(x);
  return out;
}
