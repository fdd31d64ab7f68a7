/**
 * net/: link layers, tunnels, IPv6 extension headers and IP fragments, on the public corpus
 * (against tshark's counts) and on packets built here byte by byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../src/capture/open.js';
import { NetDecoder, decodeFrame, newDecodedPacket, type DecodedPacket, type NetDecoderOptions } from '../src/net/decode.js';
import { LINKTYPE } from '../src/net/link.js';
import { UdpFlowTable } from '../src/net/udp-flows.js';
import { DROP_END, DROP_MEMORY, DROP_TIMEOUT } from '../src/net/fragments.js';
import { corpusDir, corpusFile, corpusPresent, corpusSkip } from './support/paths.js';
import { mulberry32 as rng } from '../scripts/prng.js';

// ---------------------------------------------------------------------------------------------
// Packet builders

function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

function ip6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

const PROTO = { ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, ROUTING: 43, FRAG: 44, GRE: 47, ESP: 50, AH: 51, NONE: 59, DSTOPTS: 60, HOPOPTS: 0 };

interface Ip4Opts { id?: number; mf?: boolean; df?: boolean; offset?: number; total?: number }

function ipv4(src: string, dst: string, proto: number, payload: Buffer, o: Ip4Opts = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(o.total ?? 20 + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE((o.mf ? 0x2000 : 0) | (o.df ? 0x4000 : 0) | ((o.offset ?? 0) / 8), 6);
  h[8] = 64;
  h[9] = proto;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function ipv6(src: string, dst: string, next: number, payload: Buffer, plen?: number): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(plen ?? payload.length, 4);
  h[6] = next;
  h[7] = 64;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** A generic IPv6 extension header (hop-by-hop, routing, destination options), padded to 8n octets. */
function ext(next: number, body: Buffer = Buffer.alloc(6)): Buffer {
  const len = Math.ceil((body.length + 2) / 8) * 8;
  const h = Buffer.alloc(len);
  h[0] = next;
  h[1] = len / 8 - 1;
  body.copy(h, 2);
  return h;
}

function frag6(next: number, offset: number, more: boolean, id: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE(offset | (more ? 1 : 0), 2);
  h.writeUInt32BE(id, 4);
  return h;
}

function tcp(sport: number, dport: number, payload: Buffer | string = '', seq = 1000, flags = 0x18): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq, 4);
  h.writeUInt32BE(1, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, typeof payload === 'string' ? Buffer.from(payload) : payload]);
}

function udp(sport: number, dport: number, payload: Buffer | string = '', len?: number): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(len ?? 8 + p.length, 4);
  return Buffer.concat([h, p]);
}

const MAC_A = Buffer.from('020000000001', 'hex');
const MAC_B = Buffer.from('020000000002', 'hex');

function eth(type: number, payload: Buffer): Buffer {
  const t = Buffer.alloc(2);
  t.writeUInt16BE(type);
  return Buffer.concat([MAC_A, MAC_B, t, payload]);
}

function tag(tpid: number, vid: number, type: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(tpid, 0);
  b.writeUInt16BE(vid, 2);
  b.writeUInt16BE(type, 4);
  return b;
}

function vxlan(vni: number, inner: Buffer, flags = 0x08): Buffer {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUInt32BE(vni << 8, 4);
  return Buffer.concat([h, inner]);
}

function geneve(type: number, vni: number, options: Buffer, inner: Buffer): Buffer {
  assert.equal(options.length % 4, 0);
  const h = Buffer.alloc(8);
  h[0] = options.length / 4;
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(vni << 8, 4);
  return Buffer.concat([h, options, inner]);
}

/** One Geneve option TLV: class, type, then data in 4-octet units. */
function geneveOption(cls: number, type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(cls, 0);
  h[2] = type;
  h[3] = data.length / 4;
  return Buffer.concat([h, data]);
}

