/**
 * What keeps an import's memory flat: reading pauses between chunks for whoever asks (import
 * reopens its workspace there), and a workspace reopened in the middle of an import loses nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { listCaptureSources, readCaptures } from '../src/capture/index.js';
import { importSnapshot } from '../src/store/import.js';
import { fixturesDir } from './support/paths.js';
import { suiteWorkspace } from './support/workspace.js';

/** Reads with small chunks and a `between` that takes a while; checks no packet arrives while it waits. */
async function readPausing(paths: string[]): Promise<{ packets: number; pauses: number; plain: number }> {
  const { sources } = await listCaptureSources(paths);
  let plain = 0;
  await readCaptures(sources, () => plain++, { chunkSize: 16 * 1024 });
  let packets = 0;
  let pauses = 0;
  let waiting = false;
  await readCaptures(sources, () => {
    assert.equal(waiting, false, 'no packet while between() is pending');
    packets++;
  }, {
    chunkSize: 16 * 1024,
    between: () => {
      pauses++;
      waiting = true;
      return new Promise<void>((res) => setTimeout(() => {
        waiting = false;
        res();
      }, 1));
    },
  });
  return { packets, pauses, plain };
}

describe('reading pauses between chunks', () => {
  it('one file: every packet still read, reading waits for each pause', async () => {
    const r = await readPausing([join(fixturesDir, 'sample', 'capture.pcap')]);
    assert.ok(r.pauses > 2, `paused ${r.pauses} times`);
    assert.equal(r.packets, r.plain);
  });

  it('several files merged in time order: the same', async () => {
    const r = await readPausing([join(fixturesDir, 'nodes')]);
    assert.ok(r.pauses > 2, `paused ${r.pauses} times`);
    assert.equal(r.packets, r.plain);
  });
});

describe('a workspace reopened in the middle of an import', () => {
  const tmp = suiteWorkspace('podcap-reopen-');

  it('keeps what was written before and after, and the snapshot commits whole', async () => {
    const { ws } = tmp;
    const ref = await importSnapshot(ws, [join(fixturesDir, 'sample')], { thread: 'never' });
    const records = Array.from({ length: ref.transactions }, (_, i) => ws.getRecord(ref.id, i + 1)!);
    const meta = { ...ref, id: 'reopened', name: 'reopened', state: 'importing' as const, pid: process.pid };
    await ws.begin(meta);
    const summary = ws.summaryWriter(meta.id);
    for (let i = 0; i < records.length; i++) {
      const { id: _i, snapshot: _s, ...r } = records[i];
      ws.write(meta.id, i + 1, r, ws.getBody(ref.id, i + 1, 'request'), ws.getBody(ref.id, i + 1, 'response'));
      summary.add(i + 1, r);
      if (i % 100 === 50) await ws.reopen();
    }
    summary.finish();
    await ws.commit(meta);
    const again = ws.resolveSnapshot('reopened');
    assert.equal(again.transactions, ref.transactions);
    for (let i = 1; i <= ref.transactions; i++) {
      const { id: _a, snapshot: _b, ...x } = ws.getRecord('reopened', i)!;
      const { id: _c, snapshot: _d, ...y } = records[i - 1];
      assert.deepEqual(x, y, `record ${i}`);
      assert.deepEqual(ws.getBody('reopened', i, 'response'), ws.getBody(ref.id, i, 'response'));
    }
    assert.deepEqual(ws.summary(again).chunk(0), ws.summary(ref).chunk(0));
  });
});

describe('when a long import reopens its workspace', () => {
  it('once the pages mapped pass the threshold over the start, and not again before they grow further', async () => {
    const { ReopenTrigger } = await import('../src/store/import.js');
    const MB = 1 << 20;
    const t = new ReopenTrigger(44 * MB, 64 * MB, 32 * MB);
    assert.equal(t.due(100 * MB), false);
    assert.equal(t.due(108 * MB), true);
    // Pages read again at once stay mapped after the reopen: the next one comes at the threshold
    // over the start all the same, not at the threshold over what stayed.
    t.reopened(70 * MB);
    assert.equal(t.due(107 * MB), false);
    assert.equal(t.due(108 * MB), true);
    // Had the reopen released little, it waits for more growth rather than reopening at every check.
    t.reopened(110 * MB);
    assert.equal(t.due(120 * MB), false);
    assert.equal(t.due(142 * MB), true);
  });
});
