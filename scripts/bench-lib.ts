/**
 * bench-lib: what scripts/bench.ts uses.
 *
 *   pcap files          transformPcap (stream a classic pcap record by record, editing in place),
 *                       replicatePcap (N copies, each shifted in time and moved to its own 127.k.0.0
 *                       addresses, checksums adjusted), slicePcap (the first N bytes of records, shifted
 *                       to start at a given time), pcapInfo
 *   measuring           measure (a whole process under /usr/bin/time -v, plus /proc sampling of the
 *                       process tree's RSS), median, machineInfo, loadAvg
 *   traffic             the servers and load clients the captures are made of, run as child processes
 *                       of bench.js: http1Server, h2Server, grpcServer, grpcLoad, dnsLoad, plus the wrk
 *                       Lua script, the h2load URI list and the dnsmasq arguments
 *   output              markdownTable
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
// Deterministic pseudo-random numbers, so every run makes the same traffic mix.
import { mulberry32 as rng } from './prng.js';

/** The part of dns-packet used here (it ships no typings). */
interface DnsQuestion {
  type: string;
  name: string;
}
interface DnsPacketModule {
  RECURSION_DESIRED: number;
  encode(p: { type: 'query'; id: number; flags: number; questions: DnsQuestion[]; additionals?: unknown[] }): Buffer;
}
export const dnsPacket = createRequire(import.meta.url)('dns-packet') as DnsPacketModule;

// ---------------------------------------------------------------------------------------------
// Small things
// ---------------------------------------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function loadAvg(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function uuidFrom(r: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const FAKE_JWT = [
  Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ sub: 'bench-user-42', aud: 'shop-api', iat: 1714521600, exp: 1714525200, scope: 'catalog:read orders:write' })).toString('base64url'),
  Buffer.from('not-a-real-signature-podcap-bench').toString('base64url'),
].join('.');

// ---------------------------------------------------------------------------------------------
// pcap files (classic pcap only: what tcpdump -w writes)
// ---------------------------------------------------------------------------------------------

export interface PcapFormat {
  le: boolean;
  /** Units per second of the fractional timestamp: 1e6 or 1e9. */
  unit: number;
  linkType: number;
  header: Buffer;
}

export function pcapFormat(header: Buffer): PcapFormat {
  const m = header.readUInt32LE(0);
  let le: boolean;
  let unit: number;
  if (m === 0xa1b2c3d4) [le, unit] = [true, 1e6];
  else if (m === 0xa1b23c4d) [le, unit] = [true, 1e9];
  else if (m === 0xd4c3b2a1) [le, unit] = [false, 1e6];
  else if (m === 0x4d3cb2a1) [le, unit] = [false, 1e9];
  else throw new Error(`not a classic pcap file (magic 0x${m.toString(16)})`);
  const linkType = le ? header.readUInt32LE(20) : header.readUInt32BE(20);
  return { le, unit, linkType, header: Buffer.from(header) };
}

/** A record as transformPcap hands it over: `buf[off .. off+16+inclLen)` is the record, editable. */
export interface PcapRec {
  buf: Buffer;
  off: number;
  inclLen: number;
}

export interface TransformResult {
  format: PcapFormat;
  records: number;
  bytes: number;
  /** First and last timestamps written, in seconds (float). */
  firstTs: number;
  lastTs: number;
}

const CHUNK = 8 << 20;

/**
 * Streams the records of `inFile` to `outFd` (which already holds a pcap header, or gets
 * `inFile`'s when `writeHeader`). `edit` may change a record in place (time, addresses); it
 * returns false to stop before that record (nothing more is written). A record cut short at the
 * end of the file is dropped.
 */
