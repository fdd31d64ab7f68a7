/**
 * Listing and fetching transactions: time-ordered across snapshots, filtered,
 * paginated by an opaque cursor; one call in full with its bodies.
 */
import type { Body, HeaderList, TransactionRecord } from '../dissect/record.js';
import { headerValue } from '../dissect/record.js';
import { isTextual } from '../dissect/body.js';
import { parseTxId, type BodySide, type Workspace } from '../store/workspace.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { compileFilter, type Filter } from './filter.js';
import { captureBounds, makePlan, orderedCandidates, type Position } from './select.js';
import type { ProtoRegistry } from '../dissect/proto-registry.js';
import { decodeGrpcMessages, type GrpcDecodeOptions } from './grpc-decode.js';

export interface CallQuery {
  filter?: string;
  /** Snapshot ids or names; all ready snapshots when absent or empty. */
  snapshots?: string[];
  limit?: number;
  cursor?: string | null;
  /** Newest first. */
  reverse?: boolean;
}

export interface CallPage {
  calls: TransactionRecord[];
  /** Pass back as `cursor` for the next page; null when there is none. */
  nextCursor: string | null;
  /** Records the filter looked at. */
  scanned: number;
  /** Records whose filter evaluation failed (counted as not matching). */
  evaluationErrors: number;
  lastEvaluationError: string | null;
  /** The KFL2 filter applied (the translation of a KFL v1 filter). */
  filter: string;
  /** The filter as given, when it was KFL v1 and was translated to `filter`; null otherwise. */
  translatedFrom: string | null;
  /** What the translation did beyond renaming. */
  translationNotes: string[];
  /** The filter's parts the summary's indexes answered (empty: a scan in time order). */
  indexUsed: string[];
}

export const DEFAULT_LIMIT = 100;
/** The part of a body a filter's `request.body`/`response.body` sees. */
const FILTER_BODY_BYTES = 64 * 1024;

function encodeCursor(p: Position, reverse: boolean): string {
  return Buffer.from(JSON.stringify([p.ts, p.snapshot, p.seq, reverse ? 1 : 0])).toString('base64url');
}

export class CursorError extends Error {}

function decodeCursor(c: string): { pos: Position; reverse: boolean } {
  try {
    const [ts, snapshot, seq, rev] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [number, string, number, number];
    if (typeof ts !== 'number' || typeof snapshot !== 'string' || typeof seq !== 'number') throw new Error('shape');
    return { pos: { ts, snapshot, seq }, reverse: rev === 1 };
  } catch {
    throw new CursorError(`invalid cursor "${c}": pass back the nextCursor of an earlier page`);
  }
}


export function selectSnapshots(ws: Workspace, refs: string[] | undefined): SnapshotMeta[] {
  if (!refs || refs.length === 0) return ws.listSnapshots();
  return refs.map((r) => ws.resolveSnapshot(r));
}

/** The text a filter sees of a body: decoded, textual, capped. */
export function bodyTextFor(ws: Workspace): (rec: TransactionRecord, side: BodySide) => string {
  return (rec, side) => {
    const seq = parseTxId(rec.id)?.seq;
    if (seq === undefined) return '';
    const buf = ws.getBody(rec.snapshot, seq, side);
    if (!buf) return '';
    const headers = side === 'request' ? rec.request.headers : rec.response?.headers;
    const slice = buf.subarray(0, FILTER_BODY_BYTES);
    return isTextual(slice, contentType(headers)) ? slice.toString('utf8') : '';
  };
}

function contentType(headers: HeaderList | undefined): string | null {
  return headers ? headerValue(headers, 'content-type') : null;
}

export function listCalls(ws: Workspace, q: CallQuery): CallPage {
  const limit = Math.max(1, q.limit ?? DEFAULT_LIMIT);
  let reverse = q.reverse ?? false;
  let after: Position | null = null;
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    after = c.pos;
    reverse = c.reverse;
  }
  const snaps = selectSnapshots(ws, q.snapshots);
  // capture_start and capture_end: the span of the snapshots queried.
  const filter: Filter = compileFilter(q.filter ?? '', bodyTextFor(ws), captureBounds(snaps));
  // The summary's indexes narrow the candidates; each is still checked against the whole filter.
  const plan = makePlan(filter, snaps);
  const calls: TransactionRecord[] = [];
  let scanned = 0;
  let last: Position | null = null;
  let more = false;
  for (const pos of orderedCandidates(ws, snaps, plan, reverse, after)) {
    const rec = ws.getRecord(pos.snapshot, pos.seq);
    if (!rec) continue;
    scanned++;
    if (!filter.test(rec)) continue;
    if (calls.length === limit) {
      more = true;
      break;
    }
    calls.push(rec);
    last = pos;
  }
  return {
    calls,
    nextCursor: more && last ? encodeCursor(last, reverse) : null,
    scanned,
    evaluationErrors: filter.errors,
    lastEvaluationError: filter.lastError,
    filter: filter.source,
    translatedFrom: filter.translatedFrom ?? null,
    translationNotes: [...(filter.notes ?? [])],
    indexUsed: plan.used,
  };
}

export interface BodyOptions {
  /** Bytes of each body returned; the full size is always stated. */
  maxBodyBytes: number;
  /** The user's .proto files, to decode gRPC messages with field names; schema-less without. */
  protos?: ProtoRegistry | null;
  grpc?: GrpcDecodeOptions;
}

/** A body as the record shows it: text when it reads as text, base64 otherwise. */
export function renderBody(buf: Buffer, headers: HeaderList, opts: BodyOptions): Body {
  const mimeType = headerValue(headers, 'content-type');
  const shown = buf.length > opts.maxBodyBytes ? buf.subarray(0, opts.maxBodyBytes) : buf;
  const text = isTextual(shown, mimeType);
  return {
    encoding: text ? 'utf8' : 'base64',
    data: text ? shown.toString('utf8') : shown.toString('base64'),
    size: buf.length,
    truncated: shown.length < buf.length,
    mimeType,
  };
}

/** One call in full: the record with its bodies. Null when the id is unknown. */
export function getCall(ws: Workspace, id: string, opts: BodyOptions): TransactionRecord | null {
  const ref = parseTxId(id);
  if (!ref) return null;
  const rec = ws.getRecord(ref.snapshot, ref.seq);
  if (!rec) return null;
  const reqBody = ws.getBody(ref.snapshot, ref.seq, 'request');
  const resBody = rec.response ? ws.getBody(ref.snapshot, ref.seq, 'response') : null;
  if (rec.grpc) {
    // A gRPC body is length-prefixed protobuf: its messages, decoded, say more than its bytes.
    rec.grpc.decoded = decodeGrpcMessages(rec, { request: reqBody, response: resBody }, opts.protos ?? null, opts.grpc);
    return rec;
  }
  if (reqBody) rec.request.body = renderBody(reqBody, rec.request.headers, opts);
  if (rec.response && resBody) rec.response.body = renderBody(resBody, rec.response.headers, opts);
  return rec;
}
