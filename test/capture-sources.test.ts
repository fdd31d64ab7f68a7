import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CaptureError,
  fileSource,
  listCaptureSources,
  readCaptureFile,
  readCaptures,
  type CaptureFileReport,
  type CaptureSource,
  type Packet,
} from '../src/capture/index.js';
import { Bytes, block, dsb, epb, idb, option, pattern, pcapFile, pcapHeader, pcapRecord, shb } from './support/capture-build.js';
import { corpusFile, corpusSkip } from './support/paths.js';

interface Kept {
  fileIndex: number;
  offset: number;
  ts: number;
  linkType: number;
  ifIndex: number;
  origLen: number;
  data: Buffer;
}

function keep(p: Packet): Kept {
  return { fileIndex: p.fileIndex, offset: p.offset, ts: p.ts, linkType: p.linkType, ifIndex: p.ifIndex, origLen: p.origLen, data: Buffer.from(p.data) };
}

/** Reads sources, copying each packet as it comes (Packet.data is only a view). */
async function readAll(sources: CaptureSource[], chunkSize?: number): Promise<{ packets: Kept[]; reports: CaptureFileReport[] }> {
  const packets: Kept[] = [];
  const reports = await readCaptures(sources, (p) => packets.push(keep(p)), chunkSize === undefined ? {} : { chunkSize });
  return { packets, reports };
}

/** The packets of one file read on its own, fileIndex set to `index`. */
async function single(path: string, index = 0): Promise<Kept[]> {
  const packets: Kept[] = [];
  await readCaptureFile(path, index, (p) => packets.push(keep(p)));
  return packets;
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'podcap-sources-'));
}