function gre(type: number, payload: Buffer, o: { checksum?: boolean; key?: number; seq?: number; version?: number } = {}): Buffer {
  let flags = o.version ?? 0;
  const extra: Buffer[] = [];
  if (o.checksum) { flags |= 0x8000; extra.push(Buffer.alloc(4)); }
  if (o.key !== undefined) { flags |= 0x2000; const k = Buffer.alloc(4); k.writeUInt32BE(o.key); extra.push(k); }
  if (o.seq !== undefined) { flags |= 0x1000; const s = Buffer.alloc(4); s.writeUInt32BE(o.seq); extra.push(s); }
  const h = Buffer.alloc(4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(type, 2);
  return Buffer.concat([h, ...extra, payload]);
}

/** The inner packet most tunnel tests carry: a pod talking to a pod. */
const POD_TCP = ipv4('10.244.1.5', '10.244.2.7', PROTO.TCP, tcp(43210, 8080, 'GET / HTTP/1.1\r\n\r\n'));

interface Decoded { outcome: string; reason: string; ipVersion: number; srcIp: string; dstIp: string; protocol: number; srcPort: number; dstPort: number; payload: Buffer }

function snapshot(d: DecodedPacket): Decoded {
  return {
    outcome: d.outcome, reason: d.reason, ipVersion: d.ipVersion, srcIp: d.srcIp, dstIp: d.dstIp,
    protocol: d.protocol, srcPort: d.srcPort, dstPort: d.dstPort, payload: Buffer.from(d.payload),
  };
}

function decodeWith(dec: NetDecoder, linkType: number, frame: Buffer, ts = 0, wireLen?: number): Decoded {
  return snapshot(dec.decode(linkType, frame, ts, newDecodedPacket(), wireLen));
}

function decodeOne(linkType: number, frame: Buffer, opts?: Partial<NetDecoderOptions>): Decoded & { dec: NetDecoder } {
  const dec = new NetDecoder(opts);
  return { ...decodeWith(dec, linkType, frame), dec };
}

function assertPodTcp(d: Decoded): void {
  assert.equal(d.outcome, 'ok', d.reason);
  assert.equal(d.srcIp, '10.244.1.5');
  assert.equal(d.dstIp, '10.244.2.7');
  assert.equal(d.protocol, PROTO.TCP);
  assert.equal(d.srcPort, 43210);
  assert.equal(d.dstPort, 8080);
  assert.equal(d.payload.toString(), 'GET / HTTP/1.1\r\n\r\n');
}

// ---------------------------------------------------------------------------------------------
// The corpus

interface Expected { packets: number | null; packets_tshark: number; readable: boolean; tcp_streams: number; udp_streams: number }
const expected: Record<string, Expected> = corpusPresent ? JSON.parse(readFileSync(join(corpusDir, 'expected.json'), 'utf8')) : {};

function filesIn(folder: string): string[] {
  const dir = join(corpusDir, folder);
  return existsSync(dir) ? readdirSync(dir).sort().map((f) => `${folder}/${f}`) : [];
}

/**
 * Where podcap's connection counts differ from tshark's, and why. podcap names tunnelled
 * traffic by its inner addresses and forgets the envelope, so the outer UDP flows of VXLAN
 * and Geneve that tshark counts as udp.stream are not flows here. Checked with tshark itself:
 * `tshark -r F -Y 'vxlan || geneve' -T fields -e udp.stream | sort -u` lists the carriers
 * (geneve.pcap 4, gso-ipv4-vxlan-ipv4.pcap 1, gso-ipv6-geneve-ipv6.pcap 1) and
 * `-Y 'udp && !vxlan && !geneve'` finds no other UDP in these files.
 */
const FLOW_DIFFERENCES: Record<string, { tcp?: number; udp?: number; why: string }> = {
  'linktypes/geneve.pcap': { udp: 0, why: 'tshark\'s 4 UDP streams are the Geneve carriers (ports 12618, 22540, 43443, 50525 → 6081)' },
  'linktypes/gso-ipv4-vxlan-ipv4.pcap': { udp: 0, why: 'tshark\'s 1 UDP stream is the VXLAN carrier (60345 → 4789)' },
  'linktypes/gso-ipv6-geneve-ipv6.pcap': { udp: 0, why: 'tshark\'s 1 UDP stream is the Geneve carrier (60561 → 6081)' },
  // A BIG TCP super-packet in VXLAN: outer IPv4 total length 0 (TSO) and outer UDP length 0.
  // tshark stops at "Bad length value 0 < 8" and assigns no udp.stream (tcpdump: "IP bad-len 0");
  // no tshark preference accepts it. podcap lets the frame give the extent, as it does for the
  // IPv4 length, and finds the inner segment fd00::2.33673 → fd00::1.36425 (IPv6 payload length 0).
  'linktypes/bigtcp-ipv4-vxlan-ipv6.pcap': { tcp: 1, why: 'the inner BIG TCP connection, which tshark does not reach' },
  // The TCP header says 60 bytes, the snap length cut the frame 20 bytes in: tshark still opens
  // a stream for it; podcap calls the segment damaged ("truncated TCP header") and opens none.
  'malformed/heapoverflow-tcp.pcap': { tcp: 0, why: 'a TCP header cut by the snap length is damage, not a connection' },
};

interface CorpusRun {
  packets: number;
  outcomes: Record<string, number>;
  reasons: Record<string, number>;
  tcp: Set<string>;
  udp: Set<string>;
  dropped: number;
  dec: NetDecoder;
}

async function runCorpus(rel: string): Promise<CorpusRun> {
  const dec = new NetDecoder();
  const out = newDecodedPacket();
  const run: CorpusRun = { packets: 0, outcomes: { ok: 0, skipped: 0, damaged: 0, held: 0 }, reasons: {}, tcp: new Set(), udp: new Set(), dropped: 0, dec };
  await readCaptureFile(corpusFile(rel), 0, (p) => {
    run.packets++;
    dec.decode(p.linkType, p.data, p.ts, out, p.origLen);
    run.outcomes[out.outcome]++;
    if (out.outcome !== 'ok') {
      const k = `${out.outcome}: ${out.reason}`;
      run.reasons[k] = (run.reasons[k] ?? 0) + 1;
      return;
    }
    // A connection is its 4-tuple, either way round; port reuse is ignored.
    const a = `${out.srcIp}|${out.srcPort}`;
    const b = `${out.dstIp}|${out.dstPort}`;
    const key = a < b ? `${a}>${b}` : `${b}>${a}`;
    if (out.protocol === PROTO.TCP) run.tcp.add(key);
    else if (out.protocol === PROTO.UDP) run.udp.add(key);
  });
  run.dropped = dec.flush();
  return run;
}

function assertAccounted(run: CorpusRun): void {
  const o = run.outcomes;
  assert.equal(o.ok + o.skipped + o.damaged + o.held, run.packets, 'decoded + skipped + damaged + held = packets');
  const f = run.dec.stats.fragments;
  const dropped = Object.values(f.dropped).reduce((a, b) => a + b, 0);
  assert.equal(f.held, o.held);
  assert.equal(f.pending, 0, 'nothing held after flush');
  assert.equal(f.held, f.reassembledFragments + dropped, 'every held fragment went into a datagram or was dropped');
  assert.equal(f.bytesHeld, 0);
}

describe('corpus: every packet accounted for, connections as tshark counts them', { skip: corpusSkip }, () => {
  for (const rel of [...filesIn('linktypes'), ...filesIn('formats'), ...filesIn('tcp-edge'), ...filesIn('malformed')]) {
    const e = expected[rel];
    if (!e || !e.readable) continue;
    it(rel, async () => {
      const run = await runCorpus(rel);
      assert.equal(run.packets, e.packets_tshark, 'packets read');
      assertAccounted(run);
      const diff = FLOW_DIFFERENCES[rel];
      assert.equal(run.tcp.size, diff?.tcp ?? e.tcp_streams, `TCP connections${diff?.tcp !== undefined ? ` (${diff.why})` : ''}`);
      assert.equal(run.udp.size, diff?.udp ?? e.udp_streams, `UDP flows${diff?.udp !== undefined ? ` (${diff.why})` : ''}`);
    });
  }

  it('linktypes/geneve.pcap: 39 Geneve envelopes peeled, the inner ICMP skipped by name', async () => {
    const run = await runCorpus('linktypes/geneve.pcap');
    assert.deepEqual(run.dec.stats.decapsulated, { Geneve: 39 });
    assert.deepEqual(run.reasons, { 'skipped: IP protocol 1': 6 });
    assert.ok([...run.tcp][0].includes('20.0.0.') || [...run.tcp][0].includes('30.0.0.'), 'named by inner addresses');
  });

  it('linktypes VXLAN and Geneve GSO packets: the inner pod addresses, not the nodes\'', async () => {
    const v = await runCorpus('linktypes/gso-ipv4-vxlan-ipv4.pcap');
    assert.deepEqual([...v.tcp], ['192.168.1.1|41547>192.168.1.2|37099']);
    assert.deepEqual(v.dec.stats.decapsulated, { VXLAN: 1 });
    const g = await runCorpus('linktypes/gso-ipv6-geneve-ipv6.pcap');
    assert.deepEqual([...g.tcp], ['fd00::1|45505>fd00::2|38687']);
    const b = await runCorpus('linktypes/bigtcp-ipv4-vxlan-ipv6.pcap');
    assert.equal(b.tcp.size, 1);
    assert.ok([...b.tcp][0].startsWith('fd00::1|'));
  });

  it('linktypes/ipv4-over-ipv6.pcap: IPv4 inside IPv6', async () => {
    const run = await runCorpus('linktypes/ipv4-over-ipv6.pcap');
    assert.deepEqual([...run.tcp], ['10.1.0.1|80>10.1.0.2|80']);
    assert.deepEqual(run.dec.stats.decapsulated, { 'IPv4-in-IPv6': 1 });
  });

  it('linktypes/ipv6-frag-tcp.pcap: three IPv6 fragments make one 1000-byte segment', async () => {
    const dec = new NetDecoder();
    const out = newDecodedPacket();
    const seen: string[] = [];
    let payload = 0;
    await readCaptureFile(corpusFile('linktypes/ipv6-frag-tcp.pcap'), 0, (p) => {
      dec.decode(p.linkType, p.data, p.ts, out, p.origLen);
      seen.push(out.outcome);
      if (out.outcome === 'ok') payload = out.payload.length;
    });
    assert.deepEqual(seen, ['held', 'held', 'ok']);
    assert.equal(payload, 1000);
    assert.equal(dec.stats.fragments.reassembledDatagrams, 1);
    assert.equal(dec.stats.fragments.reassembledFragments, 2);
    assert.equal(dec.flush(), 0);
  });

  it('malformed IPv6: a negative fragment length, a 3.8 GB jumbogram in 490 bytes, a cut hop-by-hop header are damage', async () => {
    assert.deepEqual((await runCorpus('malformed/ipv6-frag6-negative-len.pcap')).reasons, { 'damaged: IPv6 fragment with payload length 0': 1 });
    assert.deepEqual((await runCorpus('malformed/ipv6-too-long-jumbo.pcap')).reasons, { 'damaged: IPv6 jumbo payload length beyond the packet': 1 });
    assert.deepEqual((await runCorpus('malformed/ipv6hdr-heapoverflow.pcap')).reasons, { 'damaged: truncated IPv6 extension header': 1 });
  });

  it('formats/be-pptp.pcap: PPTP\'s GRE version 1 is skipped by name', async () => {
    const run = await runCorpus('formats/be-pptp.pcap');
    assert.deepEqual(run.reasons, { 'skipped: GRE version 1 (PPTP)': 1 });
  });
});

// ---------------------------------------------------------------------------------------------
// Link layers

describe('link layers', () => {
  it('Ethernet with stacked 802.1ad and 802.1Q tags (and the old 0x9100 QinQ)', () => {
    // outer S-tag, C-tag, and an old-style 0x9100 tag between them and the IPv4 EtherType
    const frame = Buffer.concat([MAC_A, MAC_B, Buffer.from('88a80064' + '810000c8' + '91000005' + '0800', 'hex'), POD_TCP]);
    assertPodTcp(decodeOne(LINKTYPE.ETHERNET, frame));
    const cut = Buffer.concat([MAC_A, MAC_B, tag(0x88a8, 100, 0x8100), Buffer.from([0x00])]);
    assert.deepEqual([decodeOne(LINKTYPE.ETHERNET, cut).outcome, decodeOne(LINKTYPE.ETHERNET, cut).reason], ['damaged', 'truncated VLAN tag']);
  });

  it('non-IP frames are skipped by EtherType, 802.3 frames under one reason', () => {
    assert.equal(decodeOne(LINKTYPE.ETHERNET, eth(0x0806, Buffer.alloc(28))).reason, 'non-IP EtherType 0x0806');
    const llc1 = decodeOne(LINKTYPE.ETHERNET, eth(0x0026, Buffer.alloc(38)));
    const llc2 = decodeOne(LINKTYPE.ETHERNET, eth(0x0100, Buffer.alloc(256)));
    assert.deepEqual([llc1.outcome, llc1.reason, llc2.reason], ['skipped', '802.3 LLC frame', '802.3 LLC frame']);
  });

  it('Linux cooked SLL, with and without a VLAN tag', () => {
    const sll = (proto: number, payload: Buffer): Buffer => {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0); // to us
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      MAC_A.copy(h, 6);
      h.writeUInt16BE(proto, 14);
      return Buffer.concat([h, payload]);
    };
    assertPodTcp(decodeOne(LINKTYPE.LINUX_SLL, sll(0x0800, POD_TCP)));
    assertPodTcp(decodeOne(LINKTYPE.LINUX_SLL, sll(0x8100, Buffer.concat([Buffer.from([0, 7, 0x08, 0x00]), POD_TCP]))));
    assert.equal(decodeOne(LINKTYPE.LINUX_SLL, Buffer.alloc(15)).outcome, 'damaged');
    assert.equal(decodeOne(LINKTYPE.LINUX_SLL, sll(0x0004, Buffer.alloc(40))).reason, 'Linux cooked protocol 0x0004');
    const netlink = sll(0x0000, Buffer.alloc(40));
    netlink.writeUInt16BE(824, 2);
    assert.equal(decodeOne(LINKTYPE.LINUX_SLL, netlink).reason, 'Linux netlink message');
  });

  it('Linux cooked SLL2', () => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x86dd, 0);
    h.writeUInt32BE(3, 4); // ifindex
    h.writeUInt16BE(1, 8);
    h[10] = 4; // outgoing
    h[11] = 6;
    MAC_A.copy(h, 12);
    const d = decodeOne(LINKTYPE.LINUX_SLL2, Buffer.concat([h, ipv6('fd00::1', 'fd00::2', PROTO.UDP, udp(5353, 53, 'q'))]));
    assert.deepEqual([d.outcome, d.ipVersion, d.srcIp, d.dstIp, d.srcPort, d.dstPort, d.payload.toString()], ['ok', 6, 'fd00::1', 'fd00::2', 5353, 53, 'q']);
    assert.equal(decodeOne(LINKTYPE.LINUX_SLL2, Buffer.alloc(19)).reason, 'truncated Linux cooked v2 header');
  });

  it('BSD loopback NULL in either byte order, LOOP in network order, the OSes\' AF_INET6 values', () => {
    const fam = (v: number, le: boolean): Buffer => {
      const b = Buffer.alloc(4);
      if (le) b.writeUInt32LE(v);
      else b.writeUInt32BE(v);
      return b;
    };
    const v6 = ipv6('::1', '::1', PROTO.TCP, tcp(50000, 80));
    for (const le of [true, false]) {
      assertPodTcp(decodeOne(LINKTYPE.NULL, Buffer.concat([fam(2, le), POD_TCP])));
      for (const af of [10, 24, 28, 30]) {
        const d = decodeOne(LINKTYPE.NULL, Buffer.concat([fam(af, le), v6]));
        assert.deepEqual([d.outcome, d.ipVersion, d.srcIp], ['ok', 6, '::1'], `AF ${af} ${le ? 'LE' : 'BE'}`);
      }
      assertPodTcp(decodeOne(LINKTYPE.LOOP, Buffer.concat([fam(2, le), POD_TCP])));
    }
    assert.deepEqual([decodeOne(LINKTYPE.NULL, Buffer.concat([fam(7, true), POD_TCP])).reason], ['loopback address family 7']);
    assert.equal(decodeOne(LINKTYPE.NULL, Buffer.alloc(3)).outcome, 'damaged');
  });

  it('raw IP: LINKTYPE_RAW 101, DLT 12 and 14 by version; LINKTYPE_IPV4 228 and IPV6 229', () => {
    const v6 = ipv6('2001:db8::1', '2001:db8::2', PROTO.UDP, udp(1, 2, 'x'));
    for (const lt of [LINKTYPE.RAW, LINKTYPE.RAW_DLT12, LINKTYPE.RAW_DLT14]) {
      assertPodTcp(decodeOne(lt, POD_TCP));
      assert.equal(decodeOne(lt, v6).srcIp, '2001:db8::1');
      assert.equal(decodeOne(lt, Buffer.from([0x50, 0, 0, 0])).reason, 'raw IP frame with unknown IP version');
    }
    assertPodTcp(decodeOne(LINKTYPE.IPV4, POD_TCP));
    assert.equal(decodeOne(LINKTYPE.IPV6, v6).dstIp, '2001:db8::2');
    assert.equal(decodeOne(LINKTYPE.IPV4, v6).reason, 'bad IPv4 version');
  });

  it('an unknown link type is skipped by reason, never fatal', () => {
    const d = decodeOne(147, POD_TCP);
    assert.deepEqual([d.outcome, d.reason], ['skipped', 'unsupported link type 147']);
  });
});

