/**
 * Push parser for pcapng: several sections (each with its own byte order and interface
 * list), Interface Description Blocks with their options, Enhanced, Simple and obsolete
 * Packet Blocks; every other block is skipped by its length and counted in the notes.
 * A block cut by a chunk boundary is stitched by copying only that block's bytes.
 */
import type { CaptureFileReport, CaptureInterface, CaptureSection, LinkTypeCount, Packet, PacketSink } from './packet.js';
import { ChunkedReader } from './chunked.js';
import { fcsPresent } from './fcs.js';

const SHB = 0x0a0d0d0a;
const IDB = 1;
const PB = 2;
const SPB = 3;
const EPB = 6;
const DSB = 10;
const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;
/** Enough of any block to know its length: type, length and (for an SHB) the byte-order magic. */
const BLOCK_PEEK = 12;
/** Lengths past these are broken length fields: refusing them bounds what a damaged file makes us buffer. */
const MAX_PACKET_BLOCK = 4 * 1024 * 1024;
const MAX_OTHER_BLOCK = 64 * 1024 * 1024;
/** Decryption secrets kept per file: key logs are small; more is a file built to bloat the report. */
export const MAX_SECRETS_BYTES = 1024 * 1024;
/** Packet comments kept per file. */
export const MAX_COMMENTS = 1000;

/** pcapng secrets types whose data is a text key log, kept as text. */
const SECRET_TYPES: Record<number, string> = {
  0x544c534b: 'TLS key log',
  0x57474b4c: 'WireGuard',
};

const BLOCK_NAMES: Record<number, string> = {
  4: 'Name Resolution Block',
  5: 'Interface Statistics Block',
  7: 'IRIG Timestamp Block',
  8: 'ARINC 429 Block',
  9: 'systemd Journal Export Block',
  10: 'Decryption Secrets Block',
  0x101: 'Hone Machine Info Block',
  0x102: 'Hone Connection Event Block',
  0x201: 'Sysdig Machine Info Block',
  0x202: 'Sysdig Process Info Block',
  0x204: 'Sysdig Event Block',
  0xbad: 'Custom Block',
  0x40000bad: 'Custom Block (do not copy)',
};

/* How an interface's 64-bit timestamps become microseconds. */
/** Units are microseconds: high * 2^32 + low is exact for any sane date. */
const TS_MICROS = 0;
/** Units per second fit in 32 bits (ns, ms, 2^-30 …): exact long division in doubles. */
const TS_DIVIDE = 1;
/** Finer than 2^-32 s (ps, fs): rare enough for BigInt. */
const TS_BIG = 2;
type TsMode = typeof TS_MICROS | typeof TS_DIVIDE | typeof TS_BIG;

interface SectionInterface {
  /** Position in report.interfaces, which is what Packet.ifIndex means across sections. */
  index: number;
  linkType: number;
  snapLen: number;
  mode: TsMode;
  units: number;
  unitsBig: bigint;
  offsetMicros: number;
  /** if_fcslen: FCS bytes at the end of each frame, stripped from Packet.data (an EPB's flags may say otherwise). */
  fcsLength: number;
  packets: number;
  fcsStripped: number;
  /** The FCS length in the last packet stripped, for the note. */
  fcsSeen: number;
}

interface Issue {
  count: number;
  firstOffset: number;
  detail: string;
}

export class PcapngReader extends ChunkedReader {
  private le = true;
  private sections = 0;
  /** The section's interfaces by id; undefined marks an unreadable IDB, keeping later ids aligned. */
  private ifaces: Array<SectionInterface | undefined> = [];
  /** Every interface of every section, for the per-link-type counts at the end. */
  private readonly allIfaces: SectionInterface[] = [];
  private secretsBytes = 0;
  private secretsDropped = 0;
  private secretsDroppedBytes = 0;
  private commentsDropped = 0;
  /** FCS length stated by the flags option of the packet block being read, -1 when none. */
  private flagsFcs = -1;
  private ended = false;
  private prevTs = 0;
  /** Why blockLength() refused the last block it was asked about. */
  private refusal = '';
  private readonly skipped = new Map<number, number>();
  /** Repeated per-packet oddities, reported once each with a count when the file ends. */
  private readonly issues = new Map<string, Issue>();
  /** Reused for every packet: the sink must copy what it keeps (see Packet). */
  private readonly packet: Packet;

