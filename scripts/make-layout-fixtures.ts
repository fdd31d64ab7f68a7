/**
 * make-layout-fixtures: podcap's file-layout and capture-situation fixtures, from REAL traffic.
 *
 *   npm run build && node dist/scripts/make-layout-fixtures.js     (as root: captures, network namespaces)
 *
 * Part 1, fixtures/layouts/: ONE set of HTTP exchanges (6 requests over 2 keep-alive connections on
 * 127.0.0.1:18090: GETs, POSTs with JSON bodies, a 500, a 5 KB response) captured at once by tcpdump
 * on lo, dumpcap on lo and dumpcap on `any`, then laid out the ways a cluster export brings them:
 *
 *   exchange.pcap              tcpdump -i lo, classic pcap (µs), Ethernet
 *   exchange.pcapng            dumpcap -i lo, pcapng (ns), Ethernet
 *   exchange.pcap.gz           `gzip -9 -c exchange.pcap` (the gzip header keeps the name "exchange.pcap")
 *   exchange-gz-named.pcap     exchange.pcap gzipped (zlib, no name in the header) but NOT named .gz
 *   exchange-sll2.pcapng       dumpcap -i any, Linux cooked v2 (LINUX_SLL2) headers
 *   exchange-midstream.pcap    exchange.pcap from just before the 2nd request on: connection 1's
 *                              handshake and first exchange are gone, its later requests must be found
 *   snapshot/                  README.txt, node-a/capture.pcap (tcpdump's packets before the split
 *                              time), node-b/capture.pcapng (dumpcap's packets from it on): every
 *                              packet once, both connections run across the split
 *   snapshot.tar, snapshot.tar.gz   that directory as GNU tar (README.txt, node-a/, node-b/)
 *   expected.json              the exchanges and, per file, which of them it yields
 *
 * Part 2, fixtures/nodes/: two network namespaces (podcap-client, podcap-server) joined by a veth
 * pair (eth0 in each), pod addresses 10.244.1.10 and 10.244.2.20 routed directly, node addresses
 * 192.168.50.11/12, and a VXLAN overlay (vxlan0, VNI 42, UDP 4789, pod-overlay addresses 10.42.1.10
 * and 10.42.2.20) over the node addresses. The server runs in podcap-server, the client in
 * podcap-client (both are this script, started with `ip netns exec NS node ... serve|client`).
 *
 *   node-client.pcap           tcpdump on eth0 in podcap-client (the client "node")
 *   node-server.pcapng         dumpcap on eth0 in podcap-server (the server "node"), at the same time:
 *                              the same connections, same sequence numbers, a few µs apart
 *   vxlan-underlay.pcap        tcpdump on eth0 in podcap-client, `udp port 4789`, while the client
 *                              talks to the server over the overlay: VXLAN-encapsulated HTTP
 *   expected.json              topology, exchanges, per-file contents, what deduplication must give
 *
 * If the namespaces cannot be made, it says what failed and falls back to one loopback exchange
 * captured twice (tcpdump + dumpcap on lo) as the two nodes, without the VXLAN file.
 *
 * Every file is then checked with tshark (requests, request ids, client ports, responses, packet
 * identity between captures, link types) and the script exits non-zero on any mismatch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import {
  capinfos,
  closeServer,
  type Capturer,
  type Exchange,
  ExchangeClient,
  execFileP,
  FixtureError,
  listen,
  log,
  pcapngTsResolutions,
  pcapRecords,
  readBody,
  rel,
  ROOT,
  sendJson,
  setLogPrefix,
  sleep,
  startCapturer,
  type Step,
  stopCapturer,
  tsharkLines,
} from './fixture-lib.js';

const SELF = fileURLToPath(import.meta.url);
const LAYOUTS_DIR = join(ROOT, 'fixtures', 'layouts');
const NODES_DIR = join(ROOT, 'fixtures', 'nodes');
const GENERATED_BY = 'scripts/make-layout-fixtures.ts';

const LO_HOST = '127.0.0.1';
const LAYOUT_PORT = 18090; // not one of make-fixtures.ts's 18080-18082, so both can run at once
const NODE_PORT = 8080; // inside the namespaces
const FALLBACK_PORT = 18091; // nodes fallback on the host's loopback

const MAX_FILE_BYTES = 100 * 1024;

setLogPrefix('layout-fixtures');

// ---------------------------------------------------------------------------------------------
// The service: a small shop API, used by every part
// ---------------------------------------------------------------------------------------------

const CATALOG = Array.from({ length: 12 }, (_, i) => ({
  sku: `sku-${100 + i}`,
  name: ['Trail shoes', 'Rain jacket', 'Wool socks', 'Headlamp'][i % 4] + ` ${Math.floor(i / 4) + 1}`,
  price: 1299 + i * 250,
  currency: 'EUR',
}));

async function shopHandler(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://shop.local');
  const body = await readBody(req);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /api/catalog': {
      const page = Number(url.searchParams.get('page') ?? '1');
      const items = CATALOG.slice((page - 1) * 6, page * 6);
      return sendJson(res, 200, { page, pages: 2, items });
    }
    case 'POST /api/cart': {
      const item = JSON.parse(body.toString('utf8')) as { sku: string; qty: number };
      return sendJson(res, 201, { cartId: 'c-1001', items: [item], total: 1299 * item.qty }, { location: '/api/cart/c-1001' });
    }
    case 'GET /api/cart/c-1001':
      return sendJson(res, 200, { cartId: 'c-1001', items: [{ sku: 'sku-100', qty: 2 }], total: 2598, currency: 'EUR' });
    case 'POST /api/checkout': {
      const p = JSON.parse(body.toString('utf8')) as { cartId: string };
      return sendJson(res, 500, { error: 'payment gateway timeout', cartId: p.cartId, retryable: true });
    }
    case 'GET /api/report': {
      // About 5 KB: several segments on a 1500-byte MTU.
      const rows = Array.from({ length: 60 }, (_, i) => ({
        day: `2024-05-${String((i % 30) + 1).padStart(2, '0')}`,
        region: ['north', 'south', 'east', 'west'][i % 4],
        orders: 100 + ((i * 37) % 91),
        revenue: 250000 + i * 12345,
      }));
      return sendJson(res, 200, { report: 'daily-sales', rows });
    }
    default:
      return sendJson(res, 404, { error: 'not found', path: url.pathname });
  }
}

function shopServer(): http.Server {
  const s = http.createServer((req, res) => {
    shopHandler(req, res).catch((e: Error) => sendJson(res, 500, { error: `fixture bug: ${e.message}` }));
  });
  s.keepAliveTimeout = 60_000; // never let the server close an idle keep-alive connection mid-run
  s.headersTimeout = 65_000;
  return s;
}

/** The exchanges, in order. Connection A is opened first (connection 1), B second (connection 2). */
interface PlanStep {
  conn: 'A' | 'B';
  method: string;
  path: string;
  query?: string;
  body?: unknown;
}
const PLAN: PlanStep[] = [
  { conn: 'A', method: 'GET', path: '/api/catalog' },
  { conn: 'A', method: 'POST', path: '/api/cart', body: { sku: 'sku-100', qty: 2 } },
  { conn: 'B', method: 'GET', path: '/api/cart/c-1001' },
  { conn: 'A', method: 'POST', path: '/api/checkout', body: { cartId: 'c-1001', card: 'tok_visa_4242', amount: 2598 } },
  { conn: 'B', method: 'GET', path: '/api/catalog', query: 'page=2' },
  { conn: 'A', method: 'GET', path: '/api/report' },
];
/** Layout cuts, as indexes into PLAN: the midstream file starts before this request ... */
const MIDSTREAM_FROM = 1;
/** ... and the snapshot's node-b file holds everything from this request on. */
const SPLIT_FROM = 3;