// ---------------------------------------------------------------------------------------------
// Tunnels

const NODE_A = '192.168.10.1';
const NODE_B = '192.168.10.2';

describe('tunnels: the inner packet, named by its inner addresses', () => {
  it('VXLAN on 4789 and on 8472 (flannel), inner Ethernet/IPv4/TCP', () => {
    const dec = new NetDecoder();
    for (const port of [4789, 8472]) {
      const frame = eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(51000, port, vxlan(1, eth(0x0800, POD_TCP)))));
      assertPodTcp(decodeWith(dec, LINKTYPE.ETHERNET, frame));
    }
    assert.deepEqual(dec.stats.decapsulated, { VXLAN: 2 });
  });

  it('VXLAN\'s port without the I flag is plain UDP; VXLAN carrying ARP is skipped after decapsulation', () => {
    const plain = decodeOne(LINKTYPE.ETHERNET, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(51000, 4789, vxlan(1, eth(0x0800, POD_TCP), 0)))));
    assert.deepEqual([plain.outcome, plain.srcIp, plain.dstPort], ['ok', NODE_A, 4789]);
    const arp = decodeOne(LINKTYPE.ETHERNET, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(51000, 4789, vxlan(1, eth(0x0806, Buffer.alloc(28)))))));
    assert.deepEqual([arp.outcome, arp.reason, arp.dec.stats.decapsulated.VXLAN], ['skipped', 'non-IP EtherType 0x0806', 1]);
  });

  it('Geneve with options, carrying Ethernet over IPv4 and IPv4 directly over IPv6', () => {
    const options = Buffer.concat([geneveOption(0x0102, 0x80, Buffer.alloc(8, 0xaa)), geneveOption(0xffff, 0x01, Buffer.alloc(4, 0xbb))]);
    const overV4 = eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(40000, 6081, geneve(0x6558, 7, options, eth(0x0800, POD_TCP)))));
    const d = decodeOne(LINKTYPE.ETHERNET, overV4);
    assertPodTcp(d);
    assert.deepEqual(d.dec.stats.decapsulated, { Geneve: 1 });
    const overV6 = eth(0x86dd, ipv6('fd00:1::a', 'fd00:1::b', PROTO.UDP, udp(40000, 6081, geneve(0x0800, 7, options, POD_TCP))));
    assertPodTcp(decodeOne(LINKTYPE.ETHERNET, overV6));
    // Options claimed beyond the datagram.
    const bad = geneve(0x6558, 7, Buffer.alloc(0), Buffer.alloc(0));
    bad[0] = 10;
    assert.equal(decodeOne(LINKTYPE.ETHERNET, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(40000, 6081, bad)))).reason, 'truncated Geneve header');
  });

  it('IP-in-IP: IPv4 in IPv4 (4), IPv6 in IPv4 (41), IPv4 in IPv6, IPv6 in IPv6', () => {
    const v6inner = ipv6('fd00::5', 'fd00::7', PROTO.TCP, tcp(1234, 443));
    const cases: Array<[Buffer, string, string]> = [
      [ipv4(NODE_A, NODE_B, PROTO.IPIP, POD_TCP), 'IPv4-in-IPv4', '10.244.1.5'],
      [ipv4(NODE_A, NODE_B, PROTO.IPV6, v6inner), 'IPv6-in-IPv4', 'fd00::5'],
      [ipv6('2001:db8::a', '2001:db8::b', PROTO.IPIP, POD_TCP), 'IPv4-in-IPv6', '10.244.1.5'],
      [ipv6('2001:db8::a', '2001:db8::b', PROTO.IPV6, v6inner), 'IPv6-in-IPv6', 'fd00::5'],
    ];
    for (const [pkt, kind, src] of cases) {
      const d = decodeOne(LINKTYPE.RAW, pkt);
      assert.deepEqual([d.outcome, d.srcIp, d.dec.stats.decapsulated], ['ok', src, { [kind]: 1 }], kind);
    }
  });

  it('GRE: basic, with checksum, key and sequence number, over IPv6, and transparent Ethernet (0x6558)', () => {
    assertPodTcp(decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x0800, POD_TCP))));
    assertPodTcp(decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x0800, POD_TCP, { checksum: true, key: 42, seq: 7 }))));
    assertPodTcp(decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x0800, POD_TCP, { key: 42 }))));
    const v6 = decodeOne(LINKTYPE.RAW, ipv6('2001:db8::a', '2001:db8::b', PROTO.GRE, gre(0x86dd, ipv6('fd00::5', 'fd00::7', PROTO.UDP, udp(9, 53, 'q')), { seq: 1 })));
    assert.deepEqual([v6.outcome, v6.srcIp, v6.dstPort], ['ok', 'fd00::5', 53]);
    const teb = decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x6558, eth(0x0800, POD_TCP), { key: 5001 })));
    assertPodTcp(teb);
    assert.deepEqual(teb.dec.stats.decapsulated, { GRE: 1 });
  });

  it('GRE forms that are not decapsulated are skipped by name; a cut GRE header is damage', () => {
    assert.equal(decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x880b, Buffer.alloc(8), { version: 1 }))).reason, 'GRE version 1 (PPTP)');
    const erspan = decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x88be, Buffer.alloc(8), { seq: 1 })));
    assert.deepEqual([erspan.outcome, erspan.reason, erspan.dec.stats.decapsulated], ['skipped', 'GRE protocol 0x88be', {}]);
    const cut = gre(0x0800, Buffer.alloc(0), { key: 1, seq: 2 }).subarray(0, 10);
    assert.equal(decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, cut)).reason, 'truncated GRE header');
  });

  it('nesting is bounded: four tunnels are peeled, a fifth is "encapsulation too deep"', () => {
    let pkt = POD_TCP;
    for (let i = 0; i < 4; i++) pkt = ipv4(NODE_A, NODE_B, PROTO.IPIP, pkt);
    const four = decodeOne(LINKTYPE.RAW, pkt);
    assertPodTcp(four);
    assert.deepEqual(four.dec.stats.decapsulated, { 'IPv4-in-IPv4': 4 });
    const five = decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.IPIP, pkt));
    assert.deepEqual([five.outcome, five.reason], ['damaged', 'encapsulation too deep']);
    // Mixed kinds count the same way.
    const mixed = eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(1, 4789, vxlan(1, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x86dd,
      ipv6('2001:db8::1', '2001:db8::2', PROTO.IPIP, ipv4(NODE_A, NODE_B, PROTO.IPIP, POD_TCP)))))))));
    const m = decodeOne(LINKTYPE.ETHERNET, mixed);
    assertPodTcp(m);
    assert.deepEqual(m.dec.stats.decapsulated, { VXLAN: 1, GRE: 1, 'IPv4-in-IPv6': 1, 'IPv4-in-IPv4': 1 });
  });
});

