/**
 * `podcap export` and `podcap follow`: the packets of the matching calls' connections written
 * back with their original bytes and times (tshark reads them as it reads the source, and
 * podcap imports them into the same transactions), from a plain capture, a tar of two node
 * files and a snapshot where two nodes saw the same connections; IP fragments go with their
 * datagrams; a capture moved since the import is an error naming it; `follow` equals tshark's
 * `-z follow,tcp,...`, gaps included. tshark's checks are skipped when it is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransactionRecord } from '../src/dissect/record.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';
import type { ExportResult } from '../src/query/export.js';
import { connectionRef, scanConnections } from '../src/query/export.js';
import { gapMarker, jsonChunkBytes, type FollowJson } from '../src/query/follow.js';
import { Workspace } from '../src/store/workspace.js';
import { readCaptureFile } from '../src/capture/open.js';
import { PcapWriter, PcapngWriter, originalRecord, type CaptureWriter } from '../src/capture/write.js';
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { corpusFile, corpusPresent, fixturesDir } from './support/paths.js';
import { podcap, tempWorkspace } from './support/cli.js';

const tsharkPresent = spawnSync('tshark', ['--version'], { encoding: 'utf8' }).status === 0;
const needTshark = tsharkPresent ? false : 'tshark is not installed (apt-get install tshark): skipping the checks that read files with it';

const fixture = (rel: string): string => join(fixturesDir, rel);

function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
}

/** Each frame as tshark reads it: time as it prints it, lengths, bytes. */
interface Frame {
  time: string;
  len: number;
  capLen: number;
  hex: string;
}

function tsharkFrames(file: string, filter?: string): Frame[] {
  const out = tshark(['-r', file, ...(filter ? ['-Y', filter] : []), '-T', 'json', '-x', '-j', 'frame']);
  const packets = JSON.parse(out) as Array<{ _source: { layers: { frame_raw: [string]; frame: Record<string, string> } } }>;
  return packets.map(({ _source: { layers } }) => ({
    time: layers.frame['frame.time_epoch'],
    len: Number(layers.frame['frame.len']),
    capLen: Number(layers.frame['frame.cap_len']),
    hex: layers.frame_raw[0],
  }));
}

