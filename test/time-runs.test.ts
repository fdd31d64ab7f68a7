/**
 * The time index in runs (store/time-runs.ts) lists records in the order the per-record index
 * did, (ts, seq) ascending or descending, within any window: checked against a plain sort of
 * made-up records that arrive nearly but not quite in time order, with ties.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../scripts/prng.js';
import { RunBuilder, decodeRun, mergeRuns } from '../src/store/time-runs.js';

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

function runsOf(records: Array<{ ts: number; seq: number }>): Float64Array[] {
  const stored: Array<[number, Buffer]> = [];
  const b = new RunBuilder((chunk, run) => stored.push([chunk, run]));
  for (const r of records) b.add(r.seq, r.ts);
  b.flush();
  assert.deepEqual(stored.map(([c]) => c), [...Array(stored.length).keys()], 'one run per chunk, in order');
  return stored.map(([, run]) => decodeRun(run));
}

describe('time runs', () => {
  const records = made(20_000, 7);
  const runs = runsOf(records);
  const sorted = [...records].sort((a, b) => a.ts - b.ts || a.seq - b.seq);

  it('stores 4096 records per run and lists them all in (ts, seq) order', () => {
    assert.equal(runs.length, 5);
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

  it('equal timestamps come in sequence order', () => {
    const ties = [5, 3, 5, 5, 1].map((ts, i) => ({ ts, seq: i + 1 }));
    assert.deepEqual([...mergeRuns(runsOf(ties), -Infinity, Infinity, false)].map((r) => r.seq), [5, 2, 1, 3, 4]);
  });
});