export function transformPcap(inFile: string, outFd: number | null, writeHeader: boolean, edit: (r: PcapRec, f: PcapFormat) => boolean): TransformResult {
  const fd = openSync(inFile, 'r');
  try {
    const head = Buffer.alloc(24);
    if (readSync(fd, head, 0, 24, 0) !== 24) throw new Error(`${inFile}: shorter than a pcap header`);
    const f = pcapFormat(head);
    if (outFd !== null && writeHeader) writeSync(outFd, head);
    let pos = 24;
    let buf = Buffer.alloc(CHUNK);
    let have = 0;
    let records = 0;
    let bytes = writeHeader ? 24 : 0;
    let firstTs = NaN;
    let lastTs = NaN;
    const rd = (b: Buffer, o: number): number => (f.le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    for (;;) {
      if (have < buf.length) {
        const n = readSync(fd, buf, have, buf.length - have, pos);
        pos += n;
        have += n;
        if (n === 0 && have < 16) break;
      }
      let off = 0;
      let stop = false;
      let writeFrom = 0;
      while (off + 16 <= have) {
        const incl = rd(buf, off + 8);
        if (16 + incl > buf.length) {
          // A record bigger than the chunk: grow and retry.
          const nb = Buffer.alloc(16 + incl + CHUNK);
          buf.copy(nb, 0, off, have);
          have -= off;
          if (outFd !== null && off > writeFrom) writeSync(outFd, buf, writeFrom, off - writeFrom);
          buf = nb;
          off = 0;
          writeFrom = 0;
          break;
        }
        if (off + 16 + incl > have) break;
        if (!edit({ buf, off, inclLen: incl }, f)) {
          stop = true;
          break;
        }
        const ts = rd(buf, off) + rd(buf, off + 4) / f.unit;
        if (records === 0) firstTs = ts;
        lastTs = ts;
        records++;
        bytes += 16 + incl;
        off += 16 + incl;
      }
      if (outFd !== null && off > writeFrom) writeSync(outFd, buf, writeFrom, off - writeFrom);
      if (stop) break;
      const rest = have - off;
      if (off > 0) {
        buf.copy(buf, 0, off, have);
        have = rest;
      }
      const eof = pos >= fileSize(fd);
      if (eof && (have < 16 || have < 16 + rd(buf, 8))) break;
    }
    return { format: f, records, bytes, firstTs, lastTs };
  } finally {
    closeSync(fd);
  }
}

function fileSize(fd: number): number {
  return fstatSync(fd).size;
}

/** Adds `delta` seconds (may be fractional or negative) to a record's timestamp. */
export function shiftTime(r: PcapRec, f: PcapFormat, deltaSec: number, deltaFrac: number): void {
  const { buf, off } = r;
  let sec = (f.le ? buf.readUInt32LE(off) : buf.readUInt32BE(off)) + deltaSec;
  let frac = (f.le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4)) + deltaFrac;
  while (frac >= f.unit) {
    frac -= f.unit;
    sec++;
  }
  while (frac < 0) {
    frac += f.unit;
    sec--;
  }
  if (f.le) {
    buf.writeUInt32LE(sec >>> 0, off);
    buf.writeUInt32LE(frac >>> 0, off + 4);
  } else {
    buf.writeUInt32BE(sec >>> 0, off);
    buf.writeUInt32BE(frac >>> 0, off + 4);
  }
}