function put(root: string, rel: string, content: Buffer | string): string {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function copy(root: string, rel: string, corpusRel: string): string {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  copyFileSync(corpusFile(corpusRel), path);
  return path;
}

function run(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function assertNonDecreasing(packets: Kept[]): void {
  for (let i = 1; i < packets.length; i++) {
    assert.ok(packets[i].ts >= packets[i - 1].ts, `packet ${i} at ${packets[i].ts} before ${packets[i - 1].ts}`);
  }
}

// ---- sources --------------------------------------------------------------------------

test('a directory tree: captures in name order, other files skipped with a reason', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    copy(dir, 'node-a/eth0.pcap', 'http1/close-headers.pcap');
    put(dir, 'node-a/README.md', '# captures of node-a\n');
    copy(dir, 'node-b/any.pcapng', 'http1/google.pcapng');
    put(dir, 'manifest.yaml', 'apiVersion: v1\nkind: List\nitems: []\n');
    copy(dir, '.hidden.pcap', 'http1/google.pcapng');
    put(dir, 'empty.pcap', '');
    // gzip found by content under a name that says .pcap
    put(dir, 'zz.pcap', gzipSync(readFileSync(corpusFile('dns/edns-opts.pcap'))));

    const list = await listCaptureSources([dir]);
    assert.deepEqual(
      list.sources.map((s) => s.name),
      [join(dir, 'node-a/eth0.pcap'), join(dir, 'node-b/any.pcapng'), join(dir, 'zz.pcap')],
    );
    const skipped = Object.fromEntries(list.skipped.map((s) => [s.name.slice(dir.length + 1), s.reason]));
    assert.deepEqual(Object.keys(skipped).sort(), ['.hidden.pcap', 'empty.pcap', 'manifest.yaml', 'node-a/README.md']);
    assert.match(skipped['manifest.yaml'], /^not a capture: looks like text: "apiVersion: v1"/);
    assert.match(skipped['node-a/README.md'], /^not a capture: looks like text/);
    assert.equal(skipped['empty.pcap'], 'not a capture: empty file');
    assert.equal(skipped['.hidden.pcap'], 'hidden');

    const { packets, reports } = await readAll(list.sources);
    assert.deepEqual(reports.map((r) => r.packets), [10, 12, 42]);
    assert.equal(packets.length, 64);
    assert.deepEqual(reports.map((r) => r.compressed), [false, false, true]);
    assert.deepEqual(reports.map((r) => r.path), list.sources.map((s) => s.name));
    // The first packet's time seen when listing is the one reading yields.
    for (const [i, s] of list.sources.entries()) assert.equal(s.firstTs, reports[i].firstTs, s.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a path named explicitly that is not a capture is still a CaptureError', { skip: corpusSkip }, async () => {
  await assert.rejects(listCaptureSources([corpusFile('malformed/text.pcap')]), (err: unknown) => {
    assert.ok(err instanceof CaptureError);
    assert.match(err.message, /not a pcap or pcapng file \(starts with 6e 6f 74 20 /);
    assert.match(err.message, /looks like text: "not a capture at all"/);
    return true;
  });
  const dir = scratch();
  try {
    const empty = put(dir, 'empty.pcap', '');
    await assert.rejects(listCaptureSources([empty]), /empty file, not a capture/);
    await assert.rejects(listCaptureSources([put(dir, 'e.gz', gzipSync(Buffer.alloc(0)))]), /empty file after gzip decompression/);
    await assert.rejects(listCaptureSources([join(dir, 'missing.pcap')]), (err: unknown) => {
      assert.ok(err instanceof CaptureError);
      assert.match(err.message, /^cannot read .*missing\.pcap: ENOENT$/);
      return true;
    });
    // A directory holding nothing but text: nothing to import, and the error says what was passed over.
    const only = join(dir, 'only-text');
    put(only, 'notes.txt', 'hello\n');
    await assert.rejects(listCaptureSources([only]), /no capture files under .*only-text \(skipped .*notes\.txt: not a capture: looks like text/);
    // An archive named explicitly must hold a capture.
    run('tar', ['-cf', 'text.tar', '-C', only, 'notes.txt'], dir);
    await assert.rejects(listCaptureSources([join(dir, 'text.tar')]), (err: unknown) => {
      assert.ok(err instanceof CaptureError);
      assert.match(err.message, /text\.tar: no capture files in the archive \(skipped notes\.txt: not a capture: looks like text/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tar (ustar, GNU, pax) and tar.gz: each member its own capture, text skipped', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    const stage = join(dir, 'stage');
    const longDir = `node-b/${'d'.repeat(60)}/${'e'.repeat(50)}`; // past ustar's 100-byte name field
    copy(stage, 'node-a/eth0.pcap', 'http1/close-headers.pcap');
    copy(stage, `${longDir}/capture.pcapng`, 'http1/clearlogin.pcapng');
    put(stage, 'README.txt', 'kubectl get pods -A -o yaml > manifest.yaml\n');
    const expectA = await single(corpusFile('http1/close-headers.pcap'), 0);
    const expectB = await single(corpusFile('http1/clearlogin.pcapng'), 1);

    const archives: Array<[string, string[]]> = [
      ['ustar.tar', ['--format=ustar', '-cf']],
      ['gnu.tar', ['--format=gnu', '-cf']],
      ['pax.tar', ['--format=pax', '-cf']],
      // gzip found by content: the name says nothing
      ['snapshot.bin', ['--format=gnu', '-czf']],
    ];
    for (const [name, flags] of archives) {
      run('tar', [...flags, join(dir, name), '-C', stage, 'node-a', 'node-b', 'README.txt']);
      const archive = join(dir, name);
      const list = await listCaptureSources([archive]);
      assert.deepEqual(
        list.sources.map((s) => s.name),
        [`${archive}:node-a/eth0.pcap`, `${archive}:${longDir}/capture.pcapng`],
        name,
      );
      assert.deepEqual(list.skipped.map((s) => [s.name, s.reason.replace(/: ".*/, '')]), [
        [`${archive}:README.txt`, 'not a capture: looks like text'],
      ]);
      assert.deepEqual(list.notes, [], name);

      const { packets, reports } = await readAll(list.sources);
      assert.deepEqual(reports.map((r) => r.packets), [10, 54], name);
      assert.deepEqual(reports.map((r) => r.compressed), name.endsWith('.bin') ? [true, true] : [false, false], name);
      assertNonDecreasing(packets);
      assert.deepEqual(packets.filter((p) => p.fileIndex === 0), expectA, name);
      assert.deepEqual(packets.filter((p) => p.fileIndex === 1), expectB, name);
      // Each member read alone (the fast path) gives the same packets.
      const alone = await readAll([list.sources[1]]);
      assert.deepEqual(alone.packets, expectB.map((p) => ({ ...p, fileIndex: 0 })), name);
    }

    // Directories hold archives too; a member that is itself gzip is undone; an archive in an archive is not opened.
    const tree = join(dir, 'tree');
    put(stage, 'extra/dns.pcap.gz', gzipSync(readFileSync(corpusFile('dns/edns-opts.pcap'))));
    copyFileSync(join(dir, 'ustar.tar'), join(stage, 'extra/inner.tar'));
    mkdirSync(tree);
    run('tar', ['-cf', join(tree, 'b.tar'), '-C', stage, 'extra']);
    copy(tree, 'a.pcap', 'http1/close-headers.pcap');
    const list = await listCaptureSources([tree]);
    assert.deepEqual(list.sources.map((s) => s.name), [join(tree, 'a.pcap'), `${join(tree, 'b.tar')}:extra/dns.pcap.gz`]);
    assert.deepEqual(list.skipped, [
      { name: `${join(tree, 'b.tar')}:extra/inner.tar`, reason: 'an archive inside an archive: not read (extract it first)' },
    ]);
    const { reports } = await readAll(list.sources);
    assert.deepEqual(reports.map((r) => [r.packets, r.compressed]), [[10, false], [42, true]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tar cut inside its last member gives the packets before the cut and a note', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    const stage = join(dir, 'stage');
    copy(stage, 'a.pcapng', 'http1/clearlogin.pcapng');
    copy(stage, 'b.pcapng', 'http1/espn.pcapng');
    const whole = join(dir, 'whole.tar');
    run('tar', ['--format=gnu', '-cf', whole, '-C', stage, 'a.pcapng', 'b.pcapng']);
    const full = await listCaptureSources([whole]);
    const loc = full.sources[1].location;
    assert.equal(loc.kind, 'tar-member');
    if (loc.kind !== 'tar-member') return;
    const espn = await single(corpusFile('http1/espn.pcapng'), 1);

    const cutAt = loc.offset + 300_000;
    const tarBytes = readFileSync(whole);
    const cases: Array<[string, Buffer]> = [
      ['cut.tar', tarBytes.subarray(0, cutAt)],
      // the whole gzip of a cut tar, and a gzip cut in the middle of the same member
      ['cut-inside.tgz', gzipSync(tarBytes.subarray(0, cutAt))],
    ];
    const gz = gzipSync(tarBytes);
    cases.push(['cut.tgz', gz.subarray(0, Math.floor(gz.length * 0.6))]);
    for (const [name, bytes] of cases) {
      const path = put(dir, name, bytes);
      const list = await listCaptureSources([path]);
      assert.equal(list.sources.length, 2, name);
      const cut = list.sources[1];
      assert.match(cut.notes.join('\n'), /the archive ends \d+ bytes into this member, which should have 684660: read what is there/, name);
      assert.match(list.notes.join('\n'), /ends \d+ bytes into b\.pcapng, which should have 684660/, name);
      if (name === 'cut.tgz') assert.match(list.notes.join('\n'), /gzip data ends early/, name);

      for (const sources of [list.sources, [cut]]) {
        const { packets, reports } = await readAll(sources);
        const r = reports[reports.length - 1];
        const got = packets.filter((p) => p.fileIndex === sources.length - 1);
        assert.ok(got.length > 100 && got.length < espn.length, `${name}: ${got.length} packets`);
        assert.deepEqual(got.map((p) => p.data), espn.slice(0, got.length).map((p) => p.data), name);
        assert.ok(r.truncatedBytes > 0, name);
        assert.equal(r.damaged, 0, name);
        assert.match(r.notes.join('\n'), /file ends in the middle of an Enhanced Packet Block/, name);
        assert.match(r.notes.join('\n'), /the archive ends \d+ bytes into this member/, name);
        if (sources.length === 2) assert.equal(reports[0].packets, 54, name);
      }
    }

    // A damaged header ends the listing there with a note; members before it stay.
    const damaged = Buffer.from(tarBytes);
    const second = loc.offset - 512;
    damaged[second + 10] ^= 0xff;
    const list = await listCaptureSources([put(dir, 'damaged.tar', damaged)]);
    assert.equal(list.sources.length, 1);
    assert.match(list.notes.join('\n'), new RegExp(`damaged tar header at byte ${second} \\(checksum mismatch\\)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- merge ----------------------------------------------------------------------------

test('several files merge in time order: a file split by time with editcap', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    const original = corpusFile('http1/espn.pcapng');
    const all = await single(original);
    const mid = all[Math.floor(all.length / 2)].ts;
    const at = (mid / 1e6).toFixed(6);
    run('editcap', ['-B', at, original, join(dir, 'early.pcapng')]);
    run('editcap', ['-A', at, original, join(dir, 'late.pcapng')]);
    // Listed late first: the merge, not the order given, decides.
    const list = await listCaptureSources([join(dir, 'late.pcapng'), join(dir, 'early.pcapng')]);
    for (const chunkSize of [undefined, 4096]) {
      const { packets, reports } = await readAll(list.sources, chunkSize);
      assert.ok(reports[0].packets > 0 && reports[1].packets > 0);
      assert.equal(packets.length, reports[0].packets + reports[1].packets);
      assert.equal(packets.length, all.length);
      assertNonDecreasing(packets);
      assert.deepEqual(packets.map((p) => [p.ts, p.data]), all.map((p) => [p.ts, p.data]));
      assert.deepEqual(packets.map((p) => p.fileIndex), all.map((p) => (p.ts < mid ? 1 : 0)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('interleaved files merge packet by packet, across chunk boundaries and gzip', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    const all = await single(corpusFile('http1/espn.pcapng'));
    // Three files taking every third packet: the merge must weave them back together.
    const parts = [0, 1, 2].map((k) => all.filter((_, i) => i % 3 === k));
    put(dir, 'a.pcap', pcapFile(1, parts[0]));
    put(dir, 'b.pcap', gzipSync(pcapFile(1, parts[1])));
    put(dir, 'c.pcap', pcapFile(1, parts[2]));
    const list = await listCaptureSources([dir]);
    assert.equal(list.sources.length, 3);
    for (const chunkSize of [undefined, 1000, 4096]) {
      const { packets, reports } = await readAll(list.sources, chunkSize);
      assert.deepEqual(reports.map((r) => r.packets), parts.map((p) => p.length));
      assert.equal(packets.length, all.length);
      assertNonDecreasing(packets);
      // Each file's packets keep their own order and bytes (views stayed valid while batched).
      for (let k = 0; k < 3; k++) {
        assert.deepEqual(
          packets.filter((p) => p.fileIndex === k).map((p) => [p.ts, p.data]),
          parts[k].map((p) => [p.ts, p.data]),
          `file ${k}, chunks of ${chunkSize}`,
        );
      }
      // Where the original's times are distinct, the merge restores its exact order.
      const ties = all.some((p, i) => i > 0 && p.ts === all[i - 1].ts);
      if (!ties) assert.deepEqual(packets.map((p) => p.data), all.map((p) => p.data));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('several corpus files: counts add up and time never goes back', { skip: corpusSkip }, async () => {
  const rels = ['http1/espn.pcapng', 'grpc/unary.pcapng', 'http1/clearlogin.pcapng', 'formats/chunked.pcap.gz', 'dns/edns-opts.pcap'];
  const list = await listCaptureSources(rels.map(corpusFile));
  const { packets, reports } = await readAll(list.sources, 64 * 1024);
  assert.deepEqual(reports.map((r) => r.packets), [956, 4318, 54, 5, 42]);
  assert.equal(packets.length, 956 + 4318 + 54 + 5 + 42);
  assertNonDecreasing(packets);
  for (let k = 0; k < rels.length; k++) {
    const own = await single(corpusFile(rels[k]), k);
    assert.deepEqual(packets.filter((p) => p.fileIndex === k), own, rels[k]);
  }
});

test('ties go to the lower file index; a file going back in time is noted', async () => {
  const dir = scratch();
  try {
    const a = put(dir, 'a.pcap', pcapFile(1, [{ ts: 2e6, data: pattern(20, 1) }, { ts: 5e6, data: pattern(20, 2) }]));
    const b = put(dir, 'b.pcap', pcapFile(1, [{ ts: 1e6, data: pattern(20, 3) }, { ts: 2e6, data: pattern(20, 4) }, { ts: 1.5e6, data: pattern(20, 5) }]));
    const { packets, reports } = await readAll([fileSource(b), fileSource(a)]);
    assert.deepEqual(packets.map((p) => [p.fileIndex, p.ts]), [[0, 1e6], [0, 2e6], [0, 1.5e6], [1, 2e6], [1, 5e6]]);
    assert.match(reports[0].notes.join('\n'), /1 packets are earlier than the packet before them in this file/);
    assert.deepEqual(reports.map((r) => r.path), [b, a]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an error thrown by the sink in a merge reaches the caller unchanged', { skip: corpusSkip }, async () => {
  const boom = new Error('sink failed');
  let seen = 0;
  const sources = [fileSource(corpusFile('http1/espn.pcapng')), fileSource(corpusFile('formats/chunked.pcap.gz'))];
  await assert.rejects(
    readCaptures(sources, () => {
      if (++seen === 100) throw boom;
    }),
    (err: unknown) => err === boom,
  );
  assert.equal(seen, 100);
});

// ---- FCS, pcapng extras ----------------------------------------------------------------

test('FCS bytes are stripped from Packet.data, origLen untouched, and noted', async () => {
  const dir = scratch();
  try {
    const frame = pattern(60, 1);
    const withFcs = Buffer.concat([frame, Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
    // pcap: link type 1 with the FCS flag and 2 16-bit words of FCS.
    const pcap = Buffer.concat([
      pcapHeader(true, 0xa1b2c3d4, 65535, 0x24000001),
      pcapRecord(true, 1, 0, withFcs),
      pcapRecord(true, 2, 0, withFcs.subarray(0, 40), 64), // snap length cut before the FCS: nothing to strip
      pcapRecord(true, 3, 0, withFcs.subarray(0, 62), 64), // cut inside it: the 2 FCS bytes present go
    ]);
    const { packets, reports } = await readAll([fileSource(put(dir, 'fcs.pcap', pcap))]);
    assert.deepEqual(packets.map((p) => [p.data.length, p.origLen]), [[60, 64], [40, 64], [60, 64]]);
    assert.deepEqual(packets[0].data, frame);
    assert.equal(reports[0].packetBytes, 64 + 40 + 62);
    assert.deepEqual(reports[0].linkTypes, [{ linkType: 1, packets: 3 }]);
    assert.match(reports[0].notes.join('\n'), /frame check sequence \(4 bytes\) removed from the data of 2 packets/);

    // pcapng: if_fcslen on one interface, epb_flags stating an FCS length on another.
    const LE = true;
    const flags = (fcs: number): Buffer => option(LE, 2, new Bytes(LE).u32(fcs << 5).done());
    const ng = Buffer.concat([
      shb(LE),
      idb(LE, 1, 0, [option(LE, 2, Buffer.from('eth0')), option(LE, 13, Buffer.from([4]))]),
      idb(LE, 1, 0),
      epb(LE, 0, 1_000_000n, withFcs),
      epb(LE, 1, 2_000_000n, withFcs.subarray(0, 62), { opts: [flags(2)] }),
      epb(LE, 1, 3_000_000n, frame),
    ]);
    const r = await readAll([fileSource(put(dir, 'fcs.pcapng', ng))]);
    assert.deepEqual(r.packets.map((p) => [p.data.length, p.origLen]), [[60, 64], [60, 62], [60, 60]]);
    assert.deepEqual(r.packets[1].data, frame);
    const notes = r.reports[0].notes.join('\n');
    assert.match(notes, /frame check sequence \(4 bytes\) removed from the data of 1 packets of interface 0 \(eth0\)/);
    assert.match(notes, /frame check sequence \(2 bytes\) removed from the data of 1 packets of interface 1$/m);
    assert.equal(r.reports[0].interfaces[0].fcsLength, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pcapng: section writers, decryption secrets, packet comments; other blocks skipped and counted', async () => {
  const LE = true;
  const BE = false;
  const keylog = 'CLIENT_RANDOM 0011 aabb\nCLIENT_RANDOM 2233 ccdd\n';
  const file = Buffer.concat([
    shb(LE, [
      option(LE, 2, Buffer.from('x86_64')),
      option(LE, 3, Buffer.from('Linux 6.1.0-node-a')),
      option(LE, 4, Buffer.from('Dumpcap (Wireshark) 4.0.17')),
    ]),
    idb(LE, 1, 0),
    dsb(LE, 0x544c534b, Buffer.from(keylog)),
    epb(LE, 0, 1_000_000n, pattern(30, 1), { opts: [option(LE, 1, Buffer.from('first packet'))] }),
    epb(LE, 0, 2_000_000n, pattern(30, 2)),
    block(LE, 4, Buffer.alloc(4)), // Name Resolution Block
    block(LE, 5, new Bytes(LE).u32(0).u32(0).u32(0).done()), // Interface Statistics Block
    block(LE, 0xbad, new Bytes(LE).u32(32473).bytes(Buffer.from('data')).done()), // Custom Block
    block(LE, 0x40000bad, new Bytes(LE).u32(32473).done()), // Custom Block (do not copy)
    dsb(LE, 0x5a4e574b, Buffer.from([1, 2, 3, 0xff])), // ZigBee NWK key: kept as base64
    epb(LE, 0, 3_000_000n, pattern(30, 3), {
      opts: [option(LE, 1, Buffer.from('third, one')), option(LE, 1, Buffer.from('third, two'))],
    }),
    shb(BE, [option(BE, 4, Buffer.from('tcpdump'))]),
    idb(BE, 1, 0),
    dsb(BE, 0x57474b4c, Buffer.from('LOCAL_STATIC_PRIVATE_KEY = abc=\n')),
    epb(BE, 0, 4_000_000n, pattern(30, 4), { opts: [option(BE, 1, Buffer.from('in section two'))] }),
  ]);
  const dir = scratch();
  try {
    const path = put(dir, 'extras.pcapng', file);
    for (const chunkSize of [undefined, 7]) {
      const { packets, reports } = await readAll([fileSource(path)], chunkSize);
      const r = reports[0];
      assert.equal(packets.length, 4);
      assert.equal(r.damaged, 0);
      assert.deepEqual(r.sections, [
        { byteOrder: 'little-endian', hardware: 'x86_64', os: 'Linux 6.1.0-node-a', application: 'Dumpcap (Wireshark) 4.0.17' },
        { byteOrder: 'big-endian', hardware: null, os: null, application: 'tcpdump' },
      ]);
      assert.deepEqual(r.decryptionSecrets, [
        { secretsType: 'TLS key log', data: keylog },
        { secretsType: '0x5a4e574b', data: Buffer.from([1, 2, 3, 0xff]).toString('base64') },
        { secretsType: 'WireGuard', data: 'LOCAL_STATIC_PRIVATE_KEY = abc=\n' },
      ]);
      assert.deepEqual(r.comments, [
        { packet: 1, text: 'first packet' },
        { packet: 3, text: 'third, one' },
        { packet: 3, text: 'third, two' },
        { packet: 4, text: 'in section two' },
      ]);
      const notes = r.notes.join('\n');
      assert.match(notes, /skipped 1 Name Resolution Block$/m);
      assert.match(notes, /skipped 1 Interface Statistics Block$/m);
      assert.match(notes, /skipped 1 Custom Block$/m);
      assert.match(notes, /skipped 1 Custom Block \(do not copy\)$/m);
      assert.doesNotMatch(notes, /Decryption Secrets Block.*skipped|skipped.*Decryption/);
      assert.match(notes, /kept 3 Decryption Secrets Block\(s\) \(TLS key log, 0x5a4e574b, WireGuard\)/);
      assert.equal(r.packetBytes, 120);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pcapng: secrets past 1 MiB and comments past 1000 are dropped with a note', async () => {
  const LE = true;
  const parts = [shb(LE), idb(LE, 1, 0)];
  const big = Buffer.alloc(400 * 1024, 0x41);
  for (let i = 0; i < 4; i++) parts.push(dsb(LE, 0x544c534b, big));
  for (let i = 0; i < 1005; i++) parts.push(epb(LE, 0, BigInt(i), pattern(4, i), { opts: [option(LE, 1, Buffer.from(`c${i}`))] }));
  const dir = scratch();
  try {
    const { reports } = await readAll([fileSource(put(dir, 'many.pcapng', Buffer.concat(parts)))]);
    const r = reports[0];
    assert.equal(r.decryptionSecrets.length, 2);
    assert.equal(r.comments.length, 1000);
    assert.deepEqual(r.comments[999], { packet: 1000, text: 'c999' });
    const notes = r.notes.join('\n');
    assert.match(notes, /2 Decryption Secrets Block\(s\) \(819200 bytes\) not kept: past the 1048576-byte limit/);
    assert.match(notes, /5 more packet comments not kept: past the limit of 1000 per file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packet comments written by editcap -a', { skip: corpusSkip }, async () => {
  const dir = scratch();
  try {
    const out = join(dir, 'commented.pcapng');
    run('editcap', ['-a', '2:slow response here', '-a', '5:and here', corpusFile('http1/close-headers.pcap'), out]);
    const { reports } = await readAll([fileSource(out)]);
    assert.deepEqual(reports[0].comments, [
      { packet: 2, text: 'slow response here' },
      { packet: 5, text: 'and here' },
    ]);
    assert.equal(reports[0].sections.length, 1);
    assert.match(reports[0].sections[0].application ?? '', /Editcap/);
    assert.equal(reports[0].packets, 10);
    assert.equal(statSync(out).size > 0, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packetBytes equals capinfos\' data size', { skip: corpusSkip }, async () => {
  for (const rel of ['http1/espn.pcapng', 'formats/multi-iface.pcapng', 'http1/apt-get.pcap']) {
    const { reports } = await readAll([fileSource(corpusFile(rel))]);
    const out = execFileSync('capinfos', ['-d', '-M', '-T', corpusFile(rel)], { encoding: 'utf8' });
    const size = Number(out.trim().split('\n').pop()?.split('\t').pop());
    assert.equal(reports[0].packetBytes, size, rel);
  }
  const { reports } = await readAll([fileSource(corpusFile('formats/multi-iface.pcapng'))]);
  assert.deepEqual(reports[0].linkTypes, [{ linkType: 1, packets: 21 }, { linkType: 276, packets: 5 }]);
});
