/** The podcap commands other than `mcp`: argument parsing, then query/ and store/, then formatting. */
import { oneFilter, parse, WORKSPACE_OPTIONS } from './args.js';
import { CaptureError } from '../capture/packet.js';
import { listCaptureSources } from '../capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures } from '../dissect/pipeline.js';
import { importSnapshot } from '../store/import.js';
import { SnapshotBusy, SnapshotNotFound, defaultWorkspaceDir, withWorkspace } from '../store/workspace.js';
import { ProtoRegistry } from '../dissect/proto-registry.js';
import { ManifestError } from '../k8s/manifest.js';
import { traceCall, traceLines } from '../query/trace.js';
import { ANALYSIS_COMMANDS, ANALYSIS_USAGE } from './analyses.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CursorError, DEFAULT_LIMIT, getCall, listCalls } from '../query/calls.js';
import { FilterError } from '../query/filter.js';
import { LEGACY_NAMES } from '../query/legacy-kfl.js';
import { VARIABLES } from '../query/variables.js';
import { EXIT, UsageError } from './exit-codes.js';
import { CALL_HEADER, callDetail, callRow, fileSummary, isoTime, publicFiles, reportSummary, skippedSummary, snapshotSummary, streamTable, table } from './format.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { AnalysisError } from '../query/stats.js';
import { ExportError, NotFoundError, exportPackets, type ExportFormat, type ExportResult } from '../query/export.js';
import { followJson, followStream, renderFollow, resolveFollowTarget, type FollowMode } from '../query/follow.js';
import { ConfigError } from '../config/load.js';
import { CONTROL_COMMANDS, CONTROL_USAGE } from './config-commands.js';
import { cliContext, cliRedactor } from './config-context.js';
import { dissectionSettings } from '../config/apply.js';
import { BUNDLE_HELP, REPORT_HELP, cmdBundle, cmdReport } from './report.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** --workspace, else podcap.yaml's workspace:, else $PODCAP_WORKSPACE or ~/.podcap. */
function workspaceDir(values: { workspace?: unknown; config?: unknown }): string {
  return cliContext(values).workspace;
}

function damagedCount(s: { files: SnapshotMeta['files'] }): number {
  let n = 0;
  for (const f of s.files) n += f.damaged + (f.truncatedBytes > 0 ? 1 : 0);
  return n;
}

export const USAGE = `podcap: an offline workbench for Kubernetes network captures

usage: podcap <command> [options]

  import PATH... [--manifest FILE]... [--name NAME] [--proto DIR]...
                                           read captures (files, directories, tar archives) into a new snapshot
  inspect PATH... [--json] [--streams]     read captures and report what they hold, storing nothing
  snapshots [--json]                       list the workspace's snapshots
  calls [FILTER] [--snapshot ID]... [--limit N] [--cursor C] [--reverse] [--json]
                                           list transactions matching a KFL2 filter, oldest first
  show ID [--json] [--max-body BYTES] [--proto DIR]...
                                           one transaction in full, with its bodies and gRPC messages
  fields [--json]                          the filter language's variables
  export [FILTER] --out FILE [--snapshot ID]... [--id ID]... [--format pcap|pcapng] [--all-copies] [--json]
                                           write the packets of the matching calls' connections to pcap/pcapng
  follow ID [--hex | --raw] [--json]       a connection's reassembled payload (ID: a call, or SNAPSHOT:tcp:N)
  trace ID [--json]                        the calls one request made through the services, and where a failure began
${ANALYSIS_USAGE}
  report [FILTER] [--window FROM..TO] [--format md|html] [--out FILE] [--reveal]
                                           an incident report for a ticket: Markdown, or one self-contained HTML page
  bundle [FILTER] [--window FROM..TO] --out FILE.tar.gz
                                           the incident cut out as a small snapshot: pcapng, manifest subset, reports, README
${CONTROL_USAGE}  mcp [--http] [--root DIR]...             serve the workspace to an AI assistant over MCP (stdio, or HTTP; mcp --help)

Every command takes --workspace DIR (default: podcap.yaml's workspace:, else $PODCAP_WORKSPACE or ~/.podcap)
and --config FILE (default ./podcap.yaml, else WORKSPACE/podcap.yaml; \`podcap config\` shows the settings in force).
Filters are KFL2 (CEL), as in Kubeshark: 'http && status_code >= 500', 'path.startsWith("/api/")'.
`;