/** RFC 1624: a one's-complement checksum after one 16-bit word of what it covers changed. */
function csumAdjust(hc: number, oldW: number, newW: number): number {
  let s = (~hc & 0xffff) + (~oldW & 0xffff) + newW;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Moves an Ethernet/IPv4 frame's 127.0.x.y addresses (both ends) to 127.k.x.y, adjusting the IP
 * header checksum and the TCP/UDP checksum (whose pseudo-header covers the addresses).
 */
export function moveLoopback(r: PcapRec, k: number): void {
  const { buf, off, inclLen } = r;
  const p = off + 16;
  if (inclLen < 34 || buf.readUInt16BE(p + 12) !== 0x0800) return;
  const ip = p + 14;
  const ihl = (buf[ip]! & 0x0f) * 4;
  const delta: Array<[number, number]> = [];
  for (const a of [ip + 12, ip + 16]) {
    if (buf[a] !== 127 || buf[a + 1] !== 0) continue;
    const oldW = buf.readUInt16BE(a);
    buf[a + 1] = k;
    delta.push([oldW, buf.readUInt16BE(a)]);
  }
  if (delta.length === 0) return;
  let hc = buf.readUInt16BE(ip + 10);
  for (const [o, n] of delta) hc = csumAdjust(hc, o, n);
  buf.writeUInt16BE(hc, ip + 10);
  const proto = buf[ip + 9];
  const l4 = ip + ihl;
  const fragOff = buf.readUInt16BE(ip + 6) & 0x1fff;
  if (fragOff !== 0) return;
  const at = proto === 6 ? l4 + 16 : proto === 17 ? l4 + 6 : -1;
  if (at < 0 || at + 2 > p + inclLen) return;
  let c = buf.readUInt16BE(at);
  if (proto === 17 && c === 0) return;
  for (const [o, n] of delta) c = csumAdjust(c, o, n);
  if (proto === 17 && c === 0) c = 0xffff;
  buf.writeUInt16BE(c, at);
}

/**
 * Writes `copies` copies of `inFile` one after another into `outFile`: copy k is shifted by
 * k × (span + gap) seconds and its 127.0.x.y addresses become 127.k.x.y, so no connection of one
 * copy collides with one of another (copy 0 is the original).
 */
export function replicatePcap(inFile: string, outFile: string, copies: number, gapSec = 1): { records: number; bytes: number; spanSec: number } {
  const span = transformPcap(inFile, null, false, () => true);
  const step = Math.ceil(span.lastTs - span.firstTs) + gapSec;
  const out = openSync(outFile, 'w');
  let records = 0;
  let bytes = 0;
  try {
    for (let k = 0; k < copies; k++) {
      const r = transformPcap(inFile, out, k === 0, (rec, f) => {
        if (k > 0) {
          shiftTime(rec, f, k * step, 0);
          moveLoopback(rec, k);
        }
        return true;
      });
      records += r.records;
      bytes += r.bytes;
    }
  } finally {
    closeSync(out);
  }
  return { records, bytes, spanSec: copies * step };
}

/** The first records of `inFile`, up to `maxBytes` of file, shifted so the first starts at `startTs` (seconds). */
export function slicePcap(inFile: string, outFile: string, maxBytes: number, startTs: number): TransformResult {
  const head = Buffer.alloc(24);
  const fd = openSync(inFile, 'r');
  readSync(fd, head, 0, 24, 0);
  closeSync(fd);
  const f = pcapFormat(head);
  let first: number | null = null;
  let dSec = 0;
  let dFrac = 0;
  let written = 24;
  const out = openSync(outFile, 'w');
  try {
    return transformPcap(inFile, out, true, (rec) => {
      if (written + 16 + rec.inclLen > maxBytes) return false;
      written += 16 + rec.inclLen;
      if (first === null) {
        const sec = f.le ? rec.buf.readUInt32LE(rec.off) : rec.buf.readUInt32BE(rec.off);
        const frac = f.le ? rec.buf.readUInt32LE(rec.off + 4) : rec.buf.readUInt32BE(rec.off + 4);
        first = sec + frac / f.unit;
        const wantSec = Math.floor(startTs);
        const wantFrac = Math.round((startTs - wantSec) * f.unit);
        dSec = wantSec - sec;
        dFrac = wantFrac - frac;
      }
      shiftTime(rec, f, dSec, dFrac);
      return true;
    });
  } finally {
    closeSync(out);
  }
}

/** Records, first and last timestamps (seconds) of a classic pcap file. */
export function pcapInfo(file: string): TransformResult {
  return transformPcap(file, null, false, () => true);
}

// ---------------------------------------------------------------------------------------------
// Measuring a whole process
// ---------------------------------------------------------------------------------------------

export interface Measured {
  wallMs: number;
  exitCode: number | null;
  signal: string | null;
  /** Peak RSS in KiB: the larger of /usr/bin/time's "Maximum resident set size" and the sampled tree. */
  peakRssKb: number;
  timeMaxRssKb: number | null;
  sampledPeakKb: number;
  userS: number | null;
  sysS: number | null;
  stderr: string;
  /** [seconds since start, tree RSS in MiB], one sample per `trendEveryMs`. */
  trend: Array<[number, number]>;
  timedOut: boolean;
}

const HAVE_TIME = existsSync('/usr/bin/time');
let measureSeq = 0;

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      /* gone */
    }
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS over the descendants of `pid` (not `pid` itself: that is /usr/bin/time). */
function treeRssKb(pid: number, includeSelf: boolean): number {
  let sum = includeSelf ? rssKb(pid) : 0;
  const stack = childrenOf(pid);
  while (stack.length) {
    const p = stack.pop()!;
    sum += rssKb(p);
    stack.push(...childrenOf(p));
  }
  return sum;
}

/**
 * Runs `cmd args...` to completion as a whole process, under `/usr/bin/time -v` when it is
 * installed, sampling the RSS of its process tree every 100 ms. stdout goes to `stdoutFile` (or
 * nowhere), stderr is kept (its last 64 KiB).
 */
