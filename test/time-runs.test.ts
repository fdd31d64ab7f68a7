/**
 * The time index in runs (store/time-runs.ts) lists records in the order the per-record index
 * did, (ts, seq) ascending or descending, within any window: checked against a plain sort of
 * made-up records that arrive nearly but not quite in time order, with ties.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../scripts/prng.js';
import { RunBuilder, decodeRun, mergeRuns, type RunSet } from '../src/store/time-runs.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import { suiteWorkspace } from './support/workspace.js';

function made(n: number, seed: number): Array<{ ts: number; seq: number }> {
  const rnd = mulberry32(seed);
  const out: Array<{ ts: number; seq: number }> = [];
  let t = 1_700_000_000_000_000;
  for (let seq = 1; seq <= n; seq++) {
    t += Math.floor(rnd() * 50);
    // Calls finish out of order: a record's start may lie well before the one written before it.
    const ts = rnd() < 0.2 ? t - Math.floor(rnd() * 200_000) : t;
    out.push({ ts, seq });
  }
  return out;
}

/** The runs as the workspace keeps them, counting the runs a merge reads. */
function runsOf(records: Array<{ ts: number; seq: number }>): RunSet & { loads: number } {
  const stored = new Map<number, Buffer>();
  const b = new RunBuilder((chunk, run) => stored.set(chunk, run));
  for (const r of records) b.add(r.seq, r.ts);
  b.flush();
  assert.deepEqual([...stored.keys()], [...Array(stored.size).keys()], 'one run per chunk, in order');
  const set = {
    bounds: decodeRun(b.boundsValue()),
    loads: 0,
    load(chunk: number): Float64Array {
      set.loads++;
      return decodeRun(stored.get(chunk)!);
    },
  };
  return set;
}

describe('time runs', () => {
  const records = made(20_000, 7);
  const runs = runsOf(records);
  const sorted = [...records].sort((a, b) => a.ts - b.ts || a.seq - b.seq);

  it('stores 4096 records per run and lists them all in (ts, seq) order', () => {
    assert.equal(runs.bounds.length, 5 * 3);
    assert.deepEqual([...mergeRuns(runs, -Infinity, Infinity, false)], sorted);
  });

  it('lists in reverse', () => {
    assert.deepEqual([...mergeRuns(runs, -Infinity, Infinity, true)], [...sorted].reverse());
  });

  it('lists a window, both ends included, either way', () => {
    const rnd = mulberry32(11);
    for (let k = 0; k < 20; k++) {
      const a = sorted[Math.floor(rnd() * sorted.length)].ts;
      const b = a + Math.floor(rnd() * 300_000);
      const want = sorted.filter((r) => r.ts >= a && r.ts <= b);
      assert.deepEqual([...mergeRuns(runs, a, b, false)], want);
      assert.deepEqual([...mergeRuns(runs, a, b, true)], [...want].reverse());
    }
    assert.deepEqual([...mergeRuns(runs, 0, 1, false)], []);
  });

  it('reads only the runs a listing reaches', () => {
    // Records in time order: the first 10 pairs lie in the first run alone.
    const ordered = runsOf(Array.from({ length: 20_000 }, (_, i) => ({ ts: 1000 + i, seq: i + 1 })));
    const forward = mergeRuns(ordered, -Infinity, Infinity, false);
    for (let k = 0; k < 10; k++) forward.next();
    assert.equal(ordered.loads, 1);
    const back = mergeRuns(ordered, -Infinity, Infinity, true);
    assert.equal(back.next().value?.seq, 20_000);
    assert.equal(ordered.loads, 2);
  });

  it('equal timestamps come in sequence order', () => {
    const ties = [5, 3, 5, 5, 1].map((ts, i) => ({ ts, seq: i + 1 }));
    assert.deepEqual([...mergeRuns(runsOf(ties), -Infinity, Infinity, false)].map((r) => r.seq), [5, 2, 1, 3, 4]);
  });
});

describe('a snapshot stored before time runs', () => {
  const w = suiteWorkspace('podcap-time-legacy-');

  it('is listed through its per-record time index, either way, within a window', async () => {
    const ws = w.ws;
    const meta = {
      id: 'legacy01', name: null, createdAt: new Date().toISOString(), state: 'importing', pid: process.pid, protoDirs: [],
      sources: [], files: [], skipped: [], inputNotes: [], transactions: 4, firstTs: 10, lastTs: 40, podcapVersion: 'old',
      kubernetes: null, resolution: null,
    } as unknown as SnapshotMeta;
    await ws.begin(meta);
    // What an older podcap wrote: one key per record, [snapshot, ts, seq], and no runs.
    for (const [ts, seq] of [[30, 1], [10, 2], [30, 3], [40, 4]]) await ws.time.put(['legacy01', ts, seq], null);
    await ws.commit(meta);
    assert.deepEqual([...ws.timeOrder('legacy01')].map((p) => p.seq), [2, 1, 3, 4]);
    assert.deepEqual([...ws.timeOrder('legacy01', { reverse: true })].map((p) => p.seq), [4, 3, 1, 2]);
    assert.deepEqual([...ws.timeOrder('legacy01', { from: 20, to: 35 })], [{ ts: 30, seq: 1 }, { ts: 30, seq: 3 }]);
  });
});