// ---------------------------------------------------------------------------------------------
// IPv6 extension headers

const V6A = '2001:db8::10';
const V6B = '2001:db8::20';

function hbhJumbo(next: number, jumbo: number): Buffer {
  const body = Buffer.alloc(6);
  body[0] = 0xc2;
  body[1] = 4;
  body.writeUInt32BE(jumbo, 2);
  return ext(next, body);
}

describe('IPv6 extension headers', () => {
  it('hop-by-hop, routing and destination options are walked to TCP', () => {
    const chain = Buffer.concat([ext(PROTO.ROUTING), ext(PROTO.DSTOPTS, Buffer.alloc(14)), ext(PROTO.TCP), tcp(1, 2, 'hi')]);
    const d = decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.HOPOPTS, chain));
    assert.deepEqual([d.outcome, d.protocol, d.payload.toString()], ['ok', PROTO.TCP, 'hi']);
  });

  it('AH has its length in 4-octet units (IPv6 and IPv4); ESP stops decoding', () => {
    const ah = (next: number): Buffer => {
      const h = Buffer.alloc(24); // 12 fixed + 12 of ICV: length field (24 / 4) - 2 = 4
      h[0] = next;
      h[1] = 4;
      return h;
    };
    const v6 = decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.AH, Buffer.concat([ah(PROTO.UDP), udp(500, 4500, 'ike')])));
    assert.deepEqual([v6.outcome, v6.payload.toString()], ['ok', 'ike']);
    assertPodTcp(decodeOne(LINKTYPE.RAW, (() => {
      const inner = ipv4('10.244.1.5', '10.244.2.7', PROTO.AH, Buffer.concat([ah(PROTO.TCP), tcp(43210, 8080, 'GET / HTTP/1.1\r\n\r\n')]));
      return inner;
    })()));
    const esp = decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([ext(PROTO.ESP), Buffer.alloc(32)])));
    assert.deepEqual([esp.outcome, esp.reason], ['skipped', 'IPv6 ESP']);
    const esp4 = decodeOne(LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.ESP, Buffer.alloc(32)));
    assert.deepEqual([esp4.outcome, esp4.reason, esp4.protocol], ['skipped', 'IP protocol 50', 50]);
    assert.equal(decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.NONE, Buffer.alloc(0))).reason, 'IPv6 no next header');
  });

  it('a jumbogram is read to the end of the frame when the snap length cut it, damage when the wire was as short', () => {
    const body = tcp(1, 2, Buffer.alloc(1000, 0x41));
    const pkt = ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([hbhJumbo(PROTO.TCP, 8 + 100000), body]), 0);
    const dec = new NetDecoder();
    const cut = decodeWith(dec, LINKTYPE.RAW, pkt, 0, 40 + 8 + 100000);
    assert.deepEqual([cut.outcome, cut.payload.length], ['ok', 1000]);
    const whole = decodeWith(dec, LINKTYPE.RAW, pkt);
    assert.deepEqual([whole.outcome, whole.reason], ['damaged', 'IPv6 jumbo payload length beyond the packet']);
    const small = ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([hbhJumbo(PROTO.TCP, 1000), body]), 0);
    assert.equal(decodeWith(dec, LINKTYPE.RAW, small).reason, 'bad IPv6 jumbo payload length');
    const withFrag = ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([hbhJumbo(PROTO.FRAG, 70000), frag6(PROTO.TCP, 0, true, 1), body]), 0);
    assert.equal(decodeWith(dec, LINKTYPE.RAW, withFrag, 0, 70040).reason, 'IPv6 jumbogram with a fragment header');
    // A jumbo option with a wrong length, and options running past their header.
    const badOpt = hbhJumbo(PROTO.TCP, 70000);
    badOpt[3] = 3;
    assert.equal(decodeWith(dec, LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([badOpt, body]), 0)).reason, 'bad IPv6 jumbo option');
    const overrun = hbhJumbo(PROTO.TCP, 70000);
    overrun[2] = 0x05;
    overrun[3] = 200;
    assert.equal(decodeWith(dec, LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([overrun, body]), 0)).reason, 'bad IPv6 option length');
  });

  it('payload length 0 without a jumbo option (GSO, BIG TCP) reads to the end of the frame', () => {
    const d = decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.TCP, tcp(1, 2, Buffer.alloc(70000, 1)), 0));
    assert.deepEqual([d.outcome, d.payload.length], ['ok', 70000]);
  });

  it('an atomic fragment (offset 0, no more fragments) is a whole datagram', () => {
    const dec = new NetDecoder();
    const d = decodeWith(dec, LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 0, false, 9), udp(1, 53, 'q')])));
    assert.deepEqual([d.outcome, d.dstPort, d.payload.toString()], ['ok', 53, 'q']);
    assert.equal(dec.stats.fragments.held, 0);
  });

  it('extension headers beyond the packet are damage', () => {
    const long = ext(PROTO.TCP, Buffer.alloc(30));
    assert.equal(decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.DSTOPTS, long.subarray(0, 16), 16)).reason, 'truncated IPv6 extension header');
    assert.equal(decodeOne(LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.FRAG, Buffer.alloc(4))).reason, 'truncated IPv6 fragment header');
  });
});

