/**
 * Link layers: find where the network-layer packet starts in a captured frame
 * and what it is. Knows nothing of IP beyond the EtherType that names it.
 */

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** Transparent Ethernet bridging: what GRE and Geneve name an Ethernet payload. */
export const ETHERTYPE_TEB = 0x6558;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
/** EtherType values below this are 802.3 lengths, not types. */
const ETHERTYPE_MIN = 0x0600;

/** Where the network layer starts: written into a reused object to keep the hot path allocation-free. */
export interface LinkResult {
  /** EtherType of the payload (IPv4/IPv6), or -1 when the frame is skipped or damaged. */
  etherType: number;
  offset: number;
  /** Why the frame was skipped or is damaged, when etherType is -1. */
  skip: string;
  /** Set with etherType -1 when the frame is broken (too short for its header) rather than merely not IP. */
  damaged: boolean;
}

export function newLinkResult(): LinkResult {
  return { etherType: -1, offset: 0, skip: '', damaged: false };
}

/** BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS. */
function familyToEtherType(family: number): number {
  if (family === 2) return ETHERTYPE_IPV4;
  // Linux 10, Windows 23, OpenBSD/NetBSD/BSD/OS 24, FreeBSD/DragonFly 28, Darwin 30.
  if (family === 10 || family === 23 || family === 24 || family === 28 || family === 30) return ETHERTYPE_IPV6;
  return -1;
}

function ipVersionEtherType(data: Buffer, offset: number, end: number): number {
  if (offset >= end) return -1;
  const v = data[offset] >> 4;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : -1;
}

/** Decodes the link header of a whole captured frame. */
export function decodeLink(linkType: number, data: Buffer, out: LinkResult): LinkResult {
  out.etherType = -1;
  out.offset = 0;
  out.skip = '';
  out.damaged = false;
  const end = data.length;
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      return decodeEthernet(data, 0, end, out);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (end < 4) return damaged(out, 'truncated loopback header');
      // DLT_NULL stores the family in the capturing host's byte order, DLT_LOOP in network order
      // (but some writers got LOOP wrong): a value that only makes sense swapped is read swapped.
      let family = linkType === LINKTYPE.LOOP ? data.readUInt32BE(0) : data.readUInt32LE(0);
      if (family > 0xffff) family = linkType === LINKTYPE.LOOP ? data.readUInt32LE(0) : data.readUInt32BE(0);
      const type = familyToEtherType(family);
      if (type < 0) return skip(out, `loopback address family ${family}`);
      out.etherType = type;
      out.offset = 4;
      return out;
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14: {
      if (end === 0) return damaged(out, 'empty raw IP frame');
      const type = ipVersionEtherType(data, 0, end);
      if (type < 0) return skip(out, 'raw IP frame with unknown IP version');
      out.etherType = type;
      return out;
    }
    case LINKTYPE.IPV4:
      out.etherType = ETHERTYPE_IPV4;
      return out;
    case LINKTYPE.IPV6:
      out.etherType = ETHERTYPE_IPV6;
      return out;
    case LINKTYPE.LINUX_SLL:
      // pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
      if (end < 16) return damaged(out, 'truncated Linux cooked header');
      return cooked(data, data.readUInt16BE(2), data.readUInt16BE(14), 16, end, out);
    case LINKTYPE.LINUX_SLL2:
      // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
      if (end < 20) return damaged(out, 'truncated Linux cooked v2 header');
      return cooked(data, data.readUInt16BE(8), data.readUInt16BE(0), 20, end, out);
    default:
      return skip(out, `unsupported link type ${linkType}`);
  }
}

/**
 * An Ethernet frame at data[start, end): the outer frame of a capture, or the inner frame of
 * VXLAN, Geneve or GRE transparent bridging. 802.1Q and 802.1ad tags may be stacked.
 */
export function decodeEthernet(data: Buffer, start: number, end: number, out: LinkResult): LinkResult {
  out.etherType = -1;
  out.offset = 0;
  out.skip = '';
  out.damaged = false;
  if (end - start < 14) return damaged(out, 'truncated Ethernet header');
  return afterType(data, data.readUInt16BE(start + 12), start + 14, end, out);
}

const ARPHRD_NETLINK = 824;

/**
 * The protocol of a Linux cooked header: an EtherType, except on netlink captures (the netlink
 * family) and below 0x0600, where Linux names non-Ethernet protocols (0x0004 802.2 LLC, 0x000c CAN...).
 */
function cooked(data: Buffer, hatype: number, protocol: number, off: number, end: number, out: LinkResult): LinkResult {
  if (hatype === ARPHRD_NETLINK) return skip(out, 'Linux netlink message');
  if (protocol < ETHERTYPE_MIN) return skip(out, `Linux cooked protocol 0x${protocol.toString(16).padStart(4, '0')}`);
  return afterType(data, protocol, off, end, out);
}

/** An EtherType read at off - 2, with any VLAN tags that follow it unwrapped. */
function afterType(data: Buffer, type: number, off: number, end: number, out: LinkResult): LinkResult {
  // Each tag is 4 bytes (TCI, next EtherType); the loop is bounded by the frame.
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (end < off + 4) return damaged(out, 'truncated VLAN tag');
    type = data.readUInt16BE(off + 2);
    off += 4;
  }
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) {
    out.etherType = type;
    out.offset = off;
    return out;
  }
  // A "type" below 0x0600 is an 802.3 length: one reason for all of them, not one per length.
  if (type < ETHERTYPE_MIN) return skip(out, '802.3 LLC frame');
  return skip(out, `non-IP EtherType 0x${type.toString(16).padStart(4, '0')}`);
}

function skip(out: LinkResult, reason: string): LinkResult {
  out.etherType = -1;
  out.skip = reason;
  out.damaged = false;
  return out;
}

function damaged(out: LinkResult, reason: string): LinkResult {
  out.etherType = -1;
  out.skip = reason;
  out.damaged = true;
  return out;
}