export async function measure(cmd: string, args: string[], opts: { stdoutFile?: string; timeoutMs?: number; trendEveryMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Measured> {
  const timeFile = join(tmpdir(), `podcap-bench-time-${process.pid}-${measureSeq++}.txt`);
  const [c, a] = HAVE_TIME ? ['/usr/bin/time', ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const outFd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : null;
  const t0 = process.hrtime.bigint();
  const child = spawn(c, a, { stdio: ['ignore', outFd ?? 'ignore', 'pipe'], env: opts.env ?? process.env });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 128 << 10) stderr = stderr.slice(-(64 << 10));
  });
  let sampledPeak = 0;
  const trend: Array<[number, number]> = [];
  const every = opts.trendEveryMs ?? 1000;
  let nextTrend = 0;
  let timedOut = false;
  const sampler = setInterval(() => {
    const kb = treeRssKb(child.pid!, !HAVE_TIME);
    if (kb > sampledPeak) sampledPeak = kb;
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (t >= nextTrend) {
      trend.push([Math.round(t / 100) / 10, Math.round(kb / 1024)]);
      nextTrend += every;
    }
  }, 100);
  const killer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
        for (const p of childrenOf(child.pid!)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, opts.timeoutMs)
    : null;
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(sampler);
  if (killer) clearTimeout(killer);
  if (outFd !== null) closeSync(outFd);
  await new Promise((r) => setImmediate(r));
  let timeMax: number | null = null;
  let userS: number | null = null;
  let sysS: number | null = null;
  let exitCode = code;
  let sig = signal;
  if (HAVE_TIME && existsSync(timeFile)) {
    const t = readFileSync(timeFile, 'utf8');
    rmSync(timeFile, { force: true });
    const num = (re: RegExp): number | null => {
      const m = re.exec(t);
      return m ? Number(m[1]) : null;
    };
    timeMax = num(/Maximum resident set size \(kbytes\): (\d+)/);
    userS = num(/User time \(seconds\): ([\d.]+)/);
    sysS = num(/System time \(seconds\): ([\d.]+)/);
    const es = num(/Exit status: (\d+)/);
    const ts = /Command terminated by signal (\d+)/.exec(t);
    if (ts) {
      sig = `signal ${ts[1]}`;
      exitCode = null;
    } else if (es !== null) exitCode = es;
  }
  return {
    wallMs,
    exitCode,
    signal: sig,
    peakRssKb: Math.max(timeMax ?? 0, sampledPeak),
    timeMaxRssKb: timeMax,
    sampledPeakKb: sampledPeak,
    userS,
    sysS,
    stderr,
    trend,
    timedOut,
  };
}

// ---------------------------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------------------------

export interface MachineInfo {
  nproc: number;
  model: string;
  ramGiB: number;
  node: string;
  tshark: string;
  tcpdump: string;
  kernel: string;
  date: string;
}

