/** Back to the packets: export a capture of the matching calls' connections; follow one connection's bytes. */
import { z } from 'zod';
import { exportPackets } from '../../query/export.js';
import { followStream, renderFollow, resolveFollowTarget } from '../../query/follow.js';
import { revealing } from '../context.js';
import { outputPath } from '../paths.js';
import { defineTool } from '../registry.js';
import { ToolError } from '../result.js';
import { filterParam, revealParam, snapshotParam, snapshotsOf } from './common.js';

const exportPcap = defineTool({
  name: 'export_pcap',
  title: 'Export packets to a capture file',
  description: 'Writes every packet of the connections that the matching calls came from (a KFL2 filter, or call ids) to a '
    + 'pcap or pcapng file under the server\'s output root, read again from the snapshot\'s capture files byte for byte, and '
    + 'returns its path and counts. Use it to hand the evidence to Wireshark/tshark or to a colleague, e.g. {"filter": '
    + '"grpc && grpc_status == 14", "file": "payment-unavailable.pcapng"}. The file name is relative to the output root; '
    + 'paths outside it (../, absolute paths elsewhere, links) are refused. An existing file of that name is replaced.',
  input: {
    file: z.string().min(1).max(1000).describe('file name under the output root, e.g. "incident/payment.pcapng" (.pcap or .pcapng)'),
    filter: filterParam,
    ids: z.array(z.string().max(100)).max(1000).optional().describe('call ids instead of a filter'),
    snapshot: snapshotParam,
    format: z.enum(['pcap', 'pcapng']).optional().describe('default: from the file name (.pcap: pcap when one link type), else pcapng'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  run: async (a, ctx) => {
    if (a.ids?.length && a.filter) throw new ToolError('give a filter or ids, not both');
    const out = await outputPath(a.file, ctx.outputRoot);
    const r = await exportPackets(ctx.ws, {
      filter: a.filter ?? '', ids: a.ids ?? [], snapshots: snapshotsOf(a.snapshot), out, format: a.format ?? 'auto',
    });
    return { path: r.out, format: r.format, transactions: r.transactions, connections: r.connections, packets: r.packets, bytes: r.bytes, fragments: r.fragments, notes: r.notes };
  },
});

export const FOLLOW_DEFAULT_CHARS = 16_000;
export const FOLLOW_MAX_CHARS = 50_000;
/** Bytes of a connection reassembled at most for a model: past this, counted, not kept. */
const FOLLOW_KEEP_BYTES = 8 * 1024 * 1024;

const followStreamTool = defineTool({
  name: 'follow_stream',
  title: 'Follow a connection\'s bytes',
  description: 'A TCP connection\'s (or UDP flow\'s) payload reassembled from the capture files, both directions in the order '
    + 'delivered, as Wireshark\'s "Follow TCP Stream" / tshark -z follow shows it: ascii (server chunks tab-indented) or hex. '
    + 'Gaps read "[N bytes missing in capture file]". Use it when a call looks wrong and you need the raw exchange: malformed '
    + 'messages, what came before a reset, bytes no dissector recognised. Give a call id (its connection) or a flow id '
    + '"SNAPSHOT:tcp:N" (list_l4_flows). The text is paged: offset and max_chars, nextOffset when more. Credentials in the '
    + 'text are redacted.',
  input: {
    id: z.string().min(1).max(200).describe('a call id, or SNAPSHOT:tcp:N / SNAPSHOT:udp:N'),
    mode: z.enum(['ascii', 'hex']).optional().describe('ascii (default) or hex dump'),
    offset: z.number().int().min(0).optional().describe('character offset into the rendered text (default 0)'),
    max_chars: z.number().int().min(100).max(FOLLOW_MAX_CHARS).optional().describe(`characters returned (default ${FOLLOW_DEFAULT_CHARS}, at most ${FOLLOW_MAX_CHARS})`),
    reveal: revealParam,
  },
  run: async (a, ctx) => {
    const reveal = revealing(ctx, a.reveal);
    const target = resolveFollowTarget(ctx.ws, a.id);
    const r = await followStream(ctx.ws, target.snapshot, target.transport, target.id, { maxBytes: FOLLOW_KEEP_BYTES });
    const rendered = renderFollow(r, a.mode ?? 'ascii');
    const text = reveal ? rendered : ctx.redactor.text(rendered);
    const offset = Math.min(a.offset ?? 0, text.length);
    const max = a.max_chars ?? FOLLOW_DEFAULT_CHARS;
    const part = text.slice(offset, offset + max);
    return {
      flow: `${r.snapshot}:${r.transport}:${r.id}`,
      ...(target.transaction ? { call: target.transaction } : {}),
      client: r.client,
      server: r.server,
      bytes: r.bytes,
      missing: r.missing,
      packets: r.packets,
      ...(r.truncated ? { bytesKeptOnly: FOLLOW_KEEP_BYTES } : {}),
      totalChars: text.length,
      offset,
      nextOffset: offset + part.length < text.length ? offset + part.length : null,
      text: part,
    };
  },
});

export const PACKET_TOOLS = [exportPcap, followStreamTool];
