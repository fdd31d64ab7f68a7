/**
 * make-lossy-fixtures: real HTTP/1.1 traffic with TCP pathologies, for the TCP reassembly tests
 * (podcap's reassembled bytes against tshark's `-z follow,tcp,raw,N`), without a public corpus.
 *
 *   npm run build && node dist/scripts/make-lossy-fixtures.js      (as root: network namespaces, captures)
 *
 * Topology: three network namespaces. The client (podcap-lossy-c) and the server (podcap-lossy-s)
 * talk over a VXLAN overlay (vxlan0, VNI 250, 10.250.0.10 -> 10.250.0.20:8080, MTU 1500, static
 * neighbours, so no ARP). Their VXLAN underlay does not reach the other side directly: each side's
 * vxlan0 sends its UDP datagrams to a relay in podcap-lossy-r (veth links 192.168.61.0/24 and
 * 192.168.62.0/24, no IP forwarding), and the relay, which is this script (`relay` mode), passes
 * each datagram on to the other side, or not:
 *
 *   WHY A RELAY AND NOT `tc qdisc ... netem`: the kernel this was made on has no netem
 *   (CONFIG_NET_SCH_NETEM is not set, and modules are off), and iproute2 6.1 has no netem `seed`.
 *   The relay applies netem's model, per direction, with a seeded PRNG (mulberry32): `loss P%`
 *   (the datagram is dropped), `duplicate P%` (sent twice, 1 ms apart), `delay D reorder R%` (R% of
 *   the datagrams are sent at once, the others D ms later, so the ones sent at once overtake
 *   those still waiting, as netem's reorder does). The drop decisions are deterministic per
 *   datagram index; which packets those are depends on the kernel's timing, so the outcome is
 *   checked, and the run retried with the next seed when it lacks a pathology. The relay also
 *   fills in the inner TCP checksum, which the sending vxlan0 leaves to checksum offload (a NIC
 *   would complete it; after user space nothing does, and the receiver would drop the segment).
 *
 * Captures: tcpdump -s 4096 -B 32768 on vxlan0 (inner Ethernet frames, no VXLAN in the files),
 * gso_max_segs 1 on every interface so segments are wire-sized (frames up to 1514 bytes). With
 * tcpdump's default -s 0 the kernel ring drops packets in bursts; a run where tcpdump reports
 * drops is rejected (that would be capture loss, not network loss).
 *
 * fixtures/lossy/netem.pcap: tcpdump on the CLIENT's vxlan0 while the client makes 7 requests on 2
 *   keep-alive connections (responses of 60-200 KiB, one chunked, a 96 KiB upload). The client
 *   receives the big responses, so this is the receiving side for server->client data: those
 *   segments are captured AFTER the impairment, as the client's node sees them: a lost segment is
 *   missing (tshark: previous segment not captured) until its retransmission arrives to fill the
 *   hole (tshark: retransmission / fast retransmission), reordered ones arrive out of order
 *   (tshark: out-of-order), duplicated ones twice (identical IP id). Client->server segments (the
 *   upload, the requests, the ACKs) are captured BEFORE the impairment: every segment the client
 *   sent, with retransmissions of those the relay dropped (overlapping data, no holes). The other
 *   choice, the SENDER's side of the responses (the server's vxlan0), shows every response segment
 *   in the order it was sent plus its retransmissions, but no reordering of response data: the
 *   reordering happens after that capture point (its tshark counts are in expected.json,
 *   senderSideComparison). The receiving side gives retransmissions, out-of-order and duplicate
 *   segments together, and is what a capture on the client's node of a lossy network looks like.
 *
 * fixtures/lossy/capture-gap.pcap: a clean run (relay passes everything at once) of 7 requests on 2
 *   keep-alive connections, captured on the client's vxlan0, then `editcap` deletes two data packets
 *   (not adjacent) in the middle of a 64 KiB response body and one in the middle of a later
 *   request's 5 KB of headers: the receiver got those bytes (the next segments and the ACKs show
 *   it), the capture did not. tshark's follow writes `[N bytes missing in capture file]` there;
 *   podcap must report the gaps and still find the requests after them.
 *
 * fixtures/lossy/expected.json: per file, the requests the client made (method, path, status,
 *   x-request-id, body sizes, connection, ports), tshark's counts (retransmission, out_of_order,
 *   duplicate_ack, lost_segment, ...), the TCP streams with their followed byte counts and missing
 *   markers, and for capture-gap.pcap the deleted frames and the gaps they leave.
 *
 * The script checks that the pathologies are there (retransmissions, out-of-order and duplicate
 * segments in netem.pcap; lost segments and exactly the deleted bytes missing in capture-gap.pcap),
 * that tshark finds the requests, and exits non-zero otherwise. Namespaces are removed at start and
 * end; fixtures/lossy is replaced only when everything checked out.
 *
 * Other modes: `serve`, `client`, `relay` (the children, run inside the namespaces); `setup` and
 * `teardown` (build or remove the namespaces, to poke at them by hand). PODCAP_LOSSY_KEEP=1 keeps
 * the intermediate captures (every attempt, the server-side capture, the clean capture) in a
 * temporary directory it names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  capinfos,
  type Capturer,
  closeServer,
  type Exchange,
  ExchangeClient,
  FixtureError,
  followMissing,
  inNetns,
  listen,
  log,
  readBody,
  rel,
  ROOT,
  runCommand,
  sendJson,
  setLogPrefix,
  sleep,
  startCapturer,
  type Step,
  stopCapturer,
  tsharkCount,
  tsharkFollowTcpRaw,
  tsharkLines,
  tsharkTcpStreams,
} from './fixture-lib.js';
import { mulberry32 } from './prng.js';

const SELF = fileURLToPath(import.meta.url);
const OUT_DIR = join(ROOT, 'fixtures', 'lossy');
const GENERATED_BY = 'scripts/make-lossy-fixtures.ts';

const NS = { client: 'podcap-lossy-c', relay: 'podcap-lossy-r', server: 'podcap-lossy-s' } as const;
/** Host-side names of the veth pairs while they are made (moved into the namespaces and renamed at once). */
const HOST_VETHS = ['plossy-c0', 'plossy-c1', 'plossy-s0', 'plossy-s1'];

const TOPO = {
  vxlan: { vni: 250, dstport: 4789 },
  client: { netns: NS.client, underlay: { dev: 'eth0', ip: '192.168.61.2/24', mac: '02:00:00:61:00:02' }, overlay: { dev: 'vxlan0', ip: '10.250.0.10/24', mac: '02:00:00:fa:00:10' }, relay: '192.168.61.1' },
  server: { netns: NS.server, underlay: { dev: 'eth0', ip: '192.168.62.2/24', mac: '02:00:00:62:00:02' }, overlay: { dev: 'vxlan0', ip: '10.250.0.20/24', mac: '02:00:00:fa:00:20' }, relay: '192.168.62.1' },
  relay: {
    netns: NS.relay,
    toClient: { dev: 'eth-c', ip: '192.168.61.1/24', mac: '02:00:00:61:00:01' },
    toServer: { dev: 'eth-s', ip: '192.168.62.1/24', mac: '02:00:00:62:00:01' },
  },
  underlayMtu: 1600,
  overlayMtu: 1500,
};
const ip = (cidr: string): string => cidr.split('/')[0]!;
const SERVER_IP = ip(TOPO.server.overlay.ip);
const CLIENT_IP = ip(TOPO.client.overlay.ip);
const PORT = 8080;
const BPF = `tcp port ${PORT}`;
const SNAPLEN = 4096;
const DECODE = ['-d', `tcp.port==${PORT},http`];

const MAX_NETEM_BYTES = 2 * 1024 * 1024;
const MAX_GAP_BYTES = 512 * 1024;
const NETEM_ATTEMPTS = 5;
const CLEAN_ATTEMPTS = 3;
const BASE_SEED = 20240611;

setLogPrefix('lossy-fixtures');

// ---------------------------------------------------------------------------------------------
// Impairment profiles (netem's model) and the relay
// ---------------------------------------------------------------------------------------------