// ---------------------------------------------------------------------------------------------
// IP fragments

/** IPv4 fragments of one datagram: [offset, length] slices of the transport payload. */
function frags4(payload: Buffer, slices: Array<[number, number]>, id = 77, proto = PROTO.UDP, src = '10.244.1.5', dst = '10.244.2.7'): Buffer[] {
  return slices.map(([off, len]) => {
    const more = off + len < payload.length;
    return ipv4(src, dst, proto, payload.subarray(off, off + len), { id, mf: more, offset: off });
  });
}

function frags6(next: number, payload: Buffer, slices: Array<[number, number]>, id = 0xabcdef01): Buffer[] {
  return slices.map(([off, len]) => {
    const more = off + len < payload.length;
    return ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(next, off, more, id), payload.subarray(off, off + len)]));
  });
}

function bigUdp(n: number, sport = 4000, dport = 5000): { datagram: Buffer; body: Buffer } {
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (i * 7 + 3) & 0xff;
  return { datagram: udp(sport, dport, body), body };
}

function sumDropped(dec: NetDecoder): number {
  return Object.values(dec.stats.fragments.dropped).reduce((a, b) => a + b, 0);
}

describe('IP fragments', () => {
  it('IPv4 fragments out of order are held, then the datagram is decoded as UDP', () => {
    const { datagram, body } = bigUdp(3000);
    const f = frags4(datagram, [[0, 1480], [1480, 1480], [2960, 48]]);
    const dec = new NetDecoder();
    const a = decodeWith(dec, LINKTYPE.RAW, f[2], 1);
    const b = decodeWith(dec, LINKTYPE.RAW, f[0], 2);
    const c = decodeWith(dec, LINKTYPE.RAW, f[1], 3);
    assert.deepEqual([a.outcome, a.reason, b.outcome, c.outcome], ['held', 'IPv4 fragment', 'held', 'ok']);
    assert.deepEqual([c.srcIp, c.dstIp, c.srcPort, c.dstPort], ['10.244.1.5', '10.244.2.7', 4000, 5000]);
    assert.ok(c.payload.equals(body));
    const s = dec.stats.fragments;
    assert.deepEqual([s.held, s.reassembledDatagrams, s.reassembledFragments, s.pending, s.pendingDatagrams], [2, 1, 2, 0, 0]);
    // The reassembled datagram is remembered briefly (to recognise a second copy), then forgotten.
    assert.equal(s.bytesHeld, 3008 + 256);
    decodeWith(dec, LINKTYPE.RAW, POD_TCP, 3 + 2_000_001);
    assert.equal(s.bytesHeld, 0);
  });

  it('overlapping IPv4 fragments: the bytes that arrived first win', () => {
    const { datagram } = bigUdp(40); // 48 bytes with its header
    const evil = Buffer.from(datagram);
    evil.fill(0x58, 16, 48);
    const dec = new NetDecoder();
    const f1 = ipv4('10.0.0.1', '10.0.0.2', PROTO.UDP, datagram.subarray(0, 24), { id: 5, mf: true, offset: 0 });
    const f2 = ipv4('10.0.0.1', '10.0.0.2', PROTO.UDP, evil.subarray(16, 40), { id: 5, mf: true, offset: 16 });
    const f3 = ipv4('10.0.0.1', '10.0.0.2', PROTO.UDP, datagram.subarray(32, 48), { id: 5, offset: 32 });
    assert.equal(decodeWith(dec, LINKTYPE.RAW, f1).outcome, 'held');
    assert.equal(decodeWith(dec, LINKTYPE.RAW, f2).outcome, 'held');
    const d = decodeWith(dec, LINKTYPE.RAW, f3);
    assert.equal(d.outcome, 'ok');
    const expect = Buffer.concat([datagram.subarray(8, 24), evil.subarray(24, 40), datagram.subarray(40, 48)]);
    assert.ok(d.payload.equals(expect), d.payload.toString('hex'));
    assert.deepEqual([dec.stats.fragments.overlaps, dec.stats.fragments.overlapBytes], [2, 16]);
  });

  it('a fragment wholly inside held data and a repeated last fragment change nothing', () => {
    const { datagram, body } = bigUdp(200);
    const [f0, f1, f2] = frags4(datagram, [[0, 80], [80, 80], [160, 48]], 9);
    const inside = ipv4('10.244.1.5', '10.244.2.7', PROTO.UDP, Buffer.alloc(16, 0xee), { id: 9, mf: true, offset: 16 });
    const dec = new NetDecoder();
    assert.deepEqual([f2, f0, inside, f2].map((f) => decodeWith(dec, LINKTYPE.RAW, f).outcome), ['held', 'held', 'held', 'held']);
    const d = decodeWith(dec, LINKTYPE.RAW, f1);
    assert.ok(d.payload.equals(body));
    assert.equal(dec.stats.fragments.reassembledFragments, 4);
  });

  it('IPv6 fragments, with a destination options header in the fragmentable part', () => {
    const seg = Buffer.concat([ext(PROTO.TCP), tcp(40000, 443, Buffer.alloc(2000, 0x62))]);
    const f = frags6(PROTO.DSTOPTS, seg, [[0, 1232], [1232, seg.length - 1232]]);
    const dec = new NetDecoder();
    const a = decodeWith(dec, LINKTYPE.RAW, f[1]);
    const b = decodeWith(dec, LINKTYPE.RAW, f[0]);
    assert.deepEqual([a.outcome, a.reason, b.outcome], ['held', 'IPv6 fragment', 'ok']);
    assert.deepEqual([b.ipVersion, b.srcIp, b.dstIp, b.dstPort, b.payload.length], [6, V6A, V6B, 443, 2000]);
  });

  it('the next header of the offset-0 IPv6 fragment is the one that counts', () => {
    const dgram = udp(1, 2, Buffer.alloc(100, 1));
    const f0 = ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 0, true, 3), dgram.subarray(0, 64)]));
    const f1 = ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.TCP, 64, false, 3), dgram.subarray(64)]));
    const dec = new NetDecoder();
    decodeWith(dec, LINKTYPE.RAW, f1);
    const d = decodeWith(dec, LINKTYPE.RAW, f0);
    assert.deepEqual([d.outcome, d.protocol, d.payload.length], ['ok', PROTO.UDP, 100]);
  });

  it('a fragmented VXLAN envelope is reassembled, then decapsulated', () => {
    const inner = ipv4('10.244.1.5', '10.244.2.7', PROTO.TCP, tcp(43210, 8080, Buffer.alloc(1400, 0x7a)));
    const outer = udp(50000, 4789, vxlan(3, eth(0x0800, inner)));
    const f = frags4(outer, [[0, 1000], [1000, outer.length - 1000]], 4242, PROTO.UDP, NODE_A, NODE_B).map((p) => eth(0x0800, p));
    const dec = new NetDecoder();
    assert.equal(decodeWith(dec, LINKTYPE.ETHERNET, f[0]).outcome, 'held');
    const d = decodeWith(dec, LINKTYPE.ETHERNET, f[1]);
    assert.deepEqual([d.outcome, d.srcIp, d.dstIp, d.dstPort, d.payload.length], ['ok', '10.244.1.5', '10.244.2.7', 8080, 1400]);
    assert.deepEqual(dec.stats.decapsulated, { VXLAN: 1 });
  });

  it('the same fragments captured twice: the second copy is a duplicate, not a datagram that never completes', () => {
    const { datagram } = bigUdp(100);
    const [f0, f1] = frags4(datagram, [[0, 64], [64, 44]], 11);
    const dec = new NetDecoder();
    const outcomes = [f0, f1, f0, f1].map((f, i) => decodeWith(dec, LINKTYPE.RAW, f, i * 10));
    assert.deepEqual(outcomes.map((o) => o.outcome), ['held', 'ok', 'skipped', 'skipped']);
    assert.equal(outcomes[2].reason, 'duplicate IP fragment (datagram already reassembled)');
    // The same id with other bytes, later, is a new datagram.
    const other = frags4(bigUdp(100, 7, 8).datagram, [[0, 64], [64, 44]], 11);
    assert.equal(decodeWith(dec, LINKTYPE.RAW, other[0], 100).outcome, 'held');
    assert.equal(decodeWith(dec, LINKTYPE.RAW, other[1], 110).dstPort, 8);
    assert.equal(dec.flush(), 0);
  });

  it('a datagram not completed within the timeout (capture time) is dropped; flush drops the rest', () => {
    const { datagram } = bigUdp(3000);
    const a = frags4(datagram, [[0, 1480], [1480, 1480], [2960, 48]], 1);
    const b = frags4(datagram, [[0, 1480], [1480, 1480], [2960, 48]], 2);
    const dec = new NetDecoder();
    decodeWith(dec, LINKTYPE.RAW, a[0], 0);
    decodeWith(dec, LINKTYPE.RAW, a[1], 1_000_000);
    decodeWith(dec, LINKTYPE.RAW, b[0], 29_000_000);
    // Any packet moves the clock, not only fragments.
    decodeWith(dec, LINKTYPE.RAW, POD_TCP, 30_000_001);
    assert.deepEqual(dec.stats.fragments.dropped, { [DROP_TIMEOUT]: 2 });
    // a's last fragment now starts a datagram of its own.
    assert.equal(decodeWith(dec, LINKTYPE.RAW, a[2], 30_000_002).outcome, 'held');
    assert.equal(decodeWith(dec, LINKTYPE.RAW, b[1], 30_000_003).outcome, 'held');
    assert.equal(dec.flush(), 3);
    assert.deepEqual(dec.stats.fragments.dropped, { [DROP_TIMEOUT]: 2, [DROP_END]: 3 });
    assert.equal(dec.stats.fragments.held, sumDropped(dec));
    assert.equal(dec.stats.fragments.bytesHeld, 0);
  });

  it('held memory stops at the cap: the oldest incomplete datagrams go first, every fragment counted', () => {
    const cap = 256 * 1024;
    const dec = new NetDecoder({ fragments: { memoryCap: cap } });
    const { datagram } = bigUdp(60000);
    let packets = 0;
    for (let id = 0; id < 40; id++) {
      // Every fragment but the last: never completes.
      const f = frags4(datagram, Array.from({ length: 40 }, (_, i): [number, number] => [i * 1480, 1480]), id);
      for (const p of f) {
        assert.equal(decodeWith(dec, LINKTYPE.RAW, p, id * 1000).outcome, 'held');
        packets++;
        assert.ok(dec.stats.fragments.bytesHeld <= cap, `${dec.stats.fragments.bytesHeld} held`);
      }
    }
    const s = dec.stats.fragments;
    assert.ok(s.peakBytesHeld <= cap && s.peakBytesHeld > cap - 2 * 1480 - 512, `peak ${s.peakBytesHeld}`);
    assert.ok(s.dropped[DROP_MEMORY] > 0);
    assert.equal(s.held, packets);
    assert.equal(s.held, s.dropped[DROP_MEMORY] + s.pending);
    const pending = s.pending;
    assert.equal(dec.flush(), pending);
    assert.equal(s.held, sumDropped(dec));
  });

  it('one huge incomplete datagram under a cap smaller than itself never holds more than the cap', () => {
    const cap = 32 * 1024;
    const dec = new NetDecoder({ fragments: { memoryCap: cap } });
    const body = Buffer.alloc(65535 - 20 - 8, 0x33);
    const { length } = udp(1, 2, body);
    const slices: Array<[number, number]> = [];
    for (let off = 0; off + 1480 < length; off += 1480) slices.push([off, 1480]); // the last is never sent
    for (const p of frags4(udp(1, 2, body), slices, 1000)) {
      decodeWith(dec, LINKTYPE.RAW, p);
      assert.ok(dec.stats.fragments.bytesHeld <= cap);
    }
    assert.ok(dec.stats.fragments.peakBytesHeld <= cap);
    dec.flush();
    assert.equal(dec.stats.fragments.held, slices.length);
    assert.equal(sumDropped(dec), slices.length);
  });

  it('the default cap (16 MiB) holds against 25 MB of incomplete datagrams', () => {
    const dec = new NetDecoder();
    const { datagram } = bigUdp(64000);
    const slices = Array.from({ length: 43 }, (_, i): [number, number] => [i * 1480, 1480]);
    for (let id = 0; id < 400; id++) for (const p of frags4(datagram, slices, id, PROTO.UDP, '10.1.0.1', `10.2.${id >> 8}.${id & 0xff}`)) decodeWith(dec, LINKTYPE.RAW, p, id);
    assert.ok(dec.stats.fragments.peakBytesHeld <= 16 * 1024 * 1024);
    assert.ok(dec.stats.fragments.dropped[DROP_MEMORY] > 0);
    dec.flush();
    assert.equal(dec.stats.fragments.held, 400 * 43);
    assert.equal(sumDropped(dec), 400 * 43);
  });

  it('malformed fragments are damage: bad length, beyond 65535, a conflicting end, beyond the datagram, cut by the capture', () => {
    const dec = new NetDecoder();
    const r = (p: Buffer, wire?: number): string => decodeWith(dec, LINKTYPE.RAW, p, 0, wire).reason;
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(100), { id: 1, mf: true })), 'bad IP fragment length');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(0), { id: 1, mf: true })), 'bad IP fragment length');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(200), { id: 2, offset: 8191 * 8 })), 'IP fragment beyond 65535 bytes');
    assert.equal(r(ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 0xfff8, false, 3), Buffer.alloc(16)]))), 'IP fragment beyond 65535 bytes');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(16), { id: 4, offset: 64 })), 'IPv4 fragment');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(16), { id: 4, offset: 96 })), 'conflicting last IP fragment');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(16), { id: 4, offset: 72, mf: true })), 'IP fragment beyond the end of its datagram');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(16), { id: 4, offset: 0, mf: true, total: 0 })), 'IPv4 fragment without a total length');
    assert.equal(r(ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(16), { id: 5, mf: true, total: 36 + 64 }), 100), 'truncated IPv4 fragment');
    assert.equal(r(ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 8, true, 6), Buffer.alloc(16)]), 0)), 'IPv6 fragment with payload length 0');
    assert.equal(r(ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 8, true, 6), Buffer.alloc(16)]), 200)), 'truncated IPv6 fragment');
    dec.flush();
    assert.equal(dec.stats.fragments.held, sumDropped(dec));
  });

  it('a fragment header inside a reassembled IPv6 datagram is damage, not recursion', () => {
    const inner = Buffer.concat([frag6(PROTO.UDP, 8, true, 99), Buffer.alloc(16)]);
    const f = frags6(PROTO.FRAG, inner, [[0, 16], [16, 8]], 5);
    const dec = new NetDecoder();
    decodeWith(dec, LINKTYPE.RAW, f[0]);
    assert.equal(decodeWith(dec, LINKTYPE.RAW, f[1]).reason, 'IPv6 fragment header inside a reassembled datagram');
  });

  it('decodeFrame (stateless) skips fragments and never holds', () => {
    const { datagram } = bigUdp(3000);
    const out = newDecodedPacket();
    for (const p of frags4(datagram, [[0, 1480], [1480, 1480], [2960, 48]])) {
      decodeFrame(LINKTYPE.RAW, p, out);
      assert.deepEqual([out.outcome, out.reason], ['skipped', 'IPv4 fragment']);
    }
    const v6 = frags6(PROTO.UDP, datagram, [[0, 1480], [1480, datagram.length - 1480]]);
    decodeFrame(LINKTYPE.RAW, v6[0], out);
    assert.deepEqual([out.outcome, out.reason], ['skipped', 'IPv6 fragment']);
    decodeFrame(LINKTYPE.ETHERNET, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(1, 8472, vxlan(1, eth(0x0800, POD_TCP))))), out);
    assert.equal(out.srcIp, '10.244.1.5');
  });
});

