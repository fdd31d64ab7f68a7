/**
 * One captured frame down to its transport header: link layer, IPv4/IPv6 (with extension
 * headers and fragments), tunnels (VXLAN, Geneve, GRE, IP-in-IP) peeled off, TCP or UDP.
 * Results go into a reused object; the payload is a view into the frame, or into a new
 * Buffer when the packet completed a fragmented datagram.
 *
 * A tunnelled packet is named by its inner addresses: a pod's traffic is what the rest of
 * podcap sees, the node-to-node envelope is forgotten (and counted in stats).
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB, decodeEthernet, decodeLink, newLinkResult } from './link.js';
import { ipv4ToString, ipv6ToString } from './address.js';
import { DEFAULT_FRAGMENT_OPTIONS, FragmentReassembler, type FragmentOptions, type FragmentStats } from './fragments.js';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/**
 * Outcome of decoding a frame: 'ok' with transport fields set; 'skipped' or 'damaged' with a
 * reason; 'held' when the frame is an IP fragment kept for reassembly (reason 'IPv4 fragment'
 * or 'IPv6 fragment'); the datagram is decoded when its last fragment arrives, and a datagram
 * that never completes is counted in NetStats.fragments.dropped.
 */
export type DecodeOutcome = 'ok' | 'skipped' | 'damaged' | 'held';

export interface DecodedPacket {
  outcome: DecodeOutcome;
  /** Why the frame was skipped, held or is damaged; stable text, used as a counter key. */
  reason: string;
  /** The innermost IP header's: set when the outcome is 'ok'. */
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
  /** The transport protocol; also set with the reason "IP protocol N" when skipped for it. */
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** TCP only. */
  seq: number;
  ack: number;
  flags: number;
  /** TCP window field as sent (unscaled). */
  window: number;
  /** TCP window-scale option of a SYN; -1 when absent (or not a SYN: options are only read on SYNs). */
  windowScale: number;
  payload: Buffer;
}

/** The window-scale shift (RFC 7323, option kind 3) among a SYN's options, or -1. */
function windowScaleOption(data: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const kind = data[i];
    if (kind === 0) return -1;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const len = data[i + 1];
    if (len < 2) return -1;
    if (kind === 3 && len === 3 && i + 2 < end) return Math.min(data[i + 2], 14);
    i += len;
  }
  return -1;
}

export function newDecodedPacket(): DecodedPacket {
  return {
    outcome: 'skipped', reason: '', ipVersion: 4, srcIp: '', dstIp: '', protocol: 0,
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, windowScale: -1, payload: Buffer.alloc(0),
  };
}

export interface NetDecoderOptions {
  /** Reassemble IP fragments (false: fragments are skipped, and the decoder keeps no state). */
  reassemble: boolean;
  /** Tunnels peeled off one packet at most; one more is 'damaged: encapsulation too deep'. */
  maxEncapsulation: number;
  /** UDP destination ports carrying VXLAN (4789 IANA, 8472 the Linux and flannel default). */
  vxlanPorts: number[];
  /** UDP destination ports carrying Geneve. */
  genevePorts: number[];
  fragments: Partial<FragmentOptions>;
}

export const DEFAULT_NET_OPTIONS: NetDecoderOptions = {
  reassemble: true,
  maxEncapsulation: 4,
  vxlanPorts: [4789, 8472],
  genevePorts: [6081],
  fragments: DEFAULT_FRAGMENT_OPTIONS,
};

export interface NetStats {
  /** Tunnel layers peeled off, by kind: VXLAN, Geneve, GRE, IPv4-in-IPv4, IPv6-in-IPv4, IPv4-in-IPv6, IPv6-in-IPv6. */
  decapsulated: Record<string, number>;
  fragments: FragmentStats;
}

