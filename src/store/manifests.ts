/**
 * The cluster manifest of a snapshot: named with --manifest, or found beside the
 * captures in the directory or archive the user gave (a file that is not a
 * capture but reads as Kubernetes objects). A manifest is never required.
 */
import { gunzipSync } from 'node:zlib';
import { readLocation, type SkippedInput } from '../capture/index.js';
import { ManifestError, loadManifests, parseManifests, type ClusterModel, type ManifestInput } from '../k8s/manifest.js';

/** Side files larger than this are not read as manifests. */
const MAX_MANIFEST = 256 << 20;

export interface SnapshotManifest {
  model: ClusterModel;
  /** Where it came from: the files named, or the side files found. */
  files: string[];
  /** Found without --manifest. */
  discovered: boolean;
  /** Problems worth telling: side files that looked like manifests but did not parse. */
  notes: string[];
}

/** Kubernetes objects in YAML or JSON name an apiVersion and a kind near their start. */
function looksLikeManifest(head: Buffer): boolean {
  let text = head;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      text = gunzipSync(head, { finishFlush: 2, maxOutputLength: 64 * 1024 });
    } catch {
      return false;
    }
  }
  const s = text.subarray(0, 64 * 1024).toString('utf8');
  return /["']?apiVersion["']?\s*:/.test(s) && /["']?kind["']?\s*:/.test(s);
}

export async function snapshotManifest(explicit: string[], skipped: SkippedInput[]): Promise<SnapshotManifest | null> {
  if (explicit.length > 0) {
    // Named by the user: a broken one is an error (ManifestError names the file and line).
    return { model: await loadManifests(explicit), files: explicit, discovered: false, notes: [] };
  }
  const inputs: ManifestInput[] = [];
  const notes: string[] = [];
  for (const s of skipped) {
    if (!s.location) continue;
    const size = s.location.kind === 'file' ? MAX_MANIFEST : Math.min(s.location.available, MAX_MANIFEST);
    const head = await readLocation(s.location, 4096);
    if (!looksLikeManifest(head)) continue;
    inputs.push({ name: s.name, data: await readLocation(s.location, size) });
  }
  if (inputs.length === 0) return null;
  // Parse them together; a side file that fails is dropped with a note and the rest parsed again.
  let good = inputs;
  for (;;) {
    try {
      const model = parseManifests(good);
      return { model, files: good.map((g) => g.name), discovered: true, notes };
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      notes.push(`${e.message}: not used as a manifest`);
      const bad = good.findIndex((g) => g.name === e.file);
      good = bad >= 0 ? good.filter((_, i) => i !== bad) : [];
      if (good.length === 0) return { model: parseManifests([]), files: [], discovered: true, notes };
    }
  }
}