/** Runs PLAN against host:port with real keep-alive clients; a pause of gapMs between exchanges. */
async function runPlan(host: string, port: number, idPrefix: string, gapMs: number): Promise<Exchange[]> {
  const client = new ExchangeClient(host, idPrefix);
  const agents = { A: new http.Agent({ keepAlive: true, maxSockets: 1 }), B: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const steps: Step[] = PLAN.map((p) => ({
    group: p.conn,
    agent: agents[p.conn],
    port,
    method: p.method,
    path: p.path,
    ...(p.query ? { query: p.query } : {}),
    ...(p.body !== undefined ? { body: { type: 'application/json', data: JSON.stringify(p.body) } } : {}),
  }));
  const exchanges: Exchange[] = [];
  for (const step of steps) {
    if (exchanges.length > 0) await sleep(gapMs);
    const ex = await client.request(step);
    exchanges.push(ex);
    log(`  ${ex.requestId} conn ${ex.connection} :${ex.clientPort} ${ex.method} ${ex.path}${ex.query ? `?${ex.query}` : ''} -> ${ex.status}, req ${ex.requestBodySize} B, resp ${ex.responseBodySize} B`);
  }
  // Same group <=> same TCP connection; A must be connection 1.
  steps.forEach((s, i) => {
    const want = s.group === 'A' ? 1 : 2;
    if (exchanges[i]!.connection !== want) throw new FixtureError(`${exchanges[i]!.requestId}: connection ${exchanges[i]!.connection}, expected ${want}`);
  });
  const ports = [...client.socketPorts.values()];
  if (ports.length !== 2 || new Set(ports).size !== 2) throw new FixtureError(`expected 2 distinct client ports, got ${ports.join(',')}`);
  // The client closes both connections, so their FIN exchanges are in the captures.
  await sleep(gapMs);
  agents.A.destroy();
  agents.B.destroy();
  await sleep(200);
  return exchanges;
}

// ---------------------------------------------------------------------------------------------
// Child modes: `serve` and `client`, run inside the namespaces with `ip netns exec`
// ---------------------------------------------------------------------------------------------

function arg(args: string[], name: string): string {
  const i = args.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= args.length) throw new FixtureError(`missing --${name}`);
  return args[i + 1]!;
}

/** `serve --host H --port P`: prints "listening" on stdout, serves until stdin closes. */
async function serveMode(args: string[]): Promise<void> {
  setLogPrefix('layout-fixtures:server');
  const host = arg(args, 'host');
  const port = Number(arg(args, 'port'));
  const server = shopServer();
  await listen(server, port, host);
  process.stdout.write(`listening ${host}:${port}\n`);
  process.stdin.resume();
  await new Promise<void>((res) => process.stdin.on('close', () => res()).on('end', () => res()));
  server.closeAllConnections();
  await closeServer(server);
}

