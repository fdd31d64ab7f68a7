/**
 * The filter language's variables: KFL2's names (Kubeshark's CEL filter
 * language) and podcap's own, each with its CEL type, a description and an
 * example, and how its value is taken from a transaction record. Absent values
 * take KFL2's defaults ("" / 0 / false / [] / {}), so a filter never fails for
 * a field that one protocol lacks.
 */
import type { Endpoint, HeaderList, TransactionRecord } from '../dissect/record.js';

export type CelType = 'bool' | 'int' | 'string' | 'list<string>' | 'map<string, string>' | 'google.protobuf.Timestamp';

export interface FilterVariable {
  name: string;
  type: CelType;
  description: string;
  example: string;
  /** Not in Kubeshark's KFL2: podcap's own. */
  podcap?: boolean;
}

type Value = boolean | bigint | string | string[] | Record<string, string> | Date | Record<string, unknown>;

const ENDPOINT_FIELDS: Array<[string, CelType, string, string]> = [
  ['ip', 'string', 'IP address', '"10.0.53.101"'],
  ['port', 'int', 'port number', '8080'],
  ['name', 'string', 'summary name: pod, else service, else DNS name', '"checkout-7d9f"'],
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
  { name: 'http', type: 'bool', description: 'an HTTP/1.x or HTTP/2 call (gRPC calls too)', example: 'http && status_code >= 500' },
  { name: 'grpc', type: 'bool', description: 'a gRPC call', example: 'grpc && grpc_status != 0' },
  { name: 'dns', type: 'bool', description: 'a DNS query and its answer', example: 'dns && status_code != 0' },
  { name: 'tcp', type: 'bool', description: 'carried over TCP', example: 'tcp && !http' },
  { name: 'udp', type: 'bool', description: 'carried over UDP', example: 'udp && dns' },
  { name: 'protocol', type: 'string', description: 'detected protocol: "HTTP", "HTTP/2", "gRPC" or "DNS"', example: 'protocol == "HTTP"' },
  { name: 'method', type: 'string', description: 'HTTP method', example: 'method == "POST"' },
  { name: 'url', type: 'string', description: 'request target: path and query string', example: 'url.contains("?debug=")' },
  { name: 'path', type: 'string', description: 'URL path without the query string', example: 'path.startsWith("/api/")' },
  { name: 'status_code', type: 'int', description: 'HTTP status, gRPC status or DNS rcode (0 when there is no response)', example: 'status_code >= 500' },
  { name: 'http_version', type: 'string', description: 'HTTP version', example: 'http_version == "HTTP/1.1"' },
  { name: 'query_string', type: 'map<string, string>', description: 'parsed query parameters (first value of each)', example: 'query_string["page"] == "2"' },
  { name: 'request.headers', type: 'map<string, string>', description: 'request headers by case-insensitive name (repeats joined with ", ")', example: '"authorization" in request.headers' },
  { name: 'response.headers', type: 'map<string, string>', description: 'response headers by case-insensitive name', example: 'response.headers["content-type"].contains("json")' },
  { name: 'request.cookies', type: 'map<string, string>', description: 'cookies sent with the request', example: '"session" in request.cookies' },
  { name: 'response.cookies', type: 'map<string, string>', description: 'cookies set by the response', example: '"token" in response.cookies' },
  { name: 'request_headers_size', type: 'int', description: 'request start line and headers, in bytes', example: 'request_headers_size > 8000' },
  { name: 'request_body_size', type: 'int', description: 'request body size in bytes (decoded)', example: 'request_body_size > 1000000' },
  { name: 'response_headers_size', type: 'int', description: 'response start line and headers, in bytes', example: 'response_headers_size > 8000' },
  { name: 'response_body_size', type: 'int', description: 'response body size in bytes (decoded)', example: 'response_body_size == 0' },
  { name: 'grpc_method', type: 'string', description: 'gRPC method name (last part of :path)', example: 'grpc_method == "Charge"' },
  { name: 'grpc_status', type: 'int', description: 'gRPC status from grpc-status; -1 on non-gRPC calls', example: 'grpc_status == 14' },
  { name: 'dns_questions', type: 'list<string>', description: 'names asked', example: '"payment-svc.payments.svc.cluster.local" in dns_questions' },
  { name: 'dns_answers', type: 'list<string>', description: 'answers given (addresses and names)', example: '"10.0.0.7" in dns_answers' },
  { name: 'dns_question_types', type: 'list<string>', description: 'record types asked', example: '"AAAA" in dns_question_types' },
  { name: 'dns_request', type: 'bool', description: 'the query was captured', example: 'dns && dns_request && !dns_response' },
  { name: 'dns_response', type: 'bool', description: 'the answer was captured', example: 'dns && dns_response && status_code != 0' },
  { name: 'dns_request_length', type: 'int', description: 'query size in bytes (0 if absent)', example: 'dns_request_length > 512' },
  { name: 'dns_response_length', type: 'int', description: 'answer size in bytes (0 if absent)', example: 'dns_response_length > 512' },
  { name: 'dns_total_size', type: 'int', description: 'query plus answer size', example: 'dns_total_size > 1024' },
  ...endpointVariables('src'),
  ...endpointVariables('dst'),
  { name: 'namespaces', type: 'list<string>', description: 'namespaces of both ends', example: '"production" in namespaces' },
  { name: 'pods', type: 'list<string>', description: 'pod names of both ends', example: 'pods.exists(p, p.startsWith("checkout"))' },
  { name: 'services', type: 'list<string>', description: 'service names of both ends', example: '"payment-svc" in services' },
  { name: 'local_labels', type: 'map<string, string>', description: 'Kubernetes labels of the source', example: 'map_get(local_labels, "app", "") == "checkout"' },
  { name: 'remote_labels', type: 'map<string, string>', description: 'Kubernetes labels of the destination', example: 'remote_labels["tier"] == "db"' },
  { name: 'node_name', type: 'string', description: 'node of the source pod (else of the destination)', example: 'node_name == "node-a"' },
  { name: 'local_node_name', type: 'string', description: 'node of the source', example: 'local_node_name == "node-a"' },
  { name: 'remote_node_name', type: 'string', description: 'node of the destination', example: 'remote_node_name != local_node_name' },
  { name: 'timestamp', type: 'google.protobuf.Timestamp', description: 'request start', example: 'timestamp >= timestamp("2026-11-20T10:00:00Z")' },
  { name: 'elapsed_time', type: 'int', description: 'request start to response end, in microseconds (0 without a response)', example: 'elapsed_time > 250000' },
  { name: 'failed', type: 'bool', description: 'HTTP 5xx, gRPC status != 0, DNS rcode != 0, or no response', example: 'failed && dst.namespace == "payments"', podcap: true },
  { name: 'notes', type: 'list<string>', description: 'what was odd about the call ("response missing", "gap of N bytes", ...)', example: 'notes.exists(n, n.contains("gap"))', podcap: true },
  { name: 'snapshot', type: 'string', description: 'snapshot id', example: 'snapshot == "3f9a1c2e"', podcap: true },
  { name: 'id', type: 'string', description: 'transaction id', example: 'id == "3f9a1c2e-17"', podcap: true },
  { name: 'grpc_service', type: 'string', description: 'gRPC service (package.Service from :path)', example: 'grpc_service == "payments.v1.Payments"', podcap: true },
  { name: 'dns_rcode', type: 'string', description: 'DNS response code by name', example: 'dns_rcode == "NXDOMAIN"', podcap: true },
  { name: 'dns_search_expansion', type: 'bool', description: 'an expected NXDOMAIN: one step of a Kubernetes search-path expansion that went on to resolve', example: 'dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion', podcap: true },
  { name: 'request.body', type: 'string', description: 'decoded request body as text (first 64 KiB)', example: 'request.body.contains("card_number")', podcap: true },
  { name: 'response.body', type: 'string', description: 'decoded response body as text (first 64 KiB)', example: 'response.body.contains("timeout")', podcap: true },
  { name: 'stream_id', type: 'int', description: 'connection number within the snapshot', example: 'stream_id == 12', podcap: true },
];