  constructor(
    report: CaptureFileReport,
    fileIndex: number,
    private readonly sink: PacketSink,
  ) {
    super(report);
    this.packet = { fileIndex, offset: 0, ts: 0, linkType: 0, ifIndex: 0, data: EMPTY, origLen: 0 };
  }

  /** Call once the stream has ended: accounts for a cut block and writes the summary notes. */
  end(): CaptureFileReport {
    if (this.ended) return this.report;
    this.ended = true;
    const notes = this.report.notes;
    if (!this.halted && this.carry !== null && this.carryLen > 0) {
      const carry = this.carry;
      const type = this.carryLen >= 4 ? carry.readUInt32LE(0) : -1;
      const need = this.carryLen >= BLOCK_PEEK ? this.blockLength(view(carry), 0, this.carryLen) : -1;
      this.report.truncatedBytes = this.carryLen;
      notes.push(
        `file ends in the middle of ${type === -1 ? 'a block' : article(blockName(this.le ? type : carry.readUInt32BE(0)))} ` +
          `at byte ${this.carryOffset}: ` +
          (need > 0 ? `${this.carryLen} of its ${need} bytes present` : `${this.carryLen} bytes left over`),
      );
    }
    this.carry = null;
    for (const [type, count] of this.skipped) {
      notes.push(`skipped ${count} ${count === 1 ? blockName(type) : plural(blockName(type))}`);
    }
    this.skipped.clear();
    for (const issue of this.issues.values()) {
      notes.push(`${issue.detail} (${issue.count}×, first at byte ${issue.firstOffset})`);
    }
    this.issues.clear();
    if (this.sections > 1) notes.push(`${this.sections} sections`);
    this.summarise();
    return this.report;
  }

  /** Reads whole blocks from buf[pos, end); returns where the first incomplete one starts. */
  protected parse(buf: Buffer, pos: number, end: number): number {
    const p = this.packet;
    const report = this.report;
    const sink = this.sink;
    // One DataView per chunk: its reads take the byte order as an argument and compile to
    // plain loads, where Buffer#readUInt32LE measured as a third of the time, not inlined.
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (end - pos >= BLOCK_PEEK) {
      const len = this.blockLength(dv, pos, end);
      if (len < 0) {
        this.damagedBlock(this.base + pos);
        return end;
      }
      if (end - pos < len) return pos;
      const le = this.le;
      const type = dv.getUint32(pos, le);
      if (type === EPB || type === PB) {
        // Obsolete Packet Blocks have the EPB layout with a 16-bit interface id and a drops count.
        const ifId = type === EPB ? dv.getUint32(pos + 8, le) : dv.getUint16(pos + 8, le);
        const hi = dv.getUint32(pos + 12, le);
        const lo = dv.getUint32(pos + 16, le);
        const cap = dv.getUint32(pos + 20, le);
        const iface = ifId < this.ifaces.length ? this.ifaces[ifId] : undefined;
        if (iface === undefined) {
          this.badPacket(pos, `packet names interface ${ifId}, which its section does not describe: skipped`);
        } else if (cap > len - 32) {
          this.badPacket(pos, `packet's captured length exceeds its block: skipped`);
        } else {
          const ts = iface.mode === TS_MICROS ? hi * 4294967296 + lo + iface.offsetMicros : toMicros(iface, hi, lo);
          const origLen = dv.getUint32(pos + 24, le);
          // Options (comments, flags) follow the padded data; most packets have none.
          const optStart = pos + 28 + ((cap + 3) & ~3);
          this.flagsFcs = -1;
          if (optStart < pos + len - 4) this.packetOptions(buf, dv, pos, optStart, pos + len - 4);
          const fcs = this.flagsFcs >= 0 ? this.flagsFcs : iface.fcsLength;
          let dataEnd = pos + 28 + cap;
          if (fcs !== 0) dataEnd -= this.stripFcs(iface, cap, origLen, fcs);
          p.offset = this.base + pos;
          p.ts = ts;
          p.linkType = iface.linkType;
          p.ifIndex = iface.index;
          p.origLen = origLen;
          p.data = buf.subarray(pos + 28, dataEnd);
          report.packets++;
          report.packetBytes += cap;
          iface.packets++;
          if (report.firstTs === null || ts < report.firstTs) report.firstTs = ts;
          if (report.lastTs === null || ts > report.lastTs) report.lastTs = ts;
          this.prevTs = ts;
          if (type === PB) this.note(pos, 'obsolete Packet Blocks (type 2) read as packets');
          sink(p);
        }
      } else if (type === SPB) {
        this.simplePacket(buf, dv, pos, len);
      } else if (type === IDB) {
        this.interfaceBlock(buf, dv, pos, len);
      } else if (type === SHB) {
        if (!this.section(buf, dv, pos, len)) return end;
      } else if (type === DSB) {
        this.secretsBlock(buf, dv, pos, len);
      } else {
        this.skipped.set(type, (this.skipped.get(type) ?? 0) + 1);
      }
      pos += len;
    }
    return pos;
  }