interface Impairment {
  /** netem `delay D`: every datagram not picked for reordering waits D ms. */
  delayMs: number;
  /** netem `loss random P%` */
  lossPct: number;
  /** netem `duplicate P%`: the copy follows 1 ms after the original. */
  duplicatePct: number;
  /** netem `reorder P%` (with the delay): P% are sent at once and overtake the delayed ones. */
  reorderPct: number;
}
interface Profile {
  description: string;
  /** Client to server (requests, the upload, the client's ACKs). */
  c2s: Impairment;
  /** Server to client (responses, the server's ACKs). */
  s2c: Impairment;
}
const NONE: Impairment = { delayMs: 0, lossPct: 0, duplicatePct: 0, reorderPct: 0 };
const PROFILES: Record<string, Profile> = {
  netem: {
    description: 'as `tc qdisc add dev <to-client> root netem delay 10ms reorder 25% loss 8% duplicate 2%` and `... dev <to-server> root netem delay 5ms reorder 10% loss 5% duplicate 2%`',
    c2s: { delayMs: 5, lossPct: 5, duplicatePct: 2, reorderPct: 10 },
    s2c: { delayMs: 10, lossPct: 8, duplicatePct: 2, reorderPct: 25 },
  },
  clean: { description: 'no impairment: every datagram passed on at once, in order', c2s: NONE, s2c: NONE },
};

interface DirStats {
  datagrams: number;
  dropped: number;
  duplicated: number;
  /** Sent at once while others wait the delay (netem's reorder). */
  reordered: number;
  delayed: number;
  /** The same, for datagrams carrying a TCP segment with payload. */
  dataSegments: number;
  dataDropped: number;
  dataDuplicated: number;
  dataReordered: number;
}
const newStats = (): DirStats => ({ datagrams: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, dataSegments: 0, dataDropped: 0, dataDuplicated: 0, dataReordered: 0 });

/** Whether a VXLAN datagram carries an Ethernet/IPv4/TCP frame with payload. */
function carriesTcpData(msg: Buffer): boolean {
  const eth = 8;
  if (msg.length < eth + 14 + 20 + 20 || msg.readUInt16BE(eth + 12) !== 0x0800) return false;
  const ipOff = eth + 14;
  const ihl = (msg[ipOff]! & 0x0f) * 4;
  if (msg[ipOff + 9] !== 6) return false;
  const total = msg.readUInt16BE(ipOff + 2);
  const tcpOff = ipOff + ihl;
  const doff = (msg[tcpOff + 12]! >> 4) * 4;
  return total - ihl - doff > 0;
}

/**
 * Fills in the TCP checksum of the Ethernet/IPv4/TCP frame inside a VXLAN datagram. The sending
 * vxlan0 leaves it to checksum offload (the field holds only the pseudo-header sum), which a NIC
 * would complete; once the datagram has been through user space nothing will, and the receiving
 * stack would drop the segment as corrupt.
 */
function fillTcpChecksum(msg: Buffer): void {
  const eth = 8;
  if (msg.length < eth + 14 + 20 + 20 || msg.readUInt16BE(eth + 12) !== 0x0800) return;
  const ipOff = eth + 14;
  if (msg[ipOff + 9] !== 6) return;
  const ihl = (msg[ipOff]! & 0x0f) * 4;
  const total = msg.readUInt16BE(ipOff + 2);
  const tcpOff = ipOff + ihl;
  const tcpLen = total - ihl;
  if (tcpOff + tcpLen > msg.length || tcpLen < 20) return;
  msg.writeUInt16BE(0, tcpOff + 16);
  let sum = 0;
  for (let i = 0; i < 8; i += 2) sum += msg.readUInt16BE(ipOff + 12 + i); // source and destination addresses
  sum += 6 + tcpLen;
  const end = tcpOff + tcpLen;
  let i = tcpOff;
  for (; i + 1 < end; i += 2) sum += msg.readUInt16BE(i);
  if (i < end) sum += msg[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  msg.writeUInt16BE(~sum & 0xffff, tcpOff + 16);
}

/**
 * `relay --profile NAME --seed N`: in podcap-lossy-r, passes VXLAN datagrams between the two
 * sides with the profile's impairment. Prints "relay ready"; when stdin closes, waits for the
 * datagrams still held, prints its statistics as JSON and exits.
 */
async function relayMode(args: string[]): Promise<void> {
  setLogPrefix('lossy-fixtures:relay');
  const profile = PROFILES[arg(args, 'profile')];
  if (!profile) throw new FixtureError(`unknown profile ${arg(args, 'profile')}`);
  const seed = Number(arg(args, 'seed'));
  const port = TOPO.vxlan.dstport;
  const open = async (addr: string): Promise<dgram.Socket> => {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.bind(port, addr, () => res());
    });
    return s;
  };
  const toClient = await open(TOPO.client.relay);
  const toServer = await open(TOPO.server.relay);
  const stats = { c2s: newStats(), s2c: newStats() };
  const rng = { c2s: mulberry32(seed), s2c: mulberry32(seed ^ 0x5bd1e995) };
  let pending = 0;
  const later = (ms: number, f: () => void): void => {
    pending++;
    setTimeout(() => {
      pending--;
      f();
    }, ms);
  };
  const forward = (msg: Buffer, dir: 'c2s' | 's2c'): void => {
    const imp = profile[dir];
    const st = stats[dir];
    const r = rng[dir];
    const data = carriesTcpData(msg);
    fillTcpChecksum(msg);
    st.datagrams++;
    if (data) st.dataSegments++;
    // The same three draws for every datagram, so decisions depend only on its index.
    const lose = r() * 100 < imp.lossPct;
    const dup = r() * 100 < imp.duplicatePct;
    const reorderDraw = r();
    const now = imp.delayMs === 0 || reorderDraw * 100 < imp.reorderPct;
    if (lose) {
      st.dropped++;
      if (data) st.dataDropped++;
      return;
    }
    const [sock, addr] = dir === 'c2s' ? [toServer, ip(TOPO.server.underlay.ip)] : [toClient, ip(TOPO.client.underlay.ip)];
    const send = (): void => sock.send(msg, port, addr);
    if (now) {
      if (imp.delayMs > 0) {
        st.reordered++;
        if (data) st.dataReordered++;
      }
      send();
    } else {
      st.delayed++;
      later(imp.delayMs, send);
    }
    if (dup) {
      st.duplicated++;
      if (data) st.dataDuplicated++;
      later((now ? 0 : imp.delayMs) + 1, send);
    }
  };
  toClient.on('message', (msg) => forward(msg, 'c2s'));
  toServer.on('message', (msg) => forward(msg, 's2c'));
  process.stdout.write('relay ready\n');
  process.stdin.resume();
  await new Promise<void>((res) => process.stdin.on('close', () => res()).on('end', () => res()));
  while (pending > 0) await sleep(20);
  await sleep(50);
  toClient.close();
  toServer.close();
  process.stdout.write(`${JSON.stringify({ seed, stats })}\n`);
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/** `size` bytes of 64-byte text lines naming the blob, so a payload tells whose body it is in. */
function blobBytes(name: string, size: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < size; i++) {
    const line = `blob ${name} line ${String(i).padStart(6, '0')} abcdefghijklmnopqrstuvwxyz 0123456789`.padEnd(63, '.') + '\n';
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size), 'latin1');
}

async function handler(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://lossy.local');
  const body = await readBody(req);
  const size = Number(url.searchParams.get('size') ?? '0');
  let m: RegExpExecArray | null;
  if (req.method === 'GET' && (m = /^\/blob\/([a-z0-9-]+)$/.exec(url.pathname))) {
    const b = blobBytes(m[1]!, size);
    res.writeHead(200, { 'content-type': 'text/plain; charset=us-ascii', 'content-length': String(b.length) });
    res.end(b);
    return;
  }
  if (req.method === 'GET' && (m = /^\/stream\/([a-z0-9-]+)$/.exec(url.pathname))) {
    // No content-length: Node sends it chunked, 8 KiB per chunk.
    const b = blobBytes(m[1]!, size);
    res.writeHead(200, { 'content-type': 'text/plain; charset=us-ascii' });
    for (let off = 0; off < b.length; off += 8192) res.write(b.subarray(off, off + 8192));
    res.end();
    return;
  }
  switch (`${req.method} ${url.pathname}`) {
    case 'POST /upload':
      return sendJson(res, 201, { received: body.length, lines: body.toString('latin1').split('\n').length - 1 }, { location: '/upload/u-1' });
    case 'GET /api/ping':
      return sendJson(res, 200, { pong: true });
    case 'GET /api/search':
      return sendJson(res, 200, { query: url.searchParams.get('q'), results: [], baggageBytes: String(req.headers['x-trace-baggage'] ?? '').length });
    case 'GET /api/after':
      return sendJson(res, 200, { ok: true, note: 'the request after the gaps' });
    default:
      return sendJson(res, 404, { error: 'not found', path: url.pathname });
  }
}