export const TUNNEL_VXLAN = 'VXLAN';
export const TUNNEL_GENEVE = 'Geneve';
export const TUNNEL_GRE = 'GRE';
/** [outer version 4 or 6][inner 4 or 6]. */
const IP_IN_IP: Record<number, Record<number, string>> = {
  4: { 4: 'IPv4-in-IPv4', 6: 'IPv6-in-IPv4' },
  6: { 4: 'IPv4-in-IPv6', 6: 'IPv6-in-IPv6' },
};

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const IPPROTO_ESP = 50;
const IPPROTO_AH = 51;
// IPv6 extension headers.
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_NO_NEXT = 59;
const IPV6_DEST_OPTS = 60;
const IPV6_OPT_PAD1 = 0;
const IPV6_OPT_JUMBO = 0xc2;

const PORT_VXLAN = 1;
const PORT_GENEVE = 2;

const EMPTY = Buffer.alloc(0);

/**
 * Decodes frames for one pass over a snapshot. Stateful because of IP fragments: feed every
 * packet in capture order, then call flush() once at the end.
 */
export class NetDecoder {
  readonly stats: NetStats;
  private readonly frags: FragmentReassembler | null;
  private readonly maxDepth: number;
  /** For each UDP port: PORT_VXLAN, PORT_GENEVE or 0. */
  private readonly udpTunnelPorts = new Uint8Array(65536);
  private readonly link = newLinkResult();
  /** The packet being decoded. */
  private ts = 0;
  /** The snap length cut the frame being decoded. */
  private cut = false;
  private depth = 0;
  /** Where the innermost IP header's addresses are, turned into strings only for an 'ok' packet. */
  private addrBuf: Buffer = EMPTY;
  private addrOff = 0;
  private addrVersion: 4 | 6 = 4;

  constructor(options: Partial<NetDecoderOptions> = {}) {
    const opts = { ...DEFAULT_NET_OPTIONS, ...options };
    this.frags = opts.reassemble ? new FragmentReassembler(opts.fragments) : null;
    this.maxDepth = opts.maxEncapsulation;
    for (const p of opts.vxlanPorts) this.udpTunnelPorts[p & 0xffff] = PORT_VXLAN;
    for (const p of opts.genevePorts) this.udpTunnelPorts[p & 0xffff] = PORT_GENEVE;
    this.stats = {
      decapsulated: {},
      fragments: this.frags ? this.frags.stats : new FragmentReassembler().stats,
    };
  }

  /**
   * Decodes one frame captured at `ts` (microseconds) into `out`, and returns it. `wireLen` is
   * the packet's length on the wire (Packet.origLen): when it is longer than `data`, the snap
   * length cut the frame, and lengths beyond the frame are believed rather than called damage.
   */
  decode(linkType: number, data: Buffer, ts: number, out: DecodedPacket, wireLen = data.length): DecodedPacket {
    this.ts = ts;
    this.cut = wireLen > data.length;
    this.depth = 0;
    if (this.frags) this.frags.expire(ts);
    const link = decodeLink(linkType, data, this.link);
    if (link.etherType < 0) {
      done(out, link.damaged ? 'damaged' : 'skipped', link.skip);
    } else {
      this.ip(link.etherType, data, link.offset, data.length, out);
    }
    // Hold no reference to the frame (or a reassembled datagram) past the call.
    this.addrBuf = EMPTY;
    return out;
  }

  /** The end of the capture: drops the datagrams still incomplete; returns how many fragments that was. */
  flush(): number {
    return this.frags ? this.frags.flush() : 0;
  }

  /** An IP packet at data[off, limit): limit is the end of whatever carries it. */
  private ip(etherType: number, data: Buffer, off: number, limit: number, out: DecodedPacket): DecodedPacket {
    return etherType === ETHERTYPE_IPV4 ? this.ipv4(data, off, limit, out) : this.ipv6(data, off, limit, out);
  }

