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
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

/** Where the network layer starts: written into a reused object to keep the hot path allocation-free. */
export interface LinkResult {
  /** EtherType of the payload (IPv4/IPv6), or -1 when the frame is skipped. */
  etherType: number;
  offset: number;
  /** Why the frame was skipped, when etherType is -1. */
  skip: string;
}

/** BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS. */
function familyToEtherType(family: number): number {
  if (family === 2) return ETHERTYPE_IPV4;
  if (family === 10 || family === 24 || family === 28 || family === 30) return ETHERTYPE_IPV6;
  return -1;
}

function ipVersionEtherType(data: Buffer, offset: number): number {
  if (offset >= data.length) return -1;
  const v = data[offset] >> 4;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : -1;
}

export function decodeLink(linkType: number, data: Buffer, out: LinkResult): LinkResult {
  out.etherType = -1;
  out.offset = 0;
  out.skip = '';
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (data.length < 14) return skip(out, 'truncated Ethernet header');
      let type = data.readUInt16BE(12);
      let off = 14;
      // 802.1Q and 802.1ad tags may be stacked; each is 4 bytes ending in the next EtherType.
      while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
        if (data.length < off + 4) return skip(out, 'truncated VLAN tag');
        type = data.readUInt16BE(off + 2);
        off += 4;
      }
      return ethertype(out, type, off);
    }
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (data.length < 4) return skip(out, 'truncated loopback header');
      // DLT_NULL stores the family in the capturing host's byte order, DLT_LOOP in network order.
      let family = linkType === LINKTYPE.LOOP ? data.readUInt32BE(0) : data.readUInt32LE(0);
      if (family > 0xffff) family = data.readUInt32BE(0);
      const type = familyToEtherType(family);
      if (type < 0) return skip(out, `loopback address family ${family}`);
      out.etherType = type;
      out.offset = 4;
      return out;
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14: {
      const type = ipVersionEtherType(data, 0);
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
      if (data.length < 16) return skip(out, 'truncated Linux cooked header');
      return ethertype(out, data.readUInt16BE(14), 16);
    case LINKTYPE.LINUX_SLL2:
      if (data.length < 20) return skip(out, 'truncated Linux cooked v2 header');
      return ethertype(out, data.readUInt16BE(0), 20);
    default:
      return skip(out, `unsupported link type ${linkType}`);
  }
}

function ethertype(out: LinkResult, type: number, offset: number): LinkResult {
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) {
    return skip(out, `non-IP EtherType 0x${type.toString(16).padStart(4, '0')}`);
  }
  out.etherType = type;
  out.offset = offset;
  return out;
}

function skip(out: LinkResult, reason: string): LinkResult {
  out.etherType = -1;
  out.skip = reason;
  return out;
}