const HELP: Record<string, string> = {
  trace: 'podcap trace ID [--json] [--workspace DIR]\n  Follows one call through the services it touched: the calls its server made while serving it, tied by a\n  propagation header (traceparent, B3, x-request-id, grpc-trace-bin) or, without one, by time (made by the serving\n  workload between the request and its response). Marks the hop where a failure began.',
  import: 'podcap import PATH... [--manifest FILE]... [--name NAME] [--proto DIR]... [--config FILE] [--json] [--workspace DIR]\n  --manifest: the cluster\'s objects as `kubectl get pods,svc,endpointslices,nodes,deploy,rs,sts,ds -A -o yaml` (or -o json) wrote them;\n  without it, a manifest found beside the captures (in the directory or archive given) is used. Never required.\n  Reads pcap/pcapng files (gzipped or not), directories and tar/tar.gz archives of them into a new snapshot,\n  merged in time order, all or nothing. Files in directories and archives that are not captures are passed over and listed.\n  Exit 0: imported; 2: an input is not a readable capture, or podcap.yaml is malformed (nothing imported); 3: imported, but some input was damaged.\n'
    + '  Settings from podcap.yaml (--config FILE, else ./podcap.yaml, else WORKSPACE/podcap.yaml; `podcap config` lists all):\n'
    + '    hints: {8443: http2, "10.0.0.5:9000": grpc, 5353: dns}   dissect a port or server as a protocol (HTTP/2 without a preface)\n'
    + '    protocols: {dns: false}                                 turn a protocol\'s dissection off (counted, not decoded)\n'
    + '    protoDirs: [./protos]                                   .proto files for gRPC field names (--proto wins)\n'
    + '    failed: {http: 4xx, rules: [{namespace: shop, http: 4xx}]}   count HTTP 4xx as failed, everywhere or per namespace/service\n'
    + '    dns: {clusterDomain: cluster.local, searchPath: [...]}  DNS search-path recognition\n'
    + '    bodies: {maxStoredBytes: 1MiB}   tcp: {maxHeldBytesPerConnection: 4MiB, maxHeldBytesTotal: 256MiB}\n'
    + '  The settings used are recorded in the snapshot (`podcap status`); `podcap redissect SNAPSHOT` applies new ones.',
  inspect: 'podcap inspect PATH... [--json] [--streams]\n  Reads captures (files, directories, tar and tar.gz archives) and prints what they hold: per file, packets and\n  link types; in total, packets decoded, skipped and damaged by reason, TCP connections and UDP flows, reassembled,\n  retransmitted and missing bytes, duplicates across files. --streams lists every connection and flow.\n  Nothing is stored. Exit 2 when a file is not a readable capture; 3 when one is damaged.',
  snapshots: 'podcap snapshots [--json] [--workspace DIR]',
  calls: 'podcap calls [FILTER] [--snapshot ID]... [--limit N] [--cursor C] [--reverse] [--json] [--reveal] [--workspace DIR]\n  FILTER is KFL2 (CEL); `podcap fields` lists the variables. With --json, stdout is a JSON array of transaction records\n  and the cursor of the next page, if any, goes to stderr. When podcap.yaml declares redaction rules, records are redacted\n  (the defaults and those rules, as over MCP); --reveal shows them as captured.',
  show: 'podcap show ID [--json] [--max-body BYTES] [--proto DIR]... [--reveal] [--workspace DIR]\n  gRPC messages are decoded with the .proto files under DIR (default: those given at import), schema-less otherwise.\n  Redacted as `podcap calls` is when podcap.yaml declares redaction rules; --reveal shows the call as captured.',
  fields: 'podcap fields [--json]',
  export: 'podcap export [FILTER] --out FILE [--snapshot ID]... [--id ID]... [--format pcap|pcapng] [--all-copies] [--json] [--workspace DIR]\n'
    + '  Writes every packet of the connections the matching transactions came from (FILTER is KFL2; or --id for given\n'
    + '  transactions), read again from the snapshot\'s capture files: original bytes (tunnels included) and timestamps, in\n'
    + '  time order, IP fragments of their datagrams included. A connection seen by two nodes is written once (the copy met\n'
    + '  first); --all-copies keeps every file\'s copy. Format: pcapng (nanosecond timestamps, one interface per capture\n'
    + '  interface) unless --format pcap or FILE ends in .pcap and one link type is involved.\n'
    + '  Exit 0: written; 1: bad usage or filter; 2: a capture file is gone or changed since the import; 4: unknown id or snapshot.',
  follow: 'podcap follow ID [--hex | --raw] [--json] [--workspace DIR]\n'
    + '  ID: a transaction id (its connection is followed) or SNAPSHOT:tcp:N / SNAPSHOT:udp:N. Prints the connection\'s payload\n'
    + '  reassembled from the capture files, client (node 0) and server (node 1, tab-indented) chunks in the order delivered,\n'
    + '  as tshark -z follow,tcp,ascii does; --hex a hex dump, --raw hex per chunk (tshark\'s raw); gaps read\n'
    + '  "[N bytes missing in capture file]". --json: {client, server, chunks: [{from, ts, text|base64|missing}]}.\n'
    + '  Exit 2: a capture file is gone or changed; 4: unknown id, snapshot or connection.',
};

