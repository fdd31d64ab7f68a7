/**
 * Import's analysis thread (store/import-thread.ts) stores what a single-threaded import stores:
 * the same records under the same sequence numbers, bodies, connections, summary, counts and
 * Kubernetes resolution; and its failures are the same failures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError, fileSource, listCaptureSources } from '../src/capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures } from '../src/dissect/pipeline.js';
import { analyzeInThread } from '../src/store/import-thread.js';
import { importSnapshot, type ImportOptions } from '../src/store/import.js';
import { dissectionSettings } from '../src/config/apply.js';
import { DEFAULT_SETTINGS } from '../src/config/settings.js';
import { CHUNK_ROWS } from '../src/store/summary.js';
import { spawnSync } from 'node:child_process';
import { fixturesDir } from './support/paths.js';
import { podcapBin, tempWorkspace } from './support/cli.js';
import { stored, suiteWorkspace } from './support/workspace.js';

/**
 * A classic little-endian µs Ethernet pcap played `times` times over, each copy after the last in
 * time and between other IPv4 addresses (the second octet moved: no copy continues another's
 * connections): more calls than a summary chunk holds, from real traffic.
 */
function replayed(pcap: Buffer, times: number): Buffer {
  const packets: Array<[number, Buffer]> = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const len = pcap.readUInt32LE(at + 8);
    packets.push([pcap.readUInt32LE(at) * 1e6 + pcap.readUInt32LE(at + 4), pcap.subarray(at, at + 16 + len)]);
    at += 16 + len;
  }
  const span = packets[packets.length - 1][0] - packets[0][0] + 60e6;
  const out: Buffer[] = [pcap.subarray(0, 24)];
  for (let k = 0; k < times; k++) {
    for (const [us, rest] of packets) {
      const t = us + k * span;
      const copy = Buffer.from(rest);
      copy.writeUInt32LE(Math.floor(t / 1e6), 0);
      copy.writeUInt32LE(t % 1e6, 4);
      if (copy.readUInt16BE(16 + 12) === 0x0800) {
        for (const at of [16 + 14 + 13, 16 + 14 + 17]) copy[at] = (copy[at] + k) & 0xff;
      }
      out.push(copy);
    }
  }
  return Buffer.concat(out);
}

describe('import on two threads stores what import on one does', () => {
  const tmp = suiteWorkspace('podcap-import-thread-');

  const fourxx = { file: null, settings: dissectionSettings({ ...DEFAULT_SETTINGS, failed: { http: '4xx' as const, rules: [] } }, []) };
  const cases: Array<[string, string[], ImportOptions?]> = [
    ['the sample incident with 4xx counted as failures (the failure rules applied in the thread)', [join(fixturesDir, 'sample')], { config: fourxx }],
    ['the sample incident, with its manifest (endpoints named in the thread)', [join(fixturesDir, 'sample')]],
    ['DNS over UDP, search paths decided across queries', [join(fixturesDir, 'dns', 'dns.pcap')]],
    ['HTTP/2 and gRPC', [join(fixturesDir, 'h2', 'h2c-prior-knowledge.pcap'), join(fixturesDir, 'grpc', 'grpc.pcap')]],
    ['two nodes, one pcapng, with a VXLAN underlay', [join(fixturesDir, 'nodes')]],
    ['a capture cut short (imported with damage counted)', [join(fixturesDir, 'damaged', 'cut.pcap')]],
    // What the feed between the threads carries besides data: gaps, connections caught mid-stream, resets, retransmissions.
    ['loss, reordering and a gap in the capture (netem)', [join(fixturesDir, 'lossy')]],
    ['connections caught mid-stream: HTTP/1, HTTP/2 without its preface, gRPC', [join(fixturesDir, 'layouts', 'exchange-midstream.pcap'), join(fixturesDir, 'h2', 'h2-no-preface.pcap'), join(fixturesDir, 'grpc', 'grpc-midstream.pcap')]],
    ['an h2c upgrade', [join(fixturesDir, 'h2', 'h2c-upgrade.pcap')]],
  ];
  const many = (): string => {
    const file = join(tmp.dir, 'replayed.pcap');
    writeFileSync(file, replayed(readFileSync(join(fixturesDir, 'sample', 'capture.pcap')), 8));
    return file;
  };
  cases.push(['the sample incident played 8 times over: summary chunks cross between the threads', [], { name: 'many' }]);
  for (const [name, given, opts] of cases) {
    it(name, async () => {
      const { ws } = tmp;
      const paths = opts?.name === 'many' ? [many()] : given;
      const one = await importSnapshot(ws, paths, { ...opts, thread: 'never' });
      const two = await importSnapshot(ws, paths, { ...opts, thread: 'always', exclusive: true });
      assert.ok(one.transactions > 0 || name.includes('cut'), 'the fixture has transactions');
      if (opts?.config) assert.ok(one.report.failed > 0, 'the rules made some calls failed');
      if (opts?.name === 'many') assert.ok(one.transactions > CHUNK_ROWS, `${one.transactions} calls: more than a chunk`);
      const a = stored(ws, one);
      const b = stored(ws, two);
      assert.deepEqual(b.meta, a.meta);
      assert.equal(b.records.length, a.records.length);
      for (let i = 0; i < a.records.length; i++) assert.deepEqual(b.records[i], a.records[i], `record ${i + 1}`);
      assert.deepEqual(b.values, a.values, 'the same blocks');
      assert.deepEqual(b.bodies, a.bodies);
      assert.deepEqual(b.conns, a.conns);
      assert.deepEqual(b.chunks, a.chunks);
      assert.deepEqual(b.postings, a.postings);
      assert.deepEqual(b.dicts, a.dicts);
    });
  }

  it('a capture that fails during the pass (gone since it was listed) fails the same way on both, with a CaptureError', async () => {
    const gone = fileSource(join(tmp.dir, 'gone.pcap'));
    const outcome = async (run: () => Promise<unknown>): Promise<Error> => {
      try {
        await run();
      } catch (e) {
        return e as Error;
      }
      assert.fail('the pass should fail');
    };
    const single = await outcome(() => analyzeCaptures([gone], () => undefined, DEFAULT_ANALYSIS_OPTIONS));
    const threaded = await outcome(() => analyzeInThread([gone], null, { http: "5xx", rules: [] }, DEFAULT_ANALYSIS_OPTIONS, { store: () => undefined, chunk: () => undefined, onStream: () => undefined }));
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
        chunk: () => undefined,
        onStream: () => undefined,
      }),
      /disk full/,
    );
  });

  it('starts when node was given V8 flags, which Node refuses a worker', () => {
    const ws = tempWorkspace();
    try {
      const capture = join(fixturesDir, 'http1', 'sample.pcap');
      const r = spawnSync(process.execPath, ['--max-semi-space-size=16', podcapBin, 'import', capture, '--workspace', ws.dir, '--json'], {
        encoding: 'utf8', env: { ...process.env, PODCAP_IMPORT_THREAD: 'always' },
      });
      assert.equal(r.status, 0, r.stderr);
      const meta = JSON.parse(r.stdout) as { transactions: number };
      assert.ok(meta.transactions > 0, r.stdout);
    } finally {
      ws.cleanup();
    }
  });
});
