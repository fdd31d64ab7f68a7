/** What every tool is handed: the workspace and the limits the server was started with. */
import { existsSync } from 'node:fs';
import { ProtoRegistry } from '../dissect/proto-registry.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { Redactor, type RedactionRules } from '../query/redact.js';
import type { Workspace } from '../store/workspace.js';
import { ToolError } from './result.js';
import { DEFAULT_SETTINGS, type Settings } from '../config/settings.js';

export interface ServerOptions {
  /** .proto files to decode gRPC messages with (else each snapshot's own, else schema-less). */
  protos?: ProtoRegistry | null;
  /** Directories import_snapshot may read from (none: import_snapshot refuses). */
  importRoots?: string[];
  /** Directory export_pcap writes under (none: export_pcap refuses). */
  outputRoot?: string | null;
  /** Honour `reveal: true` on tools. */
  allowReveal?: boolean;
  /** Redaction rules beyond the defaults (e.g. from a configuration file). */
  redaction?: RedactionRules[];
  /** Allow tools that replace stored data (enable_dissection, disable_dissection). */
  allowDestructive?: boolean;
  /** The podcap.yaml settings in force (defaults without): what a snapshot that recorded none is re-dissected with. */
  settings?: Settings;
}

export interface ToolContext {
  ws: Workspace;
  protos: ProtoRegistry | null;
  importRoots: string[];
  outputRoot: string | null;
  allowReveal: boolean;
  /** Replaced when the configuration is reloaded (a reload that fails keeps it). */
  redactor: Redactor;
  allowDestructive: boolean;
  /** The podcap.yaml settings in force. */
  settings: () => Settings;
  /** The .proto registry for a snapshot's gRPC messages: the server's, else the snapshot's own (loaded once). */
  protosFor: (snapshot: SnapshotMeta) => Promise<ProtoRegistry | null>;
}

export function toolContext(ws: Workspace, opts: ServerOptions = {}): ToolContext {
  const loaded = new Map<string, Promise<ProtoRegistry | null>>();
  const protosFor = (snap: SnapshotMeta): Promise<ProtoRegistry | null> => {
    if (opts.protos) return Promise.resolve(opts.protos);
    if (snap.protoDirs.length === 0) return Promise.resolve(null);
    // Keyed by the directories too: a re-dissection may have given the snapshot others.
    const key = `${snap.id}\n${snap.protoDirs.join('\n')}`;
    let p = loaded.get(key);
    if (!p) {
      // A directory gone since the import leaves the messages schema-less, not the call unanswered.
      p = ProtoRegistry.load(snap.protoDirs.filter((d) => existsSync(d))).catch(() => null);
      loaded.set(key, p);
    }
    return p;
  };
  return {
    protosFor,
    ws,
    protos: opts.protos ?? null,
    importRoots: opts.importRoots ?? [],
    outputRoot: opts.outputRoot ?? null,
    allowReveal: opts.allowReveal === true,
    redactor: new Redactor(opts.redaction ?? []),
    allowDestructive: opts.allowDestructive === true,
    settings: () => opts.settings ?? DEFAULT_SETTINGS,
  };
}

/** Whether secrets may be shown: only when asked and the server allows it. */
export function revealing(ctx: ToolContext, reveal: boolean | undefined): boolean {
  if (reveal !== true) return false;
  if (!ctx.allowReveal) {
    throw new ToolError('reveal is refused: this server redacts secrets and was not started with --allow-reveal '
      + '(ask the user to restart `podcap mcp --allow-reveal` if they want credentials shown); call again without reveal');
  }
  return true;
}