/** `client --host H --port P --id-prefix X --gap MS`: runs PLAN, prints the exchanges as JSON. */
async function clientMode(args: string[]): Promise<void> {
  setLogPrefix('layout-fixtures:client');
  const exchanges = await runPlan(arg(args, 'host'), Number(arg(args, 'port')), arg(args, 'id-prefix'), Number(arg(args, 'gap')));
  process.stdout.write(`${JSON.stringify(exchanges)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new FixtureError(`\`${cmd} ${args.join(' ')}\` failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** A command prefix that runs in a namespace (or on the host, for the fallback). */
const inNs = (ns: string | null, cmd: string, args: string[]): [string, string[]] =>
  ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];

interface Served {
  proc: ChildProcess;
  stop: () => Promise<void>;
}

async function startServerChild(ns: string | null, host: string, port: number): Promise<Served> {
  const [cmd, args] = inNs(ns, process.execPath, [SELF, 'serve', '--host', host, '--port', String(port)]);
  log(`start server: ${cmd} ${args.join(' ')}`);
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new FixtureError('server child not listening after 10 s')), 10_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('listening')) {
        clearTimeout(timer);
        res();
      }
    });
    proc.on('error', (e) => rej(new FixtureError(`server child: ${e.message}`)));
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new FixtureError(`server child exited (code ${code}) before listening`));
    });
  });
  return {
    proc,
    stop: async () => {
      proc.stdin!.end();
      const r = await Promise.race([exited, sleep(5000).then(() => 'timeout' as const)]);
      if (r === 'timeout') {
        proc.kill('SIGKILL');
        throw new FixtureError('server child did not exit within 5 s');
      }
    },
  };
}

async function runClientChild(ns: string | null, host: string, port: number, idPrefix: string, gapMs: number): Promise<Exchange[]> {
  const [cmd, args] = inNs(ns, process.execPath, [SELF, 'client', '--host', host, '--port', String(port), '--id-prefix', idPrefix, '--gap', String(gapMs)]);
  log(`run client: ${cmd} ${args.join(' ')}`);
  const stdout = await new Promise<string>((res, rej) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.on('error', (e) => rej(new FixtureError(`client child: ${e.message}`)));
    proc.on('exit', (code) => (code === 0 ? res(out) : rej(new FixtureError(`client child exited with code ${code}`))));
  });
  return JSON.parse(stdout) as Exchange[];
}

// ---------------------------------------------------------------------------------------------
// Reading captures back with tshark
// ---------------------------------------------------------------------------------------------

interface SeenRequest {
  frame: number;
  timeNs: bigint;
  srcPort: number;
  dstPort: number;
  method: string;
  uri: string;
  requestId: string;
}

interface SeenResponse {
  frame: number;
  clientPort: number;
  status: number;
}

const decodeHttp = (port: number): string[] => ['-d', `tcp.port==${port},http`];

function parseEpochNs(s: string): bigint {
  const [sec, frac = ''] = s.trim().split('.');
  return BigInt(sec!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}
function formatEpochNs(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}
function isoNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...T..:..:..mmmZ
  return `${iso.slice(0, -1)}${String(ns % 1_000_000n).padStart(6, '0')}Z`;
}

async function requestsIn(file: string, decodeAs: string[]): Promise<SeenRequest[]> {
  const lines = await tsharkLines(file, [...decodeAs, '-Y', 'http.request', '-T', 'fields', '-E', 'separator=|',
    '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.request.line']);
  return lines.map((l) => {
    const [frame, time, src, dst, method, uri, ...rest] = l.split('|');
    const id = /x-request-id:\s*([A-Za-z0-9-]+)/i.exec(rest.join('|'));
    return { frame: Number(frame), timeNs: parseEpochNs(time!), srcPort: Number(src), dstPort: Number(dst), method: method!, uri: uri!, requestId: id ? id[1]! : '?' };
  });
}

async function responsesIn(file: string, decodeAs: string[]): Promise<SeenResponse[]> {
  const lines = await tsharkLines(file, [...decodeAs, '-Y', 'http.response', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'tcp.dstport', '-e', 'http.response.code']);
  return lines.map((l) => {
    const [frame, dst, code] = l.split('|');
    return { frame: Number(frame), clientPort: Number(dst), status: Number(code) };
  });
}

interface Frame {
  timeNs: bigint;
  /** What identifies the packet across captures and link types: IP and TCP header fields. */
  sig: string;
  tcpFlags: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  len: number;
}

async function framesIn(file: string): Promise<Frame[]> {
  const lines = await tsharkLines(file, ['-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ip.id', '-e', 'ip.len',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.seq_raw', '-e', 'tcp.ack_raw', '-e', 'tcp.len', '-e', 'tcp.flags']);
  return lines.map((l) => {
    const [time, ...rest] = l.split('|');
    return {
      timeNs: parseEpochNs(time!),
      sig: rest.join('|'),
      tcpFlags: Number(rest[9]),
      srcPort: Number(rest[4]),
      dstPort: Number(rest[5]),
      seq: Number(rest[6]),
      len: Number(rest[8]),
    };
  });
}

/** "Ethernet", "Linux cooked-mode capture v2", ... */
async function encapsulation(file: string): Promise<string> {
  const out = await capinfos(['-E'], file);
  return /File encapsulation:\s*(.+)/.exec(out)?.[1]?.trim() ?? out;
}
const LINKTYPE_NAMES: Record<string, string> = {
  Ethernet: 'EN10MB',
  'Linux cooked-mode capture v1': 'LINUX_SLL',
  'Linux cooked-mode capture v2': 'LINUX_SLL2',
};

interface CaptureDescription {
  format: string;
  compression: string | null;
  linkType: string;
  timestampPrecision: string;
  packets: number;
  bytes: number;
  largestFrame: number;
  /** TCP checksums as tshark sees them: locally captured traffic carries offloaded (unfilled) ones. */
  tcpChecksums: { good: number; bad: number };
}

/** What a capture file is (after gunzip, for a gzip file), and checks that its name says the same. */
async function describeCapture(label: string, file: string): Promise<CaptureDescription> {
  let b = readFileSync(file);
  const bytes = b.length;
  let compression: string | null = null;
  let inner = file;
  let tmp: string | null = null;
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) {
    compression = 'gzip';
    b = zlib.gunzipSync(b);
    tmp = mkdtempSync(join(tmpdir(), 'podcap-gunzip-'));
    inner = join(tmp, 'inner');
    writeFileSync(inner, b);
  }
  try {
    let format: string;
    let precision: string;
    if (b.readUInt32LE(0) === 0x0a0d0d0a) {
      format = 'pcapng';
      const res = pcapngTsResolutions(inner);
      precision = res.every((r) => r === 9) ? 'nanoseconds' : res.every((r) => r === 6) ? 'microseconds' : `if_tsresol ${res.join(',')}`;
    } else {
      const { magic } = pcapRecords(inner);
      format = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d ? 'pcap' : `unknown (magic 0x${magic.toString(16)})`;
      precision = magic === 0xa1b23c4d ? 'nanoseconds' : magic === 0xa1b2c3d4 ? 'microseconds' : '?';
    }
    const enc = await encapsulation(inner);
    const packets = Number(/Number of packets:\s*(\d+)/.exec(await capinfos(['-c'], inner))?.[1] ?? NaN);
    const sums = await tsharkLines(inner, ['-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.len', '-e', 'tcp.checksum.status']);
    const largestFrame = Math.max(...sums.map((l) => Number(l.split('|')[0])));
    const tcpChecksums = { good: sums.filter((l) => l.split('|')[1] === '1').length, bad: sums.filter((l) => l.split('|')[1] === '0').length };
    const named = /\.pcapng$/.test(label) ? 'pcapng' : /\.pcap(\.gz)?$/.test(label) ? 'pcap' : null;
    if (named) check(format === named, `${label}: the file is ${format}, its name says ${named}`);
    check(compression === (/\.gz$/.test(label) || label.includes('gz-named') ? 'gzip' : null), `${label}: compression ${compression}`);
    return { format, compression, linkType: LINKTYPE_NAMES[enc] ?? enc, timestampPrecision: precision, packets, bytes, largestFrame, tcpChecksums };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

const problems: string[] = [];
function check(ok: boolean, msg: string): void {
  if (!ok) {
    problems.push(msg);
    log(`MISMATCH ${msg}`);
  }
}

/**
 * Checks that `file` holds exactly the requests `want` (in order: request ids, methods, URIs, client
 * ports) and their responses (statuses, in order). Returns the request ids tshark found.
 */
async function verifyExchanges(label: string, file: string, decodeAs: string[], want: Exchange[]): Promise<string[]> {
  const reqs = await requestsIn(file, decodeAs);
  const resps = await responsesIn(file, decodeAs);
  log(`${label}: tshark ${decodeAs.join(' ')} -Y http.request -> ${reqs.length} requests (expected ${want.length}): ${reqs.map((r) => `${r.requestId} ${r.method} ${r.uri}`).join(', ')}`);
  log(`${label}: tshark -Y http.response -> ${resps.length} responses (expected ${want.length}): ${resps.map((r) => r.status).join(' ')}`);
  check(reqs.length === want.length, `${label}: ${reqs.length} requests, expected ${want.length}`);
  check(resps.length === want.length, `${label}: ${resps.length} responses, expected ${want.length}`);
  want.forEach((ex, i) => {
    const r = reqs[i];
    const uri = ex.query ? `${ex.path}?${ex.query}` : ex.path;
    const got = r ? `${r.requestId} ${r.method} ${r.uri} :${r.srcPort}->${r.dstPort}` : 'nothing';
    const exp = `${ex.requestId} ${ex.method} ${uri} :${ex.clientPort}->${ex.serverPort}`;
    check(got === exp, `${label}: request #${i + 1} is "${got}", expected "${exp}"`);
    const s = resps[i];
    const gotResp = s ? `:${s.clientPort} ${s.status}` : 'nothing';
    check(gotResp === `:${ex.clientPort} ${ex.status}`, `${label}: response #${i + 1} is "${gotResp}", expected ":${ex.clientPort} ${ex.status}"`);
  });
  return reqs.map((r) => r.requestId);
}

function checkSize(label: string, file: string): number {
  const n = statSync(file).size;
  check(n > 0 && n <= MAX_FILE_BYTES, `${label}: ${n} bytes (must be 1..${MAX_FILE_BYTES})`);
  return n;
}

/** Same packets (IP/TCP header fields), in the same order. */
function sameFrames(labelA: string, a: Frame[], labelB: string, b: Frame[]): void {
  const sa = a.map((f) => f.sig).join('\n');
  const sb = b.map((f) => f.sig).join('\n');
  check(a.length === b.length && sa === sb, `${labelA} (${a.length} frames) and ${labelB} (${b.length} frames) do not hold the same packets`);
}

/**
 * The time to cut at so that the request at `frame` and everything after it are kept: the middle
 * of the quiet gap before the burst of packets that carries it (the runs pause between exchanges).
 */
function cutBefore(frames: Frame[], frame: number): { cutNs: bigint; gapMs: number; lastBefore: number } {
  let j = frame - 1; // frame numbers are 1-based
  while (j > 0 && frames[j]!.timeNs - frames[j - 1]!.timeNs < 50_000_000n) j--;
  if (j === 0) throw new FixtureError(`no quiet gap before frame ${frame}`);
  const a = frames[j - 1]!.timeNs;
  const b = frames[j]!.timeNs;
  return { cutNs: a + (b - a) / 2n, gapMs: Number(b - a) / 1e6, lastBefore: j };
}

// ---------------------------------------------------------------------------------------------
// Part 1: fixtures/layouts
// ---------------------------------------------------------------------------------------------

interface FileEntry {
  [k: string]: unknown;
}

