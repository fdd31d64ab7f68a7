/**
 * make-dns-fixtures: podcap's DNS fixtures, from REAL DNS servers and clients on loopback.
 *
 *   npm run build && node dist/scripts/make-dns-fixtures.js          (as root; needs dnsmasq (apt-get
 *                                                                     install dnsmasq-base), dig
 *                                                                     (dnsutils), tcpdump, tshark, unshare)
 *   node dist/scripts/make-dns-fixtures.js verify                    re-check fixtures/dns with tshark only
 *
 * Everything runs in a network namespace of its own (podcap-dns) that has nothing but `lo`, so no
 * packet can leave the machine, and nothing else on this host's loopback ends up in the capture.
 *
 * Servers:
 *   127.0.0.10:53   dnsmasq (udp and tcp), the "cluster DNS": `dnsmasq -k --no-resolv --no-hosts
 *                   --conf-file=F` with F written here (also kept as fixtures/dns/dnsmasq.conf):
 *                   local zones cluster.local and shop.example (NXDOMAIN for names it does not know),
 *                   A+AAAA (and their PTRs) for payment-svc.shop / inventory.shop /
 *                   kube-dns.kube-system .svc.cluster.local, a CNAME chain api.shop.example ->
 *                   edge.shop.example -> cdn.shop.example (A), an SRV _grpc._tcp.payment-svc..., TXT,
 *                   MX, a TXT too big for 512 bytes (big.shop.example), domain-needed (NXDOMAIN for
 *                   single-label names), no upstream for anything else (REFUSED, with EDE 14), and
 *                   broken.example forwarded to 127.0.0.99.
 *   127.0.0.99:53   a tiny Node dgram server (this script, mode `upstream`): dnsmasq's upstream for
 *                   broken.example, answering SERVFAIL to everything; dnsmasq relays the SERVFAIL.
 *   127.0.0.54:53   a Node dgram socket (mode `blackhole`) that receives queries and never answers.
 *
 * Clients, in this order (each lookup in expected.json says which):
 *   dig (from 127.0.0.21)   UDP: A, AAAA, CNAME chain, SRV, PTR (-x), TXT, MX, an NXDOMAIN FQDN, a
 *                           REFUSED name, a SERVFAIL name (plus dnsmasq's own forwarded query to
 *                           127.0.0.99, captured too); `+noedns` TXT big.shop.example (answer truncated,
 *                           TC, then dig's own retry over TCP with a new id); `+tcp` one query per
 *                           connection (twice); `+tcp +keepopen` three queries on one connection;
 *                           `+tries=2 +timeout=1` to the blackhole (the same id sent twice, from two
 *                           source ports: dig opens a new socket per try).
 *   a Node net client        (mode `tcp-client`, from 127.0.0.22) three dns-packet queries on ONE TCP
 *                           connection: the first two in one write (two messages in one segment), the
 *                           third split in two segments 30 ms apart.
 *   glibc's stub resolver    getaddrinfo (Node's dns.lookup, family 0, hints 0: glibc queries A and
 *                           AAAA in parallel from one socket) in a private mount namespace (unshare -m)
 *                           where /etc/resolv.conf and /etc/nsswitch.conf are bind-mounted files
 *                           written here; the host's files are untouched:
 *                             - nameserver 127.0.0.54, options timeout:1 attempts:2: the unanswered
 *                               lookup, A and AAAA each sent twice with the same id from the same port;
 *                             - a pod's resolv.conf: nameserver 127.0.0.10, search shop.svc.cluster.local
 *                               svc.cluster.local cluster.local, options ndots:5: payment-svc (found on
 *                               the first suffix), inventory.shop (NXDOMAIN on
 *                               inventory.shop.shop.svc.cluster.local, then found), api.shop.example
 *                               (NXDOMAIN under every cluster suffix, then resolved as itself) and the
 *                               typo paymnet-svc (NXDOMAIN for every suffix and the bare name).
 *
 * Capture: tcpdump -i lo 'udp port 53 or tcp port 53' in the namespace -> fixtures/dns/dns.pcap.
 *
 * fixtures/dns/expected.json: every lookup as the client made it, in the order of its first query
 * in the capture: client, command, transport, client ip/port(s), server, id, question, rcode name
 * (null: no answer), answers and additionals as text in podcap's style (A/AAAA address, CNAME/PTR
 * name, MX "pref exchange", SRV "priority weight port target", TXT quoted strings; names without
 * the trailing dot), times sent, TC, EDNS in query and response, the frames, the TCP stream, the
 * search-path role (podcap's DnsSearchPath: expansion / answer / not-resolved) and whether podcap
 * should call it failed; then the search-path sequences and tshark's counts.
 *
 * The script checks the lookups three ways (the zone the script configured, what each client
 * itself reported - dig's ids and sections, the Node client's decoded answers, glibc's addresses or
 * error, what the Node servers received - and what tshark dissects), then re-reads expected.json and
 * the pcap from fixtures/dns and verifies every query and response and the counts with tshark
 * again, and exits non-zero on any mismatch. Servers and the namespace are removed at the end.
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import dns from 'node:dns';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  asArray,
  type Capturer,
  capturerDrops,
  FixtureError,
  haveTool,
  log,
  rel,
  ROOT,
  runCommand,
  setLogPrefix,
  sleep,
  startCapturer,
  stopCapturer,
  tsharkCount,
  tsharkJson,
} from './fixture-lib.js';

const SELF = fileURLToPath(import.meta.url);
const OUT_DIR = join(ROOT, 'fixtures', 'dns');
const PCAP_NAME = 'dns.pcap';
const GENERATED_BY = 'scripts/make-dns-fixtures.ts';

const NETNS = 'podcap-dns';
const DNS_IP = '127.0.0.10';
const BLACKHOLE_IP = '127.0.0.54';
const UPSTREAM_IP = '127.0.0.99';
const DIG_SRC = '127.0.0.21';
const TCP_CLIENT_SRC = '127.0.0.22';
const BPF = 'udp port 53 or tcp port 53';
const TTL = 30;
const SEARCH = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
const NDOTS = 5;

interface DnsPacketModule {
  encode(p: unknown): Buffer;
  decode(b: Buffer): DecodedPacket;
}
interface DecodedRecord {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}
interface DecodedPacket {
  id: number;
  type: 'query' | 'response';
  flags: number;
  rcode?: string;
  questions: { name: string; type: string }[];
  answers: DecodedRecord[];
  authorities: DecodedRecord[];
  additionals: DecodedRecord[];
}
const dnsPacket = createRequire(import.meta.url)('dns-packet') as DnsPacketModule;

// ---------------------------------------------------------------------------------------------
// The zone: what dnsmasq is told, and what it must therefore answer
// ---------------------------------------------------------------------------------------------

/** A resource record as podcap shows it: data as text, names without the trailing dot. */
interface Rec {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

const HOSTS: { name: string; a: string; aaaa: string | null }[] = [
  { name: 'payment-svc.shop.svc.cluster.local', a: '10.96.12.34', aaaa: 'fd00:96::1234' },
  { name: 'inventory.shop.svc.cluster.local', a: '10.96.20.7', aaaa: 'fd00:96::2007' },
  { name: 'kube-dns.kube-system.svc.cluster.local', a: '10.96.0.10', aaaa: 'fd00:96::a' },
  { name: 'cdn.shop.example', a: '203.0.113.80', aaaa: null },
  { name: 'mail.shop.example', a: '203.0.113.25', aaaa: null },
];
const CNAMES: [string, string][] = [
  ['api.shop.example', 'edge.shop.example'],
  ['edge.shop.example', 'cdn.shop.example'],
];
const SRVS = [{ name: '_grpc._tcp.payment-svc.shop.svc.cluster.local', target: 'payment-svc.shop.svc.cluster.local', port: 50051, priority: 0, weight: 100 }];
const BIG_TXT = Array.from({ length: 8 }, (_, i) => `chunk${String(i).padStart(2, '0')}-${'x'.repeat(90)}`);
const TXTS = [
  { name: 'payment-svc.shop.svc.cluster.local', strings: ['team=payments', 'tier=backend'] },
  { name: 'big.shop.example', strings: BIG_TXT },
];
const MXS = [{ name: 'shop.example', exchange: 'mail.shop.example', preference: 10 }];
const LOCAL_ZONES = ['cluster.local', 'shop.example'];
const BROKEN_ZONE = 'broken.example';

function dnsmasqConf(): string {
  const txt = (s: string[]): string => s.map((x) => `"${x}"`).join(',');
  return [
    `# written by ${GENERATED_BY}; run as: dnsmasq -k --no-resolv --no-hosts --conf-file=THIS`,
    'port=53',
    `listen-address=${DNS_IP}`,
    'bind-interfaces',
    '# single-label names are never forwarded: NXDOMAIN',
    'domain-needed',
    '# answered from local data only: NXDOMAIN for names not configured',
    ...LOCAL_ZONES.map((z) => `local=/${z}/`),
    `local-ttl=${TTL}`,
    '# forwarded to a server that answers SERVFAIL; every other name has no server: REFUSED',
    `server=/${BROKEN_ZONE}/${UPSTREAM_IP}#53`,
    ...HOSTS.map((h) => `host-record=${h.name},${h.a}${h.aaaa ? `,${h.aaaa}` : ''}`),
    ...CNAMES.map(([a, b]) => `cname=${a},${b}`),
    ...SRVS.map((s) => `srv-host=${s.name},${s.target},${s.port},${s.priority},${s.weight}`),
    ...TXTS.map((t) => `txt-record=${t.name},${txt(t.strings)}`),
    ...MXS.map((m) => `mx-host=${m.name},${m.exchange},${m.preference}`),
    'log-queries',
    'log-facility=-',
    '',
  ].join('\n');
}

function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

const lc = (s: string): string => s.toLowerCase().replace(/\.$/, '');

function ownRecords(name: string, type: string): Rec[] {
  const n = lc(name);
  const out: Rec[] = [];
  const r = (t: string, data: string): void => void out.push({ name: n, type: t, ttl: TTL, data });
  for (const h of HOSTS) {
    if (h.name !== n) continue;
    if (type === 'A') r('A', h.a);
    if (type === 'AAAA' && h.aaaa) r('AAAA', h.aaaa);
  }
  for (const h of HOSTS) if (type === 'PTR' && reverseName(h.a) === n) r('PTR', h.name);
  for (const s of SRVS) if (type === 'SRV' && s.name === n) r('SRV', `${s.priority} ${s.weight} ${s.port} ${s.target}`);
  for (const t of TXTS) if (type === 'TXT' && t.name === n) r('TXT', t.strings.map((s) => JSON.stringify(s)).join(' '));
  for (const m of MXS) if (type === 'MX' && m.name === n) r('MX', `${m.preference} ${m.exchange}`);
  return out;
}

function nameExists(name: string): boolean {
  const n = lc(name);
  return (
    HOSTS.some((h) => h.name === n || reverseName(h.a) === n) ||
    CNAMES.some(([a]) => a === n) ||
    SRVS.some((s) => s.name === n) ||
    TXTS.some((t) => t.name === n) ||
    MXS.some((m) => m.name === n)
  );
}

interface ZoneAnswer {
  rcode: string;
  answers: Rec[];
  additionals: Rec[];
}

/** What dnsmasq, configured as above, answers (full answer, before any truncation). */
function zoneAnswer(name: string, type: string): ZoneAnswer {
  const n = lc(name);
  if (n === BROKEN_ZONE || n.endsWith(`.${BROKEN_ZONE}`)) return { rcode: 'SERVFAIL', answers: [], additionals: [] };
  const answers: Rec[] = [];
  let cur = n;
  for (let hops = 0; hops < 8; hops++) {
    const c = CNAMES.find(([a]) => a === cur);
    if (!c || type === 'CNAME') break;
    answers.push({ name: cur, type: 'CNAME', ttl: TTL, data: c[1] });
    cur = c[1];
  }
  answers.push(...ownRecords(cur, type));
  if (answers.length > 0 || nameExists(n)) {
    // dnsmasq adds the addresses of SRV targets and MX exchanges it knows.
    const additionals: Rec[] = [];
    for (const a of answers) {
      const target = a.type === 'SRV' ? a.data.split(' ')[3]! : a.type === 'MX' ? a.data.split(' ')[1]! : null;
      if (target) additionals.push(...ownRecords(target, 'A'), ...ownRecords(target, 'AAAA'));
    }
    return { rcode: 'NOERROR', answers, additionals };
  }
  if (LOCAL_ZONES.some((z) => n === z || n.endsWith(`.${z}`)) || !n.includes('.')) return { rcode: 'NXDOMAIN', answers: [], additionals: [] };
  return { rcode: 'REFUSED', answers: [], additionals: [] };
}

// ---------------------------------------------------------------------------------------------
// The lookups: what each client does and what it must see
// ---------------------------------------------------------------------------------------------

interface Peer {
  ip: string;
  port: number;
}

interface SearchPathRole {
  base: string;
  role: 'expansion' | 'answer' | 'not-resolved';
  resolvedAs: string | null;
}

/** What the client itself reported about one lookup (its own view, independent of the capture). */
interface ClientView {
  id?: number;
  rcode?: string | null;
  answers?: Rec[];
  additionals?: Rec[];
  truncated?: boolean;
  ednsInResponse?: boolean;
  /** For the unanswered lookups: the tries the client reported as timed out. */
  timeouts?: number;
  /** For glibc: what getaddrinfo returned for the whole name (addresses or an error code). */
  getaddrinfo?: { addresses: string[] } | { error: string };
  /** What the Node server on the other end says it received (blackhole, upstream). */
  serverSaw?: { id: number; port: number }[];
}

/** One lookup as planned (expectations) and, once matched, as found in the capture. */
interface Lookup {
  n: number;
  client: 'dig' | 'node-tcp-client' | 'glibc' | 'dnsmasq';
  command: string;
  transport: 'udp' | 'tcp';
  server: Peer;
  question: { name: string; type: string };
  /** null: no answer at all. */
  rcode: string | null;
  answers: Rec[];
  additionals: Rec[];
  truncated: boolean;
  edns: { query: boolean; response: boolean | null };
  timesSent: number;
  /** Whether every send came from the same client port (dig opens a socket per try; glibc does not). */
  samePort: boolean;
  /** Lookups with the same tcpConnection label share one TCP connection; different labels do not. */
  tcpConnection: string | null;
  searchPath: SearchPathRole | null;
  /** What podcap should say: no answer, or an rcode other than NOERROR that is not an expected expansion. */
  failed: boolean;
  note: string | null;
  // From the capture:
  clientIp: string | null;
  clientPort: number | null;
  id: number | null;
  sends: { frame: number; time: string; clientPort: number }[];
  response: { frame: number; time: string } | null;
  tcpStream: number | null;
  clientView: ClientView;
}

function plan(p: {
  client: Lookup['client'];
  command: string;
  transport?: 'udp' | 'tcp';
  server?: Peer;
  name: string;
  type: string;
  rcode?: string | null;
  truncated?: boolean;
  edns?: { query: boolean; response: boolean | null };
  timesSent?: number;
  samePort?: boolean;
  tcpConnection?: string | null;
  searchPath?: SearchPathRole | null;
  note?: string | null;
  clientView?: ClientView;
}): Lookup {
  const z = zoneAnswer(p.name, p.type);
  const rcode = p.rcode === undefined ? z.rcode : p.rcode;
  const truncated = p.truncated ?? false;
  const answered = rcode !== null && !truncated;
  const ednsQuery = p.edns?.query ?? true;
  const expansion = p.searchPath?.role === 'expansion';
  return {
    n: 0,
    client: p.client,
    command: p.command,
    transport: p.transport ?? 'udp',
    server: p.server ?? { ip: DNS_IP, port: 53 },
    question: { name: lc(p.name), type: p.type },
    rcode,
    answers: answered && rcode === z.rcode ? z.answers : [],
    additionals: answered && rcode === z.rcode ? z.additionals : [],
    truncated,
    edns: p.edns ?? { query: ednsQuery, response: rcode === null ? null : ednsQuery },
    timesSent: p.timesSent ?? 1,
    samePort: p.samePort ?? true,
    tcpConnection: p.tcpConnection ?? null,
    searchPath: p.searchPath ?? null,
    failed: rcode === null || (rcode !== 'NOERROR' && !expansion),
    note: p.note ?? null,
    clientIp: null,
    clientPort: null,
    id: null,
    sends: [],
    response: null,
    tcpStream: null,
    clientView: p.clientView ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Running things in the namespace
// ---------------------------------------------------------------------------------------------

const inNs = (cmd: string, args: string[]): [string, string[]] => ['ip', ['netns', 'exec', NETNS, cmd, ...args]];

/** Runs a command in the namespace; stdout, stderr and exit code, whatever the code. */
function runInNs(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const [c, a] = inNs(cmd, args);
  return new Promise((res) => {
    execFile(c, a, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      res({ stdout, stderr, code });
    });
  });
}

async function startDaemon(name: string, cmd: string, args: string[], ready: RegExp): Promise<Capturer> {
  const [c, a] = inNs(cmd, args);
  return startCapturer(name, c, a, '', ready);
}

async function stopDaemon(d: Capturer): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  d.proc.kill('SIGTERM');
  const r = await Promise.race([d.exited, sleep(5000).then(() => 'timeout' as const)]);
  if (r === 'timeout') {
    d.proc.kill('SIGKILL');
    await d.exited;
  }
}

async function netnsExists(): Promise<boolean> {
  return (await runCommand('ip', ['netns', 'list'])).split('\n').some((l) => l.split(' ')[0] === NETNS);
}

async function setupNetns(): Promise<void> {
  if (await netnsExists()) {
    const pids = (await runCommand('ip', ['netns', 'pids', NETNS])).trim();
    if (pids) throw new FixtureError(`network namespace ${NETNS} exists with processes in it (${pids.split('\n').join(', ')}): another run? Stop them, then \`ip netns del ${NETNS}\``);
    await runCommand('ip', ['netns', 'del', NETNS]);
  }
  await runCommand('ip', ['netns', 'add', NETNS]);
  await runCommand('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
  const links = (await runCommand('ip', ['-n', NETNS, '-o', 'link', 'show'])).trim().split('\n');
  if (links.length !== 1 || !/\blo:/.test(links[0]!)) throw new FixtureError(`namespace ${NETNS} should have only lo: ${links.join(' | ')}`);
}

async function teardownNetns(): Promise<void> {
  if (await netnsExists()) await runCommand('ip', ['netns', 'del', NETNS]).catch((e: Error) => log(`cannot delete ${NETNS}: ${e.message}`));
}

// ---------------------------------------------------------------------------------------------
// dig's output
// ---------------------------------------------------------------------------------------------

interface DigBlock {
  id: number;
  status: string;
  flags: string[];
  opt: boolean;
  answers: Rec[];
  additionals: Rec[];
}

const NAME_TYPES = new Set(['CNAME', 'PTR', 'NS']);

function digRecord(line: string): Rec {
  const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
  if (!m) throw new FixtureError(`dig record line not understood: ${line}`);
  const type = m[3]!;
  let data = m[4]!.trim();
  if (NAME_TYPES.has(type)) data = lc(data);
  else if (type === 'SRV' || type === 'MX') {
    const parts = data.split(/\s+/);
    parts[parts.length - 1] = lc(parts[parts.length - 1]!);
    data = parts.join(' ');
  }
  return { name: lc(m[1]!), type, ttl: Number(m[2]), data };
}

/** Every answer dig printed, in order (`;; Got answer:` blocks). */
function parseDig(out: string): DigBlock[] {
  const blocks: DigBlock[] = [];
  for (const chunk of out.split(';; Got answer:').slice(1)) {
    const h = /->>HEADER<<- opcode: \w+, status: (\w+), id: (\d+)/.exec(chunk);
    const f = /;; flags:([^;]*);/.exec(chunk);
    if (!h || !f) throw new FixtureError(`dig answer without a header:\n${chunk}`);
    const section = (title: string): Rec[] => {
      const i = chunk.indexOf(`;; ${title} SECTION:`);
      if (i < 0) return [];
      const lines = chunk.slice(i).split('\n').slice(1);
      const out: Rec[] = [];
      for (const l of lines) {
        if (l.trim() === '' || l.startsWith(';')) break;
        out.push(digRecord(l));
      }
      return out;
    };
    blocks.push({
      id: Number(h[2]),
      status: h[1]!,
      flags: f[1]!.trim().split(/\s+/),
      opt: chunk.includes(';; OPT PSEUDOSECTION:'),
      answers: section('ANSWER'),
      additionals: section('ADDITIONAL'),
    });
  }
  return blocks;
}

function viewOf(b: DigBlock): ClientView {
  return { id: b.id, rcode: b.status, answers: b.answers, additionals: b.additionals, truncated: b.flags.includes('tc'), ednsInResponse: b.opt };
}

async function dig(args: string[], expectBlocks: number): Promise<{ blocks: DigBlock[]; out: string; timeouts: number; truncatedRetry: boolean }> {
  const r = await runInNs('dig', ['-b', DIG_SRC, ...args]);
  const blocks = parseDig(r.stdout);
  if (blocks.length !== expectBlocks) {
    throw new FixtureError(`dig ${args.join(' ')}: expected ${expectBlocks} answer(s), dig printed ${blocks.length} (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  }
  const timeouts = (r.stdout.match(/timed out/g) ?? []).length;
  return { blocks, out: r.stdout, timeouts, truncatedRetry: r.stdout.includes('Truncated, retrying in TCP mode') };
}

// ---------------------------------------------------------------------------------------------
// Child modes: the Node servers and clients (run inside the namespace)
// ---------------------------------------------------------------------------------------------

/** A UDP socket on BLACKHOLE_IP:53 that takes every query and never answers. */
async function blackholeMode(): Promise<void> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => {
    if (m.length >= 2) process.stderr.write(`received id=${m.readUInt16BE(0)} from=${r.address}:${r.port} bytes=${m.length}\n`);
  });
  await new Promise<void>((res) => sock.bind(53, BLACKHOLE_IP, () => res()));
  process.stderr.write(`blackhole ready on ${BLACKHOLE_IP}:53\n`);
  process.on('SIGTERM', () => sock.close(() => process.exit(0)));
}

/** dnsmasq's upstream for broken.example: SERVFAIL to every query (with an OPT when the query had one). */
async function upstreamMode(): Promise<void> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(m);
    } catch {
      return;
    }
    const edns = q.additionals.some((a) => a.type === 'OPT');
    const reply = dnsPacket.encode({
      id: q.id,
      type: 'response',
      // QR, RD copied, RA, rcode 2 (SERVFAIL).
      flags: (q.flags & 0x0100) | 0x0080 | 2,
      questions: q.questions,
      answers: [],
      authorities: [],
      additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] }] : [],
    });
    sock.send(reply, r.port, r.address);
    process.stderr.write(`servfail id=${q.id} from=${r.address}:${r.port} name=${q.questions[0]?.name} type=${q.questions[0]?.type}\n`);
  });
  await new Promise<void>((res) => sock.bind(53, UPSTREAM_IP, () => res()));
  process.stderr.write(`upstream ready on ${UPSTREAM_IP}:53\n`);
  process.on('SIGTERM', () => sock.close(() => process.exit(0)));
}

function packetRecord(r: DecodedRecord): Rec {
  const d = r.data as Record<string, unknown> | string | Buffer[] | undefined;
  let data: string;
  if (typeof d === 'string') data = r.type === 'A' || r.type === 'AAAA' ? d : lc(d);
  else if (Array.isArray(d)) data = d.map((s) => JSON.stringify(Buffer.isBuffer(s) ? s.toString('utf8') : String(s))).join(' ');
  else if (d && r.type === 'SRV') data = `${d.priority} ${d.weight} ${d.port} ${lc(String(d.target))}`;
  else if (d && r.type === 'MX') data = `${d.preference} ${lc(String(d.exchange))}`;
  else data = JSON.stringify(d);
  return { name: lc(r.name), type: r.type, ttl: r.ttl ?? 0, data };
}

/** Three queries on one TCP connection: two in one write, then one split across two segments. */
async function tcpClientMode(args: string[]): Promise<void> {
  const questions = args.map((a) => {
    const [name, type] = a.split('/');
    return { name: name!, type: type! };
  });
  const sock = net.connect({ host: DNS_IP, port: 53, localAddress: TCP_CLIENT_SRC });
  sock.setNoDelay(true);
  await new Promise<void>((res, rej) => {
    sock.once('connect', () => res());
    sock.once('error', rej);
  });
  const ids = new Set<number>();
  const framed = questions.map((q) => {
    let id = randomInt(1, 65536);
    while (ids.has(id)) id = randomInt(1, 65536);
    ids.add(id);
    const msg = dnsPacket.encode({
      id,
      type: 'query',
      flags: 0x0100,
      questions: [{ name: q.name, type: q.type, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] }],
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    return { id, q, bytes: Buffer.concat([len, msg]) };
  });
  const results: unknown[] = [];
  let buf = Buffer.alloc(0);
  const done = new Promise<void>((res, rej) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const p = dnsPacket.decode(Buffer.from(msg));
        results.push({
          id: p.id,
          rcode: p.rcode ?? 'NOERROR',
          truncated: (p.flags & 0x0200) !== 0,
          ednsInResponse: p.additionals.some((a) => a.type === 'OPT'),
          question: p.questions[0],
          answers: p.answers.map(packetRecord),
          additionals: p.additionals.filter((a) => a.type !== 'OPT').map(packetRecord),
        });
        if (results.length === framed.length) res();
      }
    });
    sock.once('error', rej);
    setTimeout(() => rej(new Error(`only ${results.length} of ${framed.length} answers after 5 s`)), 5000).unref();
  });
  const [a, b, c] = framed;
  sock.write(Buffer.concat([a!.bytes, b!.bytes]));
  await sleep(40);
  sock.write(c!.bytes.subarray(0, 12));
  await sleep(30);
  sock.write(c!.bytes.subarray(12));
  await done;
  const clientPort = sock.localPort;
  sock.end();
  await new Promise<void>((res) => sock.once('close', () => res()));
  process.stdout.write(`${JSON.stringify({ clientPort, sent: framed.map((f) => ({ id: f.id, ...f.q })), results })}\n`);
}

/** getaddrinfo (glibc, through libuv) for each name in turn, family 0: A and AAAA. */
async function lookupMode(names: string[]): Promise<void> {
  const out: unknown[] = [];
  for (const name of names) {
    try {
      const r = await dns.promises.lookup(name, { all: true, family: 0, hints: 0 });
      out.push({ name, addresses: r.map((x) => x.address) });
    } catch (e) {
      out.push({ name, error: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
    await sleep(50);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** Runs `node SELF lookup NAMES...` in the namespace with resolv.conf and nsswitch.conf bind-mounted (private mount namespace). */
async function glibcLookups(resolvConf: string, nsswitch: string, names: string[]): Promise<({ name: string; addresses: string[] } | { name: string; error: string })[]> {
  const script = 'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"';
  const r = await runInNs('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', resolvConf, nsswitch, process.execPath, SELF, 'lookup', ...names]);
  if (r.code !== 0) throw new FixtureError(`glibc lookups failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ({ name: string; addresses: string[] } | { name: string; error: string })[];
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

/** glibc's res_search: the names a stub resolver tries, in order, for `name`. */
function searchCandidates(name: string): string[] {
  if (name.endsWith('.')) return [lc(name)];
  const dots = name.split('.').length - 1;
  const withSuffixes = SEARCH.map((s) => `${name}.${s}`);
  return dots >= NDOTS ? [name, ...withSuffixes] : [...withSuffixes, name];
}

/** A candidate ends the search when its A or its AAAA answer has records (glibc: rcode NOERROR and ANCOUNT > 0). */
function candidateResolves(name: string): boolean {
  return ['A', 'AAAA'].some((t) => {
    const z = zoneAnswer(name, t);
    return z.rcode === 'NOERROR' && z.answers.length > 0;
  });
}

async function runScenario(work: string, servers: { blackhole: Capturer; upstream: Capturer }): Promise<Lookup[]> {
  const lookups: Lookup[] = [];
  const pause = (): Promise<void> => sleep(60);
  const digUdp = ['+tries=1', '+timeout=3'];

  // 1. dig over UDP, one query each.
  const simple: [string, string, string[]][] = [
    ['payment-svc.shop.svc.cluster.local', 'A', []],
    ['payment-svc.shop.svc.cluster.local', 'AAAA', []],
    ['api.shop.example', 'A', []],
    ['_grpc._tcp.payment-svc.shop.svc.cluster.local', 'SRV', []],
    [reverseName('10.96.0.10'), 'PTR', ['-x', '10.96.0.10']],
    ['payment-svc.shop.svc.cluster.local', 'TXT', []],
    ['shop.example', 'MX', []],
    ['nope.shop.svc.cluster.local', 'A', []],
    ['www.example.org', 'A', []],
  ];
  for (const [name, type, special] of simple) {
    const args = [`@${DNS_IP}`, ...digUdp, ...(special.length ? special : [name, type])];
    const r = await dig(args, 1);
    lookups.push(plan({ client: 'dig', command: `dig ${args.join(' ')}`, name, type, clientView: viewOf(r.blocks[0]!) }));
    await pause();
  }

  // 2. SERVFAIL: dnsmasq forwards to the upstream, which answers SERVFAIL; both legs are captured.
  {
    const args = [`@${DNS_IP}`, ...digUdp, 'db.broken.example', 'A'];
    const before = servers.upstream.stderr();
    const r = await dig(args, 1);
    await sleep(50);
    const saw = [...servers.upstream.stderr().slice(before.length).matchAll(/servfail id=(\d+) from=[\d.]+:(\d+)/g)].map((m) => ({ id: Number(m[1]), port: Number(m[2]) }));
    lookups.push(plan({ client: 'dig', command: `dig ${args.join(' ')}`, name: 'db.broken.example', type: 'A', clientView: viewOf(r.blocks[0]!), note: 'dnsmasq forwards broken.example to 127.0.0.99, which answers SERVFAIL; dnsmasq relays it' }));
    lookups.push(
      plan({
        client: 'dnsmasq',
        command: `(dnsmasq forwarding the previous query to ${UPSTREAM_IP}:53)`,
        server: { ip: UPSTREAM_IP, port: 53 },
        name: 'db.broken.example',
        type: 'A',
        clientView: { serverSaw: saw },
        note: "the forwarding leg: dnsmasq is the client here, the Node upstream the server",
      }),
    );
    await pause();
  }

  // 3. Truncation: no EDNS, a 800-byte TXT answer: TC over UDP, then dig retries over TCP (new id, new connection).
  {
    const args = [`@${DNS_IP}`, ...digUdp, '+noedns', 'big.shop.example', 'TXT'];
    const r = await dig(args, 1);
    if (!r.truncatedRetry) throw new FixtureError(`dig did not report a truncated answer:\n${r.out}`);
    const cmd = `dig ${args.join(' ')}`;
    lookups.push(plan({ client: 'dig', command: cmd, name: 'big.shop.example', type: 'TXT', truncated: true, edns: { query: false, response: false }, clientView: { truncated: true }, note: 'answer too big for 512 bytes: TC set, no records; dig retries over TCP' }));
    lookups.push(plan({ client: 'dig', command: cmd, transport: 'tcp', name: 'big.shop.example', type: 'TXT', edns: { query: false, response: false }, tcpConnection: 'dig-tc-retry', clientView: viewOf(r.blocks[0]!), note: "dig's retry over TCP after TC, with a new id" }));
    await pause();
  }

  // 4. TCP, one query per connection.
  for (const [name, type, special, conn] of [
    [reverseName('10.96.12.34'), 'PTR', ['-x', '10.96.12.34'], 'dig-tcp-1'],
    ['kube-dns.kube-system.svc.cluster.local', 'A', [], 'dig-tcp-2'],
  ] as [string, string, string[], string][]) {
    const args = [`@${DNS_IP}`, '+tcp', ...digUdp, ...(special.length ? special : [name, type])];
    const r = await dig(args, 1);
    lookups.push(plan({ client: 'dig', command: `dig ${args.join(' ')}`, transport: 'tcp', name, type, tcpConnection: conn, clientView: viewOf(r.blocks[0]!) }));
    await pause();
  }

  // 5. TCP keep-alive: dig +keepopen, three queries on one connection.
  {
    const qs: [string, string][] = [
      ['payment-svc.shop.svc.cluster.local', 'A'],
      ['inventory.shop.svc.cluster.local', 'AAAA'],
      ['missing.shop.svc.cluster.local', 'A'],
    ];
    const args = [`@${DNS_IP}`, '+tcp', '+keepopen', ...digUdp, ...qs.flat()];
    const r = await dig(args, qs.length);
    qs.forEach(([name, type], i) => {
      lookups.push(plan({ client: 'dig', command: `dig ${args.join(' ')}`, transport: 'tcp', name, type, tcpConnection: 'dig-keepopen', clientView: viewOf(r.blocks[i]!) }));
    });
    await pause();
  }

  // 6. TCP: a Node client, three queries on one connection, two of them in one segment.
  {
    const qs = ['api.shop.example/A', '_grpc._tcp.payment-svc.shop.svc.cluster.local/SRV', 'shop.example/MX'];
    const r = await runInNs(process.execPath, [SELF, 'tcp-client', ...qs]);
    if (r.code !== 0) throw new FixtureError(`tcp-client failed (exit ${r.code}): ${r.stderr}`);
    const out = JSON.parse(r.stdout) as {
      clientPort: number;
      sent: { id: number; name: string; type: string }[];
      results: { id: number; rcode: string; truncated: boolean; ednsInResponse: boolean; answers: Rec[]; additionals: Rec[] }[];
    };
    out.sent.forEach((s, i) => {
      const got = out.results.find((x) => x.id === s.id);
      if (!got) throw new FixtureError(`tcp-client: no answer for id ${s.id}`);
      lookups.push(
        plan({
          client: 'node-tcp-client',
          command: `node make-dns-fixtures.js tcp-client ${qs.join(' ')}`,
          transport: 'tcp',
          name: s.name,
          type: s.type,
          tcpConnection: 'node-pipelined',
          clientView: { id: got.id, rcode: got.rcode, answers: got.answers, additionals: got.additionals, truncated: got.truncated, ednsInResponse: got.ednsInResponse },
          note: i === 0 ? 'written together with the next query: two DNS messages in one TCP segment' : i === 2 ? 'written in two pieces 30 ms apart (12 bytes, then the rest): one message across two segments' : 'second message of the first segment',
        }),
      );
    });
    await pause();
  }

  // 7. No answer: dig, two tries (same id, a new socket each try).
  {
    const args = [`@${BLACKHOLE_IP}`, '+tries=2', '+timeout=1', 'payment-svc.shop.svc.cluster.local', 'A'];
    const before = servers.blackhole.stderr();
    const r = await dig(args, 0);
    await sleep(50);
    const saw = [...servers.blackhole.stderr().slice(before.length).matchAll(/received id=(\d+) from=[\d.]+:(\d+)/g)].map((m) => ({ id: Number(m[1]), port: Number(m[2]) }));
    lookups.push(
      plan({
        client: 'dig',
        command: `dig ${args.join(' ')}`,
        server: { ip: BLACKHOLE_IP, port: 53 },
        name: 'payment-svc.shop.svc.cluster.local',
        type: 'A',
        rcode: null,
        timesSent: 2,
        samePort: false,
        clientView: { timeouts: r.timeouts, serverSaw: saw },
        note: 'no answer; dig sends the same id again from a new source port after 1 s',
      }),
    );
    await pause();
  }

  // 8. No answer: glibc, attempts:2 (same id, same socket), A and AAAA in parallel.
  {
    const rc = join(work, 'resolv-blackhole.conf');
    writeFileSync(rc, `nameserver ${BLACKHOLE_IP}\noptions timeout:1 attempts:2\n`);
    const before = servers.blackhole.stderr();
    const res = await glibcLookups(rc, join(work, 'nsswitch.conf'), ['inventory.shop.svc.cluster.local.']);
    await sleep(50);
    const saw = [...servers.blackhole.stderr().slice(before.length).matchAll(/received id=(\d+) from=[\d.]+:(\d+)/g)].map((m) => ({ id: Number(m[1]), port: Number(m[2]) }));
    for (const type of ['A', 'AAAA']) {
      lookups.push(
        plan({
          client: 'glibc',
          command: `getaddrinfo("inventory.shop.svc.cluster.local.") with resolv.conf: nameserver ${BLACKHOLE_IP}; options timeout:1 attempts:2`,
          server: { ip: BLACKHOLE_IP, port: 53 },
          name: 'inventory.shop.svc.cluster.local',
          type,
          rcode: null,
          edns: { query: false, response: null },
          timesSent: 2,
          samePort: true,
          clientView: { getaddrinfo: 'error' in res[0]! ? { error: res[0].error } : { addresses: res[0]!.addresses }, serverSaw: saw },
          note: 'no answer; glibc resends the same query (same id, same socket) after 1 s',
        }),
      );
    }
    await pause();
  }

  // 9. Kubernetes search-path expansion, by glibc with a pod's resolv.conf.
  {
    const rc = join(work, 'resolv-pod.conf');
    writeFileSync(rc, `search ${SEARCH.join(' ')}\nnameserver ${DNS_IP}\noptions ndots:${NDOTS}\n`);
    const bases = ['payment-svc', 'inventory.shop', 'api.shop.example', 'paymnet-svc'];
    const res = await glibcLookups(rc, join(work, 'nsswitch.conf'), bases);
    bases.forEach((base, i) => {
      const got = res[i]!;
      const cands = searchCandidates(base);
      const hit = cands.findIndex(candidateResolves);
      const tried = hit >= 0 ? cands.slice(0, hit + 1) : cands;
      for (const [j, cand] of tried.entries()) {
        const final = j === hit;
        const role: SearchPathRole = hit < 0 ? { base, role: 'not-resolved', resolvedAs: null } : final ? { base, role: 'answer', resolvedAs: cand } : { base, role: 'expansion', resolvedAs: cands[hit]! };
        for (const type of ['A', 'AAAA']) {
          lookups.push(
            plan({
              client: 'glibc',
              command: `getaddrinfo("${base}") with resolv.conf: search ${SEARCH.join(' ')}; nameserver ${DNS_IP}; options ndots:${NDOTS}`,
              name: cand,
              type,
              edns: { query: false, response: false },
              searchPath: role,
              clientView: { getaddrinfo: 'error' in got ? { error: got.error } : { addresses: got.addresses } },
            }),
          );
        }
      }
    });
  }

  lookups.forEach((l, i) => (l.n = i + 1));
  return lookups;
}

// ---------------------------------------------------------------------------------------------
// The capture, as tshark dissects it
// ---------------------------------------------------------------------------------------------

const TYPE_NAMES: Record<string, string> = { '1': 'A', '2': 'NS', '5': 'CNAME', '6': 'SOA', '12': 'PTR', '15': 'MX', '16': 'TXT', '28': 'AAAA', '33': 'SRV', '41': 'OPT' };
const RCODE_NAMES: Record<string, string> = { '0': 'NOERROR', '1': 'FORMERR', '2': 'SERVFAIL', '3': 'NXDOMAIN', '4': 'NOTIMP', '5': 'REFUSED' };

interface Msg {
  frame: number;
  time: string;
  transport: 'udp' | 'tcp';
  src: Peer;
  dst: Peer;
  tcpStream: number | null;
  id: number;
  response: boolean;
  rcode: string | null;
  truncated: boolean;
  qname: string;
  qtype: string;
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
  edns: boolean;
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (Array.isArray(v) ? String(v[0]) : v === undefined ? '' : String(v));

function tsharkRecord(o: Obj): Rec {
  const type = TYPE_NAMES[str(o['dns.resp.type'])] ?? `TYPE${str(o['dns.resp.type'])}`;
  let data: string;
  switch (type) {
    case 'A': data = str(o['dns.a']); break;
    case 'AAAA': data = str(o['dns.aaaa']); break;
    case 'CNAME': data = lc(str(o['dns.cname'])); break;
    case 'PTR': data = lc(str(o['dns.ptr.domain_name'])); break;
    case 'NS': data = lc(str(o['dns.ns'])); break;
    case 'MX': data = `${str(o['dns.mx.preference'])} ${lc(str(o['dns.mx.mail_exchange']))}`; break;
    case 'SRV': data = `${str(o['dns.srv.priority'])} ${str(o['dns.srv.weight'])} ${str(o['dns.srv.port'])} ${lc(str(o['dns.srv.target']))}`; break;
    case 'TXT': data = asArray(o['dns.txt'] as string | string[]).map((s) => JSON.stringify(s)).join(' '); break;
    case 'SOA':
      data = ['dns.soa.mname', 'dns.soa.rname', 'dns.soa.serial_number', 'dns.soa.refresh_interval', 'dns.soa.retry_interval', 'dns.soa.expire_limit', 'dns.soa.minimum_ttl'].map((k) => str(o[k])).join(' ');
      break;
    default: data = JSON.stringify(o);
  }
  if (data.includes('undefined') || data.trim() === '') throw new FixtureError(`tshark record not understood: ${JSON.stringify(o)}`);
  // tshark splits an SRV owner name into service, proto and name.
  const name = o['dns.resp.name'] !== undefined ? str(o['dns.resp.name']) : type === 'SRV' ? [o['dns.srv.service'], o['dns.srv.proto'], o['dns.srv.name']].map(str).join('.') : '';
  return { name: lc(name), type, ttl: Number(str(o['dns.resp.ttl'])), data };
}

function sectionRecords(dnsLayer: Obj, title: string): Obj[] {
  const s = dnsLayer[title] as Obj | undefined;
  if (!s) return [];
  const out: Obj[] = [];
  for (const v of Object.values(s)) for (const r of asArray(v as Obj | Obj[])) out.push(r);
  return out;
}

/** Every DNS message tshark finds in `file`, in capture order (several per frame when TCP carries several). */
async function tsharkMessages(file: string): Promise<Msg[]> {
  const frames = await tsharkJson(file, ['-Y', 'dns', '-J', 'frame ip udp tcp dns']);
  const out: Msg[] = [];
  for (const f of frames) {
    const frame = f.frame as Obj;
    const ip = f.ip as Obj;
    const udp = f.udp as Obj | undefined;
    const tcp = f.tcp as Obj | undefined;
    const l4 = (udp ?? tcp)!;
    for (const d of asArray(f.dns as Obj | Obj[])) {
      const flags = d['dns.flags_tree'] as Obj;
      const q = sectionRecords(d, 'Queries')[0] ?? {};
      const additionals = sectionRecords(d, 'Additional records');
      const response = str(flags['dns.flags.response']) === '1';
      out.push({
        frame: Number(str(frame['frame.number'])),
        time: str(frame['frame.time_epoch']),
        transport: udp ? 'udp' : 'tcp',
        src: { ip: str(ip['ip.src']), port: Number(str(l4[udp ? 'udp.srcport' : 'tcp.srcport'])) },
        dst: { ip: str(ip['ip.dst']), port: Number(str(l4[udp ? 'udp.dstport' : 'tcp.dstport'])) },
        tcpStream: tcp ? Number(str(tcp['tcp.stream'])) : null,
        id: parseInt(str(d['dns.id']), 16),
        response,
        rcode: response ? RCODE_NAMES[str(flags['dns.flags.rcode'])] ?? `RCODE${str(flags['dns.flags.rcode'])}` : null,
        truncated: str(flags['dns.flags.truncated']) === '1',
        qname: lc(str(q['dns.qry.name'])),
        qtype: TYPE_NAMES[str(q['dns.qry.type'])] ?? `TYPE${str(q['dns.qry.type'])}`,
        answers: sectionRecords(d, 'Answers').map(tsharkRecord),
        authorities: sectionRecords(d, 'Authoritative nameservers').map(tsharkRecord),
        additionals: additionals.filter((r) => str(r['dns.resp.type']) !== '41').map(tsharkRecord),
        edns: additionals.some((r) => str(r['dns.resp.type']) === '41'),
      });
    }
  }
  return out;
}

/** Queries with the same client ip, server, id and question while no answer has come are one exchange (retries). */
interface CapturedExchange {
  transport: 'udp' | 'tcp';
  clientIp: string;
  server: Peer;
  id: number;
  qname: string;
  qtype: string;
  queries: Msg[];
  response: Msg | null;
}

function exchanges(msgs: Msg[]): { list: CapturedExchange[]; orphans: Msg[] } {
  const list: CapturedExchange[] = [];
  const orphans: Msg[] = [];
  const key = (t: string, c: string, s: Peer, id: number, n: string, ty: string): string => `${t}|${c}|${s.ip}:${s.port}|${id}|${n}|${ty}`;
  const open = new Map<string, CapturedExchange>();
  for (const m of msgs) {
    if (!m.response) {
      const k = key(m.transport, m.src.ip, m.dst, m.id, m.qname, m.qtype);
      let x = open.get(k);
      if (!x) {
        x = { transport: m.transport, clientIp: m.src.ip, server: m.dst, id: m.id, qname: m.qname, qtype: m.qtype, queries: [], response: null };
        list.push(x);
        open.set(k, x);
      }
      x.queries.push(m);
    } else {
      const k = key(m.transport, m.dst.ip, m.src, m.id, m.qname, m.qtype);
      const x = open.get(k);
      if (!x || !x.queries.some((q) => q.src.port === m.dst.port)) {
        orphans.push(m);
        continue;
      }
      x.response = m;
      open.delete(k);
    }
  }
  return { list, orphans };
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

const recText = (r: Rec): string => `${r.name} ${r.ttl} ${r.type} ${r.data}`;
const recsText = (rs: Rec[]): string => (rs.length ? rs.map(recText).join(' | ') : '(none)');
const sameRecs = (a: Rec[], b: Rec[]): boolean => recsText(a) === recsText(b);
const sortedText = (rs: Rec[]): string => rs.map(recText).sort().join(' | ');

/** Compares one expected lookup with the exchange found for it; problems as text. */
function compare(l: Lookup, x: CapturedExchange, strict: boolean): string[] {
  const p: string[] = [];
  const tag = `#${l.n} ${l.transport} ${l.question.type} ${l.question.name}`;
  const bad = (what: string, want: unknown, got: unknown): void => void p.push(`${tag}: ${what}: expected ${JSON.stringify(want)}, capture has ${JSON.stringify(got)}`);
  if (x.transport !== l.transport) bad('transport', l.transport, x.transport);
  if (x.server.ip !== l.server.ip || x.server.port !== l.server.port) bad('server', l.server, x.server);
  if (x.qname !== l.question.name || x.qtype !== l.question.type) bad('question', l.question, { name: x.qname, type: x.qtype });
  if (x.queries.length !== l.timesSent) bad('times sent', l.timesSent, x.queries.length);
  const ports = new Set(x.queries.map((q) => q.src.port));
  if (l.samePort !== (ports.size === 1)) bad('same client port for every send', l.samePort, [...ports]);
  const rcode = x.response?.rcode ?? null;
  if (rcode !== l.rcode) bad('rcode', l.rcode, rcode);
  if (x.response) {
    if (x.response.truncated !== l.truncated) bad('TC', l.truncated, x.response.truncated);
    if (!sameRecs(x.response.answers, l.answers)) bad('answers', recsText(l.answers), recsText(x.response.answers));
    // dnsmasq's order of additional records varies (its cache): the zone check ignores the order, expected.json keeps the capture's.
    if (strict ? !sameRecs(x.response.additionals, l.additionals) : sortedText(x.response.additionals) !== sortedText(l.additionals)) {
      bad('additionals', recsText(l.additionals), recsText(x.response.additionals));
    }
    if (x.response.authorities.length) bad('authority records', [], recsText(x.response.authorities));
    if (x.response.edns !== l.edns.response) bad('EDNS in the response', l.edns.response, x.response.edns);
  }
  for (const q of x.queries) if (q.edns !== l.edns.query) bad(`EDNS in the query (frame ${q.frame})`, l.edns.query, q.edns);
  // The client's own view.
  const v = l.clientView;
  if (v.id !== undefined && v.id !== x.id) bad(`${l.client}'s id`, v.id, x.id);
  if (v.rcode !== undefined && v.rcode !== rcode) bad(`${l.client}'s rcode`, v.rcode, rcode);
  if (v.answers && !sameRecs(v.answers, l.answers)) p.push(`${tag}: ${l.client} saw answers ${recsText(v.answers)}, the zone says ${recsText(l.answers)}`);
  if (v.additionals && sortedText(v.additionals) !== sortedText(l.additionals)) p.push(`${tag}: ${l.client} saw additionals ${recsText(v.additionals)}, the zone says ${recsText(l.additionals)}`);
  if (v.truncated !== undefined && v.truncated !== (x.response?.truncated ?? false)) bad(`${l.client}'s TC`, v.truncated, x.response?.truncated);
  if (v.ednsInResponse !== undefined && v.ednsInResponse !== x.response?.edns) bad(`${l.client}'s EDNS in the response`, v.ednsInResponse, x.response?.edns);
  if (v.timeouts !== undefined && v.timeouts !== l.timesSent) bad(`${l.client}'s timeouts`, l.timesSent, v.timeouts);
  if (v.serverSaw) {
    const mine = v.serverSaw.filter((s) => s.id === x.id);
    const sent = x.queries.map((q) => q.src.port).sort().join(',');
    if (mine.map((s) => s.port).sort().join(',') !== sent) bad('what the Node server received (id, ports)', x.queries.map((q) => ({ id: x.id, port: q.src.port })), v.serverSaw);
  }
  if (v.getaddrinfo) {
    const gai = v.getaddrinfo;
    const sp = l.searchPath;
    if (l.rcode === null) {
      if (!('error' in gai) || gai.error !== 'EAI_AGAIN') bad('getaddrinfo result', 'EAI_AGAIN', gai);
    } else if (sp?.role === 'not-resolved') {
      if (!('error' in gai) || gai.error !== 'ENOTFOUND') bad('getaddrinfo result', 'ENOTFOUND', gai);
    } else if (sp?.resolvedAs) {
      const want = ['A', 'AAAA'].flatMap((t) => zoneAnswer(sp.resolvedAs!, t).answers.filter((a) => a.type === t).map((a) => a.data)).sort();
      if (!('addresses' in gai) || [...gai.addresses].sort().join(',') !== want.join(',')) bad('getaddrinfo addresses', want, gai);
    }
  }
  // What expected.json records about the capture (only once it has been filled in).
  if (strict) {
    if (x.id !== l.id) bad('id', l.id, x.id);
    if (x.clientIp !== l.clientIp) bad('client ip', l.clientIp, x.clientIp);
    if (x.queries[0]!.src.port !== l.clientPort) bad('client port', l.clientPort, x.queries[0]!.src.port);
    const sends = x.queries.map((q) => ({ frame: q.frame, time: q.time, clientPort: q.src.port }));
    if (JSON.stringify(sends) !== JSON.stringify(l.sends)) bad('sends', l.sends, sends);
    const resp = x.response ? { frame: x.response.frame, time: x.response.time } : null;
    if (JSON.stringify(resp) !== JSON.stringify(l.response)) bad('response', l.response, resp);
    const stream = x.queries[0]!.tcpStream;
    if (stream !== l.tcpStream) bad('tcp stream', l.tcpStream, stream);
  }
  return p;
}

/** TCP: lookups with one connection label share one tcp.stream, different labels do not. */
function checkConnections(lookups: Lookup[]): string[] {
  const p: string[] = [];
  const byLabel = new Map<string, Set<number | null>>();
  for (const l of lookups) {
    if (l.transport !== 'tcp') continue;
    if (!l.tcpConnection) p.push(`#${l.n}: a TCP lookup without a connection label`);
    else byLabel.set(l.tcpConnection, (byLabel.get(l.tcpConnection) ?? new Set()).add(l.tcpStream));
  }
  const seen = new Map<number | null, string>();
  for (const [label, streams] of byLabel) {
    if (streams.size !== 1) p.push(`connection ${label}: lookups on several TCP streams ${[...streams].join(', ')}`);
    for (const s of streams) {
      if (seen.has(s)) p.push(`connections ${seen.get(s)} and ${label} share TCP stream ${s}`);
      seen.set(s, label);
    }
  }
  return p;
}

interface Counts {
  /** Frames, as `tshark -Y FILTER` counts them. */
  frames: Record<string, number>;
  /** DNS messages (a TCP segment can carry several). */
  messages: { queries: number; responses: number };
}

const COUNT_FILTERS = [
  'dns.flags.response == 0',
  'dns.flags.response == 1',
  'dns.flags.response == 1 && dns.flags.rcode == 0',
  'dns.flags.response == 1 && dns.flags.rcode == 2',
  'dns.flags.response == 1 && dns.flags.rcode == 3',
  'dns.flags.response == 1 && dns.flags.rcode == 5',
  'dns.flags.truncated == 1',
  'udp && dns',
  'tcp && dns',
];

/** The counts expected.json's lookups imply (frames counted once however many messages they carry). */
function impliedCounts(lookups: Lookup[]): Counts {
  const frames = new Map<string, Set<number>>(COUNT_FILTERS.map((f) => [f, new Set()]));
  const add = (f: string, frame: number): void => void frames.get(f)!.add(frame);
  let queries = 0;
  let responses = 0;
  for (const l of lookups) {
    for (const s of l.sends) {
      queries++;
      add('dns.flags.response == 0', s.frame);
      add(`${l.transport} && dns`, s.frame);
    }
    if (l.response) {
      responses++;
      const f = l.response.frame;
      add('dns.flags.response == 1', f);
      add(`${l.transport} && dns`, f);
      const code = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 }[l.rcode as string];
      if (code !== undefined) add(`dns.flags.response == 1 && dns.flags.rcode == ${code}`, f);
      if (l.truncated) add('dns.flags.truncated == 1', f);
    }
  }
  return { frames: Object.fromEntries([...frames].map(([k, v]) => [k, v.size])), messages: { queries, responses } };
}

async function tsharkCounts(file: string, msgs: Msg[]): Promise<Counts> {
  const frames: Record<string, number> = {};
  for (const f of COUNT_FILTERS) frames[f] = await tsharkCount(file, f);
  return { frames, messages: { queries: msgs.filter((m) => !m.response).length, responses: msgs.filter((m) => m.response).length } };
}

/** Assigns each planned lookup its exchange in the capture (first pass: fills ids, ports, frames). */
function assign(lookups: Lookup[], found: CapturedExchange[]): string[] {
  const p: string[] = [];
  const taken = new Set<CapturedExchange>();
  for (const l of lookups) {
    const x = found.find(
      (e) =>
        !taken.has(e) &&
        e.transport === l.transport &&
        e.server.ip === l.server.ip &&
        e.server.port === l.server.port &&
        e.qname === l.question.name &&
        e.qtype === l.question.type &&
        (l.clientView.id === undefined || l.clientView.id === e.id),
    );
    if (!x) {
      p.push(`#${l.n} ${l.transport} ${l.question.type} ${l.question.name} -> ${l.server.ip}: not in the capture`);
      continue;
    }
    taken.add(x);
    l.id = x.id;
    l.clientIp = x.clientIp;
    l.clientPort = x.queries[0]!.src.port;
    l.sends = x.queries.map((q) => ({ frame: q.frame, time: q.time, clientPort: q.src.port }));
    l.response = x.response ? { frame: x.response.frame, time: x.response.time } : null;
    l.tcpStream = x.queries[0]!.tcpStream;
  }
  for (const e of found) if (!taken.has(e)) p.push(`unexpected exchange in the capture: ${e.transport} ${e.clientIp} -> ${e.server.ip}:${e.server.port} id ${e.id} ${e.qtype} ${e.qname}`);
  return p;
}

interface Expected {
  lookups: Lookup[];
  tshark: Counts;
}

/** Everything expected.json says about the capture, against tshark's dissection of it. */
async function verify(file: string, expected: Expected): Promise<{ problems: string[]; lines: string[]; counts: Counts }> {
  const msgs = await tsharkMessages(file);
  const { list, orphans } = exchanges(msgs);
  const problems: string[] = orphans.map((m) => `response without its query: frame ${m.frame} id ${m.id} ${m.qtype} ${m.qname}`);
  const lines: string[] = [];
  const used = new Set<CapturedExchange>();
  let lastFrame = 0;
  for (const l of expected.lookups) {
    const x = list.find((e) => !used.has(e) && e.transport === l.transport && e.id === l.id && e.clientIp === l.clientIp && e.queries[0]!.src.port === l.clientPort && e.server.ip === l.server.ip && e.qname === l.question.name && e.qtype === l.question.type);
    if (!x) {
      problems.push(`#${l.n} ${l.transport} id ${l.id} ${l.question.type} ${l.question.name}: not found in ${rel(file)}`);
      continue;
    }
    used.add(x);
    const first = x.queries[0]!.frame;
    if (first < lastFrame) problems.push(`#${l.n}: first sent in frame ${first}, before the previous lookup (frame ${lastFrame})`);
    lastFrame = first;
    const p = compare(l, x, true);
    problems.push(...p);
    const sent = x.queries.map((q) => `${q.frame}`).join('+');
    const sp = l.searchPath ? ` [${l.searchPath.role} of ${l.searchPath.base}]` : '';
    lines.push(
      `${p.length ? 'BAD' : 'ok '} #${String(l.n).padStart(2)} ${l.transport} ${x.clientIp}:${x.queries.map((q) => q.src.port).filter((v, i, a) => a.indexOf(v) === i).join('/')} -> ${x.server.ip}:${x.server.port} id 0x${x.id.toString(16).padStart(4, '0')} ${l.question.type} ${l.question.name}` +
        ` -> ${x.response?.rcode ?? 'no response'}${x.response?.truncated ? ' TC' : ''} ${x.response ? x.response.answers.map((a) => `${a.type} ${a.data.length > 40 ? `${a.data.slice(0, 40)}...(${a.data.length} chars)` : a.data}`).join(', ') : ''} (frames ${sent}${x.response ? `/${x.response.frame}` : ''}${x.transport === 'tcp' ? `, tcp.stream ${x.queries[0]!.tcpStream}` : ''})${sp}`,
    );
  }
  for (const e of list) if (!used.has(e)) problems.push(`exchange not in expected.json: ${e.transport} ${e.clientIp} -> ${e.server.ip} id ${e.id} ${e.qtype} ${e.qname}`);
  problems.push(...checkConnections(expected.lookups));
  const counts = await tsharkCounts(file, msgs);
  const implied = impliedCounts(expected.lookups);
  for (const [what, a, b, c] of [
    ...COUNT_FILTERS.map((f) => [`frames matching \`${f}\``, expected.tshark.frames[f], counts.frames[f], implied.frames[f]] as const),
    ['query messages', expected.tshark.messages.queries, counts.messages.queries, implied.messages.queries] as const,
    ['response messages', expected.tshark.messages.responses, counts.messages.responses, implied.messages.responses] as const,
  ]) {
    if (a !== b || b !== c) problems.push(`${what}: expected.json says ${a}, tshark counts ${b}, the lookups imply ${c}`);
  }
  return { problems, lines, counts };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function searchSummary(lookups: Lookup[]): unknown[] {
  const bases = [...new Set(lookups.filter((l) => l.searchPath).map((l) => l.searchPath!.base))];
  return bases.map((base) => {
    const ls = lookups.filter((l) => l.searchPath?.base === base);
    const final = ls.filter((l) => l.searchPath!.role === 'answer');
    return {
      base,
      client: 'glibc getaddrinfo (A and AAAA in parallel)',
      resolvConf: { search: SEARCH, ndots: NDOTS, nameserver: DNS_IP },
      tried: [...new Set(ls.map((l) => l.question.name))],
      outcome: final.length ? 'resolved' : 'not resolved',
      resolvedAs: final[0]?.searchPath!.resolvedAs ?? null,
      expectedNxdomains: ls.filter((l) => l.searchPath!.role === 'expansion').map((l) => l.n),
      answers: final.map((l) => l.n),
      realFailures: ls.filter((l) => l.searchPath!.role === 'not-resolved').map((l) => l.n),
      getaddrinfo: ls[0]!.clientView.getaddrinfo,
    };
  });
}

/** JSON with two-space indentation, but objects and arrays holding only scalars on one line (records, frames, questions). */
function compactJson(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/([{[])\n\s+([^{}[\]\n]*(?:\n\s+[^{}[\]\n]*)*?)\n\s*([}\]])/g, (m: string, open: string, body: string, close: string) => {
    const line = `${open}${open === '{' ? ' ' : ''}${body.split(/\n\s+/).join(' ')}${open === '{' ? ' ' : ''}${close}`;
    return line.length > 200 ? m : line;
  });
}

async function verifyFixtures(): Promise<void> {
  const file = join(OUT_DIR, PCAP_NAME);
  const expected = JSON.parse(readFileSync(join(OUT_DIR, 'expected.json'), 'utf8')) as Expected;
  const { problems, lines, counts } = await verify(file, expected);
  process.stdout.write(`tshark verification of ${rel(file)} against ${rel(join(OUT_DIR, 'expected.json'))}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  process.stdout.write(`counts (tshark): ${JSON.stringify(counts.frames, null, 1).replace(/\n\s*/g, ' ')}\n  messages: ${counts.messages.queries} queries, ${counts.messages.responses} responses\n`);
  if (problems.length) throw new FixtureError(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.stdout.write(`all ${expected.lookups.length} lookups and ${COUNT_FILTERS.length + 2} counts verified\n`);
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'blackhole') return blackholeMode();
  if (mode === 'upstream') return upstreamMode();
  if (mode === 'tcp-client') return tcpClientMode(args);
  if (mode === 'lookup') return lookupMode(args);
  setLogPrefix('dns-fixtures');
  if (mode === 'verify') return verifyFixtures();
  if (mode !== undefined) throw new FixtureError(`unknown mode ${mode} (verify, or nothing to make the fixtures)`);
  if (process.getuid?.() !== 0) throw new FixtureError('must run as root (network namespace, mount namespace, capture)');
  const missing: string[] = [];
  for (const [tool, pkg] of [['dnsmasq', 'dnsmasq-base'], ['dig', 'dnsutils'], ['tcpdump', 'tcpdump'], ['tshark', 'tshark'], ['unshare', 'util-linux'], ['ip', 'iproute2']] as const) {
    if (!(await haveTool(tool))) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  if (missing.length) throw new FixtureError(`missing tools: ${missing.join(', ')}`);

  const work = mkdtempSync(join(tmpdir(), 'podcap-dns-'));
  const daemons: Capturer[] = [];
  let capture: Capturer | null = null;
  let ok = false;
  try {
    await setupNetns();
    const conf = join(work, 'dnsmasq.conf');
    writeFileSync(conf, dnsmasqConf());
    writeFileSync(join(work, 'nsswitch.conf'), 'hosts: dns\n');
    const upstream = await startDaemon('upstream', process.execPath, [SELF, 'upstream'], /upstream ready/);
    daemons.push(upstream);
    const blackhole = await startDaemon('blackhole', process.execPath, [SELF, 'blackhole'], /blackhole ready/);
    daemons.push(blackhole);
    const dnsmasq = await startDaemon('dnsmasq', 'dnsmasq', ['-k', '--no-resolv', '--no-hosts', `--conf-file=${conf}`, '--pid-file='], /started, version/);
    daemons.push(dnsmasq);
    // dnsmasq answers before the capture starts (this probe is not captured).
    for (let i = 0; ; i++) {
      const r = await runInNs('dig', [`@${DNS_IP}`, '+short', '+tries=1', '+timeout=1', 'kube-dns.kube-system.svc.cluster.local', 'A']);
      if (r.stdout.trim() === '10.96.0.10') break;
      if (i >= 20) throw new FixtureError(`dnsmasq does not answer: ${r.stdout}${r.stderr}\n${dnsmasq.stderr()}`);
      await sleep(100);
    }
    const pcap = join(work, PCAP_NAME);
    capture = await startCapturer('tcpdump', 'ip', ['netns', 'exec', NETNS, 'tcpdump', '-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0', '-Z', 'root', '-w', pcap, BPF], pcap, /listening on/);
    await sleep(700);
    const lookups = await runScenario(work, { blackhole, upstream });
    await sleep(500);
    const cap = capture;
    capture = null;
    const packets = await stopCapturer(cap);
    const drops = capturerDrops(cap);
    if (drops !== 0) throw new FixtureError(`tcpdump reports ${drops} packets dropped by the kernel`);
    log(`captured ${packets} packets`);

    // First pass: find each lookup in the capture, fill in ids, ports and frames.
    const msgs = await tsharkMessages(pcap);
    const { list, orphans } = exchanges(msgs);
    const problems = [...orphans.map((m) => `response without its query: frame ${m.frame}`), ...assign(lookups, list)];
    for (const l of lookups) {
      const x = list.find((e) => e.id === l.id && e.transport === l.transport && e.qname === l.question.name && e.qtype === l.question.type && e.queries[0]!.src.port === l.clientPort);
      if (!x) continue;
      problems.push(...compare(l, x, false));
      if (x.response) l.additionals = x.response.additionals;
      if (l.clientView.serverSaw) l.clientView.serverSaw = l.clientView.serverSaw.filter((e) => e.id === x.id);
    }
    if (problems.length) throw new FixtureError(`${problems.length} problem(s):\n  ${problems.join('\n  ')}\ndnsmasq said:\n${dnsmasq.stderr()}`);

    const counts = await tsharkCounts(pcap, msgs);
    const [tsharkVersion, dnsmasqVersion, digVersion, glibcVersion] = await Promise.all([
      runCommand('tshark', ['--version']).then((s) => s.split('\n')[0]!.trim()),
      runCommand('dnsmasq', ['--version']).then((s) => s.split('\n')[0]!.replace(/\s+Copyright.*$/, '').trim()),
      runInNs('dig', ['-v']).then((r) => (r.stdout + r.stderr).trim()),
      runCommand('ldd', ['--version']).then((s) => s.split('\n')[0]!.trim()),
    ]);
    const expected = {
      generatedBy: GENERATED_BY,
      regenerate: 'npm run build && node dist/scripts/make-dns-fixtures.js   (as root); `... verify` re-checks with tshark',
      description:
        'Real DNS over UDP and TCP on loopback, in a network namespace with only lo: dnsmasq as the cluster DNS (its configuration is dnsmasq.conf), a Node UDP server as the SERVFAIL upstream, ' +
        'a Node UDP socket that never answers; clients dig, a Node TCP client (several queries on one connection) and glibc\'s stub resolver (getaddrinfo) with a pod\'s resolv.conf. ' +
        'lookups[] is every lookup in the order of its first query in the capture.',
      tools: { tshark: tsharkVersion, dnsmasq: dnsmasqVersion, dig: digVersion, glibc: glibcVersion, node: process.version },
      capture: { file: PCAP_NAME, command: `tcpdump -i lo -n -U -s 0 -w ${PCAP_NAME} '${BPF}'   (in network namespace ${NETNS})`, packets: Number(packets), linkType: 'EN10MB' },
      servers: [
        { ip: DNS_IP, port: 53, transport: ['udp', 'tcp'], what: `${dnsmasqVersion}: dnsmasq -k --no-resolv --no-hosts --conf-file=dnsmasq.conf`, zones: { local: LOCAL_ZONES, forwarded: { [BROKEN_ZONE]: `${UPSTREAM_IP}:53` }, otherNames: 'REFUSED (no upstream; EDE 14 Not Ready)', singleLabelNames: 'NXDOMAIN (domain-needed)' } },
        { ip: UPSTREAM_IP, port: 53, transport: ['udp'], what: 'Node dgram server (make-dns-fixtures.js upstream): SERVFAIL to every query, OPT echoed when the query has one' },
        { ip: BLACKHOLE_IP, port: 53, transport: ['udp'], what: 'Node dgram socket (make-dns-fixtures.js blackhole): receives, never answers' },
      ],
      clients: {
        dig: { source: DIG_SRC, what: `${digVersion}: EDNS with a cookie unless +noedns; a new source port (socket) per try` },
        'node-tcp-client': { source: TCP_CLIENT_SRC, what: 'make-dns-fixtures.js tcp-client: dns-packet queries with EDNS (1232), length-prefixed, on one TCP connection' },
        glibc: { source: '127.0.0.1 (kernel choice)', what: `${glibcVersion} getaddrinfo via Node dns.lookup (family 0, hints 0): A and AAAA in parallel from one socket, no EDNS; resolv.conf and nsswitch.conf (hosts: dns) bind-mounted in a private mount namespace` },
        dnsmasq: { source: '127.0.0.1 (kernel choice)', what: 'dnsmasq forwarding broken.example to its upstream' },
      },
      fields: {
        lookups: 'n (1-based, capture order of the first query), client, command, transport, server, question {name,type}, rcode (null: no response), answers/additionals [{name,type,ttl,data}] in podcap text form (OPT excluded), truncated (TC), edns {query, response}, timesSent, samePort, tcpConnection (label shared by lookups on one connection), searchPath {base, role, resolvedAs} (podcap DnsSearchPath) or null, failed (what podcap should say), note, clientIp, clientPort (first send), id, sends [{frame,time,clientPort}], response {frame,time} or null, tcpStream (tshark tcp.stream), clientView (what the client itself reported)',
        searchPath: 'per base name the glibc resolver was asked for: the names it tried, the lookups (n) that were expected NXDOMAINs, the answer, or the real failures',
        tshark: 'frames: `tshark -n -r dns.pcap -Y FILTER` frame counts; messages: DNS messages (a TCP segment may carry several)',
      },
      notes: [
        'Names are written without the trailing dot, as podcap (dns-packet) shows them; TXT data is each character-string JSON-quoted, joined by a space.',
        'dig retries from a new socket: its unanswered lookup shows the same id from two client ports (podcap, which pairs by client port, sees two unanswered queries). glibc resends from the same socket: same id, same port (one query, retried).',
        "The truncated UDP answer (TC) carries no records; dig's TCP retry uses a new id.",
        'The Node TCP client writes its first two queries in one segment (tshark: one frame, two DNS messages) and its third in two segments.',
        'payment-svc resolved on the first search suffix, so its lookups are role "answer" without expansions before them; nope.shop.svc.cluster.local and missing.shop.svc.cluster.local are NXDOMAINs of fully qualified names from dig (no search path): real failures.',
        'dnsmasq answers NXDOMAIN without an SOA (local=/zone/, not authoritative mode): no authority records anywhere.',
      ],
      lookups,
      searchPath: searchSummary(lookups),
      tshark: counts,
    };

    // Verify against tshark once more with the finished expected.json, then write the fixtures.
    const pre = await verify(pcap, JSON.parse(JSON.stringify(expected)) as Expected);
    if (pre.problems.length) throw new FixtureError(`${pre.problems.length} problem(s):\n  ${pre.problems.join('\n  ')}`);
    mkdirSync(OUT_DIR, { recursive: true });
    for (const f of ['expected.json', PCAP_NAME, 'dnsmasq.conf']) rmSync(join(OUT_DIR, f), { force: true });
    copyFileSync(pcap, join(OUT_DIR, PCAP_NAME));
    chmodSync(join(OUT_DIR, PCAP_NAME), 0o644);
    copyFileSync(conf, join(OUT_DIR, 'dnsmasq.conf'));
    writeFileSync(join(OUT_DIR, 'expected.json'), `${compactJson(expected)}\n`);
    for (const f of [PCAP_NAME, 'expected.json', 'dnsmasq.conf']) log(`wrote ${rel(join(OUT_DIR, f))} (${statSync(join(OUT_DIR, f)).size} bytes)`);
    ok = true;
  } finally {
    if (capture) await stopCapturer(capture).catch(() => undefined);
    for (const d of daemons.reverse()) await stopDaemon(d);
    await teardownNetns();
    if (ok || process.env.PODCAP_DNS_KEEP !== '1') rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  // From the files on disk, as a test would read them.
  await verifyFixtures();
  if (!existsSync(join(OUT_DIR, PCAP_NAME))) throw new FixtureError('no pcap written');
}

main().catch((e: unknown) => {
  log(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
