/**
 * The sample incident's HTML report in a real browser (Debian's chromium driven by
 * playwright-core): what a reader sees at desktop and phone width, the page's own
 * script and no other, the Markdown report's Mermaid block parsed by Mermaid
 * itself, and a report full of hostile capture text that runs nothing. Screenshots
 * go to test-artifacts/. Skipped, saying why, when no chromium is installed
 * (.ci/run installs it, so CI runs it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildReport, type ReportModel } from '../src/report/model.js';
import { renderHtml } from '../src/report/html.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { poison } from './support/report.js';
import { repoRoot } from './support/paths.js';
import { sampleDir, sampleSkip, suiteSample } from './support/workspace.js';

const CANDIDATES = [process.env.PODCAP_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
const chromiumPath = CANDIDATES.find((p) => existsSync(p)) ?? null;
const skip = !chromiumPath
  ? `no chromium found (looked at ${CANDIDATES.join(', ')}): apt-get install chromium, or set PODCAP_CHROMIUM`
  : sampleSkip;
if (skip) process.stderr.write(`report-browser.test: skipped: ${skip}\n`);

const artifacts = join(repoRoot, 'test-artifacts');
const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)><svg onload=alert(3)></svg>"\'><a href="javascript:alert(4)">x</a>';

describe('the HTML report in headless Chromium', { skip }, () => {
  const w = suiteSample('podcap-browser-', { protoDirs: [join(sampleDir, 'protos')] });
  let browser: Browser;
  let model: ReportModel;
  let file = '';
  const problems: string[] = [];

  before(async () => {
    model = await buildReport(w.ws, {});
    file = join(w.dir, 'report.html');
    writeFileSync(file, renderHtml(model));
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
  });

  async function open(width: number, path = file): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`request to ${r.url()}`); });
    await page.goto(pathToFileURL(path).href);
    return page;
  }

  it('shows the failing payment endpoint at the top of the failures, where failures began', async () => {
    const page = await open(1280);
    const first = page.locator('#failures-table tbody tr').first();
    assert.ok(await first.isVisible());
    const text = await first.innerText();
    assert.match(text, /failures began here/);
    assert.match(text, /shop\/payment-svc payments\.v1\.Payments\/Charge/);
    assert.match(text, /gRPC UNAVAILABLE \(14\)/);
    assert.match(text, /payment provider unreachable/);
    assert.match(await page.locator('#failures-table tbody tr').nth(1).innerText(), /POST \/api\/checkout[\s\S]*caused by shop\/payment-svc/);
    // The at-a-glance list says it before any table.
    assert.match(await page.locator('main > section.callout').first().innerText(), /Failing: shop\/payment-svc payments\.v1\.Payments\/Charge/);
    // The table sorts by a column when its header is clicked.
    await page.locator('#failures-table thead th', { hasText: 'Failed' }).locator('button').click();
    assert.equal(await page.locator('#failures-table thead th[aria-sort]').count(), 1);
    await page.screenshot({ path: join(artifacts, 'report-sample-desktop.png'), fullPage: true });
    await page.close();
    assert.deepEqual(problems, []);
  });

  it('draws the service map with every edge of the shop, the unauthenticated one dashed and named', async () => {
    const page = await open(1280);
    const map = page.locator('svg.map');
    assert.ok(await map.isVisible());
    const box = (await map.boundingBox())!;
    const edges = await page.locator('svg.map .edge-label').evaluateAll((els) => els.map((e) => e.getAttribute('data-edge')));
    const want = ['shop/frontend → shop/checkout', 'shop/checkout → shop/inventory', 'shop/checkout → shop/payment-svc',
      'shop/frontend → kube-system/kube-dns', 'shop/checkout → kube-system/kube-dns'];
    assert.deepEqual([...edges].sort(), [...want].sort());
    for (const name of ['shop/frontend', 'shop/checkout', 'shop/inventory', 'shop/payment-svc', 'kube-system/kube-dns']) {
      const node = page.locator(`svg.map g.node[data-node="${name}"]`);
      assert.ok(await node.isVisible(), name);
      const b = (await node.boundingBox())!;
      assert.ok(b.x >= box.x - 1 && b.x + b.width <= box.x + box.width + 1, `${name} inside the map`);
      assert.equal(await node.locator('text').textContent(), name);
    }
    // Failing edges drawn red, the edge without credentials dashed; the words say so too.
    assert.equal(await page.locator('svg.map path.edge.fail').count(), 3);
    assert.equal(await page.locator('svg.map path.edge.noauth').count(), 1);
    assert.match(await page.locator('svg.map .edge-label.noauth').textContent() ?? '', /no credentials/);
    assert.match(await page.locator('svg.map desc').textContent() ?? '', /shop\/checkout calls shop\/inventory over http2: 240 calls, 0 failed, no credentials/);
    assert.deepEqual(await page.locator('#unauthenticated li').allInnerTexts(), ['shop/checkout → shop/inventory (http2, 240 calls)']);
    await page.locator('svg.map').screenshot({ path: join(artifacts, 'report-sample-map.png') });
    await page.close();
  });

  it('marks the first failure on the timeline', async () => {
    const page = await open(1280);
    const mark = page.locator('svg.timeline .first-failure');
    assert.ok(await mark.isVisible());
    const first = model.timeline.firstFailure!;
    assert.equal(await mark.locator('text').textContent(), `first failure ${first.time.slice(11, 23)}`);
    assert.match(await page.locator('#first-failure').innerText(), new RegExp(`First failure: ${first.time.replace(/\./g, '\\.')}`));
    // The marker sits over the bucket that holds the first failure.
    const line = (await mark.locator('line').boundingBox())!;
    const bars = page.locator('svg.timeline g.bucket');
    const bucket = (await bars.nth(model.timeline.firstFailingBucket!).boundingBox())!;
    assert.ok(line.x >= bucket.x - 2 && line.x <= bucket.x + bucket.width + 2, `marker at ${line.x}, bucket ${bucket.x}..${bucket.x + bucket.width}`);
    assert.ok(await page.locator('svg.timeline rect.failed').count() >= 10);
    await page.close();
  });

  it('fits a phone: nothing overflows the page body sideways', async () => {
    const page = await open(390);
    const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(scroll <= client, `page is ${scroll}px wide in a ${client}px viewport`);
    assert.ok(await page.locator('#failures-table tbody tr').first().isVisible());
    assert.ok(((await page.locator('svg.map').boundingBox())!.width) <= client);
    await page.screenshot({ path: join(artifacts, 'report-sample-phone.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('nav').isVisible(), false);
    await page.close();
    assert.deepEqual(problems, []);
  });

  it('runs nothing from the capture: hostile text stays text', async () => {
    const hostile = join(w.dir, 'hostile.html');
    const bad = poison(model, (str) => `${HOSTILE}${str}`) as ReportModel;
    writeFileSync(hostile, renderHtml(bad));
    const before = problems.length;
    const page = await open(1024, hostile);
    const counts = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
      links: document.querySelectorAll('a[href^="javascript:"]').length,
      handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
    }));
    assert.deepEqual(counts, { scripts: 1, imgs: 0, links: 0, handlers: 0 });
    assert.match(await page.locator('h1').innerText(), /<script>alert\(1\)<\/script>/);
    await page.close();
    assert.deepEqual(problems.slice(before), []);
  });

  it('the Markdown report\'s Mermaid map parses with Mermaid', async () => {
    const md = renderMarkdown(model);
    const block = /```mermaid\n([\s\S]*?)\n```/.exec(md)?.[1];
    assert.ok(block);
    const page = await browser.newPage();
    await page.setContent('<!DOCTYPE html><html><body></body></html>');
    await page.addScriptTag({ path: join(repoRoot, 'node_modules', 'mermaid', 'dist', 'mermaid.min.js') });
    const result = await page.evaluate(async (text) => {
      const m = (globalThis as unknown as { mermaid: { parse: (t: string) => Promise<unknown> } }).mermaid;
      try {
        return JSON.stringify(await m.parse(text));
      } catch (e) {
        return `error: ${(e as Error).message}`;
      }
    }, block);
    assert.match(result, /"diagramType":"flowchart/);
    const broken = await page.evaluate(async (text) => {
      const m = (globalThis as unknown as { mermaid: { parse: (t: string) => Promise<unknown> } }).mermaid;
      try {
        await m.parse(text);
        return 'parsed';
      } catch {
        return 'rejected';
      }
    }, `${block}\n  n_x -->|"unclosed| n_y[`);
    assert.equal(broken, 'rejected', 'the parser does reject a broken flowchart');
    await page.close();
  });
});