// ---------------------------------------------------------------------------------------------
// Robustness


describe('bad lengths never throw', () => {
  const seeds: Array<[number, Buffer]> = [
    [LINKTYPE.ETHERNET, Buffer.concat([MAC_A, MAC_B, tag(0x88a8, 1, 0x8100), Buffer.from([0, 2, 0x08, 0x00]), POD_TCP])],
    [LINKTYPE.ETHERNET, eth(0x0800, ipv4(NODE_A, NODE_B, PROTO.UDP, udp(1, 4789, vxlan(1, eth(0x0800, POD_TCP)))))],
    [LINKTYPE.ETHERNET, eth(0x86dd, ipv6(V6A, V6B, PROTO.UDP, udp(1, 6081, geneve(0x6558, 1, geneveOption(1, 1, Buffer.alloc(4)), eth(0x0800, POD_TCP)))))],
    [LINKTYPE.RAW, ipv4(NODE_A, NODE_B, PROTO.GRE, gre(0x6558, eth(0x86dd, ipv6(V6A, V6B, PROTO.IPIP, POD_TCP)), { checksum: true, key: 1, seq: 2 }))],
    [LINKTYPE.RAW, ipv6(V6A, V6B, PROTO.HOPOPTS, Buffer.concat([hbhJumbo(PROTO.ROUTING, 70000), ext(PROTO.AH), Buffer.from([PROTO.TCP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), tcp(1, 2, 'x')]), 0)],
    [LINKTYPE.LINUX_SLL2, Buffer.concat([Buffer.from([0x86, 0xdd]), Buffer.alloc(18), ipv6(V6A, V6B, PROTO.FRAG, Buffer.concat([frag6(PROTO.UDP, 0, true, 1), udp(1, 2, Buffer.alloc(64))]))])],
    [LINKTYPE.NULL, Buffer.concat([Buffer.from([2, 0, 0, 0]), ipv4(NODE_A, NODE_B, PROTO.UDP, Buffer.alloc(64), { id: 3, mf: true, offset: 64 })])],
    [LINKTYPE.LINUX_SLL, Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), ipv4(NODE_A, NODE_B, PROTO.IPV6, ipv6(V6A, V6B, PROTO.TCP, tcp(1, 2)))])],
  ];

  it('every truncation of every seed packet, for every link type', () => {
    const dec = new NetDecoder();
    const out = newDecodedPacket();
    let n = 0;
    const counts: Record<string, number> = { ok: 0, skipped: 0, damaged: 0, held: 0 };
    for (const [, frame] of seeds) {
      for (const lt of [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999]) {
        for (let len = 0; len <= frame.length; len++) {
          dec.decode(lt, frame.subarray(0, len), n, out, frame.length);
          dec.decode(lt, frame.subarray(0, len), n, out);
          counts[out.outcome]++;
          n++;
        }
      }
    }
    assert.equal(counts.ok + counts.skipped + counts.damaged + counts.held, n);
    dec.flush();
    assert.equal(dec.stats.fragments.held, dec.stats.fragments.reassembledFragments + sumDropped(dec));
  });

  it('random byte corruption of seed packets', () => {
    const rand = rng(20251120);
    const dec = new NetDecoder({ fragments: { memoryCap: 64 * 1024 } });
    const out = newDecodedPacket();
    let held = 0;
    for (let i = 0; i < 30000; i++) {
      const [lt, seed] = seeds[i % seeds.length];
      const frame = Buffer.from(seed);
      const flips = 1 + Math.floor(rand() * 6);
      for (let k = 0; k < flips; k++) frame[Math.floor(rand() * frame.length)] = Math.floor(rand() * 256);
      const cut = frame.subarray(0, Math.floor(rand() * (frame.length + 1)));
      dec.decode(lt, cut, i * 1000, out, rand() < 0.5 ? cut.length : frame.length);
      assert.ok(['ok', 'skipped', 'damaged', 'held'].includes(out.outcome));
      assert.ok(out.outcome === 'ok' || out.reason !== '', 'every non-ok outcome has a reason');
      if (out.outcome === 'held') held++;
    }
    dec.flush();
    const s = dec.stats.fragments;
    assert.equal(s.held, held);
    assert.equal(s.held, s.reassembledFragments + sumDropped(dec));
    assert.ok(s.peakBytesHeld <= 64 * 1024);
  });
});

