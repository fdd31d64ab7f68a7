/**
 * The control commands: config (the settings in force and where each came from; --init writes
 * an example), status (how a snapshot was dissected), redissect (dissect a snapshot again with
 * the settings in force). Dispatched from commands.ts like the analysis commands.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, WORKSPACE_OPTIONS } from './args.js';
import { CONFIG_FILE_NAME, type LoadedConfig } from '../config/load.js';
import { EXAMPLE_CONFIG } from '../config/example.js';
import { dissectionSettings } from '../config/apply.js';
import type { Settings } from '../config/settings.js';
import { ProtoRegistry } from '../dissect/proto-registry.js';
import { DEFAULT_ANALYSIS_OPTIONS } from '../dissect/pipeline.js';
import { dissectionStatus, type DissectionStatus } from '../query/status.js';
import { redissectSnapshot } from '../store/redissect.js';
import { withWorkspace } from '../store/workspace.js';
import { cliContext } from './config-context.js';
import { EXIT, UsageError } from './exit-codes.js';
import { table } from './format.js';
import type { Io } from './commands.js';

const COMMON = { ...WORKSPACE_OPTIONS, json: { type: 'boolean' } } as const;

/** Every setting by its dotted name, in the order the example file gives them. */
export function settingLeaves(s: Settings): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [['workspace', s.workspace], ['hints', s.hints]];
  for (const [k, v] of Object.entries(s.protocols)) out.push([`protocols.${k}`, v]);
  out.push(['protoDirs', s.protoDirs]);
  for (const [k, v] of Object.entries(s.redaction)) out.push([`redaction.${k}`, v]);
  out.push(['failed.http', s.failed.http], ['failed.rules', s.failed.rules]);
  out.push(['dns.clusterDomain', s.dns.clusterDomain], ['dns.searchPath', s.dns.searchPath]);
  out.push(['bodies.maxStoredBytes', s.bodies.maxStoredBytes]);
  out.push(['tcp.maxHeldBytesPerConnection', s.tcp.maxHeldBytesPerConnection], ['tcp.maxHeldBytesTotal', s.tcp.maxHeldBytesTotal]);
  return out;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (typeof v === 'object') {
    const e = Object.entries(v as Record<string, unknown>);
    return e.length === 0 ? '{}' : e.map(([k, x]) => `${k}: ${String(x)}`).join(', ');
  }
  return String(v);
}

/** The origin of each setting: "default" unless the file or a flag set it. */
function origins(config: LoadedConfig, workspace: { value: string; origin: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key] of settingLeaves(config.settings)) out[key] = config.origins[key] ?? 'default';
  out.workspace = workspace.origin;
  return out;
}

async function cmdConfig(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, init: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError(`no arguments expected (got ${positionals.join(' ')})`);
  if (values.init) {
    const file = resolve(typeof values.config === 'string' ? values.config : CONFIG_FILE_NAME);
    try {
      writeFileSync(file, EXAMPLE_CONFIG, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        io.err(`podcap config: ${file} exists: not overwritten (edit it, or remove it first)`);
        return EXIT.ERROR;
      }
      throw e;
    }
    io.out(`wrote ${file}: every setting, commented, with its default`);
    return EXIT.OK;
  }
  const ctx = cliContext(values);
  const settings = { ...ctx.config.settings, workspace: resolve(ctx.workspace) };
  const from = origins(ctx.config, { value: ctx.workspace, origin: ctx.workspaceOrigin });
  if (values.json) {
    io.out(JSON.stringify({ file: ctx.config.file, settings, origins: from }, null, 2));
    return EXIT.OK;
  }
  const head = ctx.config.file ? `configuration: ${ctx.config.file}` : `configuration: defaults (no --config, no ./${CONFIG_FILE_NAME}, no ${CONFIG_FILE_NAME} in the workspace)`;
  io.out(`${head}\n\n${table(['SETTING', 'VALUE', 'FROM'], settingLeaves(settings).map(([k, v]) => [k, show(v), from[k]]))}`);
  return EXIT.OK;
}

