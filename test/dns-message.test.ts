/**
 * DNS messages read by hand (dns-message.ts FAST_READER) against dns-packet's own decoders
 * (LIBRARY_READER): every DNS message over UDP in fixtures/ and in the shared corpus, and
 * thousands of damaged copies of them (bytes changed, messages cut short), must decode to the
 * same message, errors included.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listCaptureSources, readCaptures } from '../src/capture/index.js';
import { IPPROTO_UDP, NetDecoder, newDecodedPacket } from '../src/net/decode.js';
import { FAST_READER, LIBRARY_READER, parseDnsMessage } from '../src/dissect/dns-message.js';
import { mulberry32 } from '../scripts/prng.js';
import { captureFiles, corpusDir, corpusPresent, corpusSkip, fixturesDir } from './support/paths.js';

/** The UDP payloads to or from port 53 in every capture below `root` (captures that do not read are passed over). */
async function dnsPayloads(root: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const file of captureFiles(root)) {
    try {
      const { sources } = await listCaptureSources([file]);
      const net = new NetDecoder();
      const d = newDecodedPacket();
      await readCaptures(sources, (p) => {
        net.decode(p.linkType, p.data, p.ts, d, p.origLen);
        if (d.outcome === 'ok' && d.protocol === IPPROTO_UDP && (d.srcPort === 53 || d.dstPort === 53)) out.push(Buffer.from(d.payload));
      }, {});
    } catch {
      // Not a capture this reads: the capture tests say why.
    }
  }
  return out;
}

function assertSame(m: Buffer, what: string): void {
  assert.deepStrictEqual(parseDnsMessage(m, FAST_READER), parseDnsMessage(m, LIBRARY_READER), what);
}

/** Each message, then `copies` damaged copies of it: a byte or two changed, or cut short. */
function assertSameDamaged(messages: Buffer[], copies: number, seed: number): number {
  const rand = mulberry32(seed);
  let n = 0;
  for (const m of messages) {
    assertSame(m, `message ${m.toString('hex')}`);
    for (let i = 0; i < copies && m.length > 12; i++) {
      const c = Buffer.from(m);
      const at = 12 + Math.floor(rand() * (c.length - 12));
      const how = rand();
      // Length bytes and pointers matter most: a label length, a pointer byte, a value past ASCII.
      if (how < 0.3) c[at] = Math.floor(rand() * 256);
      else if (how < 0.45) c[at] = 0xc0 | Math.floor(rand() * 4);
      else if (how < 0.6) c[at] = 0x80 | Math.floor(rand() * 0x80);
      else if (how < 0.75) c[at] = Math.floor(rand() * 64);
      const cut = how >= 0.75 ? c.subarray(0, at) : c;
      assertSame(cut, `damaged copy of ${m.toString('hex')}: ${cut.toString('hex')}`);
      n++;
    }
  }
  return n;
}

describe('DNS messages read by hand and by dns-packet decode the same', () => {
  it('every DNS message in fixtures/, and damaged copies of them', async () => {
    const messages = await dnsPayloads(fixturesDir);
    assert.ok(messages.length >= 100, `${messages.length} DNS messages in fixtures/`);
    const damaged = assertSameDamaged(messages, 20, 0xd25);
    assert.ok(damaged > 2000, `${damaged} damaged copies`);
  });

  it('every DNS message in the shared corpus, and damaged copies of them', { skip: corpusSkip }, async () => {
    const messages = corpusPresent ? await dnsPayloads(corpusDir) : [];
    assert.ok(messages.length > 0, 'the corpus holds DNS messages');
    assertSameDamaged(messages, 5, 0xc0de);
  });

  it('names the records it reads as dns-packet does, crafted', () => {
    const header = (qd: number, an: number): number[] => [0x12, 0x34, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, 0];
    const qname = [3, 0x77, 0x77, 0x77, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0];
    const cases: Array<[string, number[]]> = [
      ['root name', [...header(1, 0), 0, 0, 2, 0, 1]],
      ['A answer by pointer', [...header(1, 1), ...qname, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 96, 0, 10]],
      ['A answer with a data length of 6 (dns-packet reads four bytes anyway)', [...header(1, 1), ...qname, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 6, 10, 96, 0, 10, 0, 0]],
      ['AAAA answer', [...header(1, 1), ...qname, 0, 28, 0, 1, 0xc0, 12, 0, 28, 0, 1, 0, 0, 1, 0, 0, 16, 0xfd, 0, 0, 0x10, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14]],
      ['CNAME answer with a compressed target', [...header(1, 1), ...qname, 0, 5, 0, 1, 0xc0, 12, 0, 5, 0x80, 1, 0, 0, 0, 5, 0, 6, 3, 0x61, 0x70, 0x69, 0xc0, 16]],
      ['PTR answer', [...header(1, 1), ...qname, 0, 12, 0, 1, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 5, 0, 2, 0xc0, 12]],
      ['a label past ASCII', [...header(1, 0), 2, 0xc3, 0xa9, 0, 0, 1, 0, 1]],
      ['a pointer forward', [...header(1, 0), 0xc0, 20, 0, 1, 0, 1]],
      ['a pointer to itself', [...header(1, 0), 0xc0, 12, 0, 1, 0, 1]],
      ['a label longer than the message', [...header(1, 0), 30, 0x61, 0]],
      ['a label with 0x40 set', [...header(1, 0), 0x41, 0x61, 0]],
      ['a name over 254 bytes', [...header(1, 0), ...Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat(), 0, 0, 1, 0, 1]],
      ['a question cut in its type', [...header(1, 0), ...qname, 0]],
      ['an answer cut in its TTL', [...header(1, 1), ...qname, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0]],
      ['an A answer cut in its address', [...header(1, 1), ...qname, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10]],
      ['an unknown class and type', [...header(1, 0), ...qname, 0x12, 0x34, 0x56, 0x78]],
      ['a mDNS unicast-response class bit', [...header(1, 1), ...qname, 0, 1, 0x80, 1, 0xc0, 12, 0, 1, 0x80, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]],
    ];
    for (const [what, bytes] of cases) assertSame(Buffer.from(bytes), what);
    const a = parseDnsMessage(Buffer.from(cases[1][1]));
    assert.deepStrictEqual(a?.answers, [{ name: 'www.example.com', type: 'A', class: 'IN', ttl: 60, data: '10.96.0.10' }]);
    assert.equal(parseDnsMessage(Buffer.from(cases[0][1]))?.questions[0].name, '.');
    assert.match(parseDnsMessage(Buffer.from(cases[7][1]))?.error ?? '', /bad pointer/);
  });
});