/** `serve --host H --port P`: prints "listening" on stdout, serves until stdin closes. */
async function serveMode(args: string[]): Promise<void> {
  setLogPrefix('lossy-fixtures:server');
  const server = http.createServer((req, res) => {
    handler(req, res).catch((e: Error) => sendJson(res, 500, { error: `fixture bug: ${e.message}` }));
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.requestTimeout = 0;
  await listen(server, Number(arg(args, 'port')), arg(args, 'host'));
  process.stdout.write('listening\n');
  process.stdin.resume();
  await new Promise<void>((res) => process.stdin.on('close', () => res()).on('end', () => res()));
  server.closeAllConnections();
  await closeServer(server);
}

// ---------------------------------------------------------------------------------------------
// The client and its plans
// ---------------------------------------------------------------------------------------------

interface PlanStep {
  conn: 'A' | 'B';
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: { type: string; data: string };
  /** What the step is for, copied into expected.json. */
  role?: string;
}

/** About 5 KB of header value: lower-case letters, digits, '=', ';', '-' only (so a payload made only of those is inside it). */
const BAGGAGE = Array.from({ length: 190 }, (_, i) => `span-${String(i).padStart(4, '0')}=0123456789abcdef`).join(';');

const PLANS: Record<string, { idPrefix: string; gapMs: number; steps: PlanStep[] }> = {
  netem: {
    idPrefix: 'ln',
    gapMs: 50,
    steps: [
      { conn: 'A', method: 'GET', path: '/blob/alpha', query: 'size=122880' },
      { conn: 'A', method: 'POST', path: '/upload', body: { type: 'text/plain', data: blobBytes('upload', 98304).toString('latin1') } },
      { conn: 'B', method: 'GET', path: '/blob/bravo', query: 'size=81920' },
      { conn: 'A', method: 'GET', path: '/blob/charlie', query: 'size=204800' },
      { conn: 'B', method: 'GET', path: '/stream/delta', query: 'size=61440', role: 'chunked response, 8 KiB chunks' },
      { conn: 'A', method: 'GET', path: '/blob/echo', query: 'size=153600' },
      { conn: 'B', method: 'GET', path: '/api/ping' },
    ],
  },
  gap: {
    idPrefix: 'lg',
    gapMs: 100,
    steps: [
      { conn: 'A', method: 'GET', path: '/blob/g1', query: 'size=20480' },
      { conn: 'A', method: 'GET', path: '/blob/g2', query: 'size=65536', role: 'two data packets of this response body are deleted' },
      { conn: 'B', method: 'GET', path: '/api/ping' },
      { conn: 'A', method: 'GET', path: '/blob/g3', query: 'size=16384', role: 'after the response-body gaps' },
      { conn: 'A', method: 'GET', path: '/api/search', query: 'q=boots', headers: { 'x-trace-baggage': BAGGAGE }, role: 'one packet in the middle of these request headers is deleted' },
      { conn: 'A', method: 'GET', path: '/api/after', role: 'after the request-header gap' },
      { conn: 'B', method: 'GET', path: '/blob/g5', query: 'size=8192' },
    ],
  },
};

async function runPlan(planName: string, host: string, port: number): Promise<Exchange[]> {
  const plan = PLANS[planName];
  if (!plan) throw new FixtureError(`unknown plan ${planName}`);
  const client = new ExchangeClient(host, plan.idPrefix);
  const agents = { A: new http.Agent({ keepAlive: true, maxSockets: 1 }), B: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const exchanges: Exchange[] = [];
  for (const p of plan.steps) {
    if (exchanges.length > 0) await sleep(plan.gapMs);
    const step: Step = { group: p.conn, agent: agents[p.conn], port, method: p.method, path: p.path, ...(p.query ? { query: p.query } : {}), ...(p.headers ? { headers: p.headers } : {}), ...(p.body ? { body: p.body } : {}) };
    const t0 = Date.now();
    const ex = await client.request(step);
    exchanges.push(ex);
    log(`  ${ex.requestId} conn ${ex.connection} :${ex.clientPort} ${ex.method} ${ex.path}${ex.query ? `?${ex.query}` : ''} -> ${ex.status}, req ${ex.requestBodySize} B, resp ${ex.responseBodySize} B, ${Date.now() - t0} ms`);
  }
  plan.steps.forEach((s, i) => {
    const want = s.conn === 'A' ? 1 : 2;
    if (exchanges[i]!.connection !== want) throw new FixtureError(`${exchanges[i]!.requestId}: connection ${exchanges[i]!.connection}, expected ${want}`);
  });
  await sleep(plan.gapMs);
  agents.A.destroy();
  agents.B.destroy();
  await sleep(200);
  return exchanges;
}

/** `client --plan NAME --host H --port P`: runs the plan, prints the exchanges as JSON. */
async function clientMode(args: string[]): Promise<void> {
  setLogPrefix('lossy-fixtures:client');
  const exchanges = await runPlan(arg(args, 'plan'), arg(args, 'host'), Number(arg(args, 'port')));
  process.stdout.write(`${JSON.stringify(exchanges)}\n`);
}

function arg(args: string[], name: string): string {
  const i = args.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= args.length) throw new FixtureError(`missing --${name}`);
  return args[i + 1]!;
}

// ---------------------------------------------------------------------------------------------
// Namespaces and child processes
// ---------------------------------------------------------------------------------------------

async function teardown(): Promise<void> {
  for (const ns of Object.values(NS)) {
    try {
      await runCommand('ip', ['netns', 'del', ns]);
    } catch {
      /* not there */
    }
  }
  for (const dev of HOST_VETHS) {
    try {
      await runCommand('ip', ['link', 'del', dev]);
    } catch {
      /* not there */
    }
  }
}

/** Builds the three namespaces; returns the commands, for expected.json. */
async function setup(): Promise<string[]> {
  const c = TOPO.client;
  const s = TOPO.server;
  const r = TOPO.relay;
  const cmds: string[][] = [];
  for (const ns of Object.values(NS)) {
    cmds.push(['netns', 'add', ns]);
    cmds.push(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const pair = (hostA: string, hostB: string, nsA: string, devA: string, macA: string, ipA: string, nsB: string, devB: string, macB: string, ipB: string): void => {
    cmds.push(['link', 'add', hostA, 'type', 'veth', 'peer', 'name', hostB]);
    for (const [host, ns, dev, mac, addr] of [[hostA, nsA, devA, macA, ipA], [hostB, nsB, devB, macB, ipB]] as const) {
      cmds.push(['link', 'set', host, 'netns', ns]);
      cmds.push(['-n', ns, 'link', 'set', host, 'name', dev]);
      cmds.push(['-n', ns, 'link', 'set', dev, 'address', mac, 'mtu', String(TOPO.underlayMtu), 'gso_max_segs', '1']);
      cmds.push(['-n', ns, 'addr', 'add', addr, 'dev', dev]);
      cmds.push(['-n', ns, 'link', 'set', dev, 'up']);
    }
  };
  pair('plossy-c0', 'plossy-c1', c.netns, c.underlay.dev, c.underlay.mac, c.underlay.ip, r.netns, r.toClient.dev, r.toClient.mac, r.toClient.ip);
  pair('plossy-s0', 'plossy-s1', s.netns, s.underlay.dev, s.underlay.mac, s.underlay.ip, r.netns, r.toServer.dev, r.toServer.mac, r.toServer.ip);
  for (const [side, peer] of [[c, s], [s, c]] as const) {
    cmds.push(['-n', side.netns, 'link', 'add', side.overlay.dev, 'address', side.overlay.mac, 'type', 'vxlan', 'id', String(TOPO.vxlan.vni),
      'local', ip(side.underlay.ip), 'remote', side.relay, 'dstport', String(TOPO.vxlan.dstport), 'nolearning', 'dev', side.underlay.dev]);
    // gso_max_segs 1: MSS-sized segments as on a wire (no TSO/GSO super-packets in the capture).
    cmds.push(['-n', side.netns, 'link', 'set', side.overlay.dev, 'mtu', String(TOPO.overlayMtu), 'gso_max_segs', '1']);
    cmds.push(['-n', side.netns, 'addr', 'add', side.overlay.ip, 'dev', side.overlay.dev]);
    cmds.push(['-n', side.netns, 'link', 'set', side.overlay.dev, 'up']);
    cmds.push(['-n', side.netns, 'neigh', 'replace', ip(peer.overlay.ip), 'lladdr', peer.overlay.mac, 'dev', side.overlay.dev, 'nud', 'permanent']);
  }
  const done: string[] = [];
  for (const a of cmds) {
    await runCommand('ip', a);
    done.push(`ip ${a.join(' ')}`);
  }
  for (const ns of Object.values(NS)) {
    // No IPv6 chatter; the relay namespace forwards nothing by itself.
    await runCommand('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.ip_forward=0']);
  }
  return done;
}

interface Child {
  proc: ChildProcess;
  /** Closes its stdin and resolves with everything it printed on stdout. */
  stop: () => Promise<string>;
}

/** Starts this script in `mode` inside `ns` and waits until its stdout matches `ready`. */
async function startChild(ns: string, mode: string, args: string[], ready: RegExp): Promise<Child> {
  const [cmd, argv] = inNetns(ns, process.execPath, [SELF, mode, ...args]);
  log(`start ${mode}: ${cmd} ${argv.join(' ')}`);
  const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new FixtureError(`${mode} child not ready after 10 s`)), 10_000);
    const poll = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(poll);
        clearTimeout(timer);
        res();
      }
    }, 20);
    proc.on('error', (e) => rej(new FixtureError(`${mode} child: ${e.message}`)));
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      rej(new FixtureError(`${mode} child exited (code ${code}) before it was ready`));
    });
  });
  return {
    proc,
    stop: async () => {
      proc.stdin!.end();
      const r = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
      if (r === 'timeout') {
        proc.kill('SIGKILL');
        throw new FixtureError(`${mode} child did not exit within 10 s`);
      }
      if (r !== 0) throw new FixtureError(`${mode} child exited with code ${r}`);
      return out;
    },
  };
}

