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

const dnsPacket = createRequire(import.meta.url)('dns-packet') as DnsPacketModule;

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

/** Decode a DNS message; null when it cannot even hold a header. */
export function parseDnsMessage(buf: Buffer): DnsMessage | null {
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
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = 12;
  const section = ['question', 'answer', 'authority', 'additional'];
  for (let s = 0; s < 4; s++) {
    for (let i = 0; i < counts[s]; i++) {
      if (off >= buf.length) {
        msg.error = `message ends before ${section[s]} ${i + 1} of ${counts[s]}`;
        return msg;
      }
      try {
        if (s === 0) {
          const q = dnsPacket.question.decode(buf, off);
          off += dnsPacket.question.decode.bytes;
          msg.questions.push({ name: q.name, type: typeName(q.type), class: q.class });
          continue;
        }
        const r = dnsPacket.answer.decode(buf, off);
        off += dnsPacket.answer.decode.bytes;
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
        msg.error = `${section[s]} ${i + 1} of ${counts[s]} could not be decoded (${(e as Error).message})`;
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
