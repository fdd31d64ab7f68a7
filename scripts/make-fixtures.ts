/**
 * make-fixtures: produces podcap's HTTP/1 test fixtures from REAL loopback traffic.
 *
 *   npm run fixtures        (= tsc -p . && node dist/scripts/make-fixtures.js; needs root for capturing)
 *
 * It starts real Node servers on 127.0.0.1 (http on 18080 and 18081, a raw net server speaking
 * minimal HTTP/1.0 on 18082), captures loopback with three capturers at once, drives real Node
 * http clients through a fixed scenario, and writes:
 *
 *   fixtures/http1/sample.pcap       tcpdump, classic pcap, microsecond timestamps
 *   fixtures/http1/sample-ns.pcap    tcpdump --time-stamp-precision=nano, classic pcap, nanosecond magic 0xa1b23c4d
 *   fixtures/http1/sample.pcapng     dumpcap, pcapng; its IDB must carry if_tsresol=9 (nanoseconds).
 *                                    (dumpcap asks libpcap for nanosecond stamps when it can; if the
 *                                    file comes out with another resolution, the script falls back to
 *                                    converting sample-ns.pcap with `editcap -F pcapng`, which keeps 9.)
 *   fixtures/http1/expected.json     the exchanges actually made, in order, from the client's view
 *   fixtures/damaged/empty.pcap      0 bytes
 *   fixtures/damaged/notes.pcap      a line of text
 *   fixtures/damaged/cut.pcap        sample.pcap cut in the middle of a packet record's data
 *   fixtures/damaged/cut.json        where cut.pcap was cut (complete records, bytes left over)
 *
 * Then it checks every capture with tshark (requests, responses, client ports, who sent the
 * first FIN) against expected.json and exits non-zero on any mismatch.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Paths and constants
// ---------------------------------------------------------------------------------------------

function findRoot(): string {
  // dist/scripts/make-fixtures.js -> repository root is two levels up.
  const fromScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  if (existsSync(join(fromScript, 'package.json'))) return fromScript;
  return process.cwd();
}

const ROOT = findRoot();
const HTTP1_DIR = join(ROOT, 'fixtures', 'http1');
const DAMAGED_DIR = join(ROOT, 'fixtures', 'damaged');
const PCAP = join(HTTP1_DIR, 'sample.pcap');
const PCAP_NS = join(HTTP1_DIR, 'sample-ns.pcap');
const PCAPNG = join(HTTP1_DIR, 'sample.pcapng');
const EXPECTED = join(HTTP1_DIR, 'expected.json');

const HOST = '127.0.0.1';
const PORT_API = 18080; // service A: orders, payments, ...
const PORT_INVENTORY = 18081; // service B: inventory (answers a 503)
const PORT_LEGACY = 18082; // raw net server: HTTP/1.0, body delimited by closing the connection
const PORTS = [PORT_API, PORT_INVENTORY, PORT_LEGACY];
const BPF = `tcp and host ${HOST} and (${PORTS.map((p) => `port ${p}`).join(' or ')})`;
const DECODE_AS = PORTS.flatMap((p) => ['-d', `tcp.port==${p},http`]);

const rel = (p: string): string => relative(ROOT, p) || p;
const log = (msg: string): void => {
  process.stderr.write(`[fixtures] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FixtureError extends Error {}

// ---------------------------------------------------------------------------------------------
// Capturers
// ---------------------------------------------------------------------------------------------

interface Capturer {
  name: string;
  file: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a capturer and resolves once its stderr says it is capturing (plus a settling delay). */
async function startCapturer(name: string, cmd: string, args: string[], file: string, ready: RegExp): Promise<Capturer> {
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

async function stopCapturer(c: Capturer): Promise<string> {
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

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => res(Buffer.concat(parts)));
    req.on('error', rej);
  });
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length), ...headers });
  res.end(body);
}

const ORDERS = [
  { id: 41, customer: 'c-7', status: 'shipped', total: 4599, currency: 'EUR' },
  { id: 42, customer: 'c-9', status: 'pending', total: 1999, currency: 'EUR' },
  { id: 43, customer: 'c-2', status: 'cancelled', total: 250, currency: 'USD' },
];

