/**
 * Re-dissection: a snapshot's captures (its recorded sources) dissected again with new
 * settings, written as a new generation and swapped in atomically (workspace.ts), so that
 * a reader sees the old transactions or the new, never a mix. The capture files must still
 * be where the import found them, unchanged.
 */
import { CaptureError } from '../capture/packet.js';
import { DEFAULT_ANALYSIS_OPTIONS, type AnalysisOptions } from '../dissect/pipeline.js';
import { emptyReport } from '../dissect/report.js';
import { Enricher } from '../k8s/enrich.js';
import { IdentityResolver } from '../k8s/identity.js';
import type { DissectionSettings } from '../config/apply.js';
import { dissectInto, passOptions, type ImportOptions } from './import.js';
import type { ClusterModel } from '../k8s/model.js';
import { snapshotManifest } from './manifests.js';
import type { SnapshotMeta } from './snapshot.js';
import type { Workspace } from './workspace.js';

export interface RedissectOptions {
  /** The settings to dissect with, and the podcap.yaml they came from (null: given by a tool, or defaults). */
  settings: DissectionSettings;
  configFile: string | null;
  analysis?: AnalysisOptions;
  /** As import's: dissect in a worker thread (large captures, a core to spare). */
  thread?: ImportOptions['thread'];
  /** The caller holds the workspace alone (the CLI, not the MCP server): the pass may reopen it to keep memory flat. */
  exclusive?: boolean;
}

export interface RedissectResult {
  before: SnapshotMeta;
  after: SnapshotMeta;
  /** Settings that differ from the ones the snapshot was dissected with ("hints", "protocols.dns", ...). */
  changed: string[];
}

/** Dotted names of the settings that differ. */
export function changedSettings(a: DissectionSettings | undefined, b: DissectionSettings): string[] {
  if (!a) return ['(all: the snapshot recorded no settings)'];
  const out: string[] = [];
  for (const key of Object.keys(b) as Array<keyof DissectionSettings>) {
    const x = a[key] as unknown;
    const y = b[key] as unknown;
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(y) && key !== 'hints') {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (JSON.stringify((x as Record<string, unknown>)[k]) !== JSON.stringify((y as Record<string, unknown>)[k])) out.push(`${key}.${k}`);
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(key);
  }
  return out;
}

/** The snapshot's cluster objects, read again where the import found them. */
async function clusterModel(meta: SnapshotMeta): Promise<ClusterModel | null> {
  const k = meta.kubernetes;
  if (!k) return null;
  const manifest = await snapshotManifest(k.discovered ? [] : k.files, k.discovered ? meta.skipped : []);
  return manifest?.model ?? null;
}

export async function redissectSnapshot(ws: Workspace, ref: string, opts: RedissectOptions): Promise<RedissectResult> {
  const before = ws.resolveSnapshot(ref);
  const model = await clusterModel(before);
  const resolver = model ? new IdentityResolver(model) : null;
  const pass = await passOptions(before.sources, model, opts);
  const settings = structuredClone(opts.settings);
  const changed = changedSettings(before.config?.settings, settings);
  const generation = (before.generation ?? 0) + 1;
  const after: SnapshotMeta = {
    ...before, files: [], report: emptyReport(), transactions: 0, firstTs: null, lastTs: null, resolution: null,
    protoDirs: settings.protoDirs,
    config: { file: opts.configFile, settings },
    redissections: [...(before.redissections ?? []), { at: new Date().toISOString(), generation, configFile: opts.configFile, changed }],
  };
  const key = await ws.beginGeneration(before);
  try {
    await dissectInto(ws, key, after, () => new Enricher(resolver), opts.analysis ?? DEFAULT_ANALYSIS_OPTIONS, pass);
    // The same files must give the same packets: else the snapshot is no longer what was imported.
    for (let i = 0; i < before.files.length; i++) {
      const then = before.files[i];
      const now = after.files[i];
      if (!now || now.packets !== then.packets) {
        const name = before.sources[i]?.name ?? then.path;
        throw new CaptureError(`${name} has changed since snapshot ${before.id} was imported (${now?.packets ?? 0} packets now, ${then.packets} then): import it again`, name);
      }
    }
    await ws.commitGeneration(after, key, ws.dataKey(before));
  } catch (e) {
    await ws.abortGeneration(before.id, key);
    throw e;
  }
  return { before, after: { ...after, dataKey: key, generation, state: 'ready', pid: null, pending: null }, changed };
}