export const VARIABLE_NAMES: ReadonlySet<string> = new Set(VARIABLES.map((v) => v.name));

/** Roots of the variables as CEL sees them: "src" for "src.pod.name". */
export const ROOTS: ReadonlyMap<string, CelType | 'map<string, dyn>'> = (() => {
  const m = new Map<string, CelType | 'map<string, dyn>'>();
  for (const v of VARIABLES) {
    const dot = v.name.indexOf('.');
    if (dot < 0) m.set(v.name, v.type);
    else m.set(v.name.slice(0, dot), 'map<string, dyn>');
  }
  return m;
})();

/** Header and cookie maps are keyed in lower case, and filters' literal keys are lowered to match. */
export const CASE_INSENSITIVE_MAPS: ReadonlySet<string> = new Set(['request.headers', 'response.headers']);

/** Bodies are fetched from their own table only when a filter names them. */
export type BodyText = (rec: TransactionRecord, side: 'request' | 'response') => string;

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

function endpointValue(e: Endpoint): Record<string, unknown> {
  const isPod = e.kind === 'pod';
  const isService = e.kind === 'service';
  // KFL2's summary name: pod, else service, else the name DNS gave the address.
  const name = e.name ?? e.dns ?? '';
  const ns = e.namespace ?? '';
  return {
    ip: e.ip,
    port: BigInt(e.port),
    name,
    namespace: ns,
    kind: e.kind,
    // KFL2: pod fields fall back to the service when the address is not a pod.
    pod: { name: isPod || isService ? name : '', namespace: isPod || isService ? ns : '' },
    service: { name: e.service?.name ?? '', namespace: e.service?.namespace ?? '' },
    workload: { name: e.workload?.name ?? '', kind: e.workload?.kind ?? '' },
    dns: e.dns ?? '',
  };
}

