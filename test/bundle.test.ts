/**
 * `podcap bundle` on the sample incident: the payment outage's window cut out as
 * a .tar.gz, imported again by podcap (its manifest found beside the capture)
 * gives exactly the window's calls, named as before; tshark reads its capture,
 * whose packets carry the original capture's timestamps.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransactionRecord } from '../src/dissect/record.js';
import { importSnapshot } from '../src/store/import.js';
import { Workspace } from '../src/store/workspace.js';
import { listCalls } from '../src/query/calls.js';
import { writeBundle, type BundleResult } from '../src/report/bundle.js';
import { podcap } from './support/cli.js';
import { sampleDir, sampleSkip, suiteSample } from './support/workspace.js';

const tshark = spawnSync('tshark', ['--version']).status === 0;

interface Phase { name: string; startUs: number; endUs: number }

function all(ws: Workspace, filter: string, snapshot: string): TransactionRecord[] {
  const out: TransactionRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = listCalls(ws, { filter, snapshots: [snapshot], limit: 1000, cursor });
    out.push(...page.calls);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** What a call is, apart from the snapshot it is stored in. */
function key(r: TransactionRecord): string {
  const end = (e: TransactionRecord['src']): string => `${e.ip}:${e.port} ${e.kind} ${e.namespace ?? ''}/${e.name ?? ''} ${e.workload?.name ?? ''} ${e.service?.name ?? ''}`;
  return [r.timestamp, r.protocol, end(r.src), end(r.dst), r.request.method, r.request.path, r.status, r.failed, r.elapsedTime, r.evidence ?? ''].join(' | ');
}

describe('podcap bundle on the sample incident', { skip: sampleSkip }, () => {
  const w = suiteSample('podcap-bundle-');
  let outage: Phase;
  let bundle: BundleResult;
  let out = '';
  let extracted = '';

  before(async () => {
    const expected = JSON.parse(readFileSync(join(sampleDir, 'expected.json'), 'utf8')) as { phases: Phase[] };
    outage = expected.phases.find((p) => p.name === 'payment-outage')!;
    out = join(w.dir, 'outage.tar.gz');
    bundle = await writeBundle(w.ws, { window: { from: outage.startUs, to: outage.endUs }, out });
    extracted = join(w.dir, 'x');
    mkdirSync(extracted);
    assert.equal(spawnSync('tar', ['xzf', out, '-C', extracted]).status, 0);
  });
  after(async () => {
  });

  it('holds the capture, the manifest subset, both reports, a README and the cut as data', () => {
    assert.deepEqual(bundle.files, ['README.md', 'capture.pcapng', 'cluster.yaml', 'report.md', 'report.html', 'podcap-bundle.json']);
    for (const f of bundle.files) assert.ok(existsSync(join(extracted, f)), f);
    const readme = readFileSync(join(extracted, 'README.md'), 'utf8');
    assert.match(readme, new RegExp(`from snapshot ${w.id} \\(sample\\)`));
    assert.ok(readme.includes(bundle.selectAgain));
    const info = JSON.parse(readFileSync(join(extracted, 'podcap-bundle.json'), 'utf8')) as { parents: Array<{ id: string }>; transactions: number };
    assert.deepEqual(info.parents.map((p) => p.id), [w.id]);
    const inWindow = all(w.ws, '', w.id).filter((r) => r.timestamp >= outage.startUs && r.timestamp <= outage.endUs);
    assert.equal(info.transactions, inWindow.length);
    assert.match(readFileSync(join(extracted, 'report.md'), 'utf8'), /from 2026-11-24T19:56:15\.476Z to 2026-11-24T19:56:35\.501Z/);
    assert.match(readFileSync(join(extracted, 'cluster.yaml'), 'utf8'), /^apiVersion: v1\nkind: List\n/);
    assert.ok(bundle.manifest && bundle.manifest.Pod >= 2 && bundle.manifest.Service >= 2);
  });

  it('imports again to exactly the window\'s calls, named as in the parent', async () => {
    const child = await importSnapshot(w.ws, [out], { name: 'outage' });
    assert.ok(child.kubernetes?.discovered, 'the manifest beside the capture is found');
    assert.equal(child.resolution?.unknownPrivateCount, 0);
    const want = all(w.ws, '', w.id).filter((r) => r.timestamp >= outage.startUs && r.timestamp <= outage.endUs).map(key);
    const got = all(w.ws, bundle.selectAgain, child.id).map(key);
    assert.ok(want.length > 100);
    assert.deepEqual(got, want);
    // Whole connections: the calls outside the window in the bundle are the parent's, too.
    const parentKeys = new Set(all(w.ws, '', w.id).map(key));
    for (const k of all(w.ws, '', child.id).map(key)) assert.ok(parentKeys.has(k), k);
  });

  it('has a capture tshark reads, with the original packets\' timestamps', { skip: tshark ? false : 'tshark not installed' }, () => {
    const times = (file: string): string[] => {
      const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n');
    };
    const bundled = times(join(extracted, 'capture.pcapng'));
    assert.equal(bundled.length, bundle.packets);
    const original = new Set(times(join(sampleDir, 'capture.pcap')));
    for (const t of bundled) assert.ok(original.has(t), `a packet at ${t} not in the original capture`);
  });

  it('the CLI writes a bundle and refuses bad arguments with the documented exit codes', () => {
    const cli = join(w.dir, 'cli.tar.gz');
    const r = podcap(['bundle', 'grpc && failed', '--workspace', w.dir, '--snapshot', w.id, '--out', cli]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*cli\.tar\.gz \(\d+ bytes\): 26 calls on 1 connections/);
    assert.equal(podcap(['bundle', '--workspace', w.dir]).code, 1);
    assert.equal(podcap(['bundle', '--workspace', w.dir, '--out', join(w.dir, 'x.zip')]).code, 1);
    assert.equal(podcap(['bundle', '--workspace', w.dir, '--snapshot', 'nosuch', '--out', cli]).code, 4);
    assert.equal(podcap(['bundle', '--workspace', w.dir, '--out', join(w.dir, 'no', 'dir', 'b.tar.gz')]).code, 1);
    assert.match(podcap(['bundle', '--help']).stdout, /--out FILE\.tar\.gz/);
  });
});