function statusLines(s: DissectionStatus): string[] {
  const lines = [
    `snapshot ${s.snapshot.id}${s.snapshot.name ? ` (${s.snapshot.name})` : ''}: imported ${s.snapshot.importedAt.slice(0, 19)}, `
      + `${s.snapshot.generation === 0 ? 'as imported' : `re-dissected ${s.snapshot.generation} time${s.snapshot.generation === 1 ? '' : 's'}`}; `
      + `${s.snapshot.packets} packets, ${s.snapshot.transactions} transactions, ${s.snapshot.failed} failed`,
  ];
  if (s.note) lines.push(s.note);
  if (s.settings) {
    const st = s.settings;
    const off = Object.entries(st.protocols).filter(([, on]) => !on).map(([p]) => p);
    lines.push(`settings: ${s.configFile ?? 'defaults (no podcap.yaml)'}`);
    lines.push(`  hints: ${show(st.hints)}; protocols off: ${off.length ? off.join(', ') : 'none'}; .proto dirs: ${show(st.protoDirs)}`);
    lines.push(`  failed: HTTP ${st.failed.http}${st.failed.rules.length ? ` (rules: ${st.failed.rules.map((r) => `${[r.namespace, r.service].filter(Boolean).join('/')}: ${r.http}`).join(', ')})` : ''}; `
      + `DNS domain ${st.dns.clusterDomain}${st.dns.searchPath.length ? ` + ${st.dns.searchPath.join(', ')}` : ''}; body cap ${st.bodies.maxStoredBytes} B; `
      + `TCP held ${st.tcp.maxHeldBytesPerConnection} B per connection, ${st.tcp.maxHeldBytesTotal} B in all`);
  }
  const d = s.dissection;
  if (d) {
    lines.push('', table(['PROTOCOL', 'DISSECTED', 'CONNECTIONS', 'TRANSACTIONS', 'FAILED', 'TURNED OFF'], Object.entries(d.protocols).map(([p, x]) => [
      p, x.enabled ? 'yes' : 'no (turned off)', p === 'grpc' ? '(in http2)' : String(x.connections), String(x.transactions), String(x.failed), String(x.turnedOff),
    ])));
    lines.push('', table(['CONNECTIONS FOUND AS', 'COUNT'], Object.entries(d.connections).sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, String(n)])));
    if (d.unrecognised.connections > 0) {
      lines.push(`${d.unrecognised.connections} connection(s) unrecognised (${d.unrecognised.bytes} payload bytes): a hint (podcap.yaml hints:) names their protocol`);
    }
    for (const [k, n] of Object.entries(d.turnedOff)) lines.push(`not dissected (turned off): ${n} ${k}`);
    lines.push('', table(['FILE', 'PACKETS', 'DAMAGED', 'CONNECTIONS', 'TRANSACTIONS'], d.files.map((f) => [
      f.name, String(f.packets), String(f.damaged), show(f.connections), show(f.transactions),
    ])));
    for (const sk of d.skippedInputs) lines.push(`skipped input: ${sk.name}: ${sk.reason}`);
  }
  for (const r of s.redissections) lines.push(`re-dissected ${r.at.slice(0, 19)} (generation ${r.generation}) with ${r.configFile ?? 'given settings'}; changed: ${r.changed.length ? r.changed.join(', ') : 'nothing'}`);
  return lines;
}

async function cmdStatus(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMON);
  if (positionals.length > 1) throw new UsageError('give at most one snapshot');
  const ctx = cliContext(values);
  return withWorkspace(ctx.workspace, (ws) => {
    const snaps = ws.listSnapshots();
    if (positionals.length === 0 && snaps.length === 0) {
      io.out('no snapshots yet: podcap import CAPTURE...');
      return EXIT.OK;
    }
    const meta = positionals.length ? ws.resolveSnapshot(positionals[0]) : snaps[snaps.length - 1];
    const s = dissectionStatus(meta);
    io.out(values.json ? JSON.stringify(s, null, 2) : statusLines(s).join('\n'));
    return EXIT.OK;
  });
}