export async function machineInfo(tool: (cmd: string, args: string[]) => Promise<string>): Promise<MachineInfo> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? '?';
  const first = async (cmd: string, args: string[]): Promise<string> => {
    try {
      return (await tool(cmd, args)).split('\n')[0]!.trim();
    } catch (e) {
      return `? (${(e as Error).message.split('\n')[0]})`;
    }
  };
  return {
    nproc: Number((await first('nproc', [])) || cpus().length),
    model,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    tshark: await first('tshark', ['--version']),
    tcpdump: await first('tcpdump', ['--version']),
    kernel: await first('uname', ['-r']),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export function markdownTable(header: string[], rows: string[][], rightAlign: boolean[] = []): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (rightAlign[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  const sep = `| ${w.map((n, i) => (rightAlign[i] ? `${'-'.repeat(n - 1)}:` : '-'.repeat(n))).join(' | ')} |`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Traffic: shared constants
// ---------------------------------------------------------------------------------------------

export const HOST = '127.0.0.1';
export const HTTP1_PORT = 28080;
export const H2_PORT = 28082;
/** Not 50051: scripts/make-h2-fixtures.ts captures `tcp port 50051`, and may run at the same time. */
export const GRPC_PORT = 50061;
export const DNS_IP = '127.0.0.77';

/** The child's "ready" line; a child prints one summary line on SIGTERM/SIGINT and exits. */
function ready(what: string): void {
  process.stderr.write(`ready: ${what}\n`);
}

function onStop(fn: () => Promise<string> | string): void {
  let stopping = false;
  const h = (): void => {
    if (stopping) return;
    stopping = true;
    void Promise.resolve(fn()).then(
      (summary) => {
        process.stderr.write(`summary: ${summary}\n`);
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`error: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', h);
  process.on('SIGINT', h);
}

const PRODUCT_NAMES = ['Espresso Machine', 'Burr Grinder', 'Milk Jug', 'Tamper', 'Knock Box', 'Scale', 'Kettle', 'Dripper', 'Filter Papers', 'Cold Brew Kit', 'Beans 1kg', 'Descaler'];
const TAGS = ['coffee', 'kitchen', 'bestseller', 'new', 'eco', 'gift', 'sale', 'premium'];

function productJson(id: number): Record<string, unknown> {
  const r = rng(id);
  return {
    id,
    sku: `SKU-${String(id).padStart(6, '0')}`,
    name: `${PRODUCT_NAMES[id % PRODUCT_NAMES.length]} ${id}`,
    price: { currency: ['EUR', 'USD', 'GBP'][id % 3], amount: (5 + r() * 500).toFixed(2) },
    stock: Math.floor(r() * 300),
    rating: Math.round(r() * 50) / 10,
    tags: TAGS.filter(() => r() < 0.3),
    updatedAt: new Date(1_790_000_000_000 + id * 3_600_000).toISOString(),
  };
}

/** Ids 1..1000 of the product pool; a product id with id % 20 == 13 does not exist (404 / NOT_FOUND). */
export const missingProduct = (id: number): boolean => id % 20 === 13;

// ---------------------------------------------------------------------------------------------
// (a) HTTP/1: a Node http server and wrk's Lua request pool
// ---------------------------------------------------------------------------------------------

export async function http1Server(port: number): Promise<void> {
  const bodies = new Map<number, Buffer>();
  for (let id = 1; id <= 1000; id++) bodies.set(id, Buffer.from(JSON.stringify(productJson(id))));
  const orderList = Buffer.from(JSON.stringify({ orders: [1, 2].map((n) => ({ id: `ord-${n}`, status: 'shipped', total: { currency: 'EUR', amount: '42.10' }, items: 2 })), next: 'page-2' }));
  const byStatus: Record<number, number> = {};
  let served = 0;
  let orderSeq = 1;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      served++;
      const url = req.url ?? '/';
      const rid = (req.headers['x-request-id'] as string | undefined) ?? '';
      const common = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': rid, server: 'podcap-bench' };
      let status = 200;
      let body: Buffer;
      const extra: Record<string, string> = {};
      const m = /^\/api\/v1\/products\/(\d+)/.exec(url);
      if (m) {
        const id = Number(m[1]);
        if (missingProduct(id) || !bodies.has(id)) {
          status = 404;
          body = Buffer.from(`{"error":"not_found","message":"product ${id} does not exist","requestId":"${rid}"}`);
        } else {
          body = bodies.get(id)!;
          extra.etag = `"p${id}-v3"`;
        }
      } else if (url.startsWith('/api/v1/orders') && req.method === 'POST') {
        status = 201;
        const id = `ord-${orderSeq++}`;
        body = Buffer.from(`{"id":"${id}","status":"created"}`);
        extra.location = `/api/v1/orders/${id}`;
      } else if (url.startsWith('/api/v1/orders')) {
        body = orderList;
      } else if (url.startsWith('/api/v1/checkout')) {
        status = 503;
        body = Buffer.from('{"error":"unavailable","message":"payment provider timeout","retryAfter":2}');
        extra['retry-after'] = '2';
      } else if (url === '/healthz') {
        body = Buffer.from('{"status":"ok"}');
      } else {
        status = 404;
        body = Buffer.from('{"error":"not_found"}');
      }
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      res.writeHead(status, { ...common, ...extra, 'content-length': String(body.length) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => server.listen(port, HOST, () => r()));
  onStop(() => {
    server.closeAllConnections();
    server.close();
    return `served ${served} requests ${JSON.stringify(byStatus)}`;
  });
  ready(`http1 ${HOST}:${port}`);
}

/** A wrk Lua script cycling through 1000 pre-built HTTP/1.1 requests with browser-like headers. */
export function wrkLua(port: number): string {
  const r = rng(7);
  const reqs: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const x = r();
    const rid = uuidFrom(r);
    const hdr: string[] = [
      `Host: ${HOST}:${port}`,
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) podcap-bench wrk/4.1.0',
      'Accept: application/json, text/plain, */*',
      'Accept-Encoding: gzip, deflate, br',
      'Accept-Language: en-GB,en;q=0.9,de;q=0.7',
      `X-Request-Id: ${rid}`,
      `traceparent: 00-${rid.replace(/-/g, '')}-${createHash('sha1').update(rid).digest('hex').slice(0, 16)}-01`,
    ];
    if (r() < 0.6) hdr.push(`Authorization: Bearer ${FAKE_JWT}`);
    if (r() < 0.3) hdr.push(`Cookie: session=${rid.slice(0, 18)}; theme=dark; consent=1`);
    let line: string;
    let body = '';
    if (x < 0.78) {
      const id = 1 + Math.floor(r() * 1000);
      line = `GET /api/v1/products/${id}${r() < 0.3 ? '?fields=name,price,stock' : ''} HTTP/1.1`;
    } else if (x < 0.88) {
      line = `GET /api/v1/orders?page=${1 + Math.floor(r() * 20)}&limit=20 HTTP/1.1`;
    } else if (x < 0.96) {
      body = JSON.stringify({ customerId: `cust-${Math.floor(r() * 5000)}`, items: [{ sku: `SKU-${String(1 + Math.floor(r() * 1000)).padStart(6, '0')}`, qty: 1 + Math.floor(r() * 3) }], currency: 'EUR' });
      line = 'POST /api/v1/orders HTTP/1.1';
      hdr.push('Content-Type: application/json', `Content-Length: ${body.length}`);
    } else if (x < 0.98) {
      line = `GET /api/v1/checkout/${Math.floor(r() * 9000)} HTTP/1.1`;
    } else {
      line = 'GET /healthz HTTP/1.1';
    }
    reqs.push(`${line}\r\n${hdr.join('\r\n')}\r\n\r\n${body}`);
  }
  return [
    '-- generated by scripts/bench.ts: 1000 pre-built requests, cycled',
    'local pool = {',
    ...reqs.map((s) => `  ${JSON.stringify(s)},`),
    '}',
    'local i = 0',
    'request = function()',
    '  i = i % #pool + 1',
    '  return pool[i]',
    'end',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// (b) h2c: a Node http2 server and h2load's URI list
// ---------------------------------------------------------------------------------------------

export async function h2Server(port: number): Promise<void> {
  const bodies = new Map<number, Buffer>();
  for (let id = 1; id <= 1000; id++) {
    const p = productJson(id);
    // A little more than the HTTP/1 body: related items, as an API gateway would return.
    p.related = [1, 2, 3].map((k) => ({ sku: `SKU-${String(((id + k * 37) % 1000) + 1).padStart(6, '0')}`, score: Math.round(rng(id * k)() * 100) / 100 }));
    p.description = `${p.name as string}: ${'A sturdy, well made accessory for the home barista. '.repeat(3)}`;
    bodies.set(id, Buffer.from(JSON.stringify(p)));
  }
  const byStatus: Record<number, number> = {};
  let served = 0;
  const server = http2.createServer({ settings: { maxConcurrentStreams: 256 } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    served++;
    const path = String(headers[':path'] ?? '/');
    const m = /^\/api\/v1\/products\/(\d+)/.exec(path);
    let status = 200;
    let body: Buffer;
    if (m && !missingProduct(Number(m[1])) && bodies.has(Number(m[1]))) body = bodies.get(Number(m[1]))!;
    else if (path === '/healthz') body = Buffer.from('{"status":"ok"}');
    else {
      status = 404;
      body = Buffer.from(`{"error":"not_found","path":${JSON.stringify(path)}}`);
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    stream.on('error', () => undefined);
    stream.respond({ ':status': status, 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'max-age=30', server: 'podcap-bench' });
    stream.end(body);
  });
  await new Promise<void>((r) => server.listen(port, HOST, () => r()));
  onStop(async () => {
    for (const s of sessions) s.close();
    server.close();
    return `served ${served} requests ${JSON.stringify(byStatus)}`;
  });
  ready(`h2c ${HOST}:${port}`);
}

export function h2loadUris(port: number): string {
  const r = rng(11);
  const out: string[] = [];
  for (let i = 0; i < 200; i++) {
    const x = r();
    if (x < 0.97) out.push(`http://${HOST}:${port}/api/v1/products/${1 + Math.floor(r() * 1000)}${r() < 0.3 ? '?fields=name,price' : ''}`);
    else if (x < 0.99) out.push(`http://${HOST}:${port}/api/v1/nope/${i}`);
    else out.push(`http://${HOST}:${port}/healthz`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// (c) gRPC: a grpc-js server and a grpc-js load client (unary GetProduct), fixtures/grpc/shop.proto
// ---------------------------------------------------------------------------------------------

const LOADER_OPTS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };

function catalogService(proto: string): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(proto, LOADER_OPTS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { shop: { v1: { Catalog: grpc.ServiceClientConstructor } } };
  return pkg.shop.v1.Catalog;
}

function grpcProduct(id: number): Record<string, unknown> {
  const r = rng(id + 100);
  const units = 5 + Math.floor(r() * 500);
  return {
    sku: `SKU-${String(id).padStart(6, '0')}`,
    name: `${PRODUCT_NAMES[id % PRODUCT_NAMES.length]} ${id}`,
    description: `${'Hand finished, dishwasher safe, two year warranty. '.repeat(2)}Batch ${id}.`,
    price: { currency: ['EUR', 'USD', 'GBP'][id % 3], units: String(units), nanos: Math.floor(r() * 1e9) },
    stock: String(Math.floor(r() * 300)),
    rating: Math.round(r() * 50) / 10,
    active: r() < 0.9,
    availability: ['IN_STOCK', 'BACKORDER', 'DISCONTINUED'][Math.floor(r() * 3)],
    tags: TAGS.filter(() => r() < 0.4),
    dimensions: { width_cm: 10 + r() * 30, height_cm: 5 + r() * 40, depth_cm: 5 + r() * 20, weight_kg: r() * 8 },
    attributes: { color: ['black', 'steel', 'white'][id % 3], material: 'stainless steel', origin: 'EU', warehouse: `wh-${id % 7}` },
    updated_at_unix: String(1_790_000_000 + id * 3600),
    price_history: [1, 2, 3].map((k) => ({ currency: 'EUR', units: String(units + k), nanos: 0 })),
  };
}

/** Size of the image a GetProduct response carries when the request sets include_image (1 call in 4). */
export const IMAGE_BYTES = 12 * 1024;

export async function grpcServer(port: number, proto: string): Promise<void> {
  const Catalog = catalogService(proto);
  const products = new Map<string, Record<string, unknown>>();
  const withImage = new Map<string, Record<string, unknown>>();
  for (let id = 1; id <= 1000; id++) {
    if (missingProduct(id)) continue;
    const sku = `SKU-${String(id).padStart(6, '0')}`;
    products.set(sku, grpcProduct(id));
    // A 12 KiB thumbnail (incompressible bytes) when the request sets include_image.
    withImage.set(sku, { ...grpcProduct(id), image: randomBytes(IMAGE_BYTES) });
  }
  const byStatus: Record<number, number> = {};
  let served = 0;
  let n = 0;
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    GetProduct: (call: grpc.ServerUnaryCall<{ sku: string; include_image?: boolean }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      served++;
      const p = (call.request.include_image ? withImage : products).get(call.request.sku);
      if (!p) {
        byStatus[5] = (byStatus[5] ?? 0) + 1;
        cb({ code: grpc.status.NOT_FOUND, details: `product ${call.request.sku} not found` });
      } else if (++n % 200 === 0) {
        byStatus[14] = (byStatus[14] ?? 0) + 1;
        cb({ code: grpc.status.UNAVAILABLE, details: 'inventory backend unavailable, retry later' });
      } else {
        byStatus[0] = (byStatus[0] ?? 0) + 1;
        cb(null, p);
      }
    },
  });
  await new Promise<void>((res, rej) => server.bindAsync(`${HOST}:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  onStop(
    () =>
      new Promise<string>((res) => {
        server.tryShutdown(() => res(`served ${served} calls ${JSON.stringify(byStatus)}`));
        setTimeout(() => {
          server.forceShutdown();
          res(`served ${served} calls ${JSON.stringify(byStatus)} (forced shutdown)`);
        }, 2000).unref();
      }),
  );
  ready(`grpc ${HOST}:${port}`);
}

/** `channels` clients (each its own TCP connection), each with `concurrency` unary calls in flight. */
export async function grpcLoad(port: number, proto: string, channels: number, concurrency: number): Promise<void> {
  const Catalog = catalogService(proto);
  const clients = Array.from({ length: channels }, () => new Catalog(`${HOST}:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.primary_user_agent': 'podcap-bench' }));
  const r = rng(23);
  const skus = Array.from({ length: 4096 }, () => `SKU-${String(1 + Math.floor(r() * 1000)).padStart(6, '0')}`);
  const fieldMasks = [[], [], ['name', 'price', 'stock'], ['name', 'availability']];
  let stop = false;
  let calls = 0;
  let ok = 0;
  const codes: Record<number, number> = {};
  const tenants = ['acme', 'globex', 'initech', 'umbrella'];
  const loop = (client: grpc.Client & Record<string, unknown>, lane: number): Promise<void> =>
    new Promise((done) => {
      let i = lane * 131;
      const next = (): void => {
        if (stop) return done();
        i++;
        calls++;
        const md = new grpc.Metadata();
        md.set('x-request-id', `${lane.toString(36)}-${calls.toString(36)}-${randomBytes(4).toString('hex')}`);
        md.set('x-tenant-id', tenants[i % 4]!);
        if (i % 2 === 0) md.set('authorization', `Bearer ${FAKE_JWT}`);
        const req = { sku: skus[i % skus.length]!, include_image: i % 4 === 1, fields: fieldMasks[i % 4]! };
        (client.GetProduct as (req: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void)(req, md, { deadline: Date.now() + 10_000 }, (e) => {
          if (e) codes[e.code] = (codes[e.code] ?? 0) + 1;
          else ok++;
          next();
        });
      };
      next();
    });
  await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.waitForReady(Date.now() + 5000, (e) => (e ? rej(e) : res())))));
  const lanes = clients.flatMap((c, ci) => Array.from({ length: concurrency }, (_, k) => loop(c as grpc.Client & Record<string, unknown>, ci * concurrency + k)));
  onStop(async () => {
    stop = true;
    await Promise.all(lanes);
    for (const c of clients) c.close();
    await sleep(200);
    return `made ${calls} calls: ${ok} OK, errors ${JSON.stringify(codes)}`;
  });
  ready(`grpc load: ${channels} channels x ${concurrency} in flight`);
}

// ---------------------------------------------------------------------------------------------
// (d) DNS: dnsmasq with a few records, and a UDP load client (dns-packet)
// ---------------------------------------------------------------------------------------------

const DNS_RECORDS: Array<[string, string[]]> = [
  ['kube-dns.kube-system.svc.cluster.local', ['10.96.0.10']],
  ['payment-svc.payments.svc.cluster.local', ['10.96.12.7']],
  ['checkout.shop.svc.cluster.local', ['10.96.20.4', 'fd00:10:96::14']],
  ['catalog.shop.svc.cluster.local', ['10.96.20.9', 'fd00:10:96::19']],
  ['cart.shop.svc.cluster.local', ['10.96.20.11']],
  ['orders-db.data.svc.cluster.local', ['10.96.30.2']],
  ['redis-master.data.svc.cluster.local', ['10.96.30.6']],
  ['api.stripe.com', ['198.51.100.23', '2001:db8::23']],
  ['auth.example.com', ['203.0.113.5']],
  ['metrics.monitoring.svc.cluster.local', ['10.96.40.3']],
];

export function dnsmasqArgs(ip: string): string[] {
  return [
    '-k',
    '--log-facility=-',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    '--pid-file=',
    '--user=root',
    '--bind-interfaces',
    `--listen-address=${ip}`,
    '--port=53',
    '--domain-needed',
    '--local=/cluster.local/',
    '--local=/example.com/',
    '--cache-size=1000',
    ...DNS_RECORDS.map(([n, ips]) => `--host-record=${n},${ips.join(',')},30`),
    '--srv-host=_grpc._tcp.catalog.shop.svc.cluster.local,catalog.shop.svc.cluster.local,50051,0,100',
    '--txt-record=_config.shop.svc.cluster.local,"v=1; region=eu-west-1"',
  ];
}

/** The query mix: names (some resolve, search-path expansions that do not), types, EDNS or not. */
function dnsQueries(): Buffer[] {
  const r = rng(31);
  const out: Buffer[] = [];
  const names = DNS_RECORDS.map(([n]) => n);
  const search = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
  for (let i = 0; i < 512; i++) {
    const x = r();
    let name: string;
    let type: 'A' | 'AAAA' | 'SRV' | 'TXT';
    if (x < 0.55) [name, type] = [names[Math.floor(r() * names.length)]!, 'A'];
    else if (x < 0.75) [name, type] = [names[Math.floor(r() * names.length)]!, 'AAAA'];
    else if (x < 0.92) [name, type] = [`${names[Math.floor(r() * names.length)]!.split('.')[0]}.${search[Math.floor(r() * 3)]}`, r() < 0.5 ? 'A' : 'AAAA'];
    else if (x < 0.97) [name, type] = ['_grpc._tcp.catalog.shop.svc.cluster.local', 'SRV'];
    else [name, type] = ['_config.shop.svc.cluster.local', 'TXT'];
    const edns = r() < 0.5;
    out.push(
      dnsPacket.encode({
        type: 'query',
        id: 0,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name }],
        additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] }] : [],
      }),
    );
  }
  return out;
}