  private ipv4(data: Buffer, off: number, limit: number, out: DecodedPacket): DecodedPacket {
    if (limit - off < 20) return done(out, 'damaged', 'truncated IPv4 header');
    const vihl = data[off];
    if (vihl >> 4 !== 4) return done(out, 'damaged', 'bad IPv4 version');
    const ihl = (vihl & 0x0f) * 4;
    const total = data.readUInt16BE(off + 2);
    if (ihl < 20 || (total !== 0 && total < ihl)) return done(out, 'damaged', 'bad IPv4 header length');
    if (limit < off + ihl) return done(out, 'damaged', 'truncated IPv4 header');
    const proto = data[off + 9];
    this.addrBuf = data;
    this.addrOff = off + 12;
    this.addrVersion = 4;
    // total may be 0 with TCP segmentation offload; then what carries the packet says where it ends.
    const end = total === 0 ? limit : Math.min(off + total, limit);
    const frag = data.readUInt16BE(off + 6);
    const more = (frag & 0x2000) !== 0;
    const fragOffset = (frag & 0x1fff) * 8;
    if (!more && fragOffset === 0) return this.transport(proto, data, off + ihl, end, out);

    if (!this.frags) return done(out, 'skipped', 'IPv4 fragment');
    if (total === 0) return done(out, 'damaged', 'IPv4 fragment without a total length');
    if (off + total > limit) return done(out, 'damaged', 'truncated IPv4 fragment');
    // (src, dst, protocol, id): RFC 791.
    const key = `4/${proto}/${data.readUInt16BE(off + 4)}/${data.toString('latin1', off + 12, off + 20)}`;
    const r = this.frags.add(key, this.ts, fragOffset, data, off + ihl, end, more, proto, 65535 - ihl);
    if (r === 'held') return done(out, 'held', 'IPv4 fragment');
    if (r === 'damaged') return done(out, 'damaged', this.frags.reason);
    if (r === 'duplicate') return done(out, 'skipped', 'duplicate IP fragment (datagram already reassembled)');
    const dgram = this.frags.datagram;
    return this.transport(proto, dgram, 0, dgram.length, out);
  }

  private ipv6(data: Buffer, off: number, limit: number, out: DecodedPacket): DecodedPacket {
    if (limit - off < 40) return done(out, 'damaged', 'truncated IPv6 header');
    if (data[off] >> 4 !== 6) return done(out, 'damaged', 'bad IPv6 version');
    const payloadLen = data.readUInt16BE(off + 4);
    const next = data[off + 6];
    this.addrBuf = data;
    this.addrOff = off + 8;
    this.addrVersion = 6;
    const p = off + 40;
    if (payloadLen !== 0) {
      const claimed = p + payloadLen;
      return this.ipv6Headers(next, data, p, Math.min(claimed, limit), claimed > limit ? LEN_TRUNCATED : LEN_EXACT, out);
    }
    // Payload length 0: a jumbogram (RFC 2675) if the hop-by-hop header says so, else a GSO or
    // BIG TCP super-packet whose length only the frame knows.
    if (next === IPV6_HOP_BY_HOP) {
      const jumbo = this.jumboLength(data, p, limit);
      if (jumbo === JUMBO_BAD) return done(out, 'damaged', this.jumboReason);
      if (jumbo > 0) {
        const claimed = p + jumbo;
        // A length of up to 4 GiB is only believed as far as the capture could have cut it.
        if (claimed > limit && !this.cut) return done(out, 'damaged', 'IPv6 jumbo payload length beyond the packet');
        return this.ipv6Headers(next, data, p, Math.min(claimed, limit), LEN_JUMBO | (claimed > limit ? LEN_TRUNCATED : 0), out);
      }
    }
    return this.ipv6Headers(next, data, p, limit, LEN_UNKNOWN, out);
  }

