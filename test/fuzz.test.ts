/**
 * Property: whatever bytes a capture file holds, the pipeline ends (no hang),
 * throws nothing but a CaptureError for a file it cannot read at all, and
 * accounts for every packet it read. Fixture and corpus captures are mutated at
 * random (flipped bytes, overwritten runs, cuts, duplicated slices).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CaptureError } from '../src/capture/packet.js';
import { analyzeCaptures } from '../src/dissect/pipeline.js';
import { fileSource } from '../src/capture/index.js';
import { corpusFile, corpusPresent, fixturesDir } from './support/paths.js';

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }
  | { kind: 'cut'; at: number }
  | { kind: 'duplicate'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 2000 }) }),
);

function mutate(original: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(original);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] ^= m.mask;
    else if (m.kind === 'overwrite') Buffer.from(m.bytes).copy(b, at);
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]);
  }
  return b;
}

const sources = [
  join(fixturesDir, 'http1', 'sample.pcap'),
  join(fixturesDir, 'http1', 'sample.pcapng'),
  ...(corpusPresent ? [corpusFile('http1/clearlogin.pcapng'), corpusFile('linktypes/sll2.pcap'), corpusFile('tcp-edge/http-gap-simple.pcap')] : []),
];

describe('mutated captures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podcap-fuzz-'));
  for (const src of sources) {
    it(`${src.split("/").slice(-2).join("/")}: never crashes, never hangs, every packet accounted for`, { timeout: 120_000 }, async () => {
      const original = readFileSync(src);
      const path = join(dir, `m-${src.split('/').pop()}`);
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (ms) => {
          writeFileSync(path, mutate(original, ms));
          let result;
          try {
            result = await analyzeCaptures([fileSource(path)], () => {});
          } catch (e) {
            if (e instanceof CaptureError) return;
            throw e;
          }
          const r = result.report;
          const skipped = Object.values(r.skipped).reduce((a, b) => a + b, 0);
          const damaged = Object.values(r.damaged).reduce((a, b) => a + b, 0);
          assert.equal(r.tcpSegments + r.udpDatagrams + skipped + damaged + r.heldFragments, r.packets);
          assert.equal(result.files[0].packets, r.packets);
        }),
        { numRuns: 250, seed: 20261124, endOnFailure: true },
      );
    });
  }
  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