async function runClient(plan: string): Promise<Exchange[]> {
  const [cmd, argv] = inNetns(NS.client, process.execPath, [SELF, 'client', '--plan', plan, '--host', SERVER_IP, '--port', String(PORT)]);
  log(`run client: ${cmd} ${argv.join(' ')}`);
  const out = await new Promise<string>((res, rej) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new FixtureError('client child still running after 120 s'));
    }, 120_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (o += d));
    proc.on('error', (e) => rej(new FixtureError(`client child: ${e.message}`)));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) res(o);
      else rej(new FixtureError(`client child exited with code ${code}`));
    });
  });
  return JSON.parse(out) as Exchange[];
}

interface RelayStats {
  seed: number;
  stats: { c2s: DirStats; s2c: DirStats };
}

interface Run {
  exchanges: Exchange[];
  /** Per capturer, the packets tcpdump says the kernel dropped (NaN if it did not say). */
  captureDrops: Record<string, number>;
  relay: RelayStats;
  setupCommands: string[];
}

/**
 * One run: namespaces, relay with `profile`, server, tcpdump on the client's vxlan0 (and, if
 * asked, on the server's), the client's plan; then everything is stopped and the namespaces removed.
 */
async function captureRun(plan: string, profile: string, seed: number, clientFile: string, serverFile: string | null): Promise<Run> {
  await teardown();
  const children: Child[] = [];
  const capturers: Capturer[] = [];
  try {
    const setupCommands = await setup();
    const relay = await startChild(NS.relay, 'relay', ['--profile', profile, '--seed', String(seed)], /relay ready/);
    children.push(relay);
    const server = await startChild(NS.server, 'serve', ['--host', '0.0.0.0', '--port', String(PORT)], /listening/);
    children.push(server);
    const tcpdump = (ns: string, file: string): [string, string[]] =>
      // -s 4096 (frames are at most 1514 bytes) and a 32 MiB buffer: with -s 0 the kernel ring has
      // room for few 256 KiB slots and drops packets in a burst (tcpdump: "N packets dropped by kernel").
      inNetns(ns, 'tcpdump', ['-i', 'vxlan0', '-U', '--immediate-mode', '-s', String(SNAPLEN), '-B', '32768', '-Z', 'root', '-w', file, BPF]);
    capturers.push(await startCapturer('tcpdump client vxlan0', ...tcpdump(NS.client, clientFile), clientFile, /listening on/));
    if (serverFile) capturers.push(await startCapturer('tcpdump server vxlan0', ...tcpdump(NS.server, serverFile), serverFile, /listening on/));
    await sleep(500);
    const exchanges = await runClient(plan);
    // Time for the last retransmissions and the FINs (a lost FIN is resent after an RTO).
    await sleep(profile === 'clean' ? 500 : 2500);
    const captureDrops: Record<string, number> = {};
    for (const c of capturers.splice(0)) {
      const n = await stopCapturer(c);
      // tcpdump's own account: "N packets received by filter", "N packets dropped by kernel".
      const received = /(\d+) packets? received by filter/.exec(c.stderr())?.[1] ?? '?';
      const dropped = Number(/(\d+) packets? dropped by kernel/.exec(c.stderr())?.[1] ?? NaN);
      captureDrops[c.name] = dropped;
      log(`stopped ${c.name}: ${n} packets captured, ${received} received by filter, ${dropped} dropped by kernel -> ${c.file}`);
    }
    await children.splice(children.indexOf(server), 1)[0]!.stop();
    const relayOut = await children.splice(children.indexOf(relay), 1)[0]!.stop();
    const line = relayOut.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new FixtureError(`relay printed no statistics: ${relayOut}`);
    return { exchanges, relay: JSON.parse(line) as RelayStats, setupCommands, captureDrops };
  } finally {
    for (const c of capturers) c.proc.kill('SIGKILL');
    for (const c of children) c.proc.kill('SIGKILL');
    await sleep(100);
    await teardown();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading captures back with tshark
// ---------------------------------------------------------------------------------------------

interface SeenRequest {
  frame: number;
  srcPort: number;
  method: string;
  uri: string;
  requestId: string;
}

async function requestsIn(file: string, extra: string[] = []): Promise<SeenRequest[]> {
  const lines = await tsharkLines(file, [...DECODE, ...extra, '-Y', 'http.request', '-T', 'fields', '-E', 'separator=|',
    '-e', 'frame.number', '-e', 'tcp.srcport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.request.line']);
  return lines.map((l) => {
    const [frame, src, method, uri, ...rest] = l.split('|');
    const id = /x-request-id:\s*([A-Za-z0-9-]+)/i.exec(rest.join('|'));
    return { frame: Number(frame), srcPort: Number(src), method: method!, uri: uri!, requestId: id ? id[1]! : '?' };
  });
}

interface SeenResponse {
  frame: number;
  clientPort: number;
  status: number;
  /** The request tshark pairs the response with (the last request it saw on the connection). */
  uri: string;
  contentLength: number | null;
}

async function responsesIn(file: string, extra: string[] = []): Promise<SeenResponse[]> {
  const lines = await tsharkLines(file, [...DECODE, ...extra, '-Y', 'http.response', '-T', 'fields', '-E', 'separator=|',
    '-e', 'frame.number', '-e', 'tcp.dstport', '-e', 'http.response.code', '-e', 'http.content_length', '-e', 'http.response_for.uri']);
  return lines.map((l) => {
    const [frame, dst, code, length, uri] = l.split('|');
    // http.response_for.uri is absolute (http://host:port/path?query): keep the path and query.
    return {
      frame: Number(frame), clientPort: Number(dst), status: Number(code), contentLength: length ? Number(length) : null,
      uri: (uri ?? '').replace(/^[a-z]+:\/\/[^/]*/i, ''),
    };
  });
}

/** tshark's expert analysis counts (`tshark -r F -Y tcp.analysis.X | wc -l`). */
async function analysisCounts(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of ['retransmission', 'fast_retransmission', 'spurious_retransmission', 'out_of_order', 'duplicate_ack', 'lost_segment', 'ack_lost_segment', 'window_full', 'zero_window']) {
    out[f] = await tsharkCount(file, `tcp.analysis.${f}`);
  }
  return out;
}

interface DataFrame {
  frame: number;
  stream: number;
  fromServer: boolean;
  ipId: number;
  seqRaw: number;
  seq: number;
  len: number;
  flags: number;
  payload: Buffer;
}

async function dataFrames(file: string): Promise<DataFrame[]> {
  const lines = await tsharkLines(file, ['-o', 'tcp.desegment_tcp_streams:FALSE', '-Y', 'tcp.len > 0', '-T', 'fields', '-E', 'separator=|',
    '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'ip.id', '-e', 'tcp.seq_raw', '-e', 'tcp.seq', '-e', 'tcp.len', '-e', 'tcp.flags', '-e', 'tcp.payload']);
  return lines.map((l) => {
    const [frame, stream, src, ipId, seqRaw, seq, len, flags, payload] = l.split('|');
    return {
      frame: Number(frame), stream: Number(stream), fromServer: Number(src) === PORT, ipId: Number(ipId), seqRaw: Number(seqRaw), seq: Number(seq),
      len: Number(len), flags: Number(flags), payload: Buffer.from((payload ?? '').replace(/:/g, ''), 'hex'),
    };
  });
}

/** Exact copies (same direction, IP id, sequence number and length): duplicated datagrams, not retransmissions (a retransmission has a new IP id). */
function exactDuplicates(frames: DataFrame[]): number {
  const seen = new Set<string>();
  let n = 0;
  for (const f of frames) {
    const k = `${f.stream}|${f.fromServer}|${f.ipId}|${f.seqRaw}|${f.len}`;
    if (seen.has(k)) n++;
    else seen.add(k);
  }
  return n;
}

const FOLLOW_NOTE =
  'tshark -r FILE -qz follow,tcp,raw,STREAM: bytes per direction as tshark gives them, each gap written as "[N bytes missing in capture file]" plus a NUL; ' +
  'missing[].offset is where that marker starts in those bytes, missing[].streamOffset where the missing bytes start in the direction\'s byte stream (0 = first byte after the SYN)';

interface StreamSummary {
  stream: number;
  client: string;
  server: string;
  /** Bytes tshark's follow gives for each direction (gap markers included), and the markers (followMissing). */
  clientToServer: { bytes: number; missing: { offset: number; streamOffset: number; bytes: number }[] };
  serverToClient: { bytes: number; missing: { offset: number; streamOffset: number; bytes: number }[] };
}

async function followAll(file: string): Promise<StreamSummary[]> {
  const out: StreamSummary[] = [];
  for (const n of await tsharkTcpStreams(file)) {
    const f = await tsharkFollowTcpRaw(file, n);
    const clientNode = f.nodes[0].startsWith(`${CLIENT_IP}:`) ? 0 : 1;
    const serverNode = 1 - clientNode;
    out.push({
      stream: n,
      client: f.nodes[clientNode]!,
      server: f.nodes[serverNode]!,
      clientToServer: { bytes: f.data[clientNode]!.length, missing: followMissing(f.data[clientNode]!) },
      serverToClient: { bytes: f.data[serverNode]!.length, missing: followMissing(f.data[serverNode]!) },
    });
  }
  return out;
}

async function describe(file: string): Promise<{ format: string; bytes: number; packets: number; largestFrame: number; linkType: string; timestampPrecision: string }> {
  const magic = readFileSync(file).readUInt32LE(0);
  const format = magic === 0xa1b2c3d4 ? 'pcap' : magic === 0x0a0d0d0a ? 'pcapng' : `unknown (0x${magic.toString(16)})`;
  check(format === 'pcap', `${file}: ${format}, expected classic pcap (microseconds)`);
  const info = await capinfos(['-c', '-E', '-l'], file);
  const lens = await tsharkLines(file, ['-T', 'fields', '-e', 'frame.len']);
  check((await tsharkCount(file, 'frame.cap_len < frame.len')) === 0, `${file}: truncated frames`);
  return {
    format,
    bytes: statSync(file).size,
    packets: Number(/Number of packets:\s*(\d+)/.exec(info)?.[1] ?? NaN),
    largestFrame: Math.max(...lens.map(Number)),
    linkType: /File encapsulation:\s*(.+)/.exec(info)?.[1]?.trim() ?? '?',
    timestampPrecision: 'microseconds (classic pcap from tcpdump)',
  };
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

const problems: string[] = [];
function check(ok: boolean, msg: string): boolean {
  if (!ok) {
    problems.push(msg);
    log(`MISMATCH ${msg}`);
  }
  return ok;
}

const uriOf = (e: Exchange): string => (e.query ? `${e.path}?${e.query}` : e.path);

interface Finds {
  /** Request ids of the requests tshark shows (`-Y http.request`) with the right method, URI and client port. */
  requests: string[];
  /** Request ids of the responses tshark shows (`-Y http.response`) paired with the right request (client port, URI, status, content-length). */
  responses: string[];
  /** What tshark shows that is not one of the requests. */
  wrongRequests: string[];
  /** Responses tshark pairs with the wrong request (or that match none). */
  otherResponses: string[];
}

/** What tshark finds of the exchanges `want` in `file`. */
async function tsharkFinds(label: string, file: string, want: Exchange[], extra: string[] = []): Promise<Finds> {
  const reqs = await requestsIn(file, extra);
  const resps = await responsesIn(file, extra);
  const f: Finds = { requests: [], responses: [], wrongRequests: [], otherResponses: [] };
  for (const r of reqs) {
    const ex = want.find((e) => e.requestId === r.requestId);
    if (ex && ex.method === r.method && uriOf(ex) === r.uri && ex.clientPort === r.srcPort) f.requests.push(ex.requestId);
    else f.wrongRequests.push(`frame ${r.frame}: ${r.requestId} ${r.method} ${r.uri} :${r.srcPort}`);
  }
  for (const s of resps) {
    const ex = want.find((e) => e.clientPort === s.clientPort && uriOf(e) === s.uri && e.status === s.status && (s.contentLength === null || s.contentLength === e.responseBodySize));
    if (ex) f.responses.push(ex.requestId);
    else f.otherResponses.push(`frame ${s.frame}: ${s.status} to :${s.clientPort}, content-length ${s.contentLength ?? '-'}, paired with ${s.uri || '(no request)'}`);
  }
  const odd = [...f.wrongRequests, ...f.otherResponses];
  log(`${label}: tshark ${[...DECODE, ...extra].join(' ')} -Y http.request -> ${reqs.length} (${f.requests.join(' ')}); -Y http.response -> ${resps.length} (${f.responses.join(' ')})${odd.length ? `; unexpected: ${odd.join('; ')}` : ''}`);
  return f;
}

/**
 * Data segments that arrived out of the order they were sent: Linux numbers the IP datagrams of a
 * TCP connection in sending order (IP id + 1 per packet), so a segment whose IP id is older than
 * one already seen in its direction was overtaken on the way. Exact copies are left out.
 */
function arrivedOutOfSendOrder(frames: DataFrame[]): number {
  const max = new Map<string, number>();
  const seen = new Set<string>();
  let n = 0;
  for (const f of frames) {
    const dir = `${f.stream}|${f.fromServer}`;
    const key = `${dir}|${f.ipId}|${f.seqRaw}|${f.len}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const m = max.get(dir);
    if (m === undefined || ((f.ipId - m) & 0xffff) < 0x8000) max.set(dir, f.ipId);
    else n++;
  }
  return n;
}

const exchangeRecord = (e: Exchange, role?: string) => ({
  requestId: e.requestId,
  method: e.method,
  path: e.path,
  query: e.query,
  status: e.status,
  requestBodySize: e.requestBodySize,
  responseBodySize: e.responseBodySize,
  chunked: e.chunked,
  connection: e.connection,
  clientIp: CLIENT_IP,
  clientPort: e.clientPort,
  serverIp: SERVER_IP,
  serverPort: e.serverPort,
  ...(role ? { role } : {}),
});

function checkExchanges(label: string, plan: string, exchanges: Exchange[]): void {
  const steps = PLANS[plan]!.steps;
  check(exchanges.length === steps.length, `${label}: ${exchanges.length} exchanges, expected ${steps.length}`);
  for (const e of exchanges) {
    const want = e.path.startsWith('/upload') ? 201 : 200;
    check(e.status === want, `${label}: ${e.requestId} ${e.method} ${e.path} got ${e.status}, expected ${want}`);
    const size = /size=(\d+)/.exec(e.query)?.[1];
    if (size) check(e.responseBodySize === Number(size), `${label}: ${e.requestId} body ${e.responseBodySize} B, expected ${size}`);
  }
}

// ---------------------------------------------------------------------------------------------
// netem.pcap
// ---------------------------------------------------------------------------------------------

async function makeNetem(work: string): Promise<Record<string, unknown>> {
  log('=== netem.pcap: lossy, reordering, duplicating path; captured on the client (receiving) side ===');
  const tries: unknown[] = [];
  for (let attempt = 1; attempt <= NETEM_ATTEMPTS; attempt++) {
    const seed = BASE_SEED + attempt - 1;
    const file = join(work, `netem-${attempt}.pcap`);
    const senderFile = join(work, `netem-${attempt}-server-side.pcap`);
    log(`--- attempt ${attempt}/${NETEM_ATTEMPTS}, seed ${seed} ---`);
    let run: Run;
    try {
      run = await captureRun('netem', 'netem', seed, file, senderFile);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      log(`attempt ${attempt} failed: ${msg}`);
      tries.push({ attempt, seed, failed: msg });
      continue;
    }
    log(`relay: ${JSON.stringify(run.relay.stats)}`);
    const counts = await analysisCounts(file);
    const frames = await dataFrames(file);
    const dups = exactDuplicates(frames);
    const receiverReorder = arrivedOutOfSendOrder(frames.filter((f) => f.fromServer));
    // The upload's segments are captured before the relay: one it dropped shows as a retransmission.
    const uploadRetrans = await tsharkCount(file, `tcp.analysis.retransmission && tcp.dstport == ${PORT} && tcp.len > 0`);
    const size = statSync(file).size;
    const finds = await tsharkFinds('netem.pcap', file, run.exchanges);
    const findsOoo = await tsharkFinds('netem.pcap (reassemble_out_of_order)', file, run.exchanges, ['-o', 'tcp.reassemble_out_of_order:TRUE']);
    log(`netem.pcap attempt ${attempt}: ${size} bytes; tshark ${JSON.stringify(counts)}; exact duplicate data segments ${dups}; server->client segments overtaken ${receiverReorder}; client->server data retransmissions ${uploadRetrans}`);
    const missing = run.exchanges.filter((e) => !finds.requests.includes(e.requestId)).map((e) => e.requestId);
    const drops = run.captureDrops['tcpdump client vxlan0'];
    const why = [
      drops === 0 ? null : `tcpdump dropped ${drops} packets (the capture, not the network, lost them)`,
      run.captureDrops['tcpdump server vxlan0'] === 0 ? null : `the server-side tcpdump dropped ${run.captureDrops['tcpdump server vxlan0']} packets`,
      counts.retransmission! > 0 ? null : 'no retransmission',
      counts.out_of_order! > 0 ? null : 'no out-of-order segment',
      dups > 0 ? null : 'no duplicated data segment',
      receiverReorder > 0 ? null : 'no server->client data segment arrived out of sending order',
      uploadRetrans > 0 ? null : 'no client->server data segment retransmitted',
      missing.length === 0 ? null : `tshark misses requests ${missing.join(' ')}`,
      [finds, findsOoo].every((f) => f.wrongRequests.length + f.otherResponses.length === 0) ? null : `tshark finds unexpected messages: ${[finds, findsOoo].flatMap((f) => [...f.wrongRequests, ...f.otherResponses]).join('; ')}`,
      size <= MAX_NETEM_BYTES ? null : `${size} bytes, over ${MAX_NETEM_BYTES}`,
    ].filter((w): w is string => w !== null);
    tries.push({ attempt, seed, bytes: size, tshark: counts, exactDuplicateDataSegments: dups, overtakenServerToClient: receiverReorder, clientToServerRetransmissions: uploadRetrans, ...(why.length ? { rejected: why } : {}) });
    if (why.length > 0) {
      log(`attempt ${attempt} rejected: ${why.join('; ')}`);
      continue;
    }
    checkExchanges('netem.pcap', 'netem', run.exchanges);
    // The sender's view of the same run, for the record.
    const senderCounts = await analysisCounts(senderFile);
    const senderFrames = await dataFrames(senderFile);
    const senderOoo = await tsharkCount(senderFile, `tcp.analysis.out_of_order && tcp.srcport == ${PORT}`);
    const receiverOoo = await tsharkCount(file, `tcp.analysis.out_of_order && tcp.srcport == ${PORT}`);
    log(`server-side capture of the same run: tshark ${JSON.stringify(senderCounts)}; out-of-order server->client ${senderOoo} (client side: ${receiverOoo})`);

    const follow = await followAll(file);
    for (const s of follow) {
      check(s.clientToServer.missing.length === 0 && s.serverToClient.missing.length === 0, `netem.pcap stream ${s.stream}: tshark's follow has missing bytes (${JSON.stringify(s)})`);
    }
    // Every response byte reached the client, so the followed server->client bytes are exactly the responses.
    const streams = await tsharkTcpStreams(file);
    check(streams.length === 2, `netem.pcap: ${streams.length} TCP streams, expected 2`);
    const d = await describe(file);
    check(d.largestFrame <= 1514, `netem.pcap: largest frame ${d.largestFrame} > 1514 (offloads not off?)`);
    const perDir = async (f: string, list: DataFrame[], fromServer: boolean) => {
      const mine = list.filter((x) => x.fromServer === fromServer);
      const side = `tcp.${fromServer ? 'srcport' : 'dstport'} == ${PORT}`;
      return {
        dataSegments: mine.length,
        tsharkRetransmission: await tsharkCount(f, `tcp.analysis.retransmission && ${side}`),
        tsharkOutOfOrder: await tsharkCount(f, `tcp.analysis.out_of_order && ${side}`),
        tsharkLostSegment: await tsharkCount(f, `tcp.analysis.lost_segment && ${side}`),
        arrivedOutOfSendOrder: arrivedOutOfSendOrder(mine),
        exactDuplicates: exactDuplicates(mine),
      };
    };
    const senderReorder = arrivedOutOfSendOrder(senderFrames.filter((f) => f.fromServer));
    log(`server->client data segments overtaken on the way (IP id order): client side ${receiverReorder}, server side ${senderReorder}`);
    copyFileSync(file, join(work, 'netem.pcap'));
    return {
      ...d,
      capturedOn: `the client's vxlan0 (ip netns exec ${NS.client} tcpdump -i vxlan0 -s ${SNAPLEN} -B 32768 -w netem.pcap '${BPF}')`,
      side: 'receiving side of the responses: server->client segments after the impairment (lost ones missing until retransmitted, reordered, duplicated); client->server segments before it (every segment the client sent, retransmissions overlapping)',
      tcpdumpDroppedPackets: drops,
      impairment: { ...PROFILES.netem!, seed, attempt, relay: run.relay.stats, how: 'userspace relay of the VXLAN underlay (this kernel has no sch_netem), netem semantics, seeded PRNG' },
      tsharkDecodeAs: DECODE.join(' '),
      tcpStreams: streams.length,
      tshark: { ...counts, commands: 'tshark -r netem.pcap -Y tcp.analysis.<name> | wc -l' },
      exactDuplicateDataSegments: dups,
      byDirection: { clientToServer: await perDir(file, frames, false), serverToClient: await perDir(file, frames, true) },
      byDirectionNote: 'arrivedOutOfSendOrder: data segments with an older IP id than one already captured in that direction (really reordered on the way); tshark\'s out_of_order is a timing heuristic (a segment below the highest sequence number seen, within one handshake RTT of it) and also counts quick retransmissions',
      tsharkFindsRequests: finds.requests,
      tsharkFindsResponses: finds.responses,
      tsharkWithReassembleOutOfOrder: {
        option: '-o tcp.reassemble_out_of_order:TRUE',
        requests: findsOoo.requests,
        responses: findsOoo.responses,
        note: 'with tshark\'s default (FALSE) a multi-segment response that had a segment out of order is not put together, so -Y http.response misses it',
      },
      follow,
      followNote: FOLLOW_NOTE,
      requests: run.exchanges.map((e, i) => exchangeRecord(e, PLANS.netem!.steps[i]!.role)),
      senderSideComparison: {
        capturedOn: `the server's vxlan0, same run, same time (not kept)`,
        tshark: senderCounts,
        byDirection: { clientToServer: await perDir(senderFile, senderFrames, false), serverToClient: await perDir(senderFile, senderFrames, true) },
        note: 'on the sending side the response segments are captured in the order they were sent, before the relay loses, reorders or duplicates them: every original and every retransmission, no holes, no reordering (arrivedOutOfSendOrder ~0). tshark still flags many "out-of-order" there: they are the server\'s SACK/RACK retransmissions, sent within one RTT of its newest segment. The receiving side has real reordering, holes filled late, and duplicates.',
      },
      attempts: tries,
    };
  }
  throw new FixtureError(`netem.pcap: no acceptable run in ${NETEM_ATTEMPTS} attempts: ${JSON.stringify(tries)}`);
}

// ---------------------------------------------------------------------------------------------
// capture-gap.pcap
// ---------------------------------------------------------------------------------------------

interface Deleted {
  frame: number;
  stream: number;
  direction: 'client-to-server' | 'server-to-client';
  /** tshark's relative sequence number; the direction's byte offset is seq - 1. */
  seq: number;
  streamOffset: number;
  length: number;
  inside: string;
  requestId: string;
}

async function makeGap(work: string): Promise<Record<string, unknown>> {
  log('=== capture-gap.pcap: a clean capture with packets deleted by editcap ===');
  let run: Run | null = null;
  const clean = join(work, 'gap-clean.pcap');
  for (let attempt = 1; attempt <= CLEAN_ATTEMPTS && !run; attempt++) {
    const r = await captureRun('gap', 'clean', BASE_SEED, clean, null);
    const counts = await analysisCounts(clean);
    const bad = counts.retransmission! + counts.out_of_order! + counts.lost_segment! + counts.ack_lost_segment! + counts.duplicate_ack! + (r.captureDrops['tcpdump client vxlan0'] === 0 ? 0 : 1);
    log(`clean capture attempt ${attempt}: tshark ${JSON.stringify(counts)}, tcpdump dropped ${r.captureDrops['tcpdump client vxlan0']}`);
    if (bad === 0) run = r;
    else log(`clean capture attempt ${attempt} is not clean; again`);
  }
  if (!run) throw new FixtureError(`capture-gap: no clean capture in ${CLEAN_ATTEMPTS} attempts`);
  checkExchanges('capture-gap base', 'gap', run.exchanges);
  const ex = run.exchanges;
  const steps = PLANS.gap!.steps;
  const bodyIdx = steps.findIndex((s) => s.path === '/blob/g2');
  const hdrIdx = steps.findIndex((s) => s.path === '/api/search');
  const bodyEx = ex[bodyIdx]!;
  const hdrEx = ex[hdrIdx]!;

  const frames = await dataFrames(clean);
  const streams = await tsharkTcpStreams(clean);
  const streamOf = async (port: number): Promise<number> => {
    const l = await tsharkLines(clean, ['-Y', `tcp.port == ${port}`, '-T', 'fields', '-e', 'tcp.stream', '-c', '1']);
    return Number(l[0]);
  };
  const sA = await streamOf(bodyEx.clientPort);
  // Response body packets of g2: payload only of 'blob g2' lines (no header text, no other blob).
  const bodyFrames = frames.filter((f) => f.stream === sA && f.fromServer && /^[a-z0-9 .\n]+$/.test(f.payload.toString('latin1')) &&
    [...f.payload.toString('latin1').matchAll(/blob ([a-z0-9-]+) line/g)].every((m) => m[1] === 'g2') && f.payload.toString('latin1').includes('blob g2 line'));
  if (bodyFrames.length < 9) throw new FixtureError(`capture-gap: only ${bodyFrames.length} whole-body packets of g2`);
  const pickBody = [bodyFrames[Math.floor(bodyFrames.length / 3)]!, bodyFrames[Math.floor((2 * bodyFrames.length) / 3)]!];
  // Request header packets of the big-headers request: payload only of the baggage value.
  const hdrFrames = frames.filter((f) => f.stream === sA && !f.fromServer && /^[a-z0-9=;-]+$/.test(f.payload.toString('latin1')));
  if (hdrFrames.length < 1) throw new FixtureError('capture-gap: no packet wholly inside the request headers');
  const pickHdr = hdrFrames[Math.floor((hdrFrames.length - 1) / 2)]!;
  const deleted: Deleted[] = [
    ...pickBody.map((f) => ({ f, inside: `the response body of ${bodyEx.requestId} (GET ${uriOf(bodyEx)})`, requestId: bodyEx.requestId })),
    { f: pickHdr, inside: `the request headers of ${hdrEx.requestId} (GET ${uriOf(hdrEx)}), inside the x-trace-baggage value`, requestId: hdrEx.requestId },
  ].map(({ f, inside, requestId }) => ({
    frame: f.frame, stream: f.stream, direction: f.fromServer ? 'server-to-client' : 'client-to-server', seq: f.seq, streamOffset: f.seq - 1, length: f.len, inside, requestId,
  }));
  check(pickBody[1]!.frame - pickBody[0]!.frame > 1 && pickBody[1]!.seq > pickBody[0]!.seq + pickBody[0]!.len, 'capture-gap: the two deleted body packets are adjacent');
  // None of them may be sent twice (the capture is clean), or the bytes would not be missing.
  for (const d of deleted) check(frames.filter((f) => f.stream === d.stream && f.fromServer === (d.direction === 'server-to-client') && f.seq === d.seq && f.len === d.length).length === 1, `capture-gap: frame ${d.frame} has a copy`);
  const GAP = join(work, 'capture-gap.pcap');
  const editArgs = ['-F', 'pcap', clean, GAP, ...deleted.map((d) => String(d.frame))];
  await runCommand('editcap', editArgs);
  log(`editcap -F pcap gap-clean.pcap capture-gap.pcap ${deleted.map((d) => d.frame).join(' ')}:\n  ${deleted.map((d) => `frame ${d.frame}: ${d.direction} seq ${d.seq} len ${d.length}, ${d.inside}`).join('\n  ')}`);

  // ---- verification ----
  const counts = await analysisCounts(GAP);
  log(`capture-gap.pcap: tshark ${JSON.stringify(counts)}`);
  check(counts.lost_segment! >= deleted.length, `capture-gap.pcap: ${counts.lost_segment} lost_segment, expected at least ${deleted.length}`);
  check(counts.ack_lost_segment! >= 1, `capture-gap.pcap: ${counts.ack_lost_segment} ack_lost_segment, expected some`);
  const follow = await followAll(GAP);
  const gotGaps = follow.flatMap((s) => [
    ...s.clientToServer.missing.map((m) => `${s.stream} client-to-server ${m.bytes}`),
    ...s.serverToClient.missing.map((m) => `${s.stream} server-to-client ${m.bytes}`),
  ]).sort();
  const wantGaps = deleted.map((d) => `${d.stream} ${d.direction} ${d.length}`).sort();
  log(`capture-gap.pcap: tshark follow markers: ${gotGaps.join(', ')}`);
  check(JSON.stringify(gotGaps) === JSON.stringify(wantGaps), `capture-gap.pcap: follow markers ${gotGaps.join(', ')}, expected ${wantGaps.join(', ')}`);
  // The followed bytes without the markers are the clean capture's bytes minus the deleted ones.
  const cleanFollow = await followAll(clean);
  for (const s of follow) {
    const c = cleanFollow.find((x) => x.stream === s.stream)!;
    for (const dir of ['clientToServer', 'serverToClient'] as const) {
      const lost = deleted.filter((d) => d.stream === s.stream && (d.direction === 'client-to-server') === (dir === 'clientToServer')).reduce((a, d) => a + d.length, 0);
      const markers = s[dir].missing.reduce((a, m) => a + `[${m.bytes} bytes missing in capture file]`.length + 1, 0);
      for (const m of s[dir].missing) {
        const at = deleted.find((x) => x.stream === s.stream && (x.direction === 'client-to-server') === (dir === 'clientToServer') && x.streamOffset === m.streamOffset);
        check(at !== undefined && at.length === m.bytes, `capture-gap.pcap stream ${s.stream} ${dir}: tshark's marker of ${m.bytes} bytes at stream offset ${m.streamOffset} matches no deleted packet`);
      }
      check(s[dir].bytes - markers === c[dir].bytes - lost, `capture-gap.pcap stream ${s.stream} ${dir}: ${s[dir].bytes - markers} bytes besides the markers, expected ${c[dir].bytes - lost}`);
    }
  }
  const finds = await tsharkFinds('capture-gap.pcap', GAP, ex);
  const missingReqs = ex.filter((e) => !finds.requests.includes(e.requestId)).map((e) => e.requestId);
  // tshark cannot put together a request whose headers lack a packet; every other request it must find.
  check(missingReqs.every((id) => id === hdrEx.requestId), `capture-gap.pcap: tshark misses requests ${missingReqs.join(' ')}`);
  check(finds.wrongRequests.length === 0, `capture-gap.pcap: tshark finds unexpected requests: ${finds.wrongRequests.join('; ')}`);
  const after = ex.filter((_, i) => i > bodyIdx && i !== hdrIdx).map((e) => e.requestId);
  check(after.every((id) => finds.requests.includes(id)), `capture-gap.pcap: tshark misses requests after the gaps`);
  const oooReassembly = await tsharkFinds('capture-gap.pcap (reassemble_out_of_order)', GAP, ex, ['-o', 'tcp.reassemble_out_of_order:TRUE']);
  const d = await describe(GAP);
  check(d.bytes <= MAX_GAP_BYTES, `capture-gap.pcap: ${d.bytes} bytes, over ${MAX_GAP_BYTES}`);
  check(d.largestFrame <= 1514, `capture-gap.pcap: largest frame ${d.largestFrame} > 1514`);
  check(streams.length === 2, `capture-gap.pcap: ${streams.length} TCP streams, expected 2`);
  const cleanInfo = await describe(clean);
  return {
    ...d,
    capturedOn: `the client's vxlan0 (ip netns exec ${NS.client} tcpdump -i vxlan0 -s ${SNAPLEN} -B 32768 '${BPF}'), relay passing everything at once; then editcap deleted packets`,
    madeBy: `editcap -F pcap clean.pcap capture-gap.pcap ${deleted.map((x) => x.frame).join(' ')}   (frame numbers of the clean capture, which had ${cleanInfo.packets} packets and no retransmission, out-of-order, lost or duplicate-ACK segment)`,
    deleted: deleted.map((x) => ({ ...x, cleanFrame: x.frame, frame: undefined })),
    gaps: deleted.map((x) => ({
      stream: x.stream,
      direction: x.direction,
      offset: x.streamOffset,
      bytes: x.length,
      inside: x.inside,
      note: 'the receiver got these bytes (its ACKs and the next segments show it); the capture did not: report a gap of this many bytes here, then go on',
    })),
    tcpdumpDroppedPackets: run.captureDrops['tcpdump client vxlan0'],
    tsharkDecodeAs: DECODE.join(' '),
    tcpStreams: streams.length,
    tshark: { ...counts, commands: 'tshark -r capture-gap.pcap -Y tcp.analysis.<name> | wc -l' },
    tsharkFindsRequests: finds.requests,
    tsharkMissesRequests: missingReqs,
    tsharkFindsResponses: finds.responses,
    tsharkOtherResponses: finds.otherResponses,
    tsharkOtherResponsesNote: `tshark does not put together the response whose body lacks packets, and, not having seen ${hdrEx.requestId}'s request, pairs its response with the request before it`,
    tsharkWithReassembleOutOfOrder: { option: '-o tcp.reassemble_out_of_order:TRUE', requests: oooReassembly.requests, responses: oooReassembly.responses, otherResponses: oooReassembly.otherResponses },
    follow,
    followNote: FOLLOW_NOTE,
    requests: ex.map((e, i) => exchangeRecord(e, steps[i]!.role)),
    podcapMust: [
      `report a gap in each place listed in "gaps" (${deleted.length} in all)`,
      `find every request, ${ex.map((e) => e.requestId).join(' ')}, including those after the gaps (${after.join(' ')}); ${hdrEx.requestId} lacks ${pickHdr.len} bytes in the middle of its headers`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') return serveMode(args);
  if (mode === 'client') return clientMode(args);
  if (mode === 'relay') return relayMode(args);
  // For poking at the topology by hand: `setup` builds the namespaces (no relay), `teardown` removes them.
  if (mode === 'setup') {
    await teardown();
    log(`namespaces up:\n  ${(await setup()).join('\n  ')}`);
    return;
  }
  if (mode === 'teardown') return teardown();
  if (mode !== undefined) throw new FixtureError(`unknown mode ${mode} (serve, client, relay, setup, teardown, or nothing to make the fixtures)`);
  if (process.getuid?.() !== 0) throw new FixtureError('must run as root (network namespaces, captures)');

  const work = mkdtempSync(join(tmpdir(), 'podcap-lossy-'));
  try {
    await teardown();
    const netem = await makeNetem(work);
    const gap = await makeGap(work);
    if (problems.length > 0) throw new FixtureError(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    const tsharkVersion = (await runCommand('tshark', ['--version'])).split('\n')[0]!.trim();
    const expected = {
      generatedBy: GENERATED_BY,
      regenerate: 'npm run build && node dist/scripts/make-lossy-fixtures.js   (as root)',
      description:
        'Real HTTP/1.1 traffic (Node client and server in two network namespaces, over a VXLAN overlay whose underlay runs through an impairing relay in a third namespace) ' +
        'with TCP pathologies, for comparing podcap\'s reassembled bytes with tshark -z follow,tcp,raw,N. Request ids are the x-request-id header values.',
      tshark: tsharkVersion,
      topology: {
        ...TOPO,
        client: { ...TOPO.client, overlayIp: CLIENT_IP },
        server: { ...TOPO.server, overlayIp: SERVER_IP, port: PORT },
        note: 'the captures are on vxlan0 (inner Ethernet frames, no encapsulation in the files); gso_max_segs 1 on every interface so segments are MSS-sized (1448 bytes of payload, frames up to 1514)',
      },
      notes: [
        'TCP checksums of segments captured on the sending host are not filled in (checksum offload); do not validate them.',
        'netem.pcap: the impairment is not the kernel\'s netem qdisc (this kernel lacks CONFIG_NET_SCH_NETEM) but a userspace relay with netem\'s model; the TCP behaviour (retransmissions, SACK, RACK, duplicate ACKs) is the kernel\'s own.',
        'Counts are `tshark -r FILE -Y tcp.analysis.NAME | wc -l` with tshark\'s defaults.',
      ],
      files: { 'netem.pcap': netem, 'capture-gap.pcap': gap },
    };
    // Replace fixtures/lossy only now that everything checked out.
    const staging = join(work, 'out');
    mkdirSync(staging);
    for (const f of ['netem.pcap', 'capture-gap.pcap']) {
      copyFileSync(join(work, f), join(staging, f));
      chmodSync(join(staging, f), 0o644);
    }
    writeFileSync(join(staging, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
    rmSync(OUT_DIR, { recursive: true, force: true });
    mkdirSync(join(ROOT, 'fixtures'), { recursive: true });
    try {
      renameSync(staging, OUT_DIR);
    } catch {
      mkdirSync(OUT_DIR, { recursive: true });
      for (const f of ['netem.pcap', 'capture-gap.pcap', 'expected.json']) copyFileSync(join(staging, f), join(OUT_DIR, f));
    }
    chmodSync(OUT_DIR, 0o755);
    log(`${rel(OUT_DIR)}:\n${(await runCommand('find', [OUT_DIR, '-type', 'f', '-printf', '  %8s  %P\n'])).trimEnd()}`);
    log('all lossy fixtures verified with tshark');
  } finally {
    await teardown();
    // PODCAP_LOSSY_KEEP=1 keeps the intermediate captures (every attempt, the server side, the clean capture).
    if (process.env.PODCAP_LOSSY_KEEP === '1') log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  log(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
