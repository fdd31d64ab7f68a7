/**
 * One DNS message, decoded with `dns-packet` record by record: its whole-message
 * decode throws on the first damaged record and yields nothing, where an analyst
 * still wants the question and the answers before the damage.
 */
import { createRequire } from 'node:module';

/** The parts of dns-packet used here (its typings do not declare the per-record decoders). */
interface DnsPacketModule {
  question: { decode(buf: Buffer, offset: number): RawQuestion; bytes?: number } & { decode: { bytes: number } };
  answer: { decode(buf: Buffer, offset: number): RawRecord } & { decode: { bytes: number } };
  /** AAAA data: the address after the data length. */
  aaaa: { decode(buf: Buffer, offset: number): string };
}
interface RawQuestion {
  name: string;
  type: string;
  class: string;
}
interface RawRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flag_do?: boolean;
  options?: Array<{ code: number; type?: string; data?: Buffer }>;
}

const require = createRequire(import.meta.url);
const dnsPacket = require('dns-packet') as DnsPacketModule;
const dnsTypes = require('dns-packet/types') as { toString(type: number): string };
const dnsClasses = require('dns-packet/classes') as { toString(klass: number): string };

/**
 * How a message's records are read: one question or record at `offset`, and the bytes it took.
 * Both readers throw dns-packet's errors.
 */
export interface RecordReader {
  question(buf: Buffer, offset: number): { q: RawQuestion; bytes: number };
  answer(buf: Buffer, offset: number): { r: RawRecord; bytes: number };
}

/** dns-packet's own decoders, record by record. */
export const LIBRARY_READER: RecordReader = {
  question(buf, offset) {
    const q = dnsPacket.question.decode(buf, offset);
    return { q, bytes: dnsPacket.question.decode.bytes };
  },
  answer(buf, offset) {
    const r = dnsPacket.answer.decode(buf, offset);
    return { r, bytes: dnsPacket.answer.decode.bytes };
  },
};

/** Where a name read by fastName is put together. A name has at most 254 bytes (dns-packet's limit), each label one more. */
const NAME = Buffer.allocUnsafe(512) as Buffer & { latin1Slice(start: number, end: number): string };
/** What the last fastName took from the record it sat in (dns-packet's name.decode.bytes). */
let nameBytes = 0;

/**
 * A name as dns-packet's name.decode reads it, built in one string rather than a string per
 * label joined: null when it is not one this reads the same way (a byte past ASCII, which
 * dns-packet decodes as UTF-8, or anything dns-packet throws on), so that the library reads
 * it and says what is wrong with it.
 */
function fastName(buf: Buffer, offset: number): string | null {
  let oldOffset = offset;
  let length = 0;
  let total = 0;
  let consumed = 0;
  let jumped = false;
  for (;;) {
    if (offset >= buf.length) return null;
    const len = buf[offset++];
    if (!jumped) consumed++;
    if (len === 0) break;
    if ((len & 0xc0) === 0) {
      if (offset + len > buf.length) return null;
      total += len + 1;
      if (total > 254) return null;
      if (length > 0) NAME[length++] = 0x2e;
      for (let i = 0; i < len; i++) {
        const c = buf[offset + i];
        if (c > 0x7f) return null;
        NAME[length++] = c;
      }
      offset += len;
      if (!jumped) consumed += len;
    } else if ((len & 0xc0) === 0xc0) {
      if (offset + 1 > buf.length) return null;
      const jump = ((len << 8) | buf[offset]) - 0xc000;
      if (jump >= oldOffset) return null;
      offset = jump;
      oldOffset = jump;
      if (!jumped) consumed++;
      jumped = true;
    } else return null;
  }
  nameBytes = consumed;
  // dns-packet names the root "."; a name of empty labels only joins them with dots, as here.
  return total === 0 ? '.' : NAME.latin1Slice(0, length);
}

/**
 * The records nearly every capture holds (names in ASCII; A, AAAA, CNAME and PTR data) read by
 * hand, everything else by dns-packet: its decoders build each name from a string per label
 * and allocate as they go, which made them half of DNS dissection's cost. A differential test
 * (test/dns-message.test.ts) holds the two to the same result on every capture at hand.
 */
