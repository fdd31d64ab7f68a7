/** The `report` command: an incident report of a snapshot (or a filter, or a window) as Markdown or one HTML file. */
import { oneFilter, parse, WORKSPACE_OPTIONS } from './args.js';
import { resolve } from 'node:path';
import { withWorkspace } from '../store/workspace.js';
import type { Redactor } from '../query/redact.js';
import { cliContext, configuredRedactor } from './config-context.js';
import { buildReport, shellWord, type ReportQuery } from '../report/model.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderHtml } from '../report/html.js';
import { EXIT, UsageError } from './exit-codes.js';
import { writeBundle } from '../report/bundle.js';
import { writeFileWhole } from '../query/export.js';
import { parseTime } from './analyses.js';
import type { Io } from './commands.js';

export const REPORT_HELP = `podcap report [FILTER] [--snapshot ID]... [--window FROM..TO] [--format md|html] [--out FILE] [--reveal] [--top N] [--workspace DIR] [--config FILE]
  An incident report for a ticket: the capture in a paragraph, failures by endpoint and cause with evidence and
  first/last seen, the slowest endpoints (p50/p90/p99), the service map, the timeline with the first failure marked,
  authentication and DNS findings (search-path NXDOMAIN apart from real failures), the top failed calls in full, and
  the podcap command behind each section. FILTER (KFL2) and --window narrow it; --window takes ISO times, either
  end may be left open (2026-11-20T10:00:00Z..2026-11-20T10:05:00Z, 2026-11-20T10:00:00Z..).
  --format md: Markdown for GitHub, GitLab or Jira (tables, a Mermaid map, <details>); html: one self-contained file
  (inline CSS and SVG, no external resources, readable without script, printable). Default: from --out's extension
  (.html, .htm: html), else md. Without --out the report goes to stdout.
  Credentials (Authorization, cookies, API keys, tokens, and podcap.yaml's redaction: rules) are redacted as the MCP
  server redacts them; --reveal shows them.
  --top N: failed calls shown in full (default 5).
  Exit 0: written; 1: bad usage or filter; 4: unknown snapshot.`;

/** FROM..TO with ISO times, either end open; µs since the epoch. */
export function parseWindow(v: unknown): { from: number | null; to: number | null } | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const i = s.indexOf('..');
  if (i < 0) throw new UsageError(`--window is FROM..TO (ISO times, either may be empty), not "${s}"`);
  const from = s.slice(0, i).trim();
  const to = s.slice(i + 2).trim();
  if (!from && !to) throw new UsageError('--window needs at least one end: FROM.., ..TO or FROM..TO');
  const w = { from: from ? parseTime(from, 'window') : null, to: to ? parseTime(to, 'window') : null };
  if (w.from !== null && w.to !== null && w.to < w.from) throw new UsageError(`--window ends (${to}) before it starts (${from})`);
  return w;
}

export type ReportFormat = 'md' | 'html';

/** The workspace and the redaction rules in force (podcap.yaml's `redaction:` beside the defaults), as the MCP server takes them. */
function contextOf(values: { workspace?: unknown; config?: unknown }): { workspace: string; redactor: Redactor } {
  const ctx = cliContext(values);
  return { workspace: ctx.workspace, redactor: configuredRedactor(ctx) };
}

export function reportFormat(format: unknown, out: string | undefined): ReportFormat {
  if (format !== undefined) {
    if (format === 'markdown') return 'md';
    if (format !== 'md' && format !== 'html') throw new UsageError(`--format is md or html, not "${String(format)}"`);
    return format;
  }
  return out && /\.html?$/i.test(out) ? 'html' : 'md';
}

