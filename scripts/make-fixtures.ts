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
 *
 * Capturers, the recording HTTP client and the capture inspection helpers live in fixture-lib.ts
 * (shared with make-layout-fixtures.ts).
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
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
  sleep,
  startCapturer,
  type Step,
  stopCapturer,
  tsharkLines,
} from './fixture-lib.js';

export type { Exchange } from './fixture-lib.js';

// ---------------------------------------------------------------------------------------------
// Paths and constants
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Client side: the exchanges and what the client saw
// ---------------------------------------------------------------------------------------------

const FAKE_JWT = [
  Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ sub: 'user-1001', name: 'Fixture User', iat: 1714521600, exp: 1714525200 })).toString('base64url'),
  Buffer.from('not-a-real-signature-podcap-fixture').toString('base64url'),
].join('.');
const AUTH = { authorization: `Bearer ${FAKE_JWT}`, cookie: 'session=s-2f9c41; theme=dark' };

const client = new ExchangeClient(HOST, 'fx');
const socketPorts = client.socketPorts; // connection id -> client port
const request = (step: Step): Promise<Exchange> => client.request(step);

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
  await listen(api, PORT_API, HOST);
  await listen(inventory, PORT_INVENTORY, HOST);
  await listen(legacy, PORT_LEGACY, HOST);
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

async function tshark(file: string, args: string[]): Promise<string[]> {
  return tsharkLines(file, [...DECODE_AS, ...args]);
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