  /**
   * The Jumbo Payload option's length from the hop-by-hop header at data[p]: 0 when there is
   * none, JUMBO_BAD (with jumboReason saying why) when the header or the option is broken.
   * Only the length is trusted as far as the frame goes: it may claim up to 4 GiB.
   */
  private jumboLength(data: Buffer, p: number, limit: number): number {
    if (limit < p + 8) return this.jumboBad('truncated IPv6 extension header');
    const hend = p + (data[p + 1] + 1) * 8;
    if (hend > limit) return this.jumboBad('truncated IPv6 extension header');
    let i = p + 2;
    while (i < hend) {
      const type = data[i];
      if (type === IPV6_OPT_PAD1) {
        i++;
        continue;
      }
      if (i + 2 > hend) return this.jumboBad('bad IPv6 option length');
      const len = data[i + 1];
      if (i + 2 + len > hend) return this.jumboBad('bad IPv6 option length');
      if (type === IPV6_OPT_JUMBO) {
        if (len !== 4) return this.jumboBad('bad IPv6 jumbo option');
        const jumbo = data.readUInt32BE(i + 2);
        // A jumbogram is longer than 65535 by definition; its length counts from after the IPv6 header.
        if (jumbo <= 65535) return this.jumboBad('bad IPv6 jumbo payload length');
        return jumbo;
      }
      i += 2 + len;
    }
    return 0;
  }

  private jumboReason = '';
  private jumboBad(reason: string): number {
    this.jumboReason = reason;
    return JUMBO_BAD;
  }

  /** IPv6 extension headers from data[p], then the upper layer. `len` says how `end` was found. */
  private ipv6Headers(proto: number, data: Buffer, p: number, end: number, len: number, out: DecodedPacket): DecodedPacket {
    for (;;) {
      switch (proto) {
        case IPV6_HOP_BY_HOP:
        case IPV6_ROUTING:
        case IPV6_DEST_OPTS: {
          if (end < p + 8) return done(out, 'damaged', 'truncated IPv6 extension header');
          const hend = p + (data[p + 1] + 1) * 8;
          if (hend > end) return done(out, 'damaged', 'truncated IPv6 extension header');
          proto = data[p];
          p = hend;
          continue;
        }
        case IPPROTO_AH: {
          // RFC 4302: the length is in 4-octet units, less 2.
          if (end < p + 12) return done(out, 'damaged', 'truncated IPv6 AH header');
          const hend = p + (data[p + 1] + 2) * 4;
          if (hend > end) return done(out, 'damaged', 'truncated IPv6 AH header');
          proto = data[p];
          p = hend;
          continue;
        }
        case IPV6_FRAGMENT: {
          if (end < p + 8) return done(out, 'damaged', 'truncated IPv6 fragment header');
          const field = data.readUInt16BE(p + 2);
          const fragOffset = field & 0xfff8;
          const more = (field & 1) !== 0;
          const next = data[p];
          const id = data.readUInt32BE(p + 4);
          p += 8;
          // An atomic fragment (RFC 6946) is a whole datagram.
          if (fragOffset === 0 && !more) {
            proto = next;
            continue;
          }
          if (!this.frags) return done(out, 'skipped', 'IPv6 fragment');
          if ((len & LEN_REASSEMBLED) !== 0) return done(out, 'damaged', 'IPv6 fragment header inside a reassembled datagram');
          if ((len & LEN_JUMBO) !== 0) return done(out, 'damaged', 'IPv6 jumbogram with a fragment header');
          if (len === LEN_UNKNOWN) return done(out, 'damaged', 'IPv6 fragment with payload length 0');
          if ((len & LEN_TRUNCATED) !== 0) return done(out, 'damaged', 'truncated IPv6 fragment');
          // (src, dst, id): RFC 8200 section 4.5 (the next header may differ between fragments).
          const key = `6/${id}/${this.addrBuf.toString('latin1', this.addrOff, this.addrOff + 32)}`;
          const r = this.frags.add(key, this.ts, fragOffset, data, p, end, more, fragOffset === 0 ? next : -1, 65535);
          if (r === 'held') return done(out, 'held', 'IPv6 fragment');
          if (r === 'damaged') return done(out, 'damaged', this.frags.reason);
          if (r === 'duplicate') return done(out, 'skipped', 'duplicate IP fragment (datagram already reassembled)');
          const dgram = this.frags.datagram;
          return this.ipv6Headers(this.frags.protocol, dgram, 0, dgram.length, LEN_REASSEMBLED, out);
        }
        case IPPROTO_ESP:
          return done(out, 'skipped', 'IPv6 ESP');
        case IPV6_NO_NEXT:
          return done(out, 'skipped', 'IPv6 no next header');
        default:
          return this.transport(proto, data, p, end, out);
      }
    }
  }

