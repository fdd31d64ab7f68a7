/** Import with a cluster manifest: named, found beside the captures, broken, or matching nothing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { fixturesDir, repoRoot } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

const manifest = (f: string): string => join(repoRoot, 'test', 'fixtures-k8s', f);
const capture = join(fixturesDir, 'http1', 'sample.pcapng');

describe('import with a manifest', () => {
  it('a broken YAML manifest is refused with its file and line, exit 2, nothing imported', () => {
    const ws = tempWorkspace();
    try {
      const r = podcap(['import', capture, '--manifest', manifest('broken.yaml'), '-w', ws.dir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /broken\.yaml at line \d+/);
      assert.equal(JSON.parse(podcap(['snapshots', '--json', '-w', ws.dir]).stdout).length, 0);
    } finally {
      ws.cleanup();
    }
  });

  it('a manifest that matches no address of the capture warns, with the counts', () => {
    const ws = tempWorkspace();
    try {
      const r = podcap(['import', capture, '--manifest', manifest('cluster.yaml'), '-w', ws.dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kubernetes: \d+ pods, \d+ services/);
      assert.match(r.stdout, /the manifest matches no address of the capture/);
      const meta = (JSON.parse(podcap(['snapshots', '--json', '-w', ws.dir]).stdout) as SnapshotMeta[])[0];
      assert.ok(meta.kubernetes && meta.kubernetes.summary.pods > 0);
      assert.equal(meta.resolution?.endpoints.external, meta.transactions * 2);
      assert.ok(meta.resolution!.unknownPrivateCount > 0, 'loopback addresses are private and unknown');
    } finally {
      ws.cleanup();
    }
  });

  it('no manifest is fine: addresses stay external, the report says so', () => {
    const ws = tempWorkspace();
    try {
      const r = podcap(['import', capture, '-w', ws.dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kubernetes: no manifest/);
    } finally {
      ws.cleanup();
    }
  });

  it('a manifest beside the captures in a directory is found and used without --manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podcap-snap-'));
    const ws = tempWorkspace();
    try {
      cpSync(capture, join(dir, 'node-a.pcapng'));
      cpSync(manifest('cluster.yaml'), join(dir, 'cluster.yaml'));
      cpSync(manifest('broken.yaml'), join(dir, 'notes.yaml'));
      const r = podcap(['import', dir, '--json', '-w', ws.dir]);
      assert.equal(r.code, 0, r.stderr);
      const meta = JSON.parse(r.stdout) as SnapshotMeta;
      assert.ok(meta.kubernetes, 'a manifest was found');
      assert.equal(meta.kubernetes.discovered, true);
      assert.deepEqual(meta.kubernetes.files.map((f) => f.split('/').pop()), ['cluster.yaml']);
      assert.ok(meta.kubernetes.notes.some((n) => /notes\.yaml/.test(n)), 'the broken side file is noted, not fatal');
    } finally {
      ws.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
