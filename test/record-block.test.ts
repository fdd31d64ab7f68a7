/**
 * Records stored a block at a time (record-block.ts): cut by the records alone, whenever the
 * batches carrying them are sent; every record read back whole, with its bodies, from blocks,
 * from single values, and from both under one key.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Unpackr } from 'msgpackr';
import { listCaptureSources } from '../src/capture/index.js';
import { analyzeCaptures, DEFAULT_ANALYSIS_OPTIONS } from '../src/dissect/pipeline.js';
import type { DissectedTransaction } from '../src/dissect/record.js';
import { BatchWriter, readBatch, type BlockBody } from '../src/store/import-batch.js';
import { BLOCK_BYTES, BLOCK_RECORDS, blockCount, blockRecord, forEachBlockRecord, isRecordBlock } from '../src/store/record-block.js';
import { decodeRecord, encodeRecordWithBodies, INLINE_BODY_MAX } from '../src/store/record-codec.js';
import { newDataKey, txId } from '../src/store/workspace.js';
import { fixturesDir } from './support/paths.js';
import { suiteWorkspace } from './support/workspace.js';

/** The sample's transactions played `times` over, every fifth given a request body too large to keep inline. */
async function transactions(times: number): Promise<DissectedTransaction[]> {
  const { sources } = await listCaptureSources([join(fixturesDir, 'sample', 'capture.pcap')]);
  const once: DissectedTransaction[] = [];
  await analyzeCaptures(sources, (t) => once.push(t), DEFAULT_ANALYSIS_OPTIONS);
  const out: DissectedTransaction[] = [];
  for (let k = 0; k < times; k++) {
    for (const t of once) {
      const big = out.length % 5 === 0 ? Buffer.alloc(INLINE_BODY_MAX + 1 + (out.length % 7), out.length & 0xff) : t.requestBody;
      out.push({ ...t, requestBody: big });
    }
  }
  return out;
}

interface Block {
  value: Buffer;
  count: number;
  bodies: BlockBody[];
}

/** The blocks a writer makes of `txs`, sending its batch after each record `sendAfter` says. */
function blocksOf(txs: DissectedTransaction[], sendAfter: (i: number) => boolean): Block[] {
  const w = new BatchWriter();
  const out: Block[] = [];
  const unpackr = new Unpackr({ useRecords: false });
  const send = (): void => {
    // Copied: a batch's memory is its own once taken, as it is when transferred.
    readBatch(w.take(), {
      block: (value, count, bodies) => out.push({ value: Buffer.from(value), count, bodies: bodies.map((b) => ({ ...b, bytes: Buffer.from(b.bytes) })) }),
      stream: () => undefined,
      chunk: () => undefined,
    }, unpackr);
  };
  txs.forEach((t, i) => {
    w.tx(t.record, t.requestBody, t.responseBody);
    // Other items between the records: they wait behind an open block.
    if (i % 3 === 0) w.stream({ id: i } as never);
    if (sendAfter(i)) send();
  });
  w.endBlock();
  send();
  return out;
}