export async function runCommand(cmd: string, args: string[], io: Io): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(helpOf(cmd) ?? USAGE);
    return EXIT.OK;
  }
  try {
    switch (cmd) {
      case 'import': return await cmdImport(args, io);
      case 'inspect': return await cmdInspect(args, io);
      case 'snapshots': return await cmdSnapshots(args, io);
      case 'calls': return await cmdCalls(args, io);
      case 'show': return await cmdShow(args, io);
      case 'fields': return cmdFields(args, io);
      case 'export': return await cmdExport(args, io);
      case 'follow': return await cmdFollow(args, io);
      case 'trace': return await cmdTrace(args, io);
      case 'report': return await cmdReport(args, io);
      case 'bundle': return await cmdBundle(args, io);
      default:
        if (ANALYSIS_COMMANDS[cmd]) return await ANALYSIS_COMMANDS[cmd].run(args, io);
        if (CONTROL_COMMANDS[cmd]) return await CONTROL_COMMANDS[cmd].run(args, io);
        io.err(`podcap: unknown command "${cmd}"\n\n${USAGE}`);
        return EXIT.ERROR;
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof AnalysisError) {
      io.err(`podcap ${cmd}: ${e.message}\n${helpOf(cmd) ?? ''}`);
      return EXIT.ERROR;
    }
    if (e instanceof ExportError) {
      io.err(`podcap ${cmd}: ${e.message}`);
      return EXIT.ERROR;
    }
    if (e instanceof ConfigError) {
      io.err(`podcap ${cmd}: ${e.message} (nothing was done; the configuration in force is unchanged)`);
      return EXIT.BAD_INPUT;
    }
    if (e instanceof CaptureError || e instanceof ManifestError) {
      io.err(`podcap ${cmd}: ${e.message}`);
      return EXIT.BAD_INPUT;
    }
    if (e instanceof FilterError) {
      io.err(`podcap ${cmd}: bad filter: ${e.message}`);
      return EXIT.ERROR;
    }
    if (e instanceof CursorError) {
      io.err(`podcap ${cmd}: ${e.message}`);
      return EXIT.ERROR;
    }
    if (e instanceof SnapshotBusy) {
      io.err(`podcap ${cmd}: ${e.message}`);
      return EXIT.ERROR;
    }
    if (e instanceof SnapshotNotFound || e instanceof NotFoundError) {
      io.err(`podcap ${cmd}: ${e.message}`);
      return EXIT.NOT_FOUND;
    }
    throw e;
  }
}

