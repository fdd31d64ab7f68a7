/**
 * fixture-lib: what the fixture scripts (make-fixtures.ts, make-layout-fixtures.ts) share.
 *
 *   paths and logging        ROOT, rel, log (prefix set with setLogPrefix), sleep, FixtureError
 *   capturers                startCapturer / stopCapturer: tcpdump or dumpcap as child processes
 *   HTTP servers             readBody, sendJson, listen, closeServer
 *   HTTP client              ExchangeClient: real Node http requests that record what the client saw
 *   capture inspection       tsharkLines, capinfos, pcapngTsResolutions, pcapRecords
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