const PROTOCOL_LABEL: Record<string, string> = { http: 'HTTP', http2: 'HTTP/2', grpc: 'gRPC', dns: 'DNS' };

/** How each root variable's value is computed from a record. Only the roots a filter uses are computed. */
export function rootValue(root: string, r: TransactionRecord, body: BodyText): Value {
  const isHttp = r.protocol === 'http' || r.protocol === 'http2' || r.protocol === 'grpc';
  switch (root) {
    case 'http': return isHttp;
    case 'grpc': return r.protocol === 'grpc';
    case 'dns': return r.protocol === 'dns';
    case 'tcp': return r.stream.transport === 'tcp';
    case 'udp': return r.stream.transport === 'udp';
    case 'protocol': return PROTOCOL_LABEL[r.protocol] ?? r.protocol;
    case 'method': return isHttp ? r.request.method : '';
    case 'url': return isHttp ? r.request.url : '';
    case 'path': return isHttp ? r.request.path : '';
    case 'status_code': return BigInt(r.status);
    case 'http_version': return isHttp ? r.request.version || r.response?.version || '' : '';
    case 'query_string': return queryMap(r.request.query);
    case 'request': {
      const out: Record<string, unknown> = {
        headers: headerMap(r.request.headers),
        cookies: cookieMap(r.request.headers, 'cookie'),
      };
      // A getter keeps the body out of the store's read path unless the filter asks for it.
      Object.defineProperty(out, 'body', { enumerable: true, get: () => body(r, 'request') });
      return out;
    }
    case 'response': {
      const out: Record<string, unknown> = {
        headers: headerMap(r.response?.headers),
        cookies: cookieMap(r.response?.headers, 'set-cookie'),
      };
      Object.defineProperty(out, 'body', { enumerable: true, get: () => body(r, 'response') });
      return out;
    }
    case 'request_headers_size': return BigInt(r.request.headersSize ?? 0);
    case 'request_body_size': return BigInt(r.request.bodySize ?? 0);
    case 'response_headers_size': return BigInt(r.response?.headersSize ?? 0);
    case 'response_body_size': return BigInt(r.response?.bodySize ?? 0);
    case 'grpc_method': return r.grpc?.method ?? '';
    case 'grpc_status': return r.protocol === 'grpc' ? BigInt(r.status) : -1n;
    case 'grpc_service': return r.grpc?.service ?? '';
    case 'dns_questions': return r.dns ? r.dns.questions.map((q) => q.name) : [];
    case 'dns_answers': return r.dns ? r.dns.answers.map((a) => a.data) : [];
    case 'dns_question_types': return r.dns ? r.dns.questions.map((q) => q.type) : [];
    case 'dns_request': return r.dns ? r.dns.queryLength > 0 : false;
    case 'dns_response': return r.dns ? r.dns.rcode !== null : false;
    case 'dns_request_length': return BigInt(r.dns?.queryLength ?? 0);
    case 'dns_response_length': return BigInt(r.dns?.responseLength ?? 0);
    case 'dns_total_size': return BigInt((r.dns?.queryLength ?? 0) + (r.dns?.responseLength ?? 0));
    case 'dns_rcode': return r.dns?.rcode ?? '';
    case 'dns_search_expansion': return r.dns?.searchPath?.role === 'expansion';
    case 'src': return endpointValue(r.src);
    case 'dst': return endpointValue(r.dst);
    case 'namespaces': return uniq([r.src.namespace, r.dst.namespace]);
    case 'pods': return uniq([r.src.kind === 'pod' ? r.src.name : null, r.dst.kind === 'pod' ? r.dst.name : null]);
    case 'services': return uniq([r.src.service?.name ?? null, r.dst.service?.name ?? null]);
    case 'local_labels': return { ...r.src.labels };
    case 'remote_labels': return { ...r.dst.labels };
    case 'node_name': return r.src.node ?? r.dst.node ?? '';
    case 'local_node_name': return r.src.node ?? '';
    case 'remote_node_name': return r.dst.node ?? '';
    case 'timestamp': return new Date(r.timestamp / 1000);
    case 'elapsed_time': return BigInt(Math.round((r.elapsedTime ?? 0) * 1000));
    case 'failed': return r.failed;
    case 'notes': return r.notes;
    case 'snapshot': return r.snapshot;
    case 'id': return r.id;
    case 'stream_id': return BigInt(r.stream.id);
    default: return '';
  }
}

function uniq(xs: Array<string | null>): string[] {
  const out: string[] = [];
  for (const x of xs) if (x && !out.includes(x)) out.push(x);
  return out;
}
