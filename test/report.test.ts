/**
 * `podcap report` on the sample incident: the model says what the incident is
 * (the failing payment endpoint first, the unauthenticated edge, the real DNS
 * failure apart from search-path NXDOMAIN); the Markdown has its tables, Mermaid
 * block and <details> and passes markdownlint; no credential of the capture
 * appears without --reveal; and hostile text from a capture, put into every
 * string the renderers see, comes out inert in both formats.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lint } from 'markdownlint/promise';
import { Workspace } from '../src/store/workspace.js';
import { listCalls } from '../src/query/calls.js';
import { buildReport, type ReportModel } from '../src/report/model.js';
import { renderMarkdown, mdText } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { spawnSync } from 'node:child_process';
import { podcap, podcapBin } from './support/cli.js';
import { poison } from './support/report.js';
import { sampleDir, sampleSkip, suiteSample } from './support/workspace.js';

interface Expected {
  incident: { failingService: string; grpcStatus: number; symptom: { path: string; status: number }; unauthenticatedEdge: { from: string; to: string }; dnsFailure: { from: string; name: string } };
  summary: { endpoints: Array<{ from: string; to: string }> };
}

/** markdownlint's defaults, less line length (tables and evidence are long) and inline HTML (<details> is the point). */
export const MD_LINT_CONFIG = { default: true, MD013: false, MD033: false } as const;

export async function lintMarkdown(text: string): Promise<string[]> {
  const r = await lint({ strings: { report: text }, config: MD_LINT_CONFIG });
  return (r.report ?? []).map((e) => `${e.lineNumber}: ${e.ruleNames.join('/')} ${e.ruleDescription}${e.errorDetail ? ` (${e.errorDetail})` : ''}: ${e.errorContext ?? ''}`);
}