export const FAST_READER: RecordReader = {
  question(buf, offset) {
    const name = fastName(buf, offset);
    if (name === null || offset + nameBytes + 4 > buf.length) return LIBRARY_READER.question(buf, offset);
    const at = offset + nameBytes;
    const q = { name, type: dnsTypes.toString((buf[at] << 8) | buf[at + 1]), class: dnsClasses.toString((buf[at + 2] << 8) | buf[at + 3]) };
    return { q, bytes: nameBytes + 4 };
  },
  answer(buf, offset) {
    const name = fastName(buf, offset);
    if (name === null) return LIBRARY_READER.answer(buf, offset);
    const at = offset + nameBytes;
    // Type, class, TTL, data length: then the data, which these types read from at + 10.
    if (at + 10 > buf.length) return LIBRARY_READER.answer(buf, offset);
    const before = nameBytes;
    const typeCode = (buf[at] << 8) | buf[at + 1];
    let data: string | null;
    let dataBytes: number;
    if (typeCode === 1) {
      // dns-packet reads four bytes whatever the data length says; past the end it is left to it.
      if (at + 14 > buf.length) return LIBRARY_READER.answer(buf, offset);
      data = `${buf[at + 10]}.${buf[at + 11]}.${buf[at + 12]}.${buf[at + 13]}`;
      dataBytes = 6;
    } else if (typeCode === 28) {
      if (at + 26 > buf.length) return LIBRARY_READER.answer(buf, offset);
      data = dnsPacket.aaaa.decode(buf, at + 8);
      dataBytes = 18;
    } else if (typeCode === 5 || typeCode === 12) {
      // CNAME and PTR: a name, whose own length (not the data length) moves dns-packet on.
      data = fastName(buf, at + 10);
      if (data === null) return LIBRARY_READER.answer(buf, offset);
      dataBytes = nameBytes + 2;
    } else return LIBRARY_READER.answer(buf, offset);
    const klass = (buf[at + 2] << 8) | buf[at + 3];
    const r: RawRecord = {
      name, type: dnsTypes.toString(typeCode),
      class: dnsClasses.toString(klass & 0x7fff), ttl: buf.readUInt32BE(at + 4), data,
    };
    return { r, bytes: before + 8 + dataBytes };
  },
};

export interface DnsQuestion {
  name: string;
  type: string;
  class: string;
}

export interface DnsRecordInfo {
  name: string;
  type: string;
  class: string;
  ttl: number;
  /** The record's data as text: an address, a name, "10 mail.example.", "0 5 8080 svc.", TXT strings, ... */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: string;
  /** Including EDNS's extended bits. */
  rcode: number;
  flags: {
    authoritative: boolean;
    truncated: boolean;
    recursionDesired: boolean;
    recursionAvailable: boolean;
    authenticData: boolean;
    checkingDisabled: boolean;
  };
  questions: DnsQuestion[];
  answers: DnsRecordInfo[];
  authorities: DnsRecordInfo[];
  /** Additional records other than EDNS's OPT. */
  additionals: DnsRecordInfo[];
  edns: { udpPayloadSize: number; dnssecOk: boolean; version: number; options: string[] } | null;
  length: number;
  /** Where decoding stopped on damage; what came before it is kept. */
  error: string | null;
}

const OPCODES = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE_3', 'NOTIFY', 'UPDATE', 'DSO'];
const RCODES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET',
  8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 11: 'DSOTYPENI', 16: 'BADVERS', 17: 'BADKEY', 18: 'BADTIME', 19: 'BADMODE',
  20: 'BADNAME', 21: 'BADALG', 22: 'BADTRUNC', 23: 'BADCOOKIE',
};

export function rcodeName(n: number): string {
  return RCODES[n] ?? `RCODE${n}`;
}

/** dns-packet names unknown types UNKNOWN_<n>; RFC 3597 writes TYPE<n>. */
function typeName(t: string): string {
  return t.startsWith('UNKNOWN_') ? `TYPE${t.slice(8)}` : t;
}

function hex(b: Buffer): string {
  return b.toString('hex');
}

