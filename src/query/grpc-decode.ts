/**
 * gRPC messages for display: cut out of the stored request and response bodies
 * by the offsets the dissector recorded, decompressed, and decoded with the
 * user's .proto files when they name the method, schema-less otherwise.
 */
import { decompressMessage } from '../dissect/grpc.js';
import type { ProtoRegistry } from '../dissect/proto-registry.js';
import { decodeSchemaless, schemalessToJson } from '../dissect/protobuf.js';
import type { GrpcDecodedMessage, TransactionRecord } from '../dissect/record.js';

export interface GrpcDecodeOptions {
  /** Messages decoded per call; the rest are listed without their contents. */
  maxMessages: number;
  /** A decompressed message larger than this is not decoded. */
  maxMessageBytes: number;
}

export const DEFAULT_GRPC_DECODE: GrpcDecodeOptions = { maxMessages: 50, maxMessageBytes: 4 << 20 };

export function decodeGrpcMessages(
  rec: TransactionRecord,
  bodies: { request: Buffer | null; response: Buffer | null },
  registry: ProtoRegistry | null,
  opts: GrpcDecodeOptions = DEFAULT_GRPC_DECODE,
): GrpcDecodedMessage[] {
  const g = rec.grpc;
  if (!g) return [];
  const types = registry?.method(g.service, g.method) ?? null;
  const out: GrpcDecodedMessage[] = [];
  for (const m of g.messages.slice(0, opts.maxMessages)) {
    const type = types ? (m.from === 'client' ? types.requestType : types.responseType) : null;
    const base = { from: m.from, ts: m.ts, size: m.size, type };
    const body = m.from === 'client' ? bodies.request : bodies.response;
    const start = m.offset + 5;
    if (!body || m.offset < 0 || start + m.size > body.length) {
      out.push({ ...base, decoding: 'none', json: null, error: 'not stored: the body was cut at the storage limit or not captured' });
      continue;
    }
    let payload = body.subarray(start, start + m.size);
    if (m.compressed) {
      const d = decompressMessage(payload, g.encoding, opts.maxMessageBytes);
      if (d.error) {
        out.push({ ...base, decoding: 'none', json: null, error: d.error });
        continue;
      }
      payload = d.data;
    }
    if (registry && type) {
      const r = registry.decode(type, payload);
      if (!r.error) {
        out.push({ ...base, decoding: 'proto', json: r.json, error: null });
        continue;
      }
      // The schema did not fit these bytes (an old .proto, say): show them schema-less, saying why.
      const s = decodeSchemaless(payload);
      out.push({ ...base, decoding: 'schemaless', json: schemalessToJson(s.fields), error: `${type}: ${r.error}` });
      continue;
    }
    const s = decodeSchemaless(payload);
    out.push({ ...base, type: null, decoding: 'schemaless', json: schemalessToJson(s.fields), error: s.error });
  }
  return out;
}