test('blocks are cut by the records alone: the same blocks whenever the batches go', async () => {
  const txs = await transactions(12);
  assert.ok(txs.length > 4 * BLOCK_RECORDS, `${txs.length} records`);
  const once = blocksOf(txs, () => false);
  const often = blocksOf(txs, (i) => i % 7 === 3);
  const everyRecord = blocksOf(txs, () => true);
  for (const other of [often, everyRecord]) {
    // Counts first, then bytes: a diff of whole blocks would be too large to print.
    assert.deepEqual(other.map((b) => b.count), once.map((b) => b.count), 'blocks of the same records');
    other.forEach((b, i) => {
      assert.ok(b.value.equals(once[i].value), `block ${i}'s bytes`);
      assert.deepEqual(b.bodies, once[i].bodies, `block ${i}'s bodies`);
    });
  }
  let seq = 0;
  for (const b of once) {
    assert.ok(isRecordBlock(b.value));
    assert.equal(blockCount(b.value), b.count);
    assert.ok(b.count <= BLOCK_RECORDS);
    // A block closes at the record that takes it past BLOCK_BYTES, or at BLOCK_RECORDS.
    const sizes: number[] = [];
    forEachBlockRecord(b.value, (start, end) => sizes.push(end - start));
    const before = sizes.slice(0, -1).reduce((a, n) => a + n, 0);
    assert.ok(before < BLOCK_BYTES, 'no record is added past the size');
    for (let i = 0; i < b.count; i++) {
      const t = txs[seq + i];
      const { bytes, inlined } = encodeRecordWithBodies(t.record, t.requestBody, t.responseBody);
      assert.deepEqual(blockRecord(b.value, i), bytes, `record ${seq + i + 1} as encoded alone`);
      const apart = b.bodies.filter((x) => x.index === i);
      const want = [
        ...(!inlined.request && t.requestBody?.length ? [{ index: i, side: 0, bytes: t.requestBody }] : []),
        ...(!inlined.response && t.responseBody?.length ? [{ index: i, side: 1, bytes: t.responseBody }] : []),
      ];
      assert.deepEqual(apart, want, `record ${seq + i + 1}'s bodies apart`);
    }
    assert.equal(blockRecord(b.value, b.count), undefined);
    assert.equal(blockRecord(b.value, -1), undefined);
    seq += b.count;
  }
  assert.equal(seq, txs.length);
  assert.ok(once.some((b) => b.bodies.length > 0), 'some bodies went apart');
});

describe('reading records from blocks and single values', () => {
  const tmp = suiteWorkspace('podcap-block-');

  it('every record and body back, past a block\'s end nothing, single values beside blocks', async () => {
    const { ws } = tmp;
    const txs = await transactions(3);
    const blocks = blocksOf(txs, () => false);
    const key = newDataKey('0badcafe');
    let seq = 0;
    for (const b of blocks) {
      ws.writeBlock(key, seq + 1, b.value, b.bodies);
      seq += b.count;
    }
    // After the blocks, two records written one by one, and a gap of one sequence number before the second.
    const extra = txs.slice(0, 2);
    ws.write(key, seq + 1, extra[0].record, extra[0].requestBody, extra[0].responseBody);
    ws.write(key, seq + 3, extra[1].record, extra[1].requestBody, extra[1].responseBody);
    await ws.tx.flushed;
    await ws.bodies.flushed;
    await ws.snapshots.put('0badcafe', { id: '0badcafe', dataKey: key, state: 'ready' } as never);
    const expect = [...txs, extra[0], null, extra[1]];
    // Out of order too: the kept block must not answer for another.
    const order = expect.map((_, i) => i + 1);
    for (let i = order.length - 1; i > 0; i -= 2) [order[i], order[i - 1]] = [order[i - 1], order[i]];
    for (const s of [...order, ...expect.map((_, i) => i + 1)]) {
      const t = expect[s - 1];
      const r = ws.getRecord('0badcafe', s);
      if (t === null) {
        assert.equal(r, null, `record ${s} was never written`);
        continue;
      }
      assert.ok(r, `record ${s}`);
      const { id: _i, snapshot: _s, ...body } = r;
      assert.deepEqual(body, decodeRecord(encodeRecordWithBodies(t.record, null, null).bytes), `record ${s}`);
      assert.deepEqual(ws.getBody('0badcafe', s, 'request'), t.requestBody?.length ? t.requestBody : null, `record ${s}'s request body`);
      assert.deepEqual(ws.getBody('0badcafe', s, 'response'), t.responseBody?.length ? t.responseBody : null, `record ${s}'s response body`);
    }
    assert.equal(ws.getRecord('0badcafe', expect.length + 1), null);
    assert.equal(ws.getRecord('0badcafe', 0), null);
    const view = ws.openReadView();
    try {
      const all = view.records({ id: '0badcafe', dataKey: key, state: 'ready' } as never);
      assert.deepEqual(all.map((r) => r.id), expect.flatMap((t, i) => (t ? [txId('0badcafe', i + 1)] : [])));
      assert.deepEqual(all.map(({ id: _i, snapshot: _s, ...body }) => body), expect.flatMap((t) => (t ? [decodeRecord(encodeRecordWithBodies(t.record, null, null).bytes)] : [])));
    } finally {
      view.done();
    }
  });
});
