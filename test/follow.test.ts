/**
 * Reassembled bytes against tshark's `-z follow,tcp,raw,N`, stream by stream and
 * direction by direction: retransmissions, out-of-order segments, overlaps and
 * gaps (tshark writes "[N bytes missing in capture file]" where podcap reports a
 * gap of N bytes). Skipped when tshark is not installed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../src/capture/open.js';
import { IPPROTO_TCP, decodeFrame, newDecodedPacket } from '../src/net/decode.js';
import { TcpReassembler, type TcpConnection } from '../src/net/tcp-reassembly.js';
import { corpusDir, corpusFile, corpusPresent, fixturesDir } from './support/paths.js';

const tsharkPresent = spawnSync('tshark', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = tsharkPresent ? false : 'tshark is not installed (apt-get install tshark)';

interface Followed {
  nodes: [string, string];
  /** Each node's bytes in order, gaps written as tshark writes them. */
  data: [Buffer, Buffer];
}

function gapMarker(n: number): Buffer {
  return Buffer.from(`[${n} bytes missing in capture file]\0`, 'latin1');
}

function tsharkStreams(file: string): number[] {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'tcp.stream'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return [...new Set(out.split('\n').filter((l) => l.trim() !== '').map(Number))].sort((a, b) => a - b);
}

function tsharkFollow(file: string, stream: number): Followed {
  const out = execFileSync('tshark', ['-r', file, '-qz', `follow,tcp,raw,${stream}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
  const nodes: [string, string] = ['', ''];
  const parts: [Buffer[], Buffer[]] = [[], []];
  for (const line of out.split('\n')) {
    const node = /^Node ([01]): (.*)$/.exec(line);
    if (node) {
      nodes[Number(node[1]) as 0 | 1] = node[2];
      continue;
    }
    if (/^[0-9a-f]+$/.test(line)) parts[0].push(Buffer.from(line, 'hex'));
    else if (/^\t[0-9a-f]+$/.test(line)) parts[1].push(Buffer.from(line.slice(1), 'hex'));
  }
  return { nodes, data: [Buffer.concat(parts[0]), Buffer.concat(parts[1])] };
}

function addr(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

interface Ours {
  conn: TcpConnection;
  /** Indexed by podcap direction: 0 client, 1 server. */
  data: [Buffer[], Buffer[]];
}

async function podcapStreams(file: string): Promise<Ours[]> {
  const streams: Ours[] = [];
  const r = new TcpReassembler((conn) => {
    const s: Ours = { conn, data: [[], []] };
    streams.push(s);
    return {
      data: (dir, bytes) => s.data[dir].push(Buffer.from(bytes)),
      gap: (dir, length) => s.data[dir].push(gapMarker(length)),
      end: () => {},
    };
  });
  const d = newDecodedPacket();
  let last = 0;
  await readCaptureFile(file, 0, (p) => {
    last = Math.max(last, p.ts);
    decodeFrame(p.linkType, p.data, d);
    if (d.outcome === 'ok' && d.protocol === IPPROTO_TCP) r.segment(d, p.ts, p.fileIndex);
  });
  r.finish(last);
  return streams;
}

/** Where podcap's bytes differ from tshark's, with the reason (README design notes). */
const KNOWN: Record<string, string> = {};

async function compareFile(file: string): Promise<void> {
  const ours = await podcapStreams(file);
  const used = new Set<Ours>();
  for (const n of tsharkStreams(file)) {
    const t = tsharkFollow(file, n);
    // Node 0 is whoever tshark saw first; match our connection by its endpoints, in order of appearance.
    const mine = ours.find((o) => !used.has(o) && [addr(o.conn.client), addr(o.conn.server)].sort().join() === [...t.nodes].sort().join());
    assert.ok(mine, `stream ${n} (${t.nodes.join(' - ')}) has a podcap connection`);
    used.add(mine);
    const node0IsClient = t.nodes[0] === addr(mine.conn.client);
    const ourNode: [Buffer, Buffer] = node0IsClient
      ? [Buffer.concat(mine.data[0]), Buffer.concat(mine.data[1])]
      : [Buffer.concat(mine.data[1]), Buffer.concat(mine.data[0])];
    for (const node of [0, 1] as const) {
      assert.equal(ourNode[node].length, t.data[node].length, `stream ${n} node ${node} (${t.nodes[node]}): length`);
      assert.ok(ourNode[node].equals(t.data[node]), `stream ${n} node ${node} (${t.nodes[node]}): bytes`);
    }
  }
}

const corpusFiles = (folder: string): string[] => {
  const dir = join(corpusDir, folder);
  return existsSync(dir) ? readdirSync(dir).sort().map((f) => `${folder}/${f}`) : [];
};

describe('reassembled bytes equal tshark follow,tcp,raw', { skip }, () => {
  for (const f of ['http1/sample.pcap', 'http1/sample.pcapng', 'lossy/netem.pcap', 'lossy/capture-gap.pcap']) {
    it(`fixtures/${f}`, () => compareFile(join(fixturesDir, f)));
  }
  const corpus = corpusPresent ? [...corpusFiles('tcp-edge'), ...corpusFiles('http1')] : [];
  for (const rel of corpus) {
    it(`corpus ${rel}`, { skip: KNOWN[rel] ?? false }, () => compareFile(corpusFile(rel)));
  }
  if (!corpusPresent) it('corpus streams', { skip: `public corpus not found at ${corpusDir}` }, () => {});
});
