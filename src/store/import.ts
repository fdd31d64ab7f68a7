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
import { analysisOptions, dissectionSettings, type DissectionSettings } from '../config/apply.js';
import { DEFAULT_SETTINGS } from '../config/schema.js';
import { FailurePolicy } from '../dissect/failure-policy.js';
import { DissectionReportBuilder } from './dissection-report.js';

export interface ImportOptions {
  name?: string | null;
  /** .proto directories to decode this snapshot's gRPC messages with, by default. */
  protoDirs?: string[];
  analysis?: AnalysisOptions;
  /** Manifest files or directories; without them, one found beside the captures is used. */
  manifests?: string[];
  /** podcap.yaml's settings (hints, protocols, limits, failure rules) and the file they came from; defaults without. */
  config?: { file: string | null; settings: DissectionSettings };
  /** The snapshot this one was cut out of (a bundle imported into the workspace it came from). */
  parent?: SnapshotMeta['parent'];
}

export function newSnapshotId(): string {
  return randomBytes(4).toString('hex');
}

/**
 * One dissection pass over the snapshot's sources with meta.config's settings, written under
 * data key `key`: fills in meta's files, report, transactions, extent, resolution and
 * dissection report. Import and re-dissection both run it.
 */
export async function dissectInto(ws: Workspace, key: string, meta: SnapshotMeta, enricher: Enricher, base: AnalysisOptions): Promise<void> {
  const settings = meta.config?.settings ?? dissectionSettings(DEFAULT_SETTINGS, meta.protoDirs);
  const policy = new FailurePolicy(settings.failed);
  const dissection = new DissectionReportBuilder();
  let seq = 0;
  let failedDelta = 0;
  const summary = ws.summaryWriter(key);
  const sink = (t: DissectedTransaction): void => {
    seq++;
    enricher.apply(t.record);
    if (!policy.trivial) failedDelta += policy.apply(t);
    dissection.transaction(t);
    const ts = t.record.timestamp;
    if (meta.firstTs === null || ts < meta.firstTs) meta.firstTs = ts;
    if (meta.lastTs === null || ts > meta.lastTs) meta.lastTs = ts;
    ws.write(key, seq, t.record, t.requestBody, t.responseBody);
    summary.add(seq, t.record);
  };
  const analysis = analysisOptions({ ...DEFAULT_SETTINGS, ...settings }, base);
  const result = await analyzeCaptures(meta.sources, sink, {
    ...analysis,
    onStream: (st) => {
      dissection.stream(st);
      ws.writeStream(key, st);
    },
  });
  meta.files = result.files;
  meta.report = result.report;
  meta.report.failed += failedDelta;
  meta.transactions = seq;
  meta.resolution = enricher.report();
  meta.dissection = dissection.finish(result.report, result.files, meta.sources.map((s) => s.name), meta.skipped, settings.protocols);
  summary.finish();
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
    protoDirs: opts.protoDirs?.length ? opts.protoDirs : opts.config?.settings.protoDirs ?? [], sources: listing.sources, files: [], skipped: listing.skipped, inputNotes: listing.notes, report: emptyReport(), transactions: 0,
    firstTs: null, lastTs: null, podcapVersion: PODCAP_VERSION,
    kubernetes: manifest && resolver
      ? { files: manifest.files, discovered: manifest.discovered, summary: resolver.summary(), backends: resolver.serviceBackends(), warnings: manifest.model.warnings.slice(0, 50).map((w) => `${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`), notes: manifest.notes }
      : null,
    resolution: null,
    ...(opts.parent ? { parent: opts.parent } : {}),
  };
  meta.config = { file: opts.config?.file ?? null, settings: opts.config?.settings ?? dissectionSettings(DEFAULT_SETTINGS, []) };
  meta.config.settings.protoDirs = meta.protoDirs;
  await ws.begin(meta);
  try {
    await dissectInto(ws, id, meta, enricher, opts.analysis ?? DEFAULT_ANALYSIS_OPTIONS);
    await ws.commit(meta);
    return { ...meta, state: 'ready', pid: null };
  } catch (err) {
    await ws.remove(id);
    throw err;
  }
}
