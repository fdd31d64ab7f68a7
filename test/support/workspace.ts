import { after, before } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importSnapshot, type ImportOptions } from '../../src/store/import.js';
import assert from 'node:assert/strict';
import type { SnapshotMeta } from '../../src/store/snapshot.js';
import { Workspace } from '../../src/store/workspace.js';
import { fixturesDir } from './paths.js';

/**
 * A workspace in a fresh directory for the enclosing describe: opened before its tests, closed
 * and removed after them. Read `ws` and `dir` inside the tests (they are set by then).
 */
export function suiteWorkspace(prefix: string): { readonly dir: string; readonly ws: Workspace } {
  const held = {} as { dir: string; ws: Workspace };
  before(async () => {
    held.dir = mkdtempSync(join(tmpdir(), prefix));
    held.ws = await Workspace.open(held.dir);
  });
  after(async () => {
    await held.ws.close();
    rmSync(held.dir, { recursive: true, force: true });
  });
  return held;
}

/** The sample incident's directory, and the skip reason for tests that need it when it has not been made. */
export const sampleDir = join(fixturesDir, 'sample');
export const sampleSkip: string | false = existsSync(join(sampleDir, 'capture.pcap')) ? false : 'fixtures/sample not made yet';

/**
 * suiteWorkspace with the sample incident imported as snapshot "sample" before the suite's own
 * hooks run; `id` is its snapshot id.
 */
export function suiteSample(prefix: string, opts: ImportOptions = {}): { readonly dir: string; readonly ws: Workspace; readonly id: string } {
  const held = suiteWorkspace(prefix) as { dir: string; ws: Workspace; id: string };
  before(async () => {
    held.id = (await importSnapshot(held.ws, [sampleDir], { name: 'sample', ...opts })).id;
  });
  return held;
}

export interface Stored {
  meta: Omit<SnapshotMeta, 'id' | 'createdAt' | 'pid' | 'dataKey'>;
  records: unknown[];
  values: unknown[];
  bodies: unknown[];
  conns: unknown[];
  chunks: unknown[];
  postings: unknown[];
  dicts: unknown[];
}

/** Everything a snapshot stored, without what differs by run (id, times). */
export function stored(ws: Workspace, meta: SnapshotMeta): Stored {
  const { id, createdAt, pid, dataKey: _d, ...rest } = meta;
  const key = ws.dataKey(meta);
  const records: unknown[] = [];
  for (let seq = 1; seq <= meta.transactions; seq++) {
    const r = ws.getRecord(id, seq);
    assert.ok(r, `record ${seq}`);
    const { id: _i, snapshot: _s, ...body } = r;
    records.push([body, ws.getBody(id, seq, 'request'), ws.getBody(id, seq, 'response')]);
  }
  const range = { start: [key], end: [`${key}\u0000`] };
  const { sum, post, dict } = ws.summaryDbs;
  return {
    meta: { ...rest, report: { ...rest.report, durationMs: 0 } },
    records,
    // The stored bytes too: both ways cut the same blocks and keep the same bodies inside records.
    values: [...ws.tx.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    bodies: [...ws.bodies.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    conns: [...ws.conns.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    chunks: [...sum.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    postings: [...post.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    dicts: [...dict.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
  };
}