describe('UDP flows', () => {
  const datagram = (srcIp: string, srcPort: number, dstIp: string, dstPort: number, length = 10): DecodedPacket => ({
    ...newDecodedPacket(), outcome: 'ok', protocol: 17, srcIp, srcPort, dstIp, dstPort, payload: Buffer.alloc(length),
  });

  it('one flow per pair of ends, whichever way, also when many hosts share a port pair', () => {
    const table = new UdpFlowTable();
    // 20 hosts on mDNS's port pair (past the bucket's scan), each answered; then the same ports the other way round.
    const ids = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const host = `10.0.0.${i + 1}`;
      const q = table.datagram(datagram(host, 5353, '224.0.0.251', 5353), 1000 + i, 0);
      const a = table.datagram(datagram('224.0.0.251', 5353, host, 5353, 30), 2000 + i, 1);
      assert.equal(a.flow, q.flow, host);
      assert.deepEqual([q.dir, a.dir], [0, 1]);
      ids.set(host, q.flow.id);
    }
    const swapped = table.datagram(datagram('10.0.0.1', 53, '10.0.0.2', 40000), 3000, 0);
    const back = table.datagram(datagram('10.0.0.2', 40000, '10.0.0.1', 53), 3001, 0);
    const again = table.datagram(datagram('10.0.0.2', 53, '10.0.0.1', 40000), 3002, 0);
    assert.equal(back.flow, swapped.flow);
    assert.notEqual(again.flow, swapped.flow, 'the ports the other way round are another flow');
    // A second datagram of an early host, once its bucket is keyed, still finds its flow.
    const late = table.datagram(datagram('10.0.0.3', 5353, '224.0.0.251', 5353), 4000, 0);
    assert.equal(late.flow.id, ids.get('10.0.0.3'));
    assert.deepEqual(late.flow.packets, [2, 1]);
    assert.deepEqual(late.flow.bytes, [20, 30]);
    assert.deepEqual(late.flow.files, [0, 1]);
    assert.equal(table.size, 22);
    assert.deepEqual([...table.all()].map((f) => f.id), Array.from({ length: 22 }, (_, i) => i + 1), 'in order of first datagram');
  });
});