async function apiHandler(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${HOST}:${PORT_API}`);
  const body = await readBody(req);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /api/orders':
    case 'HEAD /api/orders': // Node drops the body of a HEAD response but keeps content-length.
      return sendJson(res, 200, { orders: ORDERS, count: ORDERS.length });
    case 'GET /api/orders/42':
      return sendJson(res, 200, ORDERS[1]);
    case 'PUT /api/orders/42': {
      const patch = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      return sendJson(res, 200, { ...ORDERS[1], ...patch, updated: true });
    }
    case 'DELETE /api/orders/42':
      res.writeHead(204);
      return void res.end();
    case 'GET /api/search': {
      const q = url.searchParams.get('q');
      const page = Number(url.searchParams.get('page') ?? '1');
      return sendJson(res, 200, {
        q,
        page,
        results: [
          { sku: 'sku-123', name: 'Trail running shoes', price: 8999 },
          { sku: 'sku-456', name: 'Leather shoes', price: 12900 },
        ],
      });
    }
    case 'POST /api/payments': {
      const p = JSON.parse(body.toString('utf8')) as { amount: number; currency: string };
      return sendJson(res, 201, { id: 'pay_0001', status: 'authorized', amount: p.amount, currency: p.currency }, {
        location: '/api/payments/pay_0001',
      });
    }
    case 'POST /api/payments/charge':
      return sendJson(res, 500, { error: 'card processor timeout' });
    case 'POST /api/login': {
      const form = new URLSearchParams(body.toString('utf8'));
      return sendJson(res, 200, { ok: true, user: form.get('username') }, {
        'set-cookie': 'session=s-2f9c41; Path=/; HttpOnly',
      });
    }
    case 'GET /api/stream': {
      // No content-length: Node answers HTTP/1.1 with transfer-encoding: chunked, one chunk per write.
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (let seq = 1; seq <= 4; seq++) {
        res.write(`${JSON.stringify({ seq, event: 'order.updated', orderId: 40 + seq })}\n`);
        await sleep(40);
      }
      return void res.end();
    }
    case 'GET /api/report': {
      const report = {
        report: 'daily-sales',
        date: '2024-05-01',
        currency: 'EUR',
        rows: Array.from({ length: 8 }, (_, i) => ({
          region: ['north', 'south', 'east', 'west'][i % 4],
          channel: i < 4 ? 'web' : 'store',
          orders: 100 + i * 17,
          revenue: 250000 + i * 12345,
        })),
      };
      const gz = zlib.gzipSync(Buffer.from(JSON.stringify(report)));
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': String(gz.length),
        vary: 'accept-encoding',
      });
      return void res.end(gz);
    }
    case 'POST /api/session/logout':
      // Connection: close makes Node close the connection after this response.
      return sendJson(res, 200, { loggedOut: true }, { connection: 'close' });
    default:
      return sendJson(res, 404, { error: 'not found', path: url.pathname });
  }
}

async function inventoryHandler(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${HOST}:${PORT_INVENTORY}`);
  await readBody(req);
  if (req.method === 'GET' && url.pathname === '/inventory/health') return sendJson(res, 200, { status: 'ok' });
  if (req.method === 'GET' && url.pathname.startsWith('/inventory/stock/')) {
    return sendJson(res, 503, { error: 'inventory backend unavailable' }, { 'retry-after': '5' });
  }
  return sendJson(res, 404, { error: 'not found' });
}

const LEGACY_CSV = [
  'date,region,orders,revenue',
  ...Array.from({ length: 10 }, (_, i) => `2024-05-${String(i + 1).padStart(2, '0')},${['north', 'south'][i % 2]},${120 + i},${30000 + i * 1111}`),
].join('\n') + '\n';

/** A real socket server that speaks minimal HTTP/1.0: no content-length, the body ends when it closes. */
function legacyServer(): net.Server {
  return net.createServer((sock) => {
    let buf = '';
    let answered = false;
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (answered || !buf.includes('\r\n\r\n')) return;
      answered = true;
      const half = Math.floor(LEGACY_CSV.length / 2);
      sock.write('HTTP/1.0 200 OK\r\nServer: legacy-export/0.9\r\nContent-Type: text/csv\r\n\r\n');
      sock.write(LEGACY_CSV.slice(0, half));
      setTimeout(() => {
        sock.write(LEGACY_CSV.slice(half));
        sock.end();
      }, 40);
    });
  });
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((res, rej) => {
    server.once('error', (e) => rej(new FixtureError(`cannot listen on ${HOST}:${port}: ${e.message}`)));
    server.listen(port, HOST, () => res());
  });
}