  protected peekLength(): number {
    return BLOCK_PEEK;
  }

  protected unitLength(buf: Buffer, pos: number, end: number, offset: number): number {
    // The trailing length is checked by parse() once the block is whole.
    const need = this.blockLength(view(buf), pos, end);
    if (need < 0) this.damagedBlock(offset);
    return need;
  }

  /**
   * Total length of the block at pos once its first 12 bytes are known, or -1 when the
   * length is impossible (this.refusal says why). Also checks the trailing copy of the
   * length when the whole block is in [pos, end).
   */
  private blockLength(dv: DataView, pos: number, end: number): number {
    const type = dv.getUint32(pos, true);
    let le = this.le;
    if (type === SHB) {
      // The SHB's own byte-order magic says how to read its length.
      const bom = dv.getUint32(pos + 8, true);
      if (bom === BOM) le = true;
      else if (bom === BOM_SWAPPED) le = false;
      else {
        this.refusal = `Section Header Block with a bad byte-order magic 0x${dv.getUint32(pos + 8, false).toString(16)}`;
        return -1;
      }
    } else if (this.sections === 0) {
      this.refusal = 'the file does not start with a Section Header Block';
      return -1;
    }
    const len = dv.getUint32(pos + 4, le);
    const typeHere = le ? type : dv.getUint32(pos, false);
    const max = typeHere === EPB || typeHere === SPB || typeHere === PB ? MAX_PACKET_BLOCK : MAX_OTHER_BLOCK;
    if (len < 12 || (len & 3) !== 0 || len > max) {
      this.refusal = `${blockName(typeHere)} with an impossible length ${len}`;
      return -1;
    }
    if (end - pos >= len) {
      const trailing = dv.getUint32(pos + len - 4, le);
      if (trailing !== len) {
        this.refusal = `${blockName(typeHere)} whose trailing length ${trailing} differs from its leading length ${len}`;
        return -1;
      }
    }
    return len;
  }

