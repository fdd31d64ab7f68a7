/** Human-readable rendering of records and reports for the terminal. */
import type { Body, Endpoint, HeaderList, TransactionRecord } from '../dissect/record.js';
import type { AnalysisReport } from '../dissect/report.js';
import type { CaptureFileReport, SkippedInput } from '../capture/index.js';
import type { StreamSummary } from '../dissect/pipeline.js';
import type { SnapshotMeta } from '../store/snapshot.js';
import { ms } from '../query/percentiles.js';

export function isoTime(us: number | null): string {
  return us === null ? '-' : new Date(us / 1000).toISOString();
}

/** "10:04:05.123" in UTC: the timeline view, where the date is in the header. */
export function clockTime(us: number): string {
  return new Date(us / 1000).toISOString().slice(11, 23);
}

export function endpointLabel(e: Endpoint): string {
  const addr = e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
  if (!e.name) return addr;
  return `${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
}

/** Render rows as aligned columns; the last column is left ragged. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function callRow(r: TransactionRecord): string[] {
  const what = r.grpc
    ? `gRPC ${r.grpc.service}/${r.grpc.method}`
    : r.dns
      ? `DNS ${r.dns.questions.map((q) => `${q.type} ${q.name}`).join(', ')}`
      : r.request.method ? `${r.request.method} ${r.request.url}` : '(request not captured)';
  const status = r.grpc
    ? `${r.status} ${r.grpc.statusName}`
    : r.dns ? r.dns.rcode ?? 'none' : r.response ? String(r.status) : 'none';
  return [
    clockTime(r.timestamp),
    r.id,
    `${endpointLabel(r.src)} → ${endpointLabel(r.dst)}`,
    what.length > 70 ? `${what.slice(0, 67)}...` : what,
    r.failed ? `${status} ✗` : status,
    ms(r.elapsedTime),
    // For a failure, why it failed says more than what was odd; a note it already says is not repeated.
    [r.evidence, ...r.notes.filter((n) => n !== r.evidence)].filter((x) => x).join('; '),
  ];
}

export const CALL_HEADER = ['TIME (UTC)', 'ID', 'SRC → DST', 'REQUEST', 'STATUS', 'ELAPSED', 'WHY / NOTES'];

function headerLines(h: HeaderList): string[] {
  return h.map(([n, v]) => `  ${n}: ${v}`);
}

function bodyLines(b: Body | null, size: number): string[] {
  if (!b) return size > 0 ? [`  (${size} bytes, not stored)`] : [];
  const head = `  -- body: ${b.size} bytes${b.mimeType ? `, ${b.mimeType}` : ''}${b.truncated ? `, first ${b.encoding === 'utf8' ? Buffer.byteLength(b.data) : Buffer.from(b.data, 'base64').length} shown` : ''}${b.encoding === 'base64' ? ', base64' : ''} --`;
  return [head, ...b.data.split('\n').map((l) => `  ${l}`)];
}

function grpcLines(r: TransactionRecord): string[] {
  const g = r.grpc!;
  const out = [
    `gRPC ${g.service}/${g.method}: ${g.statusName} (${r.status})${g.message ? `: ${g.message}` : ''}`
      + `; ${g.requestMessages} request and ${g.responseMessages} response messages${g.encoding ? `, ${g.encoding}` : ''}`,
  ];
  for (const m of g.decoded ?? []) {
    const head = `  ${m.from === 'client' ? '>' : '<'} ${clockTime(m.ts)} ${m.size} bytes${m.type ? ` ${m.type}` : ''} (${m.decoding})${m.error ? ` [${m.error}]` : ''}`;
    out.push(head);
    if (m.json !== null) out.push(...JSON.stringify(m.json, null, 2).split('\n').map((l) => `    ${l}`));
  }
  const shown = g.decoded?.length ?? 0;
  // `messages` lists only the first ones (maxMessagesPerCall): the counts are the call's own.
  const total = g.requestMessages + g.responseMessages;
  if (total > shown) out.push(`  ... ${total - shown} more messages`);
  return out;
}

function dnsLines(r: TransactionRecord): string[] {
  const d = r.dns!;
  const flags = d.flags ? Object.entries(d.flags).filter(([, v]) => v).map(([k]) => k).join(' ') : '';
  const out = [
    `DNS ${d.opcode} id ${d.id} over ${d.transport}: ${d.rcode ?? 'no response'}${flags ? ` [${flags}]` : ''}`
      + `${d.retries ? `, sent ${d.retries + 1} times` : ''}${d.edns ? `, EDNS udp ${d.edns.udpPayloadSize}${d.edns.dnssecOk ? ' DO' : ''}` : ''}`,
    ...d.questions.map((q) => `  ? ${q.name} ${q.class} ${q.type}`),
  ];
  const rr = (prefix: string, list: typeof d.answers): string[] => list.map((a) => `  ${prefix} ${a.name} ${a.ttl} ${a.class} ${a.type} ${a.data}`);
  out.push(...rr('=', d.answers), ...rr('@', d.authorities), ...rr('+', d.additionals));
  return out;
}

export function callDetail(r: TransactionRecord): string {
  const out: string[] = [];
  out.push(`${r.id}  ${r.protocol.toUpperCase()}  ${isoTime(r.timestamp)}  elapsed ${ms(r.elapsedTime)}${r.failed ? '  FAILED' : ''}`);
  out.push(`${endpointLabel(r.src)} → ${endpointLabel(r.dst)}  (${r.stream.transport} stream ${r.stream.id})`);
  if (r.evidence) out.push(`failed: ${r.evidence}`);
  if (r.notes.length) out.push(`notes: ${r.notes.join('; ')}`);
  out.push('');
  if (r.grpc) out.push(...grpcLines(r), '');
  if (r.dns) return [...out, ...dnsLines(r)].join('\n');
  const q = r.request;
  if (q.method) {
    out.push(`> ${q.method} ${q.url} ${q.version}`);
    out.push(...headerLines(q.headers));
    out.push(...bodyLines(q.body, r.grpc ? 0 : q.bodySize));
  } else out.push('> (request not captured)');
  out.push('');
  const s = r.response;
  if (s) {
    out.push(`< ${s.version} ${s.status} ${s.statusText}`.trimEnd());
    out.push(...headerLines(s.headers));
    out.push(...bodyLines(s.body, r.grpc ? 0 : s.bodySize));
    if (s.trailers?.length) out.push('  -- trailers --', ...headerLines(s.trailers));
  } else out.push('< (no response)');
  return out.join('\n');
}

function counts(c: Record<string, number>): string {
  const entries = Object.entries(c).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => `${v} ${k}`).join(', ') : 'none';
}

const LINKTYPE_NAMES: Record<number, string> = {
  0: 'BSD loopback', 1: 'Ethernet', 12: 'raw IP', 14: 'raw IP', 101: 'raw IP', 108: 'OpenBSD loopback', 113: 'Linux cooked',
  228: 'raw IPv4', 229: 'raw IPv6', 276: 'Linux cooked v2',
};

export function linkTypeName(t: number): string {
  return LINKTYPE_NAMES[t] ?? `link type ${t}`;
}

export function fileSummary(f: CaptureFileReport): string {
  const extra: string[] = [];
  if (f.damaged) extra.push(`${f.damaged} damaged records`);
  if (f.truncatedBytes) extra.push(`cut short: ${f.truncatedBytes} bytes of a last record`);
  const links = (f.linkTypes ?? []).map((l) => linkTypeName(l.linkType)).join(', ');
  const head = `  ${f.path}: ${f.format}${f.compressed ? ' (gzip)' : ''}, ${f.packets} packets`
    + `${f.packetBytes !== undefined ? `, ${f.packetBytes} bytes` : ''}${links ? `, ${links}` : ''}${extra.length ? `; ${extra.join('; ')}` : ''}`;
  return [head, ...f.notes.map((n) => `    note: ${n}`)].join('\n');
}

export function skippedSummary(skipped: SkippedInput[] | undefined, notes: string[] | undefined): string[] {
  return [
    ...(skipped ?? []).map((s) => `  passed over: ${s.name}: ${s.reason}`),
    ...(notes ?? []).map((n) => `  note: ${n}`),
  ];
}

/** File reports as they may leave podcap: decryption secrets are key material, so only their type and size go out. */
export function publicFiles(files: CaptureFileReport[]): unknown[] {
  return files.map((f) => ({
    ...f,
    decryptionSecrets: (f.decryptionSecrets ?? []).map((d) => ({ secretsType: d.secretsType, size: d.data.length, data: '[redacted]' })),
  }));
}

function pair(p: [number, number] | null): string {
  return p ? `${p[0]}/${p[1]}` : '-';
}

export function streamTable(streams: StreamSummary[]): string {
  return table(
    ['STREAM', 'CLIENT', 'SERVER', 'FIRST (UTC)', 'LAST', 'PACKETS c/s', 'BYTES c/s', 'REASSEMBLED', 'RETRANS', 'MISSING', 'END', 'FILES', 'FOUND'],
    streams.map((s) => [
      `${s.transport} ${s.id}`, s.client, s.server, isoTime(s.firstTs).slice(0, 23), clockTime(s.lastTs), pair(s.packets), pair(s.bytes),
      pair(s.reassembledBytes), pair(s.retransmittedBytes), pair(s.gapBytes), s.end ?? '-', s.files.join(','),
      `${s.roles === 'guessed' ? '(mid-stream) ' : ''}${s.found}`,
    ]),
  );
}

export function reportSummary(r: AnalysisReport): string {
  const dropped = Object.values(r.fragments?.dropped ?? {}).reduce((a, b) => a + b, 0);
  const lines = [
    `packets: ${r.packets} read; ${r.tcpSegments} TCP, ${r.udpDatagrams} UDP, ${r.heldFragments ?? 0} IP fragments`
      + `${dropped ? ` (${dropped} in datagrams never completed)` : ''}; skipped: ${counts(r.skipped)}; damaged: ${counts(r.damaged)}`,
  ];
  if (r.decapsulated && Object.keys(r.decapsulated).length) lines.push(`tunnels taken off: ${counts(r.decapsulated)}`);
  const t = r.tcp;
  lines.push(
    `tcp: ${t.connections} connections (${counts(r.connections)}); ${t.reassembledBytes ?? 0} bytes reassembled; `
      + `${t.retransmittedSegments} retransmissions (${t.retransmittedBytes ?? 0} bytes), ${t.outOfOrderSegments} out of order, `
      + `${t.gaps} gaps (${t.gapBytes} bytes not captured)`,
  );
  if (t.duplicateSegments || t.connectionsInSeveralFiles || t.duplicateConnections) {
    lines.push(`seen by several nodes: ${t.connectionsInSeveralFiles} connections in more than one file, `
      + `${t.duplicateSegments} duplicate segments (${t.duplicateBytes} bytes) dropped, `
      + `${t.duplicateConnections} connections seen again through NAT`);
  }
  if (r.udpFlows !== undefined) lines.push(`udp: ${r.udpFlows} flows`);
  lines.push(`transactions: ${counts(r.transactions)}; ${r.failed} failed`);
  return lines.join('\n');
}

export function kubernetesSummary(s: SnapshotMeta): string[] {
  const out: string[] = [];
  const k = s.kubernetes;
  if (k) {
    const w = k.summary;
    out.push(`kubernetes: ${w.pods} pods, ${w.services} services, ${w.nodes} nodes, ${w.workloads} workloads in ${w.namespaces} namespaces`
      + ` from ${k.files.join(', ') || 'nothing usable'}${k.discovered ? ' (found beside the captures)' : ''}`);
    for (const n of [...k.notes, ...k.warnings.slice(0, 5)]) out.push(`  warning: ${n}`);
  } else if (s.kubernetes === null) {
    out.push('kubernetes: no manifest (give one with --manifest to name pods, services and workloads)');
  }
  const r = s.resolution;
  if (r) {
    const e = r.endpoints;
    out.push(`addresses: ${e.pod} pod, ${e.service} service, ${e.node} node, ${e.external} external endpoints`
      + ` (${r.namedByDns} named by DNS); unknown: ${r.unknownPrivateCount} private, ${r.unknownPublicCount} public addresses`);
    if (r.manifest && r.unknownPrivateCount > 0) {
      out.push(`  unknown private addresses (no manifest object claims them): ${r.unknownPrivate.slice(0, 5).map((u) => `${u.ip} (${u.endpoints})`).join(', ')}`);
    }
    if (r.manifest && e.pod + e.service + e.node === 0) out.push('  warning: the manifest matches no address of the capture');
  }
  return out;
}

export function snapshotSummary(s: SnapshotMeta): string {
  const span = s.firstTs !== null && s.lastTs !== null ? `${isoTime(s.firstTs)} .. ${isoTime(s.lastTs)}` : 'no transactions';
  return [
    `snapshot ${s.id}${s.name ? ` (${s.name})` : ''}: ${s.transactions} transactions, ${span}`,
    ...s.files.map(fileSummary),
    ...skippedSummary(s.skipped, s.inputNotes),
    reportSummary(s.report),
    ...kubernetesSummary(s),
  ].join('\n');
}
