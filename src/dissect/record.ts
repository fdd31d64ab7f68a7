import type { DnsMessage, DnsQuestion, DnsRecordInfo } from './dns-message.js';

/**
 * The transaction record of DESIGN.md: what every dissector emits, what the
 * store keeps and what `--json` and the MCP tools return. Field names are public.
 */

export type Protocol = 'http' | 'http2' | 'grpc' | 'dns';
export type EndpointKind = 'pod' | 'service' | 'node' | 'external';

export interface Workload {
  kind: string;
  name: string;
}

export interface Endpoint {
  ip: string;
  port: number;
  /** The Kubernetes name of the address (pod, service or node), null until known. */
  name: string | null;
  namespace: string | null;
  kind: EndpointKind;
  workload: Workload | null;
  labels: Record<string, string>;
  node: string | null;
  /** For a pod: the Service whose endpoints include it on this port; for a Service: itself. */
  service: { name: string; namespace: string } | null;
  /** The name a DNS answer in the capture gave this address (the name the client asked for). */
  dns: string | null;
}

/** A decoded body as the record carries it: text when it is text, base64 otherwise. */
export interface Body {
  encoding: 'utf8' | 'base64';
  data: string;
  /** Decoded size in bytes; `data` may hold less when it was capped. */
  size: number;
  truncated: boolean;
  mimeType: string | null;
}

/** Name/value pairs in wire order with their original case; repeats kept. */
export type HeaderList = Array<[string, string]>;

export interface HttpRequest {
  method: string;
  /** Path and query as sent on the request line. */
  url: string;
  path: string;
  /** Query string without the '?', "" when none. */
  query: string;
  version: string;
  headers: HeaderList;
  /**
   * Between the dissector and the store only: the HTTP/1 header block as on the wire (the lines
   * between the start line and the blank line, latin1, CRLF-ended), kept instead of splitting it;
   * `headers` is then empty. The store splits it when a record is read, so no reader of stored
   * records sees it; whoever reads analyzeCaptures' records directly splits it (header-block.ts).
   */
  rawHeaders?: string;
  headersSize: number;
  /** Decoded body size (after chunked and content-encoding). */
  bodySize: number;
  /** Body bytes as carried on the wire (after de-chunking, before content decoding). */
  wireBodySize: number;
  contentEncoding: string | null;
  /** Filled by `show`/`get_api_call`; summaries leave it null. */
  body: Body | null;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  version: string;
  headers: HeaderList;
  /** As HttpRequest.rawHeaders. */
  rawHeaders?: string;
  /** Trailer fields (HTTP/1 chunked trailers, HTTP/2 trailing HEADERS); absent when there were none. */
  trailers?: HeaderList;
  headersSize: number;
  bodySize: number;
  wireBodySize: number;
  contentEncoding: string | null;
  body: Body | null;
}

/** HTTP/2 detail of a call: its stream and how it ended if not normally. */
export interface Http2Info {
  streamId: number;
  /** RST_STREAM error code name (CANCEL, REFUSED_STREAM, ...), or a GOAWAY that refused the stream; null when it ended normally. */
  resetCode: string | null;
  resetBy: 'client' | 'server' | null;
  /** A response the server pushed (PUSH_PROMISE). */
  pushed: boolean;
}

export interface GrpcMessageInfo {
  from: 'client' | 'server';
  /** Capture time, µs since the epoch. */
  ts: number;
  compressed: boolean;
  /** Length on the wire. */
  size: number;
  /** Where the message starts in its side's stored body; -1 when the body store was already full. */
  offset: number;
}

export interface GrpcInfo {
  service: string;
  method: string;
  /** grpc-encoding of the messages (gzip, ...); null for identity. */
  encoding: string | null;
  /** grpc-status as sent; null when the call ended without one (see the record's status and notes). */
  grpcStatus: number | null;
  statusName: string;
  /** grpc-message, percent-decoded. */
  message: string | null;
  requestMessages: number;
  responseMessages: number;
  /** Each message's direction, time and size, in order (the first 1000). */
  messages: GrpcMessageInfo[];
  /** Messages decoded for display (`show`, `get_api_call`); absent in listings. */
  decoded?: GrpcDecodedMessage[];
}

export interface GrpcDecodedMessage {
  from: 'client' | 'server';
  ts: number;
  size: number;
  /** How the payload was read: with the user's .proto (named fields), schema-less (field numbers), or not at all. */
  decoding: 'proto' | 'schemaless' | 'none';
  type: string | null;
  json: unknown;
  error: string | null;
}

/** Where a query stood in a Kubernetes search-path sequence (name.ns.svc.cluster.local, name.svc..., ..., name). */
export interface DnsSearchPath {
  /** The name the pod asked for, before its resolver appended search suffixes. */
  base: string;
  /** expansion: an expected NXDOMAIN on the way; answer: the name that resolved; not-resolved: no suffix worked. */
  role: 'expansion' | 'answer' | 'not-resolved';
  resolvedAs: string | null;
}

export interface DnsInfo {
  id: number;
  opcode: string;
  transport: 'udp' | 'tcp';
  questions: DnsQuestion[];
  answers: DnsRecordInfo[];
  authorities: DnsRecordInfo[];
  additionals: DnsRecordInfo[];
  /** Response code by name; null without an answer. */
  rcode: string | null;
  flags: DnsMessage['flags'] | null;
  edns: DnsMessage['edns'];
  /** Times the query was sent again with the same id before the answer. */
  retries: number;
  queryLength: number;
  responseLength: number;
  /** Search-path expansion: which name the pod was after, and what this query was in the sequence. */
  searchPath: DnsSearchPath | null;
}

export interface StreamRef {
  /** Connection number within the snapshot (see `podcap follow`). */
  id: number;
  transport: 'tcp' | 'udp';
}

export interface TransactionRecord {
  id: string;
  snapshot: string;
  protocol: Protocol;
  /** Request start, microseconds since the epoch. */
  timestamp: number;
  /** Request start to response end in milliseconds; null without a response. */
  elapsedTime: number | null;
  /** Time of the last byte of the response, microseconds since the epoch; null without a response. */
  responseTimestamp: number | null;
  src: Endpoint;
  dst: Endpoint;
  stream: StreamRef;
  request: HttpRequest;
  response: HttpResponse | null;
  status: number;
  failed: boolean;
  notes: string[];
  /** For a failed call: why, in one line (status line and error excerpt, grpc-message, rcode, reset, no response). */
  evidence?: string | null;
  http2?: Http2Info;
  grpc?: GrpcInfo;
  dns?: DnsInfo;
}

/** What a dissector hands on: the record (without id/snapshot yet) and the raw decoded bodies. */
export interface DissectedTransaction {
  record: Omit<TransactionRecord, 'id' | 'snapshot'>;
  requestBody: Buffer | null;
  responseBody: Buffer | null;
}

export type TransactionSink = (t: DissectedTransaction) => void;

export function endpoint(ip: string, port: number): Endpoint {
  return { ip, port, name: null, namespace: null, kind: 'external', workload: null, labels: {}, node: null, service: null, dns: null };
}

/** First value of a header by case-insensitive name. */
export function headerValue(headers: HeaderList, name: string): string | null {
  const lower = name.toLowerCase();
  for (let i = 0; i < headers.length; i++) {
    const n = headers[i][0];
    // Length first: most names differ in length, and lowercasing each one is what this costs.
    if (n.length === lower.length && (n === lower || n.toLowerCase() === lower)) return headers[i][1];
  }
  return null;
}