function helpOf(cmd: string): string | undefined {
  return HELP[cmd] ?? ANALYSIS_COMMANDS[cmd]?.help ?? CONTROL_COMMANDS[cmd]?.help ?? (cmd === 'report' ? REPORT_HELP : cmd === 'bundle' ? BUNDLE_HELP : undefined);
}

/** The user's .proto files; a broken one is reported and the others still serve. */
async function loadProtos(dirs: string[], io: Io): Promise<ProtoRegistry | null> {
  if (dirs.length === 0) return null;
  for (const d of dirs) if (!existsSync(d)) throw new UsageError(`--proto ${d}: no such directory`);
  const reg = await ProtoRegistry.load(dirs);
  for (const e of reg.errors) io.err(`podcap: ${e.file}: ${e.message} (its types are decoded schema-less)`);
  return reg;
}

async function cmdImport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, name: { type: 'string' }, json: { type: 'boolean' }, proto: { type: 'string', multiple: true }, manifest: { type: 'string', multiple: true },
  });
  if (positionals.length === 0) throw new UsageError('give at least one capture file or directory');
  const ctx = cliContext(values);
  const flagProtos = ((values.proto as string[] | undefined) ?? []).map((d) => resolve(d));
  const protoDirs = flagProtos.length ? flagProtos : ctx.config.settings.protoDirs;
  await loadProtos(protoDirs, io);
  const dir = ctx.workspace;
  const progress = process.stderr.isTTY && !values.json
    ? (n: number, file: string) => process.stderr.write(`\r  ${n} packets read (${file})`.padEnd(80))
    : undefined;
  const meta = await withWorkspace(dir, (ws) =>
    importSnapshot(ws, positionals, { name: typeof values.name === 'string' ? values.name : null, protoDirs, manifests: ((values.manifest as string[] | undefined) ?? []).map((m) => resolve(m)), config: { file: ctx.config.file, settings: dissectionSettings(ctx.config.settings, protoDirs) }, exclusive: true, analysis: { ...DEFAULT_ANALYSIS_OPTIONS, onProgress: progress } }));
  if (progress) process.stderr.write('\r'.padEnd(81) + '\r');
  const damaged = damagedCount(meta);
  if (values.json) io.out(JSON.stringify({ ...meta, files: publicFiles(meta.files) }, null, 2));
  else io.out(`${snapshotSummary(meta)}\nworkspace: ${dir}`);
  if (damaged > 0) {
    io.err(`podcap import: warning: imported with damage: ${damaged} damaged or cut records in ${meta.report.damagedFiles} file(s); `
      + `${Object.values(meta.report.damaged).reduce((a, b) => a + b, 0)} packets with broken headers`);
    return EXIT.PARTIAL;
  }
  return EXIT.OK;
}

async function cmdInspect(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, streams: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('give at least one capture file, directory or archive');
  const listing = await listCaptureSources(positionals);
  const result = await analyzeCaptures(listing.sources, () => {}, { ...DEFAULT_ANALYSIS_OPTIONS, collectStreams: values.streams === true });
  const damaged = damagedCount(result);
  if (values.json) {
    io.out(JSON.stringify({
      files: publicFiles(result.files), skipped: listing.skipped, notes: listing.notes, report: result.report,
      ...(result.streams ? { streams: result.streams } : {}),
    }, null, 2));
  } else {
    const lines = [...result.files.map(fileSummary), ...skippedSummary(listing.skipped, listing.notes), reportSummary(result.report)];
    if (result.streams) lines.push('', streamTable(result.streams));
    io.out(lines.join('\n'));
  }
  return damaged > 0 ? EXIT.PARTIAL : EXIT.OK;
}