/** `sockets` UDP sockets (client ports), each with `window` queries in flight; ids per socket. */
export async function dnsLoad(server: string, sockets: number, window: number): Promise<void> {
  const templates = dnsQueries();
  let sent = 0;
  let answered = 0;
  let lost = 0;
  let stop = false;
  const socks: dgram.Socket[] = [];
  const finished: Array<Promise<void>> = [];
  for (let s = 0; s < sockets; s++) {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, HOST, () => res()));
    socks.push(sock);
    let id = (s * 7919) & 0xffff;
    let k = s * 61;
    const inflight = new Map<number, number>(); // id -> sent at (ms)
    let resolveDone: () => void = () => undefined;
    finished.push(new Promise<void>((res) => (resolveDone = res)));
    const send = (): void => {
      if (stop) {
        if (inflight.size === 0) resolveDone();
        return;
      }
      id = (id + 1) & 0xffff;
      while (inflight.has(id)) id = (id + 1) & 0xffff;
      const q = Buffer.from(templates[k++ % templates.length]!);
      q.writeUInt16BE(id, 0);
      inflight.set(id, Date.now());
      sent++;
      sock.send(q, 53, server);
    };
    sock.on('message', (msg) => {
      if (msg.length < 2) return;
      const rid = msg.readUInt16BE(0);
      if (!inflight.delete(rid)) return;
      answered++;
      send();
    });
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [qid, t] of inflight) {
        if (now - t > 1000) {
          inflight.delete(qid);
          lost++;
          send();
        }
      }
      if (stop && inflight.size === 0) resolveDone();
    }, 250);
    sweep.unref();
    for (let w = 0; w < window; w++) send();
  }
  onStop(async () => {
    stop = true;
    await Promise.race([Promise.all(finished), sleep(2000)]);
    for (const s of socks) s.close();
    return `sent ${sent} queries, ${answered} answered, ${lost} unanswered after 1 s`;
  });
  ready(`dns load: ${sockets} sockets x ${window} in flight -> ${server}:53`);
}