  /** The upper layer of an IP packet at data[off, end). */
  private transport(proto: number, data: Buffer, off: number, end: number, out: DecodedPacket): DecodedPacket {
    // Authentication headers (IPv4; IPv6 walks its own) sign but do not hide what follows.
    while (proto === IPPROTO_AH) {
      if (end < off + 12) return done(out, 'damaged', 'truncated AH header');
      const hend = off + (data[off + 1] + 2) * 4;
      if (hend > end) return done(out, 'damaged', 'truncated AH header');
      proto = data[off];
      off = hend;
    }
    out.protocol = proto;
    switch (proto) {
      case IPPROTO_TCP: {
        if (end < off + 20) return done(out, 'damaged', 'truncated TCP header');
        const dataOff = (data[off + 12] >> 4) * 4;
        if (dataOff < 20) return done(out, 'damaged', 'bad TCP header length');
        if (off + dataOff > end) return done(out, 'damaged', 'truncated TCP header');
        out.srcPort = data.readUInt16BE(off);
        out.dstPort = data.readUInt16BE(off + 2);
        out.seq = data.readUInt32BE(off + 4);
        out.ack = data.readUInt32BE(off + 8);
        out.flags = data[off + 13];
        out.window = data.readUInt16BE(off + 14);
        out.windowScale = (out.flags & TCP_SYN) !== 0 ? windowScaleOption(data, off + 20, off + dataOff) : -1;
        out.payload = data.subarray(off + dataOff, end);
        return this.ok(out);
      }
      case IPPROTO_UDP: {
        if (end < off + 8) return done(out, 'damaged', 'truncated UDP header');
        const srcPort = data.readUInt16BE(off);
        const dstPort = data.readUInt16BE(off + 2);
        const udpLen = data.readUInt16BE(off + 4);
        if (udpLen !== 0 && udpLen < 8) return done(out, 'damaged', 'bad UDP length');
        // 0 in a jumbogram or a GSO super-packet: the IP layer says where it ends.
        const udpEnd = udpLen === 0 ? end : Math.min(off + udpLen, end);
        const start = off + 8;
        const tunnel = this.udpTunnelPorts[dstPort];
        if (tunnel === PORT_VXLAN && udpEnd - start >= 8 && (data[start] & 0x08) !== 0) {
          // RFC 7348: flags (I set), 24 reserved bits, VNI, 8 reserved bits; then an Ethernet frame.
          return this.tunnel(TUNNEL_VXLAN, ETHERTYPE_TEB, data, start + 8, udpEnd, out);
        }
        if (tunnel === PORT_GENEVE && udpEnd - start >= 8 && data[start] >> 6 === 0) {
          // RFC 8926: version and options length (4-octet units), flags, protocol type, VNI, options.
          const inner = start + 8 + (data[start] & 0x3f) * 4;
          if (inner > udpEnd) return done(out, 'damaged', 'truncated Geneve header');
          return this.tunnel(TUNNEL_GENEVE, data.readUInt16BE(start + 2), data, inner, udpEnd, out);
        }
        out.srcPort = srcPort;
        out.dstPort = dstPort;
        out.seq = 0;
        out.ack = 0;
        out.flags = 0;
        out.payload = data.subarray(start, udpEnd);
        return this.ok(out);
      }
      case IPPROTO_IPIP:
        return this.tunnel(IP_IN_IP[this.addrVersion][4], ETHERTYPE_IPV4, data, off, end, out);
      case IPPROTO_IPV6:
        return this.tunnel(IP_IN_IP[this.addrVersion][6], ETHERTYPE_IPV6, data, off, end, out);
      case IPPROTO_GRE:
        return this.gre(data, off, end, out);
      default:
        return done(out, 'skipped', `IP protocol ${proto}`);
    }
  }