/** The requests tshark finds (the fixtures' servers listen on ports tshark must be told). */
function tsharkRequests(file: string, ports: number[]): string[] {
  const decode = ports.flatMap((p) => ['-d', `tcp.port==${p},http`]);
  return tshark(['-r', file, ...decode, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'])
    .split('\n').filter((l) => l !== '');
}

/** A display filter for the connections of these calls (both ends, both ports). */
function connectionFilter(calls: TransactionRecord[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const c of calls) {
    const f = `(ip.addr==${c.src.ip} && ip.addr==${c.dst.ip} && tcp.port==${c.src.port} && tcp.port==${c.dst.port})`;
    if (!seen.has(f)) parts.push(f);
    seen.add(f);
  }
  return parts.join(' || ');
}

function importJson(ws: string, paths: string[]): SnapshotMeta {
  const r = podcap(['import', ...paths, '--json', '-w', ws]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SnapshotMeta;
}

function calls(ws: string, filter: string, snapshot?: string): TransactionRecord[] {
  const r = podcap(['calls', filter, '--json', '--limit', '10000', ...(snapshot ? ['--snapshot', snapshot] : []), '-w', ws]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TransactionRecord[];
}

function exportJson(ws: string, args: string[]): ExportResult {
  const r = podcap(['export', ...args, '--json', '-w', ws]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ExportResult;
}

/** What a re-import must reproduce of a transaction. */
function shape(c: TransactionRecord): string {
  return JSON.stringify([c.request.method, c.request.url, c.status, c.timestamp, c.responseTimestamp ?? null, c.src.ip, c.src.port, c.dst.ip, c.dst.port]);
}

const FAILING = 'http && status_code >= 500';

describe('podcap export: a single capture (fixtures/http1)', () => {
  const ws = tempWorkspace();
  let ns: SnapshotMeta;
  let us: SnapshotMeta;
  let failing: TransactionRecord[];
  let onConnections: TransactionRecord[];
  const outNg = join(ws.dir, 'failing.pcapng');
  const outPcap = join(ws.dir, 'failing.pcap');

  before(() => {
    ns = importJson(ws.dir, [fixture('http1/sample.pcapng')]);
    us = importJson(ws.dir, [fixture('http1/sample.pcap')]);
    failing = calls(ws.dir, FAILING, ns.id);
    assert.equal(failing.length, 2, 'the fixture has a 500 and a 503');
    const streams = new Set(failing.map((c) => c.stream.id));
    onConnections = calls(ws.dir, '', ns.id).filter((c) => streams.has(c.stream.id));
    assert.ok(onConnections.length > failing.length, 'the failing calls share their connections with other calls');
  });
  after(() => ws.cleanup());

  it('writes pcapng and pcap and says what it wrote', () => {
    const ng = exportJson(ws.dir, [FAILING, '--snapshot', ns.id, '--out', outNg]);
    assert.equal(ng.format, 'pcapng');
    assert.equal(ng.transactions, 2);
    assert.equal(ng.connections, 2);
    assert.ok(ng.packets > 0);
    assert.equal(ng.inexactTimestamps, 0);
    const pc = exportJson(ws.dir, [FAILING, '--snapshot', ns.id, '--out', outPcap]);
    assert.equal(pc.format, 'pcap', 'a .pcap name and one link type give pcap');
    assert.equal(pc.packets, ng.packets);
    const human = podcap(['export', FAILING, '--snapshot', ns.id, '--out', join(ws.dir, 'h.pcapng'), '-w', ws.dir]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`wrote ${ng.packets} packets of 2 connections \\(2 transactions\\)`));
  });

  it('tshark reads back exactly the requests of the failing calls\' connections', { skip: needTshark }, () => {
    const want = onConnections.map((c) => c.request.url).sort();
    for (const out of [outNg, outPcap]) {
      const got = tsharkRequests(out, [18080, 18081]);
      assert.deepEqual([...got].sort(), want, out);
      for (const f of failing) assert.ok(got.includes(f.request.url), `${f.request.url} is in ${out}`);
    }
  });

  it('packets are the originals: bytes, lengths and nanosecond times (pcapng and ns pcap)', { skip: needTshark }, () => {
    const original = tsharkFrames(fixture('http1/sample.pcapng'), connectionFilter(failing));
    assert.ok(original.length > 0);
    assert.ok(original.some((f) => !f.time.endsWith('000')), 'the source has sub-microsecond times');
    assert.deepEqual(tsharkFrames(outNg), original);
    assert.deepEqual(tsharkFrames(outPcap), original);
  });

  it('microsecond input: times carried over exactly', { skip: needTshark }, () => {
    const out = join(ws.dir, 'us.pcapng');
    const r = exportJson(ws.dir, [FAILING, '--snapshot', us.id, '--out', out]);
    assert.equal(r.transactions, 2);
    const usFailing = calls(ws.dir, FAILING, us.id);
    const original = tsharkFrames(fixture('http1/sample.pcap'), connectionFilter(usFailing));
    assert.deepEqual(tsharkFrames(out), original);
    const outPcap2 = join(ws.dir, 'us.pcap');
    exportJson(ws.dir, [FAILING, '--snapshot', us.id, '--out', outPcap2]);
    const head = tshark(['-r', outPcap2, '-c', '1', '-T', 'fields', '-e', 'frame.time_epoch']).trim();
    assert.match(head, /\.\d{6}000$/, 'a microsecond pcap stays microseconds');
    assert.deepEqual(tsharkFrames(outPcap2), original);
  });

  it('importing the export gives the same failing transactions', () => {
    for (const out of [outNg, outPcap]) {
      const w2 = tempWorkspace();
      try {
        importJson(w2.dir, [out]);
        assert.deepEqual(calls(w2.dir, FAILING).map(shape), failing.map(shape), out);
        assert.deepEqual(calls(w2.dir, '').map(shape), onConnections.map(shape), `${out}: every call of those connections`);
      } finally {
        w2.cleanup();
      }
    }
  });

  it('--id exports the transactions named; an unknown id is exit 4; a bad filter exit 1', () => {
    const out = join(ws.dir, 'ids.pcapng');
    const r = exportJson(ws.dir, ['--id', failing[0].id, '--out', out]);
    assert.equal(r.transactions, 1);
    assert.equal(r.connections, 1);
    const missing = podcap(['export', '--id', `${ns.id}-99999`, '--out', out, '-w', ws.dir]);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /no transaction/);
    const bad = podcap(['export', 'status_cod >= 500', '--out', out, '-w', ws.dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad filter/);
    const usage = podcap(['export', FAILING, '-w', ws.dir]);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /--out/);
    const both = podcap(['export', FAILING, '--id', failing[0].id, '--out', out, '-w', ws.dir]);
    assert.equal(both.code, 1);
  });

  it('follow of a call equals tshark -z follow,tcp (raw, ascii, hex)', { skip: needTshark }, () => {
    // tshark numbers streams from 0 in order of first packet, podcap from 1.
    for (const c of failing) {
      for (const mode of ['raw', 'ascii', 'hex'] as const) {
        const ours = podcap(['follow', c.id, ...(mode === 'ascii' ? [] : [`--${mode}`]), '-w', ws.dir]);
        assert.equal(ours.code, 0, ours.stderr);
        const theirs = tshark(['-r', fixture('http1/sample.pcapng'), '-qz', `follow,tcp,${mode},${c.stream.id - 1}`]);
        // Line 4 is the filter, which names the stream each its own way.
        const body = (s: string): string[] => s.split('\n').filter((_, i) => i !== 3);
        assert.deepEqual(body(ours.stdout), body(theirs), `${c.id} ${mode}`);
      }
    }
  });

  it('follow --json round-trips to the same bytes', () => {
    const c = failing[0];
    const raw = podcap(['follow', c.id, '--raw', '-w', ws.dir]);
    const json = podcap(['follow', c.id, '--json', '-w', ws.dir]);
    assert.equal(json.code, 0, json.stderr);
    const f = JSON.parse(json.stdout) as FollowJson;
    assert.equal(f.client, `${c.src.ip}:${c.src.port}`);
    assert.equal(f.server, `${c.dst.ip}:${c.dst.port}`);
    const lines = raw.stdout.split('\n').filter((l) => /^\t?[0-9a-f]+$/.test(l));
    assert.equal(f.chunks.length, lines.length);
    for (const [i, ch] of f.chunks.entries()) {
      assert.equal(ch.from, lines[i].startsWith('\t') ? 'server' : 'client');
      assert.equal(jsonChunkBytes(ch).toString('hex'), lines[i].trim());
    }
    assert.ok(f.chunks.some((ch) => ch.text?.includes(c.request.url)), 'text chunks read as text');
    const byTx = podcap(['follow', `${ns.id}:tcp:${c.stream.id}`, '--raw', '-w', ws.dir]);
    assert.equal(byTx.stdout, raw.stdout, 'SNAPSHOT:tcp:N names the same connection');
    const unknown = podcap(['follow', `${ns.id}:tcp:9999`, '-w', ws.dir]);
    assert.equal(unknown.code, 4);
    assert.equal(podcap(['follow', 'nope-1', '-w', ws.dir]).code, 4);
  });
});

describe('podcap export: several files', () => {
  const ws = tempWorkspace();
  after(() => ws.cleanup());

  it('a tar of two node files: packets of both members, as captured', { skip: needTshark }, () => {
    const meta = importJson(ws.dir, [fixture('layouts/snapshot.tar')]);
    const failing = calls(ws.dir, FAILING, meta.id);
    assert.equal(failing.length, 1);
    const out = join(ws.dir, 'tar.pcapng');
    const r = exportJson(ws.dir, [FAILING, '--snapshot', meta.id, '--out', out]);
    assert.equal(r.files.length, 2, 'both members were read');
    // The tar holds the same files as fixtures/layouts/snapshot/.
    const filter = connectionFilter(failing);
    const original = [
      ...tsharkFrames(fixture('layouts/snapshot/node-a/capture.pcap'), filter),
      ...tsharkFrames(fixture('layouts/snapshot/node-b/capture.pcapng'), filter),
    ].sort((a, b) => Number(a.time) - Number(b.time));
    assert.deepEqual(tsharkFrames(out), original);
    assert.equal(r.packets, original.length);
    const port = failing[0].dst.port;
    const onConn = calls(ws.dir, '', meta.id).filter((c) => c.stream.id === failing[0].stream.id);
    assert.deepEqual(tsharkRequests(out, [port]).sort(), onConn.map((c) => c.request.url).sort());
    const w2 = tempWorkspace();
    try {
      importJson(w2.dir, [out]);
      assert.deepEqual(calls(w2.dir, FAILING).map(shape), failing.map(shape));
    } finally {
      w2.cleanup();
    }
  });

  it('two nodes saw the same connection: one copy of each packet by default, both with --all-copies', { skip: needTshark }, () => {
    const files = [fixture('nodes/node-client.pcap'), fixture('nodes/node-server.pcapng')];
    const meta = importJson(ws.dir, files);
    const failing = calls(ws.dir, FAILING, meta.id);
    assert.equal(failing.length, 1);
    const one = join(ws.dir, 'nodes.pcapng');
    const all = join(ws.dir, 'nodes-all.pcapng');
    const r1 = exportJson(ws.dir, [FAILING, '--snapshot', meta.id, '--out', one]);
    const r2 = exportJson(ws.dir, [FAILING, '--snapshot', meta.id, '--out', all, '--all-copies']);
    const filter = connectionFilter(failing);
    const client = tsharkFrames(files[0], filter);
    const server = tsharkFrames(files[1], filter);
    assert.equal(client.length, server.length, 'each node has every packet of the connection');
    assert.equal(r1.packets, client.length, 'one copy of each packet');
    assert.equal(r1.duplicatesLeftOut, server.length);
    assert.equal(r2.packets, client.length + server.length);
    // Every packet written is one of the originals, unchanged; with --all-copies all of them, in time order.
    const key = (f: Frame): string => `${f.time}|${f.len}|${f.capLen}|${f.hex}`;
    const originals = new Set([...client, ...server].map(key));
    const written = tsharkFrames(one);
    for (const f of written) assert.ok(originals.has(key(f)), `frame at ${f.time} is an original`);
    // The copy kept is the sender's (the first the merge met): as many frames from each file as each side sent.
    const bytesOf = (fs: Frame[]): string[] => fs.map((f) => f.hex).sort();
    assert.deepEqual(bytesOf(written), bytesOf(client), 'one copy of every frame');
    const merged = [...client, ...server].sort((a, b) => Number(a.time) - Number(b.time));
    assert.deepEqual(tsharkFrames(all).map(key), merged.map(key));
    const port = failing[0].dst.port;
    const onConn = calls(ws.dir, '', meta.id).filter((c) => c.stream.id === failing[0].stream.id).map((c) => c.request.url).sort();
    assert.deepEqual(tsharkRequests(one, [port]).sort(), onConn);
    for (const out of [one, all]) {
      const w2 = tempWorkspace();
      try {
        importJson(w2.dir, [out]);
        assert.deepEqual(calls(w2.dir, FAILING).map(shape), failing.map(shape), out);
      } finally {
        w2.cleanup();
      }
    }
  });

  it('a VXLAN underlay: frames are written whole, tunnel included', { skip: needTshark }, () => {
    const meta = importJson(ws.dir, [fixture('nodes/vxlan-underlay.pcap')]);
    const out = join(ws.dir, 'vxlan.pcap');
    const r = exportJson(ws.dir, [FAILING, '--snapshot', meta.id, '--out', out]);
    assert.equal(r.transactions, 1);
    const protocols = tshark(['-r', out, '-T', 'fields', '-e', 'frame.protocols']).split('\n').filter(Boolean);
    assert.equal(protocols.length, r.packets);
    assert.ok(protocols.every((p) => p.includes('vxlan')), 'every frame still has its VXLAN envelope');
  });

  it('follow marks the capture\'s gaps as tshark does (fixtures/lossy/capture-gap.pcap)', { skip: needTshark }, () => {
    const file = fixture('lossy/capture-gap.pcap');
    const meta = importJson(ws.dir, [file]);
    const streams = [...new Set(calls(ws.dir, '', meta.id).map((c) => c.stream.id))];
    let markers = 0;
    for (const id of streams) {
      const ours = podcap(['follow', `${meta.id}:tcp:${id}`, '--raw', '-w', ws.dir]);
      assert.equal(ours.code, 0, ours.stderr);
      const theirs = tshark(['-r', file, '-qz', `follow,tcp,raw,${id - 1}`]);
      const body = (s: string): string[] => s.split('\n').filter((_, i) => i !== 3);
      assert.deepEqual(body(ours.stdout), body(theirs), `stream ${id}`);
      const json = JSON.parse(podcap(['follow', `${meta.id}:tcp:${id}`, '--json', '-w', ws.dir]).stdout) as FollowJson;
      const gaps = json.chunks.filter((c) => c.missing);
      markers += gaps.length;
      for (const g of gaps) assert.ok(ours.stdout.includes(gapMarker(g.missing as number).toString('hex')), `gap of ${g.missing} marked`);
      // The JSON's chunks give back tshark's bytes, direction by direction.
      for (const from of ['client', 'server'] as const) {
        const mine = Buffer.concat(json.chunks.filter((c) => c.from === from).map(jsonChunkBytes)).toString('hex');
        const lines = theirs.split('\n').filter((l) => (from === 'server' ? /^\t[0-9a-f]+$/ : /^[0-9a-f]+$/).test(l));
        assert.equal(mine, lines.map((l) => l.trim()).join(''), `stream ${id} ${from}`);
      }
    }
    assert.ok(markers > 0, 'the capture has gaps');
  });
});

describe('podcap export: capture files gone', () => {
  it('a capture moved since the import: exit 2 naming it, nothing written', () => {
    const ws = tempWorkspace();
    try {
      const dir = join(ws.dir, 'captures');
      mkdirSync(dir);
      const path = join(dir, 'sample.pcapng');
      copyFileSync(fixture('http1/sample.pcapng'), path);
      const meta = importJson(ws.dir, [path]);
      renameSync(path, join(dir, 'moved.pcapng'));
      const out = join(ws.dir, 'out.pcapng');
      const r = podcap(['export', FAILING, '--out', out, '-w', ws.dir]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(path), `the message names ${path}: ${r.stderr}`);
      assert.ok(!existsSync(out), 'no output left behind');
      const f = podcap(['follow', `${meta.id}:tcp:1`, '-w', ws.dir]);
      assert.equal(f.code, 2);
      assert.ok(f.stderr.includes(path));
      // A different file put in its place is not taken for it.
      copyFileSync(fixture('http1/sample.pcap'), path);
      const changed = podcap(['export', FAILING, '--out', out, '-w', ws.dir]);
      assert.equal(changed.code, 2, changed.stderr);
      assert.match(changed.stderr, /changed since/);
      assert.ok(!existsSync(out));
    } finally {
      ws.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// IP fragments: a hand-built capture

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function ipv4(src: string, dst: string, id: number, payload: Buffer, fragOffset = 0, more = false): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE((more ? 0x2000 : 0) | (fragOffset / 8), 6);
  h[8] = 64;
  h[9] = 6;
  Buffer.from(src.split('.').map(Number)).copy(h, 12);
  Buffer.from(dst.split('.').map(Number)).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, payload = ''): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, Buffer.from(payload, 'latin1')]);
}

function eth(ip: Buffer): Buffer {
  return Buffer.concat([Buffer.from('020000000002020000000001', 'hex'), Buffer.from([0x08, 0x00]), ip]);
}

/** One HTTP exchange; the request's IP datagram split into fragments of `fragSize` bytes when given. */
function exchange(client: string, port: number, path: string, ipId: number, fragSize?: number): Buffer[][] {
  const server = '10.0.0.2';
  const SYN = 0x02;
  const ACK = 0x10;
  const PSH = 0x08;
  const req = `GET ${path} HTTP/1.1\r\nHost: test\r\nX-Pad: ${'p'.repeat(fragSize ? 700 : 10)}\r\n\r\n`;
  const res = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const reqSeg = tcp(port, 80, 1001, 5001, PSH | ACK, req);
  let reqFrames: Buffer[];
  if (fragSize) {
    reqFrames = [];
    for (let off = 0; off < reqSeg.length; off += fragSize) {
      const part = reqSeg.subarray(off, Math.min(off + fragSize, reqSeg.length));
      reqFrames.push(eth(ipv4(client, server, ipId, part, off, off + fragSize < reqSeg.length)));
    }
  } else reqFrames = [eth(ipv4(client, server, ipId, reqSeg))];
  return [
    [eth(ipv4(client, server, ipId - 3, tcp(port, 80, 1000, 0, SYN)))],
    [eth(ipv4(server, client, ipId - 2, tcp(80, port, 5000, 1001, SYN | ACK)))],
    [eth(ipv4(client, server, ipId - 1, tcp(port, 80, 1001, 5001, ACK)))],
    reqFrames,
    [eth(ipv4(server, client, ipId + 1, tcp(80, port, 5001, 1001 + req.length, PSH | ACK, res)))],
    [eth(ipv4(client, server, ipId + 2, tcp(port, 80, 1001 + req.length, 5001 + res.length, ACK)))],
  ];
}

function pcapFile(frames: Array<{ ts: number; data: Buffer }>): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map(({ ts, data }) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(ts / 1e6), 0);
    r.writeUInt32LE(ts % 1e6, 4);
    r.writeUInt32LE(data.length, 8);
    r.writeUInt32LE(data.length, 12);
    return Buffer.concat([r, data]);
  });
  return Buffer.concat([head, ...recs]);
}

describe('podcap export: IP fragments', () => {
  it('every fragment of a selected datagram, in time order; none of another connection\'s', async () => {
    const ws = tempWorkspace();
    try {
      // A's request is fragmented, C's packets come between A's fragments, B's request is fragmented too.
      const a = exchange('10.0.0.1', 40000, '/frag-a', 100, 256);
      const b = exchange('10.0.0.4', 40002, '/frag-b', 200, 512);
      const c = exchange('10.0.0.3', 40001, '/plain-c', 300);
      const order: Array<[Buffer, 'a' | 'b' | 'c']> = [];
      for (let step = 0; step < 6; step++) {
        if (step === 3) {
          // a1 c b1 a2 b2 a3 c'
          order.push([a[3][0], 'a'], [c[3][0], 'c'], [b[3][0], 'b'], [a[3][1], 'a'], [b[3][1], 'b'], [a[3][2], 'a']);
          continue;
        }
        order.push([a[step][0], 'a'], [b[step][0], 'b'], [c[step][0], 'c']);
      }
      const base = 1_790_000_000_000_000;
      const frames = order.map(([data, who], i) => ({ ts: base + i * 1000, data, who }));
      const file = join(ws.dir, 'frag.pcap');
      writeFileSync(file, pcapFile(frames));
      const meta = importJson(ws.dir, [file]);
      assert.ok(meta.report.fragments.reassembledDatagrams >= 2, 'the decoder reassembled the datagrams');
      const all = calls(ws.dir, '', meta.id);
      const pick = all.filter((t) => t.request.path !== '/frag-b');
      assert.deepEqual(pick.map((t) => t.request.path).sort(), ['/frag-a', '/plain-c']);
      const out = join(ws.dir, 'out.pcapng');
      const r = exportJson(ws.dir, [...pick.flatMap((t) => ['--id', t.id]), '--out', out]);
      assert.equal(r.fragments, 2, 'the two fragments held before the one completing A\'s datagram');
      const want = frames.filter((f) => f.who !== 'b');
      assert.equal(r.packets, want.length);
      const got: Array<{ ts: number; hex: string }> = [];
      await readCaptureFile(out, 0, (p) => got.push({ ts: p.ts, hex: p.data.toString('hex') }));
      assert.deepEqual(got, want.map((f) => ({ ts: f.ts, hex: f.data.toString('hex') })));
      const w2 = tempWorkspace();
      try {
        importJson(w2.dir, [out]);
        assert.deepEqual(calls(w2.dir, '').map(shape), pick.map(shape));
      } finally {
        w2.cleanup();
      }
    } finally {
      ws.cleanup();
    }
  });

  it('IPv6 fragments (corpus linktypes/ipv6-frag-tcp.pcap)', { skip: corpusPresent ? false : 'public corpus not found' }, async () => {
    const ws = tempWorkspace();
    try {
      importJson(ws.dir, [corpusFile('linktypes/ipv6-frag-tcp.pcap')]);
      const w = await Workspace.open(ws.dir);
      try {
        const snap = w.listSnapshots()[0];
        const ref = connectionRef(w, snap, 'tcp', 1);
        let fragments = 0;
        const stats = await scanConnections(w, [ref], { copies: 'first', fragments: true }, (item) => {
          if (item.decoded === null) fragments++;
        });
        assert.equal(stats.packets, 3, 'two fragments and the packet completing the datagram');
        assert.equal(fragments, 2);
        assert.equal(stats.fragments, 2);
      } finally {
        await w.close();
      }
    } finally {
      ws.cleanup();
    }
  });
});

describe('podcap export: a 4-tuple used by two connections', () => {
  it('each connection gets its own packets: late packets after the close stay with it, the next one\'s never come along', async () => {
    const ws = tempWorkspace();
    try {
      const [cl, sv, port] = ['10.0.0.1', '10.0.0.2', 40000];
      const SYN = 0x02;
      const ACK = 0x10;
      const PSH = 0x08;
      const FIN = 0x01;
      const pkt = (fromClient: boolean, id: number, seg: Buffer): Buffer => eth(fromClient ? ipv4(cl, sv, id, seg) : ipv4(sv, cl, id, seg));
      const conn = (c: number, s: number, path: string, close: boolean): Buffer[] => {
        const req = `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`;
        const res = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
        const c1 = c + 1 + req.length;
        const s1 = s + 1 + res.length;
        const frames = [
          pkt(true, 1, tcp(port, 80, c, 0, SYN)),
          pkt(false, 2, tcp(80, port, s, c + 1, SYN | ACK)),
          pkt(true, 3, tcp(port, 80, c + 1, s + 1, ACK)),
          pkt(true, 4, tcp(port, 80, c + 1, s + 1, PSH | ACK, req)),
          pkt(false, 5, tcp(80, port, s + 1, c1, PSH | ACK, res)),
        ];
        if (close) {
          frames.push(
            pkt(true, 6, tcp(port, 80, c1, s1, FIN | ACK)),
            pkt(false, 7, tcp(80, port, s1, c1 + 1, FIN | ACK)),
            pkt(true, 8, tcp(port, 80, c1 + 1, s1 + 1, ACK)),
          );
        }
        return frames;
      };
      const first = conn(1000, 5000, '/first', true);
      const second = conn(777000, 888000, '/second', false);
      const base = 1_790_000_000_000_000;
      const frames: Array<{ ts: number; data: Buffer; who: 1 | 2 }> = first.map((data, i) => ({ ts: base + i * 1000, data, who: 1 }));
      // Six minutes after the close, the server's FIN again: a late packet of the first connection.
      frames.push({ ts: base + 360_000_000, data: first[6], who: 1 });
      second.forEach((data, i) => frames.push({ ts: base + 361_000_000 + i * 1000, data, who: 2 }));
      const file = join(ws.dir, 'reuse.pcap');
      writeFileSync(file, pcapFile(frames));
      const meta = importJson(ws.dir, [file]);
      const all = calls(ws.dir, '', meta.id);
      assert.deepEqual(all.map((c) => c.request.path), ['/first', '/second']);
      assert.notEqual(all[0].stream.id, all[1].stream.id, 'two connections');
      for (const [i, who] of [[0, 1], [1, 2]] as const) {
        const out = join(ws.dir, `reuse-${who}.pcapng`);
        const r = exportJson(ws.dir, ['--id', all[i].id, '--out', out]);
        const want = frames.filter((f) => f.who === who);
        assert.equal(r.packets, want.length, `connection ${who}`);
        const got: string[] = [];
        await readCaptureFile(out, 0, (p) => got.push(`${p.ts} ${p.data.toString('hex')}`));
        assert.deepEqual(got, want.map((f) => `${f.ts} ${f.data.toString('hex')}`), `connection ${who}`);
      }
    } finally {
      ws.cleanup();
    }
  });
});

describe('capture writers', () => {
  const tmp = tempWorkspace();
  after(() => tmp.cleanup());
  /** A slow sink: each write completes a tick later, with a small buffer, so the writer must wait. */
  function slowSink(): { stream: Writable; bytes: () => Buffer } {
    const parts: Buffer[] = [];
    const stream = new Writable({
      highWaterMark: 4096,
      write(chunk: Buffer, _enc, cb) {
        parts.push(Buffer.from(chunk));
        setTimeout(cb, 1);
      },
    });
    return { stream, bytes: () => Buffer.concat(parts) };
  }

  for (const format of ['pcap', 'pcapng'] as const) {
    it(`${format}: waits for the output, keeps bytes, lengths and nanoseconds`, async () => {
      const sink = slowSink();
      const w: CaptureWriter = format === 'pcap'
        ? new PcapWriter(sink.stream, { linkType: 1, nanos: true })
        : new PcapngWriter(sink.stream, { application: 'test' });
      const ifId = w.addInterface({ linkType: 1, snapLen: 0, name: 'eth0' });
      const packets = Array.from({ length: 3000 }, (_, i) => ({
        sec: 1_795_542_963 + i,
        nsec: (i * 123_456_789) % 1_000_000_000,
        data: Buffer.alloc(200 + (i % 7), i & 0xff),
        origLen: 1500,
      }));
      let waits = 0;
      for (const p of packets) {
        if (!w.writePacket(ifId, p, p.data, p.origLen)) {
          waits++;
          await w.drained();
        }
      }
      const stats = await w.close();
      assert.ok(waits > 0, 'the writer asked to wait');
      assert.equal(stats.packets, packets.length);
      const file = join(tmp.dir, `w.${format}`);
      writeFileSync(file, sink.bytes());
      assert.equal(stats.bytes, readFileSync(file).length);
      const back: Array<{ sec: number; nsec: number; hex: string; origLen: number }> = [];
      const report = await readCaptureFile(file, 0, (p) => {
        const r = originalRecord(p, { format, interfaces: [{ linkType: 1, name: null, description: null, tsUnitsPerSecond: 1e9, tsOffsetSeconds: 0, snapLen: 0 }] });
        assert.ok(r.exact);
        back.push({ sec: r.sec, nsec: r.nsec, hex: r.data.toString('hex'), origLen: r.origLen });
      });
      assert.equal(report.interfaces[0].tsUnitsPerSecond, 1e9);
      assert.deepEqual(back, packets.map((p) => ({ sec: p.sec, nsec: p.nsec, hex: p.data.toString('hex'), origLen: p.origLen })));
      if (tsharkPresent) {
        const times = tshark(['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len']).trim().split('\n');
        assert.deepEqual(times, packets.map((p) => `${p.sec}.${String(p.nsec).padStart(9, '0')}\t${p.origLen}\t${p.data.length}`));
      }
    });
  }

  it('pcap refuses a second link type', () => {
    const w = new PcapWriter(slowSink().stream, { linkType: 1, nanos: false });
    assert.throws(() => w.addInterface({ linkType: 276, snapLen: 0 }), /one link type/);
    w.abort();
  });
});