/** Every credential value the sample's calls carry. */
function secretsOf(ws: Workspace): string[] {
  const out = new Set<string>();
  let cursor: string | null = null;
  do {
    const page = listCalls(ws, { limit: 1000, cursor });
    for (const r of page.calls) {
      for (const [n, v] of [...r.request.headers, ...(r.response?.headers ?? [])]) {
        if (!/^(authorization|cookie|set-cookie)$/i.test(n)) continue;
        const token = v.replace(/^Bearer\s+/i, '');
        out.add(token);
        // A JWT's header and claims may be shown (decoded, unverifiable); its signature is the secret.
        const parts = token.split('.');
        if (parts.length === 3) out.add(parts[2]);
      }
    }
    cursor = page.nextCursor;
  } while (cursor);
  return [...out];
}

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> | ``` [x](javascript:alert(3)) **b** # h\n\n| a | b |\n<!-- c --></details></td>&amp; https://evil.example/';

describe('podcap report on the sample incident', { skip: sampleSkip }, () => {
  const w = suiteSample('podcap-report-', { protoDirs: [join(sampleDir, 'protos')] });
  let model: ReportModel;
  let md = '';
  let html = '';
  let expected: Expected;

  before(async () => {
    model = await buildReport(w.ws, {});
    md = renderMarkdown(model);
    html = renderHtml(model);
    expected = JSON.parse(readFileSync(join(sampleDir, 'expected.json'), 'utf8')) as Expected;
  });
  after(async () => {
  });

  it('puts the failing payment endpoint first, marked as where failures began, and the checkout 502s as caused by it', () => {
    const [first, second] = model.failures.groups;
    assert.match(first.endpoint, new RegExp(`^shop/${expected.incident.failingService} payments\\.v1\\.Payments/Charge$`));
    assert.equal(first.status, expected.incident.grpcStatus);
    assert.equal(first.origin, true);
    assert.deepEqual(first.evidence, ['gRPC UNAVAILABLE (14): payment provider unreachable']);
    assert.equal(first.failures, 26);
    assert.match(second.endpoint, new RegExp(`POST ${expected.incident.symptom.path.replace(/\//g, '\\/')}$`));
    assert.equal(second.status, expected.incident.symptom.status);
    assert.match(second.causedBy ?? '', /payment-svc/);
    // One of the two evidence texts: the 502 bodies differ only in order and request ids.
    assert.equal(second.evidence.length, 1);
    assert.equal(model.failures.dns, 8);
  });

  it('has every edge of the shop in the map, the unauthenticated edge named, DNS failures apart from search-path NXDOMAIN', () => {
    const edges = new Set(model.map.edges.map((e) => `${e.source} > ${e.destination}`));
    for (const e of expected.summary.endpoints) assert.ok(edges.has(`shop/${e.from} > shop/${e.to}`), `edge ${e.from} → ${e.to}`);
    assert.deepEqual(model.auth.unauthenticated.map((u) => `${u.source} > ${u.destination}`),
      [`shop/${expected.incident.unauthenticatedEdge.from} > shop/${expected.incident.unauthenticatedEdge.to}`]);
    assert.deepEqual(model.dns.failures.map((f) => [f.name, f.client, f.queries]), [[expected.incident.dnsFailure.name, `shop/${expected.incident.dnsFailure.from}`, 8]]);
    assert.ok(model.dns.searchPath.nxdomain > 0);
    assert.equal(model.dns.failedQueries, 8);
    assert.ok(model.dns.searchPath.bases.some((b) => b.base === 'payment-svc.shop.svc.cluster.local' && b.resolvedAs !== null));
    assert.ok(model.timeline.firstFailure);
    assert.equal(model.timeline.buckets[model.timeline.firstFailingBucket!].failures > 0, true);
  });

  it('writes Markdown with tables, a Mermaid map, <details>, and passes markdownlint', async () => {
    assert.match(md, /^# Incident report: sample\n/);
    for (const h of ['## Capture', '## Failures', '## Slowest endpoints', '## Service map', '## Timeline', '## Authentication', '## DNS', '## Failed calls in full']) {
      assert.ok(md.includes(`\n${h}\n`), h);
    }
    assert.match(md, /\n```mermaid\nflowchart LR\n[\s\S]*?\n```\n/);
    assert.match(md, /\| Endpoint \| Cause \| Failed \|/);
    assert.match(md, /\| --- \| --- \| ---: \|/);
    assert.equal((md.match(/<details>/g) ?? []).length, (md.match(/<\/details>/g) ?? []).length);
    assert.ok((md.match(/<details>/g) ?? []).length >= 8);
    assert.match(md, /\*\*failures began here\*\*: shop\/payment-svc payments\.v1\.Payments\/Charge/);
    assert.match(md, /podcap stats failed --by endpoint --sort failures/);
    assert.deepEqual(await lintMarkdown(md), []);
  });

  it('shows no bearer token or cookie of the capture unless --reveal is given', async () => {
    const secrets = secretsOf(w.ws);
    assert.ok(secrets.length >= 2, 'the sample carries tokens');
    for (const s of secrets) {
      assert.ok(!md.includes(s), 'a secret in the Markdown');
      assert.ok(!html.includes(s), 'a secret in the HTML');
    }
    assert.match(md, /authorization: Bearer (\[redacted \d+ chars\]|eyJ\S+\.\[signature redacted\])/);
    const revealed = renderMarkdown(await buildReport(w.ws, { reveal: true }));
    assert.ok(secrets.some((s) => revealed.includes(s)), '--reveal shows them');
  });

  it('renders hostile capture text inert in Markdown and HTML', async () => {
    const bad = poison(model, (_s, p) => `${HOSTILE} ${p}`) as ReportModel;
    // Keep the shapes renderers rely on: times are sliced, mermaid is produced by query/service-map's own escaping.
    bad.map.mermaid = model.map.mermaid;
    const badMd = renderMarkdown(bad);
    // Code blocks and spans show text literally; everything else must be escaped.
    const outsideCode = badMd.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '').replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, '');
    assert.ok(!/<script|<img|<!--|<\/td>/i.test(outsideCode), 'raw HTML from the capture in the Markdown');
    assert.ok(!/(?<!\\)\](\(javascript:)/i.test(outsideCode), 'a link from the capture');
    assert.ok(!/https:\/\/evil/.test(outsideCode), 'a bare URL from the capture');
    assert.deepEqual(await lintMarkdown(badMd), []);
    const badHtml = renderHtml(bad);
    assert.equal((badHtml.match(/<script\b/gi) ?? []).length, 1, 'only the report\'s own script');
    assert.ok(!/<img|<!-- c|<\/details><\/td>/i.test(badHtml));
    assert.ok(badHtml.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.equal(mdText('a|b<c>`d`'), 'a\\|b&lt;c&gt;\\`d\\`');
  });

  it('keeps the HTML self-contained: no external URL in any src, href or url()', () => {
    assert.ok(!/\b(src|href)\s*=\s*["']?(https?:|\/\/)/i.test(html));
    assert.ok(!/url\((?!#)/i.test(html));
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/);
  });

  it('redacts by podcap.yaml\'s redaction rules too, as the MCP server\'s Redactor does', () => {
    const requestId = /x-request-id: (req-[0-9a-z-]+)/.exec(md)?.[1];
    assert.ok(requestId, 'the sample\'s failed calls carry x-request-id');
    const cfg = join(w.dir, 'redact.yaml');
    writeFileSync(cfg, 'redaction:\n  headers: [x-request-id]\n');
    const r = podcap(['report', '--workspace', w.dir, '--config', cfg, '--format', 'md']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(`x-request-id: ${requestId}`));
    assert.match(r.stdout, /x-request-id: \[redacted \d+ chars\]/);
  });

  it('the CLI writes both formats, narrows by filter and window, and exits as documented', () => {
    const out = join(w.dir, 'r.html');
    let r = podcap(['report', '--workspace', w.dir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote the HTML report of sample to .*r\.html/);
    assert.match(readFileSync(out, 'utf8'), /^<!DOCTYPE html>/);
    r = podcap(['report', 'grpc', '--workspace', w.dir, '--format', 'md', '--window', '2026-11-24T19:56:15Z..2026-11-24T19:56:36Z']);
    assert.equal(r.code, 0, r.stderr);
    const inWindow = listCalls(w.ws, { filter: 'grpc && timestamp >= timestamp("2026-11-24T19:56:15Z") && timestamp <= timestamp("2026-11-24T19:56:36Z")', limit: 1000 }).calls.length;
    assert.ok(inWindow > 0);
    assert.ok(r.stdout.includes(`This report covers the ${inWindow} calls matching “grpc” from 2026-11-24T19:56:15.000Z to 2026-11-24T19:56:36.000Z`));
    assert.match(r.stdout, /podcap map grpc --from 2026-11-24T19:56:15\.000Z --to 2026-11-24T19:56:36\.000Z/);
    assert.equal(podcap(['report', '--workspace', w.dir, '--format', 'pdf']).code, 1);
    assert.equal(podcap(['report', '--workspace', w.dir, '--window', 'yesterday']).code, 1);
    assert.equal(podcap(['report', 'status_code >', '--workspace', w.dir]).code, 1);
    assert.equal(podcap(['report', '--workspace', w.dir, '--snapshot', 'nosuch']).code, 4);
    assert.equal(podcap(['report', '--workspace', w.dir, '--out', join(w.dir, 'no', 'such', 'r.md')]).code, 1);
    assert.match(podcap(['report', '--help']).stdout, /--window FROM\.\.TO/);
  });

  it('every command the report suggests runs as printed, on the report\'s snapshots', async () => {
    // A report on a named snapshot: its commands must name it too.
    const named = await buildReport(w.ws, { snapshots: ['sample'] });
    const lines: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.line === 'string' && o.line.startsWith('podcap ')) lines.push(o.line);
        Object.values(o).forEach(walk);
      }
    };
    walk(named);
    const around = lines.find((l) => l.startsWith('podcap timeline ') && l.includes('--around'));
    assert.ok(around, 'the first failure has its timeline command');
    // It names the report's snapshots as the other commands do.
    const snapshotsOf = (l: string): string[] => [...l.matchAll(/--snapshot (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(snapshotsOf(around), [w.id]);
    const script = `podcap() { "${process.execPath}" "${podcapBin}" "$@" --workspace "${w.dir}" >/dev/null; }\n`
      + [...new Set(lines)].map((l) => `${l} || { echo "failed: ${l.replace(/["$`\\]/g, '.')}" >&2; exit 1; }`).join('\n');
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
