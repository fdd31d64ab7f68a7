/**
 * fixture-lib: what the fixture scripts (make-fixtures.ts, make-layout-fixtures.ts) share.
 *
 *   paths and logging        ROOT, rel, log (prefix set with setLogPrefix), sleep, FixtureError
 *   capturers                startCapturer / stopCapturer: tcpdump or dumpcap as child processes
 *   HTTP servers             readBody, sendJson, listen, closeServer
 *   HTTP client              ExchangeClient: real Node http requests that record what the client saw
 *   capture inspection       tsharkLines, capinfos, pcapngTsResolutions, pcapRecords
 *   commands, namespaces     runCommand, inNetns
 *   tshark analysis          tsharkCount, tsharkTcpStreams, tsharkFollowTcpRaw, followMissing
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Paths and logging
// ---------------------------------------------------------------------------------------------

function findRoot(): string {
  // dist/scripts/fixture-lib.js -> repository root is two levels up.
  const fromScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  if (existsSync(join(fromScript, 'package.json'))) return fromScript;
  return process.cwd();
}

export const ROOT = findRoot();

export const rel = (p: string): string => relative(ROOT, p) || p;

let logPrefix = 'fixtures';
/** The tag every log line carries: `[fixtures] ...` unless set otherwise. */
export function setLogPrefix(prefix: string): void {
  logPrefix = prefix;
}
export const log = (msg: string): void => {
  process.stderr.write(`[${logPrefix}] ${msg}\n`);
};
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FixtureError extends Error {}

// ---------------------------------------------------------------------------------------------
// Capturers
// ---------------------------------------------------------------------------------------------

export interface Capturer {
  name: string;
  file: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a capturer and resolves once its stderr says it is capturing (plus a settling delay). */
export async function startCapturer(name: string, cmd: string, args: string[], file: string, ready: RegExp): Promise<Capturer> {
  log(`start ${name}: ${cmd} ${args.map((a) => (/[\s()]/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on('exit', (code, signal) => res({ code, signal }));
  });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new FixtureError(`${name} not ready after 10 s; stderr:\n${err}`)), 10_000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      rej(new FixtureError(`${name} failed to start: ${e.message}`));
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      if (ready.test(err)) {
        clearTimeout(timer);
        res();
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new FixtureError(`${name} exited before it was ready (code ${code}, signal ${signal}); stderr:\n${err}`));
    });
  });
  return { name, file, proc, stderr: () => err, exited };
}

/** Stops a capturer with SIGINT and returns the packet count it reported ('?' if none). */
export async function stopCapturer(c: Capturer): Promise<string> {
  c.proc.kill('SIGINT');
  const timeout = sleep(10_000).then(() => 'timeout' as const);
  const r = await Promise.race([c.exited, timeout]);
  if (r === 'timeout') {
    c.proc.kill('SIGKILL');
    throw new FixtureError(`${c.name} did not exit within 10 s of SIGINT`);
  }
  if (r.code !== 0 && r.signal !== 'SIGINT') {
    throw new FixtureError(`${c.name} exited with code ${r.code}, signal ${r.signal}; stderr:\n${c.stderr()}`);
  }
  const err = c.stderr();
  const m = /(\d+) packets? captured/.exec(err) ?? /Packets captured: (\d+)/.exec(err);
  return m ? m[1]! : '?';
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => res(Buffer.concat(parts)));
    req.on('error', rej);
  });
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length), ...headers });
  res.end(body);
}

export function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((res, rej) => {
    server.once('error', (e) => rej(new FixtureError(`cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => res());
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((res) => server.close(() => res()));
}

// ---------------------------------------------------------------------------------------------
// Client side: the exchanges and what the client saw
// ---------------------------------------------------------------------------------------------

export interface Exchange {
  method: string;
  path: string;
  query: string;
  status: number;
  connection: number;
  requestBodySize: number;
  responseBodySize: number;
  failed: boolean;
  chunked: boolean;
  contentEncoding: string | null;
  serverClosed: boolean;
  /** Extras beyond the brief, to locate the exchange in a capture. */
  requestId: string;
  clientPort: number;
  serverPort: number;
}

export interface Step {
  /** Steps with the same group must share one TCP connection, different groups must not. */
  group: string;
  agent: http.Agent;
  port: number;
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: { type: string; data: string };
}

/**
 * Makes real requests to `host` and records what the client saw. Request ids are
 * `<idPrefix>-0001`, `-0002`, ... (sent as x-request-id); connections are numbered 1, 2, ... in
 * the order their first response arrives.
 */
export class ExchangeClient {
  private readonly socketIds = new WeakMap<net.Socket, number>();
  /** connection id -> client port */
  readonly socketPorts = new Map<number, number>();
  private nextSocketId = 1;
  private nextRequestId = 1;

  constructor(
    readonly host: string,
    readonly idPrefix: string,
  ) {}