async function cmdRedissect(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, proto: { type: 'string', multiple: true } });
  if (positionals.length !== 1) throw new UsageError('give one snapshot (id, name or id prefix)');
  const ctx = cliContext(values);
  const protoDirs = ((values.proto as string[] | undefined) ?? []).map((d) => resolve(d));
  const dirs = protoDirs.length ? protoDirs : ctx.config.settings.protoDirs;
  if (dirs.length) {
    const reg = await ProtoRegistry.load(dirs);
    for (const e of reg.errors) io.err(`podcap redissect: ${e.file}: ${e.message} (its types are decoded schema-less)`);
  }
  return withWorkspace(ctx.workspace, async (ws) => {
    const current = ws.resolveSnapshot(positionals[0]);
    // Without .proto dirs from the flag or the file, the snapshot keeps those it had.
    const settings = dissectionSettings(ctx.config.settings, dirs.length ? dirs : current.protoDirs);
    const progress = process.stderr.isTTY && !values.json
      ? (n: number, file: string) => process.stderr.write(`\r  ${n} packets read (${file})`.padEnd(80))
      : undefined;
    const r = await redissectSnapshot(ws, current.id, { settings, configFile: ctx.config.file, analysis: { ...DEFAULT_ANALYSIS_OPTIONS, onProgress: progress }, exclusive: true });
    if (progress) process.stderr.write('\r'.padEnd(81) + '\r');
    if (values.json) {
      io.out(JSON.stringify({ changed: r.changed, before: dissectionStatus(r.before), after: dissectionStatus(r.after) }, null, 2));
      return EXIT.OK;
    }
    const protos = new Set([...Object.keys(r.before.report.transactions), ...Object.keys(r.after.report.transactions)]);
    io.out([
      `re-dissected snapshot ${r.after.id}${r.after.name ? ` (${r.after.name})` : ''} with ${ctx.config.file ?? 'the default settings'} (generation ${r.after.generation})`,
      `changed settings: ${r.changed.length ? r.changed.join(', ') : 'none'}`,
      '',
      table(['PROTOCOL', 'BEFORE', 'AFTER'], [...protos].sort().map((p) => [p, String(r.before.report.transactions[p] ?? 0), String(r.after.report.transactions[p] ?? 0)])
        .concat([['failed', String(r.before.report.failed), String(r.after.report.failed)], ['all', String(r.before.transactions), String(r.after.transactions)]])),
    ].join('\n'));
    return EXIT.OK;
  });
}

export const CONTROL_USAGE = `  config [--json] [--init]                 the settings in force (podcap.yaml) and where each came from; --init writes an example
  status [SNAPSHOT] [--json]               how a snapshot was dissected: settings, per protocol and per file, skipped and why
  redissect SNAPSHOT [--config FILE] [--proto DIR]...
                                           dissect a snapshot's captures again with the settings in force, replacing its calls atomically
`;

export const CONTROL_COMMANDS: Record<string, { run: (args: string[], io: Io) => Promise<number>; help: string }> = {
  config: {
    run: cmdConfig,
    help: 'podcap config [--config FILE] [--workspace DIR] [--json]\n'
      + '  Prints every setting in force with where it came from: default, FILE:LINE, or a flag. The file is --config FILE,\n'
      + `  else ./${CONFIG_FILE_NAME}, else ${CONFIG_FILE_NAME} in the workspace (the first found); --workspace wins over its workspace:.\n`
      + 'podcap config --init [--config FILE]\n'
      + `  Writes a commented example (every setting with its default) to FILE or ./${CONFIG_FILE_NAME}; never overwrites.\n`
      + '  Exit 2: the file in force is malformed (the message names file, line and key).',
  },
  status: {
    run: cmdStatus,
    help: 'podcap status [SNAPSHOT] [--json] [--workspace DIR]\n'
      + '  How a snapshot (default: the latest) was dissected: the podcap.yaml and settings used, per protocol connections,\n'
      + '  transactions, failures and what was turned off; connections by what was found on them (unrecognised ones say a\n'
      + '  hint would name them); per capture file; inputs skipped and why; its re-dissections.',
  },
  redissect: {
    run: cmdRedissect,
    help: 'podcap redissect SNAPSHOT [--config FILE] [--proto DIR]... [--json] [--workspace DIR]\n'
      + '  Dissects the snapshot\'s capture files again (where the import read them; they must be unchanged) with the settings\n'
      + '  in force: hints, protocols, .proto dirs, failure rules, DNS search path, body and TCP limits. The new transactions\n'
      + '  replace the old atomically: a query running meanwhile sees the old or the new, never a mix. Ids stay SNAPSHOT-N\n'
      + '  but N may name another call afterwards.\n'
      + '  Exit 0: replaced; 1: another re-dissection of the snapshot is running; 2: malformed podcap.yaml, or a capture file\n'
      + '  gone or changed (nothing replaced); 4: unknown snapshot.',
  },
};