function dataText(type: string, data: unknown): string {
  if (data === undefined || data === null) return '';
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return `\\# ${data.length} ${hex(data)}`;
  if (Array.isArray(data)) {
    // TXT: character-strings.
    return data.map((s) => JSON.stringify(Buffer.isBuffer(s) ? s.toString('utf8') : String(s))).join(' ');
  }
  const o = data as Record<string, unknown>;
  switch (type) {
    case 'MX': return `${o.preference} ${o.exchange}`;
    case 'SRV': return `${o.priority} ${o.weight} ${o.port} ${o.target}`;
    case 'SOA': return `${o.mname} ${o.rname} ${o.serial} ${o.refresh} ${o.retry} ${o.expire} ${o.minimum}`;
    case 'CAA': return `${o.flags ?? 0} ${o.tag} ${JSON.stringify(o.value)}`;
    case 'HINFO': return `${JSON.stringify(o.cpu)} ${JSON.stringify(o.os)}`;
    case 'DS': return `${o.keyTag} ${o.algorithm} ${o.digestType} ${Buffer.isBuffer(o.digest) ? hex(o.digest) : ''}`;
    case 'DNSKEY': return `${o.flags} 3 ${o.algorithm} ${Buffer.isBuffer(o.key) ? o.key.toString('base64') : ''}`;
    case 'RRSIG': return `${o.typeCovered} ${o.algorithm} ${o.labels} ${o.originalTTL} ${o.expiration} ${o.inception} ${o.keyTag} ${o.signersName}`;
    case 'NSEC': return `${o.nextDomain} ${Array.isArray(o.rrtypes) ? o.rrtypes.join(' ') : ''}`;
    default:
      return JSON.stringify(o, (_k, v: unknown) => (Buffer.isBuffer(v) ? hex(v) : v));
  }
}

function record(r: RawRecord): DnsRecordInfo {
  const type = typeName(r.type);
  return { name: r.name, type, class: r.class ?? 'IN', ttl: r.ttl ?? 0, data: dataText(type, r.data) };
}

const SECTIONS = ['question', 'answer', 'authority', 'additional'];

/** Decode a DNS message; null when it cannot even hold a header. `reader`: how records are read (tests compare the two). */
export function parseDnsMessage(buf: Buffer, reader: RecordReader = FAST_READER): DnsMessage | null {
  if (buf.length < 12) return null;
  const flags = buf.readUInt16BE(2);
  const msg: DnsMessage = {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: OPCODES[(flags >> 11) & 0xf] ?? `OPCODE_${(flags >> 11) & 0xf}`,
    rcode: flags & 0xf,
    flags: {
      authoritative: (flags & 0x0400) !== 0,
      truncated: (flags & 0x0200) !== 0,
      recursionDesired: (flags & 0x0100) !== 0,
      recursionAvailable: (flags & 0x0080) !== 0,
      authenticData: (flags & 0x0020) !== 0,
      checkingDisabled: (flags & 0x0010) !== 0,
    },
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
    length: buf.length,
    error: null,
  };
  let off = 12;
  for (let s = 0; s < 4; s++) {
    const count = (buf[4 + 2 * s] << 8) | buf[5 + 2 * s];
    for (let i = 0; i < count; i++) {
      if (off >= buf.length) {
        msg.error = `message ends before ${SECTIONS[s]} ${i + 1} of ${count}`;
        return msg;
      }
      try {
        if (s === 0) {
          const { q, bytes } = reader.question(buf, off);
          off += bytes;
          msg.questions.push({ name: q.name, type: typeName(q.type), class: q.class });
          continue;
        }
        const { r, bytes } = reader.answer(buf, off);
        off += bytes;
        if (off > buf.length) throw new Error('record runs past the end of the message');
        if (r.type === 'OPT') {
          msg.edns = {
            udpPayloadSize: r.udpPayloadSize ?? 512,
            dnssecOk: r.flag_do === true,
            version: r.ednsVersion ?? 0,
            options: (r.options ?? []).map((o) => o.type ?? `OPTION_${o.code}`),
          };
          // The extended rcode's upper 8 bits sit in the OPT record.
          msg.rcode |= (r.extendedRcode ?? 0) << 4;
          continue;
        }
        (s === 1 ? msg.answers : s === 2 ? msg.authorities : msg.additionals).push(record(r));
      } catch (e) {
        msg.error = `${SECTIONS[s]} ${i + 1} of ${count} could not be decoded (${(e as Error).message})`;
        return msg;
      }
    }
  }
  if (off < buf.length) msg.error = `${buf.length - off} bytes after the last record`;
  return msg;
}

/**
 * Whether bytes look like the start of a DNS message: a header with sane counts
 * and a question section. Used to recognise DNS over TCP by content.
 */
export function plausibleDnsHeader(buf: Buffer): boolean {
  if (buf.length < 12) return false;
  const flags = buf.readUInt16BE(2);
  const opcode = (flags >> 11) & 0xf;
  const qd = buf.readUInt16BE(4);
  return opcode <= 6 && qd <= 16 && buf.readUInt16BE(6) <= 4096 && buf.readUInt16BE(8) <= 4096 && buf.readUInt16BE(10) <= 4096;
}