  request(step: Step): Promise<Exchange> {
    const requestId = `${this.idPrefix}-${String(this.nextRequestId++).padStart(4, '0')}`;
    const body = step.body ? Buffer.from(step.body.data) : null;
    const headers: Record<string, string> = {
      'user-agent': 'podcap-fixtures/1.0 (node)',
      accept: 'application/json',
      'x-request-id': requestId,
      ...step.headers,
    };
    if (body) {
      headers['content-type'] = step.body!.type;
      headers['content-length'] = String(body.length);
    } else if (step.method === 'POST' || step.method === 'PUT') {
      headers['content-length'] = '0';
    }
    const query = step.query ?? '';
    const target = query ? `${step.path}?${query}` : step.path;
    return new Promise((resolvePromise, reject) => {
      const req = http.request({ host: this.host, port: step.port, method: step.method, path: target, agent: step.agent, headers });
      req.on('error', (e) => reject(new FixtureError(`${step.method} ${target}: ${e.message}`)));
      req.on('response', (res) => {
        const sock = res.socket as net.Socket;
        let connection = this.socketIds.get(sock);
        if (connection === undefined) {
          connection = this.nextSocketId++;
          this.socketIds.set(sock, connection);
          this.socketPorts.set(connection, sock.localPort!);
        }
        const clientPort = sock.localPort!;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(parts);
          const enc = (res.headers['content-encoding'] ?? '').trim().toLowerCase() || null;
          let decoded = raw;
          if (enc === 'gzip') decoded = zlib.gunzipSync(raw);
          else if (enc === 'deflate') decoded = zlib.inflateSync(raw);
          else if (enc === 'br') decoded = zlib.brotliDecompressSync(raw);
          else if (enc !== null) return reject(new FixtureError(`unexpected content-encoding ${enc}`));
          const te = (res.headers['transfer-encoding'] ?? '').toLowerCase().split(',').map((s) => s.trim());
          const connHeader = (res.headers.connection ?? '').toLowerCase();
          const serverClosed =
            connHeader === 'close' || (res.httpVersion === '1.0' && connHeader !== 'keep-alive');
          const status = res.statusCode ?? 0;
          resolvePromise({
            method: step.method,
            path: step.path,
            query,
            status,
            connection: connection!,
            requestBodySize: body?.length ?? 0,
            responseBodySize: decoded.length,
            failed: status >= 500,
            chunked: te.includes('chunked'),
            contentEncoding: enc,
            serverClosed,
            requestId,
            clientPort,
            serverPort: step.port,
          });
        });
      });
      req.end(body ?? undefined);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Capture file inspection
// ---------------------------------------------------------------------------------------------

/** if_tsresol of every IDB in a pcapng file (6 when the option is absent). */
export function pcapngTsResolutions(file: string): number[] {
  const b = readFileSync(file);
  const out: number[] = [];
  let le = true;
  let off = 0;
  while (off + 12 <= b.length) {
    const type = le ? b.readUInt32LE(off) : b.readUInt32BE(off);
    if (type === 0x0a0d0d0a) le = b.readUInt32LE(off + 8) === 0x1a2b3c4d;
    const len = le ? b.readUInt32LE(off + 4) : b.readUInt32BE(off + 4);
    if (len < 12 || off + len > b.length) break;
    if (type === 1) {
      let res = 6;
      let o = off + 16;
      while (o + 4 <= off + len - 4) {
        const code = le ? b.readUInt16LE(o) : b.readUInt16BE(o);
        const olen = le ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
        if (code === 0) break;
        if (code === 9 && olen >= 1) res = b[o + 4]!;
        o += 4 + ((olen + 3) & ~3);
      }
      out.push(res);
    }
    off += len;
  }
  return out;
}

export interface PcapRecord {
  offset: number;
  inclLen: number;
}

export function pcapRecords(file: string): { magic: number; records: PcapRecord[]; size: number } {
  const b = readFileSync(file);
  const magicLE = b.readUInt32LE(0);
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  const magic = le ? magicLE : b.readUInt32BE(0);
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const inclLen = le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
    if (off + 16 + inclLen > b.length) break;
    records.push({ offset: off, inclLen });
    off += 16 + inclLen;
  }
  return { magic, records, size: b.length };
}

/** `tshark -n -r FILE ARGS...`, stdout as non-empty lines. */
export async function tsharkLines(file: string, args: string[]): Promise<string[]> {
  const { stdout } = await execFileP('tshark', ['-n', '-r', file, ...args], { maxBuffer: 64 << 20 });
  return stdout.split('\n').filter((l) => l.length > 0);
}

/** `capinfos ARGS... FILE`; on failure, what it printed (or the error). */
export async function capinfos(args: string[], file: string): Promise<string> {
  try {
    const { stdout } = await execFileP('capinfos', [...args, file]);
    return stdout.trimEnd();
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message;
  }
}

// ---------------------------------------------------------------------------------------------
// Commands, network namespaces, tshark counts and follow (added for make-lossy-fixtures.ts)
// ---------------------------------------------------------------------------------------------

/** Runs `cmd args...` and returns its stdout; a FixtureError carrying its stderr if it fails. */
export async function runCommand(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new FixtureError(`\`${cmd} ${args.join(' ')}\` failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** The command line that runs `cmd args...` in network namespace `ns` (`ip netns exec`), or as is for null. */
export function inNetns(ns: string | null, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** How many frames of `file` tshark shows for display filter `filter` (`tshark -n -r FILE EXTRA... -Y FILTER`). */
export async function tsharkCount(file: string, filter: string, extra: string[] = []): Promise<number> {
  return (await tsharkLines(file, [...extra, '-Y', filter, '-T', 'fields', '-e', 'frame.number'])).length;
}

/** The TCP stream indexes (`tcp.stream`) tshark assigns in `file`, ascending. */
export async function tsharkTcpStreams(file: string): Promise<number[]> {
  const lines = await tsharkLines(file, ['-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream']);
  return [...new Set(lines.map(Number))].sort((a, b) => a - b);
}

export interface FollowedTcp {
  stream: number;
  /** `ip:port` of node 0 (whoever tshark saw first) and node 1. */
  nodes: [string, string];
  /** Each node's bytes in order; where the capture lacks bytes tshark writes `[N bytes missing in capture file]` (and a NUL) into them. */
  data: [Buffer, Buffer];
}

/** `tshark -r FILE -qz follow,tcp,raw,N`, parsed. */
export async function tsharkFollowTcpRaw(file: string, stream: number, extra: string[] = []): Promise<FollowedTcp> {
  const { stdout } = await execFileP('tshark', ['-r', file, ...extra, '-qz', `follow,tcp,raw,${stream}`], { maxBuffer: 256 << 20 });
  const nodes: [string, string] = ['', ''];
  const parts: [Buffer[], Buffer[]] = [[], []];
  for (const line of stdout.split('\n')) {
    const node = /^Node ([01]): (.*)$/.exec(line);
    if (node) nodes[Number(node[1]) as 0 | 1] = node[2]!;
    else if (/^[0-9a-f]+$/.test(line)) parts[0].push(Buffer.from(line, 'hex'));
    else if (/^\t[0-9a-f]+$/.test(line)) parts[1].push(Buffer.from(line.slice(1), 'hex'));
  }
  return { stream, nodes, data: [Buffer.concat(parts[0]), Buffer.concat(parts[1])] };
}

/**
 * The `[N bytes missing in capture file]` markers in followed bytes: N, where the marker starts in
 * the followed bytes (`offset`), and where the missing bytes start in the direction's byte stream
 * (`streamOffset`: the offset with the earlier markers replaced by the bytes they stand for).
 */
export function followMissing(data: Buffer): { offset: number; streamOffset: number; bytes: number }[] {
  const out: { offset: number; streamOffset: number; bytes: number }[] = [];
  const re = /\[(\d+) bytes missing in capture file\]\0?/g;
  const text = data.toString('latin1');
  let shift = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const bytes = Number(m[1]);
    out.push({ offset: m.index, streamOffset: m.index + shift, bytes });
    shift += bytes - m[0].length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Added for make-h2-fixtures.ts (HTTP/2 and gRPC): more capturer, process and tshark helpers
// ---------------------------------------------------------------------------------------------

/** Packets the kernel dropped, as tcpdump/dumpcap reported on exit (null when they said nothing). */
export function capturerDrops(c: Capturer): number | null {
  const err = c.stderr();
  const m = /(\d+) packets? dropped by kernel/.exec(err) ?? /Packets dropped: (\d+)/.exec(err);
  return m ? Number(m[1]) : null;
}

/** Resolves once something accepts TCP connections on host:port (polls every 100 ms). */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new FixtureError(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Throws a FixtureError when something already listens on host:port. */
export async function assertPortFree(host: string, port: number): Promise<void> {
  const busy = await new Promise<boolean>((res) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
  if (busy) throw new FixtureError(`${host}:${port} is already in use (another fixture run?)`);
}

/** Runs a command to completion; its stdout, or a FixtureError carrying its stderr. */
export async function runTool(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { maxBuffer: 64 << 20, cwd: opts.cwd });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new FixtureError(`\`${cmd} ${args.join(' ')}\` failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** True when `cmd` is on PATH (or is an existing path). */
export async function haveTool(cmd: string): Promise<boolean> {
  try {
    await execFileP('sh', ['-c', `command -v "$1"`, 'sh', cmd]);
    return true;
  } catch {
    return false;
  }
}

/**
 * `tshark -n -r FILE ARGS... -T json --no-duplicate-keys`, parsed: one object per packet, the
 * `_source.layers` of each. Repeated fields come as arrays (see `asArray`).
 */
export async function tsharkJson(file: string, args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await execFileP('tshark', ['-n', '-r', file, ...args, '-T', 'json', '--no-duplicate-keys'], { maxBuffer: 512 << 20 });
  const text = stdout.trim();
  if (text === '') return [];
  const packets = JSON.parse(text) as { _source: { layers: Record<string, unknown> } }[];
  return packets.map((p) => p._source.layers);
}

/** undefined -> [], a value -> [value], an array -> itself (tshark JSON's repeated fields). */
export function asArray<T>(v: T | T[] | undefined | null): T[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}
