/**
 * One captured frame down to its transport header: link layer, IPv4/IPv6, TCP or UDP.
 * Results go into a reused object; the payload is a view into the frame.
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, decodeLink, type LinkResult } from './link.js';
import { ipv4ToString, ipv6ToString } from './address.js';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** Outcome of decoding a frame: 'ok' with transport fields set, or 'skipped'/'damaged' with a reason. */
export type DecodeOutcome = 'ok' | 'skipped' | 'damaged';

export interface DecodedPacket {
  outcome: DecodeOutcome;
  /** Why the frame was skipped or is damaged; stable text, used as a counter key. */
  reason: string;
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** TCP only. */
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
}

export function newDecodedPacket(): DecodedPacket {
  return {
    outcome: 'skipped', reason: '', ipVersion: 4, srcIp: '', dstIp: '', protocol: 0,
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, payload: Buffer.alloc(0),
  };
}

const link: LinkResult = { etherType: -1, offset: 0, skip: '' };

// IPv6 extension headers that share the (next header, length in 8-octet units) layout.
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DEST_OPTS = 60;
const IPV6_NO_NEXT = 59;

export function decodeFrame(linkType: number, data: Buffer, out: DecodedPacket): DecodedPacket {
  decodeLink(linkType, data, link);
  if (link.etherType < 0) return done(out, link.skip.startsWith('truncated') ? 'damaged' : 'skipped', link.skip);
  let off = link.offset;
  let end: number;
  let proto: number;
  if (link.etherType === ETHERTYPE_IPV4) {
    if (data.length < off + 20) return done(out, 'damaged', 'truncated IPv4 header');
    const vihl = data[off];
    if (vihl >> 4 !== 4) return done(out, 'damaged', 'bad IPv4 version');
    const ihl = (vihl & 0x0f) * 4;
    const total = data.readUInt16BE(off + 2);
    if (ihl < 20 || total < ihl) return done(out, 'damaged', 'bad IPv4 header length');
    if (data.length < off + ihl) return done(out, 'damaged', 'truncated IPv4 header');
    const frag = data.readUInt16BE(off + 6);
    // More-fragments set or a non-zero offset: a fragment, which this layer does not yet reassemble.
    if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) return done(out, 'skipped', 'IPv4 fragment');
    proto = data[off + 9];
    out.ipVersion = 4;
    out.srcIp = ipv4ToString(data, off + 12);
    out.dstIp = ipv4ToString(data, off + 16);
    // total may be 0 with TCP segmentation offload; then the frame's own length is the truth.
    end = total === 0 ? data.length : Math.min(off + total, data.length);
    off += ihl;
  } else {
    if (data.length < off + 40) return done(out, 'damaged', 'truncated IPv6 header');
    if (data[off] >> 4 !== 6) return done(out, 'damaged', 'bad IPv6 version');
    const payloadLen = data.readUInt16BE(off + 4);
    proto = data[off + 6];
    out.ipVersion = 6;
    out.srcIp = ipv6ToString(data, off + 8);
    out.dstIp = ipv6ToString(data, off + 24);
    end = payloadLen === 0 ? data.length : Math.min(off + 40 + payloadLen, data.length);
    off += 40;
    while (proto === IPV6_HOP_BY_HOP || proto === IPV6_ROUTING || proto === IPV6_DEST_OPTS || proto === IPV6_FRAGMENT) {
      if (end < off + 8) return done(out, 'damaged', 'truncated IPv6 extension header');
      if (proto === IPV6_FRAGMENT) {
        const fragField = data.readUInt16BE(off + 2);
        if ((fragField & 0xfff8) !== 0 || (fragField & 1) !== 0) return done(out, 'skipped', 'IPv6 fragment');
        proto = data[off];
        off += 8;
        continue;
      }
      const next = data[off];
      off += (data[off + 1] + 1) * 8;
      proto = next;
    }
    if (proto === IPV6_NO_NEXT) return done(out, 'skipped', 'IPv6 no next header');
  }
  if (off > end) return done(out, 'damaged', 'IP header beyond packet end');
  out.protocol = proto;
  if (proto === IPPROTO_TCP) {
    if (end < off + 20) return done(out, 'damaged', 'truncated TCP header');
    const dataOff = (data[off + 12] >> 4) * 4;
    if (dataOff < 20 || off + dataOff > end) return done(out, 'damaged', 'bad TCP header length');
    out.srcPort = data.readUInt16BE(off);
    out.dstPort = data.readUInt16BE(off + 2);
    out.seq = data.readUInt32BE(off + 4);
    out.ack = data.readUInt32BE(off + 8);
    out.flags = data[off + 13];
    out.payload = data.subarray(off + dataOff, end);
    return done(out, 'ok', '');
  }
  if (proto === IPPROTO_UDP) {
    if (end < off + 8) return done(out, 'damaged', 'truncated UDP header');
    out.srcPort = data.readUInt16BE(off);
    out.dstPort = data.readUInt16BE(off + 2);
    const udpLen = data.readUInt16BE(off + 4);
    const udpEnd = udpLen >= 8 ? Math.min(off + udpLen, end) : end;
    out.seq = 0;
    out.ack = 0;
    out.flags = 0;
    out.payload = data.subarray(off + 8, udpEnd);
    return done(out, 'ok', '');
  }
  return done(out, 'skipped', `IP protocol ${proto}`);
}

function done(out: DecodedPacket, outcome: DecodeOutcome, reason: string): DecodedPacket {
  out.outcome = outcome;
  out.reason = reason;
  return out;
}
