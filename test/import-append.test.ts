/**
 * Import's records go into LMDB with append (Workspace.beginAppend): pages filled rather than
 * split in half, and, when another writer's greater key made LMDB refuse appends, the loss seen
 * and the pass run again with plain puts, storing what one undisturbed import stores.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { importSnapshot } from '../src/store/import.js';
import { encodeRecord } from '../src/store/record-codec.js';
import { newDataKey } from '../src/store/workspace.js';
import { fixturesDir } from './support/paths.js';
import { stored, suiteWorkspace } from './support/workspace.js';

const sample = join(fixturesDir, 'sample');

/** Bytes of tx's leaf pages over bytes of its records (keys and values): how full its pages are. */
function fill(ws: { tx: { getStats(): unknown; getRange(o: object): Iterable<{ value: Buffer }> } }): number {
  const s = ws.tx.getStats() as { treeLeafPageCount: number; pageSize: number };
  let bytes = 0;
  for (const { value } of ws.tx.getRange({})) bytes += value.length + 16;
  return bytes / (s.treeLeafPageCount * s.pageSize);
}

describe('import appends its records', () => {
  const tmp = suiteWorkspace('podcap-append-');

  it('each new import sorts after the last and fills its pages', async () => {
    const first = await importSnapshot(tmp.ws, [sample], { thread: 'never' });
    const second = await importSnapshot(tmp.ws, [sample], { thread: 'always', exclusive: true });
    assert.ok(tmp.ws.dataKey(second) > tmp.ws.dataKey(first), `${tmp.ws.dataKey(second)} after ${tmp.ws.dataKey(first)}`);
    assert.ok(tmp.ws.dataKey(first) > 'ffffffff', 'after every bare id, the keys of snapshots imported before data keys');
    const f = fill(tmp.ws);
    // Split in half at every page's end, records of this size left pages about half full.
    assert.ok(f > 0.75, `pages ${(f * 100).toFixed(0)}% full`);
    assert.deepEqual(stored(tmp.ws, second).records, stored(tmp.ws, first).records);
  });

  it('a refused append is seen: the pass runs again with plain puts and stores what an undisturbed import does', async () => {
    const ws = tmp.ws;
    const undisturbed = await importSnapshot(ws, [sample], { thread: 'never' });
    // Another writer's greater key, put before this import's first block: LMDB refuses every append after it.
    const realBegin = ws.beginAppend.bind(ws);
    let intruder: string | null = null;
    ws.beginAppend = (key: string): boolean => {
      const ok = realBegin(key);
      intruder = `${key}~intruder`;
      const real = ws.writeBlock.bind(ws);
      ws.writeBlock = (snapshot, first, block, bodies) => {
        if (first === 1) void ws.tx.put([intruder!, 1], encodeRecord({ ...ws.getRecord(undisturbed.id, 1)!, id: undefined, snapshot: undefined } as never));
        real(snapshot, first, block, bodies);
      };
      return ok;
    };
    const ends: boolean[] = [];
    const realEnd = ws.endAppend.bind(ws);
    ws.endAppend = async (key) => {
      const whole = await realEnd(key);
      ends.push(whole);
      return whole;
    };
    try {
      const disturbed = await importSnapshot(ws, [sample], { thread: 'never' });
      assert.deepEqual(ends, [false], 'the appended pass was checked, and found short');
      assert.equal(disturbed.transactions, undisturbed.transactions);
      const a = stored(ws, undisturbed);
      const b = stored(ws, disturbed);
      assert.deepEqual(b.meta, a.meta);
      assert.deepEqual(b.records, a.records);
      assert.deepEqual(b.chunks, a.chunks);
      assert.deepEqual(b.postings, a.postings);
      assert.deepEqual(b.conns, a.conns);
    } finally {
      delete (ws as { beginAppend?: unknown }).beginAppend;
      delete (ws as { endAppend?: unknown }).endAppend;
      delete (ws as { writeBlock?: unknown }).writeBlock;
      if (intruder) await ws.tx.remove([intruder, 1]);
    }
  });

  it('data keys sort in time order after bare ids', () => {
    const keys = [newDataKey('ffffffff', 1_000), newDataKey('00000000', 1_001), newDataKey('12345678', 4_102_444_800_000)];
    assert.deepEqual([...keys].sort(), keys);
    assert.ok(keys.every((k) => k > 'ffffffff~99'), 'after bare ids and their re-dissections');
  });
});
