/**
 * The feed between a two-thread import's reading and dissecting threads (store/import-feed.ts):
 * whatever the reading half hands its target, the far side of the feed hands its own target the
 * same, in the same order, with the connection as the dissectors would read it at that moment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { listCaptureSources } from '../src/capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, readPass, type PassTarget } from '../src/dissect/pipeline.js';
import type { StreamHandler, TcpConnection, TcpEndpoint } from '../src/net/tcp-reassembly.js';
import { FeedReplay, FeedWriter } from '../src/store/import-feed.js';
import { fixturesDir } from './support/paths.js';

/** The connection as a dissector sees it now. */
function seen(c: TcpConnection): unknown {
  return {
    id: c.id, client: { ...c.client }, server: { ...c.server }, roles: c.roles, firstTs: c.firstTs, lastTs: c.lastTs,
    packets: [...c.packets], bytes: [...c.bytes], gapBytes: [...c.gapBytes], rsts: c.rsts, midstream: c.midstream,
    reassembledBytes: [...c.reassembledBytes], retransmittedBytes: [...c.retransmittedBytes], files: [...c.files], duplicateOf: c.duplicateOf,
  };
}

/** A target that writes down every call. What it records of a connection mid-way is what the dissectors read then. */
function recorder(log: unknown[]): PassTarget {
  return {
    stream: (conn: TcpConnection): StreamHandler => {
      log.push(['open', conn.id, { ...conn.client }, { ...conn.server }, conn.roles, conn.firstTs, conn.files[0], conn.duplicateOf]);
      return {
        data: (dir, bytes, ts) => log.push(['data', conn.id, dir, ts, conn.midstream, Buffer.from(bytes).toString('base64')]),
        gap: (dir, length, ts) => log.push(['gap', conn.id, dir, length, ts]),
        end: (reason, ts) => log.push(['end', reason, ts, seen(conn)]),
      };
    },
    dns: (payload: Buffer, ts: number, src: TcpEndpoint, dst: TcpEndpoint, flow: number, file: number) =>
      log.push(['dns', payload.toString('base64'), ts, { ...src }, { ...dst }, flow, file]),
    tick: (ts: number) => log.push(['tick', ts]),
  };
}

const CASES: Array<[string, string[]]> = [
  ['loss, reordering and a gap (netem)', [join(fixturesDir, 'lossy')]],
  ['connections caught mid-stream', [join(fixturesDir, 'layouts', 'exchange-midstream.pcap'), join(fixturesDir, 'grpc', 'grpc-midstream.pcap')]],
  ['two nodes through a NAT, VXLAN', [join(fixturesDir, 'nodes')]],
  ['DNS over UDP', [join(fixturesDir, 'dns', 'dns.pcap')]],
  ['the sample incident', [join(fixturesDir, 'sample')]],
];

for (const [name, paths] of CASES) {
  test(`the feed hands on what the reading found, in order: ${name}`, async () => {
    const { sources } = await listCaptureSources(paths);
    const direct: unknown[] = [];
    await readPass(sources, recorder(direct), DEFAULT_ANALYSIS_OPTIONS, true);
    const fed: unknown[] = [];
    const replay = new FeedReplay(recorder(fed));
    const feed = new FeedWriter((b) => replay.play(b));
    await readPass(sources, feed, DEFAULT_ANALYSIS_OPTIONS, true);
    const last = feed.take();
    if (last) replay.play(last);
    assert.ok(direct.length > 0);
    assert.ok(direct.some((e) => (e as unknown[])[0] === 'data' || (e as unknown[])[0] === 'dns'), 'the capture carries data');
    assert.equal(fed.length, direct.length, 'as many calls');
    for (let i = 0; i < direct.length; i++) assert.deepStrictEqual(fed[i], direct[i], `call ${i}`);
  });
}

test('the feed: a mid-stream connection\'s data says so, and a batch boundary may fall anywhere', async () => {
  const { sources } = await listCaptureSources([join(fixturesDir, 'layouts', 'exchange-midstream.pcap')]);
  const direct: unknown[] = [];
  await readPass(sources, recorder(direct), DEFAULT_ANALYSIS_OPTIONS, true);
  assert.ok(direct.some((e) => (e as unknown[])[0] === 'data' && (e as unknown[])[4] === true), 'some data arrives mid-stream');
  // Every event in a batch of its own.
  const fed: unknown[] = [];
  const replay = new FeedReplay(recorder(fed));
  const feed = new FeedWriter((b) => replay.play(b));
  const target: PassTarget = {
    stream: (conn) => {
      const h = feed.stream(conn);
      const flush = (): void => {
        const b = feed.take();
        if (b) replay.play(b);
      };
      flush();
      return {
        data: (d, bytes, ts) => { h.data(d, bytes, ts); flush(); },
        gap: (d, n, ts) => { h.gap(d, n, ts); flush(); },
        end: (r, ts) => { h.end(r, ts); flush(); },
      };
    },
    dns: (...a) => feed.dns(...a),
    tick: (ts) => feed.tick(ts),
  };
  await readPass(sources, target, DEFAULT_ANALYSIS_OPTIONS, true);
  const last = feed.take();
  if (last) replay.play(last);
  assert.deepStrictEqual(fed, direct);
});
