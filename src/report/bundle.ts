/**
 * A bundle: the incident cut out of a snapshot as a small snapshot of its own that
 * podcap imports again (and whose capture Wireshark opens). One .tar.gz holding
 *
 *   capture.pcapng    the packets of the matching calls' connections (query/export.ts:
 *                     original bytes, timestamps and interfaces)
 *   cluster.yaml      the part of the manifest that names their addresses
 *   report.md, report.html   the report of the same filter and window
 *   README.md         how it was cut, and how to open it
 *   podcap-bundle.json the cut as data: parent snapshot, filter, window, counts
 *
 * Connections go whole: a TCP connection cut in time loses its handshake and, for
 * HTTP/2, the HPACK state its later headers depend on, so the capture may hold
 * calls outside the window on the same connections; the README and the bundle's
 * JSON give the filter that selects exactly the window's calls again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Workspace } from '../store/workspace.js';
import { exportPackets, outputDir, selectTransactions, writeFileWhole } from '../query/export.js';
import { iso, resolveScope, windowFilter, type TimeWindow } from '../query/stats.js';
import type { Redactor } from '../query/redact.js';
import { PODCAP_VERSION } from '../version.js';
import { buildReport, shellWord } from './model.js';
import { renderMarkdown } from './markdown.js';
import { renderHtml } from './html.js';
import { manifestSubset } from './manifest-subset.js';

export interface BundleOptions {
  filter?: string;
  snapshots?: string[];
  /** µs since the epoch (open ends null), or the last so many µs of the capture. */
  window?: TimeWindow;
  /** The .tar.gz to write (replaced whole, or left untouched on failure). */
  out: string;
  reveal?: boolean;
  redactor?: Redactor;
}

export interface BundleInfo {
  podcapVersion: string;
  createdAt: string;
  parents: Array<{ id: string; name: string | null }>;
  filter: string;
  window: { from: string | null; to: string | null };
  /** The KFL2 filter that selects the cut's calls again, in the bundle re-imported. */
  selectAgain: string;
  transactions: number;
  connections: number;
  packets: number;
  manifest: Record<string, number> | null;
}