function closeServer(server: net.Server): Promise<void> {
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

interface Step {
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

const FAKE_JWT = [
  Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ sub: 'user-1001', name: 'Fixture User', iat: 1714521600, exp: 1714525200 })).toString('base64url'),
  Buffer.from('not-a-real-signature-podcap-fixture').toString('base64url'),
].join('.');
const AUTH = { authorization: `Bearer ${FAKE_JWT}`, cookie: 'session=s-2f9c41; theme=dark' };

const socketIds = new WeakMap<net.Socket, number>();
const socketPorts = new Map<number, number>(); // connection id -> client port
let nextSocketId = 1;
let nextRequestId = 1;

function request(step: Step): Promise<Exchange> {
  const requestId = `fx-${String(nextRequestId++).padStart(4, '0')}`;
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
    const req = http.request({ host: HOST, port: step.port, method: step.method, path: target, agent: step.agent, headers });
    req.on('error', (e) => reject(new FixtureError(`${step.method} ${target}: ${e.message}`)));
    req.on('response', (res) => {
      const sock = res.socket as net.Socket;
      let connection = socketIds.get(sock);
      if (connection === undefined) {
        connection = nextSocketId++;
        socketIds.set(sock, connection);
        socketPorts.set(connection, sock.localPort!);
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

async function runTraffic(): Promise<Exchange[]> {
  const servers: net.Server[] = [];
  const api = http.createServer((req, res) => {
    apiHandler(req, res).catch((e: Error) => sendJson(res, 500, { error: `fixture bug: ${e.message}` }));
  });
  const inventory = http.createServer((req, res) => {
    inventoryHandler(req, res).catch((e: Error) => sendJson(res, 500, { error: `fixture bug: ${e.message}` }));
  });
  for (const s of [api, inventory]) {
    s.keepAliveTimeout = 60_000; // never let the server close an idle keep-alive connection mid-run
    s.headersTimeout = 65_000;
  }
  const legacy = legacyServer();
  await listen(api, PORT_API);
  await listen(inventory, PORT_INVENTORY);
  await listen(legacy, PORT_LEGACY);
  servers.push(api, inventory, legacy);
  log(`servers up: api ${HOST}:${PORT_API}, inventory ${HOST}:${PORT_INVENTORY}, legacy (raw HTTP/1.0) ${HOST}:${PORT_LEGACY}`);

  const agent = (): http.Agent => new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ordersAgent = agent();
  const paymentsAgent = agent();
  const inventoryAgent = agent();
  const logoutAgent = agent();
  const legacyAgent = agent();
  const agents = [ordersAgent, paymentsAgent, inventoryAgent, logoutAgent, legacyAgent];

  const json = (v: unknown): { type: string; data: string } => ({ type: 'application/json', data: JSON.stringify(v) });
  const steps: Step[] = [
    // Connection "orders": keep-alive, six exchanges, including a 204 and a HEAD followed by a GET.
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'GET', path: '/api/orders' },
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'GET', path: '/api/orders/42', headers: AUTH },
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'PUT', path: '/api/orders/42', headers: AUTH, body: json({ status: 'paid', note: 'paid by card' }) },
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'DELETE', path: '/api/orders/42', headers: AUTH },
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'HEAD', path: '/api/orders' },
    { group: 'orders', agent: ordersAgent, port: PORT_API, method: 'GET', path: '/api/search', query: 'q=shoes&page=2', headers: AUTH },
    // Connection "payments": keep-alive; JSON POST, a 500, a form POST, chunked, gzip, a 404.
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'POST', path: '/api/payments', headers: AUTH, body: json({ amount: 1999, currency: 'EUR' }) },
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'POST', path: '/api/payments/charge', headers: AUTH, body: json({ paymentId: 'pay_0001', amount: 1999 }) },
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'POST', path: '/api/login', body: { type: 'application/x-www-form-urlencoded', data: new URLSearchParams({ username: 'alice', password: 's3cret pass', remember: 'on' }).toString() } },
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'GET', path: '/api/stream', headers: { accept: 'application/x-ndjson' } },
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'GET', path: '/api/report', headers: { 'accept-encoding': 'gzip' } },
    { group: 'payments', agent: paymentsAgent, port: PORT_API, method: 'GET', path: '/api/missing' },
    // Second service: a 200 then a 503 on one keep-alive connection.
    { group: 'inventory', agent: inventoryAgent, port: PORT_INVENTORY, method: 'GET', path: '/inventory/health' },
    { group: 'inventory', agent: inventoryAgent, port: PORT_INVENTORY, method: 'GET', path: '/inventory/stock/sku-123' },
    // The server answers with Connection: close and closes the connection.
    { group: 'logout', agent: logoutAgent, port: PORT_API, method: 'POST', path: '/api/session/logout', headers: AUTH },
    // Raw HTTP/1.0 server: no content-length, body delimited by the server closing the connection.
    { group: 'legacy', agent: legacyAgent, port: PORT_LEGACY, method: 'GET', path: '/legacy/export.csv', headers: { accept: 'text/csv' } },
  ];

  const exchanges: Exchange[] = [];
  for (const step of steps) {
    const ex = await request(step);
    exchanges.push(ex);
    log(
      `  #${exchanges.length} conn ${ex.connection} :${ex.clientPort} ${ex.method} ${ex.path}${ex.query ? `?${ex.query}` : ''} -> ${ex.status}` +
        ` req ${ex.requestBodySize} B, resp ${ex.responseBodySize} B` +
        `${ex.chunked ? ', chunked' : ''}${ex.contentEncoding ? `, ${ex.contentEncoding}` : ''}${ex.serverClosed ? ', server closed' : ''}`,
    );
  }

  // Connection grouping must be what was intended: same group <=> same TCP connection.
  const groupConn = new Map<string, number>();
  steps.forEach((s, i) => {
    const c = exchanges[i]!.connection;
    const seen = groupConn.get(s.group);
    if (seen !== undefined && seen !== c) throw new FixtureError(`group ${s.group} used connections ${seen} and ${c}`);
    groupConn.set(s.group, c);
  });
  if (new Set(groupConn.values()).size !== groupConn.size) throw new FixtureError('two groups shared a connection');
  const ports = [...socketPorts.values()];
  if (new Set(ports).size !== ports.length) throw new FixtureError(`client port reused across connections: ${ports.join(',')}`);

  // Close cleanly so that every connection's FIN exchange is in the captures: clients first, then servers.
  await sleep(100);
  for (const a of agents) a.destroy();
  await sleep(200);
  await Promise.all(servers.map(closeServer));
  return exchanges;
}

