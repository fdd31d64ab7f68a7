/**
 * Dissection control, with Kubeshark's tool names: what a snapshot's dissectors made of it
 * (get_dissection_status), and turning a protocol's dissection on or off for a snapshot
 * (enable_dissection / disable_dissection), which re-dissects it as `podcap redissect` does:
 * the calls are replaced atomically. Those two change stored data and need --allow-destructive.
 */
import { z } from 'zod';
import { DISSECT_PROTOCOLS } from '../../dissect/hints.js';
import { dissectionSettings } from '../../config/apply.js';
import { dissectionStatus } from '../../query/status.js';
import { redissectSnapshot } from '../../store/redissect.js';
import type { ToolContext } from '../context.js';
import { defineTool } from '../registry.js';
import { ToolError } from '../result.js';

/** Per-file rows returned at most: a snapshot of thousands of rotated files stays a bounded answer. */
const MAX_FILES = 100;

const protocolParam = z.enum(DISSECT_PROTOCOLS).describe('http (HTTP/1.x), http2, grpc or dns');

function latest(ctx: ToolContext, ref: string | undefined) {
  if (ref) return ctx.ws.resolveSnapshot(ref);
  const all = ctx.ws.listSnapshots();
  if (all.length === 0) throw new ToolError('the workspace has no snapshots yet (import_snapshot, or podcap import)');
  return all[all.length - 1];
}

function boundedStatus(ctx: ToolContext, ref: string | undefined) {
  const s = dissectionStatus(latest(ctx, ref));
  if (s.dissection && s.dissection.files.length > MAX_FILES) {
    const n = s.dissection.files.length;
    s.dissection = { ...s.dissection, files: s.dissection.files.slice(0, MAX_FILES) };
    return { ...s, filesOmitted: n - MAX_FILES };
  }
  return s;
}

const getDissectionStatus = defineTool({
  name: 'get_dissection_status',
  title: 'How a snapshot was dissected',
  description: 'Returns how a snapshot\'s captures were dissected: the settings used (podcap.yaml file, port and address '
    + 'hints, protocols on or off, .proto directories, what counts as failed, DNS search path, body and TCP limits); per '
    + 'protocol the connections, calls, failures and what was not dissected because the protocol is off; connections by what '
    + 'was found on them (unrecognised ones carry a protocol podcap could not tell: a port hint in podcap.yaml and '
    + '`podcap redissect` fix that); per capture file the packets, damage, connections and calls; inputs skipped and why; '
    + 'and its re-dissections. Use it when calls seem missing. Example: {"snapshot": "incident-42"}.',
  input: { snapshot: z.string().max(200).optional().describe('snapshot id, name or id prefix; absent: the latest') },
  annotations: { readOnlyHint: true },
  run: (a, ctx) => boundedStatus(ctx, a.snapshot),
});

/** enable_dissection / disable_dissection: one tool each, alike but for the way they turn the protocol. */
function toggleTool(on: boolean, title: string, description: string) {
  const name = `${on ? 'enable' : 'disable'}_dissection`;
  return defineTool({
    name,
    title,
    description,
    input: { snapshot: z.string().min(1).max(200).describe('snapshot id, name or id prefix'), protocol: protocolParam },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    run: async (a, ctx) => {
      if (!ctx.allowDestructive) {
        throw new ToolError(`${name} replaces a snapshot's stored calls and is refused: this server was not `
          + 'started with --allow-destructive (ask the user to restart `podcap mcp --allow-destructive`, or to run '
          + '`podcap redissect` with protocols: in podcap.yaml)');
      }
      const meta = ctx.ws.resolveSnapshot(a.snapshot);
      // The snapshot's own settings, one protocol changed: nothing else about its dissection moves.
      const settings = meta.config?.settings ? structuredClone(meta.config.settings) : dissectionSettings(ctx.settings(), meta.protoDirs);
      if (settings.protocols[a.protocol] === on) {
        return { snapshot: meta.id, protocol: a.protocol, dissected: on, changed: false, note: `${a.protocol} was already ${on ? 'on' : 'off'}: nothing re-dissected` };
      }
      settings.protocols[a.protocol] = on;
      const r = await redissectSnapshot(ctx.ws, meta.id, { settings, configFile: meta.config?.file ?? null });
      return {
        snapshot: r.after.id, protocol: a.protocol, dissected: on, changed: true, generation: r.after.generation,
        callsBefore: r.before.report.transactions, callsAfter: r.after.report.transactions,
        note: 'the snapshot\'s calls were replaced atomically; call ids now refer to the new dissection',
      };
    },
  });
}

const enableDissection = toggleTool(true, 'Turn a protocol\'s dissection on for a snapshot',
  'Turns dissection of one protocol (http, http2, grpc, dns) back on for a snapshot and re-dissects its captures '
  + 'with its other settings unchanged; the snapshot\'s calls are replaced atomically (queries meanwhile see the old calls '
  + 'or the new, never a mix). Refused unless the server was started with --allow-destructive. Takes as long as an import '
  + 'of the same captures. Example: {"snapshot": "incident-42", "protocol": "dns"}.');

const disableDissection = toggleTool(false, 'Turn a protocol\'s dissection off for a snapshot',
  'Turns dissection of one protocol (http, http2, grpc, dns) off for a snapshot and re-dissects its captures: '
  + 'that protocol\'s connections and datagrams are then counted (get_dissection_status) but give no calls. The '
  + 'snapshot\'s calls are replaced atomically. Refused unless the server was started with --allow-destructive. Example: '
  + '{"snapshot": "incident-42", "protocol": "dns"} to look at HTTP without the DNS noise.');

export const DISSECTION_TOOLS = [getDissectionStatus, enableDissection, disableDissection];
