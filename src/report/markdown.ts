/**
 * The report as Markdown for a ticket (GitHub, GitLab; Jira's Markdown paste):
 * GFM tables, a Mermaid service map, <details> for the long parts. Everything from
 * the capture is untrusted: inline text has Markdown punctuation backslash-escaped
 * and HTML's characters as entities; headers and bodies go in fenced code blocks
 * whose fence is longer than any backtick run inside.
 */
import type { CallDetail, Command, ReportModel } from './model.js';
import { ms } from '../query/percentiles.js';
import { fmtPct, reportCaveats } from './text.js';

/** Inline text from the capture: no markup, no HTML, one line. */
export function mdText(s: string): string {
  return s
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\\`*_[\]{}|~#!]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    // A bare URL in a capture is not a link the report vouches for.
    .replace(/:\/\//g, ':&#47;&#47;')
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}&#46;`);
}

/** A code span holding any text: backtick fence longer than the text's runs. */
export function mdCode(s: string, inTable = false): string {
  // In a GFM table a bar ends the cell even inside a code span, unless escaped.
  const one = inTable ? s.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|') : s.replace(/[\r\n]+/g, ' ');
  const runs = one.match(/`+/g) ?? [];
  const n = Math.max(0, ...runs.map((r) => r.length)) + 1;
  const fence = '`'.repeat(n);
  const pad = one.startsWith('`') || one.endsWith('`') || one.startsWith(' ') ? ' ' : '';
  return `${fence}${pad}${one}${pad}${fence}`;
}

/** A fenced code block holding any text. */
export function mdBlock(text: string, lang = 'text'): string {
  const runs = text.match(/`{3,}/g) ?? [];
  const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  return `${fence}${lang}\n${text.replace(/\r\n?/g, '\n').replace(/\n+$/, '')}\n${fence}`;
}

function table(header: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function commands(list: Command[]): string {
  return `<details>\n<summary>Reproduce with the CLI</summary>\n\n${list.map((c) => `- ${mdText(c.title)}: ${mdCode(c.line)}`).join('\n')}\n\n</details>`;
}

function headerText(h: Array<[string, string]>): string {
  return h.map(([n, v]) => `${n}: ${v}`).join('\n');
}

function callBlock(c: CallDetail, i: number): string {
  const out: string[] = [];
  out.push(`### ${i + 1}. ${mdText(`${c.from} → ${c.to}: ${c.what}`)}`, '');
  out.push(`${mdText(c.status)} after ${ms(c.elapsedMs)} at ${mdText(c.time)}, call ${mdCode(c.id)}.${c.evidence ? ` Why: ${mdText(c.evidence)}` : ''}`);
  if (c.notes.length) out.push('', `Notes: ${mdText(c.notes.join('; '))}`);
  out.push('', '<details>', `<summary>Request and response of ${mdText(c.id)}</summary>`, '');
  const req = [c.request.line, headerText(c.request.headers)].filter(Boolean).join('\n');
  out.push(mdBlock(req, 'http'));
  if (c.request.body) out.push('', mdBlock(c.request.body));
  if (c.request.bodyNote) out.push('', `Request body: ${mdText(c.request.bodyNote)}`);
  for (const m of c.messages) out.push('', `gRPC message from the ${mdText(m.from)}${m.type ? ` (${mdText(m.type)})` : ''}:`, '', mdBlock(m.json, 'json'));
  if (c.response) {
    out.push('', mdBlock([c.response.line, headerText(c.response.headers)].filter(Boolean).join('\n'), 'http'));
    if (c.response.body) out.push('', mdBlock(c.response.body));
    if (c.response.bodyNote) out.push('', `Response body: ${mdText(c.response.bodyNote)}`);
    if (c.response.trailers.length) out.push('', 'Trailers:', '', mdBlock(headerText(c.response.trailers), 'http'));
  } else out.push('', 'No response was captured.');
  out.push('', '</details>', '', commands(c.commands));
  return out.join('\n');
}

export function renderMarkdown(m: ReportModel): string {
  const out: string[] = [];
  const push = (...lines: string[]): void => {
    out.push(...lines);
  };
  push(`# ${mdText(m.title)}`, '');
  push(`Written by podcap ${mdText(m.podcapVersion)} at ${mdText(m.generatedAt)}. ${m.redacted ? 'Credentials (Authorization, cookies, API keys, tokens) are redacted.' : '**Credentials are shown as captured (--reveal).**'}`, '');
  for (const c of reportCaveats(m)) push(`> ${mdText(c)}`, '');

  // Capture
  const cap = m.capture;
  push('## Capture', '', mdText(cap.paragraph), '');
  push(table(['File', 'Format', 'Packets', 'Bytes', 'First packet', 'Last packet'], cap.files.map((f) => [
    mdText(f.path), mdText(f.format), String(f.packets), String(f.bytes), mdText(f.first ?? '-'), mdText(f.last ?? '-'),
  ]), ['l', 'l', 'r', 'r', 'l', 'l']), '');
  if (cap.undecoded.length) {
    push('<details>', '<summary>What was not decoded, and why</summary>', '');
    push(table(['What', 'Count', 'Why'], cap.undecoded.map((u) => [mdText(u.what), String(u.count), mdText(u.reason)]), ['l', 'r', 'l']), '', '</details>', '');
  }
  push(commands(cap.commands), '');

  // Failures
  const f = m.failures;
  push('## Failures', '');
  if (f.total === 0) push('No call failed.', '');
  else {
    push(`${f.total} failed calls${f.dns ? ` (${f.dns} of them DNS queries: see [DNS](#dns))` : ''}, in ${f.totalGroups} groups by endpoint and cause${f.groups.length < f.totalGroups ? ` (the first ${f.groups.length} shown)` : ''}. `
      + 'Where failures began (by `podcap trace`) comes first, then the most failures.', '');
    if (f.groups.length) {
      push(table(['Endpoint', 'Cause', 'Failed', 'Of calls', 'Fail %', 'First seen', 'Last seen', 'Evidence'], f.groups.map((g) => [
        `${g.origin ? '**failures began here**: ' : ''}${mdText(g.endpoint)}`,
        mdText(g.cause) + (g.causedBy ? ` (caused by ${mdText(g.causedBy)})` : ''),
        String(g.failures), String(g.endpointCalls), fmtPct(g.endpointFailureRate), mdText(g.firstSeen), mdText(g.lastSeen),
        g.evidence.map(mdText).join('<br>'),
      ]), ['l', 'l', 'r', 'r', 'r', 'l', 'l', 'l']), '');
    }
  }
  push(commands([...f.commands, ...f.groups.slice(0, 5).map((g) => ({ title: `${g.endpoint}: ${g.cause}`, line: g.command }))]), '');

  // Slowest
  push('## Slowest endpoints', '');
  if (m.slowest.rows.length === 0) push('No call had a response.', '');
  else {
    push(`By p99 latency (request start to response end, nearest-rank) of the ${m.slowest.totalEndpoints} endpoints${m.slowest.dnsApart ? ' (DNS names are in the DNS section)' : ''}.`, '');
    push(table(['Endpoint', 'Protocol', 'Calls', 'Failed', 'p50', 'p90', 'p99', 'Max'], m.slowest.rows.map((r) => [
      mdText(r.label), mdText(r.protocols.join(', ')), String(r.calls), String(r.failures), ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max),
    ]), ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']), '');
  }
  push(commands(m.slowest.commands), '');

  // Map
  push('## Service map', '');
  if (m.map.edges.length === 0) push('No calls.', '');
  else {
    push('Failing edges are red; edges whose calls carried no credentials are dashed.', '');
    push(mdBlock(m.map.mermaid.trimEnd(), 'mermaid'), '');
    push(table(['Source', 'Destination', 'Protocol', 'Calls', 'Failed', 'p50', 'p99', 'Credentials'], m.map.edges.map((e) => [
      mdText(e.source), mdText(e.destination), mdText(e.protocol), String(e.calls), String(e.failures), ms(e.latencyMs.p50), ms(e.latencyMs.p99),
      e.credentials === 'n/a' ? 'n/a (DNS)' : `${mdText(e.credentials)} (${e.authenticatedCalls}/${e.calls})`,
    ]), ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l']), '');
  }
  push(commands(m.map.commands), '');

  // Timeline
  const t = m.timeline;
  push('## Timeline', '');
  if (t.buckets.length === 0) push('No calls.', '');
  else {
    push(t.firstFailure
      ? `**First failure: ${mdText(t.firstFailure.time)}** (${mdText(t.firstFailure.protocol)}), in the bucket marked ◀ below. Buckets of ${mdText(t.bucket)}.`
      : `No failures. Buckets of ${mdText(t.bucket)}.`, '');
    const peak = Math.max(...t.buckets.map((b) => b.calls), 1);
    push('<details>', `<summary>Calls, failures and latency per ${mdText(t.bucket)}</summary>`, '');
    push(table(['Time (UTC)', 'Calls', 'Failed', 'p50', 'p99', 'Load', 'Note'], t.buckets.map((b, i) => [
      mdText(b.start.slice(11, 23)), String(b.calls), b.failures ? String(b.failures) : '0', ms(b.p50), ms(b.p99),
      '█'.repeat(Math.round((b.calls / peak) * 12)) || '·',
      i === t.firstFailingBucket ? '◀ first failure' : '-',
    ]), ['l', 'r', 'r', 'r', 'r', 'l', 'l']), '', '</details>', '');
  }
  push(commands(t.commands), '');

  // Auth
  const a = m.auth;
  push('## Authentication', '');
  if (a.unauthenticated.length) {
    push(`${a.unauthenticated.length} edge${a.unauthenticated.length === 1 ? '' : 's'} carried **no credentials on any call**:`, '');
    for (const u of a.unauthenticated) push(`- ${mdText(u.source)} → ${mdText(u.destination)} (${mdText(u.protocol)}, ${u.calls} calls)`);
    push('');
  } else if (a.edges.length) push('Every edge carried credentials on at least one call (DNS aside).', '');
  if (a.edges.length) {
    push(table(['Credentials', 'Source', 'Destination', 'Protocol', 'Calls', 'With', 'Without', 'Kinds'], a.edges.map((e) => [
      e.credentials === 'n/a' ? 'n/a (DNS)' : mdText(e.credentials), mdText(e.source), mdText(e.destination), mdText(e.protocol), String(e.calls),
      String(e.withCredentials), String(e.without), mdText(e.kinds),
    ]), ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'l']), '');
  }
  if (a.tokens.length) {
    push('Bearer tokens by fingerprint (claims decoded without verifying signatures):', '');
    push(table(['Edge', 'Token', 'Type', 'iss', 'sub', 'aud', 'Expires', 'Seen'], a.tokens.map((k) => [
      mdText(k.edge), mdCode(k.fingerprint, true), mdText(k.type), mdText(k.iss ?? '-'), mdText(k.sub ?? '-'), mdText(k.aud ?? '-'),
      `${mdText(k.expires ?? '-')}${k.usedAfterExpiry ? ' (used after expiry)' : ''}`, String(k.seen),
    ])), '');
  }
  push(mdText(`${a.transportNote}.`), '', commands(a.commands), '');

  // DNS
  const d = m.dns;
  push('## DNS', '');
  push(`${d.queries} DNS queries, ${d.failedQueries} failed. `
    + `${d.searchPath.nxdomain} NXDOMAIN answers were expected steps of Kubernetes search-path expansion (the name then resolved under another suffix) and are not failures.`, '');
  if (d.failures.length) {
    push('Lookups that failed for real:', '');
    push(table(['Name asked for', 'Client', 'Queries', 'Answers', 'First seen', 'Last seen', 'Evidence'], d.failures.map((x) => [
      mdText(x.name), mdText(x.client), String(x.queries), mdText(x.rcodes), mdText(x.firstSeen), mdText(x.lastSeen), mdText(x.evidence),
    ]), ['l', 'l', 'r', 'l', 'l', 'l', 'l']), '');
  } else push('No DNS lookup failed.', '');
  if (d.searchPath.bases.length) {
    push('<details>', '<summary>Search-path expansion (expected NXDOMAIN)</summary>', '');
    push(table(['Name asked for', 'NXDOMAIN on the way', 'Resolved as'], d.searchPath.bases.map((b) => [
      mdText(b.base), String(b.nxdomain), mdText(b.resolvedAs ?? '-'),
    ]), ['l', 'r', 'l']), '', '</details>', '');
  }
  push(commands(d.commands), '');

  // Calls
  push('## Failed calls in full', '');
  if (m.calls.length === 0) push('No failed calls.', '');
  else {
    push(`The first failure of each of the top ${m.calls.length} groups${m.redacted ? ', credentials redacted' : ''}.`, '');
    m.calls.forEach((c, i) => push(callBlock(c, i), ''));
  }
  while (out[out.length - 1] === '') out.pop();
  return `${out.join('\n')}\n`;
}
