/**
 * Import's analysis thread (store/import-thread.ts) stores what a single-threaded import stores:
 * the same records under the same sequence numbers, bodies, connections, summary, counts and
 * Kubernetes resolution; and its failures are the same failures.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError, fileSource, listCaptureSources } from '../src/capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures } from '../src/dissect/pipeline.js';
import { analyzeInThread } from '../src/store/import-thread.js';
import { importSnapshot, type ImportOptions } from '../src/store/import.js';
import { dissectionSettings } from '../src/config/apply.js';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { Workspace } from '../src/store/workspace.js';
import { fixturesDir } from './support/paths.js';

interface Stored {
  meta: Omit<SnapshotMeta, 'id' | 'createdAt' | 'pid'>;
  records: unknown[];
  conns: unknown[];
  chunks: unknown[];
  postings: unknown[];
  dicts: unknown[];
}

/** Everything a snapshot stored, without what differs by run (id, times). */
function stored(ws: Workspace, meta: SnapshotMeta): Stored {
  const { id, createdAt, pid, ...rest } = meta;
  const records: unknown[] = [];
  for (let seq = 1; seq <= meta.transactions; seq++) {
    const r = ws.getRecord(id, seq);
    assert.ok(r, `record ${seq}`);
    const { id: _i, snapshot: _s, ...body } = r;
    records.push([body, ws.getBody(id, seq, 'request'), ws.getBody(id, seq, 'response')]);
  }
  const range = { start: [id], end: [`${id}\u0000`] };
  const { sum, post, dict } = ws.summaryDbs;
  return {
    meta: { ...rest, report: { ...rest.report, durationMs: 0 } },
    records,
    conns: [...ws.conns.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    chunks: [...sum.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    postings: [...post.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
    dicts: [...dict.getRange(range as never)].map((e) => [e.key.slice(1), e.value]),
  };
}

describe('import on two threads stores what import on one does', () => {
  let dir: string;
  let ws: Workspace;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'podcap-import-thread-'));
    ws = await Workspace.open(dir);
  });
  after(async () => {
    await ws.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fourxx = { file: null, settings: dissectionSettings({ ...DEFAULT_SETTINGS, failed: { http: '4xx' as const, rules: [] } }, []) };
  const cases: Array<[string, string[], ImportOptions?]> = [
    ['the sample incident with 4xx counted as failures (the failure rules applied in the thread)', [join(fixturesDir, 'sample')], { config: fourxx }],
    ['the sample incident, with its manifest (endpoints named in the thread)', [join(fixturesDir, 'sample')]],
    ['DNS over UDP, search paths decided across queries', [join(fixturesDir, 'dns', 'dns.pcap')]],
    ['HTTP/2 and gRPC', [join(fixturesDir, 'h2', 'h2c-prior-knowledge.pcap'), join(fixturesDir, 'grpc', 'grpc.pcap')]],
    ['two nodes, one pcapng, with a VXLAN underlay', [join(fixturesDir, 'nodes')]],
    ['a capture cut short (imported with damage counted)', [join(fixturesDir, 'damaged', 'cut.pcap')]],
  ];
  for (const [name, paths, opts] of cases) {
    it(name, async () => {
      const one = await importSnapshot(ws, paths, { ...opts, thread: 'never' });
      const two = await importSnapshot(ws, paths, { ...opts, thread: 'always', exclusive: true });
      assert.ok(one.transactions > 0 || name.includes('cut'), 'the fixture has transactions');
      if (opts?.config) assert.ok(one.report.failed > 0, 'the rules made some calls failed');
      const a = stored(ws, one);
      const b = stored(ws, two);
      assert.deepEqual(b.meta, a.meta);
      assert.equal(b.records.length, a.records.length);
      for (let i = 0; i < a.records.length; i++) assert.deepEqual(b.records[i], a.records[i], `record ${i + 1}`);
      assert.deepEqual(b.conns, a.conns);
      assert.deepEqual(b.chunks, a.chunks);
      assert.deepEqual(b.postings, a.postings);
      assert.deepEqual(b.dicts, a.dicts);
    });
  }

  it('a capture that fails during the pass (gone since it was listed) fails the same way on both, with a CaptureError', async () => {
    const gone = fileSource(join(dir, 'gone.pcap'));
    const outcome = async (run: () => Promise<unknown>): Promise<Error> => {
      try {
        await run();
      } catch (e) {
        return e as Error;
      }
      assert.fail('the pass should fail');
    };
    const single = await outcome(() => analyzeCaptures([gone], () => undefined, DEFAULT_ANALYSIS_OPTIONS));
    const threaded = await outcome(() => analyzeInThread([gone], null, { http: "5xx", rules: [] }, DEFAULT_ANALYSIS_OPTIONS, { store: () => undefined, onStream: () => undefined }));
    assert.ok(single instanceof CaptureError, String(single));
    assert.ok(threaded instanceof CaptureError, String(threaded));
    assert.equal(threaded.message, single.message);
    assert.equal((threaded as CaptureError).path, (single as CaptureError).path);
  });

  it('a store that throws stops the thread with its error', async () => {
    const paths = [join(fixturesDir, 'dns', 'dns.pcap')];
    await assert.rejects(
      analyzeInThread((await listCaptureSources(paths)).sources, null, { http: "5xx", rules: [] }, DEFAULT_ANALYSIS_OPTIONS, {
        store: () => {
          throw new Error('disk full');
        },
        onStream: () => undefined,
      }),
      /disk full/,
    );
  });
});
