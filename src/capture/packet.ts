/**
 * What capture/ yields: one captured frame, still raw at the link layer.
 * `data` is a view into the reader's current chunk and is only valid during the
 * callback that receives it: whoever keeps bytes past that must copy them.
 * The readers also reuse one Packet object for every packet of a file (no per-packet
 * allocation), so keep the fields you need, never the object.
 */
export interface Packet {
  /** Index of the capture file within the snapshot's file list. */
  fileIndex: number;
  /** Byte offset of the packet's record in the (decompressed) file. */
  offset: number;
  /** Capture time in microseconds since the Unix epoch (fractional when the file has finer resolution). */
  ts: number;
  /** LINKTYPE_* value of the interface that captured it (1 Ethernet, 113 SLL, 276 SLL2, 101 raw IP, ...). */
  linkType: number;
  /** Interface index within the file (always 0 for classic pcap). */
  ifIndex: number;
  /** Captured bytes (may be shorter than origLen when the snap length cut it). */
  data: Buffer;
  /** Length of the packet on the wire. */
  origLen: number;
}

export type PacketSink = (p: Packet) => void;

/** Per-file accounting of what a reader did, reported by `podcap import` and `podcap inspect`. */
export interface CaptureFileReport {
  path: string;
  format: 'pcap' | 'pcapng' | 'unknown';
  compressed: boolean;
  /** Bytes read from the (decompressed) file. */
  bytes: number;
  /** Packets handed on. */
  packets: number;
  /** Sum of the packets' captured lengths as the file records them (capinfos' "data size"; FCS bytes included). */
  packetBytes: number;
  /** Packets per link type, in link type order. */
  linkTypes: LinkTypeCount[];
  /** Records that could not be read (bad lengths, damaged blocks), each counted once. */
  damaged: number;
  /** Set when the file ends in the middle of a record: how many bytes were left over. */
  truncatedBytes: number;
  /** Interfaces described in the file: link type, name, timestamp resolution. */
  interfaces: CaptureInterface[];
  /** Human-readable notes on anything odd (skipped block types, damage and where). */
  notes: string[];
  firstTs: number | null;
  lastTs: number | null;
  /** pcapng sections in file order and who wrote them: tells which node a file came from. Empty for classic pcap. */
  sections: CaptureSection[];
  /**
   * pcapng Decryption Secrets Blocks, at most 1 MiB of secrets in all (a note says when more were dropped).
   * Key material: surfaces that reach an AI must redact it like any other secret.
   */
  decryptionSecrets: DecryptionSecret[];
  /** Packet comments (pcapng opt_comment on Enhanced and obsolete Packet Blocks), the first 1000. */
  comments: PacketComment[];
}

export interface LinkTypeCount {
  linkType: number;
  packets: number;
}

export interface CaptureSection {
  byteOrder: 'little-endian' | 'big-endian';
  /** shb_hardware, shb_os, shb_userappl; null when the section does not say. */
  hardware: string | null;
  os: string | null;
  application: string | null;
}

export interface DecryptionSecret {
  /** 'TLS key log' (0x544c534b), 'WireGuard' (0x57474b4c), else the type in hex ('0x5a4e574b'). */
  secretsType: string;
  /** The key log's text for TLS and WireGuard key logs; base64 of the bytes for any other type. */
  data: string;
}

export interface PacketComment {
  /** 1-based index of the packet in its file, as Wireshark numbers frames. */
  packet: number;
  text: string;
}

export interface CaptureInterface {
  linkType: number;
  name: string | null;
  description: string | null;
  /** Timestamp units per second: 1e6 for microseconds, 1e9 for nanoseconds. */
  tsUnitsPerSecond: number;
  /** Seconds added to every timestamp (pcapng if_tsoffset). */
  tsOffsetSeconds: number;
  snapLen: number;
  /** Bytes of frame check sequence at the end of every packet, when the file says so (pcap FCS bits, pcapng if_fcslen). */
  fcsLength?: number;
}

/** A file that is not a capture at all (no known magic) or cannot be opened. */
export class CaptureError extends Error {
  constructor(message: string, readonly path: string) {
    super(message);
    this.name = 'CaptureError';
  }
}