  /** Starts a section: byte order and interface list are per section. Returns false on damage. */
  private section(buf: Buffer, dv: DataView, pos: number, len: number): boolean {
    const le = dv.getUint32(pos + 8, true) === BOM;
    this.le = le;
    const major = dv.getUint16(pos + 12, le);
    const minor = dv.getUint16(pos + 14, le);
    if (major !== 1) {
      this.refusal = `unsupported pcapng version ${major}.${minor}`;
      this.damagedBlock(this.base + pos);
      return false;
    }
    this.sections++;
    this.ifaces = [];
    const info: CaptureSection = { byteOrder: le ? 'little-endian' : 'big-endian', hardware: null, os: null, application: null };
    // Options follow the 8-byte section length; an SHB of exactly 28 bytes has none.
    const end = pos + len - 4;
    let o = pos + 24;
    while (end - o >= 4) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      o += 4;
      if (code === 0) break;
      if (olen > end - o) {
        this.badBlock(pos, 'Section Header Block option runs past the block: rest of its options ignored');
        break;
      }
      if (code === 2) info.hardware = optionString(buf, o, olen);
      else if (code === 3) info.os = optionString(buf, o, olen);
      else if (code === 4) info.application = optionString(buf, o, olen);
      o += (olen + 3) & ~3;
    }
    this.report.sections.push(info);
    return true;
  }

  /** An EPB's or PB's options from o to end: comments are kept, the flags' FCS length noted in flagsFcs. */
  private packetOptions(buf: Buffer, dv: DataView, pos: number, o: number, end: number): void {
    const le = this.le;
    while (end - o >= 4) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      o += 4;
      if (code === 0) break;
      if (olen > end - o) {
        this.note(pos, 'packet block option runs past the block: rest of its options ignored');
        break;
      }
      if (code === 1) {
        // The packet is numbered before report.packets counts it.
        if (this.report.comments.length < MAX_COMMENTS) {
          this.report.comments.push({ packet: this.report.packets + 1, text: optionString(buf, o, olen) });
        } else this.commentsDropped++;
      } else if (code === 2 && olen >= 4) {
        // epb_flags bits 5-8: FCS length in octets, 0 when not known (then if_fcslen applies).
        const fcs = (dv.getUint32(o, le) >>> 5) & 0xf;
        if (fcs !== 0) this.flagsFcs = fcs;
      }
      o += (olen + 3) & ~3;
    }
  }

  /** How many trailing FCS bytes to drop from this packet's data, counted for the note. */
  private stripFcs(iface: SectionInterface, cap: number, origLen: number, fcs: number): number {
    const strip = fcsPresent(cap, origLen, fcs);
    if (strip > 0) {
      iface.fcsStripped++;
      iface.fcsSeen = fcs;
    }
    return strip;
  }

  /** A Decryption Secrets Block: key logs kept as text, other secrets as base64, up to MAX_SECRETS_BYTES. */
  private secretsBlock(buf: Buffer, dv: DataView, pos: number, len: number): void {
    const le = this.le;
    if (len < 20) {
      this.badBlock(pos, 'Decryption Secrets Block too short to read: not kept');
      return;
    }
    const type = dv.getUint32(pos + 8, le);
    const size = dv.getUint32(pos + 12, le);
    if (size > len - 20) {
      this.badBlock(pos, 'Decryption Secrets Block whose secrets run past the block: not kept');
      return;
    }
    if (this.secretsBytes + size > MAX_SECRETS_BYTES) {
      this.secretsDropped++;
      this.secretsDroppedBytes += size;
      return;
    }
    this.secretsBytes += size;
    const name = SECRET_TYPES[type];
    const data = buf.subarray(pos + 16, pos + 16 + size);
    this.report.decryptionSecrets.push({
      secretsType: name ?? `0x${type.toString(16).padStart(8, '0')}`,
      data: name === undefined ? data.toString('base64') : data.toString('utf8'),
    });
  }

  /** End-of-file summaries: packets per link type, FCS stripping, what the caps left out. */
  private summarise(): void {
    const report = this.report;
    const notes = report.notes;
    const byType = new Map<number, number>();
    for (const iface of this.allIfaces) {
      byType.set(iface.linkType, (byType.get(iface.linkType) ?? 0) + iface.packets);
      if (iface.fcsStripped > 0) {
        const name = report.interfaces[iface.index].name;
        notes.push(
          `frame check sequence (${iface.fcsSeen} bytes) removed from the data of ${iface.fcsStripped} packets ` +
            `of interface ${iface.index}${name === null ? '' : ` (${name})`}`,
        );
      }
    }
    const linkTypes: LinkTypeCount[] = [...byType].map(([linkType, packets]) => ({ linkType, packets }));
    report.linkTypes = linkTypes.sort((a, b) => a.linkType - b.linkType);
    if (report.decryptionSecrets.length > 0) {
      const kinds = [...new Set(report.decryptionSecrets.map((d) => d.secretsType))].join(', ');
      notes.push(`kept ${report.decryptionSecrets.length} Decryption Secrets Block(s) (${kinds}), ${this.secretsBytes} bytes`);
    }
    if (this.secretsDropped > 0) {
      notes.push(
        `${this.secretsDropped} Decryption Secrets Block(s) (${this.secretsDroppedBytes} bytes) not kept: ` +
          `past the ${MAX_SECRETS_BYTES}-byte limit on secrets per file`,
      );
    }
    if (this.commentsDropped > 0) {
      notes.push(`${this.commentsDropped} more packet comments not kept: past the limit of ${MAX_COMMENTS} per file`);
    }
  }

  private interfaceBlock(buf: Buffer, dv: DataView, pos: number, len: number): void {
    const le = this.le;
    if (len < 20) {
      this.badBlock(pos, 'Interface Description Block too short to read: its packets are skipped');
      this.ifaces.push(undefined);
      return;
    }
    const iface: CaptureInterface = {
      linkType: dv.getUint16(pos + 8, le),
      name: null,
      description: null,
      tsUnitsPerSecond: 1e6,
      tsOffsetSeconds: 0,
      snapLen: dv.getUint32(pos + 12, le),
    };
    let resol = -1;
    const end = pos + len - 4;
    let o = pos + 16;
    while (end - o >= 4) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      o += 4;
      if (code === 0) break;
      if (olen > end - o) {
        this.badBlock(pos, 'Interface Description Block option runs past the block: rest of its options ignored');
        break;
      }
      if (code === 2) iface.name = optionString(buf, o, olen);
      else if (code === 3) iface.description = optionString(buf, o, olen);
      else if (code === 9 && olen >= 1) resol = buf[o];
      else if (code === 13 && olen >= 1) iface.fcsLength = buf[o];
      else if (code === 14 && olen >= 8) iface.tsOffsetSeconds = Number(dv.getBigInt64(o, le));
      // Values are padded to 32 bits.
      o += (olen + 3) & ~3;
    }
    const state: SectionInterface = {
      index: this.report.interfaces.length,
      linkType: iface.linkType,
      snapLen: iface.snapLen,
      mode: TS_MICROS,
      units: 1e6,
      unitsBig: 1000000n,
      offsetMicros: iface.tsOffsetSeconds * 1e6,
      fcsLength: iface.fcsLength ?? 0,
      packets: 0,
      fcsStripped: 0,
      fcsSeen: 0,
    };
    if (resol >= 0) {
      // if_tsresol: high bit clear means 10^-v seconds, set means 2^-(v & 0x7f).
      const pow2 = (resol & 0x80) !== 0;
      const exp = resol & 0x7f;
      if ((pow2 && exp > 63) || (!pow2 && exp > 19)) {
        this.badBlock(pos, `if_tsresol 0x${resol.toString(16)} is out of range: microseconds assumed`);
      } else {
        state.unitsBig = pow2 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
        state.units = Number(state.unitsBig);
        state.mode = state.units === 1e6 ? TS_MICROS : state.units <= 4294967296 ? TS_DIVIDE : TS_BIG;
        iface.tsUnitsPerSecond = state.units;
      }
    }
    this.ifaces.push(state);
    this.allIfaces.push(state);
    this.report.interfaces.push(iface);
  }

  private simplePacket(buf: Buffer, dv: DataView, pos: number, len: number): void {
    const iface = this.ifaces.length > 0 ? this.ifaces[0] : undefined;
    if (iface === undefined) {
      this.badPacket(pos, 'Simple Packet Block before any Interface Description Block: skipped');
      return;
    }
    const origLen = dv.getUint32(pos + 8, this.le);
    // An SPB carries no captured length: it is the original length cut by the snap length and the block.
    let cap = Math.min(origLen, len - 16);
    if (iface.snapLen > 0 && cap > iface.snapLen) cap = iface.snapLen;
    const dataEnd = pos + 12 + cap - (iface.fcsLength === 0 ? 0 : this.stripFcs(iface, cap, origLen, iface.fcsLength));
    const p = this.packet;
    p.offset = this.base + pos;
    p.ts = this.prevTs;
    p.linkType = iface.linkType;
    p.ifIndex = iface.index;
    p.origLen = origLen;
    p.data = buf.subarray(pos + 12, dataEnd);
    this.report.packets++;
    this.report.packetBytes += cap;
    iface.packets++;
    this.note(pos, 'Simple Packet Blocks carry no timestamp: each was given the time of the packet before it');
    this.sink(p);
  }

  private damagedBlock(offset: number): void {
    this.report.damaged++;
    this.report.notes.push(`damaged block at byte ${offset}: ${this.refusal}; stopped reading the file there`);
    this.halted = true;
    this.carry = null;
  }

  /** A well-framed packet block that cannot be read: counted as damaged, the file goes on. */
  private badPacket(pos: number, detail: string): void {
    this.report.damaged++;
    this.note(pos, detail);
  }

  private badBlock(pos: number, detail: string): void {
    this.note(pos, detail);
  }

  private note(pos: number, detail: string): void {
    const issue = this.issues.get(detail);
    if (issue === undefined) this.issues.set(detail, { count: 1, firstOffset: this.base + pos, detail });
    else issue.count++;
  }
}

