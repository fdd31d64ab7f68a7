/** Snapshots: what is loaded, loading more (from under the server's roots), removing one. */
import { z } from 'zod';
import { listCaptureSources, type CaptureSource } from '../../capture/index.js';
import { importSnapshot } from '../../store/import.js';
import { importPath, stillInside } from '../paths.js';
import { defineTool } from '../registry.js';
import { ToolError } from '../result.js';
import { snapshotBrief } from './common.js';
import { removeDerivedCapture } from './derive.js';

const listSnapshots = defineTool({
  name: 'list_snapshots',
  title: 'List snapshots',
  description: 'Lists the capture snapshots imported into this workspace: id, name, capture files, first and last call, '
    + 'packets, calls by protocol, failures, and the Kubernetes objects their addresses were named after. Start here: it says '
    + 'what traffic is available, over which time span (windows such as "the last hour" are relative to a capture\'s end), '
    + 'and which snapshot id to pass to the other tools. A snapshot still importing is not listed until it is complete.',
  input: {},
  run: (_a, ctx) => ({ snapshots: ctx.ws.listSnapshots().map(snapshotBrief) }),
});

function sourcePath(s: CaptureSource): string {
  return s.location.kind === 'file' ? s.location.path : s.location.archive;
}

const importSnapshotTool = defineTool({
  name: 'import_snapshot',
  title: 'Import captures as a snapshot',
  description: 'Reads capture files (pcap, pcapng, gzipped or not, directories and tar/tar.gz archives of them) into a new '
    + 'snapshot: TCP reassembled, HTTP/1, HTTP/2, gRPC and DNS dissected, addresses named after the Kubernetes objects of a '
    + 'manifest (given, or found beside the captures). All or nothing: the snapshot appears in list_snapshots only once '
    + 'complete. Only paths under the directories the server was started with (--root) are allowed; relative paths are taken '
    + 'from the first root. Returns the new snapshot\'s id and what the import found (packets, calls, failures, damage). '
    + 'Example: {"paths": ["incident-42/"], "name": "incident-42"}.',
  input: {
    paths: z.array(z.string().min(1).max(4096)).min(1).max(100).describe('capture files, directories or archives, under a root'),
    name: z.string().max(200).optional().describe('a name for the snapshot (other tools accept it in place of the id)'),
    manifests: z.array(z.string().min(1).max(4096)).max(20).optional()
      .describe('Kubernetes manifests (kubectl get ... -A -o yaml|json), under a root; default: one found beside the captures'),
    protos: z.array(z.string().min(1).max(4096)).max(20).optional().describe('directories of .proto files for gRPC messages, under a root'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  run: async (a, ctx) => {
    const roots = ctx.importRoots;
    const paths = await Promise.all(a.paths.map((p) => importPath(p, roots)));
    const manifests = await Promise.all((a.manifests ?? []).map((p) => importPath(p, roots)));
    const protoDirs = await Promise.all((a.protos ?? []).map((p) => importPath(p, roots)));
    // Directories are walked through their links: every file found must lie under a root too.
    const listing = await listCaptureSources(paths);
    for (const s of listing.sources) {
      if (!(await stillInside(sourcePath(s), roots))) throw new ToolError(`${s.name} lies outside the import roots (reached through a link); refused`);
    }
    for (const s of listing.skipped) {
      const where = s.location?.kind === 'file' ? s.location.path : s.location?.kind === 'tar-member' ? s.location.archive : null;
      if (where && !(await stillInside(where, roots))) throw new ToolError(`${s.name} lies outside the import roots (reached through a link); refused`);
    }
    const meta = await importSnapshot(ctx.ws, paths, { name: a.name ?? null, manifests, protoDirs });
    const damaged = meta.files.reduce((n, f) => n + f.damaged + (f.truncatedBytes > 0 ? 1 : 0), 0);
    return {
      imported: snapshotBrief(meta),
      damagedRecords: damaged,
      skipped: meta.skipped.slice(0, 50),
      notes: meta.inputNotes,
      kubernetesWarnings: meta.kubernetes?.warnings.slice(0, 20) ?? [],
      next: 'list_api_calls with filter "failed" or get_api_stats on this snapshot',
    };
  },
});

const deleteSnapshot = defineTool({
  name: 'delete_snapshot',
  title: 'Delete a snapshot',
  description: 'Removes a snapshot and everything stored for it (calls, bodies, indexes, connection summaries) from the '
    + 'workspace; the capture files themselves are not touched. Irreversible: do it only when the user asks. Give the id '
    + '(list_snapshots); a name is accepted when it is unique.',
  input: { snapshot: z.string().min(1).max(200).describe('snapshot id or name') },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  run: async (a, ctx) => {
    const snap = ctx.ws.resolveSnapshot(a.snapshot);
    await ctx.ws.remove(snap.id);
    // A snapshot create_snapshot cut out keeps its capture in the workspace: it goes with it.
    await removeDerivedCapture(ctx.ws.dir, snap.sources);
    return { deleted: snap.id, name: snap.name, calls: snap.transactions };
  },
});

export const SNAPSHOT_TOOLS = [listSnapshots, importSnapshotTool, deleteSnapshot];