async function makeLayouts(): Promise<void> {
  log('=== part 1: fixtures/layouts ===');
  rmSync(LAYOUTS_DIR, { recursive: true, force: true });
  mkdirSync(LAYOUTS_DIR, { recursive: true });
  const L = (name: string): string => join(LAYOUTS_DIR, name);
  const PCAP = L('exchange.pcap');
  const PCAPNG = L('exchange.pcapng');
  const SLL2 = L('exchange-sll2.pcapng');
  const decode = decodeHttp(LAYOUT_PORT);
  const bpf = `tcp and host ${LO_HOST} and port ${LAYOUT_PORT}`;

  // Does dumpcap -i any give Linux cooked v2 by itself? (libpcap 1.10 defaults to v1.)
  const probeDir = mkdtempSync(join(tmpdir(), 'podcap-probe-'));
  const probe = join(probeDir, 'any.pcapng');
  await run('dumpcap', ['-q', '-i', 'any', '-f', 'tcp port 1', '-a', 'duration:1', '-w', probe]);
  const anyDefault = LINKTYPE_NAMES[await encapsulation(probe)] ?? (await encapsulation(probe));
  rmSync(probeDir, { recursive: true, force: true });
  const sllArgs = anyDefault === 'LINUX_SLL2' ? [] : ['-y', 'LINUX_SLL2'];
  log(`dumpcap -i any without -y writes ${anyDefault}; ${sllArgs.length ? 'asking for -y LINUX_SLL2' : 'keeping the default'}`);

  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];
  const capturers: Capturer[] = [];
  const server = shopServer();
  let exchanges: Exchange[];
  try {
    capturers.push(await startCapturer('tcpdump lo', 'tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-s', '0', ...asRoot, '-w', PCAP, bpf], PCAP, /listening on/));
    capturers.push(await startCapturer('dumpcap lo', 'dumpcap', ['-i', 'lo', '-f', bpf, '-s', '262144', '-w', PCAPNG], PCAPNG, /File: /));
    capturers.push(await startCapturer('dumpcap any', 'dumpcap', ['-i', 'any', ...sllArgs, '-f', bpf, '-s', '262144', '-w', SLL2], SLL2, /File: /));
    await sleep(700);
    await listen(server, LAYOUT_PORT, LO_HOST);
    log(`server up on ${LO_HOST}:${LAYOUT_PORT}`);
    exchanges = await runPlan(LO_HOST, LAYOUT_PORT, 'lx', 250);
    await closeServer(server);
    await sleep(700);
    for (const c of capturers.splice(0)) log(`stopped ${c.name}: ${await stopCapturer(c)} packets captured -> ${rel(c.file)}`);
  } finally {
    for (const c of capturers) c.proc.kill('SIGKILL');
    server.close();
  }
  for (const f of [PCAP, PCAPNG, SLL2]) chmodSync(f, 0o644);
  const ids = (list: Exchange[]): string[] => list.map((e) => e.requestId);

  // The three captures of the one run must hold the same packets.
  const frames = await framesIn(PCAP);
  sameFrames('exchange.pcap', frames, 'exchange.pcapng', await framesIn(PCAPNG));
  sameFrames('exchange.pcap', frames, 'exchange-sll2.pcapng', await framesIn(SLL2));
  const seen = await requestsIn(PCAP, decode);
  const reqFrame = (i: number): number => {
    const r = seen.find((s) => s.requestId === exchanges[i]!.requestId);
    if (!r) throw new FixtureError(`request ${exchanges[i]!.requestId} not found in exchange.pcap`);
    return r.frame;
  };

  // exchange-midstream.pcap: from the gap before the 2nd request on.
  const mid = cutBefore(frames, reqFrame(MIDSTREAM_FROM));
  const MID = L('exchange-midstream.pcap');
  await run('editcap', ['-F', 'pcap', '-A', formatEpochNs(mid.cutNs), PCAP, MID]);
  log(`midstream cut at ${isoNs(mid.cutNs)} (gap ${mid.gapMs.toFixed(1)} ms): drops frames 1-${mid.lastBefore} of ${frames.length}`);

  // The snapshot: node-a before the split (from tcpdump's pcap), node-b from it on (dumpcap's pcapng).
  const split = cutBefore(frames, reqFrame(SPLIT_FROM));
  const SNAP = L('snapshot');
  mkdirSync(join(SNAP, 'node-a'), { recursive: true });
  mkdirSync(join(SNAP, 'node-b'), { recursive: true });
  const NODE_A = join(SNAP, 'node-a', 'capture.pcap');
  const NODE_B = join(SNAP, 'node-b', 'capture.pcapng');
  await run('editcap', ['-F', 'pcap', '-B', formatEpochNs(split.cutNs), PCAP, NODE_A]);
  await run('editcap', ['-F', 'pcapng', '-A', formatEpochNs(split.cutNs), PCAPNG, NODE_B]);
  log(`snapshot split at ${isoNs(split.cutNs)} (gap ${split.gapMs.toFixed(1)} ms): node-a frames 1-${split.lastBefore}, node-b ${split.lastBefore + 1}-${frames.length}`);
  const before = exchanges.slice(0, SPLIT_FROM);
  const after = exchanges.slice(SPLIT_FROM);
  writeFileSync(join(SNAP, 'README.txt'), [
    'podcap layout fixture: a two-node snapshot export (made by scripts/make-layout-fixtures.ts).',
    '',
    `node-a/capture.pcap     tcpdump -i lo, classic pcap (microseconds): every packet before ${isoNs(split.cutNs)}`,
    `                        (requests ${ids(before).join(', ')})`,
    `node-b/capture.pcapng   dumpcap -i lo, pcapng (nanoseconds): every packet from ${isoNs(split.cutNs)} on`,
    `                        (requests ${ids(after).join(', ')})`,
    '',
    'Both files were cut (editcap -B / -A) out of ONE capture of ONE run of HTTP exchanges, so',
    'together they hold every packet exactly once. Both TCP connections run across the split:',
    'merge the files by time to reassemble them. This file is not a capture.',
    '',
  ].join('\n'));

  // Containers and compression.
  const TAR = L('snapshot.tar');
  const TGZ = L('snapshot.tar.gz');
  const tarArgs = ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-C', SNAP, 'README.txt', 'node-a', 'node-b'];
  await run('tar', ['-cf', TAR, ...tarArgs]);
  await run('tar', ['-czf', TGZ, ...tarArgs]);
  const GZ = L('exchange.pcap.gz');
  const GZ_NAMED = L('exchange-gz-named.pcap');
  // gzip stores the original name ("exchange.pcap") in its header, as a gzip run on a node would.
  writeFileSync(GZ, (await execFileP('gzip', ['-9', '-c', PCAP], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout);
  writeFileSync(GZ_NAMED, zlib.gzipSync(readFileSync(PCAP), { level: 9 }));

  // ---- verification ----
  const all = ids(exchanges);
  const files: Record<string, FileEntry> = {};
  const entry = async (name: string, file: string, want: Exchange[], extra: FileEntry): Promise<FileEntry> => {
    const d = await describeCapture(name, file);
    const got = await verifyExchanges(name, file, decode, want);
    checkSize(name, file);
    return { ...d, ...extra, requests: got.length, exchanges: ids(want) };
  };

  files['exchange.pcap'] = await entry('exchange.pcap', PCAP, exchanges, { capturedBy: `tcpdump -i lo -w exchange.pcap '${bpf}'` });
  files['exchange.pcapng'] = await entry('exchange.pcapng', PCAPNG, exchanges, { capturedBy: `dumpcap -i lo -f '${bpf}' -w exchange.pcapng (at the same time)` });
  files['exchange.pcap.gz'] = await entry('exchange.pcap.gz', GZ, exchanges, {
    gzipHeaderName: 'exchange.pcap', contains: 'exchange.pcap, byte for byte', madeBy: 'gzip -9 -c exchange.pcap',
  });
  files['exchange-gz-named.pcap'] = await entry('exchange-gz-named.pcap', GZ_NAMED, exchanges, {
    gzipHeaderName: null, contains: 'exchange.pcap, byte for byte',
    note: 'gzip data under a .pcap name: detect gzip by its magic 1f 8b 08, not by the name',
  });
  files['exchange-sll2.pcapng'] = await entry('exchange-sll2.pcapng', SLL2, exchanges, {
    capturedBy: `${['dumpcap', '-i', 'any', ...sllArgs].join(' ')} -f '${bpf}' -w exchange-sll2.pcapng (at the same time)`,
    dumpcapAnyDefaultLinkType: anyDefault,
    note: 'Linux cooked capture v2: a 20-byte SLL2 header (protocol type, reserved, interface index, ARPHRD type, packet type, address length, 8-byte address) instead of Ethernet; the pcapng IDB names the interface "any"',
  });
  const midWant = exchanges.slice(MIDSTREAM_FROM);
  files['exchange-midstream.pcap'] = await entry('exchange-midstream.pcap', MID, midWant, {
    madeBy: `editcap -F pcap -A ${formatEpochNs(mid.cutNs)} exchange.pcap exchange-midstream.pcap`,
    cutAt: isoNs(mid.cutNs),
    droppedFrames: mid.lastBefore,
    missing: exchanges.slice(0, MIDSTREAM_FROM).map((e) => ({
      requestId: e.requestId,
      reason: `before the cut: connection ${e.connection}'s handshake and this first exchange are not in the file`,
    })),
    midstreamConnections: [exchanges[MIDSTREAM_FROM]!.connection],
    note: `connection ${exchanges[MIDSTREAM_FROM]!.connection} starts mid-stream (no SYN) with request ${exchanges[MIDSTREAM_FROM]!.requestId}; connection 2 opens after the cut and is complete`,
  });

  // Midstream: no SYN for connection 1 and its first packet is request 2.
  const midFrames = await framesIn(MID);
  const c1 = exchanges[0]!.clientPort;
  check(!midFrames.some((f) => (f.srcPort === c1 || f.dstPort === c1) && (f.tcpFlags & 0x02) !== 0), 'exchange-midstream.pcap: connection 1 still has a SYN');
  check(midFrames.length === frames.length - mid.lastBefore, `exchange-midstream.pcap: ${midFrames.length} frames, expected ${frames.length - mid.lastBefore}`);

  // gzip files decompress to exchange.pcap exactly.
  const pcapBytes = readFileSync(PCAP);
  check(zlib.gunzipSync(readFileSync(GZ)).equals(pcapBytes), 'exchange.pcap.gz does not decompress to exchange.pcap');
  check(zlib.gunzipSync(readFileSync(GZ_NAMED)).equals(pcapBytes), 'exchange-gz-named.pcap does not decompress to exchange.pcap');
  check(readFileSync(GZ).subarray(0, 3).equals(Buffer.from([0x1f, 0x8b, 0x08])) && (readFileSync(GZ)[3]! & 0x08) !== 0, 'exchange.pcap.gz: expected a gzip header with FNAME');
  check(readFileSync(GZ_NAMED).subarray(0, 3).equals(Buffer.from([0x1f, 0x8b, 0x08])) && (readFileSync(GZ_NAMED)[3]! & 0x08) === 0, 'exchange-gz-named.pcap: expected a gzip header without FNAME');

  // Link types.
  check((files['exchange.pcap'] as { linkType: string }).linkType === 'EN10MB', 'exchange.pcap is not Ethernet');
  check((files['exchange.pcapng'] as { linkType: string }).linkType === 'EN10MB', 'exchange.pcapng is not Ethernet');
  check((files['exchange-sll2.pcapng'] as { linkType: string }).linkType === 'LINUX_SLL2', `exchange-sll2.pcapng is ${(files['exchange-sll2.pcapng'] as { linkType: string }).linkType}, not LINUX_SLL2`);
  log(`capinfos exchange-sll2.pcapng: ${(await capinfos(['-t', '-E', '-c'], SLL2)).replace(/\s+/g, ' ')}`);

  // The snapshot members: disjoint halves that together are exchange.pcap, and what each yields.
  const framesA = await framesIn(NODE_A);
  const framesB = await framesIn(NODE_B);
  sameFrames('node-a + node-b', [...framesA, ...framesB], 'exchange.pcap', frames);
  check(framesA.length === split.lastBefore, `node-a: ${framesA.length} frames, expected ${split.lastBefore}`);
  const member = async (name: string, file: string, want: Exchange[], extra: FileEntry): Promise<FileEntry> => {
    const d = await describeCapture(name, file);
    const got = await verifyExchanges(`snapshot/${name}`, file, decode, want);
    return { ...d, ...extra, requests: got.length, exchanges: ids(want) };
  };
  const members: Record<string, FileEntry> = {
    'README.txt': { kind: 'text', note: 'not a capture: must be skipped' },
    'node-a/capture.pcap': await member('node-a/capture.pcap', NODE_A, before, {
      madeBy: `editcap -F pcap -B ${formatEpochNs(split.cutNs)} exchange.pcap node-a/capture.pcap`,
      holds: `every packet before ${isoNs(split.cutNs)}`,
      note: 'both connections open here (SYNs) and are not closed in this file',
    }),
    'node-b/capture.pcapng': await member('node-b/capture.pcapng', NODE_B, after, {
      madeBy: `editcap -F pcapng -A ${formatEpochNs(split.cutNs)} exchange.pcapng node-b/capture.pcapng`,
      holds: `every packet from ${isoNs(split.cutNs)} on`,
      note: 'both connections continue here mid-stream (no SYN) and close (FINs)',
    }),
  };
  const mergeDir = mkdtempSync(join(tmpdir(), 'podcap-merge-'));
  const merged = join(mergeDir, 'merged.pcapng');
  await run('mergecap', ['-w', merged, NODE_A, NODE_B]);
  await verifyExchanges('mergecap node-a node-b', merged, decode, exchanges);
  rmSync(mergeDir, { recursive: true, force: true });

  const wantMembers = ['README.txt', 'node-a/', 'node-a/capture.pcap', 'node-b/', 'node-b/capture.pcapng'];
  for (const [name, file] of [['snapshot.tar', TAR], ['snapshot.tar.gz', TGZ]] as const) {
    const list = (await run('tar', ['-tf', file])).split('\n').filter(Boolean);
    log(`${name}: tar -tf -> ${list.join(' ')}`);
    check(JSON.stringify(list) === JSON.stringify(wantMembers), `${name} lists ${list.join(' ')}, expected ${wantMembers.join(' ')}`);
    const dir = mkdtempSync(join(tmpdir(), 'podcap-untar-'));
    await run('tar', ['-xf', file, '-C', dir]);
    check(readFileSync(join(dir, 'node-a', 'capture.pcap')).equals(readFileSync(NODE_A)), `${name}: node-a/capture.pcap differs`);
    check(readFileSync(join(dir, 'node-b', 'capture.pcapng')).equals(readFileSync(NODE_B)), `${name}: node-b/capture.pcapng differs`);
    await verifyExchanges(`${name}:node-a/capture.pcap`, join(dir, 'node-a', 'capture.pcap'), decode, before);
    await verifyExchanges(`${name}:node-b/capture.pcapng`, join(dir, 'node-b', 'capture.pcapng'), decode, after);
    rmSync(dir, { recursive: true, force: true });
    checkSize(name, file);
    files[name] = {
      container: 'tar',
      tarFormat: 'GNU tar (tar -c' + (name.endsWith('.gz') ? 'z' : '') + 'f, --sort=name --owner=0 --group=0)',
      compression: name.endsWith('.gz') ? 'gzip' : null,
      bytes: statSync(file).size,
      entries: list,
      members,
      packets: frames.length,
      exchanges: all,
      note: 'the two captures must be merged: together they yield every exchange once; each alone yields only its half',
    };
  }
  files['snapshot/'] = {
    container: 'directory',
    entries: ['README.txt', 'node-a/capture.pcap', 'node-b/capture.pcapng'],
    members,
    packets: frames.length,
    exchanges: all,
    note: 'the same files as snapshot.tar, unpacked',
  };

  const connections = [1, 2].map((c) => {
    const list = exchanges.filter((e) => e.connection === c);
    return { connection: c, clientIp: LO_HOST, clientPort: list[0]!.clientPort, serverIp: LO_HOST, serverPort: LAYOUT_PORT, requestIds: ids(list), closedBy: 'client' };
  });
  const expected = {
    generatedBy: GENERATED_BY,
    description:
      'One run of 6 HTTP/1.1 exchanges over 2 keep-alive connections on loopback, captured at once by tcpdump (lo), dumpcap (lo) and dumpcap (any), ' +
      'laid out as the files below. Every file yields the exchanges listed in its "exchanges" (request ids: the x-request-id header).',
    server: { ip: LO_HOST, port: LAYOUT_PORT },
    tsharkDecodeAs: decode.join(' '),
    connections,
    notes: [
      'TCP checksums are wrong in every file (tshark -o tcp.check_checksum:TRUE): checksum offload on loopback. Do not validate them.',
      'On loopback (MTU 65536) every TCP segment is one packet, the 4 KB /api/report response included.',
      'The run pauses 250 ms between exchanges, so the cuts fall in quiet gaps: every exchange is wholly on one side of a cut.',
    ],
    exchanges: exchanges.map((e) => ({ ...e, clientIp: LO_HOST, serverIp: LO_HOST })),
    cuts: {
      midstream: { at: isoNs(mid.cutNs), epoch: formatEpochNs(mid.cutNs), after: exchanges[MIDSTREAM_FROM - 1]!.requestId, before: exchanges[MIDSTREAM_FROM]!.requestId, quietGapMs: Number(mid.gapMs.toFixed(3)) },
      snapshotSplit: { at: isoNs(split.cutNs), epoch: formatEpochNs(split.cutNs), after: exchanges[SPLIT_FROM - 1]!.requestId, before: exchanges[SPLIT_FROM]!.requestId, quietGapMs: Number(split.gapMs.toFixed(3)) },
    },
    files,
  };
  writeFileSync(L('expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
  log(`wrote ${rel(L('expected.json'))}`);
}

// ---------------------------------------------------------------------------------------------
// Part 2: fixtures/nodes
// ---------------------------------------------------------------------------------------------

const NS_CLIENT = 'podcap-client';
const NS_SERVER = 'podcap-server';
const TOPO = {
  client: { netns: NS_CLIENT, interface: 'eth0', mac: '02:42:c0:a8:32:0b', nodeIp: '192.168.50.11/24', podIp: '10.244.1.10/24', podCidr: '10.244.1.0/24',
    overlay: { interface: 'vxlan0', mac: '0a:58:0a:2a:01:0a', ip: '10.42.1.10/16' } },
  server: { netns: NS_SERVER, interface: 'eth0', mac: '02:42:c0:a8:32:0c', nodeIp: '192.168.50.12/24', podIp: '10.244.2.20/24', podCidr: '10.244.2.0/24',
    overlay: { interface: 'vxlan0', mac: '0a:58:0a:2a:02:14', ip: '10.42.2.20/16' } },
  vxlan: { vni: 42, dstport: 4789 },
};
const ip = (cidr: string): string => cidr.split('/')[0]!;

async function nsExists(ns: string): Promise<boolean> {
  return (await run('ip', ['netns', 'list'])).split('\n').some((l) => l.split(' ')[0] === ns);
}

async function teardownNamespaces(): Promise<void> {
  for (const ns of [NS_CLIENT, NS_SERVER]) {
    if (await nsExists(ns).catch(() => false)) {
      log(`ip netns del ${ns}`);
      await run('ip', ['netns', 'del', ns]).catch((e: Error) => log(`  (${e.message})`));
    }
  }
  // A veth left in the root namespace by a run that failed half-way.
  for (const dev of ['pcap-veth-c', 'pcap-veth-s']) await run('ip', ['link', 'del', dev]).catch(() => undefined);
}

/** Builds the topology; returns the commands run. Throws with the failing command's message. */
async function setupNamespaces(): Promise<string[]> {
  const cmds: string[][] = [];
  const c = TOPO.client;
  const s = TOPO.server;
  cmds.push(['netns', 'add', NS_CLIENT], ['netns', 'add', NS_SERVER]);
  // No IPv6: its multicast listener reports and router solicitations would land in the captures at random.
  for (const ns of [NS_CLIENT, NS_SERVER]) cmds.push(['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  cmds.push(['link', 'add', 'pcap-veth-c', 'type', 'veth', 'peer', 'name', 'pcap-veth-s']);
  for (const [dev, side] of [['pcap-veth-c', c], ['pcap-veth-s', s]] as const) {
    cmds.push(['link', 'set', dev, 'netns', side.netns]);
    cmds.push(['-n', side.netns, 'link', 'set', dev, 'name', side.interface]);
    cmds.push(['-n', side.netns, 'link', 'set', side.interface, 'address', side.mac]);
    cmds.push(['-n', side.netns, 'addr', 'add', side.nodeIp, 'dev', side.interface]);
    cmds.push(['-n', side.netns, 'addr', 'add', side.podIp, 'dev', side.interface]);
    cmds.push(['-n', side.netns, 'link', 'set', 'lo', 'up']);
    // Without this the kernel hands the capture 4 KB TSO/GSO super-packets; with it, segments are
    // MSS-sized as on a real wire, so the 4 KB response spans several packets.
    cmds.push(['-n', side.netns, 'link', 'set', side.interface, 'gso_max_segs', '1']);
    cmds.push(['-n', side.netns, 'link', 'set', side.interface, 'up']);
  }
  // Pod CIDRs routed directly over the node link (native routing, no encapsulation).
  cmds.push(['-n', NS_CLIENT, 'route', 'add', s.podCidr, 'dev', c.interface, 'src', ip(c.podIp)]);
  cmds.push(['-n', NS_SERVER, 'route', 'add', c.podCidr, 'dev', s.interface, 'src', ip(s.podIp)]);
  // The VXLAN overlay between the node addresses.
  for (const [side, peer] of [[c, s], [s, c]] as const) {
    cmds.push(['-n', side.netns, 'link', 'add', side.overlay.interface, 'address', side.overlay.mac, 'type', 'vxlan', 'id', String(TOPO.vxlan.vni),
      'local', ip(side.nodeIp), 'remote', ip(peer.nodeIp), 'dstport', String(TOPO.vxlan.dstport), 'dev', side.interface]);
    cmds.push(['-n', side.netns, 'addr', 'add', side.overlay.ip, 'dev', side.overlay.interface]);
    cmds.push(['-n', side.netns, 'link', 'set', side.overlay.interface, 'gso_max_segs', '1']);
    cmds.push(['-n', side.netns, 'link', 'set', side.overlay.interface, 'up']);
  }
  const done: string[] = [];
  for (const a of cmds) {
    await run('ip', a);
    done.push(`ip ${a.join(' ')}`);
  }
  // Running programs inside them must work too (ip netns exec needs to remount /sys).
  for (const ns of [NS_CLIENT, NS_SERVER]) await run('ip', ['netns', 'exec', ns, 'ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  log(`namespaces up:\n  ${done.join('\n  ')}`);
  return done;
}

async function makeNodes(): Promise<void> {
  log('=== part 2: fixtures/nodes ===');
  rmSync(NODES_DIR, { recursive: true, force: true });
  mkdirSync(NODES_DIR, { recursive: true });
  const N = (name: string): string => join(NODES_DIR, name);
  const CLIENT_PCAP = N('node-client.pcap');
  const SERVER_PCAPNG = N('node-server.pcapng');
  const VXLAN_PCAP = N('vxlan-underlay.pcap');

  await teardownNamespaces();
  let mode: 'netns' | 'loopback-fallback' = 'netns';
  let fallbackReason: string | null = null;
  let setupCommands: string[] = [];
  try {
    if (process.env.PODCAP_FIXTURES_NO_NETNS === '1') throw new FixtureError('PODCAP_FIXTURES_NO_NETNS=1 (forced fallback)');
    setupCommands = await setupNamespaces();
  } catch (e) {
    mode = 'loopback-fallback';
    fallbackReason = e instanceof Error ? e.message : String(e);
    log(`network namespaces failed: ${fallbackReason}`);
    log('falling back to one loopback exchange captured twice (tcpdump + dumpcap on lo) as the two nodes; no VXLAN file');
    await teardownNamespaces();
  }

  const netns = mode === 'netns';
  const nsC = netns ? NS_CLIENT : null;
  const nsS = netns ? NS_SERVER : null;
  const port = netns ? NODE_PORT : FALLBACK_PORT;
  const serverIp = netns ? ip(TOPO.server.podIp) : LO_HOST;
  const clientIp = netns ? ip(TOPO.client.podIp) : LO_HOST;
  const iface = netns ? 'eth0' : 'lo';
  const bpf = netns ? `tcp port ${port}` : `tcp and host ${LO_HOST} and port ${port}`;
  const decode = decodeHttp(port);
  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];

  const capturers: Capturer[] = [];
  let server: Served | null = null;
  let direct: Exchange[] = [];
  let overlay: Exchange[] = [];
  try {
    server = await startServerChild(nsS, netns ? '0.0.0.0' : LO_HOST, port);

    // Phase 1: the pod-to-pod connections, captured on both nodes at once.
    capturers.push(await startCapturer('tcpdump client-node', ...inNs(nsC, 'tcpdump', ['-i', iface, '-U', '--immediate-mode', '-s', '0', ...asRoot, '-w', CLIENT_PCAP, bpf]), CLIENT_PCAP, /listening on/));
    capturers.push(await startCapturer('dumpcap server-node', ...inNs(nsS, 'dumpcap', ['-i', iface, '-f', bpf, '-s', '262144', '-w', SERVER_PCAPNG]), SERVER_PCAPNG, /File: /));
    await sleep(700);
    direct = await runClientChild(nsC, serverIp, port, 'nd', 100);
    await sleep(700);
    for (const c of capturers.splice(0)) log(`stopped ${c.name}: ${await stopCapturer(c)} packets captured -> ${rel(c.file)}`);

    // Phase 2: over the VXLAN overlay, capturing the client node's underlay.
    if (netns) {
      capturers.push(await startCapturer('tcpdump client-node underlay', ...inNs(nsC, 'tcpdump', ['-i', 'eth0', '-U', '--immediate-mode', '-s', '0', ...asRoot, '-w', VXLAN_PCAP, `udp port ${TOPO.vxlan.dstport}`]), VXLAN_PCAP, /listening on/));
      await sleep(700);
      overlay = await runClientChild(nsC, ip(TOPO.server.overlay.ip), port, 'vx', 100);
      await sleep(700);
      for (const c of capturers.splice(0)) log(`stopped ${c.name}: ${await stopCapturer(c)} packets captured -> ${rel(c.file)}`);
    }
    await server.stop();
    server = null;
  } finally {
    for (const c of capturers) c.proc.kill('SIGKILL');
    if (server) server.proc.kill('SIGKILL');
    await sleep(200);
    if (netns) await teardownNamespaces();
    for (const f of [CLIENT_PCAP, SERVER_PCAPNG, VXLAN_PCAP]) {
      try {
        chmodSync(f, 0o644);
      } catch {
        /* not written */
      }
    }
  }
  // ---- verification ----
  const ids = (list: Exchange[]): string[] => list.map((e) => e.requestId);
  const files: Record<string, FileEntry> = {};
  const entry = async (name: string, file: string, dec: string[], want: Exchange[], extra: FileEntry): Promise<FileEntry> => {
    const d = await describeCapture(name, file);
    const got = await verifyExchanges(name, file, dec, want);
    checkSize(name, file);
    return { ...d, ...extra, requests: got.length, exchanges: ids(want) };
  };
  files['node-client.pcap'] = await entry('node-client.pcap', CLIENT_PCAP, decode, direct, {
    node: 'client',
    capturedBy: netns ? `ip netns exec ${NS_CLIENT} tcpdump -i eth0 -w node-client.pcap '${bpf}'` : `tcpdump -i lo -w node-client.pcap '${bpf}'`,
  });
  files['node-server.pcapng'] = await entry('node-server.pcapng', SERVER_PCAPNG, decode, direct, {
    node: 'server',
    capturedBy: netns ? `ip netns exec ${NS_SERVER} dumpcap -i eth0 -f '${bpf}' -w node-server.pcapng (at the same time)` : `dumpcap -i lo -f '${bpf}' -w node-server.pcapng (at the same time)`,
  });

  // The two node captures hold the same packets (same IP ids, ports, raw sequence numbers), at slightly different times.
  const fc = await framesIn(CLIENT_PCAP);
  const fs = await framesIn(SERVER_PCAPNG);
  const sc = [...fc.map((f) => f.sig)].sort().join('\n');
  const ss = [...fs.map((f) => f.sig)].sort().join('\n');
  check(fc.length === fs.length && sc === ss, `node-client.pcap (${fc.length}) and node-server.pcapng (${fs.length}) do not hold the same packets`);
  const bySig = new Map(fs.map((f) => [f.sig, f.timeNs]));
  const skews = fc.map((f) => Number((bySig.get(f.sig) ?? f.timeNs) - f.timeNs) / 1000);
  const skew = { minMicros: Math.min(...skews), maxMicros: Math.max(...skews), meanMicros: Number((skews.reduce((a, b) => a + b, 0) / skews.length).toFixed(3)) };
  log(`node captures: ${fc.length} identical packets; server-side time minus client-side time: min ${skew.minMicros} µs, max ${skew.maxMicros} µs, mean ${skew.meanMicros} µs`);
  const connectionsOf = (frames: Frame[], list: Exchange[], cIp: string, sIp: string, label: string) => {
    const syns = frames.filter((f) => (f.tcpFlags & 0x12) === 0x02);
    const synAcks = frames.filter((f) => (f.tcpFlags & 0x12) === 0x12);
    const out = [1, 2].map((c) => {
      const mine = list.filter((e) => e.connection === c);
      const cp = mine[0]!.clientPort;
      return {
        connection: c, clientIp: cIp, clientPort: cp, serverIp: sIp, serverPort: port, requestIds: ids(mine), closedBy: 'client',
        clientIsn: syns.find((f) => f.srcPort === cp)?.seq ?? null,
        serverIsn: synAcks.find((f) => f.dstPort === cp)?.seq ?? null,
      };
    });
    check(out.every((c) => c.clientIsn !== null && c.serverIsn !== null), `${label}: a connection without SYN or SYN-ACK`);
    return out;
  };
  const conns = connectionsOf(fc, direct, clientIp, serverIp, 'node captures');
  const overlayConns = netns ? connectionsOf(await framesIn(VXLAN_PCAP), overlay, ip(TOPO.client.overlay.ip), ip(TOPO.server.overlay.ip), 'vxlan-underlay.pcap') : [];

  if (netns) {
    const vdec = ['-d', `udp.port==${TOPO.vxlan.dstport},vxlan`, ...decode];
    files['vxlan-underlay.pcap'] = await entry('vxlan-underlay.pcap', VXLAN_PCAP, vdec, overlay, {
      node: 'client',
      capturedBy: `ip netns exec ${NS_CLIENT} tcpdump -i eth0 -w vxlan-underlay.pcap 'udp port ${TOPO.vxlan.dstport}'`,
      encapsulation: {
        outer: `Ethernet / IPv4 ${ip(TOPO.client.nodeIp)} <-> ${ip(TOPO.server.nodeIp)} / UDP dport ${TOPO.vxlan.dstport} / VXLAN VNI ${TOPO.vxlan.vni}`,
        inner: `Ethernet / IPv4 ${ip(TOPO.client.overlay.ip)} <-> ${ip(TOPO.server.overlay.ip)} / TCP ${port} / HTTP`,
        alsoInside: 'the overlay ARP exchange (ARP inside VXLAN)',
      },
      tsharkDecodeAs: vdec.join(' '),
    });
    const httpFrames = await tsharkLines(VXLAN_PCAP, [...vdec, '-Y', 'http', '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'ip.src', '-e', 'ip.dst', '-e', '_ws.col.Info']);
    log(`vxlan-underlay.pcap: tshark -d udp.port==4789,vxlan -Y http -> ${httpFrames.length} frames:\n  ${httpFrames.join('\n  ')}`);
    check(httpFrames.length === 2 * overlay.length, `vxlan-underlay.pcap: ${httpFrames.length} http frames, expected ${2 * overlay.length}`);
    check(httpFrames.every((l) => l.startsWith(`${TOPO.vxlan.vni}|`)), 'vxlan-underlay.pcap: an HTTP frame outside VNI 42');
    check(httpFrames.every((l) => l.split('|')[1]!.split(',').length === 2), 'vxlan-underlay.pcap: HTTP frames must carry two IP layers (outer + inner)');
    const bare = await tsharkLines(VXLAN_PCAP, ['-Y', 'tcp']);
    log(`vxlan-underlay.pcap: ${bare.length} tcp frames with tshark's defaults (vxlan on 4789 is a default port)`);
    const notTcp = await tsharkLines(VXLAN_PCAP, [...vdec, '-Y', '!tcp', '-T', 'fields', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info']);
    log(`vxlan-underlay.pcap: inside VXLAN but not TCP: ${notTcp.length ? notTcp.join('; ') : 'nothing'}`);
    check(notTcp.every((l) => l.startsWith('ARP')), 'vxlan-underlay.pcap: holds something other than the overlay ARP and TCP');
    files['vxlan-underlay.pcap']!.innerNonTcp = notTcp.map((l) => l.replace('\t', ': ').trim());
  }

  const expected = {
    generatedBy: GENERATED_BY,
    description: netns
      ? 'Two network namespaces as two Kubernetes nodes. Pod-to-pod HTTP (client 10.244.1.10 -> server 10.244.2.20:8080, routed directly) captured at once ' +
        'on both nodes\' eth0: node-client.pcap and node-server.pcapng hold the SAME TCP connections (same IP ids, same sequence numbers), a few µs apart; ' +
        'importing both must give each exchange once. Then the same exchanges over a VXLAN overlay (flannel-style), captured on the client node\'s underlay.'
      : 'Fallback (network namespaces failed): one loopback run captured twice, by tcpdump and dumpcap, as the two nodes.',
    mode,
    fallbackReason,
    topology: netns ? { ...TOPO, setupCommands } : { interface: 'lo', ip: LO_HOST },
    tsharkDecodeAs: decode.join(' '),
    connections: { direct: conns, ...(netns ? { vxlan: overlayConns } : {}) },
    notes: [
      'TCP checksums are wrong in every file (tshark -o tcp.check_checksum:TRUE): checksum offload, the packets were captured on the hosts that sent them before a NIC would fill the checksum in. Do not validate them.',
      netns
        ? 'gso_max_segs 1 on every interface: TCP segments are MSS-sized as on a wire (largest frame 1514 bytes), so the 4 KB /api/report response spans several packets.'
        : 'On loopback the 4 KB /api/report response is one packet (MTU 65536).',
      'Sequence numbers are absolute (raw) in clientIsn/serverIsn.',
    ],
    exchanges: {
      direct: direct.map((e) => ({ ...e, clientIp, serverIp })),
      ...(netns ? { vxlan: overlay.map((e) => ({ ...e, clientIp: ip(TOPO.client.overlay.ip), serverIp: ip(TOPO.server.overlay.ip) })) } : {}),
    },
    files,
    dedup: {
      files: ['node-client.pcap', 'node-server.pcapng'],
      sharedPackets: fc.length,
      identical: 'every packet is in both files: same IPv4 id, ports, raw sequence and ack numbers, lengths, flags',
      timeOffset: { ...skew, of: 'node-server.pcapng time minus node-client.pcap time, per packet' },
      expectedTransactions: direct.length,
      expectedRequestIds: ids(direct),
      note: `importing both files together must yield each of the ${direct.length} exchanges once (not twice), on ${conns.length} connections`,
    },
  };
  writeFileSync(N('expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
  log(`wrote ${rel(N('expected.json'))}`);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') return serveMode(args);
  if (mode === 'client') return clientMode(args);
  if (mode !== undefined && mode !== 'layouts' && mode !== 'nodes') throw new FixtureError(`unknown mode ${mode} (layouts, nodes, or nothing for both)`);
  if (mode !== 'nodes') await makeLayouts();
  if (mode !== 'layouts') await makeNodes();

  const outputs = [
    ...(mode !== 'nodes' ? [LAYOUTS_DIR] : []),
    ...(mode !== 'layouts' ? [NODES_DIR] : []),
  ];
  for (const d of outputs) log(`${rel(d)}:\n${(await run('find', [d, '-type', 'f', '-printf', '  %8s  %P\n'])).trimEnd()}`);
  if (problems.length > 0) {
    log(`${problems.length} problem(s):`);
    for (const p of problems) log(`  ${p}`);
    process.exitCode = 1;
    return;
  }
  log('all fixtures verified with tshark');
}

main().catch((e: unknown) => {
  log(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