async function cmdSnapshots(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...WORKSPACE_OPTIONS, json: { type: 'boolean' } }, false);
  return withWorkspace(workspaceDir(values), (ws) => {
    const snaps = ws.listSnapshots();
    if (values.json) {
      io.out(JSON.stringify(snaps.map((s) => ({ ...s, files: publicFiles(s.files) })), null, 2));
      return EXIT.OK;
    }
    if (snaps.length === 0) {
      io.out('no snapshots yet: podcap import CAPTURE...');
      return EXIT.OK;
    }
    io.out(table(['ID', 'NAME', 'IMPORTED', 'FILES', 'PACKETS', 'CALLS', 'FAILED', 'FIRST CALL', 'LAST CALL'], snaps.map((s) => [
      s.id, s.name ?? '', s.createdAt.slice(0, 19), String(s.files.length), String(s.report.packets), String(s.transactions),
      String(s.report.failed), isoTime(s.firstTs), isoTime(s.lastTs),
    ])));
    return EXIT.OK;
  });
}

function positiveInt(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, not "${String(v)}"`);
  return n;
}

async function cmdCalls(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, snapshot: { type: 'string', multiple: true }, limit: { type: 'string', short: 'n' },
    cursor: { type: 'string' }, reverse: { type: 'boolean' }, json: { type: 'boolean' }, reveal: { type: 'boolean' },
  });
  const filter = oneFilter(positionals);
  const limit = positiveInt(values.limit, 'limit', DEFAULT_LIMIT);
  const ctx = cliContext(values);
  const redactor = cliRedactor(ctx, values.reveal === true);
  return withWorkspace(ctx.workspace, (ws) => {
    const page = listCalls(ws, {
      filter,
      snapshots: values.snapshot as string[] | undefined,
      limit,
      cursor: values.cursor as string | undefined,
      reverse: values.reverse === true,
    });
    if (page.translatedFrom !== null) io.err(`podcap calls: filter translated from KFL: ${page.translatedFrom} → ${page.filter}`);
    for (const n of page.translationNotes) io.err(`podcap calls: note: ${n}`);
    if (redactor) page.calls = page.calls.map((c) => redactor.record(c));
    if (values.json) io.out(JSON.stringify(page.calls, null, 2));
    else if (page.calls.length === 0) io.out(`no calls match${page.filter ? ` ${page.filter}` : ''} (${page.scanned} looked at)`);
    else io.out(table(CALL_HEADER, page.calls.map(callRow)));
    if (page.evaluationErrors > 0) {
      io.err(`podcap calls: ${page.evaluationErrors} records could not be evaluated and did not match (last: ${page.lastEvaluationError}); map_get(map, key, default) avoids missing-key errors`);
    }
    if (page.nextCursor) io.err(`more calls: --cursor ${page.nextCursor}`);
    return EXIT.OK;
  });
}

async function cmdTrace(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...WORKSPACE_OPTIONS, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('give one transaction id (as printed by podcap calls)');
  return withWorkspace(workspaceDir(values), (ws) => {
    const t = traceCall(ws, positionals[0]);
    if (!t) {
      io.err(`podcap trace: no transaction "${positionals[0]}"`);
      return EXIT.NOT_FOUND;
    }
    io.out(values.json ? JSON.stringify(t, null, 2) : traceLines(t).join('\n'));
    return EXIT.OK;
  });
}

async function cmdShow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, json: { type: 'boolean' }, 'max-body': { type: 'string' }, proto: { type: 'string', multiple: true }, reveal: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('give one transaction id (as printed by podcap calls)');
  const maxBodyBytes = positiveInt(values['max-body'], 'max-body', 64 * 1024);
  const ctx = cliContext(values);
  const redactor = cliRedactor(ctx, values.reveal === true);
  return withWorkspace(ctx.workspace, async (ws) => {
    const snapshotId = positionals[0].split('-')[0];
    const snap = ws.listSnapshots().find((s) => s.id === snapshotId);
    const dirs = (values.proto as string[] | undefined) ?? snap?.protoDirs ?? [];
    const protos = await loadProtos(dirs, io);
    const rec = getCall(ws, positionals[0], { maxBodyBytes, protos });
    if (!rec) {
      io.err(`podcap show: no transaction "${positionals[0]}"`);
      return EXIT.NOT_FOUND;
    }
    const shown = redactor ? redactor.record(rec) : rec;
    io.out(values.json ? JSON.stringify(shown, null, 2) : callDetail(shown));
    return EXIT.OK;
  });
}

function cmdFields(args: string[], io: Io): number {
  const { values } = parse(args, { json: { type: 'boolean' } }, false);
  if (values.json) io.out(JSON.stringify(VARIABLES, null, 2));
  else io.out(table(['VARIABLE', 'TYPE', 'DESCRIPTION', 'EXAMPLE'], VARIABLES.map((v) => [
    v.podcap ? `${v.name} *` : v.name, v.type === 'google.protobuf.Timestamp' ? 'timestamp' : v.type, v.description, v.example,
  ])) + '\n\n* podcap\'s own; the others are Kubeshark KFL2 names.'
    + '\n\nKubeshark\'s older KFL (v1) is accepted and translated to KFL2 (podcap calls shows the translation):\n'
    + table(['KFL V1', 'KFL2', 'NOTE'], [
      ['and  or  not', '&&  ||  !', 'v1 groups and/or from the right: a and b or c is a and (b or c)'],
      ...LEGACY_NAMES.map((l) => [l.v1, l.kfl2, l.note ?? '']),
    ]));
  return EXIT.OK;
}

function exportSummary(r: ExportResult): string {
  const lines = [
    `wrote ${r.packets} packets of ${r.connections} connection${r.connections === 1 ? '' : 's'} (${r.transactions} transaction${r.transactions === 1 ? '' : 's'}) to ${r.out} (${r.format}, ${r.bytes} bytes)`,
  ];
  if (r.fragments > 0) lines.push(`  ${r.fragments} of them IP fragments of the connections' datagrams`);
  if (r.duplicatesLeftOut > 0) lines.push(`  ${r.duplicatesLeftOut} copies of the same packets from another node's file left out (--all-copies keeps them)`);
  if (r.files.length > 0) lines.push(`  read from: ${r.files.join(', ')}`);
  return lines.join('\n');
}