/** Interface units → microseconds since the epoch, exact up to the double rounding of the result. */
function toMicros(iface: SectionInterface, hi: number, lo: number): number {
  const d = iface.units;
  if (iface.mode === TS_DIVIDE) {
    // Long division of hi * 2^32 + lo by d (at most 2^32) in a 32-bit and two 16-bit digits:
    // every intermediate stays below 2^48, so seconds and remainder are exact without BigInt.
    let q = Math.floor(hi / d);
    let r = hi - q * d;
    let cur = r * 65536 + (lo >>> 16);
    let qd = Math.floor(cur / d);
    q = q * 65536 + qd;
    r = cur - qd * d;
    cur = r * 65536 + (lo & 0xffff);
    qd = Math.floor(cur / d);
    q = q * 65536 + qd;
    r = cur - qd * d;
    // Whole microseconds first (exact), the fraction last: one rounding, as for classic pcap.
    return q * 1e6 + iface.offsetMicros + (r * 1e6) / d;
  }
  const t = (BigInt(hi) << 32n) | BigInt(lo);
  const q = t / iface.unitsBig;
  const r = t % iface.unitsBig;
  // Picoseconds of the remainder are plenty for a double holding microseconds since 1970.
  return Number(q) * 1e6 + iface.offsetMicros + Number((r * 1000000000000n) / iface.unitsBig) / 1e6;
}

function view(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function blockName(type: number): string {
  if (type === SHB) return 'Section Header Block';
  if (type === IDB) return 'Interface Description Block';
  if (type === EPB) return 'Enhanced Packet Block';
  if (type === SPB) return 'Simple Packet Block';
  if (type === PB) return 'Packet Block';
  return BLOCK_NAMES[type] ?? `block of unknown type 0x${type.toString(16)}`;
}

function article(name: string): string {
  return /^[AEIOU]/i.test(name) ? `an ${name}` : `a ${name}`;
}

function plural(name: string): string {
  if (name.startsWith('block ')) return `blocks ${name.slice(6)}`;
  const paren = name.indexOf(' (');
  return paren < 0 ? `${name}s` : `${name.slice(0, paren)}s${name.slice(paren)}`;
}

/** pcapng strings are UTF-8 without a terminator, but some writers add NULs anyway. */
function optionString(buf: Buffer, o: number, len: number): string {
  let end = o + len;
  while (end > o && buf[end - 1] === 0) end--;
  return buf.toString('utf8', o, end);
}

const EMPTY = Buffer.alloc(0);