  /** GRE (RFC 2784 with RFC 2890's key and sequence number); version 1 is PPTP's PPP carrier. */
  private gre(data: Buffer, off: number, end: number, out: DecodedPacket): DecodedPacket {
    if (end < off + 4) return done(out, 'damaged', 'truncated GRE header');
    const flags = data.readUInt16BE(off);
    const type = data.readUInt16BE(off + 2);
    const version = flags & 0x0007;
    if (version === 1) return done(out, 'skipped', 'GRE version 1 (PPTP)');
    if (version !== 0) return done(out, 'skipped', `GRE version ${version}`);
    if ((flags & 0x4000) !== 0) return done(out, 'skipped', 'GRE with source routing');
    let h = off + 4;
    if ((flags & 0x8000) !== 0) h += 4; // checksum and reserved
    if ((flags & 0x2000) !== 0) h += 4; // key
    if ((flags & 0x1000) !== 0) h += 4; // sequence number
    if (h > end) return done(out, 'damaged', 'truncated GRE header');
    return this.tunnel(TUNNEL_GRE, type, data, h, end, out);
  }

  /** Peels one tunnel layer whose payload, at data[off, end), is named by an EtherType. */
  private tunnel(kind: string, type: number, data: Buffer, off: number, end: number, out: DecodedPacket): DecodedPacket {
    if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6 && type !== ETHERTYPE_TEB) {
      return done(out, 'skipped', `${kind} protocol 0x${type.toString(16).padStart(4, '0')}`);
    }
    if (++this.depth > this.maxDepth) return done(out, 'damaged', 'encapsulation too deep');
    this.stats.decapsulated[kind] = (this.stats.decapsulated[kind] ?? 0) + 1;
    if (type !== ETHERTYPE_TEB) return this.ip(type, data, off, end, out);
    const link = decodeEthernet(data, off, end, this.link);
    if (link.etherType < 0) return done(out, link.damaged ? 'damaged' : 'skipped', link.skip);
    return this.ip(link.etherType, data, link.offset, end, out);
  }

  private ok(out: DecodedPacket): DecodedPacket {
    const b = this.addrBuf;
    const a = this.addrOff;
    if (this.addrVersion === 4) {
      out.ipVersion = 4;
      out.srcIp = ipv4ToString(b, a);
      out.dstIp = ipv4ToString(b, a + 4);
    } else {
      out.ipVersion = 6;
      out.srcIp = ipv6ToString(b, a);
      out.dstIp = ipv6ToString(b, a + 16);
    }
    out.outcome = 'ok';
    out.reason = '';
    return out;
  }
}

/** How an IPv6 packet's end was found (ipv6Headers' `len`). */
const LEN_EXACT = 0;
/** The payload length said more than the frame holds (the snap length cut it). */
const LEN_TRUNCATED = 1;
const LEN_JUMBO = 2;
/** Payload length 0 and no jumbo option: the frame's end is all there is. */
const LEN_UNKNOWN = 4;
/** The fragmentable part of a reassembled datagram. */
const LEN_REASSEMBLED = 8;
const JUMBO_BAD = -1;

function done(out: DecodedPacket, outcome: DecodeOutcome, reason: string): DecodedPacket {
  out.outcome = outcome;
  out.reason = reason;
  return out;
}

/** Stateless decoding for callers without a decoder: tunnels are peeled, fragments skipped ('IPv4 fragment', 'IPv6 fragment'). */
const stateless = new NetDecoder({ reassemble: false });

/** Decodes one frame without fragment reassembly (never 'held'). Prefer a NetDecoder per pass. */
export function decodeFrame(linkType: number, data: Buffer, out: DecodedPacket): DecodedPacket {
  return stateless.decode(linkType, data, 0, out);
}