async function cmdExport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...WORKSPACE_OPTIONS, out: { type: 'string', short: 'o' }, snapshot: { type: 'string', multiple: true }, id: { type: 'string', multiple: true },
    format: { type: 'string' }, 'all-copies': { type: 'boolean' }, json: { type: 'boolean' },
  });
  const filter = oneFilter(positionals);
  const ids = (values.id as string[] | undefined) ?? [];
  if (ids.length > 0 && positionals.length > 0) throw new UsageError('give a filter or --id, not both');
  if (typeof values.out !== 'string' || values.out === '') throw new UsageError('--out FILE is required');
  const format = (values.format ?? 'auto') as string;
  if (format !== 'pcap' && format !== 'pcapng' && format !== 'auto') throw new UsageError(`--format is pcap or pcapng, not "${format}"`);
  return withWorkspace(workspaceDir(values), async (ws) => {
    const r = await exportPackets(ws, {
      filter, ids, snapshots: values.snapshot as string[] | undefined, out: resolve(values.out as string),
      format: format as ExportFormat, allCopies: values['all-copies'] === true,
    });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else io.out(exportSummary(r));
    for (const n of r.notes) io.err(`podcap export: ${n}`);
    return EXIT.OK;
  });
}

async function cmdFollow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...WORKSPACE_OPTIONS, hex: { type: 'boolean' }, raw: { type: 'boolean' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('give one transaction id, or SNAPSHOT:tcp:N');
  if (values.hex && values.raw) throw new UsageError('--hex or --raw, not both');
  const mode: FollowMode = values.hex ? 'hex' : values.raw ? 'raw' : 'ascii';
  return withWorkspace(workspaceDir(values), async (ws) => {
    const target = resolveFollowTarget(ws, positionals[0]);
    const r = await followStream(ws, target.snapshot, target.transport, target.id);
    io.out(values.json ? JSON.stringify(followJson(r), null, 2) : renderFollow(r, mode));
    if (r.truncated) io.err(`podcap follow: only the first bytes were kept (${r.bytes.client + r.bytes.server} bytes in all)`);
    return EXIT.OK;
  });
}
