/** Import: a pass over the capture files stored as a new snapshot, all or nothing. */
import { randomBytes } from 'node:crypto';
import { listCaptureSources } from '../capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures, type AnalysisOptions } from '../dissect/pipeline.js';
import type { DissectedTransaction } from '../dissect/record.js';
import { emptyReport } from '../dissect/report.js';
import { PODCAP_VERSION } from '../version.js';
import type { SnapshotMeta } from './snapshot.js';
import type { Workspace } from './workspace.js';
import { Enricher } from '../k8s/enrich.js';
import { IdentityResolver } from '../k8s/identity.js';
import { snapshotManifest } from './manifests.js';

export interface ImportOptions {
  name?: string | null;
  /** .proto directories to decode this snapshot's gRPC messages with, by default. */
  protoDirs?: string[];
  analysis?: AnalysisOptions;
  /** Manifest files or directories; without them, one found beside the captures is used. */
  manifests?: string[];
}

export function newSnapshotId(): string {
  return randomBytes(4).toString('hex');
}

export async function importSnapshot(ws: Workspace, paths: string[], opts: ImportOptions = {}): Promise<SnapshotMeta> {
  // Listing first: an input that is not a capture fails the import before anything is written.
  const listing = await listCaptureSources(paths);
  const manifest = await snapshotManifest(opts.manifests ?? [], listing.skipped);
  const resolver = manifest ? new IdentityResolver(manifest.model) : null;
  const enricher = new Enricher(resolver);
  const id = newSnapshotId();
  const meta: SnapshotMeta = {
    id, name: opts.name ?? null, createdAt: new Date().toISOString(), state: 'importing', pid: process.pid,
    protoDirs: opts.protoDirs ?? [], sources: listing.sources, files: [], skipped: listing.skipped, inputNotes: listing.notes, report: emptyReport(), transactions: 0,
    firstTs: null, lastTs: null, podcapVersion: PODCAP_VERSION,
    kubernetes: manifest && resolver
      ? { files: manifest.files, discovered: manifest.discovered, summary: resolver.summary(), backends: resolver.serviceBackends(), warnings: manifest.model.warnings.slice(0, 50).map((w) => `${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`), notes: manifest.notes }
      : null,
    resolution: null,
  };
  await ws.begin(meta);
  try {
    let seq = 0;
    const summary = ws.summaryWriter(id);
    const sink = (t: DissectedTransaction): void => {
      seq++;
      enricher.apply(t.record);
      const ts = t.record.timestamp;
      if (meta.firstTs === null || ts < meta.firstTs) meta.firstTs = ts;
      if (meta.lastTs === null || ts > meta.lastTs) meta.lastTs = ts;
      ws.write(id, seq, t.record, t.requestBody, t.responseBody);
      summary.add(seq, t.record);
    };
    const analysis = opts.analysis ?? DEFAULT_ANALYSIS_OPTIONS;
    const result = await analyzeCaptures(listing.sources, sink, { ...analysis, onStream: (st) => ws.writeStream(id, st) });
    meta.files = result.files;
    meta.report = result.report;
    meta.transactions = seq;
    meta.resolution = enricher.report();
    summary.finish();
    await ws.commit(meta);
    return { ...meta, state: 'ready', pid: null };
  } catch (err) {
    await ws.remove(id);
    throw err;
  }
}