// ---------------------------------------------------------------------------------------------
// Capture file inspection
// ---------------------------------------------------------------------------------------------

/** if_tsresol of every IDB in a pcapng file (6 when the option is absent). */
function pcapngTsResolutions(file: string): number[] {
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

interface PcapRecord {
  offset: number;
  inclLen: number;
}

function pcapRecords(file: string): { magic: number; records: PcapRecord[]; size: number } {
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

async function tshark(file: string, args: string[]): Promise<string[]> {
  const { stdout } = await execFileP('tshark', ['-n', '-r', file, ...DECODE_AS, ...args], { maxBuffer: 64 << 20 });
  return stdout.split('\n').filter((l) => l.length > 0);
}

async function capinfos(args: string[], file: string): Promise<string> {
  try {
    const { stdout } = await execFileP('capinfos', [...args, file]);
    return stdout.trimEnd();
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message;
  }
}

/** Compares one capture with expected.json; returns the problems found. */
async function verifyCapture(file: string, exchanges: Exchange[]): Promise<string[]> {
  const problems: string[] = [];
  const methods = await tshark(file, ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method']);
  log(`${rel(file)}: ${methods.length} http.request packets (expected ${exchanges.length}): ${methods.join(' ')}`);
  if (methods.length !== exchanges.length) problems.push(`${rel(file)}: ${methods.length} requests, expected ${exchanges.length}`);

  const reqs = await tshark(file, ['-Y', 'http.request', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'http.request.method', '-e', 'http.request.uri']);
  const resps = await tshark(file, ['-Y', 'http.response', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.dstport', '-e', 'http.response.code']);
  exchanges.forEach((ex, i) => {
    const want = `${ex.clientPort}|${ex.serverPort}|${ex.method}|${ex.path}${ex.query ? `?${ex.query}` : ''}`;
    if (reqs[i] !== want) problems.push(`${rel(file)}: request #${i + 1} is "${reqs[i]}", expected "${want}"`);
    const wantResp = `${ex.clientPort}|${ex.status}`;
    if (resps[i] !== wantResp) problems.push(`${rel(file)}: response #${i + 1} is "${resps[i]}", expected "${wantResp}"`);
  });
  if (resps.length !== exchanges.length) problems.push(`${rel(file)}: ${resps.length} responses, expected ${exchanges.length}`);

  // Who closed each connection: the first FIN must come from the server exactly where serverClosed is set.
  const fins = await tshark(file, ['-Y', 'tcp.flags.fin==1', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.srcport', '-e', 'tcp.dstport']);
  const firstFinFromServer = new Map<number, boolean>();
  for (const line of fins) {
    const [src, dst] = line.split('|').map(Number) as [number, number];
    const fromServer = PORTS.includes(src);
    const client = fromServer ? dst : src;
    if (!firstFinFromServer.has(client)) firstFinFromServer.set(client, fromServer);
  }
  const conns = new Map<number, Exchange[]>();
  for (const ex of exchanges) conns.set(ex.connection, [...(conns.get(ex.connection) ?? []), ex]);
  for (const [id, list] of conns) {
    const port = list[0]!.clientPort;
    const serverClosed = list.some((e) => e.serverClosed);
    if (serverClosed && list[list.length - 1]!.serverClosed !== true) problems.push(`connection ${id}: serverClosed set on a non-final exchange`);
    const got = firstFinFromServer.get(port);
    if (got === undefined) problems.push(`${rel(file)}: connection ${id} (:${port}) has no FIN in the capture`);
    else if (got !== serverClosed) problems.push(`${rel(file)}: connection ${id} (:${port}) first FIN from ${got ? 'server' : 'client'}, serverClosed=${serverClosed}`);
  }
  const tcpStreams = await tshark(file, ['-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'tcp.srcport']);
  if (tcpStreams.length !== conns.size) problems.push(`${rel(file)}: ${tcpStreams.length} SYNs, expected ${conns.size} connections`);
  return problems;
}

/** How many timestamps have non-zero digits below the microsecond. */
async function subMicroStamps(file: string): Promise<{ total: number; sub: number; sample: string[] }> {
  const ts = await tshark(file, ['-T', 'fields', '-e', 'frame.time_epoch']);
  // tshark prints 9 fraction digits; microsecond stamps always end in 000.
  const sub = ts.filter((t) => /\.\d{9}$/.test(t) && !t.endsWith('000')).length;
  return { total: ts.length, sub, sample: ts.slice(0, 3) };
}

// ---------------------------------------------------------------------------------------------
// Damaged inputs
// ---------------------------------------------------------------------------------------------

function makeDamaged(): void {
  mkdirSync(DAMAGED_DIR, { recursive: true });
  writeFileSync(join(DAMAGED_DIR, 'empty.pcap'), Buffer.alloc(0));
  writeFileSync(join(DAMAGED_DIR, 'notes.pcap'), 'These are my notes from the incident call, not a capture file.\n');

  const { records, size } = pcapRecords(PCAP);
  const target = Math.floor(size * 0.6);
  const idx = records.findIndex((r) => r.offset <= target && target < r.offset + 16 + r.inclLen);
  if (idx < 0) throw new FixtureError('cannot find the record at 60% of sample.pcap');
  const rec = records[idx]!;
  if (rec.inclLen < 2) throw new FixtureError('record at 60% is too small to cut inside');
  // Cut in the middle of the record's packet data: the record header is complete, its data is not.
  const cutAt = rec.offset + 16 + Math.floor(rec.inclLen / 2);
  const data = readFileSync(PCAP).subarray(0, cutAt);
  writeFileSync(join(DAMAGED_DIR, 'cut.pcap'), data);
  const info = {
    source: 'fixtures/http1/sample.pcap',
    sourceBytes: size,
    bytes: cutAt,
    completeRecords: idx,
    partialRecordOffset: rec.offset,
    partialRecordLength: 16 + rec.inclLen,
    truncatedBytes: cutAt - rec.offset,
  };
  writeFileSync(join(DAMAGED_DIR, 'cut.json'), `${JSON.stringify(info, null, 2)}\n`);
  log(
    `damaged: empty.pcap (0 B), notes.pcap, cut.pcap (${cutAt} of ${size} B: ${idx} complete records, ` +
      `then ${cutAt - rec.offset} of the ${16 + rec.inclLen} bytes of record #${idx + 1} at offset ${rec.offset})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  mkdirSync(HTTP1_DIR, { recursive: true });
  for (const f of [PCAP, PCAP_NS, PCAPNG, EXPECTED]) rmSync(f, { force: true });

  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];
  const tcpdumpArgs = (file: string, extra: string[]): string[] =>
    ['-i', 'lo', '-U', '--immediate-mode', '-s', '0', ...asRoot, ...extra, '-w', file, BPF];
  const capturers: Capturer[] = [];
  try {
    capturers.push(await startCapturer('tcpdump', 'tcpdump', tcpdumpArgs(PCAP, []), PCAP, /listening on/));
    capturers.push(await startCapturer('tcpdump-ns', 'tcpdump', tcpdumpArgs(PCAP_NS, ['--time-stamp-precision=nano']), PCAP_NS, /listening on/));
    capturers.push(await startCapturer('dumpcap', 'dumpcap', ['-i', 'lo', '-f', BPF, '-s', '262144', '-w', PCAPNG], PCAPNG, /File: /));
    await sleep(700); // let the capturers settle after announcing themselves

    const exchanges = await runTraffic();
    await sleep(700); // let the last FINs/ACKs reach every capturer
    for (const c of capturers.splice(0)) {
      const n = await stopCapturer(c);
      log(`stopped ${c.name}: ${n} packets captured -> ${rel(c.file)}`);
    }

    for (const c of [PCAP, PCAP_NS, PCAPNG]) chmodSync(c, 0o644); // dumpcap creates its file 0600

    writeFileSync(EXPECTED, `${JSON.stringify(exchanges, null, 2)}\n`);
    log(`wrote ${rel(EXPECTED)}: ${exchanges.length} exchanges on ${new Set(exchanges.map((e) => e.connection)).size} connections`);

    // Nanosecond timestamps in the pcapng.
    let resolutions = pcapngTsResolutions(PCAPNG);
    if (!resolutions.every((r) => r === 9)) {
      log(`dumpcap wrote if_tsresol=${resolutions.join(',')}; falling back to editcap -F pcapng ${rel(PCAP_NS)} ${rel(PCAPNG)}`);
      await execFileP('editcap', ['-F', 'pcapng', PCAP_NS, PCAPNG]);
      resolutions = pcapngTsResolutions(PCAPNG);
      if (!resolutions.every((r) => r === 9)) throw new FixtureError(`sample.pcapng still has if_tsresol=${resolutions.join(',')}`);
    }
    log(`${rel(PCAPNG)}: IDB if_tsresol=${resolutions.join(',')} (nanoseconds)`);
    const nsMagic = pcapRecords(PCAP_NS).magic;
    if (nsMagic !== 0xa1b23c4d) throw new FixtureError(`${rel(PCAP_NS)} magic 0x${nsMagic.toString(16)}, expected 0xa1b23c4d`);

    const problems: string[] = [];
    const counts = new Map<string, number>();
    for (const f of [PCAP, PCAP_NS, PCAPNG]) {
      problems.push(...(await verifyCapture(f, exchanges)));
      const s = await subMicroStamps(f);
      counts.set(f, s.total);
      log(`${rel(f)}: ${s.total} frames, ${s.sub} with non-zero sub-microsecond digits (first: ${s.sample.join(', ')})`);
      if (f !== PCAP && s.sub < s.total / 2) problems.push(`${rel(f)}: nanosecond digits look fake (${s.sub}/${s.total})`);
      if (f === PCAP && s.sub !== 0) problems.push(`${rel(f)}: microsecond file has sub-microsecond digits`);
      log(`capinfos ${rel(f)}:\n${await capinfos(['-t', '-E', '-c', '-s', '-u', '-a', '-e', '-l', '-F'], f)}`);
    }
    if (new Set(counts.values()).size !== 1) problems.push(`frame counts differ between captures: ${[...counts.values()].join(', ')}`);
    const kb = [PCAP, PCAP_NS, PCAPNG].map((f) => readFileSync(f).length);
    if (kb.some((n) => n > 200 * 1024)) problems.push(`captures too large: ${kb.join(', ')} bytes`);

    makeDamaged();
    log(`capinfos ${rel(join(DAMAGED_DIR, 'cut.pcap'))}: ${(await capinfos(['-c'], join(DAMAGED_DIR, 'cut.pcap'))).replace(/\s+/g, ' ')}`);

    if (problems.length > 0) {
      for (const p of problems) log(`MISMATCH ${p}`);
      process.exitCode = 1;
      return;
    }
    log('all captures agree with expected.json');
  } finally {
    for (const c of capturers) c.proc.kill('SIGKILL');
  }
}

main().catch((e: unknown) => {
  log(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