/** Errors are mapped to exit codes by runCommand, like every other command's. */
export async function cmdReport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, snapshot: { type: 'string', multiple: true }, window: { type: 'string' },
    format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' }, reveal: { type: 'boolean' }, top: { type: 'string' },
  });
  const filter = oneFilter(positionals);
  const out = typeof values.out === 'string' && values.out !== '' ? resolve(values.out) : undefined;
  const format = reportFormat(values.format, out);
  const top = values.top === undefined ? 5 : Number(values.top);
  if (!Number.isInteger(top) || top < 0) throw new UsageError(`--top must be a whole number, not "${String(values.top)}"`);
  const { workspace, redactor } = contextOf(values);
  const q: ReportQuery = {
    filter, snapshots: values.snapshot as string[] | undefined, window: parseWindow(values.window),
    reveal: values.reveal === true, topCalls: top, redactor,
  };
  return await withWorkspace(workspace, async (ws) => {
    if (ws.listSnapshots().length === 0) {
      io.err('podcap report: the workspace holds no snapshot: podcap import CAPTURE... first');
      return EXIT.NOT_FOUND;
    }
    const model = await buildReport(ws, q);
    const text = format === 'html' ? renderHtml(model) : renderMarkdown(model);
    if (out) {
      await writeFileWhole(out, text);
      io.out(`wrote the ${format === 'html' ? 'HTML' : 'Markdown'} report of ${model.capture.snapshots.map((s) => s.name ?? s.id).join(', ')} to ${out} (${Buffer.byteLength(text)} bytes)`);
    } else io.out(text.trimEnd());
    return EXIT.OK;
  });
}

export const BUNDLE_HELP = `podcap bundle [FILTER] [--snapshot ID]... [--window FROM..TO] --out FILE.tar.gz [--reveal] [--json] [--workspace DIR] [--config FILE]
  Cuts the incident out as a small snapshot to attach to a ticket: one .tar.gz with capture.pcapng (every packet of
  the matching calls' connections, original bytes, timestamps and interfaces; Wireshark opens it), cluster.yaml (the
  part of the manifest naming their addresses), report.md and report.html (the report of the same cut), README.md (how
  it was cut) and podcap-bundle.json. podcap import FILE.tar.gz reads it back, manifest included. Connections go whole
  (a TCP connection cut in time loses its handshake and HTTP/2 header state), so the README gives the filter that
  selects exactly the cut's calls again.
  Exit 0: written; 1: bad usage, filter, or the output cannot be written; 2: a capture file is gone or changed since the
  import; 4: unknown snapshot.`;

export async function cmdBundle(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, snapshot: { type: 'string', multiple: true }, window: { type: 'string' },
    out: { type: 'string', short: 'o' }, reveal: { type: 'boolean' }, json: { type: 'boolean' },
  });
  const filter = oneFilter(positionals);
  if (typeof values.out !== 'string' || values.out === '') throw new UsageError('--out FILE.tar.gz is required');
  const out = resolve(values.out);
  if (!/\.(tar\.gz|tgz)$/i.test(out)) throw new UsageError(`--out names a .tar.gz (or .tgz) file, not "${values.out}"`);
  const { workspace, redactor } = contextOf(values);
  return await withWorkspace(workspace, async (ws) => {
    const r = await writeBundle(ws, {
      redactor,
      filter, snapshots: values.snapshot as string[] | undefined, window: parseWindow(values.window), out, reveal: values.reveal === true,
    });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      io.out([
        `wrote ${r.out} (${r.bytes} bytes): ${r.transactions} calls on ${r.connections} connections, ${r.packets} packets; ${r.files.join(', ')}`,
        `  manifest: ${r.manifest ? Object.entries(r.manifest).map(([k, n]) => `${n} ${k}`).join(', ') : 'none'}`,
        `  open it again: podcap import ${shellWord(r.out)}; the cut's calls: podcap calls ${shellWord(r.selectAgain)}`,
      ].join('\n'));
    }
    for (const n of r.notes) io.err(`podcap bundle: ${n}`);
    if (r.transactions === 0) io.err('podcap bundle: no call matched: the bundle holds no packets');
    return EXIT.OK;
  });
}