export interface BundleResult extends BundleInfo {
  out: string;
  bytes: number;
  files: string[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// tar (POSIX ustar): regular files, names under 100 bytes

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarArchive(files: Array<{ name: string; data: Buffer; mtime: number }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    if (Buffer.byteLength(f.name) >= 100) throw new Error(`tar member name too long: ${f.name}`);
    const h = Buffer.alloc(512);
    h.write(f.name, 0, 'utf8');
    h.write(octal(0o644, 8), 100);
    h.write(octal(0, 8), 108);
    h.write(octal(0, 8), 116);
    h.write(octal(f.data.length, 12), 124);
    h.write(octal(Math.floor(f.mtime), 12), 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------

function readme(info: BundleInfo, out: string, notes: string[]): string {
  const parent = info.parents.map((p) => `${p.id}${p.name ? ` (${p.name})` : ''}`).join(', ');
  return [
    '# podcap bundle',
    '',
    `Cut by podcap ${info.podcapVersion} at ${info.createdAt} from snapshot ${parent}.`,
    '',
    `- Filter: ${info.filter ? `\`${info.filter}\`` : 'none (every call)'}`,
    `- Window: ${info.window.from ?? 'the start'} to ${info.window.to ?? 'the end'}`,
    `- ${info.transactions} matching calls on ${info.connections} connections; ${info.packets} packets in capture.pcapng`,
    `- Manifest subset: ${info.manifest ? Object.entries(info.manifest).map(([k, n]) => `${n} ${k}`).join(', ') : 'none (the snapshot had no manifest)'}`,
    '',
    '## What is inside',
    '',
    '- `capture.pcapng`: every packet of the connections the matching calls came from, with their original bytes,',
    '  timestamps and capture interfaces (one pcapng interface per interface of the original files). Connections are',
    '  whole: cutting a TCP connection in time loses its handshake and, for HTTP/2, the header compression state, so',
    '  calls outside the window on the same connections are in it too.',
    '- `cluster.yaml`: the Kubernetes objects that name the addresses of those connections (pods, services, endpoint',
    '  slices, nodes, the pods\' owners), as a `kind: List`.',
    '- `report.md`, `report.html`: the incident report of the same filter and window.',
    '- `podcap-bundle.json`: the cut as data.',
    '',
    '## Opening it',
    '',
    '```sh',
    `podcap import ${shellWord(basename(out))} --name incident    # the manifest beside the capture is found and used`,
    `podcap calls ${shellWord(info.selectAgain || 'true')} --snapshot incident    # exactly the calls of the cut`,
    'wireshark capture.pcapng    # or: tshark -r capture.pcapng',
    '```',
    ...(notes.length ? ['', '## Notes', '', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}

export async function writeBundle(ws: Workspace, opts: BundleOptions): Promise<BundleResult> {
  const filter = opts.filter ?? '';
  const scope = resolveScope(ws, { filter, snapshots: opts.snapshots, window: opts.window });
  const window = { from: scope.from, to: scope.to };
  const cut = windowFilter(filter, window);
  // Refused before the work when the output's directory is missing, as it would be after.
  await outputDir(opts.out);
  const tmp = await mkdtemp(join(tmpdir(), 'podcap-bundle-'));
  try {
    const notes: string[] = [];
    const snapshots = scope.snaps.map((s) => s.id);
    // One selection: the export's connections are those whose addresses the manifest's subset keeps.
    const chosen = selectTransactions(ws, { filter: cut, snapshots });
    const exported = await exportPackets(ws, { filter: cut, snapshots, out: join(tmp, 'capture.pcapng'), format: 'pcapng' }, chosen);
    notes.push(...exported.notes);
    const bySnapshot = new Map<string, Set<string>>();
    for (const c of chosen.connections) {
      const set = bySnapshot.get(c.snapshot.id) ?? new Set<string>();
      set.add(c.summary.clientAddr.ip);
      set.add(c.summary.serverAddr.ip);
      bySnapshot.set(c.snapshot.id, set);
    }
    let manifestYaml: string[] = [];
    let kept: Record<string, number> | null = null;
    for (const snap of scope.snaps) {
      const addrs = bySnapshot.get(snap.id);
      if (!addrs) continue;
      const sub = await manifestSubset(snap, addrs);
      notes.push(...sub.notes.map((n) => `manifest: ${n}`));
      if (sub.yaml) {
        manifestYaml.push(sub.yaml);
        kept ??= {};
        for (const [k, n] of Object.entries(sub.kept)) kept[k] = (kept[k] ?? 0) + n;
      }
    }
    if (manifestYaml.length > 1) manifestYaml = [manifestYaml.join('---\n')];
    const model = await buildReport(ws, { filter, snapshots: opts.snapshots, window, reveal: opts.reveal, redactor: opts.redactor });
    const info: BundleInfo = {
      podcapVersion: PODCAP_VERSION,
      createdAt: new Date().toISOString(),
      parents: scope.snaps.filter((s) => bySnapshot.has(s.id)).map((s) => ({ id: s.id, name: s.name })),
      filter,
      window: { from: iso(scope.from), to: iso(scope.to) },
      selectAgain: cut,
      transactions: exported.transactions,
      connections: exported.connections,
      packets: exported.packets,
      manifest: kept,
    };
    const now = Date.now() / 1000;
    const files = [
      { name: 'README.md', data: Buffer.from(readme(info, opts.out, notes)), mtime: now },
      { name: 'capture.pcapng', data: await readFile(join(tmp, 'capture.pcapng')), mtime: now },
      ...(manifestYaml.length ? [{ name: 'cluster.yaml', data: Buffer.from(manifestYaml[0]), mtime: now }] : []),
      { name: 'report.md', data: Buffer.from(renderMarkdown(model)), mtime: now },
      { name: 'report.html', data: Buffer.from(renderHtml(model)), mtime: now },
      { name: 'podcap-bundle.json', data: Buffer.from(`${JSON.stringify(info, null, 2)}\n`), mtime: now },
    ];
    const gz = gzipSync(tarArchive(files));
    await writeFileWhole(opts.out, gz);
    return { ...info, out: opts.out, bytes: gz.length, files: files.map((f) => f.name), notes };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
