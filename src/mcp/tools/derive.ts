/** Cutting the incident out: a derived snapshot (Kubeshark's create_snapshot), optionally written as a bundle. */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CaptureSource } from '../../capture/index.js';
import { z } from 'zod';
import { importSnapshot, newSnapshotId } from '../../store/import.js';
import { writeBundle } from '../../report/bundle.js';
import { outputPath } from '../paths.js';
import { defineTool } from '../registry.js';
import { ToolError } from '../result.js';
import { filterParam, snapshotBrief, snapshotsOf, windowOf, windowParams } from './common.js';

/** The directory of the workspace where derived snapshots' captures are kept. */
function derivedDir(workspace: string): string {
  return join(workspace, 'derived');
}

/** Removes the capture a derived snapshot was imported from, when it lies in the workspace's derived/ directory. */
export async function removeDerivedCapture(workspace: string, sources: CaptureSource[]): Promise<void> {
  const dir = derivedDir(workspace);
  for (const s of sources) {
    const file = s.location.kind === 'file' ? s.location.path : s.location.archive;
    if (dirname(file) === dir) await rm(file, { force: true });
  }
}

const createSnapshot = defineTool({
  name: 'create_snapshot',
  title: 'Cut a snapshot out of another',
  description: 'Makes a new, smaller snapshot in the workspace from the calls of a snapshot that match a KFL2 filter and/or a '
    + 'time window: the packets of their connections (whole connections, original bytes and timestamps), the part of the '
    + 'cluster manifest naming their addresses, and the report of the cut. list_snapshots shows it with its parent. Use it to '
    + 'isolate an incident (e.g. {"snapshot": "prod", "from": "2026-11-24T19:56:15Z", "to": "2026-11-24T19:56:36Z", "name": '
    + '"payment-outage"}) and work on it alone, or with "bundle" to write it as one .tar.gz under the server\'s output root '
    + '(capture.pcapng, cluster.yaml, report.md, report.html, README.md) to attach to a ticket. Connections go whole, so the '
    + 'new snapshot may hold a few calls outside the window on the same connections; the result gives the filter that '
    + 'selects exactly the cut ("selectAgain").',
  input: {
    snapshot: z.string().max(200).optional().describe('the snapshot to cut from (id, name or unique id prefix); absent: every snapshot'),
    filter: filterParam,
    ...windowParams,
    name: z.string().min(1).max(200).optional().describe('a name for the new snapshot'),
    bundle: z.string().min(1).max(1000).optional()
      .describe('also write the bundle to this .tar.gz file name under the output root, e.g. "incident-42.tar.gz"'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  run: async (a, ctx) => {
    const window = windowOf(a);
    if (!a.filter && !window) throw new ToolError('give a filter, a window (from/to or last), or both: a cut of everything is the snapshot itself');
    if (a.bundle !== undefined && !/\.(tar\.gz|tgz)$/i.test(a.bundle)) throw new ToolError(`bundle names a .tar.gz file, not "${a.bundle}"`);
    const bundleOut = a.bundle !== undefined ? await outputPath(a.bundle, ctx.outputRoot) : null;
    // The derived snapshot's capture stays in the workspace: export and follow read it again later.
    const dir = derivedDir(ctx.ws.dir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${newSnapshotId()}.tar.gz`);
    let cut;
    let meta;
    try {
      cut = await writeBundle(ctx.ws, { filter: a.filter ?? '', snapshots: snapshotsOf(a.snapshot), window, out: file, redactor: ctx.redactor });
      if (cut.transactions === 0) throw new ToolError('no call matches this filter and window: nothing to cut (try list_api_calls with the same filter)');
      if (cut.parents.length !== 1) throw new ToolError(`the calls come from ${cut.parents.length} snapshots (${cut.parents.map((p) => p.id).join(', ')}): name one with "snapshot"`);
      const parent = cut.parents[0];
      meta = await importSnapshot(ctx.ws, [file], {
        name: a.name ?? null,
        parent: { id: parent.id, name: parent.name, filter: cut.filter, from: cut.window.from, to: cut.window.to },
        protoDirs: ctx.ws.listSnapshots().find((s) => s.id === parent.id)?.protoDirs ?? [],
      });
    } catch (e) {
      // Nothing half-made is left behind: no snapshot (the import is all or nothing), no orphan capture.
      await rm(file, { force: true });
      throw e;
    }
    if (bundleOut) await copyFile(file, bundleOut);
    return {
      created: snapshotBrief(meta),
      cut: { transactions: cut.transactions, connections: cut.connections, packets: cut.packets, manifest: cut.manifest },
      selectAgain: cut.selectAgain,
      ...(bundleOut ? { bundle: { path: bundleOut, bytes: cut.bytes, files: cut.files } } : {}),
      notes: cut.notes,
      next: `list_api_calls with snapshot "${meta.id}" and filter ${JSON.stringify(cut.selectAgain)}, or get_api_stats on it`,
    };
  },
});

export const DERIVE_TOOLS = [createSnapshot];
